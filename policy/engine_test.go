package policy_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/galleonhq/galleon"
	"github.com/galleonhq/galleon/policy"
	"github.com/galleonhq/galleon/store/sqlite"
)

const (
	sub1   = "00000000-0000-0000-0000-000000000001"
	sub2   = "00000000-0000-0000-0000-000000000002"
	userID = "11111111-1111-1111-1111-111111111111"
)

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// mustEngine returns an engine on a fresh SQLite store holding resource
// groups rg1 and rg2 of sub1, and a context carrying a user.
func mustEngine(t *testing.T) (*policy.Engine, *sqlite.Store, context.Context) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "galleon.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	for _, rg := range []string{"rg1", "rg2"} {
		if err := st.CreateResource(ctx, &galleon.Resource{ID: "/subscriptions/" + sub1 + "/resourceGroups/" + rg,
			Type: "Microsoft.Resources/resourceGroups", Name: rg, SubscriptionID: sub1, ResourceGroup: rg, Location: "eastus"}); err != nil {
			t.Fatal(err)
		}
	}
	e := &policy.Engine{Store: st, Now: func() time.Time { return now }}
	ctx = galleon.NewContextWithPrincipal(ctx, &galleon.Principal{ObjectID: userID, TenantID: "t1", Type: galleon.PrincipalUser})
	return e, st, ctx
}

// communityDefinition is the documents' rule with an effect parameter.
func communityDefinition(t *testing.T) *policy.DefinitionProperties {
	t.Helper()
	raw, err := os.ReadFile("testdata/community-deny-rule.json")
	if err != nil {
		t.Fatal(err)
	}
	return &policy.DefinitionProperties{
		DisplayName: "Deny community galleries",
		PolicyRule:  raw,
		Parameters: map[string]*policy.ParameterDefinition{
			"effect": {Type: "String", AllowedValues: []any{"Audit", "Deny", "Disabled"}, DefaultValue: json.RawMessage(`"Deny"`)},
		},
	}
}

func galleryIn(sub, rg, name, permissions string) *galleon.Resource {
	g := gallery(name, permissions, nil)
	g.SubscriptionID, g.ResourceGroup = sub, rg
	g.ID = "/subscriptions/" + sub + "/resourceGroups/" + rg + "/providers/Microsoft.Compute/galleries/" + name
	return g
}

func assign(t *testing.T, e *policy.Engine, ctx context.Context, scope, name, defID string, params map[string]any, mutate func(*policy.AssignmentProperties)) *policy.Assignment {
	t.Helper()
	p := &policy.AssignmentProperties{PolicyDefinitionID: defID, DisplayName: "assignment " + name, Parameters: map[string]policy.ParameterValue{}}
	for k, v := range params {
		b, _ := json.Marshal(v)
		p.Parameters[k] = policy.ParameterValue{Value: b}
	}
	if mutate != nil {
		mutate(p)
	}
	a, _, err := e.PutAssignment(ctx, scope, name, &policy.AssignmentRequest{Properties: p}, userID)
	if err != nil {
		t.Fatalf("assign %s: %v", name, err)
	}
	return a
}

func wantReason(t *testing.T, err error, code, reason string) *galleon.Error {
	t.Helper()
	ge := galleon.AsError(err)
	if ge == nil || ge.Code != code || ge.Reason != reason {
		t.Fatalf("err = %v, want %s/%s", err, code, reason)
	}
	return ge
}

