package chat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/outpost-iot/outpost/accel"
	"github.com/outpost-iot/outpost/accel/openai"
	"github.com/outpost-iot/outpost/accel/openai/openaitest"
	"github.com/outpost-iot/outpost/accel/remote"
	"github.com/outpost-iot/outpost/agenthost"
	"github.com/outpost-iot/outpost/wire"
)

// scripted serves script as the model through the real remote backend (a
// random-weight model never calls a tool).
func scripted(t *testing.T, script openaitest.Script) (*openaitest.Server, agenthost.Inference) {
	t.Helper()
	sc := openaitest.New(script)
	t.Cleanup(sc.Close)
	rc, err := remote.New(remote.Config{BaseURL: sc.URL})
	if err != nil {
		t.Fatal(err)
	}
	return sc, rc
}

// weatherScript calls tool (with {"city":"Oslo"}) until the conversation
// has a tool result, then answers with a text that quotes the result.
func weatherScript(tool string) openaitest.Script {
	return func(req openai.ChatCompletionRequest) openaitest.Reply {
		if last := openaitest.LastMessage(req); last.Role == "tool" {
			return openaitest.Reply{Text: "Result: " + string(last.Content)}
		}
		return openaitest.Reply{Reasoning: "need the weather", Text: "Let me check.", ToolCalls: []accel.ToolCall{{ID: "call_w1", Name: tool, Arguments: `{"city":"Oslo"}`}}}
	}
}

var weatherParams = map[string]any{"type": "object", "properties": map[string]any{"city": map[string]any{"type": "string"}}, "required": []any{"city"}}

func weatherTool(approval bool) Tool {
	t := Tool{Name: "get_weather", Description: "The weather in a city", Parameters: weatherParams,
		Execute: func(ctx context.Context, input any) (any, error) {
			city, _ := input.(map[string]any)["city"].(string)
			if err := WriteData(ctx, DataPart{Type: "data-progress", ID: "p1", Data: map[string]any{"step": "asking"}}); err != nil {
				return nil, err
			}
			if err := WriteData(ctx, DataPart{Type: "data-progress", ID: "p1", Data: map[string]any{"step": "done"}}); err != nil {
				return nil, err
			}
			if err := WriteData(ctx, DataPart{Type: "data-status", Data: "almost there", Transient: true}); err != nil {
				return nil, err
			}
			if err := WriteData(ctx, DataPart{Type: "progress"}); err == nil {
				return nil, errors.New("a data part type without data- was accepted")
			}
			return struct {
				City string `json:"city"`
				Temp int    `json:"temp"`
			}{city, 3}, nil
		}}
	if approval {
		t.NeedsApproval = func(any) bool { return true }
	}
	return t
}

func chunkTypes(chunks []map[string]any) string {
	var out []string
	for _, c := range chunks {
		typ := c["type"].(string)
		if n := len(out); n > 0 && strings.HasSuffix(typ, "-delta") && out[n-1] == typ+"…" {
			continue
		}
		if strings.HasSuffix(typ, "-delta") {
			typ += "…"
		}
		out = append(out, typ)
	}
	return strings.Join(out, " ")
}

// partsOf is a stored message's parts.
func partsOf(m map[string]any) []map[string]any {
	var out []map[string]any
	for _, p := range m["parts"].([]any) {
		out = append(out, p.(map[string]any))
	}
	return out
}

// weatherTurn runs turn r1 ("Weather in Oslo?") on an agent with the
// weather tool (no approval) and the weather script, from connection a.
func weatherTurn(t *testing.T) (*openaitest.Server, *testHost, *testConn) {
	t.Helper()
	sc, inf := scripted(t, weatherScript("get_weather"))
	h := startHost(t, t.TempDir(), Config{Tools: []Tool{weatherTool(false)}}, inf)
	a := newConn("a")
	connect(t, h, a)
	if err := send(t, h, a, chatRequest("r1", map[string]any{"messages": []any{userMsg("u1", "Weather in Oslo?")}})); err != nil {
		t.Fatal(err)
	}
	if f := a.waitDone(t, "r1"); f["error"] != nil {
		t.Fatalf("done %v", f)
	}
	return sc, h, a
}

