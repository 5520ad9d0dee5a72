package policy

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/galleonhq/galleon"
)

// Enforcement modes.
const (
	EnforcementDefault      = "Default"
	EnforcementDoNotEnforce = "DoNotEnforce"
)

// NonComplianceMessage is shown to users a policy refuses.
type NonComplianceMessage struct {
	Message                     string `json:"message"`
	PolicyDefinitionReferenceID string `json:"policyDefinitionReferenceId,omitempty"`
}

// AssignmentProperties are a policy assignment's properties, stored and
// shown as they are.
type AssignmentProperties struct {
	DisplayName           string                    `json:"displayName,omitempty"`
	PolicyDefinitionID    string                    `json:"policyDefinitionId"`
	DefinitionVersion     string                    `json:"definitionVersion,omitempty"`
	Scope                 string                    `json:"scope"`
	NotScopes             []string                  `json:"notScopes"`
	Parameters            map[string]ParameterValue `json:"parameters"`
	Description           string                    `json:"description,omitempty"`
	Metadata              map[string]any            `json:"metadata,omitempty"`
	EnforcementMode       string                    `json:"enforcementMode"`
	NonComplianceMessages []NonComplianceMessage    `json:"nonComplianceMessages,omitempty"`
	// ResourceSelectors and Overrides are accepted only when empty: they
	// could change what an assignment does, and Galleon does not apply them.
	ResourceSelectors []any  `json:"resourceSelectors,omitempty"`
	Overrides         []any  `json:"overrides,omitempty"`
	AssignmentType    string `json:"assignmentType,omitempty"`
	InstanceID        string `json:"instanceId,omitempty"`
}

// AssignmentRequest is the body of a PUT of an assignment.
type AssignmentRequest struct {
	Location   string                `json:"location"`
	Identity   *AssignmentIdentity   `json:"identity"`
	Properties *AssignmentProperties `json:"properties"`
}

// AssignmentIdentity is accepted only as type None: Galleon's effects
// need no managed identity.
type AssignmentIdentity struct {
	Type string `json:"type"`
}

// Assignment is a policy assignment at a scope (a subscription, resource
// group or resource).
type Assignment struct {
	ID         string
	Name       string
	Location   string
	Properties AssignmentProperties
	CreatedBy  string
	CreatedAt  time.Time
	ChangedAt  time.Time
}

// DisplayName is the assignment's display name, or its name.
func (a *Assignment) DisplayName() string {
	if a.Properties.DisplayName != "" {
		return a.Properties.DisplayName
	}
	return a.Name
}

// AssignmentID is the ID of an assignment at a scope.
func AssignmentID(scope, name string) string {
	if scope == "/" {
		scope = ""
	}
	return scope + "/providers/" + AssignmentType + "/" + name
}

func assignmentFromResource(r *galleon.Resource) (*Assignment, error) {
	a := &Assignment{ID: r.ID, Name: r.Name, Location: r.Location, CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt, ChangedAt: r.ChangedAt}
	if err := json.Unmarshal(r.Properties, &a.Properties); err != nil {
		return nil, fmt.Errorf("decode policy assignment %s: %w", r.ID, err)
	}
	return a, nil
}

func invalidAssignment(target, format string, args ...any) error {
	return (&galleon.Error{Code: galleon.EInvalid, Reason: "InvalidPolicyAssignment", Message: fmt.Sprintf(format, args...)}).WithTarget(target)
}

func assignmentNotFound(scope, name string) error {
	return galleon.ReasonErrorf(galleon.ENotFound, "PolicyAssignmentNotFound",
		"The policy assignment '%s' is not found at scope '%s'.", name, scope)
}

