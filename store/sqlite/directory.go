package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/galleonhq/galleon"
)

// CreateTenant adds a tenant, setting CreatedAt if it is zero. EConflict if
// the ID or domain is taken.
func (s *Store) CreateTenant(ctx context.Context, t *galleon.Tenant) error {
	if t.ID == "" {
		return galleon.Errorf(galleon.EInvalid, "A tenant needs an ID.")
	}
	if t.CreatedAt.IsZero() {
		t.CreatedAt = s.now()
	}
	var domainKey any
	if t.Domain != "" {
		domainKey = key(t.Domain)
	}
	_, err := s.w.ExecContext(ctx, `INSERT INTO tenants (id_key, id, domain, domain_key, display_name, created_at)
		VALUES (?, ?, ?, ?, ?, ?)`, key(t.ID), t.ID, t.Domain, domainKey, t.DisplayName, fmtTime(t.CreatedAt))
	switch {
	case isPrimaryKey(err):
		return galleon.Errorf(galleon.EConflict, "A tenant with ID '%s' already exists.", t.ID)
	case isUnique(err):
		return galleon.Errorf(galleon.EConflict, "The domain '%s' is already used by another tenant; choose another domain.", t.Domain)
	case err != nil:
		return fmt.Errorf("create tenant %s: %w", t.ID, err)
	}
	return nil
}

const tenantCols = `id, domain, display_name, created_at`

func scanTenant(sc scanner) (*galleon.Tenant, error) {
	var t galleon.Tenant
	var created sql.NullString
	if err := sc.Scan(&t.ID, &t.Domain, &t.DisplayName, &created); err != nil {
		return nil, err
	}
	var err error
	t.CreatedAt, err = parseTime(created)
	return &t, err
}

// GetTenant finds a tenant by ID or, failing that, by domain.
func (s *Store) GetTenant(ctx context.Context, idOrDomain string) (*galleon.Tenant, error) {
	k := key(idOrDomain)
	t, err := scanTenant(s.r.QueryRowContext(ctx, `SELECT `+tenantCols+` FROM tenants
		WHERE id_key = ? OR domain_key = ? ORDER BY CASE WHEN id_key = ? THEN 0 ELSE 1 END LIMIT 1`, k, k, k))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("tenant", idOrDomain)
	} else if err != nil {
		return nil, fmt.Errorf("get tenant %s: %w", idOrDomain, err)
	}
	return t, nil
}

// ListTenants lists every tenant in ID order.
func (s *Store) ListTenants(ctx context.Context) ([]*galleon.Tenant, error) {
	ts, err := queryList(ctx, s.r, scanTenant, `SELECT `+tenantCols+` FROM tenants ORDER BY id_key`)
	if err != nil {
		return nil, fmt.Errorf("list tenants: %w", err)
	}
	return ts, nil
}

// CreateSubscription adds a subscription, setting CreatedAt if it is zero.
// EConflict if the ID is taken; ENotFound if its tenant is missing.
func (s *Store) CreateSubscription(ctx context.Context, sub *galleon.Subscription) error {
	if sub.ID == "" {
		return galleon.Errorf(galleon.EInvalid, "A subscription needs an ID.")
	}
	if sub.CreatedAt.IsZero() {
		sub.CreatedAt = s.now()
	}
	_, err := s.w.ExecContext(ctx, `INSERT INTO subscriptions (id_key, id, tenant_key, tenant_id, display_name, state, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`,
		key(sub.ID), sub.ID, key(sub.TenantID), sub.TenantID, sub.DisplayName, sub.State, fmtTime(sub.CreatedAt))
	switch {
	case isUnique(err):
		return galleon.Errorf(galleon.EConflict, "A subscription with ID '%s' already exists.", sub.ID)
	case isForeignKey(err):
		return notFound("tenant", sub.TenantID)
	case err != nil:
		return fmt.Errorf("create subscription %s: %w", sub.ID, err)
	}
	return nil
}

const subscriptionCols = `id, tenant_id, display_name, state, created_at`

func scanSubscription(sc scanner) (*galleon.Subscription, error) {
	var sub galleon.Subscription
	var created sql.NullString
	if err := sc.Scan(&sub.ID, &sub.TenantID, &sub.DisplayName, &sub.State, &created); err != nil {
		return nil, err
	}
	var err error
	sub.CreatedAt, err = parseTime(created)
	return &sub, err
}

