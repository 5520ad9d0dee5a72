package blobapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/galleonhq/galleon"
)

// putBlob serves Put Blob: an empty page blob, or a block blob with its
// content.
func (s *Server) putBlob(req *request) error {
	kind := req.r.Header.Get("x-ms-blob-type")
	switch {
	case kind == "":
		return apiErrorf(galleon.EInvalid, "MissingRequiredHeader",
			"Put Blob needs the x-ms-blob-type header: PageBlob (a disk: also send x-ms-blob-content-length) or BlockBlob.")
	case strings.EqualFold(kind, galleon.PageBlob):
		return s.putPageBlob(req)
	case strings.EqualFold(kind, galleon.BlockBlob):
		return s.putBlockBlob(req)
	}
	return apiErrorf(galleon.EInvalid, "InvalidHeaderValue",
		"x-ms-blob-type: %s is not supported: use PageBlob or BlockBlob (append blobs are not supported).", kind)
}

// newBlobProps reads what Put Blob and Put Block List set besides content.
func newBlobProps(r *http.Request, kind string) (contentType string, meta map[string]string, err error) {
	meta, err = parseMetadata(r.Header)
	contentType = r.Header.Get("x-ms-blob-content-type")
	if contentType == "" && kind == galleon.BlockBlob && r.URL.Query().Get("comp") == "" {
		contentType = r.Header.Get("Content-Type")
	}
	return contentType, meta, err
}

// createTarget checks that the blob at l may be (re)created by this
// request and returns the existing blob (nil if none) and the region the
// new one goes to.
func (s *Server) createTarget(req *request, b *galleon.Blob, what string) (string, error) {
	if b == nil {
		if err := req.sas.require("cw", what+" that does not exist yet"); err != nil {
			return "", err
		}
		if s.AccountRegion != nil {
			if region, err := s.AccountRegion(req.r.Context(), req.loc.account); err == nil {
				return region, nil
			}
		}
		if s.DefaultRegion == "" {
			return "", apiErrorf(galleon.ENotFound, "BlobNotFound",
				"The blob '%s' does not exist, and this server creates no blobs of its own: blobs are created by the platform (a disk opened for upload). Upload to the URL grant-access gave you.", req.loc)
		}
		return s.DefaultRegion, nil
	}
	if err := req.sas.require("w", what); err != nil {
		return "", err
	}
	if b.Sealed {
		return "", sealed(req.loc)
	}
	return b.Region, nil
}

// target reads the blob at req.loc (nil if absent), checks this request may
// (re)create it and its conditional headers, and returns it with the region
// the new blob goes to. The caller holds the blob's lock when it writes.
func (s *Server) target(req *request, what string) (*galleon.Blob, string, error) {
	old, err := s.findBlob(req.ctx, req.loc)
	if err != nil {
		return nil, "", err
	}
	region, err := s.createTarget(req, old, what)
	if err != nil {
		return nil, "", err
	}
	if err := checkConditions(req.r, req.loc, old, true); err != nil {
		return nil, "", err
	}
	return old, region, nil
}

// checkWritable refuses writes to a sealed blob and checks the request's
// conditional headers against it.
func checkWritable(req *request, b *galleon.Blob) error {
	if b.Sealed {
		return sealed(req.loc)
	}
	return checkConditions(req.r, req.loc, b, true)
}

