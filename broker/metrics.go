package broker

import (
	"sync/atomic"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/outpost-iot/outpost/wire"
)

// metrics are the broker's Prometheus series. Per-listener children are
// resolved once at start, so the hot path is an atomic add.
type metrics struct {
	listeners map[string]*listenerMetrics
	agents    *agentMetrics
}

// agentMetrics count the agent traffic of both transports
// (docs/protocol.md §7 and §8); the transport label is mqtt or websocket.
type agentMetrics struct {
	wsConns   prometheus.Gauge
	mqttJoins prometheus.Gauge
	mqtt, ws  agentCounters
}

// agentCounters are one transport's agent frame counters.
type agentCounters struct {
	in, out, dropped, errors prometheus.Counter
}

func newAgentMetrics(reg prometheus.Registerer) (*agentMetrics, error) {
	label := []string{"transport"}
	wsConns := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "outpost", Subsystem: "agents", Name: "websocket_connections", Help: "Agent WebSockets open now."})
	mqttJoins := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "outpost", Subsystem: "agents", Name: "mqtt_joins", Help: "MQTT connections joined to an agent (subscribed to its /out topic) now."})
	in := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "outpost", Subsystem: "agents", Name: "frames_received_total", Help: "Frames clients sent to agents."}, label)
	out := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "outpost", Subsystem: "agents", Name: "frames_sent_total", Help: "Agent frames written to clients."}, label)
	dropped := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "outpost", Subsystem: "agents", Name: "frames_dropped_total", Help: "Agent frames dropped: the client's queue (max_queued) was full, the ACL refused it, or it could not be written."}, label)
	errs := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "outpost", Subsystem: "agents", Name: "receive_errors_total", Help: "Frames to agents that failed (unknown class, busy, malformed, too large, refused response topic)."}, label)
	for _, c := range []prometheus.Collector{wsConns, mqttJoins, in, out, dropped, errs} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	of := func(transport string) agentCounters {
		return agentCounters{in: in.WithLabelValues(transport), out: out.WithLabelValues(transport),
			dropped: dropped.WithLabelValues(transport), errors: errs.WithLabelValues(transport)}
	}
	return &agentMetrics{wsConns: wsConns, mqttJoins: mqttJoins, mqtt: of(wire.MQTT), ws: of(wire.WebSocket)}, nil
}

type listenerMetrics struct {
	conns      prometheus.Gauge
	connsTotal prometheus.Counter
	authFails  prometheus.Counter
	msgsIn     prometheus.Counter
	msgsOut    prometheus.Counter
	bytesIn    prometheus.Counter
	bytesOut   prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, info *mqtt.Server, ids []string) (*metrics, error) {
	label := []string{"listener"}
	conns := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "outpost", Subsystem: "mqtt", Name: "connections", Help: "MQTT connections open now."}, label)
	connsTotal := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "outpost", Subsystem: "mqtt", Name: "connections_total", Help: "MQTT connections accepted (CONNECT authenticated)."}, label)
	authFails := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "outpost", Subsystem: "mqtt", Name: "auth_failures_total", Help: "MQTT CONNECTs refused for bad credentials."}, label)
	msgsIn := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "outpost", Subsystem: "mqtt", Name: "messages_received_total", Help: "PUBLISH packets received from clients."}, label)
	msgsOut := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "outpost", Subsystem: "mqtt", Name: "messages_sent_total", Help: "PUBLISH packets sent to clients."}, label)
	bytesIn := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "outpost", Subsystem: "mqtt", Name: "received_bytes_total", Help: "Bytes read from client connections (TCP: as on the wire, TLS included; WebSocket: MQTT bytes in binary frames)."}, label)
	bytesOut := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "outpost", Subsystem: "mqtt", Name: "sent_bytes_total", Help: "Bytes written to client connections (TCP: as on the wire; WebSocket: MQTT bytes)."}, label)
	for _, c := range []prometheus.Collector{conns, connsTotal, authFails, msgsIn, msgsOut, bytesIn, bytesOut, &infoCollector{s: info}} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	agents, err := newAgentMetrics(reg)
	if err != nil {
		return nil, err
	}
	m := &metrics{listeners: map[string]*listenerMetrics{}, agents: agents}
	for _, id := range ids {
		m.listeners[id] = &listenerMetrics{
			conns: conns.WithLabelValues(id), connsTotal: connsTotal.WithLabelValues(id), authFails: authFails.WithLabelValues(id),
			msgsIn: msgsIn.WithLabelValues(id), msgsOut: msgsOut.WithLabelValues(id),
			bytesIn: bytesIn.WithLabelValues(id), bytesOut: bytesOut.WithLabelValues(id),
		}
	}
	return m, nil
}