// GetSubscription finds a subscription by ID.
func (s *Store) GetSubscription(ctx context.Context, id string) (*galleon.Subscription, error) {
	sub, err := scanSubscription(s.r.QueryRowContext(ctx, `SELECT `+subscriptionCols+` FROM subscriptions WHERE id_key = ?`, key(id)))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("subscription", id)
	} else if err != nil {
		return nil, fmt.Errorf("get subscription %s: %w", id, err)
	}
	return sub, nil
}

// ListSubscriptions lists a tenant's subscriptions, or all when tenantID is
// "", in ID order.
func (s *Store) ListSubscriptions(ctx context.Context, tenantID string) ([]*galleon.Subscription, error) {
	q := `SELECT ` + subscriptionCols + ` FROM subscriptions`
	var args []any
	if tenantID != "" {
		q += ` WHERE tenant_key = ?`
		args = append(args, key(tenantID))
	}
	subs, err := queryList(ctx, s.r, scanSubscription, q+` ORDER BY id_key`, args...)
	if err != nil {
		return nil, fmt.Errorf("list subscriptions: %w", err)
	}
	return subs, nil
}

// CreateUser adds a user, setting CreatedAt if it is zero. EConflict if the
// object ID is taken (object IDs are unique across the installation) or
// the user principal name is taken in the tenant; ENotFound if the tenant
// is missing.
func (s *Store) CreateUser(ctx context.Context, u *galleon.User) error {
	if u.ID == "" || u.UserPrincipalName == "" {
		return galleon.Errorf(galleon.EInvalid, "A user needs an object ID and a user principal name.")
	}
	if u.CreatedAt.IsZero() {
		u.CreatedAt = s.now()
	}
	_, err := s.w.ExecContext(ctx, `INSERT INTO users (id_key, id, tenant_key, tenant_id, upn, upn_key, display_name, password_hash, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		key(u.ID), u.ID, key(u.TenantID), u.TenantID, u.UserPrincipalName, key(u.UserPrincipalName),
		u.DisplayName, u.PasswordHash, fmtTime(u.CreatedAt))
	switch {
	case isPrimaryKey(err):
		return galleon.Errorf(galleon.EConflict, "A user with object ID '%s' already exists.", u.ID)
	case isUnique(err):
		return galleon.Errorf(galleon.EConflict, "The user principal name '%s' is already taken in tenant '%s'; choose another.", u.UserPrincipalName, u.TenantID)
	case isForeignKey(err):
		return notFound("tenant", u.TenantID)
	case err != nil:
		return fmt.Errorf("create user %s: %w", u.ID, err)
	}
	return nil
}

const userCols = `id, tenant_id, upn, display_name, password_hash, created_at`

func scanUser(sc scanner) (*galleon.User, error) {
	var u galleon.User
	var created sql.NullString
	if err := sc.Scan(&u.ID, &u.TenantID, &u.UserPrincipalName, &u.DisplayName, &u.PasswordHash, &created); err != nil {
		return nil, err
	}
	var err error
	u.CreatedAt, err = parseTime(created)
	return &u, err
}

// GetUser finds a user of a tenant by object ID or user principal name.
func (s *Store) GetUser(ctx context.Context, tenantID, idOrUPN string) (*galleon.User, error) {
	k := key(idOrUPN)
	u, err := scanUser(s.r.QueryRowContext(ctx, `SELECT `+userCols+` FROM users
		WHERE tenant_key = ? AND (id_key = ? OR upn_key = ?)
		ORDER BY CASE WHEN id_key = ? THEN 0 ELSE 1 END LIMIT 1`, key(tenantID), k, k, k))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, galleon.Errorf(galleon.ENotFound, "User '%s' was not found in tenant '%s'.", idOrUPN, tenantID)
	} else if err != nil {
		return nil, fmt.Errorf("get user %s: %w", idOrUPN, err)
	}
	return u, nil
}

// ListUsers lists a tenant's users in object ID order.
func (s *Store) ListUsers(ctx context.Context, tenantID string) ([]*galleon.User, error) {
	us, err := queryList(ctx, s.r, scanUser, `SELECT `+userCols+` FROM users WHERE tenant_key = ? ORDER BY id_key`, key(tenantID))
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return us, nil
}

// DeleteUser removes a user and its group memberships. ENotFound if the
// user is missing.
func (s *Store) DeleteUser(ctx context.Context, tenantID, id string) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM users WHERE tenant_key = ? AND id_key = ?`, key(tenantID), key(id))
		if err != nil {
			return fmt.Errorf("delete user %s: %w", id, err)
		}
		if n, err := rowsAffected(res); err != nil {
			return err
		} else if n == 0 {
			return galleon.Errorf(galleon.ENotFound, "User '%s' was not found in tenant '%s'.", id, tenantID)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM group_members WHERE tenant_key = ? AND member_key = ?`, key(tenantID), key(id)); err != nil {
			return fmt.Errorf("delete memberships of user %s: %w", id, err)
		}
		return nil
	})
}

// CreateGroup adds a group, setting CreatedAt if it is zero. EConflict if
// the object ID is taken; ENotFound if the tenant is missing.
func (s *Store) CreateGroup(ctx context.Context, g *galleon.Group) error {
	if g.ID == "" {
		return galleon.Errorf(galleon.EInvalid, "A group needs an object ID.")
	}
	if g.CreatedAt.IsZero() {
		g.CreatedAt = s.now()
	}
	_, err := s.w.ExecContext(ctx, `INSERT INTO directory_groups (id_key, id, tenant_key, tenant_id, display_name, created_at)
		VALUES (?, ?, ?, ?, ?, ?)`, key(g.ID), g.ID, key(g.TenantID), g.TenantID, g.DisplayName, fmtTime(g.CreatedAt))
	switch {
	case isUnique(err):
		return galleon.Errorf(galleon.EConflict, "A group with object ID '%s' already exists.", g.ID)
	case isForeignKey(err):
		return notFound("tenant", g.TenantID)
	case err != nil:
		return fmt.Errorf("create group %s: %w", g.ID, err)
	}
	return nil
}

const groupCols = `id, tenant_id, display_name, created_at`

func scanGroup(sc scanner) (*galleon.Group, error) {
	var g galleon.Group
	var created sql.NullString
	if err := sc.Scan(&g.ID, &g.TenantID, &g.DisplayName, &created); err != nil {
		return nil, err
	}
	var err error
	g.CreatedAt, err = parseTime(created)
	return &g, err
}

func groupNotFound(tenantID, id string) error {
	return galleon.Errorf(galleon.ENotFound, "Group '%s' was not found in tenant '%s'.", id, tenantID)
}

// GetGroup finds a group of a tenant by object ID.
func (s *Store) GetGroup(ctx context.Context, tenantID, id string) (*galleon.Group, error) {
	g, err := scanGroup(s.r.QueryRowContext(ctx, `SELECT `+groupCols+` FROM directory_groups WHERE tenant_key = ? AND id_key = ?`,
		key(tenantID), key(id)))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, groupNotFound(tenantID, id)
	} else if err != nil {
		return nil, fmt.Errorf("get group %s: %w", id, err)
	}
	return g, nil
}

// ListGroups lists a tenant's groups in object ID order.
func (s *Store) ListGroups(ctx context.Context, tenantID string) ([]*galleon.Group, error) {
	gs, err := queryList(ctx, s.r, scanGroup, `SELECT `+groupCols+` FROM directory_groups WHERE tenant_key = ? ORDER BY id_key`, key(tenantID))
	if err != nil {
		return nil, fmt.Errorf("list groups: %w", err)
	}
	return gs, nil
}

// DeleteGroup removes a group, its members and its own memberships in other
// groups. ENotFound if the group is missing.
func (s *Store) DeleteGroup(ctx context.Context, tenantID, id string) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM directory_groups WHERE tenant_key = ? AND id_key = ?`, key(tenantID), key(id))
		if err != nil {
			return fmt.Errorf("delete group %s: %w", id, err)
		}
		if n, err := rowsAffected(res); err != nil {
			return err
		} else if n == 0 {
			return groupNotFound(tenantID, id)
		}
		// Its own members go by ON DELETE CASCADE; its memberships here.
		if _, err := tx.ExecContext(ctx, `DELETE FROM group_members WHERE group_key = ? OR (tenant_key = ? AND member_key = ?)`,
			key(id), key(tenantID), key(id)); err != nil {
			return fmt.Errorf("delete memberships of group %s: %w", id, err)
		}
		return nil
	})
}

