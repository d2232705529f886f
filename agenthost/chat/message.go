package chat

import (
	"errors"
	"fmt"
	"strings"

	"github.com/outpost-iot/outpost/accel"
	"github.com/outpost-iot/outpost/codecs"
)

// Roles of a UI message.
const (
	RoleUser      = "user"
	RoleAssistant = "assistant"
	RoleSystem    = "system"
)

// MaxIDBytes bounds a message id (and a request id).
const MaxIDBytes = 256

// ErrBadMessage wraps every reason a UI message is refused.
var ErrBadMessage = errors.New("bad UI message")

// Message is an AI SDK UI message: an id, a role and parts. Parts are kept
// as the values they arrived as (maps of the codecs value model), so part
// types Outpost does not know (tool calls, files, data-* parts...) survive
// storage and sync unchanged; Metadata likewise.
type Message struct {
	ID       string
	Role     string
	Parts    []map[string]any
	Metadata any // nil when absent
}

// Value is the message as a frame or a row carries it:
// {"id", "role", "parts", "metadata"?}.
func (m Message) Value() map[string]any {
	parts := make([]any, len(m.Parts))
	for i, p := range m.Parts {
		parts[i] = p
	}
	v := map[string]any{"id": m.ID, "role": m.Role, "parts": parts}
	if m.Metadata != nil {
		v["metadata"] = m.Metadata
	}
	return v
}

// Text is the concatenation of the message's text parts.
func (m Message) Text() string {
	var b strings.Builder
	for _, p := range m.Parts {
		if p["type"] == "text" {
			s, _ := p["text"].(string)
			b.WriteString(s)
		}
	}
	return b.String()
}

// ParseMessage checks a decoded UI message, as the SDK checks stored rows:
// id a non-empty string (at most MaxIDBytes), role user, assistant or
// system, parts an array of maps that each have a string "type". Other
// fields of the message are dropped; parts are kept verbatim. A legacy
// (AI SDK v4) message with a text "content" and no parts gets one text
// part.
func ParseMessage(v any) (Message, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return Message{}, fmt.Errorf("%w: not an object", ErrBadMessage)
	}
	id, _ := m["id"].(string)
	if id == "" || len(id) > MaxIDBytes {
		return Message{}, fmt.Errorf("%w: id must be a string of 1 to %d bytes", ErrBadMessage, MaxIDBytes)
	}
	role, _ := m["role"].(string)
	switch role {
	case RoleUser, RoleAssistant, RoleSystem:
	default:
		return Message{}, fmt.Errorf("%w: message %q: role %q is not user, assistant or system", ErrBadMessage, id, role)
	}
	raw, ok := m["parts"].([]any)
	if content, isText := m["content"].(string); !ok && m["parts"] == nil && isText {
		// An AI SDK v4 message ({id, role, content}): its content becomes
		// one text part, as the SDK's autoTransformMessages does.
		raw, ok = []any{map[string]any{"type": "text", "text": content}}, true
	}
	if !ok {
		return Message{}, fmt.Errorf("%w: message %q: parts is not an array", ErrBadMessage, id)
	}
	parts := make([]map[string]any, 0, len(raw))
	for i, p := range raw {
		pm, ok := p.(map[string]any)
		if !ok {
			return Message{}, fmt.Errorf("%w: message %q: part %d is not an object", ErrBadMessage, id, i)
		}
		if t, _ := pm["type"].(string); t == "" {
			return Message{}, fmt.Errorf("%w: message %q: part %d has no type", ErrBadMessage, id, i)
		}
		parts = append(parts, pm)
	}
	return Message{ID: id, Role: role, Parts: parts, Metadata: m["metadata"]}, nil
}

