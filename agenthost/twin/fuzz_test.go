package twin

import (
	"errors"
	"testing"

	"github.com/outpost-iot/outpost/agenthost"
	"github.com/outpost-iot/outpost/wire"
)

// FuzzDecodeFrame: whatever a device sends, decodeFrame either returns a
// frame within the limits or an error that wraps wire.ErrMalformed, and
// never panics.
func FuzzDecodeFrame(f *testing.F) {
	for _, seed := range []any{
		map[string]any{"type": "telemetry", "ts": int64(1764000000000), "values": map[string]any{"temp": 21.5, "hum": int64(40)}},
		map[string]any{"type": "telemetry", "values": map[string]any{"door": true, "fw": "1.2", "raw": []byte{1}, "x": nil}},
		map[string]any{"type": "telemetry", "ts": 1.5e12, "values": map[string]any{"big": uint64(1) << 63}},
		map[string]any{"type": "telemetry", "values": map[string]any{"n": []any{1}}},
		map[string]any{"type": "ack", "version": int64(3)},
		map[string]any{"type": "ack", "version": int64(3), "ok": false, "error": "no"},
		map[string]any{"type": "ack", "version": -1.0},
		map[string]any{"type": "desired", "version": int64(1), "config": map[string]any{}},
		[]any{"telemetry"},
		"telemetry",
	} {
		data, err := cbor.Marshal(seed)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte{0xa1, 0x64, 't', 'y', 'p', 'e', 0x63, 'a', 'c', 'k'}) // {"type": "ack"}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := cbor.Unmarshal(data)
		if err != nil {
			return
		}
		fr, err := decodeFrame(v)
		if err != nil {
			if !errors.Is(err, wire.ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		switch fr := fr.(type) {
		case *telemetry:
			if len(fr.values) == 0 || len(fr.values) > MaxValues || fr.ts < 0 || fr.ts > maxTimestamp {
				t.Fatalf("telemetry out of limits: %d values, ts %d", len(fr.values), fr.ts)
			}
			for k, v := range fr.values {
				if k == "" || len(k) > MaxKeyBytes {
					t.Fatalf("key %q", k)
				}
				switch v.(type) {
				case nil, bool, int64, float64, string, []byte:
				default:
					t.Fatalf("value %T", v)
				}
				// Every accepted value can be stored and read back.
				num, val := columns(v)
				_ = fromColumns(num, val)
			}
			if _, err := cbor.Marshal(fr.values); err != nil {
				t.Fatalf("accepted values do not encode: %v", err)
			}
		case *ack:
			if fr.version < 0 || !fr.ok && fr.err == "" || len(fr.err) > MaxErrorBytes {
				t.Fatalf("ack %+v", fr)
			}
		default:
			t.Fatalf("decodeFrame returned %T", fr)
		}
	})
}

// FuzzHistoryArgs: any arguments give a valid query or an error.
func FuzzHistoryArgs(f *testing.F) {
	for _, seed := range [][]any{
		{},
		{int64(0), int64(1000), "temp", "avg", int64(60000)},
		{nil, nil, nil, "count"},
		{"x", 1.5, int64(-1), "median", int64(0)},
		{nil, nil, nil, nil, int64(10)},
	} {
		data, err := cbor.Marshal(seed)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := cbor.Unmarshal(data)
		if err != nil {
			return
		}
		args, ok := v.([]any)
		if !ok {
			return
		}
		q, err := historyArgs(&agenthost.Call{Method: "history", Args: args}, 10)
		if err != nil {
			return
		}
		if q.from < 0 || q.to > maxTimestamp || q.from > q.to || q.bucket < 0 || q.bucket > 0 && q.aggregate == "" {
			t.Fatalf("query %+v", q)
		}
		if _, ok := aggregates[q.aggregate]; q.aggregate != "" && !ok {
			t.Fatalf("aggregate %q", q.aggregate)
		}
	})
}
