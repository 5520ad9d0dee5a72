package identity

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/galleonhq/galleon"
	jose "github.com/go-jose/go-jose/v4"
)

// Interactive sign-in and consent, the browser half of Entra's OAuth2
// endpoints:
//
//	GET  /{tenant}/oauth2/v2.0/authorize?client_id&response_type=code&redirect_uri&scope&state
//	GET  /{tenant}/oauth2/authorize?client_id&response_type=code&redirect_uri&resource&state  (v1)
//	GET  /{tenant}/adminconsent?client_id&redirect_uri&state                                 (v1)
//	GET  /{tenant}/v2.0/adminconsent?client_id&scope&redirect_uri&state
//
// answer with a sign-in page for a user of {tenant}; its form, and then the
// consent page's, POST back to the same URL. Accepting consent creates the
// application's service principal in the user's tenant (how a multi-tenant
// app gets into a second tenant), then the browser is sent to redirect_uri
// with ?code=&state= (authorize) or ?admin_consent=True&tenant=&state=
// (adminconsent). The code is redeemed at the token endpoint with
// grant_type=authorization_code by the client with its secret, and PKCE when
// the authorize request carried a code_challenge.
//
// Consent is admin consent only: creating a service principal changes the
// whole tenant, so only a Global Administrator (or installation operator) of
// the tenant may accept. Other users are told to ask an administrator, and
// once the service principal exists they sign in to the app without a
// consent page.
//
// There is no server-side session: each page carries a "flow" ticket, a JWS
// signed with the token-signing keys that holds the request and what has
// been established (the signed-in user), and is bound to a random cookie
// (double-submit) so that another site cannot post it from the user's
// browser. Authorization codes are such tickets too; a redeemed code's ID is
// remembered by this node until it expires.

//go:embed pages/*.html
var pageFS embed.FS

var pages = template.Must(template.ParseFS(pageFS, "pages/*.html"))

// Kinds of browser flows.
const (
	flowCode         = "code"         // /authorize: sign in, consent if needed, return a code
	flowAdminConsent = "adminconsent" // /adminconsent: sign in, consent for the tenant
)

// Ticket purposes: what the holder may do next.
const (
	purposeSignIn  = "signin"
	purposeConsent = "consent"
	purposeCode    = "code"
)

const (
	ticketType      = "galleon-flow+jwt"
	flowLifetime    = 15 * time.Minute // to fill in the sign-in and consent pages
	codeLifetime    = 10 * time.Minute // to redeem an authorization code
	csrfCookie      = "galleon_flow_csrf"
	maxParamLen     = 2048
	maxRedirectLen  = 2048
	maxPageFormSize = 64 << 10
)

// authorizeRequest is the client's request, as the query gave it.
type authorizeRequest struct {
	Kind                string `json:"kind"`
	Version             string `json:"ver"`
	Tenant              string `json:"tenant"` // the path segment: ID, domain or alias
	ClientID            string `json:"client_id"`
	RedirectURI         string `json:"redirect_uri,omitempty"`
	State               string `json:"state,omitempty"`
	Scope               string `json:"scope,omitempty"`
	Resource            string `json:"resource,omitempty"` // the audience, resolved from scope or resource
	Prompt              string `json:"prompt,omitempty"`
	Nonce               string `json:"nonce,omitempty"`
	LoginHint           string `json:"login_hint,omitempty"`
	CodeChallenge       string `json:"code_challenge,omitempty"`
	CodeChallengeMethod string `json:"code_challenge_method,omitempty"`
	OpenID              bool   `json:"openid,omitempty"`
}

// flowTicket is the signed state a page or code carries. Its field names
// deliberately avoid the access-token claims (tid, oid, aud, iss), so a
// ticket can never pass as a token, and its JWS type differs.
type flowTicket struct {
	Purpose  string           `json:"purpose"`
	ID       string           `json:"jti"`
	Expires  int64            `json:"exp"`
	CSRF     string           `json:"csrf,omitempty"`
	TenantID string           `json:"tenantId,omitempty"` // resolved at sign-in
	UserID   string           `json:"userId,omitempty"`
	Req      authorizeRequest `json:"req"`
}

