package identity

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/galleonhq/galleon"
	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Reasons Authenticate puts on its errors (with Code EUnauthenticated).
const (
	ReasonAuthenticationFailed = "AuthenticationFailed"
	ReasonInvalidToken         = "InvalidAuthenticationToken"
	ReasonExpiredToken         = "ExpiredAuthenticationToken"
	ReasonInvalidTokenAudience = "InvalidAuthenticationTokenAudience"
)

const (
	// maxAuthorizationHeaderBytes bounds the header Authenticate reads.
	maxAuthorizationHeaderBytes = 16 << 10
	// maxGroups bounds transitive group resolution.
	maxGroups = 10000
)

// invalidToken returns the error for a token that cannot be trusted.
func invalidToken(format string, args ...any) error {
	return galleon.ReasonErrorf(galleon.EUnauthenticated, ReasonInvalidToken,
		"The access token is invalid: %s. Sign in again to get a new token.", fmt.Sprintf(format, args...))
}

// Authenticate checks the bearer token in an Authorization header value and
// returns the principal it names, with its transitive groups and directory
// roles in the token's tenant.
//
// The token must be an RS256 JWT signed by a published key, issued by this
// server for its tenant, for one of Audiences, within its validity window
// (five minutes of clock skew allowed), and name a tenant and principal that
// still exist. Errors are *galleon.Error with Code EUnauthenticated and Reason
// AuthenticationFailed (no header), InvalidAuthenticationToken,
// ExpiredAuthenticationToken or InvalidAuthenticationTokenAudience; a Store
// failure is returned wrapped (EInternal).
func (s *Service) Authenticate(ctx context.Context, authorizationHeader string) (*galleon.Principal, error) {
	h := strings.TrimSpace(authorizationHeader)
	if h == "" {
		return nil, galleon.ReasonErrorf(galleon.EUnauthenticated, ReasonAuthenticationFailed,
			"Authentication failed. The 'Authorization' header is missing.")
	}
	if len(h) > maxAuthorizationHeaderBytes {
		return nil, invalidToken("the 'Authorization' header is longer than %d bytes", maxAuthorizationHeaderBytes)
	}
	scheme, raw, ok := strings.Cut(h, " ")
	raw = strings.TrimSpace(raw)
	if !ok || !strings.EqualFold(scheme, "Bearer") || raw == "" {
		return nil, invalidToken("the 'Authorization' header must have the form 'Bearer <access token>'")
	}
	c, err := s.verify(ctx, raw)
	if err != nil {
		return nil, err
	}
	return s.principal(ctx, c)
}

// tokenHeader is the part of a JWS header read before verification, for
// error messages and key lookup.
type tokenHeader struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
}

