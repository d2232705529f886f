package agenthost

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/outpost-iot/outpost/wire"
)

// jobs is a test agent with storage, tasks, schedules and a queue.
type jobs struct {
	starts *atomic.Int64
	ran    chan string
}

var jobsClass = func(starts *atomic.Int64, ran chan string) Class {
	return Class{
		Name: "jobs",
		New: func(*Context) Agent {
			starts.Add(1)
			return &jobs{starts: starts, ran: ran}
		},
		Migrations: []string{`CREATE TABLE log (seq INTEGER PRIMARY KEY, label TEXT NOT NULL)`,
			`CREATE TABLE blobs (b BLOB)`},
	}
}

func (j *jobs) Tasks() map[string]Task {
	return map[string]Task{
		"record": func(ctx *Context, payload any) error {
			label, _ := payload.(string)
			if _, err := ctx.Exec(`INSERT INTO log (label) VALUES (?)`, label); err != nil {
				return err
			}
			j.ran <- label
			return nil
		},
		"flaky": func(ctx *Context, payload any) error {
			var n int
			_ = ctx.QueryRow(`SELECT COUNT(*) FROM log WHERE label = 'flaky'`).Scan(&n)
			_, _ = ctx.Exec(`INSERT INTO log (label) VALUES ('flaky')`)
			if n < 2 {
				return errors.New("not yet")
			}
			j.ran <- "flaky-ok"
			return nil
		},
	}
}

func (j *jobs) ShouldConnectionBeReadonly(_ *Context, c wire.Conn) bool {
	return strings.HasPrefix(c.ID(), "ro")
}

func (j *jobs) Callables() map[string]Method {
	return map[string]Method{
		"after": {Call: func(ctx *Context, call *Call) (any, error) {
			ms, _ := call.Arg(0).(int64)
			s, err := ctx.ScheduleAfter(time.Duration(ms)*time.Millisecond, "record", call.Arg(1))
			return s.ID, err
		}},
		"every": {Call: func(ctx *Context, call *Call) (any, error) {
			ms, _ := call.Arg(0).(int64)
			s, err := ctx.ScheduleEvery(time.Duration(ms)*time.Millisecond, "record", call.Arg(1))
			return s.ID, err
		}},
		"cron": {Call: func(ctx *Context, call *Call) (any, error) {
			expr, _ := call.Arg(0).(string)
			s, err := ctx.ScheduleCron(expr, "record", "cron")
			return s.ID, err
		}},
		"schedules": {Call: func(ctx *Context, _ *Call) (any, error) {
			s, err := ctx.Schedules()
			return int64(len(s)), err
		}},
		"cancel": {Call: func(ctx *Context, call *Call) (any, error) {
			id, _ := call.Arg(0).(string)
			return ctx.CancelSchedule(id)
		}},
		"enqueue": {Call: func(ctx *Context, call *Call) (any, error) {
			return ctx.Enqueue("record", call.Arg(0))
		}},
		"flaky": {Call: func(ctx *Context, _ *Call) (any, error) {
			return ctx.Enqueue("flaky", nil, WithRetry(RetryOptions{MaxAttempts: 5, BaseDelay: time.Millisecond, MaxDelay: 2 * time.Millisecond}))
		}},
		"log": {Call: func(ctx *Context, _ *Call) (any, error) {
			rows, err := ctx.Query(`SELECT label FROM log ORDER BY seq`)
			if err != nil {
				return nil, err
			}
			defer rows.Close()
			var out []any
			for rows.Next() {
				var l string
				_ = rows.Scan(&l)
				out = append(out, l)
			}
			return out, nil
		}},
		"setState": {Call: func(ctx *Context, call *Call) (any, error) {
			return nil, ctx.SetState(call.Arg(0))
		}},
		"setConnState": {Call: func(ctx *Context, call *Call) (any, error) {
			ctx.SetConnState(call.Conn, call.Arg(0))
			return nil, nil
		}},
		"connState": {Call: func(ctx *Context, call *Call) (any, error) {
			return ctx.ConnState(call.Conn), nil
		}},
		"fill": {Call: func(ctx *Context, _ *Call) (any, error) {
			for range 1000 {
				if _, err := ctx.Exec(`INSERT INTO blobs (b) VALUES (zeroblob(8192))`); err != nil {
					return nil, err
				}
			}
			return nil, nil
		}},
	}
}

type jobsHost struct {
	*Host
	starts *atomic.Int64
	ran    chan string
}

