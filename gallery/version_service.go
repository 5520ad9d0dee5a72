package gallery

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strings"

	"github.com/galleonhq/galleon"
	"github.com/galleonhq/galleon/storage"
)

// DiskSource is where one disk of a new version is copied from: a stored
// manifest on a storage account.
type DiskSource struct {
	Lun *int `json:"lun,omitempty"`
	// Blob, when set, is a VHD blob to convert into a stored disk first
	// (Manifest, Size and StoredBytes are then filled in by the copy job).
	Blob               *BlobRef `json:"blob,omitempty"`
	Manifest           string   `json:"manifest"`
	Size               int64    `json:"size"`
	StoredBytes        int64    `json:"storedBytes"`
	Region             string   `json:"region"`
	StorageAccountType string   `json:"storageAccountType"`
	AccountIndex       int      `json:"accountIndex"`
}

// BlobRef names a blob of the data plane.
type BlobRef struct {
	Account   string `json:"account"`
	Container string `json:"container"`
	Name      string `json:"name"`
}

var (
	versionMutable = map[string]bool{"publishingProfile.targetRegions": true, "publishingProfile.replicaCount": true,
		"publishingProfile.excludeFromLatest": true, "publishingProfile.endOfLifeDate": true, "safetyProfile": true}
	versionReadOnly = map[string]bool{"provisioningState": true, "publishingProfile.publishedDate": true, "replicationStatus": true,
		"storageProfile.osDiskImage.sizeInGB": true}
)

