package broker

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/outpost-iot/outpost/broker/auth"
)

// Options are the collaborators a Server needs besides its Config.
type Options struct {
	// DataDir is the gateway's data directory; the broker keeps its
	// session store in DataDir/broker.
	DataDir string
	// Logger receives the broker's logs. Default: slog.Default().
	Logger *slog.Logger
	// Registry receives the broker's metrics and is what /metrics serves.
	// Default: a new registry.
	Registry *prometheus.Registry
	// Agents receives agent traffic: MQTT clients joining agents through
	// their /out topics and publishing to their /in topics, and the
	// WebSockets and HTTP requests at /agents/{agent}/{name}
	// (docs/protocol.md §6 to §8). Nil: /agents/ answers 501 and agent
	// topics are plain MQTT topics.
	Agents Agents
}

// Listener ids, as they appear in logs and in the listener label of metrics.
const (
	ListenerMQTT = "mqtt" // MQTT over TCP, or TLS when configured
	ListenerWS   = "ws"   // MQTT over WebSocket at /mqtt
)

// Server is the network edge: the MQTT broker and the HTTP port.
type Server struct {
	cfg     Config
	opts    Options
	log     *slog.Logger
	mqtt    *mqtt.Server
	gate    *gate
	metrics *metrics
	store   atomic.Pointer[auth.Store] // nil when the gateway is open
	cert    atomic.Pointer[tls.Certificate]

	routes map[string]http.Handler // extra HTTP routes, set before Start

	// Agent traffic, when Options.Agents is set: agentCtx ends waiting
	// Receives and Joins at shutdown.
	agentCtx    context.Context
	agentCancel context.CancelFunc
	sockets     *agentSockets

	mqttLn *listener
	wsLn   *listener
	http   *http.Server
	httpLn net.Listener
	httpWG sync.WaitGroup

	closeOnce sync.Once
	closeErr  error
	started   bool
}

// New checks the configuration and builds a Server. It binds nothing.
func New(cfg Config, opts Options) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Registry == nil {
		opts.Registry = prometheus.NewRegistry()
	}
	if opts.DataDir == "" {
		return nil, errors.New("broker: no data directory")
	}
	return &Server{cfg: cfg, opts: opts, log: opts.Logger, routes: map[string]http.Handler{}}, nil
}

// Handle mounts an HTTP handler on the gateway's HTTP port, behind the same
// authentication as every other route. The pattern is an http.ServeMux
// pattern. It must be called before Start.
func (s *Server) Handle(pattern string, h http.Handler) {
	if s.started {
		panic("broker: Handle after Start")
	}
	s.routes[pattern] = h
}

