//go:build !amd64 || purego

package cpu

// archSets returns the assembly sets this CPU runs: archOps' only one,
// if any (AVX-512 is amd64's alone).
func archSets() []simdOps {
	if ops, ok := archOps(); ok {
		return []simdOps{ops}
	}
	return nil
}
