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

// dotQ6KQ8KAsm wraps a one-token int8 Q6_K dot (simdOps.dotQ6KQ8K).
func dotQ6KQ8KAsm(asm func(w *byte, xq *int8, xd *float32, nb int) float32) func([]byte, []int8, []float32) float32 {
	return func(w []byte, xq []int8, xd []float32) float32 {
		nb := len(xd)
		if nb == 0 {
			return 0
		}
		_, _ = w[nb*q6kBytes-1], xq[nb*q6kSize-1]
		return asm(&w[0], &xq[0], &xd[0], nb)
	}
}

// dotQ6KQ8Kx4Asm wraps a four-token int8 Q6_K dot (simdOps.dotQ6KQ8Kx4),
// whose strides follow from nb and whose output stride is in bytes.
func dotQ6KQ8Kx4Asm(asm func(w *byte, xq *int8, xd *float32, nb int, out *float32, outStride int)) func([]byte, []int8, []float32, []float32, int) {
	return func(w []byte, xq []int8, xd []float32, out []float32, outStride int) {
		nb := len(xd) / 4
		_ = out[3*outStride]
		if nb == 0 {
			out[0], out[outStride], out[2*outStride], out[3*outStride] = 0, 0, 0, 0
			return
		}
		_, _ = w[nb*q6kBytes-1], xq[4*nb*q6kSize-1]
		asm(&w[0], &xq[0], &xd[0], nb, &out[0], 4*outStride)
	}
}
