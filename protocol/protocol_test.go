package protocol

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/outpost-iot/outpost/codecs"
	"github.com/outpost-iot/outpost/wire"
)

// sink records what the choke point writes.
type sink struct {
	mu     sync.Mutex
	frames []written
	err    error
}

type written struct {
	data   []byte
	binary bool
}

func (s *sink) Write(data []byte, binary bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	s.frames = append(s.frames, written{append([]byte(nil), data...), binary})
	return nil
}

func (s *sink) Close(int, string) error { return nil }

func (s *sink) got() []written {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]written(nil), s.frames...)
}

// agents is a fake agent host that records what reaches it and runs
// events at once.
type agents struct {
	mu        sync.Mutex
	connected []wire.Conn
	closed    []wire.Conn
	inbound   []wire.Inbound
	from      []wire.Conn
	busy      bool
	result    error
}

func (a *agents) KnownClass(c string) bool { return c == "echo" }
func (a *agents) Connect(c wire.Conn) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.connected = append(a.connected, c)
	return nil
}
func (a *agents) Disconnect(c wire.Conn) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.closed = append(a.closed, c)
}
func (a *agents) Deliver(_ context.Context, c wire.Conn, in wire.Inbound, done func(error)) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.busy {
		return wire.ErrBusy
	}
	a.inbound = append(a.inbound, in)
	a.from = append(a.from, c)
	if done != nil {
		done(a.result)
	}
	return nil
}
func (a *agents) ServeHTTP(w http.ResponseWriter, _ *http.Request, _ wire.Address) {
	w.WriteHeader(http.StatusTeapot)
}

var echoAddr = wire.Address{Class: "echo", Name: "x"}

