//go:build linux && (amd64 || arm64) && !nonvml

package detect

// NVML is loaded with purego, not cgo, so CGO_ENABLED=0 builds keep it.
// The price: purego makes the binary dynamically linked (it needs the
// system's ELF interpreter, /lib64/ld-linux-x86-64.so.2 or
// /lib/ld-linux-aarch64.so.1, to reach dlopen), even with CGO_ENABLED=0.
// Such a binary does not start on a system without glibc's loader (Alpine,
// a scratch container). Build with -tags nonvml for a static binary that
// reports NVML as not built in.
//
// Only the failure paths of this file run in the tests here (no NVIDIA
// driver on the development machines and CI): a missing library, and a
// library without NVML's symbols. What it does once bound is queryNVML,
// tested with fakes in nvml_test.go.

import (
	"fmt"
	"strings"

	"github.com/ebitengine/purego"
)

// loadAndQueryNVML dlopens the NVML library, binds the calls queryNVML
// makes, runs it and closes the library. It never panics.
func loadAndQueryNVML(path string) (n NVML, devs []nvmlDevice) {
	defer func() {
		if v := recover(); v != nil {
			n, devs = NVML{Problems: []string{fmt.Sprintf("NVML call panicked (%v): GPU memory and driver unknown", v)}}, nil
		}
	}()
	lib, err := purego.Dlopen(path, purego.RTLD_NOW|purego.RTLD_LOCAL)
	if err != nil {
		why := err.Error()
		if strings.Contains(why, "No such file") || strings.Contains(why, "cannot open shared object") {
			why = path + " not found"
		}
		return NVML{Problems: []string{"NVML not available (" + why + "): GPU memory and driver unknown"}}, nil
	}
	defer purego.Dlclose(lib)

	var l nvmlLib
	required := []struct {
		fn   any
		name string
	}{
		{&l.init, "nvmlInit_v2"},
		{&l.shutdown, "nvmlShutdown"},
		{&l.driverVersion, "nvmlSystemGetDriverVersion"},
		{&l.deviceCount, "nvmlDeviceGetCount_v2"},
		{&l.handleByIndex, "nvmlDeviceGetHandleByIndex_v2"},
		{&l.name, "nvmlDeviceGetName"},
		{&l.memoryInfo, "nvmlDeviceGetMemoryInfo"},
	}
	for _, s := range required {
		if err := bind(lib, s.fn, s.name); err != nil {
			return NVML{Problems: []string{fmt.Sprintf("NVML not usable (%s in %s): GPU memory and driver unknown", short(err), path)}}, nil
		}
	}
	if bind(lib, &l.errorString, "nvmlErrorString") != nil {
		l.errorString = nil
	}
	if bind(lib, &l.pciInfo, "nvmlDeviceGetPciInfo_v3") != nil && bind(lib, &l.pciInfo, "nvmlDeviceGetPciInfo_v2") != nil {
		l.pciInfo = nil
	}
	return queryNVML(&l)
}

// bind points fn, a pointer to a func variable, at symbol name in lib.
func bind(lib uintptr, fn any, name string) error {
	sym, err := purego.Dlsym(lib, name)
	if err != nil || sym == 0 {
		return fmt.Errorf("no symbol %s", name)
	}
	purego.RegisterFunc(fn, sym)
	return nil
}
