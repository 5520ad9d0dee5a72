package diskimage

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"sync"
	"time"
)

// VHD layout (Microsoft "Virtual Hard Disk Image Format Specification" 1.0).
// All fields are big-endian.
const (
	vhdCookie       = "conectix"
	vhdDynCookie    = "cxsparse"
	vhdFooterSize   = 512
	vhdDynHdrSize   = 1024
	vhdVersion      = 0x00010000
	vhdFeatures     = 0x00000002 // "reserved", must always be set
	vhdNoDataOffset = math.MaxUint64

	vhdTypeFixed        = 2
	vhdTypeDynamic      = 3
	vhdTypeDifferencing = 4

	vhdBATUnused = 0xFFFFFFFF

	// vhdMaxDynamicSize is Hyper-V's VHD limit, 2040 GiB; the block
	// table's 32-bit sector offsets cannot address much past 2 TiB anyway.
	vhdMaxDynamicSize = 2040 << 30
	// vhdMaxBlockSize bounds dynamic block sizes; Hyper-V uses 2 MiB, older
	// tools 512 KiB. It keeps cached sector bitmaps small.
	vhdMaxBlockSize = 256 << 20
)

// Footer field offsets.
const (
	vfFeatures   = 8
	vfVersion    = 12
	vfDataOffset = 16
	vfTimestamp  = 24
	vfCreatorApp = 28
	vfCreatorVer = 32
	vfCreatorOS  = 36
	vfOrigSize   = 40
	vfCurSize    = 48
	vfGeometry   = 56
	vfDiskType   = 60
	vfChecksum   = 64
	vfUniqueID   = 68
)

// Dynamic header field offsets.
const (
	vdTableOffset = 16
	vdVersion     = 24
	vdMaxEntries  = 28
	vdBlockSize   = 32
	vdChecksum    = 36
)

// vhdEpoch is the origin of VHD timestamps.
var vhdEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// vhdChecksum is the one's complement of the sum of all bytes of b except
// the 4-byte checksum field at sumAt.
func vhdChecksum(b []byte, sumAt int) uint32 {
	var s uint32
	for i, c := range b {
		if i >= sumAt && i < sumAt+4 {
			continue
		}
		s += uint32(c)
	}
	return ^s
}

// checkVHDFooter verifies the cookie and checksum of the footer f read at
// file offset off.
func checkVHDFooter(f []byte, off int64, format Format) error {
	if !bytes.HasPrefix(f, []byte(vhdCookie)) {
		return corruptf(format, off,
			"no VHD footer (cookie %q) here: the file is truncated or not a VHD; upload the whole file, or re-export it with `qemu-img convert -O vpc -o subformat=fixed,force_size`",
			vhdCookie)
	}
	want := binary.BigEndian.Uint32(f[vfChecksum:])
	if got := vhdChecksum(f, vfChecksum); got != want {
		return corruptf(format, off,
			"VHD footer checksum mismatch (stored 0x%08x, computed 0x%08x): the file is truncated, damaged or not a VHD; re-export it with `qemu-img convert -O vpc -o subformat=fixed,force_size`",
			want, got)
	}
	return nil
}

// checkVHDSize applies the size rules shared by fixed and dynamic VHDs.
func checkVHDSize(cur uint64, off int64, format Format) error {
	if cur == 0 {
		return corruptf(format, off+vfCurSize, "the VHD footer gives a disk size of 0 bytes; re-export the disk")
	}
	if cur%VHDAlignment != 0 {
		return misalignedf(format, off+vfCurSize,
			"the VHD's virtual size %d bytes is not a whole number of MiB, which Azure requires of VHDs; resize the disk to %d MiB (`qemu-img resize -f raw disk.raw %dM`) and convert it again with `qemu-img convert -O vpc -o subformat=fixed,force_size`",
			cur, (cur+VHDAlignment-1)/VHDAlignment, (cur+VHDAlignment-1)/VHDAlignment)
	}
	return nil
}

