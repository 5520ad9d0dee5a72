package blobapi_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/pageblob"
	"github.com/galleonhq/galleon"
	"github.com/galleonhq/galleon/blob/localfs"
	"github.com/galleonhq/galleon/blobapi"
	"github.com/galleonhq/galleon/store/sqlite"
)

const (
	MiB     = 1 << 20
	account = "md-acct1"
	cont    = "disks"
	region  = "eastus"
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

// t0 is the tests' clock; SAS tokens expire an hour after it.
var t0 = time.Date(2030, time.March, 4, 5, 6, 7, 0, time.UTC)

// env is a Blob API server over a SQLite store and local block stores in
// one directory, behind a TLS test server.
type env struct {
	dir   string
	store *sqlite.Store
	srv   *blobapi.Server
	ts    *httptest.Server

	mu     sync.Mutex
	blocks map[string]*localfs.Store
}

// MustOpenEnv starts a server with a fresh store in a temporary directory.
func MustOpenEnv(tb testing.TB) *env {
	tb.Helper()
	e := &env{dir: tb.TempDir()}
	e.open(tb)
	return e
}

// open (re)opens the store and block stores in e.dir and starts a new
// server on them, as a restart would.
func (e *env) open(tb testing.TB) {
	tb.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(e.dir, "galleon.db"))
	if err != nil {
		tb.Fatal(err)
	}
	e.store = st
	e.blocks = map[string]*localfs.Store{}
	e.srv = &blobapi.Server{
		Store:         st,
		Blocks:        e.blockStore,
		Key:           testKey,
		DefaultRegion: region,
		Now:           func() time.Time { return t0 },
	}
	e.ts = httptest.NewTLSServer(e.srv)
	tb.Cleanup(e.close)
}

func (e *env) blockStore(name string) (galleon.BlockStore, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if bs, ok := e.blocks[name]; ok {
		return bs, nil
	}
	bs, err := localfs.Open(filepath.Join(e.dir, "blocks", name))
	if err != nil {
		return nil, err
	}
	e.blocks[name] = bs
	return bs, nil
}

func (e *env) close() {
	if e.ts != nil {
		e.ts.Close()
		e.ts = nil
	}
	if e.store != nil {
		_ = e.store.Close()
		e.store = nil
	}
}

// restart stops the server and store and opens new ones on the same
// directories.
func (e *env) restart(tb testing.TB) {
	tb.Helper()
	e.close()
	e.open(tb)
}

// url returns a blob SAS URL with perms, valid for an hour.
func (e *env) url(name, perms string) string {
	return e.srv.SignURL(e.ts.URL, account, cont, name, perms, t0.Add(time.Hour))
}

func (e *env) clientOptions() azcore.ClientOptions {
	return azcore.ClientOptions{Transport: e.ts.Client(), Retry: policy.RetryOptions{MaxRetries: -1}}
}

func (e *env) pageClient(tb testing.TB, sasURL string) *pageblob.Client {
	tb.Helper()
	c, err := pageblob.NewClientWithNoCredential(sasURL, &pageblob.ClientOptions{ClientOptions: e.clientOptions()})
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func (e *env) blockClient(tb testing.TB, sasURL string) *blockblob.Client {
	tb.Helper()
	c, err := blockblob.NewClientWithNoCredential(sasURL, &blockblob.ClientOptions{ClientOptions: e.clientOptions()})
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// do sends a raw request and returns the response with its body read.
func (e *env) do(tb testing.TB, method, rawURL string, header map[string]string, body []byte) (*http.Response, []byte) {
	tb.Helper()
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, rawURL, r)
	if err != nil {
		tb.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := e.ts.Client().Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return resp, b
}

// withQuery adds query parameters to a URL.
func withQuery(rawURL string, kv ...string) string {
	u, _ := url.Parse(rawURL)
	q := u.Query()
	for i := 0; i+1 < len(kv); i += 2 {
		q.Set(kv[i], kv[i+1])
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// sign builds a SAS query by the string-to-sign doc.go documents, so the
// tests check the documented format rather than SignURL.
func sign(key []byte, sp, st, se, resource, sv, sr string) url.Values {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(strings.Join([]string{sp, st, se, resource, sv, sr}, "\n")))
	v := url.Values{"sp": {sp}, "se": {se}, "sv": {sv}, "sr": {sr}, "sig": {base64.StdEncoding.EncodeToString(m.Sum(nil))}}
	if st != "" {
		v.Set("st", st)
	}
	return v
}

// azError is Azure's error document.
type azError struct {
	Code    string `xml:"Code"`
	Message string `xml:"Message"`
}

// wantError fails tb unless resp is an Azure error with status and code.
func wantError(tb testing.TB, resp *http.Response, body []byte, status int, code string) azError {
	tb.Helper()
	if resp.StatusCode != status || resp.Header.Get("x-ms-error-code") != code {
		tb.Fatalf("status %d, x-ms-error-code %q, want %d %s; body: %s", resp.StatusCode, resp.Header.Get("x-ms-error-code"), status, code, body)
	}
	var e azError
	if resp.Request.Method == http.MethodHead {
		return e
	}
	if err := xml.Unmarshal(body, &e); err != nil {
		tb.Fatalf("error body is not Azure's XML: %v: %s", err, body)
	}
	if e.Code != code || e.Message == "" {
		tb.Fatalf("error document code %q message %q, want code %s and a message", e.Code, e.Message, code)
	}
	return e
}

// randomBytes returns n pseudo-random bytes from seed.
func randomBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// download reads a whole blob through the SDK.
func download(tb testing.TB, c *blob.Client) []byte {
	tb.Helper()
	resp, err := c.DownloadStream(context.Background(), nil)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// wantBytes fails tb unless got equals want, naming the first difference.
func wantBytes(tb testing.TB, what string, got, want []byte) {
	tb.Helper()
	if bytes.Equal(got, want) {
		return
	}
	if len(got) != len(want) {
		tb.Fatalf("%s: %d bytes, want %d", what, len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			tb.Fatalf("%s: first difference at byte %d: %#x, want %#x", what, i, got[i], want[i])
		}
	}
}

func ptr[T any](v T) *T { return &v }

// isCode reports whether err is an Azure error with code.
func isCode(err error, code string) bool {
	return bloberror.HasCode(err, bloberror.Code(code))
}

// digest returns the hex SHA-256 of p.
func digest(p []byte) string {
	sum := sha256.Sum256(p)
	return hex.EncodeToString(sum[:])
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}
