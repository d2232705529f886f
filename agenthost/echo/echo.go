// Package echo is the built-in echo agent of DESIGN.md: it sends every
// message back to its sender unchanged, byte for byte and as binary or
// text as it came, accepts any state update, and has the callables
// echo(value) → value, incr() → the counter kept in its SQLite database,
// incremented and returned, and count() → the counter. The protocol and
// agent host tests run against it.
package echo

import (
	"database/sql"
	"errors"

	"github.com/outpost-iot/outpost/agenthost"
	"github.com/outpost-iot/outpost/wire"
)

// ClassName is the class's name in topics and paths.
const ClassName = "echo"

// Class registers the echo agent.
var Class = agenthost.Class{
	Name: ClassName,
	New:  func(*agenthost.Context) agenthost.Agent { return &Agent{} },
	Migrations: []string{
		`CREATE TABLE echo_counter (id INTEGER PRIMARY KEY CHECK (id = 1), n INTEGER NOT NULL)`,
	},
}

// Agent is one echo agent.
type Agent struct{}

// OnMessage sends m back to its sender: the same bytes, binary or text as
// they arrived (DESIGN.md "Built-in agents").
func (*Agent) OnMessage(_ *agenthost.Context, c wire.Conn, m wire.Inbound) error {
	return c.Send(wire.Frame{Kind: wire.Message, Raw: m.Data, Binary: m.Binary})
}

// Callables are echo, incr and count.
func (*Agent) Callables() map[string]agenthost.Method {
	return map[string]agenthost.Method{
		"echo": {
			Description: "echo(value) returns value unchanged",
			Call: func(_ *agenthost.Context, call *agenthost.Call) (any, error) {
				return call.Arg(0), nil
			},
		},
		"incr": {
			Description: "incr() adds one to the counter kept in the agent's database and returns it",
			Call: func(ctx *agenthost.Context, _ *agenthost.Call) (any, error) {
				var n int64
				err := ctx.QueryRow(`INSERT INTO echo_counter (id, n) VALUES (1, 1)
					ON CONFLICT (id) DO UPDATE SET n = n + 1 RETURNING n`).Scan(&n)
				return n, err
			},
		},
		"count": {
			Description: "count() returns the counter",
			Call: func(ctx *agenthost.Context, _ *agenthost.Call) (any, error) {
				var n int64
				err := ctx.QueryRow(`SELECT n FROM echo_counter WHERE id = 1`).Scan(&n)
				if errors.Is(err, sql.ErrNoRows) {
					return int64(0), nil
				}
				return n, err
			},
		},
	}
}
