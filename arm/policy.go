package arm

import (
	"net/http"
	"strconv"
	"time"

	"github.com/galleonhq/galleon"
	"github.com/galleonhq/galleon/policy"
)

const (
	subPolicyDefinitions = "subscriptions/{sub}/providers/Microsoft.Authorization/policyDefinitions"
	policyAssignments    = "providers/Microsoft.Authorization/policyAssignments"
)

// policyRoutes are the routes of Azure Policy: policyDefinitions and policyAssignments.
func (s *Server) policyRoutes() []route {
	def, asg := policy.DefinitionType, policy.AssignmentType
	return []route{
		{method: "GET", pattern: seg(subPolicyDefinitions), typ: def, versions: policyVersions, handle: (*Server).listPolicyDefinitions},
		{method: "PUT", pattern: seg(subPolicyDefinitions + "/{name}"), typ: def, versions: policyVersions, handle: (*Server).putPolicyDefinition},
		{method: "GET", pattern: seg(subPolicyDefinitions + "/{name}"), typ: def, versions: policyVersions, handle: (*Server).getPolicyDefinition},
		{method: "DELETE", pattern: seg(subPolicyDefinitions + "/{name}"), typ: def, versions: policyVersions, handle: (*Server).deletePolicyDefinition},
		{method: "GET", pattern: seg("providers/Microsoft.Authorization/policyDefinitions"), typ: def, versions: policyVersions, handle: (*Server).listPolicyDefinitions},
		{method: "GET", pattern: seg("providers/Microsoft.Authorization/policyDefinitions/{name}"), typ: def, versions: policyVersions, handle: (*Server).getPolicyDefinition},

		{method: "GET", scoped: true, pattern: seg(policyAssignments), typ: asg, versions: policyVersions, handle: (*Server).listPolicyAssignments},
		{method: "PUT", scoped: true, pattern: seg(policyAssignments + "/{name}"), typ: asg, versions: policyVersions, handle: (*Server).putPolicyAssignment},
		{method: "PATCH", scoped: true, pattern: seg(policyAssignments + "/{name}"), typ: asg, versions: policyVersions, handle: (*Server).patchPolicyAssignment},
		{method: "GET", scoped: true, pattern: seg(policyAssignments + "/{name}"), typ: asg, versions: policyVersions, handle: (*Server).getPolicyAssignment},
		{method: "DELETE", scoped: true, pattern: seg(policyAssignments + "/{name}"), typ: asg, versions: policyVersions, handle: (*Server).deletePolicyAssignment},
	}
}

// policyEngine returns the engine, or NotImplemented when the server runs
// without one.
func (s *Server) policyEngine() (*policy.Engine, error) {
	if s.Policy == nil {
		return nil, galleon.ReasonErrorf(galleon.ENotImplemented, "NotImplemented", "Azure Policy is not enabled on this Galleon server.")
	}
	return s.Policy, nil
}

func policySystemData(createdBy string, created, changed time.Time) map[string]any {
	if created.IsZero() {
		return nil
	}
	return map[string]any{
		"createdBy": createdBy, "createdByType": "User", "createdAt": created.Format(time.RFC3339Nano),
		"lastModifiedAt": changed.Format(time.RFC3339Nano),
	}
}

func policyDefinitionJSON(d *policy.Definition) map[string]any {
	out := map[string]any{"id": d.ID, "name": d.Name, "type": policy.DefinitionType, "properties": d.Properties}
	if sd := policySystemData(d.CreatedBy, d.CreatedAt, d.ChangedAt); sd != nil {
		out["systemData"] = sd
	}
	return out
}

func policyAssignmentJSON(a *policy.Assignment) map[string]any {
	out := map[string]any{"id": a.ID, "name": a.Name, "type": policy.AssignmentType, "properties": a.Properties}
	if a.Location != "" {
		out["location"] = a.Location
	}
	if sd := policySystemData(a.CreatedBy, a.CreatedAt, a.ChangedAt); sd != nil {
		out["systemData"] = sd
	}
	return out
}

// writeSlice serves one page of an in-memory listing; $skiptoken is the
// offset of the page.
// authorizedPolicy returns the policy engine once the caller may perform
// action on id.
func (s *Server) authorizedPolicy(c *call, action, id string) (*policy.Engine, error) {
	e, err := s.policyEngine()
	if err != nil {
		return nil, err
	}
	if err := s.authorize(c, action, id); err != nil {
		return nil, err
	}
	return e, nil
}

