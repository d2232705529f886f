package cpu

import (
	"encoding/binary"
	"math"
	"unsafe"

	"github.com/outpost-iot/outpost/accel/gguf"
	"github.com/outpost-iot/outpost/accel/llama"
)

const (
	q8Size   = gguf.Q8_0BlockSize
	q8Bytes  = gguf.Q8_0BlockBytes
	q4kSize  = gguf.Q4_KBlockSize
	q4kBytes = gguf.Q4_KBlockBytes
	q6kSize  = gguf.Q6_KBlockSize
	q6kBytes = gguf.Q6_KBlockBytes
)

// simdOps are one instruction set's primitives; fastKernels builds the
// kernels from them. portableOps is the same arithmetic in plain Go, the
// reference the assembly is tested against.
type simdOps struct {
	name string
	// dotQ8F32 is Σ_b f16(w_b.d) · Σ_j w_b.q[j]·x[32b+j] over the
	// len(x)/32 Q8_0 blocks of w, float32.
	dotQ8F32 func(w []byte, x []float32) float32
	// dotQ8F32R4 sets out[i] = dotQ8F32(w[i*rb:(i+1)*rb], x) for four
	// rows i at rb bytes apart, the same bits as four calls; nil: four
	// calls.
	dotQ8F32R4 func(w []byte, rb int, x []float32, out *[4]float32)
	// q8Tile, when set, computes dotQ8F32 for a tile of q8TileRows rows
	// (rb bytes apart, from w) by q8TileToks tokens (cols values apart,
	// from x) at once, into out[t*outStride+r], with the same bits as
	// dotQ8F32 for every (row r, token t): the tile only shares the loads
	// and the widening of the quants. matMulFast then takes every Q8_0
	// float32 matmul in such tiles (and the tokens left over with
	// dotQ8F32R4 and dotQ8F32).
	q8Tile                 func(w []byte, rb int, x []float32, cols int, out []float32, outStride int)
	q8TileRows, q8TileToks int
	// q8TileLeft[k], when set (1 < k < q8TileToks), is q8Tile for k
	// tokens: the tokens a batch leaves over after its whole tiles, which
	// would otherwise take dotQ8F32R4 one at a time.
	q8TileLeft [4]func(w []byte, rb int, x []float32, cols int, out []float32, outStride int)
	// dotQ8Q8K is dotQ8F32 on activations quantized in blocks of 256
	// (value ≈ xd[i/256]·xq[i], quantizeQ8K): per group of eight Q8_0
	// blocks the scales become integers over one power of two
	// (q8GroupScales), the int8 products times them are summed exactly in
	// eight int32 lanes (lane m: bytes 4m..4m+3 of every block), then
	// converted and fused with xd·power into eight float32 chains, the
	// lanes added at the end: dotQ8Q8KGo's bits. dotQ8Q8Kx4 is it for
	// four tokens (len(xd)/4 groups each) into out[t*outStride], and
	// dotQ8Q8Kx8 for eight, of which it stores the first k; the same
	// bits; nil: calls of the narrower ones. q8Int8: dotQ8Q8K is this
	// set's fastest Q8_0 dot (Best's) for rows whose length is a multiple
	// of 256.
	dotQ8Q8K   func(w []byte, xq []int8, xd []float32) float32
	dotQ8Q8Kx4 func(w []byte, xq []int8, xd []float32, out []float32, outStride int)
	dotQ8Q8Kx8 func(w []byte, xq []int8, xd []float32, out []float32, outStride, k int)
	q8Int8     bool
	// dotQ4K is Σ_b Σ_j [step_bj · Σ_l q_bjl·x[256b+32j+l] − offset_bj ·
	// xs[8b+j]] over the len(x)/256 Q4_K super-blocks b of w and their
	// sub-blocks j (gguf.Q4_KSubBlock's step and offset, xs the sums of
	// x by 32), float32.
	dotQ4K func(w []byte, x, xs []float32) float32
	// dotQ4Kx4 sets out[t*outStride] = dotQ4K(w, x[t*cols:(t+1)*cols],
	// xs[t*cols/32:(t+1)*cols/32]) for four tokens t, the same bits as
	// four calls; nil: four calls.
	dotQ4Kx4 func(w []byte, x, xs []float32, cols int, out []float32, outStride int)
	// dotQ4KQ8K is dotQ4K on activations quantized in blocks of 256
	// (value ≈ xd[i/256]·xq[i], bs the sums of the quants by 32, as
	// prepareQ8K makes them): per super-block the scales and mins stay
	// integers, exact sums in eight int32 lanes (lane m: bytes 4m..4m+3
	// of every sub-block) times d·xd fused into eight float32 chains,
	// then Σ m_j·bs_j by pairs in four lanes times −dmin·xd, the lanes
	// added at the end: dotQ4KQ8KGo's bits.
	dotQ4KQ8K func(w []byte, xq []int8, xd []float32, bs []int16) float32
	// dotQ4KQ8Kx4 is dotQ4KQ8K for four tokens (len(xd)/4 blocks each)
	// into out[t*outStride], the same bits as four calls; nil: four
	// calls.
	dotQ4KQ8Kx4 func(w []byte, xq []int8, xd []float32, bs []int16, out []float32, outStride int)
	// quantizeQ8K is quantizeQ8KGo, with its bits: the activations of the
	// int8 k-quant dots.
	quantizeQ8K func(q []int8, d []float32, s []int16, x []float32)
	// q4kInt8: dotQ4KQ8K is this set's fastest Q4_K dot, so its default
	// kernels (Best) run Q4_K matmuls on int8 activations.
	q4kInt8 bool
	// dotQ6K is Σ_b Σ_j d_b·sc_bj · Σ_l (q_bjl−32)·x[256b+16j+l] over
	// the len(x)/256 Q6_K super-blocks b of w and their 16 sub-blocks j
	// of 16 weights (6-bit quants q, int8 scales sc, f16 d), float32.
	// dotQ6Kx4 is dotQ6K for four tokens
	// (cols values apart) into out[t*outStride], the same bits as four
	// calls; nil: four calls.
	dotQ6K   func(w []byte, x []float32) float32
	dotQ6Kx4 func(w []byte, x []float32, cols int, out []float32, outStride int)
	// dotQ6KQ8K is dotQ6K on activations quantized as dotQ4KQ8K's:
	// per super-block, eight int32 lanes (lane m: bytes 4m..4m+3 of
	// every 32) of sc_j·(q−32)·xq, converted and fused with d·xd into
	// eight float32 chains, the lanes added at the end: dotQ6KQ8KGo's
	// bits. dotQ6KQ8Kx4 is it for four tokens into out[t*outStride],
	// the same bits; nil: four calls. q6kInt8: dotQ6KQ8K is this set's
	// fastest Q6_K dot (Best's).
	dotQ6KQ8K   func(w []byte, xq []int8, xd []float32) float32
	dotQ6KQ8Kx4 func(w []byte, xq []int8, xd []float32, out []float32, outStride int)
	q6kInt8     bool
	// dotF32 is Σ a[i]·b[i] over len(a), float32.
	dotF32 func(a, b []float32) float32
	// dotF16 is Σ f16(w[i])·x[i] over len(x) (w little-endian halves).
	dotF16 func(w []byte, x []float32) float32
	// axpy sets y[i] += a·x[i] over len(y).
	axpy func(y []float32, a float32, x []float32)
	// dotRows sets out[j] = Σ_i q[i]·k[j·stride+i] for j < len(out),
	// i < len(q); nil: dotF32 per row.
	dotRows func(out, q, k []float32, stride int)
	// axpyRows sets y[i] += Σ_j p[j]·v[j·stride+i] for j < len(p),
	// i < len(y); nil: axpy per row.
	axpyRows func(y, p, v []float32, stride int)
	// swiGLU is the SwiGLU kernel; nil: swiGLUFast (Go, expf).
	swiGLU func(gate, up []float32)

	// Elementwise kernels (RMSNorm's scaling, RoPE, attention's
	// exponentials); nil: the Go loops in rmsNormFast, ropeFast and
	// attentionFast.
	//
	// scaleMul sets out[i] = (x[i]·s)·w[i] over len(x), two roundings
	// in that order (the bits of rmsNormFast's Go loop).
	scaleMul func(out, x, w []float32, s float32)
	// rope sets, for every head h of x (len(cs) values wide, len(cs)
	// even) and j < len(cs), x[h+j] = float32(float64(x[h+j])·cs[j] +
	// float64(x[h+(j^1)])·sn[j]) in float64, unfused: ropeFast's bits
	// with cs = (cos_i, cos_i) and sn = (−sin_i, sin_i) per pair i.
	rope func(x []float32, cs, sn []float64)
	// expSub sets s[j] = expf(s[j]−m) (within expf's error) and returns
	// their sum, in an order fixed by len(s).
	expSub func(s []float32, m float32) float32

	// F16 matmul shapes, with the same contract as the Q8_0 family's:
	// dotF16R4 sets out[i] = dotF16(w[i*rb:], x) for four rows, and
	// f16Tile computes dotF16 for f16TileRows rows by f16TileToks tokens
	// into out[t*outStride+r], each with the same bits as dotF16 (which
	// must therefore use the same arithmetic for every shape); nil: dotF16
	// per (row, token).
	dotF16R4                 func(w []byte, rb int, x []float32, out *[4]float32)
	f16Tile                  func(w []byte, rb int, x []float32, cols int, out []float32, outStride int)
	f16TileRows, f16TileToks int
}

