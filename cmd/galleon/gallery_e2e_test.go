package main

import (
	"context"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources/v4"
)

func linuxImage(loc, pub, offer, sku string) armcompute.GalleryImage {
	return armcompute.GalleryImage{Location: to.Ptr(loc), Properties: &armcompute.GalleryImageProperties{
		OSType: to.Ptr(armcompute.OperatingSystemTypesLinux), OSState: to.Ptr(armcompute.OperatingSystemStateTypesGeneralized),
		Identifier: &armcompute.GalleryImageIdentifier{Publisher: to.Ptr(pub), Offer: to.Ptr(offer), SKU: to.Ptr(sku)},
	}}
}

// TestGalleriesAndDefinitions drives galleries and image definitions with
// the Go SDK (armcompute v8, api-version 2026-03-03): create, the U1 rules
// on change, D1 uniqueness, listing, and deletes as long-running operations
// that parents wait for.
func TestGalleriesAndDefinitions(t *testing.T) {
	s := mustStart(t, "")
	ctx := context.Background()
	sub := s.Admin.SubscriptionID
	cred := s.adminCredential(t)
	rgs, _ := armresources.NewResourceGroupsClient(sub, cred, s.armOptions(t))
	if _, err := rgs.CreateOrUpdate(ctx, "images", armresources.ResourceGroup{Location: to.Ptr("eastus")}, nil); err != nil {
		t.Fatal(err)
	}
	galleries, _ := armcompute.NewGalleriesClient(sub, cred, s.armOptions(t))
	defs, _ := armcompute.NewGalleryImagesClient(sub, cred, s.armOptions(t))

	p, err := galleries.BeginCreateOrUpdate(ctx, "images", "myGallery", armcompute.Gallery{Location: to.Ptr("eastus"),
		Properties: &armcompute.GalleryProperties{Description: to.Ptr("golden images")}}, nil)
	if err != nil {
		t.Fatalf("create gallery: %v", err)
	}
	g, err := p.PollUntilDone(ctx, pollFast())
	if err != nil {
		t.Fatalf("create gallery: %v", err)
	}
	if *g.Properties.ProvisioningState != armcompute.GalleryProvisioningStateSucceeded ||
		*g.Properties.Identifier.UniqueName != sub+"-MYGALLERY" || *g.Properties.SharingProfile.Permissions != armcompute.GallerySharingPermissionTypesPrivate {
		t.Fatalf("gallery = %+v", g.Properties)
	}
	if _, err := galleries.BeginCreateOrUpdate(ctx, "images", "bad-", armcompute.Gallery{Location: to.Ptr("eastus")}, nil); armCode(err) != "InvalidGalleryName" {
		t.Fatalf("bad gallery name: %v", err)
	}
	if _, err := galleries.BeginCreateOrUpdate(ctx, "nope", "g2", armcompute.Gallery{Location: to.Ptr("eastus")}, nil); armCode(err) != "ResourceGroupNotFound" {
		t.Fatalf("gallery in a missing group: %v", err)
	}
	// U1: the description may change; the location may not.
	up, err := galleries.BeginUpdate(ctx, "images", "myGallery", armcompute.GalleryUpdate{Properties: &armcompute.GalleryProperties{Description: to.Ptr("v2")}}, nil)
	if err != nil {
		t.Fatalf("patch gallery: %v", err)
	}
	if g, err := up.PollUntilDone(ctx, pollFast()); err != nil || *g.Properties.Description != "v2" {
		t.Fatalf("patch gallery: %v", err)
	}
	if _, err := galleries.BeginCreateOrUpdate(ctx, "images", "myGallery", armcompute.Gallery{Location: to.Ptr("westus2")}, nil); armCode(err) != "PropertyChangeNotAllowed" || !strings.Contains(err.Error(), "location") {
		t.Fatalf("moving a gallery: %v", err)
	}

	// Definitions: required fields, D1, changes.
	createDef := func(name string, img armcompute.GalleryImage) error {
		p, err := defs.BeginCreateOrUpdate(ctx, "images", "myGallery", name, img, nil)
		if err == nil {
			_, err = p.PollUntilDone(ctx, pollFast())
		}
		return err
	}
	if err := createDef("ubuntu", linuxImage("eastus", "contoso", "ubuntu", "22_04")); err != nil {
		t.Fatalf("create definition: %v", err)
	}
	if err := createDef("ubuntu-copy", linuxImage("eastus", "Contoso", "Ubuntu", "22_04")); armCode(err) != "GalleryImageIdentifierAlreadyExists" {
		t.Fatalf("D1 duplicate: %v", err)
	}
	if err := createDef("ubuntu-arm", linuxImage("japaneast", "contoso", "ubuntu", "22_04-arm")); err != nil {
		t.Fatalf("sharing two of three identifier parts (and another region): %v", err)
	}
	noOS := linuxImage("eastus", "a", "b", "c")
	noOS.Properties.OSType = nil
	if err := createDef("no-os", noOS); armCode(err) != "InvalidParameter" || !strings.Contains(err.Error(), "osType") {
		t.Fatalf("missing osType: %v", err)
	}
	upd, err := defs.BeginUpdate(ctx, "images", "myGallery", "ubuntu", armcompute.GalleryImageUpdate{Properties: &armcompute.GalleryImageProperties{
		Description: to.Ptr("Ubuntu 22.04"), EndOfLifeDate: to.Ptr(mustTime(t, "2030-01-01T00:00:00Z")),
	}}, nil)
	if err != nil {
		t.Fatalf("patch definition: %v", err)
	}
	if d, err := upd.PollUntilDone(ctx, pollFast()); err != nil || *d.Properties.Description != "Ubuntu 22.04" || *d.Properties.OSType != armcompute.OperatingSystemTypesLinux {
		t.Fatalf("patch definition: %v", err)
	}
	changed := linuxImage("eastus", "contoso", "ubuntu", "22_04")
	changed.Properties.OSState = to.Ptr(armcompute.OperatingSystemStateTypesSpecialized)
	if err := createDef("ubuntu", changed); armCode(err) != "PropertyChangeNotAllowed" || !strings.Contains(err.Error(), "properties.osState") {
		t.Fatalf("changing osState: %v", err)
	}

	var names []string
	for pg := defs.NewListByGalleryPager("images", "myGallery", nil); pg.More(); {
		page, err := pg.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range page.Value {
			names = append(names, *d.Name)
		}
	}
	if strings.Join(names, ",") != "ubuntu,ubuntu-arm" {
		t.Fatalf("definitions = %v", names)
	}
	count := 0
	for pg := galleries.NewListPager(nil); pg.More(); {
		page, err := pg.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		count += len(page.Value)
	}
	if count != 1 {
		t.Fatalf("galleries in subscription = %d", count)
	}

	// Galleon does not soft-delete: the soft-deleted list is empty.
	sd := "/subscriptions/" + sub + "/resourceGroups/images/providers/Microsoft.Compute/galleries/myGallery/softdeletedartifacttypes/Images/artifacts/ubuntu/versions?api-version=2024-03-03"
	if st, _, _ := s.rawARM(t, "GET", sd, s.adminToken(t), ""); st != 200 {
		t.Fatalf("soft-deleted list: %d", st)
	}

	// A parent with children cannot be deleted; right after the children's
	// deletes finish, it can.
	if _, err := galleries.BeginDelete(ctx, "images", "myGallery", nil); armCode(err) != "NestedResourcesExist" {
		t.Fatalf("deleting a gallery with definitions: %v", err)
	}
	for _, n := range []string{"ubuntu", "ubuntu-arm"} {
		dp, err := defs.BeginDelete(ctx, "images", "myGallery", n, nil)
		if err != nil {
			t.Fatalf("delete %s: %v", n, err)
		}
		if _, err := dp.PollUntilDone(ctx, pollFast()); err != nil {
			t.Fatalf("delete %s: %v", n, err)
		}
	}
	gp, err := galleries.BeginDelete(ctx, "images", "myGallery", nil)
	if err != nil {
		t.Fatalf("delete gallery: %v", err)
	}
	if _, err := gp.PollUntilDone(ctx, pollFast()); err != nil {
		t.Fatalf("delete gallery: %v", err)
	}
	if _, err := galleries.Get(ctx, "images", "myGallery", nil); armCode(err) != "ResourceNotFound" {
		t.Fatalf("deleted gallery: %v", err)
	}
}

