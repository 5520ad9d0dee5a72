package arm

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/galleonhq/galleon"
	"github.com/galleonhq/galleon/authz"
)

const (
	roleAssignmentType = "Microsoft.Authorization/roleAssignments"
	roleDefinitionType = "Microsoft.Authorization/roleDefinitions"
)

func extensionPrefix(scope string) string {
	if scope == "/" {
		return ""
	}
	return scope
}

// subscriptionPrefix is "/subscriptions/{id}" when the scope lies in a
// subscription: built-in role definitions are shown under it, as Azure does.
func subscriptionPrefix(scope string) string {
	id, err := galleon.ParseResourceID(scope)
	if err != nil || id.SubscriptionID == "" {
		return ""
	}
	return "/subscriptions/" + id.SubscriptionID
}

func roleDefinitionARMID(scope, name string) string {
	return subscriptionPrefix(scope) + "/providers/Microsoft.Authorization/roleDefinitions/" + name
}

func roleAssignmentJSON(a *galleon.RoleAssignment) map[string]any {
	props := map[string]any{
		"roleDefinitionId": roleDefinitionARMID(a.Scope, a.RoleDefinitionID),
		"principalId":      a.PrincipalID,
		"principalType":    a.PrincipalType,
		"scope":            a.Scope,
		"createdOn":        a.CreatedAt.Format(time.RFC3339Nano),
		"updatedOn":        a.UpdatedAt.Format(time.RFC3339Nano),
		"createdBy":        a.CreatedBy,
		"updatedBy":        a.UpdatedBy,
		"description":      nilIfEmpty(a.Description),
		"condition":        nilIfEmpty(a.Condition),
		"conditionVersion": nilIfEmpty(a.ConditionVersion),
	}
	return map[string]any{
		"id":         extensionPrefix(a.Scope) + "/providers/Microsoft.Authorization/roleAssignments/" + a.Name,
		"name":       a.Name,
		"type":       roleAssignmentType,
		"properties": props,
	}
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

type roleAssignmentBody struct {
	Properties *struct {
		RoleDefinitionID *string `json:"roleDefinitionId"`
		PrincipalID      *string `json:"principalId"`
		PrincipalType    string  `json:"principalType"`
		Description      string  `json:"description"`
		Condition        string  `json:"condition"`
		ConditionVersion string  `json:"conditionVersion"`
	} `json:"properties"`
}

func isGUID(s string) bool {
	_, err := uuid.Parse(s)
	return err == nil && len(s) == 36
}

// roleDefinitionName extracts the GUID from a role definition ARM ID.
func roleDefinitionName(id string) (string, error) {
	segs := splitPath(id)
	n := len(segs)
	if n >= 4 && strings.EqualFold(segs[n-4], "providers") && strings.EqualFold(segs[n-3], "Microsoft.Authorization") &&
		strings.EqualFold(segs[n-2], "roleDefinitions") && isGUID(segs[n-1]) {
		return strings.ToLower(segs[n-1]), nil
	}
	if n == 1 && isGUID(segs[0]) {
		return strings.ToLower(segs[0]), nil
	}
	return "", (&galleon.Error{Code: galleon.EInvalid, Reason: "InvalidRoleDefinitionId",
		Message: fmt.Sprintf("The role definition ID '%s' is not valid. Use '/subscriptions/{subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/{roleDefinitionGuid}'.", id)}).WithTarget("properties.roleDefinitionId")
}

// checkScopeExists makes sure a scope names something that exists.
func (s *Server) checkScopeExists(c *call, scope string) error {
	id, err := galleon.ParseResourceID(scope)
	if err != nil {
		return err
	}
	if id.ResourceGroup != "" {
		if _, err := s.loadResourceGroup(c.ctx, id.SubscriptionID, id.ResourceGroup); err != nil {
			return err
		}
	}
	if id.Namespace != "" {
		if _, err := s.Store.GetResource(c.ctx, scope); galleon.ErrorCode(err) == galleon.ENotFound {
			return galleon.ReasonErrorf(galleon.ENotFound, "ResourceNotFound", "The resource '%s' was not found.", scope)
		} else if err != nil {
			return err
		}
	}
	return nil
}

// principalType finds a principal in the scope's tenant and returns its type.
func (s *Server) principalType(c *call, tenantID, id string) (string, error) {
	if _, err := s.Store.GetUser(c.ctx, tenantID, id); err == nil {
		return galleon.PrincipalUser, nil
	} else if galleon.ErrorCode(err) != galleon.ENotFound {
		return "", err
	}
	if sp, err := s.Store.GetServicePrincipal(c.ctx, tenantID, id); err == nil && strings.EqualFold(sp.ID, id) {
		return galleon.PrincipalServicePrincipal, nil
	} else if err != nil && galleon.ErrorCode(err) != galleon.ENotFound {
		return "", err
	}
	if _, err := s.Store.GetGroup(c.ctx, tenantID, id); err == nil {
		return galleon.PrincipalGroup, nil
	} else if galleon.ErrorCode(err) != galleon.ENotFound {
		return "", err
	}
	return "", (&galleon.Error{Code: galleon.EInvalid, Reason: "PrincipalNotFound",
		Message: fmt.Sprintf("Principal %s does not exist in the directory %s. Check the object ID (not the application ID) of the user, group or service principal.", id, tenantID)}).WithTarget("properties.principalId")
}

func (s *Server) scopeTenant(c *call) string {
	if c.sub != nil {
		return c.sub.TenantID
	}
	return c.p.TenantID
}

func (s *Server) putRoleAssignment(c *call) error {
	name := c.v("name")
	if !isGUID(name) {
		return (&galleon.Error{Code: galleon.EInvalid, Reason: "InvalidRoleAssignmentId",
			Message: fmt.Sprintf("The role assignment ID '%s' is not valid. The role assignment ID must be a GUID.", name)}).WithTarget("roleAssignmentName")
	}
	if err := s.authorize(c, "Microsoft.Authorization/roleAssignments/write", c.scope); err != nil {
		return err
	}
	var body roleAssignmentBody
	if err := s.decodeBody(c, &body); err != nil {
		return err
	}
	if body.Properties == nil {
		return (&galleon.Error{Code: galleon.EInvalid, Reason: "InvalidRequestContent", Message: "The request body must have a 'properties' object with roleDefinitionId and principalId."}).WithTarget("properties")
	}
	p := body.Properties
	if p.RoleDefinitionID == nil || *p.RoleDefinitionID == "" {
		return (&galleon.Error{Code: galleon.EInvalid, Reason: "InvalidRequestContent", Message: "properties.roleDefinitionId is required."}).WithTarget("properties.roleDefinitionId")
	}
	if p.PrincipalID == nil || !isGUID(*p.PrincipalID) {
		return (&galleon.Error{Code: galleon.EInvalid, Reason: "InvalidPrincipalId", Message: "properties.principalId is required and must be the object ID (a GUID) of a user, group or service principal."}).WithTarget("properties.principalId")
	}
	if err := s.checkScopeExists(c, c.scope); err != nil {
		return err
	}
	defName, err := roleDefinitionName(*p.RoleDefinitionID)
	if err != nil {
		return err
	}
	def, err := s.Authz.RoleDefinition(c.ctx, defName)
	if err != nil {
		return err
	}
	if err := authz.CanAssignAt(def, c.scope); err != nil {
		return err
	}
	principalID := strings.ToLower(*p.PrincipalID)
	ptype, err := s.principalType(c, s.scopeTenant(c), principalID)
	if err != nil {
		return err
	}
	if p.PrincipalType != "" && !strings.EqualFold(p.PrincipalType, ptype) {
		return (&galleon.Error{Code: galleon.EInvalid, Reason: "UnmatchedPrincipalType",
			Message: fmt.Sprintf("The principal type '%s' given for principal %s does not match its actual type '%s'. Leave principalType out or set it to '%s'.", p.PrincipalType, principalID, ptype, ptype)}).WithTarget("properties.principalType")
	}
	if existing, err := s.Store.GetRoleAssignment(c.ctx, name); err == nil {
		same := galleon.NormalizeScope(existing.Scope) == galleon.NormalizeScope(c.scope) &&
			strings.EqualFold(existing.RoleDefinitionID, def.Name) && strings.EqualFold(existing.PrincipalID, principalID)
		if !same {
			return galleon.ReasonErrorf(galleon.EInvalid, "RoleAssignmentUpdateNotPermitted",
				"Tenant ID, application ID, principal ID, and scope are not allowed to be updated. The role assignment '%s' already exists with other values; delete it first or use a new GUID.", name)
		}
		writeJSON(c.w, http.StatusCreated, roleAssignmentJSON(existing))
		return nil
	} else if galleon.ErrorCode(err) != galleon.ENotFound {
		return err
	}
	now := s.now()
	a := &galleon.RoleAssignment{
		Name: strings.ToLower(name), Scope: c.scope, RoleDefinitionID: def.Name, PrincipalID: principalID,
		PrincipalType: ptype, Description: p.Description, Condition: p.Condition, ConditionVersion: p.ConditionVersion,
		CreatedAt: now, UpdatedAt: now, CreatedBy: c.p.ObjectID, UpdatedBy: c.p.ObjectID,
	}
	if err := s.Store.CreateRoleAssignment(c.ctx, a); err != nil {
		if e := galleon.AsError(err); e != nil && e.Reason == "RoleAssignmentExists" {
			return galleon.ReasonErrorf(galleon.EConflict, "RoleAssignmentExists", "The role assignment already exists: principal %s already holds '%s' at scope '%s'.", principalID, def.RoleName, c.scope)
		}
		return err
	}
	writeJSON(c.w, http.StatusCreated, roleAssignmentJSON(a))
	return nil
}

func (s *Server) findRoleAssignment(c *call) (*galleon.RoleAssignment, error) {
	a, err := s.Store.GetRoleAssignment(c.ctx, c.v("name"))
	if err == nil && galleon.NormalizeScope(a.Scope) != galleon.NormalizeScope(c.scope) {
		err = galleon.Errorf(galleon.ENotFound, "wrong scope")
	}
	if galleon.ErrorCode(err) == galleon.ENotFound {
		return nil, galleon.ReasonErrorf(galleon.ENotFound, "RoleAssignmentNotFound", "The role assignment '%s' is not found at scope '%s'.", c.v("name"), c.scope)
	}
	return a, err
}

func (s *Server) getRoleAssignment(c *call) error {
	if err := s.authorize(c, "Microsoft.Authorization/roleAssignments/read", c.scope); err != nil {
		return err
	}
	a, err := s.findRoleAssignment(c)
	if err != nil {
		return err
	}
	writeJSON(c.w, http.StatusOK, roleAssignmentJSON(a))
	return nil
}

func (s *Server) deleteRoleAssignment(c *call) error {
	if err := s.authorize(c, "Microsoft.Authorization/roleAssignments/delete", c.scope); err != nil {
		return err
	}
	a, err := s.findRoleAssignment(c)
	if galleon.ErrorCode(err) == galleon.ENotFound {
		c.w.WriteHeader(http.StatusNoContent)
		return nil
	} else if err != nil {
		return err
	}
	if err := s.Store.DeleteRoleAssignment(c.ctx, a.Name); err != nil && galleon.ErrorCode(err) != galleon.ENotFound {
		return err
	}
	writeJSON(c.w, http.StatusOK, roleAssignmentJSON(a))
	return nil
}

func (s *Server) listRoleAssignments(c *call) error {
	if err := s.authorize(c, "Microsoft.Authorization/roleAssignments/read", c.scope); err != nil {
		return err
	}
	filter := c.r.URL.Query().Get("$filter")
	atScope := false
	var clauses []string
	for _, cl := range splitAnd(filter) {
		cl = strings.TrimSpace(cl)
		switch {
		case cl == "":
		case strings.EqualFold(strings.ReplaceAll(cl, " ", ""), "atScope()"):
			atScope = true
		default:
			clauses = append(clauses, cl)
		}
	}
	f, err := parseFilter(strings.Join(clauses, " and "), "principalId")
	if err != nil {
		return (&galleon.Error{Code: galleon.EInvalid, Reason: "InvalidFilterParameter",
			Message: fmt.Sprintf("The $filter '%s' is not supported. Use atScope(), principalId eq '{objectId}', or both joined by 'and'.", filter)}).WithTarget("$filter")
	}
	var ids []string
	if pid := f["principalId"]; pid != "" {
		ids = []string{pid}
	}
	filters := []galleon.RoleAssignmentFilter{{AtOrAbove: c.scope, PrincipalIDs: ids}}
	if !atScope {
		filters = append(filters, galleon.RoleAssignmentFilter{AtOrBelow: c.scope, PrincipalIDs: ids})
	}
	chk, err := s.Authz.Checker(c.ctx, c.p, c.scope)
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	out := []any{}
	for _, rf := range filters {
		as, err := s.Store.ListRoleAssignments(c.ctx, rf)
		if err != nil {
			return err
		}
		for _, a := range as {
			if seen[a.Name] {
				continue
			}
			seen[a.Name] = true
			// Assignments above the scope apply to it and are visible with it;
			// ones below need read access where they are.
			if galleon.ScopeContains(c.scope, a.Scope) && !chk.Allowed("Microsoft.Authorization/roleAssignments/read", a.Scope) {
				continue
			}
			out = append(out, roleAssignmentJSON(a))
		}
	}
	writeJSON(c.w, http.StatusOK, page{Value: out})
	return nil
}

func roleDefinitionJSON(scope string, d *galleon.RoleDefinition) map[string]any {
	perms := d.Permissions
	if perms == nil {
		perms = []galleon.Permission{}
	}
	for i := range perms {
		for _, l := range []*[]string{&perms[i].Actions, &perms[i].NotActions, &perms[i].DataActions, &perms[i].NotDataActions} {
			if *l == nil {
				*l = []string{}
			}
		}
	}
	prefix := subscriptionPrefix(scope)
	if d.Type == galleon.CustomRole && d.Scope != "" {
		prefix = subscriptionPrefix(d.Scope)
	}
	props := map[string]any{
		"roleName":         d.RoleName,
		"type":             d.Type,
		"description":      d.Description,
		"assignableScopes": d.AssignableScopes,
		"permissions":      perms,
	}
	if !d.CreatedAt.IsZero() {
		props["createdOn"] = d.CreatedAt.Format(time.RFC3339Nano)
		props["updatedOn"] = d.UpdatedAt.Format(time.RFC3339Nano)
		props["createdBy"] = d.CreatedBy
		props["updatedBy"] = d.UpdatedBy
	}
	return map[string]any{
		"id":         prefix + "/providers/Microsoft.Authorization/roleDefinitions/" + d.Name,
		"name":       d.Name,
		"type":       roleDefinitionType,
		"properties": props,
	}
}

func (s *Server) listRoleDefinitions(c *call) error {
	if err := s.authorize(c, "Microsoft.Authorization/roleDefinitions/read", c.scope); err != nil {
		return err
	}
	f, err := parseFilter(c.r.URL.Query().Get("$filter"), "roleName", "type")
	if err != nil {
		return err
	}
	defs, err := s.Authz.ListRoleDefinitions(c.ctx, c.scope, f["roleName"])
	if err != nil {
		return err
	}
	out := []any{}
	for _, d := range defs {
		if t := f["type"]; t != "" && !strings.EqualFold(t, d.Type) {
			continue
		}
		out = append(out, roleDefinitionJSON(c.scope, d))
	}
	writeJSON(c.w, http.StatusOK, page{Value: out})
	return nil
}

func (s *Server) getRoleDefinition(c *call) error {
	if err := s.authorize(c, "Microsoft.Authorization/roleDefinitions/read", c.scope); err != nil {
		return err
	}
	d, err := s.Authz.RoleDefinition(c.ctx, c.v("name"))
	if err != nil {
		return err
	}
	writeJSON(c.w, http.StatusOK, roleDefinitionJSON(c.scope, d))
	return nil
}

type roleDefinitionBody struct {
	Properties *struct {
		RoleName         string               `json:"roleName"`
		Description      string               `json:"description"`
		Type             string               `json:"type"`
		Permissions      []galleon.Permission `json:"permissions"`
		AssignableScopes []string             `json:"assignableScopes"`
	} `json:"properties"`
}

func (s *Server) putRoleDefinition(c *call) error {
	name := strings.ToLower(c.v("name"))
	if !isGUID(name) {
		return (&galleon.Error{Code: galleon.EInvalid, Reason: "InvalidRoleDefinitionId",
			Message: fmt.Sprintf("The role definition ID '%s' is not valid; it must be a GUID.", c.v("name"))}).WithTarget("roleDefinitionId")
	}
	if b := authz.BuiltInRole(name); b != nil {
		return galleon.ReasonErrorf(galleon.EForbidden, "RoleDefinitionBuiltInCannotBeModified", "The built-in role '%s' cannot be changed. Create a custom role with a new GUID instead.", b.RoleName)
	}
	var body roleDefinitionBody
	if err := s.decodeBody(c, &body); err != nil {
		return err
	}
	if body.Properties == nil {
		return (&galleon.Error{Code: galleon.EInvalid, Reason: "InvalidRequestContent", Message: "The request body must have a 'properties' object with roleName, permissions and assignableScopes."}).WithTarget("properties")
	}
	p := body.Properties
	if p.Type != "" && !strings.EqualFold(p.Type, galleon.CustomRole) {
		return (&galleon.Error{Code: galleon.EInvalid, Reason: "InvalidRoleDefinitionType", Message: "Only custom roles can be created: set properties.type to 'CustomRole' or leave it out."}).WithTarget("properties.type")
	}
	now := s.now()
	d := &galleon.RoleDefinition{
		Name: name, Scope: c.scope, RoleName: p.RoleName, Description: p.Description, Type: galleon.CustomRole,
		Permissions: p.Permissions, AssignableScopes: p.AssignableScopes,
		CreatedAt: now, UpdatedAt: now, CreatedBy: c.p.ObjectID, UpdatedBy: c.p.ObjectID,
	}
	if len(d.AssignableScopes) == 0 {
		d.AssignableScopes = []string{c.scope}
	}
	if err := authz.ValidateRoleDefinition(d); err != nil {
		return err
	}
	for _, sc := range d.AssignableScopes {
		if !galleon.ScopeContains(subscriptionPrefix(c.scope), sc) || subscriptionPrefix(c.scope) == "" {
			return (&galleon.Error{Code: galleon.EInvalid, Reason: "InvalidAssignableScope",
				Message: fmt.Sprintf("The assignable scope '%s' is not within the subscription the role is created in ('%s').", sc, subscriptionPrefix(c.scope))}).WithTarget("properties.assignableScopes")
		}
		if err := s.authorize(c, "Microsoft.Authorization/roleDefinitions/write", sc); err != nil {
			return err
		}
	}
	same, err := s.Authz.ListRoleDefinitions(c.ctx, "/", d.RoleName)
	if err != nil {
		return err
	}
	for _, o := range same {
		if o.Name != d.Name && strings.EqualFold(o.RoleName, d.RoleName) {
			return (&galleon.Error{Code: galleon.EConflict, Reason: "RoleDefinitionWithSameNameExists",
				Message: fmt.Sprintf("A role definition named '%s' already exists (%s). Choose another roleName.", d.RoleName, o.Name)}).WithTarget("properties.roleName")
		}
	}
	status := http.StatusCreated
	if old, err := s.Store.GetRoleDefinition(c.ctx, name); err == nil {
		d.CreatedAt, d.CreatedBy, d.Scope = old.CreatedAt, old.CreatedBy, old.Scope
	} else if galleon.ErrorCode(err) != galleon.ENotFound {
		return err
	}
	if err := s.Store.PutRoleDefinition(c.ctx, d); err != nil {
		return err
	}
	writeJSON(c.w, status, roleDefinitionJSON(c.scope, d))
	return nil
}

func (s *Server) deleteRoleDefinition(c *call) error {
	name := strings.ToLower(c.v("name"))
	if b := authz.BuiltInRole(name); b != nil {
		return galleon.ReasonErrorf(galleon.EForbidden, "RoleDefinitionBuiltInCannotBeModified", "The built-in role '%s' cannot be deleted.", b.RoleName)
	}
	if err := s.authorize(c, "Microsoft.Authorization/roleDefinitions/delete", c.scope); err != nil {
		return err
	}
	d, err := s.Store.GetRoleDefinition(c.ctx, name)
	if galleon.ErrorCode(err) == galleon.ENotFound {
		c.w.WriteHeader(http.StatusNoContent)
		return nil
	} else if err != nil {
		return err
	}
	for _, sc := range d.AssignableScopes {
		if err := s.authorize(c, "Microsoft.Authorization/roleDefinitions/delete", sc); err != nil {
			return err
		}
	}
	as, err := s.Store.ListRoleAssignments(c.ctx, galleon.RoleAssignmentFilter{RoleDefinitionID: d.Name})
	if err != nil {
		return err
	}
	if len(as) > 0 {
		return galleon.ReasonErrorf(galleon.EConflict, "RoleDefinitionHasAssignments",
			"The role definition '%s' has %d role assignment(s), for example '%s'. Delete them first.", d.RoleName, len(as), as[0].Name)
	}
	if err := s.Store.DeleteRoleDefinition(c.ctx, name); err != nil && galleon.ErrorCode(err) != galleon.ENotFound {
		return err
	}
	writeJSON(c.w, http.StatusOK, roleDefinitionJSON(c.scope, d))
	return nil
}