// putPageBlob creates (or replaces with) an empty page blob.
func (s *Server) putPageBlob(req *request) error {
	h := req.r.Header
	v := h.Get("x-ms-blob-content-length")
	if v == "" {
		return apiErrorf(galleon.EInvalid, "MissingRequiredHeader",
			"Put Blob of a page blob needs x-ms-blob-content-length, the blob's size in bytes (a multiple of 512).")
	}
	size, err := parseBlobSize(v)
	if err != nil {
		return err
	}
	if req.r.ContentLength > 0 {
		return apiErrorf(galleon.EInvalid, "InvalidHeaderValue",
			"Put Blob of a page blob takes no body, but Content-Length is %d; create the blob empty and write it with Put Page.", req.r.ContentLength)
	}
	contentType, meta, err := newBlobProps(req.r, galleon.PageBlob)
	if err != nil {
		return err
	}
	unlock, err := s.lock(req.ctx, req.loc)
	if err != nil {
		return err
	}
	defer unlock()
	old, region, err := s.target(req, "creating a blob")
	if err != nil {
		return err
	}
	b := &galleon.Blob{Account: req.loc.account, Container: req.loc.container, Name: req.loc.name, Kind: galleon.PageBlob,
		Region: region, Size: size, BlockSize: galleon.DefaultBlockSize, ContentType: contentType, Metadata: meta}
	if old != nil {
		b.Account, b.Container = old.Account, old.Container
		if old.BlockSize != 0 {
			b.BlockSize = old.BlockSize
		}
	}
	if _, err := blockSize(b); err != nil {
		return err
	}
	if err := s.Store.PutBlob(req.ctx, b); err != nil {
		return fmt.Errorf("put blob %s: %w", req.loc, err)
	}
	s.forgetView(req.loc.key())
	if err := s.Store.ClearStagedBlobBlocks(req.ctx, req.loc.account, req.loc.container, req.loc.name); err != nil {
		return fmt.Errorf("put blob %s: %w", req.loc, err)
	}
	setBlobHeaders(req.w.Header(), b, false)
	req.w.WriteHeader(http.StatusCreated)
	return nil
}

// parseBlobSize reads x-ms-blob-content-length.
func parseBlobSize(v string) (int64, error) {
	size, err := strconv.ParseInt(v, 10, 64)
	if err != nil || size <= 0 || size%512 != 0 || size > MaxBlobSize {
		return 0, apiErrorf(galleon.EInvalid, "InvalidHeaderValue",
			"x-ms-blob-content-length: %s is not a valid page blob size: give a positive multiple of 512 bytes up to %d (4 TiB).", v, int64(MaxBlobSize))
	}
	return size, nil
}

// putPage serves Put Page (update and clear).
func (s *Server) putPage(req *request) error {
	h := req.r.Header
	mode := strings.ToLower(h.Get("x-ms-page-write"))
	if mode != "update" && mode != "clear" {
		if mode == "" {
			return apiErrorf(galleon.EInvalid, "MissingRequiredHeader", "Put Page needs x-ms-page-write: update (write the body) or clear (zero the range).")
		}
		return apiErrorf(galleon.EInvalid, "InvalidHeaderValue", "x-ms-page-write: %s is not valid: use update or clear.", h.Get("x-ms-page-write"))
	}
	rng, name, ok, err := requestRange(h)
	if err != nil {
		return err
	}
	if !ok {
		return apiErrorf(galleon.EInvalid, "MissingRequiredHeader", "Put Page needs the range it writes in x-ms-range (or Range): bytes=START-END.")
	}
	if rng.end < 0 {
		return apiErrorf(galleon.EInvalid, "InvalidHeaderValue", "The %s of Put Page needs an end: bytes=START-END.", name)
	}
	if rng.start%512 != 0 || (rng.end+1)%512 != 0 {
		return apiErrorf(galleon.EInvalid, "InvalidPageRange",
			"The page range %d-%d is not aligned: pages are 512 bytes, so START must be a multiple of 512 and END one less than a multiple of 512.", rng.start, rng.end)
	}
	n := rng.end - rng.start + 1
	length, err := contentLength(req.r)
	if err != nil && mode == "update" {
		return err
	}
	switch {
	case mode == "update" && n > MaxPutPageBytes:
		return apiErrorf(galleon.ETooLarge, "RequestBodyTooLarge",
			"The page range %d-%d writes %d bytes, more than the %d one Put Page may write; split the write.", rng.start, rng.end, n, MaxPutPageBytes)
	case mode == "update" && length != n:
		return apiErrorf(galleon.EInvalid, "InvalidHeaderValue",
			"Content-Length %d does not match the %d bytes of the page range %d-%d; send exactly the range's bytes.", length, n, rng.start, rng.end)
	case mode == "clear" && length > 0:
		return apiErrorf(galleon.EInvalid, "InvalidHeaderValue", "Put Page with x-ms-page-write: clear takes no body, but Content-Length is %d.", length)
	}
	if err := sequenceConditions(h); err != nil {
		return err
	}
	if err := req.sas.require("w", "writing pages"); err != nil {
		return err
	}

	// Check the blob before reading the body, so a refused write stores nothing.
	b, err := s.getBlob(req.ctx, req.loc)
	if err != nil {
		return err
	}
	if err := checkPageWrite(req, b, rng); err != nil {
		return err
	}
	var data []byte
	var sums *checksums
	if mode == "update" {
		if sums, err = newChecksums(h); err != nil {
			return err
		}
		data = make([]byte, n)
		if err := readBody(req.r.Body, data); err != nil {
			return err
		}
		sums.Write(data)
		if err := sums.verify(); err != nil {
			return err
		}
	}
	// Whole blocks are hashed and stored before taking the lock.
	w := &pageWrite{start: rng.start, data: data, n: n}
	if mode == "update" {
		if err := s.planWholeBlocks(req.ctx, w, b); err != nil {
			return err
		}
	}

	unlock, err := s.lock(req.ctx, req.loc)
	if err != nil {
		return err
	}
	defer unlock()
	v, err := s.view(req.ctx, req.loc)
	if err != nil {
		return err
	}
	if err := checkPageWrite(req, v.blob, rng); err != nil {
		return err
	}
	if mode == "update" && (v.blob.Size != b.Size || v.blob.BlockSize != b.BlockSize || v.blob.Region != b.Region) {
		// Resized or replaced meanwhile: plan again for the blob as it is.
		if err := s.planWholeBlocks(req.ctx, w, v.blob); err != nil {
			return err
		}
	}
	if err := s.patchBlocks(req.ctx, w, v); err != nil {
		return err
	}
	if len(w.changes) > 0 {
		if err := s.Store.SetBlobBlocks(req.ctx, req.loc.account, req.loc.container, req.loc.name, w.changes); err != nil {
			return fmt.Errorf("record blocks of %s: %w", req.loc, err)
		}
		s.forgetView(req.loc.key())
	}
	after, err := s.getBlob(req.ctx, req.loc)
	if err != nil {
		return err
	}
	setBlobHeaders(req.w.Header(), after, false)
	if sums != nil {
		sums.setHeaders(req.w.Header())
	}
	req.w.WriteHeader(http.StatusCreated)
	return nil
}

