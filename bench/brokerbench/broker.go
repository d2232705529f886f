package main

// Broker subprocesses: free ports, start, readiness, shutdown.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

const startTimeout = 15 * time.Second

// broker is a broker under test: either a subprocess we started or an
// external address (cmd == nil).
type broker struct {
	name    string
	addr    string // host:port of the MQTT listener
	logPath string

	cmd      *exec.Cmd
	exited   chan struct{} // closed when the subprocess has exited
	waitErr  error         // valid after exited is closed
	stopOnce sync.Once
}

// alive reports whether the broker can still be benchmarked.
func (b *broker) alive() error {
	if b.cmd == nil {
		return nil
	}
	select {
	case <-b.exited:
		return fmt.Errorf("%s exited (%v); log %s:\n%s", b.name, b.waitErr, b.logPath, logTail(b.logPath))
	default:
		return nil
	}
}

// stop terminates the subprocess group: SIGTERM, then SIGKILL after 3s.
func (b *broker) stop() {
	if b == nil || b.cmd == nil {
		return
	}
	b.stopOnce.Do(func() {
		pgid := b.cmd.Process.Pid
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-b.exited:
		case <-time.After(3 * time.Second):
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			select {
			case <-b.exited:
			case <-time.After(2 * time.Second):
			}
		}
		// The group may still hold children if the leader exited first.
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
	})
}

// freePort asks the kernel for a free loopback port (never 1883, which a
// system Mosquitto may own).
func freePort() (int, error) {
	for range 10 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		p := l.Addr().(*net.TCPAddr).Port
		_ = l.Close()
		if p != 1883 {
			return p, nil
		}
	}
	return 0, errors.New("no free port")
}

// startBroker starts argv (optionally under taskset), with stdout and stderr
// in logPath, in its own process group, and waits until addr accepts TCP
// connections.
func startBroker(ctx context.Context, name, addr, logPath string, pin bool, argv []string) (*broker, error) {
	if pin {
		argv = append([]string{"taskset", "-c", "0"}, argv...)
	}
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close() // the child has its own copy
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setpgid:   true,            // Ctrl-C goes to us; we stop the whole group
		Pdeathsig: syscall.SIGKILL, // and it dies with us if we are killed hard
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s (%s): %w", name, strings.Join(argv, " "), err)
	}
	b := &broker{name: name, addr: addr, logPath: logPath, cmd: cmd, exited: make(chan struct{})}
	go func() {
		b.waitErr = cmd.Wait()
		close(b.exited)
	}()
	if err := waitListening(ctx, addr, startTimeout, b.exited); err != nil {
		b.stop()
		return nil, fmt.Errorf("%s (%s) did not come up: %w; log %s:\n%s",
			name, strings.Join(argv, " "), err, logPath, logTail(logPath))
	}
	return b, nil
}

// waitListening polls addr until it accepts a TCP connection.
func waitListening(ctx context.Context, addr string, timeout time.Duration, exited <-chan struct{}) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, 500*time.Millisecond)
		if err == nil {
			_ = c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not accepting connections after %v: %w", addr, timeout, err)
		}
		select {
		case <-exited:
			return errors.New("process exited")
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// startMosquitto writes a config for a free loopback port and starts bin.
// nodelay adds set_tcp_nodelay (Mosquitto leaves Nagle's algorithm on by
// default, which adds milliseconds to fan-out latency below saturation).
func startMosquitto(ctx context.Context, bin, dir string, pin, nodelay bool) (*broker, error) {
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("mosquitto not found at %s (%v): install it with `apt-get install mosquitto`, "+
			"or pass --mosquitto PATH or --mosquitto-addr HOST:PORT", bin, err)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	conf := filepath.Join(dir, "mosquitto.conf")
	text := fmt.Sprintf("per_listener_settings false\nallow_anonymous true\npersistence false\nlistener %d 127.0.0.1\n", port)
	if nodelay {
		text += "set_tcp_nodelay true\n"
	}
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		return nil, err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	return startBroker(ctx, "mosquitto", addr, filepath.Join(dir, "mosquitto.log"), pin, []string{bin, "-c", conf})
}

// startOutpost starts the Outpost gateway (serve is the default subcommand)
// on free loopback ports with a fresh data directory.
func startOutpost(ctx context.Context, bin, dir string, pin bool) (*broker, error) {
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("outpost binary %s: %w (build it first, e.g. go build -o bin/outpost ./cmd/outpost)", bin, err)
	}
	if !strings.ContainsRune(bin, os.PathSeparator) {
		bin = "." + string(os.PathSeparator) + bin // exec would search $PATH
	}
	mqttPort, err := freePort()
	if err != nil {
		return nil, err
	}
	httpPort, err := freePort()
	for err == nil && httpPort == mqttPort {
		httpPort, err = freePort()
	}
	if err != nil {
		return nil, err
	}
	data := filepath.Join(dir, "outpost-data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		return nil, err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(mqttPort))
	return startBroker(ctx, "outpost", addr, filepath.Join(dir, "outpost.log"), pin, []string{
		bin, "--data-dir", data, "--listen", "127.0.0.1",
		"--mqtt-port", strconv.Itoa(mqttPort), "--http-port", strconv.Itoa(httpPort),
		"--log-format", "json",
	})
}

// externalBroker checks that addr is a reachable loopback address.
func externalBroker(ctx context.Context, name, addr string) (*broker, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("--%s-addr %q: %w", name, addr, err)
	}
	ips, err := net.DefaultResolver.LookupIPAddr(ctx, host)
	if err != nil {
		return nil, fmt.Errorf("--%s-addr %q: %w", name, addr, err)
	}
	for _, ip := range ips {
		if !ip.IP.IsLoopback() {
			return nil, fmt.Errorf("--%s-addr %q: only loopback addresses are benchmarked", name, addr)
		}
	}
	if err := waitListening(ctx, addr, 2*time.Second, nil); err != nil {
		return nil, fmt.Errorf("--%s-addr: %w", name, err)
	}
	return &broker{name: name, addr: addr}, nil
}

// logTail returns the last lines of a log file, indented.
func logTail(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return "    (no log: " + err.Error() + ")"
	}
	lines := bytes.Split(bytes.TrimRight(data, "\n"), []byte("\n"))
	if len(lines) > 15 {
		lines = lines[len(lines)-15:]
	}
	var sb strings.Builder
	for _, l := range lines {
		sb.WriteString("    ")
		sb.Write(l)
		sb.WriteByte('\n')
	}
	return strings.TrimRight(sb.String(), "\n")
}

// mosquittoVersion runs `mosquitto -h` and returns its version line.
func mosquittoVersion(bin string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, _ := exec.CommandContext(ctx, bin, "-h").CombinedOutput() // exits non-zero
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "mosquitto version") {
			return strings.TrimSpace(l)
		}
	}
	return ""
}
