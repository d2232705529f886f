package agenthost

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/outpost-iot/outpost/wire"
)

// TestManyAgentsStayBounded addresses 10,000 agents: only recently active
// ones stay awake, hibernated ones without connections leave memory, and
// the heap after the run is not proportional to the number of agents ever
// addressed. Under the race detector (which slows the SQLite engine
// tenfold) and -short it addresses 1,000; `make test` also runs it
// without the race detector at full size.
func TestManyAgentsStayBounded(t *testing.T) {
	n := 10_000
	if testing.Short() || raceEnabled {
		n = 1_000
	}
	j := startJobs(t, t.TempDir(), Config{IdleTimeout: 200 * time.Millisecond})
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	next := make(chan int)
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			for i := range next {
				c := &fakeConn{key: fmt.Sprint(i), id: fmt.Sprint(i), addr: wire.Address{Class: "jobs", Name: fmt.Sprint("a-", i)}}
				done := make(chan error, 1)
				err := j.Deliver(context.Background(), c, wire.Inbound{Kind: wire.InRPC, ID: "1", Method: "log"}, func(err error) { done <- err })
				if err == nil {
					err = <-done
				}
				if err == nil && c.last()["success"] != true {
					err = fmt.Errorf("agent %d: %v", i, c.last())
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	for range 8 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d agents addressed in %s", n, time.Since(start))
	deadline := time.Now().Add(60 * time.Second)
	for {
		j.mu.Lock()
		records := len(j.agents)
		j.mu.Unlock()
		if records == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d agents still in memory", records, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	grown := int64(after.HeapInuse) - int64(before.HeapInuse)
	t.Logf("heap in use grew %d KiB after %d agents came and went", grown>>10, n)
	if grown > 64<<20 {
		t.Fatalf("heap grew %d MiB for %d hibernated agents", grown>>20, n)
	}
	// They all still exist on disk.
	list, err := j.List()
	if err != nil || len(list) != n {
		t.Fatalf("list: %d agents, %v", len(list), err)
	}
}

// TestMaxAwake: with MaxAwake set, a burst of agents that never go idle long
// enough to hibernate by time still leaves at most about MaxAwake awake:
// the least recently active ones hibernate early.
func TestMaxAwake(t *testing.T) {
	j := startJobs(t, t.TempDir(), Config{IdleTimeout: time.Hour, MaxAwake: 40})
	peak := int64(0)
	for i := range 400 {
		c := &fakeConn{key: fmt.Sprint(i), id: fmt.Sprint(i), addr: wire.Address{Class: "jobs", Name: fmt.Sprint("w-", i)}}
		if err := deliver(t, j.Host, c, wire.Inbound{Kind: wire.InRPC, ID: "1", Method: "log"}); err != nil {
			t.Fatal(err)
		}
		peak = max(peak, j.awakeCount.Load())
	}
	deadline := time.Now().Add(20 * time.Second)
	for j.awakeCount.Load() > 40 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := j.awakeCount.Load(); n > 40 {
		t.Fatalf("%d agents awake, MaxAwake 40", n)
	}
	if peak > 60 {
		t.Fatalf("peak of %d agents awake, MaxAwake 40", peak)
	}
	t.Logf("peak %d awake", peak)
}
