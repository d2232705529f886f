//go:build !purego

#include "textflag.h"

// AVX-512 (F, BW, VL) primitives of the fast kernels
// (simd_avx512_amd64.go): 16 float32 lanes in Z registers, no opmasks.
// The Q8_0 accumulators and the tile live in Z16-Z31, which VZEROUPPER
// leaves alone and which cost SSE code nothing after the return.

// HSUM_Z adds the 16 float32 lanes of z (y: its lower half) into X0's
// lowest lane, always in the same tree: the two 256-bit halves, then the
// two 128-bit halves, then lanes two apart, then neighbours (Y1 scratch).
// Every Q8_0 primitive of the set sums its accumulators this way, so the
// single dot, the four-row dot and the tile agree to the bit.
#define HSUM_Z(z, y) \
	VEXTRACTF64X4 $1, z, Y1 \
	VADDPS Y1, y, Y0 \
	FOLD_Y0

// FOLD_Y0 adds the eight lanes of Y0 into X0's lowest: HSUM_Z's tree
// from its second level (X1 scratch).
#define FOLD_Y0 \
	VEXTRACTF128 $1, Y0, X1 \
	VADDPS X1, X0, X0 \
	VPERMILPS $0x4E, X0, X1 \
	VADDPS X1, X0, X0 \
	VPERMILPS $0xB1, X0, X1 \
	VADDSS X1, X0, X0

// ZERO_Z16_Z19 clears four accumulators.
#define ZERO_Z16_Z19 \
	VPXORD Z16, Z16, Z16 \
	VPXORD Z17, Z17, Z17 \
	VPXORD Z18, Z18, Z18 \
	VPXORD Z19, Z19, Z19

// HSUM_Z16_Z19 adds the four accumulators Z16-Z19 (in pairs) and sums
// the lanes with HSUM_Z into X0.
#define HSUM_Z16_Z19 \
	VADDPS Z17, Z16, Z16 \
	VADDPS Z19, Z18, Z18 \
	VADDPS Z18, Z16, Z16 \
	HSUM_Z(Z16, Y16)

// FMA4_Z16_Z19 multiply-adds Z2-Z5 by the 64 float32 values at DI into
// the four accumulators.
#define FMA4_Z16_Z19 \
	VFMADD231PS (DI), Z2, Z16 \
	VFMADD231PS 64(DI), Z3, Z17 \
	VFMADD231PS 128(DI), Z4, Z18 \
	VFMADD231PS 192(DI), Z5, Z19

// Q8_SCALE broadcasts the f16 scale of the Q8_0 block at m to the 16
// float32 lanes of z (y: its lower half).
#define Q8_SCALE(m, y, z) \
	VPBROADCASTW m, y \
	VCVTPH2PS y, z

// Q8_WIDEN sets w to the 16 int8 quants at m as float32, times the
// block's scale s. The product is exact (8 by 11 significant bits), so
// the only rounding per weight is the FMA that follows.
#define Q8_WIDEN(m, s, w) \
	VPMOVSXBD m, w \
	VCVTDQ2PS w, w \
	VMULPS s, w, w

// func dotQ8F32AVX512(w *byte, x *float32, nb int) float32
//
// Σ_b Σ_j f16(w_b.d)·w_b.q[j]·x[32b+j] over nb Q8_0 blocks: per block
// and per half of 16 columns, the scaled quants times the activations
// fused into one accumulator, then HSUM_Z.
TEXT ·dotQ8F32AVX512(SB), NOSPLIT, $0-28
	MOVQ w+0(FP), SI
	MOVQ x+8(FP), DI
	MOVQ nb+16(FP), CX
	VPXORD Z16, Z16, Z16

q1loop:
	TESTQ CX, CX
	JZ q1done
	PREFETCHT0 2048(SI) // the weights stream from memory
	Q8_SCALE((SI), Y2, Z2)
	Q8_WIDEN(2(SI), Z2, Z3)
	VFMADD231PS (DI), Z3, Z16
	Q8_WIDEN(18(SI), Z2, Z4)
	VFMADD231PS 64(DI), Z4, Z16
	ADDQ $34, SI
	ADDQ $128, DI
	DECQ CX
	JMP q1loop

