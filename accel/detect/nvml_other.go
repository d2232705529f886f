//go:build !(linux && (amd64 || arm64)) || nonvml

package detect

import "runtime"

// loadAndQueryNVML reports that NVML is not built in: NVIDIA ships it for
// linux/amd64 and linux/arm64 only, and the nonvml build tag leaves it out
// there too (see nvml_purego.go).
func loadAndQueryNVML(string) (NVML, []nvmlDevice) {
	why := "NVML not supported on this architecture (" + runtime.GOOS + "/" + runtime.GOARCH + ")"
	if runtime.GOOS == "linux" && (runtime.GOARCH == "amd64" || runtime.GOARCH == "arm64") {
		why = "NVML not built in (built with -tags nonvml)"
	}
	return NVML{Problems: []string{why + ": GPU memory and driver unknown"}}, nil
}
