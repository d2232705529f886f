package main

// outpost sim: a fleet of simulated twin devices for load (issue 7).
//
// Each simulated device is its own MQTT 5 client (paho.golang) that does
// what firmware-examples/go/paho5 does: it joins agents/twin/{name} by
// subscribing to /out, acknowledges every desired configuration, publishes
// CBOR telemetry at QoS 1 (temperature and humidity as random walks, now
// and then a door opening or closing), and every --rpc-every frames calls
// the twin's `latest` callable. A lost connection is counted and retried
// with a backoff that doubles up to 10 s. At the end (and every 5 s with
// --progress) it reports what was sent, what the gateway acknowledged, the
// errors, and latency percentiles: publish → PUBACK (the twin stored the
// frame, protocol.md §10.4) and the rpc round trip.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"time"

	paho5 "github.com/eclipse/paho.golang/paho"

	"github.com/outpost-iot/outpost/codecs"
)

// simConfig is the command line of outpost sim.
type simConfig struct {
	url, user, password string
	prefix              string        // device names: prefix + 1..N
	devices             int           // simulated devices, each its own client
	rate                float64       // telemetry frames per second per device
	duration            time.Duration // how long to run; 0: until --messages or Ctrl-C
	messages            int           // frames per device, then stop; 0: no limit
	rpcEvery            int           // an rpc call every this many frames; 0: none
	progress            bool          // a line every progressEvery
	jsonOut             bool
}

const (
	simStepTimeout   = 10 * time.Second // connect, SUBACK, PUBACK
	simRPCTimeout    = 10 * time.Second // an rpc reply
	simBackoffMin    = 500 * time.Millisecond
	simBackoffMax    = 10 * time.Second
	simProgressEvery = 5 * time.Second
)

func runSim(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("sim", stderr)
	var c simConfig
	fs.StringVar(&c.url, "url", envOr("DEVICE_MQTT_URL", "tcp://127.0.0.1:1883"), "gateway MQTT URL, tcp://HOST:PORT (env DEVICE_MQTT_URL)")
	fs.StringVar(&c.user, "user", os.Getenv("DEVICE_USER"), "username of every device (env DEVICE_USER)")
	fs.StringVar(&c.password, "password", os.Getenv("DEVICE_PASSWORD"), "password (env DEVICE_PASSWORD)")
	fs.StringVar(&c.prefix, "prefix", "sim-", "device names are PREFIX1 ... PREFIXN (twins agents/twin/PREFIXi)")
	fs.IntVar(&c.devices, "devices", 10, "number of simulated devices, each its own MQTT connection")
	fs.Float64Var(&c.rate, "rate", 1, "telemetry frames per second per device")
	fs.DurationVar(&c.duration, "duration", 10*time.Second, "how long to run (0: until --messages are sent, or Ctrl-C)")
	fs.IntVar(&c.messages, "messages", 0, "telemetry frames per device, then stop (0: no limit)")
	fs.IntVar(&c.rpcEvery, "rpc-every", 10, "call the twin's latest() every N frames (0: never)")
	fs.BoolVar(&c.progress, "progress", false, "print a progress line every 5 s")
	fs.BoolVar(&c.jsonOut, "json", false, "print the final report as JSON")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("sim: unexpected argument %q", fs.Arg(0))}
	}
	u, err := url.Parse(c.url)
	if err != nil || (u.Scheme != "tcp" && u.Scheme != "mqtt") || u.Host == "" {
		return usageError{fmt.Errorf("sim: --url %q: want tcp://HOST:PORT", c.url)}
	}
	switch {
	case c.devices < 1:
		return usageError{errors.New("sim: --devices must be at least 1")}
	case c.rate <= 0 || math.IsInf(c.rate, 0) || math.IsNaN(c.rate):
		return usageError{errors.New("sim: --rate must be a positive number of frames per second")}
	case c.duration < 0 || c.messages < 0 || c.rpcEvery < 0:
		return usageError{errors.New("sim: --duration, --messages and --rpc-every must not be negative")}
	case c.duration == 0 && c.messages == 0:
		fmt.Fprintln(stderr, "outpost sim: no --duration or --messages: running until Ctrl-C")
	}
	cb, err := codecs.New("cbor", codecs.Limits{})
	if err != nil {
		return err
	}
	s := &sim{cfg: c, addr: u.Host, cbor: cb, stderr: stderr}
	rep := s.run(ctx, stdout)
	if c.jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		rep.print(stdout, c)
	}
	if rep.Errors.Total > 0 {
		return fmt.Errorf("sim: %d errors", rep.Errors.Total)
	}
	return nil
}

