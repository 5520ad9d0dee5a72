package blobapi

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/galleonhq/galleon"
)

// sasPermissions are the permission letters a SAS may grant, in the order
// SignURL writes them.
const sasPermissions = "racwd"

// permissionNames names the permission letters for messages.
var permissionNames = map[byte]string{'r': "read", 'a': "add", 'c': "create", 'w': "write", 'd': "delete"}

// grant is what a verified SAS allows.
type grant struct {
	perms    string
	resource string // the canonical resource, for messages
}

// SignURL returns base+"/"+account+"/"+container+"/"+blob+"?"+ a blob SAS
// (sr=b) granting perms (letters of "racwd"; others are dropped, and the
// rest written in that order) until expiry. The blob name's segments are
// percent-encoded; base is the server's URL without a trailing path
// ("https://127.0.0.1:8443").
func (s *Server) SignURL(base, account, container, blob, perms string, expiry time.Time) string {
	var p strings.Builder
	for i := range len(sasPermissions) {
		if strings.IndexByte(perms, sasPermissions[i]) >= 0 {
			p.WriteByte(sasPermissions[i])
		}
	}
	v := url.Values{
		"sv": {APIVersion},
		"sr": {"b"},
		"sp": {p.String()},
		"se": {expiry.UTC().Format(time.RFC3339)},
	}
	v.Set("sig", s.sign(v.Get("sp"), "", v.Get("se"), canonicalResource(account, container, blob, "b"), APIVersion, "b"))
	segs := strings.Split(blob, "/")
	for i, seg := range segs {
		segs[i] = url.PathEscape(seg)
	}
	return strings.TrimRight(base, "/") + "/" + url.PathEscape(account) + "/" + url.PathEscape(container) + "/" +
		strings.Join(segs, "/") + "?" + v.Encode()
}

// ContainerSAS returns the SAS query (without '?') that grants perms on
// every blob of a container until expiry: what a storage account's
// listServiceSas hands out.
func (s *Server) ContainerSAS(account, container, perms string, expiry time.Time) string {
	var p strings.Builder
	for i := range len(sasPermissions) {
		if strings.IndexByte(perms, sasPermissions[i]) >= 0 {
			p.WriteByte(sasPermissions[i])
		}
	}
	v := url.Values{"sv": {APIVersion}, "sr": {"c"}, "sp": {p.String()}, "se": {expiry.UTC().Format(time.RFC3339)}}
	v.Set("sig", s.sign(v.Get("sp"), "", v.Get("se"), canonicalResource(account, container, "", "c"), APIVersion, "c"))
	return v.Encode()
}

// canonicalResource is the resource line of the string-to-sign.
func canonicalResource(account, container, blob, sr string) string {
	r := "/blob/" + strings.ToLower(account) + "/" + strings.ToLower(container)
	if sr == "b" {
		r += "/" + blob
	}
	return r
}