func TestDefinitions(t *testing.T) {
	e, _, ctx := mustEngine(t)
	d, created, err := e.PutDefinition(ctx, sub1, "deny-community", communityDefinition(t), userID)
	if err != nil || !created {
		t.Fatalf("create: %v, created=%v", err, created)
	}
	if d.ID != "/subscriptions/"+sub1+"/providers/Microsoft.Authorization/policyDefinitions/deny-community" ||
		d.Properties.PolicyType != "Custom" || d.Properties.Mode != "Indexed" || d.Properties.Version != "1.0.0" ||
		d.Properties.Metadata["createdBy"] != userID {
		t.Fatalf("definition = %+v", d)
	}
	p := communityDefinition(t)
	p.Mode = "all"
	p.Description = "second"
	d, created, err = e.PutDefinition(ctx, sub1, "deny-community", p, userID)
	if err != nil || created || d.Properties.Mode != "All" || d.Properties.Description != "second" || d.Properties.Metadata["createdBy"] != userID || d.Properties.Metadata["updatedBy"] != userID {
		t.Fatalf("update: %+v, %v, created=%v", d, err, created)
	}
	got, err := e.GetDefinition(ctx, strings.ToUpper(d.ID))
	if err != nil || got.Properties.Description != "second" {
		t.Fatalf("get: %+v, %v", got, err)
	}
	list, err := e.ListDefinitions(ctx, sub1)
	if err != nil || len(list) != 1+len(policy.BuiltInDefinitions()) || list[0].Name != "deny-community" {
		t.Fatalf("list: %d, %v", len(list), err)
	}
	builtIns, _ := e.ListDefinitions(ctx, "")
	if len(builtIns) == 0 || builtIns[0].Properties.PolicyType != "BuiltIn" {
		t.Fatalf("built-ins: %+v", builtIns)
	}
	if _, err := e.GetDefinition(ctx, "/providers/Microsoft.Authorization/policyDefinitions/e56962a6-4747-49cd-b67b-bf8b01975c4c"); err != nil {
		t.Fatalf("built-in allowed locations: %v", err)
	}
	for _, tc := range []struct {
		name, defName string
		mutate        func(*policy.DefinitionProperties)
		reason        string
		target        string
	}{
		{"ErrBadName", "a/b", nil, "InvalidPolicyDefinitionName", "policyDefinitionName"},
		{"ErrMode", "x", func(p *policy.DefinitionProperties) { p.Mode = "Microsoft.KeyVault.Data" }, "InvalidPolicyDefinition", "properties.mode"},
		{"ErrBuiltInType", "x", func(p *policy.DefinitionProperties) { p.PolicyType = "BuiltIn" }, "InvalidPolicyDefinition", "properties.policyType"},
		{"ErrParamType", "x", func(p *policy.DefinitionProperties) { p.Parameters["effect"].Type = "Text" }, "InvalidPolicyParameters", "properties.parameters.effect.type"},
		{"ErrDefaultNotAllowed", "x", func(p *policy.DefinitionProperties) { p.Parameters["effect"].DefaultValue = json.RawMessage(`"Block"`) }, "InvalidPolicyParameterValue", "properties.parameters.effect.defaultValue"},
		{"ErrDefaultWrongType", "x", func(p *policy.DefinitionProperties) { p.Parameters["effect"].DefaultValue = json.RawMessage(`5`) }, "InvalidPolicyParameterValue", "properties.parameters.effect.defaultValue"},
		{"ErrRuleOperator", "x", func(p *policy.DefinitionProperties) {
			p.PolicyRule = json.RawMessage(strings.Replace(string(p.PolicyRule), `"equals": "Community"`, `"equal": "Community"`, 1))
		}, "InvalidPolicyRule", "properties.policyRule.if.allOf[1].equal"},
		{"ErrRuleParameter", "x", func(p *policy.DefinitionProperties) { p.Parameters = nil }, "InvalidPolicyRule", "properties.policyRule.then.effect"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := communityDefinition(t)
			if tc.mutate != nil {
				tc.mutate(p)
			}
			_, _, err := e.PutDefinition(ctx, sub1, tc.defName, p, userID)
			if ge := wantReason(t, err, galleon.EInvalid, tc.reason); ge.Target != tc.target {
				t.Fatalf("target = %q, want %q (%s)", ge.Target, tc.target, ge.Message)
			}
		})
	}

	// A definition in use cannot be deleted, nor changed so that its
	// assignments break.
	a := assign(t, e, ctx, "/subscriptions/"+sub1, "no-community", d.ID, nil, nil)
	ge := wantReason(t, e.DeleteDefinition(ctx, sub1, "deny-community"), galleon.EConflict, "PolicyDefinitionInUse")
	if !strings.Contains(ge.Message, a.ID) || !strings.Contains(ge.Message, "assignment no-community") {
		t.Fatalf("message does not name the assignment: %s", ge.Message)
	}
	p = communityDefinition(t)
	p.Parameters["required"] = &policy.ParameterDefinition{Type: "String"}
	_, _, err = e.PutDefinition(ctx, sub1, "deny-community", p, userID)
	if ge := wantReason(t, err, galleon.EInvalid, "InvalidPolicyParameterUpdate"); !strings.Contains(ge.Message, a.ID) {
		t.Fatalf("message does not name the assignment: %s", ge.Message)
	}
	p = communityDefinition(t)
	p.Parameters["effect"].Type = "Array"
	p.Parameters["effect"].AllowedValues, p.Parameters["effect"].DefaultValue = nil, nil
	_, _, err = e.PutDefinition(ctx, sub1, "deny-community", p, userID)
	wantReason(t, err, galleon.EInvalid, "InvalidPolicyParameterUpdate")

	if _, err := e.DeleteAssignment(ctx, "/subscriptions/"+sub1, "no-community"); err != nil {
		t.Fatal(err)
	}
	if err := e.DeleteDefinition(ctx, sub1, "deny-community"); err != nil {
		t.Fatalf("delete: %v", err)
	}
	wantReason(t, e.DeleteDefinition(ctx, sub1, "deny-community"), galleon.ENotFound, "PolicyDefinitionNotFound")
}

