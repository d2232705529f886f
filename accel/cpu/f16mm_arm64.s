//go:build !purego

#include "textflag.h"

// F16 matmul shapes (f16mm_arm64.go): one row by one token (dotF16NEON),
// four rows by one token (dotF16R4NEON) and four rows by four tokens
// (f16Tile4x4NEON), with one arithmetic: each (row, token) is one 4-lane
// chain in column order, per eight columns the halves widened by FCVTL
// and FCVTL2 (exact) and two FMLAs with the activations, the low four
// columns first; the lanes added at the end as (l0+l1)+(l2+l3), FADDPs.
// So each result has the same bits in all three shapes.
//
// Go's assembler has no FCVTL, FCVTL2 or FADDP on vectors: WORDs built
// from register numbers (encodings checked with llvm-mc).

#define FCVTL4S(d, n) WORD $(0x0e217800 | ((n)<<5) | (d)) /* fcvtl  vd.4s, vn.4h */
#define FCVTL24S(d, n) WORD $(0x4e217800 | ((n)<<5) | (d)) /* fcvtl2 vd.4s, vn.8h */
#define FADDP4S(d, n, m) WORD $(0x6e20d400 | ((m)<<16) | ((n)<<5) | (d)) /* faddp vd.4s, vn.4s, vm.4s */
#define FADDP2S(d, n) WORD $(0x7e30d800 | ((n)<<5) | (d)) /* faddp sd, vn.2s */

// F16_SUMS4(a, b, c, d) leaves in Va the lane sums of the four
// accumulators, in that order (Vc clobbered).
#define F16_SUMS4(a, b, c, d) \
	FADDP4S(a, a, b) \
	FADDP4S(c, c, d) \
	FADDP4S(a, a, c)

// F16_WIDEN loads eight halves of each of the four rows at R0-R3
// (advancing them 16 bytes) and widens them: row r's low four columns
// in Vr, its high four in V(4+r).
#define F16_WIDEN \
	VLD1.P 16(R0), [V0.B16] \
	VLD1.P 16(R1), [V1.B16] \
	VLD1.P 16(R2), [V2.B16] \
	VLD1.P 16(R3), [V3.B16] \
	FCVTL24S(4, 0) \
	FCVTL24S(5, 1) \
	FCVTL24S(6, 2) \
	FCVTL24S(7, 3) \
	FCVTL4S(0, 0) \
	FCVTL4S(1, 1) \
	FCVTL4S(2, 2) \
	FCVTL4S(3, 3)

// func dotF16NEON(w *byte, x *float32, n int) float32
//
// Σ f16(w[i])·x[i] for n a multiple of 8, one chain in V16: the
// matmuls use it only for rows left over from the other shapes.
TEXT ·dotF16NEON(SB), NOSPLIT, $0-28
	MOVD w+0(FP), R0
	MOVD x+8(FP), R1
	MOVD n+16(FP), R2
	VEOR V16.B16, V16.B16, V16.B16
	LSR $3, R2
	CBZ R2, d1done

d1loop:
	VLD1.P 16(R0), [V0.B16]
	FCVTL24S(1, 0)
	FCVTL4S(0, 0)
	VLD1.P 32(R1), [V2.S4, V3.S4]
	VFMLA V0.S4, V2.S4, V16.S4
	VFMLA V1.S4, V3.S4, V16.S4
	SUB $1, R2
	CBNZ R2, d1loop

d1done:
	FADDP4S(16, 16, 16)
	FADDP2S(0, 16)
	FMOVS F0, ret+24(FP)
	RET

// func dotF16R4NEON(w *byte, rb int, x *float32, n int, out *[4]float32)
//
// dotF16NEON of four rows (w, w+rb, …) against one token into
// out[0..3]: four chains in V28-V31, each pair of activation vectors
// (V8, V9) loaded once for the four rows.
TEXT ·dotF16R4NEON(SB), NOSPLIT, $0-40
	MOVD w+0(FP), R0
	MOVD rb+8(FP), R9
	MOVD x+16(FP), R4
	MOVD n+24(FP), R5
	ADD R9, R0, R1
	ADD R9, R1, R2
	ADD R9, R2, R3
	VEOR V28.B16, V28.B16, V28.B16
	VEOR V29.B16, V29.B16, V29.B16
	VEOR V30.B16, V30.B16, V30.B16
	VEOR V31.B16, V31.B16, V31.B16
	LSR $3, R5
	CBZ R5, r4done

r4loop:
	F16_WIDEN
	VLD1.P 32(R4), [V8.S4, V9.S4]
	VFMLA V0.S4, V8.S4, V28.S4
	VFMLA V1.S4, V8.S4, V29.S4
	VFMLA V2.S4, V8.S4, V30.S4
	VFMLA V3.S4, V8.S4, V31.S4
	VFMLA V4.S4, V9.S4, V28.S4
	VFMLA V5.S4, V9.S4, V29.S4
	VFMLA V6.S4, V9.S4, V30.S4
	VFMLA V7.S4, V9.S4, V31.S4
	SUB $1, R5
	CBNZ R5, r4loop

