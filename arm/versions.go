package arm

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/galleonhq/galleon"
	"github.com/galleonhq/galleon/gallery"
	"github.com/galleonhq/galleon/replication"
)

func versionID(c *call) galleon.ResourceID {
	id := galleryID(c)
	id.Types = append(id.Types, "versions")
	id.Names = append(id.Names, c.v("version"))
	return id
}

const versionAction = "Microsoft.Compute/galleries/images/versions"

// versionJSON serves a version, with its replication status when asked
// for ($expand=ReplicationStatus).
func (s *Server) versionJSON(c *call, r *galleon.Resource) (map[string]any, error) {
	out := trackedJSON(r)
	if strings.EqualFold(c.r.URL.Query().Get("$expand"), "ReplicationStatus") {
		var props map[string]any
		_ = decodeJSON(r.Properties, &props)
		st, err := s.Gallery.ReplicationStatus(c.ctx, r.ID)
		if err != nil {
			return nil, err
		}
		props["replicationStatus"] = st
		out["properties"] = props
	}
	return out, nil
}

func (s *Server) putVersion(c *call) error {
	id := versionID(c)
	if err := s.authorize(c, versionAction+"/write", id.String()); err != nil {
		return err
	}
	body, err := decodeEnvelope[galleon.GalleryImageVersionProperties](s, c)
	if err != nil {
		return err
	}
	req := body.request()
	var sources []gallery.DiskSource
	if _, err := s.Gallery.Get(c.ctx, id); galleon.ErrorCode(err) == galleon.ENotFound {
		if _, err := s.Gallery.Get(c.ctx, id.Parent()); err != nil {
			return err
		}
		// The caller must be able to read the source (another gallery,
		// subscription or tenant is fine when it may).
		for _, src := range sourceIDs(req.Properties.StorageProfile) {
			if err := s.authorizeSource(c, src); err != nil {
				return err
			}
		}
		loc, err := s.normalizeLocation(req.Location, "location")
		if err != nil {
			return err
		}
		if sources, err = s.Gallery.ResolveVersionSource(c.ctx, &req.Properties, loc); err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	r, created, added, err := s.Gallery.PutVersion(c.ctx, id, req, c.p.ObjectID, sources)
	if err != nil {
		return err
	}
	if !created {
		if err := s.queueRegions(c, r.ID, added); err != nil {
			return err
		}
		writeJSON(c.w, http.StatusOK, trackedJSON(r))
		return nil
	}
	op := &galleon.Operation{ID: uuid.NewString(), SubscriptionID: c.sub.ID, ResourceID: r.ID, Kind: versionAction + "/write",
		Status: galleon.OperationInProgress, PrincipalID: c.p.ObjectID, StartTime: s.now()}
	if err := s.Store.CreateOperation(c.ctx, op); err != nil {
		return err
	}
	if err := s.Gallery.SetVersionState(c.ctx, r.ID, galleon.ProvisioningCreating, &galleon.VersionDisks{Operation: op.ID}); err != nil {
		return err
	}
	payload, _ := jsonMarshal(replication.IngestPayload{VersionID: r.ID, Sources: sources})
	if err := s.Store.EnqueueJob(c.ctx, &galleon.Job{Kind: replication.JobIngest, Payload: payload, MaxAttempts: 8}); err != nil {
		return err
	}
	s.notify()
	status, _ := s.operationURLs(op, c.apiVersion)
	c.w.Header().Set("Azure-AsyncOperation", status)
	c.w.Header().Set("Retry-After", strconv.Itoa(int(s.retryAfter().Seconds())))
	writeJSON(c.w, http.StatusCreated, trackedJSON(r))
	return nil
}

func (s *Server) queueRegions(c *call, versionID string, added []gallery.ReplicaSpec) error {
	if len(added) == 0 {
		return nil
	}
	var regions []string
	for _, a := range added {
		regions = append(regions, a.Region)
	}
	return s.Replication.QueueReplication(c.ctx, versionID, regions)
}

func (s *Server) patchVersion(c *call) error {
	id := versionID(c)
	if err := s.authorize(c, versionAction+"/write", id.String()); err != nil {
		return err
	}
	body, err := decodeEnvelope[galleon.GalleryImageVersionProperties](s, c)
	if err != nil {
		return err
	}
	r, added, err := s.Gallery.PatchVersion(c.ctx, id, body.Tags, body.Properties)
	if err != nil {
		return err
	}
	if err := s.queueRegions(c, r.ID, added); err != nil {
		return err
	}
	writeJSON(c.w, http.StatusOK, trackedJSON(r))
	return nil
}

func (s *Server) getVersion(c *call) error {
	id := versionID(c)
	if err := s.authorize(c, versionAction+"/read", id.String()); err != nil {
		return err
	}
	// "latest" resolves in ?region= (default: the definition's location).
	r, err := s.resolveVersion(c, c.r.URL.Query().Get("region"))
	if err != nil {
		return err
	}
	out, err := s.versionJSON(c, r)
	if err != nil {
		return err
	}
	writeJSON(c.w, http.StatusOK, out)
	return nil
}

func (s *Server) listVersions(c *call) error {
	img := galleryID(c)
	if err := s.authorize(c, "Microsoft.Compute/galleries/images/read", img.String()); err != nil {
		return err
	}
	if _, err := s.Gallery.Get(c.ctx, img); err != nil {
		return err
	}
	return s.listPage(c, galleon.ResourceFilter{Under: img.String(), Type: galleon.GalleryImageVersionType}, "",
		func(r *galleon.Resource) (any, bool) { return trackedJSON(r), true })
}

func (s *Server) deleteVersion(c *call) error {
	id := versionID(c)
	if err := s.authorize(c, versionAction+"/delete", id.String()); err != nil {
		return err
	}
	r, err := s.Gallery.BeginDelete(c.ctx, id, "")
	if galleon.ErrorCode(err) == galleon.ENotFound {
		c.w.WriteHeader(http.StatusNoContent)
		return nil
	} else if err != nil {
		return err
	}
	op, err := s.startOperation(c, versionAction+"/delete", r.ID, jobDeleteGalleryResource, deleteRGPayload{ID: r.ID})
	if err != nil {
		return err
	}
	s.notify()
	s.acceptOperation(c, op)
	return nil
}

// sourceIDs lists every resource a version's storage profile copies from.
func sourceIDs(sp *galleon.VersionStorageProfile) []string {
	if sp == nil {
		return nil
	}
	var out []string
	if sp.Source != nil && sp.Source.ID != "" {
		out = append(out, sp.Source.ID)
	}
	add := func(src *galleon.DiskImageSource) {
		if src == nil {
			return
		}
		for _, id := range []string{src.ID, src.StorageAccountID} {
			if id != "" {
				out = append(out, id)
			}
		}
	}
	if sp.OSDiskImage != nil {
		add(sp.OSDiskImage.Source)
	}
	for _, d := range sp.DataDiskImages {
		add(d.Source)
	}
	return out
}
