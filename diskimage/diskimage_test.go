package diskimage_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"

	"github.com/lima-vm/go-qcow2reader/image/qcow2"

	"github.com/galleonhq/galleon/diskimage"
)

func TestOpenDetectsAndReads(t *testing.T) {
	raw := sparseDisk(t, 5*mib, 1)
	tests := []struct {
		name   string
		file   []byte
		format diskimage.Format
	}{
		{"Raw", raw, diskimage.FormatRaw},
		{"FixedVHD", fixedVHD(t, raw), diskimage.FormatVHDFixed},
		{"DynamicVHD", makeDynamicVHD(t, raw, 2*mib, nil).file, diskimage.FormatVHDDynamic},
		{"DynamicVHDSmallBlocks", makeDynamicVHD(t, raw, 512*kib, nil).file, diskimage.FormatVHDDynamic},
		{"QCOW2", qcow2Of(t, raw), diskimage.FormatQCOW2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			img := mustOpen(t, tc.file)
			if img.Format != tc.format {
				t.Errorf("Format = %q, want %q", img.Format, tc.format)
			}
			if img.Size != int64(len(raw)) {
				t.Fatalf("Size = %d, want %d", img.Size, len(raw))
			}
			equalDisk(t, readAll(t, img, img.Size), raw)
		})
	}
}

func TestReadAtBounds(t *testing.T) {
	raw := sparseDisk(t, 2*mib, 2)
	img := mustOpen(t, makeDynamicVHD(t, raw, 512*kib, nil).file)
	tests := []struct {
		name    string
		off     int64
		len     int
		wantN   int
		wantErr error
	}{
		{"Inside", 1000, 3000, 3000, nil},
		{"ToEnd", img.Size - 512, 512, 512, nil},
		{"PastEnd", img.Size - 100, 512, 100, io.EOF},
		{"AtEnd", img.Size, 10, 0, io.EOF},
		{"Beyond", img.Size + 4096, 10, 0, io.EOF},
		{"Empty", 0, 0, 0, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := make([]byte, tc.len)
			n, err := img.ReadAt(p, tc.off)
			if n != tc.wantN || !errors.Is(err, tc.wantErr) && err != tc.wantErr {
				t.Fatalf("ReadAt = %d, %v; want %d, %v", n, err, tc.wantN, tc.wantErr)
			}
			if n > 0 && !bytes.Equal(p[:n], raw[tc.off:tc.off+int64(n)]) {
				t.Fatal("content differs")
			}
		})
	}
	t.Run("NegativeOffset", func(t *testing.T) {
		if _, err := img.ReadAt(make([]byte, 1), -1); err == nil {
			t.Fatal("ReadAt(-1) succeeded")
		}
	})
}

