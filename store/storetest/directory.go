package storetest

import (
	"bytes"
	"testing"
	"time"

	"github.com/galleonhq/galleon"
)

const (
	tenantA = "7C1D4E2A-0000-4000-8000-00000000000A"
	tenantB = "7c1d4e2a-0000-4000-8000-00000000000b"
)

func testTenants(t *testing.T, open Opener) {
	t.Run("CreateGet", func(t *testing.T) {
		s := open(t)
		want := &galleon.Tenant{ID: tenantA, Domain: "Contoso.Example", DisplayName: "Contoso"}
		must(t, s.CreateTenant(t.Context(), want))
		if want.CreatedAt.IsZero() {
			t.Fatal("CreateTenant left CreatedAt zero")
		}
		for _, lookup := range []string{tenantA, "7c1d4e2a-0000-4000-8000-00000000000a", "contoso.example", "CONTOSO.EXAMPLE"} {
			got, err := s.GetTenant(t.Context(), lookup)
			must(t, err)
			if got.ID != tenantA || got.Domain != "Contoso.Example" || got.DisplayName != "Contoso" {
				t.Fatalf("GetTenant(%q) = %+v, want the stored values in their written case", lookup, got)
			}
			wantTime(t, "CreatedAt", got.CreatedAt, want.CreatedAt)
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		s := open(t)
		seedTenant(t, s, tenantA, "contoso.example")
		_, err := s.GetTenant(t.Context(), "fabrikam.example")
		wantNotFound(t, err)
	})
	t.Run("ErrDuplicateID", func(t *testing.T) {
		s := open(t)
		seedTenant(t, s, tenantA, "contoso.example")
		err := s.CreateTenant(t.Context(), &galleon.Tenant{ID: "7c1d4e2a-0000-4000-8000-00000000000a", Domain: "other.example"})
		wantCode(t, err, galleon.EConflict)
	})
	t.Run("ErrDuplicateDomain", func(t *testing.T) {
		s := open(t)
		seedTenant(t, s, tenantA, "contoso.example")
		err := s.CreateTenant(t.Context(), &galleon.Tenant{ID: tenantB, Domain: "Contoso.EXAMPLE"})
		wantCode(t, err, galleon.EConflict)
		_, err = s.GetTenant(t.Context(), tenantB)
		wantNotFound(t, err)
	})
	t.Run("List", func(t *testing.T) {
		s := open(t)
		ts, err := s.ListTenants(t.Context())
		must(t, err)
		if len(ts) != 0 {
			t.Fatalf("empty store lists %d tenants", len(ts))
		}
		seedTenant(t, s, tenantA, "a.example")
		seedTenant(t, s, tenantB, "b.example")
		ts, err = s.ListTenants(t.Context())
		must(t, err)
		var ids []string
		for _, tn := range ts {
			ids = append(ids, tn.ID)
		}
		wantSet(t, "tenant IDs", ids, []string{tenantA, tenantB})
	})
}

func testSubscriptions(t *testing.T, open Opener) {
	t.Run("CreateGet", func(t *testing.T) {
		s := open(t)
		seedTenant(t, s, tenantA, "a.example")
		sub := &galleon.Subscription{ID: "SUB-1", TenantID: tenantA, DisplayName: "Dev", State: galleon.SubscriptionEnabled}
		must(t, s.CreateSubscription(t.Context(), sub))
		got, err := s.GetSubscription(t.Context(), "sub-1")
		must(t, err)
		if got.ID != "SUB-1" || got.TenantID != tenantA || got.DisplayName != "Dev" || got.State != galleon.SubscriptionEnabled {
			t.Fatalf("GetSubscription = %+v", got)
		}
		if got.CreatedAt.IsZero() {
			t.Fatal("CreatedAt is zero")
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		s := open(t)
		_, err := s.GetSubscription(t.Context(), "nope")
		wantNotFound(t, err)
	})
	t.Run("ErrDuplicate", func(t *testing.T) {
		s := open(t)
		seedTenant(t, s, tenantA, "a.example")
		must(t, s.CreateSubscription(t.Context(), &galleon.Subscription{ID: "sub-1", TenantID: tenantA, State: galleon.SubscriptionEnabled}))
		err := s.CreateSubscription(t.Context(), &galleon.Subscription{ID: "SUB-1", TenantID: tenantA, State: galleon.SubscriptionEnabled})
		wantCode(t, err, galleon.EConflict)
	})
	t.Run("ErrTenantNotFound", func(t *testing.T) {
		s := open(t)
		err := s.CreateSubscription(t.Context(), &galleon.Subscription{ID: "sub-1", TenantID: tenantA, State: galleon.SubscriptionEnabled})
		wantNotFound(t, err)
		_, err = s.GetSubscription(t.Context(), "sub-1")
		wantNotFound(t, err)
	})
	t.Run("List", func(t *testing.T) {
		s := open(t)
		seedTenant(t, s, tenantA, "a.example")
		seedTenant(t, s, tenantB, "b.example")
		for _, sub := range []*galleon.Subscription{
			{ID: "a1", TenantID: tenantA}, {ID: "a2", TenantID: tenantA}, {ID: "b1", TenantID: tenantB},
		} {
			sub.State = galleon.SubscriptionEnabled
			must(t, s.CreateSubscription(t.Context(), sub))
		}
		for _, tc := range []struct {
			name, tenant string
			want         []string
		}{
			{"TenantA", tenantA, []string{"a1", "a2"}},
			{"TenantBOtherCase", "7C1D4E2A-0000-4000-8000-00000000000B", []string{"b1"}},
			{"All", "", []string{"a1", "a2", "b1"}},
			{"UnknownTenant", "nobody", nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				subs, err := s.ListSubscriptions(t.Context(), tc.tenant)
				must(t, err)
				var ids []string
				for _, sub := range subs {
					ids = append(ids, sub.ID)
				}
				wantSet(t, "subscription IDs", ids, tc.want)
			})
		}
	})
}

func testUsers(t *testing.T, open Opener) {
	seed := func(t *testing.T) galleon.Store {
		s := open(t)
		seedTenant(t, s, tenantA, "a.example")
		seedTenant(t, s, tenantB, "b.example")
		must(t, s.CreateUser(t.Context(), &galleon.User{ID: "U-1", TenantID: tenantA, UserPrincipalName: "Alice@A.example",
			DisplayName: "Alice", PasswordHash: "$argon2id$v=19$m=65536,t=1,p=4$c2FsdA$aGFzaA"}))
		return s
	}
	t.Run("GetByIDAndUPN", func(t *testing.T) {
		s := seed(t)
		for _, lookup := range []string{"U-1", "u-1", "alice@a.example", "ALICE@A.EXAMPLE"} {
			u, err := s.GetUser(t.Context(), tenantA, lookup)
			must(t, err)
			if u.ID != "U-1" || u.TenantID != tenantA || u.UserPrincipalName != "Alice@A.example" || u.DisplayName != "Alice" ||
				u.PasswordHash != "$argon2id$v=19$m=65536,t=1,p=4$c2FsdA$aGFzaA" || u.CreatedAt.IsZero() {
				t.Fatalf("GetUser(%q) = %+v", lookup, u)
			}
		}
	})
	t.Run("ErrNotFoundInOtherTenant", func(t *testing.T) {
		s := seed(t)
		_, err := s.GetUser(t.Context(), tenantB, "U-1")
		wantNotFound(t, err)
		_, err = s.GetUser(t.Context(), tenantA, "bob@a.example")
		wantNotFound(t, err)
	})
	t.Run("ErrDuplicateID", func(t *testing.T) {
		s := seed(t)
		err := s.CreateUser(t.Context(), &galleon.User{ID: "u-1", TenantID: tenantA, UserPrincipalName: "carol@a.example"})
		wantCode(t, err, galleon.EConflict)
	})
	t.Run("ErrDuplicateUPN", func(t *testing.T) {
		s := seed(t)
		err := s.CreateUser(t.Context(), &galleon.User{ID: "U-2", TenantID: tenantA, UserPrincipalName: "ALICE@a.example"})
		wantCode(t, err, galleon.EConflict)
	})
	t.Run("SameUPNInOtherTenant", func(t *testing.T) {
		s := seed(t)
		must(t, s.CreateUser(t.Context(), &galleon.User{ID: "U-2", TenantID: tenantB, UserPrincipalName: "Alice@A.example"}))
		u, err := s.GetUser(t.Context(), tenantB, "alice@a.example")
		must(t, err)
		if u.ID != "U-2" {
			t.Fatalf("GetUser in tenant B found %q, want U-2", u.ID)
		}
	})
	t.Run("ErrTenantNotFound", func(t *testing.T) {
		s := seed(t)
		err := s.CreateUser(t.Context(), &galleon.User{ID: "U-3", TenantID: "nobody", UserPrincipalName: "x@y"})
		wantNotFound(t, err)
	})
	t.Run("List", func(t *testing.T) {
		s := seed(t)
		must(t, s.CreateUser(t.Context(), &galleon.User{ID: "U-2", TenantID: tenantA, UserPrincipalName: "bob@a.example"}))
		must(t, s.CreateUser(t.Context(), &galleon.User{ID: "U-3", TenantID: tenantB, UserPrincipalName: "carol@b.example"}))
		us, err := s.ListUsers(t.Context(), tenantA)
		must(t, err)
		var ids []string
		for _, u := range us {
			ids = append(ids, u.ID)
		}
		wantSet(t, "user IDs", ids, []string{"U-1", "U-2"})
	})
	t.Run("DeleteRemovesMemberships", func(t *testing.T) {
		s := seed(t)
		must(t, s.CreateGroup(t.Context(), &galleon.Group{ID: "G-1", TenantID: tenantA, DisplayName: "Ops"}))
		must(t, s.AddGroupMember(t.Context(), tenantA, "G-1", "U-1"))
		must(t, s.DeleteUser(t.Context(), tenantA, "u-1"))
		_, err := s.GetUser(t.Context(), tenantA, "U-1")
		wantNotFound(t, err)
		members, err := s.ListGroupMembers(t.Context(), tenantA, "G-1")
		must(t, err)
		wantStrings(t, "members after DeleteUser", members, nil)
		groups, err := s.ListMemberOf(t.Context(), tenantA, "U-1")
		must(t, err)
		wantStrings(t, "memberOf after DeleteUser", groups, nil)
	})
	t.Run("DeleteErrNotFound", func(t *testing.T) {
		s := seed(t)
		wantNotFound(t, s.DeleteUser(t.Context(), tenantB, "U-1"))
		if _, err := s.GetUser(t.Context(), tenantA, "U-1"); err != nil {
			t.Fatalf("deleting in another tenant removed the user: %v", err)
		}
	})
}

func testGroups(t *testing.T, open Opener) {
	seed := func(t *testing.T) galleon.Store {
		s := open(t)
		seedTenant(t, s, tenantA, "a.example")
		seedTenant(t, s, tenantB, "b.example")
		for _, g := range []*galleon.Group{
			{ID: "G-Ops", TenantID: tenantA, DisplayName: "Ops"},
			{ID: "G-All", TenantID: tenantA, DisplayName: "Everyone"},
			{ID: "G-B", TenantID: tenantB, DisplayName: "B"},
		} {
			must(t, s.CreateGroup(t.Context(), g))
		}
		return s
	}
	t.Run("CreateGet", func(t *testing.T) {
		s := seed(t)
		g, err := s.GetGroup(t.Context(), tenantA, "g-ops")
		must(t, err)
		if g.ID != "G-Ops" || g.TenantID != tenantA || g.DisplayName != "Ops" || g.CreatedAt.IsZero() {
			t.Fatalf("GetGroup = %+v", g)
		}
		_, err = s.GetGroup(t.Context(), tenantB, "G-Ops")
		wantNotFound(t, err)
	})
	t.Run("ErrDuplicate", func(t *testing.T) {
		s := seed(t)
		wantCode(t, s.CreateGroup(t.Context(), &galleon.Group{ID: "g-ops", TenantID: tenantA}), galleon.EConflict)
	})
	t.Run("List", func(t *testing.T) {
		s := seed(t)
		gs, err := s.ListGroups(t.Context(), tenantA)
		must(t, err)
		var ids []string
		for _, g := range gs {
			ids = append(ids, g.ID)
		}
		wantSet(t, "group IDs", ids, []string{"G-Ops", "G-All"})
	})
	t.Run("Members", func(t *testing.T) {
		s := seed(t)
		// U-1 is in Ops; Ops is in Everyone; SP-1 is in Everyone.
		must(t, s.AddGroupMember(t.Context(), tenantA, "G-Ops", "U-1"))
		must(t, s.AddGroupMember(t.Context(), tenantA, "g-ops", "u-1")) // again: not an error
		must(t, s.AddGroupMember(t.Context(), tenantA, "G-All", "G-Ops"))
		must(t, s.AddGroupMember(t.Context(), tenantA, "G-All", "SP-1"))

		members, err := s.ListGroupMembers(t.Context(), tenantA, "G-All")
		must(t, err)
		wantSet(t, "direct members of G-All", members, []string{"G-Ops", "SP-1"})
		members, err = s.ListGroupMembers(t.Context(), tenantA, "G-OPS")
		must(t, err)
		wantSet(t, "direct members of G-Ops", members, []string{"U-1"})

		groups, err := s.ListMemberOf(t.Context(), tenantA, "U-1")
		must(t, err)
		wantSet(t, "groups of U-1 (direct only)", groups, []string{"G-Ops"})
		groups, err = s.ListMemberOf(t.Context(), tenantA, "g-ops")
		must(t, err)
		wantSet(t, "groups of G-Ops", groups, []string{"G-All"})
		groups, err = s.ListMemberOf(t.Context(), tenantB, "U-1")
		must(t, err)
		wantSet(t, "groups of U-1 in tenant B", groups, nil)
	})
	t.Run("AddErrGroupNotFound", func(t *testing.T) {
		s := seed(t)
		wantNotFound(t, s.AddGroupMember(t.Context(), tenantA, "G-None", "U-1"))
		wantNotFound(t, s.AddGroupMember(t.Context(), tenantB, "G-Ops", "U-1"))
	})
	t.Run("Remove", func(t *testing.T) {
		s := seed(t)
		must(t, s.AddGroupMember(t.Context(), tenantA, "G-Ops", "U-1"))
		must(t, s.AddGroupMember(t.Context(), tenantA, "G-Ops", "U-2"))
		must(t, s.RemoveGroupMember(t.Context(), tenantA, "g-ops", "U-1"))
		members, err := s.ListGroupMembers(t.Context(), tenantA, "G-Ops")
		must(t, err)
		wantSet(t, "members after remove", members, []string{"U-2"})
		wantNotFound(t, s.RemoveGroupMember(t.Context(), tenantA, "G-Ops", "U-1"))
	})
	t.Run("DeleteRemovesMemberships", func(t *testing.T) {
		s := seed(t)
		must(t, s.AddGroupMember(t.Context(), tenantA, "G-Ops", "U-1"))
		must(t, s.AddGroupMember(t.Context(), tenantA, "G-All", "G-Ops"))
		must(t, s.DeleteGroup(t.Context(), tenantA, "g-ops"))
		_, err := s.GetGroup(t.Context(), tenantA, "G-Ops")
		wantNotFound(t, err)
		members, err := s.ListGroupMembers(t.Context(), tenantA, "G-All")
		must(t, err)
		wantSet(t, "members of G-All after deleting G-Ops", members, nil)
		groups, err := s.ListMemberOf(t.Context(), tenantA, "U-1")
		must(t, err)
		wantSet(t, "groups of U-1 after deleting G-Ops", groups, nil)
		wantNotFound(t, s.DeleteGroup(t.Context(), tenantA, "G-Ops"))
	})
}

func testApplications(t *testing.T, open Opener) {
	seed := func(t *testing.T) galleon.Store {
		s := open(t)
		seedTenant(t, s, tenantA, "a.example")
		seedTenant(t, s, tenantB, "b.example")
		must(t, s.CreateApplication(t.Context(), &galleon.Application{ID: "OBJ-1", AppID: "APP-1", TenantID: tenantA,
			DisplayName: "Pipeline", MultiTenant: true}))
		return s
	}
	t.Run("GetByObjectIDOrAppID", func(t *testing.T) {
		s := seed(t)
		for _, lookup := range []string{"OBJ-1", "obj-1", "APP-1", "app-1"} {
			a, err := s.GetApplication(t.Context(), lookup)
			must(t, err)
			if a.ID != "OBJ-1" || a.AppID != "APP-1" || a.TenantID != tenantA || a.DisplayName != "Pipeline" || !a.MultiTenant || a.CreatedAt.IsZero() {
				t.Fatalf("GetApplication(%q) = %+v", lookup, a)
			}
		}
		_, err := s.GetApplication(t.Context(), "APP-2")
		wantNotFound(t, err)
	})
	t.Run("ErrDuplicateObjectID", func(t *testing.T) {
		s := seed(t)
		err := s.CreateApplication(t.Context(), &galleon.Application{ID: "obj-1", AppID: "APP-2", TenantID: tenantA})
		wantCode(t, err, galleon.EConflict)
	})
	t.Run("ErrDuplicateAppID", func(t *testing.T) {
		s := seed(t)
		err := s.CreateApplication(t.Context(), &galleon.Application{ID: "OBJ-2", AppID: "app-1", TenantID: tenantB})
		wantCode(t, err, galleon.EConflict)
	})
	t.Run("List", func(t *testing.T) {
		s := seed(t)
		must(t, s.CreateApplication(t.Context(), &galleon.Application{ID: "OBJ-2", AppID: "APP-2", TenantID: tenantA}))
		must(t, s.CreateApplication(t.Context(), &galleon.Application{ID: "OBJ-3", AppID: "APP-3", TenantID: tenantB}))
		as, err := s.ListApplications(t.Context(), tenantA)
		must(t, err)
		var ids []string
		for _, a := range as {
			ids = append(ids, a.ID)
			if a.ID == "OBJ-2" && a.MultiTenant {
				t.Fatal("OBJ-2 reads back as multi-tenant")
			}
		}
		wantSet(t, "application IDs", ids, []string{"OBJ-1", "OBJ-2"})
	})
}

func testClientSecrets(t *testing.T, open Opener) {
	seed := func(t *testing.T) galleon.Store {
		s := open(t)
		seedTenant(t, s, tenantA, "a.example")
		must(t, s.CreateApplication(t.Context(), &galleon.Application{ID: "OBJ-1", AppID: "APP-1", TenantID: tenantA}))
		must(t, s.CreateApplication(t.Context(), &galleon.Application{ID: "OBJ-2", AppID: "APP-2", TenantID: tenantA}))
		return s
	}
	t.Run("AddListDelete", func(t *testing.T) {
		s := seed(t)
		k1 := &galleon.ClientSecret{KeyID: "K-1", ApplicationID: "OBJ-1", DisplayName: "ci", Hint: "abc",
			Hash: "$argon2id$...1", ExpiresAt: t0.Add(365 * 24 * time.Hour), CreatedAt: t0}
		k2 := &galleon.ClientSecret{KeyID: "K-2", ApplicationID: "OBJ-1", DisplayName: "cd", Hint: "def",
			Hash: "$argon2id$...2", ExpiresAt: t0.Add(48 * time.Hour), CreatedAt: t0.Add(time.Hour)}
		must(t, s.AddClientSecret(t.Context(), k1))
		must(t, s.AddClientSecret(t.Context(), k2))
		must(t, s.AddClientSecret(t.Context(), &galleon.ClientSecret{KeyID: "K-3", ApplicationID: "OBJ-2", Hash: "h"}))

		got, err := s.ListClientSecrets(t.Context(), "obj-1")
		must(t, err)
		if len(got) != 2 {
			t.Fatalf("ListClientSecrets returned %d secrets, want 2", len(got))
		}
		for _, g := range got {
			want := k1
			if g.KeyID == "K-2" {
				want = k2
			}
			if g.KeyID != want.KeyID || g.ApplicationID != "OBJ-1" || g.DisplayName != want.DisplayName ||
				g.Hint != want.Hint || g.Hash != want.Hash {
				t.Fatalf("secret = %+v, want %+v", g, want)
			}
			wantTime(t, "ExpiresAt", g.ExpiresAt, want.ExpiresAt)
			wantTime(t, "CreatedAt", g.CreatedAt, want.CreatedAt)
		}

		must(t, s.DeleteClientSecret(t.Context(), "OBJ-1", "k-1"))
		got, err = s.ListClientSecrets(t.Context(), "OBJ-1")
		must(t, err)
		if len(got) != 1 || got[0].KeyID != "K-2" {
			t.Fatalf("after delete: %+v, want only K-2", got)
		}
		wantNotFound(t, s.DeleteClientSecret(t.Context(), "OBJ-1", "K-1"))
		wantNotFound(t, s.DeleteClientSecret(t.Context(), "OBJ-1", "K-3")) // K-3 belongs to OBJ-2
	})
	t.Run("ErrApplicationNotFound", func(t *testing.T) {
		s := seed(t)
		wantNotFound(t, s.AddClientSecret(t.Context(), &galleon.ClientSecret{KeyID: "K-1", ApplicationID: "OBJ-9", Hash: "h"}))
	})
	t.Run("ErrDuplicateKeyID", func(t *testing.T) {
		s := seed(t)
		must(t, s.AddClientSecret(t.Context(), &galleon.ClientSecret{KeyID: "K-1", ApplicationID: "OBJ-1", Hash: "h"}))
		wantCode(t, s.AddClientSecret(t.Context(), &galleon.ClientSecret{KeyID: "k-1", ApplicationID: "OBJ-1", Hash: "h"}), galleon.EConflict)
	})
}

func testServicePrincipals(t *testing.T, open Opener) {
	seed := func(t *testing.T) galleon.Store {
		s := open(t)
		seedTenant(t, s, tenantA, "a.example")
		seedTenant(t, s, tenantB, "b.example")
		must(t, s.CreateServicePrincipal(t.Context(), &galleon.ServicePrincipal{ID: "SP-1", TenantID: tenantA, AppID: "APP-1", DisplayName: "Pipeline"}))
		return s
	}
	t.Run("GetByObjectIDOrAppID", func(t *testing.T) {
		s := seed(t)
		for _, lookup := range []string{"SP-1", "sp-1", "APP-1", "app-1"} {
			sp, err := s.GetServicePrincipal(t.Context(), tenantA, lookup)
			must(t, err)
			if sp.ID != "SP-1" || sp.TenantID != tenantA || sp.AppID != "APP-1" || sp.DisplayName != "Pipeline" || sp.CreatedAt.IsZero() {
				t.Fatalf("GetServicePrincipal(%q) = %+v", lookup, sp)
			}
		}
		_, err := s.GetServicePrincipal(t.Context(), tenantB, "APP-1")
		wantNotFound(t, err)
	})
	t.Run("ErrSecondInSameTenant", func(t *testing.T) {
		s := seed(t)
		err := s.CreateServicePrincipal(t.Context(), &galleon.ServicePrincipal{ID: "SP-2", TenantID: tenantA, AppID: "app-1"})
		wantCode(t, err, galleon.EConflict)
	})
	t.Run("ErrDuplicateObjectID", func(t *testing.T) {
		s := seed(t)
		err := s.CreateServicePrincipal(t.Context(), &galleon.ServicePrincipal{ID: "sp-1", TenantID: tenantB, AppID: "APP-2"})
		wantCode(t, err, galleon.EConflict)
	})
	t.Run("OnePerTenant", func(t *testing.T) {
		s := seed(t)
		must(t, s.CreateServicePrincipal(t.Context(), &galleon.ServicePrincipal{ID: "SP-2", TenantID: tenantB, AppID: "APP-1"}))
		sp, err := s.GetServicePrincipal(t.Context(), tenantB, "APP-1")
		must(t, err)
		if sp.ID != "SP-2" {
			t.Fatalf("tenant B's service principal of APP-1 is %q, want SP-2", sp.ID)
		}
		sps, err := s.ListServicePrincipals(t.Context(), tenantA)
		must(t, err)
		if len(sps) != 1 || sps[0].ID != "SP-1" {
			t.Fatalf("ListServicePrincipals(A) = %+v, want only SP-1", sps)
		}
	})
	t.Run("ErrTenantNotFound", func(t *testing.T) {
		s := seed(t)
		err := s.CreateServicePrincipal(t.Context(), &galleon.ServicePrincipal{ID: "SP-3", TenantID: "nobody", AppID: "APP-3"})
		wantNotFound(t, err)
	})
}

func testDirectoryRoles(t *testing.T, open Opener) {
	s := open(t)
	seedTenant(t, s, tenantA, "a.example")
	seedTenant(t, s, tenantB, "b.example")
	put := func(tenant, principal, role string) {
		t.Helper()
		must(t, s.PutDirectoryRole(t.Context(), &galleon.DirectoryRoleAssignment{TenantID: tenant, PrincipalID: principal, Role: role}))
	}
	put(tenantA, "U-1", galleon.RoleGlobalAdministrator)
	put(tenantA, "u-1", galleon.RoleGlobalAdministrator) // again: idempotent
	put(tenantA, "U-1", galleon.RoleInstallationOperator)
	put(tenantB, "U-2", galleon.RoleGlobalAdministrator)

	for _, tc := range []struct {
		name, tenant, principal string
		want                    []string
	}{
		{"BothRoles", tenantA, "U-1", []string{galleon.RoleGlobalAdministrator, galleon.RoleInstallationOperator}},
		{"CaseInsensitive", "7c1d4e2a-0000-4000-8000-00000000000a", "u-1", []string{galleon.RoleGlobalAdministrator, galleon.RoleInstallationOperator}},
		{"OtherTenant", tenantB, "U-1", nil},
		{"OtherPrincipal", tenantB, "U-2", []string{galleon.RoleGlobalAdministrator}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			roles, err := s.ListDirectoryRoles(t.Context(), tc.tenant, tc.principal)
			must(t, err)
			wantSet(t, "roles", roles, tc.want)
		})
	}
}