q1done:
	HSUM_Z(Z16, Y16)
	VMOVSS X0, ret+24(FP)
	VZEROUPPER
	RET

// Q8_PREFETCH_NEXT4 prefetches, at the current block, the four rows
// after this call's (R11, R11+BX, R12, R12+BX), which the matmul reads
// next. A decode step streams the weights from memory, and four rows
// read side by side are four streams one row's bytes apart (2176 for
// 2048 columns): prefetching 2 KiB ahead in each row, as the single-row
// dot does, mostly fetches what the next row is already reading. With
// that prefetch, the first AVX-512 run (Xeon, KVM) streamed a 32000 ×
// 2048 Q8_0 matrix at 5.7 GB/s on one core against AVX2's 7.7
// (BenchmarkMatMulBig); this prefetch has not been timed on an AVX-512
// CPU yet.
#define Q8_PREFETCH_NEXT4 \
	PREFETCHT0 (R11) \
	PREFETCHT0 (R11)(BX*1) \
	PREFETCHT0 (R12) \
	PREFETCHT0 (R12)(BX*1)

// Q8_R4_ROW multiplies one row's block (scale at d, halves at h0, h1)
// by the activations in Z0 and Z1 into acc, as dotQ8F32AVX512 does
// (s, w0, w1 scratch; y is s's lower half).
#define Q8_R4_ROW(d, h0, h1, y, s, w0, w1, acc) \
	Q8_SCALE(d, y, s) \
	Q8_WIDEN(h0, s, w0) \
	Q8_WIDEN(h1, s, w1) \
	VFMADD231PS Z0, w0, acc \
	VFMADD231PS Z1, w1, acc

// func dotQ8F32R4AVX512(w *byte, rb int, x *float32, nb int, out *[4]float32)
//
// dotQ8F32AVX512 of four rows (w, w+rb, …) against one token into
// out[0..3]: the token's activations are loaded once per block for the
// four, and the four accumulators are independent chains.
TEXT ·dotQ8F32R4AVX512(SB), NOSPLIT, $0-40
	MOVQ w+0(FP), SI
	MOVQ rb+8(FP), BX
	MOVQ x+16(FP), DI
	MOVQ nb+24(FP), CX
	LEAQ (SI)(BX*2), R8 // row 2
	LEAQ (R8)(BX*2), R11 // row 4, the next call's first
	LEAQ (R11)(BX*2), R12 // row 6
	ZERO_Z16_Z19

r4loop:
	TESTQ CX, CX
	JZ r4done
	Q8_PREFETCH_NEXT4
	VMOVUPS (DI), Z0
	VMOVUPS 64(DI), Z1
	Q8_R4_ROW((SI), 2(SI), 18(SI), Y2, Z2, Z3, Z4, Z16)
	Q8_R4_ROW((SI)(BX*1), 2(SI)(BX*1), 18(SI)(BX*1), Y5, Z5, Z6, Z7, Z17)
	Q8_R4_ROW((R8), 2(R8), 18(R8), Y8, Z8, Z9, Z10, Z18)
	Q8_R4_ROW((R8)(BX*1), 2(R8)(BX*1), 18(R8)(BX*1), Y11, Z11, Z12, Z13, Z19)
	ADDQ $34, SI
	ADDQ $34, R8
	ADDQ $34, R11
	ADDQ $34, R12
	ADDQ $128, DI
	DECQ CX
	JMP r4loop

r4done:
	MOVQ out+32(FP), DX
	HSUM_Z(Z16, Y16)
	VMOVSS X0, (DX)
	HSUM_Z(Z17, Y17)
	VMOVSS X0, 4(DX)
	HSUM_Z(Z18, Y18)
	VMOVSS X0, 8(DX)
	HSUM_Z(Z19, Y19)
	VMOVSS X0, 12(DX)
	VZEROUPPER
	RET

