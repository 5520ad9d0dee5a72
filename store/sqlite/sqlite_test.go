package sqlite_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/galleonhq/galleon"
	"github.com/galleonhq/galleon/store/sqlite"
	"github.com/galleonhq/galleon/store/storetest"
)

// MustOpen opens a store on a new database file in a temporary directory
// and closes it when the test ends. The file starts as a copy of a database
// migrated once per test binary, which keeps the many fresh stores of the
// contract suite cheap (Open still runs, and finds nothing to migrate).
func MustOpen(tb testing.TB) *sqlite.Store {
	tb.Helper()
	template.once.Do(func() {
		dir, err := os.MkdirTemp("", "galleon-sqlite-template-")
		if err != nil {
			template.err = err
			return
		}
		template.dir = dir
		s, err := sqlite.Open(context.Background(), filepath.Join(dir, "galleon.db"))
		if err != nil {
			template.err = err
			return
		}
		template.err = s.Close()
	})
	if template.err != nil {
		tb.Fatalf("make template database: %v", template.err)
	}
	b, err := os.ReadFile(filepath.Join(template.dir, "galleon.db"))
	if err != nil {
		tb.Fatal(err)
	}
	path := filepath.Join(tb.TempDir(), "galleon.db")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		tb.Fatal(err)
	}
	return mustOpenPath(tb, path)
}

// template is a migrated, empty database that MustOpen copies.
var template struct {
	once sync.Once
	dir  string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if template.dir != "" {
		os.RemoveAll(template.dir)
	}
	os.Exit(code)
}

func mustOpenPath(tb testing.TB, path string) *sqlite.Store {
	tb.Helper()
	s, err := sqlite.Open(tb.Context(), path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Error(err)
		}
	})
	return s
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) galleon.Store { return MustOpen(t) })
}

func TestReopenKeepsData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "galleon.db")
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateTenant(t.Context(), &galleon.Tenant{ID: "T1", Domain: "t1.example"}); err != nil {
		t.Fatal(err)
	}
	r := &galleon.Resource{ID: "/subscriptions/S1/resourceGroups/RG1", Type: "Microsoft.Resources/resourceGroups", Name: "RG1", SubscriptionID: "S1"}
	if err := s.CreateResource(t.Context(), r); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = mustOpenPath(t, path)
	if _, err := s.GetTenant(t.Context(), "t1.example"); err != nil {
		t.Fatalf("tenant lost on reopen: %v", err)
	}
	got, err := s.GetResource(t.Context(), r.ID)
	if err != nil {
		t.Fatalf("resource lost on reopen: %v", err)
	}
	if got.ETag != r.ETag {
		t.Fatalf("ETag = %q after reopen, want %q", got.ETag, r.ETag)
	}
}

func TestMigrationsVersioned(t *testing.T) {
	path := filepath.Join(t.TempDir(), "galleon.db")
	versions := func() []int64 {
		t.Helper()
		db, err := sql.Open("sqlite", path)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		rows, err := db.QueryContext(t.Context(), `SELECT version_id FROM goose_db_version WHERE is_applied ORDER BY id`)
		if err != nil {
			t.Fatalf("goose version table: %v", err)
		}
		defer rows.Close()
		var vs []int64
		for rows.Next() {
			var v int64
			if err := rows.Scan(&v); err != nil {
				t.Fatal(err)
			}
			vs = append(vs, v)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return vs
	}

	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	first := versions()
	if len(first) < 2 || first[0] != 0 || first[1] != 1 {
		t.Fatalf("applied versions = %v, want goose's 0 then 1 (00001_init.sql) ...", first)
	}

	s = mustOpenPath(t, path) // a second Open applies nothing new
	if again := versions(); len(again) != len(first) {
		t.Fatalf("reopening applied migrations again: %v, then %v", first, again)
	}
}

func TestOpenErrPath(t *testing.T) {
	for _, tc := range []struct{ name, path string }{
		{"Empty", ""},
		{"Memory", ":memory:"},
		{"URI", "file:x.db?mode=memory"},
		{"Query", "x.db?_pragma=foo"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := sqlite.Open(t.Context(), tc.path)
			if galleon.ErrorCode(err) != galleon.EInvalid {
				t.Fatalf("Open(%q) = %v, want an invalid error", tc.path, err)
			}
		})
	}
	t.Run("MissingDirectory", func(t *testing.T) {
		_, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "no", "such", "dir", "galleon.db"))
		if err == nil {
			t.Fatal("Open in a missing directory succeeded")
		}
	})
}

