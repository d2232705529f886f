package detect

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestDetectThisMachine is a smoke test on the machine running the tests:
// Detect must find at least one core and some memory, and its report must
// print and marshal.
func TestDetectThisMachine(t *testing.T) {
	r := Detect(context.Background(), Options{Model: tinyLlama})
	if r.CPU.LogicalThreads < 1 || r.CPU.UsableThreads < 1 || r.Plan.Threads < 1 {
		t.Errorf("CPU = %+v, plan threads %d", r.CPU, r.Plan.Threads)
	}
	if r.CPU.Arch == "" {
		t.Error("no architecture")
	}
	if r.Memory.TotalBytes == 0 || r.Memory.AvailableBytes == 0 {
		t.Errorf("Memory = %+v", r.Memory)
	}
	if r.Plan.Backend != "cpu" {
		t.Errorf("backend = %q", r.Plan.Backend)
	}
	var out bytes.Buffer
	if err := r.Format(&out); err != nil {
		t.Fatal(err)
	}
	if _, err := json.Marshal(r); err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", out.String())
}

// fakeMachine builds sysfs and procfs trees for a small Intel box with an
// NVIDIA card: no CPU topology in sysfs, so ghw sees no cores and the
// /proc/cpuinfo parser answers.
func fakeMachine(t *testing.T) Options {
	root := t.TempDir()
	sys := fakeSysfs(t, root, workstation[:3])
	proc := filepath.Join(root, "proc")
	data, err := os.ReadFile(filepath.Join("testdata", "cpuinfo", "x86_intel_2c4t.txt"))
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(proc, "cpuinfo"), string(data))
	write(t, filepath.Join(proc, "meminfo"), "MemTotal:       16303412 kB\nMemFree:         1000000 kB\nMemAvailable:   12000000 kB\n")
	write(t, filepath.Join(root, "pci.ids"), tinyPCIIDs)
	return Options{SysRoot: sys, ProcRoot: proc, PCIIDs: filepath.Join(root, "pci.ids"),
		NVMLLibrary: filepath.Join(root, "libnvidia-ml.so.1")}
}

func TestDetectFakeMachine(t *testing.T) {
	for _, skipGHW := range []bool{false, true} {
		opts := fakeMachine(t)
		opts.SkipGHW = skipGHW
		r := Detect(context.Background(), opts)

		c := r.CPU
		if c.Model != "12th Gen Intel(R) Core(TM) i7-1265U" || c.Vendor != "GenuineIntel" ||
			c.PhysicalCores != 2 || c.LogicalThreads != 4 || c.Source != "/proc/cpuinfo" || len(c.Problems) != 0 {
			t.Errorf("SkipGHW=%v: CPU = %+v", skipGHW, c)
		}
		if r.Memory.TotalBytes != 16303412*1024 || r.Memory.AvailableBytes != 12000000*1024 || len(r.Memory.Problems) != 0 {
			t.Errorf("SkipGHW=%v: Memory = %+v", skipGHW, r.Memory)
		}
		if len(r.GPU.Devices) != 2 || r.GPU.Devices[0].Vendor != "intel" || r.GPU.Devices[1].Vendor != "nvidia" {
			t.Fatalf("SkipGHW=%v: GPUs = %+v", skipGHW, r.GPU.Devices)
		}
		if r.NVML.Available || len(r.NVML.Problems) != 1 || !strings.Contains(r.NVML.Problems[0], "GPU memory and driver unknown") {
			t.Errorf("SkipGHW=%v: NVML = %+v", skipGHW, r.NVML)
		}
		if r.Plan.Threads != min(2, c.UsableThreads) {
			t.Errorf("SkipGHW=%v: plan threads %d", skipGHW, r.Plan.Threads)
		}
		named := r.GPU.Devices[1].Model == "GH100 [H100 SXM5 80GB]"
		if named == skipGHW {
			t.Errorf("SkipGHW=%v: NVIDIA model %q", skipGHW, r.GPU.Devices[1].Model)
		}
	}
}

func TestDetectMissingTrees(t *testing.T) {
	root := t.TempDir()
	r := Detect(context.Background(), Options{
		SysRoot: filepath.Join(root, "sys"), ProcRoot: filepath.Join(root, "proc"),
		NVMLLibrary: filepath.Join(root, "libnvidia-ml.so.1"),
	})
	// Everything that reads a file says it could not; what comes from the
	// runtime (architecture, features, usable threads) is still there.
	if r.CPU.PhysicalCores != 0 || r.CPU.LogicalThreads < 1 || r.CPU.Arch == "" || r.Plan.Threads < 1 {
		t.Errorf("CPU = %+v", r.CPU)
	}
	for part, ps := range map[string][]string{"cpu": r.CPU.Problems, "memory": r.Memory.Problems, "gpu": r.GPU.Problems, "nvml": r.NVML.Problems} {
		if len(ps) == 0 {
			t.Errorf("%s: no problems reported", part)
		}
	}
	if !slices.Contains(r.CPU.Problems, "physical core count unknown") {
		t.Errorf("cpu problems = %q", r.CPU.Problems)
	}
	if len(r.GPU.Devices) != 0 || r.GPU.Devices == nil {
		t.Errorf("GPU devices = %#v, want an empty list", r.GPU.Devices)
	}
	if len(r.Plan.Problems) != 0 || r.Plan.KVBlocks != 0 {
		t.Errorf("plan = %+v", r.Plan)
	}
}

func TestDetectCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := Detect(ctx, fakeMachine(t))
	for part, ps := range map[string][]string{"cpu": r.CPU.Problems, "memory": r.Memory.Problems, "gpu": r.GPU.Problems, "nvml": r.NVML.Problems} {
		if len(ps) != 1 || ps[0] != "skipped: context canceled" {
			t.Errorf("%s problems = %q", part, ps)
		}
	}
	if r.Plan.Threads != 1 || r.CPU.Arch == "" {
		t.Errorf("report = %+v", r)
	}
}

func TestDetectSkipNVML(t *testing.T) {
	opts := fakeMachine(t)
	opts.SkipNVML = true
	r := Detect(context.Background(), opts)
	if want := []string{"not queried (skipped by option)"}; !reflect.DeepEqual(r.NVML.Problems, want) {
		t.Errorf("NVML problems = %q, want %q", r.NVML.Problems, want)
	}
}

func TestReportJSON(t *testing.T) {
	r := Detect(context.Background(), fakeMachine(t))
	data, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.Problems(), r.Problems()) || back.CPU.Model != r.CPU.Model || len(back.GPU.Devices) != len(r.GPU.Devices) {
		t.Errorf("round trip changed the report:\n%s", data)
	}
	for _, key := range []string{`"cpu":`, `"physical_cores":2`, `"memory":`, `"available_bytes":`, `"gpu":`, `"devices":`, `"pci_address":"0000:01:00.0"`, `"nvml":`, `"plan":`, `"backend":"cpu"`, `"max_batch":`} {
		if !bytes.Contains(data, []byte(key)) {
			t.Errorf("JSON lacks %s:\n%s", key, data)
		}
	}
}

// TestDetectUsesGHW gives ghw the sysfs it reads, a CPU topology and memory
// blocks, and checks that its answers are used: the topology says 2 cores
// of 2 threads where /proc/cpuinfo, which ghw also reads, is the same
// machine; the memory blocks say 512 MiB are installed.
func TestDetectUsesGHW(t *testing.T) {
	opts := fakeMachine(t)
	for cpu, core := range []int{0, 1, 0, 1} {
		dir := filepath.Join(opts.SysRoot, "devices", "system", "cpu", "cpu"+strconv.Itoa(cpu))
		write(t, filepath.Join(dir, "online"), "1\n")
		write(t, filepath.Join(dir, "topology", "physical_package_id"), "0\n")
		write(t, filepath.Join(dir, "topology", "core_id"), strconv.Itoa(core)+"\n")
	}
	mem := filepath.Join(opts.SysRoot, "devices", "system", "memory")
	write(t, filepath.Join(mem, "block_size_bytes"), "8000000\n") // hex: 128 MiB
	for i := range 4 {
		write(t, filepath.Join(mem, "memory"+strconv.Itoa(i), "state"), "online\n")
	}
	write(t, filepath.Join(opts.ProcRoot, "meminfo"), "MemTotal: 500000 kB\nMemAvailable: 300000 kB\n")

	r := Detect(context.Background(), opts)
	if c := r.CPU; c.Source != "ghw" || c.PhysicalCores != 2 || c.LogicalThreads != 4 || c.Model != "12th Gen Intel(R) Core(TM) i7-1265U" {
		t.Errorf("CPU = %+v", c)
	}
	if r.Memory.PhysicalBytes != 512<<20 || r.Memory.TotalBytes != 500000*1024 {
		t.Errorf("Memory = %+v", r.Memory)
	}

	opts.SkipGHW = true
	r = Detect(context.Background(), opts)
	if r.CPU.Source != "/proc/cpuinfo" || r.Memory.PhysicalBytes != 0 {
		t.Errorf("SkipGHW: CPU source %q, physical memory %d", r.CPU.Source, r.Memory.PhysicalBytes)
	}
}

func TestDetectRelativeRoots(t *testing.T) {
	opts := fakeMachine(t)
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []*string{&opts.SysRoot, &opts.ProcRoot} {
		rel, err := filepath.Rel(wd, *p)
		if err != nil {
			t.Fatal(err)
		}
		*p = rel
	}
	r := Detect(context.Background(), opts)
	if r.CPU.PhysicalCores != 2 || r.Memory.TotalBytes == 0 || len(r.GPU.Devices) != 2 {
		t.Errorf("relative roots: %+v", r)
	}
}
