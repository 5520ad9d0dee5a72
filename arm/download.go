package arm

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/galleonhq/galleon"
	"github.com/galleonhq/galleon/diskimage"
	"github.com/galleonhq/galleon/gallery"
	"github.com/galleonhq/galleon/manifest"
)

// resolveVersion loads the version a route names; "latest" resolves in
// region (default: the image definition's location).
func (s *Server) resolveVersion(c *call, region string) (*galleon.Resource, error) {
	id := versionID(c)
	if strings.EqualFold(id.Name(), "latest") {
		if region == "" {
			img, err := s.Gallery.Get(c.ctx, id.Parent())
			if err != nil {
				return nil, err
			}
			region = img.Location
		}
		return s.Gallery.Latest(c.ctx, id.Parent(), region)
	}
	return s.Gallery.Get(c.ctx, id)
}

// replicaStore finds a completed replica of a version, in region if given
// (else preferring the version's own region), and opens its account.
func (s *Server) replicaStore(ctx context.Context, v *galleon.Resource, region string) (galleon.BlockStore, *galleon.Replica, error) {
	reps, err := s.Store.ListReplicas(ctx, v.ID)
	if err != nil {
		return nil, nil, err
	}
	var pick *galleon.Replica
	for _, r := range reps {
		if r.State != galleon.ReplicaCompleted || galleon.NormalizeScope(r.VersionID) != galleon.NormalizeScope(v.ID) {
			continue
		}
		if region != "" && !strings.EqualFold(r.Region, region) {
			continue
		}
		if pick == nil || (r.Region == v.Location && pick.Region != v.Location) {
			pick = r
		}
	}
	if pick == nil {
		where := "any region"
		if region != "" {
			where = "region '" + region + "'"
		}
		return nil, nil, galleon.ReasonErrorf(galleon.EConflict, "ReplicaNotAvailable",
			"The image version '%s' has no completed replica in %s yet; wait for replication or pick another region.", v.ID, where)
	}
	n := 0
	if i := strings.LastIndex(pick.Account, "-"); i >= 0 {
		n, _ = strconv.Atoi(pick.Account[i+1:])
	}
	bs, err := s.Replication.Accounts.Open(pick.Region, pick.StorageAccountType, n)
	return bs, pick, err
}

// downloadDisk streams one disk of a version as raw, fixed VHD or qcow2.
// Raw and VHD answer Range requests; every block is verified against its
// digest as it is read.
func (s *Server) downloadDisk(c *call) error {
	q := c.r.URL.Query()
	id := versionID(c)
	if err := s.authorize(c, versionAction+"/read", id.String()); err != nil {
		return err
	}
	v, err := s.resolveVersion(c, q.Get("region"))
	if err != nil {
		return err
	}
	disks, err := gallery.VersionDisksOf(v)
	if err != nil {
		return err
	}
	var disk *galleon.StoredDisk
	if which := c.v("disk"); strings.EqualFold(which, "os") {
		disk = disks.OSDisk
	} else if lun, err := strconv.Atoi(which); err == nil {
		for i := range disks.DataDisks {
			if d := &disks.DataDisks[i]; d.Lun != nil && *d.Lun == lun {
				disk = d
			}
		}
	}
	if disk == nil {
		return galleon.ReasonErrorf(galleon.ENotFound, "DiskNotFound", "The image version '%s' has no disk '%s'; use 'os' or a data disk's lun.", v.ID, c.v("disk"))
	}
	bs, _, err := s.replicaStore(c.ctx, v, q.Get("region"))
	if err != nil {
		return err
	}
	m, err := manifest.Load(c.ctx, bs, disk.Manifest)
	if err != nil {
		return err
	}
	raw := manifest.NewReader(c.ctx, bs, m)
	h := c.w.Header()
	h.Set("x-galleon-disk-digest", m.Digest)
	h.Set("x-galleon-disk-size", strconv.FormatInt(m.Size, 10))
	h.Set("x-galleon-disk-block-size", strconv.FormatInt(m.BlockSize, 10))
	h.Set("x-galleon-version", v.Name)
	modified := v.ChangedAt
	base := strings.ReplaceAll(v.ID[strings.Index(v.ID, "/galleries/")+len("/galleries/"):], "/", "_")
	switch format := strings.ToLower(q.Get("format")); format {
	case "", "raw":
		h.Set("ETag", `"`+m.Digest+`-raw"`)
		h.Set("Content-Type", "application/octet-stream")
		h.Set("Content-Disposition", `attachment; filename="`+base+`.raw"`)
		http.ServeContent(c.w, c.r, "", modified, raw)
	case "vhd":
		digest, _ := hex.DecodeString(m.Digest)
		var uid [16]byte
		copy(uid[:], digest)
		footer, err := diskimage.FixedVHDFooter(m.Size, diskimage.VHDOptions{UniqueID: uid, Now: func() time.Time { return v.CreatedAt }})
		if err != nil {
			return (&galleon.Error{Code: galleon.EInvalid, Reason: "FormatNotPossible", Message: err.Error() + "; download it as raw or qcow2."}).WithTarget("format")
		}
		h.Set("ETag", `"`+m.Digest+`-vhd"`)
		h.Set("Content-Type", "application/octet-stream")
		h.Set("Content-Disposition", `attachment; filename="`+base+`.vhd"`)
		http.ServeContent(c.w, c.r, "", modified, io.NewSectionReader(&concatReaderAt{a: raw, aSize: m.Size, b: footer}, 0, m.Size+int64(len(footer))))
	case "qcow2":
		plan, err := diskimage.PlanQCOW2(raw, m.Size)
		if err != nil {
			return err
		}
		h.Set("ETag", `"`+m.Digest+`-qcow2"`)
		h.Set("Content-Type", "application/octet-stream")
		h.Set("Content-Disposition", `attachment; filename="`+base+`.qcow2"`)
		h.Set("Accept-Ranges", "none")
		h.Set("Content-Length", strconv.FormatInt(plan.FileSize(), 10))
		c.w.WriteHeader(http.StatusOK)
		if c.r.Method != http.MethodHead {
			if _, err := plan.WriteTo(c.w); err != nil {
				s.logger().Warn("qcow2 download interrupted", "version", v.ID, "err", err)
			}
		}
	default:
		return (&galleon.Error{Code: galleon.EInvalid, Reason: "InvalidParameter", Message: fmt.Sprintf("format '%s' is not one of raw, vhd, qcow2.", format)}).WithTarget("format")
	}
	return nil
}

