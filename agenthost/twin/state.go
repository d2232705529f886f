package twin

import (
	"maps"
	"time"
)

// State keys (docs/twin.md "State").
const (
	keyReported       = "reported"
	keyReportedAt     = "reported_at"
	keySeenAt         = "seen_at"
	keyDesired        = "desired"
	keyDesiredVersion = "desired_version"
	keyAckedVersion   = "acked_version"
	keyAckError       = "ack_error"
	keyOnline         = "online"
	keySilent         = "silent"
	keyPolicy         = "policy"

	keyRetention  = "retention_ms"
	keyMaxSamples = "max_samples"
	keySilence    = "silence_ms"
)

// policy is a twin's retention and silence settings, from the class's
// Config when the twin is created, changed with the setPolicy callable.
type policy struct {
	retentionMS int64 // samples older than now - retention are deleted
	maxSamples  int64 // at most this many samples are kept
	silenceMS   int64 // no telemetry for this long flags the twin silent
}

func (p policy) value() map[string]any {
	return map[string]any{keyRetention: p.retentionMS, keyMaxSamples: p.maxSamples, keySilence: p.silenceMS}
}

// state is the twin's agent state, kept as a value of the codecs value
// model (state.value) so that dashboards receive it through state sync.
type state struct {
	reported       map[string]any // the newest value of each key
	reportedAt     int64          // ts of the newest telemetry frame, 0 before any
	seenAt         int64          // gateway time the last telemetry frame arrived, 0 before any
	desired        map[string]any
	desiredVersion int64
	ackedVersion   int64 // -1 until the device acknowledges a version
	ackError       string
	online         bool // a device (an MQTT connection) has joined
	silent         bool
	policy         policy
}

func initialState(cfg Config) state {
	return state{
		reported: map[string]any{}, desired: map[string]any{}, ackedVersion: -1,
		policy: policy{
			retentionMS: cfg.Retention.Milliseconds(),
			maxSamples:  cfg.MaxSamples,
			silenceMS:   cfg.Silence.Milliseconds(),
		},
	}
}

// clone copies s, maps included, so that a change can be tried and thrown
// away when it cannot be stored.
func (s state) clone() state {
	s.reported = maps.Clone(s.reported)
	s.desired = maps.Clone(s.desired)
	return s
}

func (s state) value() map[string]any {
	return map[string]any{
		keyReported:       s.reported,
		keyReportedAt:     s.reportedAt,
		keySeenAt:         s.seenAt,
		keyDesired:        s.desired,
		keyDesiredVersion: s.desiredVersion,
		keyAckedVersion:   s.ackedVersion,
		keyAckError:       s.ackError,
		keyOnline:         s.online,
		keySilent:         s.silent,
		keyPolicy:         s.policy.value(),
	}
}

// stateFrom reads the stored state back; missing or mistyped keys (a state
// written by an older gateway) take their initial values.
func stateFrom(v any, cfg Config) state {
	s := initialState(cfg)
	m, ok := v.(map[string]any)
	if !ok {
		return s
	}
	if r, ok := m[keyReported].(map[string]any); ok {
		s.reported = r
	}
	if d, ok := m[keyDesired].(map[string]any); ok {
		s.desired = d
	}
	readInt(m, keyReportedAt, &s.reportedAt)
	readInt(m, keySeenAt, &s.seenAt)
	readInt(m, keyDesiredVersion, &s.desiredVersion)
	readInt(m, keyAckedVersion, &s.ackedVersion)
	s.ackError, _ = m[keyAckError].(string)
	s.online, _ = m[keyOnline].(bool)
	s.silent, _ = m[keySilent].(bool)
	if p, ok := m[keyPolicy].(map[string]any); ok {
		readInt(p, keyRetention, &s.policy.retentionMS)
		readInt(p, keyMaxSamples, &s.policy.maxSamples)
		readInt(p, keySilence, &s.policy.silenceMS)
	}
	return s
}

func readInt(m map[string]any, key string, dst *int64) {
	if n, err := integer(m[key]); err == nil {
		*dst = n
	}
}

// checkInterval is how often a twin that is not silent checks for
// silence: a quarter of the silence threshold, from 1 s to 1 min.
func (p policy) checkInterval() time.Duration {
	d := time.Duration(p.silenceMS) * time.Millisecond / 4
	return min(max(d, time.Second), time.Minute)
}
