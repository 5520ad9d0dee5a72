package manifest

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"sync"

	"github.com/galleonhq/galleon"
)

// SectorSize is the unit every disk size and block size is a multiple of.
const SectorSize = 512

// MaxBlockSize is the largest block size a manifest may use. Readers and
// writers hold a few blocks per worker in memory, and Unmarshal refuses
// larger sizes so that a hostile manifest cannot make them allocate more.
const MaxBlockSize = 64 << 20

// Reasons of the *galleon.Error values this package returns, for clients
// that need to tell them apart.
const (
	// ReasonInvalidDiskSize: a disk size is negative or not a multiple of
	// 512 bytes.
	ReasonInvalidDiskSize = "InvalidDiskSize"
	// ReasonInvalidBlockSize: a block size is not a multiple of 512 bytes
	// between 512 bytes and MaxBlockSize.
	ReasonInvalidBlockSize = "InvalidBlockSize"
	// ReasonDiskContentTooShort: the content to ingest ended before the
	// size the caller gave.
	ReasonDiskContentTooShort = "DiskContentTooShort"
	// ReasonInvalidManifest: a manifest or its encoding is malformed,
	// not canonical, or its Digest does not match its blocks.
	ReasonInvalidManifest = "InvalidManifest"
	// ReasonBlockSizeMismatch: a block store returned a block whose length
	// is not the length the manifest gives that block.
	ReasonBlockSizeMismatch = "BlockSizeMismatch"
)

// digestTag starts the whole-disk digest input (see the package comment).
const digestTag = "galleon.disk.v1\n"

// blockCount returns how many blocks a disk of size bytes has at blockSize.
func blockCount(size, blockSize int64) int64 {
	n := size / blockSize
	if size%blockSize != 0 {
		n++
	}
	return n
}

// blockLen returns the length of block i of a disk of size bytes.
func blockLen(size, blockSize, i int64) int64 {
	if rest := size - i*blockSize; rest < blockSize {
		return rest
	}
	return blockSize
}

// checkSizes returns an *galleon.Error unless size and blockSize are valid
// for a manifest. what names the thing for messages ("disk", "manifest").
func checkSizes(what string, size, blockSize int64) error {
	if size < 0 || size%SectorSize != 0 {
		return galleon.ReasonErrorf(galleon.EInvalid, ReasonInvalidDiskSize,
			"%s size %d bytes is not a whole number of 512-byte sectors; pad the disk to a multiple of 512 bytes (for example with truncate -s)", what, size).WithTarget("size")
	}
	if blockSize < SectorSize || blockSize > MaxBlockSize || blockSize%SectorSize != 0 {
		return galleon.ReasonErrorf(galleon.EInvalid, ReasonInvalidBlockSize,
			"%s block size %d bytes is not a multiple of 512 bytes between 512 bytes and %d bytes; use the default of %d bytes", what, blockSize, MaxBlockSize, galleon.DefaultBlockSize).WithTarget("blockSize")
	}
	return nil
}

func invalidManifest(format string, args ...any) error {
	return galleon.ReasonErrorf(galleon.EInvalid, ReasonInvalidManifest, format, args...)
}

// parseDigest decodes a block digest given as 64 lower-case hex digits.
func parseDigest(s string) ([sha256.Size]byte, bool) {
	var d [sha256.Size]byte
	if len(s) != 2*sha256.Size {
		return d, false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return d, false
		}
	}
	_, err := hex.Decode(d[:], []byte(s))
	return d, err == nil
}

// digestWriter feeds the whole-disk digest input to a hash.
type digestWriter struct {
	h   hash.Hash
	buf [8 + sha256.Size]byte
}

func newDigestWriter(size, blockSize int64) *digestWriter {
	w := &digestWriter{h: sha256.New()}
	w.h.Write([]byte(digestTag))
	binary.BigEndian.PutUint64(w.buf[:8], uint64(size))
	w.h.Write(w.buf[:8])
	binary.BigEndian.PutUint64(w.buf[:8], uint64(blockSize))
	w.h.Write(w.buf[:8])
	return w
}

func (w *digestWriter) block(index int64, digest [sha256.Size]byte) {
	binary.BigEndian.PutUint64(w.buf[:8], uint64(index))
	copy(w.buf[8:], digest[:])
	w.h.Write(w.buf[:])
}

func (w *digestWriter) sum() [sha256.Size]byte {
	var s [sha256.Size]byte
	w.h.Sum(s[:0])
	return s
}

// ComputeDigest returns the whole-disk digest of m as the package comment
// defines it, from m's Size, BlockSize and Blocks (m.Digest is ignored).
// Code that builds a manifest by other means than Ingest sets m.Digest with
// it. Returns EInvalid if a block digest is not 64 lower-case hex digits.
func ComputeDigest(m *galleon.DiskManifest) (string, error) {
	w := newDigestWriter(m.Size, m.BlockSize)
	for _, b := range m.Blocks {
		d, ok := parseDigest(b.Digest)
		if !ok {
			return "", invalidManifest("block %d has digest %q, which is not a SHA-256 digest of 64 lower-case hex digits; rebuild the manifest from the disk with Ingest", b.Index, b.Digest)
		}
		w.block(b.Index, d)
	}
	s := w.sum()
	return hex.EncodeToString(s[:]), nil
}

