package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8"
	"github.com/google/uuid"

	"github.com/galleonhq/galleon"
)

// TestAzCrossTenant follows seed 003's az steps for the app-registration
// method: the app signs in to tenant 1, then tenant 2, and az creates a
// version in tenant 2 from tenant 1's version, sending tenant 1's token in
// x-ms-authorization-auxiliary (VMs are a later issue; the version is the
// same cross-tenant read). Then delegated management: az lists the
// delegated subscription with managedByTenants.
func TestAzCrossTenant(t *testing.T) {
	if os.Getenv("GALLEON_TEST_AZ") != "1" {
		t.Skip("set GALLEON_TEST_AZ=1 to run the az CLI end-to-end test (needs az and bash on PATH)")
	}
	ctx := context.Background()
	m := azTestMain(t)
	s := &testServer{Main: m}
	a := s.ctNewTenant(t, "tenant1.example")
	b := s.ctNewTenant(t, "tenant2.example")
	src := s.ctSeedImages(t, a, "images", "gal1", "centos")

	// Tenant 1: the multi-tenant app, with Reader on the gallery.
	app := s.ctNewApp(t, a.ID, "image sharing", true)
	ownerA := s.ctToken(t, s.credential(t, a.ID, a.Owner.AppID, a.Owner.Secret))
	assign := func(token, scope, principalID, role string) {
		t.Helper()
		r := s.ctARM(t, "PUT", scope+"/providers/Microsoft.Authorization/roleAssignments/"+uuid.NewString()+"?api-version=2022-04-01", token, "",
			map[string]any{"properties": map[string]any{"roleDefinitionId": "/providers/Microsoft.Authorization/roleDefinitions/" + role, "principalId": principalID}})
		if r.status != 201 {
			t.Fatalf("assign %s: %d %s", role, r.status, r.message)
		}
	}
	assign(ownerA, "/subscriptions/"+a.Sub+"/resourceGroups/images/providers/Microsoft.Compute/galleries/gal1", app.ObjectID, galleon.ReaderRoleID)

	// Tenant 2: the administrator consents in the browser; the app gets
	// Contributor on a resource group holding a gallery and definition.
	const password = "correct horse battery staple"
	s.ctNewUser(t, b.ID, "admin@tenant2.example", password, galleon.RoleGlobalAdministrator)
	s.ctConsent(t, "/"+b.ID+"/oauth2/authorize?client_id="+app.AppID+"&response_type=code&redirect_uri=https%3A%2F%2Fwww.microsoft.com%2F",
		"admin@tenant2.example", password)
	ownerB := s.credential(t, b.ID, b.Owner.AppID, b.Owner.Secret)
	dst := s.ctSeedImages(t, b, "myResourceGroup", "gal2", "")
	defs, _ := armcompute.NewGalleryImagesClient(b.Sub, ownerB, s.armOptions(t))
	if p, err := defs.BeginCreateOrUpdate(ctx, dst.RG, dst.Gallery, "centos", linuxImage("eastus", "t2", "centos", "7"), nil); err != nil {
		t.Fatal(err)
	} else if _, err := p.PollUntilDone(ctx, pollFast()); err != nil {
		t.Fatal(err)
	}
	var sps struct{ Value []struct{ ID string } }
	if err := s.ctGraphGet(t, "/v1.0/servicePrincipals?$filter=appId%20eq%20'"+app.AppID+"'", s.ctToken(t, ownerB), &sps); err != nil || len(sps.Value) != 1 {
		t.Fatalf("service principal in tenant 2: %+v %v", sps, err)
	}
	assign(s.ctToken(t, ownerB), "/subscriptions/"+b.Sub+"/resourceGroups/myResourceGroup", sps.Value[0].ID, galleon.ContributorRoleID)

	// The seed's az steps, with the app's credentials.
	dir := filepath.Join(t.TempDir(), "az")
	if err := (&azSetup{CredFile: m.AdminFile, Dir: dir, CloudName: "Galleon", Out: new(strings.Builder)}).Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	az := azShell{t: t, dir: dir}
	az.ok("account", "clear")
	az.ok("login", "--service-principal", "-u", app.AppID, "--password="+app.Secret, "--tenant", a.ID)
	az.ok("account", "get-access-token")
	az.ok("login", "--service-principal", "-u", app.AppID, "--password="+app.Secret, "--tenant", b.ID)
	az.ok("account", "get-access-token")
	var subs []struct{ ID, TenantID string }
	az.json(&subs, "account", "list")
	if !slices.ContainsFunc(subs, func(x struct{ ID, TenantID string }) bool { return x.ID == a.Sub && x.TenantID == a.ID }) ||
		!slices.ContainsFunc(subs, func(x struct{ ID, TenantID string }) bool { return x.ID == b.Sub && x.TenantID == b.ID }) {
		t.Fatalf("az account list = %+v; want both tenants' subscriptions", subs)
	}
	az.ok("account", "set", "-s", b.Sub)
	var v struct{ ProvisioningState string }
	az.json(&v, "sig", "image-version", "create", "-g", "myResourceGroup", "-r", "gal2", "-i", "centos", "-e", "1.0.0",
		"--managed-image", src.Version.String())
	if v.ProvisioningState != "Succeeded" {
		t.Fatalf("image-version create from tenant 1's version = %+v", v)
	}

}
