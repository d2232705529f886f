//go:build (amd64 || arm64) && !purego

package cpu

// Go sides of the Q6_K assembly (q6k_amd64.s, q6k_arm64.s): the slice
// checks, then pointers and a count of whole super-blocks.

func dotQ6KAsm(asm func(w *byte, x *float32, nb int) float32) func([]byte, []float32) float32 {
	return func(w []byte, x []float32) float32 {
		nb := len(x) / q6kSize
		if nb == 0 {
			return 0
		}
		_ = w[nb*q6kBytes-1]
		return asm(&w[0], &x[0], nb)
	}
}

// dotQ6Kx4Asm wraps a four-token Q6_K dot: tokens cols values apart,
// results outStride apart (strides in bytes for the assembly).
func dotQ6Kx4Asm(asm func(w *byte, x *float32, stride, nb int, out *float32, outStride int)) func([]byte, []float32, int, []float32, int) {
	return func(w []byte, x []float32, cols int, out []float32, outStride int) {
		nb := cols / q6kSize
		_ = out[3*outStride] // panics for outStride < 0
		if nb <= 0 {
			out[0], out[outStride], out[2*outStride], out[3*outStride] = 0, 0, 0, 0
			return
		}
		_, _ = w[nb*q6kBytes-1], x[3*cols+nb*q6kSize-1]
		asm(&w[0], &x[0], 4*cols, nb, &out[0], 4*outStride)
	}
}

// q8kDotAsm wraps a one-token dot on int8 activations in blocks of 256
// without sums (simdOps.dotQ6KQ8K, dotQ8Q8K) for a weight type of bb
// bytes per 256 values.
func q8kDotAsm(asm func(w *byte, xq *int8, xd *float32, nb int) float32, bb int) func([]byte, []int8, []float32) float32 {
	return func(w []byte, xq []int8, xd []float32) float32 {
		nb := len(xd)
		if nb == 0 {
			return 0
		}
		_, _ = w[nb*bb-1], xq[nb*q4kSize-1]
		return asm(&w[0], &xq[0], &xd[0], nb)
	}
}

// q8kDotxAsm wraps a k-token q8kDotAsm (simdOps.dotQ6KQ8Kx4,
// dotQ8Q8Kx4), whose strides follow from nb and whose output stride is
// in bytes.
func q8kDotxAsm(asm func(w *byte, xq *int8, xd *float32, nb int, out *float32, outStride int), bb, k int) func([]byte, []int8, []float32, []float32, int) {
	return func(w []byte, xq []int8, xd []float32, out []float32, outStride int) {
		nb := len(xd) / k
		_ = out[(k-1)*outStride]
		if nb == 0 {
			for t := range k {
				out[t*outStride] = 0
			}
			return
		}
		_, _ = w[nb*bb-1], xq[k*nb*q4kSize-1]
		asm(&w[0], &xq[0], &xd[0], nb, &out[0], 4*outStride)
	}
}

// q8kDot8Asm wraps an eight-token q8kDotAsm that stores the first k
// results (simdOps.dotQ8Q8Kx8).
func q8kDot8Asm(asm func(w *byte, xq *int8, xd *float32, nb int, out *float32, outStride, k int), bb int) func([]byte, []int8, []float32, []float32, int, int) {
	return func(w []byte, xq []int8, xd []float32, out []float32, outStride, k int) {
		nb := len(xd) / 8
		if k < 1 || k > 8 {
			panic("cpu: q8kDot8Asm stores 1 to 8 results")
		}
		_ = out[(k-1)*outStride]
		if nb == 0 {
			for t := range k {
				out[t*outStride] = 0
			}
			return
		}
		_, _ = w[nb*bb-1], xq[8*nb*q4kSize-1]
		asm(&w[0], &xq[0], &xd[0], nb, &out[0], 4*outStride, k)
	}
}
