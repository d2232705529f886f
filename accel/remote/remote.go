// Package remote is the inference backend for a gateway whose model runs
// in another OpenAI-compatible server: llama.cpp's llama-server, vLLM or
// Ollama (its /v1 API). Client has the local engine's method set (Models,
// Chat, Complete with accel types and *accel.Stream), so the HTTP API and
// the agents use either one.
//
// Every generation is requested with "stream": true and
// stream_options.include_usage, read as server-sent events by a goroutine
// per request that ends when the stream does or when the request's
// context is cancelled (which closes the connection, so the server stops
// generating). Error responses become *accel.Error with the server's
// status, type, code and param.
package remote

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/outpost-iot/outpost/accel"
	"github.com/outpost-iot/outpost/accel/openai"
)

// Config says which server to use.
type Config struct {
	// BaseURL is the API root including /v1, e.g.
	// http://127.0.0.1:8080/v1 (llama-server), http://gpu:8000/v1 (vLLM),
	// http://127.0.0.1:11434/v1 (Ollama). Required.
	BaseURL string
	// APIKey is sent as a bearer token when set.
	APIKey string
	// Model, when set, replaces the model name of every request (and is
	// the only model listed); empty passes names through.
	Model string
	// HTTPClient defaults to a client without an overall timeout (streams
	// are long); request contexts bound each call.
	HTTPClient *http.Client
}

// Client talks to one OpenAI-compatible server.
type Client struct {
	cfg  Config
	base string
	hc   *http.Client
}

// New checks cfg and returns a client; it does not contact the server.
func New(cfg Config) (*Client, error) {
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("remote: base URL %q: want http(s)://host[:port]/v1", cfg.BaseURL)
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Transport: http.DefaultTransport}
	}
	return &Client{cfg: cfg, base: strings.TrimSuffix(cfg.BaseURL, "/"), hc: hc}, nil
}

func (c *Client) newRequest(ctx context.Context, method, path string, body any) (*http.Request, error) {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, r)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json, text/event-stream")
	if c.cfg.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.cfg.APIKey)
	}
	return req, nil
}

