package agenthost

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/outpost-iot/outpost/wire"
)

// Defaults of Config.
const (
	// DefaultMailboxSize is the default bound on an agent's queued frames:
	// large enough that 1,000 concurrent calls from one client all get in.
	DefaultMailboxSize = 4096
	// DefaultIdleTimeout is how long an agent stays awake without events.
	DefaultIdleTimeout = time.Minute
	// DefaultMaxDBBytes is the default size cap of one agent's database.
	DefaultMaxDBBytes = 1 << 30
	// DefaultMaxAgentsPerClass bounds how many agents of one class exist.
	DefaultMaxAgentsPerClass = 100_000
	// DefaultMaxDiskBytes bounds the agent databases together.
	DefaultMaxDiskBytes = 16 << 30
)

// Config configures a Host. Zero fields take the defaults.
type Config struct {
	// DataDir is the gateway's data directory; agent databases are
	// DataDir/agents/{class}/{name}.db. Required.
	DataDir string
	// MailboxSize bounds the inbound frames queued for one agent; when
	// it is full, new frames are refused with wire.ErrBusy. Connects and
	// closes are never refused. Default 4096.
	MailboxSize int
	// IdleTimeout is how long an agent without events stays awake before
	// it hibernates: its Go value and database handle are released, its
	// connections stay attached. Default 1m.
	IdleTimeout time.Duration
	// MaxDBBytes caps one agent's database; writes beyond it fail with
	// ErrStorageFull and other agents are not affected. Default 1 GiB.
	MaxDBBytes int64
	// MaxAgentsPerClass bounds the agents of one class that may exist (have
	// a database); addressing one more fails with wire.ErrLimit. Default
	// 100000.
	MaxAgentsPerClass int
	// MaxDiskBytes bounds the agent databases together; when they use more,
	// new agents are refused with wire.ErrLimit. Default 16 GiB.
	MaxDiskBytes int64
	// MaxAwake bounds the agents awake at once: beyond it the least
	// recently active idle ones hibernate early. An awake agent holds three
	// open files (database, -wal, -shm). Default: what the process's
	// open-file limit allows, less a reserve for connections, at most
	// 10000.
	MaxAwake int
}

