package detect

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"

	"github.com/jaypipes/ghw"
)

// Options tune Detect. The zero value detects this machine.
type Options struct {
	// SysRoot is where sysfs is mounted. Default "/sys". Tests point it at
	// a fake tree; a container may point it at the host's.
	SysRoot string
	// ProcRoot is where procfs is mounted. Default "/proc".
	ProcRoot string
	// SkipNVML leaves the NVIDIA driver library unloaded. Default false.
	SkipNVML bool
	// NVMLLibrary is the file name or path of the NVML library to load.
	// Default "libnvidia-ml.so.1", found by the dynamic loader's search.
	NVMLLibrary string
	// SkipGHW uses only this package's own parsers, not
	// github.com/jaypipes/ghw. Default false.
	SkipGHW bool
	// PCIIDs is the path of a pci.ids database (plain or .gz) used to name
	// GPUs. Default: the usual places (/usr/share/hwdata, /usr/share/misc,
	// ~/.cache/pci.ids, or $PCIDB_PATH); the network is never used.
	PCIIDs string
	// Model is the model the plan is made for. The zero value means no
	// model is loaded: the plan then has no KV-cache budget.
	Model ModelShape
}

func (o Options) withDefaults() Options {
	if o.SysRoot == "" {
		o.SysRoot = "/sys"
	}
	if o.ProcRoot == "" {
		o.ProcRoot = "/proc"
	}
	if o.NVMLLibrary == "" {
		o.NVMLLibrary = "libnvidia-ml.so.1"
	}
	return o
}

// Report is what Detect found. Each part carries its own Problems: short
// sentences saying what it could not see and why.
type Report struct {
	CPU    CPU    `json:"cpu"`
	Memory Memory `json:"memory"`
	GPU    GPUs   `json:"gpu"`
	NVML   NVML   `json:"nvml"`
	// Plan is PlanFor(report, Options.Model), computed last.
	Plan Plan `json:"plan"`
}

// CPU describes the processors this process runs on.
type CPU struct {
	// Model is the processor's marketing name ("AMD EPYC 7763 64-Core
	// Processor", "ARM Cortex-A72"); empty if unknown.
	Model string `json:"model,omitempty"`
	// Vendor is the vendor ("GenuineIntel", "AuthenticAMD", "ARM").
	Vendor string `json:"vendor,omitempty"`
	// Arch is runtime.GOARCH ("amd64", "arm64", "arm").
	Arch string `json:"arch"`
	// PhysicalCores counts cores, not hardware threads; 0 if unknown.
	PhysicalCores int `json:"physical_cores"`
	// LogicalThreads counts hardware threads (what the OS calls CPUs).
	LogicalThreads int `json:"logical_threads"`
	// UsableThreads is runtime.GOMAXPROCS(0): the threads this process may
	// run on at once, after CPU affinity and cgroup CPU limits.
	UsableThreads int `json:"usable_threads"`
	// Features are the SIMD and matrix extensions that matter to inference
	// kernels, lower case and sorted, named as Linux's /proc/cpuinfo names
	// them on x86 ("avx2", "avx512f", "avx512_vnni", "fma") and as compilers
	// do on ARM ("neon", "dotprod", "i8mm", "sve").
	Features []string `json:"features"`
	// Source says where the core counts came from: "ghw",
	// "/proc/cpuinfo", or "runtime.NumCPU" when neither could tell.
	Source   string   `json:"source,omitempty"`
	Problems []string `json:"problems,omitempty"`
}

// Memory describes system memory in bytes.
type Memory struct {
	// TotalBytes is the memory the kernel manages (MemTotal).
	TotalBytes uint64 `json:"total_bytes"`
	// AvailableBytes is what can be allocated without swapping
	// (MemAvailable), measured when Detect ran.
	AvailableBytes uint64 `json:"available_bytes"`
	// PhysicalBytes is the installed RAM where ghw can tell; 0 if unknown.
	PhysicalBytes uint64   `json:"physical_bytes,omitempty"`
	Problems      []string `json:"problems,omitempty"`
}

// GPUs lists the graphics and compute devices found.
type GPUs struct {
	Devices  []GPU    `json:"devices"`
	Problems []string `json:"problems,omitempty"`

	namesErr error // why pci.ids could not name devices, if it could not
}

