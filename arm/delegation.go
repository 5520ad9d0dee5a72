package arm

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/galleonhq/galleon"
	"github.com/galleonhq/galleon/authz"
)

// Delegated management (Azure Lighthouse, Microsoft.ManagedServices
// 2022-10-01): registration definitions and assignments at subscription
// and resource-group scope. The customer's Owner stores them; authz turns
// the active ones into roles for the managing tenant's principals, and
// resolveSubscription lets those principals' tokens address the delegated
// subscription. Writes are synchronous: PUT answers 201 (or 200) with
// provisioningState Succeeded, which LRO clients take as done.

const (
	msNamespace    = "providers/Microsoft.ManagedServices/"
	maxDelegations = 20 // authorizations per definition, as Azure allows
)

// delegationRoutes are the routes of delegated management (Microsoft.ManagedServices registrationDefinitions and registrationAssignments).
func (s *Server) delegationRoutes() []route {
	def, asg := authz.RegistrationDefinitionType, authz.RegistrationAssignmentType
	v := managedServicesVersions
	return []route{
		{method: "GET", scoped: true, pattern: seg(msNamespace + "registrationDefinitions"), typ: def, versions: v, handle: (*Server).listRegistrationDefinitions},
		{method: "GET", scoped: true, pattern: seg(msNamespace + "registrationDefinitions/{name}"), typ: def, versions: v, handle: (*Server).getRegistrationDefinition},
		{method: "PUT", scoped: true, pattern: seg(msNamespace + "registrationDefinitions/{name}"), typ: def, versions: v, handle: (*Server).putRegistrationDefinition},
		{method: "DELETE", scoped: true, pattern: seg(msNamespace + "registrationDefinitions/{name}"), typ: def, versions: v, handle: (*Server).deleteRegistrationDefinition},
		{method: "GET", scoped: true, pattern: seg(msNamespace + "registrationAssignments"), typ: asg, versions: v, handle: (*Server).listRegistrationAssignments},
		{method: "GET", scoped: true, pattern: seg(msNamespace + "registrationAssignments/{name}"), typ: asg, versions: v, handle: (*Server).getRegistrationAssignment},
		{method: "PUT", scoped: true, pattern: seg(msNamespace + "registrationAssignments/{name}"), typ: asg, versions: v, handle: (*Server).putRegistrationAssignment},
		{method: "DELETE", scoped: true, pattern: seg(msNamespace + "registrationAssignments/{name}"), typ: asg, versions: v, handle: (*Server).deleteRegistrationAssignment},
		{method: "GET", scoped: true, pattern: seg(msNamespace + "operations"), typ: "Microsoft.ManagedServices/operations", versions: v, handle: (*Server).listManagedServicesOperations},
	}
}

// delegationScope checks that a Microsoft.ManagedServices route addresses a
// subscription or resource group, checks that the caller may perform action
// there, then that the resource group exists (so callers without access do
// not learn which groups exist), and returns the parsed scope.
func (s *Server) delegationScope(c *call, action string) (galleon.ResourceID, error) {
	id, err := galleon.ParseResourceID(c.scope)
	if err != nil {
		return id, err
	}
	if id.SubscriptionID == "" || id.Namespace != "" || c.sub == nil {
		return id, galleon.ReasonErrorf(galleon.EInvalid, "InvalidScope",
			"Registration definitions and assignments live at a subscription ('/subscriptions/{id}') or resource group ('/subscriptions/{id}/resourceGroups/{name}') scope, not at '%s'.", c.scope)
	}
	if strings.HasSuffix(action, "/write") {
		err = s.authorizeDelegationWrite(c, action)
	} else {
		err = s.authorize(c, action, c.scope)
	}
	if err != nil {
		return id, err
	}
	if id.ResourceGroup != "" {
		if _, err := s.loadResourceGroup(c.ctx, id.SubscriptionID, id.ResourceGroup); err != nil {
			return id, err
		}
	}
	return id, nil
}

// delegationName checks the {name} of a definition or assignment: a GUID.
func delegationName(c *call, what string) (string, error) {
	name := c.v("name")
	if !isGUID(name) {
		return "", (&galleon.Error{Code: galleon.EInvalid, Reason: "InvalidResourceName",
			Message: fmt.Sprintf("The %s ID '%s' is not valid: it must be a GUID.", what, name)}).WithTarget(what + "Id")
	}
	return strings.ToLower(name), nil
}

