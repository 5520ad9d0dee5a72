package identity

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/galleonhq/galleon"
	"github.com/google/uuid"
)

// access is what an admin operation needs in a tenant.
type access int

const (
	accessRead     access = iota // any principal of the tenant
	accessWrite                  // the tenant's Global Administrators
	accessOperator               // installation operators only
)

// Admin API actions recorded in the audit trail.
const (
	actionTenantWrite           = "Galleon.Directory/tenants/write"
	actionSubscriptionWrite     = "Galleon.Directory/subscriptions/write"
	actionUserWrite             = "Galleon.Directory/users/write"
	actionUserDelete            = "Galleon.Directory/users/delete"
	actionGroupWrite            = "Galleon.Directory/groups/write"
	actionGroupDelete           = "Galleon.Directory/groups/delete"
	actionGroupMemberWrite      = "Galleon.Directory/groups/members/write"
	actionGroupMemberDelete     = "Galleon.Directory/groups/members/delete"
	actionApplicationWrite      = "Galleon.Directory/applications/write"
	actionSecretWrite           = "Galleon.Directory/applications/secrets/write"
	actionSecretDelete          = "Galleon.Directory/applications/secrets/delete"
	actionServicePrincipalWrite = "Galleon.Directory/servicePrincipals/write"
	actionDirectoryRoleWrite    = "Galleon.Directory/directoryRoles/write"
	actionSigningKeyRotate      = "Galleon.Directory/signingKeys/rotate/action"
)

const (
	minPasswordLen          = 12
	maxPasswordLen          = 256
	maxDisplayNameLen       = 256
	defaultSecretDays       = 365
	maxSecretDays           = 730
	adminSecretLifetime     = 2 * 365 * 24 * time.Hour
	maxSubscriptionName     = 128
	adminApplicationName    = "galleon-admin"
	defaultTenantDomain     = "galleon.local"
	defaultTenantName       = "Galleon"
	defaultSubscriptionName = "Galleon Subscription"
)

// AdminHandler serves Galleon's native directory API under /admin/v1/ (JSON
// in and out, bearer-token authenticated). {t} is a tenant ID or domain:
//
//	GET  /admin/v1/me
//	GET, POST /admin/v1/tenants;  GET /admin/v1/tenants/{t}
//	GET, POST /admin/v1/tenants/{t}/subscriptions
//	GET, POST /admin/v1/tenants/{t}/users;  GET, DELETE .../users/{id}
//	GET, POST /admin/v1/tenants/{t}/groups;  GET, DELETE .../groups/{id}
//	GET, POST .../groups/{id}/members;  DELETE .../groups/{id}/members/{memberId}
//	GET, POST /admin/v1/tenants/{t}/applications;  GET .../applications/{id}
//	GET, POST .../applications/{id}/secrets;  DELETE .../applications/{id}/secrets/{keyId}
//	GET, POST /admin/v1/tenants/{t}/servicePrincipals;  GET .../servicePrincipals/{id}
//	GET, POST /admin/v1/tenants/{t}/directoryRoles  (GET takes ?principalId=)
//	POST /admin/v1/signingKeys/rotate
//
// Installation operators may do everything; a tenant's Global
// Administrators may write its directory; its other principals may read it.
func (s *Service) AdminHandler() http.Handler {
	const t = "admin/v1/tenants/{t}"
	routes := []route{
		{http.MethodGet, "admin/v1/me", s.adminMe},
		{http.MethodGet, "admin/v1/tenants", s.adminListTenants},
		{http.MethodPost, "admin/v1/tenants", s.adminCreateTenant},
		{http.MethodGet, t, s.adminGetTenant},
		{http.MethodGet, t + "/subscriptions", s.adminListSubscriptions},
		{http.MethodPost, t + "/subscriptions", s.adminCreateSubscription},
		{http.MethodGet, t + "/users", s.adminListUsers},
		{http.MethodPost, t + "/users", s.adminCreateUser},
		{http.MethodGet, t + "/users/{id}", s.adminGetUser},
		{http.MethodDelete, t + "/users/{id}", s.adminDeleteUser},
		{http.MethodGet, t + "/groups", s.adminListGroups},
		{http.MethodPost, t + "/groups", s.adminCreateGroup},
		{http.MethodGet, t + "/groups/{id}", s.adminGetGroup},
		{http.MethodDelete, t + "/groups/{id}", s.adminDeleteGroup},
		{http.MethodGet, t + "/groups/{id}/members", s.adminListMembers},
		{http.MethodPost, t + "/groups/{id}/members", s.adminAddMember},
		{http.MethodDelete, t + "/groups/{id}/members/{m}", s.adminRemoveMember},
		{http.MethodGet, t + "/applications", s.adminListApplications},
		{http.MethodPost, t + "/applications", s.adminCreateApplication},
		{http.MethodGet, t + "/applications/{id}", s.adminGetApplication},
		{http.MethodGet, t + "/applications/{id}/secrets", s.adminListSecrets},
		{http.MethodPost, t + "/applications/{id}/secrets", s.adminAddSecret},
		{http.MethodDelete, t + "/applications/{id}/secrets/{k}", s.adminDeleteSecret},
		{http.MethodGet, t + "/servicePrincipals", s.adminListServicePrincipals},
		{http.MethodPost, t + "/servicePrincipals", s.adminCreateServicePrincipal},
		{http.MethodGet, t + "/servicePrincipals/{id}", s.adminGetServicePrincipal},
		{http.MethodGet, t + "/directoryRoles", s.adminListDirectoryRoles},
		{http.MethodPost, t + "/directoryRoles", s.adminPutDirectoryRole},
		{http.MethodPost, "admin/v1/signingKeys/rotate", s.adminRotateKey},
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.serveAPI(w, r, routes, false)
	})
}

func isOperator(p *galleon.Principal) bool {
	return p.HasDirectoryRole(galleon.RoleInstallationOperator)
}

