package main

// main.go: flags, the run plan and the overall timeout.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type config struct {
	agentCounts                []int
	reps                       int
	conns, inflight            int
	warmup, duration, drain    time.Duration
	idle, idleCrowded          time.Duration
	maxAwake                   int // agents whose databases fit in the open-file limit at once
	setupTimeout               time.Duration
	memAgents, wakeSamples     int
	wakeConns                  int
	wakeIdle                   time.Duration
	skipLoad, skipWake         bool
	separate                   bool // --stateless-db separate
	statelessDB                string
	markdown, quick            bool
	dir                        string
	fdLimit                    uint64
	log                        *slog.Logger
	agentsFlag, commandLineArg string
}

// fdsPerAgent is how many files an awake agent holds open: its SQLite
// database holds three (the database, its -wal and its -shm), and the
// stateless baseline, opening the same file for each message, leaves one
// more (measured: SQLite keeps the closed connection's database descriptor
// for reuse while another connection of the process has the file open).
// Both classes of a row get the same idle timeout, so the larger count
// decides.
const fdsPerAgent = 4

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("agentbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.agentsFlag, "agents", "1,100,10000", "comma-separated agent counts, one throughput run per count and class")
	fs.IntVar(&c.reps, "reps", 1, "throughput runs per agent count and class, the classes alternating; the tables show medians")
	fs.IntVar(&c.conns, "conns", 100, "most MQTT connections per run; with more agents, each connection joins and feeds several")
	fs.IntVar(&c.inflight, "inflight", 100, "readings in flight end to end per run, split evenly over the connections (at least 1 each)")
	fs.DurationVar(&c.warmup, "warmup", 2*time.Second, "unmeasured load before each measurement")
	fs.DurationVar(&c.duration, "duration", 10*time.Second, "measured time per run")
	fs.DurationVar(&c.drain, "drain", 10*time.Second, "most time to wait for missing replies after a run")
	fs.DurationVar(&c.idle, "idle", time.Minute, "agent idle timeout in throughput runs (the host's default)")
	fs.DurationVar(&c.idleCrowded, "idle-crowded", time.Second, "idle timeout in throughput runs with more agents than the open-file limit lets stay awake at once")
	fs.DurationVar(&c.setupTimeout, "setup-timeout", 5*time.Minute, "most time to create and first reach the agents of a run")
	fs.IntVar(&c.memAgents, "mem-agents", 1000, "agents of the hibernation run (memory per agent, wake latency)")
	fs.IntVar(&c.wakeSamples, "wake-samples", 500, "agents woken one at a time for the wake latency")
	fs.IntVar(&c.wakeConns, "wake-conns", 10, "MQTT connections of the hibernation run")
	fs.DurationVar(&c.wakeIdle, "wake-idle", 10*time.Second, "agent idle timeout in the hibernation run")
	fs.StringVar(&c.statelessDB, "stateless-db", "agent", "database of the stateless baseline: agent (the agent's own file, which the host holds open) or separate (a file only the message opens: every close checkpoints)")
	fs.BoolVar(&c.skipLoad, "no-load", false, "skip the throughput runs")
	fs.BoolVar(&c.skipWake, "no-wake", false, "skip the hibernation run")
	fs.BoolVar(&c.markdown, "markdown", false, "print the header and tables as Markdown")
	fs.BoolVar(&c.quick, "quick", false, "a one-minute look: agents 1,100,300, 3s runs, 1s warm-up, 200 agents in the hibernation run with a 3s idle timeout")
	fs.StringVar(&c.dir, "dir", "", "parent of the gateways' data directories (default: the system temp dir)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage: go run ./bench/agentbench [flags]\n\n"+
			"Device → agent → device over MQTT with CBOR and one SQLite write per message, stateful agents\n"+
			"against a stateless baseline, in one process on loopback (see doc.go).\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if c.quick {
		for name, v := range map[string]string{"agents": "1,100,300", "duration": "3s", "warmup": "1s", "mem-agents": "200", "wake-samples": "100", "wake-idle": "3s"} {
			if !set[name] {
				fs.Set(name, v)
			}
		}
	}
	for _, s := range strings.Split(c.agentsFlag, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return c, fmt.Errorf("--agents: %q is not a positive count", s)
		}
		c.agentCounts = append(c.agentCounts, n)
	}
	switch {
	case c.reps < 1 || c.conns < 1 || c.inflight < 1 || c.memAgents < 1 || c.wakeSamples < 1 || c.wakeConns < 1:
		return c, errors.New("--reps, --conns, --inflight, --mem-agents, --wake-samples and --wake-conns must be at least 1")
	case c.duration < 100*time.Millisecond || c.warmup < 0 || c.drain < 0:
		return c, errors.New("--duration must be at least 100ms; --warmup and --drain not negative")
	case c.idle <= 0 || c.idleCrowded <= 0 || c.wakeIdle <= 0:
		return c, errors.New("idle timeouts must be positive")
	case c.statelessDB != "agent" && c.statelessDB != "separate":
		return c, fmt.Errorf("--stateless-db must be agent or separate, not %q", c.statelessDB)
	}
	c.separate = c.statelessDB == "separate"
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err == nil {
		c.fdLimit = lim.Cur
	}
	// Leave room for the connections (both ends), the broker's store, and
	// the stateless agents' databases open while they handle a message.
	spare := int(c.fdLimit) - 256 - 2*c.conns - 3*c.inflight
	c.maxAwake = max(spare/fdsPerAgent, 1)
	return c, nil
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "agentbench:", err)
		os.Exit(1)
	}
}

