package codecs

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/fxamacker/cbor/v2"
)

var update = flag.Bool("update", false, "rewrite testdata/golden from the frames in golden_test.go")

// goldenFrames are representative frames of the Agents SDK wire protocol
// (notes/agents-sdk.md §2.1, §5, §10.1) with its type strings and field
// names, plus one device frame. As plain maps until package protocol has
// typed frames. The chat chunk carries its body as a native value, as on
// CBOR connections (DESIGN.md, Frames).
var goldenFrames = []struct {
	name  string
	frame map[string]any
}{
	{"cf_agent_identity", map[string]any{
		"type":  "cf_agent_identity",
		"name":  "kitchen",
		"agent": "thermostat-agent",
	}},
	{"cf_agent_state", map[string]any{
		"type": "cf_agent_state",
		"state": map[string]any{
			"mode":     "heat",
			"setpoint": 21.5,
			"rooms":    []any{"kitchen", "hall"},
			"updated":  int64(1732700000),
		},
	}},
	{"cf_agent_state_error", map[string]any{
		"type":  "cf_agent_state_error",
		"error": "Connection is readonly",
	}},
	{"cf_agent_mcp_servers", map[string]any{
		"type": "cf_agent_mcp_servers",
		"mcp": map[string]any{
			"servers": map[string]any{
				"srv-1": map[string]any{
					"name":         "weather",
					"server_url":   "https://mcp.example.com/mcp",
					"auth_url":     nil,
					"state":        "ready",
					"error":        nil,
					"instructions": nil,
					"capabilities": map[string]any{"tools": map[string]any{"listChanged": true}},
				},
			},
			"tools": []any{map[string]any{
				"name":        "forecast",
				"description": "Hourly forecast for a place",
				"inputSchema": map[string]any{
					"type":       "object",
					"properties": map[string]any{"place": map[string]any{"type": "string"}},
					"required":   []any{"place"},
				},
				"serverId": "srv-1",
			}},
			"prompts":   []any{},
			"resources": []any{},
		},
	}},
	{"rpc_request", map[string]any{
		"type":   "rpc",
		"id":     "6f1c2a9e-3b7d-4c55-9f0e-2d8a1b4c7e60",
		"method": "setTarget",
		"args":   []any{"kitchen", 21.5},
	}},
	{"rpc_success", map[string]any{
		"type":    "rpc",
		"id":      "6f1c2a9e-3b7d-4c55-9f0e-2d8a1b4c7e60",
		"success": true,
		"result":  map[string]any{"ok": true, "target": 21.5},
		"done":    true,
	}},
	{"rpc_stream_chunk", map[string]any{
		"type":    "rpc",
		"id":      "0b5e8f2a-7c1d-4e9b-a3f6-58d2c4e1b907",
		"success": true,
		"result":  "partial result 1",
		"done":    false,
	}},
	{"rpc_error", map[string]any{
		"type":    "rpc",
		"id":      "6f1c2a9e-3b7d-4c55-9f0e-2d8a1b4c7e60",
		"success": false,
		"error":   "Method setTarget does not exist",
	}},
	{"outpost_error", map[string]any{
		"type":  "outpost_error",
		"code":  "agent_busy",
		"error": "agent echo/device-1: 4096 frames queued: agent is busy",
	}},
	{"telemetry", map[string]any{
		"type": "telemetry",
		"t":    int64(1732700000),
		"temp": 21.5,
		"hum":  int64(40),
		"raw":  []byte{0x01, 0x5e, 0xa0, 0xff},
	}},
	// The twin agent's frames (docs/twin.md).
	{"twin_desired_empty", map[string]any{
		"type":    "desired",
		"version": int64(0),
		"config":  map[string]any{},
	}},
	{"twin_desired", map[string]any{
		"type":    "desired",
		"version": int64(1),
		"config":  map[string]any{"interval_s": int64(30), "unit": "C", "led": true},
	}},
	{"twin_ack", map[string]any{
		"type":    "ack",
		"version": int64(1),
	}},
	{"twin_ack_error", map[string]any{
		"type":    "ack",
		"version": int64(1),
		"ok":      false,
		"error":   "interval_s out of range",
	}},
	{"twin_telemetry", map[string]any{
		"type":   "telemetry",
		"values": map[string]any{"temp": 21.5, "hum": int64(40)},
	}},
	{"twin_telemetry_ts", map[string]any{
		"type":   "telemetry",
		"ts":     int64(1764000000000),
		"values": map[string]any{"temp": 21.5, "hum": int64(40), "door": false, "fw": "1.0.3"},
	}},
	{"twin_history_request", map[string]any{
		"type":   "rpc",
		"id":     "h-1",
		"method": "history",
		"args":   []any{int64(1764000000000), nil, "temp"},
	}},
	{"twin_history_result", map[string]any{
		"type":    "rpc",
		"id":      "h-1",
		"success": true,
		"done":    true,
		"result": map[string]any{
			"rows": []any{
				map[string]any{"ts": int64(1764000000000), "values": map[string]any{"temp": 21.5}},
				map[string]any{"ts": int64(1764000060000), "values": map[string]any{"temp": 21.75}},
			},
			"more": false,
		},
	}},
}

// TestGolden compares the encoding of every golden frame with
// testdata/golden/<name>.json and .cbor byte for byte, and decodes the files
// back to the frame. go test ./codecs -run Golden -update rewrites them.
func TestGolden(t *testing.T) {
	codecs := []Codec{mustCBOR(t, Limits{}), mustJSON(t, Limits{})}
	for _, g := range goldenFrames {
		for _, c := range codecs {
			t.Run(g.name+"."+c.Name(), func(t *testing.T) {
				path := filepath.Join("testdata", "golden", g.name+"."+c.Name())
				got, err := c.Marshal(g.frame)
				if err != nil {
					t.Fatal(err)
				}
				if *update {
					if err := os.WriteFile(path, got, 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run go test ./codecs -run Golden -update)", err)
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("encoding changed:\n got %x\nwant %x", got, want)
				}
				if c.Name() == "json" && !json.Valid(want) {
					t.Fatalf("%s is not valid JSON", path)
				}
				if c.Name() == "cbor" {
					var x any // the library's own generic decoding reads it too
					if err := cbor.Unmarshal(want, &x); err != nil {
						t.Fatalf("fxamacker/cbor rejects %s: %v", path, err)
					}
				}
				back, err := c.Unmarshal(want)
				if err != nil {
					t.Fatal(err)
				}
				if !equal(back, any(g.frame)) {
					t.Fatalf("%s decodes to %s", path, show(back))
				}
			})
		}
	}
}
