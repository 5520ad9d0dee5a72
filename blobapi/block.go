package blobapi

import (
	"context"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/galleonhq/galleon"
)

// pieceSize is the size of the pieces a staged block is stored in.
const pieceSize = galleon.DefaultBlockSize

// readChunk is how much of a request body is read at a time when it is
// streamed into blocks.
const readChunk = 1 << 20

// putBlockBlob serves Put Blob of a block blob: the body is cut into
// fixed-size blocks, and blob, block map and (empty) committed block list
// are recorded in one transaction.
func (s *Server) putBlockBlob(req *request) error {
	length, err := contentLength(req.r)
	if err != nil {
		return err
	}
	if length > MaxPutBlobBytes {
		return apiErrorf(galleon.ETooLarge, "RequestBodyTooLarge",
			"The body has %d bytes, more than the %d one Put Blob may upload; upload larger blobs with Put Block and Put Block List (the SDK's UploadStream or UploadFile do).", length, MaxPutBlobBytes)
	}
	contentType, meta, err := newBlobProps(req.r, galleon.BlockBlob)
	if err != nil {
		return err
	}
	sums, err := newChecksums(req.r.Header)
	if err != nil {
		return err
	}
	// Check before reading the body, so a refused upload stores nothing.
	old, region, err := s.target(req, "uploading a blob")
	if err != nil {
		return err
	}
	bsz := int64(galleon.DefaultBlockSize)
	if old != nil && old.BlockSize != 0 {
		if bsz, err = blockSize(old); err != nil {
			return err
		}
	}
	dst, err := s.blockStore(region)
	if err != nil {
		return err
	}
	c := newCutter(req.ctx, dst, bsz)
	buf := make([]byte, min(length, readChunk))
	for done := int64(0); done < length; {
		p := buf[:min(int64(len(buf)), length-done)]
		if err := readBody(req.r.Body, p); err != nil {
			return err
		}
		sums.Write(p)
		if _, err := c.Write(p); err != nil {
			return err
		}
		done += int64(len(p))
	}
	if err := sums.verify(); err != nil {
		return err
	}
	if err := c.close(); err != nil {
		return err
	}

	unlock, err := s.lock(req.ctx, req.loc)
	if err != nil {
		return err
	}
	defer unlock()
	now, again, err := s.target(req, "uploading a blob")
	if err != nil {
		return err
	}
	if again != region || now != nil && now.BlockSize != 0 && now.BlockSize != bsz {
		return apiErrorf(galleon.ETooManyRequests, "ServerBusy", "The blob '%s' was replaced during the upload; send the request again.", req.loc)
	}
	b := &galleon.Blob{Account: req.loc.account, Container: req.loc.container, Name: req.loc.name, Kind: galleon.BlockBlob,
		Region: region, Size: length, BlockSize: bsz, ContentType: contentType, Metadata: meta}
	if now != nil {
		b.Account, b.Container = now.Account, now.Container
	}
	if err := s.Store.CommitBlockBlob(req.ctx, b, c.blocks, nil); err != nil {
		return fmt.Errorf("put blob %s: %w", req.loc, err)
	}
	s.forgetView(req.loc.key())
	setBlobHeaders(req.w.Header(), b, false)
	sums.setHeaders(req.w.Header())
	req.w.WriteHeader(http.StatusCreated)
	return nil
}

