package gallery

import (
	"context"
	"encoding/json"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/galleonhq/galleon"
)

// Abuse reports (REQUIREMENTS C8): any signed-in user reports a community
// definition (bad links or information) or version (malicious code,
// vulnerabilities, IP infringement). Reports are kept under the gallery
// they concern, where its publisher lists them; who reported stays hidden
// from the publisher. An installation operator can flag a version, which
// sets safetyProfile.reportedForPolicyViolation and blocks new uses of it.

// AbuseReportType is the resource type of abuse reports, stored under the
// gallery they concern.
const AbuseReportType = "Microsoft.Compute/galleries/abuseReports"

// Policy violation categories (the API's PolicyViolationCategory).
const (
	ViolationImageFlaggedUnsafe  = "ImageFlaggedUnsafe"
	ViolationCopyrightValidation = "CopyrightValidation"
	ViolationIPTheft             = "IpTheft"
	ViolationOther               = "Other"
)

// AbuseReport is a report about a community definition or version, as its
// publisher sees it.
type AbuseReport struct {
	Category          string `json:"category"`
	Details           string `json:"details"`
	PublicGalleryName string `json:"publicGalleryName"`
	ImageName         string `json:"imageName"`
	VersionName       string `json:"versionName,omitempty"`
	// Target is the public ID of what was reported.
	Target     string `json:"target"`
	Location   string `json:"location"`
	ReportedAt string `json:"reportedAt"`
}

// reporter is the hidden part of a report: who filed it.
type reporter struct {
	PrincipalID string `json:"principalId"`
	TenantID    string `json:"tenantId"`
}

// checkViolation validates a category and details and canonicalizes the
// category.
func checkViolation(v *galleon.PolicyViolation) error {
	var err error
	if v.Category, err = oneOf("category", v.Category, ViolationImageFlaggedUnsafe, ViolationCopyrightValidation, ViolationIPTheft, ViolationOther); err != nil {
		return err
	}
	v.Details = strings.TrimSpace(v.Details)
	if v.Details == "" {
		return invalid("details", "InvalidParameter", "'details' is required: say what is wrong (which link, which file, which right is infringed).")
	}
	if utf8.RuneCountInString(v.Details) > 2000 {
		return invalid("details", "InvalidParameter", "'details' is longer than 2000 characters.")
	}
	return nil
}

// ReportAbuse files a report about a community definition (ref.Version
// "") or version ("latest" names the latest in ref.Region) on behalf of
// p. Returns the report's name (a GUID) and its public form. NotFound when
// the community gallery, definition or version is not offered in the
// region.
func (s *Service) ReportAbuse(ctx context.Context, ref PublicRef, v galleon.PolicyViolation, p *galleon.Principal) (string, *AbuseReport, error) {
	if !ref.Community {
		return "", nil, invalid("publicGalleryName", "InvalidParameter", "Only community galleries take abuse reports.")
	}
	if err := checkViolation(&v); err != nil {
		return "", nil, err
	}
	ps, region, err := s.source(ctx, ref)
	if err != nil {
		return "", nil, err
	}
	img, err := ps.image(ref.Image, region)
	if err != nil {
		return "", nil, err
	}
	rep := &AbuseReport{Category: v.Category, Details: v.Details, PublicGalleryName: ps.name, ImageName: img.Name,
		Target: ps.uniqueID() + "/Images/" + img.Name, Location: region, ReportedAt: s.now().Format("2006-01-02T15:04:05.9999999Z07:00")}
	if ref.Version != "" {
		ver, err := s.version(ps, img, ref.Version, region)
		if err != nil {
			return "", nil, err
		}
		rep.VersionName = ver.Name
		rep.Target += "/Versions/" + ver.Name
	}
	name := s.newID()
	props, _ := json.Marshal(rep)
	who := reporter{}
	if p != nil {
		who = reporter{PrincipalID: p.ObjectID, TenantID: p.TenantID}
	}
	internal, _ := json.Marshal(who)
	r := &galleon.Resource{ID: ps.gallery.ID + "/abuseReports/" + name, Type: AbuseReportType, Name: name,
		SubscriptionID: ps.gallery.SubscriptionID, ResourceGroup: ps.gallery.ResourceGroup, Location: ps.gallery.Location,
		Properties: props, Internal: internal, CreatedBy: who.PrincipalID}
	if err := s.Store.CreateResource(ctx, r); err != nil {
		return "", nil, err
	}
	return name, rep, nil
}

