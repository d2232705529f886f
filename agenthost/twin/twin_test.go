package twin

import (
	"database/sql"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/outpost-iot/outpost/wire"

	_ "modernc.org/sqlite"
)

func TestDesiredOnJoinAndOnChange(t *testing.T) {
	th := startHost(t, "", nil, Config{})
	dev := newConn("dev-1", wire.MQTT, false)
	th.join(t, dev)
	f, _ := dev.next(t, 0, TypeDesired)
	want := map[string]any{"type": "desired", "version": int64(0), "config": map[string]any{}}
	if !reflect.DeepEqual(f, want) {
		t.Fatalf("desired on join %v, want %v", f, want)
	}

	// A dashboard and a second device connection are joined too: all get
	// the change, and the device never gets protocol frames.
	dash := newConn("dev-1", wire.WebSocket, true)
	th.join(t, dash)
	dev2 := newConn("dev-1", wire.MQTT, false)
	th.join(t, dev2)
	config := map[string]any{"interval_s": int64(30), "unit": "C", "led": true}
	if v := th.result(t, dash, "setDesired", config); v != int64(1) {
		t.Fatalf("setDesired returned %v", v)
	}
	for _, c := range []*fakeConn{dev, dash, dev2} {
		f, i := c.next(t, 0, TypeDesired)
		if f["version"] == int64(0) {
			f, _ = c.next(t, i, TypeDesired)
		}
		if f["version"] != int64(1) || !reflect.DeepEqual(f["config"], config) {
			t.Fatalf("%s got %v", c.id, f)
		}
	}
	for i := range dev.count() {
		if typ := dev.frame(i)["type"]; typ != TypeDesired {
			t.Fatalf("device got a %v frame", typ)
		}
	}
	if st := lastState(t, dash); st["desired_version"] != int64(1) || !reflect.DeepEqual(st["desired"], config) || st["online"] != true {
		t.Fatalf("state %v", st)
	}

	// A device joining later gets the current configuration.
	late := newConn("dev-1", wire.MQTT, false)
	th.join(t, late)
	if f, _ := late.next(t, 0, TypeDesired); f["version"] != int64(1) || !reflect.DeepEqual(f["config"], config) {
		t.Fatalf("late join got %v", f)
	}
	got := th.result(t, dash, "desired").(map[string]any)
	if got["version"] != int64(1) || got["acked_version"] != int64(-1) || !reflect.DeepEqual(got["config"], config) {
		t.Fatalf("desired() = %v", got)
	}
}

func TestSetDesiredArguments(t *testing.T) {
	th := startHost(t, "", nil, Config{})
	c := newConn("d", wire.MQTT, false)
	th.join(t, c)
	for _, tc := range []struct {
		args []any
		want string
	}{
		{nil, "takes 1 argument"},
		{[]any{"x"}, "argument 0: config must be a map"},
		{[]any{[]any{1}}, "config must be a map"},
		{[]any{map[string]any{"blob": make([]byte, MaxDesiredBytes)}}, "at most 65536 bytes"},
		{[]any{map[string]any{}, 2}, "takes 1 argument"},
	} {
		if msg := th.callError(t, c, "setDesired", tc.args...); !strings.Contains(msg, tc.want) {
			t.Errorf("setDesired%v: %q, want %q", tc.args, msg, tc.want)
		}
	}
	if v := th.result(t, c, "desired").(map[string]any)["version"]; v != int64(0) {
		t.Fatalf("a refused setDesired changed the version to %v", v)
	}
}

