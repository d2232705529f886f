package detect

import (
	"bytes"
	"fmt"
	"strings"
)

// nvmlLib is the handful of NVML entry points Detect calls, as Go
// functions. nvml_purego.go binds them to libnvidia-ml.so.1; tests bind
// them to fakes, which is how queryNVML is tested on machines without an
// NVIDIA driver. Signatures follow nvml.h: every call returns an
// nvmlReturn_t (0 is NVML_SUCCESS) and nvmlDevice_t is an opaque pointer.
type nvmlLib struct {
	init          func() int32                       // nvmlInit_v2
	shutdown      func() int32                       // nvmlShutdown
	errorString   func(int32) string                 // nvmlErrorString; may be nil
	driverVersion func(*byte, uint32) int32          // nvmlSystemGetDriverVersion
	deviceCount   func(*uint32) int32                // nvmlDeviceGetCount_v2
	handleByIndex func(uint32, *uintptr) int32       // nvmlDeviceGetHandleByIndex_v2
	name          func(uintptr, *byte, uint32) int32 // nvmlDeviceGetName
	memoryInfo    func(uintptr, *nvmlMemory) int32   // nvmlDeviceGetMemoryInfo
	pciInfo       func(uintptr, *nvmlPCIInfo) int32  // nvmlDeviceGetPciInfo_v3 (or _v2); may be nil
}

// nvmlMemory is nvmlMemory_t: bytes of device memory.
type nvmlMemory struct {
	Total, Free, Used uint64
}

// nvmlPCIInfo is nvmlPciInfo_t (68 bytes, 4-byte aligned).
type nvmlPCIInfo struct {
	BusIDLegacy    [16]byte // "0000:01:00.0"
	Domain         uint32
	Bus            uint32
	Device         uint32
	PCIDeviceID    uint32 // device id << 16 | vendor id
	PCISubSystemID uint32
	BusID          [32]byte // "00000000:01:00.0"
}

// Buffer sizes from nvml.h.
const (
	nvmlDriverVersionBufferSize = 80 // NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE
	nvmlDeviceNameBufferSize    = 96 // NVML_DEVICE_NAME_V2_BUFFER_SIZE
)

// nvmlDevice is what NVML says about one device.
type nvmlDevice struct {
	Index       int
	Name        string
	BusID       string // normalised to sysfs form, "0000:01:00.0"; empty if unknown
	MemoryTotal uint64
	MemoryFree  uint64
}

// queryNVML initialises NVML, reads the driver version and each device, and
// shuts NVML down. A failing call becomes a problem; only a failed init
// stops the query.
func queryNVML(lib *nvmlLib) (NVML, []nvmlDevice) {
	var n NVML
	errStr := func(call string, rc int32) string {
		s := fmt.Sprintf("error %d", rc)
		if lib.errorString != nil {
			if t := lib.errorString(rc); t != "" {
				s = fmt.Sprintf("%s (%d)", t, rc)
			}
		}
		return call + ": " + s
	}
	if rc := lib.init(); rc != 0 {
		n.Problems = append(n.Problems, errStr("nvmlInit_v2", rc)+": GPU memory and driver unknown")
		return n, nil
	}
	defer lib.shutdown()
	n.Available = true

	buf := make([]byte, nvmlDriverVersionBufferSize)
	if rc := lib.driverVersion(&buf[0], uint32(len(buf))); rc == 0 {
		n.DriverVersion = cString(buf)
	} else {
		n.Problems = append(n.Problems, errStr("nvmlSystemGetDriverVersion", rc))
	}

	var count uint32
	if rc := lib.deviceCount(&count); rc != 0 {
		n.Problems = append(n.Problems, errStr("nvmlDeviceGetCount_v2", rc))
		return n, nil
	}
	n.DeviceCount = int(count)
	if lib.pciInfo == nil && count > 0 {
		n.Problems = append(n.Problems, "nvmlDeviceGetPciInfo missing: NVML devices not matched to PCI devices")
	}

	var devs []nvmlDevice
	for i := uint32(0); i < count; i++ {
		var h uintptr
		if rc := lib.handleByIndex(i, &h); rc != 0 {
			n.Problems = append(n.Problems, fmt.Sprintf("device %d: %s", i, errStr("nvmlDeviceGetHandleByIndex_v2", rc)))
			continue
		}
		d := nvmlDevice{Index: int(i)}
		name := make([]byte, nvmlDeviceNameBufferSize)
		if rc := lib.name(h, &name[0], uint32(len(name))); rc == 0 {
			d.Name = cString(name)
		} else {
			n.Problems = append(n.Problems, fmt.Sprintf("device %d: %s", i, errStr("nvmlDeviceGetName", rc)))
		}
		var mem nvmlMemory
		if rc := lib.memoryInfo(h, &mem); rc == 0 {
			d.MemoryTotal, d.MemoryFree = mem.Total, mem.Free
		} else {
			n.Problems = append(n.Problems, fmt.Sprintf("device %d: %s", i, errStr("nvmlDeviceGetMemoryInfo", rc)))
		}
		if lib.pciInfo != nil {
			var pci nvmlPCIInfo
			if rc := lib.pciInfo(h, &pci); rc == 0 {
				d.BusID = normalizeBusID(cString(pci.BusID[:]))
			} else {
				n.Problems = append(n.Problems, fmt.Sprintf("device %d: %s", i, errStr("nvmlDeviceGetPciInfo", rc)))
			}
		}
		devs = append(devs, d)
	}
	return n, devs
}

// normalizeBusID turns NVML's "00000000:01:00.0" into sysfs's
// "0000:01:00.0": lower case, a four-digit domain.
func normalizeBusID(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	dom, rest, ok := strings.Cut(s, ":")
	if !ok || strings.Count(rest, ":") != 1 {
		return s
	}
	if len(dom) > 4 && strings.Trim(dom[:len(dom)-4], "0") == "" {
		dom = dom[len(dom)-4:]
	}
	return dom + ":" + rest
}

// mergeNVML adds what NVML knows to the GPU list: devices whose PCI address
// matches get NVML's name, memory and driver version; the rest are
// appended.
func mergeNVML(gpus []GPU, devs []nvmlDevice, driverVersion string) []GPU {
	for _, d := range devs {
		i := -1
		if d.BusID != "" {
			for j := range gpus {
				if strings.EqualFold(gpus[j].PCIAddress, d.BusID) {
					i = j
					break
				}
			}
		}
		if i < 0 {
			gpus = append(gpus, GPU{Vendor: "nvidia", VendorID: "0x10de", PCIAddress: d.BusID})
			i = len(gpus) - 1
		}
		g := &gpus[i]
		if d.Name != "" {
			g.Model = d.Name
		}
		g.MemoryTotalBytes, g.MemoryFreeBytes = d.MemoryTotal, d.MemoryFree
		if driverVersion != "" {
			g.DriverVersion = driverVersion
		}
		g.Sources = append(g.Sources, "nvml")
	}
	return gpus
}

// cString returns the bytes of b before the first NUL.
func cString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}
