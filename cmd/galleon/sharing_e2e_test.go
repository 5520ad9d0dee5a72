package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/authorization/armauthorization/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources/v4"
	"github.com/google/uuid"

	"github.com/galleonhq/galleon"
)

// sharingAPI is the api-version the raw calls of these tests send (az's).
const sharingAPI = "?api-version=2022-03-03"

// tenantWorld is a tenant with a subscription owned by a service principal.
type tenantWorld struct {
	TenantID, SubscriptionID string
	Owner                    principal
	OwnerCred                azcore.TokenCredential
}

// newTenant makes a tenant, an owner service principal in it and a
// subscription it owns, through the admin API.
func (s *testServer) newTenant(t *testing.T, domain string) tenantWorld {
	t.Helper()
	cl, err := newAPIClient(s.AdminFile)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var ten struct{ ID string }
	if err := cl.do(ctx, "POST", "/admin/v1/tenants", map[string]any{"domain": domain, "displayName": domain}, &ten); err != nil {
		t.Fatal(err)
	}
	w := tenantWorld{TenantID: ten.ID, Owner: s.newSPIn(t, ten.ID, "owner-"+domain)}
	var sub struct{ SubscriptionID string }
	if err := cl.do(ctx, "POST", "/admin/v1/tenants/"+ten.ID+"/subscriptions", map[string]any{"displayName": domain + " prod", "ownerPrincipalId": w.Owner.ObjectID}, &sub); err != nil {
		t.Fatal(err)
	}
	w.SubscriptionID = sub.SubscriptionID
	w.OwnerCred = s.credential(t, ten.ID, w.Owner.AppID, w.Owner.Secret)
	return w
}

// newSPIn makes a service principal with a secret in a tenant.
func (s *testServer) newSPIn(t *testing.T, tenantID, name string) principal {
	t.Helper()
	cl, err := newAPIClient(s.AdminFile)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	prefix := "/admin/v1/tenants/" + tenantID
	var app struct{ ID, AppID string }
	if err := cl.do(ctx, "POST", prefix+"/applications", map[string]any{"displayName": name}, &app); err != nil {
		t.Fatal(err)
	}
	var sp struct{ ID string }
	if err := cl.do(ctx, "POST", prefix+"/servicePrincipals", map[string]any{"appId": app.AppID}, &sp); err != nil {
		t.Fatal(err)
	}
	var secret struct{ SecretText string }
	if err := cl.do(ctx, "POST", prefix+"/applications/"+app.ID+"/secrets", map[string]any{}, &secret); err != nil {
		t.Fatal(err)
	}
	return principal{AppID: app.AppID, ObjectID: sp.ID, Secret: secret.SecretText}
}

// grant assigns a built-in or custom role (by GUID) at scope, as cred.
func (s *testServer) grant(t *testing.T, cred azcore.TokenCredential, sub, scope, roleID, principalID string) {
	t.Helper()
	ras, err := armauthorization.NewRoleAssignmentsClient(sub, cred, s.armOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ras.Create(context.Background(), scope, uuid.NewString(), armauthorization.RoleAssignmentCreateParameters{Properties: &armauthorization.RoleAssignmentProperties{
		RoleDefinitionID: to.Ptr("/subscriptions/" + sub + "/providers/Microsoft.Authorization/roleDefinitions/" + roleID),
		PrincipalID:      to.Ptr(principalID),
	}}, nil); err != nil {
		t.Fatalf("assign role %s at %s: %v", roleID, scope, err)
	}
}

// token gets an ARM access token for cred.
func (s *testServer) token(t *testing.T, cred azcore.TokenCredential) string {
	t.Helper()
	tok, err := cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{s.BaseURL + "/.default"}})
	if err != nil {
		t.Fatal(err)
	}
	return tok.Token
}

// call sends a raw ARM request and returns the status and the body.
func (s *testServer) call(t *testing.T, method, path, token, body string) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, s.BaseURL+path, rd)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.httpClient(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data)
}

// errCode returns a CloudError body's code.
func errCode(body string) string {
	var e struct{ Error struct{ Code string } }
	_ = json.Unmarshal([]byte(body), &e)
	return e.Error.Code
}

func mustJSON(t *testing.T, body string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, body)
	}
}

// publisher is tenant A's side: the admin's subscription, a resource group
// and clients acting as the admin (an Owner and installation operator).
type publisher struct {
	s         *testServer
	sub, rg   string
	cred      azcore.TokenCredential
	galleries *armcompute.GalleriesClient
	images    *armcompute.GalleryImagesClient
	versions  *armcompute.GalleryImageVersionsClient
	sharing   *armcompute.GallerySharingProfileClient
}

func newPublisher(t *testing.T, s *testServer, rg string) *publisher {
	t.Helper()
	p := &publisher{s: s, sub: s.Admin.SubscriptionID, rg: rg, cred: s.adminCredential(t)}
	rgs, _ := armresources.NewResourceGroupsClient(p.sub, p.cred, s.armOptions(t))
	if _, err := rgs.CreateOrUpdate(context.Background(), rg, armresources.ResourceGroup{Location: to.Ptr("eastus")}, nil); err != nil {
		t.Fatal(err)
	}
	p.galleries, _ = armcompute.NewGalleriesClient(p.sub, p.cred, s.armOptions(t))
	p.images, _ = armcompute.NewGalleryImagesClient(p.sub, p.cred, s.armOptions(t))
	p.versions, _ = armcompute.NewGalleryImageVersionsClient(p.sub, p.cred, s.armOptions(t))
	p.sharing, _ = armcompute.NewGallerySharingProfileClient(p.sub, p.cred, s.armOptions(t))
	return p
}

func (p *publisher) createGallery(t *testing.T, name string, props *armcompute.GalleryProperties) (armcompute.Gallery, error) {
	t.Helper()
	poller, err := p.galleries.BeginCreateOrUpdate(context.Background(), p.rg, name, armcompute.Gallery{Location: to.Ptr("eastus"), Properties: props}, nil)
	if err != nil {
		return armcompute.Gallery{}, err
	}
	g, err := poller.PollUntilDone(context.Background(), pollFast())
	return g.Gallery, err
}

func (p *publisher) createImage(t *testing.T, gallery, name string, img armcompute.GalleryImage) error {
	t.Helper()
	poller, err := p.images.BeginCreateOrUpdate(context.Background(), p.rg, gallery, name, img, nil)
	if err == nil {
		_, err = poller.PollUntilDone(context.Background(), pollFast())
	}
	return err
}

// version seeds a version of gallery/image in region and waits until it
// is replicated.
func (p *publisher) version(t *testing.T, gallery, image, name, region string) {
	t.Helper()
	id := galleon.ResourceID{SubscriptionID: p.sub, ResourceGroup: p.rg, Namespace: "Microsoft.Compute",
		Types: []string{"galleries", "images", "versions"}, Names: []string{gallery, image, name}}
	p.s.seedVersion(t, id, region, randomDisk(1<<20))
	waitVersion(t, p.versions, p.rg, gallery, image, name)
}

func (p *publisher) share(t *testing.T, gallery string, op armcompute.SharingUpdateOperationTypes, subs, tenants []string) error {
	t.Helper()
	u := armcompute.SharingUpdate{OperationType: to.Ptr(op)}
	if len(subs) > 0 {
		u.Groups = append(u.Groups, &armcompute.SharingProfileGroup{Type: to.Ptr(armcompute.SharingProfileGroupTypesSubscriptions), IDs: to.SliceOfPtrs(subs...)})
	}
	if len(tenants) > 0 {
		u.Groups = append(u.Groups, &armcompute.SharingProfileGroup{Type: to.Ptr(armcompute.SharingProfileGroupTypesAADTenants), IDs: to.SliceOfPtrs(tenants...)})
	}
	poller, err := p.sharing.BeginUpdate(context.Background(), p.rg, gallery, u, nil)
	if err == nil {
		_, err = poller.PollUntilDone(context.Background(), pollFast())
	}
	return err
}

func communityInfo(prefix string) *armcompute.GalleryProperties {
	return &armcompute.GalleryProperties{SharingProfile: &armcompute.SharingProfile{
		Permissions: to.Ptr(armcompute.GallerySharingPermissionTypesCommunity),
		CommunityGalleryInfo: &armcompute.CommunityGalleryInfo{PublisherURI: to.Ptr("https://contoso.example"), PublisherContact: to.Ptr("images@contoso.example"),
			Eula: to.Ptr("https://contoso.example/eula"), PublicNamePrefix: to.Ptr(prefix)},
	}}
}

