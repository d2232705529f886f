// Command paho5 is a device that talks to an Outpost gateway's device twin
// (docs/twin.md) over MQTT 5 with github.com/eclipse/paho.golang (autopaho
// for reconnects), in CBOR only.
//
// Its cycle: connect (with credentials when given, and the CONNECT user
// property codec=cbor), join the twin by subscribing to
// agents/twin/{name}/out, apply and acknowledge the desired configuration
// the twin sends, publish telemetry to agents/twin/{name}/in at QoS 1, and
// read it back through the twin's history callable with an rpc frame sent
// with MQTT 5 request/response: a response topic (replies/{name}) and
// correlation data, so the reply comes there and not on /out. A refused
// publish comes back as a PUBACK reason code. With --once it runs that
// cycle and exits 0 only if every step succeeded; without it, it keeps
// publishing telemetry every --interval, acknowledges every new
// configuration, and after a lost connection reconnects with exponential
// backoff and joins again.
//
// Configuration: flags, or the environment variables DEVICE_MQTT_URL
// (default tcp://127.0.0.1:1883), DEVICE_USER, DEVICE_PASSWORD and
// DEVICE_NAME (default device-1).
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"math"
	"math/rand/v2"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/paho"
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
	log.SetPrefix("paho5: ")
	cfg, err := parseConfig(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "paho5:", err)
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
	fs := flag.NewFlagSet("paho5", flag.ContinueOnError)
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

// message is a publish the device received.
type message struct {
	topic       string
	payload     []byte
	correlation []byte
}

// device is the state of the firmware: its connection, the frames that
// arrived, and the configuration it applied.
type device struct {
	cfg            config
	in, out, reply string // topics
	cm             *autopaho.ConnectionManager
	frames         chan message   // from paho to the main loop
	joins          chan error     // each (re)join's outcome
	connFailed     chan error     // a failed connection attempt (--once gives up)
	version        int64          // the applied configuration's version
	settings       map[string]any // the configuration it runs (checkConfig)
	calls          int
	temp           float64 // random walks
	hum            int64
}

func run(ctx context.Context, cfg config) error {
	u, err := url.Parse(cfg.url)
	if err != nil {
		return fmt.Errorf("broker URL: %w", err)
	}
	d := &device{
		cfg:        cfg,
		in:         "agents/twin/" + cfg.name + "/in",
		out:        "agents/twin/" + cfg.name + "/out",
		reply:      "replies/" + cfg.name,
		frames:     make(chan message, 64),
		joins:      make(chan error, 1),
		connFailed: make(chan error, 1),
		temp:       21.5, hum: 40,
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	acfg := autopaho.ClientConfig{
		ServerUrls:                    []*url.URL{u},
		KeepAlive:                     30,
		CleanStartOnInitialConnection: true,
		SessionExpiryInterval:         0, // every connect joins again by subscribing
		ConnectTimeout:                stepTimeout,
		// After a lost connection: 0.5 s, then up to 1 s, 2 s, ... 10 s.
		ReconnectBackoff: autopaho.NewExponentialBackoff(500*time.Millisecond, 10*time.Second, time.Second, 2),
		ConnectUsername:  cfg.user,
		ConnectPassword:  []byte(cfg.password),
		ConnectPacketBuilder: func(c *paho.Connect, _ *url.URL) (*paho.Connect, error) {
			// Outpost's MQTT 5 default is already CBOR; saying so is explicit.
			if c.Properties == nil {
				c.Properties = &paho.ConnectProperties{}
			}
			c.Properties.User.Add("codec", "cbor")
			return c, nil
		},
		OnConnectionUp: func(cm *autopaho.ConnectionManager, _ *paho.Connack) { go d.join(ctx, cm) },
		OnConnectionDown: func() bool {
			log.Print("connection lost; reconnecting")
			return !cfg.once
		},
		OnConnectError: func(err error) {
			select {
			case d.connFailed <- err:
			default:
			}
			if !cfg.once {
				log.Printf("connect to %s: %v; retrying", cfg.url, err)
			}
		},
		ClientConfig: paho.ClientConfig{
			ClientID: "paho5-" + cfg.name,
			OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
				m := message{topic: pr.Packet.Topic, payload: pr.Packet.Payload}
				if pr.Packet.Properties != nil {
					m.correlation = pr.Packet.Properties.CorrelationData
				}
				d.frames <- m
				return true, nil
			}},
		},
	}
	d.cm, err = autopaho.NewConnection(ctx, acfg)
	if err != nil {
		return err
	}
	defer func() {
		dctx, dcancel := context.WithTimeout(context.Background(), time.Second)
		defer dcancel()
		d.cm.Disconnect(dctx)
	}()
	if cfg.once {
		return d.cycle(ctx)
	}
	return d.loop(ctx)
}

