package broker

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/outpost-iot/outpost/wire"
)

// ReceiveTimeout bounds how long a QoS 1 or 2 publish to an agent's /in
// topic waits for the agent (docs/protocol.md rule 7.5): the publisher's
// connection reads nothing else meanwhile, so a stuck agent must not hold
// it forever. After it, the publish is refused with 0x80.
const ReceiveTimeout = 30 * time.Second

// mqttAgents connects MQTT clients to agents (docs/protocol.md §7). The
// gate hook calls it at each step of a connection's life:
//
//   - OnSessionEstablished: fix the connection's policy (rule 6.2) and
//     rejoin the agents whose /out the restored session subscribes to
//     (rule 7.3);
//   - SUBSCRIBE to an exact /out topic: refuse unknown classes (0x8F),
//     join once the SUBACK is sent (rule 7.3); UNSUBSCRIBE leaves;
//   - PUBLISH to /in: hand the payload to Agents.Receive on the
//     publisher's read goroutine, acknowledge afterwards, never forward or
//     retain it (rules 7.1, 7.4, 7.5, 7.6);
//   - disconnect: leave every agent, stop the connection's writer.
//
// Agent frames reach a joined client through its own bounded queue and
// writer goroutine (mqttConn), never through mochi's topic tree, so no other
// subscriber ever sees them.
type mqttAgents struct {
	srv    *Server
	agents Agents
	prefix string
	ctx    context.Context // canceled at shutdown: ends waiting Receives
	reply  *mqtt.Client    // inline client that publishes MQTT 5 replies

	conns sync.Map // *mqtt.Client -> *mqttConn, while connected
	seq   atomic.Uint64

	mu      sync.Mutex
	closing bool
	wg      sync.WaitGroup // writer goroutines
}

func newMQTTAgents(s *Server, ctx context.Context) *mqttAgents {
	return &mqttAgents{
		srv: s, agents: s.opts.Agents, prefix: s.cfg.TopicPrefix, ctx: ctx,
		reply: s.mqtt.NewClient(nil, "local", "outpost-agents", true),
	}
}

// agentTopic splits {prefix}/{class}/{name}/{in|out}; a name may contain
// '/', as in package auth. ok is false for any other topic, and for
// filters with wildcards.
func (m *mqttAgents) agentTopic(topic string) (addr wire.Address, dir string, ok bool) {
	rest, found := strings.CutPrefix(topic, m.prefix+"/")
	if !found || strings.ContainsAny(rest, "+#") {
		return addr, "", false
	}
	class, rest, found := strings.Cut(rest, "/")
	i := strings.LastIndexByte(rest, '/')
	if !found || class == "" || i <= 0 {
		return addr, "", false
	}
	dir = rest[i+1:]
	if dir != "in" && dir != "out" {
		return addr, "", false
	}
	return wire.Address{Class: class, Name: rest[:i]}, dir, true
}

// isOut reports whether topic is an agent's /out topic, which only the
// gateway writes (rule 7.2).
func (m *mqttAgents) isOut(topic string) bool {
	_, dir, ok := m.agentTopic(topic)
	return ok && dir == "out"
}

func (m *mqttAgents) conn(cl *mqtt.Client) *mqttConn {
	if v, ok := m.conns.Load(cl); ok {
		return v.(*mqttConn)
	}
	return nil
}

// user is the name agents see: the authenticated username, "" for
// anonymous clients and on an open gateway, where nobody authenticates.
func (m *mqttAgents) user(cl *mqtt.Client) string {
	if m.srv.store.Load() == nil {
		return ""
	}
	return string(cl.Properties.Username)
}

// established starts the connection's agent state with the policy fixed
// at CONNECT and rejoins the agents its restored session subscribes to
// (rule 7.3), checking the subscription against today's rules.
func (m *mqttAgents) established(cl *mqtt.Client, pk packets.Packet) {
	p, err := connectPolicy(pk.Connect.Username, pk.Properties.User)
	if err != nil { // OnConnect refused these already
		p = mqttPolicy{opts: mqttDefaults}
	}
	c := newMQTTConn(m, cl, p)
	m.conns.Store(cl, c)
	store := m.srv.store.Load()
	for filter, sub := range cl.State.Subscriptions.GetAll() {
		addr, dir, ok := m.agentTopic(filter)
		if !ok || dir != "out" {
			continue
		}
		switch {
		case !m.agents.KnownClass(addr.Class):
			m.srv.log.Warn("restored subscription names an unknown agent class; not rejoined", "client", cl.ID, "filter", filter)
		case store != nil && !store.CanSubscribe(identity(cl), cl.ID, filter):
			m.srv.log.Warn("restored subscription no longer allowed; not rejoined", "client", cl.ID, "filter", filter)
		default:
			c.join(addr, filter, sub.Qos)
		}
	}
}

