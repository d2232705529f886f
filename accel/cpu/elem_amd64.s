//go:build !purego

#include "textflag.h"

// Elementwise primitives (elem_amd64.go): RMSNorm's scaling, RoPE's
// rotation and attention's exponentials in AVX2, then in AVX-512 with
// SwiGLU. Each takes a count that is a multiple of its vector width; the
// wrappers (elem_asm.go) do the tails. The macros with arguments named
// as in a function's frame (SCALE_MUL, ROPE_HEADS) stand ahead of the
// functions, where go vet does not take those names for the arguments of
// the function above them.

// SCALE_MUL(S, A, B, C, D, N, VB) is the body of a scaleMul primitive
// (out, x, w, s, n) in vectors of N lanes (VB bytes): s broadcast to S,
// four vectors at a time in A-D while n allows, then one.
#define SCALE_MUL(S, A, B, C, D, N, VB) \
	MOVQ out+0(FP), DI \
	MOVQ x+8(FP), SI \
	MOVQ w+16(FP), DX \
	VBROADCASTSS s+24(FP), S \
	MOVQ n+32(FP), CX \
smfour: \
	CMPQ CX, $(4*N) \
	JLT smone \
	VMULPS (SI), S, A \
	VMULPS VB(SI), S, B \
	VMULPS (2*VB)(SI), S, C \
	VMULPS (3*VB)(SI), S, D \
	VMULPS (DX), A, A \
	VMULPS VB(DX), B, B \
	VMULPS (2*VB)(DX), C, C \
	VMULPS (3*VB)(DX), D, D \
	VMOVUPS A, (DI) \
	VMOVUPS B, VB(DI) \
	VMOVUPS C, (2*VB)(DI) \
	VMOVUPS D, (3*VB)(DI) \
	ADDQ $(4*VB), SI \
	ADDQ $(4*VB), DX \
	ADDQ $(4*VB), DI \
	SUBQ $(4*N), CX \
	JMP smfour \
smone: \
	CMPQ CX, $N \
	JLT smdone \
	VMULPS (SI), S, A \
	VMULPS (DX), A, A \
	VMOVUPS A, (DI) \
	ADDQ $VB, SI \
	ADDQ $VB, DX \
	ADDQ $VB, DI \
	SUBQ $N, CX \
	JMP smone \
smdone: \
	VZEROUPPER \
	RET

// ROPE_HEADS(pair, single, n2, n1, xb, tb) is the body of a rope
// primitive (x, cs, sn, m, stride, heads): per head, pair rotates 2·n1
// values (xb bytes of x, tb of each table) at a time while m allows,
// then single rotates n1 if left (m is a multiple of n1).
#define ROPE_HEADS(pair, single, n2, n1, xb, tb) \
	MOVQ x+0(FP), DI \
	MOVQ m+24(FP), R10 \
	MOVQ stride+32(FP), R11 \
	MOVQ heads+40(FP), BX \
rphead: \
	TESTQ BX, BX \
	JZ rpdone \
	MOVQ DI, SI \
	MOVQ cs+8(FP), R8 \
	MOVQ sn+16(FP), R9 \
	MOVQ R10, CX \
rppair: \
	CMPQ CX, $n2 \
	JLT rpsingle \
	pair \
	ADDQ $xb, SI \
	ADDQ $tb, R8 \
	ADDQ $tb, R9 \
	SUBQ $n2, CX \
	JMP rppair \
rpsingle: \
	CMPQ CX, $n1 \
	JLT rpnext \
	single \
rpnext: \
	ADDQ R11, DI \
	DECQ BX \
	JMP rphead \
rpdone: \
	VZEROUPPER \
	RET

// FOLD_Y0 adds the eight float32 lanes of Y0 into X0's lowest, always
// in the same tree: the two 128-bit halves, lanes two apart, neighbours
// (X1 scratch).
#define FOLD_Y0 \
	VEXTRACTF128 $1, Y0, X1 \
	VADDPS X1, X0, X0 \
	VPERMILPS $0x4E, X0, X1 \
	VADDPS X1, X0, X0 \
	VPERMILPS $0xB1, X0, X1 \
	VADDSS X1, X0, X0

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
	SCALE_MUL(Y0, Y1, Y2, Y3, Y4, 8, 32)

