//go:build !purego

#include "textflag.h"

// NEON primitives of the fast kernels (simd_arm64.go).
//
// Go's assembler has no mnemonics for SXTL, SCVTF, UCVTF, FCVTL, FMUL (by
// vector or by element), FADD, FADDP or FCVT (half to single) on vectors;
// those are WORDs built from register numbers by the macros below, each
// naming the instruction and operands it encodes (encodings checked with
// llvm-mc, and the built functions read back with binutils' objdump).
//
// Q8_0 on float32 activations. dotQ8F32NEON (one row, one token),
// dotQ8F32R4NEON (four rows, one token) and q8TileNEON (four rows, four
// tokens) compute every (row, token) with the same operations in the same
// order, so a result does not depend on which of them the batch shape
// picked: one 4-lane accumulator; per block, each four quants are widened
// (SXTL to int16, to int32, SCVTF) and multiplied by the block's scale
// (FCVTL from f16; the product is exact, an int8 times an f16 fits in
// float32's 24 bits), then multiply-added with the four activations of the
// same columns (FMLA), the eight column slices of the block in order. The
// four lanes are added at the end as (l0+l1)+(l2+l3), two FADDPs, which
// for four accumulators of four rows is three FADDPs leaving the four sums
// in one vector, in row order. One chain per (row, token) makes
// dotQ8F32NEON latency-bound (eight dependent FMLAs a block); batches and
// single-token decodes use the other two, which run four or sixteen
// chains side by side.

#define SXTL8H(d, n) WORD $(0x0f08a400 | ((n)<<5) | (d)) /* sxtl  vd.8h, vn.8b */
#define SXTL28H(d, n) WORD $(0x4f08a400 | ((n)<<5) | (d)) /* sxtl2 vd.8h, vn.16b */
#define SXTL4S(d, n) WORD $(0x0f10a400 | ((n)<<5) | (d)) /* sxtl  vd.4s, vn.4h */
#define SXTL24S(d, n) WORD $(0x4f10a400 | ((n)<<5) | (d)) /* sxtl2 vd.4s, vn.8h */
#define SCVTF4S(d, n) WORD $(0x4e21d800 | ((n)<<5) | (d)) /* scvtf vd.4s, vn.4s */
#define UCVTF4S(d, n) WORD $(0x6e21d800 | ((n)<<5) | (d)) /* ucvtf vd.4s, vn.4s */
#define FCVTL4S(d, n) WORD $(0x0e217800 | ((n)<<5) | (d)) /* fcvtl vd.4s, vn.4h */
#define FMUL4S(d, n, m) WORD $(0x6e20dc00 | ((m)<<16) | ((n)<<5) | (d)) /* fmul vd.4s, vn.4s, vm.4s */
#define FMULE4S(d, n, m, i) WORD $(0x4f809000 | (((i)&1)<<21) | (((i)>>1)<<11) | ((m)<<16) | ((n)<<5) | (d)) /* fmul vd.4s, vn.4s, vm.s[i] */
#define FADD4S(d, n, m) WORD $(0x4e20d400 | ((m)<<16) | ((n)<<5) | (d)) /* fadd vd.4s, vn.4s, vm.4s */
#define FADDP4S(d, n, m) WORD $(0x6e20d400 | ((m)<<16) | ((n)<<5) | (d)) /* faddp vd.4s, vn.4s, vm.4s */
#define FADDP2S(d, n) WORD $(0x7e30d800 | ((n)<<5) | (d)) /* faddp sd, vn.2s */
#define FCVTSH(d, n) WORD $(0x1ee24000 | ((n)<<5) | (d)) /* fcvt sd, hn */

// REDUCE_TO_F0 adds acc's four lanes into F0 as (l0+l1)+(l2+l3).
#define REDUCE_TO_F0(acc) \
	FADDP4S(acc, acc, acc) \
	FADDP2S(0, acc)

// REDUCE4(a, b, c, d) leaves in Va the four accumulators' sums, each
// (l0+l1)+(l2+l3) as REDUCE_TO_F0's, in the order a, b, c, d (Vc
// clobbered).
#define REDUCE4(a, b, c, d) \
	FADDP4S(a, a, b) \
	FADDP4S(c, c, d) \
	FADDP4S(a, a, c)

#define REDUCE_V28_V31_TO_F0 \
	FADD4S(28, 28, 29) \
	FADD4S(30, 30, 31) \
	FADD4S(28, 28, 30) \
	REDUCE_TO_F0(28)

#define ZERO_V28_V31 \
	VEOR V28.B16, V28.B16, V28.B16 \
	VEOR V29.B16, V29.B16, V29.B16 \
	VEOR V30.B16, V30.B16, V30.B16 \
	VEOR V31.B16, V31.B16, V31.B16

// ZERO_V16_V31 clears V16-V31 (a tile's or four tokens' accumulators).
#define ZERO_V16_V31 \
	VEOR V16.B16, V16.B16, V16.B16 \
	VEOR V17.B16, V17.B16, V17.B16 \
	VEOR V18.B16, V18.B16, V18.B16 \
	VEOR V19.B16, V19.B16, V19.B16 \
	VEOR V20.B16, V20.B16, V20.B16 \
	VEOR V21.B16, V21.B16, V21.B16 \
	VEOR V22.B16, V22.B16, V22.B16 \
	VEOR V23.B16, V23.B16, V23.B16 \
	VEOR V24.B16, V24.B16, V24.B16 \
	VEOR V25.B16, V25.B16, V25.B16 \
	VEOR V26.B16, V26.B16, V26.B16 \
	VEOR V27.B16, V27.B16, V27.B16 \
	ZERO_V28_V31