// tenant resolves {t} and checks that the caller has the access needed to
// "what" in it. Non-operators get 403 for unknown tenants too, so the API
// does not tell them which tenants exist.
func (s *Service) tenant(ctx context.Context, p *galleon.Principal, ident string, need access, what string) (*galleon.Tenant, error) {
	t, err := s.Store.GetTenant(ctx, ident)
	switch {
	case galleon.ErrorCode(err) == galleon.ENotFound && isOperator(p):
		return nil, galleon.ReasonErrorf(galleon.ENotFound, "TenantNotFound",
			"Tenant '%s' was not found. List tenants with GET /admin/v1/tenants.", truncate(ident))
	case galleon.ErrorCode(err) == galleon.ENotFound:
		return nil, forbidden(p, truncate(ident), need, what)
	case err != nil:
		return nil, fmt.Errorf("get tenant %q: %w", ident, err)
	}
	if isOperator(p) {
		return t, nil
	}
	own := strings.EqualFold(p.TenantID, t.ID)
	switch {
	case need == accessRead && own:
		return t, nil
	case need == accessWrite && own && p.HasDirectoryRole(galleon.RoleGlobalAdministrator):
		return t, nil
	}
	return nil, forbidden(p, t.ID, need, what)
}

// forbidden explains who lacks which role to do what where.
func forbidden(p *galleon.Principal, tenant string, need access, what string) error {
	switch need {
	case accessRead:
		return galleon.Errorf(galleon.EForbidden,
			"The principal %s of tenant '%s' may not %s in tenant '%s': only principals of that tenant and holders of the %s directory role may read its directory.",
			p, p.TenantID, what, tenant, galleon.RoleInstallationOperator)
	case accessWrite:
		return galleon.Errorf(galleon.EForbidden,
			"The principal %s of tenant '%s' may not %s in tenant '%s': that needs the %s directory role in tenant '%s' or the %s directory role.",
			p, p.TenantID, what, tenant, galleon.RoleGlobalAdministrator, tenant, galleon.RoleInstallationOperator)
	}
	return galleon.Errorf(galleon.EForbidden,
		"The principal %s of tenant '%s' may not %s: that needs the %s directory role.",
		p, p.TenantID, what, galleon.RoleInstallationOperator)
}

// tenantPath is the admin API path of a tenant, used as audit resource ID.
func tenantPath(tenantID string) string { return "/admin/v1/tenants/" + tenantID }

// principalJSON is the caller as /admin/v1/me shows it.
type principalJSON struct {
	ObjectID       string   `json:"objectId"`
	TenantID       string   `json:"tenantId"`
	Type           string   `json:"principalType"`
	AppID          string   `json:"appId,omitempty"`
	DisplayName    string   `json:"displayName"`
	GroupIDs       []string `json:"groupIds"`
	DirectoryRoles []string `json:"directoryRoles"`
}

func (s *Service) adminMe(a *apiRequest) (int, any, error) {
	p := a.p
	out := principalJSON{ObjectID: p.ObjectID, TenantID: p.TenantID, Type: p.Type, AppID: p.AppID, DisplayName: p.DisplayName,
		GroupIDs: p.GroupIDs, DirectoryRoles: p.DirectoryRoles}
	if out.GroupIDs == nil {
		out.GroupIDs = []string{}
	}
	if out.DirectoryRoles == nil {
		out.DirectoryRoles = []string{}
	}
	return http.StatusOK, out, nil
}

// --- tenants ---

func (s *Service) adminListTenants(a *apiRequest) (int, any, error) {
	ctx := a.r.Context()
	if isOperator(a.p) {
		ts, err := s.Store.ListTenants(ctx)
		if err != nil {
			return 0, nil, fmt.Errorf("list tenants: %w", err)
		}
		return http.StatusOK, list(ts), nil
	}
	t, err := s.Store.GetTenant(ctx, a.p.TenantID)
	if err != nil {
		return 0, nil, fmt.Errorf("get tenant %q: %w", a.p.TenantID, err)
	}
	return http.StatusOK, list([]*galleon.Tenant{t}), nil
}

// domainRE is a DNS name of at least two labels whose last label starts with
// a letter, so a domain can never be mistaken for a GUID, an IP address or a
// path segment such as "v1.0".
var domainRE = regexp.MustCompile(`^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$`)

func validDomain(d string) error {
	if len(d) > 253 || !domainRE.MatchString(d) {
		return invalidParam("domain",
			"The domain '%s' is not valid. Use a lower-case DNS name of at least two labels, such as 'contoso.example'.", truncate(d))
	}
	return nil
}

func validDisplayName(field, v string, required bool) error {
	switch {
	case required && strings.TrimSpace(v) == "":
		return invalidParam(field, "The field '%s' is required.", field)
	case utf8.RuneCountInString(v) > maxDisplayNameLen:
		return invalidParam(field, "The field '%s' is longer than %d characters.", field, maxDisplayNameLen)
	}
	return nil
}

func (s *Service) adminCreateTenant(a *apiRequest) (int, any, error) {
	a.audit("/admin/v1/tenants", actionTenantWrite)
	if !isOperator(a.p) {
		return 0, nil, forbidden(a.p, "", accessOperator, "create tenants")
	}
	var in struct {
		Domain      string `json:"domain"`
		DisplayName string `json:"displayName"`
	}
	if err := decodeBody(a.w, a.r, &in, true); err != nil {
		return 0, nil, err
	}
	in.Domain = strings.ToLower(strings.TrimSpace(in.Domain))
	if in.Domain == "" {
		return 0, nil, invalidParam("domain", "The field 'domain' is required: the tenant's DNS-like name, such as 'contoso.example'.")
	}
	if err := validDomain(in.Domain); err != nil {
		return 0, nil, err
	}
	if err := validDisplayName("displayName", in.DisplayName, false); err != nil {
		return 0, nil, err
	}
	if in.DisplayName == "" {
		in.DisplayName = in.Domain
	}
	t := &galleon.Tenant{ID: uuid.NewString(), Domain: in.Domain, DisplayName: in.DisplayName, CreatedAt: s.now().UTC()}
	a.audit(tenantPath(t.ID), actionTenantWrite)
	if err := s.Store.CreateTenant(a.r.Context(), t); err != nil {
		if galleon.ErrorCode(err) == galleon.EConflict {
			return 0, nil, galleon.ReasonErrorf(galleon.EConflict, "TenantExists",
				"A tenant with domain '%s' already exists. Choose another domain.", in.Domain).WithTarget("domain")
		}
		return 0, nil, fmt.Errorf("create tenant: %w", err)
	}
	return http.StatusCreated, t, nil
}

