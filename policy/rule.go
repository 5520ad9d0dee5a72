package policy

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/galleonhq/galleon"
)

// Effects Galleon enforces.
const (
	EffectDeny     = "deny"
	EffectAudit    = "audit"
	EffectDisabled = "disabled"
)

// unsupportedEffects are Azure effects Galleon knows of but does not apply.
var unsupportedEffects = []string{"append", "modify", "auditIfNotExists", "deployIfNotExists", "denyAction", "manual", "mutate", "addToNetworkGroup"}

// operators are the condition operators, in Azure's spelling.
var operators = []string{
	"equals", "notEquals", "like", "notLike", "match", "notMatch", "matchInsensitively", "notMatchInsensitively",
	"contains", "notContains", "in", "notIn", "containsKey", "notContainsKey", "exists",
	"greater", "greaterOrEquals", "less", "lessOrEquals",
}

func canonicalOperator(k string) string {
	for _, op := range operators {
		if strings.EqualFold(op, k) {
			return op
		}
	}
	return ""
}

// maxDepth bounds how deeply conditions nest.
const maxDepth = 64

// Rule is a parsed, validated policy rule: {"if": condition, "then":
// {"effect": ...}}.
type Rule struct {
	cond   *condition
	effect *expr
}

// condition is one node of the "if" tree.
type condition struct {
	path         string // JSON path under the rule, for messages
	allOf, anyOf []*condition
	not          *condition
	// A field test: the field (fieldExpr when the name is an expression),
	// the operator and its operand.
	field     *field
	fieldExpr *expr
	op        string
	value     *expr
}

// RuleError is a problem with a policy rule, at a JSON path such as
// "if.allOf[1].equals".
type RuleError struct {
	Path    string
	Message string
}

func (e *RuleError) Error() string { return fmt.Sprintf("policy rule at %s: %s", e.Path, e.Message) }

func ruleErr(path, format string, args ...any) error {
	return &RuleError{Path: path, Message: fmt.Sprintf(format, args...)}
}

// AsInvalidRule turns a RuleError into the ARM error for a definition body
// whose rule sits at properties.policyRule; other errors pass through.
func AsInvalidRule(err error) error {
	var re *RuleError
	if !errors.As(err, &re) {
		return err
	}
	target := "properties.policyRule"
	if re.Path != "" {
		target += "." + re.Path
	}
	return (&galleon.Error{Code: galleon.EInvalid, Reason: "InvalidPolicyRule",
		Message: fmt.Sprintf("The policy rule is invalid at '%s': %s.", target, re.Message)}).WithTarget(target)
}

// ParseRule parses and validates a policy rule against the definition's
// parameters. Errors are *RuleError values naming the JSON path.
func ParseRule(raw json.RawMessage, params map[string]*ParameterDefinition) (*Rule, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, ruleErr("", "the policy rule is missing; give {\"if\": {...}, \"then\": {\"effect\": \"deny\"}}")
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, ruleErr("", "the policy rule is not valid JSON")
	}
	top, ok := v.(map[string]any)
	if !ok {
		return nil, ruleErr("", "the policy rule must be an object with 'if' and 'then'")
	}
	var ifV, thenV any
	var hasIf, hasThen bool
	for _, k := range sortedKeys(top) {
		switch strings.ToLower(k) {
		case "if":
			ifV, hasIf = top[k], true
		case "then":
			thenV, hasThen = top[k], true
		default:
			return nil, ruleErr(k, "unknown property '%s'; a policy rule has only 'if' and 'then'", k)
		}
	}
	if !hasIf {
		return nil, ruleErr("if", "the 'if' condition is missing")
	}
	if !hasThen {
		return nil, ruleErr("then", "the 'then' block is missing; give {\"effect\": \"deny\"}")
	}
	cond, err := parseCondition(ifV, "if", params, 0)
	if err != nil {
		return nil, err
	}
	effect, err := parseThen(thenV, params)
	if err != nil {
		return nil, err
	}
	return &Rule{cond: cond, effect: effect}, nil
}