// Q8_WIDEN loads the 32 quants at Rp (advancing it 32 bytes) into hi6 and
// hi7, the registers numbered b+6 and b+7, and leaves them widened to
// float32 and multiplied by lane i of Vs in V(b)..V(b+7), columns in
// order. Each step reads a register before or as it overwrites it, so
// the block needs no scratch register.
#define Q8_WIDEN(Rp, hi6, hi7, b, s, i) \
	VLD1.P 32(Rp), [hi6.B16, hi7.B16] \
	SXTL28H((b)+5, (b)+7) \
	SXTL8H((b)+4, (b)+7) \
	SXTL28H((b)+3, (b)+6) \
	SXTL8H((b)+2, (b)+6) \
	SXTL4S((b)+0, (b)+2) \
	SXTL24S((b)+1, (b)+2) \
	SXTL4S((b)+2, (b)+3) \
	SXTL24S((b)+3, (b)+3) \
	SXTL4S((b)+6, (b)+5) \
	SXTL24S((b)+7, (b)+5) \
	SXTL24S((b)+5, (b)+4) \
	SXTL4S((b)+4, (b)+4) \
	SCVTF4S((b)+0, (b)+0) \
	SCVTF4S((b)+1, (b)+1) \
	SCVTF4S((b)+2, (b)+2) \
	SCVTF4S((b)+3, (b)+3) \
	SCVTF4S((b)+4, (b)+4) \
	SCVTF4S((b)+5, (b)+5) \
	SCVTF4S((b)+6, (b)+6) \
	SCVTF4S((b)+7, (b)+7) \
	FMULE4S((b)+0, (b)+0, s, i) \
	FMULE4S((b)+1, (b)+1, s, i) \
	FMULE4S((b)+2, (b)+2, s, i) \
	FMULE4S((b)+3, (b)+3, s, i) \
	FMULE4S((b)+4, (b)+4, s, i) \
	FMULE4S((b)+5, (b)+5, s, i) \
	FMULE4S((b)+6, (b)+6, s, i) \
	FMULE4S((b)+7, (b)+7, s, i)

// Q8_SCALE puts the f16 scale at Rp (advancing it 2 bytes) in lane i of
// Vs as a half (R12 scratch); FCVTL4S then converts the four lanes.
#define Q8_SCALE(Rp, Vs, i) \
	MOVHU.P 2(Rp), R12 \
	VMOV R12, Vs.H[i]

// func dotQ8F32NEON(w *byte, x *float32, nb int) float32
//
// One row against one token: per block the scale to V24, the quants
// widened into V8-V15, the activations in V0-V7, eight FMLAs into V28.
TEXT ·dotQ8F32NEON(SB), NOSPLIT, $0-28
	MOVD w+0(FP), R0
	MOVD x+8(FP), R1
	MOVD nb+16(FP), R2
	VEOR V28.B16, V28.B16, V28.B16

q8loop:
	CBZ R2, q8done
	Q8_SCALE(R0, V24, 0)
	FCVTL4S(24, 24)
	Q8_WIDEN(R0, V14, V15, 8, 24, 0)
	VLD1.P 64(R1), [V0.S4, V1.S4, V2.S4, V3.S4]
	VLD1.P 64(R1), [V4.S4, V5.S4, V6.S4, V7.S4]
	VFMLA V8.S4, V0.S4, V28.S4
	VFMLA V9.S4, V1.S4, V28.S4
	VFMLA V10.S4, V2.S4, V28.S4
	VFMLA V11.S4, V3.S4, V28.S4
	VFMLA V12.S4, V4.S4, V28.S4
	VFMLA V13.S4, V5.S4, V28.S4
	VFMLA V14.S4, V6.S4, V28.S4
	VFMLA V15.S4, V7.S4, V28.S4
	SUB $1, R2
	B q8loop

q8done:
	REDUCE_TO_F0(28)
	FMOVS F0, ret+24(FP)
	RET

// R4_FMLA multiply-adds the two rows widened in V8-V15 and V16-V23 with
// the activations in V0-V7 into a and b, one FMLA of each row in turn so
// that the two chains interleave.
#define R4_FMLA(a, b) \
	VFMLA V8.S4, V0.S4, a \
	VFMLA V16.S4, V0.S4, b \
	VFMLA V9.S4, V1.S4, a \
	VFMLA V17.S4, V1.S4, b \
	VFMLA V10.S4, V2.S4, a \
	VFMLA V18.S4, V2.S4, b \
	VFMLA V11.S4, V3.S4, a \
	VFMLA V19.S4, V3.S4, b \
	VFMLA V12.S4, V4.S4, a \
	VFMLA V20.S4, V4.S4, b \
	VFMLA V13.S4, V5.S4, a \
	VFMLA V21.S4, V5.S4, b \
	VFMLA V14.S4, V6.S4, a \
	VFMLA V22.S4, V6.S4, b \
	VFMLA V15.S4, V7.S4, a \
	VFMLA V23.S4, V7.S4, b

// func dotQ8F32R4NEON(w *byte, rb int, x *float32, nb int, out *[4]float32)
//
// dotQ8F32NEON of four rows (w, w+rb, …) against one token, the chains in
// V28-V31: per block the four scales to V27, the token's 32 activations
// loaded once to V0-V7, then rows two at a time widened into V8-V15 and
// V16-V23 (29 registers).
TEXT ·dotQ8F32R4NEON(SB), NOSPLIT, $0-40
	MOVD w+0(FP), R0
	MOVD rb+8(FP), R9
	MOVD x+16(FP), R4
	MOVD nb+24(FP), R5
	ADD R9, R0, R1
	ADD R9, R1, R2
	ADD R9, R2, R3
	ZERO_V28_V31

r4loop:
	CBZ R5, r4done
	Q8_SCALE(R0, V27, 0)
	Q8_SCALE(R1, V27, 1)
	Q8_SCALE(R2, V27, 2)
	Q8_SCALE(R3, V27, 3)
	FCVTL4S(27, 27)
	VLD1.P 64(R4), [V0.S4, V1.S4, V2.S4, V3.S4]
	VLD1.P 64(R4), [V4.S4, V5.S4, V6.S4, V7.S4]
	Q8_WIDEN(R0, V14, V15, 8, 27, 0)
	Q8_WIDEN(R1, V22, V23, 16, 27, 1)
	R4_FMLA(V28.S4, V29.S4)
	Q8_WIDEN(R2, V14, V15, 8, 27, 2)
	Q8_WIDEN(R3, V22, V23, 16, 27, 3)
	R4_FMLA(V30.S4, V31.S4)
	SUB $1, R5
	B r4loop

r4done:
	MOVD out+32(FP), R10
	REDUCE4(28, 29, 30, 31)
	VST1 [V28.S4], (R10)
	RET

