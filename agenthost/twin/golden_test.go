package twin

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/outpost-iot/outpost/codecs"
	"github.com/outpost-iot/outpost/wire"
)

var jsonCodec = func() codecs.Codec {
	c, err := codecs.New(wire.JSON, codecs.Limits{})
	if err != nil {
		panic(err)
	}
	return c
}()

// golden reads a golden frame of codecs/testdata/golden (docs/twin.md
// names them; the device examples test against them).
func golden(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "codecs", "testdata", "golden", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestGoldenFrames: the twin accepts the golden device frames and sends
// the golden twin frames byte for byte, so the files are what a twin
// really says.
func TestGoldenFrames(t *testing.T) {
	clk := newClock()
	clk.add(time.UnixMilli(1764000060000).Sub(clk.Now()))
	th := startHost(t, "", clk, Config{})
	dev := newConn("device-1", wire.MQTT, false)
	th.join(t, dev)
	f, _ := dev.next(t, 0, TypeDesired)
	if got, _ := cbor.Marshal(f); !bytes.Equal(got, golden(t, "twin_desired_empty.cbor")) {
		t.Fatalf("desired on join %x differs from twin_desired_empty.cbor", got)
	}
	th.result(t, dev, "setDesired", map[string]any{"interval_s": 30, "unit": "C", "led": true})
	f, _ = dev.next(t, 1, TypeDesired)
	if got, _ := cbor.Marshal(f); !bytes.Equal(got, golden(t, "twin_desired.cbor")) {
		t.Fatalf("desired %x differs from twin_desired.cbor", got)
	}
	for _, name := range []string{"twin_ack.cbor", "twin_ack_error.cbor", "twin_ack.json", "twin_telemetry_ts.cbor", "twin_telemetry.json"} {
		codec := cbor
		if filepath.Ext(name) == ".json" {
			codec = jsonCodec
		}
		v, err := codec.Unmarshal(golden(t, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := th.inbound(t, dev, wire.Inbound{Kind: wire.InMessage, Value: v}); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	th.telemetry(t, dev, 1764000060000, map[string]any{"temp": 21.75})
	v, err := cbor.Unmarshal(golden(t, "twin_history_request.cbor"))
	if err != nil {
		t.Fatal(err)
	}
	req := v.(map[string]any)
	from := dev.count()
	if err := th.inbound(t, dev, wire.Inbound{Kind: wire.InRPC, ID: req["id"].(string), Method: req["method"].(string), Args: req["args"].([]any)}); err != nil {
		t.Fatal(err)
	}
	f, _ = dev.next(t, from, wire.TypeRPC)
	if got, _ := cbor.Marshal(f); !bytes.Equal(got, golden(t, "twin_history_result.cbor")) {
		t.Fatalf("history reply %v differs from twin_history_result.cbor", f)
	}
	if d := th.result(t, dev, "desired").(map[string]any); d["acked_version"] != int64(1) {
		t.Fatalf("golden acks not recorded: %v", d)
	}
}
