package storetest

import (
	"testing"

	"github.com/galleonhq/galleon"
)

const (
	roleReader = "ACDD72A7-3385-48EF-BD42-F606FBA81AE7"
	roleWriter = "b24988ac-6180-42a0-ab88-20f7382dd24c"
)

func testRoleDefinitions(t *testing.T, open Opener) {
	newDef := func(name string) *galleon.RoleDefinition {
		return &galleon.RoleDefinition{
			Name:        name,
			Scope:       "/subscriptions/S1",
			RoleName:    "Gallery Publisher",
			Description: "Publishes image versions.",
			Type:        galleon.CustomRole,
			Permissions: []galleon.Permission{{
				Actions:    []string{"Microsoft.Compute/galleries/*/read", "Microsoft.Compute/galleries/images/versions/write"},
				NotActions: []string{"Microsoft.Compute/galleries/delete"},
			}},
			AssignableScopes: []string{"/subscriptions/S1", "/subscriptions/S2/resourceGroups/RG"},
			CreatedBy:        "U-1",
			UpdatedBy:        "U-1",
		}
	}
	t.Run("PutGet", func(t *testing.T) {
		s := open(t)
		d := newDef(roleReader)
		must(t, s.PutRoleDefinition(t.Context(), d))
		got, err := s.GetRoleDefinition(t.Context(), "acdd72a7-3385-48ef-bd42-f606fba81ae7")
		must(t, err)
		if got.Name != roleReader || got.Scope != d.Scope || got.RoleName != d.RoleName || got.Description != d.Description ||
			got.Type != galleon.CustomRole || got.CreatedBy != "U-1" || got.UpdatedBy != "U-1" {
			t.Fatalf("GetRoleDefinition = %+v, want %+v", got, d)
		}
		if len(got.Permissions) != 1 {
			t.Fatalf("Permissions = %+v", got.Permissions)
		}
		wantStrings(t, "Actions", got.Permissions[0].Actions, d.Permissions[0].Actions)
		wantStrings(t, "NotActions", got.Permissions[0].NotActions, d.Permissions[0].NotActions)
		wantStrings(t, "DataActions", got.Permissions[0].DataActions, nil)
		wantStrings(t, "AssignableScopes", got.AssignableScopes, d.AssignableScopes)
		if got.CreatedAt.IsZero() || got.UpdatedAt.IsZero() {
			t.Fatalf("CreatedAt %v, UpdatedAt %v: want both set", got.CreatedAt, got.UpdatedAt)
		}
	})
	t.Run("Replace", func(t *testing.T) {
		s := open(t)
		must(t, s.PutRoleDefinition(t.Context(), newDef(roleReader)))
		first, err := s.GetRoleDefinition(t.Context(), roleReader)
		must(t, err)

		d := newDef(roleReader)
		d.RoleName = "Gallery Publisher v2"
		d.Permissions = []galleon.Permission{{Actions: []string{"*/read"}}}
		d.UpdatedBy = "U-2"
		must(t, s.PutRoleDefinition(t.Context(), d))
		got, err := s.GetRoleDefinition(t.Context(), roleReader)
		must(t, err)
		if got.RoleName != "Gallery Publisher v2" || got.UpdatedBy != "U-2" || len(got.Permissions) != 1 {
			t.Fatalf("after replace: %+v", got)
		}
		wantStrings(t, "Actions", got.Permissions[0].Actions, []string{"*/read"})
		wantTime(t, "CreatedAt (kept)", got.CreatedAt, first.CreatedAt)
		if got.UpdatedAt.Before(first.UpdatedAt) {
			t.Fatalf("UpdatedAt went back from %v to %v", first.UpdatedAt, got.UpdatedAt)
		}
		defs, err := s.ListRoleDefinitions(t.Context())
		must(t, err)
		if len(defs) != 1 {
			t.Fatalf("ListRoleDefinitions has %d definitions after a replace, want 1", len(defs))
		}
	})
	t.Run("ListDelete", func(t *testing.T) {
		s := open(t)
		must(t, s.PutRoleDefinition(t.Context(), newDef(roleReader)))
		must(t, s.PutRoleDefinition(t.Context(), newDef(roleWriter)))
		defs, err := s.ListRoleDefinitions(t.Context())
		must(t, err)
		var names []string
		for _, d := range defs {
			names = append(names, d.Name)
		}
		wantSet(t, "definitions", names, []string{roleReader, roleWriter})

		must(t, s.DeleteRoleDefinition(t.Context(), "acdd72a7-3385-48ef-bd42-f606fba81ae7"))
		_, err = s.GetRoleDefinition(t.Context(), roleReader)
		wantNotFound(t, err)
		wantNotFound(t, s.DeleteRoleDefinition(t.Context(), roleReader))
	})
}

