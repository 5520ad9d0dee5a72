package identity_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/galleonhq/galleon/identity"
)

func TestGraph(t *testing.T) {
	f := newAdminFixture(t)
	tid := f.tenantA
	// An app whose name needs OData quote escaping.
	odd := f.newSP(t, tid, "O'Brien tools", true)
	g := f.do(t, "POST", "/admin/v1/tenants/"+tid+"/groups", f.adminT, map[string]any{"displayName": "Image Builders"})
	mustStatus(t, g, http.StatusCreated)
	groupID := g.str("id")
	alice := f.newUser(t, tid, "alice@galleon.local", "alice's long password")
	r := f.postForm(t, "/"+tid+"/oauth2/v2.0/token", url.Values{"grant_type": {"password"}, "client_id": {identity.AzureCLIClientID},
		"username": {"alice@galleon.local"}, "password": {"alice's long password"}, "scope": {f.srv.URL + "/.default"}})
	mustStatus(t, r, http.StatusOK)
	aliceT := r.str("access_token")
	adminApp := f.boot.Application.AppID
	adminSP := f.boot.ServicePrincipal.ID
	q := url.QueryEscape

	list := []struct {
		name    string
		token   string
		path    string
		wantIDs []string
	}{
		{"SPByServicePrincipalName", f.gaA.token, "/v1.0/servicePrincipals?$filter=" + q("servicePrincipalNames/any(c:c eq '"+adminApp+"')"), []string{adminSP}},
		{"SPByServicePrincipalNameOtherVar", f.gaA.token, "/v1.0/servicePrincipals?$filter=" + q("servicePrincipalNames/any(x: x eq '"+strings.ToUpper(adminApp)+"')"), []string{adminSP}},
		{"SPByAppID", f.gaA.token, "/v1.0/servicePrincipals?$filter=" + q("appId eq '"+adminApp+"'"), []string{adminSP}},
		{"SPByDisplayNameEscaped", f.gaA.token, "/v1.0/servicePrincipals?$filter=" + q("displayName eq 'O''Brien tools'"), []string{odd.objectID}},
		{"SPByDisplayNamePrefix", f.gaA.token, "/v1.0/servicePrincipals?$filter=" + q("startswith(displayName,'O''Bri')"), []string{odd.objectID}},
		{"SPNoMatch", f.gaA.token, "/v1.0/servicePrincipals?$filter=" + q("appId eq 'nope'"), nil},
		{"SPAllOfOwnTenantOnly", f.gaA.token, "/v1.0/servicePrincipals", []string{adminSP, f.gaA.objectID, odd.objectID}},
		{"SPTop", f.gaA.token, "/v1.0/servicePrincipals?$top=1&$filter=" + q("appId eq '"+adminApp+"'"), []string{adminSP}},
		{"SPOtherTenantSeesOwn", f.plainB.token, "/v1.0/servicePrincipals?$filter=" + q("appId eq '"+adminApp+"'"), nil},
		{"UsersByUPN", f.plainB.token, "/v1.0/users?$filter=" + q("userPrincipalName eq 'erin@fabrikam.example'"), []string{f.userB}},
		{"UsersAll", aliceT, "/v1.0/users", []string{alice}},
		{"Groups", aliceT, "/v1.0/groups", []string{groupID}},
		{"GroupsByName", aliceT, "/v1.0/groups?$filter=" + q("displayName eq 'image builders'"), []string{groupID}},
		{"ApplicationsByAppID", f.gaA.token, "/v1.0/applications?$filter=" + q("appId eq '"+adminApp+"'"), []string{f.boot.Application.ID}},
	}
	for _, tt := range list {
		t.Run(tt.name, func(t *testing.T) {
			r := f.do(t, "GET", tt.path, tt.token, nil)
			mustStatus(t, r, http.StatusOK)
			got := map[string]bool{}
			for _, v := range r.values() {
				got[v["id"].(string)] = true
				if s, _ := v["@odata.type"].(string); !strings.HasPrefix(s, "#microsoft.graph.") {
					t.Errorf("object without @odata.type: %v", v)
				}
			}
			if len(got) != len(tt.wantIDs) {
				t.Errorf("got %d objects %v, want %v", len(got), got, tt.wantIDs)
			}
			for _, id := range tt.wantIDs {
				if !got[id] {
					t.Errorf("missing %s in %s", id, r.raw)
				}
			}
			if !strings.Contains(r.str("@odata.context"), "/v1.0/$metadata#") {
				t.Errorf("@odata.context = %q", r.str("@odata.context"))
			}
		})
	}

	t.Run("ServicePrincipalShape", func(t *testing.T) {
		for _, path := range []string{"/v1.0/servicePrincipals/" + adminSP, "/v1.0/servicePrincipals(appId='" + adminApp + "')"} {
			r := f.do(t, "GET", path, f.gaA.token, nil)
			mustStatus(t, r, http.StatusOK)
			names, _ := r.body["servicePrincipalNames"].([]any)
			if r.str("@odata.type") != "#microsoft.graph.servicePrincipal" || r.str("id") != adminSP || r.str("appId") != adminApp ||
				r.str("displayName") != "galleon-admin" || len(names) != 1 || names[0] != adminApp ||
				r.str("appOwnerOrganizationId") != tid || r.str("servicePrincipalType") != "Application" || r.body["accountEnabled"] != true {
				t.Errorf("%s = %s", path, r.raw)
			}
		}
	})
	t.Run("UserShape", func(t *testing.T) {
		for _, path := range []string{"/v1.0/users/" + alice, "/v1.0/users/alice@galleon.local", "/v1.0/me"} {
			r := f.do(t, "GET", path, aliceT, nil)
			mustStatus(t, r, http.StatusOK)
			if _, ok := r.body["mail"]; !ok || r.str("@odata.type") != "#microsoft.graph.user" || r.str("id") != alice ||
				r.str("userPrincipalName") != "alice@galleon.local" || r.str("displayName") != "User alice@galleon.local" {
				t.Errorf("%s = %s", path, r.raw)
			}
		}
	})
	t.Run("GroupShape", func(t *testing.T) {
		r := f.do(t, "GET", "/v1.0/groups/"+groupID, aliceT, nil)
		mustStatus(t, r, http.StatusOK)
		if r.str("@odata.type") != "#microsoft.graph.group" || r.str("displayName") != "Image Builders" || r.body["securityEnabled"] != true {
			t.Errorf("group = %s", r.raw)
		}
	})
	t.Run("GetByIDs", func(t *testing.T) {
		body := map[string]any{"ids": []string{adminSP, alice, groupID, f.userB, "nope"}}
		r := f.do(t, "POST", "/v1.0/directoryObjects/getByIds", f.gaA.token, body)
		mustStatus(t, r, http.StatusOK)
		types := map[string]string{}
		for _, v := range r.values() {
			types[v["id"].(string)] = v["@odata.type"].(string)
		}
		want := map[string]string{adminSP: "#microsoft.graph.servicePrincipal", alice: "#microsoft.graph.user", groupID: "#microsoft.graph.group"}
		if len(types) != len(want) {
			t.Errorf("getByIds = %v, want %v", types, want)
		}
		for id, typ := range want {
			if types[id] != typ {
				t.Errorf("%s: type %q, want %q", id, types[id], typ)
			}
		}
		body["types"] = []string{"user"}
		r = f.do(t, "POST", "/v1.0/directoryObjects/getByIds", f.gaA.token, body)
		if v := r.values(); len(v) != 1 || v[0]["id"] != alice {
			t.Errorf("getByIds types=[user]: %s", r.raw)
		}
		// Real Graph types Galleon has no objects of match nothing (az asks
		// for directoryObjectPartnerReference); unknown types are refused.
		body["types"] = []string{"directoryObjectPartnerReference"}
		r = f.do(t, "POST", "/v1.0/directoryObjects/getByIds", f.gaA.token, body)
		mustStatus(t, r, http.StatusOK)
		if v := r.values(); len(v) != 0 {
			t.Errorf("getByIds types=[directoryObjectPartnerReference]: %s", r.raw)
		}
		body["types"] = []string{"bogus"}
		mustStatus(t, f.do(t, "POST", "/v1.0/directoryObjects/getByIds", f.gaA.token, body), http.StatusBadRequest)
	})
	t.Run("CreateServicePrincipal", func(t *testing.T) {
		// Tenant B's Global Administrator consents to A's multi-tenant app.
		r := f.do(t, "POST", "/v1.0/servicePrincipals", f.gaB.token, map[string]any{"appId": odd.appID, "tags": []string{"x"}})
		mustStatus(t, r, http.StatusCreated)
		if r.str("appOwnerOrganizationId") != tid || r.str("appId") != odd.appID {
			t.Errorf("created = %s", r.raw)
		}
		if got := r.header.Get("X-Test-Audit"); !strings.HasPrefix(got, "Galleon.Directory/servicePrincipals/write /admin/v1/tenants/"+f.tenantB+"/servicePrincipals/"+r.str("id")) {
			t.Errorf("audit = %q", got)
		}
		if f.clientToken(t, f.tenantB, odd.appID, odd.secret) == "" {
			t.Error("consented app cannot sign in to tenant B")
		}
		r = f.do(t, "POST", "/v1.0/servicePrincipals", f.gaB.token, map[string]any{"appId": odd.appID})
		mustStatus(t, r, http.StatusConflict)
		r = f.do(t, "POST", "/v1.0/servicePrincipals", f.gaB.token, map[string]any{"appId": f.gaA.appID})
		mustStatus(t, r, http.StatusBadRequest)
		r = f.do(t, "POST", "/v1.0/servicePrincipals", f.plainB.token, map[string]any{"appId": odd.appID})
		mustStatus(t, r, http.StatusForbidden)
		if r.str("error", "code") != "Authorization_RequestDenied" {
			t.Errorf("code = %q", r.str("error", "code"))
		}
	})

	errs := []struct {
		name, method, path, token string
		status                    int
		code                      string
	}{
		{"ErrUnsupportedFilter", "GET", "/v1.0/servicePrincipals?$filter=" + q("displayName ne 'g'"), f.gaA.token, 400, "Request_UnsupportedQuery"},
		{"ErrFilterOnUnsupportedProperty", "GET", "/v1.0/users?$filter=" + q("appId eq 'x'"), f.gaA.token, 400, "Request_UnsupportedQuery"},
		{"ErrFilterVariableMismatch", "GET", "/v1.0/servicePrincipals?$filter=" + q("servicePrincipalNames/any(c:d eq 'x')"), f.gaA.token, 400, "Request_UnsupportedQuery"},
		{"ErrSearch", "GET", "/v1.0/users?$search=" + q(`"displayName:a"`), f.gaA.token, 400, "Request_UnsupportedQuery"},
		{"ErrBadTop", "GET", "/v1.0/users?$top=0", f.gaA.token, 400, "Request_BadRequest"},
		{"ErrUnknownSP", "GET", "/v1.0/servicePrincipals/5b8e0d9e-0000-4000-8000-000000000000", f.gaA.token, 404, "Request_ResourceNotFound"},
		{"ErrSPOfOtherTenant", "GET", "/v1.0/servicePrincipals/" + f.gaB.objectID, f.gaA.token, 404, "Request_ResourceNotFound"},
		{"ErrMeForServicePrincipal", "GET", "/v1.0/me", f.gaA.token, 400, "Request_BadRequest"},
		{"ErrNoToken", "GET", "/v1.0/users", "", 401, "AuthenticationFailed"},
		{"ErrBadToken", "GET", "/v1.0/users", "x.y.z", 401, "InvalidAuthenticationToken"},
	}
	for _, tt := range errs {
		t.Run(tt.name, func(t *testing.T) {
			r := f.do(t, tt.method, tt.path, tt.token, nil)
			mustStatus(t, r, tt.status)
			if r.str("error", "code") != tt.code || r.str("error", "message") == "" {
				t.Errorf("error = %s, want code %s", r.raw, tt.code)
			}
			if _, ok := r.body["error"].(map[string]any)["innerError"]; !ok {
				t.Errorf("Graph error without innerError: %s", r.raw)
			}
		})
	}
}

// FuzzGraphFilter feeds arbitrary $filter values to the Graph: they may be
// rejected, never crash or fail inside the server.
func FuzzGraphFilter(f *testing.F) {
	e := newEnv(f)
	for _, s := range []string{
		"appId eq 'x'", "servicePrincipalNames/any(c:c eq 'x')", "displayName eq 'a''b'", "displayName eq '",
		"servicePrincipalNames/any(c:c eq 'x'", "userPrincipalName eq ''''", "startswith(displayName,'a')", "a eq 'b' and c eq 'd'",
	} {
		f.Add(s)
	}
	h := e.svc.GraphHandler()
	auth := "Bearer " + e.adminT
	f.Fuzz(func(t *testing.T, filter string) {
		for _, coll := range []string{"servicePrincipals", "users", "groups", "applications"} {
			req := httptest.NewRequest("GET", "/v1.0/"+coll+"?$filter="+url.QueryEscape(filter), nil)
			req.Header.Set("Authorization", auth)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK && rec.Code != http.StatusBadRequest {
				t.Fatalf("$filter %q on %s: status %d %s", filter, coll, rec.Code, rec.Body)
			}
		}
	})
}
