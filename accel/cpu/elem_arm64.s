//go:build !purego

#include "textflag.h"

// NEON elementwise primitives and SwiGLU (elem_arm64.go), each for a
// count that is a multiple of four; the wrappers (elem_asm.go) do the
// tails. As in simd_arm64.s, the vector instructions Go's assembler
// lacks are WORDs built from register numbers, each macro naming what it
// encodes (checked with llvm-mc; the built functions read back with
// binutils' objdump).

#define FADD4S(d, n, m) WORD $(0x4e20d400 | ((m)<<16) | ((n)<<5) | (d)) /* fadd vd.4s, vn.4s, vm.4s */
#define FSUB4S(d, n, m) WORD $(0x4ea0d400 | ((m)<<16) | ((n)<<5) | (d)) /* fsub vd.4s, vn.4s, vm.4s */
#define FMUL4S(d, n, m) WORD $(0x6e20dc00 | ((m)<<16) | ((n)<<5) | (d)) /* fmul vd.4s, vn.4s, vm.4s */
#define FDIV4S(d, n, m) WORD $(0x6e20fc00 | ((m)<<16) | ((n)<<5) | (d)) /* fdiv vd.4s, vn.4s, vm.4s */
#define FMAX4S(d, n, m) WORD $(0x4e20f400 | ((m)<<16) | ((n)<<5) | (d)) /* fmax vd.4s, vn.4s, vm.4s */
#define FMIN4S(d, n, m) WORD $(0x4ea0f400 | ((m)<<16) | ((n)<<5) | (d)) /* fmin vd.4s, vn.4s, vm.4s */
#define FMLA4S(d, n, m) WORD $(0x4e20cc00 | ((m)<<16) | ((n)<<5) | (d)) /* fmla vd.4s, vn.4s, vm.4s */
#define FMLS4S(d, n, m) WORD $(0x4ea0cc00 | ((m)<<16) | ((n)<<5) | (d)) /* fmls vd.4s, vn.4s, vm.4s */
#define FCMGE4S(d, n, m) WORD $(0x6e20e400 | ((m)<<16) | ((n)<<5) | (d)) /* fcmge vd.4s, vn.4s, vm.4s */
#define FNEG4S(d, n) WORD $(0x6ea0f800 | ((n)<<5) | (d)) /* fneg vd.4s, vn.4s */
#define FRINTN4S(d, n) WORD $(0x4e218800 | ((n)<<5) | (d)) /* frintn vd.4s, vn.4s */
#define FCVTZS4S(d, n) WORD $(0x4ea1b800 | ((n)<<5) | (d)) /* fcvtzs vd.4s, vn.4s */
#define SHL23_4S(d, n) WORD $(0x4f375400 | ((n)<<5) | (d)) /* shl vd.4s, vn.4s, #23 */
#define ADD4S(d, n, m) WORD $(0x4ea08400 | ((m)<<16) | ((n)<<5) | (d)) /* add vd.4s, vn.4s, vm.4s */
#define AND16B(d, n, m) WORD $(0x4e201c00 | ((m)<<16) | ((n)<<5) | (d)) /* and vd.16b, vn.16b, vm.16b */
#define MOV16B(d, n) WORD $(0x4ea01c00 | ((n)<<16) | ((n)<<5) | (d)) /* mov vd.16b, vn.16b (orr) */
#define REV64_4S(d, n) WORD $(0x4ea00800 | ((n)<<5) | (d)) /* rev64 vd.4s, vn.4s */
#define FADDP4S(d, n, m) WORD $(0x6e20d400 | ((m)<<16) | ((n)<<5) | (d)) /* faddp vd.4s, vn.4s, vm.4s */
#define FADDP2S(d, n) WORD $(0x7e30d800 | ((n)<<5) | (d)) /* faddp sd, vn.2s */
#define FADD2D(d, n, m) WORD $(0x4e60d400 | ((m)<<16) | ((n)<<5) | (d)) /* fadd vd.2d, vn.2d, vm.2d */
#define FMUL2D(d, n, m) WORD $(0x6e60dc00 | ((m)<<16) | ((n)<<5) | (d)) /* fmul vd.2d, vn.2d, vm.2d */
#define FCVTL2D(d, n) WORD $(0x0e617800 | ((n)<<5) | (d)) /* fcvtl vd.2d, vn.2s */
#define FCVTL22D(d, n) WORD $(0x4e617800 | ((n)<<5) | (d)) /* fcvtl2 vd.2d, vn.4s */
#define FCVTN2S(d, n) WORD $(0x0e616800 | ((n)<<5) | (d)) /* fcvtn vd.2s, vn.2d */
#define FCVTN24S(d, n) WORD $(0x4e616800 | ((n)<<5) | (d)) /* fcvtn2 vd.4s, vn.2d */