// TestGalleryQuota checks the per-subscription, per-region limit (L1),
// configured low.
func TestGalleryQuota(t *testing.T) {
	s := mustStartWith(t, "", func(c *Config) { c.Limits.GalleriesPerRegion = 1 })
	ctx := context.Background()
	cred := s.adminCredential(t)
	rgs, _ := armresources.NewResourceGroupsClient(s.Admin.SubscriptionID, cred, s.armOptions(t))
	if _, err := rgs.CreateOrUpdate(ctx, "rg", armresources.ResourceGroup{Location: to.Ptr("eastus")}, nil); err != nil {
		t.Fatal(err)
	}
	galleries, _ := armcompute.NewGalleriesClient(s.Admin.SubscriptionID, cred, s.armOptions(t))
	create := func(name, loc string) error {
		_, err := galleries.BeginCreateOrUpdate(ctx, "rg", name, armcompute.Gallery{Location: to.Ptr(loc)}, nil)
		return err
	}
	if err := create("g1", "eastus"); err != nil {
		t.Fatal(err)
	}
	if err := create("g2", "eastus"); armCode(err) != "QuotaExceeded" || !strings.Contains(err.Error(), "eastus") {
		t.Fatalf("over quota: %v", err)
	}
	if err := create("g3", "westus2"); err != nil {
		t.Fatalf("another region has its own quota: %v", err)
	}
}
