package detect

import (
	"reflect"
	"strings"
	"testing"
	"unsafe"
)

// fakeNVML is an NVML that answers from fields, for testing queryNVML on
// machines without an NVIDIA driver (all of ours). The purego binding of
// the real library is tested only on its failure paths
// (nvml_purego_test.go).
type fakeNVML struct {
	initRC    int32
	driver    string
	devs      []fakeNVMLDevice
	countRC   int32
	shutdowns int
}

type fakeNVMLDevice struct {
	name        string
	busID       string
	mem         nvmlMemory
	nameRC      int32
	memRC       int32
	handleRC    int32
	pciRC       int32
	nameTooLong bool
}

func (f *fakeNVML) lib(withPCI bool) *nvmlLib {
	l := &nvmlLib{
		init:     func() int32 { return f.initRC },
		shutdown: func() int32 { f.shutdowns++; return 0 },
		errorString: func(rc int32) string {
			return map[int32]string{3: "Not Supported", 9: "Driver Not Loaded", 15: "GPU is lost"}[rc]
		},
		driverVersion: func(b *byte, n uint32) int32 { return putCString(b, n, f.driver) },
		deviceCount: func(c *uint32) int32 {
			*c = uint32(len(f.devs))
			return f.countRC
		},
		handleByIndex: func(i uint32, h *uintptr) int32 {
			*h = uintptr(i) + 100
			return f.devs[i].handleRC
		},
		name: func(h uintptr, b *byte, n uint32) int32 {
			d := f.devs[h-100]
			if d.nameRC != 0 {
				return d.nameRC
			}
			return putCString(b, n, d.name)
		},
		memoryInfo: func(h uintptr, m *nvmlMemory) int32 {
			d := f.devs[h-100]
			*m = d.mem
			return d.memRC
		},
	}
	if withPCI {
		l.pciInfo = func(h uintptr, p *nvmlPCIInfo) int32 {
			d := f.devs[h-100]
			copy(p.BusID[:], d.busID)
			return d.pciRC
		}
	}
	return l
}

// putCString writes s and a NUL into the n-byte buffer at b, as NVML does.
func putCString(b *byte, n uint32, s string) int32 {
	buf := unsafe.Slice(b, n)
	if uint32(len(s)) >= n {
		return 7 // NVML_ERROR_INSUFFICIENT_SIZE
	}
	copy(buf, s)
	buf[len(s)] = 0
	return 0
}

func TestQueryNVML(t *testing.T) {
	f := &fakeNVML{driver: "550.54.15", devs: []fakeNVMLDevice{
		{name: "NVIDIA H100 80GB HBM3", busID: "00000000:01:00.0", mem: nvmlMemory{Total: 85520809984, Free: 84952350720, Used: 568459264}},
		{name: "NVIDIA H100 80GB HBM3", busID: "00000000:41:00.0", memRC: 15},
		{handleRC: 15},
	}}
	n, devs := queryNVML(f.lib(true))
	wantN := NVML{Available: true, DriverVersion: "550.54.15", DeviceCount: 3, Problems: []string{
		"device 1: nvmlDeviceGetMemoryInfo: GPU is lost (15)",
		"device 2: nvmlDeviceGetHandleByIndex_v2: GPU is lost (15)",
	}}
	if !reflect.DeepEqual(n, wantN) {
		t.Errorf("NVML = %+v\nwant %+v", n, wantN)
	}
	wantDevs := []nvmlDevice{
		{Index: 0, Name: "NVIDIA H100 80GB HBM3", BusID: "0000:01:00.0", MemoryTotal: 85520809984, MemoryFree: 84952350720},
		{Index: 1, Name: "NVIDIA H100 80GB HBM3", BusID: "0000:41:00.0"},
	}
	if !reflect.DeepEqual(devs, wantDevs) {
		t.Errorf("devices = %+v\nwant %+v", devs, wantDevs)
	}
	if f.shutdowns != 1 {
		t.Errorf("nvmlShutdown called %d times, want 1", f.shutdowns)
	}
}

