//go:build !purego

package cpu

// elemNEON sets the NEON elementwise kernels and SwiGLU in ops.
func elemNEON(ops *simdOps) {}