r4done:
	MOVD out+32(FP), R10
	F16_SUMS4(28, 29, 30, 31)
	VST1 [V28.S4], (R10)
	RET

// T44_COLS multiply-adds four columns of the four rows (in V(w)..V(w+3))
// by the same columns of the four tokens (in a0..a3) into the sixteen
// chains, token t and row r in V(16+4t+r).
#define T44_COLS(w0, w1, w2, w3, a0, a1, a2, a3) \
	VFMLA w0, a0, V16.S4 \
	VFMLA w1, a0, V17.S4 \
	VFMLA w2, a0, V18.S4 \
	VFMLA w3, a0, V19.S4 \
	VFMLA w0, a1, V20.S4 \
	VFMLA w1, a1, V21.S4 \
	VFMLA w2, a1, V22.S4 \
	VFMLA w3, a1, V23.S4 \
	VFMLA w0, a2, V24.S4 \
	VFMLA w1, a2, V25.S4 \
	VFMLA w2, a2, V26.S4 \
	VFMLA w3, a2, V27.S4 \
	VFMLA w0, a3, V28.S4 \
	VFMLA w1, a3, V29.S4 \
	VFMLA w2, a3, V30.S4 \
	VFMLA w3, a3, V31.S4

// func f16Tile4x4NEON(w *byte, rb int, x *float32, xStride, n int, out *float32, outStride int)
//
// dotF16NEON of four rows (w, w+rb, …) by four tokens (x, x+xStride, …;
// strides in bytes) into out+t·outStride+4r: per eight columns each
// row's halves widened once (V0-V7) and each token's activations loaded
// once (token t's low four in V(8+2t), high four in V(9+2t)) for 32
// FMLAs into the sixteen chains. All 32 registers are live.
TEXT ·f16Tile4x4NEON(SB), NOSPLIT, $0-56
	MOVD w+0(FP), R0
	MOVD rb+8(FP), R9
	MOVD x+16(FP), R4
	MOVD xStride+24(FP), R10
	MOVD n+32(FP), R8
	ADD R9, R0, R1
	ADD R9, R1, R2
	ADD R9, R2, R3
	ADD R10, R4, R5
	ADD R10, R5, R6
	ADD R10, R6, R7
	VEOR V16.B16, V16.B16, V16.B16
	VEOR V17.B16, V17.B16, V17.B16
	VEOR V18.B16, V18.B16, V18.B16
	VEOR V19.B16, V19.B16, V19.B16
	VEOR V20.B16, V20.B16, V20.B16
	VEOR V21.B16, V21.B16, V21.B16
	VEOR V22.B16, V22.B16, V22.B16
	VEOR V23.B16, V23.B16, V23.B16
	VEOR V24.B16, V24.B16, V24.B16
	VEOR V25.B16, V25.B16, V25.B16
	VEOR V26.B16, V26.B16, V26.B16
	VEOR V27.B16, V27.B16, V27.B16
	VEOR V28.B16, V28.B16, V28.B16
	VEOR V29.B16, V29.B16, V29.B16
	VEOR V30.B16, V30.B16, V30.B16
	VEOR V31.B16, V31.B16, V31.B16
	LSR $3, R8
	CBZ R8, t44done

t44loop:
	F16_WIDEN
	VLD1.P 32(R4), [V8.S4, V9.S4]
	VLD1.P 32(R5), [V10.S4, V11.S4]
	VLD1.P 32(R6), [V12.S4, V13.S4]
	VLD1.P 32(R7), [V14.S4, V15.S4]
	T44_COLS(V0.S4, V1.S4, V2.S4, V3.S4, V8.S4, V10.S4, V12.S4, V14.S4)
	T44_COLS(V4.S4, V5.S4, V6.S4, V7.S4, V9.S4, V11.S4, V13.S4, V15.S4)
	SUB $1, R8
	CBNZ R8, t44loop

t44done:
	MOVD out+40(FP), R10
	MOVD outStride+48(FP), R11
	F16_SUMS4(16, 17, 18, 19)
	VST1 [V16.S4], (R10)
	ADD R11, R10, R10
	F16_SUMS4(20, 21, 22, 23)
	VST1 [V20.S4], (R10)
	ADD R11, R10, R10
	F16_SUMS4(24, 25, 26, 27)
	VST1 [V24.S4], (R10)
	ADD R11, R10, R10
	F16_SUMS4(28, 29, 30, 31)
	VST1 [V28.S4], (R10)
	RET
