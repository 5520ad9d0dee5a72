package policy

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

	"github.com/galleonhq/galleon"
)

// field is a parsed "field" of a condition: one of the resource's
// top-level fields, a tag, or a property alias.
type field struct {
	kind string // "type", "name", "fullName", "kind", "location", "id", "tags", "tag", "alias"
	tag  string // the tag name, for kind "tag"
	// For aliases: the resource type the alias belongs to and the path
	// of property segments under "properties".
	aliasType string
	path      []pathSeg
}

// pathSeg is one step of an alias path: a property name, possibly
// followed by [*] (every element of the array).
type pathSeg struct {
	name string
	all  bool // [*] follows the name
}

// hasWildcard reports whether the alias expands an array with [*].
func (f *field) hasWildcard() bool {
	for _, s := range f.path {
		if s.all {
			return true
		}
	}
	return false
}

const fieldHelp = "use type, name, fullName, kind, location, id, tags, tags['name'], tags.name, or a property alias such as Microsoft.Compute/galleries/sharingProfile.permissions"

// parseField reads a field name.
func parseField(s string) (*field, error) {
	lower := strings.ToLower(s)
	switch lower {
	case "type", "name", "kind", "location", "id", "tags":
		return &field{kind: lower}, nil
	case "fullname":
		return &field{kind: "fullName"}, nil
	}
	if strings.HasPrefix(lower, "tags.") && len(s) > 5 {
		return &field{kind: "tag", tag: s[5:]}, nil
	}
	if strings.HasPrefix(lower, "tags[") && strings.HasSuffix(s, "]") {
		inner := s[5 : len(s)-1]
		if len(inner) >= 2 && inner[0] == '\'' && inner[len(inner)-1] == '\'' {
			inner = strings.ReplaceAll(inner[1:len(inner)-1], "''", "'")
		}
		if inner == "" {
			return nil, fmt.Errorf("the field '%s' names no tag; write tags['name']", s)
		}
		return &field{kind: "tag", tag: inner}, nil
	}
	if i := strings.LastIndex(s, "/"); i > 0 && i < len(s)-1 {
		typ, rest := s[:i], s[i+1:]
		if !strings.Contains(typ, "/") || strings.Contains(typ, "//") {
			return nil, fmt.Errorf("the alias '%s' must be '{Namespace}/{resourceType}/{property.path}'", s)
		}
		path, err := parseAliasPath(rest)
		if err != nil {
			return nil, fmt.Errorf("the alias '%s' is not valid: %s", s, err.Error())
		}
		f := &field{kind: "alias", aliasType: typ, path: path}
		if err := checkAlias(f); err != nil {
			return nil, fmt.Errorf("the alias '%s' is not valid: %s", s, err.Error())
		}
		return f, nil
	}
	return nil, fmt.Errorf("the field '%s' is not known: %s", s, fieldHelp)
}

func parseAliasPath(p string) ([]pathSeg, error) {
	var out []pathSeg
	for _, part := range strings.Split(p, ".") {
		seg := pathSeg{name: part}
		if strings.HasSuffix(part, "[*]") {
			seg = pathSeg{name: strings.TrimSuffix(part, "[*]"), all: true}
		}
		if seg.name == "" || strings.ContainsAny(seg.name, "[]*' ") {
			return nil, fmt.Errorf("'%s' is not a property name (write name or name[*])", part)
		}
		out = append(out, seg)
	}
	return out, nil
}

// schemaNode describes the shape of a property, for checking aliases.
type schemaNode struct {
	kind   reflect.Kind // reflect.Struct, Slice, or Invalid for "anything"
	fields map[string]*schemaNode
	names  []string // the fields' JSON names, in order
	elem   *schemaNode
}

// schemas are the property shapes of the types whose aliases Galleon
// checks: the gallery family, read from the domain types so new
// properties get aliases at once.
var schemas = map[string]*schemaNode{
	strings.ToLower(galleon.GalleryType):             schemaOf(reflect.TypeOf(galleon.GalleryProperties{})),
	strings.ToLower(galleon.GalleryImageType):        schemaOf(reflect.TypeOf(galleon.GalleryImageProperties{})),
	strings.ToLower(galleon.GalleryImageVersionType): schemaOf(reflect.TypeOf(galleon.GalleryImageVersionProperties{})),
}

