package main

// fleet.go: the simulated devices. A fleet has agents dev-0 … dev-{N-1} of
// one class and C MQTT connections; agent i belongs to connection i mod C,
// which joins it by subscribing to its /out topic and sends it readings on
// its /in topic at QoS 1. Every reading gets a reply (agents.go), which
// carries the reading's send time back, so latency is measured without
// bookkeeping per message. A connection keeps at most `window` readings in
// flight end to end and sends the next as soon as a reply comes back,
// visiting its agents in turn (a closed loop).

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fxamacker/cbor/v2"
)

type fleet struct {
	class  string
	agents int
	epoch  time.Time // send times are nanoseconds since epoch
	devs   []*device

	// The measured interval, in nanoseconds since epoch: replies that
	// arrive in [from, to) count towards the throughput; their latency is
	// recorded if the reading was sent at or after from.
	from, to atomic.Int64
}

// device is one MQTT connection and the agents it serves.
type device struct {
	fl     *fleet
	idx    int
	c      *mqttClient
	window int
	in     []string // /in topic of each of its agents, by local index
	tokens chan struct{}

	lastN []int64 // counter last replied by each agent, 0 before the first; reader only

	mu  sync.Mutex
	lat []int64 // latencies of counted replies, ns

	counted atomic.Int64 // replies in the measured interval
	errs    atomic.Int64 // error replies, unreadable replies, counters out of order
	lastErr atomic.Value // string: what the last error was
	rtt     chan int64   // each reply's latency, -1 for an error, if roundTrip is waiting
	seq     int64        // sender only
	buf     []byte       // sender only
}

func agentName(i int) string { return fmt.Sprintf("dev-%d", i) }

// dialFleet connects conns devices (at most one per agent) for agents
// agents of class; join then joins the agents.
func dialFleet(ctx context.Context, addr, class string, agents, conns, window int) (*fleet, error) {
	fl := &fleet{class: class, agents: agents, epoch: time.Now()}
	fl.to.Store(-1)
	conns = min(conns, agents)
	for i := range conns {
		n := (agents - i + conns - 1) / conns
		d := &device{fl: fl, idx: i, window: window, in: make([]string, n), lastN: make([]int64, n),
			tokens: make(chan struct{}, window), rtt: make(chan int64, 1)}
		for range window {
			d.tokens <- struct{}{}
		}
		c, err := dialMQTT(ctx, addr, fmt.Sprintf("agentbench-%s-%d", class, i), d.onReply)
		if err != nil {
			fl.close()
			return nil, err
		}
		d.c = c
		fl.devs = append(fl.devs, d)
	}
	return fl, nil
}

// topics sets the device's /in topics and returns its /out topics.
func (d *device) topics() []string {
	outs := make([]string, len(d.in))
	for j := range d.in {
		topic := "agents/" + d.fl.class + "/" + agentName(j*len(d.fl.devs)+d.idx) + "/"
		d.in[j], outs[j] = topic+"in", topic+"out"
	}
	return outs
}

// join subscribes every device to its agents' /out topics, which joins
// them (and wakes them: the host runs on-connect).
func (fl *fleet) join() error {
	return fl.each(func(d *device) error { return d.c.subscribe(d.topics()) })
}

