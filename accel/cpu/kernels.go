package cpu

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/outpost-iot/outpost/accel/gguf"
	"github.com/outpost-iot/outpost/accel/llama"
)

// Kernels are the runner's operations. Each may be replaced by a faster
// implementation with the same contract; Scalar is the reference and Best
// the fastest set this CPU runs.
type Kernels struct {
	// Name says which set this is ("scalar", "avx2", "neon"), for logs.
	Name string
	// Prepare fills the forms of the activations in that MatMul reads
	// (in.X is set: n rows of w.Cols values), once per matmul, before the
	// row ranges run: float64 for the scalar kernel, int8 blocks for the
	// fast Q8_0 one, sums of 32 for the fast Q4_K one. It reuses in's
	// buffers. Prepare and MatMul come as a
	// pair.
	Prepare func(in *MatMulInput, w llama.Tensor, n int)
	// MatMul computes rows [lo, hi) of w times n activation rows:
	// out[t*w.Rows+r] = dot(row r of w, row t of in) for t < n, r in
	// [lo, hi). Calls for disjoint row ranges run concurrently. The value
	// computed for one row and token does not depend on n, lo or hi, so
	// batching never changes a sequence's results.
	MatMul func(out []float32, w llama.Tensor, in *MatMulInput, n, lo, hi int)
	// RMSNorm sets out = x / sqrt(mean(x²)+eps) × weight for one row; out
	// may alias x.
	RMSNorm func(out, x, weight []float32, eps float32)
	// RoPE rotates each head of x (width len(freqs)*2) in place for
	// position pos; freqs[i] = theta^(-2i/headDim).
	RoPE func(x []float32, freqs []float64, pos int)
	// SwiGLU sets gate[i] = silu(gate[i]) × up[i].
	SwiGLU func(gate, up []float32)
	// Attention computes one token's attention over a paged cache.
	Attention func(a *AttnArgs)
}

// MatMulInput holds the n activation rows of one matmul in the forms the
// kernels read. The runner sets X; Kernels.Prepare fills the others it
// needs. Buffers are kept across matmuls.
type MatMulInput struct {
	X   []float32 // n rows of Cols values
	X64 []float64 // X as float64 (scalar kernels)
	// Q holds X quantized to int8 in blocks of 256 (as llama.cpp's Q8_K)
	// for the matmuls a set runs on int8 activations (Best's Q8_0, Q4_K
	// and Q6_K ones on AVX2 and AVX-512, Q4_K's with SDOT): value i ≈
	// KD[i/256] × Q[i], KD = max|x|/127 per block in float32, KS the
	// sums of each 32 quants.
	Q  []int8
	KD []float32
	KS []int16
	// S holds the sums of each 32 consecutive values of X, in float32
	// and index order (Q4_K weights on float32 activations): the factor of a
	// Q4_K sub-block's min.
	S []float32
}

// AttnArgs are the inputs of one token's attention: its query heads, the
// layer's key and value pools, the sequence's block table and how many
// positions (0..N-1) it attends to.
type AttnArgs struct {
	Q, Out      []float32 // NHead × HeadDim
	K, V        []float32 // the layer's pools: block b, slot s at (b*BlockTokens+s)*KVDim
	Blocks      []int
	N           int
	BlockTokens int
	NHead       int
	NHeadKV     int
	HeadDim     int
	Scratch     []float32 // at least N values
}

// Scalar returns the reference kernels.
func Scalar() Kernels {
	return Kernels{
		Name:      "scalar",
		Prepare:   prepareScalar,
		MatMul:    matMulScalar,
		RMSNorm:   llama.RMSNorm,
		RoPE:      ropeScalar,
		SwiGLU:    llama.SwiGLU,
		Attention: attentionScalar,
	}
}

// prepareScalar widens the activations to float64, the scalar matmul's
// input.
func prepareScalar(in *MatMulInput, w llama.Tensor, n int) {
	in.X64 = grow(in.X64, n*w.Cols)
	for i, v := range in.X[:n*w.Cols] {
		in.X64[i] = float64(v)
	}
}

func ropeScalar(x []float32, freqs []float64, pos int) {
	hd := 2 * len(freqs)
	for h := 0; h+hd <= len(x); h += hd {
		for i, f := range freqs {
			sin, cos := math.Sincos(float64(pos) * f)
			a, b := float64(x[h+2*i]), float64(x[h+2*i+1])
			x[h+2*i] = float32(a*cos - b*sin)
			x[h+2*i+1] = float32(a*sin + b*cos)
		}
	}
}