// putBlock serves Put Block: the body is stored as pieces in the block
// store of the blob's region and recorded as an uncommitted block.
func (s *Server) putBlock(req *request) error {
	id := req.query.Get("blockid")
	if id == "" {
		return apiErrorf(galleon.EInvalid, "MissingRequiredQueryParameter", "Put Block needs the blockid query parameter: the block's ID in base64.")
	}
	if raw, err := base64.StdEncoding.DecodeString(id); err != nil || len(raw) > 64 {
		return apiErrorf(galleon.EInvalid, "InvalidQueryParameterValue",
			"blockid=%s is not valid: a block ID is the base64 of at most 64 bytes (percent-encode it in the URL).", id)
	}
	length, err := contentLength(req.r)
	if err != nil {
		return err
	}
	switch {
	case length == 0:
		return apiErrorf(galleon.EInvalid, "InvalidHeaderValue", "Put Block has an empty body; a block holds at least one byte.")
	case length > MaxPutBlockBytes:
		return apiErrorf(galleon.ETooLarge, "RequestBodyTooLarge",
			"The block has %d bytes, more than the %d one Put Block may stage; use smaller blocks.", length, int64(MaxPutBlockBytes))
	}
	sums, err := newChecksums(req.r.Header)
	if err != nil {
		return err
	}
	old, err := s.findBlob(req.ctx, req.loc)
	if err != nil {
		return err
	}
	if old != nil && old.Kind != galleon.BlockBlob {
		return wrongType(req.loc, old.Kind, galleon.BlockBlob)
	}
	region, err := s.createTarget(req, old, "staging a block")
	if err != nil {
		return err
	}
	bs, err := s.blockStore(region)
	if err != nil {
		return err
	}
	staged := &galleon.StagedBlock{ID: id, Size: length, Region: region, PieceSize: pieceSize}
	buf := make([]byte, min(length, pieceSize))
	for done := int64(0); done < length; {
		p := buf[:min(int64(len(buf)), length-done)]
		if err := readBody(req.r.Body, p); err != nil {
			return err
		}
		sums.Write(p)
		d := ""
		if !isZero(p) {
			d = digestOf(p)
			if err := bs.PutBlock(req.ctx, d, p); err != nil {
				return fmt.Errorf("stage block %q of %s: %w", id, req.loc, err)
			}
		}
		staged.Pieces = append(staged.Pieces, d)
		done += int64(len(p))
	}
	if err := sums.verify(); err != nil {
		return err
	}
	if err := s.Store.StageBlobBlock(req.ctx, req.loc.account, req.loc.container, req.loc.name, staged); err != nil {
		return fmt.Errorf("stage block %q of %s: %w", id, req.loc, err)
	}
	sums.setHeaders(req.w.Header())
	req.w.WriteHeader(http.StatusCreated)
	return nil
}

// blockLookupList is the body of Put Block List: Latest, Committed and
// Uncommitted entries, whose order is the blob's.
type blockLookupList struct {
	XMLName xml.Name
	Items   []struct {
		XMLName xml.Name
		ID      string `xml:",chardata"`
	} `xml:",any"`
}

