package chat

import (
	"errors"
	"fmt"
	"math"

	"github.com/outpost-iot/outpost/wire"
)

// Chat frame types (../shared/notes/agents-sdk.md §10.1).
const (
	TypeUseChatRequest  = "cf_agent_use_chat_request"
	TypeUseChatResponse = "cf_agent_use_chat_response"
	TypeChatMessages    = "cf_agent_chat_messages"
	TypeChatClear       = "cf_agent_chat_clear"
	TypeRequestCancel   = "cf_agent_chat_request_cancel"
)

// ErrBadFrame wraps every reason a chat frame is refused; it also wraps
// wire.ErrMalformed, so an MQTT 5 publish of one is refused with 0x99.
var ErrBadFrame = fmt.Errorf("bad chat frame: %w", wire.ErrMalformed)

// ErrQueueFull refuses a request that arrives while MaxQueuedTurns
// requests already wait for the reply that streams; its sender gets an
// error response. It wraps wire.ErrBusy, so an MQTT 5 publish of it is
// refused with 0x97.
var ErrQueueFull = fmt.Errorf("chat: too many requests waiting: %w", wire.ErrBusy)

// Request is a decoded cf_agent_use_chat_request.
type Request struct {
	// ID is the request id the response frames carry.
	ID string
	// Messages is the client's whole conversation (the body's messages).
	Messages []Message
	// MaxTokens is the body's maxTokens (or max_tokens), 0 when absent.
	MaxTokens int
	// Temperature is the body's temperature (0 to 2), nil when absent.
	Temperature *float32
	// Trigger is "submit-message" or "regenerate-message" (the body's
	// trigger, sent by ai-chat since 0.1.6); "" when absent.
	Trigger string
	// ClientTools are the tools the client runs (the body's clientTools).
	ClientTools []ClientTool
	// Body is the whole request body, custom fields included.
	Body map[string]any
}

// ParseRequest decodes a cf_agent_use_chat_request frame: {"type", "id",
// "init": {"method": "POST", "body": BODY}}, where BODY is JSON text (as
// the SDK's client sends it) or, on CBOR connections, the map itself.
func ParseRequest(frame map[string]any) (Request, error) {
	id, _ := frame["id"].(string)
	if id == "" || len(id) > MaxIDBytes {
		return Request{}, fmt.Errorf("%w: id must be a string of 1 to %d bytes", ErrBadFrame, MaxIDBytes)
	}
	init, ok := frame["init"].(map[string]any)
	if !ok {
		return Request{ID: id}, fmt.Errorf("%w: no init object", ErrBadFrame)
	}
	if m, _ := init["method"].(string); m != "POST" {
		return Request{ID: id}, fmt.Errorf("%w: init.method %q is not POST", ErrBadFrame, m)
	}
	var body any
	switch b := init["body"].(type) {
	case string:
		v, err := wideCodec.Unmarshal([]byte(b))
		if err != nil {
			return Request{ID: id}, fmt.Errorf("%w: init.body: %w", ErrBadFrame, err)
		}
		body = v
	default:
		body = b
	}
	bm, ok := body.(map[string]any)
	if !ok {
		return Request{ID: id}, fmt.Errorf("%w: init.body is not an object", ErrBadFrame)
	}
	msgs, err := ParseMessages(bm["messages"])
	if err != nil {
		return Request{ID: id}, fmt.Errorf("%w: %w", ErrBadFrame, err)
	}
	r := Request{ID: id, Messages: msgs, Body: bm}
	r.Trigger, _ = bm["trigger"].(string)
	r.ClientTools = parseClientTools(bm["clientTools"])
	applyBody(&r, bm)
	return r, nil
}

// applyBody reads the custom body fields Outpost knows into r: maxTokens
// (or max_tokens) and temperature.
func applyBody(r *Request, bm map[string]any) {
	for _, k := range []string{"maxTokens", "max_tokens"} {
		if n, ok := intOf(bm[k]); ok && n > 0 {
			r.MaxTokens = n
		}
	}
	switch x := bm["temperature"].(type) {
	case float64:
		if x >= 0 && x <= 2 {
			f := float32(x)
			r.Temperature = &f
		}
	case int64:
		if x >= 0 && x <= 2 {
			f := float32(x)
			r.Temperature = &f
		}
	}
}

// intOf reads a positive whole number of the value model.
func intOf(v any) (int, bool) {
	switch n := v.(type) {
	case int64:
		return int(min(n, math.MaxInt32)), true
	case uint64:
		return int(min(n, math.MaxInt32)), true
	case float64:
		if n == math.Trunc(n) && n > 0 {
			return int(min(n, math.MaxInt32)), true
		}
	}
	return 0, false
}

// chunkFrame is a stream chunk: body is the UI-message-stream chunk, nested
// (JSON text on JSON connections, the map on CBOR ones).
func chunkFrame(requestID string, chunk map[string]any) wire.Frame {
	return wire.Frame{Kind: wire.Chat, Value: map[string]any{
		"type": TypeUseChatResponse, "id": requestID, "body": wire.Nested{Value: chunk}, "done": false,
	}}
}

// doneFrame is the terminal frame of a reply.
func doneFrame(requestID string) wire.Frame {
	return wire.Frame{Kind: wire.Chat, Value: map[string]any{
		"type": TypeUseChatResponse, "id": requestID, "body": "", "done": true,
	}}
}

// Outcomes of a reply that did not complete, on its terminal frame
// (outcome, since ai-chat 0.12; absent means completed, or error when the
// frame carries error). useAgentChat hands it to onTurnEnd.
const (
	outcomeAborted = "aborted" // cancelled, cleared, or dropped while waiting
	outcomeError   = "error"   // cut off by a gateway restart
)

// endedFrame is the terminal frame of a reply that ended with outcome.
func endedFrame(requestID, outcome string) wire.Frame {
	f := doneFrame(requestID)
	f.Value.(map[string]any)["outcome"] = outcome
	return f
}

// errorFrame ends a reply with an error: the message in body, error and
// done true, as the SDK sends it when the stream throws.
func errorFrame(requestID, msg string) wire.Frame {
	return wire.Frame{Kind: wire.Chat, Value: map[string]any{
		"type": TypeUseChatResponse, "id": requestID, "body": msg, "done": true, "error": true,
	}}
}

// messagesFrame is cf_agent_chat_messages, the whole synchronised list.
func messagesFrame(msgs []Message) wire.Frame {
	return wire.Frame{Kind: wire.Chat, Value: map[string]any{"type": TypeChatMessages, "messages": messageValues(msgs)}}
}

// clearFrame is cf_agent_chat_clear.
func clearFrame() wire.Frame {
	return wire.Frame{Kind: wire.Chat, Value: map[string]any{"type": TypeChatClear}}
}

// errNotChat marks a frame whose type is not a chat frame.
var errNotChat = errors.New("not a chat frame")