// TestServerTool: the model calls a Go tool; the agent streams the call
// (tool-input-*), runs the tool (its data parts stream too), streams the
// output, then calls the model again with the call and its result, in
// one turn with two steps; the stored message has the tool part with its
// output, the data part reconciled in place, and both steps' text.
func TestServerTool(t *testing.T) {
	sc, h, a := weatherTurn(t)
	chunks := a.chunks("r1")
	want := "start start-step reasoning-start reasoning-delta… reasoning-end text-start text-delta… tool-input-start tool-input-delta… text-end tool-input-available " +
		"data-progress data-progress data-status tool-output-available finish-step start-step text-start text-delta… text-end finish-step finish"
	if got := chunkTypes(chunks); got != want {
		t.Fatalf("chunks\n got %s\nwant %s", got, want)
	}
	for _, c := range chunks {
		switch c["type"] {
		case "tool-input-start":
			if c["toolCallId"] != "call_w1" || c["toolName"] != "get_weather" {
				t.Errorf("chunk %v", c)
			}
		case "tool-input-available":
			if !reflect.DeepEqual(c["input"], map[string]any{"city": "Oslo"}) {
				t.Errorf("chunk %v", c)
			}
		case "tool-output-available":
			if !reflect.DeepEqual(c["output"], map[string]any{"city": "Oslo", "temp": int64(3)}) {
				t.Errorf("chunk %v", c)
			}
		case "finish":
			if c["messageMetadata"].(map[string]any)["finishReason"] != "stop" {
				t.Errorf("chunk %v", c)
			}
		}
	}
	hist := getMessages(t, h)
	if len(hist) != 2 {
		t.Fatalf("history %v", hist)
	}
	var types []string
	for _, p := range partsOf(hist[1]) {
		types = append(types, p["type"].(string))
	}
	if got := strings.Join(types, " "); got != "step-start reasoning text tool-get_weather data-progress step-start text" {
		t.Fatalf("stored parts %s", got)
	}
	tp := partsOf(hist[1])[3]
	if tp["state"] != "output-available" || tp["toolCallId"] != "call_w1" || tp["output"].(map[string]any)["temp"] != 3.0 {
		t.Errorf("tool part %v", tp)
	}
	if dp := partsOf(hist[1])[4]; dp["data"].(map[string]any)["step"] != "done" || dp["id"] != "p1" {
		t.Errorf("data part %v", dp)
	}
	if textOf(hist[1]) != `Let me check.Result: {"city":"Oslo","temp":3}` {
		t.Errorf("text %q", textOf(hist[1]))
	}
	// Outside a tool run there is no turn to write to.
	if err := WriteData(context.Background(), DataPart{Type: "data-x"}); !errors.Is(err, ErrNoTurn) {
		t.Errorf("WriteData outside a tool: %v", err)
	}
	// The model's second call had the tools, the call and its result.
	reqs := sc.Requests()
	if len(reqs) != 2 {
		t.Fatalf("%d model calls", len(reqs))
	}
	if len(reqs[0].Tools) != 1 || reqs[0].Tools[0].Function.Name != "get_weather" || !strings.Contains(string(reqs[0].Tools[0].Function.Parameters), `"city"`) {
		t.Errorf("tools offered %+v", reqs[0].Tools)
	}
	msgs := reqs[1].Messages
	if len(msgs) != 3 || msgs[1].Role != "assistant" || string(msgs[1].Content) != "Let me check." || len(msgs[1].ToolCalls) != 1 ||
		msgs[1].ToolCalls[0].ID != "call_w1" || msgs[1].ToolCalls[0].Function.Arguments != `{"city":"Oslo"}` ||
		msgs[2].Role != "tool" || msgs[2].ToolCallID != "call_w1" || string(msgs[2].Content) != `{"city":"Oslo","temp":3}` {
		t.Errorf("second call's messages %+v", msgs)
	}
}

// TestStepLimit: a model that calls a tool every time stops after
// MaxSteps model calls, with finish reason tool-calls.
func TestStepLimit(t *testing.T) {
	sc, inf := scripted(t, func(openai.ChatCompletionRequest) openaitest.Reply {
		return openaitest.Reply{ToolCalls: []accel.ToolCall{{ID: fmt.Sprintf("call_%d", len("x")), Name: "get_weather", Arguments: `{"city":"Oslo"}`}}}
	})
	h := startHost(t, t.TempDir(), Config{Tools: []Tool{weatherTool(false)}, MaxSteps: 3}, inf)
	a := newConn("a")
	connect(t, h, a)
	if err := send(t, h, a, chatRequest("r1", map[string]any{"messages": []any{userMsg("u1", "loop")}})); err != nil {
		t.Fatal(err)
	}
	a.waitDone(t, "r1")
	if n := len(sc.Requests()); n != 3 {
		t.Errorf("%d model calls, want 3", n)
	}
	chunks := a.chunks("r1")
	if last := chunks[len(chunks)-1]; last["type"] != "finish" || last["messageMetadata"].(map[string]any)["finishReason"] != "tool-calls" {
		t.Errorf("last chunk %v", last)
	}
}