// authorizeDelegationWrite checks the ManagedServices action and, since a
// delegation hands out roles, the right to assign roles at the scope: in
// Azure only an Owner (or User Access Administrator) onboards a customer.
func (s *Server) authorizeDelegationWrite(c *call, action string) error {
	if err := s.authorize(c, action, c.scope); err != nil {
		return err
	}
	ok, err := s.Authz.Allowed(c.ctx, c.p, "Microsoft.Authorization/roleAssignments/write", c.scope)
	if err != nil {
		return err
	} else if !ok {
		return galleon.ReasonErrorf(galleon.EForbidden, "AuthorizationFailed",
			"The client %s does not have authorization to perform action 'Microsoft.Authorization/roleAssignments/write' over scope '%s', which '%s' needs: delegating a scope hands out roles, so only an Owner (or User Access Administrator) of the scope may do it.",
			c.p, c.scope, action)
	}
	return nil
}

func systemData(r *galleon.Resource) map[string]any {
	return map[string]any{
		"createdBy":          r.CreatedBy,
		"createdByType":      "Application",
		"createdAt":          r.CreatedAt.UTC().Format(time.RFC3339Nano),
		"lastModifiedAt":     r.ChangedAt.UTC().Format(time.RFC3339Nano),
		"lastModifiedBy":     r.CreatedBy,
		"lastModifiedByType": "Application",
	}
}

// delegationInternal is what a definition row keeps besides its properties.
type delegationInternal struct {
	Plan *registrationPlan `json:"plan,omitempty"`
}

type registrationPlan struct {
	Name      string `json:"name"`
	Publisher string `json:"publisher"`
	Product   string `json:"product"`
	Version   string `json:"version"`
}

func registrationDefinitionJSON(r *galleon.Resource) map[string]any {
	out := map[string]any{
		"id": r.ID, "name": r.Name, "type": authz.RegistrationDefinitionType,
		"properties": json.RawMessage(r.Properties), "systemData": systemData(r),
	}
	var in delegationInternal
	if len(r.Internal) > 0 && json.Unmarshal(r.Internal, &in) == nil && in.Plan != nil {
		out["plan"] = in.Plan
	}
	return out
}

// --- registration definitions ---

type registrationDefinitionBody struct {
	Properties *struct {
		Description                string                         `json:"description"`
		Authorizations             []authz.DelegatedAuthorization `json:"authorizations"`
		EligibleAuthorizations     []json.RawMessage              `json:"eligibleAuthorizations"`
		RegistrationDefinitionName string                         `json:"registrationDefinitionName"`
		ManagedByTenantID          string                         `json:"managedByTenantId"`
	} `json:"properties"`
	Plan *registrationPlan `json:"plan"`
}

func invalidDefinition(target, format string, args ...any) error {
	return (&galleon.Error{Code: galleon.EInvalid, Reason: "InvalidRegistrationDefinition", Message: fmt.Sprintf(format, args...)}).WithTarget(target)
}