// sim is one run: the devices share the counters and histograms.
type sim struct {
	cfg    simConfig
	addr   string
	cbor   codecs.Codec
	stderr io.Writer

	sent, delivered, acks, rpcSent, rpcOK atomic.Int64
	connects                              atomic.Int64
	errConnect, errLost, errPublish       atomic.Int64
	errRefused, errRPC, errFrame          atomic.Int64
	pub, rpc                              latencyHist

	logMu     sync.Mutex
	errLogged int // the first few errors are printed
}

// logErr prints one of the first 10 errors to stderr.
func (s *sim) logErr(format string, args ...any) {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	if s.errLogged++; s.errLogged <= 10 {
		fmt.Fprintf(s.stderr, "outpost sim: "+format+"\n", args...)
	} else if s.errLogged == 11 {
		fmt.Fprintln(s.stderr, "outpost sim: more errors; counted in the report")
	}
}

func (s *sim) run(ctx context.Context, stdout io.Writer) simReport {
	// stop ends the sending at --duration; frames in flight then still get
	// their PUBACK and rpc calls their reply. ctx (Ctrl-C) ends everything.
	stop := ctx
	if s.cfg.duration > 0 {
		var cancel context.CancelFunc
		stop, cancel = context.WithTimeout(ctx, s.cfg.duration)
		defer cancel()
	}
	start := time.Now()
	var wg sync.WaitGroup
	for i := range s.cfg.devices {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.device(ctx, stop, fmt.Sprintf("%s%d", s.cfg.prefix, i+1))
		}()
	}
	if s.cfg.progress {
		stop := make(chan struct{})
		var pwg sync.WaitGroup
		pwg.Add(1)
		go func() {
			defer pwg.Done()
			t := time.NewTicker(simProgressEvery)
			defer t.Stop()
			for {
				select {
				case <-stop:
					return
				case <-t.C:
					r := s.report(time.Since(start))
					fmt.Fprintf(stdout, "sim %5.0fs: sent %d delivered %d acks %d rpc %d/%d errors %d, publish p50 %s p99 %s\n",
						r.Seconds, r.Sent, r.Delivered, r.Acks, r.RPCOK, r.RPCSent, r.Errors.Total, ms(r.Publish.P50), ms(r.Publish.P99))
				}
			}
		}()
		defer func() { close(stop); pwg.Wait() }()
	}
	wg.Wait()
	return s.report(time.Since(start))
}

// device runs one simulated device until its frames are sent or stop
// ends, reconnecting with backoff.
func (s *sim) device(ctx, stop context.Context, name string) {
	d := &simDevice{sim: s, name: name, temp: 18 + 6*rand.Float64(), hum: 35 + rand.Int64N(20)}
	backoff := simBackoffMin
	for stop.Err() == nil {
		connected, err := d.session(ctx, stop)
		if err == nil || stop.Err() != nil {
			return
		}
		if connected {
			s.errLost.Add(1)
			backoff = simBackoffMin
		} else {
			s.errConnect.Add(1)
		}
		s.logErr("%s: %v; retrying in %v", name, err, backoff)
		select {
		case <-stop.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, simBackoffMax)
	}
}

// simDevice is one simulated device; its readings survive reconnects.
type simDevice struct {
	*sim
	name string
	sent int
	temp float64
	hum  int64
	door bool

	mu      sync.Mutex
	pending map[string]time.Time // rpc id → sent at
	calls   int
}