func openFixedVHD(r io.ReaderAt, size int64, foot []byte) (*Image, error) {
	off := size - vhdFooterSize
	if err := checkVHDFooter(foot, off, FormatVHDFixed); err != nil {
		return nil, err
	}
	switch t := binary.BigEndian.Uint32(foot[vfDiskType:]); t {
	case vhdTypeFixed:
	case vhdTypeDynamic, vhdTypeDifferencing:
		return nil, corruptf(FormatVHDDynamic, 0,
			"the footer at the end says this is a dynamic VHD (disk type %d) but the copy of the footer at offset 0 is missing: the start of the file is damaged; re-export it",
			t)
	default:
		return nil, corruptf(FormatVHDFixed, off+vfDiskType,
			"unknown VHD disk type %d (2 is fixed, 3 dynamic): the footer is damaged; re-export it with `qemu-img convert -O vpc -o subformat=fixed,force_size`", t)
	}
	cur := binary.BigEndian.Uint64(foot[vfCurSize:])
	if cur != uint64(off) {
		return nil, corruptf(FormatVHDFixed, off+vfCurSize,
			"the VHD footer says the disk is %d bytes but the file holds %d bytes before the footer: the file was truncated or padded; upload the whole file or re-export it",
			cur, off)
	}
	if err := checkVHDSize(cur, off, FormatVHDFixed); err != nil {
		return nil, err
	}
	return &Image{Format: FormatVHDFixed, Size: off, b: dense{r: r, format: FormatVHDFixed}}, nil
}

// dynamicVHD reads a dynamic VHD: a block allocation table (BAT) maps each
// block of logical content to a sector bitmap followed by the block's data;
// clear bitmap bits and unallocated blocks read as zeros.
type dynamicVHD struct {
	r          io.ReaderAt
	size       int64
	blockSize  int64
	bitmapSize int64
	bat        []uint32 // sector of each block's bitmap, or vhdBATUnused

	mu      sync.Mutex
	bitmaps map[int64][]byte // small cache of sector bitmaps by block
}