// validateDefinition checks a definition body and returns the properties to
// store.
func (s *Server) validateDefinition(c *call, body *registrationDefinitionBody) (*authz.RegistrationDefinitionProperties, error) {
	p := body.Properties
	if p == nil {
		return nil, invalidDefinition("properties", "The request body needs a 'properties' object with managedByTenantId and authorizations.")
	}
	if p.ManagedByTenantID == "" || !isGUID(p.ManagedByTenantID) {
		return nil, invalidDefinition("properties.managedByTenantId",
			"properties.managedByTenantId is required: the ID (a GUID) of the tenant that will manage this scope; got '%s'.", p.ManagedByTenantID)
	}
	managing, err := s.Store.GetTenant(c.ctx, p.ManagedByTenantID)
	if galleon.ErrorCode(err) == galleon.ENotFound || (err == nil && !strings.EqualFold(managing.ID, p.ManagedByTenantID)) {
		return nil, invalidDefinition("properties.managedByTenantId", "The managing tenant '%s' does not exist. Ask the managing tenant for its tenant ID.", p.ManagedByTenantID)
	} else if err != nil {
		return nil, err
	}
	if strings.EqualFold(managing.ID, c.sub.TenantID) {
		return nil, invalidDefinition("properties.managedByTenantId",
			"The managing tenant '%s' is the tenant of this subscription; delegate to another tenant, or use role assignments within the tenant.", managing.ID)
	}
	if len(p.EligibleAuthorizations) > 0 {
		return nil, (&galleon.Error{Code: galleon.ENotImplemented, Reason: "EligibleAuthorizationsNotSupported",
			Message: "Eligible (just-in-time) authorizations are not supported; list permanent ones in properties.authorizations."}).WithTarget("properties.eligibleAuthorizations")
	}
	if len(p.Authorizations) == 0 || len(p.Authorizations) > maxDelegations {
		return nil, invalidDefinition("properties.authorizations",
			"properties.authorizations must list 1 to %d principals of the managing tenant, each with principalId and roleDefinitionId; it has %d.", maxDelegations, len(p.Authorizations))
	}
	out := &authz.RegistrationDefinitionProperties{
		Description: p.Description, RegistrationDefinitionName: p.RegistrationDefinitionName,
		ManagedByTenantID: managing.ID, ManagedByTenantName: managing.DisplayName, ProvisioningState: authz.DelegationSucceeded,
	}
	for i, a := range p.Authorizations {
		field := fmt.Sprintf("properties.authorizations[%d]", i)
		if !isGUID(a.PrincipalID) {
			return nil, invalidDefinition(field+".principalId", "%s.principalId must be the object ID (a GUID) of a user, group or service principal of tenant '%s'; got '%s'.", field, managing.ID, a.PrincipalID)
		}
		if err := authz.ValidateDelegatedRole(a.RoleDefinitionID); err != nil {
			if e := galleon.AsError(err); e != nil {
				return nil, e.WithTarget(field + ".roleDefinitionId")
			}
			return nil, err
		}
		if len(a.DelegatedRoleDefinitionIDs) > 0 {
			return nil, invalidDefinition(field+".delegatedRoleDefinitionIds",
				"%s.delegatedRoleDefinitionIds applies only to User Access Administrator, which cannot be delegated here; leave it out.", field)
		}
		if _, err := s.principalType(c, managing.ID, a.PrincipalID); err != nil {
			if e := galleon.AsError(err); e != nil {
				return nil, e.WithTarget(field + ".principalId")
			}
			return nil, err
		}
		a.PrincipalID = strings.ToLower(a.PrincipalID)
		out.Authorizations = append(out.Authorizations, a)
	}
	if body.Plan != nil && (body.Plan.Name == "" || body.Plan.Publisher == "" || body.Plan.Product == "" || body.Plan.Version == "") {
		return nil, invalidDefinition("plan", "A plan needs name, publisher, product and version.")
	}
	if t, err := s.Store.GetTenant(c.ctx, c.sub.TenantID); err == nil {
		out.ManageeTenantID, out.ManageeTenantName = t.ID, t.DisplayName
	} else {
		return nil, err
	}
	return out, nil
}

func (s *Server) putRegistrationDefinition(c *call) error {
	name, err := delegationName(c, "registrationDefinition")
	if err != nil {
		return err
	}
	scope, err := s.delegationScope(c, authz.RegistrationDefinitionType+"/write")
	if err != nil {
		return err
	}
	var body registrationDefinitionBody
	if err := s.decodeBody(c, &body); err != nil {
		return err
	}
	props, err := s.validateDefinition(c, &body)
	if err != nil {
		return err
	}
	propsJSON, _ := json.Marshal(props)
	internal, _ := json.Marshal(delegationInternal{Plan: body.Plan})
	id := extensionPrefix(scope.String()) + "/providers/Microsoft.ManagedServices/registrationDefinitions/" + name
	existing, err := s.Store.GetResource(c.ctx, id)
	switch {
	case err == nil:
		existing.Properties, existing.Internal = propsJSON, internal
		if err := s.Store.UpdateResource(c.ctx, existing, c.r.Header.Get("If-Match")); err != nil {
			return err
		}
		writeJSON(c.w, http.StatusOK, registrationDefinitionJSON(existing))
		return nil
	case galleon.ErrorCode(err) != galleon.ENotFound:
		return err
	}
	r := &galleon.Resource{ID: id, Type: authz.RegistrationDefinitionType, Name: name, SubscriptionID: scope.SubscriptionID,
		ResourceGroup: scope.ResourceGroup, Properties: propsJSON, Internal: internal, CreatedBy: c.p.ObjectID}
	if err := s.Store.CreateResource(c.ctx, r); err != nil {
		return concurrentCreate(err, id)
	}
	writeJSON(c.w, http.StatusCreated, registrationDefinitionJSON(r))
	return nil
}

