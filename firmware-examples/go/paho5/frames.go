package main

// The twin's frames (docs/twin.md), in CBOR with github.com/fxamacker/cbor/v2.
// The gateway writes RFC 8949 core deterministic CBOR (sorted keys, shortest
// floats); this file writes the same, so that a frame can be compared byte
// for byte with the golden files in codecs/testdata/golden.

import (
	"fmt"
	"reflect"

	"github.com/fxamacker/cbor/v2"
)

var (
	encMode = mustEncMode(cbor.CoreDetEncOptions())
	decMode = mustDecMode(cbor.DecOptions{
		DefaultMapType: reflect.TypeOf(map[string]any(nil)), // nested maps keyed by text
		IntDec:         cbor.IntDecConvertSignedOrFail,      // integers decode as int64
	})
)

func mustEncMode(o cbor.EncOptions) cbor.EncMode {
	m, err := o.EncMode()
	if err != nil {
		panic(err)
	}
	return m
}

func mustDecMode(o cbor.DecOptions) cbor.DecMode {
	m, err := o.DecMode()
	if err != nil {
		panic(err)
	}
	return m
}

// inFrame is any frame the twin sends on /out: a desired configuration, an
// rpc reply or an outpost_error. Keys a frame does not have stay zero.
type inFrame struct {
	Type string `cbor:"type"`
	// desired
	Version int64          `cbor:"version"`
	Config  map[string]any `cbor:"config"`
	// rpc reply
	ID      string          `cbor:"id"`
	Success bool            `cbor:"success"`
	Done    bool            `cbor:"done"`
	Result  cbor.RawMessage `cbor:"result"`
	Error   string          `cbor:"error"` // also outpost_error
	// outpost_error
	Code string `cbor:"code"`
}

// ackFrame acknowledges a desired configuration (OK nil means true).
type ackFrame struct {
	Type    string `cbor:"type"`
	Version int64  `cbor:"version"`
	OK      *bool  `cbor:"ok,omitempty"`
	Error   string `cbor:"error,omitempty"`
}

// telemetryFrame carries one reading of each key; TS 0 leaves the time to
// the gateway.
type telemetryFrame struct {
	Type   string         `cbor:"type"`
	TS     int64          `cbor:"ts,omitempty"`
	Values map[string]any `cbor:"values"`
}

// rpcFrame calls one of the twin's callables.
type rpcFrame struct {
	Type   string `cbor:"type"`
	ID     string `cbor:"id"`
	Method string `cbor:"method"`
	Args   []any  `cbor:"args"`
}

// historyResult is the result of the twin's history callable.
type historyResult struct {
	Rows []struct {
		TS     int64          `cbor:"ts"`
		Values map[string]any `cbor:"values"`
	} `cbor:"rows"`
	More bool `cbor:"more"`
}

func encodeAck(version int64) ([]byte, error) {
	return encMode.Marshal(ackFrame{Type: "ack", Version: version})
}

func encodeAckError(version int64, reason string) ([]byte, error) {
	no := false
	return encMode.Marshal(ackFrame{Type: "ack", Version: version, OK: &no, Error: reason})
}

func encodeTelemetry(ts int64, values map[string]any) ([]byte, error) {
	return encMode.Marshal(telemetryFrame{Type: "telemetry", TS: ts, Values: values})
}

func encodeRPC(id, method string, args ...any) ([]byte, error) {
	if args == nil {
		args = []any{}
	}
	return encMode.Marshal(rpcFrame{Type: "rpc", ID: id, Method: method, Args: args})
}

func decodeFrame(data []byte) (inFrame, error) {
	var f inFrame
	if err := decMode.Unmarshal(data, &f); err != nil {
		return f, fmt.Errorf("frame is not a CBOR map: %w", err)
	}
	if f.Type == "" {
		return f, fmt.Errorf("frame without a type")
	}
	return f, nil
}

func decodeHistory(result cbor.RawMessage) (historyResult, error) {
	var h historyResult
	if err := decMode.Unmarshal(result, &h); err != nil {
		return h, fmt.Errorf("history result: %w", err)
	}
	return h, nil
}