// checkScope makes sure an assignment scope is a subscription, or a
// resource group or resource that exists, and returns it parsed.
func (e *Engine) checkScope(ctx context.Context, scope string) (galleon.ResourceID, error) {
	id, err := galleon.ParseResourceID(scope)
	if err != nil {
		return id, err
	}
	if id.SubscriptionID == "" {
		return id, galleon.ReasonErrorf(galleon.EInvalid, "InvalidPolicyAssignmentScope",
			"Policy assignments at '%s' are not supported: assign policies at a subscription, resource group or resource.", scope)
	}
	if id.ResourceGroup == "" && id.Namespace == "" {
		return id, nil
	}
	if _, err := e.Store.GetResource(ctx, id.String()); galleon.ErrorCode(err) == galleon.ENotFound {
		if id.Namespace == "" {
			return id, galleon.ReasonErrorf(galleon.ENotFound, "ResourceGroupNotFound", "Resource group '%s' could not be found.", id.ResourceGroup)
		}
		return id, galleon.ReasonErrorf(galleon.ENotFound, "ResourceNotFound", "The resource '%s' was not found.", scope)
	} else if err != nil {
		return id, err
	}
	return id, nil
}

// PutAssignment creates or replaces the assignment name at scope and
// reports whether it created it. Returns ENotFound when the scope or the
// definition is missing, and EInvalid for parameters that do not fit the
// definition (UndefinedPolicyParameter, MissingPolicyParameter,
// InvalidPolicyParameterValue) or other bad properties.
func (e *Engine) PutAssignment(ctx context.Context, scope, name string, req *AssignmentRequest, principalID string) (*Assignment, bool, error) {
	if err := validateName("Assignment", name, "policyAssignmentName"); err != nil {
		return nil, false, err
	}
	sid, err := e.checkScope(ctx, scope)
	if err != nil {
		return nil, false, err
	}
	scope = sid.String()
	if req == nil || req.Properties == nil {
		return nil, false, invalidAssignment("properties", "The request body needs 'properties' with at least a policyDefinitionId.")
	}
	if req.Identity != nil && req.Identity.Type != "" && !strings.EqualFold(req.Identity.Type, "None") {
		return nil, false, invalidAssignment("identity.type", "Managed identities on policy assignments are not supported: Galleon applies Deny, Audit and Disabled, which need none. Leave 'identity' out.")
	}
	p := *req.Properties
	if p.PolicyDefinitionID == "" {
		return nil, false, invalidAssignment("properties.policyDefinitionId", "properties.policyDefinitionId is required: the ID of the policy definition to assign, such as /subscriptions/{subscriptionId}/providers/Microsoft.Authorization/policyDefinitions/{name}.")
	}
	if strings.Contains(strings.ToLower(p.PolicyDefinitionID), "/policysetdefinitions/") {
		return nil, false, (&galleon.Error{Code: galleon.ENotImplemented, Reason: "PolicySetDefinitionNotSupported",
			Message: "Policy set definitions (initiatives) are not supported by Galleon. Assign each policy definition on its own."}).WithTarget("properties.policyDefinitionId")
	}
	def, err := e.GetDefinition(ctx, p.PolicyDefinitionID)
	if err != nil {
		if ge := galleon.AsError(err); ge != nil {
			return nil, false, ge.WithTarget("properties.policyDefinitionId")
		}
		return nil, false, err
	}
	p.PolicyDefinitionID = def.ID
	if did, _ := galleon.ParseResourceID(def.ID); did.SubscriptionID != "" && !strings.EqualFold(did.SubscriptionID, sid.SubscriptionID) {
		return nil, false, invalidAssignment("properties.policyDefinitionId",
			"The policy definition '%s' belongs to subscription '%s'; it can be assigned only in that subscription, not at '%s'.", def.ID, did.SubscriptionID, scope)
	}
	switch {
	case p.EnforcementMode == "" || strings.EqualFold(p.EnforcementMode, EnforcementDefault):
		p.EnforcementMode = EnforcementDefault
	case strings.EqualFold(p.EnforcementMode, EnforcementDoNotEnforce):
		p.EnforcementMode = EnforcementDoNotEnforce
	default:
		return nil, false, invalidAssignment("properties.enforcementMode", "The enforcement mode '%s' is not supported; use Default or DoNotEnforce.", p.EnforcementMode)
	}
	if len(p.ResourceSelectors) > 0 || len(p.Overrides) > 0 {
		target := "properties.resourceSelectors"
		if len(p.Overrides) > 0 {
			target = "properties.overrides"
		}
		return nil, false, (&galleon.Error{Code: galleon.ENotImplemented, Reason: "NotSupported",
			Message: "Resource selectors and overrides are not supported by Galleon. Use notScopes to exclude resources, or another assignment for another effect."}).WithTarget(target)
	}
	if utf8.RuneCountInString(p.DisplayName) > 128 {
		return nil, false, invalidAssignment("properties.displayName", "The display name is longer than 128 characters.")
	}
	if utf8.RuneCountInString(p.Description) > 512 {
		return nil, false, invalidAssignment("properties.description", "The description is longer than 512 characters.")
	}
	notScopes := make([]string, 0, len(p.NotScopes))
	for i, ns := range p.NotScopes {
		nid, err := galleon.ParseResourceID(ns)
		target := fmt.Sprintf("properties.notScopes[%d]", i)
		if err != nil {
			return nil, false, invalidAssignment(target, "The excluded scope '%s' is not a valid resource ID.", ns)
		}
		if !galleon.ScopeContains(scope, nid.String()) {
			return nil, false, invalidAssignment(target, "The excluded scope '%s' is not inside the assignment's scope '%s'; only scopes inside it can be excluded.", ns, scope)
		}
		notScopes = append(notScopes, nid.String())
	}
	p.NotScopes = notScopes
	if p.Parameters == nil {
		p.Parameters = map[string]ParameterValue{}
	}
	values, err := ResolveParameters(def.Properties.Parameters, p.Parameters)
	if err != nil {
		return nil, false, err
	}
	rule, err := ParseRule(def.Properties.PolicyRule, def.Properties.Parameters)
	if err != nil {
		return nil, false, fmt.Errorf("parse rule of %s: %w", def.ID, err)
	}
	if _, err := rule.Effect(values); err != nil {
		return nil, false, (&galleon.Error{Code: galleon.EInvalid, Reason: "InvalidPolicyParameterValue",
			Message: fmt.Sprintf("The assignment's parameters give the policy an effect Galleon cannot apply: %s.", err.Error())}).WithTarget("properties.parameters")
	}
	p.Scope = scope
	p.AssignmentType = "Custom"
	now := e.now().Format(time.RFC3339Nano)
	meta := map[string]any{}
	for k, v := range p.Metadata {
		meta[k] = v
	}
	id := AssignmentID(scope, name)
	existing, err := e.Store.GetResource(ctx, id)
	if err != nil && galleon.ErrorCode(err) != galleon.ENotFound {
		return nil, false, err
	}
	if err == nil {
		old, err := assignmentFromResource(existing)
		if err != nil {
			return nil, false, err
		}
		for _, k := range []string{"createdBy", "createdOn"} {
			if v, ok := old.Properties.Metadata[k]; ok {
				meta[k] = v
			}
		}
		meta["updatedBy"], meta["updatedOn"] = principalID, now
		p.Metadata = meta
		p.InstanceID = old.Properties.InstanceID
		existing.Properties, _ = json.Marshal(p)
		existing.Location = req.Location
		if err := e.Store.UpdateResource(ctx, existing, ""); err != nil {
			return nil, false, err
		}
		a, err := assignmentFromResource(existing)
		return a, false, err
	}
	meta["createdBy"], meta["createdOn"] = principalID, now
	meta["updatedBy"], meta["updatedOn"] = nil, nil
	p.Metadata = meta
	p.InstanceID = uuid.NewString()
	props, _ := json.Marshal(p)
	r := &galleon.Resource{ID: id, Type: AssignmentType, Name: name, SubscriptionID: sid.SubscriptionID, ResourceGroup: sid.ResourceGroup,
		Location: req.Location, Properties: props, CreatedBy: principalID}
	if err := e.Store.CreateResource(ctx, r); galleon.ErrorCode(err) == galleon.EConflict {
		return e.PutAssignment(ctx, scope, name, req, principalID) // created meanwhile: update it
	} else if err != nil {
		return nil, false, err
	}
	a, err := assignmentFromResource(r)
	return a, true, err
}

