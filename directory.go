package galleon

import (
	"context"
	"time"
)

// Tenant is a directory: the home of users, groups, applications, service
// principals and subscriptions. ID is a GUID; Domain is a unique DNS-like name
// ("contoso.example") that may be used in place of the ID in sign-in URLs.
type Tenant struct {
	ID          string    `json:"id"`
	Domain      string    `json:"domain"`
	DisplayName string    `json:"displayName"`
	CreatedAt   time.Time `json:"createdAt"`
}

// Subscription states.
const (
	SubscriptionEnabled  = "Enabled"
	SubscriptionDisabled = "Disabled"
)

// Subscription is a billing and authorization boundary owned by one tenant.
type Subscription struct {
	ID          string    `json:"subscriptionId"`
	TenantID    string    `json:"tenantId"`
	DisplayName string    `json:"displayName"`
	State       string    `json:"state"`
	CreatedAt   time.Time `json:"createdAt"`
}

// Principal types, as ARM spells them in principalType.
const (
	PrincipalUser             = "User"
	PrincipalGroup            = "Group"
	PrincipalServicePrincipal = "ServicePrincipal"
)

// User is a person who signs in with a password.
type User struct {
	ID                string    `json:"id"` // object ID (GUID)
	TenantID          string    `json:"tenantId"`
	UserPrincipalName string    `json:"userPrincipalName"` // alice@contoso.example
	DisplayName       string    `json:"displayName"`
	PasswordHash      string    `json:"-"` // PHC-formatted slow-KDF hash
	CreatedAt         time.Time `json:"createdAt"`
}

// Group is a set of users, service principals and other groups. Membership
// is resolved transitively when a principal signs in or is authorized.
type Group struct {
	ID          string    `json:"id"`
	TenantID    string    `json:"tenantId"`
	DisplayName string    `json:"displayName"`
	CreatedAt   time.Time `json:"createdAt"`
}

// Application is an app registration. It lives in its home tenant; a
// multi-tenant application may have service principals in other tenants.
type Application struct {
	ID          string    `json:"id"`    // object ID
	AppID       string    `json:"appId"` // client ID, unique across the installation
	TenantID    string    `json:"tenantId"`
	DisplayName string    `json:"displayName"`
	MultiTenant bool      `json:"multiTenant"`
	CreatedAt   time.Time `json:"createdAt"`
}

// ClientSecret is a password credential of an application. Only a hash of
// the secret is stored; Hint is its first three characters, for display.
type ClientSecret struct {
	KeyID         string    `json:"keyId"`
	ApplicationID string    `json:"applicationId"` // the Application's object ID
	DisplayName   string    `json:"displayName"`
	Hint          string    `json:"hint"`
	Hash          string    `json:"-"`
	ExpiresAt     time.Time `json:"endDateTime"`
	CreatedAt     time.Time `json:"startDateTime"`
}

// ServicePrincipal is an application's identity in one tenant; role
// assignments name its object ID.
type ServicePrincipal struct {
	ID          string    `json:"id"` // object ID
	TenantID    string    `json:"tenantId"`
	AppID       string    `json:"appId"`
	DisplayName string    `json:"displayName"`
	CreatedAt   time.Time `json:"createdAt"`
}

// Directory roles held by a principal in a tenant.
const (
	// RoleGlobalAdministrator manages the directory of one tenant.
	RoleGlobalAdministrator = "GlobalAdministrator"
	// RoleInstallationOperator manages the whole installation: it creates
	// tenants and subscriptions and may manage every tenant's directory.
	RoleInstallationOperator = "InstallationOperator"
)

// DirectoryRoleAssignment gives a principal a directory role in a tenant.
type DirectoryRoleAssignment struct {
	TenantID    string `json:"tenantId"`
	PrincipalID string `json:"principalId"`
	Role        string `json:"role"`
}

// Principal is the authenticated caller of a request: a user or a service
// principal in a tenant, with the groups it belongs to (transitively).
type Principal struct {
	ObjectID    string
	TenantID    string
	Type        string // PrincipalUser or PrincipalServicePrincipal
	AppID       string // the client application (for users: the app they signed in through)
	DisplayName string
	GroupIDs    []string
	// DirectoryRoles are the principal's directory roles in TenantID.
	DirectoryRoles []string
}

// IDs returns the principal's object ID followed by its group IDs: every
// principal ID a role assignment may name to apply to this caller.
func (p *Principal) IDs() []string {
	ids := make([]string, 0, 1+len(p.GroupIDs))
	ids = append(ids, p.ObjectID)
	return append(ids, p.GroupIDs...)
}

// HasDirectoryRole reports whether p holds role in its tenant.
func (p *Principal) HasDirectoryRole(role string) bool {
	for _, r := range p.DirectoryRoles {
		if r == role {
			return true
		}
	}
	return false
}

// String names the principal in messages: object ID and, for apps, app ID.
func (p *Principal) String() string {
	if p.AppID != "" && p.Type == PrincipalServicePrincipal {
		return "'" + p.ObjectID + "' (application '" + p.AppID + "')"
	}
	return "'" + p.ObjectID + "'"
}

type principalKey struct{}

// NewContextWithPrincipal returns ctx carrying the authenticated caller.
func NewContextWithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFromContext returns the caller that ctx carries, or nil.
func PrincipalFromContext(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}