// func noescapeF64(p *[512]float64) *[512]float64
//
// p itself, hidden from escape analysis (elem_amd64.s says why).
TEXT ·noescapeF64(SB), NOSPLIT, $0-16
	MOVD p+0(FP), R0
	MOVD R0, ret+8(FP)
	RET

// func scaleMulNEON(out, x, w *float32, s float32, n int)
//
// out[i] = (x[i]·s)·w[i] for n a multiple of 4, 16 at a time while n
// allows: two separate multiplies, rounded as the Go loop rounds them.
TEXT ·scaleMulNEON(SB), NOSPLIT, $0-40
	MOVD out+0(FP), R0
	MOVD x+8(FP), R1
	MOVD w+16(FP), R2
	FMOVS s+24(FP), F31
	VDUP V31.S[0], V31.S4
	MOVD n+32(FP), R3

sm16:
	CMP $16, R3
	BLT sm4
	VLD1.P 64(R1), [V0.S4, V1.S4, V2.S4, V3.S4]
	VLD1.P 64(R2), [V4.S4, V5.S4, V6.S4, V7.S4]
	FMUL4S(0, 0, 31)
	FMUL4S(1, 1, 31)
	FMUL4S(2, 2, 31)
	FMUL4S(3, 3, 31)
	FMUL4S(0, 0, 4)
	FMUL4S(1, 1, 5)
	FMUL4S(2, 2, 6)
	FMUL4S(3, 3, 7)
	VST1.P [V0.S4, V1.S4, V2.S4, V3.S4], 64(R0)
	SUB $16, R3
	B sm16

sm4:
	CBZ R3, smdone
	VLD1.P 16(R1), [V0.S4]
	VLD1.P 16(R2), [V4.S4]
	FMUL4S(0, 0, 31)
	FMUL4S(0, 0, 4)
	VST1.P [V0.S4], 16(R0)
	SUB $4, R3
	B sm4

smdone:
	RET

// func ropeNEON(x *float32, cs, sn *float64, m, stride, heads int)
//
// The rope primitive for the first m values (a multiple of 4) of each of
// heads heads stride bytes apart, four at a time: the pair neighbours
// swapped in float32 (REV64 swaps the two values of each 64-bit half,
// which hold one pair), both widened to float64 two values per register,
// a·cs + b·sn with separate multiplies and add, then narrowed back to
// float32 (to nearest, as Go's conversion).
TEXT ·ropeNEON(SB), NOSPLIT, $0-48
	MOVD x+0(FP), R0
	MOVD m+24(FP), R3
	MOVD stride+32(FP), R4
	MOVD heads+40(FP), R5

rphead:
	CBZ R5, rpdone
	MOVD R0, R6
	MOVD cs+8(FP), R1
	MOVD sn+16(FP), R2
	MOVD R3, R7

rp4:
	CBZ R7, rpnext
	VLD1 (R6), [V0.S4]
	REV64_4S(1, 0)
	FCVTL2D(2, 0)
	FCVTL22D(3, 0)
	FCVTL2D(4, 1)
	FCVTL22D(5, 1)
	VLD1.P 32(R1), [V6.D2, V7.D2]
	VLD1.P 32(R2), [V16.D2, V17.D2]
	FMUL2D(2, 2, 6)
	FMUL2D(3, 3, 7)
	FMUL2D(4, 4, 16)
	FMUL2D(5, 5, 17)
	FADD2D(2, 2, 4)
	FADD2D(3, 3, 5)
	FCVTN2S(0, 2)
	FCVTN24S(0, 3)
	VST1.P [V0.S4], 16(R6)
	SUB $4, R7
	B rp4

rpnext:
	ADD R4, R0
	SUB $1, R5
	B rphead

rpdone:
	RET

// EXPF_CONSTS loads the constants at R2 (swiGLUConsts), each to the four
// lanes of one register: the clamp to V17-V18, log2 e to V19, ln 2 in
// two parts to V20-V21, 1 to V22, the polynomial's six to V23-V28.
#define EXPF_CONSTS \
	VLD1R.P 4(R2), [V17.S4] \
	VLD1R.P 4(R2), [V18.S4] \
	VLD1R.P 4(R2), [V19.S4] \
	VLD1R.P 4(R2), [V20.S4] \
	VLD1R.P 4(R2), [V21.S4] \
	VLD1R.P 4(R2), [V22.S4] \
	VLD1R.P 4(R2), [V23.S4] \
	VLD1R.P 4(R2), [V24.S4] \
	VLD1R.P 4(R2), [V25.S4] \
	VLD1R.P 4(R2), [V26.S4] \
	VLD1R.P 4(R2), [V27.S4] \
	VLD1R.P 4(R2), [V28.S4]