// signTicket serializes t as a compact JWS with the active signing key.
func (s *Service) signTicket(ctx context.Context, t *flowTicket) (string, error) {
	k, err := s.signer(ctx)
	if err != nil {
		return "", err
	}
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: k.priv, KeyID: k.kid}},
		(&jose.SignerOptions{}).WithType(ticketType))
	if err != nil {
		return "", fmt.Errorf("make ticket signer: %w", err)
	}
	payload, err := json.Marshal(t)
	if err != nil {
		return "", fmt.Errorf("encode ticket: %w", err)
	}
	jws, err := sig.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("sign ticket: %w", err)
	}
	return jws.CompactSerialize()
}

// errBadTicket is returned for tickets that do not verify; errExpiredTicket
// for good ones past their time.
var (
	errBadTicket     = errors.New("ticket does not verify")
	errExpiredTicket = errors.New("ticket expired")
)

// openTicket verifies a ticket and checks its purpose and expiry.
func (s *Service) openTicket(ctx context.Context, raw, purpose string) (*flowTicket, error) {
	if raw == "" || len(raw) > 16<<10 {
		return nil, errBadTicket
	}
	jws, err := jose.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil || len(jws.Signatures) != 1 {
		return nil, errBadTicket
	}
	h := jws.Signatures[0].Protected
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); typ != ticketType || h.KeyID == "" {
		return nil, errBadTicket
	}
	key := s.verificationKey(ctx, h.KeyID)
	if key == nil {
		return nil, errBadTicket
	}
	payload, err := jws.Verify(&key.priv.PublicKey)
	if err != nil {
		return nil, errBadTicket
	}
	var t flowTicket
	if err := json.Unmarshal(payload, &t); err != nil || t.Purpose != purpose || t.ID == "" {
		return nil, errBadTicket
	}
	if s.now().Unix() > t.Expires {
		return &t, errExpiredTicket
	}
	return &t, nil
}

// page is what the templates render.
type page struct {
	Title, Action, Flow, Error, Code string
	AppName, AppID                   string
	PublisherName, PublisherDomain   string
	PublisherID                      string
	TenantName, TenantID             string
	UserName, LoginHint              string
	AdminConsent                     bool
	Permissions, Lines               []string
}

// renderPage writes an HTML page with headers that keep it out of frames
// and caches.
func (s *Service) renderPage(w http.ResponseWriter, status int, name string, p *page) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'")
	w.WriteHeader(status)
	if err := pages.ExecuteTemplate(w, name, p); err != nil {
		s.logger().Error("render page", "page", name, "err", err)
	}
}

// errorPage shows an AADSTS error; the browser is not redirected, since the
// request cannot be trusted to name a safe place.
func (s *Service) errorPage(w http.ResponseWriter, status int, e *aadError) {
	s.renderPage(w, status, "message", &page{Title: "Sorry, but we're having trouble signing you in",
		Error: fmt.Sprintf("AADSTS%d: %s", e.code, e.desc), Code: "Error: " + e.err})
}

func errAuthorize(code int, desc string, args ...any) *aadError {
	return &aadError{status: http.StatusBadRequest, err: "invalid_request", code: code, desc: fmt.Sprintf(desc, args...)}
}

// serveAuthorize serves the authorize and adminconsent endpoints.
func (s *Service) serveAuthorize(w http.ResponseWriter, r *http.Request, seg, kind, version string) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		s.startFlow(w, r, seg, kind, version)
	case http.MethodPost:
		r.Body = http.MaxBytesReader(w, r.Body, maxPageFormSize)
		if err := r.ParseForm(); err != nil {
			s.errorPage(w, http.StatusBadRequest, errAuthorize(900144, "The form could not be read: %v.", err))
			return
		}
		if r.PostForm.Get("decision") != "" {
			s.consentDecision(w, r)
		} else {
			s.signIn(w, r)
		}
	default:
		w.Header().Set("Allow", "GET, POST")
		s.errorPage(w, http.StatusMethodNotAllowed, errMethod(r.Method, "GET or POST"))
	}
}

