package agenthost

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"sync"

	"github.com/outpost-iot/outpost/wire"
)

// DefaultMailboxSize is the default bound on an agent's queued frames:
// large enough that 1,000 concurrent calls from one client all get in.
const DefaultMailboxSize = 4096

// Config configures a Host.
type Config struct {
	// MailboxSize bounds the inbound frames queued for one agent; when
	// it is full, new frames are refused with wire.ErrBusy. Connects and
	// closes are never refused. Default 4096.
	MailboxSize int
}

// Validate checks the configuration.
func (c Config) Validate() error {
	if c.MailboxSize < 0 {
		return fmt.Errorf("agenthost: mailbox size %d is negative", c.MailboxSize)
	}
	return nil
}

// Options are the Host's collaborators.
type Options struct {
	// Logger receives the host's logs. Default slog.Default().
	Logger *slog.Logger
}

// Host runs agents: one instance per address, each on its own goroutine
// while it has work, fed by a bounded mailbox. It implements the agent side
// of package protocol.
type Host struct {
	cfg Config
	log *slog.Logger

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	classes map[string]Class
	agents  map[wire.Address]*instance
	closed  bool
}

// New builds a Host. Register classes before handing it to the protocol
// layer.
func New(cfg Config, opts Options) (*Host, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.MailboxSize == 0 {
		cfg.MailboxSize = DefaultMailboxSize
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Host{
		cfg: cfg, log: opts.Logger, ctx: ctx, cancel: cancel,
		classes: map[string]Class{}, agents: map[wire.Address]*instance{},
	}, nil
}

var className = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

// Register adds an agent class.
func (h *Host) Register(c Class) error {
	if !className.MatchString(c.Name) {
		return fmt.Errorf("agenthost: class name %q is not kebab-case", c.Name)
	}
	if c.New == nil {
		return fmt.Errorf("agenthost: class %q has no constructor", c.Name)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, dup := h.classes[c.Name]; dup {
		return fmt.Errorf("agenthost: class %q registered twice", c.Name)
	}
	h.classes[c.Name] = c
	return nil
}

// KnownClass reports whether a class of that name is registered.
func (h *Host) KnownClass(name string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	_, ok := h.classes[name]
	return ok
}

// ErrHostClosed is returned for events that arrive after Close.
var ErrHostClosed = fmt.Errorf("agent host closed: %w", wire.ErrClosed)

// instance returns the agent at a, creating it when something first
// addresses it.
func (h *Host) instance(a wire.Address) (*instance, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, ErrHostClosed
	}
	if in, ok := h.agents[a]; ok {
		return in, nil
	}
	class, ok := h.classes[a.Class]
	if !ok {
		return nil, fmt.Errorf("agent %s: %w", a, wire.ErrUnknownAgent)
	}
	if a.Name == "" {
		return nil, fmt.Errorf("agent %s: empty name: %w", a, wire.ErrMalformed)
	}
	in := newInstance(h, class, a)
	h.agents[a] = in
	return in, nil
}

// Connect queues the acceptance of c by its agent.
func (h *Host) Connect(c wire.Conn) error {
	in, err := h.instance(c.Agent())
	if err != nil {
		return err
	}
	return in.post(event{kind: evConnect, conn: c}, false)
}

// Disconnect queues the agent's on-close for c.
func (h *Host) Disconnect(c wire.Conn) {
	in, err := h.instance(c.Agent())
	if err != nil {
		return
	}
	_ = in.post(event{kind: evClose, conn: c}, false)
}

// Deliver queues an inbound frame; done runs once the agent handled it.
func (h *Host) Deliver(_ context.Context, c wire.Conn, m wire.Inbound, done func(error)) error {
	in, err := h.instance(c.Agent())
	if err != nil {
		return err
	}
	return in.post(event{kind: evInbound, conn: c, in: m, done: done}, true)
}

// ServeHTTP hands a plain HTTP request to the agent and waits for its
// answer.
func (h *Host) ServeHTTP(w http.ResponseWriter, r *http.Request, a wire.Address) {
	in, err := h.instance(a)
	if err != nil {
		httpError(w, err)
		return
	}
	served := make(chan error, 1)
	if err := in.post(event{kind: evRequest, w: w, r: r, done: func(err error) { served <- err }}, true); err != nil {
		httpError(w, err)
		return
	}
	// The instance owns w until it has run the request, so wait for it
	// even when the client has gone (the handler sees r's context).
	if err := <-served; errors.Is(err, wire.ErrClosed) {
		httpError(w, err)
	}
}

func httpError(w http.ResponseWriter, err error) {
	code := http.StatusInternalServerError
	switch {
	case errors.Is(err, wire.ErrUnknownAgent):
		code = http.StatusNotFound
	case errors.Is(err, wire.ErrBusy), errors.Is(err, wire.ErrLimit):
		code = http.StatusServiceUnavailable
	case errors.Is(err, wire.ErrMalformed):
		code = http.StatusBadRequest
	case errors.Is(err, wire.ErrClosed):
		code = http.StatusServiceUnavailable
	}
	http.Error(w, err.Error(), code)
}

// Close stops every agent: queued events fail with ErrHostClosed, running
// handlers finish, and Close waits for the agents' goroutines or ctx.
func (h *Host) Close(ctx context.Context) error {
	h.mu.Lock()
	h.closed = true
	agents := make([]*instance, 0, len(h.agents))
	for _, in := range h.agents {
		agents = append(agents, in)
	}
	h.mu.Unlock()
	h.cancel()
	for _, in := range agents {
		in.close()
	}
	done := make(chan struct{})
	go func() { h.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