// TestToolApproval: a tool that needs approval stops the turn; the
// pending approval is stored before tool-approval-request is sent; it
// survives a gateway restart; the approval from a client updates the
// message (cf_agent_message_updated) and continues the turn (continuation
// frames), which runs the tool and calls the model with its result. A
// denial tells the model the call was denied.
func TestToolApproval(t *testing.T) {
	for _, approved := range []bool{true, false} {
		t.Run(fmt.Sprint("approved=", approved), func(t *testing.T) {
			dir := t.TempDir()
			sc, inf := scripted(t, weatherScript("get_weather"))
			cfg := Config{Tools: []Tool{weatherTool(true)}}
			h := startHost(t, dir, cfg, inf)
			a := newConn("a")
			stored := make(chan string, 1)
			a.onSend = func(f map[string]any) {
				if isChunk("tool-approval-request")(f) {
					var msg string
					_ = openDB(t, dir).QueryRow(`SELECT message FROM cf_ai_chat_agent_messages WHERE message LIKE '%approval-requested%'`).Scan(&msg)
					stored <- msg
				}
			}
			connect(t, h, a)
			if err := send(t, h, a, chatRequest("r1", map[string]any{"messages": []any{userMsg("u1", "Weather in Oslo?")}, "maxTokens": 20})); err != nil {
				t.Fatal(err)
			}
			a.waitDone(t, "r1")
			if msg := <-stored; !strings.Contains(msg, `"approval":{"id":"approval_`) {
				t.Fatalf("the pending approval was not stored before it was asked: %q", msg)
			}
			chunks := a.chunks("r1")
			if got := chunkTypes(chunks); !strings.HasSuffix(got, "tool-input-available tool-approval-request finish-step finish") {
				t.Fatalf("chunks %s", got)
			}
			if len(sc.Requests()) != 1 {
				t.Fatalf("%d model calls before the approval", len(sc.Requests()))
			}
			// A gateway restart: the approval is still pending.
			h.Close(context.Background())
			h = startHost(t, dir, cfg, inf)
			hist := getMessages(t, h)
			tp := partsOf(hist[1])[3]
			if tp["state"] != "approval-requested" || tp["approval"].(map[string]any)["id"] == nil {
				t.Fatalf("after a restart: %v", tp)
			}
			b := newConn("b")
			connect(t, h, b)
			if err := send(t, h, b, fmt.Sprintf(`{"type":"cf_agent_tool_approval","toolCallId":"call_w1","approved":%v,"autoContinue":true}`, approved)); err != nil {
				t.Fatal(err)
			}
			up := b.waitFor(t, "message updated", func(f map[string]any) bool { return f["type"] == TypeMessageUpdated })
			upPart := up["message"].(map[string]any)["parts"].([]any)[3].(map[string]any)
			if upPart["state"] != "approval-responded" || upPart["approval"].(map[string]any)["approved"] != approved ||
				upPart["approval"].(map[string]any)["id"] != tp["approval"].(map[string]any)["id"] {
				t.Fatalf("updated part %v", upPart)
			}
			done := b.waitFor(t, "continuation done", func(f map[string]any) bool {
				return f["type"] == TypeUseChatResponse && f["done"] == true && f["continuation"] == true
			})
			cont := b.chunks(done["id"].(string))
			for _, f := range b.all() {
				if f["type"] == TypeUseChatResponse && f["id"] == done["id"] && f["continuation"] != true {
					t.Fatalf("continuation frame without continuation: %v", f)
				}
			}
			first := "start data-progress data-progress data-status tool-output-available start-step"
			if !approved {
				first = "start tool-output-denied start-step"
			}
			if got := chunkTypes(cont); !strings.HasPrefix(got, first) || !strings.HasSuffix(got, "text-end finish-step finish") {
				t.Fatalf("continuation chunks %s", got)
			}
			if cont[0]["messageId"] != hist[1]["id"] {
				t.Errorf("continuation start %v, message %v", cont[0], hist[1]["id"])
			}
			hist = getMessages(t, h)
			if len(hist) != 2 {
				t.Fatalf("history %v", hist)
			}
			final := partsOf(hist[1])[3]
			wantState, wantResult := "output-available", `{"city":"Oslo","temp":3}`
			if !approved {
				wantState, wantResult = "output-denied", "The user denied this tool call."
			}
			if final["state"] != wantState {
				t.Errorf("final tool part %v", final)
			}
			if !strings.HasSuffix(textOf(hist[1]), "Result: "+wantResult) {
				t.Errorf("text %q", textOf(hist[1]))
			}
			reqs := sc.Requests()
			if last := reqs[len(reqs)-1].Messages; last[len(last)-1].Role != "tool" || string(last[len(last)-1].Content) != wantResult {
				t.Errorf("the model was told %+v", last[len(last)-1])
			}
		})
	}
}

