package authz

import (
	"context"
	"fmt"
	"strings"

	"github.com/galleonhq/galleon"
)

// Authorizer decides whether a principal may perform an action at a scope,
// from the role assignments and custom role definitions in Store. It holds
// no state of its own, so one Authorizer serves every request concurrently.
type Authorizer struct {
	Store galleon.RBACStore
	// Delegations, when set, adds delegated management (Azure Lighthouse):
	// a principal's active delegations count as role assignments at their
	// delegated scopes. See ResourceDelegations.
	Delegations DelegationStore
}

// Authorize returns nil if p may perform action (a control-plane action such
// as "Microsoft.Compute/galleries/write") at scope (an ARM ID such as a
// resource group or gallery).
//
// Access is granted when some role assignment to p or to one of p's groups,
// at scope or at one of its ancestors, names a role with a permission block
// in which an action pattern matches action and no notAction pattern does.
// Assignments whose role definition no longer exists grant nothing. There
// are no deny assignments. Active delegations to p (see DelegationsOf) count
// as assignments of their role at their delegated scope.
//
// Returns EUnauthenticated when p is nil, and EForbidden with Reason
// "AuthorizationFailed" and ARM's message when access is not granted.
// Store failures are returned wrapped.
func (a *Authorizer) Authorize(ctx context.Context, p *galleon.Principal, action, scope string) error {
	ok, err := a.Allowed(ctx, p, action, scope)
	if err != nil {
		return err
	} else if !ok {
		return authorizationFailed(p, action, scope)
	}
	return nil
}

// Allowed reports whether p may perform action at scope, with the rules of
// Authorize. The error is non-nil only when p is nil (EUnauthenticated) or
// the store fails, never merely because access is denied.
func (a *Authorizer) Allowed(ctx context.Context, p *galleon.Principal, action, scope string) (bool, error) {
	ids, err := principalIDs(p)
	if err != nil {
		return false, err
	}
	s := galleon.NormalizeScope(scope)
	assignments, err := a.Store.ListRoleAssignments(ctx, galleon.RoleAssignmentFilter{AtOrAbove: s, PrincipalIDs: ids})
	if err != nil {
		return false, fmt.Errorf("authorize %s at %s: list role assignments: %w", action, scope, err)
	}
	r := resolver{store: a.Store}
	for _, ra := range assignments {
		// Re-check what the store was asked for, so that a store with a
		// looser filter can never widen access.
		if !holds(ids, ra.PrincipalID) || !galleon.ScopeContains(ra.Scope, s) {
			continue
		}
		d, err := r.definition(ctx, ra.RoleDefinitionID)
		if err != nil {
			return false, fmt.Errorf("authorize %s at %s: %w", action, scope, err)
		}
		if d != nil && allows(d, action) {
			return true, nil
		}
	}
	// Delegations are looked up only when role assignments do not grant
	// access, so the common case costs no extra query.
	delegated, err := a.delegatedGrants(ctx, p, s, false)
	if err != nil {
		return false, fmt.Errorf("authorize %s at %s: %w", action, scope, err)
	}
	for _, g := range delegated {
		if allows(g.def, action) {
			return true, nil
		}
	}
	return false, nil
}

// Checker answers many access questions about one principal under one
// scope from assignments loaded once, for listing endpoints that filter
// many resources. It is a snapshot: assignments changed after it was made
// are not seen. It is safe for concurrent use.
type Checker struct {
	principal *galleon.Principal
	root      string // normalized
	grants    []grant
}

// grant is one applicable assignment with its resolved role definition.
type grant struct {
	scope string // normalized
	def   *galleon.RoleDefinition
}

// Checker loads every role assignment of p (or of its groups) at or above
// scopeRoot and at or below it, and p's delegations there, resolving their
// role definitions, and returns a Checker that answers for scopeRoot and
// anything under it.
// Returns EUnauthenticated when p is nil; store failures are wrapped.
func (a *Authorizer) Checker(ctx context.Context, p *galleon.Principal, scopeRoot string) (*Checker, error) {
	ids, err := principalIDs(p)
	if err != nil {
		return nil, err
	}
	root := galleon.NormalizeScope(scopeRoot)
	above, err := a.Store.ListRoleAssignments(ctx, galleon.RoleAssignmentFilter{AtOrAbove: root, PrincipalIDs: ids})
	if err != nil {
		return nil, fmt.Errorf("load role assignments at or above %s: %w", scopeRoot, err)
	}
	below, err := a.Store.ListRoleAssignments(ctx, galleon.RoleAssignmentFilter{AtOrBelow: root, PrincipalIDs: ids})
	if err != nil {
		return nil, fmt.Errorf("load role assignments below %s: %w", scopeRoot, err)
	}
	c := &Checker{principal: p, root: root}
	r := resolver{store: a.Store}
	seen := make(map[string]bool, len(above)+len(below))
	for _, ra := range append(above, below...) {
		s := galleon.NormalizeScope(ra.Scope)
		if !holds(ids, ra.PrincipalID) || !(galleon.ScopeContains(s, root) || galleon.ScopeContains(root, s)) {
			continue
		}
		key := strings.ToLower(ra.Name) + "\x00" + s // the name alone is unique; the scope guards odd stores
		if seen[key] {
			continue // an assignment at scopeRoot itself comes back twice
		}
		seen[key] = true
		d, err := r.definition(ctx, ra.RoleDefinitionID)
		if err != nil {
			return nil, fmt.Errorf("load role assignments around %s: %w", scopeRoot, err)
		} else if d != nil {
			c.grants = append(c.grants, grant{scope: s, def: d})
		}
	}
	delegated, err := a.delegatedGrants(ctx, p, root, true)
	if err != nil {
		return nil, fmt.Errorf("load role assignments around %s: %w", scopeRoot, err)
	}
	c.grants = append(c.grants, delegated...)
	return c, nil
}

