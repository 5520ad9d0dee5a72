package blobapi

import (
	"context"
	"fmt"
	"io"
	"sort"

	"github.com/galleonhq/galleon"
	"github.com/galleonhq/galleon/manifest"
)

// view is a consistent snapshot of a blob: its row and the block map that
// went with that row's ETag, as a manifest over the content as stored.
// Views are cached and shared: never modify one.
type view struct {
	blob *galleon.Blob
	bs   galleon.BlockStore
	// m is the stored content: Size is the blob's size rounded up to 512
	// bytes, or up to a whole block when the last block is stored at full
	// length (a resize in progress); reads stop at blob.Size.
	m *galleon.DiskManifest
}

// blockSize returns the blob's block size, checked.
func blockSize(b *galleon.Blob) (int64, error) {
	bsz := b.BlockSize
	if bsz == 0 {
		bsz = galleon.DefaultBlockSize
	}
	if bsz < manifest.SectorSize || bsz > manifest.MaxBlockSize || bsz%manifest.SectorSize != 0 {
		return 0, fmt.Errorf("blob %s/%s/%s has block size %d, not a multiple of 512 up to %d", b.Account, b.Container, b.Name, bsz, manifest.MaxBlockSize)
	}
	return bsz, nil
}

// roundUp512 rounds n up to a multiple of 512.
func roundUp512(n int64) int64 { return (n + 511) &^ 511 }

// naturalLen is the length at which block i of a blob of size bytes is
// stored: the block size, or less for the last block (the size rounded up
// to 512 bytes, minus the block's start).
func naturalLen(size, bsz, i int64) int64 {
	return min(bsz, roundUp512(size)-i*bsz)
}

// digest returns block i's digest, "" when the block is zero.
func (v *view) digest(i int64) string {
	blocks := v.m.Blocks
	k := sort.Search(len(blocks), func(k int) bool { return blocks[k].Index >= i })
	if k < len(blocks) && blocks[k].Index == i {
		return blocks[k].Digest
	}
	return ""
}

// reader returns the blob's content, Size bytes.
func (v *view) reader(ctx context.Context) *io.SectionReader {
	return io.NewSectionReader(manifest.NewReader(ctx, v.bs, v.m), 0, v.blob.Size)
}

// getBlob returns the named blob, BlobNotFound if it is missing.
func (s *Server) getBlob(ctx context.Context, l loc) (*galleon.Blob, error) {
	b, err := s.Store.GetBlob(ctx, l.account, l.container, l.name)
	if galleon.ErrorCode(err) == galleon.ENotFound {
		return nil, notFound(l)
	} else if err != nil {
		return nil, fmt.Errorf("get blob %s: %w", l, err)
	}
	return b, nil
}

// findBlob is getBlob that returns (nil, nil) for a missing blob.
func (s *Server) findBlob(ctx context.Context, l loc) (*galleon.Blob, error) {
	b, err := s.getBlob(ctx, l)
	if galleon.ErrorCode(err) == galleon.ENotFound {
		return nil, nil
	}
	return b, err
}

// viewAttempts is how often view retries when writes keep landing between
// its reads.
const viewAttempts = 5

// view returns a consistent snapshot of the blob: the row is read before
// and after the block map, and the snapshot taken only when both reads
// show the same ETag (every change of the map changes it).
func (s *Server) view(ctx context.Context, l loc) (*view, error) {
	for range viewAttempts {
		b, err := s.getBlob(ctx, l)
		if err != nil {
			return nil, err
		}
		if v := s.cachedView(l.key(), b.ETag); v != nil {
			return v, nil
		}
		blocks, err := s.Store.ListBlobBlocks(ctx, l.account, l.container, l.name)
		if err != nil {
			return nil, fmt.Errorf("list blocks of %s: %w", l, err)
		}
		after, err := s.getBlob(ctx, l)
		if err != nil {
			return nil, err
		}
		if after.ETag != b.ETag {
			continue
		}
		v, err := s.newView(ctx, b, blocks)
		if err != nil {
			return nil, err
		}
		s.cacheView(l.key(), v)
		return v, nil
	}
	return nil, apiErrorf(galleon.ETooManyRequests, "ServerBusy",
		"The blob '%s' changed during every one of %d attempts to read it; retry when the writes to it have settled.", l, viewAttempts)
}

