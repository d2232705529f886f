// Command agentbench measures device → agent → device over MQTT with CBOR
// and one SQLite write per message (issue 4, "Benchmark"): messages/s and
// p50/p99 with 1, 100 and 10,000 agents, wake-from-hibernation latency, and
// memory per awake and per hibernated agent; side by side, in the same run,
// a stateless baseline that opens the agent's database and re-reads its
// state for every message, with the ratio. `make bench-agents` runs it;
// docs/benchmarks.md has the figures.
//
// Usage:
//
//	go run ./bench/agentbench [--agents 1,100,10000] [--duration 10s] [--quick] [--markdown]
//
// # Gateway
//
// Each run starts its own gateway in this process, built as cmd/outpost
// builds it: agenthost.Host with the two bench classes, protocol.Layer,
// broker.Server with broker.DefaultConfig on a random loopback port, all
// in a fresh data directory under --dir (the system temp dir by default;
// the agents' SQLite files live there, so the disk matters). The load
// generator shares the CPUs with the gateway.
//
// # Agents
//
// bench-counter (stateful) and bench-stateless (the baseline) are in
// agents.go: each message stores one row and replies with the counter; the
// stateful agent keeps the counter in memory while awake, the stateless one
// opens its database, reads it, writes and closes for every message.
//
// # Load
//
// Agent i is dev-i. With N agents and --conns C (default 100), min(N, C)
// MQTT 3.1.1 connections each join their share of the agents (subscribing
// to agents/{class}/dev-i/out at QoS 1, N/C agents per connection for
// 10,000 agents) and publish CBOR readings {"a": i, "s": seq, "t": sent}
// to agents/{class}/dev-i/in at QoS 1; the reply comes back on /out. Each
// connection keeps --inflight/C readings (at least one) in flight end to end
// and sends the next reading, to its next agent in turn, as each reply
// arrives: a closed loop at saturation with 100 readings in flight by
// default, so the latencies include queueing (Little's law: about
// 100 / msg/s). Latency is reply received minus reading sent. A run is:
// join, one reading to every agent and its reply ("first contact": creates
// the databases), --warmup, --duration measured, stop, drain. Each agent's
// counters must come back as 1, 2, 3 …; anything else, an error reply or a
// reply still missing after the drain counts as an error.
//
// An awake agent holds three files open (database, -wal, -shm), four with
// the stateless baseline (main.go, fdsPerAgent). When N agents would need
// more than the process's open-file limit allows, the
// run sets the host's idle timeout to --idle-crowded (1s) instead of
// --idle (1m, the host default), so that only recently active agents stay
// awake; the table's wakes/msg column shows how often a reading then found
// its agent hibernated.
//
// # Hibernation
//
// wake.go: a gateway with a short idle timeout (--wake-idle, 10s) and
// --mem-agents bench-counter agents (1,000). Memory before joining, with
// every agent awake, and once all hibernated (the bench counts agent
// values the host released and the garbage collector freed), per agent; then
// round trips one agent at a time: to a hibernated agent (the reading wakes
// it), then to the same agent again (warm).
package main
