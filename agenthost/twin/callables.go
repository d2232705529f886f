package twin

import (
	"database/sql"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/outpost-iot/outpost/agenthost"
	"github.com/outpost-iot/outpost/codecs"
	"github.com/outpost-iot/outpost/wire"
)

// Callables are history, latest, desired, setDesired, policy and setPolicy
// (docs/twin.md "Callables").
func (a *Agent) Callables() map[string]agenthost.Method {
	return map[string]agenthost.Method{
		"history": {
			Description: "history(from_ms, to_ms, key, aggregate, bucket_ms) returns {rows: [{ts, values}], more}: the samples in [from_ms, to_ms], or with aggregate (min, max, avg, sum, count, first, last) one row per bucket; every argument may be null",
			Call:        a.history,
		},
		"latest": {
			Description: "latest() returns {ts, values}: the newest reported values and the time of the newest telemetry frame (0 before any)",
			Call: func(*agenthost.Context, *agenthost.Call) (any, error) {
				return map[string]any{"ts": a.st.reportedAt, "values": a.st.reported}, nil
			},
		},
		"desired": {
			Description: "desired() returns {version, config, acked_version, ack_error}",
			Call: func(*agenthost.Context, *agenthost.Call) (any, error) {
				return a.desiredValue(), nil
			},
		},
		"setDesired": {
			Description: "setDesired(config) replaces the desired configuration with the map config, sends it to the joined devices and returns its version",
			Call:        a.setDesired,
		},
		"policy": {
			Description: "policy() returns {retention_ms, max_samples, silence_ms}",
			Call: func(*agenthost.Context, *agenthost.Call) (any, error) {
				return a.st.policy.value(), nil
			},
		},
		"setPolicy": {
			Description: "setPolicy({retention_ms, max_samples, silence_ms}) changes the keys given (0 turns a limit off) and returns the policy",
			Call:        a.setPolicy,
		},
	}
}

func (a *Agent) desiredValue() map[string]any {
	return map[string]any{
		"version": a.st.desiredVersion, "config": a.st.desired,
		"acked_version": a.st.ackedVersion, "ack_error": a.st.ackError,
	}
}

// sizeCodec measures desired configurations as devices receive them.
var sizeCodec = func() codecs.Codec {
	c, err := codecs.New(wire.CBOR, codecs.Limits{MaxSize: MaxDesiredBytes})
	if err != nil {
		panic(err)
	}
	return c
}()

func (a *Agent) setDesired(ctx *agenthost.Context, call *agenthost.Call) (any, error) {
	if len(call.Args) != 1 {
		return nil, fmt.Errorf("Method setDesired: takes 1 argument, got %d", len(call.Args))
	}
	config, ok := call.Arg(0).(map[string]any)
	if !ok {
		return nil, call.ArgError(0, "config must be a map with text keys, got %s", describe(call.Arg(0)))
	}
	if _, err := sizeCodec.Marshal(config); err != nil {
		return nil, call.ArgError(0, "config must encode to at most %d bytes of CBOR: %v", MaxDesiredBytes, err)
	}
	next := a.st.clone()
	next.desired = maps.Clone(config)
	next.desiredVersion++
	next.ackError = ""
	if err := a.commit(ctx, next); err != nil {
		return nil, err
	}
	ctx.Broadcast(desiredFrame(next.desiredVersion, next.desired))
	return next.desiredVersion, nil
}

func (a *Agent) setPolicy(ctx *agenthost.Context, call *agenthost.Call) (any, error) {
	if len(call.Args) != 1 {
		return nil, fmt.Errorf("Method setPolicy: takes 1 argument, got %d", len(call.Args))
	}
	m, ok := call.Arg(0).(map[string]any)
	if !ok {
		return nil, call.ArgError(0, "policy must be a map, got %s", describe(call.Arg(0)))
	}
	next := a.st.clone()
	fields := map[string]*int64{keyRetention: &next.policy.retentionMS, keyMaxSamples: &next.policy.maxSamples, keySilence: &next.policy.silenceMS}
	for k, v := range m {
		dst, known := fields[k]
		if !known {
			return nil, call.ArgError(0, "unknown policy key %q (want %s)", truncate(k, 32), strings.Join(slices.Sorted(maps.Keys(fields)), ", "))
		}
		n, err := integer(v)
		if err != nil || n < 0 {
			return nil, call.ArgError(0, "%s must be an integer >= 0, got %s", k, describe(v))
		}
		*dst = n
	}
	now := a.nowMS()
	if err := ctx.Tx(func(tx *sql.Tx) error { return prune(tx, next.policy, now) }); err != nil {
		return nil, fmt.Errorf("prune: %w", err)
	}
	silenceChanged := next.policy.silenceMS != a.st.policy.silenceMS
	if err := a.commit(ctx, next); err != nil {
		return nil, err
	}
	if silenceChanged {
		if err := a.stopSilenceChecks(ctx); err != nil {
			return nil, err
		}
		if a.st.seenAt != 0 && !a.st.silent {
			if err := a.startSilenceChecks(ctx); err != nil {
				return nil, err
			}
		}
	}
	return a.st.policy.value(), nil
}

func (a *Agent) history(ctx *agenthost.Context, call *agenthost.Call) (any, error) {
	q, err := historyArgs(call, a.cfg.MaxHistoryValues)
	if err != nil {
		return nil, err
	}
	// Samples past the retention are not pruned yet when no telemetry
	// arrived since; they are never read.
	if r := a.st.policy.retentionMS; r > 0 {
		q.from = max(q.from, a.nowMS()-r)
		if q.from > q.to {
			return map[string]any{"rows": []any{}, "more": false}, nil
		}
	}
	rows, more, err := history(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("Method history: %w", err)
	}
	return map[string]any{"rows": rows, "more": more}, nil
}

// historyArgs validates history's arguments: from_ms, to_ms, key,
// aggregate, bucket_ms, each optional (missing or null).
func historyArgs(call *agenthost.Call, limit int) (historyQuery, error) {
	q := historyQuery{from: 0, to: maxTimestamp, limit: limit}
	if len(call.Args) > 5 {
		return q, fmt.Errorf("Method history: takes at most 5 arguments, got %d", len(call.Args))
	}
	var err error
	if v := call.Arg(0); v != nil {
		if q.from, err = timestamp(v); err != nil {
			return q, call.ArgError(0, "from_ms %v", err)
		}
	}
	if v := call.Arg(1); v != nil {
		if q.to, err = timestamp(v); err != nil {
			return q, call.ArgError(1, "to_ms %v", err)
		}
	}
	if q.from > q.to {
		return q, call.ArgError(1, "to_ms %d is before from_ms %d", q.to, q.from)
	}
	if v := call.Arg(2); v != nil {
		s, ok := v.(string)
		if !ok || s == "" {
			return q, call.ArgError(2, "key must be a non-empty text or null, got %s", describe(v))
		}
		q.key = s
	}
	if v := call.Arg(3); v != nil {
		s, _ := v.(string)
		if _, ok := aggregates[s]; !ok {
			return q, call.ArgError(3, "aggregate must be one of %s or null, got %s", strings.Join(slices.Sorted(maps.Keys(aggregates)), ", "), describe(v))
		}
		q.aggregate = s
	}
	if v := call.Arg(4); v != nil {
		n, err := integer(v)
		if err != nil || n <= 0 {
			return q, call.ArgError(4, "bucket_ms must be an integer > 0 or null, got %s", describe(v))
		}
		if q.aggregate == "" {
			return q, call.ArgError(4, "bucket_ms needs an aggregate")
		}
		q.bucket = n
	}
	return q, nil
}