// checkPageWrite checks that a Put Page may write rng of b.
func checkPageWrite(req *request, b *galleon.Blob, rng byteRange) error {
	if b.Kind != galleon.PageBlob {
		return wrongType(req.loc, b.Kind, galleon.PageBlob)
	}
	if err := checkWritable(req, b); err != nil {
		return err
	}
	if rng.end >= b.Size {
		return apiErrorf(galleon.EInvalid, "InvalidPageRange",
			"The page range %d-%d ends past the blob's %d bytes; write within the blob, or resize it first (Set Blob Properties with x-ms-blob-content-length).", rng.start, rng.end, b.Size)
	}
	return nil
}

// pageWrite is one Put Page on its way to the block map.
type pageWrite struct {
	start int64
	data  []byte // nil: clear
	n     int64
	// whole holds the digests of the blocks the write covers whole, as
	// planned for the blob's size, block size and region.
	whole map[int64]string
	// changes is what SetBlobBlocks records.
	changes map[int64]string
}

// planWholeBlocks hashes and stores the blocks the write covers whole.
func (s *Server) planWholeBlocks(ctx context.Context, w *pageWrite, b *galleon.Blob) error {
	bsz, err := blockSize(b)
	if err != nil {
		return err
	}
	bs, err := s.blockStore(b.Region)
	if err != nil {
		return err
	}
	w.whole = make(map[int64]string)
	end := w.start + w.n
	for i := w.start / bsz; i*bsz < end; i++ {
		lo, hi := i*bsz, i*bsz+naturalLen(b.Size, bsz, i)
		if lo < w.start || hi > end {
			continue
		}
		block := w.data[lo-w.start : hi-w.start]
		d := ""
		if !isZero(block) {
			d = digestOf(block)
			if err := bs.PutBlock(ctx, d, block); err != nil {
				return fmt.Errorf("store block %d: %w", i, err)
			}
		}
		w.whole[i] = d
	}
	return nil
}

