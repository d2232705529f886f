//go:build !purego

#include "textflag.h"

// AVX2 + FMA + F16C primitives of the fast kernels (simd_amd64.go).
//
// The weight loops prefetch 2 KiB ahead: a decode step streams every
// weight from memory once, and on the 2-core Zen 3 VM a 32000 × 2048 Q8_0
// matmul on one core went from about 8.0 to 10.7 GB/s with it (512 B
// ahead: 9.9, 1 KiB: 9.7; go test -bench BigQ8, three runs each). The
// Q8_0 kernels that read several rows at once are the exception: 2 KiB
// past one row is where the next row is being read already, so they
// prefetch the rows of their next call instead, as much per block as
// they read.

// HSUM_Y0_KEEP adds the eight float32 lanes of Y0 into X0's lowest one
// (X1 is scratch); HSUM_Y0 also cleans the upper halves (VZEROUPPER) for
// the return to Go.
#define HSUM_Y0_KEEP \
	VEXTRACTF128 $1, Y0, X1 \
	VADDPS X1, X0, X0 \
	VPERMILPS $0x4E, X0, X1 \
	VADDPS X1, X0, X0 \
	VPERMILPS $0xB1, X0, X1 \
	VADDSS X1, X0, X0

#define HSUM_Y0 \
	HSUM_Y0_KEEP \
	VZEROUPPER

// Q8_0 on float32 activations: dotQ8F32AVX2 (one row, one token),
// dotQ8F32R4AVX2 (four rows, one token) and q8Tile2x4AVX2 (two rows by
// four tokens). Each (row, token) is one chain of eight float32 lanes in
// column order: per 8-column slice of a block, the quants are widened
// to float32 and multiplied by the block's f16 scale, which is exact (an
// int8 times an f16 needs at most 19 significant bits), then one FMA
// adds their products with the activations into the lanes; HSUM_Y0_KEEP
// adds the lanes at the end. The kernels differ only in which loads and
// widenings they share, so each result has the same bits in all three.

// STORE_SUM stores the lane sum of a at DX and moves DX on by BX (X0,
// X1 scratch); STORE_SUMS4 stores four.
#define STORE_SUM(a) \
	VMOVAPS a, Y0 \
	HSUM_Y0_KEEP \
	MOVSS X0, (DX) \
	ADDQ BX, DX

#define STORE_SUMS4(a, b, c, d) \
	STORE_SUM(a) \
	STORE_SUM(b) \
	STORE_SUM(c) \
	STORE_SUM(d)

// Q8_SCALE sets the eight lanes of y to the f16 scale at m (x is y's low
// half).
#define Q8_SCALE(m, x, y) \
	VPBROADCASTW m, x \
	VCVTPH2PS x, y

// Q8_WIDEN sets y to the eight quants at m as float32 times the scale
// in d.
#define Q8_WIDEN(m, d, y) \
	VPMOVSXBD m, y \
	VCVTDQ2PS y, y \
	VMULPS d, y, y

// func dotQ8F32AVX2(w *byte, x *float32, nb int) float32
//
// One chain, so its speed is the FMA latency's (four per block); the
// matmuls use it only for rows left over from dotQ8F32R4AVX2.
TEXT ·dotQ8F32AVX2(SB), NOSPLIT, $0-28
	MOVQ w+0(FP), SI
	MOVQ x+8(FP), DI
	MOVQ nb+16(FP), CX
	VXORPS Y0, Y0, Y0
	TESTQ CX, CX
	JZ q1done

q1loop:
	PREFETCHT0 2048(SI) // the weights stream from memory
	Q8_SCALE((SI), X1, Y1)
	Q8_WIDEN(2(SI), Y1, Y2)
	Q8_WIDEN(10(SI), Y1, Y3)
	Q8_WIDEN(18(SI), Y1, Y4)
	Q8_WIDEN(26(SI), Y1, Y5)
	VFMADD231PS (DI), Y2, Y0
	VFMADD231PS 32(DI), Y3, Y0
	VFMADD231PS 64(DI), Y4, Y0
	VFMADD231PS 96(DI), Y5, Y0
	ADDQ $34, SI
	ADDQ $128, DI
	DECQ CX
	JNZ q1loop

q1done:
	HSUM_Y0
	MOVSS X0, ret+24(FP)
	RET

// func dotQ8F32R4AVX2(w *byte, rb int, x *float32, nb int, out *[4]float32)
//
// dotQ8F32AVX2 of four rows (at w, w+rb, w+2·rb, w+3·rb) against one
// token: four independent chains, so a batch of one streams the weights
// at the FMA throughput rather than its latency, and each activation
// load serves the four rows. A single-threaded 32000 × 2048 matmul
// (weights from memory) took about 0.15 ns per weight with 2 KiB ahead
// in each row, 0.08 with the next four rows prefetched (the one-row
// kernel before it: 0.10).
TEXT ·dotQ8F32R4AVX2(SB), NOSPLIT, $0-40
	MOVQ w+0(FP), SI
	MOVQ rb+8(FP), DX
	MOVQ x+16(FP), DI
	MOVQ nb+24(FP), CX
	LEAQ (SI)(DX*2), R8 // rows 2 and 3
	LEAQ (SI)(DX*4), R9 // the next call's rows, prefetched
	VXORPS Y12, Y12, Y12
	VXORPS Y13, Y13, Y13
	VXORPS Y14, Y14, Y14
	VXORPS Y15, Y15, Y15
	TESTQ CX, CX
	JZ r4done

r4loop:
	PREFETCHT0 (R9)
	PREFETCHT0 64(R9)
	PREFETCHT0 128(R9)
	Q8_SCALE((SI), X4, Y4)
	Q8_SCALE((SI)(DX*1), X5, Y5)
	Q8_SCALE((R8), X6, Y6)
	Q8_SCALE((R8)(DX*1), X7, Y7)

#define R4_SLICE(s) \
	VMOVUPS 32*s(DI), Y0 \
	Q8_WIDEN(2+8*s(SI), Y4, Y8) \
	Q8_WIDEN(2+8*s(SI)(DX*1), Y5, Y9) \
	Q8_WIDEN(2+8*s(R8), Y6, Y10) \
	Q8_WIDEN(2+8*s(R8)(DX*1), Y7, Y11) \
	VFMADD231PS Y0, Y8, Y12 \
	VFMADD231PS Y0, Y9, Y13 \
	VFMADD231PS Y0, Y10, Y14 \
	VFMADD231PS Y0, Y11, Y15

	R4_SLICE(0)
	R4_SLICE(1)
	R4_SLICE(2)
	R4_SLICE(3)
	ADDQ $34, SI
	ADDQ $34, R8
	ADDQ $128, DI
	ADDQ $136, R9
	DECQ CX
	JNZ r4loop

r4done:
	MOVQ out+32(FP), DX
	MOVQ $4, BX
	STORE_SUMS4(Y12, Y13, Y14, Y15)
	VZEROUPPER
	RET