// TILE_SLICE multiplies-adds one column slice of the 4×4 tile: the four
// rows' quants, already widened to int32 in V4-V7, converted and scaled
// by the rows' lanes of V8 (TILE_WSLICE), then per token (TILE_TOKEN)
// its activations loaded to V9-V12 and four FMLAs into V16-V31 (token t,
// row r in V(16+4t+r)). TILE_SLICE3 and TILE_SLICE2 are the same for the
// first three and two tokens.
#define TILE_WSLICE \
	SCVTF4S(4, 4) \
	SCVTF4S(5, 5) \
	SCVTF4S(6, 6) \
	SCVTF4S(7, 7) \
	FMULE4S(4, 4, 8, 0) \
	FMULE4S(5, 5, 8, 1) \
	FMULE4S(6, 6, 8, 2) \
	FMULE4S(7, 7, 8, 3)

#define TILE_TOKEN(rx, vx, a0, a1, a2, a3) \
	VLD1.P 16(rx), [vx.S4] \
	VFMLA V4.S4, vx.S4, a0.S4 \
	VFMLA V5.S4, vx.S4, a1.S4 \
	VFMLA V6.S4, vx.S4, a2.S4 \
	VFMLA V7.S4, vx.S4, a3.S4

#define TILE_SLICE2 \
	TILE_WSLICE \
	TILE_TOKEN(R4, V9, V16, V17, V18, V19) \
	TILE_TOKEN(R5, V10, V20, V21, V22, V23)

#define TILE_SLICE3 \
	TILE_SLICE2 \
	TILE_TOKEN(R6, V11, V24, V25, V26, V27)

#define TILE_SLICE \
	TILE_SLICE3 \
	TILE_TOKEN(R7, V12, V28, V29, V30, V31)

// TILE_GROUP does eight columns: each row's eight quants loaded to V0-V3
// (advancing R0-R3) and widened to int16, then the low four (SXTL) and
// the high four (SXTL2) to int32 in V4-V7 for two slices.
#define TILE_GROUP_OF(slice) \
	VLD1.P 8(R0), [V0.B8] \
	VLD1.P 8(R1), [V1.B8] \
	VLD1.P 8(R2), [V2.B8] \
	VLD1.P 8(R3), [V3.B8] \
	SXTL8H(0, 0) \
	SXTL8H(1, 1) \
	SXTL8H(2, 2) \
	SXTL8H(3, 3) \
	SXTL4S(4, 0) \
	SXTL4S(5, 1) \
	SXTL4S(6, 2) \
	SXTL4S(7, 3) \
	slice \
	SXTL24S(4, 0) \
	SXTL24S(5, 1) \
	SXTL24S(6, 2) \
	SXTL24S(7, 3) \
	slice

// TILE_START, after a tile's arguments are loaded (w in R0, rb in R9, x
// in R4, xStride in R10), points R1-R3 at rows 1-3 and R5-R7 at tokens
// 1-3 and clears the chains. TILE_BLOCK does one block of the tile with
// TILE_GROUP_OF(slice).
#define TILE_START \
	ADD R9, R0, R1 \
	ADD R9, R1, R2 \
	ADD R9, R2, R3 \
	ADD R10, R4, R5 \
	ADD R10, R5, R6 \
	ADD R10, R6, R7 \
	ZERO_V16_V31

#define TILE_BLOCK(slice) \
	Q8_SCALE(R0, V8, 0) \
	Q8_SCALE(R1, V8, 1) \
	Q8_SCALE(R2, V8, 2) \
	Q8_SCALE(R3, V8, 3) \
	FCVTL4S(8, 8) \
	TILE_GROUP_OF(slice) \
	TILE_GROUP_OF(slice) \
	TILE_GROUP_OF(slice) \
	TILE_GROUP_OF(slice)

// func q8TileNEON(w *byte, rb int, x *float32, xStride int, nb int, out *float32, outStride int)
//
// dotQ8F32NEON of four rows (w, w+rb, …) against four tokens (x,
// x+xStride, …; strides in bytes) into out+t·outStride+4r: sixteen
// chains in V16-V31. Each slice's four widened weight vectors serve the
// four tokens and each activation vector the four rows: per slice 4
// activation loads and 4 weight vectors widened (12 SXTL, SCVTF and FMUL,
// plus half of a group's 4 SXTLs to int16) for 16 FMLAs, where sixteen
// single dots would load 16 and widen 16. 29 of the 32 registers are
// live.
TEXT ·q8TileNEON(SB), NOSPLIT, $0-56
	MOVD w+0(FP), R0
	MOVD rb+8(FP), R9
	MOVD x+16(FP), R4
	MOVD xStride+24(FP), R10
	MOVD nb+32(FP), R8
	TILE_START

tileloop:
	CBZ R8, tiledone
	TILE_BLOCK(TILE_SLICE)
	SUB $1, R8
	B tileloop

tiledone:
	MOVD out+40(FP), R10
	MOVD outStride+48(FP), R11
	REDUCE4(16, 17, 18, 19)
	VST1 [V16.S4], (R10)
	ADD R11, R10, R10
	REDUCE4(20, 21, 22, 23)
	VST1 [V20.S4], (R10)
	ADD R11, R10, R10
	REDUCE4(24, 25, 26, 27)
	VST1 [V24.S4], (R10)
	ADD R11, R10, R10
	REDUCE4(28, 29, 30, 31)
	VST1 [V28.S4], (R10)
	RET

// func q8Tile4x3NEON(w *byte, rb int, x *float32, xStride int, nb int, out *float32, outStride int)
//
// q8TileNEON for three tokens, and q8Tile4x2NEON for two: the tokens a
// batch leaves over after its groups of four.
TEXT ·q8Tile4x3NEON(SB), NOSPLIT, $0-56
	MOVD w+0(FP), R0
	MOVD rb+8(FP), R9
	MOVD x+16(FP), R4
	MOVD xStride+24(FP), R10
	MOVD nb+32(FP), R8
	TILE_START

tile3loop:
	CBZ R8, tile3done
	TILE_BLOCK(TILE_SLICE3)
	SUB $1, R8
	B tile3loop

tile3done:
	MOVD out+40(FP), R10
	MOVD outStride+48(FP), R11
	REDUCE4(16, 17, 18, 19)
	VST1 [V16.S4], (R10)
	ADD R11, R10, R10
	REDUCE4(20, 21, 22, 23)
	VST1 [V20.S4], (R10)
	ADD R11, R10, R10
	REDUCE4(24, 25, 26, 27)
	VST1 [V24.S4], (R10)
	RET

