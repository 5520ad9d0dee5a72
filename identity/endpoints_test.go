package identity_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/galleonhq/galleon"
	"github.com/galleonhq/galleon/identity"
	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

func TestOpenIDConfiguration(t *testing.T) {
	e := newEnv(t)
	tid := e.boot.Tenant.ID
	base := e.srv.URL
	tests := []struct {
		name, path            string
		wantIssuer, wantToken string
	}{
		{"ByID", "/" + tid + "/v2.0/.well-known/openid-configuration",
			base + "/" + tid + "/v2.0", base + "/" + tid + "/oauth2/v2.0/token"},
		{"ByDomainAnyCase", "/GALLEON.local/V2.0/.Well-Known/OpenID-Configuration?",
			base + "/" + tid + "/v2.0", base + "/" + tid + "/oauth2/v2.0/token"},
		{"DoubleSlash", "//" + tid + "//v2.0/.well-known/openid-configuration",
			base + "/" + tid + "/v2.0", base + "/" + tid + "/oauth2/v2.0/token"},
		{"Organizations", "/organizations/v2.0/.well-known/openid-configuration",
			base + "/{tenantid}/v2.0", base + "/organizations/oauth2/v2.0/token"},
		{"Common", "/common/v2.0/.well-known/openid-configuration",
			base + "/{tenantid}/v2.0", base + "/common/oauth2/v2.0/token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(t, "GET", tt.path, "", nil)
			mustStatus(t, r, http.StatusOK)
			if got := r.str("issuer"); got != tt.wantIssuer {
				t.Errorf("issuer = %q, want %q", got, tt.wantIssuer)
			}
			if got := r.str("token_endpoint"); got != tt.wantToken {
				t.Errorf("token_endpoint = %q, want %q", got, tt.wantToken)
			}
			tenantPart := strings.TrimSuffix(strings.TrimPrefix(tt.wantToken, base+"/"), "/oauth2/v2.0/token")
			if got, want := r.str("authorization_endpoint"), base+"/"+tenantPart+"/oauth2/v2.0/authorize"; got != want {
				t.Errorf("authorization_endpoint = %q, want %q", got, want)
			}
			if got, want := r.str("jwks_uri"), base+"/"+tenantPart+"/discovery/v2.0/keys"; got != want {
				t.Errorf("jwks_uri = %q, want %q", got, want)
			}
			if got := fmt.Sprint(r.body["id_token_signing_alg_values_supported"]); got != "[RS256]" {
				t.Errorf("id_token_signing_alg_values_supported = %s", got)
			}
			for _, k := range []string{"response_types_supported", "subject_types_supported", "token_endpoint_auth_methods_supported", "grant_types_supported"} {
				if l, _ := r.body[k].([]any); len(l) == 0 {
					t.Errorf("%s is missing or empty", k)
				}
			}
			if v, ok := r.body["tenant_region_scope"]; !ok || v != nil {
				t.Errorf("tenant_region_scope = %v (present %v), want null", v, ok)
			}
		})
	}
	t.Run("ErrUnknownTenant", func(t *testing.T) {
		r := e.do(t, "GET", "/nowhere.example/v2.0/.well-known/openid-configuration", "", nil)
		wantAADError(t, r, http.StatusBadRequest, "invalid_tenant", 90002)
	})
	t.Run("ErrUnknownEndpoint", func(t *testing.T) {
		r := e.do(t, "GET", "/"+tid+"/oauth2/v2.0/devicecode", "", nil)
		mustStatus(t, r, http.StatusNotFound)
		if r.str("error") == "" {
			t.Errorf("404 without error: %s", r.raw)
		}
	})
}

