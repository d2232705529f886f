package detect

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// pciDev is one device of a fake sysfs tree.
type pciDev struct {
	addr, vendor, device, class, driver string
	extra                               map[string]string // more files in the device directory
}

// fakeSysfs builds {root}/sys the way Linux lays it out: the device
// directories under devices/pci0000:00, bus/pci/devices/ADDR symlinks to
// them, and a driver symlink into bus/pci/drivers.
func fakeSysfs(t *testing.T, root string, devs []pciDev) string {
	t.Helper()
	sys := filepath.Join(root, "sys")
	mkdir(t, filepath.Join(sys, "bus", "pci", "devices"))
	for _, d := range devs {
		dir := filepath.Join(sys, "devices", "pci0000:00", d.addr)
		mkdir(t, dir)
		write(t, filepath.Join(dir, "vendor"), d.vendor+"\n")
		write(t, filepath.Join(dir, "device"), d.device+"\n")
		write(t, filepath.Join(dir, "class"), d.class+"\n")
		for name, content := range d.extra {
			write(t, filepath.Join(dir, name), content)
		}
		if d.driver != "" {
			mkdir(t, filepath.Join(sys, "bus", "pci", "drivers", d.driver))
			symlink(t, filepath.Join("..", "..", "..", "bus", "pci", "drivers", d.driver), filepath.Join(dir, "driver"))
		}
		symlink(t, filepath.Join("..", "..", "..", "devices", "pci0000:00", d.addr), filepath.Join(sys, "bus", "pci", "devices", d.addr))
	}
	return sys
}

// workstation is a machine with an NVIDIA data-centre card (3D controller)
// and its HDMI audio function, an Intel iGPU, an AMD card with VRAM files,
// a server BMC's VGA, a virtio NIC and an NVIDIA card with no driver bound.
var workstation = []pciDev{
	{addr: "0000:00:02.0", vendor: "0x8086", device: "0xa780", class: "0x030000", driver: "i915"},
	{addr: "0000:00:03.0", vendor: "0x1af4", device: "0x1041", class: "0x020000", driver: "virtio-pci"},
	{addr: "0000:01:00.0", vendor: "0x10de", device: "0x2330", class: "0x030200", driver: "nvidia"},
	{addr: "0000:01:00.1", vendor: "0x10de", device: "0x22a3", class: "0x040300", driver: "snd_hda_intel"},
	{addr: "0000:02:00.0", vendor: "0x1a03", device: "0x2000", class: "0x030000", driver: "ast"},
	{addr: "0000:03:00.0", vendor: "0x1002", device: "0x744c", class: "0x030000", driver: "amdgpu",
		extra: map[string]string{"mem_info_vram_total": "25753026560\n", "mem_info_vram_used": "1048576000\n"}},
	{addr: "0000:04:00.0", vendor: "0x10de", device: "0x2684", class: "0x030000"},
}

func TestScanPCI(t *testing.T) {
	sys := fakeSysfs(t, t.TempDir(), workstation)
	gpus, problems := scanPCI(sys)
	want := []GPU{
		{Vendor: "intel", VendorID: "0x8086", DeviceID: "0xa780", PCIAddress: "0000:00:02.0", Class: "0x030000", Integrated: true, Driver: "i915", Sources: []string{"sysfs"}},
		{Vendor: "nvidia", VendorID: "0x10de", DeviceID: "0x2330", PCIAddress: "0000:01:00.0", Class: "0x030200", Driver: "nvidia", Sources: []string{"sysfs"}},
		{Vendor: "amd", VendorID: "0x1002", DeviceID: "0x744c", PCIAddress: "0000:03:00.0", Class: "0x030000", Driver: "amdgpu",
			MemoryTotalBytes: 25753026560, MemoryFreeBytes: 25753026560 - 1048576000, Sources: []string{"sysfs"}},
		{Vendor: "nvidia", VendorID: "0x10de", DeviceID: "0x2684", PCIAddress: "0000:04:00.0", Class: "0x030000", Sources: []string{"sysfs"}},
	}
	if !reflect.DeepEqual(gpus, want) {
		t.Errorf("scanPCI:\n got %+v\nwant %+v", gpus, want)
	}
	wantProblems := []string{"0000:04:00.0 (nvidia): no kernel driver bound"}
	if !reflect.DeepEqual(problems, wantProblems) {
		t.Errorf("problems = %q, want %q", problems, wantProblems)
	}
}

func TestScanPCIBrokenDevice(t *testing.T) {
	sys := fakeSysfs(t, t.TempDir(), []pciDev{
		{addr: "0000:01:00.0", vendor: "0x10de", device: "0x2330", class: "garbage", driver: "nvidia"},
		{addr: "0000:02:00.0", vendor: "0x10de", device: "0x2330", class: "0x030200", driver: "nvidia"},
	})
	gpus, problems := scanPCI(sys)
	if len(gpus) != 1 || gpus[0].PCIAddress != "0000:02:00.0" {
		t.Errorf("gpus = %+v, want only 0000:02:00.0", gpus)
	}
	if len(problems) != 1 || !strings.Contains(problems[0], "0000:01:00.0: class: not a hex number") {
		t.Errorf("problems = %q", problems)
	}
}

func TestScanPCIMissingSysfs(t *testing.T) {
	gpus, problems := scanPCI(filepath.Join(t.TempDir(), "no-sys"))
	if len(gpus) != 0 {
		t.Errorf("gpus = %+v, want none", gpus)
	}
	if len(problems) != 1 || !strings.Contains(problems[0], "no PCI bus in sysfs") || !strings.Contains(problems[0], "PCI GPUs unknown") {
		t.Errorf("problems = %q", problems)
	}
}

