//go:build !purego

package cpu

//go:noescape
func scaleMulNEON(out, x, w *float32, s float32, n int)

//go:noescape
func ropeNEON(x *float32, cs, sn *float64, m, stride, heads int)

//go:noescape
func expSubNEON(s *float32, m float32, n int, c *[12]float32) float32

//go:noescape
func swiGLUNEON(gate, up *float32, n int, c *[12]float32)

// swiGLUConsts are the NEON exponential's constants, laid out as amd64's
// (simd_amd64.go): the clamp of the argument, log2 e, ln 2 in two parts,
// 1, then Cephes' polynomial.
var swiGLUConsts = [12]float32{-87, 88, 1.44269504088896341, 0.693359375, -2.12194440e-4, 1,
	1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1}

// elemNEON sets the NEON elementwise kernels and SwiGLU in ops: four
// float32 lanes (two float64 per register for RoPE), the exponential the
// AVX2 one's arithmetic.
func elemNEON(ops *simdOps) {
	ops.scaleMul = scaleMulAsm(scaleMulNEON, 4)
	ops.rope = ropeAsm(ropeNEON, 4)
	ops.expSub = expSubAsm(expSubNEON, 4)
	ops.swiGLU = swiGLUAsm(swiGLUNEON, 4)
}