// GetAssignment finds the assignment name at scope. ENotFound
// (PolicyAssignmentNotFound) if there is none.
func (e *Engine) GetAssignment(ctx context.Context, scope, name string) (*Assignment, error) {
	r, err := e.Store.GetResource(ctx, AssignmentID(scope, name))
	if galleon.ErrorCode(err) == galleon.ENotFound || (err == nil && !strings.EqualFold(r.Type, AssignmentType)) {
		return nil, assignmentNotFound(scope, name)
	} else if err != nil {
		return nil, err
	}
	return assignmentFromResource(r)
}

// DeleteAssignment removes the assignment name at scope and returns it.
// ENotFound if there is none.
func (e *Engine) DeleteAssignment(ctx context.Context, scope, name string) (*Assignment, error) {
	a, err := e.GetAssignment(ctx, scope, name)
	if err != nil {
		return nil, err
	}
	if err := e.Store.DeleteResource(ctx, a.ID); galleon.ErrorCode(err) == galleon.ENotFound {
		return nil, assignmentNotFound(scope, name)
	} else if err != nil {
		return nil, err
	}
	return a, nil
}

// PatchAssignment applies a PATCH: the location may change; resource
// selectors and overrides are refused as in PutAssignment.
func (e *Engine) PatchAssignment(ctx context.Context, scope, name string, req *AssignmentRequest) (*Assignment, error) {
	a, err := e.GetAssignment(ctx, scope, name)
	if err != nil {
		return nil, err
	}
	if req != nil && req.Properties != nil && (len(req.Properties.ResourceSelectors) > 0 || len(req.Properties.Overrides) > 0) {
		return nil, (&galleon.Error{Code: galleon.ENotImplemented, Reason: "NotSupported",
			Message: "Resource selectors and overrides are not supported by Galleon. Use notScopes to exclude resources, or another assignment for another effect."}).WithTarget("properties")
	}
	if req != nil && req.Identity != nil && req.Identity.Type != "" && !strings.EqualFold(req.Identity.Type, "None") {
		return nil, invalidAssignment("identity.type", "Managed identities on policy assignments are not supported: Galleon applies Deny, Audit and Disabled, which need none.")
	}
	if req == nil || req.Location == "" || req.Location == a.Location {
		return a, nil
	}
	r, err := e.Store.GetResource(ctx, a.ID)
	if err != nil {
		return nil, err
	}
	r.Location = req.Location
	if err := e.Store.UpdateResource(ctx, r, ""); err != nil {
		return nil, err
	}
	return assignmentFromResource(r)
}

