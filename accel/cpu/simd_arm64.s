//go:build !purego

#include "textflag.h"

// NEON primitives of the fast kernels (simd_arm64.go). Go's assembler has
// no mnemonics for SXTL, SCVTF, FCVTL, FMUL (by element), FADD, FADDP or
// FCVT (half to single) on vectors; those are WORDs, each with the
// instruction it encodes (checked with binutils' aarch64 assembler).

#define REDUCE_V28_V31_TO_F0 \
	WORD $0x4e3dd79c /* fadd  v28.4s, v28.4s, v29.4s */ \
	WORD $0x4e3fd7de /* fadd  v30.4s, v30.4s, v31.4s */ \
	WORD $0x4e3ed79c /* fadd  v28.4s, v28.4s, v30.4s */ \
	WORD $0x6e3cd79c /* faddp v28.4s, v28.4s, v28.4s */ \
	WORD $0x7e30db80 /* faddp s0, v28.2s */

#define ZERO_V28_V31 \
	VEOR V28.B16, V28.B16, V28.B16 \
	VEOR V29.B16, V29.B16, V29.B16 \
	VEOR V30.B16, V30.B16, V30.B16 \
	VEOR V31.B16, V31.B16, V31.B16

// Q8_BLOCK_WIDEN loads the Q8_0 block at R0 (advancing it 34 bytes) and
// leaves its 32 values, widened to float32 and multiplied by the block's
// scale, in V6-V13 (V0-V5 and V16 scratch).
#define Q8_BLOCK_WIDEN \
	MOVHU.P 2(R0), R4 \
	FMOVS R4, F16 \
	WORD $0x1ee24210 /* fcvt s16, h16 */ \
	VLD1.P 32(R0), [V0.B16, V1.B16] \
	WORD $0x0f08a402 /* sxtl  v2.8h, v0.8b */ \
	WORD $0x4f08a403 /* sxtl2 v3.8h, v0.16b */ \
	WORD $0x0f08a424 /* sxtl  v4.8h, v1.8b */ \
	WORD $0x4f08a425 /* sxtl2 v5.8h, v1.16b */ \
	WORD $0x0f10a446 /* sxtl  v6.4s, v2.4h */ \
	WORD $0x4f10a447 /* sxtl2 v7.4s, v2.8h */ \
	WORD $0x0f10a468 /* sxtl  v8.4s, v3.4h */ \
	WORD $0x4f10a469 /* sxtl2 v9.4s, v3.8h */ \
	WORD $0x0f10a48a /* sxtl  v10.4s, v4.4h */ \
	WORD $0x4f10a48b /* sxtl2 v11.4s, v4.8h */ \
	WORD $0x0f10a4ac /* sxtl  v12.4s, v5.4h */ \
	WORD $0x4f10a4ad /* sxtl2 v13.4s, v5.8h */ \
	WORD $0x4e21d8c6 /* scvtf v6.4s, v6.4s */ \
	WORD $0x4e21d8e7 /* scvtf v7.4s, v7.4s */ \
	WORD $0x4e21d908 /* scvtf v8.4s, v8.4s */ \
	WORD $0x4e21d929 /* scvtf v9.4s, v9.4s */ \
	WORD $0x4e21d94a /* scvtf v10.4s, v10.4s */ \
	WORD $0x4e21d96b /* scvtf v11.4s, v11.4s */ \
	WORD $0x4e21d98c /* scvtf v12.4s, v12.4s */ \
	WORD $0x4e21d9ad /* scvtf v13.4s, v13.4s */ \
	WORD $0x4f9090c6 /* fmul v6.4s, v6.4s, v16.s[0] */ \
	WORD $0x4f9090e7 /* fmul v7.4s, v7.4s, v16.s[0] */ \
	WORD $0x4f909108 /* fmul v8.4s, v8.4s, v16.s[0] */ \
	WORD $0x4f909129 /* fmul v9.4s, v9.4s, v16.s[0] */ \
	WORD $0x4f90914a /* fmul v10.4s, v10.4s, v16.s[0] */ \
	WORD $0x4f90916b /* fmul v11.4s, v11.4s, v16.s[0] */ \
	WORD $0x4f90918c /* fmul v12.4s, v12.4s, v16.s[0] */ \
	WORD $0x4f9091ad /* fmul v13.4s, v13.4s, v16.s[0] */

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
	Q8_BLOCK_WIDEN
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