func TestAck(t *testing.T) {
	th := startHost(t, "", nil, Config{})
	dev := newConn("dev-1", wire.MQTT, false)
	th.join(t, dev)
	if err := th.deliver(t, dev, map[string]any{"type": "ack", "version": 0}); err != nil {
		t.Fatal(err)
	}
	d := th.result(t, dev, "desired").(map[string]any)
	if d["acked_version"] != int64(0) || d["ack_error"] != "" {
		t.Fatalf("after ack 0: %v", d)
	}
	th.result(t, dev, "setDesired", map[string]any{"rate": 5})
	th.result(t, dev, "setDesired", map[string]any{"rate": 500})
	if err := th.deliver(t, dev, map[string]any{"type": "ack", "version": 2, "ok": false, "error": "rate out of range"}); err != nil {
		t.Fatal(err)
	}
	d = th.result(t, dev, "desired").(map[string]any)
	if d["acked_version"] != int64(0) || d["ack_error"] != "version 2: rate out of range" {
		t.Fatalf("after a refusal: %v", d)
	}
	// A JavaScript encoder may send the version as a float.
	if err := th.deliver(t, dev, map[string]any{"type": "ack", "version": 1.0}); err != nil {
		t.Fatal(err)
	}
	// A late ack of an older version does not move the version back.
	if err := th.deliver(t, dev, map[string]any{"type": "ack", "version": 0}); err != nil {
		t.Fatal(err)
	}
	d = th.result(t, dev, "desired").(map[string]any)
	if d["acked_version"] != int64(1) || d["ack_error"] != "" {
		t.Fatalf("after ack 1: %v", d)
	}
	// A version the twin never sent is refused.
	err := th.deliver(t, dev, map[string]any{"type": "ack", "version": 3})
	if !errors.Is(err, wire.ErrMalformed) {
		t.Fatalf("ack of a future version: %v", err)
	}
	f, _ := dev.next(t, 0, wire.TypeError)
	if f["code"] != wire.CodeMalformed || !strings.Contains(f["error"].(string), "ack of version 3, but the desired configuration is at version 2") {
		t.Fatalf("error frame %v", f)
	}
}

func TestTelemetryStoredAndReported(t *testing.T) {
	th := startHost(t, "", nil, Config{})
	dev := newConn("dev-1", wire.MQTT, false)
	dash := newConn("dev-1", wire.WebSocket, true)
	th.join(t, dev)
	th.join(t, dash)
	now := th.clk.ms()
	th.telemetry(t, dev, now-2000, map[string]any{"temp": 21.5, "hum": int64(40)})
	th.telemetry(t, dev, now-1000, map[string]any{"temp": 21.75, "door": true, "fw": "1.2.0", "raw": []byte{1, 2}, "err": nil})
	// Without ts the gateway's time counts.
	if err := th.deliver(t, dev, map[string]any{"type": "telemetry", "values": map[string]any{"temp": 22.0}}); err != nil {
		t.Fatal(err)
	}
	// A backfill (older than the newest frame) goes to the history only.
	th.telemetry(t, dev, now-5000, map[string]any{"temp": -3.0, "hum": int64(99)})

	latest := th.result(t, dash, "latest").(map[string]any)
	wantReported := map[string]any{"temp": 22.0, "hum": int64(40), "door": true, "fw": "1.2.0", "raw": []byte{1, 2}, "err": nil}
	if latest["ts"] != now || !reflect.DeepEqual(latest["values"], wantReported) {
		t.Fatalf("latest() = %v", latest)
	}
	st := lastState(t, dash)
	if !reflect.DeepEqual(st["reported"], wantReported) || st["reported_at"] != now || st["seen_at"] != now || st["silent"] != false {
		t.Fatalf("state %v", st)
	}
	res := th.result(t, dash, "history").(map[string]any)
	wantRows := []any{
		map[string]any{"ts": now - 5000, "values": map[string]any{"temp": -3.0, "hum": int64(99)}},
		map[string]any{"ts": now - 2000, "values": map[string]any{"temp": 21.5, "hum": int64(40)}},
		map[string]any{"ts": now - 1000, "values": map[string]any{"temp": 21.75, "door": true, "fw": "1.2.0", "raw": []byte{1, 2}, "err": nil}},
		map[string]any{"ts": now, "values": map[string]any{"temp": 22.0}},
	}
	if !reflect.DeepEqual(res["rows"], wantRows) || res["more"] != false {
		t.Fatalf("history() = %v\nwant %v", res["rows"], wantRows)
	}
	// The same frame delivered twice (MQTT QoS 1) is stored once.
	th.telemetry(t, dev, now-2000, map[string]any{"temp": 21.5, "hum": int64(40)})
	res = th.result(t, dash, "history", now-2000, now-2000).(map[string]any)
	if len(res["rows"].([]any)) != 1 {
		t.Fatalf("a repeated frame: %v", res["rows"])
	}
	// The device never gets state sync; the dashboard does.
	for i := range dev.count() {
		if dev.frame(i)["type"] == wire.TypeState {
			t.Fatal("the device got cf_agent_state")
		}
	}
}

