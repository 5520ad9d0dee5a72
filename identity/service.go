package identity

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/galleonhq/galleon"
	jose "github.com/go-jose/go-jose/v4"
)

// Service is Galleon's identity provider. Set the fields, call Open, then
// mount Handler, AdminHandler and GraphHandler and call Authenticate for
// every request another surface receives. A Service is safe for concurrent
// use; several Services (one per node) may share one Store.
type Service struct {
	// Store holds the directory and the signing keys.
	Store galleon.Store
	// BaseURL is the server's external URL without a trailing slash, for
	// example "https://127.0.0.1:8443". Token issuers are
	// BaseURL+"/"+tenantID+"/v2.0".
	BaseURL string
	// Audiences are the resources tokens may be requested for, for example
	// "https://127.0.0.1:8443" and "https://management.core.windows.net/".
	// Matching ignores trailing slashes; a token's aud is the configured
	// string that matched.
	Audiences []string
	// TokenLifetime is how long access tokens stay valid (default 1h).
	TokenLifetime time.Duration
	// Now returns the current time (default time.Now).
	Now func() time.Time
	// Logger receives operational messages (default: discarded).
	Logger *slog.Logger

	mu       sync.Mutex
	keys     []*signingKey // newest first
	loadedAt time.Time     // when keys were last read from the Store
	missAt   time.Time     // when an unknown kid last caused a reload

	codesMu  sync.Mutex
	redeemed map[string]time.Time // authorization code ID -> expiry, see redeemOnce
}

// signingKey is a parsed galleon.SigningKey.
type signingKey struct {
	kid       string
	priv      *rsa.PrivateKey
	createdAt time.Time
	retiredAt time.Time
}

const (
	// clockSkew is the leeway allowed on exp and nbf, and the extra time a
	// retired key stays published after the last token it signed expires.
	clockSkew = 5 * time.Minute
	// keyReloadInterval bounds how stale this node's copy of the signing
	// keys may get when another node rotates them.
	keyReloadInterval = time.Minute
	// keyMissReloadInterval rate-limits reloads caused by unknown kids, so
	// garbage tokens cannot hammer the Store.
	keyMissReloadInterval = 10 * time.Second
	// rsaKeyBits is the size of generated signing keys.
	rsaKeyBits = 2048
)

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Service) lifetime() time.Duration {
	if s.TokenLifetime > 0 {
		return s.TokenLifetime
	}
	return time.Hour
}

func (s *Service) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// baseURL returns BaseURL without trailing slashes.
func (s *Service) baseURL() string {
	return strings.TrimRight(s.BaseURL, "/")
}

// issuer returns the token issuer for a tenant.
func (s *Service) issuer(tenantID string) string {
	return s.baseURL() + "/" + tenantID + "/v2.0"
}

// host returns the host[:port] of BaseURL.
func (s *Service) host() string {
	u, err := url.Parse(s.baseURL())
	if err != nil || u.Host == "" {
		return s.baseURL()
	}
	return u.Host
}

// Open loads the signing keys from the Store and creates an RSA-2048 key
// when none is active (the first start).
func (s *Service) Open(ctx context.Context) error {
	if s.Store == nil {
		return fmt.Errorf("identity: Store is not set")
	}
	if err := s.reload(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	active := activeKey(s.keys)
	s.mu.Unlock()
	if active != nil {
		return nil
	}
	if _, err := s.addKey(ctx, false); err != nil {
		return err
	}
	return nil
}

// RotateKey makes a new signing key, which signs every token from now on.
// The previous keys are marked retired and stay published in JWKS for
// TokenLifetime plus five minutes, so tokens they signed keep verifying until
// they expire. It returns the new key's ID.
func (s *Service) RotateKey(ctx context.Context) (kid string, err error) {
	if err := s.reload(ctx); err != nil {
		return "", err
	}
	return s.addKey(ctx, true)
}

// addKey generates and stores a new key, retiring the active ones first when
// retire is set.
func (s *Service) addKey(ctx context.Context, retire bool) (string, error) {
	priv, err := rsa.GenerateKey(rand.Reader, rsaKeyBits)
	if err != nil {
		return "", fmt.Errorf("generate signing key: %w", err)
	}
	kid, err := keyID(&priv.PublicKey)
	if err != nil {
		return "", err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return "", fmt.Errorf("encode signing key: %w", err)
	}
	now := s.now().UTC()
	// Store the new key before retiring the old ones: a crash in between
	// leaves two active keys (both published, the newest signs), never none.
	if err := s.Store.PutSigningKey(ctx, &galleon.SigningKey{
		KeyID:      kid,
		PrivatePEM: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}),
		CreatedAt:  now,
	}); err != nil {
		return "", fmt.Errorf("store signing key %s: %w", kid, err)
	}
	if retire {
		stored, err := s.Store.ListSigningKeys(ctx)
		if err != nil {
			return "", fmt.Errorf("list signing keys: %w", err)
		}
		for _, k := range stored {
			// Retire only keys made before this one: two nodes rotating at
			// once must not retire each other's new key and leave none
			// active.
			if k.KeyID == kid || !k.RetiredAt.IsZero() || k.CreatedAt.After(now) {
				continue
			}
			k.RetiredAt = now
			if err := s.Store.PutSigningKey(ctx, k); err != nil {
				return "", fmt.Errorf("retire signing key %s: %w", k.KeyID, err)
			}
		}
	}
	if err := s.reload(ctx); err != nil {
		return "", err
	}
	s.logger().Info("token signing key created", "kid", kid, "rotation", retire)
	return kid, nil
}

