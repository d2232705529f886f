package engine

import (
	"context"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/outpost-iot/outpost/accel"
	"github.com/outpost-iot/outpost/accel/gguf"
	"github.com/outpost-iot/outpost/accel/internal/testmodel"
	"github.com/outpost-iot/outpost/accel/llama"
	"github.com/outpost-iot/outpost/accel/synth"
)

// tinyModel loads a synthesized model of the "tiny" family (the cheaper
// "micro" variant, Q8_0, seed 1) with the id "tiny".
func tinyModel(t testing.TB) *Model {
	t.Helper()
	m, err := FromFile(testmodel.Micro(t), "tiny")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func startEngine(t testing.TB, cfg Config) *Engine {
	t.Helper()
	return startHeld(t, cfg, nil)
}

// startHeld starts an engine whose scheduler waits until hold is closed,
// so that requests submitted before that all arrive in its first step
// however fast the machine is.
func startHeld(t testing.TB, cfg Config, hold chan struct{}) *Engine {
	t.Helper()
	e, err := New(tinyModel(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.hold = hold
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := e.Close(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return e
}

func ptr[T any](v T) *T { return &v }

func greedyReq(prompt string, n int) accel.CompletionRequest {
	return accel.CompletionRequest{Prompt: prompt, Sampling: accel.Sampling{MaxTokens: n, Temperature: ptr[float32](0)}}
}

func complete(t testing.TB, e *Engine, req accel.CompletionRequest) accel.Result {
	t.Helper()
	s, err := e.Complete(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	res, err := accel.Collect(s)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// waitIdle waits until the scheduler has no requests and returns the stats.
func waitIdle(t testing.TB, e *Engine) Stats {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		st := e.Stats()
		if st.Running == 0 && st.Waiting == 0 && e.inflight.Load() == 0 {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("engine not idle: %+v", st)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// reference returns the text llama.Generate produces greedily.
func reference(t testing.TB, e *Engine, prompt string, n int) string {
	m := e.Model()
	toks := e.Tokenize(prompt)
	out, err := llama.Generate(m.LM, toks, n, len(toks)+n, m.Tok.EOS(), m.Tok.EOT())
	if err != nil {
		t.Fatal(err)
	}
	if len(out) > 0 && m.Tok.IsEOG(out[len(out)-1]) {
		out = out[:len(out)-1]
	}
	return m.Tok.Decode(out)
}

var prompts = []string{
	"hello world",
	"the quick brown fox jumps over the lazy dog and keeps running far away",
	"a",
	"edge gateways run agents next to the devices they serve, with a broker and a model",
	"one two three four five six seven eight nine ten eleven twelve thirteen fourteen",
}

func TestGreedyMatchesReference(t *testing.T) {
	e := startEngine(t, Config{})
	for _, p := range prompts[:3] {
		got := complete(t, e, greedyReq(p, 20))
		if want := reference(t, e, p, 20); got.Text != want {
			t.Errorf("%q: engine %q, reference %q", p, got.Text, want)
		}
		if got.Usage.PromptTokens != len(e.Tokenize(p)) || got.Usage.TotalTokens != got.Usage.PromptTokens+got.Usage.CompletionTokens {
			t.Errorf("usage %+v", got.Usage)
		}
	}
	if st := waitIdle(t, e); st.UsedBlocks != 0 {
		t.Errorf("blocks in use after all requests: %+v", st)
	}
}

// submitAll submits every request and returns their streams.
func submitAll(t *testing.T, e *Engine, reqs []accel.CompletionRequest) []*accel.Stream {
	t.Helper()
	var streams []*accel.Stream
	for _, r := range reqs {
		s, err := e.Complete(context.Background(), r)
		if err != nil {
			t.Fatal(err)
		}
		streams = append(streams, s)
	}
	return streams
}

// collectAll lets a held engine's scheduler start and returns the texts of
// the streams, in order. The streams' buffers hold whole replies, so
// reading them one after another stalls nothing.
func collectAll(t *testing.T, streams []*accel.Stream, hold chan struct{}) []string {
	t.Helper()
	close(hold)
	var out []string
	for _, s := range streams {
		res, err := accel.Collect(s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, res.Text)
	}
	return out
}

// concurrent runs every prompt at once and returns the texts.
func concurrent(t *testing.T, e *Engine, reqs []accel.CompletionRequest) []string {
	out := make([]string, len(reqs))
	var wg sync.WaitGroup
	for i, r := range reqs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = complete(t, e, r).Text
		}()
	}
	wg.Wait()
	return out
}

// TestBatchedEqualsUnbatched: greedy outputs are the same whether the
// requests run alone or together in one batch, with small prefill chunks,
// and after prefix-cache hits.
func TestBatchedEqualsUnbatched(t *testing.T) {
	solo := startEngine(t, Config{MaxSeqs: 1, TokenBudget: 8})
	var reqs []accel.CompletionRequest
	var want []string
	for _, p := range prompts {
		reqs = append(reqs, greedyReq(p, 8))
		want = append(want, complete(t, solo, greedyReq(p, 8)).Text)
	}
	if st := solo.Stats(); st.MaxBatchTokens > 8 {
		t.Errorf("token budget 8 exceeded: %d", st.MaxBatchTokens)
	}
	hold := make(chan struct{})
	batched := startHeld(t, Config{MaxSeqs: 8, TokenBudget: 16}, hold)
	got := collectAll(t, submitAll(t, batched, reqs), hold)
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("prompt %d: batched %q, alone %q", i, got[i], want[i])
		}
	}
	// Same prompts again, twice at once: full blocks come from the prefix
	// cache (some possibly still being written by the twin request).
	before := batched.Stats().CachedTokens
	got = concurrent(t, batched, append(reqs, reqs...))
	for i := range got {
		if got[i] != want[i%len(want)] {
			t.Errorf("prompt %d with prefix cache: %q, want %q", i, got[i], want[i%len(want)])
		}
	}
	st := waitIdle(t, batched)
	if st.CachedTokens == before {
		t.Error("no prefix-cache hit")
	}
	if st.UsedBlocks != 0 {
		t.Errorf("blocks in use: %+v", st)
	}
}

// TestPreemption: a pool that holds little more than one context forces
// recompute preemption; outputs stay the same.
func TestPreemption(t *testing.T) {
	solo := startEngine(t, Config{ContextLength: 96, MaxSeqs: 1})
	hold := make(chan struct{})
	e := startHeld(t, Config{ContextLength: 96, KVBlocks: 6, MaxSeqs: 6, TokenBudget: 32}, hold)
	var reqs []accel.CompletionRequest
	var want []string
	for _, p := range prompts {
		r := greedyReq(p, 24)
		reqs = append(reqs, r)
		want = append(want, complete(t, solo, r).Text)
	}
	// All five are waiting when the scheduler starts: they cannot all fit
	// in six blocks.
	got := collectAll(t, submitAll(t, e, reqs), hold)
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("prompt %d: %q, want %q", i, got[i], want[i])
		}
	}
	st := waitIdle(t, e)
	if st.Preemptions == 0 {
		t.Errorf("no preemption: %+v", st)
	}
	if st.UsedBlocks != 0 {
		t.Errorf("blocks in use: %+v", st)
	}
}

// TestNoLeakUnderLoad: requests that finish, are cancelled by their
// context, or are closed by the consumer mid-stream all give their blocks
// back.
func TestNoLeakUnderLoad(t *testing.T) {
	e := startEngine(t, Config{ContextLength: 128, KVBlocks: 24, MaxSeqs: 8, TokenBudget: 32})
	var wg sync.WaitGroup
	for i := 0; i < 24; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			req := accel.CompletionRequest{Prompt: prompts[i%len(prompts)], Sampling: accel.Sampling{MaxTokens: 8 + i%20, Seed: ptr(uint64(i))}}
			s, err := e.Complete(ctx, req)
			if err != nil {
				t.Error(err)
				return
			}
			switch i % 4 {
			case 0: // read to the end
				if _, err := accel.Collect(s); err != nil {
					t.Error(err)
				}
			case 1: // cancel the context after the first chunk
				if _, err := s.Recv(); err != nil && !errors.Is(err, io.EOF) {
					t.Error(err)
				}
				cancel()
				for {
					if _, err := s.Recv(); err != nil {
						break
					}
				}
			case 2: // close the stream early
				_, _ = s.Recv()
				s.Close()
			case 3: // cancel before reading anything
				cancel()
				s.Close()
			}
		}()
	}
	wg.Wait()
	st := waitIdle(t, e)
	if st.UsedBlocks != 0 || st.FreeBlocks != st.TotalBlocks {
		t.Errorf("blocks leaked: %+v", st)
	}
}

