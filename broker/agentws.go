package broker

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/outpost-iot/outpost/wire"
)

// Timeouts of agent WebSockets.
const (
	// wsWriteWait bounds one frame's write to a client; a client that
	// reads nothing for this long is disconnected.
	wsWriteWait = 10 * time.Second
	// wsCloseGrace is how long the gateway waits for the client's answer
	// to a close frame before it drops the connection.
	wsCloseGrace = 5 * time.Second
	// wsOversizedLimit is how many oversized messages a socket may send
	// before it is closed with 1009 (rule 8.3).
	wsOversizedLimit = 3
	// wsDrainFactor times ws_max_frame is the most of an oversized message
	// the gateway reads and discards before it closes with 1009.
	wsDrainFactor = 16
)

// agentSockets tracks the open agent WebSockets, so that shutdown can close
// them with 1001 and wait for their goroutines (rule 8.6).
type agentSockets struct {
	mu     sync.Mutex
	closed bool
	conns  map[*agentSocket]struct{}
	wg     sync.WaitGroup // one per socket (its reader) and one per writer
	seq    atomic.Uint64
}

func newAgentSockets() *agentSockets {
	return &agentSockets{conns: map[*agentSocket]struct{}{}}
}

func (a *agentSockets) add(s *agentSocket) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return false
	}
	a.conns[s] = struct{}{}
	a.wg.Add(2)
	return true
}

func (a *agentSockets) remove(s *agentSocket) {
	a.mu.Lock()
	delete(a.conns, s)
	a.mu.Unlock()
}

// close sends every socket a 1001 close frame after its queued frames and
// waits for its goroutines; after wsCloseGrace, or at ctx's deadline, it
// drops the connections left.
func (a *agentSockets) close(ctx context.Context) {
	a.mu.Lock()
	a.closed = true
	for s := range a.conns {
		s.requestClose(websocket.CloseGoingAway, "server shutting down", false)
	}
	a.mu.Unlock()
	done := make(chan struct{})
	go func() { a.wg.Wait(); close(done) }()
	grace := time.NewTimer(wsCloseGrace) // a writer may be stuck on a client that reads nothing
	defer grace.Stop()
	select {
	case <-done:
		return
	case <-grace.C:
	case <-ctx.Done():
	}
	a.mu.Lock()
	for s := range a.conns {
		s.ws.NetConn().Close()
	}
	a.mu.Unlock()
	<-done
}

// agentPath splits an escaped /agents/{class}/{name}[/rest] path; the name
// is percent-decoded (DESIGN.md: any non-empty string).
func agentPath(escaped string) (wire.Address, bool) {
	rest, ok := strings.CutPrefix(escaped, "/agents/")
	if !ok {
		return wire.Address{}, false
	}
	class, rest, _ := strings.Cut(rest, "/")
	rawName, _, _ := strings.Cut(rest, "/")
	name, err := url.PathUnescape(rawName)
	if err != nil || class == "" || name == "" {
		return wire.Address{}, false
	}
	return wire.Address{Class: class, Name: name}, true
}

// wsOptions reads the connection options of an agent WebSocket's query
// (rule 8.2): codec json (default) or cbor, protocol true (default) or
// false.
func wsOptions(q url.Values) (wire.Options, error) {
	o := wire.Options{Codec: wire.JSON, Protocol: true}
	if v := q.Get("codec"); v != "" {
		if err := applyOption(optCodec, v, &o); err != nil {
			return o, err
		}
	}
	if v := q.Get("protocol"); v != "" {
		if err := applyOption(optProtocol, v, &o); err != nil {
			return o, err
		}
	}
	return o, nil
}

