package manifest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"

	"github.com/galleonhq/galleon"
)

// readerCacheBlocks is how many of the last blocks read a Reader keeps, so
// that small sequential reads (io.Copy's 32 KiB) fetch each block once and
// reads straddling two blocks fetch neither twice.
const readerCacheBlocks = 2

// readAhead is how many goroutines WriteTo fetches blocks with; each holds
// up to two blocks (one being fetched, one waiting to be written).
const readAhead = 2

// Reader reads a disk's logical content from the blocks of its manifest:
// absent blocks read as zeros. It implements io.ReaderAt, io.ReadSeeker
// and io.WriterTo, so io.Copy streams a disk out with blocks fetched
// ahead by two goroutines. ReadAt is safe for concurrent use; Read, Seek and WriteTo share a
// position and are not.
//
// Every block read is verified by the block store's GetBlock; a block that
// is missing, corrupt or of the wrong length fails the read with an error
// naming it.
type Reader struct {
	ctx context.Context
	bs  galleon.BlockStore
	m   *galleon.DiskManifest
	err error // m's sizes are invalid: every read fails with it
	pos int64

	mu    sync.Mutex
	cache [readerCacheBlocks]cachedBlock // most recently used first
}

type cachedBlock struct {
	index int64
	data  []byte // nil: empty slot
}

// NewReader returns a Reader over m's content in bs. ctx bounds every read
// (a Reader outlives no request). m must be valid (Validate; Ingest and
// Load only return valid manifests) and must not change while in use;
// NewReader checks only its sizes (every read fails if they are invalid),
// as a full check costs a pass over the blocks.
func NewReader(ctx context.Context, bs galleon.BlockStore, m *galleon.DiskManifest) *Reader {
	return &Reader{ctx: ctx, bs: bs, m: m, err: checkSizes("manifest", m.Size, m.BlockSize)}
}

// Size returns the disk's logical size in bytes.
func (r *Reader) Size() int64 { return r.m.Size }

// ReadAt reads len(p) bytes of the disk at off. It returns io.EOF when
// fewer than len(p) bytes remain before Size (with the bytes that did).
func (r *Reader) ReadAt(p []byte, off int64) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	if off < 0 {
		return 0, galleon.Errorf(galleon.EInvalid, "read offset %d is negative; read from offset 0 or later", off)
	}
	n := 0
	for n < len(p) && off < r.m.Size {
		i := off / r.m.BlockSize
		in := off - i*r.m.BlockSize
		data, err := r.block(i)
		if err != nil {
			return n, err
		}
		var c int
		if data == nil {
			c = int(min(int64(len(p)-n), blockLen(r.m.Size, r.m.BlockSize, i)-in))
			clear(p[n : n+c])
		} else {
			c = copy(p[n:], data[in:])
		}
		n += c
		off += int64(c)
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// Read reads from the current position, implementing io.Reader.
func (r *Reader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n, err := r.ReadAt(p, r.pos)
	r.pos += int64(n)
	if n > 0 && errors.Is(err, io.EOF) {
		err = nil // io.EOF comes with the next call
	}
	return n, err
}

// Seek sets the position for Read and WriteTo, implementing io.Seeker.
// Seeking past Size is allowed; reads there return io.EOF.
func (r *Reader) Seek(offset int64, whence int) (int64, error) {
	var base int64
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		base = r.pos
	case io.SeekEnd:
		base = r.m.Size
	default:
		return r.pos, galleon.Errorf(galleon.EInvalid, "seek whence %d is not io.SeekStart, io.SeekCurrent or io.SeekEnd", whence)
	}
	if offset > 0 && base > 1<<62-offset || base+offset < 0 {
		return r.pos, galleon.Errorf(galleon.EInvalid, "seek to %d%+d is outside the disk; seek to an offset between 0 and %d", base, offset, r.m.Size)
	}
	r.pos = base + offset
	return r.pos, nil
}

