package main

// mqttlite: the load generator's own MQTT 3.1.1 client (--client lite, the
// default). It does what a benchmark client needs and nothing more: clean
// session, QoS 0 and 1, one subscription per connection, a window of
// unacknowledged QoS 1 publishes. client.go explains why it exists.
//
// Per connection: one reader goroutine (bufio.Reader, 32 KiB) that decodes
// packets, calls the message handler and matches PUBACKs; writes go through a
// bufio.Writer (32 KiB) under a mutex.
//
//   - Publisher: PUBLISHes are coalesced while the caller keeps publishing
//     (up to coalesceBytes), and flushed whenever it is about to wait: for the
//     QoS 1 window here, for the flow control or the rate limit in the caller
//     (msgPublisher.flush). A message is never left unflushed while the
//     publisher waits, so the measured latency includes no client-side hold.
//   - Subscriber: the PUBACK of a QoS 1 message is queued when the message has
//     been handled, and the queue is flushed when the reader has no more
//     buffered input (bufio.Reader.Buffered() == 0), i.e. before it would
//     block in read: one write per read batch, no delay.
//
// The hot path does not allocate: payloads are handed to the handler as a
// slice of the read buffer, publishes are encoded into a reused header
// buffer and copied into the write buffer.
//
// Keep-alive: 60s; a PINGREQ every 30s (whatever else was sent), and the
// connection fails if a PINGRESP is still missing 60s after its PINGREQ.
// Writes have a rolling deadline (writeTimeout), so a broker that stops
// reading fails the connection instead of hanging the run. Subscriber
// payloads alias the read buffer: valid only until the handler returns.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

const (
	liteBufSize   = 32 << 10
	coalesceBytes = 8 << 10 // flush a publisher's batch once this much is buffered
	liteKeepAlive = 60 * time.Second
	writeTimeout  = 10 * time.Second
)

var errClosed = errors.New("connection closed by client")

type liteConn struct {
	conn   net.Conn
	r      *bufio.Reader
	onLost func(error)

	mu     sync.Mutex // guards w, wdl, closed
	w      *bufio.Writer
	wdl    time.Time // write deadline set on conn
	closed bool      // DISCONNECT written: write nothing more

	handler atomic.Pointer[func([]byte)]
	scratch []byte // reader: body of packets larger than the read buffer

	subMu  sync.Mutex // one SUBSCRIBE at a time
	subID  atomic.Uint32
	suback chan []byte // return codes of the SUBACK for subID

	// QoS 1 publishing: pending has a bit per packet identifier in flight;
	// slots holds one token per free window slot.
	pending [1 << 10]atomic.Uint64
	slots   chan struct{}

	pingSent atomic.Int64 // clockNow of the outstanding PINGREQ, 0 if none

	closing    atomic.Bool // disconnect called: a failure is not a loss
	failOnce   sync.Once
	err        error         // first failure, valid once dead is closed
	dead       chan struct{} // closed on the first failure (or disconnect)
	readerDone chan struct{}
}

// dialLite opens a clean-session connection and waits for the CONNACK.
// onLost is called (from another goroutine) if the connection fails later,
// unless disconnect was called first.
func dialLite(ctx context.Context, addr, clientID string, onLost func(error)) (*liteConn, error) {
	d := net.Dialer{Timeout: connectTimeout}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	c := &liteConn{
		conn:       nc,
		r:          bufio.NewReaderSize(nc, liteBufSize),
		w:          bufio.NewWriterSize(nc, liteBufSize),
		onLost:     onLost,
		suback:     make(chan []byte, 1),
		dead:       make(chan struct{}),
		readerDone: make(chan struct{}),
	}
	if err := c.handshake(clientID); err != nil {
		nc.Close()
		return nil, err
	}
	go c.readLoop()
	go c.pinger(liteKeepAlive)
	return c, nil
}

