package chat

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/outpost-iot/outpost/accel"
	"github.com/outpost-iot/outpost/agenthost"
	"github.com/outpost-iot/outpost/wire"
)

// TestTurn: a chat turn streams start, text-start, text-delta..., text-end,
// finish (messageMetadata.finishReason) to every connection, then done;
// the assistant message is in the table when done is sent; the other
// connection gets the synced messages; get-messages returns the history.
func TestTurn(t *testing.T) {
	dir := t.TempDir()
	h := startHost(t, dir, greedy, microEngine(t))
	a, b := newConn("a"), newConn("b")
	db := openDB(t, dir)
	var storedAtDone []string
	a.onSend = func(f map[string]any) {
		if f["type"] == TypeUseChatResponse && f["done"] == true {
			rows, err := db.Query(`SELECT message FROM cf_ai_chat_agent_messages ORDER BY created_at, rowid`)
			if err != nil {
				t.Error(err)
				return
			}
			defer rows.Close()
			for rows.Next() {
				var s string
				_ = rows.Scan(&s)
				storedAtDone = append(storedAtDone, s)
			}
		}
	}
	connect(t, h, a)
	connect(t, h, b)
	if err := send(t, h, a, chatRequest("r1", map[string]any{"messages": []any{userMsg("u1", "hello")}, "maxTokens": 4})); err != nil {
		t.Fatal(err)
	}
	done := a.waitDone(t, "r1")
	if done["body"] != "" || done["error"] != nil {
		t.Errorf("done frame %v", done)
	}
	b.waitDone(t, "r1")

	chunks := a.chunks("r1")
	var types []string
	for _, c := range chunks {
		types = append(types, c["type"].(string))
	}
	got := strings.Join(types, " ")
	if !strings.HasPrefix(got, "start text-start text-delta") || !strings.HasSuffix(got, "text-delta text-end finish") {
		t.Fatalf("chunk types: %s", got)
	}
	msgID, _ := chunks[0]["messageId"].(string)
	if !strings.HasPrefix(msgID, "assistant_") {
		t.Errorf("start chunk %v", chunks[0])
	}
	fin := chunks[len(chunks)-1]["messageMetadata"].(map[string]any)
	if fin["finishReason"] != "length" && fin["finishReason"] != "stop" {
		t.Errorf("finish chunk %v", chunks[len(chunks)-1])
	}
	if n := strings.Count(got, "text-delta"); n < 1 || n > 4 {
		t.Errorf("%d deltas for maxTokens 4", n)
	}
	frames := a.all()
	if last := frames[len(frames)-1]; last["done"] != true {
		t.Errorf("last frame is not done: %v", last)
	}
	if len(storedAtDone) != 2 || !strings.Contains(storedAtDone[1], msgID) {
		t.Fatalf("stored when done was sent: %v", storedAtDone)
	}
	if bc := b.chunks("r1"); len(bc) != len(chunks) {
		t.Errorf("other connection got %d chunks, requester %d", len(bc), len(chunks))
	}
	// b got the messages after each store; a, the requester, none.
	syncs := b.ofType(TypeChatMessages)
	if len(syncs) != 2 || len(a.ofType(TypeChatMessages)) != 0 {
		t.Fatalf("messages syncs: b %d, a %d", len(syncs), len(a.ofType(TypeChatMessages)))
	}
	if msgs := syncs[1]["messages"].([]any); len(msgs) != 2 || msgs[1].(map[string]any)["id"] != msgID {
		t.Errorf("last sync %v", syncs[1])
	}

	hist := getMessages(t, h)
	if len(hist) != 2 || hist[0]["id"] != "u1" || hist[1]["id"] != msgID || hist[1]["role"] != "assistant" {
		t.Fatalf("history %v", hist)
	}
	if textOf(hist[1]) != deltas(chunks) {
		t.Errorf("stored text %q, streamed %q", textOf(hist[1]), deltas(chunks))
	}
	if md := hist[1]["metadata"].(map[string]any); md["finishReason"] != fin["finishReason"] {
		t.Errorf("stored metadata %v", md)
	}
	var status string
	if err := db.QueryRow(`SELECT status FROM cf_ai_chat_stream_metadata WHERE request_id = 'r1'`).Scan(&status); err != nil || status != statusCompleted {
		t.Errorf("stream status %q %v", status, err)
	}

	// A second turn sees the history and appends to it.
	hist = append(hist, userMsg("u2", "again"))
	body := map[string]any{"messages": toAny(hist), "maxTokens": 2}
	if err := send(t, h, a, chatRequest("r2", body)); err != nil {
		t.Fatal(err)
	}
	a.waitDone(t, "r2")
	if hist = getMessages(t, h); len(hist) != 4 || hist[2]["id"] != "u2" || hist[3]["role"] != "assistant" {
		t.Fatalf("history after two turns %v", hist)
	}
}

func toAny[T any](xs []T) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = x
	}
	return out
}