// sharedNames lists the shared galleries a credential sees in a
// subscription and region (byTenant: sharedTo=tenant).
func (s *testServer) sharedNames(t *testing.T, cred azcore.TokenCredential, sub, region string, byTenant bool) ([]string, error) {
	t.Helper()
	c, _ := armcompute.NewSharedGalleriesClient(sub, cred, s.armOptions(t))
	var o *armcompute.SharedGalleriesClientListOptions
	if byTenant {
		o = &armcompute.SharedGalleriesClientListOptions{SharedTo: to.Ptr(armcompute.SharedToValuesTenant)}
	}
	names := []string{}
	for pg := c.NewListPager(region, o); pg.More(); {
		page, err := pg.NextPage(context.Background())
		if err != nil {
			return nil, err
		}
		for _, g := range page.Value {
			names = append(names, *g.Name)
		}
	}
	return names, nil
}

// TestSharingDirect drives direct sharing with the SDK across three
// tenants: the RBAC-only row and the RBAC + direct share row of the
// sharing table, limits, $expand of groups, and that Remove and Reset
// revoke at once.
func TestSharingDirect(t *testing.T) {
	s := mustStartWith(t, "", func(c *Config) { c.Limits.Sharing.MaxSubscriptions = 2 })
	ctx := context.Background()
	pub := newPublisher(t, s, "images")
	if _, err := pub.createGallery(t, "corp", &armcompute.GalleryProperties{Description: to.Ptr("private corp images")}); err != nil {
		t.Fatal(err)
	}
	if err := pub.createImage(t, "corp", "ubuntu", linuxImage("eastus", "contoso", "ubuntu", "22_04")); err != nil {
		t.Fatal(err)
	}
	pub.version(t, "corp", "ubuntu", "1.0.0", "eastus")
	galleryScope := "/subscriptions/" + pub.sub + "/resourceGroups/images/providers/Microsoft.Compute/galleries/corp"

	// Tenant B: bob reads subscription B; tenant C: dave reads subscription C.
	b, c := s.newTenant(t, "fabrikam.example"), s.newTenant(t, "wingtip.example")
	bob, dave, stranger := s.newSPIn(t, b.TenantID, "bob"), s.newSPIn(t, c.TenantID, "dave"), s.newSPIn(t, b.TenantID, "stranger")
	s.grant(t, b.OwnerCred, b.SubscriptionID, "/subscriptions/"+b.SubscriptionID, galleon.ReaderRoleID, bob.ObjectID)
	s.grant(t, c.OwnerCred, c.SubscriptionID, "/subscriptions/"+c.SubscriptionID, galleon.ReaderRoleID, dave.ObjectID)
	bobCred, daveCred := s.credential(t, b.TenantID, bob.AppID, bob.Secret), s.credential(t, c.TenantID, dave.AppID, dave.Secret)

	// RBAC only: a reader of the gallery (directly or through a group)
	// reads it; another principal of the same tenant does not, and nobody
	// elsewhere sees it as shared.
	reader, member, other := s.newServicePrincipal(t, "reader"), s.newServicePrincipal(t, "member"), s.newServicePrincipal(t, "other")
	cl, _ := newAPIClient(s.AdminFile)
	var grp struct{ ID string }
	if err := cl.do(ctx, "POST", "/admin/v1/tenants/"+s.Admin.TenantID+"/groups", map[string]any{"displayName": "image-readers"}, &grp); err != nil {
		t.Fatal(err)
	}
	if err := cl.do(ctx, "POST", "/admin/v1/tenants/"+s.Admin.TenantID+"/groups/"+grp.ID+"/members", map[string]any{"memberId": member.ObjectID}, nil); err != nil {
		t.Fatal(err)
	}
	s.grant(t, pub.cred, pub.sub, galleryScope, galleon.ComputeGalleryImageReaderRoleID, reader.ObjectID)
	s.grant(t, pub.cred, pub.sub, galleryScope, galleon.ComputeGalleryImageReaderRoleID, grp.ID)
	for _, tc := range []struct {
		name string
		p    principal
		want bool
	}{{"Reader", reader, true}, {"GroupMember", member, true}, {"NoRole", other, false}} {
		t.Run("RBAC"+tc.name, func(t *testing.T) {
			vc, _ := armcompute.NewGalleryImageVersionsClient(pub.sub, s.credential(t, s.Admin.TenantID, tc.p.AppID, tc.p.Secret), s.armOptions(t))
			_, err := vc.Get(ctx, "images", "corp", "ubuntu", "1.0.0", nil)
			if (err == nil) != tc.want || (err != nil && armCode(err) != "AuthorizationFailed") {
				t.Fatalf("read version: %v, want allowed=%v", err, tc.want)
			}
		})
	}
	if names, err := s.sharedNames(t, bobCred, b.SubscriptionID, "eastus", false); err != nil || len(names) != 0 {
		t.Fatalf("a private gallery is listed as shared: %v %v", names, err)
	}

	// Add needs permissions Groups first, as in Azure.
	if err := pub.share(t, "corp", armcompute.SharingUpdateOperationTypesAdd, []string{b.SubscriptionID}, nil); armCode(err) != "OperationNotAllowed" || !strings.Contains(err.Error(), "--permissions Groups") {
		t.Fatalf("add on a private gallery: %v", err)
	}
	up, err := pub.galleries.BeginUpdate(ctx, "images", "corp", armcompute.GalleryUpdate{Properties: &armcompute.GalleryProperties{
		SharingProfile: &armcompute.SharingProfile{Permissions: to.Ptr(armcompute.GallerySharingPermissionTypesGroups)}}}, nil)
	if err == nil {
		_, err = up.PollUntilDone(ctx, pollFast())
	}
	if err != nil {
		t.Fatalf("switch to Groups: %v", err)
	}
	// A Contributor may not share (the share action is excluded).
	contrib := s.newServicePrincipal(t, "contributor")
	s.grant(t, pub.cred, pub.sub, "/subscriptions/"+pub.sub, galleon.ContributorRoleID, contrib.ObjectID)
	cs, _ := armcompute.NewGallerySharingProfileClient(pub.sub, s.credential(t, s.Admin.TenantID, contrib.AppID, contrib.Secret), s.armOptions(t))
	if _, err := cs.BeginUpdate(ctx, "images", "corp", armcompute.SharingUpdate{OperationType: to.Ptr(armcompute.SharingUpdateOperationTypesAdd),
		Groups: []*armcompute.SharingProfileGroup{{Type: to.Ptr(armcompute.SharingProfileGroupTypesSubscriptions), IDs: []*string{to.Ptr(b.SubscriptionID)}}}}, nil); armCode(err) != "AuthorizationFailed" || !strings.Contains(err.Error(), "share/action") {
		t.Fatalf("contributor shares: %v", err)
	}

	// RBAC + direct share: subscription B and tenant C.
	if err := pub.share(t, "corp", armcompute.SharingUpdateOperationTypesAdd, []string{b.SubscriptionID}, []string{c.TenantID}); err != nil {
		t.Fatalf("add: %v", err)
	}
	unique := pub.sub + "-CORP"
	if names, err := s.sharedNames(t, bobCred, b.SubscriptionID, "eastus", false); err != nil || strings.Join(names, ",") != unique {
		t.Fatalf("bob's shared galleries = %v %v", names, err)
	}
	if names, err := s.sharedNames(t, bobCred, b.SubscriptionID, "westus2", false); err != nil || len(names) != 0 {
		t.Fatalf("listed in a region it is not in: %v %v", names, err)
	}
	if names, err := s.sharedNames(t, daveCred, c.SubscriptionID, "eastus", false); err != nil || len(names) != 0 {
		t.Fatalf("dave without sharedTo = %v %v", names, err)
	}
	if names, err := s.sharedNames(t, daveCred, c.SubscriptionID, "eastus", true); err != nil || strings.Join(names, ",") != unique {
		t.Fatalf("dave with sharedTo=tenant = %v %v", names, err)
	}
	// Bob reads the gallery, its definition and version through the shared
	// models: the private gallery's resource group and ID never appear.
	bobTok := s.token(t, bobCred)
	base := "/subscriptions/" + b.SubscriptionID + "/providers/Microsoft.Compute/locations/eastus/sharedGalleries/" + unique
	for _, path := range []string{"", "/images", "/images/ubuntu", "/images/ubuntu/versions", "/images/ubuntu/versions/1.0.0", "/images/ubuntu/versions/latest"} {
		status, body := s.call(t, "GET", base+path+sharingAPI, bobTok, "")
		if status != 200 || strings.Contains(body, "images/providers") || strings.Contains(strings.ToLower(body), "resourcegroups") || strings.Contains(body, "private corp images") {
			t.Fatalf("GET shared%s = %d %s", path, status, body)
		}
	}
	sv, _ := armcompute.NewSharedGalleryImageVersionsClient(b.SubscriptionID, bobCred, s.armOptions(t))
	v, err := sv.Get(ctx, "eastus", unique, "ubuntu", "1.0.0", nil)
	if err != nil || *v.Identifier.UniqueID != "/SharedGalleries/"+unique+"/Images/ubuntu/Versions/1.0.0" || *v.Properties.StorageProfile.OSDiskImage.DiskSizeGB != 1 {
		t.Fatalf("shared version = %+v %v", v, err)
	}
	// A principal of tenant B with no role on subscription B reads nothing.
	strangerCred := s.credential(t, b.TenantID, stranger.AppID, stranger.Secret)
	if _, err := s.sharedNames(t, strangerCred, b.SubscriptionID, "eastus", false); armCode(err) != "AuthorizationFailed" {
		t.Fatalf("stranger lists shared galleries: %v", err)
	}

	// The publisher sees the groups only with $expand.
	g, err := pub.galleries.Get(ctx, "images", "corp", nil)
	if err != nil || g.Properties.SharingProfile.Groups != nil || *g.Properties.SharingStatus.AggregatedState != armcompute.SharingStateSucceeded {
		t.Fatalf("get without expand: %+v %v", g.Properties, err)
	}
	g, err = pub.galleries.Get(ctx, "images", "corp", &armcompute.GalleriesClientGetOptions{Expand: to.Ptr(armcompute.GalleryExpandParamsSharingProfileGroups)})
	if err != nil || len(g.Properties.SharingProfile.Groups) != 2 || *g.Properties.SharingProfile.Groups[0].IDs[0] != b.SubscriptionID {
		t.Fatalf("get with expand: %+v %v", g.Properties.SharingProfile, err)
	}

	// Limits: at most 2 subscriptions here (configured); bad IDs refused.
	if err := pub.share(t, "corp", armcompute.SharingUpdateOperationTypesAdd, []string{uuid.NewString(), uuid.NewString()}, nil); armCode(err) != "SharingLimitExceeded" {
		t.Fatalf("past the limit: %v", err)
	}
	if err := pub.share(t, "corp", armcompute.SharingUpdateOperationTypesAdd, []string{"not-a-guid"}, nil); armCode(err) != "InvalidParameter" {
		t.Fatalf("bad subscription ID: %v", err)
	}
	// Groups cannot become Private while shared.
	if _, err := pub.galleries.BeginUpdate(ctx, "images", "corp", armcompute.GalleryUpdate{Properties: &armcompute.GalleryProperties{
		SharingProfile: &armcompute.SharingProfile{Permissions: to.Ptr(armcompute.GallerySharingPermissionTypesPrivate)}}}, nil); armCode(err) != "OperationNotAllowed" {
		t.Fatalf("Groups to Private while shared: %v", err)
	}

	// Remove revokes at once.
	if err := pub.share(t, "corp", armcompute.SharingUpdateOperationTypesRemove, []string{b.SubscriptionID}, nil); err != nil {
		t.Fatalf("remove: %v", err)
	}
	if status, body := s.call(t, "GET", base+"/images/ubuntu/versions/1.0.0"+sharingAPI, bobTok, ""); status != 404 {
		t.Fatalf("bob after remove: %d %s", status, body)
	}
	if names, err := s.sharedNames(t, bobCred, b.SubscriptionID, "eastus", false); err != nil || len(names) != 0 {
		t.Fatalf("bob's list after remove = %v %v", names, err)
	}
	// Reset revokes the tenant too and makes the gallery Private.
	if err := pub.share(t, "corp", armcompute.SharingUpdateOperationTypesReset, nil, nil); err != nil {
		t.Fatalf("reset: %v", err)
	}
	if names, err := s.sharedNames(t, daveCred, c.SubscriptionID, "eastus", true); err != nil || len(names) != 0 {
		t.Fatalf("dave after reset = %v %v", names, err)
	}
	g, err = pub.galleries.Get(ctx, "images", "corp", &armcompute.GalleriesClientGetOptions{Expand: to.Ptr(armcompute.GalleryExpandParamsSharingProfileGroups)})
	if err != nil || *g.Properties.SharingProfile.Permissions != armcompute.GallerySharingPermissionTypesPrivate || len(g.Properties.SharingProfile.Groups) != 0 || g.Properties.SharingStatus != nil {
		t.Fatalf("after reset: %+v %v", g.Properties, err)
	}
}

