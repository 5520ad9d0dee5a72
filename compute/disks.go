package compute

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/galleonhq/galleon"
	"github.com/galleonhq/galleon/diskimage"
	"github.com/galleonhq/galleon/manifest"
	"github.com/galleonhq/galleon/storage"
)

// Resource types.
const (
	DiskType     = "Microsoft.Compute/disks"
	SnapshotType = "Microsoft.Compute/snapshots"
	ImageType    = "Microsoft.Compute/images"
)

// Disk states.
const (
	ReadyToUpload = "ReadyToUpload"
	ActiveUpload  = "ActiveUpload"
	Unattached    = "Unattached"
	ActiveSAS     = "ActiveSAS"
)

// Upload size limits: a VHD of 20 MiB to 1 TiB (L1) plus its 512-byte footer.
const (
	MinUploadBytes = 20<<20 + 512
	MaxUploadBytes = 1<<40 + 512
)

// DiskProperties are a disk's or snapshot's properties.
type DiskProperties struct {
	OSType            string        `json:"osType,omitempty"`
	HyperVGeneration  string        `json:"hyperVGeneration,omitempty"`
	CreationData      *CreationData `json:"creationData,omitempty"`
	DiskSizeGB        int64         `json:"diskSizeGB,omitempty"`
	DiskSizeBytes     int64         `json:"diskSizeBytes,omitempty"`
	UniqueID          string        `json:"uniqueId,omitempty"`
	ProvisioningState string        `json:"provisioningState,omitempty"`
	DiskState         string        `json:"diskState,omitempty"`
	TimeCreated       string        `json:"timeCreated,omitempty"`
}

// CreationData says how a disk or snapshot was made.
type CreationData struct {
	CreateOption     string `json:"createOption"`
	UploadSizeBytes  int64  `json:"uploadSizeBytes,omitempty"`
	SourceResourceID string `json:"sourceResourceId,omitempty"`
	SourceURI        string `json:"sourceUri,omitempty"`
}

// SKU is a disk's storage type.
type SKU struct {
	Name string `json:"name"`
	Tier string `json:"tier,omitempty"`
}

// Internal is what compute keeps hidden about a disk, snapshot or image.
type Internal struct {
	// Blob is the upload target of a disk (account/container/name).
	BlobAccount   string `json:"blobAccount,omitempty"`
	BlobContainer string `json:"blobContainer,omitempty"`
	BlobName      string `json:"blobName,omitempty"`
	// Disks are the stored disks: one for a disk or snapshot; the OS disk
	// first (Lun nil), then data disks, for an image.
	Disks []galleon.StoredDisk `json:"disks,omitempty"`
	// SKU is a disk's or snapshot's storage type, shown as "sku".
	SKU string `json:"sku,omitempty"`
}

// Service applies the compute rules.
type Service struct {
	Store    galleon.Store
	Accounts *storage.Accounts
	Regions  []galleon.Region
	Now      func() time.Time
	// BlobContent returns a blob's content as a manifest over the block
	// store holding it (blobapi.Server.Manifest).
	BlobContent func(ctx context.Context, b *galleon.Blob) (*galleon.DiskManifest, galleon.BlockStore, error)
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

func invalid(target, reason, format string, args ...any) error {
	return (&galleon.Error{Code: galleon.EInvalid, Reason: reason, Message: fmt.Sprintf(format, args...)}).WithTarget(target)
}

func decode[T any](raw json.RawMessage) (*T, error) {
	var v T
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, err
		}
	}
	return &v, nil
}

// Get loads a compute resource of the type id names.
func (s *Service) Get(ctx context.Context, id galleon.ResourceID) (*galleon.Resource, error) {
	r, err := s.Store.GetResource(ctx, id.String())
	if galleon.ErrorCode(err) == galleon.ENotFound || (err == nil && !strings.EqualFold(r.Type, id.Type())) {
		return nil, galleon.ReasonErrorf(galleon.ENotFound, "ResourceNotFound",
			"The Resource '%s/%s' under resource group '%s' was not found.", id.Type(), id.Name(), id.ResourceGroup)
	}
	return r, err
}

// BlobStore returns the block store a region's uploads land in.
func (s *Service) BlobStore(region string) (galleon.BlockStore, error) {
	return s.Accounts.Open(region, storage.StandardLRS, 0)
}

// Request is a PUT body of a disk, snapshot or image.
type Request struct {
	Location   string
	Tags       map[string]string
	SKU        *SKU
	Properties json.RawMessage
}

