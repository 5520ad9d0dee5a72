package manifest_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/galleonhq/galleon"
	"github.com/galleonhq/galleon/manifest"
)

func TestIngestRoundTrip(t *testing.T) {
	tests := []struct {
		name      string
		size      int64
		blockSize int64 // 0: the default
		kinds     string
		workers   int
	}{
		{"Empty", 0, bs, "r", 0},
		{"OneSector", 512, bs, "r", 0},
		{"OneSectorZero", 512, bs, "z", 0},
		{"AllZeros", 20 * bs, bs, "z", 0},
		{"AllRandom", 12 * bs, bs, "r", 0},
		{"Sparse", 33 * bs, bs, "rzzs1", 0},
		{"PartialLastBlock", 9*bs + 1536, bs, "zr", 0},
		{"PartialLastBlockZero", 9*bs + 1536, bs, "rz", 0},
		{"RepeatedContent", 16 * bs, bs, "pzr", 0},
		{"OneWorker", 17*bs + 512, bs, "rzs", 1},
		{"FiveWorkers", 17*bs + 512, bs, "rzs", 5},
		{"SectorBlocks", 64 * 512, 512, "rz1", 0},
		{"DefaultBlockSize", 2*galleon.DefaultBlockSize + 4096, 0, "sz", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			blockSize := tt.blockSize
			if blockSize == 0 {
				blockSize = galleon.DefaultBlockSize
			}
			content := makeDisk(uint64(len(tt.name)), tt.size, blockSize, tt.kinds)
			s := openStore(t)
			m := ingest(t, s, content, manifest.IngestOptions{BlockSize: tt.blockSize, Workers: tt.workers})

			if m.Size != tt.size || m.BlockSize != blockSize {
				t.Fatalf("manifest size %d block size %d; want %d %d", m.Size, m.BlockSize, tt.size, blockSize)
			}
			want := wantBlocks(content, blockSize)
			if !reflect.DeepEqual(m.Blocks, want) {
				t.Fatalf("blocks %v; want %v", m.Blocks, want)
			}
			if d := specDigest(m.Size, m.BlockSize, m.Blocks); m.Digest != d {
				t.Fatalf("Digest %s; the documented encoding gives %s", m.Digest, d)
			}
			if err := manifest.Validate(m); err != nil {
				t.Fatalf("Validate: %v", err)
			}

			// The store holds exactly the distinct non-zero blocks.
			stored := storedBlocks(t, s)
			distinct := map[string]bool{}
			for _, b := range want {
				distinct[b.Digest] = true
				if _, ok := stored[b.Digest]; !ok {
					t.Errorf("block %d (%s) not stored", b.Index, b.Digest)
				}
			}
			if len(stored) != len(distinct) {
				t.Errorf("store holds %d blocks; want %d", len(stored), len(distinct))
			}
			if got, want := m.StoredBytes(), nonZeroBytes(content, blockSize); got != want {
				t.Errorf("StoredBytes %d; want %d", got, want)
			}

			// Streaming it back out gives the same bytes.
			if got := readAll(t, s, m); sha256.Sum256(got) != sha256.Sum256(content) || len(got) != len(content) {
				t.Fatalf("streamed content (%d bytes) differs from the original (%d bytes)", len(got), len(content))
			}
			r := manifest.NewReader(context.Background(), s, m)
			h := sha256.New()
			if n, err := io.Copy(h, io.NewSectionReader(r, 0, r.Size())); err != nil || n != tt.size {
				t.Fatalf("io.Copy through ReadAt: %d, %v", n, err)
			}
			if fmt.Sprintf("%x", h.Sum(nil)) != sha(content) {
				t.Fatal("sha256 of the content read with ReadAt differs from the original")
			}
			checkWindows(t, r, content, 200)
		})
	}
}

// nonZeroBytes is the number of bytes in content's non-zero blocks.
func nonZeroBytes(content []byte, blockSize int64) int64 {
	var n int64
	for i := int64(0); i*blockSize < int64(len(content)); i++ {
		b := content[i*blockSize : min(int64(len(content)), (i+1)*blockSize)]
		if bytes.Count(b, []byte{0}) != len(b) {
			n += int64(len(b))
		}
	}
	return n
}

