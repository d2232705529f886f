package main

// agents.go: the two agent classes the bench compares. Both do the same
// logical work per message: know the agent's counter n (how many readings
// it has stored), store the reading as row n+1 (one INSERT, committed
// before the reply), and reply to the sender with a CBOR frame carrying
// the reading's sequence number, its send time and n+1. They differ in where
// the counter lives between messages:
//
//   - bench-counter (stateful, the Agents SDK model): in the agent's memory;
//     it reads it from its database once, in OnStart, when it wakes. The
//     INSERT goes to the agent's own database, which the host keeps open.
//   - bench-stateless (the serverless baseline): nowhere. Each message
//     opens the agent's database with database/sql and modernc (with the
//     host's pragmas: WAL, synchronous NORMAL), reads the counter with a
//     SELECT, does the same INSERT, and closes the database before
//     replying. By default the file is the agent's own database, which the
//     host also holds open while the agent is awake, so closing is cheap;
//     with --stateless-db separate it is a file of its own under
//     {data-dir}/stateless that only the message holds open, so every
//     close is SQLite's last close: a WAL checkpoint with its fsync, as in
//     a process that opens a database file per request.

import (
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" driver, as agenthost uses

	"github.com/outpost-iot/outpost/agenthost"
	"github.com/outpost-iot/outpost/wire"
)

const (
	classCounter   = "bench-counter"
	classStateless = "bench-stateless"
)

const (
	createReadings = `CREATE TABLE readings (n INTEGER PRIMARY KEY, seq INTEGER NOT NULL, sent INTEGER NOT NULL, stored INTEGER NOT NULL)`
	insertReading  = `INSERT INTO readings (n, seq, sent, stored) VALUES (?, ?, ?, ?)`
	selectCounter  = `SELECT coalesce(max(n), 0) FROM readings`
)

// agentStats counts what the bench's agents do, for one gateway.
type agentStats struct {
	starts atomic.Int64 // OnStart calls: wakes, including the first one
	live   atomic.Int64 // agent values built and not yet garbage collected
}

// track counts a new agent value as live until the garbage collector
// frees it, which happens once the host released it (hibernation).
func track[T any](s *agentStats, a *T) *T {
	s.live.Add(1)
	runtime.AddCleanup(a, func(s *agentStats) { s.live.Add(-1) }, s)
	return a
}

// benchClasses returns the two classes, counting into st; separate puts
// the stateless agents' databases apart from the host's.
func benchClasses(dataDir string, st *agentStats, separate bool) []agenthost.Class {
	statelessPath := func(name string) string {
		if separate {
			return filepath.Join(dataDir, "stateless", name+".db")
		}
		// agenthost's path for names made of A-Z a-z 0-9 . _ - (DESIGN.md
		// "Identity and storage"), as the bench's dev-{i} are.
		return filepath.Join(dataDir, "agents", classStateless, name+".db")
	}
	return []agenthost.Class{
		{
			Name:       classCounter,
			Migrations: []string{createReadings},
			New: func(*agenthost.Context) agenthost.Agent {
				return track(st, &counterAgent{stats: st})
			},
		},
		{
			Name:       classStateless,
			Migrations: []string{createReadings},
			New: func(ctx *agenthost.Context) agenthost.Agent {
				return track(st, &statelessAgent{stats: st, path: statelessPath(ctx.Name())})
			},
		},
	}
}

// reading is what a device sends: the agent index, a sequence number and
// the send time.
type reading struct{ agent, seq, sent int64 }

func parseReading(m wire.Inbound) (reading, error) {
	v, ok := m.Value.(map[string]any)
	if !ok {
		return reading{}, errors.New("reading is not a CBOR map")
	}
	a, ok1 := v["a"].(int64)
	s, ok2 := v["s"].(int64)
	t, ok3 := v["t"].(int64)
	if !ok1 || !ok2 || !ok3 {
		return reading{}, errors.New("reading needs integers a, s and t")
	}
	return reading{a, s, t}, nil
}

// reply answers the sender: the reading's fields and the new counter, or
// the error, so the device never waits for a reply that will not come.
func reply(c wire.Conn, r reading, n int64, err error) error {
	v := map[string]any{"a": r.agent, "s": r.seq, "t": r.sent, "n": n}
	if err != nil {
		v["err"] = err.Error()
	}
	if serr := c.Send(wire.Frame{Kind: wire.Message, Value: v}); err == nil {
		err = serr
	}
	return err
}

// counterAgent is bench-counter: the counter stays in memory while awake.
type counterAgent struct {
	stats *agentStats
	n     int64
}

func (a *counterAgent) OnStart(ctx *agenthost.Context) error {
	a.stats.starts.Add(1)
	return ctx.QueryRow(selectCounter).Scan(&a.n)
}

func (a *counterAgent) OnMessage(ctx *agenthost.Context, c wire.Conn, m wire.Inbound) error {
	r, err := parseReading(m)
	if err != nil {
		return reply(c, r, 0, err)
	}
	if _, err := ctx.Exec(insertReading, a.n+1, r.seq, r.sent, time.Now().UnixNano()); err != nil {
		return reply(c, r, a.n, fmt.Errorf("store reading: %w", err))
	}
	a.n++
	return reply(c, r, a.n, nil)
}

// statelessAgent is bench-stateless: nothing is kept between messages.
type statelessAgent struct {
	stats *agentStats
	path  string
}

func (a *statelessAgent) OnStart(*agenthost.Context) error {
	a.stats.starts.Add(1)
	return nil
}

func (a *statelessAgent) OnMessage(_ *agenthost.Context, c wire.Conn, m wire.Inbound) error {
	r, err := parseReading(m)
	if err != nil {
		return reply(c, r, 0, err)
	}
	n, err := storeStateless(a.path, r)
	return reply(c, r, n, err)
}

// statelessDSN opens a database as agenthost does (store.go): WAL,
// synchronous NORMAL, a busy timeout, 4 KiB pages.
const statelessDSN = "?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=busy_timeout(5000)&_pragma=foreign_keys(ON)&_pragma=page_size(4096)"

// storeStateless opens the database at path, reads the counter, stores the
// reading as row counter+1 and closes the database; it returns the new
// counter.
func storeStateless(path string, r reading) (n int64, err error) {
	_, statErr := os.Stat(path)
	if statErr != nil {
		if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
			return 0, err
		}
	}
	db, err := sql.Open("sqlite", "file:"+path+statelessDSN)
	if err != nil {
		return 0, err
	}
	defer func() {
		if cerr := db.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("close: %w", cerr)
		}
	}()
	db.SetMaxOpenConns(1)
	if statErr != nil {
		if _, err := db.Exec(createReadings); err != nil {
			return 0, fmt.Errorf("create readings: %w", err)
		}
	}
	if err := db.QueryRow(selectCounter).Scan(&n); err != nil {
		return 0, fmt.Errorf("read counter: %w", err)
	}
	if _, err := db.Exec(insertReading, n+1, r.seq, r.sent, time.Now().UnixNano()); err != nil {
		return n, fmt.Errorf("store reading: %w", err)
	}
	return n + 1, nil
}
