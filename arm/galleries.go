package arm

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/galleonhq/galleon"
	"github.com/galleonhq/galleon/gallery"
)

// trackedJSON is the ARM envelope of a tracked resource.
func trackedJSON(r *galleon.Resource) map[string]any {
	tags := r.Tags
	if tags == nil {
		tags = map[string]string{}
	}
	return map[string]any{
		"id": r.ID, "name": r.Name, "type": r.Type, "location": r.Location, "tags": tags,
		"properties": json.RawMessage(r.Properties),
	}
}

// galleryID builds the ID a gallery route names.
func galleryID(c *call) galleon.ResourceID {
	id := galleon.ResourceID{SubscriptionID: c.sub.ID, ResourceGroup: c.v("rg"), Namespace: "Microsoft.Compute",
		Types: []string{"galleries"}, Names: []string{c.v("gallery")}}
	if img := c.v("image"); img != "" {
		id.Types = append(id.Types, "images")
		id.Names = append(id.Names, img)
	}
	return id
}

// galleryScopeID is galleryID plus the version, when the route names one.
func galleryScopeID(c *call) galleon.ResourceID {
	id := galleryID(c)
	if v := c.v("version"); v != "" {
		id.Types = append(id.Types, "versions")
		id.Names = append(id.Names, v)
	}
	return id
}

// envelope is the body of a PUT or PATCH of a tracked resource.
type envelope[P any] struct {
	Location   *string           `json:"location"`
	Tags       map[string]string `json:"tags"`
	Properties *P                `json:"properties"`
}

func decodeEnvelope[P any](s *Server, c *call) (*envelope[P], error) {
	var body envelope[P]
	if err := s.decodeBody(c, &body); err != nil {
		return nil, err
	}
	if err := validateTags(body.Tags); err != nil {
		return nil, err
	}
	return &body, nil
}

func (e *envelope[P]) request() *gallery.Request[P] {
	req := &gallery.Request[P]{Tags: e.Tags}
	if e.Location != nil {
		req.Location = *e.Location
	}
	if e.Properties != nil {
		req.Properties = *e.Properties
	}
	return req
}

func writePut(c *call, r *galleon.Resource, created bool) {
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(c.w, status, trackedJSON(r))
}

// writeGalleryResource serves a PUT (patch false) or PATCH of a gallery or
// image definition: authorize the write, decode the envelope of properties
// P, hand it to the gallery rules, answer with the stored resource.
func writeGalleryResource[P any](s *Server, c *call, patch bool,
	put func(context.Context, galleon.ResourceID, *gallery.Request[P], string) (*galleon.Resource, bool, error),
	update func(context.Context, galleon.ResourceID, map[string]string, *P) (*galleon.Resource, error)) error {
	id := galleryID(c)
	if err := s.authorize(c, id.Type()+"/write", id.String()); err != nil {
		return err
	}
	body, err := decodeEnvelope[P](s, c)
	if err != nil {
		return err
	}
	if patch {
		r, err := update(c.ctx, id, body.Tags, body.Properties)
		if err != nil {
			return err
		}
		writeJSON(c.w, http.StatusOK, trackedJSON(r))
		return nil
	}
	r, created, err := put(c.ctx, id, body.request(), c.p.ObjectID)
	if err != nil {
		return err
	}
	writePut(c, r, created)
	return nil
}

func (s *Server) putGallery(c *call) error {
	return writeGalleryResource(s, c, false, s.Gallery.PutGallery, s.Gallery.PatchGallery)
}

func (s *Server) patchGallery(c *call) error {
	return writeGalleryResource(s, c, true, s.Gallery.PutGallery, s.Gallery.PatchGallery)
}

func (s *Server) putImage(c *call) error {
	return writeGalleryResource(s, c, false, s.Gallery.PutImage, s.Gallery.PatchImage)
}

func (s *Server) patchImage(c *call) error {
	return writeGalleryResource(s, c, true, s.Gallery.PutImage, s.Gallery.PatchImage)
}

// getGalleryResource serves GET of a gallery or an image definition.
func (s *Server) getGalleryResource(c *call) error {
	id := galleryID(c)
	if err := s.authorize(c, id.Type()+"/read", id.String()); err != nil {
		return err
	}
	r, err := s.Gallery.Get(c.ctx, id)
	if err != nil {
		return err
	}
	writeJSON(c.w, http.StatusOK, s.galleryView(c, r))
	return nil
}

// listGalleryResources lists galleries (of a subscription or resource
// group) or the image definitions of a gallery.
func (s *Server) listGalleryResources(c *call) error {
	f := galleon.ResourceFilter{SubscriptionID: c.sub.ID, Type: galleon.GalleryType, ResourceGroup: c.v("rg")}
	if c.v("gallery") != "" {
		gid := galleryID(c)
		if err := s.authorize(c, "Microsoft.Compute/galleries/read", gid.String()); err != nil {
			return err
		}
		if _, err := s.Gallery.Get(c.ctx, gid); err != nil {
			return err
		}
		f = galleon.ResourceFilter{Under: gid.String(), Type: galleon.GalleryImageType}
	} else if rg := c.v("rg"); rg != "" {
		if _, err := s.loadResourceGroup(c.ctx, c.sub.ID, rg); err != nil {
			return err
		}
	}
	return s.listPage(c, f, "", func(r *galleon.Resource) (any, bool) { return s.galleryView(c, r), true })
}

// deleteGalleryResource deletes a gallery or image definition as a
// long-running operation; parents with children are refused.
func (s *Server) deleteGalleryResource(c *call) error {
	id := galleryID(c)
	if err := s.authorize(c, id.Type()+"/delete", id.String()); err != nil {
		return err
	}
	child := galleon.GalleryImageType
	if len(id.Types) == 2 {
		child = galleon.GalleryImageVersionType
	}
	r, err := s.Gallery.BeginDelete(c.ctx, id, child)
	if galleon.ErrorCode(err) == galleon.ENotFound {
		c.w.WriteHeader(http.StatusNoContent)
		return nil
	} else if err != nil {
		return err
	}
	op, err := s.startOperation(c, id.Type()+"/delete", r.ID, jobDeleteGalleryResource, deleteRGPayload{ID: r.ID})
	if err != nil {
		return err
	}
	s.notify()
	s.acceptOperation(c, op)
	return nil
}

const jobDeleteGalleryResource = "gallery.delete"

func (s *Server) runDeleteGalleryResource(ctx context.Context, j *galleon.Job) error {
	var p deleteRGPayload
	if err := json.Unmarshal(j.Payload, &p); err != nil {
		return fmt.Errorf("decode payload: %w", err)
	}
	return s.Gallery.FinishDelete(ctx, p.ID)
}

// listSoftDeleted lists soft-deleted versions of an artifact. Galleon does
// not soft-delete (deletes are final), so the list is always empty, but the
// gallery and the artifact type are checked.
func (s *Server) listSoftDeleted(c *call) error {
	gid := galleryID(c)
	if err := s.authorize(c, "Microsoft.Compute/galleries/read", gid.String()); err != nil {
		return err
	}
	if _, err := s.Gallery.Get(c.ctx, gid); err != nil {
		return err
	}
	if !strings.EqualFold(c.v("artifactType"), "Images") {
		return (&galleon.Error{Code: galleon.EInvalid, Reason: "InvalidParameter",
			Message: "artifactType must be 'Images'."}).WithTarget("artifactType")
	}
	writeJSON(c.w, http.StatusOK, page{Value: []any{}})
	return nil
}
