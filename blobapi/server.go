package blobapi

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/galleonhq/galleon"
)

// APIVersion is the x-ms-version every answer carries.
const APIVersion = "2021-08-06"

// Limits of the operations, as Azure sets them (MaxBlobSize is Galleon's).
const (
	// MaxBlobSize is the largest blob, page or block, in bytes (4 TiB).
	MaxBlobSize = 4 << 40
	// MaxPutPageBytes is the most one Put Page update may write.
	MaxPutPageBytes = 4 << 20
	// MaxPutBlobBytes is the largest block blob one Put Blob may upload.
	MaxPutBlobBytes = 256 << 20
	// MaxPutBlockBytes is the largest block one Put Block may stage.
	MaxPutBlockBytes = 4000 << 20
	// MaxBlockListBlocks is the most blocks one Put Block List may name.
	MaxBlockListBlocks = 50000
	// maxBlockListBody bounds the XML body of Put Block List.
	maxBlockListBody = 8 << 20
	// maxMetadataBytes bounds the total size of a blob's metadata.
	maxMetadataBytes = 8 << 10
)

// Server serves the blob data plane. Store, Blocks and Key are required;
// the zero values of the others are ready to use. A Server must not be
// copied after its first request.
type Server struct {
	// Store holds blobs, their block maps and staged blocks.
	Store galleon.Store
	// Blocks returns the block store that blobs of a region keep their
	// blocks in.
	Blocks func(region string) (galleon.BlockStore, error)
	// Key is the HMAC-SHA256 key that signs SAS tokens. With an empty
	// key every request is refused.
	Key []byte
	// DefaultRegion is the region of blobs created through this API (a
	// Put Blob, Put Block or Put Block List naming a blob that does not
	// exist). Empty: only blobs the platform created beforehand (disks
	// opened for upload) accept writes, and others answer BlobNotFound.
	DefaultRegion string
	// AccountRegion, when set, gives the region of a storage account's new
	// blobs (user storage accounts); an error refuses the upload.
	AccountRegion func(ctx context.Context, account string) (string, error)
	// Now returns the current time: SAS validity and the Date header.
	// Defaults to time.Now.
	Now func() time.Time
	// Logger receives internal errors. Defaults to slog.Default().
	Logger *slog.Logger

	mu    sync.Mutex
	locks map[string]*blobLock
	views viewCache
}

func (s *Server) now() time.Time {
	if s.Now == nil {
		return time.Now().UTC()
	}
	return s.Now().UTC()
}

func (s *Server) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.Default()
	}
	return s.Logger
}

// loc names the blob a request addresses.
type loc struct {
	account, container, name string
}

func (l loc) String() string { return l.account + "/" + l.container + "/" + l.name }

// key is the lock and cache key: account and container case-insensitive.
func (l loc) key() string {
	return strings.ToLower(l.account) + "/" + strings.ToLower(l.container) + "/" + l.name
}

// request is one request on its way through the handlers.
type request struct {
	w     http.ResponseWriter
	r     *http.Request
	ctx   context.Context
	id    string
	loc   loc
	query url.Values
	sas   *grant
}

// ServeHTTP answers one Blob API request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := newRequestID()
	h := w.Header()
	h.Set("x-ms-request-id", id)
	h.Set("x-ms-version", APIVersion)
	h.Set("Date", s.now().Format(http.TimeFormat))
	if c := r.Header.Get("x-ms-client-request-id"); c != "" && len(c) <= 1024 && !strings.ContainsAny(c, "\r\n") {
		h.Set("x-ms-client-request-id", c)
	}
	rw := &responseWriter{ResponseWriter: w}
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.logger().Error("blob api panic", "request_id", id, "method", r.Method, "path", r.URL.Path, "panic", v)
			if !rw.wrote {
				s.writeError(rw, r, id, fmt.Errorf("panic: %v", v))
			}
		}
	}()
	req := &request{w: rw, r: r, ctx: r.Context(), id: id}
	if err := s.serve(req); err != nil {
		if rw.wrote {
			// The answer has started: all that is left is to cut it short
			// so the client sees a broken transfer, not a short one.
			s.logger().Warn("blob api response cut short", "request_id", id, "method", r.Method, "path", r.URL.Path, "err", err)
			panic(http.ErrAbortHandler)
		}
		s.writeError(rw, r, id, err)
	}
}

