package main

import (
	"context"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/authorization/armauthorization/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources/v4"
	"github.com/google/uuid"
)

// azureCLIClientID is the public client az signs users in through.
const azureCLIClientID = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"

// TestUserThroughNestedGroupAndCustomRole signs a user in with the password
// grant; the user gets access only through a custom role assigned to a
// group that contains a group that contains the user.
func TestUserThroughNestedGroupAndCustomRole(t *testing.T) {
	s := mustStart(t, "")
	ctx := context.Background()
	sub := s.Admin.SubscriptionID
	admin := s.adminCredential(t)
	cl, err := newAPIClient(s.AdminFile)
	if err != nil {
		t.Fatal(err)
	}
	prefix := "/admin/v1/tenants/" + s.Admin.TenantID
	var alice, outer, inner struct{ ID string }
	const password = "correct horse battery staple"
	if err := cl.do(ctx, "POST", prefix+"/users", map[string]any{"userPrincipalName": "alice@galleon.local", "displayName": "Alice", "password": password}, &alice); err != nil {
		t.Fatal(err)
	}
	for _, g := range []*struct{ ID string }{&outer, &inner} {
		if err := cl.do(ctx, "POST", prefix+"/groups", map[string]any{"displayName": "g-" + uuid.NewString()[:6]}, g); err != nil {
			t.Fatal(err)
		}
	}
	if err := cl.do(ctx, "POST", prefix+"/groups/"+outer.ID+"/members", map[string]any{"memberId": inner.ID}, nil); err != nil {
		t.Fatal(err)
	}
	if err := cl.do(ctx, "POST", prefix+"/groups/"+inner.ID+"/members", map[string]any{"memberId": alice.ID}, nil); err != nil {
		t.Fatal(err)
	}

	rgs, _ := armresources.NewResourceGroupsClient(sub, admin, s.armOptions(t))
	for _, n := range []string{"team", "other"} {
		if _, err := rgs.CreateOrUpdate(ctx, n, armresources.ResourceGroup{Location: to.Ptr("eastus")}, nil); err != nil {
			t.Fatal(err)
		}
	}
	teamScope := "/subscriptions/" + sub + "/resourceGroups/team"

	// A custom role: read and tag resource groups, but not delete them.
	rds, _ := armauthorization.NewRoleDefinitionsClient(admin, s.armOptions(t))
	roleID := uuid.NewString()
	def, err := rds.CreateOrUpdate(ctx, "/subscriptions/"+sub, roleID, armauthorization.RoleDefinition{Properties: &armauthorization.RoleDefinitionProperties{
		RoleName: to.Ptr("Group Tagger"), Description: to.Ptr("reads and updates resource groups"),
		Permissions: []*armauthorization.Permission{{
			Actions:    []*string{to.Ptr("Microsoft.Resources/subscriptions/resourceGroups/*")},
			NotActions: []*string{to.Ptr("Microsoft.Resources/subscriptions/resourceGroups/delete")},
		}},
		AssignableScopes: []*string{to.Ptr("/subscriptions/" + sub)},
	}}, nil)
	if err != nil {
		t.Fatalf("create custom role: %v", err)
	}
	if *def.Properties.RoleType != "CustomRole" {
		t.Fatalf("role type = %v", *def.Properties.RoleType)
	}
	// A second role with the same name is refused.
	if _, err := rds.CreateOrUpdate(ctx, "/subscriptions/"+sub, uuid.NewString(), armauthorization.RoleDefinition{Properties: &armauthorization.RoleDefinitionProperties{
		RoleName: to.Ptr("Group Tagger"), Permissions: []*armauthorization.Permission{{Actions: []*string{to.Ptr("*/read")}}},
		AssignableScopes: []*string{to.Ptr("/subscriptions/" + sub)},
	}}, nil); armCode(err) != "RoleDefinitionWithSameNameExists" {
		t.Fatalf("duplicate role name: %v", err)
	}

	ras, _ := armauthorization.NewRoleAssignmentsClient(sub, admin, s.armOptions(t))
	if _, err := ras.Create(ctx, teamScope, uuid.NewString(), armauthorization.RoleAssignmentCreateParameters{Properties: &armauthorization.RoleAssignmentProperties{
		RoleDefinitionID: def.ID, PrincipalID: to.Ptr(outer.ID), PrincipalType: to.Ptr(armauthorization.PrincipalTypeGroup),
	}}, nil); err != nil {
		t.Fatalf("assign custom role to group: %v", err)
	}
	// The role cannot go away while assigned.
	if _, err := rds.Delete(ctx, "/subscriptions/"+sub, roleID, nil); armCode(err) != "RoleDefinitionHasAssignments" {
		t.Fatalf("delete assigned role: %v", err)
	}

	// Alice signs in with her password through the Azure CLI's public client.
	aliceCred, err := azidentity.NewUsernamePasswordCredential(s.Admin.TenantID, azureCLIClientID, "alice@galleon.local", password,
		&azidentity.UsernamePasswordCredentialOptions{ClientOptions: s.clientOptions(t), DisableInstanceDiscovery: true})
	if err != nil {
		t.Fatal(err)
	}
	aliceRGs, _ := armresources.NewResourceGroupsClient(sub, aliceCred, s.armOptions(t))
	if _, err := aliceRGs.Update(ctx, "team", armresources.ResourceGroupPatchable{Tags: map[string]*string{"owner": to.Ptr("alice")}}, nil); err != nil {
		t.Fatalf("alice tags her group: %v", err)
	}
	if _, err := aliceRGs.BeginDelete(ctx, "team", nil); armCode(err) != "AuthorizationFailed" || !strings.Contains(err.Error(), "resourceGroups/delete") {
		t.Fatalf("alice deletes (notActions): %v", err)
	}
	if _, err := aliceRGs.Get(ctx, "other", nil); armCode(err) != "AuthorizationFailed" {
		t.Fatalf("alice outside her scope: %v", err)
	}

	// Removing Alice from the inner group revokes her access at once.
	if err := cl.do(ctx, "DELETE", prefix+"/groups/"+inner.ID+"/members/"+alice.ID, nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := aliceRGs.Get(ctx, "team", nil); armCode(err) != "AuthorizationFailed" {
		t.Fatalf("alice after removal: %v", err)
	}

	// A wrong password is refused by the token endpoint.
	bad, _ := azidentity.NewUsernamePasswordCredential(s.Admin.TenantID, azureCLIClientID, "alice@galleon.local", "wrong password!",
		&azidentity.UsernamePasswordCredentialOptions{ClientOptions: s.clientOptions(t), DisableInstanceDiscovery: true})
	badRGs, _ := armresources.NewResourceGroupsClient(sub, bad, s.armOptions(t))
	if _, err := badRGs.Get(ctx, "team", nil); err == nil || !strings.Contains(err.Error(), "AADSTS50126") {
		t.Fatalf("wrong password: %v", err)
	}
}
