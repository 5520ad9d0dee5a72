package identity

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/galleonhq/galleon"
)

// GraphHandler serves the part of Microsoft Graph v1.0 that az and the SDKs
// use to look principals up, in the tenant of the caller's token:
//
//	GET  /v1.0/me
//	GET  /v1.0/servicePrincipals[/{id}]   ($filter on appId, displayName,
//	                                       servicePrincipalNames/any(c:c eq '...'))
//	POST /v1.0/servicePrincipals          {appId} (Global Administrators)
//	GET  /v1.0/users[/{id or upn}]        ($filter on userPrincipalName, displayName)
//	GET  /v1.0/groups[/{id}]              ($filter on displayName)
//	GET  /v1.0/applications[/{id}]        ($filter on appId, displayName)
//	POST /v1.0/directoryObjects/getByIds  {ids, types}
//
// The alternate-key forms servicePrincipals(appId='...') and
// applications(appId='...') are accepted too.
func (s *Service) GraphHandler() http.Handler {
	routes := []route{
		{http.MethodGet, "v1.0/me", s.graphMe},
		{http.MethodGet, "v1.0/servicePrincipals", s.graphListServicePrincipals},
		{http.MethodPost, "v1.0/servicePrincipals", s.graphCreateServicePrincipal},
		{http.MethodGet, "v1.0/servicePrincipals/{id}", s.graphGetServicePrincipal},
		{http.MethodGet, "v1.0/users", s.graphListUsers},
		{http.MethodGet, "v1.0/users/{id}", s.graphGetUser},
		{http.MethodGet, "v1.0/groups", s.graphListGroups},
		{http.MethodGet, "v1.0/groups/{id}", s.graphGetGroup},
		{http.MethodGet, "v1.0/applications", s.graphListApplications},
		{http.MethodGet, "v1.0/applications/{id}", s.graphGetApplication},
		{http.MethodPost, "v1.0/directoryObjects/getByIds", s.graphGetByIDs},
		{http.MethodGet, "v1.0/{altkey}", s.graphGetByAltKey},
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.serveAPI(w, r, routes, true)
	})
}

// Graph object shapes.

type graphServicePrincipal struct {
	ODataType              string   `json:"@odata.type"`
	ID                     string   `json:"id"`
	AppID                  string   `json:"appId"`
	DisplayName            string   `json:"displayName"`
	ServicePrincipalNames  []string `json:"servicePrincipalNames"`
	AppOwnerOrganizationID *string  `json:"appOwnerOrganizationId"`
	ServicePrincipalType   string   `json:"servicePrincipalType"`
	AccountEnabled         bool     `json:"accountEnabled"`
}

type graphUser struct {
	ODataType         string  `json:"@odata.type"`
	ID                string  `json:"id"`
	UserPrincipalName string  `json:"userPrincipalName"`
	DisplayName       string  `json:"displayName"`
	Mail              *string `json:"mail"`
}

type graphGroup struct {
	ODataType       string `json:"@odata.type"`
	ID              string `json:"id"`
	DisplayName     string `json:"displayName"`
	SecurityEnabled bool   `json:"securityEnabled"`
	MailEnabled     bool   `json:"mailEnabled"`
}

type graphApplication struct {
	ODataType      string `json:"@odata.type"`
	ID             string `json:"id"`
	AppID          string `json:"appId"`
	DisplayName    string `json:"displayName"`
	SignInAudience string `json:"signInAudience"`
}

func (s *Service) toGraphSP(ctx context.Context, sp *galleon.ServicePrincipal) (*graphServicePrincipal, error) {
	out := &graphServicePrincipal{ODataType: "#microsoft.graph.servicePrincipal", ID: sp.ID, AppID: sp.AppID,
		DisplayName: sp.DisplayName, ServicePrincipalNames: []string{sp.AppID}, ServicePrincipalType: "Application", AccountEnabled: true}
	app, err := s.Store.GetApplication(ctx, sp.AppID)
	if err == nil {
		out.AppOwnerOrganizationID = &app.TenantID
	} else if galleon.ErrorCode(err) != galleon.ENotFound {
		return nil, fmt.Errorf("get application %q: %w", sp.AppID, err)
	}
	return out, nil
}

func toGraphUser(u *galleon.User) *graphUser {
	return &graphUser{ODataType: "#microsoft.graph.user", ID: u.ID, UserPrincipalName: u.UserPrincipalName, DisplayName: u.DisplayName}
}

