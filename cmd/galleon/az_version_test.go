package main

import (
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8"
)

// TestAzImageVersion follows the documents' az flow for versions: a
// snapshot and a managed image of an uploaded disk, `az sig image-version
// create` from each, show --expand ReplicationStatus, update, list.
func TestAzImageVersion(t *testing.T) {
	m, az := azAdmin(t)
	az.ok("group", "create", "-n", "rg", "-l", "eastus")

	// Upload a disk with the Go SDK (the az 2.45 upload path needs azcopy).
	s := &testServer{Main: m}
	disks, _ := armcompute.NewDisksClient(m.Admin.SubscriptionID, s.adminCredential(t), s.armOptions(t))
	if err := s.uploadDisk(t, disks, "rg", "osdisk", "eastus", fixedVHD(t, randomDisk(20<<20))); err != nil {
		t.Fatal(err)
	}
	var snap struct{ ID string }
	az.json(&snap, "snapshot", "create", "-g", "rg", "-n", "snap", "--source", "osdisk")
	var img struct{ ID string }
	az.json(&img, "image", "create", "-g", "rg", "-n", "managed", "--source", snap.ID, "--os-type", "Linux")
	az.ok("sig", "create", "-g", "rg", "-r", "gal")
	az.ok("sig", "image-definition", "create", "-g", "rg", "-r", "gal", "-i", "img",
		"--publisher", "p", "--offer", "o", "--sku", "s", "--os-type", "Linux", "--os-state", "Generalized")

	type version struct {
		Name              string
		ProvisioningState string
		PublishingProfile struct {
			ExcludeFromLatest bool
			TargetRegions     []struct {
				Name                 string
				RegionalReplicaCount int
			}
		}
		ReplicationStatus struct {
			AggregatedState string
			Summary         []struct {
				Region, State string
				Progress      int
			}
		}
	}
	var v version
	az.json(&v, "sig", "image-version", "create", "-g", "rg", "-r", "gal", "-i", "img", "-e", "1.0.0",
		"--managed-image", img.ID, "--target-regions", "eastus", "westus2=2")
	if v.ProvisioningState != "Succeeded" || len(v.PublishingProfile.TargetRegions) != 2 {
		t.Fatalf("image-version create --managed-image = %+v", v)
	}
	az.json(&v, "sig", "image-version", "create", "-g", "rg", "-r", "gal", "-i", "img", "-e", "1.0.1",
		"--os-snapshot", snap.ID)
	if v.ProvisioningState != "Succeeded" {
		t.Fatalf("image-version create --os-snapshot = %+v", v)
	}
	az.json(&v, "sig", "image-version", "show", "-g", "rg", "-r", "gal", "-i", "img", "-e", "1.0.0", "--expand", "ReplicationStatus")
	if v.ReplicationStatus.AggregatedState != "Completed" || len(v.ReplicationStatus.Summary) != 2 {
		t.Fatalf("show --expand ReplicationStatus = %+v", v.ReplicationStatus)
	}
	az.json(&v, "sig", "image-version", "update", "-g", "rg", "-r", "gal", "-i", "img", "-e", "1.0.0",
		"--set", "publishingProfile.excludeFromLatest=true")
	if !v.PublishingProfile.ExcludeFromLatest {
		t.Fatalf("image-version update = %+v", v.PublishingProfile)
	}
	az.json(&v, "sig", "image-version", "update", "-g", "rg", "-r", "gal", "-i", "img", "-e", "1.0.0",
		"--add", "publishingProfile.targetRegions", "name=japaneast")
	var list []version
	az.json(&list, "sig", "image-version", "list", "-g", "rg", "-r", "gal", "-i", "img")
	if len(list) != 2 {
		t.Fatalf("image-version list = %+v", list)
	}
	if stderr := az.fails("sig", "image-version", "update", "-g", "rg", "-r", "gal", "-i", "img", "-e", "1.0.0",
		"--set", "storageProfile.source.id="+snap.ID); !strings.Contains(stderr, "PropertyChangeNotAllowed") && !strings.Contains(stderr, "not allowed") {
		t.Fatalf("refused update: %s", stderr)
	}
	az.ok("sig", "image-version", "delete", "-g", "rg", "-r", "gal", "-i", "img", "-e", "1.0.1")
}
