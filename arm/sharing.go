package arm

import (
	"encoding/base64"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/galleonhq/galleon"
	"github.com/galleonhq/galleon/authz"
	"github.com/galleonhq/galleon/gallery"
)

const (
	shareAction       = "Microsoft.Compute/galleries/share/action"
	sharedReadAction  = "Microsoft.Compute/locations/sharedGalleries/read"
	locationsCompute  = "subscriptions/{sub}/providers/Microsoft.Compute/locations/{location}"
	sharedGalleries   = locationsCompute + "/sharedGalleries"
	communityGallery  = locationsCompute + "/communityGalleries/{public}"
	sharedGalleryType = "Microsoft.Compute/locations/sharedGalleries"
	communityType     = "Microsoft.Compute/locations/communityGalleries"
)

// sharingRoutes are the routes of sharing: direct shares (POST …/share),
// sharedGalleries, communityGalleries, the Resource Graph query az sends,
// the native community image search, and abuse reports.
func (s *Server) sharingRoutes() []route {
	v := computeGalleryVersions
	return []route{
		{method: "POST", pattern: seg(rgGalleries + "/{gallery}/share"), typ: galleon.GalleryType, versions: v, handle: (*Server).shareGallery},

		{method: "GET", pattern: seg(sharedGalleries), typ: sharedGalleryType, versions: v, handle: (*Server).listSharedGalleries},
		{method: "GET", pattern: seg(sharedGalleries + "/{shared}"), typ: sharedGalleryType, versions: v, handle: (*Server).getPublicGallery},
		{method: "GET", pattern: seg(sharedGalleries + "/{shared}/images"), typ: sharedGalleryType, versions: v, handle: (*Server).listPublicImages},
		{method: "GET", pattern: seg(sharedGalleries + "/{shared}/images/{image}"), typ: sharedGalleryType, versions: v, handle: (*Server).getPublicImage},
		{method: "GET", pattern: seg(sharedGalleries + "/{shared}/images/{image}/versions"), typ: sharedGalleryType, versions: v, handle: (*Server).listPublicVersions},
		{method: "GET", pattern: seg(sharedGalleries + "/{shared}/images/{image}/versions/{version}"), typ: sharedGalleryType, versions: v, handle: (*Server).getPublicVersion},

		{method: "GET", pattern: seg(communityGallery), typ: communityType, versions: v, handle: (*Server).getPublicGallery},
		{method: "GET", pattern: seg(communityGallery + "/images"), typ: communityType, versions: v, handle: (*Server).listPublicImages},
		{method: "GET", pattern: seg(communityGallery + "/images/{image}"), typ: communityType, versions: v, handle: (*Server).getPublicImage},
		{method: "GET", pattern: seg(communityGallery + "/images/{image}/versions"), typ: communityType, versions: v, handle: (*Server).listPublicVersions},
		{method: "GET", pattern: seg(communityGallery + "/images/{image}/versions/{version}"), typ: communityType, versions: v, handle: (*Server).getPublicVersion},
		{method: "POST", pattern: seg(communityGallery + "/images/{image}/reportAbuse"), typ: communityType, versions: v, handle: (*Server).reportAbuse},
		{method: "POST", pattern: seg(communityGallery + "/images/{image}/versions/{version}/reportAbuse"), typ: communityType, versions: v, handle: (*Server).reportAbuse},
		{method: "POST", pattern: seg(communityGallery + "/images/{image}/versions/{version}/markUnsafe"), typ: communityType, versions: v, handle: (*Server).markCommunityUnsafe},
		{method: "POST", pattern: seg(communityGallery + "/images/{image}/versions/{version}/markSafe"), typ: communityType, versions: v, handle: (*Server).markCommunityUnsafe},

		{method: "GET", pattern: seg(rgGalleries + "/{gallery}/abuseReports"), typ: gallery.AbuseReportType, versions: v, handle: (*Server).listAbuseReports},
		{method: "POST", pattern: seg(rgGalleries + "/{gallery}/images/{image}/versions/{version}/markUnsafe"), typ: galleon.GalleryImageVersionType, versions: v, handle: (*Server).markUnsafe},
		{method: "POST", pattern: seg(rgGalleries + "/{gallery}/images/{image}/versions/{version}/markSafe"), typ: galleon.GalleryImageVersionType, versions: v, handle: (*Server).markUnsafe},

		{method: "POST", pattern: seg("providers/Microsoft.ResourceGraph/resources"), typ: "Microsoft.ResourceGraph/resources", versions: resourceGraphVersions, handle: (*Server).resourceGraph},
		{method: "GET", pattern: seg("providers/Microsoft.Compute/communityImageSearch"), typ: "Microsoft.Compute/communityImageSearch", versions: v, handle: (*Server).searchCommunityImages},
	}
}

