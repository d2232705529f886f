//go:build !purego

package cpu

// elemAVX2 sets the AVX2 elementwise kernels (scaleMul, rope, expSub) in
// ops. Filled by the elementwise kernels' change.
func elemAVX2(ops *simdOps) {}

// elemAVX512 sets the AVX-512 elementwise kernels and SwiGLU in ops.
func elemAVX512(ops *simdOps) {}