// TILE_WIDEN widens and scales one half (16 columns) of a block of the
// four rows (scales in Z8-Z11, quants at qoff from each row): row r's in
// Z4+r. TILE_TOKEN multiplies them by one token's activations (at m,
// loaded into zx) into its four accumulators a0-a3. TILE_HALF is both
// for four tokens: token t's activations in Z0+t, (row r, token t) in
// Z16+4t+r.
#define TILE_WIDEN(qoff) \
	Q8_WIDEN(qoff(SI), Z8, Z4) \
	Q8_WIDEN(qoff(SI)(BX*1), Z9, Z5) \
	Q8_WIDEN(qoff(R8), Z10, Z6) \
	Q8_WIDEN(qoff(R8)(BX*1), Z11, Z7)

#define TILE_TOKEN(m, zx, a0, a1, a2, a3) \
	VMOVUPS m, zx \
	VFMADD231PS zx, Z4, a0 \
	VFMADD231PS zx, Z5, a1 \
	VFMADD231PS zx, Z6, a2 \
	VFMADD231PS zx, Z7, a3

#define TILE_HALF(qoff, xoff) \
	TILE_WIDEN(qoff) \
	TILE_TOKEN(xoff(DI), Z0, Z16, Z17, Z18, Z19) \
	TILE_TOKEN(xoff(DI)(DX*1), Z1, Z20, Z21, Z22, Z23) \
	TILE_TOKEN(xoff(R9), Z2, Z24, Z25, Z26, Z27) \
	TILE_TOKEN(xoff(R9)(DX*1), Z3, Z28, Z29, Z30, Z31)

// TILE_HALF3 and TILE_HALF2 are TILE_HALF for three and two tokens.
#define TILE_HALF3(qoff, xoff) \
	TILE_WIDEN(qoff) \
	TILE_TOKEN(xoff(DI), Z0, Z16, Z17, Z18, Z19) \
	TILE_TOKEN(xoff(DI)(DX*1), Z1, Z20, Z21, Z22, Z23) \
	TILE_TOKEN(xoff(R9), Z2, Z24, Z25, Z26, Z27)

#define TILE_HALF2(qoff, xoff) \
	TILE_WIDEN(qoff) \
	TILE_TOKEN(xoff(DI), Z0, Z16, Z17, Z18, Z19) \
	TILE_TOKEN(xoff(DI)(DX*1), Z1, Z20, Z21, Z22, Z23)

// TILE_START, after a tile's arguments are loaded (w in SI, rb in BX, x
// in DI, xStride in DX), points R8 at row 2, R9 at token 2, R11 and R12
// at rows 4 and 6 (the next tile's, prefetched) and clears the
// accumulators.
#define TILE_START \
	LEAQ (SI)(BX*2), R8 \
	LEAQ (DI)(DX*2), R9 \
	LEAQ (R8)(BX*2), R11 \
	LEAQ (R11)(BX*2), R12 \
	ZERO_Z16_Z19 \
	VPXORD Z20, Z20, Z20 \
	VPXORD Z21, Z21, Z21 \
	VPXORD Z22, Z22, Z22 \
	VPXORD Z23, Z23, Z23 \
	VPXORD Z24, Z24, Z24 \
	VPXORD Z25, Z25, Z25 \
	VPXORD Z26, Z26, Z26 \
	VPXORD Z27, Z27, Z27 \
	VPXORD Z28, Z28, Z28 \
	VPXORD Z29, Z29, Z29 \
	VPXORD Z30, Z30, Z30 \
	VPXORD Z31, Z31, Z31

// TILE_BLOCK starts a block (the next tile's prefetch, the four scales);
// TILE_NEXT moves to the next.
#define TILE_BLOCK \
	Q8_PREFETCH_NEXT4 \
	Q8_SCALE((SI), Y8, Z8) \
	Q8_SCALE((SI)(BX*1), Y9, Z9) \
	Q8_SCALE((R8), Y10, Z10) \
	Q8_SCALE((R8)(BX*1), Y11, Z11)

#define TILE_NEXT \
	ADDQ $34, SI \
	ADDQ $34, R8 \
	ADDQ $34, R11 \
	ADDQ $34, R12 \
	ADDQ $128, DI \
	ADDQ $128, R9

