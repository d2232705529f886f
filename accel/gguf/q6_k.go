package gguf

import (
	"encoding/binary"
	"math"
)

// Q6_K block layout (ggml's block_q6_K): a super-block of 256 weights in
// 210 bytes,
//
//	bytes 0-127    ql: the low four bits of the quants
//	bytes 128-191  qh: the top two bits of the quants
//	bytes 192-207  sixteen int8 scales sc[j], one per 16 weights
//	bytes 208-209  f16 d (scale of the scales)
//
// Weight i, in sub-block j = i/16, is d·sc[j]·(q_i − 32) with q_i the
// 6-bit quant, the product d·sc[j] rounded to float32 first, as ggml's
// dequantize_row_q6_K. The quants come in two halves of 128 weights,
// half h using ql bytes 64h..64h+63 and qh bytes 32h..32h+31; within a
// half, weight 32k+l (quarter k, l < 32) keeps its low bits in ql byte
// 32·(k%2)+l (the low nibble for k < 2, the high one for k ≥ 2) and its
// top bits in bits 2k and 2k+1 of qh byte l. Q6_KQuants unpacks a
// sub-block.
const (
	// Q6_KBlockSize is the number of weights in a Q6_K super-block.
	Q6_KBlockSize = qkK
	// Q6_KBlockBytes is the encoded size of a Q6_K super-block.
	Q6_KBlockBytes = qkK/2 + qkK/4 + qkK/16 + 2
	// Q6_KSubBlocks is the number of 16-weight sub-blocks per
	// super-block.
	Q6_KSubBlocks = qkK / 16

	q6kQH     = qkK / 2            // offset of qh
	q6kScales = q6kQH + qkK/4      // offset of the scales
	q6kD      = q6kScales + qkK/16 // offset of d
)

// Q6_KStep returns the float32 step d·sc[j] of sub-block j of the
// 210-byte block blk: its weights are step·(q − 32).
func Q6_KStep(blk []byte, j int) float32 {
	d := F16ToFloat32(binary.LittleEndian.Uint16(blk[q6kD:]))
	return d * float32(int8(blk[q6kScales+j]))
}

// q6kPos returns where weight i (< 256) of a block keeps its bits: the
// ql byte and the shift of its nibble, the qh byte and the shift of its
// two bits.
func q6kPos(i int) (lo int, loShift uint, hi int, hiShift uint) {
	h, k, l := i/128, i%128/32, i%32
	return 64*h + 32*(k%2) + l, 4 * uint(k/2), q6kQH + 32*h + l, 2 * uint(k)
}

// Q6_KQuants sets q[l] to q − 32 (in [−32, 31]) for weight l of sub-block
// j of the 210-byte block blk.
func Q6_KQuants(blk []byte, j int, q *[16]int8) {
	lo, ls, hi, hs := q6kPos(16 * j)
	// The 16 weights of a sub-block are consecutive bytes of ql and of qh
	// with the same shifts.
	for l := range q {
		v := blk[lo+l]>>ls&0x0f | (blk[hi+l]>>hs&3)<<4
		q[l] = int8(v) - 32
	}
}

// DequantizeQ6_K expands Q6_K super-blocks from src into dst. len(src)
// must be a multiple of 210 and dst must hold len(src)/210 × 256 values.
// Every bit pattern decodes (an f16 infinity or NaN gives infinite or
// NaN weights).
func DequantizeQ6_K(dst []float32, src []byte) error {
	nb, err := dequantBlocks(Q6_K, len(src), len(dst))
	if err != nil {
		return err
	}
	var q [16]int8
	for i := range nb {
		blk := src[i*Q6_KBlockBytes : (i+1)*Q6_KBlockBytes]
		out := dst[i*Q6_KBlockSize : (i+1)*Q6_KBlockSize]
		for j := range Q6_KSubBlocks {
			step := Q6_KStep(blk, j)
			Q6_KQuants(blk, j, &q)
			for l, v := range q {
				out[16*j+l] = step * float32(v)
			}
		}
	}
	return nil
}

// QuantizeQ6_K quantizes src into Q6_K super-blocks in dst with a
// reference quantizer of our own (not ggml's, whose search differs, so
// the bytes differ from llama-quantize's). Per 16-weight sub-block it
// picks a step s so that the weight of largest magnitude m maps to the
// end of the quants' range: 41 candidates s = −m/(32 − k/8) for k = 0..40
// (a negative step puts m on −32, the end with room, as ggml does), each
// refined by the least-squares step for its rounded quants (Σx·q/Σq²),
// keeping the one of least squared error. The sixteen steps are then
// stored as int8 scales sc[j] = round(s_j/d) with d = max|s_j|/127 (an
// f16), and every weight requantized with the steps as stored: q =
// clamp(round(x/(d·sc)), −32, 31) + 32. On normal weights the round
// trip's relative RMS error is about 2% (TestQ6_KError); a weight inside
// its sub-block's stored range is within half a step. len(src) must be a
// multiple of 256 and dst must hold len(src)/256 × 210 bytes. Inputs
// must be finite.
func QuantizeQ6_K(dst []byte, src []float32) error {
	nb, err := quantBlocks(Q6_K, len(src), len(dst))
	if err != nil {
		return err
	}
	var steps [Q6_KSubBlocks]float32
	for i := range nb {
		x := src[i*Q6_KBlockSize : (i+1)*Q6_KBlockSize]
		blk := dst[i*Q6_KBlockBytes : (i+1)*Q6_KBlockBytes]
		var maxStep float32
		for j := range Q6_KSubBlocks {
			steps[j] = fitStep6(x[16*j : 16*j+16])
			maxStep = max(maxStep, abs32(steps[j]))
		}
		d := maxStep / 127
		binary.LittleEndian.PutUint16(blk[q6kD:], Float32ToF16(d))
		d = F16ToFloat32(binary.LittleEndian.Uint16(blk[q6kD:]))
		for j := range Q6_KSubBlocks {
			sc := float32(0)
			if d > 0 {
				sc = max(-127, min(127, roundEven(steps[j]/d)))
			}
			blk[q6kScales+j] = byte(int8(sc))
		}
		clear(blk[:q6kScales])
		for j := range Q6_KSubBlocks {
			step := Q6_KStep(blk, j)
			for l := range 16 {
				q := 32 // every quant gives 0 when the step is 0
				if step != 0 {
					q += int(max(-32, min(31, roundEven(x[16*j+l]/step))))
				}
				lo, ls, hi, hs := q6kPos(16*j + l)
				blk[lo] |= byte(q&0x0f) << ls
				blk[hi] |= byte(q>>4) << hs
			}
		}
	}
	return nil
}

// fitStep6 returns the step s (of either sign, 0 for an all-zero x) of
// QuantizeQ6_K's search for the 16 weights x.
func fitStep6(x []float32) float32 {
	var m float32
	for _, v := range x {
		if abs32(v) > abs32(m) {
			m = v
		}
	}
	if m == 0 {
		return 0
	}
	var best, bestErr float32
	for k := range 41 {
		s := -m / (32 - float32(k)/8)
		var sxq, sqq float32
		var q [16]float32
		for l, v := range x {
			q[l] = max(-32, min(31, roundEven(v/s)))
			sxq += v * q[l]
			sqq += q[l] * q[l]
		}
		if sqq > 0 {
			s = sxq / sqq
		}
		var e float32
		for l, v := range x {
			diff := s*q[l] - v
			e += diff * diff
		}
		if k == 0 || e < bestErr {
			best, bestErr = s, e
		}
	}
	if math.IsNaN(float64(best)) {
		return 0
	}
	return best
}
