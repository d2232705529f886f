package agenthost_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/outpost-iot/outpost/agenthost"
	"github.com/outpost-iot/outpost/codecs"
	"github.com/outpost-iot/outpost/wire"
)

// ThermostatClass is a custom agent class (docs/custom-agent.md): its
// name, its constructor and the SQL migrations that build its tables in
// each agent's own database.
var ThermostatClass = agenthost.Class{
	Name: "thermostat",
	New:  func(*agenthost.Context) agenthost.Agent { return &Thermostat{} },
	Migrations: []string{
		`CREATE TABLE readings (id INTEGER PRIMARY KEY, celsius REAL NOT NULL)`,
	},
}

// Thermostat keeps its target temperature in its state (synced to
// dashboards) and the readings its sensor sends in its own SQLite table.
// It implements the hooks it needs; the host finds them by type assertion.
type Thermostat struct{}

// InitialState is the state of a new thermostat.
func (*Thermostat) InitialState() any { return map[string]any{"target": 20.5} }

// OnConnect greets each connection with the current target.
func (*Thermostat) OnConnect(ctx *agenthost.Context, c wire.Conn) error {
	target := ctx.State().(map[string]any)["target"]
	return c.Send(wire.Frame{Kind: wire.Message, Value: map[string]any{"type": "hello", "target": target}})
}

// OnMessage stores {"type": "reading", "celsius": 21.5}; anything else
// gets an error frame back and an error that wraps wire.ErrMalformed.
func (*Thermostat) OnMessage(ctx *agenthost.Context, c wire.Conn, m wire.Inbound) error {
	frame, _ := m.Value.(map[string]any)
	celsius, ok := frame["celsius"].(float64)
	if frame["type"] != "reading" || !ok {
		err := fmt.Errorf("want {\"type\": \"reading\", \"celsius\": float}: %w", wire.ErrMalformed)
		_ = c.Send(wire.ErrorFrame(wire.CodeMalformed, err.Error()))
		return err
	}
	_, err := ctx.Exec(`INSERT INTO readings (celsius) VALUES (?)`, celsius)
	return err
}

// Callables are what clients may call with rpc frames.
func (*Thermostat) Callables() map[string]agenthost.Method {
	return map[string]agenthost.Method{
		"average": {
			Description: "average() returns the mean of the stored readings",
			Call: func(ctx *agenthost.Context, _ *agenthost.Call) (any, error) {
				var avg float64
				err := ctx.QueryRow(`SELECT IFNULL(AVG(celsius), 0) FROM readings`).Scan(&avg)
				return avg, err
			},
		},
		"setTarget": {
			Description: "setTarget(celsius) sets the target temperature and returns it",
			Call: func(ctx *agenthost.Context, call *agenthost.Call) (any, error) {
				target, ok := call.Arg(0).(float64)
				if !ok || target < 5 || target > 30 {
					return nil, call.ArgError(0, "want a temperature from 5 to 30")
				}
				// SetState stores the state, then broadcasts it.
				return target, ctx.SetState(map[string]any{"target": target})
			},
		},
	}
}

// printConn is a connection that prints the frames it gets as JSON; in
// the gateway, the protocol layer's connections encode them for MQTT or
// WebSocket clients.
type printConn struct{ json codecs.Codec }

func (printConn) ID() string              { return "dashboard" }
func (printConn) Key() string             { return "dashboard" }
func (printConn) Agent() wire.Address     { return wire.Address{Class: "thermostat", Name: "kitchen"} }
func (printConn) Transport() string       { return wire.WebSocket }
func (printConn) User() string            { return "" }
func (printConn) Codec() string           { return wire.JSON }
func (printConn) Readonly() bool          { return false }
func (printConn) ProtocolEnabled() bool   { return true }
func (printConn) Joined() bool            { return true }
func (printConn) SetReadonly(bool)        {}
func (printConn) SetProtocolEnabled(bool) {}
func (printConn) Close(int, string) error { return nil }
func (p printConn) Send(f wire.Frame) error {
	data, err := p.json.Marshal(f.Value)
	fmt.Println(string(data))
	return err
}

// Example runs the thermostat in a host of its own: a dashboard connects,
// a sensor's readings arrive, the dashboard calls average and setTarget.
func Example() {
	dir, _ := os.MkdirTemp("", "thermostat")
	defer os.RemoveAll(dir)
	host, _ := agenthost.New(agenthost.Config{DataDir: dir}, agenthost.Options{Logger: slog.New(slog.DiscardHandler)})
	if err := host.Register(ThermostatClass); err != nil {
		panic(err)
	}
	if err := host.Start(context.Background()); err != nil {
		panic(err)
	}
	defer host.Close(context.Background())

	json, _ := codecs.New(wire.JSON, codecs.Limits{})
	conn := printConn{json: json}
	if err := host.Connect(conn); err != nil {
		panic(err)
	}
	// deliver hands the agent one inbound frame and waits until it ran.
	deliver := func(in wire.Inbound) error {
		done := make(chan error, 1)
		if err := host.Deliver(context.Background(), conn, in, func(err error) { done <- err }); err != nil {
			return err
		}
		return <-done
	}
	for _, c := range []float64{21.0, 22.0} {
		_ = deliver(wire.Inbound{Value: map[string]any{"type": "reading", "celsius": c}})
	}
	err := deliver(wire.Inbound{Value: map[string]any{"type": "reading"}})
	fmt.Println("malformed:", errors.Is(err, wire.ErrMalformed))
	_ = deliver(wire.Inbound{Kind: wire.InRPC, ID: "1", Method: "average"})
	_ = deliver(wire.Inbound{Kind: wire.InRPC, ID: "2", Method: "setTarget", Args: []any{22.5}})
	_ = deliver(wire.Inbound{Kind: wire.InRPC, ID: "3", Method: "setTarget", Args: []any{99.0}})
	// Output:
	// {"agent":"thermostat","name":"kitchen","type":"cf_agent_identity"}
	// {"state":{"target":20.5},"type":"cf_agent_state"}
	// {"target":20.5,"type":"hello"}
	// {"code":"malformed_frame","error":"want {\"type\": \"reading\", \"celsius\": float}: malformed frame","type":"outpost_error"}
	// malformed: true
	// {"done":true,"id":"1","result":21.5,"success":true,"type":"rpc"}
	// {"state":{"target":22.5},"type":"cf_agent_state"}
	// {"done":true,"id":"2","result":22.5,"success":true,"type":"rpc"}
	// {"error":"Method setTarget: argument 0: want a temperature from 5 to 30","id":"3","success":false,"type":"rpc"}
}