func toGraphGroup(g *galleon.Group) *graphGroup {
	return &graphGroup{ODataType: "#microsoft.graph.group", ID: g.ID, DisplayName: g.DisplayName, SecurityEnabled: true}
}

func toGraphApplication(a *galleon.Application) *graphApplication {
	aud := "AzureADMyOrg"
	if a.MultiTenant {
		aud = "AzureADMultipleOrgs"
	}
	return &graphApplication{ODataType: "#microsoft.graph.application", ID: a.ID, AppID: a.AppID, DisplayName: a.DisplayName, SignInAudience: aud}
}

// graphList is a Graph collection reply.
func (s *Service) graphList(entitySet string, items any) map[string]any {
	return map[string]any{"@odata.context": s.baseURL() + "/v1.0/$metadata#" + entitySet, "value": items}
}

func graphNotFound(id string) error {
	return galleon.ReasonErrorf(galleon.ENotFound, "Request_ResourceNotFound",
		"Resource '%s' does not exist or one of its queried reference-property objects are not present.", truncate(id))
}

// filter is a parsed $filter: one equality on a property, or
// servicePrincipalNames/any(c:c eq '...').
type filter struct {
	prop   string // lower-cased; "serviceprincipalnames/any" for the lambda
	value  string
	prefix bool // startswith(prop,'value') rather than prop eq 'value'
}

var (
	eqFilterRE   = regexp.MustCompile(`^\s*([A-Za-z]+)\s+eq\s+'((?:[^']|'')*)'\s*$`)
	startsWithRE = regexp.MustCompile(`^\s*startswith\(\s*([A-Za-z]+)\s*,\s*'((?:[^']|'')*)'\s*\)\s*$`)
	anyFilterRE  = regexp.MustCompile(`^\s*([A-Za-z]+)/any\(\s*([A-Za-z_][A-Za-z0-9_]*)\s*:\s*([A-Za-z_][A-Za-z0-9_]*)\s+eq\s+'((?:[^']|'')*)'\s*\)\s*$`)
)

// queryOptions reads $filter and $top for a collection whose filterable
// properties are props (lower case). It rejects query options it does not
// implement rather than ignoring them.
func queryOptions(r *http.Request, props ...string) (*filter, int, error) {
	q := r.URL.Query()
	for _, opt := range []string{"$search", "$orderby", "$expand", "$skip", "$skiptoken"} {
		if q.Has(opt) {
			return nil, 0, galleon.ReasonErrorf(galleon.EInvalid, "Request_UnsupportedQuery",
				"The query option '%s' is not supported by Galleon's Graph; use $filter or $top.", opt)
		}
	}
	top := 0
	if v := q.Get("$top"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 999 {
			return nil, 0, galleon.ReasonErrorf(galleon.EInvalid, "Request_BadRequest",
				"Invalid value '%s' for $top; it must be a number from 1 to 999.", truncate(v))
		}
		top = n
	}
	raw := q.Get("$filter")
	if raw == "" {
		return nil, top, nil
	}
	f, ok := parseFilter(raw)
	supported := false
	for _, p := range props {
		supported = supported || (ok && f.prop == p)
	}
	if !supported {
		forms := make([]string, len(props))
		for i, p := range props {
			if p == "serviceprincipalnames/any" {
				forms[i] = "servicePrincipalNames/any(c:c eq '...')"
			} else {
				forms[i] = p + " eq '...' or startswith(" + p + ",'...')"
			}
		}
		return nil, 0, galleon.ReasonErrorf(galleon.EInvalid, "Request_UnsupportedQuery",
			"The $filter '%s' is not supported here. Supported filters (one at a time): %s.", truncate(raw), strings.Join(forms, ", "))
	}
	return f, top, nil
}

// parseFilter parses the $filter forms Galleon implements: equality,
// startswith, and the servicePrincipalNames/any lambda.
func parseFilter(raw string) (*filter, bool) {
	if m := anyFilterRE.FindStringSubmatch(raw); m != nil {
		if m[2] != m[3] {
			return nil, false
		}
		return &filter{prop: strings.ToLower(m[1]) + "/any", value: strings.ReplaceAll(m[4], "''", "'")}, true
	}
	if m := startsWithRE.FindStringSubmatch(raw); m != nil {
		return &filter{prop: strings.ToLower(m[1]), value: strings.ReplaceAll(m[2], "''", "'"), prefix: true}, true
	}
	if m := eqFilterRE.FindStringSubmatch(raw); m != nil {
		return &filter{prop: strings.ToLower(m[1]), value: strings.ReplaceAll(m[2], "''", "'")}, true
	}
	return nil, false
}