func TestErrors(t *testing.T) {
	e := startEngine(t, Config{ContextLength: 64})
	ctx := context.Background()
	long := strings.Repeat("word ", 100)
	for name, c := range map[string]struct {
		run  func() error
		want *accel.Error
	}{
		"unknown model": {func() error {
			_, err := e.Complete(ctx, accel.CompletionRequest{Model: "nope", Prompt: "x"})
			return err
		}, accel.ErrModelNotFound},
		"too long": {func() error { _, err := e.Complete(ctx, accel.CompletionRequest{Prompt: long}); return err }, accel.ErrContextLength},
		"temperature": {func() error {
			_, err := e.Complete(ctx, accel.CompletionRequest{Prompt: "x", Sampling: accel.Sampling{Temperature: ptr[float32](-1)}})
			return err
		}, accel.ErrInvalidRequest},
		"no messages": {func() error { _, err := e.Chat(ctx, accel.ChatRequest{}); return err }, accel.ErrInvalidRequest},
		"bad role": {func() error {
			_, err := e.Chat(ctx, accel.ChatRequest{Messages: []accel.Message{{Role: "robot", Content: "x"}}})
			return err
		}, accel.ErrInvalidRequest},
	} {
		err := c.run()
		if !errors.Is(err, c.want) {
			t.Errorf("%s: error %v, want %v", name, err, c.want)
		}
		if ae := accel.AsError(err); ae.Status != c.want.Status {
			t.Errorf("%s: status %d, want %d", name, ae.Status, c.want.Status)
		}
	}
	// The engine still serves.
	if res := complete(t, e, greedyReq("hello", 5)); res.FinishReason == "" {
		t.Errorf("result %+v", res)
	}
}

