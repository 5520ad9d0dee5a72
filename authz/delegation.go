package authz

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/galleonhq/galleon"
)

// Delegated management (Azure Lighthouse): a customer tenant's Owner stores a
// registration definition (managing tenant, and which of its principals get
// which built-in roles) and a registration assignment that applies it to a
// subscription or resource group. While the assignment exists, the listed
// principals of the managing tenant hold those roles on the delegated scope,
// exactly as if role assignments had been made there. The rows are ARM
// resources; their properties use the shapes below, which are Azure's own
// (Microsoft.ManagedServices 2022-10-01), so arm stores what clients send.

// Resource types of delegated management.
const (
	RegistrationDefinitionType = "Microsoft.ManagedServices/registrationDefinitions"
	RegistrationAssignmentType = "Microsoft.ManagedServices/registrationAssignments"
)

// DelegationSucceeded is the provisioning state of an active definition or
// assignment; rows in any other state grant nothing.
const DelegationSucceeded = "Succeeded"

// DelegatedAuthorization is one entry of a registration definition's
// authorizations: a principal of the managing tenant and the built-in role it
// gets on the delegated scope.
type DelegatedAuthorization struct {
	PrincipalID            string `json:"principalId"`
	PrincipalIDDisplayName string `json:"principalIdDisplayName,omitempty"`
	// RoleDefinitionID is the role's GUID (Azure templates give the bare
	// GUID; a full role definition ID is accepted and stored as given).
	RoleDefinitionID           string   `json:"roleDefinitionId"`
	DelegatedRoleDefinitionIDs []string `json:"delegatedRoleDefinitionIds,omitempty"`
}

// RegistrationDefinitionProperties is the stored "properties" object of a
// registration definition.
type RegistrationDefinitionProperties struct {
	Description                string                   `json:"description,omitempty"`
	Authorizations             []DelegatedAuthorization `json:"authorizations"`
	RegistrationDefinitionName string                   `json:"registrationDefinitionName,omitempty"`
	ManagedByTenantID          string                   `json:"managedByTenantId"`
	ManagedByTenantName        string                   `json:"managedByTenantName,omitempty"`
	ManageeTenantID            string                   `json:"manageeTenantId,omitempty"`
	ManageeTenantName          string                   `json:"manageeTenantName,omitempty"`
	ProvisioningState          string                   `json:"provisioningState,omitempty"`
}

// RegistrationAssignmentProperties is the stored "properties" object of a
// registration assignment: the definition it applies to its scope.
type RegistrationAssignmentProperties struct {
	RegistrationDefinitionID string `json:"registrationDefinitionId"`
	ProvisioningState        string `json:"provisioningState,omitempty"`
}

// Delegation is one active grant: PrincipalID, a principal of
// ManagedByTenantID, holds RoleDefinitionID on Scope.
type Delegation struct {
	// AssignmentID and DefinitionID are the ARM IDs of the registration
	// assignment and definition the grant comes from.
	AssignmentID string
	DefinitionID string
	// Scope is the delegated subscription or resource group, normalized.
	Scope             string
	SubscriptionID    string
	ManagedByTenantID string
	PrincipalID       string
	// RoleDefinitionID is the built-in role's GUID.
	RoleDefinitionID string
}

// DelegationFilter selects delegations. Empty fields match all.
type DelegationFilter struct {
	ManagedByTenantID string
	SubscriptionID    string
}

// DelegationStore finds the active delegations. ResourceDelegations reads
// them from registration rows in a ResourceStore.
type DelegationStore interface {
	// ListDelegations returns the active delegations matching f. Store
	// failures are returned wrapped.
	ListDelegations(ctx context.Context, f DelegationFilter) ([]Delegation, error)
}

// ResourceDelegations is the DelegationStore over registration definitions
// and assignments stored as resources. It reads the rows on every call, so
// deleting an assignment (or its resource group) revokes access at once.
type ResourceDelegations struct {
	Store galleon.ResourceStore
}

// ListDelegations returns one Delegation for each delegable authorization of
// the definition of each assignment that is Succeeded and whose definition
// exists in the same subscription. Authorizations of roles that may not be
// delegated (see ValidateDelegatedRole) are skipped, so a row written around
// the API's validation still grants no right to assign roles.
func (d *ResourceDelegations) ListDelegations(ctx context.Context, f DelegationFilter) ([]Delegation, error) {
	rows, _, err := d.Store.ListResources(ctx, galleon.ResourceFilter{Type: RegistrationAssignmentType, SubscriptionID: f.SubscriptionID})
	if err != nil {
		return nil, fmt.Errorf("list registration assignments: %w", err)
	}
	defs := map[string]*RegistrationDefinitionProperties{} // normalized ID -> properties, nil if unusable
	var out []Delegation
	for _, row := range rows {
		var ap RegistrationAssignmentProperties
		if json.Unmarshal(row.Properties, &ap) != nil || !strings.EqualFold(ap.ProvisioningState, DelegationSucceeded) {
			continue
		}
		aid, err := galleon.ParseResourceID(row.ID)
		if err != nil || aid.Scope != nil || aid.SubscriptionID == "" || !strings.EqualFold(aid.Type(), RegistrationAssignmentType) {
			continue // only subscriptions and resource groups are delegated
		}
		scope := galleon.NormalizeScope(galleon.ResourceID{SubscriptionID: aid.SubscriptionID, ResourceGroup: aid.ResourceGroup}.String())
		did, err := galleon.ParseResourceID(ap.RegistrationDefinitionID)
		if err != nil || !strings.EqualFold(did.SubscriptionID, aid.SubscriptionID) || !strings.EqualFold(did.Type(), RegistrationDefinitionType) {
			continue
		}
		key := galleon.NormalizeScope(did.String())
		def, seen := defs[key]
		if !seen {
			def, err = d.definition(ctx, did.String())
			if err != nil {
				return nil, err
			}
			defs[key] = def
		}
		if def == nil || (f.ManagedByTenantID != "" && !strings.EqualFold(def.ManagedByTenantID, f.ManagedByTenantID)) {
			continue
		}
		for _, a := range def.Authorizations {
			guid := definitionGUID(a.RoleDefinitionID)
			if ValidateDelegatedRole(guid) != nil || strings.TrimSpace(a.PrincipalID) == "" {
				continue
			}
			out = append(out, Delegation{
				AssignmentID: row.ID, DefinitionID: did.String(), Scope: scope, SubscriptionID: aid.SubscriptionID,
				ManagedByTenantID: def.ManagedByTenantID, PrincipalID: a.PrincipalID, RoleDefinitionID: strings.ToLower(guid),
			})
		}
	}
	return out, nil
}