// history seeds a twin with two keys, one sample a second for 10 s.
func seedHistory(t *testing.T, cfg Config) (*testHost, *fakeConn, int64) {
	th := startHost(t, "", nil, cfg)
	c := newConn("dev-h", wire.MQTT, false)
	th.join(t, c)
	base := (th.clk.ms()/60_000)*60_000 - 60_000 // a minute boundary
	for i := range int64(10) {
		values := map[string]any{"temp": float64(20 + i), "n": i}
		if i == 4 {
			values["note"] = "door open" // not a number: counted, not averaged
		}
		th.telemetry(t, c, base+i*1000, values)
	}
	return th, c, base
}

func TestHistoryRanges(t *testing.T) {
	th, c, base := seedHistory(t, Config{})
	rows := func(args ...any) []any {
		t.Helper()
		res := th.result(t, c, "history", args...).(map[string]any)
		if res["more"] != false {
			t.Fatalf("history%v: more", args)
		}
		return res["rows"].([]any)
	}
	if got := rows(base+2000, base+4000, "temp"); !reflect.DeepEqual(got, []any{
		map[string]any{"ts": base + 2000, "values": map[string]any{"temp": 22.0}},
		map[string]any{"ts": base + 3000, "values": map[string]any{"temp": 23.0}},
		map[string]any{"ts": base + 4000, "values": map[string]any{"temp": 24.0}},
	}) {
		t.Fatalf("range of one key: %v", got)
	}
	if got := rows(base+8500, nil); len(got) != 1 || got[0].(map[string]any)["ts"] != base+9000 {
		t.Fatalf("open end: %v", got)
	}
	if got := rows(nil, base+999); len(got) != 1 || len(got[0].(map[string]any)["values"].(map[string]any)) != 2 {
		t.Fatalf("open start: %v", got)
	}
	if got := rows(base+20_000, base+30_000); len(got) != 0 {
		t.Fatalf("empty range: %v", got)
	}
	if got := rows(nil, nil, "nokey"); len(got) != 0 {
		t.Fatalf("unknown key: %v", got)
	}
}

func TestHistoryAggregates(t *testing.T) {
	th, c, base := seedHistory(t, Config{})
	one := func(agg string, key any) map[string]any {
		t.Helper()
		rows := th.result(t, c, "history", base, base+9000, key, agg).(map[string]any)["rows"].([]any)
		if len(rows) != 1 {
			t.Fatalf("%s: %d rows %v", agg, len(rows), rows)
		}
		r := rows[0].(map[string]any)
		if r["ts"] != base {
			t.Fatalf("%s: row ts %v, want the earliest sample %d", agg, r["ts"], base)
		}
		return r["values"].(map[string]any)
	}
	for agg, want := range map[string]map[string]any{
		"min":   {"temp": 20.0, "n": int64(0)},
		"max":   {"temp": 29.0, "n": int64(9)},
		"avg":   {"temp": 24.5, "n": 4.5},
		"sum":   {"temp": 245.0, "n": 45.0},
		"count": {"temp": int64(10), "n": int64(10), "note": int64(1)},
		"first": {"temp": 20.0, "n": int64(0), "note": "door open"},
		"last":  {"temp": 29.0, "n": int64(9), "note": "door open"},
	} {
		if got := one(agg, nil); !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %v, want %v", agg, got, want)
		}
		if got := one(agg, "temp"); !reflect.DeepEqual(got, map[string]any{"temp": want["temp"]}) {
			t.Errorf("%s of temp = %v", agg, got)
		}
	}
	// Buckets of 4 s, aligned to multiples of 4 s since the epoch (base
	// is a minute boundary, so a multiple of 4 s): [0,4) [4,8) [8,10).
	res := th.result(t, c, "history", base, nil, "temp", "avg", 4000).(map[string]any)
	want := []any{
		map[string]any{"ts": base, "values": map[string]any{"temp": 21.5}},
		map[string]any{"ts": base + 4000, "values": map[string]any{"temp": 25.5}},
		map[string]any{"ts": base + 8000, "values": map[string]any{"temp": 28.5}},
	}
	if !reflect.DeepEqual(res["rows"], want) {
		t.Fatalf("bucketed avg %v", res["rows"])
	}
	res = th.result(t, c, "history", base, nil, nil, "last", 5000).(map[string]any)
	want = []any{
		map[string]any{"ts": base, "values": map[string]any{"temp": 24.0, "n": int64(4), "note": "door open"}},
		map[string]any{"ts": base + 5000, "values": map[string]any{"temp": 29.0, "n": int64(9)}},
	}
	if !reflect.DeepEqual(res["rows"], want) {
		t.Fatalf("bucketed last %v", res["rows"])
	}
}

