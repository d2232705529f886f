package protocol

import (
	"errors"
	"fmt"

	"github.com/outpost-iot/outpost/codecs"
	"github.com/outpost-iot/outpost/wire"
)

// classify decodes an inbound frame and sorts it (rules 6.5 to 6.7), as the
// SDK's Agent.onMessage does:
//
//   - a frame longer than the transport's maximum is refused;
//   - a frame that does not arrive in the connection's codec (a binary
//     WebSocket message on a JSON connection, a text one on a CBOR
//     connection) reaches the agent untouched, not decoded;
//   - a frame that does not decode reaches the agent with its decode error;
//   - a map with "type": "cf_agent_state" and a "state" key is a state
//     update, "type": "rpc" a call; both are checked, and a malformed one
//     is answered with an error and does not reach the agent;
//   - anything else is a message for the agent's on-message handler.
//
// On error the sender has been answered.
func (c *conn) classify(data []byte, binary bool) (wire.Inbound, error) {
	in := wire.Inbound{Kind: wire.InMessage, Data: data, Binary: binary}
	if max := c.l.maxFrame[c.join.Transport]; len(data) > max {
		err := fmt.Errorf("frame of %d bytes exceeds the limit of %d: %w", len(data), max, wire.ErrTooLarge)
		c.answer(wire.ErrorFrame(wire.CodeTooLarge, err.Error()))
		return in, err
	}
	if c.join.Transport != wire.MQTT && binary != (c.codec.Name() == wire.CBOR) {
		return in, nil
	}
	v, err := c.codec.Unmarshal(data)
	if err != nil {
		if errors.Is(err, codecs.ErrTooLarge) { // cannot happen after the check above
			c.answer(wire.ErrorFrame(wire.CodeTooLarge, err.Error()))
			return in, fmt.Errorf("%w: %w", wire.ErrTooLarge, err)
		}
		in.DecodeErr = err
		return in, nil
	}
	in.Value = v
	m, ok := v.(map[string]any)
	if !ok {
		return in, nil
	}
	switch m["type"] {
	case wire.TypeState:
		state, ok := m["state"]
		if !ok {
			return in, nil // the SDK needs the key too; without it, a message
		}
		if _, ok := state.(map[string]any); !ok {
			msg := "Invalid state update: state must be an object with text keys"
			c.answer(wire.StateErrorFrame(msg))
			return in, fmt.Errorf("%s: %w", msg, wire.ErrMalformed)
		}
		in.Kind, in.State = wire.InState, state
	case wire.TypeRPC:
		id, ok := m["id"].(string)
		if !ok || id == "" {
			msg := "rpc frame without a string id"
			c.answer(wire.ErrorFrame(wire.CodeMalformed, msg))
			return in, fmt.Errorf("%s: %w", msg, wire.ErrMalformed)
		}
		method, ok := m["method"].(string)
		if !ok || method == "" {
			msg := "rpc frame without a method name"
			c.answer(wire.RPCErrorFrame(id, msg))
			return in, fmt.Errorf("%s: %w", msg, wire.ErrMalformed)
		}
		var args []any
		if a, ok := m["args"]; ok && a != nil {
			if args, ok = a.([]any); !ok {
				msg := "rpc args must be an array"
				c.answer(wire.RPCErrorFrame(id, msg))
				return in, fmt.Errorf("%s: %w", msg, wire.ErrMalformed)
			}
		}
		in.Kind, in.ID, in.Method, in.Args = wire.InRPC, id, method, args
	}
	return in, nil
}

// answer sends a reply the protocol layer itself makes.
func (c *conn) answer(f wire.Frame) {
	if err := c.Send(f); err != nil {
		c.l.log.Debug("error frame not sent", "conn", c.String(), "error", err)
	}
}

func inboundKind(k wire.InboundKind, err error) string {
	switch {
	case err != nil:
		return "refused"
	case k == wire.InState:
		return "state"
	case k == wire.InRPC:
		return "rpc"
	}
	return "message"
}