// parseAuthorize reads and checks the query of an authorize or adminconsent
// request. It returns the request and the application it names.
func (s *Service) parseAuthorize(ctx context.Context, q url.Values, seg, kind, version string) (*authorizeRequest, *galleon.Application, *aadError) {
	req := &authorizeRequest{Kind: kind, Version: version, Tenant: seg,
		ClientID: q.Get("client_id"), RedirectURI: q.Get("redirect_uri"), State: q.Get("state"), Scope: q.Get("scope"),
		Prompt: q.Get("prompt"), Nonce: q.Get("nonce"), LoginHint: q.Get("login_hint"),
		CodeChallenge: q.Get("code_challenge"), CodeChallengeMethod: q.Get("code_challenge_method")}
	for name, v := range map[string]string{"state": req.State, "scope": req.Scope, "nonce": req.Nonce, "login_hint": req.LoginHint,
		"resource": q.Get("resource"), "code_challenge": req.CodeChallenge, "prompt": req.Prompt} {
		if len(v) > maxParamLen {
			return nil, nil, errAuthorize(90015, "The parameter '%s' is longer than %d characters.", name, maxParamLen)
		}
	}
	if req.ClientID == "" {
		return nil, nil, errAuthorize(900144, "The request must contain the parameter 'client_id': the application (client) ID.")
	}
	if !isMultiTenantAlias(seg) {
		t, err := s.Store.GetTenant(ctx, seg)
		if galleon.ErrorCode(err) == galleon.ENotFound {
			e := errInvalidTenant(seg)
			return nil, nil, e
		} else if err != nil {
			return nil, nil, &aadError{status: http.StatusInternalServerError, err: "server_error", code: 90033, desc: "The directory could not be read; try again."}
		}
		req.Tenant = t.ID
	}
	app, err := s.Store.GetApplication(ctx, req.ClientID)
	if err != nil || !strings.EqualFold(app.AppID, req.ClientID) {
		e := errAppNotInTenant(req.ClientID, req.Tenant)
		e.desc = fmt.Sprintf("Application with identifier '%s' was not found in the directory '%s'. Check the client_id: it is the application (client) ID of a registered application.", req.ClientID, req.Tenant)
		return nil, nil, e
	}
	if !app.MultiTenant && !isMultiTenantAlias(req.Tenant) && !strings.EqualFold(app.TenantID, req.Tenant) {
		return nil, nil, errSingleTenantApp(app, req.Tenant)
	}
	if err := checkRedirectURI(req.RedirectURI); err != nil {
		return nil, nil, err
	}
	if kind == flowCode {
		switch rt := q.Get("response_type"); rt {
		case "code":
		case "":
			return nil, nil, errAuthorize(900144, "The request must contain the parameter 'response_type'; Galleon supports 'code'.")
		default:
			return nil, nil, &aadError{status: http.StatusBadRequest, err: "unsupported_response_type", code: 700054,
				desc: fmt.Sprintf("The response_type '%s' is not supported; Galleon supports the authorization code flow (response_type=code) only.", truncate(rt))}
		}
		if m := q.Get("response_mode"); m != "" && m != "query" {
			return nil, nil, errAuthorize(900144, "The response_mode '%s' is not supported; Galleon returns codes in the query of redirect_uri (response_mode=query).", truncate(m))
		}
		switch req.CodeChallengeMethod {
		case "":
			if req.CodeChallenge != "" {
				req.CodeChallengeMethod = "plain"
			}
		case "S256", "plain":
			if req.CodeChallenge == "" {
				return nil, nil, errAuthorize(501491, "code_challenge_method was given without a code_challenge.")
			}
		default:
			return nil, nil, errAuthorize(501491, "The code_challenge_method '%s' is not supported; use 'S256'.", truncate(req.CodeChallengeMethod))
		}
	}
	aud, openID, aerr := s.authorizeScopes(req.Scope, q.Get("resource"))
	if aerr != nil {
		return nil, nil, aerr
	}
	req.Resource, req.OpenID = aud, openID
	return req, app, nil
}

func errSingleTenantApp(app *galleon.Application, tenant string) *aadError {
	return &aadError{status: http.StatusBadRequest, err: "unauthorized_client", code: 700016,
		desc: fmt.Sprintf("Application with identifier '%s' was not found in the directory '%s'. The application is a single-tenant application of tenant '%s': only that tenant's users can sign in to it. Its owner must make it multi-tenant before other tenants can consent to it.",
			app.AppID, tenant, app.TenantID)}
}

// checkRedirectURI accepts absent redirect URIs (the flow then ends on a
// page), https URLs, and http only on the loopback interface (RFC 8252).
// Galleon applications register no reply URLs, so this is the whole check.
func checkRedirectURI(raw string) *aadError {
	if raw == "" {
		return nil
	}
	bad := func(why string) *aadError {
		return errAuthorize(50011, "The redirect URI '%s' is not valid: %s.", truncate(raw), why)
	}
	if len(raw) > maxRedirectLen {
		return bad(fmt.Sprintf("it is longer than %d characters", maxRedirectLen))
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return bad("it must be an absolute https URL")
	}
	if u.Fragment != "" || u.User != nil {
		return bad("it must not contain a fragment or user information")
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
		return nil
	case "http":
		if h := u.Hostname(); h == "localhost" || h == "127.0.0.1" || h == "::1" {
			return nil
		}
		return bad("http is allowed only for localhost; use https")
	}
	return bad("the scheme must be https")
}