// Allowed reports whether the Checker's principal may perform action at
// scope. scope must be the Checker's root or under it; for any other scope
// Allowed answers false, since the assignments that could apply there were
// not loaded.
func (c *Checker) Allowed(action, scope string) bool {
	if c == nil {
		return false
	}
	s := galleon.NormalizeScope(scope)
	if !galleon.ScopeContains(c.root, s) {
		return false
	}
	for _, g := range c.grants {
		if galleon.ScopeContains(g.scope, s) && allows(g.def, action) {
			return true
		}
	}
	return false
}

// Authorize is Allowed returning the error Authorizer.Authorize would:
// EForbidden with Reason "AuthorizationFailed" when access is denied.
func (c *Checker) Authorize(action, scope string) error {
	if c == nil {
		return galleon.ReasonErrorf(galleon.EUnauthenticated, "AuthenticationFailed", "The request has no authenticated caller. Send a bearer token in the Authorization header.")
	}
	if !c.Allowed(action, scope) {
		return authorizationFailed(c.principal, action, scope)
	}
	return nil
}

// allows reports whether some permission block of d allows action: one of
// its action patterns matches and none of its notAction patterns does.
// Blocks are independent, as in ARM: a notAction only subtracts from the
// actions of its own block.
func allows(d *galleon.RoleDefinition, action string) bool {
	for _, perm := range d.Permissions {
		if matchesAny(perm.Actions, action) && !matchesAny(perm.NotActions, action) {
			return true
		}
	}
	return false
}

func matchesAny(patterns []string, action string) bool {
	for _, p := range patterns {
		if MatchAction(p, action) {
			return true
		}
	}
	return false
}

// resolver finds role definitions by GUID, built-in first, remembering
// custom ones for the duration of one evaluation.
type resolver struct {
	store  galleon.RBACStore
	custom map[string]*galleon.RoleDefinition // lower-case GUID -> definition, nil if missing
}

// definition returns the definition id names, or nil (and no error) when
// no such definition exists: an assignment of a deleted custom role grants
// nothing. id is a GUID; a full role definition ARM ID is tolerated.
func (r *resolver) definition(ctx context.Context, id string) (*galleon.RoleDefinition, error) {
	guid := definitionGUID(id)
	if isBuiltinID(guid) {
		return lookupBuiltin(guid), nil
	}
	key := strings.ToLower(guid)
	if d, ok := r.custom[key]; ok {
		return d, nil
	}
	d, err := r.store.GetRoleDefinition(ctx, guid)
	if galleon.ErrorCode(err) == galleon.ENotFound {
		d, err = nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("get role definition %s: %w", guid, err)
	}
	if r.custom == nil {
		r.custom = make(map[string]*galleon.RoleDefinition)
	}
	r.custom[key] = d
	return d, nil
}

// definitionGUID returns the GUID of a role definition named by GUID or by
// ARM ID (".../providers/Microsoft.Authorization/roleDefinitions/{guid}").
func definitionGUID(id string) string {
	id = strings.TrimSpace(id)
	id = strings.TrimRight(id, "/")
	if i := strings.LastIndexByte(id, '/'); i >= 0 {
		return id[i+1:]
	}
	return id
}

// principalIDs returns the non-empty IDs a role assignment may name to
// apply to p. It refuses a nil principal or one without an object ID: an
// empty filter would match every principal's assignments.
func principalIDs(p *galleon.Principal) ([]string, error) {
	if p == nil || strings.TrimSpace(p.ObjectID) == "" {
		return nil, galleon.ReasonErrorf(galleon.EUnauthenticated, "AuthenticationFailed",
			"The request has no authenticated caller. Send a bearer token in the Authorization header.")
	}
	all := p.IDs()
	ids := make([]string, 0, len(all))
	for _, id := range all {
		if strings.TrimSpace(id) != "" {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// holds reports whether principalID is one of ids, case-insensitively.
func holds(ids []string, principalID string) bool {
	for _, id := range ids {
		if strings.EqualFold(id, principalID) {
			return true
		}
	}
	return false
}

// authorizationFailed builds ARM's AuthorizationFailed error. ARM names the
// client first (for a service principal its application ID, the client ID
// the caller signed in with), then the object ID.
func authorizationFailed(p *galleon.Principal, action, scope string) *galleon.Error {
	client := p.ObjectID
	if p.Type == galleon.PrincipalServicePrincipal && p.AppID != "" {
		client = p.AppID
	}
	return galleon.ReasonErrorf(galleon.EForbidden, "AuthorizationFailed",
		"The client '%s' with object id '%s' does not have authorization to perform action '%s' over scope '%s' or the scope is invalid. If access was recently granted, please refresh your credentials.",
		client, p.ObjectID, action, scope)
}
