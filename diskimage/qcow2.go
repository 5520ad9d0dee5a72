package diskimage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/lima-vm/go-qcow2reader/image/qcow2"
)

// qcow2 layout (QEMU docs/interop/qcow2.txt). All fields are big-endian.
const (
	qcow2Magic = "QFI\xfb"

	qhVersion          = 4
	qhBackingOffset    = 8
	qhClusterBits      = 20
	qhSize             = 24
	qhCryptMethod      = 32
	qhL1Size           = 36
	qhL1Offset         = 40
	qhRefTableOffset   = 48
	qhRefTableClusters = 56
	qhIncompatible     = 72
	qhRefcountOrder    = 96
	qhHeaderLength     = 100
	qhCompressionType  = 104

	qcow2V2HeaderSize = 72
	qcow2V3HeaderSize = 104

	qcow2MinClusterBits = 9
	qcow2MaxClusterBits = 21
	qcow2MaxL1Entries   = 32 << 20 / 8 // qemu's 32 MiB L1 limit
	qcow2OffsetMask     = 0x00fffffffffffe00
	qcow2Copied         = 1 << 63 // refcount is exactly 1

	// Incompatible feature bits.
	qcow2Dirty          = 1 << 0
	qcow2Corrupt        = 1 << 1
	qcow2ExternalData   = 1 << 2
	qcow2CompressionBit = 1 << 3
	qcow2ExtendedL2     = 1 << 4
)

// qcow2Image reads qcow2 content through go-qcow2reader. Its own copy of
// the L1 table lets Extents skip unallocated 512 MiB (for 64 KiB clusters)
// stretches without asking the library cluster by cluster.
type qcow2Image struct {
	img         *qcow2.Qcow2
	l1          []uint64 // the entries that cover the virtual size
	clusterSize int64
	l1Span      int64 // logical bytes one L1 entry maps
	size        int64
}

