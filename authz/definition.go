package authz

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"unicode"

	"github.com/galleonhq/galleon"
)

// RoleDefinition returns the built-in or custom role definition whose GUID
// is name (a full role definition ARM ID is accepted too). Built-in
// definitions are fresh copies.
//
// Returns ENotFound with Reason "RoleDefinitionDoesNotExist" if there is no
// such definition; store failures are wrapped.
func (a *Authorizer) RoleDefinition(ctx context.Context, name string) (*galleon.RoleDefinition, error) {
	guid := definitionGUID(name)
	if isBuiltinID(guid) {
		return BuiltInRole(guid), nil
	}
	if guid == "" {
		return nil, roleDefinitionNotFound(name)
	}
	d, err := a.Store.GetRoleDefinition(ctx, guid)
	if galleon.ErrorCode(err) == galleon.ENotFound {
		return nil, roleDefinitionNotFound(name)
	} else if err != nil {
		return nil, fmt.Errorf("get role definition %s: %w", guid, err)
	}
	return d, nil
}

func roleDefinitionNotFound(name string) *galleon.Error {
	return galleon.ReasonErrorf(galleon.ENotFound, "RoleDefinitionDoesNotExist",
		"The specified role definition with ID '%s' does not exist. List the role definitions available at a scope with GET {scope}/providers/Microsoft.Authorization/roleDefinitions, or create the custom role first.",
		name)
}

// ListRoleDefinitions returns the role definitions usable at scope: every
// built-in role (assignable everywhere), then the custom roles one of whose
// assignable scopes contains scope or lies under it, sorted by role name.
// Listing at a subscription therefore shows roles made for it, for its
// resource groups and for its resources; listing at "/" (or "") shows every
// custom role. When roleName is not "", only definitions with that role
// name (compared case-insensitively) are returned, which is how clients
// resolve "--role Reader" to a GUID. Store failures are wrapped.
func (a *Authorizer) ListRoleDefinitions(ctx context.Context, scope string, roleName string) ([]*galleon.RoleDefinition, error) {
	roleName = strings.TrimSpace(roleName)
	keep := func(d *galleon.RoleDefinition) bool {
		return roleName == "" || strings.EqualFold(d.RoleName, roleName)
	}
	var out []*galleon.RoleDefinition
	for _, d := range builtins {
		if keep(d) {
			out = append(out, copyDefinition(d))
		}
	}
	custom, err := a.Store.ListRoleDefinitions(ctx)
	if err != nil {
		return nil, fmt.Errorf("list role definitions at %s: %w", scope, err)
	}
	var usable []*galleon.RoleDefinition
	for _, d := range custom {
		if keep(d) && usableAt(d, scope) {
			usable = append(usable, d)
		}
	}
	sort.SliceStable(usable, func(i, j int) bool {
		ri, rj := strings.ToLower(usable[i].RoleName), strings.ToLower(usable[j].RoleName)
		if ri != rj {
			return ri < rj
		}
		return strings.ToLower(usable[i].Name) < strings.ToLower(usable[j].Name)
	})
	return append(out, usable...), nil
}

// usableAt reports whether d is relevant at scope: an assignable scope of d
// contains scope or is contained in it.
func usableAt(d *galleon.RoleDefinition, scope string) bool {
	for _, as := range d.AssignableScopes {
		if galleon.ScopeContains(as, scope) || galleon.ScopeContains(scope, as) {
			return true
		}
	}
	return false
}

// CanAssignAt returns nil if d may be assigned at scope, that is if one of
// its assignable scopes is scope or an ancestor of it. Built-in roles
// (assignable at "/") may be assigned anywhere.
//
// Returns EForbidden with Reason
// "RoleAssignmentScopeNotAssignableToRoleDefinition" otherwise, as ARM does.
func CanAssignAt(d *galleon.RoleDefinition, scope string) error {
	if d == nil {
		return galleon.ReasonErrorf(galleon.ENotFound, "RoleDefinitionDoesNotExist",
			"No role definition was given for the assignment at scope '%s'. Name an existing role definition in properties.roleDefinitionId.", scope)
	}
	for _, as := range d.AssignableScopes {
		if galleon.ScopeContains(as, scope) {
			return nil
		}
	}
	return galleon.ReasonErrorf(galleon.EForbidden, "RoleAssignmentScopeNotAssignableToRoleDefinition",
		"The role '%s' (%s) is not available for assignment at scope '%s': it is assignable only at or under %s. Assign it within one of those scopes, or add the scope to the role definition's assignableScopes.",
		d.RoleName, d.Name, scope, quoteList(d.AssignableScopes))
}

func quoteList(ss []string) string {
	if len(ss) == 0 {
		return "no scope"
	}
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = "'" + s + "'"
	}
	return strings.Join(q, ", ")
}

