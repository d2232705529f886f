package broker

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/outpost-iot/outpost/wire"
)

// mqttConn is the agent side of one MQTT network connection: its policy
// (fixed at CONNECT, rule 6.2), the agents it joined, and the bounded queue
// and single writer goroutine that carry agent frames to it (rule 7.3).
//
// Agent frames bypass mochi's topic tree and its per-client outbound
// queue: the writer builds each PUBLISH itself and writes it with
// Client.WritePacket, registering QoS 1 frames in the client's inflight
// store as mochi's publishToClient does, so PUBACK handling and resends on
// session resumption work as for any delivery (rule 7.5).
type mqttConn struct {
	m      *mqttAgents
	cl     *mqtt.Client
	policy mqttPolicy
	user   string

	pending []pendingJoin // granted by the SUBSCRIBE being processed; reader goroutine only

	mu      sync.Mutex
	joins   map[string]*mqttJoin // by /out topic
	closed  bool
	writing bool // the writer goroutine was started

	queue    chan outFrame // made with the writer, before the first sink exists
	closeReq chan closeRequest
	done     chan struct{} // closed at disconnect
}

type pendingJoin struct {
	addr  wire.Address
	topic string
	qos   byte
}

// mqttJoin is one agent the connection joined by subscribing to topic.
type mqttJoin struct {
	key   string
	addr  wire.Address
	topic string
	qos   atomic.Uint32 // granted QoS of the /out subscription, at most 1
	left  atomic.Bool   // after Leave its frames are refused and dropped
}

type outFrame struct {
	j    *mqttJoin
	data []byte
}

// closeRequest asks a writer to close its connection with a WebSocket
// close code; now skips the frames still queued.
type closeRequest struct {
	code   int
	reason string
	now    bool
}

func newMQTTConn(m *mqttAgents, cl *mqtt.Client, p mqttPolicy) *mqttConn {
	return &mqttConn{
		m: m, cl: cl, policy: p, user: m.user(cl),
		joins:    map[string]*mqttJoin{},
		closeReq: make(chan closeRequest, 1),
		done:     make(chan struct{}),
	}
}

// joinInfo describes the connection to an agent as a Join would.
func (c *mqttConn) joinInfo(addr wire.Address, key string) wire.Join {
	return wire.Join{
		Key: key, ID: c.cl.ID, Agent: addr, Transport: wire.MQTT, User: c.user,
		Options: c.policy.opts, Properties: c.policy.props,
	}
}

func (c *mqttConn) joined(topic string) *mqttJoin {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.joins[topic]
}

// join attaches the connection to addr through its /out topic. Joining a
// topic already joined only updates the QoS (a repeated SUBSCRIBE).
func (c *mqttConn) join(addr wire.Address, topic string, qos byte) {
	qos = min(qos, 1)
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	if j := c.joins[topic]; j != nil {
		j.qos.Store(uint32(qos))
		c.mu.Unlock()
		return
	}
	if !c.writing {
		if !c.m.startWriter() {
			c.mu.Unlock()
			return // shutting down
		}
		c.writing = true
		// Only connections that join get a queue: max_queued entries
		// for every connected client would cost memory for nothing.
		c.queue = make(chan outFrame, c.m.srv.cfg.MaxQueued)
		go c.writeLoop()
	}
	// The key is unique per join and per network connection, so the Leave
	// of a connection that was taken over never detaches its successor.
	j := &mqttJoin{key: fmt.Sprintf("%s#%d", c.cl.ID, c.m.seq.Add(1)), addr: addr, topic: topic}
	j.qos.Store(uint32(qos))
	c.joins[topic] = j
	c.mu.Unlock()

	c.m.srv.metrics.agents.mqttJoins.Inc()
	info := c.joinInfo(addr, j.key)
	info.Out = &mqttSink{c: c, j: j}
	if err := c.m.agents.Join(c.m.ctx, info); err != nil {
		c.m.srv.log.Warn("agent join failed", "client", c.cl.ID, "agent", addr.String(), "error", err)
		c.mu.Lock()
		if c.joins[topic] == j {
			delete(c.joins, topic)
		} else {
			j = nil
		}
		c.mu.Unlock()
		if j != nil {
			c.m.srv.metrics.agents.mqttJoins.Dec()
		}
		return
	}
	c.m.srv.log.Debug("mqtt client joined agent", "client", c.cl.ID, "agent", addr.String(), "key", j.key)
}

// leave detaches the join made through topic, if there is one.
func (c *mqttConn) leave(topic string) {
	c.mu.Lock()
	j := c.joins[topic]
	delete(c.joins, topic)
	c.mu.Unlock()
	if j != nil {
		j.left.Store(true)
		c.m.agents.Leave(j.key, j.addr)
		c.m.srv.metrics.agents.mqttJoins.Dec()
	}
}

// close leaves every agent and stops the writer; frames still queued are
// dropped with the connection.
func (c *mqttConn) close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	joins := c.joins
	c.joins = nil
	close(c.done)
	c.mu.Unlock()
	for _, j := range joins {
		j.left.Store(true)
		c.m.agents.Leave(j.key, j.addr)
		c.m.srv.metrics.agents.mqttJoins.Dec()
	}
}