func TestJWKS(t *testing.T) {
	e := newEnv(t)
	r := e.do(t, "GET", "/"+e.boot.Tenant.Domain+"/discovery/v2.0/keys", "", nil)
	mustStatus(t, r, http.StatusOK)
	var set jose.JSONWebKeySet
	if err := json.Unmarshal([]byte(r.raw), &set); err != nil {
		t.Fatalf("JWKS does not parse: %v", err)
	}
	if len(set.Keys) != 1 {
		t.Fatalf("JWKS has %d keys, want 1", len(set.Keys))
	}
	k := set.Keys[0]
	if !k.IsPublic() || k.Algorithm != "RS256" || k.Use != "sig" || k.KeyID == "" {
		t.Errorf("key = kid %q alg %q use %q public %v", k.KeyID, k.Algorithm, k.Use, k.IsPublic())
	}
	keys, _ := r.body["keys"].([]any)
	raw, _ := keys[0].(map[string]any)
	for _, f := range []string{"kid", "kty", "use", "alg", "n", "e"} {
		if s, _ := raw[f].(string); s == "" {
			t.Errorf("JWKS key lacks %q: %v", f, raw)
		}
	}
	if raw["kty"] != "RSA" {
		t.Errorf("kty = %v", raw["kty"])
	}
	// A token from the token endpoint verifies with the published key.
	tok, err := jwt.ParseSigned(e.adminT, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	if tok.Headers[0].KeyID != k.KeyID {
		t.Errorf("token kid %q, JWKS kid %q", tok.Headers[0].KeyID, k.KeyID)
	}
	var c map[string]any
	if err := tok.Claims(k.Key, &c); err != nil {
		t.Errorf("token does not verify with the JWKS key: %v", err)
	}
	t.Run("ErrUnknownTenant", func(t *testing.T) {
		r := e.do(t, "GET", "/nowhere.example/discovery/v2.0/keys", "", nil)
		wantAADError(t, r, http.StatusBadRequest, "invalid_tenant", 90002)
	})
}

func TestInstanceDiscovery(t *testing.T) {
	e := newEnv(t)
	host := strings.TrimPrefix(e.srv.URL, "http://")
	tests := []struct{ name, query, wantTenant string }{
		{"FromAuthorizationEndpoint", "?api-version=1.1&authorization_endpoint=" + url.QueryEscape(e.srv.URL+"/contoso.example/oauth2/v2.0/authorize"), "contoso.example"},
		{"Default", "?api-version=1.1", "common"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(t, "GET", "/common/discovery/instance"+tt.query, "", nil)
			mustStatus(t, r, http.StatusOK)
			if got, want := r.str("tenant_discovery_endpoint"), e.srv.URL+"/"+tt.wantTenant+"/v2.0/.well-known/openid-configuration"; got != want {
				t.Errorf("tenant_discovery_endpoint = %q, want %q", got, want)
			}
			md, _ := r.body["metadata"].([]any)
			if len(md) != 1 {
				t.Fatalf("metadata = %v", r.body["metadata"])
			}
			m := md[0].(map[string]any)
			if m["preferred_network"] != host || m["preferred_cache"] != host || fmt.Sprint(m["aliases"]) != "["+host+"]" {
				t.Errorf("metadata = %v, want host %s", m, host)
			}
		})
	}
}

// wantAADError checks an Entra-style error reply.
func wantAADError(t *testing.T, r reply, status int, oauthErr string, code int) {
	t.Helper()
	if r.status != status || r.str("error") != oauthErr {
		t.Fatalf("got %d %q, want %d %q; body %s", r.status, r.str("error"), status, oauthErr, r.raw)
	}
	if !strings.HasPrefix(r.str("error_description"), fmt.Sprintf("AADSTS%d: ", code)) {
		t.Errorf("error_description = %q, want prefix AADSTS%d", r.str("error_description"), code)
	}
	if codes, _ := r.body["error_codes"].([]any); len(codes) != 1 || codes[0] != float64(code) {
		t.Errorf("error_codes = %v, want [%d]", r.body["error_codes"], code)
	}
	for _, f := range []string{"timestamp", "trace_id", "correlation_id"} {
		if r.str(f) == "" {
			t.Errorf("error reply lacks %s", f)
		}
	}
}

