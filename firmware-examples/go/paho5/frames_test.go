package main

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// golden reads a frame of codecs/testdata/golden (docs/twin.md).
func golden(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "..", "codecs", "testdata", "golden", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestGoldenFramesSent: the frames this device sends are byte for byte the
// golden frames the gateway's codec is tested against.
func TestGoldenFramesSent(t *testing.T) {
	for _, c := range []struct {
		golden string
		encode func() ([]byte, error)
	}{
		{"twin_ack.cbor", func() ([]byte, error) { return encodeAck(1) }},
		{"twin_ack_error.cbor", func() ([]byte, error) { return encodeAckError(1, "interval_s out of range") }},
		{"twin_telemetry.cbor", func() ([]byte, error) {
			return encodeTelemetry(0, map[string]any{"temp": 21.5, "hum": int64(40)})
		}},
		{"twin_telemetry_ts.cbor", func() ([]byte, error) {
			return encodeTelemetry(1764000000000, map[string]any{"temp": 21.5, "hum": int64(40), "door": false, "fw": "1.0.3"})
		}},
		{"twin_history_request.cbor", func() ([]byte, error) {
			return encodeRPC("h-1", "history", int64(1764000000000), nil, "temp")
		}},
	} {
		got, err := c.encode()
		if err != nil {
			t.Fatalf("%s: %v", c.golden, err)
		}
		if want := golden(t, c.golden); !bytes.Equal(got, want) {
			t.Errorf("%s:\n got %x\nwant %x", c.golden, got, want)
		}
	}
}

// TestGoldenFramesReceived: the frames the twin sends decode into what the
// device acts on.
func TestGoldenFramesReceived(t *testing.T) {
	f, err := decodeFrame(golden(t, "twin_desired_empty.cbor"))
	if err != nil || f.Type != "desired" || f.Version != 0 || f.Config == nil || len(f.Config) != 0 {
		t.Errorf("twin_desired_empty: %+v %v", f, err)
	}
	f, err = decodeFrame(golden(t, "twin_desired.cbor"))
	want := map[string]any{"interval_s": int64(30), "led": true, "unit": "C"}
	if err != nil || f.Type != "desired" || f.Version != 1 || !reflect.DeepEqual(f.Config, want) {
		t.Errorf("twin_desired: %+v %v", f, err)
	}
	f, err = decodeFrame(golden(t, "twin_history_result.cbor"))
	if err != nil || f.Type != "rpc" || f.ID != "h-1" || !f.Success || !f.Done {
		t.Fatalf("twin_history_result: %+v %v", f, err)
	}
	h, err := decodeHistory(f.Result)
	if err != nil || h.More || len(h.Rows) != 2 {
		t.Fatalf("history result %+v %v", h, err)
	}
	if h.Rows[0].TS != 1764000000000 || h.Rows[0].Values["temp"] != 21.5 ||
		h.Rows[1].TS != 1764000060000 || h.Rows[1].Values["temp"] != 21.75 {
		t.Errorf("history rows %+v", h.Rows)
	}
}
