package blobapi

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"hash/crc64"
	"io"
	"net/http"
	"strconv"

	"github.com/galleonhq/galleon"
	"github.com/galleonhq/galleon/manifest"
)

// maxRangeChecksum is the largest range whose MD5 or CRC-64 Get Blob
// returns (x-ms-range-get-content-md5/-crc64), as in Azure.
const maxRangeChecksum = 4 << 20

// readBlob serves Get Blob (GET) and Get Blob Properties (HEAD).
func (s *Server) readBlob(req *request) error {
	if err := req.sas.require("r", "reading a blob"); err != nil {
		return err
	}
	v, err := s.view(req.ctx, req.loc)
	if err != nil {
		return err
	}
	b := v.blob
	h := req.w.Header()
	if err := checkConditions(req.r, req.loc, b, false); err == errNotModified {
		setBlobHeaders(h, b, false)
		req.w.WriteHeader(http.StatusNotModified)
		return nil
	} else if err != nil {
		return err
	}
	if req.r.Method == http.MethodHead {
		setBlobHeaders(h, b, true)
		h.Set("Content-Length", strconv.FormatInt(b.Size, 10))
		req.w.WriteHeader(http.StatusOK)
		return nil
	}
	rng, name, ranged, err := requestRange(req.r.Header)
	if err != nil {
		return err
	}
	start, end := int64(0), b.Size-1
	if ranged {
		if rng.start >= b.Size {
			return galleon.ReasonErrorf(galleon.EInvalid, "InvalidRange",
				"The range specified is invalid for the current size of the resource: %s starts at byte %d, and the blob has %d bytes.",
				name, rng.start, b.Size).WithTarget(fmt.Sprintf("bytes */%d", b.Size))
		}
		start = rng.start
		if rng.end >= 0 && rng.end < end {
			end = rng.end
		}
	}
	n := end - start + 1
	body := io.NewSectionReader(v.reader(req.ctx), start, n)

	var sums [][2]string
	for _, c := range []struct{ header, out string }{
		{"x-ms-range-get-content-md5", "Content-MD5"}, {"x-ms-range-get-content-crc64", "x-ms-content-crc64"},
	} {
		if req.r.Header.Get(c.header) != "true" {
			continue
		}
		if !ranged || n > maxRangeChecksum {
			return apiErrorf(galleon.EInvalid, "OutOfRangeInput",
				"%s: true needs a range of at most %d bytes; ask for a smaller range.", c.header, maxRangeChecksum)
		}
		sums = append(sums, [2]string{c.out, ""})
	}
	if len(sums) > 0 {
		// The checksum goes in a header, so the range is read first.
		buf := make([]byte, n)
		if _, err := io.ReadFull(body, buf); err != nil {
			return fmt.Errorf("read %s: %w", req.loc, err)
		}
		for i := range sums {
			if sums[i][0] == "Content-MD5" {
				sum := md5.Sum(buf)
				sums[i][1] = base64.StdEncoding.EncodeToString(sum[:])
			} else {
				sums[i][1] = base64.StdEncoding.EncodeToString(binary.LittleEndian.AppendUint64(nil, crc64.Checksum(buf, crc64Table)))
			}
		}
		body = io.NewSectionReader(byteReaderAt(buf), 0, n)
	}

	setBlobHeaders(h, b, true)
	for _, sum := range sums {
		h.Set(sum[0], sum[1])
	}
	h.Set("Content-Length", strconv.FormatInt(n, 10))
	st := http.StatusOK
	if ranged {
		h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, end, b.Size))
		st = http.StatusPartialContent
	}
	req.w.WriteHeader(st)
	if _, err := io.CopyBuffer(req.w, body, make([]byte, 256<<10)); err != nil {
		return fmt.Errorf("send %s bytes %d-%d: %w", req.loc, start, end, err)
	}
	return nil
}

type byteReaderAt []byte