// patchBlocks works out every block the write changes, under the lock:
// whole blocks from the plan (clears need none), partial ones by reading,
// patching and storing the block.
func (s *Server) patchBlocks(ctx context.Context, w *pageWrite, v *view) error {
	bsz := v.m.BlockSize
	size := v.blob.Size
	w.changes = make(map[int64]string)
	end := w.start + w.n
	for i := w.start / bsz; i*bsz < end; i++ {
		lo, hi := i*bsz, i*bsz+naturalLen(size, bsz, i)
		old := v.digest(i)
		if lo >= w.start && hi <= end {
			if w.data == nil {
				if old != "" {
					w.changes[i] = ""
				}
			} else if d := w.whole[i]; d != old {
				w.changes[i] = d
			}
			continue
		}
		if w.data == nil && old == "" {
			continue // clearing part of a zero block
		}
		block := make([]byte, hi-lo)
		if old != "" {
			cur, err := v.bs.GetBlock(ctx, old)
			if err != nil {
				return fmt.Errorf("read block %d (%s): %w", i, old, err)
			}
			copy(block, cur) // a full-length last block is cut to its natural length
		}
		from, to := max(lo, w.start), min(hi, end)
		if w.data == nil {
			clear(block[from-lo : to-lo])
		} else {
			copy(block[from-lo:to-lo], w.data[from-w.start:to-w.start])
		}
		d := ""
		if !isZero(block) {
			d = digestOf(block)
			if err := v.bs.PutBlock(ctx, d, block); err != nil {
				return fmt.Errorf("store block %d: %w", i, err)
			}
		}
		if d != old {
			w.changes[i] = d
		}
	}
	return nil
}

func digestOf(p []byte) string {
	sum := sha256.Sum256(p)
	return hex.EncodeToString(sum[:])
}

// setProperties serves Set Blob Properties: a page blob's size and the
// content type.
func (s *Server) setProperties(req *request) error {
	if err := req.sas.require("w", "setting blob properties"); err != nil {
		return err
	}
	h := req.r.Header
	if h.Get("x-ms-sequence-number-action") != "" {
		return apiErrorf(galleon.EInvalid, "UnsupportedHeader", "x-ms-sequence-number-action is not supported: page blobs here always have sequence number 0.")
	}
	newSize := int64(-1)
	if v := h.Get("x-ms-blob-content-length"); v != "" {
		var err error
		if newSize, err = parseBlobSize(v); err != nil {
			return err
		}
	}
	unlock, err := s.lock(req.ctx, req.loc)
	if err != nil {
		return err
	}
	defer unlock()
	v, err := s.view(req.ctx, req.loc)
	if err != nil {
		return err
	}
	b := *v.blob
	if err := checkWritable(req, &b); err != nil {
		return err
	}
	if newSize >= 0 && b.Kind != galleon.PageBlob {
		return apiErrorf(galleon.EInvalid, "InvalidHeaderValue",
			"x-ms-blob-content-length resizes page blobs only, and '%s' is a %s; upload the block blob again instead.", req.loc, b.Kind)
	}
	if _, ok := h["X-Ms-Blob-Content-Type"]; ok {
		b.ContentType = h.Get("x-ms-blob-content-type")
	}
	if newSize >= 0 && newSize != b.Size {
		if err := s.resize(req.ctx, v, &b, newSize); err != nil {
			return err
		}
	} else if err := s.Store.UpdateBlob(req.ctx, &b); err != nil {
		return fmt.Errorf("update blob %s: %w", req.loc, err)
	}
	s.forgetView(req.loc.key())
	setBlobHeaders(req.w.Header(), &b, false)
	req.w.WriteHeader(http.StatusOK)
	return nil
}

