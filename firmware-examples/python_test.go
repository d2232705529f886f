package examples_test

import (
	"os/exec"
	"testing"

	"github.com/outpost-iot/outpost/internal/testutil"
)

// needPython skips (locally) or fails (CI=true) without a python3 that
// has Debian's python3-paho-mqtt and python3-cbor2 (run.sh looks for one
// the same way; scripts/test-deps.sh installs them).
func needPython(t *testing.T) {
	t.Helper()
	testutil.NeedTool(t, "python3")
	for _, py := range []string{"python3", "/usr/bin/python3"} {
		if exec.Command(py, "-c", "import cbor2, paho.mqtt.client").Run() == nil {
			return
		}
	}
	testutil.Missing(t, "python3-paho-mqtt or python3-cbor2 not installed")
}

// TestPython: the Python example (paho-mqtt 1.6, cbor2).
func TestPython(t *testing.T) { exampleSuite(t, "python", needPython) }
