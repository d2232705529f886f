package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/outpost-iot/outpost/internal/testutil"
)

// binary is the outpost binary built once for the end-to-end tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "outpost-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "outpost")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build outpost:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// gateway is a running outpost process.
type gateway struct {
	cmd      *exec.Cmd
	mqttPort string
	httpAddr string
	mu       sync.Mutex
	log      bytes.Buffer
	done     chan error
}

func (g *gateway) logs() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.log.String()
}

// startBinary runs `outpost serve` on random loopback ports and waits for
// its "gateway listening" log line.
func startBinary(t *testing.T, args ...string) *gateway {
	t.Helper()
	return startBinaryAt(t, binary, args...)
}

// startBinaryAt runs the binary at path; a later --data-dir in args
// replaces the temporary one.
func startBinaryAt(t *testing.T, path string, args ...string) *gateway {
	t.Helper()
	base := []string{"serve", "--data-dir", filepath.Join(t.TempDir(), "data"), "--mqtt-port", "0", "--http-port", "0", "--log-format", "json"}
	cmd := exec.Command(path, append(base, args...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	g := &gateway{cmd: cmd, done: make(chan error, 1)}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			g.mu.Lock()
			g.log.WriteString(line + "\n")
			g.mu.Unlock()
			var rec struct{ Msg, MQTT, HTTP string }
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "gateway listening" {
				u, _ := url.Parse(rec.MQTT)
				g.mqttPort = u.Port()
				h, _ := url.Parse(rec.HTTP)
				g.httpAddr = h.Host
				close(ready)
			}
		}
		g.done <- cmd.Wait()
	}()
	select {
	case <-ready:
	case err := <-g.done:
		t.Fatalf("outpost exited before listening: %v\n%s", err, g.logs())
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("outpost did not start\n%s", g.logs())
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-g.done:
			case <-time.After(20 * time.Second):
				cmd.Process.Kill()
			}
		}
	})
	return g
}

// stop sends SIGTERM and returns the exit error.
func (g *gateway) stop(t *testing.T) error {
	t.Helper()
	g.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-g.done:
		return err
	case <-time.After(30 * time.Second):
		g.cmd.Process.Kill()
		t.Fatalf("outpost did not stop on SIGTERM\n%s", g.logs())
	}
	return nil
}

