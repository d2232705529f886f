package gguf

import (
	"encoding/binary"
	"math"
)

// Q4_K block layout (ggml's block_q4_K): a super-block of 256 weights in
// 144 bytes,
//
//	bytes 0-1    f16 d     (scale of the sub-block scales)
//	bytes 2-3    f16 dmin  (scale of the sub-block mins)
//	bytes 4-15   eight 6-bit scales sc[j] and eight 6-bit mins m[j]
//	bytes 16-143 256 4-bit quants q
//
// Weight i of sub-block j (32 weights each) is d·sc[j]·q − dmin·m[j],
// each product rounded to float32 first, as ggml's dequantize_row_q4_K.
// The quants come in four groups of 32 bytes: group g holds sub-block 2g
// in its low nibbles and sub-block 2g+1 in its high nibbles, byte l of
// the group being weight l of each. Q4_KScaleMin unpacks the 12 scale
// bytes.
const (
	// Q4_KBlockSize is the number of weights in a Q4_K super-block.
	Q4_KBlockSize = qkK
	// Q4_KBlockBytes is the encoded size of a Q4_K super-block.
	Q4_KBlockBytes = 2 + 2 + 12 + qkK/2
	// Q4_KSubBlocks is the number of 32-weight sub-blocks per super-block.
	Q4_KSubBlocks = qkK / 32
)

// Q4_KScaleMin returns sub-block j's 6-bit scale and min from a block's
// 12 scale bytes (bytes 4-15 of the block). Sub-blocks 0-3 keep theirs
// in the low six bits of bytes j and j+4; sub-blocks 4-7 keep the low
// four bits of each in byte j+4 (scale low nibble, min high nibble) and
// the top two bits in the spare top bits of bytes j−4 (scale) and j
// (min).
func Q4_KScaleMin(scales []byte, j int) (sc, m uint8) {
	if j < 4 {
		return scales[j] & 63, scales[j+4] & 63
	}
	sc = scales[j+4]&0x0f | scales[j-4]>>6<<4
	m = scales[j+4]>>4 | scales[j]>>6<<4
	return sc, m
}

// Q4_KSubBlock returns the float32 step d·sc[j] and offset dmin·m[j] of
// sub-block j of the 144-byte block blk: its weights are step·q − offset.
func Q4_KSubBlock(blk []byte, j int) (step, offset float32) {
	sc, m := Q4_KScaleMin(blk[4:16], j)
	d := F16ToFloat32(binary.LittleEndian.Uint16(blk))
	dmin := F16ToFloat32(binary.LittleEndian.Uint16(blk[2:]))
	return d * float32(sc), dmin * float32(m)
}

// Q4_KQuants returns the 32 bytes of the 144-byte block blk that hold
// sub-block j's 4-bit quants, and the shift that selects them: sub-blocks
// 2i and 2i+1 share bytes, the even one in the low nibbles.
func Q4_KQuants(blk []byte, j int) (qs []byte, shift uint) {
	o := 16 + 32*(j/2)
	return blk[o : o+32], 4 * uint(j%2)
}

// putQ4KScaleMin is Q4_KScaleMin's inverse for one sub-block; sc and m
// must be below 64 and the bytes zero before the first call.
func putQ4KScaleMin(scales []byte, j int, sc, m uint8) {
	if j < 4 {
		scales[j] |= sc
		scales[j+4] |= m
		return
	}
	scales[j+4] = sc&0x0f | m<<4
	scales[j-4] |= sc >> 4 << 6
	scales[j] |= m >> 4 << 6
}

// DequantizeQ4_K expands Q4_K super-blocks from src into dst. len(src)
// must be a multiple of 144 and dst must hold len(src)/144 × 256 values.
// Every bit pattern decodes (f16 infinities and NaNs give infinite or NaN
// weights).
func DequantizeQ4_K(dst []float32, src []byte) error {
	nb, err := dequantBlocks(Q4_K, len(src), len(dst))
	if err != nil {
		return err
	}
	for i := range nb {
		blk := src[i*Q4_KBlockBytes : (i+1)*Q4_KBlockBytes]
		out := dst[i*Q4_KBlockSize : (i+1)*Q4_KBlockSize]
		for j := range Q4_KSubBlocks {
			ds, dm := Q4_KSubBlock(blk, j)
			qs, shift := Q4_KQuants(blk, j)
			o := out[32*j : 32*j+32]
			for l, b := range qs {
				// float32() keeps the product from fusing with the
				// subtraction: ggml rounds it first.
				o[l] = float32(ds*float32(b>>shift&0x0f)) - dm
			}
		}
	}
	return nil
}

