package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/outpost-iot/outpost/accel/openai"
	"github.com/outpost-iot/outpost/accel/openai/openaitest"
	"github.com/outpost-iot/outpost/codecs"
	"github.com/outpost-iot/outpost/internal/testutil"
	"github.com/outpost-iot/outpost/wire"
)

// chatClient is a client of a chat agent (a WebSocket or an MQTT device),
// reading frames in its codec.
type chatClient struct {
	write func([]byte) error
	codec codecs.Codec
	in    chan map[string]any
}

// mqttChat joins the chat agent name as an MQTT 5 device: CBOR, protocol
// frames off (the MQTT defaults). The broker joins a device after its
// SUBACK, so mqttChat returns once the agent has answered a resume request
// of the device's own (handled after its join): the device then gets
// every frame the agent broadcasts afterwards (frames before that answer
// are dropped: join before any reply streams).
func mqttChat(t *testing.T, g *gateway, name string) *chatClient {
	t.Helper()
	m := dialMQTT5(t, &inProcess{mqtt: "127.0.0.1:" + g.mqttPort}, wire.Address{Class: "chat", Name: name}, nil, true)
	cc, _ := codecs.New(wire.CBOR, codecs.Limits{})
	w := &chatClient{codec: cc, in: make(chan map[string]any, 4096), write: func(b []byte) error { m.send(t, b); return nil }}
	go func() {
		for f := range m.inbox().ch {
			v, err := cc.Unmarshal(f.data)
			if mv, ok := v.(map[string]any); err == nil && ok {
				w.in <- mv
			} else {
				t.Errorf("MQTT frame %q: %v", f.data, err)
			}
		}
	}()
	w.send(t, map[string]any{"type": "cf_agent_stream_resume_request", "probeId": "joined"})
	deadline := time.After(60 * time.Second)
	for {
		select {
		case f := <-w.in:
			if f["probeId"] == "joined" {
				return w
			}
		case <-deadline:
			t.Fatal("the chat agent did not answer the device")
		}
	}
}

func dialChat(t *testing.T, g *gateway, name, query string) *chatClient {
	t.Helper()
	u := "ws://" + g.httpAddr + "/agents/chat/" + name + "?" + query
	c, resp, err := websocket.DefaultDialer.Dial(u, nil)
	if err != nil {
		t.Fatalf("dial %s: %v (%v)", u, err, resp)
	}
	codec := wire.JSON
	if strings.Contains(query, "codec=cbor") {
		codec = wire.CBOR
	}
	cc, _ := codecs.New(codec, codecs.Limits{MaxSize: 4 << 20})
	typ := websocket.TextMessage
	if codec == wire.CBOR {
		typ = websocket.BinaryMessage
	}
	w := &chatClient{codec: cc, in: make(chan map[string]any, 4096), write: func(b []byte) error { return c.WriteMessage(typ, b) }}
	go func() {
		defer close(w.in)
		for {
			typ, data, err := c.ReadMessage()
			if err != nil {
				return
			}
			if (typ == websocket.BinaryMessage) != (codec == wire.CBOR) {
				t.Errorf("%s client got a frame of WebSocket type %d", codec, typ)
			}
			v, err := cc.Unmarshal(data)
			m, ok := v.(map[string]any)
			if err != nil || !ok {
				t.Errorf("frame %q: %v", data, err)
				continue
			}
			w.in <- m
		}
	}()
	t.Cleanup(func() { _ = c.Close() })
	return w
}

func (w *chatClient) send(t *testing.T, v any) {
	t.Helper()
	data, err := w.codec.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.write(data); err != nil {
		t.Fatal(err)
	}
}