func (s *Service) location(loc string) (string, error) {
	if r, ok := galleon.LookupRegion(s.Regions, loc); ok {
		return r.Name, nil
	}
	return "", invalid("location", "LocationNotAvailableForResourceType", "The location '%s' is not available. Available locations: %s.", loc, galleon.RegionNames(s.Regions))
}

func (s *Service) requireGroup(ctx context.Context, id galleon.ResourceID) error {
	_, err := s.Store.GetResource(ctx, "/subscriptions/"+id.SubscriptionID+"/resourceGroups/"+id.ResourceGroup)
	if galleon.ErrorCode(err) == galleon.ENotFound {
		return galleon.ReasonErrorf(galleon.ENotFound, "ResourceGroupNotFound", "Resource group '%s' could not be found.", id.ResourceGroup)
	}
	return err
}

// begin is the common start of a PUT: the location, the decoded
// properties, and either the existing resource (whose tags it updates, the
// only change allowed) or a check that the resource group exists.
func begin[P any](s *Service, ctx context.Context, id galleon.ResourceID, req *Request, what string) (string, *P, *galleon.Resource, error) {
	loc, err := s.location(req.Location)
	if err != nil {
		return "", nil, nil, err
	}
	p, err := decode[P](req.Properties)
	if err != nil {
		return "", nil, nil, invalid("properties", "InvalidRequestContent", "The %s properties could not be read: %v", what, err)
	}
	if existing, err := s.Get(ctx, id); err == nil {
		existing.Tags = req.Tags
		return loc, p, existing, s.Store.UpdateResource(ctx, existing, "")
	} else if galleon.ErrorCode(err) != galleon.ENotFound {
		return "", nil, nil, err
	}
	return loc, p, nil, s.requireGroup(ctx, id)
}

// skuName is the requested storage type, Standard_LRS by default.
func skuName(req *Request) string {
	if req.SKU != nil && req.SKU.Name != "" {
		return req.SKU.Name
	}
	return "Standard_LRS"
}

// PutDisk creates an empty disk to upload into (createOption Upload) or a
// disk copied from a snapshot or disk (createOption Copy). Existing disks
// may only change tags.
func (s *Service) PutDisk(ctx context.Context, id galleon.ResourceID, req *Request, principal string) (*galleon.Resource, bool, error) {
	loc, p, existing, err := begin[DiskProperties](s, ctx, id, req, "disk")
	if err != nil || existing != nil {
		return existing, false, err
	}
	sku := skuName(req)
	if p.CreationData == nil {
		return nil, false, invalid("properties.creationData", "InvalidParameter", "properties.creationData.createOption is required (Upload or Copy).")
	}
	in := Internal{SKU: sku}
	p.UniqueID = uuid.NewString()
	p.TimeCreated = s.now().Format(time.RFC3339Nano)
	p.ProvisioningState = "Succeeded"
	if p.HyperVGeneration == "" {
		p.HyperVGeneration = "V1"
	}
	switch strings.ToLower(p.CreationData.CreateOption) {
	case "upload":
		n := p.CreationData.UploadSizeBytes
		if n < MinUploadBytes || n > MaxUploadBytes || (n-512)%(1<<20) != 0 {
			return nil, false, invalid("properties.creationData.uploadSizeBytes", "InvalidParameter",
				"uploadSizeBytes %d is invalid: it must be a whole number of MiB plus the 512-byte VHD footer, from %d (20 MiB) to %d (1 TiB). For a file made with qemu-img convert -O vpc -o subformat=fixed,force_size, use its size in bytes.",
				n, int64(MinUploadBytes), int64(MaxUploadBytes))
		}
		p.CreationData.CreateOption = "Upload"
		p.DiskState = ReadyToUpload
		p.DiskSizeBytes = n - 512
		p.DiskSizeGB = (p.DiskSizeBytes + 1<<30 - 1) >> 30
		in.BlobAccount, in.BlobContainer, in.BlobName = "md-"+strings.ReplaceAll(p.UniqueID, "-", "")[:12], "upload", "abcd"
		if err := s.Store.PutBlob(ctx, &galleon.Blob{Account: in.BlobAccount, Container: in.BlobContainer, Name: in.BlobName,
			Kind: galleon.PageBlob, Region: loc, Size: n, BlockSize: galleon.DefaultBlockSize}); err != nil {
			return nil, false, err
		}
	case "copy":
		src, err := s.sourceDisks(ctx, p.CreationData.SourceResourceID, loc)
		if err != nil {
			return nil, false, err
		}
		if len(src) != 1 {
			return nil, false, invalid("properties.creationData.sourceResourceId", "InvalidParameter", "A disk can be copied from a disk or snapshot only.")
		}
		p.CreationData.CreateOption = "Copy"
		in.Disks = src
		p.DiskState = Unattached
		p.DiskSizeBytes = src[0].Size
		p.DiskSizeGB = (src[0].Size + 1<<30 - 1) >> 30
	default:
		return nil, false, (&galleon.Error{Code: galleon.ENotImplemented, Reason: "CreateOptionNotSupported",
			Message: fmt.Sprintf("createOption '%s' is not supported; use Upload (then beginGetAccess, upload, endGetAccess) or Copy.", p.CreationData.CreateOption)}).WithTarget("properties.creationData.createOption")
	}
	props, _ := json.Marshal(p)
	internal, _ := json.Marshal(in)
	r := &galleon.Resource{ID: id.String(), Type: DiskType, Name: id.Name(), SubscriptionID: id.SubscriptionID, ResourceGroup: id.ResourceGroup,
		Location: loc, Tags: req.Tags, Properties: props, Internal: internal, CreatedBy: principal}
	if err := s.Store.CreateResource(ctx, r); err != nil {
		return nil, false, err
	}
	return r, true, nil
}

