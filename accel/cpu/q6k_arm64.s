//go:build !purego

#include "textflag.h"

// Q6_K dots for NEON (q6k_arm64.go's dotQ6KNEON, dotQ6Kx4NEON); the
// block layout is in gguf/q6_k.go and q6k_amd64.s. Per block: the
// sixteen steps d·sc[j] to V24-V27 (four per register); then per half
// (128 weights) its 64 ql bytes and 32 qh bytes are decoded at once
// into eight registers of sixteen centred quants (q − 32, int8), one
// per sub-block, in V6-V13; per sub-block the quants are widened to
// float32 (V16-V19), multiplied by the 16 activations in two partial
// sums, which are added, and that times the step is added into the
// token's accumulator (one chain per token; the lanes are added at the
// end as (l0+l1)+(l2+l3)). dotQ6Kx4NEON shares the decoding and the
// widening between four tokens and gives each the same operations as
// dotQ6KNEON, so the same bits.
//
// Registers: V0-V5 the raw quant bytes, then scratch; V14, V15 scratch
// and the partial sums; V20-V23 the accumulators; V28 the step; V29
// bytes 32, V30 bytes 0x30, V31 bytes 0x0f.
//
// As in simd_arm64.s, the instructions Go's assembler lacks are WORDs,
// each naming what it encodes (checked with llvm-mc).

#define SXTL8H(d, n) WORD $(0x0f08a400 | ((n)<<5) | (d)) /* sxtl  vd.8h, vn.8b */
#define SXTL28H(d, n) WORD $(0x4f08a400 | ((n)<<5) | (d)) /* sxtl2 vd.8h, vn.16b */
#define SXTL4S(d, n) WORD $(0x0f10a400 | ((n)<<5) | (d)) /* sxtl  vd.4s, vn.4h */
#define SXTL24S(d, n) WORD $(0x4f10a400 | ((n)<<5) | (d)) /* sxtl2 vd.4s, vn.8h */
#define SCVTF4S(d, n) WORD $(0x4e21d800 | ((n)<<5) | (d)) /* scvtf vd.4s, vn.4s */
#define FMUL4S(d, n, m) WORD $(0x6e20dc00 | ((m)<<16) | ((n)<<5) | (d)) /* fmul vd.4s, vn.4s, vm.4s */
#define FMULE4S(d, n, m, i) WORD $(0x4f809000 | (((i)&1)<<21) | (((i)>>1)<<11) | ((m)<<16) | ((n)<<5) | (d)) /* fmul vd.4s, vn.4s, vm.s[i] */
#define FADD4S(d, n, m) WORD $(0x4e20d400 | ((m)<<16) | ((n)<<5) | (d)) /* fadd vd.4s, vn.4s, vm.4s */
#define FADDP4S(d, n, m) WORD $(0x6e20d400 | ((m)<<16) | ((n)<<5) | (d)) /* faddp vd.4s, vn.4s, vm.4s */
#define FADDP2S(d, n) WORD $(0x7e30d800 | ((n)<<5) | (d)) /* faddp sd, vn.2s */
#define FCVTSH(d, n) WORD $(0x1ee24000 | ((n)<<5) | (d)) /* fcvt sd, hn */

// Q6K_REDUCE adds acc's four lanes into F0 as (l0+l1)+(l2+l3).
#define Q6K_REDUCE(acc) \
	FADDP4S(acc, acc, acc) \
	FADDP2S(0, acc)

#define Q6K_CONSTS \
	VMOVI $15, V31.B16 \
	VMOVI $0x30, V30.B16 \
	VMOVI $32, V29.B16