// keep reports whether a value passes the filter (values compare
// case-insensitively, as Graph compares these properties).
func (f *filter) keep(values map[string]string) bool {
	if f == nil {
		return true
	}
	if f.prefix {
		return strings.HasPrefix(strings.ToLower(values[f.prop]), strings.ToLower(f.value))
	}
	return strings.EqualFold(values[f.prop], f.value)
}

func limit[T any](items []T, top int) []T {
	if top > 0 && len(items) > top {
		return items[:top]
	}
	if items == nil {
		return []T{}
	}
	return items
}

func (s *Service) graphMe(a *apiRequest) (int, any, error) {
	if a.p.Type != galleon.PrincipalUser {
		return 0, nil, galleon.ReasonErrorf(galleon.EInvalid, "Request_BadRequest",
			"/me request is only valid with delegated authentication flow; service principal %s signed in with its own credentials. Use /v1.0/servicePrincipals/%s.", a.p, a.p.ObjectID)
	}
	u, err := s.Store.GetUser(a.r.Context(), a.p.TenantID, a.p.ObjectID)
	if galleon.ErrorCode(err) == galleon.ENotFound {
		return 0, nil, graphNotFound(a.p.ObjectID)
	} else if err != nil {
		return 0, nil, fmt.Errorf("get user %q: %w", a.p.ObjectID, err)
	}
	return http.StatusOK, toGraphUser(u), nil
}

func (s *Service) graphListServicePrincipals(a *apiRequest) (int, any, error) {
	ctx := a.r.Context()
	f, top, err := queryOptions(a.r, "appid", "displayname", "id", "serviceprincipalnames/any")
	if err != nil {
		return 0, nil, err
	}
	sps, err := s.Store.ListServicePrincipals(ctx, a.p.TenantID)
	if err != nil {
		return 0, nil, fmt.Errorf("list service principals: %w", err)
	}
	var out []*graphServicePrincipal
	for _, sp := range sps {
		if !f.keep(map[string]string{"appid": sp.AppID, "displayname": sp.DisplayName, "id": sp.ID, "serviceprincipalnames/any": sp.AppID}) {
			continue
		}
		g, err := s.toGraphSP(ctx, sp)
		if err != nil {
			return 0, nil, err
		}
		out = append(out, g)
	}
	return http.StatusOK, s.graphList("servicePrincipals", limit(out, top)), nil
}

func (s *Service) graphGetServicePrincipal(a *apiRequest) (int, any, error) {
	return s.graphServicePrincipalBy(a.r.Context(), a.p.TenantID, a.vars[0])
}

func (s *Service) graphServicePrincipalBy(ctx context.Context, tenantID, id string) (int, any, error) {
	sp, err := s.Store.GetServicePrincipal(ctx, tenantID, id)
	if galleon.ErrorCode(err) == galleon.ENotFound {
		return 0, nil, graphNotFound(id)
	} else if err != nil {
		return 0, nil, fmt.Errorf("get service principal %q: %w", id, err)
	}
	g, err := s.toGraphSP(ctx, sp)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, g, nil
}

func (s *Service) graphCreateServicePrincipal(a *apiRequest) (int, any, error) {
	ctx := a.r.Context()
	a.audit(tenantPath(a.p.TenantID)+"/servicePrincipals", actionServicePrincipalWrite)
	if !isOperator(a.p) && !a.p.HasDirectoryRole(galleon.RoleGlobalAdministrator) {
		return 0, nil, galleon.ReasonErrorf(galleon.EForbidden, "Authorization_RequestDenied",
			"Insufficient privileges to complete the operation: the principal %s needs the %s directory role in tenant '%s' to create service principals.",
			a.p, galleon.RoleGlobalAdministrator, a.p.TenantID)
	}
	t, err := s.Store.GetTenant(ctx, a.p.TenantID)
	if err != nil {
		return 0, nil, fmt.Errorf("get tenant %q: %w", a.p.TenantID, err)
	}
	var in struct {
		AppID string `json:"appId"`
	}
	if err := decodeBody(a.w, a.r, &in, false); err != nil {
		return 0, nil, err
	}
	sp, err := s.createServicePrincipal(ctx, t, in.AppID)
	if err != nil {
		return 0, nil, err
	}
	a.audit(tenantPath(t.ID)+"/servicePrincipals/"+sp.ID, actionServicePrincipalWrite)
	g, err := s.toGraphSP(ctx, sp)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, g, nil
}