// EXPF4 sets Vr to e^x for the four lanes of Vx, as amd64's EXPF_Y:
// x clamped to [−87, 88], n = x·log2 e rounded to nearest, r = x − n·ln 2
// in two parts, Cephes' polynomial by Horner's rule with fused
// multiply-adds (alternating between Vp and Vt), p·r² + r + 1, and n
// added to the exponent (Vn, Vp, Vt scratch; Vx is kept).
#define EXPF4(x, n, r, p, t) \
	FMAX4S(r, x, 17) \
	FMIN4S(r, r, 18) \
	FMUL4S(n, r, 19) \
	FRINTN4S(n, n) \
	FMLS4S(r, n, 20) \
	FMLS4S(r, n, 21) \
	MOV16B(p, 24) \
	FMLA4S(p, 23, r) \
	MOV16B(t, 25) \
	FMLA4S(t, p, r) \
	MOV16B(p, 26) \
	FMLA4S(p, t, r) \
	MOV16B(t, 27) \
	FMLA4S(t, p, r) \
	MOV16B(p, 28) \
	FMLA4S(p, t, r) \
	FMUL4S(t, r, r) \
	FMLA4S(r, p, t) \
	FADD4S(r, r, 22) \
	FCVTZS4S(n, n) \
	SHL23_4S(n, n) \
	ADD4S(r, r, n)

// EXPSUB4 sets Vr to e^(Vx) as EXPF4, or 0 where x < −87 (Vn: the mask
// x ≥ −87), and adds it to Vacc.
#define EXPSUB4(x, n, r, p, t, acc) \
	EXPF4(x, n, r, p, t) \
	FCMGE4S(n, x, 17) \
	AND16B(r, r, n) \
	FADD4S(acc, acc, r)

// func expSubNEON(s *float32, m float32, n int, c *[12]float32) float32
//
// s[j] = e^(s[j]−m) for n a multiple of 4 (0 where s[j]−m < −87),
// returning their sum: eight at a time into two accumulators (V29 the
// first four, V30 the next), the four left over into V29, then V29+V30
// across as (l0+l1)+(l2+l3), so the order depends on n alone.
TEXT ·expSubNEON(SB), NOSPLIT, $0-36
	MOVD s+0(FP), R0
	FMOVS m+8(FP), F16
	VDUP V16.S[0], V16.S4
	MOVD n+16(FP), R1
	MOVD c+24(FP), R2
	EXPF_CONSTS
	VEOR V29.B16, V29.B16, V29.B16
	VEOR V30.B16, V30.B16, V30.B16

es8:
	CMP $8, R1
	BLT es4
	VLD1 (R0), [V0.S4, V1.S4]
	FSUB4S(0, 0, 16)
	FSUB4S(1, 1, 16)
	EXPSUB4(0, 2, 3, 4, 5, 29)
	EXPSUB4(1, 6, 4, 7, 8, 30)
	VST1.P [V3.S4, V4.S4], 32(R0)
	SUB $8, R1
	B es8

es4:
	CBZ R1, esdone
	VLD1 (R0), [V0.S4]
	FSUB4S(0, 0, 16)
	EXPSUB4(0, 2, 3, 4, 5, 29)
	VST1 [V3.S4], (R0)

esdone:
	FADD4S(29, 29, 30)
	FADDP4S(29, 29, 29)
	FADDP2S(0, 29)
	FMOVS F0, ret+32(FP)
	RET

// SWIGLU4 sets Vg to g/(1+e^−g)·Vu for the four lanes of Vg, e^−g by
// EXPF4 (so e^87 for g > 87, where g/(1+e^−g) is g anyway, and e^88 for
// g < −88: |silu(g)| < 1e−36 instead of about 0), as swiGLUAVX2.
#define SWIGLU4(g, u, x, n, r, p, t) \
	FNEG4S(x, g) \
	EXPF4(x, n, r, p, t) \
	FADD4S(r, r, 22) \
	FDIV4S(g, g, r) \
	FMUL4S(g, g, u)

// func swiGLUNEON(gate, up *float32, n int, c *[12]float32)
//
// gate[i] = silu(gate[i])·up[i] for n a multiple of 4, eight at a time
// while n allows.
TEXT ·swiGLUNEON(SB), NOSPLIT, $0-32
	MOVD gate+0(FP), R0
	MOVD up+8(FP), R1
	MOVD n+16(FP), R3
	MOVD c+24(FP), R2
	EXPF_CONSTS

sw8:
	CMP $8, R3
	BLT sw4
	VLD1 (R0), [V0.S4, V1.S4]
	VLD1.P 32(R1), [V10.S4, V11.S4]
	SWIGLU4(0, 10, 12, 2, 3, 4, 5)
	SWIGLU4(1, 11, 13, 6, 7, 8, 9)
	VST1.P [V0.S4, V1.S4], 32(R0)
	SUB $8, R3
	B sw8

sw4:
	CBZ R3, swdone
	VLD1 (R0), [V0.S4]
	VLD1 (R1), [V10.S4]
	SWIGLU4(0, 10, 12, 2, 3, 4, 5)
	VST1 [V0.S4], (R0)

swdone:
	RET