func decodeVersion(r *galleon.Resource) (*galleon.GalleryImageVersionProperties, error) {
	var p galleon.GalleryImageVersionProperties
	if err := json.Unmarshal(r.Properties, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// VersionDisksOf returns a version's stored disks.
func VersionDisksOf(r *galleon.Resource) (*galleon.VersionDisks, error) {
	var d galleon.VersionDisks
	if len(r.Internal) > 0 {
		if err := json.Unmarshal(r.Internal, &d); err != nil {
			return nil, fmt.Errorf("decode disks of %s: %w", r.ID, err)
		}
	}
	return &d, nil
}

// ResolveVersionSource finds the disks a new version copies: another
// gallery image version (by ID, or its image's "latest"), read from a
// completed replica, preferring one in region; a community image version
// (source.communityGalleryImageId, public, so no check is needed); a
// managed image, disk, snapshot or VHD blob. The caller has checked that
// the principal may read a source given by ID.
func (s *Service) ResolveVersionSource(ctx context.Context, p *galleon.GalleryImageVersionProperties, region string) ([]DiskSource, error) {
	sp := p.StorageProfile
	if sp == nil || (sp.Source == nil && sp.OSDiskImage == nil) {
		return nil, invalid("properties.storageProfile", "InvalidParameter",
			"properties.storageProfile needs a source: source.id (an image version or managed image) or osDiskImage.source (a disk, snapshot or VHD).")
	}
	id := ""
	if sp.Source != nil {
		id = sp.Source.ID
		switch cid := sp.Source.CommunityGalleryImageID; {
		case cid != "" && id != "":
			return nil, invalid("properties.storageProfile.source", "InvalidParameter", "Give one of source.id and source.communityGalleryImageId, not both.")
		case cid != "":
			return s.communitySourceDisks(ctx, cid, region)
		case sp.Source.VirtualMachineID != "":
			return nil, (&galleon.Error{Code: galleon.ENotImplemented, Reason: "SourceNotSupported",
				Message: "Virtual machine sources are not supported yet; use an image version, community image, managed image, disk or snapshot."}).WithTarget("properties.storageProfile.source.virtualMachineId")
		}
	}
	if id == "" {
		return s.diskSources(ctx, sp, region)
	}
	rid, err := galleon.ParseResourceID(id)
	if err != nil {
		return nil, (&galleon.Error{Code: galleon.EInvalid, Reason: "InvalidParameter", Message: galleon.ErrorMessage(err)}).WithTarget("properties.storageProfile.source.id")
	}
	if strings.EqualFold(rid.Type(), "Microsoft.Compute/images") {
		return s.computeSources(ctx, id, region, nil, "properties.storageProfile.source.id")
	}
	if !strings.EqualFold(rid.Type(), galleon.GalleryImageVersionType) {
		return nil, invalid("properties.storageProfile.source.id", "InvalidParameter",
			"storageProfile.source.id must be an image version or a managed image, not a '%s'; give disks and snapshots as osDiskImage.source.id.", rid.Type())
	}
	src, err := s.ResolveVersion(ctx, rid, region)
	if err != nil {
		return nil, err
	}
	if err := s.CheckUsable(src); err != nil {
		return nil, err
	}
	return s.versionDiskSources(ctx, src, region)
}

// diskSources reads per-disk sources: osDiskImage.source.id and
// dataDiskImages[].source.id naming managed disks or snapshots.
func (s *Service) diskSources(ctx context.Context, sp *galleon.VersionStorageProfile, region string) ([]DiskSource, error) {
	if sp.OSDiskImage == nil || sp.OSDiskImage.Source == nil || (sp.OSDiskImage.Source.ID == "" && sp.OSDiskImage.Source.URI == "") {
		return nil, invalid("properties.storageProfile", "InvalidParameter",
			"properties.storageProfile needs source.id, or osDiskImage.source.id naming a disk or snapshot.")
	}
	out, err := s.perDiskSource(ctx, sp.OSDiskImage.Source, region, nil, "properties.storageProfile.osDiskImage.source")
	if err != nil {
		return nil, err
	}
	for i, d := range sp.DataDiskImages {
		field := fmt.Sprintf("properties.storageProfile.dataDiskImages[%d].source", i)
		if d.Source == nil || (d.Source.ID == "" && d.Source.URI == "") {
			return nil, invalid(field, "InvalidParameter", "Each data disk image needs source.id (a disk or snapshot) or source.uri with storageAccountId.")
		}
		lun := d.Lun
		more, err := s.perDiskSource(ctx, d.Source, region, &lun, field)
		if err != nil {
			return nil, err
		}
		out = append(out, more...)
	}
	return out, nil
}

// perDiskSource resolves one disk's source: a disk or snapshot ID, or a
// VHD blob (uri) in a user storage account (storageAccountId).
func (s *Service) perDiskSource(ctx context.Context, src *galleon.DiskImageSource, region string, lun *int, field string) ([]DiskSource, error) {
	if src.ID != "" {
		return s.computeSources(ctx, src.ID, region, lun, field+".id")
	}
	if src.StorageAccountID == "" {
		return nil, invalid(field+".storageAccountId", "InvalidParameter", "A VHD source (uri) needs storageAccountId, the ID of the storage account holding it.")
	}
	acct, err := galleon.ParseResourceID(src.StorageAccountID)
	if err != nil || !strings.EqualFold(acct.Type(), storage.UserAccountType) {
		return nil, invalid(field+".storageAccountId", "InvalidParameter", "storageAccountId must be a Microsoft.Storage/storageAccounts ID, not '%s'.", src.StorageAccountID)
	}
	u, err := url.Parse(src.URI)
	segs := strings.SplitN(strings.TrimPrefix(u.EscapedPath(), "/"), "/", 3)
	if err != nil || u.Scheme != "https" || len(segs) != 3 || segs[2] == "" {
		return nil, invalid(field+".uri", "InvalidParameter", "uri must be https://{server}/{account}/{container}/{blob}, not '%s'.", src.URI)
	}
	blobName, _ := url.PathUnescape(segs[2])
	ref := &BlobRef{Account: segs[0], Container: segs[1], Name: blobName}
	if !strings.EqualFold(ref.Account, acct.Name()) {
		return nil, invalid(field+".uri", "InvalidParameter", "The uri names storage account '%s' but storageAccountId names '%s'.", ref.Account, acct.Name())
	}
	if _, err := s.Store.GetResource(ctx, acct.String()); galleon.ErrorCode(err) == galleon.ENotFound {
		return nil, invalid(field+".storageAccountId", "InvalidParameter", "The storage account '%s' does not exist.", src.StorageAccountID)
	} else if err != nil {
		return nil, err
	}
	b, err := s.Store.GetBlob(ctx, ref.Account, ref.Container, ref.Name)
	if galleon.ErrorCode(err) == galleon.ENotFound {
		return nil, invalid(field+".uri", "InvalidParameter", "The blob '%s' does not exist; upload the VHD first.", src.URI)
	} else if err != nil {
		return nil, err
	}
	if !strings.EqualFold(b.Region, region) {
		return nil, invalid(field+".uri", "InvalidParameter", "The blob is in region '%s'; create the version in that region and replicate it from there.", b.Region)
	}
	return []DiskSource{{Lun: lun, Blob: ref, Region: b.Region, StorageAccountType: storage.StandardLRS}}, nil
}

// computeSources turns a managed disk, snapshot or image into disk
// sources. They must be in the version's region.
func (s *Service) computeSources(ctx context.Context, id, region string, lun *int, field string) ([]DiskSource, error) {
	if s.ComputeDisks == nil {
		return nil, (&galleon.Error{Code: galleon.ENotImplemented, Reason: "SourceNotSupported", Message: "Disk, snapshot and image sources are not available."}).WithTarget(field)
	}
	disks, at, err := s.ComputeDisks(ctx, id)
	if err != nil {
		return nil, err
	}
	if !strings.EqualFold(at, region) {
		return nil, invalid(field, "InvalidParameter",
			"The source '%s' is in region '%s'; create the version in that region (location '%s') and replicate it from there.", id, at, at)
	}
	var out []DiskSource
	for _, d := range disks {
		l := d.Lun
		if lun != nil {
			l = lun
		}
		out = append(out, DiskSource{Lun: l, Manifest: d.Manifest, Size: d.Size, StoredBytes: d.StoredBytes,
			Region: at, StorageAccountType: storage.StandardLRS, AccountIndex: 0})
	}
	return out, nil
}

// CheckUsable refuses a version past its end of life (V3), not yet
// provisioned, or flagged for a policy violation (C8).
func (s *Service) CheckUsable(r *galleon.Resource) error {
	p, err := decodeVersion(r)
	if err != nil {
		return err
	}
	return s.usable(p, r.ID)
}

// usable is CheckUsable for a version named name in messages (its ID, or
// the public ID it was reached through, which must not reveal the
// private one). It also refuses versions an operator flagged (C8).
func (s *Service) usable(p *galleon.GalleryImageVersionProperties, name string) error {
	if err := flaggedError(p, name); err != nil {
		return err
	}
	if p.ProvisioningState == galleon.ProvisioningDeleting || p.ProvisioningState == galleon.ProvisioningFailed {
		return galleon.ReasonErrorf(galleon.EConflict, "ImageVersionNotUsable", "The image version '%s' is %s and cannot be used.", name, p.ProvisioningState)
	}
	if pp := p.PublishingProfile; pp != nil && pp.EndOfLifeDate != "" {
		if eol, err := ParseDate(pp.EndOfLifeDate); err == nil && !s.now().Before(eol) {
			return galleon.ReasonErrorf(galleon.EConflict, "ImageVersionEndOfLife",
				"The image version '%s' reached its end of life on %s and can no longer be used. Pick a newer version, or extend its endOfLifeDate.", name, pp.EndOfLifeDate)
		}
	}
	return nil
}

func (s *Service) versionDiskSources(ctx context.Context, src *galleon.Resource, region string) ([]DiskSource, error) {
	disks, err := VersionDisksOf(src)
	if err != nil {
		return nil, err
	}
	reps, err := s.Store.ListReplicas(ctx, src.ID)
	if err != nil {
		return nil, err
	}
	var pick *galleon.Replica
	for _, r := range reps {
		if r.State == galleon.ReplicaCompleted && r.VersionID != "" && galleon.NormalizeScope(r.VersionID) == galleon.NormalizeScope(src.ID) {
			if pick == nil || (r.Region == region && pick.Region != region) {
				pick = r
			}
		}
	}
	if pick == nil || disks.OSDisk == nil {
		return nil, galleon.ReasonErrorf(galleon.EConflict, "ImageVersionNotReplicated",
			"The image version '%s' has no completed replica yet; wait for its replication to finish.", src.ID)
	}
	acct := accountIndexOf(pick)
	mk := func(d galleon.StoredDisk) DiskSource {
		return DiskSource{Lun: d.Lun, Manifest: d.Manifest, Size: d.Size, StoredBytes: d.StoredBytes, Region: pick.Region,
			StorageAccountType: pick.StorageAccountType, AccountIndex: acct}
	}
	out := []DiskSource{mk(*disks.OSDisk)}
	for _, d := range disks.DataDisks {
		out = append(out, mk(d))
	}
	return out, nil
}

// accountIndexOf reads the account number from a replica's account name
// (storage.Name's "-N" suffix).
func accountIndexOf(r *galleon.Replica) int {
	n := 0
	if i := strings.LastIndex(r.Account, "-"); i >= 0 {
		fmt.Sscanf(r.Account[i+1:], "%d", &n)
	}
	return n
}

// ResolveVersion loads a version by ID; the name "latest" resolves to the
// image's latest version in region (V1-V3).
func (s *Service) ResolveVersion(ctx context.Context, id galleon.ResourceID, region string) (*galleon.Resource, error) {
	if strings.EqualFold(id.Name(), "latest") {
		return s.Latest(ctx, id.Parent(), region)
	}
	return s.Get(ctx, id)
}

// Latest returns the image's latest version in region: the highest
// MAJOR.MINOR.PATCH among versions that are not Failed or Deleting, have a
// completed replica in region, are not past end of life, and are not
// excluded from latest there (a target region's excludeFromLatest wins over
// the profile's).
func (s *Service) Latest(ctx context.Context, imageID galleon.ResourceID, region string) (*galleon.Resource, error) {
	if _, err := s.Get(ctx, imageID); err != nil {
		return nil, err
	}
	completed := map[string]bool{}
	reps, err := s.Store.ListReplicas(ctx, imageID.String())
	if err != nil {
		return nil, err
	}
	for _, r := range reps {
		if r.State == galleon.ReplicaCompleted && strings.EqualFold(r.Region, region) {
			completed[galleon.NormalizeScope(r.VersionID)] = true
		}
	}
	// Collect the replicated versions, then decode properties from the
	// highest version down, stopping at the first eligible one: usually
	// one decode, not one per version. The stable sort keeps ID order
	// among equal versions ("01.2.3", "1.2.3"), so the first in ID order
	// wins, as before.
	type candidate struct {
		r *galleon.Resource
		v Version
	}
	var cands []candidate
	f := galleon.ResourceFilter{Under: imageID.String(), Type: galleon.GalleryImageVersionType, Limit: 1000}
	for {
		rs, next, err := s.Store.ListResources(ctx, f)
		if err != nil {
			return nil, err
		}
		for _, r := range rs {
			if !completed[galleon.NormalizeScope(r.ID)] {
				continue
			}
			if v, err := ParseVersion(r.Name); err == nil {
				cands = append(cands, candidate{r, v})
			}
		}
		if next == "" {
			break
		}
		f.After = next
	}
	sort.SliceStable(cands, func(i, j int) bool { return cands[j].v.Less(cands[i].v) })
	for _, c := range cands {
		if ok, err := s.eligibleForLatest(c.r, region); err == nil && ok {
			return c.r, nil
		}
	}
	return nil, galleon.ReasonErrorf(galleon.ENotFound, "LatestVersionNotFound",
		"The image '%s' has no version usable as latest in region '%s' (none is replicated there, or all are excluded from latest or past end of life).", imageID, region)
}

func (s *Service) eligibleForLatest(r *galleon.Resource, region string) (bool, error) {
	p, err := decodeVersion(r)
	if err != nil {
		return false, err
	}
	// A version serves a region as soon as a replica there completes (R1),
	// even while other regions still replicate.
	switch p.ProvisioningState {
	case galleon.ProvisioningSucceeded, galleon.ProvisioningUpdating, galleon.ProvisioningCreating:
	default:
		return false, nil
	}
	pp := p.PublishingProfile
	if pp == nil {
		return true, nil
	}
	exclude := pp.ExcludeFromLatest != nil && *pp.ExcludeFromLatest
	for _, tr := range pp.TargetRegions {
		if strings.EqualFold(tr.Name, region) && tr.ExcludeFromLatest != nil {
			exclude = *tr.ExcludeFromLatest
		}
	}
	if exclude {
		return false, nil
	}
	if pp.EndOfLifeDate != "" {
		if eol, err := ParseDate(pp.EndOfLifeDate); err == nil && !s.now().Before(eol) {
			return false, nil
		}
	}
	return true, nil
}

// PutVersion validates and stores a new version as Creating with its
// replicas queued, or applies the changes U1 allows to an existing one
// (target regions, replica counts, excludeFromLatest, endOfLifeDate). It
// returns the version, whether it was created, and the replicas added.
// The caller queues the work that copies data.
func (s *Service) PutVersion(ctx context.Context, id galleon.ResourceID, req *Request[galleon.GalleryImageVersionProperties], principalID string, sources []DiskSource) (*galleon.Resource, bool, []ReplicaSpec, error) {
	if _, err := ParseVersion(id.Name()); err != nil {
		return nil, false, nil, err
	}
	loc, err := s.location(req.Location)
	if err != nil {
		return nil, false, nil, err
	}
	p := req.Properties
	if p.PublishingProfile == nil {
		p.PublishingProfile = &galleon.VersionPublishingProfile{}
	}
	if err := s.normalizePublishing(p.PublishingProfile, loc); err != nil {
		return nil, false, nil, err
	}
	existing, err := s.Get(ctx, id)
	if err == nil {
		return s.updateVersion(ctx, existing, loc, req.Tags, &p)
	} else if galleon.ErrorCode(err) != galleon.ENotFound {
		return nil, false, nil, err
	}
	if len(sources) == 0 {
		return nil, false, nil, invalid("properties.storageProfile", "InvalidParameter", "The version has no source disks.")
	}
	if _, err := s.requireParent(ctx, id); err != nil {
		return nil, false, nil, err
	}
	if err := s.checkQuota(ctx, id.SubscriptionID, galleon.GalleryImageVersionType, loc, s.Limits.VersionsPerRegion); err != nil {
		return nil, false, nil, err
	}
	p.ProvisioningState = galleon.ProvisioningCreating
	p.PublishingProfile.PublishedDate = s.now().Format("2006-01-02T15:04:05.9999999Z07:00")
	p.ReplicationStatus = nil
	if p.StorageProfile == nil {
		p.StorageProfile = &galleon.VersionStorageProfile{}
	}
	gb := int((sources[0].Size + (1<<30 - 1)) >> 30)
	if p.StorageProfile.OSDiskImage == nil {
		p.StorageProfile.OSDiskImage = &galleon.DiskImage{}
	}
	p.StorageProfile.OSDiskImage.SizeInGB = &gb
	if p.StorageProfile.OSDiskImage.HostCaching == "" {
		p.StorageProfile.OSDiskImage.HostCaching = "ReadWrite"
	}
	props, _ := json.Marshal(p)
	r := &galleon.Resource{
		ID: id.String(), Type: galleon.GalleryImageVersionType, Name: id.Name(), SubscriptionID: id.SubscriptionID,
		ResourceGroup: id.ResourceGroup, Location: loc, Tags: req.Tags, Properties: props, CreatedBy: principalID,
	}
	if err := s.check(ctx, r); err != nil {
		return nil, false, nil, err
	}
	if err := s.Store.CreateResource(ctx, r); galleon.ErrorCode(err) == galleon.EConflict {
		return nil, false, nil, galleon.ReasonErrorf(galleon.EConflict, "Conflict", "The version '%s' was created by another request meanwhile; retry.", id.Name())
	} else if err != nil {
		return nil, false, nil, err
	}
	specs := Replicas(p.PublishingProfile)
	if err := s.queueReplicas(ctx, r.ID, specs); err != nil {
		return nil, false, nil, err
	}
	return r, true, specs, nil
}

func (s *Service) queueReplicas(ctx context.Context, versionID string, specs []ReplicaSpec) error {
	for _, sp := range specs {
		if err := s.Store.PutReplica(ctx, &galleon.Replica{VersionID: versionID, Region: sp.Region, Index: sp.Index,
			StorageAccountType: sp.StorageAccountType, Account: storage.Name(sp.Region, sp.StorageAccountType, sp.AccountIndex),
			State: galleon.ReplicaReplicating, Details: "Queued"}); err != nil {
			return err
		}
	}
	return nil
}

func (s *Service) updateVersion(ctx context.Context, r *galleon.Resource, loc string, tags map[string]string, p *galleon.GalleryImageVersionProperties) (*galleon.Resource, bool, []ReplicaSpec, error) {
	old, err := decodeVersion(r)
	if err != nil {
		return nil, false, nil, err
	}
	switch old.ProvisioningState {
	case galleon.ProvisioningDeleting:
		return nil, false, nil, galleon.ReasonErrorf(galleon.EConflict, "ResourceBeingDeleted", "The image version '%s' is being deleted and cannot be changed.", r.Name)
	}
	if loc != r.Location {
		return nil, false, nil, propertyChangeNotAllowed("image version", "location")
	}
	canon := *p
	canon.ReplicationStatus = nil
	if path := changedProperty(old, &canon, versionMutable, versionReadOnly); path != "" {
		return nil, false, nil, propertyChangeNotAllowed("image version", path)
	}
	next := *old
	pub := *p.PublishingProfile
	pub.PublishedDate = old.PublishingProfile.PublishedDate
	next.PublishingProfile = &pub
	if p.SafetyProfile != nil {
		sp := *p.SafetyProfile
		if old.SafetyProfile != nil {
			sp.ReportedForPolicyViolation, sp.PolicyViolations = old.SafetyProfile.ReportedForPolicyViolation, old.SafetyProfile.PolicyViolations
		}
		next.SafetyProfile = &sp
	}
	// Vet the new state before touching replicas.
	candidate := *r
	candidate.Properties, _ = json.Marshal(next)
	if tags != nil {
		candidate.Tags = tags
	}
	if err := s.check(ctx, &candidate); err != nil {
		return nil, false, nil, err
	}
	// Replicas: add the new ones, drop the ones no longer asked for.
	want := Replicas(&pub)
	have, err := s.Store.ListReplicas(ctx, r.ID)
	if err != nil {
		return nil, false, nil, err
	}
	key := func(region string, i int) string { return region + "/" + fmt.Sprint(i) }
	haveSet := map[string]*galleon.Replica{}
	for _, h := range have {
		if galleon.NormalizeScope(h.VersionID) == galleon.NormalizeScope(r.ID) {
			haveSet[key(h.Region, h.Index)] = h
		}
	}
	var added []ReplicaSpec
	wantSet := map[string]bool{}
	for _, w := range want {
		wantSet[key(w.Region, w.Index)] = true
		h := haveSet[key(w.Region, w.Index)]
		if h == nil || h.StorageAccountType != w.StorageAccountType {
			added = append(added, w)
		}
	}
	for k, h := range haveSet {
		if !wantSet[k] {
			if err := s.Store.DeleteReplica(ctx, r.ID, h.Region, h.Index); err != nil && galleon.ErrorCode(err) != galleon.ENotFound {
				return nil, false, nil, err
			}
		}
	}
	if err := s.queueReplicas(ctx, r.ID, added); err != nil {
		return nil, false, nil, err
	}
	if len(added) > 0 && next.ProvisioningState == galleon.ProvisioningSucceeded {
		next.ProvisioningState = galleon.ProvisioningUpdating
	}
	r.Properties, _ = json.Marshal(next)
	if tags != nil {
		r.Tags = tags
	}
	if err := s.Store.UpdateResource(ctx, r, ""); err != nil {
		return nil, false, nil, err
	}
	return r, false, added, nil
}

// PatchVersion applies a PATCH: the publishing profile fields given
// replace the stored ones.
func (s *Service) PatchVersion(ctx context.Context, id galleon.ResourceID, tags map[string]string, p *galleon.GalleryImageVersionProperties) (*galleon.Resource, []ReplicaSpec, error) {
	r, err := s.Get(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	old, err := decodeVersion(r)
	if err != nil {
		return nil, nil, err
	}
	merged := *old
	pub := *old.PublishingProfile
	if p != nil && p.PublishingProfile != nil {
		n := p.PublishingProfile
		if n.TargetRegions != nil {
			pub.TargetRegions = n.TargetRegions
		}
		if n.ReplicaCount != nil {
			pub.ReplicaCount = n.ReplicaCount
			if n.TargetRegions == nil { // a new default count applies to regions without their own
				for i := range pub.TargetRegions {
					pub.TargetRegions[i].RegionalReplicaCount = nil
				}
			}
		}
		if n.ExcludeFromLatest != nil {
			pub.ExcludeFromLatest = n.ExcludeFromLatest
		}
		if n.EndOfLifeDate != "" {
			pub.EndOfLifeDate = n.EndOfLifeDate
		}
	}
	if p != nil && p.SafetyProfile != nil {
		merged.SafetyProfile = p.SafetyProfile
	}
	if err := s.normalizePublishing(&pub, r.Location); err != nil {
		return nil, nil, err
	}
	merged.PublishingProfile = &pub
	r, _, added, err := s.updateVersion(ctx, r, r.Location, tags, &merged)
	return r, added, err
}

// ReplicationStatus summarizes a version's replicas by region: a region is
// Completed when all its replicas are, Failed when one failed, else
// Replicating with the mean progress.
func (s *Service) ReplicationStatus(ctx context.Context, versionID string) (*galleon.ReplicationStatus, error) {
	reps, err := s.Store.ListReplicas(ctx, versionID)
	if err != nil {
		return nil, err
	}
	type agg struct {
		n, progress     int
		failed, pending bool
		details         []string
	}
	by := map[string]*agg{}
	for _, r := range reps {
		if galleon.NormalizeScope(r.VersionID) != galleon.NormalizeScope(versionID) {
			continue
		}
		a := by[r.Region]
		if a == nil {
			a = &agg{}
			by[r.Region] = a
		}
		a.n++
		a.progress += r.Progress
		a.failed = a.failed || r.State == galleon.ReplicaFailed
		a.pending = a.pending || r.State == galleon.ReplicaReplicating
		if r.Details != "" && r.State != galleon.ReplicaCompleted {
			a.details = append(a.details, r.Details)
		}
	}
	regions := make([]string, 0, len(by))
	for k := range by {
		regions = append(regions, k)
	}
	sort.Strings(regions)
	st := &galleon.ReplicationStatus{AggregatedState: "Completed", Summary: []galleon.RegionalReplicationStatus{}}
	for _, region := range regions {
		a := by[region]
		rs := galleon.RegionalReplicationStatus{Region: region, State: galleon.ReplicaCompleted, Progress: a.progress / a.n}
		switch {
		case a.failed:
			rs.State = galleon.ReplicaFailed
			st.AggregatedState = "Failed"
		case a.pending:
			rs.State = galleon.ReplicaReplicating
			if st.AggregatedState != "Failed" {
				st.AggregatedState = "InProgress"
			}
		}
		if len(a.details) > 0 {
			rs.Details = strings.Join(a.details, "; ")
		}
		st.Summary = append(st.Summary, rs)
	}
	if len(regions) == 0 {
		st.AggregatedState = "Unknown"
	}
	return st, nil
}

// SetVersionState records a version's provisioning state (and, with disks
// non-nil, its stored disks).
func (s *Service) SetVersionState(ctx context.Context, id, state string, disks *galleon.VersionDisks) error {
	r, err := s.Store.GetResource(ctx, id)
	if err != nil {
		return err
	}
	if err := setProvisioningState(r, state); err != nil {
		return err
	}
	if disks != nil {
		r.Internal, _ = json.Marshal(disks)
	}
	return s.Store.UpdateResource(ctx, r, "")
}
