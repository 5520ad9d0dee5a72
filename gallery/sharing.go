package gallery

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/galleonhq/galleon"
)

// Direct sharing (REQUIREMENTS A3): POST .../share adds or removes the
// subscriptions and tenants a Groups gallery is shared with, resets a
// gallery to Private, or opens a Community gallery to the public. Those it
// is shared with read it through the sharedGalleries (or
// communityGalleries) views below, which carry only what the API's shared
// and community models contain: never the private gallery's resource ID,
// resource group or (for community galleries) subscription.

// SharingLimits caps how many subscriptions and tenants one gallery may be
// shared with directly. Zero fields take the defaults (30 and 5).
type SharingLimits struct {
	MaxSubscriptions int `yaml:"maxSubscriptions"`
	MaxTenants       int `yaml:"maxTenants"`
}

func (s *Service) sharingLimits() (subs, tenants int) {
	subs, tenants = s.Limits.Sharing.MaxSubscriptions, s.Limits.Sharing.MaxTenants
	if subs <= 0 {
		subs = 30
	}
	if tenants <= 0 {
		tenants = 5
	}
	return subs, tenants
}

// Sharing update operations and group types, as the API spells them.
const (
	SharingAdd             = "Add"
	SharingRemove          = "Remove"
	SharingReset           = "Reset"
	SharingEnableCommunity = "EnableCommunity"
	GroupSubscriptions     = "Subscriptions"
	GroupTenants           = "AADTenants"
)

// SharingUpdate is the body (and the answer) of POST .../share.
type SharingUpdate struct {
	OperationType string                        `json:"operationType"`
	Groups        []galleon.SharingProfileGroup `json:"groups,omitempty"`
}

var guidRE = regexp.MustCompile(`^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$`)

// normalize checks an update and canonicalizes its operation, group types
// and IDs (lower-case GUIDs, each once).
func (u *SharingUpdate) normalize() error {
	var err error
	if u.OperationType, err = oneOf("operationType", u.OperationType, SharingAdd, SharingRemove, SharingReset, SharingEnableCommunity); err != nil {
		return err
	}
	byType := map[string][]string{}
	var order []string
	for i, g := range u.Groups {
		field := fmt.Sprintf("groups[%d]", i)
		t, err := oneOf(field+".type", g.Type, GroupSubscriptions, GroupTenants)
		if err != nil {
			return err
		}
		if _, ok := byType[t]; !ok {
			order = append(order, t)
			byType[t] = []string{}
		}
		for j, id := range g.IDs {
			if !guidRE.MatchString(id) {
				return invalid(fmt.Sprintf("%s.ids[%d]", field, j), "InvalidParameter",
					"'%s' is not a %s ID: give a GUID like 00000000-0000-0000-0000-000000000000.", id, strings.TrimSuffix(strings.ToLower(strings.TrimPrefix(t, "AAD")), "s"))
			}
			if id = strings.ToLower(id); !containsFold(byType[t], id) {
				byType[t] = append(byType[t], id)
			}
		}
	}
	u.Groups = nil
	for _, t := range order {
		u.Groups = append(u.Groups, galleon.SharingProfileGroup{Type: t, IDs: byType[t]})
	}
	switch u.OperationType {
	case SharingAdd, SharingRemove:
		n := 0
		for _, g := range u.Groups {
			n += len(g.IDs)
		}
		if n == 0 {
			return invalid("groups", "InvalidParameter", "%s needs at least one subscription or tenant ID in groups (az sig share %s --subscription-ids ... or --tenant-ids ...).",
				u.OperationType, strings.ToLower(u.OperationType))
		}
	}
	return nil
}

// groupIDs returns the IDs of the group of type t.
func groupIDs(groups []galleon.SharingProfileGroup, t string) []string {
	for _, g := range groups {
		if g.Type == t {
			return g.IDs
		}
	}
	return nil
}

