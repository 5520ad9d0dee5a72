package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/pageblob"
)

// TestVersionFromVHDBlob creates a storage account, uploads a VHD page blob
// with a container SAS from listServiceSas, and makes a version from the
// blob URI (osDiskImage.source.uri + storageAccountId).
func TestVersionFromVHDBlob(t *testing.T) {
	s := mustStart(t, "")
	ctx := context.Background()
	sub := s.Admin.SubscriptionID
	cred := s.adminCredential(t)
	opts := s.armOptions(t)
	s.mustGalleryImage(t, "eastus")
	tok := s.adminToken(t)
	acct := "/subscriptions/" + sub + "/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/vhds1"
	if st, code, _ := s.rawARM(t, "PUT", acct+"?api-version=2022-09-01", tok, `{"location":"eastus","sku":{"name":"Standard_LRS"},"kind":"StorageV2"}`); st != 200 {
		t.Fatalf("create storage account: %d %s", st, code)
	}
	if st, code, _ := s.rawARM(t, "PUT", strings.Replace(acct, "vhds1", "Bad_Name", 1)+"?api-version=2022-09-01", tok, `{"location":"eastus"}`); st != 400 || code != "AccountNameInvalid" {
		t.Fatalf("bad account name: %d %s", st, code)
	}
	body := `{"canonicalizedResource":"/blob/vhds1/images","signedResource":"c","signedPermission":"rcw","signedExpiry":"` + time.Now().Add(time.Hour).UTC().Format(time.RFC3339) + `"}`
	resp, err := s.httpClient(t).Do(mustRequest(t, "POST", s.BaseURL+acct+"/listServiceSas?api-version=2022-09-01", tok, body))
	if err != nil {
		t.Fatal(err)
	}
	var sas struct{ ServiceSasToken string }
	if err := json.NewDecoder(resp.Body).Decode(&sas); err != nil || resp.StatusCode != 200 || sas.ServiceSasToken == "" {
		t.Fatalf("listServiceSas: %d %v", resp.StatusCode, err)
	}
	resp.Body.Close()

	raw := randomDisk(20 << 20)
	vhd := fixedVHD(t, raw)
	blobURL := s.BaseURL + "/vhds1/images/os.vhd"
	pb, err := pageblob.NewClientWithNoCredential(blobURL+"?"+sas.ServiceSasToken, &pageblob.ClientOptions{ClientOptions: policy.ClientOptions{Transport: s.httpClient(t)}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pb.Create(ctx, int64(len(vhd)), nil); err != nil {
		t.Fatalf("create page blob: %v", err)
	}
	for off := 0; off < len(vhd); off += 4 << 20 {
		end := min(off+4<<20, len(vhd))
		if _, err := pb.UploadPages(ctx, nopCloser{bytes.NewReader(vhd[off:end])}, blob.HTTPRange{Offset: int64(off), Count: int64(end - off)}, nil); err != nil {
			t.Fatalf("upload pages: %v", err)
		}
	}

	versions, _ := armcompute.NewGalleryImageVersionsClient(sub, cred, opts)
	mk := func(uri, account string) armcompute.GalleryImageVersion {
		return armcompute.GalleryImageVersion{Location: to.Ptr("eastus"), Properties: &armcompute.GalleryImageVersionProperties{
			StorageProfile: &armcompute.GalleryImageVersionStorageProfile{OSDiskImage: &armcompute.GalleryOSDiskImage{
				Source: &armcompute.GalleryDiskImageSource{URI: to.Ptr(uri), StorageAccountID: to.Ptr(account)}}},
			PublishingProfile: &armcompute.GalleryImageVersionPublishingProfile{TargetRegions: []*armcompute.TargetRegion{{Name: to.Ptr("eastus")}, {Name: to.Ptr("westus2")}}},
		}}
	}
	if _, err := versions.BeginCreateOrUpdate(ctx, "rg", "gal", "img", "0.9.0", mk(blobURL, ""), nil); err == nil || !strings.Contains(err.Error(), "storageAccountId") {
		t.Fatalf("uri without account: %v", err)
	}
	if _, err := versions.BeginCreateOrUpdate(ctx, "rg", "gal", "img", "0.9.1", mk(s.BaseURL+"/vhds1/images/missing.vhd", acct), nil); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("missing blob: %v", err)
	}
	p, err := versions.BeginCreateOrUpdate(ctx, "rg", "gal", "img", "1.0.0", mk(blobURL, acct), nil)
	if err != nil {
		t.Fatalf("version from VHD: %v", err)
	}
	if v, err := p.PollUntilDone(ctx, pollFast()); err != nil || *v.Properties.ProvisioningState != armcompute.GalleryProvisioningStateSucceeded {
		t.Fatalf("version from VHD: %v", err)
	}
	resp, err = s.httpClient(t).Do(mustRequest(t, "GET", s.BaseURL+"/subscriptions/"+sub+"/resourceGroups/rg/providers/Microsoft.Compute/galleries/gal/images/img/versions/1.0.0/disks/os/content?api-version=2024-03-03&region=westus2", tok, ""))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got bytes.Buffer
	if _, err := got.ReadFrom(resp.Body); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || !bytes.Equal(got.Bytes(), raw) {
		t.Fatalf("download of the VHD-sourced version: %d, %d bytes", resp.StatusCode, got.Len())
	}
}
