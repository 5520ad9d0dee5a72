package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8"

	"github.com/galleonhq/galleon/diskimage"
)

// TestDownloadLatestUsage uploads a disk, makes a version in two regions,
// and checks: downloads as raw (whole and by Range), fixed VHD and qcow2
// give back the uploaded content; GET versions/latest; usage per replica.
func TestDownloadLatestUsage(t *testing.T) {
	s := mustStart(t, "")
	ctx := context.Background()
	sub := s.Admin.SubscriptionID
	cred := s.adminCredential(t)
	opts := s.armOptions(t)
	s.mustGalleryImage(t, "eastus")
	disks, _ := armcompute.NewDisksClient(sub, cred, opts)
	versions, _ := armcompute.NewGalleryImageVersionsClient(sub, cred, opts)
	raw := randomDisk(20 << 20)
	if err := s.uploadDisk(t, disks, "rg", "d", "eastus", fixedVHD(t, raw)); err != nil {
		t.Fatal(err)
	}
	diskID := "/subscriptions/" + sub + "/resourceGroups/rg/providers/Microsoft.Compute/disks/d"
	p, err := versions.BeginCreateOrUpdate(ctx, "rg", "gal", "img", "1.2.3", armcompute.GalleryImageVersion{Location: to.Ptr("eastus"),
		Properties: &armcompute.GalleryImageVersionProperties{
			StorageProfile:    &armcompute.GalleryImageVersionStorageProfile{OSDiskImage: &armcompute.GalleryOSDiskImage{Source: &armcompute.GalleryDiskImageSource{ID: to.Ptr(diskID)}}},
			PublishingProfile: &armcompute.GalleryImageVersionPublishingProfile{TargetRegions: []*armcompute.TargetRegion{{Name: to.Ptr("eastus")}, {Name: to.Ptr("westus2")}}},
		}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.PollUntilDone(ctx, pollFast()); err != nil {
		t.Fatal(err)
	}

	tok := s.adminToken(t)
	base := "/subscriptions/" + sub + "/resourceGroups/rg/providers/Microsoft.Compute/galleries/gal/images/img/versions/"
	get := func(path string, hdr map[string]string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest("GET", s.BaseURL+path, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := s.httpClient(t).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	const v = "?api-version=2024-03-03"
	resp, body := get(base+"1.2.3/disks/os/content"+v+"&format=raw&region=westus2", nil)
	if resp.StatusCode != 200 || !bytes.Equal(body, raw) || resp.Header.Get("x-galleon-disk-digest") == "" {
		t.Fatalf("raw download: %d, %d bytes", resp.StatusCode, len(body))
	}
	resp, body = get(base+"1.2.3/disks/os/content"+v, map[string]string{"Range": "bytes=4194300-4194403"})
	if resp.StatusCode != 206 || !bytes.Equal(body, raw[4194300:4194404]) {
		t.Fatalf("ranged download: %d %q", resp.StatusCode, resp.Header.Get("Content-Range"))
	}
	resp, body = get(base+"1.2.3/disks/os/content"+v+"&format=vhd", nil)
	img, err := diskimage.Open(bytes.NewReader(body), int64(len(body)))
	if resp.StatusCode != 200 || err != nil || img.Format != diskimage.FormatVHDFixed || !readsAs(t, img, raw) {
		t.Fatalf("vhd download: %d %v", resp.StatusCode, err)
	}
	resp, body = get(base+"1.2.3/disks/os/content"+v+"&format=qcow2", nil)
	img, err = diskimage.Open(bytes.NewReader(body), int64(len(body)))
	if resp.StatusCode != 200 || err != nil || img.Format != diskimage.FormatQCOW2 || !readsAs(t, img, raw) {
		t.Fatalf("qcow2 download: %d %v", resp.StatusCode, err)
	}
	if resp, _ := get(base+"1.2.3/disks/os/content"+v+"&format=vmdk", nil); resp.StatusCode != 400 {
		t.Fatalf("unknown format: %d", resp.StatusCode)
	}
	if resp, _ := get(base+"1.2.3/disks/7/content"+v, nil); resp.StatusCode != 404 {
		t.Fatalf("unknown disk: %d", resp.StatusCode)
	}

	// latest resolves per region.
	resp, body = get(base+"latest"+v+"&region=westus2", nil)
	var lv struct{ Name string }
	if resp.StatusCode != 200 || json.Unmarshal(body, &lv) != nil || lv.Name != "1.2.3" {
		t.Fatalf("latest: %d %s", resp.StatusCode, body)
	}

	// Usage: two replicas of 3 stored 4 MiB blocks; the westus2 copy crossed regions.
	resp, body = get("/subscriptions/"+sub+"/providers/Microsoft.Compute/galleryUsage"+v, nil)
	var u struct {
		Value []struct {
			Region                   string
			StoredBytes, EgressBytes int64
		}
		Totals struct{ StoredBytes, EgressBytes, Replicas int64 }
	}
	if resp.StatusCode != 200 || json.Unmarshal(body, &u) != nil {
		t.Fatalf("usage: %d %s", resp.StatusCode, body)
	}
	if u.Totals.Replicas != 2 || u.Totals.StoredBytes != 2*12<<20 || u.Totals.EgressBytes != 12<<20 {
		t.Fatalf("usage totals = %+v (%s)", u.Totals, body)
	}
}

func readsAs(t *testing.T, img *diskimage.Image, want []byte) bool {
	t.Helper()
	if img.Size != int64(len(want)) {
		t.Logf("size %d, want %d", img.Size, len(want))
		return false
	}
	got := make([]byte, img.Size)
	if _, err := img.ReadAt(got, 0); err != nil && err != io.EOF {
		t.Log(err)
		return false
	}
	if !bytes.Equal(got, want) {
		for i := range got {
			if got[i] != want[i] {
				t.Logf("first difference at byte %d", i)
				break
			}
		}
		return false
	}
	return true
}
