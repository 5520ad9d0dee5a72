package policy

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// A policy value is any JSON value; a string of the form "[...]" is a
// template expression instead, evaluated with the assignment's parameters
// ("[parameters('effect')]", "[concat('tags[', parameters('tagName'), ']')]").
// A string starting with "[[" is the literal string without the first '['.
//
// Galleon supports the functions parameters, concat, toLower and toUpper,
// and string, number and boolean literals.

// expr is a parsed value: a literal or a function call.
type expr struct {
	lit  any // the literal value when fn == ""
	fn   string
	args []*expr
}

// exprError is a problem with an expression, before the JSON path is known.
type exprError struct{ msg string }

func (e *exprError) Error() string { return e.msg }

// parseValue turns a JSON value into an expression: literals stay as they
// are, except that template strings are parsed.
func parseValue(v any) (*expr, error) {
	s, ok := v.(string)
	if !ok {
		return &expr{lit: v}, nil
	}
	if strings.HasPrefix(s, "[[") {
		return &expr{lit: s[1:]}, nil
	}
	if !strings.HasPrefix(s, "[") || !strings.HasSuffix(s, "]") || len(s) < 2 {
		return &expr{lit: s}, nil
	}
	p := &exprParser{src: s[1 : len(s)-1]}
	e, err := p.parse()
	if err != nil {
		return nil, &exprError{fmt.Sprintf("the expression '%s' is not valid: %s", s, err.Error())}
	}
	p.skipSpace()
	if p.pos != len(p.src) {
		return nil, &exprError{fmt.Sprintf("the expression '%s' is not valid: unexpected '%s' at position %d", s, p.src[p.pos:], p.pos+1)}
	}
	return e, nil
}

// isTemplate reports whether a JSON value is a template expression.
func isTemplate(v any) bool {
	s, ok := v.(string)
	return ok && strings.HasPrefix(s, "[") && !strings.HasPrefix(s, "[[") && strings.HasSuffix(s, "]")
}

type exprParser struct {
	src   string
	pos   int
	depth int
}

func (p *exprParser) skipSpace() {
	for p.pos < len(p.src) && (p.src[p.pos] == ' ' || p.src[p.pos] == '\t' || p.src[p.pos] == '\n' || p.src[p.pos] == '\r') {
		p.pos++
	}
}

func (p *exprParser) parse() (*expr, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > 32 {
		return nil, fmt.Errorf("expressions nest more than 32 deep")
	}
	p.skipSpace()
	if p.pos >= len(p.src) {
		return nil, fmt.Errorf("an expression is missing")
	}
	c := p.src[p.pos]
	switch {
	case c == '\'':
		return p.parseString()
	case c == '-' || (c >= '0' && c <= '9'):
		start := p.pos
		p.pos++
		for p.pos < len(p.src) && (p.src[p.pos] == '.' || (p.src[p.pos] >= '0' && p.src[p.pos] <= '9')) {
			p.pos++
		}
		f, err := strconv.ParseFloat(p.src[start:p.pos], 64)
		if err != nil {
			return nil, fmt.Errorf("'%s' is not a number", p.src[start:p.pos])
		}
		return &expr{lit: f}, nil
	case isIdentStart(c):
		start := p.pos
		for p.pos < len(p.src) && isIdentPart(p.src[p.pos]) {
			p.pos++
		}
		name := p.src[start:p.pos]
		p.skipSpace()
		if p.pos >= len(p.src) || p.src[p.pos] != '(' {
			switch strings.ToLower(name) {
			case "true":
				return &expr{lit: true}, nil
			case "false":
				return &expr{lit: false}, nil
			}
			return nil, fmt.Errorf("'%s' must be followed by '(' : only function calls and 'quoted' strings are allowed", name)
		}
		p.pos++
		fn := strings.ToLower(name)
		if _, ok := functions[fn]; !ok {
			return nil, fmt.Errorf("the function '%s' is not supported; use %s", name, functionNames)
		}
		e := &expr{fn: fn}
		p.skipSpace()
		if p.pos < len(p.src) && p.src[p.pos] == ')' {
			p.pos++
		} else {
			for {
				arg, err := p.parse()
				if err != nil {
					return nil, err
				}
				e.args = append(e.args, arg)
				p.skipSpace()
				if p.pos >= len(p.src) {
					return nil, fmt.Errorf("')' is missing after the arguments of %s", name)
				}
				if p.src[p.pos] == ',' {
					p.pos++
					continue
				}
				if p.src[p.pos] == ')' {
					p.pos++
					break
				}
				return nil, fmt.Errorf("expected ',' or ')' at position %d", p.pos+1)
			}
		}
		if err := functions[fn].check(e.args); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		// Property access such as parameters('x').y is not supported.
		p.skipSpace()
		if p.pos < len(p.src) && (p.src[p.pos] == '.' || p.src[p.pos] == '[') {
			return nil, fmt.Errorf("property and index access after %s(...) is not supported", name)
		}
		return e, nil
	}
	return nil, fmt.Errorf("unexpected '%c' at position %d", c, p.pos+1)
}

