package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/outpost-iot/outpost/agenthost"
	"github.com/outpost-iot/outpost/agenthost/chat"
	"github.com/outpost-iot/outpost/agenthost/echo"
	"github.com/outpost-iot/outpost/agenthost/twin"
	"github.com/outpost-iot/outpost/protocol"
)

// builtinClasses are the agent classes every gateway has (DESIGN.md
// "Built-in agents").
var builtinClasses = []agenthost.Class{echo.Class, twin.Class, chat.Class}

// newAgents builds the agent host with the built-in classes and the
// protocol layer in front of it, which the broker hands agent traffic to.
func newAgents(cfg Config, log *slog.Logger, reg prometheus.Registerer, inf agenthost.Inference) (*agenthost.Host, *protocol.Layer, error) {
	host, err := agenthost.New(cfg.agentsConfig(), agenthost.Options{Logger: log.With("component", "agents"), Inference: inf})
	if err != nil {
		return nil, nil, err
	}
	for _, c := range builtinClasses {
		if err := host.Register(c); err != nil {
			return nil, nil, err
		}
	}
	layer, err := protocol.New(protocol.Config{
		MaxFrameMQTT:      int(cfg.MQTTMaxFrame),
		MaxFrameWebSocket: int(cfg.WSMaxFrame),
	}, host, protocol.Options{Logger: log.With("component", "protocol"), Registry: reg})
	if err != nil {
		return nil, nil, fmt.Errorf("protocol layer: %w", err)
	}
	if err := host.Start(context.Background()); err != nil {
		return nil, nil, err
	}
	return host, layer, nil
}
