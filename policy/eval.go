package policy

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"

	"github.com/galleonhq/galleon"
)

// Effect returns the rule's effect ("deny", "audit" or "disabled") with
// the given parameter values.
func (r *Rule) Effect(values map[string]any) (string, error) {
	v, err := r.effect.eval(values)
	if err != nil {
		return "", err
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("the effect %s is not a string", compactJSON(v))
	}
	return canonicalEffect(s)
}

// Matches reports whether the rule's "if" condition holds for a resource
// with the given parameter values.
//
// Strings compare case-insensitively. A field the resource lacks reads as
// the empty string for equals, like, contains, in and their negations, as
// absent for exists, and makes ordering operators false. A condition on an
// alias of another resource type is false whatever its operator. A
// condition on an alias with [*] holds when it holds for every element
// (so also when there are none).
func (r *Rule) Matches(res *galleon.Resource, values map[string]any) (bool, error) {
	return evalCond(r.cond, res, decodeProperties(res), values)
}

func evalCond(c *condition, res *galleon.Resource, props map[string]any, values map[string]any) (bool, error) {
	switch {
	case c.allOf != nil:
		for _, sub := range c.allOf {
			ok, err := evalCond(sub, res, props, values)
			if err != nil || !ok {
				return false, err
			}
		}
		return true, nil
	case c.anyOf != nil:
		for _, sub := range c.anyOf {
			ok, err := evalCond(sub, res, props, values)
			if err != nil || ok {
				return ok, err
			}
		}
		return false, nil
	case c.not != nil:
		ok, err := evalCond(c.not, res, props, values)
		return !ok && err == nil, err
	}
	f := c.field
	if f == nil {
		name, err := c.fieldExpr.eval(values)
		if err != nil {
			return false, fmt.Errorf("%s.field: %w", c.path, err)
		}
		s, ok := name.(string)
		if !ok {
			return false, fmt.Errorf("%s.field: the field name %s is not a string", c.path, compactJSON(name))
		}
		if f, err = parseField(s); err != nil {
			return false, fmt.Errorf("%s.field: %w", c.path, err)
		}
	}
	operand, err := c.value.eval(values)
	if err != nil {
		return false, fmt.Errorf("%s.%s: %w", c.path, c.op, err)
	}
	vals, applies := f.resolve(res, props)
	if !applies {
		return false, nil
	}
	if !f.hasWildcard() {
		return test(c.op, vals[0], operand)
	}
	for _, v := range vals {
		ok, err := test(c.op, v, operand)
		if err != nil || !ok {
			return false, err
		}
	}
	return true, nil
}

// test applies one operator to a field's value.
func test(op string, fv fieldValue, operand any) (bool, error) {
	v := fv.v
	if !fv.present {
		v = ""
	}
	switch op {
	case "equals":
		return valuesEqual(v, operand), nil
	case "notEquals":
		return !valuesEqual(v, operand), nil
	case "like", "notLike":
		s, ok := scalar(v)
		m := ok && likeMatch(strings.ToLower(s), strings.ToLower(scalarString(operand)))
		return m == (op == "like"), nil
	case "match", "notMatch":
		s, ok := scalar(v)
		m := ok && patternMatch(s, scalarString(operand), false)
		return m == (op == "match"), nil
	case "matchInsensitively", "notMatchInsensitively":
		s, ok := scalar(v)
		m := ok && patternMatch(s, scalarString(operand), true)
		return m == (op == "matchInsensitively"), nil
	case "contains", "notContains":
		return containsValue(v, operand) == (op == "contains"), nil
	case "in", "notIn":
		list, ok := operand.([]any)
		if !ok {
			return false, fmt.Errorf("'%s' needs an array, not %s", op, compactJSON(operand))
		}
		found := false
		if _, isScalar := scalar(v); isScalar {
			for _, el := range list {
				if valuesEqual(v, el) {
					found = true
					break
				}
			}
		}
		return found == (op == "in"), nil
	case "containsKey", "notContainsKey":
		has := false
		if m, ok := v.(map[string]any); ok {
			_, has = lookupFold(m, scalarString(operand))
		}
		return has == (op == "containsKey"), nil
	case "exists":
		want, err := boolOperand(operand)
		if err != nil {
			return false, err
		}
		return fv.present == want, nil
	case "greater", "greaterOrEquals", "less", "lessOrEquals":
		if !fv.present {
			return false, nil
		}
		cmp, ok := compareOrdered(v, operand)
		if !ok {
			return false, nil
		}
		switch op {
		case "greater":
			return cmp > 0, nil
		case "greaterOrEquals":
			return cmp >= 0, nil
		case "less":
			return cmp < 0, nil
		}
		return cmp <= 0, nil
	}
	return false, fmt.Errorf("unknown operator '%s'", op)
}

