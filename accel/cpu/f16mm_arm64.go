//go:build !purego

package cpu

// f16NEON sets the NEON F16 matmul shapes in ops.
func f16NEON(ops *simdOps) {}