// runCmd runs a command with a deadline and returns its combined output.
func runCmd(t *testing.T, stdin string, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// subscribeOnce starts mosquitto_sub for count messages and returns a
// function that waits for its output. admin is a user the gateway's admin
// API admits (nil without credentials).
func subscribeOnce(t *testing.T, g *gateway, admin *url.Userinfo, topic string, count int, extra ...string) func() (string, error) {
	t.Helper()
	args := append([]string{"-h", "127.0.0.1", "-p", g.mqttPort, "-t", topic, "-C", fmt.Sprint(count), "-W", "15", "-v", "-q", "1"}, extra...)
	return startSubscriber(t, g, admin, "e2e-sub-"+topic, args...)
}

// startSubscriber runs mosquitto_sub with args as client id and returns
// once the gateway lists that client with its subscription (mosquitto_sub
// has no "subscribed" signal, and a fixed sleep is too short on a loaded
// machine: a publish sent before the subscription is simply never seen).
// The function returned waits for it to exit and returns its output.
func startSubscriber(t *testing.T, g *gateway, admin *url.Userinfo, id string, args ...string) func() (string, error) {
	t.Helper()
	cmd := exec.Command(testutil.NeedTool(t, "mosquitto_sub"), append([]string{"-i", id}, args...)...)
	var out bytes.Buffer // read once the command exited
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(agentWait)
	for !subscribed(t, g, admin, id) {
		select {
		case err := <-exited:
			t.Fatalf("mosquitto_sub %v exited before subscribing: %v\n%s", args, err, out.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			<-exited
			t.Fatalf("mosquitto_sub %v not subscribed after %v\n%s", args, agentWait, out.String())
		}
	}
	return func() (string, error) {
		err := <-exited
		return out.String(), err
	}
}

// subscribed reports whether the gateway lists client id, connected, with
// a subscription.
func subscribed(t *testing.T, g *gateway, admin *url.Userinfo, id string) bool {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+g.httpAddr+"/admin/clients", nil)
	if admin != nil {
		pw, _ := admin.Password()
		req.SetBasicAuth(admin.Username(), pw)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var rows []struct {
		ID            string `json:"id"`
		Connected     bool   `json:"connected"`
		Subscriptions int    `json:"subscriptions"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&rows); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("admin clients: %d %v", resp.StatusCode, err)
	}
	for _, r := range rows {
		if r.ID == id && r.Connected && r.Subscriptions > 0 {
			return true
		}
	}
	return false
}

func TestMosquittoClientsAnonymousOnLoopback(t *testing.T) {
	pub := testutil.NeedTool(t, "mosquitto_pub")
	g := startBinary(t)
	wait := subscribeOnce(t, g, nil, "e2e/#", 2)
	if out, err := runCmd(t, "", pub, "-h", "127.0.0.1", "-p", g.mqttPort, "-t", "e2e/a", "-m", "hello", "-q", "1"); err != nil {
		t.Fatalf("mosquitto_pub: %v %s", err, out)
	}
	if out, err := runCmd(t, "", pub, "-h", "127.0.0.1", "-p", g.mqttPort, "-t", "e2e/b", "-m", "v5", "-q", "2", "-V", "mqttv5"); err != nil {
		t.Fatalf("mosquitto_pub v5: %v %s", err, out)
	}
	out, err := wait()
	if err != nil || !strings.Contains(out, "e2e/a hello") || !strings.Contains(out, "e2e/b v5") {
		t.Fatalf("mosquitto_sub: %v\n%s", err, out)
	}
	if err := g.stop(t); err != nil {
		t.Fatalf("SIGTERM exit: %v\n%s", err, g.logs())
	}
	if !strings.Contains(g.logs(), "outpost stopped") {
		t.Fatalf("no clean stop in logs:\n%s", g.logs())
	}
}

func TestMosquittoClientsWithCredentials(t *testing.T) {
	pub := testutil.NeedTool(t, "mosquitto_pub")
	creds := filepath.Join(t.TempDir(), "creds.yaml")
	if out, err := runCmd(t, "dev-pw\n", binary, "passwd", "add", "dev", "--password-stdin", "--topic", "dev/%u/#", "--credentials", creds); err != nil {
		t.Fatalf("passwd add: %v %s", err, out)
	}
	if out, err := runCmd(t, "ops-pw\n", binary, "passwd", "add", "ops", "--admin", "--password-stdin", "--credentials", creds); err != nil {
		t.Fatalf("passwd add: %v %s", err, out)
	}
	g := startBinary(t, "--credentials", creds)
	p := g.mqttPort

	out, err := runCmd(t, "", pub, "-p", p, "-t", "dev/dev/x", "-m", "x", "-u", "dev", "-P", "wrong")
	if err == nil || !strings.Contains(out, "not authorised") {
		t.Fatalf("wrong password (MQTT 3.1.1): %v %q", err, out)
	}
	out, err = runCmd(t, "", pub, "-p", p, "-t", "dev/dev/x", "-m", "x", "-u", "dev", "-P", "wrong", "-V", "mqttv5")
	if err == nil || !strings.Contains(out, "Not authorized") {
		t.Fatalf("wrong password (MQTT 5): %v %q", err, out)
	}
	if out, err := runCmd(t, "", pub, "-p", p, "-t", "dev/dev/x", "-m", "x"); err == nil {
		t.Fatalf("anonymous publish accepted: %s", out)
	}

	ops := url.UserPassword("ops", "ops-pw")
	wait := subscribeOnce(t, g, ops, "#", 1, "-u", "ops", "-P", "ops-pw")
	// Outside dev's topics: refused with "not authorized" in the PUBACK.
	out, err = runCmd(t, "", pub, "-p", p, "-t", "other/topic", "-m", "denied", "-u", "dev", "-P", "dev-pw", "-q", "1", "-V", "mqttv5")
	if !strings.Contains(out, "Not authorized") {
		t.Fatalf("ACL denial: %v %q", err, out)
	}
	if out, err := runCmd(t, "", pub, "-p", p, "-t", "dev/dev/temp", "-m", "allowed", "-u", "dev", "-P", "dev-pw", "-q", "1"); err != nil {
		t.Fatalf("allowed publish: %v %s", err, out)
	}
	out, err = wait()
	if err != nil || strings.Contains(out, "denied") || !strings.Contains(out, "dev/dev/temp allowed") {
		t.Fatalf("subscriber saw: %v\n%s", err, out)
	}

	// SIGHUP reload: a user added while running can connect, and an open
	// connection stays up.
	hold := startSubscriber(t, g, ops, "e2e-hold", "-p", p, "-t", "dev/dev/#", "-u", "dev", "-P", "dev-pw", "-C", "1", "-W", "20")
	if out, err := runCmd(t, "new-pw\n", binary, "passwd", "add", "newbie", "--password-stdin", "--credentials", creds); err != nil {
		t.Fatalf("passwd add: %v %s", err, out)
	}
	g.cmd.Process.Signal(syscall.SIGHUP)
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(g.logs(), "reloaded credentials") && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if out, err := runCmd(t, "", pub, "-p", p, "-t", "n", "-m", "x", "-u", "newbie", "-P", "new-pw"); err != nil {
		t.Fatalf("user added before SIGHUP: %v %s", err, out)
	}
	if out, err := runCmd(t, "", pub, "-p", p, "-t", "dev/dev/after-reload", "-m", "still-here", "-u", "dev", "-P", "dev-pw", "-q", "1"); err != nil {
		t.Fatalf("publish after reload: %v %s", err, out)
	}
	if out, err := hold(); err != nil || !strings.Contains(out, "still-here") {
		t.Fatalf("connection across SIGHUP: %v %s", err, out)
	}
}

func TestNonLoopbackWithoutCredentialsRefused(t *testing.T) {
	out, err := runCmd(t, "", binary, "serve", "--listen", "0.0.0.0", "--data-dir", t.TempDir(), "--mqtt-port", "0", "--http-port", "0")
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() == 0 {
		t.Fatalf("exit: %v\n%s", err, out)
	}
	for _, want := range []string{"--credentials", "--allow-anonymous", "0.0.0.0"} {
		if !strings.Contains(out, want) {
			t.Errorf("message lacks %q:\n%s", want, out)
		}
	}
}

func TestInvalidConfigurationNamesField(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "outpost.yaml")
	os.WriteFile(cfg, []byte("mqtt_max_frame: 0\n"), 0o600)
	cases := []struct {
		env  []string
		args []string
		want string
	}{
		{nil, []string{"config", "--mqtt-port", "70000"}, "mqtt_port"},
		{[]string{"OUTPOST_LOG_FORMAT=xml"}, []string{"config"}, "log_format"},
		{nil, []string{"config", "--config", cfg}, "mqtt_max_frame"},
		{nil, []string{"config", "--sys-interval", "soon"}, "sys_interval"},
	}
	for _, c := range cases {
		cmd := exec.Command(binary, c.args...)
		cmd.Env = append(os.Environ(), c.env...)
		out, err := cmd.CombinedOutput()
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), c.want) {
			t.Errorf("%v %v: %v\n%s", c.env, c.args, err, out)
		}
	}
}

func TestConfigPrecedence(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "outpost.yaml")
	os.WriteFile(cfg, []byte("mqtt_port: 1001\nhttp_port: 1002\nlisten: localhost\n"), 0o600)
	cmd := exec.Command(binary, "config", "--config", cfg, "--http-port", "3002")
	cmd.Env = append(os.Environ(), "OUTPOST_HTTP_PORT=2002", "OUTPOST_MQTT_PORT=2001")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{"\nmqtt_port: 2001\n", "\nhttp_port: 3002\n", "\nlisten: localhost\n"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("effective config lacks %q:\n%s", want, out)
		}
	}
}

func TestHelpAndVersion(t *testing.T) {
	out, err := runCmd(t, "", binary, "version")
	if err != nil || !strings.HasPrefix(out, "outpost ") {
		t.Fatalf("version: %v %q", err, out)
	}
	out, err = runCmd(t, "", binary, "help")
	if err != nil || !strings.Contains(out, "examples:") {
		t.Fatalf("help: %v %q", err, out)
	}
	for cmd := range commandHelp {
		out, err := runCmd(t, "", binary, "help", cmd)
		if err != nil || !strings.Contains(out, "example") {
			t.Errorf("help %s: %v %q", cmd, err, out)
		}
	}
	if _, err := runCmd(t, "", binary, "frobnicate"); err == nil {
		t.Error("unknown command exited 0")
	}
}

func TestPasswdToken(t *testing.T) {
	creds := filepath.Join(t.TempDir(), "creds.yaml")
	if out, err := runCmd(t, "pw\n", binary, "passwd", "add", "ops", "--admin", "--password-stdin", "--credentials", creds); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	cmd := exec.Command(binary, "passwd", "token", "ops", "--name", "ci", "--credentials", creds)
	tokOut, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(string(tokOut))
	data, _ := os.ReadFile(creds)
	if strings.Contains(string(data), token) || strings.Contains(string(data), "pw\n") {
		t.Fatal("secret stored in the credentials file")
	}
	g := startBinary(t, "--credentials", creds)
	get := func(authz string) int {
		req, _ := http.NewRequest("GET", "http://"+g.httpAddr+"/admin/clients", nil)
		if authz != "" {
			req.Header.Set("Authorization", authz)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get("Bearer " + token); code != 200 {
		t.Fatalf("bearer token: %d", code)
	}
	if code := get(""); code != 401 {
		t.Fatalf("no credentials: %d", code)
	}
	if out, err := runCmd(t, "", binary, "passwd", "remove", "ops", "--credentials", creds); err != nil {
		t.Fatalf("remove: %v %s", err, out)
	}
	g.cmd.Process.Signal(syscall.SIGHUP)
	deadline := time.Now().Add(10 * time.Second)
	for get("Bearer "+token) != 401 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if code := get("Bearer " + token); code != 401 {
		t.Fatalf("token of a removed user after SIGHUP: %d", code)
	}
}

func TestDetect(t *testing.T) {
	out, err := runCmd(t, "", binary, "detect")
	if err != nil || !strings.Contains(out, "CPU:") || !strings.Contains(out, "Plan:") {
		t.Fatalf("detect: %v\n%s", err, out)
	}
	out, err = runCmd(t, "", binary, "detect", "--json")
	var r struct {
		CPU struct {
			PhysicalCores int `json:"physical_cores"`
		} `json:"cpu"`
	}
	if err != nil || json.Unmarshal([]byte(out), &r) != nil || r.CPU.PhysicalCores < 1 {
		t.Fatalf("detect --json: %v\n%s", err, out)
	}
}

func TestModelSynth(t *testing.T) {
	out := filepath.Join(t.TempDir(), "tiny.gguf")
	msg, err := runCmd(t, "", binary, "model", "synth", "--shape", "tiny", "--quant", "q8_0", out)
	if err != nil || !strings.Contains(msg, `model id "tiny"`) {
		t.Fatalf("model synth: %v\n%s", err, msg)
	}
	data, err := os.ReadFile(out)
	if err != nil || len(data) < 1000 || string(data[:4]) != "GGUF" {
		t.Fatalf("output: %d bytes, %v", len(data), err)
	}
	if _, err := runCmd(t, "", binary, "model", "synth", "--shape", "nope", out); err == nil {
		t.Fatal("unknown shape accepted")
	}
}
