package sqlite

import (
	"context"
	"crypto/rand"
	"database/sql"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"runtime"
	"strings"
	"time"

	"github.com/galleonhq/galleon"
	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

//go:embed migrations/*.sql
var migrations embed.FS

// busyTimeout is how long a connection waits for another process's lock
// before SQLite gives up with SQLITE_BUSY. Within one process writes are
// serialized by the single write connection and never wait here.
const busyTimeout = 10 * time.Second

// Store is galleon.Store on one SQLite database file.
//
// Writes go through a pool of exactly one connection whose transactions
// begin IMMEDIATE, so concurrent writers in this process queue in Go instead
// of failing with SQLITE_BUSY; reads use a separate pool of read-only
// connections that see the last committed state (WAL mode lets them run
// while a write is in progress).
type Store struct {
	// Now returns the time the store records in the timestamps it sets
	// itself (CreatedAt, ChangedAt, UpdatedAt). Defaults to time.Now; set it
	// before first use to pin the clock in tests.
	Now func() time.Time

	w *sql.DB // the single writer
	r *sql.DB // readers
}

var _ galleon.Store = (*Store)(nil)

// Open opens (creating if needed) the database file at path, applies any
// pending migrations from the embedded migrations directory, and returns the
// store. path must name a file: in-memory databases are not supported, since
// the reader and writer pools must share the database.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" || strings.HasPrefix(path, ":memory:") || strings.HasPrefix(path, "file:") || strings.Contains(path, "?") {
		return nil, galleon.Errorf(galleon.EInvalid, "The SQLite database path '%s' is not valid: give a plain file path (no 'file:' URI, no '?', not ':memory:').", path)
	}
	pragmas := fmt.Sprintf("_pragma=busy_timeout(%d)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=synchronous(FULL)",
		busyTimeout.Milliseconds())

	w, err := sql.Open("sqlite", path+"?"+pragmas+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	if err := migrate(ctx, w); err != nil {
		w.Close()
		return nil, fmt.Errorf("migrate sqlite %s: %w", path, err)
	}

	r, err := sql.Open("sqlite", path+"?"+pragmas+"&_pragma=query_only(1)")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	n := max(4, runtime.NumCPU())
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	if err := r.PingContext(ctx); err != nil {
		w.Close()
		r.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	return &Store{Now: time.Now, w: w, r: r}, nil
}

// migrate applies the embedded goose migrations that db lacks.
func migrate(ctx context.Context, db *sql.DB) error {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return err
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, db, sub)
	if err != nil {
		return err
	}
	_, err = p.Up(ctx)
	return err
}

// Close closes both connection pools.
func (s *Store) Close() error {
	return errors.Join(s.r.Close(), s.w.Close())
}

func (s *Store) now() time.Time {
	if s.Now == nil {
		return time.Now().UTC()
	}
	return s.Now().UTC()
}

// write runs fn in an immediate transaction on the write connection,
// committing if fn returns nil.
func (s *Store) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface {
	Scan(dest ...any) error
}

// queryList runs a read query and scans each row with scan.
func queryList[T any](ctx context.Context, db *sql.DB, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make([]T, 0)
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// timeFormat is RFC 3339 with a fixed nine-digit fraction, so that text
// order is time order.
const timeFormat = "2006-01-02T15:04:05.000000000Z07:00"

// fmtTime formats t in UTC for a NOT NULL column.
func fmtTime(t time.Time) string {
	return t.UTC().Format(timeFormat)
}

// nullTime formats t for a nullable column: NULL when t is zero.
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return fmtTime(t)
}

// parseTime reads a time column; NULL and "" read as the zero time.
func parseTime(v sql.NullString) (time.Time, error) {
	if !v.Valid || v.String == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v.String)
	if err != nil {
		return time.Time{}, fmt.Errorf("parse stored time %q: %w", v.String, err)
	}
	return t.UTC(), nil
}

// key is the lower-case form under which a plain identifier is indexed.
func key(s string) string {
	return strings.ToLower(s)
}

// scopeKey is the normalized form under which an ID or scope is indexed.
func scopeKey(s string) string {
	return galleon.NormalizeScope(s)
}

// underRange returns the bounds [lo, hi) of the keys strictly under the
// normalized scope k: every key starting with k+"/". '0' is the byte after
// '/', so no key under k reaches hi, and no sibling such as k+"0" or
// k+"-x" falls in the range. Ranges need no escaping, unlike LIKE.
func underRange(k string) (lo, hi string) {
	if k == "/" {
		k = ""
	}
	return k + "/", k + "0"
}

// ancestors returns the normalized scope k and every prefix of it that ends
// at a segment boundary, root first: "/", "/subscriptions",
// "/subscriptions/s", ... The prefixes that are not scopes match nothing.
func ancestors(k string) []string {
	out := []string{"/"}
	if k == "/" {
		return out
	}
	for i := 1; i < len(k); i++ {
		if k[i] == '/' {
			out = append(out, k[:i])
		}
	}
	return append(out, k)
}

// placeholders returns "?, ?, ..." for n arguments.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// newETag returns a fresh strong entity tag: 128 random bits, quoted.
func newETag() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return `"` + hex.EncodeToString(b[:]) + `"`
}

// etagMatches reports whether an If-Match value matches the stored tag,
// using weak comparison (W/ prefixes ignored) and honouring "*".
func etagMatches(ifMatch, stored string) bool {
	ifMatch = strings.TrimSpace(ifMatch)
	if ifMatch == "*" {
		return true
	}
	return strings.TrimPrefix(ifMatch, "W/") == strings.TrimPrefix(stored, "W/")
}

// constraint returns the extended SQLite result code of a constraint
// violation in err's chain (sqlite3.SQLITE_CONSTRAINT_UNIQUE, ...), or 0.
func constraint(err error) int {
	var e *sqlite.Error
	if errors.As(err, &e) && e.Code()&0xff == sqlite3.SQLITE_CONSTRAINT {
		return e.Code()
	}
	return 0
}

// isUnique reports whether err is a PRIMARY KEY or UNIQUE violation.
func isUnique(err error) bool {
	c := constraint(err)
	return c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY || c == sqlite3.SQLITE_CONSTRAINT_UNIQUE
}

// isPrimaryKey reports whether err is a PRIMARY KEY violation, as opposed to
// a secondary UNIQUE constraint.
func isPrimaryKey(err error) bool {
	return constraint(err) == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}

// isForeignKey reports whether err is a FOREIGN KEY violation.
func isForeignKey(err error) bool {
	return constraint(err) == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
}

// notFound returns the ENotFound error for a missing row, e.g. "Tenant 'x'
// was not found." for what "tenant". Reason stays empty: the transports pick
// the ARM code that fits the resource.
func notFound(what, id string) error {
	return galleon.Errorf(galleon.ENotFound, "%s '%s' was not found.", strings.ToUpper(what[:1])+what[1:], id)
}

// rowsAffected returns how many rows res changed.
func rowsAffected(res sql.Result) (int, error) {
	n, err := res.RowsAffected()
	return int(n), err
}
