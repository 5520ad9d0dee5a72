package diskimage

import (
	"bytes"
	"fmt"
	"io"
)

// chunkSize is the unit of streaming reads and writes: large enough that
// per-call overhead vanishes, small enough to keep memory flat.
const chunkSize = 1 << 20

// zeros is a read-only chunk of zero bytes.
var zeros = make([]byte, chunkSize)

func isZero(b []byte) bool {
	for len(b) > 0 {
		n := min(len(b), len(zeros))
		if !bytes.Equal(b[:n], zeros[:n]) {
			return false
		}
		b = b[n:]
	}
	return true
}

// WriteRaw streams the size bytes of logical content in r to w. size must be
// a positive multiple of 512. Ranges an ExtentReader reports unallocated are
// written as zeros without being read.
func WriteRaw(w io.Writer, r io.ReaderAt, size int64) error {
	if err := checkWriteSize(FormatRaw, size); err != nil {
		return err
	}
	if err := copyLogical(w, r, size); err != nil {
		return fmt.Errorf("write raw disk: %w", err)
	}
	return nil
}

func checkWriteSize(f Format, size int64) error {
	if size <= 0 || size%SectorSize != 0 {
		return misalignedf(f, 0,
			"cannot write a %d-byte disk: disk sizes must be a positive multiple of the 512-byte sector size", size)
	}
	return nil
}

// walkExtents calls fn for extents covering [0, size) of r, checking that an
// ExtentReader's extents really are consecutive so a faulty one cannot make
// an output shorter or longer than size.
func walkExtents(r io.ReaderAt, size int64, fn func(Extent) error) error {
	er, ok := r.(ExtentReader)
	if !ok {
		return fn(Extent{Offset: 0, Length: size, Allocated: true})
	}
	pos := int64(0)
	err := er.Extents(0, size, func(e Extent) error {
		if e.Offset != pos || e.Length <= 0 || e.Length > size-pos {
			return fmt.Errorf("extent (%d, %d) does not continue at offset %d of a %d-byte disk", e.Offset, e.Length, pos, size)
		}
		pos += e.Length
		return fn(e)
	})
	if err != nil {
		return err
	}
	if pos != size {
		return fmt.Errorf("extents end at offset %d of a %d-byte disk", pos, size)
	}
	return nil
}

// copyLogical writes the size bytes of r to w in chunks.
func copyLogical(w io.Writer, r io.ReaderAt, size int64) error {
	buf := make([]byte, chunkSize)
	return walkExtents(r, size, func(e Extent) error {
		for off, end := e.Offset, e.Offset+e.Length; off < end; {
			n := min(end-off, chunkSize)
			b := zeros[:n]
			if e.Allocated {
				b = buf[:n]
				if err := readFull(r, b, off); err != nil {
					return fmt.Errorf("read logical offset %d: %w", off, err)
				}
			}
			if _, err := w.Write(b); err != nil {
				return err
			}
			off += n
		}
		return nil
	})
}
