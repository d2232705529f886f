//go:build !purego

#include "textflag.h"

// NEON primitives of the fast kernels (simd_arm64.go). Go's assembler has
// no mnemonics for SXTL, SCVTF, FCVTL, FMUL (by element), FADD, FADDP or
// FCVT (half to single) on vectors; those are WORDs, each with the
// instruction it encodes (checked with binutils' aarch64 assembler).

#define REDUCE_V28_V31_TO_F0 \
	WORD $0x4e3dd79c \ // fadd  v28.4s, v28.4s, v29.4s
	WORD $0x4e3fd7de \ // fadd  v30.4s, v30.4s, v31.4s
	WORD $0x4e3ed79c \ // fadd  v28.4s, v28.4s, v30.4s
	WORD $0x6e3cd79c \ // faddp v28.4s, v28.4s, v28.4s
	WORD $0x7e30db80   // faddp s0, v28.2s

#define ZERO_V28_V31 \
	VEOR V28.B16, V28.B16, V28.B16 \
	VEOR V29.B16, V29.B16, V29.B16 \
	VEOR V30.B16, V30.B16, V30.B16 \
	VEOR V31.B16, V31.B16, V31.B16

// func dotQ8F32NEON(w *byte, x *float32, nb int) float32
//
// Sum over nb Q8_0 blocks of f16(scale) × Σ q[j]·x[j]: the quants widened
// to int32 and converted to float32, scaled, and multiply-added into four
// accumulators.
TEXT ·dotQ8F32NEON(SB), NOSPLIT, $0-28
	MOVD w+0(FP), R0
	MOVD x+8(FP), R1
	MOVD nb+16(FP), R2
	ZERO_V28_V31

q8loop:
	CBZ R2, q8done
	MOVHU.P 2(R0), R4
	FMOVS R4, F16
	WORD $0x1ee24210 // fcvt s16, h16
	VLD1.P 32(R0), [V0.B16, V1.B16]
	WORD $0x0f08a402 // sxtl  v2.8h, v0.8b
	WORD $0x4f08a403 // sxtl2 v3.8h, v0.16b
	WORD $0x0f08a424 // sxtl  v4.8h, v1.8b
	WORD $0x4f08a425 // sxtl2 v5.8h, v1.16b
	WORD $0x0f10a446 // sxtl  v6.4s, v2.4h
	WORD $0x4f10a447 // sxtl2 v7.4s, v2.8h
	WORD $0x0f10a468 // sxtl  v8.4s, v3.4h
	WORD $0x4f10a469 // sxtl2 v9.4s, v3.8h
	WORD $0x0f10a48a // sxtl  v10.4s, v4.4h
	WORD $0x4f10a48b // sxtl2 v11.4s, v4.8h
	WORD $0x0f10a4ac // sxtl  v12.4s, v5.4h
	WORD $0x4f10a4ad // sxtl2 v13.4s, v5.8h
	WORD $0x4e21d8c6 // scvtf v6.4s, v6.4s
	WORD $0x4e21d8e7 // scvtf v7.4s, v7.4s
	WORD $0x4e21d908 // scvtf v8.4s, v8.4s
	WORD $0x4e21d929 // scvtf v9.4s, v9.4s
	WORD $0x4e21d94a // scvtf v10.4s, v10.4s
	WORD $0x4e21d96b // scvtf v11.4s, v11.4s
	WORD $0x4e21d98c // scvtf v12.4s, v12.4s
	WORD $0x4e21d9ad // scvtf v13.4s, v13.4s
	WORD $0x4f9090c6 // fmul v6.4s, v6.4s, v16.s[0]
	WORD $0x4f9090e7 // fmul v7.4s, v7.4s, v16.s[0]
	WORD $0x4f909108 // fmul v8.4s, v8.4s, v16.s[0]
	WORD $0x4f909129 // fmul v9.4s, v9.4s, v16.s[0]
	WORD $0x4f90914a // fmul v10.4s, v10.4s, v16.s[0]
	WORD $0x4f90916b // fmul v11.4s, v11.4s, v16.s[0]
	WORD $0x4f90918c // fmul v12.4s, v12.4s, v16.s[0]
	WORD $0x4f9091ad // fmul v13.4s, v13.4s, v16.s[0]
	VLD1.P 64(R1), [V20.S4, V21.S4, V22.S4, V23.S4]
	VLD1.P 64(R1), [V24.S4, V25.S4, V26.S4, V27.S4]
	VFMLA V6.S4, V20.S4, V28.S4
	VFMLA V7.S4, V21.S4, V29.S4
	VFMLA V8.S4, V22.S4, V30.S4
	VFMLA V9.S4, V23.S4, V31.S4
	VFMLA V10.S4, V24.S4, V28.S4
	VFMLA V11.S4, V25.S4, V29.S4
	VFMLA V12.S4, V26.S4, V30.S4
	VFMLA V13.S4, V27.S4, V31.S4
	SUB $1, R2
	B q8loop

