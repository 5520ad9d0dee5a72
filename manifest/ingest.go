package manifest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/galleonhq/galleon"
)

// DefaultWorkers is how many goroutines Ingest and Copy run when the
// options leave Workers at zero: the servers have two cores, and two
// workers let one read or write while the other hashes.
const DefaultWorkers = 2

// IngestOptions tune Ingest. The zero value is ready to use.
type IngestOptions struct {
	// BlockSize is the block size to cut the disk into: a multiple of 512
	// bytes up to MaxBlockSize. Zero means galleon.DefaultBlockSize.
	BlockSize int64
	// Workers is how many blocks are read, hashed and put at once; each
	// holds one block in memory. Zero means DefaultWorkers.
	Workers int
	// Progress, if set, is called after each block with the bytes of the
	// disk processed so far (stored, zero or skipped) and the disk size.
	// Calls come from one goroutine at a time, with done increasing.
	Progress func(done, total int64)
	// Skip, if set, is asked about each block (its offset and length)
	// before reading it; true means the caller knows that range reads as
	// zeros (it is unallocated in a sparse image), so it is neither read
	// nor stored. It is asked once per block, in no particular order, from
	// one goroutine at a time. (With a diskimage.Image img: return true
	// when img.Allocated(off, length) reports false without error.)
	Skip func(off, length int64) bool
}

// Ingest cuts the first size bytes of r, a disk's logical content, into
// blocks, leaves out the all-zero ones, puts the others into bs under
// their SHA-256 and returns the disk's manifest with its Digest set.
//
// Every block the manifest lists is put, including blocks bs already
// holds: re-putting a present block refreshes its ModTime, which keeps
// garbage collection from sweeping it before the caller commits the
// manifest (see galleon.BlockStore). Ingest stops at the first error, and
// at ctx's end; blocks already put stay (they are garbage until referenced).
//
// Returns EInvalid with reason InvalidDiskSize if size is negative or not
// a multiple of 512, InvalidBlockSize for a bad opt.BlockSize, and
// DiskContentTooShort if r ends before size bytes.
func Ingest(ctx context.Context, bs galleon.BlockStore, r io.ReaderAt, size int64, opt IngestOptions) (*galleon.DiskManifest, error) {
	blockSize := opt.BlockSize
	if blockSize == 0 {
		blockSize = galleon.DefaultBlockSize
	}
	if err := checkSizes("disk", size, blockSize); err != nil {
		return nil, err
	}
	workers := opt.Workers
	if workers <= 0 {
		workers = DefaultWorkers
	}
	n := blockCount(size, blockSize)
	workers = int(min(int64(workers), max(n, 1)))

	in := &ingester{
		bs: bs, r: r, size: size, blockSize: blockSize, n: n,
		progress: opt.Progress, skip: opt.Skip,
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	results := make([][]galleon.ManifestBlock, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			blocks, err := in.work(wctx)
			if err != nil {
				in.fail(err)
				cancel()
			}
			results[w] = blocks
		})
	}
	wg.Wait()
	if in.err != nil {
		return nil, in.err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("ingest disk: %w", err)
	}

	m := &galleon.DiskManifest{Size: size, BlockSize: blockSize}
	for _, blocks := range results {
		m.Blocks = append(m.Blocks, blocks...)
	}
	slices.SortFunc(m.Blocks, func(a, b galleon.ManifestBlock) int { return cmp.Compare(a.Index, b.Index) })
	if m.Blocks == nil {
		m.Blocks = []galleon.ManifestBlock{}
	}
	d, err := ComputeDigest(m)
	if err != nil {
		return nil, err // unreachable: Ingest made every digest
	}
	m.Digest = d
	return m, nil
}

// ingester is the state the workers of one Ingest share.
type ingester struct {
	bs        galleon.BlockStore
	r         io.ReaderAt
	size      int64
	blockSize int64
	n         int64
	next      atomic.Int64 // next block to take

	mu       sync.Mutex // serializes progress and skip, guards done and err
	progress func(done, total int64)
	skip     func(off, length int64) bool
	done     int64
	err      error
}

// work takes blocks in turn until none are left, returning the non-zero
// ones it stored.
func (in *ingester) work(ctx context.Context) ([]galleon.ManifestBlock, error) {
	var out []galleon.ManifestBlock
	var buf []byte // allocated at the first block that is read
	for {
		i := in.next.Add(1) - 1
		if i >= in.n {
			return out, nil
		}
		if err := ctx.Err(); err != nil {
			return nil, nil // Ingest reports the cause
		}
		off := i * in.blockSize
		l := blockLen(in.size, in.blockSize, i)
		if !in.skipped(off, l) {
			if buf == nil {
				buf = make([]byte, in.blockSize)
			}
			data := buf[:l]
			if err := in.read(data, off); err != nil {
				return nil, err
			}
			if !isZero(data) {
				d := hexDigest(data)
				if err := in.bs.PutBlock(ctx, d, data); err != nil {
					if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
						return nil, nil
					}
					return nil, fmt.Errorf("ingest disk: put block %d (disk bytes %d-%d): %w", i, off, off+l-1, err)
				}
				out = append(out, galleon.ManifestBlock{Index: i, Digest: d})
			}
		}
		in.advance(l)
	}
}

// read fills p from the disk at off.
func (in *ingester) read(p []byte, off int64) error {
	n, err := in.r.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		return galleon.ReasonErrorf(galleon.EInvalid, ReasonDiskContentTooShort,
			"disk content ends at byte %d, before its declared size of %d bytes; give the content's real size", off+int64(n), in.size).WithTarget("size")
	}
	return fmt.Errorf("ingest disk: read bytes %d-%d: %w", off, off+int64(len(p))-1, err)
}

func (in *ingester) skipped(off, l int64) bool {
	if in.skip == nil {
		return false
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.skip(off, l)
}

func (in *ingester) advance(l int64) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.done += l
	if in.progress != nil {
		in.progress(in.done, in.size)
	}
}

// fail records the first error a worker hit.
func (in *ingester) fail(err error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.err == nil {
		in.err = err
	}
}