// reply reads the response frames of request id up to its terminal frame
// and returns the chunk bodies (decoded from JSON text on JSON clients,
// required native on CBOR ones) and the terminal frame. Other frames are
// returned apart.
func (w *chatClient) reply(t *testing.T, id string) (chunks []map[string]any, done map[string]any, other []map[string]any) {
	t.Helper()
	timeout := time.After(60 * time.Second)
	for {
		select {
		case f, ok := <-w.in:
			if !ok {
				t.Fatalf("connection closed before done; chunks %v", chunks)
			}
			if f["type"] != "cf_agent_use_chat_response" || f["id"] != id {
				other = append(other, f)
				continue
			}
			if f["done"] == true {
				return chunks, f, other
			}
			var body any = f["body"]
			if s, ok := body.(string); ok {
				if w.codec.Name() == wire.CBOR {
					t.Fatalf("CBOR client got a chunk body as text: %q", s)
				}
				if err := json.Unmarshal([]byte(s), &body); err != nil {
					t.Fatalf("chunk body %q: %v", s, err)
				}
			}
			m, ok := body.(map[string]any)
			if !ok {
				t.Fatalf("chunk frame %v", f)
			}
			chunks = append(chunks, m)
		case <-timeout:
			t.Fatalf("no done for %s; chunks %v", id, chunks)
		}
	}
}

// TestChatAgent runs the built binary with --model on a synthesized tiny
// model: a JSON WebSocket client sends a chat turn in the exact frame
// @cloudflare/ai-chat sends (init.body as JSON text) and gets the
// UI-message-stream chunks and done; a CBOR client watching the same chat
// and an MQTT 5 device (CBOR) get the chunks and the messages sync as
// native values, then each chats with a native body itself; GET
// .../get-messages returns the history.
func TestChatAgent(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join(dir, "tiny.gguf")
	if out, err := runCmd(t, "", binary, "model", "synth", "--shape", "tiny", "--quant", "q8_0", model); err != nil {
		t.Fatalf("model synth: %v\n%s", err, out)
	}
	g := startBinary(t, "--model", model)
	js := dialChat(t, g, "room-1", "_pk=browser-1")
	cb := dialChat(t, g, "room-1", "_pk=device-1&codec=cbor")
	dev := mqttChat(t, g, "room-1")

	body := `{"messages":[{"id":"u1","role":"user","parts":[{"type":"text","text":"Hello there"}]}],"trigger":"submit-message","maxTokens":8,"temperature":0}`
	js.send(t, map[string]any{"type": "cf_agent_use_chat_request", "id": "Xq3kd0aZ", "init": map[string]any{"method": "POST", "body": body}})
	chunks, done, _ := js.reply(t, "Xq3kd0aZ")
	if done["body"] != "" || done["error"] != nil {
		t.Fatalf("terminal frame %v", done)
	}
	var types []string
	var text strings.Builder
	for _, c := range chunks {
		types = append(types, c["type"].(string))
		if c["type"] == "text-delta" {
			text.WriteString(c["delta"].(string))
		}
	}
	got := strings.Join(types, " ")
	if !strings.HasPrefix(got, "start text-start text-delta") || !strings.HasSuffix(got, "text-end finish") {
		t.Fatalf("chunk types %s", got)
	}
	msgID := chunks[0]["messageId"]
	if fin, _ := chunks[len(chunks)-1]["messageMetadata"].(map[string]any); fin["finishReason"] == nil {
		t.Errorf("finish chunk %v", chunks[len(chunks)-1])
	}

	cchunks, cdone, other := cb.reply(t, "Xq3kd0aZ")
	if len(cchunks) != len(chunks) || cdone["body"] != "" {
		t.Fatalf("CBOR client: %d chunks (JSON client %d), done %v", len(cchunks), len(chunks), cdone)
	}
	if dchunks, _, _ := dev.reply(t, "Xq3kd0aZ"); len(dchunks) != len(chunks) {
		t.Fatalf("MQTT device: %d chunks (JSON client %d)", len(dchunks), len(chunks))
	}
	var syncs []map[string]any
	for _, f := range other {
		if f["type"] == "cf_agent_chat_messages" {
			syncs = append(syncs, f)
		}
	}
	if len(syncs) != 2 {
		t.Fatalf("CBOR client got %d messages syncs: %v", len(syncs), other)
	}
	if msgs, _ := syncs[1]["messages"].([]any); len(msgs) != 2 || msgs[1].(map[string]any)["id"] != msgID {
		t.Errorf("messages sync %v", syncs[1])
	}

	history := func() []map[string]any { return chatHistory(t, g, "room-1") }
	hist := history()
	if len(hist) != 2 || hist[0]["id"] != "u1" || hist[1]["id"] != msgID || hist[1]["role"] != "assistant" {
		t.Fatalf("history %v", hist)
	}
	parts := hist[1]["parts"].([]any)
	if p := parts[0].(map[string]any); p["type"] != "text" || p["text"] != text.String() {
		t.Errorf("stored reply %v, streamed %q", parts, text.String())
	}

	// The CBOR client chats with a native body.
	msgs := []any{}
	for _, m := range hist {
		msgs = append(msgs, m)
	}
	msgs = append(msgs, map[string]any{"id": "u2", "role": "user", "parts": []any{map[string]any{"type": "text", "text": "more"}}})
	cb.send(t, map[string]any{"type": "cf_agent_use_chat_request", "id": "dev-2", "init": map[string]any{"method": "POST", "body": map[string]any{"messages": msgs, "maxTokens": int64(4), "temperature": 0.0}}})
	// (The model may stop at once: start and finish are all it must send.)
	if c, d, _ := cb.reply(t, "dev-2"); len(c) < 2 || c[0]["type"] != "start" || c[len(c)-1]["type"] != "finish" || d["error"] != nil {
		t.Fatalf("CBOR turn: %v %v", c, d)
	}
	if c, _, _ := js.reply(t, "dev-2"); len(c) < 2 || c[len(c)-1]["type"] != "finish" {
		t.Fatalf("JSON client saw the CBOR turn as %v", c)
	}
	if hist = history(); len(hist) != 4 || hist[2]["id"] != "u2" {
		t.Fatalf("history after two turns %v", hist)
	}

	// The MQTT device chats too (CBOR, native body, over /in and /out).
	msgs = nil
	for _, m := range hist {
		msgs = append(msgs, m)
	}
	msgs = append(msgs, map[string]any{"id": "u3", "role": "user", "parts": []any{map[string]any{"type": "text", "text": "from a device"}}})
	dev.send(t, map[string]any{"type": "cf_agent_use_chat_request", "id": "mqtt-3", "init": map[string]any{"method": "POST", "body": map[string]any{"messages": msgs, "maxTokens": int64(4), "temperature": 0.0}}})
	if c, d, _ := dev.reply(t, "mqtt-3"); len(c) < 2 || c[len(c)-1]["type"] != "finish" || d["error"] != nil {
		t.Fatalf("MQTT turn: %v %v", c, d)
	}
	if hist = history(); len(hist) != 6 || hist[4]["id"] != "u3" {
		t.Fatalf("history after the device's turn %v", hist)
	}
}

