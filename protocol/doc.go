// Package protocol is the per-connection layer shared by MQTT and WebSocket
// clients: it fixes a connection's codec and protocol-frame policy once, at
// connect, decodes inbound frames and routes them to agents, and sends every
// outbound frame through one function that encodes it in the connection's
// codec and drops protocol frames for connections that have them off.
//
// It does not import broker, agenthost or accel; cmd/outpost plugs the
// transports and the agent host into it through interfaces it owns.
package protocol