// Share applies a sharing update to the gallery id and returns the stored
// gallery. Add and Remove need permissions Groups; Reset makes the gallery
// Private (and stops community sharing), revoking at once;
// EnableCommunity opens a Community gallery to the public (C1, C2). The
// caller has checked the share action (and C3 for EnableCommunity). The
// final gallery passes Check before it is stored.
//
// Returns NotFound for a missing gallery, Invalid for a bad update or one
// the gallery's permissions do not allow, and Conflict past the limits.
func (s *Service) Share(ctx context.Context, id galleon.ResourceID, u *SharingUpdate) (*galleon.Resource, error) {
	if err := u.normalize(); err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		r, err := s.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		if provisioningState(r) == galleon.ProvisioningDeleting {
			return nil, galleon.ReasonErrorf(galleon.EConflict, "ResourceBeingDeleted", "The gallery '%s' is being deleted and cannot be shared.", r.Name)
		}
		p, err := decodeGallery(r)
		if err != nil {
			return nil, err
		}
		added, removed, err := s.applySharing(ctx, r, p, u)
		if err != nil {
			return nil, err
		}
		r.Properties, _ = json.Marshal(p)
		if err := s.check(ctx, r); err != nil {
			return nil, err
		}
		// A new public name is indexed before the gallery shows it, and an
		// old one is dropped after: a crash leaves at worst an index entry
		// the gallery disowns, which finds nothing.
		for _, n := range added {
			if err := s.putCommunityName(ctx, n, r.ID); err != nil {
				return nil, err
			}
		}
		err = s.Store.UpdateResource(ctx, r, r.ETag)
		if err != nil {
			for _, n := range added {
				_ = s.deleteCommunityName(ctx, n)
			}
			if galleon.ErrorCode(err) == galleon.EPreconditionFailed && attempt < 5 {
				continue // changed meanwhile: apply the update to the new state
			}
			return nil, err
		}
		for _, n := range removed {
			if err := s.deleteCommunityName(ctx, n); err != nil {
				return nil, err
			}
		}
		return r, nil
	}
}

// applySharing changes p as u says and returns the public names to index
// and to drop.
func (s *Service) applySharing(ctx context.Context, r *galleon.Resource, p *galleon.GalleryProperties, u *SharingUpdate) (added, removed []string, err error) {
	sp := copySharingProfile(p.SharingProfile)
	notGroups := func() error {
		return invalid("operationType", "OperationNotAllowed",
			"The gallery '%s' has sharingProfile.permissions %s; sharing with subscriptions and tenants needs Groups. Switch it first (az sig update -g RG -r %s --permissions Groups, or PATCH properties.sharingProfile.permissions to Groups), then %s them.",
			r.Name, sp.Permissions, r.Name, strings.ToLower(u.OperationType))
	}
	switch u.OperationType {
	case SharingAdd:
		if sp.Permissions != galleon.SharingGroups {
			return nil, nil, notGroups()
		}
		maxSubs, maxTenants := s.sharingLimits()
		for _, t := range []struct {
			typ, what string
			max       int
		}{{GroupSubscriptions, "subscriptions", maxSubs}, {GroupTenants, "tenants", maxTenants}} {
			ids := append([]string(nil), groupIDs(sp.Groups, t.typ)...)
			for _, id := range groupIDs(u.Groups, t.typ) {
				if !containsFold(ids, id) {
					ids = append(ids, id)
				}
			}
			if len(ids) > t.max {
				return nil, nil, galleon.ReasonErrorf(galleon.EConflict, "SharingLimitExceeded",
					"A gallery can be shared with at most %d %s; '%s' would be shared with %d. Remove some first, or share with a whole tenant instead.", t.max, t.what, r.Name, len(ids))
			}
			sp.Groups = setGroup(sp.Groups, t.typ, ids)
		}
	case SharingRemove:
		if sp.Permissions != galleon.SharingGroups {
			return nil, nil, notGroups()
		}
		for _, t := range []string{GroupSubscriptions, GroupTenants} {
			var keep []string
			for _, id := range groupIDs(sp.Groups, t) {
				if !containsFold(groupIDs(u.Groups, t), id) {
					keep = append(keep, id)
				}
			}
			sp.Groups = setGroup(sp.Groups, t, keep)
		}
	case SharingReset:
		if ci := sp.CommunityGalleryInfo; ci != nil {
			removed = ci.PublicNames
		}
		sp = &galleon.SharingProfile{Permissions: galleon.SharingPrivate}
	case SharingEnableCommunity:
		if sp.Permissions != galleon.SharingCommunity || sp.CommunityGalleryInfo == nil {
			return nil, nil, invalid("operationType", "OperationNotAllowed",
				"The gallery '%s' has sharingProfile.permissions %s; only a gallery created as a Community gallery (permissions Community with communityGalleryInfo) can be shared with the community, and an existing gallery cannot be converted. Create a new Community gallery and copy the image versions into it.",
				r.Name, sp.Permissions)
		}
		if err := s.checkCommunityContents(ctx, r); err != nil {
			return nil, nil, err
		}
		ci := sp.CommunityGalleryInfo
		if !ci.CommunityGalleryEnabled || len(ci.PublicNames) == 0 {
			name := ci.PublicNamePrefix + "-" + s.newID()
			ci.PublicNames, ci.CommunityGalleryEnabled = []string{name}, true
			added = []string{name}
		}
	}
	p.SharingProfile = sp
	p.SharingStatus = nil
	if len(sp.Groups) > 0 || communityEnabled(p) {
		p.SharingStatus = &galleon.SharingStatus{AggregatedState: "Succeeded",
			Summary: []galleon.RegionalSharingStatus{{Region: r.Location, State: "Succeeded"}}}
	}
	return added, removed, nil
}

