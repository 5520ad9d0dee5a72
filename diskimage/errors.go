package diskimage

import (
	"errors"
	"fmt"
)

// Error classes. Every *FormatError wraps exactly one of them, so callers can
// pick a status with errors.Is without parsing messages.
var (
	// ErrCorrupt means the file's structures are inconsistent: a checksum
	// mismatch, a pointer past the end of the file, a truncated header.
	ErrCorrupt = errors.New("corrupt disk image")
	// ErrUnsupported means the file is well formed but uses a feature this
	// package does not read (differencing VHDs, qcow2 backing files,
	// encryption, zstd compression).
	ErrUnsupported = errors.New("unsupported disk image")
	// ErrMisaligned means a size breaks an alignment rule: raw disks are a
	// whole number of 512-byte sectors and VHD disks a whole number of MiB
	// (Azure refuses other VHD sizes).
	ErrMisaligned = errors.New("misaligned disk image")
)

// FormatError describes what is wrong with an input image and how to fix it.
type FormatError struct {
	// Format is the format the file was read as.
	Format Format
	// Offset is the byte offset in the file of the offending structure; for
	// damage found while reading content (a qcow2 cluster that cannot be
	// read) it is the logical offset being read.
	Offset int64
	// Reason says what is wrong and how to fix it, in words for users.
	Reason string
	// Err is ErrCorrupt, ErrUnsupported or ErrMisaligned.
	Err error
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("%s image, offset %d: %s", e.Format, e.Offset, e.Reason)
}

// Unwrap returns the error class (ErrCorrupt, ErrUnsupported, ErrMisaligned).
func (e *FormatError) Unwrap() error { return e.Err }

func corruptf(f Format, off int64, format string, args ...any) *FormatError {
	return &FormatError{Format: f, Offset: off, Reason: fmt.Sprintf(format, args...), Err: ErrCorrupt}
}

func unsupportedf(f Format, off int64, format string, args ...any) *FormatError {
	return &FormatError{Format: f, Offset: off, Reason: fmt.Sprintf(format, args...), Err: ErrUnsupported}
}

func misalignedf(f Format, off int64, format string, args ...any) *FormatError {
	return &FormatError{Format: f, Offset: off, Reason: fmt.Sprintf(format, args...), Err: ErrMisaligned}
}