func parseThen(v any, params map[string]*ParameterDefinition) (*expr, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, ruleErr("then", "'then' must be an object such as {\"effect\": \"deny\"}")
	}
	var effV any
	has := false
	for _, k := range sortedKeys(m) {
		switch strings.ToLower(k) {
		case "effect":
			effV, has = m[k], true
		case "details":
			// Details matter only to effects Galleon does not apply.
		default:
			return nil, ruleErr("then."+k, "unknown property '%s'; 'then' has 'effect' and optional 'details'", k)
		}
	}
	if !has {
		return nil, ruleErr("then.effect", "the effect is missing; use deny, audit, disabled or \"[parameters('effect')]\"")
	}
	e, err := parseValue(effV)
	if err != nil {
		return nil, ruleErr("then.effect", "%s", err.Error())
	}
	if err := checkParamRefs(e, params, "then.effect"); err != nil {
		return nil, err
	}
	if e.fn == "" {
		s, ok := e.lit.(string)
		if !ok {
			return nil, ruleErr("then.effect", "the effect must be a string: deny, audit or disabled")
		}
		if _, err := canonicalEffect(s); err != nil {
			return nil, ruleErr("then.effect", "%s", err.Error())
		}
		return e, nil
	}
	if t := e.staticType(params); t != "" && t != TypeString {
		return nil, ruleErr("then.effect", "the effect comes from an expression of type %s; an effect parameter must be of type String", t)
	}
	// An effect parameter's allowed and default values must be effects
	// Galleon applies.
	if e.fn == "parameters" {
		name := e.args[0].lit.(string)
		d := lookupParam(params, name)
		for _, a := range d.AllowedValues {
			s, _ := a.(string)
			if _, err := canonicalEffect(s); err != nil {
				return nil, &RuleError{Path: "then.effect", Message: fmt.Sprintf("the effect parameter '%s' allows %s: %s", name, compactJSON(a), err.Error())}
			}
		}
		if len(d.DefaultValue) > 0 {
			var s string
			if err := json.Unmarshal(d.DefaultValue, &s); err == nil {
				if _, err := canonicalEffect(s); err != nil {
					return nil, &RuleError{Path: "then.effect", Message: fmt.Sprintf("the default value of effect parameter '%s': %s", name, err.Error())}
				}
			}
		}
	}
	return e, nil
}

// canonicalEffect returns the lower-case effect, or an error naming the
// effects Galleon applies.
func canonicalEffect(s string) (string, error) {
	switch strings.ToLower(s) {
	case EffectDeny, EffectAudit, EffectDisabled:
		return strings.ToLower(s), nil
	}
	for _, u := range unsupportedEffects {
		if strings.EqualFold(u, s) {
			return "", fmt.Errorf("the effect '%s' is not supported by Galleon; use Deny, Audit or Disabled", s)
		}
	}
	return "", fmt.Errorf("'%s' is not a policy effect; use Deny, Audit or Disabled", s)
}

func checkParamRefs(e *expr, params map[string]*ParameterDefinition, path string) error {
	for _, name := range e.paramRefs() {
		if lookupParam(params, name) == nil {
			declared := "none"
			if len(params) > 0 {
				declared = strings.Join(sortedKeys(params), ", ")
			}
			return ruleErr(path, "the parameter '%s' is not declared in properties.parameters (declared: %s)", name, declared)
		}
	}
	return nil
}

