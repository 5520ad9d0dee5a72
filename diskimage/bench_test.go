package diskimage_test

import (
	"bytes"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/galleonhq/galleon/diskimage"
)

// benchDisk is 64 MiB where one 256 KiB chunk in four holds random data
// and the rest is zeros: about what a fresh OS image looks like.
func benchDisk(b *testing.B) []byte {
	b.Helper()
	d := make([]byte, 64*mib)
	rng := rand.NewChaCha8([32]byte{42})
	for off := 0; off < len(d); off += mib {
		_, _ = rng.Read(d[off : off+256*kib])
	}
	return d
}

func readSequential(b *testing.B, r io.ReaderAt, size int64, buf []byte) {
	for off := int64(0); off < size; off += int64(len(buf)) {
		if _, err := r.ReadAt(buf, off); err != nil && err != io.EOF {
			b.Fatal(err)
		}
	}
}

func BenchmarkReadFixedVHD(b *testing.B) {
	raw := benchDisk(b)
	img := mustOpen(b, fixedVHD(b, raw))
	buf := make([]byte, mib)
	b.SetBytes(img.Size)
	for b.Loop() {
		readSequential(b, img, img.Size, buf)
	}
}

func BenchmarkReadDynamicVHD(b *testing.B) {
	raw := benchDisk(b)
	img := mustOpen(b, makeDynamicVHD(b, raw, 2*mib, nil).file)
	buf := make([]byte, mib)
	b.SetBytes(img.Size)
	for b.Loop() {
		readSequential(b, img, img.Size, buf)
	}
}

func BenchmarkReadQCOW2(b *testing.B) {
	raw := benchDisk(b)
	img := mustOpen(b, qcow2Of(b, raw))
	buf := make([]byte, mib)
	b.SetBytes(img.Size)
	for b.Loop() {
		readSequential(b, img, img.Size, buf)
	}
}

func BenchmarkWriteQCOW2(b *testing.B) {
	raw := benchDisk(b)
	r := bytes.NewReader(raw)
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if err := diskimage.WriteQCOW2(io.Discard, r, int64(len(raw))); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWriteFixedVHD(b *testing.B) {
	raw := benchDisk(b)
	r := bytes.NewReader(raw)
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if err := diskimage.WriteFixedVHD(io.Discard, r, int64(len(raw)), diskimage.VHDOptions{Now: fixedNow}); err != nil {
			b.Fatal(err)
		}
	}
}
