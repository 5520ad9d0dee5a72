package policy_test

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/galleonhq/galleon"
	"github.com/galleonhq/galleon/policy"
)

// gallery returns a gallery resource with the given sharing permissions.
func gallery(name, permissions string, tags map[string]string) *galleon.Resource {
	props, _ := json.Marshal(galleon.GalleryProperties{Description: "team images",
		SharingProfile: &galleon.SharingProfile{Permissions: permissions}})
	return &galleon.Resource{
		ID:   "/subscriptions/s1/resourceGroups/rg1/providers/Microsoft.Compute/galleries/" + name,
		Type: galleon.GalleryType, Name: name, SubscriptionID: "s1", ResourceGroup: "rg1",
		Location: "eastus", Tags: tags, Properties: props,
	}
}

// version returns an image version replicated to the given regions.
func version(regions ...string) *galleon.Resource {
	var trs []galleon.TargetRegion
	for _, r := range regions {
		trs = append(trs, galleon.TargetRegion{Name: r})
	}
	n := 2
	props, _ := json.Marshal(galleon.GalleryImageVersionProperties{
		PublishingProfile: &galleon.VersionPublishingProfile{TargetRegions: trs, ReplicaCount: &n},
	})
	return &galleon.Resource{
		ID:   "/subscriptions/s1/resourceGroups/rg1/providers/Microsoft.Compute/galleries/g1/images/img/versions/1.0.0",
		Type: galleon.GalleryImageVersionType, Name: "1.0.0", SubscriptionID: "s1", ResourceGroup: "rg1",
		Location: "eastus", Properties: props,
	}
}

func mustParse(t *testing.T, rule string, params map[string]*policy.ParameterDefinition) *policy.Rule {
	t.Helper()
	r, err := policy.ParseRule(json.RawMessage(rule), params)
	if err != nil {
		t.Fatalf("parse %s: %v", rule, err)
	}
	return r
}

func matches(t *testing.T, r *policy.Rule, res *galleon.Resource, values map[string]any) bool {
	t.Helper()
	ok, err := r.Matches(res, values)
	if err != nil {
		t.Fatalf("evaluate: %v", err)
	}
	return ok
}

// cond wraps one condition into a rule with effect deny.
func cond(c string) string { return `{"if": ` + c + `, "then": {"effect": "deny"}}` }

