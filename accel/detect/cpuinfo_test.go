package detect

import (
	"os"
	"path/filepath"
	"testing"
)

func TestParseCPUInfo(t *testing.T) {
	cases := []struct {
		file     string
		want     cpuInfo
		wantPart bool
	}{
		{"x86_intel_2c4t.txt", cpuInfo{Model: "12th Gen Intel(R) Core(TM) i7-1265U", Vendor: "GenuineIntel", Logical: 4, Physical: 2}, false},
		{"x86_amd_epyc_vm.txt", cpuInfo{Model: "AMD EPYC", Vendor: "AuthenticAMD", Logical: 2, Physical: 2}, false},
		{"arm64_rpi4.txt", cpuInfo{Model: "ARM Cortex-A72", Vendor: "ARM", Logical: 4, Physical: 4}, true},
		{"arm64_jetson_orin.txt", cpuInfo{Model: "ARM Cortex-A78AE", Vendor: "ARM", Logical: 6, Physical: 6}, true},
		// An unknown part falls back to the board; here there is none, so no model.
		{"arm64_ampere_unknown_part.txt", cpuInfo{Model: "", Vendor: "Ampere", Logical: 2, Physical: 2}, false},
		{"armv7_rpi3.txt", cpuInfo{Model: "ARM Cortex-A53", Vendor: "ARM", Logical: 4, Physical: 4}, true},
		{"armv6_pizero.txt", cpuInfo{Model: "ARMv6-compatible processor rev 7 (v6l)", Vendor: "ARM", Logical: 1, Physical: 1}, false},
		{"armv7_old_kernel.txt", cpuInfo{Model: "ARMv7 Processor rev 10 (v7l)", Vendor: "ARM", Logical: 2, Physical: 2}, false},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", "cpuinfo", c.file))
			if err != nil {
				t.Fatal(err)
			}
			got, err := parseCPUInfo(data)
			if err != nil {
				t.Fatalf("parseCPUInfo: %v", err)
			}
			c.want.armPart = c.wantPart
			if got != c.want {
				t.Errorf("got  %+v\nwant %+v", got, c.want)
			}
		})
	}
}

func TestParseCPUInfoBoardFallback(t *testing.T) {
	data := []byte("processor\t: 0\nCPU implementer\t: 0x41\nCPU part\t: 0xfff\n\nHardware\t: BCM2835\nModel\t\t: Raspberry Pi 4 Model B Rev 1.4\n")
	got, err := parseCPUInfo(data)
	if err != nil {
		t.Fatal(err)
	}
	if got.Model != "Raspberry Pi 4 Model B Rev 1.4" {
		t.Errorf("Model = %q, want the board", got.Model)
	}
}

func TestParseCPUInfoErrors(t *testing.T) {
	for _, in := range []string{"", "\n\n", "garbage without colons\n", "processor : x\n", "model name : no processors\n"} {
		if got, err := parseCPUInfo([]byte(in)); err == nil {
			t.Errorf("parseCPUInfo(%q) = %+v, want an error", in, got)
		}
	}
}

func TestParseMemInfo(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want memInfo
	}{
		{"modern", "MemTotal:       24684096 kB\nMemFree:        23535040 kB\nMemAvailable:   24277600 kB\nBuffers:           13352 kB\nCached:           878580 kB\nHugePages_Total:       0\n",
			memInfo{TotalBytes: 24684096 * 1024, AvailableBytes: 24277600 * 1024, HasAvailable: true}},
		{"no MemAvailable (old kernel)", "MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 20 kB\nCached: 300 kB\n",
			memInfo{TotalBytes: 1000 * 1024, AvailableBytes: 420 * 1024}},
		{"available clamped to total", "MemTotal: 1000 kB\nMemAvailable: 2000 kB\n",
			memInfo{TotalBytes: 1000 * 1024, AvailableBytes: 1000 * 1024, HasAvailable: true}},
		{"no trailing newline, odd spacing", "MemAvailable:5 kB\n  MemTotal :\t10 kB",
			memInfo{TotalBytes: 10 * 1024, AvailableBytes: 5 * 1024, HasAvailable: true}},
		{"unknown lines skipped", "garbage\nFoo: bar baz qux\nMemTotal: 8 kB\n",
			memInfo{TotalBytes: 8 * 1024, AvailableBytes: 0}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := parseMemInfo([]byte(c.in))
			if err != nil {
				t.Fatalf("parseMemInfo: %v", err)
			}
			if got != c.want {
				t.Errorf("got %+v, want %+v", got, c.want)
			}
		})
	}
}

func TestParseMemInfoErrors(t *testing.T) {
	for _, in := range []string{
		"",
		"MemFree: 10 kB\n",                  // no MemTotal
		"MemTotal: ten kB\n",                // not a number
		"MemTotal: 10 MB\n",                 // unknown unit
		"MemTotal: 10 kB extra\n",           // too many fields
		"MemTotal: 18446744073709551615 kB", // overflows bytes
		"MemTotal: -1 kB\n",
	} {
		if got, err := parseMemInfo([]byte(in)); err == nil {
			t.Errorf("parseMemInfo(%q) = %+v, want an error", in, got)
		}
	}
}
