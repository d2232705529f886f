package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	paho5 "github.com/eclipse/paho.golang/paho"
	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/gorilla/websocket"

	"github.com/outpost-iot/outpost/broker"
	"github.com/outpost-iot/outpost/codecs"
	"github.com/outpost-iot/outpost/wire"
)

// agentWait bounds every wait of the in-process agent tests.
const agentWait = 15 * time.Second

// inProcess is a gateway built as serve builds it (broker, protocol layer,
// agent host with the built-in classes), on random loopback ports.
type inProcess struct {
	mqtt, http string
}

func startInProcess(t *testing.T, mutate func(*Config)) *inProcess {
	t.Helper()
	cfg := defaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.MQTTPort, cfg.HTTPPort = 0, 0
	if mutate != nil {
		mutate(&cfg)
	}
	log := slog.New(slog.DiscardHandler)
	host, layer, err := newAgents(cfg, log, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := broker.New(cfg.Config, broker.Options{DataDir: cfg.DataDir, Logger: log, Agents: layer})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), agentWait)
		defer cancel()
		if err := b.Close(ctx); err != nil {
			t.Errorf("broker close: %v", err)
		}
		if err := host.Close(ctx); err != nil {
			t.Errorf("agent host close: %v", err)
		}
	})
	return &inProcess{mqtt: b.MQTTAddr().String(), http: b.HTTPAddr().String()}
}

// frame is what a test client received.
type frame struct {
	data   []byte
	binary bool
}

// frames is a test client's inbox.
type frames struct{ ch chan frame }

func newFrames() *frames { return &frames{ch: make(chan frame, 1024)} }

func (f *frames) next(t *testing.T) frame {
	t.Helper()
	select {
	case fr := <-f.ch:
		return fr
	case <-time.After(agentWait):
		t.Fatal("no frame arrived")
		return frame{}
	}
}

// none checks that nothing more arrives for a short while.
func (f *frames) none(t *testing.T) {
	t.Helper()
	select {
	case fr := <-f.ch:
		t.Fatalf("unexpected frame %q", fr.data)
	case <-time.After(300 * time.Millisecond):
	}
}

// agentClient is one client of an agent over one transport with one policy.
type agentClient interface {
	send(t *testing.T, data []byte)
	inbox() *frames
}

var clientSeq atomic.Int64

// mqtt3Client joins with paho.mqtt.golang (MQTT 3.1.1), choosing its policy
// with a username query (docs/protocol.md rule 6.2).
type mqtt3Client struct {
	c     paho.Client
	topic string
	in    *frames
}

func dialMQTT3(t *testing.T, g *inProcess, agent wire.Address, query string, join bool) *mqtt3Client {
	t.Helper()
	in := newFrames()
	opts := paho.NewClientOptions().AddBroker("tcp://" + g.mqtt).
		SetClientID(fmt.Sprintf("m3-%d", clientSeq.Add(1))).SetAutoReconnect(false).
		SetUsername(query).SetProtocolVersion(4)
	c := paho.NewClient(opts)
	if tok := c.Connect(); !tok.WaitTimeout(agentWait) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	base := "agents/" + agent.Class + "/" + agent.Name
	if join {
		tok := c.Subscribe(base+"/out", 1, func(_ paho.Client, m paho.Message) {
			in.ch <- frame{data: append([]byte(nil), m.Payload()...), binary: true}
		})
		if !tok.WaitTimeout(agentWait) || tok.Error() != nil {
			t.Fatalf("subscribe: %v", tok.Error())
		}
	}
	return &mqtt3Client{c: c, topic: base + "/in", in: in}
}

func (m *mqtt3Client) send(t *testing.T, data []byte) {
	t.Helper()
	if tok := m.c.Publish(m.topic, 1, false, data); !tok.WaitTimeout(agentWait) || tok.Error() != nil {
		t.Fatalf("publish: %v", tok.Error())
	}
}
func (m *mqtt3Client) inbox() *frames { return m.in }

// mqtt5Client joins with paho.golang (MQTT 5), choosing its policy with
// CONNECT user properties.
type mqtt5Client struct {
	c     *paho5.Client
	topic string
	in    *frames
}