func (s *Service) adminGetTenant(a *apiRequest) (int, any, error) {
	t, err := s.tenant(a.r.Context(), a.p, a.vars[0], accessRead, "read the tenant")
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, t, nil
}

// --- subscriptions ---

func (s *Service) adminListSubscriptions(a *apiRequest) (int, any, error) {
	ctx := a.r.Context()
	t, err := s.tenant(ctx, a.p, a.vars[0], accessRead, "list subscriptions")
	if err != nil {
		return 0, nil, err
	}
	subs, err := s.Store.ListSubscriptions(ctx, t.ID)
	if err != nil {
		return 0, nil, fmt.Errorf("list subscriptions: %w", err)
	}
	return http.StatusOK, list(subs), nil
}

func (s *Service) adminCreateSubscription(a *apiRequest) (int, any, error) {
	ctx := a.r.Context()
	a.audit(tenantPath(a.vars[0])+"/subscriptions", actionSubscriptionWrite)
	if !isOperator(a.p) {
		return 0, nil, forbidden(a.p, a.vars[0], accessOperator, "create subscriptions")
	}
	t, err := s.tenant(ctx, a.p, a.vars[0], accessOperator, "create subscriptions")
	if err != nil {
		return 0, nil, err
	}
	var in struct {
		DisplayName      string `json:"displayName"`
		SubscriptionID   string `json:"subscriptionId"`
		OwnerPrincipalID string `json:"ownerPrincipalId"`
	}
	if err := decodeBody(a.w, a.r, &in, true); err != nil {
		return 0, nil, err
	}
	if strings.TrimSpace(in.DisplayName) == "" {
		return 0, nil, invalidParam("displayName", "The field 'displayName' is required.")
	} else if utf8.RuneCountInString(in.DisplayName) > maxSubscriptionName {
		return 0, nil, invalidParam("displayName", "The field 'displayName' is longer than %d characters.", maxSubscriptionName)
	}
	id := uuid.NewString()
	if in.SubscriptionID != "" {
		u, err := uuid.Parse(in.SubscriptionID)
		if err != nil || len(in.SubscriptionID) != 36 {
			return 0, nil, invalidParam("subscriptionId", "The subscription ID '%s' is not a GUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx).", truncate(in.SubscriptionID))
		}
		id = u.String()
	}
	var ownerType string
	if in.OwnerPrincipalID != "" {
		ownerType, _, err = s.lookupPrincipal(ctx, t.ID, in.OwnerPrincipalID)
		if err != nil {
			return 0, nil, err
		}
	}
	now := s.now().UTC()
	sub := &galleon.Subscription{ID: id, TenantID: t.ID, DisplayName: in.DisplayName, State: galleon.SubscriptionEnabled, CreatedAt: now}
	a.audit(tenantPath(t.ID)+"/subscriptions/"+id, actionSubscriptionWrite)
	if err := s.Store.CreateSubscription(ctx, sub); err != nil {
		if galleon.ErrorCode(err) == galleon.EConflict {
			return 0, nil, galleon.ReasonErrorf(galleon.EConflict, "SubscriptionExists",
				"A subscription with ID '%s' already exists.", id).WithTarget("subscriptionId")
		}
		return 0, nil, fmt.Errorf("create subscription: %w", err)
	}
	if in.OwnerPrincipalID != "" {
		ra := &galleon.RoleAssignment{
			Name: uuid.NewString(), Scope: "/subscriptions/" + id, RoleDefinitionID: galleon.OwnerRoleID,
			PrincipalID: in.OwnerPrincipalID, PrincipalType: ownerType,
			Description: "Owner named when the subscription was created",
			CreatedAt:   now, UpdatedAt: now, CreatedBy: a.p.ObjectID, UpdatedBy: a.p.ObjectID,
		}
		if err := s.Store.CreateRoleAssignment(ctx, ra); err != nil {
			return 0, nil, fmt.Errorf("assign owner of subscription %s: %w", id, err)
		}
	}
	return http.StatusCreated, sub, nil
}

// lookupPrincipal finds a user, service principal or group of a tenant by
// object ID and returns its principal type and display name. EInvalid
// (PrincipalNotFound) when none exists: callers use it on IDs from bodies.
func (s *Service) lookupPrincipal(ctx context.Context, tenantID, id string) (string, string, error) {
	u, err := s.Store.GetUser(ctx, tenantID, id)
	if err == nil && strings.EqualFold(u.ID, id) {
		return galleon.PrincipalUser, u.DisplayName, nil
	} else if err != nil && galleon.ErrorCode(err) != galleon.ENotFound {
		return "", "", fmt.Errorf("get user %q: %w", id, err)
	}
	sp, err := s.Store.GetServicePrincipal(ctx, tenantID, id)
	if err == nil && strings.EqualFold(sp.ID, id) {
		return galleon.PrincipalServicePrincipal, sp.DisplayName, nil
	} else if err != nil && galleon.ErrorCode(err) != galleon.ENotFound {
		return "", "", fmt.Errorf("get service principal %q: %w", id, err)
	}
	g, err := s.Store.GetGroup(ctx, tenantID, id)
	if err == nil && strings.EqualFold(g.ID, id) {
		return galleon.PrincipalGroup, g.DisplayName, nil
	} else if err != nil && galleon.ErrorCode(err) != galleon.ENotFound {
		return "", "", fmt.Errorf("get group %q: %w", id, err)
	}
	return "", "", galleon.ReasonErrorf(galleon.EInvalid, "PrincipalNotFound",
		"No user, service principal or group with object ID '%s' exists in tenant '%s'.", truncate(id), tenantID)
}

