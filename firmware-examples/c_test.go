package examples_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/outpost-iot/outpost/internal/testutil"
)

// needC skips (locally) or fails (CI=true) without the C example's
// toolchain: gcc, make, pkg-config and Debian's libmosquitto-dev and
// libcbor-dev (scripts/test-deps.sh installs them).
func needC(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"gcc", "make", "pkg-config"} {
		testutil.NeedTool(t, tool)
	}
	if err := exec.Command("pkg-config", "--exists", "libmosquitto", "libcbor").Run(); err != nil {
		testutil.Missing(t, "libmosquitto-dev or libcbor-dev not installed")
	}
}

// tamperedGolden is a copy of codecs/testdata/golden in which the last
// byte of the file name is changed.
func tamperedGolden(t *testing.T, name string) string {
	t.Helper()
	src := filepath.Join(repoRoot, "codecs", "testdata", "golden")
	dst := t.TempDir()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if e.Name() == name {
			data[len(data)-1] ^= 1
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// goldenSelftest runs an example's golden self-test (run.sh --selftest:
// the frames it sends, encoded and compared byte for byte with
// codecs/testdata/golden, and the golden frames it receives, decoded),
// then checks that it fails once a sent frame's golden file (twin_ack) or
// a received one's (twin_desired) changes.
func goldenSelftest(t *testing.T, dir string) {
	t.Helper()
	out, err := runExample(t, dir, nil, "--selftest")
	if err != nil {
		t.Fatalf("%s --selftest: %v\n%s", dir, err, out)
	}
	if !strings.Contains(out, "selftest: all frames match") {
		t.Fatalf("%s --selftest: no verdict\n%s", dir, out)
	}
	for _, name := range []string{"twin_ack.cbor", "twin_desired.cbor"} {
		out, err := runExample(t, dir, nil, "--selftest", "--golden", tamperedGolden(t, name))
		if err == nil {
			t.Errorf("%s --selftest passed with a changed %s:\n%s", dir, name, out)
		}
	}
}

// credentialsCycle runs an example's --once against a gateway with a
// credentials file: a wrong password fails with a non-zero exit and a
// message, the right one (user dev, allowed twin/dev only) runs the cycle.
func credentialsCycle(t *testing.T, dir string) {
	t.Helper()
	creds := filepath.Join(t.TempDir(), "credentials.yaml")
	for _, u := range [][]string{
		{"dev-secret", "dev", "--agent", "twin/%u"},
		{"ops-secret", "ops", "--admin"},
	} {
		cmd := exec.Command(outpostBin, append([]string{"passwd", "add", u[1], "--password-stdin", "--credentials", creds}, u[2:]...)...)
		cmd.Stdin = strings.NewReader(u[0] + "\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("outpost passwd add %s: %v\n%s", u[1], err, out)
		}
	}
	g := startGateway(t, "--credentials", creds)
	g.callUser, g.callPassword = "ops", "ops-secret"
	v := setDesired(t, g, "dev", desiredConfig)
	out, err := runExample(t, dir, g.deviceEnv("dev", "DEVICE_USER=dev", "DEVICE_PASSWORD=wrong"), "--once", "--timeout", "10")
	if err == nil {
		t.Fatalf("%s --once with a wrong password succeeded:\n%s", dir, out)
	}
	if !strings.Contains(out, "FAILED: connection refused") {
		t.Errorf("%s: wrong password: no clear failure message:\n%s", dir, out)
	}
	out, err = runExample(t, dir, g.deviceEnv("dev", "DEVICE_USER=dev", "DEVICE_PASSWORD=dev-secret"), "--once")
	if err != nil {
		t.Fatalf("%s --once as dev: %v\n%s", dir, err, out)
	}
	checkCycle(t, g, "dev", v)
}

// refusedConfig: a desired configuration the device cannot run is
// refused with an ack of ok=false and the reason, which the twin reports
// as ack_error; the device keeps its configuration and runs its cycle.
func refusedConfig(t *testing.T, dir string) {
	t.Helper()
	g := startGateway(t)
	const device = "device-1"
	v := setDesired(t, g, device, map[string]any{"interval_s": int64(0), "led": true})
	out, err := runExample(t, dir, g.deviceEnv(device), "--once")
	if err != nil {
		t.Fatalf("%s --once: %v\n%s", dir, err, out)
	}
	d, _ := twinCall(t, g, device, "desired")["result"].(map[string]any)
	want := fmt.Sprintf("version %d: interval_s out of range", v)
	if d["ack_error"] != want || d["acked_version"] != int64(-1) {
		t.Fatalf("twin desired() = %v, want ack_error %q and acked_version -1", d, want)
	}
}

// exampleSuite runs the tests every device example passes, as subtests:
// Golden (its frames match codecs/testdata/golden byte for byte), Once (a
// cycle against a real gateway), Refused (an ack with ok=false for a
// configuration it cannot run), Credentials (it logs in; a wrong password
// fails) and Restart (in continuous mode it reconnects with backoff after
// a gateway restart, acks the configuration set after it and keeps
// sending telemetry). need skips or fails when the toolchain is missing.
func exampleSuite(t *testing.T, dir string, need func(*testing.T)) {
	need(t)
	t.Run("Golden", func(t *testing.T) { goldenSelftest(t, dir) })
	t.Run("Once", func(t *testing.T) { onceCycle(t, dir, false) })
	t.Run("Refused", func(t *testing.T) { refusedConfig(t, dir) })
	t.Run("Credentials", func(t *testing.T) { credentialsCycle(t, dir) })
	t.Run("Restart", func(t *testing.T) {
		restartCycle(t, dir, func(g *gateway) []string { return g.deviceEnv("device-1") })
	})
}

// TestC: the C example (libmosquitto, libcbor), built by make with -Wall
// -Wextra -Werror; then its decoder under AddressSanitizer and UBSan over
// 300,000 mutated golden frames (make fuzz).
func TestC(t *testing.T) {
	exampleSuite(t, "c", needC)
	t.Run("Sanitizers", func(t *testing.T) {
		cmd := exec.Command("make", "-s", "-C", filepath.Join("firmware-examples", "c"), "fuzz")
		cmd.Dir = repoRoot
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("make fuzz: %v\n%s", err, out)
		}
	})
}
