package main

import (
	"encoding/json"
	"fmt"
	"sync"
	"syscall"
	"testing"

	"github.com/outpost-iot/outpost/wire"
)

// TestConcurrentRPCsExactCounter: 1,000 concurrent incr calls to one echo
// agent, from ten WebSocket clients at once, leave the counter in its
// SQLite database at exactly 1,000 (issue 4: serialized execution).
func TestConcurrentRPCsExactCounter(t *testing.T) {
	g := startInProcess(t, nil)
	a := wire.Address{Class: "echo", Name: "counter"}
	const clients, calls = 10, 100
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i := range clients {
		c := dialWS(t, g, a, "protocol=false")
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range calls {
				c.send(t, fmt.Appendf(nil, `{"type":"rpc","id":"%d-%d","method":"incr","args":[]}`, i, j))
			}
			for range calls {
				f := <-c.in.ch
				var m map[string]any
				if err := json.Unmarshal(f.data, &m); err != nil || m["success"] != true {
					errs <- fmt.Errorf("reply %s: %v", f.data, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	c := dialWS(t, g, a, "protocol=false")
	c.send(t, []byte(`{"type":"rpc","id":"n","method":"count","args":[]}`))
	var m map[string]any
	if err := json.Unmarshal(c.in.next(t).data, &m); err != nil || m["result"] != float64(clients*calls) {
		t.Fatalf("count after %d concurrent incr: %v %v", clients*calls, m, err)
	}
}

// TestAgentStateSurvivesRestart: the echo agent's counter, kept in its
// SQLite database, is there after the binary restarts.
func TestAgentStateSurvivesRestart(t *testing.T) {
	data := t.TempDir()
	g := startBinary(t, "--data-dir", data)
	rpc(t, g.mqttPort, "echo/keep", "incr")
	rpc(t, g.mqttPort, "echo/keep", "incr")
	if err := g.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-g.done
	g2 := startBinary(t, "--data-dir", data)
	if got := rpc(t, g2.mqttPort, "echo/keep", "count")["result"]; got != int64(2) {
		t.Fatalf("count after restart: %v", got)
	}
}