// checkWindows compares random ReadAt windows of r with content, including
// windows that cross block boundaries and the end.
func checkWindows(t *testing.T, r io.ReaderAt, content []byte, n int) {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	size := int64(len(content))
	for range n {
		off := rng.Int64N(size + 2*kib + 1)
		l := rng.IntN(3*bs + 1)
		p := make([]byte, l)
		got, err := r.ReadAt(p, off)
		wantN := int(max(0, min(int64(l), size-off)))
		if got != wantN {
			t.Fatalf("ReadAt(%d bytes, %d) read %d; want %d", l, off, got, wantN)
		}
		if wantN < l && err != io.EOF {
			t.Fatalf("ReadAt(%d bytes, %d) = %d, %v; want io.EOF", l, off, got, err)
		}
		if wantN == l && err != nil {
			t.Fatalf("ReadAt(%d bytes, %d): %v", l, off, err)
		}
		if wantN > 0 && !bytes.Equal(p[:wantN], content[off:off+int64(wantN)]) {
			t.Fatalf("ReadAt(%d bytes, %d) returned other bytes than the original", l, off)
		}
	}
}

func TestIngestDedup(t *testing.T) {
	content := makeDisk(7, 24*bs, bs, "rzpp")
	s := openStore(t)
	m1 := ingest(t, s, content, manifest.IngestOptions{BlockSize: bs})
	before := storedBlocks(t, s)
	if want := 6 + 1; len(before) != want { // 6 random blocks, one pattern block stored once
		t.Fatalf("first ingest stored %d blocks; want %d", len(before), want)
	}

	// The second ingest, later, stores nothing new but re-puts every block,
	// refreshing its ModTime for garbage collection.
	s.Now = func() time.Time { return t1 }
	m2 := ingest(t, s, content, manifest.IngestOptions{BlockSize: bs})
	if !reflect.DeepEqual(m1, m2) {
		t.Fatal("second ingest of the same content gave another manifest")
	}
	after := storedBlocks(t, s)
	if len(after) != len(before) {
		t.Fatalf("second ingest changed the block count from %d to %d", len(before), len(after))
	}
	for d, mt := range after {
		if !mt.Equal(t1) {
			t.Errorf("block %s ModTime %v after the re-ingest; want it refreshed to %v", d, mt, t1)
		}
	}
}

func TestIngestDigestIffContent(t *testing.T) {
	base := makeDisk(3, 10*bs+512, bs, "rzs")
	s := openStore(t)
	m := ingest(t, s, base, manifest.IngestOptions{BlockSize: bs})

	t.Run("SameContent", func(t *testing.T) {
		other := ingest(t, openStore(t), bytes.Clone(base), manifest.IngestOptions{BlockSize: bs, Workers: 3})
		if other.Digest != m.Digest {
			t.Fatalf("same content, digests %s and %s", other.Digest, m.Digest)
		}
	})
	for _, off := range []int64{0, bs - 1, bs, 2*bs + 17, 4*bs + bs/2, int64(len(base)) - 1} {
		t.Run(fmt.Sprintf("Mutate%d", off), func(t *testing.T) {
			c := bytes.Clone(base)
			c[off] ^= 0x40
			if other := ingest(t, s, c, manifest.IngestOptions{BlockSize: bs}); other.Digest == m.Digest {
				t.Fatalf("changing byte %d kept the digest %s", off, m.Digest)
			}
		})
	}
	t.Run("ZeroBlockAndShorter", func(t *testing.T) {
		// A 512-byte zero tail changes the size, so the digest.
		c := append(bytes.Clone(base), make([]byte, 512)...)
		if other := ingest(t, s, c, manifest.IngestOptions{BlockSize: bs}); other.Digest == m.Digest {
			t.Fatal("a longer disk has the same digest")
		}
	})
}

func TestIngestSkip(t *testing.T) {
	// Blocks 1 and 4 hold data the caller says is unallocated: Skip wins,
	// they are neither read nor stored and read back as zeros.
	content := makeDisk(11, 6*bs, bs, "r")
	r := &recordingReader{r: bytes.NewReader(content)}
	var asked [][2]int64
	s := openStore(t)
	m, err := manifest.Ingest(context.Background(), s, r, int64(len(content)), manifest.IngestOptions{
		BlockSize: bs,
		Skip: func(off, length int64) bool {
			asked = append(asked, [2]int64{off, length}) // not locked: calls are serialized
			return off == bs || off == 4*bs
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(asked) != 6 {
		t.Errorf("Skip asked %d times; want once per block (6)", len(asked))
	}
	for _, a := range asked {
		if a[0]%bs != 0 || a[1] != bs {
			t.Errorf("Skip asked about (%d, %d); want whole blocks", a[0], a[1])
		}
	}
	for _, off := range r.offsets() {
		if off == bs || off == 4*bs {
			t.Errorf("skipped block at %d was read", off)
		}
	}
	want := bytes.Clone(content)
	clear(want[bs : 2*bs])
	clear(want[4*bs : 5*bs])
	if got := readAll(t, s, m); !bytes.Equal(got, want) {
		t.Fatal("content read back is not the original with the skipped blocks zeroed")
	}
	if len(m.Blocks) != 4 {
		t.Fatalf("manifest lists %d blocks; want 4", len(m.Blocks))
	}
}

// recordingReader records the offsets it is read at.
type recordingReader struct {
	r    io.ReaderAt
	mu   sync.Mutex
	offs []int64
}

func (r *recordingReader) ReadAt(p []byte, off int64) (int, error) {
	r.mu.Lock()
	r.offs = append(r.offs, off)
	r.mu.Unlock()
	return r.r.ReadAt(p, off)
}

func (r *recordingReader) offsets() []int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]int64(nil), r.offs...)
}

