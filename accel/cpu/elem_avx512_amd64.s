//go:build !purego

#include "textflag.h"

// AVX-512 (F) elementwise primitives (elem_amd64.go): elem_amd64.s's
// AVX2 ones in 16 lanes, and SwiGLU. The exponential's constants live in
// Z20-Z31 (EXPF_CONSTS); no opmasks but expSubAVX512's K1.

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

// EXPF_Z sets p to e^x for the 16 lanes of x: elem_amd64.s's EXPF_Y
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
	MOVQ out+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ w+16(FP), DX
	VBROADCASTSS s+24(FP), Z0
	MOVQ n+32(FP), CX

zsm64:
	CMPQ CX, $64
	JLT zsm16
	VMULPS (SI), Z0, Z1
	VMULPS 64(SI), Z0, Z2
	VMULPS 128(SI), Z0, Z3
	VMULPS 192(SI), Z0, Z4
	VMULPS (DX), Z1, Z1
	VMULPS 64(DX), Z2, Z2
	VMULPS 128(DX), Z3, Z3
	VMULPS 192(DX), Z4, Z4
	VMOVUPS Z1, (DI)
	VMOVUPS Z2, 64(DI)
	VMOVUPS Z3, 128(DI)
	VMOVUPS Z4, 192(DI)
	ADDQ $256, SI
	ADDQ $256, DX
	ADDQ $256, DI
	SUBQ $64, CX
	JMP zsm64

zsm16:
	CMPQ CX, $16
	JLT zsmdone
	VMULPS (SI), Z0, Z1
	VMULPS (DX), Z1, Z1
	VMOVUPS Z1, (DI)
	ADDQ $64, SI
	ADDQ $64, DX
	ADDQ $64, DI
	SUBQ $16, CX
	JMP zsm16

zsmdone:
	VZEROUPPER
	RET

// ROPE8(off, toff, a, b, ya) is elem_amd64.s's ROPE4 for eight values:
// VPERMILPD $0x55 swaps the two float64 of each of the four 128-bit
// lanes.
#define ROPE8(off, toff, a, b, ya) \
	VCVTPS2PD off(SI), a \
	VPERMILPD $0x55, a, b \
	VMULPD toff(R8), a, a \
	VMULPD toff(R9), b, b \
	VADDPD b, a, a \
	VCVTPD2PS a, ya \
	VMOVUPS ya, off(SI)

// func ropeAVX512(x *float32, cs, sn *float64, m, stride, heads int)
//
// ropeAVX2 with m a multiple of 8: 16 values at a time, then eight.
TEXT ·ropeAVX512(SB), NOSPLIT, $0-48
	MOVQ x+0(FP), DI
	MOVQ m+24(FP), R10
	MOVQ stride+32(FP), R11
	MOVQ heads+40(FP), BX

zrphead:
	TESTQ BX, BX
	JZ zrpdone
	MOVQ DI, SI
	MOVQ cs+8(FP), R8
	MOVQ sn+16(FP), R9
	MOVQ R10, CX

zrp16:
	CMPQ CX, $16
	JLT zrp8
	ROPE8(0, 0, Z0, Z1, Y0)
	ROPE8(32, 64, Z2, Z3, Y2)
	ADDQ $64, SI
	ADDQ $128, R8
	ADDQ $128, R9
	SUBQ $16, CX
	JMP zrp16

zrp8:
	CMPQ CX, $8
	JLT zrpnext
	ROPE8(0, 0, Z0, Z1, Y0)

zrpnext:
	ADDQ R11, DI
	DECQ BX
	JMP zrphead

zrpdone:
	VZEROUPPER
	RET

// func expSubAVX512(s *float32, m float32, n int, c *[12]float32) float32
//
// expSubAVX2 in 16 lanes for n a multiple of 16; the lanes below −87
// are zeroed through K1. The sum is one 16-lane accumulator, added
// across as simd_avx512_amd64.s's HSUM_Z does.
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
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VPERMILPS $0x4E, X0, X1
	VADDPS X1, X0, X0
	VPERMILPS $0xB1, X0, X1
	VADDSS X1, X0, X0
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