var portableOps = simdOps{name: "go", dotQ8F32: dotQ8F32Go, dotQ8Q8K: dotQ8Q8KGo, dotQ4K: dotQ4KGo, dotQ4KQ8K: dotQ4KQ8KGo, quantizeQ8K: quantizeQ8KGo, dotQ6K: dotQ6KGo, dotQ6KQ8K: dotQ6KQ8KGo, dotF32: dotF32Go, dotF16: dotF16Go, axpy: axpyGo}

// Best returns the fastest kernels this CPU runs: AVX2+FMA+F16C on amd64,
// NEON on arm64, else (and in builds with the purego tag) Scalar. Where
// the set's int8 dots are its fastest (AVX2: Q8_0 rows of a multiple of
// 256 values, Q4_K and Q6_K; AVX-512: Q4_K and Q6_K; NEON with SDOT:
// those Q8_0 rows and Q4_K), those matmuls take their activations quantized to int8 once
// per matmul, as llama.cpp does, which moves the logits slightly (by up
// to about 4e-2 on the Q4_K test model, enough to change a near-tie
// greedy token of a random-weight model); every other matmul takes
// float32 activations.
func Best() Kernels {
	if ops, ok := archOps(); ok {
		return fastKernels(ops, actDefault)
	}
	return Scalar()
}

