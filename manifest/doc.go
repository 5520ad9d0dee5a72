// Package manifest moves disk content between files, manifests and block
// stores. A disk inside Galleon is a galleon.DiskManifest: its logical (raw)
// content cut into fixed-size aligned blocks, the non-zero ones named by
// their SHA-256 and kept in a galleon.BlockStore.
//
//   - Ingest cuts an io.ReaderAt into blocks, skips all-zero ones, hashes and
//     puts the rest, and returns the manifest.
//   - Marshal and Unmarshal encode a manifest in a compact, versioned binary
//     form (below); Store and Load keep that encoding in a block store as a
//     content-addressed block of its own.
//   - Copy makes every block of a manifest present in another block store,
//     copying only what is missing, so it is idempotent and resumable.
//   - NewReader streams the logical content back out (io.ReaderAt,
//     io.ReadSeeker, io.WriterTo), zeros for absent blocks.
//   - Diff lists the blocks two manifests disagree on.
//
// Everything streams. Ingest and Copy hold about one block per worker and
// run on a small pool of goroutines (two by default: the servers have two
// cores), so one worker's I/O overlaps another's hashing; Reader keeps the
// last two blocks it read, and its WriteTo fetches blocks with two
// goroutines, at most four blocks ahead of the writer.
//
// # Whole-disk digest
//
// DiskManifest.Digest is the lower-case hex SHA-256 of these bytes, all
// integers unsigned 64-bit big-endian:
//
//	"galleon.disk.v1\n"             16 bytes of ASCII (domain separation)
//	Size                            8 bytes
//	BlockSize                       8 bytes
//	for each block, in Index order:
//	    Index                       8 bytes
//	    block digest                32 bytes (raw, not hex)
//
// A manifest is canonical (Validate) when its blocks are in strictly
// increasing Index order within the disk and no block is all zeros; Ingest
// only makes canonical manifests. Two canonical manifests with the same
// BlockSize therefore have the same Digest exactly when their contents are
// equal. The same content cut at another block size has another Digest.
//
// # Encoding
//
// Marshal's output, version 1, all integers unsigned big-endian:
//
//	offset  size  field
//	0       4     magic "GLDM"
//	4       4     version, 1
//	8       8     Size
//	16      8     BlockSize
//	24      8     count of blocks, n
//	32      40*n  n entries: Index (8 bytes), block digest (32 raw bytes)
//	32+40n  32    whole-disk Digest (raw)
//
// Unmarshal accepts only canonical manifests whose stored Digest matches
// the one recomputed from the entries, and no trailing bytes, so every
// accepted input is exactly Marshal of its result. A 1 TiB disk of 4 MiB
// blocks with no zero block (262,144 entries) encodes to 10 MiB.
//
// Allowed imports: the standard library and the root package galleon.
package manifest
