package policy

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/galleonhq/galleon"
)

// Resource types of Azure Policy.
const (
	DefinitionType = "Microsoft.Authorization/policyDefinitions"
	AssignmentType = "Microsoft.Authorization/policyAssignments"
)

// Policy types and modes.
const (
	PolicyTypeCustom  = "Custom"
	PolicyTypeBuiltIn = "BuiltIn"
	ModeIndexed       = "Indexed"
	ModeAll           = "All"
)

// DefinitionProperties are a policy definition's properties, stored and
// shown as they are.
type DefinitionProperties struct {
	PolicyType  string                          `json:"policyType"`
	Mode        string                          `json:"mode"`
	DisplayName string                          `json:"displayName,omitempty"`
	Description string                          `json:"description,omitempty"`
	PolicyRule  json.RawMessage                 `json:"policyRule"`
	Metadata    map[string]any                  `json:"metadata,omitempty"`
	Parameters  map[string]*ParameterDefinition `json:"parameters,omitempty"`
	Version     string                          `json:"version,omitempty"`
	Versions    []string                        `json:"versions,omitempty"`
}

// Definition is a policy definition: a custom one of a subscription, or a
// built-in one.
type Definition struct {
	ID         string
	Name       string
	Properties DefinitionProperties
	CreatedBy  string
	CreatedAt  time.Time
	ChangedAt  time.Time
}

// DisplayName is the definition's display name, or its name.
func (d *Definition) DisplayName() string {
	if d.Properties.DisplayName != "" {
		return d.Properties.DisplayName
	}
	return d.Name
}

// DefinitionID is the ID of a custom definition of a subscription.
func DefinitionID(subscriptionID, name string) string {
	return "/subscriptions/" + subscriptionID + "/providers/" + DefinitionType + "/" + name
}

// BuiltInDefinitionID is the ID of a built-in definition.
func BuiltInDefinitionID(name string) string { return "/providers/" + DefinitionType + "/" + name }

// Names of definitions and assignments: up to 64 characters, none of
// <>*%&:\?.+/ or control characters, not ending with a space.
var badNameChars = regexp.MustCompile(`[<>*%&:\\?.+/\x00-\x1f]`)

func validateName(kind, name, target string) error {
	if name == "" || utf8.RuneCountInString(name) > 64 || badNameChars.MatchString(name) || strings.HasSuffix(name, " ") {
		return (&galleon.Error{Code: galleon.EInvalid, Reason: "InvalidPolicy" + kind + "Name",
			Message: fmt.Sprintf("The policy %s name '%s' is not valid: use 1 to 64 characters, none of <>*%%&:\\?.+/ or control characters, not ending with a space.", strings.ToLower(kind), name)}).WithTarget(target)
	}
	return nil
}

var versionRE = regexp.MustCompile(`^\d+\.\d+\.\d+$`)

func invalidDefinition(target, format string, args ...any) error {
	return (&galleon.Error{Code: galleon.EInvalid, Reason: "InvalidPolicyDefinition", Message: fmt.Sprintf(format, args...)}).WithTarget(target)
}

func definitionNotFound(id string) error {
	return galleon.ReasonErrorf(galleon.ENotFound, "PolicyDefinitionNotFound",
		"The policy definition '%s' could not be found. List the definitions with GET /subscriptions/{subscriptionId}/providers/Microsoft.Authorization/policyDefinitions.", id)
}

// validateDefinition checks and canonicalizes a definition's properties
// and returns its parsed rule.
func validateDefinition(p *DefinitionProperties) (*Rule, error) {
	switch {
	case p.PolicyType == "" || strings.EqualFold(p.PolicyType, PolicyTypeCustom) || strings.EqualFold(p.PolicyType, "NotSpecified"):
		p.PolicyType = PolicyTypeCustom
	default:
		return nil, invalidDefinition("properties.policyType", "The policy type '%s' cannot be created; custom definitions have policyType Custom (or leave it out).", p.PolicyType)
	}
	switch {
	case p.Mode == "" || strings.EqualFold(p.Mode, ModeIndexed):
		p.Mode = ModeIndexed
	case strings.EqualFold(p.Mode, ModeAll):
		p.Mode = ModeAll
	default:
		return nil, invalidDefinition("properties.mode", "The policy mode '%s' is not supported; use Indexed (the default) or All.", p.Mode)
	}
	if utf8.RuneCountInString(p.DisplayName) > 128 {
		return nil, invalidDefinition("properties.displayName", "The display name is longer than 128 characters.")
	}
	if utf8.RuneCountInString(p.Description) > 512 {
		return nil, invalidDefinition("properties.description", "The description is longer than 512 characters.")
	}
	if p.Version != "" && !versionRE.MatchString(p.Version) {
		return nil, invalidDefinition("properties.version", "The version '%s' is not in #.#.# form (1.0.0).", p.Version)
	}
	if p.Version == "" {
		p.Version = "1.0.0"
	}
	p.Versions = []string{p.Version}
	if err := validateParameterDefinitions(p.Parameters); err != nil {
		return nil, err
	}
	rule, err := ParseRule(p.PolicyRule, p.Parameters)
	if err != nil {
		return nil, AsInvalidRule(err)
	}
	return rule, nil
}

