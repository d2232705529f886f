package engine

import (
	"context"
	"testing"

	"github.com/outpost-iot/outpost/accel"
	"github.com/outpost-iot/outpost/accel/chattmpl"
	"github.com/outpost-iot/outpost/accel/internal/testmodel"
)

// TestSplitReply: generated text in pieces becomes text, reasoning and
// whole tool calls with ids, and the finish reason says tool_calls.
func TestSplitReply(t *testing.T) {
	in := make(chan accel.Event, 16)
	for _, s := range []string{"<thi", "nk>why</think>Sure.", "\n<tool_", "call>\n{\"name\": \"get_weather\",", " \"arguments\": {\"city\": \"Oslo\"}}\n</tool_call>"} {
		in <- accel.Event{Chunk: accel.Chunk{Text: s}}
	}
	in <- accel.Event{Chunk: accel.Chunk{FinishReason: accel.FinishStop, Usage: &accel.Usage{CompletionTokens: 9}}}
	close(in)
	cancelled := false
	s := splitReply(in, func() { cancelled = true }, chattmpl.NewParser(chattmpl.ChatML, true, true))
	res, err := accel.Collect(s)
	if err != nil {
		t.Fatal(err)
	}
	if res.Text != "Sure.\n" || res.Reasoning != "why" || res.FinishReason != accel.FinishToolCalls || res.Usage.CompletionTokens != 9 {
		t.Errorf("result %+v", res)
	}
	if len(res.ToolCalls) != 1 || res.ToolCalls[0].Name != "get_weather" || res.ToolCalls[0].Arguments != `{"city":"Oslo"}` || len(res.ToolCalls[0].ID) < 10 {
		t.Errorf("tool calls %+v", res.ToolCalls)
	}
	if !cancelled {
		t.Error("Close did not cancel the generation")
	}
}

// TestChatWithTools: the engine renders tools and tool turns into a
// ChatML model's prompt and answers (a random-weight model writes text,
// not calls); a tool_choice that forces a call is refused only for a
// template without tools.
func TestChatWithTools(t *testing.T) {
	m, err := FromFile(testmodel.Micro(t), "tiny")
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(m, Config{Threads: 1, ContextLength: 512})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer e.Close(context.Background())
	zero := float32(0)
	req := accel.ChatRequest{Model: "tiny", Tools: []accel.Tool{{Name: "get_weather", Parameters: []byte(`{"type":"object"}`)}}, ToolChoice: "required",
		Messages: []accel.Message{
			{Role: "user", Content: "weather?"},
			{Role: "assistant", ToolCalls: []accel.ToolCall{{ID: "c1", Name: "get_weather", Arguments: `{}`}}},
			{Role: "tool", ToolCallID: "c1", Content: `{"t":3}`},
		}, Sampling: accel.Sampling{MaxTokens: 4, Temperature: &zero}}
	s, err := e.Chat(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if res, err := accel.Collect(s); err != nil || res.FinishReason == "" {
		t.Fatalf("%+v %v", res, err)
	}
	e.m.Family = chattmpl.Zephyr
	if _, err := e.Chat(context.Background(), req); !accel.IsClientError(err) {
		t.Errorf("forced tool call on a template without tools: %v", err)
	}
	req.ToolChoice = ""
	s, err = e.Chat(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := accel.Collect(s); err != nil {
		t.Fatal(err)
	}
}
