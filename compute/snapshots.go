package compute

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/galleonhq/galleon"
)

// PutSnapshot creates a snapshot of a sealed disk (createOption Copy). The
// snapshot shares the disk's stored blocks. Existing snapshots may only
// change tags.
func (s *Service) PutSnapshot(ctx context.Context, id galleon.ResourceID, req *Request, principal string) (*galleon.Resource, bool, error) {
	loc, p, existing, err := begin[DiskProperties](s, ctx, id, req, "snapshot")
	if err != nil || existing != nil {
		return existing, false, err
	}
	if p.CreationData == nil || !strings.EqualFold(p.CreationData.CreateOption, "Copy") || p.CreationData.SourceResourceID == "" {
		return nil, false, invalid("properties.creationData", "InvalidParameter",
			"A snapshot needs creationData with createOption Copy and sourceResourceId naming a disk or snapshot.")
	}
	disks, err := s.sourceDisks(ctx, p.CreationData.SourceResourceID, loc)
	if err != nil {
		return nil, false, err
	}
	p.CreationData.CreateOption = "Copy"
	p.UniqueID, p.TimeCreated, p.ProvisioningState = uuid.NewString(), s.now().Format(time.RFC3339Nano), "Succeeded"
	p.DiskSizeBytes = disks[0].Size
	p.DiskSizeGB = (disks[0].Size + 1<<30 - 1) >> 30
	p.DiskState = Unattached
	props, _ := json.Marshal(p)
	internal, _ := json.Marshal(Internal{Disks: disks[:1], SKU: skuName(req)})
	r := &galleon.Resource{ID: id.String(), Type: SnapshotType, Name: id.Name(), SubscriptionID: id.SubscriptionID, ResourceGroup: id.ResourceGroup,
		Location: loc, Tags: req.Tags, Properties: props, Internal: internal, CreatedBy: principal}
	if err := s.Store.CreateResource(ctx, r); err != nil {
		return nil, false, err
	}
	return r, true, nil
}

// ImageProperties are a managed image's properties.
type ImageProperties struct {
	StorageProfile       *ImageStorageProfile `json:"storageProfile,omitempty"`
	HyperVGeneration     string               `json:"hyperVGeneration,omitempty"`
	ProvisioningState    string               `json:"provisioningState,omitempty"`
	SourceVirtualMachine *struct {
		ID string `json:"id"`
	} `json:"sourceVirtualMachine,omitempty"`
}

// ImageStorageProfile lists a managed image's disks.
type ImageStorageProfile struct {
	OSDisk    *ImageDisk  `json:"osDisk,omitempty"`
	DataDisks []ImageDisk `json:"dataDisks,omitempty"`
}

// ImageDisk is one disk of a managed image, made from a disk or snapshot.
type ImageDisk struct {
	Lun         *int    `json:"lun,omitempty"`
	OSType      string  `json:"osType,omitempty"`
	OSState     string  `json:"osState,omitempty"`
	Snapshot    *SubRef `json:"snapshot,omitempty"`
	ManagedDisk *SubRef `json:"managedDisk,omitempty"`
	BlobURI     string  `json:"blobUri,omitempty"`
	DiskSizeGB  int64   `json:"diskSizeGB,omitempty"`
	Caching     string  `json:"caching,omitempty"`
}

// SubRef names another resource by ID.
type SubRef struct {
	ID string `json:"id"`
}

func (d *ImageDisk) source() string {
	switch {
	case d.Snapshot != nil && d.Snapshot.ID != "":
		return d.Snapshot.ID
	case d.ManagedDisk != nil && d.ManagedDisk.ID != "":
		return d.ManagedDisk.ID
	}
	return ""
}