// func q8Tile4x2NEON(w *byte, rb int, x *float32, xStride int, nb int, out *float32, outStride int)
TEXT ·q8Tile4x2NEON(SB), NOSPLIT, $0-56
	MOVD w+0(FP), R0
	MOVD rb+8(FP), R9
	MOVD x+16(FP), R4
	MOVD xStride+24(FP), R10
	MOVD nb+32(FP), R8
	TILE_START

tile2loop:
	CBZ R8, tile2done
	TILE_BLOCK(TILE_SLICE2)
	SUB $1, R8
	B tile2loop

tile2done:
	MOVD out+40(FP), R10
	MOVD outStride+48(FP), R11
	REDUCE4(16, 17, 18, 19)
	VST1 [V16.S4], (R10)
	ADD R11, R10, R10
	REDUCE4(20, 21, 22, 23)
	VST1 [V20.S4], (R10)
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

// DR_ROW loads four values of row kp (advancing it 16 bytes) and
// multiply-adds them with the query's four in V0 into acc.
#define DR_ROW(kp, kv, acc) \
	VLD1.P 16(kp), [kv] \
	VFMLA V0.S4, kv, acc

// func dotRowsNEON(out, q, k *float32, stride, m, n int)
//
// out[j] = Σ_{i<n} q[i]·k[j·stride/4+i] for j < m (stride in bytes, n a
// multiple of 4): one query against m keys of a paged block, each key one
// 4-lane FMLA chain in column order, its lanes added as REDUCE_TO_F0's.
// Keys go eight at a time, eight independent chains (one alone would wait
// on each FMLA), each query vector loaded once for the eight; the keys
// left over one at a time, with the same arithmetic.
TEXT ·dotRowsNEON(SB), NOSPLIT, $0-48
	MOVD out+0(FP), R0
	MOVD q+8(FP), R1
	MOVD k+16(FP), R2
	MOVD stride+24(FP), R3
	MOVD m+32(FP), R4
	MOVD n+40(FP), R5

dr8rows:
	CMP $8, R4
	BLT dr1rows
	MOVD R2, R6
	ADD R3, R6, R7
	ADD R3, R7, R8
	ADD R3, R8, R9
	ADD R3, R9, R10
	ADD R3, R10, R11
	ADD R3, R11, R12
	ADD R3, R12, R13
	MOVD R1, R14
	MOVD R5, R15
	VEOR V24.B16, V24.B16, V24.B16
	VEOR V25.B16, V25.B16, V25.B16
	VEOR V26.B16, V26.B16, V26.B16
	VEOR V27.B16, V27.B16, V27.B16
	ZERO_V28_V31

dr8cols:
	CBZ R15, dr8sum
	VLD1.P 16(R14), [V0.S4]
	DR_ROW(R6, V1.S4, V24.S4)
	DR_ROW(R7, V2.S4, V25.S4)
	DR_ROW(R8, V3.S4, V26.S4)
	DR_ROW(R9, V4.S4, V27.S4)
	DR_ROW(R10, V5.S4, V28.S4)
	DR_ROW(R11, V6.S4, V29.S4)
	DR_ROW(R12, V7.S4, V30.S4)
	DR_ROW(R13, V16.S4, V31.S4)
	SUB $4, R15
	B dr8cols

dr8sum:
	REDUCE4(24, 25, 26, 27)
	REDUCE4(28, 29, 30, 31)
	VST1.P [V24.S4], 16(R0)
	VST1.P [V28.S4], 16(R0)
	ADD R3<<3, R2, R2
	SUB $8, R4
	B dr8rows

dr1rows:
	CBZ R4, drdone
	MOVD R2, R6
	MOVD R1, R14
	MOVD R5, R15
	VEOR V28.B16, V28.B16, V28.B16

dr1cols:
	CBZ R15, dr1sum
	VLD1.P 16(R14), [V0.S4]
	DR_ROW(R6, V1.S4, V28.S4)
	SUB $4, R15
	B dr1cols

dr1sum:
	REDUCE_TO_F0(28)
	FMOVS.P F0, 4(R0)
	ADD R3, R2, R2
	SUB $1, R4
	B dr1rows

drdone:
	RET

// func axpyRowsNEON(y, p, v *float32, stride, m, n int)
//
// y[i] += Σ_{j<m} p[j]·v[j·stride/4+i] for i < n (stride in bytes, n a
// multiple of 4): the probability-weighted values of a paged block. The
// outputs stay in registers across the m rows, 32 at a time (eight
// independent FMLA chains), then 4 at a time; each output is the chain
// y, then one FMLA per row in row order, axpyNEON's operations row after
// row, so the result is the same bits as axpy per row.
TEXT ·axpyRowsNEON(SB), NOSPLIT, $0-48
	MOVD y+0(FP), R0
	MOVD p+8(FP), R1
	MOVD v+16(FP), R2
	MOVD stride+24(FP), R3
	MOVD m+32(FP), R4
	MOVD n+40(FP), R5

ar32cols:
	CMP $32, R5
	BLT ar4cols
	VLD1 (R0), [V0.S4, V1.S4, V2.S4, V3.S4]
	ADD $64, R0, R9
	VLD1 (R9), [V4.S4, V5.S4, V6.S4, V7.S4]
	MOVD R1, R6
	MOVD R2, R7
	MOVD R4, R8

ar32rows:
	CBZ R8, ar32store
	VLD1R.P 4(R6), [V16.S4]
	ADD $64, R7, R10
	VLD1 (R7), [V20.S4, V21.S4, V22.S4, V23.S4]
	VLD1 (R10), [V24.S4, V25.S4, V26.S4, V27.S4]
	VFMLA V20.S4, V16.S4, V0.S4
	VFMLA V21.S4, V16.S4, V1.S4
	VFMLA V22.S4, V16.S4, V2.S4
	VFMLA V23.S4, V16.S4, V3.S4
	VFMLA V24.S4, V16.S4, V4.S4
	VFMLA V25.S4, V16.S4, V5.S4
	VFMLA V26.S4, V16.S4, V6.S4
	VFMLA V27.S4, V16.S4, V7.S4
	ADD R3, R7, R7
	SUB $1, R8
	B ar32rows