// ParseMessages checks an array of UI messages; one bad message refuses
// them all.
func ParseMessages(v any) ([]Message, error) {
	arr, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("%w: messages is not an array", ErrBadMessage)
	}
	out := make([]Message, 0, len(arr))
	for _, x := range arr {
		m, err := ParseMessage(x)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// messageValues is msgs as the array a frame carries.
func messageValues(msgs []Message) []any {
	out := make([]any, len(msgs))
	for i, m := range msgs {
		out[i] = m.Value()
	}
	return out
}

// ModelMessages converts UI messages to the model's conversation: the
// system prompt first (when not empty), then each message's text parts as
// one turn. An assistant message's tool parts become, step by step (its
// step-start parts divide the steps), an assistant turn with the step's
// text and tool calls followed by one tool turn per call: the output as
// JSON text, the error text, or a denial. Calls that have no result yet
// (waiting for a client or an approval) are left out, and so are messages
// with neither text nor settled tool calls (files, data parts...).
func ModelMessages(system string, msgs []Message) []accel.Message {
	out := make([]accel.Message, 0, len(msgs)+1)
	if system != "" {
		out = append(out, accel.Message{Role: RoleSystem, Content: system})
	}
	for _, m := range msgs {
		if m.Role != RoleAssistant {
			if text := m.Text(); text != "" {
				out = append(out, accel.Message{Role: m.Role, Content: text})
			}
			continue
		}
		out = appendAssistant(out, m.Parts)
	}
	return out
}

// appendAssistant appends an assistant message's steps to out.
func appendAssistant(out []accel.Message, parts []map[string]any) []accel.Message {
	var text strings.Builder
	var calls []accel.ToolCall
	var results []accel.Message
	flush := func() {
		if text.Len() > 0 || len(calls) > 0 {
			out = append(out, accel.Message{Role: RoleAssistant, Content: text.String(), ToolCalls: calls})
			out = append(out, results...)
		}
		text.Reset()
		calls, results = nil, nil
	}
	for _, p := range parts {
		switch {
		case p["type"] == "step-start":
			flush()
		case p["type"] == "text":
			s, _ := p["text"].(string)
			text.WriteString(s)
		case isToolPart(p) && settled(p["state"]):
			id, _ := p["toolCallId"].(string)
			if id == "" {
				continue
			}
			args, err := jsonCodec.Marshal(orEmptyObject(p["input"]))
			if err != nil {
				args = []byte("{}")
			}
			calls = append(calls, accel.ToolCall{ID: id, Name: toolName(p), Arguments: string(args)})
			results = append(results, accel.Message{Role: "tool", ToolCallID: id, Content: toolResultText(p)})
		}
	}
	flush()
	return out
}

// toolName is a tool part's tool: its type after "tool-", or its
// toolName (dynamic tools).
func toolName(p map[string]any) string {
	if n, _ := p["toolName"].(string); n != "" {
		return n
	}
	t, _ := p["type"].(string)
	return strings.TrimPrefix(t, "tool-")
}

// toolResultText is what the model reads of a settled tool part.
func toolResultText(p map[string]any) string {
	switch p["state"] {
	case "output-error":
		e, _ := p["errorText"].(string)
		return "Error: " + e
	case "output-denied":
		return "The user denied this tool call."
	}
	if s, ok := p["output"].(string); ok {
		return s
	}
	b, err := wideCodec.Marshal(p["output"])
	if err != nil {
		return ""
	}
	return string(b)
}

func orEmptyObject(v any) any {
	if v == nil {
		return map[string]any{}
	}
	return v
}

// jsonCodec encodes and decodes what one row holds (a message, a chunk);
// its limit is that of one stored row.
var jsonCodec = newJSONCodec(RowMaxBytes)

// wideCodec encodes and decodes what holds the whole conversation or a
// value a message is compacted from: a request's body (the frame it came
// in already bounds it) and a queued one, the get-messages answer, tool
// outputs before the row guard.
var wideCodec = newJSONCodec(1 << 30)

func newJSONCodec(maxSize int) codecs.Codec {
	c, err := codecs.NewJSON(codecs.Limits{MaxSize: maxSize, MaxDepth: 64})
	if err != nil {
		panic(err)
	}
	return c
}

// RowMaxBytes bounds the JSON of one stored message or chunk, as the SDK's
// row guard does (1,800,000 bytes of UTF-8, below SQLite's 2 MB value
// limit): a larger message is compacted (guardRow), a larger chunk is sent
// but not stored.
const RowMaxBytes = 1_800_000