// concurrentCreate explains a create that lost a race with another PUT of
// the same ID; the body is consumed, so the client retries.
func concurrentCreate(err error, id string) error {
	if galleon.ErrorCode(err) == galleon.EConflict {
		return galleon.ReasonErrorf(galleon.EConflict, "ConcurrentRequest",
			"'%s' was created by a concurrent request while this one ran. Send the PUT again to update it.", id)
	}
	return err
}

// loadDelegationRow finds a definition or assignment at the route's scope.
func (s *Server) loadDelegationRow(c *call, scope galleon.ResourceID, typ, name string) (*galleon.Resource, error) {
	kind := typ[strings.LastIndexByte(typ, '/')+1:]
	id := extensionPrefix(scope.String()) + "/providers/Microsoft.ManagedServices/" + kind + "/" + name
	r, err := s.Store.GetResource(c.ctx, id)
	if err == nil && !strings.EqualFold(r.Type, typ) {
		err = galleon.Errorf(galleon.ENotFound, "wrong type")
	}
	if galleon.ErrorCode(err) == galleon.ENotFound {
		reason := "RegistrationDefinitionNotFound"
		if typ == authz.RegistrationAssignmentType {
			reason = "RegistrationAssignmentNotFound"
		}
		return nil, galleon.ReasonErrorf(galleon.ENotFound, reason, "The %s '%s' was not found at scope '%s'.", strings.TrimSuffix(kind, "s"), name, scope.String())
	}
	return r, err
}

func (s *Server) getRegistrationDefinition(c *call) error {
	scope, err := s.delegationScope(c, authz.RegistrationDefinitionType+"/read")
	if err != nil {
		return err
	}
	r, err := s.loadDelegationRow(c, scope, authz.RegistrationDefinitionType, c.v("name"))
	if err != nil {
		return err
	}
	writeJSON(c.w, http.StatusOK, registrationDefinitionJSON(r))
	return nil
}

func (s *Server) deleteRegistrationDefinition(c *call) error {
	scope, err := s.delegationScope(c, authz.RegistrationDefinitionType+"/delete")
	if err != nil {
		return err
	}
	r, err := s.loadDelegationRow(c, scope, authz.RegistrationDefinitionType, c.v("name"))
	if galleon.ErrorCode(err) == galleon.ENotFound {
		c.w.WriteHeader(http.StatusNoContent)
		return nil
	} else if err != nil {
		return err
	}
	users, err := s.assignmentsOf(c, r.ID)
	if err != nil {
		return err
	}
	if len(users) > 0 {
		return galleon.ReasonErrorf(galleon.EConflict, "RegistrationDefinitionInUse",
			"The registration definition '%s' is used by registration assignment(s) %s. Delete those assignments first.", r.ID, quoted(users))
	}
	if err := s.Store.DeleteResource(c.ctx, r.ID); err != nil && galleon.ErrorCode(err) != galleon.ENotFound {
		return err
	}
	c.w.WriteHeader(http.StatusOK)
	return nil
}

// assignmentsOf lists the IDs of the assignments that apply definition defID.
func (s *Server) assignmentsOf(c *call, defID string) ([]string, error) {
	rid, err := galleon.ParseResourceID(defID)
	if err != nil {
		return nil, err
	}
	rows, _, err := s.Store.ListResources(c.ctx, galleon.ResourceFilter{Type: authz.RegistrationAssignmentType, SubscriptionID: rid.SubscriptionID})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, r := range rows {
		var p authz.RegistrationAssignmentProperties
		if json.Unmarshal(r.Properties, &p) == nil && galleon.NormalizeScope(p.RegistrationDefinitionID) == galleon.NormalizeScope(defID) {
			out = append(out, r.ID)
		}
	}
	return out, nil
}

func quoted(ids []string) string {
	q := make([]string, len(ids))
	for i, id := range ids {
		q[i] = "'" + id + "'"
	}
	return strings.Join(q, ", ")
}

// delegationFilter reads the $filter the list operations accept:
// "managedByTenantId eq '{guid}'".
func delegationFilter(c *call) (string, error) {
	f, err := parseFilter(c.r.URL.Query().Get("$filter"), "managedByTenantId")
	if err != nil {
		return "", err
	}
	return f["managedByTenantId"], nil
}

func (s *Server) listRegistrationDefinitions(c *call) error {
	if _, err := s.delegationScope(c, authz.RegistrationDefinitionType+"/read"); err != nil {
		return err
	}
	tenant, err := delegationFilter(c)
	if err != nil {
		return err
	}
	return s.listPage(c, galleon.ResourceFilter{Type: authz.RegistrationDefinitionType, Under: c.scope}, "", func(r *galleon.Resource) (any, bool) {
		var p authz.RegistrationDefinitionProperties
		_ = json.Unmarshal(r.Properties, &p)
		return registrationDefinitionJSON(r), tenant == "" || strings.EqualFold(p.ManagedByTenantID, tenant)
	})
}

