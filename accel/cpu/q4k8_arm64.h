// The bodies of the int8 Q4_K dots (simd_arm64.s includes this twice,
// with KK_SUB, KK1_NAME and KK4_NAME defined): KK1_NAME is
//
// func(w *byte, xq *int8, xd *float32, bs *int16, nb int) float32
TEXT KK1_NAME(SB), NOSPLIT, $0-44
	MOVD w+0(FP), R0
	MOVD xq+8(FP), R1
	MOVD xd+16(FP), R2
	MOVD bs+24(FP), R3
	MOVD nb+32(FP), R4
	VMOVI $15, V15.B16
	VEOR V16.B16, V16.B16, V16.B16
	VEOR V17.B16, V17.B16, V17.B16
	VEOR V24.B16, V24.B16, V24.B16
	VEOR V25.B16, V25.B16, V25.B16

kkloop:
	CBZ R4, kkdone
	KK_SCMIN
	ADD $16, R0, R15
	KK_SPLIT
	KK_SUB(2, 3, R1, 6, 0, 16, 17)
	KK_SUB(4, 5, R1, 6, 1, 16, 17)
	KK_SPLIT
	KK_SUB(2, 3, R1, 6, 2, 16, 17)
	KK_SUB(4, 5, R1, 6, 3, 16, 17)
	KK_SPLIT
	KK_SUB(2, 3, R1, 7, 0, 16, 17)
	KK_SUB(4, 5, R1, 7, 1, 16, 17)
	KK_SPLIT
	KK_SUB(2, 3, R1, 7, 2, 16, 17)
	KK_SUB(4, 5, R1, 7, 3, 16, 17)
	KK_FOLD(R2, R3, 16, 17, V16, V17, V24, V25)
	ADD $4, R2
	ADD $144, R0
	SUB $1, R4
	B kkloop

kkdone:
	KK_SUM_TO_F0(24, 25, V24)
	FMOVS F0, ret+40(FP)
	RET

// and KK4_NAME
//
// func(w *byte, xq *int8, xd *float32, bs *int16, nb int, out *float32, outStride int)
//
// the same of one row against four tokens, whose quants, scales
// and sums are 256·nb, 4·nb and 16·nb bytes apart, into out,
// out+outStride, … (bytes): each block's scales are decoded and its
// nibbles split once for the four.
TEXT KK4_NAME(SB), NOSPLIT, $0-56
	MOVD w+0(FP), R0
	MOVD xq+8(FP), R1
	MOVD xd+16(FP), R2
	MOVD bs+24(FP), R3
	MOVD nb+32(FP), R4
	LSL $8, R4, R12
	ADD R12, R1, R9  // token 1's quants
	ADD R12, R9, R10 // token 2's
	ADD R12, R10, R11
	LSL $2, R4, R12  // scales' stride
	LSL $4, R4, R13  // sums' stride
	ADD R13, R3, R19 // token 1's sums
	ADD R13, R19, R20
	ADD R13, R20, R21
	VMOVI $15, V15.B16
	ZERO_V16_V31

#define KK4_GROUP(s, i) \
	KK_SPLIT \
	KK_SUB(2, 3, R1, s, i, 16, 17) \
	KK_SUB(2, 3, R9, s, i, 18, 19) \
	KK_SUB(2, 3, R10, s, i, 20, 21) \
	KK_SUB(2, 3, R11, s, i, 22, 23) \
	KK_SUB(4, 5, R1, s, i+1, 16, 17) \
	KK_SUB(4, 5, R9, s, i+1, 18, 19) \
	KK_SUB(4, 5, R10, s, i+1, 20, 21) \
	KK_SUB(4, 5, R11, s, i+1, 22, 23)

kk4loop:
	CBZ R4, kk4done
	KK_SCMIN
	ADD $16, R0, R15
	KK4_GROUP(6, 0)
	KK4_GROUP(6, 2)
	KK4_GROUP(7, 0)
	KK4_GROUP(7, 2)
	KK_FOLD(R2, R3, 16, 17, V16, V17, V24, V25)
	ADD R12, R2, R6
	KK_FOLD(R6, R19, 18, 19, V18, V19, V26, V27)
	ADD R12, R6, R6
	KK_FOLD(R6, R20, 20, 21, V20, V21, V28, V29)
	ADD R12, R6, R6
	KK_FOLD(R6, R21, 22, 23, V22, V23, V30, V31)
	ADD $4, R2
	ADD $144, R0
	SUB $1, R4
	B kk4loop

kk4done:
	MOVD out+40(FP), R6
	MOVD outStride+48(FP), R7
	KK_STORE4
	RET

#undef KK4_GROUP