// TILE_STORE4 stores the sums of one token's four accumulators at
// (AX), 4(AX), 8(AX), 12(AX), then moves AX to the next token's outputs.
#define TILE_STORE4(z0, y0, z1, y1, z2, y2, z3, y3) \
	HSUM_Z(z0, y0) \
	VMOVSS X0, (AX) \
	HSUM_Z(z1, y1) \
	VMOVSS X0, 4(AX) \
	HSUM_Z(z2, y2) \
	VMOVSS X0, 8(AX) \
	HSUM_Z(z3, y3) \
	VMOVSS X0, 12(AX) \
	ADDQ R10, AX

// func q8TileAVX512(w *byte, rb int, x *float32, xStride, nb int, out *float32, outStride int)
//
// dotQ8F32AVX512 for four rows (w, w+rb, …) by four tokens (x,
// x+xStride, …; strides in bytes) into out[t·outStride/4 + r]: per
// block each row's quants are widened and scaled once and each token's
// activations loaded once, for sixteen FMAs per half block. Every
// (row, token) accumulator sees dotQ8F32AVX512's operations in its
// order, so the results are its bits.
TEXT ·q8TileAVX512(SB), NOSPLIT, $0-56
	MOVQ w+0(FP), SI
	MOVQ rb+8(FP), BX
	MOVQ x+16(FP), DI
	MOVQ xStride+24(FP), DX
	MOVQ nb+32(FP), CX
	TILE_START

tloop:
	TESTQ CX, CX
	JZ tdone
	TILE_BLOCK
	TILE_HALF(2, 0)
	TILE_HALF(18, 64)
	TILE_NEXT
	DECQ CX
	JMP tloop

tdone:
	MOVQ out+40(FP), AX
	MOVQ outStride+48(FP), R10
	TILE_STORE4(Z16, Y16, Z17, Y17, Z18, Y18, Z19, Y19)
	TILE_STORE4(Z20, Y20, Z21, Y21, Z22, Y22, Z23, Y23)
	TILE_STORE4(Z24, Y24, Z25, Y25, Z26, Y26, Z27, Y27)
	TILE_STORE4(Z28, Y28, Z29, Y29, Z30, Y30, Z31, Y31)
	VZEROUPPER
	RET

// func q8Tile4x3AVX512(w *byte, rb int, x *float32, xStride, nb int, out *float32, outStride int)
//
// q8TileAVX512 for three tokens, and q8Tile4x2AVX512 for two: the
// tokens a batch leaves over after its groups of four.
TEXT ·q8Tile4x3AVX512(SB), NOSPLIT, $0-56
	MOVQ w+0(FP), SI
	MOVQ rb+8(FP), BX
	MOVQ x+16(FP), DI
	MOVQ xStride+24(FP), DX
	MOVQ nb+32(FP), CX
	TILE_START

t3loop:
	TESTQ CX, CX
	JZ t3done
	TILE_BLOCK
	TILE_HALF3(2, 0)
	TILE_HALF3(18, 64)
	TILE_NEXT
	DECQ CX
	JMP t3loop

t3done:
	MOVQ out+40(FP), AX
	MOVQ outStride+48(FP), R10
	TILE_STORE4(Z16, Y16, Z17, Y17, Z18, Y18, Z19, Y19)
	TILE_STORE4(Z20, Y20, Z21, Y21, Z22, Y22, Z23, Y23)
	TILE_STORE4(Z24, Y24, Z25, Y25, Z26, Y26, Z27, Y27)
	VZEROUPPER
	RET

// func q8Tile4x2AVX512(w *byte, rb int, x *float32, xStride, nb int, out *float32, outStride int)
TEXT ·q8Tile4x2AVX512(SB), NOSPLIT, $0-56
	MOVQ w+0(FP), SI
	MOVQ rb+8(FP), BX
	MOVQ x+16(FP), DI
	MOVQ xStride+24(FP), DX
	MOVQ nb+32(FP), CX
	TILE_START

t2loop:
	TESTQ CX, CX
	JZ t2done
	TILE_BLOCK
	TILE_HALF2(2, 0)
	TILE_HALF2(18, 64)
	TILE_NEXT
	DECQ CX
	JMP t2loop

t2done:
	MOVQ out+40(FP), AX
	MOVQ outStride+48(FP), R10
	TILE_STORE4(Z16, Y16, Z17, Y17, Z18, Y18, Z19, Y19)
	TILE_STORE4(Z20, Y20, Z21, Y21, Z22, Y22, Z23, Y23)
	VZEROUPPER
	RET

