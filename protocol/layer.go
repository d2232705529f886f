package protocol

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/outpost-iot/outpost/codecs"
	"github.com/outpost-iot/outpost/wire"
)

// Agents is the agent host as the protocol layer uses it. Every method but
// KnownClass and ServeHTTP queues an event in the agent's mailbox and
// returns without waiting for it; events of one agent run one at a time in
// the order they were queued.
type Agents interface {
	// KnownClass reports whether an agent class of that name exists.
	KnownClass(class string) bool
	// Connect queues the agent's acceptance of c: the agent decides
	// whether c gets protocol frames (c.SetProtocolEnabled), sends identity
	// and state, and runs its on-connect.
	Connect(c wire.Conn) error
	// Disconnect queues the agent's on-close for c. It never fails for
	// want of room.
	Disconnect(c wire.Conn)
	// Deliver queues one inbound frame from c. done, when not nil, is
	// called once the agent has handled it, with the handler's error.
	// Deliver fails at once with an error wrapping wire.ErrBusy when the
	// mailbox is full.
	Deliver(ctx context.Context, c wire.Conn, in wire.Inbound, done func(error)) error
	// ServeHTTP hands a plain HTTP request to the agent and returns when it
	// has answered.
	ServeHTTP(w http.ResponseWriter, r *http.Request, a wire.Address)
}

// Config bounds the frames of each transport.
type Config struct {
	// MaxFrameMQTT is the largest frame in bytes on MQTT. Default 256 KiB
	// (the broker's mqtt_max_frame).
	MaxFrameMQTT int
	// MaxFrameWebSocket is the largest frame in bytes on the agents
	// WebSocket. Default 4 MiB (the broker's ws_max_frame).
	MaxFrameWebSocket int
	// MaxDepth and MaxItems bound the nesting and the length of arrays and
	// maps in a frame; defaults as in codecs.Limits.
	MaxDepth int
	MaxItems int
}

// Options are the Layer's collaborators.
type Options struct {
	// Logger receives the layer's logs. Default slog.Default().
	Logger *slog.Logger
	// Registry receives its metrics. Default: none are exported.
	Registry prometheus.Registerer
}

// Layer is the protocol layer. It implements broker.Agents.
type Layer struct {
	agents   Agents
	log      *slog.Logger
	codecs   map[string]map[string]codecs.Codec // transport -> codec name -> codec
	maxFrame map[string]int                     // transport -> largest frame in bytes

	mu    sync.Mutex
	conns map[string]*link // by link key

	metrics *metrics
}

// New builds a Layer that hands frames to agents.
func New(cfg Config, agents Agents, opts Options) (*Layer, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if cfg.MaxFrameMQTT == 0 {
		cfg.MaxFrameMQTT = codecs.DefaultMaxSizeMQTT
	}
	if cfg.MaxFrameWebSocket == 0 {
		cfg.MaxFrameWebSocket = codecs.DefaultMaxSizeWebSocket
	}
	l := &Layer{
		agents:   agents,
		log:      opts.Logger,
		codecs:   map[string]map[string]codecs.Codec{},
		maxFrame: map[string]int{wire.MQTT: cfg.MaxFrameMQTT, wire.WebSocket: cfg.MaxFrameWebSocket},
		conns:    map[string]*link{},
		metrics:  newMetrics(opts.Registry),
	}
	for transport, size := range map[string]int{wire.MQTT: cfg.MaxFrameMQTT, wire.WebSocket: cfg.MaxFrameWebSocket} {
		l.codecs[transport] = map[string]codecs.Codec{}
		for _, name := range []string{wire.JSON, wire.CBOR} {
			c, err := codecs.New(name, codecs.Limits{MaxSize: size, MaxDepth: cfg.MaxDepth, MaxItems: cfg.MaxItems})
			if err != nil {
				return nil, fmt.Errorf("protocol: %w", err)
			}
			l.codecs[transport][name] = c
		}
	}
	return l, nil
}

// KnownClass reports whether an agent class of that name exists.
func (l *Layer) KnownClass(class string) bool { return l.agents.KnownClass(class) }

// ServeAgentHTTP hands a plain HTTP request to the agent (rule 8.5).
func (l *Layer) ServeAgentHTTP(w http.ResponseWriter, r *http.Request, a wire.Address) {
	if !l.agents.KnownClass(a.Class) {
		http.Error(w, "unknown agent class "+a.Class, http.StatusNotFound)
		return
	}
	l.agents.ServeHTTP(w, r, a)
}

func linkKey(key string, a wire.Address) string { return key + "\x00" + a.Class + "\x00" + a.Name }

// newLink builds the shared part of a connection, fixing its codec (rule 6.3).
func (l *Layer) newLink(j wire.Join) (*link, error) {
	byName, ok := l.codecs[j.Transport]
	if !ok {
		return nil, fmt.Errorf("protocol: unknown transport %q", j.Transport)
	}
	c, ok := byName[j.Options.Codec]
	if !ok {
		return nil, fmt.Errorf("protocol: unknown codec %q: %w", j.Options.Codec, wire.ErrMalformed)
	}
	lk := &link{key: linkKey(j.Key, j.Agent), join: j, codec: c, l: l}
	lk.readonly.Store(j.Options.Readonly)
	return lk, nil
}

