package localfs_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/galleonhq/galleon"
	"github.com/galleonhq/galleon/blob/blobtest"
	"github.com/galleonhq/galleon/blob/localfs"
)

// t0 is the tests' fixed clock, on a whole second so that it survives any
// filesystem's mtime resolution.
var t0 = time.Date(2030, time.March, 4, 5, 6, 7, 0, time.UTC)

// clock is a fake clock safe for concurrent use.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// mustOpen opens a store on a new temporary directory, on a clock at t0.
func mustOpen(tb testing.TB) (*localfs.Store, *clock) {
	tb.Helper()
	s, err := localfs.Open(tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	c := &clock{now: t0}
	s.Now = c.Now
	return s, c
}

// blockPath is where the documented layout keeps block digest.
func blockPath(s *localfs.Store, digest string) string {
	return filepath.Join(s.Dir(), digest[:2], digest[2:4], digest)
}

// newBlock returns size bytes of content distinct for each seed, and its
// digest.
func newBlock(seed, size int) ([]byte, string) {
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i*31 + seed*7 + i>>8)
	}
	sum := sha256.Sum256(data)
	return data, hex.EncodeToString(sum[:])
}

func TestBlockStore(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blobtest.Subject {
		s, c := mustOpen(t)
		return blobtest.Subject{
			Store:   s,
			Advance: c.Advance,
			Corrupt: func(digest string, data []byte) error {
				return os.WriteFile(blockPath(s, digest), data, 0o600)
			},
		}
	})
}

func TestLayout(t *testing.T) {
	s, _ := mustOpen(t)
	data, d := newBlock(1, 1000)
	if err := s.PutBlock(t.Context(), d, data); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(blockPath(s, d))
	if err != nil {
		t.Fatalf("block not at its documented path: %v", err)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("block file holds other content than was put")
	}
	fi, err := os.Stat(blockPath(s, d))
	if err != nil {
		t.Fatal(err)
	}
	if !fi.ModTime().Equal(t0) {
		t.Fatalf("block file mtime = %v, want the store clock's %v", fi.ModTime(), t0)
	}
	// No temporary file is left behind.
	entries, err := os.ReadDir(filepath.Dir(blockPath(s, d)))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Fatalf("block directory holds %d entries, want only the block", len(entries))
	}
}

func TestRePutOnlyTouches(t *testing.T) {
	s, c := mustOpen(t)
	data, d := newBlock(2, 5000)
	if err := s.PutBlock(t.Context(), d, data); err != nil {
		t.Fatal(err)
	}
	before, err := os.Stat(blockPath(s, d))
	if err != nil {
		t.Fatal(err)
	}
	c.Advance(90 * time.Minute)
	if err := s.PutBlock(t.Context(), d, data); err != nil {
		t.Fatal(err)
	}
	after, err := os.Stat(blockPath(s, d))
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(before, after) {
		t.Fatal("re-put of a present block replaced its file; want only its mtime set")
	}
	if want := t0.Add(90 * time.Minute); !after.ModTime().Equal(want) {
		t.Fatalf("re-put left mtime at %v, want %v", after.ModTime(), want)
	}
}

