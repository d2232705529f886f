//go:build (amd64 || arm64) && !purego

package cpu

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

// dotQ8F32R4Asm wraps a four-row Q8_0 dot (dotQ8F32R4); rows must be
// rb ≥ 0 bytes apart.
func dotQ8F32R4Asm(asm func(w *byte, rb int, x *float32, nb int, out *[4]float32)) func([]byte, int, []float32, *[4]float32) {
	return func(w []byte, rb int, x []float32, out *[4]float32) {
		nb := len(x) / q8Size
		if nb == 0 {
			*out = [4]float32{}
			return
		}
		_ = w[3*rb : 3*rb+nb*q8Bytes] // panics for rb < 0; rows 1 and 2 lie between
		asm(&w[0], rb, &x[0], nb, out)
	}
}

// setQ8Tile sets q8Tile to the assembly tile asm of rows × toks and
// q8TileRows, q8TileToks to its shape.
func (o *simdOps) setQ8Tile(asm q8TileAsm, rows, toks int) {
	o.q8TileRows, o.q8TileToks = rows, toks
	o.q8Tile = q8TileFunc(asm, rows, toks)
}

// setQ8TileLeft sets q8TileLeft[toks] to the assembly tile asm of the
// set's q8TileRows rows by toks tokens.
func (o *simdOps) setQ8TileLeft(asm q8TileAsm, toks int) {
	o.q8TileLeft[toks] = q8TileFunc(asm, o.q8TileRows, toks)
}

// q8TileAsm is an assembly Q8_0 tile: nb blocks of rows at w, rb bytes
// apart, by tokens at x, stride bytes apart, into out, outStride bytes
// apart per token.
type q8TileAsm func(w *byte, rb int, x *float32, stride, nb int, out *float32, outStride int)

// q8TileFunc wraps asm, a tile of rows × toks, as a q8Tile field.
func q8TileFunc(asm q8TileAsm, rows, toks int) func([]byte, int, []float32, int, []float32, int) {
	return func(w []byte, rb int, x []float32, cols int, out []float32, outStride int) {
		last := (toks - 1) * outStride
		_ = out[last : last+rows] // panics for outStride < 0
		nb := cols / q8Size
		if nb <= 0 {
			for t := range toks {
				clear(out[t*outStride : t*outStride+rows])
			}
			return
		}
		_, _ = w[(rows-1)*rb:(rows-1)*rb+nb*q8Bytes], x[(toks-1)*cols:(toks-1)*cols+nb*q8Size]
		asm(&w[0], rb, &x[0], 4*cols, nb, &out[0], 4*outStride)
	}
}

// quantizeQ8KAsm wraps an activation quantizer (simdOps.quantizeQ8K).
func quantizeQ8KAsm(asm func(x *float32, q *int8, d *float32, s *int16, nb int)) func([]int8, []float32, []int16, []float32) {
	return func(q []int8, d []float32, s []int16, x []float32) {
		nb := len(x) / q4kSize
		if nb == 0 {
			return
		}
		_, _, _ = q[nb*q4kSize-1], d[nb-1], s[nb*8-1]
		asm(&x[0], &q[0], &d[0], &s[0], nb)
	}
}

// dotQ4KQ8KAsm wraps a one-token int8 Q4_K dot (simdOps.dotQ4KQ8K).
func dotQ4KQ8KAsm(asm func(w *byte, xq *int8, xd *float32, bs *int16, nb int) float32) func([]byte, []int8, []float32, []int16) float32 {
	return func(w []byte, xq []int8, xd []float32, bs []int16) float32 {
		nb := len(xd)
		if nb == 0 {
			return 0
		}
		_, _, _ = w[nb*q4kBytes-1], xq[nb*q4kSize-1], bs[nb*8-1]
		return asm(&w[0], &xq[0], &xd[0], &bs[0], nb)
	}
}

// dotQ4KQ8Kx4Asm wraps a four-token int8 Q4_K dot (simdOps.dotQ4KQ8Kx4),
// whose strides follow from nb and whose output stride is in bytes.
func dotQ4KQ8Kx4Asm(asm func(w *byte, xq *int8, xd *float32, bs *int16, nb int, out *float32, outStride int)) func([]byte, []int8, []float32, []int16, []float32, int) {
	return func(w []byte, xq []int8, xd []float32, bs []int16, out []float32, outStride int) {
		nb := len(xd) / 4
		_ = out[3*outStride]
		if nb == 0 {
			out[0], out[outStride], out[2*outStride], out[3*outStride] = 0, 0, 0, 0
			return
		}
		_, _, _ = w[nb*q4kBytes-1], xq[4*nb*q4kSize-1], bs[4*nb*8-1]
		asm(&w[0], &xq[0], &xd[0], &bs[0], nb, &out[0], 4*outStride)
	}
}

func dotQ4KAsm(asm func(w *byte, x, xs *float32, nb int) float32) func([]byte, []float32, []float32) float32 {
	return func(w []byte, x, xs []float32) float32 {
		nb := len(x) / q4kSize
		if nb == 0 {
			return 0
		}
		_, _ = w[nb*q4kBytes-1], xs[nb*8-1]
		return asm(&w[0], &x[0], &xs[0], nb)
	}
}

func dotQ4Kx4Asm(asm func(w *byte, x, xs *float32, stride, xsStride, nb int, out *float32, outStride int)) func([]byte, []float32, []float32, int, []float32, int) {
	return func(w []byte, x, xs []float32, cols int, out []float32, outStride int) {
		nb := cols / q4kSize
		_ = out[3*outStride]
		if nb == 0 {
			out[0], out[outStride], out[2*outStride], out[3*outStride] = 0, 0, 0, 0
			return
		}
		sc := cols / 32
		_, _, _ = w[nb*q4kBytes-1], x[3*cols+nb*q4kSize-1], xs[3*sc+nb*8-1]
		asm(&w[0], &x[0], &xs[0], 4*cols, 4*sc, nb, &out[0], 4*outStride)
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

func dotRowsAsm(asm func(out, q, k *float32, stride, m, n int), width int) func(out, q, k []float32, stride int) {
	return func(out, q, k []float32, stride int) {
		m, n := len(out), len(q)
		if m == 0 || n == 0 {
			clear(out)
			return
		}
		_ = k[(m-1)*stride+n-1]
		w := n &^ (width - 1)
		if w == 0 {
			clear(out)
		} else {
			asm(&out[0], &q[0], &k[0], 4*stride, m, w)
		}
		for j := range out {
			row := k[j*stride : j*stride+n]
			for i := w; i < n; i++ {
				out[j] += q[i] * row[i]
			}
		}
	}
}

func axpyRowsAsm(asm func(y, p, v *float32, stride, m, n int), width int) func(y, p, v []float32, stride int) {
	return func(y, p, v []float32, stride int) {
		m, n := len(p), len(y)
		if m == 0 || n == 0 {
			return
		}
		_ = v[(m-1)*stride+n-1]
		w := n &^ (width - 1)
		if w > 0 {
			asm(&y[0], &p[0], &v[0], 4*stride, m, w)
		}
		for j, pj := range p {
			row := v[j*stride : j*stride+n]
			for i := w; i < n; i++ {
				y[i] += pj * row[i]
			}
		}
	}
}
