// Package protocol is the per-connection layer shared by MQTT and WebSocket
// clients of agents. It implements broker.Agents and hands agent work to an
// agent host through the Agents interface it owns; cmd/outpost plugs the
// two together. It imports neither: the vocabulary they share is package
// wire.
//
// # Main flow
//
// A transport reports a wire.Join when a client attaches to an agent (an
// MQTT subscription to the agent's /out topic, a WebSocket upgrade at
// /agents/{agent}/{name}). Join fixes the connection's codec and
// protocol-frame default from the transport's wire.Options (docs/protocol.md
// rules 6.2, 6.3), registers it and queues the agent's acceptance, in which
// the agent's should-send-protocol-messages hook decides once whether the
// connection gets protocol frames.
//
// Inbound, Receive takes one frame: it refuses frames over the transport's
// maximum size, decodes those that arrive in the connection's codec, and
// classifies them as the Agents SDK does (rule 6.5): a cf_agent_state frame
// is a state update, an rpc frame a call, anything else (including frames
// that do not decode) a message for the agent's on-message handler with its
// raw bytes. A malformed protocol frame is answered in the sender's codec
// (an rpc error, cf_agent_state_error or an outpost_error frame, rule 6.7)
// and never reaches the agent. The sender is the joined connection, or for
// an MQTT publish from a client that has not joined, a connection that
// exists for that frame only; replies go to an MQTT 5 response topic when
// the publish named one (rule 7.4).
//
// Outbound, every frame an agent sends passes conn.Send, the one choke
// point (rule 6.4): protocol frames (identity, state sync, MCP server lists)
// are dropped for connections that have them off; everything else is
// encoded in the connection's codec, or passed on unchanged when the agent
// sends raw bytes, and queued on the transport's sink, which never blocks.
// A CBOR connection therefore never receives a JSON byte.
package protocol