func dialMQTT5(t *testing.T, g *inProcess, agent wire.Address, props map[string]string, join bool) *mqtt5Client {
	t.Helper()
	conn, err := net.Dial("tcp", g.mqtt)
	if err != nil {
		t.Fatal(err)
	}
	in := newFrames()
	id := fmt.Sprintf("m5-%d", clientSeq.Add(1))
	c := paho5.NewClient(paho5.ClientConfig{ClientID: id, Conn: conn,
		OnPublishReceived: []func(paho5.PublishReceived) (bool, error){func(pr paho5.PublishReceived) (bool, error) {
			in.ch <- frame{data: append([]byte(nil), pr.Packet.Payload...), binary: true}
			return true, nil
		}}})
	var up paho5.UserProperties
	for k, v := range props {
		up = append(up, paho5.UserProperty{Key: k, Value: v})
	}
	ctx, cancel := context.WithTimeout(context.Background(), agentWait)
	defer cancel()
	ack, err := c.Connect(ctx, &paho5.Connect{ClientID: id, CleanStart: true, KeepAlive: 30,
		Properties: &paho5.ConnectProperties{User: up}})
	if err != nil || ack.ReasonCode != 0 {
		t.Fatalf("connect: %v %+v", err, ack)
	}
	t.Cleanup(func() { _ = c.Disconnect(&paho5.Disconnect{}) })
	base := "agents/" + agent.Class + "/" + agent.Name
	if join {
		if _, err := c.Subscribe(ctx, &paho5.Subscribe{Subscriptions: []paho5.SubscribeOptions{{Topic: base + "/out", QoS: 1}}}); err != nil {
			t.Fatalf("subscribe: %v", err)
		}
	}
	return &mqtt5Client{c: c, topic: base + "/in", in: in}
}

func (m *mqtt5Client) send(t *testing.T, data []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), agentWait)
	defer cancel()
	r, err := m.c.Publish(ctx, &paho5.Publish{Topic: m.topic, QoS: 1, Payload: data})
	if err != nil || (r != nil && r.ReasonCode >= 0x80) {
		t.Fatalf("publish: %v %+v", err, r)
	}
}
func (m *mqtt5Client) inbox() *frames { return m.in }

// wsClient is a WebSocket at /agents/{agent}/{name}.
type wsClient struct {
	c      *websocket.Conn
	binary bool
	in     *frames
	mu     sync.Mutex
}

func dialWS(t *testing.T, g *inProcess, agent wire.Address, query string) *wsClient {
	t.Helper()
	u := "ws://" + g.http + "/agents/" + agent.Class + "/" + url.PathEscape(agent.Name)
	if query != "" {
		u += "?" + query
	}
	c, resp, err := websocket.DefaultDialer.Dial(u, nil)
	if err != nil {
		t.Fatalf("dial %s: %v (%v)", u, err, resp)
	}
	w := &wsClient{c: c, binary: strings.Contains(query, "codec=cbor"), in: newFrames()}
	go func() {
		for {
			typ, data, err := c.ReadMessage()
			if err != nil {
				close(w.in.ch)
				return
			}
			w.in.ch <- frame{data: data, binary: typ == websocket.BinaryMessage}
		}
	}()
	t.Cleanup(func() { _ = c.Close() })
	return w
}