// groupExists returns ENotFound unless the group is in the tenant.
func groupExists(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, tenantID, groupID string) error {
	var one int
	err := q.QueryRowContext(ctx, `SELECT 1 FROM directory_groups WHERE tenant_key = ? AND id_key = ?`, key(tenantID), key(groupID)).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return groupNotFound(tenantID, groupID)
	} else if err != nil {
		return fmt.Errorf("find group %s: %w", groupID, err)
	}
	return nil
}

// AddGroupMember makes memberID a direct member of the group; adding an
// existing member is not an error. ENotFound if the group is missing. The
// member is not checked: it may be a user, group or service principal.
func (s *Store) AddGroupMember(ctx context.Context, tenantID, groupID, memberID string) error {
	if memberID == "" {
		return galleon.Errorf(galleon.EInvalid, "A group member needs an object ID.")
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		if err := groupExists(ctx, tx, tenantID, groupID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO group_members (group_key, tenant_key, member_key, member_id)
			VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`, key(groupID), key(tenantID), key(memberID), memberID); err != nil {
			return fmt.Errorf("add member %s to group %s: %w", memberID, groupID, err)
		}
		return nil
	})
}

// RemoveGroupMember removes a direct membership. ENotFound if absent.
func (s *Store) RemoveGroupMember(ctx context.Context, tenantID, groupID, memberID string) error {
	res, err := s.w.ExecContext(ctx, `DELETE FROM group_members WHERE tenant_key = ? AND group_key = ? AND member_key = ?`,
		key(tenantID), key(groupID), key(memberID))
	if err != nil {
		return fmt.Errorf("remove member %s from group %s: %w", memberID, groupID, err)
	}
	if n, err := rowsAffected(res); err != nil {
		return err
	} else if n == 0 {
		return galleon.Errorf(galleon.ENotFound, "'%s' is not a member of group '%s' in tenant '%s'.", memberID, groupID, tenantID)
	}
	return nil
}

// ListGroupMembers returns the object IDs of the group's direct members, in
// ID order. ENotFound if the group is missing.
func (s *Store) ListGroupMembers(ctx context.Context, tenantID, groupID string) ([]string, error) {
	if err := groupExists(ctx, s.r, tenantID, groupID); err != nil {
		return nil, err
	}
	ids, err := queryList(ctx, s.r, scanString, `SELECT member_id FROM group_members
		WHERE tenant_key = ? AND group_key = ? ORDER BY member_key`, key(tenantID), key(groupID))
	if err != nil {
		return nil, fmt.Errorf("list members of group %s: %w", groupID, err)
	}
	return ids, nil
}

// ListMemberOf returns the IDs of the groups memberID directly belongs to,
// in ID order.
func (s *Store) ListMemberOf(ctx context.Context, tenantID, memberID string) ([]string, error) {
	ids, err := queryList(ctx, s.r, scanString, `SELECT g.id FROM group_members m
		JOIN directory_groups g ON g.id_key = m.group_key
		WHERE m.tenant_key = ? AND m.member_key = ? ORDER BY g.id_key`, key(tenantID), key(memberID))
	if err != nil {
		return nil, fmt.Errorf("list groups of %s: %w", memberID, err)
	}
	return ids, nil
}

func scanString(sc scanner) (string, error) {
	var v string
	err := sc.Scan(&v)
	return v, err
}

// CreateApplication adds an app registration, setting CreatedAt if it is
// zero. EConflict if the object ID or app ID is taken; ENotFound if the
// tenant is missing.
func (s *Store) CreateApplication(ctx context.Context, a *galleon.Application) error {
	if a.ID == "" || a.AppID == "" {
		return galleon.Errorf(galleon.EInvalid, "An application needs an object ID and an app ID.")
	}
	if a.CreatedAt.IsZero() {
		a.CreatedAt = s.now()
	}
	_, err := s.w.ExecContext(ctx, `INSERT INTO applications (id_key, id, app_id_key, app_id, tenant_key, tenant_id, display_name, multi_tenant, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		key(a.ID), a.ID, key(a.AppID), a.AppID, key(a.TenantID), a.TenantID, a.DisplayName, a.MultiTenant, fmtTime(a.CreatedAt))
	switch {
	case isPrimaryKey(err):
		return galleon.Errorf(galleon.EConflict, "An application with object ID '%s' already exists.", a.ID)
	case isUnique(err):
		return galleon.Errorf(galleon.EConflict, "An application with app ID '%s' already exists.", a.AppID)
	case isForeignKey(err):
		return notFound("tenant", a.TenantID)
	case err != nil:
		return fmt.Errorf("create application %s: %w", a.ID, err)
	}
	return nil
}

const applicationCols = `id, app_id, tenant_id, display_name, multi_tenant, created_at`

func scanApplication(sc scanner) (*galleon.Application, error) {
	var a galleon.Application
	var created sql.NullString
	if err := sc.Scan(&a.ID, &a.AppID, &a.TenantID, &a.DisplayName, &a.MultiTenant, &created); err != nil {
		return nil, err
	}
	var err error
	a.CreatedAt, err = parseTime(created)
	return &a, err
}

// GetApplication finds an application by object ID or app ID, in any tenant.
func (s *Store) GetApplication(ctx context.Context, idOrAppID string) (*galleon.Application, error) {
	k := key(idOrAppID)
	a, err := scanApplication(s.r.QueryRowContext(ctx, `SELECT `+applicationCols+` FROM applications
		WHERE id_key = ? OR app_id_key = ? ORDER BY CASE WHEN id_key = ? THEN 0 ELSE 1 END LIMIT 1`, k, k, k))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("application", idOrAppID)
	} else if err != nil {
		return nil, fmt.Errorf("get application %s: %w", idOrAppID, err)
	}
	return a, nil
}

// ListApplications lists the applications registered in a tenant, in
// object ID order.
func (s *Store) ListApplications(ctx context.Context, tenantID string) ([]*galleon.Application, error) {
	as, err := queryList(ctx, s.r, scanApplication, `SELECT `+applicationCols+` FROM applications
		WHERE tenant_key = ? ORDER BY id_key`, key(tenantID))
	if err != nil {
		return nil, fmt.Errorf("list applications: %w", err)
	}
	return as, nil
}

// AddClientSecret stores a secret's hash for an application, setting
// CreatedAt if it is zero. ENotFound if the application (by object ID) is
// missing; EConflict if it already has a secret with that key ID.
func (s *Store) AddClientSecret(ctx context.Context, cs *galleon.ClientSecret) error {
	if cs.KeyID == "" {
		return galleon.Errorf(galleon.EInvalid, "A client secret needs a key ID.")
	}
	if cs.CreatedAt.IsZero() {
		cs.CreatedAt = s.now()
	}
	_, err := s.w.ExecContext(ctx, `INSERT INTO client_secrets (application_key, key_id_key, key_id, application_id, display_name, hint, hash, expires_at, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		key(cs.ApplicationID), key(cs.KeyID), cs.KeyID, cs.ApplicationID, cs.DisplayName, cs.Hint, cs.Hash,
		nullTime(cs.ExpiresAt), fmtTime(cs.CreatedAt))
	switch {
	case isUnique(err):
		return galleon.Errorf(galleon.EConflict, "Application '%s' already has a client secret with key ID '%s'.", cs.ApplicationID, cs.KeyID)
	case isForeignKey(err):
		return notFound("application", cs.ApplicationID)
	case err != nil:
		return fmt.Errorf("add client secret %s: %w", cs.KeyID, err)
	}
	return nil
}

// ListClientSecrets lists an application's secrets (hashes included),
// oldest first.
func (s *Store) ListClientSecrets(ctx context.Context, applicationID string) ([]*galleon.ClientSecret, error) {
	cs, err := queryList(ctx, s.r, func(sc scanner) (*galleon.ClientSecret, error) {
		var c galleon.ClientSecret
		var expires, created sql.NullString
		if err := sc.Scan(&c.KeyID, &c.ApplicationID, &c.DisplayName, &c.Hint, &c.Hash, &expires, &created); err != nil {
			return nil, err
		}
		var err1, err2 error
		c.ExpiresAt, err1 = parseTime(expires)
		c.CreatedAt, err2 = parseTime(created)
		return &c, errors.Join(err1, err2)
	}, `SELECT key_id, application_id, display_name, hint, hash, expires_at, created_at FROM client_secrets
		WHERE application_key = ? ORDER BY created_at, key_id_key`, key(applicationID))
	if err != nil {
		return nil, fmt.Errorf("list client secrets of %s: %w", applicationID, err)
	}
	return cs, nil
}

// DeleteClientSecret removes a secret. ENotFound if absent.
func (s *Store) DeleteClientSecret(ctx context.Context, applicationID, keyID string) error {
	res, err := s.w.ExecContext(ctx, `DELETE FROM client_secrets WHERE application_key = ? AND key_id_key = ?`,
		key(applicationID), key(keyID))
	if err != nil {
		return fmt.Errorf("delete client secret %s: %w", keyID, err)
	}
	if n, err := rowsAffected(res); err != nil {
		return err
	} else if n == 0 {
		return galleon.Errorf(galleon.ENotFound, "Client secret '%s' of application '%s' was not found.", keyID, applicationID)
	}
	return nil
}

// CreateServicePrincipal adds a service principal, setting CreatedAt if it
// is zero. EConflict if the object ID is taken or the app already has one
// in that tenant; ENotFound if the tenant is missing.
func (s *Store) CreateServicePrincipal(ctx context.Context, sp *galleon.ServicePrincipal) error {
	if sp.ID == "" || sp.AppID == "" {
		return galleon.Errorf(galleon.EInvalid, "A service principal needs an object ID and an app ID.")
	}
	if sp.CreatedAt.IsZero() {
		sp.CreatedAt = s.now()
	}
	_, err := s.w.ExecContext(ctx, `INSERT INTO service_principals (id_key, id, tenant_key, tenant_id, app_id_key, app_id, display_name, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		key(sp.ID), sp.ID, key(sp.TenantID), sp.TenantID, key(sp.AppID), sp.AppID, sp.DisplayName, fmtTime(sp.CreatedAt))
	switch {
	case isPrimaryKey(err):
		return galleon.Errorf(galleon.EConflict, "A service principal with object ID '%s' already exists.", sp.ID)
	case isUnique(err):
		return galleon.Errorf(galleon.EConflict, "Application '%s' already has a service principal in tenant '%s'.", sp.AppID, sp.TenantID)
	case isForeignKey(err):
		return notFound("tenant", sp.TenantID)
	case err != nil:
		return fmt.Errorf("create service principal %s: %w", sp.ID, err)
	}
	return nil
}

const servicePrincipalCols = `id, tenant_id, app_id, display_name, created_at`

func scanServicePrincipal(sc scanner) (*galleon.ServicePrincipal, error) {
	var sp galleon.ServicePrincipal
	var created sql.NullString
	if err := sc.Scan(&sp.ID, &sp.TenantID, &sp.AppID, &sp.DisplayName, &created); err != nil {
		return nil, err
	}
	var err error
	sp.CreatedAt, err = parseTime(created)
	return &sp, err
}

// GetServicePrincipal finds a service principal of a tenant by object ID
// or app ID.
func (s *Store) GetServicePrincipal(ctx context.Context, tenantID, idOrAppID string) (*galleon.ServicePrincipal, error) {
	k := key(idOrAppID)
	sp, err := scanServicePrincipal(s.r.QueryRowContext(ctx, `SELECT `+servicePrincipalCols+` FROM service_principals
		WHERE tenant_key = ? AND (id_key = ? OR app_id_key = ?)
		ORDER BY CASE WHEN id_key = ? THEN 0 ELSE 1 END LIMIT 1`, key(tenantID), k, k, k))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, galleon.Errorf(galleon.ENotFound, "Service principal '%s' was not found in tenant '%s'.", idOrAppID, tenantID)
	} else if err != nil {
		return nil, fmt.Errorf("get service principal %s: %w", idOrAppID, err)
	}
	return sp, nil
}

// ListServicePrincipals lists a tenant's service principals in object ID order.
func (s *Store) ListServicePrincipals(ctx context.Context, tenantID string) ([]*galleon.ServicePrincipal, error) {
	sps, err := queryList(ctx, s.r, scanServicePrincipal, `SELECT `+servicePrincipalCols+` FROM service_principals
		WHERE tenant_key = ? ORDER BY id_key`, key(tenantID))
	if err != nil {
		return nil, fmt.Errorf("list service principals: %w", err)
	}
	return sps, nil
}

// PutDirectoryRole grants a directory role; granting it twice is fine.
// ENotFound if the tenant is missing.
func (s *Store) PutDirectoryRole(ctx context.Context, a *galleon.DirectoryRoleAssignment) error {
	if a.PrincipalID == "" || a.Role == "" {
		return galleon.Errorf(galleon.EInvalid, "A directory role assignment needs a principal ID and a role.")
	}
	_, err := s.w.ExecContext(ctx, `INSERT INTO directory_roles (tenant_key, principal_key, principal_id, role)
		VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`, key(a.TenantID), key(a.PrincipalID), a.PrincipalID, a.Role)
	switch {
	case isForeignKey(err):
		return notFound("tenant", a.TenantID)
	case err != nil:
		return fmt.Errorf("put directory role %s for %s: %w", a.Role, a.PrincipalID, err)
	}
	return nil
}

// ListDirectoryRoles lists the roles principalID holds in tenantID, sorted.
func (s *Store) ListDirectoryRoles(ctx context.Context, tenantID, principalID string) ([]string, error) {
	roles, err := queryList(ctx, s.r, scanString, `SELECT role FROM directory_roles
		WHERE tenant_key = ? AND principal_key = ? ORDER BY role`, key(tenantID), key(principalID))
	if err != nil {
		return nil, fmt.Errorf("list directory roles of %s: %w", principalID, err)
	}
	return roles, nil
}

// PutSigningKey stores a token-signing key, inserting it or replacing the
// key with the same KeyID. A zero CreatedAt becomes the stored one (on
// update) or now (on insert).
func (s *Store) PutSigningKey(ctx context.Context, k *galleon.SigningKey) error {
	if k.KeyID == "" || len(k.PrivatePEM) == 0 {
		return galleon.Errorf(galleon.EInvalid, "A signing key needs a key ID and a private key.")
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		if k.CreatedAt.IsZero() {
			var created sql.NullString
			err := tx.QueryRowContext(ctx, `SELECT created_at FROM signing_keys WHERE key_id = ?`, k.KeyID).Scan(&created)
			switch {
			case errors.Is(err, sql.ErrNoRows):
				k.CreatedAt = s.now()
			case err != nil:
				return fmt.Errorf("find signing key %s: %w", k.KeyID, err)
			default:
				if k.CreatedAt, err = parseTime(created); err != nil {
					return err
				}
			}
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO signing_keys (key_id, private_pem, created_at, retired_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (key_id) DO UPDATE SET private_pem = excluded.private_pem,
				created_at = excluded.created_at, retired_at = excluded.retired_at`,
			k.KeyID, k.PrivatePEM, fmtTime(k.CreatedAt), nullTime(k.RetiredAt))
		if err != nil {
			return fmt.Errorf("put signing key %s: %w", k.KeyID, err)
		}
		return nil
	})
}

// ListSigningKeys returns every stored key, newest first.
func (s *Store) ListSigningKeys(ctx context.Context) ([]*galleon.SigningKey, error) {
	ks, err := queryList(ctx, s.r, func(sc scanner) (*galleon.SigningKey, error) {
		var k galleon.SigningKey
		var created, retired sql.NullString
		if err := sc.Scan(&k.KeyID, &k.PrivatePEM, &created, &retired); err != nil {
			return nil, err
		}
		var err1, err2 error
		k.CreatedAt, err1 = parseTime(created)
		k.RetiredAt, err2 = parseTime(retired)
		return &k, errors.Join(err1, err2)
	}, `SELECT key_id, private_pem, created_at, retired_at FROM signing_keys ORDER BY created_at DESC, key_id DESC`)
	if err != nil {
		return nil, fmt.Errorf("list signing keys: %w", err)
	}
	return ks, nil
}