func TestRePutRewritesWrongSize(t *testing.T) {
	for _, tt := range []struct {
		name    string
		content func(data []byte) []byte
	}{
		{"Truncated", func(data []byte) []byte { return data[:len(data)/2] }},
		{"Extended", func(data []byte) []byte { return append(bytes.Clone(data), 1, 2, 3) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := mustOpen(t)
			data, d := newBlock(3, 5000)
			if err := s.PutBlock(t.Context(), d, data); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(blockPath(s, d), tt.content(data), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := s.GetBlock(t.Context(), d); galleon.ErrorCode(err) != galleon.EInternal {
				t.Fatalf("GetBlock of a damaged block = %v, want EInternal", err)
			}
			if err := s.PutBlock(t.Context(), d, data); err != nil {
				t.Fatal(err)
			}
			got, err := s.GetBlock(t.Context(), d)
			if err != nil {
				t.Fatalf("GetBlock after re-put of a damaged block: %v", err)
			}
			if !bytes.Equal(got, data) {
				t.Fatal("GetBlock after re-put returned other content")
			}
		})
	}
}

// TestTempFiles plays the leftovers of a crash in the middle of a write: a
// partial temporary file next to where its block would go.
func TestTempFiles(t *testing.T) {
	s, _ := mustOpen(t)
	ctx := t.Context()
	data, d := newBlock(4, 10000)
	keep, dk := newBlock(5, 100)
	if err := s.PutBlock(ctx, dk, keep); err != nil {
		t.Fatal(err)
	}

	dir := filepath.Dir(blockPath(s, d))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	fresh := filepath.Join(dir, ".tmp-"+d+"-111")
	stale := filepath.Join(dir, ".tmp-"+d+"-222")
	for _, p := range []string{fresh, stale} {
		if err := os.WriteFile(p, data[:4096], 0o600); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-2 * localfs.TempMaxAge)
	if err := os.Chtimes(stale, old, old); err != nil {
		t.Fatal(err)
	}

	if _, err := s.GetBlock(ctx, d); galleon.ErrorCode(err) != galleon.ENotFound {
		t.Fatalf("GetBlock with only a temporary file present = %v, want ENotFound", err)
	}
	if _, err := s.StatBlock(ctx, d); galleon.ErrorCode(err) != galleon.ENotFound {
		t.Fatalf("StatBlock with only a temporary file present = %v, want ENotFound", err)
	}
	var listed []string
	if err := s.ListBlocks(ctx, func(b galleon.BlockInfo) error {
		listed = append(listed, b.Digest)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(listed) != 1 || listed[0] != dk {
		t.Fatalf("ListBlocks reported %q, want only %s", listed, dk)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Fatalf("ListBlocks left a temporary file older than TempMaxAge (stat: %v)", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Fatalf("ListBlocks removed a temporary file younger than TempMaxAge, which may be a write in progress: %v", err)
	}

	// The block can still be put next to its leftover.
	if err := s.PutBlock(ctx, d, data); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetBlock(ctx, d); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("GetBlock after put next to a temporary file: %d bytes, %v", len(got), err)
	}
}

// TestForeignFiles checks that ListBlocks reports only files named by their
// digest in the directory that digest maps to.
func TestForeignFiles(t *testing.T) {
	s, _ := mustOpen(t)
	data, d := newBlock(6, 10)
	if err := s.PutBlock(t.Context(), d, data); err != nil {
		t.Fatal(err)
	}
	_, other := newBlock(7, 10)
	misplaced := "00"
	if other[:2] == misplaced {
		misplaced = "11"
	}
	root := s.Dir()
	for _, p := range []string{
		"README",
		"lost+found/x",
		"ZZ/00/" + other,
		"AB/CD/" + other,
		misplaced + "/" + other[2:4] + "/" + other, // right name, wrong directory
		other[:2] + "/" + other[2:4] + "/" + other + ".bak",
		other[:2] + "/" + other[2:4] + "/notes.txt",
		other[:2] + "/" + other[2:4] + "/" + other + "/nested", // a directory named like a block
	} {
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var listed []string
	if err := s.ListBlocks(t.Context(), func(b galleon.BlockInfo) error {
		listed = append(listed, b.Digest)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(listed) != 1 || listed[0] != d {
		t.Fatalf("ListBlocks reported %q, want only %s", listed, d)
	}
}

func TestReopen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "accounts", "a1")
	s, err := localfs.Open(dir)
	if err != nil {
		t.Fatalf("Open of a missing nested directory: %v", err)
	}
	data, d := newBlock(8, 3000)
	if err := s.PutBlock(t.Context(), d, data); err != nil {
		t.Fatal(err)
	}
	s2, err := localfs.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s2.GetBlock(t.Context(), d); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("GetBlock after reopening: %d bytes, %v", len(got), err)
	}
}

func TestOpenErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		dir  string
	}{
		{"ErrEmpty", ""},
		{"ErrFile", file},
		{"ErrUnderFile", filepath.Join(file, "sub")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if s, err := localfs.Open(tt.dir); err == nil {
				t.Fatalf("Open(%q) = %v, want an error", tt.dir, s.Dir())
			}
		})
	}
}

func BenchmarkPutBlock(b *testing.B) {
	for _, size := range []int{1 << 20, 4 << 20} {
		b.Run(fmt.Sprintf("%dMiB", size>>20), func(b *testing.B) {
			s, _ := mustOpen(b)
			data, _ := newBlock(9, size)
			b.SetBytes(int64(size))
			for i := 0; b.Loop(); i++ {
				// A new block each time: the caller hashes, the store hashes
				// again to verify, writes and syncs.
				data[0], data[1], data[2], data[3] = byte(i), byte(i>>8), byte(i>>16), byte(i>>24)
				sum := sha256.Sum256(data)
				if err := s.PutBlock(b.Context(), hex.EncodeToString(sum[:]), data); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("%dMiB/Present", size>>20), func(b *testing.B) {
			s, _ := mustOpen(b)
			data, d := newBlock(10, size)
			if err := s.PutBlock(b.Context(), d, data); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(size))
			for b.Loop() {
				if err := s.PutBlock(b.Context(), d, data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkGetBlock(b *testing.B) {
	for _, size := range []int{1 << 20, 4 << 20} {
		b.Run(fmt.Sprintf("%dMiB", size>>20), func(b *testing.B) {
			s, _ := mustOpen(b)
			const n = 8
			digests := make([]string, n)
			for i := range digests {
				data, d := newBlock(20+i, size)
				if err := s.PutBlock(b.Context(), d, data); err != nil {
					b.Fatal(err)
				}
				digests[i] = d
			}
			b.SetBytes(int64(size))
			for i := 0; b.Loop(); i++ {
				if _, err := s.GetBlock(b.Context(), digests[i%n]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestAsideLeftoverPutBack: a sweep that crashed after moving a block aside
// loses nothing; the next listing puts it back.
func TestAsideLeftoverPutBack(t *testing.T) {
	s, _ := mustOpen(t)
	ctx := t.Context()
	data, d := newBlock(3, 4096)
	if err := s.PutBlock(ctx, d, data); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(blockPath(s, d), blockPath(s, d)+".aside"); err != nil {
		t.Fatal(err)
	}
	n := 0
	if err := s.ListBlocks(ctx, func(galleon.BlockInfo) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetBlock(ctx, d); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("block not put back: %v", err)
	}
	if _, err := os.Stat(blockPath(s, d) + ".aside"); !os.IsNotExist(err) {
		t.Fatalf("aside copy left behind: %v", err)
	}
}