// resize changes a page blob's size to size (b is a copy of v.blob with
// the other new properties), passing only through states every reader
// accepts (doc.go, Content): blocks past the new end are dropped, the old
// last block is stored at full length, then the size changes, then the
// new last block is cut to its length.
func (s *Server) resize(ctx context.Context, v *view, b *galleon.Blob, size int64) error {
	bsz, l := v.m.BlockSize, loc{account: b.Account, container: b.Container, name: b.Name}
	oldSize := b.Size
	digests := map[int64]string{}
	digestAt := func(i int64) string {
		if d, ok := digests[i]; ok {
			return d
		}
		return v.digest(i)
	}
	// reshape stores block i at length n, keeping its first keep bytes
	// and zeroing the rest, and records it if it changed.
	reshape := func(i, keep, n int64) error {
		old := digestAt(i)
		if old == "" {
			return nil
		}
		cur, err := v.bs.GetBlock(ctx, old)
		if err != nil {
			return fmt.Errorf("resize %s: read block %d: %w", l, i, err)
		}
		block := make([]byte, n)
		copy(block, cur[:min(int64(len(cur)), keep)])
		d := ""
		if !isZero(block) {
			d = digestOf(block)
			if err := v.bs.PutBlock(ctx, d, block); err != nil {
				return fmt.Errorf("resize %s: store block %d: %w", l, i, err)
			}
		}
		if d == old {
			return nil
		}
		digests[i] = d
		if err := s.Store.SetBlobBlocks(ctx, l.account, l.container, l.name, map[int64]string{i: d}); err != nil {
			return fmt.Errorf("resize %s: record block %d: %w", l, i, err)
		}
		return nil
	}
	// 0. Blocks past the new end go first (the store drops them with
	// the size only when the blob's BlockSize is set), so that no crash
	// can leave old data to reappear when the blob grows again.
	if count := (size + bsz - 1) / bsz; size < oldSize {
		past := map[int64]string{}
		for _, blk := range v.m.Blocks {
			if blk.Index >= count {
				past[blk.Index] = ""
			}
		}
		if len(past) > 0 {
			if err := s.Store.SetBlobBlocks(ctx, l.account, l.container, l.name, past); err != nil {
				return fmt.Errorf("resize %s: drop blocks past the new end: %w", l, err)
			}
		}
	}
	// 1. The old last block, if partial and kept, at full length with
	// zeros past the old size.
	if last := (oldSize - 1) / bsz; oldSize%bsz != 0 && size > last*bsz {
		if err := reshape(last, oldSize-last*bsz, bsz); err != nil {
			return err
		}
	}
	// 2. The new size; the store drops the blocks past it.
	b.Size = size
	if err := s.Store.UpdateBlob(ctx, b); err != nil {
		return fmt.Errorf("resize %s: %w", l, err)
	}
	// 3. The new last block, if partial, cut to its length.
	if last := (size - 1) / bsz; size%bsz != 0 {
		n := size - last*bsz
		if err := reshape(last, n, n); err != nil {
			return err
		}
	}
	after, err := s.getBlob(ctx, l)
	if err != nil {
		return err
	}
	*b = *after
	return nil
}

// setMetadata serves Set Blob Metadata.
func (s *Server) setMetadata(req *request) error {
	if err := req.sas.require("w", "setting metadata"); err != nil {
		return err
	}
	meta, err := parseMetadata(req.r.Header)
	if err != nil {
		return err
	}
	unlock, err := s.lock(req.ctx, req.loc)
	if err != nil {
		return err
	}
	defer unlock()
	b, err := s.getBlob(req.ctx, req.loc)
	if err != nil {
		return err
	}
	if err := checkWritable(req, b); err != nil {
		return err
	}
	b.Metadata = meta
	if err := s.Store.UpdateBlob(req.ctx, b); err != nil {
		return fmt.Errorf("update blob %s: %w", req.loc, err)
	}
	s.forgetView(req.loc.key())
	setBlobHeaders(req.w.Header(), b, false)
	req.w.WriteHeader(http.StatusOK)
	return nil
}

// deleteBlob serves Delete Blob: the blob, its block map and its staged
// blocks. Its blocks stay in the block store for garbage collection.
func (s *Server) deleteBlob(req *request) error {
	if err := req.sas.require("d", "deleting a blob"); err != nil {
		return err
	}
	unlock, err := s.lock(req.ctx, req.loc)
	if err != nil {
		return err
	}
	defer unlock()
	b, err := s.getBlob(req.ctx, req.loc)
	if err != nil {
		return err
	}
	if err := checkWritable(req, b); err != nil {
		return err
	}
	if err := s.Store.ClearStagedBlobBlocks(req.ctx, req.loc.account, req.loc.container, req.loc.name); err != nil {
		return fmt.Errorf("delete blob %s: %w", req.loc, err)
	}
	if err := s.Store.DeleteBlob(req.ctx, req.loc.account, req.loc.container, req.loc.name); err != nil {
		if galleon.ErrorCode(err) == galleon.ENotFound {
			return notFound(req.loc)
		}
		return fmt.Errorf("delete blob %s: %w", req.loc, err)
	}
	s.forgetView(req.loc.key())
	req.w.Header().Set("x-ms-delete-type-permanent", "true")
	req.w.Header().Set("Content-Length", "0")
	req.w.WriteHeader(http.StatusAccepted)
	return nil
}
