// Package examples_test runs every firmware example against a real gateway.
//
// TestMain builds the outpost binary once. Each language's test then starts
// a gateway on random loopback ports (startGateway), sets the device twin's
// desired configuration (twinCall "setDesired"), runs the example's run.sh
// with DEVICE_* variables (runExample, or startExample for continuous mode),
// and asserts through the twin's callables that the device acknowledged the
// configuration and that its telemetry was stored (checkCycle).
//
// The helpers here are shared by every language's test file (go_test.go,
// js_test.go, c_test.go, python_test.go, ...). External programs are found
// with testutil.NeedTool: missing ones skip a test locally and fail it under
// CI=true.
package examples_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	paho5 "github.com/eclipse/paho.golang/paho"

	"github.com/outpost-iot/outpost/codecs"
)

const (
	// waitLong bounds a gateway's start and stop, an rpc and a poll.
	waitLong = 30 * time.Second
	// exampleTimeout bounds one run of an example's run.sh, build included
	// (a cold `go build` or `npm ci` on a busy machine).
	exampleTimeout = 4 * time.Minute
)

var (
	// outpostBin is the outpost binary built once by TestMain.
	outpostBin string
	// repoRoot is the repository root (the parent of firmware-examples).
	repoRoot string
)

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	root, err := filepath.Abs("..")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	repoRoot = root
	dir, err := os.MkdirTemp("", "outpost-examples-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	outpostBin = filepath.Join(dir, "outpost")
	build := exec.Command("go", "build", "-o", outpostBin, "./cmd/outpost")
	build.Dir = repoRoot
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build outpost:", err)
		return 1
	}
	return m.Run()
}

// gateway is a running `outpost serve` process started by startGateway.
type gateway struct {
	// mqttURL is the MQTT over TCP listener, tcp://127.0.0.1:PORT.
	mqttURL string
	// mqttAddr is the same listener as host:port.
	mqttAddr string
	// wsURL is MQTT over WebSocket, ws://127.0.0.1:PORT/mqtt.
	wsURL string
	// httpAddr is the HTTP listener as host:port.
	httpAddr string
	// dataDir is the gateway's --data-dir; restart keeps it.
	dataDir string

	// callUser and callPassword, when set, are the credentials twinCall
	// connects with (an admin user on a gateway with --credentials).
	callUser, callPassword string

	args []string // the caller's extra serve flags
	mu   sync.Mutex
	log  bytes.Buffer // every run's stderr
	cmd  *exec.Cmd
	done chan error
}

// startGateway runs `outpost serve` with a temporary --data-dir, random
// loopback ports and JSON logs, waits for its "gateway listening" line and
// stops it when the test ends. args are extra serve flags; a --data-dir
// among them replaces the temporary one.
func startGateway(t *testing.T, args ...string) *gateway {
	t.Helper()
	g := &gateway{dataDir: filepath.Join(t.TempDir(), "data"), args: args}
	for i, a := range args {
		if a == "--data-dir" && i+1 < len(args) {
			g.dataDir = args[i+1]
		} else if v, ok := strings.CutPrefix(a, "--data-dir="); ok {
			g.dataDir = v
		}
	}
	g.start(t, "0", "0")
	t.Cleanup(func() {
		if g.running() {
			if err := g.stop(); err != nil {
				t.Logf("outpost stop: %v", err)
			}
		}
		if t.Failed() {
			t.Logf("outpost log:\n%s", g.logs())
		}
	})
	return g
}

// start runs the binary on the given ports ("0": random).
func (g *gateway) start(t *testing.T, mqttPort, httpPort string) {
	t.Helper()
	args := append([]string{"serve", "--data-dir", g.dataDir, "--log-format", "json"}, g.args...)
	args = append(args, "--mqtt-port", mqttPort, "--http-port", httpPort)
	cmd := exec.Command(outpostBin, args...)
	cmd.Dir = repoRoot
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	ready := make(chan [2]string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			g.mu.Lock()
			g.log.WriteString(line + "\n")
			g.mu.Unlock()
			var rec struct{ Msg, MQTT, HTTP string }
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "gateway listening" {
				ready <- [2]string{rec.MQTT, rec.HTTP}
			}
		}
		done <- cmd.Wait()
	}()
	g.mu.Lock()
	g.cmd, g.done = cmd, done
	g.mu.Unlock()
	select {
	case addrs := <-ready:
		m, err1 := url.Parse(addrs[0])
		h, err2 := url.Parse(addrs[1])
		if err1 != nil || err2 != nil {
			t.Fatalf("gateway listening on %q and %q", addrs[0], addrs[1])
		}
		g.mqttAddr = m.Host
		g.mqttURL = "tcp://" + m.Host
		g.httpAddr = h.Host
		g.wsURL = "ws://" + h.Host + "/mqtt"
	case err := <-done:
		t.Fatalf("outpost exited before listening: %v\n%s", err, g.logs())
	case <-time.After(waitLong):
		cmd.Process.Kill()
		t.Fatalf("outpost did not start\n%s", g.logs())
	}
}

