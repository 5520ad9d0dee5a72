package identity

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/galleonhq/galleon"
	"github.com/google/uuid"
)

// BootstrapOptions configure the first start.
type BootstrapOptions struct {
	// TenantDomain is the first tenant's domain (default "galleon.local").
	TenantDomain string
	// TenantName is its display name (default "Galleon").
	TenantName string
	// SubscriptionName is the first subscription's display name (default
	// "Galleon Subscription").
	SubscriptionName string
	// RotateAdminSecret adds a new client secret to the administrator
	// application and returns it, for an operator who lost the old one.
	RotateAdminSecret bool
}

// BootstrapResult is the installation's first tenant, subscription and
// administrator identity.
type BootstrapResult struct {
	Tenant           *galleon.Tenant
	Subscription     *galleon.Subscription
	Application      *galleon.Application
	ServicePrincipal *galleon.ServicePrincipal
	// ClientSecret is the administrator application's secret; set only
	// when this call made a new one.
	ClientSecret string
	// Created reports whether this call set anything up (everything on the
	// first start; the missing parts after an interrupted one). A rotated
	// secret alone does not count.
	Created bool
}

// Bootstrap sets up a new installation and is safe to call on every start.
//
// On an empty store it creates a tenant, a subscription, the single-tenant
// application "galleon-admin" with a two-year client secret, its service
// principal, an Owner role assignment for it on the subscription, and the
// GlobalAdministrator and InstallationOperator directory roles. Later calls
// find the same objects in the oldest tenant and create only what is
// missing (so an interrupted first start completes), adding a new secret
// when o.RotateAdminSecret is set.
func Bootstrap(ctx context.Context, st galleon.Store, o BootstrapOptions) (*BootstrapResult, error) {
	if o.TenantDomain == "" {
		o.TenantDomain = defaultTenantDomain
	}
	if o.TenantName == "" {
		o.TenantName = defaultTenantName
	}
	if o.SubscriptionName == "" {
		o.SubscriptionName = defaultSubscriptionName
	}
	o.TenantDomain = strings.ToLower(o.TenantDomain)
	if err := validDomain(o.TenantDomain); err != nil {
		return nil, fmt.Errorf("bootstrap tenant domain: %w", err)
	}
	now := time.Now().UTC()
	res := &BootstrapResult{}

	// Tenant: the oldest one, or a new one.
	tenants, err := st.ListTenants(ctx)
	if err != nil {
		return nil, fmt.Errorf("list tenants: %w", err)
	}
	if len(tenants) == 0 {
		t := &galleon.Tenant{ID: uuid.NewString(), Domain: o.TenantDomain, DisplayName: o.TenantName, CreatedAt: now}
		if err := st.CreateTenant(ctx, t); err != nil {
			return nil, fmt.Errorf("create tenant %s: %w", t.Domain, err)
		}
		res.Tenant, res.Created = t, true
	} else {
		res.Tenant = oldest(tenants, func(t *galleon.Tenant) (time.Time, string) { return t.CreatedAt, t.ID })
	}
	t := res.Tenant

	// Subscription: the tenant's oldest, or a new one.
	subs, err := st.ListSubscriptions(ctx, t.ID)
	if err != nil {
		return nil, fmt.Errorf("list subscriptions: %w", err)
	}
	if len(subs) == 0 {
		sub := &galleon.Subscription{ID: uuid.NewString(), TenantID: t.ID, DisplayName: o.SubscriptionName,
			State: galleon.SubscriptionEnabled, CreatedAt: now}
		if err := st.CreateSubscription(ctx, sub); err != nil {
			return nil, fmt.Errorf("create subscription: %w", err)
		}
		res.Subscription, res.Created = sub, true
	} else {
		res.Subscription = oldest(subs, func(s *galleon.Subscription) (time.Time, string) { return s.CreatedAt, s.ID })
	}

	// Administrator application and its secret.
	apps, err := st.ListApplications(ctx, t.ID)
	if err != nil {
		return nil, fmt.Errorf("list applications: %w", err)
	}
	var admins []*galleon.Application
	for _, a := range apps {
		if a.DisplayName == adminApplicationName {
			admins = append(admins, a)
		}
	}
	if len(admins) == 0 {
		app := &galleon.Application{ID: uuid.NewString(), AppID: uuid.NewString(), TenantID: t.ID,
			DisplayName: adminApplicationName, CreatedAt: now}
		if err := st.CreateApplication(ctx, app); err != nil {
			return nil, fmt.Errorf("create application %s: %w", adminApplicationName, err)
		}
		res.Application, res.Created = app, true
	} else {
		res.Application = oldest(admins, func(a *galleon.Application) (time.Time, string) { return a.CreatedAt, a.ID })
	}
	app := res.Application
	secrets, err := st.ListClientSecrets(ctx, app.ID)
	if err != nil {
		return nil, fmt.Errorf("list secrets of %s: %w", adminApplicationName, err)
	}
	if len(secrets) == 0 || o.RotateAdminSecret {
		cs, text, err := newSecretFor(app, "galleon bootstrap", now, adminSecretLifetime)
		if err != nil {
			return nil, err
		}
		if err := st.AddClientSecret(ctx, cs); err != nil {
			return nil, fmt.Errorf("add secret to %s: %w", adminApplicationName, err)
		}
		res.ClientSecret = text
		res.Created = res.Created || len(secrets) == 0
	}

	// Its service principal.
	sp, err := st.GetServicePrincipal(ctx, t.ID, app.AppID)
	switch {
	case galleon.ErrorCode(err) == galleon.ENotFound:
		sp = &galleon.ServicePrincipal{ID: uuid.NewString(), TenantID: t.ID, AppID: app.AppID, DisplayName: app.DisplayName, CreatedAt: now}
		if err := st.CreateServicePrincipal(ctx, sp); err != nil {
			return nil, fmt.Errorf("create service principal of %s: %w", adminApplicationName, err)
		}
		res.Created = true
	case err != nil:
		return nil, fmt.Errorf("get service principal of %s: %w", adminApplicationName, err)
	}
	res.ServicePrincipal = sp

	// Owner on the subscription.
	scope := "/subscriptions/" + res.Subscription.ID
	ras, err := st.ListRoleAssignments(ctx, galleon.RoleAssignmentFilter{Scope: scope, PrincipalIDs: []string{sp.ID}, RoleDefinitionID: galleon.OwnerRoleID})
	if err != nil {
		return nil, fmt.Errorf("list role assignments at %s: %w", scope, err)
	}
	if len(ras) == 0 {
		ra := &galleon.RoleAssignment{Name: uuid.NewString(), Scope: scope, RoleDefinitionID: galleon.OwnerRoleID,
			PrincipalID: sp.ID, PrincipalType: galleon.PrincipalServicePrincipal,
			Description: "Galleon administrator (bootstrap)", CreatedAt: now, UpdatedAt: now, CreatedBy: sp.ID, UpdatedBy: sp.ID}
		// EConflict means another node just made the same assignment.
		if err := st.CreateRoleAssignment(ctx, ra); err != nil && galleon.ErrorCode(err) != galleon.EConflict {
			return nil, fmt.Errorf("assign Owner at %s: %w", scope, err)
		}
		res.Created = true
	}

	// Directory roles (granting twice is harmless).
	held, err := st.ListDirectoryRoles(ctx, t.ID, sp.ID)
	if err != nil {
		return nil, fmt.Errorf("list directory roles: %w", err)
	}
	for _, role := range []string{galleon.RoleGlobalAdministrator, galleon.RoleInstallationOperator} {
		if slices.Contains(held, role) {
			continue
		}
		if err := st.PutDirectoryRole(ctx, &galleon.DirectoryRoleAssignment{TenantID: t.ID, PrincipalID: sp.ID, Role: role}); err != nil {
			return nil, fmt.Errorf("grant %s: %w", role, err)
		}
		res.Created = true
	}
	return res, nil
}

// oldest returns the item with the earliest creation time, ties broken by ID
// so every node picks the same one.
func oldest[T any](items []T, key func(T) (time.Time, string)) T {
	sorted := append([]T(nil), items...)
	sort.SliceStable(sorted, func(i, j int) bool {
		ti, ii := key(sorted[i])
		tj, ij := key(sorted[j])
		if !ti.Equal(tj) {
			return ti.Before(tj)
		}
		return ii < ij
	})
	return sorted[0]
}
