package protocol

import (
	"context"
	"errors"
	"testing"

	"github.com/outpost-iot/outpost/wire"
)

// FuzzReceive feeds arbitrary frames to every transport and codec: the
// layer never panics, every frame either reaches the agent (with its bytes
// unchanged) or is refused with one of the wire errors.
func FuzzReceive(f *testing.F) {
	for _, s := range []string{
		`{"type":"rpc","id":"1","method":"echo","args":[1]}`,
		`{"type":"rpc","id":1}`,
		`{"type":"cf_agent_state","state":{"a":[1,2]}}`,
		`{"type":"cf_agent_state","state":"x"}`,
		"\xa3dtypecrpcbidd1234fmethoddecho",
		"\xa2dtypenccf_agent_stateestate\x80",
		"\xff\x00",
		"",
	} {
		f.Add([]byte(s), uint8(0))
		f.Add([]byte(s), uint8(3))
	}
	f.Fuzz(func(t *testing.T, data []byte, mode uint8) {
		a := &agents{}
		l, err := New(Config{MaxFrameMQTT: 1 << 12, MaxFrameWebSocket: 1 << 12}, a, Options{})
		if err != nil {
			t.Fatal(err)
		}
		transport := []string{wire.MQTT, wire.WebSocket}[mode&1]
		codec := []string{wire.JSON, wire.CBOR}[mode>>1&1]
		s := &sink{}
		j := wire.Join{Key: "k", ID: "k", Agent: echoAddr, Transport: transport, Options: wire.Options{Codec: codec, Protocol: true}, Out: s}
		if err := l.Join(context.Background(), j); err != nil {
			t.Fatal(err)
		}
		err = l.Receive(context.Background(), wire.Receive{Key: "k", From: j, Data: data, Binary: mode&4 != 0})
		switch {
		case err == nil:
			if len(a.inbound) != 1 || string(a.inbound[0].Data) != string(data) {
				t.Fatalf("accepted frame did not reach the agent unchanged")
			}
		case errors.Is(err, wire.ErrMalformed), errors.Is(err, wire.ErrTooLarge):
			if len(a.inbound) != 0 {
				t.Fatal("refused frame reached the agent")
			}
			if len(s.got()) != 1 {
				t.Fatalf("refused frame answered %d times", len(s.got()))
			}
		default:
			t.Fatalf("unexpected error %v", err)
		}
	})
}