func TestAssignments(t *testing.T) {
	e, _, ctx := mustEngine(t)
	d, _, err := e.PutDefinition(ctx, sub1, "deny-community", communityDefinition(t), userID)
	if err != nil {
		t.Fatal(err)
	}
	subScope, rg1, rg2 := "/subscriptions/"+sub1, "/subscriptions/"+sub1+"/resourceGroups/rg1", "/subscriptions/"+sub1+"/resourceGroups/rg2"
	a := assign(t, e, ctx, subScope, "at-sub", d.ID, map[string]any{"effect": "Audit"}, nil)
	if a.ID != subScope+"/providers/Microsoft.Authorization/policyAssignments/at-sub" || a.Properties.Scope != subScope ||
		a.Properties.EnforcementMode != "Default" || a.Properties.InstanceID == "" || a.Properties.NotScopes == nil {
		t.Fatalf("assignment = %+v", a)
	}
	// Updating keeps the instance ID.
	b := assign(t, e, ctx, subScope, "at-sub", d.ID, map[string]any{"effect": "Deny"}, nil)
	if b.Properties.InstanceID != a.Properties.InstanceID {
		t.Fatal("instance ID changed on update")
	}
	assign(t, e, ctx, strings.ToUpper(rg1), "at-rg1", d.ID, nil, nil)
	assign(t, e, ctx, rg2, "at-rg2", "/providers/Microsoft.Authorization/policyDefinitions/e56962a6-4747-49cd-b67b-bf8b01975c4c",
		map[string]any{"listOfAllowedLocations": []string{"eastus"}}, nil)

	names := func(as []*policy.Assignment) string {
		var out []string
		for _, a := range as {
			out = append(out, a.Name)
		}
		return strings.Join(out, ",")
	}
	for _, tc := range []struct {
		name, scope string
		filter      policy.AssignmentFilter
		want        string
	}{
		{"SubAll", subScope, policy.AssignmentFilter{}, "at-sub,at-rg1,at-rg2"},
		{"SubAtScope", subScope, policy.AssignmentFilter{AtScope: true}, "at-sub"},
		{"RGInherits", rg1, policy.AssignmentFilter{}, "at-sub,at-rg1"},
		{"RGExact", rg1, policy.AssignmentFilter{AtExactScope: true}, "at-rg1"},
		{"ByDefinition", subScope, policy.AssignmentFilter{DefinitionID: strings.ToLower(d.ID)}, "at-sub,at-rg1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			as, err := e.ListAssignments(ctx, tc.scope, tc.filter)
			if err != nil || names(as) != tc.want {
				t.Fatalf("list = %s, %v; want %s", names(as), err, tc.want)
			}
		})
	}

	for _, tc := range []struct {
		name, scope, defID string
		params             map[string]any
		mutate             func(*policy.AssignmentProperties)
		code, reason       string
	}{
		{"ErrScopeMissing", "/subscriptions/" + sub1 + "/resourceGroups/nope", d.ID, nil, nil, galleon.ENotFound, "ResourceGroupNotFound"},
		{"ErrTenantScope", "/", d.ID, nil, nil, galleon.EInvalid, "InvalidPolicyAssignmentScope"},
		{"ErrDefinitionMissing", subScope, d.ID + "x", nil, nil, galleon.ENotFound, "PolicyDefinitionNotFound"},
		{"ErrPolicySet", subScope, "/providers/Microsoft.Authorization/policySetDefinitions/x", nil, nil, galleon.ENotImplemented, "PolicySetDefinitionNotSupported"},
		{"ErrOtherSubscription", "/subscriptions/" + sub2, d.ID, nil, nil, galleon.EInvalid, "InvalidPolicyAssignment"},
		{"ErrEffectNotAllowed", subScope, d.ID, map[string]any{"effect": "Modify"}, nil, galleon.EInvalid, "InvalidPolicyParameterValue"},
		{"ErrUndeclaredParameter", subScope, d.ID, map[string]any{"effekt": "Deny"}, nil, galleon.EInvalid, "UndefinedPolicyParameter"},
		{"ErrRequiredParameter", subScope, "/providers/Microsoft.Authorization/policyDefinitions/e56962a6-4747-49cd-b67b-bf8b01975c4c", nil, nil, galleon.EInvalid, "MissingPolicyParameter"},
		{"ErrEnforcementMode", subScope, d.ID, nil, func(p *policy.AssignmentProperties) { p.EnforcementMode = "Enroll" }, galleon.EInvalid, "InvalidPolicyAssignment"},
		{"ErrNotScopeOutside", rg1, d.ID, nil, func(p *policy.AssignmentProperties) { p.NotScopes = []string{rg2} }, galleon.EInvalid, "InvalidPolicyAssignment"},
		{"ErrNotScopeInvalid", rg1, d.ID, nil, func(p *policy.AssignmentProperties) { p.NotScopes = []string{"rg2"} }, galleon.EInvalid, "InvalidPolicyAssignment"},
		{"ErrOverrides", subScope, d.ID, nil, func(p *policy.AssignmentProperties) { p.Overrides = []any{map[string]any{"kind": "policyEffect"}} }, galleon.ENotImplemented, "NotSupported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &policy.AssignmentProperties{PolicyDefinitionID: tc.defID, Parameters: map[string]policy.ParameterValue{}}
			for k, v := range tc.params {
				b, _ := json.Marshal(v)
				p.Parameters[k] = policy.ParameterValue{Value: b}
			}
			if tc.mutate != nil {
				tc.mutate(p)
			}
			_, _, err := e.PutAssignment(ctx, tc.scope, "bad", &policy.AssignmentRequest{Properties: p}, userID)
			wantReason(t, err, tc.code, tc.reason)
		})
	}
	if _, err := e.DeleteAssignment(ctx, rg1, "at-rg1"); err != nil {
		t.Fatal(err)
	}
	_, err = e.GetAssignment(ctx, rg1, "at-rg1")
	wantReason(t, err, galleon.ENotFound, "PolicyAssignmentNotFound")
}

