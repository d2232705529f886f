//go:build !purego

#include "textflag.h"

// F16 matmul shapes (f16mm_amd64.go): for AVX2 and for AVX-512, one row
// by one token (dotF16*), four rows by one token (dotF16R4*) and a
// register tile of rows by tokens (f16Tile*). Every (row, token) is one
// chain of float32 lanes (8 with AVX2, 16 with AVX-512) in column order:
// per lane-width of columns the halves widened by VCVTPH2PS (exact) and
// one FMA with the activations. The lanes are then added in one tree:
// with AVX-512 first lane i and i+8, then (both sets) lane i and i+4,
// then neighbours and neighbours' sums, ((v0+v1)+(v2+v3)), which is what
// VHADDPS gives for one accumulator and, in one vector, for four. The
// shapes differ only in which loads and widenings they share, so each
// result has the same bits in all three, and a token's result does not
// depend on the batch it came in.
//
// None of them prefetches: on the 2-core Zen 3 VM, prefetching the rows
// of the next call (a cache line of each per 32 columns, as the Q8_0
// four-row dot does) made a streamed 32000 × 2048 matmul slower: medians
// of 0.19 against 0.16 ns per weight for one token and 0.057 against
// 0.049 for eight (BenchmarkMatMulF16/Big, five rounds each, alternated).
// The AVX-512 shapes have not been timed with it.

// F16_FOLD_Y adds the upper 128 bits of y to x, its lower half (X0
// scratch).
#define F16_FOLD_Y(y, x) \
	VEXTRACTF128 $1, y, X0 \
	VADDPS X0, x, x

// F16_SUMS4 leaves in xa the lane sums of the four folded accumulators
// xa, xb, xc, xd, in that order (xc clobbered).
#define F16_SUMS4(xa, xb, xc, xd) \
	VHADDPS xb, xa, xa \
	VHADDPS xd, xc, xc \
	VHADDPS xc, xa, xa

// F16_SUM1 leaves the lane sum of the folded accumulator x in its lowest
// lane, by F16_SUMS4's tree.
#define F16_SUM1(x) \
	VHADDPS x, x, x \
	VHADDPS x, x, x

// F16_STEPS splits the n columns in CX into AX steps of 32 (a cache
// line of each row's halves) and CX slices of 2^k columns after them (k
// is 3 for 8 lanes, 4 for 16), and jumps to rest when there is no whole
// step.
#define F16_STEPS(k, rest) \
	MOVQ CX, AX \
	SHRQ $5, AX \
	ANDQ $31, CX \
	SHRQ $k, CX \
	TESTQ AX, AX \
	JZ rest

// F16_R4_SLICE multiplies a slice of the four rows at SI, SI+DX, R8,
// R8+DX (halves at hb·s bytes in, widened into w0-w3) by the token's
// activations (at xb·s bytes from DI, loaded to x) into a0-a3.
#define F16_R4_SLICE(s, hb, xb, x, w0, w1, w2, w3, a0, a1, a2, a3) \
	VMOVUPS xb*s(DI), x \
	VCVTPH2PS hb*s(SI), w0 \
	VCVTPH2PS hb*s(SI)(DX*1), w1 \
	VCVTPH2PS hb*s(R8), w2 \
	VCVTPH2PS hb*s(R8)(DX*1), w3 \
	VFMADD231PS x, w0, a0 \
	VFMADD231PS x, w1, a1 \
	VFMADD231PS x, w2, a2 \
	VFMADD231PS x, w3, a3

// F16_R4_NEXT moves the four rows' pointers (SI, R8) a step of 32
// columns on, and the activations' DI.
#define F16_R4_NEXT \
	ADDQ $64, SI \
	ADDQ $64, R8 \
	ADDQ $128, DI

// func dotF16AVX2(w *byte, x *float32, n int) float32
//
// Σ f16(w[i])·x[i] for n a multiple of 8, one chain: the matmuls use it
// only for rows left over from the other shapes, so it does not unroll
// or prefetch.
TEXT ·dotF16AVX2(SB), NOSPLIT, $0-28
	MOVQ w+0(FP), SI
	MOVQ x+8(FP), DI
	MOVQ n+16(FP), CX
	VXORPS Y1, Y1, Y1
	SHRQ $3, CX
	JZ d1done

