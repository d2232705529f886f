package accel

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Message is one turn of a chat conversation. Role is "system", "user",
// "assistant" or "tool". An assistant message may carry ToolCalls (its
// Content may then be empty); a tool message answers one call, named by
// ToolCallID, with the result as Content.
type Message struct {
	Role       string     `json:"role"`
	Content    string     `json:"content"`
	ToolCalls  []ToolCall `json:"tool_calls,omitempty"`
	ToolCallID string     `json:"tool_call_id,omitempty"`
}

// Tool is a function the model may call, as OpenAI's API declares one.
type Tool struct {
	// Name is the function's name: 1 to 64 of a-z A-Z 0-9 _ -.
	Name string
	// Description tells the model what the function does; may be empty.
	Description string
	// Parameters is the JSON schema of the arguments (an object schema);
	// nil means no arguments.
	Parameters []byte
}

// ToolCall is one call the model made: an id (unique in the reply), the
// function's name and its arguments as JSON text (as the model wrote
// them: not necessarily valid JSON).
type ToolCall struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
}

// ToolCallDelta is a piece of a streamed tool call. Index identifies the
// call within the reply; the first delta of a call carries its ID and
// Name, later ones more Arguments text.
type ToolCallDelta struct {
	Index     int
	ID        string
	Name      string
	Arguments string
}

// Tool choices (ChatRequest.ToolChoice); a tool's name forces that tool.
const (
	ToolChoiceAuto     = "auto"     // the model decides (the default)
	ToolChoiceNone     = "none"     // no tool call
	ToolChoiceRequired = "required" // at least one tool call
)

// Sampling holds the generation parameters shared by chat and completion
// requests. A nil pointer field means "the backend's default"; the local
// engine's defaults are OpenAI's (temperature 1, top-p 1, everything else
// off) so that a request behaves the same on every backend.
type Sampling struct {
	// MaxTokens bounds the generated tokens; 0 means up to the context
	// length.
	MaxTokens int
	// Temperature: 0 is greedy decoding. OpenAI's range is [0, 2].
	Temperature *float32
	// TopP is nucleus sampling, in (0, 1].
	TopP *float32
	// TopK keeps the K most likely tokens; 0 disables it (not OpenAI; sent
	// to remote servers as top_k, which llama.cpp, vLLM and Ollama accept).
	TopK int
	// MinP drops tokens below MinP × the top probability; 0 disables it.
	MinP float32
	// RepetitionPenalty divides positive logits (multiplies negative ones)
	// of tokens already present; 1 or 0 disables it.
	RepetitionPenalty float32
	// Seed makes sampling reproducible; nil picks one at random.
	Seed *uint64
	// Stop lists strings that end generation; the stop string is not
	// returned. At most 4 (OpenAI's limit).
	Stop []string
}

// ChatRequest asks a model to continue a conversation.
type ChatRequest struct {
	// Model is the model id (for the local engine, the GGUF file name
	// without .gguf).
	Model    string
	Messages []Message
	// Tools are the functions the model may call; none means a plain chat.
	Tools []Tool
	// ToolChoice is "" or ToolChoiceAuto, ToolChoiceNone,
	// ToolChoiceRequired, or the name of one of Tools to force.
	ToolChoice string
	Sampling
}

// CompletionRequest asks a model to continue a raw text prompt.
type CompletionRequest struct {
	Model  string
	Prompt string
	Sampling
}

// Finish reasons, as OpenAI names them.
const (
	FinishStop      = "stop"       // an end-of-generation token or a stop string
	FinishLength    = "length"     // max tokens or the context length was reached
	FinishToolCalls = "tool_calls" // the reply ends with tool calls
)

// Usage counts the tokens of one request.
type Usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

// Chunk is one piece of a streamed answer. Text chunks have Text set;
// Reasoning is the model's thinking (a reasoning model's <think> text, or
// a remote server's reasoning_content), apart from the answer; ToolCalls
// are pieces of tool calls. The last chunk has FinishReason and Usage set
// (and maybe Text or ToolCalls too).
type Chunk struct {
	Text         string
	Reasoning    string
	ToolCalls    []ToolCallDelta
	FinishReason string
	Usage        *Usage
}

// ModelInfo describes one model a backend serves.
type ModelInfo struct {
	ID      string
	OwnedBy string
	// Created is the Unix time the model was loaded or reported.
	Created int64
	// ContextLength is the longest prompt plus completion, 0 if unknown.
	ContextLength int
}

// Event is what a backend sends into a Stream: a chunk, or an error that
// ends the stream.
type Event struct {
	Chunk Chunk
	Err   error
}

// Stream is a streamed answer, the same type for every backend. Read it
// with Recv until io.EOF (or an error); Close it when done, early or not:
// closing cancels the generation.
type Stream struct {
	events <-chan Event
	cancel func()
	done   bool
	err    error
}

// NewStream wraps the channel a backend sends events on. The backend
// closes events after the final chunk (the one with FinishReason) or an
// error event; cancel stops the generation and is called by Close.
func NewStream(events <-chan Event, cancel func()) *Stream {
	return &Stream{events: events, cancel: cancel}
}

