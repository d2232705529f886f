package broker

import (
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// errTextFrame is why an MQTT-over-WebSocket connection that sends a text
// frame is closed: MQTT 5 §6 requires binary frames [MQTT-6.0.0-1].
var errTextFrame = errors.New("mqtt over websocket: text frame received, only binary frames are allowed")

// wsConn presents a WebSocket as the byte stream mochi reads MQTT packets
// from. MQTT packets may span WebSocket messages and a message may hold
// several packets [MQTT-6.0.0-2], so reads continue across messages.
type wsConn struct {
	ws *websocket.Conn
	r  io.Reader
	m  *listenerMetrics

	wmu sync.Mutex // gorilla allows one writer at a time
}

var _ net.Conn = (*wsConn)(nil)

func newWSConn(ws *websocket.Conn, m *listenerMetrics) *wsConn { return &wsConn{ws: ws, m: m} }

func (c *wsConn) Read(p []byte) (int, error) {
	for {
		if c.r == nil {
			kind, r, err := c.ws.NextReader()
			if err != nil {
				var ce *websocket.CloseError
				if errors.As(err, &ce) {
					return 0, io.EOF
				}
				return 0, err
			}
			if kind != websocket.BinaryMessage {
				return 0, errTextFrame
			}
			c.r = r
		}
		n, err := c.r.Read(p)
		if n > 0 {
			c.m.bytesIn.Add(float64(n))
		}
		if errors.Is(err, io.EOF) {
			c.r = nil
			if n > 0 {
				return n, nil
			}
			continue
		}
		return n, err
	}
}

func (c *wsConn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.ws.WriteMessage(websocket.BinaryMessage, p); err != nil {
		return 0, err
	}
	c.m.bytesOut.Add(float64(len(p)))
	return len(p), nil
}

// Close sends a close frame unless a write is in progress (a client that
// reads nothing can hold one forever), then closes the connection, which
// also ends that write.
func (c *wsConn) Close() error {
	if c.wmu.TryLock() {
		_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
		c.wmu.Unlock()
	}
	return c.ws.Close()
}

func (c *wsConn) LocalAddr() net.Addr               { return c.ws.LocalAddr() }
func (c *wsConn) RemoteAddr() net.Addr              { return c.ws.RemoteAddr() }
func (c *wsConn) SetReadDeadline(t time.Time) error { return c.ws.SetReadDeadline(t) }

// SetWriteDeadline takes the write lock: mochi sets deadlines from the
// reader while its writer may be writing, and gorilla's deadline is not
// safe to change during a write.
func (c *wsConn) SetWriteDeadline(t time.Time) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.ws.SetWriteDeadline(t)
}

func (c *wsConn) SetDeadline(t time.Time) error {
	if err := c.ws.SetReadDeadline(t); err != nil {
		return err
	}
	return c.SetWriteDeadline(t)
}