func startJobs(t *testing.T, dir string, cfg Config) *jobsHost {
	t.Helper()
	cfg.DataDir = dir
	h, err := New(cfg, Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	// ran holds every task run of TestConcurrentCallsSerialized (1000),
	// which reads it only after all its calls returned: tasks run in the
	// agent's goroutine between calls, and a full channel would block it.
	j := &jobsHost{Host: h, starts: &atomic.Int64{}, ran: make(chan string, 2000)}
	if err := h.Register(jobsClass(j.starts, j.ran)); err != nil {
		t.Fatal(err)
	}
	if err := h.Register(Class{Name: "test-agent", New: func(*Context) Agent { return &testAgent{order: new([]int)} }}); err != nil {
		t.Fatal(err)
	}
	if err := h.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close(context.Background()) })
	return j
}

// call runs an rpc on the agent and returns the reply frame.
func (j *jobsHost) call(t *testing.T, c *fakeConn, method string, args ...any) map[string]any {
	t.Helper()
	if err := deliver(t, j.Host, c, wire.Inbound{Kind: wire.InRPC, ID: method, Method: method, Args: args}); err != nil {
		t.Fatalf("%s: %v", method, err)
	}
	m := c.last()
	if m["id"] != method {
		t.Fatalf("%s: last frame %v", method, m)
	}
	return m
}

func (j *jobsHost) result(t *testing.T, c *fakeConn, method string, args ...any) any {
	t.Helper()
	m := j.call(t, c, method, args...)
	if m["success"] != true {
		t.Fatalf("%s failed: %v", method, m["error"])
	}
	return m["result"]
}

func (j *jobsHost) waitRan(t *testing.T, want string) {
	t.Helper()
	select {
	case got := <-j.ran:
		if got != want {
			t.Fatalf("task ran with %q, want %q", got, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("task %q never ran", want)
	}
}

var jobsAddr = wire.Address{Class: "jobs", Name: "j1"}

func newConn(id string) *fakeConn {
	return &fakeConn{key: "k-" + id, id: id, addr: jobsAddr, protocol: true}
}

func TestStatePersistsAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	j := startJobs(t, dir, Config{})
	c := newConn("c")
	j.result(t, c, "setState", map[string]any{"mode": "heat", "raw": []byte{1, 2}})
	if err := j.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	j2 := startJobs(t, dir, Config{})
	c2 := newConn("c2")
	if err := j2.Connect(c2); err != nil {
		t.Fatal(err)
	}
	j2.result(t, c2, "log") // wait for the connect to be handled
	if got := c2.types(); len(got) < 2 || got[1] != wire.TypeState {
		t.Fatalf("after restart the connection got %v", got)
	}
	st := c2.frames[1].Value.(map[string]any)["state"].(map[string]any)
	if st["mode"] != "heat" || string(st["raw"].([]byte)) != "\x01\x02" {
		t.Fatalf("state after restart: %v", st)
	}
	if _, err := os.Stat(filepath.Join(dir, "agents", "jobs", "j1.db")); err != nil {
		t.Fatal(err)
	}
}

func TestHibernationKeepsConnections(t *testing.T) {
	j := startJobs(t, t.TempDir(), Config{IdleTimeout: 50 * time.Millisecond})
	ro := newConn("ro-1")
	off := newConn("off")
	off.protocol = false
	for _, c := range []*fakeConn{ro, off} {
		if err := j.Connect(c); err != nil {
			t.Fatal(err)
		}
	}
	j.result(t, ro, "setConnState", map[string]any{"seat": int64(3)})
	if !ro.Readonly() {
		t.Fatal("readonly hook not applied")
	}
	waitHibernated(t, j.Host, jobsAddr)
	// Counted from here: on a loaded machine the agent may already have
	// hibernated and woken between the connects and setConnState.
	before := j.starts.Load()
	if before < 1 {
		t.Fatalf("agent started %d times before hibernating", before)
	}
	if got := j.result(t, ro, "connState"); got.(map[string]any)["seat"] != int64(3) {
		t.Fatalf("connection state after hibernation: %v", got)
	}
	if n := j.starts.Load(); n != before+1 {
		t.Fatalf("agent did not wake anew: %d starts, %d before hibernating", n, before)
	}
	if m := j.call(t, ro, "setState", map[string]any{}); m["success"] != false || m["error"] != wire.StateReadonly {
		t.Fatalf("readonly after hibernation: %v", m)
	}
	_ = deliver(t, j.Host, ro, wire.Inbound{Kind: wire.InState, State: map[string]any{"x": int64(1)}})
	if m := ro.last(); m["error"] != wire.StateReadonly {
		t.Fatalf("readonly state update after hibernation: %v", m)
	}
	n := len(off.types())
	j.result(t, newConn("writer"), "setState", map[string]any{"y": int64(1)})
	if got := off.types(); len(got) != n {
		t.Fatalf("no-protocol connection got %v after hibernation", got[n:])
	}
}

func waitHibernated(t *testing.T, h *Host, a wire.Address) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		h.mu.Lock()
		in := h.agents[a]
		h.mu.Unlock()
		if in != nil {
			in.mu.Lock()
			awake := in.awake
			in.mu.Unlock()
			if !awake {
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("agent never hibernated")
}

func TestSizeCap(t *testing.T) {
	j := startJobs(t, t.TempDir(), Config{MaxDBBytes: 256 << 10})
	c := newConn("c")
	m := j.call(t, c, "fill")
	if m["success"] != false || !strings.Contains(m["error"].(string), "agent storage full") {
		t.Fatalf("filling a capped database: %v", m)
	}
	other := &fakeConn{key: "o", id: "o", addr: wire.Address{Class: "jobs", Name: "other"}}
	j.result(t, other, "enqueue", "still-works")
	j.waitRan(t, "still-works")
	// The full agent still reads and answers.
	j.result(t, c, "log")
}

func TestConcurrentCallsSerialized(t *testing.T) {
	j := startJobs(t, t.TempDir(), Config{})
	var wg sync.WaitGroup
	var failed atomic.Int64
	for i := range 1000 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &fakeConn{key: fmt.Sprint(i), id: fmt.Sprint(i), addr: jobsAddr}
			done := make(chan error, 1)
			if err := j.Deliver(context.Background(), c, wire.Inbound{Kind: wire.InRPC, ID: "e", Method: "enqueue", Args: []any{"x"}}, func(err error) { done <- err }); err != nil {
				failed.Add(1)
				return
			}
			if err := <-done; err != nil || c.last()["success"] != true {
				failed.Add(1)
			}
		}()
	}
	wg.Wait()
	if failed.Load() != 0 {
		t.Fatalf("%d calls failed", failed.Load())
	}
	for range 1000 {
		j.waitRan(t, "x")
	}
	if got := j.result(t, newConn("c"), "log"); len(got.([]any)) != 1000 {
		t.Fatalf("%d rows", len(got.([]any)))
	}
}