func attentionScalar(a *AttnArgs) {
	hd := a.HeadDim
	kvDim := a.NHeadKV * hd
	group := a.NHead / a.NHeadKV
	scale := 1 / math.Sqrt(float64(hd))
	att := a.Scratch[:a.N]
	slot := func(t int) int {
		return (a.Blocks[t/a.BlockTokens]*a.BlockTokens + t%a.BlockTokens) * kvDim
	}
	for h := 0; h < a.NHead; h++ {
		q := a.Q[h*hd : (h+1)*hd]
		kvOff := (h / group) * hd
		for t := range att {
			k := a.K[slot(t)+kvOff : slot(t)+kvOff+hd]
			var s float64
			for i := range q {
				s += float64(q[i]) * float64(k[i])
			}
			att[t] = float32(s * scale)
		}
		llama.Softmax(att)
		out := a.Out[h*hd : (h+1)*hd]
		for i := range out {
			var s float64
			for t := range att {
				s += float64(att[t]) * float64(a.V[slot(t)+kvOff+i])
			}
			out[i] = float32(s)
		}
	}
}

// scalarChunk is how many columns of an F32, F16 or Q6_K row
// matMulScalar decodes at a time (Q6_K's super-block).
const scalarChunk = 256

// matMulScalar follows accel/llama's dot product exactly: float64
// accumulation, per Q8_0 block then scaled, in index order. To use the
// CPU's pipelines without changing any sum's order it computes a tile of
// four independent sums at once: four tokens of one row, or, for a single
// token, four rows.
func matMulScalar(out []float32, w llama.Tensor, in *MatMulInput, n, lo, hi int) {
	cols, rows, x64 := w.Cols, w.Rows, in.X64
	if w.Type == gguf.Q4_K {
		rb := w.RowBytes()
		for r := lo; r < hi; r++ {
			row := w.Data[r*rb : (r+1)*rb]
			for t := 0; t < n; t++ {
				out[t*rows+r] = float32(q4kDot(row, x64[t*cols:(t+1)*cols]))
			}
		}
		return
	}
	if w.Type != gguf.Q8_0 {
		// F32, F16 and Q6_K: each row decoded to float32 (Q6_K block
		// by block, as accel/llama's dotRow) 256 values at a time into
		// a buffer on the stack, for up to 16 tokens at once, each a
		// float64 sum in index order: no allocation.
		rb := w.RowBytes()
		cb := llama.Tensor{Type: w.Type, Cols: scalarChunk}.RowBytes()
		var buf [scalarChunk]float32
		var sums [16]float64
		for r := lo; r < hi; r++ {
			for t0 := 0; t0 < n; t0 += len(sums) {
				tn := min(n-t0, len(sums))
				clear(sums[:tn])
				for c := 0; c < cols; c += scalarChunk {
					k := min(scalarChunk, cols-c)
					chunk := llama.Tensor{Type: w.Type, Cols: k, Rows: 1}
					chunk.Data = w.Data[r*rb+c/scalarChunk*cb:][:chunk.RowBytes()]
					chunk.Row(buf[:k], 0)
					for t := range tn {
						xs := x64[(t0+t)*cols+c:][:k]
						s := sums[t]
						for i, v := range buf[:k] {
							s += float64(v) * xs[i]
						}
						sums[t] = s
					}
				}
				for t := range tn {
					out[(t0+t)*rows+r] = float32(sums[t])
				}
			}
		}
		return
	}
	rb := w.RowBytes()
	if n == 1 {
		r := lo
		for ; r+4 <= hi; r += 4 {
			s := q8Rows4(w.Data[r*rb:(r+4)*rb], rb, x64[:cols])
			out[r], out[r+1], out[r+2], out[r+3] = float32(s[0]), float32(s[1]), float32(s[2]), float32(s[3])
		}
		for ; r < hi; r++ {
			out[r] = float32(q8Dot(w.Data[r*rb:(r+1)*rb], x64[:cols]))
		}
		return
	}
	for r := lo; r < hi; r++ {
		row := w.Data[r*rb : (r+1)*rb]
		t := 0
		for ; t+4 <= n; t += 4 {
			s := q8Toks4(row, x64[t*cols:(t+4)*cols], cols)
			out[t*rows+r] = float32(s[0])
			out[(t+1)*rows+r] = float32(s[1])
			out[(t+2)*rows+r] = float32(s[2])
			out[(t+3)*rows+r] = float32(s[3])
		}
		for ; t < n; t++ {
			out[t*rows+r] = float32(q8Dot(row, x64[t*cols:(t+1)*cols]))
		}
	}
}

