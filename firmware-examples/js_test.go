package examples_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/outpost-iot/outpost/internal/testutil"
)

// needJS skips (locally) or fails (CI=true) a test when Node.js or the JS
// example's npm packages (scripts/test-deps.sh installs them) are missing.
func needJS(t *testing.T) string {
	t.Helper()
	node := testutil.NeedTool(t, "node")
	for _, pkg := range []string{"mqtt", "cbor2"} {
		if _, err := os.Stat(filepath.Join("js", "node_modules", pkg)); err != nil {
			testutil.Missing(t, "firmware-examples/js/node_modules/"+pkg+" not installed")
		}
	}
	return node
}

// TestJSGolden: the JS example's frames agree byte for byte with
// codecs/testdata/golden (golden.mjs).
func TestJSGolden(t *testing.T) {
	node := needJS(t)
	out, err := exec.Command(node, filepath.Join("js", "golden.mjs")).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "golden ok") {
		t.Fatalf("golden.mjs: %v\n%s", err, out)
	}
}

// TestJSOnce: the mqtt.js example's cycle over MQTT over WebSocket.
func TestJSOnce(t *testing.T) {
	needJS(t)
	onceCycle(t, "js", true)
}

// TestJSRestart: the mqtt.js example survives a gateway restart.
func TestJSRestart(t *testing.T) {
	needJS(t)
	restartCycle(t, "js", func(g *gateway) []string { return g.wsDeviceEnv("device-1") })
}

// TestJSRefused: a configuration the JS device cannot run (interval_s 0)
// is acked with ok=false and the reason (refusedConfig, c_test.go).
func TestJSRefused(t *testing.T) {
	needJS(t)
	refusedConfig(t, "js")
}