// Q8_TOKEN multiply-adds V6-V13 with the 32 activations at Rt (advanced
// 128 bytes) into a0-a3 as dotQ8F32NEON does into V28-V31 (V0-V3
// scratch).
#define Q8_TOKEN(Rt, a0, a1, a2, a3) \
	VLD1.P 64(Rt), [V0.S4, V1.S4, V2.S4, V3.S4] \
	VFMLA V6.S4, V0.S4, a0 \
	VFMLA V7.S4, V1.S4, a1 \
	VFMLA V8.S4, V2.S4, a2 \
	VFMLA V9.S4, V3.S4, a3 \
	VLD1.P 64(Rt), [V0.S4, V1.S4, V2.S4, V3.S4] \
	VFMLA V10.S4, V0.S4, a0 \
	VFMLA V11.S4, V1.S4, a1 \
	VFMLA V12.S4, V2.S4, a2 \
	VFMLA V13.S4, V3.S4, a3

// func dotQ8F32x4NEON(w *byte, x *float32, stride int, nb int, out *float32, outStride int)
//
// dotQ8F32NEON of one row against four activation rows (x, x+stride, …,
// strides in bytes) into out, out+outStride, …: each block is widened
// once for the four. Per token the operations and their order are
// dotQ8F32NEON's, so the results are the same bits.
TEXT ·dotQ8F32x4NEON(SB), NOSPLIT, $0-48
	MOVD w+0(FP), R0
	MOVD x+8(FP), R1
	MOVD stride+16(FP), R3
	MOVD nb+24(FP), R2
	ADD R3, R1, R5
	ADD R3, R5, R6
	ADD R3, R6, R7
	VEOR V14.B16, V14.B16, V14.B16
	VEOR V15.B16, V15.B16, V15.B16
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

x4loop:
	CBZ R2, x4done
	Q8_BLOCK_WIDEN
	Q8_TOKEN(R1, V14.S4, V15.S4, V17.S4, V18.S4)
	Q8_TOKEN(R5, V19.S4, V20.S4, V21.S4, V22.S4)
	Q8_TOKEN(R6, V23.S4, V24.S4, V25.S4, V26.S4)
	Q8_TOKEN(R7, V27.S4, V28.S4, V29.S4, V30.S4)
	SUB $1, R2
	B x4loop

x4done:
	MOVD out+32(FP), R3
	MOVD outStride+40(FP), R4
	WORD $0x4e2fd5ce // fadd  v14.4s, v14.4s, v15.4s
	WORD $0x4e32d631 // fadd  v17.4s, v17.4s, v18.4s
	WORD $0x4e31d5ce // fadd  v14.4s, v14.4s, v17.4s
	WORD $0x6e2ed5ce // faddp v14.4s, v14.4s, v14.4s
	WORD $0x7e30d9c0 // faddp s0, v14.2s
	FMOVS F0, (R3)
	ADD R4, R3, R3
	WORD $0x4e34d673 // fadd  v19.4s, v19.4s, v20.4s
	WORD $0x4e36d6b5 // fadd  v21.4s, v21.4s, v22.4s
	WORD $0x4e35d673 // fadd  v19.4s, v19.4s, v21.4s
	WORD $0x6e33d673 // faddp v19.4s, v19.4s, v19.4s
	WORD $0x7e30da60 // faddp s0, v19.2s
	FMOVS F0, (R3)
	ADD R4, R3, R3
	WORD $0x4e38d6f7 // fadd  v23.4s, v23.4s, v24.4s
	WORD $0x4e3ad739 // fadd  v25.4s, v25.4s, v26.4s
	WORD $0x4e39d6f7 // fadd  v23.4s, v23.4s, v25.4s
	WORD $0x6e37d6f7 // faddp v23.4s, v23.4s, v23.4s
	WORD $0x7e30dae0 // faddp s0, v23.2s
	FMOVS F0, (R3)
	ADD R4, R3, R3
	WORD $0x4e3cd77b // fadd  v27.4s, v27.4s, v28.4s
	WORD $0x4e3ed7bd // fadd  v29.4s, v29.4s, v30.4s
	WORD $0x4e3dd77b // fadd  v27.4s, v27.4s, v29.4s
	WORD $0x6e3bd77b // faddp v27.4s, v27.4s, v27.4s
	WORD $0x7e30db60 // faddp s0, v27.2s
	FMOVS F0, (R3)
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