// TestClientTool: a tool the client declares in its request body is
// called by the model; the turn stops with the call waiting; the
// client's cf_agent_tool_result stores the output (message updated) and
// continues the turn with the stored client tools and body.
func TestClientTool(t *testing.T) {
	sc, inf := scripted(t, weatherScript("getLocation"))
	h := startHost(t, t.TempDir(), Config{}, inf)
	a := newConn("a")
	connect(t, h, a)
	body := map[string]any{"messages": []any{userMsg("u1", "Where am I?")}, "maxTokens": 33,
		"clientTools": []any{map[string]any{"name": "getLocation", "description": "Where the user is", "parameters": map[string]any{"type": "object"}}}}
	if err := send(t, h, a, chatRequest("r1", body)); err != nil {
		t.Fatal(err)
	}
	a.waitDone(t, "r1")
	if got := chunkTypes(a.chunks("r1")); !strings.HasSuffix(got, "tool-input-available finish-step finish") {
		t.Fatalf("chunks %s", got)
	}
	hist := getMessages(t, h)
	if p := partsOf(hist[1])[3]; p["type"] != "tool-getLocation" || p["state"] != "input-available" {
		t.Fatalf("tool part %v", p)
	}
	// A result for a call that does not exist is refused.
	if err := send(t, h, a, `{"type":"cf_agent_tool_result","toolCallId":"nope","output":1}`); !errors.Is(err, ErrBadFrame) {
		t.Errorf("unknown call: %v", err)
	}
	if err := send(t, h, a, `{"type":"cf_agent_tool_result","toolCallId":"call_w1","toolName":"getLocation","output":{"city":"Oslo"},"autoContinue":true}`); err != nil {
		t.Fatal(err)
	}
	done := a.waitFor(t, "continuation done", func(f map[string]any) bool {
		return f["type"] == TypeUseChatResponse && f["done"] == true && f["continuation"] == true
	})
	if done["error"] != nil {
		t.Fatalf("continuation %v", done)
	}
	if len(a.ofType(TypeMessageUpdated)) != 1 {
		t.Errorf("message updates %v", a.ofType(TypeMessageUpdated))
	}
	hist = getMessages(t, h)
	if p := partsOf(hist[1])[3]; p["state"] != "output-available" || !reflect.DeepEqual(p["output"], map[string]any{"city": "Oslo"}) {
		t.Fatalf("tool part %v", p)
	}
	if !strings.HasSuffix(textOf(hist[1]), `Result: {"city":"Oslo"}`) {
		t.Errorf("text %q", textOf(hist[1]))
	}
	reqs := sc.Requests()
	if len(reqs) != 2 || len(reqs[1].Tools) != 1 || reqs[1].Tools[0].Function.Name != "getLocation" || *reqs[1].MaxTokens != 33 {
		t.Errorf("the continuation's model call: %+v", reqs[len(reqs)-1])
	}
	// The continuation ended before a was told of it: a's resume request
	// still gets it, replayed, then its terminal frame.
	if err := send(t, h, a, `{"type":"cf_agent_stream_resume_request","probeId":"p1"}`); err != nil {
		t.Fatal(err)
	}
	res := a.ofType(TypeStreamResuming)
	if len(res) != 1 || res[0]["id"] != done["id"] || res[0]["probeId"] != "p1" {
		t.Fatalf("resuming %v, continuation %v", res, done["id"])
	}
	before := len(a.all())
	if err := send(t, h, a, fmt.Sprintf(`{"type":"cf_agent_stream_resume_ack","id":%q}`, done["id"])); err != nil {
		t.Fatal(err)
	}
	replayed := a.all()[before:]
	if last := replayed[len(replayed)-1]; len(replayed) < 3 || last["done"] != true || last["replay"] != true || last["continuation"] != true {
		t.Fatalf("replayed %v", replayed)
	}
	if err := send(t, h, a, `{"type":"cf_agent_stream_resume_request","probeId":"p2"}`); err != nil {
		t.Fatal(err)
	}
	if none := a.ofType(TypeResumeNone); len(none) != 1 || none[0]["probeId"] != "p2" {
		t.Errorf("second resume request: %v", a.all()[len(a.all())-1])
	}
	// A second, different result for the same call is refused: it no
	// longer waits. The same result again (a client whose message sync
	// came first) is not.
	if err := send(t, h, a, `{"type":"cf_agent_tool_result","toolCallId":"call_w1","output":2}`); !errors.Is(err, ErrBadFrame) {
		t.Errorf("second result: %v", err)
	}
	if err := send(t, h, a, `{"type":"cf_agent_tool_result","toolCallId":"call_w1","state":"output-error","errorText":"x"}`); !errors.Is(err, ErrBadFrame) {
		t.Errorf("an error after the output: %v", err)
	}
	if err := send(t, h, a, `{"type":"cf_agent_tool_result","toolCallId":"call_w1","output":{"city":"Oslo"}}`); err != nil {
		t.Errorf("the same result again: %v", err)
	}
}

// TestModelMessagesTools: tool parts become assistant tool calls and tool
// results, step by step; calls that wait are left out.
func TestModelMessagesTools(t *testing.T) {
	msgs := []Message{
		{ID: "u", Role: RoleUser, Parts: []map[string]any{{"type": "text", "text": "hi"}}},
		{ID: "a", Role: RoleAssistant, Parts: []map[string]any{
			{"type": "step-start"}, {"type": "text", "text": "Checking."},
			{"type": "tool-w", "toolCallId": "c1", "state": "output-available", "input": map[string]any{"x": int64(1)}, "output": "sunny"},
			{"type": "tool-w", "toolCallId": "c2", "state": "output-error", "input": nil, "errorText": "boom"},
			{"type": "step-start"}, {"type": "text", "text": "Done."},
			{"type": "tool-v", "toolCallId": "c3", "state": "input-available", "input": map[string]any{}},
		}},
	}
	got := ModelMessages("", msgs)
	want := []accel.Message{
		{Role: "user", Content: "hi"},
		{Role: "assistant", Content: "Checking.", ToolCalls: []accel.ToolCall{{ID: "c1", Name: "w", Arguments: `{"x":1}`}, {ID: "c2", Name: "w", Arguments: `{}`}}},
		{Role: "tool", ToolCallID: "c1", Content: "sunny"},
		{Role: "tool", ToolCallID: "c2", Content: "Error: boom"},
		{Role: "assistant", Content: "Done."},
	}
	if !reflect.DeepEqual(got, want) {
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(want)
		t.Errorf("got  %s\nwant %s", g, w)
	}
}