// join subscribes to /out (the twin then sends its desired configuration)
// and to the response topic. autopaho calls it on every connect.
func (d *device) join(ctx context.Context, cm *autopaho.ConnectionManager) {
	log.Printf("connected to %s", d.cfg.url)
	sctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	sa, err := cm.Subscribe(sctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{
		{Topic: d.out, QoS: 1},
		{Topic: d.reply, QoS: 1},
	}})
	if err == nil {
		for i, rc := range sa.Reasons {
			if rc >= 0x80 {
				err = fmt.Errorf("subscription %d refused: reason code %#x", i, rc)
			}
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
	case err := <-d.connFailed:
		return fmt.Errorf("connect to %s: %w", d.cfg.url, err)
	case <-time.After(stepTimeout):
		return fmt.Errorf("connect to %s: not joined within %v", d.cfg.url, stepTimeout)
	case <-ctx.Done():
		return ctx.Err()
	}
	// 1. The twin sends the desired configuration on join; apply and ack it.
	if _, err := d.await(ctx, "desired configuration", func(_ message, f inFrame) bool { return f.Type == "desired" }); err != nil {
		return err
	}
	// 2. Telemetry, with the device's clock.
	ts := time.Now().UnixMilli()
	values := d.reading()
	if err := d.publishTelemetry(ctx, ts, values); err != nil {
		return err
	}
	// 3. Read it back: history(from_ms, to_ms, key), reply on the response topic.
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
// as they come, a history call every tenth frame; autopaho reconnects.
func (d *device) loop(ctx context.Context) error {
	tick := time.NewTicker(d.period())
	defer tick.Stop()
	sent := 0
	for {
		select {
		case <-ctx.Done():
			log.Print("stopping")
			return nil
		case <-d.joins: // logged by join; autopaho retries
		case m := <-d.frames:
			if f, err := d.handle(ctx, m); err != nil {
				log.Print(err)
			} else if f.Type == "desired" {
				tick.Reset(d.period())
			} else if f.Type == "rpc" {
				if h, err := decodeHistory(f.Result); err == nil {
					log.Printf("history %s: %d rows", f.ID, len(h.Rows))
				}
			}
		case <-tick.C:
			if err := d.publishTelemetry(ctx, time.Now().UnixMilli(), d.reading()); err != nil {
				log.Print(err)
				continue
			}
			if sent++; sent%10 == 0 {
				if _, err := d.call(ctx, "history", nil, nil, "temp"); err != nil {
					log.Print(err)
				}
			}
		}
	}
}

// handle decodes one frame; a desired configuration is applied and
// acknowledged here, whatever the caller waits for.
func (d *device) handle(ctx context.Context, m message) (inFrame, error) {
	f, err := decodeFrame(m.payload)
	if err != nil {
		return f, fmt.Errorf("%s: %w", m.topic, err)
	}
	switch f.Type {
	case "desired":
		return f, d.apply(ctx, f)
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
func (d *device) apply(ctx context.Context, f inFrame) error {
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
	if err := d.publish(ctx, ack, nil); err != nil {
		return fmt.Errorf("ack version %d: %w", f.Version, err)
	}
	log.Printf("acked version %d", f.Version)
	return nil
}

// await handles frames until one matches want or stepTimeout passes.
func (d *device) await(ctx context.Context, what string, want func(message, inFrame) bool) (inFrame, error) {
	timeout := time.After(stepTimeout)
	for {
		select {
		case m := <-d.frames:
			f, err := d.handle(ctx, m)
			if err != nil {
				return f, err
			}
			if want(m, f) {
				return f, nil
			}
		case <-timeout:
			return inFrame{}, fmt.Errorf("no %s within %v", what, stepTimeout)
		case <-ctx.Done():
			return inFrame{}, ctx.Err()
		}
	}
}

// call sends an rpc frame with the response topic and the call's id as
// correlation data, and returns the id.
func (d *device) call(ctx context.Context, method string, args ...any) (string, error) {
	d.calls++
	id := fmt.Sprintf("h-%d", d.calls)
	req, err := encodeRPC(id, method, args...)
	if err != nil {
		return "", err
	}
	if err := d.publish(ctx, req, &paho.PublishProperties{ResponseTopic: d.reply, CorrelationData: []byte(id)}); err != nil {
		return "", fmt.Errorf("rpc %s: %w", method, err)
	}
	return id, nil
}

// history calls the history callable and waits for its reply on the
// response topic, matched by correlation data.
func (d *device) history(ctx context.Context, from, to int64, key string) (historyResult, error) {
	id, err := d.call(ctx, "history", from, to, key)
	if err != nil {
		return historyResult{}, err
	}
	f, err := d.await(ctx, "history reply", func(m message, f inFrame) bool {
		return m.topic == d.reply && bytes.Equal(m.correlation, []byte(id)) && f.Type == "rpc"
	})
	if err != nil {
		return historyResult{}, err
	}
	return decodeHistory(f.Result)
}

func (d *device) publishTelemetry(ctx context.Context, ts int64, values map[string]any) error {
	data, err := encodeTelemetry(ts, values)
	if err != nil {
		return err
	}
	if err := d.publish(ctx, data, nil); err != nil {
		return fmt.Errorf("telemetry: %w", err)
	}
	log.Printf("telemetry %v", values)
	return nil
}

// publish sends a frame to /in at QoS 1 and waits for the PUBACK, which
// the gateway sends once the twin has stored the frame; a refusal comes as
// its reason code (0x99: the twin could not take the frame).
func (d *device) publish(ctx context.Context, data []byte, props *paho.PublishProperties) error {
	pctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	r, err := d.cm.Publish(pctx, &paho.Publish{Topic: d.in, QoS: 1, Payload: data, Properties: props})
	if err != nil {
		return err
	}
	if r.ReasonCode >= 0x80 {
		reason := ""
		if r.Properties != nil {
			reason = r.Properties.ReasonString
		}
		return fmt.Errorf("refused: reason code %#x %s", r.ReasonCode, reason)
	}
	return nil
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
