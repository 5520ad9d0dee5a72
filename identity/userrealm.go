package identity

import (
	"encoding/json"
	"net/http"
	"strings"
)

// UserRealmHandler answers MSAL's home-realm discovery
// (GET /common/UserRealm/{username}?api-version=1.0), which precedes the
// password grant: every Galleon account is a managed (non-federated) one.
func (s *Service) UserRealmHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		segs := strings.FieldsFunc(r.URL.Path, func(c rune) bool { return c == '/' })
		user := ""
		if len(segs) >= 3 {
			user = segs[2]
		}
		domain := ""
		if i := strings.LastIndex(user, "@"); i >= 0 {
			domain = user[i+1:]
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		json.NewEncoder(w).Encode(map[string]string{
			"ver":                 "1.0",
			"account_type":        "Managed",
			"domain_name":         domain,
			"cloud_instance_name": strings.TrimPrefix(strings.TrimPrefix(s.BaseURL, "https://"), "http://"),
			"cloud_audience_urn":  "urn:federation:MicrosoftOnline",
		})
	})
}
