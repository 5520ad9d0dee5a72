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

// BlobStore holds blobs and the block maps of their content.
type BlobStore interface {
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
}
