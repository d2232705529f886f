package wire

import "errors"

// Kind says what a frame is, which decides whether a connection with
// protocol frames off receives it (docs/protocol.md rule 6.4).
type Kind uint8

const (
	// Message is the agent's own message (Conn.Send, broadcast): always sent.
	Message Kind = iota
	// Reply answers something the client sent (an rpc reply or stream
	// chunk, cf_agent_state_error, an error frame): always sent.
	Reply
	// Protocol is identity, state sync or an MCP server list: dropped for
	// connections that have protocol frames off.
	Protocol
	// Chat is a chat frame (cf_agent_use_chat_response and friends):
	// always sent.
	Chat
)

func (k Kind) String() string {
	switch k {
	case Message:
		return "message"
	case Reply:
		return "reply"
	case Protocol:
		return "protocol"
	case Chat:
		return "chat"
	}
	return "unknown"
}

// Frame is one outbound frame. Either Value is set, and the connection's
// codec encodes it, or Raw is, and its bytes are sent unchanged (an agent
// echoing what it received).
type Frame struct {
	Kind Kind
	// Value is a value of the codecs value model, usually a
	// map[string]any with a "type" key.
	Value any
	// Raw bytes are sent as they are; Binary says whether as a binary or
	// a text WebSocket message (MQTT payloads are all binary).
	Raw    []byte
	Binary bool
}

// Conn is one client's connection to one agent, as the agent host sees it.
// Its policy is fixed when the agent accepts it; Send is the choke point
// every frame to the client passes.
type Conn interface {
	// ID is the connection id (MQTT client id, WebSocket _pk).
	ID() string
	// Agent is the agent the connection is attached to.
	Agent() Address
	// Transport is MQTT or WebSocket.
	Transport() string
	// User is the authenticated username, "" when anonymous.
	User() string
	// Codec is JSON or CBOR.
	Codec() string
	// Readonly connections may not update the agent's state.
	Readonly() bool
	// ProtocolEnabled reports whether protocol frames are sent.
	ProtocolEnabled() bool
	// Joined is false for a connection that exists only for one frame
	// (an MQTT publish from a client that has not joined).
	Joined() bool
	// Send encodes f in the connection's codec and queues it, or drops it
	// when it is a Protocol frame and protocol frames are off.
	Send(f Frame) error
	// Key is unique among the live connections of the gateway (two
	// WebSockets may share an ID).
	Key() string
	// SetReadonly changes whether the connection may update the agent's
	// state (the SDK's setConnectionReadonly); the agent host calls it
	// while accepting the connection with the answer of the agent's
	// should-connection-be-readonly hook, and agent code may call it later.
	SetReadonly(on bool)
	// SetProtocolEnabled is called by the agent host at most once, while it
	// accepts the connection and before it sends any frame, with the
	// answer of the agent's should-send-protocol-messages hook. Later
	// calls change nothing.
	SetProtocolEnabled(on bool)
	// Close ends the client's connection to the agent.
	Close(code int, reason string) error
}

// Frame types of the Agents SDK wire protocol (docs/protocol.md §9), and
// Outpost's own error frame.
const (
	TypeIdentity   = "cf_agent_identity"
	TypeState      = "cf_agent_state"
	TypeStateError = "cf_agent_state_error"
	TypeMCPServers = "cf_agent_mcp_servers"
	TypeRPC        = "rpc"
	// TypeError is Outpost's error frame for a frame that has no reply of
	// its own (a message the agent could not take, an rpc frame without
	// an id): {"type": "outpost_error", "code": ..., "error": ...}.
	TypeError = "outpost_error"
)

// Messages of cf_agent_state_error, as the SDK words them.
const (
	StateReadonly = "Connection is readonly"
	StateRejected = "State update rejected"
)

// IdentityFrame is cf_agent_identity: the agent's name and kebab-case class.
func IdentityFrame(a Address) Frame {
	return Frame{Kind: Protocol, Value: map[string]any{"type": TypeIdentity, "name": a.Name, "agent": a.Class}}
}

// StateFrame is cf_agent_state, the agent's whole state.
func StateFrame(state any) Frame {
	return Frame{Kind: Protocol, Value: map[string]any{"type": TypeState, "state": state}}
}

// StateErrorFrame is cf_agent_state_error, the answer to a refused state
// update.
func StateErrorFrame(msg string) Frame {
	return Frame{Kind: Reply, Value: map[string]any{"type": TypeStateError, "error": msg}}
}

// RPCResultFrame is a successful rpc reply; done is false for a stream
// chunk and true for the final result.
func RPCResultFrame(id string, result any, done bool) Frame {
	return Frame{Kind: Reply, Value: map[string]any{"type": TypeRPC, "id": id, "success": true, "result": result, "done": done}}
}

// RPCErrorFrame is a failed rpc reply.
func RPCErrorFrame(id, msg string) Frame {
	return Frame{Kind: Reply, Value: map[string]any{"type": TypeRPC, "id": id, "success": false, "error": msg}}
}

// Codes of outpost_error frames.
const (
	CodeMalformed    = "malformed_frame"
	CodeTooLarge     = "frame_too_large"
	CodeBusy         = "agent_busy"
	CodeUnknownAgent = "unknown_agent"
	CodeLimit        = "agent_limit"
	CodeFailed       = "agent_failed"
	CodeClosed       = "closed"
)

// ErrorFrame is an outpost_error frame.
func ErrorFrame(code, msg string) Frame {
	return Frame{Kind: Reply, Value: map[string]any{"type": TypeError, "code": code, "error": msg}}
}

// ErrorCode returns the outpost_error code for an error that wraps one of
// the package's errors, CodeFailed for any other.
func ErrorCode(err error) string {
	switch {
	case errors.Is(err, ErrTooLarge):
		return CodeTooLarge
	case errors.Is(err, ErrMalformed):
		return CodeMalformed
	case errors.Is(err, ErrBusy):
		return CodeBusy
	case errors.Is(err, ErrUnknownAgent):
		return CodeUnknownAgent
	case errors.Is(err, ErrLimit):
		return CodeLimit
	case errors.Is(err, ErrClosed):
		return CodeClosed
	}
	return CodeFailed
}

// InboundKind is how the protocol layer classified an inbound frame
// (docs/protocol.md rule 6.5).
type InboundKind uint8

const (
	// InMessage goes to the agent's on-message handler.
	InMessage InboundKind = iota
	// InState is a client's state update (cf_agent_state).
	InState
	// InRPC is a call of a callable method (rpc).
	InRPC
)

// Inbound is one frame for an agent, classified and decoded.
type Inbound struct {
	Kind InboundKind
	// State is the new state of an InState frame: a map[string]any.
	State any
	// ID, Method and Args are the call of an InRPC frame.
	ID     string
	Method string
	Args   []any
	// Data is the frame as it arrived (every kind); Binary says whether it
	// arrived as binary.
	Data   []byte
	Binary bool
	// Value is the decoded frame, nil when it was not decoded: it did not
	// decode (DecodeErr says why), or it is a binary frame on a JSON
	// WebSocket, or a text frame on a CBOR one, which reach the agent
	// untouched.
	Value     any
	DecodeErr error
}

// Nested is a value that the Agents SDK carries as JSON text inside a frame
// (a chat chunk's "body", a chat request's "init.body"). In a frame's
// top-level map, the choke point writes it as a JSON string on JSON
// connections and as the value itself on CBOR connections, so a CBOR device
// never parses JSON (DESIGN.md "Frames", docs/protocol.md rule 9.1).
type Nested struct {
	Value any
}