// TestApprovalWhileStreaming: an approval that arrives before the turn
// that asked for it has ended queues the continuation; the requester's
// resume request is answered cf_agent_stream_pending, then resuming when
// the continuation starts; it gets the continuation once it acknowledges.
func TestApprovalWhileStreaming(t *testing.T) {
	_, inf := scripted(t, weatherScript("get_weather"))
	h := startHost(t, t.TempDir(), Config{Tools: []Tool{weatherTool(true)}}, inf)
	a := newConn("a")
	var once sync.Once
	a.onSend = func(f map[string]any) {
		if isChunk("tool-approval-request")(f) {
			once.Do(func() {
				post(t, h, a, `{"type":"cf_agent_tool_approval","toolCallId":"call_w1","approved":true,"autoContinue":true}`)
				post(t, h, a, `{"type":"cf_agent_stream_resume_request","probeId":"p1"}`)
			})
		}
	}
	connect(t, h, a)
	if err := send(t, h, a, chatRequest("r1", map[string]any{"messages": []any{userMsg("u1", "Weather in Oslo?")}})); err != nil {
		t.Fatal(err)
	}
	pending := a.waitFor(t, "stream pending", func(f map[string]any) bool { return f["type"] == TypeStreamPending })
	if pending["probeId"] != "p1" || pending["id"] == "" {
		t.Fatalf("pending %v", pending)
	}
	res := a.waitFor(t, "resuming", func(f map[string]any) bool { return f["type"] == TypeStreamResuming })
	if res["id"] != pending["id"] {
		t.Fatalf("resuming %v after pending %v", res, pending)
	}
	if err := send(t, h, a, fmt.Sprintf(`{"type":"cf_agent_stream_resume_ack","id":%q}`, res["id"])); err != nil {
		t.Fatal(err)
	}
	done := a.waitDone(t, res["id"].(string))
	if done["continuation"] != true || done["error"] != nil {
		t.Fatalf("continuation done %v", done)
	}
	if got := chunkTypes(a.chunks(res["id"].(string))); !strings.HasPrefix(got, "start data-progress") || !strings.HasSuffix(got, "finish") {
		t.Fatalf("continuation chunks %s", got)
	}
	if hist := getMessages(t, h); len(hist) != 2 || partsOf(hist[1])[3]["state"] != "output-available" {
		t.Fatalf("history %v", hist)
	}
}

// dataBot is a class built on the chat agent that attaches a data part to
// the reply that streams when a client sends {"type": "note"}.
type dataBot struct{ *Agent }

func (b dataBot) OnMessage(ctx *agenthost.Context, c wire.Conn, m wire.Inbound) error {
	if f, _ := m.Value.(map[string]any); f["type"] == "note" {
		return b.WriteData(ctx, DataPart{Type: "data-note", ID: "n", Data: f["text"]})
	}
	return b.Agent.OnMessage(ctx, c, m)
}

// TestAgentWriteData: a class built on the chat agent writes data parts
// into the reply that streams; with none streaming it gets ErrNoTurn.
func TestAgentWriteData(t *testing.T) {
	g := newGated(t, microEngine(t))
	class := agenthost.Class{Name: ClassName, Migrations: Migrations,
		New: func(*agenthost.Context) agenthost.Agent { return dataBot{New(greedy)} }}
	h := startHostWith(t, agenthost.Config{DataDir: t.TempDir()}, class, g)
	a := newConn("a")
	connect(t, h, a)
	if err := send(t, h, a, `{"type":"note","text":"early"}`); !errors.Is(err, ErrNoTurn) {
		t.Fatalf("note without a reply: %v", err)
	}
	if err := send(t, h, a, chatRequest("r1", map[string]any{"messages": []any{userMsg("u1", "hi")}, "maxTokens": 5})); err != nil {
		t.Fatal(err)
	}
	a.waitFor(t, "a text delta", isChunk("text-delta"))
	for _, text := range []string{"one", "two"} {
		if err := send(t, h, a, fmt.Sprintf(`{"type":"note","text":%q}`, text)); err != nil {
			t.Fatal(err)
		}
	}
	close(g.gate)
	a.waitDone(t, "r1")
	hist := getMessages(t, h)
	var notes []any
	for _, p := range partsOf(hist[1]) {
		if p["type"] == "data-note" {
			notes = append(notes, p["data"])
		}
	}
	if !reflect.DeepEqual(notes, []any{"two"}) {
		t.Errorf("stored data parts %v in %v", notes, hist[1])
	}
}

// TestStaleToolPartMerged: a client that sends its stale copy of a
// message (a tool call still waiting, that the agent has the output of)
// does not move the stored call back.
func TestStaleToolPartMerged(t *testing.T) {
	sc, h, a := weatherTurn(t)
	hist := getMessages(t, h)
	stale := hist[1]
	parts := partsOf(stale)
	parts[3] = map[string]any{"type": "tool-get_weather", "toolCallId": "call_w1", "state": "input-available", "input": map[string]any{"city": "Oslo"}}
	stale["parts"] = toAny(parts)
	if err := send(t, h, a, chatRequest("r2", map[string]any{"messages": []any{hist[0], stale, userMsg("u2", "thanks")}})); err != nil {
		t.Fatal(err)
	}
	a.waitDone(t, "r2")
	if p := partsOf(getMessages(t, h)[1])[3]; p["state"] != "output-available" {
		t.Fatalf("stored part moved back: %v", p)
	}
	reqs := sc.Requests()
	if msgs := reqs[len(reqs)-1].Messages; len(msgs) < 3 || msgs[2].Role != "tool" {
		t.Errorf("the model lost the tool result: %+v", msgs)
	}
}

