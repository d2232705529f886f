package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	paho5 "github.com/eclipse/paho.golang/paho"
	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/outpost-iot/outpost/codecs"
	"github.com/outpost-iot/outpost/internal/testutil"
)

// rpcEchoCBOR is an rpc frame calling echo("ping") in CBOR.
func rpcEchoCBOR(t *testing.T, id string) []byte {
	t.Helper()
	c, _ := codecs.New("cbor", codecs.Limits{})
	data, err := c.Marshal(map[string]any{"type": "rpc", "id": id, "method": "echo", "args": []any{"ping"}})
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestBinaryEchoByteExact: with the built binary, one MQTT client joins an
// echo agent by subscribing to its /out, publishes a CBOR frame to its /in
// and gets the same bytes back (issue 3, DESIGN.md "Built-in agents").
func TestBinaryEchoByteExact(t *testing.T) {
	g := startBinary(t)
	got := make(chan []byte, 4)
	opts := paho.NewClientOptions().AddBroker("tcp://127.0.0.1:" + g.mqttPort).SetClientID("device-echo").SetAutoReconnect(false)
	c := paho.NewClient(opts)
	if tok := c.Connect(); !tok.WaitTimeout(agentWait) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	defer c.Disconnect(100)
	if tok := c.Subscribe("agents/echo/dev-1/out", 1, func(_ paho.Client, m paho.Message) { got <- m.Payload() }); !tok.WaitTimeout(agentWait) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	golden, err := os.ReadFile(filepath.Join("..", "..", "codecs", "testdata", "golden", "telemetry.cbor"))
	if err != nil {
		t.Fatal(err)
	}
	if tok := c.Publish("agents/echo/dev-1/in", 1, false, golden); !tok.WaitTimeout(agentWait) || tok.Error() != nil {
		t.Fatalf("publish: %v", tok.Error())
	}
	select {
	case back := <-got:
		if !bytes.Equal(back, golden) {
			t.Fatalf("echo %x, want %x", back, golden)
		}
	case <-time.After(agentWait):
		t.Fatalf("no echo\n%s", g.logs())
	}
	select {
	case extra := <-got:
		t.Fatalf("unexpected second frame %x (protocol frames are off for MQTT by default)", extra)
	case <-time.After(300 * time.Millisecond):
	}
}

// TestMosquittoRRRequestResponse: mosquitto_rr (MQTT 5 request/response,
// never joined) gets the rpc reply on its response topic (rule 7.4).
func TestMosquittoRRRequestResponse(t *testing.T) {
	rr := testutil.NeedTool(t, "mosquitto_rr")
	g := startBinary(t)
	// mosquitto_rr 2.0.11 sends an empty payload for -f and reads no
	// stdin, so the CBOR frame (which has no zero byte) goes in -m.
	req := rpcEchoCBOR(t, "rr-1")
	if bytes.IndexByte(req, 0) >= 0 {
		t.Fatal("the request has a zero byte; it cannot be an argument")
	}
	out, err := runCmd(t, "", rr, "-p", g.mqttPort, "-t", "agents/echo/rr/in", "-e", "replies/rr-1", "-m", string(req), "-q", "1", "-W", "10", "-N")
	if err != nil {
		t.Fatalf("mosquitto_rr: %v %q\n%s", err, out, g.logs())
	}
	c, _ := codecs.New("cbor", codecs.Limits{})
	v, err := c.Unmarshal([]byte(out))
	if err != nil {
		t.Fatalf("reply %q is not CBOR: %v", out, err)
	}
	m, _ := v.(map[string]any)
	if m["type"] != "rpc" || m["id"] != "rr-1" || m["success"] != true || m["result"] != "ping" {
		t.Fatalf("reply %v", m)
	}
}

// TestResponseTopicRefusedAndSensorQuiet: with a credentials file, a
// response topic the requester may not subscribe to is refused with reason
// code 0x87 (rule 7.4); a sensor that only publishes telemetry reaches the
// agent and receives nothing.
func TestResponseTopicRefusedAndSensorQuiet(t *testing.T) {
	creds := filepath.Join(t.TempDir(), "creds.yaml")
	if out, err := runCmd(t, "pw\n", binary, "passwd", "add", "dev", "--password-stdin",
		"--topic", "agents/echo/#", "--topic", "replies/dev/#", "--agent", "echo/*", "--credentials", creds); err != nil {
		t.Fatalf("passwd add: %v %s", err, out)
	}
	if out, err := runCmd(t, "ops\n", binary, "passwd", "add", "ops", "--admin", "--password-stdin", "--credentials", creds); err != nil {
		t.Fatalf("passwd add: %v %s", err, out)
	}
	g := startBinary(t, "--credentials", creds)

	conn, err := net.Dial("tcp", "127.0.0.1:"+g.mqttPort)
	if err != nil {
		t.Fatal(err)
	}
	replies := make(chan *paho5.Publish, 4)
	c := paho5.NewClient(paho5.ClientConfig{ClientID: "requester", Conn: conn,
		OnPublishReceived: []func(paho5.PublishReceived) (bool, error){func(pr paho5.PublishReceived) (bool, error) {
			replies <- pr.Packet
			return true, nil
		}}})
	ctx, cancel := context.WithTimeout(context.Background(), agentWait)
	defer cancel()
	if _, err := c.Connect(ctx, &paho5.Connect{ClientID: "requester", CleanStart: true, KeepAlive: 30,
		Username: "dev", UsernameFlag: true, Password: []byte("pw"), PasswordFlag: true}); err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect(&paho5.Disconnect{})
	if _, err := c.Subscribe(ctx, &paho5.Subscribe{Subscriptions: []paho5.SubscribeOptions{{Topic: "replies/dev/#", QoS: 1}}}); err != nil {
		t.Fatal(err)
	}
	r, err := c.Publish(ctx, &paho5.Publish{Topic: "agents/echo/x/in", QoS: 1, Payload: rpcEchoCBOR(t, "bad"),
		Properties: &paho5.PublishProperties{ResponseTopic: "replies/ops/steal", CorrelationData: []byte("c1")}})
	if r == nil || r.ReasonCode != 0x87 {
		t.Fatalf("response topic outside the ACL: %v %+v", err, r)
	}
	r, err = c.Publish(ctx, &paho5.Publish{Topic: "agents/echo/x/in", QoS: 1, Payload: rpcEchoCBOR(t, "good"),
		Properties: &paho5.PublishProperties{ResponseTopic: "replies/dev/1", CorrelationData: []byte("c2")}})
	if err != nil || r.ReasonCode != 0 {
		t.Fatalf("allowed response topic: %v %+v", err, r)
	}
	select {
	case p := <-replies:
		if p.Topic != "replies/dev/1" || string(p.Properties.CorrelationData) != "c2" {
			t.Fatalf("reply on %q with correlation data %q", p.Topic, p.Properties.CorrelationData)
		}
	case <-time.After(agentWait):
		t.Fatalf("no reply\n%s", g.logs())
	}

	// A sensor: publishes telemetry, subscribes to nothing, gets nothing.
	got := make(chan paho.Message, 4)
	opts := paho.NewClientOptions().AddBroker("tcp://127.0.0.1:" + g.mqttPort).SetClientID("sensor").
		SetUsername("dev").SetPassword("pw").SetAutoReconnect(false).
		SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) { got <- m })
	sensor := paho.NewClient(opts)
	if tok := sensor.Connect(); !tok.WaitTimeout(agentWait) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	defer sensor.Disconnect(100)
	for range 3 {
		if tok := sensor.Publish("agents/echo/x/in", 1, false, []byte{0xa1, 0x61, 't', 0x15}); !tok.WaitTimeout(agentWait) || tok.Error() != nil {
			t.Fatalf("publish: %v", tok.Error())
		}
	}
	select {
	case m := <-got:
		t.Fatalf("sensor received %q on %s", m.Payload(), m.Topic())
	case <-time.After(500 * time.Millisecond):
	}
	req, _ := http.NewRequest("GET", "http://"+g.httpAddr+"/metrics", nil)
	req.SetBasicAuth("ops", "ops")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `outpost_agent_frames_received_total{kind="message",transport="mqtt"} 3`) {
		t.Fatalf("the sensor's frames did not reach the agent:\n%s", grepLines(string(body), "outpost_agent"))
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestAgentsNPMClient runs the official agents npm client (AgentClient)
// against the built binary's echo agent: identity, callable RPC and its
// errors, state sync between two clients, ?protocol=false, a binary frame
// on a JSON connection, and a reconnect that keeps _pk (rules 8.2, 9.x).
func TestAgentsNPMClient(t *testing.T) {
	node := testutil.NeedTool(t, "node")
	dir, _ := filepath.Abs(filepath.Join("testdata", "agentsjs"))
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "agents")); err != nil {
		testutil.Missing(t, "the agents npm package is not installed in "+dir)
	}
	g := startBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "client.mjs", g.httpAddr)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "ok") {
		t.Fatalf("agents client: %v\n%s\n%s", err, out, g.logs())
	}
}
