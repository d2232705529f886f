//go:build (!amd64 && !arm64) || purego

package cpu

// archSets returns the assembly sets this CPU runs: archOps' only one,
// if any (amd64 and arm64 have their own).
func archSets() []simdOps {
	if ops, ok := archOps(); ok {
		return []simdOps{ops}
	}
	return nil
}
