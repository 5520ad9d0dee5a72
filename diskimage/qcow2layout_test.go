package diskimage_test

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/galleonhq/galleon/diskimage"
)

// patternDisk is a large synthetic disk: data in the given ranges, zeros
// elsewhere. It is an ExtentReader so writers skip the zeros.
type patternDisk struct {
	size int64
	data [][2]int64 // sorted, disjoint [start, end)
}

var (
	patternOnce sync.Once
	pattern     []byte
)

func patternBytes() []byte {
	patternOnce.Do(func() {
		pattern = make([]byte, mib)
		_, _ = rand.NewChaCha8([32]byte{7}).Read(pattern)
		for i := range pattern {
			pattern[i] |= 1
		}
	})
	return pattern
}

func (d patternDisk) ReadAt(p []byte, off int64) (int, error) {
	pat := patternBytes()
	clear(p)
	for _, r := range d.data {
		lo, hi := max(r[0], off), min(r[1], off+int64(len(p)))
		for o := lo; o < hi; {
			n := copy(p[o-off:hi-off], pat[o%mib:])
			o += int64(n)
		}
	}
	return len(p), nil
}

func (d patternDisk) Extents(off, length int64, fn func(diskimage.Extent) error) error {
	pos, end := off, off+length
	for _, r := range d.data {
		if r[1] <= pos || r[0] >= end {
			continue
		}
		if s := max(r[0], pos); s > pos {
			if err := fn(diskimage.Extent{Offset: pos, Length: s - pos}); err != nil {
				return err
			}
			pos = s
		}
		e := min(r[1], end)
		if err := fn(diskimage.Extent{Offset: pos, Length: e - pos, Allocated: true}); err != nil {
			return err
		}
		pos = e
	}
	if pos < end {
		return fn(diskimage.Extent{Offset: pos, Length: end - pos})
	}
	return nil
}

// prefixWriter keeps the first len(buf) bytes written and counts the rest.
type prefixWriter struct {
	buf []byte
	n   int64
}

func (w *prefixWriter) Write(p []byte) (int, error) {
	if w.n < int64(len(w.buf)) {
		copy(w.buf[w.n:], p)
	}
	w.n += int64(len(p))
	return len(p), nil
}