// authorizeScopes reads the v2 scope (or the v1 resource) of an authorize
// request: OpenID scopes, and at most one resource scope
// ("<resource>/.default" or "<resource>/user_impersonation") for a served
// audience. It returns the audience ("" when none is asked for) and whether
// an ID token ("openid") was asked for.
func (s *Service) authorizeScopes(scope, resource string) (string, bool, *aadError) {
	openID := false
	var resources []string
	if resource != "" {
		resources = append(resources, resource)
	}
	for _, sc := range strings.Fields(scope) {
		l := strings.ToLower(sc)
		switch {
		case l == "openid":
			openID = true
		case isOpenIDScope(sc):
		case strings.HasSuffix(l, "/.default"):
			resources = append(resources, sc[:len(sc)-len("/.default")])
		case strings.HasSuffix(l, "/user_impersonation"):
			resources = append(resources, sc[:len(sc)-len("/user_impersonation")])
		default:
			return "", false, &aadError{status: http.StatusBadRequest, err: "invalid_scope", code: 70011,
				desc: fmt.Sprintf("The scope '%s' is not valid. Ask for openid, profile, email, offline_access and at most one of %s.", truncate(sc), s.defaultScopes())}
		}
	}
	if len(resources) > 1 {
		return "", false, &aadError{status: http.StatusBadRequest, err: "invalid_scope", code: 70011,
			desc: "The request names more than one resource; ask for one resource per authorization (one '<resource>/.default' scope, or the v1 'resource' parameter)."}
	}
	if len(resources) == 0 {
		return "", openID, nil
	}
	aud, ok := s.matchAudience(resources[0])
	if !ok {
		return "", false, &aadError{status: http.StatusBadRequest, err: "invalid_resource", code: 500011,
			desc: fmt.Sprintf("The resource principal named '%s' was not found in the tenant. This Galleon serves %s.", truncate(resources[0]), s.defaultScopes())}
	}
	return aud, openID, nil
}

// csrfValue returns the browser's flow cookie, setting a new one when it
// has none, so that several open sign-in tabs share one value.
func (s *Service) csrfValue(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(csrfCookie); err == nil && len(c.Value) == 43 {
		return c.Value
	}
	v := randomID(32) // 43 characters of base64url
	http.SetCookie(w, &http.Cookie{Name: csrfCookie, Value: v, Path: "/", HttpOnly: true,
		Secure: strings.HasPrefix(strings.ToLower(s.baseURL()), "https:"), SameSite: http.SameSiteLaxMode})
	return v
}

// csrfOK checks the posted ticket against the browser's cookie.
func csrfOK(r *http.Request, t *flowTicket) bool {
	c, err := r.Cookie(csrfCookie)
	return err == nil && t.CSRF != "" && subtle.ConstantTimeCompare([]byte(c.Value), []byte(t.CSRF)) == 1
}

// startFlow validates the request and shows the sign-in page.
func (s *Service) startFlow(w http.ResponseWriter, r *http.Request, seg, kind, version string) {
	ctx := r.Context()
	req, app, aerr := s.parseAuthorize(ctx, r.URL.Query(), seg, kind, version)
	if aerr != nil {
		s.errorPage(w, aerr.status, aerr)
		return
	}
	t := &flowTicket{Purpose: purposeSignIn, ID: randomID(16), Expires: s.now().Add(flowLifetime).Unix(), CSRF: s.csrfValue(w, r), Req: *req}
	s.showSignIn(w, r, t, app, "")
}

func (s *Service) showSignIn(w http.ResponseWriter, r *http.Request, t *flowTicket, app *galleon.Application, msg string) {
	flow, err := s.signTicket(r.Context(), t)
	if err != nil {
		s.logger().Error("sign flow ticket", "err", err)
		s.errorPage(w, http.StatusInternalServerError, &aadError{err: "server_error", code: 90033, desc: "The sign-in page could not be prepared; try again."})
		return
	}
	p := &page{Title: "Sign in", Action: r.URL.Path, Flow: flow, Error: msg, AppName: app.DisplayName, LoginHint: t.Req.LoginHint}
	if !isMultiTenantAlias(t.Req.Tenant) {
		if tn, err := s.Store.GetTenant(r.Context(), t.Req.Tenant); err == nil {
			p.TenantName = tn.DisplayName
		}
	}
	s.renderPage(w, http.StatusOK, "signin", p)
}