// chatHistory is GET .../get-messages of the chat agent name.
func chatHistory(t *testing.T, g *gateway, name string) []map[string]any {
	t.Helper()
	resp, err := http.Get("http://" + g.httpAddr + "/agents/chat/" + name + "/get-messages")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out []map[string]any
	if err := json.Unmarshal(b, &out); err != nil || resp.StatusCode != 200 {
		t.Fatalf("get-messages: %d %s %v", resp.StatusCode, b, err)
	}
	return out
}

// TestChatConfig: the built-in chat agent's flags reach the model request
// (system prompt, reply length) and bound the stored history.
func TestChatConfig(t *testing.T) {
	sc := openaitest.New(func(openai.ChatCompletionRequest) openaitest.Reply { return openaitest.Reply{Text: "Aye."} })
	t.Cleanup(sc.Close)
	g := startBinary(t, "--inference-url", sc.URL, "--chat-system-prompt", "You keep a lighthouse.",
		"--chat-max-tokens", "33", "--chat-max-messages", "3")
	c := dialChat(t, g, "keeper", "")
	var msgs []any
	for i := range 3 {
		msgs = append(msgs, map[string]any{"id": fmt.Sprint("u", i), "role": "user", "parts": []any{map[string]any{"type": "text", "text": "Light?"}}})
		body, _ := json.Marshal(map[string]any{"messages": msgs})
		id := fmt.Sprint("r", i)
		c.send(t, map[string]any{"type": "cf_agent_use_chat_request", "id": id, "init": map[string]any{"method": "POST", "body": string(body)}})
		chunks, done, _ := c.reply(t, id)
		if done["error"] != nil || len(chunks) < 2 {
			t.Fatalf("turn %d: %v %v", i, chunks, done)
		}
		msgs = append(msgs, map[string]any{"id": chunks[0]["messageId"], "role": "assistant", "parts": []any{map[string]any{"type": "text", "text": "Aye."}}})
	}
	reqs := sc.Requests()
	if len(reqs) != 3 {
		t.Fatalf("%d model requests, want 3", len(reqs))
	}
	for i, r := range reqs {
		if r.MaxTokens == nil || *r.MaxTokens != 33 {
			t.Errorf("request %d: max_tokens %v, want 33", i, r.MaxTokens)
		}
		if len(r.Messages) == 0 || r.Messages[0].Role != "system" || string(r.Messages[0].Content) != "You keep a lighthouse." {
			t.Errorf("request %d: messages %+v, want the system prompt first", i, r.Messages)
		}
	}
	hist := chatHistory(t, g, "keeper")
	if len(hist) != 3 || hist[0]["id"] != msgs[3].(map[string]any)["id"] || hist[1]["id"] != "u2" || hist[2]["id"] != msgs[5].(map[string]any)["id"] {
		t.Errorf("history %v, want the last 3 of 6 messages", hist)
	}
}