func parseCondition(v any, path string, params map[string]*ParameterDefinition, depth int) (*condition, error) {
	if depth > maxDepth {
		return nil, ruleErr(path, "conditions nest more than %d deep", maxDepth)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, ruleErr(path, "a condition must be an object with allOf, anyOf, not, or field and an operator")
	}
	keys := sortedKeys(m)
	c := &condition{path: path}
	for _, k := range keys {
		switch strings.ToLower(k) {
		case "allof", "anyof", "not":
			if len(keys) != 1 {
				return nil, ruleErr(path, "'%s' must be the only property of its condition; found %s", k, strings.Join(keys, ", "))
			}
		}
	}
	var fieldKey string
	var opKeys []string
	for _, k := range keys {
		switch lk := strings.ToLower(k); lk {
		case "allof", "anyof":
			arr, ok := m[k].([]any)
			if !ok || len(arr) == 0 {
				return nil, ruleErr(path+"."+k, "'%s' must be a non-empty array of conditions", k)
			}
			for i, sub := range arr {
				sc, err := parseCondition(sub, fmt.Sprintf("%s.%s[%d]", path, k, i), params, depth+1)
				if err != nil {
					return nil, err
				}
				if lk == "allof" {
					c.allOf = append(c.allOf, sc)
				} else {
					c.anyOf = append(c.anyOf, sc)
				}
			}
			return c, nil
		case "not":
			sc, err := parseCondition(m[k], path+"."+k, params, depth+1)
			if err != nil {
				return nil, err
			}
			c.not = sc
			return c, nil
		case "field":
			fieldKey = k
		case "value", "count", "source":
			return nil, ruleErr(path+"."+k, "'%s' conditions are not supported by Galleon; test resource fields with {\"field\": ..., \"equals\": ...}", k)
		default:
			if canonicalOperator(k) == "" {
				return nil, ruleErr(path+"."+k, "unknown condition operator '%s'; use one of %s", k, strings.Join(operators, ", "))
			}
			opKeys = append(opKeys, k)
		}
	}
	if fieldKey == "" {
		return nil, ruleErr(path, "the condition has an operator but no 'field'; give {\"field\": \"type\", \"equals\": \"Microsoft.Compute/galleries\"}")
	}
	if len(opKeys) != 1 {
		if len(opKeys) == 0 {
			return nil, ruleErr(path, "the condition on field %s has no operator; use one of %s", compactJSON(m[fieldKey]), strings.Join(operators, ", "))
		}
		return nil, ruleErr(path, "the condition has %d operators (%s); use exactly one per condition, and combine conditions with allOf or anyOf", len(opKeys), strings.Join(opKeys, ", "))
	}
	fpath := path + "." + fieldKey
	fs, ok := m[fieldKey].(string)
	if !ok {
		return nil, ruleErr(fpath, "'field' must be a string: %s", fieldHelp)
	}
	fe, err := parseValue(fs)
	if err != nil {
		return nil, ruleErr(fpath, "%s", err.Error())
	}
	if fe.fn == "" {
		f, err := parseField(fe.lit.(string))
		if err != nil {
			return nil, ruleErr(fpath, "%s", err.Error())
		}
		c.field = f
	} else {
		if err := checkParamRefs(fe, params, fpath); err != nil {
			return nil, err
		}
		if t := fe.staticType(params); t != "" && t != TypeString {
			return nil, ruleErr(fpath, "the field name comes from an expression of type %s; it must be a String", t)
		}
		c.fieldExpr = fe
	}
	opKey := opKeys[0]
	c.op = canonicalOperator(opKey)
	opath := path + "." + opKey
	ve, err := parseValue(m[opKey])
	if err != nil {
		return nil, ruleErr(opath, "%s", err.Error())
	}
	if err := checkParamRefs(ve, params, opath); err != nil {
		return nil, err
	}
	if err := checkOperand(c.op, ve, params, opath); err != nil {
		return nil, err
	}
	c.value = ve
	return c, nil
}

// checkOperand checks that an operator's operand has a usable type. When
// it comes from a parameter, the parameter's declared type is checked.
func checkOperand(op string, e *expr, params map[string]*ParameterDefinition, path string) error {
	t := e.staticType(params)
	from := "the value"
	if e.fn == "parameters" {
		from = fmt.Sprintf("the parameter '%s'", e.args[0].lit.(string))
	}
	need := func(ok bool, want string) error {
		if ok || t == "" {
			return nil
		}
		return ruleErr(path, "'%s' needs %s, but %s is of type %s", op, want, from, t)
	}
	switch op {
	case "in", "notIn":
		return need(t == TypeArray, "an array")
	case "exists":
		if e.fn == "" {
			switch x := e.lit.(type) {
			case bool:
				return nil
			case string:
				if strings.EqualFold(x, "true") || strings.EqualFold(x, "false") {
					return nil
				}
			}
			return ruleErr(path, "'exists' needs true or false, not %s", compactJSON(e.lit))
		}
		return need(t == TypeBoolean || t == TypeString, "true or false")
	case "like", "notLike", "match", "notMatch", "matchInsensitively", "notMatchInsensitively", "containsKey", "notContainsKey":
		return need(t == TypeString || t == TypeDateTime, "a string")
	case "greater", "greaterOrEquals", "less", "lessOrEquals":
		return need(t == TypeString || t == TypeInteger || t == TypeFloat || t == TypeDateTime, "a string, number or date")
	case "contains", "notContains":
		return need(t != TypeObject && t != TypeArray, "a string")
	}
	return nil
}
