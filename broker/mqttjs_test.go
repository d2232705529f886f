package broker_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// needTool returns the path of an external program a test needs. Missing
// tools skip the test on a developer's machine but fail it under CI=true,
// where `make test` must have installed them.
func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not installed; `make test` installs it", name)
		}
		t.Skipf("%s not installed; run `make test-deps`", name)
	}
	return p
}

func needMQTTJS(t *testing.T) (node, dir string) {
	t.Helper()
	node = needTool(t, "node")
	dir, _ = filepath.Abs("testdata/mqttjs")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "mqtt")); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("mqtt.js not installed in %s; `make test` installs it", dir)
		}
		t.Skipf("mqtt.js not installed; run `make test-deps`")
	}
	return node, dir
}

// TestMQTTJS runs mqtt.js against the gateway over WebSocket and TCP.
func TestMQTTJS(t *testing.T) {
	node, dir := needMQTTJS(t)
	s := startGateway(t, t.TempDir(), nil)
	for name, url := range map[string]string{
		"websocket": "ws://" + s.HTTPAddr().String() + "/mqtt",
		"tcp":       "mqtt://" + s.MQTTAddr().String(),
	} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, node, "pubsub.mjs", url)
			cmd.Dir = dir
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("mqtt.js: %v\n%s", err, out)
			}
		})
	}
}
