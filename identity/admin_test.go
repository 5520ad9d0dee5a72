package identity_test

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/galleonhq/galleon"
)

// adminFixture is an installation with two tenants and principals of
// every kind of standing.
type adminFixture struct {
	*env
	tenantA, tenantB string
	gaA              identityOf // Global Administrator of A, not an operator
	gaB              identityOf // Global Administrator of B
	plainB           identityOf // service principal of B without roles
	userB            string     // a user of B
}

func newAdminFixture(t *testing.T) *adminFixture {
	t.Helper()
	e := newEnv(t)
	f := &adminFixture{env: e, tenantA: e.boot.Tenant.ID}
	f.tenantB = e.newTenant(t, "fabrikam.example")
	f.gaA = e.newSP(t, f.tenantA, "ga-a", false, galleon.RoleGlobalAdministrator)
	f.gaB = e.newSP(t, f.tenantB, "ga-b", false, galleon.RoleGlobalAdministrator)
	f.plainB = e.newSP(t, f.tenantB, "plain-b", false)
	f.userB = e.newUser(t, f.tenantB, "erin@fabrikam.example", "erin's long password")
	return f
}

func TestAdminAuthorization(t *testing.T) {
	f := newAdminFixture(t)
	op := f.adminT
	user := func(n string) map[string]any {
		return map[string]any{"userPrincipalName": n, "password": "a password of length"}
	}
	tests := []struct {
		name       string
		token      string
		method     string
		path       string
		body       any
		status     int
		msg        []string // substrings of error.message
		wantAction string   // audit action when the call is a write
	}{
		{"OperatorCreatesTenant", op, "POST", "/admin/v1/tenants", map[string]any{"domain": "northwind.example"}, 201, nil, "Galleon.Directory/tenants/write"},
		{"ErrGlobalAdminCreatesTenant", f.gaB.token, "POST", "/admin/v1/tenants", map[string]any{"domain": "evil.example"}, 403,
			[]string{f.gaB.objectID, f.tenantB, "InstallationOperator"}, "Galleon.Directory/tenants/write"},
		{"GlobalAdminCreatesUserInOwnTenant", f.gaB.token, "POST", "/admin/v1/tenants/" + f.tenantB + "/users", user("frank@fabrikam.example"), 201, nil, "Galleon.Directory/users/write"},
		{"GlobalAdminCreatesUserByDomain", f.gaB.token, "POST", "/admin/v1/tenants/FABRIKAM.example/users", user("gina@fabrikam.example"), 201, nil, "Galleon.Directory/users/write"},
		{"ErrGlobalAdminWritesOtherTenant", f.gaB.token, "POST", "/admin/v1/tenants/" + f.tenantA + "/users", user("mallory@galleon.local"), 403,
			[]string{f.gaB.objectID, f.tenantA, "GlobalAdministrator"}, "Galleon.Directory/users/write"},
		{"ErrGlobalAdminReadsOtherTenant", f.gaB.token, "GET", "/admin/v1/tenants/" + f.tenantA + "/users", nil, 403, []string{f.tenantA}, ""},
		{"ErrPlainSPWrites", f.plainB.token, "POST", "/admin/v1/tenants/" + f.tenantB + "/groups", map[string]any{"displayName": "x"}, 403,
			[]string{f.plainB.objectID, f.plainB.appID, "GlobalAdministrator"}, "Galleon.Directory/groups/write"},
		{"PlainSPReadsOwnTenant", f.plainB.token, "GET", "/admin/v1/tenants/" + f.tenantB + "/users", nil, 200, nil, ""},
		{"PlainSPReadsOwnTenantObject", f.plainB.token, "GET", "/admin/v1/tenants/" + f.tenantB, nil, 200, nil, ""},
		{"ErrPlainSPReadsOtherTenant", f.plainB.token, "GET", "/admin/v1/tenants/galleon.local", nil, 403, []string{f.plainB.objectID}, ""},
		{"ErrPlainSPProbesUnknownTenant", f.plainB.token, "GET", "/admin/v1/tenants/nowhere.example", nil, 403, []string{"nowhere.example"}, ""},
		{"ErrOperatorUnknownTenant", op, "GET", "/admin/v1/tenants/nowhere.example", nil, 404, []string{"nowhere.example"}, ""},
		{"OperatorWritesAnyTenant", op, "POST", "/admin/v1/tenants/" + f.tenantB + "/groups", map[string]any{"displayName": "ops"}, 201, nil, "Galleon.Directory/groups/write"},
		{"ErrGlobalAdminCreatesSubscription", f.gaB.token, "POST", "/admin/v1/tenants/" + f.tenantB + "/subscriptions", map[string]any{"displayName": "s"}, 403,
			[]string{"InstallationOperator"}, "Galleon.Directory/subscriptions/write"},
		{"GlobalAdminListsSubscriptions", f.gaB.token, "GET", "/admin/v1/tenants/" + f.tenantB + "/subscriptions", nil, 200, nil, ""},
		{"ErrGlobalAdminGrantsOperator", f.gaB.token, "POST", "/admin/v1/tenants/" + f.tenantB + "/directoryRoles",
			map[string]any{"principalId": f.userB, "role": "InstallationOperator"}, 403, []string{"InstallationOperator"}, "Galleon.Directory/directoryRoles/write"},
		{"GlobalAdminGrantsGlobalAdmin", f.gaB.token, "POST", "/admin/v1/tenants/" + f.tenantB + "/directoryRoles",
			map[string]any{"principalId": f.userB, "role": "globaladministrator"}, 201, nil, "Galleon.Directory/directoryRoles/write"},
		{"ErrGlobalAdminRotatesKey", f.gaA.token, "POST", "/admin/v1/signingKeys/rotate", nil, 403, []string{"InstallationOperator"}, "Galleon.Directory/signingKeys/rotate/action"},
		{"ErrNoToken", "", "GET", "/admin/v1/tenants", nil, 401, []string{"'Authorization' header is missing"}, ""},
		{"ErrBadToken", "garbage", "GET", "/admin/v1/tenants", nil, 401, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := f.do(t, tt.method, tt.path, tt.token, tt.body)
			mustStatus(t, r, tt.status)
			for _, m := range tt.msg {
				if !strings.Contains(r.str("error", "message"), m) {
					t.Errorf("message %q does not mention %q", r.str("error", "message"), m)
				}
			}
			if tt.status >= 400 && r.str("error", "code") == "" {
				t.Errorf("error reply without code: %s", r.raw)
			}
			audit := r.header.Get("X-Test-Audit")
			if tt.wantAction == "" && audit != "" {
				t.Errorf("read recorded audit note %q", audit)
			}
			if tt.wantAction != "" && !strings.HasPrefix(audit, tt.wantAction+" /admin/v1/") {
				t.Errorf("audit note = %q, want action %s", audit, tt.wantAction)
			}
		})
	}
	t.Run("UnauthenticatedReplyShape", func(t *testing.T) {
		r := f.do(t, "GET", "/admin/v1/tenants", "", nil)
		if r.str("error", "code") != "AuthenticationFailed" || !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer ") {
			t.Errorf("got code %q, WWW-Authenticate %q", r.str("error", "code"), r.header.Get("WWW-Authenticate"))
		}
	})
	t.Run("AuditNamesCreatedObject", func(t *testing.T) {
		r := f.do(t, "POST", "/admin/v1/tenants/"+f.tenantB+"/users", f.gaB.token, user("hank@fabrikam.example"))
		mustStatus(t, r, 201)
		want := "Galleon.Directory/users/write /admin/v1/tenants/" + f.tenantB + "/users/" + r.str("id") + " " + f.gaB.objectID
		if got := r.header.Get("X-Test-Audit"); got != want {
			t.Errorf("audit = %q, want %q", got, want)
		}
	})
	t.Run("TenantListsAreScoped", func(t *testing.T) {
		r := f.do(t, "GET", "/admin/v1/tenants", f.gaB.token, nil)
		mustStatus(t, r, 200)
		if v := r.values(); len(v) != 1 || v[0]["id"] != f.tenantB {
			t.Errorf("GA of B sees tenants %v", v)
		}
		r = f.do(t, "GET", "/admin/v1/tenants", op, nil)
		if n := len(r.values()); n < 2 {
			t.Errorf("operator sees %d tenants", n)
		}
	})
	t.Run("SubscriptionWithOwner", func(t *testing.T) {
		for _, owner := range []struct{ id, typ string }{{f.gaB.objectID, "ServicePrincipal"}, {f.userB, "User"}} {
			r := f.do(t, "POST", "/admin/v1/tenants/"+f.tenantB+"/subscriptions", op,
				map[string]any{"displayName": "B sub", "ownerPrincipalId": owner.id})
			mustStatus(t, r, 201)
			sub := r.str("subscriptionId")
			if r.str("tenantId") != f.tenantB || r.str("state") != "Enabled" {
				t.Errorf("subscription = %s", r.raw)
			}
			ras, err := f.store.ListRoleAssignments(context.Background(), galleon.RoleAssignmentFilter{Scope: "/subscriptions/" + sub})
			if err != nil {
				t.Fatal(err)
			}
			if len(ras) != 1 || ras[0].PrincipalID != owner.id || ras[0].PrincipalType != owner.typ || ras[0].RoleDefinitionID != galleon.OwnerRoleID {
				t.Errorf("role assignments at %s = %+v", sub, ras)
			}
		}
		r := f.do(t, "POST", "/admin/v1/tenants/"+f.tenantB+"/subscriptions", op,
			map[string]any{"displayName": "B sub", "ownerPrincipalId": f.gaA.objectID})
		mustStatus(t, r, 400)
		if r.str("error", "code") != "PrincipalNotFound" {
			t.Errorf("owner from another tenant: %s", r.raw)
		}
		r = f.do(t, "POST", "/admin/v1/tenants/"+f.tenantB+"/subscriptions", op,
			map[string]any{"displayName": "fixed", "subscriptionId": "AAAAAAAA-BBBB-4CCC-8DDD-EEEEEEEEEEEE"})
		mustStatus(t, r, 201)
		if r.str("subscriptionId") != "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee" {
			t.Errorf("subscriptionId = %q", r.str("subscriptionId"))
		}
		r = f.do(t, "POST", "/admin/v1/tenants/"+f.tenantB+"/subscriptions", op,
			map[string]any{"displayName": "again", "subscriptionId": "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"})
		mustStatus(t, r, 409)
	})
}