// assertNoLeak fails if body holds any of the private markers.
func assertNoLeak(t *testing.T, what, body string, markers ...string) {
	t.Helper()
	lb := strings.ToLower(body)
	for _, m := range markers {
		if m != "" && strings.Contains(lb, strings.ToLower(m)) {
			t.Fatalf("%s reveals %q:\n%s", what, m, body)
		}
	}
}

// communityGallery creates a community gallery in eastus with definition
// "ubuntu" (versions 1.0.0 and 2.0.0, the latter also in westus2) and
// enables it, returning its public name.
func (p *publisher) communityGallery(t *testing.T, name, prefix string) string {
	t.Helper()
	ctx := context.Background()
	if _, err := p.createGallery(t, name, communityInfo(prefix)); err != nil {
		t.Fatalf("create community gallery: %v", err)
	}
	if err := p.createImage(t, name, "ubuntu", linuxImage("eastus", "Contoso", "UbuntuServer", "22_04-lts")); err != nil {
		t.Fatal(err)
	}
	p.version(t, name, "ubuntu", "1.0.0", "eastus")
	p.version(t, name, "ubuntu", "2.0.0", "eastus")
	up, err := p.versions.BeginUpdate(ctx, p.rg, name, "ubuntu", "2.0.0", armcompute.GalleryImageVersionUpdate{Properties: &armcompute.GalleryImageVersionProperties{
		PublishingProfile: &armcompute.GalleryImageVersionPublishingProfile{TargetRegions: []*armcompute.TargetRegion{{Name: to.Ptr("eastus")}, {Name: to.Ptr("westus2")}}}}}, nil)
	if err == nil {
		_, err = up.PollUntilDone(ctx, pollFast())
	}
	if err != nil {
		t.Fatalf("replicate 2.0.0 to westus2: %v", err)
	}
	waitVersion(t, p.versions, p.rg, name, "ubuntu", "2.0.0")
	if err := p.share(t, name, armcompute.SharingUpdateOperationTypesEnableCommunity, nil, nil); err != nil {
		t.Fatalf("enable community: %v", err)
	}
	g, err := p.galleries.Get(ctx, p.rg, name, nil)
	if err != nil || len(g.Properties.SharingProfile.CommunityGalleryInfo.PublicNames) != 1 {
		t.Fatalf("community gallery = %+v %v", g.Properties, err)
	}
	return *g.Properties.SharingProfile.CommunityGalleryInfo.PublicNames[0]
}

