package agenthost

import (
	"bytes"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/robfig/cron/v3"
)

// scheduleSchema is the part of the host schema for schedules and the
// queue.
var scheduleSchema = []string{
	`CREATE TABLE cf_agents_schedules (
		id TEXT PRIMARY KEY,
		task TEXT NOT NULL,
		payload BLOB,
		kind TEXT NOT NULL,
		time INTEGER NOT NULL,
		cron TEXT,
		interval_ms INTEGER,
		retry BLOB,
		created INTEGER NOT NULL
	);
	CREATE INDEX cf_agents_schedules_time ON cf_agents_schedules (time);
	CREATE TABLE cf_agents_queues (
		seq INTEGER PRIMARY KEY AUTOINCREMENT,
		id TEXT NOT NULL UNIQUE,
		task TEXT NOT NULL,
		payload BLOB,
		retry BLOB,
		created INTEGER NOT NULL
	);`,
}

// Task is work an agent declares by name so that schedules and queue
// items, which are stored, can name it. payload is the value given when
// scheduling (a value of the codecs value model).
type Task func(ctx *Context, payload any) error

// Tasks lists an agent's tasks by name.
type Tasks interface {
	Tasks() map[string]Task
}

// Schedule kinds.
const (
	ScheduleDelayed  = "delayed"   // once, after a delay
	ScheduleAt       = "scheduled" // once, at a time
	ScheduleCron     = "cron"      // at the times of a cron expression
	ScheduleInterval = "interval"  // every interval
)

// Schedule is a stored schedule.
type Schedule struct {
	ID       string
	Task     string
	Payload  any
	Kind     string
	Time     time.Time // the next run
	Cron     string
	Interval time.Duration
	Retry    RetryOptions
}

// ScheduleOption adjusts a schedule or queue item.
type ScheduleOption func(*scheduleOpts)

type scheduleOpts struct{ retry RetryOptions }

// WithRetry sets the retry options of a scheduled or queued task.
func WithRetry(o RetryOptions) ScheduleOption { return func(s *scheduleOpts) { s.retry = o } }

// ScheduleAfter runs task once, d from now.
func (c *Context) ScheduleAfter(d time.Duration, task string, payload any, opts ...ScheduleOption) (Schedule, error) {
	if d < 0 {
		return Schedule{}, fmt.Errorf("schedule: negative delay %s", d)
	}
	return c.addSchedule(Schedule{Task: task, Payload: payload, Kind: ScheduleDelayed, Time: c.in.h.now().Add(d)}, opts)
}

// ScheduleAt runs task once at t (at once if t has passed).
func (c *Context) ScheduleAt(t time.Time, task string, payload any, opts ...ScheduleOption) (Schedule, error) {
	return c.addSchedule(Schedule{Task: task, Payload: payload, Kind: ScheduleAt, Time: t}, opts)
}

// ScheduleCron runs task at the times of a standard five-field cron
// expression (or a descriptor such as @hourly), in the gateway's time
// zone. The same task, expression and payload scheduled again is the same
// schedule.
func (c *Context) ScheduleCron(expr string, task string, payload any, opts ...ScheduleOption) (Schedule, error) {
	sched, err := cron.ParseStandard(expr)
	if err != nil {
		return Schedule{}, fmt.Errorf("schedule: cron expression %q: %w", expr, err)
	}
	return c.addSchedule(Schedule{Task: task, Payload: payload, Kind: ScheduleCron, Cron: expr, Time: sched.Next(c.in.h.now())}, opts)
}

// ScheduleEvery runs task every d, first d from now. The same task,
// interval and payload scheduled again is the same schedule.
func (c *Context) ScheduleEvery(d time.Duration, task string, payload any, opts ...ScheduleOption) (Schedule, error) {
	if d < time.Millisecond {
		return Schedule{}, fmt.Errorf("schedule: interval %s is below 1ms", d)
	}
	return c.addSchedule(Schedule{Task: task, Payload: payload, Kind: ScheduleInterval, Interval: d, Time: c.in.h.now().Add(d)}, opts)
}

