package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/outpost-iot/outpost/accel/gguf"
	"github.com/outpost-iot/outpost/accel/llama"
)

// Tolerances. u is float32's unit roundoff. A float32 sum of k products,
// accumulated in any order (the assembly keeps 16, 8 or 4 lanes and adds
// them at the end; the Go primitives add in index order), is within
// γ(k) × Σ|products| of the exact sum, γ(k) = k·u/(1−k·u) (Higham, §3.1);
// the tests use (k+4)·u, which covers the horizontal sums and the rounding
// of each product and of each Q8_0 block's scale product.
const u = 1.0 / (1 << 24)

func sumBound(k int, absSum float64) float64 { return float64(k+4) * u * absSum }

// opsUnderTest: the portable Go primitives everywhere, plus each of this
// build's assembly sets the CPU runs (AVX2 and AVX-512 both where it has
// AVX-512).
func opsUnderTest() []simdOps {
	return append([]simdOps{portableOps}, archSets()...)
}

// fastSets are the fast kernel sets under test: activations in float32,
// quantized where that is the set's default, and quantized for every
// weight type with an int8 dot.
func fastSets() []Kernels {
	var ks []Kernels
	for _, ops := range opsUnderTest() {
		ks = append(ks, setsOf(ops)...)
	}
	return ks
}

// setsOf are fastSets' kernel sets of one set of primitives.
func setsOf(ops simdOps) []Kernels {
	ks := []Kernels{fastKernels(ops, actF32)}
	if ops.q8Int8 || ops.q4kInt8 || ops.q6kInt8 {
		ks = append(ks, fastKernels(ops, actDefault))
	}
	if !ops.allInt8() {
		ks = append(ks, fastKernels(ops, actQ8))
	}
	return ks
}

// quantizes reports whether k's matmuls of weight type typ take int8
// activations (its Prepare quantizes them).
func quantizes(k Kernels, typ gguf.Type) bool {
	w := llama.Tensor{Name: "w", Type: typ, Cols: 256, Rows: 1}
	w.Data = make([]byte, w.RowBytes())
	in := MatMulInput{X: make([]float32, 256)}
	k.Prepare(&in, w, 1)
	return len(in.Q) > 0
}

func randF32(rng *rand.Rand, n int, scale float32) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = (rng.Float32()*2 - 1) * scale
	}
	return x
}

// randQ8 is a Q8_0 tensor with every quant byte random (-128 included, which
// quantizing never produces but a file may hold) and random f16 scales.
func randQ8(rng *rand.Rand, rows, cols int) llama.Tensor {
	t := llama.Tensor{Name: "w", Type: gguf.Q8_0, Cols: cols, Rows: rows}
	t.Data = make([]byte, rows*t.RowBytes())
	for i := range t.Data {
		t.Data[i] = byte(rng.IntN(256))
	}
	for off := 0; off < len(t.Data); off += q8Bytes {
		h := gguf.Float32ToF16((rng.Float32()*2 - 1) / 64)
		t.Data[off], t.Data[off+1] = byte(h), byte(h>>8)
	}
	return t
}

func randF16(rng *rand.Rand, rows, cols int) llama.Tensor {
	t := llama.Tensor{Name: "w", Type: gguf.F16, Cols: cols, Rows: rows}
	t.Data = make([]byte, rows*t.RowBytes())
	for i := 0; i < len(t.Data); i += 2 {
		h := gguf.Float32ToF16(rng.Float32()*2 - 1)
		t.Data[i], t.Data[i+1] = byte(h), byte(h>>8)
	}
	return t
}

func randF32Tensor(rng *rand.Rand, rows, cols int) llama.Tensor {
	t := llama.Tensor{Name: "w", Type: gguf.F32, Cols: cols, Rows: rows}
	t.Data = make([]byte, rows*t.RowBytes())
	for i := 0; i < len(t.Data); i += 4 {
		b := math.Float32bits(rng.Float32()*2 - 1)
		t.Data[i], t.Data[i+1], t.Data[i+2], t.Data[i+3] = byte(b), byte(b>>8), byte(b>>16), byte(b>>24)
	}
	return t
}

