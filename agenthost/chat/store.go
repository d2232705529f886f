package chat

import (
	"database/sql"
	"fmt"

	"github.com/outpost-iot/outpost/agenthost"
)

// Migrations build the chat tables, with the SDK's names and columns
// (../shared/notes/agents-sdk.md §10.2). A class built on the chat agent
// without NewClass appends these to its own migrations.
var Migrations = []string{
	`CREATE TABLE cf_ai_chat_agent_messages (
		id TEXT PRIMARY KEY,
		message TEXT NOT NULL,
		created_at DATETIME DEFAULT CURRENT_TIMESTAMP
	);
	CREATE TABLE cf_ai_chat_stream_chunks (
		id TEXT PRIMARY KEY,
		stream_id TEXT NOT NULL,
		body TEXT NOT NULL,
		chunk_index INTEGER NOT NULL,
		created_at INTEGER NOT NULL
	);
	CREATE INDEX idx_stream_chunks_stream_id ON cf_ai_chat_stream_chunks (stream_id, chunk_index);
	CREATE TABLE cf_ai_chat_stream_metadata (
		id TEXT PRIMARY KEY,
		request_id TEXT NOT NULL,
		status TEXT NOT NULL,
		created_at INTEGER NOT NULL,
		completed_at INTEGER
	);`,
	// The SDK's request context: the last request's custom body fields
	// and client tools, which continuations after a tool result or an
	// approval use (they survive hibernation and restarts).
	`CREATE TABLE cf_ai_chat_request_context (
		key TEXT PRIMARY KEY,
		value TEXT NOT NULL
	);`,
	// Outpost's own: the requests waiting behind the reply that streams,
	// in order, so that a restart does not lose them.
	`CREATE TABLE outpost_chat_queue (
		seq INTEGER PRIMARY KEY AUTOINCREMENT,
		request_id TEXT NOT NULL,
		conn_key TEXT NOT NULL,
		continuation INTEGER NOT NULL,
		body TEXT NOT NULL,
		created_at INTEGER NOT NULL
	);`,
	// Outpost's own: the stored message a stream extends (a continuation,
	// or a request that goes on with an assistant message) as it was when
	// the stream started, so that a stream a restart cut off is rebuilt
	// onto it instead of replacing it.
	`CREATE TABLE outpost_chat_stream_base (
		stream_id TEXT PRIMARY KEY,
		message TEXT NOT NULL
	);`,
}

// Stream statuses of cf_ai_chat_stream_metadata, as in the SDK.
const (
	statusStreaming = "streaming"
	statusCompleted = "completed"
	statusError     = "error"
)

