package engine

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/outpost-iot/outpost/accel"
	"github.com/outpost-iot/outpost/accel/chattmpl"
	"github.com/outpost-iot/outpost/accel/cpu"
	"github.com/outpost-iot/outpost/accel/kvcache"
	"github.com/outpost-iot/outpost/accel/sample"
	"github.com/outpost-iot/outpost/accel/tokenizer"
)

// Config tunes the engine. Zero fields take the defaults named.
type Config struct {
	// ContextLength is the longest prompt plus completion, in tokens.
	// Default: the model's context_length (2048 if absent); larger values
	// are cut to it.
	ContextLength int
	// BlockTokens is the number of tokens per KV block. Default 16.
	BlockTokens int
	// KVBlocks is the size of the KV pool in blocks; at least one full
	// context. Default: MaxSeqs full contexts, capped at KVMemory bytes of
	// keys and values (float32), but never less than one context.
	KVBlocks int
	// KVMemory caps the default KV pool, in bytes. Default 256 MiB.
	KVMemory int64
	// MaxSeqs is the most sequences in a batch. Default 32.
	MaxSeqs int
	// TokenBudget is the most tokens one step computes (decodes first, then
	// prefill chunks); at least MaxSeqs. Default 256.
	TokenBudget int
	// MaxQueue is the most requests waiting to start; more get
	// accel.ErrOverloaded. Default 256.
	MaxQueue int
	// StreamBuffer is the capacity of each request's output channel, in
	// chunks (one per token). Default 1024. See the package doc.
	StreamBuffer int
	// Threads is the number of goroutines the runner uses per step.
	// Default GOMAXPROCS.
	Threads int
	// Kernels replaces runner operations. Zero fields: cpu.Best(), the
	// fastest set this CPU runs (AVX2 on amd64, NEON on arm64, else
	// scalar); Config reports the set in use, its Name for logs.
	Kernels cpu.Kernels
}

func (c Config) withDefaults(m *Model) (Config, error) {
	mc := m.LM.ContextLength
	if mc <= 0 {
		mc = 2048
	}
	if c.ContextLength <= 0 || c.ContextLength > mc {
		c.ContextLength = mc
	}
	if c.BlockTokens <= 0 {
		c.BlockTokens = kvcache.DefaultBlockTokens
	}
	if c.MaxSeqs <= 0 {
		c.MaxSeqs = 32
	}
	if c.TokenBudget <= 0 {
		c.TokenBudget = 256
	}
	if c.MaxQueue <= 0 {
		c.MaxQueue = 256
	}
	if c.StreamBuffer <= 0 {
		c.StreamBuffer = 1024
	}
	perCtx := (c.ContextLength + c.BlockTokens - 1) / c.BlockTokens
	if c.KVBlocks <= 0 {
		if c.KVMemory <= 0 {
			c.KVMemory = 256 << 20
		}
		blockBytes := int64(2 * 4 * m.LM.NLayer * m.LM.NEmbdKV() * c.BlockTokens)
		c.KVBlocks = max(perCtx, min(c.MaxSeqs*perCtx, int(c.KVMemory/blockBytes)))
	}
	switch {
	case c.KVBlocks < perCtx:
		return c, fmt.Errorf("engine: %d KV blocks of %d tokens hold less than one context of %d tokens", c.KVBlocks, c.BlockTokens, c.ContextLength)
	case c.TokenBudget < c.MaxSeqs:
		return c, fmt.Errorf("engine: token budget %d is below max seqs %d", c.TokenBudget, c.MaxSeqs)
	case c.StreamBuffer < 2:
		return c, fmt.Errorf("engine: stream buffer %d is below 2", c.StreamBuffer)
	}
	return c, nil
}

// Engine serves one model with continuous batching. New → Start → Close.
type Engine struct {
	m      *Model
	cfg    Config
	runner *cpu.Runner
	kv     *kvcache.Manager
	stops  []string // the chat family's end-of-turn markers

	mu       sync.RWMutex // guards closed against submissions
	closed   bool
	started  bool
	submit   chan *request
	hold     chan struct{} // tests only: the scheduler starts when it is closed
	quit     chan struct{}
	done     chan struct{}
	inflight atomic.Int64
	nextID   atomic.Int64

	statsMu sync.Mutex
	stats   Stats

	// Owned by the scheduler goroutine.
	running []*request
	waiting []*request
	ready   []bool // per block: its K/V are written
}