// TestQuantizeQ8MatchesGGUF: the activation quantizer's blocks
// (quantizeBlock, of 32 here) give gguf's reference quants, and their
// float32 scale rounds to gguf's f16 one.
func TestQuantizeQ8MatchesGGUF(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	x := randF32(rng, 32*9, 3)
	x[5], x[40], x[64+7] = 0, -3, 3 // zeros, extremes
	for i := 96; i < 128; i++ {
		x[i] = 0 // an all-zero block
	}
	q := make([]int8, len(x))
	d := make([]float32, len(x)/32)
	for b := range d {
		d[b] = quantizeBlock(q[32*b:32*b+32], x[32*b:32*b+32])
	}
	ref := make([]byte, len(x)/32*q8Bytes)
	if err := gguf.QuantizeQ8_0(ref, x); err != nil {
		t.Fatal(err)
	}
	for b := range d {
		blk := ref[b*q8Bytes:]
		if h := gguf.Float32ToF16(d[b]); h != uint16(blk[0])|uint16(blk[1])<<8 {
			t.Errorf("block %d: scale %v", b, d[b])
		}
		for j := range 32 {
			if q[b*32+j] != int8(blk[2+j]) {
				t.Errorf("block %d value %d: %d, gguf %d", b, j, q[b*32+j], int8(blk[2+j]))
			}
		}
	}
}

var oddSizes = []int{0, 1, 3, 7, 8, 9, 15, 16, 17, 31, 33, 64, 100, 257, 2048 + 5}

func TestDotPrimitives(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	for _, ops := range opsUnderTest() {
		t.Run(ops.name, func(t *testing.T) {
			for _, n := range oddSizes {
				a, b := randF32(rng, n, 2), randF32(rng, n, 2)
				var want, abs float64
				for i := range a {
					want += float64(a[i]) * float64(b[i])
					abs += math.Abs(float64(a[i]) * float64(b[i]))
				}
				if got := ops.dotF32(a, b); math.Abs(float64(got)-want) > sumBound(n, abs) {
					t.Errorf("dotF32 n=%d: %v, want %v", n, got, want)
				}
				w := randF16(rng, 1, n)
				want, abs = 0, 0
				for i := range b {
					p := float64(f16At(w.Data, i)) * float64(b[i])
					want += p
					abs += math.Abs(p)
				}
				if got := ops.dotF16(w.Data, b); math.Abs(float64(got)-want) > sumBound(n, abs) {
					t.Errorf("dotF16 n=%d: %v, want %v", n, got, want)
				}
				y := randF32(rng, n, 1)
				y0 := slices.Clone(y)
				ops.axpy(y, 0.37, a)
				for i := range y {
					// one multiply and one add, each rounded (or one FMA)
					if e := float64(y0[i]) + 0.37*float64(a[i]); math.Abs(float64(y[i])-e) > 2*u*(math.Abs(e)+math.Abs(0.37*float64(a[i]))) {
						t.Errorf("axpy n=%d [%d]: %v, want %v", n, i, y[i], e)
					}
				}
			}
			for _, nb := range []int{0, 1, 2, 3, 5, 64, 67} {
				w := randQ8(rng, 1, nb*32)
				var want, abs float64
				x := randF32(rng, nb*32, 4)
				want, abs = 0, 0
				for i, v := range x {
					p := float64(f16At(w.Data[i/32*q8Bytes:], 0)) * float64(int8(w.Data[i/32*q8Bytes+2+i%32])) * float64(v)
					want += p
					abs += math.Abs(p)
				}
				// the portable dot sums 32 products per block, then nb
				// scaled block sums; the assembly chains 32·nb products
				// (scaled exactly) over its lanes: a sum of 32·nb terms
				// in some order either way
				if got := ops.dotQ8F32(w.Data, x); math.Abs(float64(got)-want) > sumBound(max(32+nb, 32*nb), abs) {
					t.Errorf("dotQ8F32 %d blocks: %v, want %v", nb, got, want)
				}
			}
		})
	}
}