// ValidateRoleDefinition checks a custom role definition before it is
// stored: Type is "" or CustomRole; Name, if set, is a GUID other than a
// built-in role's; RoleName is set and is not a built-in role's name; there
// is at least one assignable scope, each a well-formed subscription,
// resource group or resource ID (never "/", which only built-in roles use);
// at least one action or data action is granted; and every action pattern
// is a non-empty string without spaces.
//
// Returns EInvalid with Reason "InvalidRoleDefinition" and Target naming
// the field (as an ARM JSON path, "properties.assignableScopes[1]"), or
// EConflict with Reason "RoleDefinitionWithSameNameExists" when RoleName is
// a built-in role's.
func ValidateRoleDefinition(d *galleon.RoleDefinition) error {
	invalid := func(target, format string, args ...any) error {
		return galleon.ReasonErrorf(galleon.EInvalid, "InvalidRoleDefinition", format, args...).WithTarget(target)
	}
	if d == nil {
		return invalid("properties", "The role definition is empty. Send a body with properties.roleName, properties.permissions and properties.assignableScopes.")
	}
	if d.Type != "" && d.Type != galleon.CustomRole {
		return invalid("properties.type", "The role definition type '%s' is not valid: only '%s' definitions can be created or changed.", d.Type, galleon.CustomRole)
	}
	if d.Name != "" {
		if !isGUID(d.Name) {
			return invalid("name", "The role definition name '%s' is not valid: it must be a GUID such as '00000000-0000-0000-0000-000000000000'.", d.Name)
		}
		if b := lookupBuiltin(d.Name); b != nil {
			return invalid("name", "The role definition name '%s' is the ID of the built-in role '%s', which cannot be changed. Create a custom role under a new GUID.", d.Name, b.RoleName)
		}
	}
	if strings.TrimSpace(d.RoleName) == "" {
		return invalid("properties.roleName", "The role definition has no roleName. Set properties.roleName to a display name such as 'Gallery Publisher'.")
	}
	if b := lookupBuiltin(d.RoleName); b != nil && strings.EqualFold(b.RoleName, strings.TrimSpace(d.RoleName)) {
		return galleon.ReasonErrorf(galleon.EConflict, "RoleDefinitionWithSameNameExists",
			"A built-in role named '%s' already exists. Choose another roleName for the custom role.", b.RoleName).WithTarget("properties.roleName")
	}
	if len(d.AssignableScopes) == 0 {
		return invalid("properties.assignableScopes", "The role definition has no assignable scopes. Set properties.assignableScopes to the subscriptions, resource groups or resources where the role may be assigned, e.g. ['/subscriptions/{subscriptionId}'].")
	}
	for i, s := range d.AssignableScopes {
		target := fmt.Sprintf("properties.assignableScopes[%d]", i)
		id, err := galleon.ParseResourceID(s)
		if err != nil {
			return invalid(target, "%s Assignable scopes must be subscription, resource group or resource IDs.", galleon.ErrorMessage(err))
		}
		if id.SubscriptionID == "" && id.Namespace == "" {
			return invalid(target, "The assignable scope '%s' is the root scope, which custom roles cannot use. Use a subscription, resource group or resource ID.", s)
		}
	}
	if len(d.Permissions) == 0 {
		return invalid("properties.permissions", "The role definition has no permissions. Add a permission block with at least one action, e.g. {\"actions\": [\"Microsoft.Compute/galleries/read\"]}.")
	}
	granted := false
	for i, p := range d.Permissions {
		lists := []struct {
			field    string
			patterns []string
		}{
			{"actions", p.Actions},
			{"notActions", p.NotActions},
			{"dataActions", p.DataActions},
			{"notDataActions", p.NotDataActions},
		}
		for _, l := range lists {
			for j, a := range l.patterns {
				target := fmt.Sprintf("properties.permissions[%d].%s[%d]", i, l.field, j)
				if a == "" {
					return invalid(target, "The permission %s is empty. Remove it or name an operation such as 'Microsoft.Compute/galleries/read'.", target)
				}
				if strings.IndexFunc(a, unicode.IsSpace) >= 0 {
					return invalid(target, "The operation '%s' in %s contains white space, which operation names never do. Use a name such as 'Microsoft.Compute/galleries/read'.", a, target)
				}
			}
		}
		if len(p.Actions) > 0 || len(p.DataActions) > 0 {
			granted = true
		}
	}
	if !granted {
		return invalid("properties.permissions", "The role definition grants nothing: none of its permission blocks lists actions or dataActions. Add at least one action.")
	}
	return nil
}

// isGUID reports whether s has the 8-4-4-4-12 hexadecimal form of a GUID.
func isGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}