// func dotF32AVX512(a, b *float32, n int) float32
//
// Σ a[i]·b[i] for n a multiple of 16: four accumulators while 64 values
// remain (so the FMAs do not wait on each other), then one.
TEXT ·dotF32AVX512(SB), NOSPLIT, $0-28
	MOVQ a+0(FP), SI
	MOVQ b+8(FP), DI
	MOVQ n+16(FP), CX
	ZERO_Z16_Z19

f32four:
	CMPQ CX, $64
	JLT f32one
	VMOVUPS (SI), Z2
	VMOVUPS 64(SI), Z3
	VMOVUPS 128(SI), Z4
	VMOVUPS 192(SI), Z5
	FMA4_Z16_Z19
	ADDQ $256, SI
	ADDQ $256, DI
	SUBQ $64, CX
	JMP f32four

f32one:
	CMPQ CX, $16
	JLT f32done
	VMOVUPS (SI), Z2
	VFMADD231PS (DI), Z2, Z16
	ADDQ $64, SI
	ADDQ $64, DI
	SUBQ $16, CX
	JMP f32one

f32done:
	HSUM_Z16_Z19
	VMOVSS X0, ret+24(FP)
	VZEROUPPER
	RET

// func axpyAVX512(y *float32, a float32, x *float32, n int)
//
// y[i] += a·x[i] for n a multiple of 16.
TEXT ·axpyAVX512(SB), NOSPLIT, $0-32
	MOVQ y+0(FP), DI
	VBROADCASTSS a+8(FP), Z16
	MOVQ x+16(FP), SI
	MOVQ n+24(FP), CX

axloop:
	CMPQ CX, $16
	JLT axdone
	VMOVUPS (DI), Z17
	VFMADD231PS (SI), Z16, Z17
	VMOVUPS Z17, (DI)
	ADDQ $64, SI
	ADDQ $64, DI
	SUBQ $16, CX
	JMP axloop

axdone:
	VZEROUPPER
	RET

// func dotRowsAVX512(out, q, k *float32, stride, m, n int)
//
// out[j] = Σ_{i<n} q[i]·k[j·stride/4+i] for j < m (stride in bytes, n a
// multiple of 16): one query against m keys of a paged block. Per key,
// 64 columns at a time into four accumulators (a head of 64 is one
// step of four independent FMAs), then 16 at a time.
TEXT ·dotRowsAVX512(SB), NOSPLIT, $0-48
	MOVQ out+0(FP), DX
	MOVQ q+8(FP), R8
	MOVQ k+16(FP), R9
	MOVQ stride+24(FP), BX
	MOVQ m+32(FP), R10
	MOVQ n+40(FP), R11

zdrrow:
	TESTQ R10, R10
	JZ zdrdone
	MOVQ R8, SI
	MOVQ R9, DI
	MOVQ R11, CX
	ZERO_Z16_Z19

zdrfour:
	CMPQ CX, $64
	JLT zdrone
	VMOVUPS (SI), Z2
	VMOVUPS 64(SI), Z3
	VMOVUPS 128(SI), Z4
	VMOVUPS 192(SI), Z5
	FMA4_Z16_Z19
	ADDQ $256, SI
	ADDQ $256, DI
	SUBQ $64, CX
	JMP zdrfour

zdrone:
	CMPQ CX, $16
	JLT zdrsum
	VMOVUPS (SI), Z2
	VFMADD231PS (DI), Z2, Z16
	ADDQ $64, SI
	ADDQ $64, DI
	SUBQ $16, CX
	JMP zdrone

zdrsum:
	HSUM_Z16_Z19
	VMOVSS X0, (DX)
	ADDQ $4, DX
	ADDQ BX, R9
	DECQ R10
	JMP zdrrow

zdrdone:
	VZEROUPPER
	RET

