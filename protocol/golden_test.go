package protocol

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/outpost-iot/outpost/wire"
)

// TestBuildersMatchGolden checks that the frames the gateway builds are
// byte for byte the golden frames of codecs/testdata/golden, which device
// examples test against, in both codecs.
func TestBuildersMatchGolden(t *testing.T) {
	id := "6f1c2a9e-3b7d-4c55-9f0e-2d8a1b4c7e60"
	frames := map[string]wire.Frame{
		"cf_agent_identity":    wire.IdentityFrame(wire.Address{Class: "thermostat-agent", Name: "kitchen"}),
		"cf_agent_state":       wire.StateFrame(map[string]any{"mode": "heat", "rooms": []any{"kitchen", "hall"}, "setpoint": 21.5, "updated": int64(1732700000)}),
		"cf_agent_state_error": wire.StateErrorFrame(wire.StateReadonly),
		"rpc_success":          wire.RPCResultFrame(id, map[string]any{"ok": true, "target": 21.5}, true),
		"rpc_stream_chunk":     wire.RPCResultFrame("0b5e8f2a-7c1d-4e9b-a3f6-58d2c4e1b907", "partial result 1", false),
		"rpc_error":            wire.RPCErrorFrame(id, "Method setTarget does not exist"),
		"outpost_error":        wire.ErrorFrame(wire.CodeBusy, "agent echo/device-1: 4096 frames queued: agent is busy"),
	}
	for _, codec := range []string{wire.JSON, wire.CBOR} {
		l, a := newLayer(t, Config{})
		s := &sink{}
		if err := l.Join(context.Background(), wire.Join{Key: "k", ID: "k", Agent: echoAddr, Transport: wire.WebSocket, Options: wire.Options{Codec: codec, Protocol: true}, Out: s}); err != nil {
			t.Fatal(err)
		}
		c := a.connected[0]
		for name, f := range frames {
			n := len(s.got())
			if err := c.Send(f); err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(filepath.Join("..", "codecs", "testdata", "golden", name+"."+codec))
			if err != nil {
				t.Fatal(err)
			}
			if got := s.got()[n].data; !bytes.Equal(got, want) {
				t.Errorf("%s.%s:\n got %q\nwant %q", name, codec, got, want)
			}
		}
	}
}