// Q6K_STEPS sets V24-V27 to the steps d·sc[j] of the block at R0 (R4,
// R7, V0-V3 scratch): the int8 scales widened to float32, times d.
#define Q6K_STEPS \
	MOVHU 208(R0), R4 \
	FMOVS R4, F3 \
	FCVTSH(3, 3) \
	ADD $192, R0, R7 \
	VLD1 (R7), [V0.B16] \
	SXTL8H(1, 0) \
	SXTL28H(2, 0) \
	SXTL4S(24, 1) \
	SXTL24S(25, 1) \
	SXTL4S(26, 2) \
	SXTL24S(27, 2) \
	SCVTF4S(24, 24) \
	SCVTF4S(25, 25) \
	SCVTF4S(26, 26) \
	SCVTF4S(27, 27) \
	FMULE4S(24, 24, 3, 0) \
	FMULE4S(25, 25, 3, 0) \
	FMULE4S(26, 26, 3, 0) \
	FMULE4S(27, 27, 3, 0)

// Q6K_LOW sets d to the low nibbles of ql (in q) with the qh bits (in
// h) that a left shift by sh brings to bits 4-5 above them, centred
// (t scratch).
#define Q6K_LOW(q, h, sh, d, t) \
	VAND V31.B16, q.B16, d.B16 \
	VSHL $sh, h.B16, t.B16 \
	VAND V30.B16, t.B16, t.B16 \
	VORR t.B16, d.B16, d.B16 \
	VSUB V29.B16, d.B16, d.B16

// Q6K_HIGH2 is Q6K_LOW for the high nibbles of ql and the qh bits
// already at bits 4-5; Q6K_HIGH3 for the high nibbles and the qh bits
// brought there by a right shift by 2.
#define Q6K_HIGH2(q, h, d, t) \
	VUSHR $4, q.B16, d.B16 \
	VAND V30.B16, h.B16, t.B16 \
	VORR t.B16, d.B16, d.B16 \
	VSUB V29.B16, d.B16, d.B16

#define Q6K_HIGH3(q, h, d, t) \
	VUSHR $4, q.B16, d.B16 \
	VUSHR $2, h.B16, t.B16 \
	VAND V30.B16, t.B16, t.B16 \
	VORR t.B16, d.B16, d.B16 \
	VSUB V29.B16, d.B16, d.B16

// Q6K_HALF loads a half's 64 ql bytes from R0 and 32 qh bytes from R6
// (both advanced) and decodes its eight sub-blocks into V6-V13: quarter
// k (sub-blocks 2k, 2k+1) from ql bytes 32·(k%2)… (low nibbles for
// k < 2) and qh bits 2k, 2k+1.
#define Q6K_HALF \
	VLD1.P 64(R0), [V0.B16, V1.B16, V2.B16, V3.B16] \
	VLD1.P 32(R6), [V4.B16, V5.B16] \
	Q6K_LOW(V0, V4, 4, V6, V14) \
	Q6K_LOW(V1, V5, 4, V7, V15) \
	Q6K_LOW(V2, V4, 2, V8, V14) \
	Q6K_LOW(V3, V5, 2, V9, V15) \
	Q6K_HIGH2(V0, V4, V10, V14) \
	Q6K_HIGH2(V1, V5, V11, V15) \
	Q6K_HIGH3(V2, V4, V12, V14) \
	Q6K_HIGH3(V3, V5, V13, V15)

// Q6K_WIDEN widens the sixteen int8 quants of V(q) to float32 in
// V16-V19 (V0, V1 scratch).
#define Q6K_WIDEN(q) \
	SXTL8H(0, q) \
	SXTL28H(1, q) \
	SXTL4S(16, 0) \
	SXTL24S(17, 0) \
	SXTL4S(18, 1) \
	SXTL24S(19, 1) \
	SCVTF4S(16, 16) \
	SCVTF4S(17, 17) \
	SCVTF4S(18, 18) \
	SCVTF4S(19, 19)

// Q6K_TOKEN multiplies the widened sub-block by the token's sixteen
// activations at Rt (advanced 64 bytes) in two partial sums, adds them,
// and adds that times the step in V28 to acc (V0-V3, V14, V15 scratch).
#define Q6K_TOKEN(Rt, acc) \
	VLD1.P 64(Rt), [V0.S4, V1.S4, V2.S4, V3.S4] \
	FMUL4S(14, 16, 0) \
	FMUL4S(15, 17, 1) \
	VFMLA V18.S4, V2.S4, V14.S4 \
	VFMLA V19.S4, V3.S4, V15.S4 \
	FADD4S(14, 14, 15) \
	VFMLA V14.S4, V28.S4, acc

