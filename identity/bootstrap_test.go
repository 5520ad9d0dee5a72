package identity_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/galleonhq/galleon"
	"github.com/galleonhq/galleon/identity"
)

func TestBootstrap(t *testing.T) {
	e := newEnv(t) // bootstraps once with default options
	ctx := context.Background()
	first := e.boot
	if !first.Created || first.ClientSecret == "" {
		t.Fatalf("first Bootstrap: Created %v, secret %q", first.Created, first.ClientSecret)
	}
	if first.Tenant.Domain != "galleon.local" || first.Subscription.DisplayName != "Galleon Subscription" ||
		first.Application.DisplayName != "galleon-admin" || first.Application.MultiTenant ||
		first.ServicePrincipal.AppID != first.Application.AppID || first.Subscription.TenantID != first.Tenant.ID {
		t.Errorf("first Bootstrap = %+v %+v %+v %+v", first.Tenant, first.Subscription, first.Application, first.ServicePrincipal)
	}
	checkAdmin := func(t *testing.T) {
		t.Helper()
		ras, err := e.store.ListRoleAssignments(ctx, galleon.RoleAssignmentFilter{Scope: "/subscriptions/" + first.Subscription.ID})
		if err != nil {
			t.Fatal(err)
		}
		if len(ras) != 1 || ras[0].PrincipalID != first.ServicePrincipal.ID || ras[0].RoleDefinitionID != galleon.OwnerRoleID ||
			ras[0].PrincipalType != galleon.PrincipalServicePrincipal {
			t.Errorf("role assignments = %+v", ras)
		}
		roles, err := e.store.ListDirectoryRoles(ctx, first.Tenant.ID, first.ServicePrincipal.ID)
		slices.Sort(roles)
		if err != nil || !slices.Equal(roles, []string{galleon.RoleGlobalAdministrator, galleon.RoleInstallationOperator}) {
			t.Errorf("directory roles = %v (%v)", roles, err)
		}
	}
	checkAdmin(t)

	t.Run("SecondCallFindsTheSameObjects", func(t *testing.T) {
		// Other options are ignored once the installation exists.
		again, err := identity.Bootstrap(ctx, e.store, identity.BootstrapOptions{TenantDomain: "other.example"})
		if err != nil {
			t.Fatal(err)
		}
		if again.Created || again.ClientSecret != "" {
			t.Errorf("second Bootstrap: Created %v, secret %q", again.Created, again.ClientSecret)
		}
		if again.Tenant.ID != first.Tenant.ID || again.Subscription.ID != first.Subscription.ID ||
			again.Application.ID != first.Application.ID || again.ServicePrincipal.ID != first.ServicePrincipal.ID {
			t.Errorf("second Bootstrap returned other objects: %+v", again)
		}
		checkAdmin(t)
		// The first secret still works, and its holder is the operator.
		p, err := e.svc.Authenticate(ctx, "Bearer "+e.clientToken(t, first.Tenant.ID, first.Application.AppID, first.ClientSecret))
		if err != nil {
			t.Fatal(err)
		}
		if !p.HasDirectoryRole(galleon.RoleInstallationOperator) {
			t.Errorf("admin principal = %+v", p)
		}
	})
	t.Run("NewTenantsDoNotMoveIt", func(t *testing.T) {
		e.newTenant(t, "aaa.example") // sorts before galleon.local by most keys
		again, err := identity.Bootstrap(ctx, e.store, identity.BootstrapOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if again.Tenant.ID != first.Tenant.ID || again.Application.ID != first.Application.ID {
			t.Errorf("Bootstrap moved to tenant %s", again.Tenant.ID)
		}
	})
	t.Run("LookAlikeApplicationIgnored", func(t *testing.T) {
		other := e.newTenant(t, "000-first.example")
		ga := e.newSP(t, other, "ga", false, galleon.RoleGlobalAdministrator)
		r := e.do(t, "POST", "/admin/v1/tenants/"+other+"/applications", ga.token, map[string]any{"displayName": "galleon-admin"})
		mustStatus(t, r, 201)
		mustStatus(t, e.do(t, "POST", "/admin/v1/tenants/"+other+"/servicePrincipals", ga.token, map[string]any{"appId": r.str("appId")}), 201)
		again, err := identity.Bootstrap(ctx, e.store, identity.BootstrapOptions{RotateAdminSecret: true})
		if err != nil {
			t.Fatal(err)
		}
		if again.Application.ID != first.Application.ID || again.Tenant.ID != first.Tenant.ID {
			t.Errorf("Bootstrap picked look-alike application %s in tenant %s", again.Application.ID, again.Tenant.ID)
		}
		roles, _ := e.store.ListDirectoryRoles(ctx, other, r.str("id"))
		if len(roles) != 0 {
			t.Errorf("look-alike got roles %v", roles)
		}
	})
	t.Run("RotateAdminSecret", func(t *testing.T) {
		rot, err := identity.Bootstrap(ctx, e.store, identity.BootstrapOptions{RotateAdminSecret: true})
		if err != nil {
			t.Fatal(err)
		}
		if rot.ClientSecret == "" || rot.ClientSecret == first.ClientSecret || rot.Created {
			t.Fatalf("rotated secret %q (Created %v)", rot.ClientSecret, rot.Created)
		}
		for _, s := range []string{first.ClientSecret, rot.ClientSecret} {
			e.clientToken(t, first.Tenant.ID, first.Application.AppID, s)
		}
		secrets, err := e.store.ListClientSecrets(ctx, first.Application.ID)
		if err != nil || len(secrets) != 3 { // first, look-alike test's rotation, this one
			t.Fatalf("secrets = %d (%v)", len(secrets), err)
		}
		for _, s := range secrets {
			if d := s.ExpiresAt.Sub(s.CreatedAt); d < 729*24*time.Hour || d > 731*24*time.Hour {
				t.Errorf("admin secret lifetime = %v, want two years", d)
			}
		}
	})
}

func TestBootstrapOptionsAndResume(t *testing.T) {
	ctx := context.Background()
	t.Run("Options", func(t *testing.T) {
		st := MustOpenStore(t)
		res, err := identity.Bootstrap(ctx, st, identity.BootstrapOptions{TenantDomain: "Contoso.Example", TenantName: "Contoso", SubscriptionName: "Prod"})
		if err != nil {
			t.Fatal(err)
		}
		if res.Tenant.Domain != "contoso.example" || res.Tenant.DisplayName != "Contoso" || res.Subscription.DisplayName != "Prod" {
			t.Errorf("result = %+v %+v", res.Tenant, res.Subscription)
		}
	})
	t.Run("ErrBadDomain", func(t *testing.T) {
		st := MustOpenStore(t)
		if _, err := identity.Bootstrap(ctx, st, identity.BootstrapOptions{TenantDomain: "not a domain"}); err == nil {
			t.Fatal("Bootstrap accepted an invalid domain")
		}
		if ts, _ := st.ListTenants(ctx); len(ts) != 0 {
			t.Errorf("a failed Bootstrap created %d tenants", len(ts))
		}
	})
	t.Run("ResumesAfterInterruptedFirstStart", func(t *testing.T) {
		// A first start that died right after creating the tenant.
		st := MustOpenStore(t)
		tenant := &galleon.Tenant{ID: "7f7c1a52-3b9e-4d1e-9c6a-2f0a7f1e0b11", Domain: "galleon.local", DisplayName: "Galleon", CreatedAt: time.Now().UTC()}
		if err := st.CreateTenant(ctx, tenant); err != nil {
			t.Fatal(err)
		}
		res, err := identity.Bootstrap(ctx, st, identity.BootstrapOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !res.Created || res.ClientSecret == "" || res.Tenant.ID != tenant.ID || res.Subscription == nil || res.ServicePrincipal == nil {
			t.Fatalf("resumed Bootstrap = %+v", res)
		}
		roles, _ := st.ListDirectoryRoles(ctx, tenant.ID, res.ServicePrincipal.ID)
		if len(roles) != 2 {
			t.Errorf("roles = %v", roles)
		}
	})
}
