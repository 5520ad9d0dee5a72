package diskimage_test

import (
	"bytes"
	"encoding/binary"
	"sync/atomic"
	"testing"
)

// countingReader counts the bytes read through it.
type countingReader struct {
	r *bytes.Reader
	n atomic.Int64
}

func (c *countingReader) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.n.Add(int64(n))
	return n, err
}

// storedBlocksQCOW2 builds a qcow2 image with 64 KiB clusters whose only
// cluster is compressed as a deflate stream of 6-byte stored blocks, the
// least compact valid encoding (the stream is nearly twice the cluster).
func storedBlocksQCOW2(tb testing.TB) (file, want []byte) {
	tb.Helper()
	be := binary.BigEndian
	const cs = 64 * kib
	want = make([]byte, cs)
	for i := range want {
		want[i] = byte(i*7 + 1)
	}
	var z bytes.Buffer
	for i := 0; i < cs; i += 6 {
		n := min(6, cs-i)
		final := byte(0)
		if i+n == cs {
			final = 1
		}
		z.WriteByte(final) // BFINAL, BTYPE=00 (stored), padding
		z.Write([]byte{byte(n), 0, ^byte(n), 0xFF})
		z.Write(want[i : i+n])
	}
	f := make([]byte, 3*cs)
	copy(f, "QFI\xfb")
	be.PutUint32(f[4:], 3)
	be.PutUint32(f[20:], 16)
	be.PutUint64(f[24:], cs)
	be.PutUint32(f[36:], 1)
	be.PutUint64(f[40:], cs) // L1 at cluster 1
	be.PutUint32(f[96:], 4)
	be.PutUint32(f[100:], 104)
	be.PutUint64(f[cs:], 2*cs|1<<63) // L2 at cluster 2
	// Compressed descriptor for 16 cluster bits: host offset in bits 0..53,
	// additional 512-byte sectors in bits 54..61.
	extra := uint64((z.Len()+511)/512 - 1)
	be.PutUint64(f[2*cs:], 1<<62|extra<<54|uint64(len(f)))
	f = append(f, z.Bytes()...)
	f = append(f, make([]byte, 512)...)
	return f, want
}

func TestCompressedClusterReadIsLinear(t *testing.T) {
	file, want := storedBlocksQCOW2(t)
	cr := &countingReader{r: bytes.NewReader(file)}
	img := mustOpenReader(t, cr, int64(len(file)))
	cr.n.Store(0)
	got := make([]byte, img.Size)
	if _, err := img.ReadAt(got, 0); err != nil {
		t.Fatal(err)
	}
	equalDisk(t, got, want)
	// go-qcow2reader restarts decompression after each short read and Go's
	// inflater returns at most 32 KiB per Read, so a 64 KiB cluster costs
	// two passes over its compressed bytes; more would mean reads got
	// quadratic in the cluster size.
	t.Logf("read %d bytes of the file", cr.n.Load())
	if n := cr.n.Load(); n > 3*int64(len(file)) {
		t.Errorf("reading one %d-byte cluster read %d bytes of a %d-byte file", len(want), n, len(file))
	}
}