// loadMessages reads the stored messages in order (created_at, then
// insertion), skipping and logging rows that do not decode or check.
func loadMessages(ctx *agenthost.Context) ([]Message, error) {
	rows, err := ctx.Query(`SELECT id, message FROM cf_ai_chat_agent_messages ORDER BY created_at, rowid`)
	if err != nil {
		return nil, fmt.Errorf("load chat messages: %w", err)
	}
	defer rows.Close()
	var out []Message
	for rows.Next() {
		var id, text string
		if err := rows.Scan(&id, &text); err != nil {
			return nil, fmt.Errorf("load chat messages: %w", err)
		}
		v, err := jsonCodec.Unmarshal([]byte(text))
		var m Message
		if err == nil {
			m, err = ParseMessage(v)
		}
		if err != nil {
			ctx.Logger().Warn("chat: stored message skipped", "id", id, "error", err)
			continue
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// upsertMessages stores msgs (insert, or replace a row with the same id;
// each through the row guard, guardRow) and then deletes the oldest rows
// beyond maxKept (0: no bound), in one transaction. Only the last maxKept
// of msgs are stored: clients send the whole conversation each turn, and
// a message pruned before must not come back as the newest row.
func upsertMessages(ctx *agenthost.Context, msgs []Message, maxKept int) error {
	if maxKept > 0 && len(msgs) > maxKept {
		msgs = msgs[len(msgs)-maxKept:]
	}
	texts := make([]string, len(msgs))
	for i, m := range msgs {
		b, _, err := guardRow(m)
		if err != nil {
			return fmt.Errorf("store message %q: %w", m.ID, err)
		}
		texts[i] = string(b)
	}
	return ctx.Tx(func(tx *sql.Tx) error {
		for i, m := range msgs {
			// Clients send the whole conversation each turn: rows that
			// would not change are not written again.
			var cur string
			if err := tx.QueryRow(`SELECT message FROM cf_ai_chat_agent_messages WHERE id = ?`, m.ID).Scan(&cur); err == nil && cur == texts[i] {
				continue
			}
			if _, err := tx.Exec(`INSERT INTO cf_ai_chat_agent_messages (id, message) VALUES (?, ?)
				ON CONFLICT (id) DO UPDATE SET message = excluded.message`, m.ID, texts[i]); err != nil {
				return fmt.Errorf("store message %q: %w", m.ID, err)
			}
		}
		if maxKept > 0 {
			if _, err := tx.Exec(`DELETE FROM cf_ai_chat_agent_messages WHERE rowid IN (
				SELECT rowid FROM cf_ai_chat_agent_messages ORDER BY created_at, rowid
				LIMIT max(0, (SELECT count(*) FROM cf_ai_chat_agent_messages) - ?))`, maxKept); err != nil {
				return fmt.Errorf("prune messages: %w", err)
			}
		}
		return nil
	})
}

// deleteExcept deletes the stored messages whose id is not in keep.
func deleteExcept(ctx *agenthost.Context, keep []Message) error {
	return ctx.Tx(func(tx *sql.Tx) error {
		if _, err := tx.Exec(`CREATE TEMP TABLE IF NOT EXISTS chat_keep (id TEXT PRIMARY KEY)`); err != nil {
			return err
		}
		if _, err := tx.Exec(`DELETE FROM chat_keep`); err != nil {
			return err
		}
		for _, m := range keep {
			if _, err := tx.Exec(`INSERT OR IGNORE INTO chat_keep (id) VALUES (?)`, m.ID); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(`DELETE FROM cf_ai_chat_agent_messages WHERE id NOT IN (SELECT id FROM chat_keep)`); err != nil {
			return fmt.Errorf("delete stale messages: %w", err)
		}
		_, err := tx.Exec(`DELETE FROM chat_keep`)
		return err
	})
}

// Keys of cf_ai_chat_request_context, as in the SDK.
const (
	contextLastBody        = "lastBody"
	contextLastClientTools = "lastClientTools"
)

// setRequestContext stores a value (as JSON) under key; nil deletes it.
func setRequestContext(ctx *agenthost.Context, key string, v any) error {
	if v == nil {
		_, err := ctx.Exec(`DELETE FROM cf_ai_chat_request_context WHERE key = ?`, key)
		return err
	}
	b, err := jsonCodec.Marshal(v)
	if err != nil {
		return fmt.Errorf("store request context: %w", err)
	}
	_, err = ctx.Exec(`INSERT INTO cf_ai_chat_request_context (key, value) VALUES (?, ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, string(b))
	return err
}

// requestContext reads the value stored under key, nil when none (or
// when it does not decode).
func requestContext(ctx *agenthost.Context, key string) any {
	var text string
	if err := ctx.QueryRow(`SELECT value FROM cf_ai_chat_request_context WHERE key = ?`, key).Scan(&text); err != nil {
		return nil
	}
	v, err := jsonCodec.Unmarshal([]byte(text))
	if err != nil {
		return nil
	}
	return v
}

// clearAll deletes the messages, the stream records and the request
// context.
func clearAll(ctx *agenthost.Context) error {
	return ctx.Tx(func(tx *sql.Tx) error {
		for _, t := range []string{"cf_ai_chat_agent_messages", "cf_ai_chat_stream_chunks", "cf_ai_chat_stream_metadata", "cf_ai_chat_request_context", "outpost_chat_queue", "outpost_chat_stream_base"} {
			if _, err := tx.Exec(`DELETE FROM ` + t); err != nil {
				return fmt.Errorf("clear %s: %w", t, err)
			}
		}
		return nil
	})
}

// startStream records a new stream as streaming.
func startStream(ctx *agenthost.Context, streamID, requestID string) error {
	_, err := ctx.Exec(`INSERT INTO cf_ai_chat_stream_metadata (id, request_id, status, created_at) VALUES (?, ?, ?, ?)`,
		streamID, requestID, statusStreaming, ctx.Now().UnixMilli())
	if err != nil {
		return fmt.Errorf("record stream: %w", err)
	}
	return nil
}

// storeChunk stores one chunk body (JSON text) of a stream.
func storeChunk(ctx *agenthost.Context, streamID string, index int, body []byte) error {
	_, err := ctx.Exec(`INSERT INTO cf_ai_chat_stream_chunks (id, stream_id, body, chunk_index, created_at) VALUES (?, ?, ?, ?, ?)`,
		fmt.Sprintf("%s-%d", streamID, index), streamID, string(body), index, ctx.Now().UnixMilli())
	if err != nil {
		return fmt.Errorf("store chunk: %w", err)
	}
	return nil
}

// endStream marks a stream completed or errored.
func endStream(ctx *agenthost.Context, streamID, status string) error {
	return ctx.Tx(func(tx *sql.Tx) error {
		if _, err := tx.Exec(`UPDATE cf_ai_chat_stream_metadata SET status = ?, completed_at = ? WHERE id = ?`,
			status, ctx.Now().UnixMilli(), streamID); err != nil {
			return fmt.Errorf("end stream: %w", err)
		}
		if _, err := tx.Exec(`DELETE FROM outpost_chat_stream_base WHERE stream_id = ?`, streamID); err != nil {
			return fmt.Errorf("end stream: %w", err)
		}
		return nil
	})
}

// storeStreamBase records the message a stream extends, as it is now.
func storeStreamBase(ctx *agenthost.Context, streamID string, base Message) error {
	b, _, err := guardRow(base)
	if err != nil {
		return fmt.Errorf("record the message a stream extends: %w", err)
	}
	if _, err := ctx.Exec(`INSERT INTO outpost_chat_stream_base (stream_id, message) VALUES (?, ?)`, streamID, string(b)); err != nil {
		return fmt.Errorf("record the message a stream extends: %w", err)
	}
	return nil
}

// streamBase is the message stream streamID extends; ok is false for a
// stream that builds a new message (or whose record does not decode).
func streamBase(ctx *agenthost.Context, streamID string) (m Message, ok bool) {
	var text string
	if err := ctx.QueryRow(`SELECT message FROM outpost_chat_stream_base WHERE stream_id = ?`, streamID).Scan(&text); err != nil {
		return Message{}, false
	}
	v, err := jsonCodec.Unmarshal([]byte(text))
	if err == nil {
		m, err = ParseMessage(v)
	}
	if err != nil {
		ctx.Logger().Warn("chat: the message a stream extends does not decode", "stream", streamID, "error", err)
		return Message{}, false
	}
	return m, true
}

// streamRecord is one row of cf_ai_chat_stream_metadata.
type streamRecord struct {
	id, requestID, status string
	completedAt           int64
}

// streamsWithStatus lists the streams with a status, oldest first.
func streamsWithStatus(ctx *agenthost.Context, status string) ([]streamRecord, error) {
	rows, err := ctx.Query(`SELECT id, request_id, status, IFNULL(completed_at, 0) FROM cf_ai_chat_stream_metadata
		WHERE status = ? ORDER BY created_at, rowid`, status)
	if err != nil {
		return nil, fmt.Errorf("list streams: %w", err)
	}
	defer rows.Close()
	var out []streamRecord
	for rows.Next() {
		var r streamRecord
		if err := rows.Scan(&r.id, &r.requestID, &r.status, &r.completedAt); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// streamChunks reads a stream's stored chunk bodies in order; bodies that
// do not decode are skipped.
func streamChunks(ctx *agenthost.Context, streamID string) ([]map[string]any, error) {
	rows, err := ctx.Query(`SELECT body FROM cf_ai_chat_stream_chunks WHERE stream_id = ? ORDER BY chunk_index`, streamID)
	if err != nil {
		return nil, fmt.Errorf("read chunks: %w", err)
	}
	defer rows.Close()
	var out []map[string]any
	for rows.Next() {
		var body string
		if err := rows.Scan(&body); err != nil {
			return nil, err
		}
		v, err := jsonCodec.Unmarshal([]byte(body))
		if m, ok := v.(map[string]any); err == nil && ok {
			out = append(out, m)
		}
	}
	return out, rows.Err()
}

// pruneStreams deletes finished streams (and their chunks) that ended
// before cutoff (Unix ms), as the SDK's 24 h garbage collection does.
func pruneStreams(ctx *agenthost.Context, cutoff int64) error {
	return ctx.Tx(func(tx *sql.Tx) error {
		if _, err := tx.Exec(`DELETE FROM cf_ai_chat_stream_chunks WHERE stream_id IN (
			SELECT id FROM cf_ai_chat_stream_metadata WHERE status != ? AND completed_at < ?)`, statusStreaming, cutoff); err != nil {
			return err
		}
		_, err := tx.Exec(`DELETE FROM cf_ai_chat_stream_metadata WHERE status != ? AND completed_at < ?`, statusStreaming, cutoff)
		return err
	})
}

// storeQueued stores a waiting request (its body, or nothing for a
// continuation) and returns its row.
func storeQueued(ctx *agenthost.Context, q queuedTurn) (int64, error) {
	body := []byte("{}")
	if !q.continuation {
		b, err := wideCodec.Marshal(q.req.Body)
		if err != nil {
			return 0, fmt.Errorf("queue request: %w", err)
		}
		body = b
	}
	cont := 0
	if q.continuation {
		cont = 1
	}
	res, err := ctx.Exec(`INSERT INTO outpost_chat_queue (request_id, conn_key, continuation, body, created_at) VALUES (?, ?, ?, ?, ?)`,
		q.req.ID, q.key(), cont, string(body), ctx.Now().UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("queue request: %w", err)
	}
	return res.LastInsertId()
}

// deleteQueued deletes a waiting request's row (0: none).
func deleteQueued(ctx *agenthost.Context, seq int64) error {
	if seq == 0 {
		return nil
	}
	_, err := ctx.Exec(`DELETE FROM outpost_chat_queue WHERE seq = ?`, seq)
	return err
}

// loadQueued reads the waiting requests, in order, without their
// connections; rows that no longer parse are deleted and logged.
func loadQueued(ctx *agenthost.Context) ([]queuedTurn, error) {
	rows, err := ctx.Query(`SELECT seq, request_id, continuation, body FROM outpost_chat_queue ORDER BY seq`)
	if err != nil {
		return nil, fmt.Errorf("load queued requests: %w", err)
	}
	var out []queuedTurn
	var bad []int64
	for rows.Next() {
		var q queuedTurn
		var cont int
		var body string
		if err := rows.Scan(&q.seq, &q.req.ID, &cont, &body); err != nil {
			rows.Close()
			return nil, err
		}
		q.continuation = cont == 1
		if !q.continuation {
			v, err := wideCodec.Unmarshal([]byte(body))
			if err == nil {
				q.req, err = ParseRequest(map[string]any{"id": q.req.ID, "init": map[string]any{"method": "POST", "body": v}})
			}
			if err != nil {
				ctx.Logger().Warn("chat: queued request skipped", "request", q.req.ID, "error", err)
				bad = append(bad, q.seq)
				continue
			}
		}
		out = append(out, q)
	}
	rows.Close()
	for _, seq := range bad {
		_ = deleteQueued(ctx, seq)
	}
	return out, rows.Err()
}