func (c *Context) addSchedule(s Schedule, opts []ScheduleOption) (Schedule, error) {
	var o scheduleOpts
	for _, f := range opts {
		f(&o)
	}
	if err := c.checkTask(s.Task, o.retry); err != nil {
		return Schedule{}, err
	}
	s.Retry = o.retry
	payload, err := stateCodec.Marshal(s.Payload)
	if err != nil {
		return Schedule{}, fmt.Errorf("schedule: payload: %w", err)
	}
	retry, err := stateCodec.Marshal(s.Retry)
	if err != nil {
		return Schedule{}, err
	}
	if s.Kind == ScheduleCron || s.Kind == ScheduleInterval {
		// Idempotent: the SDK added a row on every wake.
		rows, err := c.Query(`SELECT id, payload FROM cf_agents_schedules WHERE kind = ? AND task = ? AND IFNULL(cron, '') = ? AND IFNULL(interval_ms, 0) = ?`,
			s.Kind, s.Task, s.Cron, s.Interval.Milliseconds())
		if err != nil {
			return Schedule{}, err
		}
		var found string
		for rows.Next() {
			var id string
			var p []byte
			if err := rows.Scan(&id, &p); err == nil && bytes.Equal(p, payload) {
				found = id
			}
		}
		rows.Close()
		if found != "" {
			got, ok, err := c.GetSchedule(found)
			if err == nil && ok {
				return got, nil
			}
		}
	}
	s.ID = newID()
	_, err = c.Exec(`INSERT INTO cf_agents_schedules (id, task, payload, kind, time, cron, interval_ms, retry, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		s.ID, s.Task, payload, s.Kind, s.Time.UnixMilli(), nullString(s.Cron), s.Interval.Milliseconds(), retry, c.in.h.now().UnixMilli())
	if err != nil {
		return Schedule{}, fmt.Errorf("schedule: %w", err)
	}
	return s, c.in.syncWakeup()
}

// checkTask fails for a task the agent does not declare or bad options.
func (c *Context) checkTask(task string, retry RetryOptions) error {
	t, ok := c.in.agent.(Tasks)
	if !ok || t.Tasks()[task] == nil {
		return fmt.Errorf("agent %s has no task %q", c.in.addr, task)
	}
	return retry.merge(c.in.class.Retry).Validate()
}

// Schedules returns the agent's schedules, soonest first.
func (c *Context) Schedules() ([]Schedule, error) {
	return c.in.schedules(`SELECT id, task, payload, kind, time, IFNULL(cron, ''), IFNULL(interval_ms, 0), retry FROM cf_agents_schedules ORDER BY time, id`)
}

// GetSchedule returns one schedule.
func (c *Context) GetSchedule(id string) (Schedule, bool, error) {
	s, err := c.in.schedules(`SELECT id, task, payload, kind, time, IFNULL(cron, ''), IFNULL(interval_ms, 0), retry FROM cf_agents_schedules WHERE id = ?`, id)
	if err != nil || len(s) == 0 {
		return Schedule{}, false, err
	}
	return s[0], true, nil
}

// CancelSchedule deletes a schedule; it reports whether there was one.
func (c *Context) CancelSchedule(id string) (bool, error) {
	r, err := c.Exec(`DELETE FROM cf_agents_schedules WHERE id = ?`, id)
	if err != nil {
		return false, err
	}
	n, _ := r.RowsAffected()
	return n > 0, c.in.syncWakeup()
}

func (in *instance) schedules(query string, args ...any) ([]Schedule, error) {
	rows, err := in.db.Query(query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Schedule
	for rows.Next() {
		var s Schedule
		var payload, retry []byte
		var at, interval int64
		if err := rows.Scan(&s.ID, &s.Task, &payload, &s.Kind, &at, &s.Cron, &interval, &retry); err != nil {
			return nil, err
		}
		s.Time, s.Interval = time.UnixMilli(at), time.Duration(interval)*time.Millisecond
		if s.Payload, err = stateCodec.Unmarshal(payload); err != nil {
			return nil, fmt.Errorf("schedule %s payload: %w", s.ID, err)
		}
		_ = stateCodec.UnmarshalInto(retry, &s.Retry)
		out = append(out, s)
	}
	return out, rows.Err()
}

// syncWakeup tells the host-wide timer when this agent next has work: its
// soonest schedule. While the queue is not empty the index on disk also
// says "now", so that a restart resumes the queue; the running gateway
// needs no timer for it, the queue runs by itself.
func (in *instance) syncWakeup() error {
	var next sql.NullInt64
	if err := in.db.QueryRow(`SELECT MIN(time) FROM cf_agents_schedules`).Scan(&next); err != nil {
		return err
	}
	var queued int
	if err := in.db.QueryRow(`SELECT COUNT(*) FROM (SELECT 1 FROM cf_agents_queues LIMIT 1)`).Scan(&queued); err != nil {
		return err
	}
	var timer, disk time.Time
	if next.Valid {
		timer = time.UnixMilli(next.Int64)
		disk = timer
	}
	if now := in.h.now(); queued > 0 && (disk.IsZero() || disk.After(now)) {
		disk = now
	}
	return in.h.wake.set(in.addr, timer, disk)
}

// runDue runs the agent's due schedules, oldest first, and resumes its
// queue; the host timer posts it. One-shot schedules are deleted after
// their task ran (or failed its last attempt): delivery is at least once.
// Recurring ones move to their next time after now, so overdue runs
// collapse into one.
func (in *instance) runDue() error {
	now := in.h.now()
	due, err := in.schedules(`SELECT id, task, payload, kind, time, IFNULL(cron, ''), IFNULL(interval_ms, 0), retry FROM cf_agents_schedules WHERE time <= ? ORDER BY time, id`, now.UnixMilli())
	if err != nil {
		return err
	}
	for _, s := range due {
		in.runTask("schedule", s.ID, s.Task, s.Payload, s.Retry)
		switch s.Kind {
		case ScheduleCron:
			sched, err := cron.ParseStandard(s.Cron)
			if err != nil {
				_, err = in.db.Exec(`DELETE FROM cf_agents_schedules WHERE id = ?`, s.ID)
				in.h.log.Warn("dropped schedule with a bad cron expression", "agent", in.addr.String(), "schedule", s.ID, "error", err)
				continue
			}
			_, err = in.db.Exec(`UPDATE cf_agents_schedules SET time = ? WHERE id = ?`, sched.Next(in.h.now()).UnixMilli(), s.ID)
		case ScheduleInterval:
			next := s.Time.Add(s.Interval)
			if t := in.h.now(); !next.After(t) {
				next = t.Add(s.Interval)
			}
			_, err = in.db.Exec(`UPDATE cf_agents_schedules SET time = ? WHERE id = ?`, next.UnixMilli(), s.ID)
		default:
			_, err = in.db.Exec(`DELETE FROM cf_agents_schedules WHERE id = ?`, s.ID)
		}
		if err != nil {
			in.h.log.Error("update schedule", "agent", in.addr.String(), "schedule", s.ID, "error", err)
		}
	}
	in.kickQueue()
	return in.syncWakeup()
}

// runTask runs a named task with its retry options; failures are logged
// and reported to the agent's OnError.
func (in *instance) runTask(what, id, name string, payload any, retry RetryOptions) {
	var task Task
	if t, ok := in.agent.(Tasks); ok {
		task = t.Tasks()[name]
	}
	if task == nil {
		in.ctx.reportError(fmt.Errorf("%s %s: agent has no task %q", what, id, name))
		return
	}
	err := in.ctx.Retry(retry, func(attempt int) (err error) {
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("task %s panicked: %v", name, p)
			}
		}()
		if attempt > 1 {
			in.h.log.Debug("retrying task", "agent", in.addr.String(), what, id, "task", name, "attempt", attempt)
		}
		return task(in.ctx, payload)
	}, nil)
	if err != nil {
		in.ctx.reportError(fmt.Errorf("%s %s: task %s failed: %w", what, id, name, err))
	}
}

func newID() string {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b[:])
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}
