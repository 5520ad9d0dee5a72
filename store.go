package galleon

import (
	"context"
	"time"
)

// Store is Galleon's metadata store. The embedded default is SQLite
// (store/sqlite); PostgreSQL follows. Every implementation passes the
// contract suite in store/storetest.
//
// Methods return *Error values with ENotFound when a named row is missing
// and EConflict when a create would duplicate a unique key; other failures
// are wrapped driver errors (EInternal). Lookups by ID, name or scope are
// case-insensitive; stored values keep the case they were written with.
type Store interface {
	DirectoryStore
	ResourceStore
	RBACStore
	JobStore
	AuditStore
	ReplicaStore
	BlobStore
	// Close releases the store's resources.
	Close() error
}

// DirectoryStore holds tenants, subscriptions and principals.
type DirectoryStore interface {
	// CreateTenant adds a tenant. EConflict if the ID or domain is taken.
	CreateTenant(ctx context.Context, t *Tenant) error
	// GetTenant finds a tenant by ID or by domain. ENotFound if missing.
	GetTenant(ctx context.Context, idOrDomain string) (*Tenant, error)
	ListTenants(ctx context.Context) ([]*Tenant, error)

	// CreateSubscription adds a subscription. EConflict if the ID is taken;
	// ENotFound if its tenant is missing.
	CreateSubscription(ctx context.Context, s *Subscription) error
	// GetSubscription finds a subscription by ID. ENotFound if missing.
	GetSubscription(ctx context.Context, id string) (*Subscription, error)
	// ListSubscriptions lists a tenant's subscriptions, or all when tenantID is "".
	ListSubscriptions(ctx context.Context, tenantID string) ([]*Subscription, error)

	// CreateUser adds a user. EConflict if the ID or the user principal
	// name is taken in the tenant.
	CreateUser(ctx context.Context, u *User) error
	// GetUser finds a user of a tenant by object ID or user principal name.
	GetUser(ctx context.Context, tenantID, idOrUPN string) (*User, error)
	ListUsers(ctx context.Context, tenantID string) ([]*User, error)
	// DeleteUser removes a user and its group memberships.
	DeleteUser(ctx context.Context, tenantID, id string) error

	CreateGroup(ctx context.Context, g *Group) error
	GetGroup(ctx context.Context, tenantID, id string) (*Group, error)
	ListGroups(ctx context.Context, tenantID string) ([]*Group, error)
	// DeleteGroup removes a group and every membership it is part of.
	DeleteGroup(ctx context.Context, tenantID, id string) error
	// AddGroupMember makes memberID (a user, service principal or group
	// object ID) a direct member of the group. Adding an existing member
	// is not an error.
	AddGroupMember(ctx context.Context, tenantID, groupID, memberID string) error
	// RemoveGroupMember removes a direct membership. ENotFound if absent.
	RemoveGroupMember(ctx context.Context, tenantID, groupID, memberID string) error
	// ListGroupMembers returns the object IDs of the group's direct members.
	ListGroupMembers(ctx context.Context, tenantID, groupID string) ([]string, error)
	// ListMemberOf returns the IDs of the groups memberID directly belongs to.
	ListMemberOf(ctx context.Context, tenantID, memberID string) ([]string, error)

	// CreateApplication adds an app registration. EConflict if the object
	// ID or app ID is taken.
	CreateApplication(ctx context.Context, a *Application) error
	// GetApplication finds an application by object ID or app ID, in any tenant.
	GetApplication(ctx context.Context, idOrAppID string) (*Application, error)
	ListApplications(ctx context.Context, tenantID string) ([]*Application, error)
	// AddClientSecret stores a secret's hash for an application.
	AddClientSecret(ctx context.Context, s *ClientSecret) error
	// ListClientSecrets lists an application's secrets (hashes included).
	ListClientSecrets(ctx context.Context, applicationID string) ([]*ClientSecret, error)
	// DeleteClientSecret removes a secret. ENotFound if absent.
	DeleteClientSecret(ctx context.Context, applicationID, keyID string) error

	// CreateServicePrincipal adds a service principal. EConflict if the
	// object ID is taken or the app already has one in that tenant.
	CreateServicePrincipal(ctx context.Context, sp *ServicePrincipal) error
	// GetServicePrincipal finds a service principal of a tenant by object ID or app ID.
	GetServicePrincipal(ctx context.Context, tenantID, idOrAppID string) (*ServicePrincipal, error)
	ListServicePrincipals(ctx context.Context, tenantID string) ([]*ServicePrincipal, error)

	// PutDirectoryRole grants a directory role; granting it twice is fine.
	PutDirectoryRole(ctx context.Context, a *DirectoryRoleAssignment) error
	// ListDirectoryRoles lists the roles principalID holds in tenantID.
	ListDirectoryRoles(ctx context.Context, tenantID, principalID string) ([]string, error)

	// PutSigningKey stores a token-signing key (insert or update by KeyID).
	PutSigningKey(ctx context.Context, k *SigningKey) error
	// ListSigningKeys returns every stored key, newest first.
	ListSigningKeys(ctx context.Context) ([]*SigningKey, error)
}