// firstContact joins every agent and sends it one reading straight after,
// maxSubFilters agents at a time per device, so that each agent is created
// and first used in one wake; it waits for every reply.
func (fl *fleet) firstContact(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err := fl.each(func(d *device) error {
		outs := d.topics()
		for lo := 0; lo < len(outs); lo += maxSubFilters {
			hi := min(lo+maxSubFilters, len(outs))
			if err := d.c.subscribe(outs[lo:hi]); err != nil {
				return err
			}
			if err := d.sendRange(ctx, lo, hi); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if missing := fl.drain(ctx); missing > 0 {
		return fmt.Errorf("%d replies missing after %s", missing, timeout)
	}
	return nil
}

// each runs f for every device in parallel and returns the first error.
func (fl *fleet) each(f func(d *device) error) error {
	errs := make([]error, len(fl.devs))
	var wg sync.WaitGroup
	for i, d := range fl.devs {
		wg.Go(func() { errs[i] = f(d) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (fl *fleet) now() int64 { return int64(time.Since(fl.epoch)) }

func (fl *fleet) close() {
	var wg sync.WaitGroup
	for _, d := range fl.devs {
		wg.Go(d.c.close)
	}
	wg.Wait()
}

// replyFrame is an agent's reply; S is 0 in anything else (an error frame
// of the host).
type replyFrame struct {
	A   int64  `cbor:"a"`
	S   int64  `cbor:"s"`
	T   int64  `cbor:"t"`
	N   int64  `cbor:"n"`
	Err string `cbor:"err"`
}

// onReply handles one reply, on the device's reader goroutine.
func (d *device) onReply(_ string, payload []byte) {
	now := d.fl.now()
	lat := int64(-1)
	var r replyFrame
	if err := cbor.Unmarshal(payload, &r); err != nil || r.S == 0 || r.Err != "" {
		d.errs.Add(1)
		d.lastErr.Store(fmt.Sprintf("error reply %q", payload))
	} else {
		lat = now - r.T
		j := int(r.A) / len(d.fl.devs)
		if j < len(d.lastN) {
			if last := d.lastN[j]; last != 0 && r.N != last+1 {
				d.errs.Add(1) // a lost or repeated write
				d.lastErr.Store(fmt.Sprintf("agent %d: counter %d after %d", r.A, r.N, last))
			}
			d.lastN[j] = r.N
		}
		if from := d.fl.from.Load(); now >= from && now < d.fl.to.Load() {
			d.counted.Add(1)
			if r.T >= from { // sent in the interval too
				d.mu.Lock()
				d.lat = append(d.lat, lat)
				d.mu.Unlock()
			}
		}
	}
	select {
	case d.rtt <- lat:
	default:
	}
	select {
	case d.tokens <- struct{}{}:
	default:
	}
}

// send publishes a reading to the device's j-th agent (not flushed).
func (d *device) send(j int) error {
	d.seq++
	b := d.buf[:0]
	b = append(b, 0xa3) // map(3) {"a": agent, "s": seq, "t": sent}, uint64s
	for _, kv := range [3]struct {
		k byte
		v int64
	}{{'a', int64(j*len(d.fl.devs) + d.idx)}, {'s', d.seq}, {'t', d.fl.now()}} {
		b = binary.BigEndian.AppendUint64(append(b, 0x61, kv.k, 0x1b), uint64(kv.v))
	}
	d.buf = b
	return d.c.publish(d.in[j], b)
}

// pump sends readings to the device's agents in turn, as replies free the
// window, until stop is closed.
func (d *device) pump(stop <-chan struct{}) error {
	next := 0
	for {
		select {
		case <-stop:
			return d.c.flush()
		case <-d.tokens:
		}
		// Send one per free slot, then flush once.
		for more := true; more; {
			if err := d.send(next); err != nil {
				return err
			}
			next = (next + 1) % len(d.in)
			select {
			case <-d.tokens:
			default:
				more = false
			}
		}
		if err := d.c.flush(); err != nil {
			return err
		}
	}
}

// sendRange sends one reading to each of the device's agents lo to hi-1,
// within the window.
func (d *device) sendRange(ctx context.Context, lo, hi int) error {
	for j := lo; j < hi; j++ {
		select {
		case <-d.tokens:
		case <-ctx.Done():
			return ctx.Err()
		}
		if err := d.send(j); err != nil {
			return err
		}
		if len(d.tokens) == 0 {
			if err := d.c.flush(); err != nil {
				return err
			}
		}
	}
	return d.c.flush()
}

// drain waits until every reading has its reply, or ctx ends; it returns
// how many are still missing.
func (fl *fleet) drain(ctx context.Context) int {
	for {
		missing := 0
		for _, d := range fl.devs {
			missing += d.window - len(d.tokens)
		}
		if missing == 0 || ctx.Err() != nil {
			return missing
		}
		select {
		case <-ctx.Done():
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// touchAll sends one reading to every agent and waits for all replies.
func (fl *fleet) touchAll(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := fl.each(func(d *device) error { return d.sendRange(ctx, 0, len(d.in)) }); err != nil {
		return err
	}
	if missing := fl.drain(ctx); missing > 0 {
		return fmt.Errorf("%d replies missing after %s", missing, timeout)
	}
	return nil
}

// roundTrip sends one reading to the device's j-th agent and waits for the
// reply; the device must have nothing else in flight.
func (d *device) roundTrip(ctx context.Context, j int) (time.Duration, error) {
	<-d.tokens
	select {
	case <-d.rtt: // a stale latency
	default:
	}
	if err := d.send(j); err != nil {
		return 0, err
	}
	if err := d.c.flush(); err != nil {
		return 0, err
	}
	select {
	case ns := <-d.rtt:
		if ns < 0 {
			return 0, errors.New("error reply")
		}
		return time.Duration(ns), nil
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-d.c.done:
		return 0, d.c.err
	}
}

// errors counts the error replies and counters out of order, and says
// what the last one was.
func (fl *fleet) errors() (n int64, last string) {
	for _, d := range fl.devs {
		n += d.errs.Load()
		if s, ok := d.lastErr.Load().(string); ok {
			last = s
		}
	}
	return n, last
}
