// Package twin is the built-in device twin of DESIGN.md ("Built-in
// agents"): one agent per device, addressed as agents/twin/{device}.
//
// A device joins by subscribing to agents/twin/{device}/out; the twin sends
// it the desired configuration ({"type": "desired", ...}, possibly empty)
// on join and again whenever it changes, and the device answers with
// {"type": "ack", "version": n}. Telemetry frames ({"type": "telemetry",
// "ts": ms, "values": {...}}) published to .../in are stored one sample per
// key in the twin's SQLite database, pruned by age and count, and their
// values become the state's "reported" map. Callables read the history
// (ranges, aggregates, buckets) and set the desired configuration; a
// recurring schedule flags a device that stopped reporting as silent.
// docs/twin.md is the reference for firmware authors.
package twin

import (
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/outpost-iot/outpost/agenthost"
	"github.com/outpost-iot/outpost/wire"
)

// ClassName is the class's name in topics and paths.
const ClassName = "twin"

// Defaults of Config.
const (
	// DefaultRetention is how long samples are kept: 7 days.
	DefaultRetention = 7 * 24 * time.Hour
	// DefaultMaxSamples is how many samples one twin keeps at most.
	DefaultMaxSamples = 1_000_000
	// DefaultSilence is how long without telemetry flags a device silent.
	DefaultSilence = 5 * time.Minute
	// DefaultMaxHistoryValues bounds the values of one history result, so
	// that it fits an MQTT frame (256 KiB) with values of MaxValueBytes.
	DefaultMaxHistoryValues = 500
	// MaxReportedKeys bounds the distinct keys of the reported state.
	MaxReportedKeys = 1024
	// MaxDesiredBytes bounds the CBOR encoding of a desired configuration.
	MaxDesiredBytes = 64 << 10
	// MaxClockAhead is how far ahead of the gateway's clock a telemetry
	// ts may be; a device clock further ahead would otherwise hold the
	// reported values at that time.
	MaxClockAhead = 24 * time.Hour
)

