//go:build !purego

#include "textflag.h"

// Q6_K dots for AVX2 + FMA + F16C (q6k_amd64.go's dotQ6KAVX2,
// dotQ6Kx4AVX2). A super-block is 210 bytes: 128 bytes ql (low four
// bits of the quants), 64 bytes qh (top two bits), sixteen int8 scales
// at 192 and the f16 d at 208 (gguf/q6_k.go has the bit layout).
//
// Each block is first decoded to the stack: its 256 quants, centred
// (q − 32, int8), at q-320(SP), and its sixteen steps d·sc[j] (float32)
// at steps-64(SP). Decoding a whole half (128 quants) with 32-byte
// vector operations costs about a quarter of widening each 8 quants
// from ql and qh separately. Then, per 16-weight sub-block j, the
// quants are widened to float32 from the stack, multiplied by the 16
// activations (one multiply and one FMA into eight lanes), and that
// times the step is added into one of two accumulators, even
// sub-blocks in one and odd in the other: with one, the chain of FMAs
// into it (four cycles each, sixteen per block) was longer than the
// rest of the block's work. The two are added, then their lanes, at
// the end. Each token of dotQ6Kx4AVX2 runs these same operations in
// the same order, so its results have dotQ6KAVX2's bits.

// Q6K_CONSTS sets Y15 to bytes 0x0f, Y14 to bytes 0x30 and Y13 to bytes
// 32.
#define Q6K_CONSTS \
	VPCMPEQW Y15, Y15, Y15 \
	VPSRLW $12, Y15, Y15 \
	VPACKUSWB Y15, Y15, Y15 \
	VPSRLW $2, Y15, Y14 \
	VPAND Y15, Y14, Y14 \
	VPSLLW $4, Y14, Y14 \
	VPCMPEQW Y13, Y13, Y13 \
	VPSRLW $15, Y13, Y13 \
	VPACKUSWB Y13, Y13, Y13 \
	VPSLLW $5, Y13, Y13

// PREFETCH_Q6K prefetches 256 bytes 2 KiB ahead of SI: with blocks 210
// bytes apart, every line of the stream once or twice.
#define PREFETCH_Q6K \
	PREFETCHT0 2048(SI) \
	PREFETCHT0 2112(SI) \
	PREFETCHT0 2176(SI) \
	PREFETCHT0 2240(SI)

// Q6K_QUARTER finishes quarter k of a half: lo holds its low nibbles
// (already masked), hi its qh bits shifted to bits 4-5 (not yet
// masked); it stores lo | hi&0x30, minus 32, at off.
#define Q6K_QUARTER(lo, hi, off) \
	VPAND Y14, hi, hi \
	VPOR hi, lo, lo \
	VPSUBB Y13, lo, lo \
	VMOVDQU lo, off

// Q6K_SPLIT loads half h's ql and qh bytes of the block at SI: the low
// nibbles of ql to Y8, the high ones to Y10, qh to Y9 and qh shifted
// left by four to Y11 (Y15: bytes 0x0f).
#define Q6K_SPLIT(h) \
	VMOVDQU 128+32*h(SI), Y9 \
	VMOVDQU 64*h(SI), Y8 \
	VPSRLW $4, Y8, Y10 \
	VPAND Y15, Y8, Y8 \
	VPAND Y15, Y10, Y10 \
	VPSLLW $4, Y9, Y11

// Q6K_HALF decodes half h (weights 128h..128h+127) of the block at SI
// into the stack (Y8-Y11 scratch): quarter k (32 weights) takes the low
// nibbles (k < 2) or high nibbles (k ≥ 2) of ql bytes 64h+32·(k%2)+l
// and bits 2k, 2k+1 of qh bytes 128+32h+l.
#define Q6K_HALF(h) \
	Q6K_SPLIT(h) \
	Q6K_QUARTER(Y8, Y11, q-320+128*h(SP)) \
	VMOVDQA Y9, Y11 \
	Q6K_QUARTER(Y10, Y11, q-256+128*h(SP)) \
	VMOVDQU 64*h+32(SI), Y8 \
	VPSRLW $4, Y8, Y10 \
	VPAND Y15, Y8, Y8 \
	VPAND Y15, Y10, Y10 \
	VPSLLW $2, Y9, Y11 \
	Q6K_QUARTER(Y8, Y11, q-288+128*h(SP)) \
	VPSRLW $2, Y9, Y11 \
	Q6K_QUARTER(Y10, Y11, q-224+128*h(SP))