func definitionFromResource(r *galleon.Resource) (*Definition, error) {
	d := &Definition{ID: r.ID, Name: r.Name, CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt, ChangedAt: r.ChangedAt}
	if err := json.Unmarshal(r.Properties, &d.Properties); err != nil {
		return nil, fmt.Errorf("decode policy definition %s: %w", r.ID, err)
	}
	return d, nil
}

// PutDefinition creates or replaces a custom definition of a
// subscription and reports whether it created it. Returns EInvalid
// (InvalidPolicyRule naming the JSON path, InvalidPolicyParameters,
// InvalidPolicyDefinition) for a bad body, and InvalidPolicyParameterUpdate
// when a change would break an assignment of the definition.
func (e *Engine) PutDefinition(ctx context.Context, subscriptionID, name string, p *DefinitionProperties, principalID string) (*Definition, bool, error) {
	if err := validateName("Definition", name, "policyDefinitionName"); err != nil {
		return nil, false, err
	}
	if p == nil {
		return nil, false, invalidDefinition("properties", "The request body needs 'properties' with at least a policyRule.")
	}
	id := DefinitionID(subscriptionID, name)
	existing, err := e.Store.GetResource(ctx, id)
	if err != nil && galleon.ErrorCode(err) != galleon.ENotFound {
		return nil, false, err
	}
	var old *Definition
	if err == nil {
		if old, err = definitionFromResource(existing); err != nil {
			return nil, false, err
		}
		if err := checkParameterTypes(old, p); err != nil {
			return nil, false, err
		}
	}
	if _, err := validateDefinition(p); err != nil {
		return nil, false, err
	}
	now := e.now().Format(time.RFC3339Nano)
	meta := map[string]any{}
	for k, v := range p.Metadata {
		meta[k] = v
	}
	if old != nil {
		if err := e.checkDefinitionUpdate(ctx, old, p); err != nil {
			return nil, false, err
		}
		for _, k := range []string{"createdBy", "createdOn"} {
			if v, ok := old.Properties.Metadata[k]; ok {
				meta[k] = v
			}
		}
		meta["updatedBy"], meta["updatedOn"] = principalID, now
		p.Metadata = meta
		existing.Properties, _ = json.Marshal(p)
		if err := e.Store.UpdateResource(ctx, existing, ""); err != nil {
			return nil, false, err
		}
		d, err := definitionFromResource(existing)
		return d, false, err
	}
	meta["createdBy"], meta["createdOn"] = principalID, now
	meta["updatedBy"], meta["updatedOn"] = nil, nil
	p.Metadata = meta
	props, _ := json.Marshal(p)
	r := &galleon.Resource{ID: id, Type: DefinitionType, Name: name, SubscriptionID: subscriptionID, Properties: props, CreatedBy: principalID}
	if err := e.Store.CreateResource(ctx, r); galleon.ErrorCode(err) == galleon.EConflict {
		return e.PutDefinition(ctx, subscriptionID, name, p, principalID) // created meanwhile: update it
	} else if err != nil {
		return nil, false, err
	}
	d, err := definitionFromResource(r)
	return d, true, err
}

// checkParameterTypes refuses changing the type of a parameter of an
// existing definition, as Azure does.
func checkParameterTypes(old *Definition, p *DefinitionProperties) error {
	for _, name := range sortedKeys(old.Properties.Parameters) {
		od := old.Properties.Parameters[name]
		if nd := lookupParam(p.Parameters, name); nd != nil && od != nil && !strings.EqualFold(nd.Type, od.Type) {
			return (&galleon.Error{Code: galleon.EInvalid, Reason: "InvalidPolicyParameterUpdate",
				Message: fmt.Sprintf("The type of parameter '%s' cannot change from %s to %s once the definition exists. Create a new definition instead.", name, od.Type, nd.Type)}).WithTarget("properties.parameters." + name + ".type")
		}
	}
	return nil
}

