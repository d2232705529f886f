//go:build !purego

#include "textflag.h"

// AVX2 elementwise primitives (elem_amd64.go): RMSNorm's scaling, RoPE's
// rotation and attention's exponentials. Each takes a count that is a
// multiple of its vector width; the wrappers (elem_asm.go) do the tails.

// func noescapeF64(p *[512]float64) *[512]float64
//
// p itself, hidden from escape analysis: ropeFast keeps RoPE's tables on
// its stack and hands them to the rope primitive, a func value, which
// the compiler assumes keeps them, so without this they would be moved
// to the heap, one allocation per call. No primitive keeps them.
TEXT ·noescapeF64(SB), NOSPLIT, $0-16
	MOVQ p+0(FP), AX
	MOVQ AX, ret+8(FP)
	RET

// func scaleMulAVX2(out, x, w *float32, s float32, n int)
//
// out[i] = (x[i]·s)·w[i] for n a multiple of 8, 32 at a time while n
// allows: two separate multiplies, rounded as the Go loop rounds them.
TEXT ·scaleMulAVX2(SB), NOSPLIT, $0-40
	MOVQ out+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ w+16(FP), DX
	VBROADCASTSS s+24(FP), Y0
	MOVQ n+32(FP), CX

sm32:
	CMPQ CX, $32
	JLT sm8
	VMULPS (SI), Y0, Y1
	VMULPS 32(SI), Y0, Y2
	VMULPS 64(SI), Y0, Y3
	VMULPS 96(SI), Y0, Y4
	VMULPS (DX), Y1, Y1
	VMULPS 32(DX), Y2, Y2
	VMULPS 64(DX), Y3, Y3
	VMULPS 96(DX), Y4, Y4
	VMOVUPS Y1, (DI)
	VMOVUPS Y2, 32(DI)
	VMOVUPS Y3, 64(DI)
	VMOVUPS Y4, 96(DI)
	ADDQ $128, SI
	ADDQ $128, DX
	ADDQ $128, DI
	SUBQ $32, CX
	JMP sm32

sm8:
	CMPQ CX, $8
	JLT smdone
	VMULPS (SI), Y0, Y1
	VMULPS (DX), Y1, Y1
	VMOVUPS Y1, (DI)
	ADDQ $32, SI
	ADDQ $32, DX
	ADDQ $32, DI
	SUBQ $8, CX
	JMP sm8

smdone:
	VZEROUPPER
	RET

// ROPE4(off, toff, a, b, xa) rotates the four values at off(SI) with
// the tables' four entries at toff (= 2·off) of R8 (cs) and R9 (sn): widened to float64 in a,
// the pair neighbours swapped into b (VPERMILPD swaps the two float64 of
// each 128-bit lane, which hold one pair), a·cs + b·sn with separate
// multiplies and add, rounded back to float32 (to nearest, as Go's
// conversion).
#define ROPE4(off, toff, a, b, xa) \
	VCVTPS2PD off(SI), a \
	VPERMILPD $5, a, b \
	VMULPD toff(R8), a, a \
	VMULPD toff(R9), b, b \
	VADDPD b, a, a \
	VCVTPD2PSY a, xa \
	VMOVUPS xa, off(SI)

// func ropeAVX2(x *float32, cs, sn *float64, m, stride, heads int)
//
// The rope primitive for the first m values (a multiple of 4) of each of
// heads heads stride bytes apart: eight values at a time, then four.
TEXT ·ropeAVX2(SB), NOSPLIT, $0-48
	MOVQ x+0(FP), DI
	MOVQ m+24(FP), R10
	MOVQ stride+32(FP), R11
	MOVQ heads+40(FP), BX

rphead:
	TESTQ BX, BX
	JZ rpdone
	MOVQ DI, SI
	MOVQ cs+8(FP), R8
	MOVQ sn+16(FP), R9
	MOVQ R10, CX

rp8:
	CMPQ CX, $8
	JLT rp4
	ROPE4(0, 0, Y0, Y1, X0)
	ROPE4(16, 32, Y2, Y3, X2)
	ADDQ $32, SI
	ADDQ $64, R8
	ADDQ $64, R9
	SUBQ $8, CX
	JMP rp8