// setGroup replaces the IDs of the group of type t, dropping empty groups.
func setGroup(groups []galleon.SharingProfileGroup, t string, ids []string) []galleon.SharingProfileGroup {
	var out []galleon.SharingProfileGroup
	done := false
	for _, g := range groups {
		if g.Type == t {
			g.IDs, done = ids, true
		}
		if len(g.IDs) > 0 {
			out = append(out, g)
		}
	}
	if !done && len(ids) > 0 {
		out = append(out, galleon.SharingProfileGroup{Type: t, IDs: ids})
	}
	return out
}

// SharedCaller is who reads through sharedGalleries: the subscription in
// the request's path and the tenant that owns it (the caller's).
type SharedCaller struct {
	SubscriptionID string
	TenantID       string
}

// sharedWith reports whether a gallery is directly shared with the
// caller's subscription (bySub) or tenant (byTenant).
func sharedWith(p *galleon.GalleryProperties, c SharedCaller, bySub, byTenant bool) bool {
	sp := p.SharingProfile
	if sp == nil || sp.Permissions != galleon.SharingGroups {
		return false
	}
	return (bySub && c.SubscriptionID != "" && containsFold(groupIDs(sp.Groups, GroupSubscriptions), c.SubscriptionID)) ||
		(byTenant && c.TenantID != "" && containsFold(groupIDs(sp.Groups, GroupTenants), c.TenantID))
}

// Public models: what those a gallery is shared with see (the
// SharedGallery* and CommunityGallery* models of the API).

// PublicIdentifier is the identifier of a shared or community resource:
// "/SharedGalleries/{uniqueName}/..." or "/CommunityGalleries/{publicName}/...".
type PublicIdentifier struct {
	UniqueID string `json:"uniqueId"`
}

// PublicGallery is a shared or community gallery.
type PublicGallery struct {
	Name       string                  `json:"name"`
	Location   string                  `json:"location"`
	Type       string                  `json:"type,omitempty"`
	Identifier PublicIdentifier        `json:"identifier"`
	Properties PublicGalleryProperties `json:"properties"`
}

// PublicGalleryProperties are a shared or community gallery's properties.
type PublicGalleryProperties struct {
	Disclaimer        string             `json:"disclaimer,omitempty"`
	CommunityMetadata *CommunityMetadata `json:"communityMetadata,omitempty"`
}

// CommunityMetadata is a community gallery's public contact information.
type CommunityMetadata struct {
	PublisherURI        string   `json:"publisherUri"`
	PublisherContact    string   `json:"publisherContact"`
	Eula                string   `json:"eula"`
	PublicNames         []string `json:"publicNames"`
	PrivacyStatementURI string   `json:"privacyStatementUri,omitempty"`
}

// PublicImage is a shared or community image definition.
type PublicImage struct {
	Name       string                `json:"name"`
	Location   string                `json:"location"`
	Type       string                `json:"type,omitempty"`
	Identifier PublicIdentifier      `json:"identifier"`
	Properties PublicImageProperties `json:"properties"`
}

// PublicImageProperties are the public properties of a definition.
type PublicImageProperties struct {
	OSType              string                                   `json:"osType"`
	OSState             string                                   `json:"osState"`
	EndOfLifeDate       string                                   `json:"endOfLifeDate,omitempty"`
	Identifier          *galleon.GalleryImageIdentifier          `json:"identifier"`
	Recommended         *galleon.RecommendedMachineConfiguration `json:"recommended,omitempty"`
	Disallowed          *galleon.Disallowed                      `json:"disallowed,omitempty"`
	HyperVGeneration    string                                   `json:"hyperVGeneration,omitempty"`
	Features            []galleon.GalleryImageFeature            `json:"features,omitempty"`
	PurchasePlan        *galleon.ImagePurchasePlan               `json:"purchasePlan,omitempty"`
	Architecture        string                                   `json:"architecture,omitempty"`
	PrivacyStatementURI string                                   `json:"privacyStatementUri,omitempty"`
	Eula                string                                   `json:"eula,omitempty"`
	Disclaimer          string                                   `json:"disclaimer,omitempty"`
}

// PublicVersion is a shared or community image version.
type PublicVersion struct {
	Name       string                  `json:"name"`
	Location   string                  `json:"location"`
	Type       string                  `json:"type,omitempty"`
	Identifier PublicIdentifier        `json:"identifier"`
	Properties PublicVersionProperties `json:"properties"`
}

