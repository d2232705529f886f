package cpu

import (
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/outpost-iot/outpost/accel/gguf"
	"github.com/outpost-iot/outpost/accel/internal/testmodel"
	"github.com/outpost-iot/outpost/accel/llama"
)

// randQ4K is a Q4_K tensor with every quant and scale byte random and
// random f16 d and dmin of either sign (a file may hold any).
func randQ4K(rng *rand.Rand, rows, cols int) llama.Tensor {
	t := llama.Tensor{Name: "w", Type: gguf.Q4_K, Cols: cols, Rows: rows}
	t.Data = make([]byte, rows*t.RowBytes())
	for i := range t.Data {
		t.Data[i] = byte(rng.IntN(256))
	}
	for off := 0; off < len(t.Data); off += gguf.Q4_KBlockBytes {
		d := gguf.Float32ToF16((rng.Float32()*2 - 1) / 512)
		m := gguf.Float32ToF16((rng.Float32()*2 - 1) / 256)
		t.Data[off], t.Data[off+1] = byte(d), byte(d>>8)
		t.Data[off+2], t.Data[off+3] = byte(m), byte(m>>8)
	}
	return t
}

// q4kAbs is Σ_i (|step·q_i·x_i| + |offset·x_i|) over row r of w: the
// magnitude the float32 roundings of a Q4_K dot are relative to.
func q4kAbs(w llama.Tensor, r int, x []float32) float64 {
	row := w.Data[r*w.RowBytes():]
	var abs float64
	for i, v := range x[:w.Cols] {
		blk := row[i/256*gguf.Q4_KBlockBytes:]
		j, l := i%256/32, i%32
		step, off := gguf.Q4_KSubBlock(blk, j)
		qs, shift := gguf.Q4_KQuants(blk, j)
		q := qs[l] >> shift & 15
		abs += math.Abs(float64(step)*float64(q)*float64(v)) + math.Abs(float64(off)*float64(v))
	}
	return abs
}