// subscribe runs before mochi processes a SUBSCRIBE: an exact /out filter
// of an unknown class becomes an invalid filter, so the SUBACK says 0x8F
// (MQTT 3.1.1: 0x80) for it (rule 7.3).
func (m *mqttAgents) subscribe(cl *mqtt.Client, pk packets.Packet) packets.Packet {
	var filters packets.Subscriptions
	for i, sub := range pk.Filters {
		addr, dir, ok := m.agentTopic(sub.Filter)
		if !ok || dir != "out" || m.agents.KnownClass(addr.Class) {
			continue
		}
		if filters == nil { // the caller's packet shares the slice
			filters = append(packets.Subscriptions(nil), pk.Filters...)
		}
		filters[i].Filter = "" // invalid: [MQTT-4.7.3-1]
		m.srv.log.Debug("subscription to unknown agent class refused", "client", cl.ID, "filter", sub.Filter)
	}
	if filters != nil {
		pk.Filters = filters
	}
	return pk
}

// subscribed notes the /out subscriptions mochi granted; they are joined
// in processed, once the SUBACK is on its way.
func (m *mqttAgents) subscribed(cl *mqtt.Client, pk packets.Packet, codes []byte) {
	c := m.conn(cl)
	if c == nil {
		return
	}
	for i, sub := range pk.Filters {
		if i >= len(codes) || codes[i] >= packets.ErrUnspecifiedError.Code {
			continue
		}
		if addr, dir, ok := m.agentTopic(sub.Filter); ok && dir == "out" {
			c.pending = append(c.pending, pendingJoin{addr: addr, topic: sub.Filter, qos: codes[i]})
		}
	}
}

// processed joins what the SUBSCRIBE just granted (rule 7.3).
func (m *mqttAgents) processed(cl *mqtt.Client, pk packets.Packet, err error) {
	if pk.FixedHeader.Type != packets.Subscribe {
		return
	}
	c := m.conn(cl)
	if c == nil {
		return
	}
	pending := c.pending
	c.pending = nil
	if err != nil {
		return
	}
	for _, p := range pending {
		c.join(p.addr, p.topic, p.qos)
	}
}

// unsubscribed leaves the agents whose /out the client unsubscribed from.
func (m *mqttAgents) unsubscribed(cl *mqtt.Client, pk packets.Packet) {
	c := m.conn(cl)
	if c == nil {
		return
	}
	for _, sub := range pk.Filters {
		c.leave(sub.Filter)
	}
}

// disconnected leaves every agent and stops the connection's writer.
func (m *mqttAgents) disconnected(cl *mqtt.Client) {
	if v, ok := m.conns.LoadAndDelete(cl); ok {
		v.(*mqttConn).close()
	}
}

// publish handles a PUBLISH the ACL allowed, on the publisher's read
// goroutine. A publish to an agent's /in topic goes to Agents.Receive and
// is never forwarded or retained (rule 7.1): the returned CodeSuccessIgnore
// makes mochi acknowledge it normally but skip the topic tree and the
// retained store; ErrRejectPacket means the ack (with a reason code) was
// already written here.
func (m *mqttAgents) publish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	addr, dir, ok := m.agentTopic(pk.TopicName)
	if !ok {
		return pk, nil
	}
	if dir == "out" {
		// Rule 7.2 again: mochi checks the ACL before it resolves a topic
		// alias, so only here is the topic name certain.
		return m.refuse(cl, pk, packets.ErrNotAuthorized, nil)
	}
	if !m.agents.KnownClass(addr.Class) { // rule 7.6: 0x90 without calling Receive
		return m.refuse(cl, pk, packets.Code{Code: packets.ErrTopicNameInvalid.Code, Reason: "unknown agent class " + addr.Class}, wire.ErrUnknownAgent)
	}
	c := m.conn(cl)
	if c == nil { // not established (cannot happen: mochi reads after OnSessionEstablished)
		return pk, packets.CodeSuccessIgnore
	}
	r := wire.Receive{From: c.joinInfo(addr, ""), Data: pk.Payload, Binary: true, Wait: pk.FixedHeader.Qos > 0}
	if j := c.joined(pk.TopicName[:len(pk.TopicName)-len("in")] + "out"); j != nil {
		r.Key, r.From.Key = j.key, j.key
	}
	if rt := pk.Properties.ResponseTopic; rt != "" { // rule 7.4
		if reason := m.replyRefused(cl, rt); reason != "" {
			return m.refuse(cl, pk, packets.Code{Code: packets.ErrNotAuthorized.Code, Reason: reason}, nil)
		}
		r.Reply = &replySink{m: m, topic: rt, corr: append([]byte(nil), pk.Properties.CorrelationData...)}
	}
	ctx := m.ctx
	if r.Wait {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, ReceiveTimeout)
		defer cancel()
	}
	m.srv.metrics.agents.mqtt.in.Inc()
	if err := m.agents.Receive(ctx, r); err != nil {
		return m.refuse(cl, pk, receiveCode(err), err)
	}
	return pk, packets.CodeSuccessIgnore
}

