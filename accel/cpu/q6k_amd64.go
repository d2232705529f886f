//go:build !purego

package cpu

//go:noescape
func dotQ6KAVX2(w *byte, x *float32, nb int) float32

//go:noescape
func dotQ6Kx4AVX2(w *byte, x *float32, stride, nb int, out *float32, outStride int)

//go:noescape
func dotQ6KQ8KAVX2(w *byte, xq *int8, xd *float32, nb int) float32

//go:noescape
func dotQ6KQ8Kx4AVX2(w *byte, xq *int8, xd *float32, nb int, out *float32, outStride int)

// q6kAVX2 sets the AVX2 Q6_K dots in ops, the float32 ones and the int8
// ones (its fastest: Best's).
func q6kAVX2(ops *simdOps) {
	ops.dotQ6K = dotQ6KAsm(dotQ6KAVX2)
	ops.dotQ6Kx4 = dotQ6Kx4Asm(dotQ6Kx4AVX2)
	ops.dotQ6KQ8K = q8kDotAsm(dotQ6KQ8KAVX2, q6kBytes)
	ops.dotQ6KQ8Kx4 = q8kDotxAsm(dotQ6KQ8Kx4AVX2, q6kBytes, 4)
	ops.q6kInt8 = true
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