// of returns the listener's metrics; clients restored from the session store
// and the inline client have no listener of ours and get a throwaway set.
func (m *metrics) of(listener string) *listenerMetrics {
	if lm, ok := m.listeners[listener]; ok {
		return lm
	}
	return discard
}

var discard = &listenerMetrics{
	conns: prometheus.NewGauge(prometheus.GaugeOpts{Name: "discard"}), connsTotal: prometheus.NewCounter(prometheus.CounterOpts{Name: "discard"}),
	authFails: prometheus.NewCounter(prometheus.CounterOpts{Name: "discard"}), msgsIn: prometheus.NewCounter(prometheus.CounterOpts{Name: "discard"}),
	msgsOut: prometheus.NewCounter(prometheus.CounterOpts{Name: "discard"}), bytesIn: prometheus.NewCounter(prometheus.CounterOpts{Name: "discard"}),
	bytesOut: prometheus.NewCounter(prometheus.CounterOpts{Name: "discard"}),
}

// infoCollector exposes mochi's $SYS counters at scrape time.
type infoCollector struct{ s *mqtt.Server }

var (
	descRetained      = prometheus.NewDesc("outpost_mqtt_retained_messages", "Retained messages stored.", nil, nil)
	descSubscriptions = prometheus.NewDesc("outpost_mqtt_subscriptions", "Active subscriptions.", nil, nil)
	descInflight      = prometheus.NewDesc("outpost_mqtt_inflight_messages", "QoS 1/2 messages awaiting acknowledgement.", nil, nil)
	descDropped       = prometheus.NewDesc("outpost_mqtt_messages_dropped_total", "Messages dropped because a client's write queue (max_queued) was full.", nil, nil)
	descInflightDrop  = prometheus.NewDesc("outpost_mqtt_inflight_dropped_total", "QoS 1/2 messages dropped because a client's inflight store (max_inflight) was full.", nil, nil)
	descSessions      = prometheus.NewDesc("outpost_mqtt_sessions", "Client sessions known, connected or persisted.", nil, nil)
)

func (c *infoCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descRetained, descSubscriptions, descInflight, descDropped, descInflightDrop, descSessions} {
		ch <- d
	}
}

func (c *infoCollector) Collect(ch chan<- prometheus.Metric) {
	i := c.s.Info
	ch <- prometheus.MustNewConstMetric(descRetained, prometheus.GaugeValue, float64(atomic.LoadInt64(&i.Retained)))
	ch <- prometheus.MustNewConstMetric(descSubscriptions, prometheus.GaugeValue, float64(atomic.LoadInt64(&i.Subscriptions)))
	ch <- prometheus.MustNewConstMetric(descInflight, prometheus.GaugeValue, float64(atomic.LoadInt64(&i.Inflight)))
	ch <- prometheus.MustNewConstMetric(descDropped, prometheus.CounterValue, float64(atomic.LoadInt64(&i.MessagesDropped)))
	ch <- prometheus.MustNewConstMetric(descInflightDrop, prometheus.CounterValue, float64(atomic.LoadInt64(&i.InflightDropped)))
	ch <- prometheus.MustNewConstMetric(descSessions, prometheus.GaugeValue, float64(c.s.Clients.Len()))
}
