package cpu

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/outpost-iot/outpost/accel/gguf"
	"github.com/outpost-iot/outpost/accel/llama"
)

// randQ8Spread is randQ8 with scales of every kind q8GroupScales meets:
// exponents spread over f16's whole range within a group, negative
// ones, subnormals, zeros, and whole groups of zeros.
func randQ8Spread(rng *rand.Rand, rows, cols int) llama.Tensor {
	w := randQ8(rng, rows, cols)
	for off := 0; off < len(w.Data); off += q8Bytes {
		var h uint16
		switch rng.IntN(8) {
		case 0:
			h = uint16(rng.IntN(1024)) // subnormal or zero
		case 1:
			h = 0
		default:
			h = uint16(1+rng.IntN(30))<<10 | uint16(rng.IntN(1024))
		}
		if rng.IntN(3) == 0 {
			h |= 0x8000
		}
		w.Data[off], w.Data[off+1] = byte(h), byte(h>>8)
	}
	if len(w.Data) >= q8Group*q8Bytes {
		for b := range q8Group { // a group of zero scales
			w.Data[b*q8Bytes], w.Data[b*q8Bytes+1] = 0, 0
		}
	}
	return w
}

// TestQ8GroupScales: the integer scales of a group are its f16 scales
// to within half a step of its power, the largest exactly, all within
// ±2047 (the int32 lanes' bound).
func TestQ8GroupScales(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 21))
	w := randQ8Spread(rng, 1, 256*64)
	var s [q8Group]int32
	for g := range len(w.Data) / (q8Group * q8Bytes) {
		grp := w.Data[g*q8Group*q8Bytes:]
		p := float64(q8GroupScales(grp, &s))
		var amax float64
		for b := range q8Group {
			amax = max(amax, math.Abs(float64(f16At(grp[b*q8Bytes:], 0))))
		}
		for b := range q8Group {
			d := float64(f16At(grp[b*q8Bytes:], 0))
			if s[b] < -2047 || s[b] > 2047 {
				t.Fatalf("group %d block %d: scale %v is %d steps", g, b, d, s[b])
			}
			if e := math.Abs(float64(s[b])*p - d); e > p/2 || (math.Abs(d) == amax && e != 0) {
				t.Fatalf("group %d block %d: scale %v as %d × %v (largest %v)", g, b, d, s[b], p, amax)
			}
		}
		if amax > 0 && (amax < 1024*p || amax >= 2048*p) {
			t.Fatalf("group %d: largest scale %v, power %v", g, amax, p)
		}
	}
}

// TestDotQ8Q8K: the portable int8 Q8_0 dot against float64 sums of its
// integer scales times the quants (so only the float32 conversions, the
// FMA chains and the lane sum round), and against the f16 scales
// within the scales' rounding (half a step per weight).
func TestDotQ8Q8K(t *testing.T) {
	rng := rand.New(rand.NewPCG(22, 22))
	for _, ng := range []int{0, 1, 2, 3, 8, 22} {
		cols := 256 * ng
		w := randQ8Spread(rng, 1, cols)
		in := MatMulInput{X: randF32(rng, cols, 3)}
		prepareActs(&portableOps, acts{q8: true}, &in, llama.Tensor{Type: gguf.Q8_0, Cols: cols}, 1)
		var exact, abs, scaled, step float64
		var s [q8Group]int32
		for g := range ng {
			grp := w.Data[g*q8Group*q8Bytes:]
			p := float64(q8GroupScales(grp, &s))
			xd := float64(in.KD[g])
			for b := range q8Group {
				d := float64(f16At(grp[b*q8Bytes:], 0))
				for j := range q8Size {
					qx := float64(int8(grp[b*q8Bytes+2+j])) * float64(in.Q[g*256+b*32+j]) * xd
					exact += float64(s[b]) * p * qx
					abs += math.Abs(float64(s[b]) * p * qx)
					scaled += d * qx
					step += p / 2 * math.Abs(qx)
				}
			}
		}
		got := float64(dotQ8Q8KGo(w.Data, in.Q[:cols], in.KD[:ng]))
		if math.Abs(got-exact) > sumBound(8*ng+8, abs) {
			t.Errorf("%d groups: %v, want %v", ng, got, exact)
		}
		if math.Abs(got-scaled) > sumBound(8*ng+8, abs)+step {
			t.Errorf("%d groups: %v, f16 scales give %v (bound %g)", ng, got, scaled, step)
		}
	}
}

// TestDotQ8Q8KBits: every set's int8 Q8_0 dots give dotQ8Q8KGo's bits,
// one token, four and eight (storing one to eight of them), on random
// blocks with scales of every
// kind, and on extreme quants: weights of -128 and ±127 against
// activations of ±127 with the largest integer scales, the int32 lanes'
// largest sums (VPMADDUBSW saturates if a pair of products reaches
// 2^15; a lane reaches 8·4·128·127·2047 < 2^31).
func TestDotQ8Q8KBits(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 23))
	for _, ops := range opsUnderTest() {
		for _, cols := range []int{256, 512, 2048} {
			for rep := range 8 {
				w := randQ8Spread(rng, 1, cols)
				x := randF32(rng, 8*cols, 1+float32(rep))
				if rep >= 5 {
					wq := []int8{-128, -127, 127}[rep-5]
					for off := 0; off < len(w.Data); off += q8Bytes {
						w.Data[off], w.Data[off+1] = 0xff, 0x3f // f16 1.999: integer scale 2047
						for j := range q8Size {
							w.Data[off+2+j] = byte(wq)
						}
					}
					for i := range x {
						x[i] = float32(1 - 2*(i/7%2))
					}
				}
				in := MatMulInput{X: x}
				prepareActs(&ops, acts{q8: true}, &in, llama.Tensor{Type: gguf.Q8_0, Cols: cols}, 8)
				ng := cols / 256
				var want [8]float32
				for tok := range 8 {
					xq, xd := in.Q[tok*cols:(tok+1)*cols], in.KD[tok*ng:(tok+1)*ng]
					want[tok] = dotQ8Q8KGo(w.Data, xq, xd)
					if got := ops.dotQ8Q8K(w.Data, xq, xd); math.Float32bits(got) != math.Float32bits(want[tok]) {
						t.Fatalf("%s cols %d rep %d token %d: %v, Go %v", ops.name, cols, rep, tok, got, want[tok])
					}
				}
				if ops.dotQ8Q8Kx4 != nil {
					out := make([]float32, 4*3)
					ops.dotQ8Q8Kx4(w.Data, in.Q[:4*cols], in.KD[:4*ng], out, 3)
					for tok := range 4 {
						if math.Float32bits(out[3*tok]) != math.Float32bits(want[tok]) {
							t.Fatalf("%s x4 cols %d rep %d token %d: %v, Go %v", ops.name, cols, rep, tok, out[3*tok], want[tok])
						}
					}
				}
				if ops.dotQ8Q8Kx8 == nil {
					continue
				}
				for k := 1; k <= 8; k++ { // the first k stored, the rest left alone
					out := make([]float32, 8*3)
					for i := range out {
						out[i] = -1
					}
					ops.dotQ8Q8Kx8(w.Data, in.Q[:8*cols], in.KD[:8*ng], out[:(k-1)*3+1], 3, k)
					for tok := range 8 {
						if g := out[3*tok]; tok < k && math.Float32bits(g) != math.Float32bits(want[tok]) || tok >= k && g != -1 {
							t.Fatalf("%s x8 k=%d cols %d rep %d token %d: %v, Go %v", ops.name, k, cols, rep, tok, g, want[tok])
						}
					}
				}
			}
		}
	}
}