ar32store:
	VST1.P [V0.S4, V1.S4, V2.S4, V3.S4], 64(R0)
	VST1.P [V4.S4, V5.S4, V6.S4, V7.S4], 64(R0)
	ADD $128, R2, R2
	SUB $32, R5
	B ar32cols

ar4cols:
	CBZ R5, ardone
	VLD1 (R0), [V0.S4]
	MOVD R1, R6
	MOVD R2, R7
	MOVD R4, R8

ar4rows:
	CBZ R8, ar4store
	VLD1R.P 4(R6), [V16.S4]
	VLD1 (R7), [V20.S4]
	VFMLA V20.S4, V16.S4, V0.S4
	ADD R3, R7, R7
	SUB $1, R8
	B ar4rows

ar4store:
	VST1.P [V0.S4], 16(R0)
	ADD $16, R2, R2
	SUB $4, R5
	B ar4cols

ardone:
	RET

// Q4_K (simd_arm64.go's dotQ4KNEON, dotQ4Kx4NEON); the block layout is
// described in simd_amd64.s.

// Q4K_SCMIN_GP gathers the 6-bit fields of the block at R0, four at a
// time in 32-bit words, into sc (the eight scales, a byte each) and mn
// (the eight mins); hi, mh and t are scratch.
#define Q4K_SCMIN_GP(sc, mn, hi, mh, t) \
	MOVWU 4(R0), sc \
	MOVWU 8(R0), mn \
	MOVWU 12(R0), hi \
	LSRW $4, hi, mh \
	ANDW $0x0f0f0f0f, mh, mh \
	ANDW $0x0f0f0f0f, hi, hi \
	LSRW $2, sc, t \
	ANDW $0x30303030, t, t \
	ORRW t, hi, hi \
	LSRW $2, mn, t \
	ANDW $0x30303030, t, t \
	ORRW t, mh, mh \
	ANDW $0x3f3f3f3f, sc, sc \
	ANDW $0x3f3f3f3f, mn, mn \
	ORR hi<<32, sc, sc \
	ORR mh<<32, mn, mn

// Q4K_SCALES decodes the block at R0 (R0 left at the block): the steps
// d·sc[j] to V28 (j 0-3) and V29 (4-7), the offsets dmin·m[j] to V26
// and V27 (R4, R6-R9, V0-V3 scratch). The fields are gathered four at a
// time in 32-bit words as in simd_amd64.s.
#define Q4K_SCALES \
	Q4K_SCMIN_GP(R6, R7, R8, R9, R4) \
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

// Q4_K on activations quantized in blocks of 256 (dotQ4KQ8KNEON, one
// token; dotQ4KQ8Kx4NEON, four): the arithmetic of simd_amd64.s's
// dotQ4KQ8KAVX2 and of dotQ4KQ8KGo, so the same bits. Per sub-block the
// nibbles times the activation quants by SMULL/SMULL2 (int16: at most
// 15·127), SADDLP and ADDP sum each four bytes into int32 lanes (bytes
// 0-15 of the sub-block in the low four lanes, 16-31 in the high four,
// as VPMADDUBSW and VPMADDWD leave them), and MLA by element adds them
// times the sub-block's scale. Per super-block the eight lanes are
// converted and fused with d·xd, then the mins: SMULL/SMULL2 of the
// eight mins with the eight sums and ADDP give the four lanes m0s0+m1s1,
// …, fused with −dmin·xd into the low lanes, and a zero times −dmin·xd
// into the high ones (the AVX2 kernel's upper half). The lanes are added
// at the end as (l0+l4 + l2+l6) + (l1+l5 + l3+l7).

#define SMULL8H(d, n, m) WORD $(0x0e20c000 | ((m)<<16) | ((n)<<5) | (d)) /* smull  vd.8h, vn.8b, vm.8b */
#define SMULL28H(d, n, m) WORD $(0x4e20c000 | ((m)<<16) | ((n)<<5) | (d)) /* smull2 vd.8h, vn.16b, vm.16b */
#define SMULL4S(d, n, m) WORD $(0x0e60c000 | ((m)<<16) | ((n)<<5) | (d)) /* smull  vd.4s, vn.4h, vm.4h */
#define SMULL24S(d, n, m) WORD $(0x4e60c000 | ((m)<<16) | ((n)<<5) | (d)) /* smull2 vd.4s, vn.8h, vm.8h */
#define SADDLP4S(d, n) WORD $(0x4e602800 | ((n)<<5) | (d)) /* saddlp vd.4s, vn.8h */
#define ADDP4S(d, n, m) WORD $(0x4ea0bc00 | ((m)<<16) | ((n)<<5) | (d)) /* addp vd.4s, vn.4s, vm.4s */
#define MLAE4S(d, n, m, i) WORD $(0x6f800000 | (((i)&1)<<21) | (((i)>>1)<<11) | ((m)<<16) | ((n)<<5) | (d)) /* mla vd.4s, vn.4s, vm.s[i] */

// KK_SCMIN decodes the block at R0's 6-bit scales to int32 in V6 (0-3)
// and V7 (4-7) and its mins to int16 in V8 (R5-R8, R14 scratch; the
// fields as Q4K_SCALES gathers them).
#define KK_SCMIN \
	Q4K_SCMIN_GP(R6, R7, R8, R5, R14) \
	FMOVD R6, F6 \
	VUXTL V6.B8, V6.H8 \
	VUXTL2 V6.H8, V7.S4 \
	VUXTL V6.H4, V6.S4 \
	FMOVD R7, F8 \
	VUXTL V8.B8, V8.H8

// KK_SUB_MUL adds one sub-block's products, nibbles in Vq0 and Vq1,
// the token's 32 quants at Rt (advanced), into the int32 lanes lo and
// hi times scale lane i of Vs (V9-V14 scratch).
#define KK_SUB_MUL(q0, q1, Rt, s, i, lo, hi) \
	VLD1.P 32(Rt), [V9.B16, V10.B16] \
	SMULL8H(11, q0, 9) \
	SMULL28H(12, q0, 9) \
	SMULL8H(13, q1, 10) \
	SMULL28H(14, q1, 10) \
	SADDLP4S(11, 11) \
	SADDLP4S(12, 12) \
	SADDLP4S(13, 13) \
	SADDLP4S(14, 14) \
	ADDP4S(11, 11, 12) \
	ADDP4S(13, 13, 14) \
	MLAE4S(lo, 11, s, i) \
	MLAE4S(hi, 13, s, i)