// TestChatWithoutModel: a gateway without a model answers a chat request
// with an error response that says so, not silence.
func TestChatWithoutModel(t *testing.T) {
	g := startBinary(t)
	js := dialChat(t, g, "room-1", "_pk=browser-1")
	body := `{"messages":[{"id":"u1","role":"user","parts":[{"type":"text","text":"Hello"}]}]}`
	js.send(t, map[string]any{"type": "cf_agent_use_chat_request", "id": "r1", "init": map[string]any{"method": "POST", "body": body}})
	_, done, _ := js.reply(t, "r1")
	if done["error"] != true || !strings.Contains(done["body"].(string), "no model") {
		t.Fatalf("answer without a model: %v", done)
	}
}

// TestChatNPMClient runs the official chat client of @cloudflare/ai-chat
// 0.12.2 (the WebSocketChatTransport of agents 0.32.0, with the AI SDK
// building the reply as useChat does) under node against the binary and a
// scripted model (testdata/agentsjs/chat.mjs): a turn, a cancelled turn
// (the reply holds until the cancel stops it: the partial reply is exactly
// what streamed), a resumed stream (the reply holds until the resuming
// client has the replayed chunks, then the rest streams live: that client
// builds the whole reply, each piece exactly once), an idle resume probe.
// The holds make each step happen mid-reply on any machine.
func TestChatNPMClient(t *testing.T) {
	released := make(chan struct{})
	never := make(chan struct{})
	defer close(never)
	sc := openaitest.New(func(req openai.ChatCompletionRequest) openaitest.Reply {
		switch string(openaitest.LastMessage(req).Content) {
		case "Tell me more":
			return openaitest.Reply{Text: "Once upon a time there was a lighthouse.", Hold: never, HoldAfter: 2}
		case "And then?":
			return openaitest.Reply{Text: "The keeper lit the lamp every night.", Hold: released, HoldAfter: 3}
		}
		return openaitest.Reply{Text: "Hello, how can I help?"}
	})
	t.Cleanup(sc.Close)
	g := startBinary(t, "--inference-url", sc.URL)
	var once sync.Once
	runNodeScript(t, g, "chat.mjs", func(line string) {
		if line == "release" {
			once.Do(func() { close(released) })
		}
	})
}

