package identity

import (
	"encoding/json"
	"net/http"
	"strings"
)

// splitPath splits a URL path into its non-empty segments, so doubled and
// trailing slashes do not matter (az sends "//" in places).
func splitPath(p string) []string {
	parts := strings.Split(p, "/")
	out := parts[:0]
	for _, s := range parts {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// match reports whether segs fit pattern, a slash-separated list of
// segments where "{name}" captures any one segment and every other segment
// must match case-insensitively. It returns the captured segments in order.
func match(segs []string, pattern string) ([]string, bool) {
	pat := splitPath(pattern)
	if len(pat) != len(segs) {
		return nil, false
	}
	var vars []string
	for i, p := range pat {
		if strings.HasPrefix(p, "{") && strings.HasSuffix(p, "}") {
			vars = append(vars, segs[i])
			continue
		}
		if !strings.EqualFold(p, segs[i]) {
			return nil, false
		}
	}
	return vars, true
}

// writeJSON writes v as JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
