package main

// mqtt.go: the devices' MQTT 3.1.1 client, as small as the bench allows:
// CONNECT with a clean session and no keep-alive, one SUBSCRIBE with many
// /out filters at QoS 1, QoS 1 PUBLISHes to /in that are buffered until
// flush, and a reader goroutine that hands each PUBLISH to a callback and
// acknowledges it. bench/brokerbench has a fuller client (windows, keep-alive,
// QoS 0); this one needs none of that, because the load loop (load.go)
// bounds what is in flight by replies, not by PUBACKs.

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

const (
	mqttBufSize   = 32 << 10
	mqttTimeout   = 30 * time.Second // CONNACK, SUBACK, and each write
	maxRemaining  = 1 << 20          // the largest packet the client accepts
	maxSubFilters = 64               // filters per SUBSCRIBE
)

// MQTT packet types (MQTT 3.1.1 §2.2.1).
const (
	typeConnect    = 1
	typeConnack    = 2
	typePublish    = 3
	typePuback     = 4
	typeSubscribe  = 8
	typeSuback     = 9
	typePingresp   = 13
	typeDisconnect = 14
)

// mqttClient is one device connection. publish and flush may be called from
// one goroutine at a time; onPublish runs on the reader goroutine.
type mqttClient struct {
	nc        net.Conn
	r         *bufio.Reader
	onPublish func(topic string, payload []byte)

	mu     sync.Mutex // guards w, nextID
	w      *bufio.Writer
	nextID uint16

	unacked atomic.Int64 // QoS 1 publishes not yet acknowledged
	subacks chan []byte  // return codes of the SUBACK
	done    chan struct{}
	err     error // why the reader stopped; valid once done is closed
}

// dialMQTT connects and waits for the CONNACK.
func dialMQTT(ctx context.Context, addr, clientID string, onPublish func(topic string, payload []byte)) (*mqttClient, error) {
	d := net.Dialer{Timeout: mqttTimeout}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	c := &mqttClient{
		nc: nc, r: bufio.NewReaderSize(nc, mqttBufSize), w: bufio.NewWriterSize(nc, mqttBufSize),
		onPublish: onPublish, subacks: make(chan []byte, 1), done: make(chan struct{}),
	}
	// CONNECT: protocol "MQTT" level 4, clean session, keep-alive 0 (off).
	body := append([]byte{0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 0}, str(clientID)...)
	nc.SetDeadline(time.Now().Add(mqttTimeout))
	if _, err := nc.Write(packet(typeConnect<<4, body)); err != nil {
		nc.Close()
		return nil, fmt.Errorf("mqtt connect: %w", err)
	}
	first, p, err := c.read()
	switch {
	case err != nil:
	case first>>4 != typeConnack || len(p) != 2:
		err = fmt.Errorf("expected CONNACK, got packet type %d", first>>4)
	case p[1] != 0:
		err = fmt.Errorf("connection refused, return code %d", p[1])
	}
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("mqtt connect: %w", err)
	}
	nc.SetDeadline(time.Time{})
	go c.readLoop()
	return c, nil
}

// str is an MQTT length-prefixed string.
func str(s string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, uint16(len(s))), s...)
}

// packet is a fixed header (first byte and remaining length) and body.
func packet(first byte, body []byte) []byte {
	b := appendHeader(make([]byte, 0, 5+len(body)), first, len(body))
	return append(b, body...)
}

func appendHeader(b []byte, first byte, n int) []byte {
	b = append(b, first)
	for {
		d := byte(n & 0x7f)
		if n >>= 7; n > 0 {
			d |= 0x80
		}
		b = append(b, d)
		if n == 0 {
			return b
		}
	}
}

// read reads one packet; its body is valid until the next read.
func (c *mqttClient) read() (first byte, body []byte, err error) {
	if first, err = c.r.ReadByte(); err != nil {
		return 0, nil, err
	}
	n, shift := 0, 0
	for {
		b, err := c.r.ReadByte()
		if err != nil {
			return 0, nil, err
		}
		n |= int(b&0x7f) << shift
		if b&0x80 == 0 {
			break
		}
		if shift += 7; shift > 21 {
			return 0, nil, errors.New("mqtt: malformed remaining length")
		}
	}
	if n > maxRemaining {
		return 0, nil, fmt.Errorf("mqtt: packet of %d bytes", n)
	}
	if n <= c.r.Size() {
		body, err = c.r.Peek(n)
		if err == nil {
			_, err = c.r.Discard(n) // the buffer stays intact until the next read
		}
		return first, body, err
	}
	body = make([]byte, n)
	_, err = io.ReadFull(c.r, body)
	return first, body, err
}