func (c *liteConn) handshake(clientID string) error {
	if err := c.conn.SetDeadline(time.Now().Add(connectTimeout)); err != nil {
		return err
	}
	b, err := appendConnect(nil, clientID, uint16(liteKeepAlive/time.Second))
	if err != nil {
		return err
	}
	if _, err := c.conn.Write(b); err != nil {
		return err
	}
	first, body, n, err := c.readPacket()
	if err != nil {
		return fmt.Errorf("reading CONNACK: %w", err)
	}
	p, err := decodePacket(first, body)
	if err != nil {
		return err
	}
	if p.typ != pktConnack {
		return fmt.Errorf("expected CONNACK, got packet type %d", p.typ)
	}
	if p.returnCode != 0 {
		return fmt.Errorf("connection refused, CONNACK return code %d", p.returnCode)
	}
	if _, err := c.r.Discard(n); err != nil {
		return err
	}
	return c.conn.SetDeadline(time.Time{})
}

// readPacket reads the next packet's fixed header and body. The body is
// valid until the next read; n bytes of it are still in c.r and must be
// discarded once the body has been used.
func (c *liteConn) readPacket() (first byte, body []byte, n int, err error) {
	if first, err = c.r.ReadByte(); err != nil {
		return 0, nil, 0, err
	}
	rl, err := readRemLen(c.r)
	if err != nil {
		return 0, nil, 0, err
	}
	if rl > maxPacketLen {
		return 0, nil, 0, errTooLarge
	}
	if rl <= c.r.Size() {
		body, err = c.r.Peek(rl)
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return first, body, rl, err
	}
	// Larger than the read buffer: read into scratch, grown as the data
	// arrives, so a corrupt length cannot allocate more than twice what was
	// received.
	body = c.scratch[:0]
	for len(body) < rl {
		if len(body) == cap(body) {
			body = slices.Grow(body, min(rl-len(body), max(len(body), liteBufSize)))
		}
		k, err := io.ReadFull(c.r, body[len(body):min(rl, cap(body))])
		body = body[:len(body)+k]
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return 0, nil, 0, err
		}
	}
	c.scratch = body[:0]
	return first, body, 0, nil
}

func (c *liteConn) readLoop() {
	defer close(c.readerDone)
	err := c.readPackets()
	c.fail(err)
	// After a disconnect, keep reading until the broker closes (bounded by
	// the deadline disconnect sets), so the socket is not reset with unread
	// data.
}

func (c *liteConn) readPackets() error {
	for {
		first, body, n, err := c.readPacket()
		if err != nil {
			return err
		}
		p, err := decodePacket(first, body)
		if err != nil {
			return err
		}
		switch p.typ {
		case pktPublish:
			if h := c.handler.Load(); h != nil {
				(*h)(p.payload)
			}
			switch p.qos {
			case 1:
				c.mu.Lock()
				var err error
				if !c.closed {
					if err = c.reserveLocked(4); err == nil {
						c.w.Write(appendPuback(c.w.AvailableBuffer(), p.id))
					}
				}
				c.mu.Unlock()
				if err != nil {
					return err
				}
			case 2:
				return errors.New("mqtt: QoS 2 PUBLISH not supported")
			}
		case pktPuback:
			if err := c.acked(p.id); err != nil {
				return err
			}
		case pktSuback:
			if uint32(p.id) != c.subID.Load() {
				return fmt.Errorf("mqtt: SUBACK for unknown packet id %d", p.id)
			}
			select {
			case c.suback <- append([]byte(nil), p.codes...):
			default:
				return errors.New("mqtt: unexpected SUBACK")
			}
		case pktPingresp:
			c.pingSent.Store(0)
		default:
			return fmt.Errorf("mqtt: unexpected packet type %d from broker", p.typ)
		}
		if _, err := c.r.Discard(n); err != nil {
			return err
		}
		if c.r.Buffered() == 0 {
			// About to read from the socket: send the queued PUBACKs.
			c.mu.Lock()
			err := c.flushLocked()
			c.mu.Unlock()
			if err != nil {
				return err
			}
		}
	}
}

// fail records the first failure, closes the connection and reports a loss
// unless disconnect was called.
func (c *liteConn) fail(err error) {
	c.failOnce.Do(func() {
		if err == nil {
			err = errClosed
		}
		c.err = err
		close(c.dead)
		if !c.closing.Load() {
			c.conn.Close()
			if c.onLost != nil {
				c.onLost(err)
			}
		}
	})
}

