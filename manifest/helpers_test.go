package manifest_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/galleonhq/galleon"
	"github.com/galleonhq/galleon/blob/localfs"
	"github.com/galleonhq/galleon/manifest"
)

const (
	kib = 1 << 10
	mib = 1 << 20
	// bs is the block size most tests cut disks into: small, so that
	// disks of many blocks stay small.
	bs = 64 * kib
)

// t0 and t1 are fixed clocks for block ModTimes, on whole seconds.
var (
	t0 = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	t1 = t0.Add(time.Hour)
)

// openStore returns an empty local block store in a temporary directory,
// its clock fixed at t0.
func openStore(tb testing.TB) *localfs.Store {
	tb.Helper()
	s, err := localfs.Open(tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	s.Now = func() time.Time { return t0 }
	return s
}

// makeDisk returns size bytes of disk content cut at blockSize, block i
// filled according to kinds[i%len(kinds)]:
//
//	'r' random bytes
//	'z' zeros
//	's' sparse: zeros but for one random sector in the middle
//	'1' a single 0x01 byte at the block's last byte
//	'p' a fixed pattern, the same in every 'p' block (dedup)
func makeDisk(seed uint64, size, blockSize int64, kinds string) []byte {
	d := make([]byte, size)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	for i := int64(0); i*blockSize < size; i++ {
		b := d[i*blockSize : min(size, (i+1)*blockSize)]
		switch kinds[i%int64(len(kinds))] {
		case 'r':
			fillRandom(rng, b)
		case 's':
			mid := (len(b) / 2) &^ 511
			fillRandom(rng, b[mid:min(len(b), mid+512)])
		case '1':
			b[len(b)-1] = 1
		case 'p':
			for k := range b {
				b[k] = byte(k*7 + 3)
			}
		}
	}
	return d
}

func fillRandom(rng *rand.Rand, b []byte) {
	for k := 0; k < len(b); k += 8 {
		var w [8]byte
		binary.LittleEndian.PutUint64(w[:], rng.Uint64())
		copy(b[k:], w[:])
	}
}

// wantBlocks returns the manifest entries content should produce, found
// the slow, obvious way.
func wantBlocks(content []byte, blockSize int64) []galleon.ManifestBlock {
	out := []galleon.ManifestBlock{}
	for i := int64(0); i*blockSize < int64(len(content)); i++ {
		b := content[i*blockSize : min(int64(len(content)), (i+1)*blockSize)]
		if bytes.Count(b, []byte{0}) == len(b) {
			continue
		}
		out = append(out, galleon.ManifestBlock{Index: i, Digest: sha(b)})
	}
	return out
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// specDigest computes the whole-disk digest as the package comment
// documents it, independently of the package's code.
func specDigest(size, blockSize int64, blocks []galleon.ManifestBlock) string {
	h := sha256.New()
	h.Write([]byte("galleon.disk.v1\n"))
	h.Write(binary.BigEndian.AppendUint64(nil, uint64(size)))
	h.Write(binary.BigEndian.AppendUint64(nil, uint64(blockSize)))
	for _, b := range blocks {
		h.Write(binary.BigEndian.AppendUint64(nil, uint64(b.Index)))
		d, err := hex.DecodeString(b.Digest)
		if err != nil {
			panic(err)
		}
		h.Write(d)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func ingest(tb testing.TB, bs galleon.BlockStore, content []byte, opt manifest.IngestOptions) *galleon.DiskManifest {
	tb.Helper()
	m, err := manifest.Ingest(context.Background(), bs, bytes.NewReader(content), int64(len(content)), opt)
	if err != nil {
		tb.Fatalf("Ingest: %v", err)
	}
	return m
}

// storedBlocks returns the digests in s and their ModTimes.
func storedBlocks(tb testing.TB, s galleon.BlockStore) map[string]time.Time {
	tb.Helper()
	got := map[string]time.Time{}
	err := s.ListBlocks(context.Background(), func(b galleon.BlockInfo) error {
		got[b.Digest] = b.ModTime
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return got
}

// readAll streams the whole disk out of m through a Reader.
func readAll(tb testing.TB, s galleon.BlockStore, m *galleon.DiskManifest) []byte {
	tb.Helper()
	var buf bytes.Buffer
	if _, err := manifest.NewReader(context.Background(), s, m).WriteTo(&buf); err != nil {
		tb.Fatalf("WriteTo: %v", err)
	}
	return buf.Bytes()
}

// blockPath is where blob/localfs keeps a block (its documented layout).
func blockPath(s *localfs.Store, digest string) string {
	return filepath.Join(s.Dir(), digest[:2], digest[2:4], digest)
}

// corruptBlock flips a byte of a stored block in place.
func corruptBlock(tb testing.TB, s *localfs.Store, digest string) {
	tb.Helper()
	p := blockPath(s, digest)
	data, err := os.ReadFile(p)
	if err != nil {
		tb.Fatal(err)
	}
	data[len(data)/2] ^= 0xff
	if err := os.WriteFile(p, data, 0o600); err != nil {
		tb.Fatal(err)
	}
}

// wantReason fails unless err is a *galleon.Error with code and reason.
func wantReason(tb testing.TB, err error, code, reason string) {
	tb.Helper()
	e := galleon.AsError(err)
	if e == nil {
		tb.Fatalf("error %v is not a *galleon.Error; want code %s reason %s", err, code, reason)
	}
	if e.Code != code || e.Reason != reason {
		tb.Fatalf("error code %s reason %s (%v); want %s %s", e.Code, e.Reason, err, code, reason)
	}
}

// hookStore wraps a BlockStore, letting tests fail or observe calls.
type hookStore struct {
	galleon.BlockStore
	mu   sync.Mutex
	puts []string // digests put, in order
	gets []string
	// beforePut, if set, runs before each PutBlock; an error fails it.
	beforePut func(digest string) error
}

func (h *hookStore) PutBlock(ctx context.Context, digest string, data []byte) error {
	h.mu.Lock()
	hook := h.beforePut
	h.mu.Unlock()
	if hook != nil {
		if err := hook(digest); err != nil {
			return err
		}
	}
	h.mu.Lock()
	h.puts = append(h.puts, digest)
	h.mu.Unlock()
	return h.BlockStore.PutBlock(ctx, digest, data)
}

func (h *hookStore) GetBlock(ctx context.Context, digest string) ([]byte, error) {
	h.mu.Lock()
	h.gets = append(h.gets, digest)
	h.mu.Unlock()
	return h.BlockStore.GetBlock(ctx, digest)
}

var errInjected = errors.New("injected failure")
