package arm

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"unicode"

	"github.com/galleonhq/galleon"
	"github.com/galleonhq/galleon/gallery"
)

// Azure Resource Graph, the subset `az sig list-community` needs:
// POST /providers/Microsoft.ResourceGraph/resources with a KQL query over
// the communitygalleryresources table. Galleon answers that one table (the
// public community galleries, their definitions and the latest version of
// each, per region) with the operators where (==, !=, =~, !~, contains,
// !contains, has, startswith, endswith, in, in~, !in, combined with and,
// or, not(...) and parentheses), project, take/limit, order/sort by and
// count. Anything else is refused with a 400 naming what is unsupported.

const communityTable = "communitygalleryresources"

// Row types of the communitygalleryresources table, as ARG spells them.
const (
	argGalleryType = "microsoft.compute/locations/communitygalleries"
	argImageType   = "microsoft.compute/locations/communitygalleries/images"
	argVersionType = "microsoft.compute/locations/communitygalleries/images/versions"
)

type argRequest struct {
	Query   string         `json:"query"`
	Options map[string]any `json:"options"`
}

func argError(format string, args ...any) error {
	return galleon.ReasonErrorf(galleon.EInvalid, "BadRequest", "Resource Graph query rejected: "+format, args...)
}

// resourceGraph serves the Resource Graph query endpoint. Every signed-in
// principal may query it; the table holds only public community data.
func (s *Server) resourceGraph(c *call) error {
	var req argRequest
	if err := s.decodeBody(c, &req); err != nil {
		return err
	}
	top, skip, token, err := argOptions(req.Options)
	if err != nil {
		return err
	}
	q, err := parseKQL(req.Query)
	if err != nil {
		return err
	}
	if !strings.EqualFold(q.table, communityTable) {
		return argError("table '%s' is not available. Galleon's Resource Graph holds only the '%s' table (az sig list-community).", q.table, communityTable)
	}
	entries, err := s.Gallery.CommunityCatalog(c.ctx, "")
	if err != nil {
		return err
	}
	rows, err := communityRows(entries)
	if err != nil {
		return err
	}
	for _, st := range q.stages {
		if rows, err = st.apply(rows); err != nil {
			return err
		}
	}
	if token != "" {
		if skip, err = argSkipToken(token); err != nil {
			return err
		}
	}
	total := len(rows)
	start := min(skip, total)
	end := min(start+top, total)
	out := map[string]any{"totalRecords": total, "count": end - start, "data": rows[start:end], "facets": []any{}, "resultTruncated": "false"}
	if end < total {
		out["$skipToken"] = base64.RawURLEncoding.EncodeToString([]byte("arg:" + strconv.Itoa(end)))
	}
	writeJSON(c.w, http.StatusOK, out)
	return nil
}

// argOptions reads options.$top (default 100, at most 1000), $skip,
// $skipToken and resultFormat (objectArray only).
func argOptions(o map[string]any) (top, skip int, token string, err error) {
	top = 100
	num := func(k string) (int, bool, error) {
		v, ok := o[k]
		if !ok || v == nil {
			return 0, false, nil
		}
		f, isNum := v.(float64)
		if !isNum || f != float64(int(f)) || f < 0 {
			return 0, false, argError("options.%s must be a whole number, not %v.", k, v)
		}
		return int(f), true, nil
	}
	for k := range o {
		switch strings.ToLower(k) {
		case "$top", "$skip", "$skiptoken", "resultformat", "allowpartialscopes", "authorizationscopefilter":
		default:
			return 0, 0, "", argError("option '%s' is not supported; use $top, $skip, $skipToken.", k)
		}
	}
	if n, ok, err := num("$top"); err != nil {
		return 0, 0, "", err
	} else if ok {
		if n < 1 || n > 1000 {
			return 0, 0, "", argError("options.$top must be from 1 to 1000, not %d.", n)
		}
		top = n
	}
	if skip, _, err = num("$skip"); err != nil {
		return 0, 0, "", err
	}
	if v, ok := o["$skipToken"]; ok && v != nil {
		if token, ok = v.(string); !ok {
			return 0, 0, "", argError("options.$skipToken must be a string.")
		}
	}
	if v, ok := o["resultFormat"]; ok && v != nil && !strings.EqualFold(fmt.Sprint(v), "objectArray") {
		return 0, 0, "", argError("options.resultFormat '%v' is not supported; use objectArray.", v)
	}
	return top, skip, token, nil
}

