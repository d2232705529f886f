//go:build linux && (amd64 || arm64) && !nonvml

package detect

import (
	"path/filepath"
	"strings"
	"testing"
)

// The success path of loadAndQueryNVML needs an NVIDIA driver, which the
// development machines and CI lack; queryNVML's logic is tested with fakes
// in nvml_test.go. These tests cover the loader's failure paths.

func TestLoadNVMLMissingLibrary(t *testing.T) {
	n, devs := loadAndQueryNVML("libnvidia-ml-outpost-test-missing.so.1")
	want := "NVML not available (libnvidia-ml-outpost-test-missing.so.1 not found): GPU memory and driver unknown"
	if n.Available || devs != nil || len(n.Problems) != 1 || n.Problems[0] != want {
		t.Errorf("got %+v %+v; want the problem %q", n, devs, want)
	}
	n, _ = loadAndQueryNVML(filepath.Join(t.TempDir(), "libnvidia-ml.so.1"))
	if len(n.Problems) != 1 || !strings.Contains(n.Problems[0], "not found") {
		t.Errorf("absolute path: problems = %q", n.Problems)
	}
}

func TestLoadNVMLNotALibrary(t *testing.T) {
	p := filepath.Join(t.TempDir(), "libnvidia-ml.so.1")
	write(t, p, "not an ELF file")
	n, _ := loadAndQueryNVML(p)
	if n.Available || len(n.Problems) != 1 || !strings.HasPrefix(n.Problems[0], "NVML not available (") {
		t.Errorf("problems = %q", n.Problems)
	}
}

func TestLoadNVMLWrongLibrary(t *testing.T) {
	// libm is on every glibc system and has no NVML symbols.
	n, _ := loadAndQueryNVML("libm.so.6")
	if len(n.Problems) == 1 && strings.Contains(n.Problems[0], "not found") {
		t.Skip("libm.so.6 not loadable here")
	}
	want := "NVML not usable (no symbol nvmlInit_v2 in libm.so.6): GPU memory and driver unknown"
	if n.Available || len(n.Problems) != 1 || n.Problems[0] != want {
		t.Errorf("problems = %q, want %q", n.Problems, want)
	}
}
