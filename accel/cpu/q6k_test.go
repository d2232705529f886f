package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/outpost-iot/outpost/accel/gguf"
	"github.com/outpost-iot/outpost/accel/internal/testmodel"
	"github.com/outpost-iot/outpost/accel/llama"
)

// randQ6K is a Q6_K tensor with every quant and scale byte random (so
// scales of −128 too, which no quantizer writes but a file may hold) and
// a random f16 d of either sign.
func randQ6K(rng *rand.Rand, rows, cols int) llama.Tensor {
	t := llama.Tensor{Name: "w", Type: gguf.Q6_K, Cols: cols, Rows: rows}
	t.Data = make([]byte, rows*t.RowBytes())
	for i := range t.Data {
		t.Data[i] = byte(rng.IntN(256))
	}
	for off := 0; off < len(t.Data); off += gguf.Q6_KBlockBytes {
		d := gguf.Float32ToF16((rng.Float32()*2 - 1) / 4096)
		t.Data[off+208], t.Data[off+209] = byte(d), byte(d>>8)
	}
	return t
}

// q6kWeights calls fn with each column i of row r of w and its weight
// step·(q_i−32), in float64.
func q6kWeights(w llama.Tensor, r int, fn func(i int, v float64)) {
	row := w.Data[r*w.RowBytes():]
	var q [16]int8
	for i := 0; i < w.Cols; i += 16 {
		blk := row[i/256*gguf.Q6_KBlockBytes:]
		step := float64(gguf.Q6_KStep(blk, i%256/16))
		gguf.Q6_KQuants(blk, i%256/16, &q)
		for l, v := range q {
			fn(i+l, step*float64(v))
		}
	}
}

// q6kAbs is Σ_i |step·(q_i−32)·x_i| over row r of w: the magnitude the
// float32 roundings of a Q6_K dot are relative to.
func q6kAbs(w llama.Tensor, r int, x []float32) float64 {
	var abs float64
	q6kWeights(w, r, func(i int, v float64) { abs += math.Abs(v * float64(x[i])) })
	return abs
}

// TestMatMulQ6K compares every fast Q6_K matmul with the scalar one
// (float64 over the dequantized weights) within sumBound of the row's
// magnitude plus the reference's rounding of each weight, plus, for the
// sets that quantize the activations, how far that can move the result
// (Σ|step·(q−32)|·KD/2), and checks that token t of a batch of n has
// the same bits as the token alone (the four-token dot and the single
// one agree).
func TestMatMulQ6K(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 11))
	for _, k := range fastSets() {
		t.Run(k.Name, func(t *testing.T) {
			for _, shape := range [][2]int{{1, 256}, {13, 512}, {67, 768}, {5, 2048}} {
				rows, cols := shape[0], shape[1]
				w := randQ6K(rng, rows, cols)
				for _, n := range []int{1, 3, 4, 5, 7, 9, 11} {
					x := randF32(rng, n*cols, 3)
					got := runMatMul(k, w, x, n)
					want := runMatMul(Scalar(), w, x, n)
					in := MatMulInput{X: x}
					k.Prepare(&in, w, n)
					for tok := range n {
						xt := x[tok*cols : (tok+1)*cols]
						alone := runMatMul(k, w, xt, 1)
						for r := range rows {
							abs, quant := q6kAbs(w, r, xt), 0.0
							if quantizes(k, gguf.Q6_K) {
								quant = q6kQuantErr(w, r, in.KD[tok*cols/256:(tok+1)*cols/256])
							}
							g, e := got[tok*rows+r], want[tok*rows+r]
							if d := math.Abs(float64(g) - float64(e)); d > sumBound(cols, abs)+2*u*abs+quant {
								t.Fatalf("%dx%d n=%d token %d row %d: %v, reference %v (abs %g)", rows, cols, n, tok, r, g, e, abs)
							}
							if alone[r] != g {
								t.Fatalf("%dx%d n=%d token %d row %d: %v batched, %v alone", rows, cols, n, tok, r, g, alone[r])
							}
						}
					}
				}
			}
		})
	}
}

// q6kQuantErr is Σ_i |step·(q_i−32)|·kd[i/256]/2 over row r of w: how
// far quantizing the activations (steps kd) can move a dot's value.
func q6kQuantErr(w llama.Tensor, r int, kd []float32) float64 {
	var e float64
	q6kWeights(w, r, func(i int, v float64) { e += math.Abs(v) * float64(kd[i/256]) / 2 })
	return e
}