func TestSamplingAndStops(t *testing.T) {
	e := startEngine(t, Config{})
	// A seed makes random sampling reproducible.
	req := accel.CompletionRequest{Prompt: "seeded", Sampling: accel.Sampling{MaxTokens: 24, Temperature: ptr[float32](0.9), TopK: 40, TopP: ptr[float32](0.95), MinP: 0.02, RepetitionPenalty: 1.1, Seed: ptr[uint64](42)}}
	a, b := complete(t, e, req), complete(t, e, req)
	if a.Text != b.Text || a.Usage.CompletionTokens == 0 {
		t.Errorf("same seed, different text: %q vs %q", a.Text, b.Text)
	}
	// max_tokens ends with "length".
	full := complete(t, e, greedyReq("stop here", 30))
	if full.FinishReason != accel.FinishLength || full.Usage.CompletionTokens != 30 {
		t.Fatalf("result %+v", full)
	}
	// A stop string taken from the greedy text cuts it there.
	runes := []rune(full.Text)
	if len(runes) < 12 {
		t.Skipf("greedy text too short: %q", full.Text)
	}
	stop := string(runes[8:11])
	want := full.Text[:strings.Index(full.Text, stop)]
	r := greedyReq("stop here", 30)
	r.Stop = []string{stop}
	got := complete(t, e, r)
	if got.Text != want || got.FinishReason != accel.FinishStop {
		t.Errorf("stop %q: got %q (%s), want %q", stop, got.Text, got.FinishReason, want)
	}
	// Chat works and ends with a finish reason.
	s, err := e.Chat(context.Background(), accel.ChatRequest{Model: "tiny", Messages: []accel.Message{{Role: "system", Content: "be brief"}, {Role: "user", Content: "hi"}}, Sampling: accel.Sampling{MaxTokens: 8}})
	if err != nil {
		t.Fatal(err)
	}
	if res, err := accel.Collect(s); err != nil || res.FinishReason == "" {
		t.Errorf("chat: %+v %v", res, err)
	}
}