// PutImage creates a managed image from disks and snapshots.
func (s *Service) PutImage(ctx context.Context, id galleon.ResourceID, req *Request, principal string) (*galleon.Resource, bool, error) {
	loc, p, existing, err := begin[ImageProperties](s, ctx, id, req, "image")
	if err != nil || existing != nil {
		return existing, false, err
	}
	if p.SourceVirtualMachine != nil {
		return nil, false, (&galleon.Error{Code: galleon.ENotImplemented, Reason: "SourceNotSupported",
			Message: "Capturing a virtual machine into an image is not supported yet; make the image from a disk or snapshot."}).WithTarget("properties.sourceVirtualMachine")
	}
	if p.StorageProfile == nil || p.StorageProfile.OSDisk == nil {
		return nil, false, invalid("properties.storageProfile.osDisk", "InvalidParameter", "An image needs storageProfile.osDisk with a snapshot or managedDisk id.")
	}
	var stored []galleon.StoredDisk
	add := func(d *ImageDisk, field string, lun *int) error {
		src := d.source()
		if src == "" {
			if d.BlobURI != "" {
				return (&galleon.Error{Code: galleon.ENotImplemented, Reason: "SourceNotSupported", Message: "Images from blob URIs are not supported yet; use a disk or snapshot."}).WithTarget(field)
			}
			return invalid(field, "InvalidParameter", "%s needs snapshot.id or managedDisk.id.", field)
		}
		ds, err := s.sourceDisks(ctx, src, loc)
		if err != nil {
			return err
		}
		sd := ds[0]
		sd.Lun = lun
		stored = append(stored, sd)
		d.DiskSizeGB = (sd.Size + 1<<30 - 1) >> 30
		return nil
	}
	os := p.StorageProfile.OSDisk
	if !strings.EqualFold(os.OSType, "Linux") && !strings.EqualFold(os.OSType, "Windows") {
		return nil, false, invalid("properties.storageProfile.osDisk.osType", "InvalidParameter", "osDisk.osType must be Linux or Windows.")
	}
	if !strings.EqualFold(os.OSState, "Generalized") && !strings.EqualFold(os.OSState, "Specialized") {
		return nil, false, invalid("properties.storageProfile.osDisk.osState", "InvalidParameter", "osDisk.osState must be Generalized or Specialized.")
	}
	if err := add(os, "properties.storageProfile.osDisk", nil); err != nil {
		return nil, false, err
	}
	for i := range p.StorageProfile.DataDisks {
		d := &p.StorageProfile.DataDisks[i]
		if d.Lun == nil {
			return nil, false, invalid(fmt.Sprintf("properties.storageProfile.dataDisks[%d].lun", i), "InvalidParameter", "Each data disk needs a lun.")
		}
		if err := add(d, fmt.Sprintf("properties.storageProfile.dataDisks[%d]", i), d.Lun); err != nil {
			return nil, false, err
		}
	}
	if p.HyperVGeneration == "" {
		p.HyperVGeneration = "V1"
	}
	p.ProvisioningState = "Succeeded"
	props, _ := json.Marshal(p)
	internal, _ := json.Marshal(Internal{Disks: stored})
	r := &galleon.Resource{ID: id.String(), Type: ImageType, Name: id.Name(), SubscriptionID: id.SubscriptionID, ResourceGroup: id.ResourceGroup,
		Location: loc, Tags: req.Tags, Properties: props, Internal: internal, CreatedBy: principal}
	if err := s.Store.CreateResource(ctx, r); err != nil {
		return nil, false, err
	}
	return r, true, nil
}

// Delete removes a disk, snapshot or image (and a disk's upload blob).
func (s *Service) Delete(ctx context.Context, id galleon.ResourceID) error {
	r, err := s.Get(ctx, id)
	if err != nil {
		return err
	}
	in, _ := decode[Internal](r.Internal)
	if in.BlobAccount != "" {
		if err := s.Store.DeleteBlob(ctx, in.BlobAccount, in.BlobContainer, in.BlobName); err != nil && galleon.ErrorCode(err) != galleon.ENotFound {
			return err
		}
	}
	if _, err := s.Store.DeleteRoleAssignmentsUnder(ctx, r.ID); err != nil {
		return err
	}
	return s.Store.DeleteResource(ctx, r.ID)
}

// SKUOf returns the storage type to show for a disk or snapshot.
func SKUOf(r *galleon.Resource) string {
	in, _ := decode[Internal](r.Internal)
	return in.SKU
}
