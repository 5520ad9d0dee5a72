package blobapi_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/galleonhq/galleon/blobapi"
)

func TestErrors(t *testing.T) {
	e := MustOpenEnv(t)
	ctx := context.Background()
	pc := e.pageClient(t, e.url("page", "rcw"))
	if _, err := pc.Create(ctx, 8*MiB, nil); err != nil {
		t.Fatal(err)
	}
	page := e.url("page", "rcwd")
	block := e.url("block", "rcwd")
	if resp, body := e.do(t, http.MethodPut, block, map[string]string{"x-ms-blob-type": "BlockBlob"}, []byte("hello")); resp.StatusCode != http.StatusCreated {
		t.Fatalf("Put Blob: %d %s", resp.StatusCode, body)
	}
	etag := func() string {
		resp, _ := e.do(t, http.MethodHead, page, nil, nil)
		return resp.Header.Get("ETag")
	}()
	putPage := func(rng string, body []byte, extra ...string) map[string]string {
		h := map[string]string{"x-ms-page-write": "update", "x-ms-range": rng}
		for i := 0; i+1 < len(extra); i += 2 {
			h[extra[i]] = extra[i+1]
		}
		return h
	}
	badMD5 := md5.Sum([]byte("something else"))

	for _, tc := range []struct {
		name   string
		method string
		url    string
		header map[string]string
		body   []byte
		status int
		code   string
	}{
		{"PageMisaligned", http.MethodPut, withQuery(page, "comp", "page"), putPage("bytes=100-611", nil), make([]byte, 512), 416, "InvalidPageRange"},
		{"PageEndMisaligned", http.MethodPut, withQuery(page, "comp", "page"), putPage("bytes=0-510", nil), make([]byte, 511), 416, "InvalidPageRange"},
		{"PagePastEnd", http.MethodPut, withQuery(page, "comp", "page"), putPage("bytes=8388608-8389119", nil), make([]byte, 512), 416, "InvalidPageRange"},
		{"PageLengthMismatch", http.MethodPut, withQuery(page, "comp", "page"), putPage("bytes=0-1023", nil), make([]byte, 512), 400, "InvalidHeaderValue"},
		{"PageTooLarge", http.MethodPut, withQuery(page, "comp", "page"), putPage("bytes=0-8388607", nil), make([]byte, 8*MiB), 413, "RequestBodyTooLarge"},
		{"PageNoWriteMode", http.MethodPut, withQuery(page, "comp", "page"), map[string]string{"x-ms-range": "bytes=0-511"}, make([]byte, 512), 400, "MissingRequiredHeader"},
		{"PageBadWriteMode", http.MethodPut, withQuery(page, "comp", "page"), putPage("bytes=0-511", nil, "x-ms-page-write", "append"), make([]byte, 512), 400, "InvalidHeaderValue"},
		{"PageNoRange", http.MethodPut, withQuery(page, "comp", "page"), map[string]string{"x-ms-page-write": "update"}, make([]byte, 512), 400, "MissingRequiredHeader"},
		{"PageBadRange", http.MethodPut, withQuery(page, "comp", "page"), putPage("pages=0-511", nil), make([]byte, 512), 400, "InvalidHeaderValue"},
		{"PageOpenRange", http.MethodPut, withQuery(page, "comp", "page"), putPage("bytes=0-", nil), make([]byte, 512), 400, "InvalidHeaderValue"},
		{"PageClearWithBody", http.MethodPut, withQuery(page, "comp", "page"), putPage("bytes=0-511", nil, "x-ms-page-write", "clear"), make([]byte, 512), 400, "InvalidHeaderValue"},
		{"PageBadMD5", http.MethodPut, withQuery(page, "comp", "page"), putPage("bytes=0-511", nil, "Content-MD5", base64.StdEncoding.EncodeToString(badMD5[:])), make([]byte, 512), 400, "Md5Mismatch"},
		{"PageMalformedMD5", http.MethodPut, withQuery(page, "comp", "page"), putPage("bytes=0-511", nil, "Content-MD5", "xyz"), make([]byte, 512), 400, "InvalidHeaderValue"},
		{"PageBadCRC", http.MethodPut, withQuery(page, "comp", "page"), putPage("bytes=0-511", nil, "x-ms-content-crc64", base64.StdEncoding.EncodeToString(make([]byte, 8))), bytes.Repeat([]byte{1}, 512), 400, "Crc64Mismatch"},
		{"PageOnBlockBlob", http.MethodPut, withQuery(block, "comp", "page"), putPage("bytes=0-511", nil), make([]byte, 512), 409, "InvalidBlobType"},
		{"PageIfMatchFails", http.MethodPut, withQuery(page, "comp", "page"), putPage("bytes=0-511", nil, "If-Match", `"other"`), make([]byte, 512), 412, "ConditionNotMet"},
		{"PageSequenceNumber", http.MethodPut, withQuery(page, "comp", "page"), putPage("bytes=0-511", nil, "x-ms-if-sequence-number-lt", "0"), make([]byte, 512), 412, "SequenceNumberConditionNotMet"},
		{"PageLease", http.MethodPut, withQuery(page, "comp", "page"), putPage("bytes=0-511", nil, "x-ms-lease-id", "abc"), make([]byte, 512), 412, "LeaseNotPresentWithBlobOperation"},
		{"PutBlobNoType", http.MethodPut, page, nil, nil, 400, "MissingRequiredHeader"},
		{"PutBlobAppend", http.MethodPut, page, map[string]string{"x-ms-blob-type": "AppendBlob"}, nil, 400, "InvalidHeaderValue"},
		{"PutBlobNoSize", http.MethodPut, page, map[string]string{"x-ms-blob-type": "PageBlob"}, nil, 400, "MissingRequiredHeader"},
		{"PutBlobOddSize", http.MethodPut, page, map[string]string{"x-ms-blob-type": "PageBlob", "x-ms-blob-content-length": "1000"}, nil, 400, "InvalidHeaderValue"},
		{"PutBlobHugeSize", http.MethodPut, page, map[string]string{"x-ms-blob-type": "PageBlob", "x-ms-blob-content-length": strconv.FormatInt(8<<40, 10)}, nil, 400, "InvalidHeaderValue"},
		{"PutBlobPageWithBody", http.MethodPut, page, map[string]string{"x-ms-blob-type": "PageBlob", "x-ms-blob-content-length": "512"}, []byte("x"), 400, "InvalidHeaderValue"},
		{"PutBlobExists", http.MethodPut, page, map[string]string{"x-ms-blob-type": "PageBlob", "x-ms-blob-content-length": "512", "If-None-Match": "*"}, nil, 409, "BlobAlreadyExists"},
		{"PutBlobBadMetadata", http.MethodPut, e.url("meta", "rcw"), map[string]string{"x-ms-blob-type": "BlockBlob", "x-ms-meta-1abc": "v"}, []byte("x"), 400, "InvalidMetadata"},
		{"PutBlobBadMD5", http.MethodPut, e.url("md5", "rcw"), map[string]string{"x-ms-blob-type": "BlockBlob", "Content-MD5": base64.StdEncoding.EncodeToString(badMD5[:])}, []byte("x"), 400, "Md5Mismatch"},
		{"BlockNoID", http.MethodPut, withQuery(block, "comp", "block"), nil, []byte("x"), 400, "MissingRequiredQueryParameter"},
		{"BlockBadID", http.MethodPut, withQuery(block, "comp", "block", "blockid", "not base64!"), nil, []byte("x"), 400, "InvalidQueryParameterValue"},
		{"BlockEmpty", http.MethodPut, withQuery(block, "comp", "block", "blockid", blockID("a")), nil, []byte{}, 400, "InvalidHeaderValue"},
		{"BlockOnPageBlob", http.MethodPut, withQuery(page, "comp", "block", "blockid", blockID("a")), nil, []byte("x"), 409, "InvalidBlobType"},
		{"BlockListNotXML", http.MethodPut, withQuery(block, "comp", "blocklist"), nil, []byte("<BlockList><Latest>"), 400, "InvalidXmlDocument"},
		{"BlockListWrongRoot", http.MethodPut, withQuery(block, "comp", "blocklist"), nil, []byte("<Blocks/>"), 400, "InvalidXmlDocument"},
		{"BlockListWrongElement", http.MethodPut, withQuery(block, "comp", "blocklist"), nil, []byte("<BlockList><Newest>YQ==</Newest></BlockList>"), 400, "InvalidXmlDocument"},
		{"BlockListUnknownBlock", http.MethodPut, withQuery(block, "comp", "blocklist"), nil, []byte("<BlockList><Uncommitted>YQ==</Uncommitted></BlockList>"), 400, "InvalidBlockList"},
		{"BlockListTooLarge", http.MethodPut, withQuery(block, "comp", "blocklist"), nil, bytes.Repeat([]byte(" "), 9*MiB), 413, "RequestBodyTooLarge"},
		{"ResizeBlockBlob", http.MethodPut, withQuery(block, "comp", "properties"), map[string]string{"x-ms-blob-content-length": "1024"}, nil, 400, "InvalidHeaderValue"},
		{"ResizeOdd", http.MethodPut, withQuery(page, "comp", "properties"), map[string]string{"x-ms-blob-content-length": "1000"}, nil, 400, "InvalidHeaderValue"},
		{"PageRangesOfBlockBlob", http.MethodGet, withQuery(block, "comp", "pagelist"), nil, nil, 409, "InvalidBlobType"},
		{"BlockListOfPageBlob", http.MethodGet, withQuery(page, "comp", "blocklist"), nil, nil, 409, "InvalidBlobType"},
		{"BadBlockListType", http.MethodGet, withQuery(block, "comp", "blocklist", "blocklisttype", "some"), nil, nil, 400, "InvalidQueryParameterValue"},
		{"GetMissing", http.MethodGet, e.url("missing", "r"), nil, nil, 404, "BlobNotFound"},
		{"HeadMissing", http.MethodHead, e.url("missing", "r"), nil, nil, 404, "BlobNotFound"},
		{"GetRangePastEnd", http.MethodGet, page, map[string]string{"x-ms-range": "bytes=8388608-"}, nil, 416, "InvalidRange"},
		{"GetBadRange", http.MethodGet, page, map[string]string{"Range": "bytes=5-1"}, nil, 400, "InvalidHeaderValue"},
		{"GetMultiRange", http.MethodGet, page, map[string]string{"Range": "bytes=0-1,5-6"}, nil, 400, "InvalidHeaderValue"},
		{"GetRangeMD5TooLarge", http.MethodGet, page, map[string]string{"Range": "bytes=0-", "x-ms-range-get-content-md5": "true"}, nil, 400, "OutOfRangeInput"},
		{"GetIfMatchFails", http.MethodGet, page, map[string]string{"If-Match": `"nope"`}, nil, 412, "ConditionNotMet"},
		{"UnknownComp", http.MethodGet, withQuery(page, "comp", "tags"), nil, nil, 400, "InvalidQueryParameterValue"},
		{"Container", http.MethodGet, withQuery(page, "restype", "container"), nil, nil, 400, "UnsupportedQueryParameter"},
		{"Snapshot", http.MethodGet, withQuery(page, "snapshot", "2030-01-01"), nil, nil, 400, "UnsupportedQueryParameter"},
		{"Post", http.MethodPost, page, nil, nil, 405, "UnsupportedHttpVerb"},
		{"NoBlobInPath", http.MethodGet, e.ts.URL + "/" + account + "/" + cont, nil, nil, 400, "InvalidUri"},
		{"BadAccountName", http.MethodGet, e.ts.URL + "/acc_t/" + cont + "/x", nil, nil, 400, "InvalidResourceName"},
		{"DeleteMissing", http.MethodDelete, e.url("missing", "d"), nil, nil, 404, "BlobNotFound"},
		{"SequenceNumberAction", http.MethodPut, withQuery(page, "comp", "properties"), map[string]string{"x-ms-sequence-number-action": "max"}, nil, 400, "UnsupportedHeader"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := e.do(t, tc.method, tc.url, tc.header, tc.body)
			wantError(t, resp, body, tc.status, tc.code)
			if resp.Header.Get("x-ms-request-id") == "" || resp.Header.Get("x-ms-version") != blobapi.APIVersion || resp.Header.Get("Date") == "" {
				t.Fatalf("error answer lacks the common headers: %v", resp.Header)
			}
			if tc.status == 416 && tc.code == "InvalidRange" && resp.Header.Get("Content-Range") != "bytes */8388608" {
				t.Fatalf("Content-Range %q, want bytes */8388608", resp.Header.Get("Content-Range"))
			}
		})
	}

	// Nothing refused above changed the page blob.
	if resp, _ := e.do(t, http.MethodHead, page, nil, nil); resp.Header.Get("ETag") != etag {
		t.Fatalf("a refused request changed the blob: ETag %s, was %s", resp.Header.Get("ETag"), etag)
	}
}

