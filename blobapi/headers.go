package blobapi

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"hash"
	"hash/crc64"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/galleonhq/galleon"
)

// crc64Table is Azure's CRC-64 (x-ms-content-crc64: the little-endian
// checksum, base64).
var crc64Table = crc64.MakeTable(0x9A6C9329AC4BC9B5)

// errNotModified signals a read whose conditions call for 304.
var errNotModified = errors.New("not modified")

// checkConditions evaluates If-Match, If-None-Match, If-Modified-Since and
// If-Unmodified-Since against b (nil: the blob does not exist). For reads
// a failed If-None-Match or If-Modified-Since is errNotModified.
func checkConditions(r *http.Request, l loc, b *galleon.Blob, write bool) error {
	h := r.Header
	notMet := func(what string) error {
		return apiErrorf(galleon.EPreconditionFailed, "ConditionNotMet",
			"The condition specified using HTTP conditional header(s) is not met: %s. Read the blob's properties again and retry with its current ETag.", what)
	}
	if v := h.Get("If-Match"); v != "" {
		if b == nil {
			return notMet("If-Match requires the blob '" + l.String() + "' to exist, and it does not")
		}
		if !etagListMatches(v, b.ETag) {
			return notMet("If-Match " + v + " differs from the blob's ETag " + b.ETag)
		}
	}
	if v := h.Get("If-None-Match"); v != "" && b != nil && etagListMatches(v, b.ETag) {
		switch {
		case !write:
			return errNotModified
		case strings.TrimSpace(v) == "*":
			return apiErrorf(galleon.EConflict, "BlobAlreadyExists",
				"The blob '%s' already exists, and the request said If-None-Match: *. Send the request without it to replace the blob (az: --overwrite true).", l)
		default:
			return notMet("If-None-Match " + v + " matches the blob's ETag")
		}
	}
	if b == nil {
		return nil
	}
	changed := b.ChangedAt.Truncate(time.Second)
	if t, err := http.ParseTime(h.Get("If-Modified-Since")); err == nil && !changed.After(t) {
		if !write {
			return errNotModified
		}
		return notMet("the blob was not modified since " + t.Format(http.TimeFormat))
	}
	if t, err := http.ParseTime(h.Get("If-Unmodified-Since")); err == nil && changed.After(t) {
		return notMet("the blob was modified since " + t.Format(http.TimeFormat))
	}
	return nil
}

// etagListMatches reports whether a comma-separated list of entity tags
// (or "*") matches etag, comparing weakly.
func etagListMatches(list, etag string) bool {
	for t := range strings.SplitSeq(list, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == strings.TrimPrefix(etag, "W/") {
			return true
		}
	}
	return false
}

// parseMetadata reads the x-ms-meta-* headers. Names are kept in lower
// case (HTTP header names are case-insensitive, and Go's server folds them).
func parseMetadata(h http.Header) (map[string]string, error) {
	var meta map[string]string
	total := 0
	for k, vs := range h {
		lk := strings.ToLower(k)
		if !strings.HasPrefix(lk, "x-ms-meta-") {
			continue
		}
		name := lk[len("x-ms-meta-"):]
		if !validMetadataName(name) {
			return nil, apiErrorf(galleon.EInvalid, "InvalidMetadata",
				"The metadata name '%s' is not valid: use letters, digits and underscores, not starting with a digit.", name)
		}
		if meta == nil {
			meta = make(map[string]string)
		}
		meta[name] = strings.Join(vs, ",")
		total += len(name) + len(meta[name])
	}
	if total > maxMetadataBytes {
		return nil, apiErrorf(galleon.EInvalid, "MetadataTooLarge",
			"The metadata takes %d bytes, more than the %d allowed; store fewer or shorter values.", total, maxMetadataBytes)
	}
	return meta, nil
}