func TestDynamicVHDSectorBitmap(t *testing.T) {
	// Sectors with a clear bitmap bit hold 0xAA in the file but must read
	// as zeros; the whole third block is unallocated.
	raw := make([]byte, 2*mib)
	for i := range 512 * kib {
		raw[i] = byte(i%251 + 1)
	}
	for i := mib; i < mib+512*kib; i++ {
		raw[i] = 7
	}
	// Sectors 1, 2 and 900 are in block 0; sector 1500 makes block 1
	// allocated although it reads as zeros.
	garbage := map[int64]bool{1: true, 2: true, 900: true, 1500: true}
	for s := range garbage {
		clear(raw[s*512 : (s+1)*512])
	}
	img := mustOpen(t, makeDynamicVHD(t, raw, 512*kib, garbage).file)
	equalDisk(t, readAll(t, img, img.Size), raw)

	var got []diskimage.Extent
	if err := img.Extents(0, img.Size, func(e diskimage.Extent) error {
		got = append(got, e)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want := []diskimage.Extent{
		{Offset: 0, Length: mib + 512*kib, Allocated: true},
		{Offset: mib + 512*kib, Length: 512 * kib},
	}
	if len(got) != len(want) {
		t.Fatalf("Extents = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("Extents = %+v, want %+v", got, want)
		}
	}
}

func TestExtentsAndAllocated(t *testing.T) {
	// 4 MiB disk with data only in [1 MiB, 1 MiB+10) and the last sector.
	raw := make([]byte, 4*mib)
	copy(raw[mib:], "0123456789")
	raw[len(raw)-1] = 1
	tests := []struct {
		name  string
		file  []byte
		dense bool // every range reports allocated
	}{
		{"Raw", raw, true},
		{"FixedVHD", fixedVHD(t, raw), true},
		{"DynamicVHD", makeDynamicVHD(t, raw, 512*kib, nil).file, false},
		{"QCOW2", qcow2Of(t, raw), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			img := mustOpen(t, tc.file)
			// Extents must tile the asked range exactly, clipped to Size.
			for _, r := range [][2]int64{{0, img.Size}, {100, 3 * mib}, {3*mib + 5, 10 * mib}} {
				pos := r[0]
				err := img.Extents(r[0], r[1], func(e diskimage.Extent) error {
					if e.Offset != pos || e.Length <= 0 {
						t.Fatalf("extent %+v does not continue at %d", e, pos)
					}
					pos += e.Length
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
				if want := min(r[0]+r[1], img.Size); pos != want {
					t.Fatalf("extents of (%d, %d) end at %d, want %d", r[0], r[1], pos, want)
				}
			}
			checks := []struct {
				off, len int64
				want     bool
			}{
				{mib + 3, 1, true},
				{0, 4 * mib, true},
				{img.Size - 512, 512, true},
				{2 * mib, 512 * kib, tc.dense},
				{0, 512 * kib, tc.dense},
			}
			for _, c := range checks {
				got, err := img.Allocated(c.off, c.len)
				if err != nil {
					t.Fatal(err)
				}
				if got != c.want {
					t.Errorf("Allocated(%d, %d) = %v, want %v", c.off, c.len, got, c.want)
				}
			}
		})
	}
}

func TestFixedVHDFooter(t *testing.T) {
	raw := sparseDisk(t, 8*mib, 3)
	file := fixedVHD(t, raw)
	if len(file) != len(raw)+512 {
		t.Fatalf("file is %d bytes, want %d", len(file), len(raw)+512)
	}
	equalDisk(t, file[:len(raw)], raw)
	f := file[len(raw):]
	be := binary.BigEndian
	checks := []struct {
		name      string
		got, want any
	}{
		{"Cookie", string(f[0:8]), "conectix"},
		{"Features", be.Uint32(f[8:]), uint32(2)},
		{"Version", be.Uint32(f[12:]), uint32(0x00010000)},
		{"DataOffset", be.Uint64(f[16:]), ^uint64(0)},
		{"Timestamp", be.Uint32(f[24:]), uint32(fixedNow().Unix() - 946684800)},
		{"CreatorApp", string(f[28:32]), "win "},
		{"HostOS", string(f[36:40]), "Wi2k"},
		{"OriginalSize", be.Uint64(f[40:]), uint64(len(raw))},
		{"CurrentSize", be.Uint64(f[48:]), uint64(len(raw))},
		// VHD spec CHS algorithm for 16384 sectors: 17 sectors/track,
		// 963 tracks, at least 4 heads, 963/4 = 240 cylinders.
		{"Cylinders", be.Uint16(f[56:]), uint16(240)},
		{"Heads", f[58], byte(4)},
		{"SectorsPerTrack", f[59], byte(17)},
		{"DiskType", be.Uint32(f[60:]), uint32(2)},
		{"Checksum", be.Uint32(f[64:]), vhdSum(f, 64)},
		{"UniqueID", f[68], byte(1)},
		{"Reserved", bytes.Count(f[85:], []byte{0}), 427},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if again := fixedVHD(t, raw); !bytes.Equal(again, file) {
		t.Error("same clock and unique id gave different bytes")
	}
}

func TestVHDGeometry(t *testing.T) {
	// Expected values worked by hand from the VHD spec's CHS algorithm.
	tests := []struct {
		name string
		size int64
		c    uint16
		h, s byte
	}{
		{"1MiB", 1 * mib, 30, 4, 17},          // 2048/17 = 120 tracks, at least 4 heads
		{"2GiB", 2 << 30, 4161, 16, 63},       // 17 and 31 sectors/track need > 1024 cylinders
		{"127GiB", 127 << 30, 65278, 16, 255}, // >= 65535*16*63 sectors
		{"3TiB", 3 << 40, 65535, 16, 255},     // capped at 65535*16*255 sectors
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out tailWriter
			err := diskimage.WriteFixedVHD(&out, zeroReader{}, tc.size, diskimage.VHDOptions{Now: fixedNow})
			if err != nil {
				t.Fatal(err)
			}
			if out.n != tc.size+512 {
				t.Fatalf("wrote %d bytes, want %d", out.n, tc.size+512)
			}
			f := out.tail[:]
			if c, h, s := binary.BigEndian.Uint16(f[56:]), f[58], f[59]; c != tc.c || h != tc.h || s != tc.s {
				t.Errorf("CHS = %d/%d/%d, want %d/%d/%d", c, h, s, tc.c, tc.h, tc.s)
			}
			if bytes.Equal(f[68:84], make([]byte, 16)) {
				t.Error("unique id is all zeros, want random")
			}
		})
	}
}

// zeroReader is an endless disk of zeros, all unallocated.
type zeroReader struct{}

func (zeroReader) ReadAt(p []byte, off int64) (int, error) {
	clear(p)
	return len(p), nil
}

func (zeroReader) Extents(off, length int64, fn func(diskimage.Extent) error) error {
	return fn(diskimage.Extent{Offset: off, Length: length})
}

// tailWriter counts bytes and keeps the last 512.
type tailWriter struct {
	n    int64
	tail [512]byte
}

func (w *tailWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	if len(p) >= 512 {
		copy(w.tail[:], p[len(p)-512:])
	} else {
		copy(w.tail[:], w.tail[len(p):])
		copy(w.tail[512-len(p):], p)
	}
	return len(p), nil
}

// discard counts bytes without keeping them.
type discard struct{ n int64 }

func (d *discard) Write(p []byte) (int, error) { d.n += int64(len(p)); return len(p), nil }

func TestWriteQCOW2(t *testing.T) {
	tests := []struct {
		name string
		raw  []byte
	}{
		{"Sparse", sparseDisk(t, 20*mib, 4)},
		{"PartialLastCluster", sparseDisk(t, 10*mib+3*512, 5)},
		{"AllZero", make([]byte, 3*mib)},
		{"OneSector", bytes.Repeat([]byte{9}, 512)},
		{"Dense", bytes.Repeat([]byte{1, 2, 3}, mib)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			plan, err := diskimage.PlanQCOW2(bytes.NewReader(tc.raw), int64(len(tc.raw)))
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			n, err := plan.WriteTo(&out)
			if err != nil {
				t.Fatal(err)
			}
			if n != plan.FileSize() || int64(out.Len()) != n {
				t.Fatalf("WriteTo = %d bytes, buffer %d, FileSize %d", n, out.Len(), plan.FileSize())
			}
			// Only clusters with data are stored.
			var wantData int64
			for c := 0; c < len(tc.raw); c += 64 * kib {
				if bytes.ContainsFunc(tc.raw[c:min(c+64*kib, len(tc.raw))], func(r rune) bool { return r != 0 }) {
					wantData++
				}
			}
			if plan.DataClusters() != wantData {
				t.Errorf("DataClusters = %d, want %d", plan.DataClusters(), wantData)
			}
			if meta := n - wantData*64*kib; meta < 4*64*kib || meta > 8*64*kib {
				t.Errorf("metadata takes %d bytes, want 4 to 8 clusters", meta)
			}

			// Read back with go-qcow2reader and with Open.
			ref, err := qcow2.Open(bytes.NewReader(out.Bytes()), nil)
			if err != nil {
				t.Fatalf("qcow2reader: %v", err)
			}
			if ref.Size() != int64(len(tc.raw)) {
				t.Fatalf("qcow2reader Size = %d, want %d", ref.Size(), len(tc.raw))
			}
			equalDisk(t, readAll(t, ref, ref.Size()), tc.raw)
			img := mustOpen(t, out.Bytes())
			equalDisk(t, readAll(t, img, img.Size), tc.raw)
		})
	}
}

// holeReader is an ExtentReader whose unallocated ranges must never be read.
type holeReader struct {
	t     *testing.T
	raw   []byte
	holes [][2]int64 // unallocated [start, end)
}

func (h holeReader) ReadAt(p []byte, off int64) (int, error) {
	// qcow2 decides per 64 KiB cluster, so a read may cross into a hole
	// from an allocated neighbour, but never lie wholly inside one.
	for _, hole := range h.holes {
		if off >= hole[0] && off+int64(len(p)) <= hole[1] {
			h.t.Errorf("read (%d, %d) lies in unallocated range %v", off, len(p), hole)
		}
	}
	return bytes.NewReader(h.raw).ReadAt(p, off)
}

func (h holeReader) Extents(off, length int64, fn func(diskimage.Extent) error) error {
	pos := off
	for _, hole := range h.holes {
		if pos < hole[0] {
			if err := fn(diskimage.Extent{Offset: pos, Length: hole[0] - pos, Allocated: true}); err != nil {
				return err
			}
		}
		if err := fn(diskimage.Extent{Offset: hole[0], Length: hole[1] - hole[0]}); err != nil {
			return err
		}
		pos = hole[1]
	}
	if end := off + length; pos < end {
		return fn(diskimage.Extent{Offset: pos, Length: end - pos, Allocated: true})
	}
	return nil
}

func TestWritersSkipUnallocated(t *testing.T) {
	raw := sparseDisk(t, 8*mib, 6)
	holes := [][2]int64{{mib, 3 * mib}, {5*mib + 512, 6 * mib}}
	for _, h := range holes {
		clear(raw[h[0]:h[1]])
	}
	r := holeReader{t: t, raw: raw, holes: holes}
	tests := []struct {
		name  string
		write func(w *bytes.Buffer) error
		read  func(b []byte) []byte
	}{
		{"Raw", func(w *bytes.Buffer) error { return diskimage.WriteRaw(w, r, int64(len(raw))) },
			func(b []byte) []byte { return b }},
		{"FixedVHD", func(w *bytes.Buffer) error {
			return diskimage.WriteFixedVHD(w, r, int64(len(raw)), diskimage.VHDOptions{})
		}, func(b []byte) []byte { return b[:len(b)-512] }},
		{"QCOW2", func(w *bytes.Buffer) error { return diskimage.WriteQCOW2(w, r, int64(len(raw))) },
			func(b []byte) []byte { img := mustOpen(t, b); return readAll(t, img, img.Size) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := tc.write(&out); err != nil {
				t.Fatal(err)
			}
			equalDisk(t, tc.read(out.Bytes()), raw)
		})
	}
}

func TestConvertBetweenFormats(t *testing.T) {
	// dynamic VHD -> qcow2 -> fixed VHD -> raw, each step reading the
	// previous step's *Image (so extents are used), content unchanged.
	raw := sparseDisk(t, 6*mib, 7)
	img := mustOpen(t, makeDynamicVHD(t, raw, 2*mib, nil).file)
	var q bytes.Buffer
	if err := diskimage.WriteQCOW2(&q, img, img.Size); err != nil {
		t.Fatal(err)
	}
	img = mustOpen(t, q.Bytes())
	var v bytes.Buffer
	if err := diskimage.WriteFixedVHD(&v, img, img.Size, diskimage.VHDOptions{Now: fixedNow}); err != nil {
		t.Fatal(err)
	}
	img = mustOpen(t, v.Bytes())
	var out bytes.Buffer
	if err := diskimage.WriteRaw(&out, img, img.Size); err != nil {
		t.Fatal(err)
	}
	equalDisk(t, out.Bytes(), raw)
}

func TestWriteRejectsSizes(t *testing.T) {
	tests := []struct {
		name  string
		write func() error
	}{
		{"RawOdd", func() error { return diskimage.WriteRaw(&discard{}, zeroReader{}, 1000) }},
		{"RawZero", func() error { return diskimage.WriteRaw(&discard{}, zeroReader{}, 0) }},
		{"QCOW2Odd", func() error { return diskimage.WriteQCOW2(&discard{}, zeroReader{}, 513) }},
		{"VHDNotMiB", func() error {
			return diskimage.WriteFixedVHD(&discard{}, zeroReader{}, mib+512, diskimage.VHDOptions{})
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.write()
			var fe *diskimage.FormatError
			if !errors.As(err, &fe) || !errors.Is(err, diskimage.ErrMisaligned) {
				t.Fatalf("err = %v, want a *FormatError wrapping ErrMisaligned", err)
			}
		})
	}
}

// failingWriter fails after n bytes.
type failingWriter struct{ n int }

var errDiskFull = errors.New("disk full")

func (f *failingWriter) Write(p []byte) (int, error) {
	if len(p) > f.n {
		w := f.n
		f.n = 0
		return w, errDiskFull
	}
	f.n -= len(p)
	return len(p), nil
}

func TestWriteErrorsPropagate(t *testing.T) {
	raw := sparseDisk(t, 4*mib, 8)
	r := bytes.NewReader(raw)
	plan, err := diskimage.PlanQCOW2(r, int64(len(raw)))
	if err != nil {
		t.Fatal(err)
	}
	for _, at := range []int{0, 100, 64 * kib * 3, int(plan.FileSize()) - 1} {
		if err := diskimage.WriteQCOW2(&failingWriter{n: at}, r, int64(len(raw))); !errors.Is(err, errDiskFull) {
			t.Errorf("WriteQCOW2 failing at %d: err = %v, want errDiskFull", at, err)
		}
		if err := diskimage.WriteFixedVHD(&failingWriter{n: at}, r, int64(len(raw)), diskimage.VHDOptions{}); !errors.Is(err, errDiskFull) {
			t.Errorf("WriteFixedVHD failing at %d: err = %v, want errDiskFull", at, err)
		}
	}
	if err := diskimage.WriteFixedVHD(&failingWriter{n: len(raw) + 10}, r, int64(len(raw)), diskimage.VHDOptions{}); !errors.Is(err, errDiskFull) {
		t.Errorf("WriteFixedVHD failing in the footer: err = %v, want errDiskFull", err)
	}
	// A reader shorter than the size it claims.
	if err := diskimage.WriteRaw(&discard{}, bytes.NewReader(raw[:mib]), int64(len(raw))); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("WriteRaw from a short reader: err = %v, want io.ErrUnexpectedEOF", err)
	}
}

func TestConcurrentReads(t *testing.T) {
	// io.ReaderAt allows parallel calls; the dynamic VHD bitmap cache and
	// the qcow2 reader must cope (run with -race).
	raw := sparseDisk(t, 8*mib, 15)
	tests := []struct {
		name string
		file []byte
	}{
		{"DynamicVHD", makeDynamicVHD(t, raw, 512*kib, nil).file},
		{"DynamicVHDManyBlocks", makeDynamicVHD(t, raw, 4*kib, nil).file}, // more blocks than the cache holds
		{"QCOW2", qcow2Of(t, raw)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			img := mustOpen(t, tc.file)
			var wg sync.WaitGroup
			errs := make(chan error, 4)
			for g := range 4 {
				wg.Go(func() {
					buf := make([]byte, 64*kib+512*(g+1))
					for i := range int64(64) {
						off := (i*7919*512 + int64(g)*4096) % img.Size
						n, err := img.ReadAt(buf, off)
						if err != nil && err != io.EOF {
							errs <- err
							return
						}
						if !bytes.Equal(buf[:n], raw[off:off+int64(n)]) {
							errs <- fmt.Errorf("goroutine %d: content differs at %d", g, off)
							return
						}
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
		})
	}
}
