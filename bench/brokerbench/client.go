package main

// MQTT client connections for the load generator.
//
// The load generator shares the CPUs with the brokers, so the cheaper client
// wins: every microsecond the harness spends per message is taken from the
// broker under test, and on a 2-core machine a load generator that needs a
// whole core hides whether a multi-threaded broker could use the second one
// (Mosquitto is single-threaded).
//
// First choice (earlier measurement, against Mosquitto 2.0.11 on the 2-core
// dev box: harness CPU time per delivered message, 200k messages, QoS 1
// publishers with 16 in flight; "buf" = reads through bufio):
//
//	                         paho.golang/paho     paho.mqtt.golang
//	QoS 0, 1 pub -> 8 subs    14.7 us (buf  9.3)   12.0 us (buf  7.4)
//	QoS 1, 1 pub -> 8 subs    31.9 us              28.7 us (buf 22.9)
//	QoS 1, 4 pub -> 1 sub     69.3 us              49.4 us (buf 40.7)
//	QoS 0, 4 pub -> 1 sub     15-25 us, too noisy to rank (the broker drops)
//
// paho.golang's client costs a goroutine, two contexts and a serialised copy
// of the packet (session store) per QoS 1 publish, and needs one blocking
// Publish call (goroutine) per in-flight message; paho.mqtt.golang returns a
// token per publish, which makes a per-publisher window cheap. Both read
// packets with several small reads, which the bufio wrapper batches.
//
// Current choice: the built-in client (mqttlite.go, --client lite, default);
// paho.mqtt.golang with the bufio wrapper stays available as --client paho
// to cross-check results. Harness CPU time per delivered message (getrusage
// of this process from connect to the end of the drain, divided by the
// messages received, as the progress lines print it), 64-byte payloads,
// 1s warm-up + 5s, QoS 1 window 16, two runs each, same 2-core box, with the
// harness's average CPU use in parentheses:
//
//	                        lite                                    paho.mqtt.golang (buf)
//	                        Outpost             Mosquitto           Outpost                 Mosquitto
//	QoS 0, 1 pub -> 8 subs  1.0-1.1 us (0.4)    3.4-3.7 us (0.4)    4.8-5.7 us (1.0)        7.2-7.8 us (0.9)
//	QoS 1, 1 pub -> 8 subs  5.0-5.8 us (0.5)    14.9-15.0 us (0.9)  15.1-18.6 us (1.0)      18.5-19.4 us (1.1)
//	QoS 1, 4 pub -> 1 sub   16.9-17.4 us (0.6)  26-35 us (0.8) *    36.7-40.4 us (0.9)      34.9-38.1 us (0.9)
//
// (*) Mosquitto dropped 21-22% of these messages (doc.go, loss).
//
// What the lite client still costs is mostly system calls and wake-ups (a
// write on loopback also runs the receiving side's TCP processing), and the
// broker decides how well they amortise: Mosquitto writes packet by packet,
// so a subscriber gets few messages per read and a QoS 1 publisher gets its
// PUBACKs one at a time, each waking it for one PUBLISH and one write;
// Outpost's writes come in larger batches. paho adds a token, channel
// operations and goroutine hand-offs per message, and with it the harness
// takes a whole core on its own.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

const connectTimeout = 5 * time.Second

// Client implementations (--client).
const (
	clientLite = "lite"
	clientPaho = "paho"
)

// mqttClient is one clean-session MQTT 3.1.1 connection.
type mqttClient interface {
	// subscribe subscribes to filter and waits for the SUBACK. onMsg is
	// called on one goroutine per connection, in arrival order; payload is
	// only valid until onMsg returns.
	subscribe(filter string, qos byte, onMsg func(payload []byte)) error
	// publisher returns the publishing side for topic, with at most window
	// unacknowledged publishes at QoS 1 and payloads of size bytes. At most
	// one per connection.
	publisher(topic string, qos byte, size, window int) msgPublisher
	// disconnect sends DISCONNECT and closes the connection.
	disconnect()
}

// msgPublisher publishes messages on one connection, from one goroutine.
type msgPublisher interface {
	// next waits until another message may be published (QoS 1 window),
	// flushing first if it has to wait, and returns the buffer to fill with
	// the payload. An error (timeout at giveUpAt, clockNow time, or a broken
	// connection) ends publishing.
	next(giveUpAt int64) ([]byte, error)
	// publish sends the buffer returned by next. It may only buffer it:
	// the caller must call flush before it waits for anything else.
	publish(buf []byte) error
	flush() error
	// finish flushes and waits (until giveUpAt) until every publish is
	// complete, i.e. acknowledged at QoS 1.
	finish(giveUpAt int64) error
	// failures returns how many publishes failed or were not completed, and
	// the first error.
	failures() (int64, error)
}

// connect opens one clean-session MQTT 3.1.1 connection to addr with the
// given client implementation. onLost is called (from another goroutine) if
// the connection drops unexpectedly.
func connect(ctx context.Context, kind, addr, clientID string, onLost func(error)) (mqttClient, error) {
	switch kind {
	case clientLite:
		c, err := dialLite(ctx, addr, clientID, onLost)
		if err != nil {
			return nil, fmt.Errorf("connect %s as %s: %w", addr, clientID, err)
		}
		return c, nil
	case clientPaho:
		return connectPaho(ctx, addr, clientID, onLost)
	}
	return nil, fmt.Errorf("unknown client %q", kind)
}

// bufConn buffers reads; writes go straight to the socket (each packet is
// written with one call, so the latency of every message is measured as is).
type bufConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// pahoClient adapts paho.mqtt.golang, with reads through bufio.
type pahoClient struct{ c mqtt.Client }

