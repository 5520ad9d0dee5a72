// Package sqlite implements galleon.Store on a SQLite database file, using
// the pure-Go modernc.org/sqlite driver (driver name "sqlite"), so Galleon
// runs as one binary with no external database. It is the embedded default;
// store/postgres follows the same schema for scale-out.
//
// Open applies the versioned goose migrations embedded from migrations/
// (00001_init.sql, ...) and records them in goose's goose_db_version table.
// The database runs in WAL mode with foreign keys on and synchronous=FULL,
// so an acknowledged write survives a crash. All writes go through a single
// connection whose transactions begin IMMEDIATE, so writers queue instead of
// failing with SQLITE_BUSY; reads use a separate read-only pool.
//
// Storage conventions:
//   - Lookups are case-insensitive: every identifier is also stored in a
//     lower-case key column (galleon.NormalizeScope for resource IDs and
//     scopes); stored values keep the case they were written with.
//   - "Under a scope" is a range on the key column (key >= s+"/" AND
//     key < s+"0"), so names sharing a prefix (rg1, rg10) never match each
//     other and '_' or '%' in names mean nothing special.
//   - Times are UTC RFC 3339 text with nine fractional digits, so they sort
//     as text and round-trip to the nanosecond.
//   - Tags, properties, permissions, assignable scopes, job payloads and
//     operation errors are JSON text.
//   - ETags are strong entity tags: 32 random hex digits in double quotes,
//     new on every create and update. If-Match compares weakly (a W/ prefix
//     is ignored) and "*" matches any stored tag.
//   - Job and audit IDs, when the caller gives none, are UUIDv7 strings.
//   - Unique violations become galleon.EConflict naming the thing; missing
//     rows become galleon.ENotFound with an empty Reason and a message
//     naming the thing ("Tenant 'x' was not found.").
//
// Store.Now is the clock for timestamps the store sets itself (CreatedAt,
// ChangedAt, UpdatedAt); times the caller passes (ClaimJob's now, RunAt,
// audit Time) are stored as given.
//
// Allowed imports: the standard library, the root package galleon,
// modernc.org/sqlite, pressly/goose/v3 and google/uuid.
package sqlite
