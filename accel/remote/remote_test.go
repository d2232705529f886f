package remote_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sync"
	"testing"

	"github.com/outpost-iot/outpost/accel"
	"github.com/outpost-iot/outpost/accel/engine"
	"github.com/outpost-iot/outpost/accel/internal/testserver"
	"github.com/outpost-iot/outpost/accel/remote"
)

func ptr[T any](v T) *T { return &v }

func client(t *testing.T, url string, cfg remote.Config) *remote.Client {
	t.Helper()
	cfg.BaseURL = url + "/v1"
	c, err := remote.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestSameAnswersAsLocal: through HTTP, the remote client gets the same
// greedy text and usage as the engine gives directly.
func TestSameAnswersAsLocal(t *testing.T) {
	e, url := testserver.Start(t, engine.Config{})
	c := client(t, url, remote.Config{})
	ctx := context.Background()

	ms, err := c.Models(ctx)
	if err != nil || len(ms) != 1 || ms[0].ID != "tiny" {
		t.Fatalf("models %+v %v", ms, err)
	}
	greedy := accel.Sampling{MaxTokens: 12, Temperature: ptr[float32](0), Stop: []string{"zz"}}
	creq := accel.CompletionRequest{Model: "tiny", Prompt: "remote and local", Sampling: greedy}
	chreq := accel.ChatRequest{Model: "tiny", Messages: []accel.Message{{Role: "user", Content: "hi"}}, Sampling: greedy}
	for name, pair := range map[string][2]func() (*accel.Stream, error){
		"completion": {func() (*accel.Stream, error) { return c.Complete(ctx, creq) }, func() (*accel.Stream, error) { return e.Complete(ctx, creq) }},
		"chat":       {func() (*accel.Stream, error) { return c.Chat(ctx, chreq) }, func() (*accel.Stream, error) { return e.Chat(ctx, chreq) }},
	} {
		var res [2]accel.Result
		for i, f := range pair {
			s, err := f()
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if res[i], err = accel.Collect(s); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		}
		if !reflect.DeepEqual(res[0], res[1]) {
			t.Errorf("%s: remote %+v, local %+v", name, res[0], res[1])
		}
		if res[0].Usage.CompletionTokens == 0 || res[0].FinishReason == "" {
			t.Errorf("%s: %+v", name, res[0])
		}
	}
}

func TestErrorsPassThrough(t *testing.T) {
	_, url := testserver.Start(t, engine.Config{ContextLength: 64})
	c := client(t, url, remote.Config{})
	ctx := context.Background()
	_, err := c.Chat(ctx, accel.ChatRequest{Model: "nope", Messages: []accel.Message{{Role: "user", Content: "x"}}})
	if !errors.Is(err, accel.ErrModelNotFound) || accel.AsError(err).Status != 404 || accel.AsError(err).Param != "model" {
		t.Errorf("unknown model: %#v", err)
	}
	long := ""
	for range 100 {
		long += "word "
	}
	if _, err := c.Complete(ctx, accel.CompletionRequest{Model: "tiny", Prompt: long}); !errors.Is(err, accel.ErrContextLength) {
		t.Errorf("too long: %v", err)
	}
	// Checked locally before any request.
	if _, err := c.Complete(ctx, accel.CompletionRequest{Model: "tiny", Sampling: accel.Sampling{TopK: -1}}); !errors.Is(err, accel.ErrInvalidRequest) {
		t.Errorf("top_k: %v", err)
	}
	// The configured model replaces request names.
	c2 := client(t, url, remote.Config{Model: "tiny"})
	s, err := c2.Complete(ctx, accel.CompletionRequest{Model: "whatever", Prompt: "x", Sampling: accel.Sampling{MaxTokens: 2}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := accel.Collect(s); err != nil {
		t.Error(err)
	}
	// A server that is not there.
	c3, _ := remote.New(remote.Config{BaseURL: "http://127.0.0.1:1/v1"})
	if _, err := c3.Models(ctx); accel.AsError(err).Status != http.StatusBadGateway {
		t.Errorf("no server: %v", err)
	}
	if _, err := remote.New(remote.Config{BaseURL: "ftp://x"}); err == nil {
		t.Error("ftp base URL accepted")
	}
}

// TestCancelFreesServer: closing a remote stream early, under concurrent
// load, cancels the server's requests; every KV block returns.
func TestCancelFreesServer(t *testing.T) {
	e, url := testserver.Start(t, engine.Config{MaxSeqs: 4})
	c := client(t, url, remote.Config{APIKey: "secret"})
	var wg sync.WaitGroup
	for i := range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			n := 200 // cancelled long before the end
			if i%3 == 0 {
				n = 20
			}
			s, err := c.Complete(ctx, accel.CompletionRequest{Model: "tiny", Prompt: "load", Sampling: accel.Sampling{MaxTokens: n, Seed: ptr(uint64(i))}})
			if err != nil {
				t.Error(err)
				return
			}
			if i%3 == 0 {
				if _, err := accel.Collect(s); err != nil {
					t.Error(err)
				}
				return
			}
			if _, err := s.Recv(); err != nil && err != io.EOF {
				t.Error(err)
			}
			if i%3 == 1 {
				s.Close()
			} else {
				cancel()
				for {
					if _, err := s.Recv(); err != nil {
						break
					}
				}
			}
		}()
	}
	wg.Wait()
	testserver.WaitIdle(t, e)
}

// TestMidStreamError: an error event inside the stream ends it with that
// error; a server that sends a bad status without a body gets a generic one.
func TestMidStreamError(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer k" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, ": ping\r\n\r\ndata: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"he\"}}]}\r\n\r\n"+
			"data: {\"error\":{\"message\":\"boom\",\"type\":\"server_error\",\"code\":500}}\n\n")
	}))
	defer srv.Close()
	c := client(t, srv.URL, remote.Config{APIKey: "k"})
	s, err := c.Chat(context.Background(), accel.ChatRequest{Messages: []accel.Message{{Role: "user", Content: "x"}}})
	if err != nil {
		t.Fatal(err)
	}
	ch, err := s.Recv()
	if err != nil || ch.Text != "he" {
		t.Fatalf("first chunk %+v %v", ch, err)
	}
	_, err = s.Recv()
	if e := accel.AsError(err); e.Message != "boom" || e.Code != "500" {
		t.Errorf("mid-stream error %#v", err)
	}
	bad := client(t, srv.URL, remote.Config{})
	if _, err := bad.Models(context.Background()); accel.AsError(err).Status != 401 {
		t.Errorf("unauthorized: %v", err)
	}
}
