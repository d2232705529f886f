// Command brokerbench runs the same MQTT load scenarios against Outpost and
// against Mosquitto, side by side on the same machine, and prints a comparison
// table.
//
// Usage:
//
//	go run ./bench/brokerbench --outpost ./bin/outpost [--mosquitto /usr/sbin/mosquitto] [--duration 10s] [--quick] [--markdown] [--client lite|paho]
//	go run ./bench/brokerbench --outpost-addr 127.0.0.1:PORT --mosquitto-addr 127.0.0.1:PORT2
//
// # Brokers
//
// Unless an address is given with --outpost-addr / --mosquitto-addr, both
// brokers are started as subprocesses listening on free 127.0.0.1 ports (never
// 1883): Mosquitto with a temporary config (anonymous access, no persistence,
// stock TCP settings: Nagle stays on unless --mosquitto-nodelay; with the
// lite client that costs Mosquitto a quarter to a third of its
// fanin-qos0-64B throughput and puts its p99 at ~48ms instead of ~16ms,
// probably Nagle meeting delayed ACKs),
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
// Publishers send as fast as they can, within two windows:
//
//   - End to end (--inflight, default 512 messages over all publishers, so
//     16 each with 32 publishers, 512 for the single fan-out publisher): a
//     publisher waits while it is that many messages ahead of the slowest
//     subscriber (by the highest sequence number received; see flow.go).
//     This is what makes the runs "at saturation" rather than overloaded:
//     the offered load follows what the broker delivers, with a bounded
//     backlog. On a 2-core machine open-loop publishers (--inflight 0) take
//     the CPU from the broker and the subscribers, queues grow until the
//     broker drops, and two identical Mosquittos differed by up to 2x.
//   - QoS 1 only (--window, default 16 per publisher): at most that many
//     PUBLISHes without PUBACK; a new message is sent when the oldest of the
//     window is acknowledged. A window rather than one message at a time,
//     because a closed loop over loopback leaves the broker idle between
//     round trips.
//
// --rate additionally caps the total offered load (msgs/s), to compare
// latency below saturation.
//
// # Client
//
// --client lite (default) uses the harness's own MQTT 3.1.1 client
// (mqttlite.go, wire format in mqttwire.go): clean session, QoS 0 and 1,
// one reader goroutine and one 32 KiB read and write buffer per connection,
// no allocation per message. A publisher's PUBLISHes are coalesced while it
// keeps publishing (up to 8 KiB) and flushed before it waits for anything
// (QoS 1 window, end-to-end window, --rate), so no message waits in the
// client while the publisher is idle; a subscriber's PUBACKs are flushed
// once per read batch, before it reads from the socket again. Per
// delivered message it costs the harness a quarter to a half of the CPU
// time paho.mqtt.golang does against Outpost, and about three quarters
// against Mosquitto, whose unbatched writes leave mostly system call costs
// (client.go has the numbers). That matters because the harness shares the
// CPUs with the broker: with paho the load generator takes about a whole
// core of a 2-core machine, with lite 0.4 to 0.9. --client paho selects
// paho.mqtt.golang (reads through bufio) to cross-check results. The
// progress lines on stderr show the harness CPU per delivered message and
// its average CPU use for each run (getrusage, connect to end of drain);
// --cpuprofile writes a profile of the harness.
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
//     log-linear histogram (about 1.6% resolution). At saturation it is
//     mostly queueing, set by whichever window limits the publishers (by
//     Little's law, messages in flight divided by the rate), so compare the
//     p99 (stalls, unfairness) rather than the p50, and use --rate to compare
//     latency at equal offered load below saturation.
//   - loss: messages published but never received after the drain, counted
//     per subscriber and publisher from the sequence numbers; the percentage
//     is relative to the expected deliveries (published x subscribers).
//     Duplicates are counted separately and listed under the table. Losses at
//     QoS 0 are allowed by MQTT (brokers drop when a subscriber falls
//     behind); at QoS 1 Mosquitto drops when it counts more than
//     max_queued_messages (1000) for a subscriber; Mosquitto 2.0.11 (Debian
//     12) does so now and then in fan-in QoS 1 even with only 128 messages
//     in flight (its $SYS dropped counter and "Outgoing messages are being
//     dropped" log line agree), probably its queue accounting, which 2.0.13
//     reworked. It depends on how fast Mosquitto is fed: with --client paho
//     it lost up to 5% (8-10% with --mosquitto-nodelay), with the lite
//     client, which leaves it more CPU, 20-35% in every fan-in QoS 1 run so
//     far (dropped outright; the subscriber sees no reordering). Publishers
//     blocked by such a loss are released after 250ms; the notes under the
//     table count these stalls.
//
// The load generator runs on the same machine as the brokers and competes
// with them for CPU, which compresses differences between the brokers (less
// so with the lite client); it is the same generator for both, but the
// absolute numbers are a lower bound of what each broker can do. --pin puts the brokers on CPU 0 and the harness on
// CPU 1 (GOMAXPROCS=1) with taskset to separate them.
package main
