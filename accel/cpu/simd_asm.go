//go:build (amd64 || arm64) && !purego

package cpu

import "unsafe"

// The assembly primitives take pointers and a count that is a multiple of
// their vector width; these wrap them as simdOps fields, with the slice
// checks and the tails (fewer values than a vector) in Go.

func dotQ8F32Asm(asm func(w *byte, x *float32, nb int) float32) func([]byte, []float32) float32 {
	return func(w []byte, x []float32) float32 {
		nb := len(x) / q8Size
		if nb == 0 {
			return 0
		}
		_ = w[nb*q8Bytes-1]
		return asm(&w[0], &x[0], nb)
	}
}

func dotQ8F32x4Asm(asm func(w *byte, x *float32, stride int, nb int, out *float32, outStride int)) func([]byte, []float32, int, []float32, int) {
	return func(w []byte, x []float32, cols int, out []float32, outStride int) {
		nb := cols / q8Size
		_ = out[3*outStride]
		if nb == 0 {
			out[0], out[outStride], out[2*outStride], out[3*outStride] = 0, 0, 0, 0
			return
		}
		_, _ = w[nb*q8Bytes-1], x[3*cols+nb*q8Size-1]
		asm(&w[0], &x[0], 4*cols, nb, &out[0], 4*outStride)
	}
}

func dotF32Asm(asm func(a, b *float32, n int) float32, width int) func(a, b []float32) float32 {
	return func(a, b []float32) float32 {
		n := len(a)
		b = b[:n]
		m := n &^ (width - 1)
		var s float32
		if m > 0 {
			s = asm(&a[0], &b[0], m)
		}
		for i := m; i < n; i++ {
			s += a[i] * b[i]
		}
		return s
	}
}

func dotF16Asm(asm func(w *uint16, x *float32, n int) float32, width int) func([]byte, []float32) float32 {
	return func(w []byte, x []float32) float32 {
		n := len(x)
		if n == 0 {
			return 0
		}
		_ = w[2*n-1]
		m := n &^ (width - 1)
		var s float32
		if m > 0 {
			s = asm((*uint16)(unsafe.Pointer(&w[0])), &x[0], m)
		}
		for i := m; i < n; i++ {
			s += f16At(w, i) * x[i]
		}
		return s
	}
}

func axpyAsm(asm func(y *float32, a float32, x *float32, n int), width int) func([]float32, float32, []float32) {
	return func(y []float32, a float32, x []float32) {
		n := len(y)
		x = x[:n]
		m := n &^ (width - 1)
		if m > 0 {
			asm(&y[0], a, &x[0], m)
		}
		for i := m; i < n; i++ {
			y[i] += a * x[i]
		}
	}
}
