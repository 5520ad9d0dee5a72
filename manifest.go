package galleon

// DefaultBlockSize is the block size new disks are cut into. 4 MiB matches
// the chunk size az and the azblob SDK upload page blobs in (so uploads
// need no read-modify-write) and halves the per-block fsync cost of 1 MiB
// blocks on the local store (docs/benchmarks.md).
const DefaultBlockSize = 4 << 20

// DiskManifest is the logical (raw) content of one disk: its size and the
// blocks of it that are not all zeros, each named by the SHA-256 of its
// content and stored in a BlockStore. Blocks absent from the list are zero.
type DiskManifest struct {
	// Size is the logical size in bytes; a multiple of 512.
	Size int64 `json:"size"`
	// BlockSize is the size of every block but possibly the last.
	BlockSize int64 `json:"blockSize"`
	// Blocks lists the non-zero blocks in increasing Index order.
	Blocks []ManifestBlock `json:"blocks"`
	// Digest is the whole-disk digest: SHA-256 over the size, the block
	// size and every (index, block digest) pair (package manifest defines
	// the bytes), so two canonical manifests of the same block size have
	// the same Digest exactly when their contents are equal.
	Digest string `json:"digest"`
}

// ManifestBlock is one non-zero block of a disk.
type ManifestBlock struct {
	Index  int64  `json:"i"`
	Digest string `json:"d"`
}

// StoredBytes is the number of bytes the disk's non-zero blocks occupy.
func (m *DiskManifest) StoredBytes() int64 {
	var n int64
	for _, b := range m.Blocks {
		n += m.blockLen(b.Index)
	}
	return n
}

func (m *DiskManifest) blockLen(i int64) int64 {
	if end := (i + 1) * m.BlockSize; end > m.Size {
		return m.Size - i*m.BlockSize
	}
	return m.BlockSize
}