// BestF32Act returns Best's primitives with every matmul on float32
// activations (name suffix "-f32act" where that differs from Best;
// Scalar where Best is): the accel/llama reference's greedy tokens, for
// an engine that wants them rather than the speed of the int8 dots.
func BestF32Act() Kernels {
	if ops, ok := archOps(); ok {
		return fastKernels(ops, actF32)
	}
	return Scalar()
}

// actMode is which matmuls a fast kernel set runs on int8-quantized
// activations.
type actMode int

const (
	actDefault actMode = iota // where q8Int8, q4kInt8 and q6kInt8 say so
	actF32                    // none
	actQ8                     // Q8_0 (rows of a multiple of 256), Q4_K and Q6_K
)

// allInt8 reports whether ops' default runs every int8 dot it has.
func (ops *simdOps) allInt8() bool { return ops.q8Int8 && ops.q4kInt8 && ops.q6kInt8 }

// fastKernels are the kernels built on ops: the matmuls on float32
// activations (quants widened in registers) or on activations quantized
// once per matmul in blocks of 256 (quantizeQ8K) as mode says (named
// "-f32act" and "-q8act" where that differs from the default), and the
// other operations.
func fastKernels(ops simdOps, mode actMode) Kernels {
	ops = withRowDefaults(ops)
	swiGLU := ops.swiGLU
	if swiGLU == nil {
		swiGLU = swiGLUFast
	}
	var a acts
	name := ops.name
	switch mode {
	case actDefault:
		a.q8, a.q4k, a.q6k = ops.q8Int8, ops.q4kInt8, ops.q6kInt8
	case actF32:
		if ops.q8Int8 || ops.q4kInt8 || ops.q6kInt8 {
			name += "-f32act"
		}
	case actQ8:
		a.q8, a.q4k, a.q6k = true, true, true
		if !ops.allInt8() {
			name += "-q8act"
		}
	}
	return Kernels{
		Name: name,
		Prepare: func(in *MatMulInput, w llama.Tensor, n int) {
			prepareActs(&ops, a, in, w, n)
		},
		MatMul: func(out []float32, w llama.Tensor, in *MatMulInput, n, lo, hi int) {
			matMulFast(ops, a, out, w, in, n, lo, hi)
		},
		RMSNorm: func(out, x, weight []float32, eps float32) {
			rmsNormFast(ops, out, x, weight, eps)
		},
		RoPE: func(x []float32, freqs []float64, pos int) {
			ropeFast(ops, x, freqs, pos)
		},
		SwiGLU: swiGLU,
		Attention: func(a *AttnArgs) {
			attentionFast(ops, a)
		},
	}
}

// acts says which weight types' matmuls take int8 activations.
type acts struct{ q8, q4k, q6k bool }

// int8 reports whether a runs w's matmuls on int8 activations.
func (a acts) int8(w llama.Tensor) bool {
	switch w.Type {
	case gguf.Q8_0:
		return a.q8 && w.Cols%q4kSize == 0
	case gguf.Q4_K:
		return a.q4k
	case gguf.Q6_K:
		return a.q6k
	}
	return false
}

// withRowDefaults fills the row primitives a set lacks from its dotF32
// and axpy.
func withRowDefaults(ops simdOps) simdOps {
	if ops.dotRows == nil {
		dot := ops.dotF32
		ops.dotRows = func(out, q, k []float32, stride int) {
			for j := range out {
				out[j] = dot(q, k[j*stride:j*stride+len(q)])
			}
		}
	}
	if ops.axpyRows == nil {
		axpy := ops.axpy
		ops.axpyRows = func(y, p, v []float32, stride int) {
			for j, pj := range p {
				axpy(y, pj, v[j*stride:j*stride+len(y)])
			}
		}
	}
	return ops
}

// prepareActs readies a matmul's activations once for all its rows:
// quantized for the weight types in a (in blocks of 256 with sums by 32,
// ops.quantizeQ8K; Q8_0 only where rows are a multiple of 256 long),
// summed by 32 for a float32 Q4_K matmul (the factor of each sub-block's
// min), else read in in.X as they are.
func prepareActs(ops *simdOps, a acts, in *MatMulInput, w llama.Tensor, n int) {
	m := n * w.Cols
	switch {
	case a.int8(w):
		p := m
		if w.Type == gguf.Q8_0 { // room for a last group of eight (byGroups), zero
			p = (n + 7) / 8 * 8 * w.Cols
		}
		in.Q = grow(in.Q, p)
		in.KD = grow(in.KD, p/q4kSize)
		in.KS = grow(in.KS, m/32)
		ops.quantizeQ8K(in.Q, in.KD, in.KS, in.X[:m])
		clear(in.Q[m:p])
		clear(in.KD[m/q4kSize : p/q4kSize])
	case w.Type == gguf.Q4_K:
		in.S = grow(in.S, m/32)
		for i := range in.S[:m/32] {
			var s float32
			for _, v := range in.X[32*i : 32*i+32] {
				s += v
			}
			in.S[i] = s
		}
	}
}

