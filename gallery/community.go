package gallery

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/mail"
	"net/url"
	"regexp"
	"sort"
	"strings"

	"github.com/galleonhq/galleon"
)

// Community galleries (REQUIREMENTS C1-C8). A gallery created with sharing
// permission Community carries public contact information; enabling it
// (POST .../share, EnableCommunity) gives it a public name, prefix + "-" +
// GUID, under which every signed-in principal reads it through the
// communityGalleries endpoints. The public name is recorded in a hidden
// index resource (communityNameType) so that a lookup by name is one read;
// the gallery itself stays the source of truth, so a stale index entry
// finds nothing.

// communityNameType is the type of the hidden index resources that map a
// public name to its gallery. They have no subscription, so no listing of
// a subscription's resources shows them.
const communityNameType = "Galleon.Gallery/communityGalleryNames"

func communityNameID(publicName string) string {
	return "/providers/Galleon.Gallery/communityGalleryNames/" + publicName
}

// CommunityDisclaimer is the disclaimer every community resource carries.
const CommunityDisclaimer = "Community images are published by their publisher and are not verified, tested or supported by the operator of this installation. Contact the publisher (communityMetadata.publisherContact) for support."

// Public name prefixes: 5 to 16 ASCII letters and digits. The API spec
// states no rule; this is Galleon's, close to what the Azure portal asks.
var publicNamePrefixRE = regexp.MustCompile(`^[A-Za-z0-9]{5,16}$`)

// secretParams are query parameters of Azure SAS tokens; any of them in a
// public URL gives away a credential.
var secretParams = map[string]bool{"sig": true, "sv": true, "se": true, "sp": true, "st": true, "sr": true, "srt": true,
	"ss": true, "spr": true, "skoid": true, "sktid": true, "skt": true, "ske": true, "sks": true, "skv": true, "signature": true}

// secretWords are parts of parameter names that carry credentials.
var secretWords = []string{"password", "passwd", "pwd", "token", "secret", "key", "credential", "auth"}

// checkPublicURL checks a URL shown to every user: absolute https, and no
// user name, password, SAS token or other secret in it (C5).
func checkPublicURL(field, v string) error {
	u, err := url.Parse(v)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.Opaque != "" {
		return invalid(field, "InvalidParameter", "'%s' must be an absolute https URL, like https://contoso.example/eula, not '%s'.", field, v)
	}
	if u.User != nil {
		return invalid(field, "InvalidParameter", "'%s' must not carry a user name or password: it is shown to every user. Remove the part before '@'.", field)
	}
	for _, part := range []string{u.RawQuery, u.Fragment} {
		q, _ := url.ParseQuery(part)
		for k := range q {
			lk := strings.ToLower(k)
			bad := secretParams[lk]
			for _, w := range secretWords {
				bad = bad || strings.Contains(lk, w)
			}
			if bad {
				return invalid(field, "InvalidParameter",
					"'%s' must not carry secrets, passwords or SAS tokens: it is shown to every user. Remove the parameter '%s' and link to a public page.", field, k)
			}
		}
	}
	return nil
}

// checkEmail checks a publisher contact: one bare address with a domain.
func checkEmail(field, v string) error {
	a, err := mail.ParseAddress(v)
	at := strings.LastIndexByte(v, '@')
	if err != nil || a.Address != v || at < 1 || !strings.Contains(v[at+1:], ".") || strings.ContainsAny(v, " <>") {
		return invalid(field, "InvalidParameter", "'%s' must be an e-mail address like support@contoso.example, not '%s'.", field, v)
	}
	return nil
}

const ciField = "properties.sharingProfile.communityGalleryInfo"

// hasCommunityInput reports whether a request's communityGalleryInfo sets
// any field a client may set.
func hasCommunityInput(ci *galleon.CommunityGalleryInfo) bool {
	return ci != nil && (ci.PublisherURI != "" || ci.PublisherContact != "" || ci.Eula != "" || ci.PublicNamePrefix != "")
}

