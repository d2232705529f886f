package openai

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/outpost-iot/outpost/accel"
)

// Backend is what the HTTP API serves: the local engine
// (accel/engine.Engine) or a remote server (accel/remote.Client).
type Backend interface {
	Models(ctx context.Context) ([]accel.ModelInfo, error)
	Chat(ctx context.Context, req accel.ChatRequest) (*accel.Stream, error)
	Complete(ctx context.Context, req accel.CompletionRequest) (*accel.Stream, error)
}

// MaxBodyBytes bounds a request body.
const MaxBodyBytes = 4 << 20

// Handler serves /v1/models, /v1/chat/completions and /v1/completions.
type Handler struct {
	// KeepAlive is how long a stream may stay silent before a comment line
	// (": keep-alive") is sent. NewHandler sets 15s; set it before serving.
	KeepAlive time.Duration

	b   Backend
	log *slog.Logger
	mux *http.ServeMux
}

// NewHandler returns the API over b. log may be nil.
func NewHandler(b Backend, log *slog.Logger) *Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &Handler{KeepAlive: 15 * time.Second, b: b, log: log, mux: http.NewServeMux()}
	h.mux.HandleFunc("GET /v1/models", h.models)
	h.mux.HandleFunc("GET /v1/models/{model...}", h.model)
	h.mux.HandleFunc("POST /v1/chat/completions", h.chat)
	h.mux.HandleFunc("POST /v1/completions", h.completions)
	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		WriteError(w, &accel.Error{Status: http.StatusNotFound, Type: "invalid_request_error", Code: "unknown_url",
			Message: fmt.Sprintf("unknown url %s %s", r.Method, r.URL.Path)})
	})
	return h
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// WriteError writes err as an OpenAI error object with its status.
func WriteError(w http.ResponseWriter, err error) {
	e := accel.AsError(err)
	writeJSON(w, e.Status, errorBody(e))
}

func errorBody(e *accel.Error) ErrorBody {
	d := ErrorDetail{Message: e.Message, Type: e.Type}
	if e.Param != "" {
		d.Param = &e.Param
	}
	if e.Code != "" {
		d.Code = &e.Code
	}
	return ErrorBody{Error: d}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (h *Handler) models(w http.ResponseWriter, r *http.Request) {
	ms, err := h.b.Models(r.Context())
	if err != nil {
		WriteError(w, err)
		return
	}
	out := ModelList{Object: "list", Data: []Model{}}
	for _, m := range ms {
		out.Data = append(out.Data, Model{ID: m.ID, Object: "model", Created: m.Created, OwnedBy: m.OwnedBy})
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *Handler) model(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("model")
	ms, err := h.b.Models(r.Context())
	if err != nil {
		WriteError(w, err)
		return
	}
	for _, m := range ms {
		if m.ID == id {
			writeJSON(w, http.StatusOK, Model{ID: m.ID, Object: "model", Created: m.Created, OwnedBy: m.OwnedBy})
			return
		}
	}
	WriteError(w, &accel.Error{Status: http.StatusNotFound, Type: "invalid_request_error", Code: "model_not_found", Param: "model",
		Message: fmt.Sprintf("the model %q does not exist", id)})
}

// DecodeRequest reads a JSON request body into v, turning syntax and type
// errors into invalid_request_errors that name the field.
func DecodeRequest(body io.Reader, v any) error {
	dec := json.NewDecoder(body)
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &te):
			return accel.Invalid(te.Field, "field %s: want %s, got %s", te.Field, te.Type, te.Value)
		case errors.As(err, &mbe):
			return &accel.Error{Status: http.StatusRequestEntityTooLarge, Type: "invalid_request_error", Message: fmt.Sprintf("request body over %d bytes", mbe.Limit)}
		case errors.Is(err, io.EOF):
			return accel.Invalid("", "empty request body")
		}
		return accel.Invalid("", "invalid JSON body: %v", err)
	}
	if dec.More() {
		return accel.Invalid("", "invalid JSON body: trailing data")
	}
	return nil
}

func newID(prefix string) string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

func (h *Handler) chat(w http.ResponseWriter, r *http.Request) {
	var req ChatCompletionRequest
	if err := DecodeRequest(http.MaxBytesReader(w, r.Body, MaxBodyBytes), &req); err != nil {
		WriteError(w, err)
		return
	}
	areq, err := req.ToAccel()
	if err == nil {
		var s *accel.Stream
		if s, err = h.b.Chat(r.Context(), areq); err == nil {
			h.respond(w, r, s, req.Model, req.Sampling, true)
			return
		}
	}
	WriteError(w, err)
}

func (h *Handler) completions(w http.ResponseWriter, r *http.Request) {
	var req CompletionRequest
	if err := DecodeRequest(http.MaxBytesReader(w, r.Body, MaxBodyBytes), &req); err != nil {
		WriteError(w, err)
		return
	}
	areq, err := req.ToAccel()
	if err == nil {
		var s *accel.Stream
		if s, err = h.b.Complete(r.Context(), areq); err == nil {
			h.respond(w, r, s, req.Model, req.Sampling, false)
			return
		}
	}
	WriteError(w, err)
}

