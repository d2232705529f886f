package openai

import (
	"bytes"
	"encoding/json"
	"errors"
)

// Content is a message's content: a string, or an array of parts of which
// the "text" parts are concatenated. It marshals as a string.
type Content string

// UnmarshalJSON accepts a string, null, or [{"type":"text","text":...}].
func (c *Content) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		*c = ""
		return nil
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*c = Content(s)
		return nil
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if err := json.Unmarshal(b, &parts); err != nil {
		return errors.New("content must be a string or an array of text parts")
	}
	var s []byte
	for _, p := range parts {
		if p.Type != "text" {
			return errors.New("content part type " + p.Type + " is not supported (only text)")
		}
		s = append(s, p.Text...)
	}
	*c = Content(s)
	return nil
}

// Strings is a string or an array of strings (stop, prompt).
type Strings []string

// UnmarshalJSON accepts null, a string or an array of strings.
func (s *Strings) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		*s = nil
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var one string
		if err := json.Unmarshal(b, &one); err != nil {
			return err
		}
		*s = Strings{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return errors.New("must be a string or an array of strings")
	}
	*s = many
	return nil
}

// ChatMessage is a message in a chat request or response: an assistant
// message may carry tool_calls (its content is then null when empty), a
// tool message the tool_call_id it answers.
type ChatMessage struct {
	Role       string     `json:"role"`
	Content    Content    `json:"content"`
	Name       string     `json:"name,omitempty"`
	ToolCalls  []ToolCall `json:"tool_calls,omitempty"`
	ToolCallID string     `json:"tool_call_id,omitempty"`
	// ReasoningContent is a response's thinking, apart from content.
	ReasoningContent string `json:"reasoning_content,omitempty"`
}

// MarshalJSON writes content as null when it is empty and the message
// has tool calls, as OpenAI does.
func (m ChatMessage) MarshalJSON() ([]byte, error) {
	type plain ChatMessage
	if m.Content != "" || len(m.ToolCalls) == 0 {
		return json.Marshal(plain(m))
	}
	return json.Marshal(struct {
		Role             string     `json:"role"`
		Content          *string    `json:"content"`
		ToolCalls        []ToolCall `json:"tool_calls"`
		ReasoningContent string     `json:"reasoning_content,omitempty"`
	}{m.Role, nil, m.ToolCalls, m.ReasoningContent})
}

// ToolCall is a tool call of an assistant message:
// {"id", "type": "function", "function": {"name", "arguments"}}.
type ToolCall struct {
	ID       string       `json:"id"`
	Type     string       `json:"type"`
	Function FunctionCall `json:"function"`
}

// FunctionCall is a tool call's function: arguments is JSON text.
type FunctionCall struct {
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
}

// ToolCallDelta is a piece of a streamed tool call: the first of a call
// has id, type and function.name; later ones only index and
// function.arguments.
type ToolCallDelta struct {
	Index    int               `json:"index"`
	ID       string            `json:"id,omitempty"`
	Type     string            `json:"type,omitempty"`
	Function FunctionCallDelta `json:"function"`
}

// FunctionCallDelta is the function of a ToolCallDelta.
type FunctionCallDelta struct {
	Name      string `json:"name,omitempty"`
	Arguments string `json:"arguments"`
}

// ToolDef is a tool of a request: {"type": "function", "function":
// {"name", "description"?, "parameters"?, "strict"?}}.
type ToolDef struct {
	Type     string      `json:"type"`
	Function FunctionDef `json:"function"`
}

// FunctionDef declares a function: parameters is a JSON schema.
type FunctionDef struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters,omitempty"`
	Strict      *bool           `json:"strict,omitempty"`
}

// ToolChoice is a request's tool_choice: "none", "auto", "required", or
// {"type": "function", "function": {"name"}} (held as the name).
type ToolChoice string

// UnmarshalJSON accepts null, a string or the function object.
func (c *ToolChoice) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		*c = ""
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*c = ToolChoice(s)
		return nil
	}
	var obj struct {
		Type     string `json:"type"`
		Function struct {
			Name string `json:"name"`
		} `json:"function"`
	}
	if err := json.Unmarshal(b, &obj); err != nil || obj.Type != "function" || obj.Function.Name == "" {
		return errors.New(`tool_choice must be "none", "auto", "required" or {"type": "function", "function": {"name": ...}}`)
	}
	*c = ToolChoice(obj.Function.Name)
	return nil
}

// MarshalJSON writes the three modes as strings and a name as the
// function object.
func (c ToolChoice) MarshalJSON() ([]byte, error) {
	switch c {
	case "none", "auto", "required":
		return json.Marshal(string(c))
	}
	var obj struct {
		Type     string `json:"type"`
		Function struct {
			Name string `json:"name"`
		} `json:"function"`
	}
	obj.Type, obj.Function.Name = "function", string(c)
	return json.Marshal(obj)
}

// StreamOptions are the stream_options of a request.
type StreamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

