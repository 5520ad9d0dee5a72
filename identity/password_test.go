package identity_test

import (
	"strings"
	"testing"

	"github.com/galleonhq/galleon/identity"
)

func TestHashPassword(t *testing.T) {
	h1, err := identity.HashPassword("correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	h2, err := identity.HashPassword("correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h1, "$argon2id$v=19$m=") || strings.Count(h1, "$") != 5 {
		t.Errorf("hash %q is not a PHC argon2id string", h1)
	}
	if h1 == h2 {
		t.Error("two hashes of one password are equal: no random salt")
	}
	if strings.Contains(h1, "correct") {
		t.Error("hash contains the password")
	}
	parts := strings.Split(h1, "$")
	tests := []struct {
		name     string
		hash     string
		password string
		want     bool
	}{
		{"OK", h1, "correct horse battery staple", true},
		{"OKOtherSalt", h2, "correct horse battery staple", true},
		{"ErrWrongPassword", h1, "correct horse battery stapler", false},
		{"ErrEmptyPassword", h1, "", false},
		{"ErrEmptyHash", "", "correct horse battery staple", false},
		{"ErrNotPHC", "plaintext", "plaintext", false},
		{"ErrArgon2i", strings.Replace(h1, "argon2id", "argon2i", 1), "correct horse battery staple", false},
		{"ErrVersion", strings.Replace(h1, "v=19", "v=16", 1), "correct horse battery staple", false},
		{"ErrHugeMemory", strings.Join([]string{"", parts[1], parts[2], "m=99999999,t=2,p=1", parts[4], parts[5]}, "$"), "correct horse battery staple", false},
		{"ErrZeroTime", strings.Join([]string{"", parts[1], parts[2], "m=19456,t=0,p=1", parts[4], parts[5]}, "$"), "correct horse battery staple", false},
		{"ErrParamsGarbage", strings.Join([]string{"", parts[1], parts[2], "m=19456,t=2,p=1,x=1", parts[4], parts[5]}, "$"), "correct horse battery staple", false},
		{"ErrBadSalt", strings.Join([]string{"", parts[1], parts[2], parts[3], "!!!", parts[5]}, "$"), "correct horse battery staple", false},
		{"ErrTruncatedKey", strings.Join([]string{"", parts[1], parts[2], parts[3], parts[4], parts[5][:10]}, "$"), "correct horse battery staple", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := identity.VerifyPassword(tt.hash, tt.password); got != tt.want {
				t.Errorf("VerifyPassword = %v, want %v", got, tt.want)
			}
		})
	}
}