func (s *Service) graphListUsers(a *apiRequest) (int, any, error) {
	f, top, err := queryOptions(a.r, "userprincipalname", "displayname", "id")
	if err != nil {
		return 0, nil, err
	}
	us, err := s.Store.ListUsers(a.r.Context(), a.p.TenantID)
	if err != nil {
		return 0, nil, fmt.Errorf("list users: %w", err)
	}
	var out []*graphUser
	for _, u := range us {
		if f.keep(map[string]string{"userprincipalname": u.UserPrincipalName, "displayname": u.DisplayName, "id": u.ID}) {
			out = append(out, toGraphUser(u))
		}
	}
	return http.StatusOK, s.graphList("users", limit(out, top)), nil
}

func (s *Service) graphGetUser(a *apiRequest) (int, any, error) {
	u, err := s.Store.GetUser(a.r.Context(), a.p.TenantID, a.vars[0])
	if galleon.ErrorCode(err) == galleon.ENotFound {
		return 0, nil, graphNotFound(a.vars[0])
	} else if err != nil {
		return 0, nil, fmt.Errorf("get user %q: %w", a.vars[0], err)
	}
	return http.StatusOK, toGraphUser(u), nil
}

func (s *Service) graphListGroups(a *apiRequest) (int, any, error) {
	f, top, err := queryOptions(a.r, "displayname", "id")
	if err != nil {
		return 0, nil, err
	}
	gs, err := s.Store.ListGroups(a.r.Context(), a.p.TenantID)
	if err != nil {
		return 0, nil, fmt.Errorf("list groups: %w", err)
	}
	var out []*graphGroup
	for _, g := range gs {
		if f.keep(map[string]string{"displayname": g.DisplayName, "id": g.ID}) {
			out = append(out, toGraphGroup(g))
		}
	}
	return http.StatusOK, s.graphList("groups", limit(out, top)), nil
}

func (s *Service) graphGetGroup(a *apiRequest) (int, any, error) {
	g, err := s.Store.GetGroup(a.r.Context(), a.p.TenantID, a.vars[0])
	if galleon.ErrorCode(err) == galleon.ENotFound {
		return 0, nil, graphNotFound(a.vars[0])
	} else if err != nil {
		return 0, nil, fmt.Errorf("get group %q: %w", a.vars[0], err)
	}
	return http.StatusOK, toGraphGroup(g), nil
}

func (s *Service) graphListApplications(a *apiRequest) (int, any, error) {
	f, top, err := queryOptions(a.r, "appid", "displayname", "id")
	if err != nil {
		return 0, nil, err
	}
	apps, err := s.Store.ListApplications(a.r.Context(), a.p.TenantID)
	if err != nil {
		return 0, nil, fmt.Errorf("list applications: %w", err)
	}
	var out []*graphApplication
	for _, app := range apps {
		if f.keep(map[string]string{"appid": app.AppID, "displayname": app.DisplayName, "id": app.ID}) {
			out = append(out, toGraphApplication(app))
		}
	}
	return http.StatusOK, s.graphList("applications", limit(out, top)), nil
}

func (s *Service) graphGetApplication(a *apiRequest) (int, any, error) {
	return s.graphApplicationBy(a.r.Context(), a.p.TenantID, a.vars[0])
}

func (s *Service) graphApplicationBy(ctx context.Context, tenantID, id string) (int, any, error) {
	app, err := s.Store.GetApplication(ctx, id)
	if galleon.ErrorCode(err) == galleon.ENotFound || (err == nil && !strings.EqualFold(app.TenantID, tenantID)) {
		return 0, nil, graphNotFound(id)
	} else if err != nil {
		return 0, nil, fmt.Errorf("get application %q: %w", id, err)
	}
	return http.StatusOK, toGraphApplication(app), nil
}

var altKeyRE = regexp.MustCompile(`^(?i)(servicePrincipals|applications)\(appId='((?:[^']|'')*)'\)$`)

