//go:build testagents

package main

import (
	"fmt"
	"time"

	"github.com/outpost-iot/outpost/agenthost"
)

// The test-jobs class exists only in binaries built with -tags testagents,
// for end-to-end tests that kill the gateway while schedules and queue
// items are pending. It is not part of the product.
func init() {
	builtinClasses = append(builtinClasses, agenthost.Class{
		Name:       "test-jobs",
		New:        func(*agenthost.Context) agenthost.Agent { return testJobs{} },
		Migrations: []string{`CREATE TABLE log (seq INTEGER PRIMARY KEY, label TEXT NOT NULL)`},
	})
}

type testJobs struct{}

func (testJobs) Tasks() map[string]agenthost.Task {
	return map[string]agenthost.Task{
		"record": func(ctx *agenthost.Context, payload any) error {
			m, _ := payload.(map[string]any)
			if ms, _ := m["sleep_ms"].(int64); ms > 0 {
				time.Sleep(time.Duration(ms) * time.Millisecond)
			}
			_, err := ctx.Exec(`INSERT INTO log (label) VALUES (?)`, m["label"])
			return err
		},
	}
}

func (testJobs) Callables() map[string]agenthost.Method {
	return map[string]agenthost.Method{
		"after": {Description: "after(ms, label) records label once, ms from now", Call: func(ctx *agenthost.Context, call *agenthost.Call) (any, error) {
			ms, _ := call.Arg(0).(int64)
			s, err := ctx.ScheduleAfter(time.Duration(ms)*time.Millisecond, "record", map[string]any{"label": call.Arg(1)})
			return s.ID, err
		}},
		"enqueue": {Description: "enqueue(n, sleep_ms) queues n items q0..q(n-1), each sleeping first", Call: func(ctx *agenthost.Context, call *agenthost.Call) (any, error) {
			n, _ := call.Arg(0).(int64)
			sleep, _ := call.Arg(1).(int64)
			for i := range n {
				if _, err := ctx.Enqueue("record", map[string]any{"label": fmt.Sprint("q", i), "sleep_ms": sleep}); err != nil {
					return nil, err
				}
			}
			return n, nil
		}},
		"log": {Description: "log() returns the recorded labels in order", Call: func(ctx *agenthost.Context, _ *agenthost.Call) (any, error) {
			rows, err := ctx.Query(`SELECT label FROM log ORDER BY seq`)
			if err != nil {
				return nil, err
			}
			defer rows.Close()
			out := []any{}
			for rows.Next() {
				var l string
				if err := rows.Scan(&l); err != nil {
					return nil, err
				}
				out = append(out, l)
			}
			return out, rows.Err()
		}},
	}
}