// expiredPage is shown for a ticket past its time.
func (s *Service) expiredPage(w http.ResponseWriter) {
	s.errorPage(w, http.StatusBadRequest, errAuthorize(50058,
		"The sign-in session has expired or the page was opened in another browser. Go back to the application and start signing in again."))
}

// signIn checks the posted credentials and continues to consent or to the
// application.
func (s *Service) signIn(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	t, err := s.openTicket(ctx, r.PostForm.Get("flow"), purposeSignIn)
	if err != nil || !csrfOK(r, t) {
		s.expiredPage(w)
		return
	}
	app, err := s.Store.GetApplication(ctx, t.Req.ClientID)
	if err != nil {
		s.errorPage(w, http.StatusBadRequest, errAppNotInTenant(t.Req.ClientID, t.Req.Tenant))
		return
	}
	username, password := strings.TrimSpace(r.PostForm.Get("username")), r.PostForm.Get("password")
	tenantName := t.Req.Tenant
	if isMultiTenantAlias(tenantName) {
		_, tenantName, _ = strings.Cut(username, "@")
	}
	wrong := "Your account or password is incorrect. Check the user name (name@domain of the tenant) and the password."
	if username == "" || password == "" || tenantName == "" {
		s.showSignIn(w, r, t, app, "Enter your user name and password.")
		return
	}
	tn, err := s.Store.GetTenant(ctx, tenantName)
	if err != nil {
		VerifyPassword(dummyHash(), password)
		s.showSignIn(w, r, t, app, wrong)
		return
	}
	u, err := s.Store.GetUser(ctx, tn.ID, username)
	if err != nil || !strings.EqualFold(u.UserPrincipalName, username) {
		VerifyPassword(dummyHash(), password) // same work as a wrong password
		s.showSignIn(w, r, t, app, wrong)
		return
	}
	if !VerifyPassword(u.PasswordHash, password) {
		s.showSignIn(w, r, t, app, wrong)
		return
	}
	if !app.MultiTenant && app.TenantID != tn.ID {
		s.errorPage(w, http.StatusBadRequest, errSingleTenantApp(app, tn.ID))
		return
	}
	t.TenantID, t.UserID = tn.ID, u.ID
	s.logger().Info("user signed in on the authorize page", "tenant", tn.ID, "oid", u.ID, "appId", app.AppID)
	s.afterSignIn(w, r, t, app, tn, u)
}

// afterSignIn decides between the consent page, a refusal for users who
// cannot consent, and finishing at once.
func (s *Service) afterSignIn(w http.ResponseWriter, r *http.Request, t *flowTicket, app *galleon.Application, tn *galleon.Tenant, u *galleon.User) {
	ctx := r.Context()
	admin, err := s.canConsent(ctx, tn.ID, u.ID)
	if err != nil {
		s.writeFlowError(w, err)
		return
	}
	_, spErr := s.Store.GetServicePrincipal(ctx, tn.ID, app.AppID)
	installed := spErr == nil
	if spErr != nil && galleon.ErrorCode(spErr) != galleon.ENotFound {
		s.writeFlowError(w, spErr)
		return
	}
	forceConsent := t.Req.Kind == flowAdminConsent || t.Req.Prompt == "consent" || t.Req.Prompt == "admin_consent"
	if installed && !forceConsent {
		s.finish(w, r, t, tn, u)
		return
	}
	if !admin {
		lines := []string{
			fmt.Sprintf("%s needs permission to access resources in your organization that only an administrator can grant.", app.DisplayName),
			fmt.Sprintf("Ask a Global Administrator of %s (%s) to open this sign-in link and accept, or to add the application with Graph POST /v1.0/servicePrincipals {\"appId\": \"%s\"}.", tn.DisplayName, tn.Domain, app.AppID),
		}
		if installed {
			lines = lines[1:]
			lines[0] = "Only a Global Administrator can review this application's permissions for the organization. You can sign in to it without prompt=consent."
		}
		s.renderPage(w, http.StatusForbidden, "message", &page{Title: "Need admin approval", Lines: lines,
			Code: fmt.Sprintf("AADSTS90094: %s (%s) is not a Global Administrator of tenant '%s' and cannot consent for it.", u.UserPrincipalName, u.ID, tn.ID)})
		return
	}
	publisher, err := s.Store.GetTenant(ctx, app.TenantID)
	if err != nil {
		s.writeFlowError(w, err)
		return
	}
	c := *t
	c.Purpose, c.ID, c.Expires = purposeConsent, randomID(16), s.now().Add(flowLifetime).Unix()
	flow, err := s.signTicket(ctx, &c)
	if err != nil {
		s.writeFlowError(w, err)
		return
	}
	s.renderPage(w, http.StatusOK, "consent", &page{Title: "Permissions requested", Action: r.URL.Path, Flow: flow,
		AppName: app.DisplayName, AppID: app.AppID, PublisherName: publisher.DisplayName, PublisherDomain: publisher.Domain, PublisherID: publisher.ID,
		TenantName: tn.DisplayName, TenantID: tn.ID, UserName: u.UserPrincipalName, AdminConsent: true,
		Permissions: s.permissions(t.Req)})
}

