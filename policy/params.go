package policy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/galleonhq/galleon"
)

// Parameter types, as Azure spells them.
const (
	TypeString   = "String"
	TypeArray    = "Array"
	TypeObject   = "Object"
	TypeBoolean  = "Boolean"
	TypeInteger  = "Integer"
	TypeFloat    = "Float"
	TypeDateTime = "DateTime"
)

var parameterTypes = []string{TypeString, TypeArray, TypeObject, TypeBoolean, TypeInteger, TypeFloat, TypeDateTime}

// ParameterDefinition declares one parameter of a policy definition.
type ParameterDefinition struct {
	Type string `json:"type"`
	// AllowedValues limits the values an assignment may give; for an Array
	// parameter it limits each element.
	AllowedValues []any `json:"allowedValues,omitempty"`
	// DefaultValue is used when an assignment gives no value; absent (nil)
	// makes the parameter required.
	DefaultValue json.RawMessage `json:"defaultValue,omitempty"`
	Schema       any             `json:"schema,omitempty"`
	Metadata     map[string]any  `json:"metadata,omitempty"`
}

// ParameterValue is an assignment's value for one parameter.
type ParameterValue struct {
	Value json.RawMessage `json:"value"`
}

func lookupParam(params map[string]*ParameterDefinition, name string) *ParameterDefinition {
	if d, ok := params[name]; ok {
		return d
	}
	for k, d := range params {
		if strings.EqualFold(k, name) {
			return d
		}
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func invalidParams(target, format string, args ...any) error {
	return (&galleon.Error{Code: galleon.EInvalid, Reason: "InvalidPolicyParameters", Message: fmt.Sprintf(format, args...)}).WithTarget(target)
}

// validateParameterDefinitions checks the parameters of a definition and
// canonicalizes their type names.
func validateParameterDefinitions(params map[string]*ParameterDefinition) error {
	for _, name := range sortedKeys(params) {
		d := params[name]
		path := "properties.parameters." + name
		if d == nil {
			return invalidParams(path, "The parameter '%s' must be an object with at least a 'type' (one of %s).", name, strings.Join(parameterTypes, ", "))
		}
		if strings.TrimSpace(name) == "" || len(name) > 128 {
			return invalidParams(path, "The parameter name '%s' is not valid: use 1 to 128 characters.", name)
		}
		canon := ""
		for _, t := range parameterTypes {
			if strings.EqualFold(t, d.Type) {
				canon = t
			}
		}
		if canon == "" {
			return invalidParams(path+".type", "The parameter '%s' has type '%s'; use one of %s.", name, d.Type, strings.Join(parameterTypes, ", "))
		}
		d.Type = canon
		for i, v := range d.AllowedValues {
			t := canon
			if canon == TypeArray {
				t = "" // elements of an array may be anything
			}
			if t != "" && !valueHasType(v, t) {
				return invalidParams(fmt.Sprintf("%s.allowedValues[%d]", path, i), "The allowed value %s of parameter '%s' is not a %s.", compactJSON(v), name, canon)
			}
		}
		if len(d.DefaultValue) > 0 {
			v, err := decodeJSONValue(d.DefaultValue)
			if err != nil {
				return invalidParams(path+".defaultValue", "The default value of parameter '%s' is not valid JSON.", name)
			}
			if err := checkParameterValue(name, d, v, path+".defaultValue", "default value"); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkParameterValue checks a value (given by an assignment, or a
// default) against the parameter's type and allowed values.
func checkParameterValue(name string, d *ParameterDefinition, v any, target, what string) error {
	if v != nil && !valueHasType(v, d.Type) {
		return (&galleon.Error{Code: galleon.EInvalid, Reason: "InvalidPolicyParameterValue",
			Message: fmt.Sprintf("The %s %s of parameter '%s' is not a %s; give a %s.", what, compactJSON(v), name, d.Type, typeExample(d.Type))}).WithTarget(target)
	}
	if len(d.AllowedValues) == 0 || v == nil {
		return nil
	}
	items := []any{v}
	if d.Type == TypeArray {
		items = v.([]any)
	}
	for _, it := range items {
		ok := false
		for _, a := range d.AllowedValues {
			if valuesEqual(it, a) {
				ok = true
				break
			}
		}
		if !ok {
			allowed := make([]string, len(d.AllowedValues))
			for i, a := range d.AllowedValues {
				allowed[i] = compactJSON(a)
			}
			return (&galleon.Error{Code: galleon.EInvalid, Reason: "InvalidPolicyParameterValue",
				Message: fmt.Sprintf("The %s %s of parameter '%s' is not allowed. Allowed values: %s.", what, compactJSON(it), name, strings.Join(allowed, ", "))}).WithTarget(target)
		}
	}
	return nil
}

func typeExample(t string) string {
	switch t {
	case TypeArray:
		return "JSON array"
	case TypeObject:
		return "JSON object"
	case TypeBoolean:
		return "true or false"
	case TypeInteger:
		return "whole number"
	case TypeFloat:
		return "number"
	case TypeDateTime:
		return "date and time in ISO 8601 form (2026-01-31T00:00:00Z)"
	}
	return "string"
}

// jsonType is the parameter type a JSON value has ("" for null).
func jsonType(v any) string {
	switch x := v.(type) {
	case string:
		return TypeString
	case bool:
		return TypeBoolean
	case float64:
		if x == math.Trunc(x) {
			return TypeInteger
		}
		return TypeFloat
	case json.Number:
		if _, err := x.Int64(); err == nil {
			return TypeInteger
		}
		return TypeFloat
	case []any:
		return TypeArray
	case map[string]any:
		return TypeObject
	}
	return ""
}

// valueHasType reports whether v fits parameter type t.
func valueHasType(v any, t string) bool {
	jt := jsonType(v)
	switch t {
	case TypeFloat:
		return jt == TypeFloat || jt == TypeInteger
	case TypeDateTime:
		s, ok := v.(string)
		return ok && parseTime(s) != nil
	}
	return jt == t
}

// parseTime reads the ISO 8601 forms policies use, or returns nil.
func parseTime(s string) *time.Time {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return &t
		}
	}
	return nil
}

// decodeJSONValue decodes raw JSON into plain Go values (float64 numbers).
func decodeJSONValue(raw json.RawMessage) (any, error) {
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

func compactJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// ResolveParameters checks an assignment's parameter values against a
// definition's parameters and returns the values the rule sees: the given
// ones, and defaults for the rest. It refuses values for undeclared
// parameters, missing required ones, and values of the wrong type or not
// among the allowed values.
func ResolveParameters(defs map[string]*ParameterDefinition, given map[string]ParameterValue) (map[string]any, error) {
	out := map[string]any{}
	for _, name := range sortedKeys(given) {
		d := lookupParam(defs, name)
		if d == nil {
			declared := sortedKeys(defs)
			list := "none"
			if len(declared) > 0 {
				list = strings.Join(declared, ", ")
			}
			return nil, (&galleon.Error{Code: galleon.EInvalid, Reason: "UndefinedPolicyParameter",
				Message: fmt.Sprintf("The policy assignment gives parameter '%s', which the policy definition does not declare. Declared parameters: %s.", name, list)}).WithTarget("properties.parameters." + name)
		}
		raw := given[name].Value
		if len(bytes.TrimSpace(raw)) == 0 {
			return nil, (&galleon.Error{Code: galleon.EInvalid, Reason: "InvalidPolicyParameterValue",
				Message: fmt.Sprintf("The parameter '%s' has no 'value'. Give it as {\"%s\": {\"value\": ...}}.", name, name)}).WithTarget("properties.parameters." + name)
		}
		v, err := decodeJSONValue(raw)
		if err != nil {
			return nil, (&galleon.Error{Code: galleon.EInvalid, Reason: "InvalidPolicyParameterValue",
				Message: fmt.Sprintf("The value of parameter '%s' is not valid JSON.", name)}).WithTarget("properties.parameters." + name)
		}
		if err := checkParameterValue(name, d, v, "properties.parameters."+name+".value", "value"); err != nil {
			return nil, err
		}
		out[canonicalParamName(defs, name)] = v
	}
	for _, name := range sortedKeys(defs) {
		if _, ok := out[name]; ok {
			continue
		}
		d := defs[name]
		if len(d.DefaultValue) == 0 {
			return nil, (&galleon.Error{Code: galleon.EInvalid, Reason: "MissingPolicyParameter",
				Message: fmt.Sprintf("The policy definition requires parameter '%s' (type %s), which has no default value. Give it in properties.parameters as {\"%s\": {\"value\": ...}}.", name, d.Type, name)}).WithTarget("properties.parameters." + name)
		}
		v, err := decodeJSONValue(d.DefaultValue)
		if err != nil {
			return nil, fmt.Errorf("decode default of parameter %s: %w", name, err)
		}
		out[name] = v
	}
	return out, nil
}

func canonicalParamName(defs map[string]*ParameterDefinition, name string) string {
	if _, ok := defs[name]; ok {
		return name
	}
	for k := range defs {
		if strings.EqualFold(k, name) {
			return k
		}
	}
	return name
}