// newView builds the snapshot of b with its block map.
func (s *Server) newView(ctx context.Context, b *galleon.Blob, blocks []galleon.ManifestBlock) (*view, error) {
	bsz, err := blockSize(b)
	if err != nil {
		return nil, err
	}
	bs, err := s.blockStore(b.Region)
	if err != nil {
		return nil, err
	}
	size := roundUp512(b.Size)
	n := (size + bsz - 1) / bsz
	// Blocks past the end cannot exist (resizes drop them); ignore any.
	k := sort.Search(len(blocks), func(k int) bool { return blocks[k].Index >= n })
	m := &galleon.DiskManifest{Size: size, BlockSize: bsz, Blocks: blocks[:k:k]}
	if last := n - 1; size%bsz != 0 && k > 0 && blocks[k-1].Index == last {
		info, err := bs.StatBlock(ctx, blocks[k-1].Digest)
		if err != nil {
			return nil, fmt.Errorf("blob %s/%s/%s: stat last block %d (%s): %w", b.Account, b.Container, b.Name, last, blocks[k-1].Digest, err)
		}
		switch info.Size {
		case size - last*bsz:
		case bsz:
			m.Size = n * bsz
		default:
			return nil, fmt.Errorf("blob %s/%s/%s: last block %d (%s) holds %d bytes, neither %d nor %d",
				b.Account, b.Container, b.Name, last, blocks[k-1].Digest, info.Size, size-last*bsz, bsz)
		}
	}
	return &view{blob: b, bs: bs, m: m}, nil
}

// maxCachedBlocks bounds the block-map entries the view cache holds
// (about 100 bytes each).
const maxCachedBlocks = 1 << 20

// viewCache keeps the latest views of recently read blobs, so that a
// client reading a large blob in many ranged GETs lists its block map once.
// Entries are valid for one ETag only.
type viewCache struct {
	entries map[string]*view
	order   []string // least recently added first
	blocks  int
}

func (s *Server) cachedView(key, etag string) *view {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := s.views.entries[key]; ok && v.blob.ETag == etag {
		return v
	}
	return nil
}

func (s *Server) cacheView(key string, v *view) {
	if len(v.m.Blocks) > maxCachedBlocks {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := &s.views
	if c.entries == nil {
		c.entries = make(map[string]*view)
	}
	c.remove(key)
	c.entries[key] = v
	c.order = append(c.order, key)
	c.blocks += len(v.m.Blocks)
	for c.blocks > maxCachedBlocks || len(c.order) > 64 {
		c.remove(c.order[0])
	}
}

// forgetView drops the cached view of a blob (after a write).
func (s *Server) forgetView(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.views.remove(key)
}

func (c *viewCache) remove(key string) {
	v, ok := c.entries[key]
	if !ok {
		return
	}
	delete(c.entries, key)
	c.blocks -= len(v.m.Blocks)
	for i, k := range c.order {
		if k == key {
			c.order = append(c.order[:i], c.order[i+1:]...)
			break
		}
	}
}

// blobLock is the in-process write lock of one blob.
type blobLock struct {
	ch   chan struct{} // holds a token while locked
	refs int
}

// lock takes the write lock of the blob at l, waiting for it unless ctx
// ends first, and returns its release.
func (s *Server) lock(ctx context.Context, l loc) (func(), error) {
	key := l.key()
	s.mu.Lock()
	if s.locks == nil {
		s.locks = make(map[string]*blobLock)
	}
	bl := s.locks[key]
	if bl == nil {
		bl = &blobLock{ch: make(chan struct{}, 1)}
		s.locks[key] = bl
	}
	bl.refs++
	s.mu.Unlock()
	release := func() {
		s.mu.Lock()
		bl.refs--
		if bl.refs == 0 {
			delete(s.locks, key)
		}
		s.mu.Unlock()
	}
	select {
	case bl.ch <- struct{}{}:
		return func() { <-bl.ch; release() }, nil
	case <-ctx.Done():
		release()
		return nil, fmt.Errorf("wait for the write lock of %s: %w", l, ctx.Err())
	}
}
