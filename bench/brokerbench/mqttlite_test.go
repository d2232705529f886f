package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeBroker is just enough of an MQTT broker for the client tests: one
// subscription per connection, exact-match topics plus a trailing "+",
// QoS 0/1 forwarding, PUBACKs, pings. Everything on 127.0.0.1.
type fakeBroker struct {
	t  *testing.T
	ln net.Listener
	wg sync.WaitGroup

	mu   sync.Mutex
	subs []*fakeSub
	// Connections the broker accepted, to kill them in tests.
	conns []net.Conn

	subAcks atomic.Int64 // PUBACKs received from subscribers
	pings   atomic.Int64
}

type fakeSub struct {
	mu     sync.Mutex
	w      *bufio.Writer
	filter string
	qos    byte
	nextID uint16
}

func newFakeBroker(t *testing.T) *fakeBroker {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &fakeBroker{t: t, ln: ln}
	b.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b.mu.Lock()
			b.conns = append(b.conns, c)
			b.mu.Unlock()
			b.wg.Go(func() { b.serve(c) })
		}
	})
	t.Cleanup(func() {
		ln.Close()
		b.killAll()
		b.wg.Wait()
	})
	return b
}

func (b *fakeBroker) killAll() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, c := range b.conns {
		c.Close()
	}
}

func matches(filter, topic string) bool {
	if n := len(filter); n > 0 && filter[n-1] == '+' {
		return len(topic) >= n-1 && topic[:n-1] == filter[:n-1]
	}
	return filter == topic
}

func (b *fakeBroker) serve(c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	sub := &fakeSub{w: bufio.NewWriter(c)}
	write := func(p packet) {
		sub.mu.Lock()
		defer sub.mu.Unlock()
		buf, err := appendPacket(nil, &p)
		if err != nil {
			b.t.Errorf("fake broker encode: %v", err)
		}
		sub.w.Write(buf)
		sub.w.Flush()
	}
	lc := &liteConn{r: r}
	for {
		first, body, n, err := lc.readPacket()
		if err != nil {
			return
		}
		p, err := decodePacket(first, body)
		if err != nil {
			b.t.Errorf("fake broker decode: %v", err)
			return
		}
		switch p.typ {
		case pktConnect:
			write(packet{typ: pktConnack})
		case pktSubscribe:
			sub.filter, sub.qos = string(p.topic), p.qos
			b.mu.Lock()
			b.subs = append(b.subs, sub)
			b.mu.Unlock()
			write(packet{typ: pktSuback, id: p.id, codes: []byte{p.qos}})
		case pktPublish:
			b.mu.Lock()
			subs := append([]*fakeSub(nil), b.subs...)
			b.mu.Unlock()
			for _, s := range subs {
				if !matches(s.filter, string(p.topic)) {
					continue
				}
				q := min(p.qos, s.qos)
				s.mu.Lock()
				var id uint16
				if q > 0 {
					s.nextID = s.nextID%0xffff + 1
					id = s.nextID
				}
				out, _ := appendPacket(nil, &packet{typ: pktPublish, flags: q << 1, qos: q, id: id, topic: p.topic, payload: p.payload})
				s.w.Write(out)
				s.w.Flush()
				s.mu.Unlock()
			}
			if p.qos == 1 {
				write(packet{typ: pktPuback, id: p.id})
			}
		case pktPuback:
			b.subAcks.Add(1)
		case pktPingreq:
			b.pings.Add(1)
			write(packet{typ: pktPingresp})
		case pktDisconnect:
			return
		default:
			b.t.Errorf("fake broker: unexpected packet type %d", p.typ)
			return
		}
		r.Discard(n)
	}
}

