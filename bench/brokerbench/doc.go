// Command brokerbench runs the same MQTT load scenarios against Outpost and
// against Mosquitto, side by side on the same machine, and prints a comparison
// table.
//
// Usage:
//
//	go run ./bench/brokerbench --outpost ./bin/outpost [--mosquitto /usr/sbin/mosquitto] [--duration 10s] [--quick] [--markdown]
//	go run ./bench/brokerbench --outpost-addr 127.0.0.1:PORT --mosquitto-addr 127.0.0.1:PORT2
//
// # Brokers
//
// Unless an address is given with --outpost-addr / --mosquitto-addr, both
// brokers are started as subprocesses listening on free 127.0.0.1 ports (never
// 1883): Mosquitto with a temporary config (anonymous access, no persistence),
// Outpost with "--data-dir TMP --listen 127.0.0.1 --mqtt-port P1 --http-port P2
// --log-format json". Their logs go to a temporary directory, which is kept
// (and printed) when something went wrong or with --keep. Both subprocesses
// are killed when the run ends, fails, times out (--timeout, computed from the
// plan by default) or is interrupted with Ctrl-C.
//
// # Scenarios
//
// fanin-*: --clients publishers (default 32) publish to bench/in/{i}; one
// subscriber on bench/in/+. fanout-*: one publisher on bench/out and --clients
// subscribers. Each exists at QoS 0 and QoS 1 (publish and subscription use
// the same QoS) and with 64-byte and 1 KiB payloads. Scenarios run in turn,
// and within a scenario the brokers alternate (Outpost, Mosquitto, Outpost,
// ...) for --reps repetitions; the table shows the median of each metric over
// the repetitions. Each run uses fresh clean-session connections.
//
// Publishers send as fast as the client allows unless --rate caps the total
// offered load. QoS 0 publishers are open loop: they are only slowed by TCP
// back-pressure. QoS 1 publishers keep a window of --window (default 16)
// unacknowledged PUBLISHes each: a new message is sent as soon as the oldest
// of the window has been PUBACKed. A window (rather than one message at a
// time) is needed to saturate a broker over loopback: with a closed loop the
// publishers mostly wait for round trips and the broker idles. Sixteen per
// client (512 in flight with 32 publishers) keeps both brokers busy while
// bounding the memory each broker needs for unacknowledged messages.
//
// # Measurements
//
// Every payload starts with the send time (UnixNano, taken from a monotonic
// clock right before the publish call), the publisher id and a per-publisher
// sequence number, padded to the payload size. A run is: connect and
// subscribe, publish for --warmup (default 2s, not measured) plus --duration
// (default 10s, measured), then stop publishing and drain (wait until every
// expected message arrived, nothing arrived for 500ms, or --drain elapsed).
// Publishing also stops early if --max-msgs messages have been published.
//
//   - msg/s: messages delivered to subscribers per second during the measured
//     window, summed over all subscribers (so fan-out counts every copy).
//     Under saturation this is the broker's sustained delivery rate.
//   - p50/p99: end-to-end latency, publish call to the subscriber's message
//     callback, of the messages received during the measured window, from a
//     log-linear histogram (about 1.6% resolution). At saturation this is
//     dominated by queueing in the broker and the TCP buffers; use --rate
//     below saturation to compare latency at equal offered load.
//   - loss: messages published but never received after the drain, counted
//     per subscriber and publisher from the sequence numbers; the percentage
//     is relative to the expected deliveries (published x subscribers).
//     Duplicates are counted separately and listed under the table. Losses at
//     QoS 0 are allowed by MQTT (brokers drop when a subscriber falls
//     behind); at QoS 1 Mosquitto also drops beyond max_queued_messages
//     (1000 by default).
//
// The load generator runs on the same machine as the brokers and competes
// with them for CPU, which compresses differences between the brokers; it is
// the same generator for both, but the absolute numbers are a lower bound of
// what each broker can do. --pin puts the brokers on CPU 0 and the harness on
// CPU 1 (GOMAXPROCS=1) with taskset to separate them.
package main