// TestApprovalAcrossHibernation: the agent hibernates while a tool call
// waits for approval; the approval wakes it, and the stored pending call
// is continued.
func TestApprovalAcrossHibernation(t *testing.T) {
	_, inf := scripted(t, weatherScript("get_weather"))
	h := startHostWith(t, agenthost.Config{DataDir: t.TempDir(), IdleTimeout: time.Millisecond},
		NewClass(ClassName, Config{Tools: []Tool{weatherTool(true)}}), inf)
	a := newConn("a")
	connect(t, h, a)
	if err := send(t, h, a, chatRequest("r1", map[string]any{"messages": []any{userMsg("u1", "Weather in Oslo?")}})); err != nil {
		t.Fatal(err)
	}
	a.waitDone(t, "r1")
	waitAsleep(t, h)
	approveWeather(t, h, a)
	hist := getMessages(t, h)
	if p := partsOf(hist[1])[3]; p["state"] != "output-available" || !strings.HasSuffix(textOf(hist[1]), `Result: {"city":"Oslo","temp":3}`) {
		t.Fatalf("after hibernation: %v", hist[1])
	}
}

// TestApprovalThenRequest: a client that approves without autoContinue
// and then sends a request whose last message is the assistant message
// (as useAgentChat does with autoContinueAfterToolResult off) gets that
// message continued: the approved call runs, the model answers, in the
// request's own stream.
func TestApprovalThenRequest(t *testing.T) {
	_, inf := scripted(t, weatherScript("get_weather"))
	h := startHost(t, t.TempDir(), Config{Tools: []Tool{weatherTool(true)}}, inf)
	a := newConn("a")
	connect(t, h, a)
	if err := send(t, h, a, chatRequest("r1", map[string]any{"messages": []any{userMsg("u1", "Weather in Oslo?")}})); err != nil {
		t.Fatal(err)
	}
	a.waitDone(t, "r1")
	if err := send(t, h, a, `{"type":"cf_agent_tool_approval","toolCallId":"call_w1","approved":true}`); err != nil {
		t.Fatal(err)
	}
	hist := getMessages(t, h)
	if err := send(t, h, a, chatRequest("r2", map[string]any{"messages": toAny(hist), "trigger": "submit-message"})); err != nil {
		t.Fatal(err)
	}
	if f := a.waitDone(t, "r2"); f["error"] != nil || f["continuation"] != nil {
		t.Fatalf("r2 done %v", f)
	}
	chunks := a.chunks("r2")
	if chunks[0]["messageId"] != hist[1]["id"] || !strings.Contains(chunkTypes(chunks), "tool-output-available start-step text-start") {
		t.Fatalf("r2 chunks %s (%v)", chunkTypes(chunks), chunks[0])
	}
	after := getMessages(t, h)
	if len(after) != 2 || partsOf(after[1])[3]["state"] != "output-available" || !strings.HasSuffix(textOf(after[1]), `Result: {"city":"Oslo","temp":3}`) {
		t.Fatalf("history %v", after)
	}
}