// putBlockList serves Put Block List: the listed blocks, in order, become
// the blob's content and committed block list.
func (s *Server) putBlockList(req *request) error {
	body, err := io.ReadAll(http.MaxBytesReader(req.w, req.r.Body, maxBlockListBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return apiErrorf(galleon.ETooLarge, "RequestBodyTooLarge", "The block list is larger than the %d bytes allowed.", int64(maxBlockListBody))
		}
		return apiErrorf(galleon.EInvalid, "InvalidInput", "Reading the block list failed (%v); send it again.", err)
	}
	sums, err := newChecksums(req.r.Header)
	if err != nil {
		return err
	}
	sums.Write(body)
	if err := sums.verify(); err != nil {
		return err
	}
	var list blockLookupList
	if err := xml.Unmarshal(body, &list); err != nil || list.XMLName.Local != "BlockList" {
		why := "its root element is not <BlockList>"
		if err != nil {
			why = err.Error()
		}
		return apiErrorf(galleon.EInvalid, "InvalidXmlDocument",
			"The block list is not a valid XML document (%s): send <BlockList> with <Latest>, <Committed> or <Uncommitted> elements holding block IDs.", why)
	}
	if len(list.Items) > MaxBlockListBlocks {
		return apiErrorf(galleon.EInvalid, "InvalidBlockList", "The block list names %d blocks, more than the %d a blob may have.", len(list.Items), MaxBlockListBlocks)
	}
	contentType, meta, err := newBlobProps(req.r, galleon.BlockBlob)
	if err != nil {
		return err
	}

	unlock, err := s.lock(req.ctx, req.loc)
	if err != nil {
		return err
	}
	defer unlock()
	old, err := s.findBlob(req.ctx, req.loc)
	if err != nil {
		return err
	}
	if old != nil && old.Kind != galleon.BlockBlob {
		return wrongType(req.loc, old.Kind, galleon.BlockBlob)
	}
	region, err := s.createTarget(req, old, "committing a block list")
	if err != nil {
		return err
	}
	if err := checkConditions(req.r, req.loc, old, true); err != nil {
		return err
	}
	staged, err := s.Store.ListStagedBlobBlocks(req.ctx, req.loc.account, req.loc.container, req.loc.name)
	if err != nil {
		return fmt.Errorf("list staged blocks of %s: %w", req.loc, err)
	}
	committed, uncommitted := map[string]*galleon.StagedBlock{}, map[string]*galleon.StagedBlock{}
	for _, st := range staged {
		m := uncommitted
		if st.Committed {
			m = committed
		}
		if _, dup := m[st.ID]; !dup {
			m[st.ID] = st
		}
	}
	sources := make([]*galleon.StagedBlock, len(list.Items))
	var total int64
	readsOld := false
	for i, it := range list.Items {
		id := strings.TrimSpace(it.ID)
		var src *galleon.StagedBlock
		switch it.XMLName.Local {
		case "Latest":
			if src = uncommitted[id]; src == nil {
				src = committed[id]
			}
		case "Uncommitted":
			src = uncommitted[id]
		case "Committed":
			src = committed[id]
		default:
			return apiErrorf(galleon.EInvalid, "InvalidXmlDocument",
				"The block list has a <%s> element; use <Latest>, <Committed> or <Uncommitted>.", it.XMLName.Local)
		}
		if src == nil {
			return apiErrorf(galleon.EInvalid, "InvalidBlockList",
				"The block list names block '%s' as %s, and the blob '%s' has no such block. Stage it with Put Block first, or name it as Latest.", id, it.XMLName.Local, req.loc)
		}
		readsOld = readsOld || src.Committed
		sources[i] = src
		total += src.Size
	}
	if total > MaxBlobSize {
		return apiErrorf(galleon.EInvalid, "InvalidBlockList", "The listed blocks add up to %d bytes, more than the %d a blob may have.", total, int64(MaxBlobSize))
	}
	bsz := int64(galleon.DefaultBlockSize)
	if old != nil && old.BlockSize != 0 {
		if bsz, err = blockSize(old); err != nil {
			return err
		}
	}
	var oldContent io.ReaderAt
	var oldSize int64
	if readsOld {
		v, err := s.view(req.ctx, req.loc)
		if err != nil {
			return err
		}
		oldContent, oldSize = v.reader(req.ctx), v.blob.Size
	}
	dst, err := s.blockStore(region)
	if err != nil {
		return err
	}
	c := newCutter(req.ctx, dst, bsz)
	stores := map[string]galleon.BlockStore{}
	newList := make([]*galleon.StagedBlock, len(sources))
	var offset int64
	for i, src := range sources {
		if src.Committed {
			if src.Offset < 0 || src.Offset+src.Size > oldSize {
				return apiErrorf(galleon.EInvalid, "InvalidBlockList",
					"The committed block '%s' (bytes %d-%d) is no longer part of the blob '%s', which has %d bytes; upload it again with Put Block.",
					src.ID, src.Offset, src.Offset+src.Size-1, req.loc, oldSize)
			}
			if _, err := io.CopyBuffer(c, io.NewSectionReader(oldContent, src.Offset, src.Size), make([]byte, readChunk)); err != nil {
				return fmt.Errorf("commit %s: copy committed block %q: %w", req.loc, src.ID, err)
			}
		} else if err := s.copyPieces(req.ctx, c, src, stores); err != nil {
			return fmt.Errorf("commit %s: %w", req.loc, err)
		}
		newList[i] = &galleon.StagedBlock{ID: src.ID, Size: src.Size, Offset: offset}
		offset += src.Size
	}
	if err := c.close(); err != nil {
		return err
	}
	if c.written != total {
		return fmt.Errorf("commit %s: the listed blocks gave %d bytes, not %d", req.loc, c.written, total)
	}
	b := &galleon.Blob{Account: req.loc.account, Container: req.loc.container, Name: req.loc.name, Kind: galleon.BlockBlob,
		Region: region, Size: total, BlockSize: bsz, ContentType: contentType, Metadata: meta}
	if old != nil {
		b.Account, b.Container = old.Account, old.Container
	}
	if err := s.Store.CommitBlockBlob(req.ctx, b, c.blocks, newList); err != nil {
		return fmt.Errorf("commit %s: %w", req.loc, err)
	}
	s.forgetView(req.loc.key())
	setBlobHeaders(req.w.Header(), b, false)
	req.w.WriteHeader(http.StatusCreated)
	return nil
}

