package agenthost

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/outpost-iot/outpost/wire"
)

// AgentInfo describes an agent for the admin API and `outpost agents`.
type AgentInfo struct {
	Class       string            `json:"class"`
	Name        string            `json:"name"`
	Awake       bool              `json:"awake"`
	DBBytes     int64             `json:"db_bytes"`
	Connections []ConnInfo        `json:"connections,omitempty"`
	Schedules   []ScheduleInfo    `json:"schedules,omitempty"`
	Queue       []QueueInfo       `json:"queue,omitempty"`
	Callables   map[string]string `json:"callables,omitempty"`
	State       any               `json:"state,omitempty"`
}

// ConnInfo describes an attached connection.
type ConnInfo struct {
	ID        string   `json:"id"`
	Transport string   `json:"transport"`
	User      string   `json:"user,omitempty"`
	Codec     string   `json:"codec"`
	Protocol  bool     `json:"protocol"`
	Readonly  bool     `json:"readonly"`
	Tags      []string `json:"tags,omitempty"`
}

// ScheduleInfo describes a schedule.
type ScheduleInfo struct {
	ID       string    `json:"id"`
	Task     string    `json:"task"`
	Kind     string    `json:"kind"`
	Next     time.Time `json:"next"`
	Cron     string    `json:"cron,omitempty"`
	Interval string    `json:"interval,omitempty"`
}

// QueueInfo describes a queue item.
type QueueInfo struct {
	ID      string    `json:"id"`
	Task    string    `json:"task"`
	Created time.Time `json:"created"`
}

// List returns every agent that has a database, and every agent addressed
// since, sorted by class and name; Awake says whether it is in memory now.
// Names come from the databases themselves.
func (h *Host) List() ([]AgentInfo, error) {
	seen := map[wire.Address]*AgentInfo{}
	root := filepath.Join(h.cfg.DataDir, "agents")
	classes, err := os.ReadDir(root)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	for _, c := range classes {
		if !c.IsDir() || !h.KnownClass(c.Name()) {
			continue
		}
		files, _ := os.ReadDir(filepath.Join(root, c.Name()))
		for _, f := range files {
			if !strings.HasSuffix(f.Name(), ".db") {
				continue
			}
			path := filepath.Join(root, c.Name(), f.Name())
			name, err := storedName(path)
			if err != nil {
				h.log.Warn("unreadable agent database", "path", path, "error", err)
				continue
			}
			a := wire.Address{Class: c.Name(), Name: name}
			seen[a] = &AgentInfo{Class: a.Class, Name: a.Name, DBBytes: dbBytes(path)}
		}
	}
	h.mu.Lock()
	for a, in := range h.agents {
		info := seen[a]
		if info == nil {
			info = &AgentInfo{Class: a.Class, Name: a.Name}
			seen[a] = info
		}
		in.mu.Lock()
		info.Awake = in.awake
		for _, e := range in.conns {
			info.Connections = append(info.Connections, connInfo(e))
		}
		in.mu.Unlock()
	}
	h.mu.Unlock()
	out := make([]AgentInfo, 0, len(seen))
	for _, info := range seen {
		out = append(out, *info)
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Class < out[j].Class || out[i].Class == out[j].Class && out[i].Name < out[j].Name
	})
	return out, nil
}

func connInfo(e *connEntry) ConnInfo {
	return ConnInfo{ID: e.conn.ID(), Transport: e.conn.Transport(), User: e.conn.User(), Codec: e.conn.Codec(),
		Protocol: e.conn.ProtocolEnabled(), Readonly: e.conn.Readonly(), Tags: e.tags}
}

// storedName reads an agent's name from its database (file names of
// escaped names are not reversible when hashed).
func storedName(path string) (string, error) {
	db, err := openDB(path, DefaultMaxDBBytes, false)
	if err != nil {
		return "", err
	}
	defer db.Close()
	var name string
	err = db.QueryRow(`SELECT value FROM cf_agent_meta WHERE key = 'name'`).Scan(&name)
	return name, err
}

func dbBytes(path string) int64 {
	var n int64
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if info, err := os.Stat(path + suffix); err == nil {
			n += info.Size()
		}
	}
	return n
}

// ErrNoAgent is returned by Inspect and Destroy for an agent that does not
// exist.
var ErrNoAgent = errors.New("no such agent")

// exists reports whether the agent has a database or a record.
func (h *Host) exists(a wire.Address) bool {
	h.mu.Lock()
	_, ok := h.agents[a]
	h.mu.Unlock()
	if ok {
		return true
	}
	_, err := os.Stat(dbPath(h.cfg.DataDir, a))
	return err == nil
}