// --- users ---

func (s *Service) adminListUsers(a *apiRequest) (int, any, error) {
	ctx := a.r.Context()
	t, err := s.tenant(ctx, a.p, a.vars[0], accessRead, "list users")
	if err != nil {
		return 0, nil, err
	}
	us, err := s.Store.ListUsers(ctx, t.ID)
	if err != nil {
		return 0, nil, fmt.Errorf("list users: %w", err)
	}
	return http.StatusOK, list(us), nil
}

var upnLocalRE = regexp.MustCompile(`^[A-Za-z0-9_'+-]+(?:\.[A-Za-z0-9_'+-]+)*$`)

func (s *Service) adminCreateUser(a *apiRequest) (int, any, error) {
	ctx := a.r.Context()
	a.audit(tenantPath(a.vars[0])+"/users", actionUserWrite)
	t, err := s.tenant(ctx, a.p, a.vars[0], accessWrite, "create users")
	if err != nil {
		return 0, nil, err
	}
	var in struct {
		UserPrincipalName string `json:"userPrincipalName"`
		DisplayName       string `json:"displayName"`
		Password          string `json:"password"`
	}
	if err := decodeBody(a.w, a.r, &in, true); err != nil {
		return 0, nil, err
	}
	local, domain, ok := strings.Cut(in.UserPrincipalName, "@")
	if !ok || len(local) > 64 || !upnLocalRE.MatchString(local) || !strings.EqualFold(domain, t.Domain) {
		return 0, nil, invalidParam("userPrincipalName",
			"The user principal name '%s' is not valid. Use name@%s, where name has letters, digits and . _ - ' + (at most 64 characters).",
			truncate(in.UserPrincipalName), t.Domain)
	}
	if err := validDisplayName("displayName", in.DisplayName, false); err != nil {
		return 0, nil, err
	}
	if n := utf8.RuneCountInString(in.Password); n < minPasswordLen || n > maxPasswordLen {
		return 0, nil, invalidParam("password",
			"The password must have at least %d and at most %d characters; a long passphrase is best.", minPasswordLen, maxPasswordLen)
	}
	if in.DisplayName == "" {
		in.DisplayName = local
	}
	upn := local + "@" + t.Domain
	if _, err := s.Store.GetUser(ctx, t.ID, upn); err == nil {
		return 0, nil, galleon.ReasonErrorf(galleon.EConflict, "UserExists",
			"A user named '%s' already exists in tenant '%s'.", upn, t.ID).WithTarget("userPrincipalName")
	} else if galleon.ErrorCode(err) != galleon.ENotFound {
		return 0, nil, fmt.Errorf("get user %q: %w", upn, err)
	}
	hash, err := HashPassword(in.Password)
	if err != nil {
		return 0, nil, err
	}
	u := &galleon.User{ID: uuid.NewString(), TenantID: t.ID, UserPrincipalName: upn, DisplayName: in.DisplayName,
		PasswordHash: hash, CreatedAt: s.now().UTC()}
	a.audit(tenantPath(t.ID)+"/users/"+u.ID, actionUserWrite)
	if err := s.Store.CreateUser(ctx, u); err != nil {
		return 0, nil, fmt.Errorf("create user: %w", err)
	}
	return http.StatusCreated, u, nil
}

func (s *Service) adminGetUser(a *apiRequest) (int, any, error) {
	ctx := a.r.Context()
	t, err := s.tenant(ctx, a.p, a.vars[0], accessRead, "read users")
	if err != nil {
		return 0, nil, err
	}
	u, err := s.getUser(ctx, t.ID, a.vars[1])
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, u, nil
}

func (s *Service) getUser(ctx context.Context, tenantID, id string) (*galleon.User, error) {
	u, err := s.Store.GetUser(ctx, tenantID, id)
	if galleon.ErrorCode(err) == galleon.ENotFound {
		return nil, galleon.ReasonErrorf(galleon.ENotFound, "UserNotFound",
			"User '%s' was not found in tenant '%s'.", truncate(id), tenantID)
	} else if err != nil {
		return nil, fmt.Errorf("get user %q: %w", id, err)
	}
	return u, nil
}

func (s *Service) adminDeleteUser(a *apiRequest) (int, any, error) {
	ctx := a.r.Context()
	a.audit(tenantPath(a.vars[0])+"/users/"+a.vars[1], actionUserDelete)
	t, err := s.tenant(ctx, a.p, a.vars[0], accessWrite, "delete users")
	if err != nil {
		return 0, nil, err
	}
	u, err := s.getUser(ctx, t.ID, a.vars[1])
	if err != nil {
		return 0, nil, err
	}
	a.audit(tenantPath(t.ID)+"/users/"+u.ID, actionUserDelete)
	if err := s.Store.DeleteUser(ctx, t.ID, u.ID); err != nil {
		return 0, nil, fmt.Errorf("delete user %s: %w", u.ID, err)
	}
	return http.StatusNoContent, nil, nil
}

// --- groups ---

func (s *Service) adminListGroups(a *apiRequest) (int, any, error) {
	ctx := a.r.Context()
	t, err := s.tenant(ctx, a.p, a.vars[0], accessRead, "list groups")
	if err != nil {
		return 0, nil, err
	}
	gs, err := s.Store.ListGroups(ctx, t.ID)
	if err != nil {
		return 0, nil, fmt.Errorf("list groups: %w", err)
	}
	return http.StatusOK, list(gs), nil
}

