package diskimage_test

import (
	"bytes"
	"encoding/binary"
	"io"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/galleonhq/galleon/diskimage"
)

const (
	kib = 1 << 10
	mib = 1 << 20
)

// sparseDisk returns size bytes of disk content that is mostly zeros: runs
// of random data of assorted lengths at assorted (sector and sub-sector)
// offsets, a non-zero first and last sector, and long zero stretches.
func sparseDisk(tb testing.TB, size int64, seed uint64) []byte {
	tb.Helper()
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	rng := rand.NewChaCha8(key)
	pick := rand.New(rng)
	b := make([]byte, size)
	fill := func(off, n int64) {
		if off < 0 || off >= size {
			return
		}
		_, _ = rng.Read(b[off : off+min(n, size-off)])
	}
	fill(0, 512)
	fill(size-512, 512)
	// A handful of runs: one inside a single cluster, one straddling a
	// cluster boundary, single bytes, and one big run.
	fill(size/3+7, 3)
	fill(64*kib-100, 300)
	fill(size/2, min(size/8, 3*mib))
	for range 8 {
		fill(pick.Int64N(size), pick.Int64N(20*kib)+1)
	}
	return b
}

// vhdSum is the VHD checksum of b with the 4-byte checksum field at at
// excluded, written independently of the package's.
func vhdSum(b []byte, at int) uint32 {
	var s uint32
	for i := range b {
		if i < at || i >= at+4 {
			s += uint32(b[i])
		}
	}
	return ^s
}

// dynVHD describes a dynamic VHD fixture built by makeDynamicVHD.
type dynVHD struct {
	file      []byte
	batOffset int   // file offset of the BAT
	blockSize int64 // bytes per block
}

// makeDynamicVHD builds a dynamic VHD (footer copy, dynamic header at 512,
// BAT at 1536, blocks, footer) whose logical content is raw. Blocks that
// are entirely zero are left unallocated. Sectors listed in garbage get a
// clear bitmap bit and 0xAA bytes in the file, so they must read as zeros;
// raw must be zero there.
func makeDynamicVHD(tb testing.TB, raw []byte, blockSize int64, garbage map[int64]bool) dynVHD {
	tb.Helper()
	be := binary.BigEndian
	size := int64(len(raw))
	nblocks := (size + blockSize - 1) / blockSize
	const hdrOff, batOff = 512, 1536
	batBytes := (nblocks*4 + 511) / 512 * 512
	bitmapSize := (blockSize/512/8 + 511) / 512 * 512

	footer := make([]byte, 512)
	copy(footer, "conectix")
	be.PutUint32(footer[8:], 2)
	be.PutUint32(footer[12:], 0x00010000)
	be.PutUint64(footer[16:], hdrOff)
	be.PutUint32(footer[24:], 12345)
	copy(footer[28:], "win ") // qemu then takes the size from the footer, not CHS
	copy(footer[36:], "Wi2k")
	be.PutUint64(footer[40:], uint64(size))
	be.PutUint64(footer[48:], uint64(size))
	be.PutUint32(footer[60:], 3)
	copy(footer[68:], "0123456789abcdef")
	be.PutUint32(footer[64:], vhdSum(footer, 64))

	hdr := make([]byte, 1024)
	copy(hdr, "cxsparse")
	be.PutUint64(hdr[8:], ^uint64(0))
	be.PutUint64(hdr[16:], batOff)
	be.PutUint32(hdr[24:], 0x00010000)
	be.PutUint32(hdr[28:], uint32(nblocks))
	be.PutUint32(hdr[32:], uint32(blockSize))
	be.PutUint32(hdr[36:], vhdSum(hdr, 36))

	var f bytes.Buffer
	f.Write(footer)
	f.Write(hdr)
	bat := make([]byte, batBytes)
	for i := range bat {
		bat[i] = 0xFF
	}
	var blocks bytes.Buffer
	next := int64(batOff+batBytes) / 512
	for i := range nblocks {
		lo, hi := i*blockSize, min((i+1)*blockSize, size)
		hasGarbage := false
		for s := lo / 512; s < hi/512; s++ {
			hasGarbage = hasGarbage || garbage[s]
		}
		if !hasGarbage && bytes.Count(raw[lo:hi], []byte{0}) == int(hi-lo) {
			continue
		}
		be.PutUint32(bat[4*i:], uint32(next))
		bitmap := make([]byte, bitmapSize)
		data := make([]byte, blockSize)
		copy(data, raw[lo:hi])
		for s := range blockSize / 512 {
			if garbage[lo/512+s] {
				for j := s * 512; j < (s+1)*512; j++ {
					data[j] = 0xAA
				}
				continue
			}
			bitmap[s/8] |= 0x80 >> (s % 8)
		}
		blocks.Write(bitmap)
		blocks.Write(data)
		next += (bitmapSize + blockSize) / 512
	}
	f.Write(bat)
	f.Write(blocks.Bytes())
	f.Write(footer)
	return dynVHD{file: f.Bytes(), batOffset: batOff, blockSize: blockSize}
}