// parseString reads a single-quoted string; two quotes in a row stand for one.
func (p *exprParser) parseString() (*expr, error) {
	p.pos++ // opening quote
	var b strings.Builder
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		if c == '\'' {
			if p.pos+1 < len(p.src) && p.src[p.pos+1] == '\'' {
				b.WriteByte('\'')
				p.pos += 2
				continue
			}
			p.pos++
			return &expr{lit: b.String()}, nil
		}
		b.WriteByte(c)
		p.pos++
	}
	return nil, fmt.Errorf("a string is not closed with '")
}

func isIdentStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isIdentPart(c byte) bool { return isIdentStart(c) || (c >= '0' && c <= '9') }

type function struct {
	check func(args []*expr) error
	call  func(args []any) (any, error)
}

const functionNames = "parameters, concat, toLower or toUpper"

var functions = map[string]function{
	"parameters": {
		check: func(args []*expr) error {
			if len(args) != 1 {
				return fmt.Errorf("takes one argument, the parameter's name")
			}
			if _, ok := args[0].lit.(string); !ok || args[0].fn != "" {
				return fmt.Errorf("the parameter's name must be a 'quoted' string")
			}
			return nil
		},
	},
	"concat": {
		check: func(args []*expr) error {
			if len(args) == 0 {
				return fmt.Errorf("takes at least one argument")
			}
			return nil
		},
		call: func(args []any) (any, error) {
			if arr, ok := args[0].([]any); ok {
				out := append([]any{}, arr...)
				for _, a := range args[1:] {
					more, ok := a.([]any)
					if !ok {
						return nil, fmt.Errorf("concat joins either arrays or strings, not both")
					}
					out = append(out, more...)
				}
				return out, nil
			}
			var b strings.Builder
			for _, a := range args {
				if _, ok := a.([]any); ok {
					return nil, fmt.Errorf("concat joins either arrays or strings, not both")
				}
				b.WriteString(scalarString(a))
			}
			return b.String(), nil
		},
	},
	"tolower": {
		check: oneArg,
		call:  func(args []any) (any, error) { return strings.ToLower(scalarString(args[0])), nil },
	},
	"toupper": {
		check: oneArg,
		call:  func(args []any) (any, error) { return strings.ToUpper(scalarString(args[0])), nil },
	},
}

func oneArg(args []*expr) error {
	if len(args) != 1 {
		return fmt.Errorf("takes one argument")
	}
	return nil
}

// paramRefs lists the parameter names an expression references.
func (e *expr) paramRefs() []string {
	if e.fn == "parameters" {
		return []string{e.args[0].lit.(string)}
	}
	var out []string
	for _, a := range e.args {
		out = append(out, a.paramRefs()...)
	}
	return out
}

// staticType is the parameter type an expression yields when it can be
// known before evaluation ("" when it cannot): the type of a parameter
// reference, String for string functions and string literals.
func (e *expr) staticType(params map[string]*ParameterDefinition) string {
	switch e.fn {
	case "":
		return jsonType(e.lit)
	case "parameters":
		if d := lookupParam(params, e.args[0].lit.(string)); d != nil {
			return d.Type
		}
		return ""
	case "tolower", "toupper":
		return TypeString
	case "concat":
		if t := e.args[0].staticType(params); t == TypeArray {
			return TypeArray
		}
		return TypeString
	}
	return ""
}

// eval computes the expression's value with the given parameter values.
func (e *expr) eval(values map[string]any) (any, error) {
	if e.fn == "" {
		return e.lit, nil
	}
	if e.fn == "parameters" {
		name := e.args[0].lit.(string)
		for k, v := range values {
			if strings.EqualFold(k, name) {
				return v, nil
			}
		}
		return nil, fmt.Errorf("the parameter '%s' has no value", name)
	}
	args := make([]any, len(e.args))
	for i, a := range e.args {
		v, err := a.eval(values)
		if err != nil {
			return nil, err
		}
		args[i] = v
	}
	return functions[e.fn].call(args)
}

// scalarString formats a scalar as policy comparisons see it.
func scalarString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case json.Number:
		return x.String()
	}
	b, _ := json.Marshal(v)
	return string(b)
}
