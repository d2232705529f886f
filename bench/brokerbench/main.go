package main

// Flags, broker lifecycle, the run plan, signals and the overall timeout.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"sync"
	"syscall"
	"time"
)

type config struct {
	outpostBin, outpostAddr    string
	mosquittoBin, mosqAddr     string
	duration, warmup, drain    time.Duration
	reps, clients, window      int
	rate                       float64
	maxMsgs, inflight          int64
	quick, markdown, pin, keep bool
	mosqNoDelay                bool
	scenarios, client          string
	cpuProfile                 string
	timeout                    time.Duration
}

func parseFlags() (config, error) {
	var c config
	fs := flag.CommandLine
	fs.StringVar(&c.outpostBin, "outpost", "", "Outpost binary to start (e.g. ./bin/outpost)")
	fs.StringVar(&c.outpostAddr, "outpost-addr", "", "benchmark an already running broker at `host:port` instead of starting --outpost")
	fs.StringVar(&c.mosquittoBin, "mosquitto", "/usr/sbin/mosquitto", "Mosquitto binary to start")
	fs.BoolVar(&c.mosqNoDelay, "mosquitto-nodelay", false, "add set_tcp_nodelay true to the started Mosquitto's config (Outpost, like any Go server, disables Nagle)")
	fs.StringVar(&c.mosqAddr, "mosquitto-addr", "", "benchmark an already running broker at `host:port` instead of starting --mosquitto")
	fs.DurationVar(&c.duration, "duration", 10*time.Second, "measured time per run (3s with --quick)")
	fs.DurationVar(&c.warmup, "warmup", 2*time.Second, "unmeasured publishing before each run's measurement (1s with --quick)")
	fs.DurationVar(&c.drain, "drain", 3*time.Second, "max wait for outstanding messages after publishing stops (2s with --quick)")
	fs.IntVar(&c.reps, "reps", 1, "repetitions per scenario and broker (alternating brokers); the median is reported")
	fs.IntVar(&c.clients, "clients", 32, "publishers in fan-in, subscribers in fan-out (8 with --quick)")
	fs.IntVar(&c.window, "window", 16, "QoS 1: unacknowledged publishes per publisher (at most 65535)")
	fs.StringVar(&c.client, "client", clientLite, "MQTT client of the load generator: lite (built in, cheapest) or paho (paho.mqtt.golang, to cross-check)")
	fs.Float64Var(&c.rate, "rate", 0, "total offered load in msgs/s per run (0 = as fast as possible, i.e. saturation)")
	fs.Int64Var(&c.inflight, "inflight", 512, "end-to-end window: messages published but not yet received by every subscriber, summed over publishers "+
		"(0 = unbounded: QoS 0 publishers run open loop)")
	fs.Int64Var(&c.maxMsgs, "max-msgs", 20_000_000, "cap on messages published per run (bounds run time and memory)")
	fs.BoolVar(&c.quick, "quick", false, "quick check: 3s runs, 1s warm-up, 8 clients")
	fs.BoolVar(&c.markdown, "markdown", false, "print the header and table as Markdown")
	fs.BoolVar(&c.pin, "pin", false, "pin started brokers to CPU 0 and this harness to CPU 1 with GOMAXPROCS=1 (taskset)")
	fs.BoolVar(&c.keep, "keep", false, "keep the temp dir with broker logs and configs")
	fs.StringVar(&c.scenarios, "scenarios", "", "comma-separated substrings selecting scenarios (e.g. fanin,qos1-64B); default all")
	fs.StringVar(&c.cpuProfile, "cpuprofile", "", "write a CPU profile of the harness (load generator) to `file`")
	fs.DurationVar(&c.timeout, "timeout", 0, "hard limit for the whole run (default: computed from the plan)")
	flag.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: go run ./bench/brokerbench --outpost ./bin/outpost [flags]\n\n"+
			"Runs the same MQTT load scenarios against Outpost and Mosquitto and compares them.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments: %v", flag.Args())
	}
	set := map[string]bool{}
	flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if c.quick {
		if !set["duration"] {
			c.duration = 3 * time.Second
		}
		if !set["warmup"] {
			c.warmup = time.Second
		}
		if !set["drain"] {
			c.drain = 2 * time.Second
		}
		if !set["clients"] {
			c.clients = 8
		}
	}
	switch {
	case c.outpostBin == "" && c.outpostAddr == "":
		return c, errors.New("--outpost PATH or --outpost-addr HOST:PORT is required")
	case c.duration < 100*time.Millisecond || c.warmup < 0 || c.drain < 0:
		return c, errors.New("--duration must be at least 100ms; --warmup and --drain not negative")
	case c.reps < 1 || c.clients < 1 || c.window < 1:
		return c, errors.New("--reps, --clients and --window must be at least 1")
	case c.window > 65535:
		return c, errors.New("--window must be at most 65535 (MQTT packet identifiers)")
	case c.client != clientLite && c.client != clientPaho:
		return c, fmt.Errorf("--client must be %s or %s, not %q", clientLite, clientPaho, c.client)
	case c.maxMsgs < int64(c.clients) || c.rate < 0 || c.inflight < 0:
		return c, errors.New("--max-msgs must be at least --clients; --rate and --inflight not negative")
	}
	return c, nil
}