func TestAdminBadInput(t *testing.T) {
	f := newAdminFixture(t)
	op := f.adminT
	users := "/admin/v1/tenants/" + f.tenantB + "/users"
	huge := `{"displayName":"` + strings.Repeat("x", 1<<20) + `"}`
	tests := []struct {
		name   string
		method string
		path   string
		body   any
		status int
		code   string
		target string
	}{
		{"ErrMalformedJSON", "POST", users, `{"userPrincipalName":`, 400, "InvalidRequestContent", ""},
		{"ErrNotJSON", "POST", users, `hello`, 400, "InvalidRequestContent", ""},
		{"ErrEmptyBody", "POST", users, ``, 400, "InvalidRequestContent", ""},
		{"ErrArrayBody", "POST", users, `[1,2]`, 400, "InvalidRequestContent", ""},
		{"ErrTrailingGarbage", "POST", users, `{"userPrincipalName":"a@fabrikam.example","password":"0123456789abc"} x`, 400, "InvalidRequestContent", ""},
		{"ErrUnknownField", "POST", users, map[string]any{"userPrincipalName": "ivy@fabrikam.example", "password": "0123456789abc", "colour": "blue"}, 400, "InvalidRequestContent", "colour"},
		{"ErrWrongType", "POST", users, map[string]any{"userPrincipalName": "ivy@fabrikam.example", "password": 123456789012}, 400, "InvalidRequestContent", "password"},
		{"ErrOversizedBody", "POST", users, huge, 413, "RequestContentTooLarge", ""},
		{"ErrWeakPassword", "POST", users, map[string]any{"userPrincipalName": "ivy@fabrikam.example", "password": "short"}, 400, "InvalidParameter", "password"},
		{"ErrNoPassword", "POST", users, map[string]any{"userPrincipalName": "ivy@fabrikam.example"}, 400, "InvalidParameter", "password"},
		{"ErrUPNWithoutDomain", "POST", users, map[string]any{"userPrincipalName": "ivy", "password": "0123456789abc"}, 400, "InvalidParameter", "userPrincipalName"},
		{"ErrUPNOtherDomain", "POST", users, map[string]any{"userPrincipalName": "ivy@galleon.local", "password": "0123456789abc"}, 400, "InvalidParameter", "userPrincipalName"},
		{"ErrUPNBadLocalPart", "POST", users, map[string]any{"userPrincipalName": "i..vy@fabrikam.example", "password": "0123456789abc"}, 400, "InvalidParameter", "userPrincipalName"},
		{"ErrUPNTaken", "POST", users, map[string]any{"userPrincipalName": "ERIN@fabrikam.example", "password": "0123456789abc"}, 409, "UserExists", "userPrincipalName"},
		{"ErrTenantDomainInvalid", "POST", "/admin/v1/tenants", map[string]any{"domain": "Not A Domain"}, 400, "InvalidParameter", "domain"},
		{"ErrTenantDomainLooksLikePath", "POST", "/admin/v1/tenants", map[string]any{"domain": "v1.0"}, 400, "InvalidParameter", "domain"},
		{"ErrTenantDomainSingleLabel", "POST", "/admin/v1/tenants", map[string]any{"domain": "common"}, 400, "InvalidParameter", "domain"},
		{"ErrTenantDomainTaken", "POST", "/admin/v1/tenants", map[string]any{"domain": "Fabrikam.Example"}, 409, "TenantExists", "domain"},
		{"ErrSubscriptionIDNotGUID", "POST", "/admin/v1/tenants/" + f.tenantB + "/subscriptions", map[string]any{"displayName": "s", "subscriptionId": "123"}, 400, "InvalidParameter", "subscriptionId"},
		{"ErrSubscriptionNoName", "POST", "/admin/v1/tenants/" + f.tenantB + "/subscriptions", map[string]any{}, 400, "InvalidParameter", "displayName"},
		{"ErrGroupNoName", "POST", "/admin/v1/tenants/" + f.tenantB + "/groups", map[string]any{"displayName": " "}, 400, "InvalidParameter", "displayName"},
		{"ErrMemberUnknown", "POST", "/admin/v1/tenants/" + f.tenantB + "/groups/nope/members", map[string]any{"memberId": f.userB}, 404, "GroupNotFound", ""},
		{"ErrSecretTooLong", "POST", "/admin/v1/tenants/" + f.tenantB + "/applications/" + f.gaB.appID + "/secrets", map[string]any{"expiresInDays": 731}, 400, "InvalidParameter", "expiresInDays"},
		{"ErrSecretZeroDays", "POST", "/admin/v1/tenants/" + f.tenantB + "/applications/" + f.gaB.appID + "/secrets", map[string]any{"expiresInDays": 0}, 400, "InvalidParameter", "expiresInDays"},
		{"ErrSPForeignSingleTenantApp", "POST", "/admin/v1/tenants/" + f.tenantB + "/servicePrincipals", map[string]any{"appId": f.gaA.appID}, 400, "InvalidParameter", "appId"},
		{"ErrSPUnknownApp", "POST", "/admin/v1/tenants/" + f.tenantB + "/servicePrincipals", map[string]any{"appId": "nope"}, 400, "InvalidParameter", "appId"},
		{"ErrSPExists", "POST", "/admin/v1/tenants/" + f.tenantB + "/servicePrincipals", map[string]any{"appId": f.gaB.appID}, 409, "ServicePrincipalExists", "appId"},
		{"ErrRoleUnknown", "POST", "/admin/v1/tenants/" + f.tenantB + "/directoryRoles", map[string]any{"principalId": f.userB, "role": "Owner"}, 400, "InvalidParameter", "role"},
		{"ErrRolePrincipalUnknown", "POST", "/admin/v1/tenants/" + f.tenantB + "/directoryRoles", map[string]any{"principalId": f.gaA.objectID, "role": "GlobalAdministrator"}, 400, "PrincipalNotFound", "principalId"},
		{"ErrApplicationOfOtherTenant", "GET", "/admin/v1/tenants/" + f.tenantB + "/applications/" + f.gaA.appID, nil, 404, "ApplicationNotFound", ""},
		{"ErrUserUnknown", "GET", users + "/nobody@fabrikam.example", nil, 404, "UserNotFound", ""},
		{"ErrMethodNotAllowed", "PUT", "/admin/v1/tenants", map[string]any{}, 405, "MethodNotAllowed", ""},
		{"ErrNoSuchRoute", "GET", "/admin/v1/widgets", nil, 404, "NotFound", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := f.do(t, tt.method, tt.path, op, tt.body)
			mustStatus(t, r, tt.status)
			if got := r.str("error", "code"); got != tt.code {
				t.Errorf("code = %q, want %q (%s)", got, tt.code, r.raw)
			}
			if got := r.str("error", "target"); got != tt.target {
				t.Errorf("target = %q, want %q", got, tt.target)
			}
			if r.str("error", "message") == "" {
				t.Error("no message")
			}
		})
	}
}