// QuantizeQ4_K quantizes src into Q4_K super-blocks in dst with the
// method of ggml's reference quantizer (quantize_row_q4_K_ref, what
// llama-quantize uses without an importance matrix): per 32-weight
// sub-block, a weighted least-squares search for the scale and min of
// 4-bit quants (weights |x| plus the sub-block's RMS); the eight scales
// and eight mins then quantized to 6 bits against their maxima (d and
// dmin, stored as f16); finally every weight requantized with the stored
// scales. On the inputs tested it writes the same bytes as ggml
// (TestQ4_KMatchesGGML). len(src) must be a multiple of 256 and dst must
// hold len(src)/256 × 144 bytes. Inputs must be finite.
func QuantizeQ4_K(dst []byte, src []float32) error {
	nb, err := quantBlocks(Q4_K, len(src), len(dst))
	if err != nil {
		return err
	}
	var (
		scales, mins [Q4_KSubBlocks]float32
		weights      [32]float32
		q            [Q4_KBlockSize]uint8
	)
	for i := range nb {
		x := src[i*Q4_KBlockSize : (i+1)*Q4_KBlockSize]
		blk := dst[i*Q4_KBlockBytes : (i+1)*Q4_KBlockBytes]
		var maxScale, maxMin float32
		for j := range Q4_KSubBlocks {
			xs := x[32*j : 32*j+32]
			var ss float32
			for _, v := range xs {
				ss += v * v
			}
			rms := float32(math.Sqrt(float64(ss / 32)))
			for l, v := range xs {
				weights[l] = rms + abs32(v)
			}
			scales[j], mins[j] = fitScaleMin(xs, weights[:], 15, -1, 0.1, 20)
			maxScale = max(maxScale, scales[j])
			maxMin = max(maxMin, mins[j])
		}
		var invScale, invMin float32
		if maxScale > 0 {
			invScale = 63 / maxScale
		}
		if maxMin > 0 {
			invMin = 63 / maxMin
		}
		clear(blk[4:16])
		for j := range Q4_KSubBlocks {
			putQ4KScaleMin(blk[4:16], j, uint8(clampRound(invScale*scales[j], 63)), uint8(clampRound(invMin*mins[j], 63)))
		}
		binary.LittleEndian.PutUint16(blk, Float32ToF16(maxScale/63))
		binary.LittleEndian.PutUint16(blk[2:], Float32ToF16(maxMin/63))

		// Requantize with the scales as stored.
		for j := range Q4_KSubBlocks {
			ds, dm := Q4_KSubBlock(blk, j)
			for l := range 32 {
				if ds == 0 {
					q[32*j+l] = 0 // every quant gives the same weight, −dm
					continue
				}
				q[32*j+l] = uint8(clampRound((x[32*j+l]+dm)/ds, 15))
			}
		}
		qs := blk[16:]
		for g := range 4 {
			for l := range 32 {
				qs[32*g+l] = q[64*g+l] | q[64*g+32+l]<<4
			}
		}
	}
	return nil
}

func abs32(v float32) float32 { return math.Float32frombits(math.Float32bits(v) &^ (1 << 31)) }

// roundEven rounds v to the nearest integer, halves to even, for |v| <
// 2^22 (ggml's nearest_int, by the same trick: adding 1.5·2^23 leaves
// no fraction bits in float32). Larger |v| (and NaN) come back
// unchanged or at least as large, which the callers clamp.
func roundEven(v float32) float32 {
	if !(v > -0x1p22 && v < 0x1p22) {
		return v
	}
	return float32(v+0x1.8p23) - 0x1.8p23
}

// clampRound is roundEven(v) clamped to [0, hi].
func clampRound(v float32, hi float32) int {
	return int(min(hi, max(0, roundEven(v))))
}

// fitScaleMin finds scale > 0 and min ≥ 0 such that x[i] ≈ scale·L[i] −
// min with integer L[i] in [0, nmax], minimizing Σ w[i]·error²: the
// straight min–max fit, then nstep+1 candidate step counts nmax + rmin +
// rdelta·k over the range, each refined by the weighted least-squares
// scale and min for its quants (the min held at 0 when the fit wants a
// positive offset). This is the search of ggml's make_qkx2_quants, in
// float32, including its habit of measuring the later candidates from
// the best min found so far.
func fitScaleMin(x, w []float32, nmax int, rmin, rdelta float32, nstep int) (scale, minOut float32) {
	var offset float32
	lo, hi := x[0], x[0]
	var sumW, sumX float32
	for i, v := range x {
		lo, hi = min(lo, v), max(hi, v)
		sumW += w[i]
		sumX += w[i] * v
	}
	lo = min(lo, 0)
	if hi == lo {
		return 0, -lo
	}
	fn := float32(nmax)
	w = w[:len(x)]
	var l [32]float32 // the candidate's quants (len(x) ≤ 32)
	best := float32(-1)
	// cur is the best fit's min so far: like ggml, later candidates
	// quantize relative to it and size their steps over hi − cur.
	cur := lo
	for k := -1; k <= nstep; k++ {
		// k = −1: the plain min–max fit, kept unless a candidate does
		// better.
		iscale := fn / (hi - cur)
		if k >= 0 {
			iscale = (rmin + rdelta*float32(k) + fn) / (hi - cur)
		}
		var sumL, sumL2, sumXL float32
		for i, v := range x {
			q := iscale * (v - cur)
			switch {
			case !(q > 0): // NaN included
				q = 0
			case q > fn:
				q = fn
			default:
				q = float32(q+0x1.8p23) - 0x1.8p23 // roundEven
			}
			l[i] = q
			sumL += w[i] * q
			sumL2 += w[i] * q * q
			sumXL += w[i] * q * v
		}
		s, off := 1/iscale, cur
		if k >= 0 {
			det := sumW*sumL2 - sumL*sumL
			if !(det > 0) {
				continue
			}
			s = (sumW*sumXL - sumX*sumL) / det
			off = (sumL2*sumX - sumL*sumXL) / det
			if off > 0 {
				off, s = 0, sumXL/sumL2
			}
		}
		var e float32
		for i, v := range x {
			diff := s*l[i] + off - v
			e += w[i] * diff * diff
		}
		if best < 0 || e < best {
			best, scale, offset = e, s, off
			if k >= 0 {
				cur = off
			}
		}
	}
	return scale, -offset
}
