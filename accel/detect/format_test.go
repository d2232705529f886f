package detect

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// goldenReport is a workstation with an NVIDIA card that NVML described, an
// Intel iGPU and an AMD card pci.ids did not name.
func goldenReport() Report {
	r := Report{
		CPU: CPU{Model: "12th Gen Intel(R) Core(TM) i7-1265U", Vendor: "GenuineIntel", Arch: "amd64",
			PhysicalCores: 10, LogicalThreads: 12, UsableThreads: 12,
			Features: []string{"avx", "avx2", "avx_vnni", "f16c", "fma", "sse2", "sse3", "sse4_1", "sse4_2", "ssse3"}, Source: "ghw"},
		Memory: Memory{TotalBytes: 16303412 * 1024, AvailableBytes: 12000000 * 1024, PhysicalBytes: 16 << 30},
		GPU: GPUs{Devices: []GPU{
			{Vendor: "intel", VendorID: "0x8086", DeviceID: "0xa780", PCIAddress: "0000:00:02.0", Class: "0x030000",
				Model: "Raptor Lake-S GT1 [UHD Graphics 770]", Integrated: true, Driver: "i915", Sources: []string{"sysfs", "pci.ids"}},
			{Vendor: "nvidia", VendorID: "0x10de", DeviceID: "0x2330", PCIAddress: "0000:01:00.0", Class: "0x030200",
				Model: "NVIDIA H100 80GB HBM3", Driver: "nvidia", DriverVersion: "550.54.15",
				MemoryTotalBytes: 85520809984, MemoryFreeBytes: 84952350720, Sources: []string{"sysfs", "pci.ids", "nvml"}},
			{Vendor: "amd", VendorID: "0x1002", DeviceID: "0x744c", PCIAddress: "0000:03:00.0", Class: "0x030000",
				Driver: "amdgpu", MemoryTotalBytes: 25753026560, MemoryFreeBytes: 24704450560, Sources: []string{"sysfs"}},
			{Vendor: "nvidia", VendorID: "0x10de", DeviceID: "0x2684", PCIAddress: "0000:04:00.0", Class: "0x030000", Sources: []string{"sysfs"}},
		}, Problems: []string{
			"0000:04:00.0 (nvidia): no kernel driver bound",
			"0000:03:00.0 amd device 0x744c: model name unknown (not in the pci.ids database)",
		}},
		NVML: NVML{Available: true, DriverVersion: "550.54.15", DeviceCount: 1},
	}
	r.Plan = PlanFor(r, tinyLlama)
	return r
}

func TestFormatGolden(t *testing.T) {
	cases := map[string]Report{
		"format_workstation.golden": goldenReport(),
		"format_empty.golden":       {CPU: CPU{Arch: "arm"}, GPU: GPUs{Devices: []GPU{}}, Plan: PlanFor(Report{}, ModelShape{})},
	}
	for name, r := range cases {
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			if err := r.Format(&out); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", name)
			if *update {
				if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(out.Bytes(), want) {
				t.Errorf("Format output differs from %s (go test -update rewrites it):\n got:\n%s\nwant:\n%s", path, out.Bytes(), want)
			}
		})
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestFormatReturnsWriteError(t *testing.T) {
	if err := goldenReport().Format(failingWriter{}); err == nil || err.Error() != "disk full" {
		t.Errorf("Format = %v, want the writer's error", err)
	}
}

func TestHumanBytes(t *testing.T) {
	for n, want := range map[uint64]string{
		0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB", 256 << 20: "256.0 MiB",
		16 << 30: "16.0 GiB", 1 << 60: "1.0 EiB", ^uint64(0): "16.0 EiB",
	} {
		if got := humanBytes(n); got != want {
			t.Errorf("humanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}