// assignment returns a role assignment of role to principal at scope.
func assignment(name, scope, role, principal string) *galleon.RoleAssignment {
	return &galleon.RoleAssignment{Name: name, Scope: scope, RoleDefinitionID: role, PrincipalID: principal,
		PrincipalType: galleon.PrincipalUser, CreatedBy: "U-0", UpdatedBy: "U-0"}
}

func testRoleAssignments(t *testing.T, open Opener) {
	t.Run("CreateGet", func(t *testing.T) {
		s := open(t)
		a := assignment("A-1", rg1, roleReader, "P-1")
		a.Description = "read the gallery"
		a.Condition = "@Resource[x] StringEquals 'y'"
		a.ConditionVersion = "2.0"
		must(t, s.CreateRoleAssignment(t.Context(), a))
		got, err := s.GetRoleAssignment(t.Context(), "a-1")
		must(t, err)
		if got.Name != "A-1" || got.Scope != rg1 || got.RoleDefinitionID != roleReader || got.PrincipalID != "P-1" ||
			got.PrincipalType != galleon.PrincipalUser || got.Description != a.Description || got.Condition != a.Condition ||
			got.ConditionVersion != "2.0" || got.CreatedBy != "U-0" || got.UpdatedBy != "U-0" {
			t.Fatalf("GetRoleAssignment = %+v, want %+v", got, a)
		}
		if got.CreatedAt.IsZero() || got.UpdatedAt.IsZero() {
			t.Fatalf("CreatedAt %v, UpdatedAt %v: want both set", got.CreatedAt, got.UpdatedAt)
		}
	})
	t.Run("ErrDuplicateName", func(t *testing.T) {
		s := open(t)
		must(t, s.CreateRoleAssignment(t.Context(), assignment("A-1", rg1, roleReader, "P-1")))
		err := s.CreateRoleAssignment(t.Context(), assignment("a-1", "/subscriptions/S2", roleWriter, "P-2"))
		wantCode(t, err, galleon.EConflict)
	})
	t.Run("ErrRoleAssignmentExists", func(t *testing.T) {
		s := open(t)
		must(t, s.CreateRoleAssignment(t.Context(), assignment("A-1", rg1, roleReader, "P-1")))
		err := s.CreateRoleAssignment(t.Context(), assignment("A-2", "/SUBSCRIPTIONS/s1/resourcegroups/rg1", "acdd72a7-3385-48ef-bd42-f606fba81ae7", "p-1"))
		wantCode(t, err, galleon.EConflict)
		if e := galleon.AsError(err); e.Reason != "RoleAssignmentExists" {
			t.Fatalf("Reason = %q, want RoleAssignmentExists", e.Reason)
		}
		_, err = s.GetRoleAssignment(t.Context(), "A-2")
		wantNotFound(t, err)
	})
	t.Run("SameRoleOtherScopeOrPrincipal", func(t *testing.T) {
		s := open(t)
		must(t, s.CreateRoleAssignment(t.Context(), assignment("A-1", rg1, roleReader, "P-1")))
		must(t, s.CreateRoleAssignment(t.Context(), assignment("A-2", rg1+"0", roleReader, "P-1")))
		must(t, s.CreateRoleAssignment(t.Context(), assignment("A-3", rg1, roleReader, "P-2")))
		must(t, s.CreateRoleAssignment(t.Context(), assignment("A-4", rg1, roleWriter, "P-1")))
	})
	t.Run("Delete", func(t *testing.T) {
		s := open(t)
		must(t, s.CreateRoleAssignment(t.Context(), assignment("A-1", rg1, roleReader, "P-1")))
		must(t, s.DeleteRoleAssignment(t.Context(), "a-1"))
		_, err := s.GetRoleAssignment(t.Context(), "A-1")
		wantNotFound(t, err)
		wantNotFound(t, s.DeleteRoleAssignment(t.Context(), "A-1"))
		// The same grant may be made again once deleted.
		must(t, s.CreateRoleAssignment(t.Context(), assignment("A-2", rg1, roleReader, "P-1")))
	})
}