// Q4_K (simd_arm64.go's dotQ4KNEON, dotQ4Kx4NEON); the block layout is
// described in simd_amd64.s. The instructions Go's assembler lacks are
// WORDs built from their register numbers by these macros (encodings
// checked with binutils' aarch64 assembler).
#define UCVTF4S(d, n) WORD $(0x6e21d800 | ((n)<<5) | (d))
#define FMUL4S(d, n, m) WORD $(0x6e20dc00 | ((m)<<16) | ((n)<<5) | (d))
#define FADD4S(d, n, m) WORD $(0x4e20d400 | ((m)<<16) | ((n)<<5) | (d))
#define FADDP4S(d, n, m) WORD $(0x6e20d400 | ((m)<<16) | ((n)<<5) | (d))
#define FADDP2S(d, n) WORD $(0x7e30d800 | ((n)<<5) | (d))
#define FCVTSH(d, n) WORD $(0x1ee24000 | ((n)<<5) | (d))

// Q4K_SCALES decodes the block at R0 (R0 left at the block): the steps
// d·sc[j] to V28 (j 0-3) and V29 (4-7), the offsets dmin·m[j] to V26
// and V27 (R4, R6-R9, V0-V3 scratch). The fields are gathered four at a
// time in 32-bit words as in simd_amd64.s.
#define Q4K_SCALES \
	MOVWU 4(R0), R6 \
	MOVWU 8(R0), R7 \
	MOVWU 12(R0), R8 \
	LSRW $4, R8, R9 \
	ANDW $0x0f0f0f0f, R9, R9 \
	ANDW $0x0f0f0f0f, R8, R8 \
	LSRW $2, R6, R4 \
	ANDW $0x30303030, R4, R4 \
	ORRW R4, R8, R8 \
	LSRW $2, R7, R4 \
	ANDW $0x30303030, R4, R4 \
	ORRW R4, R9, R9 \
	ANDW $0x3f3f3f3f, R6, R6 \
	ANDW $0x3f3f3f3f, R7, R7 \
	ORR R8<<32, R6, R6 \
	ORR R9<<32, R7, R7 \
	MOVHU (R0), R4 \
	FMOVS R4, F3 \
	FCVTSH(3, 3) \
	VDUP V3.S[0], V3.S4 \
	FMOVD R6, F0 \
	VUXTL V0.B8, V0.H8 \
	VUXTL V0.H4, V1.S4 \
	VUXTL2 V0.H8, V2.S4 \
	UCVTF4S(1, 1) \
	UCVTF4S(2, 2) \
	FMUL4S(28, 1, 3) \
	FMUL4S(29, 2, 3) \
	MOVHU 2(R0), R4 \
	FMOVS R4, F3 \
	FCVTSH(3, 3) \
	VDUP V3.S[0], V3.S4 \
	FMOVD R7, F0 \
	VUXTL V0.B8, V0.H8 \
	VUXTL V0.H4, V1.S4 \
	VUXTL2 V0.H8, V2.S4 \
	UCVTF4S(1, 1) \
	UCVTF4S(2, 2) \
	FMUL4S(26, 1, 3) \
	FMUL4S(27, 2, 3)

