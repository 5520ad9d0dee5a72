package policy

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/galleonhq/galleon"
)

// Store is what the engine needs of galleon.Store: definitions and
// assignments are resources, audit events are audit records.
type Store interface {
	galleon.ResourceStore
	galleon.AuditStore
}

// Audit record actions of policy events, as Azure's activity log names them.
const (
	AuditAction = "Microsoft.Authorization/policies/audit/action"
	DenyAction  = "Microsoft.Authorization/policies/deny/action"
)

// Engine holds policy definitions and assignments and applies them to
// resources about to be written.
type Engine struct {
	Store  Store
	Now    func() time.Time
	Logger *slog.Logger
}

func (e *Engine) now() time.Time {
	if e.Now != nil {
		return e.Now().UTC()
	}
	return time.Now().UTC()
}

func (e *Engine) logger() *slog.Logger {
	if e.Logger != nil {
		return e.Logger
	}
	return slog.Default()
}

// Outcome is what one assignment decided about a resource.
type Outcome struct {
	Assignment *Assignment
	Definition *Definition
	// Effect is the rule's effect: EffectDeny or EffectAudit. A deny of
	// an assignment under DoNotEnforce is reported with Enforced false.
	Effect   string
	Enforced bool
}

// Evaluate applies every assignment at or above the resource's scope
// (and not excluding it through notScopes) to the resource and returns
// the assignments whose rule matched with effect deny or audit. An error
// means an assignment could not be evaluated.
func (e *Engine) Evaluate(ctx context.Context, r *galleon.Resource) ([]Outcome, error) {
	if r == nil || r.SubscriptionID == "" {
		return nil, nil
	}
	all, err := e.subscriptionAssignments(ctx, r.SubscriptionID)
	if err != nil {
		return nil, err
	}
	defs := map[string]*Definition{}
	var out []Outcome
	for _, a := range all {
		if !applies(a, r.ID) {
			continue
		}
		key := galleon.NormalizeScope(a.Properties.PolicyDefinitionID)
		def, ok := defs[key]
		if !ok {
			if def, err = e.GetDefinition(ctx, a.Properties.PolicyDefinitionID); err != nil {
				return nil, evaluationFailed(a, err)
			}
			defs[key] = def
		}
		rule, err := ParseRule(def.Properties.PolicyRule, def.Properties.Parameters)
		if err != nil {
			return nil, evaluationFailed(a, err)
		}
		values, err := ResolveParameters(def.Properties.Parameters, a.Properties.Parameters)
		if err != nil {
			return nil, evaluationFailed(a, err)
		}
		effect, err := rule.Effect(values)
		if err != nil {
			return nil, evaluationFailed(a, err)
		}
		if effect == EffectDisabled {
			continue
		}
		matched, err := rule.Matches(r, values)
		if err != nil {
			return nil, evaluationFailed(a, err)
		}
		if !matched {
			continue
		}
		out = append(out, Outcome{Assignment: a, Definition: def, Effect: effect,
			Enforced: effect == EffectDeny && a.Properties.EnforcementMode != EnforcementDoNotEnforce})
	}
	return out, nil
}

// applies reports whether an assignment covers a resource ID.
func applies(a *Assignment, id string) bool {
	if !galleon.ScopeContains(a.Properties.Scope, id) {
		return false
	}
	for _, ns := range a.Properties.NotScopes {
		if galleon.ScopeContains(ns, id) {
			return false
		}
	}
	return true
}

func evaluationFailed(a *Assignment, err error) error {
	return galleon.ReasonErrorf(galleon.EConflict, "PolicyEvaluationFailed",
		"The policy assignment '%s' (%s) could not be evaluated: %s. Fix or delete that assignment; writes it covers are refused until then.",
		a.DisplayName(), a.ID, strings.TrimSuffix(messageOf(err), "."))
}

// messageOf is the user-facing text of an error: the message of a
// *galleon.Error, else the error's text (evaluation errors carry no
// internals).
func messageOf(err error) string {
	if ge := galleon.AsError(err); ge != nil {
		return ge.Message
	}
	return err.Error()
}

