package main

import (
	"context"
	"fmt"
	"log/slog"
	"slices"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/outpost-iot/outpost/agenthost"
	"github.com/outpost-iot/outpost/agenthost/chat"
	"github.com/outpost-iot/outpost/agenthost/echo"
	"github.com/outpost-iot/outpost/agenthost/twin"
	"github.com/outpost-iot/outpost/protocol"
)

// builtinClasses are the agent classes every gateway has (DESIGN.md
// "Built-in agents") besides chat, which chatClass builds from the
// configuration.
var builtinClasses = []agenthost.Class{echo.Class, twin.Class}

// chatTools are server tools of the built-in chat class (none in the
// product; test binaries add one).
var chatTools []chat.Tool

// chatClass is the built-in chat class as the configuration sets it up.
func chatClass(cfg Config) agenthost.Class {
	return chat.NewClass(chat.ClassName, cfg.chatConfig())
}

// newAgents builds the agent host with the built-in classes and the
// protocol layer in front of it, which the broker hands agent traffic to.
func newAgents(cfg Config, log *slog.Logger, reg prometheus.Registerer, inf agenthost.Inference) (*agenthost.Host, *protocol.Layer, error) {
	host, err := agenthost.New(cfg.agentsConfig(), agenthost.Options{Logger: log.With("component", "agents"), Inference: inf})
	if err != nil {
		return nil, nil, err
	}
	for _, c := range append(slices.Clone(builtinClasses), chatClass(cfg)) {
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
