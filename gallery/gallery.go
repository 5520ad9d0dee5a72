package gallery

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/galleonhq/galleon"
)

// Limits are the per-subscription, per-region quotas of REQUIREMENTS L1.
type Limits struct {
	GalleriesPerRegion int `yaml:"galleriesPerRegion"`
	ImagesPerRegion    int `yaml:"imagesPerRegion"`
	VersionsPerRegion  int `yaml:"versionsPerRegion"`
	ReplicasPerVersion int `yaml:"replicasPerVersion"`
	// Sharing caps direct shares (zero fields take the defaults, 30 and 5).
	Sharing SharingLimits `yaml:"sharing"`
}

// DefaultLimits are Azure's.
func DefaultLimits() Limits {
	return Limits{GalleriesPerRegion: 100, ImagesPerRegion: 1000, VersionsPerRegion: 10000, ReplicasPerVersion: 10}
}

// Service applies the gallery rules over a store.
type Service struct {
	Store   galleon.Store
	Regions []galleon.Region
	Limits  Limits
	Now     func() time.Time
	// Check, when set, vets the final state of a gallery, image definition
	// or version before it is stored (organization policy); its error
	// refuses the write. The caller's principal is in ctx.
	Check func(ctx context.Context, r *galleon.Resource) error
	// ComputeDisks returns the stored disks of a managed disk, snapshot or
	// managed image by ID, and their region (version sources); nil when
	// those sources are not available.
	ComputeDisks func(ctx context.Context, id string) ([]galleon.StoredDisk, string, error)
	// NewID returns a new GUID (public names of community galleries, abuse
	// reports); nil uses crypto/rand.
	NewID func() string
}

// Request is the body of a PUT or PATCH of a gallery resource: location and
// tags of the envelope and the decoded properties.
type Request[P any] struct {
	Location   string
	Tags       map[string]string
	Properties P
}

func (s *Service) location(loc string) (string, error) {
	if r, ok := galleon.LookupRegion(s.Regions, loc); ok {
		return r.Name, nil
	}
	if loc == "" {
		return "", invalid("location", "LocationRequired", "The location is required. Give one of: %s.", galleon.RegionNames(s.Regions))
	}
	return "", invalid("location", "LocationNotAvailableForResourceType",
		"The location '%s' is not available. Available locations: %s.", loc, galleon.RegionNames(s.Regions))
}

func invalid(target, reason, format string, args ...any) error {
	return (&galleon.Error{Code: galleon.EInvalid, Reason: reason, Message: fmt.Sprintf(format, args...)}).WithTarget(target)
}

// notFound is ARM's error for a missing resource.
func notFound(id galleon.ResourceID) error {
	return galleon.ReasonErrorf(galleon.ENotFound, "ResourceNotFound",
		"The Resource '%s/%s' under resource group '%s' was not found.", id.Type(), strings.Join(id.Names, "/"), id.ResourceGroup)
}

// Get returns a gallery resource of the type id names.
func (s *Service) Get(ctx context.Context, id galleon.ResourceID) (*galleon.Resource, error) {
	r, err := s.Store.GetResource(ctx, id.String())
	if galleon.ErrorCode(err) == galleon.ENotFound || (err == nil && !strings.EqualFold(r.Type, id.Type())) {
		return nil, notFound(id)
	}
	return r, err
}

// requireParent loads the parent a new resource needs: the resource group
// for a gallery, the gallery for an image, the image for a version.
func (s *Service) requireParent(ctx context.Context, id galleon.ResourceID) (*galleon.Resource, error) {
	p := id.Parent()
	if len(p.Types) == 0 {
		r, err := s.Store.GetResource(ctx, p.String())
		if galleon.ErrorCode(err) == galleon.ENotFound {
			return nil, galleon.ReasonErrorf(galleon.ENotFound, "ResourceGroupNotFound", "Resource group '%s' could not be found.", p.ResourceGroup)
		}
		return r, err
	}
	r, err := s.Get(ctx, p)
	if err != nil {
		return nil, err
	}
	if state := provisioningState(r); state == galleon.ProvisioningDeleting {
		return nil, galleon.ReasonErrorf(galleon.EConflict, "ParentResourceBeingDeleted",
			"The %s '%s' is being deleted; nothing can be created in it.", friendly(r.Type), r.Name)
	}
	return r, nil
}