// checkQCOW2Metadata checks, independently of the writer, that every
// cluster of a qcow2 file of fileSize bytes (metadata in meta) is referenced
// exactly once by the header, refcount structures, L1 or L2 tables, that
// its refcount is 1, that COPIED flags are set, and returns the logical
// offsets of the data clusters in order of their file offset.
func checkQCOW2Metadata(t *testing.T, meta []byte, fileSize int64) []int64 {
	t.Helper()
	be := binary.BigEndian
	const cs = 64 * kib
	if fileSize%cs != 0 {
		t.Fatalf("file size %d is not a whole number of clusters", fileSize)
	}
	total := fileSize / cs
	owner := make([]string, total)
	claim := func(c int64, what string) {
		if c <= 0 && what != "header" || c >= total {
			t.Fatalf("%s points to cluster %d outside the %d-cluster file", what, c, total)
		}
		if owner[c] != "" {
			t.Fatalf("cluster %d is used by %s and %s", c, owner[c], what)
		}
		owner[c] = what
	}
	u64 := func(off int64) uint64 {
		if off+8 > int64(len(meta)) {
			t.Fatalf("metadata read at %d beyond the kept %d bytes", off, len(meta))
		}
		return be.Uint64(meta[off:])
	}
	if be.Uint32(meta[20:]) != 16 || be.Uint32(meta[96:]) != 4 || be.Uint32(meta[4:]) != 3 {
		t.Fatal("want qcow2 v3, 64 KiB clusters, 16-bit refcounts")
	}
	size := int64(u64(24))
	claim(0, "header")

	rtOff, rtClusters := int64(u64(48)), int64(be.Uint32(meta[56:]))
	for c := range rtClusters {
		claim(rtOff/cs+c, "refcount table")
	}
	refcount := make([]uint16, total)
	for i := range rtClusters * cs / 8 {
		rb := int64(u64(rtOff + 8*i))
		if rb == 0 {
			continue
		}
		claim(rb/cs, fmt.Sprintf("refcount block %d", i))
		for j := range int64(cs / 2) {
			if c := i*cs/2 + j; c < total {
				refcount[c] = be.Uint16(meta[rb+2*j:])
			} else if be.Uint16(meta[rb+2*j:]) != 0 {
				t.Fatalf("refcount of cluster %d past the end of the file is not 0", c)
			}
		}
	}

	l1Size, l1Off := int64(be.Uint32(meta[36:])), int64(u64(40))
	if need := (size + cs*cs/8 - 1) / (cs * cs / 8); l1Size < need {
		t.Fatalf("L1 has %d entries, need %d", l1Size, need)
	}
	for c := range (l1Size*8 + cs - 1) / cs {
		claim(l1Off/cs+c, "L1 table")
	}
	type dataRef struct{ file, logical int64 }
	var data []dataRef
	for i := range l1Size {
		e := u64(l1Off + 8*i)
		if e == 0 {
			continue
		}
		if e>>63 != 1 {
			t.Fatalf("L1 entry %d lacks the COPIED flag", i)
		}
		l2 := int64(e & 0x00fffffffffffe00)
		claim(l2/cs, fmt.Sprintf("L2 table %d", i))
		for j := range int64(cs / 8) {
			d := u64(l2 + 8*j)
			if d == 0 {
				continue
			}
			if d>>63 != 1 || d&(1<<62) != 0 || d&1 != 0 {
				t.Fatalf("L2 entry %d/%d = %#x, want a plain COPIED data cluster", i, j, d)
			}
			logical := (i*cs/8 + j) * cs
			if logical >= size {
				t.Fatalf("L2 entry %d/%d maps a cluster past the disk's end", i, j)
			}
			claim(int64(d&0x00fffffffffffe00)/cs, fmt.Sprintf("data %d", logical))
			data = append(data, dataRef{int64(d & 0x00fffffffffffe00), logical})
		}
	}
	for c := range total {
		if owner[c] == "" {
			t.Fatalf("cluster %d of %d is not referenced (leaked)", c, total)
		}
		if refcount[c] != 1 {
			t.Fatalf("cluster %d (%s) has refcount %d, want 1", c, owner[c], refcount[c])
		}
	}
	logical := make([]int64, 0, len(data))
	for i, d := range data {
		if i > 0 && d.file <= data[i-1].file {
			t.Fatal("data clusters are not stored in logical order")
		}
		logical = append(logical, d.logical)
	}
	return logical
}

func TestQCOW2Layout(t *testing.T) {
	const cs = 64 * kib
	tests := []struct {
		name  string
		short bool // cheap enough for -short
		disk  patternDisk
	}{
		{"OneCluster", true, patternDisk{size: mib, data: [][2]int64{{5, 6}}}},
		{"SeveralL2Tables", true, patternDisk{size: 3 << 30, data: [][2]int64{
			{0, 512}, {512*mib - 512, 512*mib + 512}, {2 << 30, 2<<30 + 3*mib}, {3<<30 - 1, 3 << 30}}}},
		{"SeveralL1Clusters", true, patternDisk{size: 5 << 40, data: [][2]int64{
			{mib, 2 * mib}, {4 << 40, 4<<40 + cs}, {5<<40 - cs, 5 << 40}}}},
		// 2 GiB of data needs more than one 32768-entry refcount block.
		{"SeveralRefcountBlocks", false, patternDisk{size: 3 << 30, data: [][2]int64{{cs, 2<<30 + 10*mib}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if testing.Short() && !tc.short {
				t.Skip("writes 2 GiB through the qcow2 writer; skipped with -short")
			}
			plan, err := diskimage.PlanQCOW2(tc.disk, tc.disk.size)
			if err != nil {
				t.Fatal(err)
			}
			metaSize := plan.FileSize() - plan.DataClusters()*cs
			w := &prefixWriter{buf: make([]byte, metaSize)}
			if _, err := plan.WriteTo(w); err != nil {
				t.Fatal(err)
			}
			logical := checkQCOW2Metadata(t, w.buf, w.n)
			var want []int64
			for _, r := range tc.disk.data {
				for c := r[0] / cs * cs; c < r[1]; c += cs {
					if len(want) == 0 || want[len(want)-1] != c {
						want = append(want, c)
					}
				}
			}
			if len(logical) != len(want) {
				t.Fatalf("%d data clusters, want %d", len(logical), len(want))
			}
			for i := range want {
				if logical[i] != want[i] {
					t.Fatalf("data cluster %d maps logical %d, want %d", i, logical[i], want[i])
				}
			}
		})
	}
}
