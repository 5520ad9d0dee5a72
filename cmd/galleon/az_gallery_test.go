package main

import (
	"strings"
	"testing"
)

// TestAzGallery drives `az sig` (gallery and image-definition commands, the
// api-versions Debian's az 2.45 sends) against a real server.
func TestAzGallery(t *testing.T) {
	_, az := azAdmin(t)
	az.ok("group", "create", "-n", "sig", "-l", "eastus")

	type gallery struct {
		Name, Location, Description string
		Identifier                  struct{ UniqueName string }
		ProvisioningState           string
	}
	var g gallery
	az.json(&g, "sig", "create", "-g", "sig", "-r", "myGallery", "--description", "golden images")
	if g.Name != "myGallery" || g.Location != "eastus" || g.ProvisioningState != "Succeeded" || !strings.HasSuffix(g.Identifier.UniqueName, "-MYGALLERY") {
		t.Fatalf("sig create = %+v", g)
	}
	az.json(&g, "sig", "update", "-g", "sig", "-r", "myGallery", "--set", "description=v2")
	if g.Description != "v2" {
		t.Fatalf("sig update = %+v", g)
	}
	var list []gallery
	az.json(&list, "sig", "list", "-g", "sig")
	if len(list) != 1 || list[0].Description != "v2" {
		t.Fatalf("sig list = %+v", list)
	}

	type definition struct {
		Name, OsType, OsState, HyperVGeneration, Description string
		Identifier                                           struct{ Publisher, Offer, Sku string }
	}
	var d definition
	az.json(&d, "sig", "image-definition", "create", "-g", "sig", "-r", "myGallery", "-i", "ubuntu",
		"--publisher", "contoso", "--offer", "ubuntu", "--sku", "22_04", "--os-type", "Linux", "--os-state", "Generalized")
	if d.OsType != "Linux" || d.OsState != "Generalized" || d.HyperVGeneration != "V1" || d.Identifier.Sku != "22_04" {
		t.Fatalf("image-definition create = %+v", d)
	}
	stderr := az.fails("sig", "image-definition", "create", "-g", "sig", "-r", "myGallery", "-i", "dup",
		"--publisher", "contoso", "--offer", "ubuntu", "--sku", "22_04", "--os-type", "Linux")
	if !strings.Contains(stderr, "GalleryImageIdentifierAlreadyExists") && !strings.Contains(stderr, "already has publisher") {
		t.Fatalf("duplicate identifier: %s", stderr)
	}
	az.json(&d, "sig", "image-definition", "update", "-g", "sig", "-r", "myGallery", "-i", "ubuntu", "--set", "description=Ubuntu LTS")
	if d.Description != "Ubuntu LTS" {
		t.Fatalf("image-definition update = %+v", d)
	}
	stderr = az.fails("sig", "image-definition", "update", "-g", "sig", "-r", "myGallery", "-i", "ubuntu", "--set", "osState=Specialized")
	if !strings.Contains(stderr, "properties.osState") {
		t.Fatalf("changing osState: %s", stderr)
	}
	var defs []definition
	az.json(&defs, "sig", "image-definition", "list", "-g", "sig", "-r", "myGallery")
	if len(defs) != 1 || defs[0].Name != "ubuntu" {
		t.Fatalf("image-definition list = %+v", defs)
	}
	if stderr := az.fails("sig", "delete", "-g", "sig", "-r", "myGallery"); !strings.Contains(stderr, "NestedResourcesExist") && !strings.Contains(stderr, "still holds") {
		t.Fatalf("deleting a gallery with definitions: %s", stderr)
	}
	az.ok("sig", "image-definition", "delete", "-g", "sig", "-r", "myGallery", "-i", "ubuntu")
	az.ok("sig", "delete", "-g", "sig", "-r", "myGallery")
	az.json(&list, "sig", "list", "-g", "sig")
	if len(list) != 0 {
		t.Fatalf("sig list after delete = %+v", list)
	}
}
