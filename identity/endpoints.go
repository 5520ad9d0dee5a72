package identity

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/galleonhq/galleon"
	jose "github.com/go-jose/go-jose/v4"
	"github.com/google/uuid"
)

// Well-known public clients that may use the password grant without an app
// registration in Galleon, as Entra lets them.
const (
	AzureCLIClientID        = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"
	AzurePowerShellClientID = "1950a258-227b-4e31-a9cf-717495945fc2"
)

var wellKnownClients = map[string]string{
	AzureCLIClientID:        "Microsoft Azure CLI",
	AzurePowerShellClientID: "Microsoft Azure PowerShell",
}

// Tenant names that stand for "any tenant" in Entra URLs.
func isMultiTenantAlias(seg string) bool {
	switch strings.ToLower(seg) {
	case "common", "organizations", "consumers":
		return true
	}
	return false
}

// maxFormBytes bounds token request bodies.
const maxFormBytes = 1 << 20

// Handler serves the identity endpoints, with tenant-first paths matched
// case-insensitively ({tenant} is a tenant ID or domain):
//
//	GET  /{tenant}/v2.0/.well-known/openid-configuration
//	GET  /{tenant}/discovery/v2.0/keys
//	POST /{tenant}/oauth2/v2.0/token   (and the v1 /{tenant}/oauth2/token)
//	GET, POST /{tenant}/oauth2/v2.0/authorize (and v1 /{tenant}/oauth2/authorize):
//	     sign-in and consent pages, see authorize.go
//	GET, POST /{tenant}/adminconsent and /{tenant}/v2.0/adminconsent
//	GET  /common/discovery/instance    (MSAL instance discovery)
//	GET  /common/UserRealm/{username}  (MSAL home-realm discovery)
//
// The discovery document and keys also answer for "common" and
// "organizations".
func (s *Service) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		segs := splitPath(r.URL.Path)
		if v, ok := match(segs, "{t}/v2.0/.well-known/openid-configuration"); ok {
			s.serveOpenIDConfiguration(w, r, v[0])
			return
		}
		if v, ok := match(segs, "{t}/discovery/v2.0/keys"); ok {
			s.serveKeys(w, r, v[0])
			return
		}
		if v, ok := match(segs, "{t}/discovery/keys"); ok {
			s.serveKeys(w, r, v[0])
			return
		}
		if v, ok := match(segs, "{t}/oauth2/v2.0/token"); ok {
			s.serveToken(w, r, v[0])
			return
		}
		if v, ok := match(segs, "{t}/oauth2/token"); ok {
			s.serveToken(w, r, v[0])
			return
		}
		if v, ok := match(segs, "{t}/oauth2/v2.0/authorize"); ok {
			s.serveAuthorize(w, r, v[0], flowCode, "2.0")
			return
		}
		if v, ok := match(segs, "{t}/oauth2/authorize"); ok {
			s.serveAuthorize(w, r, v[0], flowCode, "1.0")
			return
		}
		if v, ok := match(segs, "{t}/v2.0/adminconsent"); ok {
			s.serveAuthorize(w, r, v[0], flowAdminConsent, "2.0")
			return
		}
		if v, ok := match(segs, "{t}/adminconsent"); ok {
			s.serveAuthorize(w, r, v[0], flowAdminConsent, "1.0")
			return
		}
		if _, ok := match(segs, "{t}/userrealm/{user}"); ok {
			s.UserRealmHandler().ServeHTTP(w, r) // MSAL asks before a password grant
			return
		}
		if _, ok := match(segs, "{t}/discovery/instance"); ok {
			s.serveInstanceDiscovery(w, r)
			return
		}
		writeJSON(w, http.StatusNotFound, map[string]any{
			"error": "not_found",
			"error_description": fmt.Sprintf("The endpoint '%s' does not exist. Identity endpoints are /{tenant}/v2.0/.well-known/openid-configuration, /{tenant}/discovery/v2.0/keys and /{tenant}/oauth2/v2.0/token.",
				truncate(r.URL.Path)),
		})
	})
}