func TestHistoryLimit(t *testing.T) {
	th, c, base := seedHistory(t, Config{MaxHistoryValues: 5})
	// 2 values a row (3 at base+4000): rows at 0, 1 s fit (4 values), the
	// third would pass 5 values and is left for the next call.
	res := th.result(t, c, "history").(map[string]any)
	rows := res["rows"].([]any)
	if res["more"] != true || len(rows) != 2 || rows[1].(map[string]any)["ts"] != base+1000 {
		t.Fatalf("limited history: more %v rows %v", res["more"], rows)
	}
	var all []any
	from := any(nil)
	for range 20 {
		res := th.result(t, c, "history", from).(map[string]any)
		rows := res["rows"].([]any)
		all = append(all, rows...)
		if res["more"] == false {
			break
		}
		from = rows[len(rows)-1].(map[string]any)["ts"].(int64) + 1
	}
	if len(all) != 10 {
		t.Fatalf("paging gave %d rows", len(all))
	}
	res = th.result(t, c, "history", nil, nil, nil, "count", 1000).(map[string]any)
	if res["more"] != true || len(res["rows"].([]any)) != 2 {
		t.Fatalf("limited buckets: %v", res)
	}
}

func TestHistoryArguments(t *testing.T) {
	th := startHost(t, "", nil, Config{})
	c := newConn("d", wire.MQTT, false)
	th.join(t, c)
	for _, tc := range []struct {
		args []any
		want string
	}{
		{[]any{"yesterday"}, "argument 0: from_ms must be Unix milliseconds"},
		{[]any{-1}, "argument 0: from_ms must be Unix milliseconds"},
		{[]any{1.5}, "argument 0"},
		{[]any{nil, int64(1) << 60}, "argument 1: to_ms must be Unix milliseconds"},
		{[]any{2000, 1000}, "argument 1: to_ms 1000 is before from_ms 2000"},
		{[]any{nil, nil, 42}, "argument 2: key must be a non-empty text"},
		{[]any{nil, nil, ""}, "argument 2"},
		{[]any{nil, nil, nil, "median"}, "argument 3: aggregate must be one of avg, count, first, last, max, min, sum"},
		{[]any{nil, nil, nil, "avg", 0}, "argument 4: bucket_ms must be an integer > 0"},
		{[]any{nil, nil, nil, "avg", "1m"}, "argument 4"},
		{[]any{nil, nil, nil, nil, 1000}, "argument 4: bucket_ms needs an aggregate"},
		{[]any{nil, nil, nil, nil, nil, nil}, "takes at most 5 arguments"},
	} {
		msg := th.callError(t, c, "history", tc.args...)
		if !strings.Contains(msg, tc.want) || !strings.HasPrefix(msg, "Method history") {
			t.Errorf("history%v: %q, want %q", tc.args, msg, tc.want)
		}
	}
}