// TestRowPrimitives: dotRows and axpyRows against dotF32 and axpy one row
// at a time, rows at a stride, widths that leave tails.
func TestRowPrimitives(t *testing.T) {
	rng := rand.New(rand.NewPCG(6, 6))
	for _, ops := range opsUnderTest() {
		ops = withRowDefaults(ops)
		for _, n := range []int{1, 7, 8, 12, 64, 100} {
			for _, m := range []int{0, 1, 5, 16} {
				stride := n + 3
				kv := randF32(rng, max(0, (m-1)*stride+n), 1)
				q := randF32(rng, n, 1)
				got := make([]float32, m)
				ops.dotRows(got, q, kv, stride)
				for j := range got {
					var want, abs float64
					for i := range q {
						want += float64(q[i]) * float64(kv[j*stride+i])
						abs += math.Abs(float64(q[i]) * float64(kv[j*stride+i]))
					}
					if math.Abs(float64(got[j])-want) > sumBound(n, abs) {
						t.Fatalf("%s dotRows n=%d m=%d row %d: %v, want %v", ops.name, n, m, j, got[j], want)
					}
				}
				p := randF32(rng, m, 1)
				y := randF32(rng, n, 1)
				want := make([]float64, n)
				abs := make([]float64, n)
				for i := range y {
					want[i], abs[i] = float64(y[i]), math.Abs(float64(y[i]))
					for j := range p {
						want[i] += float64(p[j]) * float64(kv[j*stride+i])
						abs[i] += math.Abs(float64(p[j]) * float64(kv[j*stride+i]))
					}
				}
				ops.axpyRows(y, p, kv, stride)
				for i := range y {
					if math.Abs(float64(y[i])-want[i]) > sumBound(m, abs[i]) {
						t.Fatalf("%s axpyRows n=%d m=%d [%d]: %v, want %v", ops.name, n, m, i, y[i], want[i])
					}
				}
			}
		}
	}
}

// matMulCase runs k's matmul over w for n tokens in row ranges split at
// odd places and returns the output.
func runMatMul(k Kernels, w llama.Tensor, x []float32, n int) []float32 {
	in := MatMulInput{X: x}
	k.Prepare(&in, w, n)
	out := make([]float32, n*w.Rows)
	cuts := []int{0, w.Rows / 3, w.Rows/3 + 1, w.Rows}
	for i := 0; i+1 < len(cuts); i++ {
		k.MatMul(out, w, &in, n, cuts[i], cuts[i+1])
	}
	return out
}

