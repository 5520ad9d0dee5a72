package authz_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/galleonhq/galleon"
	"github.com/galleonhq/galleon/authz"
)

func TestBuiltInRoles(t *testing.T) {
	want := []struct{ id, roleName string }{
		{"8e3af657-a8ff-443c-a75c-2fe8c4bcb635", "Owner"},
		{"b24988ac-6180-42a0-ab88-20f7382dd24c", "Contributor"},
		{"acdd72a7-3385-48ef-bd42-f606fba81ae7", "Reader"},
		{"18d7d88d-d35e-4fb5-a5c3-7773c20a72d9", "User Access Administrator"},
		{"1ef6a3be-d0ac-425d-8c01-acb62866290b", "Compute Gallery Sharing Admin"},
		{"cf7c76d2-98a3-4358-a134-615aa78bf44d", "Compute Gallery Image Reader"},
	}
	roles := authz.BuiltInRoles()
	if len(roles) != len(want) {
		t.Fatalf("BuiltInRoles returned %d roles, want %d", len(roles), len(want))
	}
	for i, w := range want {
		t.Run(strings.ReplaceAll(w.roleName, " ", ""), func(t *testing.T) {
			d := roles[i]
			if d.Name != w.id || d.RoleName != w.roleName || d.Type != galleon.BuiltInRole || d.Description == "" {
				t.Fatalf("role %d = %+v, want %s %q", i, d, w.id, w.roleName)
			}
			if len(d.AssignableScopes) != 1 || d.AssignableScopes[0] != "/" {
				t.Fatalf("assignable scopes = %v, want [/]", d.AssignableScopes)
			}
			if len(d.Permissions) != 1 || len(d.Permissions[0].Actions) == 0 {
				t.Fatalf("permissions = %+v", d.Permissions)
			}
			for _, key := range []string{w.id, strings.ToUpper(w.id), w.roleName, strings.ToLower(w.roleName), " " + strings.ToUpper(w.roleName)} {
				if got := authz.BuiltInRole(key); got == nil || got.Name != w.id {
					t.Errorf("BuiltInRole(%q) = %+v, want %s", key, got, w.id)
				}
			}
			// ARM clients expect empty lists, not null.
			b, err := json.Marshal(d.Permissions[0])
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(b), "null") {
				t.Errorf("permissions marshal to %s, want [] for empty lists", b)
			}
		})
	}
	t.Run("Unknown", func(t *testing.T) {
		for _, key := range []string{"", "Owners", "00000000-0000-0000-0000-000000000000"} {
			if got := authz.BuiltInRole(key); got != nil {
				t.Errorf("BuiltInRole(%q) = %+v, want nil", key, got)
			}
		}
	})
	t.Run("FreshCopies", func(t *testing.T) {
		a := authz.BuiltInRoles()
		a[0].RoleName = "Mutated"
		a[0].Permissions[0].Actions[0] = "nothing"
		a[0].AssignableScopes[0] = "/subscriptions/x"
		b := authz.BuiltInRole("Owner")
		b.Permissions[0].Actions = append(b.Permissions[0].Actions, "more")
		c := authz.BuiltInRoles()[0]
		if c.RoleName != "Owner" || len(c.Permissions[0].Actions) != 1 || c.Permissions[0].Actions[0] != "*" || c.AssignableScopes[0] != "/" {
			t.Fatalf("built-in Owner changed through a copy: %+v", c)
		}
	})
	t.Run("ContributorNotActions", func(t *testing.T) {
		d := authz.BuiltInRole(authz.ContributorRoleID)
		want := []string{"Microsoft.Authorization/*/Delete", "Microsoft.Authorization/*/Write", "Microsoft.Authorization/elevateAccess/Action",
			"Microsoft.Blueprint/blueprintAssignments/write", "Microsoft.Blueprint/blueprintAssignments/delete", "Microsoft.Compute/galleries/share/action"}
		if strings.Join(d.Permissions[0].NotActions, ",") != strings.Join(want, ",") {
			t.Fatalf("notActions = %v, want %v", d.Permissions[0].NotActions, want)
		}
	})
}

