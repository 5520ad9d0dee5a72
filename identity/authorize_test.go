package identity_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/galleonhq/galleon"
)

// browser is an HTTP client with cookies that stops at redirects, as a
// test drives the sign-in pages.
type browser struct {
	tb testing.TB
	e  *env
	c  *http.Client
}

func (e *env) browser(tb testing.TB) *browser {
	tb.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		tb.Fatal(err)
	}
	c := *e.srv.Client()
	c.Jar = jar
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &browser{tb: tb, e: e, c: &c}
}

// page is a fetched page: status, body and the redirect target.
type page struct {
	status   int
	body     string
	location *url.URL
}

func (b *browser) do(req *http.Request) page {
	b.tb.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.tb.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	p := page{status: resp.StatusCode, body: string(body)}
	if loc := resp.Header.Get("Location"); loc != "" {
		p.location, _ = url.Parse(loc)
	}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		for _, h := range []string{"X-Frame-Options", "Content-Security-Policy", "Cache-Control"} {
			if resp.Header.Get(h) == "" {
				b.tb.Fatalf("page lacks the %s header", h)
			}
		}
	}
	return p
}

func (b *browser) get(path string) page {
	b.tb.Helper()
	req, _ := http.NewRequest(http.MethodGet, b.e.srv.URL+path, nil)
	return b.do(req)
}

