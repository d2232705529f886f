package twin

import (
	"database/sql"
	"fmt"
	"math"
	"strings"
)

// migrations build the samples table: one row per (key, ts), so a frame
// delivered twice (MQTT QoS 1) is stored once. id is the insertion order,
// which the sample cap cuts by; the (key, ts) index serves history of one
// key, the (ts, key) index history of all keys and the age cut.
var migrations = []string{
	`CREATE TABLE twin_samples (
		id  INTEGER PRIMARY KEY,
		ts  INTEGER NOT NULL,
		key TEXT NOT NULL,
		num,  -- an integer or float value, NULL otherwise
		val   -- a text, byte string or bool (0/1) value, NULL otherwise
	);
	CREATE UNIQUE INDEX twin_samples_key_ts ON twin_samples (key, ts);
	CREATE INDEX twin_samples_ts_key ON twin_samples (ts, key);`,
}

// columns splits a sample value into the num and val columns. The columns
// have no type affinity, so SQLite keeps integers, floats, text and blobs
// as they are; NaN is stored as NULL.
func columns(v any) (num, val any) {
	switch x := v.(type) {
	case int64:
		return x, nil
	case float64:
		if math.IsNaN(x) {
			return nil, nil
		}
		return x, nil
	case bool:
		if x {
			return nil, int64(1)
		}
		return nil, int64(0)
	case string:
		return nil, x
	case []byte:
		return nil, x
	}
	return nil, nil
}

// fromColumns is the inverse of columns, from what the driver scans.
func fromColumns(num, val any) any {
	if num != nil {
		return num
	}
	switch x := val.(type) {
	case int64:
		return x != 0
	case []byte:
		return append([]byte{}, x...)
	}
	return val
}

// insertSamples stores a telemetry frame's values at ts and then applies
// the policy: samples older than now - retention go, and beyond the cap the
// earliest inserted go.
func insertSamples(tx *sql.Tx, ts int64, values map[string]any, p policy, nowMS int64) error {
	stmt, err := tx.Prepare(`INSERT INTO twin_samples (ts, key, num, val) VALUES (?, ?, ?, ?)
		ON CONFLICT (key, ts) DO UPDATE SET num = excluded.num, val = excluded.val`)
	if err != nil {
		return err
	}
	defer stmt.Close()
	for k, v := range values {
		num, val := columns(v)
		if _, err := stmt.Exec(ts, k, num, val); err != nil {
			return fmt.Errorf("store sample %q: %w", k, err)
		}
	}
	return prune(tx, p, nowMS)
}

// prune deletes the samples that the policy no longer keeps. Both deletes
// walk an index from its start, so they cost what they delete.
func prune(tx *sql.Tx, p policy, nowMS int64) error {
	if p.retentionMS > 0 {
		if _, err := tx.Exec(`DELETE FROM twin_samples WHERE ts < ?`, nowMS-p.retentionMS); err != nil {
			return fmt.Errorf("prune by age: %w", err)
		}
	}
	if p.maxSamples > 0 {
		if _, err := tx.Exec(`DELETE FROM twin_samples WHERE id <= (SELECT MAX(id) FROM twin_samples) - ?`, p.maxSamples); err != nil {
			return fmt.Errorf("prune by count: %w", err)
		}
	}
	return nil
}

// aggregates are the history callable's aggregates, as SQL over one
// bucket's samples of one key. first and last are found by their ts and
// joined back to their sample.
var aggregates = map[string]string{
	"min":   "MIN(num)",
	"max":   "MAX(num)",
	"avg":   "AVG(num)",
	"sum":   "TOTAL(num)",
	"count": "COUNT(*)",
	"first": "NULL",
	"last":  "NULL",
}

// historyQuery is one history call, validated.
type historyQuery struct {
	from, to  int64  // inclusive range in ms
	key       string // "" for every key
	aggregate string // "" for the samples themselves
	bucket    int64  // ms, 0 for one bucket over the whole range
	limit     int    // at most this many values in the result
}

// history runs q: the samples, or the aggregates per bucket and key, as
// rows {"ts": ms, "values": {key: value}} in time order, and whether more
// matched than q.limit values (the last row is then dropped unless it is
// the only one, so that a caller can go on from the last row's ts + 1).
func history(db queryer, q historyQuery) (rows []any, more bool, err error) {
	var where strings.Builder
	args := []any{}
	where.WriteString(`ts >= ? AND ts <= ?`)
	args = append(args, q.from, q.to)
	if q.key != "" {
		where.WriteString(` AND key = ?`)
		args = append(args, q.key)
	}
	var query string
	switch q.aggregate {
	case "":
		query = `SELECT ts, key, num, val FROM twin_samples WHERE ` + where.String() + ` ORDER BY ts, key LIMIT ?`
	default:
		if q.aggregate != "count" && q.aggregate != "first" && q.aggregate != "last" {
			where.WriteString(` AND num IS NOT NULL`)
		}
		bucket := "0"
		if q.bucket > 0 {
			bucket = fmt.Sprintf("(ts / %d) * %d", q.bucket, q.bucket)
		}
		// A row per bucket and key: the aggregate, the bucket's earliest
		// and latest ts, and for first and last the sample at that ts.
		inner := `SELECT ` + bucket + ` AS b, key, ` + aggregates[q.aggregate] + ` AS a, MIN(ts) AS t0, MAX(ts) AS t1
			FROM twin_samples WHERE ` + where.String() + ` GROUP BY b, key ORDER BY b, key LIMIT ?`
		switch q.aggregate {
		case "first", "last":
			at := "t0"
			if q.aggregate == "last" {
				at = "t1"
			}
			query = `SELECT g.b, g.key, g.a, g.t0, s.num, s.val FROM (` + inner + `) g
				JOIN twin_samples s ON s.key = g.key AND s.ts = g.` + at + ` ORDER BY g.b, g.key`
		default:
			query = `SELECT b, key, a, t0, NULL, NULL FROM (` + inner + `) ORDER BY b, key`
		}
	}
	args = append(args, q.limit+1)
	r, err := db.Query(query, args...)
	if err != nil {
		return nil, false, err
	}
	defer r.Close()
	type row struct {
		ts     int64
		values map[string]any
	}
	var out []row
	n := 0
	for r.Next() {
		var (
			ts, first int64
			key       string
			agg       any
			num, val  any
		)
		if q.aggregate == "" {
			err = r.Scan(&ts, &key, &num, &val)
			agg = fromColumns(num, val)
		} else {
			err = r.Scan(&ts, &key, &agg, &first, &num, &val)
			if q.bucket == 0 {
				ts = first
			}
			if q.aggregate == "first" || q.aggregate == "last" {
				agg = fromColumns(num, val)
			}
		}
		if err != nil {
			return nil, false, err
		}
		n++
		if n > q.limit {
			more = true
			break
		}
		switch {
		case len(out) > 0 && (out[len(out)-1].ts == ts || q.aggregate != "" && q.bucket == 0):
			last := &out[len(out)-1]
			last.ts = min(last.ts, ts)
			last.values[key] = agg
		default:
			out = append(out, row{ts: ts, values: map[string]any{key: agg}})
		}
	}
	if err := r.Err(); err != nil {
		return nil, false, err
	}
	if more && len(out) > 1 {
		out = out[:len(out)-1]
	}
	rows = make([]any, len(out))
	for i, o := range out {
		rows[i] = map[string]any{"ts": o.ts, "values": o.values}
	}
	return rows, more, nil
}

// queryer is what history reads from: the agent's database.
type queryer interface {
	Query(query string, args ...any) (*sql.Rows, error)
}