func openQCOW2(r io.ReaderAt, fileSize int64) (*Image, error) {
	const f = FormatQCOW2
	hdr := make([]byte, qcow2V3HeaderSize+8)
	n, err := r.ReadAt(hdr, 0)
	if n < len(hdr) && err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("open qcow2: read header: %w", err)
	}
	hdr = hdr[:min(int64(n), fileSize)]
	if len(hdr) < qcow2V2HeaderSize {
		return nil, corruptf(f, 0, "the file starts with the qcow2 magic but is only %d bytes, shorter than a qcow2 header: it is truncated; upload the whole file", len(hdr))
	}
	be := binary.BigEndian
	version := be.Uint32(hdr[qhVersion:])
	if version != 2 && version != 3 {
		return nil, unsupportedf(f, qhVersion, "qcow2 version %d is not supported (2 and 3 are); convert it with `qemu-img convert -O qcow2 -o compat=1.1`", version)
	}
	clusterBits := be.Uint32(hdr[qhClusterBits:])
	if clusterBits < qcow2MinClusterBits || clusterBits > qcow2MaxClusterBits {
		return nil, corruptf(f, qhClusterBits, "qcow2 cluster_bits %d is outside qemu's range 9..21: the header is damaged; re-export the image", clusterBits)
	}
	cs := int64(1) << clusterBits
	if version == 3 {
		if len(hdr) < qcow2V3HeaderSize {
			return nil, corruptf(f, 0, "the qcow2 v3 header needs 104 bytes but the file has %d: it is truncated; upload the whole file", len(hdr))
		}
		if hl := int64(be.Uint32(hdr[qhHeaderLength:])); hl < qcow2V3HeaderSize || hl > cs || hl%8 != 0 {
			return nil, corruptf(f, qhHeaderLength, "qcow2 header_length %d is invalid (a multiple of 8 from 104 to the cluster size): the header is damaged; re-export the image", hl)
		}
	}
	if m := be.Uint32(hdr[qhCryptMethod:]); m != 0 {
		return nil, unsupportedf(f, qhCryptMethod, "the qcow2 image is encrypted (crypt_method %d); decrypt it into a plain image with qemu-img convert first", m)
	}
	if be.Uint64(hdr[qhBackingOffset:]) != 0 {
		return nil, unsupportedf(f, qhBackingOffset, "the qcow2 image is an overlay whose content depends on a backing file; flatten it first (`qemu-img convert -O qcow2 overlay.qcow2 flat.qcow2`)")
	}
	if version == 3 {
		inc := be.Uint64(hdr[qhIncompatible:])
		switch {
		case inc&qcow2Corrupt != 0:
			return nil, corruptf(f, qhIncompatible, "qemu marked this qcow2 image corrupt; repair it with `qemu-img check -r all` and upload it again")
		case inc&qcow2ExternalData != 0:
			return nil, unsupportedf(f, qhIncompatible, "the qcow2 image keeps its data in an external file; convert it to a self-contained image (`qemu-img convert -O qcow2`)")
		case inc&qcow2ExtendedL2 != 0:
			return nil, unsupportedf(f, qhIncompatible, "the qcow2 image uses extended L2 entries (subclusters); convert it without them (`qemu-img convert -O qcow2 -o extended_l2=off`)")
		case inc&^(qcow2Dirty|qcow2CompressionBit) != 0:
			return nil, unsupportedf(f, qhIncompatible, "the qcow2 image uses unknown incompatible features 0x%x; convert it with `qemu-img convert -O qcow2`", inc)
		}
		if inc&qcow2CompressionBit != 0 {
			if len(hdr) <= qhCompressionType || be.Uint32(hdr[qhHeaderLength:]) <= qhCompressionType {
				return nil, corruptf(f, qhHeaderLength, "the qcow2 header announces a compression type but is too short to hold it: the header is damaged; re-export the image")
			}
			if ct := hdr[qhCompressionType]; ct != 0 {
				return nil, unsupportedf(f, qhCompressionType, "the qcow2 image is compressed with zstd (compression type %d), which is not supported; convert it with `qemu-img convert -O qcow2 -c -o compression_type=zlib` or without -c", ct)
			}
		}
	}
	vsize := be.Uint64(hdr[qhSize:])
	if vsize == 0 {
		return nil, corruptf(f, qhSize, "the qcow2 virtual size is 0 bytes; re-export the disk")
	}
	if vsize%SectorSize != 0 {
		return nil, misalignedf(f, qhSize, "the qcow2 virtual size %d bytes is not a multiple of the 512-byte sector size; resize the disk (`qemu-img resize`) and export it again", vsize)
	}
	l2Entries := uint64(cs / 8)
	clusters := (vsize + uint64(cs) - 1) / uint64(cs) // vsize < 2^64, cs >= 512: no overflow
	need := (clusters + l2Entries - 1) / l2Entries
	l1Size := uint64(be.Uint32(hdr[qhL1Size:]))
	if need > qcow2MaxL1Entries || vsize > 1<<62 {
		return nil, unsupportedf(f, qhSize, "the qcow2 virtual size %d bytes is larger than qemu supports for %d-byte clusters", vsize, cs)
	}
	if l1Size < need || l1Size > qcow2MaxL1Entries {
		return nil, corruptf(f, qhL1Size, "the qcow2 L1 table has %d entries but a %d-byte disk with %d-byte clusters needs %d (at most %d allowed): the header is damaged; re-export the image", l1Size, vsize, cs, need, qcow2MaxL1Entries)
	}
	l1Off := be.Uint64(hdr[qhL1Offset:])
	if l1Off == 0 || l1Off%uint64(cs) != 0 || l1Off > uint64(fileSize) || uint64(fileSize)-l1Off < l1Size*8 {
		return nil, corruptf(f, qhL1Offset, "the qcow2 L1 table (offset %d, %d entries) is misaligned or past the end of the %d-byte file: the file is truncated or damaged; upload the whole file", l1Off, l1Size, fileSize)
	}
	raw := make([]byte, need*8)
	if err := readFull(r, raw, int64(l1Off)); err != nil {
		return nil, fmt.Errorf("open qcow2: read L1 table: %w", err)
	}
	q := &qcow2Image{
		l1:          make([]uint64, need),
		clusterSize: cs,
		l1Span:      int64(l2Entries) * cs,
		size:        int64(vsize),
	}
	for i := range q.l1 {
		e := be.Uint64(raw[8*i:]) & qcow2OffsetMask
		q.l1[i] = e
		if e != 0 && (e%uint64(cs) != 0 || e > uint64(fileSize) || uint64(fileSize)-e < uint64(cs)) {
			return nil, corruptf(f, int64(l1Off)+8*int64(i), "qcow2 L1 entry %d points to an L2 table at offset %d, misaligned or past the end of the %d-byte file: the file is truncated or damaged; upload the whole file or check it with `qemu-img check`", i, e, fileSize)
		}
	}
	// Everything the library trusts has been checked; no backing file means
	// the nil opener is never called.
	img, err := qcow2.Open(r, nil)
	if err != nil {
		return nil, corruptf(f, 0, "cannot read the qcow2 image (%v); check it with `qemu-img check`", err)
	}
	if err := img.Readable(); err != nil {
		return nil, unsupportedf(f, 0, "cannot read the qcow2 image (%v); convert it with `qemu-img convert -O qcow2`", err)
	}
	q.img = img
	return &Image{Format: f, Size: int64(vsize), b: q}, nil
}

