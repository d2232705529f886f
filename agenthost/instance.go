package agenthost

import (
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"os"
	"reflect"
	"runtime/debug"
	"strings"
	"sync"
	"time"
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
	evHibernate
	evFunc    // run fn on the agent's goroutine (schedules, queue, admin)
	evDestroy // delete the agent
)

// event is one unit of an agent's work.
type event struct {
	kind eventKind
	conn wire.Conn
	in   wire.Inbound
	w    http.ResponseWriter
	r    *http.Request
	fn   func(*instance) error
	done func(error) // may be nil
}

func (e event) finish(err error) {
	if e.done != nil {
		e.done(err)
	}
}

// connEntry is an attached connection and its per-connection state, which
// live in the instance record and so survive hibernation.
type connEntry struct {
	conn  wire.Conn
	state any
	tags  []string
}

// instance is one agent. Its record (mailbox, connections) lives as long as
// the agent has connections or work; its Go value and database exist only
// while it is awake. A goroutine runs its events, one at a time in arrival
// order, only while it has some.
type instance struct {
	h     *Host
	class Class
	addr  wire.Address

	mu         sync.Mutex
	queue      []event
	bounded    int // queued events that count against the mailbox bound
	running    bool
	closed     bool // the host closed, or the janitor forgot this record
	forgotten  bool
	awake      bool
	lastActive time.Time
	conns      map[string]*connEntry // by Conn.Key

	// Owned by the running goroutine.
	ctx         *Context
	agent       Agent
	db          *sql.DB
	callables   map[string]Method
	state       any
	failures    int
	notBefore   time.Time
	closeHook   int8 // whether the class has OnClose: 0 unknown, 1 yes, -1 no
	queueKicked bool // a runQueue event is pending
}

func newInstance(h *Host, c Class, a wire.Address) *instance {
	return &instance{h: h, class: c, addr: a, conns: map[string]*connEntry{}, lastActive: h.now()}
}

// errForgotten: the janitor dropped the record between lookup and post;
// the caller looks the agent up again.
var errForgotten = errors.New("instance forgotten")

// post queues an event. bounded events (frames, requests) are refused with
// wire.ErrBusy when the mailbox is full; connects, closes and host events
// always get in, so an agent never misses a connection's end.
func (in *instance) post(e event, bounded bool) error {
	in.mu.Lock()
	if in.forgotten {
		in.mu.Unlock()
		return errForgotten
	}
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
			in.lastActive = in.h.now()
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

// close stops the instance taking events; the host's Close waits for the
// goroutine and then releases the database.
func (in *instance) close() {
	in.mu.Lock()
	in.closed = true
	in.mu.Unlock()
}

type idleAction uint8

const (
	idleNone idleAction = iota
	idleHibernate
	idleForget
)

// idle tells the janitor what to do with the instance now.
func (in *instance) idle(now time.Time) idleAction {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.closed || in.running || len(in.queue) > 0 || now.Sub(in.lastActive) < in.h.cfg.IdleTimeout {
		return idleNone
	}
	if in.awake {
		return idleHibernate
	}
	if len(in.conns) == 0 {
		return idleForget
	}
	return idleNone
}

// forgettable reports, with in.mu held, whether nothing refers to the
// record any more.
func (in *instance) forgettable() bool {
	return !in.running && len(in.queue) == 0 && !in.awake && len(in.conns) == 0
}

// handle runs one event. A panic in agent code fails the event, not the
// gateway, and restarts the agent with backoff.
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
				err = fmt.Errorf("%w: %w", errAnswered, err)
			}
			in.crashed()
		}
	}()
	switch e.kind {
	case evHibernate:
		in.hibernate()
		return nil
	case evDestroy:
		return in.destroy()
	case evClose:
		// A close needs no wake when the agent has no on-close.
		in.mu.Lock()
		delete(in.conns, e.conn.Key())
		in.mu.Unlock()
		if in.agent == nil && in.closeHook < 0 {
			return nil
		}
	}
	if err := in.wake(); err != nil {
		in.refuse(e, err)
		return err
	}
	if e.kind == evInbound {
		// What a client sent is subject to its readonly flag; the agent's
		// own bookkeeping on connect and close is not.
		in.ctx.current = e.conn
		defer func() { in.ctx.current = nil }()
	}
	switch e.kind {
	case evConnect:
		in.connect(e.conn)
	case evClose:
		if h, ok := in.agent.(CloseHook); ok {
			h.OnClose(in.ctx, e.conn)
		}
	case evRequest:
		if h, ok := in.agent.(RequestHook); ok {
			h.OnRequest(in.ctx, e.w, e.r)
		} else {
			http.Error(e.w, "agent "+in.addr.String()+" does not answer HTTP requests", http.StatusNotFound)
		}
		err = errAnswered
	case evInbound:
		err = in.inbound(e.conn, e.in)
	case evFunc:
		err = e.fn(in)
	}
	in.failures = 0
	if errors.Is(err, errAnswered) {
		return nil
	}
	return err
}

// refuse answers an event the agent could not wake for.
func (in *instance) refuse(e event, err error) {
	switch e.kind {
	case evInbound:
		switch e.in.Kind {
		case wire.InRPC:
			in.send(e.conn, wire.RPCErrorFrame(e.in.ID, err.Error()))
		case wire.InState:
			in.send(e.conn, wire.StateErrorFrame(err.Error()))
		default:
			in.send(e.conn, wire.ErrorFrame(wire.ErrorCode(err), err.Error()))
		}
	case evRequest:
		httpError(e.w, err)
	}
}