func TestSchedules(t *testing.T) {
	dir := t.TempDir()
	j := startJobs(t, dir, Config{IdleTimeout: 50 * time.Millisecond})
	c := newConn("c")
	id := j.result(t, c, "after", int64(30), "once").(string)
	waitHibernated(t, j.Host, jobsAddr) // fires from hibernation
	j.waitRan(t, "once")
	if n := j.result(t, c, "schedules"); n != int64(0) {
		t.Fatalf("one-shot schedule kept: %v", n)
	}
	if ok := j.result(t, c, "cancel", id); ok != false {
		t.Fatal("cancelled a schedule that already ran")
	}
	a := j.result(t, c, "every", int64(3600_000), "tick")
	b := j.result(t, c, "every", int64(3600_000), "tick")
	if a != b {
		t.Fatalf("the same interval schedule twice made two: %v %v", a, b)
	}
	j.result(t, c, "every", int64(3600_000), "other-payload")
	j.result(t, c, "cron", "@daily")
	if m := j.call(t, c, "cron", "not cron"); m["success"] != false {
		t.Fatal("bad cron expression accepted")
	}
	if n := j.result(t, c, "schedules"); n != int64(3) {
		t.Fatalf("%v schedules, want 3", n)
	}
	// Overdue after a restart: fires once. The delay leaves a loaded
	// machine ample time to close the host before the schedule is due.
	const delay = time.Second
	set := time.Now()
	j.result(t, c, "after", delay.Milliseconds(), "after-restart")
	if err := j.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case early := <-j.ran:
		t.Fatalf("%q ran before the host closed", early)
	default:
	}
	time.Sleep(time.Until(set.Add(delay + 100*time.Millisecond)))
	j2 := startJobs(t, dir, Config{})
	j2.waitRan(t, "after-restart")
	select {
	case extra := <-j2.ran:
		t.Fatalf("unexpected run %q", extra)
	case <-time.After(200 * time.Millisecond):
	}
}

