package chat

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/outpost-iot/outpost/accel"
	"github.com/outpost-iot/outpost/accel/engine"
	"github.com/outpost-iot/outpost/accel/gguf"
	"github.com/outpost-iot/outpost/accel/synth"
	"github.com/outpost-iot/outpost/agenthost"
	"github.com/outpost-iot/outpost/wire"
)

// wait bounds every wait of these tests; a loaded 2-core machine under
// -race is slow, and a test that hangs should fail rather than time out.
const wait = 60 * time.Second

var (
	modelOnce  sync.Once
	modelBytes []byte
	modelErr   error
)

// microEngine starts an engine on the synth "tiny" shape made four times
// cheaper (embedding 64, feed-forward 96: accel's testmodel.Micro), Q8_0,
// seed 1, with the id "tiny".
func microEngine(t testing.TB) *engine.Engine {
	t.Helper()
	modelOnce.Do(func() {
		shape, err := synth.LookupShape("tiny")
		if err != nil {
			modelErr = err
			return
		}
		shape.Name, shape.NEmbd, shape.NFF = "micro", 64, 96
		var buf bytes.Buffer
		modelErr = synth.Write(&buf, synth.Options{Shape: shape, Quant: gguf.Q8_0, Seed: 1})
		modelBytes = buf.Bytes()
	})
	if modelErr != nil {
		t.Fatal(modelErr)
	}
	f, err := gguf.Decode(modelBytes)
	if err != nil {
		t.Fatal(err)
	}
	m, err := engine.FromFile(f, "tiny")
	if err != nil {
		t.Fatal(err)
	}
	e, err := engine.New(m, engine.Config{Threads: 1, ContextLength: 512})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close(context.Background()) })
	return e
}

func ptr[T any](v T) *T { return &v }

// greedy is the test agents' configuration: deterministic replies.
var greedy = Config{Temperature: ptr[float32](0)}

// logBuf is a goroutine-safe log sink.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) { l.mu.Lock(); defer l.mu.Unlock(); return l.b.Write(p) }
func (l *logBuf) String() string              { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

type testHost struct {
	*agenthost.Host
	dir string
	log *logBuf
}

// startHost runs a real agent host with the chat class (cfg) in dir; inf
// may be nil (a gateway without a model).
func startHost(t *testing.T, dir string, cfg Config, inf agenthost.Inference) *testHost {
	t.Helper()
	return startHostWith(t, agenthost.Config{DataDir: dir}, NewClass(ClassName, cfg), inf)
}

// startHostWith runs a real agent host with hc and class.
func startHostWith(t *testing.T, hc agenthost.Config, class agenthost.Class, inf agenthost.Inference) *testHost {
	t.Helper()
	dir := hc.DataDir
	lb := &logBuf{}
	opts := agenthost.Options{Logger: slog.New(slog.NewTextHandler(lb, nil))}
	if inf != nil {
		opts.Inference = inf
	}
	h, err := agenthost.New(hc, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Register(class); err != nil {
		t.Fatal(err)
	}
	if err := h.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close(context.Background()) })
	return &testHost{Host: h, dir: dir, log: lb}
}

var agentAddr = wire.Address{Class: ClassName, Name: "room"}

// testConn records the frames the agent sends it; onSend, when set, runs
// on the agent's goroutine for each frame, before it is recorded.
type testConn struct {
	key    string
	codec  string
	onSend func(map[string]any)

	mu     sync.Mutex
	frames []map[string]any
	notify chan struct{}
}

func newConn(key string) *testConn {
	return &testConn{key: key, codec: wire.JSON, notify: make(chan struct{}, 1)}
}

