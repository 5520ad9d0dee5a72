package manifest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/galleonhq/galleon"
)

// CopyOptions tune Copy. The zero value is ready to use.
type CopyOptions struct {
	// Workers is how many blocks are checked and copied at once; each
	// holds up to one block in memory. Zero means DefaultWorkers.
	Workers int
	// Touch re-puts blocks the destination already holds, refreshing
	// their ModTime so that a garbage-collection sweep running alongside
	// cannot remove them before the copied manifest references them (see
	// galleon.BlockStore). The BlockStore interface can only re-put a
	// block with its content, so Touch reads each present block back from
	// the destination (not from the source) and puts it again: it costs a
	// read of the destination's copy, not a transfer. Set it unless
	// collection cannot run on the destination while Copy does. Touch
	// also repairs: a present block the destination reports as corrupt is
	// deleted and copied again from the source.
	Touch bool
	// Progress, if set, is called after each distinct block with the
	// bytes handled so far (copied or already present) and the total of
	// the manifest's distinct blocks. Calls come from one goroutine at a
	// time, with done increasing.
	Progress func(done, total int64)
}

// CopyStats counts what Copy did. A block is counted once however many
// times the disk holds it.
type CopyStats struct {
	BlocksCopied  int64 // blocks read from the source and put
	BytesCopied   int64
	BlocksPresent int64 // blocks the destination already held
	BytesPresent  int64
	// BlocksRepaired counts the blocks among BlocksCopied that the
	// destination held in a damaged form (wrong size, or corrupt when
	// Touch is set) and that were deleted and copied again.
	BlocksRepaired int64
	// ManifestDigest is the digest under which the encoded manifest was
	// stored in the destination (see Store).
	ManifestDigest string
}

// Copy makes dst hold every block of m and then m itself (Store), copying
// from src only the blocks dst lacks: it asks dst with StatBlock first.
// Blocks read from src are verified against their digests (GetBlock does)
// and dst verifies them again as they are put. A block dst holds with the
// wrong length is deleted and copied again.
//
// Copy is idempotent and resumable: stopped midway (an error, ctx's end),
// it leaves the blocks it put, and running it again copies only what is
// still missing. The manifest is stored last, so a manifest in dst always
// has its blocks there.
//
// Errors name the block and its place on the disk: ENotFound if src lacks
// a block, EInternal if src's copy is corrupt. m must be valid (Validate);
// otherwise Copy returns Validate's error before touching either store.
func Copy(ctx context.Context, src, dst galleon.BlockStore, m *galleon.DiskManifest, opt CopyOptions) (CopyStats, error) {
	if err := Validate(m); err != nil {
		return CopyStats{}, err
	}
	// Distinct blocks: a disk may hold the same content at many places.
	seen := make(map[string]struct{}, len(m.Blocks))
	var todo []galleon.ManifestBlock
	var total int64
	for _, b := range m.Blocks {
		if _, ok := seen[b.Digest]; ok {
			continue
		}
		seen[b.Digest] = struct{}{}
		todo = append(todo, b)
		total += blockLen(m.Size, m.BlockSize, b.Index)
	}
	seen = nil

	workers := opt.Workers
	if workers <= 0 {
		workers = DefaultWorkers
	}
	workers = min(workers, max(len(todo), 1))
	c := &copier{src: src, dst: dst, m: m, todo: todo, touch: opt.Touch, progress: opt.Progress, total: total}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			if err := c.work(wctx); err != nil {
				c.fail(err)
				cancel()
			}
		})
	}
	wg.Wait()
	if c.err != nil {
		return c.stats, c.err
	}
	if err := ctx.Err(); err != nil {
		return c.stats, fmt.Errorf("copy disk %s: %w", m.Digest, err)
	}
	d, err := Store(ctx, dst, m)
	if err != nil {
		return c.stats, fmt.Errorf("copy disk %s: %w", m.Digest, err)
	}
	c.stats.ManifestDigest = d
	return c.stats, nil
}

// copier is the state the workers of one Copy share.
type copier struct {
	src, dst galleon.BlockStore
	m        *galleon.DiskManifest
	todo     []galleon.ManifestBlock
	next     atomic.Int64
	touch    bool

	mu       sync.Mutex // serializes progress, guards stats, done and err
	progress func(done, total int64)
	total    int64
	done     int64
	stats    CopyStats
	err      error
}

// outcome is what happened to one block.
type outcome int

const (
	wasPresent outcome = iota
	wasCopied
	wasRepaired
)

func (c *copier) work(ctx context.Context) error {
	for {
		k := c.next.Add(1) - 1
		if k >= int64(len(c.todo)) {
			return nil
		}
		if ctx.Err() != nil {
			return nil // Copy reports the cause
		}
		b := c.todo[k]
		l := blockLen(c.m.Size, c.m.BlockSize, b.Index)
		out, err := c.block(ctx, b, l)
		if err != nil {
			if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
				return nil
			}
			return fmt.Errorf("copy disk %s: %s: %w", c.m.Digest, describeBlock(c.m, b.Index, b.Digest), err)
		}
		c.count(out, l)
	}
}

// block makes one block present in dst.
func (c *copier) block(ctx context.Context, b galleon.ManifestBlock, l int64) (outcome, error) {
	repair := false
	info, err := c.dst.StatBlock(ctx, b.Digest)
	switch {
	case err == nil && info.Size != l:
		// Damaged in place: re-putting would only refresh it.
		repair = true
	case err == nil && !c.touch:
		return wasPresent, nil
	case err == nil:
		data, err := c.dst.GetBlock(ctx, b.Digest)
		if err == nil {
			if err := c.dst.PutBlock(ctx, b.Digest, data); err != nil {
				return 0, fmt.Errorf("refresh in destination: %w", err)
			}
			return wasPresent, nil
		}
		if e := galleon.AsError(err); e != nil && e.Code == galleon.EInternal {
			repair = true // the store says its copy is corrupt
		} else if galleon.ErrorCode(err) != galleon.ENotFound {
			return 0, fmt.Errorf("read destination copy: %w", err)
		}
	case galleon.ErrorCode(err) != galleon.ENotFound:
		return 0, fmt.Errorf("check destination: %w", err)
	}

	data, err := c.src.GetBlock(ctx, b.Digest)
	if err != nil {
		return 0, fmt.Errorf("read source: %w", err)
	}
	if int64(len(data)) != l {
		return 0, galleon.ReasonErrorf(galleon.EInternal, ReasonBlockSizeMismatch,
			"the source holds %d bytes under the block's digest, but the manifest needs %d; the manifest does not belong to this disk data, or the source store is damaged", len(data), l)
	}
	if repair {
		if err := c.dst.DeleteBlock(ctx, b.Digest); err != nil {
			return 0, fmt.Errorf("delete damaged destination copy: %w", err)
		}
	}
	if err := c.dst.PutBlock(ctx, b.Digest, data); err != nil {
		return 0, fmt.Errorf("write destination: %w", err)
	}
	if repair {
		return wasRepaired, nil
	}
	return wasCopied, nil
}

func (c *copier) count(out outcome, l int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch out {
	case wasPresent:
		c.stats.BlocksPresent++
		c.stats.BytesPresent += l
	case wasRepaired:
		c.stats.BlocksRepaired++
		fallthrough
	case wasCopied:
		c.stats.BlocksCopied++
		c.stats.BytesCopied += l
	}
	c.done += l
	if c.progress != nil {
		c.progress(c.done, c.total)
	}
}

func (c *copier) fail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		c.err = err
	}
}