// quantizeQ8KGo quantizes x to int8 in blocks of 256 (the Q4_K
// super-block, as llama.cpp's Q8_K; quantizeBlock: d = max|x|/127 kept
// in float32, q = round(x/d) to nearest even, |q| ≤ 127), with the sums
// of each 32 quants in s (|s| ≤ 32·127). len(x) must be a multiple of 256. Activations that are not
// finite give unspecified quants.
func quantizeQ8KGo(q []int8, d []float32, s []int16, x []float32) {
	for b := range len(x) / q4kSize {
		d[b] = quantizeBlock(q[b*q4kSize:(b+1)*q4kSize], x[b*q4kSize:(b+1)*q4kSize])
	}
	for i := range len(x) / 32 {
		var t int16
		for _, v := range q[32*i : 32*i+32] {
			t += int16(v)
		}
		s[i] = t
	}
}

// quantizeBlock sets q to x over d = max|x|/127, rounded to nearest
// even, and returns d.
func quantizeBlock(q []int8, x []float32) float32 {
	var amax float32
	for _, v := range x {
		amax = max(amax, math.Float32frombits(math.Float32bits(v)&^(1<<31)))
	}
	d := amax / 127
	var id float32
	if d != 0 {
		id = 1 / d
	}
	q = q[:len(x)]
	for j, v := range x {
		q[j] = int8(math.RoundToEven(float64(v * id)))
	}
	return d
}

// matMulFast computes each (row, token) with one call of the row's dot
// primitive, in the same way whatever n, lo and hi are.
func matMulFast(ops simdOps, a acts, out []float32, w llama.Tensor, in *MatMulInput, n, lo, hi int) {
	cols, rows, rb := w.Cols, w.Rows, w.RowBytes()
	switch {
	case w.Type == gguf.Q8_0 && a.int8(w):
		// in.Q and in.KD have room for eight tokens from every t
		// (prepareActs pads them)
		matMulQ8K(ops.dotQ8Q8K, ops.dotQ8Q8Kx4, ops.dotQ8Q8Kx8, out, w, in, n, lo, hi)
	case w.Type == gguf.Q8_0:
		d := dotShapes{one: ops.dotQ8F32, r4: ops.dotQ8F32R4, tile: ops.q8Tile, left: ops.q8TileLeft, R: ops.q8TileRows, T: ops.q8TileToks}
		matMulTiled(&d, out, w, in.X, n, lo, hi)
	case w.Type == gguf.Q4_K && a.q4k:
		nb := cols / q4kSize
		var four func(r, t int)
		if ops.dotQ4KQ8Kx4 != nil {
			four = func(r, t int) {
				ops.dotQ4KQ8Kx4(w.Data[r*rb:(r+1)*rb], in.Q[t*cols:(t+4)*cols], in.KD[t*nb:(t+4)*nb], in.KS[t*8*nb:(t+4)*8*nb], out[t*rows+r:], rows)
			}
		}
		byGroups(lo, hi, n, nil, four, func(r, t int) {
			out[t*rows+r] = ops.dotQ4KQ8K(w.Data[r*rb:(r+1)*rb], in.Q[t*cols:(t+1)*cols], in.KD[t*nb:(t+1)*nb], in.KS[t*8*nb:(t+1)*8*nb])
		})
	case w.Type == gguf.Q4_K:
		sc := cols / 32
		var four func(r, t int)
		if ops.dotQ4Kx4 != nil {
			four = func(r, t int) {
				ops.dotQ4Kx4(w.Data[r*rb:(r+1)*rb], in.X[t*cols:(t+4)*cols], in.S[t*sc:(t+4)*sc], cols, out[t*rows+r:], rows)
			}
		}
		byGroups(lo, hi, n, nil, four, func(r, t int) {
			out[t*rows+r] = ops.dotQ4K(w.Data[r*rb:(r+1)*rb], in.X[t*cols:(t+1)*cols], in.S[t*sc:(t+1)*sc])
		})
	case w.Type == gguf.Q6_K && a.q6k:
		matMulQ8K(ops.dotQ6KQ8K, ops.dotQ6KQ8Kx4, nil, out, w, in, n, lo, hi)
	case w.Type == gguf.Q6_K:
		var four func(r, t int)
		if ops.dotQ6Kx4 != nil {
			four = func(r, t int) {
				ops.dotQ6Kx4(w.Data[r*rb:(r+1)*rb], in.X[t*cols:(t+4)*cols], cols, out[t*rows+r:], rows)
			}
		}
		byGroups(lo, hi, n, nil, four, func(r, t int) {
			out[t*rows+r] = ops.dotQ6K(w.Data[r*rb:(r+1)*rb], in.X[t*cols:(t+1)*cols])
		})
	case w.Type == gguf.F16:
		d := dotShapes{one: ops.dotF16, r4: ops.dotF16R4, tile: ops.f16Tile, R: ops.f16TileRows, T: ops.f16TileToks}
		matMulTiled(&d, out, w, in.X, n, lo, hi)
	default: // F32
		matMulF32(ops, out, w, in.X, n, lo, hi)
	}
}