// GrantAccess opens a disk for upload (access Write, while ReadyToUpload)
// or export (Read, once sealed), returning the blob and its expiry.
func (s *Service) GrantAccess(ctx context.Context, id galleon.ResourceID, access string, seconds int) (*Internal, time.Time, error) {
	r, err := s.Get(ctx, id)
	if err != nil {
		return nil, time.Time{}, err
	}
	p, _ := decode[DiskProperties](r.Properties)
	in, _ := decode[Internal](r.Internal)
	if seconds <= 0 || seconds > 7*24*3600 {
		seconds = 3600
	}
	expiry := s.now().Add(time.Duration(seconds) * time.Second)
	switch strings.ToLower(access) {
	case "write":
		if p.DiskState != ReadyToUpload && p.DiskState != ActiveUpload {
			return nil, time.Time{}, galleon.ReasonErrorf(galleon.EConflict, "OperationNotAllowed",
				"The disk '%s' is %s; write access is granted only to disks created with createOption Upload before endGetAccess.", r.Name, p.DiskState)
		}
		p.DiskState = ActiveUpload
	case "read":
		if p.DiskState != Unattached && p.DiskState != ActiveSAS {
			return nil, time.Time{}, galleon.ReasonErrorf(galleon.EConflict, "OperationNotAllowed",
				"The disk '%s' is %s; finish the upload with endGetAccess before reading it.", r.Name, p.DiskState)
		}
		return nil, time.Time{}, (&galleon.Error{Code: galleon.ENotImplemented, Reason: "ExportNotSupported",
			Message: "Exporting a sealed disk through a SAS is not supported yet; download image versions instead."})
	default:
		return nil, time.Time{}, invalid("access", "InvalidParameter", "access must be Write or Read, not '%s'.", access)
	}
	r.Properties, _ = json.Marshal(p)
	if err := s.Store.UpdateResource(ctx, r, ""); err != nil {
		return nil, time.Time{}, err
	}
	return in, expiry, nil
}

// BeginRevoke marks an uploading disk as being sealed; Seal does the work.
func (s *Service) BeginRevoke(ctx context.Context, id galleon.ResourceID) (*galleon.Resource, error) {
	r, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	p, _ := decode[DiskProperties](r.Properties)
	if p.DiskState != ActiveUpload && p.DiskState != ReadyToUpload {
		return r, nil // nothing to seal: revoking is idempotent
	}
	in, _ := decode[Internal](r.Internal)
	b, err := s.Store.GetBlob(ctx, in.BlobAccount, in.BlobContainer, in.BlobName)
	if err != nil {
		return nil, err
	}
	b.Sealed = true
	if err := s.Store.UpdateBlob(ctx, b); err != nil {
		return nil, err
	}
	return r, nil
}