// permissions describes what the application asks for, for the consent page.
func (s *Service) permissions(req authorizeRequest) []string {
	out := []string{"Sign you in and read your profile (name, user name and tenant)."}
	if req.Resource != "" {
		out = append(out, fmt.Sprintf("Access Azure Service Management (%s) as the signed-in user, with the roles that user holds.", req.Resource))
	}
	if req.Kind == flowAdminConsent {
		out = append(out, "Sign in to your organization as the application itself (client credentials), with the roles your organization gives it.")
	}
	return out
}

// canConsent reports whether user may consent for tenant: a Global
// Administrator or installation operator, directly or through a group.
func (s *Service) canConsent(ctx context.Context, tenantID, userID string) (bool, error) {
	groups, err := s.transitiveGroups(ctx, tenantID, userID)
	if err != nil {
		return false, err
	}
	roles, err := s.directoryRoles(ctx, tenantID, append([]string{userID}, groups...))
	if err != nil {
		return false, err
	}
	for _, r := range roles {
		if r == galleon.RoleGlobalAdministrator || r == galleon.RoleInstallationOperator {
			return true, nil
		}
	}
	return false, nil
}

func (s *Service) writeFlowError(w http.ResponseWriter, err error) {
	s.logger().Error("authorize flow failed", "err", err)
	s.errorPage(w, http.StatusInternalServerError, &aadError{err: "server_error", code: 90033,
		desc: "The identity service hit an internal error. Try again; if it keeps failing, tell the operator."})
}

// consentDecision handles Accept and Cancel on the consent page.
func (s *Service) consentDecision(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	t, err := s.openTicket(ctx, r.PostForm.Get("flow"), purposeConsent)
	if err != nil || !csrfOK(r, t) {
		s.expiredPage(w)
		return
	}
	tn, err := s.Store.GetTenant(ctx, t.TenantID)
	if err != nil {
		s.expiredPage(w)
		return
	}
	u, err := s.Store.GetUser(ctx, tn.ID, t.UserID)
	if err != nil || !strings.EqualFold(u.ID, t.UserID) {
		s.expiredPage(w)
		return
	}
	switch r.PostForm.Get("decision") {
	case "cancel":
		s.redirectError(w, r, t, "access_denied", "AADSTS65004: User declined to consent to access the app.")
		return
	case "accept":
	default:
		s.errorPage(w, http.StatusBadRequest, errAuthorize(900144, "The decision must be 'accept' or 'cancel'."))
		return
	}
	// The roles are checked again: they may have changed since the page was shown.
	if ok, err := s.canConsent(ctx, tn.ID, u.ID); err != nil {
		s.writeFlowError(w, err)
		return
	} else if !ok {
		s.errorPage(w, http.StatusForbidden, &aadError{err: "access_denied", code: 90094,
			desc: fmt.Sprintf("%s is no longer a Global Administrator of tenant '%s' and cannot consent for it.", u.UserPrincipalName, tn.ID)})
		return
	}
	sp, err := s.createServicePrincipal(ctx, tn, t.Req.ClientID)
	if galleon.ErrorCode(err) == galleon.EConflict {
		sp, err = s.Store.GetServicePrincipal(ctx, tn.ID, t.Req.ClientID)
	}
	if err != nil {
		if e := galleon.AsError(err); e != nil && e.Code == galleon.EInvalid {
			s.errorPage(w, http.StatusBadRequest, errAuthorize(700016, "%s", e.Message))
			return
		}
		s.writeFlowError(w, err)
		return
	}
	if n := galleon.AuditNoteFromContext(ctx); n != nil {
		n.Principal = &galleon.Principal{ObjectID: u.ID, TenantID: tn.ID, Type: galleon.PrincipalUser, DisplayName: u.DisplayName}
		n.ResourceID = tenantPath(tn.ID) + "/servicePrincipals/" + sp.ID
		n.Action = actionServicePrincipalWrite
	}
	s.logger().Info("consent granted", "tenant", tn.ID, "appId", t.Req.ClientID, "servicePrincipal", sp.ID, "by", u.ID)
	s.finish(w, r, t, tn, u)
}