// wake opens the agent's database (creating it within the limits), loads
// its state, builds its Go value and runs OnStart.
func (in *instance) wake() error {
	if in.agent != nil {
		return nil
	}
	if wait := in.notBefore.Sub(in.h.now()); wait > 0 {
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-in.h.ctx.Done():
			t.Stop()
			return ErrHostClosed
		}
	}
	path := dbPath(in.h.cfg.DataDir, in.addr)
	_, statErr := os.Stat(path)
	created := statErr != nil
	if created {
		if err := in.h.admit(in.addr); err != nil {
			return err
		}
	}
	db, err := openDB(path, in.h.cfg.MaxDBBytes, true)
	if err == nil {
		err = migrate(db, in.class, in.addr, in.h.now())
	}
	var state any
	var hasState bool
	if err == nil {
		state, hasState, err = loadState(db)
	}
	if err != nil {
		if db != nil {
			db.Close()
		}
		if created {
			in.h.mu.Lock()
			in.h.counts[in.addr.Class]--
			in.h.mu.Unlock()
			os.Remove(path)
		}
		return fmt.Errorf("agent %s: open storage: %w: %w", in.addr, storageError(err, in.h.cfg.MaxDBBytes), wire.ErrFailed)
	}
	in.db = db
	in.ctx = &Context{in: in}
	in.state = state
	in.agent = in.class.New(in.ctx)
	in.closeHook = -1
	if _, ok := in.agent.(CloseHook); ok {
		in.closeHook = 1
	}
	in.callables = nil
	if c, ok := in.agent.(Callables); ok {
		in.callables = c.Callables()
	}
	if !hasState {
		if s, ok := in.agent.(InitialStater); ok {
			in.state = s.InitialState()
		}
	}
	in.mu.Lock()
	in.awake = true
	in.mu.Unlock()
	if n := in.h.awakeCount.Add(1); n > int64(in.h.cfg.MaxAwake) {
		in.h.kickEviction()
	}
	if h, ok := in.agent.(StartHook); ok {
		if err := h.OnStart(in.ctx); err != nil {
			in.release()
			in.crashed()
			return fmt.Errorf("agent %s: start: %w: %w", in.addr, err, wire.ErrFailed)
		}
	}
	return nil
}

// hibernate releases the agent's Go value and database; its connections
// stay attached.
func (in *instance) hibernate() {
	in.mu.Lock()
	busy := len(in.queue) > 0
	in.mu.Unlock()
	if busy || in.agent == nil {
		return
	}
	in.release()
}

// release drops the agent's Go value and closes its database.
func (in *instance) release() {
	if in.db != nil {
		if err := in.db.Close(); err != nil {
			in.h.log.Warn("close agent database", "agent", in.addr.String(), "error", err)
		}
	}
	in.db, in.agent, in.ctx, in.callables, in.state = nil, nil, nil, nil, nil
	in.mu.Lock()
	was := in.awake
	in.awake = false
	in.mu.Unlock()
	if was {
		in.h.awakeCount.Add(-1)
	}
}

// crashed restarts the agent after a panic or a failed start: the next
// event wakes it anew, after a backoff that doubles with each failure in a
// row (100 ms up to 30 s).
func (in *instance) crashed() {
	in.release()
	in.failures++
	backoff := min(100*time.Millisecond<<min(in.failures-1, 20), 30*time.Second)
	in.notBefore = in.h.now().Add(backoff)
}

// connect accepts a connection as the SDK's Agent.onConnect does: decide
// on readonly and protocol frames once, send identity and state, run
// OnConnect.
func (in *instance) connect(c wire.Conn) {
	if h, ok := in.agent.(ReadonlyHook); ok && h.ShouldConnectionBeReadonly(in.ctx, c) {
		c.SetReadonly(true)
	}
	on := c.ProtocolEnabled()
	if h, ok := in.agent.(ProtocolHook); ok {
		on = h.ShouldSendProtocolMessages(in.ctx, c, on)
	}
	c.SetProtocolEnabled(on)
	var tags []string
	if h, ok := in.agent.(TagsHook); ok {
		tags = h.ConnectionTags(in.ctx, c)
	}
	in.mu.Lock()
	in.conns[c.Key()] = &connEntry{conn: c, tags: tags}
	in.mu.Unlock()
	in.send(c, wire.IdentityFrame(in.addr))
	if st := in.state; st != nil {
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
	if err := in.ctx.setState(next, c); err != nil {
		in.send(c, wire.StateErrorFrame(err.Error()))
		return err
	}
	return nil
}

// call runs a callable and answers with rpc frames (rule 9.4). The
// callable's return always ends the call with a terminal frame, also for
// streaming methods.
func (in *instance) call(c wire.Conn, m wire.Inbound) {
	method, ok := in.callables[m.Method]
	if !ok || method.Call == nil {
		msg := "Method " + m.Method + " does not exist"
		if in.hasGoMethod(m.Method) {
			msg = "Method " + m.Method + " is not callable"
		}
		in.send(c, wire.RPCErrorFrame(m.ID, msg))
		return
	}
	call := &Call{ID: m.ID, Method: m.Method, Args: m.Args, Conn: c}
	result, err := method.Call(in.ctx, call)
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
