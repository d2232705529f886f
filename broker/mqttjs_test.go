package broker_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/outpost-iot/outpost/internal/testutil"
)

func needMQTTJS(t *testing.T) (node, dir string) {
	t.Helper()
	node = testutil.NeedTool(t, "node")
	dir, _ = filepath.Abs("testdata/mqttjs")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "mqtt")); err != nil {
		testutil.Missing(t, "mqtt.js not installed in "+dir)
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