// flushLocked writes out the write buffer; c.mu must be held.
func (c *liteConn) flushLocked() error {
	if c.w.Buffered() == 0 {
		return nil
	}
	// A rolling deadline, moved at most every writeTimeout/2.
	if now := time.Now(); now.Add(writeTimeout / 2).After(c.wdl) {
		c.wdl = now.Add(writeTimeout)
		if err := c.conn.SetWriteDeadline(c.wdl); err != nil {
			return err
		}
	}
	if err := c.w.Flush(); err != nil {
		go c.fail(err) // not under c.mu: onLost may take its time
		return err
	}
	return nil
}

// writePacket writes b and flushes.
func (c *liteConn) writePacket(b []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return errClosed
	}
	if err := c.reserveLocked(len(b)); err != nil {
		return err
	}
	c.w.Write(b)
	return c.flushLocked()
}

// reserveLocked makes room for n bytes in the write buffer so that the
// bufio.Writer never flushes by itself (flushLocked moves the deadline).
func (c *liteConn) reserveLocked(n int) error {
	if c.w.Available() >= n {
		return nil
	}
	return c.flushLocked()
}

func (c *liteConn) pinger(keepAlive time.Duration) {
	t := time.NewTicker(keepAlive / 2)
	defer t.Stop()
	for {
		select {
		case <-c.dead:
			return
		case <-t.C:
		}
		if sent := c.pingSent.Load(); sent != 0 {
			if time.Duration(clockNow()-sent) >= keepAlive {
				c.fail(errors.New("mqtt: no PINGRESP within the keep-alive"))
				return
			}
			continue
		}
		c.pingSent.Store(clockNow())
		if err := c.writePacket([]byte{pktPingreq << 4, 0}); err != nil {
			return
		}
	}
}

// subscribe subscribes to filter and waits for the SUBACK. onMsg is called
// on the reader goroutine, one message at a time in arrival order; payload
// aliases the read buffer and is only valid until onMsg returns.
func (c *liteConn) subscribe(filter string, qos byte, onMsg func(payload []byte)) error {
	c.subMu.Lock()
	defer c.subMu.Unlock()
	c.handler.Store(&onMsg)
	id := uint16(c.subID.Load()%0xffff + 1)
	c.subID.Store(uint32(id))
	b, err := appendSubscribe(nil, id, filter, qos)
	if err != nil {
		return err
	}
	if err := c.writePacket(b); err != nil {
		return fmt.Errorf("subscribe %s: %w", filter, err)
	}
	t := time.NewTimer(connectTimeout)
	defer t.Stop()
	select {
	case codes := <-c.suback:
		if len(codes) != 1 || codes[0] == 0x80 {
			return errors.New("subscribe " + filter + ": refused by broker")
		}
		return nil
	case <-c.dead:
		return fmt.Errorf("subscribe %s: %w", filter, c.err)
	case <-t.C:
		return fmt.Errorf("subscribe %s: timeout", filter)
	}
}

// acked handles a PUBACK.
func (c *liteConn) acked(id uint16) error {
	bit := uint64(1) << (id % 64)
	if c.pending[id/64].And(^bit)&bit == 0 {
		return fmt.Errorf("mqtt: PUBACK for packet id %d not in flight", id)
	}
	c.slots <- struct{}{} // never blocks: one token per cleared bit
	return nil
}

// disconnect sends DISCONNECT and closes the connection. Messages that
// arrive meanwhile are still handled.
func (c *liteConn) disconnect() {
	c.closing.Store(true)
	c.mu.Lock()
	c.closed = true
	if c.reserveLocked(2) == nil {
		c.w.Write([]byte{pktDisconnect << 4, 0})
		c.flushLocked()
	}
	c.mu.Unlock()
	if tc, ok := c.conn.(*net.TCPConn); ok {
		tc.CloseWrite()
	}
	// The broker closes its side on DISCONNECT; wait for that briefly so the
	// socket is not reset with unread data.
	c.conn.SetReadDeadline(time.Now().Add(time.Second))
	<-c.readerDone
	c.conn.Close()
}

