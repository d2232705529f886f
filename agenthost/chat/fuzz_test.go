package chat

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/outpost-iot/outpost/codecs"
	"github.com/outpost-iot/outpost/wire"
)

// Seeds: what @cloudflare/ai-chat sends, and broken variants.
var requestSeeds = []string{
	`{"type":"cf_agent_use_chat_request","id":"abc12345","init":{"method":"POST","body":"{\"messages\":[{\"id\":\"m1\",\"role\":\"user\",\"parts\":[{\"type\":\"text\",\"text\":\"hi\"}]}],\"trigger\":\"submit-message\"}"}}`,
	`{"type":"cf_agent_use_chat_request","id":"r","init":{"method":"POST","body":{"messages":[],"maxTokens":3}}}`,
	`{"type":"cf_agent_use_chat_request","id":"r","init":{"method":"POST","body":"{\"messages\":[{\"id\":\"a\",\"role\":\"assistant\",\"parts\":[{\"type\":\"tool-x\",\"state\":\"output-available\",\"output\":{\"$bytes\":\"AQI=\"}}],\"metadata\":{\"k\":1}}],\"max_tokens\":1.5}"}}`,
	`{"type":"cf_agent_use_chat_request","id":"r","init":{"method":"POST","body":"[]"}}`,
	`{"type":"cf_agent_use_chat_request","id":"r","init":{"method":"GET"}}`,
	`{"type":"cf_agent_use_chat_request","id":"","init":{}}`,
	`{"type":"cf_agent_use_chat_request","id":"r","init":{"method":"POST","body":"{\"messages\":[{\"id\":\"a\",\"role\":\"user\",\"parts\":[1]}]}"}}`,
	`{"type":"cf_agent_use_chat_request","id":"r","init":{"method":"POST","body":"{\"messages\":[{\"id\":\"a\",\"role\":\"user\",\"parts\":[{\"type\":\"\"}]}]}"}}`,
	`{"type":"cf_agent_use_chat_request","id":"r","init":{"method":"POST","body":"{\"messages\":{},\"maxTokens\":-4}"}}`,
}

var fuzzJSON, fuzzCBOR = func() (codecs.Codec, codecs.Codec) {
	j, err := codecs.NewJSON(codecs.Limits{MaxSize: 1 << 20})
	if err != nil {
		panic(err)
	}
	c, err := codecs.NewCBOR(codecs.Limits{MaxSize: 1 << 20})
	if err != nil {
		panic(err)
	}
	return j, c
}()

// FuzzParseRequest: any frame a client sends, JSON or CBOR, decodes or is
// refused, never panics; a decoded request's messages survive the store
// round trip (encode, decode, check) unchanged.
func FuzzParseRequest(f *testing.F) {
	addFrameSeeds(f, requestSeeds, "chat_request.cbor", "chat_request.json")
	forEachFrame(f, func(t *testing.T, frame map[string]any) {
		req, err := ParseRequest(frame)
		if err != nil {
			return
		}
		if req.ID == "" || req.MaxTokens < 0 {
			t.Fatalf("accepted %+v", req)
		}
		for _, m := range req.Messages {
			checkRoundTrip(t, m)
		}
	})
}

// FuzzParseMessage: a stored row decodes into a checked message or is
// refused; a checked message round-trips.
func FuzzParseMessage(f *testing.F) {
	for _, s := range []string{
		`{"id":"m1","role":"user","parts":[{"type":"text","text":"hi"}]}`,
		`{"id":"m2","role":"assistant","parts":[{"type":"data-progress","id":"p","data":{"pct":50}},{"type":"text","text":"x","state":"done"}],"metadata":{"finishReason":"stop"}}`,
		`{"id":"m3","role":"system","parts":[],"extra":true}`,
		`{"id":"m4","role":"tool","parts":[]}`,
		`{"id":"v4","role":"user","content":"legacy text","createdAt":"2025-01-01T00:00:00Z"}`,
		`{"id":"v4b","role":"user","content":7}`,
		`{"id":4,"role":"user","parts":[]}`,
		`{"id":"m5","role":"user","parts":"text"}`,
		`{"id":"m6","role":"user","parts":[{"text":"no type"}]}`,
		`not json`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := fuzzJSON.Unmarshal(data)
		if err != nil {
			return
		}
		m, err := ParseMessage(v)
		if err != nil {
			return
		}
		checkRoundTrip(t, m)
		_ = ModelMessages("sys", []Message{m})
		if b, g, err := guardRow(m); err == nil && (len(b) > RowMaxBytes || g.ID != m.ID || len(g.Parts) != len(m.Parts)) {
			t.Fatalf("guarded row of %d bytes, %d parts of %d", len(b), len(g.Parts), len(m.Parts))
		}
	})
}

