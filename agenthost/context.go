package agenthost

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"time"

	"github.com/outpost-iot/outpost/wire"
)

// ErrReadonly is returned by SetState while handling an event from a
// readonly connection (the SDK's "Connection is readonly").
var ErrReadonly = errors.New(wire.StateReadonly)

// Context is an awake agent's view of the host: its identity, database,
// state and connections. It is valid only on the agent's goroutine, inside
// hooks and callables, and only until the agent hibernates.
type Context struct {
	in      *instance
	current wire.Conn // the connection whose event is running, if any
}

// Address is the agent's class and name.
func (c *Context) Address() wire.Address { return c.in.addr }

// Class is the agent's kebab-case class name.
func (c *Context) Class() string { return c.in.addr.Class }

// Name is the agent's name.
func (c *Context) Name() string { return c.in.addr.Name }

// Now is the host's clock (Options.Now); agents use it rather than
// time.Now so that tests can move time.
func (c *Context) Now() time.Time { return c.in.h.now() }

// Context is cancelled when the gateway shuts down.
func (c *Context) Context() context.Context { return c.in.h.ctx }

// Logger logs with the agent's address attached.
func (c *Context) Logger() *slog.Logger {
	return c.in.h.log.With("agent", c.in.addr.String())
}

// DB is the agent's own SQLite database (one connection, WAL mode). Writes
// commit before the event's replies leave the gateway, as long as they are
// made outside an open transaction or in one committed before replying.
func (c *Context) DB() *sql.DB { return c.in.db }

// Exec runs a statement with bound parameters. A write past the agent's
// size cap fails with an error that wraps ErrStorageFull.
func (c *Context) Exec(query string, args ...any) (sql.Result, error) {
	r, err := c.in.db.ExecContext(c.in.h.ctx, query, args...)
	return r, storageError(err, c.in.h.cfg.MaxDBBytes)
}

// Query runs a query with bound parameters.
func (c *Context) Query(query string, args ...any) (*sql.Rows, error) {
	return c.in.db.QueryContext(c.in.h.ctx, query, args...)
}

// QueryRow runs a query that returns at most one row.
func (c *Context) QueryRow(query string, args ...any) *sql.Row {
	return c.in.db.QueryRowContext(c.in.h.ctx, query, args...)
}

// Tx runs fn in a transaction, committed when fn returns nil and rolled
// back otherwise.
func (c *Context) Tx(fn func(tx *sql.Tx) error) error {
	tx, err := c.in.db.BeginTx(c.in.h.ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return storageError(err, c.in.h.cfg.MaxDBBytes)
	}
	return storageError(tx.Commit(), c.in.h.cfg.MaxDBBytes)
}

// State is the agent's current state (a value of the codecs value model),
// nil when it has none.
func (c *Context) State() any { return c.in.state }

// SetState replaces the agent's state, stores it, and then broadcasts it to
// every connection that has protocol frames on (the connection whose event
// is running is not excluded: only a client's own update is not echoed to
// it). It fails with ErrReadonly while handling a frame (a message or a
// call) from a readonly connection, and with the storage error when the
// state cannot be stored, in which case nothing changed.
func (c *Context) SetState(state any) error {
	if c.current != nil && c.current.Readonly() {
		return ErrReadonly
	}
	return c.setState(state, nil)
}

func (c *Context) setState(state any, source wire.Conn) error {
	if err := saveState(c.in.db, state); err != nil {
		return fmt.Errorf("store state: %w", storageError(err, c.in.h.cfg.MaxDBBytes))
	}
	c.in.state = state
	skip := ""
	if source != nil {
		skip = source.Key()
	}
	c.Broadcast(wire.StateFrame(state), skip)
	if h, ok := c.in.agent.(StateChangeHook); ok {
		func() {
			defer func() {
				if p := recover(); p != nil {
					c.reportError(fmt.Errorf("on-state-changed panicked: %v", p))
				}
			}()
			h.OnStateChanged(c, state, source)
		}()
	}
	return nil
}

// Broadcast sends f to every attached connection except those whose Key
// is listed; each connection's choke point applies its own policy.
func (c *Context) Broadcast(f wire.Frame, exceptKeys ...string) {
	for _, conn := range c.snapshot(func(key string, _ *connEntry) bool { return !slices.Contains(exceptKeys, key) }) {
		c.in.send(conn, f)
	}
}

// snapshot copies the attached connections that keep accepts, so that
// sending happens without the lock.
func (c *Context) snapshot(keep func(key string, e *connEntry) bool) []wire.Conn {
	c.in.mu.Lock()
	defer c.in.mu.Unlock()
	out := make([]wire.Conn, 0, len(c.in.conns))
	for key, e := range c.in.conns {
		if keep(key, e) {
			out = append(out, e.conn)
		}
	}
	return out
}

// Connections returns the attached connections, ordered by ID.
func (c *Context) Connections() []wire.Conn {
	return byID(c.snapshot(func(string, *connEntry) bool { return true }))
}

// byID orders connections by ID, then Key.
func byID(cs []wire.Conn) []wire.Conn {
	sort.Slice(cs, func(i, j int) bool {
		return cs[i].ID() < cs[j].ID() || cs[i].ID() == cs[j].ID() && cs[i].Key() < cs[j].Key()
	})
	return cs
}

// Connection returns an attached connection by its ID.
func (c *Context) Connection(id string) (wire.Conn, bool) {
	for _, conn := range c.Connections() {
		if conn.ID() == id {
			return conn, true
		}
	}
	return nil, false
}

// ConnectionsTagged returns the attached connections that have tag,
// ordered by ID.
func (c *Context) ConnectionsTagged(tag string) []wire.Conn {
	return byID(c.snapshot(func(_ string, e *connEntry) bool { return slices.Contains(e.tags, tag) }))
}

// StateInto decodes the state into v, a pointer to a Go value (a struct
// with cbor tags, a map...), for agents that keep typed state.
func (c *Context) StateInto(v any) error {
	data, err := stateCodec.Marshal(c.in.state)
	if err != nil {
		return err
	}
	return stateCodec.UnmarshalInto(data, v)
}

// SetTypedState sets the state from a Go value (a struct with cbor tags, a
// map...), converted to the codec value model that frames carry.
func (c *Context) SetTypedState(v any) error {
	data, err := stateCodec.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	state, err := stateCodec.Unmarshal(data)
	if err != nil {
		return err
	}
	return c.SetState(state)
}

// ConnState is a connection's own state (the SDK's connection.state), nil
// until set. It survives hibernation while the connection stays attached.
func (c *Context) ConnState(conn wire.Conn) any {
	c.in.mu.Lock()
	defer c.in.mu.Unlock()
	if e, ok := c.in.conns[conn.Key()]; ok {
		return e.state
	}
	return nil
}

// SetConnState sets a connection's own state; it does nothing for a
// connection that is not attached.
func (c *Context) SetConnState(conn wire.Conn, state any) {
	c.in.mu.Lock()
	defer c.in.mu.Unlock()
	if e, ok := c.in.conns[conn.Key()]; ok {
		e.state = state
	}
}

func (c *Context) reportError(err error) {
	if h, ok := c.in.agent.(ErrorHook); ok {
		h.OnError(c, err)
		return
	}
	c.Logger().Warn("agent error", "error", err)
}
