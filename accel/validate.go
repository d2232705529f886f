package accel

import (
	"errors"
	"fmt"
	"math"
)

// MaxStop is the most stop strings a request may carry (OpenAI's limit).
const MaxStop = 4

func finite(f float32) bool { return !math.IsNaN(float64(f)) && !math.IsInf(float64(f), 0) }

// Validate checks the ranges of the sampling fields and returns an
// invalid_request_error naming the first bad field, or nil.
func (s Sampling) Validate() error {
	switch {
	case s.MaxTokens < 0:
		return Invalid("max_tokens", "max_tokens must be >= 0, got %d", s.MaxTokens)
	case s.Temperature != nil && (!finite(*s.Temperature) || *s.Temperature < 0 || *s.Temperature > 2):
		return Invalid("temperature", "temperature must be in [0, 2], got %v", *s.Temperature)
	case s.TopP != nil && (!finite(*s.TopP) || *s.TopP <= 0 || *s.TopP > 1):
		return Invalid("top_p", "top_p must be in (0, 1], got %v", *s.TopP)
	case s.TopK < 0:
		return Invalid("top_k", "top_k must be >= 0, got %d", s.TopK)
	case !finite(s.MinP) || s.MinP < 0 || s.MinP >= 1:
		return Invalid("min_p", "min_p must be in [0, 1), got %v", s.MinP)
	case !finite(s.RepetitionPenalty) || s.RepetitionPenalty < 0:
		return Invalid("repetition_penalty", "repetition_penalty must be >= 0 (0 and 1 turn it off), got %v", s.RepetitionPenalty)
	case len(s.Stop) > MaxStop:
		return Invalid("stop", "at most %d stop strings, got %d", MaxStop, len(s.Stop))
	}
	for _, st := range s.Stop {
		if st == "" {
			return Invalid("stop", "stop strings must be non-empty")
		}
	}
	return nil
}

// MaxTools bounds the tools of one request (OpenAI's limit).
const MaxTools = 128

// ValidToolName reports whether name is 1 to 64 of a-z A-Z 0-9 _ -, as
// OpenAI requires of function names.
func ValidToolName(name string) bool {
	if name == "" || len(name) > 64 {
		return false
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// Validate checks a chat request: at least one message, known roles, tool
// calls only on assistant messages and a call id on tool messages, tool
// names, a tool choice that names a tool, and the sampling fields.
func (r ChatRequest) Validate() error {
	if len(r.Messages) == 0 {
		return Invalid("messages", "messages must not be empty")
	}
	for i, m := range r.Messages {
		switch m.Role {
		case "system", "user", "assistant", "tool":
		default:
			return Invalid("messages", "unknown role %q", m.Role)
		}
		if len(m.ToolCalls) > 0 && m.Role != "assistant" {
			return Invalid(fmt.Sprintf("messages[%d].tool_calls", i), "only assistant messages have tool calls")
		}
		for _, c := range m.ToolCalls {
			if c.ID == "" || !ValidToolName(c.Name) {
				return Invalid(fmt.Sprintf("messages[%d].tool_calls", i), "a tool call needs an id and a function name")
			}
		}
		if m.Role == "tool" && m.ToolCallID == "" {
			return Invalid(fmt.Sprintf("messages[%d].tool_call_id", i), "a tool message needs the tool_call_id it answers")
		}
	}
	if len(r.Tools) > MaxTools {
		return Invalid("tools", "at most %d tools, got %d", MaxTools, len(r.Tools))
	}
	names := make(map[string]bool, len(r.Tools))
	for i, t := range r.Tools {
		if !ValidToolName(t.Name) {
			return Invalid(fmt.Sprintf("tools[%d].function.name", i), "tool name %q: want 1 to 64 of a-z A-Z 0-9 _ -", t.Name)
		}
		if names[t.Name] {
			return Invalid(fmt.Sprintf("tools[%d].function.name", i), "tool name %q is declared twice", t.Name)
		}
		names[t.Name] = true
	}
	switch r.ToolChoice {
	case "", ToolChoiceAuto, ToolChoiceNone:
	case ToolChoiceRequired:
		if len(r.Tools) == 0 {
			return Invalid("tool_choice", "tool_choice required needs tools")
		}
	default:
		if !names[r.ToolChoice] {
			return Invalid("tool_choice", "tool_choice names %q, which is not one of the tools", r.ToolChoice)
		}
	}
	return r.Sampling.Validate()
}

// Validate checks a completion request's sampling fields.
func (r CompletionRequest) Validate() error { return r.Sampling.Validate() }

// IsClientError reports whether err is the caller's fault (a 4xx Error).
func IsClientError(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Status >= 400 && e.Status < 500
}
