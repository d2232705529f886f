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
// one turn; messages without text (only tool or file parts) are left out.
func ModelMessages(system string, msgs []Message) []accel.Message {
	out := make([]accel.Message, 0, len(msgs)+1)
	if system != "" {
		out = append(out, accel.Message{Role: RoleSystem, Content: system})
	}
	for _, m := range msgs {
		if text := m.Text(); text != "" {
			out = append(out, accel.Message{Role: m.Role, Content: text})
		}
	}
	return out
}

// jsonCodec encodes rows, nested bodies and HTTP answers; its limits are
// those of one stored row.
var jsonCodec = func() codecs.Codec {
	c, err := codecs.NewJSON(codecs.Limits{MaxSize: RowMaxBytes, MaxDepth: 64})
	if err != nil {
		panic(err)
	}
	return c
}()

// httpCodec encodes the get-messages answer, the whole history.
var httpCodec = func() codecs.Codec {
	c, err := codecs.NewJSON(codecs.Limits{MaxSize: 1 << 30, MaxDepth: 64})
	if err != nil {
		panic(err)
	}
	return c
}()

// RowMaxBytes bounds the JSON of one stored message or chunk, as the SDK's
// row guard does (1,800,000 bytes of UTF-8, below SQLite's 2 MB value
// limit): a larger message is compacted (guardRow), a larger chunk is sent
// but not stored.
const RowMaxBytes = 1_800_000
