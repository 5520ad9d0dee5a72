package gallery

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"time"
	"unicode"

	"github.com/galleonhq/galleon"
)

var (
	imageMutable  = map[string]bool{"description": true, "recommended": true, "endOfLifeDate": true}
	imageReadOnly = map[string]bool{"provisioningState": true}
)

// oneOf returns the canonical spelling of v among allowed (ignoring case),
// or an InvalidParameter error naming the field and the choices.
func oneOf(field, v string, allowed ...string) (string, error) {
	for _, a := range allowed {
		if strings.EqualFold(a, v) {
			return a, nil
		}
	}
	if v == "" {
		return "", invalid(field, "InvalidParameter", "'%s' is required: give one of %s.", field, strings.Join(allowed, ", "))
	}
	return "", invalid(field, "InvalidParameter", "'%s' is '%s'; it must be one of %s.", field, v, strings.Join(allowed, ", "))
}

func validIdentifierPart(field, v string, max int) error {
	if v == "" {
		return invalid(field, "InvalidParameter", "'%s' is required.", field)
	}
	if len(v) > max || strings.IndexFunc(v, unicode.IsSpace) >= 0 {
		return invalid(field, "InvalidParameter", "'%s' must be at most %d characters with no spaces, not '%s'.", field, max, v)
	}
	return nil
}

// validateImageProperties checks an image definition and fills defaults.
func validateImageProperties(p *galleon.GalleryImageProperties) error {
	var err error
	if p.OSType, err = oneOf("properties.osType", p.OSType, "Linux", "Windows"); err != nil {
		return err
	}
	if p.OSState, err = oneOf("properties.osState", p.OSState, "Generalized", "Specialized"); err != nil {
		return err
	}
	if p.HyperVGeneration == "" {
		p.HyperVGeneration = "V1"
	}
	if p.HyperVGeneration, err = oneOf("properties.hyperVGeneration", p.HyperVGeneration, "V1", "V2"); err != nil {
		return err
	}
	if p.Architecture == "" {
		p.Architecture = "x64"
	}
	if p.Architecture, err = oneOf("properties.architecture", p.Architecture, "x64", "Arm64"); err != nil {
		return err
	}
	if p.Identifier == nil {
		return invalid("properties.identifier", "InvalidParameter", "'properties.identifier' with publisher, offer and sku is required.")
	}
	for _, part := range []struct {
		field, v string
		max      int
	}{{"properties.identifier.publisher", p.Identifier.Publisher, 128}, {"properties.identifier.offer", p.Identifier.Offer, 64}, {"properties.identifier.sku", p.Identifier.SKU, 64}} {
		if err := validIdentifierPart(part.field, part.v, part.max); err != nil {
			return err
		}
	}
	if p.EndOfLifeDate != "" {
		t, err := ParseDate(p.EndOfLifeDate)
		if err != nil {
			return invalid("properties.endOfLifeDate", "InvalidParameter", "endOfLifeDate '%s' is not a date-time like 2030-12-31T00:00:00Z.", p.EndOfLifeDate)
		}
		p.EndOfLifeDate = t.Format(time.RFC3339)
	}
	for _, u := range []struct{ field, v string }{{"properties.privacyStatementUri", p.PrivacyStatementURI}, {"properties.releaseNoteUri", p.ReleaseNoteURI}} {
		if u.v == "" {
			continue
		}
		if x, err := url.Parse(u.v); err != nil || x.Scheme == "" || x.Host == "" {
			return invalid(u.field, "InvalidParameter", "'%s' must be an absolute URL, not '%s'.", u.field, u.v)
		}
	}
	if rc := p.Recommended; rc != nil {
		for _, r := range []struct {
			field string
			rng   *galleon.ResourceRange
		}{{"properties.recommended.vCPUs", rc.VCPUs}, {"properties.recommended.memory", rc.Memory}} {
			if r.rng == nil {
				continue
			}
			if (r.rng.Min != nil && *r.rng.Min < 0) || (r.rng.Max != nil && *r.rng.Max < 0) ||
				(r.rng.Min != nil && r.rng.Max != nil && *r.rng.Min > *r.rng.Max) {
				return invalid(r.field, "InvalidParameter", "'%s' must have 0 <= min <= max.", r.field)
			}
		}
	}
	for i, f := range p.Features {
		if f.Name == "" {
			return invalid("properties.features", "InvalidParameter", "properties.features[%d] has no name.", i)
		}
	}
	return nil
}

// ParseDate reads a date-time as ARM clients send it: RFC 3339, or a bare
// date (midnight UTC).
func ParseDate(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	return time.Parse("2006-01-02", s)
}