// aadError is an OAuth2 error reply in Entra's shape: an OAuth error code and
// an AADSTS number.
type aadError struct {
	status int
	err    string // OAuth2 error: invalid_client, invalid_grant, ...
	code   int    // AADSTS number
	desc   string // without the "AADSTSnnn: " prefix
}

func (e *aadError) Error() string {
	return fmt.Sprintf("%s: AADSTS%d: %s", e.err, e.code, e.desc)
}

func errMissingParam(name string) *aadError {
	return &aadError{status: http.StatusBadRequest, err: "invalid_request", code: 900144,
		desc: fmt.Sprintf("The request body must contain the following parameter: '%s'.", name)}
}

func errInvalidTenant(name string) *aadError {
	return &aadError{status: http.StatusBadRequest, err: "invalid_tenant", code: 90002,
		desc: fmt.Sprintf("Tenant '%s' not found. Check to make sure you have the correct tenant ID or domain and are signing into the correct cloud.", name)}
}

func errAppNotInTenant(appID, tenant string) *aadError {
	return &aadError{status: http.StatusBadRequest, err: "unauthorized_client", code: 700016,
		desc: fmt.Sprintf("Application with identifier '%s' was not found in the directory '%s'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant; the tenant administrator must consent (create a service principal for the application in that tenant). You may have sent your authentication request to the wrong tenant.", appID, tenant)}
}

// writeAADError writes err (an *aadError, or any other error as a server
// error) in Entra's JSON error shape.
func (s *Service) writeAADError(w http.ResponseWriter, r *http.Request, err error) {
	var ae *aadError
	if !errors.As(err, &ae) {
		s.logger().Error("identity request failed", "path", r.URL.Path, "err", err)
		ae = &aadError{status: http.StatusInternalServerError, err: "server_error", code: 90033,
			desc: "The identity service hit an internal error. Retry the request; if it keeps failing, give the trace ID to the operator."}
	}
	traceID := uuid.NewString()
	correlationID := r.Header.Get("client-request-id")
	if _, perr := uuid.Parse(correlationID); perr != nil {
		correlationID = uuid.NewString()
	}
	ts := s.now().UTC().Format("2006-01-02 15:04:05Z")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, ae.status, map[string]any{
		"error": ae.err,
		"error_description": fmt.Sprintf("AADSTS%d: %s Trace ID: %s Correlation ID: %s Timestamp: %s",
			ae.code, ae.desc, traceID, correlationID, ts),
		"error_codes":    []int{ae.code},
		"timestamp":      ts,
		"trace_id":       traceID,
		"correlation_id": correlationID,
	})
}

// lookupTenant resolves a tenant ID or domain from a URL.
func (s *Service) lookupTenant(ctx context.Context, seg string) (*galleon.Tenant, error) {
	t, err := s.Store.GetTenant(ctx, seg)
	if galleon.ErrorCode(err) == galleon.ENotFound {
		return nil, errInvalidTenant(seg)
	} else if err != nil {
		return nil, fmt.Errorf("get tenant %q: %w", seg, err)
	}
	return t, nil
}

func (s *Service) serveOpenIDConfiguration(w http.ResponseWriter, r *http.Request, seg string) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		s.writeAADError(w, r, errMethod(r.Method, "GET"))
		return
	}
	pathTenant, issuerTenant := strings.ToLower(seg), "{tenantid}"
	if !isMultiTenantAlias(seg) {
		t, err := s.lookupTenant(r.Context(), seg)
		if err != nil {
			s.writeAADError(w, r, err)
			return
		}
		// Like Entra, answer with the tenant's ID even when asked by domain.
		pathTenant, issuerTenant = t.ID, t.ID
	}
	base := s.baseURL() + "/" + pathTenant
	host := s.host()
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                s.issuer(issuerTenant),
		"authorization_endpoint":                base + "/oauth2/v2.0/authorize",
		"token_endpoint":                        base + "/oauth2/v2.0/token",
		"jwks_uri":                              base + "/discovery/v2.0/keys",
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "client_secret_basic"},
		"grant_types_supported":                 []string{"client_credentials", "password", "authorization_code"},
		"response_types_supported":              []string{"code", "id_token", "code id_token", "id_token token"},
		"response_modes_supported":              []string{"query", "fragment", "form_post"},
		"subject_types_supported":               []string{"pairwise"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"scopes_supported":                      []string{"openid", "profile", "email", "offline_access"},
		"claims_supported": []string{"sub", "iss", "aud", "exp", "iat", "nbf", "name", "oid", "tid", "upn",
			"preferred_username", "appid", "azp", "idtyp", "ver", "uti"},
		"request_uri_parameter_supported": false,
		"tenant_region_scope":             nil,
		"cloud_instance_name":             host,
		"cloud_graph_host_name":           host,
		"msgraph_host":                    host,
	})
}