func TestConditionalRead(t *testing.T) {
	e := MustOpenEnv(t)
	u := e.url("c", "rcw")
	resp, body := e.do(t, http.MethodPut, u, map[string]string{"x-ms-blob-type": "BlockBlob", "x-ms-meta-color": "blue"}, []byte("content"))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("Put Blob: %d %s", resp.StatusCode, body)
	}
	etag := resp.Header.Get("ETag")
	for _, tc := range []struct {
		name   string
		header map[string]string
		status int
	}{
		{"IfMatch", map[string]string{"If-Match": etag}, http.StatusOK},
		{"IfMatchStar", map[string]string{"If-Match": "*"}, http.StatusOK},
		{"IfNoneMatch", map[string]string{"If-None-Match": etag}, http.StatusNotModified},
		{"IfNoneMatchOther", map[string]string{"If-None-Match": `"x"`}, http.StatusOK},
		{"IfModifiedSinceFuture", map[string]string{"If-Modified-Since": time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)}, http.StatusNotModified},
		{"IfUnmodifiedSincePast", map[string]string{"If-Unmodified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"}, http.StatusPreconditionFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := e.do(t, http.MethodGet, u, tc.header, nil)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, body)
			}
			if tc.status == http.StatusOK && string(body) != "content" {
				t.Fatalf("body %q", body)
			}
		})
	}
	t.Run("Metadata", func(t *testing.T) {
		resp, _ := e.do(t, http.MethodGet, withQuery(u, "comp", "metadata"), nil, nil)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("x-ms-meta-color") != "blue" {
			t.Fatalf("Get Blob Metadata: %d %v", resp.StatusCode, resp.Header)
		}
		resp, body := e.do(t, http.MethodPut, withQuery(u, "comp", "metadata"), map[string]string{"x-ms-meta-size": "big"}, nil)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("ETag") == etag {
			t.Fatalf("Set Blob Metadata: %d %s", resp.StatusCode, body)
		}
		resp, _ = e.do(t, http.MethodHead, u, nil, nil)
		if resp.Header.Get("x-ms-meta-size") != "big" || resp.Header.Get("x-ms-meta-color") != "" {
			t.Fatalf("metadata after Set Blob Metadata: %v", resp.Header)
		}
	})
	t.Run("RangeMD5", func(t *testing.T) {
		resp, body := e.do(t, http.MethodGet, u, map[string]string{"x-ms-range": "bytes=1-3", "x-ms-range-get-content-md5": "true"}, nil)
		sum := md5.Sum([]byte("ont"))
		if resp.StatusCode != http.StatusPartialContent || string(body) != "ont" || resp.Header.Get("Content-MD5") != base64.StdEncoding.EncodeToString(sum[:]) {
			t.Fatalf("ranged GET with MD5: %d %q Content-MD5 %q", resp.StatusCode, body, resp.Header.Get("Content-MD5"))
		}
	})
}

