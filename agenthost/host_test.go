package agenthost

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/outpost-iot/outpost/wire"
)

// fakeConn records the frames the agent sends; it applies the protocol
// flag as the real choke point does.
type fakeConn struct {
	key, id  string
	addr     wire.Address
	readonly bool
	protocol bool
	decided  bool

	mu     sync.Mutex
	frames []wire.Frame
}

func (c *fakeConn) ID() string            { return c.id }
func (c *fakeConn) Key() string           { return c.key }
func (c *fakeConn) Agent() wire.Address   { return c.addr }
func (c *fakeConn) Transport() string     { return wire.WebSocket }
func (c *fakeConn) User() string          { return "" }
func (c *fakeConn) Codec() string         { return wire.JSON }
func (c *fakeConn) Readonly() bool        { c.mu.Lock(); defer c.mu.Unlock(); return c.readonly }
func (c *fakeConn) Joined() bool          { return true }
func (c *fakeConn) SetReadonly(on bool)   { c.mu.Lock(); defer c.mu.Unlock(); c.readonly = on }
func (c *fakeConn) ProtocolEnabled() bool { c.mu.Lock(); defer c.mu.Unlock(); return c.protocol }
func (c *fakeConn) SetProtocolEnabled(on bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.decided {
		c.protocol, c.decided = on, true
	}
}
func (c *fakeConn) Send(f wire.Frame) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if f.Kind == wire.Protocol && !c.protocol {
		return nil
	}
	c.frames = append(c.frames, f)
	return nil
}
func (c *fakeConn) Close(int, string) error { return nil }

func (c *fakeConn) types() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, f := range c.frames {
		if m, ok := f.Value.(map[string]any); ok {
			out = append(out, m["type"].(string))
		} else {
			out = append(out, "raw")
		}
	}
	return out
}

func (c *fakeConn) last() map[string]any {
	c.mu.Lock()
	defer c.mu.Unlock()
	m, _ := c.frames[len(c.frames)-1].Value.(map[string]any)
	return m
}

// testAgent exercises the hooks.
type testAgent struct {
	order     *[]int
	gate      chan struct{}
	entered   chan struct{}
	noProto   bool
	rejectAll bool
}

func (a *testAgent) InitialState() any { return map[string]any{"n": int64(0)} }
func (a *testAgent) ShouldSendProtocolMessages(_ *Context, c wire.Conn, def bool) bool {
	return def && !a.noProto
}
func (a *testAgent) ValidateStateChange(_ *Context, next any, _ wire.Conn) error {
	if a.rejectAll {
		return errors.New("no")
	}
	return nil
}
func (a *testAgent) OnMessage(_ *Context, c wire.Conn, m wire.Inbound) error {
	if a.entered != nil {
		a.entered <- struct{}{}
	}
	if a.gate != nil {
		<-a.gate
	}
	if string(m.Data) == "panic" {
		panic("boom")
	}
	*a.order = append(*a.order, int(m.Data[0]))
	return nil
}
func (a *testAgent) OnRequest(ctx *Context, w http.ResponseWriter, _ *http.Request) {
	_, _ = w.Write([]byte(ctx.Name()))
}
func (a *testAgent) Stop() {}
func (a *testAgent) Callables() map[string]Method {
	return map[string]Method{
		"add": {Call: func(_ *Context, call *Call) (any, error) {
			x, _ := call.Arg(0).(int64)
			y, _ := call.Arg(1).(int64)
			return x + y, nil
		}},
		"count3": {Streaming: true, Call: func(_ *Context, call *Call) (any, error) {
			for i := range 3 {
				if err := call.Stream(int64(i)); err != nil {
					return nil, err
				}
			}
			return "done", nil
		}},
		"fail": {Call: func(*Context, *Call) (any, error) { return nil, errors.New("it failed") }},
	}
}

func newHost(t *testing.T, cfg Config, a *testAgent) *Host {
	t.Helper()
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	h, err := New(cfg, Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Register(Class{Name: "test-agent", New: func(*Context) Agent { return a }}); err != nil {
		t.Fatal(err)
	}
	if err := h.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close(context.Background()) })
	return h
}

var addr = wire.Address{Class: "test-agent", Name: "a"}

func deliver(t *testing.T, h *Host, c wire.Conn, in wire.Inbound) error {
	t.Helper()
	done := make(chan error, 1)
	if err := h.Deliver(context.Background(), c, in, func(err error) { done <- err }); err != nil {
		return err
	}
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("event never handled")
		return nil
	}
}

func TestOrderAndBusy(t *testing.T) {
	var order []int
	a := &testAgent{order: &order, gate: make(chan struct{})}
	h := newHost(t, Config{MailboxSize: 3}, a)
	c := &fakeConn{key: "k", id: "c", addr: addr}
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Add(1)
		if err := h.Deliver(context.Background(), c, wire.Inbound{Data: []byte{byte(i)}}, func(error) { wg.Done() }); err != nil {
			t.Fatal(err)
		}
	}
	err := h.Deliver(context.Background(), c, wire.Inbound{Data: []byte{9}}, nil)
	if !errors.Is(err, wire.ErrBusy) {
		t.Fatalf("fourth frame into a mailbox of 3: %v", err)
	}
	if err := h.Connect(c); err != nil { // connects always get in
		t.Fatal(err)
	}
	close(a.gate)
	wg.Wait()
	if len(order) != 3 || order[0] != 0 || order[1] != 1 || order[2] != 2 {
		t.Fatalf("order %v", order)
	}
}

