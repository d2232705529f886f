package cpu

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/outpost-iot/outpost/accel/gguf"
)

// f16Cols are row lengths for the F16 shape tests: below, at and around
// each set's vector width (8, 16) and step (32 columns), and long rows
// with tails.
var f16Cols = []int{0, 1, 3, 7, 8, 9, 15, 16, 17, 24, 31, 32, 33, 40, 47, 48, 56, 63, 64, 65, 100, 257, 2048 + 5}

// TestF16ShapeBits: a set's dotF16R4 and f16Tile give, for every (row,
// token), exactly dotF16's bits, for rows of many lengths (tails
// included) that lie apart by more than their bytes at an odd address,
// and write nothing but their outputs.
func TestF16ShapeBits(t *testing.T) {
	rng := rand.New(rand.NewPCG(10, 10))
	for _, ops := range opsUnderTest() {
		if ops.f16Tile == nil && ops.dotF16R4 == nil {
			continue
		}
		t.Run(ops.name, func(t *testing.T) {
			for _, cols := range f16Cols {
				rb := 2*cols + 6
				R, T := max(4, ops.f16TileRows), max(1, ops.f16TileToks)
				buf := make([]byte, 1+R*rb)
				for i := range buf {
					buf[i] = byte(rng.IntN(256))
				}
				w := buf[1:] // halves at odd addresses, as a file may hold them
				for r := range R {
					copy(w[r*rb:], randF16(rng, 1, cols).Data)
				}
				x := randF32(rng, T*cols+8, 3)
				want := make([]float32, R*T)
				for r := range R {
					for tok := range T {
						want[tok*R+r] = ops.dotF16(w[r*rb:r*rb+2*cols], x[tok*cols:(tok+1)*cols])
					}
				}
				if ops.dotF16R4 != nil {
					for tok := range T {
						var o [4]float32
						ops.dotF16R4(w[:4*rb], rb, x[tok*cols:(tok+1)*cols], &o)
						for r := range 4 {
							if math.Float32bits(o[r]) != math.Float32bits(want[tok*R+r]) {
								t.Fatalf("dotF16R4 %d columns row %d token %d: %v, dotF16 %v", cols, r, tok, o[r], want[tok*R+r])
							}
						}
					}
				}
				if ops.f16Tile != nil {
					tr, tt := ops.f16TileRows, ops.f16TileToks
					stride := R + 3 // outputs apart by more than a tile's rows
					out := make([]float32, tt*stride)
					for i := range out {
						out[i] = float32(math.NaN())
					}
					ops.f16Tile(w[:tr*rb], rb, x[:tt*cols], cols, out, stride)
					for i, v := range out {
						tok, r := i/stride, i%stride
						if r >= tr {
							if !math.IsNaN(float64(v)) {
								t.Fatalf("f16Tile %dx%d, %d columns wrote %v at token %d, row %d", tr, tt, cols, v, tok, r)
							}
							continue
						}
						if math.Float32bits(v) != math.Float32bits(want[tok*R+r]) {
							t.Fatalf("f16Tile %dx%d, %d columns, row %d token %d: %v, dotF16 %v", tr, tt, cols, r, tok, v, want[tok*R+r])
						}
					}
				}
			}
		})
	}
}

// TestMatMulF16Shapes: an F16 matmul with the fast kernels gives, for
// every (row, token), the set's dotF16 bits whatever the number of
// tokens, rows (not multiples of a tile's, split at odd places) and
// columns (tails), and is within sumBound of the scalar reference.
func TestMatMulF16Shapes(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 11))
	for _, ops := range opsUnderTest() {
		k := fastKernels(ops, actF32)
		t.Run(k.Name, func(t *testing.T) {
			for _, shape := range [][2]int{{1, 9}, {3, 40}, {6, 33}, {67, 64}, {130, 101}, {9, 2048 + 3}} {
				rows, cols := shape[0], shape[1]
				w := randF16(rng, rows, cols)
				for _, n := range []int{1, 2, 4, 5, 8, 11} {
					x := randF32(rng, n*cols, 3)
					got := runMatMul(k, w, x, n)
					want := runMatMul(Scalar(), w, x, n)
					row := make([]float32, cols)
					for r := range rows {
						w.Row(row, r)
						rowBytes := w.Data[r*w.RowBytes() : (r+1)*w.RowBytes()]
						for tok := range n {
							xt := x[tok*cols : (tok+1)*cols]
							g := got[tok*rows+r]
							if d := ops.dotF16(rowBytes, xt); math.Float32bits(g) != math.Float32bits(d) {
								t.Fatalf("%dx%d n=%d row %d token %d: %v, dotF16 %v", rows, cols, n, r, tok, g, d)
							}
							var abs float64
							for i, v := range row {
								abs += math.Abs(float64(v) * float64(xt[i]))
							}
							ref := want[tok*rows+r]
							if d := math.Abs(float64(g) - float64(ref)); d > sumBound(cols, abs)+u*math.Abs(float64(ref)) {
								t.Fatalf("%dx%d n=%d row %d token %d: %v, reference %v", rows, cols, n, r, tok, g, ref)
							}
						}
					}
				}
			}
		})
	}
}

// TestMatMulF16AllocatesNothing: the tiled F16 matmul allocates
// nothing, for a lone token and for tiles with tokens left over.
func TestMatMulF16AllocatesNothing(t *testing.T) {
	w := randF16(rand.New(rand.NewPCG(12, 12)), 64, 96)
	for _, ops := range archSets() {
		k := fastKernels(ops, actF32)
		for _, n := range []int{1, 4, 5} {
			in := MatMulInput{X: make([]float32, n*w.Cols)}
			out := make([]float32, n*w.Rows)
			if a := testing.AllocsPerRun(10, func() {
				k.Prepare(&in, w, n)
				k.MatMul(out, w, &in, n, 0, w.Rows)
			}); a != 0 {
				t.Errorf("%s n=%d: %v allocations per matmul", k.Name, n, a)
			}
		}
	}
}

// TestF16GreedyMatchesReference: the tiny model with F16 weights
// generates accel/llama's greedy tokens with each set's fast kernels
// (float32 activations), batched and not, so prefill chunks (tiles) and
// lone decodes (four-row dots) agree. With -short (the arm64 run under
// qemu) Best alone, for a dozen tokens.
func TestF16GreedyMatchesReference(t *testing.T) {
	m := tinyModel(t, gguf.F16)
	if m.Layers[0].Q.Type != gguf.F16 {
		t.Fatalf("test model's matrices are %v", m.Layers[0].Q.Type)
	}
	rng := rand.New(rand.NewPCG(13, 13))
	prompts := [][]int32{randTokens(rng, 3, m.VocabSize), randTokens(rng, 17, m.VocabSize), randTokens(rng, 8, m.VocabSize)}
	n := 32
	var sets []Kernels
	for _, ops := range archSets() {
		sets = append(sets, fastKernels(ops, actF32))
	}
	if testing.Short() || len(sets) == 0 {
		n, sets = 12, []Kernels{Best()}
	}
	for _, k := range sets {
		t.Run(k.Name, func(t *testing.T) {
			r, err := New(m, Config{NumBlocks: 16, Kernels: k})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			checkGreedy(t, m, r, prompts, n)
		})
	}
}
