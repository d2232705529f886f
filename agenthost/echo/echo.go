// Package echo is the built-in echo agent of DESIGN.md: it sends every
// message back to its sender unchanged, byte for byte and as binary or
// text as it came, accepts any state update, and has the callable
// echo(value) → value. It is what the protocol tests run against.
package echo

import (
	"github.com/outpost-iot/outpost/agenthost"
	"github.com/outpost-iot/outpost/wire"
)

// ClassName is the class's name in topics and paths.
const ClassName = "echo"

// Class registers the echo agent.
var Class = agenthost.Class{
	Name: ClassName,
	New:  func(*agenthost.Context) agenthost.Agent { return &Agent{} },
}

// Agent is one echo agent.
type Agent struct{}

// OnMessage sends m back to its sender: the same bytes, binary or text as
// they arrived (DESIGN.md "Built-in agents").
func (*Agent) OnMessage(_ *agenthost.Context, c wire.Conn, m wire.Inbound) error {
	return c.Send(wire.Frame{Kind: wire.Message, Raw: m.Data, Binary: m.Binary})
}

// Callables are echo(value) → value.
func (*Agent) Callables() map[string]agenthost.Callable {
	return map[string]agenthost.Callable{
		"echo": func(_ *agenthost.Context, call *agenthost.Call) (any, error) {
			return call.Arg(0), nil
		},
	}
}
