package broker_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/outpost-iot/outpost/broker"
	"github.com/outpost-iot/outpost/wire"
)

// fakeAgents is a stand-in for package protocol in the broker's own unit
// tests of the transport: it records every call as an event and lets a
// test decide what Receive returns and write to a joined client's sink.
// The end-to-end tests with the real protocol layer live in cmd/outpost.
type fakeAgents struct {
	classes map[string]bool
	events  chan agentEvent

	mu        sync.Mutex
	sinks     map[string]wire.Sink // live joins by key
	onReceive func(context.Context, wire.Receive) error
}

var _ broker.Agents = (*fakeAgents)(nil)

type agentEvent struct {
	kind  string // join, leave, receive
	join  wire.Join
	key   string
	agent wire.Address
	recv  wire.Receive
}

func newFakeAgents() *fakeAgents {
	return &fakeAgents{
		classes: map[string]bool{"echo": true, "twin": true},
		events:  make(chan agentEvent, 1024),
		sinks:   map[string]wire.Sink{},
	}
}

func (f *fakeAgents) KnownClass(class string) bool { return f.classes[class] }

func (f *fakeAgents) Join(_ context.Context, j wire.Join) error {
	f.mu.Lock()
	f.sinks[j.Key] = j.Out
	f.mu.Unlock()
	f.events <- agentEvent{kind: "join", join: j, key: j.Key, agent: j.Agent}
	return nil
}

func (f *fakeAgents) Leave(key string, agent wire.Address) {
	f.mu.Lock()
	delete(f.sinks, key)
	f.mu.Unlock()
	f.events <- agentEvent{kind: "leave", key: key, agent: agent}
}

func (f *fakeAgents) Receive(ctx context.Context, r wire.Receive) error {
	r.Data = append([]byte(nil), r.Data...)
	f.events <- agentEvent{kind: "receive", key: r.Key, agent: r.From.Agent, recv: r}
	f.mu.Lock()
	fn := f.onReceive
	f.mu.Unlock()
	if fn != nil {
		return fn(ctx, r)
	}
	return nil
}

func (f *fakeAgents) ServeAgentHTTP(w http.ResponseWriter, r *http.Request, agent wire.Address) {
	w.Header().Set("Content-Type", "text/plain")
	_, _ = w.Write([]byte("agent http " + agent.Class + "|" + agent.Name + "|" + r.URL.Path))
}

func (f *fakeAgents) setReceive(fn func(context.Context, wire.Receive) error) {
	f.mu.Lock()
	f.onReceive = fn
	f.mu.Unlock()
}

func (f *fakeAgents) sink(t *testing.T, key string) wire.Sink {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.sinks[key]
	if !ok {
		t.Fatalf("no live join %q", key)
	}
	return s
}

func (f *fakeAgents) live(key string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.sinks[key]
	return ok
}

// expect returns the next event of that kind; events of other kinds in
// between are skipped.
func (f *fakeAgents) expect(t *testing.T, kind string) agentEvent {
	t.Helper()
	deadline := time.After(wait)
	for {
		select {
		case e := <-f.events:
			if e.kind == kind {
				return e
			}
		case <-deadline:
			t.Fatalf("no %s event", kind)
		}
	}
}

// quiet checks that no event of that kind arrives within a short grace.
func (f *fakeAgents) quiet(t *testing.T, kind string) {
	t.Helper()
	deadline := time.After(300 * time.Millisecond)
	for {
		select {
		case e := <-f.events:
			if e.kind == kind {
				t.Fatalf("unexpected %s event: %+v", kind, e)
			}
		case <-deadline:
			return
		}
	}
}