// TestCancelMidStream: cf_agent_chat_request_cancel stops the model, keeps
// the partial reply and sends done, without a finish chunk.
func TestCancelMidStream(t *testing.T) {
	dir := t.TempDir()
	h := startHost(t, dir, greedy, microEngine(t))
	a := newConn("a")
	a.onSend = postOnce(t, h, a, isChunk("text-delta"), `{"type":"cf_agent_chat_request_cancel","id":"r1"}`)
	connect(t, h, a)
	if err := send(t, h, a, chatRequest("r1", map[string]any{"messages": []any{userMsg("u1", "hi")}, "maxTokens": 300})); err != nil {
		t.Fatal(err)
	}
	if d := a.waitDone(t, "r1"); d["outcome"] != outcomeAborted {
		t.Errorf("terminal frame of a cancelled turn %v, want outcome %q", d, outcomeAborted)
	}
	chunks := a.chunks("r1")
	for _, c := range chunks {
		if c["type"] == "finish" {
			t.Fatalf("cancelled turn sent finish: %v", chunks)
		}
	}
	if n := strings.Count(fmt.Sprint(chunks), "text-delta"); n < 1 || n > 3 {
		t.Errorf("%d deltas after a cancel at the first", n)
	}
	hist := getMessages(t, h)
	if len(hist) != 2 || textOf(hist[1]) != deltas(chunks) || textOf(hist[1]) == "" {
		t.Fatalf("history after cancel %v (streamed %q)", hist, deltas(chunks))
	}
	// The agent answers a new request at once.
	turnOK(t, h, a, "r2", []any{userMsg("u2", "again")}, 1)
}

// TestClear: clear deletes the history and tells the other connections;
// a clear mid-stream ends the reply (done) and stores none of it.
func TestClear(t *testing.T) {
	dir := t.TempDir()
	h := startHost(t, dir, greedy, microEngine(t))
	a, b := newConn("a"), newConn("b")
	a.onSend = postOnce(t, h, a, func(f map[string]any) bool { return f["id"] == "r2" }, `{"type":"cf_agent_chat_clear"}`)
	connect(t, h, a)
	connect(t, h, b)
	if err := send(t, h, a, chatRequest("r1", map[string]any{"messages": []any{userMsg("u1", "hi")}, "maxTokens": 2})); err != nil {
		t.Fatal(err)
	}
	if d := a.waitDone(t, "r1"); d["outcome"] != nil {
		t.Errorf("terminal frame of a completed turn %v", d)
	}
	if len(getMessages(t, h)) != 2 {
		t.Fatal("no history before the clear")
	}
	if err := send(t, h, b, `{"type":"cf_agent_chat_clear"}`); err != nil {
		t.Fatal(err)
	}
	if len(a.ofType(TypeChatClear)) != 1 || len(b.ofType(TypeChatClear)) != 0 {
		t.Errorf("clear frames: a %d, b %d", len(a.ofType(TypeChatClear)), len(b.ofType(TypeChatClear)))
	}
	if hist := getMessages(t, h); len(hist) != 0 {
		t.Fatalf("history after clear %v", hist)
	}
	// Mid-stream (a clears as soon as r2 starts).
	if err := send(t, h, a, chatRequest("r2", map[string]any{"messages": []any{userMsg("u2", "hi")}, "maxTokens": 300})); err != nil {
		t.Fatal(err)
	}
	if d := a.waitDone(t, "r2"); d["outcome"] != outcomeAborted {
		t.Errorf("terminal frame of a cleared turn %v, want outcome %q", d, outcomeAborted)
	}
	b.waitFor(t, "second clear", func(map[string]any) bool { return len(b.ofType(TypeChatClear)) == 1 })
	if hist := getMessages(t, h); len(hist) != 0 {
		t.Fatalf("history after a clear mid-stream %v", hist)
	}
}

// TestRestartMidStream: a gateway that stops mid-reply leaves the stream
// recorded as streaming; the next start closes it, keeps the partial
// message, and a connecting client gets the terminal frame.
func TestRestartMidStream(t *testing.T) {
	dir := t.TempDir()
	e := microEngine(t)
	// The model holds the reply after its first token: the gateway stops
	// mid-reply on any machine.
	h1 := startHost(t, dir, greedy, newGated(t, e))
	a := newConn("a")
	connect(t, h1, a)
	if err := send(t, h1, a, chatRequest("r1", map[string]any{"messages": []any{userMsg("u1", "hi")}, "maxTokens": 300})); err != nil {
		t.Fatal(err)
	}
	a.waitFor(t, "a text delta", isChunk("text-delta"))
	if err := h1.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	streamed := deltas(a.chunks("r1"))
	for _, f := range a.all() {
		if f["done"] == true {
			t.Fatalf("done sent at shutdown: %v", f)
		}
	}

	h2 := startHost(t, dir, greedy, e)
	c := newConn("c")
	connect(t, h2, c)
	if f := c.waitDone(t, "r1"); f["body"] != "" || f["outcome"] != outcomeError {
		t.Errorf("terminal frame %v", f)
	}
	hist := getMessages(t, h2)
	if len(hist) != 2 || hist[1]["role"] != "assistant" || textOf(hist[1]) != streamed {
		t.Fatalf("history after restart %v, streamed %q", hist, streamed)
	}
	db := openDB(t, dir)
	var status string
	if err := db.QueryRow(`SELECT status FROM cf_ai_chat_stream_metadata WHERE request_id = 'r1'`).Scan(&status); err != nil || status != statusError {
		t.Errorf("stream status %q %v", status, err)
	}
	if !strings.Contains(h2.log.String(), "cut off by a restart") {
		t.Errorf("no log of the closed stream:\n%s", h2.log)
	}
	// The agent takes a new turn.
	turnOK(t, h2, c, "r2", toAny(append(hist, userMsg("u2", "x"))), 1)
}

