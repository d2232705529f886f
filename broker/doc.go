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
package broker