// KK_SPLIT loads group g's 32 quant bytes from R15 (advanced) and
// splits them: low nibbles in V2, V3, high ones in V4, V5 (V15: bytes
// 15).
#define KK_SPLIT \
	VLD1.P 32(R15), [V0.B16, V1.B16] \
	VAND V15.B16, V0.B16, V2.B16 \
	VAND V15.B16, V1.B16, V3.B16 \
	VUSHR $4, V0.B16, V4.B16 \
	VUSHR $4, V1.B16, V5.B16

// KK_SCALE_BY sets V13's lanes to the f16 at off(R0) times the float32
// at (Rx) (R5, F9 scratch).
#define KK_SCALE_BY(off, Rx) \
	MOVHU off(R0), R5 \
	FMOVS R5, F13 \
	FCVTSH(13, 13) \
	FMOVS (Rx), F9 \
	FMULS F9, F13, F13 \
	VDUP V13.S[0], V13.S4

// KK_FOLD fuses a token's super-block into its float32 chains Vflo,
// Vfhi: the int32 lanes of registers lo and hi (then cleared; Vlo and
// Vhi name them) times d·xd, then the mins (V8) times its eight sums at
// Rb (advanced) times −dmin·xd, xd at Rx (V9-V13 scratch).
#define KK_FOLD(Rx, Rb, lo, hi, Vlo, Vhi, Vflo, Vfhi) \
	SCVTF4S(11, lo) \
	SCVTF4S(12, hi) \
	KK_SCALE_BY(0, Rx) \
	VFMLA V11.S4, V13.S4, Vflo.S4 \
	VFMLA V12.S4, V13.S4, Vfhi.S4 \
	VLD1.P 16(Rb), [V9.H8] \
	SMULL4S(11, 8, 9) \
	SMULL24S(12, 8, 9) \
	ADDP4S(11, 11, 12) \
	SCVTF4S(11, 11) \
	KK_SCALE_BY(2, Rx) \
	VEOR V10.B16, V10.B16, V10.B16 \
	VFMLS V11.S4, V13.S4, Vflo.S4 \
	VFMLS V10.S4, V13.S4, Vfhi.S4 \
	VEOR Vlo.B16, Vlo.B16, Vlo.B16 \
	VEOR Vhi.B16, Vhi.B16, Vhi.B16

// KK_SUM_TO_F0 adds the eight lanes of registers flo and fhi (Vflo
// names flo, which is clobbered) into F0.
#define KK_SUM_TO_F0(flo, fhi, Vflo) \
	FADD4S(flo, flo, fhi) \
	VEXT $8, Vflo.B16, Vflo.B16, V9.B16 \
	FADD4S(flo, flo, 9) \
	FADDP2S(0, flo)

// KK_STORE4 stores the lane sums of the four tokens' chains V24-V31
// (two registers each) at R6, R6+R7, … (V9 scratch).
#define KK_STORE4 \
	KK_SUM_TO_F0(24, 25, V24) \
	FMOVS F0, (R6) \
	ADD R7, R6, R6 \
	KK_SUM_TO_F0(26, 27, V26) \
	FMOVS F0, (R6) \
	ADD R7, R6, R6 \
	KK_SUM_TO_F0(28, 29, V28) \
	FMOVS F0, (R6) \
	ADD R7, R6, R6 \
	KK_SUM_TO_F0(30, 31, V30) \
	FMOVS F0, (R6)

// KK_SUB_DOT is KK_SUB_MUL by SDOT (the dot-product extension, ARMv8.2):
// each int32 lane gets its four bytes' products in one instruction, the
// same lanes (V9-V12 scratch).
#define SDOT4S(d, n, m) WORD $(0x4e809400 | ((m)<<16) | ((n)<<5) | (d)) /* sdot vd.4s, vn.16b, vm.16b */
#define KK_SUB_DOT(q0, q1, Rt, s, i, lo, hi) \
	VLD1.P 32(Rt), [V9.B16, V10.B16] \
	VEOR V11.B16, V11.B16, V11.B16 \
	VEOR V12.B16, V12.B16, V12.B16 \
	SDOT4S(11, q0, 9) \
	SDOT4S(12, q1, 10) \
	MLAE4S(lo, 11, s, i) \
	MLAE4S(hi, 12, s, i)

// The two dots' bodies (q4k8_arm64.h) with KK_SUB_MUL, and with
// KK_SUB_DOT for CPUs that have SDOT.
#define KK_SUB KK_SUB_MUL
#define KK1_NAME ·dotQ4KQ8KNEON
#define KK4_NAME ·dotQ4KQ8Kx4NEON
#include "q4k8_arm64.h"
#undef KK_SUB
#undef KK1_NAME
#undef KK4_NAME
#define KK_SUB KK_SUB_DOT
#define KK1_NAME ·dotQ4KQ8KDotNEON
#define KK4_NAME ·dotQ4KQ8Kx4DotNEON
#include "q4k8_arm64.h"

// Q8_0 on int8 activations in blocks of 256 with SDOT (dotQ8Q8KGo's
// arithmetic, as the AVX2 dots): dotQ8Q8KDotNEON (one token) and
// dotQ8Q8Kx4DotNEON (four). Per group of eight blocks QK_SCALES makes
// the integer scales (q8GroupScales: FCVTL, the largest magnitude by
// FMAX and FMAXV, its exponent, FCVTNS of the scales times
// 2^(137−eb)); per block and token two SDOTs give the 32 products in
// eight int32 lanes (lane m: bytes 4m..4m+3; SDOT is signed by signed,
// so no sign trick), and MLA by element adds them times the block's
// scale; per group SCVTF and one FMLA with xd·2^(eb−137) per four lanes.
// The lanes are added at the end by KK_SUM_TO_F0, sumLanes8's tree.
#define FABS4S(d, n) WORD $(0x4ea0f800 | ((n)<<5) | (d)) /* fabs vd.4s, vn.4s */
#define FMAX4S(d, n, m) WORD $(0x4e20f400 | ((m)<<16) | ((n)<<5) | (d)) /* fmax vd.4s, vn.4s, vm.4s */
#define FMAXV4S(d, n) WORD $(0x6e30f800 | ((n)<<5) | (d)) /* fmaxv sd, vn.4s */
#define FCVTNS4S(d, n) WORD $(0x4e21a800 | ((n)<<5) | (d)) /* fcvtns vd.4s, vn.4s */

