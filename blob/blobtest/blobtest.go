package blobtest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/galleonhq/galleon"
)

// Subject is one freshly opened, empty block store under test, with the
// hooks the suite uses to reach behind the galleon.BlockStore interface.
type Subject struct {
	// Store is the block store under test.
	Store galleon.BlockStore

	// Advance moves the clock Store stamps ModTimes with forward by d. The
	// suite calls it from one goroutine at a time, but Store may read the
	// clock from many. Nil when the clock cannot be controlled; the
	// ModTime-refresh checks are then skipped.
	Advance func(d time.Duration)

	// Corrupt replaces the stored content of the present block digest with
	// data, bypassing every check, as bit rot or a careless operator would,
	// and leaves the block where GetBlock looks for it. Nil skips the
	// corruption checks.
	Corrupt func(digest string, data []byte) error
}

// Run runs the contract suite against fresh stores made by open, one per
// subtest. open arranges any cleanup with t.Cleanup. A galleon.BlockStore
// implementation is done when it passes.
func Run(t *testing.T, open func(t *testing.T) Subject) {
	t.Run("RoundTrip", func(t *testing.T) { testRoundTrip(t, open) })
	t.Run("Aliasing", func(t *testing.T) { testAliasing(t, open) })
	t.Run("WrongDigest", func(t *testing.T) { testWrongDigest(t, open) })
	t.Run("MalformedDigest", func(t *testing.T) { testMalformedDigest(t, open) })
	t.Run("Absent", func(t *testing.T) { testAbsent(t, open) })
	t.Run("RePut", func(t *testing.T) { testRePut(t, open) })
	t.Run("RePutRefreshesModTime", func(t *testing.T) { testRePutRefreshesModTime(t, open) })
	t.Run("Delete", func(t *testing.T) { testDelete(t, open) })
	t.Run("List", func(t *testing.T) { testList(t, open) })
	t.Run("ListStopsOnError", func(t *testing.T) { testListStopsOnError(t, open) })
	t.Run("ListWhileDeleting", func(t *testing.T) { testListWhileDeleting(t, open) })
	t.Run("CanceledContext", func(t *testing.T) { testCanceledContext(t, open) })
	t.Run("ConcurrentSameBlock", func(t *testing.T) { testConcurrentSameBlock(t, open) })
	t.Run("ConcurrentDifferentBlocks", func(t *testing.T) { testConcurrentDifferentBlocks(t, open) })
	t.Run("Corrupt", func(t *testing.T) { testCorrupt(t, open) })
	t.Run("DeleteIfOlder", func(t *testing.T) { testDeleteIfOlder(t, open) })
}

// mib is one mebibyte.
const mib = 1 << 20

// block returns size bytes of deterministic pseudo-random content, distinct
// for each seed, and its digest.
func block(seed uint64, size int) ([]byte, string) {
	r := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	data := make([]byte, size)
	for i := 0; i < size; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8 && i+j < size; j++ {
			data[i+j] = byte(v >> (8 * j))
		}
	}
	return data, digestOf(data)
}

