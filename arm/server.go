package arm

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/galleonhq/galleon"
	"github.com/galleonhq/galleon/authz"
	"github.com/galleonhq/galleon/compute"
	"github.com/galleonhq/galleon/gallery"
	"github.com/galleonhq/galleon/policy"
	"github.com/galleonhq/galleon/replication"
)

// Authenticator turns an Authorization header into the calling principal.
// identity.Service implements it.
type Authenticator interface {
	// Authenticate returns EUnauthenticated (with an ARM Reason such as
	// InvalidAuthenticationToken) when the header does not carry a valid token.
	Authenticate(ctx context.Context, authorizationHeader string) (*galleon.Principal, error)
}

// Server serves the ARM REST API.
type Server struct {
	Store galleon.Store
	Auth  Authenticator
	Authz *authz.Authorizer
	// Gallery holds the rules of galleries, image definitions and versions.
	Gallery *gallery.Service
	// Compute holds the rules of disks, snapshots and managed images.
	Compute *compute.Service
	// Policy holds Azure Policy definitions and assignments.
	Policy *policy.Engine
	// SignBlobURL returns a SAS URL for a blob of the data plane.
	SignBlobURL func(account, container, blob, perms string, expiry time.Time) string
	// SignContainerSAS returns a container-scoped SAS query for a user
	// storage account (listServiceSas).
	SignContainerSAS func(account, container, perms string, expiry time.Time) string
	// Replication queues the copying of versions to their regions.
	Replication *replication.Replicator
	// BaseURL is the public https URL of the server, without a trailing slash.
	BaseURL string
	// Audience is the token audience clients request for ARM.
	Audience string
	Regions  []galleon.Region
	Logger   *slog.Logger
	Now      func() time.Time
	// Notify, when set, is called after a job is queued so workers start at once.
	Notify func()
	// MaxBodyBytes caps request bodies (default 4 MiB, as ARM).
	MaxBodyBytes int64
	// RetryAfter is the polling interval advertised for long-running
	// operations (default 1s).
	RetryAfter time.Duration

	routes []route
}

// call is one request being served.
type call struct {
	w          http.ResponseWriter
	r          *http.Request
	ctx        context.Context
	p          *galleon.Principal
	vars       map[string]string
	scope      string // the scope prefix of scoped routes ("/" for the root)
	apiVersion string
	sub        *galleon.Subscription
	route      *route
	// aux are the principals of the x-ms-authorization-auxiliary tokens.
	aux []*galleon.Principal
	// authAction and authScope are the last check authorize made, which
	// LinkedAuthorizationFailed messages name.
	authAction, authScope string
}

func (c *call) v(name string) string { return c.vars[name] }

type route struct {
	method   string
	pattern  []string // segments; "{name}" captures one segment
	scoped   bool     // pattern matches the path's tail; the head is the scope
	typ      string   // resource type, for messages
	versions []string // nil: any api-version, or none, is accepted
	noAuth   bool
	handle   func(*Server, *call) error
}

func (s *Server) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

func (s *Server) init() {
	if s.routes == nil {
		s.routes = s.buildRoutes()
	}
}

// Init prepares the route table; ServeHTTP calls it on first use, tests and
// main may call it early.
func (s *Server) Init() { s.init() }

func seg(p string) []string { return splitPath(p) }

const rgGalleries = "subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Compute/galleries"

