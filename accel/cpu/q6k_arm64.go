//go:build !purego

package cpu

// q6kNEON sets the NEON Q6_K dots in ops.
func q6kNEON(ops *simdOps) {}