func TestQueryNVMLInitFails(t *testing.T) {
	f := &fakeNVML{initRC: 9}
	n, devs := queryNVML(f.lib(true))
	if n.Available || devs != nil || f.shutdowns != 0 {
		t.Errorf("got %+v %+v, shutdowns %d", n, devs, f.shutdowns)
	}
	want := []string{"nvmlInit_v2: Driver Not Loaded (9): GPU memory and driver unknown"}
	if !reflect.DeepEqual(n.Problems, want) {
		t.Errorf("problems = %q, want %q", n.Problems, want)
	}
}

func TestQueryNVMLWithoutPCIInfo(t *testing.T) {
	f := &fakeNVML{driver: "470.1", devs: []fakeNVMLDevice{{name: "Tesla T4", mem: nvmlMemory{Total: 1 << 34}}}}
	n, devs := queryNVML(f.lib(false))
	if len(devs) != 1 || devs[0].BusID != "" || devs[0].Name != "Tesla T4" {
		t.Errorf("devices = %+v", devs)
	}
	if len(n.Problems) != 1 || !strings.Contains(n.Problems[0], "nvmlDeviceGetPciInfo missing") {
		t.Errorf("problems = %q", n.Problems)
	}
}

func TestQueryNVMLDriverVersionTooLong(t *testing.T) {
	f := &fakeNVML{driver: strings.Repeat("9", nvmlDriverVersionBufferSize)}
	n, _ := queryNVML(f.lib(true))
	if !n.Available || n.DriverVersion != "" || len(n.Problems) != 1 || !strings.Contains(n.Problems[0], "nvmlSystemGetDriverVersion: error 7") {
		t.Errorf("NVML = %+v", n)
	}
}

func TestNormalizeBusID(t *testing.T) {
	for in, want := range map[string]string{
		"00000000:01:00.0": "0000:01:00.0",
		"00000001:C1:00.0": "0001:c1:00.0",
		"0000:01:00.0":     "0000:01:00.0",
		"10000000:01:00.0": "10000000:01:00.0", // a domain that does not fit four digits stays
		"":                 "",
		"garbage":          "garbage",
	} {
		if got := normalizeBusID(in); got != want {
			t.Errorf("normalizeBusID(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMergeNVML(t *testing.T) {
	gpus := []GPU{
		{Vendor: "intel", PCIAddress: "0000:00:02.0", Sources: []string{"sysfs"}},
		{Vendor: "nvidia", VendorID: "0x10de", DeviceID: "0x2330", PCIAddress: "0000:01:00.0", Model: "GH100 [H100 SXM5 80GB]", Driver: "nvidia", DriverVersion: "550.54.15", Sources: []string{"sysfs", "pci.ids"}},
	}
	devs := []nvmlDevice{
		{Name: "NVIDIA H100 80GB HBM3", BusID: "0000:01:00.0", MemoryTotal: 80 << 30, MemoryFree: 79 << 30},
		{Name: "NVIDIA L4", BusID: "", MemoryTotal: 24 << 30},
	}
	got := mergeNVML(gpus, devs, "550.54.16")
	want := []GPU{
		gpus[0],
		{Vendor: "nvidia", VendorID: "0x10de", DeviceID: "0x2330", PCIAddress: "0000:01:00.0", Model: "NVIDIA H100 80GB HBM3", Driver: "nvidia", DriverVersion: "550.54.16",
			MemoryTotalBytes: 80 << 30, MemoryFreeBytes: 79 << 30, Sources: []string{"sysfs", "pci.ids", "nvml"}},
		{Vendor: "nvidia", VendorID: "0x10de", Model: "NVIDIA L4", DriverVersion: "550.54.16", MemoryTotalBytes: 24 << 30, Sources: []string{"nvml"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("mergeNVML:\n got %+v\nwant %+v", got, want)
	}
}

func TestNVMLPCIInfoLayout(t *testing.T) {
	// nvmlPciInfo_t in nvml.h: char[16], five unsigned ints, char[32].
	if s := unsafe.Sizeof(nvmlPCIInfo{}); s != 68 {
		t.Errorf("sizeof(nvmlPCIInfo) = %d, want 68", s)
	}
	if o := unsafe.Offsetof(nvmlPCIInfo{}.BusID); o != 36 {
		t.Errorf("offsetof(BusID) = %d, want 36", o)
	}
	if s := unsafe.Sizeof(nvmlMemory{}); s != 24 {
		t.Errorf("sizeof(nvmlMemory) = %d, want 24", s)
	}
}
