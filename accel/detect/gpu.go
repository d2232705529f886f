package detect

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/jaypipes/pcidb"
)

// gpuVendors are the PCI vendors whose display controllers can run
// inference. Other display controllers (server BMCs, virtual VGA) are not
// listed.
var gpuVendors = map[uint64]string{
	0x10de: "nvidia",
	0x1002: "amd",
	0x8086: "intel",
}

// detectGPUs scans PCI and the device tree, then names what it found from a
// pci.ids database where one is installed.
func detectGPUs(opts Options) GPUs {
	var g GPUs
	devs, problems := scanPCI(opts.SysRoot)
	g.Devices, g.Problems = devs, problems
	if tegra, ok := tegraGPU(opts.SysRoot); ok {
		g.Devices = append(g.Devices, tegra)
	}
	if v, err := nvidiaKernelVersion(opts.ProcRoot); err == nil {
		for i := range g.Devices {
			if g.Devices[i].Vendor == "nvidia" && g.Devices[i].Driver == "nvidia" {
				g.Devices[i].DriverVersion = v
			}
		}
	}
	if needsNames(g.Devices) {
		if opts.SkipGHW {
			g.namesErr = errors.New("pci.ids not read (SkipGHW)")
		} else if err := nameFromPCIIDs(g.Devices, opts.PCIIDs); err != nil {
			g.namesErr = fmt.Errorf("pci.ids: %s", short(err))
		}
	}
	if g.Devices == nil {
		g.Devices = []GPU{}
	}
	return g
}

// scanPCI lists the display controllers (PCI class 0x03) of the known GPU
// vendors under {sysRoot}/bus/pci/devices. Each device directory has the
// files vendor ("0x10de"), device ("0x2330") and class ("0x030200"), and a
// driver symlink once a kernel driver is bound.
func scanPCI(sysRoot string) ([]GPU, []string) {
	dir := filepath.Join(sysRoot, "bus", "pci", "devices")
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, []string{fmt.Sprintf("no PCI bus in sysfs (%s missing): PCI GPUs unknown", dir)}
		}
		return nil, []string{"cannot list PCI devices: " + short(err) + ": PCI GPUs unknown"}
	}
	var (
		gpus     []GPU
		problems []string
	)
	for _, e := range entries {
		addr := e.Name()
		devDir := filepath.Join(dir, addr)
		class, err := readHex(filepath.Join(devDir, "class"))
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %s", addr, short(err)))
			continue
		}
		if class>>16 != 0x03 {
			continue
		}
		vendorID, err := readHex(filepath.Join(devDir, "vendor"))
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %s", addr, short(err)))
			continue
		}
		vendor, ok := gpuVendors[vendorID]
		if !ok {
			continue
		}
		g := GPU{
			Vendor:     vendor,
			VendorID:   fmt.Sprintf("0x%04x", vendorID),
			PCIAddress: addr,
			Class:      fmt.Sprintf("0x%06x", class),
			Sources:    []string{"sysfs"},
		}
		if id, err := readHex(filepath.Join(devDir, "device")); err == nil {
			g.DeviceID = fmt.Sprintf("0x%04x", id)
		} else {
			problems = append(problems, fmt.Sprintf("%s: %s", addr, short(err)))
		}
		if target, err := os.Readlink(filepath.Join(devDir, "driver")); err == nil {
			g.Driver = filepath.Base(target)
		} else {
			problems = append(problems, fmt.Sprintf("%s (%s): no kernel driver bound", addr, vendor))
		}
		if vendor == "amd" {
			total, err1 := readUint(filepath.Join(devDir, "mem_info_vram_total"))
			used, err2 := readUint(filepath.Join(devDir, "mem_info_vram_used"))
			if err1 == nil && total > 0 {
				g.MemoryTotalBytes = total
				if err2 == nil && used <= total {
					g.MemoryFreeBytes = total - used
				}
			}
		}
		// Intel GPUs share system memory; UHD/Iris/Arc iGPUs sit at bus 0.
		g.Integrated = vendor == "intel" && strings.HasSuffix(addr, ":00:02.0")
		gpus = append(gpus, g)
	}
	sort.Slice(gpus, func(i, j int) bool { return gpus[i].PCIAddress < gpus[j].PCIAddress })
	return gpus, problems
}