func validMetadataName(n string) bool {
	if n == "" || n[0] >= '0' && n[0] <= '9' {
		return false
	}
	for _, c := range n {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// setBlobHeaders writes the ETag, Last-Modified and, when full, the
// properties and metadata of b.
func setBlobHeaders(h http.Header, b *galleon.Blob, full bool) {
	h.Set("ETag", b.ETag)
	h.Set("Last-Modified", b.ChangedAt.UTC().Format(http.TimeFormat))
	if b.Kind == galleon.PageBlob {
		h.Set("x-ms-blob-sequence-number", "0")
	}
	if !full {
		return
	}
	h.Set("x-ms-blob-type", b.Kind)
	h.Set("x-ms-creation-time", b.CreatedAt.UTC().Format(http.TimeFormat))
	h.Set("x-ms-lease-state", "available")
	h.Set("x-ms-lease-status", "unlocked")
	h.Set("Accept-Ranges", "bytes")
	ct := b.ContentType
	if ct == "" {
		ct = "application/octet-stream"
	}
	h.Set("Content-Type", ct)
	setMetadataHeaders(h, b.Metadata)
}

func setMetadataHeaders(h http.Header, meta map[string]string) {
	for k, v := range meta {
		h["x-ms-meta-"+k] = []string{v}
	}
}

// byteRange is an inclusive range of bytes; end < 0 means to the end.
type byteRange struct {
	start, end int64
}

// requestRange returns the range of x-ms-range, else Range; ok is false
// when neither is sent. Only one "bytes=start-[end]" range is accepted.
func requestRange(h http.Header) (rng byteRange, name string, ok bool, err error) {
	name = "x-ms-range"
	v := h.Get(name)
	if v == "" {
		name = "Range"
		v = h.Get(name)
	}
	if v == "" {
		return byteRange{}, "", false, nil
	}
	bad := func() error {
		return apiErrorf(galleon.EInvalid, "InvalidHeaderValue",
			"The %s header '%s' is not valid: use one range as bytes=START-END (END inclusive) or bytes=START-.", name, v)
	}
	spec, found := strings.CutPrefix(strings.TrimSpace(v), "bytes=")
	if !found {
		return byteRange{}, name, false, bad()
	}
	a, b, found := strings.Cut(spec, "-")
	if !found {
		return byteRange{}, name, false, bad()
	}
	start, err := strconv.ParseInt(strings.TrimSpace(a), 10, 64)
	if err != nil || start < 0 {
		return byteRange{}, name, false, bad()
	}
	rng = byteRange{start: start, end: -1}
	if b = strings.TrimSpace(b); b != "" {
		end, err := strconv.ParseInt(b, 10, 64)
		if err != nil || end < start {
			return byteRange{}, name, false, bad()
		}
		rng.end = end
	}
	return rng, name, true, nil
}

// contentLength returns the request's Content-Length, 411 when it has none.
func contentLength(r *http.Request) (int64, error) {
	if r.ContentLength < 0 {
		return 0, apiErrorf(galleon.EInvalid, "MissingContentLengthHeader",
			"The request has no Content-Length header; send the body with its length (not chunked).")
	}
	return r.ContentLength, nil
}

// checksums verifies the transactional Content-MD5 and x-ms-content-crc64
// of a request body while it is read, and reports the body's MD5 back.
type checksums struct {
	md5, wantMD5 []byte
	crc          []byte // x-ms-content-crc64 as sent; nil when not sent
	h            hash.Hash
	c            hash.Hash64
}

func newChecksums(h http.Header) (*checksums, error) {
	cs := &checksums{h: md5.New(), c: crc64.New(crc64Table)}
	if v := h.Get("Content-MD5"); v != "" {
		b, err := base64.StdEncoding.DecodeString(v)
		if err != nil || len(b) != md5.Size {
			return nil, apiErrorf(galleon.EInvalid, "InvalidHeaderValue", "The Content-MD5 header '%s' is not the base64 of a 16-byte MD5 digest.", v)
		}
		cs.wantMD5 = b
	}
	if v := h.Get("x-ms-content-crc64"); v != "" {
		b, err := base64.StdEncoding.DecodeString(v)
		if err != nil || len(b) != 8 {
			return nil, apiErrorf(galleon.EInvalid, "InvalidHeaderValue", "The x-ms-content-crc64 header '%s' is not the base64 of an 8-byte CRC-64.", v)
		}
		cs.crc = b
	}
	return cs, nil
}

func (cs *checksums) Write(p []byte) (int, error) {
	cs.h.Write(p)
	if cs.crc != nil {
		cs.c.Write(p)
	}
	return len(p), nil
}

// verify compares the body's checksums with the ones the client sent.
func (cs *checksums) verify() error {
	cs.md5 = cs.h.Sum(nil)
	if cs.wantMD5 != nil && !bytes.Equal(cs.md5, cs.wantMD5) {
		return apiErrorf(galleon.EInvalid, "Md5Mismatch",
			"The MD5 of the body (%s) differs from its Content-MD5 header (%s): the body was damaged on the way. Send it again.",
			base64.StdEncoding.EncodeToString(cs.md5), base64.StdEncoding.EncodeToString(cs.wantMD5))
	}
	if cs.crc != nil {
		got := binary.LittleEndian.AppendUint64(nil, cs.c.Sum64())
		if !bytes.Equal(got, cs.crc) {
			return apiErrorf(galleon.EInvalid, "Crc64Mismatch",
				"The CRC-64 of the body (%s) differs from its x-ms-content-crc64 header (%s): the body was damaged on the way. Send it again.",
				base64.StdEncoding.EncodeToString(got), base64.StdEncoding.EncodeToString(cs.crc))
		}
	}
	return nil
}

// setHeaders reports the verified body's checksums.
func (cs *checksums) setHeaders(h http.Header) {
	h.Set("Content-MD5", base64.StdEncoding.EncodeToString(cs.md5))
	if cs.crc != nil {
		h.Set("x-ms-content-crc64", base64.StdEncoding.EncodeToString(cs.crc))
	}
}

// readBody reads exactly len(p) bytes of body into p.
func readBody(body io.Reader, p []byte) error {
	n, err := io.ReadFull(body, p)
	if err == nil {
		return nil
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return apiErrorf(galleon.ETooLarge, "RequestBodyTooLarge", "The request body is larger than the %d bytes allowed.", mbe.Limit)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return apiErrorf(galleon.EInvalid, "InvalidInput",
			"The request body ended after %d of the %d bytes its Content-Length announced; send the whole body.", n, len(p))
	}
	return apiErrorf(galleon.EInvalid, "InvalidInput", "Reading the request body failed after %d bytes (%v); send it again.", n, err)
}

// isZero reports whether p is all zeros.
func isZero(p []byte) bool {
	for len(p) >= 8 {
		if binary.LittleEndian.Uint64(p) != 0 {
			return false
		}
		p = p[8:]
	}
	for _, c := range p {
		if c != 0 {
			return false
		}
	}
	return true
}

// sequenceConditions evaluates the x-ms-if-sequence-number-* headers of
// Put Page against the sequence number, which is always 0 here.
func sequenceConditions(h http.Header) error {
	for _, c := range []struct {
		name string
		ok   func(n int64) bool
	}{
		{"x-ms-if-sequence-number-le", func(n int64) bool { return 0 <= n }},
		{"x-ms-if-sequence-number-lt", func(n int64) bool { return 0 < n }},
		{"x-ms-if-sequence-number-eq", func(n int64) bool { return 0 == n }},
	} {
		v := h.Get(c.name)
		if v == "" {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return apiErrorf(galleon.EInvalid, "InvalidHeaderValue", "The %s header '%s' is not a non-negative integer.", c.name, v)
		}
		if !c.ok(n) {
			return apiErrorf(galleon.EPreconditionFailed, "SequenceNumberConditionNotMet",
				"The sequence number condition %s: %s is not met: page blobs here always have sequence number 0.", c.name, v)
		}
	}
	return nil
}