func (c *testConn) ID() string              { return c.key }
func (c *testConn) Key() string             { return c.key }
func (c *testConn) Agent() wire.Address     { return agentAddr }
func (c *testConn) Transport() string       { return wire.WebSocket }
func (c *testConn) User() string            { return "" }
func (c *testConn) Codec() string           { return c.codec }
func (c *testConn) Readonly() bool          { return false }
func (c *testConn) Joined() bool            { return true }
func (c *testConn) SetReadonly(bool)        {}
func (c *testConn) ProtocolEnabled() bool   { return false }
func (c *testConn) SetProtocolEnabled(bool) {}
func (c *testConn) Close(int, string) error { return nil }
func (c *testConn) Send(f wire.Frame) error {
	if f.Kind == wire.Protocol {
		return nil
	}
	m, _ := f.Value.(map[string]any)
	if c.onSend != nil {
		c.onSend(m)
	}
	c.mu.Lock()
	c.frames = append(c.frames, m)
	c.mu.Unlock()
	select {
	case c.notify <- struct{}{}:
	default:
	}
	return nil
}

func (c *testConn) all() []map[string]any {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]map[string]any(nil), c.frames...)
}

// waitFor waits until a recorded frame satisfies ok and returns it.
func (c *testConn) waitFor(t *testing.T, what string, ok func(map[string]any) bool) map[string]any {
	t.Helper()
	deadline := time.After(wait)
	for {
		for _, f := range c.all() {
			if ok(f) {
				return f
			}
		}
		select {
		case <-c.notify:
		case <-deadline:
			t.Fatalf("%s: no %s; frames %v", c.key, what, c.all())
		}
	}
}

// waitDone waits for the terminal frame of request id.
func (c *testConn) waitDone(t *testing.T, id string) map[string]any {
	t.Helper()
	return c.waitFor(t, "done frame of "+id, func(f map[string]any) bool {
		return f["type"] == TypeUseChatResponse && f["id"] == id && f["done"] == true
	})
}

// chunks returns the chunk bodies of request id's response frames.
func (c *testConn) chunks(id string) []map[string]any {
	var out []map[string]any
	for _, f := range c.all() {
		if f["type"] != TypeUseChatResponse || f["id"] != id || f["done"] == true {
			continue
		}
		if n, ok := f["body"].(wire.Nested); ok {
			out = append(out, n.Value.(map[string]any))
		}
	}
	return out
}

func (c *testConn) ofType(typ string) []map[string]any {
	var out []map[string]any
	for _, f := range c.all() {
		if f["type"] == typ {
			out = append(out, f)
		}
	}
	return out
}

func connect(t *testing.T, h *testHost, c *testConn) {
	t.Helper()
	if err := h.Connect(c); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Disconnect(c) })
}

// send delivers a frame (given as the JSON a client sends) and waits until
// the agent handled it.
func send(t *testing.T, h *testHost, c *testConn, frameJSON string) error {
	t.Helper()
	v, err := wideCodec.Unmarshal([]byte(frameJSON))
	if err != nil {
		t.Fatalf("test frame %.200s: %v", frameJSON, err)
	}
	done := make(chan error, 1)
	if err := h.Deliver(context.Background(), c, wire.Inbound{Data: []byte(frameJSON), Value: v}, func(err error) { done <- err }); err != nil {
		return err
	}
	select {
	case err := <-done:
		return err
	case <-time.After(wait):
		t.Fatal("frame never handled")
		return nil
	}
}

// chatRequest is the frame @cloudflare/ai-chat sends: init.body is JSON
// text holding the messages (and custom body fields).
func chatRequest(id string, body map[string]any) string {
	b, _ := json.Marshal(body)
	f, _ := json.Marshal(map[string]any{"type": TypeUseChatRequest, "id": id, "init": map[string]any{"method": "POST", "body": string(b)}})
	return string(f)
}

func userMsg(id, text string) map[string]any {
	return map[string]any{"id": id, "role": "user", "parts": []any{map[string]any{"type": "text", "text": text}}}
}

// getMessages is GET /agents/chat/room/get-messages.
func getMessages(t *testing.T, h *testHost) []map[string]any {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/agents/chat/room/get-messages", nil), agentAddr)
	if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
		t.Fatalf("get-messages: %d %s", rec.Code, rec.Body)
	}
	var out []map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		t.Fatalf("get-messages: %v: %s", err, rec.Body)
	}
	return out
}

