// Package testserver runs the local engine on a tiny synthesized model
// behind the OpenAI-compatible API on a random loopback port, for tests.
package testserver

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/outpost-iot/outpost/accel/engine"
	"github.com/outpost-iot/outpost/accel/internal/testmodel"
	"github.com/outpost-iot/outpost/accel/openai"
)

// Start serves testmodel.Micro (a cheaper variant of the "tiny" shape) as
// the model "tiny" and returns the engine and the
// server's base URL (without /v1). Both stop when the test ends.
func Start(t testing.TB, cfg engine.Config) (*engine.Engine, string) {
	t.Helper()
	m, err := engine.FromFile(testmodel.Micro(t), "tiny")
	if err != nil {
		t.Fatal(err)
	}
	e, err := engine.New(m, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(openai.NewHandler(e, nil))
	t.Cleanup(func() {
		srv.Close()
		_ = e.Close(context.Background())
	})
	return e, srv.URL
}

// WaitIdle waits until the engine has no request and no block in use.
func WaitIdle(t testing.TB, e *engine.Engine) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		st := e.Stats()
		if st.Running == 0 && st.Waiting == 0 && st.UsedBlocks == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("engine still busy: %+v", st)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
