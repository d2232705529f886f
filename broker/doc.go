// Package broker is Outpost's network edge: the embedded mochi-mqtt broker
// (MQTT 3.1.1 and 5 over TCP, TLS and WebSocket) and the gateway's one HTTP
// port, with authentication, topic ACLs, the browser Origin policy and the
// broker's metrics. Every mochi type stays inside this package.
//
// The flow: [New] checks a [Config]; [Server.Start] loads the credentials
// file (package auth), opens the session store in the data directory, binds
// the MQTT port and the HTTP port and starts serving. Each MQTT connection
// passes the gate hook: OnConnect authenticates it, OnACLCheck checks every
// publish, subscription and delivery against the current rules, and
// OnPacketRead counts publishes and applies the per-client rate limit.
// Persistent sessions and retained messages go to disk through the session
// store; clean sessions never touch it. The HTTP port serves /healthz,
// /metrics, /mqtt (MQTT over WebSocket), /admin/... and whatever later
// layers mount with [Server.Handle]. [Server.Reload] (SIGHUP) swaps in new
// credentials and certificates without dropping anyone; [Server.Close]
// stops accepting, disconnects clients with "server shutting down", waits
// for their goroutines and closes the store.
//
// With [Options.Agents] set, the broker is also the transport of agent
// traffic (docs/protocol.md §6 to §8). An MQTT connection's policy (codec,
// protocol frames) is fixed at CONNECT from MQTT 5 user properties or a
// query appended to the username, which the gate strips before
// authentication. Subscribing to exactly {prefix}/{agent}/{name}/out joins
// the agent once the SUBACK is sent; unsubscribing or disconnecting
// leaves; a resumed persistent session rejoins. A publish to .../in goes
// to [Agents.Receive] on the publisher's read goroutine and is
// acknowledged afterwards, never forwarded or retained; failures become
// MQTT 5 reason codes. Agent frames reach a joined client through its own
// bounded queue and writer goroutine, never through the topic tree, so
// wildcard subscribers never see them; MQTT 5 replies go to the response
// topic through the topic tree. On the HTTP port, /agents/{agent}/{name}
// upgrades to an agent WebSocket (one reader, one writer, a bounded queue)
// or hands plain requests to [Agents.ServeAgentHTTP].
package broker