func TestLiteEndToEnd(t *testing.T) {
	for _, qos := range []byte{0, 1} {
		b := newFakeBroker(t)
		ctx := context.Background()
		addr := b.ln.Addr().String()
		lost := func(err error) { t.Errorf("connection lost: %v", err) }

		sub, err := dialLite(ctx, addr, "sub", lost)
		if err != nil {
			t.Fatal(err)
		}
		const pubs, perPub = 3, 3000
		var got [pubs]atomic.Uint64 // next expected sequence number
		var received atomic.Int64
		if err := sub.subscribe("in/+", qos, func(payload []byte) {
			pub := binary.LittleEndian.Uint32(payload)
			seq := binary.LittleEndian.Uint64(payload[4:])
			if want := got[pub].Load(); seq != want {
				t.Errorf("publisher %d: got seq %d, want %d", pub, seq, want)
			}
			got[pub].Store(seq + 1)
			received.Add(1)
		}); err != nil {
			t.Fatal(err)
		}

		var wg sync.WaitGroup
		for i := range pubs {
			c, err := dialLite(ctx, addr, "pub", lost)
			if err != nil {
				t.Fatal(err)
			}
			wg.Go(func() {
				defer c.disconnect()
				giveUp := clockNow() + int64(10*time.Second)
				mp := c.publisher("in/"+string(rune('0'+i)), qos, 100, 8)
				for seq := range perPub {
					buf, err := mp.next(giveUp)
					if err != nil {
						t.Error(err)
						return
					}
					binary.LittleEndian.PutUint32(buf, uint32(i))
					binary.LittleEndian.PutUint64(buf[4:], uint64(seq))
					if err := mp.publish(buf); err != nil {
						t.Error(err)
						return
					}
					if seq%100 == 99 {
						mp.flush()
					}
				}
				if err := mp.finish(giveUp); err != nil {
					t.Error(err)
				}
				if n, err := mp.failures(); n != 0 || err != nil {
					t.Errorf("failures: %d, %v", n, err)
				}
			})
		}
		wg.Wait()
		deadline := time.Now().Add(10 * time.Second)
		for received.Load() < pubs*perPub && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if n := received.Load(); n != pubs*perPub {
			t.Errorf("QoS %d: received %d of %d", qos, n, pubs*perPub)
		}
		if qos == 1 {
			for b.subAcks.Load() < pubs*perPub && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			if n := b.subAcks.Load(); n != pubs*perPub {
				t.Errorf("broker got %d PUBACKs from the subscriber, want %d", n, pubs*perPub)
			}
		}
		sub.disconnect()
	}
}

func TestLiteConnectionLost(t *testing.T) {
	b := newFakeBroker(t)
	lostCh := make(chan error, 1)
	c, err := dialLite(context.Background(), b.ln.Addr().String(), "x", func(err error) { lostCh <- err })
	if err != nil {
		t.Fatal(err)
	}
	mp := c.publisher("t", 1, 8, 1)
	giveUp := clockNow() + int64(5*time.Second)
	buf, _ := mp.next(giveUp)
	if err := mp.publish(buf); err != nil {
		t.Fatal(err)
	}
	b.killAll()
	select {
	case <-lostCh:
	case <-time.After(5 * time.Second):
		t.Fatal("onLost not called")
	}
	// The window slot of the first publish may or may not have been freed;
	// either way publishing ends with an error, not a hang.
	for range 2 {
		if buf, err = mp.next(giveUp); err != nil {
			break
		}
		mp.publish(buf)
	}
	if err == nil {
		if err = mp.finish(giveUp); err == nil {
			t.Error("publishing on a lost connection succeeded")
		}
	}
	c.disconnect()
}

func TestLiteRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.ReadFull(c, make([]byte, 2))
		c.Write([]byte{0x20, 2, 0, 5}) // not authorized
		io.Copy(io.Discard, c)
	}()
	if _, err := dialLite(context.Background(), ln.Addr().String(), "x", nil); err == nil {
		t.Fatal("refused connection succeeded")
	}
}

// discardConn is a net.Conn that swallows writes.
type discardConn struct{ net.Conn }

func (discardConn) Write(p []byte) (int, error)       { return len(p), nil }
func (discardConn) SetWriteDeadline(time.Time) error  { return nil }
func (discardConn) SetReadDeadline(t time.Time) error { return nil }
func (discardConn) Close() error                      { return nil }
func (discardConn) LocalAddr() net.Addr               { return nil }
func (discardConn) RemoteAddr() net.Addr              { return nil }
func (discardConn) Read(p []byte) (int, error)        { return 0, io.EOF }
func (discardConn) SetDeadline(t time.Time) error     { return nil }
func newTestConn(r io.Reader) *liteConn {
	return &liteConn{
		conn: discardConn{},
		r:    bufio.NewReaderSize(r, liteBufSize),
		w:    bufio.NewWriterSize(discardConn{}, liteBufSize),
		dead: make(chan struct{}),
	}
}

func mallocs() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.Mallocs
}