// TestDotQ6KQ8KBits: every set's int8 Q6_K dots give dotQ6KQ8KGo's bits,
// one token and four, on random blocks (scales of both signs, -128
// included) and on the largest sums (every quant ±127).
func TestDotQ6KQ8KBits(t *testing.T) {
	rng := rand.New(rand.NewPCG(14, 14))
	for _, ops := range opsUnderTest() {
		for _, cols := range []int{256, 512, 2048} {
			for rep := range 6 {
				w := randQ6K(rng, 1, cols)
				x := randF32(rng, 4*cols, 1+float32(rep))
				if rep == 5 {
					for i := range x {
						x[i] = float32(1 - 2*(i/5%2))
					}
					for b := 0; b < len(w.Data); b += gguf.Q6_KBlockBytes {
						for j := range 16 { // the largest scales and quants
							w.Data[b+192+j] = 0x80
						}
						for j := range 192 {
							w.Data[b+j] = 0
						}
					}
				}
				in := MatMulInput{X: x}
				prepareActs(&ops, acts{q6k: true}, &in, w, 4)
				nb := cols / 256
				var want [4]float32
				for tok := range 4 {
					xq, xd := in.Q[tok*cols:(tok+1)*cols], in.KD[tok*nb:(tok+1)*nb]
					want[tok] = dotQ6KQ8KGo(w.Data, xq, xd)
					if got := ops.dotQ6KQ8K(w.Data, xq, xd); math.Float32bits(got) != math.Float32bits(want[tok]) {
						t.Fatalf("%s cols %d rep %d token %d: %v, Go %v", ops.name, cols, rep, tok, got, want[tok])
					}
				}
				if ops.dotQ6KQ8Kx4 == nil {
					continue
				}
				out := make([]float32, 4*3)
				ops.dotQ6KQ8Kx4(w.Data, in.Q, in.KD, out, 3)
				for tok := range 4 {
					if math.Float32bits(out[3*tok]) != math.Float32bits(want[tok]) {
						t.Fatalf("%s x4 cols %d rep %d token %d: %v, Go %v", ops.name, cols, rep, tok, out[3*tok], want[tok])
					}
				}
			}
		}
	}
}

// TestDotQ6K: each set's dotQ6K against the portable one within
// sumBound, over zero to nine super-blocks; its dotQ6Kx4 against four
// calls of its dotQ6K bit for bit, with the tokens at odd strides
// (cols values apart plus the row's tail, as a sub-slice leaves them)
// and the results scattered at a stride.
func TestDotQ6K(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 12))
	for _, ops := range opsUnderTest() {
		if ops.dotQ6K == nil {
			continue
		}
		for nb := range 10 {
			cols := 256 * nb
			w := randQ6K(rng, 1, cols)
			x := randF32(rng, 4*cols+5, 2)
			for tok := range 4 {
				xt := x[tok*cols : (tok+1)*cols]
				got, want := ops.dotQ6K(w.Data, xt), dotQ6KGo(w.Data, xt)
				abs := q6kAbs(w, 0, xt)
				if d := math.Abs(float64(got) - float64(want)); d > 2*sumBound(cols, abs) {
					t.Fatalf("%s nb=%d token %d: %v, Go %v (abs %g)", ops.name, nb, tok, got, want, abs)
				}
			}
			if ops.dotQ6Kx4 == nil {
				continue
			}
			for _, stride := range []int{1, 3} {
				out := make([]float32, 3*stride+1)
				for i := range out {
					out[i] = float32(math.NaN())
				}
				ops.dotQ6Kx4(w.Data, x, cols, out, stride)
				for tok := range 4 {
					one := ops.dotQ6K(w.Data, x[tok*cols:(tok+1)*cols])
					if math.Float32bits(out[tok*stride]) != math.Float32bits(one) {
						t.Fatalf("%s nb=%d token %d: x4 %v, single %v", ops.name, nb, tok, out[tok*stride], one)
					}
				}
			}
		}
	}
}

