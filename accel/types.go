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
// "assistant" or "tool".
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

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
	FinishStop   = "stop"   // an end-of-generation token or a stop string
	FinishLength = "length" // max tokens or the context length was reached
)

// Usage counts the tokens of one request.
type Usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

// Chunk is one piece of a streamed answer. Text chunks have Text set; the
// last chunk has FinishReason and Usage set (and maybe Text too).
type Chunk struct {
	Text         string
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
	FinishReason string
	Usage        Usage
}

// Collect reads s to the end, closes it and returns the whole answer.
func Collect(s *Stream) (Result, error) {
	defer s.Close()
	var b strings.Builder
	for {
		c, err := s.Recv()
		if err != nil {
			return Result{}, err
		}
		b.WriteString(c.Text)
		if c.FinishReason != "" {
			r := Result{Text: b.String(), FinishReason: c.FinishReason}
			if c.Usage != nil {
				r.Usage = *c.Usage
			}
			return r, nil
		}
	}
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