func TestRetention(t *testing.T) {
	th := startHost(t, "", nil, Config{Retention: time.Hour, MaxSamples: 6})
	c := newConn("dev-r", wire.MQTT, false)
	th.join(t, c)
	now := th.clk.ms()
	count := func() int64 {
		t.Helper()
		rows := th.result(t, c, "history", nil, nil, "k", "count").(map[string]any)["rows"].([]any)
		if len(rows) == 0 {
			return 0
		}
		return rows[0].(map[string]any)["values"].(map[string]any)["k"].(int64)
	}
	// Older than the retention: stored and pruned at once.
	th.telemetry(t, c, now-2*time.Hour.Milliseconds(), map[string]any{"k": 1})
	if n := count(); n != 0 {
		t.Fatalf("%d samples older than the retention", n)
	}
	for i := range int64(4) {
		th.telemetry(t, c, now-50*60_000+i*60_000, map[string]any{"k": i, "j": i})
	}
	// 8 samples, cap 6: the two earliest inserted went.
	res := th.result(t, c, "history").(map[string]any)["rows"].([]any)
	if len(res) != 3 || res[0].(map[string]any)["ts"] != now-49*60_000 {
		t.Fatalf("after the cap: %v", res)
	}
	// Time passes: the next frame prunes by age (the cut is now 47.5
	// minutes before the first now: the samples at -49 and -48 go).
	th.clk.add(12*time.Minute + 30*time.Second)
	th.telemetry(t, c, th.clk.ms(), map[string]any{"k": 9})
	if n := count(); n != 2 {
		t.Fatalf("after time passed: %d samples", n)
	}
	// A smaller retention prunes at once; 0 turns the limits off.
	p := th.result(t, c, "setPolicy", map[string]any{"retention_ms": 60_000, "max_samples": 0}).(map[string]any)
	if p["retention_ms"] != int64(60_000) || p["max_samples"] != int64(0) || p["silence_ms"] != DefaultSilence.Milliseconds() {
		t.Fatalf("setPolicy returned %v", p)
	}
	if n := count(); n != 1 {
		t.Fatalf("after setPolicy: %d samples", n)
	}
	// Samples past the retention are not read, though no telemetry
	// pruned them yet.
	th.clk.add(2 * time.Minute)
	if n := count(); n != 0 {
		t.Fatalf("history reads %d samples past the retention", n)
	}
	if st := th.result(t, c, "policy"); !reflect.DeepEqual(st, p) {
		t.Fatalf("policy() = %v", st)
	}
	for _, tc := range []struct {
		arg  any
		want string
	}{
		{"x", "policy must be a map"},
		{map[string]any{"ttl": 1}, `unknown policy key "ttl" (want max_samples, retention_ms, silence_ms)`},
		{map[string]any{"retention_ms": -1}, "retention_ms must be an integer >= 0"},
		{map[string]any{"silence_ms": "5m"}, "silence_ms must be an integer >= 0"},
	} {
		if msg := th.callError(t, c, "setPolicy", tc.arg); !strings.Contains(msg, tc.want) {
			t.Errorf("setPolicy(%v): %q, want %q", tc.arg, msg, tc.want)
		}
	}
}

func TestMalformedFrames(t *testing.T) {
	th := startHost(t, "", nil, Config{})
	c := newConn("dev-m", wire.MQTT, false)
	th.join(t, c)
	for _, tc := range []struct {
		frame any
		want  string
	}{
		{"hello", `a frame must be a map with text keys and a "type", got text "hello"`},
		{[]any{1, 2}, "got an array"},
		{map[string]any{"values": map[string]any{"t": 1}}, `frame without a text "type"`},
		{map[string]any{"type": "hello"}, `unknown frame type "hello" (want "telemetry" or "ack")`},
		{map[string]any{"type": "telemetry"}, `telemetry without "values"`},
		{map[string]any{"type": "telemetry", "values": map[string]any{}}, "telemetry with no values"},
		{map[string]any{"type": "telemetry", "values": []any{1}}, `telemetry "values" must be a map`},
		{map[string]any{"type": "telemetry", "ts": "now", "values": map[string]any{"t": 1}}, `telemetry "ts": must be Unix milliseconds`},
		{map[string]any{"type": "telemetry", "ts": -5, "values": map[string]any{"t": 1}}, `telemetry "ts"`},
		{map[string]any{"type": "telemetry", "values": map[string]any{"t": map[string]any{"x": 1}}}, `telemetry value "t": must be a number, bool, text, byte string or null, got a map`},
		{map[string]any{"type": "telemetry", "values": map[string]any{"t": strings.Repeat("x", 300)}}, "text of 300 bytes (at most 256)"},
		{map[string]any{"type": "telemetry", "values": map[string]any{"": 1}}, "telemetry key"},
		{map[string]any{"type": "telemetry", "ts": th.clk.ms() + 25*time.Hour.Milliseconds(), "values": map[string]any{"t": 1}}, `is more than 24h0m0s ahead of the gateway's clock`},
		{map[string]any{"type": "ack"}, `ack without "version"`},
		{map[string]any{"type": "ack", "version": "1"}, `ack "version" must be an integer >= 0`},
		{map[string]any{"type": "ack", "version": 0, "ok": "yes"}, `ack "ok" must be a bool`},
		{map[string]any{"type": "ack", "version": 0, "error": 7}, `ack "error" must be text`},
	} {
		from := c.count()
		err := th.deliver(t, c, tc.frame)
		if !errors.Is(err, wire.ErrMalformed) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("frame %v: error %v, want %q", tc.frame, err, tc.want)
			continue
		}
		f, _ := c.next(t, from, wire.TypeError)
		if f["code"] != wire.CodeMalformed || !strings.Contains(f["error"].(string), tc.want) {
			t.Errorf("frame %v: error frame %v", tc.frame, f)
		}
	}
	// A frame that did not decode, or came as text on a CBOR connection.
	for _, in := range []wire.Inbound{
		{Kind: wire.InMessage, Data: []byte{0xff}, DecodeErr: errors.New("bad cbor")},
		{Kind: wire.InMessage, Data: []byte("text")},
	} {
		if err := th.inbound(t, c, in); !errors.Is(err, wire.ErrMalformed) {
			t.Errorf("%q: %v", in.Data, err)
		}
	}
	// The twin still works and stored nothing.
	if rows := th.result(t, c, "history").(map[string]any)["rows"].([]any); len(rows) != 0 {
		t.Fatalf("malformed frames stored %v", rows)
	}
	th.telemetry(t, c, th.clk.ms(), map[string]any{"t": 1})
}