// sign returns the base64 HMAC-SHA256 of the string-to-sign (doc.go).
func (s *Server) sign(sp, st, se, resource, sv, sr string) string {
	m := hmac.New(sha256.New, s.Key)
	m.Write([]byte(strings.Join([]string{sp, st, se, resource, sv, sr}, "\n")))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// checkSAS verifies the request's SAS for the blob at l.
func (s *Server) checkSAS(r *http.Request, q url.Values, l loc) (*grant, error) {
	if !q.Has("sig") && !q.Has("sv") && !q.Has("se") && !q.Has("sp") {
		if auth := r.Header.Get("Authorization"); auth != "" {
			scheme, _, _ := strings.Cut(auth, " ")
			return nil, apiErrorf(galleon.EForbidden, "AuthenticationFailed",
				"The request is authorized with %q, which this server does not accept: it accepts only SAS URLs it issued (a disk's grant-access URL). Use the whole SAS URL.", scheme)
		}
		return nil, apiErrorf(galleon.EUnauthenticated, "NoAuthenticationInformation",
			"The request carries no SAS token. Use the whole URL you were given, including its query string (sv, sr, sp, se, sig).")
	}
	for _, p := range []struct{ name, what string }{
		{"sv", "signed version"}, {"sr", "signed resource"}, {"sp", "signed permissions"}, {"se", "signed expiry"}, {"sig", "signature"},
	} {
		if q.Get(p.name) == "" {
			return nil, authFailed("The SAS lacks its '%s' parameter (%s). Use the whole URL you were given.", p.name, p.what)
		}
	}
	if len(s.Key) == 0 {
		s.logger().Error("blob api has no SAS signing key; refusing every request")
		return nil, authFailed("This server has no SAS signing key configured, so no SAS can be verified. Ask the operator to configure one.")
	}
	sp, st, se, sv, sr := q.Get("sp"), q.Get("st"), q.Get("se"), q.Get("sv"), q.Get("sr")
	if sr != "b" && sr != "c" {
		return nil, authFailed("The SAS has sr=%s; this server issues SAS tokens for a blob (sr=b) or a container (sr=c) only.", sr)
	}
	for i := range len(sp) {
		if strings.IndexByte(sasPermissions, sp[i]) < 0 || strings.IndexByte(sp[:i], sp[i]) >= 0 {
			return nil, authFailed("The SAS permissions sp=%s are not valid: use each of the letters r, a, c, w, d at most once.", sp)
		}
	}
	sig, err := base64.StdEncoding.DecodeString(q.Get("sig"))
	if err != nil {
		return nil, authFailed("The SAS signature (sig) is not valid base64; the URL may have been cut or re-encoded. Use the URL exactly as given.")
	}
	resource := canonicalResource(l.account, l.container, l.name, sr)
	want, _ := base64.StdEncoding.DecodeString(s.sign(sp, st, se, resource, sv, sr))
	if !hmac.Equal(sig, want) {
		return nil, authFailed("Signature did not match: the SAS was not issued by this server for %s, or one of its parameters was changed. Use the URL exactly as given, or request a new one.", resource)
	}
	now := s.now()
	expiry, err := parseSASTime(se)
	if err != nil {
		return nil, authFailed("The SAS expiry se=%s is not an RFC 3339 time or a date.", se)
	}
	if st != "" {
		start, err := parseSASTime(st)
		if err != nil {
			return nil, authFailed("The SAS start st=%s is not an RFC 3339 time or a date.", st)
		}
		if now.Before(start) {
			return nil, authFailed("The SAS is not valid yet: it starts at %s and it is now %s. Wait until then, or request a new URL.",
				start.Format(time.RFC3339), now.Format(time.RFC3339))
		}
	}
	if !now.Before(expiry) {
		return nil, authFailed("The SAS expired at %s (it is now %s). Request a new URL (grant access to the disk again).",
			expiry.Format(time.RFC3339), now.Format(time.RFC3339))
	}
	return &grant{perms: sp, resource: resource}, nil
}

func authFailed(format string, args ...any) error {
	return apiErrorf(galleon.EForbidden, "AuthenticationFailed", "Server failed to authenticate the request. "+format, args...)
}

// parseSASTime reads st or se.
func parseSASTime(v string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	return time.Parse(time.DateOnly, v)
}

// require returns nil if the SAS grants one of perms, else an
// AuthorizationPermissionMismatch error naming what is missing and why.
func (g *grant) require(perms, why string) error {
	if strings.ContainsAny(g.perms, perms) {
		return nil
	}
	names := make([]string, len(perms))
	for i := range len(perms) {
		names[i] = "'" + perms[i:i+1] + "' (" + permissionNames[perms[i]] + ")"
	}
	return apiErrorf(galleon.EForbidden, "AuthorizationPermissionMismatch",
		"This request is not authorized to perform this operation using this permission: %s needs the SAS permission %s, and the SAS grants only '%s'. Request a URL with that permission (for a disk upload: grant-access with access level Write).",
		why, strings.Join(names, " or "), g.perms)
}