func TestQueueFIFOAndResume(t *testing.T) {
	dir := t.TempDir()
	j := startJobs(t, dir, Config{})
	c := newConn("c")
	for i := range 5 {
		j.result(t, c, "enqueue", fmt.Sprint(i))
	}
	for i := range 5 {
		j.waitRan(t, fmt.Sprint(i))
	}
	j.result(t, c, "flaky")
	j.waitRan(t, "flaky-ok")

	// Items left in the table (as a crash would leave them) run after a
	// restart, in order.
	if err := j.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	db, err := openDB(dbPath(dir, jobsAddr), 1<<20, false)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		_, err := db.Exec(`INSERT INTO cf_agents_queues (id, task, payload, retry, created) VALUES (?, 'record', ?, ?, 0)`,
			fmt.Sprint("left-", i), mustCBOR(t, fmt.Sprint("left-", i)), mustCBOR(t, RetryOptions{}))
		if err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	idx, err := openDB(filepath.Join(dir, "agents", "index.db"), 1<<20, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := idx.Exec(`INSERT OR REPLACE INTO wakeups (class, name, due) VALUES ('jobs', 'j1', 0)`); err != nil {
		t.Fatal(err)
	}
	idx.Close()
	j2 := startJobs(t, dir, Config{})
	for i := range 3 {
		j2.waitRan(t, fmt.Sprint("left-", i))
	}
}

func mustCBOR(t *testing.T, v any) []byte {
	t.Helper()
	b, err := stateCodec.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRetryOptions(t *testing.T) {
	for _, o := range []RetryOptions{{MaxAttempts: -1}, {BaseDelay: 5 * time.Second}, {MaxDelay: -1}} {
		if o.Validate() == nil {
			t.Errorf("%+v accepted", o)
		}
	}
	o := defaultRetry
	for a := 1; a < 10; a++ {
		ceiling := min(o.BaseDelay<<a, o.MaxDelay)
		for range 100 {
			if d := o.backoff(a); d < 0 || d >= ceiling {
				t.Fatalf("backoff(%d) = %s outside [0, %s)", a, d, ceiling)
			}
		}
	}
	calls := 0
	err := Retry(context.Background(), RetryOptions{MaxAttempts: 4, BaseDelay: time.Microsecond, MaxDelay: time.Microsecond}, func(int) error {
		calls++
		return errors.New("no")
	}, func(_ error, next int) bool { return next <= 3 })
	if err == nil || calls != 3 {
		t.Fatalf("calls %d err %v", calls, err)
	}
}

func TestDBFileNames(t *testing.T) {
	cases := map[string]string{
		"kitchen":    "kitchen.db",
		"a.b_c-1":    "a.b_c-1.db",
		".hidden":    "%2Ehidden.db",
		"a/b":        "a%2Fb.db",
		"a%2Fb":      "a%252Fb.db",
		"..":         "%2E..db",
		"héllo wrld": "h%C3%A9llo%20wrld.db",
	}
	for name, want := range cases {
		if got := dbFileName(name); got != want {
			t.Errorf("dbFileName(%q) = %q, want %q", name, got, want)
		}
	}
	long := strings.Repeat("é", 300)
	if got := dbFileName(long); len(got) > 240 || dbFileName(long+"x") == got {
		t.Errorf("long names: %q", got)
	}
}

func TestAdminListInspectDestroy(t *testing.T) {
	dir := t.TempDir()
	j := startJobs(t, dir, Config{})
	c := newConn("c")
	if err := j.Connect(c); err != nil {
		t.Fatal(err)
	}
	j.result(t, c, "every", int64(3600_000), "tick")
	odd := &fakeConn{key: "odd", id: "odd", addr: wire.Address{Class: "jobs", Name: "kitchen/1 é"}}
	j.result(t, odd, "log")
	list, err := j.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Name != "j1" || list[1].Name != "kitchen/1 é" || len(list[0].Connections) != 1 || list[0].DBBytes == 0 {
		t.Fatalf("list: %+v", list)
	}
	info, err := j.Inspect(jobsAddr)
	if err != nil {
		t.Fatal(err)
	}
	if len(info.Schedules) != 1 || info.Schedules[0].Kind != ScheduleInterval || info.Callables["log"] != "" || len(info.Callables) == 0 || len(info.Connections) != 1 {
		t.Fatalf("inspect: %+v", info)
	}
	if _, err := j.Inspect(wire.Address{Class: "jobs", Name: "never"}); !errors.Is(err, ErrNoAgent) {
		t.Fatalf("inspect of a missing agent: %v", err)
	}
	if err := j.Destroy(jobsAddr); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dbPath(dir, jobsAddr)); !os.IsNotExist(err) {
		t.Fatalf("database still there: %v", err)
	}
	if err := j.Destroy(jobsAddr); !errors.Is(err, ErrNoAgent) && err != nil {
		t.Fatalf("second destroy: %v", err)
	}
	// Addressed again, it starts empty.
	if got, _ := j.result(t, newConn("again"), "log").([]any); len(got) != 0 {
		t.Fatalf("destroyed agent kept its log: %v", got)
	}
	if n := j.result(t, newConn("again2"), "schedules"); n != int64(0) {
		t.Fatalf("destroyed agent kept its schedules: %v", n)
	}
}
