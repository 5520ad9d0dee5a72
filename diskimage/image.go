package diskimage

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// Format names a disk image file format.
type Format string

// The formats Open detects.
const (
	FormatRaw        Format = "raw"
	FormatVHDFixed   Format = "vhd-fixed"
	FormatVHDDynamic Format = "vhd-dynamic"
	FormatQCOW2      Format = "qcow2"
)

// SectorSize is the unit every disk size must be a multiple of.
const SectorSize = 512

// VHDAlignment is the unit a VHD's virtual size must be a multiple of: Azure
// refuses VHDs whose size is not a whole number of MiB.
const VHDAlignment = 1 << 20

// Extent is a run of an image's logical content with one allocation state.
type Extent struct {
	Offset int64 // logical offset of the first byte
	Length int64 // bytes in the run, > 0
	// Allocated is false when the run is known to read as zeros, so it need
	// not be read. True means it may hold data; it can still read as zeros.
	Allocated bool
}

// ExtentReader is an io.ReaderAt over logical disk content that can also say
// which ranges are allocated. *Image implements it; the writers use it to
// skip unallocated ranges without reading them.
type ExtentReader interface {
	io.ReaderAt
	// Extents calls fn for consecutive extents covering [off, off+length),
	// stopping at the first error fn returns and returning it.
	Extents(off, length int64, fn func(Extent) error) error
}

// backend reads one format. Callers guarantee 0 <= off, off+len(p) <= Size
// and off < end <= Size.
type backend interface {
	readAt(p []byte, off int64) error
	// extents reports runs covering [off, end); neighbours may share a state.
	extents(off, end int64, fn func(Extent) error) error
}

// Image is a disk image opened for reading its logical content. It is safe
// for concurrent use if the io.ReaderAt it was opened on is.
type Image struct {
	// Format is the detected file format.
	Format Format
	// Size is the logical (virtual) disk size in bytes, a multiple of 512.
	Size int64

	b backend
}

// Open detects the format of the image file r of size bytes and returns a
// reader over its logical content. Detection: qcow2 by the magic "QFI\xfb"
// at offset 0; a dynamic VHD by the footer copy ("conectix") at offset 0
// pointing to a "cxsparse" header; a fixed VHD by the 512-byte "conectix"
// footer at the end; anything else is raw.
//
// Open validates the structures it relies on (checksums, table bounds,
// alignment) and returns a *FormatError wrapping ErrCorrupt, ErrUnsupported
// or ErrMisaligned when the file cannot be read. Errors from r are wrapped.
func Open(r io.ReaderAt, size int64) (*Image, error) {
	if size < 0 {
		return nil, fmt.Errorf("open disk image: negative file size %d", size)
	}
	head := make([]byte, SectorSize)
	n, err := r.ReadAt(head, 0)
	if n < len(head) && err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("open disk image: read first sector: %w", err)
	}
	head = head[:n]
	if int64(n) > size {
		head = head[:size]
	}

	switch {
	case bytes.HasPrefix(head, []byte(qcow2Magic)):
		return openQCOW2(r, size)
	case bytes.HasPrefix(head, []byte(vhdCookie)):
		return openDynamicVHD(r, size)
	}
	if size >= SectorSize {
		foot := make([]byte, SectorSize)
		if err := readFull(r, foot, size-SectorSize); err != nil {
			return nil, fmt.Errorf("open disk image: read last sector: %w", err)
		}
		if bytes.HasPrefix(foot, []byte(vhdCookie)) {
			return openFixedVHD(r, size, foot)
		}
	}
	return openRaw(r, size)
}

// OpenAs is Open for callers that know which format to expect, such as a
// page blob that must be a fixed VHD. It fails if the detected format
// differs; in particular a VHD whose footer was cut off, which Open would
// take for a raw disk, is reported as a truncated VHD.
func OpenAs(r io.ReaderAt, size int64, want Format) (*Image, error) {
	img, err := Open(r, size)
	if err != nil {
		return nil, err
	}
	if img.Format == want {
		return img, nil
	}
	switch {
	case (want == FormatVHDFixed || want == FormatVHDDynamic) && img.Format == FormatRaw:
		return nil, corruptf(want, max(size-SectorSize, 0),
			"no VHD footer (cookie %q) in the last 512 bytes of this %d-byte file: the upload is incomplete or the file is not a VHD; upload the whole file, or convert it with `qemu-img convert -O vpc -o subformat=fixed,force_size`",
			vhdCookie, size)
	case want == FormatVHDFixed && img.Format == FormatVHDDynamic:
		return nil, unsupportedf(want, 0,
			"this is a dynamic VHD but a fixed VHD is required (Azure disks are fixed VHDs); convert it with `qemu-img convert -O vpc -o subformat=fixed,force_size in.vhd out.vhd`")
	}
	return nil, unsupportedf(want, 0, "expected a %s image but the file is %s; convert it to %s first", want, img.Format, want)
}

