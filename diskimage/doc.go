// Package diskimage converts disk image formats at the edges of Galleon's
// block store. Inside Galleon a disk is its logical (raw) content; this
// package turns uploaded files into that content and that content back into
// files, always streaming, never holding a whole disk in memory.
//
// Reading: Open detects qcow2, dynamic VHD, fixed VHD or raw and returns an
// *Image, an io.ReaderAt over the logical content that also reports which
// ranges are allocated (Extents), so callers cutting a disk into blocks can
// skip unallocated regions without reading them. The VHD readers are our own;
// qcow2 is read with github.com/lima-vm/go-qcow2reader after this package has
// validated the header (that library trusts its input: it would allocate
// whatever an L1 size claims and open backing files from the host's file
// system).
//
// Writing: WriteRaw, WriteFixedVHD and WriteQCOW2 stream logical content from
// an io.ReaderAt to an io.Writer. When the reader is an ExtentReader (an
// *Image is one), unallocated ranges are not read.
//
// Errors about the input are *FormatError values that wrap ErrCorrupt,
// ErrUnsupported or ErrMisaligned and say how to fix the file. Callers turn
// them into galleon.Error (usually EInvalid); this package does not import
// the root package.
//
// Allowed imports: the standard library and github.com/lima-vm/go-qcow2reader
// (agreed in notes/dependencies.md).
package diskimage