// finish ends a flow: to redirect_uri with a code (authorize) or the admin
// consent result, or on a page when the request named no redirect URI.
func (s *Service) finish(w http.ResponseWriter, r *http.Request, t *flowTicket, tn *galleon.Tenant, u *galleon.User) {
	q := url.Values{}
	if t.Req.Kind == flowAdminConsent {
		q.Set("admin_consent", "True")
		q.Set("tenant", tn.ID)
		if t.Req.Version == "2.0" && t.Req.Scope != "" {
			q.Set("scope", t.Req.Scope)
		}
	} else {
		code := *t
		code.Purpose, code.ID, code.Expires, code.CSRF = purposeCode, randomID(16), s.now().Add(codeLifetime).Unix(), ""
		raw, err := s.signTicket(r.Context(), &code)
		if err != nil {
			s.writeFlowError(w, err)
			return
		}
		q.Set("code", raw)
		if t.Req.Version == "1.0" {
			q.Set("session_state", randomID(16))
		}
	}
	if t.Req.State != "" {
		q.Set("state", t.Req.State)
	}
	if t.Req.RedirectURI == "" {
		lines := []string{"You are signed in as " + u.UserPrincipalName + "."}
		if t.Req.Kind == flowAdminConsent {
			lines = []string{"The application is now available in " + tn.DisplayName + ": its service principal exists there."}
		}
		lines = append(lines, "The request named no redirect_uri, so nothing is sent back to the application. You can close this window.")
		s.renderPage(w, http.StatusOK, "message", &page{Title: "Done", Lines: lines,
			Code: "AADSTS500113: No reply address was given for the application."})
		return
	}
	http.Redirect(w, r, withQuery(t.Req.RedirectURI, q), http.StatusFound)
}

// redirectError sends an OAuth error to redirect_uri (checked when the flow
// started), or shows it when there is none.
func (s *Service) redirectError(w http.ResponseWriter, r *http.Request, t *flowTicket, code, desc string) {
	if t.Req.RedirectURI == "" {
		s.renderPage(w, http.StatusOK, "message", &page{Title: "Cancelled", Lines: []string{desc}})
		return
	}
	q := url.Values{"error": {code}, "error_description": {desc}}
	if t.Req.State != "" {
		q.Set("state", t.Req.State)
	}
	http.Redirect(w, r, withQuery(t.Req.RedirectURI, q), http.StatusFound)
}

// withQuery adds q to the query of a checked redirect URI.
func withQuery(raw string, q url.Values) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	merged := u.Query()
	for k, v := range q {
		merged[k] = v
	}
	u.RawQuery = merged.Encode()
	return u.String()
}