// TestSlowConsumer: a consumer that never reads is dropped once its
// buffer is full, without stalling other requests. The buffer holds all
// of the other request's events (20 tokens, start and end: 22), so that
// request cannot be dropped however slowly this test reads it, which with
// the fast kernels is slower than the engine writes.
func TestSlowConsumer(t *testing.T) {
	e := startEngine(t, Config{StreamBuffer: 22})
	stalled, err := e.Complete(context.Background(), greedyReq("stall", 50))
	if err != nil {
		t.Fatal(err)
	}
	if res := complete(t, e, greedyReq("other", 20)); res.Usage.CompletionTokens == 0 {
		t.Errorf("other request: %+v", res)
	}
	waitIdle(t, e)
	var err2 error
	for err2 == nil {
		_, err2 = stalled.Recv()
	}
	if !errors.Is(err2, accel.ErrSlowConsumer) {
		t.Errorf("stalled stream ended with %v, want ErrSlowConsumer", err2)
	}
	if st := e.Stats(); st.UsedBlocks != 0 {
		t.Errorf("blocks in use: %+v", st)
	}
}

func TestClose(t *testing.T) {
	e, err := New(tinyModel(t), Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Complete(context.Background(), greedyReq("x", 1)); !errors.Is(err, accel.ErrClosed) {
		t.Errorf("before Start: %v", err)
	}
	_ = e.Start(context.Background())
	s, err := e.Complete(context.Background(), greedyReq("x", 400))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	var rerr error
	for rerr == nil {
		_, rerr = s.Recv()
	}
	if !errors.Is(rerr, accel.ErrClosed) && !errors.Is(rerr, io.EOF) {
		t.Errorf("stream after Close: %v", rerr)
	}
	if _, err := e.Complete(context.Background(), greedyReq("x", 1)); !errors.Is(err, accel.ErrClosed) {
		t.Errorf("after Close: %v", err)
	}
}

func TestModelID(t *testing.T) {
	for in, want := range map[string]string{"/a/b/tinyllama.gguf": "tinyllama", "m.GGUF": "m", "x.bin": "x.bin", ".gguf": ".gguf"} {
		if got := ModelID(in); got != want {
			t.Errorf("ModelID(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestLoad maps a model file, reports progress up to its tensor bytes and
// names the model after the file.
func TestLoad(t *testing.T) {
	shape, err := synth.LookupShape("tiny")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "my-model.gguf")
	if err := synth.WriteFile(context.Background(), path, synth.Options{Shape: shape, Quant: gguf.Q8_0, Seed: 1}, nil); err != nil {
		t.Fatal(err)
	}
	var last, total int64
	m, err := Load(context.Background(), path, func(done, tot int64) { last, total = done, tot })
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.ID != "my-model" || total == 0 || last != total || m.Family.String() != "chatml" {
		t.Errorf("id %q, progress %d/%d, family %v", m.ID, last, total, m.Family)
	}
	if _, err := Load(context.Background(), filepath.Join(t.TempDir(), "none.gguf"), nil); err == nil {
		t.Error("missing file loaded")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Load(ctx, path, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled load: %v", err)
	}
}