func (s *Service) adminCreateGroup(a *apiRequest) (int, any, error) {
	ctx := a.r.Context()
	a.audit(tenantPath(a.vars[0])+"/groups", actionGroupWrite)
	t, err := s.tenant(ctx, a.p, a.vars[0], accessWrite, "create groups")
	if err != nil {
		return 0, nil, err
	}
	var in struct {
		DisplayName string `json:"displayName"`
	}
	if err := decodeBody(a.w, a.r, &in, true); err != nil {
		return 0, nil, err
	}
	if err := validDisplayName("displayName", in.DisplayName, true); err != nil {
		return 0, nil, err
	}
	g := &galleon.Group{ID: uuid.NewString(), TenantID: t.ID, DisplayName: in.DisplayName, CreatedAt: s.now().UTC()}
	a.audit(tenantPath(t.ID)+"/groups/"+g.ID, actionGroupWrite)
	if err := s.Store.CreateGroup(ctx, g); err != nil {
		return 0, nil, fmt.Errorf("create group: %w", err)
	}
	return http.StatusCreated, g, nil
}

func (s *Service) getGroup(ctx context.Context, tenantID, id string) (*galleon.Group, error) {
	g, err := s.Store.GetGroup(ctx, tenantID, id)
	if galleon.ErrorCode(err) == galleon.ENotFound {
		return nil, galleon.ReasonErrorf(galleon.ENotFound, "GroupNotFound",
			"Group '%s' was not found in tenant '%s'.", truncate(id), tenantID)
	} else if err != nil {
		return nil, fmt.Errorf("get group %q: %w", id, err)
	}
	return g, nil
}

func (s *Service) adminGetGroup(a *apiRequest) (int, any, error) {
	ctx := a.r.Context()
	t, err := s.tenant(ctx, a.p, a.vars[0], accessRead, "read groups")
	if err != nil {
		return 0, nil, err
	}
	g, err := s.getGroup(ctx, t.ID, a.vars[1])
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, g, nil
}

func (s *Service) adminDeleteGroup(a *apiRequest) (int, any, error) {
	ctx := a.r.Context()
	a.audit(tenantPath(a.vars[0])+"/groups/"+a.vars[1], actionGroupDelete)
	t, err := s.tenant(ctx, a.p, a.vars[0], accessWrite, "delete groups")
	if err != nil {
		return 0, nil, err
	}
	g, err := s.getGroup(ctx, t.ID, a.vars[1])
	if err != nil {
		return 0, nil, err
	}
	a.audit(tenantPath(t.ID)+"/groups/"+g.ID, actionGroupDelete)
	if err := s.Store.DeleteGroup(ctx, t.ID, g.ID); err != nil {
		return 0, nil, fmt.Errorf("delete group %s: %w", g.ID, err)
	}
	return http.StatusNoContent, nil, nil
}

// memberJSON is one direct member of a group.
type memberJSON struct {
	ID            string `json:"id"`
	PrincipalType string `json:"principalType"`
	DisplayName   string `json:"displayName"`
}

func (s *Service) adminListMembers(a *apiRequest) (int, any, error) {
	ctx := a.r.Context()
	t, err := s.tenant(ctx, a.p, a.vars[0], accessRead, "list group members")
	if err != nil {
		return 0, nil, err
	}
	g, err := s.getGroup(ctx, t.ID, a.vars[1])
	if err != nil {
		return 0, nil, err
	}
	ids, err := s.Store.ListGroupMembers(ctx, t.ID, g.ID)
	if err != nil {
		return 0, nil, fmt.Errorf("list members of group %s: %w", g.ID, err)
	}
	out := make([]memberJSON, 0, len(ids))
	for _, id := range ids {
		typ, name, err := s.lookupPrincipal(ctx, t.ID, id)
		if galleon.ErrorCode(err) == galleon.EInvalid {
			continue // deleted since; not a member any more
		} else if err != nil {
			return 0, nil, err
		}
		out = append(out, memberJSON{ID: id, PrincipalType: typ, DisplayName: name})
	}
	return http.StatusOK, list(out), nil
}

func (s *Service) adminAddMember(a *apiRequest) (int, any, error) {
	ctx := a.r.Context()
	a.audit(tenantPath(a.vars[0])+"/groups/"+a.vars[1]+"/members", actionGroupMemberWrite)
	t, err := s.tenant(ctx, a.p, a.vars[0], accessWrite, "change group members")
	if err != nil {
		return 0, nil, err
	}
	g, err := s.getGroup(ctx, t.ID, a.vars[1])
	if err != nil {
		return 0, nil, err
	}
	var in struct {
		MemberID string `json:"memberId"`
	}
	if err := decodeBody(a.w, a.r, &in, true); err != nil {
		return 0, nil, err
	}
	if in.MemberID == "" {
		return 0, nil, invalidParam("memberId", "The field 'memberId' is required: the object ID of a user, service principal or group.")
	}
	if strings.EqualFold(in.MemberID, g.ID) {
		return 0, nil, invalidParam("memberId", "A group cannot be a member of itself.")
	}
	typ, name, err := s.lookupPrincipal(ctx, t.ID, in.MemberID)
	if err != nil {
		if e := galleon.AsError(err); e != nil {
			return 0, nil, e.WithTarget("memberId")
		}
		return 0, nil, err
	}
	a.audit(tenantPath(t.ID)+"/groups/"+g.ID+"/members/"+in.MemberID, actionGroupMemberWrite)
	if err := s.Store.AddGroupMember(ctx, t.ID, g.ID, in.MemberID); err != nil {
		return 0, nil, fmt.Errorf("add member to group %s: %w", g.ID, err)
	}
	return http.StatusCreated, memberJSON{ID: in.MemberID, PrincipalType: typ, DisplayName: name}, nil
}