func TestConnectStateAndRPC(t *testing.T) {
	var order []int
	a := &testAgent{order: &order}
	h := newHost(t, Config{}, a)
	on := &fakeConn{key: "on", id: "on", addr: addr, protocol: true}
	off := &fakeConn{key: "off", id: "off", addr: addr, protocol: false}
	ro := &fakeConn{key: "ro", id: "ro", addr: addr, protocol: true, readonly: true}
	for _, c := range []*fakeConn{on, off, ro} {
		if err := h.Connect(c); err != nil {
			t.Fatal(err)
		}
	}
	if err := deliver(t, h, on, wire.Inbound{Kind: wire.InState, State: map[string]any{"n": int64(1)}}); err != nil {
		t.Fatal(err)
	}
	if got := on.types(); len(got) != 2 || got[0] != wire.TypeIdentity || got[1] != wire.TypeState {
		t.Errorf("source got %v, want identity and initial state only", got)
	}
	if got := off.types(); len(got) != 0 {
		t.Errorf("no-protocol connection got %v", got)
	}
	if got := ro.types(); len(got) != 3 || got[2] != wire.TypeState {
		t.Errorf("other connection got %v, want identity, state, state", got)
	}
	_ = deliver(t, h, ro, wire.Inbound{Kind: wire.InState, State: map[string]any{}})
	if m := ro.last(); m["type"] != wire.TypeStateError || m["error"] != wire.StateReadonly {
		t.Errorf("readonly update answered %v", m)
	}
	a.rejectAll = true
	_ = deliver(t, h, off, wire.Inbound{Kind: wire.InState, State: map[string]any{}})
	if m := off.last(); m["type"] != wire.TypeStateError || m["error"] != wire.StateRejected {
		t.Errorf("rejected update answered %v", m)
	}
	calls := []struct {
		method string
		want   map[string]any
	}{
		{"add", map[string]any{"success": true, "result": int64(5), "done": true}},
		{"fail", map[string]any{"success": false, "error": "it failed"}},
		{"nope", map[string]any{"success": false, "error": "Method nope does not exist"}},
		{"stop", map[string]any{"success": false, "error": "Method stop is not callable"}},
	}
	for _, c := range calls {
		_ = deliver(t, h, off, wire.Inbound{Kind: wire.InRPC, ID: "1", Method: c.method, Args: []any{int64(2), int64(3)}})
		m := off.last()
		for k, v := range c.want {
			if m[k] != v {
				t.Errorf("%s: %s = %v, want %v", c.method, k, m[k], v)
			}
		}
	}
	n := len(off.types())
	_ = deliver(t, h, off, wire.Inbound{Kind: wire.InRPC, ID: "s", Method: "count3"})
	if got := off.types()[n:]; len(got) != 4 {
		t.Fatalf("streaming call sent %v", got)
	}
	if m := off.last(); m["done"] != true || m["result"] != "done" {
		t.Errorf("final frame %v", m)
	}
}

func TestPanicFailsOnlyThatEvent(t *testing.T) {
	var order []int
	h := newHost(t, Config{}, &testAgent{order: &order})
	c := &fakeConn{key: "k", id: "c", addr: addr}
	if err := deliver(t, h, c, wire.Inbound{Data: []byte("panic")}); !errors.Is(err, wire.ErrFailed) {
		t.Fatalf("panic: %v", err)
	}
	if err := deliver(t, h, c, wire.Inbound{Data: []byte{7}}); err != nil || len(order) != 1 {
		t.Fatalf("after a panic: %v %v", err, order)
	}
}

func TestHTTPAndUnknown(t *testing.T) {
	var order []int
	h := newHost(t, Config{}, &testAgent{order: &order})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/agents/test-agent/a", nil), addr)
	if rec.Body.String() != "a" {
		t.Errorf("HTTP answer %q", rec.Body.String())
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/agents/x/a", nil), wire.Address{Class: "x", Name: "a"})
	if rec.Code != http.StatusNotFound {
		t.Errorf("unknown class: %d", rec.Code)
	}
	if err := h.Register(Class{Name: "Bad_Name", New: func(*Context) Agent { return nil }}); err == nil {
		t.Error("non-kebab class name accepted")
	}
}

func TestCloseFailsQueued(t *testing.T) {
	var order []int
	a := &testAgent{order: &order, gate: make(chan struct{}), entered: make(chan struct{}, 2)}
	h := newHost(t, Config{}, a)
	c := &fakeConn{key: "k", id: "c", addr: addr}
	errs := make(chan error, 2)
	for i := range 2 {
		_ = h.Deliver(context.Background(), c, wire.Inbound{Data: []byte{byte(i)}}, func(err error) { errs <- err })
	}
	<-a.entered // the first event is running, the second queued
	// Release the running event only once Close has marked the agent
	// closed, so the queued one is failed and never runs, however the
	// goroutines are scheduled.
	go func() {
		h.mu.Lock()
		in := h.agents[addr]
		h.mu.Unlock()
		for {
			in.mu.Lock()
			closed := in.closed
			in.mu.Unlock()
			if closed {
				break
			}
			time.Sleep(time.Millisecond)
		}
		close(a.gate)
	}()
	if err := h.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := <-errs; err != nil {
		t.Errorf("running event: %v", err)
	}
	if err := <-errs; !errors.Is(err, wire.ErrClosed) {
		t.Errorf("queued event after close: %v", err)
	}
	if err := h.Deliver(context.Background(), c, wire.Inbound{}, nil); !errors.Is(err, wire.ErrClosed) {
		t.Errorf("deliver after close: %v", err)
	}
}