d1loop:
	VCVTPH2PS (SI), Y2
	VFMADD231PS (DI), Y2, Y1
	ADDQ $16, SI
	ADDQ $32, DI
	DECQ CX
	JNZ d1loop

d1done:
	F16_FOLD_Y(Y1, X1)
	F16_SUM1(X1)
	VZEROUPPER
	MOVSS X1, ret+24(FP)
	RET

// func dotF16R4AVX2(w *byte, rb int, x *float32, n int, out *[4]float32)
//
// dotF16AVX2 of four rows (w, w+rb, …) against one token into out[0..3]:
// four independent chains in Y12-Y15, each activation load serving the
// four rows; 32 columns (a cache line of each row) per step, then 8 at
// a time.
TEXT ·dotF16R4AVX2(SB), NOSPLIT, $0-40
	MOVQ w+0(FP), SI
	MOVQ rb+8(FP), DX
	MOVQ x+16(FP), DI
	MOVQ n+24(FP), CX
	LEAQ (SI)(DX*2), R8 // rows 2 and 3
	VXORPS Y12, Y12, Y12
	VXORPS Y13, Y13, Y13
	VXORPS Y14, Y14, Y14
	VXORPS Y15, Y15, Y15
	F16_STEPS(3, r4rest)

#define R4_SLICE(s) F16_R4_SLICE(s, 16, 32, Y0, Y4, Y5, Y6, Y7, Y12, Y13, Y14, Y15)

r4line:
	R4_SLICE(0)
	R4_SLICE(1)
	R4_SLICE(2)
	R4_SLICE(3)
	F16_R4_NEXT
	DECQ AX
	JNZ r4line

r4rest:
	TESTQ CX, CX
	JZ r4done
	R4_SLICE(0)
	ADDQ $16, SI
	ADDQ $16, R8
	ADDQ $32, DI
	DECQ CX
	JMP r4rest

r4done:
	MOVQ out+32(FP), DX
	F16_FOLD_Y(Y12, X12)
	F16_FOLD_Y(Y13, X13)
	F16_FOLD_Y(Y14, X14)
	F16_FOLD_Y(Y15, X15)
	F16_SUMS4(X12, X13, X14, X15)
	VMOVUPS X12, (DX)
	VZEROUPPER
	RET

// func f16Tile2x4AVX2(w *byte, rb int, x *float32, xStride, n int, out *float32, outStride int)
//
// dotF16AVX2 of two rows (w, w+rb) by four tokens (x, x+xStride, …;
// strides in bytes) into out[t·outStride/4 + r]: each widened slice of
// weights serves four tokens and each load of activations two rows.
// Registers: eight chains (token t, row r in Y8+2t+r), two widened
// slices, two slices of activations.
TEXT ·f16Tile2x4AVX2(SB), NOSPLIT, $0-56
	MOVQ w+0(FP), SI
	MOVQ rb+8(FP), DX
	MOVQ x+16(FP), DI
	MOVQ xStride+24(FP), BX
	MOVQ n+32(FP), CX
	LEAQ (DI)(BX*2), R8 // tokens 2 and 3
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	VXORPS Y12, Y12, Y12
	VXORPS Y13, Y13, Y13
	VXORPS Y14, Y14, Y14
	VXORPS Y15, Y15, Y15
	F16_STEPS(3, t24rest)

#define T24_TOKEN(m, xr, a0, a1) \
	VMOVUPS m, xr \
	VFMADD231PS xr, Y0, a0 \
	VFMADD231PS xr, Y1, a1

#define T24_SLICE(s) \
	VCVTPH2PS 16*s(SI), Y0 \
	VCVTPH2PS 16*s(SI)(DX*1), Y1 \
	T24_TOKEN(32*s(DI), Y2, Y8, Y9) \
	T24_TOKEN(32*s(DI)(BX*1), Y3, Y10, Y11) \
	T24_TOKEN(32*s(R8), Y2, Y12, Y13) \
	T24_TOKEN(32*s(R8)(BX*1), Y3, Y14, Y15)

t24line:
	T24_SLICE(0)
	T24_SLICE(1)
	T24_SLICE(2)
	T24_SLICE(3)
	ADDQ $64, SI
	ADDQ $128, DI
	ADDQ $128, R8
	DECQ AX
	JNZ t24line