func TestClientCredentials(t *testing.T) {
	e := newEnv(t)
	tid, appID, secret := e.boot.Tenant.ID, e.boot.Application.AppID, e.boot.ClientSecret
	tests := []struct {
		name    string
		path    string
		form    url.Values
		basic   bool
		wantAud string
	}{
		{"Scope", "/" + tid + "/oauth2/v2.0/token",
			url.Values{"scope": {e.srv.URL + "/.default"}}, false, e.srv.URL},
		{"ScopeDoubleSlashAsAzSends", "/" + tid + "/oauth2/v2.0/token",
			url.Values{"scope": {e.srv.URL + "//.default"}, "client_info": {"1"}, "claims": {`{"access_token":{"xms_cc":{"values":["CP1"]}}}`}}, false, e.srv.URL},
		{"ScopeWithOpenIDScopesAsSDKSends", "/" + tid + "/oauth2/v2.0/token",
			url.Values{"scope": {e.srv.URL + "/.default openid offline_access profile"}}, false, e.srv.URL},
		{"PublicARMAudience", "/" + tid + "/oauth2/v2.0/token",
			url.Values{"scope": {"https://management.core.windows.net//.default"}}, false, "https://management.core.windows.net/"},
		{"V1Resource", "/" + tid + "/oauth2/token",
			url.Values{"resource": {e.srv.URL + "/"}}, false, e.srv.URL},
		{"DomainAndCaseInPath", "/Galleon.Local/OAuth2/V2.0/Token",
			url.Values{"scope": {e.srv.URL + "/.default"}}, false, e.srv.URL},
		{"BasicAuth", "/" + tid + "/oauth2/v2.0/token",
			url.Values{"scope": {e.srv.URL + "/.default"}}, true, e.srv.URL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			form := tt.form
			form.Set("grant_type", "client_credentials")
			if !tt.basic {
				form.Set("client_id", appID)
				form.Set("client_secret", secret)
			}
			req, _ := http.NewRequest("POST", e.srv.URL+tt.path, strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if tt.basic {
				req.SetBasicAuth(url.QueryEscape(appID), url.QueryEscape(secret))
			}
			r := e.send(t, req)
			mustStatus(t, r, http.StatusOK)
			if r.str("token_type") != "Bearer" || r.body["expires_in"] != float64(3599) || r.body["ext_expires_in"] != float64(3599) {
				t.Errorf("reply = %s", r.raw)
			}
			if cc := r.header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control = %q", cc)
			}
			c := claimsOf(t, r.str("access_token"))
			want := map[string]any{
				"aud": tt.wantAud, "iss": e.srv.URL + "/" + tid + "/v2.0", "tid": tid,
				"oid": e.boot.ServicePrincipal.ID, "sub": e.boot.ServicePrincipal.ID,
				"appid": appID, "azp": appID, "idtyp": "app", "ver": "2.0",
			}
			for k, v := range want {
				if c[k] != v {
					t.Errorf("claim %s = %v, want %v", k, c[k], v)
				}
			}
			now := float64(e.clock.Now().Unix())
			if c["iat"] != now || c["nbf"] != now || c["exp"] != now+3600 {
				t.Errorf("iat/nbf/exp = %v/%v/%v, want %v/%v/%v", c["iat"], c["nbf"], c["exp"], now, now, now+3600)
			}
			if s, _ := c["uti"].(string); s == "" {
				t.Error("no uti claim")
			}
			p, err := e.svc.Authenticate(context.Background(), "Bearer "+r.str("access_token"))
			if err != nil {
				t.Fatalf("Authenticate: %v", err)
			}
			if p.ObjectID != e.boot.ServicePrincipal.ID || p.Type != galleon.PrincipalServicePrincipal || p.AppID != appID || p.TenantID != tid {
				t.Errorf("principal = %+v", p)
			}
		})
	}
}