func (s *Server) buildRoutes() []route {
	r := []route{
		{method: "GET", pattern: seg("metadata/endpoints"), noAuth: true, handle: (*Server).getMetadataEndpoints},
		{method: "GET", pattern: seg("tenants"), typ: "Microsoft.Resources/tenants", versions: resourcesVersions, handle: (*Server).listTenants},
		{method: "GET", pattern: seg("subscriptions"), typ: "Microsoft.Resources/subscriptions", versions: resourcesVersions, handle: (*Server).listSubscriptions},
		{method: "GET", pattern: seg("subscriptions/{sub}"), typ: "Microsoft.Resources/subscriptions", versions: resourcesVersions, handle: (*Server).getSubscription},
		{method: "GET", pattern: seg("subscriptions/{sub}/locations"), typ: "Microsoft.Resources/locations", versions: resourcesVersions, handle: (*Server).listLocations},
		{method: "GET", pattern: seg("subscriptions/{sub}/providers"), typ: "Microsoft.Resources/providers", versions: resourcesVersions, handle: (*Server).listProviders},
		{method: "GET", pattern: seg("subscriptions/{sub}/providers/{ns}"), typ: "Microsoft.Resources/providers", versions: resourcesVersions, handle: (*Server).getProvider},
		{method: "POST", pattern: seg("subscriptions/{sub}/providers/{ns}/register"), typ: "Microsoft.Resources/providers", versions: resourcesVersions, handle: (*Server).registerProvider},
		{method: "GET", pattern: seg("providers"), typ: "Microsoft.Resources/providers", versions: resourcesVersions, handle: (*Server).listProviders},
		{method: "GET", pattern: seg("providers/{ns}"), typ: "Microsoft.Resources/providers", versions: resourcesVersions, handle: (*Server).getProvider},
		{method: "GET", pattern: seg("subscriptions/{sub}/resourceGroups"), typ: "Microsoft.Resources/resourceGroups", versions: resourcesVersions, handle: (*Server).listResourceGroups},
		{method: "PUT", pattern: seg("subscriptions/{sub}/resourceGroups/{rg}"), typ: "Microsoft.Resources/resourceGroups", versions: resourcesVersions, handle: (*Server).putResourceGroup},
		{method: "GET", pattern: seg("subscriptions/{sub}/resourceGroups/{rg}"), typ: "Microsoft.Resources/resourceGroups", versions: resourcesVersions, handle: (*Server).getResourceGroup},
		{method: "HEAD", pattern: seg("subscriptions/{sub}/resourceGroups/{rg}"), typ: "Microsoft.Resources/resourceGroups", versions: resourcesVersions, handle: (*Server).headResourceGroup},
		{method: "PATCH", pattern: seg("subscriptions/{sub}/resourceGroups/{rg}"), typ: "Microsoft.Resources/resourceGroups", versions: resourcesVersions, handle: (*Server).patchResourceGroup},
		{method: "DELETE", pattern: seg("subscriptions/{sub}/resourceGroups/{rg}"), typ: "Microsoft.Resources/resourceGroups", versions: resourcesVersions, handle: (*Server).deleteResourceGroup},
		{method: "GET", pattern: seg("subscriptions/{sub}/resources"), typ: "Microsoft.Resources/resources", versions: resourcesVersions, handle: (*Server).listResources},
		{method: "GET", pattern: seg("subscriptions/{sub}/resourceGroups/{rg}/resources"), typ: "Microsoft.Resources/resources", versions: resourcesVersions, handle: (*Server).listResources},
		{method: "GET", pattern: seg("subscriptions/{sub}/providers/Microsoft.Resources/operations/{op}"), typ: "Microsoft.Resources/operations", handle: (*Server).getOperationStatus},
		{method: "GET", pattern: seg("subscriptions/{sub}/operationresults/{op}"), typ: "Microsoft.Resources/operationresults", handle: (*Server).getOperationResult},
		{method: "GET", pattern: seg("subscriptions/{sub}/providers/Microsoft.Insights/eventtypes/management/values"), typ: "Microsoft.Insights/eventtypes", versions: activityLogVersions, handle: (*Server).listActivityLog},

		{method: "GET", pattern: seg("subscriptions/{sub}/providers/Microsoft.Compute/galleries"), typ: galleon.GalleryType, versions: computeGalleryVersions, handle: (*Server).listGalleryResources},
		{method: "GET", pattern: seg(rgGalleries), typ: galleon.GalleryType, versions: computeGalleryVersions, handle: (*Server).listGalleryResources},
		{method: "PUT", pattern: seg(rgGalleries + "/{gallery}"), typ: galleon.GalleryType, versions: computeGalleryVersions, handle: (*Server).putGallery},
		{method: "PATCH", pattern: seg(rgGalleries + "/{gallery}"), typ: galleon.GalleryType, versions: computeGalleryVersions, handle: (*Server).patchGallery},
		{method: "GET", pattern: seg(rgGalleries + "/{gallery}"), typ: galleon.GalleryType, versions: computeGalleryVersions, handle: (*Server).getGalleryResource},
		{method: "DELETE", pattern: seg(rgGalleries + "/{gallery}"), typ: galleon.GalleryType, versions: computeGalleryVersions, handle: (*Server).deleteGalleryResource},
		{method: "GET", pattern: seg(rgGalleries + "/{gallery}/softdeletedartifacttypes/{artifactType}/artifacts/{artifact}/versions"), typ: galleon.GalleryType, versions: computeGalleryVersions, handle: (*Server).listSoftDeleted},
		{method: "GET", pattern: seg(rgGalleries + "/{gallery}/images"), typ: galleon.GalleryImageType, versions: computeGalleryVersions, handle: (*Server).listGalleryResources},
		{method: "PUT", pattern: seg(rgGalleries + "/{gallery}/images/{image}"), typ: galleon.GalleryImageType, versions: computeGalleryVersions, handle: (*Server).putImage},
		{method: "PATCH", pattern: seg(rgGalleries + "/{gallery}/images/{image}"), typ: galleon.GalleryImageType, versions: computeGalleryVersions, handle: (*Server).patchImage},
		{method: "GET", pattern: seg(rgGalleries + "/{gallery}/images/{image}"), typ: galleon.GalleryImageType, versions: computeGalleryVersions, handle: (*Server).getGalleryResource},
		{method: "DELETE", pattern: seg(rgGalleries + "/{gallery}/images/{image}"), typ: galleon.GalleryImageType, versions: computeGalleryVersions, handle: (*Server).deleteGalleryResource},

		{method: "GET", pattern: seg(rgGalleries + "/{gallery}/images/{image}/versions"), typ: galleon.GalleryImageVersionType, versions: computeGalleryVersions, handle: (*Server).listVersions},
		{method: "PUT", pattern: seg(rgGalleries + "/{gallery}/images/{image}/versions/{version}"), typ: galleon.GalleryImageVersionType, versions: computeGalleryVersions, handle: (*Server).putVersion},
		{method: "PATCH", pattern: seg(rgGalleries + "/{gallery}/images/{image}/versions/{version}"), typ: galleon.GalleryImageVersionType, versions: computeGalleryVersions, handle: (*Server).patchVersion},
		{method: "GET", pattern: seg(rgGalleries + "/{gallery}/images/{image}/versions/{version}"), typ: galleon.GalleryImageVersionType, versions: computeGalleryVersions, handle: (*Server).getVersion},
		{method: "GET", pattern: seg(rgGalleries + "/{gallery}/images/{image}/versions/{version}/disks/{disk}/content"), typ: galleon.GalleryImageVersionType, versions: computeGalleryVersions, handle: (*Server).downloadDisk},
		{method: "HEAD", pattern: seg(rgGalleries + "/{gallery}/images/{image}/versions/{version}/disks/{disk}/content"), typ: galleon.GalleryImageVersionType, versions: computeGalleryVersions, handle: (*Server).downloadDisk},
		{method: "GET", pattern: seg("subscriptions/{sub}/providers/Microsoft.Compute/galleryUsage"), typ: galleon.GalleryType, versions: computeGalleryVersions, handle: (*Server).getUsage},
		{method: "GET", pattern: seg("subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Compute/galleryUsage"), typ: galleon.GalleryType, versions: computeGalleryVersions, handle: (*Server).getUsage},
		{method: "GET", pattern: seg(rgGalleries + "/{gallery}/galleryUsage"), typ: galleon.GalleryType, versions: computeGalleryVersions, handle: (*Server).getUsage},
		{method: "GET", pattern: seg(rgGalleries + "/{gallery}/images/{image}/galleryUsage"), typ: galleon.GalleryType, versions: computeGalleryVersions, handle: (*Server).getUsage},
		{method: "GET", pattern: seg(rgGalleries + "/{gallery}/images/{image}/versions/{version}/galleryUsage"), typ: galleon.GalleryType, versions: computeGalleryVersions, handle: (*Server).getUsage},
		{method: "DELETE", pattern: seg(rgGalleries + "/{gallery}/images/{image}/versions/{version}"), typ: galleon.GalleryImageVersionType, versions: computeGalleryVersions, handle: (*Server).deleteVersion},

		{method: "GET", scoped: true, pattern: seg("providers/Microsoft.Authorization/roleAssignments"), typ: "Microsoft.Authorization/roleAssignments", versions: roleAssignmentVersions, handle: (*Server).listRoleAssignments},
		{method: "GET", scoped: true, pattern: seg("providers/Microsoft.Authorization/roleAssignments/{name}"), typ: "Microsoft.Authorization/roleAssignments", versions: roleAssignmentVersions, handle: (*Server).getRoleAssignment},
		{method: "PUT", scoped: true, pattern: seg("providers/Microsoft.Authorization/roleAssignments/{name}"), typ: "Microsoft.Authorization/roleAssignments", versions: roleAssignmentVersions, handle: (*Server).putRoleAssignment},
		{method: "DELETE", scoped: true, pattern: seg("providers/Microsoft.Authorization/roleAssignments/{name}"), typ: "Microsoft.Authorization/roleAssignments", versions: roleAssignmentVersions, handle: (*Server).deleteRoleAssignment},
		{method: "GET", scoped: true, pattern: seg("providers/Microsoft.Authorization/roleDefinitions"), typ: "Microsoft.Authorization/roleDefinitions", versions: roleDefinitionVersions, handle: (*Server).listRoleDefinitions},
		{method: "GET", scoped: true, pattern: seg("providers/Microsoft.Authorization/roleDefinitions/{name}"), typ: "Microsoft.Authorization/roleDefinitions", versions: roleDefinitionVersions, handle: (*Server).getRoleDefinition},
		{method: "PUT", scoped: true, pattern: seg("providers/Microsoft.Authorization/roleDefinitions/{name}"), typ: "Microsoft.Authorization/roleDefinitions", versions: roleDefinitionVersions, handle: (*Server).putRoleDefinition},
		{method: "DELETE", scoped: true, pattern: seg("providers/Microsoft.Authorization/roleDefinitions/{name}"), typ: "Microsoft.Authorization/roleDefinitions", versions: roleDefinitionVersions, handle: (*Server).deleteRoleDefinition},
	}
	r = append(r, s.storageAccountRoutes()...)
	r = append(r, s.sharingRoutes()...)
	r = append(r, s.policyRoutes()...)
	r = append(r, s.delegationRoutes()...)
	return append(r, s.computeRoutes()...)
}