// Start loads credentials and certificates, opens the session store, binds
// the MQTT and HTTP ports and starts serving. If any step fails, what was
// started is stopped again.
func (s *Server) Start(ctx context.Context) (err error) {
	s.started = true
	if err := s.loadCredentials(); err != nil {
		return err
	}
	var tlsConfig *tls.Config
	if s.cfg.TLSCert != "" {
		if err := s.loadCert(); err != nil {
			return err
		}
		tlsConfig = &tls.Config{
			MinVersion: tls.VersionTLS12,
			GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
				return s.cert.Load(), nil
			},
		}
	}

	s.mqtt = mqtt.New(&mqtt.Options{
		Capabilities:           s.capabilities(),
		Logger:                 quiet(s.log),
		SysTopicResendInterval: int64(max(s.cfg.SysInterval/time.Second, 1)),
		InlineClient:           true,
		// Larger than mochi's 2 KiB: a busy subscriber's queued messages
		// are coalesced into one write up to this size (fewer syscalls),
		// and a publisher's burst is read with fewer syscalls. The write
		// buffer exists only while a client has a backlog; the read buffer
		// is per connection (4 KiB x 10,000 clients = 40 MiB).
		ClientNetWriteBufferSize: 32 << 10,
		ClientNetReadBufferSize:  4 << 10,
	})
	if s.cfg.SysInterval == 0 {
		// Mochi has no "off": publish so rarely it never matters.
		s.mqtt.Options.SysTopicResendInterval = math.MaxInt32
	}
	m, err := newMetrics(s.opts.Registry, s.mqtt, []string{ListenerMQTT, ListenerWS})
	if err != nil {
		return fmt.Errorf("register metrics: %w", err)
	}
	s.metrics = m
	s.gate = newGate(s)
	s.agentCtx, s.agentCancel = context.WithCancel(context.WithoutCancel(ctx))
	if s.opts.Agents != nil {
		s.gate.agents = newMQTTAgents(s, s.agentCtx)
		s.sockets = newAgentSockets()
	}
	if err := s.mqtt.AddHook(s.gate, nil); err != nil {
		return fmt.Errorf("add auth hook: %w", err)
	}

	dir := filepath.Join(s.opts.DataDir, "broker", "sessions")
	if err := os.MkdirAll(filepath.Dir(dir), 0o750); err != nil {
		return fmt.Errorf("create broker data dir: %w", err)
	}
	sessions := newSessionStore()
	if err := s.mqtt.AddHook(sessions, sessionStoreOptions(dir)); err != nil {
		return fmt.Errorf("open session store %s: %w", dir, err)
	}
	defer func() {
		if err != nil { // roll back: listeners, then mochi and the store
			s.stop()
			if s.httpLn != nil {
				s.httpLn.Close()
			}
			s.mqtt.Close()
		}
	}()

	host := s.cfg.Listen
	mqttAddr := net.JoinHostPort(host, strconv.Itoa(s.cfg.MQTTPort))
	ln, err := net.Listen("tcp", mqttAddr)
	if err != nil {
		return fmt.Errorf("listen mqtt %s: %w", mqttAddr, err)
	}
	s.mqttLn = newListener(ListenerMQTT, ln, tlsConfig, s.mqtt.EstablishConnection, s.cfg.ConnectTimeout, s.metrics.of(ListenerMQTT), s.log)
	s.wsLn = newListener(ListenerWS, nil, nil, s.mqtt.EstablishConnection, s.cfg.ConnectTimeout, s.metrics.of(ListenerWS), s.log)

	httpAddr := net.JoinHostPort(host, strconv.Itoa(s.cfg.HTTPPort))
	hln, err := net.Listen("tcp", httpAddr)
	if err != nil {
		return fmt.Errorf("listen http %s: %w", httpAddr, err)
	}
	if tlsConfig != nil {
		hln = tls.NewListener(hln, tlsConfig)
	}
	s.httpLn = hln

	for _, l := range []*listener{s.mqttLn, s.wsLn} {
		if err := s.mqtt.AddListener(l); err != nil {
			return fmt.Errorf("add listener %s: %w", l.id, err)
		}
	}
	if err := s.mqtt.Serve(); err != nil {
		return fmt.Errorf("start mqtt: %w", err)
	}

	s.http = &http.Server{
		Handler:           s.handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	s.httpWG.Add(1)
	go func() {
		defer s.httpWG.Done()
		if err := s.http.Serve(hln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("http server stopped", "error", err)
		}
	}()

	scheme := "tcp"
	if tlsConfig != nil {
		scheme = "tls"
	}
	s.log.Info("gateway listening",
		"mqtt", scheme+"://"+s.MQTTAddr().String(),
		"http", s.httpURL(tlsConfig != nil),
		"auth", s.authMode())
	return nil
}

func (s *Server) httpURL(tls bool) string {
	if tls {
		return "https://" + s.HTTPAddr().String()
	}
	return "http://" + s.HTTPAddr().String()
}

func (s *Server) authMode() string {
	switch {
	case s.cfg.open():
		return "open (no credentials file; anyone on " + s.cfg.Listen + " may connect)"
	case s.cfg.AllowAnonymous:
		return "credentials, anonymous allowed"
	}
	return "credentials required"
}

// capabilities turns the Config into mochi's settings, overriding mochi's
// defaults deliberately (docs/protocol.md, "Broker limits").
func (s *Server) capabilities() *mqtt.Capabilities {
	c := mqtt.NewDefaultServerCapabilities()
	c.MaximumPacketSize = uint32(s.cfg.MQTTMaxFrame + PacketOverhead)
	c.MaximumClients = math.MaxInt64
	if s.cfg.MaxClients > 0 {
		c.MaximumClients = int64(s.cfg.MaxClients)
	}
	c.MaximumInflight = uint16(s.cfg.MaxInflight)
	c.MaximumClientWritesPending = int32(s.cfg.MaxQueued)
	c.ReceiveMaximum = uint16(s.cfg.ReceiveMaximum)
	// Mochi stamps a 24 h expiry on every stored message by default.
	c.MaximumMessageExpiryInterval = int64(s.cfg.MessageExpiryMax / time.Second)
	c.MaximumSessionExpiryInterval = math.MaxUint32
	if s.cfg.SessionExpiryMax > 0 {
		c.MaximumSessionExpiryInterval = uint32(s.cfg.SessionExpiryMax / time.Second)
	}
	// Without this, mochi copies a publisher's MQTT 5 user properties into
	// the PUBACK together with a bad reason code and strict clients
	// (mqtt.js) never complete the publish (mochi issue #474).
	c.Compatibilities.NoInheritedPropertiesOnAck = true
	return c
}