func TestClientCredentialsErrors(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tid, appID, secret := e.boot.Tenant.ID, e.boot.Application.AppID, e.boot.ClientSecret
	scope := e.srv.URL + "/.default"
	tenantB := e.newTenant(t, "fabrikam.example")
	multi := e.newSP(t, tid, "multi", true)
	// A service principal for the single-tenant admin app in tenant B,
	// which the API refuses to create: the token endpoint must still say no.
	if err := e.store.CreateServicePrincipal(ctx, &galleon.ServicePrincipal{ID: "0d1b4a8e-6c1e-4a43-9d5b-0c4b8f0a1111",
		TenantID: tenantB, AppID: appID, DisplayName: "smuggled", CreatedAt: e.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	form := func(kv ...string) url.Values {
		v := url.Values{"grant_type": {"client_credentials"}, "client_id": {appID}, "client_secret": {secret}, "scope": {scope}}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == "" {
				v.Del(kv[i])
			} else {
				v.Set(kv[i], kv[i+1])
			}
		}
		return v
	}
	tests := []struct {
		name     string
		tenant   string
		form     url.Values
		status   int
		oauthErr string
		code     int
		mention  string
	}{
		{"ErrMissingGrantType", tid, form("grant_type", ""), 400, "invalid_request", 900144, "'grant_type'"},
		{"ErrUnsupportedGrantType", tid, form("grant_type", "refresh_token"), 400, "unsupported_grant_type", 70003, "refresh_token"},
		{"ErrMissingClientID", tid, form("client_id", ""), 400, "invalid_request", 900144, "'client_id'"},
		{"ErrMissingScope", tid, form("scope", ""), 400, "invalid_request", 900144, "'scope'"},
		{"ErrUnknownResource", tid, form("scope", "https://evil.example/.default"), 400, "invalid_scope", 70011, "https://evil.example"},
		{"ErrNoDefaultScope", tid, form("scope", e.srv.URL+"/user_impersonation"), 400, "invalid_scope", 70011, ".default"},
		{"ErrTwoDefaultScopes", tid, form("scope", scope+" https://management.core.windows.net//.default"), 400, "invalid_scope", 70011, "exactly one"},
		{"ErrMissingSecret", tid, form("client_secret", ""), 401, "invalid_client", 7000218, "client_secret"},
		{"ErrBadSecret", tid, form("client_secret", secret+"x"), 401, "invalid_client", 7000215, "Invalid client secret"},
		{"ErrSecretOfAnotherApp", tid, form("client_secret", multi.secret), 401, "invalid_client", 7000215, appID},
		{"ErrUnknownApp", tid, form("client_id", "6f1c8c43-5b0e-4a4c-9f8e-000000000000"), 400, "unauthorized_client", 700016, "6f1c8c43-5b0e-4a4c-9f8e-000000000000"},
		{"ErrObjectIDIsNotClientID", tid, form("client_id", e.boot.Application.ID), 400, "unauthorized_client", 700016, e.boot.Application.ID},
		{"ErrUnknownTenant", "nowhere.example", form(), 400, "invalid_tenant", 90002, "nowhere.example"},
		{"ErrCommonTenant", "common", form(), 400, "invalid_request", 90002, "tenant"},
		{"ErrMultiTenantAppNotConsented", tenantB, form("client_id", multi.appID, "client_secret", multi.secret), 400, "unauthorized_client", 700016, "consent"},
		{"ErrSingleTenantAppInForeignTenant", tenantB, form(), 400, "unauthorized_client", 700016, tenantB},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.postForm(t, "/"+tt.tenant+"/oauth2/v2.0/token", tt.form)
			wantAADError(t, r, tt.status, tt.oauthErr, tt.code)
			if !strings.Contains(r.str("error_description"), tt.mention) {
				t.Errorf("error_description %q does not mention %q", r.str("error_description"), tt.mention)
			}
		})
	}
	t.Run("ErrGet", func(t *testing.T) {
		r := e.do(t, "GET", "/"+tid+"/oauth2/v2.0/token", "", nil)
		wantAADError(t, r, 400, "invalid_request", 900561)
	})
	t.Run("CorrelationIDEchoed", func(t *testing.T) {
		req, _ := http.NewRequest("POST", e.srv.URL+"/"+tid+"/oauth2/v2.0/token", strings.NewReader(form("client_secret", "nope").Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("client-request-id", "5a1d6c1e-1111-4222-8333-944455556666")
		r := e.send(t, req)
		if r.str("correlation_id") != "5a1d6c1e-1111-4222-8333-944455556666" {
			t.Errorf("correlation_id = %q", r.str("correlation_id"))
		}
	})
	t.Run("ErrExpiredSecret", func(t *testing.T) {
		r := e.do(t, "POST", "/admin/v1/tenants/"+tid+"/applications/"+multi.appID+"/secrets", e.adminT, map[string]any{"expiresInDays": 1})
		mustStatus(t, r, http.StatusCreated)
		short := r.str("secretText")
		start := e.clock.Now()
		defer e.clock.Set(start)
		if tok := e.clientToken(t, tid, multi.appID, short); tok == "" {
			t.Fatal("fresh secret does not work")
		}
		e.clock.Advance(25 * time.Hour)
		r = e.postForm(t, "/"+tid+"/oauth2/v2.0/token", form("client_id", multi.appID, "client_secret", short))
		wantAADError(t, r, 401, "invalid_client", 7000222)
		// The app's other, longer-lived secret still works.
		if tok := e.clientToken(t, tid, multi.appID, multi.secret); tok == "" {
			t.Fatal("other secret stopped working")
		}
	})
	t.Run("ConsentedMultiTenantApp", func(t *testing.T) {
		r := e.do(t, "POST", "/admin/v1/tenants/"+tenantB+"/servicePrincipals", e.adminT, map[string]any{"appId": multi.appID})
		mustStatus(t, r, http.StatusCreated)
		tok := e.clientToken(t, tenantB, multi.appID, multi.secret)
		p, err := e.svc.Authenticate(ctx, "Bearer "+tok)
		if err != nil {
			t.Fatal(err)
		}
		if p.TenantID != tenantB || p.ObjectID != r.str("id") || p.AppID != multi.appID {
			t.Errorf("principal = %+v, want SP %s of tenant %s", p, r.str("id"), tenantB)
		}
	})
}

func TestPasswordGrant(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tid := e.boot.Tenant.ID
	const password = "correct horse battery staple"
	alice := e.newUser(t, tid, "alice@galleon.local", password)
	app := e.newSP(t, tid, "portal", false)
	form := func(kv ...string) url.Values {
		v := url.Values{"grant_type": {"password"}, "client_id": {"04b07795-8ddb-461a-bbee-02f9e1bf7b46"},
			"username": {"alice@galleon.local"}, "password": {password},
			"scope": {e.srv.URL + "//.default offline_access openid profile"}, "client_info": {"1"}}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == "" {
				v.Del(kv[i])
			} else {
				v.Set(kv[i], kv[i+1])
			}
		}
		return v
	}
	ok := []struct {
		name, tenant string
		form         url.Values
		wantApp      string
	}{
		{"AzureCLI", tid, form(), "04b07795-8ddb-461a-bbee-02f9e1bf7b46"},
		{"AzurePowerShellByDomain", "galleon.local", form("client_id", "1950a258-227b-4e31-a9cf-717495945fc2"), "1950a258-227b-4e31-a9cf-717495945fc2"},
		{"Organizations", "organizations", form("username", "ALICE@galleon.local"), "04b07795-8ddb-461a-bbee-02f9e1bf7b46"},
		{"RegisteredApp", tid, form("client_id", app.appID), app.appID},
		{"RegisteredAppWithSecret", tid, form("client_id", app.appID, "client_secret", app.secret), app.appID},
	}
	for _, tt := range ok {
		t.Run(tt.name, func(t *testing.T) {
			r := e.postForm(t, "/"+tt.tenant+"/oauth2/v2.0/token", tt.form)
			mustStatus(t, r, http.StatusOK)
			c := claimsOf(t, r.str("access_token"))
			want := map[string]any{"aud": e.srv.URL, "tid": tid, "oid": alice, "sub": alice, "idtyp": "user",
				"upn": "alice@galleon.local", "preferred_username": "alice@galleon.local", "name": "User alice@galleon.local",
				"appid": tt.wantApp, "azp": tt.wantApp, "ver": "2.0"}
			for k, v := range want {
				if c[k] != v {
					t.Errorf("claim %s = %v, want %v", k, c[k], v)
				}
			}
			idc := claimsOf(t, r.str("id_token"))
			if idc["aud"] != tt.wantApp || idc["oid"] != alice || idc["tid"] != tid {
				t.Errorf("id_token claims = %v", idc)
			}
			ci, err := base64.RawURLEncoding.DecodeString(r.str("client_info"))
			if err != nil || !strings.Contains(string(ci), alice) {
				t.Errorf("client_info = %q (%v)", ci, err)
			}
			p, err := e.svc.Authenticate(ctx, "Bearer "+r.str("access_token"))
			if err != nil {
				t.Fatal(err)
			}
			if p.Type != galleon.PrincipalUser || p.ObjectID != alice || p.AppID != tt.wantApp || p.DisplayName != "User alice@galleon.local" {
				t.Errorf("principal = %+v", p)
			}
		})
	}
	bad := []struct {
		name, tenant string
		form         url.Values
		status       int
		oauthErr     string
		code         int
	}{
		{"ErrWrongPassword", tid, form("password", password+"!"), 400, "invalid_grant", 50126},
		{"ErrUnknownUser", tid, form("username", "bob@galleon.local"), 400, "invalid_grant", 50126},
		{"ErrUserOfOtherTenant", "common", form("username", "alice@fabrikam.example"), 400, "invalid_tenant", 90002},
		{"ErrObjectIDAsUsername", tid, form("username", alice), 400, "invalid_grant", 50126},
		{"ErrUnknownClient", tid, form("client_id", "11111111-2222-3333-4444-555555555555"), 400, "unauthorized_client", 700016},
		{"ErrBadClientSecret", tid, form("client_id", app.appID, "client_secret", "nope"), 401, "invalid_client", 7000215},
		{"ErrMissingUsername", tid, form("username", ""), 400, "invalid_request", 900144},
		{"ErrMissingPassword", tid, form("password", ""), 400, "invalid_request", 900144},
		{"ErrUnknownResource", tid, form("scope", "https://graph.microsoft.com/.default"), 400, "invalid_scope", 70011},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			r := e.postForm(t, "/"+tt.tenant+"/oauth2/v2.0/token", tt.form)
			wantAADError(t, r, tt.status, tt.oauthErr, tt.code)
		})
	}
}