// cleanup runs registered functions once (normal exit, error, signal or
// watchdog, whichever comes first).
var cleanup struct {
	sync.Mutex
	fns  []func()
	done bool
}

func atCleanup(f func()) {
	cleanup.Lock()
	defer cleanup.Unlock()
	cleanup.fns = append(cleanup.fns, f)
}

func runCleanup() {
	cleanup.Lock()
	defer cleanup.Unlock()
	if cleanup.done {
		return
	}
	cleanup.done = true
	for i := len(cleanup.fns) - 1; i >= 0; i-- {
		cleanup.fns[i]()
	}
}

func main() {
	os.Exit(run())
}

func run() int {
	cfg, err := parseFlags()
	if err != nil {
		fmt.Fprintln(os.Stderr, "brokerbench:", err)
		flag.Usage()
		return 2
	}
	scenarios, err := selectScenarios(cfg.scenarios)
	if err != nil {
		fmt.Fprintln(os.Stderr, "brokerbench:", err)
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "brokerbench:", err)
		runCleanup()
		return 1
	}
	defer runCleanup()

	// paho allocates per message (lite does not); trade memory for less GC CPU.
	debug.SetGCPercent(400)

	// Overall deadline, derived from the plan unless given.
	runs := len(scenarios) * cfg.reps * 2
	timeout := cfg.timeout
	if timeout == 0 {
		perRun := cfg.warmup + cfg.duration + 2*cfg.drain + 10*time.Second
		timeout = time.Duration(runs)*perRun + 2*startTimeout + 30*time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()

	// First Ctrl-C/SIGTERM: stop after the current step; second: exit now.
	// The watchdog exits even if a client call hangs past the deadline.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sigs
		fmt.Fprintln(os.Stderr, "brokerbench: interrupted, stopping brokers (again to force)")
		cancel()
		<-sigs
		runCleanup()
		os.Exit(130)
	}()
	go func() {
		<-ctx.Done()
		time.Sleep(20 * time.Second)
		fmt.Fprintln(os.Stderr, "brokerbench: still running 20s after the deadline/interrupt; killing brokers and exiting")
		runCleanup()
		os.Exit(3)
	}()

	if cfg.cpuProfile != "" {
		f, err := os.Create(cfg.cpuProfile)
		if err != nil {
			return fail(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return fail(err)
		}
		atCleanup(func() {
			pprof.StopCPUProfile()
			f.Close()
		})
	}

	if cfg.pin {
		if err := pinSelf(); err != nil {
			return fail(err)
		}
		if cfg.outpostAddr != "" || cfg.mosqAddr != "" {
			fmt.Fprintln(os.Stderr, "brokerbench: --pin only pins brokers that it starts")
		}
	}

	dir, err := os.MkdirTemp("", "brokerbench-")
	if err != nil {
		return fail(err)
	}
	keepDir := cfg.keep
	atCleanup(func() {
		if keepDir {
			fmt.Fprintln(os.Stderr, "brokerbench: broker logs and configs kept in", dir)
		} else {
			_ = os.RemoveAll(dir)
		}
	})

	var outpost, mosq *broker
	if cfg.outpostAddr != "" {
		outpost, err = externalBroker(ctx, "outpost", cfg.outpostAddr)
	} else {
		if outpost, err = startOutpost(ctx, cfg.outpostBin, dir, cfg.pin); err == nil {
			atCleanup(outpost.stop)
		}
	}
	if err != nil {
		keepDir = true
		return fail(err)
	}
	if cfg.mosqAddr != "" {
		mosq, err = externalBroker(ctx, "mosquitto", cfg.mosqAddr)
	} else {
		if mosq, err = startMosquitto(ctx, cfg.mosquittoBin, dir, cfg.pin, cfg.mosqNoDelay); err == nil {
			atCleanup(mosq.stop)
		}
	}
	if err != nil {
		keepDir = true
		return fail(err)
	}

	mosqVersion := ""
	if cfg.mosqAddr == "" {
		mosqVersion = mosquittoVersion(cfg.mosquittoBin)
	}
	if mosqVersion == "" {
		if v := probeSysVersion(ctx, cfg.client, mosq.addr); v != "" {
			mosqVersion = v + " ($SYS/broker/version)"
		} else {
			mosqVersion = "unknown"
		}
	}
	if cfg.mosqAddr == "" {
		mosqVersion += fmt.Sprintf(" (set_tcp_nodelay %v)", cfg.mosqNoDelay)
	}
	outpostDesc := cfg.outpostBin
	if cfg.outpostAddr != "" {
		outpostDesc = "external at " + cfg.outpostAddr
	}
	qos1 := fmt.Sprintf("QoS 1 window %d/publisher", cfg.window)
	e2e := "end-to-end window unbounded"
	if cfg.inflight > 0 {
		e2e = fmt.Sprintf("end-to-end window %d msgs", cfg.inflight)
	}
	load := "as fast as possible"
	if cfg.rate > 0 {
		load = fmt.Sprintf("%g msgs/s offered", cfg.rate)
	}
	clientDesc := "lite (built in, MQTT 3.1.1)"
	if cfg.client == clientPaho {
		clientDesc = "paho.mqtt.golang (MQTT 3.1.1)"
	}
	h := header{
		command:       commandLine(),
		date:          time.Now().Format(time.RFC3339),
		goVersion:     goVersion(),
		cpu:           cpuModel(),
		mosquitto:     mosqVersion,
		outpost:       outpostDesc,
		outpostAddr:   outpost.addr,
		mosquittoAddr: mosq.addr,
		settings: fmt.Sprintf("%d clients, warm-up %v + %v measured, drain <= %v, %d rep(s) (median), %s, %s, %s, "+
			"max %d msgs/run, client %s, GOMAXPROCS %d, pin %v",
			cfg.clients, cfg.warmup, cfg.duration, cfg.drain, cfg.reps, load, e2e, qos1,
			cfg.maxMsgs, clientDesc, runtime.GOMAXPROCS(0), cfg.pin),
	}
	printHeader(os.Stdout, h, cfg.markdown)

	prm := runParams{
		clients: cfg.clients, window: cfg.window,
		warmup: cfg.warmup, duration: cfg.duration, drain: cfg.drain,
		maxMsgs: cfg.maxMsgs, rate: cfg.rate, inflight: cfg.inflight,
		client: cfg.client,
	}
	brokers := []*broker{outpost, mosq}
	var rows []row
	failed := false
	n := 0
scenarios:
	for _, sc := range scenarios {
		results := make([][]result, len(brokers))
		for rep := 0; rep < cfg.reps; rep++ {
			for bi, b := range brokers {
				if ctx.Err() != nil {
					break scenarios // interrupted or out of time: report what is complete
				}
				n++
				var r result
				if err := b.alive(); err != nil {
					r.err = err
				} else {
					tag := fmt.Sprintf("bb%d-%s-%s-r%d", os.Getpid(), b.name, sc.name, rep)
					r = runScenario(ctx, b.addr, sc, prm, tag)
					if r.err == nil {
						// The broker may have died during the run.
						if err := b.alive(); err != nil {
							r.err = err
						}
					}
				}
				if ctx.Err() != nil {
					break scenarios
				}
				results[bi] = append(results[bi], r)
				progress(n, runs, sc.name, b.name, rep, r)
				if r.err != nil {
					failed = true
				}
				// Let the broker settle (closed sessions, freed buffers).
				select {
				case <-ctx.Done():
				case <-time.After(300 * time.Millisecond):
				}
			}
		}
		rows = append(rows, row{scenario: sc.name, outpost: median(results[0]), mosquitto: median(results[1])})
	}

	if len(rows) > 0 {
		printTable(os.Stdout, rows, cfg.markdown)
		printNotes(rows, cfg.markdown)
	}
	if err := ctx.Err(); err != nil {
		why := "interrupted"
		if errors.Is(err, context.DeadlineExceeded) {
			why = fmt.Sprintf("overall timeout (%v) reached", timeout)
		}
		fmt.Fprintf(os.Stderr, "brokerbench: %s; %d of %d scenarios completed\n", why, len(rows), len(scenarios))
		return 1
	}
	if failed {
		keepDir = keepDir || cfg.outpostAddr == "" || cfg.mosqAddr == ""
		return 1
	}
	return 0
}

