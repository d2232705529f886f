//go:build !purego

package cpu

//go:noescape
func dotF16NEON(w *byte, x *float32, n int) float32

//go:noescape
func dotF16R4NEON(w *byte, rb int, x *float32, n int, out *[4]float32)

//go:noescape
func f16Tile4x4NEON(w *byte, rb int, x *float32, xStride, n int, out *float32, outStride int)

// f16NEON sets the NEON F16 matmul shapes in ops: one arithmetic in 4
// lanes over eight columns a step (f16mm_arm64.s), the tile four rows by
// four tokens (sixteen chains, eight widened weight vectors and eight of
// activations fill the 32 V registers).
func f16NEON(ops *simdOps) {
	ops.setF16Shapes(dotF16NEON, dotF16R4NEON, f16Tile4x4NEON, 4, 4, 8)
}
