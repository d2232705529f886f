package wire

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
	// Close ends the client's connection to the agent.
	Close(code int, reason string) error
}