// SigningKey is a private key that signs access tokens. The newest active
// key signs; retired keys stay published in JWKS until RetireAt so tokens
// they signed keep verifying.
type SigningKey struct {
	KeyID      string    `json:"kid"`
	PrivatePEM []byte    `json:"-"`
	CreatedAt  time.Time `json:"createdAt"`
	// RetiredAt is when a newer key replaced this one (zero while active).
	RetiredAt time.Time `json:"retiredAt,omitempty"`
}

// ResourceStore holds ARM resources (resource groups and everything under
// them) as typed envelopes with opaque properties.
type ResourceStore interface {
	// CreateResource adds r. EConflict if a resource with that ID exists.
	// It sets r.CreatedAt, r.ChangedAt and r.ETag.
	CreateResource(ctx context.Context, r *Resource) error
	// UpdateResource replaces r. ENotFound if missing; EPreconditionFailed
	// if ifMatch is not "" and differs from the stored ETag. It sets
	// r.ChangedAt and a new r.ETag.
	UpdateResource(ctx context.Context, r *Resource, ifMatch string) error
	// GetResource finds a resource by ID. ENotFound if missing.
	GetResource(ctx context.Context, id string) (*Resource, error)
	// ListResources lists resources in ID order. When f.Limit is set and
	// more remain, it returns the token for the next page (f.After).
	ListResources(ctx context.Context, f ResourceFilter) ([]*Resource, string, error)
	// DeleteResource removes one resource. ENotFound if missing.
	DeleteResource(ctx context.Context, id string) error
	// DeleteResourcesUnder removes every resource strictly under scope and
	// returns how many it removed.
	DeleteResourcesUnder(ctx context.Context, scope string) (int, error)
}

// RBACStore holds custom role definitions and role assignments. Built-in
// role definitions are not stored; authz knows them.
type RBACStore interface {
	// PutRoleDefinition creates or replaces a custom role definition by Name.
	PutRoleDefinition(ctx context.Context, d *RoleDefinition) error
	// GetRoleDefinition finds a custom definition by GUID. ENotFound if missing.
	GetRoleDefinition(ctx context.Context, name string) (*RoleDefinition, error)
	// ListRoleDefinitions lists custom definitions.
	ListRoleDefinitions(ctx context.Context) ([]*RoleDefinition, error)
	// DeleteRoleDefinition removes a custom definition. ENotFound if missing.
	DeleteRoleDefinition(ctx context.Context, name string) error

	// CreateRoleAssignment adds an assignment. EConflict if the name is
	// taken, or (Reason "RoleAssignmentExists") if the same principal
	// already holds the same role at the same scope.
	CreateRoleAssignment(ctx context.Context, a *RoleAssignment) error
	// GetRoleAssignment finds an assignment by GUID. ENotFound if missing.
	GetRoleAssignment(ctx context.Context, name string) (*RoleAssignment, error)
	// ListRoleAssignments lists assignments matching f, ordered by scope then name.
	ListRoleAssignments(ctx context.Context, f RoleAssignmentFilter) ([]*RoleAssignment, error)
	// DeleteRoleAssignment removes an assignment. ENotFound if missing.
	DeleteRoleAssignment(ctx context.Context, name string) error
	// DeleteRoleAssignmentsUnder removes every assignment at or under scope.
	DeleteRoleAssignmentsUnder(ctx context.Context, scope string) (int, error)
}

// JobStore holds background jobs and the long-running operations clients poll.
type JobStore interface {
	// EnqueueJob stores j as queued. It sets ID (if empty), State,
	// CreatedAt, UpdatedAt, and RunAt (if zero) to now.
	EnqueueJob(ctx context.Context, j *Job) error
	// ClaimJob leases the oldest runnable job of one of kinds to owner until
	// now+lease: a queued job whose RunAt has passed, or a running job whose
	// lease has expired (its worker died). It increments Attempts. It
	// returns (nil, nil) when there is none.
	ClaimJob(ctx context.Context, kinds []string, owner string, now time.Time, lease time.Duration) (*Job, error)
	// ExtendJobLease pushes the lease of a job owner holds to until.
	// EConflict if owner no longer holds it.
	ExtendJobLease(ctx context.Context, id, owner string, until time.Time) error
	// CompleteJob marks a job owner holds as succeeded. EConflict if owner
	// no longer holds it.
	CompleteJob(ctx context.Context, id, owner string) error
	// RetryJob releases a job owner holds back to queued with RunAt=runAt and
	// LastError=msg, or marks it failed when final is true.
	RetryJob(ctx context.Context, id, owner, msg string, runAt time.Time, final bool) error
	// GetJob finds a job by ID.
	GetJob(ctx context.Context, id string) (*Job, error)
	// CountJobs returns the number of jobs in each state, by kind:
	// counts[kind][state].
	CountJobs(ctx context.Context) (map[string]map[string]int, error)

	// CreateOperation stores a new operation.
	CreateOperation(ctx context.Context, op *Operation) error
	// GetOperation finds an operation by ID. ENotFound if missing.
	GetOperation(ctx context.Context, id string) (*Operation, error)
	// UpdateOperation replaces an operation's status fields.
	UpdateOperation(ctx context.Context, op *Operation) error
}

// AuditStore holds the audit trail of writes.
type AuditStore interface {
	// AppendAudit stores a record, setting ID if empty.
	AppendAudit(ctx context.Context, r *AuditRecord) error
	// ListAudit returns records matching f, newest first.
	ListAudit(ctx context.Context, f AuditFilter) ([]*AuditRecord, error)
}
