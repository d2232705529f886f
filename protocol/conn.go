package protocol

import (
	"fmt"
	"sync/atomic"

	"github.com/outpost-iot/outpost/codecs"
	"github.com/outpost-iot/outpost/wire"
)

// Protocol-frame decision of a connection (rule 6.3).
const (
	protoUndecided int32 = iota // the transport's default applies
	protoOn
	protoOff
)

// link is what all views of one connection share.
type link struct {
	key   string // Join.Key + agent: unique among live connections
	join  wire.Join
	codec codecs.Codec
	l     *Layer

	protocol atomic.Int32
	readonly atomic.Bool
	closed   atomic.Bool
}

// conn is a connection as the agent host sees it: a link and the sink its
// frames go to. A reply view (rule 7.4) shares the link and has the MQTT 5
// response topic as its sink; a transient connection (a publish from a
// client that has not joined) has no link in the registry and may have no
// sink at all.
type conn struct {
	*link
	out    wire.Sink
	joined bool
}

var _ wire.Conn = (*conn)(nil)

func (c *conn) ID() string          { return c.join.ID }
func (c *conn) Key() string         { return c.key }
func (c *conn) Agent() wire.Address { return c.join.Agent }
func (c *conn) Transport() string   { return c.join.Transport }
func (c *conn) User() string        { return c.join.User }
func (c *conn) Codec() string       { return c.codec.Name() }
func (c *conn) Readonly() bool      { return c.readonly.Load() }
func (c *conn) SetReadonly(on bool) { c.readonly.Store(on) }
func (c *conn) Joined() bool        { return c.joined }
func (c *conn) String() string {
	return c.join.Transport + ":" + c.join.ID + "@" + c.join.Agent.String()
}
func (c *conn) SetProtocolEnabled(on bool) {
	v := protoOff
	if on {
		v = protoOn
	}
	c.protocol.CompareAndSwap(protoUndecided, v)
}

func (c *conn) ProtocolEnabled() bool {
	switch c.protocol.Load() {
	case protoOn:
		return true
	case protoOff:
		return false
	}
	return c.join.Options.Protocol
}

// Send is the one choke point for frames to a client (rule 6.4): protocol
// frames are dropped for connections that have them off, everything else
// is encoded in the connection's codec (or, for raw frames, passed on
// unchanged) and queued on the transport's sink.
func (c *conn) Send(f wire.Frame) error {
	if f.Kind == wire.Protocol && !c.ProtocolEnabled() {
		c.l.metrics.suppressed.Inc()
		return nil
	}
	if c.out == nil {
		// A client that has neither joined nor named a response topic
		// gets no frames (rule 7.4).
		c.l.metrics.unrouted.Inc()
		return nil
	}
	data, binary := f.Raw, f.Binary
	if data == nil {
		v, err := c.unnest(f.Value)
		if err != nil {
			c.l.metrics.encodeErrors.Inc()
			return err
		}
		if data, err = c.codec.Marshal(v); err != nil {
			c.l.metrics.encodeErrors.Inc()
			return err
		}
		binary = c.codec.Name() == wire.CBOR
	}
	if err := c.out.Write(data, binary); err != nil {
		c.l.metrics.sendErrors.Inc()
		return err
	}
	c.l.metrics.sent.WithLabelValues(c.join.Transport, f.Kind.String()).Inc()
	return nil
}

// Close ends the client's connection to the agent.
func (c *conn) Close(code int, reason string) error {
	if c.out == nil {
		return nil
	}
	return c.out.Close(code, reason)
}

// unnest replaces the wire.Nested values of a frame's top-level map: JSON
// text on JSON connections, the value itself on CBOR ones (rule 9.1).
func (c *conn) unnest(v any) (any, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return v, nil
	}
	var out map[string]any
	for k, x := range m {
		n, ok := x.(wire.Nested)
		if !ok {
			continue
		}
		if out == nil {
			out = make(map[string]any, len(m))
			for k2, x2 := range m {
				out[k2] = x2
			}
		}
		if c.codec.Name() == wire.CBOR {
			out[k] = n.Value
			continue
		}
		text, err := c.l.codecs[c.join.Transport][wire.JSON].Marshal(n.Value)
		if err != nil {
			return nil, fmt.Errorf("encode nested %q: %w", k, err)
		}
		out[k] = string(text)
	}
	if out == nil {
		return v, nil
	}
	return out, nil
}
