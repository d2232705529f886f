package detect

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"

	"github.com/jaypipes/ghw"
)

func runtimeArch() string { return runtime.GOARCH }

// detectCPU fills CPU from ghw where it sees cores, else from our own
// /proc/cpuinfo parser; the model name comes from whichever knows it.
func detectCPU(opts Options) CPU {
	c := CPU{
		Arch:          runtimeArch(),
		UsableThreads: runtime.GOMAXPROCS(0),
		Features:      simdFeatures(),
	}

	var fromFile cpuInfo
	data, err := os.ReadFile(filepath.Join(opts.ProcRoot, "cpuinfo"))
	if err == nil {
		fromFile, err = parseCPUInfo(data)
	}
	fileErr := err

	var ghwErr error
	if !opts.SkipGHW {
		ghwErr = fillFromGHW(&c, opts)
	}
	if c.PhysicalCores == 0 && fileErr == nil {
		c.PhysicalCores, c.LogicalThreads = fromFile.Physical, fromFile.Logical
		c.Source = "/proc/cpuinfo"
	}
	if fileErr == nil {
		// cpuinfo knows ARM part names and vendors that ghw leaves blank.
		if c.Model == "" || fromFile.armPart {
			c.Model = fromFile.Model
		}
		if c.Vendor == "" {
			c.Vendor = fromFile.Vendor
		}
	}

	if c.PhysicalCores == 0 {
		if ghwErr != nil {
			c.Problems = append(c.Problems, "ghw: "+short(ghwErr))
		}
		if fileErr != nil {
			c.Problems = append(c.Problems, "cpuinfo: "+short(fileErr))
		}
		c.LogicalThreads = runtime.NumCPU()
		c.Source = "runtime.NumCPU"
		c.Problems = append(c.Problems, "physical core count unknown")
	}
	if c.Model == "" {
		c.Problems = append(c.Problems, "model name unknown")
	}
	if len(c.Features) == 0 && (c.Arch == "amd64" || c.Arch == "arm64") {
		c.Problems = append(c.Problems, "no SIMD features reported")
	}
	return c
}

// fillFromGHW sets model, vendor and core counts from ghw. ghw's CPU
// loader does not return errors for unreadable files (it logs them, and
// ghwArgs silences the log), so an empty answer is reported as an error
// here.
func fillFromGHW(c *CPU, opts Options) error {
	info, err := ghw.CPU(ghwArgs(opts)...)
	if err != nil {
		return err
	}
	if info == nil || info.TotalCores == 0 {
		return errors.New("no processors found")
	}
	c.PhysicalCores = int(info.TotalCores)
	c.LogicalThreads = int(info.TotalHardwareThreads)
	if c.LogicalThreads < c.PhysicalCores {
		c.LogicalThreads = c.PhysicalCores
	}
	for _, p := range info.Processors {
		if c.Model == "" && p.Model != "" && p.Model != "unknown" {
			c.Model = p.Model
		}
		if c.Vendor == "" && p.Vendor != "" && p.Vendor != "unknown" {
			c.Vendor = p.Vendor
		}
	}
	c.Source = "ghw"
	return nil
}

// cpuInfo is what parseCPUInfo reads from /proc/cpuinfo.
type cpuInfo struct {
	// Model: the ARM part name where the part is known, else "model
	// name", else the 32-bit ARM "Processor" line, else the board
	// ("Model", "Hardware").
	Model string
	// Vendor: "vendor_id" (x86) or the ARM implementer's name.
	Vendor string
	// Logical counts "processor" entries.
	Logical int
	// Physical counts distinct (physical id, core id) pairs; it equals
	// Logical where the file has no core ids (ARM, which has no SMT).
	Physical int
	// armPart is true when Model came from the ARM part table.
	armPart bool
}