// func q8Tile2x4AVX2(w *byte, rb int, x *float32, stride, nb int, out *float32, outStride int)
//
// dotQ8F32AVX2 of two rows (w, w+rb) by four tokens (x, x+stride, …,
// bytes apart) into out[t·outStride + r] (outStride in bytes): each
// widened slice of weights serves four tokens and each load of
// activations two rows. Registers: eight chains (Y8-Y15), two scales,
// two widened slices, one slice of activations. q8Tile2x3AVX2 and
// q8Tile2x2AVX2 are the same for three and two tokens: the tokens a
// batch leaves over after its groups of four, which the four-row dot
// would take one at a time, widening each slice again per token.

// T2_START, after a two-row tile's arguments are loaded (w in SI, rb
// in DX, x in DI, stride in BX, nb in CX), points R8 at token 2 and R9
// at the next tile's rows (prefetched) and clears the chains.
#define T2_START \
	LEAQ (DI)(BX*2), R8 \
	LEAQ (SI)(DX*2), R9 \
	VXORPS Y8, Y8, Y8 \
	VXORPS Y9, Y9, Y9 \
	VXORPS Y10, Y10, Y10 \
	VXORPS Y11, Y11, Y11 \
	VXORPS Y12, Y12, Y12 \
	VXORPS Y13, Y13, Y13 \
	VXORPS Y14, Y14, Y14 \
	VXORPS Y15, Y15, Y15

// T2_BLOCK starts a block: the next rows' prefetch and both scales.
#define T2_BLOCK \
	PREFETCHT0 (R9) \
	PREFETCHT0 64(R9) \
	Q8_SCALE((SI), X0, Y0) \
	Q8_SCALE((SI)(DX*1), X1, Y1)

// T2_NEXT moves to the next block.
#define T2_NEXT \
	ADDQ $34, SI \
	ADDQ $128, DI \
	ADDQ $128, R8 \
	ADDQ $68, R9

#define T24_TOKEN(m, a0, a1) \
	VMOVUPS m, Y4 \
	VFMADD231PS Y4, Y2, a0 \
	VFMADD231PS Y4, Y3, a1

#define T2_WIDEN(s) \
	Q8_WIDEN(2+8*s(SI), Y0, Y2) \
	Q8_WIDEN(2+8*s(SI)(DX*1), Y1, Y3)

#define T24_SLICE(s) \
	T2_WIDEN(s) \
	T24_TOKEN(32*s(DI), Y8, Y12) \
	T24_TOKEN(32*s(DI)(BX*1), Y9, Y13) \
	T24_TOKEN(32*s(R8), Y10, Y14) \
	T24_TOKEN(32*s(R8)(BX*1), Y11, Y15)

#define T23_SLICE(s) \
	T2_WIDEN(s) \
	T24_TOKEN(32*s(DI), Y8, Y12) \
	T24_TOKEN(32*s(DI)(BX*1), Y9, Y13) \
	T24_TOKEN(32*s(R8), Y10, Y14)

#define T22_SLICE(s) \
	T2_WIDEN(s) \
	T24_TOKEN(32*s(DI), Y8, Y12) \
	T24_TOKEN(32*s(DI)(BX*1), Y9, Y13)

TEXT ·q8Tile2x4AVX2(SB), NOSPLIT, $0-56
	MOVQ w+0(FP), SI
	MOVQ rb+8(FP), DX
	MOVQ x+16(FP), DI
	MOVQ stride+24(FP), BX
	MOVQ nb+32(FP), CX
	T2_START
	TESTQ CX, CX
	JZ t24done

t24loop:
	T2_BLOCK
	T24_SLICE(0)
	T24_SLICE(1)
	T24_SLICE(2)
	T24_SLICE(3)
	T2_NEXT
	DECQ CX
	JNZ t24loop

t24done:
	MOVQ out+40(FP), DX
	MOVQ outStride+48(FP), BX
	STORE_SUMS4(Y8, Y9, Y10, Y11)
	MOVQ out+40(FP), DX
	MOVQ outStride+48(FP), BX
	ADDQ $4, DX
	STORE_SUMS4(Y12, Y13, Y14, Y15)
	VZEROUPPER
	RET

// func q8Tile2x3AVX2(w *byte, rb int, x *float32, stride, nb int, out *float32, outStride int)
TEXT ·q8Tile2x3AVX2(SB), NOSPLIT, $0-56
	MOVQ w+0(FP), SI
	MOVQ rb+8(FP), DX
	MOVQ x+16(FP), DI
	MOVQ stride+24(FP), BX
	MOVQ nb+32(FP), CX
	T2_START
	TESTQ CX, CX
	JZ t23done

t23loop:
	T2_BLOCK
	T23_SLICE(0)
	T23_SLICE(1)
	T23_SLICE(2)
	T23_SLICE(3)
	T2_NEXT
	DECQ CX
	JNZ t23loop

t23done:
	MOVQ out+40(FP), DX
	MOVQ outStride+48(FP), BX
	STORE_SUM(Y8)
	STORE_SUM(Y9)
	STORE_SUM(Y10)
	MOVQ out+40(FP), DX
	MOVQ outStride+48(FP), BX
	ADDQ $4, DX
	STORE_SUM(Y12)
	STORE_SUM(Y13)
	STORE_SUM(Y14)
	VZEROUPPER
	RET

// func q8Tile2x2AVX2(w *byte, rb int, x *float32, stride, nb int, out *float32, outStride int)
TEXT ·q8Tile2x2AVX2(SB), NOSPLIT, $0-56
	MOVQ w+0(FP), SI
	MOVQ rb+8(FP), DX
	MOVQ x+16(FP), DI
	MOVQ stride+24(FP), BX
	MOVQ nb+32(FP), CX
	T2_START
	TESTQ CX, CX
	JZ t22done

t22loop:
	T2_BLOCK
	T22_SLICE(0)
	T22_SLICE(1)
	T22_SLICE(2)
	T22_SLICE(3)
	T2_NEXT
	DECQ CX
	JNZ t22loop

t22done:
	MOVQ out+40(FP), DX
	MOVQ outStride+48(FP), BX
	STORE_SUM(Y8)
	STORE_SUM(Y9)
	MOVQ out+40(FP), DX
	MOVQ outStride+48(FP), BX
	ADDQ $4, DX
	STORE_SUM(Y12)
	STORE_SUM(Y13)
	VZEROUPPER
	RET

