//go:build !purego

package cpu

//go:noescape
func dotF16AVX2(w *byte, x *float32, n int) float32

//go:noescape
func dotF16R4AVX2(w *byte, rb int, x *float32, n int, out *[4]float32)

//go:noescape
func f16Tile2x4AVX2(w *byte, rb int, x *float32, xStride, n int, out *float32, outStride int)

//go:noescape
func dotF16AVX512(w *byte, x *float32, n int) float32

//go:noescape
func dotF16R4AVX512(w *byte, rb int, x *float32, n int, out *[4]float32)

//go:noescape
func f16Tile4x4AVX512(w *byte, rb int, x *float32, xStride, n int, out *float32, outStride int)

// f16AVX2 sets the AVX2 F16 matmul shapes (dotF16, dotF16R4, f16Tile)
// in ops: one arithmetic in 8 lanes (f16mm_amd64.s), the tile two rows
// by four tokens (eight chains, two widened weight vectors and two of
// activations in the 16 Y registers).
func f16AVX2(ops *simdOps) {
	ops.setF16Shapes(dotF16AVX2, dotF16R4AVX2, f16Tile2x4AVX2, 2, 4, 8)
}

// f16AVX512 sets the AVX-512 F16 matmul shapes in ops: AVX2's
// arithmetic in 16 lanes, the tile four rows by four tokens (sixteen
// chains, four widened weight vectors and four of activations: 24 of
// the 32 Z registers). All three replace AVX2's together, whose bits
// differ.
func f16AVX512(ops *simdOps) {
	ops.setF16Shapes(dotF16AVX512, dotF16R4AVX512, f16Tile4x4AVX512, 4, 4, 16)
}