// ROPE4(off, toff, a, b, xa) rotates the four values at off(SI) with the
// tables' four entries at toff (= 2·off) of R8 (cs) and R9 (sn): widened
// to float64 in a, the pair neighbours swapped into b (VPERMILPD swaps
// the two float64 of each 128-bit lane, which hold one pair), a·cs + b·sn
// with separate multiplies and add, rounded back to float32 (to nearest,
// as Go's conversion).
#define ROPE4(off, toff, a, b, xa) ROPE_STEP(off, toff, a, b, xa, $5, VCVTPD2PSY)

// ROPE_STEP is ROPE4 and ROPE8 with the swap's selector and the
// narrowing's mnemonic for the vector's width.
#define ROPE_STEP(off, toff, a, b, na, swap, narrow) \
	VCVTPS2PD off(SI), a \
	VPERMILPD swap, a, b \
	VMULPD toff(R8), a, a \
	VMULPD toff(R9), b, b \
	VADDPD b, a, a \
	narrow a, na \
	VMOVUPS na, off(SI)

#define ROPE4_PAIR \
	ROPE4(0, 0, Y0, Y1, X0) \
	ROPE4(16, 32, Y2, Y3, X2)

#define ROPE4_SINGLE ROPE4(0, 0, Y0, Y1, X0)

// func ropeAVX2(x *float32, cs, sn *float64, m, stride, heads int)
//
// The rope primitive for the first m values (a multiple of 4) of each of
// heads heads stride bytes apart: eight values at a time, then four.
TEXT ·ropeAVX2(SB), NOSPLIT, $0-48
	ROPE_HEADS(ROPE4_PAIR, ROPE4_SINGLE, 8, 4, 32, 64)

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
	VMOVAPS Y15, Y0
	FOLD_Y0
	VZEROUPPER
	MOVSS X0, ret+32(FP)
	RET

// AVX-512 (F): the AVX2 primitives in 16 lanes, and SwiGLU. The
// exponential's constants live in Z20-Z31 (EXPF_CONSTS); no opmasks but
// expSubAVX512's K1.

// EXPF_CONSTS broadcasts the constants at DX (swiGLUConsts) to Z20-Z31:
// the clamp, log2 e, ln 2 in two parts, 1, then the polynomial's six.
#define EXPF_CONSTS \
	VBROADCASTSS 0(DX), Z20 \
	VBROADCASTSS 4(DX), Z21 \
	VBROADCASTSS 8(DX), Z22 \
	VBROADCASTSS 12(DX), Z23 \
	VBROADCASTSS 16(DX), Z24 \
	VBROADCASTSS 20(DX), Z25 \
	VBROADCASTSS 24(DX), Z26 \
	VBROADCASTSS 28(DX), Z27 \
	VBROADCASTSS 32(DX), Z28 \
	VBROADCASTSS 36(DX), Z29 \
	VBROADCASTSS 40(DX), Z30 \
	VBROADCASTSS 44(DX), Z31

// EXPF_Z sets p to e^x for the 16 lanes of x: EXPF_Y's arithmetic
// (x clamped to [−87, 88], Cephes' expf with fused multiply-adds, 2^n
// added to the exponent), VRNDSCALEPS rounding to nearest as VROUNDPS
// does there (n, r, t: scratch; x is kept).
#define EXPF_Z(x, n, r, p, t) \
	VMAXPS Z20, x, r \
	VMINPS Z21, r, r \
	VMULPS Z22, r, n \
	VRNDSCALEPS $0, n, n \
	VFNMADD231PS Z23, n, r \
	VFNMADD231PS Z24, n, r \
	VMOVAPS Z26, p \
	VFMADD213PS Z27, r, p \
	VFMADD213PS Z28, r, p \
	VFMADD213PS Z29, r, p \
	VFMADD213PS Z30, r, p \
	VFMADD213PS Z31, r, p \
	VMULPS r, r, t \
	VFMADD213PS r, t, p \
	VADDPS Z25, p, p \
	VCVTPS2DQ n, n \
	VPSLLD $23, n, n \
	VPADDD n, p, p

