//go:build !purego

package cpu

// f16AVX2 sets the AVX2 F16 matmul shapes (dotF16, dotF16R4, f16Tile)
// in ops.
func f16AVX2(ops *simdOps) {}

// f16AVX512 sets the AVX-512 F16 matmul shapes in ops.
func f16AVX512(ops *simdOps) {}
