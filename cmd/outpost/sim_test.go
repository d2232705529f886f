package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"net"
	"strings"
	"testing"
	"time"
)

// TestSimAgainstGateway: outpost sim against the gateway as serve builds
// it: every frame is delivered, every device acks its configuration, the
// rpc calls are answered, and the twins hold exactly the telemetry sent.
func TestSimAgainstGateway(t *testing.T) {
	g := startInProcess(t, nil)
	_, port, _ := net.SplitHostPort(g.mqtt)
	rpc(t, port, "twin/sim-2", "setDesired", map[string]any{"interval_s": int64(5)})

	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"sim", "--url", "tcp://" + g.mqtt, "--devices", "3", "--rate", "50",
		"--messages", "20", "--rpc-every", "5", "--duration", "0", "--json"}, nil, &stdout, &stderr)
	if err != nil {
		t.Fatalf("sim: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	var r simReport
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		t.Fatalf("report %q: %v", stdout.String(), err)
	}
	if r.Sent != 60 || r.Delivered != 60 || r.Publish.Count != 60 || r.Errors.Total != 0 || r.Connects != 3 {
		t.Fatalf("report %+v", r)
	}
	if r.RPCSent != 12 || r.RPCOK != 12 || r.RPC.Count != 12 {
		t.Fatalf("rpc in report %+v", r)
	}
	if r.Acks != 3 {
		t.Fatalf("acks %d, want one per device (the configuration sent on join)", r.Acks)
	}
	for _, s := range []latencySummary{r.Publish, r.RPC} {
		if !(s.P50 > 0 && s.P50 <= s.P90 && s.P90 <= s.P99 && s.P99 <= s.Max) {
			t.Errorf("percentiles out of order: %+v", s)
		}
	}
	for _, name := range []string{"sim-1", "sim-2", "sim-3"} {
		res := rpc(t, port, "twin/"+name, "history", nil, nil, "temp", "count")["result"].(map[string]any)
		rows := res["rows"].([]any)
		if len(rows) != 1 || rows[0].(map[string]any)["values"].(map[string]any)["temp"] != int64(20) {
			t.Errorf("%s: history count %v, want 20 temperatures", name, res)
		}
	}
	d := rpc(t, port, "twin/sim-2", "desired")["result"].(map[string]any)
	if d["acked_version"] != int64(1) {
		t.Errorf("sim-2 desired %v: the configuration set before the run was not acked", d)
	}
	// The text report names what it measured.
	stdout.Reset()
	if err := run(context.Background(), []string{"sim", "--url", "tcp://" + g.mqtt, "--devices", "1", "--rate", "100",
		"--messages", "3", "--duration", "0"}, nil, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"sent 3, delivered 3", "errors       0", "publish→ack", "rpc "} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, stdout.String())
		}
	}
}

// TestSimCountsErrors: a gateway that is not there gives connect errors
// and a non-zero exit, not a hang.
func TestSimCountsErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	var stdout, stderr bytes.Buffer
	err = run(context.Background(), []string{"sim", "--url", "tcp://" + addr, "--devices", "2",
		"--duration", "700ms", "--json"}, nil, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "errors") {
		t.Fatalf("sim against nothing: %v", err)
	}
	var r simReport
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	if r.Errors.Connect < 2 || r.Delivered != 0 || r.Errors.Total != r.Errors.Connect {
		t.Fatalf("report %+v", r)
	}
	if !strings.Contains(stderr.String(), "connection refused") {
		t.Errorf("stderr %q", stderr.String())
	}
}

func TestSimUsage(t *testing.T) {
	for _, args := range [][]string{
		{"--rate", "0"}, {"--devices", "0"}, {"--url", "ws://127.0.0.1:8080/mqtt"}, {"--messages", "-1"}, {"extra"},
	} {
		err := run(context.Background(), append([]string{"sim"}, args...), nil, &bytes.Buffer{}, &bytes.Buffer{})
		var ue usageError
		if !errors.As(err, &ue) {
			t.Errorf("sim %v: %v, want a usage error", args, err)
		}
	}
}

// TestLatencyHist: percentiles of a known distribution within the
// histogram's 2% buckets.
func TestLatencyHist(t *testing.T) {
	var h latencyHist
	for i := 1; i <= 1000; i++ {
		h.add(time.Duration(i) * time.Millisecond)
	}
	s := h.summary()
	near := func(got, want float64) bool { return math.Abs(got-want) <= want*0.021 }
	if s.Count != 1000 || !near(s.P50, 500) || !near(s.P90, 900) || !near(s.P99, 990) || s.Max != 1000 || !near(s.Mean, 500.5) {
		t.Fatalf("summary %+v", s)
	}
	if (&latencyHist{}).summary() != (latencySummary{}) {
		t.Fatal("empty histogram")
	}
}