func checkRoundTrip(t *testing.T, m Message) {
	t.Helper()
	b, err := jsonCodec.Marshal(m.Value())
	if err != nil {
		return // too large for a row: refused when stored
	}
	v, err := jsonCodec.Unmarshal(b)
	if err != nil {
		t.Fatalf("stored message %s does not decode: %v", b, err)
	}
	m2, err := ParseMessage(v)
	if err != nil {
		t.Fatalf("stored message %s does not check: %v", b, err)
	}
	b2, err := jsonCodec.Marshal(m2.Value())
	if err != nil || string(b) != string(b2) {
		t.Fatalf("round trip changed %s into %s (%v)", b, b2, err)
	}
}

// FuzzChunks: applying any sequence of chunks to a message never panics
// and leaves a message that stores and checks.
func FuzzChunks(f *testing.F) {
	f.Add([]byte(`[{"type":"start","messageId":"m"},{"type":"text-start","id":"t"},{"type":"text-delta","id":"t","delta":"hi"},{"type":"text-end","id":"t"},{"type":"finish","messageMetadata":{"finishReason":"stop"}}]`))
	f.Add([]byte(`[{"type":"text-delta","id":"x","delta":"a"},{"type":"data-p","id":"1","data":1},{"type":"data-p","id":"1","data":2},{"type":"data-q","transient":true,"data":3},{"type":"text-end","id":"nope"}]`))
	f.Add([]byte(`[{"type":"start","messageId":7},{"type":"text-delta","delta":5},{"type":"message-metadata","messageMetadata":[]}]`))
	f.Add([]byte(`[{"type":"start-step"},{"type":"reasoning-start","id":"r"},{"type":"reasoning-delta","id":"r","delta":"hm"},{"type":"reasoning-end","id":"r"},{"type":"tool-input-start","toolCallId":"c1","toolName":"w"},{"type":"tool-input-delta","toolCallId":"c1","inputTextDelta":"{}"},{"type":"tool-input-available","toolCallId":"c1","toolName":"w","input":{}},{"type":"tool-approval-request","toolCallId":"c1","approvalId":"a1"},{"type":"tool-output-available","toolCallId":"c1","output":{"t":3}},{"type":"finish-step"}]`))
	f.Add([]byte(`[{"type":"tool-input-available","toolCallId":"c2","toolName":"x","input":1},{"type":"tool-output-error","toolCallId":"c2","errorText":"e"},{"type":"tool-input-error","toolCallId":"c3","toolName":"y","input":"{","errorText":"bad"},{"type":"tool-output-denied","toolCallId":"c3"},{"type":"tool-input-start","toolCallId":7}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := fuzzJSON.Unmarshal(data)
		if err != nil {
			return
		}
		arr, ok := v.([]any)
		if !ok {
			return
		}
		b := newBuilder("assistant_1")
		for _, c := range arr {
			if m, ok := c.(map[string]any); ok {
				b.apply(m)
			}
		}
		b.closeTexts()
		checkRoundTrip(t, b.message())
	})
}

// FuzzOnMessage delivers any frame (JSON or CBOR) to a real chat agent on
// a gateway without a model: the agent never panics, and answers every
// frame it refuses with an error that wraps wire.ErrMalformed.
func FuzzOnMessage(f *testing.F) {
	for _, s := range requestSeeds {
		f.Add([]byte(s))
	}
	for _, s := range []string{
		`{"type":"cf_agent_chat_messages","messages":[{"id":"m","role":"user","parts":[{"type":"text","text":"x"}]}]}`,
		`{"type":"cf_agent_chat_messages","messages":"no"}`,
		`{"type":"cf_agent_chat_clear"}`,
		`{"type":"cf_agent_chat_request_cancel","id":7}`,
		`{"type":"cf_agent_stream_resume_request","probeId":{"a":1}}`,
		`{"type":"cf_agent_stream_resume_ack","id":"r"}`,
		`{"type":null}`,
		`[1,2,3]`,
	} {
		f.Add([]byte(s))
	}
	for _, s := range toolFrameSeeds {
		f.Add([]byte(s))
	}
	h := startHostF(f)
	c := newConn("fuzz")
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, codec := range []codecs.Codec{fuzzJSON, fuzzCBOR} {
			v, err := codec.Unmarshal(data)
			if err != nil {
				continue
			}
			done := make(chan error, 1)
			if err := h.Deliver(context.Background(), c, wire.Inbound{Data: data, Value: v}, func(err error) { done <- err }); err != nil {
				t.Fatal(err)
			}
			if err := <-done; err != nil && !errors.Is(err, wire.ErrMalformed) {
				t.Fatalf("frame %q: %v", data, err)
			}
		}
	})
}

// Seeds: the tool frames @cloudflare/ai-chat 0.12.2 sends, and broken
// variants.
var toolFrameSeeds = []string{
	`{"type":"cf_agent_tool_result","toolCallId":"call_1","toolName":"getLocation","output":{"city":"Oslo"},"autoContinue":true,"clientTools":[{"name":"getLocation","description":"Where the user is","parameters":{"type":"object"}}]}`,
	`{"type":"cf_agent_tool_result","toolCallId":"call_1","toolName":"x","output":null,"state":"output-error","errorText":"no GPS","autoContinue":false}`,
	`{"type":"cf_agent_tool_result","toolCallId":"","output":1}`,
	`{"type":"cf_agent_tool_result","toolCallId":"c","state":"weird"}`,
	`{"type":"cf_agent_tool_result","toolCallId":"c","clientTools":[{"name":"bad name"},{"name":7},"x"]}`,
	`{"type":"cf_agent_tool_approval","toolCallId":"call_2","approved":true,"autoContinue":true}`,
	`{"type":"cf_agent_tool_approval","toolCallId":"call_2","approved":false,"reason":"no"}`,
	`{"type":"cf_agent_tool_approval","toolCallId":"call_2","approved":"yes"}`,
	`{"type":"cf_agent_tool_approval","approved":true}`,
}

// FuzzToolFrames: any tool result or approval frame, JSON or CBOR,
// decodes or is refused with an error that wraps ErrBadFrame, never
// panics; a decoded one has its call id.
func FuzzToolFrames(f *testing.F) {
	addFrameSeeds(f, toolFrameSeeds, "chat_tool_result.json", "chat_tool_result.cbor", "chat_tool_approval.json", "chat_tool_approval.cbor")
	forEachFrame(f, func(t *testing.T, m map[string]any) {
		if r, err := ParseToolResult(m); err != nil {
			if !errors.Is(err, ErrBadFrame) {
				t.Fatalf("tool result error %v", err)
			}
		} else if r.ToolCallID == "" || (r.State != "output-available" && r.State != "output-error") {
			t.Fatalf("tool result %+v", r)
		}
		if a, err := ParseToolApproval(m); err != nil {
			if !errors.Is(err, ErrBadFrame) {
				t.Fatalf("approval error %v", err)
			}
		} else if a.ToolCallID == "" {
			t.Fatalf("approval %+v", a)
		}
	})
}

// addFrameSeeds adds each JSON seed, its CBOR form, and the golden files
// named.
func addFrameSeeds(f *testing.F, seeds []string, golden ...string) {
	for _, s := range seeds {
		f.Add([]byte(s))
		if v, err := fuzzJSON.Unmarshal([]byte(s)); err == nil {
			if b, err := fuzzCBOR.Marshal(v); err == nil {
				f.Add(b)
			}
		}
	}
	for _, name := range golden {
		if b, err := os.ReadFile(filepath.Join("testdata", "golden", name)); err == nil {
			f.Add(b)
		}
	}
}

// forEachFrame fuzzes check with every input that decodes, as JSON or as
// CBOR, to a map.
func forEachFrame(f *testing.F, check func(t *testing.T, frame map[string]any)) {
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, c := range []codecs.Codec{fuzzJSON, fuzzCBOR} {
			v, err := c.Unmarshal(data)
			if err != nil {
				continue
			}
			if m, ok := v.(map[string]any); ok {
				check(t, m)
			}
		}
	})
}