func openDynamicVHD(r io.ReaderAt, size int64) (*Image, error) {
	const f = FormatVHDDynamic
	if size < 2*vhdFooterSize+vhdDynHdrSize {
		return nil, corruptf(f, 0,
			"the file starts with a VHD footer copy but is only %d bytes, too short for a dynamic VHD: it is truncated; upload the whole file", size)
	}
	head := make([]byte, vhdFooterSize)
	if err := readFull(r, head, 0); err != nil {
		return nil, fmt.Errorf("open dynamic VHD: read footer copy: %w", err)
	}
	if err := checkVHDFooter(head, 0, f); err != nil {
		return nil, err
	}
	foot := make([]byte, vhdFooterSize)
	footOff := size - vhdFooterSize
	if err := readFull(r, foot, footOff); err != nil {
		return nil, fmt.Errorf("open dynamic VHD: read footer: %w", err)
	}
	switch t := binary.BigEndian.Uint32(head[vfDiskType:]); t {
	case vhdTypeDynamic:
	case vhdTypeFixed:
		// A footer at offset 0 of a fixed disk is content, not a copy.
		return openFixedVHD(r, size, foot)
	case vhdTypeDifferencing:
		return nil, unsupportedf(f, vfDiskType,
			"this is a differencing VHD whose content depends on a parent disk; merge it into a standalone disk first (`qemu-img convert -O vpc -o subformat=fixed,force_size child.vhd flat.vhd`)")
	default:
		return nil, corruptf(f, vfDiskType,
			"unknown VHD disk type %d (2 is fixed, 3 dynamic): the footer is damaged; re-export it", t)
	}
	if !bytes.HasPrefix(foot, []byte(vhdCookie)) {
		return nil, corruptf(f, footOff,
			"the dynamic VHD has no footer (cookie %q) in its last 512 bytes: the file is truncated; upload the whole file", vhdCookie)
	}
	if err := checkVHDFooter(foot, footOff, f); err != nil {
		return nil, err
	}
	cur := binary.BigEndian.Uint64(head[vfCurSize:])
	if binary.BigEndian.Uint32(foot[vfDiskType:]) != vhdTypeDynamic || binary.BigEndian.Uint64(foot[vfCurSize:]) != cur {
		return nil, corruptf(f, footOff,
			"the footer at the end disagrees with its copy at offset 0 (disk type or size): the file is damaged; re-export it")
	}
	if err := checkVHDSize(cur, 0, f); err != nil {
		return nil, err
	}
	if cur > vhdMaxDynamicSize {
		return nil, unsupportedf(f, vfCurSize,
			"the VHD's virtual size %d bytes exceeds the 2040 GiB the VHD format allows; use qcow2 or raw for larger disks", cur)
	}

	hdrOff := binary.BigEndian.Uint64(head[vfDataOffset:])
	if hdrOff < vhdFooterSize || hdrOff > uint64(footOff-vhdDynHdrSize) {
		return nil, corruptf(f, vfDataOffset,
			"the VHD footer points to a dynamic header at offset %d, outside the file's %d bytes: the file is truncated or damaged; re-export it", hdrOff, size)
	}
	hdr := make([]byte, vhdDynHdrSize)
	if err := readFull(r, hdr, int64(hdrOff)); err != nil {
		return nil, fmt.Errorf("open dynamic VHD: read dynamic header: %w", err)
	}
	if !bytes.HasPrefix(hdr, []byte(vhdDynCookie)) {
		return nil, corruptf(f, int64(hdrOff),
			"the VHD footer points to a dynamic header here, but it lacks the cookie %q: the file is damaged; re-export it", vhdDynCookie)
	}
	if want, got := binary.BigEndian.Uint32(hdr[vdChecksum:]), vhdChecksum(hdr, vdChecksum); want != got {
		return nil, corruptf(f, int64(hdrOff),
			"VHD dynamic header checksum mismatch (stored 0x%08x, computed 0x%08x): the file is damaged; re-export it", want, got)
	}
	if v := binary.BigEndian.Uint32(hdr[vdVersion:]); v != vhdVersion {
		return nil, unsupportedf(f, int64(hdrOff)+vdVersion,
			"unknown VHD dynamic header version 0x%08x (only 0x00010000 exists); convert the disk with qemu-img", v)
	}
	blockSize := int64(binary.BigEndian.Uint32(hdr[vdBlockSize:]))
	if blockSize < SectorSize || blockSize > vhdMaxBlockSize || blockSize&(blockSize-1) != 0 {
		return nil, corruptf(f, int64(hdrOff)+vdBlockSize,
			"VHD block size %d is not a power of two between 512 bytes and 256 MiB: the header is damaged; re-export the disk (Hyper-V and qemu-img use 2 MiB)", blockSize)
	}
	size64 := int64(cur)
	nblocks := (size64 + blockSize - 1) / blockSize
	if maxEntries := int64(binary.BigEndian.Uint32(hdr[vdMaxEntries:])); maxEntries < nblocks {
		return nil, corruptf(f, int64(hdrOff)+vdMaxEntries,
			"the VHD block table has %d entries but a %d-byte disk with %d-byte blocks needs %d: the header is damaged; re-export the disk", maxEntries, size64, blockSize, nblocks)
	}
	batOff := binary.BigEndian.Uint64(hdr[vdTableOffset:])
	if batOff < vhdFooterSize || batOff > uint64(footOff) || (uint64(footOff)-batOff)/4 < uint64(nblocks) {
		return nil, corruptf(f, int64(hdrOff)+vdTableOffset,
			"the VHD block table (offset %d, %d entries) does not fit in the file's %d bytes: the file is truncated; upload the whole file", batOff, nblocks, size)
	}
	raw := make([]byte, nblocks*4)
	if err := readFull(r, raw, int64(batOff)); err != nil {
		return nil, fmt.Errorf("open dynamic VHD: read block table: %w", err)
	}
	d := &dynamicVHD{
		r:          r,
		size:       size64,
		blockSize:  blockSize,
		bitmapSize: roundUp(blockSize/SectorSize/8, SectorSize),
		bat:        make([]uint32, nblocks),
		bitmaps:    make(map[int64][]byte),
	}
	for i := range d.bat {
		e := binary.BigEndian.Uint32(raw[4*i:])
		d.bat[i] = e
		if e == vhdBATUnused {
			continue
		}
		start := int64(e) * SectorSize
		end := start + d.bitmapSize + min(blockSize, size64-int64(i)*blockSize)
		if start < vhdFooterSize || end > footOff {
			return nil, corruptf(f, int64(batOff)+4*int64(i),
				"VHD block table entry %d (logical offset %d) points to file offset %d, but the block would end at %d, outside the data area [512, %d) of this %d-byte file: the file is truncated or damaged; upload the whole file or re-export it",
				i, int64(i)*blockSize, start, end, footOff, size)
		}
	}
	return &Image{Format: f, Size: size64, b: d}, nil
}