// run runs the plan: for each agent count, the stateful class then the
// stateless one, each on a fresh gateway; then the hibernation run. Runs
// that fail are reported in the tables; run fails only when none worked.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	cfg.commandLineArg = commandLine(args)
	cfg.log = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	if cfg.dir == "" {
		cfg.dir = os.TempDir()
	}
	cfg.dir, err = os.MkdirTemp(cfg.dir, "agentbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(cfg.dir)

	started := time.Now()
	printHeader(stdout, cfg, started)
	var rows []loadRow
	failed, total := 0, 0
	if !cfg.skipLoad {
		for _, n := range cfg.agentCounts {
			byClass := map[string][]loadResult{}
			for rep := range cfg.reps {
				classes := []string{classCounter, classStateless}
				if rep%2 == 1 {
					classes[0], classes[1] = classes[1], classes[0]
				}
				for _, class := range classes {
					fmt.Fprintf(stderr, "agentbench: %s, %d agents, run %d of %d ...\n", class, n, rep+1, cfg.reps)
					r := runLoad(ctx, cfg, class, n)
					if r.err != nil {
						failed++
						fmt.Fprintf(stderr, "agentbench: %s, %d agents: %v\n", class, n, r.err)
					} else {
						fmt.Fprintf(stderr, "agentbench: %s, %d agents: %s msg/s, p50 %s, p99 %s, first contact %s\n",
							class, n, fmtCount(r.rate), fmtDuration(r.p50), fmtDuration(r.p99), fmtDuration(r.setup))
					}
					total++
					byClass[class] = append(byClass[class], r)
					if ctx.Err() != nil {
						return ctx.Err()
					}
				}
			}
			rows = append(rows, loadRow{agents: n, stateful: medianResult(byClass[classCounter]), stateless: medianResult(byClass[classStateless])})
		}
		printLoad(stdout, cfg, rows)
	}
	if !cfg.skipWake {
		fmt.Fprintf(stderr, "agentbench: hibernation, %d agents ...\n", cfg.memAgents)
		w := runWake(ctx, cfg)
		total++
		if w.err != nil {
			failed++
			fmt.Fprintf(stderr, "agentbench: hibernation: %v\n", w.err)
		}
		printWake(stdout, cfg, w)
	}
	fmt.Fprintf(stdout, "\nTotal time %s.\n", time.Since(started).Round(time.Second))
	if failed > 0 {
		err = fmt.Errorf("%d of %d runs failed", failed, total)
	}
	return err
}

// commandLine is how the bench was started, for the report.
func commandLine(args []string) string {
	parts := []string{"go run ./bench/agentbench"}
	for _, a := range args {
		if strings.ContainsAny(a, " '\"$") {
			a = strconv.Quote(a)
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}