// galleryView serves a gallery (or image definition) the way GET shows
// it: a gallery's sharing groups only with $expand=SharingProfile/Groups,
// and with $select=Permissions only its sharing permissions.
func (s *Server) galleryView(c *call, r *galleon.Resource) map[string]any {
	out := trackedJSON(r)
	if !strings.EqualFold(r.Type, galleon.GalleryType) {
		return out
	}
	var p map[string]any
	if err := decodeJSON(r.Properties, &p); err != nil {
		return out
	}
	q := c.r.URL.Query()
	sp, _ := p["sharingProfile"].(map[string]any)
	if sp != nil && !strings.EqualFold(q.Get("$expand"), "SharingProfile/Groups") {
		delete(sp, "groups")
	}
	if strings.EqualFold(q.Get("$select"), "Permissions") {
		p = map[string]any{"sharingProfile": map[string]any{"permissions": sp["permissions"]}}
	}
	out["properties"] = p
	return out
}

// shareGallery serves POST .../share: Add, Remove, Reset and
// EnableCommunity. It answers 200 with the update (a synchronous end of
// the long-running operation the spec allows).
func (s *Server) shareGallery(c *call) error {
	id := galleryID(c)
	if err := s.authorize(c, shareAction, id.String()); err != nil {
		return err
	}
	var u gallery.SharingUpdate
	if err := s.decodeBody(c, &u); err != nil {
		return err
	}
	if strings.EqualFold(strings.TrimSpace(u.OperationType), gallery.SharingEnableCommunity) {
		if err := s.checkCommunityAdmin(c, id); err != nil {
			return err
		}
	}
	if _, err := s.Gallery.Share(c.ctx, id, &u); err != nil {
		return err
	}
	if u.Groups == nil {
		u.Groups = []galleon.SharingProfileGroup{}
	}
	writeJSON(c.w, http.StatusOK, u)
	return nil
}

// checkCommunityAdmin enforces C3: only a subscription Owner (a role
// granting "*" without excluding the share action, assigned at the
// subscription or above) or a holder of Compute Gallery Sharing Admin at
// the subscription or on the gallery may open a gallery to the public.
func (s *Server) checkCommunityAdmin(c *call, gid galleon.ResourceID) error {
	ids := c.p.IDs()
	as, err := s.Store.ListRoleAssignments(c.ctx, galleon.RoleAssignmentFilter{AtOrAbove: gid.String(), PrincipalIDs: ids})
	if err != nil {
		return err
	}
	subScope := "/subscriptions/" + c.sub.ID
	for _, a := range as {
		if !containsFold(ids, a.PrincipalID) {
			continue
		}
		atSub := galleon.ScopeContains(a.Scope, subScope)
		atGallery := galleon.NormalizeScope(a.Scope) == galleon.NormalizeScope(gid.String())
		if !atSub && !atGallery {
			continue
		}
		guid := a.RoleDefinitionID[strings.LastIndexByte(a.RoleDefinitionID, '/')+1:]
		if strings.EqualFold(guid, galleon.ComputeGallerySharingAdminRoleID) {
			return nil
		}
		if !atSub {
			continue
		}
		def := authz.BuiltInRole(guid)
		if def == nil {
			if def, err = s.Store.GetRoleDefinition(c.ctx, guid); galleon.ErrorCode(err) == galleon.ENotFound {
				continue
			} else if err != nil {
				return err
			}
		}
		if grantsEverything(def) {
			return nil
		}
	}
	return galleon.ReasonErrorf(galleon.EForbidden, "AuthorizationFailed",
		"The client %s may not share gallery '%s' with the community: only an Owner of subscription '%s', or a holder of the Compute Gallery Sharing Admin role on the subscription or on the gallery, can enable community sharing. Ask an Owner to run `az sig share enable-community`, or to assign you Compute Gallery Sharing Admin.",
		c.p, gid.Name(), c.sub.ID)
}

