//go:build !purego

package cpu

//go:noescape
func dotQ8F32NEON(w *byte, x *float32, nb int) float32

//go:noescape
func dotQ8F32x4NEON(w *byte, x *float32, stride int, nb int, out *float32, outStride int)

//go:noescape
func dotQ4KNEON(w *byte, x, xs *float32, nb int) float32

//go:noescape
func dotQ4Kx4NEON(w *byte, x, xs *float32, stride, xsStride, nb int, out *float32, outStride int)

//go:noescape
func dotF32NEON(a, b *float32, n int) float32

//go:noescape
func dotF16NEON(w *uint16, x *float32, n int) float32

//go:noescape
func axpyNEON(y *float32, a float32, x *float32, n int)

// archOps returns the NEON primitives (every arm64 CPU has Advanced
// SIMD). The int8 × int8 dot (quantized activations) is the portable Go
// one: the kernels Best chooses do not use it.
func archOps() (simdOps, bool) {
	ops := portableOps
	ops.name = "neon"
	ops.dotQ8F32 = dotQ8F32Asm(dotQ8F32NEON)
	ops.dotQ8F32x4 = dotQ8F32x4Asm(dotQ8F32x4NEON)
	ops.dotQ4K = dotQ4KAsm(dotQ4KNEON)
	ops.dotQ4Kx4 = dotQ4Kx4Asm(dotQ4Kx4NEON)
	ops.dotF32 = dotF32Asm(dotF32NEON, 16)
	ops.dotF16 = dotF16Asm(dotF16NEON, 16)
	ops.axpy = axpyAsm(axpyNEON, 4)
	return ops, true
}
