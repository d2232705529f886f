package twin

import (
	"errors"
	"fmt"
	"math"
	"unicode/utf8"

	"github.com/outpost-iot/outpost/wire"
)

// Frame types of the twin (docs/twin.md "Frames").
const (
	// TypeTelemetry is a device's readings: {"type": "telemetry",
	// "ts": ms (optional), "values": {key: value}}.
	TypeTelemetry = "telemetry"
	// TypeAck acknowledges a desired configuration: {"type": "ack",
	// "version": n, "ok": bool (optional, default true), "error": text
	// (optional)}.
	TypeAck = "ack"
	// TypeDesired is the twin's desired configuration: {"type": "desired",
	// "version": n, "config": {...}}.
	TypeDesired = "desired"
)

// Limits on frames from devices (docs/twin.md "Limits").
const (
	// MaxValues bounds the values of one telemetry frame.
	MaxValues = 256
	// MaxKeyBytes bounds the length of a telemetry key.
	MaxKeyBytes = 128
	// MaxValueBytes bounds a text or byte-string telemetry value.
	MaxValueBytes = 256
	// MaxErrorBytes bounds the error text of an ack (longer texts are cut).
	MaxErrorBytes = 256
	// maxTimestamp is 2^53 - 1 ms: every timestamp is exact in a
	// JavaScript number and in a float64.
	maxTimestamp = 1<<53 - 1
)

// errFrame is a twin frame that does not follow docs/twin.md; it wraps
// wire.ErrMalformed, so an MQTT 5 publish is refused with reason code 0x99.
func errFrame(format string, a ...any) error {
	return fmt.Errorf("twin: %s: %w", fmt.Sprintf(format, a...), wire.ErrMalformed)
}

// telemetry is a decoded telemetry frame.
type telemetry struct {
	ts     int64 // ms; 0 when the frame had none
	hasTS  bool
	values map[string]any // of sample values (see sampleValue)
}

// ack is a decoded ack frame.
type ack struct {
	version int64
	ok      bool
	err     string
}

// decodeFrame reads a frame a device sent to the twin, a value of the
// codecs value model: either a *telemetry or an *ack. Any other value is
// an error that wraps wire.ErrMalformed and says what is wrong.
func decodeFrame(v any) (any, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errFrame("a frame must be a map with text keys and a \"type\", got %s", describe(v))
	}
	typ, ok := m["type"].(string)
	if !ok {
		return nil, errFrame("frame without a text \"type\"")
	}
	switch typ {
	case TypeTelemetry:
		return decodeTelemetry(m)
	case TypeAck:
		return decodeAck(m)
	}
	return nil, errFrame("unknown frame type %q (want %q or %q)", typ, TypeTelemetry, TypeAck)
}

func decodeTelemetry(m map[string]any) (*telemetry, error) {
	t := &telemetry{}
	if raw, ok := m["ts"]; ok && raw != nil {
		ts, err := timestamp(raw)
		if err != nil {
			return nil, errFrame("telemetry \"ts\": %v", err)
		}
		t.ts, t.hasTS = ts, true
	}
	raw, ok := m["values"]
	if !ok {
		return nil, errFrame("telemetry without \"values\"")
	}
	values, ok := raw.(map[string]any)
	if !ok {
		return nil, errFrame("telemetry \"values\" must be a map with text keys, got %s", describe(raw))
	}
	if len(values) == 0 {
		return nil, errFrame("telemetry with no values")
	}
	if len(values) > MaxValues {
		return nil, errFrame("telemetry with %d values (at most %d)", len(values), MaxValues)
	}
	t.values = make(map[string]any, len(values))
	for k, v := range values {
		if k == "" || len(k) > MaxKeyBytes {
			return nil, errFrame("telemetry key %q must have 1 to %d bytes", truncate(k, 32), MaxKeyBytes)
		}
		sv, err := sampleValue(v)
		if err != nil {
			return nil, errFrame("telemetry value %q: %v", k, err)
		}
		t.values[k] = sv
	}
	return t, nil
}

func decodeAck(m map[string]any) (*ack, error) {
	raw, ok := m["version"]
	if !ok {
		return nil, errFrame("ack without \"version\"")
	}
	version, err := integer(raw)
	if err != nil || version < 0 {
		return nil, errFrame("ack \"version\" must be an integer >= 0, got %s", describe(raw))
	}
	a := &ack{version: version, ok: true}
	if raw, ok := m["ok"]; ok && raw != nil {
		b, isBool := raw.(bool)
		if !isBool {
			return nil, errFrame("ack \"ok\" must be a bool, got %s", describe(raw))
		}
		a.ok = b
	}
	if raw, ok := m["error"]; ok && raw != nil {
		s, isText := raw.(string)
		if !isText {
			return nil, errFrame("ack \"error\" must be text, got %s", describe(raw))
		}
		a.err = truncate(s, MaxErrorBytes)
	}
	if !a.ok && a.err == "" {
		a.err = "rejected by the device"
	}
	return a, nil
}

// sampleValue checks one telemetry value: an integer, a float, a bool, a
// text or byte string of at most MaxValueBytes, or null. Integers above
// 2^63-1 become floats.
func sampleValue(v any) (any, error) {
	switch x := v.(type) {
	case nil, bool, int64, float64:
		return x, nil
	case uint64:
		return float64(x), nil
	case string:
		if len(x) > MaxValueBytes {
			return nil, fmt.Errorf("text of %d bytes (at most %d)", len(x), MaxValueBytes)
		}
		return x, nil
	case []byte:
		if len(x) > MaxValueBytes {
			return nil, fmt.Errorf("byte string of %d bytes (at most %d)", len(x), MaxValueBytes)
		}
		return x, nil
	}
	return nil, fmt.Errorf("must be a number, bool, text, byte string or null, got %s", describe(v))
}

var errNotInteger = errors.New("not an integer")

// integer reads an integer of the value model; a float with an integral
// value is accepted too (JavaScript encoders send some integers as floats).
func integer(v any) (int64, error) {
	switch x := v.(type) {
	case int64:
		return x, nil
	case uint64:
		if x <= math.MaxInt64 {
			return int64(x), nil
		}
	case float64:
		if x == math.Trunc(x) && x >= -(1<<63) && x < 1<<63 {
			return int64(x), nil
		}
	}
	return 0, errNotInteger
}

// timestamp reads a time in Unix milliseconds, 0 to 2^53-1.
func timestamp(v any) (int64, error) {
	ts, err := integer(v)
	if err != nil || ts < 0 || ts > maxTimestamp {
		return 0, fmt.Errorf("must be Unix milliseconds, an integer from 0 to 2^53-1, got %s", describe(v))
	}
	return ts, nil
}

// describe names a value's type, and shows short scalars, for error
// messages.
func describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return fmt.Sprintf("bool %v", x)
	case int64, uint64:
		return fmt.Sprintf("integer %d", x)
	case float64:
		return fmt.Sprintf("float %g", x)
	case string:
		return fmt.Sprintf("text %q", truncate(x, 32))
	case []byte:
		return fmt.Sprintf("byte string of %d bytes", len(x))
	case []any:
		return "an array"
	case map[string]any:
		return "a map"
	}
	return fmt.Sprintf("a %T", v)
}

// truncate cuts s to at most n bytes on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// desiredFrame is the frame that tells devices the desired configuration.
func desiredFrame(version int64, config map[string]any) wire.Frame {
	return wire.Frame{Kind: wire.Message, Value: map[string]any{
		"type": TypeDesired, "version": version, "config": config,
	}}
}
