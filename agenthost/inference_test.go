package agenthost

import (
	"context"
	"errors"
	"log/slog"
	"testing"

	"github.com/outpost-iot/outpost/accel"
	"github.com/outpost-iot/outpost/wire"
)

type fakeInference struct{}

func (fakeInference) Models(context.Context) ([]accel.ModelInfo, error) {
	return []accel.ModelInfo{{ID: "tiny"}}, nil
}
func (fakeInference) Chat(context.Context, accel.ChatRequest) (*accel.Stream, error) {
	return nil, errors.New("not here")
}
func (fakeInference) Complete(context.Context, accel.CompletionRequest) (*accel.Stream, error) {
	return nil, errors.New("not here")
}

type modelsAgent struct{}

func (modelsAgent) Callables() map[string]Method {
	return map[string]Method{"models": {Call: func(ctx *Context, _ *Call) (any, error) {
		inf, err := ctx.Inference()
		if err != nil {
			return nil, err
		}
		m, err := inf.Models(ctx.Context())
		if err != nil {
			return nil, err
		}
		return m[0].ID, nil
	}}}
}

func TestContextInference(t *testing.T) {
	for _, tc := range []struct {
		inf  Inference
		want map[string]any
	}{
		{fakeInference{}, map[string]any{"success": true, "result": "tiny"}},
		{nil, map[string]any{"success": false, "error": ErrNoInference.Error()}},
	} {
		h, err := New(Config{DataDir: t.TempDir()}, Options{Logger: slog.New(slog.DiscardHandler), Inference: tc.inf})
		if err != nil {
			t.Fatal(err)
		}
		if err := h.Register(Class{Name: "models", New: func(*Context) Agent { return modelsAgent{} }}); err != nil {
			t.Fatal(err)
		}
		if err := h.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		c := &fakeConn{key: "k", id: "c", addr: wire.Address{Class: "models", Name: "m"}}
		if err := deliver(t, h, c, wire.Inbound{Kind: wire.InRPC, ID: "1", Method: "models"}); err != nil {
			t.Fatal(err)
		}
		m := c.last()
		for k, v := range tc.want {
			if m[k] != v {
				t.Errorf("%s = %v, want %v", k, m[k], v)
			}
		}
		h.Close(context.Background())
	}
}
