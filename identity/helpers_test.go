package identity_test

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/galleonhq/galleon"
	"github.com/galleonhq/galleon/identity"
	"github.com/galleonhq/galleon/store/sqlite"
	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// clock is a settable time source for Service.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func (c *clock) Advance(d time.Duration) { c.Set(c.Now().Add(d)) }

// env is one Galleon identity service on a fresh store, served over HTTP,
// with a bootstrapped installation.
type env struct {
	store  galleon.Store
	svc    *identity.Service
	srv    *httptest.Server
	clock  *clock
	boot   *identity.BootstrapResult
	adminT string // a token of the bootstrap (operator) service principal
}

// MustOpenStore opens a SQLite store in a temporary directory.
func MustOpenStore(tb testing.TB) galleon.Store {
	tb.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(tb.TempDir(), "db"))
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	tb.Cleanup(func() { st.Close() })
	return st
}

// newEnv starts a service whose audiences are its own URL and the public
// ARM audience.
func newEnv(tb testing.TB) *env {
	tb.Helper()
	return newEnvOpts(tb, false)
}

// newEnvOpts is newEnv, served over TLS when useTLS is set (the Azure SDK
// insists on https).
func newEnvOpts(tb testing.TB, useTLS bool) *env {
	tb.Helper()
	ctx := context.Background()
	e := &env{store: MustOpenStore(tb), clock: &clock{t: time.Now().UTC().Truncate(time.Second)}}
	if useTLS {
		e.srv = httptest.NewTLSServer(e.mux())
	} else {
		e.srv = httptest.NewServer(e.mux())
	}
	tb.Cleanup(e.srv.Close)
	e.svc = e.newService(e.srv.URL)
	if err := e.svc.Open(ctx); err != nil {
		tb.Fatalf("Open: %v", err)
	}
	boot, err := identity.Bootstrap(ctx, e.store, identity.BootstrapOptions{})
	if err != nil {
		tb.Fatalf("Bootstrap: %v", err)
	}
	e.boot = boot
	e.adminT = e.clientToken(tb, boot.Tenant.ID, boot.Application.AppID, boot.ClientSecret)
	return e
}

// newService returns a Service on e's store and clock.
func (e *env) newService(baseURL string, audiences ...string) *identity.Service {
	if len(audiences) == 0 {
		audiences = []string{baseURL, "https://management.core.windows.net/"}
	}
	return &identity.Service{Store: e.store, BaseURL: baseURL, Audiences: audiences, Now: e.clock.Now}
}

// mux routes like the real server: admin API, Graph, identity endpoints.
// Each request carries an audit note, which the "X-Test-Audit" response
// header reports so tests can check it.
func (e *env) mux() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, note := galleon.NewContextWithAuditNote(r.Context())
		r = r.WithContext(ctx)
		rec := &auditWriter{ResponseWriter: w, note: note}
		switch {
		case strings.HasPrefix(strings.ToLower(r.URL.Path), "/admin/"):
			e.svc.AdminHandler().ServeHTTP(rec, r)
		case strings.HasPrefix(strings.ToLower(r.URL.Path), "/v1.0/"):
			e.svc.GraphHandler().ServeHTTP(rec, r)
		default:
			e.svc.Handler().ServeHTTP(rec, r)
		}
	})
}

// auditWriter adds the audit note to the response headers.
type auditWriter struct {
	http.ResponseWriter
	note  *galleon.AuditNote
	wrote bool
}

func (a *auditWriter) WriteHeader(status int) {
	a.wrote = true
	if a.note.Action != "" {
		pid := ""
		if a.note.Principal != nil {
			pid = a.note.Principal.ObjectID
		}
		a.Header().Set("X-Test-Audit", a.note.Action+" "+a.note.ResourceID+" "+pid)
	}
	a.ResponseWriter.WriteHeader(status)
}

func (a *auditWriter) Write(b []byte) (int, error) {
	if !a.wrote {
		a.WriteHeader(http.StatusOK)
	}
	return a.ResponseWriter.Write(b)
}

// reply is a decoded HTTP response.
type reply struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (r reply) str(path ...string) string {
	var v any = r.body
	for _, p := range path {
		m, _ := v.(map[string]any)
		v = m[p]
	}
	s, _ := v.(string)
	return s
}

// values returns the "value" list of a collection reply.
func (r reply) values() []map[string]any {
	list, _ := r.body["value"].([]any)
	out := make([]map[string]any, 0, len(list))
	for _, x := range list {
		m, _ := x.(map[string]any)
		out = append(out, m)
	}
	return out
}

// do sends a request to e's server; body may be nil, a string (sent as is)
// or a value (sent as JSON).
func (e *env) do(tb testing.TB, method, path, token string, body any) reply {
	tb.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			tb.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		tb.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return e.send(tb, req)
}