func testListRoleAssignments(t *testing.T, open Opener) {
	const (
		sub1   = "/subscriptions/S1"
		rgX    = sub1 + "/resourceGroups/RG1"
		galX   = rgX + "/providers/Microsoft.Compute/galleries/G1"
		rgX10  = sub1 + "/resourceGroups/RG10"
		sub2   = "/subscriptions/S2"
		imageX = galX + "/images/I1"
	)
	s := open(t)
	for _, a := range []*galleon.RoleAssignment{
		assignment("a-root", "/", roleReader, "P-1"),
		assignment("a-sub1", sub1, roleWriter, "P-2"),
		assignment("a-rg", rgX, roleReader, "P-1"),
		assignment("a-rg-2", rgX, roleWriter, "P-3"),
		assignment("a-gal", galX, roleWriter, "P-1"),
		assignment("a-rg10", rgX10, roleReader, "P-1"),
		assignment("a-sub2", sub2, roleReader, "P-2"),
	} {
		must(t, s.CreateRoleAssignment(t.Context(), a))
	}
	for _, tc := range []struct {
		name string
		f    galleon.RoleAssignmentFilter
		want []string // in order: by scope, then name
	}{
		{"All", galleon.RoleAssignmentFilter{}, []string{"a-root", "a-sub1", "a-rg", "a-rg-2", "a-gal", "a-rg10", "a-sub2"}},
		{"AtOrAboveGallery", galleon.RoleAssignmentFilter{AtOrAbove: "/SUBSCRIPTIONS/s1/resourcegroups/rg1/providers/microsoft.compute/galleries/g1"},
			[]string{"a-root", "a-sub1", "a-rg", "a-rg-2", "a-gal"}},
		{"AtOrAboveImage", galleon.RoleAssignmentFilter{AtOrAbove: imageX}, []string{"a-root", "a-sub1", "a-rg", "a-rg-2", "a-gal"}},
		{"AtOrAboveResourceGroup", galleon.RoleAssignmentFilter{AtOrAbove: rgX}, []string{"a-root", "a-sub1", "a-rg", "a-rg-2"}},
		{"AtOrAboveRG10", galleon.RoleAssignmentFilter{AtOrAbove: rgX10}, []string{"a-root", "a-sub1", "a-rg10"}},
		{"AtOrAboveRoot", galleon.RoleAssignmentFilter{AtOrAbove: "/"}, []string{"a-root"}},
		{"AtOrAboveAndPrincipals", galleon.RoleAssignmentFilter{AtOrAbove: galX, PrincipalIDs: []string{"p-1", "P-3"}},
			[]string{"a-root", "a-rg", "a-rg-2", "a-gal"}},
		{"AtOrBelowSubscription", galleon.RoleAssignmentFilter{AtOrBelow: "/subscriptions/s1"}, []string{"a-sub1", "a-rg", "a-rg-2", "a-gal", "a-rg10"}},
		{"AtOrBelowResourceGroup", galleon.RoleAssignmentFilter{AtOrBelow: "/subscriptions/s1/resourceGroups/rg1"}, []string{"a-rg", "a-rg-2", "a-gal"}},
		{"AtOrBelowRoot", galleon.RoleAssignmentFilter{AtOrBelow: "/"}, []string{"a-root", "a-sub1", "a-rg", "a-rg-2", "a-gal", "a-rg10", "a-sub2"}},
		{"ExactScope", galleon.RoleAssignmentFilter{Scope: "/subscriptions/S1/RESOURCEGROUPS/rg1"}, []string{"a-rg", "a-rg-2"}},
		{"ExactRoot", galleon.RoleAssignmentFilter{Scope: "/"}, []string{"a-root"}},
		{"Principals", galleon.RoleAssignmentFilter{PrincipalIDs: []string{"p-2"}}, []string{"a-sub1", "a-sub2"}},
		{"RoleDefinition", galleon.RoleAssignmentFilter{RoleDefinitionID: "B24988AC-6180-42A0-AB88-20F7382DD24C"}, []string{"a-sub1", "a-rg-2", "a-gal"}},
		{"Combined", galleon.RoleAssignmentFilter{AtOrBelow: sub1, PrincipalIDs: []string{"P-1"}, RoleDefinitionID: roleReader}, []string{"a-rg", "a-rg10"}},
		{"NoMatch", galleon.RoleAssignmentFilter{AtOrAbove: sub2, PrincipalIDs: []string{"P-3"}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			as, err := s.ListRoleAssignments(t.Context(), tc.f)
			must(t, err)
			var names []string
			for _, a := range as {
				names = append(names, a.Name)
			}
			wantStrings(t, "assignments", names, tc.want)
		})
	}

	t.Run("DeleteUnder", func(t *testing.T) {
		s := open(t)
		for _, a := range []*galleon.RoleAssignment{
			assignment("a-sub1", sub1, roleWriter, "P-2"),
			assignment("a-rg", rgX, roleReader, "P-1"),
			assignment("a-gal", galX, roleWriter, "P-1"),
			assignment("a-rg10", rgX10, roleReader, "P-1"),
			assignment("a-rg10-gal", rgX10+"/providers/Microsoft.Compute/galleries/G1", roleReader, "P-1"),
		} {
			must(t, s.CreateRoleAssignment(t.Context(), a))
		}
		n, err := s.DeleteRoleAssignmentsUnder(t.Context(), "/subscriptions/s1/resourcegroups/RG1")
		must(t, err)
		if n != 2 {
			t.Fatalf("DeleteRoleAssignmentsUnder removed %d, want 2 (the scope itself and below)", n)
		}
		as, err := s.ListRoleAssignments(t.Context(), galleon.RoleAssignmentFilter{})
		must(t, err)
		var names []string
		for _, a := range as {
			names = append(names, a.Name)
		}
		wantStrings(t, "assignments left", names, []string{"a-sub1", "a-rg10", "a-rg10-gal"})
	})
}