// TestResume: a connection that joins mid-stream is told "resuming", gets
// the stored chunks flagged replay once it acknowledges, then the live
// ones: every chunk exactly once.
func TestResume(t *testing.T) {
	dir := t.TempDir()
	// The model holds the reply after its first token until b has
	// acknowledged: b gets that token replayed and the rest live, on any
	// machine.
	g := newGated(t, microEngine(t))
	h := startHost(t, dir, greedy, g)
	a, b := newConn("a"), newConn("b")
	var once sync.Once
	a.onSend = func(f map[string]any) {
		if isChunk("text-delta")(f) {
			once.Do(func() {
				if err := h.Connect(b); err != nil {
					t.Error(err)
				}
			})
		}
	}
	connect(t, h, a)
	t.Cleanup(func() { h.Disconnect(b) })
	if err := send(t, h, a, chatRequest("r1", map[string]any{"messages": []any{userMsg("u1", "hi")}, "maxTokens": 40})); err != nil {
		t.Fatal(err)
	}
	b.waitFor(t, "resuming", func(f map[string]any) bool { return f["type"] == TypeStreamResuming && f["id"] == "r1" })
	if err := send(t, h, b, `{"type":"cf_agent_stream_resume_ack","id":"r1"}`); err != nil {
		t.Fatal(err)
	}
	close(g.gate)
	a.waitDone(t, "r1")
	b.waitDone(t, "r1")
	ac, bc := a.chunks("r1"), b.chunks("r1")
	if fmt.Sprint(ac) != fmt.Sprint(bc) {
		t.Fatalf("resumed connection got\n%v\nrequester got\n%v", bc, ac)
	}
	replayed, live := 0, 0
	for _, f := range b.all() {
		if f["type"] != TypeUseChatResponse || f["done"] == true || f["replayComplete"] == true {
			continue
		}
		if f["replay"] == true {
			replayed++
		} else {
			live++
		}
	}
	if replayed < 3 || live < 2 {
		t.Errorf("%d replayed chunks, %d live ones", replayed, live)
	}
	// No stream: resume_request is answered with resume_none.
	if err := send(t, h, b, `{"type":"cf_agent_stream_resume_request","probeId":"p1"}`); err != nil {
		t.Fatal(err)
	}
	if none := b.ofType(TypeResumeNone); len(none) != 1 || none[0]["probeId"] != "p1" {
		t.Errorf("resume_request without a stream: %v", b.all()[len(b.all())-1])
	}
}

// TestNoBackend: without an inference backend a request is answered with
// an error response naming the missing model, and its messages are kept.
func TestNoBackend(t *testing.T) {
	h := startHost(t, t.TempDir(), Config{}, nil)
	a := newConn("a")
	connect(t, h, a)
	if err := send(t, h, a, chatRequest("r1", map[string]any{"messages": []any{userMsg("u1", "hi")}})); err != nil {
		t.Fatal(err)
	}
	f := a.waitDone(t, "r1")
	if f["error"] != true || !strings.Contains(f["body"].(string), "no model") {
		t.Fatalf("no-backend answer %v", f)
	}
	if hist := getMessages(t, h); len(hist) != 1 {
		t.Errorf("history %v", hist)
	}
}

// TestBadFrames: a malformed request with an id gets an error response; one
// without, an outpost_error; a frame of another type, an outpost_error;
// each returns an error wrapping wire.ErrMalformed.
func TestBadFrames(t *testing.T) {
	h := startHost(t, t.TempDir(), Config{}, nil)
	a := newConn("a")
	connect(t, h, a)
	cases := []struct{ frame, wantType string }{
		{`{"type":"cf_agent_use_chat_request","id":"r1","init":{"method":"POST","body":"{not json"}}`, TypeUseChatResponse},
		{`{"type":"cf_agent_use_chat_request","id":"r2","init":{"method":"GET","body":"{}"}}`, TypeUseChatResponse},
		{`{"type":"cf_agent_use_chat_request","id":"r3","init":{"method":"POST","body":"{\"messages\":[{\"id\":\"\",\"role\":\"user\",\"parts\":[]}]}"}}`, TypeUseChatResponse},
		{`{"type":"cf_agent_use_chat_request","init":{}}`, wire.TypeError},
		{`{"type":"cf_agent_chat_messages","messages":[{"id":"x","role":"robot","parts":[]}]}`, wire.TypeError},
		{`{"type":"hello"}`, wire.TypeError},
	}
	for _, c := range cases {
		n := len(a.all())
		err := send(t, h, a, c.frame)
		if !errors.Is(err, wire.ErrMalformed) {
			t.Errorf("%s: error %v", c.frame, err)
		}
		got := a.all()[n:]
		if len(got) != 1 || got[0]["type"] != c.wantType || (c.wantType == TypeUseChatResponse && got[0]["error"] != true) {
			t.Errorf("%s: answered %v", c.frame, got)
		}
	}
}