// keyword compares a path segment with a literal, ignoring ASCII case only
// (strings.EqualFold alone would also fold letters such as U+017F to 's').
func keyword(seg, lit string) bool {
	return len(seg) == len(lit) && strings.EqualFold(seg, lit)
}

// splitPath splits a URL path into its non-empty segments, so "//" and
// trailing slashes are tolerated.
func splitPath(p string) []string {
	parts := strings.Split(p, "/")
	out := make([]string, 0, len(parts))
	for _, x := range parts {
		if x != "" {
			out = append(out, x)
		}
	}
	return out
}

func matchSegments(pattern, segs []string, vars map[string]string) bool {
	if len(pattern) != len(segs) {
		return false
	}
	for i, p := range pattern {
		if strings.HasPrefix(p, "{") {
			vars[p[1:len(p)-1]] = segs[i]
		} else if !keyword(segs[i], p) {
			return false
		}
	}
	return true
}

// match finds the route for a request. It returns the route, its captured
// variables and scope; or nil and whether some route matched the path with
// another method.
func (s *Server) match(method string, segs []string) (*route, map[string]string, string, bool) {
	pathMatched := false
	for i := range s.routes {
		rt := &s.routes[i]
		vars := map[string]string{}
		scope := ""
		if rt.scoped {
			if len(segs) < len(rt.pattern) {
				continue
			}
			head, tail := segs[:len(segs)-len(rt.pattern)], segs[len(segs)-len(rt.pattern):]
			if !matchSegments(rt.pattern, tail, vars) {
				continue
			}
			id, err := galleon.ParseResourceID("/" + strings.Join(head, "/"))
			if err != nil {
				continue
			}
			scope = id.String()
		} else if !matchSegments(rt.pattern, segs, vars) {
			continue
		}
		if rt.method != method {
			pathMatched = true
			continue
		}
		return rt, vars, scope, true
	}
	return nil, nil, "", pathMatched
}

