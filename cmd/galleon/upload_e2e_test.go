package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources/v4"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/pageblob"

	"github.com/galleonhq/galleon"
	"github.com/galleonhq/galleon/blob/localfs"
	"github.com/galleonhq/galleon/diskimage"
	"github.com/galleonhq/galleon/manifest"
	"github.com/galleonhq/galleon/storage"
)

// fixedVHD returns raw as a fixed VHD (raw + 512-byte footer).
func fixedVHD(t *testing.T, raw []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := diskimage.WriteFixedVHD(&b, bytes.NewReader(raw), int64(len(raw)), diskimage.VHDOptions{}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

type nopCloser struct{ io.ReadSeeker }

func (nopCloser) Close() error { return nil }

// uploadDisk creates an Upload disk, uploads data through a SAS with the
// azblob SDK (4 MiB pages, zero pages skipped, as az does) and ends access.
func (s *testServer) uploadDisk(t *testing.T, disks *armcompute.DisksClient, rg, name, loc string, data []byte) error {
	t.Helper()
	ctx := context.Background()
	p, err := disks.BeginCreateOrUpdate(ctx, rg, name, armcompute.Disk{Location: to.Ptr(loc), Properties: &armcompute.DiskProperties{
		OSType:       to.Ptr(armcompute.OperatingSystemTypesLinux),
		CreationData: &armcompute.CreationData{CreateOption: to.Ptr(armcompute.DiskCreateOptionUpload), UploadSizeBytes: to.Ptr(int64(len(data)))},
	}}, nil)
	if err != nil {
		return err
	}
	d, err := p.PollUntilDone(ctx, pollFast())
	if err != nil {
		return err
	}
	if *d.Properties.DiskState != armcompute.DiskStateReadyToUpload {
		t.Fatalf("new upload disk state = %s", *d.Properties.DiskState)
	}
	gp, err := disks.BeginGrantAccess(ctx, rg, name, armcompute.GrantAccessData{Access: to.Ptr(armcompute.AccessLevelWrite), DurationInSeconds: to.Ptr[int32](3600)}, nil)
	if err != nil {
		return err
	}
	access, err := gp.PollUntilDone(ctx, pollFast())
	if err != nil {
		return err
	}
	pb, err := pageblob.NewClientWithNoCredential(*access.AccessSAS, &pageblob.ClientOptions{ClientOptions: policy.ClientOptions{Transport: s.httpClient(t)}})
	if err != nil {
		t.Fatal(err)
	}
	const chunk = 4 << 20
	zero := make([]byte, chunk)
	for off := 0; off < len(data); off += chunk {
		end := min(off+chunk, len(data))
		if bytes.Equal(data[off:end], zero[:end-off]) {
			continue
		}
		if _, err := pb.UploadPages(ctx, nopCloser{bytes.NewReader(data[off:end])}, blob.HTTPRange{Offset: int64(off), Count: int64(end - off)}, nil); err != nil {
			t.Fatalf("upload pages at %d: %v", off, err)
		}
	}
	rp, err := disks.BeginRevokeAccess(ctx, rg, name, nil)
	if err != nil {
		return err
	}
	_, err = rp.PollUntilDone(ctx, pollFast())
	return err
}

// TestUploadToVersion takes a disk image from upload to replicated
// versions: a disk uploaded through a SAS, a snapshot of it, a managed
// image of the snapshot, and versions from each, whose stored content
// matches the uploaded disk.
func TestUploadToVersion(t *testing.T) {
	s := mustStart(t, "")
	ctx := context.Background()
	sub := s.Admin.SubscriptionID
	cred := s.adminCredential(t)
	opts := s.armOptions(t)
	rgs, _ := armresources.NewResourceGroupsClient(sub, cred, opts)
	if _, err := rgs.CreateOrUpdate(ctx, "rg", armresources.ResourceGroup{Location: to.Ptr("eastus")}, nil); err != nil {
		t.Fatal(err)
	}
	disks, _ := armcompute.NewDisksClient(sub, cred, opts)
	snaps, _ := armcompute.NewSnapshotsClient(sub, cred, opts)
	images, _ := armcompute.NewImagesClient(sub, cred, opts)
	galleries, _ := armcompute.NewGalleriesClient(sub, cred, opts)
	defs, _ := armcompute.NewGalleryImagesClient(sub, cred, opts)
	versions, _ := armcompute.NewGalleryImageVersionsClient(sub, cred, opts)

	raw := randomDisk(24 << 20)
	if err := s.uploadDisk(t, disks, "rg", "os-disk", "eastus", fixedVHD(t, raw)); err != nil {
		t.Fatalf("upload: %v", err)
	}
	d, err := disks.Get(ctx, "rg", "os-disk", nil)
	if err != nil || *d.Properties.DiskState != armcompute.DiskStateUnattached || *d.Properties.DiskSizeGB != 1 {
		t.Fatalf("sealed disk = %+v %v", d.Properties, err)
	}

	data := randomDisk(20 << 20)
	data[0] = 0xda // distinct from the OS disk
	if err := s.uploadDisk(t, disks, "rg", "data-disk", "eastus", fixedVHD(t, data)); err != nil {
		t.Fatalf("upload data disk: %v", err)
	}
	dataID := "/subscriptions/" + sub + "/resourceGroups/rg/providers/Microsoft.Compute/disks/data-disk"

	// Not a VHD: ending access fails clearly and the disk can be retried.
	if err := s.uploadDisk(t, disks, "rg", "bad-disk", "eastus", append(randomDisk(20<<20), make([]byte, 512)...)); err == nil ||
		!strings.Contains(err.Error(), "InvalidUpload") {
		t.Fatalf("non-VHD upload: %v", err)
	}

	sp, err := snaps.BeginCreateOrUpdate(ctx, "rg", "snap", armcompute.Snapshot{Location: to.Ptr("eastus"), Properties: &armcompute.SnapshotProperties{
		CreationData: &armcompute.CreationData{CreateOption: to.Ptr(armcompute.DiskCreateOptionCopy), SourceResourceID: d.ID}}}, nil)
	if err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	snap, err := sp.PollUntilDone(ctx, pollFast())
	if err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	ip, err := images.BeginCreateOrUpdate(ctx, "rg", "managed", armcompute.Image{Location: to.Ptr("eastus"), Properties: &armcompute.ImageProperties{
		StorageProfile: &armcompute.ImageStorageProfile{OSDisk: &armcompute.ImageOSDisk{OSType: to.Ptr(armcompute.OperatingSystemTypesLinux),
			OSState: to.Ptr(armcompute.OperatingSystemStateTypesGeneralized), Snapshot: &armcompute.SubResource{ID: snap.ID}}}}}, nil)
	if err != nil {
		t.Fatalf("managed image: %v", err)
	}
	img, err := ip.PollUntilDone(ctx, pollFast())
	if err != nil {
		t.Fatalf("managed image: %v", err)
	}

	if p, err := galleries.BeginCreateOrUpdate(ctx, "rg", "gal", armcompute.Gallery{Location: to.Ptr("eastus")}, nil); err != nil {
		t.Fatal(err)
	} else if _, err := p.PollUntilDone(ctx, pollFast()); err != nil {
		t.Fatal(err)
	}
	if p, err := defs.BeginCreateOrUpdate(ctx, "rg", "gal", "img", linuxImage("eastus", "p", "o", "s"), nil); err != nil {
		t.Fatal(err)
	} else if _, err := p.PollUntilDone(ctx, pollFast()); err != nil {
		t.Fatal(err)
	}
	regions := []*armcompute.TargetRegion{{Name: to.Ptr("eastus")}, {Name: to.Ptr("japaneast")}}
	for name, storage := range map[string]*armcompute.GalleryImageVersionStorageProfile{
		"1.0.0": {OSDiskImage: &armcompute.GalleryOSDiskImage{Source: &armcompute.GalleryDiskImageSource{ID: d.ID}},
			DataDiskImages: []*armcompute.GalleryDataDiskImage{{Lun: to.Ptr[int32](3), Source: &armcompute.GalleryDiskImageSource{ID: to.Ptr(dataID)}}}},
		"1.0.1": {OSDiskImage: &armcompute.GalleryOSDiskImage{Source: &armcompute.GalleryDiskImageSource{ID: snap.ID}}},
		"1.0.2": {Source: &armcompute.GalleryArtifactVersionFullSource{ID: img.ID}},
	} {
		p, err := versions.BeginCreateOrUpdate(ctx, "rg", "gal", "img", name, armcompute.GalleryImageVersion{Location: to.Ptr("eastus"),
			Properties: &armcompute.GalleryImageVersionProperties{StorageProfile: storage,
				PublishingProfile: &armcompute.GalleryImageVersionPublishingProfile{TargetRegions: regions}}}, nil)
		if err != nil {
			t.Fatalf("version %s: %v", name, err)
		}
		v, err := p.PollUntilDone(ctx, pollFast())
		if err != nil || *v.Properties.ProvisioningState != armcompute.GalleryProvisioningStateSucceeded {
			t.Fatalf("version %s: %v", name, err)
		}
	}

	// The stored disk of a version in japaneast is the uploaded content.
	local, _ := localfs.Open(t.TempDir())
	want, err := manifest.Ingest(ctx, local, bytes.NewReader(raw), int64(len(raw)), manifest.IngestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	vr, err := s.store.GetResource(ctx, "/subscriptions/"+sub+"/resourceGroups/rg/providers/Microsoft.Compute/galleries/gal/images/img/versions/1.0.2")
	if err != nil {
		t.Fatal(err)
	}
	var vd galleon.VersionDisks
	if err := jsonUnmarshalForTest(vr.Internal, &vd); err != nil {
		t.Fatal(err)
	}
	jp, _ := s.Accounts.Open("japaneast", storage.StandardLRS, 0)
	got, err := manifest.Load(ctx, jp, vd.OSDisk.Manifest)
	if err != nil {
		t.Fatal(err)
	}
	if got.Digest != want.Digest || got.Size != int64(len(raw)) {
		t.Fatalf("replicated disk digest %s size %d, want %s size %d", got.Digest, got.Size, want.Digest, len(raw))
	}
	var out bytes.Buffer
	if _, err := manifest.NewReader(ctx, jp, got).WriteTo(&out); err != nil || !bytes.Equal(out.Bytes(), raw) {
		t.Fatalf("replicated bytes differ from the upload: %v", err)
	}

	// Version 1.0.0 carries the data disk at LUN 3, downloadable by LUN.
	tok := s.adminToken(t)
	resp, err := s.httpClient(t).Do(mustRequest(t, "GET", s.BaseURL+"/subscriptions/"+sub+
		"/resourceGroups/rg/providers/Microsoft.Compute/galleries/gal/images/img/versions/1.0.0/disks/3/content?api-version=2024-03-03&region=japaneast", tok, ""))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var dd bytes.Buffer
	dd.ReadFrom(resp.Body)
	if resp.StatusCode != 200 || !bytes.Equal(dd.Bytes(), data) {
		t.Fatalf("data disk at lun 3: %d, %d bytes", resp.StatusCode, dd.Len())
	}
}
