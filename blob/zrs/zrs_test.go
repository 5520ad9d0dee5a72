package zrs_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/galleonhq/galleon"
	"github.com/galleonhq/galleon/blob/blobtest"
	"github.com/galleonhq/galleon/blob/localfs"
	"github.com/galleonhq/galleon/blob/zrs"
)

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func open(t *testing.T, zones int) (*zrs.Store, []*localfs.Store, *clock) {
	t.Helper()
	c := &clock{now: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
	var ls []*localfs.Store
	var bs []galleon.BlockStore
	for i := 0; i < zones; i++ {
		l, err := localfs.Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		l.Now = c.Now
		ls = append(ls, l)
		bs = append(bs, l)
	}
	s, err := zrs.New(bs...)
	if err != nil {
		t.Fatal(err)
	}
	return s, ls, c
}

func path(l *localfs.Store, d string) string { return filepath.Join(l.Dir(), d[:2], d[2:4], d) }

func TestContract(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blobtest.Subject {
		s, ls, c := open(t, 3)
		return blobtest.Subject{Store: s, Advance: c.Advance, Corrupt: func(d string, data []byte) error {
			for _, l := range ls { // corrupt every copy: one intact copy would be served
				if err := os.WriteFile(path(l, d), data, 0o600); err != nil {
					return err
				}
			}
			return nil
		}}
	})
}

// TestSurvivesZoneLoss checks that a block lost or corrupted in some zones
// is served from another and repaired.
func TestSurvivesZoneLoss(t *testing.T) {
	s, ls, _ := open(t, 3)
	ctx := context.Background()
	data := bytes.Repeat([]byte("zone"), 1024)
	sum := sha256.Sum256(data)
	d := hex.EncodeToString(sum[:])
	if err := s.PutBlock(ctx, d, data); err != nil {
		t.Fatal(err)
	}
	for _, l := range ls {
		if _, err := l.StatBlock(ctx, d); err != nil {
			t.Fatalf("zone %s lacks the block: %v", l.Dir(), err)
		}
	}
	// Zone 1's disk is replaced by an empty one.
	if err := os.RemoveAll(ls[0].Dir()); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(ls[0].Dir(), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path(ls[1], d), []byte("rot"), 0o600); err != nil { // zone 2 rots
		t.Fatal(err)
	}
	got, err := s.GetBlock(ctx, d)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("get after losing two copies: %v", err)
	}
	for i, l := range ls[:2] {
		if got, err := l.GetBlock(ctx, d); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("zone %d not repaired: %v", i+1, err)
		}
	}
}

func TestNeedsTwoZones(t *testing.T) {
	l, _ := localfs.Open(t.TempDir())
	if _, err := zrs.New(l); galleon.ErrorCode(err) != galleon.EInvalid {
		t.Fatalf("one zone: %v", err)
	}
}