// Stats are counters since Start, for tests, metrics and benchmarks.
type Stats struct {
	Steps          int64
	PrefillTokens  int64 // tokens computed by prefill chunks
	DecodeTokens   int64 // tokens computed by decodes
	Generated      int64 // tokens sampled
	Preemptions    int64
	CachedTokens   int64         // prompt tokens served from the prefix cache
	StepTime       time.Duration // scheduling, forward pass, sampling, streaming
	ForwardTime    time.Duration // part of StepTime in the runner
	DecodeSteps    int64         // steps that ran only decodes
	DecodeStepTime time.Duration // part of StepTime in those steps
	// DecodeStepTokens counts the tokens of decode-only steps.
	DecodeStepTokens int64
	Running          int
	Waiting          int
	UsedBlocks       int // blocks referenced by sequences
	FreeBlocks       int // free plus evictable cached blocks
	TotalBlocks      int
	MaxBatchTokens   int
}

// New builds an engine for m; it allocates the KV pool but starts nothing.
func New(m *Model, cfg Config) (*Engine, error) {
	cfg, err := cfg.withDefaults(m)
	if err != nil {
		return nil, err
	}
	r, err := cpu.New(m.LM, cpu.Config{NumBlocks: cfg.KVBlocks, BlockTokens: cfg.BlockTokens, Threads: cfg.Threads, Kernels: cfg.Kernels})
	if err != nil {
		return nil, err
	}
	cfg.Kernels = r.Kernels()
	e := &Engine{
		m: m, cfg: cfg, runner: r,
		kv:     kvcache.New(cfg.KVBlocks, cfg.BlockTokens),
		stops:  chattmpl.StopStrings(m.Family),
		submit: make(chan *request, cfg.MaxQueue+cfg.MaxSeqs),
		quit:   make(chan struct{}),
		done:   make(chan struct{}),
		ready:  make([]bool, cfg.KVBlocks),
	}
	e.stats.TotalBlocks = cfg.KVBlocks
	e.stats.FreeBlocks = cfg.KVBlocks
	return e, nil
}

// Config returns the configuration in effect, defaults filled in.
func (e *Engine) Config() Config { return e.cfg }

// Model returns the served model.
func (e *Engine) Model() *Model { return e.m }

// Start launches the scheduler goroutine. ctx is not retained; Close
// stops the engine.
func (e *Engine) Start(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.started || e.closed {
		return errors.New("engine: already started or closed")
	}
	e.started = true
	go e.loop()
	return nil
}