// send sends req with the test server's client (which trusts its TLS
// certificate) and decodes the reply.
func (e *env) send(tb testing.TB, req *http.Request) reply {
	tb.Helper()
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	r := reply{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	if len(raw) > 0 {
		_ = json.Unmarshal(raw, &r.body)
	}
	return r
}

// postForm posts a token request.
func (e *env) postForm(tb testing.TB, path string, form url.Values) reply {
	tb.Helper()
	req, err := http.NewRequest(http.MethodPost, e.srv.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return e.send(tb, req)
}

// clientToken gets an access token for e's own audience with the client
// credentials grant.
func (e *env) clientToken(tb testing.TB, tenant, appID, secret string) string {
	tb.Helper()
	r := e.postForm(tb, "/"+tenant+"/oauth2/v2.0/token", url.Values{
		"grant_type": {"client_credentials"}, "client_id": {appID}, "client_secret": {secret},
		"scope": {e.srv.URL + "/.default"},
	})
	if r.status != http.StatusOK || r.str("access_token") == "" {
		tb.Fatalf("client credentials for %s in %s: %d %s", appID, tenant, r.status, r.raw)
	}
	return r.str("access_token")
}

// mustStatus fails tb unless r has status want.
func mustStatus(tb testing.TB, r reply, want int) {
	tb.Helper()
	if r.status != want {
		tb.Fatalf("status = %d, want %d; body %s", r.status, want, r.raw)
	}
}

// identityOf is a principal made through the admin API.
type identityOf struct {
	tenantID, appID, objectID, secret, token string
}

// newTenant creates a tenant as the operator and returns its ID.
func (e *env) newTenant(tb testing.TB, domain string) string {
	tb.Helper()
	r := e.do(tb, "POST", "/admin/v1/tenants", e.adminT, map[string]any{"domain": domain, "displayName": domain})
	mustStatus(tb, r, http.StatusCreated)
	return r.str("id")
}

// newSP registers an application in tenant, gives it a service principal
// and a secret, grants roles, and signs it in.
func (e *env) newSP(tb testing.TB, tenant, name string, multiTenant bool, roles ...string) identityOf {
	tb.Helper()
	base := "/admin/v1/tenants/" + tenant
	r := e.do(tb, "POST", base+"/applications", e.adminT, map[string]any{"displayName": name, "multiTenant": multiTenant})
	mustStatus(tb, r, http.StatusCreated)
	appID := r.str("appId")
	r = e.do(tb, "POST", base+"/applications/"+appID+"/secrets", e.adminT, map[string]any{"displayName": "test"})
	mustStatus(tb, r, http.StatusCreated)
	secret := r.str("secretText")
	r = e.do(tb, "POST", base+"/servicePrincipals", e.adminT, map[string]any{"appId": appID})
	mustStatus(tb, r, http.StatusCreated)
	spID := r.str("id")
	for _, role := range roles {
		r = e.do(tb, "POST", base+"/directoryRoles", e.adminT, map[string]any{"principalId": spID, "role": role})
		mustStatus(tb, r, http.StatusCreated)
	}
	return identityOf{tenantID: tenant, appID: appID, objectID: spID, secret: secret, token: e.clientToken(tb, tenant, appID, secret)}
}

// newUser creates a user through the admin API and returns its object ID.
func (e *env) newUser(tb testing.TB, tenant, upn, password string) string {
	tb.Helper()
	r := e.do(tb, "POST", "/admin/v1/tenants/"+tenant+"/users", e.adminT,
		map[string]any{"userPrincipalName": upn, "displayName": "User " + upn, "password": password})
	mustStatus(tb, r, http.StatusCreated)
	return r.str("id")
}

// signingKey returns the active private key and its kid, read from the
// store.
func (e *env) signingKey(tb testing.TB) (*rsa.PrivateKey, string) {
	tb.Helper()
	keys, err := e.store.ListSigningKeys(context.Background())
	if err != nil || len(keys) == 0 {
		tb.Fatalf("ListSigningKeys: %v (%d keys)", err, len(keys))
	}
	for _, k := range keys {
		if k.RetiredAt.IsZero() {
			return parseKey(tb, k.PrivatePEM), k.KeyID
		}
	}
	tb.Fatal("no active signing key")
	return nil, ""
}

func parseKey(tb testing.TB, p []byte) *rsa.PrivateKey {
	tb.Helper()
	block, _ := pem.Decode(p)
	if block == nil {
		tb.Fatal("signing key is not PEM")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		tb.Fatalf("parse signing key: %v", err)
	}
	return k.(*rsa.PrivateKey)
}

// mint signs claims with key under kid.
func mint(tb testing.TB, key *rsa.PrivateKey, kid string, claims map[string]any) string {
	tb.Helper()
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: kid}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		tb.Fatal(err)
	}
	tok, err := jwt.Signed(sig).Claims(claims).Serialize()
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

// claimsOf decodes a token's claims without verifying it.
func claimsOf(tb testing.TB, token string) map[string]any {
	tb.Helper()
	tok, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		tb.Fatalf("parse token: %v", err)
	}
	var c map[string]any
	if err := tok.UnsafeClaimsWithoutVerification(&c); err != nil {
		tb.Fatal(err)
	}
	return c
}

// kidOf returns a token's key ID.
func kidOf(tb testing.TB, token string) string {
	tb.Helper()
	tok, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		tb.Fatalf("parse token: %v", err)
	}
	return tok.Headers[0].KeyID
}

// wantReason fails tb unless err is EUnauthenticated with reason.
func wantReason(tb testing.TB, err error, code, reason string) {
	tb.Helper()
	if err == nil {
		tb.Fatalf("err = nil, want %s/%s", code, reason)
	}
	if galleon.ErrorCode(err) != code || galleon.ErrorReason(err) != reason {
		tb.Fatalf("err = %v, want code %s reason %s", err, code, reason)
	}
}