// definition loads a registration definition's properties, or nil when it
// is missing or not Succeeded.
func (d *ResourceDelegations) definition(ctx context.Context, id string) (*RegistrationDefinitionProperties, error) {
	r, err := d.Store.GetResource(ctx, id)
	if galleon.ErrorCode(err) == galleon.ENotFound {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("get registration definition %s: %w", id, err)
	}
	var p RegistrationDefinitionProperties
	if !strings.EqualFold(r.Type, RegistrationDefinitionType) || json.Unmarshal(r.Properties, &p) != nil ||
		!strings.EqualFold(p.ProvisioningState, DelegationSucceeded) || p.ManagedByTenantID == "" {
		return nil, nil
	}
	return &p, nil
}

// ValidateDelegatedRole returns nil if the role roleDefinitionID names (a
// GUID or role definition ID) may be granted through delegated management.
// As in Azure, only built-in roles qualify, and none that can grant access:
// Owner and User Access Administrator (any role allowing
// Microsoft.Authorization/roleAssignments/write) are refused, so a managing
// tenant can never hand the customer's resources on to others.
//
// Errors are EInvalid with Reason "InvalidRoleDefinitionId" (unknown or
// custom role) or "RoleNotDelegable" (a role that grants access).
func ValidateDelegatedRole(roleDefinitionID string) error {
	guid := definitionGUID(roleDefinitionID)
	d := lookupBuiltin(guid)
	if d == nil || !strings.EqualFold(d.Name, guid) {
		return galleon.ReasonErrorf(galleon.EInvalid, "InvalidRoleDefinitionId",
			"The role definition '%s' is not a built-in role. Delegated management grants built-in roles only, named by GUID (Reader is '%s', Contributor '%s').",
			roleDefinitionID, ReaderRoleID, ContributorRoleID)
	}
	if allows(d, "Microsoft.Authorization/roleAssignments/write") {
		return galleon.ReasonErrorf(galleon.EInvalid, "RoleNotDelegable",
			"The role '%s' (%s) cannot be granted through delegated management: it allows assigning roles, which would let the managing tenant pass the customer's resources on. Use a role without Microsoft.Authorization write rights, such as Contributor ('%s') or Reader ('%s').",
			d.RoleName, d.Name, ContributorRoleID, ReaderRoleID)
	}
	return nil
}

// DelegationsOf returns the active delegations that apply to p: those whose
// managing tenant is p's tenant and whose principal is p or one of its
// groups. It returns nil when the Authorizer has no DelegationStore. Returns
// EUnauthenticated when p is nil; store failures are wrapped.
func (a *Authorizer) DelegationsOf(ctx context.Context, p *galleon.Principal) ([]Delegation, error) {
	ids, err := principalIDs(p)
	if err != nil || a.Delegations == nil {
		return nil, err
	}
	all, err := a.Delegations.ListDelegations(ctx, DelegationFilter{ManagedByTenantID: p.TenantID})
	if err != nil {
		return nil, err
	}
	var out []Delegation
	for _, d := range all {
		if strings.EqualFold(d.ManagedByTenantID, p.TenantID) && holds(ids, d.PrincipalID) {
			out = append(out, d)
		}
	}
	return out, nil
}

// ManagingTenants returns the IDs of the tenants that hold an active
// delegation somewhere in the subscription, sorted: what ARM shows as the
// subscription's managedByTenants. Store failures are wrapped.
func (a *Authorizer) ManagingTenants(ctx context.Context, subscriptionID string) ([]string, error) {
	if a.Delegations == nil {
		return nil, nil
	}
	ds, err := a.Delegations.ListDelegations(ctx, DelegationFilter{SubscriptionID: subscriptionID})
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []string
	for _, d := range ds {
		if !strings.EqualFold(d.SubscriptionID, subscriptionID) {
			continue
		}
		k := strings.ToLower(d.ManagedByTenantID)
		if !seen[k] {
			seen[k] = true
			out = append(out, d.ManagedByTenantID)
		}
	}
	sort.Strings(out)
	return out, nil
}

// delegatedGrants returns p's delegations whose scope is related to scope
// (contains it, or lies under it when below is set) as grants.
func (a *Authorizer) delegatedGrants(ctx context.Context, p *galleon.Principal, scope string, below bool) ([]grant, error) {
	ds, err := a.DelegationsOf(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("load delegations of %s: %w", p.ObjectID, err)
	}
	var out []grant
	for _, d := range ds {
		if !galleon.ScopeContains(d.Scope, scope) && !(below && galleon.ScopeContains(scope, d.Scope)) {
			continue
		}
		if def := lookupBuiltin(d.RoleDefinitionID); def != nil && ValidateDelegatedRole(d.RoleDefinitionID) == nil {
			out = append(out, grant{scope: galleon.NormalizeScope(d.Scope), def: def})
		}
	}
	return out, nil
}