// TestQ6KExtremes: every quant 0 or 63 (−32 and 31 centred), scales
// ±127 and −128, d of both signs, against exact sums (small integers
// times powers of two: every kernel is exact).
func TestQ6KExtremes(t *testing.T) {
	for _, ops := range opsUnderTest() {
		if ops.dotQ6K == nil {
			continue
		}
		for _, q := range []byte{0x00, 0xff} {
			for _, sc := range []int8{127, -127, -128} {
				for _, d := range []float32{1, -0.25} {
					blk := make([]byte, 2*gguf.Q6_KBlockBytes)
					for b := range 2 {
						o := b * gguf.Q6_KBlockBytes
						for i := range 192 {
							blk[o+i] = q
						}
						for i := 192; i < 208; i++ {
							blk[o+i] = byte(sc)
						}
						h := gguf.Float32ToF16(d)
						blk[o+208], blk[o+209] = byte(h), byte(h>>8)
					}
					x := make([]float32, 512)
					var want float64
					for i := range x {
						x[i] = float32(i%7) - 3
						want += float64(d) * float64(sc) * float64(int(q&63)-32) * float64(x[i])
					}
					if got := ops.dotQ6K(blk, x); float64(got) != want {
						t.Errorf("%s: q %#x sc %d d %v: %v, want %v", ops.name, q, sc, d, got, want)
					}
				}
			}
		}
	}
}

// TestQ4KMGreedyMatchesReference: the Q4_K_M test model (Q4_K matrices,
// Q6_K output and layer 2's attn_v and ffn_down) generates the same
// greedy tokens through the runner with BestF32Act (float32
// activations) as through accel/llama, batched and not. With -short (the arm64 run under qemu), a dozen
// tokens.
func TestQ4KMGreedyMatchesReference(t *testing.T) {
	m, err := llama.Load(testmodel.Q4KM(t))
	if err != nil {
		t.Fatal(err)
	}
	if m.Output.Type != gguf.Q6_K {
		t.Fatalf("output %v, want Q6_K", m.Output.Type)
	}
	rng := rand.New(rand.NewPCG(13, 13))
	prompts := [][]int32{randTokens(rng, 3, m.VocabSize), randTokens(rng, 17, m.VocabSize), randTokens(rng, 8, m.VocabSize)}
	n := 32
	if testing.Short() {
		n = 12
	}
	k := BestF32Act()
	t.Run(k.Name, func(t *testing.T) {
		r, err := New(m, Config{NumBlocks: 16, Kernels: k})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		checkGreedy(t, m, r, prompts, n)
	})
}

// BenchmarkDotQ6K: one 2048-long Q6_K row (in cache) against float32
// activations and int8 ones (-q8act), one token and four, this CPU's
// primitives and Go's.
func BenchmarkDotQ6K(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	w := randQ6K(rng, 1, 2048)
	x := randF32(rng, 4*2048, 1)
	in := MatMulInput{X: x}
	prepareActs(&portableOps, acts{q6k: true}, &in, w, 4)
	out := make([]float32, 4)
	for _, ops := range opsUnderTest() {
		b.Run(ops.name, func(b *testing.B) {
			b.SetBytes(int64(len(w.Data)))
			for b.Loop() {
				ops.dotQ6K(w.Data, x[:2048])
			}
		})
		if ops.dotQ6Kx4 != nil {
			b.Run(ops.name+"x4", func(b *testing.B) {
				b.SetBytes(4 * int64(len(w.Data)))
				for b.Loop() {
					ops.dotQ6Kx4(w.Data, x, 2048, out, 1)
				}
			})
		}
		b.Run(ops.name+"-q8act", func(b *testing.B) {
			b.SetBytes(int64(len(w.Data)))
			for b.Loop() {
				ops.dotQ6KQ8K(w.Data, in.Q[:2048], in.KD[:8])
			}
		})
		if ops.dotQ6KQ8Kx4 != nil {
			b.Run(ops.name+"-q8act-x4", func(b *testing.B) {
				b.SetBytes(4 * int64(len(w.Data)))
				for b.Loop() {
					ops.dotQ6KQ8Kx4(w.Data, in.Q, in.KD, out, 1)
				}
			})
		}
	}
}

// BenchmarkMatMulQ6K: a 256 × 2048 Q6_K matrix (in cache) times 1, 4
// or 8 tokens, and TinyLlama's output projection (32000 × 2048, the
// tensor Q4_K_M files keep in Q6_K) times one token, streamed from
// memory.
func BenchmarkMatMulQ6K(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	w := randQ6K(rng, 256, 2048)
	for _, n := range []int{1, 4, 8} {
		b.Run(fmt.Sprint("Tokens", n), func(b *testing.B) {
			benchKernelSets(b, func(b *testing.B, k Kernels) { benchMatMul(b, k, w, n) })
		})
	}
	big := randQ6K(rng, 32000, 2048)
	b.Run("Big", func(b *testing.B) {
		k := Best()
		b.Run(k.Name, func(b *testing.B) { benchMatMul(b, k, big, 1) })
	})
}
