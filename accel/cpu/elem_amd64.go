//go:build !purego

package cpu

//go:noescape
func scaleMulAVX2(out, x, w *float32, s float32, n int)

//go:noescape
func ropeAVX2(x *float32, cs, sn *float64, m, stride, heads int)

//go:noescape
func expSubAVX2(s *float32, m float32, n int, c *[12]float32) float32

//go:noescape
func scaleMulAVX512(out, x, w *float32, s float32, n int)

//go:noescape
func ropeAVX512(x *float32, cs, sn *float64, m, stride, heads int)

//go:noescape
func expSubAVX512(s *float32, m float32, n int, c *[12]float32) float32

//go:noescape
func swiGLUAVX512(gate, up *float32, n int, c *[12]float32)

// elemAVX2 sets the AVX2 elementwise kernels (scaleMul, rope, expSub) in
// ops: eight float32 lanes (four float64 for RoPE), the exponential's
// arithmetic swiGLUAVX2's.
func elemAVX2(ops *simdOps) {
	ops.scaleMul = scaleMulAsm(scaleMulAVX2, 8)
	ops.rope = ropeAsm(ropeAVX2, 4)
	ops.expSub = expSubAsm(expSubAVX2, 8)
}

// elemAVX512 sets the AVX-512 elementwise kernels and SwiGLU in ops: the
// AVX2 ones in 16 lanes (eight float64 for RoPE).
func elemAVX512(ops *simdOps) {
	ops.scaleMul = scaleMulAsm(scaleMulAVX512, 16)
	ops.rope = ropeAsm(ropeAVX512, 8)
	ops.expSub = expSubAsm(expSubAVX512, 16)
	ops.swiGLU = swiGLUAsm(swiGLUAVX512, 16)
}