// Recv returns the next chunk, io.EOF after the final one, or the error
// that ended the stream.
func (s *Stream) Recv() (Chunk, error) {
	if s.done {
		return Chunk{}, s.err
	}
	ev, ok := <-s.events
	switch {
	case !ok:
		s.done, s.err = true, io.ErrUnexpectedEOF
		return Chunk{}, s.err
	case ev.Err != nil:
		s.done, s.err = true, ev.Err
		return Chunk{}, ev.Err
	}
	if ev.Chunk.FinishReason != "" {
		s.done, s.err = true, io.EOF
	}
	return ev.Chunk, nil
}

// Close cancels the generation if it is still running. It is idempotent.
func (s *Stream) Close() {
	if s.cancel != nil {
		s.cancel()
	}
	if !s.done {
		s.done, s.err = true, ErrClosed
	}
}

// Result is a whole answer, collected from a Stream.
type Result struct {
	Text         string
	Reasoning    string
	ToolCalls    []ToolCall
	FinishReason string
	Usage        Usage
}

// Collect reads s to the end, closes it and returns the whole answer.
func Collect(s *Stream) (Result, error) {
	defer s.Close()
	var b, rb strings.Builder
	var calls ToolCalls
	for {
		c, err := s.Recv()
		if err != nil {
			return Result{}, err
		}
		b.WriteString(c.Text)
		rb.WriteString(c.Reasoning)
		calls.Add(c.ToolCalls)
		if c.FinishReason != "" {
			r := Result{Text: b.String(), Reasoning: rb.String(), ToolCalls: calls.Calls(), FinishReason: c.FinishReason}
			if c.Usage != nil {
				r.Usage = *c.Usage
			}
			return r, nil
		}
	}
}

// ToolCalls assembles streamed tool-call deltas into whole calls, in
// the order their indices first appeared. The zero value is empty.
type ToolCalls struct {
	calls []ToolCall
	index map[int]int // delta index → position in calls
}

// Add applies deltas: a new index starts a call, later deltas of the same
// index append to its arguments (and set its id or name if they were
// empty).
func (t *ToolCalls) Add(deltas []ToolCallDelta) {
	for _, d := range deltas {
		if t.index == nil {
			t.index = map[int]int{}
		}
		i, ok := t.index[d.Index]
		if !ok {
			i = len(t.calls)
			t.index[d.Index] = i
			t.calls = append(t.calls, ToolCall{})
		}
		c := &t.calls[i]
		if c.ID == "" {
			c.ID = d.ID
		}
		if c.Name == "" {
			c.Name = d.Name
		}
		c.Arguments += d.Arguments
	}
}

// Calls returns the calls assembled so far (nil when none).
func (t *ToolCalls) Calls() []ToolCall {
	if len(t.calls) == 0 {
		return nil
	}
	return append([]ToolCall(nil), t.calls...)
}

// Error is a failed request in OpenAI's terms: an HTTP status and the
// fields of an OpenAI error object. Backends return it (wrapped or not);
// the HTTP API turns it into {"error":{"message","type","param","code"}}.
type Error struct {
	Status  int    // HTTP status, e.g. 400
	Type    string // "invalid_request_error", "server_error", ...
	Code    string // "model_not_found", "context_length_exceeded", ... or ""
	Param   string // the offending request field, or ""
	Message string
}

func (e *Error) Error() string {
	if e.Param != "" {
		return fmt.Sprintf("%s (param %s)", e.Message, e.Param)
	}
	return e.Message
}

// Is makes errors.Is match on the code (and the type when neither has a
// code), so sentinel errors below match any Error with the same code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	if !ok {
		return false
	}
	if t.Code != "" || e.Code != "" {
		return t.Code == e.Code
	}
	return t.Type == e.Type
}

// Sentinel errors, for errors.Is. Backends return *Error values with the
// same Code and a specific message.
var (
	ErrModelNotFound  = &Error{Status: http.StatusNotFound, Type: "invalid_request_error", Code: "model_not_found", Message: "model not found"}
	ErrContextLength  = &Error{Status: http.StatusBadRequest, Type: "invalid_request_error", Code: "context_length_exceeded", Message: "prompt longer than the context"}
	ErrInvalidRequest = &Error{Status: http.StatusBadRequest, Type: "invalid_request_error", Code: "invalid_value", Message: "invalid request"}
	ErrOverloaded     = &Error{Status: http.StatusServiceUnavailable, Type: "server_error", Code: "overloaded", Message: "the engine's queue is full"}
	ErrClosed         = &Error{Status: http.StatusServiceUnavailable, Type: "server_error", Code: "closed", Message: "the engine or stream is closed"}
	ErrSlowConsumer   = &Error{Status: http.StatusServiceUnavailable, Type: "server_error", Code: "slow_consumer", Message: "the client did not read the stream fast enough"}
)

// Invalid returns an invalid_request_error for param.
func Invalid(param, format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Type: "invalid_request_error", Code: "invalid_value", Param: param, Message: fmt.Sprintf(format, args...)}
}

// AsError returns err as an *Error: itself if it is (or wraps) one, a
// 499-style cancellation for context errors, else a 500 server_error.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return &Error{Status: 499, Type: "server_error", Code: "cancelled", Message: err.Error()}
	}
	return &Error{Status: http.StatusInternalServerError, Type: "server_error", Message: err.Error()}
}
