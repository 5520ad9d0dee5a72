package authz_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/galleonhq/galleon/authz"
)

func TestMatchAction(t *testing.T) {
	tests := []struct {
		name, pattern, action string
		want                  bool
	}{
		{"Exact", "Microsoft.Compute/galleries/read", "Microsoft.Compute/galleries/read", true},
		{"CaseInsensitive", "microsoft.compute/GALLERIES/Read", "Microsoft.Compute/galleries/read", true},
		{"StarMatchesAll", "*", "Microsoft.Compute/galleries/images/versions/write", true},
		{"StarMatchesEmpty", "*", "", true},
		{"StarSlashRead", "*/read", "Microsoft.Compute/galleries/read", true},
		{"StarSlashReadDeep", "*/read", "Microsoft.Resources/subscriptions/resourceGroups/read", true},
		{"StarSlashReadNotWrite", "*/read", "Microsoft.Compute/galleries/write", false},
		{"StarSlashReadNotSuffixOnly", "*/read", "Microsoft.Compute/galleries/readiness", false},
		{"StarSlashReadNeedsSlash", "*/read", "read", false},
		{"MiddleStarSpansSlashes", "Microsoft.Authorization/*/Write", "Microsoft.Authorization/roleAssignments/write", true},
		{"MiddleStarDeep", "Microsoft.Authorization/*/Write", "Microsoft.Authorization/policies/sub/write", true},
		{"MiddleStarNotDelete", "Microsoft.Authorization/*/Write", "Microsoft.Authorization/roleAssignments/delete", false},
		{"MiddleStarOtherNamespace", "Microsoft.Authorization/*/Write", "Microsoft.Compute/galleries/write", false},
		{"ElevateAccess", "Microsoft.Authorization/elevateAccess/Action", "microsoft.authorization/elevateaccess/action", true},
		{"NamespaceStar", "Microsoft.Compute/*", "Microsoft.Compute/galleries/share/action", true},
		{"NamespaceStarNotPrefixOfName", "Microsoft.Compute/*", "Microsoft.ComputeX/galleries/read", false},
		{"NamespaceStarNotOtherNamespace", "Microsoft.Compute/*", "Microsoft.Network/read", false},
		{"TrailingText", "Microsoft.Compute/galleries/read", "Microsoft.Compute/galleries/readX", false},
		{"Prefix", "Microsoft.Compute/galleries/read", "Microsoft.Compute/galleries/rea", false},
		{"TwoStars", "Microsoft.*/galleries/*/read", "Microsoft.Compute/galleries/images/versions/read", true},
		{"TwoStarsMiss", "Microsoft.*/galleries/*/read", "Microsoft.Compute/disks/read", false},
		{"RepeatedStars", "**/**read", "a/b/read", true},
		{"BacktrackingNeeded", "*a/b", "a/a/a/b", true},
		{"EmptyPattern", "", "Microsoft.Compute/galleries/read", false},
		{"EmptyBoth", "", "", true},
		{"NonASCII", "Ünïcode/*", "ünÏcode/x/read", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := authz.MatchAction(tt.pattern, tt.action); got != tt.want {
				t.Fatalf("MatchAction(%q, %q) = %v, want %v", tt.pattern, tt.action, got, tt.want)
			}
		})
	}
}

// TestMatchActionLongInput guards against exponential backtracking: a
// pathological pattern must still answer at once.
func TestMatchActionLongInput(t *testing.T) {
	action := strings.Repeat("a", 5000)
	pattern := strings.Repeat("*a", 200) + "b"
	if authz.MatchAction(pattern, action) {
		t.Fatal("matched an action without 'b'")
	}
	if !authz.MatchAction(strings.Repeat("*a", 200), action) {
		t.Fatal("did not match")
	}
}

// FuzzMatchAction checks that MatchAction never panics, that a pattern
// without stars matches itself, that "*" matches everything, and, for ASCII
// input, that it agrees with an independent regular-expression reading of
// the pattern.
func FuzzMatchAction(f *testing.F) {
	seeds := [][2]string{
		{"*", "Microsoft.Compute/galleries/read"},
		{"*/read", "Microsoft.Compute/galleries/read"},
		{"Microsoft.Authorization/*/Write", "Microsoft.Authorization/roleAssignments/write"},
		{"Microsoft.Compute/*", "microsoft.compute/galleries/share/action"},
		{"a*b*c", "aXbYc"},
		{"**", ""},
		{"", ""},
		{"\xff*", "\xfe"},
		{"Ä*", "ä/x"},
	}
	for _, s := range seeds {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, action string) {
		got := authz.MatchAction(pattern, action)
		if !authz.MatchAction(pattern, pattern) {
			t.Fatalf("MatchAction(%q, itself) = false", pattern)
		}
		if !authz.MatchAction(action, action) {
			t.Fatalf("MatchAction(%q, itself) = false", action)
		}
		if !authz.MatchAction("*", action) {
			t.Fatalf("MatchAction(\"*\", %q) = false", action)
		}
		if !isASCII(pattern) || !isASCII(action) {
			return
		}
		parts := strings.Split(pattern, "*")
		for i, p := range parts {
			parts[i] = regexp.QuoteMeta(p)
		}
		re := regexp.MustCompile(`(?is)\A` + strings.Join(parts, ".*") + `\z`)
		if want := re.MatchString(action); got != want {
			t.Fatalf("MatchAction(%q, %q) = %v, regexp says %v", pattern, action, got, want)
		}
	})
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
