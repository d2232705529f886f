package twin

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/outpost-iot/outpost/agenthost"
	"github.com/outpost-iot/outpost/codecs"
	"github.com/outpost-iot/outpost/wire"
)

// wait bounds every wait of these tests.
const wait = 15 * time.Second

var cbor = func() codecs.Codec {
	c, err := codecs.New(wire.CBOR, codecs.Limits{})
	if err != nil {
		panic(err)
	}
	return c
}()

// roundTrip encodes v in CBOR and decodes it, as a frame crosses the wire.
func roundTrip(t testing.TB, v any) any {
	t.Helper()
	data, err := cbor.Marshal(v)
	if err != nil {
		t.Fatalf("encode %v: %v", v, err)
	}
	back, err := cbor.Unmarshal(data)
	if err != nil {
		t.Fatal(err)
	}
	return back
}

// clock is a settable clock for the host and the twin.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.UnixMilli(1_764_000_000_000)} }

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) ms() int64      { return c.Now().UnixMilli() }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// fakeConn records the frames the twin sends, each encoded and decoded in
// CBOR as a device would receive it; it applies the protocol flag as the
// real choke point does.
type fakeConn struct {
	key, id   string
	addr      wire.Address
	transport string
	protocol  bool

	mu     sync.Mutex
	frames []map[string]any
	signal chan struct{}
}

var connSeq atomic.Int64

func newConn(device, transport string, protocol bool) *fakeConn {
	n := connSeq.Add(1)
	return &fakeConn{
		key: fmt.Sprintf("k%d", n), id: fmt.Sprintf("c%d", n), addr: wire.Address{Class: ClassName, Name: device},
		transport: transport, protocol: protocol, signal: make(chan struct{}, 1),
	}
}

func (c *fakeConn) ID() string                 { return c.id }
func (c *fakeConn) Key() string                { return c.key }
func (c *fakeConn) Agent() wire.Address        { return c.addr }
func (c *fakeConn) Transport() string          { return c.transport }
func (c *fakeConn) User() string               { return "" }
func (c *fakeConn) Codec() string              { return wire.CBOR }
func (c *fakeConn) Readonly() bool             { return false }
func (c *fakeConn) Joined() bool               { return true }
func (c *fakeConn) SetReadonly(bool)           {}
func (c *fakeConn) SetProtocolEnabled(bool)    {}
func (c *fakeConn) Close(int, string) error    { return nil }
func (c *fakeConn) ProtocolEnabled() bool      { return c.protocol }
func (c *fakeConn) String() string             { return c.id }
func (c *fakeConn) count() int                 { c.mu.Lock(); defer c.mu.Unlock(); return len(c.frames) }
func (c *fakeConn) frame(i int) map[string]any { c.mu.Lock(); defer c.mu.Unlock(); return c.frames[i] }

func (c *fakeConn) Send(f wire.Frame) error {
	if f.Kind == wire.Protocol && !c.protocol {
		return nil
	}
	data, err := cbor.Marshal(f.Value)
	if err != nil {
		return err
	}
	v, err := cbor.Unmarshal(data)
	if err != nil {
		return err
	}
	m, _ := v.(map[string]any)
	c.mu.Lock()
	c.frames = append(c.frames, m)
	c.mu.Unlock()
	select {
	case c.signal <- struct{}{}:
	default:
	}
	return nil
}

// next waits for frame i of a type (others are skipped) and returns it
// with the index after it.
func (c *fakeConn) next(t *testing.T, from int, typ string) (map[string]any, int) {
	t.Helper()
	deadline := time.After(wait)
	for i := from; ; {
		for ; i < c.count(); i++ {
			if f := c.frame(i); f["type"] == typ {
				return f, i + 1
			}
		}
		select {
		case <-c.signal:
		case <-deadline:
			t.Fatalf("%s: no %s frame after frame %d", c.id, typ, from)
		}
	}
}