// checkDefinitionUpdate refuses changes that would break assignments of
// the definition: parameters the assignments' values no longer satisfy.
func (e *Engine) checkDefinitionUpdate(ctx context.Context, old *Definition, p *DefinitionProperties) error {
	as, err := e.assignmentsOf(ctx, old)
	if err != nil {
		return err
	}
	rule, err := ParseRule(p.PolicyRule, p.Parameters)
	if err != nil {
		return AsInvalidRule(err)
	}
	for _, a := range as {
		values, err := ResolveParameters(p.Parameters, a.Properties.Parameters)
		if err == nil {
			_, err = rule.Effect(values)
		}
		if err != nil {
			return (&galleon.Error{Code: galleon.EInvalid, Reason: "InvalidPolicyParameterUpdate",
				Message: fmt.Sprintf("The change would break the policy assignment '%s' (%s): %s Give new parameters default values, or change or delete the assignment first.", a.DisplayName(), a.ID, messageOf(err))}).WithTarget("properties.parameters")
		}
	}
	return nil
}

// GetDefinition finds a definition by ID: a subscription's custom
// definition or a built-in one. ENotFound (PolicyDefinitionNotFound) if
// there is none.
func (e *Engine) GetDefinition(ctx context.Context, id string) (*Definition, error) {
	rid, err := galleon.ParseResourceID(id)
	if err != nil || !strings.EqualFold(rid.Type(), DefinitionType) || rid.ResourceGroup != "" || rid.Scope != nil {
		return nil, definitionNotFound(id)
	}
	if rid.SubscriptionID != "" {
		r, err := e.Store.GetResource(ctx, rid.String())
		if galleon.ErrorCode(err) == galleon.ENotFound || (err == nil && !strings.EqualFold(r.Type, DefinitionType)) {
			return nil, definitionNotFound(id)
		} else if err != nil {
			return nil, err
		}
		return definitionFromResource(r)
	}
	if d := builtInDefinition(rid.Name()); d != nil {
		return d, nil
	}
	return nil, definitionNotFound(id)
}

// ListDefinitions lists a subscription's custom definitions followed by
// the built-in ones; with subscriptionID "" only the built-in ones.
func (e *Engine) ListDefinitions(ctx context.Context, subscriptionID string) ([]*Definition, error) {
	var out []*Definition
	if subscriptionID != "" {
		rs, err := e.listAll(ctx, galleon.ResourceFilter{SubscriptionID: subscriptionID, Type: DefinitionType})
		if err != nil {
			return nil, err
		}
		for _, r := range rs {
			d, err := definitionFromResource(r)
			if err != nil {
				return nil, err
			}
			out = append(out, d)
		}
	}
	return append(out, BuiltInDefinitions()...), nil
}

// DeleteDefinition removes a custom definition. ENotFound if it is
// missing; EConflict (PolicyDefinitionInUse) while assignments use it.
func (e *Engine) DeleteDefinition(ctx context.Context, subscriptionID, name string) error {
	d, err := e.GetDefinition(ctx, DefinitionID(subscriptionID, name))
	if err != nil {
		return err
	}
	as, err := e.assignmentsOf(ctx, d)
	if err != nil {
		return err
	}
	if len(as) > 0 {
		names := make([]string, 0, len(as))
		for _, a := range as {
			names = append(names, fmt.Sprintf("'%s' (%s)", a.DisplayName(), a.ID))
		}
		return galleon.ReasonErrorf(galleon.EConflict, "PolicyDefinitionInUse",
			"The policy definition '%s' cannot be deleted while it is assigned: %s. Delete those policy assignments first.", d.Name, strings.Join(names, ", "))
	}
	return e.Store.DeleteResource(ctx, d.ID)
}

// assignmentsOf lists the assignments, in the definition's subscription,
// of a custom definition.
func (e *Engine) assignmentsOf(ctx context.Context, d *Definition) ([]*Assignment, error) {
	rid, err := galleon.ParseResourceID(d.ID)
	if err != nil || rid.SubscriptionID == "" {
		return nil, err
	}
	all, err := e.subscriptionAssignments(ctx, rid.SubscriptionID)
	if err != nil {
		return nil, err
	}
	var out []*Assignment
	for _, a := range all {
		if galleon.NormalizeScope(a.Properties.PolicyDefinitionID) == galleon.NormalizeScope(d.ID) {
			out = append(out, a)
		}
	}
	return out, nil
}

// listAll pages through ListResources.
func (e *Engine) listAll(ctx context.Context, f galleon.ResourceFilter) ([]*galleon.Resource, error) {
	var out []*galleon.Resource
	f.Limit = 500
	for {
		rs, next, err := e.Store.ListResources(ctx, f)
		if err != nil {
			return nil, err
		}
		out = append(out, rs...)
		if next == "" {
			return out, nil
		}
		f.After = next
	}
}