// replyRefused says why a response topic may not be used, "" if it may:
// it must be a topic the requester may subscribe to and not an agent topic
// (rule 7.4).
func (m *mqttAgents) replyRefused(cl *mqtt.Client, topic string) string {
	if topic == m.prefix || strings.HasPrefix(topic, m.prefix+"/") {
		return "response topic must not be under " + m.prefix + "/"
	}
	if strings.ContainsAny(topic, "+#") {
		return "response topic must not contain wildcards"
	}
	if store := m.srv.store.Load(); store != nil && !store.CanSubscribe(identity(cl), cl.ID, topic) {
		return "response topic not allowed: the client may not subscribe to it"
	}
	return ""
}

// refuse reports a failed /in publish. MQTT 5 QoS 1 and 2 get a PUBACK or
// PUBREC with the reason code, written here (mochi would answer a QoS 2
// publish with a PUBACK); MQTT 3.1.1 and QoS 0 have no way to carry a code,
// so the publish is acknowledged normally and the failure is logged and
// counted (rule 7.5). Either way nothing is forwarded or retained.
func (m *mqttAgents) refuse(cl *mqtt.Client, pk packets.Packet, code packets.Code, err error) (packets.Packet, error) {
	m.srv.metrics.agents.mqtt.errors.Inc()
	m.srv.log.Debug("agent publish refused", "client", cl.ID, "topic", pk.TopicName, "qos", pk.FixedHeader.Qos,
		"reason_code", fmt.Sprintf("%#x", code.Code), "reason", code.Reason, "error", err)
	if cl.Properties.ProtocolVersion < 5 || pk.FixedHeader.Qos == 0 {
		return pk, packets.CodeSuccessIgnore
	}
	ack := packets.Packet{
		FixedHeader: packets.FixedHeader{Type: packets.Puback},
		PacketID:    pk.PacketID,
		ReasonCode:  code.Code,
		Properties:  packets.Properties{ReasonString: code.Reason}, // dropped by mochi if the client asked for no problem info
	}
	if pk.FixedHeader.Qos == 2 {
		ack.FixedHeader.Type = packets.Pubrec // a failure code ends the QoS 2 flow [MQTT-4.3.3-4]
	}
	if werr := cl.WritePacket(ack); werr != nil {
		m.srv.log.Debug("write agent publish ack", "client", cl.ID, "error", werr)
	}
	return pk, packets.ErrRejectPacket
}

// receiveCode maps an Agents.Receive error to an MQTT 5 reason code
// (docs/protocol.md rule 7.6).
func receiveCode(err error) packets.Code {
	reason := err.Error()
	if len(reason) > 200 {
		reason = reason[:200]
	}
	c := packets.ErrUnspecifiedError.Code
	switch {
	case errors.Is(err, wire.ErrUnknownAgent):
		c = packets.ErrTopicNameInvalid.Code
	case errors.Is(err, wire.ErrBusy), errors.Is(err, wire.ErrLimit):
		c = packets.ErrQuotaExceeded.Code
	case errors.Is(err, wire.ErrMalformed), errors.Is(err, wire.ErrTooLarge):
		c = packets.ErrPayloadFormatInvalid.Code
	case errors.Is(err, context.DeadlineExceeded):
		reason = "agent did not process the frame within " + ReceiveTimeout.String()
	}
	return packets.Code{Code: c, Reason: reason}
}

// replySink publishes an agent's replies to an MQTT 5 response topic with
// the request's correlation data, through the topic tree (rule 7.4): any
// client subscribed to it receives them, each delivery ACL-checked.
type replySink struct {
	m     *mqttAgents
	topic string
	corr  []byte
}

func (r *replySink) Write(data []byte, _ bool) error {
	if r.m.ctx.Err() != nil {
		return wire.ErrClosed
	}
	pk := packets.Packet{
		FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 1},
		PacketID:    1, // inline publishes are handled as QoS 0; the id only passes validation
		TopicName:   r.topic,
		Payload:     data,
		Properties:  packets.Properties{CorrelationData: r.corr},
	}
	if err := r.m.srv.mqtt.InjectPacket(r.m.reply, pk); err != nil {
		return fmt.Errorf("publish reply to %s: %w", r.topic, err)
	}
	r.m.srv.metrics.agents.mqtt.out.Inc()
	return nil
}

// Close does nothing: a response topic is not a connection.
func (r *replySink) Close(int, string) error { return nil }

// startWriter accounts for a new writer goroutine; false once shutdown
// has begun waiting for them.
func (m *mqttAgents) startWriter() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closing {
		return false
	}
	m.wg.Add(1)
	return true
}

// wait waits for every writer goroutine, after shutdown disconnected every
// client.
func (m *mqttAgents) wait(ctx context.Context) {
	m.mu.Lock()
	m.closing = true
	m.mu.Unlock()
	done := make(chan struct{})
	go func() { m.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		m.srv.log.Warn("shutdown: agent writers still running at deadline")
	}
}
