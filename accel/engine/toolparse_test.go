package engine

import (
	"testing"

	"github.com/outpost-iot/outpost/accel"
	"github.com/outpost-iot/outpost/accel/chattmpl"
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