func (c *mqttClient) readLoop() {
	c.err = c.readPackets()
	close(c.done)
	c.nc.Close()
}

func (c *mqttClient) readPackets() error {
	var acks []byte
	for {
		first, body, err := c.read()
		if err != nil {
			return err
		}
		switch first >> 4 {
		case typePublish:
			if len(body) < 2 {
				return errors.New("mqtt: short PUBLISH")
			}
			tl := int(binary.BigEndian.Uint16(body))
			qos := first >> 1 & 3
			rest := body[2:]
			if len(rest) < tl || qos > 0 && len(rest) < tl+2 {
				return errors.New("mqtt: short PUBLISH")
			}
			topic, payload := string(rest[:tl]), rest[tl:]
			if qos > 0 {
				acks = append(acks, typePuback<<4, 2, payload[0], payload[1])
				payload = payload[2:]
			}
			c.onPublish(topic, payload)
		case typePuback:
			c.unacked.Add(-1)
		case typeSuback:
			if len(body) < 3 {
				return errors.New("mqtt: short SUBACK")
			}
			c.subacks <- append([]byte(nil), body[2:]...)
		case typePingresp:
		default:
			return fmt.Errorf("mqtt: unexpected packet type %d", first>>4)
		}
		// About to block on the socket: acknowledge what was read.
		if len(acks) > 0 && c.r.Buffered() == 0 {
			c.mu.Lock()
			c.w.Write(acks)
			err := c.flushLocked()
			c.mu.Unlock()
			if err != nil {
				return err
			}
			acks = acks[:0]
		}
	}
}

// subscribe subscribes to filters at QoS 1, maxSubFilters per SUBSCRIBE,
// and waits for each SUBACK. Each /out filter joins its agent.
func (c *mqttClient) subscribe(filters []string) error {
	for len(filters) > 0 {
		batch := filters[:min(len(filters), maxSubFilters)]
		filters = filters[len(batch):]
		c.mu.Lock()
		body := binary.BigEndian.AppendUint16(nil, c.id())
		for _, f := range batch {
			body = append(append(body, str(f)...), 1)
		}
		c.w.Write(packet(typeSubscribe<<4|0x02, body))
		err := c.flushLocked()
		c.mu.Unlock()
		if err != nil {
			return err
		}
		select {
		case codes := <-c.subacks:
			for i, code := range codes {
				if code > 2 {
					return fmt.Errorf("subscribe %s: refused (%#x)", batch[i], code)
				}
			}
		case <-c.done:
			return fmt.Errorf("subscribe: %w", c.err)
		case <-time.After(mqttTimeout):
			return errors.New("subscribe: no SUBACK")
		}
	}
	return nil
}

// id returns the next packet identifier; c.mu must be held.
func (c *mqttClient) id() uint16 {
	c.nextID++
	if c.nextID == 0 {
		c.nextID = 1
	}
	return c.nextID
}

// publish buffers a QoS 1 PUBLISH; flush sends it. The identifiers wrap
// after 65535 publishes, far more than are ever unacknowledged here.
func (c *mqttClient) publish(topic string, payload []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 2 + len(topic) + 2 + len(payload)
	if c.w.Available() < n+5 {
		if err := c.flushLocked(); err != nil {
			return err
		}
	}
	b := appendHeader(c.w.AvailableBuffer(), typePublish<<4|1<<1, n)
	b = binary.BigEndian.AppendUint16(b, uint16(len(topic)))
	b = append(b, topic...)
	b = binary.BigEndian.AppendUint16(b, c.id())
	b = append(b, payload...)
	c.w.Write(b)
	c.unacked.Add(1)
	return nil
}

func (c *mqttClient) flush() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.flushLocked()
}

func (c *mqttClient) flushLocked() error {
	if c.w.Buffered() == 0 {
		return nil
	}
	select {
	case <-c.done:
		return fmt.Errorf("mqtt: connection lost: %w", c.err)
	default:
	}
	c.nc.SetWriteDeadline(time.Now().Add(mqttTimeout))
	return c.w.Flush()
}

// close sends DISCONNECT and waits for the broker to close the connection
// (at most a second).
func (c *mqttClient) close() {
	c.mu.Lock()
	c.w.Write([]byte{typeDisconnect << 4, 0})
	c.flushLocked()
	c.mu.Unlock()
	c.nc.SetReadDeadline(time.Now().Add(time.Second))
	<-c.done
}