func boolOperand(v any) (bool, error) {
	switch x := v.(type) {
	case bool:
		return x, nil
	case string:
		if b, err := strconv.ParseBool(strings.ToLower(x)); err == nil {
			return b, nil
		}
	}
	return false, fmt.Errorf("'exists' needs true or false, not %s", compactJSON(v))
}

// scalar returns the string form of a string, number or boolean.
func scalar(v any) (string, bool) {
	switch v.(type) {
	case string, float64, bool:
		return scalarString(v), true
	case nil:
		return "", true
	}
	return "", false
}

// valuesEqual compares JSON values as policy conditions do: scalars by
// their string form, ignoring case (numbers numerically), arrays element
// by element, objects key by key with keys ignoring case.
func valuesEqual(a, b any) bool {
	if af, ok := a.(float64); ok {
		if bf, ok := toNumber(b); ok {
			return af == bf
		}
	}
	if bf, ok := b.(float64); ok {
		if af, ok := toNumber(a); ok {
			return af == bf
		}
	}
	switch x := a.(type) {
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !valuesEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, xv := range x {
			yv, ok := lookupFold(y, k)
			if !ok || !valuesEqual(xv, yv) {
				return false
			}
		}
		return true
	}
	as, aok := scalar(a)
	bs, bok := scalar(b)
	return aok && bok && strings.EqualFold(as, bs)
}

func toNumber(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		return f, err == nil
	}
	return 0, false
}

func containsValue(v, operand any) bool {
	switch x := v.(type) {
	case []any:
		for _, el := range x {
			if valuesEqual(el, operand) {
				return true
			}
		}
		return false
	case map[string]any:
		return false
	}
	s, _ := scalar(v)
	return strings.Contains(strings.ToLower(s), strings.ToLower(scalarString(operand)))
}

// compareOrdered compares numbers numerically, dates as dates and other
// strings ignoring case. ok is false when the values cannot be ordered.
func compareOrdered(a, b any) (int, bool) {
	_, aNum := a.(float64)
	_, bNum := b.(float64)
	if aNum || bNum {
		af, ok1 := toNumber(a)
		bf, ok2 := toNumber(b)
		if !ok1 || !ok2 {
			return 0, false
		}
		switch {
		case af < bf:
			return -1, true
		case af > bf:
			return 1, true
		}
		return 0, true
	}
	as, ok1 := a.(string)
	bs, ok2 := b.(string)
	if !ok1 || !ok2 {
		return 0, false
	}
	if at, bt := parseTime(as), parseTime(bs); at != nil && bt != nil {
		return at.Compare(*bt), true
	}
	return strings.Compare(strings.ToLower(as), strings.ToLower(bs)), true
}

// likeMatch matches s against a pattern where '*' stands for any run of
// characters.
func likeMatch(s, pattern string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return s == pattern
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return len(s) >= len(last) && strings.HasSuffix(s, last)
}

// patternMatch is Azure's match: '#' is a digit, '?' a letter, '.' any
// character, anything else itself; the whole value must match.
func patternMatch(s, pattern string, fold bool) bool {
	sr, pr := []rune(s), []rune(pattern)
	if len(sr) != len(pr) {
		return false
	}
	for i, p := range pr {
		c := sr[i]
		switch p {
		case '#':
			if !unicode.IsDigit(c) {
				return false
			}
		case '?':
			if !unicode.IsLetter(c) {
				return false
			}
		case '.':
		default:
			if c != p && !(fold && unicode.ToLower(c) == unicode.ToLower(p)) {
				return false
			}
		}
	}
	return true
}
