package identity

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/crypto/argon2"
)

// argon2id parameters for new hashes: OWASP's recommended minimum (19 MiB,
// two passes, one lane), which keeps a sign-in around tens of milliseconds
// on a small machine. Stored hashes carry their own parameters, so these can
// be raised later without invalidating existing passwords.
const (
	argonMemoryKiB = 19 * 1024
	argonTime      = 2
	argonThreads   = 1
	argonSaltLen   = 16
	argonKeyLen    = 32

	// Limits on parameters read back from a stored hash, so a corrupted or
	// hostile row cannot make a sign-in allocate gigabytes.
	maxArgonMemoryKiB = 1 << 20 // 1 GiB
	maxArgonTime      = 16
	maxArgonKeyLen    = 128
)

// HashPassword hashes password with argon2id and a random 16-byte salt and
// returns it in PHC string format:
//
//	$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>
//
// with unpadded standard base64 for salt and hash.
func HashPassword(password string) (string, error) {
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("read random salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemoryKiB, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemoryKiB, argonTime, argonThreads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// VerifyPassword reports whether password matches hash, a PHC-format
// argon2id string made by HashPassword. The derived keys are compared in
// constant time; a malformed hash never matches.
func VerifyPassword(hash, password string) bool {
	parts := strings.Split(hash, "$")
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, key
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return false
	}
	if parts[2] != fmt.Sprintf("v=%d", argon2.Version) {
		return false
	}
	params := strings.Split(parts[3], ",")
	if len(params) != 3 {
		return false
	}
	memory, ok1 := phcParam(params[0], "m", maxArgonMemoryKiB)
	iterations, ok2 := phcParam(params[1], "t", maxArgonTime)
	threads, ok3 := phcParam(params[2], "p", 255)
	if !ok1 || !ok2 || !ok3 {
		return false
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil || len(salt) == 0 {
		return false
	}
	want, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil || len(want) == 0 || len(want) > maxArgonKeyLen {
		return false
	}
	got := argon2.IDKey([]byte(password), salt, iterations, memory, uint8(threads), uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// phcParam parses one "name=value" parameter of a PHC string, requiring
// 1 <= value <= max.
func phcParam(s, name string, max uint64) (uint32, bool) {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k != name {
		return 0, false
	}
	n, err := strconv.ParseUint(v, 10, 32)
	if err != nil || n == 0 || n > max {
		return 0, false
	}
	return uint32(n), true
}

// dummyHash is a valid hash of a random password. Sign-ins for unknown users
// verify against it so that they take as long as sign-ins with a wrong
// password, and response times do not reveal which user names exist.
var dummyHash = sync.OnceValue(func() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	h, err := HashPassword(base64.RawStdEncoding.EncodeToString(b))
	if err != nil {
		return ""
	}
	return h
})

// secretAlphabet is the URL-safe base64 alphabet: 64 symbols, so each random
// byte's low six bits pick one without bias.
const secretAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// secretLen is the length of generated client secrets: 240 bits of entropy.
const secretLen = 40

// newClientSecret returns a random client secret of secretLen characters.
func newClientSecret() (string, error) {
	b := make([]byte, secretLen)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("read random secret: %w", err)
	}
	for i := range b {
		b[i] = secretAlphabet[b[i]&63]
	}
	// A secret starting with '-' reads as an option on command lines
	// (`az login -p -abc…` fails), so the first character is a letter or
	// digit (62 symbols; the modulo bias costs a negligible fraction of a bit).
	b[0] = secretAlphabet[int(b[0])%62]
	return string(b), nil
}

// secretHashPrefix marks the hash scheme of stored client secrets.
const secretHashPrefix = "sha256$"

// hashClientSecret returns the stored form of a client secret. A fast hash is
// enough: secrets are long random strings, not guessable passwords.
func hashClientSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return secretHashPrefix + base64.RawURLEncoding.EncodeToString(sum[:])
}

// clientSecretMatches compares secret with a stored hash in constant time.
func clientSecretMatches(hash, secret string) bool {
	return subtle.ConstantTimeCompare([]byte(hash), []byte(hashClientSecret(secret))) == 1
}
