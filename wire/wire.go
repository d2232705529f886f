// Package wire is the vocabulary the stages share about connections to
// agents: who is connected to which agent with which policy, the logical
// frames an agent sends, the sink a transport writes them to, and the
// errors a transport turns into its own error codes. It is a leaf: it
// imports no stage, and broker, protocol and agenthost all import it.
//
// The flow, with cmd/outpost plugging the pieces together: a transport
// (package broker) authenticates a client, fixes its [Options] at connect and
// reports a [Join] when the client attaches to an agent (an MQTT subscription
// to /out, a WebSocket upgrade at /agents/{agent}/{name}) and a [Receive] for
// each frame the client sends. The protocol layer turns a Join into a [Conn],
// decodes frames and hands them to the agent host, and writes every frame
// the agent sends through [Conn.Send], its one choke point, to the
// transport's [Sink].
package wire

import (
	"errors"
	"net/http"
)

// Address names one agent instance: its kebab-case class and its name.
type Address struct {
	Class string
	Name  string
}

func (a Address) String() string { return a.Class + "/" + a.Name }

// Transports, as Conn.Transport reports them.
const (
	MQTT      = "mqtt"
	WebSocket = "websocket"
)

// Codecs, as Options.Codec names them (the names of package codecs).
const (
	JSON = "json"
	CBOR = "cbor"
)

// Options is a connection's policy, fixed by the transport at connect
// (docs/protocol.md §6). The agent's should-send-protocol-messages hook may
// still turn protocol frames off or on once, when the agent accepts it.
type Options struct {
	// Codec is JSON or CBOR.
	Codec string
	// Protocol is whether protocol frames (identity, state sync, MCP
	// server lists) are sent, as the transport decided it.
	Protocol bool
	// Readonly connections may not update the agent's state.
	Readonly bool
}

// Sink is where a transport takes the encoded frames of one connection
// (or, for an MQTT 5 request, of one response topic). Write never blocks on
// the network: it queues the frame or fails, e.g. with ErrSlowConsumer.
type Sink interface {
	// Write queues one encoded frame; binary says whether it is binary
	// (CBOR, or raw bytes an agent sent as binary) rather than text.
	Write(data []byte, binary bool) error
	// Close ends the client's connection to the agent with a WebSocket
	// close code and reason (MQTT transports map them to a DISCONNECT).
	Close(code int, reason string) error
}

// Join is a client attaching to an agent.
type Join struct {
	// Key identifies this attachment among the transport's live ones; a
	// later Leave or Receive names it. It is unique per network connection,
	// so a reconnect or session takeover never confuses old and new.
	Key string
	// ID is the connection id the agent sees: the MQTT client id, or the
	// WebSocket's _pk query parameter (stable across reconnects).
	ID string
	// Agent is the agent to attach to.
	Agent Address
	// Transport is MQTT or WebSocket.
	Transport string
	// User is the authenticated username, "" for anonymous clients.
	User string
	// Options is the policy the transport fixed at connect.
	Options Options
	// Request is the WebSocket upgrade request (headers, query), nil on MQTT.
	Request *http.Request
	// Properties are the MQTT 5 CONNECT user properties, nil elsewhere.
	Properties map[string]string
	// Out is where the connection's frames go.
	Out Sink
}

// Receive is one frame a client sent to an agent.
type Receive struct {
	// Key is the sender's Join key when it has joined this agent; the
	// frame is then from that connection. Otherwise From describes a
	// connection that exists only for this frame (an MQTT client that
	// publishes to /in without subscribing to /out).
	Key  string
	From Join
	// Data is the frame as it arrived; Binary says whether it came as
	// binary (every MQTT payload is binary).
	Data   []byte
	Binary bool
	// Reply, when not nil, is where replies to this frame go instead of the
	// connection's own sink: an MQTT 5 response topic with its correlation
	// data.
	Reply Sink
	// Wait makes the call return only once the agent has processed the
	// frame (an MQTT QoS 1 or 2 publish is acknowledged after that).
	Wait bool
}

// Errors a transport maps to its own codes (docs/protocol.md §7: MQTT 5
// reason codes, WebSocket close codes, HTTP statuses). Errors returned
// across the stages wrap one of them.
var (
	// ErrUnknownAgent: no agent class has that name.
	ErrUnknownAgent = errors.New("unknown agent class")
	// ErrBusy: the agent's mailbox is full.
	ErrBusy = errors.New("agent is busy")
	// ErrMalformed: a protocol frame is malformed or a frame does not fit
	// the limits.
	ErrMalformed = errors.New("malformed frame")
	// ErrTooLarge: a frame exceeds the maximum frame size.
	ErrTooLarge = errors.New("frame too large")
	// ErrLimit: a limit on agents (their number, their disk use) is reached.
	ErrLimit = errors.New("agent limit reached")
	// ErrFailed: the agent failed while handling the frame.
	ErrFailed = errors.New("agent failed")
	// ErrClosed: the gateway is shutting down or the connection is gone.
	ErrClosed = errors.New("closed")
	// ErrSlowConsumer: a client does not read its frames fast enough and
	// its queue is full.
	ErrSlowConsumer = errors.New("client queue full")
)