// func axpyRowsAVX512(y, p, v *float32, stride, m, n int)
//
// y[i] += Σ_{j<m} p[j]·v[j·stride/4+i] for i < n (stride in bytes, n a
// multiple of 16): the probability-weighted values of a paged block.
// 64 outputs at a time stay in four registers across the m rows (one
// broadcast of p[j] for four independent FMAs), then 16 at a time.
TEXT ·axpyRowsAVX512(SB), NOSPLIT, $0-48
	MOVQ y+0(FP), DI
	MOVQ p+8(FP), R8
	MOVQ v+16(FP), R9
	MOVQ stride+24(FP), BX
	MOVQ m+32(FP), R10
	MOVQ n+40(FP), R11

zarfour:
	CMPQ R11, $64
	JLT zarone
	VMOVUPS (DI), Z16
	VMOVUPS 64(DI), Z17
	VMOVUPS 128(DI), Z18
	VMOVUPS 192(DI), Z19
	MOVQ R8, DX
	MOVQ R9, SI
	MOVQ R10, CX

zarfourrow:
	TESTQ CX, CX
	JZ zarfourstore
	VBROADCASTSS (DX), Z2
	VFMADD231PS (SI), Z2, Z16
	VFMADD231PS 64(SI), Z2, Z17
	VFMADD231PS 128(SI), Z2, Z18
	VFMADD231PS 192(SI), Z2, Z19
	ADDQ $4, DX
	ADDQ BX, SI
	DECQ CX
	JMP zarfourrow

zarfourstore:
	VMOVUPS Z16, (DI)
	VMOVUPS Z17, 64(DI)
	VMOVUPS Z18, 128(DI)
	VMOVUPS Z19, 192(DI)
	ADDQ $256, DI
	ADDQ $256, R9
	SUBQ $64, R11
	JMP zarfour

zarone:
	CMPQ R11, $16
	JLT zardone
	VMOVUPS (DI), Z16
	MOVQ R8, DX
	MOVQ R9, SI
	MOVQ R10, CX

zaronerow:
	TESTQ CX, CX
	JZ zaronestore
	VBROADCASTSS (DX), Z2
	VFMADD231PS (SI), Z2, Z16
	ADDQ $4, DX
	ADDQ BX, SI
	DECQ CX
	JMP zaronerow

zaronestore:
	VMOVUPS Z16, (DI)
	ADDQ $64, DI
	ADDQ $64, R9
	SUBQ $16, R11
	JMP zarone

zardone:
	VZEROUPPER
	RET

// Q4_K (simd_avx512_amd64.go's dotQ4KAVX512, dotQ4Kx4AVX512). A
// super-block is 144 bytes: f16 d at 0, f16 dmin at 2, the 6-bit scales
// and mins of its eight sub-blocks in the 12 bytes at 4, then four groups
// of 32 quant bytes at 16, group g holding sub-block 2g in its low
// nibbles and 2g+1 in its high ones. Per token the arithmetic is: per
// sub-block, the 32 quants times the activations into 16 lanes (one
// multiply, one FMA), then times the step d·sc into the token's 16-lane
// accumulator (FMA); the offsets dmin·m times the activations' sums
// subtracted from an 8-lane accumulator; at the end the 16 lanes folded
// to 8, the offsets added, and FOLD_Y0. The one-token and four-token
// dots do exactly this, so their results are the same bits.