q8done:
	REDUCE_V28_V31_TO_F0
	FMOVS F0, ret+24(FP)
	RET

// func dotF32NEON(a, b *float32, n int) float32
//
// Σ a[i]·b[i] for n a multiple of 16, in four accumulators.
TEXT ·dotF32NEON(SB), NOSPLIT, $0-28
	MOVD a+0(FP), R0
	MOVD b+8(FP), R1
	MOVD n+16(FP), R2
	ZERO_V28_V31

f32loop:
	CBZ R2, f32done
	VLD1.P 64(R0), [V0.S4, V1.S4, V2.S4, V3.S4]
	VLD1.P 64(R1), [V4.S4, V5.S4, V6.S4, V7.S4]
	VFMLA V0.S4, V4.S4, V28.S4
	VFMLA V1.S4, V5.S4, V29.S4
	VFMLA V2.S4, V6.S4, V30.S4
	VFMLA V3.S4, V7.S4, V31.S4
	SUB $16, R2
	B f32loop

f32done:
	REDUCE_V28_V31_TO_F0
	FMOVS F0, ret+24(FP)
	RET

// func dotF16NEON(w *uint16, x *float32, n int) float32
//
// Σ f16(w[i])·x[i] for n a multiple of 16 (FCVTL widens the halves).
TEXT ·dotF16NEON(SB), NOSPLIT, $0-28
	MOVD w+0(FP), R0
	MOVD x+8(FP), R1
	MOVD n+16(FP), R2
	ZERO_V28_V31

f16loop:
	CBZ R2, f16done
	VLD1.P 32(R0), [V0.B16, V1.B16]
	WORD $0x0e217804 // fcvtl  v4.4s, v0.4h
	WORD $0x4e217805 // fcvtl2 v5.4s, v0.8h
	WORD $0x0e217826 // fcvtl  v6.4s, v1.4h
	WORD $0x4e217827 // fcvtl2 v7.4s, v1.8h
	VLD1.P 64(R1), [V20.S4, V21.S4, V22.S4, V23.S4]
	VFMLA V4.S4, V20.S4, V28.S4
	VFMLA V5.S4, V21.S4, V29.S4
	VFMLA V6.S4, V22.S4, V30.S4
	VFMLA V7.S4, V23.S4, V31.S4
	SUB $16, R2
	B f16loop

f16done:
	REDUCE_V28_V31_TO_F0
	FMOVS F0, ret+24(FP)
	RET

// func axpyNEON(y *float32, a float32, x *float32, n int)
//
// y[i] += a·x[i] for n a multiple of 4.
TEXT ·axpyNEON(SB), NOSPLIT, $0-32
	MOVD y+0(FP), R0
	FMOVS a+8(FP), F0
	MOVD x+16(FP), R1
	MOVD n+24(FP), R2
	VDUP V0.S[0], V1.S4

axpyloop:
	CBZ R2, axpydone
	VLD1 (R0), [V2.S4]
	VLD1.P 16(R1), [V3.S4]
	VFMLA V3.S4, V1.S4, V2.S4
	VST1.P [V2.S4], 16(R0)
	SUB $4, R2
	B axpyloop

axpydone:
	RET
