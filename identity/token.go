package identity

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Values of the idtyp claim.
const (
	idtypApp  = "app"
	idtypUser = "user"
)

// claims are the JWT claims of Galleon's access and ID tokens, named as Entra
// names them.
type claims struct {
	Audience          jwt.Audience     `json:"aud,omitempty"`
	Issuer            string           `json:"iss,omitempty"`
	IssuedAt          *jwt.NumericDate `json:"iat,omitempty"`
	NotBefore         *jwt.NumericDate `json:"nbf,omitempty"`
	Expiry            *jwt.NumericDate `json:"exp,omitempty"`
	AppID             string           `json:"appid,omitempty"`
	AppIDACR          string           `json:"appidacr,omitempty"`
	AuthorizedParty   string           `json:"azp,omitempty"`
	IDType            string           `json:"idtyp,omitempty"`
	Name              string           `json:"name,omitempty"`
	Nonce             string           `json:"nonce,omitempty"`
	ObjectID          string           `json:"oid,omitempty"`
	PreferredUsername string           `json:"preferred_username,omitempty"`
	Subject           string           `json:"sub,omitempty"`
	TenantID          string           `json:"tid,omitempty"`
	UPN               string           `json:"upn,omitempty"`
	UniqueTokenID     string           `json:"uti,omitempty"`
	Version           string           `json:"ver,omitempty"`
}

// sign serializes c as a compact JWS signed with the active key.
func (s *Service) sign(ctx context.Context, c *claims) (string, error) {
	k, err := s.signer(ctx)
	if err != nil {
		return "", err
	}
	sig, err := jose.NewSigner(
		jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: k.priv, KeyID: k.kid}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return "", fmt.Errorf("make token signer: %w", err)
	}
	tok, err := jwt.Signed(sig).Claims(c).Serialize()
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	return tok, nil
}

// tokenTimes fills iat, nbf and exp for a token issued now.
func (s *Service) tokenTimes(c *claims) time.Time {
	now := s.now()
	exp := now.Add(s.lifetime())
	c.IssuedAt = jwt.NewNumericDate(now)
	c.NotBefore = jwt.NewNumericDate(now)
	c.Expiry = jwt.NewNumericDate(exp)
	return exp
}

// randomID returns n random bytes as unpadded base64url, for uti and trace
// IDs.
func randomID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// matchAudience returns the configured audience equal to resource, ignoring
// trailing slashes and case.
func (s *Service) matchAudience(resource string) (string, bool) {
	r := strings.TrimRight(resource, "/")
	if r == "" {
		return "", false
	}
	for _, a := range s.Audiences {
		if strings.EqualFold(strings.TrimRight(a, "/"), r) {
			return a, true
		}
	}
	return "", false
}