func errMethod(got, want string) *aadError {
	return &aadError{status: http.StatusBadRequest, err: "invalid_request", code: 900561,
		desc: fmt.Sprintf("The endpoint only accepts %s requests. Received a %s request.", want, got)}
}

func (s *Service) serveKeys(w http.ResponseWriter, r *http.Request, seg string) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		s.writeAADError(w, r, errMethod(r.Method, "GET"))
		return
	}
	if !isMultiTenantAlias(seg) {
		if _, err := s.lookupTenant(r.Context(), seg); err != nil {
			s.writeAADError(w, r, err)
			return
		}
	}
	var set jose.JSONWebKeySet
	for _, k := range s.publishedKeys(r.Context()) {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: &k.priv.PublicKey, KeyID: k.kid, Algorithm: string(jose.RS256), Use: "sig"})
	}
	if set.Keys == nil {
		set.Keys = []jose.JSONWebKey{}
	}
	writeJSON(w, http.StatusOK, set)
}

func (s *Service) serveInstanceDiscovery(w http.ResponseWriter, r *http.Request) {
	tenant := "common"
	if u, err := url.Parse(r.URL.Query().Get("authorization_endpoint")); err == nil {
		if segs := splitPath(u.Path); len(segs) > 0 {
			tenant = segs[0]
		}
	}
	host := s.host()
	writeJSON(w, http.StatusOK, map[string]any{
		"tenant_discovery_endpoint": s.baseURL() + "/" + url.PathEscape(tenant) + "/v2.0/.well-known/openid-configuration",
		"api-version":               "1.1",
		"metadata": []map[string]any{{
			"preferred_network": host,
			"preferred_cache":   host,
			"aliases":           []string{host},
		}},
	})
}

// tokenResponse is the token endpoint's success reply.
type tokenResponse struct {
	TokenType    string `json:"token_type"`
	Scope        string `json:"scope,omitempty"`
	ExpiresIn    int64  `json:"expires_in"`
	ExtExpiresIn int64  `json:"ext_expires_in"`
	AccessToken  string `json:"access_token"`
	IDToken      string `json:"id_token,omitempty"`
	ClientInfo   string `json:"client_info,omitempty"`
}

func (s *Service) serveToken(w http.ResponseWriter, r *http.Request, seg string) {
	if r.Method != http.MethodPost {
		s.writeAADError(w, r, errMethod(r.Method, "POST"))
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		s.writeAADError(w, r, &aadError{status: http.StatusBadRequest, err: "invalid_request", code: 900144,
			desc: "The request body must be an application/x-www-form-urlencoded form of at most 1 MiB: " + err.Error() + "."})
		return
	}
	resp, err := s.token(r.Context(), r, seg)
	if err != nil {
		s.writeAADError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, http.StatusOK, resp)
}

// token handles a parsed token request.
func (s *Service) token(ctx context.Context, r *http.Request, seg string) (*tokenResponse, error) {
	form := r.PostForm
	grant := form.Get("grant_type")
	if grant == "" {
		return nil, errMissingParam("grant_type")
	}
	switch grant {
	case "client_credentials":
		if isMultiTenantAlias(seg) {
			return nil, &aadError{status: http.StatusBadRequest, err: "invalid_request", code: 90002,
				desc: fmt.Sprintf("The client credentials grant needs a tenant-specific endpoint; '%s' names no tenant. Use /{tenant ID or domain}/oauth2/v2.0/token.", seg)}
		}
		t, err := s.lookupTenant(ctx, seg)
		if err != nil {
			return nil, err
		}
		return s.clientCredentials(ctx, r, t)
	case "password":
		return s.passwordGrant(ctx, r, seg)
	case "authorization_code":
		return s.authorizationCodeGrant(ctx, r, seg)
	}
	return nil, &aadError{status: http.StatusBadRequest, err: "unsupported_grant_type", code: 70003,
		desc: fmt.Sprintf("The app requested an unsupported grant type '%s'. Supported grant types are 'client_credentials', 'password' and 'authorization_code'.", grant)}
}