// Check vets a resource about to be stored (gallery.Service.Check). A
// matching enforced deny refuses the write with EForbidden
// (RequestDisallowedByPolicy) naming the assignments; matching audits,
// and denies under DoNotEnforce, let it through and append an audit
// record (action AuditAction, the assignment's ID in Path) that the
// activity log lists.
func (e *Engine) Check(ctx context.Context, r *galleon.Resource) error {
	outcomes, err := e.Evaluate(ctx, r)
	if err != nil {
		return err
	}
	var denies []Outcome
	for _, o := range outcomes {
		if o.Enforced {
			denies = append(denies, o)
		}
	}
	if len(denies) > 0 {
		for _, o := range denies {
			if err := e.record(ctx, r, o, DenyAction); err != nil {
				e.logger().Warn("record policy deny event", "err", err, "resource", r.ID, "assignment", o.Assignment.ID)
			}
		}
		return disallowed(r, denies)
	}
	for _, o := range outcomes {
		if err := e.record(ctx, r, o, AuditAction); err != nil {
			return fmt.Errorf("record policy audit of %s by %s: %w", r.ID, o.Assignment.ID, err)
		}
	}
	return nil
}

// record appends the audit record of a policy event.
func (e *Engine) record(ctx context.Context, r *galleon.Resource, o Outcome, action string) error {
	rec := &galleon.AuditRecord{
		Time: e.now(), SubscriptionID: r.SubscriptionID, Path: o.Assignment.ID, ResourceID: r.ID,
		Action: action, Status: http.StatusOK, Result: "Succeeded",
	}
	if action == DenyAction {
		rec.Status, rec.Result = http.StatusForbidden, "Failed"
	}
	if p := galleon.PrincipalFromContext(ctx); p != nil {
		rec.TenantID, rec.PrincipalID, rec.PrincipalType, rec.AppID = p.TenantID, p.ObjectID, p.Type, p.AppID
	}
	ids := galleon.RequestIDsFromContext(ctx)
	rec.RequestID, rec.CorrelationID = ids.RequestID, ids.CorrelationID
	return e.Store.AppendAudit(ctx, rec)
}

// policyIdentifier is one entry of the "Policy identifiers" list in
// Azure's RequestDisallowedByPolicy message.
type policyIdentifier struct {
	PolicyAssignment nameID `json:"policyAssignment"`
	PolicyDefinition nameID `json:"policyDefinition"`
}

type nameID struct {
	Name string `json:"name"`
	ID   string `json:"id"`
}

// disallowed builds Azure's RequestDisallowedByPolicy error, followed by
// what was refused and whom to ask.
func disallowed(r *galleon.Resource, denies []Outcome) error {
	ids := make([]policyIdentifier, len(denies))
	var why []string
	for i, o := range denies {
		a, d := o.Assignment, o.Definition
		ids[i] = policyIdentifier{nameID{a.DisplayName(), a.ID}, nameID{d.DisplayName(), d.ID}}
		reason := fmt.Sprintf("the policy assignment '%s' (%s, at scope '%s', policy '%s') denies it", a.DisplayName(), a.ID, a.Properties.Scope, d.DisplayName())
		if msg := nonComplianceMessage(a); msg != "" {
			reason += ": " + strings.TrimSuffix(msg, ".")
		}
		why = append(why, reason)
	}
	list, _ := json.Marshal(ids)
	return (&galleon.Error{Code: galleon.EForbidden, Reason: "RequestDisallowedByPolicy",
		Message: fmt.Sprintf("Resource '%s' was disallowed by policy. Policy identifiers: '%s'. The write of %s '%s' was refused because %s. Change the request to comply, or ask an owner of the assignment's scope to exclude this resource (notScopes), set the assignment's enforcementMode to DoNotEnforce, or delete the assignment.",
			r.Name, list, r.Type, r.ID, strings.Join(why, "; and "))}).WithTarget(r.Name)
}

// nonComplianceMessage is the message an assignment gives users it
// refuses: its non-compliance message, or its description.
func nonComplianceMessage(a *Assignment) string {
	for _, m := range a.Properties.NonComplianceMessages {
		if m.PolicyDefinitionReferenceID == "" && m.Message != "" {
			return m.Message
		}
	}
	return a.Properties.Description
}