// FuzzRequest sends arbitrary blob names, methods, comp values and range
// headers under a valid container SAS: the server must answer every one
// without a panic or an internal error.
func FuzzRequest(f *testing.F) {
	for _, seed := range []struct {
		name, method, comp, rng, body string
	}{
		{"a", "GET", "", "bytes=0-10", ""},
		{"dir/b", "PUT", "page", "bytes=0-511", strings.Repeat("x", 512)},
		{"c", "PUT", "", "", "hello"},
		{"c", "PUT", "block", "bytes=-5", "abc"},
		{"c", "PUT", "blocklist", "", "<BlockList><Latest>YQ==</Latest></BlockList>"},
		{"p", "GET", "pagelist", "bytes=99999999999999999999-", ""},
		{"p", "PUT", "properties", "", ""},
		{"%zz", "DELETE", "", "", ""},
	} {
		f.Add(seed.name, seed.method, seed.comp, seed.rng, []byte(seed.body))
	}
	e := MustOpenEnv(f)
	srv := e.srv
	future := t0.Add(time.Hour).Format(time.RFC3339)
	sas := sign(testKey, "racwd", "", future, "/blob/"+account+"/"+cont, blobapi.APIVersion, "c")
	sas.Set("comp", "")
	f.Fuzz(func(t *testing.T, name, method, comp, rng string, body []byte) {
		q := sas
		if comp != "" {
			q = cloneValues(sas)
			q.Set("comp", comp)
			q.Set("blockid", blockID(name))
		}
		target := "/" + account + "/" + cont + "/" + name + "?" + q.Encode()
		req, err := http.NewRequest(method, "https://x"+target, bytes.NewReader(body))
		if err != nil {
			return
		}
		req.Header.Set("x-ms-range", rng)
		req.Header.Set("x-ms-page-write", "update")
		req.Header.Set("x-ms-blob-type", "BlockBlob")
		if len(body) == 0 {
			req.Header.Set("x-ms-blob-type", "PageBlob")
			req.Header.Set("x-ms-blob-content-length", strconv.Itoa(len(name)*512))
		}
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s (range %q) answered %d: %s", method, target, rng, rec.Code, rec.Body)
		}
	})
}