func TestRoleDefinition(t *testing.T) {
	ctx := context.Background()
	s := newFakeStore()
	s.putDefinition(customRole())
	a := &authz.Authorizer{Store: s}
	tests := []struct {
		name, query, wantID string
	}{
		{"BuiltInByGUID", authz.ReaderRoleID, authz.ReaderRoleID},
		{"BuiltInUpperCase", strings.ToUpper(authz.OwnerRoleID), authz.OwnerRoleID},
		{"BuiltInByARMID", scopeSub + "/providers/Microsoft.Authorization/roleDefinitions/" + authz.ContributorRoleID, authz.ContributorRoleID},
		{"Custom", customRoleID, customRoleID},
		{"CustomByARMID", "/providers/Microsoft.Authorization/roleDefinitions/" + customRoleID, customRoleID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := a.RoleDefinition(ctx, tt.query)
			if err != nil {
				t.Fatal(err)
			}
			if d.Name != tt.wantID {
				t.Fatalf("RoleDefinition(%q).Name = %s, want %s", tt.query, d.Name, tt.wantID)
			}
		})
	}
	for _, q := range []string{"deadbeef-0000-4000-8000-000000000000", "", "Reader"} {
		t.Run("ErrNotFound/"+q, func(t *testing.T) {
			_, err := a.RoleDefinition(ctx, q)
			e := galleon.AsError(err)
			if e == nil || e.Code != galleon.ENotFound || e.Reason != "RoleDefinitionDoesNotExist" || !strings.Contains(e.Message, "'"+q+"'") {
				t.Fatalf("RoleDefinition(%q) error = %+v, want RoleDefinitionDoesNotExist naming it", q, e)
			}
		})
	}
}

func TestListRoleDefinitions(t *testing.T) {
	ctx := context.Background()
	s := newFakeStore()
	def := func(id, roleName string, scopes ...string) {
		s.putDefinition(&galleon.RoleDefinition{Name: id, RoleName: roleName, Type: galleon.CustomRole, AssignableScopes: scopes,
			Permissions: []galleon.Permission{{Actions: []string{"*/read"}}}})
	}
	def("00000000-0000-4000-8000-00000000000a", "Sub Role", scopeSub)
	def("00000000-0000-4000-8000-00000000000b", "rg role", scopeRG)
	def("00000000-0000-4000-8000-00000000000c", "Gallery Role", scopeGal)
	def("00000000-0000-4000-8000-00000000000d", "Other Role", scopeOther)
	def("00000000-0000-4000-8000-00000000000e", "Two Subs", scopeOther, strings.ToUpper(scopeSibRG))
	a := &authz.Authorizer{Store: s}
	builtIn := []string{"Owner", "Contributor", "Reader", "User Access Administrator", "Compute Gallery Sharing Admin", "Compute Gallery Image Reader"}
	tests := []struct {
		name, scope, roleName string
		want                  []string
	}{
		{"Root", "/", "", append(builtIn[:6:6], "Gallery Role", "Other Role", "rg role", "Sub Role", "Two Subs")},
		{"Empty", "", "", append(builtIn[:6:6], "Gallery Role", "Other Role", "rg role", "Sub Role", "Two Subs")},
		{"Subscription", scopeSub, "", append(builtIn[:6:6], "Gallery Role", "rg role", "Sub Role", "Two Subs")},
		{"ResourceGroup", scopeRG, "", append(builtIn[:6:6], "Gallery Role", "rg role", "Sub Role")},
		{"Gallery", strings.ToUpper(scopeImage), "", append(builtIn[:6:6], "Gallery Role", "rg role", "Sub Role")},
		{"OtherSubscription", scopeOther, "", append(builtIn[:6:6], "Other Role", "Two Subs")},
		{"FilterBuiltIn", scopeSub, "reader", []string{"Reader"}},
		{"FilterCustom", scopeRG, "SUB ROLE", []string{"Sub Role"}},
		{"FilterCustomNotUsable", scopeRG, "Other Role", nil},
		{"FilterNoMatch", scopeSub, "Read", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ds, err := a.ListRoleDefinitions(ctx, tt.scope, tt.roleName)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, d := range ds {
				got = append(got, d.RoleName)
			}
			if strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Fatalf("ListRoleDefinitions(%q, %q) = %q, want %q", tt.scope, tt.roleName, got, tt.want)
			}
		})
	}
}

