package remote

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/outpost-iot/outpost/accel"
)

func allEvents(r io.Reader) ([]string, error) {
	s := newSSEReader(r)
	var out []string
	for {
		d, err := s.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, string(d))
	}
}

func TestSSEReader(t *testing.T) {
	in := ": comment\n\ndata: a\n\ndata:b\r\n\r\nevent: x\nid: 3\ndata: c\ndata: d\n\n\n\ndata: last"
	want := []string{"a", "b", "c\nd", "last"}
	for name, r := range map[string]io.Reader{
		"whole":    strings.NewReader(in),
		"one byte": iotest.OneByteReader(strings.NewReader(in)),
	} {
		got, err := allEvents(r)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("%s: %q %v, want %q", name, got, err, want)
		}
	}
	if _, err := allEvents(strings.NewReader("data: " + strings.Repeat("x", MaxEventBytes+10) + "\n\n")); err == nil {
		t.Error("oversized event accepted")
	}
}

func TestReadStream(t *testing.T) {
	in := `data: {"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}

data: {"choices":[{"index":0,"delta":{"content":"Hel"}}]}

data: {"choices":[{"index":0,"text":"lo"}]}

data: {"choices":[{"index":0,"delta":{},"finish_reason":"length"}]}

data: {"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}

data: [DONE]

`
	var text string
	final, err := readStream(newSSEReader(strings.NewReader(in)), func(c accel.Chunk) bool { text += c.Text; return true })
	if err != nil || text != "Hello" || final.FinishReason != "length" || final.Usage == nil || final.Usage.TotalTokens != 5 {
		t.Errorf("text %q final %+v err %v", text, final, err)
	}
	if _, err := readStream(newSSEReader(strings.NewReader("data: {\"choices\":[]}\n\n")), func(accel.Chunk) bool { return true }); err == nil {
		t.Error("stream without finish accepted")
	}
}

// FuzzSSE: any byte stream is read without panicking, split reads give the
// same events as whole reads, and readStream returns an error or a final
// chunk with a finish reason.
func FuzzSSE(f *testing.F) {
	for _, s := range []string{
		"data: a\n\n", ": c\r\n\r\ndata:b\r\ndata: c\n\n", "data: [DONE]\n\n", "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"},\"finish_reason\":\"stop\"}]}\n\n",
		"data: {\"error\":{\"message\":\"m\",\"code\":1}}\n\n", "data: {\"usage\":{\"total_tokens\":1}}\n\ndata: [DONE]", "event: e\n\n\n", "data",
		"data: {\"choices\":[{\"index\":0,\"delta\":{\"reasoning_content\":\"hm\",\"tool_calls\":[{\"index\":0,\"id\":\"c\",\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"\"}}]}}]}\n\n" +
			"data: {\"choices\":[{\"index\":0,\"delta\":{\"reasoning\":\"x\",\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{}\"}}]},\"finish_reason\":\"tool_calls\"}]}\n\n",
		"data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":\"x\"}]}}]}\n\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		whole, err1 := allEvents(bytes.NewReader(in))
		split, err2 := allEvents(iotest.OneByteReader(bytes.NewReader(in)))
		if (err1 == nil) != (err2 == nil) || !slices.Equal(whole, split) {
			t.Fatalf("whole %q %v, split %q %v", whole, err1, split, err2)
		}
		var calls accel.ToolCalls
		final, err := readStream(newSSEReader(bytes.NewReader(in)), func(c accel.Chunk) bool { calls.Add(c.ToolCalls); return true })
		if err == nil && final.FinishReason == "" {
			t.Fatal("no error and no finish reason")
		}
		_ = calls.Calls()
	})
}

// TestReadStreamTools: tool-call deltas and reasoning (reasoning_content,
// or vLLM's reasoning) are read into chunks; the finish reason is kept.
func TestReadStreamTools(t *testing.T) {
	in := `data: {"choices":[{"index":0,"delta":{"role":"assistant","reasoning_content":"Let me "}}]}

data: {"choices":[{"index":0,"delta":{"reasoning":"see."}}]}

data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"get_weather","arguments":""}}]}}]}

data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"city\":"}}]}}]}

data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\"Oslo\"}"}}]}}]}

data: {"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}

data: [DONE]
`
	var calls accel.ToolCalls
	var reasoning string
	final, err := readStream(newSSEReader(strings.NewReader(in)), func(c accel.Chunk) bool {
		calls.Add(c.ToolCalls)
		reasoning += c.Reasoning
		return true
	})
	want := []accel.ToolCall{{ID: "call_1", Name: "get_weather", Arguments: `{"city":"Oslo"}`}}
	if err != nil || final.FinishReason != "tool_calls" || reasoning != "Let me see." || !reflect.DeepEqual(calls.Calls(), want) {
		t.Errorf("final %+v err %v reasoning %q calls %+v", final, err, reasoning, calls.Calls())
	}
}