// newConnID returns a random UUID (version 4), the connection id of a
// socket that brought no _pk.
func newConnID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// serveAgent is /agents/{class}/{name}[/rest] (docs/protocol.md §8): a
// WebSocket upgrade joins the agent; any other request goes to the agent's
// HTTP handler. Unknown classes get 404 and ACL refusals 403, before any
// upgrade.
func (s *Server) serveAgent(w http.ResponseWriter, r *http.Request) {
	agents := s.opts.Agents
	addr, ok := agentPath(r.URL.EscapedPath())
	if !ok {
		writeError(w, http.StatusNotFound, "not found: want /agents/{agent}/{name}")
		return
	}
	if !agents.KnownClass(addr.Class) {
		writeError(w, http.StatusNotFound, "unknown agent class "+addr.Class)
		return
	}
	q := r.URL.Query()
	connID := q.Get("_pk")
	if connID == "" {
		connID = newConnID()
	}
	id, _ := IdentityFrom(r.Context())
	user := ""
	if store := s.store.Load(); store != nil {
		user = id.User
		if !store.CanReachAgent(id, connID, addr.Class, addr.Name) {
			writeError(w, http.StatusForbidden, "forbidden: no access to agent "+addr.String())
			return
		}
	}
	if !websocket.IsWebSocketUpgrade(r) {
		// Rule 8.5: browsers on an allowed origin may call agents' HTTP
		// handlers (get-messages) cross-origin; other origins are refused.
		if origin := r.Header.Get("Origin"); origin != "" {
			if !s.CheckOrigin(r) {
				writeError(w, http.StatusForbidden, "forbidden: origin not allowed")
				return
			}
			h := w.Header()
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Allow-Credentials", "true")
			h.Add("Vary", "Origin")
		}
		agents.ServeAgentHTTP(w, r, addr) // rule 8.5
		return
	}
	opts, err := wsOptions(q)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	ws := s.upgrade(w, r, nil)
	if ws == nil {
		return
	}
	sock := &agentSocket{
		srv: s, ws: ws, addr: addr,
		key:      fmt.Sprintf("ws#%d", s.sockets.seq.Add(1)),
		queue:    make(chan wsMessage, s.cfg.MaxQueued),
		closeReq: make(chan closeRequest, 1),
		closing:  make(chan struct{}),
		done:     make(chan struct{}),
	}
	sock.join = wire.Join{
		Key: sock.key, ID: connID, Agent: addr, Transport: wire.WebSocket, User: user,
		Options: opts, Request: r,
	}
	sock.serve()
}

// agentSocket is one agent WebSocket: the handler goroutine reads, one
// writer goroutine writes what the agent queued (rule 8.6).
type agentSocket struct {
	srv  *Server
	ws   *websocket.Conn
	key  string
	addr wire.Address
	join wire.Join // Out unset: the From of each Receive

	queue     chan wsMessage
	closeReq  chan closeRequest
	closeOnce sync.Once
	closing   chan struct{} // closed once a close frame is on its way
	done      chan struct{} // closed when the reader ends
}

type wsMessage struct {
	data   []byte
	binary bool
}

func (s *agentSocket) serve() {
	socks := s.srv.sockets
	if !socks.add(s) {
		_ = s.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, "server shutting down"), time.Now().Add(time.Second))
		s.ws.Close()
		return
	}
	defer socks.wg.Done()
	defer socks.remove(s)
	go s.writeLoop()
	defer s.ws.Close()
	defer close(s.done)

	agents := s.srv.opts.Agents
	join := s.join
	join.Out = s
	if err := agents.Join(s.srv.agentCtx, join); err != nil {
		s.srv.log.Warn("agent websocket join failed", "agent", s.addr.String(), "error", err)
		s.closeNow(joinCloseCode(err), err.Error())
		return
	}
	m := s.srv.metrics.agents
	m.wsConns.Inc()
	defer m.wsConns.Dec()
	defer agents.Leave(s.key, s.addr)
	s.readLoop()
}

// joinCloseCode is the close code for a failed join.
func joinCloseCode(err error) int {
	switch {
	case errors.Is(err, wire.ErrLimit), errors.Is(err, wire.ErrBusy):
		return websocket.CloseTryAgainLater
	case errors.Is(err, wire.ErrClosed):
		return websocket.CloseGoingAway
	case errors.Is(err, wire.ErrUnknownAgent):
		return websocket.ClosePolicyViolation
	}
	return websocket.CloseInternalServerErr
}

// readLoop hands each message to the agent until the socket closes.
func (s *agentSocket) readLoop() {
	agents, m := s.srv.opts.Agents, s.srv.metrics.agents
	limit := int64(s.srv.cfg.WSMaxFrame)
	oversized := 0
	for {
		kind, rd, err := s.ws.NextReader()
		if err != nil {
			return
		}
		data, err := io.ReadAll(io.LimitReader(rd, limit+1))
		if err != nil {
			return
		}
		binary := kind == websocket.BinaryMessage
		tooBig := int64(len(data)) > limit
		if !tooBig && !binary && string(data) == "ping" {
			// Rule 8.4: answered here, so a keepalive never wakes an agent.
			_ = s.Write([]byte("pong"), false)
			continue
		}
		drainedAll := true
		if tooBig {
			// Rule 8.3: the agent side reports the error in the client's
			// codec; the rest of the message is read and discarded.
			oversized++
			n, _ := io.CopyN(io.Discard, rd, wsDrainFactor*limit+1)
			drainedAll = n <= wsDrainFactor*limit
		}
		m.ws.in.Inc()
		r := wire.Receive{Key: s.key, From: s.join, Data: data, Binary: binary}
		if err := agents.Receive(s.srv.agentCtx, r); err != nil {
			m.ws.errors.Inc()
			s.srv.log.Debug("agent websocket frame refused", "agent", s.addr.String(), "key", s.key, "error", err)
		}
		if tooBig && (oversized >= wsOversizedLimit || !drainedAll) {
			s.closeNow(websocket.CloseMessageTooBig, "message too big")
			// Read on until the client answers the close frame (or
			// wsCloseGrace passes): closing a socket with unread input
			// resets it, and the client might never see the close code.
			for {
				if _, _, err := s.ws.NextReader(); err != nil {
					return
				}
			}
		}
	}
}