func newLayer(t testing.TB, cfg Config) (*Layer, *agents) {
	t.Helper()
	a := &agents{}
	l, err := New(cfg, a, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return l, a
}

func join(t *testing.T, l *Layer, key, transport, codec string, protocol bool) (*sink, wire.Join) {
	t.Helper()
	s := &sink{}
	j := wire.Join{Key: key, ID: "id-" + key, Agent: echoAddr, Transport: transport,
		Options: wire.Options{Codec: codec, Protocol: protocol}, Out: s}
	if err := l.Join(context.Background(), j); err != nil {
		t.Fatal(err)
	}
	return s, j
}

func decode(t *testing.T, codec string, w written) map[string]any {
	t.Helper()
	c, _ := codecs.New(codec, codecs.Limits{})
	v, err := c.Unmarshal(w.data)
	if err != nil {
		t.Fatalf("%s frame does not decode: %v", codec, err)
	}
	m, _ := v.(map[string]any)
	return m
}

// Rule 6.4: the choke point drops protocol frames only, for connections
// with protocol frames off, and encodes the rest in the connection's codec.
func TestRule6_4ChokePoint(t *testing.T) {
	l, a := newLayer(t, Config{})
	for _, codec := range []string{wire.JSON, wire.CBOR} {
		for _, protocol := range []bool{true, false} {
			s, _ := join(t, l, codec+"-"+map[bool]string{true: "on", false: "off"}[protocol], wire.WebSocket, codec, protocol)
			c := a.connected[len(a.connected)-1]
			frames := []wire.Frame{
				wire.IdentityFrame(echoAddr),
				wire.StateFrame(map[string]any{"n": int64(1)}),
				wire.RPCResultFrame("1", "r", true),
				wire.StateErrorFrame(wire.StateRejected),
				{Kind: wire.Message, Value: map[string]any{"type": "hello"}},
				{Kind: wire.Chat, Value: map[string]any{"type": "cf_agent_use_chat_response"}},
				{Kind: wire.Message, Raw: []byte{0xff, 0}, Binary: true},
			}
			for _, f := range frames {
				if err := c.Send(f); err != nil {
					t.Fatal(err)
				}
			}
			got := s.got()
			want := len(frames)
			if !protocol {
				want -= 2
			}
			if len(got) != want {
				t.Fatalf("%s protocol=%v: %d frames written, want %d", codec, protocol, len(got), want)
			}
			for _, w := range got[:len(got)-1] {
				if w.binary != (codec == wire.CBOR) {
					t.Errorf("%s frame written with binary=%v", codec, w.binary)
				}
				m := decode(t, codec, w)
				if !protocol && (m["type"] == wire.TypeIdentity || m["type"] == wire.TypeState) {
					t.Errorf("protocol frame %v reached a connection with protocol frames off", m["type"])
				}
				if codec == wire.CBOR && len(w.data) > 0 && w.data[0] == '{' {
					t.Error("a CBOR connection received JSON")
				}
			}
			if raw := got[len(got)-1]; string(raw.data) != "\xff\x00" || !raw.binary {
				t.Errorf("raw frame changed: %+v", raw)
			}
		}
	}
}

// Rule 6.3: the agent's decision overrides the transport's default once.
func TestRule6_3ProtocolDecidedOnce(t *testing.T) {
	l, a := newLayer(t, Config{})
	s, _ := join(t, l, "k", wire.MQTT, wire.CBOR, false)
	c := a.connected[0]
	if c.ProtocolEnabled() {
		t.Fatal("MQTT default is protocol frames off")
	}
	c.SetProtocolEnabled(true)
	c.SetProtocolEnabled(false)
	if !c.ProtocolEnabled() {
		t.Fatal("the first decision must stick")
	}
	_ = c.Send(wire.IdentityFrame(echoAddr))
	if len(s.got()) != 1 {
		t.Fatal("identity not sent after the agent turned protocol frames on")
	}
}

// Rule 6.5: inbound classification.
func TestRule6_5Classify(t *testing.T) {
	l, a := newLayer(t, Config{})
	_, _ = join(t, l, "j", wire.WebSocket, wire.JSON, true)
	_, _ = join(t, l, "c", wire.WebSocket, wire.CBOR, true)
	_, _ = join(t, l, "m", wire.MQTT, wire.CBOR, false)
	cb, _ := codecs.New("cbor", codecs.Limits{})
	rpcCBOR, _ := cb.Marshal(map[string]any{"type": "rpc", "id": "1", "method": "echo", "args": []any{int64(5)}})
	cases := []struct {
		name, key string
		data      []byte
		binary    bool
		kind      wire.InboundKind
		decoded   bool
	}{
		{"json state", "j", []byte(`{"type":"cf_agent_state","state":{"a":1}}`), false, wire.InState, true},
		{"json rpc", "j", []byte(`{"type":"rpc","id":"1","method":"echo","args":[1]}`), false, wire.InRPC, true},
		{"json rpc without args", "j", []byte(`{"type":"rpc","id":"1","method":"echo"}`), false, wire.InRPC, true},
		{"json message", "j", []byte(`{"type":"hello"}`), false, wire.InMessage, true},
		{"state without state key", "j", []byte(`{"type":"cf_agent_state"}`), false, wire.InMessage, true},
		{"not json", "j", []byte(`hello`), false, wire.InMessage, false},
		{"binary on json ws", "j", rpcCBOR, true, wire.InMessage, false},
		{"text on cbor ws", "c", []byte(`{"type":"rpc","id":"1","method":"echo"}`), false, wire.InMessage, false},
		{"cbor rpc", "c", rpcCBOR, true, wire.InRPC, true},
		{"mqtt cbor rpc", "m", rpcCBOR, true, wire.InRPC, true},
		{"mqtt not cbor", "m", []byte{0xff}, true, wire.InMessage, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := len(a.inbound)
			transport := wire.WebSocket
			if tc.key == "m" {
				transport = wire.MQTT
			}
			err := l.Receive(context.Background(), wire.Receive{Key: tc.key, From: wire.Join{Agent: echoAddr, Transport: transport}, Data: tc.data, Binary: tc.binary})
			if err != nil {
				t.Fatal(err)
			}
			in := a.inbound[n]
			if in.Kind != tc.kind || (in.Value != nil) != tc.decoded || string(in.Data) != string(tc.data) || in.Binary != tc.binary {
				t.Fatalf("got kind %v value %v data %q binary %v", in.Kind, in.Value, in.Data, in.Binary)
			}
			if !tc.decoded && tc.binary == (a.from[n].Codec() == wire.CBOR) && in.DecodeErr == nil {
				t.Fatal("a frame in the connection's codec that did not decode has no DecodeErr")
			}
		})
	}
}

// Rule 6.7: malformed protocol frames are answered, in the sender's codec,
// and do not reach the agent.
func TestRule6_7Malformed(t *testing.T) {
	l, a := newLayer(t, Config{MaxFrameWebSocket: 256})
	s, _ := join(t, l, "j", wire.WebSocket, wire.JSON, false)
	cases := []struct {
		data string
		err  error
		want string
	}{
		{`{"type":"rpc","method":"echo"}`, wire.ErrMalformed, `"type":"outpost_error"`},
		{`{"type":"rpc","id":"7","args":[]}`, wire.ErrMalformed, `"id":"7","success":false`},
		{`{"type":"rpc","id":"7","method":"m","args":3}`, wire.ErrMalformed, `"error":"rpc args must be an array"`},
		{`{"type":"cf_agent_state","state":[1]}`, wire.ErrMalformed, `"type":"cf_agent_state_error"`},
		{`{"type":"hello","pad":"` + strings.Repeat("x", 300) + `"}`, wire.ErrTooLarge, `"code":"frame_too_large"`},
	}
	for _, tc := range cases {
		n := len(s.got())
		err := l.Receive(context.Background(), wire.Receive{Key: "j", From: wire.Join{Agent: echoAddr, Transport: wire.WebSocket}, Data: []byte(tc.data)})
		if !errors.Is(err, tc.err) {
			t.Errorf("%s: error %v, want %v", tc.data, err, tc.err)
		}
		got := s.got()
		if len(got) != n+1 || !strings.Contains(string(got[n].data), tc.want) {
			t.Errorf("%s: answers %v, want one containing %s", tc.data, got[n:], tc.want)
		}
	}
	if len(a.inbound) != 0 {
		t.Errorf("%d malformed frames reached the agent", len(a.inbound))
	}
	// A busy agent: the caller gets an rpc error for its call.
	a.busy = true
	err := l.Receive(context.Background(), wire.Receive{Key: "j", From: wire.Join{Agent: echoAddr, Transport: wire.WebSocket}, Data: []byte(`{"type":"rpc","id":"9","method":"echo"}`)})
	if !errors.Is(err, wire.ErrBusy) {
		t.Fatalf("busy agent: %v", err)
	}
	if got := s.got(); !strings.Contains(string(got[len(got)-1].data), `"id":"9","success":false`) {
		t.Errorf("busy: answer %q", got[len(got)-1].data)
	}
}