// matMulQ8K is matMulFast for a weight type whose dots take int8
// activations in blocks of 256 without sums (Q8_0 and Q6_K): one for a
// token, four and eight (nil: none) for more, by byGroups.
func matMulQ8K(one func(w []byte, xq []int8, xd []float32) float32, four func(w []byte, xq []int8, xd []float32, out []float32, outStride int), eight func(w []byte, xq []int8, xd []float32, out []float32, outStride, k int), out []float32, w llama.Tensor, in *MatMulInput, n, lo, hi int) {
	cols, rows, rb := w.Cols, w.Rows, w.RowBytes()
	nb := cols / q4kSize
	var e func(r, t, k int)
	var f func(r, t int)
	if eight != nil {
		e = func(r, t, k int) {
			eight(w.Data[r*rb:(r+1)*rb], in.Q[t*cols:(t+8)*cols], in.KD[t*nb:(t+8)*nb], out[t*rows+r:], rows, k)
		}
	}
	if four != nil {
		f = func(r, t int) {
			four(w.Data[r*rb:(r+1)*rb], in.Q[t*cols:(t+4)*cols], in.KD[t*nb:(t+4)*nb], out[t*rows+r:], rows)
		}
	}
	byGroups(lo, hi, n, e, f, func(r, t int) {
		out[t*rows+r] = one(w.Data[r*rb:(r+1)*rb], in.Q[t*cols:(t+1)*cols], in.KD[t*nb:(t+1)*nb])
	})
}

// f32Chunk is how many columns of an F32 row matMulF32 sums per dotF32
// call.
const f32Chunk = 256

// matMulF32 is matMulFast for F32 weights: each row read as float32 in
// place where its bytes allow it (f32View), else decoded into a buffer
// (dotF32Decoded), summed by chunks of f32Chunk columns either way, so
// the two give the same bits. A decode step of GGUF's aligned rows
// allocates nothing; an unaligned row's buffer goes to the heap (the
// dot, a func value, might keep it).
func matMulF32(ops simdOps, out []float32, w llama.Tensor, x []float32, n, lo, hi int) {
	cols, rows, rb := w.Cols, w.Rows, w.RowBytes()
	for r := lo; r < hi; r++ {
		row := w.Data[r*rb : (r+1)*rb]
		f := f32View(row)
		for t := range n {
			xt := x[t*cols : (t+1)*cols]
			if f == nil {
				out[t*rows+r] = dotF32Decoded(ops, row, xt)
				continue
			}
			var s float32
			for c := 0; c < cols; c += f32Chunk {
				k := min(f32Chunk, cols-c)
				s += ops.dotF32(f[c:c+k], xt[c:c+k])
			}
			out[t*rows+r] = s
		}
	}
}

// dotF32Decoded is matMulF32's dot of one F32 row that cannot be read
// in place, decoded f32Chunk values at a time.
func dotF32Decoded(ops simdOps, row []byte, x []float32) float32 {
	var buf [f32Chunk]float32
	var s float32
	for c := 0; c < len(x); c += f32Chunk {
		k := min(f32Chunk, len(x)-c)
		for i := range k {
			buf[i] = math.Float32frombits(binary.LittleEndian.Uint32(row[4*(c+i):]))
		}
		s += ops.dotF32(buf[:k], x[c:c+k])
	}
	return s
}

// f32View returns b's little-endian float32 values in place, or nil
// where that is not possible: on a big-endian host, or when b is not
// 4-byte aligned (GGUF aligns tensor data to 32 bytes, so a file's F32
// rows are; a hostile file's need not be).
func f32View(b []byte) []float32 {
	p := unsafe.SliceData(b)
	if !littleEndian || len(b) < 4 || uintptr(unsafe.Pointer(p))%4 != 0 {
		return nil
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(p)), len(b)/4)
}

var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// rowBlock is how many rows a float32 Q8_0 or Q4_K matmul takes through
// all its tokens before the next rows: for TinyLlama's Q8_0 matrices 136
// KiB (2048 columns) to 374 KiB (5632), which stay in the core's L2 cache
// while the tokens go by. On the 2-core Zen 3 VM (512 KiB of L2 per core)
// 16, 32 and 128 rows timed the same as 64 within the noise of a shared
// machine.
const rowBlock = 64

// byRowBlocks runs a matmul's rows [lo, hi) in blocks of rowBlock rows,
// each through all n tokens before the next block: group(b, be, t) for
// the tokens [t, t+T) of each whole group of T (none when T is 0), then
// rest(b, be, t0) for the tokens [t0, n) left over, if any. Rows outer
// would stream a prefill chunk's activations once per row, and tokens
// outer the weights once per token; the leftover tokens of a batch that
// is not a multiple of T also find the block's weights in cache.
func byRowBlocks(lo, hi, n, T int, group, rest func(b, be, t int)) {
	nt := 0
	if T > 0 {
		nt = n - n%T
	}
	for b := lo; b < hi; b += rowBlock {
		be := min(hi, b+rowBlock)
		for t := 0; t < nt; t += T {
			group(b, be, t)
		}
		if nt < n {
			rest(b, be, nt)
		}
	}
}