func TestClientStateUpdateRefused(t *testing.T) {
	th := startHost(t, "", nil, Config{})
	dash := newConn("d", wire.WebSocket, true)
	th.join(t, dash)
	if err := th.inbound(t, dash, wire.Inbound{Kind: wire.InState, State: map[string]any{"silent": true}}); err != nil {
		t.Fatal(err)
	}
	f, _ := dash.next(t, 0, wire.TypeStateError)
	if f["error"] != wire.StateRejected {
		t.Fatalf("state update answered %v", f)
	}
}

func TestStateSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	clk := newClock()
	th := startHost(t, dir, clk, Config{})
	dev := newConn("dev-p", wire.MQTT, false)
	th.join(t, dev)
	now := clk.ms()
	th.telemetry(t, dev, now, map[string]any{"temp": 21.5, "ok": true})
	th.result(t, dev, "setDesired", map[string]any{"rate": int64(10)})
	if err := th.deliver(t, dev, map[string]any{"type": "ack", "version": 1}); err != nil {
		t.Fatal(err)
	}
	th.result(t, dev, "setPolicy", map[string]any{"max_samples": 100})
	th.close()

	th = startHost(t, dir, clk, Config{})
	dash := newConn("dev-p", wire.WebSocket, true)
	th.join(t, dash)
	if f, _ := dash.next(t, 0, TypeDesired); f["version"] != int64(1) {
		t.Fatalf("desired after restart %v", f)
	}
	st := lastState(t, dash)
	want := map[string]any{
		"reported": map[string]any{"temp": 21.5, "ok": true}, "reported_at": now, "seen_at": now,
		"desired": map[string]any{"rate": int64(10)}, "desired_version": int64(1), "acked_version": int64(1), "ack_error": "",
		"online": false, "silent": false,
		"policy": map[string]any{"retention_ms": DefaultRetention.Milliseconds(), "max_samples": int64(100), "silence_ms": DefaultSilence.Milliseconds()},
	}
	// cf_agent_state on connect is the stored state: the device has not
	// rejoined, so the twin, on start, has marked it offline.
	if !reflect.DeepEqual(st, want) {
		t.Fatalf("state after restart\n got %v\nwant %v", st, want)
	}
	rows := th.result(t, dash, "history").(map[string]any)["rows"].([]any)
	if len(rows) != 1 {
		t.Fatalf("history after restart %v", rows)
	}
	dev = newConn("dev-p", wire.MQTT, false)
	th.join(t, dev)
	dev.next(t, 0, TypeDesired)
	th.call(t, dash, "latest") // the join has been handled
	if st := lastState(t, dash); st["online"] != true {
		t.Fatalf("online after the device rejoined: %v", st["online"])
	}
}

// silenceChecks lists the twin's silence check schedules by interval.
func silenceChecks(t *testing.T, th *testHost, device string) []string {
	t.Helper()
	info, err := th.h.Inspect(wire.Address{Class: ClassName, Name: device})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, s := range info.Schedules {
		if s.Task == taskSilence {
			out = append(out, s.Interval)
		}
	}
	return out
}