func TestValidateRoleDefinition(t *testing.T) {
	valid := func() *galleon.RoleDefinition {
		return &galleon.RoleDefinition{
			Name:             "3a1b5c2d-0000-4000-8000-000000000001",
			RoleName:         "Gallery Publisher",
			Type:             galleon.CustomRole,
			Permissions:      []galleon.Permission{{Actions: []string{"Microsoft.Compute/galleries/*"}, NotActions: []string{"Microsoft.Compute/galleries/delete"}}},
			AssignableScopes: []string{scopeSub, scopeRG, scopeGal, "/providers/Microsoft.Management/managementGroups/mg1"},
		}
	}
	tests := []struct {
		name       string
		change     func(d *galleon.RoleDefinition)
		code       string
		reason     string
		target     string
		inMessage  string
		nilDefault bool
	}{
		{name: "OK", change: func(d *galleon.RoleDefinition) {}},
		{name: "OKNoNameNoType", change: func(d *galleon.RoleDefinition) { d.Name, d.Type = "", "" }},
		{name: "OKDataActionsOnly", change: func(d *galleon.RoleDefinition) {
			d.Permissions = []galleon.Permission{{DataActions: []string{"Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read"}}}
		}},
		{name: "ErrNil", nilDefault: true, code: galleon.EInvalid, target: "properties"},
		{name: "ErrBuiltInType", change: func(d *galleon.RoleDefinition) { d.Type = galleon.BuiltInRole }, code: galleon.EInvalid, target: "properties.type"},
		{name: "ErrNameNotGUID", change: func(d *galleon.RoleDefinition) { d.Name = "publisher" }, code: galleon.EInvalid, target: "name", inMessage: "'publisher'"},
		{name: "ErrNameIsBuiltIn", change: func(d *galleon.RoleDefinition) { d.Name = strings.ToUpper(authz.OwnerRoleID) }, code: galleon.EInvalid, target: "name", inMessage: "'Owner'"},
		{name: "ErrNoRoleName", change: func(d *galleon.RoleDefinition) { d.RoleName = "  " }, code: galleon.EInvalid, target: "properties.roleName"},
		{name: "ErrBuiltInRoleName", change: func(d *galleon.RoleDefinition) { d.RoleName = "reader" }, code: galleon.EConflict, reason: "RoleDefinitionWithSameNameExists", target: "properties.roleName"},
		{name: "ErrNoScopes", change: func(d *galleon.RoleDefinition) { d.AssignableScopes = nil }, code: galleon.EInvalid, target: "properties.assignableScopes"},
		{name: "ErrRootScope", change: func(d *galleon.RoleDefinition) { d.AssignableScopes[1] = "/" }, code: galleon.EInvalid, target: "properties.assignableScopes[1]"},
		{name: "ErrEmptyScope", change: func(d *galleon.RoleDefinition) { d.AssignableScopes[0] = "" }, code: galleon.EInvalid, target: "properties.assignableScopes[0]"},
		{name: "ErrMalformedScope", change: func(d *galleon.RoleDefinition) { d.AssignableScopes[2] = "/subscriptions/x/resourceGroups" }, code: galleon.EInvalid, target: "properties.assignableScopes[2]", inMessage: "/subscriptions/x/resourceGroups"},
		{name: "ErrNotAScope", change: func(d *galleon.RoleDefinition) { d.AssignableScopes[0] = "rg-images" }, code: galleon.EInvalid, target: "properties.assignableScopes[0]"},
		{name: "ErrNoPermissions", change: func(d *galleon.RoleDefinition) { d.Permissions = nil }, code: galleon.EInvalid, target: "properties.permissions"},
		{name: "ErrGrantsNothing", change: func(d *galleon.RoleDefinition) {
			d.Permissions = []galleon.Permission{{NotActions: []string{"*"}}}
		}, code: galleon.EInvalid, target: "properties.permissions"},
		{name: "ErrEmptyAction", change: func(d *galleon.RoleDefinition) {
			d.Permissions[0].Actions = append(d.Permissions[0].Actions, "")
		}, code: galleon.EInvalid, target: "properties.permissions[0].actions[1]"},
		{name: "ErrSpaceInAction", change: func(d *galleon.RoleDefinition) {
			d.Permissions[0].Actions[0] = "Microsoft.Compute/galleries/ read"
		}, code: galleon.EInvalid, target: "properties.permissions[0].actions[0]", inMessage: "'Microsoft.Compute/galleries/ read'"},
		{name: "ErrTabInNotAction", change: func(d *galleon.RoleDefinition) {
			d.Permissions[0].NotActions[0] = "Microsoft.Compute/\tdelete"
		}, code: galleon.EInvalid, target: "properties.permissions[0].notActions[0]"},
		{name: "ErrSpaceInSecondBlockDataAction", change: func(d *galleon.RoleDefinition) {
			d.Permissions = append(d.Permissions, galleon.Permission{DataActions: []string{"a b"}})
		}, code: galleon.EInvalid, target: "properties.permissions[1].dataActions[0]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d *galleon.RoleDefinition
			if !tt.nilDefault {
				d = valid()
				tt.change(d)
			}
			err := authz.ValidateRoleDefinition(d)
			if tt.code == "" {
				if err != nil {
					t.Fatalf("ValidateRoleDefinition = %v, want nil", err)
				}
				return
			}
			e := galleon.AsError(err)
			if e == nil {
				t.Fatalf("ValidateRoleDefinition = %v, want *galleon.Error", err)
			}
			reason := tt.reason
			if reason == "" {
				reason = "InvalidRoleDefinition"
			}
			if e.Code != tt.code || e.Reason != reason || e.Target != tt.target || e.Message == "" {
				t.Fatalf("error = %+v, want code %s reason %s target %s", e, tt.code, reason, tt.target)
			}
			if !strings.Contains(e.Message, tt.inMessage) {
				t.Fatalf("message %q does not contain %q", e.Message, tt.inMessage)
			}
		})
	}
}