func argSkipToken(t string) (int, error) {
	b, err := base64.RawURLEncoding.DecodeString(t)
	n, err2 := strconv.Atoi(strings.TrimPrefix(string(b), "arg:"))
	if err != nil || err2 != nil || !strings.HasPrefix(string(b), "arg:") || n < 0 {
		return 0, argError("the $skipToken is not one this server issued; run the query again without it.")
	}
	return n, nil
}

// communityRows turns the community catalog into table rows: generic
// JSON objects, so where and project see what clients see.
func communityRows(entries []gallery.CommunityEntry) ([]map[string]any, error) {
	var rows []map[string]any
	add := func(id, name, typ, location string, props any, uniqueID string) error {
		b, err := json.Marshal(props)
		if err != nil {
			return err
		}
		var p map[string]any
		if err := json.Unmarshal(b, &p); err != nil {
			return err
		}
		ident, _ := p["identifier"].(map[string]any)
		if ident == nil {
			ident = map[string]any{}
		}
		ident["uniqueId"] = uniqueID
		p["identifier"] = ident
		rows = append(rows, map[string]any{"id": id, "name": name, "type": typ, "location": location, "properties": p})
		return nil
	}
	for _, e := range entries {
		g := e.Gallery
		base := "/providers/Microsoft.Compute/locations/" + g.Location + "/communityGalleries/" + g.Name
		if err := add(base, g.Name, argGalleryType, g.Location, g.Properties, g.Identifier.UniqueID); err != nil {
			return nil, err
		}
		for _, ie := range e.Images {
			ib := base + "/images/" + ie.Image.Name
			if err := add(ib, ie.Image.Name, argImageType, g.Location, ie.Image.Properties, ie.Image.Identifier.UniqueID); err != nil {
				return nil, err
			}
			if v := ie.Latest; v != nil {
				if err := add(ib+"/versions/"+v.Name, v.Name, argVersionType, g.Location, v.Properties, v.Identifier.UniqueID); err != nil {
					return nil, err
				}
			}
		}
	}
	sort.SliceStable(rows, func(i, j int) bool {
		return strings.ToLower(rows[i]["id"].(string)) < strings.ToLower(rows[j]["id"].(string))
	})
	return rows, nil
}

// KQL subset.

type kqlQuery struct {
	table  string
	stages []kqlStage
}

type kqlStage interface {
	apply(rows []map[string]any) ([]map[string]any, error)
}

type kqlToken struct {
	kind string // "id", "str", "num", "op", "eof"
	text string
	pos  int
}

func lexKQL(q string) ([]kqlToken, error) {
	var out []kqlToken
	i := 0
	for i < len(q) {
		c := q[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '\'' || c == '"':
			var b strings.Builder
			j := i + 1
			for ; j < len(q) && q[j] != c; j++ {
				if q[j] == '\\' && j+1 < len(q) {
					j++
				}
				b.WriteByte(q[j])
			}
			if j >= len(q) {
				return nil, argError("unterminated string starting at character %d.", i+1)
			}
			out = append(out, kqlToken{"str", b.String(), i})
			i = j + 1
		case c >= '0' && c <= '9':
			j := i
			for j < len(q) && q[j] >= '0' && q[j] <= '9' {
				j++
			}
			out = append(out, kqlToken{"num", q[i:j], i})
			i = j
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			j := i
			for j < len(q) && (isIdentByte(q[j]) || q[j] == '.') {
				j++
			}
			if strings.EqualFold(q[i:j], "in") && j < len(q) && q[j] == '~' {
				j++ // in~
			}
			out = append(out, kqlToken{"id", q[i:j], i})
			i = j
		default:
			two := ""
			if i+1 < len(q) {
				two = q[i : i+2]
			}
			switch {
			case two == "==" || two == "!=" || two == "=~" || two == "!~":
				out = append(out, kqlToken{"op", two, i})
				i += 2
			case c == '!' && i+1 < len(q) && unicode.IsLetter(rune(q[i+1])):
				j := i + 1
				for j < len(q) && (unicode.IsLetter(rune(q[j])) || q[j] == '~' || q[j] == '_') {
					j++
				}
				out = append(out, kqlToken{"op", strings.ToLower(q[i:j]), i})
				i = j
			case strings.IndexByte("|,()=[]", c) >= 0:
				out = append(out, kqlToken{"op", string(c), i})
				i++
			default:
				return nil, argError("unexpected character '%c' at %d.", c, i+1)
			}
		}
	}
	return append(out, kqlToken{"eof", "", len(q)}), nil
}