// checkCommunityFields checks the fields of communityGalleryInfo that are
// set; with all true, each one is required.
func checkCommunityFields(ci *galleon.CommunityGalleryInfo, all bool) error {
	if all && !hasCommunityInput(ci) {
		return invalid(ciField, "InvalidParameter",
			"A Community gallery needs sharingProfile.communityGalleryInfo with publisherUri, publisherContact, eula and publicNamePrefix; they are shown to every user (az sig create --permissions Community --publisher-uri URL --publisher-email EMAIL --eula URL --public-name-prefix PREFIX).")
	}
	if ci == nil {
		return nil
	}
	for _, f := range []struct{ name, v string }{{"publisherUri", ci.PublisherURI}, {"publisherContact", ci.PublisherContact}, {"eula", ci.Eula}, {"publicNamePrefix", ci.PublicNamePrefix}} {
		field := ciField + "." + f.name
		switch {
		case f.v == "" && all:
			return invalid(field, "InvalidParameter", "'%s' is required for a Community gallery.", field)
		case f.v == "":
		case len(f.v) > 1024:
			return invalid(field, "InvalidParameter", "'%s' is longer than 1024 characters.", field)
		case f.name == "publisherContact":
			if err := checkEmail(field, f.v); err != nil {
				return err
			}
		case f.name == "publicNamePrefix":
			if !publicNamePrefixRE.MatchString(f.v) {
				return invalid(field, "InvalidParameter", "'%s' must be 5 to 16 letters and digits (it starts the gallery's public name), not '%s'.", field, f.v)
			}
		default:
			if err := checkPublicURL(field, f.v); err != nil {
				return err
			}
		}
	}
	return nil
}

// normalizeSharingProfile canonicalizes the permissions of a request's
// sharing profile ("" stays "", meaning "as before" on updates) and checks
// the community fields it sets.
func normalizeSharingProfile(sp *galleon.SharingProfile) error {
	switch strings.ToLower(sp.Permissions) {
	case "":
	case "private":
		sp.Permissions = galleon.SharingPrivate
	case "groups":
		sp.Permissions = galleon.SharingGroups
	case "community":
		sp.Permissions = galleon.SharingCommunity
	default:
		return invalid("properties.sharingProfile.permissions", "InvalidParameter",
			"sharingProfile.permissions '%s' is not one of Private, Groups, Community.", sp.Permissions)
	}
	if hasCommunityInput(sp.CommunityGalleryInfo) && sp.Permissions != "" && sp.Permissions != galleon.SharingCommunity {
		return invalid(ciField, "InvalidParameter",
			"communityGalleryInfo applies only to galleries with sharingProfile.permissions Community, not %s.", sp.Permissions)
	}
	// Requiredness is checked where the outcome is known: on creation
	// (newSharingProfile) or after merging an update (updatedSharingProfile),
	// so converting an existing gallery is refused as such.
	return checkCommunityFields(sp.CommunityGalleryInfo, false)
}

// newSharingProfile is the sharing profile of a new gallery: Private by
// default, never shared with groups yet, and a Community gallery not yet
// enabled (C1: creating it publishes nothing).
func newSharingProfile(req *galleon.SharingProfile) (*galleon.SharingProfile, error) {
	sp := &galleon.SharingProfile{Permissions: galleon.SharingPrivate}
	if req == nil || req.Permissions == "" {
		if req != nil && hasCommunityInput(req.CommunityGalleryInfo) {
			return nil, invalid(ciField, "InvalidParameter", "communityGalleryInfo applies only to galleries with sharingProfile.permissions Community.")
		}
		return sp, nil
	}
	sp.Permissions = req.Permissions
	if sp.Permissions == galleon.SharingCommunity {
		if err := checkCommunityFields(req.CommunityGalleryInfo, true); err != nil {
			return nil, err
		}
		ci := *req.CommunityGalleryInfo
		ci.CommunityGalleryEnabled, ci.PublicNames = false, nil
		sp.CommunityGalleryInfo = &ci
	}
	return sp, nil
}