func decodeImage(r *galleon.Resource) (*galleon.GalleryImageProperties, error) {
	var p galleon.GalleryImageProperties
	if err := json.Unmarshal(r.Properties, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// checkIdentifierUnique enforces D1: publisher/offer/sku are unique in a
// gallery (sharing one or two of them is fine).
func (s *Service) checkIdentifierUnique(ctx context.Context, galleryID, self string, id *galleon.GalleryImageIdentifier) error {
	f := galleon.ResourceFilter{Under: galleryID, Type: galleon.GalleryImageType, Limit: 1000}
	for {
		rs, next, err := s.Store.ListResources(ctx, f)
		if err != nil {
			return err
		}
		for _, r := range rs {
			if strings.EqualFold(r.Name, self) {
				continue
			}
			p, err := decodeImage(r)
			if err != nil || p.Identifier == nil {
				continue
			}
			if strings.EqualFold(p.Identifier.Publisher, id.Publisher) && strings.EqualFold(p.Identifier.Offer, id.Offer) && strings.EqualFold(p.Identifier.SKU, id.SKU) {
				return (&galleon.Error{Code: galleon.EConflict, Reason: "GalleryImageIdentifierAlreadyExists",
					Message: "The image definition '" + r.Name + "' in this gallery already has publisher '" + id.Publisher + "', offer '" + id.Offer + "' and sku '" + id.SKU + "'. Change at least one of them."}).WithTarget("properties.identifier")
			}
		}
		if next == "" {
			return nil
		}
		f.After = next
	}
}

// PutImage creates an image definition or applies the changes U1 allows
// (description, recommended, endOfLifeDate, tags).
func (s *Service) PutImage(ctx context.Context, id galleon.ResourceID, req *Request[galleon.GalleryImageProperties], principalID string) (*galleon.Resource, bool, error) {
	if err := ValidateImageName(id.Name()); err != nil {
		return nil, false, err
	}
	loc, err := s.location(req.Location)
	if err != nil {
		return nil, false, err
	}
	p := req.Properties
	existing, err := s.Get(ctx, id)
	if err == nil {
		return s.updateImage(ctx, existing, loc, req.Tags, &p)
	} else if galleon.ErrorCode(err) != galleon.ENotFound {
		return nil, false, err
	}
	if err := validateImageProperties(&p); err != nil {
		return nil, false, err
	}
	if _, err := s.requireParent(ctx, id); err != nil {
		return nil, false, err
	}
	if err := s.checkIdentifierUnique(ctx, id.Parent().String(), id.Name(), p.Identifier); err != nil {
		return nil, false, err
	}
	if err := s.checkQuota(ctx, id.SubscriptionID, galleon.GalleryImageType, loc, s.Limits.ImagesPerRegion); err != nil {
		return nil, false, err
	}
	p.ProvisioningState = galleon.ProvisioningSucceeded
	props, _ := json.Marshal(p)
	r := &galleon.Resource{
		ID: id.String(), Type: galleon.GalleryImageType, Name: id.Name(), SubscriptionID: id.SubscriptionID,
		ResourceGroup: id.ResourceGroup, Location: loc, Tags: req.Tags, Properties: props, CreatedBy: principalID,
	}
	if err := s.check(ctx, r); err != nil {
		return nil, false, err
	}
	if err := s.Store.CreateResource(ctx, r); galleon.ErrorCode(err) == galleon.EConflict {
		return s.PutImage(ctx, id, req, principalID)
	} else if err != nil {
		return nil, false, err
	}
	return r, true, nil
}

func (s *Service) updateImage(ctx context.Context, r *galleon.Resource, loc string, tags map[string]string, p *galleon.GalleryImageProperties) (*galleon.Resource, bool, error) {
	if provisioningState(r) == galleon.ProvisioningDeleting {
		return nil, false, galleon.ReasonErrorf(galleon.EConflict, "ResourceBeingDeleted", "The image definition '%s' is being deleted and cannot be changed.", r.Name)
	}
	if loc != r.Location {
		return nil, false, propertyChangeNotAllowed("image definition", "location")
	}
	old, err := decodeImage(r)
	if err != nil {
		return nil, false, err
	}
	// Compare in canonical form: case of enums and the date format.
	canon := *p
	fillFrom(&canon, old)
	if err := validateImageProperties(&canon); err != nil {
		return nil, false, err
	}
	if path := changedProperty(old, &canon, imageMutable, imageReadOnly); path != "" {
		return nil, false, propertyChangeNotAllowed("image definition", path)
	}
	next := *old
	next.Description, next.Recommended, next.EndOfLifeDate = canon.Description, canon.Recommended, canon.EndOfLifeDate
	r.Properties, _ = json.Marshal(next)
	if tags != nil {
		r.Tags = tags
	}
	if err := s.check(ctx, r); err != nil {
		return nil, false, err
	}
	if err := s.Store.UpdateResource(ctx, r, ""); err != nil {
		return nil, false, err
	}
	return r, false, nil
}

// fillFrom fills the required fields a request left out from the stored
// definition, so that a PUT or PATCH naming only what changes validates.
func fillFrom(p, old *galleon.GalleryImageProperties) {
	if p.OSType == "" {
		p.OSType = old.OSType
	}
	if p.OSState == "" {
		p.OSState = old.OSState
	}
	if p.Identifier == nil {
		p.Identifier = old.Identifier
	}
	if p.HyperVGeneration == "" {
		p.HyperVGeneration = old.HyperVGeneration
	}
	if p.Architecture == "" {
		p.Architecture = old.Architecture
	}
}

// PatchImage applies a PATCH of an image definition.
func (s *Service) PatchImage(ctx context.Context, id galleon.ResourceID, tags map[string]string, p *galleon.GalleryImageProperties) (*galleon.Resource, error) {
	r, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	old, err := decodeImage(r)
	if err != nil {
		return nil, err
	}
	merged := *old
	if p != nil {
		merged = *p
		if merged.Description == "" {
			merged.Description = old.Description
		}
		if merged.Recommended == nil {
			merged.Recommended = old.Recommended
		}
		if merged.EndOfLifeDate == "" {
			merged.EndOfLifeDate = old.EndOfLifeDate
		}
	}
	r, _, err = s.updateImage(ctx, r, r.Location, tags, &merged)
	return r, err
}
