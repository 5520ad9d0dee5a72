package galleon

import (
	"context"
	"time"
)

// BlockInfo describes one stored block.
type BlockInfo struct {
	Digest  string    // lower-case hex SHA-256 of the content
	Size    int64     // content length in bytes
	ModTime time.Time // when it was last written or re-put
}

// BlockStore holds immutable blocks of disk data, each addressed by the
// SHA-256 of its content, on one storage backend (a directory, an S3
// bucket). Every implementation passes the contract suite in blob/blobtest.
//
// Garbage collection relies on ModTime: a collector marks the blocks that
// manifests reference, then sweeps unreferenced blocks whose ModTime is
// before the mark started. Writers therefore PutBlock every block a new
// manifest references (re-putting a present block refreshes its ModTime)
// before committing the manifest, so no sweep can remove a block a write in
// progress is about to reference. ModTime comes from the backend's clock, so
// the mark's start time must be read from the same clock.
//
// A digest is exactly 64 lower-case hex characters; every method returns
// EInvalid for anything else. A canceled context fails PutBlock (storing
// nothing) and ListBlocks.
type BlockStore interface {
	// PutBlock stores data under digest. It returns EInvalid if digest is
	// not the SHA-256 of data. Storing a present block only refreshes its
	// ModTime. A crash never leaves a partial block visible under digest.
	PutBlock(ctx context.Context, digest string, data []byte) error
	// GetBlock returns a block's content, verified against its digest
	// (EInternal with a message naming the block if it is corrupt).
	// ENotFound if absent.
	GetBlock(ctx context.Context, digest string) ([]byte, error)
	// StatBlock returns a block's info. ENotFound if absent.
	StatBlock(ctx context.Context, digest string) (BlockInfo, error)
	// DeleteBlock removes a block; removing an absent block is not an error.
	DeleteBlock(ctx context.Context, digest string) error
	// DeleteBlockIfOlder removes a block only if its ModTime is before
	// before, atomically with respect to PutBlock: a block re-put (touched)
	// while the call runs is kept. It reports whether it removed the block;
	// an absent block gives (false, nil). Garbage collection sweeps with it.
	DeleteBlockIfOlder(ctx context.Context, digest string, before time.Time) (bool, error)
	// ListBlocks calls fn for every stored block, in no particular order,
	// stopping at the first error fn returns.
	ListBlocks(ctx context.Context, fn func(BlockInfo) error) error
}