func (b *browser) post(path string, form url.Values) page {
	b.tb.Helper()
	req, _ := http.NewRequest(http.MethodPost, b.e.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

var flowRE = regexp.MustCompile(`name="flow" value="([^"]+)"`)

// flow returns the hidden flow ticket of a page's form.
func (p page) flow(tb testing.TB) string {
	tb.Helper()
	m := flowRE.FindStringSubmatch(p.body)
	if m == nil {
		tb.Fatalf("page (%d) has no flow field:\n%s", p.status, p.body)
	}
	return m[1]
}

func (p page) mustContain(tb testing.TB, status int, words ...string) {
	tb.Helper()
	if p.status != status {
		tb.Fatalf("status = %d, want %d:\n%s", p.status, status, p.body)
	}
	for _, w := range words {
		if !strings.Contains(p.body, w) {
			tb.Fatalf("page lacks %q:\n%s", w, p.body)
		}
	}
}

// consentFixture is a publisher tenant with a multi-tenant app and a
// customer tenant with an administrator and a plain user.
type consentFixture struct {
	e                   *env
	tenantA, tenantB    string
	app                 identityOf
	single              identityOf // a single-tenant app of tenant A
	adminUPN, adminID   string
	userUPN             string
	password, redirect  string
	verifier, challenge string
}

const testPassword = "correct horse battery staple"

func newConsentFixture(tb testing.TB) *consentFixture {
	tb.Helper()
	e := newEnvOpts(tb, true)
	f := &consentFixture{e: e, password: testPassword, redirect: "https://app.example/callback"}
	f.tenantA = e.newTenant(tb, "publisher.example")
	f.tenantB = e.newTenant(tb, "customer.example")
	f.app = e.newSP(tb, f.tenantA, "Image Sharer", true)
	f.single = e.newSP(tb, f.tenantA, "Internal Tool", false)
	f.adminUPN, f.userUPN = "admin@customer.example", "user@customer.example"
	f.adminID = e.newUser(tb, f.tenantB, f.adminUPN, testPassword)
	e.newUser(tb, f.tenantB, f.userUPN, testPassword)
	r := e.do(tb, "POST", "/admin/v1/tenants/"+f.tenantB+"/directoryRoles", e.adminT,
		map[string]any{"principalId": f.adminID, "role": galleon.RoleGlobalAdministrator})
	mustStatus(tb, r, http.StatusCreated)
	f.verifier = "a-verifier-of-at-least-forty-three-characters-0123456789"
	sum := sha256.Sum256([]byte(f.verifier))
	f.challenge = base64.RawURLEncoding.EncodeToString(sum[:])
	return f
}

func (f *consentFixture) authorizeURL(tenant, clientID string, extra url.Values) string {
	q := url.Values{"client_id": {clientID}, "response_type": {"code"}, "redirect_uri": {f.redirect},
		"scope": {"openid profile " + f.e.srv.URL + "/.default"}, "state": {"st-123"}, "nonce": {"n-456"},
		"code_challenge": {f.challenge}, "code_challenge_method": {"S256"}}
	for k, v := range extra {
		q[k] = v
	}
	return "/" + tenant + "/oauth2/v2.0/authorize?" + q.Encode()
}

func (f *consentFixture) servicePrincipalExists(tb testing.TB, tenant, appID string) bool {
	tb.Helper()
	_, err := f.e.store.GetServicePrincipal(context.Background(), tenant, appID)
	if err != nil && galleon.ErrorCode(err) != galleon.ENotFound {
		tb.Fatal(err)
	}
	return err == nil
}

func (f *consentFixture) redeem(tb testing.TB, tenant string, form url.Values) reply {
	tb.Helper()
	base := url.Values{"grant_type": {"authorization_code"}, "client_id": {f.app.appID}, "client_secret": {f.app.secret},
		"redirect_uri": {f.redirect}, "code_verifier": {f.verifier}}
	for k, v := range form {
		base[k] = v
	}
	return f.e.postForm(tb, "/"+tenant+"/oauth2/v2.0/token", base)
}

// TestConsentFlow drives the pages as a browser: sign in as the customer's
// Global Administrator, accept, get redirected with a code, redeem it.
func TestConsentFlow(t *testing.T) {
	f := newConsentFixture(t)
	b := f.e.browser(t)
	path := f.authorizeURL("customer.example", f.app.appID, nil)
	signin := b.get(path)
	signin.mustContain(t, http.StatusOK, "Sign in", "Image Sharer", "customer.example")

	wrong := b.post(path, url.Values{"flow": {signin.flow(t)}, "username": {f.adminUPN}, "password": {"not the password"}})
	wrong.mustContain(t, http.StatusOK, "incorrect")
	if f.servicePrincipalExists(t, f.tenantB, f.app.appID) {
		t.Fatal("service principal exists before consent")
	}

	consent := b.post(path, url.Values{"flow": {wrong.flow(t)}, "username": {f.adminUPN}, "password": {f.password}})
	consent.mustContain(t, http.StatusOK, "Permissions requested", "Image Sharer", f.app.appID, "publisher.example", f.tenantA, "Accept")

	done := b.post(path, url.Values{"flow": {consent.flow(t)}, "decision": {"accept"}})
	if done.status != http.StatusFound || done.location == nil {
		t.Fatalf("accept: %d %s", done.status, done.body)
	}
	if got := done.location.Scheme + "://" + done.location.Host + done.location.Path; got != f.redirect {
		t.Fatalf("redirected to %s", done.location)
	}
	q := done.location.Query()
	if q.Get("state") != "st-123" || q.Get("code") == "" {
		t.Fatalf("redirect query = %v", q)
	}
	if !f.servicePrincipalExists(t, f.tenantB, f.app.appID) {
		t.Fatal("consent did not create the service principal")
	}
	// The app now signs in to the customer tenant as itself.
	f.e.clientToken(t, f.tenantB, f.app.appID, f.app.secret)

	r := f.redeem(t, f.tenantB, url.Values{"code": {q.Get("code")}})
	mustStatus(t, r, http.StatusOK)
	at := claimsOf(t, r.str("access_token"))
	if at["tid"] != f.tenantB || at["oid"] != f.adminID || at["appid"] != f.app.appID || at["idtyp"] != "user" || at["aud"] != f.e.srv.URL {
		t.Fatalf("access token claims = %v", at)
	}
	if id := claimsOf(t, r.str("id_token")); id["nonce"] != "n-456" || id["aud"] != f.app.appID {
		t.Fatalf("id token claims = %v", id)
	}
	if _, err := f.e.svc.Authenticate(context.Background(), "Bearer "+r.str("access_token")); err != nil {
		t.Fatalf("the redeemed token does not authenticate: %v", err)
	}
	again := f.redeem(t, f.tenantB, url.Values{"code": {q.Get("code")}})
	if again.status != http.StatusBadRequest || !strings.Contains(again.str("error_description"), "AADSTS54005") {
		t.Fatalf("second redemption: %d %s", again.status, again.raw)
	}

	// Signed in again, an installed app needs no consent page.
	b2 := f.e.browser(t)
	s2 := b2.get(path)
	next := b2.post(path, url.Values{"flow": {s2.flow(t)}, "username": {f.userUPN}, "password": {f.password}})
	if next.status != http.StatusFound || next.location.Query().Get("code") == "" {
		t.Fatalf("sign-in to an installed app: %d %s", next.status, next.body)
	}
}

func TestConsentNeedsAdministrator(t *testing.T) {
	f := newConsentFixture(t)
	b := f.e.browser(t)
	path := f.authorizeURL(f.tenantB, f.app.appID, nil)
	s := b.get(path)
	p := b.post(path, url.Values{"flow": {s.flow(t)}, "username": {f.userUPN}, "password": {f.password}})
	p.mustContain(t, http.StatusForbidden, "Need admin approval", "AADSTS90094")
	if strings.Contains(p.body, `value="accept"`) {
		t.Fatal("a plain user was offered Accept")
	}
	if f.servicePrincipalExists(t, f.tenantB, f.app.appID) {
		t.Fatal("a plain user created the service principal")
	}
}

func TestConsentCancel(t *testing.T) {
	f := newConsentFixture(t)
	b := f.e.browser(t)
	path := f.authorizeURL(f.tenantB, f.app.appID, nil)
	s := b.get(path)
	c := b.post(path, url.Values{"flow": {s.flow(t)}, "username": {f.adminUPN}, "password": {f.password}})
	p := b.post(path, url.Values{"flow": {c.flow(t)}, "decision": {"cancel"}})
	if p.status != http.StatusFound || p.location.Query().Get("error") != "access_denied" || p.location.Query().Get("state") != "st-123" {
		t.Fatalf("cancel: %d %v", p.status, p.location)
	}
	if f.servicePrincipalExists(t, f.tenantB, f.app.appID) {
		t.Fatal("cancel created the service principal")
	}
}

func TestAdminConsentEndpoint(t *testing.T) {
	for _, tc := range []struct{ name, path string }{
		{"V1", "/%s/adminconsent"},
		{"V2", "/%s/v2.0/adminconsent"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newConsentFixture(t)
			b := f.e.browser(t)
			q := url.Values{"client_id": {f.app.appID}, "redirect_uri": {f.redirect}, "state": {"s1"}}
			path := strings.Replace(tc.path, "%s", f.tenantB, 1) + "?" + q.Encode()
			s := b.get(path)
			c := b.post(path, url.Values{"flow": {s.flow(t)}, "username": {f.adminUPN}, "password": {f.password}})
			c.mustContain(t, http.StatusOK, "review for your organization", "client credentials")
			p := b.post(path, url.Values{"flow": {c.flow(t)}, "decision": {"accept"}})
			got := p.location.Query()
			if p.status != http.StatusFound || got.Get("admin_consent") != "True" || got.Get("tenant") != f.tenantB || got.Get("state") != "s1" || got.Get("code") != "" {
				t.Fatalf("admin consent: %d %v", p.status, p.location)
			}
			if !f.servicePrincipalExists(t, f.tenantB, f.app.appID) {
				t.Fatal("admin consent did not create the service principal")
			}
		})
	}
}

func TestAuthorizeRequestErrors(t *testing.T) {
	f := newConsentFixture(t)
	for _, tc := range []struct {
		name, tenant string
		clientID     string
		extra        url.Values
		status       int
		want         string
	}{
		{"UnknownTenant", "nowhere.example", f.app.appID, nil, 400, "AADSTS90002"},
		{"UnknownClient", f.tenantB, "00000000-0000-4000-8000-000000000000", nil, 400, "AADSTS700016"},
		{"SingleTenantAppOfOtherTenant", f.tenantB, f.single.appID, nil, 400, "AADSTS700016"},
		{"HTTPRedirectToOtherHost", f.tenantB, f.app.appID, url.Values{"redirect_uri": {"http://evil.example/cb"}}, 400, "AADSTS50011"},
		{"CustomSchemeRedirect", f.tenantB, f.app.appID, url.Values{"redirect_uri": {"javascript:alert(1)"}}, 400, "AADSTS50011"},
		{"ImplicitFlow", f.tenantB, f.app.appID, url.Values{"response_type": {"token"}}, 400, "AADSTS700054"},
		{"FragmentMode", f.tenantB, f.app.appID, url.Values{"response_mode": {"fragment"}}, 400, "response_mode"},
		{"UnknownResource", f.tenantB, f.app.appID, url.Values{"scope": {"https://graph.example/.default"}}, 400, "AADSTS500011"},
		{"BadScope", f.tenantB, f.app.appID, url.Values{"scope": {"Files.Read"}}, 400, "AADSTS70011"},
		{"BadPKCEMethod", f.tenantB, f.app.appID, url.Values{"code_challenge_method": {"MD5"}}, 400, "AADSTS501491"},
		{"OKLoopbackHTTP", f.tenantB, f.app.appID, url.Values{"redirect_uri": {"http://127.0.0.1:9000/cb"}}, 200, "Sign in"},
		{"OKV1Resource", f.tenantB, f.app.appID, url.Values{"scope": {""}, "resource": {f.e.srv.URL + "/"}}, 200, "Sign in"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := f.e.browser(t)
			p := b.get(f.authorizeURL(tc.tenant, tc.clientID, tc.extra))
			p.mustContain(t, tc.status, tc.want)
			if tc.status != 200 && p.location != nil {
				t.Fatalf("an invalid request was redirected to %s", p.location)
			}
		})
	}
}