// The per-message paths do not allocate.
func TestLiteHotPathAllocs(t *testing.T) {
	const n = 20000

	// Subscriber: QoS 1 PUBLISHes in, PUBACKs out.
	var stream []byte
	payload := make([]byte, 1024)
	for i := range n {
		stream, _ = appendPacket(stream, &packet{typ: pktPublish, flags: 0x02, qos: 1, id: uint16(i%0xffff + 1), topic: []byte("bench/in/1"), payload: payload})
	}
	c := newTestConn(bytes.NewReader(stream))
	var got int
	h := func(p []byte) { got += len(p) }
	c.handler.Store(&h)
	before := mallocs()
	err := c.readPackets()
	allocs := mallocs() - before
	if !errors.Is(err, io.EOF) || got != n*len(payload) {
		t.Fatalf("readPackets: %v, %d bytes", err, got)
	}
	t.Logf("subscriber: %d allocations for %d messages", allocs, n)
	if allocs > n/100 {
		t.Errorf("subscriber: %d allocations for %d messages", allocs, n)
	}

	// Publisher: QoS 1 with the PUBACKs fed back directly.
	for _, qos := range []byte{0, 1} {
		c = newTestConn(bytes.NewReader(nil))
		mp := c.publisher("bench/in/1", qos, 1024, 16).(*litePublisher)
		giveUp := clockNow() + int64(time.Minute)
		before = mallocs()
		for range n {
			buf, err := mp.next(giveUp)
			if err != nil {
				t.Fatal(err)
			}
			if err := mp.publish(buf); err != nil {
				t.Fatal(err)
			}
			if qos == 1 {
				if err := c.acked(mp.nextID); err != nil {
					t.Fatal(err)
				}
			}
		}
		allocs = mallocs() - before
		t.Logf("publisher QoS %d: %d allocations for %d messages", qos, allocs, n)
		if allocs > n/100 {
			t.Errorf("publisher QoS %d: %d allocations for %d messages", qos, allocs, n)
		}
		if err := c.acked(mp.nextID); err == nil {
			t.Error("duplicate PUBACK accepted")
		}
	}
}

func TestLitePings(t *testing.T) {
	b := newFakeBroker(t)
	c, err := dialLite(context.Background(), b.ln.Addr().String(), "p", func(err error) { t.Errorf("lost: %v", err) })
	if err != nil {
		t.Fatal(err)
	}
	go c.pinger(20 * time.Millisecond) // besides the 60s one
	deadline := time.Now().Add(5 * time.Second)
	for b.pings.Load() < 3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := b.pings.Load(); n < 3 {
		t.Errorf("%d PINGREQs in 5s with a 20ms keep-alive", n)
	}
	c.disconnect()
}

// Both clients against a real Mosquitto (skipped if it is not installed):
// the retained $SYS version, and a short fan-in scenario at QoS 0 and 1.
func TestClientsAgainstMosquitto(t *testing.T) {
	const bin = "/usr/sbin/mosquitto"
	if _, err := os.Stat(bin); err != nil || testing.Short() {
		t.Skip("needs " + bin + " (not in -short)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	m, err := startMosquitto(ctx, bin, t.TempDir(), false, false)
	if err != nil {
		t.Fatal(err)
	}
	defer m.stop()
	prm := runParams{clients: 2, window: 4, warmup: 100 * time.Millisecond, duration: 200 * time.Millisecond,
		drain: time.Second, maxMsgs: 100_000, inflight: 64, rate: 5000}
	for _, kind := range []string{clientLite, clientPaho} {
		if v := probeSysVersion(ctx, kind, m.addr); !strings.HasPrefix(v, "mosquitto version") {
			t.Errorf("%s: $SYS/broker/version = %q", kind, v)
		}
		prm.client = kind
		for _, sc := range []scenario{{"fanin-qos0", true, 0, 64}, {"fanout-qos1", false, 1, 1024}} {
			start := time.Now()
			r := runScenario(ctx, m.addr, sc, prm, fmt.Sprintf("t%d-%s-%s", os.Getpid(), kind, sc.name))
			if r.err != nil || r.sent == 0 || r.throughput == 0 || len(r.notes) > 0 {
				t.Errorf("%s %s: %v, %+v", kind, sc.name, r.err, r)
			}
			if sc.qos == 1 && r.lost != 0 {
				t.Errorf("%s %s: %d lost", kind, sc.name, r.lost)
			}
			t.Logf("%s %s: %d sent, %.0f msg/s, run %v", kind, sc.name, r.sent, r.throughput, time.Since(start).Round(time.Millisecond))
		}
	}
}