// Rule 7.4: replies go to the response topic when there is one, else to
// the joined connection, else nowhere.
func TestRule7_4ReplyRoutes(t *testing.T) {
	l, a := newLayer(t, Config{})
	out, _ := join(t, l, "m", wire.MQTT, wire.CBOR, false)
	reply := &sink{}
	from := wire.Join{Key: "m", ID: "id-m", Agent: echoAddr, Transport: wire.MQTT, Options: wire.Options{Codec: wire.CBOR}}
	for _, r := range []wire.Receive{
		{Key: "m", From: from, Data: []byte{1}, Binary: true},
		{Key: "m", From: from, Data: []byte{2}, Binary: true, Reply: reply},
		{Key: "", From: from, Data: []byte{3}, Binary: true},
		{Key: "", From: from, Data: []byte{4}, Binary: true, Reply: reply},
	} {
		if err := l.Receive(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	for i, c := range a.from {
		_ = c.Send(wire.Frame{Kind: wire.Message, Raw: []byte{byte(i + 1)}, Binary: true})
	}
	if got := out.got(); len(got) != 1 || got[0].data[0] != 1 {
		t.Errorf("/out got %v, want only frame 1", got)
	}
	if got := reply.got(); len(got) != 2 || got[0].data[0] != 2 || got[1].data[0] != 4 {
		t.Errorf("response topic got %v, want frames 2 and 4", got)
	}
	if !a.from[0].Joined() || !a.from[1].Joined() || a.from[2].Joined() || a.from[3].Joined() {
		t.Error("Joined() wrong")
	}
}

func TestJoinLeave(t *testing.T) {
	l, a := newLayer(t, Config{})
	_, j := join(t, l, "k", wire.MQTT, wire.CBOR, false)
	if err := l.Join(context.Background(), j); err != nil { // joined again: the old one leaves
		t.Fatal(err)
	}
	l.Leave("k", echoAddr)
	l.Leave("k", echoAddr)
	l.Leave("never", echoAddr)
	if len(a.connected) != 2 || len(a.closed) != 2 {
		t.Fatalf("connected %d closed %d, want 2 and 2", len(a.connected), len(a.closed))
	}
	j.Agent.Class = "nope"
	if err := l.Join(context.Background(), j); !errors.Is(err, wire.ErrUnknownAgent) {
		t.Fatalf("unknown class: %v", err)
	}
	j.Agent.Class, j.Options.Codec = "echo", "xml"
	if err := l.Join(context.Background(), j); err == nil {
		t.Fatal("unknown codec accepted")
	}
}

func TestWaitReturnsHandlerError(t *testing.T) {
	l, a := newLayer(t, Config{})
	a.result = wire.ErrFailed
	err := l.Receive(context.Background(), wire.Receive{From: wire.Join{Agent: echoAddr, Transport: wire.MQTT, Options: wire.Options{Codec: wire.CBOR}}, Data: []byte{1}, Binary: true, Wait: true})
	if !errors.Is(err, wire.ErrFailed) {
		t.Fatalf("got %v", err)
	}
}

// Rule 9.1: a nested value is JSON text on JSON connections and the value
// itself on CBOR ones.
func TestRule9_1Nested(t *testing.T) {
	l, a := newLayer(t, Config{})
	js, _ := join(t, l, "j", wire.WebSocket, wire.JSON, true)
	cb, _ := join(t, l, "c", wire.MQTT, wire.CBOR, false)
	body := map[string]any{"type": "text-delta", "id": "t0", "delta": "Hi"}
	f := wire.Frame{Kind: wire.Chat, Value: map[string]any{"type": "cf_agent_use_chat_response", "id": "r1", "body": wire.Nested{Value: body}, "done": false}}
	for _, c := range a.connected {
		if err := c.Send(f); err != nil {
			t.Fatal(err)
		}
	}
	if got := decode(t, wire.JSON, js.got()[0])["body"]; got != `{"delta":"Hi","id":"t0","type":"text-delta"}` {
		t.Errorf("JSON body %v", got)
	}
	if got, ok := decode(t, wire.CBOR, cb.got()[0])["body"].(map[string]any); !ok || got["delta"] != "Hi" {
		t.Errorf("CBOR body %v", got)
	}
}
