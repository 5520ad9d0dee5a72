package main

import (
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8"
	"github.com/google/uuid"

	"github.com/galleonhq/galleon"
)

// TestAzSharing drives the sharing commands of Debian's az 2.45: a
// community gallery (create with the publisher flags, enable-community,
// show, list-community through Resource Graph, the community definition
// and version lists, delete refused until reset) and direct sharing
// (update --permissions Groups, share add/remove, list-shared, reset).
func TestAzSharing(t *testing.T) {
	m, az := azAdmin(t)
	s := &testServer{Main: m}
	sub := m.Admin.SubscriptionID
	az.ok("group", "create", "-n", "sig", "-l", "eastus")

	community := []string{"--permissions", "Community", "--publisher-uri", "https://contoso.example", "--publisher-email", "images@contoso.example",
		"--eula", "https://contoso.example/eula", "--public-name-prefix", "Contoso"}
	bad := append(append([]string{"sig", "create", "-g", "sig", "-r", "leaky"}, community[:6]...), "--eula", "https://contoso.example/eula.pdf?sv=2022-11-02&sig=abc", "--public-name-prefix", "Contoso")
	if stderr := az.fails(bad...); !strings.Contains(stderr, "SAS") {
		t.Fatalf("a SAS token in the EULA: %s", stderr)
	}
	type gallery struct {
		Name           string
		SharingProfile struct {
			Permissions string
			Groups      []struct {
				Type string
				Ids  []string
			}
			CommunityGalleryInfo *struct {
				CommunityGalleryEnabled bool
				PublicNames             []string
				PublisherContact        string
			}
		}
	}
	var g gallery
	az.json(&g, append([]string{"sig", "create", "-g", "sig", "-r", "pubgal"}, community...)...)
	if g.SharingProfile.Permissions != "Community" || g.SharingProfile.CommunityGalleryInfo == nil || g.SharingProfile.CommunityGalleryInfo.CommunityGalleryEnabled {
		t.Fatalf("sig create --permissions Community = %+v", g)
	}
	az.ok("sig", "image-definition", "create", "-g", "sig", "-r", "pubgal", "-i", "ubuntu",
		"--publisher", "Contoso", "--offer", "UbuntuServer", "--sku", "22_04", "--os-type", "Linux", "--os-state", "Generalized")
	s.seedVersion(t, galleon.ResourceID{SubscriptionID: sub, ResourceGroup: "sig", Namespace: "Microsoft.Compute",
		Types: []string{"galleries", "images", "versions"}, Names: []string{"pubgal", "ubuntu", "1.0.0"}}, "eastus", randomDisk(1<<20))
	versions, _ := armcompute.NewGalleryImageVersionsClient(sub, s.adminCredential(t), s.armOptions(t))
	waitVersion(t, versions, "sig", "pubgal", "ubuntu", "1.0.0")

	az.ok("sig", "share", "enable-community", "-g", "sig", "-r", "pubgal")
	az.json(&g, "sig", "show", "-g", "sig", "-r", "pubgal")
	ci := g.SharingProfile.CommunityGalleryInfo
	if ci == nil || !ci.CommunityGalleryEnabled || len(ci.PublicNames) != 1 || uuid.Validate(strings.TrimPrefix(ci.PublicNames[0], "Contoso-")) != nil {
		t.Fatalf("sig show after enable-community = %+v", g.SharingProfile)
	}
	pn := ci.PublicNames[0]

	var listed []struct {
		ID, Name, Location, UniqueID string
		CommunityMetadata            struct{ PublisherContact string }
	}
	az.json(&listed, "sig", "list-community", "--location", "eastus")
	if len(listed) != 1 || listed[0].Name != pn || listed[0].UniqueID != "/CommunityGalleries/"+pn || listed[0].CommunityMetadata.PublisherContact != "images@contoso.example" ||
		strings.Contains(listed[0].ID, sub) {
		t.Fatalf("sig list-community = %+v", listed)
	}
	var shown struct{ Name, UniqueID string } // az flattens identifier
	az.json(&shown, "sig", "show-community", "--public-gallery-name", pn, "--location", "eastus")
	if shown.UniqueID != "/CommunityGalleries/"+pn {
		t.Fatalf("sig show-community = %+v", shown)
	}
	var defs []struct {
		Name       string
		Identifier struct{ Publisher, Offer, Sku string }
	}
	az.json(&defs, "sig", "image-definition", "list-community", "--public-gallery-name", pn, "--location", "eastus")
	if len(defs) != 1 || defs[0].Name != "ubuntu" || defs[0].Identifier.Sku != "22_04" {
		t.Fatalf("sig image-definition list-community = %+v", defs)
	}
	var vers []struct{ Name, UniqueID string }
	az.json(&vers, "sig", "image-version", "list-community", "--public-gallery-name", pn, "-i", "ubuntu", "--location", "eastus")
	if len(vers) != 1 || vers[0].Name != "1.0.0" || vers[0].UniqueID != "/CommunityGalleries/"+pn+"/Images/ubuntu/Versions/1.0.0" {
		t.Fatalf("sig image-version list-community = %+v", vers)
	}
	if stderr := az.fails("sig", "delete", "-g", "sig", "-r", "pubgal"); !strings.Contains(stderr, "az sig share reset") {
		t.Fatalf("deleting a community gallery: %s", stderr)
	}
	az.ok("sig", "share", "reset", "-g", "sig", "-r", "pubgal")
	az.json(&listed, "sig", "list-community", "--location", "eastus")
	if len(listed) != 0 {
		t.Fatalf("sig list-community after reset = %+v", listed)
	}

	// Direct sharing with this subscription and this tenant.
	az.ok("sig", "create", "-g", "sig", "-r", "corp")
	if stderr := az.fails("sig", "share", "add", "-g", "sig", "-r", "corp", "--subscription-ids", sub); !strings.Contains(stderr, "--permissions Groups") {
		t.Fatalf("share add on a private gallery: %s", stderr)
	}
	az.json(&g, "sig", "update", "-g", "sig", "-r", "corp", "--permissions", "Groups")
	if g.SharingProfile.Permissions != "Groups" {
		t.Fatalf("sig update --permissions Groups = %+v", g)
	}
	az.ok("sig", "share", "add", "-g", "sig", "-r", "corp", "--subscription-ids", sub, "--tenant-ids", m.Admin.TenantID)
	az.json(&g, "sig", "show", "-g", "sig", "-r", "corp", "--sharing-groups")
	if len(g.SharingProfile.Groups) != 2 || g.SharingProfile.Groups[0].Ids[0] != sub {
		t.Fatalf("sig show --sharing-groups = %+v", g.SharingProfile)
	}
	var shared []struct{ Name, UniqueID string }
	unique := sub + "-CORP"
	az.json(&shared, "sig", "list-shared", "--location", "eastus")
	if len(shared) != 1 || shared[0].Name != unique || shared[0].UniqueID != "/SharedGalleries/"+unique {
		t.Fatalf("sig list-shared = %+v", shared)
	}
	az.ok("sig", "share", "remove", "-g", "sig", "-r", "corp", "--subscription-ids", sub)
	az.json(&shared, "sig", "list-shared", "--location", "eastus")
	if len(shared) != 0 {
		t.Fatalf("sig list-shared after remove = %+v", shared)
	}
	az.json(&shared, "sig", "list-shared", "--location", "eastus", "--shared-to", "tenant")
	if len(shared) != 1 {
		t.Fatalf("sig list-shared --shared-to tenant = %+v", shared)
	}
	az.ok("sig", "share", "reset", "-g", "sig", "-r", "corp")
	az.json(&shared, "sig", "list-shared", "--location", "eastus", "--shared-to", "tenant")
	az.json(&g, "sig", "show", "-g", "sig", "-r", "corp", "--sharing-groups")
	if len(shared) != 0 || g.SharingProfile.Permissions != "Private" || len(g.SharingProfile.Groups) != 0 {
		t.Fatalf("after sig share reset: %+v %+v", shared, g.SharingProfile)
	}
}
