package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	paho5 "github.com/eclipse/paho.golang/paho"

	"github.com/outpost-iot/outpost/codecs"
)

// testAgentsBinary is the outpost binary with the test-jobs class
// (testagents.go), built once when a test needs it.
var testAgentsBinary = sync.OnceValues(func() (string, error) {
	path := filepath.Join(filepath.Dir(binary), "outpost-testagents")
	out, err := exec.Command("go", "build", "-tags", "testagents", "-o", path, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("build: %v\n%s", err, out)
	}
	return path, nil
})

// rpc calls an agent's callable over MQTT 5 request/response with CBOR.
func rpc(t *testing.T, mqttPort, agent, method string, args ...any) map[string]any {
	t.Helper()
	conn, err := net.Dial("tcp", "127.0.0.1:"+mqttPort)
	if err != nil {
		t.Fatal(err)
	}
	replies := make(chan []byte, 1)
	id := fmt.Sprintf("rpc-%d", time.Now().UnixNano())
	c := paho5.NewClient(paho5.ClientConfig{ClientID: id, Conn: conn,
		OnPublishReceived: []func(paho5.PublishReceived) (bool, error){func(pr paho5.PublishReceived) (bool, error) {
			replies <- pr.Packet.Payload
			return true, nil
		}}})
	ctx, cancel := context.WithTimeout(context.Background(), agentWait)
	defer cancel()
	if _, err := c.Connect(ctx, &paho5.Connect{ClientID: id, CleanStart: true, KeepAlive: 30}); err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect(&paho5.Disconnect{})
	if _, err := c.Subscribe(ctx, &paho5.Subscribe{Subscriptions: []paho5.SubscribeOptions{{Topic: "replies/" + id, QoS: 1}}}); err != nil {
		t.Fatal(err)
	}
	cb, _ := codecs.New("cbor", codecs.Limits{})
	if args == nil {
		args = []any{}
	}
	req, _ := cb.Marshal(map[string]any{"type": "rpc", "id": "1", "method": method, "args": args})
	r, err := c.Publish(ctx, &paho5.Publish{Topic: "agents/" + agent + "/in", QoS: 1, Payload: req,
		Properties: &paho5.PublishProperties{ResponseTopic: "replies/" + id}})
	if err != nil || r.ReasonCode != 0 {
		t.Fatalf("rpc %s: %v %+v", method, err, r)
	}
	select {
	case data := <-replies:
		v, err := cb.Unmarshal(data)
		if err != nil {
			t.Fatal(err)
		}
		m := v.(map[string]any)
		if m["success"] != true {
			t.Fatalf("rpc %s failed: %v", method, m["error"])
		}
		return m
	case <-time.After(agentWait):
		t.Fatalf("rpc %s: no reply", method)
		return nil
	}
}

func labels(m map[string]any) []string {
	var out []string
	for _, v := range m["result"].([]any) {
		out = append(out, v.(string))
	}
	return out
}

