package cpu

import (
	"math/rand/v2"
	"testing"

	"github.com/outpost-iot/outpost/accel/gguf"
	"github.com/outpost-iot/outpost/accel/llama"
)

// q8Matrix returns a random Q8_0 tensor of rows × cols.
func q8Matrix(rows, cols int) llama.Tensor {
	rng := rand.New(rand.NewPCG(1, 2))
	t := llama.Tensor{Name: "w", Type: gguf.Q8_0, Cols: cols, Rows: rows}
	t.Data = make([]byte, rows*t.RowBytes())
	for i := range t.Data {
		t.Data[i] = byte(rng.IntN(256))
	}
	for off := 0; off < len(t.Data); off += gguf.Q8_0BlockBytes {
		t.Data[off], t.Data[off+1] = 0x00, 0x20 // scale 2^-7 in f16
	}
	return t
}

// TestMatMulTiles: every tile path gives what one row times one token gives.
func TestMatMulTiles(t *testing.T) {
	w := q8Matrix(13, 96)
	for _, n := range []int{1, 3, 4, 9} {
		in := MatMulInput{X: make([]float32, n*w.Cols)}
		for i := range in.X {
			in.X[i] = float32(i%17) - 8
		}
		prepareScalar(&in, w, n)
		x64 := in.X64
		got := make([]float32, n*w.Rows)
		matMulScalar(got, w, &in, n, 0, w.Rows)
		for tok := range n {
			for r := range w.Rows {
				want := float32(q8Dot(w.Data[r*w.RowBytes():(r+1)*w.RowBytes()], x64[tok*w.Cols:(tok+1)*w.Cols]))
				if got[tok*w.Rows+r] != want {
					t.Fatalf("n=%d token %d row %d: %v, want %v", n, tok, r, got[tok*w.Rows+r], want)
				}
			}
		}
	}
}

func benchMatMulQ8(b *testing.B, k Kernels, n int) { benchMatMul(b, k, q8Matrix(256, 2048), n) }

// benchMatMul times w by n tokens with k, Prepare included.
func benchMatMul(b *testing.B, k Kernels, w llama.Tensor, n int) {
	in := MatMulInput{X: make([]float32, n*w.Cols)}
	for i := range in.X {
		in.X[i] = float32(i%17) - 8
	}
	out := make([]float32, n*w.Rows)
	b.SetBytes(int64(len(w.Data)))
	for b.Loop() {
		k.Prepare(&in, w, n) // once per matmul, as the runner does
		k.MatMul(out, w, &in, n, 0, w.Rows)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n*w.Rows*w.Cols), "ns/MAC")
}

func BenchmarkMatMulQ8Tokens1(b *testing.B) {
	benchKernelSets(b, func(b *testing.B, k Kernels) { benchMatMulQ8(b, k, 1) })
}
func BenchmarkMatMulQ8Tokens4(b *testing.B) {
	benchKernelSets(b, func(b *testing.B, k Kernels) { benchMatMulQ8(b, k, 4) })
}
func BenchmarkMatMulQ8Tokens8(b *testing.B) {
	benchKernelSets(b, func(b *testing.B, k Kernels) { benchMatMulQ8(b, k, 8) })
}
