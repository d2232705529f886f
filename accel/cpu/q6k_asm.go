//go:build (amd64 || arm64) && !purego

package cpu

import "github.com/outpost-iot/outpost/accel/gguf"

// Go sides of the Q6_K assembly (q6k_amd64.s, q6k_arm64.s): the slice
// checks, then pointers and a count of whole super-blocks.

const (
	q6kSize  = gguf.Q6_KBlockSize
	q6kBytes = gguf.Q6_KBlockBytes
)

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