// TestAzureSDKCredentials signs in with the Azure SDK's own credentials
// (client secret and password), as Galleon's users will, and checks the tokens.
func TestAzureSDKCredentials(t *testing.T) {
	e := newEnvOpts(t, true)
	opts := policy.ClientOptions{
		Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: e.srv.URL + "/",
			Services: map[cloud.ServiceName]cloud.ServiceConfiguration{cloud.ResourceManager: {Endpoint: e.srv.URL, Audience: e.srv.URL}}},
		Transport: e.srv.Client(),
	}
	cred, err := azidentity.NewClientSecretCredential(e.boot.Tenant.ID, e.boot.Application.AppID, e.boot.ClientSecret,
		&azidentity.ClientSecretCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tok, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{e.srv.URL + "/.default"}, EnableCAE: true})
	if err != nil {
		t.Fatalf("GetToken: %v", err)
	}
	if until := time.Until(tok.ExpiresOn); until < 50*time.Minute {
		t.Errorf("token expires in %v, want about an hour", until)
	}
	p, err := e.svc.Authenticate(ctx, "Bearer "+tok.Token)
	if err != nil {
		t.Fatal(err)
	}
	if p.ObjectID != e.boot.ServicePrincipal.ID {
		t.Errorf("principal = %+v", p)
	}

	// The password flow, through MSAL's user realm discovery.
	e.newUser(t, e.boot.Tenant.ID, "alice@galleon.local", "correct horse battery staple")
	// (UsernamePasswordCredential is deprecated upstream but still used by scripts.)
	up, err := azidentity.NewUsernamePasswordCredential(e.boot.Tenant.ID, identity.AzureCLIClientID, "alice@galleon.local",
		"correct horse battery staple", &azidentity.UsernamePasswordCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: true})
	if err != nil {
		t.Fatal(err)
	}
	utok, err := up.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{e.srv.URL + "/.default"}})
	if err != nil {
		t.Fatalf("password GetToken: %v", err)
	}
	if p, err := e.svc.Authenticate(ctx, "Bearer "+utok.Token); err != nil || p.Type != galleon.PrincipalUser {
		t.Errorf("password token: principal %+v, err %v", p, err)
	}

	bad, err := azidentity.NewClientSecretCredential(e.boot.Tenant.ID, e.boot.Application.AppID, "wrong",
		&azidentity.ClientSecretCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: true})
	if err != nil {
		t.Fatal(err)
	}
	_, err = bad.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{e.srv.URL + "/.default"}})
	if err == nil || !strings.Contains(err.Error(), "AADSTS7000215") {
		t.Errorf("GetToken with a wrong secret: %v, want AADSTS7000215", err)
	}
}