func (g *gateway) running() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.cmd != nil && g.cmd.ProcessState == nil
}

// stop sends SIGTERM and waits for the exit (SIGKILL after waitLong).
func (g *gateway) stop() error {
	g.mu.Lock()
	cmd, done := g.cmd, g.done
	g.mu.Unlock()
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-done:
		return err
	case <-time.After(waitLong):
		cmd.Process.Kill()
		<-done
		return fmt.Errorf("outpost did not stop on SIGTERM")
	}
}

// restart stops the gateway with SIGTERM and starts it again on the same
// ports and data directory, as a device sees a gateway reboot.
func (g *gateway) restart(t *testing.T) {
	t.Helper()
	if err := g.stop(); err != nil {
		t.Fatalf("outpost stop: %v\n%s", err, g.logs())
	}
	_, mqttPort, _ := net.SplitHostPort(g.mqttAddr)
	_, httpPort, _ := net.SplitHostPort(g.httpAddr)
	g.start(t, mqttPort, httpPort)
}

// logs returns everything the gateway wrote to stderr, over every start.
func (g *gateway) logs() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.log.String()
}

// deviceEnv is the environment of an example that talks MQTT over TCP to
// g as the twin named device, plus extra NAME=VALUE entries.
func (g *gateway) deviceEnv(device string, extra ...string) []string {
	return append([]string{"DEVICE_MQTT_URL=" + g.mqttURL, "DEVICE_NAME=" + device}, extra...)
}

// wsDeviceEnv is deviceEnv over MQTT over WebSocket (the JS example).
func (g *gateway) wsDeviceEnv(device string, extra ...string) []string {
	return append([]string{"DEVICE_MQTT_URL=" + g.wsURL, "DEVICE_NAME=" + device}, extra...)
}

// exampleCmd is the command for firmware-examples/<dir>/run.sh, run from
// the repository root (as the README tells users to) with env added to the
// test's environment. DEVICE_* variables of the test's own environment are
// dropped so that only env configures the device.
func exampleCmd(ctx context.Context, dir string, env []string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, filepath.Join("firmware-examples", dir, "run.sh"), args...)
	cmd.Dir = repoRoot
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DEVICE_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// runExample runs firmware-examples/<dir>/run.sh (dir is relative to
// firmware-examples, e.g. "go/paho3") from the repository root with the
// DEVICE_* variables in env and the given arguments, within
// exampleTimeout, and returns its combined output. The output is logged
// when the test fails.
func runExample(t *testing.T, dir string, env []string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), exampleTimeout)
	defer cancel()
	out, err := exampleCmd(ctx, dir, env, args...).CombinedOutput()
	if ctx.Err() != nil {
		err = fmt.Errorf("%s/run.sh did not finish within %v: %w", dir, exampleTimeout, err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("%s/run.sh %s:\n%s", dir, strings.Join(args, " "), out)
		}
	})
	return string(out), err
}

// example is an example running in the background (continuous mode).
type example struct {
	cmd  *exec.Cmd
	out  *lockedBuffer
	done chan error
}

