//go:build !purego

package cpu

//go:noescape
func dotQ6KAVX2(w *byte, x *float32, nb int) float32

//go:noescape
func dotQ6Kx4AVX2(w *byte, x *float32, stride, nb int, out *float32, outStride int)

// q6kAVX2 sets the AVX2 Q6_K dots in ops.
func q6kAVX2(ops *simdOps) {
	ops.dotQ6K = dotQ6KAsm(dotQ6KAVX2)
	ops.dotQ6Kx4 = dotQ6Kx4Asm(dotQ6Kx4AVX2)
}

//go:noescape
func dotQ6KAVX512(w *byte, x *float32, nb int) float32

//go:noescape
func dotQ6Kx4AVX512(w *byte, x *float32, stride, nb int, out *float32, outStride int)

// q6kAVX512 sets the AVX-512 Q6_K dots in ops (the pair replaces AVX2's
// together: a (row, token) result must not depend on which of the two
// the batch picked).
func q6kAVX512(ops *simdOps) {
	ops.dotQ6K = dotQ6KAsm(dotQ6KAVX512)
	ops.dotQ6Kx4 = dotQ6Kx4Asm(dotQ6Kx4AVX512)
}
