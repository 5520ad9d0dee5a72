package main

import (
	"bytes"
	"context"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources/v4"

	"github.com/galleonhq/galleon"
	"github.com/galleonhq/galleon/gallery"
	"github.com/galleonhq/galleon/manifest"
	"github.com/galleonhq/galleon/replication"
	"github.com/galleonhq/galleon/storage"
)

// seedVersion makes a first version straight from disk content stored on
// the region's first account, the way an upload will once disk sources
// land: it is the only way to get a version without another version yet.
func (s *testServer) seedVersion(t *testing.T, id galleon.ResourceID, region string, content []byte) {
	t.Helper()
	ctx := context.Background()
	bs, err := s.Accounts.Open(region, storage.StandardLRS, 0)
	if err != nil {
		t.Fatal(err)
	}
	m, err := manifest.Ingest(ctx, bs, bytes.NewReader(content), int64(len(content)), manifest.IngestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	digest, err := manifest.Store(ctx, bs, m)
	if err != nil {
		t.Fatal(err)
	}
	src := []gallery.DiskSource{{Manifest: digest, Size: m.Size, StoredBytes: m.StoredBytes(), Region: region, StorageAccountType: storage.StandardLRS}}
	r, _, _, err := s.Gallery.PutVersion(ctx, id, &gallery.Request[galleon.GalleryImageVersionProperties]{Location: region}, "seed", src)
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := jsonMarshalForTest(replication.IngestPayload{VersionID: r.ID, Sources: src})
	if err := s.store.EnqueueJob(ctx, &galleon.Job{Kind: replication.JobIngest, Payload: payload, MaxAttempts: 3}); err != nil {
		t.Fatal(err)
	}
	s.worker.Notify()
}

func waitVersion(t *testing.T, c *armcompute.GalleryImageVersionsClient, rg, g, img, v string) armcompute.GalleryImageVersion {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		got, err := c.Get(context.Background(), rg, g, img, v, nil)
		if err == nil && *got.Properties.ProvisioningState == armcompute.GalleryProvisioningStateSucceeded {
			return got.GalleryImageVersion
		}
		if time.Now().After(deadline) {
			t.Fatalf("version %s not Succeeded: %v %+v", v, err, got.Properties)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func randomDisk(size int) []byte {
	b := make([]byte, size)
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < size; i += 4 << 20 { // every other 4 MiB block is data
		if (i/(4<<20))%2 == 0 {
			for j := i; j < i+4<<20 && j < size; j++ {
				b[j] = byte(r.Uint32())
			}
		}
	}
	return b
}

// TestImageVersions drives image versions through the Go SDK: a version
// from another version replicated to three regions with replica counts and
// storage types, replication status, latest with excludeFromLatest and its
// per-region override, allowed and refused changes, end of life, delete.
func TestImageVersions(t *testing.T) {
	s := mustStart(t, "")
	ctx := context.Background()
	sub := s.Admin.SubscriptionID
	cred := s.adminCredential(t)
	rgs, _ := armresources.NewResourceGroupsClient(sub, cred, s.armOptions(t))
	if _, err := rgs.CreateOrUpdate(ctx, "rg", armresources.ResourceGroup{Location: to.Ptr("eastus")}, nil); err != nil {
		t.Fatal(err)
	}
	galleries, _ := armcompute.NewGalleriesClient(sub, cred, s.armOptions(t))
	defs, _ := armcompute.NewGalleryImagesClient(sub, cred, s.armOptions(t))
	versions, _ := armcompute.NewGalleryImageVersionsClient(sub, cred, s.armOptions(t))
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
	imgID := galleon.ResourceID{SubscriptionID: sub, ResourceGroup: "rg", Namespace: "Microsoft.Compute",
		Types: []string{"galleries", "images"}, Names: []string{"gal", "img"}}
	v1 := imgID
	v1.Types, v1.Names = append(append([]string{}, imgID.Types...), "versions"), append(append([]string{}, imgID.Names...), "1.0.0")
	s.seedVersion(t, v1, "eastus", randomDisk(20<<20))
	waitVersion(t, versions, "rg", "gal", "img", "1.0.0")

	// Version 2.0.0 from 1.0.0, in three regions.
	two, one := int32(2), int32(1)
	v2 := armcompute.GalleryImageVersion{Location: to.Ptr("eastus"), Properties: &armcompute.GalleryImageVersionProperties{
		StorageProfile: &armcompute.GalleryImageVersionStorageProfile{Source: &armcompute.GalleryArtifactVersionFullSource{ID: to.Ptr(v1.String())}},
		PublishingProfile: &armcompute.GalleryImageVersionPublishingProfile{
			ReplicaCount: to.Ptr(one),
			TargetRegions: []*armcompute.TargetRegion{
				{Name: to.Ptr("eastus"), RegionalReplicaCount: to.Ptr(two)},
				{Name: to.Ptr("West US 2"), StorageAccountType: to.Ptr(armcompute.StorageAccountTypeStandardZRS)},
				{Name: to.Ptr("japaneast"), ExcludeFromLatest: to.Ptr(true)},
			},
		},
	}}
	p, err := versions.BeginCreateOrUpdate(ctx, "rg", "gal", "img", "2.0.0", v2, nil)
	if err != nil {
		t.Fatalf("create 2.0.0: %v", err)
	}
	got, err := p.PollUntilDone(ctx, pollFast())
	if err != nil {
		t.Fatalf("create 2.0.0: %v", err)
	}
	if *got.Properties.ProvisioningState != armcompute.GalleryProvisioningStateSucceeded {
		t.Fatalf("2.0.0 = %+v", got.Properties)
	}
	st, err := versions.Get(ctx, "rg", "gal", "img", "2.0.0", &armcompute.GalleryImageVersionsClientGetOptions{Expand: to.Ptr(armcompute.ReplicationStatusTypesReplicationStatus)})
	if err != nil {
		t.Fatal(err)
	}
	rs := st.Properties.ReplicationStatus
	if *rs.AggregatedState != armcompute.AggregatedReplicationStateCompleted || len(rs.Summary) != 3 {
		t.Fatalf("replication status = %+v", rs)
	}
	for _, r := range rs.Summary {
		if *r.State != armcompute.ReplicationStateCompleted || *r.Progress != 100 {
			t.Fatalf("region %s: %s %d%%", *r.Region, *r.State, *r.Progress)
		}
	}
	// Replicas: two in eastus (the second copied inside the region), one
	// ZRS replica in westus2, all with the stored bytes; egress only for
	// cross-region copies.
	reps, err := s.store.ListReplicas(ctx, imgID.String()+"/versions/2.0.0")
	if err != nil || len(reps) != 4 {
		t.Fatalf("replicas = %+v %v", reps, err)
	}
	for _, r := range reps {
		switch {
		case r.Region == "eastus" && r.Index == 1:
			if r.EgressBytes != 0 || r.SourceRegion != "eastus" || r.CopiedBytes == 0 {
				t.Errorf("second eastus replica should copy inside the region: %+v", r)
			}
		case r.Region == "westus2":
			if r.StorageAccountType != storage.StandardZRS || r.EgressBytes == 0 || r.SourceRegion != "eastus" {
				t.Errorf("westus2 replica: %+v", r)
			}
		}
		if r.StoredBytes != 12<<20 { // 3 data blocks of 4 MiB in a 20 MiB disk
			t.Errorf("replica %s/%d stores %d bytes", r.Region, r.Index, r.StoredBytes)
		}
	}

	// Latest per region (V1-V3).
	latest := func(region string) string {
		r, err := s.Gallery.Latest(ctx, imgID, region)
		if err != nil {
			return galleon.ErrorReason(err)
		}
		return r.Name
	}
	if l := latest("eastus"); l != "2.0.0" {
		t.Fatalf("latest in eastus = %s", l)
	}
	if l := latest("japaneast"); l != "LatestVersionNotFound" { // 2.0.0 excluded there; 1.0.0 not replicated there
		t.Fatalf("latest in japaneast = %s", l)
	}
	// Exclude globally, but keep eastus in latest by its own override.
	up, err := versions.BeginUpdate(ctx, "rg", "gal", "img", "2.0.0", armcompute.GalleryImageVersionUpdate{Properties: &armcompute.GalleryImageVersionProperties{
		PublishingProfile: &armcompute.GalleryImageVersionPublishingProfile{ExcludeFromLatest: to.Ptr(true), TargetRegions: []*armcompute.TargetRegion{
			{Name: to.Ptr("eastus"), RegionalReplicaCount: to.Ptr(two), ExcludeFromLatest: to.Ptr(false)},
			{Name: to.Ptr("westus2"), StorageAccountType: to.Ptr(armcompute.StorageAccountTypeStandardZRS)},
		}},
	}}, nil)
	if err != nil {
		t.Fatalf("patch: %v", err)
	}
	if _, err := up.PollUntilDone(ctx, pollFast()); err != nil {
		t.Fatalf("patch: %v", err)
	}
	if l := latest("eastus"); l != "2.0.0" {
		t.Fatalf("latest in eastus with a per-region override = %s", l)
	}
	if l := latest("westus2"); l != "LatestVersionNotFound" {
		t.Fatalf("latest in westus2 with 2.0.0 excluded = %s", l)
	}
	if reps, _ := s.store.ListReplicas(ctx, imgID.String()+"/versions/2.0.0"); len(reps) != 3 {
		t.Fatalf("removing japaneast should drop its replica: %+v", reps)
	}

	// Refused: a source region outside the target regions (V4), a bad
	// name, a change to what may not change (U1).
	bad := v2
	bad.Properties = &armcompute.GalleryImageVersionProperties{StorageProfile: v2.Properties.StorageProfile,
		PublishingProfile: &armcompute.GalleryImageVersionPublishingProfile{TargetRegions: []*armcompute.TargetRegion{{Name: to.Ptr("westus2")}}}}
	if _, err := versions.BeginCreateOrUpdate(ctx, "rg", "gal", "img", "3.0.0", bad, nil); err == nil || !strings.Contains(err.Error(), "source region") {
		t.Fatalf("V4: %v", err)
	}
	if _, err := versions.BeginCreateOrUpdate(ctx, "rg", "gal", "img", "3.0", v2, nil); armCode(err) != "InvalidGalleryImageVersionName" {
		t.Fatalf("bad version name: %v", err)
	}
	moved := v2
	moved.Properties = &armcompute.GalleryImageVersionProperties{StorageProfile: &armcompute.GalleryImageVersionStorageProfile{
		Source: &armcompute.GalleryArtifactVersionFullSource{ID: to.Ptr(imgID.String() + "/versions/2.0.0")}}}
	if _, err := versions.BeginCreateOrUpdate(ctx, "rg", "gal", "img", "1.0.0", moved, nil); armCode(err) != "PropertyChangeNotAllowed" {
		t.Fatalf("changing a version's source: %v", err)
	}

	// End of life: a version past it cannot be a source (V3).
	eol, err := versions.BeginUpdate(ctx, "rg", "gal", "img", "1.0.0", armcompute.GalleryImageVersionUpdate{Properties: &armcompute.GalleryImageVersionProperties{
		PublishingProfile: &armcompute.GalleryImageVersionPublishingProfile{EndOfLifeDate: to.Ptr(time.Now().Add(-time.Hour))}}}, nil)
	if err != nil {
		t.Fatalf("set end of life: %v", err)
	}
	if _, err := eol.PollUntilDone(ctx, pollFast()); err != nil {
		t.Fatal(err)
	}
	fromOld := v2
	fromOld.Properties = &armcompute.GalleryImageVersionProperties{StorageProfile: v2.Properties.StorageProfile}
	if _, err := versions.BeginCreateOrUpdate(ctx, "rg", "gal", "img", "4.0.0", fromOld, nil); armCode(err) != "ImageVersionEndOfLife" {
		t.Fatalf("source past end of life: %v", err)
	}

	// Delete: the image cannot go while it has versions; versions go as LROs.
	if _, err := defs.BeginDelete(ctx, "rg", "gal", "img", nil); armCode(err) != "NestedResourcesExist" {
		t.Fatalf("delete image with versions: %v", err)
	}
	for _, v := range []string{"2.0.0", "1.0.0"} {
		dp, err := versions.BeginDelete(ctx, "rg", "gal", "img", v, nil)
		if err != nil {
			t.Fatalf("delete %s: %v", v, err)
		}
		if _, err := dp.PollUntilDone(ctx, pollFast()); err != nil {
			t.Fatalf("delete %s: %v", v, err)
		}
	}
	if reps, _ := s.store.ListReplicas(ctx, imgID.String()); len(reps) != 0 {
		t.Fatalf("replicas left after deletes: %+v", reps)
	}
}