// waitState polls the twin's state (through the admin inspection) until
// ok accepts it.
func waitState(t *testing.T, th *testHost, device string, ok func(map[string]any) bool) map[string]any {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		info, err := th.h.Inspect(wire.Address{Class: ClassName, Name: device})
		if err != nil {
			t.Fatal(err)
		}
		st, _ := info.State.(map[string]any)
		if ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("state never changed as expected: %v", st)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func isSilent(st map[string]any) bool { return st["silent"] == true }

func TestSilence(t *testing.T) {
	th := startHost(t, "", nil, Config{Silence: 4 * time.Second})
	dev := newConn("dev-s", wire.MQTT, false)
	dash := newConn("dev-s", wire.WebSocket, true)
	th.join(t, dev)
	th.join(t, dash)
	th.telemetry(t, dev, th.clk.ms(), map[string]any{"t": 1})
	if got := silenceChecks(t, th, "dev-s"); !reflect.DeepEqual(got, []string{"1s"}) {
		t.Fatalf("silence checks %v", got)
	}
	// The check runs every second (a quarter of the threshold, at least
	// 1 s); past the threshold it flags the device, broadcasts the state
	// and stops checking.
	th.clk.add(5 * time.Second)
	deadline := time.After(wait)
	for st := lastState(t, dash); st["silent"] != true; st = lastState(t, dash) {
		select {
		case <-dash.signal:
		case <-deadline:
			t.Fatalf("never flagged silent: %v", st)
		}
	}
	if got := silenceChecks(t, th, "dev-s"); len(got) != 0 {
		t.Fatalf("a silent twin keeps checking: %v", got)
	}
	th.telemetry(t, dev, th.clk.ms(), map[string]any{"t": 2})
	if st := lastState(t, dash); st["silent"] != false {
		t.Fatalf("silent after telemetry: %v", st)
	}
	// A new threshold replaces the check.
	th.result(t, dev, "setPolicy", map[string]any{"silence_ms": 120_000})
	if got := silenceChecks(t, th, "dev-s"); !reflect.DeepEqual(got, []string{"30s"}) {
		t.Fatalf("silence checks after setPolicy %v", got)
	}
	// 0 turns the check off.
	th.result(t, dev, "setPolicy", map[string]any{"silence_ms": 0})
	th.telemetry(t, dev, th.clk.ms(), map[string]any{"t": 3})
	if got := silenceChecks(t, th, "dev-s"); len(got) != 0 {
		t.Fatalf("silence checks with silence_ms 0: %v", got)
	}
}

// TestSilenceAfterRestart: the silence check is a stored schedule, so a
// device that stops reporting while the gateway is down is flagged after
// the restart, with no event for the twin; so is the prune that reclaims
// its samples once they pass the retention.
func TestSilenceAfterRestart(t *testing.T) {
	dir := t.TempDir()
	clk := newClock()
	cfg := Config{Silence: 4 * time.Second, Retention: time.Hour}
	th := startHost(t, dir, clk, cfg)
	dev := newConn("dev-sr", wire.MQTT, false)
	th.join(t, dev)
	th.telemetry(t, dev, clk.ms(), map[string]any{"t": 1, "u": 2})
	th.close()

	clk.add(time.Minute)
	th = startHost(t, dir, clk, cfg)
	st := waitState(t, th, "dev-sr", isSilent)
	if st["online"] != false {
		t.Fatalf("state after restart %v", st)
	}
	info, err := th.h.Inspect(wire.Address{Class: ClassName, Name: "dev-sr"})
	if err != nil {
		t.Fatal(err)
	}
	if len(info.Schedules) != 1 || info.Schedules[0].Task != taskPrune {
		t.Fatalf("schedules of a silent twin: %+v", info.Schedules)
	}
	if n := countSamples(t, dir, "dev-sr"); n != 2 {
		t.Fatalf("%d samples before the retention passed", n)
	}
	th.close()

	clk.add(2 * time.Hour)
	th = startHost(t, dir, clk, cfg)
	deadline := time.Now().Add(wait)
	for n := countSamples(t, dir, "dev-sr"); n != 0; n = countSamples(t, dir, "dev-sr") {
		if time.Now().After(deadline) {
			t.Fatalf("%d samples past the retention were never pruned", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// countSamples counts a twin's stored samples, reading its database file
// beside the host (WAL mode lets both read; the busy timeout waits out
// the host's recovery of the log when it has just opened the file, which
// otherwise fails the read with SQLITE_BUSY_RECOVERY).
func countSamples(t *testing.T, dir, device string) int {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "agents", ClassName, device+".db")+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM twin_samples`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
