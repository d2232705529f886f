package agenthost

import (
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/outpost-iot/outpost/codecs"
	"github.com/outpost-iot/outpost/wire"
)

// hostSchema creates the tables the host keeps in every agent's database,
// in order; cf_agent_meta's "host_schema" row counts how many ran.
var hostSchema = append([]string{
	`CREATE TABLE cf_agents_state (id TEXT PRIMARY KEY, state BLOB NOT NULL)`,
}, scheduleSchema...)

// stateCodec encodes stored state: CBOR keeps every value of the codec
// value model (byte strings, tags) exactly.
var stateCodec = func() codecs.Codec {
	c, err := codecs.NewCBOR(codecs.Limits{MaxSize: 1 << 30, MaxDepth: 256})
	if err != nil {
		panic(err)
	}
	return c
}()

// migrate brings an agent's database up to date: the host's tables, then
// the class's own migrations, each in a transaction, counted in
// cf_agent_meta.
func migrate(db *sql.DB, c Class, a wire.Address, now time.Time) error {
	if _, err := db.Exec(`CREATE TABLE IF NOT EXISTS cf_agent_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`); err != nil {
		return err
	}
	if err := runMigrations(db, "host_schema", hostSchema); err != nil {
		return fmt.Errorf("host tables: %w", err)
	}
	if err := runMigrations(db, "class_schema", c.Migrations); err != nil {
		return fmt.Errorf("class %s migrations: %w", c.Name, err)
	}
	_, err := db.Exec(`INSERT OR IGNORE INTO cf_agent_meta (key, value) VALUES ('class', ?), ('name', ?), ('created', ?)`,
		a.Class, a.Name, now.UTC().Format(time.RFC3339Nano))
	return err
}

// runMigrations runs the steps not yet counted under key, each in its own
// transaction with the counter.
func runMigrations(db *sql.DB, key string, steps []string) error {
	var v string
	err := db.QueryRow(`SELECT value FROM cf_agent_meta WHERE key = ?`, key).Scan(&v)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	done, _ := strconv.Atoi(v)
	if done > len(steps) {
		return fmt.Errorf("database is at %s %d, newer than this gateway's %d", key, done, len(steps))
	}
	for i := done; i < len(steps); i++ {
		tx, err := db.Begin()
		if err != nil {
			return err
		}
		if _, err := tx.Exec(steps[i]); err != nil {
			tx.Rollback()
			return fmt.Errorf("step %d: %w", i+1, err)
		}
		if _, err := tx.Exec(`INSERT OR REPLACE INTO cf_agent_meta (key, value) VALUES (?, ?)`, key, strconv.Itoa(i+1)); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	return nil
}

// loadState reads the stored state.
func loadState(db *sql.DB) (any, bool, error) {
	var blob []byte
	err := db.QueryRow(`SELECT state FROM cf_agents_state WHERE id = 'state'`).Scan(&blob)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	v, err := stateCodec.Unmarshal(blob)
	if err != nil {
		return nil, false, fmt.Errorf("stored state: %w", err)
	}
	return v, true, nil
}

// saveState stores the state.
func saveState(db *sql.DB, state any) error {
	blob, err := stateCodec.Marshal(state)
	if err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	_, err = db.Exec(`INSERT OR REPLACE INTO cf_agents_state (id, state) VALUES ('state', ?)`, blob)
	return err
}