func TestCanAssignAt(t *testing.T) {
	custom := customRole()
	custom.AssignableScopes = []string{scopeRG, scopeOther + "/resourceGroups/shared"}
	tests := []struct {
		name  string
		def   *galleon.RoleDefinition
		scope string
		ok    bool
	}{
		{"BuiltInAnywhere", authz.BuiltInRole("Reader"), scopeImage, true},
		{"BuiltInAtSubscription", authz.BuiltInRole("Owner"), scopeOther, true},
		{"CustomAtAssignableScope", custom, scopeRG, true},
		{"CustomBelow", custom, scopeImage, true},
		{"CustomCaseInsensitive", custom, strings.ToUpper(scopeGal), true},
		{"CustomSecondScope", custom, scopeOther + "/resourceGroups/shared/providers/Microsoft.Compute/galleries/g", true},
		{"ErrCustomAbove", custom, scopeSub, false},
		{"ErrCustomSibling", custom, scopeSibRG, false},
		{"ErrCustomPrefixName", custom, scopeRG + "-2", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := authz.CanAssignAt(tt.def, tt.scope)
			if tt.ok {
				if err != nil {
					t.Fatalf("CanAssignAt = %v, want nil", err)
				}
				return
			}
			e := galleon.AsError(err)
			if e == nil || e.Code != galleon.EForbidden || e.Reason != "RoleAssignmentScopeNotAssignableToRoleDefinition" {
				t.Fatalf("CanAssignAt = %+v, want Forbidden RoleAssignmentScopeNotAssignableToRoleDefinition", e)
			}
			for _, s := range []string{tt.def.RoleName, tt.scope} {
				if !strings.Contains(e.Message, s) {
					t.Errorf("message %q does not name %q", e.Message, s)
				}
			}
		})
	}
	t.Run("ErrNilDefinition", func(t *testing.T) {
		if err := authz.CanAssignAt(nil, scopeRG); galleon.ErrorCode(err) != galleon.ENotFound {
			t.Fatalf("CanAssignAt(nil) = %v, want NotFound", err)
		}
	})
}
