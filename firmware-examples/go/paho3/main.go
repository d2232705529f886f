// Command paho3 is a device that talks to an Outpost gateway's device twin
// (docs/twin.md) over MQTT 3.1.1 with github.com/eclipse/paho.mqtt.golang,
// in CBOR only.
//
// Its cycle: connect (with credentials when given), join the twin by
// subscribing to agents/twin/{name}/out, apply and acknowledge the desired
// configuration the twin sends, publish telemetry to agents/twin/{name}/in
// at QoS 1, and read it back through the twin's history callable with an
// rpc frame. With --once it runs that cycle and exits 0 only if every step
// succeeded; without it, it keeps publishing telemetry every --interval,
// acknowledges every new configuration, and after a lost connection
// reconnects with backoff and joins again.
//
// Configuration: flags, or the environment variables DEVICE_MQTT_URL
// (default tcp://127.0.0.1:1883), DEVICE_USER, DEVICE_PASSWORD and
// DEVICE_NAME (default device-1).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"math"
	"math/rand/v2"
	"os"
	"os/signal"
	"syscall"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// stepTimeout bounds each step of a cycle: connecting, a desired frame, a
// PUBACK, an rpc reply.
const stepTimeout = 10 * time.Second

type config struct {
	url, user, password, name string
	once                      bool
	interval                  time.Duration
}

func main() {
	log.SetFlags(log.Ltime | log.Lmicroseconds)
	log.SetPrefix("paho3: ")
	cfg, err := parseConfig(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "paho3:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg); err != nil {
		log.Printf("FAILED: %v", err)
		os.Exit(1)
	}
}

func parseConfig(args []string) (config, error) {
	env := func(k, def string) string {
		if v := os.Getenv(k); v != "" {
			return v
		}
		return def
	}
	var c config
	fs := flag.NewFlagSet("paho3", flag.ContinueOnError)
	fs.StringVar(&c.url, "url", env("DEVICE_MQTT_URL", "tcp://127.0.0.1:1883"), "broker URL (DEVICE_MQTT_URL)")
	fs.StringVar(&c.user, "user", os.Getenv("DEVICE_USER"), "username (DEVICE_USER)")
	fs.StringVar(&c.password, "password", os.Getenv("DEVICE_PASSWORD"), "password (DEVICE_PASSWORD)")
	fs.StringVar(&c.name, "name", env("DEVICE_NAME", "device-1"), "device name: the twin agents/twin/NAME (DEVICE_NAME)")
	fs.BoolVar(&c.once, "once", false, "run one cycle and exit: 0 only if every step succeeded")
	fs.DurationVar(&c.interval, "interval", 0, "time between telemetry frames without --once (0: the configuration's interval_s, default 30 s)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if c.name == "" || c.interval < 0 {
		return c, errors.New("need a device name and a --interval of 0 or more")
	}
	return c, nil
}

// device is the state of the firmware: its MQTT client, the frames that
// arrived on /out, and the configuration it applied.
type device struct {
	cfg      config
	in, out  string // topics
	client   mqtt.Client
	frames   chan []byte    // from the paho callback to the main loop
	joins    chan error     // each (re)join's outcome
	version  int64          // the applied configuration's version
	settings map[string]any // the configuration it runs (checkConfig)
	calls    int
	temp     float64 // random walks
	hum      int64
}

func run(ctx context.Context, cfg config) error {
	d := &device{
		cfg:    cfg,
		in:     "agents/twin/" + cfg.name + "/in",
		out:    "agents/twin/" + cfg.name + "/out",
		frames: make(chan []byte, 64),
		joins:  make(chan error, 1),
		temp:   21.5, hum: 40,
	}
	opts := mqtt.NewClientOptions().
		AddBroker(cfg.url).
		SetClientID("paho3-" + cfg.name).
		SetUsername(cfg.user).
		SetPassword(cfg.password).
		SetCleanSession(true). // every connect joins again by subscribing
		SetConnectTimeout(stepTimeout).
		SetKeepAlive(30 * time.Second).
		// Without --once: retry the first connect, and reconnect after a
		// lost connection, with a backoff that doubles up to 10 s.
		SetConnectRetry(!cfg.once).
		SetConnectRetryInterval(time.Second).
		SetAutoReconnect(!cfg.once).
		SetMaxReconnectInterval(10 * time.Second).
		SetOnConnectHandler(d.join).
		SetConnectionLostHandler(func(_ mqtt.Client, err error) { log.Printf("connection lost: %v; reconnecting", err) })
	d.client = mqtt.NewClient(opts)
	tok := d.client.Connect()
	if cfg.once {
		if !tok.WaitTimeout(stepTimeout) {
			return fmt.Errorf("connect to %s: no answer within %v", cfg.url, stepTimeout)
		}
		if err := tok.Error(); err != nil {
			return fmt.Errorf("connect to %s: %w", cfg.url, err)
		}
		defer d.client.Disconnect(250)
		return d.cycle(ctx)
	}
	defer d.client.Disconnect(250)
	return d.loop(ctx)
}

