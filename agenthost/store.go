package agenthost

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/outpost-iot/outpost/wire"
)

// ErrStorageFull is wrapped by the error of a write that would take an
// agent's database past its size cap, or that the disk has no room for.
var ErrStorageFull = fmt.Errorf("agent storage full: %w", wire.ErrLimit)

// pageSize is the SQLite page size of agent databases; the size cap is a
// number of pages.
const pageSize = 4096

// dbFileName is the file name of an agent's database (DESIGN.md "Identity
// and storage"): a name made only of A-Z a-z 0-9 . _ - that does not start
// with a dot is used unchanged; any other is percent-escaped, so distinct
// names never share a file; escaped names too long for a file name keep a
// prefix and a hash of the whole name.
func dbFileName(name string) string {
	if safeName(name) {
		return name + ".db"
	}
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		c := name[i]
		if isSafeByte(c) && !(i == 0 && c == '.') {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	esc := b.String()
	if len(esc) > 200 {
		sum := sha256.Sum256([]byte(name))
		esc = strings.TrimRight(esc[:120], "%0123456789ABCDEF") + "~" + hex.EncodeToString(sum[:12])
	}
	return esc + ".db"
}

func safeName(name string) bool {
	if name == "" || name[0] == '.' || len(name) > 200 {
		return false
	}
	for i := 0; i < len(name); i++ {
		if !isSafeByte(name[i]) {
			return false
		}
	}
	return true
}

func isSafeByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
}

// dbPath is {data-dir}/agents/{class}/{file}.
func dbPath(dataDir string, a wire.Address) string {
	return filepath.Join(dataDir, "agents", a.Class, dbFileName(a.Name))
}

// openDB opens (creating it when asked) an agent's database in WAL mode
// with synchronous=NORMAL (a commit survives a crash of the process; a power
// failure may lose the last ones, as with the broker's store, protocol.md
// rule 4.3) and a cap of maxBytes.
func openDB(path string, maxBytes int64, create bool) (*sql.DB, error) {
	if !create {
		if _, err := os.Stat(path); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, err
	}
	pages := maxBytes / pageSize
	if pages < 16 {
		pages = 16
	}
	q := url.Values{}
	for _, p := range []string{
		// page_size first: it cannot change once the file is in WAL mode;
		// synchronous before journal_mode, so that switching a new file to
		// WAL does not fsync.
		fmt.Sprintf("page_size(%d)", pageSize), "synchronous(NORMAL)", "journal_mode(WAL)",
		"busy_timeout(5000)", "foreign_keys(ON)", fmt.Sprintf("max_page_count(%d)", pages),
	} {
		q.Add("_pragma", p)
	}
	// A file: URI, so the path's own %, ? and # must be escaped.
	uriPath := strings.NewReplacer("%", "%25", "?", "%3F", "#", "%23").Replace(path)
	db, err := sql.Open("sqlite", "file:"+uriPath+"?"+q.Encode())
	if err != nil {
		return nil, err
	}
	// One connection: the agent is single-threaded, and max_page_count is
	// a per-connection setting.
	db.SetMaxOpenConns(1)
	db.SetConnMaxIdleTime(0)
	if err := db.PingContext(context.Background()); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// storageError turns SQLite's "full" errors into ErrStorageFull.
func storageError(err error, capBytes int64) error {
	var se *sqlite.Error
	if errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_FULL {
		return fmt.Errorf("%w (cap %d bytes): %w", ErrStorageFull, capBytes, err)
	}
	return err
}