func TestIngestProgress(t *testing.T) {
	content := makeDisk(5, 13*bs+1024, bs, "rzs")
	var calls int
	var last int64
	ingest(t, openStore(t), content, manifest.IngestOptions{
		BlockSize: bs,
		Workers:   3,
		Progress: func(done, total int64) {
			calls++ // not locked: calls are serialized (the race detector checks)
			if total != int64(len(content)) {
				t.Errorf("Progress total %d; want %d", total, len(content))
			}
			if done <= last || done > total {
				t.Errorf("Progress done %d after %d (total %d); want increasing", done, last, total)
			}
			last = done
		},
	})
	if calls != 14 || last != int64(len(content)) {
		t.Fatalf("Progress called %d times, last done %d; want 14 calls ending at %d", calls, last, len(content))
	}
}

func TestIngestErrors(t *testing.T) {
	content := makeDisk(9, 8*bs, bs, "r")
	tests := []struct {
		name   string
		r      io.ReaderAt
		size   int64
		opt    manifest.IngestOptions
		store  func(galleon.BlockStore) galleon.BlockStore
		ctx    func() context.Context
		code   string
		reason string
		is     error
	}{
		{name: "ErrSizeNotSectors", size: 1000, code: galleon.EInvalid, reason: manifest.ReasonInvalidDiskSize},
		{name: "ErrSizeNegative", size: -512, code: galleon.EInvalid, reason: manifest.ReasonInvalidDiskSize},
		{name: "ErrBlockSizeNotSectors", size: 8 * bs, opt: manifest.IngestOptions{BlockSize: 1000}, code: galleon.EInvalid, reason: manifest.ReasonInvalidBlockSize},
		{name: "ErrBlockSizeTooLarge", size: 8 * bs, opt: manifest.IngestOptions{BlockSize: manifest.MaxBlockSize * 2}, code: galleon.EInvalid, reason: manifest.ReasonInvalidBlockSize},
		{name: "ErrBlockSizeNegative", size: 8 * bs, opt: manifest.IngestOptions{BlockSize: -bs}, code: galleon.EInvalid, reason: manifest.ReasonInvalidBlockSize},
		{name: "ErrContentTooShort", size: 8*bs + 512, code: galleon.EInvalid, reason: manifest.ReasonDiskContentTooShort},
		{name: "ErrRead", r: failingReader{}, size: 8 * bs, is: errInjected},
		{name: "ErrPut", size: 8 * bs, store: func(s galleon.BlockStore) galleon.BlockStore {
			return &hookStore{BlockStore: s, beforePut: func(string) error { return errInjected }}
		}, is: errInjected},
		{name: "ErrCanceled", size: 8 * bs, ctx: func() context.Context {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx
		}, is: context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.r
			if r == nil {
				r = bytes.NewReader(content)
			}
			var s galleon.BlockStore = openStore(t)
			if tt.store != nil {
				s = tt.store(s)
			}
			ctx := context.Background()
			if tt.ctx != nil {
				ctx = tt.ctx()
			}
			if tt.opt.BlockSize == 0 {
				tt.opt.BlockSize = bs
			}
			m, err := manifest.Ingest(ctx, s, r, tt.size, tt.opt)
			if err == nil {
				t.Fatalf("Ingest succeeded with %d blocks; want an error", len(m.Blocks))
			}
			if tt.reason != "" {
				wantReason(t, err, tt.code, tt.reason)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Fatalf("error %v; want one wrapping %v", err, tt.is)
			}
		})
	}
}

type failingReader struct{}

func (failingReader) ReadAt([]byte, int64) (int, error) { return 0, errInjected }
