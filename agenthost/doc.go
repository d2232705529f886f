// Package agenthost is the actor runtime: agents addressed by (class, name),
// each with a bounded mailbox, one goroutine while awake, its own SQLite
// database, state, schedules, queue, retries, callable RPC, connections and
// hibernation.
//
// It may import accel for inference request and response types, and no
// other stage (broker, protocol).
package agenthost
