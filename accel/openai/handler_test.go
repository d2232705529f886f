package openai_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/outpost-iot/outpost/accel"
	"github.com/outpost-iot/outpost/accel/engine"
	"github.com/outpost-iot/outpost/accel/internal/testserver"
	"github.com/outpost-iot/outpost/accel/openai"
	"github.com/outpost-iot/outpost/accel/remote"
	"github.com/outpost-iot/outpost/internal/testutil"
)

func serve(t *testing.T, cfg engine.Config) (*engine.Engine, string) {
	t.Helper()
	return testserver.Start(t, cfg)
}

func post(t *testing.T, url, body string) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func waitIdle(t *testing.T, e *engine.Engine) { t.Helper(); testserver.WaitIdle(t, e) }

func TestNonStreaming(t *testing.T) {
	_, url := serve(t, engine.Config{})
	resp, b := post(t, url+"/v1/chat/completions", `{"model":"tiny","messages":[{"role":"user","content":[{"type":"text","text":"hi"}]}],"max_tokens":5,"temperature":0}`)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	var cc openai.ChatCompletion
	if err := json.Unmarshal(b, &cc); err != nil {
		t.Fatal(err)
	}
	if cc.Object != "chat.completion" || len(cc.Choices) != 1 || cc.Choices[0].Message.Role != "assistant" || cc.Usage == nil || cc.Usage.CompletionTokens == 0 || cc.Model != "tiny" {
		t.Errorf("response %s", b)
	}
	resp, b = post(t, url+"/v1/completions", `{"model":"tiny","prompt":"abc","max_tokens":5,"seed":7}`)
	var c openai.Completion
	if err := json.Unmarshal(b, &c); err != nil || resp.StatusCode != 200 || c.Object != "text_completion" || c.Choices[0].FinishReason == "" {
		t.Errorf("completion %d %s %v", resp.StatusCode, b, err)
	}
	r, err := http.Get(url + "/v1/models")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	var ml openai.ModelList
	if err := json.NewDecoder(r.Body).Decode(&ml); err != nil || len(ml.Data) != 1 || ml.Data[0].ID != "tiny" || ml.Object != "list" {
		t.Errorf("models %+v %v", ml, err)
	}
}

// readSSE returns the data payloads of a streamed response.
func readSSE(t *testing.T, body io.Reader) []string {
	t.Helper()
	var out []string
	sc := bufio.NewScanner(body)
	for sc.Scan() {
		if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			out = append(out, d)
		}
	}
	return out
}