// func scaleMulAVX512(out, x, w *float32, s float32, n int)
//
// out[i] = (x[i]·s)·w[i] for n a multiple of 16, 64 at a time while n
// allows (scaleMulAVX2's two multiplies).
TEXT ·scaleMulAVX512(SB), NOSPLIT, $0-40
	SCALE_MUL(Z0, Z1, Z2, Z3, Z4, 16, 64)

// ROPE8(off, toff, a, b, ya) is ROPE4 for eight values:
// VPERMILPD $0x55 swaps the two float64 of each of the four 128-bit
// lanes.
#define ROPE8(off, toff, a, b, ya) ROPE_STEP(off, toff, a, b, ya, $0x55, VCVTPD2PS)

#define ROPE8_PAIR \
	ROPE8(0, 0, Z0, Z1, Y0) \
	ROPE8(32, 64, Z2, Z3, Y2)

#define ROPE8_SINGLE ROPE8(0, 0, Z0, Z1, Y0)

// func ropeAVX512(x *float32, cs, sn *float64, m, stride, heads int)
//
// ropeAVX2 with m a multiple of 8: 16 values at a time, then eight.
TEXT ·ropeAVX512(SB), NOSPLIT, $0-48
	ROPE_HEADS(ROPE8_PAIR, ROPE8_SINGLE, 16, 8, 64, 128)

// func expSubAVX512(s *float32, m float32, n int, c *[12]float32) float32
//
// expSubAVX2 in 16 lanes for n a multiple of 16; the lanes below −87
// are zeroed through K1. The sum is one 16-lane accumulator, added
// across in a fixed tree: its 256-bit halves, then FOLD_Y0.
TEXT ·expSubAVX512(SB), NOSPLIT, $0-36
	MOVQ s+0(FP), DI
	VBROADCASTSS m+8(FP), Z19
	MOVQ n+16(FP), CX
	MOVQ c+24(FP), DX
	EXPF_CONSTS
	VPXORD Z5, Z5, Z5

zesloop:
	CMPQ CX, $16
	JLT zesdone
	VMOVUPS (DI), Z0
	VSUBPS Z19, Z0, Z0
	EXPF_Z(Z0, Z1, Z2, Z3, Z4)
	VCMPPS $0x0d, Z20, Z0, K1 // x ≥ −87
	VMOVAPS.Z Z3, K1, Z3
	VADDPS Z3, Z5, Z5
	VMOVUPS Z3, (DI)
	ADDQ $64, DI
	SUBQ $16, CX
	JMP zesloop

zesdone:
	VEXTRACTF64X4 $1, Z5, Y1
	VADDPS Y1, Y5, Y0
	FOLD_Y0
	VZEROUPPER
	MOVSS X0, ret+32(FP)
	RET

// func swiGLUAVX512(gate, up *float32, n int, c *[12]float32)
//
// swiGLUAVX2 in 16 lanes for n a multiple of 16: gate[i] = g/(1+e^−g)
// · up[i], e^−g by EXPF_Z (so e^87 for g > 87, where g/(1+e^−g) is g
// anyway, and e^88 for g < −88: |silu(g)| < 1e−36 instead of about 0).
TEXT ·swiGLUAVX512(SB), NOSPLIT, $0-32
	MOVQ gate+0(FP), DI
	MOVQ up+8(FP), SI
	MOVQ n+16(FP), CX
	MOVQ c+24(FP), DX
	EXPF_CONSTS
	VPXORD Z7, Z7, Z7

zswloop:
	CMPQ CX, $16
	JLT zswdone
	VMOVUPS (DI), Z0
	VSUBPS Z0, Z7, Z1 // x = −g
	EXPF_Z(Z1, Z2, Z3, Z4, Z5)
	VADDPS Z25, Z4, Z4
	VDIVPS Z4, Z0, Z0
	VMULPS (SI), Z0, Z0
	VMOVUPS Z0, (DI)
	ADDQ $64, DI
	ADDQ $64, SI
	SUBQ $16, CX
	JMP zswloop

zswdone:
	VZEROUPPER
	RET