// TestMatMulFast compares each fast matmul with the scalar one. For Q8_0
// rows that a set runs on int8 activations (a multiple of 256 long), the
// reference is the scalar kernel on the same quantized activations
// (dequantized: Q×KD exactly, in float64), so only the float32 summation
// and the integer scales (half a step of the group's power per weight)
// differ; the quantization itself is bounded separately: each
// activation moves by at most half a step, KD/2, so a row's result
// moves by at most Σ|w|·KD/2 from the unquantized one.
// Results must not depend on the batch: token t of n is bit-identical to
// the same token alone.
func TestMatMulFast(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	for _, k := range fastSets() {
		t.Run(k.Name, func(t *testing.T) {
			int8Q8 := quantizes(k, gguf.Q8_0)
			for _, shape := range [][2]int{{1, 32}, {13, 96}, {67, 160}, {5, 2048}} {
				rows, cols := shape[0], shape[1]
				for _, typ := range []gguf.Type{gguf.Q8_0, gguf.F16, gguf.F32} {
					if typ != gguf.Q8_0 {
						cols += 3 // a tail the formats allow
					}
					var w llama.Tensor
					switch typ {
					case gguf.Q8_0:
						w = randQ8(rng, rows, cols)
					case gguf.F16:
						w = randF16(rng, rows, cols)
					default:
						w = randF32Tensor(rng, rows, cols)
					}
					for _, n := range []int{1, 2, 3, 4, 6, 7, 9, 11, 13, 14} {
						x := randF32(rng, n*cols, 3)
						got := runMatMul(k, w, x, n)
						refX := x
						var in MatMulInput
						quantized := typ == gguf.Q8_0 && int8Q8 && cols%256 == 0
						if quantized {
							in.X = x
							k.Prepare(&in, w, n)
							refX = make([]float32, len(x))
							for i, q := range in.Q[:len(x)] {
								refX[i] = float32(q) * in.KD[i/256] // exact: |q| ≤ 127
							}
						}
						want := runMatMul(Scalar(), w, refX, n)
						exact := runMatMul(Scalar(), w, x, n)
						row := make([]float32, cols)
						for tok := range n {
							alone := runMatMul(k, w, x[tok*cols:(tok+1)*cols], 1)
							for r := range rows {
								w.Row(row, r)
								var abs, wabs, quant, scales float64
								var s [q8Group]int32
								for i, v := range row {
									xv := float64(refX[tok*cols+i])
									abs += math.Abs(float64(v) * xv)
									if quantized {
										quant += math.Abs(float64(v)) * float64(in.KD[(tok*cols+i)/256]) / 2
										rb := w.RowBytes()
										p := q8GroupScales(w.Data[r*rb+i/256*q8Group*q8Bytes:], &s)
										scales += float64(p) / 2 * math.Abs(float64(int8(w.Data[r*rb+i/32*q8Bytes+2+i%32]))*xv)
									}
									wabs += math.Abs(float64(v))
								}
								g := got[tok*rows+r]
								if d := math.Abs(float64(g) - float64(want[tok*rows+r])); d > sumBound(cols, abs)+u*math.Abs(float64(want[tok*rows+r]))+scales {
									t.Fatalf("%v %dx%d n=%d token %d row %d: %v, reference %v", typ, rows, cols, n, tok, r, g, want[tok*rows+r])
								}
								if d := math.Abs(float64(g) - float64(exact[tok*rows+r])); d > quant+scales+sumBound(cols, abs)+1e-6*wabs {
									t.Fatalf("%v %dx%d n=%d token %d row %d: %v, unquantized %v, bound %g", typ, rows, cols, n, tok, r, g, exact[tok*rows+r], quant)
								}
								if alone[r] != g {
									t.Fatalf("%v n=%d token %d row %d: %v batched, %v alone", typ, n, tok, r, g, alone[r])
								}
							}
						}
					}
				}
			}
		})
	}
}

// relClose reports |got-want| ≤ rel·|want| + abs.
func relClose(got, want float32, rel, abs float64) bool {
	return math.Abs(float64(got)-float64(want)) <= rel*math.Abs(float64(want))+abs
}