// countInRegion counts a subscription's resources of a type in a region.
func (s *Service) countInRegion(ctx context.Context, sub, typ, region string) (int, error) {
	n := 0
	f := galleon.ResourceFilter{SubscriptionID: sub, Type: typ, Limit: 1000}
	for {
		rs, next, err := s.Store.ListResources(ctx, f)
		if err != nil {
			return 0, err
		}
		for _, r := range rs {
			if r.Location == region {
				n++
			}
		}
		if next == "" {
			return n, nil
		}
		f.After = next
	}
}

func (s *Service) checkQuota(ctx context.Context, sub, typ, region string, limit int) error {
	if limit <= 0 {
		return nil
	}
	n, err := s.countInRegion(ctx, sub, typ, region)
	if err != nil {
		return err
	}
	if n >= limit {
		return galleon.ReasonErrorf(galleon.EConflict, "QuotaExceeded",
			"Subscription '%s' already has %d %s in region '%s', the limit. Delete some, use another region, or ask the operator to raise the limit.",
			sub, n, plural(typ), region)
	}
	return nil
}

func friendly(typ string) string {
	switch strings.ToLower(typ) {
	case strings.ToLower(galleon.GalleryType):
		return "gallery"
	case strings.ToLower(galleon.GalleryImageType):
		return "image definition"
	case strings.ToLower(galleon.GalleryImageVersionType):
		return "image version"
	}
	return typ
}

func plural(typ string) string {
	if f := friendly(typ); f == "gallery" {
		return "galleries"
	} else {
		return f + "s"
	}
}

func provisioningState(r *galleon.Resource) string {
	var p struct {
		ProvisioningState string `json:"provisioningState"`
	}
	_ = json.Unmarshal(r.Properties, &p)
	return p.ProvisioningState
}

// children lists up to n direct children of a resource.
func (s *Service) children(ctx context.Context, parent *galleon.Resource, childType string, n int) ([]string, error) {
	rs, _, err := s.Store.ListResources(ctx, galleon.ResourceFilter{Under: parent.ID, Type: childType, Limit: n})
	if err != nil {
		return nil, err
	}
	names := make([]string, len(rs))
	for i, r := range rs {
		names[i] = r.Name
	}
	return names, nil
}

// BeginDelete marks a resource Deleting after checking it has no children.
// The caller then runs FinishDelete in a job.
func (s *Service) BeginDelete(ctx context.Context, id galleon.ResourceID, childType string) (*galleon.Resource, error) {
	r, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := refuseDeletingCommunity(r); err != nil {
		return nil, err
	}
	if childType != "" {
		kids, err := s.children(ctx, r, childType, 5)
		if err != nil {
			return nil, err
		}
		if len(kids) > 0 {
			return nil, galleon.ReasonErrorf(galleon.EConflict, "NestedResourcesExist",
				"The %s '%s' cannot be deleted because it still holds %s (%s). Delete them first.",
				friendly(r.Type), r.Name, plural(childType), strings.Join(kids, ", "))
		}
	}
	if err := setProvisioningState(r, galleon.ProvisioningDeleting); err != nil {
		return nil, err
	}
	if err := s.Store.UpdateResource(ctx, r, ""); err != nil {
		return nil, err
	}
	return r, nil
}

// FinishDelete removes a resource, everything under it, its replicas and
// the role assignments on it. It is idempotent, so a job may run it again.
// Blocks the replicas held are left to garbage collection.
func (s *Service) FinishDelete(ctx context.Context, id string) error {
	reps, err := s.Store.ListReplicas(ctx, id)
	if err != nil {
		return err
	}
	for _, r := range reps {
		if err := s.Store.DeleteReplica(ctx, r.VersionID, r.Region, r.Index); err != nil && galleon.ErrorCode(err) != galleon.ENotFound {
			return err
		}
	}
	if _, err := s.Store.DeleteResourcesUnder(ctx, id); err != nil {
		return fmt.Errorf("delete resources under %s: %w", id, err)
	}
	if _, err := s.Store.DeleteRoleAssignmentsUnder(ctx, id); err != nil {
		return fmt.Errorf("delete role assignments under %s: %w", id, err)
	}
	if err := s.Store.DeleteResource(ctx, id); err != nil && galleon.ErrorCode(err) != galleon.ENotFound {
		return fmt.Errorf("delete %s: %w", id, err)
	}
	return nil
}