// ListAbuseReports lists the reports filed about a gallery's community
// resources, oldest first.
func (s *Service) ListAbuseReports(ctx context.Context, galleryID galleon.ResourceID) ([]*galleon.Resource, error) {
	g, err := s.Get(ctx, galleryID)
	if err != nil {
		return nil, err
	}
	var out []*galleon.Resource
	f := galleon.ResourceFilter{Under: g.ID, Type: AbuseReportType, Limit: 1000}
	for {
		rs, next, err := s.Store.ListResources(ctx, f)
		if err != nil {
			return nil, err
		}
		out = append(out, rs...)
		if next == "" {
			break
		}
		f.After = next
	}
	// Names are random GUIDs; order by when they were filed.
	sort.SliceStable(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out, nil
}

// MarkUnsafe records a policy violation on a version: its safetyProfile
// shows reportedForPolicyViolation and the violation, and CheckUsable
// refuses it from then on. With v nil it lifts every violation. Only an
// installation operator may call it; the caller checks. It is not subject
// to organization policy (Check): the platform, not the publisher, acts.
func (s *Service) MarkUnsafe(ctx context.Context, id galleon.ResourceID, v *galleon.PolicyViolation) (*galleon.Resource, error) {
	if v != nil {
		if err := checkViolation(v); err != nil {
			return nil, err
		}
	}
	for attempt := 0; ; attempt++ {
		r, err := s.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		p, err := decodeVersion(r)
		if err != nil {
			return nil, err
		}
		sp := galleon.VersionSafetyProfile{}
		if p.SafetyProfile != nil {
			sp = *p.SafetyProfile
		}
		if v == nil {
			sp.ReportedForPolicyViolation, sp.PolicyViolations = false, nil
		} else {
			sp.ReportedForPolicyViolation = true
			sp.PolicyViolations = append(append([]galleon.PolicyViolation(nil), sp.PolicyViolations...), *v)
		}
		p.SafetyProfile = &sp
		r.Properties, _ = json.Marshal(p)
		err = s.Store.UpdateResource(ctx, r, r.ETag)
		if galleon.ErrorCode(err) == galleon.EPreconditionFailed && attempt < 5 {
			continue
		}
		if err != nil {
			return nil, err
		}
		return r, nil
	}
}

// CommunityVersionID returns the private ID of the version a community
// reference names, for an installation operator acting on it.
func (s *Service) CommunityVersionID(ctx context.Context, ref PublicRef) (galleon.ResourceID, error) {
	_, _, v, _, err := s.publicVersion(ctx, ref)
	if err != nil {
		return galleon.ResourceID{}, err
	}
	return galleon.ParseResourceID(v.ID)
}

// flaggedError refuses a version an operator flagged.
func flaggedError(p *galleon.GalleryImageVersionProperties, name string) error {
	sp := p.SafetyProfile
	if sp == nil || !sp.ReportedForPolicyViolation {
		return nil
	}
	var cats []string
	for _, v := range sp.PolicyViolations {
		if !containsFold(cats, v.Category) {
			cats = append(cats, v.Category)
		}
	}
	return galleon.ReasonErrorf(galleon.EConflict, "ImageVersionReportedForPolicyViolation",
		"The image version '%s' was flagged for a policy violation (%s) and is blocked for new deployments and new versions. Use another version; its publisher can ask the operator of this installation to review it.",
		name, strings.Join(cats, ", "))
}

// communitySourceDisks resolves storageProfile.source.communityGalleryImageId
// for a new version in region: the community version must still be public
// and usable there.
func (s *Service) communitySourceDisks(ctx context.Context, uniqueID, region string) ([]DiskSource, error) {
	const field = "properties.storageProfile.source.communityGalleryImageId"
	ref, err := ParsePublicID(uniqueID)
	if err != nil {
		return nil, err
	}
	if !ref.Community {
		return nil, invalid(field, "InvalidParameter", "communityGalleryImageId must be a community image ID (/CommunityGalleries/{publicName}/Images/{image}/Versions/{version}), not '%s'.", uniqueID)
	}
	v, err := s.ResolvePublicVersion(ctx, uniqueID, region, SharedCaller{})
	if err != nil {
		if e := galleon.AsError(err); e != nil {
			return nil, e.WithTarget(field)
		}
		return nil, err
	}
	out, err := s.versionDiskSources(ctx, v, region)
	if galleon.AsError(err) != nil {
		// Its message names the private version: say it with the public ID.
		return nil, galleon.ReasonErrorf(galleon.EConflict, "ImageVersionNotReplicated",
			"The community image version '%s' has no completed replica in region '%s' yet; retry later or use another region.", uniqueID, region).WithTarget(field)
	}
	return out, err
}