// TestElementwiseFast: RMSNorm sums squares in float32 (sumBound on the
// mean square, half of it after the square root, plus the two float32
// multiplies); SwiGLU's expf is within 2 ulp of e^x, and the divide and
// multiply add an ulp each; RoPE is the same arithmetic as the scalar
// kernel, so the same bits.
func TestElementwiseFast(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	for _, ops := range opsUnderTest() {
		k := fastKernels(ops, actF32)
		for _, n := range oddSizes[1:] {
			x, wt := randF32(rng, n, 4), randF32(rng, n, 1)
			got, want := make([]float32, n), make([]float32, n)
			k.RMSNorm(got, x, wt, 1e-5)
			llama.RMSNorm(want, x, wt, 1e-5)
			for i := range got {
				if !relClose(got[i], want[i], float64(n+8)*u, 0) {
					t.Fatalf("%s RMSNorm n=%d [%d]: %v, want %v", ops.name, n, i, got[i], want[i])
				}
			}
			g := randF32(rng, n, 20)
			up := randF32(rng, n, 2)
			g[0] = -100 // e^100 overflows float32: silu is about -4e-42
			if n > 9 {
				g[9] = 90
			}
			gs := slices.Clone(g)
			k.SwiGLU(g, up)
			llama.SwiGLU(gs, up)
			for i := range g {
				// for g < -87 the AVX2 kernel clamps e^-g to e^87:
				// |g·up|/e^87 < 1e-35 here instead of about 0
				if !relClose(g[i], gs[i], 6*u, 1e-35) {
					t.Fatalf("%s SwiGLU n=%d [%d]: %v, want %v", ops.name, n, i, g[i], gs[i])
				}
			}
		}
		for _, hd := range []int{2, 8, 64, 128} {
			freqs := make([]float64, hd/2)
			for i := range freqs {
				freqs[i] = math.Pow(10000, -float64(2*i)/float64(hd))
			}
			x := randF32(rng, 3*hd, 2)
			y := slices.Clone(x)
			k.RoPE(x, freqs, 37)
			ropeScalar(y, freqs, 37)
			if !slices.Equal(x, y) {
				t.Fatalf("%s RoPE hd=%d differs", ops.name, hd)
			}
		}
	}
}

func TestExpf(t *testing.T) {
	for x := float32(-104); x < 88.7; x += 0.01137 {
		want := math.Exp(float64(x))
		if got := expf(x); !relClose(got, float32(want), 3*u, 1e-44) {
			t.Fatalf("expf(%v) = %v, want %v", x, got, want)
		}
	}
	if expf(float32(math.Inf(-1))) != 0 || !math.IsInf(float64(expf(100)), 1) {
		t.Fatal("expf at the ends")
	}
}

// TestAttentionFast: online softmax in float32 against the scalar
// two-pass float64 one, over shuffled blocks, with positions that end
// inside a block, grouped-query heads and head widths that leave tails.
// The output is a convex combination of values: scores carry sumBound(hd)
// relative error, each exponential and the running rescales a few ulp,
// the sum of N weights N·u; 1e-5 of max|V| covers N ≤ 100 with margin.
func TestAttentionFast(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	for _, ops := range opsUnderTest() {
		k := fastKernels(ops, actF32)
		for _, c := range []struct{ nHead, nKV, hd, n, bt int }{
			{1, 1, 8, 1, 16}, {4, 2, 12, 17, 16}, {4, 1, 64, 40, 16}, {6, 3, 100, 33, 4}, {32, 4, 64, 99, 16},
		} {
			kvDim := c.nKV * c.hd
			nb := (c.n + c.bt - 1) / c.bt
			pool := 2*nb + 1
			blocks := rng.Perm(pool)[:nb]
			K := randF32(rng, pool*c.bt*kvDim, 2)
			V := randF32(rng, pool*c.bt*kvDim, 1)
			q := randF32(rng, c.nHead*c.hd, 2)
			a := AttnArgs{Q: q, K: K, V: V, Blocks: blocks, N: c.n, BlockTokens: c.bt, NHead: c.nHead, NHeadKV: c.nKV, HeadDim: c.hd, Scratch: make([]float32, c.n)}
			a.Out = make([]float32, c.nHead*c.hd)
			k.Attention(&a)
			got := a.Out
			a.Out = make([]float32, c.nHead*c.hd)
			attentionScalar(&a)
			for i := range got {
				if math.Abs(float64(got[i]-a.Out[i])) > 1e-5 {
					t.Fatalf("%s %+v [%d]: %v, want %v", ops.name, c, i, got[i], a.Out[i])
				}
			}
		}
	}
}

