package main

// Scenarios and one measured run of a scenario against one broker.

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

type scenario struct {
	name  string
	fanIn bool // many publishers -> one subscriber; else one publisher -> many subscribers
	qos   byte
	size  int
}

var allScenarios = []scenario{
	{"fanin-qos0-64B", true, 0, 64},
	{"fanin-qos0-1KiB", true, 0, 1024},
	{"fanin-qos1-64B", true, 1, 64},
	{"fanin-qos1-1KiB", true, 1, 1024},
	{"fanout-qos0-64B", false, 0, 64},
	{"fanout-qos0-1KiB", false, 0, 1024},
	{"fanout-qos1-64B", false, 1, 64},
	{"fanout-qos1-1KiB", false, 1, 1024},
}

// selectScenarios keeps the scenarios whose name contains one of the
// comma-separated filters ("" keeps all).
func selectScenarios(filter string) ([]scenario, error) {
	if strings.TrimSpace(filter) == "" {
		return allScenarios, nil
	}
	var out []scenario
	for _, s := range allScenarios {
		for f := range strings.SplitSeq(filter, ",") {
			if f = strings.TrimSpace(f); f != "" && strings.Contains(s.name, f) {
				out = append(out, s)
				break
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--scenarios %q matches none of the scenarios", filter)
	}
	return out, nil
}

// runParams are the knobs shared by all runs.
type runParams struct {
	clients  int           // publishers (fan-in) or subscribers (fan-out)
	window   int           // QoS 1 unacknowledged publishes per publisher
	warmup   time.Duration // published but not measured
	duration time.Duration // measured
	drain    time.Duration // max wait for stragglers after publishing stops
	maxMsgs  int64         // cap on messages published per run (all publishers)
	inflight int64         // end-to-end window, all publishers (0 = none)
	rate     float64       // total offered msgs/s, 0 = as fast as possible
	client   string        // clientLite or clientPaho
}

// result of one run (or the median of several).
type result struct {
	throughput float64 // deliveries/s in the measured window, all subscribers
	p50, p99   time.Duration
	sent       int64 // messages published
	expected   int64 // sent x subscribers
	lost       int64
	lossPct    float64
	dups       int64
	notes      []string
	err        error

	// Harness CPU time (user+system, whole process) from connect to the end
	// of the drain, and the deliveries in that time; per run, not medianed.
	harnessCPU time.Duration
	wall       time.Duration
	received   int64
}

// clock: UnixNano-compatible timestamps that never step (wall clock at start
// plus monotonic time since).
var (
	monoBase = time.Now()
	wallBase = monoBase.UnixNano()
)

func clockNow() int64 { return wallBase + int64(time.Since(monoBase)) }

// Payload layout (little endian): send time (8 bytes), publisher id (4),
// sequence number (8), zero padding to the scenario's size.
const headerLen = 20

func encodePayload(buf []byte, sentAt int64, pub uint32, seq uint64) {
	binary.LittleEndian.PutUint64(buf[0:], uint64(sentAt))
	binary.LittleEndian.PutUint32(buf[8:], pub)
	binary.LittleEndian.PutUint64(buf[12:], seq)
}

func decodePayload(p []byte) (sentAt int64, pub uint32, seq uint64, ok bool) {
	if len(p) < headerLen {
		return 0, 0, 0, false
	}
	return int64(binary.LittleEndian.Uint64(p[0:])), binary.LittleEndian.Uint32(p[8:]),
		binary.LittleEndian.Uint64(p[12:]), true
}

// rateBucket is the resolution of the delivery-time series used to compute
// throughput over an arbitrary window after the run.
const rateBucket = 10 * time.Millisecond

type subscriber struct {
	idx      int
	flow     *flow // nil without flow control
	received atomic.Int64

	mu        sync.Mutex
	start     int64 // run start (clockNow), 0 until the run starts
	winStart  int64 // measured window
	winEnd    int64
	hist      histogram
	track     *seqTracker
	perBucket []int64 // deliveries per rateBucket since start
	malformed int64
}

// onMessage handles one delivery; payload is not retained.
func (s *subscriber) onMessage(payload []byte) {
	now := clockNow()
	sentAt, pub, seq, ok := decodePayload(payload)
	s.mu.Lock()
	if !ok || s.start == 0 {
		s.malformed++
	} else {
		if s.track.observe(pub, seq) && s.flow != nil {
			s.flow.delivered(s.idx, pub, seq)
		}
		if now >= s.winStart && now < s.winEnd {
			s.hist.record(now - sentAt)
		}
		if b := (now - s.start) / int64(rateBucket); b >= 0 && b < int64(len(s.perBucket)) {
			s.perBucket[b]++
		}
	}
	s.mu.Unlock()
	s.received.Add(1)
}

type publisher struct {
	id     uint32
	client mqttClient
	topic  string
	sent   atomic.Int64 // messages handed to the client; also the next sequence number
	errs   atomic.Int64 // publishes that failed or were never completed
	capAt  int64        // clockNow when the message cap stopped it, 0 otherwise
	err    error
}

// run publishes until stopAt (clockNow) or limit messages. QoS 1 keeps at most
// window messages unacknowledged. Before anything that may block (flow
// control, rate limit, window) the client's buffered publishes are flushed.
func (p *publisher) run(ctx context.Context, qos byte, size, window int, limit int64, stopAt, giveUpAt int64, interval time.Duration, g *gate) {
	mp := p.client.publisher(p.topic, qos, size, window)
	defer func() {
		n, err := mp.failures()
		p.errs.Add(n)
		if p.err == nil {
			p.err = err
		}
	}()
	g.beforeWait = mp.flush
	next := time.Now()
	var seq int64
	for ctx.Err() == nil {
		now := clockNow()
		if now >= stopAt {
			break
		}
		if seq >= limit {
			p.capAt = now
			break
		}
		if interval > 0 {
			if d := time.Until(next); d > 0 {
				if mp.flush() != nil {
					return
				}
				time.Sleep(d)
			} else if d < -time.Second {
				next = time.Now() // far behind: do not burst to catch up
			}
			next = next.Add(interval)
		}
		if !g.acquire(ctx, seq, stopAt) {
			break
		}
		buf, err := mp.next(giveUpAt)
		if err != nil {
			return
		}
		encodePayload(buf, clockNow(), p.id, uint64(seq))
		if mp.publish(buf) != nil {
			return
		}
		seq++
		p.sent.Store(seq)
	}
	_ = mp.finish(giveUpAt) // failures are counted by mp
}

// runScenario runs sc once against the broker at addr.
func runScenario(ctx context.Context, addr string, sc scenario, prm runParams, tag string) (res result) {
	nPub, nSub := 1, prm.clients
	filter, topic := "bench/out", func(int) string { return "bench/out" }
	if sc.fanIn {
		nPub, nSub = prm.clients, 1
		filter, topic = "bench/in/+", func(i int) string { return fmt.Sprintf("bench/in/%d", i) }
	}
	perPub := prm.maxMsgs / int64(nPub)

	var lostConns atomic.Int64
	var lostErr atomic.Value
	onLost := func(err error) {
		lostConns.Add(1)
		lostErr.CompareAndSwap(nil, err.Error())
	}
	var clients []mqttClient
	defer func() {
		var wg sync.WaitGroup
		for _, c := range clients {
			wg.Go(c.disconnect)
		}
		wg.Wait()
	}()
	cpu0, wall0 := processCPU(), time.Now()

	fl := newFlow(prm.inflight, nPub, nSub)
	subs := make([]*subscriber, nSub)
	for i := range subs {
		s := &subscriber{idx: i, flow: fl, track: newSeqTracker(nPub, uint64(perPub))}
		c, err := connect(ctx, prm.client, addr, fmt.Sprintf("%s-s%d", tag, i), onLost)
		if err != nil {
			res.err = err
			return res
		}
		clients = append(clients, c)
		if err := c.subscribe(filter, sc.qos, s.onMessage); err != nil {
			res.err = err
			return res
		}
		subs[i] = s
	}
	pubs := make([]*publisher, nPub)
	for i := range pubs {
		c, err := connect(ctx, prm.client, addr, fmt.Sprintf("%s-p%d", tag, i), onLost)
		if err != nil {
			res.err = err
			return res
		}
		clients = append(clients, c)
		pubs[i] = &publisher{id: uint32(i), client: c, topic: topic(i)}
	}

	start := clockNow()
	winStart := start + int64(prm.warmup)
	winEnd := winStart + int64(prm.duration)
	giveUpAt := winEnd + int64(prm.drain)
	nBuckets := int((prm.warmup+prm.duration+2*prm.drain)/rateBucket) + 1
	for _, s := range subs {
		s.mu.Lock()
		s.start, s.winStart, s.winEnd = start, winStart, winEnd
		s.perBucket = make([]int64, nBuckets)
		s.mu.Unlock()
	}
	var interval time.Duration
	if prm.rate > 0 {
		interval = time.Duration(float64(nPub) / prm.rate * float64(time.Second))
	}
	var wg sync.WaitGroup
	for _, p := range pubs {
		g := &gate{f: fl, pub: int(p.id)}
		wg.Go(func() { p.run(ctx, sc.qos, sc.size, prm.window, perPub, winEnd, giveUpAt, interval, g) })
	}
	wg.Wait()

	// Drain: until everything arrived, nothing arrived for 500ms, or --drain.
	var sent int64
	for _, p := range pubs {
		sent += p.sent.Load()
	}
	expected := sent * int64(nSub)
	drainEnd := time.Now().Add(prm.drain)
	lastTotal, lastChange := int64(-1), time.Now()
	for ctx.Err() == nil && time.Now().Before(drainEnd) {
		var unique int64
		for _, s := range subs {
			s.mu.Lock()
			unique += s.track.totalUnique()
			s.mu.Unlock()
		}
		if unique >= expected {
			break
		}
		var total int64
		for _, s := range subs {
			total += s.received.Load()
		}
		if total != lastTotal {
			lastTotal, lastChange = total, time.Now()
		} else if time.Since(lastChange) > 500*time.Millisecond {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := ctx.Err(); err != nil {
		res.err = err
		return res
	}
	res.harnessCPU, res.wall = processCPU()-cpu0, time.Since(wall0)
	for _, s := range subs {
		res.received += s.received.Load()
	}

	// Throughput window: the measured window, cut short if a publisher hit
	// the message cap.
	tEnd := winEnd
	for _, p := range pubs {
		if p.capAt != 0 && p.capAt < tEnd {
			tEnd = p.capAt
		}
	}
	b0, b1 := int(prm.warmup/rateBucket), int((tEnd-start)/int64(rateBucket))
	if b1 <= b0 {
		res.err = fmt.Errorf("message cap (--max-msgs %d) reached during warm-up", prm.maxMsgs)
		return res
	}
	if tEnd < winEnd {
		res.notes = append(res.notes, fmt.Sprintf("--max-msgs reached after %v of measurement",
			time.Duration(tEnd-winStart).Round(time.Millisecond)))
	}
	sentPer := make([]int64, nPub)
	for i, p := range pubs {
		sentPer[i] = p.sent.Load()
	}
	var hist histogram
	var delivered, malformed, rejected int64
	for _, s := range subs {
		s.mu.Lock()
		for _, n := range s.perBucket[b0:b1] {
			delivered += n
		}
		hist.merge(&s.hist)
		res.lost += s.track.lost(sentPer)
		res.dups += s.track.dups
		rejected += s.track.rejected
		malformed += s.malformed
		s.mu.Unlock()
	}
	res.throughput = float64(delivered) / (time.Duration(b1-b0) * rateBucket).Seconds()
	res.p50 = time.Duration(hist.quantile(0.50))
	res.p99 = time.Duration(hist.quantile(0.99))
	res.sent, res.expected = sent, expected
	if expected > 0 {
		res.lossPct = 100 * float64(res.lost) / float64(expected)
	}
	if hist.n == 0 {
		res.err = errors.New("no message received during the measured window")
	}
	var pubErrs int64
	var firstErr error
	for _, p := range pubs {
		pubErrs += p.errs.Load()
		if firstErr == nil {
			firstErr = p.err
		}
	}
	if pubErrs > 0 {
		res.notes = append(res.notes, fmt.Sprintf("%d publishes failed or were not acknowledged (%v)", pubErrs, firstErr))
	}
	if n := lostConns.Load(); n > 0 {
		res.notes = append(res.notes, fmt.Sprintf("%d connections lost (%v)", n, lostErr.Load()))
	}
	if fl != nil && fl.stalls.Load() > 0 {
		res.notes = append(res.notes, fmt.Sprintf("%d flow-control stalls (no delivery for %v; outstanding presumed lost)", fl.stalls.Load(), stallTimeout))
	}
	if res.dups > 0 {
		res.notes = append(res.notes, fmt.Sprintf("%d duplicate deliveries", res.dups))
	}
	if malformed+rejected > 0 {
		res.notes = append(res.notes, fmt.Sprintf("%d unexpected messages", malformed+rejected))
	}
	return res
}

// processCPU returns the user+system CPU time of this process (all threads;
// the brokers are other processes), 0 if unavailable.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