func isIdentByte(b byte) bool {
	return b == '_' || b >= '0' && b <= '9' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z'
}

type kqlParser struct {
	toks  []kqlToken
	i     int
	depth int // of nested parentheses, capped so no query exhausts the stack
}

// Limits on queries: ARG's own cap on length, and a nesting depth no
// honest query reaches.
const (
	maxKQLLength = 16 << 10
	maxKQLDepth  = 32
)

func (p *kqlParser) peek() kqlToken { return p.toks[p.i] }
func (p *kqlParser) next() kqlToken { t := p.toks[p.i]; p.i++; return t }

func (p *kqlParser) is(kind, text string) bool {
	t := p.peek()
	return t.kind == kind && strings.EqualFold(t.text, text)
}

func (p *kqlParser) expect(kind, text string) error {
	if !p.is(kind, text) {
		t := p.peek()
		return argError("expected '%s' at character %d, found '%s'.", text, t.pos+1, t.text)
	}
	p.i++
	return nil
}

// parseKQL parses "table | op | op ...".
func parseKQL(q string) (*kqlQuery, error) {
	if strings.TrimSpace(q) == "" {
		return nil, argError("the query is empty; send {\"query\": \"%s | where type == '%s'\"}.", communityTable, argGalleryType)
	}
	if len(q) > maxKQLLength {
		return nil, argError("the query is longer than %d characters.", maxKQLLength)
	}
	toks, err := lexKQL(q)
	if err != nil {
		return nil, err
	}
	p := &kqlParser{toks: toks}
	t := p.next()
	if t.kind != "id" {
		return nil, argError("a query starts with a table name, like %s.", communityTable)
	}
	out := &kqlQuery{table: t.text}
	for p.is("op", "|") {
		p.next()
		st, err := p.stage()
		if err != nil {
			return nil, err
		}
		out.stages = append(out.stages, st)
	}
	if t := p.peek(); t.kind != "eof" {
		return nil, argError("unexpected '%s' at character %d; operators are separated by '|'.", t.text, t.pos+1)
	}
	return out, nil
}

func (p *kqlParser) stage() (kqlStage, error) {
	t := p.next()
	switch strings.ToLower(t.text) {
	case "where":
		e, err := p.orExpr()
		if err != nil {
			return nil, err
		}
		return whereStage{e}, nil
	case "project":
		var cols []projCol
		for {
			col, err := p.projCol()
			if err != nil {
				return nil, err
			}
			cols = append(cols, col)
			if !p.is("op", ",") {
				return projectStage{cols}, nil
			}
			p.next()
		}
	case "take", "limit":
		n := p.next()
		if n.kind != "num" {
			return nil, argError("%s needs a number.", t.text)
		}
		v, _ := strconv.Atoi(n.text)
		return takeStage{v}, nil
	case "order", "sort":
		if err := p.expect("id", "by"); err != nil {
			return nil, err
		}
		var keys []orderKey
		for {
			path := p.next()
			if path.kind != "id" {
				return nil, argError("order by needs a column at character %d.", path.pos+1)
			}
			k := orderKey{path: path.text, desc: true} // KQL sorts descending by default
			if p.is("id", "asc") {
				p.next()
				k.desc = false
			} else if p.is("id", "desc") {
				p.next()
			}
			keys = append(keys, k)
			if !p.is("op", ",") {
				return orderStage{keys}, nil
			}
			p.next()
		}
	case "count":
		return countStage{}, nil
	}
	return nil, argError("operator '%s' is not supported; Galleon answers where, project, take/limit, order by/sort by and count.", t.text)
}