// TestCommunityGalleryValidation checks the rules of creating and changing
// community galleries (C1, C5, C7) and who may enable them (C3).
func TestCommunityGalleryValidation(t *testing.T) {
	s := mustStart(t, "")
	ctx := context.Background()
	pub := newPublisher(t, s, "public")
	with := func(f func(ci *armcompute.CommunityGalleryInfo)) *armcompute.GalleryProperties {
		p := communityInfo("Contoso")
		f(p.SharingProfile.CommunityGalleryInfo)
		return p
	}
	for _, tc := range []struct {
		name  string
		props *armcompute.GalleryProperties
		want  string // in the error
	}{
		{"ErrNoInfo", &armcompute.GalleryProperties{SharingProfile: &armcompute.SharingProfile{Permissions: to.Ptr(armcompute.GallerySharingPermissionTypesCommunity)}}, "communityGalleryInfo with publisherUri"},
		{"ErrMissingEula", with(func(ci *armcompute.CommunityGalleryInfo) { ci.Eula = nil }), "eula' is required"},
		{"ErrBadEmail", with(func(ci *armcompute.CommunityGalleryInfo) { ci.PublisherContact = to.Ptr("not an email") }), "e-mail address"},
		{"ErrHTTPPublisher", with(func(ci *armcompute.CommunityGalleryInfo) { ci.PublisherURI = to.Ptr("http://contoso.example") }), "absolute https URL"},
		{"ErrSASInEula", with(func(ci *armcompute.CommunityGalleryInfo) {
			ci.Eula = to.Ptr("https://contoso.blob.example/legal/eula.pdf?sv=2022-11-02&sr=b&sig=abc%3D")
		}), "must not carry secrets, passwords or SAS tokens"},
		{"ErrPasswordInEula", with(func(ci *armcompute.CommunityGalleryInfo) {
			ci.Eula = to.Ptr("https://contoso.example/eula?password=hunter2")
		}), "'password'"},
		{"ErrTokenInFragment", with(func(ci *armcompute.CommunityGalleryInfo) {
			ci.Eula = to.Ptr("https://contoso.example/eula#access_token=x")
		}), "'access_token'"},
		{"ErrUserInfoInEula", with(func(ci *armcompute.CommunityGalleryInfo) { ci.Eula = to.Ptr("https://me:secret@contoso.example/eula") }), "user name or password"},
		{"ErrShortPrefix", with(func(ci *armcompute.CommunityGalleryInfo) { ci.PublicNamePrefix = to.Ptr("abc") }), "5 to 16 letters and digits"},
		{"ErrPrefixWithDash", with(func(ci *armcompute.CommunityGalleryInfo) { ci.PublicNamePrefix = to.Ptr("my-images") }), "5 to 16 letters and digits"},
		{"ErrInfoOnPrivate", &armcompute.GalleryProperties{SharingProfile: &armcompute.SharingProfile{Permissions: to.Ptr(armcompute.GallerySharingPermissionTypesPrivate),
			CommunityGalleryInfo: communityInfo("Contoso").SharingProfile.CommunityGalleryInfo}}, "applies only to galleries with sharingProfile.permissions Community"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := pub.createGallery(t, "g"+strings.ToLower(tc.name[3:]), tc.props)
			if armCode(err) != "InvalidParameter" || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v; want InvalidParameter containing %q", err, tc.want)
			}
		})
	}

	g, err := pub.createGallery(t, "community", communityInfo("Contoso"))
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if ci := g.Properties.SharingProfile.CommunityGalleryInfo; *ci.CommunityGalleryEnabled || len(ci.PublicNames) != 0 || *ci.PublisherContact != "images@contoso.example" {
		t.Fatalf("a new community gallery is published already: %+v", ci)
	}

	// C7: no conversion of an existing gallery; no third-party plans,
	// encryption, or definitions and versions outside the gallery's region.
	if _, err := pub.createGallery(t, "corp", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := pub.createGallery(t, "corp", communityInfo("Contoso")); armCode(err) != "OperationNotAllowed" || !strings.Contains(err.Error(), "cannot be converted") {
		t.Fatalf("converting a private gallery: %v", err)
	}
	planned := linuxImage("eastus", "Contoso", "Planned", "1")
	planned.Properties.PurchasePlan = &armcompute.ImagePurchasePlan{Name: to.Ptr("plan"), Product: to.Ptr("product"), Publisher: to.Ptr("thirdparty")}
	if err := pub.createImage(t, "community", "planned", planned); armCode(err) != "CommunityGalleryThirdPartyImage" {
		t.Fatalf("purchase plan: %v", err)
	}
	if err := pub.createImage(t, "corp", "planned", planned); err != nil {
		t.Fatalf("a private gallery takes purchase plans: %v", err)
	}
	if err := pub.createImage(t, "community", "west", linuxImage("westus2", "Contoso", "West", "1")); armCode(err) != "CommunityGalleryRegionMismatch" {
		t.Fatalf("definition in another region: %v", err)
	}
	if err := pub.createImage(t, "community", "ubuntu", linuxImage("eastus", "Contoso", "UbuntuServer", "22_04-lts")); err != nil {
		t.Fatal(err)
	}
	pub.version(t, "community", "ubuntu", "1.0.0", "eastus")
	vid := "/subscriptions/" + pub.sub + "/resourceGroups/public/providers/Microsoft.Compute/galleries/community/images/ubuntu/versions/1.0.0"
	for _, tc := range []struct {
		name, location string
		encrypt        bool
		codes          string
	}{
		{"ErrVersionInOtherRegion", "westus2", false, "CommunityGalleryRegionMismatch InvalidParameter"},
		{"ErrEncrypted", "eastus", true, "CommunityGalleryEncryptionNotSupported EncryptionNotSupported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := &armcompute.TargetRegion{Name: to.Ptr(tc.location)}
			if tc.encrypt {
				tr.Encryption = &armcompute.EncryptionImages{OSDiskImage: &armcompute.OSDiskImageEncryption{DiskEncryptionSetID: to.Ptr("/subscriptions/" + pub.sub + "/resourceGroups/public/providers/Microsoft.Compute/diskEncryptionSets/des")}}
			}
			_, err := pub.versions.BeginCreateOrUpdate(ctx, "public", "community", "ubuntu", "3.0.0", armcompute.GalleryImageVersion{Location: to.Ptr(tc.location),
				Properties: &armcompute.GalleryImageVersionProperties{
					PublishingProfile: &armcompute.GalleryImageVersionPublishingProfile{TargetRegions: []*armcompute.TargetRegion{tr}},
					StorageProfile:    &armcompute.GalleryImageVersionStorageProfile{Source: &armcompute.GalleryArtifactVersionFullSource{ID: to.Ptr(vid)}}}}, nil)
			if code := armCode(err); code == "" || !strings.Contains(tc.codes, code) {
				t.Fatalf("got %v; want one of %s", err, tc.codes)
			}
		})
	}

	// C3: who may enable community sharing.
	sub := "/subscriptions/" + pub.sub
	rgScope := sub + "/resourceGroups/public"
	galleryScope := rgScope + "/providers/Microsoft.Compute/galleries/community"
	rds, _ := armauthorization.NewRoleDefinitionsClient(pub.cred, s.armOptions(t))
	sharerRole := uuid.NewString()
	if _, err := rds.CreateOrUpdate(ctx, sub, sharerRole, armauthorization.RoleDefinition{Properties: &armauthorization.RoleDefinitionProperties{
		RoleName: to.Ptr("Gallery Sharer"), Permissions: []*armauthorization.Permission{{Actions: []*string{to.Ptr("Microsoft.Compute/galleries/*")}}},
		AssignableScopes: []*string{to.Ptr(sub)},
	}}, nil); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, role, scope string
		want              string // "" when allowed
	}{
		{"ErrContributor", galleon.ContributorRoleID, sub, "share/action"},
		{"ErrCustomRoleAtGroup", sharerRole, rgScope, "only an Owner"},
		{"ErrCustomRoleAtSubscription", sharerRole, sub, "only an Owner"},
		{"ErrSharingAdminAtGroup", galleon.ComputeGallerySharingAdminRoleID, rgScope, "only an Owner"},
		{"SharingAdminAtGallery", galleon.ComputeGallerySharingAdminRoleID, galleryScope, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sp := s.newServicePrincipal(t, tc.name)
			s.grant(t, pub.cred, pub.sub, tc.scope, tc.role, sp.ObjectID)
			c, _ := armcompute.NewGallerySharingProfileClient(pub.sub, s.credential(t, s.Admin.TenantID, sp.AppID, sp.Secret), s.armOptions(t))
			poller, err := c.BeginUpdate(ctx, "public", "community", armcompute.SharingUpdate{OperationType: to.Ptr(armcompute.SharingUpdateOperationTypesEnableCommunity)}, nil)
			if err == nil {
				_, err = poller.PollUntilDone(ctx, pollFast())
			}
			if tc.want == "" && err != nil {
				t.Fatalf("enable community: %v", err)
			}
			if tc.want != "" && (armCode(err) != "AuthorizationFailed" || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("got %v; want AuthorizationFailed containing %q", err, tc.want)
			}
		})
	}
	got, err := pub.galleries.Get(ctx, "public", "community", nil)
	if err != nil {
		t.Fatal(err)
	}
	ci := got.Properties.SharingProfile.CommunityGalleryInfo
	if !*ci.CommunityGalleryEnabled || len(ci.PublicNames) != 1 || uuid.Validate(strings.TrimPrefix(*ci.PublicNames[0], "Contoso-")) != nil {
		t.Fatalf("public names (C2) = %v, enabled %v", to.SliceOfPtrs(ci.PublicNames...), *ci.CommunityGalleryEnabled)
	}
	// Enabling again keeps the name; the prefix can no longer change, but
	// contact details can (and are checked again).
	if err := pub.share(t, "community", armcompute.SharingUpdateOperationTypesEnableCommunity, nil, nil); err != nil {
		t.Fatal(err)
	}
	if g2, _ := pub.galleries.Get(ctx, "public", "community", nil); *g2.Properties.SharingProfile.CommunityGalleryInfo.PublicNames[0] != *ci.PublicNames[0] {
		t.Fatal("enabling again changed the public name")
	}
	change := func(f func(ci *armcompute.CommunityGalleryInfo)) error {
		up, err := pub.galleries.BeginUpdate(ctx, "public", "community", armcompute.GalleryUpdate{Properties: with(f)}, nil)
		if err == nil {
			_, err = up.PollUntilDone(ctx, pollFast())
		}
		return err
	}
	if err := change(func(ci *armcompute.CommunityGalleryInfo) { ci.PublicNamePrefix = to.Ptr("Fabrikam") }); armCode(err) != "PropertyChangeNotAllowed" {
		t.Fatalf("changing the prefix of a published gallery: %v", err)
	}
	if err := change(func(ci *armcompute.CommunityGalleryInfo) { ci.Eula = to.Ptr("https://contoso.example/eula?token=x") }); armCode(err) != "InvalidParameter" {
		t.Fatalf("a secret in a changed EULA: %v", err)
	}
	if err := change(func(ci *armcompute.CommunityGalleryInfo) { ci.PublisherContact = to.Ptr("support@contoso.example") }); err != nil {
		t.Fatalf("changing the contact: %v", err)
	}
	// A community gallery stays Community until reset.
	if _, err := pub.galleries.BeginUpdate(ctx, "public", "community", armcompute.GalleryUpdate{Properties: &armcompute.GalleryProperties{
		SharingProfile: &armcompute.SharingProfile{Permissions: to.Ptr(armcompute.GallerySharingPermissionTypesPrivate)}}}, nil); armCode(err) != "OperationNotAllowed" {
		t.Fatalf("community to private by update: %v", err)
	}
	// EnableCommunity on a private gallery is refused (C7).
	if err := pub.share(t, "corp", armcompute.SharingUpdateOperationTypesEnableCommunity, nil, nil); armCode(err) != "OperationNotAllowed" {
		t.Fatalf("enable community on a private gallery: %v", err)
	}
}