// byGroups is byRowBlocks for a weight type whose eight-token dot
// (eight, storing its first k results), four-token dot (four) and
// one-token dot (one) give the same bits, called per row r and first
// token t: groups of eight tokens (of four where eight is nil); then,
// of the tokens left, six or seven as one more eight-token call (whose
// padding tokens eight must be able to read), or four; then three left
// over as one more group of the batch's last four (the tokens already
// computed get the same bits again; one four-token dot costs about two
// one-token dots), one or two one at a time. With eight and four nil,
// every token one at a time.
func byGroups(lo, hi, n int, eight func(r, t, k int), four, one func(r, t int)) {
	T := 0
	var group func(b, be, t int)
	switch {
	case eight != nil:
		T = 8
		group = func(b, be, t int) {
			for r := b; r < be; r++ {
				eight(r, t, 8)
			}
		}
	case four != nil:
		T = 4
		group = func(b, be, t int) {
			for r := b; r < be; r++ {
				four(r, t)
			}
		}
	}
	byRowBlocks(lo, hi, n, T, group, func(b, be, t int) {
		if eight != nil && n-t >= 6 {
			for r := b; r < be; r++ {
				eight(r, t, n-t)
			}
			return
		}
		if four != nil && n-t >= 4 {
			for r := b; r < be; r++ {
				four(r, t)
			}
			t += 4
		}
		if four != nil && n > 4 && n-t == 3 {
			for r := b; r < be; r++ {
				four(r, n-4)
			}
			return
		}
		for ; t < n; t++ {
			for r := b; r < be; r++ {
				one(r, t)
			}
		}
	})
}

// dotShapes are a weight type's dot primitives in the shapes that give
// the same bits (the Q8_0 and F16 families): one row by one token, four
// rows by one token (r4; nil: one per row), a tile of R rows by T tokens
// (nil: none) and tiles of R rows by fewer tokens (left[k] for k tokens;
// nil: none for k).
type dotShapes struct {
	one  func(w []byte, x []float32) float32
	r4   func(w []byte, rb int, x []float32, out *[4]float32)
	tile func(w []byte, rb int, x []float32, cols int, out []float32, outStride int)
	left [4]func(w []byte, rb int, x []float32, cols int, out []float32, outStride int)
	R, T int
}

// matMulTiled is matMulFast for a weight type with dotShapes d, in row
// blocks (byRowBlocks): the tokens by d.T against the rows by d.R (the
// rows left over one at a time), then the tokens left over together
// when d has a tile for their number, else (and all of them without a
// tile) one at a time against four rows at a time and the rows left over
// one at a time.
func matMulTiled(d *dotShapes, out []float32, w llama.Tensor, x []float32, n, lo, hi int) {
	cols, rows, rb := w.Cols, w.Rows, w.RowBytes()
	R, T := d.R, 0
	if d.tile != nil {
		T = d.T
	}
	// tiles runs tile over the block's rows by R for the tokens [t, t+k)
	// and the rows left over one at a time.
	tiles := func(tile func([]byte, int, []float32, int, []float32, int), b, be, t, k int) {
		xs := x[t*cols : (t+k)*cols]
		r := b
		for ; r+R <= be; r += R {
			tile(w.Data[r*rb:(r+R)*rb], rb, xs, cols, out[t*rows+r:], rows)
		}
		for ; r < be; r++ {
			row := w.Data[r*rb : (r+1)*rb]
			for tt := t; tt < t+k; tt++ {
				out[tt*rows+r] = d.one(row, x[tt*cols:(tt+1)*cols])
			}
		}
	}
	byRowBlocks(lo, hi, n, T, func(b, be, t int) {
		tiles(d.tile, b, be, t, T)
	}, func(b, be, t0 int) {
		if k := n - t0; k > 1 && k < len(d.left) && d.left[k] != nil {
			tiles(d.left[k], b, be, t0, k)
			return
		}
		for t := t0; t < n; t++ {
			xt := x[t*cols : (t+1)*cols]
			r := b
			if d.r4 != nil {
				// straight into out: a local array passed to a func
				// value would escape, one allocation per matmul
				for ; r+4 <= be; r += 4 {
					d.r4(w.Data[r*rb:(r+4)*rb], rb, xt, (*[4]float32)(out[t*rows+r:]))
				}
			}
			for ; r < be; r++ {
				out[t*rows+r] = d.one(w.Data[r*rb:(r+1)*rb], xt)
			}
		}
	})
}

func rmsNormFast(ops simdOps, out, x, weight []float32, eps float32) {
	ss := ops.dotF32(x, x)
	scale := float32(1 / math.Sqrt(float64(ss)/float64(len(x))+float64(eps)))
	if ops.scaleMul != nil {
		ops.scaleMul(out, x, weight, scale)
		return
	}
	weight = weight[:len(x)]
	out = out[:len(x)]
	for i, v := range x {
		out[i] = v * scale * weight[i]
	}
}

