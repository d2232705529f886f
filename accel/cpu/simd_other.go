//go:build (!amd64 && !arm64) || purego

package cpu

// archOps reports that this build has no SIMD primitives: Best returns
// the scalar kernels.
func archOps() (simdOps, bool) { return simdOps{}, false }