func (s *Service) adminRemoveMember(a *apiRequest) (int, any, error) {
	ctx := a.r.Context()
	a.audit(tenantPath(a.vars[0])+"/groups/"+a.vars[1]+"/members/"+a.vars[2], actionGroupMemberDelete)
	t, err := s.tenant(ctx, a.p, a.vars[0], accessWrite, "change group members")
	if err != nil {
		return 0, nil, err
	}
	g, err := s.getGroup(ctx, t.ID, a.vars[1])
	if err != nil {
		return 0, nil, err
	}
	a.audit(tenantPath(t.ID)+"/groups/"+g.ID+"/members/"+a.vars[2], actionGroupMemberDelete)
	err = s.Store.RemoveGroupMember(ctx, t.ID, g.ID, a.vars[2])
	if galleon.ErrorCode(err) == galleon.ENotFound {
		return 0, nil, galleon.ReasonErrorf(galleon.ENotFound, "MemberNotFound",
			"'%s' is not a direct member of group '%s'.", truncate(a.vars[2]), g.ID)
	} else if err != nil {
		return 0, nil, fmt.Errorf("remove member from group %s: %w", g.ID, err)
	}
	return http.StatusNoContent, nil, nil
}

// --- applications ---

func (s *Service) adminListApplications(a *apiRequest) (int, any, error) {
	ctx := a.r.Context()
	t, err := s.tenant(ctx, a.p, a.vars[0], accessRead, "list applications")
	if err != nil {
		return 0, nil, err
	}
	apps, err := s.Store.ListApplications(ctx, t.ID)
	if err != nil {
		return 0, nil, fmt.Errorf("list applications: %w", err)
	}
	return http.StatusOK, list(apps), nil
}

func (s *Service) adminCreateApplication(a *apiRequest) (int, any, error) {
	ctx := a.r.Context()
	a.audit(tenantPath(a.vars[0])+"/applications", actionApplicationWrite)
	t, err := s.tenant(ctx, a.p, a.vars[0], accessWrite, "create applications")
	if err != nil {
		return 0, nil, err
	}
	var in struct {
		DisplayName string `json:"displayName"`
		MultiTenant bool   `json:"multiTenant"`
	}
	if err := decodeBody(a.w, a.r, &in, true); err != nil {
		return 0, nil, err
	}
	if err := validDisplayName("displayName", in.DisplayName, true); err != nil {
		return 0, nil, err
	}
	app := &galleon.Application{ID: uuid.NewString(), AppID: uuid.NewString(), TenantID: t.ID,
		DisplayName: in.DisplayName, MultiTenant: in.MultiTenant, CreatedAt: s.now().UTC()}
	a.audit(tenantPath(t.ID)+"/applications/"+app.ID, actionApplicationWrite)
	if err := s.Store.CreateApplication(ctx, app); err != nil {
		return 0, nil, fmt.Errorf("create application: %w", err)
	}
	return http.StatusCreated, app, nil
}

// application finds an app registration of a tenant by object ID or app ID.
func (s *Service) application(ctx context.Context, tenantID, id string) (*galleon.Application, error) {
	app, err := s.Store.GetApplication(ctx, id)
	if galleon.ErrorCode(err) == galleon.ENotFound || (err == nil && !strings.EqualFold(app.TenantID, tenantID)) {
		return nil, galleon.ReasonErrorf(galleon.ENotFound, "ApplicationNotFound",
			"Application '%s' was not found in tenant '%s'. Applications are managed in their home tenant.", truncate(id), tenantID)
	} else if err != nil {
		return nil, fmt.Errorf("get application %q: %w", id, err)
	}
	return app, nil
}

func (s *Service) adminGetApplication(a *apiRequest) (int, any, error) {
	ctx := a.r.Context()
	t, err := s.tenant(ctx, a.p, a.vars[0], accessRead, "read applications")
	if err != nil {
		return 0, nil, err
	}
	app, err := s.application(ctx, t.ID, a.vars[1])
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, app, nil
}

func (s *Service) adminListSecrets(a *apiRequest) (int, any, error) {
	ctx := a.r.Context()
	t, err := s.tenant(ctx, a.p, a.vars[0], accessRead, "list application secrets")
	if err != nil {
		return 0, nil, err
	}
	app, err := s.application(ctx, t.ID, a.vars[1])
	if err != nil {
		return 0, nil, err
	}
	secrets, err := s.Store.ListClientSecrets(ctx, app.ID)
	if err != nil {
		return 0, nil, fmt.Errorf("list secrets of %s: %w", app.ID, err)
	}
	return http.StatusOK, list(secrets), nil
}

// newSecretJSON is the one reply that shows a secret's text.
type newSecretJSON struct {
	KeyID         string    `json:"keyId"`
	DisplayName   string    `json:"displayName"`
	SecretText    string    `json:"secretText"`
	Hint          string    `json:"hint"`
	StartDateTime time.Time `json:"startDateTime"`
	EndDateTime   time.Time `json:"endDateTime"`
}

func (s *Service) adminAddSecret(a *apiRequest) (int, any, error) {
	ctx := a.r.Context()
	a.audit(tenantPath(a.vars[0])+"/applications/"+a.vars[1]+"/secrets", actionSecretWrite)
	t, err := s.tenant(ctx, a.p, a.vars[0], accessWrite, "add application secrets")
	if err != nil {
		return 0, nil, err
	}
	app, err := s.application(ctx, t.ID, a.vars[1])
	if err != nil {
		return 0, nil, err
	}
	var in struct {
		DisplayName   string `json:"displayName"`
		ExpiresInDays *int   `json:"expiresInDays"`
	}
	if err := decodeBody(a.w, a.r, &in, true); err != nil {
		return 0, nil, err
	}
	if err := validDisplayName("displayName", in.DisplayName, false); err != nil {
		return 0, nil, err
	}
	days := defaultSecretDays
	if in.ExpiresInDays != nil {
		days = *in.ExpiresInDays
	}
	if days < 1 || days > maxSecretDays {
		return 0, nil, invalidParam("expiresInDays", "The field 'expiresInDays' must be between 1 and %d (default %d).", maxSecretDays, defaultSecretDays)
	}
	cs, text, err := newSecretFor(app, in.DisplayName, s.now().UTC(), time.Duration(days)*24*time.Hour)
	if err != nil {
		return 0, nil, err
	}
	a.audit(tenantPath(t.ID)+"/applications/"+app.ID+"/secrets/"+cs.KeyID, actionSecretWrite)
	if err := s.Store.AddClientSecret(ctx, cs); err != nil {
		return 0, nil, fmt.Errorf("add secret to %s: %w", app.ID, err)
	}
	return http.StatusCreated, newSecretJSON{KeyID: cs.KeyID, DisplayName: cs.DisplayName, SecretText: text, Hint: cs.Hint,
		StartDateTime: cs.CreatedAt, EndDateTime: cs.ExpiresAt}, nil
}

