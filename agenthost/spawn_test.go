package agenthost

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/outpost-iot/outpost/wire"
)

type spawner struct{}

func (spawner) Callables() map[string]Method {
	return map[string]Method{
		"produce": {Call: func(ctx *Context, call *Call) (any, error) {
			conn := call.Conn
			ctx.Spawn(func(_ context.Context, run func(func(*Context) error) error) {
				for i := range int64(5) {
					if err := run(func(ctx *Context) error {
						return conn.Send(wire.Frame{Kind: wire.Message, Value: map[string]any{"type": "chunk", "n": i}})
					}); err != nil {
						return
					}
				}
			})
			return "started", nil
		}},
		"block": {Call: func(ctx *Context, _ *Call) (any, error) {
			ctx.Spawn(func(ctx context.Context, run func(func(*Context) error) error) {
				<-ctx.Done()
				if err := run(func(*Context) error { return nil }); !errors.Is(err, ErrHostClosed) {
					panic("run after close did not fail")
				}
			})
			return nil, nil
		}},
	}
}

func TestSpawn(t *testing.T) {
	h, err := New(Config{DataDir: t.TempDir()}, Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Register(Class{Name: "spawner", New: func(*Context) Agent { return spawner{} }}); err != nil {
		t.Fatal(err)
	}
	if err := h.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	c := &fakeConn{key: "k", id: "c", addr: wire.Address{Class: "spawner", Name: "s"}}
	if err := deliver(t, h, c, wire.Inbound{Kind: wire.InRPC, ID: "1", Method: "produce"}); err != nil {
		t.Fatal(err)
	}
	if err := deliver(t, h, c, wire.Inbound{Kind: wire.InRPC, ID: "2", Method: "block"}); err != nil {
		t.Fatal(err)
	}
	count := func() (n int) {
		for _, typ := range c.types() {
			if typ == "chunk" {
				n++
			}
		}
		return n
	}
	deadline := time.Now().Add(10 * time.Second)
	for count() < 5 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	// Close cancels the blocked worker and waits for it.
	if err := h.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 5 {
		t.Fatalf("got %d chunks (%v)", n, c.types())
	}
}
