package cpu

import "math"

// q8Group is how many Q8_0 blocks meet one block of int8 activations
// (quantizeQ8K's 256 values) in dotQ8Q8KGo.
const q8Group = q4kSize / q8Size

// q8GroupScales sets s to the scales of the q8Group Q8_0 blocks at w
// as integers times one power of two, which it returns: with e the
// exponent of the largest |scale| (2^e ≤ it < 2^(e+1)), s[b] is block
// b's scale times 2^(10−e) rounded to nearest even, and the power is
// 2^(e−10). So |s[b]| ≤ 2047, the largest scale (11 significant bits in
// f16) is exact, and a smaller one is off by at most half a step, 2^-11
// of the largest. The powers are made from the float32 bits as the
// assembly makes them; a group of zero scales gets 2^-126, so that its
// (zero) lanes times the power stay zero. Non-finite scales give
// unspecified results.
func q8GroupScales(w []byte, s *[q8Group]int32) float32 {
	var d [q8Group]float32
	var amax float32
	for b := range q8Group {
		d[b] = f16At(w[b*q8Bytes:], 0)
		amax = max(amax, float32(math.Abs(float64(d[b]))))
	}
	eb := max(math.Float32bits(amax)>>23, 11) // 11: an all-zero group's power stays finite
	k := math.Float32frombits((264 - eb) << 23)
	for b := range q8Group {
		s[b] = int32(math.RoundToEven(float64(d[b] * k)))
	}
	return math.Float32frombits((eb - 10) << 23)
}

// dotQ8Q8KGo is dotQ8F32 on activations quantized in blocks of 256
// (value ≈ xd[g]·xq[i], quantizeQ8K), the arithmetic of the int8 Q8_0
// dots: per group g of q8Group weight blocks the integer scales
// (q8GroupScales) times the int8 products, summed exactly in eight
// int32 lanes (lane m: bytes 4m..4m+3 of every block), converted and
// fused with xd[g] times the power into eight float32 chains, the lanes added
// at the end (sumLanes8). len(xd) groups; len(xq) is 256·len(xd).
func dotQ8Q8KGo(w []byte, xq []int8, xd []float32) float32 {
	var acc [8]float32
	var s [q8Group]int32
	for g, dx := range xd {
		grp := w[g*q8Group*q8Bytes : (g+1)*q8Group*q8Bytes]
		p := q8GroupScales(grp, &s)
		var lanes [8]int32
		for b := range q8Group {
			qs := grp[b*q8Bytes+2 : (b+1)*q8Bytes]
			for l, v := range xq[g*q4kSize+b*q8Size:][:q8Size] {
				lanes[l/4] += s[b] * int32(int8(qs[l])) * int32(v)
			}
		}
		f := dx * p
		for i := range acc {
			acc[i] = fma32(float32(lanes[i]), f, acc[i])
		}
	}
	return sumLanes8(&acc)
}