// join subscribes to /out: the twin then sends its desired configuration.
// paho calls it on every connect, in a goroutine of its own.
func (d *device) join(c mqtt.Client) {
	log.Printf("connected to %s", d.cfg.url)
	tok := c.Subscribe(d.out, 1, func(_ mqtt.Client, m mqtt.Message) {
		d.frames <- append([]byte(nil), m.Payload()...)
	})
	err := errors.New("no SUBACK")
	if tok.WaitTimeout(stepTimeout) {
		err = tok.Error()
	}
	if err == nil {
		if st, ok := tok.(*mqtt.SubscribeToken); ok && st.Result()[d.out] == 0x80 {
			err = errors.New("subscription refused")
		}
	}
	if err != nil {
		err = fmt.Errorf("join %s: %w", d.out, err)
		log.Print(err)
	} else {
		log.Printf("joined %s", d.out)
	}
	select {
	case d.joins <- err:
	default:
	}
}

// cycle is --once: every step must succeed.
func (d *device) cycle(ctx context.Context) error {
	select {
	case err := <-d.joins:
		if err != nil {
			return err
		}
	case <-time.After(stepTimeout):
		return errors.New("join: no SUBACK")
	}
	// 1. The twin sends the desired configuration on join; apply and ack it.
	if _, err := d.await(ctx, "desired configuration", func(f inFrame) bool { return f.Type == "desired" }); err != nil {
		return err
	}
	// 2. Telemetry, with the device's clock.
	ts := time.Now().UnixMilli()
	values := d.reading()
	if err := d.publishTelemetry(ts, values); err != nil {
		return err
	}
	// 3. Read it back: history(from_ms, to_ms, key).
	h, err := d.history(ctx, ts, ts, "temp")
	if err != nil {
		return err
	}
	if len(h.Rows) != 1 || h.Rows[0].TS != ts || h.Rows[0].Values["temp"] != values["temp"] {
		return fmt.Errorf("history read back %+v, want temp %v at %d", h.Rows, values["temp"], ts)
	}
	log.Printf("history: temp %v at %d stored", values["temp"], ts)
	log.Printf("cycle ok: acked version %d, telemetry stored and read back", d.version)
	return nil
}

// loop is continuous mode: telemetry every interval, configurations acked
// as they come, a history call every tenth frame; connection failures are
// logged and paho reconnects.
func (d *device) loop(ctx context.Context) error {
	tick := time.NewTicker(d.period())
	defer tick.Stop()
	sent := 0
	for {
		select {
		case <-ctx.Done():
			log.Print("stopping")
			return nil
		case err := <-d.joins:
			_ = err // logged by join; paho retries
		case data := <-d.frames:
			if f, err := d.handle(data); err != nil {
				log.Print(err)
			} else if f.Type == "desired" {
				tick.Reset(d.period())
			} else if f.Type == "rpc" {
				if h, err := decodeHistory(f.Result); err == nil {
					log.Printf("history %s: %d rows", f.ID, len(h.Rows))
				}
			}
		case <-tick.C:
			if !d.client.IsConnectionOpen() {
				continue
			}
			if err := d.publishTelemetry(time.Now().UnixMilli(), d.reading()); err != nil {
				log.Print(err)
				continue
			}
			if sent++; sent%10 == 0 {
				if err := d.call("history", nil, nil, "temp"); err != nil {
					log.Print(err)
				}
			}
		}
	}
}

// handle decodes one frame from /out; a desired configuration is applied
// and acknowledged here, whatever the caller waits for.
func (d *device) handle(data []byte) (inFrame, error) {
	f, err := decodeFrame(data)
	if err != nil {
		return f, err
	}
	switch f.Type {
	case "desired":
		return f, d.apply(f)
	case "outpost_error":
		return f, fmt.Errorf("gateway error %s: %s", f.Code, f.Error)
	case "rpc":
		if !f.Success {
			return f, fmt.Errorf("rpc %s failed: %s", f.ID, f.Error)
		}
	}
	return f, nil
}