// newSecretFor makes a client secret for app and returns its stored form
// and its text.
func newSecretFor(app *galleon.Application, displayName string, now time.Time, lifetime time.Duration) (*galleon.ClientSecret, string, error) {
	text, err := newClientSecret()
	if err != nil {
		return nil, "", err
	}
	return &galleon.ClientSecret{
		KeyID: uuid.NewString(), ApplicationID: app.ID, DisplayName: displayName, Hint: text[:3],
		Hash: hashClientSecret(text), ExpiresAt: now.Add(lifetime), CreatedAt: now,
	}, text, nil
}

func (s *Service) adminDeleteSecret(a *apiRequest) (int, any, error) {
	ctx := a.r.Context()
	a.audit(tenantPath(a.vars[0])+"/applications/"+a.vars[1]+"/secrets/"+a.vars[2], actionSecretDelete)
	t, err := s.tenant(ctx, a.p, a.vars[0], accessWrite, "remove application secrets")
	if err != nil {
		return 0, nil, err
	}
	app, err := s.application(ctx, t.ID, a.vars[1])
	if err != nil {
		return 0, nil, err
	}
	a.audit(tenantPath(t.ID)+"/applications/"+app.ID+"/secrets/"+a.vars[2], actionSecretDelete)
	err = s.Store.DeleteClientSecret(ctx, app.ID, a.vars[2])
	if galleon.ErrorCode(err) == galleon.ENotFound {
		return 0, nil, galleon.ReasonErrorf(galleon.ENotFound, "SecretNotFound",
			"Application '%s' has no secret with key ID '%s'.", app.AppID, truncate(a.vars[2]))
	} else if err != nil {
		return 0, nil, fmt.Errorf("delete secret of %s: %w", app.ID, err)
	}
	return http.StatusNoContent, nil, nil
}

// --- service principals ---

func (s *Service) adminListServicePrincipals(a *apiRequest) (int, any, error) {
	ctx := a.r.Context()
	t, err := s.tenant(ctx, a.p, a.vars[0], accessRead, "list service principals")
	if err != nil {
		return 0, nil, err
	}
	sps, err := s.Store.ListServicePrincipals(ctx, t.ID)
	if err != nil {
		return 0, nil, fmt.Errorf("list service principals: %w", err)
	}
	return http.StatusOK, list(sps), nil
}

func (s *Service) adminCreateServicePrincipal(a *apiRequest) (int, any, error) {
	ctx := a.r.Context()
	a.audit(tenantPath(a.vars[0])+"/servicePrincipals", actionServicePrincipalWrite)
	t, err := s.tenant(ctx, a.p, a.vars[0], accessWrite, "create service principals")
	if err != nil {
		return 0, nil, err
	}
	var in struct {
		AppID string `json:"appId"`
	}
	if err := decodeBody(a.w, a.r, &in, true); err != nil {
		return 0, nil, err
	}
	sp, err := s.createServicePrincipal(ctx, t, in.AppID)
	if err != nil {
		return 0, nil, err
	}
	a.audit(tenantPath(t.ID)+"/servicePrincipals/"+sp.ID, actionServicePrincipalWrite)
	return http.StatusCreated, sp, nil
}

// createServicePrincipal gives an application a service principal in t:
// an app of t, or a multi-tenant app of another tenant (consent).
func (s *Service) createServicePrincipal(ctx context.Context, t *galleon.Tenant, appID string) (*galleon.ServicePrincipal, error) {
	if appID == "" {
		return nil, invalidParam("appId", "The field 'appId' is required: the application (client) ID.")
	}
	app, err := s.Store.GetApplication(ctx, appID)
	if galleon.ErrorCode(err) == galleon.ENotFound || (err == nil && !strings.EqualFold(app.AppID, appID)) {
		return nil, invalidParam("appId", "No application with app ID '%s' exists.", truncate(appID))
	} else if err != nil {
		return nil, fmt.Errorf("get application %q: %w", appID, err)
	}
	if app.TenantID != t.ID && !app.MultiTenant {
		return nil, invalidParam("appId",
			"Application '%s' is a single-tenant application of tenant '%s'; only multi-tenant applications can have service principals in other tenants.",
			app.AppID, app.TenantID)
	}
	if existing, err := s.Store.GetServicePrincipal(ctx, t.ID, app.AppID); err == nil {
		return nil, galleon.ReasonErrorf(galleon.EConflict, "ServicePrincipalExists",
			"Application '%s' already has service principal '%s' in tenant '%s'.", app.AppID, existing.ID, t.ID).WithTarget("appId")
	} else if galleon.ErrorCode(err) != galleon.ENotFound {
		return nil, fmt.Errorf("get service principal of %q: %w", appID, err)
	}
	sp := &galleon.ServicePrincipal{ID: uuid.NewString(), TenantID: t.ID, AppID: app.AppID, DisplayName: app.DisplayName, CreatedAt: s.now().UTC()}
	if err := s.Store.CreateServicePrincipal(ctx, sp); err != nil {
		return nil, fmt.Errorf("create service principal: %w", err)
	}
	return sp, nil
}