// copyPieces writes an uncommitted block's content to c.
func (s *Server) copyPieces(ctx context.Context, c *cutter, src *galleon.StagedBlock, stores map[string]galleon.BlockStore) error {
	if src.PieceSize <= 0 || (src.Size+src.PieceSize-1)/src.PieceSize != int64(len(src.Pieces)) {
		return fmt.Errorf("staged block %q: %d pieces of %d bytes cannot hold %d bytes", src.ID, len(src.Pieces), src.PieceSize, src.Size)
	}
	bs, ok := stores[src.Region]
	if !ok {
		var err error
		if bs, err = s.blockStore(src.Region); err != nil {
			return err
		}
		stores[src.Region] = bs
	}
	for k, d := range src.Pieces {
		n := min(src.PieceSize, src.Size-int64(k)*src.PieceSize)
		if d == "" {
			if err := c.writeZeros(n); err != nil {
				return err
			}
			continue
		}
		data, err := bs.GetBlock(ctx, d)
		if err != nil {
			return fmt.Errorf("staged block %q: read piece %d (%s): %w", src.ID, k, d, err)
		}
		if int64(len(data)) != n {
			return fmt.Errorf("staged block %q: piece %d (%s) holds %d bytes, not %d", src.ID, k, d, len(data), n)
		}
		if _, err := c.Write(data); err != nil {
			return err
		}
	}
	return nil
}

// cutter cuts a stream of content into blocks of a fixed size, puts the
// non-zero ones into a block store and lists them. The last block is cut
// at the content's length rounded up to 512 bytes, padded with zeros.
type cutter struct {
	ctx     context.Context
	dst     galleon.BlockStore
	buf     []byte // one block
	n       int    // bytes of buf filled
	index   int64  // index of the block in buf
	written int64  // bytes of content so far
	blocks  []galleon.ManifestBlock
}

func newCutter(ctx context.Context, dst galleon.BlockStore, bsz int64) *cutter {
	return &cutter{ctx: ctx, dst: dst, buf: make([]byte, bsz)}
}

// Write adds p to the content.
func (c *cutter) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		k := copy(c.buf[c.n:], p)
		c.n += k
		c.written += int64(k)
		p = p[k:]
		written += k
		if c.n == len(c.buf) {
			if err := c.flush(); err != nil {
				return written, err
			}
		}
	}
	return written, nil
}

// writeZeros adds n zero bytes; whole zero blocks cost nothing.
func (c *cutter) writeZeros(n int64) error {
	c.written += n
	for n > 0 {
		if c.n == 0 && n >= int64(len(c.buf)) {
			skip := n / int64(len(c.buf))
			c.index += skip
			n -= skip * int64(len(c.buf))
			continue
		}
		k := min(n, int64(len(c.buf)-c.n))
		clear(c.buf[c.n : c.n+int(k)])
		c.n += int(k)
		n -= k
		if c.n == len(c.buf) {
			if err := c.flush(); err != nil {
				return err
			}
		}
	}
	return nil
}

// flush stores the block in buf (padded to 512 bytes) unless it is zero.
func (c *cutter) flush() error {
	if c.n == 0 {
		return nil
	}
	block := c.buf[:roundUp512(int64(c.n))]
	clear(block[c.n:])
	if !isZero(block) {
		d := digestOf(block)
		if err := c.dst.PutBlock(c.ctx, d, block); err != nil {
			return fmt.Errorf("store block %d: %w", c.index, err)
		}
		c.blocks = append(c.blocks, galleon.ManifestBlock{Index: c.index, Digest: d})
	}
	c.index++
	c.n = 0
	return nil
}

// close stores the last, partial block.
func (c *cutter) close() error { return c.flush() }
