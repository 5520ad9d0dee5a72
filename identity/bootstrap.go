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
// find the same objects (the galleon-admin application whose service
// principal is an installation operator) and create only what is missing,
// so an interrupted first start completes; they add a new secret when
// o.RotateAdminSecret is set. Options other than RotateAdminSecret matter
// only on the first start.
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

	// Find an existing administrator: an application named galleon-admin
	// whose service principal is an installation operator (preferred), or
	// any galleon-admin application. New tenants, look-alike applications
	// made by tenant administrators and clock skew never move it.
	found, err := findAdmin(ctx, st)
	if err != nil {
		return nil, err
	}
	byAge := func(t *galleon.Tenant) (time.Time, string) { return t.CreatedAt, t.ID }
	switch {
	case found.app != nil:
		res.Tenant, res.Application, res.ServicePrincipal = found.tenant, found.app, found.sp
	case len(found.tenants) > 0:
		res.Tenant = oldest(found.tenants, byAge)
	default:
		t := &galleon.Tenant{ID: uuid.NewString(), Domain: o.TenantDomain, DisplayName: o.TenantName, CreatedAt: now}
		if err := st.CreateTenant(ctx, t); err != nil {
			return nil, fmt.Errorf("create tenant %s: %w", t.Domain, err)
		}
		res.Tenant, res.Created = t, true
	}
	t := res.Tenant

	// Subscription: the oldest one the administrator owns, else the
	// tenant's oldest, else a new one.
	sub, err := adminSubscription(ctx, st, t.ID, res.ServicePrincipal)
	if err != nil {
		return nil, err
	}
	if sub == nil {
		sub = &galleon.Subscription{ID: uuid.NewString(), TenantID: t.ID, DisplayName: o.SubscriptionName,
			State: galleon.SubscriptionEnabled, CreatedAt: now}
		if err := st.CreateSubscription(ctx, sub); err != nil {
			return nil, fmt.Errorf("create subscription: %w", err)
		}
		res.Created = true
	}
	res.Subscription = sub

	// Administrator application and its secret.
	if res.Application == nil {
		app := &galleon.Application{ID: uuid.NewString(), AppID: uuid.NewString(), TenantID: t.ID,
			DisplayName: adminApplicationName, CreatedAt: now}
		if err := st.CreateApplication(ctx, app); err != nil {
			return nil, fmt.Errorf("create application %s: %w", adminApplicationName, err)
		}
		res.Application, res.Created = app, true
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
	sp := res.ServicePrincipal
	if sp == nil {
		sp = &galleon.ServicePrincipal{ID: uuid.NewString(), TenantID: t.ID, AppID: app.AppID, DisplayName: app.DisplayName, CreatedAt: now}
		if err := st.CreateServicePrincipal(ctx, sp); err != nil {
			return nil, fmt.Errorf("create service principal of %s: %w", adminApplicationName, err)
		}
		res.ServicePrincipal, res.Created = sp, true
	}

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

// adminSearch is what findAdmin found.
type adminSearch struct {
	tenants []*galleon.Tenant
	// The chosen administrator, if any; sp is nil when the application
	// has no service principal yet.
	tenant *galleon.Tenant
	app    *galleon.Application
	sp     *galleon.ServicePrincipal
}

// findAdmin looks for the administrator application in every tenant.
func findAdmin(ctx context.Context, st galleon.Store) (*adminSearch, error) {
	tenants, err := st.ListTenants(ctx)
	if err != nil {
		return nil, fmt.Errorf("list tenants: %w", err)
	}
	type candidate struct {
		tenant   *galleon.Tenant
		app      *galleon.Application
		sp       *galleon.ServicePrincipal
		operator bool
	}
	var cands []candidate
	for _, t := range tenants {
		apps, err := adminApplications(ctx, st, t.ID)
		if err != nil {
			return nil, err
		}
		for _, a := range apps {
			c := candidate{tenant: t, app: a}
			sp, err := st.GetServicePrincipal(ctx, t.ID, a.AppID)
			switch {
			case err == nil:
				c.sp = sp
				roles, err := st.ListDirectoryRoles(ctx, t.ID, sp.ID)
				if err != nil {
					return nil, fmt.Errorf("list directory roles of %s: %w", sp.ID, err)
				}
				c.operator = slices.Contains(roles, galleon.RoleInstallationOperator)
			case galleon.ErrorCode(err) != galleon.ENotFound:
				return nil, fmt.Errorf("get service principal of %s: %w", a.AppID, err)
			}
			cands = append(cands, c)
		}
	}
	res := &adminSearch{tenants: tenants}
	if len(tenants) == 0 {
		return res, nil
	}
	// A galleon-admin application that is not an operator is only trusted
	// in the first tenant (an interrupted first start); elsewhere it is a
	// look-alike some tenant administrator registered.
	first := oldest(tenants, func(t *galleon.Tenant) (time.Time, string) { return t.CreatedAt, t.ID })
	cands = slices.DeleteFunc(cands, func(c candidate) bool { return !c.operator && c.tenant.ID != first.ID })
	if len(cands) == 0 {
		return res, nil
	}
	// Operators first, then the oldest application.
	slices.SortStableFunc(cands, func(a, b candidate) int {
		switch {
		case a.operator != b.operator && a.operator:
			return -1
		case a.operator != b.operator:
			return 1
		case !a.app.CreatedAt.Equal(b.app.CreatedAt):
			return a.app.CreatedAt.Compare(b.app.CreatedAt)
		}
		return strings.Compare(a.app.ID, b.app.ID)
	})
	best := cands[0]
	res.tenant, res.app, res.sp = best.tenant, best.app, best.sp
	return res, nil
}

// adminSubscription returns the oldest subscription of the tenant that sp
// owns, else the tenant's oldest subscription, else nil.
func adminSubscription(ctx context.Context, st galleon.Store, tenantID string, sp *galleon.ServicePrincipal) (*galleon.Subscription, error) {
	subs, err := st.ListSubscriptions(ctx, tenantID)
	if err != nil {
		return nil, fmt.Errorf("list subscriptions: %w", err)
	}
	if len(subs) == 0 {
		return nil, nil
	}
	byAge := func(s *galleon.Subscription) (time.Time, string) { return s.CreatedAt, s.ID }
	if sp != nil {
		ras, err := st.ListRoleAssignments(ctx, galleon.RoleAssignmentFilter{PrincipalIDs: []string{sp.ID}, RoleDefinitionID: galleon.OwnerRoleID})
		if err != nil {
			return nil, fmt.Errorf("list role assignments of %s: %w", sp.ID, err)
		}
		var owned []*galleon.Subscription
		for _, s := range subs {
			for _, ra := range ras {
				if strings.EqualFold(ra.Scope, "/subscriptions/"+s.ID) {
					owned = append(owned, s)
					break
				}
			}
		}
		if len(owned) > 0 {
			return oldest(owned, byAge), nil
		}
	}
	return oldest(subs, byAge), nil
}

// adminApplications lists a tenant's applications named galleon-admin.
func adminApplications(ctx context.Context, st galleon.Store, tenantID string) ([]*galleon.Application, error) {
	apps, err := st.ListApplications(ctx, tenantID)
	if err != nil {
		return nil, fmt.Errorf("list applications of %s: %w", tenantID, err)
	}
	var out []*galleon.Application
	for _, a := range apps {
		if a.DisplayName == adminApplicationName {
			out = append(out, a)
		}
	}
	return out, nil
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