// Validate checks the configuration.
func (c Config) Validate() error {
	switch {
	case c.DataDir == "":
		return errors.New("agenthost: no data directory")
	case c.MailboxSize < 0, c.IdleTimeout < 0, c.MaxDBBytes < 0, c.MaxAgentsPerClass < 0, c.MaxDiskBytes < 0, c.MaxAwake < 0:
		return errors.New("agenthost: negative limit")
	case c.MaxDBBytes != 0 && c.MaxDBBytes < 64<<10:
		return fmt.Errorf("agenthost: database cap %d bytes is below 64 KiB", c.MaxDBBytes)
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.MailboxSize == 0 {
		c.MailboxSize = DefaultMailboxSize
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.MaxDBBytes == 0 {
		c.MaxDBBytes = DefaultMaxDBBytes
	}
	if c.MaxAgentsPerClass == 0 {
		c.MaxAgentsPerClass = DefaultMaxAgentsPerClass
	}
	if c.MaxDiskBytes == 0 {
		c.MaxDiskBytes = DefaultMaxDiskBytes
	}
	if c.MaxAwake == 0 {
		c.MaxAwake = defaultMaxAwake()
	}
	return c
}

// Options are the Host's collaborators.
type Options struct {
	// Logger receives the host's logs. Default slog.Default().
	Logger *slog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Inference is what Context.Inference gives agents; nil when the
	// gateway has no engine.
	Inference Inference
}

// Host runs agents: one instance per address, each on its own goroutine
// while it has work, fed by a bounded mailbox, with its own SQLite
// database. It implements the agent side of package protocol.
type Host struct {
	cfg Config
	log *slog.Logger
	now func() time.Time

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // instance goroutines and the janitor

	wake       *wakeups // set by Start
	inference  Inference
	awakeCount atomic.Int64
	evict      chan struct{} // wakes the janitor to hibernate early

	mu      sync.Mutex
	classes map[string]Class
	agents  map[wire.Address]*instance
	counts  map[string]int // existing databases per class
	disk    int64          // bytes of agent databases, refreshed by the janitor
	started bool
	closed  bool
}

// New builds a Host. Register classes, then Start it.
func New(cfg Config, opts Options) (*Host, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Host{
		cfg: cfg.withDefaults(), log: opts.Logger, now: opts.Now, ctx: ctx, cancel: cancel, inference: opts.Inference,
		classes: map[string]Class{}, agents: map[wire.Address]*instance{}, counts: map[string]int{},
		evict: make(chan struct{}, 1),
	}, nil
}

var className = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

// Register adds an agent class. It must be called before Start.
func (h *Host) Register(c Class) error {
	if !className.MatchString(c.Name) {
		return fmt.Errorf("agenthost: class name %q is not kebab-case", c.Name)
	}
	if c.New == nil {
		return fmt.Errorf("agenthost: class %q has no constructor", c.Name)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.started {
		return fmt.Errorf("agenthost: class %q registered after Start", c.Name)
	}
	if _, dup := h.classes[c.Name]; dup {
		return fmt.Errorf("agenthost: class %q registered twice", c.Name)
	}
	h.classes[c.Name] = c
	return nil
}

// Start counts the existing agents and starts the janitor that hibernates
// idle agents.
func (h *Host) Start(ctx context.Context) error {
	if err := os.MkdirAll(filepath.Join(h.cfg.DataDir, "agents"), 0o750); err != nil {
		return fmt.Errorf("agenthost: %w", err)
	}
	h.mu.Lock()
	h.started = true
	h.mu.Unlock()
	h.refreshUsage()
	w, err := openWakeups(h)
	if err != nil {
		return fmt.Errorf("agenthost: %w", err)
	}
	h.wake = w
	h.wg.Add(2)
	go h.janitor()
	go w.run()
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

// instance returns the agent at a, creating its in-memory record when
// something first addresses it. The database is created when the agent
// first wakes (instance.wake), within the limits.
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

// admit checks the limits before an agent's database is created.
func (h *Host) admit(a wire.Address) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.counts[a.Class] >= h.cfg.MaxAgentsPerClass {
		return fmt.Errorf("agent %s: %d agents of class %s exist (limit %d): %w", a, h.counts[a.Class], a.Class, h.cfg.MaxAgentsPerClass, wire.ErrLimit)
	}
	if h.disk >= h.cfg.MaxDiskBytes {
		return fmt.Errorf("agent %s: agent databases use %d bytes (limit %d): %w", a, h.disk, h.cfg.MaxDiskBytes, wire.ErrLimit)
	}
	h.counts[a.Class]++
	return nil
}

// refreshUsage recounts the agent databases and their size.
func (h *Host) refreshUsage() {
	counts := map[string]int{}
	var disk int64
	root := filepath.Join(h.cfg.DataDir, "agents")
	classes, _ := os.ReadDir(root)
	for _, c := range classes {
		if !c.IsDir() {
			continue
		}
		files, _ := os.ReadDir(filepath.Join(root, c.Name()))
		for _, f := range files {
			info, err := f.Info()
			if err != nil {
				continue
			}
			if filepath.Ext(f.Name()) == ".db" {
				counts[c.Name()]++
			}
			disk += info.Size()
		}
	}
	h.mu.Lock()
	h.counts, h.disk = counts, disk
	h.mu.Unlock()
}

// janitor hibernates idle agents, forgets hibernated ones that nothing
// refers to, and refreshes the disk usage.
func (h *Host) janitor() {
	defer h.wg.Done()
	tick := h.cfg.IdleTimeout / 4
	tick = min(max(tick, 50*time.Millisecond), 5*time.Second)
	t := time.NewTicker(tick)
	defer t.Stop()
	lastUsage := h.now()
	for {
		select {
		case <-h.ctx.Done():
			return
		case <-h.evict:
			h.evictAwake()
			continue
		case <-t.C:
		}
		now := h.now()
		h.mu.Lock()
		agents := make([]*instance, 0, len(h.agents))
		for _, in := range h.agents {
			agents = append(agents, in)
		}
		h.mu.Unlock()
		for _, in := range agents {
			switch in.idle(now) {
			case idleHibernate:
				_ = in.post(event{kind: evHibernate}, false)
			case idleForget:
				h.forget(in)
			}
		}
		if now.Sub(lastUsage) > 30*time.Second {
			h.refreshUsage()
			lastUsage = now
		}
	}
}

// kickEviction asks the janitor to hibernate agents early.
func (h *Host) kickEviction() {
	select {
	case h.evict <- struct{}{}:
	default:
	}
}

// evictAwake hibernates the least recently active idle agents until a
// tenth of MaxAwake is free again.
func (h *Host) evictAwake() {
	over := h.awakeCount.Load() - int64(h.cfg.MaxAwake) + int64(h.cfg.MaxAwake/10)
	if over <= 0 {
		return
	}
	type cand struct {
		in   *instance
		last time.Time
	}
	var cands []cand
	h.mu.Lock()
	for _, in := range h.agents {
		in.mu.Lock()
		if in.awake && !in.running && len(in.queue) == 0 {
			cands = append(cands, cand{in, in.lastActive})
		}
		in.mu.Unlock()
	}
	h.mu.Unlock()
	sort.Slice(cands, func(i, j int) bool { return cands[i].last.Before(cands[j].last) })
	for i := 0; i < len(cands) && int64(i) < over; i++ {
		_ = cands[i].in.post(event{kind: evHibernate}, false)
	}
}

// forget drops a hibernated instance without connections or work from the
// map; its database stays on disk and the next event recreates it.
func (h *Host) forget(in *instance) {
	h.mu.Lock()
	defer h.mu.Unlock()
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.forgettable() && h.agents[in.addr] == in {
		in.forgotten = true
		delete(h.agents, in.addr)
	}
}

// post queues an event for the agent at a.
func (h *Host) post(a wire.Address, e event, bounded bool) error {
	for {
		in, err := h.instance(a)
		if err != nil {
			return err
		}
		if err := in.post(e, bounded); err != errForgotten {
			return err
		}
	}
}

// Connect queues the acceptance of c by its agent.
func (h *Host) Connect(c wire.Conn) error {
	return h.post(c.Agent(), event{kind: evConnect, conn: c}, false)
}

// Disconnect queues the agent's on-close for c.
func (h *Host) Disconnect(c wire.Conn) {
	_ = h.post(c.Agent(), event{kind: evClose, conn: c}, false)
}

// Deliver queues an inbound frame; done runs once the agent handled it.
func (h *Host) Deliver(_ context.Context, c wire.Conn, m wire.Inbound, done func(error)) error {
	return h.post(c.Agent(), event{kind: evInbound, conn: c, in: m, done: done}, true)
}

// ServeHTTP hands a plain HTTP request to the agent and waits for its
// answer.
func (h *Host) ServeHTTP(w http.ResponseWriter, r *http.Request, a wire.Address) {
	served := make(chan error, 1)
	if err := h.post(a, event{kind: evRequest, w: w, r: r, done: func(err error) { served <- err }}, true); err != nil {
		httpError(w, err)
		return
	}
	// The instance owns w until it has run the request, so wait for it
	// even when the client has gone (the handler sees r's context).
	if err := <-served; err != nil && !errors.Is(err, errAnswered) {
		httpError(w, err)
	}
}

// errAnswered marks a request event whose handler already wrote its answer.
var errAnswered = errors.New("answered")

func httpError(w http.ResponseWriter, err error) {
	code := http.StatusInternalServerError
	switch {
	case errors.Is(err, wire.ErrUnknownAgent):
		code = http.StatusNotFound
	case errors.Is(err, wire.ErrBusy), errors.Is(err, wire.ErrLimit), errors.Is(err, wire.ErrClosed):
		code = http.StatusServiceUnavailable
	case errors.Is(err, wire.ErrMalformed):
		code = http.StatusBadRequest
	}
	http.Error(w, err.Error(), code)
}

// Close stops every agent: running handlers finish, queued events fail
// with ErrHostClosed, databases are closed; Close waits for all of it or
// for ctx.
func (h *Host) Close(ctx context.Context) error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
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
	go func() {
		h.wg.Wait()
		for _, in := range agents {
			in.release()
		}
		if h.wake != nil {
			h.wake.db.Close()
		}
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