// TestBadToolFrames: malformed tool results and approvals, and ones for a
// call that does not wait for them, each get an error back to the sender
// (outpost_error, wrapping wire.ErrMalformed) and change nothing stored:
// the pending approval is still there, byte for byte, and the right
// approval then continues the turn.
func TestBadToolFrames(t *testing.T) {
	dir := t.TempDir()
	_, inf := scripted(t, weatherScript("get_weather"))
	h := startHost(t, dir, Config{Tools: []Tool{weatherTool(true)}}, inf)
	a, b := newConn("a"), newConn("b")
	connect(t, h, a)
	connect(t, h, b)
	if err := send(t, h, a, chatRequest("r1", map[string]any{"messages": []any{userMsg("u1", "Weather in Oslo?")}, "maxTokens": 20})); err != nil {
		t.Fatal(err)
	}
	a.waitDone(t, "r1")
	rows := func() string {
		var out strings.Builder
		r, err := openDB(t, dir).Query(`SELECT id, message FROM cf_ai_chat_agent_messages ORDER BY rowid`)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		for r.Next() {
			var id, msg string
			if err := r.Scan(&id, &msg); err != nil {
				t.Fatal(err)
			}
			out.WriteString(id + " " + msg + "\n")
		}
		return out.String()
	}
	before := rows()
	if !strings.Contains(before, "approval-requested") {
		t.Fatalf("no pending approval stored:\n%s", before)
	}
	cases := []struct{ frame, wantErr string }{
		{`{"type":"cf_agent_tool_approval","approved":true}`, "toolCallId"},
		{`{"type":"cf_agent_tool_approval","toolCallId":7,"approved":true}`, "toolCallId"},
		{`{"type":"cf_agent_tool_approval","toolCallId":"call_w1","approved":"yes"}`, "approved"},
		{`{"type":"cf_agent_tool_approval","toolCallId":"call_w1"}`, "approved"},
		{`{"type":"cf_agent_tool_approval","toolCallId":"nope","approved":true}`, `no tool call "nope"`},
		{`{"type":"cf_agent_tool_result","output":1}`, "toolCallId"},
		{`{"type":"cf_agent_tool_result","toolCallId":"call_w1","state":"done","output":1}`, "state"},
		{`{"type":"cf_agent_tool_result","toolCallId":"call_w1","output":{"temp":99}}`, "not waiting for a result"},
		{`{"type":"cf_agent_tool_result","toolCallId":"nope","output":1}`, `no tool call "nope"`},
	}
	for _, c := range cases {
		n, nb := len(a.all()), len(b.all())
		err := send(t, h, a, c.frame)
		if !errors.Is(err, wire.ErrMalformed) || !strings.Contains(err.Error(), c.wantErr) {
			t.Errorf("%s: error %v, want one about %s", c.frame, err, c.wantErr)
		}
		got := a.all()[n:]
		if len(got) != 1 || got[0]["type"] != wire.TypeError || !strings.Contains(fmt.Sprint(got[0]), c.wantErr) {
			t.Errorf("%s: the sender got %v", c.frame, got)
		}
		if extra := b.all()[nb:]; len(extra) != 0 {
			t.Errorf("%s: another connection got %v", c.frame, extra)
		}
		if after := rows(); after != before {
			t.Fatalf("%s changed the stored messages:\n%s\nwas\n%s", c.frame, after, before)
		}
	}
	approveWeather(t, h, a)
	if p := partsOf(getMessages(t, h)[1])[3]; p["state"] != "output-available" {
		t.Fatalf("tool part after the approval %v", p)
	}
}

// approveWeather approves call_w1 from c, with autoContinue, and waits
// for the continuation's terminal frame, which must not be an error.
func approveWeather(t *testing.T, h *testHost, c *testConn) {
	t.Helper()
	if err := send(t, h, c, `{"type":"cf_agent_tool_approval","toolCallId":"call_w1","approved":true,"autoContinue":true}`); err != nil {
		t.Fatal(err)
	}
	done := c.waitFor(t, "continuation done", func(f map[string]any) bool {
		return f["type"] == TypeUseChatResponse && f["done"] == true && f["continuation"] == true
	})
	if done["error"] != nil {
		t.Fatalf("continuation %v", done)
	}
}

// TestLargeToolOutput: a server tool's output over the row limit reaches
// the model whole in its turn; the stored message keeps a compacted copy.
func TestLargeToolOutput(t *testing.T) {
	big := strings.Repeat("r", RowMaxBytes+10_000)
	_, inf := scripted(t, func(req openai.ChatCompletionRequest) openaitest.Reply {
		if last := openaitest.LastMessage(req); last.Role == "tool" {
			return openaitest.Reply{Text: fmt.Sprint("Got ", len(string(last.Content)), " bytes.")}
		}
		return openaitest.Reply{ToolCalls: []accel.ToolCall{{ID: "call_d1", Name: "dump", Arguments: `{}`}}}
	})
	dump := Tool{Name: "dump", Description: "Everything", Parameters: map[string]any{"type": "object"},
		Execute: func(context.Context, any) (any, error) { return map[string]any{"rows": big}, nil }}
	h := startHost(t, t.TempDir(), Config{Tools: []Tool{dump}}, inf)
	a := newConn("a")
	connect(t, h, a)
	if err := send(t, h, a, chatRequest("r1", map[string]any{"messages": []any{userMsg("u1", "dump it")}})); err != nil {
		t.Fatal(err)
	}
	if d := a.waitDone(t, "r1"); d["error"] != nil {
		t.Fatalf("done %v", d)
	}
	hist := getMessages(t, h)
	if want := fmt.Sprint("Got ", len(`{"rows":""}`)+len(big), " bytes."); textOf(hist[1]) != want {
		t.Errorf("reply %q, want %q", textOf(hist[1]), want)
	}
	for _, p := range partsOf(hist[1]) {
		if p["type"] == "tool-dump" {
			if out, _ := p["output"].(string); !strings.HasPrefix(out, "This tool output was too large") {
				t.Errorf("stored output %.200v", p["output"])
			}
		}
	}
}