// publisher returns the publishing side of the connection. Only one may be
// used per connection.
func (c *liteConn) publisher(topic string, qos byte, size, window int) msgPublisher {
	p := &litePublisher{c: c, topic: topic, qos: qos, buf: make([]byte, size), window: window}
	if qos > 0 {
		c.slots = make(chan struct{}, window)
		for range window {
			c.slots <- struct{}{}
		}
	}
	return p
}

type litePublisher struct {
	c      *liteConn
	topic  string
	qos    byte
	buf    []byte // payload: copied into the write buffer by publish
	hdr    []byte // scratch for the PUBLISH header
	window int
	nextID uint16
	timer  *time.Timer

	errs int64
	err  error
}

func (p *litePublisher) failed(err error, n int64) error {
	p.errs += n
	if p.err == nil {
		p.err = err
	}
	return err
}

// next waits until the QoS 1 window has room (flushing first if it must
// wait) and returns the payload buffer.
func (p *litePublisher) next(giveUpAt int64) ([]byte, error) {
	if p.qos == 0 {
		select {
		case <-p.c.dead:
			return nil, p.failed(p.c.err, 1)
		default:
			return p.buf, nil
		}
	}
	select {
	case <-p.c.slots:
		return p.buf, nil
	default:
	}
	if err := p.flush(); err != nil {
		return nil, p.failed(err, 1)
	}
	if err := p.waitSlot(giveUpAt); err != nil {
		return nil, p.failed(err, 1)
	}
	return p.buf, nil
}

func (p *litePublisher) waitSlot(giveUpAt int64) error {
	d := time.Duration(giveUpAt - clockNow())
	if d <= 0 {
		return errors.New("publish not completed in time (no PUBACK?)")
	}
	if p.timer == nil {
		p.timer = time.NewTimer(d)
	} else {
		p.timer.Reset(d)
	}
	defer p.timer.Stop()
	select {
	case <-p.c.slots:
		return nil
	case <-p.c.dead:
		return p.c.err
	case <-p.timer.C:
		return errors.New("publish not completed in time (no PUBACK?)")
	}
}

// publish sends buf (the slice next returned) to the topic. It may only
// buffer it; see flush.
func (p *litePublisher) publish(buf []byte) error {
	var id uint16
	if p.qos > 0 {
		// The window is at most 65535, so a free identifier exists.
		for {
			p.nextID = p.nextID%0xffff + 1
			id = p.nextID
			bit := uint64(1) << (id % 64)
			if p.c.pending[id/64].Or(bit)&bit == 0 {
				break
			}
		}
	}
	var err error
	p.hdr, err = appendPublishHeader(p.hdr[:0], p.topic, p.qos, false, false, id, len(buf))
	if err != nil {
		return p.failed(err, 1)
	}
	c := p.c
	c.mu.Lock()
	if c.closed {
		err = errClosed
	} else if err = c.reserveLocked(len(p.hdr) + len(buf)); err == nil {
		c.w.Write(p.hdr)
		c.w.Write(buf)
		if c.w.Buffered() >= coalesceBytes {
			err = c.flushLocked()
		}
	}
	c.mu.Unlock()
	if err != nil {
		return p.failed(err, 1)
	}
	return nil
}

// flush writes out the publishes buffered so far.
func (p *litePublisher) flush() error {
	p.c.mu.Lock()
	defer p.c.mu.Unlock()
	if err := p.c.flushLocked(); err != nil {
		return p.failed(err, 0)
	}
	return nil
}

// finish flushes and waits until every QoS 1 publish is acknowledged.
func (p *litePublisher) finish(giveUpAt int64) error {
	if err := p.flush(); err != nil {
		return err
	}
	if p.qos == 0 {
		return nil
	}
	for got := 0; got < p.window; got++ {
		if err := p.waitSlot(giveUpAt); err != nil {
			return p.failed(err, int64(p.window-got))
		}
	}
	return nil
}

func (p *litePublisher) failures() (int64, error) { return p.errs, p.err }