// serve parses, authenticates and dispatches a request.
func (s *Server) serve(req *request) error {
	r := req.r
	l, err := parsePath(r.URL.Path)
	if err != nil {
		return err
	}
	req.loc = l
	req.query, err = url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return apiErrorf(galleon.EInvalid, "InvalidQueryParameterValue", "The query string is malformed (%v); percent-encode the parameter values.", err)
	}
	handler, err := route(r.Method, req.query)
	if err != nil {
		return err
	}
	if req.sas, err = s.checkSAS(r, req.query, l); err != nil {
		return err
	}
	if r.Header.Get("x-ms-lease-id") != "" {
		return apiErrorf(galleon.EPreconditionFailed, "LeaseNotPresentWithBlobOperation",
			"There is currently no lease on the blob '%s': this server does not support leases, so send the request without x-ms-lease-id.", l)
	}
	return handler(s, req)
}

type handlerFunc func(*Server, *request) error

// route picks the handler for a method and comp query parameter.
func route(method string, q url.Values) (handlerFunc, error) {
	for _, p := range []string{"restype", "snapshot", "versionid"} {
		if q.Has(p) {
			return nil, apiErrorf(galleon.EInvalid, "UnsupportedQueryParameter",
				"The query parameter '%s' is not supported: this endpoint serves blob operations only (no containers, snapshots or versions).", p)
		}
	}
	comp := q.Get("comp")
	type op struct{ method, comp string }
	handlers := map[op]handlerFunc{
		{http.MethodGet, ""}:           (*Server).readBlob,
		{http.MethodHead, ""}:          (*Server).readBlob,
		{http.MethodGet, "pagelist"}:   (*Server).getPageRanges,
		{http.MethodGet, "blocklist"}:  (*Server).getBlockList,
		{http.MethodGet, "metadata"}:   (*Server).getMetadata,
		{http.MethodHead, "metadata"}:  (*Server).getMetadata,
		{http.MethodPut, ""}:           (*Server).putBlob,
		{http.MethodPut, "page"}:       (*Server).putPage,
		{http.MethodPut, "block"}:      (*Server).putBlock,
		{http.MethodPut, "blocklist"}:  (*Server).putBlockList,
		{http.MethodPut, "properties"}: (*Server).setProperties,
		{http.MethodPut, "metadata"}:   (*Server).setMetadata,
		{http.MethodDelete, ""}:        (*Server).deleteBlob,
	}
	if h, ok := handlers[op{method, comp}]; ok {
		return h, nil
	}
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete:
		return nil, apiErrorf(galleon.EInvalid, "InvalidQueryParameterValue",
			"comp=%s is not supported with %s. Supported: GET/HEAD (blob, comp=pagelist, comp=blocklist, comp=metadata), PUT (blob, comp=page, comp=block, comp=blocklist, comp=properties, comp=metadata), DELETE (blob).", comp, method)
	}
	return nil, apiErrorf(galleon.EInvalid, "UnsupportedHttpVerb", "The HTTP method %s is not supported; use GET, HEAD, PUT or DELETE.", method)
}

// parsePath splits /{account}/{container}/{blob...}.
func parsePath(p string) (loc, error) {
	rest := strings.TrimPrefix(p, "/")
	parts := strings.SplitN(rest, "/", 3)
	if len(parts) < 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return loc{}, apiErrorf(galleon.EInvalid, "InvalidUri",
			"The path '%s' names no blob: use /{account}/{container}/{blob} (the URL you were given).", p)
	}
	l := loc{account: parts[0], container: parts[1], name: parts[2]}
	if !validName(l.account, 63, "-") {
		return loc{}, apiErrorf(galleon.EInvalid, "InvalidResourceName",
			"The account name '%s' is not valid: use 1 to 63 letters, digits and hyphens.", l.account)
	}
	if !validName(l.container, 63, "-$") {
		return loc{}, apiErrorf(galleon.EInvalid, "InvalidResourceName",
			"The container name '%s' is not valid: use 1 to 63 letters, digits and hyphens.", l.container)
	}
	if len(l.name) > 1024 || strings.ContainsFunc(l.name, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return loc{}, apiErrorf(galleon.EInvalid, "InvalidResourceName",
			"The blob name is not valid: use at most 1024 characters and no control characters.")
	}
	return l, nil
}

func validName(s string, maxLen int, extra string) bool {
	if s == "" || len(s) > maxLen {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune(extra, c)) {
			return false
		}
	}
	return true
}

// responseWriter records whether the answer has started.
type responseWriter struct {
	http.ResponseWriter
	wrote bool
}

func (w *responseWriter) WriteHeader(code int) {
	w.wrote = true
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseWriter) Write(p []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// newRequestID returns a random UUID (version 4) for x-ms-request-id.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// blockStore returns the block store of a region.
func (s *Server) blockStore(region string) (galleon.BlockStore, error) {
	if s.Blocks == nil {
		return nil, errors.New("blobapi: Server.Blocks is not set")
	}
	bs, err := s.Blocks(region)
	if err != nil {
		return nil, fmt.Errorf("block store of region %q: %w", region, err)
	}
	return bs, nil
}