// TestChatNPMClientRestart: the official chat client through a gateway
// killed (SIGKILL) in the middle of a reply and started again on the same
// port and data directory (testdata/agentsjs/chat-restart.mjs): the client
// gets the cut reply's terminal frame, its resume probe is answered at
// once, the partial reply is kept exactly, and a new turn works. The model
// holds the reply after five pieces, so the kill is mid-reply on any
// machine.
func TestChatNPMClientRestart(t *testing.T) {
	never := make(chan struct{})
	defer close(never)
	sc := openaitest.New(func(req openai.ChatCompletionRequest) openaitest.Reply {
		if string(openaitest.LastMessage(req).Content) == "Tell me a long story" {
			return openaitest.Reply{Text: strings.Repeat("Once upon a time. ", 20), Hold: never, HoldAfter: 5}
		}
		return openaitest.Reply{Text: "Hello, how can I help?"}
	})
	t.Cleanup(sc.Close)
	data := filepath.Join(t.TempDir(), "data")
	g := startBinary(t, "--inference-url", sc.URL, "--data-dir", data)
	_, port, err := net.SplitHostPort(g.httpAddr)
	if err != nil {
		t.Fatal(err)
	}
	runNodeScript(t, g, "chat-restart.mjs", func(line string) {
		if line != "kill" {
			return
		}
		if err := g.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		<-g.done
		startBinary(t, "--inference-url", sc.URL, "--data-dir", data, "--http-port", port)
	})
}

// runNodeScript runs testdata/agentsjs/script under node with the
// gateway's HTTP address, once the npm packages the scripts use are
// installed; onLine, when not nil, sees each line the script prints, as it
// prints it. The test fails unless the script exits 0 after printing ok.
func runNodeScript(t *testing.T, g *gateway, script string, onLine func(string)) {
	t.Helper()
	node := testutil.NeedTool(t, "node")
	dir, _ := filepath.Abs(filepath.Join("testdata", "agentsjs"))
	for _, pkg := range []string{"agents", "ai", filepath.Join("@cloudflare", "ai-chat")} {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", pkg)); err != nil {
			testutil.Missing(t, "the "+pkg+" npm package is not installed in "+dir+" (scripts/test-deps.sh)")
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, script, g.httpAddr)
	cmd.Dir = dir
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	lines := bufio.NewScanner(stdout)
	for lines.Scan() {
		out.WriteString(lines.Text() + "\n")
		if onLine != nil {
			onLine(lines.Text())
		}
	}
	err = cmd.Wait()
	if err != nil || !strings.Contains(out.String(), "ok") {
		t.Fatalf("%s: %v\n%s%s\n%s", script, err, out.String(), stderr.String(), g.logs())
	}
}

var (
	chatBench      = flag.Bool("chatbench", false, "run TestChatOverhead: the chat agent's overhead against /v1/chat/completions")
	chatBenchShape = flag.String("chatbench.shape", "tiny", "synth shape of TestChatOverhead's model")
	chatBenchRuns  = flag.Int("chatbench.runs", 10, "runs of each path in TestChatOverhead")
	chatBenchMax   = flag.Int("chatbench.tokens", 64, "max tokens per reply in TestChatOverhead")
)

// cpuTime is the CPU time (user + system) the process pid has used.
func cpuTime(t *testing.T, pid int) time.Duration {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// Fields after the command name (which is in parentheses): utime and
	// stime are the 12th and 13th, in clock ticks (100 per second on Linux).
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+s) * 10 * time.Millisecond
}