// TestNow checks that the timestamps the store sets come from Store.Now.
func TestNow(t *testing.T) {
	s := MustOpen(t)
	now := time.Date(2031, 1, 2, 3, 4, 5, 6, time.FixedZone("x", 3600))
	s.Now = func() time.Time { return now }

	r := &galleon.Resource{ID: "/subscriptions/S1/resourceGroups/RG1", Type: "Microsoft.Resources/resourceGroups", Name: "RG1"}
	if err := s.CreateResource(t.Context(), r); err != nil {
		t.Fatal(err)
	}
	if !r.CreatedAt.Equal(now) || !r.ChangedAt.Equal(now) {
		t.Fatalf("CreatedAt %v, ChangedAt %v; want %v", r.CreatedAt, r.ChangedAt, now)
	}
	created := now
	now = now.Add(time.Hour)
	if err := s.UpdateResource(t.Context(), r, r.ETag); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetResource(t.Context(), r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !got.CreatedAt.Equal(created) || !got.ChangedAt.Equal(now) || got.ChangedAt.Location() != time.UTC {
		t.Fatalf("after update: CreatedAt %v, ChangedAt %v; want %v and %v in UTC", got.CreatedAt, got.ChangedAt, created, now)
	}

	j := &galleon.Job{Kind: "k"}
	if err := s.EnqueueJob(t.Context(), j); err != nil {
		t.Fatal(err)
	}
	if !j.RunAt.Equal(now) || !j.CreatedAt.Equal(now) || !j.UpdatedAt.Equal(now) {
		t.Fatalf("job times %v %v %v, want %v", j.RunAt, j.CreatedAt, j.UpdatedAt, now)
	}

	tn := &galleon.Tenant{ID: "T1"}
	if err := s.CreateTenant(t.Context(), tn); err != nil {
		t.Fatal(err)
	}
	if !tn.CreatedAt.Equal(now) {
		t.Fatalf("tenant CreatedAt %v, want %v", tn.CreatedAt, now)
	}
}

// TestETagFormat pins the documented ETag shape: a fresh quoted string.
func TestETagFormat(t *testing.T) {
	s := MustOpen(t)
	r := &galleon.Resource{ID: "/subscriptions/S1/resourceGroups/RG1", Type: "Microsoft.Resources/resourceGroups"}
	if err := s.CreateResource(t.Context(), r); err != nil {
		t.Fatal(err)
	}
	first := r.ETag
	if len(first) != 34 || !strings.HasPrefix(first, `"`) || !strings.HasSuffix(first, `"`) {
		t.Fatalf("ETag %s is not 32 hex digits in quotes", first)
	}
	for _, tc := range []struct {
		name    string
		ifMatch func(current string) string
	}{
		{"Weak", func(cur string) string { return "W/" + cur }},
		{"Star", func(string) string { return "*" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prev := r.ETag
			if err := s.UpdateResource(t.Context(), r, tc.ifMatch(prev)); err != nil {
				t.Fatalf("If-Match %s: %v", tc.ifMatch(prev), err)
			}
			if r.ETag == prev {
				t.Fatal("ETag did not change on update")
			}
		})
	}
}

func TestErrInvalidJSON(t *testing.T) {
	s := MustOpen(t)
	err := s.CreateResource(t.Context(), &galleon.Resource{ID: "/subscriptions/S1/resourceGroups/RG1", Properties: []byte("{")})
	if galleon.ErrorCode(err) != galleon.EInvalid {
		t.Fatalf("CreateResource with broken properties: %v, want invalid", err)
	}
	err = s.EnqueueJob(t.Context(), &galleon.Job{Kind: "k", Payload: []byte("not json")})
	if galleon.ErrorCode(err) != galleon.EInvalid {
		t.Fatalf("EnqueueJob with broken payload: %v, want invalid", err)
	}
}