// Q6K_DECODE decodes the block at SI: quants and steps to the stack
// (AX, Y8-Y11 scratch).
#define Q6K_DECODE \
	Q6K_HALF(0) \
	Q6K_HALF(1) \
	MOVWLZX 208(SI), AX \
	VMOVD AX, X8 \
	VCVTPH2PS X8, X8 \
	VBROADCASTSS X8, Y8 \
	VPMOVSXBD 192(SI), Y9 \
	VPMOVSXBD 200(SI), Y10 \
	VCVTDQ2PS Y9, Y9 \
	VCVTDQ2PS Y10, Y10 \
	VMULPS Y8, Y9, Y9 \
	VMULPS Y8, Y10, Y10 \
	VMOVUPS Y9, steps-64(SP) \
	VMOVUPS Y10, steps-32(SP)

// Q6K_WIDEN widens sub-block j's 16 quants from the stack to float32 in
// w0, w1 and broadcasts its step into s.
#define Q6K_WIDEN(j, w0, w1, s) \
	VPMOVSXBD q-320+16*j(SP), w0 \
	VPMOVSXBD q-312+16*j(SP), w1 \
	VCVTDQ2PS w0, w0 \
	VCVTDQ2PS w1, w1 \
	VBROADCASTSS steps-64+4*j(SP), s

// Q6K_SUB multiplies the widened sub-block w0, w1 by the 16 activations
// at m into t, then adds t times the step s into acc.
#define Q6K_SUB(m, w0, w1, t, s, acc) \
	VMULPS m, w0, t \
	VFMADD231PS 32+m, w1, t \
	VFMADD231PS t, s, acc

// Q6K_HSUM adds the eight lanes of y into x's lowest one (x is y's low
// half; t scratch).
#define Q6K_HSUM(y, x, t) \
	VEXTRACTF128 $1, y, t \
	VADDPS t, x, x \
	VPERMILPS $0x4E, x, t \
	VADDPS t, x, x \
	VPERMILPS $0xB1, x, t \
	VADDSS t, x, x

// Q6K_STORE stores y's lane sum (Q6K_HSUM; x is y's low half, X8
// scratch) at DX and moves DX on by BX.
#define Q6K_STORE(y, x) \
	Q6K_HSUM(y, x, X8) \
	MOVSS x, (DX) \
	ADDQ BX, DX

// Q6K_PAIRS runs the macro pair(j, k) on the block's sub-blocks two at a
// time, even j and odd k = j+1. (Macro arguments are pasted as text, so
// k is spelled out: j+1 would bind as 16*j+1 in an offset.)
#define Q6K_PAIRS(pair) \
	pair(0, 1) \
	pair(2, 3) \
	pair(4, 5) \
	pair(6, 7) \
	pair(8, 9) \
	pair(10, 11) \
	pair(12, 13) \
	pair(14, 15)