func (s *Service) adminGetServicePrincipal(a *apiRequest) (int, any, error) {
	ctx := a.r.Context()
	t, err := s.tenant(ctx, a.p, a.vars[0], accessRead, "read service principals")
	if err != nil {
		return 0, nil, err
	}
	sp, err := s.servicePrincipal(ctx, t.ID, a.vars[1])
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, sp, nil
}

func (s *Service) servicePrincipal(ctx context.Context, tenantID, id string) (*galleon.ServicePrincipal, error) {
	sp, err := s.Store.GetServicePrincipal(ctx, tenantID, id)
	if galleon.ErrorCode(err) == galleon.ENotFound {
		return nil, galleon.ReasonErrorf(galleon.ENotFound, "ServicePrincipalNotFound",
			"Service principal '%s' was not found in tenant '%s'.", truncate(id), tenantID)
	} else if err != nil {
		return nil, fmt.Errorf("get service principal %q: %w", id, err)
	}
	return sp, nil
}

// --- directory roles ---

func (s *Service) adminListDirectoryRoles(a *apiRequest) (int, any, error) {
	ctx := a.r.Context()
	t, err := s.tenant(ctx, a.p, a.vars[0], accessRead, "list directory roles")
	if err != nil {
		return 0, nil, err
	}
	var ids []string
	if id := a.r.URL.Query().Get("principalId"); id != "" {
		ids = []string{id}
	} else {
		if ids, err = s.allPrincipalIDs(ctx, t.ID); err != nil {
			return 0, nil, err
		}
	}
	var out []*galleon.DirectoryRoleAssignment
	for _, id := range ids {
		roles, err := s.Store.ListDirectoryRoles(ctx, t.ID, id)
		if err != nil {
			return 0, nil, fmt.Errorf("list directory roles of %q: %w", id, err)
		}
		for _, r := range roles {
			out = append(out, &galleon.DirectoryRoleAssignment{TenantID: t.ID, PrincipalID: id, Role: r})
		}
	}
	return http.StatusOK, list(out), nil
}

// allPrincipalIDs lists the object IDs of a tenant's users, service
// principals and groups.
func (s *Service) allPrincipalIDs(ctx context.Context, tenantID string) ([]string, error) {
	var ids []string
	us, err := s.Store.ListUsers(ctx, tenantID)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	for _, u := range us {
		ids = append(ids, u.ID)
	}
	sps, err := s.Store.ListServicePrincipals(ctx, tenantID)
	if err != nil {
		return nil, fmt.Errorf("list service principals: %w", err)
	}
	for _, sp := range sps {
		ids = append(ids, sp.ID)
	}
	gs, err := s.Store.ListGroups(ctx, tenantID)
	if err != nil {
		return nil, fmt.Errorf("list groups: %w", err)
	}
	for _, g := range gs {
		ids = append(ids, g.ID)
	}
	return ids, nil
}

func (s *Service) adminPutDirectoryRole(a *apiRequest) (int, any, error) {
	ctx := a.r.Context()
	a.audit(tenantPath(a.vars[0])+"/directoryRoles", actionDirectoryRoleWrite)
	t, err := s.tenant(ctx, a.p, a.vars[0], accessWrite, "grant directory roles")
	if err != nil {
		return 0, nil, err
	}
	var in struct {
		PrincipalID string `json:"principalId"`
		Role        string `json:"role"`
	}
	if err := decodeBody(a.w, a.r, &in, true); err != nil {
		return 0, nil, err
	}
	var role string
	switch {
	case strings.EqualFold(in.Role, galleon.RoleGlobalAdministrator):
		role = galleon.RoleGlobalAdministrator
	case strings.EqualFold(in.Role, galleon.RoleInstallationOperator):
		role = galleon.RoleInstallationOperator
		// A tenant's administrator must not make anyone an installation
		// operator: that would reach every other tenant.
		if !isOperator(a.p) {
			return 0, nil, forbidden(a.p, t.ID, accessOperator, "grant the "+galleon.RoleInstallationOperator+" role")
		}
	default:
		return 0, nil, invalidParam("role", "The role '%s' is not a directory role. Use '%s' or '%s'.",
			truncate(in.Role), galleon.RoleGlobalAdministrator, galleon.RoleInstallationOperator)
	}
	if in.PrincipalID == "" {
		return 0, nil, invalidParam("principalId", "The field 'principalId' is required: the object ID of a user, service principal or group.")
	}
	if _, _, err := s.lookupPrincipal(ctx, t.ID, in.PrincipalID); err != nil {
		if e := galleon.AsError(err); e != nil {
			return 0, nil, e.WithTarget("principalId")
		}
		return 0, nil, err
	}
	ra := &galleon.DirectoryRoleAssignment{TenantID: t.ID, PrincipalID: in.PrincipalID, Role: role}
	a.audit(tenantPath(t.ID)+"/directoryRoles/"+in.PrincipalID, actionDirectoryRoleWrite)
	if err := s.Store.PutDirectoryRole(ctx, ra); err != nil {
		return 0, nil, fmt.Errorf("grant directory role: %w", err)
	}
	return http.StatusCreated, ra, nil
}

// --- signing keys ---

func (s *Service) adminRotateKey(a *apiRequest) (int, any, error) {
	a.audit("/admin/v1/signingKeys", actionSigningKeyRotate)
	if !isOperator(a.p) {
		return 0, nil, forbidden(a.p, "", accessOperator, "rotate the token signing key")
	}
	kid, err := s.RotateKey(a.r.Context())
	if err != nil {
		return 0, nil, err
	}
	a.audit("/admin/v1/signingKeys/"+kid, actionSigningKeyRotate)
	return http.StatusOK, map[string]string{"kid": kid}, nil
}