func (s *Server) writeSlice(c *call, items []any) error {
	top, err := pageSize(c, 500)
	if err != nil {
		return err
	}
	start := 0
	if t := skipToken(c); t != "" {
		v, err := decodeToken(t)
		if err == nil {
			start, err = strconv.Atoi(v)
		}
		if err != nil || start < 0 {
			return (&galleon.Error{Code: galleon.EInvalid, Reason: "InvalidSkipToken",
				Message: "The $skiptoken is not one this server issued. Start the listing again without it."}).WithTarget("$skiptoken")
		}
	}
	if start > len(items) {
		start = len(items)
	}
	end := min(start+top, len(items))
	next := ""
	if end < len(items) {
		next = s.nextLink(c, encodeToken(strconv.Itoa(end)))
	}
	writeJSON(c.w, http.StatusOK, page{Value: items[start:end], NextLink: next})
	return nil
}

func (s *Server) putPolicyDefinition(c *call) error {
	id := policy.DefinitionID(c.sub.ID, c.v("name"))
	e, err := s.authorizedPolicy(c, "Microsoft.Authorization/policyDefinitions/write", id)
	if err != nil {
		return err
	}
	var body struct {
		Properties *policy.DefinitionProperties `json:"properties"`
	}
	if err := s.decodeBody(c, &body); err != nil {
		return err
	}
	d, _, err := e.PutDefinition(c.ctx, c.sub.ID, c.v("name"), body.Properties, c.p.ObjectID)
	if err != nil {
		return err
	}
	// The API answers 201 for both creation and update; SDK clients
	// accept nothing else.
	writeJSON(c.w, http.StatusCreated, policyDefinitionJSON(d))
	return nil
}

// getPolicyDefinition serves a custom definition of a subscription, or a
// built-in one (at the tenant path, or by name under a subscription).
func (s *Server) getPolicyDefinition(c *call) error {
	e, err := s.policyEngine()
	if err != nil {
		return err
	}
	name := c.v("name")
	if c.sub != nil {
		id := policy.DefinitionID(c.sub.ID, name)
		if err := s.authorize(c, "Microsoft.Authorization/policyDefinitions/read", id); err != nil {
			return err
		}
		d, err := e.GetDefinition(c.ctx, id)
		if galleon.ErrorCode(err) == galleon.ENotFound {
			if b, berr := e.GetDefinition(c.ctx, policy.BuiltInDefinitionID(name)); berr == nil {
				d, err = b, nil
			}
		}
		if err != nil {
			return err
		}
		writeJSON(c.w, http.StatusOK, policyDefinitionJSON(d))
		return nil
	}
	// Built-in definitions are public to every signed-in caller.
	d, err := e.GetDefinition(c.ctx, policy.BuiltInDefinitionID(name))
	if err != nil {
		return err
	}
	writeJSON(c.w, http.StatusOK, policyDefinitionJSON(d))
	return nil
}

func (s *Server) listPolicyDefinitions(c *call) error {
	e, err := s.policyEngine()
	if err != nil {
		return err
	}
	f, err := policy.ParseDefinitionFilter(c.r.URL.Query().Get("$filter"))
	if err != nil {
		return err
	}
	sub := ""
	if c.sub != nil {
		sub = c.sub.ID
		if err := s.authorize(c, "Microsoft.Authorization/policyDefinitions/read", "/subscriptions/"+sub); err != nil {
			return err
		}
	}
	ds, err := e.ListDefinitions(c.ctx, sub)
	if err != nil {
		return err
	}
	out := []any{}
	for _, d := range ds {
		if f.Keep(d) {
			out = append(out, policyDefinitionJSON(d))
		}
	}
	return s.writeSlice(c, out)
}