// GPU is one graphics or compute device.
type GPU struct {
	// Vendor is "nvidia", "amd" or "intel".
	Vendor string `json:"vendor"`
	// VendorID and DeviceID are the PCI ids ("0x10de", "0x2330"); empty
	// for a GPU that is not on PCI.
	VendorID string `json:"vendor_id,omitempty"`
	DeviceID string `json:"device_id,omitempty"`
	// PCIAddress is domain:bus:device.function ("0000:01:00.0").
	PCIAddress string `json:"pci_address,omitempty"`
	// Class is the PCI class code ("0x030200" is a 3D controller).
	Class string `json:"class,omitempty"`
	// Model is the product name, from NVML, a pci.ids database or the
	// device tree; empty if none of them knew.
	Model string `json:"model,omitempty"`
	// Integrated is true for a GPU that shares system memory (Intel iGPU,
	// NVIDIA Tegra).
	Integrated bool `json:"integrated,omitempty"`
	// Driver is the kernel driver bound to the device ("nvidia",
	// "amdgpu", "i915", "xe", "nouveau"); empty if none is bound.
	Driver string `json:"driver,omitempty"`
	// DriverVersion is the NVIDIA driver version, from NVML or
	// /proc/driver/nvidia/version.
	DriverVersion string `json:"driver_version,omitempty"`
	// MemoryTotalBytes and MemoryFreeBytes are the device's own memory,
	// from NVML (NVIDIA) or amdgpu's sysfs files; 0 if unknown.
	MemoryTotalBytes uint64 `json:"memory_total_bytes,omitempty"`
	MemoryFreeBytes  uint64 `json:"memory_free_bytes,omitempty"`
	// Sources lists where the facts came from: "sysfs", "pci.ids",
	// "devicetree", "nvml".
	Sources []string `json:"sources"`
}

// NVML describes the NVIDIA Management Library, if it could be loaded.
type NVML struct {
	// Available is true when the library loaded and initialised.
	Available bool `json:"available"`
	// DriverVersion is the NVIDIA driver version NVML reports.
	DriverVersion string `json:"driver_version,omitempty"`
	// DeviceCount is how many devices NVML reported.
	DeviceCount int      `json:"device_count"`
	Problems    []string `json:"problems,omitempty"`
}

// Problems returns every part's problems, each prefixed with its part
// ("cpu: ...", "gpu: ...").
func (r Report) Problems() []string {
	var out []string
	add := func(part string, ps []string) {
		for _, p := range ps {
			out = append(out, part+": "+p)
		}
	}
	add("cpu", r.CPU.Problems)
	add("memory", r.Memory.Problems)
	add("gpu", r.GPU.Problems)
	add("nvml", r.NVML.Problems)
	add("plan", r.Plan.Problems)
	return out
}

// Detect looks at the machine and returns what it found. It never fails as
// a whole: whatever a part could not see is in that part's Problems. ctx is
// checked between parts; a part that has started (an NVML call included)
// runs to its end.
func Detect(ctx context.Context, opts Options) Report {
	opts = opts.withDefaults()
	var r Report
	skipped := func() string { return fmt.Sprintf("skipped: %v", context.Cause(ctx)) }

	if ctx.Err() != nil {
		r.CPU = CPU{Arch: runtimeArch(), Problems: []string{skipped()}}
	} else {
		r.CPU = detectCPU(opts)
	}
	if ctx.Err() != nil {
		r.Memory.Problems = append(r.Memory.Problems, skipped())
	} else {
		r.Memory = detectMemory(opts)
	}
	if ctx.Err() != nil {
		r.GPU = GPUs{Devices: []GPU{}, Problems: []string{skipped()}}
	} else {
		r.GPU = detectGPUs(opts)
	}
	switch {
	case opts.SkipNVML:
		r.NVML.Problems = append(r.NVML.Problems, "not queried (skipped by option)")
	case ctx.Err() != nil:
		r.NVML.Problems = append(r.NVML.Problems, skipped())
	default:
		var devs []nvmlDevice
		r.NVML, devs = loadAndQueryNVML(opts.NVMLLibrary)
		r.GPU.Devices = mergeNVML(r.GPU.Devices, devs, r.NVML.DriverVersion)
	}
	r.GPU.Problems = append(r.GPU.Problems, unnamedGPUProblems(r.GPU)...)
	r.Plan = PlanFor(r, opts.Model)
	return r
}

// ghwArgs are the options every ghw call gets: quiet (ghw logs warnings to
// stderr by default), no external tools, and our roots.
func ghwArgs(opts Options) []any {
	return []any{
		ghw.WithLogger(slog.New(slog.DiscardHandler)),
		ghw.WithDisableTools(),
		ghw.WithPathOverrides(map[string]string{
			"/sys":  absPath(opts.SysRoot),
			"/proc": absPath(opts.ProcRoot),
		}),
		ghw.WithChroot("/"),
	}
}

// absPath makes p absolute: ghw joins its roots onto its chroot ("/").
func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return filepath.Clean(p)
}

// short trims an error message to one line for a Problems entry.
func short(err error) string {
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}