// authorizationCodeGrant redeems a code from the authorize endpoint for the
// user's tokens. The client authenticates with its secret; PKCE is checked
// when the authorize request carried a code_challenge.
func (s *Service) authorizationCodeGrant(ctx context.Context, r *http.Request, seg string) (*tokenResponse, error) {
	form := r.PostForm
	raw := form.Get("code")
	if raw == "" {
		return nil, errMissingParam("code")
	}
	clientID, secret := form.Get("client_id"), form.Get("client_secret")
	if id, sec, ok := r.BasicAuth(); ok && clientID == "" && secret == "" {
		id, _ = url.QueryUnescape(id)
		sec, _ = url.QueryUnescape(sec)
		clientID, secret = id, sec
	}
	if clientID == "" {
		return nil, errMissingParam("client_id")
	}
	badCode := func(code int, desc string) error {
		return &aadError{status: http.StatusBadRequest, err: "invalid_grant", code: code, desc: desc}
	}
	t, err := s.openTicket(ctx, raw, purposeCode)
	switch {
	case errors.Is(err, errExpiredTicket):
		return nil, badCode(70008, "The provided authorization code has expired. Start the authorization again.")
	case err != nil:
		return nil, badCode(9002313, "Invalid request: the authorization code is malformed or was not issued by this server.")
	}
	if !strings.EqualFold(t.Req.ClientID, clientID) {
		return nil, badCode(70000, "The authorization code was issued to another application; redeem it with the client_id of the authorize request.")
	}
	if form.Get("redirect_uri") != t.Req.RedirectURI {
		return nil, badCode(50148, "The redirect_uri must be the one given in the authorize request.")
	}
	if !isMultiTenantAlias(seg) {
		tn, err := s.lookupTenant(ctx, seg)
		if err != nil {
			return nil, err
		}
		if tn.ID != t.TenantID {
			return nil, badCode(70000, fmt.Sprintf("The authorization code was issued in tenant '%s'; redeem it at that tenant's token endpoint.", t.TenantID))
		}
	}
	app, err := s.Store.GetApplication(ctx, clientID)
	if err != nil || !strings.EqualFold(app.AppID, clientID) {
		return nil, errAppNotInTenant(clientID, t.TenantID)
	}
	if secret == "" {
		return nil, &aadError{status: http.StatusUnauthorized, err: "invalid_client", code: 7000218,
			desc: "The request body must contain the following parameter: 'client_secret'. Galleon redeems authorization codes for confidential clients only."}
	}
	if err := s.checkClientSecret(ctx, app, secret); err != nil {
		return nil, err
	}
	if t.Req.CodeChallenge != "" {
		v := form.Get("code_verifier")
		want := v
		if t.Req.CodeChallengeMethod == "S256" {
			sum := sha256.Sum256([]byte(v))
			want = base64.RawURLEncoding.EncodeToString(sum[:])
		}
		if v == "" || subtle.ConstantTimeCompare([]byte(want), []byte(t.Req.CodeChallenge)) != 1 {
			return nil, badCode(501481, "The code_verifier does not match the code_challenge supplied in the authorization request.")
		}
	}
	if !s.redeemOnce(t.ID, time.Unix(t.Expires, 0)) {
		return nil, badCode(54005, "The authorization code was already redeemed. Start the authorization again.")
	}
	aud := t.Req.Resource
	scope := ""
	if form.Get("scope") != "" || form.Get("resource") != "" {
		if aud, scope, err = s.requestedResource(form); err != nil {
			return nil, err
		}
	}
	if aud == "" {
		return nil, errMissingParam("scope")
	}
	tn, err := s.Store.GetTenant(ctx, t.TenantID)
	if err != nil {
		return nil, badCode(90002, fmt.Sprintf("Tenant '%s' no longer exists.", t.TenantID))
	}
	u, err := s.Store.GetUser(ctx, tn.ID, t.UserID)
	if err != nil || !strings.EqualFold(u.ID, t.UserID) {
		return nil, badCode(50034, "The user account the code was issued to no longer exists.")
	}
	resp, err := s.userTokens(ctx, tn, u, userGrant{appID: app.AppID, appIDACR: "1", aud: aud, scope: scope, nonce: t.Req.Nonce,
		clientInfo: form.Get("client_info") == "1"})
	if err != nil {
		return nil, err
	}
	if !t.Req.OpenID {
		resp.IDToken = ""
	}
	s.logger().Info("token issued", "grant", "authorization_code", "tenant", tn.ID, "appId", app.AppID, "oid", u.ID, "aud", aud)
	return resp, nil
}

// redeemOnce records a code's ID until it expires and reports whether it
// was new. The record is per node: with several nodes a code could be
// replayed once per node, still only by the client holding the secret.
func (s *Service) redeemOnce(id string, expires time.Time) bool {
	s.codesMu.Lock()
	defer s.codesMu.Unlock()
	now := s.now()
	if s.redeemed == nil {
		s.redeemed = map[string]time.Time{}
	}
	for k, exp := range s.redeemed {
		if now.After(exp.Add(clockSkew)) {
			delete(s.redeemed, k)
		}
	}
	if _, ok := s.redeemed[id]; ok {
		return false
	}
	s.redeemed[id] = expires
	return true
}