// ropeFast is ropeScalar with each angle's sine and cosine computed once
// for all heads instead of once per head: the same arithmetic, so the
// same bits. With ops.rope they go into its tables, (cos, cos) and
// (−sin, sin) per pair, which stay on the stack (noescapeF64): a decode
// step allocates nothing.
func ropeFast(ops simdOps, x []float32, freqs []float64, pos int) {
	var sc [2 * 128]float64
	if len(freqs) > len(sc)/2 {
		ropeScalar(x, freqs, pos)
		return
	}
	hd := 2 * len(freqs)
	if ops.rope != nil {
		var tab [2 * len(sc)]float64 // cs, then sn
		cs, sn := tab[:hd], tab[len(sc):len(sc)+hd]
		for i, f := range freqs {
			sin, cos := math.Sincos(float64(pos) * f)
			cs[2*i], cs[2*i+1] = cos, cos
			sn[2*i], sn[2*i+1] = -sin, sin
		}
		t := noescapeF64(&tab)
		ops.rope(x, t[:hd], t[len(sc):len(sc)+hd])
		return
	}
	for i, f := range freqs {
		sc[2*i], sc[2*i+1] = math.Sincos(float64(pos) * f)
	}
	for h := 0; h+hd <= len(x); h += hd {
		head := x[h : h+hd]
		for i := range freqs {
			sin, cos := sc[2*i], sc[2*i+1]
			a, b := float64(head[2*i]), float64(head[2*i+1])
			head[2*i] = float32(a*cos - b*sin)
			head[2*i+1] = float32(a*sin + b*cos)
		}
	}
}

func swiGLUFast(gate, up []float32) {
	up = up[:len(gate)]
	for i, g := range gate {
		gate[i] = g / (1 + expf(-g)) * up[i]
	}
}

// expf is e^x in float32: Cephes' expf (range reduction by ln 2 in two
// parts, degree-6 polynomial), within 2 ulp; math.Exp outside the range
// where 2^n is a normal float32.
func expf(x float32) float32 {
	if !(x > -87 && x < 88) { // NaN included
		return float32(math.Exp(float64(x)))
	}
	n := float32(math.Floor(float64(x*1.44269504088896341 + 0.5)))
	r := x - n*0.693359375 + n*2.12194440e-4
	p := ((((1.9875691500e-4*r+1.3981999507e-3)*r+8.3334519073e-3)*r+4.1665795894e-2)*r+1.6666665459e-1)*r + 5.0000001201e-1
	p = p*r*r + r + 1
	return p * math.Float32frombits(uint32(int32(n)+127)<<23)
}

// attentionFast is attention with an online softmax, in float32, one KV
// block at a time: the block's scores (dotRows), its maximum, the output
// and the running sum rescaled when the maximum grows, then the block's
// exponentials and their weighted values (axpyRows), so each head reads
// each key and value once and calls the primitives twice per block.
func attentionFast(ops simdOps, a *AttnArgs) {
	hd, bt := a.HeadDim, a.BlockTokens
	kvDim := a.NHeadKV * hd
	group := a.NHead / a.NHeadKV
	scale := float32(1 / math.Sqrt(float64(hd)))
	for h := 0; h < a.NHead; h++ {
		q := a.Q[h*hd : (h+1)*hd]
		out := a.Out[h*hd : (h+1)*hd]
		clear(out)
		kvOff := (h / group) * hd
		m := float32(math.Inf(-1))
		var l float32
		for start := 0; start < a.N; start += bt {
			cnt := min(bt, a.N-start)
			base := a.Blocks[start/bt]*bt*kvDim + kvOff
			end := base + (cnt-1)*kvDim + hd
			s := a.Scratch[start : start+cnt]
			ops.dotRows(s, q, a.K[base:end], kvDim)
			mb := m
			for j := range s {
				s[j] *= scale
				mb = max(mb, s[j])
			}
			if mb > m {
				c := expf(m - mb)
				for i := range out {
					out[i] *= c
				}
				l *= c
				m = mb
			}
			if ops.expSub != nil {
				l += ops.expSub(s, m)
			} else {
				for j, v := range s {
					p := expf(v - m)
					s[j] = p
					l += p
				}
			}
			ops.axpyRows(out, s, a.V[base:end], kvDim)
		}
		inv := 1 / l
		for i := range out {
			out[i] *= inv
		}
	}
}

func f16At(w []byte, i int) float32 {
	return gguf.F16ToFloat32(binary.LittleEndian.Uint16(w[2*i:]))
}

func dotQ8F32Go(w []byte, x []float32) float32 {
	var s float32
	for b := range len(x) / q8Size {
		blk := w[b*q8Bytes : (b+1)*q8Bytes]
		var bs float32
		for j, v := range x[b*q8Size : (b+1)*q8Size] {
			bs += float32(int8(blk[2+j])) * v
		}
		s += f16At(blk, 0) * bs
	}
	return s
}