func setProvisioningState(r *galleon.Resource, state string) error {
	var m map[string]any
	if err := json.Unmarshal(r.Properties, &m); err != nil || m == nil {
		m = map[string]any{}
	}
	m["provisioningState"] = state
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	r.Properties = b
	return nil
}

// changedProperty compares the properties of a stored resource with those
// of a new request and returns the path ("properties.osType") of the first
// property that differs but may not change; "" if none. A property the
// request leaves out keeps its value. readOnly and mutable are property
// paths without the "properties." prefix.
func changedProperty(old, new any, mutable, readOnly map[string]bool) string {
	var o, n map[string]any
	ob, _ := json.Marshal(old)
	nb, _ := json.Marshal(new)
	_ = json.Unmarshal(ob, &o)
	_ = json.Unmarshal(nb, &n)
	return diffMaps("", o, n, mutable, readOnly)
}

func diffMaps(prefix string, o, n map[string]any, mutable, readOnly map[string]bool) string {
	keys := make([]string, 0, len(n))
	for k := range n {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		path := prefix + k
		if mutable[path] || readOnly[path] {
			continue
		}
		nv, ov := n[k], o[k]
		nm, nIsMap := nv.(map[string]any)
		om, oIsMap := ov.(map[string]any)
		if nIsMap && oIsMap {
			if p := diffMaps(path+".", om, nm, mutable, readOnly); p != "" {
				return p
			}
			continue
		}
		if !jsonEqual(nv, ov) {
			return "properties." + path
		}
	}
	return ""
}

func jsonEqual(a, b any) bool {
	ab, _ := json.Marshal(a)
	bb, _ := json.Marshal(b)
	return strings.EqualFold(string(ab), string(bb))
}

func propertyChangeNotAllowed(kind, path string) error {
	return (&galleon.Error{Code: galleon.EConflict, Reason: "PropertyChangeNotAllowed",
		Message: fmt.Sprintf("Changing property '%s' of the %s is not allowed. Create a new %s instead, or leave the property as it is.", path, kind, kind)}).WithTarget(path)
}

// Gallery names: a letter or digit first, then letters, digits, '_', '-'
// and '.', at most 80, not ending in '-' or '.' (GalleryRP's pattern).
var galleryNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$`)

// ValidateGalleryName checks a gallery name.
func ValidateGalleryName(name string) error {
	if !galleryNameRE.MatchString(name) || strings.HasSuffix(name, "-") || strings.HasSuffix(name, ".") {
		return invalid("galleryName", "InvalidGalleryName",
			"The gallery name '%s' is invalid: use 1 to 80 letters, digits, underscores, hyphens and periods, starting with a letter or digit and not ending with a hyphen or period.", name)
	}
	return nil
}

// Image definition names: letters and digits in runs joined by single
// '-', '.' or '_', at most 80.
var imageNameRE = regexp.MustCompile(`^[A-Za-z0-9]+([-._]?[A-Za-z0-9]+)*$`)

// ValidateImageName checks an image definition name.
func ValidateImageName(name string) error {
	if len(name) > 80 || !imageNameRE.MatchString(name) {
		return invalid("galleryImageName", "InvalidGalleryImageName",
			"The image definition name '%s' is invalid: use 1 to 80 letters and digits, optionally joined by single hyphens, periods or underscores, starting and ending with a letter or digit.", name)
	}
	return nil
}

// check vets a resource about to be stored: the community gallery rules
// (C7), then Check (organization policy), if any.
func (s *Service) check(ctx context.Context, r *galleon.Resource) error {
	if err := s.communityRules(ctx, r); err != nil {
		return err
	}
	if s.Check == nil {
		return nil
	}
	return s.Check(ctx, r)
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}