// Inspect describes one agent in full: connections, schedules, queue,
// callables and state. It runs as an event of the agent, so it wakes it.
func (h *Host) Inspect(a wire.Address) (AgentInfo, error) {
	if !h.KnownClass(a.Class) {
		return AgentInfo{}, fmt.Errorf("agent %s: %w", a, wire.ErrUnknownAgent)
	}
	if !h.exists(a) {
		return AgentInfo{}, fmt.Errorf("agent %s: %w", a, ErrNoAgent)
	}
	var info AgentInfo
	err := h.run(a, func(in *instance) error {
		info = AgentInfo{Class: a.Class, Name: a.Name, Awake: true, DBBytes: dbBytes(dbPath(h.cfg.DataDir, a)), State: in.state}
		in.mu.Lock()
		for _, e := range in.conns {
			info.Connections = append(info.Connections, connInfo(e))
		}
		in.mu.Unlock()
		sort.Slice(info.Connections, func(i, j int) bool { return info.Connections[i].ID < info.Connections[j].ID })
		scheds, err := in.ctx.Schedules()
		if err != nil {
			return err
		}
		for _, s := range scheds {
			si := ScheduleInfo{ID: s.ID, Task: s.Task, Kind: s.Kind, Next: s.Time.UTC(), Cron: s.Cron}
			if s.Interval > 0 {
				si.Interval = s.Interval.String()
			}
			info.Schedules = append(info.Schedules, si)
		}
		items, err := in.queueItems(-1)
		if err != nil {
			return err
		}
		for _, q := range items {
			info.Queue = append(info.Queue, QueueInfo{ID: q.ID, Task: q.Task, Created: q.Created.UTC()})
		}
		info.Callables = map[string]string{}
		for name, m := range in.callables {
			info.Callables[name] = m.Description
		}
		return nil
	})
	return info, err
}

// run runs fn as an event of the agent and waits for it.
func (h *Host) run(a wire.Address, fn func(*instance) error) error {
	done := make(chan error, 1)
	if err := h.post(a, event{kind: evFunc, fn: fn, done: func(err error) { done <- err }}, false); err != nil {
		return err
	}
	return <-done
}

// Destroy deletes an agent: its connections are closed (WebSocket code
// 1000, MQTT clients disconnected), its schedules and queue go with its
// database, which is deleted.
func (h *Host) Destroy(a wire.Address) error {
	if !h.KnownClass(a.Class) {
		return fmt.Errorf("agent %s: %w", a, wire.ErrUnknownAgent)
	}
	if !h.exists(a) {
		return fmt.Errorf("agent %s: %w", a, ErrNoAgent)
	}
	done := make(chan error, 1)
	err := h.post(a, event{kind: evDestroy, done: func(err error) { done <- err }}, false)
	if err != nil {
		return err
	}
	return <-done
}

// Destroy deletes this agent after the current event (see Host.Destroy).
func (c *Context) Destroy() error {
	return c.in.postSelf(event{kind: evDestroy})
}

// destroy runs on the agent's goroutine.
func (in *instance) destroy() error {
	in.mu.Lock()
	conns := make([]wire.Conn, 0, len(in.conns))
	for _, e := range in.conns {
		conns = append(conns, e.conn)
	}
	in.conns = map[string]*connEntry{}
	in.mu.Unlock()
	for _, c := range conns {
		if err := c.Close(1000, "agent destroyed"); err != nil {
			in.h.log.Debug("close connection of destroyed agent", "agent", in.addr.String(), "conn", c.ID(), "error", err)
		}
	}
	in.release()
	path := dbPath(in.h.cfg.DataDir, in.addr)
	var errs []error
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := os.Remove(path + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	errs = append(errs, in.h.wake.forget(in.addr))
	in.h.mu.Lock()
	if in.h.counts[in.addr.Class] > 0 {
		in.h.counts[in.addr.Class]--
	}
	in.h.mu.Unlock()
	// The record goes too, so that the next event starts a new agent;
	// events queued behind this one go to it.
	in.h.mu.Lock()
	in.mu.Lock()
	if in.h.agents[in.addr] == in {
		delete(in.h.agents, in.addr)
	}
	in.forgotten = true
	rest := in.queue
	in.queue = nil
	in.mu.Unlock()
	in.h.mu.Unlock()
	for _, e := range rest {
		if err := in.h.post(in.addr, e, false); err != nil {
			e.finish(err)
		}
	}
	in.h.log.Info("agent destroyed", "agent", in.addr.String())
	return errors.Join(errs...)
}