// concatReaderAt reads a then b as one stream.
type concatReaderAt struct {
	a     io.ReaderAt
	aSize int64
	b     []byte
}

func (c *concatReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n := 0
	if off < c.aSize {
		k := min(int64(len(p)), c.aSize-off)
		m, err := c.a.ReadAt(p[:k], off)
		n += m
		if err != nil && err != io.EOF {
			return n, err
		}
		if int64(m) < k {
			return n, io.ErrUnexpectedEOF
		}
		p, off = p[k:], off+k
	}
	if len(p) == 0 {
		return n, nil
	}
	boff := off - c.aSize
	if boff >= int64(len(c.b)) {
		return n, io.EOF
	}
	m := copy(p, c.b[boff:])
	n += m
	if m < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// usageRow is one replica's share of storage and egress (C10).
type usageRow struct {
	VersionID          string `json:"versionId"`
	Region             string `json:"region"`
	Replica            int    `json:"replica"`
	StorageAccountType string `json:"storageAccountType"`
	State              string `json:"state"`
	StoredBytes        int64  `json:"storedBytes"`
	EgressBytes        int64  `json:"egressBytes"`
	SourceRegion       string `json:"sourceRegion,omitempty"`
}

// getUsage reports occupied bytes per replica per region and cross-region
// egress, per version and in total, for a subscription, resource group,
// gallery, image or version scope the caller may read.
func (s *Server) getUsage(c *call) error {
	scope := "/subscriptions/" + c.sub.ID
	if rg := c.v("rg"); rg != "" {
		scope = galleryScopeID(c).String()
		if c.v("gallery") == "" {
			scope = rgID(c.sub.ID, rg)
		}
	}
	chk, err := s.Authz.Checker(c.ctx, c.p, "/subscriptions/"+c.sub.ID)
	if err != nil {
		return err
	}
	reps, err := s.Store.ListReplicas(c.ctx, scope)
	if err != nil {
		return err
	}
	rows := []usageRow{}
	var stored, egress int64
	for _, r := range reps {
		if !chk.Allowed(versionAction+"/read", r.VersionID) {
			continue
		}
		bytes := int64(0)
		if r.State == galleon.ReplicaCompleted {
			bytes = r.StoredBytes
		}
		rows = append(rows, usageRow{VersionID: r.VersionID, Region: r.Region, Replica: r.Index, StorageAccountType: r.StorageAccountType,
			State: r.State, StoredBytes: bytes, EgressBytes: r.EgressBytes, SourceRegion: r.SourceRegion})
		stored += bytes
		egress += r.EgressBytes
	}
	writeJSON(c.w, http.StatusOK, map[string]any{
		"scope": scope, "value": rows,
		"totals": map[string]int64{"storedBytes": stored, "egressBytes": egress, "replicas": int64(len(rows))},
	})
	return nil
}