// session is one connection: connect, join, publish until the device sent
// its frames or stop ended, then wait for the rpc replies. It returns nil
// then, and whether it got connected.
func (d *simDevice) session(ctx, stop context.Context) (bool, error) {
	conn, err := (&net.Dialer{Timeout: simStepTimeout}).DialContext(stop, "tcp", d.addr)
	if err != nil {
		return false, err
	}
	down := make(chan struct{})
	var downOnce sync.Once
	lost := func(error) { downOnce.Do(func() { close(down) }) }
	frames := make(chan []byte, 16)
	id := "outpost-sim-" + d.name
	c := paho5.NewClient(paho5.ClientConfig{ClientID: id, Conn: conn, OnClientError: lost,
		OnServerDisconnect: func(*paho5.Disconnect) { lost(nil) },
		OnPublishReceived: []func(paho5.PublishReceived) (bool, error){func(pr paho5.PublishReceived) (bool, error) {
			select {
			case frames <- pr.Packet.Payload:
			case <-down:
			}
			return true, nil
		}}})
	cctx, cancel := context.WithTimeout(stop, simStepTimeout)
	defer cancel()
	cp := &paho5.Connect{ClientID: id, CleanStart: true, KeepAlive: 30}
	if d.cfg.user != "" {
		cp.UsernameFlag, cp.Username = true, d.cfg.user
		cp.PasswordFlag, cp.Password = true, []byte(d.cfg.password)
	}
	if ca, err := c.Connect(cctx, cp); err != nil {
		conn.Close()
		if ca != nil && ca.ReasonCode != 0 {
			return false, fmt.Errorf("connect refused: reason code %#x %s", ca.ReasonCode, ca.Properties.ReasonString)
		}
		return false, fmt.Errorf("connect: %w", err)
	}
	d.connects.Add(1)
	var wg sync.WaitGroup
	defer func() {
		lost(nil)
		c.Disconnect(&paho5.Disconnect{})
		wg.Wait()
		d.unanswered(ctx)
	}()

	// The frames the twin sends: desired configurations (acked) and rpc
	// replies (timed). One goroutine, owned by this session; it closes
	// configured once the first configuration is acked.
	configured := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		acked := false
		for {
			select {
			case <-down:
				return
			case data := <-frames:
				if d.frame(ctx, c, data) && !acked {
					acked = true
					close(configured)
				}
			}
		}
	}()
	out := "agents/twin/" + d.name + "/out"
	sa, err := c.Subscribe(cctx, &paho5.Subscribe{Subscriptions: []paho5.SubscribeOptions{{Topic: out, QoS: 1}}})
	if err != nil {
		return true, fmt.Errorf("join %s: %w", out, err)
	}
	if len(sa.Reasons) != 1 || sa.Reasons[0] >= 0x80 {
		return true, fmt.Errorf("join %s refused: %v", out, sa.Reasons)
	}
	// As a device does: apply the configuration the twin sends on join
	// before reporting.
	select {
	case <-configured:
	case <-down:
		return true, errors.New("connection lost")
	case <-stop.Done():
		return true, nil
	case <-time.After(simStepTimeout):
		d.errFrame.Add(1)
		d.logErr("%s: no desired configuration within %v of joining", d.name, simStepTimeout)
	}

	interval := time.Duration(float64(time.Second) / d.cfg.rate)
	first := time.NewTimer(time.Duration(rand.Int64N(int64(interval) + 1))) // spread the fleet
	defer first.Stop()
	tick := first.C
	var ticker *time.Ticker
	for d.cfg.messages == 0 || d.sent < d.cfg.messages {
		select {
		case <-stop.Done():
			d.drain(ctx, down)
			return true, nil
		case <-down:
			return true, errors.New("connection lost")
		case <-tick:
			if ticker == nil {
				ticker = time.NewTicker(interval)
				defer ticker.Stop()
				tick = ticker.C
			}
			if err := d.telemetry(ctx, c); err != nil {
				return true, err
			}
		}
	}
	d.drain(ctx, down)
	return true, nil
}

// telemetry publishes the next reading at QoS 1 and times the PUBACK.
func (d *simDevice) telemetry(ctx context.Context, c *paho5.Client) error {
	d.temp = math.Round((d.temp+rand.NormFloat64()*0.1)*100) / 100
	d.hum = min(max(d.hum+rand.Int64N(3)-1, 0), 100)
	values := map[string]any{"temp": d.temp, "hum": d.hum}
	if rand.IntN(50) == 0 { // now and then a door opens or closes
		d.door = !d.door
		values["door"] = d.door
	}
	data, err := d.cbor.Marshal(map[string]any{"type": "telemetry", "ts": time.Now().UnixMilli(), "values": values})
	if err != nil {
		return err
	}
	d.sent++
	d.sim.sent.Add(1)
	if err := d.publish(ctx, c, data, &d.pub); errors.Is(err, errRefused) {
		return nil // counted; the connection stays
	} else if err != nil {
		return err
	}
	d.delivered.Add(1)
	if d.cfg.rpcEvery > 0 && d.sent%d.cfg.rpcEvery == 0 {
		return d.call(ctx, c)
	}
	return nil
}

// publish sends to /in at QoS 1; a refusal (reason code) is counted but
// keeps the connection; a transport failure ends the session.
func (d *simDevice) publish(ctx context.Context, c *paho5.Client, data []byte, h *latencyHist) error {
	pctx, cancel := context.WithTimeout(ctx, simStepTimeout)
	defer cancel()
	t0 := time.Now()
	r, err := c.Publish(pctx, &paho5.Publish{Topic: "agents/twin/" + d.name + "/in", QoS: 1, Payload: data})
	if err != nil {
		if ctx.Err() != nil {
			return errStopped
		}
		d.errPublish.Add(1)
		return fmt.Errorf("publish: %w", err)
	}
	if h != nil {
		h.add(time.Since(t0))
	}
	if r.ReasonCode >= 0x80 {
		d.errRefused.Add(1)
		d.logErr("%s: publish refused: reason code %#x %s", d.name, r.ReasonCode, r.Properties.ReasonString)
		return errRefused
	}
	return nil
}

