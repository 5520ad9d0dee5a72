package identity_test

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/galleonhq/galleon"
	"github.com/galleonhq/galleon/identity"
)

// b64 is unpadded base64url, as JWTs use.
func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func jsonB64(tb testing.TB, v any) string {
	tb.Helper()
	j, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return b64(j)
}

func TestAuthenticate(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	key, kid := e.signingKey(t)
	valid := claimsOf(t, e.adminT)
	now := e.clock.Now()
	with := func(kv ...any) map[string]any {
		c := map[string]any{}
		for k, v := range valid {
			c[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(c, kv[i].(string))
			} else {
				c[kv[i].(string)] = kv[i+1]
			}
		}
		return c
	}
	foreign, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	// HS256 keyed with the published public key: the classic algorithm
	// confusion attack.
	pubDER, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	hsSigningInput := jsonB64(t, map[string]string{"alg": "HS256", "typ": "JWT", "kid": kid}) + "." + jsonB64(t, valid)
	mac := hmac.New(sha256.New, pubPEM)
	mac.Write([]byte(hsSigningInput))
	hs256 := hsSigningInput + "." + b64(mac.Sum(nil))

	parts := strings.Split(e.adminT, ".")
	tampered := parts[0] + "." + jsonB64(t, with("oid", "00000000-0000-0000-0000-000000000000")) + "." + parts[2]

	otherTenant := "3c0f1d6e-9a7b-4c8d-8e2f-123456789abc"
	tests := []struct {
		name   string
		header string
		code   string // "" for success
		reason string
		msg    []string // substrings of the message
	}{
		{"OK", "Bearer " + e.adminT, "", "", nil},
		{"OKLowerCaseScheme", "bearer " + e.adminT, "", "", nil},
		{"OKExpiredWithinSkew", "Bearer " + mint(t, key, kid, with("exp", now.Add(-4*time.Minute).Unix())), "", "", nil},
		{"OKNotBeforeWithinSkew", "Bearer " + mint(t, key, kid, with("nbf", now.Add(4*time.Minute).Unix())), "", "", nil},
		{"OKAudienceWithTrailingSlash", "Bearer " + mint(t, key, kid, with("aud", e.srv.URL+"/")), "", "", nil},
		{"OKAudienceArray", "Bearer " + mint(t, key, kid, with("aud", []string{"https://other.example", e.srv.URL})), "", "", nil},
		{"ErrMissingHeader", "", galleon.EUnauthenticated, "AuthenticationFailed",
			[]string{"Authentication failed. The 'Authorization' header is missing."}},
		{"ErrNotBearer", "Basic dXNlcjpwYXNz", galleon.EUnauthenticated, "InvalidAuthenticationToken", []string{"Bearer"}},
		{"ErrBearerWithoutToken", "Bearer ", galleon.EUnauthenticated, "InvalidAuthenticationToken", nil},
		{"ErrMalformed", "Bearer not-a-jwt", galleon.EUnauthenticated, "InvalidAuthenticationToken", []string{"Sign in again"}},
		{"ErrGarbageParts", "Bearer a.b.c", galleon.EUnauthenticated, "InvalidAuthenticationToken", nil},
		{"ErrExpired", "Bearer " + mint(t, key, kid, with("exp", now.Add(-6*time.Minute).Unix())),
			galleon.EUnauthenticated, "ExpiredAuthenticationToken", []string{now.Add(-6 * time.Minute).UTC().Format(time.RFC3339)}},
		{"ErrNoExpiry", "Bearer " + mint(t, key, kid, with("exp", nil)), galleon.EUnauthenticated, "InvalidAuthenticationToken", []string{"exp"}},
		{"ErrNotYetValid", "Bearer " + mint(t, key, kid, with("nbf", now.Add(6*time.Minute).Unix())),
			galleon.EUnauthenticated, "InvalidAuthenticationToken", []string{"not valid before"}},
		{"ErrWrongAudience", "Bearer " + mint(t, key, kid, with("aud", "https://graph.microsoft.com")),
			galleon.EUnauthenticated, "InvalidAuthenticationTokenAudience", []string{"https://graph.microsoft.com", e.srv.URL}},
		{"ErrAlgNone", "Bearer eyJhbGciOiJub25lIn0." + jsonB64(t, valid) + ".",
			galleon.EUnauthenticated, "InvalidAuthenticationToken", []string{"none"}},
		{"ErrHS256WithPublicKey", "Bearer " + hs256, galleon.EUnauthenticated, "InvalidAuthenticationToken", []string{"HS256"}},
		{"ErrForeignKeySameKid", "Bearer " + mint(t, foreign, kid, valid),
			galleon.EUnauthenticated, "InvalidAuthenticationToken", []string{"signature verification failed"}},
		{"ErrTamperedPayload", "Bearer " + tampered, galleon.EUnauthenticated, "InvalidAuthenticationToken", []string{"signature verification failed"}},
		{"ErrUnknownKid", "Bearer " + mint(t, key, "no-such-kid", valid), galleon.EUnauthenticated, "InvalidAuthenticationToken", []string{"no-such-kid"}},
		{"ErrNoKid", "Bearer " + mint(t, key, "", valid), galleon.EUnauthenticated, "InvalidAuthenticationToken", []string{"kid"}},
		{"ErrWrongIssuerHost", "Bearer " + mint(t, key, kid, with("iss", "https://login.microsoftonline.com/"+e.boot.Tenant.ID+"/v2.0")),
			galleon.EUnauthenticated, "InvalidAuthenticationToken", []string{"issuer"}},
		{"ErrUnknownTenant", "Bearer " + mint(t, key, kid, with("tid", otherTenant, "iss", e.srv.URL+"/"+otherTenant+"/v2.0")),
			galleon.EUnauthenticated, "InvalidAuthenticationToken", []string{otherTenant}},
		{"ErrUnknownPrincipal", "Bearer " + mint(t, key, kid, with("oid", "9d4f0c7e-0000-4000-8000-000000000001")),
			galleon.EUnauthenticated, "InvalidAuthenticationToken", []string{"no longer exists"}},
		{"ErrAppIDMismatch", "Bearer " + mint(t, key, kid, with("appid", "9d4f0c7e-0000-4000-8000-000000000002")),
			galleon.EUnauthenticated, "InvalidAuthenticationToken", nil},
		{"ErrBadIDType", "Bearer " + mint(t, key, kid, with("idtyp", "device")), galleon.EUnauthenticated, "InvalidAuthenticationToken", []string{"idtyp"}},
		{"ErrHugeHeader", "Bearer " + strings.Repeat("a", 20000), galleon.EUnauthenticated, "InvalidAuthenticationToken", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := e.svc.Authenticate(ctx, tt.header)
			if tt.code == "" {
				if err != nil {
					t.Fatalf("Authenticate: %v", err)
				}
				if p.ObjectID != e.boot.ServicePrincipal.ID || p.TenantID != e.boot.Tenant.ID || p.Type != galleon.PrincipalServicePrincipal ||
					p.AppID != e.boot.Application.AppID || p.DisplayName != "galleon-admin" {
					t.Errorf("principal = %+v", p)
				}
				if !p.HasDirectoryRole(galleon.RoleGlobalAdministrator) || !p.HasDirectoryRole(galleon.RoleInstallationOperator) {
					t.Errorf("directory roles = %v", p.DirectoryRoles)
				}
				return
			}
			if p != nil {
				t.Fatalf("principal = %+v, want none", p)
			}
			wantReason(t, err, tt.code, tt.reason)
			for _, m := range tt.msg {
				if !strings.Contains(galleon.ErrorMessage(err), m) {
					t.Errorf("message %q does not mention %q", galleon.ErrorMessage(err), m)
				}
			}
		})
	}
}