// maxCachedBitmaps bounds the bitmap cache (a 2 MiB block has a 512-byte
// bitmap, so the cache stays well under 1 MiB for common block sizes).
const maxCachedBitmaps = 64

func (d *dynamicVHD) bitmap(block int64) ([]byte, error) {
	d.mu.Lock()
	bm, ok := d.bitmaps[block]
	d.mu.Unlock()
	if ok {
		return bm, nil
	}
	bm = make([]byte, d.bitmapSize)
	if err := readFull(d.r, bm, int64(d.bat[block])*SectorSize); err != nil {
		return nil, fmt.Errorf("read dynamic VHD sector bitmap of block %d: %w", block, err)
	}
	d.mu.Lock()
	if len(d.bitmaps) >= maxCachedBitmaps {
		clear(d.bitmaps)
	}
	d.bitmaps[block] = bm
	d.mu.Unlock()
	return bm, nil
}

func sectorSet(bm []byte, s int64) bool {
	return bm[s/8]&(0x80>>(s%8)) != 0
}

func (d *dynamicVHD) readAt(p []byte, off int64) error {
	for len(p) > 0 {
		block, in := off/d.blockSize, off%d.blockSize
		n := min(int64(len(p)), d.blockSize-in)
		if err := d.readBlock(p[:n], block, in); err != nil {
			return err
		}
		p, off = p[n:], off+n
	}
	return nil
}

// readBlock fills p from block at in-block offset in, honouring the bitmap.
func (d *dynamicVHD) readBlock(p []byte, block, in int64) error {
	if d.bat[block] == vhdBATUnused {
		clear(p)
		return nil
	}
	bm, err := d.bitmap(block)
	if err != nil {
		return err
	}
	data := int64(d.bat[block])*SectorSize + d.bitmapSize
	// Walk runs of sectors with the same bitmap bit.
	pos, end := in, in+int64(len(p))
	for pos < end {
		s := pos / SectorSize
		set := sectorSet(bm, s)
		runEnd := (s + 1) * SectorSize
		for runEnd < end && sectorSet(bm, runEnd/SectorSize) == set {
			runEnd += SectorSize
		}
		runEnd = min(runEnd, end)
		chunk := p[pos-in : runEnd-in]
		if set {
			if err := readFull(d.r, chunk, data+pos); err != nil {
				return fmt.Errorf("read dynamic VHD block %d at file offset %d: %w", block, data+pos, err)
			}
		} else {
			clear(chunk)
		}
		pos = runEnd
	}
	return nil
}

func (d *dynamicVHD) extents(off, end int64, fn func(Extent) error) error {
	for block := off / d.blockSize; block*d.blockSize < end; block++ {
		e := Extent{Offset: block * d.blockSize, Length: d.blockSize, Allocated: d.bat[block] != vhdBATUnused}
		if err := fn(e); err != nil {
			return err
		}
	}
	return nil
}

// VHDOptions are the variable fields of a VHD footer. Injecting both makes
// an export byte-for-byte reproducible.
type VHDOptions struct {
	// Now returns the creation time stored in the footer; nil means time.Now.
	Now func() time.Time
	// UniqueID identifies the disk; all zeros means 16 random bytes from
	// crypto/rand.
	UniqueID [16]byte
}