// testHost is a real agent host with the twin class on a data directory.
type testHost struct {
	h   *agenthost.Host
	dir string
	clk *clock
}

func startHost(t *testing.T, dir string, clk *clock, cfg Config) *testHost {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	if clk == nil {
		clk = newClock()
	}
	cfg.Now = clk.Now
	h, err := agenthost.New(agenthost.Config{DataDir: dir}, agenthost.Options{Logger: slog.New(slog.DiscardHandler), Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Register(NewClass(cfg)); err != nil {
		t.Fatal(err)
	}
	if err := h.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	th := &testHost{h: h, dir: dir, clk: clk}
	t.Cleanup(th.close)
	return th
}

func (th *testHost) close() {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	_ = th.h.Close(ctx)
}

func (th *testHost) join(t *testing.T, c *fakeConn) {
	t.Helper()
	if err := th.h.Connect(c); err != nil {
		t.Fatal(err)
	}
}

// deliver hands the twin one frame from c, as the protocol layer does
// after decoding it, and returns the twin's error for it.
func (th *testHost) deliver(t *testing.T, c *fakeConn, frame any) error {
	t.Helper()
	return th.inbound(t, c, wire.Inbound{Kind: wire.InMessage, Value: roundTrip(t, frame), Binary: true})
}

func (th *testHost) inbound(t *testing.T, c *fakeConn, in wire.Inbound) error {
	t.Helper()
	done := make(chan error, 1)
	if err := th.h.Deliver(context.Background(), c, in, func(err error) { done <- err }); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		return err
	case <-time.After(wait):
		t.Fatal("the twin did not handle the frame")
		return nil
	}
}

var rpcSeq atomic.Int64

// call calls a callable from c and returns the rpc reply frame.
func (th *testHost) call(t *testing.T, c *fakeConn, method string, args ...any) map[string]any {
	t.Helper()
	id := fmt.Sprintf("r%d", rpcSeq.Add(1))
	wireArgs, _ := roundTrip(t, args).([]any)
	from := c.count()
	if err := th.inbound(t, c, wire.Inbound{Kind: wire.InRPC, ID: id, Method: method, Args: wireArgs}); err != nil {
		t.Fatalf("%s: %v", method, err)
	}
	for i := from; i < c.count(); i++ {
		if f := c.frame(i); f["type"] == wire.TypeRPC && f["id"] == id {
			return f
		}
	}
	t.Fatalf("no reply to %s", method)
	return nil
}

// result calls a callable and returns its result, failing on an error.
func (th *testHost) result(t *testing.T, c *fakeConn, method string, args ...any) any {
	t.Helper()
	f := th.call(t, c, method, args...)
	if f["success"] != true {
		t.Fatalf("%s%v: %v", method, args, f["error"])
	}
	return f["result"]
}

// callError calls a callable that must fail and returns its error.
func (th *testHost) callError(t *testing.T, c *fakeConn, method string, args ...any) string {
	t.Helper()
	f := th.call(t, c, method, args...)
	if f["success"] != false {
		t.Fatalf("%s%v succeeded with %v", method, args, f["result"])
	}
	return f["error"].(string)
}

// telemetry sends one telemetry frame with values at ts and fails on an
// error.
func (th *testHost) telemetry(t *testing.T, c *fakeConn, ts int64, values map[string]any) {
	t.Helper()
	if err := th.deliver(t, c, map[string]any{"type": "telemetry", "ts": ts, "values": values}); err != nil {
		t.Fatalf("telemetry: %v", err)
	}
}

// state is the twin's state as latest() and desired() tell it, plus the
// whole state as a protocol-enabled connection last received it.
func lastState(t *testing.T, c *fakeConn) map[string]any {
	t.Helper()
	for i := c.count() - 1; i >= 0; i-- {
		if f := c.frame(i); f["type"] == wire.TypeState {
			return f["state"].(map[string]any)
		}
	}
	t.Fatal("no state frame")
	return nil
}