func TestAuthenticateDeletedUser(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tid := e.boot.Tenant.ID
	uid := e.newUser(t, tid, "carol@galleon.local", "a long enough password")
	r := e.postForm(t, "/"+tid+"/oauth2/v2.0/token", url.Values{"grant_type": {"password"}, "client_id": {identity.AzureCLIClientID},
		"username": {"carol@galleon.local"}, "password": {"a long enough password"}, "scope": {e.srv.URL + "/.default"}})
	mustStatus(t, r, http.StatusOK)
	tok := r.str("access_token")
	if _, err := e.svc.Authenticate(ctx, "Bearer "+tok); err != nil {
		t.Fatalf("before delete: %v", err)
	}
	mustStatus(t, e.do(t, "DELETE", "/admin/v1/tenants/"+tid+"/users/"+uid, e.adminT, nil), http.StatusNoContent)
	_, err := e.svc.Authenticate(ctx, "Bearer "+tok)
	wantReason(t, err, galleon.EUnauthenticated, "InvalidAuthenticationToken")
}

func TestAuthenticateLifetime(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	start := e.clock.Now()
	tests := []struct {
		name     string
		issuedAt time.Duration // relative to start
		checkAt  time.Duration
		reason   string
	}{
		{"Fresh", 0, time.Minute, ""},
		{"LastMinuteOfSkew", 0, time.Hour + 4*time.Minute, ""},
		{"Expired", 0, time.Hour + 6*time.Minute, "ExpiredAuthenticationToken"},
		{"ClockBehindWithinSkew", 4 * time.Minute, 0, ""},
		{"NotYetValid", time.Hour, 0, "InvalidAuthenticationToken"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer e.clock.Set(start)
			e.clock.Set(start.Add(tt.issuedAt))
			tok := e.clientToken(t, e.boot.Tenant.ID, e.boot.Application.AppID, e.boot.ClientSecret)
			e.clock.Set(start.Add(tt.checkAt))
			_, err := e.svc.Authenticate(ctx, "Bearer "+tok)
			if tt.reason == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantReason(t, err, galleon.EUnauthenticated, tt.reason)
		})
	}
}