// --- registration assignments ---

type registrationAssignmentBody struct {
	Properties *struct {
		RegistrationDefinitionID string `json:"registrationDefinitionId"`
	} `json:"properties"`
}

// assignmentJSON shows an assignment, with its definition when expand is
// set ($expandRegistrationDefinition=true).
func (s *Server) assignmentJSON(c *call, r *galleon.Resource, expand bool) (map[string]any, error) {
	props := map[string]any{}
	if err := json.Unmarshal(r.Properties, &props); err != nil {
		return nil, fmt.Errorf("decode assignment %s: %w", r.ID, err)
	}
	if expand {
		var p authz.RegistrationAssignmentProperties
		_ = json.Unmarshal(r.Properties, &p)
		if def, err := s.Store.GetResource(c.ctx, p.RegistrationDefinitionID); err == nil {
			props["registrationDefinition"] = registrationDefinitionJSON(def)
		} else if galleon.ErrorCode(err) != galleon.ENotFound {
			return nil, err
		}
	}
	return map[string]any{"id": r.ID, "name": r.Name, "type": authz.RegistrationAssignmentType, "properties": props, "systemData": systemData(r)}, nil
}

func expandDefinition(c *call) bool {
	q := c.r.URL.Query()
	for k, v := range q {
		if strings.EqualFold(k, "$expandRegistrationDefinition") && len(v) > 0 && strings.EqualFold(v[0], "true") {
			return true
		}
	}
	return false
}

func (s *Server) putRegistrationAssignment(c *call) error {
	name, err := delegationName(c, "registrationAssignment")
	if err != nil {
		return err
	}
	scope, err := s.delegationScope(c, authz.RegistrationAssignmentType+"/write")
	if err != nil {
		return err
	}
	var body registrationAssignmentBody
	if err := s.decodeBody(c, &body); err != nil {
		return err
	}
	if body.Properties == nil || body.Properties.RegistrationDefinitionID == "" {
		return (&galleon.Error{Code: galleon.EInvalid, Reason: "InvalidRegistrationAssignment",
			Message: "properties.registrationDefinitionId is required: the ID of a registration definition in this subscription."}).WithTarget("properties.registrationDefinitionId")
	}
	defID, err := galleon.ParseResourceID(body.Properties.RegistrationDefinitionID)
	if err != nil || !strings.EqualFold(defID.Type(), authz.RegistrationDefinitionType) || !strings.EqualFold(defID.SubscriptionID, scope.SubscriptionID) {
		return (&galleon.Error{Code: galleon.EInvalid, Reason: "InvalidRegistrationAssignment",
			Message: fmt.Sprintf("properties.registrationDefinitionId '%s' must be the ID of a registration definition in subscription '%s' ('/subscriptions/%s/providers/Microsoft.ManagedServices/registrationDefinitions/{guid}').",
				body.Properties.RegistrationDefinitionID, scope.SubscriptionID, scope.SubscriptionID)}).WithTarget("properties.registrationDefinitionId")
	}
	def, err := s.Store.GetResource(c.ctx, defID.String())
	if galleon.ErrorCode(err) == galleon.ENotFound || (err == nil && !strings.EqualFold(def.Type, authz.RegistrationDefinitionType)) {
		return (&galleon.Error{Code: galleon.EInvalid, Reason: "RegistrationDefinitionNotFound",
			Message: fmt.Sprintf("The registration definition '%s' does not exist. Create it first (PUT it), then the assignment.", defID.String())}).WithTarget("properties.registrationDefinitionId")
	} else if err != nil {
		return err
	}
	propsJSON, _ := json.Marshal(authz.RegistrationAssignmentProperties{RegistrationDefinitionID: def.ID, ProvisioningState: authz.DelegationSucceeded})
	id := extensionPrefix(scope.String()) + "/providers/Microsoft.ManagedServices/registrationAssignments/" + name
	status := http.StatusCreated
	r, err := s.Store.GetResource(c.ctx, id)
	switch {
	case err == nil:
		r.Properties = propsJSON
		if err := s.Store.UpdateResource(c.ctx, r, c.r.Header.Get("If-Match")); err != nil {
			return err
		}
		status = http.StatusOK
	case galleon.ErrorCode(err) == galleon.ENotFound:
		r = &galleon.Resource{ID: id, Type: authz.RegistrationAssignmentType, Name: name, SubscriptionID: scope.SubscriptionID,
			ResourceGroup: scope.ResourceGroup, Properties: propsJSON, CreatedBy: c.p.ObjectID}
		if err := s.Store.CreateResource(c.ctx, r); err != nil {
			return concurrentCreate(err, id)
		}
	default:
		return err
	}
	out, err := s.assignmentJSON(c, r, false)
	if err != nil {
		return err
	}
	writeJSON(c.w, status, out)
	return nil
}