// AssignmentFilter selects assignments in ListAssignments.
type AssignmentFilter struct {
	// AtScope keeps only assignments that apply to the scope (at it or
	// above it); AtExactScope only those at the scope itself. With
	// neither, assignments inside the scope are listed too.
	AtScope      bool
	AtExactScope bool
	// DefinitionID keeps only assignments of this definition.
	DefinitionID string
}

// ParseAssignmentFilter reads the $filter of an assignment listing:
// atScope(), atExactScope() or policyDefinitionId eq '{id}'.
func ParseAssignmentFilter(s string) (AssignmentFilter, error) {
	var f AssignmentFilter
	t := strings.TrimSpace(s)
	switch {
	case t == "":
	case strings.EqualFold(t, "atScope()"):
		f.AtScope = true
	case strings.EqualFold(t, "atExactScope()"):
		f.AtExactScope = true
	default:
		parts := strings.SplitN(t, " ", 3)
		if len(parts) == 3 && strings.EqualFold(parts[0], "policyDefinitionId") && (strings.EqualFold(parts[1], "eq") || strings.EqualFold(parts[1], "-eq")) {
			v := strings.TrimSpace(parts[2])
			if len(v) >= 2 && v[0] == '\'' && v[len(v)-1] == '\'' && len(v) > 2 {
				f.DefinitionID = v[1 : len(v)-1]
				return f, nil
			}
		}
		return f, (&galleon.Error{Code: galleon.EInvalid, Reason: "InvalidFilterParameter",
			Message: fmt.Sprintf("The $filter '%s' is not supported. Use atScope(), atExactScope() or policyDefinitionId eq '{id}'.", s)}).WithTarget("$filter")
	}
	return f, nil
}