// digestOf returns the lower-case hex SHA-256 of data.
func digestOf(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// wantCode fails t unless err carries the galleon error code want.
func wantCode(t *testing.T, what string, err error, want string) {
	t.Helper()
	if got := galleon.ErrorCode(err); got != want {
		t.Fatalf("%s: error code = %q, want %q (error: %v)", what, got, want, err)
	}
}

// wantNotFound fails t unless err is a *galleon.Error with code ENotFound,
// a message and no Reason (the transports choose the Reason).
func wantNotFound(t *testing.T, what string, err error) {
	t.Helper()
	wantCode(t, what, err, galleon.ENotFound)
	if e := galleon.AsError(err); e.Reason != "" || e.Message == "" {
		t.Fatalf("%s: not-found error has Reason %q and Message %q; want no Reason and a message", what, e.Reason, e.Message)
	}
}

// wantInvalid fails t unless err is a *galleon.Error with code EInvalid and
// a message.
func wantInvalid(t *testing.T, what string, err error) {
	t.Helper()
	wantCode(t, what, err, galleon.EInvalid)
	if e := galleon.AsError(err); e.Message == "" {
		t.Fatalf("%s: invalid error has no Message", what)
	}
}

// must fails t if err is not nil.
func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// put stores data under digest and fails t on error.
func put(t *testing.T, s galleon.BlockStore, digest string, data []byte) {
	t.Helper()
	must(t, "PutBlock "+short(digest), s.PutBlock(t.Context(), digest, data))
}

// wantBlock fails t unless the store returns exactly want for digest, and
// StatBlock reports its digest and size.
func wantBlock(t *testing.T, s galleon.BlockStore, digest string, want []byte) galleon.BlockInfo {
	t.Helper()
	got, err := s.GetBlock(t.Context(), digest)
	must(t, "GetBlock "+short(digest), err)
	if !bytes.Equal(got, want) {
		t.Fatalf("GetBlock %s returned %d bytes that differ from the %d bytes put", short(digest), len(got), len(want))
	}
	info, err := s.StatBlock(t.Context(), digest)
	must(t, "StatBlock "+short(digest), err)
	if info.Digest != digest || info.Size != int64(len(want)) {
		t.Fatalf("StatBlock %s = {Digest %q, Size %d}, want {Digest %q, Size %d}", short(digest), info.Digest, info.Size, digest, len(want))
	}
	if info.ModTime.IsZero() {
		t.Fatalf("StatBlock %s has a zero ModTime", short(digest))
	}
	return info
}

// wantAbsent fails t unless GetBlock and StatBlock report digest as absent.
func wantAbsent(t *testing.T, s galleon.BlockStore, digest string) {
	t.Helper()
	_, err := s.GetBlock(t.Context(), digest)
	wantNotFound(t, "GetBlock "+short(digest), err)
	_, err = s.StatBlock(t.Context(), digest)
	wantNotFound(t, "StatBlock "+short(digest), err)
}

// list returns every block ListBlocks reports, by digest, failing t if a
// block is reported twice.
func list(t *testing.T, s galleon.BlockStore) map[string]galleon.BlockInfo {
	t.Helper()
	got := map[string]galleon.BlockInfo{}
	err := s.ListBlocks(t.Context(), func(b galleon.BlockInfo) error {
		if _, dup := got[b.Digest]; dup {
			return fmt.Errorf("block %s listed twice", b.Digest)
		}
		got[b.Digest] = b
		return nil
	})
	must(t, "ListBlocks", err)
	return got
}

// wantList fails t unless ListBlocks reports exactly the blocks in want
// (digest -> size), each with a ModTime.
func wantList(t *testing.T, s galleon.BlockStore, want map[string]int) map[string]galleon.BlockInfo {
	t.Helper()
	got := list(t, s)
	for d, size := range want {
		b, ok := got[d]
		switch {
		case !ok:
			t.Errorf("ListBlocks did not report block %s", short(d))
		case b.Size != int64(size):
			t.Errorf("ListBlocks reported block %s with Size %d, want %d", short(d), b.Size, size)
		case b.ModTime.IsZero():
			t.Errorf("ListBlocks reported block %s with a zero ModTime", short(d))
		}
	}
	for d := range got {
		if _, ok := want[d]; !ok {
			t.Errorf("ListBlocks reported block %q, which was never stored or was deleted", d)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	return got
}

// short abbreviates a digest for messages.
func short(digest string) string {
	if len(digest) > 12 {
		return digest[:12]
	}
	return fmt.Sprintf("%q", digest)
}

func testRoundTrip(t *testing.T, open func(t *testing.T) Subject) {
	for _, tt := range []struct {
		name string
		size int
	}{
		{"Empty", 0},
		{"OneByte", 1},
		{"Small", 4096 + 17},
		{"1MiB", mib},
		{"4MiB", 4 * mib},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t).Store
			data, digest := block(uint64(tt.size)+1, tt.size)
			put(t, s, digest, data)
			wantBlock(t, s, digest, data)
			wantList(t, s, map[string]int{digest: tt.size})
		})
	}

	t.Run("Many", func(t *testing.T) {
		s := open(t).Store
		want := map[string][]byte{}
		for i := range 40 {
			data, digest := block(uint64(100+i), 100*i)
			put(t, s, digest, data)
			want[digest] = data
		}
		for digest, data := range want {
			wantBlock(t, s, digest, data)
		}
	})
}

