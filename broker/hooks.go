package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
	"golang.org/x/time/rate"

	"github.com/outpost-iot/outpost/broker/auth"
)

// gate is the one mochi hook that decides who gets in and what they may do:
// authentication, topic ACLs, the per-client publish rate limit and the
// per-listener message counters. Mochi ORs the answers of every auth and
// ACL hook, so gate must be the only hook that answers them.
type gate struct {
	mqtt.HookBase
	srv     *Server
	limits  sync.Map // *mqtt.Client -> *rate.Limiter, only when a publish rate is set
	limit   rate.Limit
	burst   int
	stopped chan struct{} // closed at shutdown; wakes throttled readers
	agents  *mqttAgents   // nil without Options.Agents
}

func newGate(s *Server) *gate {
	g := &gate{srv: s, stopped: make(chan struct{})}
	if r := s.cfg.PublishRate; r > 0 {
		g.limit = rate.Limit(r)
		g.burst = s.cfg.PublishBurst
		if g.burst == 0 {
			g.burst = int(math.Max(1, math.Ceil(r)))
		}
	}
	return g
}

func (g *gate) ID() string { return "outpost-gate" }

func (g *gate) Provides(b byte) bool {
	switch b {
	case mqtt.OnConnect, mqtt.OnConnectAuthenticate, mqtt.OnACLCheck, mqtt.OnSessionEstablished,
		mqtt.OnDisconnect, mqtt.OnPacketRead, mqtt.OnPacketSent:
		return true
	case mqtt.OnPublish, mqtt.OnSubscribe, mqtt.OnSubscribed, mqtt.OnUnsubscribed, mqtt.OnPacketProcessed:
		return g.agents != nil
	}
	return false
}

// OnConnect authenticates the client. It runs before mochi's own
// authentication step so that a refusal can be "not authorized", as
// Mosquitto answers (CONNACK 0x05 in MQTT 3.1.1, 0x87 in MQTT 5), rather
// than mochi's "bad user name or password".
func (g *gate) OnConnect(cl *mqtt.Client, pk packets.Packet) error {
	if limit := uint16(g.srv.cfg.KeepaliveMax / time.Second); limit > 0 && (cl.State.Keepalive == 0 || cl.State.Keepalive > limit) {
		// [MQTT-3.2.2-21]: the client must use the Server Keep Alive.
		cl.State.Keepalive = limit
		cl.State.ServerKeepalive = true
	}
	user, pass := string(pk.Connect.Username), string(pk.Connect.Password)
	if g.agents != nil {
		// docs/protocol.md rule 6.2: the options come from the MQTT 5 user
		// properties and a query appended to the username, which is
		// stripped before authentication and ACLs see the name.
		if _, err := connectPolicy(pk.Connect.Username, pk.Properties.User); err != nil {
			return g.refuseOptions(cl, err)
		}
		user, _, _ = splitUsername(user)
		cl.Properties.Username = []byte(user)
		if user == "" {
			cl.Properties.Username = nil
		}
	}
	store := g.srv.store.Load()
	if store == nil {
		return nil // open gateway: credentials sent anyway are ignored
	}
	if user == "" && !pk.Connect.PasswordFlag {
		if g.srv.cfg.AllowAnonymous {
			cl.Properties.Username = nil
			return nil
		}
		return g.refuse(cl, "anonymous client refused", errors.New("no credentials"))
	}
	id, err := store.Authenticate(user, pass)
	if err != nil {
		return g.refuse(cl, "mqtt authentication failed", err)
	}
	// A client that logged in with a bare token becomes that token's user,
	// so %u rules and restored sessions see the real name.
	cl.Properties.Username = []byte(id.User)
	return nil
}

func (g *gate) refuse(cl *mqtt.Client, msg string, err error) error {
	g.srv.metrics.of(cl.Net.Listener).authFails.Inc()
	g.srv.log.Warn(msg, "client", cl.ID, "user", string(cl.Properties.Username), "remote", cl.Net.Remote, "listener", cl.Net.Listener, "error", err)
	code := packets.ErrNotAuthorized
	if cl.Properties.ProtocolVersion < 5 {
		// Mochi maps only this code to MQTT 3.1.1's 0x05 "not authorised".
		code = packets.ErrBadUsernameOrPassword
	}
	_ = g.srv.mqtt.SendConnack(cl, code, false, nil)
	return packets.ErrNotAuthorized
}

// refuseOptions refuses a CONNECT with invalid connection options (rule
// 6.2): MQTT 5 gets CONNACK 0x80 with a reason string naming the option;
// MQTT 3.1.1, which can only send options in the username, gets 0x04 "bad
// user name or password" (the username is malformed) and the reason is
// logged.
func (g *gate) refuseOptions(cl *mqtt.Client, err error) error {
	g.srv.log.Warn("mqtt connection options refused", "client", cl.ID, "remote", cl.Net.Remote, "listener", cl.Net.Listener, "error", err)
	code := packets.Code{Code: packets.ErrUnspecifiedError.Code, Reason: err.Error()}
	if cl.Properties.ProtocolVersion < 5 {
		code = packets.ErrMalformedUsername // mochi maps it to 3.1.1's 0x04
	}
	_ = g.srv.mqtt.SendConnack(cl, code, false, nil)
	return fmt.Errorf("connection options: %w", err)
}