// tegraGPU reports the integrated GPU of an NVIDIA Tegra system on chip
// (Jetson), which is not a PCI device, from the device tree's compatible
// strings (NUL-separated, e.g. "nvidia,p3768-0000\0nvidia,tegra234\0").
func tegraGPU(sysRoot string) (GPU, bool) {
	base := filepath.Join(sysRoot, "firmware", "devicetree", "base")
	compat, err := os.ReadFile(filepath.Join(base, "compatible"))
	if err != nil {
		return GPU{}, false
	}
	soc := ""
	for _, c := range bytes.Split(compat, []byte{0}) {
		if s := string(c); strings.HasPrefix(s, "nvidia,tegra") {
			soc = strings.TrimPrefix(s, "nvidia,")
			break
		}
	}
	if soc == "" {
		return GPU{}, false
	}
	model := "Tegra integrated GPU (" + soc + ")"
	if board, err := os.ReadFile(filepath.Join(base, "model")); err == nil {
		if b := strings.TrimSpace(string(bytes.TrimRight(board, "\x00"))); b != "" {
			model += ", " + b
		}
	}
	return GPU{
		Vendor:     "nvidia",
		Model:      model,
		Integrated: true,
		Sources:    []string{"devicetree"},
	}, true
}

// nvidiaKernelVersion reads the NVIDIA kernel module's version from
// {procRoot}/driver/nvidia/version: the first dotted number on the first
// line, which reads "NVRM version: NVIDIA UNIX x86_64 Kernel Module
// 550.54.15  Tue Mar ..." for the proprietary module and "NVRM version:
// NVIDIA UNIX Open Kernel Module for x86_64  550.54.15  Release Build ..."
// for the open one.
func nvidiaKernelVersion(procRoot string) (string, error) {
	data, err := os.ReadFile(filepath.Join(procRoot, "driver", "nvidia", "version"))
	if err != nil {
		return "", err
	}
	line, _, _ := bytes.Cut(data, []byte("\n"))
	if !bytes.HasPrefix(line, []byte("NVRM version:")) {
		return "", errors.New("unrecognised NVIDIA version line")
	}
	for _, f := range strings.Fields(string(line)) {
		if isDottedNumber(f) {
			return f, nil
		}
	}
	return "", errors.New("no version in NVIDIA version line")
}

// isDottedNumber reports whether s looks like "550.54.15".
func isDottedNumber(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) < 2 {
		return false
	}
	for _, p := range parts {
		if p == "" || strings.Trim(p, "0123456789") != "" {
			return false
		}
	}
	return true
}

func needsNames(gpus []GPU) bool {
	for _, g := range gpus {
		if g.Model == "" && g.VendorID != "" {
			return true
		}
	}
	return false
}

// nameFromPCIIDs fills Model from a pci.ids database, read by
// github.com/jaypipes/pcidb (the reader ghw uses) with network fetching off
// whatever the environment says.
func nameFromPCIIDs(gpus []GPU, path string) error {
	noNetwork := false
	opt := &pcidb.WithOption{EnableNetworkFetch: &noNetwork}
	if path != "" {
		opt.Path = &path
	}
	db, err := pcidb.New(opt)
	if err != nil {
		return err
	}
	for i := range gpus {
		g := &gpus[i]
		if g.Model != "" || g.VendorID == "" || g.DeviceID == "" {
			continue
		}
		key := strings.TrimPrefix(g.VendorID, "0x") + strings.TrimPrefix(g.DeviceID, "0x")
		if p, ok := db.Products[key]; ok && p.Name != "" {
			g.Model = p.Name
			g.Sources = append(g.Sources, "pci.ids")
		}
	}
	return nil
}

// unnamedGPUProblems says which GPUs no source could name, and why.
func unnamedGPUProblems(g GPUs) []string {
	why := "not in the pci.ids database"
	if g.namesErr != nil {
		why = g.namesErr.Error()
	}
	var out []string
	for _, d := range g.Devices {
		if d.Model == "" {
			out = append(out, fmt.Sprintf("%s %s device %s: model name unknown (%s)", d.PCIAddress, d.Vendor, d.DeviceID, why))
		}
	}
	return out
}

func readHex(path string) (uint64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	s := strings.TrimSpace(string(data))
	n, err := strconv.ParseUint(strings.TrimPrefix(strings.ToLower(s), "0x"), 16, 32)
	if err != nil {
		return 0, fmt.Errorf("%s: not a hex number: %q", filepath.Base(path), s)
	}
	return n, nil
}

func readUint(path string) (uint64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.ParseUint(strings.TrimSpace(string(data)), 10, 64)
}
