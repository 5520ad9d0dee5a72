package arm

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/galleonhq/galleon"
	"github.com/galleonhq/galleon/compute"
)

var (
	diskVersions = []string{"2019-07-01", "2020-05-01", "2020-06-30", "2020-09-30", "2020-12-01", "2021-04-01", "2021-08-01",
		"2021-12-01", "2022-03-02", "2022-07-02", "2023-01-02", "2023-04-02", "2023-10-02", "2024-03-02", "2025-01-02", "2026-03-02"}
	computeVersions = []string{"2017-03-30", "2017-12-01", "2018-04-01", "2018-06-01", "2018-10-01", "2019-03-01", "2019-07-01",
		"2019-12-01", "2020-06-01", "2020-12-01", "2021-03-01", "2021-04-01", "2021-07-01", "2021-11-01", "2022-03-01", "2022-08-01",
		"2022-11-01", "2023-03-01", "2023-07-01", "2023-09-01", "2024-03-01", "2024-07-01", "2024-11-01", "2025-04-01", "2025-11-01", "2026-04-01"}
)

// computeKinds maps the route's resource kind to its type and action prefix.
var computeKinds = map[string]string{"disks": compute.DiskType, "snapshots": compute.SnapshotType, "images": compute.ImageType}

func computeID(c *call, kind string) galleon.ResourceID {
	return galleon.ResourceID{SubscriptionID: c.sub.ID, ResourceGroup: c.v("rg"), Namespace: "Microsoft.Compute",
		Types: []string{kind}, Names: []string{c.v("name")}}
}

func computeJSON(r *galleon.Resource) map[string]any {
	out := trackedJSON(r)
	if sku := compute.SKUOf(r); sku != "" {
		out["sku"] = map[string]string{"name": sku, "tier": "Standard"}
	}
	return out
}

type computeBody struct {
	Location   *string           `json:"location"`
	Tags       map[string]string `json:"tags"`
	SKU        *compute.SKU      `json:"sku"`
	Properties json.RawMessage   `json:"properties"`
}

func (s *Server) computeRoutes() []route {
	var out []route
	for kind, typ := range computeKinds {
		vs := computeVersions
		if kind != "images" {
			vs = diskVersions
		}
		base := "subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Compute/" + kind
		out = append(out,
			route{method: "GET", pattern: seg("subscriptions/{sub}/providers/Microsoft.Compute/" + kind), typ: typ, versions: vs, handle: listCompute(kind)},
			route{method: "GET", pattern: seg(base), typ: typ, versions: vs, handle: listCompute(kind)},
			route{method: "PUT", pattern: seg(base + "/{name}"), typ: typ, versions: vs, handle: putCompute(kind)},
			route{method: "GET", pattern: seg(base + "/{name}"), typ: typ, versions: vs, handle: getCompute(kind)},
			route{method: "DELETE", pattern: seg(base + "/{name}"), typ: typ, versions: vs, handle: deleteCompute(kind)},
		)
		if kind == "disks" {
			out = append(out,
				route{method: "POST", pattern: seg(base + "/{name}/beginGetAccess"), typ: typ, versions: vs, handle: (*Server).beginGetAccess},
				route{method: "POST", pattern: seg(base + "/{name}/endGetAccess"), typ: typ, versions: vs, handle: (*Server).endGetAccess})
		}
	}
	return out
}

func putCompute(kind string) func(*Server, *call) error {
	return func(s *Server, c *call) error {
		id := computeID(c, kind)
		if err := s.authorize(c, id.Type()+"/write", id.String()); err != nil {
			return err
		}
		var body computeBody
		if err := s.decodeBody(c, &body); err != nil {
			return err
		}
		if err := validateTags(body.Tags); err != nil {
			return err
		}
		req := &compute.Request{Tags: body.Tags, SKU: body.SKU, Properties: body.Properties}
		if body.Location != nil {
			req.Location = *body.Location
		}
		put := map[string]func(context.Context, galleon.ResourceID, *compute.Request, string) (*galleon.Resource, bool, error){
			"disks": s.Compute.PutDisk, "snapshots": s.Compute.PutSnapshot, "images": s.Compute.PutImage,
		}[kind]
		// Sources are read with the caller's rights.
		var probe struct {
			CreationData *compute.CreationData `json:"creationData"`
		}
		_ = json.Unmarshal(body.Properties, &probe)
		if probe.CreationData != nil && probe.CreationData.SourceResourceID != "" {
			if err := s.authorizeSource(c, probe.CreationData.SourceResourceID); err != nil {
				return err
			}
		}
		r, _, err := put(c.ctx, id, req, c.p.ObjectID)
		if err != nil {
			return err
		}
		// Disks and snapshots answer 200 or 202 (never 201) to a PUT, and
		// the SDK refuses anything else; images take 200 too.
		writeJSON(c.w, http.StatusOK, computeJSON(r))
		return nil
	}
}