func testSigningKeys(t *testing.T, open Opener) {
	s := open(t)
	ks, err := s.ListSigningKeys(t.Context())
	must(t, err)
	if len(ks) != 0 {
		t.Fatalf("empty store lists %d signing keys", len(ks))
	}
	old := &galleon.SigningKey{KeyID: "kid-old", PrivatePEM: []byte("-----BEGIN PRIVATE KEY-----\nold\n"), CreatedAt: t0}
	mid := &galleon.SigningKey{KeyID: "kid-mid", PrivatePEM: []byte("mid"), CreatedAt: t0.Add(time.Hour)}
	cur := &galleon.SigningKey{KeyID: "kid-new", PrivatePEM: []byte("new"), CreatedAt: t0.Add(2 * time.Hour)}
	for _, k := range []*galleon.SigningKey{mid, cur, old} {
		must(t, s.PutSigningKey(t.Context(), k))
	}
	// Retire the oldest: an update by KeyID, not a new key.
	retired := &galleon.SigningKey{KeyID: "kid-old", PrivatePEM: []byte("-----BEGIN PRIVATE KEY-----\nold\n"), CreatedAt: t0, RetiredAt: t0.Add(2 * time.Hour)}
	must(t, s.PutSigningKey(t.Context(), retired))

	ks, err = s.ListSigningKeys(t.Context())
	must(t, err)
	var ids []string
	for _, k := range ks {
		ids = append(ids, k.KeyID)
	}
	wantStrings(t, "key IDs, newest first", ids, []string{"kid-new", "kid-mid", "kid-old"})
	if !bytes.Equal(ks[2].PrivatePEM, retired.PrivatePEM) {
		t.Fatalf("PrivatePEM = %q, want %q", ks[2].PrivatePEM, retired.PrivatePEM)
	}
	wantTime(t, "CreatedAt", ks[2].CreatedAt, t0)
	wantTime(t, "RetiredAt", ks[2].RetiredAt, t0.Add(2*time.Hour))
	if !ks[0].RetiredAt.IsZero() {
		t.Fatalf("active key has RetiredAt %v", ks[0].RetiredAt)
	}
}