// OnConnectAuthenticate admits every client OnConnect let through.
func (g *gate) OnConnectAuthenticate(*mqtt.Client, packets.Packet) bool { return true }

// identity is who the client authenticated as, derived from the username
// that OnConnect fixed (also for sessions restored after a restart).
func identity(cl *mqtt.Client) auth.Identity {
	if len(cl.Properties.Username) == 0 {
		return auth.Identity{Anonymous: true}
	}
	return auth.Identity{User: string(cl.Properties.Username)}
}

// OnACLCheck answers for publishes (write), subscriptions (a filter) and
// every single delivery (a topic), with the rules loaded now, so a reload
// applies to connected clients at once.
func (g *gate) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool {
	if cl.Net.Inline {
		return true
	}
	if write && g.agents != nil && g.agents.isOut(topic) {
		return false // rule 7.2: only the gateway writes /out
	}
	store := g.srv.store.Load()
	if store == nil {
		return true
	}
	id := identity(cl)
	if write {
		return store.CanPublish(id, cl.ID, topic)
	}
	// Mochi asks with the filter at SUBSCRIBE time and with the topic at
	// each delivery; a filter check also answers a concrete topic correctly.
	return store.CanSubscribe(id, cl.ID, topic) || store.CanRead(id, cl.ID, topic)
}

func (g *gate) OnSessionEstablished(cl *mqtt.Client, pk packets.Packet) {
	g.srv.metrics.of(cl.Net.Listener).conns.Inc()
	g.srv.metrics.of(cl.Net.Listener).connsTotal.Inc()
	if g.agents != nil {
		g.agents.established(cl, pk)
	}
}

// OnPublish hands publishes to agents' /in topics to the agents (rule 7.1).
func (g *gate) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if cl.Net.Inline {
		return pk, nil
	}
	return g.agents.publish(cl, pk)
}

// OnSubscribe refuses subscriptions to unknown agent classes (rule 7.3).
func (g *gate) OnSubscribe(cl *mqtt.Client, pk packets.Packet) packets.Packet {
	if cl.Net.Inline {
		return pk
	}
	return g.agents.subscribe(cl, pk)
}

// OnSubscribed and OnPacketProcessed join the agents whose /out topic a
// SUBSCRIBE granted, after the SUBACK (rule 7.3).
func (g *gate) OnSubscribed(cl *mqtt.Client, pk packets.Packet, codes []byte) {
	if !cl.Net.Inline {
		g.agents.subscribed(cl, pk, codes)
	}
}

func (g *gate) OnPacketProcessed(cl *mqtt.Client, pk packets.Packet, err error) {
	if !cl.Net.Inline {
		g.agents.processed(cl, pk, err)
	}
}

// OnUnsubscribed leaves the agents whose /out topic the client left.
func (g *gate) OnUnsubscribed(cl *mqtt.Client, pk packets.Packet) {
	if !cl.Net.Inline {
		g.agents.unsubscribed(cl, pk)
	}
}

func (g *gate) OnDisconnect(cl *mqtt.Client, err error, _ bool) {
	if cl.Net.Conn != nil { // sessions restored from disk were never connected
		g.srv.metrics.of(cl.Net.Listener).conns.Dec()
	}
	if g.limit > 0 {
		g.limits.Delete(cl)
	}
	if g.agents != nil {
		g.agents.disconnected(cl)
	}
	g.srv.log.Debug("mqtt client disconnected", "client", cl.ID, "listener", cl.Net.Listener, "error", err)
}

// OnPacketRead counts publishes and applies the publish rate limit by
// delaying the client's reader: the client is slowed down through TCP flow
// control and nothing it sent is dropped.
func (g *gate) OnPacketRead(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if pk.FixedHeader.Type != packets.Publish {
		return pk, nil
	}
	g.srv.metrics.of(cl.Net.Listener).msgsIn.Inc()
	if g.limit == 0 {
		return pk, nil
	}
	v, ok := g.limits.Load(cl)
	if !ok {
		v, _ = g.limits.LoadOrStore(cl, rate.NewLimiter(g.limit, g.burst))
	}
	if d := v.(*rate.Limiter).Reserve().Delay(); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-g.stopped:
			t.Stop()
		}
	}
	return pk, nil
}

func (g *gate) OnPacketSent(cl *mqtt.Client, pk packets.Packet, _ []byte) {
	if pk.FixedHeader.Type == packets.Publish {
		g.srv.metrics.of(cl.Net.Listener).msgsOut.Inc()
	}
}

// quiet gives mochi a logger that only passes warnings and errors: Outpost
// logs connections itself, and mochi logs every start, stop and disconnect
// at info level.
func quiet(log *slog.Logger) *slog.Logger {
	return slog.New(minLevel{log.Handler(), slog.LevelWarn}).With("component", "mqtt")
}

type minLevel struct {
	slog.Handler
	min slog.Level
}

func (h minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h minLevel) WithAttrs(a []slog.Attr) slog.Handler {
	return minLevel{h.Handler.WithAttrs(a), h.min}
}
func (h minLevel) WithGroup(n string) slog.Handler { return minLevel{h.Handler.WithGroup(n), h.min} }
