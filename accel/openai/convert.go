package openai

import (
	"fmt"

	"github.com/outpost-iot/outpost/accel"
)

// ToAccel maps the wire sampling fields to the engine's, rejecting what the
// engine does not support (n > 1, presence or frequency penalties).
func (s Sampling) ToAccel() (accel.Sampling, error) {
	out := accel.Sampling{Temperature: s.Temperature, TopP: s.TopP, Stop: s.Stop}
	switch {
	case s.N != nil && *s.N != 1:
		return out, accel.Invalid("n", "only n=1 is supported")
	case s.PresencePenalty != nil && *s.PresencePenalty != 0:
		return out, accel.Invalid("presence_penalty", "presence_penalty is not supported; use repetition_penalty")
	case s.FrequencyPenalty != nil && *s.FrequencyPenalty != 0:
		return out, accel.Invalid("frequency_penalty", "frequency_penalty is not supported; use repetition_penalty")
	case s.MaxTokens != nil && *s.MaxTokens < 1:
		return out, accel.Invalid("max_tokens", "max_tokens must be at least 1")
	case s.MaxCompletionTokens != nil && *s.MaxCompletionTokens < 1:
		return out, accel.Invalid("max_completion_tokens", "max_completion_tokens must be at least 1")
	case s.TopK != nil && *s.TopK < 0:
		return out, accel.Invalid("top_k", "top_k must be >= 0")
	}
	if s.MaxCompletionTokens != nil {
		out.MaxTokens = *s.MaxCompletionTokens
	} else if s.MaxTokens != nil {
		out.MaxTokens = *s.MaxTokens
	}
	if s.TopK != nil {
		out.TopK = *s.TopK
	}
	if s.MinP != nil {
		out.MinP = *s.MinP
	}
	if s.RepetitionPenalty != nil {
		out.RepetitionPenalty = *s.RepetitionPenalty
	} else if s.RepeatPenalty != nil {
		out.RepetitionPenalty = *s.RepeatPenalty
	}
	if s.Seed != nil {
		u := uint64(*s.Seed)
		out.Seed = &u
	}
	return out, out.Validate()
}

// FromAccel maps engine sampling fields to the wire's (for a remote
// server). Zero-valued extensions are left out.
func FromAccel(s accel.Sampling) Sampling {
	out := Sampling{Temperature: s.Temperature, TopP: s.TopP, Stop: s.Stop}
	if s.MaxTokens > 0 {
		out.MaxTokens = &s.MaxTokens
	}
	if s.TopK > 0 {
		out.TopK = &s.TopK
	}
	if s.MinP > 0 {
		out.MinP = &s.MinP
	}
	if s.RepetitionPenalty > 0 && s.RepetitionPenalty != 1 {
		out.RepetitionPenalty = &s.RepetitionPenalty
	}
	if s.Seed != nil {
		v := int64(*s.Seed)
		out.Seed = &v
	}
	return out
}

// ToAccel maps a chat request; it fails on an invalid field.
func (r ChatCompletionRequest) ToAccel() (accel.ChatRequest, error) {
	s, err := r.Sampling.ToAccel()
	out := accel.ChatRequest{Model: r.Model, Sampling: s}
	if err != nil {
		return out, err
	}
	if r.Model == "" {
		return out, accel.Invalid("model", "model is required")
	}
	for _, m := range r.Messages {
		role := m.Role
		if role == "developer" {
			role = "system" // OpenAI's newer name for system messages
		}
		am := accel.Message{Role: role, Content: string(m.Content), ToolCallID: m.ToolCallID}
		for _, c := range m.ToolCalls {
			if c.Type != "" && c.Type != "function" {
				return out, accel.Invalid("messages", "tool call type %q is not supported (only function)", c.Type)
			}
			am.ToolCalls = append(am.ToolCalls, accel.ToolCall{ID: c.ID, Name: c.Function.Name, Arguments: c.Function.Arguments})
		}
		out.Messages = append(out.Messages, am)
	}
	for i, t := range r.Tools {
		if t.Type != "function" {
			return out, accel.Invalid(fmt.Sprintf("tools[%d].type", i), "tool type %q is not supported (only function)", t.Type)
		}
		var params []byte
		if len(t.Function.Parameters) > 0 && string(t.Function.Parameters) != "null" {
			params = append([]byte(nil), t.Function.Parameters...)
		}
		out.Tools = append(out.Tools, accel.Tool{Name: t.Function.Name, Description: t.Function.Description, Parameters: params})
	}
	out.ToolChoice = string(r.ToolChoice)
	return out, out.Validate()
}

// MessagesFromAccel maps engine messages to the wire's (for a remote
// server).
func MessagesFromAccel(msgs []accel.Message) []ChatMessage {
	out := make([]ChatMessage, 0, len(msgs))
	for _, m := range msgs {
		cm := ChatMessage{Role: m.Role, Content: Content(m.Content), ToolCallID: m.ToolCallID}
		for _, c := range m.ToolCalls {
			cm.ToolCalls = append(cm.ToolCalls, ToolCall{ID: c.ID, Type: "function", Function: FunctionCall{Name: c.Name, Arguments: c.Arguments}})
		}
		out = append(out, cm)
	}
	return out
}

// ToolsFromAccel maps engine tools to the wire's (for a remote server).
func ToolsFromAccel(tools []accel.Tool) []ToolDef {
	var out []ToolDef
	for _, t := range tools {
		out = append(out, ToolDef{Type: "function", Function: FunctionDef{Name: t.Name, Description: t.Description, Parameters: t.Parameters}})
	}
	return out
}

// ToAccel maps a completion request: one prompt string only.
func (r CompletionRequest) ToAccel() (accel.CompletionRequest, error) {
	s, err := r.Sampling.ToAccel()
	out := accel.CompletionRequest{Model: r.Model, Sampling: s}
	if err != nil {
		return out, err
	}
	if r.Model == "" {
		return out, accel.Invalid("model", "model is required")
	}
	if len(r.Prompt) != 1 {
		return out, accel.Invalid("prompt", "prompt must be one string (got %d)", len(r.Prompt))
	}
	out.Prompt = r.Prompt[0]
	return out, out.Validate()
}