// updatedSharingProfile applies a PUT or PATCH's sharing profile to the
// stored one. Private and Groups may swap (Groups to Private only once no
// group is left); nothing becomes Community (C7: create a community
// gallery instead) and a Community gallery stays so until its sharing is
// reset. Groups, public names and the enabled flag are read-only here;
// they change through POST .../share.
func updatedSharingProfile(old, req *galleon.SharingProfile) (*galleon.SharingProfile, error) {
	cur := copySharingProfile(old)
	if req == nil {
		return cur, nil
	}
	want := req.Permissions
	if want == "" {
		want = cur.Permissions
	}
	field := "properties.sharingProfile.permissions"
	switch {
	case want == cur.Permissions:
	case want == galleon.SharingCommunity:
		return nil, invalid(field, "OperationNotAllowed",
			"An existing %s gallery cannot be converted to a Community gallery. Create a new gallery with sharingProfile.permissions Community and communityGalleryInfo, and copy the image versions into it.", cur.Permissions)
	case cur.Permissions == galleon.SharingCommunity:
		return nil, invalid(field, "OperationNotAllowed",
			"A Community gallery stays Community until its sharing is reset: run `az sig share reset` (POST .../share with operationType Reset), which makes it Private.")
	case cur.Permissions == galleon.SharingGroups && len(cur.Groups) > 0:
		return nil, invalid(field, "OperationNotAllowed",
			"The gallery is still shared with %s. Stop sharing it first with `az sig share reset` (POST .../share with operationType Reset) or remove every group, then change its permissions.", describeGroups(cur.Groups))
	}
	cur.Permissions = want
	if ci := req.CommunityGalleryInfo; hasCommunityInput(ci) {
		if cur.Permissions != galleon.SharingCommunity {
			return nil, invalid(ciField, "InvalidParameter", "communityGalleryInfo applies only to galleries with sharingProfile.permissions Community.")
		}
		next := *cur.CommunityGalleryInfo
		if ci.PublicNamePrefix != "" && !strings.EqualFold(ci.PublicNamePrefix, next.PublicNamePrefix) && len(next.PublicNames) > 0 {
			return nil, propertyChangeNotAllowed("gallery", ciField+".publicNamePrefix")
		}
		for _, f := range []struct {
			dst *string
			v   string
		}{{&next.PublisherURI, ci.PublisherURI}, {&next.PublisherContact, ci.PublisherContact},
			{&next.Eula, ci.Eula}, {&next.PublicNamePrefix, ci.PublicNamePrefix}} {
			if f.v != "" {
				*f.dst = f.v
			}
		}
		if err := checkCommunityFields(&next, true); err != nil {
			return nil, err
		}
		cur.CommunityGalleryInfo = &next
	}
	return cur, nil
}

func copySharingProfile(sp *galleon.SharingProfile) *galleon.SharingProfile {
	out := &galleon.SharingProfile{Permissions: galleon.SharingPrivate}
	if sp == nil {
		return out
	}
	if sp.Permissions != "" {
		out.Permissions = sp.Permissions
	}
	for _, g := range sp.Groups {
		out.Groups = append(out.Groups, galleon.SharingProfileGroup{Type: g.Type, IDs: append([]string(nil), g.IDs...)})
	}
	if sp.CommunityGalleryInfo != nil {
		ci := *sp.CommunityGalleryInfo
		ci.PublicNames = append([]string(nil), ci.PublicNames...)
		out.CommunityGalleryInfo = &ci
	}
	return out
}

func describeGroups(groups []galleon.SharingProfileGroup) string {
	var parts []string
	for _, g := range groups {
		if len(g.IDs) > 0 {
			parts = append(parts, fmt.Sprintf("%d %s(s)", len(g.IDs), strings.TrimSuffix(strings.ToLower(strings.TrimPrefix(g.Type, "AAD")), "s")))
		}
	}
	return strings.Join(parts, " and ")
}

// communityEnabled reports whether p is a community gallery open to the
// public now.
func communityEnabled(p *galleon.GalleryProperties) bool {
	sp := p.SharingProfile
	return sp != nil && sp.Permissions == galleon.SharingCommunity && sp.CommunityGalleryInfo != nil &&
		sp.CommunityGalleryInfo.CommunityGalleryEnabled && len(sp.CommunityGalleryInfo.PublicNames) > 0
}

func isCommunity(p *galleon.GalleryProperties) bool {
	return p.SharingProfile != nil && p.SharingProfile.Permissions == galleon.SharingCommunity
}

