package broker

import (
	"context"
	"net/http"

	"github.com/outpost-iot/outpost/wire"
)

// Agents is where the broker hands agent traffic: MQTT clients joining an
// agent by subscribing to its /out topic and publishing to its /in topic,
// WebSockets at /agents/{agent}/{name}, and plain HTTP requests to that
// path. Package protocol implements it; cmd/outpost plugs it in through
// Options.Agents. docs/protocol.md §6 to §8 give the rules.
type Agents interface {
	// KnownClass reports whether an agent class of that kebab-case name
	// exists.
	KnownClass(class string) bool
	// Join attaches a connection to an agent. It queues the agent's
	// on-connect and returns without waiting for it; frames received on the
	// connection afterwards are handled after it.
	//
	// The broker calls it on the client's read goroutine (MQTT: after the
	// SUBACK of the /out subscription, or when a resumed session rejoins;
	// WebSocket: after the upgrade). j.Out never blocks and copies the data
	// it is given; its Close ends the whole network connection. A failed
	// Join closes an agent WebSocket (1013 for ErrLimit and ErrBusy, 1011
	// otherwise) and leaves an MQTT subscription without frames.
	Join(ctx context.Context, j wire.Join) error
	// Leave detaches the connection Join attached under key; the agent's
	// on-close runs. Leaving twice, or a key never joined, does nothing.
	Leave(key string, agent wire.Address)
	// Receive hands one inbound frame to an agent. With r.Wait it returns
	// once the agent has processed the frame. Errors wrap one of the wire
	// errors (wire.ErrBusy, wire.ErrMalformed, ...), which the transport
	// reports in its own terms; by then the sender has also been sent an
	// error frame where it has somewhere to receive one.
	//
	// The broker calls it on the sender's read goroutine, one frame at a
	// time per connection. An MQTT QoS 1 or 2 publish sets r.Wait and ctx
	// expires after ReceiveTimeout; ctx is also canceled at shutdown.
	Receive(ctx context.Context, r wire.Receive) error
	// ServeAgentHTTP answers a plain HTTP request to
	// /agents/{agent}/{name}[/...].
	ServeAgentHTTP(w http.ResponseWriter, r *http.Request, agent wire.Address)
}