t24rest:
	TESTQ CX, CX
	JZ t24done
	T24_SLICE(0)
	ADDQ $16, SI
	ADDQ $32, DI
	ADDQ $32, R8
	DECQ CX
	JMP t24rest

t24done:
	MOVQ out+40(FP), DX
	MOVQ outStride+48(FP), BX
	F16_FOLD_Y(Y8, X8)
	F16_FOLD_Y(Y9, X9)
	F16_FOLD_Y(Y10, X10)
	F16_FOLD_Y(Y11, X11)
	F16_SUMS4(X8, X9, X10, X11) // tokens 0 and 1, rows 0 and 1
	VMOVLPS X8, (DX)
	VMOVHPS X8, (DX)(BX*1)
	LEAQ (DX)(BX*2), DX
	F16_FOLD_Y(Y12, X12)
	F16_FOLD_Y(Y13, X13)
	F16_FOLD_Y(Y14, X14)
	F16_FOLD_Y(Y15, X15)
	F16_SUMS4(X12, X13, X14, X15) // tokens 2 and 3
	VMOVLPS X12, (DX)
	VMOVHPS X12, (DX)(BX*1)
	VZEROUPPER
	RET

// AVX-512: the chains in Z16-Z31, which have no VEX encoding, so each
// is folded to 256 bits into one of Y2-Y5 and from there as AVX2's
// (VHADDPS has no EVEX form).

// F16_FOLD_Z adds the upper 256 bits of z (y: its lower half) to its
// lower ones into yd, then folds yd into xd (Y1, X0 scratch).
#define F16_FOLD_Z(z, y, yd, xd) \
	VEXTRACTF64X4 $1, z, Y1 \
	VADDPS Y1, y, yd \
	F16_FOLD_Y(yd, xd)

// F16_SUMS4_Z leaves in X2 the lane sums of four accumulators.
#define F16_SUMS4_Z(z0, y0, z1, y1, z2, y2, z3, y3) \
	F16_FOLD_Z(z0, y0, Y2, X2) \
	F16_FOLD_Z(z1, y1, Y3, X3) \
	F16_FOLD_Z(z2, y2, Y4, X4) \
	F16_FOLD_Z(z3, y3, Y5, X5) \
	F16_SUMS4(X2, X3, X4, X5)

// func dotF16AVX512(w *byte, x *float32, n int) float32
//
// dotF16AVX2 in 16 lanes, for n a multiple of 16.
TEXT ·dotF16AVX512(SB), NOSPLIT, $0-28
	MOVQ w+0(FP), SI
	MOVQ x+8(FP), DI
	MOVQ n+16(FP), CX
	VPXORD Z16, Z16, Z16
	SHRQ $4, CX
	JZ z1done

z1loop:
	VCVTPH2PS (SI), Z4
	VFMADD231PS (DI), Z4, Z16
	ADDQ $32, SI
	ADDQ $64, DI
	DECQ CX
	JNZ z1loop

z1done:
	F16_FOLD_Z(Z16, Y16, Y2, X2)
	F16_SUM1(X2)
	VZEROUPPER
	MOVSS X2, ret+24(FP)
	RET

// func dotF16R4AVX512(w *byte, rb int, x *float32, n int, out *[4]float32)
//
// dotF16R4AVX2 in 16 lanes (chains in Z16-Z19), for n a multiple of 16.
TEXT ·dotF16R4AVX512(SB), NOSPLIT, $0-40
	MOVQ w+0(FP), SI
	MOVQ rb+8(FP), DX
	MOVQ x+16(FP), DI
	MOVQ n+24(FP), CX
	LEAQ (SI)(DX*2), R8 // rows 2 and 3
	VPXORD Z16, Z16, Z16
	VPXORD Z17, Z17, Z17
	VPXORD Z18, Z18, Z18
	VPXORD Z19, Z19, Z19
	F16_STEPS(4, zr4rest)

#define ZR4_SLICE(s) F16_R4_SLICE(s, 32, 64, Z0, Z4, Z5, Z6, Z7, Z16, Z17, Z18, Z19)

zr4line:
	ZR4_SLICE(0)
	ZR4_SLICE(1)
	F16_R4_NEXT
	DECQ AX
	JNZ zr4line

zr4rest:
	TESTQ CX, CX
	JZ zr4done
	ZR4_SLICE(0)

