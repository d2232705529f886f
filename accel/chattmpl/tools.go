package chattmpl

import (
	"bytes"
	"encoding/json"
	"strings"
)

// Tool is a function the model may call: its name, what it does, and the
// JSON schema of its arguments (nil: none).
type Tool struct {
	Name        string
	Description string
	Parameters  []byte
}

// ToolCall is a call the model made, or makes in a past assistant turn:
// the function's name and its arguments as JSON text.
type ToolCall struct {
	Name      string
	Arguments string
}

// SupportsTools reports whether RenderTools can put tools and tool turns
// into family f's prompt, and ParseToolCalls read calls out of its
// replies: ChatML, in the Hermes and Qwen 2.5 convention (tools listed in
// <tools></tools> in the system turn, each call a JSON object
// {"name", "arguments"} in <tool_call></tool_call>, results in
// <tool_response></tool_response> inside a user turn), and Llama3, in the
// Llama 3.1 JSON convention (calls as {"name", "parameters"} alone in the
// reply, results under the "ipython" role).
func SupportsTools(f Family) bool { return f == ChatML || f == Llama3 }

// toolJSON is one tool as the prompts list it: OpenAI's function object.
func toolJSON(t Tool) string {
	params := json.RawMessage(`{"type":"object","properties":{}}`)
	if len(bytes.TrimSpace(t.Parameters)) > 0 && json.Valid(t.Parameters) {
		params = t.Parameters
	}
	b, _ := json.Marshal(map[string]any{"type": "function", "function": map[string]any{
		"name": t.Name, "description": t.Description, "parameters": params,
	}})
	return string(b)
}

// callJSON is a past call as the model would have written it, with the
// arguments under key (kept as JSON when they are, else as a string).
func callJSON(c ToolCall, key string) string {
	var args any = c.Arguments
	if json.Valid([]byte(c.Arguments)) {
		args = json.RawMessage(c.Arguments)
	}
	b, _ := json.Marshal(map[string]any{"name": c.Name, key: args})
	return string(b)
}

// RenderTools is Render for a conversation that offers tools or holds
// tool turns (assistant messages with ToolCalls, tool messages). With no
// tools and no tool turns it is Render. For a family that SupportsTools
// reports false for, the tools are left out (its model cannot call them)
// and the tool turns are told as text: an assistant turn keeps its text,
// and the results of consecutive tool turns become one user turn.
func RenderTools(f Family, msgs []Message, tools []Tool, addGenerationPrompt bool, bos, eos string) (string, error) {
	toolTurns := false
	for _, m := range msgs {
		if len(m.ToolCalls) > 0 || m.Role == RoleTool {
			toolTurns = true
		}
	}
	if len(tools) == 0 && !toolTurns {
		return Render(f, msgs, addGenerationPrompt, bos, eos)
	}
	if !SupportsTools(f) {
		return Render(f, toolTurnsAsText(msgs), addGenerationPrompt, bos, eos)
	}
	switch f {
	case ChatML:
		return renderHermes(msgs, tools, addGenerationPrompt)
	default:
		return renderLlama31(msgs, tools, addGenerationPrompt, bos)
	}
}

// toolTurnsAsText tells tool turns as plain turns, for templates without
// tools.
func toolTurnsAsText(msgs []Message) []Message {
	var out []Message
	for _, m := range msgs {
		switch {
		case m.Role == RoleTool:
			if n := len(out); n > 0 && out[n-1].Role == RoleUser && strings.HasPrefix(out[n-1].Content, "Tool results:") {
				out[n-1].Content += "\n" + m.Content
				continue
			}
			out = append(out, Message{Role: RoleUser, Content: "Tool results:\n" + m.Content})
		default:
			out = append(out, Message{Role: m.Role, Content: m.Content})
		}
	}
	return out
}

func renderHermes(msgs []Message, tools []Tool, addGenerationPrompt bool) (string, error) {
	var b strings.Builder
	rest := msgs
	if len(tools) > 0 {
		b.WriteString("<|im_start|>system\n")
		if len(msgs) > 0 && msgs[0].Role == RoleSystem {
			b.WriteString(msgs[0].Content + "\n\n")
			rest = msgs[1:]
		}
		b.WriteString("# Tools\n\nYou can call the functions below to help with the request. Their signatures, one JSON object each, are inside <tools></tools>:\n<tools>")
		for _, t := range tools {
			b.WriteString("\n" + toolJSON(t))
		}
		b.WriteString("\n</tools>\n\nTo call a function, write a JSON object with its name and arguments inside <tool_call></tool_call> tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n")
	}
	for i := 0; i < len(rest); i++ {
		m := rest[i]
		switch {
		case m.Role == RoleTool:
			// Consecutive results share one user turn.
			b.WriteString("<|im_start|>user")
			for ; i < len(rest) && rest[i].Role == RoleTool; i++ {
				b.WriteString("\n<tool_response>\n" + rest[i].Content + "\n</tool_response>")
			}
			i--
			b.WriteString("<|im_end|>\n")
		case m.Role == RoleAssistant && len(m.ToolCalls) > 0:
			b.WriteString("<|im_start|>assistant")
			if m.Content != "" {
				b.WriteString("\n" + m.Content)
			}
			for _, c := range m.ToolCalls {
				b.WriteString("\n<tool_call>\n" + callJSON(c, "arguments") + "\n</tool_call>")
			}
			b.WriteString("<|im_end|>\n")
		default:
			b.WriteString("<|im_start|>" + m.Role + "\n" + m.Content + "<|im_end|>\n")
		}
	}
	if addGenerationPrompt {
		b.WriteString("<|im_start|>assistant\n")
	}
	return b.String(), nil
}

