package main

// wake.go: the hibernation run. A gateway whose agents hibernate after a
// short idle time (--wake-idle) and K bench-counter agents (--mem-agents):
//
//  1. memory before: devices connected, no agent joined;
//  2. join the K agents and send each two readings (the first creates it),
//     then memory with all K awake;
//  3. wait until every agent value was released and collected (the host
//     hibernated them all), then memory again;
//  4. wake latency: one agent after another, a reading to a hibernated
//     agent (the round trip wakes it: database opened, migrations checked,
//     state loaded, OnStart reads the counter) and straight after it a
//     second reading to the same, now warm, agent.
//
// Memory is the Go heap in use (runtime.MemStats.HeapInuse) and the
// process's resident set (/proc/self/statm), each after a forced GC that
// returns free memory to the OS. SQLite (modernc, transpiled C) allocates
// its caches outside the Go heap, so only the RSS sees them.

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
)

type wakeResult struct {
	agents, conns int
	idle          time.Duration
	awake         int64 // live agent values when memory was measured awake
	hibernateWait time.Duration
	// Bytes per agent over the measurement before joining.
	heapAwake, heapHibernated, rssAwake, rssHibernated float64
	samples                                            int
	coldP50, coldP99, warmP50, warmP99                 time.Duration
	err                                                error
}

type memSample struct{ heap, rss int64 }

func readMem() memSample {
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return memSample{heap: int64(ms.HeapInuse), rss: rssBytes()}
}

// rssBytes is the process's resident set, 0 where /proc is missing.
func rssBytes() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize())
}

func runWake(ctx context.Context, cfg config) (res wakeResult) {
	k := cfg.memAgents
	res = wakeResult{agents: k, conns: min(cfg.wakeConns, k), idle: cfg.wakeIdle}
	res.err = withFleet(ctx, cfg, cfg.wakeIdle, classCounter, k, res.conns, max(1, cfg.inflight/res.conns), func(gw *gateway, fl *fleet) error {
		return measureWake(ctx, cfg, gw, fl, &res)
	})
	return res
}

func measureWake(ctx context.Context, cfg config, gw *gateway, fl *fleet, res *wakeResult) error {
	k := res.agents
	before := readMem()
	if err := fl.firstContact(ctx, cfg.setupTimeout); err != nil {
		return fmt.Errorf("first contact: %w", err)
	}
	// Touch every agent again, quickly, so all are awake when memory is
	// measured; on a busy machine the pass may take longer than the idle
	// timeout, so try a few times.
	var awake memSample
	for try := 0; ; try++ {
		if err := fl.touchAll(ctx, cfg.setupTimeout); err != nil {
			return fmt.Errorf("touch agents: %w", err)
		}
		awake = readMem()
		if res.awake = gw.stats.live.Load(); res.awake == int64(k) {
			break
		}
		if try == 4 {
			return fmt.Errorf("%d of %d agents awake when memory was measured (raise --wake-idle)", res.awake, k)
		}
	}

	t0 := time.Now()
	for gw.stats.live.Load() > 0 {
		if time.Since(t0) > 3*cfg.wakeIdle+30*time.Second {
			return fmt.Errorf("%d agents still awake after %s", gw.stats.live.Load(), time.Since(t0).Round(time.Second))
		}
		sleepCtx(ctx, 100*time.Millisecond)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		runtime.GC() // lets the cleanups of released agents run
	}
	res.hibernateWait = time.Since(t0)
	hibernated := readMem()
	per := func(after, before int64) float64 { return float64(after-before) / float64(k) }
	res.heapAwake, res.rssAwake = per(awake.heap, before.heap), per(awake.rss, before.rss)
	res.heapHibernated, res.rssHibernated = per(hibernated.heap, before.heap), per(hibernated.rss, before.rss)

	// Wake latency, one agent at a time; each sample's agent has been
	// hibernated since step 3.
	res.samples = min(cfg.wakeSamples, k)
	var cold, warm []int64
	for s := range res.samples {
		d := fl.devs[s%res.conns]
		j := s / res.conns
		c, err := d.roundTrip(ctx, j)
		if err == nil {
			var w time.Duration
			w, err = d.roundTrip(ctx, j)
			cold, warm = append(cold, int64(c)), append(warm, int64(w))
		}
		if err != nil {
			return fmt.Errorf("wake round trip: %w", err)
		}
	}
	res.coldP50, res.coldP99 = percentile(cold, 0.50), percentile(cold, 0.99)
	res.warmP50, res.warmP99 = percentile(warm, 0.50), percentile(warm, 0.99)
	if n, last := fl.errors(); n > 0 {
		return fmt.Errorf("%d error replies, the last: %s", n, last)
	}
	return nil
}