// ListAssignments lists the assignments that apply at scope (at it and
// above it) and, unless f says otherwise, those inside it, ordered by ID.
func (e *Engine) ListAssignments(ctx context.Context, scope string, f AssignmentFilter) ([]*Assignment, error) {
	sid, err := galleon.ParseResourceID(scope)
	if err != nil {
		return nil, err
	}
	if sid.SubscriptionID == "" {
		return []*Assignment{}, nil
	}
	all, err := e.subscriptionAssignments(ctx, sid.SubscriptionID)
	if err != nil {
		return nil, err
	}
	out := []*Assignment{}
	for _, a := range all {
		at := a.Properties.Scope
		above := galleon.ScopeContains(at, scope)
		inside := galleon.ScopeContains(scope, at)
		switch {
		case f.AtExactScope && galleon.NormalizeScope(at) != galleon.NormalizeScope(scope):
			continue
		case f.AtScope && !above:
			continue
		case !above && !inside:
			continue
		case f.DefinitionID != "" && galleon.NormalizeScope(f.DefinitionID) != galleon.NormalizeScope(a.Properties.PolicyDefinitionID):
			continue
		}
		out = append(out, a)
	}
	return out, nil
}

// subscriptionAssignments lists every assignment in a subscription.
func (e *Engine) subscriptionAssignments(ctx context.Context, subscriptionID string) ([]*Assignment, error) {
	rs, err := e.listAll(ctx, galleon.ResourceFilter{SubscriptionID: subscriptionID, Type: AssignmentType})
	if err != nil {
		return nil, err
	}
	out := make([]*Assignment, 0, len(rs))
	for _, r := range rs {
		a, err := assignmentFromResource(r)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// DefinitionFilter selects definitions in a listing.
type DefinitionFilter struct {
	// AtExactScope leaves out the built-in definitions of a subscription
	// listing.
	AtExactScope bool
	// PolicyType keeps definitions of this type (Custom, BuiltIn).
	PolicyType string
	// Category keeps definitions whose metadata.category is this.
	Category string
}

// ParseDefinitionFilter reads the $filter of a definition listing:
// atExactScope(), policyType eq '{type}' or category eq '{category}'.
func ParseDefinitionFilter(s string) (DefinitionFilter, error) {
	var f DefinitionFilter
	t := strings.TrimSpace(s)
	if t == "" {
		return f, nil
	}
	if strings.EqualFold(t, "atExactScope()") {
		f.AtExactScope = true
		return f, nil
	}
	parts := strings.SplitN(t, " ", 3)
	if len(parts) == 3 && (strings.EqualFold(parts[1], "eq") || strings.EqualFold(parts[1], "-eq")) {
		v := strings.Trim(strings.TrimSpace(parts[2]), "'")
		switch {
		case strings.EqualFold(parts[0], "policyType") && v != "":
			f.PolicyType = v
			return f, nil
		case strings.EqualFold(parts[0], "category") && v != "":
			f.Category = v
			return f, nil
		}
	}
	return f, (&galleon.Error{Code: galleon.EInvalid, Reason: "InvalidFilterParameter",
		Message: fmt.Sprintf("The $filter '%s' is not supported. Use atExactScope(), policyType eq '{Custom|BuiltIn}' or category eq '{category}'.", s)}).WithTarget("$filter")
}

// Keep reports whether a definition passes the filter.
func (f DefinitionFilter) Keep(d *Definition) bool {
	if f.AtExactScope && d.Properties.PolicyType == PolicyTypeBuiltIn {
		return false
	}
	if f.PolicyType != "" && !strings.EqualFold(f.PolicyType, d.Properties.PolicyType) {
		return false
	}
	if f.Category != "" {
		c, _ := d.Properties.Metadata["category"].(string)
		if !strings.EqualFold(c, f.Category) {
			return false
		}
	}
	return true
}
