// Package openaitest serves a scripted model behind the OpenAI-compatible
// chat API, for tests of what consumes a model that calls tools (a
// random-weight model never chooses one): the agents' tool flows, reached
// through the real remote backend (accel/remote) or a gateway started
// with --inference-url.
//
// Each POST /v1/chat/completions is answered by a function of the
// decoded request (its messages, tools and tool results), streamed the
// way OpenAI streams: a role delta, reasoning_content deltas, content
// deltas a few characters each, tool-call deltas (the first of a call
// with id, type and name, then the arguments in two pieces), a finish
// chunk, a usage chunk and [DONE]. Non-streamed requests get the whole
// message. GET /v1/models lists the one model.
package openaitest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"

	"github.com/outpost-iot/outpost/accel"
	"github.com/outpost-iot/outpost/accel/openai"
)

// Reply is what the scripted model answers.
type Reply struct {
	Reasoning string
	Text      string
	ToolCalls []accel.ToolCall
	// FinishReason defaults to "tool_calls" when there are calls, else
	// "stop".
	FinishReason string
	// Status, when not 0, answers with this HTTP status and an OpenAI
	// error object whose message is Text.
	Status int
	// Hold, when not nil, stops a streamed reply after HoldAfter content
	// pieces until it is closed or the client goes away: a reply that is
	// still streaming for as long as a test needs, on any machine.
	Hold      <-chan struct{}
	HoldAfter int
}

// Script chooses the reply to a request.
type Script func(req openai.ChatCompletionRequest) Reply

// Server is a running scripted model.
type Server struct {
	// URL is the API root, ending in /v1.
	URL string
	// Model is the one model id served ("scripted").
	Model string

	srv    *httptest.Server
	script Script
	mu     sync.Mutex
	reqs   []openai.ChatCompletionRequest
}

// New starts a server answering with script on a loopback port.
func New(script Script) *Server {
	s := &Server{Model: "scripted", script: script}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/models", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(openai.ModelList{Object: "list", Data: []openai.Model{{ID: s.Model, Object: "model", OwnedBy: "openaitest"}}})
	})
	mux.HandleFunc("POST /v1/chat/completions", s.chat)
	s.srv = httptest.NewServer(mux)
	s.URL = s.srv.URL + "/v1"
	return s
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// Requests returns the chat requests received so far, in order.
func (s *Server) Requests() []openai.ChatCompletionRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]openai.ChatCompletionRequest(nil), s.reqs...)
}

func (s *Server) chat(w http.ResponseWriter, r *http.Request) {
	var req openai.ChatCompletionRequest
	if err := openai.DecodeRequest(r.Body, &req); err != nil {
		openai.WriteError(w, err)
		return
	}
	s.mu.Lock()
	s.reqs = append(s.reqs, req)
	s.mu.Unlock()
	rep := s.script(req)
	if rep.Status != 0 {
		openai.WriteError(w, &accel.Error{Status: rep.Status, Type: "invalid_request_error", Message: rep.Text})
		return
	}
	finish := rep.FinishReason
	if finish == "" {
		finish = accel.FinishStop
		if len(rep.ToolCalls) > 0 {
			finish = accel.FinishToolCalls
		}
	}
	if !req.Stream {
		msg := openai.ChatMessage{Role: "assistant", Content: openai.Content(rep.Text), ReasoningContent: rep.Reasoning}
		for _, c := range rep.ToolCalls {
			msg.ToolCalls = append(msg.ToolCalls, openai.ToolCall{ID: c.ID, Type: "function", Function: openai.FunctionCall{Name: c.Name, Arguments: c.Arguments}})
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(openai.ChatCompletion{ID: "chatcmpl-scripted", Object: "chat.completion", Model: req.Model,
			Choices: []openai.ChatChoice{{Message: msg, FinishReason: finish}}, Usage: &openai.Usage{PromptTokens: 1, CompletionTokens: 1, TotalTokens: 2}})
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	flusher, _ := w.(http.Flusher)
	chunk := openai.Chunk{ID: "chatcmpl-scripted", Object: "chat.completion.chunk", Model: req.Model}
	send := func(d *openai.Delta, fin *string) {
		chunk.Choices = []openai.ChunkChoice{{Delta: d, FinishReason: fin}}
		b, _ := json.Marshal(chunk)
		fmt.Fprintf(w, "data: %s\n\n", b)
		if flusher != nil {
			flusher.Flush()
		}
	}
	send(&openai.Delta{Role: "assistant"}, nil)
	for _, p := range pieces(rep.Reasoning, 4) {
		send(&openai.Delta{ReasoningContent: &p}, nil)
	}
	for i, p := range pieces(rep.Text, 4) {
		if rep.Hold != nil && i == rep.HoldAfter {
			select {
			case <-rep.Hold:
			case <-r.Context().Done():
				return
			}
		}
		send(&openai.Delta{Content: &p}, nil)
	}
	for i, c := range rep.ToolCalls {
		send(&openai.Delta{ToolCalls: []openai.ToolCallDelta{{Index: i, ID: c.ID, Type: "function", Function: openai.FunctionCallDelta{Name: c.Name}}}}, nil)
		half := len(c.Arguments) / 2
		for _, a := range []string{c.Arguments[:half], c.Arguments[half:]} {
			send(&openai.Delta{ToolCalls: []openai.ToolCallDelta{{Index: i, Function: openai.FunctionCallDelta{Arguments: a}}}}, nil)
		}
	}
	send(&openai.Delta{}, &finish)
	chunk.Choices, chunk.Usage = []openai.ChunkChoice{}, &openai.Usage{PromptTokens: 1, CompletionTokens: 1, TotalTokens: 2}
	b, _ := json.Marshal(chunk)
	fmt.Fprintf(w, "data: %s\n\ndata: [DONE]\n\n", b)
}

// pieces splits s into pieces of at most n bytes (on rune boundaries).
func pieces(s string, n int) []string {
	var out []string
	for len(s) > 0 {
		i := min(n, len(s))
		for i < len(s) && i > 0 && s[i]&0xC0 == 0x80 {
			i++
		}
		out = append(out, s[:i])
		s = s[i:]
	}
	return out
}

// LastMessage is the last message of a request (zero when none).
func LastMessage(req openai.ChatCompletionRequest) openai.ChatMessage {
	if len(req.Messages) == 0 {
		return openai.ChatMessage{}
	}
	return req.Messages[len(req.Messages)-1]
}