// apply takes a desired configuration: it checks it (checkConfig), then
// uses it and acks, or keeps the settings it has and acks with ok=false
// and the reason (the twin reports it as ack_error).
func (d *device) apply(f inFrame) error {
	settings, reason := checkConfig(f.Config)
	ack, err := encodeAck(f.Version)
	if reason != "" {
		log.Printf("desired version %d refused: %s", f.Version, reason)
		ack, err = encodeAckError(f.Version, reason)
	} else {
		d.version, d.settings = f.Version, settings
		log.Printf("desired version %d: %v", f.Version, settings)
	}
	if err != nil {
		return err
	}
	if err := d.publish(ack); err != nil {
		return fmt.Errorf("ack version %d: %w", f.Version, err)
	}
	log.Printf("acked version %d", f.Version)
	return nil
}

// await handles frames until one matches want or stepTimeout passes.
func (d *device) await(ctx context.Context, what string, want func(inFrame) bool) (inFrame, error) {
	timeout := time.After(stepTimeout)
	for {
		select {
		case data := <-d.frames:
			f, err := d.handle(data)
			if err != nil {
				return f, err
			}
			if want(f) {
				return f, nil
			}
		case <-timeout:
			return inFrame{}, fmt.Errorf("no %s within %v", what, stepTimeout)
		case <-ctx.Done():
			return inFrame{}, ctx.Err()
		}
	}
}

// call sends an rpc frame; the reply comes on /out with the same id.
func (d *device) call(method string, args ...any) error {
	d.calls++
	req, err := encodeRPC(fmt.Sprintf("h-%d", d.calls), method, args...)
	if err != nil {
		return err
	}
	if err := d.publish(req); err != nil {
		return fmt.Errorf("rpc %s: %w", method, err)
	}
	return nil
}

// history calls the history callable and waits for its reply.
func (d *device) history(ctx context.Context, from, to int64, key string) (historyResult, error) {
	if err := d.call("history", from, to, key); err != nil {
		return historyResult{}, err
	}
	id := fmt.Sprintf("h-%d", d.calls)
	f, err := d.await(ctx, "history reply", func(f inFrame) bool { return f.Type == "rpc" && f.ID == id })
	if err != nil {
		return historyResult{}, err
	}
	return decodeHistory(f.Result)
}

func (d *device) publishTelemetry(ts int64, values map[string]any) error {
	data, err := encodeTelemetry(ts, values)
	if err != nil {
		return err
	}
	if err := d.publish(data); err != nil {
		return fmt.Errorf("telemetry: %w", err)
	}
	log.Printf("telemetry %v", values)
	return nil
}

// publish sends a frame to /in at QoS 1 and waits for the PUBACK, which
// the gateway sends once the twin has stored the frame.
func (d *device) publish(data []byte) error {
	tok := d.client.Publish(d.in, 1, false, data)
	if !tok.WaitTimeout(stepTimeout) {
		return fmt.Errorf("no PUBACK within %v", stepTimeout)
	}
	return tok.Error()
}

// period is the time between telemetry frames: --interval, else the
// configuration's interval_s.
func (d *device) period() time.Duration {
	if d.cfg.interval > 0 {
		return d.cfg.interval
	}
	if n, ok := d.settings["interval_s"].(int64); ok {
		return time.Duration(n) * time.Second
	}
	return 30 * time.Second
}

// checkConfig returns the settings this device runs from a desired
// configuration (the whole configuration, not a patch: keys left out take
// their defaults, unknown keys are ignored), or why it cannot run it.
func checkConfig(desired map[string]any) (map[string]any, string) {
	settings := map[string]any{"interval_s": int64(30), "led": false, "unit": "C"}
	if v, ok := desired["interval_s"]; ok {
		n, isInt := v.(int64)
		if !isInt || n < 1 || n > 3600 {
			return nil, "interval_s out of range"
		}
		settings["interval_s"] = n
	}
	if v, ok := desired["led"]; ok {
		b, isBool := v.(bool)
		if !isBool {
			return nil, "led is not a bool"
		}
		settings["led"] = b
	}
	if v, ok := desired["unit"]; ok {
		if v != "C" && v != "F" {
			return nil, `unit is not "C" or "F"`
		}
		settings["unit"] = v
	}
	return settings, ""
}

// reading is the next simulated measurement: temperature (°C, a float)
// and relative humidity (%, an integer) as random walks.
func (d *device) reading() map[string]any {
	d.temp = math.Round((d.temp+rand.Float64()*0.5-0.25)*100) / 100
	d.hum = min(max(d.hum+rand.Int64N(3)-1, 0), 100)
	return map[string]any{"temp": d.temp, "hum": d.hum}
}