// verify checks a token's signature and registered claims and returns its
// claims.
func (s *Service) verify(ctx context.Context, raw string) (*claims, error) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return nil, invalidToken("it is not a JSON Web Token (expected three dot-separated parts, found %d)", len(parts))
	}
	hb, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return nil, invalidToken("its header is not base64url")
	}
	var hdr tokenHeader
	if err := json.Unmarshal(hb, &hdr); err != nil {
		return nil, invalidToken("its header is not JSON")
	}
	if hdr.Alg != string(jose.RS256) {
		return nil, invalidToken("it is signed with algorithm '%s'; only RS256 tokens issued by this server are accepted", truncate(hdr.Alg))
	}
	if parts[2] == "" {
		return nil, invalidToken("it has no signature")
	}
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		return nil, invalidToken("it cannot be parsed")
	}
	if len(tok.Headers) != 1 {
		return nil, invalidToken("it must carry exactly one signature")
	}
	kid := tok.Headers[0].KeyID
	if kid == "" {
		return nil, invalidToken("its header names no signing key (kid)")
	}
	key := s.verificationKey(ctx, kid)
	if key == nil {
		return nil, invalidToken("it was signed with key '%s', which this server does not publish (it may have been retired)", truncate(kid))
	}
	var c claims
	if err := tok.Claims(&key.priv.PublicKey, &c); err != nil {
		return nil, invalidToken("signature verification failed")
	}
	if c.TenantID == "" || c.ObjectID == "" {
		return nil, invalidToken("it lacks the 'tid' or 'oid' claim")
	}
	if !strings.EqualFold(c.Issuer, s.issuer(c.TenantID)) {
		return nil, invalidToken("its issuer '%s' is not this server's issuer for tenant '%s' ('%s')", truncate(c.Issuer), truncate(c.TenantID), s.issuer(c.TenantID))
	}
	now := s.now()
	if c.Expiry == nil {
		return nil, invalidToken("it has no expiry ('exp') claim")
	}
	if exp := c.Expiry.Time(); now.After(exp.Add(clockSkew)) {
		return nil, galleon.ReasonErrorf(galleon.EUnauthenticated, ReasonExpiredToken,
			"The access token expiry UTC time '%s' is earlier than current UTC time '%s'. Sign in again to get a new token.",
			exp.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	if c.NotBefore != nil {
		if nbf := c.NotBefore.Time(); now.Add(clockSkew).Before(nbf) {
			return nil, invalidToken("it is not valid before '%s' (current UTC time '%s'); check the clocks of client and server",
				nbf.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
		}
	}
	if !s.audienceOK(c.Audience) {
		return nil, galleon.ReasonErrorf(galleon.EUnauthenticated, ReasonInvalidTokenAudience,
			"The access token has been obtained for wrong audience or resource '%s'. It should exactly match one of the allowed audiences %s. Request a token with scope '<audience>/.default'.",
			truncate(strings.Join(c.Audience, " ")), s.quotedAudiences())
	}
	return &c, nil
}

func (s *Service) audienceOK(aud jwt.Audience) bool {
	for _, a := range aud {
		if _, ok := s.matchAudience(a); ok {
			return true
		}
	}
	return false
}

func (s *Service) quotedAudiences() string {
	q := make([]string, len(s.Audiences))
	for i, a := range s.Audiences {
		q[i] = "'" + a + "'"
	}
	return strings.Join(q, ", ")
}

// truncate shortens attacker-controlled text before it goes into a message.
func truncate(v string) string {
	const max = 100
	if len(v) > max {
		return v[:max] + "..."
	}
	return v
}

// principal builds the caller of a verified token from the directory.
func (s *Service) principal(ctx context.Context, c *claims) (*galleon.Principal, error) {
	t, err := s.Store.GetTenant(ctx, c.TenantID)
	if galleon.ErrorCode(err) == galleon.ENotFound || (err == nil && !strings.EqualFold(t.ID, c.TenantID)) {
		return nil, invalidToken("tenant '%s' no longer exists", truncate(c.TenantID))
	} else if err != nil {
		return nil, fmt.Errorf("get tenant %q: %w", c.TenantID, err)
	}
	p := &galleon.Principal{ObjectID: c.ObjectID, TenantID: t.ID, AppID: c.AppID}
	gone := func() error {
		return invalidToken("principal '%s' no longer exists in tenant '%s'", truncate(c.ObjectID), t.ID)
	}
	switch c.IDType {
	case idtypApp:
		sp, err := s.Store.GetServicePrincipal(ctx, t.ID, c.ObjectID)
		if galleon.ErrorCode(err) == galleon.ENotFound || (err == nil && (!strings.EqualFold(sp.ID, c.ObjectID) || !strings.EqualFold(sp.AppID, c.AppID))) {
			return nil, gone()
		} else if err != nil {
			return nil, fmt.Errorf("get service principal %q: %w", c.ObjectID, err)
		}
		p.ObjectID, p.Type, p.AppID, p.DisplayName = sp.ID, galleon.PrincipalServicePrincipal, sp.AppID, sp.DisplayName
	case idtypUser:
		u, err := s.Store.GetUser(ctx, t.ID, c.ObjectID)
		if galleon.ErrorCode(err) == galleon.ENotFound || (err == nil && !strings.EqualFold(u.ID, c.ObjectID)) {
			return nil, gone()
		} else if err != nil {
			return nil, fmt.Errorf("get user %q: %w", c.ObjectID, err)
		}
		p.ObjectID, p.Type, p.DisplayName = u.ID, galleon.PrincipalUser, u.DisplayName
	default:
		return nil, invalidToken("its 'idtyp' claim '%s' is neither 'app' nor 'user'", truncate(c.IDType))
	}
	groups, err := s.transitiveGroups(ctx, t.ID, p.ObjectID)
	if err != nil {
		return nil, err
	}
	p.GroupIDs = groups
	roles, err := s.directoryRoles(ctx, t.ID, append([]string{p.ObjectID}, groups...))
	if err != nil {
		return nil, err
	}
	p.DirectoryRoles = roles
	return p, nil
}

// transitiveGroups returns every group memberID belongs to in tenantID,
// directly or through nested groups, sorted. Cycles are harmless: each group
// is visited once.
func (s *Service) transitiveGroups(ctx context.Context, tenantID, memberID string) ([]string, error) {
	seen := map[string]bool{strings.ToLower(memberID): true}
	var out []string
	queue := []string{memberID}
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		parents, err := s.Store.ListMemberOf(ctx, tenantID, id)
		if err != nil {
			return nil, fmt.Errorf("list groups of %q: %w", id, err)
		}
		for _, g := range parents {
			k := strings.ToLower(g)
			if seen[k] {
				continue
			}
			seen[k] = true
			out = append(out, g)
			queue = append(queue, g)
			if len(out) > maxGroups {
				return nil, fmt.Errorf("principal %s is in more than %d groups", memberID, maxGroups)
			}
		}
	}
	sort.Strings(out)
	return out, nil
}

// directoryRoles returns the union of the directory roles held by ids (the
// principal and its groups) in tenantID, sorted.
func (s *Service) directoryRoles(ctx context.Context, tenantID string, ids []string) ([]string, error) {
	set := map[string]bool{}
	for _, id := range ids {
		roles, err := s.Store.ListDirectoryRoles(ctx, tenantID, id)
		if err != nil {
			return nil, fmt.Errorf("list directory roles of %q: %w", id, err)
		}
		for _, r := range roles {
			set[r] = true
		}
	}
	out := make([]string, 0, len(set))
	for r := range set {
		out = append(out, r)
	}
	sort.Strings(out)
	return out, nil
}
