package blobapi_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/galleonhq/galleon/blobapi"
)

func TestSAS(t *testing.T) {
	e := MustOpenEnv(t)
	ctx := context.Background()
	c := e.pageClient(t, e.url("a/b.vhd", "rcw"))
	if _, err := c.Create(ctx, 1024, nil); err != nil {
		t.Fatal(err)
	}
	base := e.ts.URL + "/" + account + "/" + cont + "/a/b.vhd"
	future := t0.Add(time.Hour).Format(time.RFC3339)
	past := t0.Add(-time.Second).Format(time.RFC3339)
	blobRes := "/blob/" + account + "/" + cont + "/a/b.vhd"
	withSAS := func(v url.Values) string { return base + "?" + v.Encode() }
	tamper := func(u, param, value string) string {
		p, _ := url.Parse(u)
		q := p.Query()
		q.Set(param, value)
		p.RawQuery = q.Encode()
		return p.String()
	}

	for _, tc := range []struct {
		name    string
		method  string
		url     string
		header  map[string]string
		status  int
		code    string
		message string // a part of the message, naming the check
	}{
		{name: "OK", url: e.url("a/b.vhd", "r"), status: http.StatusOK},
		{name: "DocumentedFormat", url: withSAS(sign(testKey, "r", "", future, blobRes, "2021-08-06", "b")), status: http.StatusOK},
		{name: "ContainerSAS", url: withSAS(sign(testKey, "r", "", future, "/blob/"+account+"/"+cont, "2021-08-06", "c")), status: http.StatusOK},
		{name: "CaseInsensitiveAccount", url: e.ts.URL + "/MD-ACCT1/Disks/a/b.vhd?" + sign(testKey, "r", "", future, blobRes, "2021-08-06", "b").Encode(), status: http.StatusOK},
		{name: "DateOnlyExpiry", url: withSAS(sign(testKey, "r", "2030-03-04", "2030-03-05", blobRes, "2021-08-06", "b")), status: http.StatusOK},
		{name: "ErrNoSAS", url: base, status: http.StatusUnauthorized, code: "NoAuthenticationInformation", message: "no SAS"},
		{name: "ErrBearer", url: base, header: map[string]string{"Authorization": "Bearer abc"}, status: http.StatusForbidden, code: "AuthenticationFailed", message: "Bearer"},
		{name: "ErrMissingExpiry", url: tamper(e.url("a/b.vhd", "r"), "se", ""), status: http.StatusForbidden, code: "AuthenticationFailed", message: "'se'"},
		{name: "ErrExpired", url: withSAS(sign(testKey, "r", "", past, blobRes, "2021-08-06", "b")), status: http.StatusForbidden, code: "AuthenticationFailed", message: "expired"},
		{name: "ErrExpiresNow", url: withSAS(sign(testKey, "r", "", t0.Format(time.RFC3339), blobRes, "2021-08-06", "b")), status: http.StatusForbidden, code: "AuthenticationFailed", message: "expired"},
		{name: "ErrNotYetValid", url: withSAS(sign(testKey, "r", t0.Add(time.Minute).Format(time.RFC3339), future, blobRes, "2021-08-06", "b")), status: http.StatusForbidden, code: "AuthenticationFailed", message: "not valid yet"},
		{name: "ErrTamperedPermissions", url: tamper(e.url("a/b.vhd", "r"), "sp", "rw"), method: http.MethodDelete, status: http.StatusForbidden, code: "AuthenticationFailed", message: "Signature did not match"},
		{name: "ErrTamperedExpiry", url: tamper(e.url("a/b.vhd", "r"), "se", t0.Add(48*time.Hour).Format(time.RFC3339)), status: http.StatusForbidden, code: "AuthenticationFailed", message: "Signature did not match"},
		{name: "ErrTamperedSignature", url: tamper(e.url("a/b.vhd", "r"), "sig", "AAAA"), status: http.StatusForbidden, code: "AuthenticationFailed", message: "Signature did not match"},
		{name: "ErrSignatureNotBase64", url: tamper(e.url("a/b.vhd", "r"), "sig", "!!"), status: http.StatusForbidden, code: "AuthenticationFailed", message: "base64"},
		{name: "ErrOtherBlob", url: strings.Replace(e.url("a/other.vhd", "r"), "other.vhd", "b.vhd", 1), status: http.StatusForbidden, code: "AuthenticationFailed", message: "Signature did not match"},
		{name: "ErrOtherKey", url: withSAS(sign([]byte("another key"), "r", "", future, blobRes, "2021-08-06", "b")), status: http.StatusForbidden, code: "AuthenticationFailed", message: "Signature did not match"},
		{name: "ErrContainerSASAsBlob", url: withSAS(sign(testKey, "r", "", future, "/blob/"+account+"/"+cont, "2021-08-06", "b")), status: http.StatusForbidden, code: "AuthenticationFailed", message: "Signature did not match"},
		{name: "ErrUnknownResource", url: withSAS(sign(testKey, "r", "", future, blobRes, "2021-08-06", "s")), status: http.StatusForbidden, code: "AuthenticationFailed", message: "sr=s"},
		{name: "ErrUnknownPermission", url: withSAS(sign(testKey, "rx", "", future, blobRes, "2021-08-06", "b")), status: http.StatusForbidden, code: "AuthenticationFailed", message: "sp=rx"},
		{name: "ErrReadNeedsR", url: e.url("a/b.vhd", "w"), status: http.StatusForbidden, code: "AuthorizationPermissionMismatch", message: "'r' (read)"},
		{name: "ErrDeleteNeedsD", url: e.url("a/b.vhd", "rcw"), method: http.MethodDelete, status: http.StatusForbidden, code: "AuthorizationPermissionMismatch", message: "'d' (delete)"},
		{name: "ErrReplaceNeedsW", url: e.url("a/b.vhd", "c"), method: http.MethodPut,
			header: map[string]string{"x-ms-blob-type": "PageBlob", "x-ms-blob-content-length": "512"},
			status: http.StatusForbidden, code: "AuthorizationPermissionMismatch", message: "'w' (write)"},
		{name: "CreateWithC", url: e.url("a/new.vhd", "c"), method: http.MethodPut,
			header: map[string]string{"x-ms-blob-type": "PageBlob", "x-ms-blob-content-length": "512"}, status: http.StatusCreated},
	} {
		t.Run(tc.name, func(t *testing.T) {
			method := tc.method
			if method == "" {
				method = http.MethodGet
			}
			resp, body := e.do(t, method, tc.url, tc.header, nil)
			if tc.code == "" {
				if resp.StatusCode != tc.status {
					t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, body)
				}
				return
			}
			got := wantError(t, resp, body, tc.status, tc.code)
			if !strings.Contains(got.Message, tc.message) {
				t.Fatalf("message %q does not name the check (%q)", got.Message, tc.message)
			}
		})
	}

	t.Run("ErrReadOnlyWithSDK", func(t *testing.T) {
		ro := e.pageClient(t, e.url("a/b.vhd", "r"))
		_, err := ro.UploadPages(ctx, streaming.NopCloser(bytes.NewReader(make([]byte, 512))), blob.HTTPRange{Count: 512}, nil)
		if !isCode(err, "AuthorizationPermissionMismatch") {
			t.Fatalf("Put Page with a read-only SAS: %v, want AuthorizationPermissionMismatch", err)
		}
	})

	t.Run("ErrNoKey", func(t *testing.T) {
		srv := &blobapi.Server{Store: e.store, Blocks: e.blockStore, Now: func() time.Time { return t0 }}
		u := srv.SignURL("https://x", account, cont, "a/b.vhd", "r", t0.Add(time.Hour))
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "no SAS signing key") {
			t.Fatalf("a server without a key answered %d: %s", rec.Code, rec.Body)
		}
	})
}

func TestSignURL(t *testing.T) {
	srv := &blobapi.Server{Key: testKey}
	got := srv.SignURL("https://127.0.0.1:8443/", "acct", "c", "dir/a b#1.vhd", "wdrx", t0.Add(time.Hour))
	u, err := url.Parse(got)
	if err != nil {
		t.Fatal(err)
	}
	if u.Path != "/acct/c/dir/a b#1.vhd" || !strings.Contains(got, "/acct/c/dir/a%20b%231.vhd?") {
		t.Fatalf("SignURL path: %s", got)
	}
	q := u.Query()
	if q.Get("sp") != "rwd" || q.Get("sr") != "b" || q.Get("sv") != blobapi.APIVersion || q.Get("se") != "2030-03-04T06:06:07Z" || q.Has("st") {
		t.Fatalf("SignURL query: %v", q)
	}
	want := sign(testKey, "rwd", "", "2030-03-04T06:06:07Z", "/blob/acct/c/dir/a b#1.vhd", blobapi.APIVersion, "b").Get("sig")
	if q.Get("sig") != want {
		t.Fatalf("sig = %s, want %s (the documented string-to-sign)", q.Get("sig"), want)
	}
}