// ReadAt reads logical content at off, implementing io.ReaderAt: it returns
// io.EOF when fewer than len(p) bytes remain before Size.
func (img *Image) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("read %s image: negative offset %d", img.Format, off)
	}
	if off >= img.Size {
		return 0, io.EOF
	}
	var eof error
	if rest := img.Size - off; int64(len(p)) > rest {
		p, eof = p[:rest], io.EOF
	}
	if len(p) == 0 {
		return 0, eof
	}
	if err := img.b.readAt(p, off); err != nil {
		return 0, err
	}
	return len(p), eof
}

// Extents calls fn for consecutive extents covering [off, off+length)
// clipped to [0, Size), merging neighbours with the same state, and stops at
// the first error fn returns. Granularity is the format's: everything is
// allocated for raw and fixed VHD, a VHD block (usually 2 MiB) for dynamic
// VHD, a cluster for qcow2 (zero clusters count as unallocated).
func (img *Image) Extents(off, length int64, fn func(Extent) error) error {
	if off < 0 || length < 0 {
		return fmt.Errorf("%s image extents: negative range (%d, %d)", img.Format, off, length)
	}
	end := img.Size
	if length < end-off {
		end = off + length
	}
	if off >= end {
		return nil
	}
	var cur Extent
	err := img.b.extents(off, end, func(e Extent) error {
		// Clip: backends may report runs wider than asked.
		if s := e.Offset; s < off {
			e.Offset, e.Length = off, e.Length-(off-s)
		}
		if e.Offset+e.Length > end {
			e.Length = end - e.Offset
		}
		if e.Length <= 0 {
			return nil
		}
		if cur.Length > 0 && cur.Allocated == e.Allocated && cur.Offset+cur.Length == e.Offset {
			cur.Length += e.Length
			return nil
		}
		if cur.Length > 0 {
			if err := fn(cur); err != nil {
				return err
			}
		}
		cur = e
		return nil
	})
	if err != nil {
		return err
	}
	if cur.Length > 0 {
		return fn(cur)
	}
	return nil
}

// errStop ends an extent walk early; it never escapes this package.
var errStop = errors.New("stop")

// Allocated reports whether any part of [off, off+length) may hold data.
// False means the range reads as zeros, so a block covering it need not be
// read or stored.
func (img *Image) Allocated(off, length int64) (bool, error) {
	found := false
	err := img.Extents(off, length, func(e Extent) error {
		if e.Allocated {
			found = true
			return errStop
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return false, err
	}
	return found, nil
}

// readFull reads len(p) bytes at off, turning a short read into
// io.ErrUnexpectedEOF.
func readFull(r io.ReaderAt, p []byte, off int64) error {
	n, err := r.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// dense is the backend of raw and fixed VHD images: logical content is the
// file's first Size bytes, all allocated.
type dense struct {
	r      io.ReaderAt
	format Format
}

func (d dense) readAt(p []byte, off int64) error {
	if err := readFull(d.r, p, off); err != nil {
		return fmt.Errorf("read %s image at offset %d: %w", d.format, off, err)
	}
	return nil
}

func (d dense) extents(off, end int64, fn func(Extent) error) error {
	return fn(Extent{Offset: off, Length: end - off, Allocated: true})
}

func openRaw(r io.ReaderAt, size int64) (*Image, error) {
	if size == 0 {
		return nil, corruptf(FormatRaw, 0, "the file is empty; upload the whole disk image")
	}
	if size%SectorSize != 0 {
		return nil, misalignedf(FormatRaw, size,
			"the file is %d bytes, not a multiple of the 512-byte sector size: it is truncated or not a disk image (a VHD whose footer was cut off looks like this too); re-export it, or pad a raw disk with `truncate -s %d`",
			size, roundUp(size, SectorSize))
	}
	return &Image{Format: FormatRaw, Size: size, b: dense{r: r, format: FormatRaw}}, nil
}

func roundUp(n, unit int64) int64 {
	return (n + unit - 1) / unit * unit
}
