//go:build !purego

package cpu

//go:noescape
func dotQ6KNEON(w *byte, x *float32, nb int) float32

//go:noescape
func dotQ6Kx4NEON(w *byte, x *float32, stride, nb int, out *float32, outStride int)

// q6kNEON sets the NEON Q6_K dots in ops.
func q6kNEON(ops *simdOps) {
	ops.dotQ6K = dotQ6KAsm(dotQ6KNEON)
	ops.dotQ6Kx4 = dotQ6Kx4Asm(dotQ6Kx4NEON)
}