func TestAuthorizeFormErrors(t *testing.T) {
	f := newConsentFixture(t)
	path := f.authorizeURL(f.tenantB, f.app.appID, nil)
	t.Run("ErrNoCookie", func(t *testing.T) {
		s := f.e.browser(t).get(path)
		// Another browser (no cookie) posts the first one's ticket.
		p := f.e.browser(t).post(path, url.Values{"flow": {s.flow(t)}, "username": {f.adminUPN}, "password": {f.password}})
		p.mustContain(t, http.StatusBadRequest, "AADSTS50058")
	})
	t.Run("ErrTamperedTicket", func(t *testing.T) {
		b := f.e.browser(t)
		s := b.get(path)
		flow := s.flow(t)
		parts := strings.Split(flow, ".")
		parts[1] = base64.RawURLEncoding.EncodeToString([]byte(`{"purpose":"consent","jti":"x","exp":9999999999,"tenantId":"` + f.tenantB + `","userId":"` + f.adminID + `"}`))
		p := b.post(path, url.Values{"flow": {strings.Join(parts, ".")}, "decision": {"accept"}})
		p.mustContain(t, http.StatusBadRequest, "AADSTS50058")
		if f.servicePrincipalExists(t, f.tenantB, f.app.appID) {
			t.Fatal("a forged ticket created the service principal")
		}
	})
	t.Run("ErrSignInTicketAsConsent", func(t *testing.T) {
		b := f.e.browser(t)
		s := b.get(path)
		p := b.post(path, url.Values{"flow": {s.flow(t)}, "decision": {"accept"}})
		p.mustContain(t, http.StatusBadRequest, "AADSTS50058")
	})
	t.Run("ErrExpired", func(t *testing.T) {
		b := f.e.browser(t)
		s := b.get(path)
		f.e.clock.Advance(16 * time.Minute)
		defer f.e.clock.Advance(-16 * time.Minute)
		p := b.post(path, url.Values{"flow": {s.flow(t)}, "username": {f.adminUPN}, "password": {f.password}})
		p.mustContain(t, http.StatusBadRequest, "AADSTS50058")
	})
	t.Run("ErrAccessTokenAsTicket", func(t *testing.T) {
		b := f.e.browser(t)
		b.get(path)
		p := b.post(path, url.Values{"flow": {f.app.token}, "username": {f.adminUPN}, "password": {f.password}})
		p.mustContain(t, http.StatusBadRequest, "AADSTS50058")
	})
	t.Run("ErrSingleTenantAppThroughAlias", func(t *testing.T) {
		b := f.e.browser(t)
		p2 := f.authorizeURL("organizations", f.single.appID, nil)
		s := b.get(p2)
		p := b.post(p2, url.Values{"flow": {s.flow(t)}, "username": {f.adminUPN}, "password": {f.password}})
		p.mustContain(t, http.StatusBadRequest, "AADSTS700016")
	})
}