// Q6K_BLOCK_HALF decodes the next half of the block and runs the macro
// sub(q, steps, lane) on each of its sub-blocks: quants in V(q), step in
// lane lane of steps (s0 for the first four, s1 for the others).
#define Q6K_BLOCK_HALF(sub, s0, s1) \
	Q6K_HALF \
	sub(6, s0, 0) \
	sub(7, s0, 1) \
	sub(8, s0, 2) \
	sub(9, s0, 3) \
	sub(10, s1, 0) \
	sub(11, s1, 1) \
	sub(12, s1, 2) \
	sub(13, s1, 3)

// func dotQ6KNEON(w *byte, x *float32, nb int) float32
TEXT ·dotQ6KNEON(SB), NOSPLIT, $0-28
	MOVD w+0(FP), R0
	MOVD x+8(FP), R1
	MOVD nb+16(FP), R3
	Q6K_CONSTS
	VEOR V20.B16, V20.B16, V20.B16

#define K1_SUB(q, steps, lane) \
	Q6K_WIDEN(q) \
	VDUP steps.S[lane], V28.S4 \
	Q6K_TOKEN(R1, V20.S4)

q1loop:
	CBZ R3, q1done
	Q6K_STEPS
	ADD $128, R0, R6
	Q6K_BLOCK_HALF(K1_SUB, V24, V25)
	Q6K_BLOCK_HALF(K1_SUB, V26, V27)
	ADD $82, R0 // the halves advanced it 128 of the block's 210 bytes
	SUB $1, R3
	B q1loop

q1done:
	Q6K_REDUCE(20)
	FMOVS F0, ret+24(FP)
	RET

// func dotQ6Kx4NEON(w *byte, x *float32, stride, nb int, out *float32, outStride int)
//
// dotQ6KNEON of one row against four tokens (activations at x,
// x+stride, …, in bytes) into out, out+outStride, ….
TEXT ·dotQ6Kx4NEON(SB), NOSPLIT, $0-48
	MOVD w+0(FP), R0
	MOVD x+8(FP), R1
	MOVD stride+16(FP), R5
	MOVD nb+24(FP), R3
	ADD R5, R1, R10
	ADD R5, R10, R11
	ADD R5, R11, R12
	Q6K_CONSTS
	VEOR V20.B16, V20.B16, V20.B16
	VEOR V21.B16, V21.B16, V21.B16
	VEOR V22.B16, V22.B16, V22.B16
	VEOR V23.B16, V23.B16, V23.B16

#define K4_SUB(q, steps, lane) \
	Q6K_WIDEN(q) \
	VDUP steps.S[lane], V28.S4 \
	Q6K_TOKEN(R1, V20.S4) \
	Q6K_TOKEN(R10, V21.S4) \
	Q6K_TOKEN(R11, V22.S4) \
	Q6K_TOKEN(R12, V23.S4)

q4loop:
	CBZ R3, q4done
	Q6K_STEPS
	ADD $128, R0, R6
	Q6K_BLOCK_HALF(K4_SUB, V24, V25)
	Q6K_BLOCK_HALF(K4_SUB, V26, V27)
	ADD $82, R0
	SUB $1, R3
	B q4loop

q4done:
	MOVD out+32(FP), R6
	MOVD outStride+40(FP), R7
	Q6K_REDUCE(20)
	FMOVS F0, (R6)
	ADD R7, R6, R6
	Q6K_REDUCE(21)
	FMOVS F0, (R6)
	ADD R7, R6, R6
	Q6K_REDUCE(22)
	FMOVS F0, (R6)
	ADD R7, R6, R6
	Q6K_REDUCE(23)
	FMOVS F0, (R6)
	RET