func TestOperators(t *testing.T) {
	g := gallery("Prod-Gallery", "Community", map[string]string{"env": "Prod", "cost": "42"})
	v := version("eastus", "westeurope")
	for _, tc := range []struct {
		name string
		cond string
		res  *galleon.Resource
		want bool
	}{
		{"EqualsIgnoresCase", `{"field": "type", "equals": "microsoft.compute/GALLERIES"}`, g, true},
		{"EqualsOther", `{"field": "type", "equals": "Microsoft.Compute/disks"}`, g, false},
		{"NotEquals", `{"field": "location", "notEquals": "westus"}`, g, true},
		{"NotEqualsSame", `{"field": "location", "notEquals": "EastUS"}`, g, false},
		{"Name", `{"field": "name", "equals": "prod-gallery"}`, g, true},
		{"FullName", `{"field": "fullName", "equals": "g1/img/1.0.0"}`, v, true},
		{"ID", `{"field": "id", "like": "/subscriptions/s1/*"}`, g, true},
		{"In", `{"field": "location", "in": ["westus", "EASTUS"]}`, g, true},
		{"InMissing", `{"field": "location", "in": ["westus"]}`, g, false},
		{"NotIn", `{"field": "location", "notIn": ["westus", "northeurope"]}`, g, true},
		{"NotInListed", `{"field": "location", "notIn": ["eastus"]}`, g, false},
		{"LikePrefix", `{"field": "name", "like": "prod-*"}`, g, true},
		{"LikeMiddle", `{"field": "name", "like": "p*gal*y"}`, g, true},
		{"LikeNoMatch", `{"field": "name", "like": "dev-*"}`, g, false},
		{"LikeNoWildcard", `{"field": "name", "like": "prod-gallery"}`, g, true},
		{"NotLike", `{"field": "name", "notLike": "dev-*"}`, g, true},
		{"NotLikeMatching", `{"field": "name", "notLike": "*gallery"}`, g, false},
		{"Match", `{"field": "tags['cost']", "match": "##"}`, g, true},
		{"MatchWrongLength", `{"field": "tags['cost']", "match": "###"}`, g, false},
		{"MatchIsCaseSensitive", `{"field": "tags['env']", "match": "prod"}`, g, false},
		{"MatchInsensitively", `{"field": "tags['env']", "matchInsensitively": "p?o."}`, g, true},
		{"NotMatch", `{"field": "tags['env']", "notMatch": "####"}`, g, true},
		{"ContainsSubstring", `{"field": "name", "contains": "GALL"}`, g, true},
		{"ContainsNot", `{"field": "name", "contains": "disk"}`, g, false},
		{"NotContains", `{"field": "name", "notContains": "disk"}`, g, true},
		{"ContainsArrayElement", `{"field": "Microsoft.Compute/galleries/images/versions/publishingProfile.targetRegions", "contains": "x"}`, v, false},
		{"ContainsKey", `{"field": "tags", "containsKey": "ENV"}`, g, true},
		{"NotContainsKey", `{"field": "tags", "notContainsKey": "owner"}`, g, true},
		{"ExistsTrue", `{"field": "tags['env']", "exists": true}`, g, true},
		{"ExistsStringFalse", `{"field": "tags['owner']", "exists": "false"}`, g, true},
		{"ExistsPresentFalse", `{"field": "tags.env", "exists": "false"}`, g, false},
		{"GreaterNumber", `{"field": "tags['cost']", "greater": 41}`, g, true},
		{"GreaterNumberNot", `{"field": "tags['cost']", "greater": 42}`, g, false},
		{"GreaterOrEquals", `{"field": "tags['cost']", "greaterOrEquals": 42}`, g, true},
		{"LessString", `{"field": "name", "less": "zzz"}`, g, true},
		{"LessOrEquals", `{"field": "Microsoft.Compute/galleries/images/versions/publishingProfile.replicaCount", "lessOrEquals": 2}`, v, true},
		{"LessNumberNot", `{"field": "Microsoft.Compute/galleries/images/versions/publishingProfile.replicaCount", "less": 2}`, v, false},
		{"GreaterDate", `{"field": "tags['since']", "greater": "2020-01-01"}`, withTag(g, "since", "2024-05-01T00:00:00Z"), true},
		{"LessDate", `{"field": "tags['since']", "less": "2020-01-01T00:00:00Z"}`, withTag(g, "since", "2024-05-01"), false},
		{"TagDotForm", `{"field": "tags.env", "equals": "prod"}`, g, true},
		{"TagBracketNoQuotes", `{"field": "tags[env]", "equals": "prod"}`, g, true},
		{"TagNameIgnoresCase", `{"field": "tags['ENV']", "equals": "prod"}`, g, true},
		{"TagWithQuote", `{"field": "tags['it''s']", "equals": "yes"}`, withTag(g, "it's", "yes"), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := mustParse(t, cond(tc.cond), nil)
			if got := matches(t, r, tc.res, nil); got != tc.want {
				t.Fatalf("%s = %v, want %v", tc.cond, got, tc.want)
			}
		})
	}
}

func withTag(r *galleon.Resource, k, v string) *galleon.Resource {
	c := *r
	c.Tags = map[string]string{k: v}
	for tk, tv := range r.Tags {
		c.Tags[tk] = tv
	}
	return &c
}

