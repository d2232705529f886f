package cpu

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/outpost-iot/outpost/internal/testutil"
)

// kernelTests are the tests the arm64 run repeats: the primitives and
// kernels (Q8_0, its tiles bit for bit against the single dot, Q4_K and
// its int8 dots and quantizer, attention's row primitives, the
// elementwise ones and the others), and
// greedy decoding of the tiny, Q4_K and Q4_K_M models with Best (-short:
// a few dozen tokens), and the allocation-free decode step (the arm64
// wrappers are arm64's own); the other runner tests are slow under
// emulation and exercise the same kernels.
const kernelTests = "^(TestQuantizeQ8MatchesGGUF|TestDotPrimitives|TestMatMulFast|TestQ8TileBits|TestMatMulQ4K|TestQ4KExtremes|TestQ4KGreedyMatchesReference|TestElementwiseFast|TestExpf|TestRowPrimitives|TestAttentionFast|TestFastGreedyMatchesReference|TestForwardAllocatesNothing|TestScaleMulBits|TestRopeBits|TestExpSub|TestSwiGLUExtremes|TestElemKernelsSet|TestF16ShapeBits|TestMatMulF16Shapes|TestMatMulF16AllocatesNothing|TestF16GreedyMatchesReference|TestMatMulQ6K|TestDotQ6K|TestQ6KExtremes|TestQ4KMGreedyMatchesReference|TestDotQ4KQ8KBits|TestDotQ6KQ8KBits|TestQuantizeQ8K|TestBestSets|TestDotQ8Q8KBits|TestQ8GroupScales|TestDotQ8Q8K)$"

// TestNEONKernelsUnderQemu cross-compiles this package's tests for arm64
// and runs the kernel tests under qemu-user, so the NEON assembly is
// checked on every amd64 machine. `make test` installs qemu
// (scripts/test-deps.sh); without it the test skips, or fails under
// CI=true.
func TestNEONKernelsUnderQemu(t *testing.T) {
	if runtime.GOARCH != "amd64" || runtime.GOOS != "linux" {
		t.Skip("cross-runs arm64 tests from linux/amd64 only (arm64 runs them natively)")
	}
	qemu, err := exec.LookPath("qemu-aarch64-static")
	if err != nil {
		qemu = testutil.NeedTool(t, "qemu-aarch64")
	}
	goTool := testutil.NeedTool(t, "go")
	bin := filepath.Join(t.TempDir(), "cpu.test")
	build := exec.Command(goTool, "test", "-c", "-o", bin, ".")
	build.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("cross-compile: %v\n%s", err, out)
	}
	run := exec.Command(qemu, bin, "-test.count=1", "-test.short", "-test.v", "-test.run", kernelTests)
	run.Env = append(os.Environ(), "CI=") // no nested qemu run to insist on
	out, err := run.CombinedOutput()
	if err != nil {
		t.Fatalf("arm64 kernel tests under %s: %v\n%s", filepath.Base(qemu), err, out)
	}
	// The NEON subtests must have run, not only the portable ones: the
	// plain set's, and Best's greedy runs, whose set is "neon" or, where
	// the emulated CPU has SDOT (qemu's default one does),
	// "neon-dotprod" (with "-f32act" for the runs on float32 activations).
	for _, sub := range []string{"TestMatMulFast/neon ", "TestQ8TileBits/neon ", "TestMatMulQ4K/neon ", "TestFastGreedyMatchesReference/neon", "TestQ4KGreedyMatchesReference/neon"} {
		if !bytes.Contains(out, []byte("--- PASS: "+sub)) {
			t.Fatalf("no %s in the arm64 run:\n%s", sub, out)
		}
	}
	t.Logf("arm64 kernel tests passed under %s", filepath.Base(qemu))
}