// QK_SCALES sets V6 (blocks 0-3) and V7 (4-7) to the integer scales of
// the group at R0 and F8 to its power (R5-R9, V10-V13 scratch).
#define QK_SCALES \
	MOVHU 0(R0), R5 \
	VMOV R5, V10.H[0] \
	MOVHU 34(R0), R5 \
	VMOV R5, V10.H[1] \
	MOVHU 68(R0), R5 \
	VMOV R5, V10.H[2] \
	MOVHU 102(R0), R5 \
	VMOV R5, V10.H[3] \
	MOVHU 136(R0), R5 \
	VMOV R5, V11.H[0] \
	MOVHU 170(R0), R5 \
	VMOV R5, V11.H[1] \
	MOVHU 204(R0), R5 \
	VMOV R5, V11.H[2] \
	MOVHU 238(R0), R5 \
	VMOV R5, V11.H[3] \
	FCVTL4S(10, 10) \
	FCVTL4S(11, 11) \
	FABS4S(12, 10) \
	FABS4S(13, 11) \
	FMAX4S(12, 12, 13) \
	FMAXV4S(12, 12) \
	FMOVS F12, R8 \
	LSR $23, R8, R8 \
	MOVD $11, R9 \
	CMP R9, R8 \
	CSEL LT, R9, R8, R8 \
	MOVD $264, R9 \
	SUB R8, R9, R9 \
	LSL $23, R9, R9 \
	FMOVS R9, F13 \
	FMULE4S(10, 10, 13, 0) \
	FMULE4S(11, 11, 13, 0) \
	FCVTNS4S(6, 10) \
	FCVTNS4S(7, 11) \
	SUB $10, R8, R8 \
	LSL $23, R8, R8 \
	FMOVS R8, F8

// QK_WEIGHTS loads block b's 32 quants to V0, V1 (R11 scratch).
#define QK_WEIGHTS(b) \
	ADD $(2+34*b), R0, R11 \
	VLD1 (R11), [V0.B16, V1.B16]

// QK_TOKEN adds one token's products with the block in V0, V1 (its 32
// quants at Rt, advanced) times scale lane i of Vs into the int32 lanes
// of registers lo and hi (V2-V5 scratch).
#define QK_TOKEN(Rt, s, i, lo, hi) \
	VLD1.P 32(Rt), [V2.B16, V3.B16] \
	VEOR V4.B16, V4.B16, V4.B16 \
	VEOR V5.B16, V5.B16, V5.B16 \
	SDOT4S(4, 0, 2) \
	SDOT4S(5, 1, 3) \
	MLAE4S(lo, 4, s, i) \
	MLAE4S(hi, 5, s, i)

// QK_FOLD fuses a token's group into its float32 chains Vflo, Vfhi: the
// int32 lanes of registers lo and hi (then cleared; Vlo and Vhi name
// them) converted, times xd (at Rx) times the power in F8 (V9 scratch).
#define QK_FOLD(Rx, lo, hi, Vlo, Vhi, Vflo, Vfhi) \
	SCVTF4S(lo, lo) \
	SCVTF4S(hi, hi) \
	FMOVS (Rx), F9 \
	FMULS F8, F9, F9 \
	VDUP V9.S[0], V9.S4 \
	VFMLA Vlo.S4, V9.S4, Vflo.S4 \
	VFMLA Vhi.S4, V9.S4, Vfhi.S4 \
	VEOR Vlo.B16, Vlo.B16, Vlo.B16 \
	VEOR Vhi.B16, Vhi.B16, Vhi.B16

// QK_GROUP runs the macro blk(b, s, i) on a group's eight blocks, the
// scale of block b in lane i of register s.
#define QK_GROUP(blk) \
	blk(0, 6, 0) \
	blk(1, 6, 1) \
	blk(2, 6, 2) \
	blk(3, 6, 3) \
	blk(4, 7, 0) \
	blk(5, 7, 1) \
	blk(6, 7, 2) \
	blk(7, 7, 3)

#define QK1_BLOCK(b, s, i) \
	QK_WEIGHTS(b) \
	QK_TOKEN(R1, s, i, 16, 17)

// func dotQ8Q8KDotNEON(w *byte, xq *int8, xd *float32, ng int) float32
TEXT ·dotQ8Q8KDotNEON(SB), NOSPLIT, $0-36
	MOVD w+0(FP), R0
	MOVD xq+8(FP), R1
	MOVD xd+16(FP), R2
	MOVD ng+24(FP), R3
	VEOR V16.B16, V16.B16, V16.B16
	VEOR V17.B16, V17.B16, V17.B16
	VEOR V24.B16, V24.B16, V24.B16
	VEOR V25.B16, V25.B16, V25.B16

qk1loop:
	CBZ R3, qk1done
	QK_SCALES
	QK_GROUP(QK1_BLOCK)
	QK_FOLD(R2, 16, 17, V16, V17, V24, V25)
	ADD $4, R2
	ADD $272, R0
	SUB $1, R3
	B qk1loop

qk1done:
	KK_SUM_TO_F0(24, 25, V24)
	FMOVS F0, ret+32(FP)
	RET

#define QK4_BLOCK(b, s, i) \
	QK_WEIGHTS(b) \
	QK_TOKEN(R1, s, i, 16, 17) \
	QK_TOKEN(R19, s, i, 18, 19) \
	QK_TOKEN(R20, s, i, 20, 21) \
	QK_TOKEN(R21, s, i, 22, 23)