func (q *qcow2Image) readAt(p []byte, off int64) error {
	// go-qcow2reader v0.7.1 stops with io.EOF after a compressed cluster
	// whose deflate stream ends together with the cluster, although it read
	// the cluster completely; so resume after any progress and fail only on
	// a read that makes none.
	for len(p) > 0 {
		n, err := q.img.ReadAt(p, off)
		if n == len(p) {
			return nil
		}
		if n <= 0 {
			return corruptf(FormatQCOW2, off, "cannot read logical offset %d (%v): the image is truncated or damaged; check it with `qemu-img check`", off, err)
		}
		p, off = p[n:], off+int64(n)
	}
	return nil
}

func (q *qcow2Image) extents(off, end int64, fn func(Extent) error) error {
	for i := off / q.l1Span; i*q.l1Span < end; i++ {
		lo, hi := max(off, i*q.l1Span), min(end, (i+1)*q.l1Span)
		if q.l1[i] == 0 {
			if err := fn(Extent{Offset: lo, Length: hi - lo}); err != nil {
				return err
			}
			continue
		}
		// The library wants cluster-aligned starts and ends within Size.
		pos := lo / q.clusterSize * q.clusterSize
		stop := min(roundUp(hi, q.clusterSize), q.size)
		for pos < stop {
			e, err := q.img.Extent(pos, stop-pos)
			if err != nil {
				return corruptf(FormatQCOW2, pos, "cannot map logical offset %d (%v): the image is damaged; check it with `qemu-img check`", pos, err)
			}
			if e.Start != pos || e.Length <= 0 || e.Length > stop-pos {
				return corruptf(FormatQCOW2, pos, "the qcow2 reader mapped logical offset %d to an invalid extent (%d, %d)", pos, e.Start, e.Length)
			}
			if err := fn(Extent{Offset: pos, Length: e.Length, Allocated: !e.Zero}); err != nil {
				return err
			}
			pos += e.Length
		}
	}
	return nil
}

// qcow2ClusterBits is the cluster size of images WriteQCOW2 produces: 64 KiB,
// qemu's default.
const qcow2ClusterBits = 16

// QCOW2Plan is the layout of a qcow2 image of some logical content, computed
// by a first pass over it, so the image can then be written front to back in
// one sequential pass (metadata first, then data clusters in logical order).
type QCOW2Plan struct {
	r    io.ReaderAt
	size int64

	data  []uint64 // bitmap: cluster i holds non-zero data
	nData int64

	l1Entries  int64
	l1Clusters int64
	rtClusters int64 // refcount table
	rbClusters int64 // refcount blocks
	nL2        int64
	total      int64 // clusters in the file
}