// ServeHTTP authenticates, routes and serves one ARM request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.init()
	segs := splitPath(r.URL.Path)
	rt, vars, scope, pathMatched := s.match(r.Method, segs)
	note := galleon.AuditNoteFromContext(r.Context())
	if note != nil && rt != nil {
		note.Route = rt.method + " /" + strings.Join(rt.pattern, "/")
		if rt.scoped {
			note.Route = rt.method + " {scope}/" + strings.Join(rt.pattern, "/")
		}
	}
	c := &call{w: w, r: r, ctx: r.Context(), vars: vars, scope: scope, route: rt}
	if rt == nil || !rt.noAuth {
		p, err := s.Auth.Authenticate(r.Context(), r.Header.Get("Authorization"))
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		c.p = p
		c.ctx = galleon.NewContextWithPrincipal(c.ctx, p)
		if note != nil {
			note.Principal = p
		}
		if err := s.authenticateAuxiliary(c); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	if rt == nil {
		if pathMatched {
			s.writeError(w, r, galleon.ReasonErrorf(galleon.EInvalid, "UnsupportedHttpMethod",
				"The HTTP method '%s' is not supported for '%s'.", r.Method, r.URL.Path))
			return
		}
		s.writeError(w, r, s.unknownPath(r, segs))
		return
	}
	c.apiVersion = r.URL.Query().Get("api-version")
	if rt.versions != nil {
		if err := checkAPIVersion(c.apiVersion, rt.typ, rt.versions); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	if err := s.resolveSubscription(c, segs); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := rt.handle(s, c); err != nil {
		s.writeError(w, r, err)
	}
}

// resolveSubscription loads the subscription a path names and checks that
// the caller's token was issued by the subscription's tenant, or that the
// caller holds a delegation in it.
func (s *Server) resolveSubscription(c *call, segs []string) error {
	if c.p == nil || len(segs) < 2 || !keyword(segs[0], "subscriptions") {
		return nil
	}
	sub, err := s.Store.GetSubscription(c.ctx, segs[1])
	if galleon.ErrorCode(err) == galleon.ENotFound {
		return galleon.ReasonErrorf(galleon.ENotFound, "SubscriptionNotFound", "The subscription '%s' could not be found.", segs[1])
	} else if err != nil {
		return err
	}
	delegated := false
	if !strings.EqualFold(sub.TenantID, c.p.TenantID) {
		// A managing tenant's principals may address subscriptions delegated
		// to them; authz decides what they may do there.
		if delegated, err = s.delegatedSubscription(c, sub.ID); err != nil {
			return err
		}
	}
	if !strings.EqualFold(sub.TenantID, c.p.TenantID) && !delegated {
		return galleon.ReasonErrorf(galleon.EUnauthenticated, "InvalidAuthenticationTokenTenant",
			"The access token is from the wrong issuer '%s/%s/v2.0'. It must match the tenant '%s/%s/' associated with this subscription. Please use the authority (URL) '%s/%s' to get the token.",
			s.BaseURL, c.p.TenantID, s.BaseURL, sub.TenantID, s.BaseURL, sub.TenantID)
	}
	c.sub = sub
	return nil
}

// unknownPath explains why no route matched.
func (s *Server) unknownPath(r *http.Request, segs []string) error {
	for i := 0; i+1 < len(segs); i++ {
		if !strings.EqualFold(segs[i], "providers") {
			continue
		}
		ns := segs[i+1]
		if canonicalNamespace(ns) == "" {
			return galleon.ReasonErrorf(galleon.EInvalid, "NoRegisteredProviderFound",
				"No registered resource provider found for namespace '%s'. Registered namespaces: %s.", ns, strings.Join(sortedNamespaces(), ", "))
		}
		if i+2 < len(segs) {
			return galleon.ReasonErrorf(galleon.EInvalid, "InvalidResourceType",
				"The resource type '%s' could not be found in the namespace '%s' for api version '%s'.", segs[i+2], canonicalNamespace(ns), r.URL.Query().Get("api-version"))
		}
	}
	return galleon.ReasonErrorf(galleon.ENotFound, "NotFound", "No ARM operation matches %s %s.", r.Method, r.URL.Path)
}

// authTenantHint names the tenant to sign in to in WWW-Authenticate.
func (s *Server) authTenantHint(r *http.Request) string {
	segs := splitPath(r.URL.Path)
	if len(segs) >= 2 && strings.EqualFold(segs[0], "subscriptions") {
		if sub, err := s.Store.GetSubscription(r.Context(), segs[1]); err == nil {
			return sub.TenantID
		}
	}
	return "organizations"
}

// authorize checks that the caller may perform action at scope and records
// the action for the audit trail.
func (s *Server) authorize(c *call, action, scope string) error {
	if note := galleon.AuditNoteFromContext(c.ctx); note != nil {
		note.Action, note.ResourceID = action, scope
	}
	c.authAction, c.authScope = action, scope
	return s.Authz.Authorize(c.ctx, c.p, action, scope)
}