var (
	errRefused = errors.New("publish refused")
	errStopped = errors.New("stopped")
)

// call sends an rpc of latest(); frame() times its reply.
func (d *simDevice) call(ctx context.Context, c *paho5.Client) error {
	d.mu.Lock()
	d.calls++
	id := fmt.Sprintf("sim-%d", d.calls)
	if d.pending == nil {
		d.pending = map[string]time.Time{}
	}
	d.pending[id] = time.Now()
	d.mu.Unlock()
	data, err := d.cbor.Marshal(map[string]any{"type": "rpc", "id": id, "method": "latest", "args": []any{}})
	if err != nil {
		return err
	}
	d.rpcSent.Add(1)
	if err := d.publish(ctx, c, data, nil); err != nil && !errors.Is(err, errRefused) {
		return err
	}
	return nil
}

// frame handles one frame from /out; it reports whether it acked a
// configuration.
func (d *simDevice) frame(ctx context.Context, c *paho5.Client, data []byte) bool {
	v, err := d.cbor.Unmarshal(data)
	f, _ := v.(map[string]any)
	if err != nil || f == nil {
		d.errFrame.Add(1)
		d.logErr("%s: frame %x is not a CBOR map: %v", d.name, data, err)
		return false
	}
	switch f["type"] {
	case "desired":
		ack, err := d.cbor.Marshal(map[string]any{"type": "ack", "version": f["version"]})
		if err == nil && d.publish(ctx, c, ack, nil) == nil {
			d.acks.Add(1)
			return true
		}
	case "rpc":
		id, _ := f["id"].(string)
		d.mu.Lock()
		t0, ok := d.pending[id]
		delete(d.pending, id)
		d.mu.Unlock()
		switch {
		case !ok:
			d.errFrame.Add(1)
			d.logErr("%s: rpc reply with unknown id %q", d.name, id)
		case f["success"] != true:
			d.errRPC.Add(1)
			d.logErr("%s: rpc %s failed: %v", d.name, id, f["error"])
		default:
			d.rpc.add(time.Since(t0))
			d.rpcOK.Add(1)
		}
	default:
		d.errFrame.Add(1)
		d.logErr("%s: unexpected frame %v", d.name, f)
	}
	return false
}