// Validate checks that m is a well-formed, canonical manifest: valid sizes,
// blocks in strictly increasing Index order within the disk, well-formed
// block digests, no block listed that is all zeros (those must be left
// out), and a Digest that matches. It returns EInvalid with reason
// InvalidManifest (or InvalidDiskSize, InvalidBlockSize) naming the first
// problem.
func Validate(m *galleon.DiskManifest) error {
	if m == nil {
		return invalidManifest("the manifest is missing")
	}
	if err := checkSizes("manifest", m.Size, m.BlockSize); err != nil {
		return err
	}
	n := blockCount(m.Size, m.BlockSize)
	w := newDigestWriter(m.Size, m.BlockSize)
	var zeros zeroDigests
	prev := int64(-1)
	for _, b := range m.Blocks {
		if err := checkEntry(b.Index, prev, n); err != nil {
			return err
		}
		d, ok := parseDigest(b.Digest)
		if !ok {
			return invalidManifest("block %d has digest %q, which is not a SHA-256 digest of 64 lower-case hex digits; rebuild the manifest from the disk with Ingest", b.Index, b.Digest)
		}
		if d == zeros.of(blockLen(m.Size, m.BlockSize, b.Index)) {
			return invalidManifest("block %d is all zeros, and a manifest leaves zero blocks out; drop it from the list (Ingest never lists one)", b.Index)
		}
		w.block(b.Index, d)
		prev = b.Index
	}
	want := w.sum()
	if got, ok := parseDigest(m.Digest); !ok || got != want {
		return invalidManifest("manifest digest %q does not match its blocks, whose digest is %x; recompute it with ComputeDigest", m.Digest, want)
	}
	return nil
}

// checkEntry checks that block index follows prev and lies within a disk of
// n blocks.
func checkEntry(index, prev, n int64) error {
	if index <= prev {
		return invalidManifest("block index %d follows index %d; blocks must be listed once each in increasing index order", index, prev)
	}
	if index >= n {
		return invalidManifest("block index %d is past the end of the disk, which has %d blocks", index, n)
	}
	return nil
}

// zeroDigests computes, at most once per length, the digest of an all-zero
// block. A manifest has at most two block lengths (full and last).
type zeroDigests struct {
	len  [2]int64
	sum  [2][sha256.Size]byte
	have int
}

func (z *zeroDigests) of(length int64) [sha256.Size]byte {
	for i := 0; i < z.have; i++ {
		if z.len[i] == length {
			return z.sum[i]
		}
	}
	s := zeroDigest(length)
	if z.have < len(z.len) {
		z.len[z.have], z.sum[z.have] = length, s
		z.have++
	}
	return s
}

// zeroCache remembers the digests of all-zero blocks of the lengths seen
// (mostly the default block size), since hashing 4 MiB of zeros takes a
// few milliseconds. It holds at most zeroCacheLimit lengths, so hostile
// inputs with many block sizes cannot grow it.
var zeroCache struct {
	sync.Mutex
	sums map[int64][sha256.Size]byte
}

const zeroCacheLimit = 16

// zeroDigest returns the SHA-256 of length zero bytes.
func zeroDigest(length int64) [sha256.Size]byte {
	zeroCache.Lock()
	s, ok := zeroCache.sums[length]
	zeroCache.Unlock()
	if ok {
		return s
	}
	h := sha256.New()
	for rest := length; rest > 0; {
		n := min(rest, int64(len(zeroBuf)))
		h.Write(zeroBuf[:n])
		rest -= n
	}
	h.Sum(s[:0])
	zeroCache.Lock()
	if zeroCache.sums == nil {
		zeroCache.sums = make(map[int64][sha256.Size]byte)
	}
	if len(zeroCache.sums) < zeroCacheLimit {
		zeroCache.sums[length] = s
	}
	zeroCache.Unlock()
	return s
}

// zeroBuf is a block of zeros for comparing and writing; never modified.
var zeroBuf = make([]byte, 64<<10)

// isZero reports whether b holds only zero bytes. bytes.Equal compiles to
// the runtime's vectorized memequal, which stops at the first difference,
// so random data is rejected after one chunk and zeros run at memory speed.
func isZero(b []byte) bool {
	for len(b) > 0 {
		n := min(len(b), len(zeroBuf))
		if !bytes.Equal(b[:n], zeroBuf[:n]) {
			return false
		}
		b = b[n:]
	}
	return true
}

// hexDigest returns the lower-case hex SHA-256 of data.
func hexDigest(data []byte) string {
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}

// describeBlock names block i of m for error messages.
func describeBlock(m *galleon.DiskManifest, i int64, digest string) string {
	return fmt.Sprintf("block %d (disk bytes %d-%d, digest %s)", i, i*m.BlockSize, i*m.BlockSize+blockLen(m.Size, m.BlockSize, i)-1, digest)
}