func TestCheck(t *testing.T) {
	e, st, ctx := mustEngine(t)
	d, _, err := e.PutDefinition(ctx, sub1, "deny-community", communityDefinition(t), userID)
	if err != nil {
		t.Fatal(err)
	}
	subScope, rg1 := "/subscriptions/"+sub1, "/subscriptions/"+sub1+"/resourceGroups/rg1"
	community1, community2 := galleryIn(sub1, "rg1", "pub", "Community"), galleryIn(sub1, "rg2", "pub", "Community")
	private := galleryIn(sub1, "rg1", "team", "Private")
	audits := func(t *testing.T) []*galleon.AuditRecord {
		t.Helper()
		recs, err := st.ListAudit(ctx, galleon.AuditFilter{SubscriptionID: sub1})
		if err != nil {
			t.Fatal(err)
		}
		return recs
	}

	t.Run("DenyAtSubscription", func(t *testing.T) {
		a := assign(t, e, ctx, subScope, "deny", d.ID, nil, func(p *policy.AssignmentProperties) {
			p.DisplayName = "No community galleries"
			p.NonComplianceMessages = []policy.NonComplianceMessage{{Message: "Publishing to the community needs approval."}}
		})
		ge := wantReason(t, e.Check(ctx, community1), galleon.EForbidden, "RequestDisallowedByPolicy")
		want := `Resource 'pub' was disallowed by policy. Policy identifiers: '[{"policyAssignment":{"name":"No community galleries","id":"` + a.ID +
			`"},"policyDefinition":{"name":"Deny community galleries","id":"` + d.ID + `"}}]'.`
		if !strings.HasPrefix(ge.Message, want) || !strings.Contains(ge.Message, community1.ID) || !strings.Contains(ge.Message, "needs approval") {
			t.Fatalf("message = %s", ge.Message)
		}
		if err := e.Check(ctx, private); err != nil {
			t.Fatalf("private gallery: %v", err)
		}
		recs := audits(t)
		if len(recs) != 1 || recs[0].Action != policy.DenyAction || recs[0].Path != a.ID || recs[0].ResourceID != community1.ID || recs[0].PrincipalID != userID {
			t.Fatalf("deny events = %+v", recs)
		}
		if _, err := e.DeleteAssignment(ctx, subScope, "deny"); err != nil {
			t.Fatal(err)
		}
		if err := e.Check(ctx, community1); err != nil {
			t.Fatalf("after deleting the assignment: %v", err)
		}
	})

	t.Run("Audit", func(t *testing.T) {
		before := len(audits(t))
		a := assign(t, e, ctx, subScope, "audit", d.ID, map[string]any{"effect": "Audit"}, nil)
		if err := e.Check(ctx, community1); err != nil {
			t.Fatalf("audit refused: %v", err)
		}
		recs := audits(t)
		if len(recs) != before+1 {
			t.Fatalf("%d records, want %d", len(recs), before+1)
		}
		r := recs[0]
		if r.Action != policy.AuditAction || r.Path != a.ID || r.ResourceID != community1.ID || r.PrincipalID != userID || r.Result != "Succeeded" || r.SubscriptionID != sub1 || !r.Time.Equal(now) {
			t.Fatalf("audit record = %+v", r)
		}
		if err := e.Check(ctx, private); err != nil || len(audits(t)) != before+1 {
			t.Fatalf("private gallery audited: %v", err)
		}
		e.DeleteAssignment(ctx, subScope, "audit")
	})

	t.Run("DoNotEnforce", func(t *testing.T) {
		before := len(audits(t))
		assign(t, e, ctx, subScope, "dne", d.ID, nil, func(p *policy.AssignmentProperties) { p.EnforcementMode = "doNotEnforce" })
		if err := e.Check(ctx, community1); err != nil {
			t.Fatalf("DoNotEnforce refused: %v", err)
		}
		if recs := audits(t); len(recs) != before+1 || recs[0].Action != policy.AuditAction {
			t.Fatalf("records = %+v", recs)
		}
		e.DeleteAssignment(ctx, subScope, "dne")
	})

	t.Run("Disabled", func(t *testing.T) {
		before := len(audits(t))
		assign(t, e, ctx, subScope, "off", d.ID, map[string]any{"effect": "Disabled"}, nil)
		if err := e.Check(ctx, community1); err != nil || len(audits(t)) != before {
			t.Fatalf("disabled: %v", err)
		}
		e.DeleteAssignment(ctx, subScope, "off")
	})

	t.Run("ResourceGroupScope", func(t *testing.T) {
		assign(t, e, ctx, rg1, "rg-deny", d.ID, nil, nil)
		wantReason(t, e.Check(ctx, community1), galleon.EForbidden, "RequestDisallowedByPolicy")
		if err := e.Check(ctx, community2); err != nil {
			t.Fatalf("other resource group: %v", err)
		}
		e.DeleteAssignment(ctx, rg1, "rg-deny")
	})

	t.Run("NotScopes", func(t *testing.T) {
		assign(t, e, ctx, subScope, "most", d.ID, nil, func(p *policy.AssignmentProperties) { p.NotScopes = []string{strings.ToUpper(rg1)} })
		if err := e.Check(ctx, community1); err != nil {
			t.Fatalf("excluded resource group: %v", err)
		}
		wantReason(t, e.Check(ctx, community2), galleon.EForbidden, "RequestDisallowedByPolicy")
		e.DeleteAssignment(ctx, subScope, "most")
	})

	t.Run("OtherSubscription", func(t *testing.T) {
		assign(t, e, ctx, subScope, "deny", d.ID, nil, nil)
		if err := e.Check(ctx, galleryIn(sub2, "rg1", "pub", "Community")); err != nil {
			t.Fatalf("other subscription: %v", err)
		}
		e.DeleteAssignment(ctx, subScope, "deny")
	})

	t.Run("BuiltInAllowedLocations", func(t *testing.T) {
		assign(t, e, ctx, subScope, "where", "/providers/Microsoft.Authorization/policyDefinitions/e56962a6-4747-49cd-b67b-bf8b01975c4c",
			map[string]any{"listOfAllowedLocations": []string{"westeurope"}}, nil)
		ge := wantReason(t, e.Check(ctx, private), galleon.EForbidden, "RequestDisallowedByPolicy")
		if !strings.Contains(ge.Message, "Allowed locations") {
			t.Fatalf("message = %s", ge.Message)
		}
		eu := galleryIn(sub1, "rg1", "eu", "Private")
		eu.Location = "westeurope"
		if err := e.Check(ctx, eu); err != nil {
			t.Fatalf("allowed location: %v", err)
		}
		e.DeleteAssignment(ctx, subScope, "where")
	})

	t.Run("TwoDenies", func(t *testing.T) {
		assign(t, e, ctx, subScope, "deny-a", d.ID, nil, nil)
		assign(t, e, ctx, rg1, "deny-b", d.ID, nil, nil)
		ge := wantReason(t, e.Check(ctx, community1), galleon.EForbidden, "RequestDisallowedByPolicy")
		if !strings.Contains(ge.Message, "deny-a") || !strings.Contains(ge.Message, "deny-b") {
			t.Fatalf("message names not both: %s", ge.Message)
		}
	})
}