// PublicVersionProperties are the public properties of a version.
type PublicVersionProperties struct {
	PublishedDate     string               `json:"publishedDate,omitempty"`
	EndOfLifeDate     string               `json:"endOfLifeDate,omitempty"`
	ExcludeFromLatest bool                 `json:"excludeFromLatest"`
	StorageProfile    PublicStorageProfile `json:"storageProfile"`
	Disclaimer        string               `json:"disclaimer,omitempty"`
}

// PublicStorageProfile describes a version's disks.
type PublicStorageProfile struct {
	OSDiskImage    *PublicDiskImage      `json:"osDiskImage,omitempty"`
	DataDiskImages []PublicDataDiskImage `json:"dataDiskImages,omitempty"`
}

// PublicDiskImage is a version's OS disk.
type PublicDiskImage struct {
	DiskSizeGB  *int   `json:"diskSizeGB,omitempty"`
	HostCaching string `json:"hostCaching,omitempty"`
}

// PublicDataDiskImage is a version's data disk.
type PublicDataDiskImage struct {
	Lun         int    `json:"lun"`
	DiskSizeGB  *int   `json:"diskSizeGB,omitempty"`
	HostCaching string `json:"hostCaching,omitempty"`
}

// publicSource is a gallery as seen through a shared or community name,
// with its content loaded on first use.
type publicSource struct {
	gallery   *galleon.Resource
	props     *galleon.GalleryProperties
	community bool
	name      string // the public name, or the shared unique name

	loaded     bool
	images     []*galleon.Resource
	versions   map[string][]*galleon.Resource // normalized image ID -> versions, ID order
	replicated map[string]map[string]bool     // normalized version ID -> regions with a completed replica
}

func (ps *publicSource) uniqueID() string {
	if ps.community {
		return "/CommunityGalleries/" + ps.name
	}
	return "/SharedGalleries/" + ps.name
}

func (ps *publicSource) typeOf(kind string) string {
	if ps.community {
		return "Microsoft.Compute/locations/communityGallery" + kind
	}
	return ""
}

func (ps *publicSource) disclaimer() string {
	if ps.community {
		return CommunityDisclaimer
	}
	return ""
}

// load reads the gallery's definitions, versions and completed replicas.
func (s *Service) load(ctx context.Context, ps *publicSource) error {
	if ps.loaded {
		return nil
	}
	ps.versions, ps.replicated = map[string][]*galleon.Resource{}, map[string]map[string]bool{}
	for _, typ := range []string{galleon.GalleryImageType, galleon.GalleryImageVersionType} {
		f := galleon.ResourceFilter{Under: ps.gallery.ID, Type: typ, Limit: 1000}
		for {
			rs, next, err := s.Store.ListResources(ctx, f)
			if err != nil {
				return err
			}
			for _, r := range rs {
				if st := provisioningState(r); st == galleon.ProvisioningDeleting || st == galleon.ProvisioningFailed {
					continue
				}
				if typ == galleon.GalleryImageType {
					ps.images = append(ps.images, r)
				} else if id, err := galleon.ParseResourceID(r.ID); err == nil {
					k := galleon.NormalizeScope(id.Parent().String())
					ps.versions[k] = append(ps.versions[k], r)
				}
			}
			if next == "" {
				break
			}
			f.After = next
		}
	}
	reps, err := s.Store.ListReplicas(ctx, ps.gallery.ID)
	if err != nil {
		return err
	}
	for _, r := range reps {
		if r.State != galleon.ReplicaCompleted {
			continue
		}
		k := galleon.NormalizeScope(r.VersionID)
		if ps.replicated[k] == nil {
			ps.replicated[k] = map[string]bool{}
		}
		ps.replicated[k][strings.ToLower(r.Region)] = true
	}
	ps.loaded = true
	return nil
}

// versionIn reports whether a version can be used in region: a completed
// replica is there.
func (ps *publicSource) versionIn(v *galleon.Resource, region string) bool {
	return ps.replicated[galleon.NormalizeScope(v.ID)][strings.ToLower(region)]
}

// imageIn reports whether a definition is offered in region: it is there,
// or one of its versions is replicated there.
func (ps *publicSource) imageIn(img *galleon.Resource, region string) bool {
	if strings.EqualFold(img.Location, region) {
		return true
	}
	for _, v := range ps.versions[galleon.NormalizeScope(img.ID)] {
		if ps.versionIn(v, region) {
			return true
		}
	}
	return false
}

// galleryIn reports whether the gallery is offered in region.
func (ps *publicSource) galleryIn(region string) bool {
	if strings.EqualFold(ps.gallery.Location, region) {
		return true
	}
	for _, img := range ps.images {
		if ps.imageIn(img, region) {
			return true
		}
	}
	return false
}