// TestStoredMessages: bad rows are skipped (and logged) on load; unknown
// part types survive; cf_agent_chat_messages upserts; the oldest messages
// beyond MaxPersistedMessages are deleted.
func TestStoredMessages(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{MaxPersistedMessages: 3}
	h := startHost(t, dir, cfg, nil)
	a, b := newConn("a"), newConn("b")
	connect(t, h, a)
	connect(t, h, b)
	tool := map[string]any{"type": "tool-weather", "toolCallId": "c1", "state": "output-available", "output": map[string]any{"t": 21.5}}
	msgs := []any{userMsg("m1", "one"), userMsg("m2", "two"),
		map[string]any{"id": "m3", "role": "assistant", "parts": []any{tool}, "metadata": map[string]any{"k": "v"}}}
	frame := fmt.Sprintf(`{"type":"cf_agent_chat_messages","messages":%s}`, mustJSON(msgs))
	if err := send(t, h, a, frame); err != nil {
		t.Fatal(err)
	}
	if len(b.ofType(TypeChatMessages)) != 1 || len(a.ofType(TypeChatMessages)) != 0 {
		t.Errorf("sync went to a %d, b %d", len(a.ofType(TypeChatMessages)), len(b.ofType(TypeChatMessages)))
	}
	hist := getMessages(t, h)
	if len(hist) != 3 || mustJSON(hist[2]) != mustJSON(msgs[2]) {
		t.Fatalf("history %s", mustJSON(hist))
	}
	// Upsert m2, add m4 and m5: m1 and m2 (the oldest) go.
	frame = fmt.Sprintf(`{"type":"cf_agent_chat_messages","messages":%s}`, mustJSON([]any{userMsg("m2", "two!"), userMsg("m4", "four"), userMsg("m5", "five")}))
	if err := send(t, h, a, frame); err != nil {
		t.Fatal(err)
	}
	hist = getMessages(t, h)
	var ids []string
	for _, m := range hist {
		ids = append(ids, m["id"].(string))
	}
	if strings.Join(ids, ",") != "m3,m4,m5" {
		t.Fatalf("kept %v", ids)
	}
	// The whole conversation again, as clients send it each turn: m1 and
	// m2, deleted before, do not come back as the newest rows.
	frame = fmt.Sprintf(`{"type":"cf_agent_chat_messages","messages":%s}`, mustJSON([]any{userMsg("m1", "one"), userMsg("m2", "two!"), msgs[2], userMsg("m4", "four"), userMsg("m5", "five"), userMsg("m6", "six")}))
	if err := send(t, h, a, frame); err != nil {
		t.Fatal(err)
	}
	ids = nil
	for _, m := range getMessages(t, h) {
		ids = append(ids, m["id"].(string))
	}
	if strings.Join(ids, ",") != "m4,m5,m6" {
		t.Fatalf("kept %v after the whole conversation", ids)
	}

	// Bad rows written behind the agent's back are skipped on load.
	db := openDB(t, dir)
	for i, bad := range []string{`not json`, `{"id":"x","role":"user"}`, `{"id":"","role":"user","parts":[]}`, `{"id":"y","role":"robot","parts":[]}`, `[1,2]`} {
		if _, err := db.Exec(`INSERT INTO cf_ai_chat_agent_messages (id, message) VALUES (?, ?)`, fmt.Sprint("bad", i), bad); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Exec(`INSERT INTO cf_ai_chat_agent_messages (id, message) VALUES ('v4', '{"id":"v4","role":"user","content":"legacy","createdAt":"2025-01-01T00:00:00Z"}')`); err != nil {
		t.Fatal(err)
	}
	hist = getMessages(t, h)
	if len(hist) != 4 || textOf(hist[3]) != "legacy" {
		t.Fatalf("history with bad and legacy rows %s", mustJSON(hist))
	}
	if got := strings.Count(h.log.String(), "stored message skipped"); got != 5 {
		t.Errorf("%d skipped rows logged, want 5:\n%s", got, h.log)
	}
}

func mustJSON(v any) string {
	b, err := wideCodec.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// TestTurnLimitAndQueue: the stored history obeys MaxPersistedMessages
// after a turn; requests that arrive while a reply streams wait and run in
// order (a cancelled one is dropped with its done), beyond MaxQueuedTurns
// they are refused.
func TestTurnLimitAndQueue(t *testing.T) {
	h := startHost(t, t.TempDir(), Config{MaxPersistedMessages: 2, Temperature: ptr[float32](0)}, microEngine(t))
	a := newConn("a")
	connect(t, h, a)
	turnOK(t, h, a, "r1", []any{userMsg("u1", "a"), userMsg("u0", "b")}, 1)
	hist := getMessages(t, h)
	if len(hist) != 2 || hist[0]["id"] != "u0" || hist[1]["role"] != "assistant" {
		t.Fatalf("history %s", mustJSON(hist))
	}

	h2 := startHost(t, t.TempDir(), greedy, microEngine(t))
	b := newConn("b")
	var once sync.Once
	b.onSend = func(f map[string]any) {
		if f["id"] != "q0" {
			return
		}
		once.Do(func() { // while q0 streams: q1..q9 arrive, then q2 is cancelled
			for i := 1; i <= MaxQueuedTurns+1; i++ {
				frame := chatRequest(fmt.Sprint("q", i), map[string]any{"messages": []any{userMsg(fmt.Sprint("u", i), "x")}, "maxTokens": 1})
				post(t, h2, b, frame)
			}
			post(t, h2, b, `{"type":"cf_agent_chat_request_cancel","id":"q2"}`)
		})
	}
	connect(t, h2, b)
	turnOK(t, h2, b, "q0", []any{userMsg("u0", "x")}, 3)
	over := fmt.Sprint("q", MaxQueuedTurns+1)
	if f := b.waitDone(t, over); f["error"] != true || !strings.Contains(f["body"].(string), "waiting") {
		t.Errorf("request beyond the queue: %v", f)
	}
	for i := 1; i <= MaxQueuedTurns; i++ {
		if f := b.waitDone(t, fmt.Sprint("q", i)); f["error"] != nil {
			t.Errorf("queued request q%d: %v", i, f)
		}
	}
	if n := len(b.chunks("q2")); n != 0 {
		t.Errorf("the cancelled waiting request streamed %d chunks", n)
	}
	// Replies in request order, each after its own request.
	var order []string
	for _, m := range getMessages(t, h2) {
		order = append(order, m["id"].(string)[:1])
	}
	want := "u a " + strings.Repeat("u a ", MaxQueuedTurns-1)
	if got := strings.Join(order, " ") + " "; got != want {
		t.Errorf("history order %s, want %s", got, want)
	}
	var done []string
	for _, f := range b.all() {
		if f["done"] == true {
			done = append(done, f["id"].(string))
		}
	}
	if fmt.Sprint(done[:2]) != "["+over+" q2]" || done[2] != "q0" || done[3] != "q1" {
		t.Errorf("terminal frames %v", done)
	}
}

// countingAgent is a class of one's own built on the chat agent: it
// embeds it and counts its starts.
type countingAgent struct {
	*Agent
	starts *atomic.Int32
}

func (c *countingAgent) OnStart(ctx *agenthost.Context) error {
	c.starts.Add(1)
	return c.Agent.OnStart(ctx)
}

// TestHibernateMidStream: the host may hibernate the agent between two
// tokens (here the backend holds the second token until it did); the new
// agent value takes the turn up, and the stream is not mistaken for one a
// restart cut off.
func TestHibernateMidStream(t *testing.T) {
	dir := t.TempDir()
	var starts atomic.Int32
	class := agenthost.Class{
		Name:       ClassName,
		New:        func(*agenthost.Context) agenthost.Agent { return &countingAgent{Agent: New(greedy), starts: &starts} },
		Migrations: Migrations,
	}
	g := newGated(t, microEngine(t))
	h := startHostWith(t, agenthost.Config{DataDir: dir, IdleTimeout: time.Millisecond}, class, g)
	a := newConn("a")
	connect(t, h, a)
	if err := send(t, h, a, chatRequest("r1", map[string]any{"messages": []any{userMsg("u1", "hi")}, "maxTokens": 6})); err != nil {
		t.Fatal(err)
	}
	a.waitFor(t, "first delta", isChunk("text-delta"))
	waitAsleep(t, h)
	close(g.gate)
	if f := a.waitDone(t, "r1"); f["error"] != nil {
		t.Fatalf("turn across hibernation: %v", f)
	}
	if n := starts.Load(); n < 2 {
		t.Errorf("%d starts: the agent did not hibernate", n)
	}
	if strings.Contains(h.log.String(), "cut off by a restart") {
		t.Errorf("a live stream was closed as cut off:\n%s", h.log)
	}
	chunks := a.chunks("r1")
	if chunks[len(chunks)-1]["type"] != "finish" {
		t.Errorf("chunks %v", chunks)
	}
	hist := getMessages(t, h)
	if len(hist) != 2 || textOf(hist[1]) != deltas(chunks) {
		t.Fatalf("history %v, streamed %q", hist, deltas(chunks))
	}
	var status string
	if err := openDB(t, dir).QueryRow(`SELECT status FROM cf_ai_chat_stream_metadata`).Scan(&status); err != nil || status != statusCompleted {
		t.Errorf("stream status %q %v", status, err)
	}
}

// TestModelRequest: the model is asked with the backend's first model, a
// 512-token bound unless the request or the agent sets one, and the
// agent's system prompt first.
func TestModelRequest(t *testing.T) {
	e := microEngine(t)
	cases := []struct {
		cfg            Config
		body           map[string]any
		wantMax        int
		wantModel, sys string
	}{
		{Config{}, map[string]any{}, 512, "tiny", ""},
		{Config{}, map[string]any{"max_tokens": 9, "temperature": 0.5}, 9, "tiny", ""},
		{Config{MaxTokens: 7, Model: "tiny", SystemPrompt: "Be brief."}, map[string]any{}, 7, "tiny", "Be brief."},
	}
	for i, c := range cases {
		g := newGated(t, e)
		h := startHost(t, t.TempDir(), c.cfg, g)
		a := newConn("a")
		a.onSend = postOnce(t, h, a, isChunk("text-delta"), `{"type":"cf_agent_chat_request_cancel","id":"r1"}`)
		connect(t, h, a)
		c.body["messages"] = []any{userMsg("u1", "hi")}
		if err := send(t, h, a, chatRequest("r1", c.body)); err != nil {
			t.Fatal(err)
		}
		a.waitDone(t, "r1")
		var req accel.ChatRequest
		select {
		case req = <-g.reqs:
		case <-time.After(wait):
			t.Fatalf("case %d: the model was not asked", i)
		}
		close(g.gate)
		if i == 1 && (req.Temperature == nil || *req.Temperature != 0.5) {
			t.Errorf("case %d: temperature %v", i, req.Temperature)
		}
		if req.MaxTokens != c.wantMax || req.Model != c.wantModel {
			t.Errorf("case %d: max tokens %d, model %q", i, req.MaxTokens, req.Model)
		}
		want := []accel.Message{{Role: "user", Content: "hi"}}
		if c.sys != "" {
			want = append([]accel.Message{{Role: "system", Content: c.sys}}, want...)
		}
		if fmt.Sprint(req.Messages) != fmt.Sprint(want) {
			t.Errorf("case %d: messages %v", i, req.Messages)
		}
	}
}

// TestRegenerate: a regenerate-message request drops the stored messages
// the client no longer has (the reply it regenerates), as ai-chat 0.1.6 does.
func TestRegenerate(t *testing.T) {
	h := startHost(t, t.TempDir(), greedy, microEngine(t))
	a := newConn("a")
	connect(t, h, a)
	turnOK(t, h, a, "r1", []any{userMsg("u1", "hi")}, 2)
	old := getMessages(t, h)[1]["id"]
	body := map[string]any{"messages": []any{userMsg("u1", "hi")}, "trigger": "regenerate-message", "maxTokens": 2}
	if err := send(t, h, a, chatRequest("r2", body)); err != nil {
		t.Fatal(err)
	}
	a.waitDone(t, "r2")
	hist := getMessages(t, h)
	if len(hist) != 2 || hist[0]["id"] != "u1" || hist[1]["id"] == old {
		t.Fatalf("history after regenerate %s (old reply %v)", mustJSON(hist), old)
	}
}

// TestRowGuard: messages over the row limit are compacted before they are
// stored (tool outputs first, then text), with metadata saying what was
// cut; the other connections get the stored copy.
func TestRowGuard(t *testing.T) {
	h := startHost(t, t.TempDir(), Config{}, nil)
	a, b := newConn("a"), newConn("b")
	connect(t, h, a)
	connect(t, h, b)
	big := strings.Repeat("weather data ", 160_000) // 2,080,000 bytes
	tool := map[string]any{"type": "tool-weather", "toolCallId": "call-1", "state": "output-available", "output": map[string]any{"rows": big}}
	small := map[string]any{"type": "tool-time", "toolCallId": "call-2", "state": "output-available", "output": "12:00"}
	msgs := []any{
		map[string]any{"id": "m1", "role": "assistant", "parts": []any{tool, small, map[string]any{"type": "text", "text": "ok"}}},
		map[string]any{"id": "m2", "role": "user", "parts": []any{map[string]any{"type": "text", "text": "short"}, map[string]any{"type": "text", "text": big}}},
		map[string]any{"id": "m3", "role": "user", "parts": []any{map[string]any{"type": "text", "text": "fine"}}},
	}
	if err := send(t, h, a, fmt.Sprintf(`{"type":"cf_agent_chat_messages","messages":%s}`, mustJSON(msgs))); err != nil {
		t.Fatal(err)
	}
	hist := getMessages(t, h)
	if len(hist) != 3 {
		t.Fatalf("%d messages stored", len(hist))
	}
	parts := hist[0]["parts"].([]any)
	out, _ := parts[0].(map[string]any)["output"].(string)
	if !strings.HasPrefix(out, "This tool output was too large") || !strings.Contains(out, "weather data") || len(out) > 1000 {
		t.Errorf("compacted output %.300q", out)
	}
	if parts[1].(map[string]any)["output"] != "12:00" || parts[2].(map[string]any)["text"] != "ok" {
		t.Errorf("small parts changed: %v", parts[1:])
	}
	if md := hist[0]["metadata"].(map[string]any); fmt.Sprint(md["compactedToolOutputs"]) != "[call-1]" || md["compactedTextParts"] != nil {
		t.Errorf("metadata %v", md)
	}
	parts = hist[1]["parts"].([]any)
	text := parts[1].(map[string]any)["text"].(string)
	if parts[0].(map[string]any)["text"] != "short" || !strings.HasPrefix(text, "[Text truncated for storage (2080000 chars).") || len(text) > 1000 {
		t.Errorf("truncated text %.300q", text)
	}
	if md := hist[1]["metadata"].(map[string]any); fmt.Sprint(md["compactedTextParts"]) != "[1]" {
		t.Errorf("metadata %v", md)
	}
	sync := b.ofType(TypeChatMessages)
	if len(sync) != 1 || len(mustJSON(sync[0])) > 10_000 {
		t.Errorf("the sync did not carry the stored copies")
	}
}

// TestLongHistory: a history longer than the model's context (512 tokens
// here) is cut, oldest turns first, until it fits; the system prompt and
// the last turn stay, and the store keeps everything.
func TestLongHistory(t *testing.T) {
	g := newGated(t, microEngine(t))
	close(g.gate)
	var finished []string
	cfg := Config{SystemPrompt: "Be brief.", Temperature: ptr[float32](0), OnFinish: func(_ *agenthost.Context, reply Message, reason string, err error) {
		finished = append(finished, fmt.Sprint(reply.Role, " ", reason, " ", err))
	}}
	h := startHost(t, t.TempDir(), cfg, g)
	a := newConn("a")
	connect(t, h, a)
	var msgs []any
	for i := range 6 {
		msgs = append(msgs, userMsg(fmt.Sprint("old", i), strings.Repeat("lorem ipsum dolor ", 40)))
	}
	msgs = append(msgs, userMsg("last", "hello"))
	turnOK(t, h, a, "r1", msgs, 2)
	var reqs []accel.ChatRequest
	for len(g.reqs) > 0 {
		reqs = append(reqs, <-g.reqs)
	}
	if len(reqs) < 2 {
		t.Fatalf("%d model requests: the long history was not cut", len(reqs))
	}
	final := reqs[len(reqs)-1].Messages
	if final[0].Content != "Be brief." || final[len(final)-1].Content != "hello" || len(final) >= len(reqs[0].Messages) {
		t.Errorf("final prompt %d messages: %v ... %v", len(final), final[0], final[len(final)-1])
	}
	if hist := getMessages(t, h); len(hist) != 8 {
		t.Errorf("%d messages stored, want 8", len(hist))
	}
	if fmt.Sprint(finished) != "[assistant length <nil>]" && fmt.Sprint(finished) != "[assistant stop <nil>]" {
		t.Errorf("OnFinish calls %v", finished)
	}
}

// TestQueuedRequestSurvivesRestart: a request that waits behind the reply
// that streams is stored; after a gateway restart the agent starts it,
// and a client that connects gets it (resuming, then the chunks and the
// terminal frame); its messages are stored with the reply.
func TestQueuedRequestSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	e := microEngine(t)
	g := newGated(t, e)
	h1 := startHost(t, dir, greedy, g)
	a := newConn("a")
	connect(t, h1, a)
	if err := send(t, h1, a, chatRequest("r1", map[string]any{"messages": []any{userMsg("u1", "hi")}, "maxTokens": 50})); err != nil {
		t.Fatal(err)
	}
	<-g.reqs
	a.waitFor(t, "a text delta", isChunk("text-delta"))
	if err := send(t, h1, a, chatRequest("r2", map[string]any{"messages": []any{userMsg("u1", "hi"), userMsg("u2", "again")}, "maxTokens": 3})); err != nil {
		t.Fatal(err)
	}
	var queued int
	if err := openDB(t, dir).QueryRow(`SELECT count(*) FROM outpost_chat_queue WHERE request_id = 'r2'`).Scan(&queued); err != nil || queued != 1 {
		t.Fatalf("queued rows %d %v", queued, err)
	}
	if err := h1.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	close(g.gate)

	// r2 holds after its first token until b has acknowledged resuming.
	g2 := newGated(t, e)
	h2 := startHost(t, dir, greedy, g2)
	b := newConn("b")
	connect(t, h2, b)
	b.waitFor(t, "resuming r2", func(f map[string]any) bool { return f["type"] == TypeStreamResuming && f["id"] == "r2" })
	if err := send(t, h2, b, `{"type":"cf_agent_stream_resume_ack","id":"r2"}`); err != nil {
		t.Fatal(err)
	}
	close(g2.gate)
	if f := b.waitDone(t, "r2"); f["error"] != nil {
		t.Fatalf("r2: %v", f)
	}
	if cs := b.chunks("r2"); len(cs) == 0 || cs[0]["type"] != "start" {
		t.Fatalf("r2 chunks %v", cs)
	}
	hist := getMessages(t, h2)
	var ids []string
	for _, m := range hist {
		ids = append(ids, m["id"].(string))
	}
	if len(hist) != 4 || ids[0] != "u1" || ids[2] != "u2" || hist[3]["role"] != "assistant" {
		t.Fatalf("history %v", ids)
	}
	if err := openDB(t, dir).QueryRow(`SELECT count(*) FROM outpost_chat_queue`).Scan(&queued); err != nil || queued != 0 {
		t.Errorf("queued rows after the turn %d %v", queued, err)
	}
}

// waitAsleep waits until the host's one agent has hibernated.
func waitAsleep(t *testing.T, h *testHost) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for awake := true; awake; {
		list, err := h.List()
		if err != nil {
			t.Fatal(err)
		}
		awake = len(list) == 1 && list[0].Awake
		if time.Now().After(deadline) {
			t.Fatal("the agent never hibernated")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestLongConversationRequest: a request whose conversation is larger than
// one row (each message fits, the whole does not: clients send the whole
// conversation each turn) is answered, and it can wait behind a reply
// and survive in the queue; a message over the row limit is compacted.
func TestLongConversationRequest(t *testing.T) {
	g := newGated(t, microEngine(t))
	cfg := greedy
	cfg.Prompt = func(_ *agenthost.Context, history []Message) []accel.Message { // the model reads only the question
		return []accel.Message{{Role: "user", Content: history[len(history)-1].Text()}}
	}
	h := startHost(t, t.TempDir(), cfg, g)
	a := newConn("a")
	connect(t, h, a)
	// About 3.6 MB of JSON in all, under the WebSocket frame limit (4 MiB).
	page := strings.Repeat("a long page of notes ", 28_000) // 588,000 bytes
	var msgs []any
	for i := range 3 {
		msgs = append(msgs, userMsg(fmt.Sprint("u", i), page))
	}
	msgs = append(msgs, userMsg("big", strings.Repeat("x", RowMaxBytes+50_000)), userMsg("q", "and so?")) // big is over the row limit
	if err := send(t, h, a, chatRequest("r1", map[string]any{"messages": msgs, "maxTokens": 2})); err != nil {
		t.Fatal(err)
	}
	// r2 waits behind r1 (the model is held), with its long body.
	if err := send(t, h, a, chatRequest("r2", map[string]any{"messages": append(msgs, userMsg("u9", "and?")), "maxTokens": 2})); err != nil {
		t.Fatal(err)
	}
	close(g.gate)
	for _, id := range []string{"r1", "r2"} {
		if d := a.waitDone(t, id); d["error"] != nil {
			t.Fatalf("%s: %v", id, d)
		}
	}
	hist := getMessages(t, h)
	if len(hist) != 8 {
		t.Fatalf("%d messages stored", len(hist))
	}
	if md, _ := hist[3]["metadata"].(map[string]any); fmt.Sprint(md["compactedTextParts"]) != "[0]" {
		t.Errorf("the oversized message was not compacted: %v", md)
	}
}

// TestQueueFull: a request beyond MaxQueuedTurns waiting ones gets an
// error response, and the agent's error is ErrQueueFull (wire.ErrBusy:
// an MQTT 5 publish of it is refused with quota exceeded).
func TestQueueFull(t *testing.T) {
	g := newGated(t, microEngine(t))
	h := startHost(t, t.TempDir(), greedy, g)
	a := newConn("a")
	connect(t, h, a)
	for i := range MaxQueuedTurns + 2 {
		id := fmt.Sprint("r", i)
		err := send(t, h, a, chatRequest(id, map[string]any{"messages": []any{userMsg("u"+id, "x")}, "maxTokens": 1}))
		if i <= MaxQueuedTurns && err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		if i > MaxQueuedTurns && (!errors.Is(err, ErrQueueFull) || !errors.Is(err, wire.ErrBusy)) {
			t.Fatalf("%s beyond the queue: %v", id, err)
		}
	}
	over := fmt.Sprint("r", MaxQueuedTurns+1)
	if f := a.waitDone(t, over); f["error"] != true || !strings.Contains(f["body"].(string), "too many requests waiting") {
		t.Errorf("request beyond the queue: %v", f)
	}
	close(g.gate)
	for i := range MaxQueuedTurns + 1 {
		if f := a.waitDone(t, fmt.Sprint("r", i)); f["error"] != nil {
			t.Errorf("r%d: %v", i, f)
		}
	}
}