// fixedNow is the clock injected into VHD footers.
func fixedNow() time.Time { return time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC) }

// fixedVHD returns raw as a fixed VHD written by the package.
func fixedVHD(tb testing.TB, raw []byte) []byte {
	tb.Helper()
	var out bytes.Buffer
	err := diskimage.WriteFixedVHD(&out, bytes.NewReader(raw), int64(len(raw)), diskimage.VHDOptions{
		Now:      fixedNow,
		UniqueID: [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
	})
	if err != nil {
		tb.Fatalf("WriteFixedVHD: %v", err)
	}
	return out.Bytes()
}

// qcow2Of returns raw as a qcow2 image written by the package.
func qcow2Of(tb testing.TB, raw []byte) []byte {
	tb.Helper()
	var out bytes.Buffer
	if err := diskimage.WriteQCOW2(&out, bytes.NewReader(raw), int64(len(raw))); err != nil {
		tb.Fatalf("WriteQCOW2: %v", err)
	}
	return out.Bytes()
}

// mustOpen opens file and fails the test on error.
func mustOpen(tb testing.TB, file []byte) *diskimage.Image {
	tb.Helper()
	img, err := diskimage.Open(bytes.NewReader(file), int64(len(file)))
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	return img
}

// mustOpenReader opens the size-byte file in r and fails the test on error.
func mustOpenReader(tb testing.TB, r io.ReaderAt, size int64) *diskimage.Image {
	tb.Helper()
	img, err := diskimage.Open(r, size)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	return img
}

// readAll reads an image's whole logical content with reads of an awkward
// size, so reads straddle sectors, clusters and blocks.
func readAll(tb testing.TB, r io.ReaderAt, size int64) []byte {
	tb.Helper()
	out := make([]byte, size)
	const step = 100*kib + 17
	for off := int64(0); off < size; off += step {
		end := min(off+step, size)
		n, err := r.ReadAt(out[off:end], off)
		if n != int(end-off) || (err != nil && err != io.EOF) {
			tb.Fatalf("ReadAt(%d bytes at %d) = %d, %v", end-off, off, n, err)
		}
	}
	return out
}

// equalDisk fails the test at the first differing byte.
func equalDisk(tb testing.TB, got, want []byte) {
	tb.Helper()
	if len(got) != len(want) {
		tb.Fatalf("content is %d bytes, want %d", len(got), len(want))
	}
	if bytes.Equal(got, want) {
		return
	}
	if i := firstDiff(got, want); i >= 0 {
		tb.Fatalf("content differs at offset %d: got 0x%02x, want 0x%02x", i, got[i], want[i])
	}
}

func firstDiff(a, b []byte) int {
	for i := range a {
		if a[i] != b[i] {
			return i
		}
	}
	return -1
}