// Close stops the scheduler: a forward pass in progress is abandoned at
// the next layer, and every request still queued or running ends with
// accel.ErrClosed and its blocks are freed. It waits for the
// scheduler to stop or ctx to end, and is idempotent. It does not close
// the Model.
func (e *Engine) Close(ctx context.Context) error {
	e.mu.Lock()
	first := !e.closed
	e.closed = true
	started := e.started
	e.mu.Unlock()
	if first {
		close(e.quit)
		e.runner.Abort() // do not wait for a long forward pass
	}
	if !started {
		return nil
	}
	select {
	case <-e.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Stats returns a snapshot of the counters.
func (e *Engine) Stats() Stats {
	e.statsMu.Lock()
	defer e.statsMu.Unlock()
	return e.stats
}

// Models lists the one model the engine serves.
func (e *Engine) Models(context.Context) ([]accel.ModelInfo, error) {
	return []accel.ModelInfo{{ID: e.m.ID, OwnedBy: "outpost", Created: e.m.Created, ContextLength: e.cfg.ContextLength}}, nil
}

func (e *Engine) checkModel(id string) error {
	if id != "" && id != e.m.ID {
		return &accel.Error{Status: 404, Type: "invalid_request_error", Code: "model_not_found", Param: "model",
			Message: fmt.Sprintf("the model %q does not exist; this engine serves %q", id, e.m.ID)}
	}
	return nil
}

// Chat renders the conversation with the model's chat template and
// streams the assistant's reply. The family's end-of-turn markers are
// added to the stop strings. Tools are rendered into the prompt for the
// families that have a convention for them (chattmpl.RenderTools; for
// others they are left out, and a tool_choice that forces a call is
// refused), and the reply's tool calls and <think> reasoning are parsed
// out of its text (splitReply). tool_choice "required" or a tool's name
// is not enforced by constrained decoding: it only keeps the tools.
func (e *Engine) Chat(ctx context.Context, req accel.ChatRequest) (*accel.Stream, error) {
	if err := e.checkModel(req.Model); err != nil {
		return nil, err
	}
	if err := req.Validate(); err != nil {
		return nil, err
	}
	tools := req.Tools
	if req.ToolChoice == accel.ToolChoiceNone {
		tools = nil
	}
	forced := req.ToolChoice != "" && req.ToolChoice != accel.ToolChoiceAuto && req.ToolChoice != accel.ToolChoiceNone
	if forced && !chattmpl.SupportsTools(e.m.Family) {
		return nil, accel.Invalid("tool_choice", "this model's chat template (%v) has no tool calling", e.m.Family)
	}
	prompt, err := e.m.chatPrompt(req.Messages, tools)
	if err != nil {
		return nil, accel.Invalid("messages", "%v", err)
	}
	p := chattmpl.NewParser(e.m.Family, len(tools) > 0, e.m.Thinks)
	if !p.Active() {
		return e.start(ctx, prompt, req.Sampling, e.stops)
	}
	out, cancel, err := e.submitRequest(ctx, prompt, req.Sampling, e.stops)
	if err != nil {
		return nil, err
	}
	return splitReply(out, cancel, p), nil
}

// Complete streams the continuation of a raw prompt (BOS added as the
// vocabulary asks; special tokens in the text are not parsed).
func (e *Engine) Complete(ctx context.Context, req accel.CompletionRequest) (*accel.Stream, error) {
	if err := e.checkModel(req.Model); err != nil {
		return nil, err
	}
	if err := req.Validate(); err != nil {
		return nil, err
	}
	return e.start(ctx, e.m.encode(req.Prompt, true, false), req.Sampling, nil)
}

// Tokenize returns the prompt tokens a completion request would use.
func (e *Engine) Tokenize(text string) []int32 { return e.m.encode(text, true, false) }

// params maps API sampling fields to the sampler's, with OpenAI's defaults.
func params(s accel.Sampling, extraStops []string) sample.Params {
	p := sample.Params{Temperature: 1, TopP: 1, RepeatPenalty: 1, RepeatLastN: 64, TopK: s.TopK, MinP: s.MinP}
	if s.Temperature != nil {
		p.Temperature = *s.Temperature
	}
	if s.TopP != nil {
		p.TopP = *s.TopP
	}
	if s.RepetitionPenalty > 0 {
		p.RepeatPenalty = s.RepetitionPenalty
	}
	if s.Seed != nil {
		p.Seed = *s.Seed
	} else {
		p.Seed = rand.Uint64()
	}
	p.Stop = append(append([]string(nil), s.Stop...), extraStops...)
	return p
}

func (e *Engine) start(ctx context.Context, prompt []int32, s accel.Sampling, extraStops []string) (*accel.Stream, error) {
	out, cancel, err := e.submitRequest(ctx, prompt, s, extraStops)
	if err != nil {
		return nil, err
	}
	return accel.NewStream(out, cancel), nil
}

// submitRequest queues a generation and returns the channel its events
// come on and the function that cancels it.
func (e *Engine) submitRequest(ctx context.Context, prompt []int32, s accel.Sampling, extraStops []string) (<-chan accel.Event, context.CancelFunc, error) {
	if len(prompt) == 0 {
		return nil, nil, accel.Invalid("prompt", "the prompt is empty and the model adds no BOS token")
	}
	if len(prompt) >= e.cfg.ContextLength {
		return nil, nil, &accel.Error{Status: 400, Type: "invalid_request_error", Code: "context_length_exceeded", Param: "messages",
			Message: fmt.Sprintf("this model's maximum context length is %d tokens; the prompt has %d tokens, leaving no room for a completion", e.cfg.ContextLength, len(prompt))}
	}
	p := params(s, extraStops)
	sm, err := sample.New(p, e.m.LM.VocabSize)
	if err != nil {
		return nil, nil, accel.Invalid("", "%v", err)
	}
	maxTokens := e.cfg.ContextLength - len(prompt)
	if s.MaxTokens > 0 {
		maxTokens = min(maxTokens, s.MaxTokens)
	}
	rctx, cancel := context.WithCancel(ctx)
	out := make(chan accel.Event, min(e.cfg.StreamBuffer, maxTokens+2))
	r := &request{
		id: e.nextID.Add(1), ctx: rctx, cancel: cancel, out: out,
		prompt: len(prompt), tokens: prompt, maxTokens: maxTokens,
		sampler: sm, dec: e.m.Tok.NewDecoder(tokenizer.DecodeOptions{}), stop: sample.NewStopMatcher(p.Stop),
		tok: e.m.Tok, created: time.Now(),
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed || !e.started {
		cancel()
		return nil, nil, accel.ErrClosed
	}
	if e.inflight.Add(1) > int64(e.cfg.MaxQueue+e.cfg.MaxSeqs) {
		e.inflight.Add(-1)
		cancel()
		return nil, nil, accel.ErrOverloaded
	}
	e.submit <- r // never blocks: capacity is the inflight limit
	return out, cancel, nil
}