// regions lists the regions the gallery is offered in.
func (ps *publicSource) regions() []string {
	set := map[string]bool{strings.ToLower(ps.gallery.Location): true}
	for _, img := range ps.images {
		set[strings.ToLower(img.Location)] = true
	}
	for _, rs := range ps.replicated {
		for r := range rs {
			set[r] = true
		}
	}
	out := make([]string, 0, len(set))
	for r := range set {
		out = append(out, r)
	}
	sort.Strings(out)
	return out
}

func (ps *publicSource) image(name, region string) (*galleon.Resource, error) {
	for _, img := range ps.images {
		if strings.EqualFold(img.Name, name) && ps.imageIn(img, region) {
			return img, nil
		}
	}
	return nil, publicNotFound("image definition", ps.uniqueID()+"/Images/"+name, region)
}

// usableVersions lists a definition's versions usable in region.
func (ps *publicSource) usableVersions(img *galleon.Resource, region string) []*galleon.Resource {
	var out []*galleon.Resource
	for _, v := range ps.versions[galleon.NormalizeScope(img.ID)] {
		if ps.versionIn(v, region) {
			out = append(out, v)
		}
	}
	return out
}

// latest picks the definition's latest version in region (V1-V3), or nil.
func (s *Service) latest(ps *publicSource, img *galleon.Resource, region string) *galleon.Resource {
	var best *galleon.Resource
	var bestV Version
	for _, v := range ps.usableVersions(img, region) {
		pv, err := ParseVersion(v.Name)
		if err != nil {
			continue
		}
		if ok, err := s.eligibleForLatest(v, region); err != nil || !ok {
			continue
		}
		if best == nil || bestV.Less(pv) {
			best, bestV = v, pv
		}
	}
	return best
}

// version finds a version by name ("latest" picks the latest) usable in
// region.
func (s *Service) version(ps *publicSource, img *galleon.Resource, name, region string) (*galleon.Resource, error) {
	uid := ps.uniqueID() + "/Images/" + img.Name + "/Versions/" + name
	if strings.EqualFold(name, "latest") {
		if v := s.latest(ps, img, region); v != nil {
			return v, nil
		}
		return nil, galleon.ReasonErrorf(galleon.ENotFound, "LatestVersionNotFound",
			"The image '%s/Images/%s' has no version usable as latest in region '%s'.", ps.uniqueID(), img.Name, region)
	}
	for _, v := range ps.usableVersions(img, region) {
		if strings.EqualFold(v.Name, name) {
			return v, nil
		}
	}
	return nil, publicNotFound("image version", uid, region)
}

func publicNotFound(kind, uniqueID, region string) error {
	return galleon.ReasonErrorf(galleon.ENotFound, "ResourceNotFound",
		"The %s '%s' was not found in region '%s', or it is not shared with you.", kind, uniqueID, region)
}

func (ps *publicSource) galleryView(region string) PublicGallery {
	out := PublicGallery{Name: ps.name, Location: region, Type: ps.typeOf(""), Identifier: PublicIdentifier{UniqueID: ps.uniqueID()},
		Properties: PublicGalleryProperties{Disclaimer: ps.disclaimer()}}
	if ps.community {
		ci := ps.props.SharingProfile.CommunityGalleryInfo
		out.Properties.CommunityMetadata = &CommunityMetadata{PublisherURI: ci.PublisherURI, PublisherContact: ci.PublisherContact,
			Eula: ci.Eula, PublicNames: append([]string(nil), ci.PublicNames...)}
	}
	return out
}

func (ps *publicSource) imageView(img *galleon.Resource, region string) (PublicImage, error) {
	p, err := decodeImage(img)
	if err != nil {
		return PublicImage{}, err
	}
	return PublicImage{Name: img.Name, Location: region, Type: ps.typeOf("Image"),
		Identifier: PublicIdentifier{UniqueID: ps.uniqueID() + "/Images/" + img.Name},
		Properties: PublicImageProperties{OSType: p.OSType, OSState: p.OSState, EndOfLifeDate: p.EndOfLifeDate, Identifier: p.Identifier,
			Recommended: p.Recommended, Disallowed: p.Disallowed, HyperVGeneration: p.HyperVGeneration, Features: p.Features,
			PurchasePlan: p.PurchasePlan, Architecture: p.Architecture, PrivacyStatementURI: p.PrivacyStatementURI, Eula: p.Eula,
			Disclaimer: ps.disclaimer()}}, nil
}

