// Package detect finds out what hardware the inference engine runs on and
// plans how to use it. It backs `outpost detect` and the engine's start-up.
//
// Detect never fails as a whole: each part records what it found and,
// separately, the Problems it met (what it could not see, and why), so a
// gateway on odd hardware still starts and says what it is missing. The
// flow, one part after another, checking ctx between parts:
//
//  1. CPU: model, physical cores and logical threads from
//     github.com/jaypipes/ghw (which reads /proc/cpuinfo and the sysfs CPU
//     topology); where ghw sees nothing, our own /proc/cpuinfo parser. The
//     SIMD features (AVX2, AVX-512, NEON, dot product, ...) come from
//     golang.org/x/sys/cpu, which asks the running CPU and the kernel, not a
//     file, so they describe this process's machine whatever the roots say.
//  2. Memory: total and available bytes from /proc/meminfo; ghw adds the
//     installed physical memory where sysfs lists memory blocks.
//  3. GPUs: a scan of {SysRoot}/bus/pci/devices for display controllers
//     (PCI class 0x03) from NVIDIA, AMD and Intel, with the bound kernel
//     driver, the NVIDIA kernel module version from
//     {ProcRoot}/driver/nvidia/version and AMD VRAM from amdgpu's sysfs
//     files; an NVIDIA Tegra (Jetson) integrated GPU from the device tree.
//     Vendor and model names come from a pci.ids database when one is
//     installed, read with github.com/jaypipes/pcidb, ghw's reader (never
//     fetched from the network). ghw's own GPU and PCI listings are not
//     used: the first walks /sys/class/drm, which headless data-centre
//     cards lack, and the second drops every device when one device lacks
//     a modalias file.
//  4. NVML: where libnvidia-ml.so.1 is installed, it is loaded at run time
//     with github.com/ebitengine/purego (no cgo) and asked for the driver
//     version and each device's name, PCI bus id and memory; its devices
//     are merged into the GPU list by PCI address. NVML is built on
//     linux/amd64 and linux/arm64 only, the platforms NVIDIA ships it for;
//     the build tag nonvml leaves it out (see nvml_purego.go for why one
//     might).
//  5. Plan: PlanFor turns the report and a model's shape into the engine's
//     choices: backend, threads, KV-cache blocks and maximum batch.
//
// Report.Format prints a short human summary; the Report's JSON form is what
// `outpost detect --json` prints.
package detect