// startExample starts firmware-examples/<dir>/run.sh in the background, as
// runExample does, and stops it (SIGTERM to its process group, then
// SIGKILL) when the test ends.
func startExample(t *testing.T, dir string, env []string, args ...string) *example {
	t.Helper()
	cmd := exampleCmd(context.Background(), dir, env, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	e := &example{cmd: cmd, out: &lockedBuffer{}, done: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = e.out, e.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { e.done <- cmd.Wait() }()
	t.Cleanup(func() {
		e.stop()
		if t.Failed() {
			t.Logf("%s/run.sh %s:\n%s", dir, strings.Join(args, " "), e.output())
		}
	})
	return e
}

// stop ends the example's process group and waits for it.
func (e *example) stop() {
	select {
	case err := <-e.done:
		e.done <- err
		return
	default:
	}
	syscall.Kill(-e.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case err := <-e.done:
		e.done <- err
	case <-time.After(10 * time.Second):
		syscall.Kill(-e.cmd.Process.Pid, syscall.SIGKILL)
		e.done <- <-e.done
	}
}

// exited reports whether the example's process has ended, and how.
func (e *example) exited() (bool, error) {
	select {
	case err := <-e.done:
		e.done <- err
		return true, err
	default:
		return false, nil
	}
}

// output is what the example printed so far.
func (e *example) output() string { return e.out.String() }

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

var callSeq atomic.Int64

// twinCall calls method on the twin named device over MQTT 5
// request/response with CBOR (paho.golang): it publishes an rpc frame to
// agents/twin/{device}/in with a response topic of its own, without
// joining the twin, and returns the reply frame ({"type": "rpc", "id",
// "success": true, "result", "done"}); integers decode as int64. A failed
// call fails the test. It connects with g.callUser and g.callPassword when
// set.
func twinCall(t *testing.T, g *gateway, device, method string, args ...any) map[string]any {
	t.Helper()
	m, err := twinCallErr(g, device, method, args...)
	if err != nil {
		t.Fatalf("twin %s %s: %v", device, method, err)
	}
	return m
}

func twinCallErr(g *gateway, device, method string, args ...any) (map[string]any, error) {
	cb, err := codecs.New("cbor", codecs.Limits{})
	if err != nil {
		return nil, err
	}
	conn, err := net.DialTimeout("tcp", g.mqttAddr, waitLong)
	if err != nil {
		return nil, err
	}
	id := fmt.Sprintf("examples-call-%d-%d", os.Getpid(), callSeq.Add(1))
	replies := make(chan []byte, 4)
	c := paho5.NewClient(paho5.ClientConfig{ClientID: id, Conn: conn,
		OnPublishReceived: []func(paho5.PublishReceived) (bool, error){func(pr paho5.PublishReceived) (bool, error) {
			select {
			case replies <- pr.Packet.Payload:
			default:
			}
			return true, nil
		}}})
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	cp := &paho5.Connect{ClientID: id, CleanStart: true, KeepAlive: 30}
	if g.callUser != "" {
		cp.UsernameFlag, cp.Username = true, g.callUser
		cp.PasswordFlag, cp.Password = true, []byte(g.callPassword)
	}
	if ca, err := c.Connect(ctx, cp); err != nil {
		conn.Close()
		return nil, fmt.Errorf("connect: %w (%+v)", err, ca)
	}
	defer c.Disconnect(&paho5.Disconnect{})
	reply := "examples/replies/" + id
	if _, err := c.Subscribe(ctx, &paho5.Subscribe{Subscriptions: []paho5.SubscribeOptions{{Topic: reply, QoS: 1}}}); err != nil {
		return nil, fmt.Errorf("subscribe: %w", err)
	}
	if args == nil {
		args = []any{}
	}
	req, err := cb.Marshal(map[string]any{"type": "rpc", "id": id, "method": method, "args": args})
	if err != nil {
		return nil, err
	}
	r, err := c.Publish(ctx, &paho5.Publish{Topic: "agents/twin/" + device + "/in", QoS: 1, Payload: req,
		Properties: &paho5.PublishProperties{ResponseTopic: reply, CorrelationData: []byte(id)}})
	if err != nil {
		return nil, fmt.Errorf("publish: %w", err)
	}
	if r.ReasonCode != 0 {
		return nil, fmt.Errorf("publish refused: reason code %#x %s", r.ReasonCode, r.Properties.ReasonString)
	}
	select {
	case data := <-replies:
		v, err := cb.Unmarshal(data)
		if err != nil {
			return nil, fmt.Errorf("reply %x: %w", data, err)
		}
		m, _ := v.(map[string]any)
		if m["type"] != "rpc" || m["id"] != id || m["success"] != true {
			return nil, fmt.Errorf("reply %v", m)
		}
		return m, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("no reply within %v", waitLong)
	}
}

// addUser runs `outpost passwd add NAME --password-stdin --credentials
// FILE ARGS...` with password on standard input.
func addUser(t *testing.T, file, name, password string, args ...string) {
	t.Helper()
	args = append([]string{"passwd", "add", name, "--password-stdin", "--credentials", file}, args...)
	cmd := exec.Command(outpostBin, args...)
	cmd.Stdin = strings.NewReader(password + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("outpost %v: %v\n%s", args, err, out)
	}
}

// credentialsGateway starts a gateway with a credentials file holding the
// device user dev (password dev-secret, access rules devRules, e.g.
// "--agent", "twin/%u") and the admin ops (ops-secret), whom twinCall
// uses.
func credentialsGateway(t *testing.T, devRules ...string) *gateway {
	t.Helper()
	creds := filepath.Join(t.TempDir(), "credentials.yaml")
	addUser(t, creds, "dev", "dev-secret", devRules...)
	addUser(t, creds, "ops", "ops-secret", "--admin")
	g := startGateway(t, "--credentials", creds)
	g.callUser, g.callPassword = "ops", "ops-secret"
	return g
}

// setDesired sets the twin's desired configuration and returns its new
// version.
func setDesired(t *testing.T, g *gateway, device string, config map[string]any) int64 {
	t.Helper()
	v, ok := twinCall(t, g, device, "setDesired", config)["result"].(int64)
	if !ok {
		t.Fatalf("setDesired returned no version")
	}
	return v
}

// telemetryCount is the number of telemetry samples the twin stored, over
// every key (history's count aggregate).
func telemetryCount(t *testing.T, g *gateway, device string) int64 {
	t.Helper()
	res, _ := twinCall(t, g, device, "history", nil, nil, nil, "count")["result"].(map[string]any)
	rows, _ := res["rows"].([]any)
	var n int64
	for _, r := range rows {
		vals, _ := r.(map[string]any)["values"].(map[string]any)
		for _, c := range vals {
			if c, ok := c.(int64); ok {
				n += c
			}
		}
	}
	return n
}

// poll calls cond until it returns true or waitLong passes; it fails the
// test with what's message returns then.
func poll(t *testing.T, cond func() bool, what func() string) {
	t.Helper()
	deadline := time.Now().Add(waitLong)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", waitLong, what())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// checkCycle asserts through the twin's callables that the device named
// device did its cycle: `desired` reports acked_version = version (the
// device applied and acknowledged that configuration) with no ack_error,
// and `history` holds at least one telemetry row whose values are all
// numbers, bools or text (CBOR values, never a JSON string of the frame).
// It polls, since a device's QoS 1 publishes may still be on their way.
func checkCycle(t *testing.T, g *gateway, device string, version int64) {
	t.Helper()
	var d map[string]any
	poll(t, func() bool {
		d, _ = twinCall(t, g, device, "desired")["result"].(map[string]any)
		return d["acked_version"] == version
	}, func() string { return fmt.Sprintf("twin %s desired() = %v, want acked_version %d", device, d, version) })
	if d["ack_error"] != "" {
		t.Errorf("twin %s ack_error %q", device, d["ack_error"])
	}
	var res map[string]any
	poll(t, func() bool {
		res, _ = twinCall(t, g, device, "history")["result"].(map[string]any)
		rows, _ := res["rows"].([]any)
		return len(rows) > 0
	}, func() string { return fmt.Sprintf("twin %s history() = %v, want telemetry", device, res) })
	for _, r := range res["rows"].([]any) {
		row, _ := r.(map[string]any)
		if ts, ok := row["ts"].(int64); !ok || ts <= 0 {
			t.Errorf("history row %v: no ts", row)
		}
		vals, _ := row["values"].(map[string]any)
		if len(vals) == 0 {
			t.Errorf("history row %v: no values", row)
		}
		for k, v := range vals {
			switch v.(type) {
			case int64, uint64, float64, float32, bool, string, nil:
			default:
				t.Errorf("history row %v: value of %q is %T", row, k, v)
			}
		}
	}
}

// TestHarness checks the helpers themselves: a gateway starts, twinCall
// reaches the twin, setDesired bumps the version, and after restart the
// gateway listens on the same ports with the same data.
func TestHarness(t *testing.T) {
	g := startGateway(t)
	if !strings.HasPrefix(g.mqttURL, "tcp://127.0.0.1:") || !strings.HasPrefix(g.wsURL, "ws://127.0.0.1:") || !strings.HasSuffix(g.wsURL, "/mqtt") {
		t.Fatalf("urls %q %q", g.mqttURL, g.wsURL)
	}
	if v := setDesired(t, g, "harness", map[string]any{"interval_s": int64(5)}); v != 1 {
		t.Fatalf("setDesired version %d", v)
	}
	if n := telemetryCount(t, g, "harness"); n != 0 {
		t.Fatalf("telemetry count %d on a new twin", n)
	}
	mqtt, ws := g.mqttURL, g.wsURL
	g.restart(t)
	if g.mqttURL != mqtt || g.wsURL != ws {
		t.Fatalf("restart moved the gateway: %s %s, was %s %s", g.mqttURL, g.wsURL, mqtt, ws)
	}
	d := twinCall(t, g, "harness", "desired")["result"].(map[string]any)
	if d["version"] != int64(1) || d["acked_version"] != int64(-1) {
		t.Fatalf("desired after restart %v", d)
	}
}