func (b byteReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(b)) {
		return 0, io.EOF
	}
	n := copy(p, b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// pageList is the answer of Get Page Ranges.
type pageList struct {
	XMLName    xml.Name    `xml:"PageList"`
	PageRange  []pageRange `xml:"PageRange"`
	NextMarker string      `xml:"NextMarker"`
}

type pageRange struct {
	Start int64 `xml:"Start"`
	End   int64 `xml:"End"`
}

// getPageRanges serves Get Page Ranges: the non-zero blocks of a page blob,
// merged into ranges, within the requested range if one is sent.
func (s *Server) getPageRanges(req *request) error {
	if err := req.sas.require("r", "listing page ranges"); err != nil {
		return err
	}
	if req.query.Has("prevsnapshot") || req.r.Header.Get("x-ms-previous-snapshot-url") != "" {
		return apiErrorf(galleon.EInvalid, "UnsupportedQueryParameter", "Page range diffs against snapshots are not supported: this server keeps no snapshots.")
	}
	v, err := s.view(req.ctx, req.loc)
	if err != nil {
		return err
	}
	b := v.blob
	if b.Kind != galleon.PageBlob {
		return wrongType(req.loc, b.Kind, galleon.PageBlob)
	}
	if err := checkConditions(req.r, req.loc, b, false); err == errNotModified {
		setBlobHeaders(req.w.Header(), b, false)
		req.w.WriteHeader(http.StatusNotModified)
		return nil
	} else if err != nil {
		return err
	}
	lo, hi := int64(0), b.Size-1
	rng, _, ranged, err := requestRange(req.r.Header)
	if err != nil {
		return err
	}
	if ranged {
		lo = rng.start
		if rng.end >= 0 {
			hi = min(hi, rng.end)
		}
	}
	list := pageList{PageRange: []pageRange{}}
	bsz := v.m.BlockSize
	for _, blk := range v.m.Blocks {
		start, end := max(blk.Index*bsz, lo), min((blk.Index+1)*bsz, b.Size)-1
		end = min(end, hi)
		if start > end {
			continue
		}
		if k := len(list.PageRange) - 1; k >= 0 && list.PageRange[k].End+1 == start {
			list.PageRange[k].End = end
			continue
		}
		list.PageRange = append(list.PageRange, pageRange{Start: start, End: end})
	}
	h := req.w.Header()
	setBlobHeaders(h, b, false)
	h.Set("x-ms-blob-content-length", strconv.FormatInt(b.Size, 10))
	return writeXML(req.w, http.StatusOK, list)
}

// blockList is the answer of Get Block List.
type blockList struct {
	XMLName           xml.Name        `xml:"BlockList"`
	CommittedBlocks   *blockListItems `xml:"CommittedBlocks,omitempty"`
	UncommittedBlocks *blockListItems `xml:"UncommittedBlocks,omitempty"`
}

type blockListItems struct {
	Block []blockListItem `xml:"Block"`
}

type blockListItem struct {
	Name string `xml:"Name"`
	Size int64  `xml:"Size"`
}

// getBlockList serves Get Block List.
func (s *Server) getBlockList(req *request) error {
	if err := req.sas.require("r", "listing blocks"); err != nil {
		return err
	}
	which := req.query.Get("blocklisttype")
	if which == "" {
		which = "committed"
	}
	if which != "committed" && which != "uncommitted" && which != "all" {
		return apiErrorf(galleon.EInvalid, "InvalidQueryParameterValue",
			"blocklisttype=%s is not valid: use committed, uncommitted or all.", which)
	}
	b, err := s.findBlob(req.ctx, req.loc)
	if err != nil {
		return err
	}
	if b != nil && b.Kind != galleon.BlockBlob {
		return wrongType(req.loc, b.Kind, galleon.BlockBlob)
	}
	staged, err := s.Store.ListStagedBlobBlocks(req.ctx, req.loc.account, req.loc.container, req.loc.name)
	if err != nil {
		return fmt.Errorf("list staged blocks of %s: %w", req.loc, err)
	}
	var committed, uncommitted blockListItems
	for _, st := range staged {
		if st.Committed {
			committed.Block = append(committed.Block, blockListItem{Name: st.ID, Size: st.Size})
		} else {
			uncommitted.Block = append(uncommitted.Block, blockListItem{Name: st.ID, Size: st.Size})
		}
	}
	if b == nil && len(uncommitted.Block) == 0 {
		return notFound(req.loc)
	}
	var out blockList
	if which != "uncommitted" {
		out.CommittedBlocks = &committed
	}
	if which != "committed" {
		out.UncommittedBlocks = &uncommitted
	}
	h := req.w.Header()
	if b != nil {
		setBlobHeaders(h, b, false)
		h.Set("x-ms-blob-content-length", strconv.FormatInt(b.Size, 10))
	}
	return writeXML(req.w, http.StatusOK, out)
}

// getMetadata serves Get Blob Metadata.
func (s *Server) getMetadata(req *request) error {
	if err := req.sas.require("r", "reading metadata"); err != nil {
		return err
	}
	b, err := s.getBlob(req.ctx, req.loc)
	if err != nil {
		return err
	}
	if err := checkConditions(req.r, req.loc, b, false); err == errNotModified {
		setBlobHeaders(req.w.Header(), b, false)
		req.w.WriteHeader(http.StatusNotModified)
		return nil
	} else if err != nil {
		return err
	}
	h := req.w.Header()
	setBlobHeaders(h, b, false)
	setMetadataHeaders(h, b.Metadata)
	h.Set("Content-Length", "0")
	req.w.WriteHeader(http.StatusOK)
	return nil
}

// writeXML answers with an XML document.
func writeXML(w http.ResponseWriter, status int, v any) error {
	body, err := xml.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %T: %w", v, err)
	}
	body = append([]byte(xml.Header), body...)
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
	return nil
}

