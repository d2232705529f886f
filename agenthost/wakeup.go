package agenthost

import (
	"container/heap"
	"database/sql"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/outpost-iot/outpost/wire"
)

// wakeups is the one host-wide timer that wakes agents for their schedules
// and unfinished queues, hibernated or not, also after a restart. Each
// agent's own database is the truth about its schedules and queue; the
// index ({data-dir}/agents/index.db) only says when to wake which agent.
// An agent rewrites its row after every change and after running its due
// work, so a crash between firing and running fires again (at least once).
type wakeups struct {
	h  *Host
	db *sql.DB

	mu   sync.Mutex
	due  map[wire.Address]time.Time // in-process timer
	disk map[wire.Address]time.Time // what the index file says
	heap wakeHeap
	kick chan struct{}
}

func openWakeups(h *Host) (*wakeups, error) {
	db, err := openDB(filepath.Join(h.cfg.DataDir, "agents", "index.db"), 1<<40, true)
	if err != nil {
		return nil, fmt.Errorf("agent index: %w", err)
	}
	if _, err := db.Exec(`CREATE TABLE IF NOT EXISTS wakeups (class TEXT NOT NULL, name TEXT NOT NULL, due INTEGER NOT NULL, PRIMARY KEY (class, name))`); err != nil {
		db.Close()
		return nil, fmt.Errorf("agent index: %w", err)
	}
	w := &wakeups{h: h, db: db, due: map[wire.Address]time.Time{}, disk: map[wire.Address]time.Time{}, kick: make(chan struct{}, 1)}
	rows, err := db.Query(`SELECT class, name, due FROM wakeups`)
	if err != nil {
		db.Close()
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var a wire.Address
		var ms int64
		if err := rows.Scan(&a.Class, &a.Name, &ms); err != nil {
			db.Close()
			return nil, err
		}
		w.setLocked(a, time.UnixMilli(ms))
		w.disk[a] = time.UnixMilli(ms)
	}
	return w, rows.Err()
}

// set records when a should next wake: timer in this process, disk after
// a restart (they differ while a queue is pending); zero means never.
func (w *wakeups) set(a wire.Address, timer, disk time.Time) error {
	w.mu.Lock()
	old, had := w.due[a]
	changed := !(had && old.Equal(timer) || !had && timer.IsZero())
	if changed {
		w.setLocked(a, timer)
	}
	prevDisk, hadDisk := w.disk[a]
	diskChanged := !(hadDisk && prevDisk.Equal(disk) || !hadDisk && disk.IsZero())
	if disk.IsZero() {
		delete(w.disk, a)
	} else {
		w.disk[a] = disk
	}
	w.mu.Unlock()
	if changed {
		select {
		case w.kick <- struct{}{}:
		default:
		}
	}
	if !diskChanged {
		return nil
	}
	var err error
	if disk.IsZero() {
		_, err = w.db.Exec(`DELETE FROM wakeups WHERE class = ? AND name = ?`, a.Class, a.Name)
	} else {
		_, err = w.db.Exec(`INSERT OR REPLACE INTO wakeups (class, name, due) VALUES (?, ?, ?)`, a.Class, a.Name, disk.UnixMilli())
	}
	if err != nil {
		return fmt.Errorf("agent index: %w", err)
	}
	return nil
}

// forget removes a's wake-ups (the agent was destroyed).
func (w *wakeups) forget(a wire.Address) error {
	return w.set(a, time.Time{}, time.Time{})
}

func (w *wakeups) setLocked(a wire.Address, due time.Time) {
	if due.IsZero() {
		delete(w.due, a)
		return
	}
	w.due[a] = due
	heap.Push(&w.heap, wakeItem{a, due})
	if len(w.heap) > 2*len(w.due)+64 {
		// Drop superseded entries so the heap stays proportional to the
		// agents that have a wake-up.
		w.heap = w.heap[:0]
		for a, d := range w.due {
			w.heap = append(w.heap, wakeItem{a, d})
		}
		heap.Init(&w.heap)
	}
}

// run fires due agents until the host closes.
func (w *wakeups) run() {
	defer w.h.wg.Done()
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		now := w.h.now()
		var fire []wire.Address
		w.mu.Lock()
		next := time.Time{}
		for w.heap.Len() > 0 {
			top := w.heap[0]
			if cur, ok := w.due[top.addr]; !ok || !cur.Equal(top.due) {
				heap.Pop(&w.heap) // superseded
				continue
			}
			if top.due.After(now) {
				next = top.due
				break
			}
			heap.Pop(&w.heap)
			// Fired: the agent sets its next wake-up after it ran; until
			// then it has none in memory (the row stays on disk).
			delete(w.due, top.addr)
			fire = append(fire, top.addr)
		}
		w.mu.Unlock()
		for _, a := range fire {
			if err := w.h.post(a, event{kind: evFunc, fn: (*instance).runDue}, false); err != nil {
				w.h.log.Warn("cannot wake agent for its schedules", "agent", a.String(), "error", err)
			}
		}
		wait := time.Hour
		if !next.IsZero() {
			wait = max(next.Sub(w.h.now()), 0)
		}
		t.Reset(wait)
		select {
		case <-w.h.ctx.Done():
			return
		case <-w.kick:
		case <-t.C:
		}
	}
}

type wakeItem struct {
	addr wire.Address
	due  time.Time
}

type wakeHeap []wakeItem

func (h wakeHeap) Len() int           { return len(h) }
func (h wakeHeap) Less(i, j int) bool { return h[i].due.Before(h[j].due) }
func (h wakeHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *wakeHeap) Push(x any)        { *h = append(*h, x.(wakeItem)) }
func (h *wakeHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
