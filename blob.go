package galleon

import (
	"context"
	"time"
)

// Blob kinds of the blob data plane.
const (
	PageBlob  = "PageBlob"
	BlockBlob = "BlockBlob"
)

// Blob is a blob of the data plane (/{account}/{container}/{blob}): the
// upload target of a disk (a page blob) or a VHD a version is made from.
// Its content lives in a block store as fixed-size content-addressed blocks
// (BlockSize, default DefaultBlockSize); page writes that cover part of a
// block rewrite that block. Absent blocks read as zeros.
type Blob struct {
	Account   string `json:"account"`
	Container string `json:"container"`
	Name      string `json:"name"`
	Kind      string `json:"kind"` // PageBlob or BlockBlob
	// Region is where the blob's blocks are stored (its account's region).
	Region    string `json:"region"`
	Size      int64  `json:"size"`
	BlockSize int64  `json:"blockSize"`
	// Sealed blobs no longer accept writes (a disk after endGetAccess).
	Sealed      bool              `json:"sealed"`
	ContentType string            `json:"contentType,omitempty"`
	Metadata    map[string]string `json:"metadata,omitempty"`
	ETag        string            `json:"etag"`
	CreatedAt   time.Time         `json:"createdAt"`
	ChangedAt   time.Time         `json:"changedAt"`
}

// BlobStore holds blobs, the block maps of their content and the staged
// blocks of block blobs.
type BlobStore interface {
	StagedBlobStore
	// PutBlob creates or replaces a blob (dropping its block map when it
	// replaces one), setting ETag, CreatedAt and ChangedAt.
	PutBlob(ctx context.Context, b *Blob) error
	// GetBlob finds a blob by account, container and name. ENotFound if missing.
	GetBlob(ctx context.Context, account, container, name string) (*Blob, error)
	// UpdateBlob saves a blob's size, sealed flag, content type and
	// metadata, setting a new ETag. ENotFound if missing.
	UpdateBlob(ctx context.Context, b *Blob) error
	// DeleteBlob removes a blob and its block map. ENotFound if missing.
	DeleteBlob(ctx context.Context, account, container, name string) error
	// SetBlobBlocks records, in one transaction, the digest of each block
	// index given; "" marks the block all zeros (removed from the map). It
	// also sets a new ETag and ChangedAt on the blob.
	SetBlobBlocks(ctx context.Context, account, container, name string, blocks map[int64]string) error
	// ListBlobBlocks returns the blob's non-zero blocks in index order.
	ListBlobBlocks(ctx context.Context, account, container, name string) ([]ManifestBlock, error)
	// ListAllBlobBlocks calls fn for every non-zero block of every blob's
	// block map, with the blob's account, container and name as the blob
	// has them, stopping at the first error fn returns and returning it.
	// Garbage collection marks these blocks. Blocks recorded or dropped
	// while it runs may or may not be reported.
	ListAllBlobBlocks(ctx context.Context, fn func(account, container, name string, b ManifestBlock) error) error
}

// StagedBlock is one block of a block blob in the sense of Put Block and
// Put Block List: either uncommitted (staged by Put Block; its content is
// kept as pieces in a block store until a Put Block List commits it or a
// Put Blob or Delete Blob discards it) or a member of the blob's committed
// block list (its content is a range of the blob's content). Staged blocks
// live in the store so that an acknowledged Put Block survives a restart.
type StagedBlock struct {
	// ID is the block ID as the client sent it (base64 text).
	ID string `json:"id"`
	// Size is the block's length in bytes.
	Size int64 `json:"size"`
	// Committed is true for a block of the blob's committed block list.
	Committed bool `json:"committed"`
	// Offset is where a committed block's bytes start in the blob.
	Offset int64 `json:"offset,omitempty"`
	// Region names the region whose block store holds an uncommitted
	// block's pieces.
	Region string `json:"region,omitempty"`
	// PieceSize is the length of every piece of an uncommitted block but
	// possibly the last.
	PieceSize int64 `json:"pieceSize,omitempty"`
	// Pieces lists, in order, the SHA-256 digest of each piece of an
	// uncommitted block, "" for an all-zero piece (which is not stored).
	Pieces []string `json:"pieces,omitempty"`
	// StagedAt is when the block was staged or committed.
	StagedAt time.Time `json:"stagedAt"`
}

// StagedBlobStore holds the staged blocks of block blobs (Put Block) and
// commits them (Put Block List). Blobs are named as in BlobStore: account
// and container case-insensitively, the blob name exactly.
type StagedBlobStore interface {
	// StageBlobBlock records b as an uncommitted block of the named blob,
	// replacing an uncommitted block with the same ID; a committed block
	// with that ID stays until the next commit. The blob need not exist.
	// It sets b.Committed to false and b.StagedAt.
	StageBlobBlock(ctx context.Context, account, container, name string, b *StagedBlock) error
	// ListStagedBlobBlocks returns the blob's committed blocks in list
	// order, then its uncommitted blocks in the order they were (last)
	// staged. A blob with none, or no blob, has an empty list.
	ListStagedBlobBlocks(ctx context.Context, account, container, name string) ([]*StagedBlock, error)
	// CommitBlockBlob replaces a blob's content in one transaction: it
	// creates or replaces b as PutBlob does, records blocks (in index
	// order, no "" digests) as its whole block map, and makes committed
	// its committed block list, dropping every other staged block of the
	// blob. It sets b.ETag, b.CreatedAt and b.ChangedAt, and Committed and
	// StagedAt on each of committed.
	CommitBlockBlob(ctx context.Context, b *Blob, blocks []ManifestBlock, committed []*StagedBlock) error
	// ClearStagedBlobBlocks drops every staged block of the named blob,
	// committed or not; a blob with none is not an error.
	ClearStagedBlobBlocks(ctx context.Context, account, container, name string) error
	// ListAllStagedBlobBlocks calls fn for every staged block of every
	// blob, committed or not, as ListStagedBlobBlocks reports them, blob
	// by blob, stopping at the first error fn returns and returning it.
	// account and container are spelled as the blob has them, or in lower
	// case for blocks staged for a blob that does not exist yet. Garbage
	// collection marks the pieces of uncommitted blocks. Blocks staged or
	// dropped while it runs may or may not be reported.
	ListAllStagedBlobBlocks(ctx context.Context, fn func(account, container, name string, b *StagedBlock) error) error
}
