package authz

import "strings"

// MatchAction reports whether an action pattern from a role definition
// matches action, the way ARM evaluates permissions: the comparison is
// case-insensitive and each "*" matches any run of characters, "/"
// included. So "*" matches every action, "*/read" matches
// "Microsoft.Compute/galleries/read", and "Microsoft.Authorization/*/Write"
// matches "Microsoft.Authorization/roleAssignments/write".
func MatchAction(pattern, action string) bool {
	return matchGlob(strings.ToLower(pattern), strings.ToLower(action))
}

// matchGlob matches p against s byte by byte, where '*' in p matches any
// run of bytes. It backtracks only to the most recent star, which is enough
// because a later star can absorb anything an earlier one would have: the
// cost is O(len(p)*len(s)) in the worst case and linear for the patterns
// roles use. '*' is ASCII, so byte matching is safe on UTF-8 text.
func matchGlob(p, s string) bool {
	pi, si := 0, 0
	star, mark := -1, 0 // position of the last '*' in p, and where in s it started
	for si < len(s) {
		switch {
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, si
			pi++
		case pi < len(p) && p[pi] == s[si]:
			pi++
			si++
		case star >= 0:
			// Let the last star swallow one more byte and retry after it.
			mark++
			pi, si = star+1, mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}