// WriteFixedVHD streams a fixed VHD of the size bytes of logical content in
// r to w: the content followed by a 512-byte footer. size must be a positive
// whole number of MiB (Azure's rule), otherwise it returns a *FormatError
// wrapping ErrMisaligned. Ranges an ExtentReader reports unallocated are
// written as zeros without being read.
//
// The footer names creator application "win " (Hyper-V) on host OS "Wi2k",
// the pair Hyper-V and Azure write. Readers take the exact disk size from
// the footer for that creator; for others (qemu's "qemu", Virtual PC's
// "vpc ") qemu derives the size from the CHS geometry, which rounds it and
// would make the disk look smaller or larger than it is.
func WriteFixedVHD(w io.Writer, r io.ReaderAt, size int64, opts VHDOptions) error {
	if size <= 0 || size%VHDAlignment != 0 {
		return misalignedf(FormatVHDFixed, 0,
			"cannot write a %d-byte disk as a VHD: Azure requires VHD sizes to be a positive whole number of MiB; resize the disk to %d MiB first",
			size, max(1, (size+VHDAlignment-1)/VHDAlignment))
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	id := opts.UniqueID
	if id == [16]byte{} {
		if _, err := rand.Read(id[:]); err != nil {
			return fmt.Errorf("write fixed VHD: unique id: %w", err)
		}
	}
	if err := copyLogical(w, r, size); err != nil {
		return fmt.Errorf("write fixed VHD: %w", err)
	}
	if _, err := w.Write(fixedVHDFooter(size, now(), id)); err != nil {
		return fmt.Errorf("write fixed VHD footer: %w", err)
	}
	return nil
}

// FixedVHDFooter returns the 512-byte footer WriteFixedVHD appends to a
// disk of size bytes, for callers that serve raw content and footer from
// separate places (ranged downloads). size must be a whole number of MiB.
func FixedVHDFooter(size int64, opts VHDOptions) ([]byte, error) {
	if size <= 0 || size%VHDAlignment != 0 {
		return nil, misalignedf(FormatVHDFixed, 0, "a %d-byte disk cannot be a VHD: its size must be a positive whole number of MiB", size)
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	id := opts.UniqueID
	if id == [16]byte{} {
		if _, err := rand.Read(id[:]); err != nil {
			return nil, err
		}
	}
	return fixedVHDFooter(size, now(), id), nil
}

// fixedVHDFooter builds the footer of a fixed VHD of size bytes.
func fixedVHDFooter(size int64, t time.Time, id [16]byte) []byte {
	f := make([]byte, vhdFooterSize)
	be := binary.BigEndian
	copy(f, vhdCookie)
	be.PutUint32(f[vfFeatures:], vhdFeatures)
	be.PutUint32(f[vfVersion:], vhdVersion)
	be.PutUint64(f[vfDataOffset:], vhdNoDataOffset)
	be.PutUint32(f[vfTimestamp:], vhdTimestamp(t))
	copy(f[vfCreatorApp:], "win ")
	be.PutUint32(f[vfCreatorVer:], 0x000a0000) // 10.0, as Hyper-V on Windows Server 2016+
	copy(f[vfCreatorOS:], "Wi2k")
	be.PutUint64(f[vfOrigSize:], uint64(size))
	be.PutUint64(f[vfCurSize:], uint64(size))
	c, h, s := vhdGeometry(size / SectorSize)
	be.PutUint16(f[vfGeometry:], c)
	f[vfGeometry+2] = h
	f[vfGeometry+3] = s
	be.PutUint32(f[vfDiskType:], vhdTypeFixed)
	copy(f[vfUniqueID:], id[:])
	be.PutUint32(f[vfChecksum:], vhdChecksum(f, vfChecksum))
	return f
}

// vhdTimestamp converts t to seconds since 2000-01-01 UTC, clamped to the
// field's range.
func vhdTimestamp(t time.Time) uint32 {
	s := int64(t.Sub(vhdEpoch) / time.Second)
	return uint32(max(0, min(s, math.MaxUint32)))
}

// vhdGeometry is the CHS algorithm of the VHD specification (appendix
// "CHS Calculation"): cylinders, heads and sectors per track for a disk of
// totalSectors sectors, capped at 65535*16*255 sectors.
func vhdGeometry(totalSectors int64) (cylinders uint16, heads, sectorsPerTrack uint8) {
	totalSectors = min(totalSectors, 65535*16*255)
	var spt, hds, cth int64
	if totalSectors >= 65535*16*63 {
		spt, hds = 255, 16
		cth = totalSectors / spt
	} else {
		spt = 17
		cth = totalSectors / spt
		hds = max((cth+1023)/1024, 4)
		if cth >= hds*1024 || hds > 16 {
			spt, hds = 31, 16
			cth = totalSectors / spt
		}
		if cth >= hds*1024 {
			spt, hds = 63, 16
			cth = totalSectors / spt
		}
	}
	return uint16(cth / hds), uint8(hds), uint8(spt)
}