func dotQ4KGo(w []byte, x, xs []float32) float32 {
	var s float32
	for b := range len(x) / gguf.Q4_KBlockSize {
		blk := w[b*gguf.Q4_KBlockBytes : (b+1)*gguf.Q4_KBlockBytes]
		for j := range gguf.Q4_KSubBlocks {
			step, off := gguf.Q4_KSubBlock(blk, j)
			qs, shift := gguf.Q4_KQuants(blk, j)
			var bs float32
			for l, v := range x[b*gguf.Q4_KBlockSize+32*j:][:32] {
				bs += float32(qs[l]>>shift&15) * v
			}
			s += step*bs - off*xs[8*b+j]
		}
	}
	return s
}

func dotQ4KQ8KGo(w []byte, xq []int8, xd []float32, bs []int16) float32 {
	var acc [8]float32
	for b, dx := range xd {
		blk := w[b*gguf.Q4_KBlockBytes : (b+1)*gguf.Q4_KBlockBytes]
		var lanes, mins [8]int32
		for j := range gguf.Q4_KSubBlocks {
			sc, m := gguf.Q4_KScaleMin(blk[4:16], j)
			qs, shift := gguf.Q4_KQuants(blk, j)
			for l, v := range xq[b*gguf.Q4_KBlockSize+32*j:][:32] {
				lanes[l/4] += int32(sc) * int32(qs[l]>>shift&15) * int32(v)
			}
			mins[j/2] += int32(m) * int32(bs[8*b+j])
		}
		dd, dm := f16At(blk, 0)*dx, f16At(blk, 1)*dx
		for i := range acc {
			acc[i] = fma32(float32(lanes[i]), dd, acc[i])
		}
		for i := range acc {
			acc[i] = fma32(-float32(mins[i]), dm, acc[i])
		}
	}
	return sumLanes8(&acc)
}

func dotQ6KQ8KGo(w []byte, xq []int8, xd []float32) float32 {
	var acc [8]float32
	var q [16]int8
	for b, dx := range xd {
		blk := w[b*gguf.Q6_KBlockBytes : (b+1)*gguf.Q6_KBlockBytes]
		var lanes [8]int32
		for j := range gguf.Q6_KSubBlocks {
			gguf.Q6_KQuants(blk, j, &q)
			sc := int32(int8(blk[q6kBytes-18+j])) // the scales end 2 bytes before the block
			for l, v := range q {
				i := 16*j + l
				lanes[i%32/4] += sc * int32(v) * int32(xq[b*gguf.Q6_KBlockSize+i])
			}
		}
		dd := f16At(blk, q6kBytes/2-1) * dx // d: the block's last 2 bytes
		for i := range acc {
			acc[i] = fma32(float32(lanes[i]), dd, acc[i])
		}
	}
	return sumLanes8(&acc)
}

// sumLanes8 adds eight float32 lanes in the order of the assembly's
// horizontal sums: (l0+l4 + l2+l6) + (l1+l5 + l3+l7).
func sumLanes8(l *[8]float32) float32 {
	s0, s1, s2, s3 := l[0]+l[4], l[1]+l[5], l[2]+l[6], l[3]+l[7]
	return (s0 + s2) + (s1 + s3)
}

// fma32 is a·b + c rounded once to float32, as the FMA instructions do
// (Go has no float32 FMA). The product is exact in float64; the sum
// rounded to float64 can then be rounded again to the wrong float32
// only when it lands exactly halfway between two float32 values, where
// the sign of the first rounding's error (an error-free two-sum) breaks
// the tie.
func fma32(a, b, c float32) float32 {
	p := float64(a) * float64(b)
	r := p + float64(c)
	f := float32(r)
	if float64(f) == r || math.IsInf(r, 0) || math.IsNaN(r) {
		return f
	}
	bv := r - p
	e := (p - (r - bv)) + (float64(c) - bv)
	if e == 0 {
		return f
	}
	g := math.Nextafter32(f, float32(math.Inf(1)))
	if float64(f) > r {
		g = math.Nextafter32(f, float32(math.Inf(-1)))
	}
	if r != (float64(f)+float64(g))/2 {
		return f
	}
	if (e > 0) == (g > f) {
		return g
	}
	return f
}

// dotQ6KGo is dotQ6K: per 16-weight sub-block, the centred quants times
// the activations summed in float32 in index order, times the step
// d·sc[j].
func dotQ6KGo(w []byte, x []float32) float32 {
	var s float32
	var q [16]int8
	for b := range len(x) / gguf.Q6_KBlockSize {
		blk := w[b*gguf.Q6_KBlockBytes : (b+1)*gguf.Q6_KBlockBytes]
		for j := range gguf.Q6_KSubBlocks {
			gguf.Q6_KQuants(blk, j, &q)
			var bs float32
			for l, v := range x[b*gguf.Q6_KBlockSize+16*j:][:16] {
				bs += float32(q[l]) * v
			}
			s += gguf.Q6_KStep(blk, j) * bs
		}
	}
	return s
}

func dotF32Go(a, b []float32) float32 {
	b = b[:len(a)]
	var s float32
	for i, v := range a {
		s += v * b[i]
	}
	return s
}

func dotF16Go(w []byte, x []float32) float32 {
	var s float32
	for i, v := range x {
		s += f16At(w, i) * v
	}
	return s
}

func axpyGo(y []float32, a float32, x []float32) {
	x = x[:len(y)]
	for i := range y {
		y[i] += a * x[i]
	}
}