func (s *Server) deletePolicyDefinition(c *call) error {
	id := policy.DefinitionID(c.sub.ID, c.v("name"))
	e, err := s.authorizedPolicy(c, "Microsoft.Authorization/policyDefinitions/delete", id)
	if err != nil {
		return err
	}
	err = e.DeleteDefinition(c.ctx, c.sub.ID, c.v("name"))
	if galleon.ErrorCode(err) == galleon.ENotFound {
		c.w.WriteHeader(http.StatusNoContent)
		return nil
	} else if err != nil {
		return err
	}
	c.w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) putPolicyAssignment(c *call) error {
	e, err := s.authorizedPolicy(c, "Microsoft.Authorization/policyAssignments/write", policy.AssignmentID(c.scope, c.v("name")))
	if err != nil {
		return err
	}
	var body policy.AssignmentRequest
	if err := s.decodeBody(c, &body); err != nil {
		return err
	}
	a, _, err := e.PutAssignment(c.ctx, c.scope, c.v("name"), &body, c.p.ObjectID)
	if err != nil {
		return err
	}
	// 201 for creation and update alike, as the API defines.
	writeJSON(c.w, http.StatusCreated, policyAssignmentJSON(a))
	return nil
}

func (s *Server) patchPolicyAssignment(c *call) error {
	e, err := s.authorizedPolicy(c, "Microsoft.Authorization/policyAssignments/write", policy.AssignmentID(c.scope, c.v("name")))
	if err != nil {
		return err
	}
	var body policy.AssignmentRequest
	if err := s.decodeBody(c, &body); err != nil {
		return err
	}
	a, err := e.PatchAssignment(c.ctx, c.scope, c.v("name"), &body)
	if err != nil {
		return err
	}
	writeJSON(c.w, http.StatusOK, policyAssignmentJSON(a))
	return nil
}

func (s *Server) getPolicyAssignment(c *call) error {
	e, err := s.authorizedPolicy(c, "Microsoft.Authorization/policyAssignments/read", policy.AssignmentID(c.scope, c.v("name")))
	if err != nil {
		return err
	}
	a, err := e.GetAssignment(c.ctx, c.scope, c.v("name"))
	if err != nil {
		return err
	}
	writeJSON(c.w, http.StatusOK, policyAssignmentJSON(a))
	return nil
}

// deletePolicyAssignment answers 200 with the deleted assignment, or 204
// when there was none.
func (s *Server) deletePolicyAssignment(c *call) error {
	e, err := s.authorizedPolicy(c, "Microsoft.Authorization/policyAssignments/delete", policy.AssignmentID(c.scope, c.v("name")))
	if err != nil {
		return err
	}
	a, err := e.DeleteAssignment(c.ctx, c.scope, c.v("name"))
	if galleon.ErrorCode(err) == galleon.ENotFound {
		c.w.WriteHeader(http.StatusNoContent)
		return nil
	} else if err != nil {
		return err
	}
	writeJSON(c.w, http.StatusOK, policyAssignmentJSON(a))
	return nil
}

// listPolicyAssignments lists the assignments that apply at a scope and,
// without atScope()/atExactScope(), those inside it that the caller may
// read.
func (s *Server) listPolicyAssignments(c *call) error {
	e, err := s.policyEngine()
	if err != nil {
		return err
	}
	if c.sub == nil {
		return galleon.ReasonErrorf(galleon.EInvalid, "InvalidPolicyAssignmentScope",
			"Policy assignments are listed at a subscription, resource group or resource, not at '%s'.", c.scope)
	}
	f, err := policy.ParseAssignmentFilter(c.r.URL.Query().Get("$filter"))
	if err != nil {
		return err
	}
	const read = "Microsoft.Authorization/policyAssignments/read"
	if err := s.authorize(c, read, c.scope); err != nil {
		return err
	}
	if id, err := galleon.ParseResourceID(c.scope); err == nil && (id.ResourceGroup != "" || id.Namespace != "") {
		if err := s.checkScopeExists(c, c.scope); err != nil {
			return err
		}
	}
	as, err := e.ListAssignments(c.ctx, c.scope, f)
	if err != nil {
		return err
	}
	chk, err := s.Authz.Checker(c.ctx, c.p, "/subscriptions/"+c.sub.ID)
	if err != nil {
		return err
	}
	out := []any{}
	for _, a := range as {
		// Assignments above the scope apply to it, so a reader of the
		// scope sees them; those inside it need read there.
		if !galleon.ScopeContains(a.Properties.Scope, c.scope) && !chk.Allowed(read, a.ID) {
			continue
		}
		out = append(out, policyAssignmentJSON(a))
	}
	return s.writeSlice(c, out)
}
