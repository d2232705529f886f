package agenthost

import (
	"fmt"
	"time"
)

// QueueItem is a task waiting in an agent's queue.
type QueueItem struct {
	ID      string
	Task    string
	Payload any
	Created time.Time
	Retry   RetryOptions
}

// Enqueue adds a task to the agent's queue and returns its id. Items run
// one at a time in strict FIFO order, after the event that enqueued them,
// interleaved with other events; items left by a crash run after the
// gateway restarts.
func (c *Context) Enqueue(task string, payload any, opts ...ScheduleOption) (string, error) {
	var o scheduleOpts
	for _, f := range opts {
		f(&o)
	}
	if err := c.checkTask(task, o.retry); err != nil {
		return "", err
	}
	p, err := stateCodec.Marshal(payload)
	if err != nil {
		return "", fmt.Errorf("queue: payload: %w", err)
	}
	r, err := stateCodec.Marshal(o.retry)
	if err != nil {
		return "", err
	}
	id := newID()
	if _, err := c.Exec(`INSERT INTO cf_agents_queues (id, task, payload, retry, created) VALUES (?, ?, ?, ?, ?)`,
		id, task, p, r, c.in.h.now().UnixMilli()); err != nil {
		return "", fmt.Errorf("queue: %w", err)
	}
	c.in.kickQueue()
	return id, c.in.syncWakeup()
}

// Queue returns the waiting items, first first.
func (c *Context) Queue() ([]QueueItem, error) {
	return c.in.queueItems(-1)
}

// Dequeue removes a waiting item; it reports whether there was one.
func (c *Context) Dequeue(id string) (bool, error) {
	r, err := c.Exec(`DELETE FROM cf_agents_queues WHERE id = ?`, id)
	if err != nil {
		return false, err
	}
	n, _ := r.RowsAffected()
	return n > 0, c.in.syncWakeup()
}

func (in *instance) queueItems(limit int) ([]QueueItem, error) {
	rows, err := in.db.Query(`SELECT id, task, payload, retry, created FROM cf_agents_queues ORDER BY seq LIMIT ?`, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []QueueItem
	for rows.Next() {
		var q QueueItem
		var p, r []byte
		var created int64
		if err := rows.Scan(&q.ID, &q.Task, &p, &r, &created); err != nil {
			return nil, err
		}
		if q.Payload, err = stateCodec.Unmarshal(p); err != nil {
			return nil, fmt.Errorf("queue item %s payload: %w", q.ID, err)
		}
		_ = stateCodec.UnmarshalInto(r, &q.Retry)
		q.Created = time.UnixMilli(created)
		out = append(out, q)
	}
	return out, rows.Err()
}

// kickQueue makes sure one queue run is pending; it runs as its own event.
func (in *instance) kickQueue() {
	if in.queueKicked {
		return
	}
	in.queueKicked = true
	_ = in.postSelf(event{kind: evFunc, fn: (*instance).runQueue})
}

// postSelf queues an event from the agent's own goroutine.
func (in *instance) postSelf(e event) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.closed {
		return ErrHostClosed
	}
	in.queue = append(in.queue, e)
	return nil
}

// runQueue runs the first queue item, removes it, and queues the next run
// while items remain.
func (in *instance) runQueue() error {
	in.queueKicked = false
	items, err := in.queueItems(1)
	if err != nil || len(items) == 0 {
		if err == nil {
			err = in.syncWakeup()
		}
		return err
	}
	q := items[0]
	in.runTask("queue item", q.ID, q.Task, q.Payload, q.Retry)
	if _, err := in.db.Exec(`DELETE FROM cf_agents_queues WHERE id = ?`, q.ID); err != nil {
		return fmt.Errorf("queue: %w", err)
	}
	in.kickQueue()
	return nil
}
