//go:build !purego

package cpu

// q6kAVX2 sets the AVX2 Q6_K dots in ops.
func q6kAVX2(ops *simdOps) {}

// q6kAVX512 sets the AVX-512 Q6_K dots in ops.
func q6kAVX512(ops *simdOps) {}
