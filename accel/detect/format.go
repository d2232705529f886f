package detect

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// Format writes a short human summary of the report, lscpu-style: the CPU,
// its SIMD features, memory, one line per GPU, the plan and its notes, and
// every problem. It returns the first write error.
func (r Report) Format(w io.Writer) error {
	bw := bufio.NewWriter(w)
	line := func(label, format string, args ...any) {
		fmt.Fprintf(bw, "%-10s%s\n", label, fmt.Sprintf(format, args...))
	}

	c := r.CPU
	model := c.Model
	if model == "" {
		model = "unknown CPU"
	}
	cores := "? cores"
	if c.PhysicalCores > 0 {
		cores = plural(c.PhysicalCores, "core")
	}
	threads := "? threads"
	if c.LogicalThreads > 0 {
		threads = plural(c.LogicalThreads, "thread")
	}
	line("CPU:", "%s (%s), %s, %s, %d usable", model, c.Arch, cores, threads, c.UsableThreads)
	feats := "none"
	if len(c.Features) > 0 {
		feats = strings.Join(c.Features, " ")
	}
	line("Features:", "%s", feats)

	m := r.Memory
	if m.TotalBytes == 0 {
		line("Memory:", "unknown")
	} else {
		s := fmt.Sprintf("%s total, %s available", humanBytes(m.TotalBytes), humanBytes(m.AvailableBytes))
		if m.PhysicalBytes > 0 {
			s += fmt.Sprintf(", %s installed", humanBytes(m.PhysicalBytes))
		}
		line("Memory:", "%s", s)
	}

	if len(r.GPU.Devices) == 0 {
		line("GPU:", "none found")
	}
	for i, g := range r.GPU.Devices {
		line(fmt.Sprintf("GPU %d:", i), "%s", gpuSummary(g))
	}

	p := r.Plan
	kv := "no KV cache"
	if p.KVBlocks > 0 {
		kv = fmt.Sprintf("KV cache %d blocks of %d tokens (%s), max batch %d", p.KVBlocks, p.BlockTokens, humanBytes(p.KVCacheBytes), p.MaxBatch)
	}
	line("Plan:", "backend %s, %s, %s", p.Backend, plural(p.Threads, "thread"), kv)
	for _, n := range p.Notes {
		line("", "%s", n)
	}

	if ps := r.Problems(); len(ps) > 0 {
		fmt.Fprintln(bw, "Problems:")
		for _, pr := range ps {
			fmt.Fprintf(bw, "  - %s\n", pr)
		}
	}
	return bw.Flush()
}

// gpuSummary is one GPU on one line: "nvidia NVIDIA H100 80GB HBM3
// (0x10de:0x2330) at 0000:01:00.0, driver nvidia 550.54.15, 79.6 GiB
// (79.1 GiB free)".
func gpuSummary(g GPU) string {
	var b strings.Builder
	b.WriteString(g.Vendor)
	if g.Model != "" {
		b.WriteString(" " + g.Model)
	}
	if g.VendorID != "" && g.DeviceID != "" {
		fmt.Fprintf(&b, " (%s:%s)", g.VendorID, g.DeviceID)
	}
	if g.Integrated {
		b.WriteString(", integrated")
	}
	if g.PCIAddress != "" {
		b.WriteString(" at " + g.PCIAddress)
	}
	switch {
	case g.Driver != "" && g.DriverVersion != "":
		fmt.Fprintf(&b, ", driver %s %s", g.Driver, g.DriverVersion)
	case g.Driver != "":
		fmt.Fprintf(&b, ", driver %s", g.Driver)
	case g.DriverVersion != "":
		fmt.Fprintf(&b, ", driver %s", g.DriverVersion)
	case g.PCIAddress != "":
		b.WriteString(", no driver bound")
	}
	if g.MemoryTotalBytes > 0 {
		fmt.Fprintf(&b, ", %s", humanBytes(g.MemoryTotalBytes))
		if g.MemoryFreeBytes > 0 {
			fmt.Fprintf(&b, " (%s free)", humanBytes(g.MemoryFreeBytes))
		}
	}
	return b.String()
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// humanBytes writes a byte count in binary units with one decimal: "1.5 GiB".
func humanBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for x := n / unit; x >= unit && exp < 5; x /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