// grantsEverything reports whether a role is an Owner: a permission block
// with the action "*" that does not exclude sharing.
func grantsEverything(d *galleon.RoleDefinition) bool {
	for _, p := range d.Permissions {
		all, excluded := false, false
		for _, a := range p.Actions {
			all = all || a == "*"
		}
		for _, na := range p.NotActions {
			excluded = excluded || authz.MatchAction(na, shareAction)
		}
		if all && !excluded {
			return true
		}
	}
	return false
}

func containsFold(list []string, v string) bool {
	for _, x := range list {
		if strings.EqualFold(x, v) {
			return true
		}
	}
	return false
}

// publicRef builds the reference a shared or community route names.
// Shared routes need the caller to read the subscription's shared
// galleries; community routes are open to every signed-in principal.
func (s *Server) publicRef(c *call) (gallery.PublicRef, error) {
	ref := gallery.PublicRef{Image: c.v("image"), Version: c.v("version"), Region: c.v("location"),
		Caller: gallery.SharedCaller{SubscriptionID: c.sub.ID, TenantID: c.sub.TenantID}}
	if pub := c.v("public"); pub != "" {
		ref.Community, ref.Gallery = true, pub
		return ref, nil
	}
	ref.Gallery = c.v("shared")
	return ref, s.authorize(c, sharedReadAction, "/subscriptions/"+c.sub.ID)
}

func (s *Server) listSharedGalleries(c *call) error {
	if err := s.authorize(c, sharedReadAction, "/subscriptions/"+c.sub.ID); err != nil {
		return err
	}
	byTenant := false
	switch to := c.r.URL.Query().Get("sharedTo"); {
	case to == "", strings.EqualFold(to, "subscription"):
	case strings.EqualFold(to, "tenant"):
		byTenant = true
	default:
		return (&galleon.Error{Code: galleon.EInvalid, Reason: "InvalidParameter",
			Message: "sharedTo must be 'tenant' (galleries shared with your tenant), or left out (galleries shared with this subscription)."}).WithTarget("sharedTo")
	}
	gs, err := s.Gallery.ListSharedGalleries(c.ctx, gallery.SharedCaller{SubscriptionID: c.sub.ID, TenantID: c.sub.TenantID}, c.v("location"), byTenant)
	if err != nil {
		return err
	}
	return slicePage(s, c, gs)
}

func (s *Server) getPublicGallery(c *call) error {
	ref, err := s.publicRef(c)
	if err != nil {
		return err
	}
	g, err := s.Gallery.PublicGalleryOf(c.ctx, ref)
	if err != nil {
		return err
	}
	writeJSON(c.w, http.StatusOK, g)
	return nil
}

func (s *Server) listPublicImages(c *call) error {
	ref, err := s.publicRef(c)
	if err != nil {
		return err
	}
	imgs, err := s.Gallery.PublicImages(c.ctx, ref)
	if err != nil {
		return err
	}
	return slicePage(s, c, imgs)
}

func (s *Server) getPublicImage(c *call) error {
	ref, err := s.publicRef(c)
	if err != nil {
		return err
	}
	img, err := s.Gallery.PublicImageOf(c.ctx, ref)
	if err != nil {
		return err
	}
	writeJSON(c.w, http.StatusOK, img)
	return nil
}

func (s *Server) listPublicVersions(c *call) error {
	ref, err := s.publicRef(c)
	if err != nil {
		return err
	}
	vs, err := s.Gallery.PublicVersions(c.ctx, ref)
	if err != nil {
		return err
	}
	return slicePage(s, c, vs)
}

func (s *Server) getPublicVersion(c *call) error {
	ref, err := s.publicRef(c)
	if err != nil {
		return err
	}
	v, err := s.Gallery.PublicVersionOf(c.ctx, ref)
	if err != nil {
		return err
	}
	writeJSON(c.w, http.StatusOK, v)
	return nil
}

// slicePage serves one page of a computed list: $top items from the
// offset the $skiptoken carries.
func slicePage[T any](s *Server, c *call, items []T) error {
	top, err := pageSize(c, 100)
	if err != nil {
		return err
	}
	off, err := offsetToken(skipToken(c))
	if err != nil {
		return err
	}
	if off > len(items) {
		off = len(items)
	}
	end := min(off+top, len(items))
	link := ""
	if end < len(items) {
		link = s.nextLink(c, encodeOffset(end))
	}
	writeJSON(c.w, http.StatusOK, page{Value: items[off:end], NextLink: link})
	return nil
}