// parseCPUInfo reads the text of /proc/cpuinfo: blocks of "key : value"
// lines, one block per logical processor, separated by blank lines, with
// board-wide keys (Hardware, Model) in a last block on ARM.
func parseCPUInfo(data []byte) (cpuInfo, error) {
	var (
		ci                                 cpuInfo
		modelName, procLine, board, hwLine string
		implementer, part                  string
		inProc                             bool
		physID, coreID                     string
		haveCoreID                         bool
		cores                              = map[string]bool{}
	)
	endBlock := func() {
		if inProc && haveCoreID {
			cores[physID+"/"+coreID] = true
		}
		inProc, haveCoreID, physID, coreID = false, false, "", ""
	}
	for len(data) > 0 {
		var line []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			line, data = data, nil
		}
		if len(bytes.TrimSpace(line)) == 0 {
			endBlock()
			continue
		}
		k, v, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		key := string(bytes.TrimSpace(k))
		val := string(bytes.TrimSpace(v))
		switch key {
		case "processor":
			if _, err := strconv.Atoi(val); err != nil {
				continue
			}
			endBlock()
			inProc = true
			ci.Logical++
		case "Processor": // 32-bit ARM: "ARMv7 Processor rev 4 (v7l)"
			if procLine == "" {
				procLine = val
			}
		case "model name":
			if modelName == "" {
				modelName = val
			}
		case "vendor_id":
			if ci.Vendor == "" {
				ci.Vendor = val
			}
		case "CPU implementer":
			if implementer == "" {
				implementer = val
			}
		case "CPU part":
			if part == "" {
				part = val
			}
		case "physical id":
			physID = val
		case "core id":
			coreID, haveCoreID = val, true
		case "Model":
			board = val
		case "Hardware":
			hwLine = val
		}
	}
	endBlock()
	if ci.Logical == 0 {
		return cpuInfo{}, errors.New("no processor entries")
	}
	ci.Physical = len(cores)
	if ci.Physical == 0 || ci.Physical > ci.Logical {
		ci.Physical = ci.Logical
	}
	if ci.Vendor == "" && implementer != "" {
		ci.Vendor = armImplementerName(implementer)
	}
	if name := armPartName(implementer, part); name != "" {
		ci.Model, ci.armPart = name, true
	}
	for _, m := range []string{modelName, procLine, board, hwLine} {
		if ci.Model == "" {
			ci.Model = m
		}
	}
	return ci, nil
}

// armImplementers maps the "CPU implementer" byte to a vendor name.
var armImplementers = map[uint64]string{
	0x41: "ARM", 0x42: "Broadcom", 0x43: "Cavium", 0x48: "HiSilicon",
	0x4e: "NVIDIA", 0x51: "Qualcomm", 0x61: "Apple", 0xc0: "Ampere",
}

func armImplementerName(s string) string {
	n, err := strconv.ParseUint(s, 0, 16)
	if err != nil {
		return ""
	}
	if name, ok := armImplementers[n]; ok {
		return name
	}
	return fmt.Sprintf("ARM implementer %#x", n)
}

// armParts names the Arm Ltd. (implementer 0x41) cores found on boards an
// edge gateway runs on: Raspberry Pi, Jetson, Graviton and Ampere servers.
var armParts = map[uint64]string{
	0xd03: "Cortex-A53", 0xd04: "Cortex-A35", 0xd05: "Cortex-A55",
	0xd07: "Cortex-A57", 0xd08: "Cortex-A72", 0xd09: "Cortex-A73",
	0xd0a: "Cortex-A75", 0xd0b: "Cortex-A76", 0xd0c: "Neoverse-N1",
	0xd0d: "Cortex-A77", 0xd40: "Neoverse-V1", 0xd41: "Cortex-A78",
	0xd42: "Cortex-A78AE", 0xd44: "Cortex-X1", 0xd46: "Cortex-A510",
	0xd47: "Cortex-A710", 0xd48: "Cortex-X2", 0xd49: "Neoverse-N2",
	0xd4b: "Cortex-A78C", 0xd4f: "Neoverse-V2", 0xd80: "Cortex-A520",
	0xd81: "Cortex-A720", 0xd82: "Cortex-X4",
	0xc07: "Cortex-A7", 0xc09: "Cortex-A9", 0xc0f: "Cortex-A15",
}

func armPartName(implementer, part string) string {
	imp, err1 := strconv.ParseUint(implementer, 0, 16)
	p, err2 := strconv.ParseUint(part, 0, 16)
	if err1 != nil || err2 != nil || imp != 0x41 {
		return ""
	}
	if name, ok := armParts[p]; ok {
		return "ARM " + name
	}
	return ""
}