func TestAdminDirectory(t *testing.T) {
	f := newAdminFixture(t)
	op := f.adminT
	base := "/admin/v1/tenants/" + f.tenantB

	t.Run("UsersNeverShowHashes", func(t *testing.T) {
		for _, path := range []string{base + "/users", base + "/users/" + f.userB, base + "/users/erin@fabrikam.example"} {
			r := f.do(t, "GET", path, f.plainB.token, nil)
			mustStatus(t, r, 200)
			if strings.Contains(r.raw, "argon2") || strings.Contains(strings.ToLower(r.raw), "password") {
				t.Errorf("%s leaks the password hash: %s", path, r.raw)
			}
			if !strings.Contains(r.raw, f.userB) {
				t.Errorf("%s does not show the user: %s", path, r.raw)
			}
		}
	})
	t.Run("Secrets", func(t *testing.T) {
		r := f.do(t, "POST", base+"/applications/"+f.gaB.appID+"/secrets", op, map[string]any{"displayName": "ci"})
		mustStatus(t, r, 201)
		text := r.str("secretText")
		if !regexp.MustCompile(`^[A-Za-z0-9_-]{40}$`).MatchString(text) {
			t.Errorf("secretText %q is not 40 url-safe characters", text)
		}
		if r.str("hint") != text[:3] || r.str("keyId") == "" {
			t.Errorf("hint %q keyId %q", r.str("hint"), r.str("keyId"))
		}
		end, err := time.Parse(time.RFC3339, r.str("endDateTime"))
		if err != nil || !end.Equal(f.clock.Now().Add(365*24*time.Hour)) {
			t.Errorf("endDateTime = %q (%v), want 365 days from now", r.str("endDateTime"), err)
		}
		if f.clientToken(t, f.tenantB, f.gaB.appID, text) == "" {
			t.Fatal("new secret does not sign in")
		}
		list := f.do(t, "GET", base+"/applications/"+f.gaB.appID+"/secrets", f.plainB.token, nil)
		mustStatus(t, list, 200)
		if strings.Contains(list.raw, text) || strings.Contains(list.raw, "sha256") || len(list.values()) != 2 {
			t.Errorf("secret list = %s", list.raw)
		}
		mustStatus(t, f.do(t, "DELETE", base+"/applications/"+f.gaB.appID+"/secrets/"+r.str("keyId"), op, nil), 204)
		res := f.postForm(t, "/"+f.tenantB+"/oauth2/v2.0/token", map[string][]string{"grant_type": {"client_credentials"},
			"client_id": {f.gaB.appID}, "client_secret": {text}, "scope": {f.srv.URL + "/.default"}})
		wantAADError(t, res, 401, "invalid_client", 7000215)
	})
	t.Run("Applications", func(t *testing.T) {
		app := f.do(t, "GET", base+"/applications/"+f.gaB.appID, f.plainB.token, nil)
		mustStatus(t, app, 200)
		byObject := f.do(t, "GET", base+"/applications/"+app.str("id"), f.plainB.token, nil)
		mustStatus(t, byObject, 200)
		if byObject.str("appId") != f.gaB.appID || app.str("tenantId") != f.tenantB {
			t.Errorf("application = %s", byObject.raw)
		}
		if n := len(f.do(t, "GET", base+"/applications", f.plainB.token, nil).values()); n != 2 {
			t.Errorf("tenant B has %d applications, want 2", n)
		}
	})
	t.Run("GroupMembers", func(t *testing.T) {
		g := f.do(t, "POST", base+"/groups", op, map[string]any{"displayName": "builders"})
		mustStatus(t, g, 201)
		gid := g.str("id")
		sub := f.do(t, "POST", base+"/groups", op, map[string]any{"displayName": "nested"})
		for _, m := range []string{f.userB, f.plainB.objectID, sub.str("id")} {
			mustStatus(t, f.do(t, "POST", base+"/groups/"+gid+"/members", op, map[string]any{"memberId": m}), 201)
		}
		r := f.do(t, "POST", base+"/groups/"+gid+"/members", op, map[string]any{"memberId": gid})
		mustStatus(t, r, 400)
		r = f.do(t, "POST", base+"/groups/"+gid+"/members", op, map[string]any{"memberId": f.gaA.objectID})
		if r.status != 400 || r.str("error", "code") != "PrincipalNotFound" || r.str("error", "target") != "memberId" {
			t.Errorf("member of another tenant: %s", r.raw)
		}
		r = f.do(t, "GET", base+"/groups/"+gid+"/members", f.plainB.token, nil)
		mustStatus(t, r, 200)
		types := map[string]string{}
		for _, v := range r.values() {
			types[v["id"].(string)] = v["principalType"].(string)
		}
		if types[f.userB] != "User" || types[f.plainB.objectID] != "ServicePrincipal" || types[sub.str("id")] != "Group" {
			t.Errorf("members = %v", types)
		}
		mustStatus(t, f.do(t, "DELETE", base+"/groups/"+gid+"/members/"+f.userB, op, nil), 204)
		mustStatus(t, f.do(t, "DELETE", base+"/groups/"+gid+"/members/"+f.userB, op, nil), 404)
		mustStatus(t, f.do(t, "DELETE", base+"/groups/"+gid, op, nil), 204)
		mustStatus(t, f.do(t, "GET", base+"/groups/"+gid, op, nil), 404)
	})
	t.Run("DirectoryRoles", func(t *testing.T) {
		r := f.do(t, "GET", base+"/directoryRoles?principalId="+f.gaB.objectID, f.plainB.token, nil)
		mustStatus(t, r, 200)
		if v := r.values(); len(v) != 1 || v[0]["role"] != "GlobalAdministrator" {
			t.Errorf("roles of gaB = %s", r.raw)
		}
		r = f.do(t, "GET", base+"/directoryRoles", f.plainB.token, nil)
		if v := r.values(); len(v) != 1 || v[0]["principalId"] != f.gaB.objectID {
			t.Errorf("roles in B = %s", r.raw)
		}
	})
	t.Run("Me", func(t *testing.T) {
		r := f.do(t, "GET", "/admin/v1/me", f.gaB.token, nil)
		mustStatus(t, r, 200)
		if r.str("objectId") != f.gaB.objectID || r.str("tenantId") != f.tenantB || r.str("principalType") != "ServicePrincipal" ||
			r.str("appId") != f.gaB.appID {
			t.Errorf("me = %s", r.raw)
		}
	})
	t.Run("PathsTolerateCaseAndSlashes", func(t *testing.T) {
		r := f.do(t, "GET", "/ADMIN/V1//Tenants/"+f.tenantB+"/USERS/", f.plainB.token, nil)
		mustStatus(t, r, 200)
	})
}
