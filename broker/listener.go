package broker

import (
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mochi-mqtt/server/v2/listeners"
)

// listener is one transport that hands connections to mochi: a TCP (or TLS)
// accept loop, or the /mqtt WebSocket route, which has no accept loop of its
// own and calls serveConn from the HTTP handler.
//
// It replaces mochi's listeners.Net for two reasons: mochi's accept loop
// writes a shared error variable from every connection goroutine (a data
// race), and mochi's Close waits on a WaitGroup that new connections may
// still be adding to (mochi issue #541). Here every connection is tracked
// under a mutex that also refuses new ones once closing starts, so Server
// can stop accepting, disconnect everyone and wait for every connection
// goroutine before it lets mochi close.
type listener struct {
	id        string
	ln        net.Listener // nil for the WebSocket listener
	tls       *tls.Config  // nil for plain TCP
	establish listeners.EstablishFn
	timeout   time.Duration // to send CONNECT
	metrics   *listenerMetrics
	log       *slog.Logger

	mu     sync.Mutex
	closed bool
	conns  map[net.Conn]struct{}
	wg     sync.WaitGroup // one per tracked connection
	stop   atomic.Bool
}

var _ listeners.Listener = (*listener)(nil)

func newListener(id string, ln net.Listener, tlsConfig *tls.Config, establish listeners.EstablishFn, timeout time.Duration, m *listenerMetrics, log *slog.Logger) *listener {
	return &listener{id: id, ln: ln, tls: tlsConfig, establish: establish, timeout: timeout, metrics: m, log: log, conns: map[net.Conn]struct{}{}}
}

func (l *listener) ID() string { return l.id }

func (l *listener) Address() string {
	if l.ln == nil {
		return ""
	}
	return l.ln.Addr().String()
}

func (l *listener) Protocol() string {
	if l.tls != nil {
		return "tls"
	}
	if l.ln == nil {
		return "ws"
	}
	return "tcp"
}

func (l *listener) Init(*slog.Logger) error { return nil }

// Serve runs the accept loop of a TCP listener until it is closed. Accept
// errors other than closing (out of file descriptors, say) are retried with
// a growing pause, as net/http does, so the listener never dies silently.
func (l *listener) Serve(listeners.EstablishFn) {
	if l.ln == nil {
		return
	}
	var pause time.Duration
	for {
		conn, err := l.ln.Accept()
		if err != nil {
			if l.stop.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			pause = min(max(2*pause, 5*time.Millisecond), time.Second)
			l.log.Warn("mqtt accept failed; retrying", "listener", l.id, "error", err, "retry_in", pause)
			time.Sleep(pause)
			continue
		}
		pause = 0
		var c net.Conn = &countingConn{Conn: conn, m: l.metrics}
		if l.tls != nil {
			c = tls.Server(c, l.tls)
		}
		if !l.track(c) {
			c.Close()
			return
		}
		go l.run(c)
	}
}

// serveConn runs one connection on the caller's goroutine until it ends.
func (l *listener) serveConn(c net.Conn) {
	if !l.track(c) {
		c.Close()
		return
	}
	l.run(c)
}

func (l *listener) run(c net.Conn) {
	defer l.untrack(c)
	// Mochi sets no deadline before CONNECT; it replaces this one with the
	// keepalive deadline once CONNECT is read.
	_ = c.SetDeadline(time.Now().Add(l.timeout))
	if err := l.establish(l.id, c); err != nil {
		l.log.Debug("mqtt connection ended", "listener", l.id, "remote", c.RemoteAddr().String(), "error", err)
	}
}

func (l *listener) track(c net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false
	}
	l.conns[c] = struct{}{}
	l.wg.Add(1)
	return true
}

func (l *listener) untrack(c net.Conn) {
	l.mu.Lock()
	delete(l.conns, c)
	l.mu.Unlock()
	c.Close()
	l.wg.Done()
}

// stopAccepting closes the socket and refuses connections from now on.
func (l *listener) stopAccepting() {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	l.stop.Store(true)
	if l.ln != nil {
		l.ln.Close()
	}
}

// closeConns closes every connection still open (those that never finished
// CONNECT, or that ignored the DISCONNECT).
func (l *listener) closeConns() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for c := range l.conns {
		c.Close()
	}
}

// Close is mochi's listener close; by the time mochi calls it, Server has
// already stopped and drained this listener.
func (l *listener) Close(listeners.CloseFn) { l.stopAccepting() }

// countingConn counts the bytes that cross a connection, for /metrics.
type countingConn struct {
	net.Conn
	m *listenerMetrics
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.m.bytesIn.Add(float64(n))
	}
	return n, err
}

func (c *countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if n > 0 {
		c.m.bytesOut.Add(float64(n))
	}
	return n, err
}