// func dotQ6KAVX2(w *byte, x *float32, nb int) float32
TEXT ·dotQ6KAVX2(SB), NOSPLIT, $320-28
	MOVQ w+0(FP), SI
	MOVQ x+8(FP), DI
	MOVQ nb+16(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	Q6K_CONSTS

q1loop:
	TESTQ CX, CX
	JZ q1done
	PREFETCH_Q6K
	Q6K_DECODE

#define K1_PAIR(j, k) \
	Q6K_WIDEN(j, Y2, Y3, Y4) \
	Q6K_SUB(64*j(DI), Y2, Y3, Y5, Y4, Y0) \
	Q6K_WIDEN(k, Y6, Y7, Y8) \
	Q6K_SUB(64*k(DI), Y6, Y7, Y9, Y8, Y1)

	Q6K_PAIRS(K1_PAIR)
	ADDQ $210, SI
	ADDQ $1024, DI
	DECQ CX
	JMP q1loop

q1done:
	VADDPS Y1, Y0, Y0
	Q6K_HSUM(Y0, X0, X1)
	VZEROUPPER
	MOVSS X0, ret+24(FP)
	RET

// func dotQ6Kx4AVX2(w *byte, x *float32, stride, nb int, out *float32, outStride int)
//
// dotQ6KAVX2 of one row against four tokens (activations at x, x+stride,
// …, in bytes) into out, out+outStride, …: each block is decoded once
// for the four. Accumulators: token t's even sub-blocks in Y(2t), odd
// in Y(2t+1).
TEXT ·dotQ6Kx4AVX2(SB), NOSPLIT, $320-48
	MOVQ w+0(FP), SI
	MOVQ x+8(FP), DI
	MOVQ stride+16(FP), BX
	MOVQ nb+24(FP), CX
	LEAQ (DI)(BX*2), R8 // token 2's activations
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	Q6K_CONSTS

q4loop:
	TESTQ CX, CX
	JZ q4done
	PREFETCH_Q6K
	Q6K_DECODE

#define K4_SUB(j, a0, a1, a2, a3) \
	Q6K_WIDEN(j, Y8, Y9, Y10) \
	Q6K_SUB(64*j(DI), Y8, Y9, Y11, Y10, a0) \
	Q6K_SUB(64*j(DI)(BX*1), Y8, Y9, Y11, Y10, a1) \
	Q6K_SUB(64*j(R8), Y8, Y9, Y11, Y10, a2) \
	Q6K_SUB(64*j(R8)(BX*1), Y8, Y9, Y11, Y10, a3)

#define K4_PAIR(j, k) \
	K4_SUB(j, Y0, Y2, Y4, Y6) \
	K4_SUB(k, Y1, Y3, Y5, Y7)

	Q6K_PAIRS(K4_PAIR)
	ADDQ $210, SI
	ADDQ $1024, DI
	ADDQ $1024, R8
	DECQ CX
	JMP q4loop

q4done:
	MOVQ out+32(FP), DX
	MOVQ outStride+40(FP), BX
	VADDPS Y1, Y0, Y0
	VADDPS Y3, Y2, Y2
	VADDPS Y5, Y4, Y4
	VADDPS Y7, Y6, Y6
	Q6K_STORE(Y0, X0)
	Q6K_STORE(Y2, X2)
	Q6K_STORE(Y4, X4)
	Q6K_STORE(Y6, X6)
	VZEROUPPER
	RET

// Q6_K on activations quantized in blocks of 256 (prepareActs, the
// Q8_K layout: dotQ6KQ8KAVX2 one token, dotQ6KQ8Kx4AVX2 four). The block
// is decoded to the stack as above (centred quants, Q6K_HALF) and its
// sixteen int8 scales widened to int16 at sc-64(SP). Per group of 32
// quants (sub-blocks 2g and 2g+1), VPSIGNB moves each quant's sign onto
// the activation and VPMADDUBSW multiplies |q−32| (≤ 32) by it (a pair
// stays within 2·32·127), VPMADDWD by the two sub-blocks' scales (the
// low eight int16 lanes the first's, the high eight the second's) into
// eight int32 lanes, lane m holding bytes 4m..4m+3 of every group (at
// most 8·4·32·127·128 < 2^24, so exact as float32). Per block the
// lanes are converted and fused with d·xd into eight float32 chains,
// which are added at the end as Q6K_HSUM does: dotQ6KQ8KGo's bits.

// Q6K8_DECODE decodes the block at SI: centred quants to q-320(SP),
// scales as int16 to sc-64(SP) (Y8-Y11 scratch).
#define Q6K8_DECODE \
	Q6K_HALF(0) \
	Q6K_HALF(1) \
	VPMOVSXBW 192(SI), Y8 \
	VMOVDQU Y8, sc-64(SP)

// Q6K8_GROUP sets Y8 to group g's scales (sub-block 2g in the low
// lanes, 2g+1 in the high) and Y9 to its quants' magnitudes.
#define Q6K8_GROUP(g) \
	VPBROADCASTW sc-64+4*g(SP), X8 \
	VPBROADCASTW sc-62+4*g(SP), X9 \
	VINSERTI128 $1, X9, Y8, Y8 \
	VPABSB q-320+32*g(SP), Y9

// Q6K8_TOKEN adds group g's products with the 32 quants at m into the
// int32 lanes of acc (Y10 scratch).
#define Q6K8_TOKEN(g, m, acc) \
	VMOVDQU m, Y10 \
	VPSIGNB q-320+32*g(SP), Y10, Y10 \
	VPMADDUBSW Y10, Y9, Y10 \
	VPMADDWD Y8, Y10, Y10 \
	VPADDD Y10, acc, acc

// Q6K8_FOLD fuses a token's block into its chains acc: the int32 lanes
// ia (cleared after) times d·xd, d as float32 in X11, xd at m (X12, Y12
// scratch).
#define Q6K8_FOLD(m, ia, acc) \
	VCVTDQ2PS ia, ia \
	VMULSS m, X11, X12 \
	VBROADCASTSS X12, Y12 \
	VFMADD231PS ia, Y12, acc \
	VPXOR ia, ia, ia

// Q6K8_D sets X11 to the block's d as float32.
#define Q6K8_D \
	MOVWLZX 208(SI), AX \
	VMOVD AX, X11 \
	VCVTPH2PS X11, X11

// func dotQ6KQ8KAVX2(w *byte, xq *int8, xd *float32, nb int) float32
//
// One token: each group's centred quants are built in a register and
// used there (Q6K8_QUARTER), where the four-token dot stores the block
// for its four tokens to read; the integer lanes are the same (exact
// sums, in any order), so are the bits.

// Q6K8_USE adds group g's products, its centred quants in q, with the
// token's 32 quants at 32g(DI) into Y1 (Y2-Y6 scratch).
#define Q6K8_USE(g, q) \
	VPBROADCASTW sc-64+4*g(SP), X2 \
	VPBROADCASTW sc-62+4*g(SP), X5 \
	VINSERTI128 $1, X5, Y2, Y2 \
	VPABSB q, Y3 \
	VMOVDQU 32*g(DI), Y4 \
	VPSIGNB q, Y4, Y4 \
	VPMADDUBSW Y4, Y3, Y4 \
	VPMADDWD Y2, Y4, Y4 \
	VPADDD Y4, Y1, Y1

// Q6K8_QUARTER makes a group's centred quants in lo: its low bits (lo,
// masked) or its top bits (hi, shifted to bits 4-5, not yet masked),
// less 32.
#define Q6K8_QUARTER(lo, hi) \
	VPAND Y14, hi, hi \
	VPOR hi, lo, lo \
	VPSUBB Y13, lo, lo

// Q6K8_HALF adds half h's four groups (weights 128h..128h+127; the
// quarters as Q6K_HALF builds them) into Y1 (Y7-Y11 scratch).
#define Q6K8_HALF(h, g0, g1, g2, g3) \
	Q6K_SPLIT(h) \
	Q6K8_QUARTER(Y8, Y11) \
	Q6K8_USE(g0, Y8) \
	VMOVDQA Y9, Y11 \
	Q6K8_QUARTER(Y10, Y11) \
	Q6K8_USE(g2, Y10) \
	VMOVDQU 64*h+32(SI), Y8 \
	VPSRLW $4, Y8, Y10 \
	VPAND Y15, Y8, Y8 \
	VPAND Y15, Y10, Y10 \
	VPSLLW $2, Y9, Y11 \
	Q6K8_QUARTER(Y8, Y11) \
	Q6K8_USE(g1, Y8) \
	VPSRLW $2, Y9, Y11 \
	Q6K8_QUARTER(Y10, Y11) \
	Q6K8_USE(g3, Y10)

TEXT ·dotQ6KQ8KAVX2(SB), NOSPLIT, $64-36
	MOVQ w+0(FP), SI
	MOVQ xq+8(FP), DI
	MOVQ xd+16(FP), R8
	MOVQ nb+24(FP), CX
	VXORPS Y0, Y0, Y0
	VPXOR Y1, Y1, Y1
	Q6K_CONSTS
	TESTQ CX, CX
	JZ k8done

k8loop:
	PREFETCH_Q6K
	VPMOVSXBW 192(SI), Y8
	VMOVDQU Y8, sc-64(SP)
	Q6K8_HALF(0, 0, 1, 2, 3)
	Q6K8_HALF(1, 4, 5, 6, 7)
	Q6K8_D
	Q6K8_FOLD((R8), Y1, Y0)
	ADDQ $210, SI
	ADDQ $256, DI
	ADDQ $4, R8
	DECQ CX
	JNZ k8loop

k8done:
	Q6K_HSUM(Y0, X0, X1)
	VZEROUPPER
	MOVSS X0, ret+32(FP)
	RET

// func dotQ6KQ8Kx4AVX2(w *byte, xq *int8, xd *float32, nb int, out *float32, outStride int)
//
// dotQ6KQ8KAVX2 of one row against four tokens, whose quants and scales
// are 256·nb and 4·nb bytes apart, into out, out+outStride, … (bytes):
// each block decoded once for the four, and per token the operations of
// the single one. Chains in Y0-Y3, int32 lanes in Y4-Y7.
TEXT ·dotQ6KQ8Kx4AVX2(SB), NOSPLIT, $320-48
	MOVQ w+0(FP), SI
	MOVQ xq+8(FP), DI
	MOVQ xd+16(FP), R9
	MOVQ nb+24(FP), CX
	MOVQ CX, BX
	SHLQ $8, BX          // quants' stride
	LEAQ (DI)(BX*2), R8  // token 2's quants
	LEAQ 0(CX*4), R10    // scales' stride
	LEAQ (R10)(R10*2), R11
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VPXOR Y4, Y4, Y4
	VPXOR Y5, Y5, Y5
	VPXOR Y6, Y6, Y6
	VPXOR Y7, Y7, Y7
	Q6K_CONSTS
	TESTQ CX, CX
	JZ k84done

k84loop:
	PREFETCH_Q6K
	Q6K8_DECODE

#define K84_GROUP(g) \
	Q6K8_GROUP(g) \
	Q6K8_TOKEN(g, 32*g(DI), Y4) \
	Q6K8_TOKEN(g, 32*g(DI)(BX*1), Y5) \
	Q6K8_TOKEN(g, 32*g(R8), Y6) \
	Q6K8_TOKEN(g, 32*g(R8)(BX*1), Y7)

	K84_GROUP(0)
	K84_GROUP(1)
	K84_GROUP(2)
	K84_GROUP(3)
	K84_GROUP(4)
	K84_GROUP(5)
	K84_GROUP(6)
	K84_GROUP(7)
	Q6K8_D
	Q6K8_FOLD((R9), Y4, Y0)
	Q6K8_FOLD((R9)(R10*1), Y5, Y1)
	Q6K8_FOLD((R9)(R10*2), Y6, Y2)
	Q6K8_FOLD((R9)(R11*1), Y7, Y3)
	ADDQ $210, SI
	ADDQ $256, DI
	ADDQ $256, R8
	ADDQ $4, R9
	DECQ CX
	JNZ k84loop

k84done:
	MOVQ out+32(FP), DX
	MOVQ outStride+40(FP), BX
	Q6K_STORE(Y0, X0)
	Q6K_STORE(Y1, X1)
	Q6K_STORE(Y2, X2)
	Q6K_STORE(Y3, X3)
	VZEROUPPER
	RET

// AVX-512 (F, BW, VL; q6k_amd64.go's dotQ6KAVX512, dotQ6Kx4AVX512). A
// sub-block is one Z register of 16 lanes. The block is decoded to the
// stack as for AVX2 (Q6K_DECODE, VEX on Y8-Y15); then per sub-block the
// quants are widened and multiplied by the broadcast step, which gives
// each weight as gguf.DequantizeQ6_K does (float32(d·sc) times q, one
// rounding), and one FMA per token adds the weights times the
// activations into the token's accumulator: the even sub-blocks into
// one, the odd into another (the FMA chain is the single token's
// bottleneck, as for AVX2). Accumulators live in Z16-Z23, which
// VZEROUPPER leaves alone. The two are added and the 16 lanes summed
// as halves, then Q6K_HSUM's tree; each token of the four-token
// function has the single one's operations, so its bits.

// Q6K_ZWIDEN sets z to sub-block j's 16 weights: its quants from the
// stack as float32 times its step.
#define Q6K_ZWIDEN(j, z) \
	VPMOVSXBD q-320+16*j(SP), z \
	VCVTDQ2PS z, z \
	VMULPS.BCST steps-64+4*j(SP), z, z

// Q6K_ZSUM adds the accumulators a and b (ya, yb: their lower halves;
// a's lanes destroyed) and sums the 16 lanes into X0 (Y1 scratch).
#define Q6K_ZSUM(a, b, ya) \
	VADDPS b, a, a \
	VEXTRACTF64X4 $1, a, Y1 \
	VADDPS Y1, ya, Y0 \
	Q6K_HSUM(Y0, X0, X1)

// func dotQ6KAVX512(w *byte, x *float32, nb int) float32
TEXT ·dotQ6KAVX512(SB), NOSPLIT, $320-28
	MOVQ w+0(FP), SI
	MOVQ x+8(FP), DI
	MOVQ nb+16(FP), CX
	VPXORD Z16, Z16, Z16
	VPXORD Z17, Z17, Z17
	Q6K_CONSTS

z1loop:
	TESTQ CX, CX
	JZ z1done
	PREFETCH_Q6K
	Q6K_DECODE

#define Z1_PAIR(j, k) \
	Q6K_ZWIDEN(j, Z2) \
	VFMADD231PS 64*j(DI), Z2, Z16 \
	Q6K_ZWIDEN(k, Z3) \
	VFMADD231PS 64*k(DI), Z3, Z17

	Q6K_PAIRS(Z1_PAIR)
	ADDQ $210, SI
	ADDQ $1024, DI
	DECQ CX
	JMP z1loop

z1done:
	Q6K_ZSUM(Z16, Z17, Y16)
	VZEROUPPER
	MOVSS X0, ret+24(FP)
	RET

// func dotQ6Kx4AVX512(w *byte, x *float32, stride, nb int, out *float32, outStride int)
//
// dotQ6KAVX512 of one row against four tokens (activations at x,
// x+stride, …, in bytes) into out, out+outStride, …: the block decoded
// and each sub-block's weights made once for the four. Token t's
// accumulators: Z(16+t) even sub-blocks, Z(20+t) odd.
TEXT ·dotQ6Kx4AVX512(SB), NOSPLIT, $320-48
	MOVQ w+0(FP), SI
	MOVQ x+8(FP), DI
	MOVQ stride+16(FP), BX
	MOVQ nb+24(FP), CX
	LEAQ (DI)(BX*2), R8 // token 2's activations
	VPXORD Z16, Z16, Z16
	VPXORD Z17, Z17, Z17
	VPXORD Z18, Z18, Z18
	VPXORD Z19, Z19, Z19
	VPXORD Z20, Z20, Z20
	VPXORD Z21, Z21, Z21
	VPXORD Z22, Z22, Z22
	VPXORD Z23, Z23, Z23
	Q6K_CONSTS

z4loop:
	TESTQ CX, CX
	JZ z4done
	PREFETCH_Q6K
	Q6K_DECODE

#define Z4_SUB(j, z, a0, a1, a2, a3) \
	Q6K_ZWIDEN(j, z) \
	VFMADD231PS 64*j(DI), z, a0 \
	VFMADD231PS 64*j(DI)(BX*1), z, a1 \
	VFMADD231PS 64*j(R8), z, a2 \
	VFMADD231PS 64*j(R8)(BX*1), z, a3

#define Z4_PAIR(j, k) \
	Z4_SUB(j, Z2, Z16, Z17, Z18, Z19) \
	Z4_SUB(k, Z3, Z20, Z21, Z22, Z23)

	Q6K_PAIRS(Z4_PAIR)
	ADDQ $210, SI
	ADDQ $1024, DI
	ADDQ $1024, R8
	DECQ CX
	JMP z4loop

z4done:
	MOVQ out+32(FP), DX
	MOVQ outStride+40(FP), BX
	Q6K_ZSUM(Z16, Z20, Y16)
	MOVSS X0, (DX)
	ADDQ BX, DX
	Q6K_ZSUM(Z17, Z21, Y17)
	MOVSS X0, (DX)
	ADDQ BX, DX
	Q6K_ZSUM(Z18, Z22, Y18)
	MOVSS X0, (DX)
	ADDQ BX, DX
	Q6K_ZSUM(Z19, Z23, Y19)
	MOVSS X0, (DX)
	VZEROUPPER
	RET
