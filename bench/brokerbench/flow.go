package main

// End-to-end flow control (--inflight): a publisher may not get more than
// `limit` messages ahead of the slowest subscriber. Without it, on a small
// machine open-loop publishers take the CPU from the broker and from the
// subscribers, queues grow until the broker drops, and the numbers measure
// the scheduler rather than the broker (two identical Mosquittos differed by
// up to 2x). With it the offered load follows the delivery rate: the broker
// runs saturated, with a bounded backlog.

import (
	"context"
	"sync/atomic"
	"time"
)

// Progress is measured by the highest sequence number each subscriber got
// from a publisher (MQTT keeps a publisher's messages in order), so a message
// the broker dropped does not hold credit once a later one arrives. Only if
// nothing at all arrives from a blocked publisher for stallTimeout are its
// outstanding messages presumed lost and their credit returned, so a broker
// that drops everything cannot stall the run. Losses are counted from the
// sequence numbers independently of this.
const stallTimeout = 250 * time.Millisecond

type flow struct {
	limit   int64            // per publisher
	resume  int64            // a blocked publisher resumes at this many outstanding
	next    [][]atomic.Int64 // [subscriber][publisher] highest sequence number received + 1
	waiting []atomic.Bool    // per publisher: blocked, wants a wake-up
	wake    []chan struct{}  // per publisher
	stalls  atomic.Int64     // credit returned after stall
	stall   time.Duration    // stallTimeout; tests lengthen it
}

// newFlow returns nil (no flow control) if total is 0.
func newFlow(total int64, pubs, subs int) *flow {
	if total <= 0 {
		return nil
	}
	limit := max(1, total/int64(pubs))
	f := &flow{
		limit:   limit,
		resume:  limit - max(1, limit/4),
		next:    make([][]atomic.Int64, subs),
		waiting: make([]atomic.Bool, pubs),
		wake:    make([]chan struct{}, pubs),
		stall:   stallTimeout,
	}
	for i := range f.next {
		f.next[i] = make([]atomic.Int64, pubs)
	}
	for i := range f.wake {
		f.wake[i] = make(chan struct{}, 1)
	}
	return f
}

// delivered is called by subscriber sub (from one goroutine per sub) for
// each new message of publisher pub.
func (f *flow) delivered(sub int, pub uint32, seq uint64) {
	n := &f.next[sub][pub]
	if int64(seq) < n.Load() {
		return
	}
	n.Store(int64(seq) + 1)
	if f.waiting[pub].Load() {
		select {
		case f.wake[pub] <- struct{}{}:
		default:
		}
	}
}

// floor: every subscriber has received (or, by ordering, lost) all messages
// of pub with a lower sequence number.
func (f *flow) floor(pub int) int64 {
	m := f.next[0][pub].Load()
	for _, r := range f.next[1:] {
		m = min(m, r[pub].Load())
	}
	return m
}

// gate is one publisher's view of the flow control.
type gate struct {
	f       *flow
	pub     int
	floor   int64 // cached flow.floor
	written int64 // messages presumed lost after a stall
	timer   *time.Timer
	// beforeWait, if set, is called before acquire blocks (the publisher
	// flushes what its client has buffered).
	beforeWait func() error
}

// acquire blocks until message number seq may be sent; false if ctx is done
// or stopAt (clockNow) has passed while waiting.
func (g *gate) acquire(ctx context.Context, seq, stopAt int64) bool {
	if g.f == nil || seq-g.floor-g.written < g.f.limit {
		return true
	}
	f := g.f
	g.floor = f.floor(g.pub)
	if seq-g.floor-g.written < f.limit {
		return true
	}
	if g.beforeWait != nil {
		_ = g.beforeWait() // an error resurfaces at the next publish
	}
	if g.timer == nil {
		g.timer = time.NewTimer(f.stall)
	}
	for {
		f.waiting[g.pub].Store(true)
		g.floor = f.floor(g.pub) // re-check after announcing: no lost wake-up
		if seq-g.floor-g.written <= f.resume {
			f.waiting[g.pub].Store(false)
			return true
		}
		before := g.floor
		g.timer.Reset(f.stall)
		select {
		case <-f.wake[g.pub]:
		case <-g.timer.C:
			if g.floor = f.floor(g.pub); g.floor == before {
				g.written = seq - g.floor
				f.stalls.Add(1)
			}
		case <-ctx.Done():
			f.waiting[g.pub].Store(false)
			return false
		}
		g.timer.Stop()
		f.waiting[g.pub].Store(false)
		if clockNow() >= stopAt {
			return false
		}
	}
}