// testAliasing checks that the store owns its copies: the caller may reuse
// the slice it put, and may modify the slice it got.
func testAliasing(t *testing.T, open func(t *testing.T) Subject) {
	s := open(t).Store
	data, digest := block(7, 1000)
	orig := bytes.Clone(data)
	put(t, s, digest, data)
	for i := range data {
		data[i] ^= 0xff
	}
	wantBlock(t, s, digest, orig)

	got, err := s.GetBlock(t.Context(), digest)
	must(t, "GetBlock", err)
	for i := range got {
		got[i] = 0
	}
	wantBlock(t, s, digest, orig)
}

func testWrongDigest(t *testing.T, open func(t *testing.T) Subject) {
	a, da := block(1, 5000)
	_, db := block(2, 5000)
	empty := digestOf(nil)
	for _, tt := range []struct {
		name   string
		digest string
		data   []byte
	}{
		{"OtherBlock", db, a},
		{"EmptyDigestForData", empty, a},
		{"DataForEmptyDigest", da, nil},
		{"Truncated", da, a[:len(a)-1]},
		{"OneBitFlipped", da, append(append([]byte{}, a[0]^1), a[1:]...)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t).Store
			wantInvalid(t, "PutBlock with a digest that is not the content's", s.PutBlock(t.Context(), tt.digest, tt.data))
			wantAbsent(t, s, tt.digest)
			wantList(t, s, nil)
		})
	}

	t.Run("PresentBlockNotReplaced", func(t *testing.T) {
		s := open(t).Store
		put(t, s, da, a)
		_, other := block(3, 10)
		wrong, _ := block(3, 10)
		wrong[0] ^= 1
		wantInvalid(t, "PutBlock of wrong content", s.PutBlock(t.Context(), da, wrong))
		wantInvalid(t, "PutBlock of wrong content", s.PutBlock(t.Context(), other, wrong))
		wantBlock(t, s, da, a)
		wantList(t, s, map[string]int{da: len(a)})
	})
}