// MQTTAddr is the bound MQTT address (useful with port 0).
func (s *Server) MQTTAddr() net.Addr { return s.mqttLn.ln.Addr() }

// HTTPAddr is the bound HTTP address.
func (s *Server) HTTPAddr() net.Addr { return s.httpLn.Addr() }

// Reload re-reads the credentials file and the TLS certificate. Connections
// stay up; their next access check uses the new rules. On error the old
// credentials stay in force.
func (s *Server) Reload() error {
	var errs []error
	if err := s.loadCredentials(); err != nil {
		errs = append(errs, err)
	}
	if s.cfg.TLSCert != "" {
		if err := s.loadCert(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	s.log.Info("reloaded credentials and certificates")
	return nil
}

func (s *Server) loadCredentials() error {
	if s.cfg.Credentials == "" {
		return nil
	}
	store, err := auth.Load(s.cfg.Credentials, s.cfg.TopicPrefix)
	if err != nil {
		return err
	}
	s.store.Store(store)
	s.log.Info("credentials loaded", "file", s.cfg.Credentials, "users", store.Len())
	return nil
}

func (s *Server) loadCert() error {
	c, err := tls.LoadX509KeyPair(s.cfg.TLSCert, s.cfg.TLSKey)
	if err != nil {
		return fmt.Errorf("load tls_cert/tls_key: %w", err)
	}
	s.cert.Store(&c)
	return nil
}

// Close stops accepting, tells every client the server is shutting down,
// waits for every connection to finish, and closes the session store so
// everything acknowledged is on disk. It is idempotent; ctx bounds the wait
// for connections.
func (s *Server) Close(ctx context.Context) error {
	s.closeOnce.Do(func() {
		if s.mqtt == nil || s.http == nil {
			return
		}
		hctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if err := s.http.Shutdown(hctx); err != nil {
			s.http.Close()
		}
		s.stop()
		if s.sockets != nil {
			s.sockets.close(ctx) // rule 8.6: 1001, then wait
		}
		s.drain(ctx)
		if s.gate.agents != nil {
			s.gate.agents.wait(ctx)
		}
		s.httpWG.Wait()
		s.closeErr = s.mqtt.Close()
		s.log.Info("mqtt broker stopped")
	})
	return s.closeErr
}

// stop refuses new connections on every listener and ends the waits of
// publishes that agents are processing.
func (s *Server) stop() {
	if s.agentCancel != nil {
		s.agentCancel()
	}
	if s.gate != nil {
		select {
		case <-s.gate.stopped:
		default:
			close(s.gate.stopped)
		}
	}
	for _, l := range []*listener{s.mqttLn, s.wsLn} {
		if l != nil {
			l.stopAccepting()
		}
	}
}

// drain disconnects every connected client and waits for its connection
// goroutine, so mochi's Close finds nothing in flight.
//
// The DISCONNECTs are sent concurrently: one may wait for the client's
// write lock, held by a writer stuck on a client that reads nothing, until
// its connection is closed after disconnectGrace.
func (s *Server) drain(ctx context.Context) {
	var disconnects sync.WaitGroup
	for _, cl := range s.mqtt.Clients.GetAll() {
		if cl.Net.Conn != nil && !cl.Net.Inline && !cl.Closed() {
			disconnects.Add(1)
			go func() {
				defer disconnects.Done()
				_ = s.mqtt.DisconnectClient(cl, packets.ErrServerShuttingDown)
			}()
		}
	}
	sent := make(chan struct{})
	go func() { disconnects.Wait(); close(sent) }()
	grace := time.NewTimer(disconnectGrace)
	select {
	case <-sent:
	case <-grace.C:
	case <-ctx.Done():
	}
	grace.Stop()
	done := make(chan struct{})
	go func() {
		for _, l := range []*listener{s.mqttLn, s.wsLn} {
			l.closeConns()
			l.wg.Wait()
		}
		<-sent
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		s.log.Warn("shutdown: connections still open at deadline")
	}
}

// disconnectGrace is how long shutdown lets DISCONNECTs reach clients
// before it closes their connections.
const disconnectGrace = 2 * time.Second

// MochiVersion is the version of the embedded mochi-mqtt broker.
const MochiVersion = mqtt.Version
