package gallery

import (
	"context"
	"encoding/json"
	"strings"
	"unicode/utf8"

	"github.com/galleonhq/galleon"
)

var (
	galleryMutable  = map[string]bool{"description": true, "sharingProfile.permissions": true, "softDeletePolicy": true}
	galleryReadOnly = map[string]bool{"provisioningState": true, "identifier": true, "sharingProfile.groups": true,
		"sharingProfile.communityGalleryInfo": true, "sharingStatus": true}
)

func validateGalleryProperties(p *galleon.GalleryProperties) error {
	if utf8.RuneCountInString(p.Description) > 1000 {
		return invalid("properties.description", "InvalidParameter", "The description is longer than 1000 characters.")
	}
	if p.SharingProfile != nil {
		return normalizeSharingProfile(p.SharingProfile)
	}
	return nil
}

func decodeGallery(r *galleon.Resource) (*galleon.GalleryProperties, error) {
	var p galleon.GalleryProperties
	if err := json.Unmarshal(r.Properties, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// PutGallery creates a gallery or replaces the changeable parts of an
// existing one (description, sharing permissions, tags). It reports
// whether it created the gallery.
func (s *Service) PutGallery(ctx context.Context, id galleon.ResourceID, req *Request[galleon.GalleryProperties], principalID string) (*galleon.Resource, bool, error) {
	if err := ValidateGalleryName(id.Name()); err != nil {
		return nil, false, err
	}
	loc, err := s.location(req.Location)
	if err != nil {
		return nil, false, err
	}
	p := req.Properties
	if err := validateGalleryProperties(&p); err != nil {
		return nil, false, err
	}
	existing, err := s.Get(ctx, id)
	if err == nil {
		return s.updateGallery(ctx, existing, loc, req.Tags, &p)
	} else if galleon.ErrorCode(err) != galleon.ENotFound {
		return nil, false, err
	}
	if _, err := s.requireParent(ctx, id); err != nil {
		return nil, false, err
	}
	if err := s.checkQuota(ctx, id.SubscriptionID, galleon.GalleryType, loc, s.Limits.GalleriesPerRegion); err != nil {
		return nil, false, err
	}
	p.Identifier = &galleon.GalleryIdentifier{UniqueName: id.SubscriptionID + "-" + strings.ToUpper(id.Name())}
	p.ProvisioningState = galleon.ProvisioningSucceeded
	if p.SharingProfile, err = newSharingProfile(p.SharingProfile); err != nil {
		return nil, false, err
	}
	p.SharingStatus = nil
	props, _ := json.Marshal(p)
	r := &galleon.Resource{
		ID: id.String(), Type: galleon.GalleryType, Name: id.Name(), SubscriptionID: id.SubscriptionID,
		ResourceGroup: id.ResourceGroup, Location: loc, Tags: req.Tags, Properties: props, CreatedBy: principalID,
	}
	if err := s.check(ctx, r); err != nil {
		return nil, false, err
	}
	if err := s.Store.CreateResource(ctx, r); galleon.ErrorCode(err) == galleon.EConflict {
		return s.PutGallery(ctx, id, req, principalID) // created concurrently: update it
	} else if err != nil {
		return nil, false, err
	}
	return r, true, nil
}

func (s *Service) updateGallery(ctx context.Context, r *galleon.Resource, loc string, tags map[string]string, p *galleon.GalleryProperties) (*galleon.Resource, bool, error) {
	if provisioningState(r) == galleon.ProvisioningDeleting {
		return nil, false, galleon.ReasonErrorf(galleon.EConflict, "ResourceBeingDeleted", "The gallery '%s' is being deleted and cannot be changed.", r.Name)
	}
	if loc != r.Location {
		return nil, false, propertyChangeNotAllowed("gallery", "location")
	}
	old, err := decodeGallery(r)
	if err != nil {
		return nil, false, err
	}
	if path := changedProperty(old, p, galleryMutable, galleryReadOnly); path != "" {
		return nil, false, propertyChangeNotAllowed("gallery", path)
	}
	sp, err := updatedSharingProfile(old.SharingProfile, p.SharingProfile)
	if err != nil {
		return nil, false, err
	}
	next := *old
	next.Description = p.Description
	next.SharingProfile = sp
	if p.SoftDeletePolicy != nil {
		next.SoftDeletePolicy = p.SoftDeletePolicy
	}
	r.Properties, _ = json.Marshal(next)
	if tags != nil {
		r.Tags = tags
	}
	if err := s.check(ctx, r); err != nil {
		return nil, false, err
	}
	// Guard with the ETag read above, so a concurrent share or revocation
	// is never overwritten with the sharing profile this update started from.
	if err := s.Store.UpdateResource(ctx, r, r.ETag); galleon.ErrorCode(err) == galleon.EPreconditionFailed {
		return nil, false, galleon.ReasonErrorf(galleon.EConflict, "ConcurrentUpdate", "The gallery '%s' was changed by another request meanwhile; retry.", r.Name)
	} else if err != nil {
		return nil, false, err
	}
	return r, false, nil
}

// PatchGallery applies a PATCH: the fields given replace the stored ones,
// under the same rules as PutGallery.
func (s *Service) PatchGallery(ctx context.Context, id galleon.ResourceID, tags map[string]string, p *galleon.GalleryProperties) (*galleon.Resource, error) {
	r, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	old, err := decodeGallery(r)
	if err != nil {
		return nil, err
	}
	merged := *old
	if p != nil {
		if p.Description != "" {
			merged.Description = p.Description
		}
		if p.SharingProfile != nil {
			merged.SharingProfile = p.SharingProfile
		}
		if p.SoftDeletePolicy != nil {
			merged.SoftDeletePolicy = p.SoftDeletePolicy
		}
	}
	if err := validateGalleryProperties(&merged); err != nil {
		return nil, err
	}
	r, _, err = s.updateGallery(ctx, r, r.Location, tags, &merged)
	return r, err
}