// mqttSink is the wire.Sink of one join: frames go to that client alone,
// on the join's /out topic.
type mqttSink struct {
	c *mqttConn
	j *mqttJoin
}

// Write queues a frame without blocking; a full queue (max_queued frames)
// drops it and returns wire.ErrSlowConsumer.
func (s *mqttSink) Write(data []byte, _ bool) error {
	if s.j.left.Load() {
		return wire.ErrClosed
	}
	select {
	case <-s.c.done:
		return wire.ErrClosed
	default:
	}
	select {
	case s.c.queue <- outFrame{j: s.j, data: append([]byte(nil), data...)}:
		return nil
	default:
		s.c.m.srv.metrics.agents.mqtt.dropped.Inc()
		return wire.ErrSlowConsumer
	}
}

// Close disconnects the MQTT client after the frames already queued, with
// an MQTT 5 DISCONNECT reason code that fits the WebSocket close code.
func (s *mqttSink) Close(code int, reason string) error {
	select {
	case <-s.c.done:
		return wire.ErrClosed
	case s.c.closeReq <- closeRequest{code: code, reason: reason}:
	default: // a close is already pending
	}
	return nil
}

// disconnectCode maps a WebSocket close code to an MQTT 5 DISCONNECT
// reason code.
func disconnectCode(code int, reason string) packets.Code {
	var c packets.Code
	switch code {
	case 1000:
		c = packets.CodeSuccess
	case 1001:
		c = packets.ErrServerShuttingDown
	case 1009:
		c = packets.ErrPacketTooLarge
	case 1011:
		c = packets.ErrImplementationSpecificError
	case 1013:
		c = packets.ErrServerBusy
	default: // 1008 policy violation, application codes
		c = packets.ErrAdministrativeAction
	}
	if reason != "" {
		c.Reason = reason
	}
	return c
}

func (c *mqttConn) writeLoop() {
	defer c.m.wg.Done()
	for {
		select {
		case f := <-c.queue:
			c.send(f)
		case r := <-c.closeReq:
			for flushed := false; !flushed; {
				select {
				case f := <-c.queue:
					c.send(f)
				default:
					flushed = true
				}
			}
			_ = c.m.srv.mqtt.DisconnectClient(c.cl, disconnectCode(r.code, r.reason))
		case <-c.done:
			return
		}
	}
}

// send writes one frame as mochi's publishToClient would deliver it: ACL
// checked with the rules loaded now, QoS capped by the subscription, QoS 1
// registered in the inflight store first. What the exported API cannot do:
// mochi's send quota is not readable, so a frame is held back (and sent by
// mochi when a PUBACK frees the quota) while the client's inflight store
// holds Receive Maximum packets or more, which also counts its QoS 2
// exchanges; topic aliases are not used.
func (c *mqttConn) send(f outFrame) {
	cl, srv := c.cl, c.m.srv
	dropped := srv.metrics.agents.mqtt.dropped
	if f.j.left.Load() || !srv.gate.OnACLCheck(cl, f.j.topic, false) {
		dropped.Inc()
		return
	}
	pk := packets.Packet{
		FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: byte(f.j.qos.Load())},
		TopicName:   f.j.topic,
		Payload:     f.data,
		Created:     time.Now().Unix(),
	}
	if pk.FixedHeader.Qos > 0 {
		if cl.State.Inflight.Len() >= int(srv.mqtt.Options.Capabilities.MaximumInflight) {
			srv.log.Warn("agent frame dropped: client inflight store full", "client", cl.ID, "topic", f.j.topic)
			dropped.Inc()
			return
		}
		id, err := cl.NextPacketID()
		if err != nil {
			dropped.Inc()
			return
		}
		pk.PacketID = uint16(id)
		held := cl.Properties.Props.ReceiveMaximum > 0 && cl.State.Inflight.Len() >= int(cl.Properties.Props.ReceiveMaximum)
		if cl.State.Inflight.Set(pk) {
			atomic.AddInt64(&srv.mqtt.Info.Inflight, 1)
			cl.State.Inflight.DecreaseSendQuota()
		}
		if held {
			pk.Expiry = -1 // mochi sends it after the next PUBACK
			cl.State.Inflight.Set(pk)
			srv.metrics.agents.mqtt.out.Inc()
			return
		}
	}
	if err := cl.WritePacket(pk); err != nil {
		if pk.FixedHeader.Qos > 0 && errors.Is(err, packets.ErrPacketTooLarge) {
			// Larger than the client's Maximum Packet Size: it can never
			// be delivered [MQTT-3.1.2-25].
			if cl.State.Inflight.Delete(pk.PacketID) {
				atomic.AddInt64(&srv.mqtt.Info.Inflight, -1)
				cl.State.Inflight.IncreaseSendQuota()
			}
		}
		// A QoS 1 frame to a closed connection stays in flight and is
		// resent when the session resumes.
		srv.log.Debug("agent frame not written", "client", cl.ID, "topic", f.j.topic, "error", err)
		dropped.Inc()
		return
	}
	srv.metrics.agents.mqtt.out.Inc()
}
