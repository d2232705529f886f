package agenthost

import (
	"fmt"
	"net/http"
	"reflect"
	"runtime/debug"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/outpost-iot/outpost/wire"
)

type eventKind uint8

const (
	evConnect eventKind = iota
	evClose
	evInbound
	evRequest
)

// event is one unit of an agent's work.
type event struct {
	kind eventKind
	conn wire.Conn
	in   wire.Inbound
	w    http.ResponseWriter
	r    *http.Request
	done func(error) // may be nil
}

func (e event) finish(err error) {
	if e.done != nil {
		e.done(err)
	}
}

// instance is one agent: its mailbox, and while it has work, a goroutine
// that runs its events one at a time in arrival order.
type instance struct {
	h     *Host
	class Class
	addr  wire.Address

	mu       sync.Mutex
	queue    []event
	bounded  int // queued events that count against the mailbox bound
	running  bool
	closed   bool
	started  bool // OnStart has run
	ctx      *Context
	agent    Agent
	callable map[string]Callable
}

func newInstance(h *Host, c Class, a wire.Address) *instance {
	return &instance{h: h, class: c, addr: a}
}

// post queues an event. bounded events (frames, requests) are refused with
// wire.ErrBusy when the mailbox is full; connects and closes always get in,
// so an agent never misses a connection's end.
func (in *instance) post(e event, bounded bool) error {
	in.mu.Lock()
	if in.closed {
		in.mu.Unlock()
		return ErrHostClosed
	}
	if bounded && in.bounded >= in.h.cfg.MailboxSize {
		in.mu.Unlock()
		return fmt.Errorf("agent %s: %d frames queued: %w", in.addr, in.bounded, wire.ErrBusy)
	}
	if bounded {
		in.bounded++
		e.done = in.uncount(e.done)
	}
	in.queue = append(in.queue, e)
	start := !in.running
	in.running = true
	if start {
		in.h.wg.Add(1)
	}
	in.mu.Unlock()
	if start {
		go in.run()
	}
	return nil
}

// uncount wraps done so that the event stops counting against the bound
// when it has been handled.
func (in *instance) uncount(done func(error)) func(error) {
	return func(err error) {
		in.mu.Lock()
		in.bounded--
		in.mu.Unlock()
		if done != nil {
			done(err)
		}
	}
}

// run handles queued events until the mailbox is empty.
func (in *instance) run() {
	defer in.h.wg.Done()
	for {
		in.mu.Lock()
		if len(in.queue) == 0 || in.closed {
			rest := in.queue
			in.queue = nil
			in.running = false
			in.mu.Unlock()
			for _, e := range rest {
				e.finish(ErrHostClosed)
			}
			return
		}
		e := in.queue[0]
		in.queue[0] = event{}
		in.queue = in.queue[1:]
		in.mu.Unlock()
		e.finish(in.handle(e))
	}
}

func (in *instance) close() {
	in.mu.Lock()
	in.closed = true
	in.mu.Unlock()
}

// handle runs one event; a panic in agent code fails the event, not the
// gateway.
func (in *instance) handle(e event) (err error) {
	defer func() {
		if p := recover(); p != nil {
			in.h.log.Error("agent panicked", "agent", in.addr.String(), "panic", p, "stack", string(debug.Stack()))
			err = fmt.Errorf("agent %s panicked: %v: %w", in.addr, p, wire.ErrFailed)
			if e.kind == evInbound && e.in.Kind == wire.InRPC {
				in.send(e.conn, wire.RPCErrorFrame(e.in.ID, "Method "+e.in.Method+" failed: internal error"))
			}
			if e.kind == evRequest {
				http.Error(e.w, "agent failed", http.StatusInternalServerError)
			}
		}
	}()
	if err := in.start(); err != nil {
		return err
	}
	switch e.kind {
	case evConnect:
		in.connect(e.conn)
	case evClose:
		delete(in.ctx.conns, e.conn.Key())
		if h, ok := in.agent.(CloseHook); ok {
			h.OnClose(in.ctx, e.conn)
		}
	case evRequest:
		if h, ok := in.agent.(RequestHook); ok {
			h.OnRequest(in.ctx, e.w, e.r)
		} else {
			http.Error(e.w, "agent "+in.addr.String()+" does not answer HTTP requests", http.StatusNotFound)
		}
	case evInbound:
		return in.inbound(e.conn, e.in)
	}
	return nil
}

