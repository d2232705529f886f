package detect

import (
	"runtime"
	"sort"

	"golang.org/x/sys/cpu"
)

// simdFeatures lists the SIMD and matrix extensions of the CPU this process
// runs on that matter to inference kernels, sorted. golang.org/x/sys/cpu
// reads them from CPUID (x86, which also checks that the OS saves the
// AVX/AVX-512 registers) or the kernel's hwcaps (ARM).
func simdFeatures() []string {
	var fs []cpuFlag
	switch runtime.GOARCH {
	case "amd64", "386":
		x := &cpu.X86
		fs = []cpuFlag{
			{x.HasSSE3, "sse3"}, {x.HasSSSE3, "ssse3"},
			{x.HasSSE41, "sse4_1"}, {x.HasSSE42, "sse4_2"},
			{x.HasAVX, "avx"}, {x.HasAVX2, "avx2"},
			{x.HasFMA, "fma"}, {x.HasF16C, "f16c"},
			{x.HasAVXVNNI, "avx_vnni"}, {x.HasAVXVNNIInt8, "avx_vnni_int8"},
			{x.HasAVX512F, "avx512f"}, {x.HasAVX512BW, "avx512bw"},
			{x.HasAVX512DQ, "avx512dq"}, {x.HasAVX512VL, "avx512vl"},
			{x.HasAVX512VBMI, "avx512vbmi"}, {x.HasAVX512VNNI, "avx512_vnni"},
			{x.HasAVX512BF16, "avx512_bf16"},
			{x.HasAMXTile, "amx_tile"}, {x.HasAMXInt8, "amx_int8"},
			{x.HasAMXBF16, "amx_bf16"},
		}
		if runtime.GOARCH == "amd64" {
			fs = append(fs, cpuFlag{true, "sse2"}) // part of the amd64 baseline
		} else {
			fs = append(fs, cpuFlag{x.HasSSE2, "sse2"})
		}
	case "arm64":
		a := &cpu.ARM64
		fs = []cpuFlag{
			{a.HasASIMD, "neon"}, {a.HasASIMDHP, "fp16"},
			{a.HasASIMDDP, "dotprod"}, {a.HasI8MM, "i8mm"},
			{a.HasASIMDFHM, "fhm"},
			{a.HasSVE, "sve"}, {a.HasSVE2, "sve2"},
		}
	case "arm":
		a := &cpu.ARM
		fs = []cpuFlag{{a.HasNEON, "neon"}, {a.HasVFPv4, "vfpv4"}}
	}
	out := []string{}
	for _, f := range fs {
		if f.has {
			out = append(out, f.name)
		}
	}
	sort.Strings(out)
	return out
}

type cpuFlag struct {
	has  bool
	name string
}
