//go:build (amd64 || arm64) && !purego

package cpu

// setF16Shapes sets the F16 matmul shapes of o from one set's assembly:
// one row (one), four rows (r4) and a tile of rows × toks (tile), each
// over a multiple of width columns (the vector width) with the same
// arithmetic. The columns left over (fewer than width) are added to
// each (row, token) in Go by f16Tail, the same way in every shape, so
// the shapes agree to the bit for any number of columns.
func (o *simdOps) setF16Shapes(
	one func(w *byte, x *float32, n int) float32,
	r4 func(w *byte, rb int, x *float32, n int, out *[4]float32),
	tile func(w *byte, rb int, x *float32, xStride, n int, out *float32, outStride int),
	rows, toks, width int,
) {
	o.dotF16 = func(w []byte, x []float32) float32 {
		n := len(x)
		_ = w[:2*n]
		m := n &^ (width - 1)
		var s float32
		if m > 0 {
			s = one(&w[0], &x[0], m)
		}
		return f16Tail(s, w, x, m)
	}
	o.dotF16R4 = func(w []byte, rb int, x []float32, out *[4]float32) {
		n := len(x)
		_ = w[3*rb : 3*rb+2*n] // panics for rb < 0; rows 1 and 2 lie between
		m := n &^ (width - 1)
		if m == 0 {
			*out = [4]float32{}
		} else {
			r4(&w[0], rb, &x[0], m, out)
		}
		if m < n {
			for r := range out {
				out[r] = f16Tail(out[r], w[r*rb:], x, m)
			}
		}
	}
	o.f16TileRows, o.f16TileToks = rows, toks
	o.f16Tile = func(w []byte, rb int, x []float32, cols int, out []float32, outStride int) {
		last := (toks - 1) * outStride
		_ = out[last : last+rows] // panics for outStride < 0
		_, _ = w[(rows-1)*rb:(rows-1)*rb+2*cols], x[:toks*cols]
		m := cols &^ (width - 1)
		if m == 0 {
			for t := range toks {
				clear(out[t*outStride : t*outStride+rows])
			}
		} else {
			tile(&w[0], rb, &x[0], 4*cols, m, &out[0], 4*outStride)
		}
		if m < cols {
			for t := range toks {
				xt := x[t*cols : (t+1)*cols]
				for r := range rows {
					out[t*outStride+r] = f16Tail(out[t*outStride+r], w[r*rb:], xt, m)
				}
			}
		}
	}
}

// f16Tail returns s plus f16(w[i])·x[i] for i from m to len(x), in
// column order, each product rounded to float32 before it is added (the
// conversion forbids a fused multiply-add, which the compiler would
// otherwise be free to use in some places and not others).
func f16Tail(s float32, w []byte, x []float32, m int) float32 {
	for i := m; i < len(x); i++ {
		s += float32(f16At(w, i) * x[i])
	}
	return s
}
