package protocol

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	conns        *prometheus.GaugeVec
	received     *prometheus.CounterVec
	sent         *prometheus.CounterVec
	suppressed   prometheus.Counter
	unrouted     prometheus.Counter
	encodeErrors prometheus.Counter
	sendErrors   prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		conns: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "outpost_agent_connections", Help: "Connections attached to agents, by transport.",
		}, []string{"transport"}),
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "outpost_agent_frames_received_total", Help: "Frames from clients to agents, by transport and kind (message, state, rpc, refused).",
		}, []string{"transport", "kind"}),
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "outpost_agent_frames_sent_total", Help: "Frames from agents to clients, by transport and kind (message, reply, protocol, chat).",
		}, []string{"transport", "kind"}),
		suppressed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "outpost_agent_protocol_frames_suppressed_total", Help: "Protocol frames not sent because the connection has protocol frames off.",
		}),
		unrouted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "outpost_agent_frames_unrouted_total", Help: "Frames for a client that has neither joined the agent nor named a response topic.",
		}),
		encodeErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "outpost_agent_frame_encode_errors_total", Help: "Frames an agent sent that the connection's codec could not encode.",
		}),
		sendErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "outpost_agent_frame_send_errors_total", Help: "Frames the transport refused (slow consumer, connection gone).",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.conns, m.received, m.sent, m.suppressed, m.unrouted, m.encodeErrors, m.sendErrors)
	}
	return m
}