// block returns block i's content, nil for an absent (zero) block.
func (r *Reader) block(i int64) ([]byte, error) {
	digest := r.digest(i)
	if digest == "" {
		return nil, nil
	}
	r.mu.Lock()
	for k, c := range r.cache {
		if c.data != nil && c.index == i {
			copy(r.cache[1:k+1], r.cache[:k])
			r.cache[0] = c
			r.mu.Unlock()
			return c.data, nil
		}
	}
	r.mu.Unlock()
	data, err := r.fetch(r.ctx, i, digest)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	copy(r.cache[1:], r.cache[:len(r.cache)-1])
	r.cache[0] = cachedBlock{index: i, data: data}
	r.mu.Unlock()
	return data, nil
}

// digest returns the digest of block i, "" if the block is absent.
func (r *Reader) digest(i int64) string {
	blocks := r.m.Blocks
	k := sort.Search(len(blocks), func(k int) bool { return blocks[k].Index >= i })
	if k < len(blocks) && blocks[k].Index == i {
		return blocks[k].Digest
	}
	return ""
}

// fetch reads block i from the store and checks its length.
func (r *Reader) fetch(ctx context.Context, i int64, digest string) ([]byte, error) {
	data, err := r.bs.GetBlock(ctx, digest)
	if err != nil {
		return nil, fmt.Errorf("read disk %s: %s: %w", r.m.Digest, describeBlock(r.m, i, digest), err)
	}
	if want := blockLen(r.m.Size, r.m.BlockSize, i); int64(len(data)) != want {
		return nil, galleon.ReasonErrorf(galleon.EInternal, ReasonBlockSizeMismatch,
			"read disk %s: %s: the store holds %d bytes for it, not %d; the manifest does not match the stored data",
			r.m.Digest, describeBlock(r.m, i, digest), len(data), want)
	}
	return data, nil
}

// WriteTo writes the disk from the current position to its end to w,
// implementing io.WriterTo (io.Copy uses it). Blocks are fetched by
// readAhead goroutines, at most two blocks each ahead of the write, and
// all of them have ended when WriteTo returns. The position advances by
// the bytes written.
func (r *Reader) WriteTo(w io.Writer) (int64, error) {
	if r.err != nil {
		return 0, r.err
	}
	if r.pos >= r.m.Size {
		return 0, nil
	}
	first := r.pos / r.m.BlockSize
	n := blockCount(r.m.Size, r.m.BlockSize) - first
	ctx, cancel := context.WithCancel(r.ctx)
	defer cancel()

	// Worker k fetches blocks first+k, first+k+readAhead, ... into its own
	// channel, so reading the channels in turn yields blocks in order.
	type result struct {
		data []byte
		err  error
	}
	chans := make([]chan result, min(int64(readAhead), n))
	var wg sync.WaitGroup
	for k := range chans {
		ch := make(chan result, 1)
		chans[k] = ch
		wg.Go(func() {
			defer close(ch)
			for j := int64(k); j < n; j += int64(len(chans)) {
				i := first + j
				var res result
				if d := r.digest(i); d != "" {
					res.data, res.err = r.fetch(ctx, i, d)
				}
				select {
				case ch <- res:
				case <-ctx.Done():
					return
				}
				if res.err != nil {
					return
				}
			}
		})
	}
	defer wg.Wait()
	defer cancel() // runs before wg.Wait: stops the workers on an early return

	var written int64
	for j := range n {
		res, ok := <-chans[j%int64(len(chans))]
		if !ok {
			return written, fmt.Errorf("read disk %s: %w", r.m.Digest, r.ctx.Err())
		}
		if res.err != nil {
			return written, res.err
		}
		i := first + j
		start := r.pos - i*r.m.BlockSize
		end := blockLen(r.m.Size, r.m.BlockSize, i)
		var err error
		var c int64
		if res.data != nil {
			var k int
			k, err = w.Write(res.data[start:end])
			c = int64(k)
		} else {
			c, err = writeZeros(w, end-start)
		}
		written += c
		r.pos += c
		if err == nil && c < end-start {
			err = io.ErrShortWrite
		}
		if err != nil {
			return written, err
		}
	}
	return written, nil
}

// writeZeros writes n zero bytes to w.
func writeZeros(w io.Writer, n int64) (int64, error) {
	var written int64
	for written < n {
		k, err := w.Write(zeroBuf[:min(n-written, int64(len(zeroBuf)))])
		written += int64(k)
		if err != nil {
			return written, err
		}
	}
	return written, nil
}