// Q4K_WIDEN widens the 32 nibbles in V2 and V3 (one per byte) to
// float32 in V8-V15 (V4-V7 scratch).
#define Q4K_WIDEN \
	VUXTL V2.B8, V4.H8 \
	VUXTL2 V2.B16, V5.H8 \
	VUXTL V3.B8, V6.H8 \
	VUXTL2 V3.B16, V7.H8 \
	VUXTL V4.H4, V8.S4 \
	VUXTL2 V4.H8, V9.S4 \
	VUXTL V5.H4, V10.S4 \
	VUXTL2 V5.H8, V11.S4 \
	VUXTL V6.H4, V12.S4 \
	VUXTL2 V6.H8, V13.S4 \
	VUXTL V7.H4, V14.S4 \
	VUXTL2 V7.H8, V15.S4 \
	UCVTF4S(8, 8) \
	UCVTF4S(9, 9) \
	UCVTF4S(10, 10) \
	UCVTF4S(11, 11) \
	UCVTF4S(12, 12) \
	UCVTF4S(13, 13) \
	UCVTF4S(14, 14) \
	UCVTF4S(15, 15)

// Q4K_MINS subtracts the offsets times the token's eight sums at Rs
// (advanced 32 bytes) from acc (V16, V17 scratch).
#define Q4K_MINS(Rs, acc) \
	VLD1.P 32(Rs), [V16.S4, V17.S4] \
	VFMLS V26.S4, V16.S4, acc \
	VFMLS V27.S4, V17.S4, acc

// Q4K_TOKEN multiplies the widened sub-block V8-V15 by the token's 32
// activations at Rt (advanced 128 bytes) in two partial sums, adds them,
// and adds that times the step in V30 to acc (V16-V19, V24, V25
// scratch).
#define Q4K_TOKEN(Rt, acc) \
	VLD1.P 64(Rt), [V16.S4, V17.S4, V18.S4, V19.S4] \
	FMUL4S(24, 8, 16) \
	FMUL4S(25, 9, 17) \
	VFMLA V10.S4, V18.S4, V24.S4 \
	VFMLA V11.S4, V19.S4, V25.S4 \
	VLD1.P 64(Rt), [V16.S4, V17.S4, V18.S4, V19.S4] \
	VFMLA V12.S4, V16.S4, V24.S4 \
	VFMLA V13.S4, V17.S4, V25.S4 \
	VFMLA V14.S4, V18.S4, V24.S4 \
	VFMLA V15.S4, V19.S4, V25.S4 \
	FADD4S(24, 24, 25) \
	VFMLA V24.S4, V30.S4, acc

// Q4K_LOW and Q4K_HIGH put group g's low or high nibbles (of the 32
// quant bytes in V0, V1; V31: bytes 15) in V2, V3, widen them, and
// broadcast the sub-block's step (steps 0-3 in V28, 4-7 in V29) to V30.
#define Q4K_LOW(steps, lane) \
	VAND V31.B16, V0.B16, V2.B16 \
	VAND V31.B16, V1.B16, V3.B16 \
	Q4K_WIDEN \
	VDUP steps.S[lane], V30.S4

#define Q4K_HIGH(steps, lane) \
	VUSHR $4, V0.B16, V2.B16 \
	VUSHR $4, V1.B16, V3.B16 \
	Q4K_WIDEN \
	VDUP steps.S[lane], V30.S4

// REDUCE_TO_F0 adds acc's four lanes into F0.
#define REDUCE_TO_F0(acc) \
	FADDP4S(acc, acc, acc) \
	FADDP2S(0, acc)

// func dotQ4KNEON(w *byte, x, xs *float32, nb int) float32
//
// Over nb super-blocks: per sub-block j the quants times the 32
// activations in float32, times d·sc[j], minus dmin·m[j] times xs[j]
// (the activations' sum). Each token's operations are those of
// dotQ4Kx4NEON, so the results are the same bits.
TEXT ·dotQ4KNEON(SB), NOSPLIT, $0-36
	MOVD w+0(FP), R0
	MOVD x+8(FP), R1
	MOVD xs+16(FP), R2
	MOVD nb+24(FP), R3
	VMOVI $15, V31.B16
	VEOR V20.B16, V20.B16, V20.B16

