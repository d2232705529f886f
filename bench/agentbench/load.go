package main

// load.go: one throughput run: a fresh gateway, a fleet of devices for N
// agents of one class, first contact with every agent, a warm-up, the
// measured interval, and the drain.

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

type loadResult struct {
	class                 string
	agents, conns, window int
	idle                  time.Duration // the host's IdleTimeout in this run
	setup                 time.Duration // join and first reply from every agent (creates them)
	msgs                  int64         // replies in the measured interval
	rate                  float64       // msgs per second
	p50, p99              time.Duration
	wakes                 int64 // agents woken (OnStart) in the measured interval
	errs                  int64 // error replies and counters out of order
	lastErr               string
	lost                  int // replies still missing after the drain
	err                   error
}

func runLoad(ctx context.Context, cfg config, class string, agents int) (res loadResult) {
	res = loadResult{class: class, agents: agents, conns: min(cfg.conns, agents), idle: cfg.idle}
	res.window = max(1, cfg.inflight/res.conns)
	if agents > cfg.maxAwake {
		res.idle = cfg.idleCrowded
	}
	res.err = withFleet(ctx, cfg, res.idle, class, agents, res.conns, res.window, func(gw *gateway, fl *fleet) error {
		return measureLoad(ctx, cfg, gw, fl, &res)
	})
	return res
}

// measureLoad makes first contact with every agent, then runs the closed
// loop: warm-up, measured interval, drain.
func measureLoad(ctx context.Context, cfg config, gw *gateway, fl *fleet, res *loadResult) error {
	t0 := time.Now()
	if err := fl.firstContact(ctx, cfg.setupTimeout); err != nil {
		return fmt.Errorf("first contact: %w", err)
	}
	res.setup = time.Since(t0)

	stop := make(chan struct{})
	var pumpErr error
	var wg sync.WaitGroup
	wg.Go(func() { pumpErr = fl.each(func(d *device) error { return d.pump(stop) }) })
	sleepCtx(ctx, cfg.warmup)
	starts := gw.stats.starts.Load()
	from := fl.now()
	fl.from.Store(from)
	fl.to.Store(from + int64(cfg.duration))
	sleepCtx(ctx, cfg.duration)
	res.wakes = gw.stats.starts.Load() - starts
	close(stop)
	wg.Wait()
	dctx, cancel := context.WithTimeout(ctx, cfg.drain)
	res.lost = fl.drain(dctx)
	cancel()

	var lat []int64
	for _, d := range fl.devs {
		res.msgs += d.counted.Load()
		d.mu.Lock()
		lat = append(lat, d.lat...)
		d.mu.Unlock()
	}
	res.rate = float64(res.msgs) / cfg.duration.Seconds()
	res.p50, res.p99 = percentile(lat, 0.50), percentile(lat, 0.99)
	res.errs, res.lastErr = fl.errors()
	if pumpErr != nil {
		return pumpErr
	}
	return ctx.Err()
}

// medianResult combines the runs of one class and agent count: the
// median of each measure, over the runs that worked; errors and missing
// replies add up.
func medianResult(rs []loadResult) loadResult {
	var ok []loadResult
	var errs, lost int64
	var lastErr string
	for _, r := range rs {
		errs, lost = errs+r.errs, lost+int64(r.lost)
		if r.lastErr != "" {
			lastErr = r.lastErr
		}
		if r.err == nil {
			ok = append(ok, r)
		}
	}
	if len(ok) == 0 {
		return rs[0]
	}
	mid := func(f func(loadResult) float64) float64 {
		v := make([]float64, len(ok))
		for i, r := range ok {
			v[i] = f(r)
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	out := ok[0]
	out.rate = mid(func(r loadResult) float64 { return r.rate })
	out.p50 = time.Duration(mid(func(r loadResult) float64 { return float64(r.p50) }))
	out.p99 = time.Duration(mid(func(r loadResult) float64 { return float64(r.p99) }))
	out.setup = time.Duration(mid(func(r loadResult) float64 { return float64(r.setup) }))
	out.msgs = int64(mid(func(r loadResult) float64 { return float64(r.msgs) }))
	out.wakes = int64(mid(func(r loadResult) float64 { return float64(r.wakes) }))
	out.errs, out.lost, out.lastErr = errs, int(lost), lastErr
	if len(ok) < len(rs) {
		out.err = fmt.Errorf("%d of %d runs failed", len(rs)-len(ok), len(rs))
	}
	return out
}

// percentile is the nearest-rank q-quantile of ns (sorted in place).
func percentile(ns []int64, q float64) time.Duration {
	if len(ns) == 0 {
		return 0
	}
	if !slices.IsSorted(ns) {
		slices.Sort(ns)
	}
	i := int(q*float64(len(ns))+0.999999) - 1
	return time.Duration(ns[min(max(i, 0), len(ns)-1)])
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