// refuseDeletingCommunity enforces C4: a gallery shared with the community
// is deleted only after its sharing is reset.
func refuseDeletingCommunity(r *galleon.Resource) error {
	if !strings.EqualFold(r.Type, galleon.GalleryType) {
		return nil
	}
	p, err := decodeGallery(r)
	if err != nil || !communityEnabled(p) {
		return err
	}
	return galleon.ReasonErrorf(galleon.EConflict, "CommunityGallerySharingEnabled",
		"The gallery '%s' is shared with the community as '%s'. Stop sharing it first with `az sig share reset` (POST .../share with operationType Reset), then delete it.",
		r.Name, strings.Join(p.SharingProfile.CommunityGalleryInfo.PublicNames, "', '"))
}

// communityRules enforces C7 on the definitions and versions of a
// Community gallery (enabled or not yet): no marketplace purchase plan
// (third-party images), no encryption, and the gallery's own region.
func (s *Service) communityRules(ctx context.Context, r *galleon.Resource) error {
	var gid galleon.ResourceID
	id, err := galleon.ParseResourceID(r.ID)
	if err != nil {
		return nil
	}
	switch {
	case strings.EqualFold(r.Type, galleon.GalleryImageType):
		gid = id.Parent()
	case strings.EqualFold(r.Type, galleon.GalleryImageVersionType):
		gid = id.Parent().Parent()
	default:
		return nil
	}
	g, err := s.Store.GetResource(ctx, gid.String())
	if galleon.ErrorCode(err) == galleon.ENotFound {
		return nil // the caller reports the missing parent
	} else if err != nil {
		return err
	}
	gp, err := decodeGallery(g)
	if err != nil || !isCommunity(gp) {
		return err
	}
	return communityContentError(r, g)
}

// communityContentError says why r (a definition or version) cannot be in
// the community gallery g, or returns nil.
func communityContentError(r, g *galleon.Resource) error {
	kind := friendly(r.Type)
	if !strings.EqualFold(r.Location, g.Location) {
		return invalid("location", "CommunityGalleryRegionMismatch",
			"The %s '%s' is in region '%s', but its gallery '%s' is a Community gallery in '%s'; a community gallery's definitions and versions must be in its own region. Create it in '%s' (it may still replicate to other regions).",
			kind, r.Name, r.Location, g.Name, g.Location, g.Location)
	}
	switch {
	case strings.EqualFold(r.Type, galleon.GalleryImageType):
		p, err := decodeImage(r)
		if err != nil {
			return err
		}
		if pp := p.PurchasePlan; pp != nil && (pp.Name != "" || pp.Publisher != "" || pp.Product != "") {
			return invalid("properties.purchasePlan", "CommunityGalleryThirdPartyImage",
				"The image definition '%s' names a marketplace purchase plan (%s/%s/%s). Images derived from third-party marketplace images cannot be published to the community; leave purchasePlan out.",
				r.Name, pp.Publisher, pp.Product, pp.Name)
		}
	case strings.EqualFold(r.Type, galleon.GalleryImageVersionType):
		p, err := decodeVersion(r)
		if err != nil {
			return err
		}
		if pp := p.PublishingProfile; pp != nil {
			for i, tr := range pp.TargetRegions {
				if tr.Encryption != nil {
					return invalid(fmt.Sprintf("properties.publishingProfile.targetRegions[%d].encryption", i), "CommunityGalleryEncryptionNotSupported",
						"Encrypted image versions cannot be published to the community; leave targetRegions[].encryption out.")
				}
			}
		}
	}
	return nil
}

// checkCommunityContents re-checks every definition and version of a
// gallery against C7 before it is opened to the public.
func (s *Service) checkCommunityContents(ctx context.Context, g *galleon.Resource) error {
	for _, typ := range []string{galleon.GalleryImageType, galleon.GalleryImageVersionType} {
		f := galleon.ResourceFilter{Under: g.ID, Type: typ, Limit: 1000}
		for {
			rs, next, err := s.Store.ListResources(ctx, f)
			if err != nil {
				return err
			}
			for _, r := range rs {
				if err := communityContentError(r, g); err != nil {
					return err
				}
			}
			if next == "" {
				break
			}
			f.After = next
		}
	}
	return nil
}