func (w *wsClient) send(t *testing.T, data []byte) {
	t.Helper()
	typ := websocket.TextMessage
	if w.binary {
		typ = websocket.BinaryMessage
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.c.WriteMessage(typ, data); err != nil {
		t.Fatal(err)
	}
}
func (w *wsClient) inbox() *frames { return w.in }

var agentSeq atomic.Int64

func newEcho() wire.Address {
	return wire.Address{Class: "echo", Name: fmt.Sprintf("matrix-%d", agentSeq.Add(1))}
}

// decodeFrame decodes a received frame in codec and fails unless it is a
// map with a type (or the expected raw bytes).
func decodeFrame(t *testing.T, codec string, f frame) map[string]any {
	t.Helper()
	c, _ := codecs.New(codec, codecs.Limits{})
	v, err := c.Unmarshal(f.data)
	if err != nil {
		t.Fatalf("frame %q is not %s: %v", f.data, codec, err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("frame %q is not a map", f.data)
	}
	return m
}

func encode(t *testing.T, codec string, v any) []byte {
	t.Helper()
	c, _ := codecs.New(codec, codecs.Limits{})
	data, err := c.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestMatrix is the transport × codec × protocol-frames × frame-kind
// matrix of issue 3: each client joins an echo agent with its policy, and
// receives exactly identity (if protocol frames are on), its rpc reply,
// another client's state update (if on) and its own message back, byte
// for byte, every frame in its codec (docs/protocol.md rules 6.2 to 6.5).
func TestMatrix(t *testing.T) {
	g := startInProcess(t, nil)
	type policy struct {
		codec    string
		protocol bool
	}
	var policies []policy
	for _, codec := range []string{wire.JSON, wire.CBOR} {
		for _, p := range []bool{true, false} {
			policies = append(policies, policy{codec, p})
		}
	}
	transports := map[string]func(t *testing.T, a wire.Address, p policy) agentClient{
		"mqtt3.1.1": func(t *testing.T, a wire.Address, p policy) agentClient {
			return dialMQTT3(t, g, a, fmt.Sprintf("?codec=%s&protocol=%v", p.codec, p.protocol), true)
		},
		"mqtt5": func(t *testing.T, a wire.Address, p policy) agentClient {
			return dialMQTT5(t, g, a, map[string]string{"codec": p.codec, "protocol": fmt.Sprint(p.protocol)}, true)
		},
		"websocket": func(t *testing.T, a wire.Address, p policy) agentClient {
			return dialWS(t, g, a, fmt.Sprintf("codec=%s&protocol=%v", p.codec, p.protocol))
		},
	}
	for name, dial := range transports {
		for _, p := range policies {
			t.Run(fmt.Sprintf("%s/%s/protocol=%v", name, p.codec, p.protocol), func(t *testing.T) {
				a := newEcho()
				other := dialWS(t, g, a, "")
				if m := decodeFrame(t, wire.JSON, other.in.next(t)); m["type"] != wire.TypeIdentity {
					t.Fatalf("the JSON WebSocket's first frame is %v", m)
				}
				c := dial(t, a, p)
				in := c.inbox()
				wantBinary := p.codec == wire.CBOR || name != "websocket"
				check := func(f frame) map[string]any {
					t.Helper()
					if f.binary != wantBinary {
						t.Fatalf("frame binary=%v, want %v", f.binary, wantBinary)
					}
					return decodeFrame(t, p.codec, f)
				}
				// RPC: identity first if protocol frames are on, then the reply.
				c.send(t, encode(t, p.codec, map[string]any{"type": "rpc", "id": "r1", "method": "echo", "args": []any{"hi", int64(7)}}))
				m := check(in.next(t))
				if p.protocol {
					if m["type"] != wire.TypeIdentity || m["agent"] != "echo" || m["name"] != a.Name {
						t.Fatalf("first frame %v, want identity", m)
					}
					m = check(in.next(t))
				}
				if m["type"] != wire.TypeRPC || m["id"] != "r1" || m["success"] != true || m["result"] != "hi" || m["done"] != true {
					t.Fatalf("rpc reply %v", m)
				}
				// State: another client's update reaches protocol-enabled
				// connections only.
				other.send(t, []byte(`{"type":"cf_agent_state","state":{"mode":"heat","setpoint":21.5}}`))
				// A call from the same client after it: once its reply is
				// back, the update was applied and broadcast.
				other.send(t, []byte(`{"type":"rpc","id":"sync","method":"echo","args":[1]}`))
				if m := decodeFrame(t, wire.JSON, other.in.next(t)); m["id"] != "sync" {
					t.Fatalf("the state update's source got %v", m)
				}
				// Agent message: echoed byte for byte.
				msg := encode(t, p.codec, map[string]any{"type": "telemetry", "temp": 21.5, "raw": []byte{1, 2}})
				c.send(t, msg)
				f := in.next(t)
				if p.protocol {
					if m := check(f); m["type"] != wire.TypeState || m["state"].(map[string]any)["mode"] != "heat" {
						t.Fatalf("state frame %v", m)
					}
					f = in.next(t)
				}
				if string(f.data) != string(msg) {
					t.Fatalf("echo %q, want %q", f.data, msg)
				}
				in.none(t)
				other.in.none(t) // the source of a state update does not get it back
			})
		}
	}
}
