package examples_test

import (
	"fmt"
	"strings"
	"testing"
)

// desiredConfig is the configuration the tests set before a device runs.
var desiredConfig = map[string]any{"interval_s": int64(30), "led": true, "unit": "C"}

// onceCycle is the test of one example's --once run: a gateway, a desired
// configuration (version 1) set before the device joins, one cycle, then
// the twin's view of it.
func onceCycle(t *testing.T, dir string, ws bool) {
	t.Helper()
	g := startGateway(t)
	const device = "device-1"
	v := setDesired(t, g, device, desiredConfig)
	env := g.deviceEnv(device)
	if ws {
		env = g.wsDeviceEnv(device)
	}
	out, err := runExample(t, dir, env, "--once")
	if err != nil {
		t.Fatalf("%s --once: %v\n%s", dir, err, out)
	}
	checkCycle(t, g, device, v)
}

// TestGoPaho3Once: the paho.mqtt.golang (MQTT 3.1.1) example's cycle.
func TestGoPaho3Once(t *testing.T) { onceCycle(t, "go/paho3", false) }

// TestGoPaho5Once: the paho.golang (MQTT 5, response topic) example's cycle.
func TestGoPaho5Once(t *testing.T) { onceCycle(t, "go/paho5", false) }

// goCredentialsCycle runs a Go example on a gateway with a credentials
// file (credentialsGateway): a wrong password makes --once fail with a
// FAILED line; the right one runs the cycle.
func goCredentialsCycle(t *testing.T, dir string, devRules ...string) {
	t.Helper()
	g := credentialsGateway(t, devRules...)
	v := setDesired(t, g, "dev", desiredConfig)

	out, err := runExample(t, dir, g.deviceEnv("dev", "DEVICE_USER=dev", "DEVICE_PASSWORD=wrong"), "--once")
	if err == nil {
		t.Fatalf("--once with a wrong password succeeded:\n%s", out)
	}
	if !strings.Contains(out, "FAILED") {
		t.Errorf("wrong password: no clear failure message:\n%s", out)
	}
	out, err = runExample(t, dir, g.deviceEnv("dev", "DEVICE_USER=dev", "DEVICE_PASSWORD=dev-secret"), "--once")
	if err != nil {
		t.Fatalf("--once as dev: %v\n%s", err, out)
	}
	checkCycle(t, g, "dev", v)
}

// TestGoPaho3Credentials: paho3 as user dev, whose only rule is the agent
// twin/%u.
func TestGoPaho3Credentials(t *testing.T) {
	goCredentialsCycle(t, "go/paho3", "--agent", "twin/%u")
}

// TestGoPaho5Credentials: paho5 as user dev, who also needs its response
// topic replies/%u (the gateway takes a response topic only if the client
// may subscribe to it).
func TestGoPaho5Credentials(t *testing.T) {
	goCredentialsCycle(t, "go/paho5", "--agent", "twin/%u", "--topic", "replies/%u")
}

// restartCycle runs an example in continuous mode, restarts the gateway
// under it, and checks that the device joins again (it acks a
// configuration set after the restart) and that telemetry keeps arriving.
// A --once run first builds the example (run.sh may compile for minutes
// on a cold cache, within runExample's timeout rather than a poll's).
func restartCycle(t *testing.T, dir string, env func(*gateway) []string) {
	t.Helper()
	g := startGateway(t)
	const device = "device-1"
	v := setDesired(t, g, device, desiredConfig)
	if out, err := runExample(t, dir, env(g), "--once"); err != nil {
		t.Fatalf("%s --once: %v\n%s", dir, err, out)
	}
	checkCycle(t, g, device, v)

	e := startExample(t, dir, env(g), "--interval", "200ms")
	waitSamples := func(min int64) int64 {
		t.Helper()
		var n int64
		poll(t, func() bool {
			if done, err := e.exited(); done {
				t.Fatalf("%s exited: %v\n%s", dir, err, e.output())
			}
			n = telemetryCount(t, g, device)
			return n >= min
		}, func() string { return fmt.Sprintf("%d samples, want %d\n%s", n, min, e.output()) })
		return n
	}
	before := waitSamples(telemetryCount(t, g, device) + 4)

	g.restart(t)
	v2 := setDesired(t, g, device, map[string]any{"interval_s": int64(10)})
	checkCycle(t, g, device, v2)
	waitSamples(before + 4)
}

// TestGoPaho3Restart: the paho3 example survives a gateway restart.
func TestGoPaho3Restart(t *testing.T) {
	restartCycle(t, "go/paho3", func(g *gateway) []string { return g.deviceEnv("device-1") })
}

// TestGoPaho5Restart: the paho5 example survives a gateway restart.
func TestGoPaho5Restart(t *testing.T) {
	restartCycle(t, "go/paho5", func(g *gateway) []string { return g.deviceEnv("device-1") })
}

// TestGoPaho3Refused: a configuration paho3 cannot run (interval_s 0) is
// acked with ok=false and the reason; the cycle still succeeds
// (refusedConfig, c_test.go).
func TestGoPaho3Refused(t *testing.T) { refusedConfig(t, "go/paho3") }

// TestGoPaho5Refused: the same for paho5.
func TestGoPaho5Refused(t *testing.T) { refusedConfig(t, "go/paho5") }