func renderLlama31(msgs []Message, tools []Tool, addGenerationPrompt bool, bos string) (string, error) {
	var b strings.Builder
	b.WriteString(bos)
	head := func(role, content string) {
		b.WriteString("<|start_header_id|>" + role + "<|end_header_id|>\n\n" + strings.TrimSpace(content) + "<|eot_id|>")
	}
	rest := msgs
	if len(tools) > 0 {
		sys := "Environment: ipython\n\n"
		if len(msgs) > 0 && msgs[0].Role == RoleSystem {
			sys += msgs[0].Content + "\n\n"
			rest = msgs[1:]
		}
		sys += "You can call these functions (JSON schemas below). To call one, reply with only a JSON object {\"name\": function name, \"parameters\": object of argument names and values}.\n"
		for _, t := range tools {
			sys += "\n" + toolJSON(t)
		}
		head(RoleSystem, sys)
	}
	for _, m := range rest {
		switch {
		case m.Role == RoleTool:
			head("ipython", m.Content)
		case m.Role == RoleAssistant && len(m.ToolCalls) > 0:
			calls := make([]string, len(m.ToolCalls))
			for i, c := range m.ToolCalls {
				calls[i] = callJSON(c, "parameters")
			}
			head(RoleAssistant, strings.Join(calls, "; "))
		default:
			head(m.Role, m.Content)
		}
	}
	if addGenerationPrompt {
		b.WriteString("<|start_header_id|>assistant<|end_header_id|>\n\n")
	}
	return b.String(), nil
}

// PieceKind says what a Piece of a reply is.
type PieceKind int

// The kinds of reply pieces.
const (
	PieceText      PieceKind = iota // the answer's text
	PieceReasoning                  // thinking, between <think> and </think>
	PieceToolCall                   // a whole tool call
)

// Piece is a piece of a generated reply, split by Parser.
type Piece struct {
	Kind PieceKind
	Text string   // PieceText, PieceReasoning
	Call ToolCall // PieceToolCall
}

// Parser splits a reply, streamed as text, into its answer, its
// reasoning and its tool calls, for family f: <think>...</think> is
// reasoning when think is set; with tools, ChatML's
// <tool_call>{"name","arguments"}</tool_call> blocks and a Llama 3.1 reply
// that is one JSON object {"name","parameters"} (or starts with
// <|python_tag|>) are tool calls. A block that does not parse as a call is
// passed on as text. Feed it the text as it comes and Flush it at the end.
type Parser struct {
	f     Family
	tools bool
	think bool

	buf     string // text not yet passed on
	in      string // the open tag's closing tag: "</think>", "</tool_call>", or "" outside
	started bool   // something other than space was seen (Llama 3.1 detection)
	whole   bool   // Llama 3.1: the reply is held whole until Flush
}

// NewParser returns a parser for family f's replies.
func NewParser(f Family, tools, think bool) *Parser {
	return &Parser{f: f, tools: tools && SupportsTools(f), think: think}
}

// Active reports whether the parser can change anything: a parser with
// neither tools nor thinking passes text through unchanged.
func (p *Parser) Active() bool { return p.tools || p.think }

// opening tags the parser looks for outside a block.
func (p *Parser) openings() []string {
	var tags []string
	if p.think {
		tags = append(tags, "<think>")
	}
	if p.tools && p.f == ChatML {
		tags = append(tags, "<tool_call>")
	}
	return tags
}