// func dotF32AVX2(a, b *float32, n int) float32
//
// Σ a[i]·b[i] for n a multiple of 8, in eight float32 lanes (two
// accumulators when n allows).
TEXT ·dotF32AVX2(SB), NOSPLIT, $0-28
	MOVQ a+0(FP), SI
	MOVQ b+8(FP), DI
	MOVQ n+16(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1

f32pair:
	CMPQ CX, $16
	JLT f32single
	VMOVUPS (SI), Y2
	VMOVUPS 32(SI), Y3
	VFMADD231PS (DI), Y2, Y0
	VFMADD231PS 32(DI), Y3, Y1
	ADDQ $64, SI
	ADDQ $64, DI
	SUBQ $16, CX
	JMP f32pair

f32single:
	CMPQ CX, $8
	JLT f32done
	VMOVUPS (SI), Y2
	VFMADD231PS (DI), Y2, Y0

f32done:
	VADDPS Y1, Y0, Y0
	HSUM_Y0
	MOVSS X0, ret+24(FP)
	RET

// func axpyAVX2(y *float32, a float32, x *float32, n int)
//
// y[i] += a·x[i] for n a multiple of 8.
TEXT ·axpyAVX2(SB), NOSPLIT, $0-32
	MOVQ y+0(FP), DI
	VBROADCASTSS a+8(FP), Y0
	MOVQ x+16(FP), SI
	MOVQ n+24(FP), CX

axpyloop:
	CMPQ CX, $8
	JLT axpydone
	VMOVUPS (DI), Y1
	VFMADD231PS (SI), Y0, Y1
	VMOVUPS Y1, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JMP axpyloop

axpydone:
	VZEROUPPER
	RET

// func dotRowsAVX2(out, q, k *float32, stride, m, n int)
//
// out[j] = Σ_{i<n} q[i]·k[j·stride/4+i] for j < m (stride in bytes, n a
// multiple of 8): one query against m keys of a paged block.
TEXT ·dotRowsAVX2(SB), NOSPLIT, $0-48
	MOVQ out+0(FP), DX
	MOVQ q+8(FP), R8
	MOVQ k+16(FP), R9
	MOVQ stride+24(FP), BX
	MOVQ m+32(FP), R10
	MOVQ n+40(FP), R11

drrow:
	TESTQ R10, R10
	JZ drdone
	MOVQ R8, SI
	MOVQ R9, DI
	MOVQ R11, CX
	VXORPS Y0, Y0, Y0

drcol:
	CMPQ CX, $8
	JLT drsum
	VMOVUPS (SI), Y2
	VFMADD231PS (DI), Y2, Y0
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JMP drcol

drsum:
	HSUM_Y0_KEEP
	MOVSS X0, (DX)
	ADDQ $4, DX
	ADDQ BX, R9
	DECQ R10
	JMP drrow

drdone:
	VZEROUPPER
	RET

// func axpyRowsAVX2(y, p, v *float32, stride, m, n int)
//
// y[i] += Σ_{j<m} p[j]·v[j·stride/4+i] for i < n (stride in bytes, n a
// multiple of 8): the probability-weighted values of a paged block, eight
// outputs at a time kept in a register across the m rows.
TEXT ·axpyRowsAVX2(SB), NOSPLIT, $0-48
	MOVQ y+0(FP), DI
	MOVQ p+8(FP), R8
	MOVQ v+16(FP), R9
	MOVQ stride+24(FP), BX
	MOVQ m+32(FP), R10
	MOVQ n+40(FP), R11

arcol:
	CMPQ R11, $8
	JLT ardone
	VMOVUPS (DI), Y0
	MOVQ R8, DX
	MOVQ R9, SI
	MOVQ R10, CX

arrow:
	TESTQ CX, CX
	JZ arstore
	VBROADCASTSS (DX), Y1
	VFMADD231PS (SI), Y1, Y0
	ADDQ $4, DX
	ADDQ BX, SI
	DECQ CX
	JMP arrow

arstore:
	VMOVUPS Y0, (DI)
	ADDQ $32, DI
	ADDQ $32, R9
	SUBQ $8, R11
	JMP arcol

ardone:
	VZEROUPPER
	RET

// func swiGLUAVX2(gate, up *float32, n int, c *[12]float32)
//
// gate[i] = gate[i] / (1 + e^-gate[i]) × up[i] for n a multiple of 8. The
// exponential is expf's (Cephes) with the argument clamped to
// [c[0], c[1]]: round to nearest n = x·log2 e, r = x − n·ln 2 in two
// parts, a degree-6 polynomial, times 2^n built in the exponent bits.
// c: min, max, log2 e, ln 2 high, −ln 2 low, 1, and the polynomial's six
// coefficients from the highest degree down.
TEXT ·swiGLUAVX2(SB), NOSPLIT, $0-32
	MOVQ gate+0(FP), DI
	MOVQ up+8(FP), SI
	MOVQ n+16(FP), CX
	MOVQ c+24(FP), DX
	VBROADCASTSS 0(DX), Y8   // min
	VBROADCASTSS 4(DX), Y9   // max
	VBROADCASTSS 8(DX), Y10  // log2 e
	VBROADCASTSS 12(DX), Y11 // ln 2 high
	VBROADCASTSS 16(DX), Y12 // -ln 2 low
	VBROADCASTSS 20(DX), Y13 // 1

swloop:
	CMPQ CX, $8
	JLT swdone
	VMOVUPS (DI), Y0          // g
	VXORPS Y1, Y1, Y1
	VSUBPS Y0, Y1, Y1         // x = -g
	VMAXPS Y8, Y1, Y1
	VMINPS Y9, Y1, Y1
	VMULPS Y10, Y1, Y2
	VROUNDPS $0, Y2, Y2       // n
	VMOVAPS Y1, Y3
	VFNMADD231PS Y11, Y2, Y3  // r = x - n·ln2hi
	VFNMADD231PS Y12, Y2, Y3  // r -= n·(-ln2lo)
	VBROADCASTSS 24(DX), Y4
	VBROADCASTSS 28(DX), Y5
	VFMADD213PS Y5, Y3, Y4    // p = p·r + c
	VBROADCASTSS 32(DX), Y5
	VFMADD213PS Y5, Y3, Y4
	VBROADCASTSS 36(DX), Y5
	VFMADD213PS Y5, Y3, Y4
	VBROADCASTSS 40(DX), Y5
	VFMADD213PS Y5, Y3, Y4
	VBROADCASTSS 44(DX), Y5
	VFMADD213PS Y5, Y3, Y4
	VMULPS Y3, Y3, Y6         // r²
	VFMADD213PS Y3, Y6, Y4    // p·r² + r
	VADDPS Y13, Y4, Y4        // + 1
	VCVTPS2DQ Y2, Y2
	VPSLLD $23, Y2, Y2
	VPADDD Y2, Y4, Y4         // × 2^n: add n to the exponent
	VADDPS Y13, Y4, Y4        // 1 + e^-g
	VDIVPS Y4, Y0, Y0         // g / (1 + e^-g)
	VMULPS (SI), Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, DI
	ADDQ $32, SI
	SUBQ $8, CX
	JMP swloop

swdone:
	VZEROUPPER
	RET

// Q4_K (simd_amd64.go's dotQ4KAVX2, dotQ4Kx4AVX2). A super-block is
// 144 bytes: f16 d at 0, f16 dmin at 2, twelve bytes of 6-bit scales
// and mins at 4, then four groups of 32 quant bytes at 16; group g holds
// sub-block 2g in its low nibbles and 2g+1 in its high ones.

// PREFETCH_Q4K prefetches the three cache lines of the block 2 KiB
// ahead of SI: the weights stream from memory.
#define PREFETCH_Q4K \
	PREFETCHT0 2048(SI) \
	PREFETCHT0 2112(SI) \
	PREFETCHT0 2176(SI)

// Q4K_SCMIN_GP gathers the 6-bit fields of the block at SI, four at a
// time in 32-bit words, into sc (the eight scales, a byte each) and mn
// (the eight mins); hi, mh and t are scratch.
#define Q4K_SCMIN_GP(sc, mn, hi, mh, t) \
	MOVL 4(SI), sc \
	MOVL 8(SI), mn \
	MOVL 12(SI), hi \
	MOVL hi, mh \
	ANDL $0x0f0f0f0f, hi \
	SHRL $4, mh \
	ANDL $0x0f0f0f0f, mh \
	MOVL sc, t \
	SHRL $2, t \
	ANDL $0x30303030, t \
	ORL t, hi \
	MOVL mn, t \
	SHRL $2, t \
	ANDL $0x30303030, t \
	ORL t, mh \
	ANDL $0x3f3f3f3f, sc \
	ANDL $0x3f3f3f3f, mn \
	SHLQ $32, hi \
	ORQ hi, sc \
	SHLQ $32, mh \
	ORQ mh, mn

// Q4K_SCALES decodes the block at SI: the eight steps d·sc[j] to the
// stack at steps-32(SP) (as float32) and the eight offsets dmin·m[j] to
// Y2 (AX, R10-R13, X1, Y1 scratch). The 6-bit fields are gathered four
// at a time in 32-bit words: scales 0-3 are the low six bits of bytes
// 4-7, mins 0-3 of bytes 8-11; scales 4-7 are the low nibbles of bytes
// 12-15 with the top bits of bytes 4-7 above them, mins 4-7 the high
// nibbles of bytes 12-15 with the top bits of bytes 8-11.
#define Q4K_SCALES \
	Q4K_SCMIN_GP(AX, R11, R12, R13, R10) \
	VMOVQ AX, X1 \
	VPMOVZXBD X1, Y1 \
	VCVTDQ2PS Y1, Y1 \
	MOVWLZX (SI), AX \
	VMOVD AX, X2 \
	VCVTPH2PS X2, X2 \
	VBROADCASTSS X2, Y2 \
	VMULPS Y2, Y1, Y1 \
	VMOVUPS Y1, steps-32(SP) \
	VMOVQ R11, X1 \
	VPMOVZXBD X1, Y1 \
	VCVTDQ2PS Y1, Y1 \
	MOVWLZX 2(SI), AX \
	VMOVD AX, X2 \
	VCVTPH2PS X2, X2 \
	VBROADCASTSS X2, Y2 \
	VMULPS Y1, Y2, Y2

// Q4K_WIDEN widens the 32 quant bytes at off(SI) to float32: low
// nibbles in lo0-lo3, high nibbles in hi0-hi3 (Y15: dword 15s).
#define Q4K_WIDEN(off, lo0, lo1, lo2, lo3, hi0, hi1, hi2, hi3) \
	VPMOVZXBD off(SI), lo0 \
	VPMOVZXBD off+8(SI), lo1 \
	VPMOVZXBD off+16(SI), lo2 \
	VPMOVZXBD off+24(SI), lo3 \
	VPSRLD $4, lo0, hi0 \
	VPSRLD $4, lo1, hi1 \
	VPSRLD $4, lo2, hi2 \
	VPSRLD $4, lo3, hi3 \
	VPAND Y15, lo0, lo0 \
	VPAND Y15, lo1, lo1 \
	VPAND Y15, lo2, lo2 \
	VPAND Y15, lo3, lo3 \
	VCVTDQ2PS lo0, lo0 \
	VCVTDQ2PS lo1, lo1 \
	VCVTDQ2PS lo2, lo2 \
	VCVTDQ2PS lo3, lo3 \
	VCVTDQ2PS hi0, hi0 \
	VCVTDQ2PS hi1, hi1 \
	VCVTDQ2PS hi2, hi2 \
	VCVTDQ2PS hi3, hi3

// Q4K_SUB multiplies the widened sub-block w0-w3 by the 32 activations
// at m (and 32, 64, 96 bytes on) into t, then adds t times the step
// broadcast in s into acc.
#define Q4K_SUB(m, w0, w1, w2, w3, t, s, acc) \
	VMULPS m, w0, t \
	VFMADD231PS 32+m, w1, t \
	VFMADD231PS 64+m, w2, t \
	VFMADD231PS 96+m, w3, t \
	VFMADD231PS t, s, acc

// func dotQ4KAVX2(w *byte, x, xs *float32, nb int) float32
//
// Over nb super-blocks: per sub-block j the quants times the 32
// activations in float32, times d·sc[j], minus dmin·m[j] times xs[j]
// (the activations' sum). Each token's operations are those of
// dotQ4Kx4AVX2, so the results are the same bits.
TEXT ·dotQ4KAVX2(SB), NOSPLIT, $32-36
	MOVQ w+0(FP), SI
	MOVQ x+8(FP), DI
	MOVQ xs+16(FP), DX
	MOVQ nb+24(FP), CX
	VXORPS Y0, Y0, Y0
	VPCMPEQD Y15, Y15, Y15
	VPSRLD $28, Y15, Y15 // dword 15s

k1loop:
	TESTQ CX, CX
	JZ k1done
	PREFETCH_Q4K
	Q4K_SCALES
	VFNMADD231PS (DX), Y2, Y0

#define K1_GROUP(g) \
	Q4K_WIDEN(16+32*g, Y3, Y4, Y5, Y6, Y7, Y8, Y9, Y10) \
	VBROADCASTSS steps-32+8*g(SP), Y1 \
	VBROADCASTSS steps-28+8*g(SP), Y2 \
	Q4K_SUB(256*g(DI), Y3, Y4, Y5, Y6, Y11, Y1, Y0) \
	Q4K_SUB(256*g+128(DI), Y7, Y8, Y9, Y10, Y12, Y2, Y0)

	K1_GROUP(0)
	K1_GROUP(1)
	K1_GROUP(2)
	K1_GROUP(3)
	ADDQ $144, SI
	ADDQ $1024, DI
	ADDQ $32, DX
	DECQ CX
	JMP k1loop

k1done:
	HSUM_Y0
	MOVSS X0, ret+32(FP)
	RET

// func dotQ4Kx4AVX2(w *byte, x, xs *float32, stride, xsStride, nb int, out *float32, outStride int)
//
// dotQ4KAVX2 of one row against four tokens (activations at x, x+stride,
// …, sums at xs, xs+xsStride, …, strides in bytes) into out,
// out+outStride, …: each block's scales are decoded and its quants
// widened once for the four.
TEXT ·dotQ4Kx4AVX2(SB), NOSPLIT, $32-64
	MOVQ w+0(FP), SI
	MOVQ x+8(FP), DI
	MOVQ xs+16(FP), DX
	MOVQ stride+24(FP), BX
	MOVQ xsStride+32(FP), R9
	MOVQ nb+40(FP), CX
	LEAQ (DI)(BX*2), R8 // token 2's activations
	VXORPS Y11, Y11, Y11
	VXORPS Y12, Y12, Y12
	VXORPS Y13, Y13, Y13
	VXORPS Y14, Y14, Y14
	VPCMPEQD Y15, Y15, Y15
	VPSRLD $28, Y15, Y15

k4loop:
	TESTQ CX, CX
	JZ k4done
	PREFETCH_Q4K
	Q4K_SCALES
	LEAQ (DX)(R9*2), R10 // token 2's sums
	VFNMADD231PS (DX), Y2, Y11
	VFNMADD231PS (DX)(R9*1), Y2, Y12
	VFNMADD231PS (R10), Y2, Y13
	VFNMADD231PS (R10)(R9*1), Y2, Y14

#define K4_HALF(off, w0, w1, w2, w3, s) \
	Q4K_SUB(off(DI), w0, w1, w2, w3, Y0, s, Y11) \
	Q4K_SUB(off(DI)(BX*1), w0, w1, w2, w3, Y0, s, Y12) \
	Q4K_SUB(off(R8), w0, w1, w2, w3, Y0, s, Y13) \
	Q4K_SUB(off(R8)(BX*1), w0, w1, w2, w3, Y0, s, Y14)

#define K4_GROUP(g) \
	Q4K_WIDEN(16+32*g, Y3, Y4, Y5, Y6, Y7, Y8, Y9, Y10) \
	VBROADCASTSS steps-32+8*g(SP), Y1 \
	VBROADCASTSS steps-28+8*g(SP), Y2 \
	K4_HALF(256*g, Y3, Y4, Y5, Y6, Y1) \
	K4_HALF(256*g+128, Y7, Y8, Y9, Y10, Y2)

	K4_GROUP(0)
	K4_GROUP(1)
	K4_GROUP(2)
	K4_GROUP(3)
	ADDQ $144, SI
	ADDQ $1024, DI
	ADDQ $1024, R8
	ADDQ $32, DX
	DECQ CX
	JMP k4loop

k4done:
	MOVQ out+48(FP), DX
	MOVQ outStride+56(FP), BX
	STORE_SUMS4(Y11, Y12, Y13, Y14)
	VZEROUPPER
	RET

// Q4_K on activations quantized in blocks of 256, one float32 scale per
// super-block and the sums of each 32 quants (prepareQ8K, as llama.cpp's
// Q8_K): dotQ4KQ8KAVX2 (one token) and dotQ4KQ8Kx4AVX2 (four). The
// 6-bit scales and mins stay integers: per group of 32 quant bytes,
// VPMADDUBSW multiplies the nibbles (unsigned, ≤ 15) by the activation
// quants (|q| ≤ 127: a pair reaches 2·15·127, far from int16's limit)
// and VPMADDWD by the sub-block's scale broadcast as int16, into eight
// int32 lanes, lane m holding bytes 4m..4m+3 of every sub-block. Per
// super-block the lanes (at most 8·63·4·15·127 < 2^24, so exact as
// float32) are converted and fused into eight float32 chains with
// d·xd, then the mins: VPMADDWD of the eight mins with the eight sums
// gives four int32 lanes (the upper four zero), fused with −dmin·xd. The
// lanes are added at the end as HSUM_Y0 does. dotQ4KQ8KGo is the same
// arithmetic in Go, so all three give the same bits.

// Q4K_SCMIN decodes the 6-bit scales and mins of the block at SI to
// int16: the scales to sc-16(SP), the mins to X13 (AX, BX, DX, R11, R13
// scratch; the fields as Q4K_SCALES gathers them).
#define Q4K_SCMIN \
	Q4K_SCMIN_GP(AX, R11, DX, R13, BX) \
	VMOVQ AX, X1 \
	VPMOVZXBW X1, X1 \
	VMOVDQU X1, sc-16(SP) \
	VMOVQ R11, X13 \
	VPMOVZXBW X13, X13

// Q4K_NIBBLES splits group g's 32 quant bytes: low nibbles to Y3, high
// to Y4 (Y15: bytes 15), and broadcasts the two sub-blocks' scales to
// Y5 and Y6.
#define Q4K_NIBBLES(g) \
	VMOVDQU 16+32*g(SI), Y3 \
	VPSRLW $4, Y3, Y4 \
	VPAND Y15, Y4, Y4 \
	VPAND Y15, Y3, Y3 \
	VPBROADCASTW sc-16+4*g(SP), Y5 \
	VPBROADCASTW sc-14+4*g(SP), Y6

// Q4K_DOTS adds group g's products with the 64 quants at m into the
// int32 lanes of acc (Y7, Y8 scratch).
#define Q4K_DOTS(m, acc) \
	VPMADDUBSW m, Y3, Y7 \
	VPMADDUBSW 32+m, Y4, Y8 \
	VPMADDWD Y5, Y7, Y7 \
	VPMADDWD Y6, Y8, Y8 \
	VPADDD Y7, acc, acc \
	VPADDD Y8, acc, acc

// Q4K_SCALE_BY sets y to the f16 at m times the float32 at xd,
// broadcast (x is y's low half).
#define Q4K_SCALE_BY(m, xd, x, y) \
	MOVWLZX m, AX \
	VMOVD AX, x \
	VCVTPH2PS x, x \
	VMULSS xd, x, x \
	VBROADCASTSS x, y

// Q4K_FOLD fuses a token's block into its chains acc: the int32 lanes
// ia times d·xd, then the mins (X13) times its sums at bs times
// −dmin·xd (Y1, Y2 scratch; ia is cleared for the next block).
#define Q4K_FOLD(xd, bs, ia, acc) \
	VCVTDQ2PS ia, ia \
	Q4K_SCALE_BY((SI), xd, X1, Y1) \
	VFMADD231PS ia, Y1, acc \
	VPMADDWD bs, X13, X2 \
	VCVTDQ2PS Y2, Y2 \
	Q4K_SCALE_BY(2(SI), xd, X1, Y1) \
	VFNMADD231PS Y2, Y1, acc \
	VPXOR ia, ia, ia

// func dotQ4KQ8KAVX2(w *byte, xq *int8, xd *float32, bs *int16, nb int) float32
TEXT ·dotQ4KQ8KAVX2(SB), NOSPLIT, $16-44
	MOVQ w+0(FP), SI
	MOVQ xq+8(FP), DI
	MOVQ xd+16(FP), R8
	MOVQ bs+24(FP), R9
	MOVQ nb+32(FP), CX
	VXORPS Y0, Y0, Y0
	VPXOR Y9, Y9, Y9
	VPCMPEQW Y15, Y15, Y15
	VPSRLW $12, Y15, Y15
	VPACKUSWB Y15, Y15, Y15 // bytes 15
	TESTQ CX, CX
	JZ kkdone

kkloop:
	PREFETCH_Q4K
	Q4K_SCMIN
	Q4K_NIBBLES(0)
	Q4K_DOTS(0(DI), Y9)
	Q4K_NIBBLES(1)
	Q4K_DOTS(64(DI), Y9)
	Q4K_NIBBLES(2)
	Q4K_DOTS(128(DI), Y9)
	Q4K_NIBBLES(3)
	Q4K_DOTS(192(DI), Y9)
	Q4K_FOLD((R8), (R9), Y9, Y0)
	ADDQ $144, SI
	ADDQ $256, DI
	ADDQ $4, R8
	ADDQ $16, R9
	DECQ CX
	JNZ kkloop

kkdone:
	HSUM_Y0
	MOVSS X0, ret+40(FP)
	RET

// func dotQ4KQ8Kx4AVX2(w *byte, xq *int8, xd *float32, bs *int16, nb int, out *float32, outStride int)
//
// dotQ4KQ8KAVX2 of one row against four tokens, whose quants, scales
// and sums are 256·nb, 4·nb and 16·nb bytes apart, into out,
// out+outStride, … (bytes): each block's scales are decoded and its
// nibbles split once for the four, and per token the operations are
// dotQ4KQ8KAVX2's.
TEXT ·dotQ4KQ8Kx4AVX2(SB), NOSPLIT, $16-56
	MOVQ w+0(FP), SI
	MOVQ xq+8(FP), DI
	MOVQ xd+16(FP), R8
	MOVQ bs+24(FP), R9
	MOVQ nb+32(FP), CX
	MOVQ CX, R12 // nb, for the strides
	MOVQ CX, BX
	SHLQ $8, BX
	LEAQ (DI)(BX*2), R10 // token 2's quants
	VXORPS Y0, Y0, Y0
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	VXORPS Y12, Y12, Y12
	VPXOR Y9, Y9, Y9
	VPXOR Y14, Y14, Y14
	VPCMPEQW Y15, Y15, Y15
	VPSRLW $12, Y15, Y15
	VPACKUSWB Y15, Y15, Y15
	TESTQ CX, CX
	JZ kk4done

kk4loop:
	PREFETCH_Q4K
	Q4K_SCMIN
	MOVQ R12, BX
	SHLQ $8, BX // quants' stride

	// tokens 0 and 1, then 2 and 3 (int32 lanes in Y9 and Y14)
#define KK4_PAIR(q) \
	Q4K_NIBBLES(0) \
	Q4K_DOTS(0(q), Y9) \
	Q4K_DOTS(0(q)(BX*1), Y14) \
	Q4K_NIBBLES(1) \
	Q4K_DOTS(64(q), Y9) \
	Q4K_DOTS(64(q)(BX*1), Y14) \
	Q4K_NIBBLES(2) \
	Q4K_DOTS(128(q), Y9) \
	Q4K_DOTS(128(q)(BX*1), Y14) \
	Q4K_NIBBLES(3) \
	Q4K_DOTS(192(q), Y9) \
	Q4K_DOTS(192(q)(BX*1), Y14)

	KK4_PAIR(DI)
	MOVQ R12, DX
	SHLQ $2, DX // scales' stride
	MOVQ R12, R11
	SHLQ $4, R11 // sums' stride
	Q4K_FOLD((R8), (R9), Y9, Y0)
	Q4K_FOLD((R8)(DX*1), (R9)(R11*1), Y14, Y10)
	KK4_PAIR(R10)
	MOVQ R12, DX
	SHLQ $2, DX
	MOVQ R12, R11
	SHLQ $4, R11
	LEAQ (R8)(DX*2), R13
	LEAQ (R9)(R11*2), BX
	Q4K_FOLD((R13), (BX), Y9, Y11)
	ADDQ DX, R13
	ADDQ R11, BX
	Q4K_FOLD((R13), (BX), Y14, Y12)
	ADDQ $144, SI
	ADDQ $256, DI
	ADDQ $256, R10
	ADDQ $4, R8
	ADDQ $16, R9
	DECQ CX
	JNZ kk4loop

kk4done:
	MOVQ out+40(FP), DX
	MOVQ outStride+48(FP), BX
	STORE_SUMS4(Y0, Y10, Y11, Y12)
	VZEROUPPER
	RET

// func quantizeQ8KAVX2(x *float32, q *int8, d *float32, s *int16, nb int)
//
// quantizeQ8KGo over nb blocks of 256: max|x| by VMAXPS (exact, in any
// order), d = max/127 and 1/d by VDIVSS (IEEE, as Go's float32
// division), x·(1/d) rounded to nearest even by VCVTPS2DQ (the MXCSR
// mode Go keeps), the 32 int32 of a group packed to bytes in order (the
// packs work within 128-bit lanes, so VPERMD puts the dwords back) and
// summed before packing.
TEXT ·quantizeQ8KAVX2(SB), NOSPLIT, $0-40
	MOVQ x+0(FP), SI
	MOVQ q+8(FP), DI
	MOVQ d+16(FP), R8
	MOVQ s+24(FP), R9
	MOVQ nb+32(FP), CX
	VPCMPEQD Y15, Y15, Y15
	VPSRLD $1, Y15, Y15 // |x| mask
	// Y14: the dwords 0, 4, 1, 5, 2, 6, 3, 7 (VPERMD's order)
	MOVQ $0x0000000400000000, AX
	MOVQ AX, X12
	MOVQ $0x0000000500000001, AX
	VPINSRQ $1, AX, X12, X12
	MOVQ $0x0000000600000002, AX
	MOVQ AX, X13
	MOVQ $0x0000000700000003, AX
	VPINSRQ $1, AX, X13, X13
	VINSERTI128 $1, X13, Y12, Y14
	MOVL $127, AX
	VCVTSI2SSL AX, X11, X11 // 127
	MOVL $1, AX
	VCVTSI2SSL AX, X10, X10 // 1
	TESTQ CX, CX
	JZ qkdone

qkblock:
	VXORPS Y0, Y0, Y0
	MOVQ $32, DX
	MOVQ SI, R10

qkmax:
	VANDPS (R10), Y15, Y1
	VMAXPS Y1, Y0, Y0
	ADDQ $32, R10
	DECQ DX
	JNZ qkmax
	VEXTRACTF128 $1, Y0, X1
	VMAXPS X1, X0, X0
	VPERMILPS $0x4E, X0, X1
	VMAXPS X1, X0, X0
	VPERMILPS $0xB1, X0, X1
	VMAXSS X1, X0, X0
	VDIVSS X11, X0, X0 // d
	VMOVSS X0, (R8)
	VXORPS X1, X1, X1
	VUCOMISS X1, X0
	JEQ qkzero
	VDIVSS X0, X10, X1 // 1/d

qkzero:
	VBROADCASTSS X1, Y1
	MOVQ $8, DX

qkgroup:
	VMULPS (SI), Y1, Y2
	VMULPS 32(SI), Y1, Y3
	VMULPS 64(SI), Y1, Y4
	VMULPS 96(SI), Y1, Y5
	VCVTPS2DQ Y2, Y2
	VCVTPS2DQ Y3, Y3
	VCVTPS2DQ Y4, Y4
	VCVTPS2DQ Y5, Y5
	VPADDD Y3, Y2, Y6
	VPADDD Y5, Y4, Y7
	VPADDD Y7, Y6, Y6
	VEXTRACTI128 $1, Y6, X7
	VPADDD X7, X6, X6
	VPSHUFD $0x4E, X6, X7
	VPADDD X7, X6, X6
	VPSHUFD $0xB1, X6, X7
	VPADDD X7, X6, X6
	VMOVD X6, AX
	MOVW AX, (R9)
	VPACKSSDW Y3, Y2, Y2
	VPACKSSDW Y5, Y4, Y4
	VPACKSSWB Y4, Y2, Y2
	VPERMD Y2, Y14, Y2
	VMOVDQU Y2, (DI)
	ADDQ $128, SI
	ADDQ $32, DI
	ADDQ $2, R9
	DECQ DX
	JNZ qkgroup

	ADDQ $4, R8
	DECQ CX
	JNZ qkblock

qkdone:
	VZEROUPPER
	RET

// Q8_0 on activations quantized in blocks of 256 (quantizeQ8K, as the
// int8 Q4_K and Q6_K dots take them): dotQ8Q8KAVX2 (one token),
// dotQ8Q8Kx4AVX2 (four) and dotQ8Q8Kx8AVX2 (eight), dotQ8Q8KGo's
// arithmetic. A group of eight Q8_0 blocks (272 bytes) meets one
// activation block. Its eight f16 scales become integers over one
// power of two (Q8K_SCALES), so that the group's products stay in
// eight exact int32 lanes and a token takes one conversion and one FMA
// per group rather than per block of 32 (llama.cpp's q8_0 × q8_0 dot).
// Per block, VPMADDUBSW multiplies |w| (unsigned, ≤ 128) by x·sign(w)
// (|x| ≤ 127: a pair of products reaches 2·128·127 < 2^15) and VPMADDWD
// the pairs by the block's integer scale (|s| ≤ 2047) into lane m
// (bytes 4m..4m+3): per group a lane reaches 8·4·128·127·2047 < 2^31.
// The one-token and four-token dots keep the eight scales in Y14 and
// Y15 (VPSHUFD picks a block's); all keep |w| and the scale of a block
// for all their tokens.

// Q8K_SCALES makes the integer scales of the group at SI as
// q8GroupScales does: the eight f16 scales (gathered by VPINSRW)
// widened exactly (VCVTPH2PS), the biased exponent eb of the largest
// magnitude (at least 11), s = scale·2^(137−eb) rounded to nearest even
// (VCVTPS2DQ in Go's MXCSR mode), each in both halves of a dword
// (VPMADDWD's int16 pairs): scales 0–3 in every 128-bit lane of Y14,
// 4–7 of Y15; and the power 2^(eb−137), the value of s = 1, in every
// lane of Y13 (AX, Y8–Y10 scratch).
#define Q8K_SCALES \
	MOVWLZX (SI), AX \
	VMOVD AX, X8 \
	VPINSRW $1, 34(SI), X8, X8 \
	VPINSRW $2, 68(SI), X8, X8 \
	VPINSRW $3, 102(SI), X8, X8 \
	VPINSRW $4, 136(SI), X8, X8 \
	VPINSRW $5, 170(SI), X8, X8 \
	VPINSRW $6, 204(SI), X8, X8 \
	VPINSRW $7, 238(SI), X8, X8 \
	VCVTPH2PS X8, Y8 \
	VBROADCASTSS q8kC<>+0(SB), Y9 \
	VANDPS Y9, Y8, Y9 \
	VPERM2F128 $1, Y9, Y9, Y10 \
	VMAXPS Y10, Y9, Y9 \
	VPERMILPS $0x4E, Y9, Y10 \
	VMAXPS Y10, Y9, Y9 \
	VPERMILPS $0xB1, Y9, Y10 \
	VMAXPS Y10, Y9, Y9 \
	VPSRLD $23, Y9, Y9 \
	VPBROADCASTD q8kC<>+12(SB), Y10 \
	VPMAXSD Y10, Y9, Y9 \
	VPBROADCASTD q8kC<>+4(SB), Y10 \
	VPSUBD Y9, Y10, Y10 \
	VPSLLD $23, Y10, Y10 \
	VMULPS Y10, Y8, Y8 \
	VCVTPS2DQ Y8, Y8 \
	VPBROADCASTD q8kC<>+8(SB), Y10 \
	VPSUBD Y10, Y9, Y9 \
	VPSLLD $23, Y9, Y13 \
	VPSHUFB q8kDup<>(SB), Y8, Y8 \
	VPERM2I128 $0x00, Y8, Y8, Y14 \
	VPERM2I128 $0x11, Y8, Y8, Y15

// Q8K_PREFETCH prefetches the group 2 KiB ahead of SI (272 bytes: five
// lines, the last shared with the next group).
#define Q8K_PREFETCH \
	PREFETCHT0 2048(SI) \
	PREFETCHT0 2112(SI) \
	PREFETCHT0 2176(SI) \
	PREFETCHT0 2240(SI) \
	PREFETCHT0 2304(SI)

// Q8K_WEIGHTS loads block b's quants: |w| to Y9, w to Y8 (the sign
// source), and its integer scale, picked from y by VPSHUFD's pattern i,
// to every dword of Y10.
#define Q8K_WEIGHTS(b, i, y) \
	VMOVDQU 2+34*b(SI), Y8 \
	VPSIGNB Y8, Y8, Y9 \
	VPSHUFD $i, y, Y10

// Q8K_GROUP prefetches, makes the group's scales and runs the macro
// blk(b, i, y) on its eight blocks (Q8K_WEIGHTS' arguments).
#define Q8K_GROUP(blk) \
	Q8K_PREFETCH \
	Q8K_SCALES \
	blk(0, 0x00, Y14) \
	blk(1, 0x55, Y14) \
	blk(2, 0xAA, Y14) \
	blk(3, 0xFF, Y14) \
	blk(4, 0x00, Y15) \
	blk(5, 0x55, Y15) \
	blk(6, 0xAA, Y15) \
	blk(7, 0xFF, Y15)

// Q8K_TOKEN adds one token's products with the block in Y8–Y10 (its 32
// quants at m) into the int32 lanes of acc (t scratch).
#define Q8K_TOKEN(m, t, acc) \
	VMOVDQU m, t \
	VPSIGNB Y8, t, t \
	VPMADDUBSW t, Y9, t \
	VPMADDWD Y10, t, t \
	VPADDD t, acc, acc

// Q8K_FOLD fuses a token's group into its chains acc: the int32 lanes
// ia converted, times xd·power (Y13; Y11 scratch); ia is cleared.
#define Q8K_FOLD(xd, ia, acc) \
	VCVTDQ2PS ia, ia \
	VBROADCASTSS xd, Y11 \
	VMULPS Y13, Y11, Y11 \
	VFMADD231PS ia, Y11, acc \
	VPXOR ia, ia, ia

#define Q8K1_BLOCK(b, i, y) \
	Q8K_WEIGHTS(b, i, y) \
	Q8K_TOKEN(32*b(DI), Y11, Y0)

// func dotQ8Q8KAVX2(w *byte, xq *int8, xd *float32, ng int) float32
TEXT ·dotQ8Q8KAVX2(SB), NOSPLIT, $0-36
	MOVQ w+0(FP), SI
	MOVQ xq+8(FP), DI
	MOVQ xd+16(FP), R8
	MOVQ ng+24(FP), CX
	VXORPS Y4, Y4, Y4
	VPXOR Y0, Y0, Y0
	TESTQ CX, CX
	JZ q81done

q81loop:
	Q8K_GROUP(Q8K1_BLOCK)
	Q8K_FOLD((R8), Y0, Y4)
	ADDQ $272, SI
	ADDQ $256, DI
	ADDQ $4, R8
	DECQ CX
	JNZ q81loop

q81done:
	VMOVAPS Y4, Y0
	HSUM_Y0
	MOVSS X0, ret+32(FP)
	RET

#define Q8K4_BLOCK(b, i, y) \
	Q8K_WEIGHTS(b, i, y) \
	Q8K_TOKEN(32*b(DI), Y11, Y0) \
	Q8K_TOKEN(32*b(DI)(BX*1), Y12, Y1) \
	Q8K_TOKEN(32*b(R10), Y11, Y2) \
	Q8K_TOKEN(32*b(R10)(BX*1), Y12, Y3)

// func dotQ8Q8Kx4AVX2(w *byte, xq *int8, xd *float32, ng int, out *float32, outStride int)
//
// dotQ8Q8KAVX2 of one row against four tokens, whose quants and scales
// are 256·ng and 4·ng bytes apart, into out, out+outStride, … (bytes):
// each block's scales and |w| are made once for the four, and per token
// the operations are dotQ8Q8KAVX2's.
TEXT ·dotQ8Q8Kx4AVX2(SB), NOSPLIT, $0-48
	MOVQ w+0(FP), SI
	MOVQ xq+8(FP), DI
	MOVQ xd+16(FP), R8
	MOVQ ng+24(FP), CX
	MOVQ CX, BX
	SHLQ $8, BX // quants' stride
	LEAQ (DI)(BX*2), R10 // token 2's quants
	MOVQ CX, DX
	SHLQ $2, DX // scales' stride
	LEAQ (R8)(DX*2), R9 // token 2's scales
	VPXOR Y0, Y0, Y0
	VPXOR Y1, Y1, Y1
	VPXOR Y2, Y2, Y2
	VPXOR Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	TESTQ CX, CX
	JZ q84done

q84loop:
	Q8K_GROUP(Q8K4_BLOCK)
	Q8K_FOLD((R8), Y0, Y4)
	Q8K_FOLD((R8)(DX*1), Y1, Y5)
	Q8K_FOLD((R9), Y2, Y6)
	Q8K_FOLD((R9)(DX*1), Y3, Y7)
	ADDQ $272, SI
	ADDQ $256, DI
	ADDQ $256, R10
	ADDQ $4, R8
	ADDQ $4, R9
	DECQ CX
	JNZ q84loop

q84done:
	MOVQ out+32(FP), DX
	MOVQ outStride+40(FP), BX
	STORE_SUMS4(Y4, Y5, Y6, Y7)
	VZEROUPPER
	RET

// Q8K_FOLDM is Q8K_FOLD with the chains in the frame at m (Y10, Y11
// scratch).
#define Q8K_FOLDM(xd, ia, m) \
	VCVTDQ2PS ia, ia \
	VBROADCASTSS xd, Y11 \
	VMULPS Y13, Y11, Y11 \
	VMOVUPS m, Y10 \
	VFMADD231PS ia, Y11, Y10 \
	VMOVUPS Y10, m \
	VPXOR ia, ia, ia

#define Q8K8_BLOCK(b, i, y) \
	Q8K_WEIGHTS(b, i, y) \
	Q8K_TOKEN(32*b(DI), Y11, Y0) \
	Q8K_TOKEN(32*b(DI)(BX*1), Y12, Y1) \
	Q8K_TOKEN(32*b(DI)(BX*2), Y11, Y2) \
	Q8K_TOKEN(32*b(R10), Y12, Y3) \
	Q8K_TOKEN(32*b(R10)(BX*1), Y11, Y4) \
	Q8K_TOKEN(32*b(R10)(BX*2), Y12, Y5) \
	Q8K_TOKEN(32*b(R11), Y11, Y6) \
	Q8K_TOKEN(32*b(R11)(BX*1), Y12, Y7)

#define Q8K8_STORE(m) \
	VMOVUPS m, Y0 \
	HSUM_Y0_KEEP \
	MOVSS X0, (DX) \
	ADDQ BX, DX \
	DECQ R13 \
	JZ q88end

// func dotQ8Q8Kx8AVX2(w *byte, xq *int8, xd *float32, ng int, out *float32, outStride, k int)
//
// dotQ8Q8Kx4AVX2 for eight tokens, of which the first k (1 to 8) are
// stored: the int32 lanes of the eight in Y0–Y7, their float32 chains
// in the frame.
TEXT ·dotQ8Q8Kx8AVX2(SB), NOSPLIT, $256-56
	MOVQ w+0(FP), SI
	MOVQ xq+8(FP), DI
	MOVQ xd+16(FP), R8
	MOVQ ng+24(FP), CX
	MOVQ CX, BX
	SHLQ $8, BX // quants' stride
	LEAQ (DI)(BX*2), R10
	ADDQ BX, R10 // token 3's quants
	LEAQ (R10)(BX*2), R11
	ADDQ BX, R11 // token 6's
	MOVQ CX, DX
	SHLQ $2, DX // scales' stride
	LEAQ (R8)(DX*2), R9
	ADDQ DX, R9 // token 3's scales
	LEAQ (R9)(DX*2), R12
	ADDQ DX, R12 // token 6's
	VPXOR Y0, Y0, Y0
	VPXOR Y1, Y1, Y1
	VPXOR Y2, Y2, Y2
	VPXOR Y3, Y3, Y3
	VPXOR Y4, Y4, Y4
	VPXOR Y5, Y5, Y5
	VPXOR Y6, Y6, Y6
	VPXOR Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VMOVUPS Y8, 0(SP)
	VMOVUPS Y8, 32(SP)
	VMOVUPS Y8, 64(SP)
	VMOVUPS Y8, 96(SP)
	VMOVUPS Y8, 128(SP)
	VMOVUPS Y8, 160(SP)
	VMOVUPS Y8, 192(SP)
	VMOVUPS Y8, 224(SP)
	TESTQ CX, CX
	JZ q88done

q88loop:
	Q8K_GROUP(Q8K8_BLOCK)
	Q8K_FOLDM((R8), Y0, 0(SP))
	Q8K_FOLDM((R8)(DX*1), Y1, 32(SP))
	Q8K_FOLDM((R8)(DX*2), Y2, 64(SP))
	Q8K_FOLDM((R9), Y3, 96(SP))
	Q8K_FOLDM((R9)(DX*1), Y4, 128(SP))
	Q8K_FOLDM((R9)(DX*2), Y5, 160(SP))
	Q8K_FOLDM((R12), Y6, 192(SP))
	Q8K_FOLDM((R12)(DX*1), Y7, 224(SP))
	ADDQ $272, SI
	ADDQ $256, DI
	ADDQ $256, R10
	ADDQ $256, R11
	ADDQ $4, R8
	ADDQ $4, R9
	ADDQ $4, R12
	DECQ CX
	JNZ q88loop

q88done:
	MOVQ out+32(FP), DX
	MOVQ outStride+40(FP), BX
	MOVQ k+48(FP), R13
	Q8K8_STORE(0(SP))
	Q8K8_STORE(32(SP))
	Q8K8_STORE(64(SP))
	Q8K8_STORE(96(SP))
	Q8K8_STORE(128(SP))
	Q8K8_STORE(160(SP))
	Q8K8_STORE(192(SP))
	Q8K8_STORE(224(SP))

q88end:
	VZEROUPPER
	RET

// q8kC: dwords 0x7fffffff (float32 magnitude), 264 and 10 (the biased
// exponents of 2^(137−eb) and 2^(eb−137) are 264−eb and eb−10) and 11
// (eb's floor); q8kDup: VPSHUFB's pattern copying each dword's low half
// to its top.
DATA q8kC<>+0(SB)/4, $0x7fffffff
DATA q8kC<>+4(SB)/4, $264
DATA q8kC<>+8(SB)/4, $10
DATA q8kC<>+12(SB)/4, $11
GLOBL q8kC<>(SB), RODATA|NOPTR, $16
DATA q8kDup<>+0(SB)/8, $0x0504050401000100
DATA q8kDup<>+8(SB)/8, $0x0d0c0d0c09080908
DATA q8kDup<>+16(SB)/8, $0x0504050401000100
DATA q8kDup<>+24(SB)/8, $0x0d0c0d0c09080908
GLOBL q8kDup<>(SB), RODATA|NOPTR, $32
