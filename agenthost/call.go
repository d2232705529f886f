package agenthost

import (
	"fmt"

	"github.com/outpost-iot/outpost/wire"
)

// Call is one rpc call being handled.
type Call struct {
	// ID is the caller's id for the call.
	ID string
	// Method is the callable's name.
	Method string
	// Args are the arguments, values of the codecs value model.
	Args []any
	// Conn is the caller's connection.
	Conn wire.Conn

	streamed bool
}

// Arg returns argument i, or nil when the call has fewer.
func (c *Call) Arg(i int) any {
	if i < 0 || i >= len(c.Args) {
		return nil
	}
	return c.Args[i]
}

// Stream sends one chunk of a streaming result ({"done": false}); the
// value the callable returns is the final frame ({"done": true}).
func (c *Call) Stream(chunk any) error {
	c.streamed = true
	return c.Conn.Send(wire.RPCResultFrame(c.ID, chunk, false))
}

// ArgError is the error for an argument of the wrong type or a missing
// one; it reads "Method m: argument i: ...".
func (c *Call) ArgError(i int, format string, a ...any) error {
	return fmt.Errorf("Method %s: argument %d: %s", c.Method, i, fmt.Sprintf(format, a...))
}