// Feed adds generated text and returns the pieces that are complete.
func (p *Parser) Feed(text string) []Piece {
	if !p.Active() {
		if text == "" {
			return nil
		}
		return []Piece{{Kind: PieceText, Text: text}}
	}
	p.buf += text
	var out []Piece
	if p.tools && p.f == Llama3 && !p.started && p.in == "" {
		// Wait until the reply's first characters tell a call from text.
		const tag = "<|python_tag|>"
		trimmed := strings.TrimLeft(p.buf, " \t\r\n")
		switch {
		case trimmed == "":
			return nil
		case strings.HasPrefix(trimmed, "{") || strings.HasPrefix(trimmed, tag):
			p.started, p.whole = true, true
		case strings.HasPrefix(tag, trimmed):
			return nil
		default:
			p.started = true
		}
	}
	if p.whole {
		return nil
	}
	for {
		if p.in != "" {
			i := strings.Index(p.buf, p.in)
			if i < 0 {
				if p.in == "</think>" {
					// Reasoning streams; hold back what may start the tag.
					keep := partialSuffix(p.buf, []string{p.in})
					if s := p.buf[:len(p.buf)-keep]; s != "" {
						out = append(out, Piece{Kind: PieceReasoning, Text: s})
					}
					p.buf = p.buf[len(p.buf)-keep:]
				}
				return out
			}
			body := p.buf[:i]
			p.buf = p.buf[i+len(p.in):]
			if p.in == "</think>" {
				if body != "" {
					out = append(out, Piece{Kind: PieceReasoning, Text: body})
				}
			} else {
				out = append(out, p.callPieces(body, "<tool_call>"+body+"</tool_call>")...)
			}
			p.in = ""
			continue
		}
		tags := p.openings()
		at, tag := -1, ""
		for _, t := range tags {
			if i := strings.Index(p.buf, t); i >= 0 && (at < 0 || i < at) {
				at, tag = i, t
			}
		}
		if at < 0 {
			keep := partialSuffix(p.buf, tags)
			if s := p.buf[:len(p.buf)-keep]; s != "" {
				out = append(out, Piece{Kind: PieceText, Text: s})
			}
			p.buf = p.buf[len(p.buf)-keep:]
			return out
		}
		if at > 0 {
			out = append(out, Piece{Kind: PieceText, Text: p.buf[:at]})
		}
		p.buf = p.buf[at+len(tag):]
		p.in = "</" + tag[1:]
	}
}

// Flush returns what is left at the end of the reply: an unclosed
// <think> block is reasoning, an unclosed <tool_call> block is parsed if
// it can be (a model may stop on its end-of-turn marker right after the
// JSON), else passed on as text.
func (p *Parser) Flush() []Piece {
	buf, in := p.buf, p.in
	p.buf, p.in = "", ""
	switch {
	case p.whole:
		p.whole = false
		body := strings.TrimSpace(buf)
		body = strings.TrimSpace(strings.TrimPrefix(body, "<|python_tag|>"))
		var out []Piece
		for _, part := range strings.Split(body, ";") {
			c, ok := parseCall(part)
			if !ok {
				return []Piece{{Kind: PieceText, Text: buf}}
			}
			out = append(out, Piece{Kind: PieceToolCall, Call: c})
		}
		return out
	case in == "</think>":
		if buf == "" {
			return nil
		}
		return []Piece{{Kind: PieceReasoning, Text: buf}}
	case in == "</tool_call>":
		return p.callPieces(buf, "<tool_call>"+buf)
	case buf != "":
		return []Piece{{Kind: PieceText, Text: buf}}
	}
	return nil
}

// callPieces is a tool call parsed from body, or raw as text.
func (p *Parser) callPieces(body, raw string) []Piece {
	if c, ok := parseCall(body); ok {
		return []Piece{{Kind: PieceToolCall, Call: c}}
	}
	return []Piece{{Kind: PieceText, Text: raw}}
}

// ParseToolCalls splits a whole reply of family f into its text and its
// tool calls (see Parser).
func ParseToolCalls(f Family, reply string) (text string, calls []ToolCall) {
	p := NewParser(f, true, false)
	var b strings.Builder
	for _, pc := range append(p.Feed(reply), p.Flush()...) {
		switch pc.Kind {
		case PieceToolCall:
			calls = append(calls, pc.Call)
		default:
			b.WriteString(pc.Text)
		}
	}
	return b.String(), calls
}

// parseCall reads one call: a JSON object with a string "name" and an
// object "arguments" (or "parameters"), or arguments given as JSON text.
func parseCall(s string) (ToolCall, bool) {
	var v struct {
		Name       string          `json:"name"`
		Arguments  json.RawMessage `json:"arguments"`
		Parameters json.RawMessage `json:"parameters"`
	}
	if err := json.Unmarshal([]byte(strings.TrimSpace(s)), &v); err != nil || v.Name == "" {
		return ToolCall{}, false
	}
	args := v.Arguments
	if len(args) == 0 {
		args = v.Parameters
	}
	var text string
	switch {
	case len(args) == 0 || string(args) == "null":
		text = "{}"
	case json.Unmarshal(args, &text) == nil:
		// arguments given as JSON text, as OpenAI writes them
	default:
		var compact bytes.Buffer
		if json.Compact(&compact, args) != nil {
			return ToolCall{}, false
		}
		text = compact.String()
	}
	return ToolCall{Name: v.Name, Arguments: text}, true
}

// partialSuffix is the length of the longest suffix of s that is a proper
// prefix of one of tags (text to hold back: a tag may be starting).
func partialSuffix(s string, tags []string) int {
	best := 0
	for _, t := range tags {
		for n := min(len(t)-1, len(s)); n > best; n-- {
			if strings.HasSuffix(s, t[:n]) {
				best = n
				break
			}
		}
	}
	return best
}