// tinyPCIIDs is a pci.ids database in the real format, with just the
// devices the tests name.
const tinyPCIIDs = `# test pci.ids
10de  NVIDIA Corporation
	2330  GH100 [H100 SXM5 80GB]
8086  Intel Corporation
	a780  Raptor Lake-S GT1 [UHD Graphics 770]
C 03  Display controller
	00  VGA compatible controller
	02  3D controller
`

func TestDetectGPUsNamesAndDriverVersion(t *testing.T) {
	root := t.TempDir()
	sys := fakeSysfs(t, root, workstation)
	proc := filepath.Join(root, "proc")
	write(t, filepath.Join(proc, "driver", "nvidia", "version"),
		"NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.15  Tue Mar  5 22:23:56 UTC 2024\nGCC version:  gcc version 12.2.0 (Debian 12.2.0-14)\n")
	ids := filepath.Join(root, "pci.ids")
	write(t, ids, tinyPCIIDs)

	g := detectGPUs(Options{SysRoot: sys, ProcRoot: proc, PCIIDs: ids}.withDefaults())
	byAddr := map[string]GPU{}
	for _, d := range g.Devices {
		byAddr[d.PCIAddress] = d
	}
	if d := byAddr["0000:01:00.0"]; d.Model != "GH100 [H100 SXM5 80GB]" || d.DriverVersion != "550.54.15" ||
		!reflect.DeepEqual(d.Sources, []string{"sysfs", "pci.ids"}) {
		t.Errorf("NVIDIA card = %+v", d)
	}
	if d := byAddr["0000:00:02.0"]; d.Model != "Raptor Lake-S GT1 [UHD Graphics 770]" || d.DriverVersion != "" {
		t.Errorf("Intel iGPU = %+v", d)
	}
	if d := byAddr["0000:04:00.0"]; d.DriverVersion != "" {
		t.Errorf("driverless NVIDIA card got the module version: %+v", d)
	}
	// The AMD card and the driverless NVIDIA card are not in tinyPCIIDs.
	unnamed := unnamedGPUProblems(g)
	if len(unnamed) != 2 || !strings.Contains(unnamed[0], "0000:03:00.0 amd device 0x744c: model name unknown (not in the pci.ids database)") {
		t.Errorf("unnamed problems = %q", unnamed)
	}
}

func TestDetectGPUsNoPCIIDs(t *testing.T) {
	root := t.TempDir()
	sys := fakeSysfs(t, root, workstation[2:3])
	g := detectGPUs(Options{SysRoot: sys, ProcRoot: filepath.Join(root, "proc"), PCIIDs: filepath.Join(root, "missing.ids")}.withDefaults())
	if len(g.Devices) != 1 || g.Devices[0].Model != "" {
		t.Fatalf("devices = %+v", g.Devices)
	}
	unnamed := unnamedGPUProblems(g)
	if len(unnamed) != 1 || !strings.Contains(unnamed[0], "model name unknown (pci.ids:") {
		t.Errorf("unnamed problems = %q", unnamed)
	}
}

func TestTegraGPU(t *testing.T) {
	root := t.TempDir()
	sys := filepath.Join(root, "sys")
	base := filepath.Join(sys, "firmware", "devicetree", "base")
	write(t, filepath.Join(base, "compatible"), "nvidia,p3768-0000+p3767-0005\x00nvidia,p3767-0005\x00nvidia,tegra234\x00")
	write(t, filepath.Join(base, "model"), "NVIDIA Jetson Orin Nano Developer Kit\x00")
	g := detectGPUs(Options{SysRoot: sys, ProcRoot: filepath.Join(root, "proc")}.withDefaults())
	want := GPU{Vendor: "nvidia", Model: "Tegra integrated GPU (tegra234), NVIDIA Jetson Orin Nano Developer Kit", Integrated: true, Sources: []string{"devicetree"}}
	if len(g.Devices) != 1 || !reflect.DeepEqual(g.Devices[0], want) {
		t.Errorf("devices = %+v, want [%+v]", g.Devices, want)
	}
	// A Raspberry Pi's device tree names no NVIDIA part.
	write(t, filepath.Join(base, "compatible"), "raspberrypi,4-model-b\x00brcm,bcm2711\x00")
	if _, ok := tegraGPU(sys); ok {
		t.Error("tegraGPU found a GPU on a Raspberry Pi")
	}
}

func TestNVIDIAKernelVersion(t *testing.T) {
	proc := t.TempDir()
	p := filepath.Join(proc, "driver", "nvidia", "version")
	for line, want := range map[string]string{
		"NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.15  Tue Mar  5 22:23:56 UTC 2024":                                           "550.54.15",
		"NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  535.104.05  Release Build  (dvs-builder@U16-I3-B03-4-3)  Sat Aug 19 2023": "535.104.05",
		"NVRM version: NVIDIA UNIX Open Kernel Module for aarch64  540.4.0  Release Build  (buildbrain@mobile-u64-6336-d8000)":              "540.4.0",
	} {
		write(t, p, line+"\nGCC version:  gcc version 12.2.0\n")
		if v, err := nvidiaKernelVersion(proc); err != nil || v != want {
			t.Errorf("%q: got %q, %v; want %q", line, v, err, want)
		}
	}
	for _, bad := range []string{"something else 1.2\n", "NVRM version: no number here\n", ""} {
		write(t, p, bad)
		if v, err := nvidiaKernelVersion(proc); err == nil {
			t.Errorf("%q: got %q, want an error", bad, v)
		}
	}
}

func mkdir(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	mkdir(t, filepath.Dir(path))
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	mkdir(t, filepath.Dir(link))
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}