// Write queues a frame for the writer without blocking. When the queue
// (max_queued frames) is full the client is too slow: the socket is closed
// with 1008 and the frame dropped (rule 8.6).
func (s *agentSocket) Write(data []byte, binary bool) error {
	select {
	case <-s.closing:
		return wire.ErrClosed
	case <-s.done:
		return wire.ErrClosed
	default:
	}
	select {
	case s.queue <- wsMessage{data: append([]byte(nil), data...), binary: binary}:
		return nil
	default:
		s.srv.metrics.agents.ws.dropped.Inc()
		s.requestClose(websocket.ClosePolicyViolation, "client too slow", true)
		return wire.ErrSlowConsumer
	}
}

// Close sends a close frame after the frames already queued.
func (s *agentSocket) Close(code int, reason string) error {
	select {
	case <-s.done:
		return wire.ErrClosed
	default:
	}
	s.requestClose(code, reason, false)
	return nil
}

// requestClose asks the writer to close the socket; now skips the frames
// still queued.
func (s *agentSocket) requestClose(code int, reason string, now bool) {
	select {
	case s.closeReq <- closeRequest{code: code, reason: reason, now: now}:
	default: // a close is already pending
	}
}

func (s *agentSocket) writeLoop() {
	defer s.srv.sockets.wg.Done()
	for {
		select {
		case msg := <-s.queue:
			if err := s.write(msg); err != nil {
				s.ws.NetConn().Close() // ends the reader
				return
			}
		case r := <-s.closeReq:
			if !r.now {
				for flushed := false; !flushed; {
					select {
					case msg := <-s.queue:
						if s.write(msg) != nil {
							flushed = true
						}
					default:
						flushed = true
					}
				}
			}
			s.closeNow(r.code, r.reason)
			return
		case <-s.done:
			return
		}
	}
}

func (s *agentSocket) write(msg wsMessage) error {
	kind := websocket.TextMessage
	if msg.binary {
		kind = websocket.BinaryMessage
	}
	_ = s.ws.SetWriteDeadline(time.Now().Add(wsWriteWait))
	if err := s.ws.WriteMessage(kind, msg.data); err != nil {
		s.srv.metrics.agents.ws.dropped.Inc()
		return err
	}
	s.srv.metrics.agents.ws.out.Inc()
	return nil
}

// validCloseCode reports whether a close frame may carry code (RFC 6455
// §7.4: 1004, 1005, 1006 and 1015 are reserved; 3000-4999 are for
// libraries and applications).
func validCloseCode(code int) bool {
	switch {
	case code >= 1000 && code <= 1014:
		return code != 1004 && code != 1005 && code != 1006
	case code >= 3000 && code <= 4999:
		return true
	}
	return false
}

// closeNow sends a close frame (WriteControl may run beside the writer)
// and gives the client wsCloseGrace to answer before the reader gives up.
func (s *agentSocket) closeNow(code int, reason string) {
	s.closeOnce.Do(func() {
		close(s.closing)
		if !validCloseCode(code) {
			code = websocket.CloseNormalClosure
		}
		if len(reason) > 120 { // a control frame carries at most 125 bytes
			reason = reason[:120]
		}
		_ = s.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(time.Second))
		_ = s.ws.SetReadDeadline(time.Now().Add(wsCloseGrace))
	})
}

// corsPreflight answers a browser's CORS preflight for an agent's HTTP
// route (rule 8.5). Preflights carry no credentials, so this runs before
// authentication; the request that follows is authenticated as usual.
func (s *Server) corsPreflight(w http.ResponseWriter, r *http.Request) {
	if !s.CheckOrigin(r) {
		writeError(w, http.StatusForbidden, "forbidden: origin not allowed")
		return
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", r.Header.Get("Origin"))
	h.Set("Access-Control-Allow-Credentials", "true")
	h.Set("Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE, OPTIONS")
	if req := r.Header.Get("Access-Control-Request-Headers"); req != "" {
		h.Set("Access-Control-Allow-Headers", req)
	}
	h.Set("Access-Control-Max-Age", "86400")
	h.Add("Vary", "Origin")
	w.WriteHeader(http.StatusNoContent)
}

// isAgentPreflight reports whether r is a CORS preflight for /agents/.
func isAgentPreflight(r *http.Request) bool {
	return r.Method == http.MethodOptions && strings.HasPrefix(r.URL.Path, "/agents/") &&
		r.Header.Get("Origin") != "" && r.Header.Get("Access-Control-Request-Method") != ""
}