// authorizeSource checks the caller may read a resource it copies from, a
// linked scope: in another tenant, with that tenant's auxiliary token.
func (s *Server) authorizeSource(c *call, id string) error {
	rid, err := galleon.ParseResourceID(id)
	if err != nil {
		return (&galleon.Error{Code: galleon.EInvalid, Reason: "InvalidParameter", Message: galleon.ErrorMessage(err)}).WithTarget("sourceResourceId")
	}
	return s.authorizeLinked(c, rid.Type()+"/read", rid.String())
}

func getCompute(kind string) func(*Server, *call) error {
	return func(s *Server, c *call) error {
		id := computeID(c, kind)
		if err := s.authorize(c, id.Type()+"/read", id.String()); err != nil {
			return err
		}
		r, err := s.Compute.Get(c.ctx, id)
		if err != nil {
			return err
		}
		writeJSON(c.w, http.StatusOK, computeJSON(r))
		return nil
	}
}

func listCompute(kind string) func(*Server, *call) error {
	return func(s *Server, c *call) error {
		if rg := c.v("rg"); rg != "" {
			if _, err := s.loadResourceGroup(c.ctx, c.sub.ID, rg); err != nil {
				return err
			}
		}
		return s.listPage(c, galleon.ResourceFilter{SubscriptionID: c.sub.ID, ResourceGroup: c.v("rg"), Type: computeKinds[kind]}, "",
			func(r *galleon.Resource) (any, bool) { return computeJSON(r), true })
	}
}

func deleteCompute(kind string) func(*Server, *call) error {
	return func(s *Server, c *call) error {
		id := computeID(c, kind)
		if err := s.authorize(c, id.Type()+"/delete", id.String()); err != nil {
			return err
		}
		err := s.Compute.Delete(c.ctx, id)
		if galleon.ErrorCode(err) == galleon.ENotFound {
			c.w.WriteHeader(http.StatusNoContent)
			return nil
		} else if err != nil {
			return err
		}
		c.w.WriteHeader(http.StatusOK)
		return nil
	}
}

// beginGetAccess grants a SAS URL to upload a disk's content.
func (s *Server) beginGetAccess(c *call) error {
	id := computeID(c, "disks")
	if err := s.authorize(c, "Microsoft.Compute/disks/beginGetAccess/action", id.String()); err != nil {
		return err
	}
	var body struct {
		Access            string `json:"access"`
		DurationInSeconds int    `json:"durationInSeconds"`
	}
	if err := s.decodeBody(c, &body); err != nil {
		return err
	}
	if s.SignBlobURL == nil {
		return galleon.ReasonErrorf(galleon.ENotImplemented, "UploadNotAvailable", "Disk uploads are not available on this server.")
	}
	in, expiry, err := s.Compute.GrantAccess(c.ctx, id, body.Access, body.DurationInSeconds)
	if err != nil {
		return err
	}
	url := s.SignBlobURL(in.BlobAccount, in.BlobContainer, in.BlobName, "rw", expiry)
	writeJSON(c.w, http.StatusOK, map[string]string{"accessSAS": url})
	return nil
}

// endGetAccess ends an upload: the blob is sealed and its content becomes
// the disk's stored data, in a long-running operation.
func (s *Server) endGetAccess(c *call) error {
	id := computeID(c, "disks")
	if err := s.authorize(c, "Microsoft.Compute/disks/endGetAccess/action", id.String()); err != nil {
		return err
	}
	r, err := s.Compute.BeginRevoke(c.ctx, id)
	if err != nil {
		return err
	}
	op, err := s.startOperation(c, "Microsoft.Compute/disks/endGetAccess/action", r.ID, jobSealDisk, deleteRGPayload{ID: r.ID})
	if err != nil {
		return err
	}
	s.notify()
	s.acceptOperation(c, op)
	return nil
}

const jobSealDisk = "disk.seal"

func (s *Server) runSealDisk(ctx context.Context, j *galleon.Job) error {
	var p deleteRGPayload
	if err := json.Unmarshal(j.Payload, &p); err != nil {
		return fmt.Errorf("decode payload: %w", err)
	}
	return s.Compute.Seal(ctx, p.ID)
}