// keyID names a key by the base64url SHA-256 thumbprint of its public part
// (RFC 7638), so the same key always gets the same kid.
func keyID(pub *rsa.PublicKey) (string, error) {
	jwk := jose.JSONWebKey{Key: pub}
	tp, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("thumbprint signing key: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(tp), nil
}

// reload replaces the cached keys with the Store's.
func (s *Service) reload(ctx context.Context) error {
	stored, err := s.Store.ListSigningKeys(ctx)
	if err != nil {
		return fmt.Errorf("list signing keys: %w", err)
	}
	keys := make([]*signingKey, 0, len(stored))
	for _, k := range stored {
		priv, err := parsePrivateKey(k.PrivatePEM)
		if err != nil {
			// One bad row must not take the identity service down; skip it.
			s.logger().Error("skipping unreadable signing key", "kid", k.KeyID, "err", err)
			continue
		}
		keys = append(keys, &signingKey{kid: k.KeyID, priv: priv, createdAt: k.CreatedAt, retiredAt: k.RetiredAt})
	}
	// ListSigningKeys is newest first; keep that order, breaking ties by
	// nothing else so two nodes agree.
	s.mu.Lock()
	s.keys = keys
	s.loadedAt = s.now()
	s.mu.Unlock()
	return nil
}

func parsePrivateKey(p []byte) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode(p)
	if block == nil {
		return nil, fmt.Errorf("no PEM block")
	}
	switch block.Type {
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, err
		}
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("key is %T, not RSA", k)
		}
		return rk, nil
	case "RSA PRIVATE KEY":
		return x509.ParsePKCS1PrivateKey(block.Bytes)
	}
	return nil, fmt.Errorf("unexpected PEM block %q", block.Type)
}

// activeKey returns the newest key that is not retired.
func activeKey(keys []*signingKey) *signingKey {
	var best *signingKey
	for _, k := range keys {
		if k.retiredAt.IsZero() && (best == nil || k.createdAt.After(best.createdAt)) {
			best = k
		}
	}
	return best
}

// refresh reloads the keys when the cached copy is older than
// keyReloadInterval. A failed reload keeps the cached keys.
func (s *Service) refresh(ctx context.Context) {
	s.mu.Lock()
	stale := s.now().Sub(s.loadedAt) >= keyReloadInterval || s.now().Before(s.loadedAt)
	s.mu.Unlock()
	if stale {
		if err := s.reload(ctx); err != nil {
			s.logger().Warn("reload signing keys", "err", err)
		}
	}
}

// signer returns the key that signs new tokens.
func (s *Service) signer(ctx context.Context) (*signingKey, error) {
	s.refresh(ctx)
	s.mu.Lock()
	k := activeKey(s.keys)
	s.mu.Unlock()
	if k == nil {
		return nil, fmt.Errorf("identity: no active signing key (was Open called?)")
	}
	return k, nil
}

// publishedKeys returns the keys that verify tokens now: the active ones and
// retired ones whose last tokens may not have expired yet.
func (s *Service) publishedKeys(ctx context.Context) []*signingKey {
	s.refresh(ctx)
	now := s.now()
	grace := s.lifetime() + clockSkew
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*signingKey
	for _, k := range s.keys {
		if k.retiredAt.IsZero() || now.Before(k.retiredAt.Add(grace)) {
			out = append(out, k)
		}
	}
	return out
}

// verificationKey finds a published key by kid, reloading once (rate
// limited) when the kid is unknown, in case another node just rotated.
func (s *Service) verificationKey(ctx context.Context, kid string) *signingKey {
	find := func() *signingKey {
		for _, k := range s.publishedKeys(ctx) {
			if k.kid == kid {
				return k
			}
		}
		return nil
	}
	if k := find(); k != nil {
		return k
	}
	s.mu.Lock()
	now := s.now()
	retry := now.Sub(s.missAt) >= keyMissReloadInterval || now.Before(s.missAt)
	if retry {
		s.missAt = now
	}
	s.mu.Unlock()
	if !retry {
		return nil
	}
	if err := s.reload(ctx); err != nil {
		s.logger().Warn("reload signing keys", "err", err)
		return nil
	}
	return find()
}