// TestMissingFields pins what each operator does with a field the resource
// lacks: it reads as the empty string, as absent for exists, and ordering
// operators are false.
func TestMissingFields(t *testing.T) {
	g := gallery("g1", "Private", nil)
	for _, tc := range []struct {
		name string
		cond string
		want bool
	}{
		{"Equals", `{"field": "tags['env']", "equals": "prod"}`, false},
		{"EqualsEmpty", `{"field": "tags['env']", "equals": ""}`, true},
		{"NotEquals", `{"field": "tags['env']", "notEquals": "prod"}`, true},
		{"In", `{"field": "tags['env']", "in": ["prod", "dev"]}`, false},
		{"NotIn", `{"field": "tags['env']", "notIn": ["prod", "dev"]}`, true},
		{"Like", `{"field": "tags['env']", "like": "p*"}`, false},
		{"NotLike", `{"field": "tags['env']", "notLike": "p*"}`, true},
		{"Contains", `{"field": "tags['env']", "contains": "p"}`, false},
		{"NotContains", `{"field": "tags['env']", "notContains": "p"}`, true},
		{"ExistsFalse", `{"field": "tags['env']", "exists": false}`, true},
		{"ExistsTrue", `{"field": "tags['env']", "exists": true}`, false},
		{"Greater", `{"field": "tags['env']", "greater": "a"}`, false},
		{"Less", `{"field": "tags['env']", "less": "z"}`, false},
		{"Kind", `{"field": "kind", "exists": false}`, true},
		{"AliasPropertyMissing", `{"field": "Microsoft.Compute/galleries/softDeletePolicy.isSoftDeleteEnabled", "exists": false}`, true},
		{"AliasPropertyMissingNotEquals", `{"field": "Microsoft.Compute/galleries/softDeletePolicy.isSoftDeleteEnabled", "notEquals": true}`, true},
		{"AliasPropertyMissingEquals", `{"field": "Microsoft.Compute/galleries/softDeletePolicy.isSoftDeleteEnabled", "equals": true}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := mustParse(t, cond(tc.cond), nil)
			if got := matches(t, r, g, nil); got != tc.want {
				t.Fatalf("%s = %v, want %v", tc.cond, got, tc.want)
			}
		})
	}
}

// TestAliases covers gallery, image and version aliases, [*] arrays, and
// aliases of other types, which are false whatever the operator.
func TestAliases(t *testing.T) {
	community := gallery("g1", "Community", nil)
	private := gallery("g2", "Private", nil)
	v := version("eastus", "westeurope")
	noRegions := version()
	for _, tc := range []struct {
		name string
		cond string
		res  *galleon.Resource
		want bool
	}{
		{"Permissions", `{"field": "Microsoft.Compute/galleries/sharingProfile.permissions", "equals": "Community"}`, community, true},
		{"PermissionsPrivate", `{"field": "Microsoft.Compute/galleries/sharingProfile.permissions", "equals": "Community"}`, private, false},
		{"AliasCaseInsensitive", `{"field": "microsoft.compute/Galleries/SharingProfile.Permissions", "equals": "community"}`, community, true},
		{"Object", `{"field": "Microsoft.Compute/galleries/sharingProfile", "exists": true}`, private, true},
		{"OtherTypeEquals", `{"field": "Microsoft.Compute/galleries/images/osType", "equals": "Linux"}`, community, false},
		{"OtherTypeNotEquals", `{"field": "Microsoft.Compute/galleries/images/osType", "notEquals": "Linux"}`, community, false},
		{"OtherTypeExistsFalse", `{"field": "Microsoft.Compute/galleries/images/osType", "exists": false}`, community, false},
		{"OtherTypeNotIn", `{"field": "Microsoft.Storage/storageAccounts/sku.name", "notIn": ["Standard_LRS"]}`, community, false},
		{"OtherTypeNegated", `{"not": {"field": "Microsoft.Compute/galleries/images/osType", "equals": "Linux"}}`, community, true},
		{"ArrayAllMembers", `{"field": "Microsoft.Compute/galleries/images/versions/publishingProfile.targetRegions[*].name", "in": ["eastus", "westeurope"]}`, v, true},
		{"ArrayOneMemberFails", `{"field": "Microsoft.Compute/galleries/images/versions/publishingProfile.targetRegions[*].name", "equals": "eastus"}`, v, false},
		{"ArrayNotEqualsAll", `{"field": "Microsoft.Compute/galleries/images/versions/publishingProfile.targetRegions[*].name", "notEquals": "northeurope"}`, v, true},
		{"ArrayEmptyIsTrue", `{"field": "Microsoft.Compute/galleries/images/versions/publishingProfile.targetRegions[*].name", "equals": "eastus"}`, noRegions, true},
		{"ArrayNegatedAny", `{"not": {"field": "Microsoft.Compute/galleries/images/versions/publishingProfile.targetRegions[*].name", "notEquals": "westeurope"}}`, v, true},
		{"ArrayWhole", `{"field": "Microsoft.Compute/galleries/images/versions/publishingProfile.targetRegions[*]", "exists": true}`, v, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := mustParse(t, cond(tc.cond), nil)
			if got := matches(t, r, tc.res, nil); got != tc.want {
				t.Fatalf("%s = %v, want %v", tc.cond, got, tc.want)
			}
		})
	}
}

func TestLogical(t *testing.T) {
	g := gallery("g1", "Community", map[string]string{"env": "prod"})
	const yes, no = `{"field": "type", "equals": "Microsoft.Compute/galleries"}`, `{"field": "name", "equals": "other"}`
	for _, tc := range []struct {
		name string
		cond string
		want bool
	}{
		{"AllOfTrue", `{"allOf": [` + yes + `,` + yes + `]}`, true},
		{"AllOfOneFalse", `{"allOf": [` + yes + `,` + no + `]}`, false},
		{"AnyOfOneTrue", `{"anyOf": [` + no + `,` + yes + `]}`, true},
		{"AnyOfNone", `{"anyOf": [` + no + `,` + no + `]}`, false},
		{"Not", `{"not": ` + no + `}`, true},
		{"NotNot", `{"not": {"not": ` + yes + `}}`, true},
		{"Nested", `{"allOf": [{"anyOf": [` + no + `, {"not": ` + no + `}]}, ` + yes + `]}`, true},
		{"OperatorKeysIgnoreCase", `{"AllOf": [{"Field": "type", "Equals": "Microsoft.Compute/galleries"}]}`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := mustParse(t, cond(tc.cond), nil)
			if got := matches(t, r, g, nil); got != tc.want {
				t.Fatalf("%s = %v, want %v", tc.cond, got, tc.want)
			}
		})
	}
}

func TestParameters(t *testing.T) {
	params := map[string]*policy.ParameterDefinition{
		"effect":    {Type: "String", AllowedValues: []any{"Audit", "Deny", "Disabled"}, DefaultValue: json.RawMessage(`"Audit"`)},
		"locations": {Type: "Array"},
		"tagName":   {Type: "String"},
	}
	rule := `{"if": {"anyOf": [
		{"field": "location", "notIn": "[parameters('locations')]"},
		{"field": "[concat('tags[', parameters('tagName'), ']')]", "exists": false}
	]}, "then": {"effect": "[parameters('effect')]"}}`
	r := mustParse(t, rule, params)
	for _, tc := range []struct {
		name       string
		values     map[string]any
		tags       map[string]string
		want       bool
		wantEffect string
	}{
		{"AllowedAndTagged", map[string]any{"effect": "Deny", "locations": []any{"eastus"}, "tagName": "env"}, map[string]string{"env": "x"}, false, "deny"},
		{"LocationNotAllowed", map[string]any{"effect": "Audit", "locations": []any{"westus"}, "tagName": "env"}, map[string]string{"env": "x"}, true, "audit"},
		{"TagMissing", map[string]any{"effect": "disabled", "locations": []any{"eastus"}, "tagName": "owner"}, map[string]string{"env": "x"}, true, "disabled"},
		{"ParameterNameIgnoresCase", map[string]any{"EFFECT": "Deny", "Locations": []any{"eastus"}, "tagname": "env"}, nil, true, "deny"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := gallery("g1", "Private", tc.tags)
			if got := matches(t, r, g, tc.values); got != tc.want {
				t.Fatalf("matches = %v, want %v", got, tc.want)
			}
			eff, err := r.Effect(tc.values)
			if err != nil || eff != tc.wantEffect {
				t.Fatalf("effect = %q, %v; want %q", eff, err, tc.wantEffect)
			}
		})
	}
	t.Run("ErrNoValue", func(t *testing.T) {
		if _, err := r.Matches(gallery("g1", "Private", nil), map[string]any{"effect": "deny"}); err == nil || !strings.Contains(err.Error(), "locations") {
			t.Fatalf("err = %v, want one naming the parameter", err)
		}
	})
	t.Run("ErrUnsupportedEffectValue", func(t *testing.T) {
		if _, err := r.Effect(map[string]any{"effect": "Modify"}); err == nil || !strings.Contains(err.Error(), "not supported") {
			t.Fatalf("err = %v", err)
		}
	})
}

// TestDocumentsRule parses the rule of the documents verbatim (from
// policy/testdata) and checks it denies exactly community galleries.
func TestDocumentsRule(t *testing.T) {
	raw, err := os.ReadFile("testdata/community-deny-rule.json")
	if err != nil {
		t.Fatal(err)
	}
	params := map[string]*policy.ParameterDefinition{"effect": {Type: "String", DefaultValue: json.RawMessage(`"Deny"`)}}
	r, err := policy.ParseRule(raw, params)
	if err != nil {
		t.Fatal(err)
	}
	values := map[string]any{"effect": "Deny"}
	if !matches(t, r, gallery("g1", "Community", nil), values) {
		t.Fatal("a community gallery does not match")
	}
	for _, res := range []*galleon.Resource{gallery("g1", "Private", nil), gallery("g1", "Groups", nil), version("eastus")} {
		if matches(t, r, res, values) {
			t.Fatalf("%s (%s) matches", res.ID, res.Properties)
		}
	}
	if eff, err := r.Effect(values); err != nil || eff != "deny" {
		t.Fatalf("effect = %q, %v", eff, err)
	}
	// Without a declared parameter the reference is an error.
	if _, err := policy.ParseRule(raw, nil); err == nil || !strings.Contains(err.Error(), "'effect' is not declared") {
		t.Fatalf("undeclared parameter: %v", err)
	}
}

func TestParseRuleErrors(t *testing.T) {
	params := map[string]*policy.ParameterDefinition{
		"effect":  {Type: "String"},
		"regions": {Type: "Array"},
		"flag":    {Type: "Boolean"},
		"limited": {Type: "String", AllowedValues: []any{"Deny", "Modify"}},
	}
	for _, tc := range []struct {
		name, rule, target, text string
	}{
		{"NotJSON", `{"if":`, "properties.policyRule", "not valid JSON"},
		{"NotObject", `[]`, "properties.policyRule", "must be an object"},
		{"NoIf", `{"then": {"effect": "deny"}}`, "properties.policyRule.if", "'if' condition is missing"},
		{"NoThen", `{"if": {"field": "type", "equals": "x"}}`, "properties.policyRule.then", "'then' block is missing"},
		{"ExtraTopKey", `{"if": {"field": "type", "equals": "x"}, "then": {"effect": "deny"}, "else": {}}`, "properties.policyRule.else", "unknown property"},
		{"UnknownOperator", cond(`{"allOf": [{"field": "type", "equals": "x"}, {"field": "type", "equal": "y"}]}`), "properties.policyRule.if.allOf[1].equal", "unknown condition operator 'equal'"},
		{"TwoOperators", cond(`{"field": "type", "equals": "x", "like": "y*"}`), "properties.policyRule.if", "2 operators"},
		{"NoOperator", cond(`{"field": "type"}`), "properties.policyRule.if", "no operator"},
		{"NoField", cond(`{"equals": "x"}`), "properties.policyRule.if", "no 'field'"},
		{"LogicalWithOthers", cond(`{"allOf": [{"field": "type", "equals": "x"}], "field": "type"}`), "properties.policyRule.if", "only property"},
		{"EmptyAllOf", cond(`{"allOf": []}`), "properties.policyRule.if.allOf", "non-empty array"},
		{"AnyOfNotArray", cond(`{"anyOf": {"field": "type", "equals": "x"}}`), "properties.policyRule.if.anyOf", "non-empty array"},
		{"ConditionNotObject", cond(`{"not": "x"}`), "properties.policyRule.if.not", "must be an object"},
		{"UnknownField", cond(`{"field": "colour", "equals": "x"}`), "properties.policyRule.if.field", "'colour' is not known"},
		{"UnknownAliasProperty", cond(`{"field": "Microsoft.Compute/galleries/sharingProfile.permission", "equals": "x"}`), "properties.policyRule.if.field", "no property 'permission'"},
		{"WildcardOnNonArray", cond(`{"field": "Microsoft.Compute/galleries/sharingProfile[*].permissions", "equals": "x"}`), "properties.policyRule.if.field", "not an array"},
		{"FieldNotString", cond(`{"field": 5, "equals": "x"}`), "properties.policyRule.if.field", "must be a string"},
		{"ValueCondition", cond(`{"value": "[parameters('effect')]", "equals": "x"}`), "properties.policyRule.if.value", "not supported"},
		{"CountCondition", cond(`{"count": {"field": "x[*]"}, "greater": 0}`), "properties.policyRule.if.count", "not supported"},
		{"UnknownParameter", cond(`{"field": "location", "in": "[parameters('regionz')]"}`), "properties.policyRule.if.in", "'regionz' is not declared"},
		{"ParameterWrongType", cond(`{"field": "location", "in": "[parameters('effect')]"}`), "properties.policyRule.if.in", "needs an array"},
		{"LiteralWrongTypeForIn", cond(`{"field": "location", "in": "eastus"}`), "properties.policyRule.if.in", "needs an array"},
		{"LikeWithArrayParameter", cond(`{"field": "name", "like": "[parameters('regions')]"}`), "properties.policyRule.if.like", "needs a string"},
		{"ExistsNotBool", cond(`{"field": "name", "exists": "maybe"}`), "properties.policyRule.if.exists", "true or false"},
		{"ExistsArrayParam", cond(`{"field": "name", "exists": "[parameters('regions')]"}`), "properties.policyRule.if.exists", "true or false"},
		{"BadExpression", cond(`{"field": "name", "equals": "[parameters('effect']"}`), "properties.policyRule.if.equals", "not valid"},
		{"UnknownFunction", cond(`{"field": "name", "equals": "[resourceGroup().name]"}`), "properties.policyRule.if.equals", "not supported"},
		{"BadEffect", `{"if": {"field": "type", "equals": "x"}, "then": {"effect": "block"}}`, "properties.policyRule.then.effect", "'block' is not a policy effect"},
		{"UnsupportedEffect", `{"if": {"field": "type", "equals": "x"}, "then": {"effect": "DeployIfNotExists"}}`, "properties.policyRule.then.effect", "not supported by Galleon"},
		{"NoEffect", `{"if": {"field": "type", "equals": "x"}, "then": {}}`, "properties.policyRule.then.effect", "effect is missing"},
		{"EffectParameterWrongType", `{"if": {"field": "type", "equals": "x"}, "then": {"effect": "[parameters('flag')]"}}`, "properties.policyRule.then.effect", "must be of type String"},
		{"EffectParameterBadAllowed", `{"if": {"field": "type", "equals": "x"}, "then": {"effect": "[parameters('limited')]"}}`, "properties.policyRule.then.effect", "'Modify' is not supported"},
		{"EffectUnknownParameter", `{"if": {"field": "type", "equals": "x"}, "then": {"effect": "[parameters('effekt')]"}}`, "properties.policyRule.then.effect", "'effekt' is not declared"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := policy.ParseRule(json.RawMessage(tc.rule), params)
			var re *policy.RuleError
			if !errors.As(err, &re) {
				t.Fatalf("err = %v, want a RuleError", err)
			}
			ge := galleon.AsError(policy.AsInvalidRule(err))
			if ge == nil || ge.Code != galleon.EInvalid || ge.Reason != "InvalidPolicyRule" || ge.Target != tc.target || !strings.Contains(ge.Message, tc.text) {
				t.Fatalf("error = %+v, want target %q and text %q", ge, tc.target, tc.text)
			}
			if !strings.Contains(ge.Message, tc.target) {
				t.Fatalf("message %q does not name the path %q", ge.Message, tc.target)
			}
		})
	}
}

func TestResolveParameters(t *testing.T) {
	defs := map[string]*policy.ParameterDefinition{
		"effect":  {Type: "String", AllowedValues: []any{"Audit", "Deny"}, DefaultValue: json.RawMessage(`"Audit"`)},
		"regions": {Type: "Array", AllowedValues: []any{"eastus", "westus"}},
		"count":   {Type: "Integer", DefaultValue: json.RawMessage(`3`)},
	}
	val := func(s string) policy.ParameterValue { return policy.ParameterValue{Value: json.RawMessage(s)} }
	t.Run("OK", func(t *testing.T) {
		got, err := policy.ResolveParameters(defs, map[string]policy.ParameterValue{"regions": val(`["eastus"]`), "Effect": val(`"deny"`)})
		if err != nil {
			t.Fatal(err)
		}
		if got["effect"] != "deny" || got["count"] != float64(3) || len(got["regions"].([]any)) != 1 {
			t.Fatalf("values = %v", got)
		}
	})
	for _, tc := range []struct {
		name   string
		given  map[string]policy.ParameterValue
		reason string
		target string
	}{
		{"ErrMissingRequired", map[string]policy.ParameterValue{}, "MissingPolicyParameter", "properties.parameters.regions"},
		{"ErrUndeclared", map[string]policy.ParameterValue{"regions": val(`["eastus"]`), "colour": val(`"red"`)}, "UndefinedPolicyParameter", "properties.parameters.colour"},
		{"ErrWrongType", map[string]policy.ParameterValue{"regions": val(`"eastus"`)}, "InvalidPolicyParameterValue", "properties.parameters.regions.value"},
		{"ErrNotAllowed", map[string]policy.ParameterValue{"regions": val(`["eastus", "northeurope"]`)}, "InvalidPolicyParameterValue", "properties.parameters.regions.value"},
		{"ErrEffectNotAllowed", map[string]policy.ParameterValue{"regions": val(`["eastus"]`), "effect": val(`"Disabled"`)}, "InvalidPolicyParameterValue", "properties.parameters.effect.value"},
		{"ErrNotInteger", map[string]policy.ParameterValue{"regions": val(`["eastus"]`), "count": val(`2.5`)}, "InvalidPolicyParameterValue", "properties.parameters.count.value"},
		{"ErrNoValue", map[string]policy.ParameterValue{"regions": {}}, "InvalidPolicyParameterValue", "properties.parameters.regions"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := policy.ResolveParameters(defs, tc.given)
			ge := galleon.AsError(err)
			if ge == nil || ge.Code != galleon.EInvalid || ge.Reason != tc.reason || ge.Target != tc.target {
				t.Fatalf("err = %+v, want %s at %s", err, tc.reason, tc.target)
			}
		})
	}
}

// FuzzParseRule checks that no rule, however malformed, makes parsing or
// evaluation panic.
func FuzzParseRule(f *testing.F) {
	raw, err := os.ReadFile("testdata/community-deny-rule.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(raw))
	f.Add(cond(`{"field": "[concat('tags[', parameters('p'), ']')]", "exists": false}`))
	f.Add(cond(`{"field": "Microsoft.Compute/galleries/images/versions/publishingProfile.targetRegions[*].name", "in": "[parameters('p')]"}`))
	f.Add(cond(`{"not": {"anyOf": [{"field": "tags", "containsKey": "x"}, {"field": "name", "like": "*a*b*"}]}}`))
	f.Add(`{"if": {"field": "name", "equals": "[toLower(concat('a', 'b''c'))]"}, "then": {"effect": "[parameters('p')]"}}`)
	params := map[string]*policy.ParameterDefinition{"p": {Type: "String", DefaultValue: json.RawMessage(`"deny"`)}, "effect": {Type: "String"}}
	values := map[string]any{"p": "deny", "effect": "audit"}
	f.Fuzz(func(t *testing.T, rule string) {
		r, err := policy.ParseRule(json.RawMessage(rule), params)
		if err != nil {
			var re *policy.RuleError
			if !errors.As(err, &re) {
				t.Fatalf("error %v is not a RuleError", err)
			}
			return
		}
		for _, res := range []*galleon.Resource{gallery("g", "Community", map[string]string{"a": "b"}), version("eastus", "westus"), {}} {
			_, _ = r.Matches(res, values)
		}
		_, _ = r.Effect(values)
	})
}