// Seal turns a disk's uploaded blob into its stored disk: the upload must
// be a fixed VHD of the declared size (Azure's rule); its logical content
// (without the footer) is cut into blocks, zero blocks dropped. It is
// idempotent.
func (s *Service) Seal(ctx context.Context, diskID string) error {
	r, err := s.Store.GetResource(ctx, diskID)
	if galleon.ErrorCode(err) == galleon.ENotFound {
		return nil
	} else if err != nil {
		return err
	}
	p, _ := decode[DiskProperties](r.Properties)
	in, _ := decode[Internal](r.Internal)
	if p.DiskState == Unattached && len(in.Disks) == 1 {
		return nil
	}
	b, err := s.Store.GetBlob(ctx, in.BlobAccount, in.BlobContainer, in.BlobName)
	if err != nil {
		return err
	}
	content, bs, err := s.BlobContent(ctx, b)
	if err != nil {
		return err
	}
	raw := manifest.NewReader(ctx, bs, content)
	img, err := diskimage.OpenAs(raw, b.Size, diskimage.FormatVHDFixed)
	if err != nil {
		var fe *diskimage.FormatError
		if errors.As(err, &fe) {
			return s.failUpload(ctx, r, p, fmt.Sprintf("The uploaded data is not a fixed VHD of %d bytes: %v", b.Size, err))
		}
		return err
	}
	m, err := manifest.Ingest(ctx, bs, img, img.Size, manifest.IngestOptions{Skip: func(off, n int64) bool {
		ok, err := img.Allocated(off, n)
		return err == nil && !ok
	}})
	if err != nil {
		return err
	}
	digest, err := manifest.Store(ctx, bs, m)
	if err != nil {
		return err
	}
	in.Disks = []galleon.StoredDisk{{Manifest: digest, Size: m.Size, StoredBytes: m.StoredBytes()}}
	p.DiskState = Unattached
	r.Properties, _ = json.Marshal(p)
	r.Internal, _ = json.Marshal(in)
	if err := s.Store.UpdateResource(ctx, r, ""); err != nil {
		return err
	}
	// The upload blob's map is no longer needed; its blocks are shared with
	// the stored disk or collected later.
	if err := s.Store.DeleteBlob(ctx, b.Account, b.Container, b.Name); err != nil && galleon.ErrorCode(err) != galleon.ENotFound {
		return err
	}
	return nil
}

func (s *Service) failUpload(ctx context.Context, r *galleon.Resource, p *DiskProperties, msg string) error {
	p.DiskState = ReadyToUpload
	r.Properties, _ = json.Marshal(p)
	_ = s.Store.UpdateResource(ctx, r, "")
	in, _ := decode[Internal](r.Internal)
	if b, err := s.Store.GetBlob(ctx, in.BlobAccount, in.BlobContainer, in.BlobName); err == nil {
		b.Sealed = false
		_ = s.Store.UpdateBlob(ctx, b)
	}
	return galleon.ReasonErrorf(galleon.EInvalid, "InvalidUpload", "%s. Upload a fixed VHD (qemu-img convert -O vpc -o subformat=fixed,force_size) again, then call endGetAccess.", msg)
}

// sourceDisks returns the stored disks of a disk, snapshot or managed
// image by ID. Disks must be sealed.
func (s *Service) sourceDisks(ctx context.Context, id, region string) ([]galleon.StoredDisk, error) {
	rid, err := galleon.ParseResourceID(id)
	if err != nil {
		return nil, err
	}
	switch strings.ToLower(rid.Type()) {
	case strings.ToLower(DiskType), strings.ToLower(SnapshotType), strings.ToLower(ImageType):
	default:
		return nil, invalid("sourceResourceId", "InvalidParameter", "'%s' is not a disk, snapshot or image.", id)
	}
	r, err := s.Get(ctx, rid)
	if err != nil {
		return nil, err
	}
	in, _ := decode[Internal](r.Internal)
	if len(in.Disks) == 0 {
		return nil, galleon.ReasonErrorf(galleon.EConflict, "DiskNotReady",
			"'%s' holds no data yet: finish its upload with endGetAccess first.", id)
	}
	if !strings.EqualFold(r.Location, region) {
		return nil, invalid("sourceResourceId", "InvalidParameter",
			"'%s' is in '%s'; a copy must be made in the same region, not '%s'.", id, r.Location, region)
	}
	return in.Disks, nil
}

// StoredDisks returns the stored disks of a disk, snapshot or managed
// image, and the region they are in (for version sources).
func (s *Service) StoredDisks(ctx context.Context, id string) ([]galleon.StoredDisk, string, error) {
	rid, err := galleon.ParseResourceID(id)
	if err != nil {
		return nil, "", err
	}
	r, err := s.Get(ctx, rid)
	if err != nil {
		return nil, "", err
	}
	in, _ := decode[Internal](r.Internal)
	if len(in.Disks) == 0 {
		return nil, "", galleon.ReasonErrorf(galleon.EConflict, "DiskNotReady", "'%s' holds no data yet: finish its upload with endGetAccess first.", id)
	}
	return in.Disks, r.Location, nil
}