func TestStreaming(t *testing.T) {
	_, url := serve(t, engine.Config{})
	resp, err := http.Post(url+"/v1/chat/completions", "application/json", strings.NewReader(
		`{"model":"tiny","messages":[{"role":"user","content":"hi"}],"max_tokens":6,"stream":true,"stream_options":{"include_usage":true}}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("content type %q", ct)
	}
	events := readSSE(t, resp.Body)
	if len(events) < 3 || events[len(events)-1] != "[DONE]" {
		t.Fatalf("events %q", events)
	}
	var first, usage openai.Chunk
	_ = json.Unmarshal([]byte(events[0]), &first)
	_ = json.Unmarshal([]byte(events[len(events)-2]), &usage)
	if first.Choices[0].Delta.Role != "assistant" || usage.Usage == nil || len(usage.Choices) != 0 {
		t.Errorf("first %s, usage %s", events[0], events[len(events)-2])
	}
	var fin openai.Chunk
	_ = json.Unmarshal([]byte(events[len(events)-3]), &fin)
	if fin.Choices[0].FinishReason == nil {
		t.Errorf("no finish reason in %s", events[len(events)-3])
	}
}

func TestErrors(t *testing.T) {
	_, url := serve(t, engine.Config{ContextLength: 64})
	for _, c := range []struct {
		path, body string
		status     int
		code       string
		param      string
	}{
		{"/v1/chat/completions", `{"model":"gpt-4","messages":[{"role":"user","content":"x"}]}`, 404, "model_not_found", "model"},
		{"/v1/completions", `{"model":"tiny","prompt":"` + strings.Repeat("word ", 200) + `"}`, 400, "context_length_exceeded", "messages"},
		{"/v1/chat/completions", `{"model":"tiny","messages":[{"role":"user","content":"x"}],"top_p":0}`, 400, "invalid_value", "top_p"},
		{"/v1/chat/completions", `{"model":"tiny","messages":"x"}`, 400, "invalid_value", "messages"},
		{"/v1/chat/completions", `{"model":"tiny","messages":[],"n":2}`, 400, "invalid_value", "n"},
		{"/v1/chat/completions", `{not json`, 400, "invalid_value", ""},
		{"/v1/completions", `{"model":"tiny","prompt":["a","b"]}`, 400, "invalid_value", "prompt"},
		{"/v1/embeddings", `{}`, 404, "unknown_url", ""},
	} {
		resp, b := post(t, url+c.path, c.body)
		var eb struct {
			Error struct {
				Message string  `json:"message"`
				Type    string  `json:"type"`
				Param   *string `json:"param"`
				Code    *string `json:"code"`
			} `json:"error"`
		}
		if err := json.Unmarshal(b, &eb); err != nil || resp.StatusCode != c.status || eb.Error.Code == nil || *eb.Error.Code != c.code || eb.Error.Message == "" || eb.Error.Type == "" {
			t.Errorf("%s %s: %d %s", c.path, c.body[:min(40, len(c.body))], resp.StatusCode, b)
			continue
		}
		if (c.param == "") != (eb.Error.Param == nil) || (c.param != "" && *eb.Error.Param != c.param) {
			t.Errorf("%s: param %v, want %q", c.path, eb.Error.Param, c.param)
		}
	}
	// Still serving.
	if resp, b := post(t, url+"/v1/completions", `{"model":"tiny","prompt":"ok","max_tokens":3}`); resp.StatusCode != 200 {
		t.Errorf("after errors: %d %s", resp.StatusCode, b)
	}
}

// TestClientGoesAway: a client that disconnects mid-stream cancels its
// request and frees its blocks.
func TestClientGoesAway(t *testing.T) {
	e, url := serve(t, engine.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "POST", url+"/v1/completions", strings.NewReader(`{"model":"tiny","prompt":"go away","max_tokens":400,"stream":true}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(resp.Body)
	if _, err := br.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	cancel()
	resp.Body.Close()
	waitIdle(t, e)
}

// TestOpenAINodeClient runs the official openai npm client against the API.
func TestOpenAINodeClient(t *testing.T) {
	node := testutil.NeedTool(t, "node")
	dir, _ := filepath.Abs("testdata/openainode")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "openai")); err != nil {
		testutil.Missing(t, "the openai npm package is not installed in "+dir)
	}
	e, url := serve(t, engine.Config{ContextLength: 256})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "client.mjs", url+"/v1", "tiny")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("openai client: %v\n%s", err, out)
	}
	t.Logf("openai client: %s", out)
	waitIdle(t, e)
}

// Both backends serve the API.
var (
	_ openai.Backend = (*engine.Engine)(nil)
	_ openai.Backend = (*remote.Client)(nil)
)

// slow answers after a pause, like a long prefill.
type slow struct{ pause time.Duration }

func (s slow) Models(context.Context) ([]accel.ModelInfo, error) { return nil, nil }
func (s slow) Chat(ctx context.Context, _ accel.ChatRequest) (*accel.Stream, error) {
	return s.Complete(ctx, accel.CompletionRequest{})
}
func (s slow) Complete(context.Context, accel.CompletionRequest) (*accel.Stream, error) {
	ch := make(chan accel.Event, 1)
	go func() {
		time.Sleep(s.pause)
		ch <- accel.Event{Chunk: accel.Chunk{Text: "done", FinishReason: accel.FinishStop, Usage: &accel.Usage{}}}
		close(ch)
	}()
	return accel.NewStream(ch, func() {}), nil
}

// TestKeepAlive: a quiet stream gets comment lines, which clients ignore.
func TestKeepAlive(t *testing.T) {
	h := openai.NewHandler(slow{200 * time.Millisecond}, nil)
	h.KeepAlive = 20 * time.Millisecond
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, b := post(t, srv.URL+"/v1/completions", `{"model":"m","prompt":"x","stream":true}`)
	if resp.StatusCode != 200 || !strings.Contains(string(b), ": keep-alive\n\n") || !strings.HasSuffix(string(b), "data: [DONE]\n\n") {
		t.Errorf("stream %q", b)
	}
	c, err := remote.New(remote.Config{BaseURL: srv.URL + "/v1"})
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.Complete(context.Background(), accel.CompletionRequest{Model: "m", Prompt: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if res, err := accel.Collect(s); err != nil || res.Text != "done" {
		t.Errorf("remote through keep-alives: %+v %v", res, err)
	}
}
