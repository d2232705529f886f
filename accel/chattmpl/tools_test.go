package chattmpl

import (
	"reflect"
	"strings"
	"testing"
)

var weather = Tool{Name: "get_weather", Description: "The weather in a city.", Parameters: []byte(`{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}`)}

func TestRenderToolsHermes(t *testing.T) {
	msgs := []Message{
		{Role: RoleSystem, Content: "Be brief."},
		{Role: RoleUser, Content: "Weather in Oslo?"},
		{Role: RoleAssistant, ToolCalls: []ToolCall{{Name: "get_weather", Arguments: `{"city":"Oslo"}`}}},
		{Role: RoleTool, Content: `{"temp":3}`},
		{Role: RoleTool, Content: `{"wind":5}`},
	}
	got, err := RenderTools(ChatML, msgs, []Tool{weather}, true, "", "<|im_end|>")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"<|im_start|>system\nBe brief.\n\n# Tools\n",
		"<tools>\n" + `{"function":{"description":"The weather in a city.","name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}},"type":"function"}` + "\n</tools>",
		"<|im_start|>user\nWeather in Oslo?<|im_end|>\n",
		"<|im_start|>assistant\n<tool_call>\n" + `{"arguments":{"city":"Oslo"},"name":"get_weather"}` + "\n</tool_call><|im_end|>\n",
		"<|im_start|>user\n<tool_response>\n{\"temp\":3}\n</tool_response>\n<tool_response>\n{\"wind\":5}\n</tool_response><|im_end|>\n<|im_start|>assistant\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("prompt lacks %q:\n%s", want, got)
		}
	}
	if strings.Count(got, "<|im_start|>system") != 1 {
		t.Errorf("two system turns:\n%s", got)
	}
	// No tools and no tool turns: exactly Render.
	plain, _ := RenderTools(ChatML, sysUser, nil, true, "", "<|im_end|>")
	want, _ := Render(ChatML, sysUser, true, "", "<|im_end|>")
	if plain != want {
		t.Errorf("RenderTools without tools %q, Render %q", plain, want)
	}
	// A template without tools: the tools are left out, tool turns told
	// as text.
	got, err = RenderTools(Zephyr, msgs, []Tool{weather}, true, "<s>", "</s>")
	if err != nil || strings.Contains(got, "get_weather") || !strings.Contains(got, "<|user|>\nTool results:\n{\"temp\":3}\n{\"wind\":5}</s>\n<|assistant|>\n") {
		t.Errorf("Zephyr with tools: %v\n%s", err, got)
	}
}

func TestRenderToolsLlama31(t *testing.T) {
	msgs := []Message{
		{Role: RoleUser, Content: "Weather in Oslo?"},
		{Role: RoleAssistant, ToolCalls: []ToolCall{{Name: "get_weather", Arguments: `{"city":"Oslo"}`}}},
		{Role: RoleTool, Content: `{"temp":3}`},
	}
	got, err := RenderTools(Llama3, msgs, []Tool{weather}, true, "<|begin_of_text|>", "<|eot_id|>")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nEnvironment: ipython",
		`<|start_header_id|>assistant<|end_header_id|>` + "\n\n" + `{"name":"get_weather","parameters":{"city":"Oslo"}}<|eot_id|>`,
		"<|start_header_id|>ipython<|end_header_id|>\n\n{\"temp\":3}<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("prompt lacks %q:\n%s", want, got)
		}
	}
}

// feedAll feeds text in pieces of n bytes and flushes.
func feedAll(p *Parser, text string, n int) []Piece {
	var out []Piece
	for i := 0; i < len(text); i += n {
		out = append(out, p.Feed(text[i:min(i+n, len(text))])...)
	}
	return merge(append(out, p.Flush()...))
}

// merge joins adjacent pieces of the same text kind.
func merge(ps []Piece) []Piece {
	var out []Piece
	for _, p := range ps {
		if l := len(out) - 1; l >= 0 && p.Kind != PieceToolCall && out[l].Kind == p.Kind {
			out[l].Text += p.Text
			continue
		}
		out = append(out, p)
	}
	return out
}

