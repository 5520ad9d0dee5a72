package diskimage_test

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"io"
	"testing"

	qlog "github.com/lima-vm/go-qcow2reader/log"

	"github.com/galleonhq/galleon/diskimage"
)

// tinyQCOW2 builds a qcow2 v3 image with 512-byte clusters (so fuzz seeds
// stay small): a 32 KiB disk whose cluster 0 is stored plainly, cluster 1
// deflate-compressed, cluster 2 flagged all-zero, the rest unallocated.
func tinyQCOW2(tb testing.TB) []byte {
	tb.Helper()
	be := binary.BigEndian
	const cs = 512
	f := make([]byte, 4*cs)
	copy(f, "QFI\xfb")
	be.PutUint32(f[4:], 3)
	be.PutUint32(f[20:], 9)
	be.PutUint64(f[24:], 64*cs)
	be.PutUint32(f[36:], 1)
	be.PutUint64(f[40:], cs) // L1 at cluster 1
	be.PutUint32(f[96:], 4)
	be.PutUint32(f[100:], 104)
	be.PutUint64(f[cs:], 2*cs|1<<63)   // L2 at cluster 2
	be.PutUint64(f[2*cs:], 3*cs|1<<63) // data at cluster 3
	be.PutUint64(f[2*cs+16:], 1)       // cluster 2: all zero
	for i := 3 * cs; i < 4*cs; i++ {   // cluster 0's content
		f[i] = byte(i)
	}
	var z bytes.Buffer
	w, _ := flate.NewWriter(&z, flate.BestCompression)
	_, _ = w.Write(bytes.Repeat([]byte("galleon!"), cs/8))
	_ = w.Close()
	// Compressed descriptor for 9 cluster bits: offset in bits 0..60,
	// additional sectors in bit 61.
	be.PutUint64(f[2*cs+8:], 1<<62|uint64(len(f)))
	return append(f, z.Bytes()...)
}

func TestTinyQCOW2Seed(t *testing.T) {
	// The hand-made seed is a valid image, so fuzzing starts from real
	// structures, including a compressed cluster.
	img := mustOpen(t, tinyQCOW2(t))
	want := make([]byte, img.Size)
	for i := range 512 {
		want[i] = byte(3*512 + i)
	}
	copy(want[512:], bytes.Repeat([]byte("galleon!"), 64))
	equalDisk(t, readAll(t, img, img.Size), want)
}

func FuzzOpen(f *testing.F) {
	qlog.SetWarnFunc(nil) // the library warns about odd headers on stderr
	raw := sparseDisk(f, mib, 14)
	f.Add(make([]byte, 1024))
	f.Add(tinyQCOW2(f))
	f.Add(makeDynamicVHD(f, raw[:mib], 4*kib, nil).file)
	f.Add(makeDynamicVHD(f, make([]byte, mib), 512, nil).file)
	f.Add(fixedVHD(f, make([]byte, mib)))
	f.Add([]byte("QFI\xfb\x00\x00\x00\x03"))
	f.Add([]byte("conectix"))
	f.Fuzz(func(t *testing.T, data []byte) {
		img, err := diskimage.Open(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			var fe *diskimage.FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("Open err = %v (%T), want a *FormatError", err, err)
			}
			return
		}
		if img.Size <= 0 || img.Size%512 != 0 {
			t.Fatalf("Size = %d, want a positive multiple of 512", img.Size)
		}
		p := make([]byte, 4096)
		for _, off := range []int64{0, 1, img.Size / 2, img.Size - 4096, img.Size - 1, img.Size, img.Size + 1} {
			if off < 0 {
				continue
			}
			n, err := img.ReadAt(p, off)
			if n == len(p) || err == io.EOF && n == int(max(0, min(int64(len(p)), img.Size-off))) {
				continue
			}
			var fe *diskimage.FormatError
			if err == nil || !errors.As(err, &fe) {
				t.Fatalf("ReadAt(%d) = %d, %v: want the whole buffer, io.EOF at the end, or a *FormatError", off, n, err)
			}
		}
		count := 0
		pos := int64(0)
		err = img.Extents(0, img.Size, func(e diskimage.Extent) error {
			if e.Offset != pos || e.Length <= 0 {
				t.Fatalf("extent %+v does not continue at %d", e, pos)
			}
			pos += e.Length
			if count++; count > 1000 {
				return io.ErrShortBuffer // enough
			}
			return nil
		})
		var fe *diskimage.FormatError
		if err != nil && err != io.ErrShortBuffer && !errors.As(err, &fe) {
			t.Fatalf("Extents err = %v", err)
		}
	})
}