// do sends req and returns the response of a 2xx status, else the
// server's error as an *accel.Error.
func (c *Client) do(req *http.Request) (*http.Response, error) {
	resp, err := c.hc.Do(req)
	if err != nil {
		if ctxErr := req.Context().Err(); ctxErr != nil {
			return nil, ctxErr
		}
		return nil, &accel.Error{Status: http.StatusBadGateway, Type: "server_error", Code: "upstream_unavailable", Message: fmt.Sprintf("remote backend: %v", err)}
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return nil, decodeError(resp.StatusCode, b)
}

// decodeError turns an error body ({"error":{...}} or {"error":"text"})
// into an *accel.Error with the given status.
func decodeError(status int, body []byte) *accel.Error {
	e := &accel.Error{Status: status, Type: "server_error", Message: fmt.Sprintf("remote backend: HTTP %d", status)}
	if status/100 == 4 {
		e.Type = "invalid_request_error"
	}
	var wire struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(body, &wire) != nil || len(wire.Error) == 0 {
		if s := strings.TrimSpace(string(body)); s != "" && len(s) < 512 {
			e.Message += ": " + s
		}
		return e
	}
	var msg string
	if json.Unmarshal(wire.Error, &msg) == nil {
		e.Message = msg
		return e
	}
	var d struct {
		Message string          `json:"message"`
		Type    string          `json:"type"`
		Param   json.RawMessage `json:"param"`
		Code    json.RawMessage `json:"code"`
	}
	if json.Unmarshal(wire.Error, &d) != nil {
		return e
	}
	if d.Message != "" {
		e.Message = d.Message
	}
	if d.Type != "" {
		e.Type = d.Type
	}
	e.Param, e.Code = scalar(d.Param), scalar(d.Code)
	return e
}

// scalar renders a JSON string or number as text; null and others as "".
func scalar(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}

func (c *Client) model(m string) string {
	if c.cfg.Model != "" {
		return c.cfg.Model
	}
	return m
}

// Models lists the server's models (or the configured one).
func (c *Client) Models(ctx context.Context) ([]accel.ModelInfo, error) {
	if c.cfg.Model != "" {
		return []accel.ModelInfo{{ID: c.cfg.Model, OwnedBy: "remote", Created: time.Now().Unix()}}, nil
	}
	req, err := c.newRequest(ctx, http.MethodGet, "/models", nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var ml openai.ModelList
	if err := json.NewDecoder(io.LimitReader(resp.Body, 4<<20)).Decode(&ml); err != nil {
		return nil, &accel.Error{Status: http.StatusBadGateway, Type: "server_error", Message: fmt.Sprintf("remote backend: bad model list: %v", err)}
	}
	out := make([]accel.ModelInfo, 0, len(ml.Data))
	for _, m := range ml.Data {
		out = append(out, accel.ModelInfo{ID: m.ID, OwnedBy: m.OwnedBy, Created: m.Created})
	}
	return out, nil
}

func streaming(s accel.Sampling) openai.Sampling {
	w := openai.FromAccel(s)
	w.Stream = true
	w.StreamOptions = &openai.StreamOptions{IncludeUsage: true}
	return w
}

// Chat streams a chat completion from the server.
func (c *Client) Chat(ctx context.Context, r accel.ChatRequest) (*accel.Stream, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	body := openai.ChatCompletionRequest{Model: c.model(r.Model), Sampling: streaming(r.Sampling),
		Messages: openai.MessagesFromAccel(r.Messages), Tools: openai.ToolsFromAccel(r.Tools), ToolChoice: openai.ToolChoice(r.ToolChoice)}
	return c.stream(ctx, "/chat/completions", body)
}

// Complete streams a text completion from the server.
func (c *Client) Complete(ctx context.Context, r accel.CompletionRequest) (*accel.Stream, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	body := openai.CompletionRequest{Model: c.model(r.Model), Prompt: openai.Strings{r.Prompt}, Sampling: streaming(r.Sampling)}
	return c.stream(ctx, "/completions", body)
}

func (c *Client) stream(ctx context.Context, path string, body any) (*accel.Stream, error) {
	ctx, cancel := context.WithCancel(ctx)
	req, err := c.newRequest(ctx, http.MethodPost, path, body)
	if err != nil {
		cancel()
		return nil, err
	}
	resp, err := c.do(req)
	if err != nil {
		cancel()
		return nil, err
	}
	events := make(chan accel.Event, 16)
	go func() {
		defer cancel()
		defer resp.Body.Close()
		defer close(events)
		send := func(ev accel.Event) bool {
			select {
			case events <- ev:
				return true
			case <-ctx.Done():
				return false
			}
		}
		last, err := readStream(newSSEReader(resp.Body), func(ch accel.Chunk) bool { return send(accel.Event{Chunk: ch}) })
		switch {
		case ctx.Err() != nil:
			send(accel.Event{Err: ctx.Err()})
		case err != nil:
			send(accel.Event{Err: err})
		default:
			send(accel.Event{Chunk: last})
		}
	}()
	return accel.NewStream(events, cancel), nil
}

// readStream reads a streamed response, calling emit for each chunk of
// text, reasoning (reasoning_content, or vLLM's reasoning) or tool-call
// deltas,
// and returns the final chunk (finish reason and usage, which OpenAI
// sends in a later chunk than the finish reason) once the stream ends.
func readStream(sse *sseReader, emit func(accel.Chunk) bool) (accel.Chunk, error) {
	var final accel.Chunk
	for {
		data, err := sse.Next()
		if errors.Is(err, io.EOF) {
			if final.FinishReason == "" {
				return final, &accel.Error{Status: http.StatusBadGateway, Type: "server_error", Message: "remote backend: stream ended without a finish reason"}
			}
			return final, nil
		}
		if err != nil {
			return final, &accel.Error{Status: http.StatusBadGateway, Type: "server_error", Message: fmt.Sprintf("remote backend: %v", err)}
		}
		if string(bytes.TrimSpace(data)) == "[DONE]" {
			if final.FinishReason == "" {
				final.FinishReason = accel.FinishStop
			}
			return final, nil
		}
		var ev struct {
			openai.Chunk
			Error json.RawMessage `json:"error"`
		}
		if err := json.Unmarshal(data, &ev); err != nil {
			return final, &accel.Error{Status: http.StatusBadGateway, Type: "server_error", Message: fmt.Sprintf("remote backend: bad event: %v", err)}
		}
		if len(ev.Error) > 0 && string(ev.Error) != "null" {
			return final, decodeError(http.StatusInternalServerError, data)
		}
		if ev.Usage != nil {
			final.Usage = &accel.Usage{PromptTokens: ev.Usage.PromptTokens, CompletionTokens: ev.Usage.CompletionTokens, TotalTokens: ev.Usage.TotalTokens}
		}
		for _, ch := range ev.Choices {
			if ch.Index != 0 {
				continue
			}
			var out accel.Chunk
			if d := ch.Delta; d != nil {
				if d.Content != nil {
					out.Text = *d.Content
				}
				if d.ReasoningContent != nil {
					out.Reasoning = *d.ReasoningContent
				} else if d.Reasoning != nil {
					out.Reasoning = *d.Reasoning
				}
				for _, tc := range d.ToolCalls {
					out.ToolCalls = append(out.ToolCalls, accel.ToolCallDelta{Index: tc.Index, ID: tc.ID, Name: tc.Function.Name, Arguments: tc.Function.Arguments})
				}
			} else if ch.Text != nil {
				out.Text = *ch.Text
			}
			if (out.Text != "" || out.Reasoning != "" || len(out.ToolCalls) > 0) && !emit(out) {
				return final, context.Canceled
			}
			if ch.FinishReason != nil && *ch.FinishReason != "" {
				final.FinishReason = *ch.FinishReason
			}
		}
	}
}