func TestParser(t *testing.T) {
	for _, tc := range []struct {
		name  string
		f     Family
		think bool
		text  string
		want  []Piece
	}{
		{"hermes", ChatML, false, "Let me check.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\"}}\n</tool_call>",
			[]Piece{{Kind: PieceText, Text: "Let me check.\n"}, {Kind: PieceToolCall, Call: ToolCall{Name: "get_weather", Arguments: `{"city":"Oslo"}`}}}},
		{"hermes/two", ChatML, false, "<tool_call>{\"name\":\"a\",\"arguments\":{}}</tool_call>\n<tool_call>{\"name\":\"b\",\"arguments\":\"{\\\"x\\\":1}\"}</tool_call>",
			[]Piece{{Kind: PieceToolCall, Call: ToolCall{Name: "a", Arguments: `{}`}}, {Kind: PieceText, Text: "\n"}, {Kind: PieceToolCall, Call: ToolCall{Name: "b", Arguments: `{"x":1}`}}}},
		{"hermes/unclosed", ChatML, false, "<tool_call>{\"name\":\"a\",\"arguments\":{\"k\":2}}",
			[]Piece{{Kind: PieceToolCall, Call: ToolCall{Name: "a", Arguments: `{"k":2}`}}}},
		{"hermes/bad", ChatML, false, "<tool_call>not json</tool_call> ok",
			[]Piece{{Kind: PieceText, Text: "<tool_call>not json</tool_call> ok"}}},
		{"hermes/lonelt", ChatML, false, "a < b <tool", []Piece{{Kind: PieceText, Text: "a < b <tool"}}},
		{"think", ChatML, true, "<think>hmm, Oslo</think>It is cold.",
			[]Piece{{Kind: PieceReasoning, Text: "hmm, Oslo"}, {Kind: PieceText, Text: "It is cold."}}},
		{"think/unclosed", ChatML, true, "<think>still thinking", []Piece{{Kind: PieceReasoning, Text: "still thinking"}}},
		{"llama31", Llama3, false, " {\"name\": \"get_weather\", \"parameters\": {\"city\": \"Oslo\"}}",
			[]Piece{{Kind: PieceToolCall, Call: ToolCall{Name: "get_weather", Arguments: `{"city":"Oslo"}`}}}},
		{"llama31/tag", Llama3, false, "<|python_tag|>{\"name\": \"a\", \"parameters\": {}}",
			[]Piece{{Kind: PieceToolCall, Call: ToolCall{Name: "a", Arguments: `{}`}}}},
		{"llama31/text", Llama3, false, "{not a call} but text", []Piece{{Kind: PieceText, Text: "{not a call} but text"}}},
		{"llama31/plain", Llama3, false, "Hello {x}", []Piece{{Kind: PieceText, Text: "Hello {x}"}}},
	} {
		for _, n := range []int{1, 3, 1000} {
			got := feedAll(NewParser(tc.f, true, tc.think), tc.text, n)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("%s (pieces of %d): got %+v, want %+v", tc.name, n, got, tc.want)
			}
		}
	}
	// Without tools or thinking, text passes through unchanged.
	if got := feedAll(NewParser(Zephyr, true, false), "<tool_call>{}</tool_call>", 2); len(got) != 1 || got[0].Text != "<tool_call>{}</tool_call>" {
		t.Errorf("inactive parser: %+v", got)
	}
	text, calls := ParseToolCalls(ChatML, "x<tool_call>{\"name\":\"a\",\"arguments\":{}}</tool_call>")
	if text != "x" || len(calls) != 1 || calls[0].Name != "a" {
		t.Errorf("ParseToolCalls: %q %+v", text, calls)
	}
}

// FuzzParser: any reply, split anywhere, gives the same pieces as the
// whole reply fed at once, and text and reasoning pieces never lose or
// invent bytes when no call was parsed.
func FuzzParser(f *testing.F) {
	f.Add("Let me check.\n<tool_call>\n{\"name\": \"a\", \"arguments\": {}}\n</tool_call>", 3, true)
	f.Add("<think>x</think>y<tool_call>{", 1, false)
	f.Add("<|python_tag|>{\"name\":\"b\"}", 2, true)
	f.Fuzz(func(t *testing.T, text string, n int, llama bool) {
		if n <= 0 || n > 64 {
			n = 1
		}
		fam := ChatML
		if llama {
			fam = Llama3
		}
		whole := feedAll(NewParser(fam, true, true), text, len(text)+1)
		split := feedAll(NewParser(fam, true, true), text, n)
		if !reflect.DeepEqual(whole, split) {
			t.Fatalf("split %d: %+v, whole %+v", n, split, whole)
		}
		var b strings.Builder
		calls := false
		for _, p := range whole {
			if p.Kind == PieceToolCall {
				calls = true
			}
			b.WriteString(p.Text)
		}
		if !calls && !strings.Contains(text, "<think>") && b.String() != text {
			t.Fatalf("text %q became %q", text, b.String())
		}
	})
}