// requestedResource returns the audience a token request names: the one
// "<resource>/.default" scope, or the v1 "resource" parameter when there is
// no scope. OpenID scopes (openid, profile, offline_access, email) are
// ignored.
func (s *Service) requestedResource(form url.Values) (aud, scope string, err error) {
	scopes := strings.Fields(form.Get("scope"))
	var defaults, others []string
	for _, sc := range scopes {
		switch {
		case strings.HasSuffix(strings.ToLower(sc), "/.default"):
			defaults = append(defaults, sc)
		case isOpenIDScope(sc):
		default:
			others = append(others, sc)
		}
	}
	var resource string
	switch {
	case len(scopes) == 0 && form.Get("resource") != "":
		resource = form.Get("resource")
	case len(scopes) == 0:
		return "", "", errMissingParam("scope")
	case len(defaults) == 1:
		scope = defaults[0]
		resource = scope[:len(scope)-len("/.default")]
	default:
		return "", "", &aadError{status: http.StatusBadRequest, err: "invalid_scope", code: 70011,
			desc: fmt.Sprintf("The provided value for the input parameter 'scope' is not valid: '%s'. It must contain exactly one '<resource>/.default' scope (found %d) and no other resource scopes (found %q); use %s.",
				form.Get("scope"), len(defaults), others, s.defaultScopes())}
	}
	aud, ok := s.matchAudience(resource)
	if !ok {
		return "", "", &aadError{status: http.StatusBadRequest, err: "invalid_scope", code: 70011,
			desc: fmt.Sprintf("The provided value for the input parameter 'scope' is not valid. The resource '%s' is not served by this Galleon; request a token for one of %s.",
				resource, s.defaultScopes())}
	}
	return aud, scope, nil
}

func isOpenIDScope(sc string) bool {
	switch strings.ToLower(sc) {
	case "openid", "profile", "offline_access", "email":
		return true
	}
	return false
}

// defaultScopes lists the accepted ".default" scopes for error messages.
func (s *Service) defaultScopes() string {
	q := make([]string, len(s.Audiences))
	for i, a := range s.Audiences {
		q[i] = "'" + strings.TrimRight(a, "/") + "/.default'"
	}
	return strings.Join(q, ", ")
}

// clientCredentials issues an app token to a service principal of t.
func (s *Service) clientCredentials(ctx context.Context, r *http.Request, t *galleon.Tenant) (*tokenResponse, error) {
	form := r.PostForm
	clientID, secret := form.Get("client_id"), form.Get("client_secret")
	if id, sec, ok := r.BasicAuth(); ok && clientID == "" && secret == "" {
		// client_secret_basic: both parts are form-encoded (RFC 6749 2.3.1).
		id, _ = url.QueryUnescape(id)
		sec, _ = url.QueryUnescape(sec)
		clientID, secret = id, sec
	}
	if clientID == "" {
		return nil, errMissingParam("client_id")
	}
	aud, _, err := s.requestedResource(form)
	if err != nil {
		return nil, err
	}
	if form.Get("client_assertion") != "" && secret == "" {
		return nil, &aadError{status: http.StatusUnauthorized, err: "invalid_client", code: 7000218,
			desc: "Client assertions (certificate credentials) are not supported by Galleon; authenticate with a 'client_secret'."}
	}
	if secret == "" {
		return nil, &aadError{status: http.StatusUnauthorized, err: "invalid_client", code: 7000218,
			desc: "The request body must contain the following parameter: 'client_assertion' or 'client_secret'."}
	}
	app, err := s.Store.GetApplication(ctx, clientID)
	if galleon.ErrorCode(err) == galleon.ENotFound || (err == nil && !strings.EqualFold(app.AppID, clientID)) {
		return nil, errAppNotInTenant(clientID, t.ID)
	} else if err != nil {
		return nil, fmt.Errorf("get application %q: %w", clientID, err)
	}
	if !app.MultiTenant && app.TenantID != t.ID {
		return nil, errAppNotInTenant(clientID, t.ID)
	}
	sp, err := s.Store.GetServicePrincipal(ctx, t.ID, app.AppID)
	if galleon.ErrorCode(err) == galleon.ENotFound {
		return nil, errAppNotInTenant(clientID, t.ID)
	} else if err != nil {
		return nil, fmt.Errorf("get service principal of %q: %w", clientID, err)
	}
	if err := s.checkClientSecret(ctx, app, secret); err != nil {
		return nil, err
	}
	c := &claims{
		Audience:        []string{aud},
		Issuer:          s.issuer(t.ID),
		AppID:           app.AppID,
		AppIDACR:        "1",
		AuthorizedParty: app.AppID,
		IDType:          idtypApp,
		ObjectID:        sp.ID,
		Subject:         sp.ID,
		TenantID:        t.ID,
		UniqueTokenID:   randomID(16),
		Version:         "2.0",
	}
	s.tokenTimes(c)
	tok, err := s.sign(ctx, c)
	if err != nil {
		return nil, err
	}
	s.logger().Info("token issued", "grant", "client_credentials", "tenant", t.ID, "appId", app.AppID, "oid", sp.ID, "aud", aud)
	return s.bearer(tok), nil
}

