package accel

import (
	"errors"
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

// Validate checks a chat request: at least one message, known roles, and
// the sampling fields.
func (r ChatRequest) Validate() error {
	if len(r.Messages) == 0 {
		return Invalid("messages", "messages must not be empty")
	}
	for _, m := range r.Messages {
		switch m.Role {
		case "system", "user", "assistant", "tool":
		default:
			return Invalid("messages", "unknown role %q", m.Role)
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