rp4:
	CMPQ CX, $4
	JLT rpnext
	ROPE4(0, 0, Y0, Y1, X0)

rpnext:
	ADDQ R11, DI
	DECQ BX
	JMP rphead

rpdone:
	VZEROUPPER
	RET

// EXPF_Y sets p to e^x for the eight lanes of x, with Y9-Y13 holding
// the constants at DX (swiGLUConsts: the clamp, log2 e, ln 2 in two
// parts) and the rest (1, the polynomial's) read from DX as they are used: Cephes'
// expf, as the Go expf, with fused multiply-adds. x is first clamped to
// [−87, 88], where 2^n is a normal float32 and adding n to p's exponent
// is exact, so it gives e^−87 below and e^88 above (n, r: scratch; x is
// kept).
#define EXPF_Y(x, n, r, p) \
	VMAXPS Y9, x, r \
	VMINPS Y10, r, r \
	VMULPS Y11, r, n \
	VROUNDPS $0, n, n \
	VFNMADD231PS Y12, n, r \
	VFNMADD231PS Y13, n, r \
	VBROADCASTSS 24(DX), p \
	EXPF_POLY(r, p) \
	VCVTPS2DQ n, n \
	VPSLLD $23, n, n \
	VPADDD n, p, p

// EXPF_POLY finishes EXPF_Y's polynomial from p = c0 (Y14 scratch):
// Horner's steps with c1-c5, then p·r² + r + 1.
#define EXPF_POLY(r, p) \
	VBROADCASTSS 28(DX), Y14 \
	VFMADD213PS Y14, r, p \
	VBROADCASTSS 32(DX), Y14 \
	VFMADD213PS Y14, r, p \
	VBROADCASTSS 36(DX), Y14 \
	VFMADD213PS Y14, r, p \
	VBROADCASTSS 40(DX), Y14 \
	VFMADD213PS Y14, r, p \
	VBROADCASTSS 44(DX), Y14 \
	VFMADD213PS Y14, r, p \
	VMULPS r, r, Y14 \
	VFMADD213PS r, Y14, p \
	VBROADCASTSS 20(DX), Y14 \
	VADDPS Y14, p, p

// func expSubAVX2(s *float32, m float32, n int, c *[12]float32) float32
//
// s[j] = e^(s[j]−m) for n a multiple of 8 (EXPF_Y; 0 where s[j]−m <
// −87, whose e^ is below 1.7e−38), returning their sum: eight lanes
// added as they go, then across in one fixed tree, so the order depends
// on n alone.
TEXT ·expSubAVX2(SB), NOSPLIT, $0-36
	MOVQ s+0(FP), DI
	VBROADCASTSS m+8(FP), Y8
	MOVQ n+16(FP), CX
	MOVQ c+24(FP), DX
	VBROADCASTSS 0(DX), Y9
	VBROADCASTSS 4(DX), Y10
	VBROADCASTSS 8(DX), Y11
	VBROADCASTSS 12(DX), Y12
	VBROADCASTSS 16(DX), Y13
	VXORPS Y15, Y15, Y15

esloop:
	CMPQ CX, $8
	JLT esdone
	VMOVUPS (DI), Y0
	VSUBPS Y8, Y0, Y0
	EXPF_Y(Y0, Y1, Y2, Y3)
	VCMPPS $0x0d, Y9, Y0, Y1 // x ≥ −87
	VANDPS Y1, Y3, Y3
	VADDPS Y3, Y15, Y15
	VMOVUPS Y3, (DI)
	ADDQ $32, DI
	SUBQ $8, CX
	JMP esloop

esdone:
	VEXTRACTF128 $1, Y15, X1
	VADDPS X1, X15, X0
	VPERMILPS $0x4E, X0, X1
	VADDPS X1, X0, X0
	VPERMILPS $0xB1, X0, X1
	VADDSS X1, X0, X0
	VZEROUPPER
	MOVSS X0, ret+32(FP)
	RET