// benchKernelSets runs fn for the scalar kernels, the portable Go fast
// kernels and this CPU's assembly ones, as sub-benchmarks side by side.
func benchKernelSets(b *testing.B, fn func(*testing.B, Kernels)) {
	sets := []Kernels{Scalar()}
	for _, ops := range opsUnderTest() {
		sets = append(sets, setsOf(ops)...)
	}
	for _, k := range sets {
		b.Run(k.Name, func(b *testing.B) { fn(b, k) })
	}
}

// BenchmarkMatMulF16: a 256 × 2048 F16 matrix (1 MiB: in cache after
// the first run) times 1, 4 and 8 tokens (a decode step's batches) and
// 128 (a prefill chunk), each kernel set; Big: TinyLlama's output
// projection (32000 × 2048, 131 MB) times 1 and 8 tokens with Best,
// streamed from memory as in a decode step.
func BenchmarkMatMulF16(b *testing.B) {
	w := randF16(rand.New(rand.NewPCG(1, 1)), 256, 2048)
	for _, n := range []int{1, 4, 8, 128} {
		b.Run(fmt.Sprint("Tokens", n), func(b *testing.B) {
			benchKernelSets(b, func(b *testing.B, k Kernels) { benchMatMul(b, k, w, n) })
		})
	}
	b.Run("Big", func(b *testing.B) {
		big := randF16(rand.New(rand.NewPCG(1, 2)), 32000, 2048)
		k := Best()
		for _, n := range []int{1, 8} {
			b.Run(fmt.Sprint("Tokens", n, "/", k.Name), func(b *testing.B) { benchMatMul(b, k, big, n) })
		}
	})
}

func BenchmarkRMSNorm(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	x, w := randF32(rng, 2048, 1), randF32(rng, 2048, 1)
	out := make([]float32, len(x))
	benchKernelSets(b, func(b *testing.B, k Kernels) {
		for b.Loop() {
			k.RMSNorm(out, x, w, 1e-5)
		}
	})
}

func BenchmarkSwiGLU(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	g, up := randF32(rng, 5632, 4), randF32(rng, 5632, 1)
	benchKernelSets(b, func(b *testing.B, k Kernels) {
		gg := slices.Clone(g)
		for b.Loop() {
			copy(gg, g)
			k.SwiGLU(gg, up)
		}
	})
}

func BenchmarkRoPE(b *testing.B) {
	freqs := make([]float64, 32)
	for i := range freqs {
		freqs[i] = math.Pow(10000, -float64(2*i)/64)
	}
	x := randF32(rand.New(rand.NewPCG(1, 1)), 2048, 1)
	benchKernelSets(b, func(b *testing.B, k Kernels) {
		for b.Loop() {
			k.RoPE(x, freqs, 100)
		}
	})
}

// BenchmarkAttention: one TinyLlama-shaped token (32 heads, 4 KV heads,
// 64 wide) attending to 256 positions.
func BenchmarkAttention(b *testing.B) {
	for _, n := range []int{64, 256} {
		b.Run(fmt.Sprint("N", n), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 1))
			const nHead, nKV, hd, bt = 32, 4, 64, 16
			nb := n / bt
			a := AttnArgs{Q: randF32(rng, nHead*hd, 1), Out: make([]float32, nHead*hd),
				K: randF32(rng, nb*bt*nKV*hd, 1), V: randF32(rng, nb*bt*nKV*hd, 1),
				Blocks: rng.Perm(nb), N: n, BlockTokens: bt, NHead: nHead, NHeadKV: nKV, HeadDim: hd, Scratch: make([]float32, n)}
			benchKernelSets(b, func(b *testing.B, k Kernels) {
				for b.Loop() {
					k.Attention(&a)
				}
			})
		})
	}
}