// TestToolCallsWithoutIndex: a server that streams its tool calls without
// an index (each call whole, every one read as index 0) gets each call run
// apart, told apart by its id.
func TestToolCallsWithoutIndex(t *testing.T) {
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			_, _ = io.WriteString(w, `{"object":"list","data":[{"id":"m","object":"model"}]}`)
			return
		}
		calls++
		w.Header().Set("Content-Type", "text/event-stream")
		if calls == 1 {
			for _, c := range []string{"call_a", "call_b"} {
				fmt.Fprintf(w, "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"id\":%q,\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Oslo\\\"}\"}}]}}]}\n\n", c)
			}
			_, _ = io.WriteString(w, "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n\ndata: [DONE]\n\n")
			return
		}
		_, _ = io.WriteString(w, "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Two answers.\"}}]}\n\n"+
			"data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n")
	}))
	t.Cleanup(srv.Close)
	rc, err := remote.New(remote.Config{BaseURL: srv.URL + "/v1"})
	if err != nil {
		t.Fatal(err)
	}
	h := startHost(t, t.TempDir(), Config{Tools: []Tool{weatherTool(false)}}, rc)
	a := newConn("a")
	connect(t, h, a)
	if err := send(t, h, a, chatRequest("r1", map[string]any{"messages": []any{userMsg("u1", "Weather in Oslo, twice?")}})); err != nil {
		t.Fatal(err)
	}
	if d := a.waitDone(t, "r1"); d["error"] != nil {
		t.Fatalf("done %v", d)
	}
	var got []string
	for _, p := range partsOf(getMessages(t, h)[1]) {
		if p["type"] == "tool-get_weather" {
			got = append(got, fmt.Sprint(p["toolCallId"], " ", p["state"]))
		}
	}
	if want := "[call_a output-available call_b output-available]"; fmt.Sprint(got) != want {
		t.Fatalf("tool parts %v, want %s", got, want)
	}
}

// TestContinuationCutByRestart: a continuation (after an approval) that a
// gateway restart cuts off is kept as the message it continued plus what
// streamed: the call, its output and the earlier text survive.
func TestContinuationCutByRestart(t *testing.T) {
	dir := t.TempDir()
	hold := make(chan struct{})
	defer close(hold)
	_, inf := scripted(t, func(req openai.ChatCompletionRequest) openaitest.Reply {
		if openaitest.LastMessage(req).Role == "tool" {
			return openaitest.Reply{Text: "It is three degrees in Oslo today.", Hold: hold, HoldAfter: 2}
		}
		return weatherScript("get_weather")(req)
	})
	cfg := Config{Tools: []Tool{weatherTool(true)}}
	h := startHost(t, dir, cfg, inf)
	a := newConn("a")
	connect(t, h, a)
	if err := send(t, h, a, chatRequest("r1", map[string]any{"messages": []any{userMsg("u1", "Weather in Oslo?")}})); err != nil {
		t.Fatal(err)
	}
	a.waitDone(t, "r1")
	if err := send(t, h, a, `{"type":"cf_agent_tool_approval","toolCallId":"call_w1","approved":true,"autoContinue":true}`); err != nil {
		t.Fatal(err)
	}
	// The continuation streams two pieces ("It is th"), then holds.
	a.waitFor(t, "the continuation's text", func(f map[string]any) bool {
		n := 0
		for _, g := range a.all() {
			if g["continuation"] == true && isChunk("text-delta")(g) {
				n++
			}
		}
		return n == 2
	})
	if err := h.Close(context.Background()); err != nil {
		t.Fatal(err)
	}

	h = startHost(t, dir, cfg, inf)
	b := newConn("b")
	connect(t, h, b)
	hist := getMessages(t, h)
	if len(hist) != 2 {
		t.Fatalf("history after the restart %v", hist)
	}
	var types []string
	for _, p := range partsOf(hist[1]) {
		types = append(types, p["type"].(string))
	}
	if len(types) < 4 {
		t.Fatalf("the continued message lost its parts: %v", types)
	}
	if tp := partsOf(hist[1])[3]; tp["type"] != "tool-get_weather" || tp["state"] != "output-available" {
		t.Fatalf("the continued call after the restart: %v (parts %v)", tp, types)
	}
	if got := textOf(hist[1]); got != "Let me check.It is th" {
		t.Fatalf("text after the restart %q (parts %v)", got, types)
	}
}

// TestToolRunCutByRestart: a server tool call that was running when the
// gateway stopped is ended as an output error when the agent starts again
// (nothing would ever finish it), so the conversation does not wait on it.
func TestToolRunCutByRestart(t *testing.T) {
	dir := t.TempDir()
	_, inf := scripted(t, weatherScript("get_weather"))
	running := make(chan struct{})
	slow := Tool{Name: "get_weather", Description: "The weather in a city", Parameters: weatherParams,
		Execute: func(ctx context.Context, _ any) (any, error) {
			close(running)
			<-ctx.Done() // until the gateway stops
			return nil, ctx.Err()
		}}
	h := startHost(t, dir, Config{Tools: []Tool{slow}}, inf)
	a := newConn("a")
	connect(t, h, a)
	if err := send(t, h, a, chatRequest("r1", map[string]any{"messages": []any{userMsg("u1", "Weather in Oslo?")}})); err != nil {
		t.Fatal(err)
	}
	<-running
	if err := h.Close(context.Background()); err != nil {
		t.Fatal(err)
	}

	h = startHost(t, dir, Config{Tools: []Tool{weatherTool(false)}}, inf)
	connect(t, h, newConn("b"))
	hist := getMessages(t, h)
	if len(hist) != 2 {
		t.Fatalf("history after the restart %v", hist)
	}
	tp := findToolPart(partsOf(hist[1]), "call_w1")
	if tp == nil || tp["state"] != "output-error" || tp["errorText"] != interruptedCall {
		t.Fatalf("the interrupted call after the restart: %v", partsOf(hist[1]))
	}
}