// Join attaches a connection to an agent (rules 6.1, 7.3): the policy is
// fixed now, and the agent's acceptance is queued.
func (l *Layer) Join(ctx context.Context, j wire.Join) error {
	if !l.agents.KnownClass(j.Agent.Class) {
		return fmt.Errorf("join %s: %w", j.Agent, wire.ErrUnknownAgent)
	}
	lk, err := l.newLink(j)
	if err != nil {
		return err
	}
	c := &conn{link: lk, out: j.Out, joined: true}
	l.mu.Lock()
	old := l.conns[lk.key]
	l.conns[lk.key] = lk
	l.mu.Unlock()
	if old != nil && old.closed.CompareAndSwap(false, true) {
		// The transport joined the same key twice (an MQTT client
		// subscribing to /out again): the old connection leaves first.
		l.agents.Disconnect(&conn{link: old, out: old.join.Out, joined: true})
	}
	if err := l.agents.Connect(c); err != nil {
		l.mu.Lock()
		if l.conns[lk.key] == lk {
			delete(l.conns, lk.key)
		}
		l.mu.Unlock()
		return fmt.Errorf("join %s: %w", j.Agent, err)
	}
	l.metrics.conns.WithLabelValues(j.Transport).Inc()
	return nil
}

// Leave detaches a connection; the agent's on-close is queued.
func (l *Layer) Leave(key string, a wire.Address) {
	k := linkKey(key, a)
	l.mu.Lock()
	lk := l.conns[k]
	delete(l.conns, k)
	l.mu.Unlock()
	if lk == nil || !lk.closed.CompareAndSwap(false, true) {
		return
	}
	l.metrics.conns.WithLabelValues(lk.join.Transport).Dec()
	l.agents.Disconnect(&conn{link: lk, out: lk.join.Out, joined: true})
}

// sender returns the connection an inbound frame is from (rule 7.4): the
// joined connection, or one that exists only for this frame, with its
// replies going to r.Reply when that is set.
func (l *Layer) sender(r wire.Receive) (*conn, error) {
	var lk *link
	if r.Key != "" {
		l.mu.Lock()
		lk = l.conns[linkKey(r.Key, r.From.Agent)]
		l.mu.Unlock()
	}
	if lk != nil {
		c := &conn{link: lk, out: lk.join.Out, joined: true}
		if r.Reply != nil {
			c.out = r.Reply
		}
		return c, nil
	}
	j := r.From
	if j.Key == "" {
		j.Key = r.Key
	}
	lk, err := l.newLink(j)
	if err != nil {
		return nil, err
	}
	return &conn{link: lk, out: r.Reply}, nil
}

// Receive decodes one inbound frame, classifies it (rule 6.5) and queues it
// for the agent; with r.Wait it returns once the agent has handled it.
// When the frame cannot be handled the sender gets an error frame in its
// codec (rule 6.7) and the returned error wraps the wire error.
func (l *Layer) Receive(ctx context.Context, r wire.Receive) error {
	if !l.agents.KnownClass(r.From.Agent.Class) {
		return fmt.Errorf("receive for %s: %w", r.From.Agent, wire.ErrUnknownAgent)
	}
	c, err := l.sender(r)
	if err != nil {
		return err
	}
	in, err := c.classify(r.Data, r.Binary)
	l.metrics.received.WithLabelValues(c.join.Transport, inboundKind(in.Kind, err)).Inc()
	if err != nil {
		return err // classify has answered the sender
	}
	var done chan error
	var doneFn func(error)
	if r.Wait {
		done = make(chan error, 1)
		doneFn = func(err error) { done <- err }
	}
	if err := l.agents.Deliver(ctx, c, in, doneFn); err != nil {
		c.refuse(in, err)
		return err
	}
	if done == nil {
		return nil
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("waiting for %s: %w: %w", c.join.Agent, wire.ErrFailed, ctx.Err())
	}
}

// refuse tells the sender that its frame was not taken, in the terms of
// the frame: an rpc error for a call, cf_agent_state_error for a state
// update, an outpost_error frame otherwise.
func (c *conn) refuse(in wire.Inbound, err error) {
	var f wire.Frame
	switch in.Kind {
	case wire.InRPC:
		f = wire.RPCErrorFrame(in.ID, err.Error())
	case wire.InState:
		f = wire.StateErrorFrame(err.Error())
	default:
		f = wire.ErrorFrame(wire.ErrorCode(err), err.Error())
	}
	if serr := c.Send(f); serr != nil && !errors.Is(serr, wire.ErrSlowConsumer) {
		c.l.log.Debug("error frame not sent", "conn", c.String(), "error", serr)
	}
}