k1loop:
	CBZ R3, k1done
	Q4K_SCALES
	Q4K_MINS(R2, V20.S4)
	ADD $16, R0
	VLD1.P 32(R0), [V0.B16, V1.B16]
	Q4K_LOW(V28, 0)
	Q4K_TOKEN(R1, V20.S4)
	Q4K_HIGH(V28, 1)
	Q4K_TOKEN(R1, V20.S4)
	VLD1.P 32(R0), [V0.B16, V1.B16]
	Q4K_LOW(V28, 2)
	Q4K_TOKEN(R1, V20.S4)
	Q4K_HIGH(V28, 3)
	Q4K_TOKEN(R1, V20.S4)
	VLD1.P 32(R0), [V0.B16, V1.B16]
	Q4K_LOW(V29, 0)
	Q4K_TOKEN(R1, V20.S4)
	Q4K_HIGH(V29, 1)
	Q4K_TOKEN(R1, V20.S4)
	VLD1.P 32(R0), [V0.B16, V1.B16]
	Q4K_LOW(V29, 2)
	Q4K_TOKEN(R1, V20.S4)
	Q4K_HIGH(V29, 3)
	Q4K_TOKEN(R1, V20.S4)
	SUB $1, R3
	B k1loop

k1done:
	REDUCE_TO_F0(20)
	FMOVS F0, ret+32(FP)
	RET

// func dotQ4Kx4NEON(w *byte, x, xs *float32, stride, xsStride, nb int, out *float32, outStride int)
//
// dotQ4KNEON of one row against four tokens (activations at x,
// x+stride, …, sums at xs, xs+xsStride, …, strides in bytes) into out,
// out+outStride, …: each block's scales are decoded and its quants
// widened once for the four.
TEXT ·dotQ4Kx4NEON(SB), NOSPLIT, $0-64
	MOVD w+0(FP), R0
	MOVD x+8(FP), R1
	MOVD xs+16(FP), R2
	MOVD stride+24(FP), R5
	MOVD xsStride+32(FP), R4
	MOVD nb+40(FP), R3
	ADD R5, R1, R10
	ADD R5, R10, R11
	ADD R5, R11, R12
	ADD R4, R2, R13
	ADD R4, R13, R14
	ADD R4, R14, R15
	VMOVI $15, V31.B16
	VEOR V20.B16, V20.B16, V20.B16
	VEOR V21.B16, V21.B16, V21.B16
	VEOR V22.B16, V22.B16, V22.B16
	VEOR V23.B16, V23.B16, V23.B16

#define K4_TOKENS \
	Q4K_TOKEN(R1, V20.S4) \
	Q4K_TOKEN(R10, V21.S4) \
	Q4K_TOKEN(R11, V22.S4) \
	Q4K_TOKEN(R12, V23.S4)

k4loop:
	CBZ R3, k4done
	Q4K_SCALES
	Q4K_MINS(R2, V20.S4)
	Q4K_MINS(R13, V21.S4)
	Q4K_MINS(R14, V22.S4)
	Q4K_MINS(R15, V23.S4)
	ADD $16, R0
	VLD1.P 32(R0), [V0.B16, V1.B16]
	Q4K_LOW(V28, 0)
	K4_TOKENS
	Q4K_HIGH(V28, 1)
	K4_TOKENS
	VLD1.P 32(R0), [V0.B16, V1.B16]
	Q4K_LOW(V28, 2)
	K4_TOKENS
	Q4K_HIGH(V28, 3)
	K4_TOKENS
	VLD1.P 32(R0), [V0.B16, V1.B16]
	Q4K_LOW(V29, 0)
	K4_TOKENS
	Q4K_HIGH(V29, 1)
	K4_TOKENS
	VLD1.P 32(R0), [V0.B16, V1.B16]
	Q4K_LOW(V29, 2)
	K4_TOKENS
	Q4K_HIGH(V29, 3)
	K4_TOKENS
	SUB $1, R3
	B k4loop

k4done:
	MOVD out+48(FP), R6
	MOVD outStride+56(FP), R7
	REDUCE_TO_F0(20)
	FMOVS F0, (R6)
	ADD R7, R6, R6
	REDUCE_TO_F0(21)
	FMOVS F0, (R6)
	ADD R7, R6, R6
	REDUCE_TO_F0(22)
	FMOVS F0, (R6)
	ADD R7, R6, R6
	REDUCE_TO_F0(23)
	FMOVS F0, (R6)
	RET