// respond writes the whole answer, or streams it as server-sent events.
func (h *Handler) respond(w http.ResponseWriter, r *http.Request, s *accel.Stream, model string, sp Sampling, chat bool) {
	defer s.Close()
	created := time.Now().Unix()
	if !sp.Stream {
		res, err := accel.Collect(s)
		if err != nil {
			WriteError(w, err)
			return
		}
		u := Usage(res.Usage)
		if chat {
			msg := ChatMessage{Role: "assistant", Content: Content(res.Text), ReasoningContent: res.Reasoning}
			for _, c := range res.ToolCalls {
				msg.ToolCalls = append(msg.ToolCalls, ToolCall{ID: c.ID, Type: "function", Function: FunctionCall{Name: c.Name, Arguments: c.Arguments}})
			}
			writeJSON(w, http.StatusOK, ChatCompletion{ID: newID("chatcmpl-"), Object: "chat.completion", Created: created, Model: model,
				Choices: []ChatChoice{{Message: msg, FinishReason: res.FinishReason}}, Usage: &u})
		} else {
			writeJSON(w, http.StatusOK, Completion{ID: newID("cmpl-"), Object: "text_completion", Created: created, Model: model,
				Choices: []CompletionChoice{{Text: res.Text, FinishReason: res.FinishReason}}, Usage: &u})
		}
		return
	}

	sse := newSSEWriter(w, h.KeepAlive)
	defer sse.close()
	chunk := Chunk{ID: newID("chatcmpl-"), Object: "chat.completion.chunk", Created: created, Model: model}
	if !chat {
		chunk.ID, chunk.Object = newID("cmpl-"), "text_completion"
	}
	choice := func(text string, role string, finish *string) []ChunkChoice {
		c := ChunkChoice{FinishReason: finish}
		if chat {
			c.Delta = &Delta{Role: role, Content: &text}
			if text == "" && role == "" {
				c.Delta.Content = nil // the finish chunk: "delta": {}, as OpenAI sends it
			}
		} else {
			c.Text = &text
		}
		return []ChunkChoice{c}
	}
	if chat {
		chunk.Choices = choice("", "assistant", nil)
		if !sse.event(chunk) {
			return
		}
	}
	// extras sends a chat chunk's reasoning and tool-call pieces, each as
	// a delta of its own before the text, as OpenAI-compatible servers do.
	extras := func(c accel.Chunk) bool {
		if !chat {
			return true
		}
		if c.Reasoning != "" {
			r := c.Reasoning
			chunk.Choices = []ChunkChoice{{Delta: &Delta{ReasoningContent: &r}}}
			if !sse.event(chunk) {
				return false
			}
		}
		if len(c.ToolCalls) > 0 {
			d := &Delta{}
			for _, tc := range c.ToolCalls {
				w := ToolCallDelta{Index: tc.Index, ID: tc.ID, Function: FunctionCallDelta{Name: tc.Name, Arguments: tc.Arguments}}
				if tc.ID != "" {
					w.Type = "function"
				}
				d.ToolCalls = append(d.ToolCalls, w)
			}
			chunk.Choices = []ChunkChoice{{Delta: d}}
			if !sse.event(chunk) {
				return false
			}
		}
		return true
	}
	for {
		c, err := s.Recv()
		if err != nil {
			// The headers are out: report the error in the stream, as
			// OpenAI does, and end it.
			if !errors.Is(err, context.Canceled) {
				h.log.Warn("inference stream failed", "error", err)
				sse.event(errorBody(accel.AsError(err)))
			}
			return
		}
		var finish *string
		if c.FinishReason != "" {
			finish = &c.FinishReason
		}
		if !extras(c) {
			return
		}
		if c.Text != "" || finish != nil {
			chunk.Choices = choice(c.Text, "", finish)
			if !sse.event(chunk) {
				return
			}
		}
		if finish != nil {
			if c.Usage != nil && sp.StreamOptions != nil && sp.StreamOptions.IncludeUsage {
				u := Usage(*c.Usage)
				chunk.Choices, chunk.Usage = []ChunkChoice{}, &u
				if !sse.event(chunk) {
					return
				}
			}
			sse.end()
			return
		}
	}
}

// sseWriter writes server-sent events: "data: <json>\n\n", flushed. While
// a stream is quiet (a long prefill) it sends a comment line every
// keepAlive so that proxies and clients do not time the connection out.
type sseWriter struct {
	w    http.ResponseWriter
	rc   *http.ResponseController
	mu   sync.Mutex // one writer at a time: the handler or the keep-alive
	buf  strings.Builder
	ok   bool
	last time.Time
	stop chan struct{}
	done sync.WaitGroup
}

func newSSEWriter(w http.ResponseWriter, keepAlive time.Duration) *sseWriter {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	s := &sseWriter{w: w, rc: http.NewResponseController(w), ok: true, last: time.Now(), stop: make(chan struct{})}
	s.done.Add(1)
	go s.keepAlive(keepAlive)
	return s
}

func (s *sseWriter) keepAlive(every time.Duration) {
	defer s.done.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.mu.Lock()
			if s.ok && time.Since(s.last) >= every {
				s.writeLocked(": keep-alive\n\n")
			}
			s.mu.Unlock()
		}
	}
}

// close stops the keep-alive; the writer must not be used afterwards.
func (s *sseWriter) close() {
	close(s.stop)
	s.done.Wait()
}

func (s *sseWriter) writeLocked(text string) bool {
	if _, err := io.WriteString(s.w, text); err != nil {
		s.ok = false
		return false
	}
	if err := s.rc.Flush(); err != nil {
		s.ok = false
	}
	s.last = time.Now()
	return s.ok
}

func (s *sseWriter) write(data []byte) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.ok {
		return false
	}
	s.buf.Reset()
	s.buf.WriteString("data: ")
	s.buf.Write(data)
	s.buf.WriteString("\n\n")
	return s.writeLocked(s.buf.String())
}

func (s *sseWriter) event(v any) bool {
	b, err := json.Marshal(v)
	if err != nil {
		return false
	}
	return s.write(b)
}

func (s *sseWriter) end() { s.write([]byte("[DONE]")) }