// drain waits for the replies of outstanding rpc calls, within
// simRPCTimeout.
func (d *simDevice) drain(ctx context.Context, down <-chan struct{}) {
	deadline := time.NewTimer(simRPCTimeout)
	defer deadline.Stop()
	for {
		d.mu.Lock()
		n := len(d.pending)
		d.mu.Unlock()
		if n == 0 {
			return
		}
		select {
		case <-down:
			return
		case <-ctx.Done():
			return
		case <-deadline.C:
			return
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// unanswered counts the rpc calls whose reply never came as errors (when
// the run was not stopped first) and forgets them.
func (d *simDevice) unanswered(ctx context.Context) {
	d.mu.Lock()
	n := len(d.pending)
	clear(d.pending)
	d.mu.Unlock()
	if n > 0 && ctx.Err() == nil {
		d.errRPC.Add(int64(n))
		d.logErr("%s: %d rpc calls unanswered", d.name, n)
	}
}

// latencyHist is a bounded histogram of latencies: buckets 2% wide on a
// log scale from 1 µs to over an hour, so percentiles are within 2%
// whatever the run's length.
type latencyHist struct {
	mu      sync.Mutex
	buckets [1200]int64
	n       int64
	sum     time.Duration
	max     time.Duration
}

const histGrowth = 1.02

func (h *latencyHist) add(d time.Duration) {
	us := max(float64(d)/float64(time.Microsecond), 1)
	i := min(int(math.Log(us)/math.Log(histGrowth)), len(h.buckets)-1)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.buckets[i]++
	h.n++
	h.sum += d
	h.max = max(h.max, d)
}

// latencySummary is a histogram's percentiles, in milliseconds.
type latencySummary struct {
	Count int64   `json:"count"`
	Mean  float64 `json:"mean_ms"`
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P99   float64 `json:"p99_ms"`
	Max   float64 `json:"max_ms"`
}

func (h *latencyHist) summary() latencySummary {
	h.mu.Lock()
	defer h.mu.Unlock()
	toMS := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	s := latencySummary{Count: h.n, Max: toMS(h.max)}
	if h.n == 0 {
		return s
	}
	s.Mean = toMS(h.sum / time.Duration(h.n))
	pct := func(p float64) float64 {
		rank := int64(math.Ceil(p * float64(h.n)))
		var seen int64
		for i, c := range h.buckets {
			if seen += c; seen >= rank {
				// The bucket's upper bound, never above the largest seen.
				us := math.Pow(histGrowth, float64(i+1))
				return math.Min(us/1000, s.Max)
			}
		}
		return s.Max
	}
	s.P50, s.P90, s.P99 = pct(0.50), pct(0.90), pct(0.99)
	return s
}

// simReport is what a run did; --json prints it as is.
type simReport struct {
	URL       string  `json:"url"`
	Devices   int     `json:"devices"`
	Rate      float64 `json:"rate_per_device"`
	Seconds   float64 `json:"seconds"`
	Connects  int64   `json:"connects"`
	Sent      int64   `json:"telemetry_sent"`
	Delivered int64   `json:"telemetry_delivered"`
	PerSecond float64 `json:"delivered_per_second"`
	Acks      int64   `json:"acks"`
	RPCSent   int64   `json:"rpc_sent"`
	RPCOK     int64   `json:"rpc_ok"`
	Errors    struct {
		Total   int64 `json:"total"`
		Connect int64 `json:"connect"`
		Lost    int64 `json:"connection_lost"`
		Publish int64 `json:"publish"`
		Refused int64 `json:"refused"`
		RPC     int64 `json:"rpc"`
		Frame   int64 `json:"frame"`
	} `json:"errors"`
	Publish latencySummary `json:"publish_latency"`
	RPC     latencySummary `json:"rpc_latency"`
}

func (s *sim) report(elapsed time.Duration) simReport {
	r := simReport{URL: s.cfg.url, Devices: s.cfg.devices, Rate: s.cfg.rate, Seconds: elapsed.Seconds(),
		Connects: s.connects.Load(), Sent: s.sent.Load(), Delivered: s.delivered.Load(), Acks: s.acks.Load(),
		RPCSent: s.rpcSent.Load(), RPCOK: s.rpcOK.Load(), Publish: s.pub.summary(), RPC: s.rpc.summary()}
	if r.Seconds > 0 {
		r.PerSecond = float64(r.Delivered) / r.Seconds
	}
	e := &r.Errors
	e.Connect, e.Lost, e.Publish = s.errConnect.Load(), s.errLost.Load(), s.errPublish.Load()
	e.Refused, e.RPC, e.Frame = s.errRefused.Load(), s.errRPC.Load(), s.errFrame.Load()
	e.Total = e.Connect + e.Lost + e.Publish + e.Refused + e.RPC + e.Frame
	return r
}

func (r simReport) print(w io.Writer, c simConfig) {
	fmt.Fprintf(w, "outpost sim: %d devices at %g frames/s each against %s, %.1f s\n", r.Devices, r.Rate, r.URL, r.Seconds)
	fmt.Fprintf(w, "  connections  %d\n", r.Connects)
	fmt.Fprintf(w, "  telemetry    sent %d, delivered %d (%.1f/s)\n", r.Sent, r.Delivered, r.PerSecond)
	fmt.Fprintf(w, "  acks         %d\n", r.Acks)
	if c.rpcEvery > 0 {
		fmt.Fprintf(w, "  rpc          sent %d, answered %d\n", r.RPCSent, r.RPCOK)
	}
	e := r.Errors
	fmt.Fprintf(w, "  errors       %d (connect %d, connection lost %d, publish %d, refused %d, rpc %d, frame %d)\n",
		e.Total, e.Connect, e.Lost, e.Publish, e.Refused, e.RPC, e.Frame)
	line := func(label string, s latencySummary) {
		fmt.Fprintf(w, "  %-12s n %d, p50 %s, p90 %s, p99 %s, max %s\n", label, s.Count, ms(s.P50), ms(s.P90), ms(s.P99), ms(s.Max))
	}
	line("publish→ack", r.Publish)
	if c.rpcEvery > 0 {
		line("rpc", r.RPC)
	}
}

// ms formats milliseconds for the report.
func ms(v float64) string {
	if v < 10 {
		return fmt.Sprintf("%.2fms", v)
	}
	return fmt.Sprintf("%.0fms", v)
}