func progress(n, total int, sc, broker string, rep int, r result) {
	if r.err != nil {
		fmt.Fprintf(os.Stderr, "[%d/%d] %-17s %-9s rep %d: ERROR %v\n", n, total, sc, broker, rep+1, r.err)
		return
	}
	harness := ""
	if r.received > 0 && r.wall > 0 && r.harnessCPU > 0 {
		harness = fmt.Sprintf("  harness %.1f us/msg, %.2f CPUs",
			float64(r.harnessCPU)/float64(r.received)/1e3, r.harnessCPU.Seconds()/r.wall.Seconds())
	}
	fmt.Fprintf(os.Stderr, "[%d/%d] %-17s %-9s rep %d: %s msg/s  p50 %s  p99 %s  sent %d  lost %d (%s%%)%s\n",
		n, total, sc, broker, rep+1, fmtCount(r.throughput), fmtLatency(r.p50), fmtLatency(r.p99),
		r.sent, r.lost, fmtPct(r.lossPct), harness)
}

func printNotes(rows []row, markdown bool) {
	first := true
	for _, r := range rows {
		for _, side := range []struct {
			name string
			res  result
		}{{"outpost", r.outpost}, {"mosquitto", r.mosquitto}} {
			msgs := side.res.notes
			if side.res.err != nil {
				msgs = append([]string{"ERROR: " + side.res.err.Error()}, msgs...)
			}
			for _, m := range msgs {
				if first {
					fmt.Println()
					fmt.Println("Notes:")
					first = false
				}
				if markdown {
					fmt.Printf("- %s, %s: %s\n", r.scenario, side.name, m)
				} else {
					fmt.Printf("  %s, %s: %s\n", r.scenario, side.name, m)
				}
			}
		}
	}
}

// pinSelf moves every thread of this process to CPU 1 and uses one P.
func pinSelf() error {
	if runtime.NumCPU() < 2 {
		return errors.New("--pin needs at least 2 CPUs")
	}
	path, err := exec.LookPath("taskset")
	if err != nil {
		return errors.New("--pin needs taskset (apt-get install util-linux)")
	}
	runtime.GOMAXPROCS(1)
	out, err := exec.Command(path, "-a", "-c", "-p", "1", strconv.Itoa(os.Getpid())).CombinedOutput()
	if err != nil {
		return fmt.Errorf("taskset: %v: %s", err, out)
	}
	return nil
}