func encodeOffset(n int) string {
	return base64.RawURLEncoding.EncodeToString([]byte("offset:" + strconv.Itoa(n)))
}

func offsetToken(t string) (int, error) {
	if t == "" {
		return 0, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(t)
	n, err2 := strconv.Atoi(strings.TrimPrefix(string(b), "offset:"))
	if err != nil || err2 != nil || !strings.HasPrefix(string(b), "offset:") || n < 0 {
		return 0, (&galleon.Error{Code: galleon.EInvalid, Reason: "InvalidSkipToken",
			Message: "The $skiptoken is not one this server issued. Start the listing again without it."}).WithTarget("$skiptoken")
	}
	return n, nil
}

// violationBody is the body of reportAbuse and markUnsafe.
type violationBody struct {
	Category string `json:"category"`
	Details  string `json:"details"`
}

// reportAbuse serves POST .../communityGalleries/{public}/images/{image}
// [/versions/{version}]/reportAbuse, open to every signed-in principal.
func (s *Server) reportAbuse(c *call) error {
	ref, err := s.publicRef(c)
	if err != nil {
		return err
	}
	noteAction(c, communityType+"/images/reportAbuse/action", "")
	var b violationBody
	if err := s.decodeBody(c, &b); err != nil {
		return err
	}
	name, rep, err := s.Gallery.ReportAbuse(c.ctx, ref, galleon.PolicyViolation{Category: b.Category, Details: b.Details}, c.p)
	if err != nil {
		return err
	}
	writeJSON(c.w, http.StatusOK, map[string]any{"name": name, "type": communityType + "/abuseReports", "properties": rep})
	return nil
}

// listAbuseReports serves GET .../galleries/{g}/abuseReports: the reports
// filed about a gallery, for whoever may read it.
func (s *Server) listAbuseReports(c *call) error {
	gid := galleryID(c)
	if err := s.authorize(c, "Microsoft.Compute/galleries/read", gid.String()); err != nil {
		return err
	}
	rs, err := s.Gallery.ListAbuseReports(c.ctx, gid)
	if err != nil {
		return err
	}
	out := make([]any, 0, len(rs))
	for _, r := range rs {
		out = append(out, map[string]any{"id": r.ID, "name": r.Name, "type": r.Type, "properties": r.Properties})
	}
	return slicePage(s, c, out)
}

// noteAction records an action that no role check names for the audit
// trail (resourceID "" keeps the request's path).
func noteAction(c *call, action, resourceID string) {
	if note := galleon.AuditNoteFromContext(c.ctx); note != nil {
		note.Action, note.ResourceID = action, resourceID
	}
}

func (s *Server) requireOperator(c *call, what string) error {
	action := galleon.GalleryImageVersionType + "/markUnsafe/action"
	if strings.HasSuffix(strings.ToLower(c.r.URL.Path), "/marksafe") {
		action = galleon.GalleryImageVersionType + "/markSafe/action"
	}
	noteAction(c, action, "")
	if c.p.HasDirectoryRole(galleon.RoleInstallationOperator) {
		return nil
	}
	return galleon.ReasonErrorf(galleon.EForbidden, "AuthorizationFailed",
		"The client %s may not %s: only an installation operator (directory role %s) can.", c.p, what, galleon.RoleInstallationOperator)
}

// violationFrom reads markUnsafe's body; markSafe takes none and lifts
// every violation.
func (s *Server) violationFrom(c *call) (*galleon.PolicyViolation, error) {
	if strings.HasSuffix(strings.ToLower(c.r.URL.Path), "/marksafe") {
		return nil, nil
	}
	var b violationBody
	if err := s.decodeBody(c, &b); err != nil {
		return nil, err
	}
	return &galleon.PolicyViolation{Category: b.Category, Details: b.Details}, nil
}

// markUnsafe serves POST .../versions/{v}/markUnsafe and markSafe.
func (s *Server) markUnsafe(c *call) error {
	if err := s.requireOperator(c, "flag image versions"); err != nil {
		return err
	}
	v, err := s.violationFrom(c)
	if err != nil {
		return err
	}
	r, err := s.Gallery.MarkUnsafe(c.ctx, versionID(c), v)
	if err != nil {
		return err
	}
	writeJSON(c.w, http.StatusOK, trackedJSON(r))
	return nil
}

// markCommunityUnsafe flags a version through its community name, so an
// operator reaches any community gallery from its own subscription.
func (s *Server) markCommunityUnsafe(c *call) error {
	if err := s.requireOperator(c, "flag image versions"); err != nil {
		return err
	}
	ref, err := s.publicRef(c)
	if err != nil {
		return err
	}
	v, err := s.violationFrom(c)
	if err != nil {
		return err
	}
	id, err := s.Gallery.CommunityVersionID(c.ctx, ref)
	if err != nil {
		return err
	}
	r, err := s.Gallery.MarkUnsafe(c.ctx, id, v)
	if err != nil {
		return err
	}
	var p galleon.GalleryImageVersionProperties
	if err := decodeJSON(r.Properties, &p); err != nil {
		return err
	}
	writeJSON(c.w, http.StatusOK, map[string]any{"name": r.Name,
		"identifier": map[string]string{"uniqueId": "/CommunityGalleries/" + ref.Gallery + "/Images/" + ref.Image + "/Versions/" + r.Name},
		"properties": map[string]any{"safetyProfile": p.SafetyProfile}})
	return nil
}

// communitySearchResult is one community image the native search finds.
type communitySearchResult struct {
	PublicGalleryName     string                          `json:"publicGalleryName"`
	Image                 string                          `json:"image"`
	Location              string                          `json:"location"`
	UniqueID              string                          `json:"uniqueId"`
	Identifier            *galleon.GalleryImageIdentifier `json:"identifier"`
	OSType                string                          `json:"osType"`
	OSState               string                          `json:"osState"`
	HyperVGeneration      string                          `json:"hyperVGeneration,omitempty"`
	Architecture          string                          `json:"architecture,omitempty"`
	LatestVersion         string                          `json:"latestVersion,omitempty"`
	LatestVersionUniqueID string                          `json:"latestVersionUniqueId,omitempty"`
	PublisherURI          string                          `json:"publisherUri,omitempty"`
	PublisherContact      string                          `json:"publisherContact,omitempty"`
	Eula                  string                          `json:"eula,omitempty"`
}

// searchCommunityImages serves GET /providers/Microsoft.Compute/
// communityImageSearch?publisher=&offer=&sku=&location=: community images
// whose identifier parts contain the given words (ignoring case), in every
// region they are offered in (or one), with their latest version there.
func (s *Server) searchCommunityImages(c *call) error {
	q := c.r.URL.Query()
	want := map[string]string{"publisher": q.Get("publisher"), "offer": q.Get("offer"), "sku": q.Get("sku")}
	entries, err := s.Gallery.CommunityCatalog(c.ctx, q.Get("location"))
	if err != nil {
		return err
	}
	out := []communitySearchResult{}
	for _, e := range entries {
		for _, ie := range e.Images {
			id := ie.Image.Properties.Identifier
			if id == nil || !containsCI(id.Publisher, want["publisher"]) || !containsCI(id.Offer, want["offer"]) || !containsCI(id.SKU, want["sku"]) {
				continue
			}
			r := communitySearchResult{PublicGalleryName: e.Gallery.Name, Image: ie.Image.Name, Location: ie.Image.Location,
				UniqueID: ie.Image.Identifier.UniqueID, Identifier: id, OSType: ie.Image.Properties.OSType, OSState: ie.Image.Properties.OSState,
				HyperVGeneration: ie.Image.Properties.HyperVGeneration, Architecture: ie.Image.Properties.Architecture}
			if md := e.Gallery.Properties.CommunityMetadata; md != nil {
				r.PublisherURI, r.PublisherContact, r.Eula = md.PublisherURI, md.PublisherContact, md.Eula
			}
			if ie.Latest != nil {
				r.LatestVersion, r.LatestVersionUniqueID = ie.Latest.Name, ie.Latest.Identifier.UniqueID
			}
			out = append(out, r)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		ka := strings.ToLower(a.Identifier.Publisher + "\x00" + a.Identifier.Offer + "\x00" + a.Identifier.SKU + "\x00" + a.Location + "\x00" + a.UniqueID)
		kb := strings.ToLower(b.Identifier.Publisher + "\x00" + b.Identifier.Offer + "\x00" + b.Identifier.SKU + "\x00" + b.Location + "\x00" + b.UniqueID)
		return ka < kb
	})
	return slicePage(s, c, out)
}

func containsCI(s, sub string) bool {
	return sub == "" || strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}
