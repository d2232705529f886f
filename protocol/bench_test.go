package protocol

import (
	"context"
	"testing"

	"github.com/outpost-iot/outpost/wire"
)

// discard is a sink that keeps nothing, so the benchmarks measure the
// choke point: policy check, encoding, hand-off.
type discard struct{ n int }

func (d *discard) Write(data []byte, _ bool) error { d.n = len(data); return nil }
func (d *discard) Close(int, string) error         { return nil }

// The frames of docs/benchmarks.md "Protocol layer": device telemetry and
// an rpc reply.
var benchFrames = []struct {
	name  string
	frame wire.Frame
}{
	{"telemetry", wire.Frame{Kind: wire.Message, Value: map[string]any{"type": "telemetry", "t": int64(1732700000), "temp": 21.5, "hum": int64(40)}}},
	{"rpc_reply", wire.RPCResultFrame("6f1c2a9e-3b7d-4c55-9f0e-2d8a1b4c7e60", map[string]any{"ok": true, "target": 21.5}, true)},
	{"state_suppressed", wire.StateFrame(map[string]any{"mode": "heat", "setpoint": 21.5})},
}

// BenchmarkSend is the cost of one outbound frame through Conn.Send, per
// codec; "bytes" is its size on the wire.
func BenchmarkSend(b *testing.B) {
	for _, f := range benchFrames {
		for _, codec := range []string{wire.CBOR, wire.JSON} {
			b.Run(f.name+"/"+codec, func(b *testing.B) {
				l, a := newLayer(b, Config{})
				d := &discard{}
				j := wire.Join{Key: "k", ID: "k", Agent: echoAddr, Transport: wire.MQTT, Options: wire.Options{Codec: codec}, Out: d}
				if err := l.Join(context.Background(), j); err != nil {
					b.Fatal(err)
				}
				c := a.connected[0]
				b.ReportAllocs()
				for b.Loop() {
					if err := c.Send(f.frame); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(d.n), "bytes")
			})
		}
	}
}

// BenchmarkReceive is the cost of one inbound rpc frame: decode, classify,
// hand to the agent host (a fake that returns at once).
func BenchmarkReceive(b *testing.B) {
	for _, codec := range []string{wire.CBOR, wire.JSON} {
		b.Run("rpc/"+codec, func(b *testing.B) {
			l, _ := newLayer(b, Config{})
			c := l.codecs[wire.MQTT][codec]
			data, err := c.Marshal(map[string]any{"type": "rpc", "id": "6f1c2a9e-3b7d-4c55-9f0e-2d8a1b4c7e60", "method": "setTarget", "args": []any{"kitchen", 21.5}})
			if err != nil {
				b.Fatal(err)
			}
			r := wire.Receive{From: wire.Join{Key: "k", ID: "k", Agent: echoAddr, Transport: wire.MQTT, Options: wire.Options{Codec: codec}}, Data: data, Binary: true}
			b.ReportAllocs()
			for b.Loop() {
				if err := l.Receive(context.Background(), r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