// overheadRun is one reply: time to the first text, to the end, tokens.
type overheadRun struct {
	ttft, total time.Duration
	tokens      int
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

// TestChatOverhead (with -chatbench) measures, on the built binary with a
// synthesized model, what a WebSocket chat client sees (time to first
// token, tokens/s) and the gateway's CPU per streamed token, against the
// same greedy request made to /v1/chat/completions with stream: true. It
// logs both and their ratio.
func TestChatOverhead(t *testing.T) {
	if !*chatBench {
		t.Skip("a benchmark: run with -chatbench")
	}
	model := filepath.Join(t.TempDir(), *chatBenchShape+".gguf")
	if out, err := runCmd(t, "", binary, "model", "synth", "--shape", *chatBenchShape, "--quant", "q8_0", model); err != nil {
		t.Fatalf("model synth: %v\n%s", err, out)
	}
	g := startBinary(t, "--model", model)
	pid := g.cmd.Process.Pid
	prompt := "Write a short story about a lighthouse keeper."
	ws := dialChat(t, g, "bench", "_pk=bench")

	agent := func(i int) overheadRun {
		ws.send(t, map[string]any{"type": "cf_agent_chat_clear"})
		id := fmt.Sprint("b", i)
		body := fmt.Sprintf(`{"messages":[{"id":"u","role":"user","parts":[{"type":"text","text":%q}]}],"maxTokens":%d,"temperature":0}`, prompt, *chatBenchMax)
		start := time.Now()
		ws.send(t, map[string]any{"type": "cf_agent_use_chat_request", "id": id, "init": map[string]any{"method": "POST", "body": body}})
		var r overheadRun
		for f := range ws.in {
			if f["id"] != id {
				continue
			}
			if f["done"] == true {
				r.total = time.Since(start)
				return r
			}
			if s, _ := f["body"].(string); strings.Contains(s, `"text-delta"`) {
				if r.tokens++; r.tokens == 1 {
					r.ttft = time.Since(start)
				}
			}
		}
		t.Fatal("chat connection closed")
		return r
	}
	direct := func() overheadRun {
		req := fmt.Sprintf(`{"model":%q,"messages":[{"role":"user","content":%q}],"max_tokens":%d,"temperature":0,"stream":true}`,
			strings.TrimSuffix(filepath.Base(model), ".gguf"), prompt, *chatBenchMax)
		start := time.Now()
		resp, err := http.Post("http://"+g.httpAddr+"/v1/chat/completions", "application/json", strings.NewReader(req))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var r overheadRun
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			line := sc.Text()
			if strings.Contains(line, `"content":"`) && !strings.Contains(line, `"content":""`) {
				if r.tokens++; r.tokens == 1 {
					r.ttft = time.Since(start)
				}
			}
		}
		r.total = time.Since(start)
		return r
	}

	type stats struct {
		ttft, total []time.Duration
		tokens      int
		cpu         time.Duration
	}
	var st [2]stats // 0: direct, 1: agent
	agent(-1)
	direct() // warm both paths (and the prefix cache)
	for i := range *chatBenchRuns {
		for p := range 2 {
			c0 := cpuTime(t, pid)
			var r overheadRun
			if p == 0 {
				r = direct()
			} else {
				r = agent(i)
			}
			st[p].cpu += cpuTime(t, pid) - c0
			st[p].ttft = append(st[p].ttft, r.ttft)
			st[p].total = append(st[p].total, r.total)
			st[p].tokens += r.tokens
		}
	}
	for p, name := range []string{"/v1/chat/completions", "chat agent (WebSocket)"} {
		s := st[p]
		var total time.Duration
		for _, d := range s.total {
			total += d
		}
		t.Logf("%-24s ttft median %v, %.0f tokens/s, %v CPU per token (%d tokens in %d runs)", name,
			median(s.ttft), float64(s.tokens)/total.Seconds(), s.cpu/time.Duration(max(s.tokens, 1)), s.tokens, len(s.total))
	}
	t.Logf("ratio agent/direct: ttft %.2f, CPU per token %.2f",
		float64(median(st[1].ttft))/float64(median(st[0].ttft)),
		(float64(st[1].cpu)/float64(max(st[1].tokens, 1)))/(float64(st[0].cpu)/float64(max(st[0].tokens, 1))))
}