// graphGetByAltKey serves servicePrincipals(appId='...') and
// applications(appId='...').
func (s *Service) graphGetByAltKey(a *apiRequest) (int, any, error) {
	m := altKeyRE.FindStringSubmatch(a.vars[0])
	if m == nil {
		return 0, nil, galleon.ReasonErrorf(galleon.ENotFound, "Request_BadRequest",
			"Resource not found for the segment '%s'.", truncate(a.vars[0]))
	}
	appID := strings.ReplaceAll(m[2], "''", "'")
	if strings.EqualFold(m[1], "servicePrincipals") {
		sp, err := s.Store.GetServicePrincipal(a.r.Context(), a.p.TenantID, appID)
		if err == nil && !strings.EqualFold(sp.AppID, appID) {
			return 0, nil, graphNotFound(appID)
		}
		return s.graphServicePrincipalBy(a.r.Context(), a.p.TenantID, appID)
	}
	app, err := s.Store.GetApplication(a.r.Context(), appID)
	if err == nil && !strings.EqualFold(app.AppID, appID) {
		return 0, nil, graphNotFound(appID)
	}
	return s.graphApplicationBy(a.r.Context(), a.p.TenantID, appID)
}

// maxGetByIDs is Graph's limit on ids in one getByIds call.
const maxGetByIDs = 1000

func (s *Service) graphGetByIDs(a *apiRequest) (int, any, error) {
	ctx := a.r.Context()
	var in struct {
		IDs   []string `json:"ids"`
		Types []string `json:"types"`
	}
	if err := decodeBody(a.w, a.r, &in, false); err != nil {
		return 0, nil, err
	}
	if len(in.IDs) > maxGetByIDs {
		return 0, nil, galleon.ReasonErrorf(galleon.EInvalid, "Request_BadRequest",
			"Too many ids: %d; send at most %d per request.", len(in.IDs), maxGetByIDs).WithTarget("ids")
	}
	want := map[string]bool{}
	for _, t := range in.Types {
		t = strings.ToLower(strings.TrimPrefix(strings.TrimPrefix(strings.TrimPrefix(t, "#"), "microsoft.graph."), "Microsoft.Graph."))
		switch t {
		case "user", "group", "serviceprincipal", "application", "directoryobject":
			want[t] = true
		case "directoryobjectpartnerreference", "device", "orgcontact", "administrativeunit":
			// Real Graph types Galleon has no objects of (az asks for
			// directoryObjectPartnerReference): they match nothing.
		default:
			return 0, nil, galleon.ReasonErrorf(galleon.EInvalid, "Request_BadRequest",
				"Unsupported type '%s' in types; use user, group, servicePrincipal or application.", truncate(t)).WithTarget("types")
		}
	}
	all := len(in.Types) == 0 || want["directoryobject"]
	var out []any
	for _, id := range in.IDs {
		obj, err := s.directoryObject(ctx, a.p.TenantID, id, func(t string) bool { return all || want[t] })
		if err != nil {
			return 0, nil, err
		}
		if obj != nil {
			out = append(out, obj)
		}
	}
	return http.StatusOK, s.graphList("directoryObjects", limit(out, 0)), nil
}

// directoryObject finds an object of the tenant by object ID among the
// types ok accepts, or returns nil.
func (s *Service) directoryObject(ctx context.Context, tenantID, id string, ok func(string) bool) (any, error) {
	if ok("user") {
		u, err := s.Store.GetUser(ctx, tenantID, id)
		if err == nil && strings.EqualFold(u.ID, id) {
			return toGraphUser(u), nil
		} else if err != nil && galleon.ErrorCode(err) != galleon.ENotFound {
			return nil, fmt.Errorf("get user %q: %w", id, err)
		}
	}
	if ok("serviceprincipal") {
		sp, err := s.Store.GetServicePrincipal(ctx, tenantID, id)
		if err == nil && strings.EqualFold(sp.ID, id) {
			return s.toGraphSP(ctx, sp)
		} else if err != nil && galleon.ErrorCode(err) != galleon.ENotFound {
			return nil, fmt.Errorf("get service principal %q: %w", id, err)
		}
	}
	if ok("group") {
		g, err := s.Store.GetGroup(ctx, tenantID, id)
		if err == nil && strings.EqualFold(g.ID, id) {
			return toGraphGroup(g), nil
		} else if err != nil && galleon.ErrorCode(err) != galleon.ENotFound {
			return nil, fmt.Errorf("get group %q: %w", id, err)
		}
	}
	if ok("application") {
		app, err := s.Store.GetApplication(ctx, id)
		if err == nil && strings.EqualFold(app.ID, id) && strings.EqualFold(app.TenantID, tenantID) {
			return toGraphApplication(app), nil
		} else if err != nil && galleon.ErrorCode(err) != galleon.ENotFound {
			return nil, fmt.Errorf("get application %q: %w", id, err)
		}
	}
	return nil, nil
}