zr4done:
	MOVQ out+32(FP), DX
	F16_SUMS4_Z(Z16, Y16, Z17, Y17, Z18, Y18, Z19, Y19)
	VMOVUPS X2, (DX)
	VZEROUPPER
	RET

// func f16Tile4x4AVX512(w *byte, rb int, x *float32, xStride, n int, out *float32, outStride int)
//
// dotF16AVX512 of four rows (w, w+rb, …) by four tokens (x, x+xStride,
// …; strides in bytes) into out[t·outStride/4 + r]: per 16 columns
// each row's halves widened once (Z4-Z7) and each token's activations
// loaded once (Z0-Z3) for sixteen FMAs, token t and row r in Z16+4t+r
// (24 of the 32 registers).
TEXT ·f16Tile4x4AVX512(SB), NOSPLIT, $0-56
	MOVQ w+0(FP), SI
	MOVQ rb+8(FP), DX
	MOVQ x+16(FP), DI
	MOVQ xStride+24(FP), BX
	MOVQ n+32(FP), CX
	LEAQ (SI)(DX*2), R8  // rows 2 and 3
	LEAQ (DI)(BX*2), R11 // tokens 2 and 3
	VPXORD Z16, Z16, Z16
	VPXORD Z17, Z17, Z17
	VPXORD Z18, Z18, Z18
	VPXORD Z19, Z19, Z19
	VPXORD Z20, Z20, Z20
	VPXORD Z21, Z21, Z21
	VPXORD Z22, Z22, Z22
	VPXORD Z23, Z23, Z23
	VPXORD Z24, Z24, Z24
	VPXORD Z25, Z25, Z25
	VPXORD Z26, Z26, Z26
	VPXORD Z27, Z27, Z27
	VPXORD Z28, Z28, Z28
	VPXORD Z29, Z29, Z29
	VPXORD Z30, Z30, Z30
	VPXORD Z31, Z31, Z31
	F16_STEPS(4, zt44rest)

#define ZT44_TOKEN(xz, a0, a1, a2, a3) \
	VFMADD231PS xz, Z4, a0 \
	VFMADD231PS xz, Z5, a1 \
	VFMADD231PS xz, Z6, a2 \
	VFMADD231PS xz, Z7, a3

#define ZT44_SLICE(s) \
	VCVTPH2PS 32*s(SI), Z4 \
	VCVTPH2PS 32*s(SI)(DX*1), Z5 \
	VCVTPH2PS 32*s(R8), Z6 \
	VCVTPH2PS 32*s(R8)(DX*1), Z7 \
	VMOVUPS 64*s(DI), Z0 \
	VMOVUPS 64*s(DI)(BX*1), Z1 \
	VMOVUPS 64*s(R11), Z2 \
	VMOVUPS 64*s(R11)(BX*1), Z3 \
	ZT44_TOKEN(Z0, Z16, Z17, Z18, Z19) \
	ZT44_TOKEN(Z1, Z20, Z21, Z22, Z23) \
	ZT44_TOKEN(Z2, Z24, Z25, Z26, Z27) \
	ZT44_TOKEN(Z3, Z28, Z29, Z30, Z31)

zt44line:
	ZT44_SLICE(0)
	ZT44_SLICE(1)
	F16_R4_NEXT
	ADDQ $128, R11
	DECQ AX
	JNZ zt44line

zt44rest:
	TESTQ CX, CX
	JZ zt44done
	ZT44_SLICE(0)

zt44done:
	MOVQ out+40(FP), AX
	MOVQ outStride+48(FP), BX
	F16_SUMS4_Z(Z16, Y16, Z17, Y17, Z18, Y18, Z19, Y19)
	VMOVUPS X2, (AX)
	ADDQ BX, AX
	F16_SUMS4_Z(Z20, Y20, Z21, Y21, Z22, Y22, Z23, Y23)
	VMOVUPS X2, (AX)
	ADDQ BX, AX
	F16_SUMS4_Z(Z24, Y24, Z25, Y25, Z26, Y26, Z27, Y27)
	VMOVUPS X2, (AX)
	ADDQ BX, AX
	F16_SUMS4_Z(Z28, Y28, Z29, Y29, Z30, Y30, Z31, Y31)
	VMOVUPS X2, (AX)
	VZEROUPPER
	RET