type projCol struct{ name, path string }

func (p *kqlParser) projCol() (projCol, error) {
	t := p.next()
	if t.kind != "id" {
		return projCol{}, argError("project needs column names, found '%s' at character %d.", t.text, t.pos+1)
	}
	if p.is("op", "=") {
		p.next()
		path := p.next()
		if path.kind != "id" {
			return projCol{}, argError("'%s =' needs a column at character %d.", t.text, path.pos+1)
		}
		return projCol{name: t.text, path: path.text}, nil
	}
	return projCol{name: strings.ReplaceAll(t.text, ".", "_"), path: t.text}, nil
}

type kqlExpr interface {
	eval(row map[string]any) bool
}

type andExpr struct{ l, r kqlExpr }
type orExpr struct{ l, r kqlExpr }
type notExpr struct{ e kqlExpr }
type cmpExpr struct {
	path, op string
	vals     []string
}

func (e andExpr) eval(r map[string]any) bool { return e.l.eval(r) && e.r.eval(r) }
func (e orExpr) eval(r map[string]any) bool  { return e.l.eval(r) || e.r.eval(r) }
func (e notExpr) eval(r map[string]any) bool { return !e.e.eval(r) }

func (p *kqlParser) orExpr() (kqlExpr, error) {
	l, err := p.andExpr()
	for err == nil && p.is("id", "or") {
		p.next()
		var r kqlExpr
		if r, err = p.andExpr(); err == nil {
			l = orExpr{l, r}
		}
	}
	return l, err
}

func (p *kqlParser) andExpr() (kqlExpr, error) {
	l, err := p.term()
	for err == nil && p.is("id", "and") {
		p.next()
		var r kqlExpr
		if r, err = p.term(); err == nil {
			l = andExpr{l, r}
		}
	}
	return l, err
}

var kqlOps = map[string]bool{"==": true, "!=": true, "=~": true, "!~": true, "contains": true, "!contains": true,
	"contains_cs": true, "has": true, "!has": true, "startswith": true, "!startswith": true, "endswith": true,
	"!endswith": true, "in": true, "in~": true, "!in": true, "!in~": true}

func (p *kqlParser) term() (kqlExpr, error) {
	if p.depth++; p.depth > maxKQLDepth {
		return nil, argError("the query nests parentheses deeper than %d.", maxKQLDepth)
	}
	defer func() { p.depth-- }()
	if p.is("op", "(") {
		p.next()
		e, err := p.orExpr()
		if err != nil {
			return nil, err
		}
		return e, p.expect("op", ")")
	}
	if p.is("id", "not") {
		p.next()
		if err := p.expect("op", "("); err != nil {
			return nil, err
		}
		e, err := p.orExpr()
		if err != nil {
			return nil, err
		}
		return notExpr{e}, p.expect("op", ")")
	}
	path := p.next()
	if path.kind != "id" {
		return nil, argError("expected a column at character %d, found '%s'.", path.pos+1, path.text)
	}
	opTok := p.next()
	op := strings.ToLower(opTok.text)
	if !kqlOps[op] {
		return nil, argError("comparison '%s' at character %d is not supported; use ==, !=, =~, !~, contains, has, startswith, endswith or in.", opTok.text, opTok.pos+1)
	}
	e := cmpExpr{path: path.text, op: op}
	if op == "in" || op == "in~" || op == "!in" || op == "!in~" {
		if err := p.expect("op", "("); err != nil {
			return nil, err
		}
		for {
			v, err := p.literal()
			if err != nil {
				return nil, err
			}
			e.vals = append(e.vals, v)
			if !p.is("op", ",") {
				break
			}
			p.next()
		}
		return e, p.expect("op", ")")
	}
	v, err := p.literal()
	if err != nil {
		return nil, err
	}
	e.vals = []string{v}
	return e, nil
}