// PlanQCOW2 reads the size bytes of logical content in r to find the 64 KiB
// clusters holding non-zero data and lays out a qcow2 v3 image of them.
// Ranges an ExtentReader reports unallocated are not read. size must be a
// positive multiple of 512. r must not change until the plan is written.
func PlanQCOW2(r io.ReaderAt, size int64) (*QCOW2Plan, error) {
	if err := checkWriteSize(FormatQCOW2, size); err != nil {
		return nil, err
	}
	const cs = 1 << qcow2ClusterBits
	nClusters := (size + cs - 1) / cs
	p := &QCOW2Plan{r: r, size: size, data: make([]uint64, (nClusters+63)/64)}
	buf := make([]byte, chunkSize)
	err := walkExtents(r, size, func(e Extent) error {
		if !e.Allocated {
			return nil
		}
		start := e.Offset / cs * cs
		end := min(roundUp(e.Offset+e.Length, cs), size)
		for off := start; off < end; {
			n := min(end-off, chunkSize)
			b := buf[:n]
			if err := readFull(r, b, off); err != nil {
				return fmt.Errorf("read logical offset %d: %w", off, err)
			}
			for c := int64(0); c < n; c += cs {
				if !isZero(b[c:min(c+cs, n)]) {
					i := (off + c) / cs
					if p.data[i/64]&(1<<(i%64)) == 0 {
						p.data[i/64] |= 1 << (i % 64)
						p.nData++
					}
				}
			}
			off += n
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("plan qcow2: %w", err)
	}

	const l2Entries = cs / 8
	p.l1Entries = max(1, (nClusters+l2Entries-1)/l2Entries)
	p.l1Clusters = (p.l1Entries*8 + cs - 1) / cs
	for i := range p.l1Entries {
		if p.l2Used(i) {
			p.nL2++
		}
	}
	// Refcount blocks cover every cluster, themselves and the refcount table
	// included, so grow them until they cover the total.
	const perBlock = cs / 2 // 16-bit refcounts
	fixed := 1 + p.l1Clusters + p.nL2 + p.nData
	p.rbClusters = (fixed + perBlock - 1) / perBlock
	for {
		p.rtClusters = (p.rbClusters*8 + cs - 1) / cs
		p.total = fixed + p.rtClusters + p.rbClusters
		if need := (p.total + perBlock - 1) / perBlock; need > p.rbClusters {
			p.rbClusters = need
			continue
		}
		return p, nil
	}
}

// l2Used reports whether L1 entry i maps any data cluster. One L2 table maps
// 8192 clusters, 128 bitmap words.
func (p *QCOW2Plan) l2Used(i int64) bool {
	const words = (1 << qcow2ClusterBits) / 8 / 64
	for _, w := range p.data[min(i*words, int64(len(p.data))):min((i+1)*words, int64(len(p.data)))] {
		if w != 0 {
			return true
		}
	}
	return false
}

// FileSize returns the size in bytes of the qcow2 file WriteTo writes, for a
// Content-Length header.
func (p *QCOW2Plan) FileSize() int64 { return p.total << qcow2ClusterBits }

// DataClusters returns how many 64 KiB clusters hold data.
func (p *QCOW2Plan) DataClusters() int64 { return p.nData }

// countWriter counts bytes written through it.
type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}

// WriteTo writes the planned qcow2 image to w front to back, reading the data
// clusters from the plan's reader a second time. It implements io.WriterTo.
func (p *QCOW2Plan) WriteTo(w io.Writer) (int64, error) {
	cw := &countWriter{w: w}
	err := p.write(cw)
	if err == nil && cw.n != p.FileSize() {
		err = fmt.Errorf("wrote %d bytes but planned %d", cw.n, p.FileSize())
	}
	if err != nil {
		return cw.n, fmt.Errorf("write qcow2: %w", err)
	}
	return cw.n, nil
}

func (p *QCOW2Plan) write(w io.Writer) error {
	const cs = 1 << qcow2ClusterBits
	be := binary.BigEndian
	cl := make([]byte, cs)
	emit := func() error {
		_, err := w.Write(cl)
		clear(cl)
		return err
	}
	rtStart := int64(1)
	rbStart := rtStart + p.rtClusters
	l1Start := rbStart + p.rbClusters
	l2Start := l1Start + p.l1Clusters
	dataStart := l2Start + p.nL2

	// Header.
	copy(cl, qcow2Magic)
	be.PutUint32(cl[qhVersion:], 3)
	be.PutUint32(cl[qhClusterBits:], qcow2ClusterBits)
	be.PutUint64(cl[qhSize:], uint64(p.size))
	be.PutUint32(cl[qhL1Size:], uint32(p.l1Entries))
	be.PutUint64(cl[qhL1Offset:], uint64(l1Start*cs))
	be.PutUint64(cl[qhRefTableOffset:], uint64(rtStart*cs))
	be.PutUint32(cl[qhRefTableClusters:], uint32(p.rtClusters))
	be.PutUint32(cl[qhRefcountOrder:], 4)
	be.PutUint32(cl[qhHeaderLength:], qcow2V3HeaderSize)
	// The zeros after the header are the end-of-extensions marker.
	if err := emit(); err != nil {
		return err
	}

	// Refcount table, then blocks: every cluster of the file has refcount 1.
	if err := emitTable(w, cl, p.rtClusters, p.rbClusters, func(i int64) uint64 {
		return uint64((rbStart + i) * cs)
	}); err != nil {
		return err
	}
	for b := range p.rbClusters {
		for j := range int64(cs / 2) {
			if b*cs/2+j < p.total {
				be.PutUint16(cl[2*j:], 1)
			}
		}
		if err := emit(); err != nil {
			return err
		}
	}

	// L1 table: entry i points to the i-th used L2 table.
	l2 := l2Start
	if err := emitTable(w, cl, p.l1Clusters, p.l1Entries, func(i int64) uint64 {
		if !p.l2Used(i) {
			return 0
		}
		l2++
		return uint64((l2-1)*cs) | qcow2Copied
	}); err != nil {
		return err
	}

	// L2 tables: data clusters are stored in logical order.
	next := dataStart
	for i := range p.l1Entries {
		if !p.l2Used(i) {
			continue
		}
		for j := range int64(cs / 8) {
			if c := i*cs/8 + j; p.hasData(c) {
				be.PutUint64(cl[8*j:], uint64(next*cs)|qcow2Copied)
				next++
			}
		}
		if err := emit(); err != nil {
			return err
		}
	}

	// Data clusters, read in runs of up to chunkSize.
	buf := make([]byte, chunkSize)
	nClusters := (p.size + cs - 1) / cs
	for c := int64(0); c < nClusters; {
		if !p.hasData(c) {
			c++
			continue
		}
		run := int64(1)
		for c+run < nClusters && run < chunkSize/cs && p.hasData(c+run) {
			run++
		}
		off := c * cs
		n := min(run*cs, p.size-off)
		b := buf[:run*cs]
		if err := readFull(p.r, b[:n], off); err != nil {
			return fmt.Errorf("read logical offset %d: %w", off, err)
		}
		clear(b[n:]) // the tail of a last, partial cluster
		if _, err := w.Write(b); err != nil {
			return err
		}
		c += run
	}
	return nil
}

// hasData reports whether cluster c holds data; clusters past the end of
// the disk (the tail of the last L2 table) do not.
func (p *QCOW2Plan) hasData(c int64) bool {
	return c/64 < int64(len(p.data)) && p.data[c/64]&(1<<(c%64)) != 0
}

// emitTable writes n 8-byte big-endian entries from entry(i) into clusters
// clusters, zero-padded.
func emitTable(w io.Writer, cl []byte, clusters, n int64, entry func(int64) uint64) error {
	per := int64(len(cl) / 8)
	for c := range clusters {
		for j := range per {
			if i := c*per + j; i < n {
				binary.BigEndian.PutUint64(cl[8*j:], entry(i))
			}
		}
		if _, err := w.Write(cl); err != nil {
			return err
		}
		clear(cl)
	}
	return nil
}

// WriteQCOW2 streams a qcow2 v3 image (64 KiB clusters, 16-bit refcounts,
// no compression) of the size bytes of logical content in r to w. All-zero
// clusters are left unallocated. It reads r twice: PlanQCOW2 finds the data
// clusters, then the image is written front to back. Use PlanQCOW2 directly
// to learn the file size before writing.
func WriteQCOW2(w io.Writer, r io.ReaderAt, size int64) error {
	p, err := PlanQCOW2(r, size)
	if err != nil {
		return err
	}
	_, err = p.WriteTo(w)
	return err
}