// Manifest returns the current content of the blob b names (Account,
// Container, Name) as a manifest, and the block store that holds its
// blocks. Size is the blob's size rounded up to 512 bytes (block blobs of
// other sizes read as their content padded with zeros), BlockSize the
// blob's block size, and Digest is set. The manifest is a copy the caller
// owns.
//
// When the blob's last block is stored at full length (a resize was in
// progress, or interrupted), Manifest stores the block cut to its length
// and lists that instead. Other blocks are not re-put: a caller that
// commits a manifest referencing them follows galleon.BlockStore's rule
// for garbage collection (manifest.Copy, for one, puts every block).
//
// Returns ENotFound (BlobNotFound) if the blob is missing, and
// EPreconditionFailed if b.ETag is set and the blob has changed since.
func (s *Server) Manifest(ctx context.Context, b *galleon.Blob) (*galleon.DiskManifest, galleon.BlockStore, error) {
	l := loc{account: b.Account, container: b.Container, name: b.Name}
	v, err := s.view(ctx, l)
	if err != nil {
		return nil, nil, err
	}
	if b.ETag != "" && v.blob.ETag != b.ETag {
		return nil, nil, apiErrorf(galleon.EPreconditionFailed, "ConditionNotMet",
			"The blob '%s' changed since it was read (ETag %s, now %s); read it again.", l, b.ETag, v.blob.ETag)
	}
	size := roundUp512(v.blob.Size)
	m := &galleon.DiskManifest{Size: size, BlockSize: v.m.BlockSize, Blocks: append([]galleon.ManifestBlock{}, v.m.Blocks...)}
	if v.m.Size != size {
		// The last block is stored at full length: cut it.
		k := len(m.Blocks) - 1
		last := m.Blocks[k]
		data, err := v.bs.GetBlock(ctx, last.Digest)
		if err != nil {
			return nil, nil, fmt.Errorf("blob %s: read last block %d: %w", l, last.Index, err)
		}
		cut := data[:size-last.Index*m.BlockSize]
		if isZero(cut) {
			m.Blocks = m.Blocks[:k]
		} else {
			sum := sha256.Sum256(cut)
			d := hex.EncodeToString(sum[:])
			if err := v.bs.PutBlock(ctx, d, cut); err != nil {
				return nil, nil, fmt.Errorf("blob %s: store cut last block %d: %w", l, last.Index, err)
			}
			m.Blocks[k].Digest = d
		}
	}
	d, err := manifest.ComputeDigest(m)
	if err != nil {
		return nil, nil, fmt.Errorf("blob %s: %w", l, err)
	}
	m.Digest = d
	return m, v.bs, nil
}