func TestAuthenticateTransitiveGroups(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tid := e.boot.Tenant.ID
	base := "/admin/v1/tenants/" + tid
	uid := e.newUser(t, tid, "dave@galleon.local", "another long password")
	group := func(name string) string {
		r := e.do(t, "POST", base+"/groups", e.adminT, map[string]any{"displayName": name})
		mustStatus(t, r, http.StatusCreated)
		return r.str("id")
	}
	member := func(g, m string) {
		mustStatus(t, e.do(t, "POST", base+"/groups/"+g+"/members", e.adminT, map[string]any{"memberId": m}), http.StatusCreated)
	}
	g1, g2, g3, g4 := group("g1"), group("g2"), group("g3"), group("unrelated")
	member(g1, uid)
	member(g2, g1)
	member(g3, g2)
	member(g1, g3) // cycle g1 -> g2 -> g3 -> g1
	member(g4, e.boot.ServicePrincipal.ID)
	// A directory role held by a group applies to its transitive members.
	mustStatus(t, e.do(t, "POST", base+"/directoryRoles", e.adminT, map[string]any{"principalId": g3, "role": "GlobalAdministrator"}), http.StatusCreated)

	r := e.postForm(t, "/"+tid+"/oauth2/v2.0/token", url.Values{"grant_type": {"password"}, "client_id": {identity.AzureCLIClientID},
		"username": {"dave@galleon.local"}, "password": {"another long password"}, "scope": {e.srv.URL + "/.default"}})
	mustStatus(t, r, http.StatusOK)
	p, err := e.svc.Authenticate(ctx, "Bearer "+r.str("access_token"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{g1, g2, g3}
	slices.Sort(want)
	if !slices.Equal(p.GroupIDs, want) {
		t.Errorf("GroupIDs = %v, want %v", p.GroupIDs, want)
	}
	if !slices.Equal(p.DirectoryRoles, []string{galleon.RoleGlobalAdministrator}) {
		t.Errorf("DirectoryRoles = %v, want [GlobalAdministrator] (through g3)", p.DirectoryRoles)
	}
	if ids := p.IDs(); len(ids) != 4 || ids[0] != uid {
		t.Errorf("IDs() = %v", ids)
	}
	// Leaving g1 drops every inherited group.
	mustStatus(t, e.do(t, "DELETE", base+"/groups/"+g1+"/members/"+uid, e.adminT, nil), http.StatusNoContent)
	p, err = e.svc.Authenticate(ctx, "Bearer "+r.str("access_token"))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.GroupIDs) != 0 || len(p.DirectoryRoles) != 0 {
		t.Errorf("after leaving g1: groups %v roles %v", p.GroupIDs, p.DirectoryRoles)
	}
}

func TestKeyRotation(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	// A second node on the same store, opened before the rotation.
	other := e.newService(e.srv.URL)
	if err := other.Open(ctx); err != nil {
		t.Fatal(err)
	}
	before := e.adminT
	kid1 := kidOf(t, before)

	r := e.do(t, "POST", "/admin/v1/signingKeys/rotate", e.adminT, nil)
	mustStatus(t, r, http.StatusOK)
	kid2 := r.str("kid")
	if kid2 == "" || kid2 == kid1 {
		t.Fatalf("rotate returned kid %q (old %q)", kid2, kid1)
	}
	if got := r.header.Get("X-Test-Audit"); !strings.HasPrefix(got, "Galleon.Directory/signingKeys/rotate/action /admin/v1/signingKeys/"+kid2) {
		t.Errorf("audit note = %q", got)
	}
	jwksKids := func() []string {
		r := e.do(t, "GET", "/common/discovery/v2.0/keys", "", nil)
		mustStatus(t, r, http.StatusOK)
		var kids []string
		keys, _ := r.body["keys"].([]any)
		for _, k := range keys {
			kids = append(kids, k.(map[string]any)["kid"].(string))
		}
		slices.Sort(kids)
		return kids
	}
	want := []string{kid1, kid2}
	slices.Sort(want)
	if got := jwksKids(); !slices.Equal(got, want) {
		t.Errorf("JWKS kids after rotation = %v, want %v", got, want)
	}
	after := e.clientToken(t, e.boot.Tenant.ID, e.boot.Application.AppID, e.boot.ClientSecret)
	if kidOf(t, after) != kid2 {
		t.Errorf("new token kid = %q, want %q", kidOf(t, after), kid2)
	}
	for name, tok := range map[string]string{"before": before, "after": after} {
		if _, err := e.svc.Authenticate(ctx, "Bearer "+tok); err != nil {
			t.Errorf("token signed %s rotation: %v", name, err)
		}
		// The other node learns the new key on the first unknown kid.
		if _, err := other.Authenticate(ctx, "Bearer "+tok); err != nil {
			t.Errorf("other node, token signed %s rotation: %v", name, err)
		}
	}
	// After a reload interval the other node signs with the new key too.
	e.clock.Advance(2 * time.Minute)
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("POST", "/"+e.boot.Tenant.ID+"/oauth2/v2.0/token", strings.NewReader(url.Values{
		"grant_type": {"client_credentials"}, "client_id": {e.boot.Application.AppID}, "client_secret": {e.boot.ClientSecret},
		"scope": {e.srv.URL + "/.default"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	other.Handler().ServeHTTP(rec, req)
	var resp struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil || resp.AccessToken == "" {
		t.Fatalf("other node token: %d %s", rec.Code, rec.Body)
	}
	if got := kidOf(t, resp.AccessToken); got != kid2 {
		t.Errorf("other node signs with %q, want %q", got, kid2)
	}
	// Once every token the old key signed has expired (lifetime + 5m skew),
	// the old key leaves JWKS.
	e.clock.Advance(time.Hour + 5*time.Minute)
	if got := jwksKids(); !slices.Equal(got, []string{kid2}) {
		t.Errorf("JWKS kids after grace = %v, want [%s]", got, kid2)
	}
	// A restart keeps the active key.
	restarted := e.newService(e.srv.URL)
	if err := restarted.Open(ctx); err != nil {
		t.Fatal(err)
	}
	keys, err := e.store.ListSigningKeys(ctx)
	if err != nil || len(keys) != 2 {
		t.Fatalf("stored keys = %d (%v), want 2", len(keys), err)
	}
}

// FuzzAuthenticate checks that no header string panics or authenticates.
// Seeds include structurally valid tokens that are not trustworthy
// (signed by a foreign key, alg none, HS256), so mutations explore the
// verifier rather than only the parser.
func FuzzAuthenticate(f *testing.F) {
	e := newEnv(f)
	_, kid := e.signingKey(f)
	valid := claimsOf(f, e.adminT)
	foreign, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{
		"", "Bearer", "Bearer ", "bearer x", "Basic Zm9vOmJhcg==", "Bearer a.b.c", "Bearer ..", "Bearer ...",
		"Bearer eyJhbGciOiJub25lIn0." + jsonB64(f, valid) + ".",
		"Bearer " + mint(f, foreign, kid, valid),
		"Bearer " + mint(f, foreign, "", valid),
		"Bearer " + jsonB64(f, map[string]string{"alg": "HS256", "kid": kid}) + "." + jsonB64(f, valid) + ".c2ln",
		"Bearer " + jsonB64(f, map[string]string{"alg": "RS256", "kid": kid}) + "." + jsonB64(f, valid) + ".",
		"Bearer " + jsonB64(f, map[string]any{"alg": "RS256", "kid": kid, "crit": []string{"exp"}}) + "." + jsonB64(f, valid) + ".AAAA",
	} {
		f.Add(s)
	}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, header string) {
		p, err := e.svc.Authenticate(ctx, header)
		if err == nil || p != nil {
			t.Fatalf("header %q authenticated as %+v", header, p)
		}
		if galleon.ErrorCode(err) != galleon.EUnauthenticated {
			t.Fatalf("header %q: error %v, want EUnauthenticated", header, err)
		}
	})
}