// bearer wraps an access token in the reply, with expires_in one second
// short of the lifetime as Entra reports it.
func (s *Service) bearer(tok string) *tokenResponse {
	in := int64(s.lifetime()/time.Second) - 1
	if in < 1 {
		in = 1
	}
	return &tokenResponse{TokenType: "Bearer", ExpiresIn: in, ExtExpiresIn: in, AccessToken: tok}
}

// checkClientSecret checks secret against every stored secret of app in
// constant time each, without stopping at the first match.
func (s *Service) checkClientSecret(ctx context.Context, app *galleon.Application, secret string) error {
	secrets, err := s.Store.ListClientSecrets(ctx, app.ID)
	if err != nil {
		return fmt.Errorf("list client secrets of %q: %w", app.AppID, err)
	}
	now := s.now()
	valid, expired := 0, 0
	for _, cs := range secrets {
		m := boolInt(clientSecretMatches(cs.Hash, secret))
		if now.Before(cs.ExpiresAt) {
			valid |= m
		} else {
			expired |= m
		}
	}
	switch {
	case valid == 1:
		return nil
	case expired == 1:
		return &aadError{status: http.StatusUnauthorized, err: "invalid_client", code: 7000222,
			desc: fmt.Sprintf("The provided client secret keys for app '%s' are expired. Add a new secret to the application (POST /admin/v1/tenants/{tenant}/applications/%s/secrets) and use it.", app.AppID, app.AppID)}
	}
	return &aadError{status: http.StatusUnauthorized, err: "invalid_client", code: 7000215,
		desc: fmt.Sprintf("Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '%s'.", app.AppID)}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// passwordGrant signs a user in with the resource owner password grant.
func (s *Service) passwordGrant(ctx context.Context, r *http.Request, seg string) (*tokenResponse, error) {
	form := r.PostForm
	clientID := form.Get("client_id")
	if clientID == "" {
		return nil, errMissingParam("client_id")
	}
	aud, scope, err := s.requestedResource(form)
	if err != nil {
		return nil, err
	}
	username, password := form.Get("username"), form.Get("password")
	if username == "" {
		return nil, errMissingParam("username")
	}
	if password == "" {
		return nil, errMissingParam("password")
	}
	// With /organizations or /common the user's domain picks the tenant.
	tenantName := seg
	if isMultiTenantAlias(seg) {
		_, domain, ok := strings.Cut(username, "@")
		if !ok || domain == "" {
			return nil, errInvalidGrant()
		}
		tenantName = domain
	}
	t, err := s.lookupTenant(ctx, tenantName)
	if err != nil {
		return nil, err
	}
	var app *galleon.Application
	if _, known := wellKnownClients[strings.ToLower(clientID)]; !known {
		app, err = s.Store.GetApplication(ctx, clientID)
		if galleon.ErrorCode(err) == galleon.ENotFound || (err == nil && !strings.EqualFold(app.AppID, clientID)) {
			return nil, errAppNotInTenant(clientID, t.ID)
		} else if err != nil {
			return nil, fmt.Errorf("get application %q: %w", clientID, err)
		}
		if !app.MultiTenant && app.TenantID != t.ID {
			return nil, errAppNotInTenant(clientID, t.ID)
		}
	}
	u, err := s.Store.GetUser(ctx, t.ID, username)
	switch {
	case galleon.ErrorCode(err) == galleon.ENotFound || (err == nil && !strings.EqualFold(u.UserPrincipalName, username)):
		VerifyPassword(dummyHash(), password) // same work as a wrong password
		return nil, errInvalidGrant()
	case err != nil:
		return nil, fmt.Errorf("get user %q: %w", username, err)
	}
	if !VerifyPassword(u.PasswordHash, password) {
		return nil, errInvalidGrant()
	}
	if app != nil && form.Get("client_secret") != "" {
		if err := s.checkClientSecret(ctx, app, form.Get("client_secret")); err != nil {
			return nil, err
		}
	}
	appID := strings.ToLower(clientID)
	if app != nil {
		appID = app.AppID
	}
	resp, err := s.userTokens(ctx, t, u, userGrant{appID: appID, appIDACR: "0", aud: aud, scope: scope, clientInfo: form.Get("client_info") == "1"})
	if err != nil {
		return nil, err
	}
	s.logger().Info("token issued", "grant", "password", "tenant", t.ID, "appId", appID, "oid", u.ID, "aud", aud)
	return resp, nil
}

// userGrant is what a user's tokens are issued for.
type userGrant struct {
	appID      string // the client application
	appIDACR   string // how the client authenticated: "0" none, "1" secret
	aud        string // the access token's audience
	scope      string // the scope to report ("" = aud/.default)
	nonce      string // echoed in the ID token
	clientInfo bool   // add MSAL's client_info
}

// userTokens signs an access token and an ID token for user u of tenant t.
func (s *Service) userTokens(ctx context.Context, t *galleon.Tenant, u *galleon.User, g userGrant) (*tokenResponse, error) {
	appID, aud, scope := g.appID, g.aud, g.scope
	c := &claims{
		Audience:          []string{aud},
		Issuer:            s.issuer(t.ID),
		AppID:             appID,
		AppIDACR:          g.appIDACR,
		AuthorizedParty:   appID,
		IDType:            idtypUser,
		Name:              u.DisplayName,
		ObjectID:          u.ID,
		PreferredUsername: u.UserPrincipalName,
		Subject:           u.ID,
		TenantID:          t.ID,
		UPN:               u.UserPrincipalName,
		UniqueTokenID:     randomID(16),
		Version:           "2.0",
	}
	s.tokenTimes(c)
	tok, err := s.sign(ctx, c)
	if err != nil {
		return nil, err
	}
	idc := &claims{
		Audience:          []string{appID},
		Issuer:            s.issuer(t.ID),
		Name:              u.DisplayName,
		Nonce:             g.nonce,
		ObjectID:          u.ID,
		PreferredUsername: u.UserPrincipalName,
		Subject:           u.ID,
		TenantID:          t.ID,
		Version:           "2.0",
	}
	s.tokenTimes(idc)
	idTok, err := s.sign(ctx, idc)
	if err != nil {
		return nil, err
	}
	resp := s.bearer(tok)
	resp.IDToken = idTok
	if scope == "" {
		scope = strings.TrimRight(aud, "/") + "/.default"
	}
	resp.Scope = scope
	if g.clientInfo {
		ci, _ := json.Marshal(map[string]string{"uid": u.ID, "utid": t.ID})
		resp.ClientInfo = base64.RawURLEncoding.EncodeToString(ci)
	}
	return resp, nil
}

func errInvalidGrant() *aadError {
	return &aadError{status: http.StatusBadRequest, err: "invalid_grant", code: 50126,
		desc: "Error validating credentials due to invalid username or password."}
}
