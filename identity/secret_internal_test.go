package identity

import "testing"

// TestClientSecretNeverStartsWithDash guards command lines: `az login -p
// -abc…` reads the secret as an option.
func TestClientSecretNeverStartsWithDash(t *testing.T) {
	for i := 0; i < 5000; i++ {
		s, err := newClientSecret()
		if err != nil {
			t.Fatal(err)
		}
		if len(s) != secretLen || s[0] == '-' || s[0] == '_' {
			t.Fatalf("secret %q", s)
		}
	}
}