// TestSIGKILLSchedulesAndQueue: a schedule set before the binary is killed
// with SIGKILL fires exactly once after the restart, and queue items
// enqueued before the kill run after it, in order (issue 4).
func TestSIGKILLSchedulesAndQueue(t *testing.T) {
	bin, err := testAgentsBinary()
	if err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(t.TempDir(), "data")
	g := startBinaryAt(t, bin, "--data-dir", data)
	rpc(t, g.mqttPort, "test-jobs/s", "after", int64(1500), "fired")
	rpc(t, g.mqttPort, "test-jobs/q", "enqueue", int64(5), int64(200))
	if err := g.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-g.done

	g2 := startBinaryAt(t, bin, "--data-dir", data)
	deadline := time.Now().Add(20 * time.Second)
	var sched, queue []string
	for time.Now().Before(deadline) {
		sched = labels(rpc(t, g2.mqttPort, "test-jobs/s", "log"))
		queue = labels(rpc(t, g2.mqttPort, "test-jobs/q", "log"))
		if len(sched) >= 1 && len(slices.Compact(slices.Clone(queue))) >= 5 {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	sched = labels(rpc(t, g2.mqttPort, "test-jobs/s", "log"))
	if !slices.Equal(sched, []string{"fired"}) {
		t.Fatalf("schedule ran %v, want exactly once\n%s", sched, g2.logs())
	}
	// At least once: the item running at the kill may run again, but the
	// order holds.
	if got := slices.Compact(queue); !slices.Equal(got, []string{"q0", "q1", "q2", "q3", "q4"}) {
		t.Fatalf("queue ran %v\n%s", queue, g2.logs())
	}
}

// TestAgentsAdminCLI: `outpost agents list|inspect|destroy` against the
// running binary, for admin users only.
func TestAgentsAdminCLI(t *testing.T) {
	creds := filepath.Join(t.TempDir(), "creds.yaml")
	for _, u := range [][]string{{"ops", "--admin"}, {"dev", "--agent", "echo/*"}} {
		if out, err := runCmd(t, "pw-"+u[0]+"\n", binary, append([]string{"passwd", "add", u[0], "--password-stdin", "--credentials", creds}, u[1:]...)...); err != nil {
			t.Fatalf("passwd add: %v %s", err, out)
		}
	}
	g := startBinary(t, "--credentials", creds, "--allow-anonymous")
	rpcAs := func(agent string) {
		conn, err := net.Dial("tcp", "127.0.0.1:"+g.mqttPort)
		if err != nil {
			t.Fatal(err)
		}
		c := paho5.NewClient(paho5.ClientConfig{ClientID: "admin-" + agent, Conn: conn})
		ctx, cancel := context.WithTimeout(context.Background(), agentWait)
		defer cancel()
		if _, err := c.Connect(ctx, &paho5.Connect{ClientID: "admin-" + agent, CleanStart: true, Username: "dev", UsernameFlag: true, Password: []byte("pw-dev"), PasswordFlag: true}); err != nil {
			t.Fatal(err)
		}
		defer c.Disconnect(&paho5.Disconnect{})
		cb, _ := codecs.New("cbor", codecs.Limits{})
		req, _ := cb.Marshal(map[string]any{"type": "rpc", "id": "1", "method": "incr", "args": []any{}})
		if r, err := c.Publish(ctx, &paho5.Publish{Topic: "agents/echo/" + agent + "/in", QoS: 1, Payload: req}); err != nil || r.ReasonCode != 0 {
			t.Fatalf("publish: %v %+v", err, r)
		}
	}
	rpcAs("alpha")
	rpcAs("kitchen")
	gw := "http://" + g.httpAddr
	out, err := runCmd(t, "pw-ops\n", binary, "agents", "list", "--gateway", gw, "--user", "ops", "--password-stdin")
	if err != nil || !strings.Contains(out, "echo   alpha") || !strings.Contains(out, "kitchen") {
		t.Fatalf("agents list: %v\n%s", err, out)
	}
	out, err = runCmd(t, "pw-ops\n", binary, "agents", "inspect", "echo/alpha", "--gateway", gw, "--user", "ops", "--password-stdin")
	var info struct {
		Name      string
		Callables map[string]string
	}
	if err != nil || json.Unmarshal([]byte(out), &info) != nil || info.Name != "alpha" || info.Callables["incr"] == "" {
		t.Fatalf("agents inspect: %v\n%s", err, out)
	}
	out, err = runCmd(t, "pw-dev\n", binary, "agents", "list", "--gateway", gw, "--user", "dev", "--password-stdin")
	if err == nil || !strings.Contains(out, "403") {
		t.Fatalf("non-admin list: %v\n%s", err, out)
	}
	out, err = runCmd(t, "pw-ops\n", binary, "agents", "destroy", "echo/alpha", "--gateway", gw, "--user", "ops", "--password-stdin")
	if err != nil || !strings.Contains(out, "destroyed echo/alpha") {
		t.Fatalf("agents destroy: %v\n%s", err, out)
	}
	out, err = runCmd(t, "pw-ops\n", binary, "agents", "inspect", "echo/alpha", "--gateway", gw, "--user", "ops", "--password-stdin")
	if err == nil || !strings.Contains(out, "404") {
		t.Fatalf("inspect after destroy: %v\n%s", err, out)
	}
	_ = os.Remove(creds)
}