DATA q4kLow6<>+0(SB)/8, $0x3f3f3f3f3f3f3f3f
DATA q4kLow6<>+8(SB)/8, $0x3f3f3f3f3f3f3f3f
GLOBL q4kLow6<>(SB), RODATA|NOPTR, $16
DATA q4kTop2<>+0(SB)/8, $0x3030303030303030
DATA q4kTop2<>+8(SB)/8, $0x3030303030303030
GLOBL q4kTop2<>(SB), RODATA|NOPTR, $16
DATA q4kLow4<>+0(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA q4kLow4<>+8(SB)/8, $0x0f0f0f0f0f0f0f0f
GLOBL q4kLow4<>(SB), RODATA|NOPTR, $16
DATA q4kShift<>+0(SB)/8, $0x0000000400000000
DATA q4kShift<>+8(SB)/8, $0x0000000400000000
GLOBL q4kShift<>(SB), RODATA|NOPTR, $16

// Q4K_DECODE decodes the scales of the super-block at SI: the eight
// steps d·sc[j] to steps-32(SP), the eight offsets dmin·m[j] to Y3 (X0-X4
// scratch). With the 12 bytes as words A, B, C: scales 0-3 are A's
// bytes' low six bits, mins 0-3 B's; scales 4-7 are C's low nibbles
// under A's top two bits, mins 4-7 C's high nibbles under B's. The words
// are taken side by side in one XMM register: dword 0 builds the scales,
// dword 1 the mins.
#define Q4K_DECODE \
	VMOVDQU 4(SI), X0 \
	VPAND q4kLow6<>(SB), X0, X1 \
	VPSRLD $2, X0, X2 \
	VPAND q4kTop2<>(SB), X2, X2 \
	VPSHUFD $0xAA, X0, X3 \
	VPSRLVD q4kShift<>(SB), X3, X3 \
	VPAND q4kLow4<>(SB), X3, X3 \
	VPOR X2, X3, X3 \
	VPUNPCKLDQ X3, X1, X1 \
	VPMOVZXBD X1, Y2 \
	VCVTDQ2PS Y2, Y2 \
	VPBROADCASTW (SI), X4 \
	VCVTPH2PS X4, Y4 \
	VMULPS Y4, Y2, Y2 \
	VMOVUPS Y2, steps-32(SP) \
	VPSRLDQ $8, X1, X1 \
	VPMOVZXBD X1, Y3 \
	VCVTDQ2PS Y3, Y3 \
	VPBROADCASTW 2(SI), X4 \
	VCVTPH2PS X4, Y4 \
	VMULPS Y4, Y3, Y3

// Q4K_GROUP_WIDEN widens group g's 32 quant bytes to float32: low
// nibbles (sub-block 2g) in Z3, Z4, high ones (2g+1) in Z5, Z6 (Z15:
// dword 15s), and broadcasts the two sub-blocks' steps to Z7, Z9.
#define Q4K_GROUP_WIDEN(g) \
	VPMOVZXBD 16+32*g(SI), Z3 \
	VPMOVZXBD 32+32*g(SI), Z4 \
	VPSRLD $4, Z3, Z5 \
	VPSRLD $4, Z4, Z6 \
	VPANDD Z15, Z3, Z3 \
	VPANDD Z15, Z4, Z4 \
	VCVTDQ2PS Z3, Z3 \
	VCVTDQ2PS Z4, Z4 \
	VCVTDQ2PS Z5, Z5 \
	VCVTDQ2PS Z6, Z6 \
	VBROADCASTSS steps-32+8*g(SP), Z7 \
	VBROADCASTSS steps-28+8*g(SP), Z9

// Q4K_TOKEN adds the widened group of one token (its 64 activations at
// m) into acc (t0, t1 scratch).
#define Q4K_TOKEN(m, t0, t1, acc) \
	VMULPS m, Z3, t0 \
	VFMADD231PS 64+m, Z4, t0 \
	VFMADD231PS t0, Z7, acc \
	VMULPS 128+m, Z5, t1 \
	VFMADD231PS 192+m, Z6, t1 \
	VFMADD231PS t1, Z9, acc

// Q4K_CONSTS sets Z15 to dword 15s.
#define Q4K_CONSTS \
	MOVL $15, AX \
	VPBROADCASTD AX, Z15

// PREFETCH_Q4K_ROW prefetches the block 2 KiB ahead in the row (one
// row streams from memory).
#define PREFETCH_Q4K_ROW \
	PREFETCHT0 2048(SI) \
	PREFETCHT0 2112(SI) \
	PREFETCHT0 2176(SI)

// Q4K_SUM folds acc's 16 lanes to 8, adds the offsets' accumulator macc
// (ya, ym: their lower halves) and sums into X0.
#define Q4K_SUM(acc, ya, ym) \
	VEXTRACTF64X4 $1, acc, Y1 \
	VADDPS Y1, ya, Y0 \
	VADDPS ym, Y0, Y0 \
	FOLD_Y0

// func dotQ4KAVX512(w *byte, x, xs *float32, nb int) float32
TEXT ·dotQ4KAVX512(SB), NOSPLIT, $32-36
	MOVQ w+0(FP), SI
	MOVQ x+8(FP), DI
	MOVQ xs+16(FP), DX
	MOVQ nb+24(FP), CX
	Q4K_CONSTS
	VPXORD Z16, Z16, Z16
	VPXORD Z20, Z20, Z20

kz1loop:
	TESTQ CX, CX
	JZ kz1done
	PREFETCH_Q4K_ROW
	Q4K_DECODE
	VFNMADD231PS (DX), Y3, Y20
	Q4K_GROUP_WIDEN(0)
	Q4K_TOKEN(256*0(DI), Z8, Z10, Z16)
	Q4K_GROUP_WIDEN(1)
	Q4K_TOKEN(256*1(DI), Z8, Z10, Z16)
	Q4K_GROUP_WIDEN(2)
	Q4K_TOKEN(256*2(DI), Z8, Z10, Z16)
	Q4K_GROUP_WIDEN(3)
	Q4K_TOKEN(256*3(DI), Z8, Z10, Z16)
	ADDQ $144, SI
	ADDQ $1024, DI
	ADDQ $32, DX
	DECQ CX
	JMP kz1loop

kz1done:
	Q4K_SUM(Z16, Y16, Y20)
	VMOVSS X0, ret+32(FP)
	VZEROUPPER
	RET

// Q4K_X4_GROUP adds group g of the four tokens (activations at DI,
// DI+BX, R8, R8+BX) into Z16-Z19.
#define Q4K_X4_GROUP(g) \
	Q4K_GROUP_WIDEN(g) \
	Q4K_TOKEN(256*g(DI), Z8, Z10, Z16) \
	Q4K_TOKEN(256*g(DI)(BX*1), Z11, Z12, Z17) \
	Q4K_TOKEN(256*g(R8), Z13, Z14, Z18) \
	Q4K_TOKEN(256*g(R8)(BX*1), Z24, Z25, Z19)

// Q4K_STORE stores one token's sum at (AX) and moves AX to the next.
#define Q4K_STORE(acc, ya, ym) \
	Q4K_SUM(acc, ya, ym) \
	VMOVSS X0, (AX) \
	ADDQ R11, AX

// func dotQ4Kx4AVX512(w *byte, x, xs *float32, stride, xsStride, nb int, out *float32, outStride int)
//
// dotQ4KAVX512 of one row against four tokens (activations at x,
// x+stride, …, sums at xs, xs+xsStride, …, strides in bytes) into out,
// out+outStride, …: each block's scales are decoded and its quants
// widened once for the four.
TEXT ·dotQ4Kx4AVX512(SB), NOSPLIT, $32-64
	MOVQ w+0(FP), SI
	MOVQ x+8(FP), DI
	MOVQ xs+16(FP), DX
	MOVQ stride+24(FP), BX
	MOVQ xsStride+32(FP), R9
	MOVQ nb+40(FP), CX
	LEAQ (DI)(BX*2), R8 // token 2's activations
	Q4K_CONSTS
	ZERO_Z16_Z19
	VPXORD Z20, Z20, Z20
	VPXORD Z21, Z21, Z21
	VPXORD Z22, Z22, Z22
	VPXORD Z23, Z23, Z23

kz4loop:
	TESTQ CX, CX
	JZ kz4done
	PREFETCH_Q4K_ROW
	Q4K_DECODE
	LEAQ (DX)(R9*2), R10 // token 2's sums
	VFNMADD231PS (DX), Y3, Y20
	VFNMADD231PS (DX)(R9*1), Y3, Y21
	VFNMADD231PS (R10), Y3, Y22
	VFNMADD231PS (R10)(R9*1), Y3, Y23
	Q4K_X4_GROUP(0)
	Q4K_X4_GROUP(1)
	Q4K_X4_GROUP(2)
	Q4K_X4_GROUP(3)
	ADDQ $144, SI
	ADDQ $1024, DI
	ADDQ $1024, R8
	ADDQ $32, DX
	DECQ CX
	JMP kz4loop

kz4done:
	MOVQ out+48(FP), AX
	MOVQ outStride+56(FP), R11
	Q4K_STORE(Z16, Y16, Y20)
	Q4K_STORE(Z17, Y17, Y21)
	Q4K_STORE(Z18, Y18, Y22)
	Q4K_STORE(Z19, Y19, Y23)
	VZEROUPPER
	RET