func TestAuthorizationCodeErrors(t *testing.T) {
	f := newConsentFixture(t)
	// Install the app in tenant B by API, so sign-in returns a code at once.
	r := f.e.do(t, "POST", "/admin/v1/tenants/"+f.tenantB+"/servicePrincipals", f.e.adminT, map[string]any{"appId": f.app.appID})
	mustStatus(t, r, http.StatusCreated)
	code := func(t *testing.T) string {
		t.Helper()
		b := f.e.browser(t)
		path := f.authorizeURL(f.tenantB, f.app.appID, nil)
		s := b.get(path)
		p := b.post(path, url.Values{"flow": {s.flow(t)}, "username": {f.userUPN}, "password": {f.password}})
		if p.status != http.StatusFound || p.location.Query().Get("code") == "" {
			t.Fatalf("sign-in: %d %s", p.status, p.body)
		}
		return p.location.Query().Get("code")
	}
	for _, tc := range []struct {
		name   string
		form   url.Values
		tenant string
		before func()
		after  func()
		want   string
	}{
		{name: "ErrVerifier", form: url.Values{"code_verifier": {"wrong-verifier-wrong-verifier-wrong-verifier-00"}}, want: "AADSTS501481"},
		{name: "ErrNoVerifier", form: url.Values{"code_verifier": {""}}, want: "AADSTS501481"},
		{name: "ErrSecret", form: url.Values{"client_secret": {"not-the-secret"}}, want: "AADSTS7000215"},
		{name: "ErrNoSecret", form: url.Values{"client_secret": {""}}, want: "AADSTS7000218"},
		{name: "ErrRedirect", form: url.Values{"redirect_uri": {"https://app.example/other"}}, want: "AADSTS50148"},
		{name: "ErrOtherClient", form: url.Values{"client_id": {f.single.appID}, "client_secret": {f.single.secret}}, want: "AADSTS70000"},
		{name: "ErrOtherTenant", tenant: f.tenantA, want: "AADSTS70000"},
		{name: "ErrGarbage", form: url.Values{"code": {"not-a-code"}}, want: "AADSTS9002313"},
		{name: "ErrExpired", before: func() { f.e.clock.Advance(11 * time.Minute) }, after: func() { f.e.clock.Advance(-11 * time.Minute) }, want: "AADSTS70008"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			form := url.Values{"code": {code(t)}}
			for k, v := range tc.form {
				form[k] = v
			}
			tenant := f.tenantB
			if tc.tenant != "" {
				tenant = tc.tenant
			}
			if tc.before != nil {
				tc.before()
				defer tc.after()
			}
			r := f.redeem(t, tenant, form)
			if r.status < 400 || !strings.Contains(r.str("error_description"), tc.want) {
				t.Fatalf("got %d %s, want %s", r.status, r.raw, tc.want)
			}
		})
	}
}
