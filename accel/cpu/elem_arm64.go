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

// elemNEON sets the NEON elementwise kernels and SwiGLU in ops: four
// float32 lanes (two float64 per register for RoPE), the exponential the
// AVX2 one's arithmetic.
func elemNEON(ops *simdOps) {
	ops.scaleMul = scaleMulAsm(scaleMulNEON, 4)
	ops.rope = ropeAsm(ropeNEON, 4)
	ops.expSub = expSubAsm(expSubNEON, 4)
	ops.swiGLU = swiGLUAsm(swiGLUNEON, 4)
}
