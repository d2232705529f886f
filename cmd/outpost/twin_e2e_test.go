package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	paho5 "github.com/eclipse/paho.golang/paho"
	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/outpost-iot/outpost/codecs"
	"github.com/outpost-iot/outpost/wire"
)

// twinGolden reads a golden frame of the twin (docs/twin.md).
func twinGolden(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "codecs", "testdata", "golden", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestTwinDeviceCycle runs the device cycle of docs/twin.md against the
// gateway as serve builds it, with paho.mqtt.golang (MQTT 3.1.1) speaking
// CBOR, as the firmware examples do: join by subscribing to /out, receive
// the desired configuration, acknowledge it, publish telemetry, read it
// back with an rpc history call; then a configuration change reaches the
// joined device, and a malformed frame is answered with an error frame.
func TestTwinDeviceCycle(t *testing.T) {
	g := startInProcess(t, nil)
	cb, err := codecs.New("cbor", codecs.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	in := make(chan []byte, 64)
	opts := paho.NewClientOptions().AddBroker("tcp://" + g.mqtt).SetClientID("twin-e2e-device").SetAutoReconnect(false)
	c := paho.NewClient(opts)
	if tok := c.Connect(); !tok.WaitTimeout(agentWait) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	defer c.Disconnect(100)
	const base = "agents/twin/device-1"
	var pending []map[string]any // frames that arrived while waiting for a reply
	next := func() map[string]any {
		t.Helper()
		if len(pending) > 0 {
			f := pending[0]
			pending = pending[1:]
			return f
		}
		select {
		case data := <-in:
			v, err := cb.Unmarshal(data)
			if err != nil {
				t.Fatalf("frame %x is not CBOR: %v", data, err)
			}
			m, _ := v.(map[string]any)
			return m
		case <-time.After(agentWait):
			t.Fatal("no frame from the twin")
			return nil
		}
	}
	publish := func(v any) {
		t.Helper()
		data, ok := v.([]byte)
		if !ok {
			if data, err = cb.Marshal(v); err != nil {
				t.Fatal(err)
			}
		}
		if tok := c.Publish(base+"/in", 1, false, data); !tok.WaitTimeout(agentWait) || tok.Error() != nil {
			t.Fatalf("publish: %v", tok.Error())
		}
	}
	rpc := func(id, method string, args ...any) any {
		t.Helper()
		publish(map[string]any{"type": "rpc", "id": id, "method": method, "args": args})
		var others []map[string]any
		for {
			f := next()
			if f["type"] != "rpc" || f["id"] != id {
				others = append(others, f)
				continue
			}
			pending = append(others, pending...)
			if f["success"] != true || f["done"] != true {
				t.Fatalf("%s reply %v", method, f)
			}
			return f["result"]
		}
	}

	// Join: the twin sends the (empty) desired configuration, byte for
	// byte the golden frame, and nothing else (no protocol frames).
	if tok := c.Subscribe(base+"/out", 1, func(_ paho.Client, m paho.Message) { in <- append([]byte(nil), m.Payload()...) }); !tok.WaitTimeout(agentWait) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	select {
	case data := <-in:
		if !bytes.Equal(data, twinGolden(t, "twin_desired_empty.cbor")) {
			t.Fatalf("desired on join %x, want twin_desired_empty.cbor", data)
		}
	case <-time.After(agentWait):
		t.Fatal("no desired configuration on join")
	}
	publish(map[string]any{"type": "ack", "version": int64(0)})
	publish(twinGolden(t, "twin_telemetry.cbor"))

	res := rpc("h-1", "history", nil, nil, "temp").(map[string]any)
	rows, _ := res["rows"].([]any)
	if len(rows) != 1 || res["more"] != false {
		t.Fatalf("history %v", res)
	}
	row := rows[0].(map[string]any)
	if ts, ok := row["ts"].(int64); !ok || ts <= 0 || !reflect.DeepEqual(row["values"], map[string]any{"temp": 21.5}) {
		t.Fatalf("history row %v", row)
	}
	if got := rpc("h-2", "history", nil, nil, "hum", "max").(map[string]any)["rows"].([]any); got[0].(map[string]any)["values"].(map[string]any)["hum"] != int64(40) {
		t.Fatalf("max of hum %v", got)
	}
	if got := rpc("d-1", "desired").(map[string]any); got["version"] != int64(0) || got["acked_version"] != int64(0) {
		t.Fatalf("desired() %v", got)
	}

	// A new configuration reaches the joined device, which acknowledges it.
	if v := rpc("s-1", "setDesired", map[string]any{"interval_s": int64(30), "unit": "C", "led": true}); v != int64(1) {
		t.Fatalf("setDesired %v", v)
	}
	if f := next(); f["type"] != "desired" || f["version"] != int64(1) {
		t.Fatalf("pushed desired %v", f)
	}
	publish(twinGolden(t, "twin_ack.cbor"))
	if got := rpc("d-2", "desired").(map[string]any); got["acked_version"] != int64(1) {
		t.Fatalf("ack of version 1 not recorded: %v", got)
	}
	latest := rpc("l-1", "latest").(map[string]any)
	if !reflect.DeepEqual(latest["values"], map[string]any{"temp": 21.5, "hum": int64(40)}) {
		t.Fatalf("latest() %v", latest)
	}

	// A malformed frame gets an error frame; the twin carries on.
	publish(map[string]any{"type": "telemetry"})
	if f := next(); f["type"] != "outpost_error" || f["code"] != "malformed_frame" {
		t.Fatalf("malformed telemetry answered %v", f)
	}
	rpc("l-2", "latest")
}

// TestTwinMQTT5AndDashboard: an MQTT 5 device that never joins publishes
// telemetry (a malformed frame is refused with reason code 0x99) and reads
// it back with an rpc call answered on its response topic; a JSON
// WebSocket dashboard sees the reported values through state sync and sets
// a configuration, which reaches a joined device.
func TestTwinMQTT5AndDashboard(t *testing.T) {
	g := startInProcess(t, nil)
	addr := wire.Address{Class: "twin", Name: "sensor-5"}
	sensor := dialMQTT5(t, g, addr, nil, false)
	ctx, cancel := context.WithTimeout(context.Background(), agentWait)
	defer cancel()
	publish := func(data []byte, props *paho5.PublishProperties) byte {
		t.Helper()
		r, err := sensor.c.Publish(ctx, &paho5.Publish{Topic: sensor.topic, QoS: 1, Payload: data, Properties: props})
		if r == nil {
			t.Fatalf("publish: %v", err)
		}
		return r.ReasonCode
	}
	if rc := publish(encode(t, "cbor", map[string]any{"type": "telemetry", "values": "21.5"}), nil); rc != 0x99 {
		t.Fatalf("malformed telemetry: reason code %#x, want 0x99", rc)
	}
	// The golden frame's ts is older than the retention: a recent one.
	ts := time.Now().UnixMilli() - 1000
	if rc := publish(encode(t, "cbor", map[string]any{"type": "telemetry", "ts": ts, "values": map[string]any{"fw": "1.0.3", "temp": 21.5}}), nil); rc != 0 {
		t.Fatalf("telemetry: reason code %#x", rc)
	}
	if _, err := sensor.c.Subscribe(ctx, &paho5.Subscribe{Subscriptions: []paho5.SubscribeOptions{{Topic: "replies/sensor-5", QoS: 1}}}); err != nil {
		t.Fatal(err)
	}
	req := encode(t, "cbor", map[string]any{"type": "rpc", "id": "h-5", "method": "history", "args": []any{nil, nil, "fw"}})
	if rc := publish(req, &paho5.PublishProperties{ResponseTopic: "replies/sensor-5", CorrelationData: []byte("c-1")}); rc != 0 {
		t.Fatalf("rpc: reason code %#x", rc)
	}
	reply := decodeFrame(t, "cbor", sensor.inbox().next(t))
	res, _ := reply["result"].(map[string]any)
	if reply["id"] != "h-5" || reply["success"] != true || !reflect.DeepEqual(res["rows"], []any{
		map[string]any{"ts": ts, "values": map[string]any{"fw": "1.0.3"}},
	}) {
		t.Fatalf("history reply %v", reply)
	}

	// The dashboard: identity, the state with the reported values, the
	// desired configuration, all in JSON.
	dash := dialWS(t, g, addr, "")
	var st map[string]any
	for st == nil {
		f := decodeFrame(t, "json", dash.inbox().next(t))
		if f["type"] == "cf_agent_state" {
			st = f["state"].(map[string]any)
		}
	}
	if rep, _ := st["reported"].(map[string]any); rep["fw"] != "1.0.3" || st["reported_at"] != ts || st["online"] != false {
		t.Fatalf("dashboard state %v", st)
	}
	dev := dialMQTT3(t, g, addr, "", true)
	if f := decodeFrame(t, "cbor", dev.inbox().next(t)); f["type"] != "desired" || f["version"] != int64(0) {
		t.Fatalf("device join got %v", f)
	}
	dash.send(t, encode(t, "json", map[string]any{"type": "rpc", "id": "s-1", "method": "setDesired", "args": []any{map[string]any{"interval_s": 30, "unit": "C", "led": true}}}))
	if got := dev.inbox().next(t); !bytes.Equal(got.data, twinGolden(t, "twin_desired.cbor")) {
		t.Fatalf("pushed desired %x, want twin_desired.cbor", got.data)
	}
}
