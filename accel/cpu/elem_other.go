//go:build (!amd64 && !arm64) || purego

package cpu

// noescapeF64 is p: without assembly no set has a rope primitive, so
// ropeFast never hands its tables to one.
func noescapeF64(p *[512]float64) *[512]float64 { return p }
