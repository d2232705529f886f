package chat

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/outpost-iot/outpost/codecs"
	"github.com/outpost-iot/outpost/wire"
)

var update = flag.Bool("update", false, "rewrite testdata/golden")

// encodeAs encodes a frame as a connection of codec receives it: a
// wire.Nested value is JSON text on JSON connections and the value on CBOR
// ones (the protocol layer's choke point, docs/protocol.md rule 9.1).
func encodeAs(t *testing.T, codec string, f wire.Frame) []byte {
	t.Helper()
	c, err := codecs.New(codec, codecs.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]any{}
	for k, v := range f.Value.(map[string]any) {
		if n, ok := v.(wire.Nested); ok {
			v = n.Value
			if codec == wire.JSON {
				text, err := c.Marshal(n.Value)
				if err != nil {
					t.Fatal(err)
				}
				v = string(text)
			}
		}
		m[k] = v
	}
	b, err := c.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -run TestGolden -update writes it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s changed:\n got %q\nwant %q", name, got, want)
	}
}

// TestGoldenFrames pins the bytes of every frame the chat agent sends, in
// both codecs (docs/chat.md shows them), and checks that the golden
// requests, in both codecs, decode.
func TestGoldenFrames(t *testing.T) {
	msgs := []Message{
		{ID: "u1", Role: RoleUser, Parts: []map[string]any{{"type": "text", "text": "Hello"}}},
		{ID: "assistant_1764000000000_0a1b2c3d", Role: RoleAssistant, Parts: []map[string]any{{"type": "text", "text": "Hi there", "state": "done"}},
			Metadata: map[string]any{"finishReason": "stop"}},
	}
	frames := map[string]wire.Frame{
		"chat_start":       chunkFrame("Xq3kd0aZ", map[string]any{"type": "start", "messageId": "assistant_1764000000000_0a1b2c3d"}),
		"chat_text_delta":  chunkFrame("Xq3kd0aZ", map[string]any{"type": "text-delta", "id": "Xq3kd0aZ", "delta": "Hi"}),
		"chat_finish":      chunkFrame("Xq3kd0aZ", map[string]any{"type": "finish", "messageMetadata": map[string]any{"finishReason": "stop"}}),
		"chat_done":        doneFrame("Xq3kd0aZ"),
		"chat_aborted":     endedFrame("Xq3kd0aZ", outcomeAborted),
		"chat_error":       errorFrame("Xq3kd0aZ", "chat: this gateway has no model: no inference engine configured (start the gateway with --model or --inference-url)"),
		"chat_messages":    messagesFrame(msgs),
		"chat_clear":       clearFrame(),
		"chat_resuming":    {Kind: wire.Chat, Value: map[string]any{"type": TypeStreamResuming, "id": "Xq3kd0aZ"}},
		"chat_resume_none": {Kind: wire.Chat, Value: map[string]any{"type": TypeResumeNone, "probeId": "p0Xk2"}},
		// Tools, reasoning, data parts, continuations.
		"chat_start_step":        chunkFrame("Xq3kd0aZ", map[string]any{"type": "start-step"}),
		"chat_finish_step":       chunkFrame("Xq3kd0aZ", map[string]any{"type": "finish-step"}),
		"chat_reasoning_delta":   chunkFrame("Xq3kd0aZ", map[string]any{"type": "reasoning-delta", "id": "reasoning-Xq3kd0aZ-0", "delta": "The user wants"}),
		"chat_tool_input_start":  chunkFrame("Xq3kd0aZ", map[string]any{"type": "tool-input-start", "toolCallId": "call_w1", "toolName": "get_weather"}),
		"chat_tool_input_delta":  chunkFrame("Xq3kd0aZ", map[string]any{"type": "tool-input-delta", "toolCallId": "call_w1", "inputTextDelta": `{"city":`}),
		"chat_tool_input":        chunkFrame("Xq3kd0aZ", map[string]any{"type": "tool-input-available", "toolCallId": "call_w1", "toolName": "get_weather", "input": map[string]any{"city": "Oslo"}}),
		"chat_tool_approval_req": chunkFrame("Xq3kd0aZ", map[string]any{"type": "tool-approval-request", "approvalId": "approval_0a1b2c3d4e5f6071", "toolCallId": "call_w1"}),
		"chat_tool_output":       chunkFrame("Xq3kd0aZ", map[string]any{"type": "tool-output-available", "toolCallId": "call_w1", "output": map[string]any{"city": "Oslo", "temp": int64(3)}}),
		"chat_tool_output_error": chunkFrame("Xq3kd0aZ", map[string]any{"type": "tool-output-error", "toolCallId": "call_w1", "errorText": "the weather service is down"}),
		"chat_tool_denied":       chunkFrame("Xq3kd0aZ", map[string]any{"type": "tool-output-denied", "toolCallId": "call_w1"}),
		"chat_data":              chunkFrame("Xq3kd0aZ", map[string]any{"type": "data-progress", "id": "p1", "data": map[string]any{"step": "asking"}}),
		"chat_continuation": {Kind: wire.Chat, Value: map[string]any{"type": TypeUseChatResponse, "id": "0a1b2c3d", "done": false, "continuation": true, "seq": int64(3),
			"body": wire.Nested{Value: map[string]any{"type": "tool-output-available", "toolCallId": "call_w1", "output": map[string]any{"temp": int64(3)}}}}},
		"chat_replay_complete": {Kind: wire.Chat, Value: map[string]any{"type": TypeUseChatResponse, "id": "Xq3kd0aZ", "body": "", "done": false, "replay": true, "replayComplete": true}},
		"chat_stream_pending":  {Kind: wire.Chat, Value: map[string]any{"type": TypeStreamPending, "id": "0a1b2c3d", "probeId": "p0Xk2"}},
		"chat_message_updated": {Kind: wire.Chat, Value: map[string]any{"type": TypeMessageUpdated, "message": Message{ID: "assistant_1764000000000_0a1b2c3d", Role: RoleAssistant,
			Parts: []map[string]any{{"type": "tool-get_weather", "toolCallId": "call_w1", "state": "approval-responded", "input": map[string]any{"city": "Oslo"},
				"approval": map[string]any{"id": "approval_0a1b2c3d4e5f6071", "approved": true}}}}.Value()}},
	}
	for name, f := range frames {
		if f.Kind != wire.Chat {
			t.Errorf("%s: kind %v", name, f.Kind)
		}
		for _, codec := range []string{wire.JSON, wire.CBOR} {
			checkGolden(t, name+"."+codec, encodeAs(t, codec, f))
		}
	}
	// Requests: init.body is JSON text on JSON (as @cloudflare/ai-chat
	// sends it), the map itself on CBOR.
	body := map[string]any{"messages": messageValues(msgs[:1]), "trigger": "submit-message"}
	bodyText, _ := jsonCodec.Marshal(body)
	for _, codec := range []string{wire.JSON, wire.CBOR} {
		b := any(body)
		if codec == wire.JSON {
			b = string(bodyText)
		}
		req := map[string]any{"type": TypeUseChatRequest, "id": "Xq3kd0aZ", "init": map[string]any{"method": "POST", "body": b}}
		data := encodeAs(t, codec, wire.Frame{Value: req})
		checkGolden(t, "chat_request."+codec, data)
		checkGolden(t, "chat_cancel."+codec, encodeAs(t, codec, wire.Frame{Value: map[string]any{"type": TypeRequestCancel, "id": "Xq3kd0aZ"}}))
		// Tool results and approvals, as the client sends them (output is
		// the value itself in both codecs).
		tr := map[string]any{"type": TypeToolResult, "toolCallId": "call_l1", "toolName": "getLocation", "output": map[string]any{"city": "Oslo"},
			"autoContinue": true, "clientTools": []any{map[string]any{"name": "getLocation", "description": "Where the user is"}}}
		trData := encodeAs(t, codec, wire.Frame{Value: tr})
		checkGolden(t, "chat_tool_result."+codec, trData)
		ap := map[string]any{"type": TypeToolApproval, "toolCallId": "call_w1", "approved": true, "autoContinue": true}
		apData := encodeAs(t, codec, wire.Frame{Value: ap})
		checkGolden(t, "chat_tool_approval."+codec, apData)
		c, _ := codecs.New(codec, codecs.Limits{})
		if v, err := c.Unmarshal(trData); err != nil {
			t.Fatal(err)
		} else if r, err := ParseToolResult(v.(map[string]any)); err != nil || r.ToolCallID != "call_l1" || !r.AutoContinue || len(r.ClientTools) != 1 ||
			r.Output.(map[string]any)["city"] != "Oslo" {
			t.Errorf("chat_tool_result.%s: %+v %v", codec, r, err)
		}
		if v, err := c.Unmarshal(apData); err != nil {
			t.Fatal(err)
		} else if a, err := ParseToolApproval(v.(map[string]any)); err != nil || a.ToolCallID != "call_w1" || !a.Approved || !a.AutoContinue {
			t.Errorf("chat_tool_approval.%s: %+v %v", codec, a, err)
		}
		v, err := c.Unmarshal(data)
		if err != nil {
			t.Fatal(err)
		}
		r, err := ParseRequest(v.(map[string]any))
		if err != nil || r.ID != "Xq3kd0aZ" || len(r.Messages) != 1 || r.Messages[0].Text() != "Hello" || r.Trigger != "submit-message" {
			t.Errorf("chat_request.%s: %+v %v", codec, r, err)
		}
	}
}