func (p *kqlParser) literal() (string, error) {
	t := p.next()
	switch {
	case t.kind == "str" || t.kind == "num":
		return t.text, nil
	case t.kind == "id" && (strings.EqualFold(t.text, "true") || strings.EqualFold(t.text, "false")):
		return strings.ToLower(t.text), nil
	}
	return "", argError("expected a value (a quoted string or a number) at character %d, found '%s'.", t.pos+1, t.text)
}

// lookup follows a dotted path into a row.
func lookup(row map[string]any, path string) (any, bool) {
	var cur any = row
	for _, part := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		var found bool
		cur, found = m[part]
		if !found {
			for k, v := range m { // column names are case-insensitive
				if strings.EqualFold(k, part) {
					cur, found = v, true
					break
				}
			}
		}
		if !found {
			return nil, false
		}
	}
	return cur, true
}

func asString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return ""
	case bool, float64:
		return fmt.Sprint(x)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func hasTerm(s, term string) bool {
	for _, w := range strings.FieldsFunc(s, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
		if strings.EqualFold(w, term) {
			return true
		}
	}
	return strings.EqualFold(s, term)
}

func (e cmpExpr) eval(row map[string]any) bool {
	raw, ok := lookup(row, e.path)
	v := asString(raw)
	lv, want := strings.ToLower(v), strings.ToLower(e.vals[0])
	switch e.op {
	case "==":
		return ok && v == e.vals[0]
	case "!=":
		return !ok || v != e.vals[0]
	case "=~":
		return ok && lv == want
	case "!~":
		return !ok || lv != want
	case "contains":
		return ok && strings.Contains(lv, want)
	case "!contains":
		return !ok || !strings.Contains(lv, want)
	case "contains_cs":
		return ok && strings.Contains(v, e.vals[0])
	case "has":
		return ok && hasTerm(v, e.vals[0])
	case "!has":
		return !ok || !hasTerm(v, e.vals[0])
	case "startswith":
		return ok && strings.HasPrefix(lv, want)
	case "!startswith":
		return !ok || !strings.HasPrefix(lv, want)
	case "endswith":
		return ok && strings.HasSuffix(lv, want)
	case "!endswith":
		return !ok || !strings.HasSuffix(lv, want)
	}
	in := false
	for _, x := range e.vals {
		if (strings.HasSuffix(e.op, "~") && strings.EqualFold(v, x)) || v == x {
			in = true
		}
	}
	if strings.HasPrefix(e.op, "!") {
		return !ok || !in
	}
	return ok && in
}

type whereStage struct{ e kqlExpr }

func (w whereStage) apply(rows []map[string]any) ([]map[string]any, error) {
	var out []map[string]any
	for _, r := range rows {
		if w.e.eval(r) {
			out = append(out, r)
		}
	}
	return out, nil
}

type projectStage struct{ cols []projCol }

func (p projectStage) apply(rows []map[string]any) ([]map[string]any, error) {
	out := make([]map[string]any, 0, len(rows))
	for _, r := range rows {
		m := map[string]any{}
		for _, c := range p.cols {
			v, _ := lookup(r, c.path)
			m[c.name] = v
		}
		out = append(out, m)
	}
	return out, nil
}

type takeStage struct{ n int }

func (t takeStage) apply(rows []map[string]any) ([]map[string]any, error) {
	if len(rows) > t.n {
		rows = rows[:t.n]
	}
	return rows, nil
}

type orderKey struct {
	path string
	desc bool
}

type orderStage struct{ keys []orderKey }

func (o orderStage) apply(rows []map[string]any) ([]map[string]any, error) {
	sort.SliceStable(rows, func(i, j int) bool {
		for _, k := range o.keys {
			a, _ := lookup(rows[i], k.path)
			b, _ := lookup(rows[j], k.path)
			as, bs := strings.ToLower(asString(a)), strings.ToLower(asString(b))
			if as == bs {
				continue
			}
			return (as < bs) != k.desc
		}
		return false
	})
	return rows, nil
}

type countStage struct{}

func (countStage) apply(rows []map[string]any) ([]map[string]any, error) {
	return []map[string]any{{"Count": len(rows)}}, nil
}
