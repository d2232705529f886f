package main

// gateway.go: the Outpost components under test, built in this process as
// cmd/outpost builds them (newAgents, startInProcess): the agent host with
// the bench's classes, the protocol layer in front of it, and the broker on
// a random loopback port, in a data directory of its own.

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/outpost-iot/outpost/agenthost"
	"github.com/outpost-iot/outpost/broker"
	"github.com/outpost-iot/outpost/protocol"
)

type gateway struct {
	dir    string
	host   *agenthost.Host
	broker *broker.Server
	addr   string // MQTT host:port
	stats  *agentStats
}

// startGateway starts a gateway whose agents hibernate after idle, with
// its data in a new directory under parent; separate is --stateless-db
// separate.
func startGateway(ctx context.Context, parent string, idle time.Duration, separate bool, log *slog.Logger) (g *gateway, err error) {
	dir, err := os.MkdirTemp(parent, "gw-")
	if err != nil {
		return nil, err
	}
	g = &gateway{dir: dir, stats: &agentStats{}}
	defer func() {
		if err != nil {
			g.close()
		}
	}()
	g.host, err = agenthost.New(agenthost.Config{DataDir: dir, IdleTimeout: idle}, agenthost.Options{Logger: log.With("component", "agents")})
	if err != nil {
		return g, err
	}
	for _, c := range benchClasses(dir, g.stats, separate) {
		if err := g.host.Register(c); err != nil {
			return g, err
		}
	}
	layer, err := protocol.New(protocol.Config{}, g.host, protocol.Options{Logger: log.With("component", "protocol")})
	if err != nil {
		return g, fmt.Errorf("protocol layer: %w", err)
	}
	if err := g.host.Start(ctx); err != nil {
		return g, err
	}
	cfg := broker.DefaultConfig()
	cfg.MQTTPort, cfg.HTTPPort = 0, 0
	cfg.MaxClients = 0
	b, err := broker.New(cfg, broker.Options{DataDir: dir, Logger: log.With("component", "broker"), Agents: layer})
	if err != nil {
		return g, err
	}
	if err := b.Start(ctx); err != nil {
		return g, err
	}
	g.broker, g.addr = b, b.MQTTAddr().String()
	return g, nil
}

// close stops the broker and the host and removes the data directory.
func (g *gateway) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var err error
	if g.broker != nil {
		err = g.broker.Close(ctx)
	}
	if g.host != nil {
		if herr := g.host.Close(ctx); err == nil {
			err = herr
		}
	}
	if rerr := os.RemoveAll(g.dir); err == nil {
		err = rerr
	}
	return err
}

// withFleet starts a gateway whose agents hibernate after idle, connects
// a fleet of devices for agents agents of class to it, runs f, and takes
// both down again.
func withFleet(ctx context.Context, cfg config, idle time.Duration, class string, agents, conns, window int, f func(*gateway, *fleet) error) error {
	gw, err := startGateway(ctx, cfg.dir, idle, cfg.separate, cfg.log)
	if err != nil {
		return fmt.Errorf("start gateway: %w", err)
	}
	fl, err := dialFleet(ctx, gw.addr, class, agents, conns, window)
	if err == nil {
		err = f(gw, fl)
		fl.close()
	}
	if cerr := gw.close(); err == nil && cerr != nil {
		err = fmt.Errorf("close gateway: %w", cerr)
	}
	return err
}