func (s *Service) versionView(ps *publicSource, img, v *galleon.Resource, region string) (PublicVersion, error) {
	p, err := decodeVersion(v)
	if err != nil {
		return PublicVersion{}, err
	}
	disks, err := VersionDisksOf(v)
	if err != nil {
		return PublicVersion{}, err
	}
	gb := func(n int64) *int {
		if n <= 0 {
			return nil
		}
		g := int((n + (1<<30 - 1)) >> 30)
		return &g
	}
	out := PublicVersion{Name: v.Name, Location: region, Type: ps.typeOf("ImageVersion"),
		Identifier: PublicIdentifier{UniqueID: ps.uniqueID() + "/Images/" + img.Name + "/Versions/" + v.Name},
		Properties: PublicVersionProperties{Disclaimer: ps.disclaimer()}}
	if pp := p.PublishingProfile; pp != nil {
		out.Properties.PublishedDate, out.Properties.EndOfLifeDate = pp.PublishedDate, pp.EndOfLifeDate
	}
	out.Properties.ExcludeFromLatest = excludedIn(p, region)
	caching := map[int]string{}
	osCaching := ""
	if sp := p.StorageProfile; sp != nil {
		if sp.OSDiskImage != nil {
			osCaching = sp.OSDiskImage.HostCaching
			if disks.OSDisk == nil {
				out.Properties.StorageProfile.OSDiskImage = &PublicDiskImage{DiskSizeGB: sp.OSDiskImage.SizeInGB, HostCaching: osCaching}
			}
		}
		for _, d := range sp.DataDiskImages {
			caching[d.Lun] = d.HostCaching
		}
	}
	if disks.OSDisk != nil {
		out.Properties.StorageProfile.OSDiskImage = &PublicDiskImage{DiskSizeGB: gb(disks.OSDisk.Size), HostCaching: osCaching}
	}
	for _, d := range disks.DataDisks {
		lun := 0
		if d.Lun != nil {
			lun = *d.Lun
		}
		hc := caching[lun]
		if hc == "" {
			hc = "None"
		}
		out.Properties.StorageProfile.DataDiskImages = append(out.Properties.StorageProfile.DataDiskImages, PublicDataDiskImage{Lun: lun, DiskSizeGB: gb(d.Size), HostCaching: hc})
	}
	return out, nil
}

// excludedIn reports a version's excludeFromLatest in region (a target
// region's setting wins over the profile's).
func excludedIn(p *galleon.GalleryImageVersionProperties, region string) bool {
	pp := p.PublishingProfile
	if pp == nil {
		return false
	}
	ex := pp.ExcludeFromLatest != nil && *pp.ExcludeFromLatest
	for _, tr := range pp.TargetRegions {
		if strings.EqualFold(tr.Name, region) && tr.ExcludeFromLatest != nil {
			ex = *tr.ExcludeFromLatest
		}
	}
	return ex
}

// sharedGallery finds the gallery with a shared unique name
// ("{subscription}-{GALLERYNAME}") shared with c's subscription or tenant.
// Missing and not-shared galleries get the same answer.
func (s *Service) sharedGallery(ctx context.Context, c SharedCaller, uniqueName, region string) (*publicSource, error) {
	nf := publicNotFound("shared gallery", "/SharedGalleries/"+uniqueName, region)
	if len(uniqueName) < 38 || uniqueName[36] != '-' || !guidRE.MatchString(uniqueName[:36]) {
		return nil, nf
	}
	f := galleon.ResourceFilter{SubscriptionID: uniqueName[:36], Type: galleon.GalleryType, Limit: 1000}
	for {
		rs, next, err := s.Store.ListResources(ctx, f)
		if err != nil {
			return nil, err
		}
		for _, r := range rs {
			if !strings.EqualFold(r.Name, uniqueName[37:]) {
				continue
			}
			p, err := decodeGallery(r)
			if err != nil {
				return nil, err
			}
			if p.Identifier == nil || !strings.EqualFold(p.Identifier.UniqueName, uniqueName) || !sharedWith(p, c, true, true) ||
				provisioningState(r) == galleon.ProvisioningDeleting {
				return nil, nf
			}
			ps := &publicSource{gallery: r, props: p, name: p.Identifier.UniqueName}
			if err := s.load(ctx, ps); err != nil {
				return nil, err
			}
			if !ps.galleryIn(region) {
				return nil, nf
			}
			return ps, nil
		}
		if next == "" {
			return nil, nf
		}
		f.After = next
	}
}

// communitySource finds an enabled community gallery offered in region.
func (s *Service) communitySource(ctx context.Context, publicName, region string) (*publicSource, error) {
	g, p, err := s.communityGallery(ctx, publicName)
	if err != nil {
		return nil, err
	}
	ps := &publicSource{gallery: g, props: p, community: true, name: publicName}
	for _, n := range p.SharingProfile.CommunityGalleryInfo.PublicNames {
		if strings.EqualFold(n, publicName) {
			ps.name = n
		}
	}
	if err := s.load(ctx, ps); err != nil {
		return nil, err
	}
	if !ps.galleryIn(region) {
		return nil, publicNotFound("community gallery", ps.uniqueID(), region)
	}
	return ps, nil
}