// start builds the agent and runs its OnStart before its first event.
func (in *instance) start() error {
	if in.started {
		return nil
	}
	in.ctx = newContext(in)
	in.agent = in.class.New(in.ctx)
	if c, ok := in.agent.(Callables); ok {
		in.callable = c.Callables()
	}
	if s, ok := in.agent.(InitialStater); ok {
		in.ctx.state = s.InitialState()
	}
	if h, ok := in.agent.(StartHook); ok {
		if err := h.OnStart(in.ctx); err != nil {
			in.agent = nil
			return fmt.Errorf("agent %s: start: %w: %w", in.addr, err, wire.ErrFailed)
		}
	}
	in.started = true
	return nil
}

// connect accepts a connection as the SDK's Agent.onConnect does: decide
// on protocol frames once, send identity and state, run OnConnect.
func (in *instance) connect(c wire.Conn) {
	on := c.ProtocolEnabled()
	if h, ok := in.agent.(ProtocolHook); ok {
		on = h.ShouldSendProtocolMessages(in.ctx, c, on)
	}
	c.SetProtocolEnabled(on)
	in.ctx.conns[c.Key()] = c
	in.send(c, wire.IdentityFrame(in.addr))
	if st := in.ctx.state; st != nil {
		in.send(c, wire.StateFrame(st))
	}
	if h, ok := in.agent.(ConnectHook); ok {
		if err := h.OnConnect(in.ctx, c); err != nil {
			in.ctx.reportError(fmt.Errorf("on-connect of %s: %w", c.ID(), err))
		}
	}
}

func (in *instance) inbound(c wire.Conn, m wire.Inbound) error {
	switch m.Kind {
	case wire.InState:
		return in.clientState(c, m.State)
	case wire.InRPC:
		in.call(c, m)
		return nil
	}
	if h, ok := in.agent.(MessageHook); ok {
		if err := h.OnMessage(in.ctx, c, m); err != nil {
			return fmt.Errorf("agent %s: %w: %w", in.addr, err, wire.ErrFailed)
		}
	}
	return nil
}

// clientState applies a client's state update (docs/protocol.md rule 9.3).
func (in *instance) clientState(c wire.Conn, next any) error {
	if c.Readonly() {
		in.send(c, wire.StateErrorFrame(wire.StateReadonly))
		return nil
	}
	if v, ok := in.agent.(StateValidator); ok {
		if err := v.ValidateStateChange(in.ctx, next, c); err != nil {
			in.h.log.Debug("state update rejected", "agent", in.addr.String(), "conn", c.ID(), "error", err)
			in.send(c, wire.StateErrorFrame(wire.StateRejected))
			return nil
		}
	}
	in.ctx.setState(next, c)
	return nil
}

// call runs a callable and answers with rpc frames (rule 9.4).
func (in *instance) call(c wire.Conn, m wire.Inbound) {
	fn, ok := in.callable[m.Method]
	if !ok {
		msg := "Method " + m.Method + " does not exist"
		if in.hasGoMethod(m.Method) {
			msg = "Method " + m.Method + " is not callable"
		}
		in.send(c, wire.RPCErrorFrame(m.ID, msg))
		return
	}
	call := &Call{ID: m.ID, Method: m.Method, Args: m.Args, Conn: c}
	result, err := fn(in.ctx, call)
	if err != nil {
		in.send(c, wire.RPCErrorFrame(m.ID, err.Error()))
		return
	}
	in.send(c, wire.RPCResultFrame(m.ID, result, true))
}

// hasGoMethod reports whether the agent has an exported Go method of that
// name (first letter upper-cased) that is not registered as callable.
func (in *instance) hasGoMethod(name string) bool {
	r, n := utf8.DecodeRuneInString(name)
	if r == utf8.RuneError || strings.ContainsAny(name, ". ") {
		return false
	}
	return reflect.ValueOf(in.agent).MethodByName(string(unicode.ToUpper(r)) + name[n:]).IsValid()
}

func (in *instance) send(c wire.Conn, f wire.Frame) {
	if err := c.Send(f); err != nil {
		in.h.log.Debug("frame not sent", "agent", in.addr.String(), "conn", c.ID(), "error", err)
	}
}
