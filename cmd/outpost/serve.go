package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/outpost-iot/outpost/broker"
)

// shutdownTimeout bounds how long a clean shutdown waits for connections.
const shutdownTimeout = 30 * time.Second

func runServe(ctx context.Context, args []string, stderr io.Writer) error {
	fs := newFlagSet("serve", stderr)
	load := configFlags(fs)
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("serve: unexpected argument %q", fs.Arg(0))}
	}
	cfg, err := load()
	if err != nil {
		return usageError{err}
	}
	log := newLogger(stderr, cfg.LogFormat, cfg.LogLevel)
	if os.Getenv("GOGC") == "" {
		// The broker's live heap is small (sessions, queued messages) and
		// it allocates per message; collecting at 4x the live heap instead
		// of 2x cut GC CPU enough to raise QoS 1 throughput about 10-30%
		// in bench/brokerbench. GOGC in the environment still wins.
		debug.SetGCPercent(400)
	}
	return serve(ctx, cfg, log)
}

// serve runs the gateway until ctx is cancelled, then shuts it down.
func serve(ctx context.Context, cfg Config, log *slog.Logger) error {
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	inf, err := openInference(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer inf.Close()
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	agents, layer, err := newAgents(cfg, log, reg, inf.backend)
	if err != nil {
		return usageError{err}
	}
	b, err := broker.New(cfg.Config, broker.Options{DataDir: cfg.DataDir, Logger: log, Registry: reg, Agents: layer})
	if err != nil {
		return usageError{err}
	}
	mountAgentsAdmin(b, agents)
	inf.mount(b)
	if err := b.Start(ctx); err != nil {
		return err
	}
	log.Info("outpost started", "version", version(), "data_dir", cfg.DataDir)

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for done := false; !done; {
		select {
		case <-hup:
			if err := b.Reload(); err != nil {
				log.Error("reload failed; keeping the previous credentials", "error", err)
			}
		case <-ctx.Done():
			done = true
		}
	}

	log.Info("shutting down")
	cctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	// The broker first, so that every connection has left its agents;
	// then the agents, which finish the events they are running.
	if err := b.Close(cctx); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := agents.Close(cctx); err != nil {
		return fmt.Errorf("shutdown agents: %w", err)
	}
	log.Info("outpost stopped")
	return nil
}

func newLogger(w io.Writer, format, level string) *slog.Logger {
	var lv slog.Level
	_ = lv.UnmarshalText([]byte(level))
	opts := &slog.HandlerOptions{Level: lv}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("outpost "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: outpost %s [flags]\n\n", name)
		if h, ok := commandHelp[name]; ok {
			fmt.Fprintln(stderr, h)
		}
		fmt.Fprintln(stderr, "flags:")
		fs.PrintDefaults()
	}
	return fs
}

func runConfig(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("config", stderr)
	load := configFlags(fs)
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	cfg, err := load()
	if err != nil {
		return usageError{err}
	}
	return writeConfig(stdout, &cfg)
}