func schemaOf(t reflect.Type) *schemaNode {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		n := &schemaNode{kind: reflect.Struct, fields: map[string]*schemaNode{}}
		for i := 0; i < t.NumField(); i++ {
			sf := t.Field(i)
			name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
			if name == "-" || !sf.IsExported() {
				continue
			}
			if name == "" {
				name = sf.Name
			}
			n.fields[strings.ToLower(name)] = schemaOf(sf.Type)
			n.names = append(n.names, name)
		}
		return n
	case reflect.Slice, reflect.Array:
		return &schemaNode{kind: reflect.Slice, elem: schemaOf(t.Elem())}
	case reflect.Map, reflect.Interface:
		return &schemaNode{kind: reflect.Invalid}
	}
	return &schemaNode{kind: t.Kind()}
}

// checkAlias refuses aliases of the gallery types that name no property.
// Aliases of other types are accepted as they are: they never apply to
// the resources Galleon evaluates.
func checkAlias(f *field) error {
	n, ok := schemas[strings.ToLower(f.aliasType)]
	if !ok {
		return nil
	}
	for _, seg := range f.path {
		switch n.kind {
		case reflect.Invalid:
			return nil
		case reflect.Struct:
		default:
			return fmt.Errorf("'%s' is below a property that is not an object", seg.name)
		}
		next, ok := n.fields[strings.ToLower(seg.name)]
		if !ok {
			return fmt.Errorf("%s has no property '%s' here; known: %s", f.aliasType, seg.name, strings.Join(n.names, ", "))
		}
		n = next
		if seg.all {
			if n.kind != reflect.Slice {
				return fmt.Errorf("'%s' is not an array, so [*] cannot follow it", seg.name)
			}
			n = n.elem
		}
	}
	return nil
}

// fieldValue is what a field holds on a resource.
type fieldValue struct {
	v       any
	present bool
}

// resolve reads the field from the resource. applies is false when the
// field is an alias of another resource type. For [*] aliases it returns
// one value per array element.
func (f *field) resolve(r *galleon.Resource, props map[string]any) (vals []fieldValue, applies bool) {
	switch f.kind {
	case "type":
		return []fieldValue{{r.Type, r.Type != ""}}, true
	case "name":
		return []fieldValue{{r.Name, r.Name != ""}}, true
	case "fullName":
		full := r.Name
		if id, err := galleon.ParseResourceID(r.ID); err == nil && len(id.Names) > 0 {
			full = strings.Join(id.Names, "/")
		}
		return []fieldValue{{full, full != ""}}, true
	case "kind":
		return []fieldValue{{nil, false}}, true
	case "location":
		return []fieldValue{{r.Location, r.Location != ""}}, true
	case "id":
		return []fieldValue{{r.ID, r.ID != ""}}, true
	case "tags":
		m := map[string]any{}
		for k, v := range r.Tags {
			m[k] = v
		}
		return []fieldValue{{m, true}}, true
	case "tag":
		for k, v := range r.Tags {
			if strings.EqualFold(k, f.tag) {
				return []fieldValue{{v, true}}, true
			}
		}
		return []fieldValue{{nil, false}}, true
	}
	if !strings.EqualFold(f.aliasType, r.Type) {
		return nil, false
	}
	vals = []fieldValue{{props, props != nil}}
	for _, seg := range f.path {
		var next []fieldValue
		for _, cur := range vals {
			m, ok := cur.v.(map[string]any)
			if !cur.present || !ok {
				if !seg.all {
					next = append(next, fieldValue{})
				}
				continue
			}
			v, found := lookupFold(m, seg.name)
			if !seg.all {
				next = append(next, fieldValue{v, found && v != nil})
				continue
			}
			if arr, ok := v.([]any); ok {
				for _, e := range arr {
					next = append(next, fieldValue{e, e != nil})
				}
			}
		}
		vals = next
	}
	return vals, true
}

func lookupFold(m map[string]any, key string) (any, bool) {
	if v, ok := m[key]; ok {
		return v, true
	}
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return v, true
		}
	}
	return nil, false
}

// decodeProperties reads a resource's properties as plain JSON values.
func decodeProperties(r *galleon.Resource) map[string]any {
	if len(r.Properties) == 0 {
		return nil
	}
	var m map[string]any
	if err := json.Unmarshal(r.Properties, &m); err != nil {
		return nil
	}
	return m
}
