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
		"chat_error":       errorFrame("Xq3kd0aZ", "chat: this gateway has no model: no inference engine configured (start the gateway with --model or --inference-url)"),
		"chat_messages":    messagesFrame(msgs),
		"chat_clear":       clearFrame(),
		"chat_resuming":    {Kind: wire.Chat, Value: map[string]any{"type": TypeStreamResuming, "id": "Xq3kd0aZ"}},
		"chat_resume_none": {Kind: wire.Chat, Value: map[string]any{"type": TypeResumeNone, "probeId": "p0Xk2"}},
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
		c, _ := codecs.New(codec, codecs.Limits{})
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
