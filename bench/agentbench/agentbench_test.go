package main

import (
	"bytes"
	"context"
	"log/slog"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestTinyRun runs the whole bench in a tiny configuration, so it cannot
// rot: a few agents of both classes, short runs, a small hibernation run.
// It checks that every run worked (no error replies, no counter out of
// order, nothing missing) and that the Markdown tables are printed; it
// asserts no timings.
func TestTinyRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out, errOut bytes.Buffer
	err := run(ctx, []string{
		"--agents", "1,3", "--reps", "2", "--conns", "2", "--inflight", "4",
		"--warmup", "100ms", "--duration", "200ms", "--drain", "10s",
		"--mem-agents", "4", "--wake-samples", "3", "--wake-conns", "2", "--wake-idle", "300ms",
		"--dir", t.TempDir(), "--markdown",
	}, &out, &errOut)
	if err != nil {
		t.Fatalf("run: %v\nstdout:\n%s\nstderr:\n%s", err, &out, &errOut)
	}
	for _, want := range []string{
		"| agents | conns x window | stateful msg/s |",
		"| 1 | 1 x 4 |",
		"| 3 | 2 x 2 |",
		"| round trip to a hibernated agent (wakes it), p50 / p99 |",
		"| memory per hibernated agent, Go heap / RSS |",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, &out)
		}
	}
	// Every run's errors column reads "0 / 0".
	for _, line := range strings.Split(out.String(), "\n") {
		if strings.HasPrefix(line, "| 1 |") || strings.HasPrefix(line, "| 3 |") {
			if cells := strings.Split(line, "|"); strings.TrimSpace(cells[len(cells)-2]) != "0 / 0" {
				t.Errorf("errors in %q", line)
			}
		}
	}
	if strings.Contains(out.String(), "ERR") {
		t.Errorf("a run failed:\n%s", &out)
	}
}

// TestCounterAcrossClasses checks the logical work directly: both classes
// store readings as rows 1, 2, 3 … and reply with the new counter, the
// stateful one also across a hibernation.
func TestCounterAcrossClasses(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	g, err := startGateway(ctx, t.TempDir(), 200*time.Millisecond, false, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer g.close()
	for _, class := range []string{classCounter, classStateless} {
		fl, err := dialFleet(ctx, g.addr, class, 2, 1, 1)
		if err != nil {
			t.Fatal(err)
		}
		if err := fl.join(); err != nil {
			t.Fatal(err)
		}
		d := fl.devs[0]
		for round := range 3 {
			if round == 2 {
				// Let the agents hibernate, then wake them.
				starts := g.stats.starts.Load()
				for g.stats.live.Load() > 0 && ctx.Err() == nil {
					sleepCtx(ctx, 50*time.Millisecond)
					runtime.GC()
				}
				if _, err := d.roundTrip(ctx, 0); err != nil {
					t.Fatal(err)
				}
				if g.stats.starts.Load() == starts {
					t.Errorf("%s: the agent did not wake", class)
				}
				continue
			}
			for j := range 2 {
				if _, err := d.roundTrip(ctx, j); err != nil {
					t.Fatalf("%s: %v", class, err)
				}
			}
		}
		// Counters went 1, 2, 3 for agent 0 and 1, 2 for agent 1; onReply
		// counted any other sequence as an error.
		if n, last := fl.errors(); d.lastN[0] != 3 || d.lastN[1] != 2 || n != 0 {
			t.Errorf("%s: counters %v, %d errors (%s); want [3 2], 0", class, d.lastN, n, last)
		}
		fl.close()
	}
}