// openDB opens the agent's database file beside the host's own handle.
func openDB(t *testing.T, dir string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "agents", ClassName, agentAddr.Name+".db")+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// textOf is the text of a stored message (as JSON decodes it).
func textOf(m map[string]any) string {
	var b strings.Builder
	parts, _ := m["parts"].([]any)
	for _, p := range parts {
		if pm, _ := p.(map[string]any); pm["type"] == "text" {
			s, _ := pm["text"].(string)
			b.WriteString(s)
		}
	}
	return b.String()
}

// deltas is the text of the text-delta chunks.
func deltas(chunks []map[string]any) string {
	var b strings.Builder
	for _, c := range chunks {
		if c["type"] == "text-delta" {
			b.WriteString(c["delta"].(string))
		}
	}
	return b.String()
}

// isChunk matches response frames whose chunk has that type.
func isChunk(typ string) func(map[string]any) bool {
	return func(f map[string]any) bool {
		n, ok := f["body"].(wire.Nested)
		return ok && n.Value.(map[string]any)["type"] == typ
	}
}

// postOnce is an onSend hook that, the first time a frame matches when,
// posts frameJSON from c to the agent without waiting (it runs on the
// agent's goroutine): a client frame that arrives mid-stream.
func postOnce(t *testing.T, h *testHost, c *testConn, when func(map[string]any) bool, frameJSON string) func(map[string]any) {
	var once sync.Once
	return func(f map[string]any) {
		if !when(f) {
			return
		}
		once.Do(func() { post(t, h, c, frameJSON) })
	}
}

// post delivers a frame from c without waiting for the agent (safe on the
// agent's goroutine).
func post(t *testing.T, h *testHost, c *testConn, frameJSON string) {
	v, err := jsonCodec.Unmarshal([]byte(frameJSON))
	if err == nil {
		err = h.Deliver(context.Background(), c, wire.Inbound{Data: []byte(frameJSON), Value: v}, nil)
	}
	if err != nil {
		t.Error(err)
	}
}

// turnOK runs a turn of maxTokens and fails unless it ends with done.
func turnOK(t *testing.T, h *testHost, c *testConn, id string, msgs []any, maxTokens int) {
	t.Helper()
	if err := send(t, h, c, chatRequest(id, map[string]any{"messages": msgs, "maxTokens": maxTokens})); err != nil {
		t.Fatal(err)
	}
	if f := c.waitDone(t, id); f["error"] != nil {
		t.Fatalf("turn %s: %v", id, f)
	}
}

// gatedInference wraps a backend: it records each chat request, and
// holds every token after the first until gate is closed.
type gatedInference struct {
	agenthost.Inference
	gate chan struct{}
	reqs chan accel.ChatRequest
	wg   sync.WaitGroup
}

func newGated(t *testing.T, inf agenthost.Inference) *gatedInference {
	g := &gatedInference{Inference: inf, gate: make(chan struct{}), reqs: make(chan accel.ChatRequest, 16)}
	t.Cleanup(g.wg.Wait)
	return g
}

func (g *gatedInference) Chat(ctx context.Context, req accel.ChatRequest) (*accel.Stream, error) {
	g.reqs <- req
	s, err := g.Inference.Chat(ctx, req)
	if err != nil {
		return nil, err
	}
	out := make(chan accel.Event)
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		defer close(out)
		defer s.Close()
		for n := 0; ; n++ {
			ch, err := s.Recv()
			ev := accel.Event{Chunk: ch, Err: err}
			if errors.Is(err, io.EOF) {
				return
			}
			if n == 1 {
				select {
				case <-g.gate:
				case <-ctx.Done():
					return
				}
			}
			select {
			case out <- ev:
			case <-ctx.Done():
				return
			}
			if err != nil || ch.FinishReason != "" {
				return
			}
		}
	}()
	return accel.NewStream(out, func() {}), nil
}

// startHostF is startHost for a fuzz target: a host without a model, in a
// directory of the fuzz run.
func startHostF(f *testing.F) *agenthost.Host {
	f.Helper()
	h, err := agenthost.New(agenthost.Config{DataDir: f.TempDir()}, agenthost.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		f.Fatal(err)
	}
	if err := h.Register(NewClass(ClassName, Config{MaxPersistedMessages: 50})); err != nil {
		f.Fatal(err)
	}
	if err := h.Start(context.Background()); err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = h.Close(context.Background()) })
	return h
}