// TestQ8TileBits: a set's dotQ8F32R4, q8Tile and q8TileLeft tiles give, for every (row,
// token), exactly dotQ8F32's bits, for rows of every length up to a few
// blocks and a long one, with neighbouring memory that must not be read
// into the result (rows padded apart, tokens at their stride).
func TestQ8TileBits(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	for _, ops := range opsUnderTest() {
		t.Run(ops.name, func(t *testing.T) {
			for _, nb := range []int{0, 1, 2, 3, 4, 5, 7, 8, 9, 64, 176} {
				cols := nb * q8Size
				rb := nb*q8Bytes + 6 // rows apart by more than their bytes
				R, T := max(4, ops.q8TileRows), max(1, ops.q8TileToks)
				w := make([]byte, R*rb)
				for i := range w {
					w[i] = byte(rng.IntN(256))
				}
				for r := range R {
					copy(w[r*rb:], randQ8(rng, 1, cols).Data)
				}
				x := randF32(rng, T*cols+8, 3)
				want := make([]float32, R*T)
				for r := range R {
					for tok := range T {
						want[tok*R+r] = ops.dotQ8F32(w[r*rb:r*rb+nb*q8Bytes], x[tok*cols:(tok+1)*cols])
					}
				}
				if ops.dotQ8F32R4 != nil {
					for tok := range T {
						var o [4]float32
						ops.dotQ8F32R4(w[:4*rb], rb, x[tok*cols:(tok+1)*cols], &o)
						for r := range 4 {
							if math.Float32bits(o[r]) != math.Float32bits(want[tok*R+r]) {
								t.Fatalf("dotQ8F32R4 %d blocks row %d token %d: %v, dotQ8F32 %v", nb, r, tok, o[r], want[tok*R+r])
							}
						}
					}
				}
				tiles := map[int]func([]byte, int, []float32, int, []float32, int){ops.q8TileToks: ops.q8Tile}
				for k, f := range ops.q8TileLeft {
					if f != nil {
						tiles[k] = f
					}
				}
				for tt, tile := range tiles {
					if tile == nil {
						continue
					}
					tr := ops.q8TileRows
					out := make([]float32, R*T)
					tile(w[:tr*rb], rb, x[:tt*cols], cols, out, R)
					for r := range tr {
						for tok := range tt {
							if math.Float32bits(out[tok*R+r]) != math.Float32bits(want[tok*R+r]) {
								t.Fatalf("q8Tile %dx%d, %d blocks, row %d token %d: %v, dotQ8F32 %v", tr, tt, nb, r, tok, out[tok*R+r], want[tok*R+r])
							}
						}
					}
					for tok := tt; tok < T; tok++ { // no token past tt written
						for r := range tr {
							if out[tok*R+r] != 0 {
								t.Fatalf("q8Tile %dx%d wrote token %d", tr, tt, tok)
							}
						}
					}
				}
			}
		})
	}
}

// TestMatMulF32Unaligned: F32 rows that cannot be read in place (bytes
// not 4-byte aligned) are decoded and give the same bits as rows read in
// place, for every set, with columns past a chunk.
func TestMatMulF32Unaligned(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	for _, k := range fastSets() {
		for _, cols := range []int{3, 256, 300, 2048} {
			w := randF32Tensor(rng, 5, cols)
			shifted := w
			shifted.Data = make([]byte, len(w.Data)+1)[1:]
			copy(shifted.Data, w.Data)
			if f32View(w.Data) == nil || f32View(shifted.Data) != nil {
				t.Fatalf("f32View: aligned %v, shifted %v", f32View(w.Data) != nil, f32View(shifted.Data) != nil)
			}
			x := randF32(rng, 2*cols, 1)
			got, want := runMatMul(k, shifted, x, 2), runMatMul(k, w, x, 2)
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("%s cols %d [%d]: unaligned %v, aligned %v", k.Name, cols, i, got[i], want[i])
				}
			}
		}
	}
}