// Config holds the class defaults. A twin takes the policy fields
// (Retention, MaxSamples, Silence) when it is created; the setPolicy
// callable changes them per twin. Zero fields take the defaults.
type Config struct {
	// Retention is how long samples are kept, by their ts against the
	// gateway clock; older ones are deleted as new ones arrive. Default 7
	// days; negative keeps samples forever.
	Retention time.Duration
	// MaxSamples bounds the samples one twin keeps; beyond it the earliest
	// inserted are deleted. Default 1,000,000; negative for no bound.
	MaxSamples int64
	// Silence is how long a device may send no telemetry before the twin
	// flags it silent. Default 5 minutes; negative never flags.
	Silence time.Duration
	// MaxHistoryValues bounds the values of one history result. Default
	// 500.
	MaxHistoryValues int
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

func (c Config) withDefaults() Config {
	if c.Retention == 0 {
		c.Retention = DefaultRetention
	}
	if c.MaxSamples == 0 {
		c.MaxSamples = DefaultMaxSamples
	}
	if c.Silence == 0 {
		c.Silence = DefaultSilence
	}
	c.Retention, c.MaxSamples, c.Silence = max(c.Retention, 0), max(c.MaxSamples, 0), max(c.Silence, 0)
	if c.MaxHistoryValues <= 0 {
		c.MaxHistoryValues = DefaultMaxHistoryValues
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// NewClass is the twin class with cfg's defaults.
func NewClass(cfg Config) agenthost.Class {
	cfg = cfg.withDefaults()
	return agenthost.Class{
		Name:       ClassName,
		New:        func(*agenthost.Context) agenthost.Agent { return &Agent{cfg: cfg} },
		Migrations: migrations,
	}
}

// Class is the twin class with the default Config.
var Class = NewClass(Config{})

// Tasks of the twin's schedules.
const (
	// taskSilence is the recurring silence check.
	taskSilence = "silence-check"
	// taskPrune prunes once, when the samples of a twin that went silent
	// have passed the retention.
	taskPrune = "prune"
)

// Agent is one device's twin. st mirrors the agent state while it is
// awake; it changes only after the new state was stored.
type Agent struct {
	cfg      Config
	st       state
	checking bool // the silence check is scheduled (as far as this wake knows)
}

// Interface guards.
var (
	_ agenthost.StartHook      = (*Agent)(nil)
	_ agenthost.ConnectHook    = (*Agent)(nil)
	_ agenthost.CloseHook      = (*Agent)(nil)
	_ agenthost.MessageHook    = (*Agent)(nil)
	_ agenthost.InitialStater  = (*Agent)(nil)
	_ agenthost.StateValidator = (*Agent)(nil)
	_ agenthost.Callables      = (*Agent)(nil)
	_ agenthost.Tasks          = (*Agent)(nil)
)

func (a *Agent) nowMS() int64 { return a.cfg.Now().UnixMilli() }

// InitialState is the state of a new twin: nothing reported, an empty
// desired configuration at version 0, never acknowledged.
func (a *Agent) InitialState() any { return initialState(a.cfg).value() }

// OnStart loads the state and corrects "online" for the connections the
// twin has now (none after a gateway restart until devices rejoin).
func (a *Agent) OnStart(ctx *agenthost.Context) error {
	a.st = stateFrom(ctx.State(), a.cfg)
	return a.setOnline(ctx)
}

// OnConnect sends the joining connection the desired configuration.
func (a *Agent) OnConnect(ctx *agenthost.Context, c wire.Conn) error {
	if err := c.Send(desiredFrame(a.st.desiredVersion, a.st.desired)); err != nil {
		return fmt.Errorf("send desired configuration: %w", err)
	}
	return a.setOnline(ctx)
}

// OnClose marks the device offline when its last MQTT connection left.
func (a *Agent) OnClose(ctx *agenthost.Context, _ wire.Conn) {
	if err := a.setOnline(ctx); err != nil {
		ctx.Logger().Warn("twin: update online", "error", err)
	}
}

// setOnline sets "online": whether an MQTT client (a device) has joined.
func (a *Agent) setOnline(ctx *agenthost.Context) error {
	online := false
	for _, c := range ctx.Connections() {
		online = online || c.Transport() == wire.MQTT
	}
	if online == a.st.online {
		return nil
	}
	next := a.st.clone()
	next.online = online
	return a.commit(ctx, next)
}

// ValidateStateChange refuses every client state update: the twin's state
// changes only through its frames and callables.
func (a *Agent) ValidateStateChange(*agenthost.Context, any, wire.Conn) error {
	return errors.New("the twin's state is changed through its frames and callables")
}

// commit stores and broadcasts next, then makes it the twin's state.
func (a *Agent) commit(ctx *agenthost.Context, next state) error {
	if err := ctx.SetState(next.value()); err != nil {
		return err
	}
	a.st = next
	return nil
}

// OnMessage handles telemetry and ack frames. Any other frame, or one that
// does not follow docs/twin.md, gets an outpost_error frame back and an
// error that wraps wire.ErrMalformed.
func (a *Agent) OnMessage(ctx *agenthost.Context, c wire.Conn, m wire.Inbound) error {
	err := a.message(ctx, m)
	if err != nil {
		if serr := c.Send(wire.ErrorFrame(wire.ErrorCode(err), err.Error())); serr != nil {
			ctx.Logger().Debug("twin: error frame not sent", "conn", c.ID(), "error", serr)
		}
	}
	return err
}

func (a *Agent) message(ctx *agenthost.Context, m wire.Inbound) error {
	if m.Value == nil {
		if m.DecodeErr != nil {
			return errFrame("frame does not decode: %v", m.DecodeErr)
		}
		return errFrame("frame not in the connection's codec")
	}
	f, err := decodeFrame(m.Value)
	if err != nil {
		return err
	}
	switch f := f.(type) {
	case *telemetry:
		return a.telemetry(ctx, f)
	case *ack:
		return a.ack(ctx, f)
	}
	return nil
}

// telemetry stores a frame's samples, prunes, and updates the reported
// values: a frame older than reported_at (a backfill) goes to the history
// only.
func (a *Agent) telemetry(ctx *agenthost.Context, t *telemetry) error {
	now := a.nowMS()
	ts := now
	if t.hasTS {
		if t.ts > now+MaxClockAhead.Milliseconds() {
			return errFrame("telemetry \"ts\" %d is more than %s ahead of the gateway's clock (%d)", t.ts, MaxClockAhead, now)
		}
		ts = t.ts
	}
	next := a.st.clone()
	if ts >= next.reportedAt {
		for k, v := range t.values {
			next.reported[k] = v
		}
		next.reportedAt = ts
	}
	if len(next.reported) > MaxReportedKeys {
		return fmt.Errorf("twin: telemetry would take the reported values to %d keys (at most %d): %w", len(next.reported), MaxReportedKeys, wire.ErrLimit)
	}
	if err := ctx.Tx(func(tx *sql.Tx) error { return insertSamples(tx, ts, t.values, next.policy, now) }); err != nil {
		return fmt.Errorf("twin: store telemetry: %w", err)
	}
	next.seenAt, next.silent = now, false
	if err := a.commit(ctx, next); err != nil {
		return fmt.Errorf("twin: %w", err)
	}
	return a.startSilenceChecks(ctx)
}

// ack records the device's answer to a desired configuration.
func (a *Agent) ack(ctx *agenthost.Context, k *ack) error {
	if k.version > a.st.desiredVersion {
		return errFrame("ack of version %d, but the desired configuration is at version %d", k.version, a.st.desiredVersion)
	}
	next := a.st.clone()
	if k.ok {
		next.ackedVersion = max(next.ackedVersion, k.version)
		next.ackError = ""
	} else {
		next.ackError = fmt.Sprintf("version %d: %s", k.version, k.err)
	}
	if err := a.commit(ctx, next); err != nil {
		return fmt.Errorf("twin: %w", err)
	}
	return nil
}

// Tasks is the silence check.
func (a *Agent) Tasks() map[string]agenthost.Task {
	return map[string]agenthost.Task{taskSilence: a.checkSilence, taskPrune: a.prune}
}

// startSilenceChecks makes sure the recurring silence check runs while
// the device reports (once per wake; the host keeps one schedule for the
// same task and interval).
func (a *Agent) startSilenceChecks(ctx *agenthost.Context) error {
	if a.checking || a.st.policy.silenceMS <= 0 {
		return nil
	}
	if _, err := ctx.ScheduleEvery(a.st.policy.checkInterval(), taskSilence, nil); err != nil {
		return fmt.Errorf("twin: schedule silence check: %w", err)
	}
	a.checking = true
	return nil
}

// stopSilenceChecks cancels every silence check schedule.
func (a *Agent) stopSilenceChecks(ctx *agenthost.Context) error {
	all, err := ctx.Schedules()
	if err != nil {
		return err
	}
	for _, s := range all {
		if s.Task == taskSilence {
			if _, err := ctx.CancelSchedule(s.ID); err != nil {
				return err
			}
		}
	}
	a.checking = false
	return nil
}

// checkSilence flags the twin silent when no telemetry arrived for longer
// than the policy's silence_ms, and then stops checking until the next
// telemetry frame, so a silent device's twin stays asleep; one prune is
// scheduled for when its samples have passed the retention, so their space
// is reclaimed although no telemetry arrives.
func (a *Agent) checkSilence(ctx *agenthost.Context, _ any) error {
	now := a.nowMS()
	if err := a.prune(ctx, nil); err != nil {
		return err
	}
	if a.st.policy.silenceMS <= 0 || a.st.seenAt == 0 || now-a.st.seenAt <= a.st.policy.silenceMS {
		return nil
	}
	if !a.st.silent {
		next := a.st.clone()
		next.silent = true
		if err := a.commit(ctx, next); err != nil {
			return fmt.Errorf("twin: %w", err)
		}
		if r := a.st.policy.retentionMS; r > 0 {
			after := time.Duration(r-(now-a.st.seenAt))*time.Millisecond + time.Minute
			if _, err := ctx.ScheduleAfter(max(after, time.Minute), taskPrune, nil); err != nil {
				return fmt.Errorf("twin: schedule prune: %w", err)
			}
		}
	}
	return a.stopSilenceChecks(ctx)
}

// prune deletes the samples the policy no longer keeps.
func (a *Agent) prune(ctx *agenthost.Context, _ any) error {
	now := a.nowMS()
	if err := ctx.Tx(func(tx *sql.Tx) error { return prune(tx, a.st.policy, now) }); err != nil {
		return fmt.Errorf("twin: prune: %w", err)
	}
	return nil
}