// Sampling holds the sampling fields shared by both request kinds:
// OpenAI's, plus the top_k, min_p and repetition_penalty (or
// repeat_penalty) extensions that llama.cpp, vLLM and Ollama accept.
type Sampling struct {
	MaxTokens           *int     `json:"max_tokens,omitempty"`
	MaxCompletionTokens *int     `json:"max_completion_tokens,omitempty"`
	Temperature         *float32 `json:"temperature,omitempty"`
	TopP                *float32 `json:"top_p,omitempty"`
	TopK                *int     `json:"top_k,omitempty"`
	MinP                *float32 `json:"min_p,omitempty"`
	RepetitionPenalty   *float32 `json:"repetition_penalty,omitempty"`
	RepeatPenalty       *float32 `json:"repeat_penalty,omitempty"`
	Seed                *int64   `json:"seed,omitempty"`
	Stop                Strings  `json:"stop,omitempty"`
	N                   *int     `json:"n,omitempty"`
	// PresencePenalty and FrequencyPenalty are accepted; only 0 (or
	// absent) is supported.
	PresencePenalty  *float32       `json:"presence_penalty,omitempty"`
	FrequencyPenalty *float32       `json:"frequency_penalty,omitempty"`
	Stream           bool           `json:"stream,omitempty"`
	StreamOptions    *StreamOptions `json:"stream_options,omitempty"`
	User             string         `json:"user,omitempty"`
}

// ChatCompletionRequest is the body of POST /v1/chat/completions.
type ChatCompletionRequest struct {
	Model             string        `json:"model"`
	Messages          []ChatMessage `json:"messages"`
	Tools             []ToolDef     `json:"tools,omitempty"`
	ToolChoice        ToolChoice    `json:"tool_choice,omitempty"`
	ParallelToolCalls *bool         `json:"parallel_tool_calls,omitempty"`
	Sampling
}

// CompletionRequest is the body of POST /v1/completions.
type CompletionRequest struct {
	Model  string  `json:"model"`
	Prompt Strings `json:"prompt"`
	Sampling
}

// Usage is a response's token counts.
type Usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

// ChatChoice is a choice of a non-streamed chat completion.
type ChatChoice struct {
	Index        int         `json:"index"`
	Message      ChatMessage `json:"message"`
	FinishReason string      `json:"finish_reason"`
	Logprobs     *struct{}   `json:"logprobs"`
}

// ChatCompletion is a non-streamed chat response.
type ChatCompletion struct {
	ID      string       `json:"id"`
	Object  string       `json:"object"` // "chat.completion"
	Created int64        `json:"created"`
	Model   string       `json:"model"`
	Choices []ChatChoice `json:"choices"`
	Usage   *Usage       `json:"usage,omitempty"`
}

// Delta is the new part of a streamed chat message. ReasoningContent is
// the model's thinking (llama.cpp's and DeepSeek's name; vLLM also sends
// it as reasoning, which Reasoning reads).
type Delta struct {
	Role             string          `json:"role,omitempty"`
	Content          *string         `json:"content,omitempty"`
	ReasoningContent *string         `json:"reasoning_content,omitempty"`
	Reasoning        *string         `json:"reasoning,omitempty"`
	ToolCalls        []ToolCallDelta `json:"tool_calls,omitempty"`
}

// ChunkChoice is a choice of a streamed chunk: Delta for chat, Text for
// completions.
type ChunkChoice struct {
	Index        int       `json:"index"`
	Delta        *Delta    `json:"delta,omitempty"`
	Text         *string   `json:"text,omitempty"`
	FinishReason *string   `json:"finish_reason"`
	Logprobs     *struct{} `json:"logprobs"`
}

// Chunk is one server-sent event of a streamed response
// ("chat.completion.chunk" or "text_completion").
type Chunk struct {
	ID      string        `json:"id"`
	Object  string        `json:"object"`
	Created int64         `json:"created"`
	Model   string        `json:"model"`
	Choices []ChunkChoice `json:"choices"`
	Usage   *Usage        `json:"usage,omitempty"`
}

// CompletionChoice is a choice of a non-streamed text completion.
type CompletionChoice struct {
	Text         string    `json:"text"`
	Index        int       `json:"index"`
	Logprobs     *struct{} `json:"logprobs"`
	FinishReason string    `json:"finish_reason"`
}

// Completion is a non-streamed text completion response.
type Completion struct {
	ID      string             `json:"id"`
	Object  string             `json:"object"` // "text_completion"
	Created int64              `json:"created"`
	Model   string             `json:"model"`
	Choices []CompletionChoice `json:"choices"`
	Usage   *Usage             `json:"usage,omitempty"`
}

// Model is an entry of GET /v1/models.
type Model struct {
	ID      string `json:"id"`
	Object  string `json:"object"` // "model"
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}

// ModelList is the body of GET /v1/models.
type ModelList struct {
	Object string  `json:"object"` // "list"
	Data   []Model `json:"data"`
}

// ErrorBody is OpenAI's error object: {"error":{...}}.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail holds an error's fields; Param and Code are null when empty.
type ErrorDetail struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}