// PublicRef names a shared or community resource: a gallery (Image ""),
// a definition (Version "") or a version, seen from Region.
type PublicRef struct {
	// Community is true for communityGalleries, false for sharedGalleries.
	Community bool
	// Gallery is the public name or the shared unique name.
	Gallery, Image, Version string
	Region                  string
	// Caller is who reads shared galleries (unused for community ones).
	Caller SharedCaller
}

func (s *Service) source(ctx context.Context, ref PublicRef) (*publicSource, string, error) {
	region, err := s.location(ref.Region)
	if err != nil {
		return nil, "", err
	}
	var ps *publicSource
	if ref.Community {
		ps, err = s.communitySource(ctx, ref.Gallery, region)
	} else {
		ps, err = s.sharedGallery(ctx, ref.Caller, ref.Gallery, region)
	}
	return ps, region, err
}

// PublicGalleryOf returns a shared or community gallery as its readers see
// it. NotFound when it does not exist, is not offered in the region, or is
// not shared with the caller: the three are indistinguishable.
func (s *Service) PublicGalleryOf(ctx context.Context, ref PublicRef) (*PublicGallery, error) {
	ps, region, err := s.source(ctx, ref)
	if err != nil {
		return nil, err
	}
	g := ps.galleryView(region)
	return &g, nil
}