// q4kDot is one Q4_K row times one activation row as accel/llama
// computes it: each super-block dequantized to float32 weights, then
// multiplied and summed in float64 in index order.
func q4kDot(row []byte, x []float64) float64 {
	var blk [gguf.Q4_KBlockSize]float32
	var s float64
	for off := 0; off < len(row); off += gguf.Q4_KBlockBytes {
		if err := gguf.DequantizeQ4_K(blk[:], row[off:off+gguf.Q4_KBlockBytes]); err != nil {
			panic(err)
		}
		xs := x[off/gguf.Q4_KBlockBytes*gguf.Q4_KBlockSize:][:gguf.Q4_KBlockSize]
		for i, v := range blk {
			s += float64(v) * xs[i]
		}
	}
	return s
}

func q8Scale(b []byte) float64 {
	return float64(gguf.F16ToFloat32(binary.LittleEndian.Uint16(b)))
}

// q8Dot is one Q8_0 row times one activation row.
func q8Dot(row []byte, x []float64) float64 {
	var s float64
	for blk := 0; blk*gguf.Q8_0BlockBytes < len(row); blk++ {
		q := row[blk*gguf.Q8_0BlockBytes+2 : (blk+1)*gguf.Q8_0BlockBytes]
		xs := x[blk*gguf.Q8_0BlockSize : (blk+1)*gguf.Q8_0BlockSize]
		var bs float64
		for j, v := range xs {
			bs += float64(int8(q[j])) * v
		}
		s += q8Scale(row[blk*gguf.Q8_0BlockBytes:]) * bs
	}
	return s
}

// q8Rows4 is four consecutive Q8_0 rows (rb bytes each) times one row.
func q8Rows4(rows []byte, rb int, x []float64) [4]float64 {
	var s [4]float64
	r0, r1, r2, r3 := rows[:rb], rows[rb:2*rb], rows[2*rb:3*rb], rows[3*rb:4*rb]
	for off := 0; off < rb; off += gguf.Q8_0BlockBytes {
		xs := x[off/gguf.Q8_0BlockBytes*gguf.Q8_0BlockSize:][:gguf.Q8_0BlockSize]
		q0 := r0[off+2 : off+gguf.Q8_0BlockBytes]
		q1 := r1[off+2 : off+gguf.Q8_0BlockBytes]
		q2 := r2[off+2 : off+gguf.Q8_0BlockBytes]
		q3 := r3[off+2 : off+gguf.Q8_0BlockBytes]
		var b0, b1, b2, b3 float64
		for j, v := range xs {
			b0 += float64(int8(q0[j])) * v
			b1 += float64(int8(q1[j])) * v
			b2 += float64(int8(q2[j])) * v
			b3 += float64(int8(q3[j])) * v
		}
		s[0] += q8Scale(r0[off:]) * b0
		s[1] += q8Scale(r1[off:]) * b1
		s[2] += q8Scale(r2[off:]) * b2
		s[3] += q8Scale(r3[off:]) * b3
	}
	return s
}

// q8Toks4 is one Q8_0 row times four activation rows of cols values.
func q8Toks4(row []byte, x []float64, cols int) [4]float64 {
	var s [4]float64
	x0, x1, x2, x3 := x[:cols], x[cols:2*cols], x[2*cols:3*cols], x[3*cols:4*cols]
	var wq [gguf.Q8_0BlockSize]float64
	for blk := 0; blk*gguf.Q8_0BlockBytes < len(row); blk++ {
		q := row[blk*gguf.Q8_0BlockBytes+2 : (blk+1)*gguf.Q8_0BlockBytes]
		for j := range wq {
			wq[j] = float64(int8(q[j]))
		}
		base := blk * gguf.Q8_0BlockSize
		a0, a1, a2, a3 := x0[base:base+gguf.Q8_0BlockSize], x1[base:base+gguf.Q8_0BlockSize], x2[base:base+gguf.Q8_0BlockSize], x3[base:base+gguf.Q8_0BlockSize]
		var b0, b1, b2, b3 float64
		for j, v := range wq {
			b0 += v * a0[j]
			b1 += v * a1[j]
			b2 += v * a2[j]
			b3 += v * a3[j]
		}
		d := q8Scale(row[blk*gguf.Q8_0BlockBytes:])
		s[0] += d * b0
		s[1] += d * b1
		s[2] += d * b2
		s[3] += d * b3
	}
	return s
}

func checkMatMul(out []float32, w llama.Tensor, x []float32, n int) {
	if len(out) < n*w.Rows || len(x) < n*w.Cols {
		panic(fmt.Sprintf("cpu: matmul %s: out %d, x %d for %d tokens of %d×%d", w.Name, len(out), len(x), n, w.Rows, w.Cols))
	}
}