func connectPaho(ctx context.Context, addr, clientID string, onLost func(error)) (*pahoClient, error) {
	o := mqtt.NewClientOptions()
	o.AddBroker("tcp://" + addr)
	o.SetClientID(clientID)
	o.SetProtocolVersion(4)
	o.SetCleanSession(true)
	o.SetAutoReconnect(false)
	o.SetConnectRetry(false)
	o.SetResumeSubs(false)
	o.SetKeepAlive(60 * time.Second)
	o.SetPingTimeout(20 * time.Second)
	o.SetConnectTimeout(connectTimeout)
	o.SetOrderMatters(true) // message callbacks run in order on one goroutine per client
	o.SetCustomOpenConnectionFn(func(u *url.URL, _ mqtt.ClientOptions) (net.Conn, error) {
		d := net.Dialer{Timeout: connectTimeout}
		c, err := d.DialContext(ctx, "tcp", u.Host)
		if err != nil {
			return nil, err
		}
		return &bufConn{Conn: c, r: bufio.NewReaderSize(c, 32<<10)}, nil
	})
	o.SetConnectionLostHandler(func(_ mqtt.Client, err error) {
		if onLost != nil {
			onLost(err)
		}
	})
	c := mqtt.NewClient(o)
	t := c.Connect()
	if !t.WaitTimeout(connectTimeout + time.Second) {
		c.Disconnect(0)
		return nil, fmt.Errorf("connect %s as %s: timeout", addr, clientID)
	}
	if err := t.Error(); err != nil {
		return nil, fmt.Errorf("connect %s as %s: %w", addr, clientID, err)
	}
	return &pahoClient{c}, nil
}

func (p *pahoClient) disconnect() { p.c.Disconnect(20) }

func (p *pahoClient) subscribe(filter string, qos byte, onMsg func([]byte)) error {
	t := p.c.Subscribe(filter, qos, func(_ mqtt.Client, m mqtt.Message) { onMsg(m.Payload()) })
	if !t.WaitTimeout(connectTimeout) {
		return fmt.Errorf("subscribe %s: timeout", filter)
	}
	if err := t.Error(); err != nil {
		return fmt.Errorf("subscribe %s: %w", filter, err)
	}
	if st, ok := t.(*mqtt.SubscribeToken); ok {
		for _, code := range st.Result() {
			if code == 0x80 {
				return errors.New("subscribe " + filter + ": refused by broker")
			}
		}
	}
	return nil
}

// publisher: paho keeps a reference to the payload until the publish is
// complete, so each of the window's slots has its own buffer and token (at
// QoS 0 the ring only makes buffers reusable once paho has written them).
func (p *pahoClient) publisher(topic string, qos byte, size, window int) msgPublisher {
	if qos == 0 {
		window = 64
	}
	pp := &pahoPublisher{c: p.c, topic: topic, qos: qos, ring: make([]pahoSlot, window)}
	for i := range pp.ring {
		pp.ring[i].buf = make([]byte, size)
	}
	return pp
}

type pahoSlot struct {
	buf []byte
	tok mqtt.Token
}

type pahoPublisher struct {
	c     mqtt.Client
	topic string
	qos   byte
	ring  []pahoSlot
	seq   int
	errs  int64
	err   error
}

var errNotCompleted = errors.New("publish not completed in time (no PUBACK?)")

// wait waits for t until giveUpAt; false if it timed out. A token that
// completed with an error counts as a failure but does not stop publishing.
func (p *pahoPublisher) wait(t mqtt.Token, giveUpAt int64) bool {
	d := time.Duration(giveUpAt - clockNow())
	if d <= 0 || !t.WaitTimeout(d) {
		p.errs++
		return false
	}
	if err := t.Error(); err != nil {
		p.errs++
		if p.err == nil {
			p.err = err
		}
	}
	return true
}

func (p *pahoPublisher) next(giveUpAt int64) ([]byte, error) {
	s := &p.ring[p.seq%len(p.ring)]
	if s.tok != nil {
		if !p.wait(s.tok, giveUpAt) {
			if p.err == nil {
				p.err = errNotCompleted
			}
			return nil, errNotCompleted
		}
		s.tok = nil
	}
	return s.buf, nil
}

func (p *pahoPublisher) publish(buf []byte) error {
	s := &p.ring[p.seq%len(p.ring)]
	s.tok = p.c.Publish(p.topic, p.qos, false, buf)
	p.seq++
	return nil
}

func (p *pahoPublisher) flush() error { return nil } // paho writes each packet at once

func (p *pahoPublisher) finish(giveUpAt int64) error {
	for i := range p.ring {
		if p.ring[i].tok != nil && !p.wait(p.ring[i].tok, giveUpAt) {
			return errNotCompleted
		}
	}
	return nil
}

func (p *pahoPublisher) failures() (int64, error) { return p.errs, p.err }

// probeSysVersion reads the retained $SYS/broker/version topic (Mosquitto
// publishes it); empty if the broker does not answer within a second.
func probeSysVersion(ctx context.Context, kind, addr string) string {
	c, err := connect(ctx, kind, addr, fmt.Sprintf("brokerbench-probe-%d", time.Now().UnixNano()), nil)
	if err != nil {
		return ""
	}
	defer c.disconnect()
	got := make(chan string, 1)
	if err := c.subscribe("$SYS/broker/version", 0, func(payload []byte) {
		select {
		case got <- string(payload):
		default:
		}
	}); err != nil {
		return ""
	}
	select {
	case v := <-got:
		return v
	case <-time.After(time.Second):
		return ""
	}
}
