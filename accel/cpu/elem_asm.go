//go:build (amd64 || arm64) && !purego

package cpu

// The elementwise primitives' wrappers: the assembly takes pointers and a
// count that is a multiple of its width, the wrappers check the slices
// and do the tails in Go, with the contract's arithmetic.

// swiGLUConsts are the assembly exponential's (swiGLU's and expSub's,
// every set): the clamp of its argument (so for g < −87, where silu(g)
// is below 1e−35, SwiGLU gives g/e^88 instead), then expf's constants:
// log2 e, ln 2 in two parts, 1, then Cephes' polynomial.
var swiGLUConsts = [12]float32{-87, 88, 1.44269504088896341, 0.693359375, -2.12194440e-4, 1,
	1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1}

//go:noescape
func noescapeF64(p *[512]float64) *[512]float64

func scaleMulAsm(asm func(out, x, w *float32, s float32, n int), width int) func(out, x, w []float32, s float32) {
	return func(out, x, w []float32, s float32) {
		n := len(x)
		out, w = out[:n], w[:n]
		m := n &^ (width - 1)
		if m > 0 {
			asm(&out[0], &x[0], &w[0], s, m)
		}
		for i := m; i < n; i++ {
			out[i] = x[i] * s * w[i]
		}
	}
}

// ropeAsm wraps a rope primitive that rotates the first m values of each
// head, m a multiple of width (even); the pairs left over are rotated in
// Go, each product converted explicitly so that the compiler does not
// fuse it into the addition (arm64 would).
func ropeAsm(asm func(x *float32, cs, sn *float64, m, stride, heads int), width int) func(x []float32, cs, sn []float64) {
	return func(x []float32, cs, sn []float64) {
		hd := len(cs)
		if hd == 0 {
			return
		}
		sn = sn[:hd]
		heads := len(x) / hd
		m := hd &^ (width - 1)
		if m > 0 && heads > 0 {
			asm(&x[0], &cs[0], &sn[0], m, 4*hd, heads)
		}
		for h := 0; h < heads*hd; h += hd {
			for j := m; j < hd; j += 2 {
				a, b := float64(x[h+j]), float64(x[h+j+1])
				x[h+j] = float32(float64(a*cs[j]) + float64(b*sn[j]))
				x[h+j+1] = float32(float64(b*cs[j+1]) + float64(a*sn[j+1]))
			}
		}
	}
}

// expSubAsm wraps an expSub primitive (the exponential's constants:
// swiGLUConsts); the values left over are added after its sum, with the
// Go expf.
func expSubAsm(asm func(s *float32, m float32, n int, c *[12]float32) float32, width int) func([]float32, float32) float32 {
	return func(s []float32, m float32) float32 {
		n := len(s)
		k := n &^ (width - 1)
		var sum float32
		if k > 0 {
			sum = asm(&s[0], m, k, &swiGLUConsts)
		}
		for i := k; i < n; i++ {
			p := expf(s[i] - m)
			s[i] = p
			sum += p
		}
		return sum
	}
}

func swiGLUAsm(asm func(gate, up *float32, n int, c *[12]float32), width int) func(gate, up []float32) {
	return func(gate, up []float32) {
		n := len(gate)
		up = up[:n]
		m := n &^ (width - 1)
		if m > 0 {
			asm(&gate[0], &up[0], m, &swiGLUConsts)
		}
		swiGLUFast(gate[m:], up[m:])
	}
}