// TestMatMulQ4K compares every fast Q4_K matmul with the scalar one
// (float64 over the dequantized weights): the fast kernels sum each
// sub-block's quants times activations in float32, scale it, and
// subtract the min times the activations' sum, so sumBound over the
// row's magnitudes applies, plus the reference's own rounding of each
// weight (two float32 operations). The -q8act kernels quantize the
// activations (each moves by at most half its block's step QD/2), which
// adds Σ|step·q|·QD/2; their min term uses the exact sums. Token t of a
// batch of n is bit-identical to the same token alone, whatever n (the
// four-token kernel and the one-token kernel agree bit for bit).
func TestMatMulQ4K(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for _, k := range fastSets() {
		t.Run(k.Name, func(t *testing.T) {
			quantized := quantizes(k, gguf.Q4_K)
			for _, shape := range [][2]int{{1, 256}, {13, 512}, {67, 768}, {5, 2048}} {
				rows, cols := shape[0], shape[1]
				w := randQ4K(rng, rows, cols)
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
							abs, quant := q4kAbs(w, r, xt), 0.0
							if quantized {
								quant = q4kQuantErr(w, r, in.KD[tok*cols/256:(tok+1)*cols/256])
							}
							g, e := got[tok*rows+r], want[tok*rows+r]
							if d := math.Abs(float64(g) - float64(e)); d > sumBound(cols, abs)+2*u*abs+quant {
								t.Fatalf("%dx%d n=%d token %d row %d: %v, reference %v (abs %g, quantization %g)", rows, cols, n, tok, r, g, e, abs, quant)
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

// q4kQuantErr is Σ_i (|step·q_i| + |offset|)·kd[i/256]/2 over row r of
// w: how far quantizing the activations (steps kd, one per super-block)
// can move a dot's value, through the products and through the sums the
// mins multiply.
func q4kQuantErr(w llama.Tensor, r int, kd []float32) float64 {
	row := w.Data[r*w.RowBytes():]
	var e float64
	for i := range w.Cols {
		blk := row[i/256*gguf.Q4_KBlockBytes:]
		j, l := i%256/32, i%32
		step, off := gguf.Q4_KSubBlock(blk, j)
		qs, shift := gguf.Q4_KQuants(blk, j)
		q := qs[l] >> shift & 15
		e += (math.Abs(float64(step)*float64(q)) + math.Abs(float64(off))) * float64(kd[i/256]) / 2
	}
	return e
}

// TestQ4KExtremes: all quants 15 or 0, the largest 6-bit scales and
// mins, d and dmin of both signs, against exact sums (the values are
// small integers times powers of two, so every kernel is exact), with
// float32 activations and with int8 ones at ±127.
func TestQ4KExtremes(t *testing.T) {
	for _, ops := range opsUnderTest() {
		for _, q := range []byte{0x00, 0xff, 0x0f, 0xf0} {
			for _, dd := range [][2]float32{{1, 1}, {-0.5, 2}, {0.25, -0.125}} {
				blk := make([]byte, 2*gguf.Q4_KBlockBytes)
				for b := range 2 {
					o := b * gguf.Q4_KBlockBytes
					d, m := gguf.Float32ToF16(dd[0]), gguf.Float32ToF16(dd[1])
					blk[o], blk[o+1], blk[o+2], blk[o+3] = byte(d), byte(d>>8), byte(m), byte(m>>8)
					for i := 4; i < 16; i++ {
						blk[o+i] = 0xff // every scale and min 63
					}
					for i := 16; i < gguf.Q4_KBlockBytes; i++ {
						blk[o+i] = q
					}
				}
				x := make([]float32, 512)
				xs := make([]float32, 16)
				for i := range x {
					x[i] = float32(i%7) - 3
					xs[i/32] += x[i]
				}
				var want float64
				for i, v := range x {
					qi := float64(q & 15)
					if i%64 >= 32 {
						qi = float64(q >> 4)
					}
					want += (float64(dd[0])*63*qi - float64(dd[1])*63) * float64(v)
				}
				if got := ops.dotQ4K(blk, x, xs); float64(got) != want {
					t.Errorf("%s: q %#x d %v: %v, want %v", ops.name, q, dd, got, want)
				}
				// Quantized activations of ±127 (step 1): VPMADDUBSW
				// pairs reach 2·15·127, far from saturating.
				for _, a := range []int8{127, -127} {
					xq := make([]int8, 512)
					xd := []float32{1, 1}
					bs := make([]int16, 16)
					for i := range xq {
						xq[i], x[i] = a, float32(a)
					}
					for i := range bs {
						bs[i] = 32 * int16(a)
					}
					var want float64
					for i := range x {
						qi := float64(q & 15)
						if i%64 >= 32 {
							qi = float64(q >> 4)
						}
						want += (float64(dd[0])*63*qi - float64(dd[1])*63) * float64(a)
					}
					if got := ops.dotQ4KQ8K(blk, xq, xd, bs); float64(got) != want {
						t.Errorf("%s q8: q %#x d %v x %d: %v, want %v", ops.name, q, dd, a, got, want)
					}
				}
			}
		}
	}
}

// TestQ4KGreedyMatchesReference: the Q4_K test model (Q4_K matrices,
// Q8_0 ffn_down) generates the same greedy tokens through the runner
// with BestF32Act (float32 activations) as through accel/llama, batched
// and not. With -short (the arm64 run under qemu), a dozen tokens.
func TestQ4KGreedyMatchesReference(t *testing.T) {
	m, err := llama.Load(testmodel.Q4K(t, gguf.Q4_K))
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(9, 9))
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

// BenchmarkMatMulQ4K: a 256 × 2048 Q4_K matrix (held in cache, as
// BenchmarkMatMulQ8Tokens*'s Q8_0 one) times 1, 4 or 8 tokens.
func BenchmarkMatMulQ4K(b *testing.B) {
	w := randQ4K(rand.New(rand.NewPCG(1, 2)), 256, 2048)
	for _, n := range []int{1, 4, 8} {
		b.Run(fmt.Sprint("Tokens", n), func(b *testing.B) {
			benchKernelSets(b, func(b *testing.B, k Kernels) { benchMatMul(b, k, w, n) })
		})
	}
}

// BenchmarkMatMulBig: TinyLlama's output projection (32000 × 2048), Q8_0
// against Q4_K, one token: streamed from memory, as in a decode step.
func BenchmarkMatMulBig(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, w := range []llama.Tensor{q8Matrix(32000, 2048), randQ4K(rng, 32000, 2048)} {
		b.Run(w.Type.String(), func(b *testing.B) {
			k := Best()
			b.Run(k.Name, func(b *testing.B) { benchMatMul(b, k, w, 1) })
		})
	}
}

// BenchmarkDotQ4K: one 2048-long Q4_K row (in cache) against float32
// activations and against int8-quantized ones, this CPU's primitives.
func BenchmarkDotQ4K(b *testing.B) {
	ops, ok := archOps()
	if !ok {
		ops = portableOps
	}
	rng := rand.New(rand.NewPCG(1, 2))
	w := randQ4K(rng, 1, 2048)
	x := randF32(rng, 2048, 1)
	in := MatMulInput{X: x}
	prepareActs(&ops, acts{}, &in, w, 1)
	xs := in.S
	prepareActs(&ops, acts{q4k: true}, &in, w, 1)
	b.Run("f32act", func(b *testing.B) {
		for b.Loop() {
			ops.dotQ4K(w.Data, x, xs)
		}
	})
	b.Run("q8act", func(b *testing.B) {
		for b.Loop() {
			ops.dotQ4KQ8K(w.Data, in.Q, in.KD, in.KS)
		}
	})
}

// TestBestSets: BestF32Act is Best's primitives (named so), and the
// sets that quantize activations (Best's included) give greedy tokens
// that do not depend on the batch, on the Q4_K test model (Q4_K
// matrices, a Q8_0 ffn_down of 352-long rows, which stay on float32)
// and on the same shape in Q8_0, whose 256-long rows take the int8 Q8_0
// dots.
func TestBestSets(t *testing.T) {
	best := Best()
	if b := best.Name; b != "scalar" {
		if f := BestF32Act().Name; f != b && f != b+"-f32act" {
			t.Fatalf("BestF32Act is %q, Best %q", f, b)
		}
	}
	sets := []Kernels{best}
	if ops, ok := archOps(); ok && !ops.allInt8() {
		sets = append(sets, fastKernels(ops, actQ8))
	}
	for _, q := range []gguf.Type{gguf.Q4_K, gguf.Q8_0} {
		m, err := llama.Load(testmodel.Q4K(t, q))
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range sets {
			t.Run(q.String()+"/"+k.Name, func(t *testing.T) {
				r, err := New(m, Config{NumBlocks: 16, Kernels: k})
				if err != nil {
					t.Fatal(err)
				}
				defer r.Close()
				prompts := [][]int32{{1, 5, 9}, {1, 300, 301, 302, 303, 304, 305}, {1, 77}, {1, 2}, {1, 9, 9}, {1, 40}, {1, 41}, {1, 42}, {1, 43}}
				one := greedy(t, r, prompts, 8, false)
				all := greedy(t, r, prompts, 8, true)
				for i := range prompts {
					if !slices.Equal(one[i], all[i]) {
						t.Errorf("prompt %d: unbatched %v, batched %v", i, one[i], all[i])
					}
				}
			})
		}
	}
}

// TestDotQ4KQ8KBits: every set's int8 Q4_K dots give dotQ4KQ8KGo's bits
// (the same integer lanes, FMAs and lane sum), one token and four, on
// random blocks, activations quantized by prepareActs and on extreme
// quants (±127 everywhere, the largest sums).
func TestDotQ4KQ8KBits(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 11))
	for _, ops := range opsUnderTest() {
		for _, cols := range []int{256, 512, 2048} {
			for rep := range 6 {
				w := randQ4K(rng, 1, cols)
				x := randF32(rng, 4*cols, 1+float32(rep))
				if rep == 5 {
					for i := range x {
						x[i] = float32(1 - 2*(i/7%2)) // ±1: every quant ±127
					}
				}
				in := MatMulInput{X: x}
				prepareActs(&ops, acts{q4k: true}, &in, w, 4)
				nb := cols / 256
				var want [4]float32
				for tok := range 4 {
					xq, xd, bs := in.Q[tok*cols:(tok+1)*cols], in.KD[tok*nb:(tok+1)*nb], in.KS[tok*8*nb:(tok+1)*8*nb]
					want[tok] = dotQ4KQ8KGo(w.Data, xq, xd, bs)
					if got := ops.dotQ4KQ8K(w.Data, xq, xd, bs); math.Float32bits(got) != math.Float32bits(want[tok]) {
						t.Fatalf("%s cols %d rep %d token %d: %v, Go %v", ops.name, cols, rep, tok, got, want[tok])
					}
				}
				if ops.dotQ4KQ8Kx4 == nil {
					continue
				}
				out := make([]float32, 4*3)
				ops.dotQ4KQ8Kx4(w.Data, in.Q, in.KD, in.KS, out, 3)
				for tok := range 4 {
					if math.Float32bits(out[3*tok]) != math.Float32bits(want[tok]) {
						t.Fatalf("%s x4 cols %d rep %d token %d: %v, Go %v", ops.name, cols, rep, tok, out[3*tok], want[tok])
					}
				}
			}
		}
	}
}

// TestFMA32: fma32 rounds a·b + c once, checked against exact big.Float
// arithmetic on random operands and on sums built to land halfway
// between two float32 values after a first rounding to float64.
func TestFMA32(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	check := func(a, b, c float32) {
		t.Helper()
		exact := new(big.Float).SetPrec(200).SetFloat64(float64(a))
		exact.Mul(exact, new(big.Float).SetPrec(200).SetFloat64(float64(b)))
		exact.Add(exact, new(big.Float).SetPrec(200).SetFloat64(float64(c)))
		want, _ := exact.Float32()
		if got := fma32(a, b, c); math.Float32bits(got) != math.Float32bits(want) {
			t.Fatalf("fma32(%v, %v, %v) = %v, want %v", a, b, c, got, want)
		}
	}
	for range 100000 {
		a := math.Float32frombits(rng.Uint32()&0x3fffffff | 0x30000000)
		b := math.Float32frombits(rng.Uint32()&0x3fffffff | 0x30000000)
		c := float32(rng.NormFloat64()) * a * b
		check(a, b, c)
		check(-a, b, c)
	}
	// c = 1 and a·b just above or below half an ulp of 1 (2^-24) by
	// far less than float64's precision: the float64 sum is the
	// midpoint, the exact one is not.
	for _, k := range []int{1, 3, 0x7fff} {
		a := float32(1 + math.Ldexp(float64(k), -23))
		b := float32(math.Ldexp(1, -24) / float64(a))
		check(a, b, 1)
		check(a, -b, 1)
		check(-a, b, -1)
	}
}

// TestQuantizeQ8K: every set's activation quantizer (vector
// instructions where the CPU has them) gives quantizeQ8KGo's bits, on random
// activations of several magnitudes, ties (x/d exactly halfway), zeros
// and blocks with one large value.
func TestQuantizeQ8K(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 13))
	for rep := range 40 {
		nb := 1 + rep%5
		x := randF32(rng, 256*nb, float32(math.Ldexp(1, rep%20-10)))
		switch rep % 4 {
		case 1: // ties: values k/2 with max 127
			for i := range x {
				x[i] = float32(rng.IntN(255)-127) / 2
			}
			x[0] = 127
		case 2:
			clear(x[:256])
		case 3:
			x[rng.IntN(len(x))] = 1e6
		}
		wq, wd, ws := make([]int8, len(x)), make([]float32, nb), make([]int16, len(x)/32)
		quantizeQ8KGo(wq, wd, ws, x)
		for _, ops := range opsUnderTest() {
			q, d, s := make([]int8, len(x)), make([]float32, nb), make([]int16, len(x)/32)
			ops.quantizeQ8K(q, d, s, x)
			if !slices.Equal(q, wq) || !slices.Equal(s, ws) {
				t.Fatalf("%s rep %d: quants or sums differ from quantizeQ8KGo", ops.name, rep)
			}
			for i := range d {
				if math.Float32bits(d[i]) != math.Float32bits(wd[i]) {
					t.Fatalf("%s rep %d block %d: d %v, Go %v", ops.name, rep, i, d[i], wd[i])
				}
			}
		}
	}
}