// argQuery posts a Resource Graph query and decodes the answer.
func (s *testServer) argQuery(t *testing.T, token, query string, options map[string]any) (int, argAnswer, string) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "options": options})
	status, data := s.call(t, "POST", "/providers/Microsoft.ResourceGraph/resources?api-version=2021-03-01", token, string(body))
	var a argAnswer
	_ = json.Unmarshal([]byte(data), &a)
	return status, a, data
}

type argAnswer struct {
	TotalRecords int              `json:"totalRecords"`
	Count        int              `json:"count"`
	Data         []map[string]any `json:"data"`
	SkipToken    string           `json:"$skipToken"`
}

// TestCommunityGallery reads a community gallery as a principal of another
// tenant with no role anywhere (the RBAC + community row), through the
// SDK, Resource Graph, the native search and the CLI; builds a version
// from a community image; and checks C4, C6 and what Reset does.
func TestCommunityGallery(t *testing.T) {
	s := mustStart(t, "")
	ctx := context.Background()
	pub := newPublisher(t, s, "rg-publisher")
	pn := pub.communityGallery(t, "cgal", "Contoso")
	b := s.newTenant(t, "fabrikam.example")
	stranger := s.newSPIn(t, b.TenantID, "stranger")
	strangerCred := s.credential(t, b.TenantID, stranger.AppID, stranger.Secret)
	tok := s.token(t, strangerCred)
	private := []string{pub.sub, "rg-publisher", "cgal/", "/galleries/", s.Admin.TenantID}

	// The gallery, definition and latest version, by the SDK.
	cg, _ := armcompute.NewCommunityGalleriesClient(b.SubscriptionID, strangerCred, s.armOptions(t))
	g, err := cg.Get(ctx, "eastus", pn, nil)
	if err != nil || *g.Identifier.UniqueID != "/CommunityGalleries/"+pn || *g.Properties.CommunityMetadata.PublisherContact != "images@contoso.example" ||
		*g.Type != "Microsoft.Compute/locations/communityGallery" || *g.Properties.Disclaimer == "" {
		t.Fatalf("community gallery = %+v %v", g, err)
	}
	ci, _ := armcompute.NewCommunityGalleryImagesClient(b.SubscriptionID, strangerCred, s.armOptions(t))
	img, err := ci.Get(ctx, "eastus", pn, "ubuntu", nil)
	if err != nil || *img.Properties.Identifier.Publisher != "Contoso" || *img.Properties.OSType != armcompute.OperatingSystemTypesLinux {
		t.Fatalf("community image = %+v %v", img, err)
	}
	cv, _ := armcompute.NewCommunityGalleryImageVersionsClient(b.SubscriptionID, strangerCred, s.armOptions(t))
	listVersions := func(region string) []string {
		var out []string
		for pg := cv.NewListPager(region, pn, "ubuntu", nil); pg.More(); {
			page, err := pg.NextPage(ctx)
			if err != nil {
				t.Fatalf("list versions in %s: %v", region, err)
			}
			for _, v := range page.Value {
				out = append(out, *v.Name)
			}
		}
		return out
	}
	// C6: only the latest version is listed; an older one is still
	// readable by name.
	if got := listVersions("eastus"); strings.Join(got, ",") != "2.0.0" {
		t.Fatalf("community versions in eastus = %v", got)
	}
	if got := listVersions("westus2"); strings.Join(got, ",") != "2.0.0" {
		t.Fatalf("community versions in westus2 = %v", got)
	}
	if v, err := cv.Get(ctx, "eastus", pn, "ubuntu", "1.0.0", nil); err != nil || *v.Identifier.UniqueID != "/CommunityGalleries/"+pn+"/Images/ubuntu/Versions/1.0.0" {
		t.Fatalf("older version by name: %+v %v", v, err)
	}
	if _, err := cv.Get(ctx, "westus2", pn, "ubuntu", "1.0.0", nil); armCode(err) != "ResourceNotFound" {
		t.Fatalf("1.0.0 is not in westus2: %v", err)
	}
	if _, err := cg.Get(ctx, "japaneast", pn, nil); armCode(err) != "ResourceNotFound" {
		t.Fatalf("gallery in a region it is not in: %v", err)
	}
	base := "/subscriptions/" + b.SubscriptionID + "/providers/Microsoft.Compute/locations/eastus/communityGalleries/" + pn
	for _, path := range []string{"", "/images", "/images/ubuntu", "/images/ubuntu/versions", "/images/ubuntu/versions/1.0.0", "/images/ubuntu/versions/latest"} {
		status, body := s.call(t, "GET", base+path+sharingAPI, tok, "")
		if status != 200 {
			t.Fatalf("GET community%s = %d %s", path, status, body)
		}
		assertNoLeak(t, "community"+path, body, private...)
	}

	// Resource Graph, as `az sig list-community` asks.
	azQuery := "communitygalleryresources| where type == 'microsoft.compute/locations/communitygalleries' | where location == 'eastus' "
	status, ans, raw := s.argQuery(t, tok, azQuery, map[string]any{"$top": 30})
	if status != 200 || ans.Count != 1 || ans.Data[0]["name"] != pn || ans.SkipToken != "" {
		t.Fatalf("ARG = %d %s", status, raw)
	}
	assertNoLeak(t, "Resource Graph", raw, private...)
	props := ans.Data[0]["properties"].(map[string]any)
	if props["identifier"].(map[string]any)["uniqueId"] != "/CommunityGalleries/"+pn || props["communityMetadata"].(map[string]any)["eula"] != "https://contoso.example/eula" {
		t.Fatalf("ARG row = %+v", ans.Data[0])
	}
	for _, tc := range []struct {
		name, query string
		options     map[string]any
		status      int
		count       int
	}{
		{"AllRegions", "communitygalleryresources | where type == 'microsoft.compute/locations/communitygalleries'", nil, 200, 2},
		{"OtherRegion", "communitygalleryresources | where type == 'microsoft.compute/locations/communitygalleries' | where location == 'japaneast'", nil, 200, 0},
		{"ImagesByPublisher", "communitygalleryresources | where type =~ 'Microsoft.Compute/locations/communityGalleries/images' and properties.identifier.publisher contains 'conto' | project name, location, properties.identifier.sku", nil, 200, 2},
		{"LatestVersions", "communitygalleryresources | where type endswith '/versions' and location in ('eastus', 'westus2') | order by location asc | take 1", nil, 200, 1},
		{"Count", "communitygalleryresources | count", nil, 200, 1},
		{"ErrOtherTable", "resources | where type == 'microsoft.compute/galleries'", nil, 400, 0},
		{"ErrUnsupported", "communitygalleryresources | summarize count() by location", nil, 400, 0},
		{"ErrSyntax", "communitygalleryresources | where name == 'x", nil, 400, 0},
		{"ErrBadTop", azQuery, map[string]any{"$top": 0}, 400, 0},
	} {
		t.Run("ARG"+tc.name, func(t *testing.T) {
			status, ans, raw := s.argQuery(t, tok, tc.query, tc.options)
			if status != tc.status || (status == 200 && ans.Count != tc.count) {
				t.Fatalf("got %d %s; want %d with %d rows", status, raw, tc.status, tc.count)
			}
			assertNoLeak(t, "Resource Graph", raw, private...)
		})
	}
	// Paging with $top and $skipToken.
	q := "communitygalleryresources | where name == '" + pn + "'"
	_, first, _ := s.argQuery(t, tok, q, map[string]any{"$top": 1})
	_, second, _ := s.argQuery(t, tok, q, map[string]any{"$top": 1, "$skipToken": first.SkipToken})
	if first.TotalRecords != 2 || first.Count != 1 || first.SkipToken == "" || second.Count != 1 || second.SkipToken != "" || first.Data[0]["location"] == second.Data[0]["location"] {
		t.Fatalf("ARG pages: %+v / %+v", first, second)
	}

	// Native search and the CLI.
	status, body := s.call(t, "GET", "/providers/Microsoft.Compute/communityImageSearch?api-version=2024-03-03&publisher=CONTOSO&sku=22_04&location=westus2", tok, "")
	var found struct {
		Value []struct{ LatestVersion, LatestVersionUniqueID, Location string }
	}
	mustJSON(t, body, &found)
	if status != 200 || len(found.Value) != 1 || found.Value[0].LatestVersion != "2.0.0" || found.Value[0].Location != "westus2" {
		t.Fatalf("search = %d %s", status, body)
	}
	assertNoLeak(t, "search", body, private...)
	creds := azWriteJSON(t, AdminCredentials{Endpoint: s.BaseURL, TenantID: b.TenantID, SubscriptionID: b.SubscriptionID,
		ClientID: stranger.AppID, ClientSecret: stranger.Secret, CAFile: s.Admin.CAFile})
	out, err := galleonCLI(t, "", "community", "search", "--credentials", creds, "--offer", "ubuntu")
	if err != nil || !strings.Contains(out, "/CommunityGalleries/"+pn+"/Images/ubuntu/Versions/2.0.0") || strings.Count(out, "\n") != 3 {
		t.Fatalf("galleon community search: %v\n%s", err, out)
	}
	if out, err := galleonCLI(t, "", "community", "search", "--credentials", creds, "--publisher", "nobody", "-o", "json"); err != nil || strings.TrimSpace(out) != "[]" {
		t.Fatalf("search with no match: %v %s", err, out)
	}

	// Tenant B builds a version in its own gallery from the community image.
	rgs, _ := armresources.NewResourceGroupsClient(b.SubscriptionID, b.OwnerCred, s.armOptions(t))
	if _, err := rgs.CreateOrUpdate(ctx, "mine", armresources.ResourceGroup{Location: to.Ptr("eastus")}, nil); err != nil {
		t.Fatal(err)
	}
	bg, _ := armcompute.NewGalleriesClient(b.SubscriptionID, b.OwnerCred, s.armOptions(t))
	if p, err := bg.BeginCreateOrUpdate(ctx, "mine", "mygal", armcompute.Gallery{Location: to.Ptr("eastus")}, nil); err != nil {
		t.Fatal(err)
	} else if _, err := p.PollUntilDone(ctx, pollFast()); err != nil {
		t.Fatal(err)
	}
	bi, _ := armcompute.NewGalleryImagesClient(b.SubscriptionID, b.OwnerCred, s.armOptions(t))
	if p, err := bi.BeginCreateOrUpdate(ctx, "mine", "mygal", "ubuntu", linuxImage("eastus", "fabrikam", "ubuntu", "22"), nil); err != nil {
		t.Fatal(err)
	} else if _, err := p.PollUntilDone(ctx, pollFast()); err != nil {
		t.Fatal(err)
	}
	bv, _ := armcompute.NewGalleryImageVersionsClient(b.SubscriptionID, b.OwnerCred, s.armOptions(t))
	fromCommunity := func(name, source string) error {
		p, err := bv.BeginCreateOrUpdate(ctx, "mine", "mygal", "ubuntu", name, armcompute.GalleryImageVersion{Location: to.Ptr("eastus"),
			Properties: &armcompute.GalleryImageVersionProperties{StorageProfile: &armcompute.GalleryImageVersionStorageProfile{
				Source: &armcompute.GalleryArtifactVersionFullSource{CommunityGalleryImageID: to.Ptr(source)}}}}, nil)
		if err == nil {
			_, err = p.PollUntilDone(ctx, pollFast())
		}
		return err
	}
	if err := fromCommunity("1.0.0", "/CommunityGalleries/"+pn+"/Images/ubuntu/Versions/latest"); err != nil {
		t.Fatalf("version from a community image: %v", err)
	}
	waitVersion(t, bv, "mine", "mygal", "ubuntu", "1.0.0")
	if err := fromCommunity("1.0.1", "/CommunityGalleries/"+pn+"/Images/nope/Versions/1.0.0"); armCode(err) != "ResourceNotFound" {
		t.Fatalf("missing community image: %v", err)
	}

	// C4: a community gallery is deleted only after Reset.
	if _, err := pub.galleries.BeginDelete(ctx, "rg-publisher", "cgal", nil); armCode(err) != "CommunityGallerySharingEnabled" || !strings.Contains(err.Error(), "az sig share reset") {
		t.Fatalf("deleting a community gallery: %v", err)
	}
	// Nor can its resource group go with it.
	rgsC, _ := armresources.NewResourceGroupsClient(s.Admin.SubscriptionID, s.adminCredential(t), s.armOptions(t))
	if _, err := rgsC.BeginDelete(ctx, "rg-publisher", nil); armCode(err) != "CommunityGallerySharingEnabled" {
		t.Fatalf("deleting the group of a community gallery: %v", err)
	}
	if err := pub.share(t, "cgal", armcompute.SharingUpdateOperationTypesReset, nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := cg.Get(ctx, "eastus", pn, nil); armCode(err) != "CommunityGalleryNotFound" {
		t.Fatalf("community gallery after reset: %v", err)
	}
	if err := fromCommunity("1.0.2", "/CommunityGalleries/"+pn+"/Images/ubuntu/Versions/2.0.0"); armCode(err) != "CommunityGalleryNotFound" || !strings.Contains(err.Error(), "stopped sharing") {
		t.Fatalf("version from a reset community gallery: %v", err)
	}
	if _, ans, raw := s.argQuery(t, tok, azQuery, nil); ans.Count != 0 {
		t.Fatalf("ARG after reset: %s", raw)
	}
	after, err := pub.galleries.Get(ctx, "rg-publisher", "cgal", nil)
	if err != nil || *after.Properties.SharingProfile.Permissions != armcompute.GallerySharingPermissionTypesPrivate || after.Properties.SharingProfile.CommunityGalleryInfo != nil {
		t.Fatalf("after reset: %+v %v", after.Properties, err)
	}
	if _, err := pub.galleries.BeginDelete(ctx, "rg-publisher", "cgal", nil); armCode(err) != "NestedResourcesExist" {
		t.Fatalf("deleting after reset: %v", err)
	}
}

// TestCommunityAbuseReports drives C8: anyone reports a community
// definition or version; the publisher lists the reports without learning
// who filed them; only an installation operator flags a version, which
// blocks new uses of it until lifted.
func TestCommunityAbuseReports(t *testing.T) {
	s := mustStart(t, "")
	ctx := context.Background()
	pub := newPublisher(t, s, "rg-publisher")
	pn := pub.communityGallery(t, "cgal", "Contoso")
	b := s.newTenant(t, "fabrikam.example")
	reporter := s.newSPIn(t, b.TenantID, "reporter")
	tok := s.token(t, s.credential(t, b.TenantID, reporter.AppID, reporter.Secret))
	base := "/subscriptions/" + b.SubscriptionID + "/providers/Microsoft.Compute/locations/eastus/communityGalleries/" + pn + "/images/ubuntu"

	for _, tc := range []struct {
		name, path, body string
		status           int
		target           string
	}{
		{"Definition", "/reportAbuse", `{"category":"Other","details":"The EULA link is broken."}`, 200, "/Images/ubuntu"},
		{"Version", "/versions/2.0.0/reportAbuse", `{"category":"ImageFlaggedUnsafe","details":"It ships a coin miner in /usr/local/bin."}`, 200, "/Images/ubuntu/Versions/2.0.0"},
		{"Latest", "/versions/latest/reportAbuse", `{"category":"ipTheft","details":"Contains our proprietary agent."}`, 200, "/Images/ubuntu/Versions/2.0.0"},
		{"ErrCategory", "/reportAbuse", `{"category":"Spam","details":"x"}`, 400, ""},
		{"ErrNoDetails", "/reportAbuse", `{"category":"Other","details":"  "}`, 400, ""},
		{"ErrMissingVersion", "/versions/9.9.9/reportAbuse", `{"category":"Other","details":"x"}`, 404, ""},
	} {
		t.Run("Report"+tc.name, func(t *testing.T) {
			status, body := s.call(t, "POST", base+tc.path+sharingAPI, tok, tc.body)
			if status != tc.status {
				t.Fatalf("got %d %s; want %d", status, body, tc.status)
			}
			if tc.target != "" {
				var r struct {
					Name       string
					Properties struct{ Target, Category string }
				}
				mustJSON(t, body, &r)
				if r.Properties.Target != "/CommunityGalleries/"+pn+tc.target || uuid.Validate(r.Name) != nil {
					t.Fatalf("report = %s", body)
				}
				assertNoLeak(t, "report", body, pub.sub, "rg-publisher")
			}
		})
	}

	// The publisher lists them; who reported stays hidden.
	reports := "/subscriptions/" + pub.sub + "/resourceGroups/rg-publisher/providers/Microsoft.Compute/galleries/cgal/abuseReports" + sharingAPI
	status, body := s.call(t, "GET", reports, s.adminToken(t), "")
	var list struct {
		Value []struct {
			Properties struct{ Category, Details, VersionName string }
		}
	}
	mustJSON(t, body, &list)
	if status != 200 || len(list.Value) != 3 || list.Value[0].Properties.Category != "Other" || list.Value[2].Properties.Category != "IpTheft" || list.Value[1].Properties.VersionName != "2.0.0" {
		t.Fatalf("abuse reports = %d %s", status, body)
	}
	assertNoLeak(t, "abuse reports", body, reporter.ObjectID, reporter.AppID, b.TenantID)
	nobody := s.newServicePrincipal(t, "nobody")
	if status, body := s.call(t, "GET", reports, s.token(t, s.credential(t, s.Admin.TenantID, nobody.AppID, nobody.Secret)), ""); status != 403 {
		t.Fatalf("reports for a principal without a role: %d %s", status, body)
	}

	// Only an installation operator flags a version; an Owner is not enough.
	owner := s.newServicePrincipal(t, "owner")
	s.grant(t, pub.cred, pub.sub, "/subscriptions/"+pub.sub, galleon.OwnerRoleID, owner.ObjectID)
	flag := "/subscriptions/" + pub.sub + "/resourceGroups/rg-publisher/providers/Microsoft.Compute/galleries/cgal/images/ubuntu/versions/2.0.0/markUnsafe" + sharingAPI
	violation := `{"category":"ImageFlaggedUnsafe","details":"Confirmed: a coin miner."}`
	if status, body := s.call(t, "POST", flag, s.token(t, s.credential(t, s.Admin.TenantID, owner.AppID, owner.Secret)), violation); status != 403 || !strings.Contains(body, "InstallationOperator") {
		t.Fatalf("owner flags: %d %s", status, body)
	}
	if status, body := s.call(t, "POST", flag, s.adminToken(t), violation); status != 200 {
		t.Fatalf("operator flags: %d %s", status, body)
	}
	v, err := pub.versions.Get(ctx, "rg-publisher", "cgal", "ubuntu", "2.0.0", nil)
	if sp := v.Properties.SafetyProfile; err != nil || sp == nil || !*sp.ReportedForPolicyViolation || *sp.PolicyViolations[0].Category != armcompute.PolicyViolationCategoryImageFlaggedUnsafe {
		t.Fatalf("flagged version = %+v %v", v.Properties, err)
	}
	// The publisher cannot clear the flag itself.
	up, err := pub.versions.BeginUpdate(ctx, "rg-publisher", "cgal", "ubuntu", "2.0.0", armcompute.GalleryImageVersionUpdate{Properties: &armcompute.GalleryImageVersionProperties{
		SafetyProfile: &armcompute.GalleryImageVersionSafetyProfile{AllowDeletionOfReplicatedLocations: to.Ptr(true)}}}, nil)
	if err == nil {
		_, err = up.PollUntilDone(ctx, pollFast())
	}
	if v, _ := pub.versions.Get(ctx, "rg-publisher", "cgal", "ubuntu", "2.0.0", nil); err != nil || !*v.Properties.SafetyProfile.ReportedForPolicyViolation {
		t.Fatalf("publisher's update cleared the flag: %v", err)
	}

	// New uses are blocked: a version from it, by its private ID or its
	// community ID (whose error names only the community ID).
	newVersion := func(source *armcompute.GalleryArtifactVersionFullSource) error {
		p, err := pub.versions.BeginCreateOrUpdate(ctx, "rg-publisher", "cgal", "ubuntu", "3.0.0", armcompute.GalleryImageVersion{Location: to.Ptr("eastus"),
			Properties: &armcompute.GalleryImageVersionProperties{StorageProfile: &armcompute.GalleryImageVersionStorageProfile{Source: source}}}, nil)
		if err == nil {
			_, err = p.PollUntilDone(ctx, pollFast())
		}
		return err
	}
	privateID := "/subscriptions/" + pub.sub + "/resourceGroups/rg-publisher/providers/Microsoft.Compute/galleries/cgal/images/ubuntu/versions/2.0.0"
	if err := newVersion(&armcompute.GalleryArtifactVersionFullSource{ID: to.Ptr(privateID)}); armCode(err) != "ImageVersionReportedForPolicyViolation" {
		t.Fatalf("version from a flagged version: %v", err)
	}
	err = newVersion(&armcompute.GalleryArtifactVersionFullSource{CommunityGalleryImageID: to.Ptr("/CommunityGalleries/" + pn + "/Images/ubuntu/Versions/2.0.0")})
	if armCode(err) != "ImageVersionReportedForPolicyViolation" || strings.Contains(err.Error(), "/versions/2.0.0") || !strings.Contains(err.Error(), "ImageFlaggedUnsafe") {
		t.Fatalf("version from a flagged community version: %v", err)
	}
	// The operator reaches a community version by its public name too, and
	// lifts a flag with markSafe.
	cbase := "/subscriptions/" + pub.sub + "/providers/Microsoft.Compute/locations/eastus/communityGalleries/" + pn + "/images/ubuntu/versions/"
	if status, body := s.call(t, "POST", cbase+"1.0.0/markUnsafe"+sharingAPI, s.adminToken(t), `{"category":"CopyrightValidation","details":"Under review."}`); status != 200 || !strings.Contains(body, `"reportedForPolicyViolation":true`) {
		t.Fatalf("flag by community name: %d %s", status, body)
	}
	if status, body := s.call(t, "POST", cbase+"2.0.0/markSafe"+sharingAPI, s.adminToken(t), ""); status != 200 || !strings.Contains(body, `"reportedForPolicyViolation":false`) {
		t.Fatalf("markSafe: %d %s", status, body)
	}
	if err := newVersion(&armcompute.GalleryArtifactVersionFullSource{ID: to.Ptr(privateID)}); err != nil {
		t.Fatalf("version from a version no longer flagged: %v", err)
	}
}

// TestSharingLeak tries every GET and list endpoint as strangers (a
// principal of another tenant with no role and nothing shared with it, and
// a principal of the publisher's tenant with no role) against a private
// gallery, a gallery shared with someone else and a community gallery:
// nothing private comes back. A body may only echo what its request named
// (and, in InvalidAuthenticationTokenTenant, the tenant that owns the
// subscription, as Azure tells clients where to sign in).
func TestSharingLeak(t *testing.T) {
	s := mustStart(t, "")
	ctx := context.Background()
	pub := newPublisher(t, s, "rg-secret-7f3a")
	if _, err := pub.createGallery(t, "secretgal", &armcompute.GalleryProperties{Description: to.Ptr("TOPSECRET-DESC")}); err != nil {
		t.Fatal(err)
	}
	if err := pub.createImage(t, "secretgal", "secretimg", linuxImage("eastus", "secretpub", "secretoffer", "secretsku")); err != nil {
		t.Fatal(err)
	}
	pub.version(t, "secretgal", "secretimg", "1.0.0", "eastus")
	c := s.newTenant(t, "wingtip.example")
	if _, err := pub.createGallery(t, "sharedgal", &armcompute.GalleryProperties{Description: to.Ptr("SHARED-DESC"),
		SharingProfile: &armcompute.SharingProfile{Permissions: to.Ptr(armcompute.GallerySharingPermissionTypesGroups)}}); err != nil {
		t.Fatal(err)
	}
	if err := pub.createImage(t, "sharedgal", "sharedimg", linuxImage("eastus", "sharedpub", "sharedoffer", "sharedsku")); err != nil {
		t.Fatal(err)
	}
	pub.version(t, "sharedgal", "sharedimg", "1.0.0", "eastus")
	if err := pub.share(t, "sharedgal", armcompute.SharingUpdateOperationTypesAdd, []string{c.SubscriptionID}, []string{c.TenantID}); err != nil {
		t.Fatal(err)
	}
	pn := pub.communityGallery(t, "commgal", "Contoso")
	if _, err := pub.galleries.Get(ctx, "rg-secret-7f3a", "commgal", nil); err != nil {
		t.Fatal(err)
	}
	b := s.newTenant(t, "fabrikam.example")
	outsider := s.newSPIn(t, b.TenantID, "outsider")
	insider := s.newServicePrincipal(t, "insider")
	private := []string{pub.sub, "rg-secret-7f3a", "secretgal", "secretimg", "secretpub", "TOPSECRET-DESC", "sharedgal", "sharedimg", "sharedpub",
		"SHARED-DESC", "commgal", c.SubscriptionID, c.TenantID, s.Admin.ClientID}
	strangers := []struct {
		name, sub, token string
		markers          []string
	}{
		// The publisher's tenant ID is private to a principal of another tenant only.
		{"OtherTenant", b.SubscriptionID, s.token(t, s.credential(t, b.TenantID, outsider.AppID, outsider.Secret)), append(private, s.Admin.TenantID)},
		{"SameTenant", pub.sub, s.token(t, s.credential(t, s.Admin.TenantID, insider.AppID, insider.Secret)), private},
	}
	a := "/subscriptions/" + pub.sub
	g := a + "/resourceGroups/rg-secret-7f3a/providers/Microsoft.Compute/galleries/"
	arg := func(table string) string {
		b, _ := json.Marshal(map[string]any{"query": table + " | where type !~ 'microsoft.compute/galleries' or name contains 'gal'"})
		return string(b)
	}
	for _, st := range strangers {
		own := "/subscriptions/" + st.sub
		loc := own + "/providers/Microsoft.Compute/locations/eastus"
		for _, tc := range []struct {
			path string
			deny bool // anything but an error is a leak
		}{
			{"/subscriptions?api-version=2022-12-01", false},
			{"/tenants?api-version=2022-12-01", false},
			{own + "/resourcegroups?api-version=2021-04-01", false},
			{own + "/resources?api-version=2021-04-01", false},
			{own + "/providers/Microsoft.Compute/galleries" + sharingAPI, false},
			{own + "/providers/Microsoft.Compute/galleryUsage" + sharingAPI, false},
			{own + "/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01", false},
			{loc + "/sharedGalleries" + sharingAPI, true},
			{loc + "/sharedGalleries?sharedTo=tenant&api-version=2022-03-03", true},
			{loc + "/sharedGalleries/" + pub.sub + "-SHAREDGAL" + sharingAPI, true},
			{loc + "/sharedGalleries/" + pub.sub + "-SHAREDGAL/images" + sharingAPI, true},
			{loc + "/sharedGalleries/" + pub.sub + "-SECRETGAL/images/secretimg/versions" + sharingAPI, true},
			{loc + "/communityGalleries/" + pn + sharingAPI, false},
			{loc + "/communityGalleries/" + pn + "/images" + sharingAPI, false},
			{loc + "/communityGalleries/" + pn + "/images/ubuntu/versions" + sharingAPI, false},
			{loc + "/communityGalleries/" + pn + "/images/ubuntu/versions/1.0.0" + sharingAPI, false},
			{loc + "/communityGalleries/Contoso-" + uuid.NewString() + sharingAPI, true},
			{loc + "/communityGalleries/" + pub.sub + "-SECRETGAL/images" + sharingAPI, true},
			{"/providers/Microsoft.Compute/communityImageSearch?api-version=2024-03-03", false},
			{"/providers/Microsoft.Compute/communityImageSearch?api-version=2024-03-03&publisher=secret", false},
			{g + "secretgal" + sharingAPI, true},
			{g + "secretgal/images" + sharingAPI, true},
			{g + "secretgal/images/secretimg" + sharingAPI, true},
			{g + "secretgal/images/secretimg/versions" + sharingAPI, true},
			{g + "secretgal/images/secretimg/versions/1.0.0" + sharingAPI, true},
			{g + "secretgal/images/secretimg/versions/latest" + sharingAPI, true},
			{g + "secretgal/images/secretimg/versions/1.0.0/disks/os/content" + sharingAPI, true},
			{g + "sharedgal?$expand=SharingProfile/Groups&api-version=2022-03-03", true},
			{g + "commgal" + sharingAPI, true},
			{g + "commgal/abuseReports" + sharingAPI, true},
			{g + "commgal/galleryUsage" + sharingAPI, false},
			{a + "/resourceGroups/rg-secret-7f3a?api-version=2021-04-01", true},
			{a + "/resourceGroups/rg-secret-7f3a/resources?api-version=2021-04-01", true},
			{a + "/providers/Microsoft.Compute/galleries" + sharingAPI, false},
			{a + "/resources?api-version=2021-04-01", false},
			{a + "/providers/Microsoft.Compute/galleryUsage" + sharingAPI, false},
			{a + "/providers/Microsoft.Compute/locations/eastus/sharedGalleries" + sharingAPI, true},
			{a + "/providers/Microsoft.Insights/eventtypes/management/values?api-version=2015-04-01&$filter=eventTimestamp%20ge%20'2020-01-01T00:00:00Z'", false},
		} {
			t.Run(st.name+tc.path, func(t *testing.T) {
				status, body := s.call(t, "GET", tc.path, st.token, "")
				if tc.deny && status < 400 {
					t.Fatalf("answered %d:\n%s", status, body)
				}
				leakCheck(t, tc.path, status, body, st.markers)
			})
		}
		for _, table := range []string{"communitygalleryresources", "resources"} {
			t.Run(st.name+"ResourceGraph"+table, func(t *testing.T) {
				status, body := s.call(t, "POST", "/providers/Microsoft.ResourceGraph/resources?api-version=2021-03-01", st.token, arg(table))
				leakCheck(t, table, status, body, st.markers)
			})
		}
	}
}

// leakCheck fails when a response body reveals a private marker its
// request did not name itself, or when the server failed.
func leakCheck(t *testing.T, request string, status int, body string, markers []string) {
	t.Helper()
	if status >= 500 {
		t.Fatalf("%s: %d %s", request, status, body)
	}
	var hide []string
	for _, m := range markers {
		if !strings.Contains(strings.ToLower(request), strings.ToLower(m)) {
			hide = append(hide, m)
		}
	}
	// Azure names the subscription's tenant so the client can sign in there.
	if errCode(body) == "InvalidAuthenticationTokenTenant" {
		body = body[:strings.Index(body, "must match the tenant")]
	}
	assertNoLeak(t, request, body, hide...)
}

// TestSharingLimitsConfig reads the sharing limits from a config file.
func TestSharingLimitsConfig(t *testing.T) {
	f := t.TempDir() + "/galleon.yaml"
	if err := os.WriteFile(f, []byte("limits:\n  sharing: {maxSubscriptions: 50, maxTenants: 2}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := LoadConfig(f)
	if err != nil || c.Limits.Sharing.MaxSubscriptions != 50 || c.Limits.Sharing.MaxTenants != 2 || c.Limits.GalleriesPerRegion != 100 {
		t.Fatalf("config = %+v %v", c.Limits, err)
	}
}