func (s *Service) newID() string {
	if s.NewID != nil {
		return s.NewID()
	}
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("crypto/rand: " + err.Error())
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// communityIndex is the body of a public-name index resource.
type communityIndex struct {
	GalleryID string `json:"galleryId"`
}

func (s *Service) putCommunityName(ctx context.Context, name, galleryID string) error {
	props, _ := json.Marshal(communityIndex{GalleryID: galleryID})
	err := s.Store.CreateResource(ctx, &galleon.Resource{ID: communityNameID(name), Type: communityNameType, Name: name, Properties: props})
	if galleon.ErrorCode(err) == galleon.EConflict {
		return galleon.ReasonErrorf(galleon.EConflict, "Conflict", "The public name '%s' is taken; retry to get another.", name)
	}
	return err
}

func (s *Service) deleteCommunityName(ctx context.Context, name string) error {
	if err := s.Store.DeleteResource(ctx, communityNameID(name)); err != nil && galleon.ErrorCode(err) != galleon.ENotFound {
		return err
	}
	return nil
}

// communityNotFound is the one answer for a public name that does not
// exist, was never enabled, or was reset: nothing tells them apart.
func communityNotFound(publicName string) error {
	return galleon.ReasonErrorf(galleon.ENotFound, "CommunityGalleryNotFound",
		"The community gallery '%s' was not found: no gallery is shared with the community under that name (it may never have existed, or its publisher stopped sharing it). New deployments from it are not possible.", publicName)
}

// communityGallery returns the gallery shared with the community as
// publicName, checking that it still is.
func (s *Service) communityGallery(ctx context.Context, publicName string) (*galleon.Resource, *galleon.GalleryProperties, error) {
	if publicName == "" || strings.ContainsAny(publicName, "/\\") {
		return nil, nil, communityNotFound(publicName)
	}
	idx, err := s.Store.GetResource(ctx, communityNameID(publicName))
	if galleon.ErrorCode(err) == galleon.ENotFound {
		return nil, nil, communityNotFound(publicName)
	} else if err != nil {
		return nil, nil, err
	}
	var ix communityIndex
	if err := json.Unmarshal(idx.Properties, &ix); err != nil {
		return nil, nil, fmt.Errorf("decode community index %s: %w", publicName, err)
	}
	g, err := s.Store.GetResource(ctx, ix.GalleryID)
	if galleon.ErrorCode(err) == galleon.ENotFound {
		return nil, nil, communityNotFound(publicName)
	} else if err != nil {
		return nil, nil, err
	}
	p, err := decodeGallery(g)
	if err != nil {
		return nil, nil, err
	}
	if !communityEnabled(p) || provisioningState(g) == galleon.ProvisioningDeleting || !containsFold(p.SharingProfile.CommunityGalleryInfo.PublicNames, publicName) {
		return nil, nil, communityNotFound(publicName)
	}
	return g, p, nil
}

// communityGalleries lists every gallery shared with the community, in
// public-name order, with the public name each is listed under.
func (s *Service) communityGalleries(ctx context.Context) ([]*publicSource, error) {
	var out []*publicSource
	f := galleon.ResourceFilter{Type: communityNameType, Limit: 1000}
	for {
		rs, next, err := s.Store.ListResources(ctx, f)
		if err != nil {
			return nil, err
		}
		for _, r := range rs {
			g, p, err := s.communityGallery(ctx, r.Name)
			if galleon.ErrorCode(err) == galleon.ENotFound {
				continue
			} else if err != nil {
				return nil, err
			}
			out = append(out, &publicSource{gallery: g, props: p, community: true, name: r.Name})
		}
		if next == "" {
			break
		}
		f.After = next
	}
	sort.Slice(out, func(i, j int) bool { return strings.ToLower(out[i].name) < strings.ToLower(out[j].name) })
	return out, nil
}

func containsFold(list []string, v string) bool {
	for _, x := range list {
		if strings.EqualFold(x, v) {
			return true
		}
	}
	return false
}

// CheckGroupDeletable refuses deleting a resource group that still holds a
// community gallery (C4: reset its sharing first), so a group delete cannot
// pull a public gallery out from under its users.
func (s *Service) CheckGroupDeletable(ctx context.Context, groupID string) error {
	f := galleon.ResourceFilter{Under: groupID, Type: galleon.GalleryType, Limit: 1000}
	for {
		rs, next, err := s.Store.ListResources(ctx, f)
		if err != nil {
			return err
		}
		for _, r := range rs {
			if err := refuseDeletingCommunity(r); err != nil {
				return err
			}
		}
		if next == "" {
			return nil
		}
		f.After = next
	}
}