// malformedDigests are digests every method must reject with EInvalid. Some
// are the right SHA-256 in the wrong spelling, some try to escape the
// store's namespace.
func malformedDigests(real string) map[string]string {
	return map[string]string{
		"Empty":            "",
		"UpperCase":        strings.ToUpper(real),
		"MixedCase":        real[:10] + strings.ToUpper(real[10:20]) + real[20:],
		"Short":            real[:63],
		"Long":             real + "0",
		"NonHex":           "g" + real[1:],
		"Prefixed":         "sha256:" + real,
		"LeadingSpace":     " " + real[1:],
		"TrailingNewline":  real[:63] + "\n",
		"NUL":              real[:63] + "\x00",
		"DotDot":           "../x",
		"DotDotPadded":     "../" + real[3:],
		"Slash":            real[:2] + "/" + real[3:],
		"Backslash":        real[:2] + `\` + real[3:],
		"Absolute":         "/" + real[1:],
		"Dot":              ".",
		"Base64":           "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU",
		"UnicodeLookalike": real[:62] + "а", // Cyrillic a: 64 bytes, not hex
	}
}

func testMalformedDigest(t *testing.T, open func(t *testing.T) Subject) {
	s := open(t).Store
	// A stored block that a path trick must not reach.
	keep, keepDigest := block(11, 300)
	put(t, s, keepDigest, keep)

	data, real := block(12, 300)
	for name, digest := range malformedDigests(real) {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			wantInvalid(t, "PutBlock", s.PutBlock(ctx, digest, data))
			_, err := s.GetBlock(ctx, digest)
			wantInvalid(t, "GetBlock", err)
			_, err = s.StatBlock(ctx, digest)
			wantInvalid(t, "StatBlock", err)
			wantInvalid(t, "DeleteBlock", s.DeleteBlock(ctx, digest))
		})
	}
	wantBlock(t, s, keepDigest, keep)
	wantList(t, s, map[string]int{keepDigest: len(keep)})
}

func testAbsent(t *testing.T, open func(t *testing.T) Subject) {
	s := open(t).Store
	_, d := block(21, 100)
	wantAbsent(t, s, d)
	wantAbsent(t, s, digestOf(nil))

	// Absent next to present: a block sharing a long prefix with a stored
	// one is still absent.
	data, stored := block(22, 100)
	put(t, s, stored, data)
	near := stored[:60] + "0000"
	if near == stored {
		near = stored[:60] + "1111"
	}
	wantAbsent(t, s, near)
}

// testRePut checks what every backend can: re-putting succeeds, keeps the
// content and never moves ModTime backwards.
func testRePut(t *testing.T, open func(t *testing.T) Subject) {
	s := open(t).Store
	for _, size := range []int{0, 1000} {
		data, d := block(31, size)
		put(t, s, d, data)
		before := wantBlock(t, s, d, data)
		put(t, s, d, data)
		put(t, s, d, bytes.Clone(data))
		after := wantBlock(t, s, d, data)
		if after.ModTime.Before(before.ModTime) {
			t.Fatalf("re-put moved ModTime of a %d-byte block back from %v to %v", size, before.ModTime, after.ModTime)
		}
		wantList(t, s, map[string]int{d: size, digestOf(nil): 0})
	}
}

// testRePutRefreshesModTime checks the guarantee garbage collection relies
// on: a re-put stamps the block with the current time.
func testRePutRefreshesModTime(t *testing.T, open func(t *testing.T) Subject) {
	sub := open(t)
	if sub.Advance == nil {
		t.Skip("Subject.Advance is nil: cannot check that a re-put refreshes ModTime without sleeping")
	}
	s := sub.Store
	// Coarse filesystems keep mtimes to the second (or two); an hour is
	// far larger than their rounding.
	const step = time.Hour
	const slack = 2 * time.Second
	within := func(got, want time.Time) bool {
		d := got.Sub(want)
		return d > -slack && d < slack
	}

	a, da := block(41, 2000)
	b, db := block(42, 0)
	put(t, s, da, a)
	put(t, s, db, b)
	a1 := wantBlock(t, s, da, a)
	b1 := wantBlock(t, s, db, b)
	if !within(b1.ModTime, a1.ModTime) {
		t.Fatalf("blocks put at the same clock reading have ModTimes %v and %v", a1.ModTime, b1.ModTime)
	}

	sub.Advance(step)
	put(t, s, da, a)
	a2 := wantBlock(t, s, da, a)
	if want := a1.ModTime.Add(step); !within(a2.ModTime, want) {
		t.Fatalf("after the clock moved %v, re-put left ModTime at %v; want about %v", step, a2.ModTime, want)
	}
	if b2 := wantBlock(t, s, db, b); !b2.ModTime.Equal(b1.ModTime) {
		t.Fatalf("re-putting block %s changed the ModTime of block %s from %v to %v", short(da), short(db), b1.ModTime, b2.ModTime)
	}
	got := wantList(t, s, map[string]int{da: len(a), db: 0})
	if !got[da].ModTime.Equal(a2.ModTime) || !got[db].ModTime.Equal(b1.ModTime) {
		t.Fatalf("ListBlocks ModTimes %v and %v differ from StatBlock's %v and %v", got[da].ModTime, got[db].ModTime, a2.ModTime, b1.ModTime)
	}

	// A new block put now carries the new time too, and the empty block's
	// re-put is refreshed like any other.
	sub.Advance(step)
	c, dc := block(43, 10)
	put(t, s, dc, c)
	put(t, s, db, b)
	if c3 := wantBlock(t, s, dc, c); !within(c3.ModTime, a1.ModTime.Add(2*step)) {
		t.Fatalf("block put after the clock moved %v has ModTime %v; want about %v", 2*step, c3.ModTime, a1.ModTime.Add(2*step))
	}
	if b3 := wantBlock(t, s, db, b); !within(b3.ModTime, b1.ModTime.Add(2*step)) {
		t.Fatalf("re-put of the empty block left ModTime at %v; want about %v", b3.ModTime, b1.ModTime.Add(2*step))
	}
}

func testDelete(t *testing.T, open func(t *testing.T) Subject) {
	s := open(t).Store
	ctx := t.Context()
	a, da := block(51, 1234)
	b, db := block(52, 0)
	put(t, s, da, a)
	put(t, s, db, b)

	must(t, "DeleteBlock", s.DeleteBlock(ctx, da))
	wantAbsent(t, s, da)
	wantBlock(t, s, db, b)
	wantList(t, s, map[string]int{db: 0})

	must(t, "DeleteBlock of a deleted block", s.DeleteBlock(ctx, da))
	_, never := block(53, 1)
	must(t, "DeleteBlock of a never-stored block", s.DeleteBlock(ctx, never))
	must(t, "DeleteBlock of the empty block", s.DeleteBlock(ctx, db))
	wantList(t, s, nil)

	// A deleted block can be stored again.
	put(t, s, da, a)
	wantBlock(t, s, da, a)
	wantList(t, s, map[string]int{da: len(a)})
}

func testList(t *testing.T, open func(t *testing.T) Subject) {
	s := open(t).Store
	err := s.ListBlocks(t.Context(), func(b galleon.BlockInfo) error {
		return fmt.Errorf("empty store listed block %+v", b)
	})
	must(t, "ListBlocks of an empty store", err)

	want := map[string]int{}
	for i := range 60 {
		size := (i * 7919) % 20000
		data, d := block(uint64(600+i), size)
		put(t, s, d, data)
		want[d] = size
	}
	got := wantList(t, s, want)
	for d, b := range got {
		info, err := s.StatBlock(t.Context(), d)
		must(t, "StatBlock", err)
		if !info.ModTime.Equal(b.ModTime) {
			t.Fatalf("ListBlocks ModTime of %s = %v, StatBlock says %v", short(d), b.ModTime, info.ModTime)
		}
	}

	n := 0
	for d := range want {
		if n%3 == 0 {
			must(t, "DeleteBlock", s.DeleteBlock(t.Context(), d))
			delete(want, d)
		}
		n++
	}
	wantList(t, s, want)
}

func testListStopsOnError(t *testing.T, open func(t *testing.T) Subject) {
	s := open(t).Store
	for i := range 10 {
		data, d := block(uint64(700+i), 100+i)
		put(t, s, d, data)
	}
	stop := errors.New("stop here")
	for _, after := range []int{1, 3, 10} {
		t.Run(fmt.Sprintf("After%d", after), func(t *testing.T) {
			calls := 0
			err := s.ListBlocks(t.Context(), func(galleon.BlockInfo) error {
				calls++
				if calls == after {
					return fmt.Errorf("callback: %w", stop)
				}
				return nil
			})
			if !errors.Is(err, stop) {
				t.Fatalf("ListBlocks returned %v, want the error fn returned", err)
			}
			if calls != after {
				t.Fatalf("ListBlocks called fn %d times after it failed on call %d", calls, after)
			}
		})
	}
}

// testListWhileDeleting checks what a garbage-collection sweep does: delete
// blocks from inside ListBlocks.
func testListWhileDeleting(t *testing.T, open func(t *testing.T) Subject) {
	s := open(t).Store
	want := map[string]int{}
	for i := range 30 {
		data, d := block(uint64(800+i), 50*i)
		put(t, s, d, data)
		want[d] = len(data)
	}
	seen := map[string]bool{}
	kept := map[string]int{}
	err := s.ListBlocks(t.Context(), func(b galleon.BlockInfo) error {
		if seen[b.Digest] {
			return fmt.Errorf("block %s listed twice", b.Digest)
		}
		seen[b.Digest] = true
		if b.Digest[0] < '8' {
			return s.DeleteBlock(t.Context(), b.Digest)
		}
		kept[b.Digest] = want[b.Digest]
		return nil
	})
	must(t, "ListBlocks deleting half the blocks", err)
	if len(seen) != len(want) {
		t.Fatalf("ListBlocks reported %d blocks while fn deleted some, want %d", len(seen), len(want))
	}
	wantList(t, s, kept)
}

func testCanceledContext(t *testing.T, open func(t *testing.T) Subject) {
	s := open(t).Store
	a, da := block(91, 100)
	put(t, s, da, a)

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	b, db := block(92, 100)
	if err := s.PutBlock(ctx, db, b); !errors.Is(err, context.Canceled) {
		t.Fatalf("PutBlock with a canceled context returned %v, want an error wrapping context.Canceled", err)
	}
	wantAbsent(t, s, db)
	if err := s.ListBlocks(ctx, func(galleon.BlockInfo) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("ListBlocks with a canceled context returned %v, want an error wrapping context.Canceled", err)
	}
	wantList(t, s, map[string]int{da: len(a)})
}

// testConcurrentSameBlock races many writers of one block against readers
// that must see either nothing or the whole block, never a part of it.
func testConcurrentSameBlock(t *testing.T, open func(t *testing.T) Subject) {
	s := open(t).Store
	data, d := block(101, mib)
	// A partial block is visible only for a moment, if at all; repeat the
	// race from an empty store to give readers several chances to see one.
	for round := range 5 {
		must(t, "DeleteBlock", s.DeleteBlock(t.Context(), d))
		raceSameBlock(t, s, d, data)
		if t.Failed() {
			t.Fatalf("round %d of concurrent puts failed", round)
		}
		wantBlock(t, s, d, data)
		wantList(t, s, map[string]int{d: len(data)})
	}
}

// raceSameBlock puts data from many goroutines at once while others read it
// until the last put returns, reporting any failed put, and any read that
// is neither ENotFound nor the whole block, as test errors.
func raceSameBlock(t *testing.T, s galleon.BlockStore, d string, data []byte) {
	t.Helper()
	const writers, readers = 16, 2
	var writing, reading sync.WaitGroup
	errs := make(chan error, writers+readers)
	done := make(chan struct{})
	for range readers {
		reading.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				got, err := s.GetBlock(t.Context(), d)
				switch {
				case galleon.ErrorCode(err) == galleon.ENotFound:
				case err != nil:
					errs <- fmt.Errorf("GetBlock during concurrent puts: %w", err)
					return
				case !bytes.Equal(got, data):
					errs <- fmt.Errorf("GetBlock during concurrent puts returned %d bytes that differ from the block", len(got))
					return
				}
			}
		})
	}
	for range writers {
		writing.Go(func() {
			if err := s.PutBlock(t.Context(), d, bytes.Clone(data)); err != nil {
				errs <- fmt.Errorf("PutBlock: %w", err)
			}
		})
	}
	writing.Wait()
	close(done)
	reading.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func testConcurrentDifferentBlocks(t *testing.T, open func(t *testing.T) Subject) {
	s := open(t).Store
	const writers, each = 8, 8
	type blk struct {
		digest string
		data   []byte
	}
	blocks := make([][]blk, writers)
	want := map[string]int{}
	for w := range writers {
		for i := range each {
			data, d := block(uint64(1000+w*each+i), 1000+w*each+i)
			blocks[w] = append(blocks[w], blk{d, data})
			want[d] = len(data)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := range writers {
		wg.Go(func() {
			for _, b := range blocks[w] {
				if err := s.PutBlock(t.Context(), b.digest, b.data); err != nil {
					errs <- fmt.Errorf("PutBlock %s: %w", short(b.digest), err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		t.FailNow()
	}
	for _, bs := range blocks {
		for _, b := range bs {
			wantBlock(t, s, b.digest, b.data)
		}
	}
	wantList(t, s, want)
}

func testCorrupt(t *testing.T, open func(t *testing.T) Subject) {
	if open(t).Corrupt == nil {
		t.Skip("Subject.Corrupt is nil: cannot check that GetBlock detects corrupt blocks")
	}
	data, _ := block(111, 4096)
	flipped := bytes.Clone(data)
	flipped[2000] ^= 0x10
	for _, tt := range []struct {
		name    string
		stored  []byte
		content []byte
	}{
		{"BitFlip", data, flipped},
		{"Truncated", data, data[:1000]},
		{"Emptied", data, nil},
		{"Extended", data, append(bytes.Clone(data), 0)},
		{"EmptyBlockGrown", nil, []byte{0}},
		{"OtherBlock", data, func() []byte { b, _ := block(112, 4096); return b }()},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sub := open(t)
			s := sub.Store
			digest := digestOf(tt.stored)
			put(t, s, digest, tt.stored)
			must(t, "Corrupt", sub.Corrupt(digest, tt.content))

			got, err := s.GetBlock(t.Context(), digest)
			if err == nil {
				t.Fatalf("GetBlock of a corrupt block returned %d bytes and no error", len(got))
			}
			wantCode(t, "GetBlock of a corrupt block", err, galleon.EInternal)
			e := galleon.AsError(err)
			if e == nil {
				t.Fatalf("GetBlock of a corrupt block returned %v, want a *galleon.Error naming the block", err)
			}
			if !strings.Contains(e.Message, digest) {
				t.Fatalf("GetBlock of a corrupt block: message %q does not name block %s", e.Message, digest)
			}

			// The damage is visible to Stat and List, and deleting and
			// re-putting the block repairs it.
			wantList(t, s, map[string]int{digest: len(tt.content)})
			must(t, "DeleteBlock of a corrupt block", s.DeleteBlock(t.Context(), digest))
			wantAbsent(t, s, digest)
			put(t, s, digest, tt.stored)
			wantBlock(t, s, digest, tt.stored)
		})
	}
}

// testDeleteIfOlder checks the conditional delete garbage collection uses.
func testDeleteIfOlder(t *testing.T, open func(t *testing.T) Subject) {
	sub := open(t)
	s := sub.Store
	ctx := context.Background()
	data, d := block(7, 1024)
	if gone, err := s.DeleteBlockIfOlder(ctx, d, time.Now().Add(time.Hour)); err != nil || gone {
		t.Fatalf("absent block: gone=%v err=%v", gone, err)
	}
	if err := s.PutBlock(ctx, d, data); err != nil {
		t.Fatal(err)
	}
	bi, err := s.StatBlock(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	// Not older than the cutoff: kept, and still readable.
	if gone, err := s.DeleteBlockIfOlder(ctx, d, bi.ModTime); err != nil || gone {
		t.Fatalf("young block: gone=%v err=%v", gone, err)
	}
	if got, err := s.GetBlock(ctx, d); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("kept block: %v", err)
	}
	if err := s.DeleteBlock(ctx, d); err != nil {
		t.Fatal(err)
	}
	if err := s.PutBlock(ctx, d, data); err != nil {
		t.Fatal(err)
	}
	bi, _ = s.StatBlock(ctx, d)
	// Older than the cutoff: deleted.
	if gone, err := s.DeleteBlockIfOlder(ctx, d, bi.ModTime.Add(time.Second)); err != nil || !gone {
		t.Fatalf("old block: gone=%v err=%v", gone, err)
	}
	if _, err := s.StatBlock(ctx, d); galleon.ErrorCode(err) != galleon.ENotFound {
		t.Fatalf("after delete: %v", err)
	}
	if _, err := s.DeleteBlockIfOlder(ctx, "NOT-A-DIGEST", time.Now()); galleon.ErrorCode(err) != galleon.EInvalid {
		t.Fatalf("bad digest: %v", err)
	}
	// Re-puts racing conditional deletes raise no errors and leave the
	// store consistent: one block, listed once.
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(2)
		go func() { defer wg.Done(); _, _ = s.DeleteBlockIfOlder(ctx, d, time.Now().Add(time.Hour)) }()
		go func() {
			defer wg.Done()
			if err := s.PutBlock(ctx, d, data); err != nil {
				t.Error(err)
			}
		}()
		wg.Wait()
	}
	if err := s.PutBlock(ctx, d, data); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetBlock(ctx, d); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("after the race: %v", err)
	}
	n := 0
	if err := s.ListBlocks(ctx, func(galleon.BlockInfo) error { n++; return nil }); err != nil || n != 1 {
		t.Fatalf("after the race the store lists %d blocks (%v), want 1", n, err)
	}
}
