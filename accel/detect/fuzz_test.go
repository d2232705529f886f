package detect

import (
	"os"
	"path/filepath"
	"testing"
)

// The /proc parsers are decoders of files another program writes: they must
// never panic, and what they return must be self-consistent.

func FuzzParseCPUInfo(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "cpuinfo", "*.txt"))
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("processor : 0\ncore id : 0\nphysical id : 0\n\nprocessor : 1\ncore id : 0\nphysical id : 1\n"))
	f.Add([]byte("core id : 3\nprocessor : 0\n"))
	f.Add([]byte("CPU implementer : 0x41\nCPU part : 0xd08\nprocessor : 0"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ci, err := parseCPUInfo(data)
		if err != nil {
			if ci != (cpuInfo{}) {
				t.Fatalf("error %v with a non-zero result %+v", err, ci)
			}
			return
		}
		if ci.Logical < 1 || ci.Physical < 1 || ci.Physical > ci.Logical {
			t.Fatalf("inconsistent counts: %+v", ci)
		}
	})
}

func FuzzParseMemInfo(f *testing.F) {
	f.Add([]byte("MemTotal:       24684096 kB\nMemFree:        23535040 kB\nMemAvailable:   24277600 kB\nBuffers:           13352 kB\nCached:           878580 kB\n"))
	f.Add([]byte("MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 20 kB\nCached: 300 kB\n"))
	f.Add([]byte("MemTotal: 18014398509481983 kB\nMemFree: 18014398509481983 kB\nCached: 18014398509481983 kB\n"))
	f.Add([]byte("MemTotal:5\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		mi, err := parseMemInfo(data)
		if err != nil {
			if mi != (memInfo{}) {
				t.Fatalf("error %v with a non-zero result %+v", err, mi)
			}
			return
		}
		if mi.AvailableBytes > mi.TotalBytes {
			t.Fatalf("available %d > total %d", mi.AvailableBytes, mi.TotalBytes)
		}
	})
}