// PublicImages lists the definitions of a shared or community gallery
// offered in the region.
func (s *Service) PublicImages(ctx context.Context, ref PublicRef) ([]PublicImage, error) {
	ps, region, err := s.source(ctx, ref)
	if err != nil {
		return nil, err
	}
	out := []PublicImage{}
	for _, img := range ps.images {
		if !ps.imageIn(img, region) {
			continue
		}
		v, err := ps.imageView(img, region)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// PublicImageOf returns one definition of a shared or community gallery.
func (s *Service) PublicImageOf(ctx context.Context, ref PublicRef) (*PublicImage, error) {
	ps, region, err := s.source(ctx, ref)
	if err != nil {
		return nil, err
	}
	img, err := ps.image(ref.Image, region)
	if err != nil {
		return nil, err
	}
	v, err := ps.imageView(img, region)
	return &v, err
}

// PublicVersions lists the versions of a shared or community definition
// usable in the region. A community gallery lists only the latest version
// (C6); a direct share lists every version replicated there.
func (s *Service) PublicVersions(ctx context.Context, ref PublicRef) ([]PublicVersion, error) {
	ps, region, err := s.source(ctx, ref)
	if err != nil {
		return nil, err
	}
	img, err := ps.image(ref.Image, region)
	if err != nil {
		return nil, err
	}
	vs := ps.usableVersions(img, region)
	if ps.community {
		vs = nil
		if v := s.latest(ps, img, region); v != nil {
			vs = []*galleon.Resource{v}
		}
	}
	out := []PublicVersion{}
	for _, v := range vs {
		pv, err := s.versionView(ps, img, v, region)
		if err != nil {
			return nil, err
		}
		out = append(out, pv)
	}
	return out, nil
}

// PublicVersionOf returns one version of a shared or community definition
// by name ("latest" picks the latest in the region). A community version
// that is not the latest is still returned by name, as Azure does; only
// listings are limited to the latest.
func (s *Service) PublicVersionOf(ctx context.Context, ref PublicRef) (*PublicVersion, error) {
	ps, region, v, img, err := s.publicVersion(ctx, ref)
	if err != nil {
		return nil, err
	}
	pv, err := s.versionView(ps, img, v, region)
	return &pv, err
}

func (s *Service) publicVersion(ctx context.Context, ref PublicRef) (*publicSource, string, *galleon.Resource, *galleon.Resource, error) {
	ps, region, err := s.source(ctx, ref)
	if err != nil {
		return nil, "", nil, nil, err
	}
	img, err := ps.image(ref.Image, region)
	if err != nil {
		return nil, "", nil, nil, err
	}
	v, err := s.version(ps, img, ref.Version, region)
	if err != nil {
		return nil, "", nil, nil, err
	}
	return ps, region, v, img, nil
}

// ListSharedGalleries lists the galleries directly shared with the
// caller's subscription (or, with byTenant, with its tenant) that are
// offered in region, by unique name.
func (s *Service) ListSharedGalleries(ctx context.Context, c SharedCaller, region string, byTenant bool) ([]PublicGallery, error) {
	region, err := s.location(region)
	if err != nil {
		return nil, err
	}
	out := []PublicGallery{}
	f := galleon.ResourceFilter{Type: galleon.GalleryType, Limit: 1000}
	for {
		rs, next, err := s.Store.ListResources(ctx, f)
		if err != nil {
			return nil, err
		}
		for _, r := range rs {
			p, err := decodeGallery(r)
			if err != nil || !sharedWith(p, c, !byTenant, byTenant) || p.Identifier == nil || provisioningState(r) == galleon.ProvisioningDeleting {
				continue
			}
			ps := &publicSource{gallery: r, props: p, name: p.Identifier.UniqueName}
			if err := s.load(ctx, ps); err != nil {
				return nil, err
			}
			if ps.galleryIn(region) {
				out = append(out, ps.galleryView(region))
			}
		}
		if next == "" {
			break
		}
		f.After = next
	}
	sort.Slice(out, func(i, j int) bool { return strings.ToLower(out[i].Name) < strings.ToLower(out[j].Name) })
	return out, nil
}

// CommunityEntry is one community gallery in one region, with its
// definitions offered there and their latest versions (nil when none).
type CommunityEntry struct {
	Gallery PublicGallery
	Images  []CommunityImageEntry
}

// CommunityImageEntry is a community definition and its latest version.
type CommunityImageEntry struct {
	Image  PublicImage
	Latest *PublicVersion
}

// CommunityCatalog lists every community gallery in every region it is
// offered in (or only in region, when given), in public-name then region
// order: what the Resource Graph table communitygalleryresources holds.
func (s *Service) CommunityCatalog(ctx context.Context, region string) ([]CommunityEntry, error) {
	if region != "" {
		var err error
		if region, err = s.location(region); err != nil {
			return nil, err
		}
	}
	sources, err := s.communityGalleries(ctx)
	if err != nil {
		return nil, err
	}
	var out []CommunityEntry
	for _, ps := range sources {
		if err := s.load(ctx, ps); err != nil {
			return nil, err
		}
		regions := ps.regions()
		if region != "" {
			regions = []string{region}
		}
		for _, rg := range regions {
			if !ps.galleryIn(rg) {
				continue
			}
			e := CommunityEntry{Gallery: ps.galleryView(rg)}
			for _, img := range ps.images {
				if !ps.imageIn(img, rg) {
					continue
				}
				iv, err := ps.imageView(img, rg)
				if err != nil {
					return nil, err
				}
				ie := CommunityImageEntry{Image: iv}
				if v := s.latest(ps, img, rg); v != nil {
					vv, err := s.versionView(ps, img, v, rg)
					if err != nil {
						return nil, err
					}
					ie.Latest = &vv
				}
				e.Images = append(e.Images, ie)
			}
			out = append(out, e)
		}
	}
	return out, nil
}

// ParsePublicID parses a shared or community unique ID:
// "/SharedGalleries/{name}/Images/{image}[/Versions/{version}]" or
// "/CommunityGalleries/{name}/...". Without a version it means "latest".
func ParsePublicID(uniqueID string) (PublicRef, error) {
	segs := strings.FieldsFunc(uniqueID, func(r rune) bool { return r == '/' })
	bad := invalid("properties.storageProfile.source.communityGalleryImageId", "InvalidParameter",
		"'%s' is not a community or shared image ID: use /CommunityGalleries/{publicName}/Images/{image}/Versions/{version or latest}.", uniqueID)
	if len(segs) != 4 && len(segs) != 6 {
		return PublicRef{}, bad
	}
	ref := PublicRef{Gallery: segs[1], Version: "latest"}
	switch {
	case strings.EqualFold(segs[0], "CommunityGalleries"):
		ref.Community = true
	case strings.EqualFold(segs[0], "SharedGalleries"):
	default:
		return PublicRef{}, bad
	}
	if !strings.EqualFold(segs[2], "Images") {
		return PublicRef{}, bad
	}
	ref.Image = segs[3]
	if len(segs) == 6 {
		if !strings.EqualFold(segs[4], "Versions") {
			return PublicRef{}, bad
		}
		ref.Version = segs[5]
	}
	return ref, nil
}

// ResolvePublicVersion returns the private version behind a shared or
// community image ID, for a deployment or a new version in region. It
// refuses versions not usable in that region and those CheckUsable
// refuses, with errors that name only the public ID. For shared IDs, c is
// the deploying subscription and its tenant.
func (s *Service) ResolvePublicVersion(ctx context.Context, uniqueID, region string, c SharedCaller) (*galleon.Resource, error) {
	ref, err := ParsePublicID(uniqueID)
	if err != nil {
		return nil, err
	}
	ref.Region, ref.Caller = region, c
	_, _, v, _, err := s.publicVersion(ctx, ref)
	if err != nil {
		return nil, err
	}
	p, err := decodeVersion(v)
	if err != nil {
		return nil, err
	}
	if err := s.usable(p, uniqueID); err != nil {
		return nil, err
	}
	return v, nil
}
