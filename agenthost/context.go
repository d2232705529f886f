package agenthost

import (
	"context"
	"fmt"
	"log/slog"
	"sort"

	"github.com/outpost-iot/outpost/wire"
)

// Context is an agent instance's view of the host: its identity, its
// connections and its state. It is used only on the agent's goroutine,
// inside hooks and callables.
type Context struct {
	in    *instance
	conns map[string]wire.Conn // by Conn.Key
	state any
}

func newContext(in *instance) *Context {
	return &Context{in: in, conns: map[string]wire.Conn{}}
}

// Address is the agent's class and name.
func (c *Context) Address() wire.Address { return c.in.addr }

// Class is the agent's kebab-case class name.
func (c *Context) Class() string { return c.in.addr.Class }

// Name is the agent's name.
func (c *Context) Name() string { return c.in.addr.Name }

// Context is cancelled when the gateway shuts down.
func (c *Context) Context() context.Context { return c.in.h.ctx }

// Logger logs with the agent's address attached.
func (c *Context) Logger() *slog.Logger {
	return c.in.h.log.With("agent", c.in.addr.String())
}

// State is the agent's current state, nil when it has none.
func (c *Context) State() any { return c.state }

// SetState replaces the agent's state and broadcasts it to every connection
// that has protocol frames on.
func (c *Context) SetState(state any) { c.setState(state, nil) }

func (c *Context) setState(state any, source wire.Conn) {
	c.state = state
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
}

// Broadcast sends f to every attached connection except those whose Key
// is listed; each connection's choke point applies its own policy.
func (c *Context) Broadcast(f wire.Frame, exceptKeys ...string) {
outer:
	for key, conn := range c.conns {
		for _, skip := range exceptKeys {
			if key == skip {
				continue outer
			}
		}
		c.in.send(conn, f)
	}
}

// Connections returns the attached connections, ordered by ID.
func (c *Context) Connections() []wire.Conn {
	out := make([]wire.Conn, 0, len(c.conns))
	for _, conn := range c.conns {
		out = append(out, conn)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID() < out[j].ID() })
	return out
}

// Connection returns an attached connection by its ID.
func (c *Context) Connection(id string) (wire.Conn, bool) {
	for _, conn := range c.conns {
		if conn.ID() == id {
			return conn, true
		}
	}
	return nil, false
}

func (c *Context) reportError(err error) {
	if h, ok := c.in.agent.(ErrorHook); ok {
		h.OnError(c, err)
		return
	}
	c.Logger().Warn("agent error", "error", err)
}