func (s *Server) getRegistrationAssignment(c *call) error {
	scope, err := s.delegationScope(c, authz.RegistrationAssignmentType+"/read")
	if err != nil {
		return err
	}
	r, err := s.loadDelegationRow(c, scope, authz.RegistrationAssignmentType, c.v("name"))
	if err != nil {
		return err
	}
	out, err := s.assignmentJSON(c, r, expandDefinition(c))
	if err != nil {
		return err
	}
	writeJSON(c.w, http.StatusOK, out)
	return nil
}

// deleteRegistrationAssignment removes an assignment; the delegation it
// carried ends with the row, since authz reads the rows on every check.
func (s *Server) deleteRegistrationAssignment(c *call) error {
	scope, err := s.delegationScope(c, authz.RegistrationAssignmentType+"/delete")
	if err != nil {
		return err
	}
	r, err := s.loadDelegationRow(c, scope, authz.RegistrationAssignmentType, c.v("name"))
	if galleon.ErrorCode(err) == galleon.ENotFound {
		c.w.WriteHeader(http.StatusNoContent)
		return nil
	} else if err != nil {
		return err
	}
	if err := s.Store.DeleteResource(c.ctx, r.ID); err != nil && galleon.ErrorCode(err) != galleon.ENotFound {
		return err
	}
	c.w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) listRegistrationAssignments(c *call) error {
	if _, err := s.delegationScope(c, authz.RegistrationAssignmentType+"/read"); err != nil {
		return err
	}
	tenant, err := delegationFilter(c)
	if err != nil {
		return err
	}
	expand := expandDefinition(c)
	var viewErr error
	err = s.listPage(c, galleon.ResourceFilter{Type: authz.RegistrationAssignmentType, Under: c.scope}, "", func(r *galleon.Resource) (any, bool) {
		if tenant != "" {
			ok, err := s.assignmentManagedBy(c, r, tenant)
			if err != nil || !ok {
				viewErr = err
				return nil, false
			}
		}
		out, err := s.assignmentJSON(c, r, expand)
		if err != nil {
			viewErr = err
			return nil, false
		}
		return out, true
	})
	if viewErr != nil {
		return viewErr
	}
	return err
}

// assignmentManagedBy reports whether an assignment's definition names
// tenant as the managing tenant.
func (s *Server) assignmentManagedBy(c *call, r *galleon.Resource, tenant string) (bool, error) {
	var p authz.RegistrationAssignmentProperties
	_ = json.Unmarshal(r.Properties, &p)
	def, err := s.Store.GetResource(c.ctx, p.RegistrationDefinitionID)
	if galleon.ErrorCode(err) == galleon.ENotFound {
		return false, nil
	} else if err != nil {
		return false, err
	}
	var dp authz.RegistrationDefinitionProperties
	return json.Unmarshal(def.Properties, &dp) == nil && strings.EqualFold(dp.ManagedByTenantID, tenant), nil
}

// listManagedServicesOperations lists the provider's operations.
func (s *Server) listManagedServicesOperations(c *call) error {
	out := []any{}
	for _, op := range []struct{ name, desc string }{
		{"registrationDefinitions/read", "Reads registration definitions."},
		{"registrationDefinitions/write", "Creates or updates a registration definition."},
		{"registrationDefinitions/delete", "Deletes a registration definition."},
		{"registrationAssignments/read", "Reads registration assignments."},
		{"registrationAssignments/write", "Creates or updates a registration assignment."},
		{"registrationAssignments/delete", "Deletes a registration assignment."},
	} {
		out = append(out, map[string]any{
			"name": "Microsoft.ManagedServices/" + op.name,
			"display": map[string]string{"provider": "Microsoft.ManagedServices", "resource": strings.Split(op.name, "/")[0],
				"operation": op.name, "description": op.desc},
		})
	}
	writeJSON(c.w, http.StatusOK, page{Value: out})
	return nil
}