// func dotQ8Q8Kx4DotNEON(w *byte, xq *int8, xd *float32, ng int, out *float32, outStride int)
//
// dotQ8Q8KDotNEON of one row against four tokens, whose quants and
// scales are 256·ng and 4·ng bytes apart, into out, out+outStride, …
// (bytes): each group's scales and each block's quants are loaded once
// for the four.
TEXT ·dotQ8Q8Kx4DotNEON(SB), NOSPLIT, $0-48
	MOVD w+0(FP), R0
	MOVD xq+8(FP), R1
	MOVD xd+16(FP), R2
	MOVD ng+24(FP), R3
	LSL $8, R3, R12
	ADD R12, R1, R19 // token 1's quants
	ADD R12, R19, R20
	ADD R12, R20, R21
	LSL $2, R3, R12 // scales' stride
	ADD R12, R2, R13 // token 1's scales
	ADD R12, R13, R14
	ADD R12, R14, R15
	ZERO_V16_V31

qk4loop:
	CBZ R3, qk4done
	QK_SCALES
	QK_GROUP(QK4_BLOCK)
	QK_FOLD(R2, 16, 17, V16, V17, V24, V25)
	QK_FOLD(R13, 18, 19, V18, V19, V26, V27)
	QK_FOLD(R14, 20, 21, V20, V21, V28, V29)
	QK_FOLD(R15, 22, 23, V22, V23, V30, V31)
	ADD $4, R2
	ADD $4, R13
	ADD $4, R14
	ADD $4, R15
	ADD $272, R0
	SUB $1, R3
	B qk4loop

qk4done:
	MOVD out+32(FP), R6
	MOVD outStride+40(FP), R7
	KK_STORE4
	RET

// func quantizeQ8KNEON(x *float32, q *int8, d *float32, s *int16, nb int)
//
// quantizeQ8KGo over nb blocks of 256 (the same bits): max|x| by FMAX,
// d = max/127 and 1/d by FDIVS, x·(1/d) rounded to nearest even by
// FCVTNS, narrowed to bytes in order by SQXTN/SQXTN2, each 32 quants
// summed as int32 (ADDV) before narrowing.
#define SQXTN4H(d, n) WORD $(0x0e614800 | ((n)<<5) | (d)) /* sqxtn vd.4h, vn.4s */
#define SQXTN28H(d, n) WORD $(0x4e614800 | ((n)<<5) | (d)) /* sqxtn2 vd.8h, vn.4s */
#define SQXTN8B(d, n) WORD $(0x0e214800 | ((n)<<5) | (d)) /* sqxtn vd.8b, vn.8h */
#define SQXTN216B(d, n) WORD $(0x4e214800 | ((n)<<5) | (d)) /* sqxtn2 vd.16b, vn.8h */
#define ADDV4S(d, n) WORD $(0x4eb1b800 | ((n)<<5) | (d)) /* addv sd, vn.4s */

TEXT ·quantizeQ8KNEON(SB), NOSPLIT, $0-40
	MOVD x+0(FP), R0
	MOVD q+8(FP), R1
	MOVD d+16(FP), R2
	MOVD s+24(FP), R3
	MOVD nb+32(FP), R4
	MOVW $0x42fe0000, R5 // 127
	FMOVS R5, F30
	MOVW $0x3f800000, R5 // 1
	FMOVS R5, F31

qkblock:
	CBZ R4, qkdone
	VEOR V0.B16, V0.B16, V0.B16
	VEOR V1.B16, V1.B16, V1.B16
	VEOR V2.B16, V2.B16, V2.B16
	VEOR V3.B16, V3.B16, V3.B16
	MOVD R0, R6
	MOVD $16, R7

qkmax:
	VLD1.P 64(R6), [V4.S4, V5.S4, V6.S4, V7.S4]
	FABS4S(4, 4)
	FABS4S(5, 5)
	FABS4S(6, 6)
	FABS4S(7, 7)
	FMAX4S(0, 0, 4)
	FMAX4S(1, 1, 5)
	FMAX4S(2, 2, 6)
	FMAX4S(3, 3, 7)
	SUB $1, R7
	CBNZ R7, qkmax
	FMAX4S(0, 0, 1)
	FMAX4S(2, 2, 3)
	FMAX4S(0, 0, 2)
	FMAXV4S(0, 0)
	FDIVS F30, F0, F0 // d
	FMOVS F0, (R2)
	ADD $4, R2
	FMOVS F0, R5
	VEOR V1.B16, V1.B16, V1.B16
	CBZW R5, qkzero
	FDIVS F0, F31, F1 // 1/d

qkzero:
	MOVD $8, R7

qkgroup:
	VLD1.P 64(R0), [V4.S4, V5.S4, V6.S4, V7.S4]
	VLD1.P 64(R0), [V16.S4, V17.S4, V18.S4, V19.S4]
	FMULE4S(4, 4, 1, 0)
	FMULE4S(5, 5, 1, 0)
	FMULE4S(6, 6, 1, 0)
	FMULE4S(7, 7, 1, 0)
	FMULE4S(16, 16, 1, 0)
	FMULE4S(17, 17, 1, 0)
	FMULE4S(18, 18, 1, 0)
	FMULE4S(19, 19, 1, 0)
	FCVTNS4S(4, 4)
	FCVTNS4S(5, 5)
	FCVTNS4S(6, 6)
	FCVTNS4S(7, 7)
	FCVTNS4S(16, 16)
	FCVTNS4S(17, 17)
	FCVTNS4S(18, 18)
	FCVTNS4S(19, 19)
	VADD V5.S4, V4.S4, V20.S4
	VADD V7.S4, V6.S4, V21.S4
	VADD V17.S4, V16.S4, V22.S4
	VADD V19.S4, V18.S4, V23.S4
	VADD V21.S4, V20.S4, V20.S4
	VADD V23.S4, V22.S4, V22.S4
	VADD V22.S4, V20.S4, V20.S4
	ADDV4S(20, 20)
	FMOVS F20, R5
	MOVH R5, (R3)
	ADD $2, R3
	SQXTN4H(8, 4)
	SQXTN28H(8, 5)
	SQXTN4H(9, 6)
	SQXTN28H(9, 7)
	SQXTN4H(10, 16)
	SQXTN28H(10, 17)
	SQXTN4H(11, 18)
	SQXTN28H(11, 19)
	SQXTN8B(12, 8)
	SQXTN216B(12, 9)
	SQXTN8B(13, 10)
	SQXTN216B(13, 11)
	VST1.P [V12.B16, V13.B16], 32(R1)
	SUB $1, R7
	CBNZ R7, qkgroup
	SUB $1, R4
	B qkblock

qkdone:
	RET
