package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources/v4"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armsubscriptions"
	"github.com/google/uuid"

	"github.com/galleonhq/galleon"
)

// ctTenant is a tenant made through the admin API with a subscription
// whose Owner is a service principal of the tenant.
type ctTenant struct {
	ID, Domain, Sub string
	Owner           principal
}

// ctNewTenant creates a tenant, an owner service principal and a
// subscription owned by it.
func (s *testServer) ctNewTenant(t *testing.T, domain string) ctTenant {
	t.Helper()
	cl := s.ctAPI(t)
	ctx := context.Background()
	var ten struct{ ID string }
	if err := cl.do(ctx, "POST", "/admin/v1/tenants", map[string]any{"domain": domain, "displayName": domain}, &ten); err != nil {
		t.Fatal(err)
	}
	owner := s.ctNewApp(t, ten.ID, "owner of "+domain, false)
	var sub struct{ SubscriptionID string }
	if err := cl.do(ctx, "POST", "/admin/v1/tenants/"+ten.ID+"/subscriptions",
		map[string]any{"displayName": domain + " subscription", "ownerPrincipalId": owner.ObjectID}, &sub); err != nil {
		t.Fatal(err)
	}
	return ctTenant{ID: ten.ID, Domain: domain, Sub: sub.SubscriptionID, Owner: owner}
}

func (s *testServer) ctAPI(t *testing.T) *apiClient {
	t.Helper()
	cl, err := newAPIClient(s.AdminFile)
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// ctNewApp registers an application in tenant with a secret and a service
// principal there.
func (s *testServer) ctNewApp(t *testing.T, tenant, name string, multiTenant bool) principal {
	t.Helper()
	cl := s.ctAPI(t)
	ctx := context.Background()
	prefix := "/admin/v1/tenants/" + tenant
	var app struct{ ID, AppID string }
	if err := cl.do(ctx, "POST", prefix+"/applications", map[string]any{"displayName": name, "multiTenant": multiTenant}, &app); err != nil {
		t.Fatal(err)
	}
	var secret struct{ SecretText string }
	if err := cl.do(ctx, "POST", prefix+"/applications/"+app.ID+"/secrets", map[string]any{}, &secret); err != nil {
		t.Fatal(err)
	}
	var sp struct{ ID string }
	if err := cl.do(ctx, "POST", prefix+"/servicePrincipals", map[string]any{"appId": app.AppID}, &sp); err != nil {
		t.Fatal(err)
	}
	return principal{AppID: app.AppID, ObjectID: sp.ID, Secret: secret.SecretText}
}

// ctNewUser creates a user with a password, with the given directory roles.
func (s *testServer) ctNewUser(t *testing.T, tenant, upn, password string, roles ...string) string {
	t.Helper()
	cl := s.ctAPI(t)
	ctx := context.Background()
	var u struct{ ID string }
	if err := cl.do(ctx, "POST", "/admin/v1/tenants/"+tenant+"/users", map[string]any{"userPrincipalName": upn, "displayName": upn, "password": password}, &u); err != nil {
		t.Fatal(err)
	}
	for _, r := range roles {
		if err := cl.do(ctx, "POST", "/admin/v1/tenants/"+tenant+"/directoryRoles", map[string]any{"principalId": u.ID, "role": r}, nil); err != nil {
			t.Fatal(err)
		}
	}
	return u.ID
}

// ctToken gets an ARM token from a credential.
func (s *testServer) ctToken(t *testing.T, cred azcore.TokenCredential) string {
	t.Helper()
	tok, err := cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{s.BaseURL + "/.default"}})
	if err != nil {
		t.Fatal(err)
	}
	return tok.Token
}

// ctReply is a raw ARM reply.
type ctReply struct {
	status        int
	code, message string
	body          map[string]any
}

// ctARM sends an ARM request with a primary token and an optional
// x-ms-authorization-auxiliary header value.
func (s *testServer) ctARM(t *testing.T, method, path, token, aux string, body any) ctReply {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = strings.NewReader(string(b))
	}
	req, _ := http.NewRequest(method, s.BaseURL+path, rd)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	if aux != "" {
		req.Header.Set("x-ms-authorization-auxiliary", aux)
	}
	resp, err := s.httpClient(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	r := ctReply{status: resp.StatusCode}
	_ = json.Unmarshal(data, &r.body)
	var e struct {
		Error struct{ Code, Message string }
	}
	_ = json.Unmarshal(data, &e)
	r.code, r.message = e.Error.Code, e.Error.Message
	return r
}

// ctImages is a gallery, an image definition and a version made by a
// tenant's owner.
type ctImages struct {
	RG, Gallery, Image string
	Version            galleon.ResourceID
}

// ctSeedImages creates a resource group, gallery and definition with the
// owner's credential and seeds version 1.0.0.
func (s *testServer) ctSeedImages(t *testing.T, ten ctTenant, rg, gal, img string) ctImages {
	t.Helper()
	ctx := context.Background()
	cred := s.credential(t, ten.ID, ten.Owner.AppID, ten.Owner.Secret)
	rgs, _ := armresources.NewResourceGroupsClient(ten.Sub, cred, s.armOptions(t))
	if _, err := rgs.CreateOrUpdate(ctx, rg, armresources.ResourceGroup{Location: to.Ptr("eastus")}, nil); err != nil {
		t.Fatal(err)
	}
	galleries, _ := armcompute.NewGalleriesClient(ten.Sub, cred, s.armOptions(t))
	if p, err := galleries.BeginCreateOrUpdate(ctx, rg, gal, armcompute.Gallery{Location: to.Ptr("eastus")}, nil); err != nil {
		t.Fatal(err)
	} else if _, err := p.PollUntilDone(ctx, pollFast()); err != nil {
		t.Fatal(err)
	}
	v := galleon.ResourceID{SubscriptionID: ten.Sub, ResourceGroup: rg, Namespace: "Microsoft.Compute",
		Types: []string{"galleries", "images", "versions"}, Names: []string{gal, img, "1.0.0"}}
	if img != "" {
		defs, _ := armcompute.NewGalleryImagesClient(ten.Sub, cred, s.armOptions(t))
		if p, err := defs.BeginCreateOrUpdate(ctx, rg, gal, img, linuxImage("eastus", "tailwind", "centos", "7"), nil); err != nil {
			t.Fatal(err)
		} else if _, err := p.PollUntilDone(ctx, pollFast()); err != nil {
			t.Fatal(err)
		}
		s.seedVersion(t, v, "eastus", randomDisk(8<<20))
		versions, _ := armcompute.NewGalleryImageVersionsClient(ten.Sub, cred, s.armOptions(t))
		waitVersion(t, versions, rg, gal, img, "1.0.0")
	}
	return ctImages{RG: rg, Gallery: gal, Image: img, Version: v}
}

var ctFlowRE = regexp.MustCompile(`name="flow" value="([^"]+)"`)

// ctConsent signs in on the authorize page as upn and accepts, the
// way a browser would, and returns where the server redirected to.
func (s *testServer) ctConsent(t *testing.T, authorizePath, upn, password string) *url.URL {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := s.httpClient(t)
	c.Jar = jar
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	send := func(method string, form url.Values) (*http.Response, string) {
		var rd io.Reader
		if form != nil {
			rd = strings.NewReader(form.Encode())
		}
		req, _ := http.NewRequest(method, s.BaseURL+authorizePath, rd)
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	flow := func(page string) string {
		m := ctFlowRE.FindStringSubmatch(page)
		if m == nil {
			t.Fatalf("no form on the page:\n%s", page)
		}
		return m[1]
	}
	resp, page := send("GET", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("authorize page: %d\n%s", resp.StatusCode, page)
	}
	resp, page = send("POST", url.Values{"flow": {flow(page)}, "username": {upn}, "password": {password}})
	if resp.StatusCode != 200 || !strings.Contains(page, "Accept") {
		t.Fatalf("sign-in: %d\n%s", resp.StatusCode, page)
	}
	resp, page = send("POST", url.Values{"flow": {flow(page)}, "decision": {"accept"}})
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("accept: %d\n%s", resp.StatusCode, page)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// TestCrossTenantAppRegistration is seed 003's first method (X1): tenant A
// registers a multi-tenant app and lets it read its gallery; tenant B's
// administrator consents on the authorize page, which creates the app's
// service principal in B; B gives it Contributor on a resource group; the
// app, signed in to both tenants, creates a version in B's gallery from
// A's version, with A's token in x-ms-authorization-auxiliary.
func TestCrossTenantAppRegistration(t *testing.T) {
	s := mustStart(t, "")
	ctx := context.Background()
	a := s.ctNewTenant(t, "tailwind.example")
	b := s.ctNewTenant(t, "contoso.example")
	src := s.ctSeedImages(t, a, "images", "tailwind", "centos")

	// Tenant A: a multi-tenant app with Reader on the gallery. Tenant A
	// never learns tenant B's ID.
	app := s.ctNewApp(t, a.ID, "Tailwind image sharing", true)
	ownerA := s.ctToken(t, s.credential(t, a.ID, a.Owner.AppID, a.Owner.Secret))
	galleryScope := "/subscriptions/" + a.Sub + "/resourceGroups/images/providers/Microsoft.Compute/galleries/tailwind"
	assign := func(token, scope, principalID, role string) {
		t.Helper()
		r := s.ctARM(t, "PUT", scope+"/providers/Microsoft.Authorization/roleAssignments/"+uuid.NewString()+"?api-version=2022-04-01", token, "",
			map[string]any{"properties": map[string]any{"roleDefinitionId": "/providers/Microsoft.Authorization/roleDefinitions/" + role, "principalId": principalID}})
		if r.status != 201 {
			t.Fatalf("assign %s at %s: %d %s %s", role, scope, r.status, r.code, r.message)
		}
	}
	assign(ownerA, galleryScope, app.ObjectID, galleon.ReaderRoleID)

	// Before consent the app cannot sign in to tenant B.
	credB := s.ctAppCredential(t, b.ID, app, a.ID)
	if _, err := credB.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{s.BaseURL + "/.default"}}); err == nil || !strings.Contains(err.Error(), "AADSTS700016") {
		t.Fatalf("token in B before consent: %v", err)
	}

	// Tenant B's Global Administrator opens the seed's v1 URL and accepts.
	const password = "correct horse battery staple"
	s.ctNewUser(t, b.ID, "admin@contoso.example", password, galleon.RoleGlobalAdministrator)
	authorize := "/" + b.ID + "/oauth2/authorize?client_id=" + app.AppID + "&response_type=code&redirect_uri=https%3A%2F%2Fwww.microsoft.com%2F"
	loc := s.ctConsent(t, authorize, "admin@contoso.example", password)
	if loc.Host != "www.microsoft.com" || loc.Query().Get("code") == "" {
		t.Fatalf("redirected to %s", loc)
	}
	ownerB := s.ctToken(t, s.credential(t, b.ID, b.Owner.AppID, b.Owner.Secret))
	var sps struct {
		Value []struct{ ID, AppID string }
	}
	if err := s.ctGraphGet(t, "/v1.0/servicePrincipals?$filter="+url.QueryEscape("appId eq '"+app.AppID+"'"), ownerB, &sps); err != nil || len(sps.Value) != 1 {
		t.Fatalf("service principal in B: %+v %v", sps, err)
	}
	spInB := sps.Value[0].ID
	if spInB == app.ObjectID {
		t.Fatal("the service principal in B has A's object ID")
	}

	// Tenant B gives it Contributor on a resource group; the app builds its
	// own gallery there.
	rgsB, _ := armresources.NewResourceGroupsClient(b.Sub, s.credential(t, b.ID, b.Owner.AppID, b.Owner.Secret), s.armOptions(t))
	if _, err := rgsB.CreateOrUpdate(ctx, "vm-rg", armresources.ResourceGroup{Location: to.Ptr("eastus")}, nil); err != nil {
		t.Fatal(err)
	}
	assign(ownerB, "/subscriptions/"+b.Sub+"/resourceGroups/vm-rg", spInB, galleon.ContributorRoleID)
	galleriesB, _ := armcompute.NewGalleriesClient(b.Sub, credB, s.armOptions(t))
	if p, err := galleriesB.BeginCreateOrUpdate(ctx, "vm-rg", "contoso", armcompute.Gallery{Location: to.Ptr("eastus")}, nil); err != nil {
		t.Fatalf("app creates a gallery in B: %v", err)
	} else if _, err := p.PollUntilDone(ctx, pollFast()); err != nil {
		t.Fatal(err)
	}
	defsB, _ := armcompute.NewGalleryImagesClient(b.Sub, credB, s.armOptions(t))
	if p, err := defsB.BeginCreateOrUpdate(ctx, "vm-rg", "contoso", "centos", linuxImage("eastus", "contoso", "centos", "7"), nil); err != nil {
		t.Fatal(err)
	} else if _, err := p.PollUntilDone(ctx, pollFast()); err != nil {
		t.Fatal(err)
	}

	// The app signs in to tenant A as well and reads the version there.
	credA := s.ctAppCredential(t, a.ID, app)
	versionsA, _ := armcompute.NewGalleryImageVersionsClient(a.Sub, credA, s.armOptions(t))
	if _, err := versionsA.Get(ctx, "images", "tailwind", "centos", "1.0.0", nil); err != nil {
		t.Fatalf("app reads A's version with A's token: %v", err)
	}

	newVersion := func(v string) armcompute.GalleryImageVersion {
		return armcompute.GalleryImageVersion{Location: to.Ptr("eastus"), Properties: &armcompute.GalleryImageVersionProperties{
			StorageProfile: &armcompute.GalleryImageVersionStorageProfile{Source: &armcompute.GalleryArtifactVersionFullSource{ID: to.Ptr(src.Version.String())}}}}
	}
	// The SDK sends the tenant-A token for AuxiliaryTenants.
	auxOpts := s.armOptions(t)
	auxOpts.AuxiliaryTenants = []string{a.ID}
	versionsB, _ := armcompute.NewGalleryImageVersionsClient(b.Sub, credB, auxOpts)
	p, err := versionsB.BeginCreateOrUpdate(ctx, "vm-rg", "contoso", "centos", "1.0.0", newVersion("1.0.0"), nil)
	if err != nil {
		t.Fatalf("create B's version from A's with an auxiliary token: %v", err)
	}
	got, err := p.PollUntilDone(ctx, pollFast())
	if err != nil || *got.Properties.ProvisioningState != armcompute.GalleryProvisioningStateSucceeded {
		t.Fatalf("version from A's: %v %+v", err, got.Properties)
	}

	// Without the auxiliary token: LinkedAuthorizationFailed naming tenant A.
	plainB, _ := armcompute.NewGalleryImageVersionsClient(b.Sub, credB, s.armOptions(t))
	_, err = plainB.BeginCreateOrUpdate(ctx, "vm-rg", "contoso", "centos", "1.0.1", newVersion("1.0.1"), nil)
	if armCode(err) != "LinkedAuthorizationFailed" || !strings.Contains(err.Error(), a.ID) || !strings.Contains(err.Error(), "x-ms-authorization-auxiliary") {
		t.Fatalf("without the auxiliary token: %v", err)
	}

	tokB := s.ctToken(t, credB)
	tokA := s.ctToken(t, credA)
	versionPath := "/subscriptions/" + b.Sub + "/resourceGroups/vm-rg/providers/Microsoft.Compute/galleries/contoso/images/centos/versions/"
	body := map[string]any{"location": "eastus", "properties": map[string]any{"storageProfile": map[string]any{"source": map[string]any{"id": src.Version.String()}}}}

	// An auxiliary principal of tenant A without Reader on the source.
	stranger := s.ctNewApp(t, a.ID, "stranger", false)
	strangerTok := s.ctToken(t, s.credential(t, a.ID, stranger.AppID, stranger.Secret))
	r := s.ctARM(t, "PUT", versionPath+"1.0.2?api-version=2022-03-03", tokB, "Bearer "+strangerTok, body)
	if r.status != 403 || r.code != "LinkedAuthorizationFailed" || !strings.Contains(r.message, "Microsoft.Compute/galleries/images/versions/read") ||
		!strings.Contains(r.message, stranger.ObjectID) || !strings.Contains(r.message, src.Version.String()) {
		t.Fatalf("aux principal without Reader: %d %s %s", r.status, r.code, r.message)
	}
	// A forged auxiliary token is rejected before anything else.
	forged := tokA[:len(tokA)-4] + "AAAA"
	r = s.ctARM(t, "PUT", versionPath+"1.0.3?api-version=2022-03-03", tokB, "Bearer "+forged, body)
	if r.status != 401 || !strings.Contains(r.message, "x-ms-authorization-auxiliary") {
		t.Fatalf("forged aux token: %d %s %s", r.status, r.code, r.message)
	}
	r = s.ctARM(t, "PUT", versionPath+"1.0.4?api-version=2022-03-03", tokB, "Bearer "+tokA+", Bearer "+tokA+", Bearer "+tokA+", Bearer "+tokA, body)
	if r.status != 400 || r.code != "TooManyAuxiliaryTokens" {
		t.Fatalf("four aux tokens: %d %s %s", r.status, r.code, r.message)
	}
	// The raw header form works as the SDK's does.
	r = s.ctARM(t, "PUT", versionPath+"1.0.5?api-version=2022-03-03", tokB, "Bearer "+tokA, body)
	if r.status != 201 {
		t.Fatalf("raw aux header: %d %s %s", r.status, r.code, r.message)
	}
	// The primary token still decides which subscriptions a request may
	// address: B's token cannot read A's version, auxiliary token or not.
	r = s.ctARM(t, "GET", src.Version.String()+"?api-version=2022-03-03", tokB, "Bearer "+tokA, nil)
	if r.status != 401 || r.code != "InvalidAuthenticationTokenTenant" {
		t.Fatalf("B's primary token on A's subscription: %d %s", r.status, r.code)
	}
	// Tenant A revokes Reader: the copy is refused.
	ras := s.ctARM(t, "GET", galleryScope+"/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01&$filter="+url.QueryEscape("principalId eq '"+app.ObjectID+"'"), ownerA, "", nil)
	for _, v := range ras.body["value"].([]any) {
		id := v.(map[string]any)["id"].(string)
		if d := s.ctARM(t, "DELETE", id+"?api-version=2022-04-01", ownerA, "", nil); d.status != 200 {
			t.Fatalf("delete %s: %d", id, d.status)
		}
	}
	r = s.ctARM(t, "PUT", versionPath+"1.0.6?api-version=2022-03-03", tokB, "Bearer "+tokA, body)
	if r.status != 403 || r.code != "LinkedAuthorizationFailed" {
		t.Fatalf("after A revoked Reader: %d %s %s", r.status, r.code, r.message)
	}
}

// ctAppCredential signs app in to tenant, allowing the extra tenants for
// auxiliary tokens.
func (s *testServer) ctAppCredential(t *testing.T, tenant string, app principal, also ...string) azcore.TokenCredential {
	t.Helper()
	cred, err := azidentity.NewClientSecretCredential(tenant, app.AppID, app.Secret, &azidentity.ClientSecretCredentialOptions{
		ClientOptions: s.clientOptions(t), DisableInstanceDiscovery: true, AdditionallyAllowedTenants: also,
	})
	if err != nil {
		t.Fatal(err)
	}
	return cred
}

// ctGraphGet reads a Graph path with token into out.
func (s *testServer) ctGraphGet(t *testing.T, path, token string, out any) error {
	t.Helper()
	req, _ := http.NewRequest("GET", s.BaseURL+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := s.httpClient(t).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// ctSubscriptions returns the subscriptions a credential sees, by ID.
func (s *testServer) ctSubscriptions(t *testing.T, cred azcore.TokenCredential) map[string]*armsubscriptions.Subscription {
	t.Helper()
	c, err := armsubscriptions.NewClient(cred, s.armOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*armsubscriptions.Subscription{}
	for p := c.NewListPager(nil); p.More(); {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatalf("list subscriptions: %v", err)
		}
		for _, sub := range page.Value {
			out[*sub.SubscriptionID] = sub
		}
	}
	return out
}

func ctManagedBy(sub *armsubscriptions.Subscription) []string {
	var out []string
	for _, m := range sub.ManagedByTenants {
		out = append(out, *m.TenantID)
	}
	return out
}

// TestDelegatedManagement is seed 003's second method (X2, Azure
// Lighthouse): the customer tenant A, which owns the images, delegates a
// resource group to tenant B's principals with Reader; B sees A's
// subscription and images next to its own, builds from them, cannot reach
// outside the group, and loses access when A deletes the assignment.
func TestDelegatedManagement(t *testing.T) {
	s := mustStart(t, "")
	ctx := context.Background()
	a := s.ctNewTenant(t, "customer.example")
	b := s.ctNewTenant(t, "provider.example")
	shared := s.ctSeedImages(t, a, "shared-rg", "shared", "centos")
	s.ctSeedImages(t, a, "private-rg", "private", "")
	const password = "correct horse battery staple"
	operator := s.ctNewUser(t, b.ID, "operator@provider.example", password)
	ownerA := s.ctToken(t, s.credential(t, a.ID, a.Owner.AppID, a.Owner.Secret))
	credB := s.credential(t, b.ID, b.Owner.AppID, b.Owner.Secret)
	tokB := s.ctToken(t, credB)
	const v = "?api-version=2022-10-01"

	// Nothing is delegated yet.
	if r := s.ctARM(t, "GET", "/subscriptions/"+a.Sub+"/resourceGroups/shared-rg"+"?api-version=2021-04-01", tokB, "", nil); r.status != 401 || r.code != "InvalidAuthenticationTokenTenant" {
		t.Fatalf("before delegation: %d %s", r.status, r.code)
	}

	// Tenant A deploys the definition and the assignment (seed 003's
	// parameters: offer name, description, managing tenant, authorizations).
	defID := "/subscriptions/" + a.Sub + "/providers/Microsoft.ManagedServices/registrationDefinitions/" + uuid.NewString()
	definition := func(role string) map[string]any {
		return map[string]any{"properties": map[string]any{
			"registrationDefinitionName": "customer shared image", "description": "customer shared image",
			"managedByTenantId": b.ID,
			"authorizations": []any{
				map[string]any{"principalId": b.Owner.ObjectID, "roleDefinitionId": role, "principalIdDisplayName": "PIM_Group"},
				map[string]any{"principalId": operator, "roleDefinitionId": galleon.ReaderRoleID, "principalIdDisplayName": "Operator"},
			},
		}}
	}
	if r := s.ctARM(t, "PUT", defID+v, ownerA, "", definition(galleon.OwnerRoleID)); r.status != 400 || r.code != "RoleNotDelegable" || !strings.Contains(r.message, "Owner") {
		t.Fatalf("Owner authorization: %d %s %s", r.status, r.code, r.message)
	}
	bad := definition(galleon.ReaderRoleID)
	bad["properties"].(map[string]any)["managedByTenantId"] = a.ID
	if r := s.ctARM(t, "PUT", defID+v, ownerA, "", bad); r.status != 400 || !strings.Contains(r.message, "tenant of this subscription") {
		t.Fatalf("self-delegation: %d %s %s", r.status, r.code, r.message)
	}
	r := s.ctARM(t, "PUT", defID+v, ownerA, "", definition(galleon.ReaderRoleID))
	props, _ := r.body["properties"].(map[string]any)
	if r.status != 201 || props["provisioningState"] != "Succeeded" || props["manageeTenantId"] != a.ID || props["managedByTenantId"] != b.ID {
		t.Fatalf("create definition: %d %s %v", r.status, r.message, r.body)
	}
	// A Reader of the subscription may not delegate it.
	reader := s.ctNewApp(t, a.ID, "reader", false)
	readerTok := s.ctToken(t, s.credential(t, a.ID, reader.AppID, reader.Secret))
	if rr := s.ctARM(t, "PUT", "/subscriptions/"+a.Sub+"/providers/Microsoft.Authorization/roleAssignments/"+uuid.NewString()+"?api-version=2022-04-01", ownerA, "",
		map[string]any{"properties": map[string]any{"roleDefinitionId": "/providers/Microsoft.Authorization/roleDefinitions/" + galleon.ContributorRoleID, "principalId": reader.ObjectID}}); rr.status != 201 {
		t.Fatalf("assign Contributor: %d %s", rr.status, rr.message)
	}
	assignmentID := "/subscriptions/" + a.Sub + "/resourceGroups/shared-rg/providers/Microsoft.ManagedServices/registrationAssignments/" + uuid.NewString()
	assignment := map[string]any{"properties": map[string]any{"registrationDefinitionId": defID}}
	if r := s.ctARM(t, "PUT", assignmentID+v, readerTok, "", assignment); r.status != 403 || !strings.Contains(r.message, "roleAssignments/write") {
		t.Fatalf("Contributor delegates: %d %s %s", r.status, r.code, r.message)
	}
	if r := s.ctARM(t, "PUT", assignmentID+v, ownerA, "", assignment); r.status != 201 {
		t.Fatalf("create assignment: %d %s %s", r.status, r.code, r.message)
	}
	r = s.ctARM(t, "GET", assignmentID+v+"&$expandRegistrationDefinition=true", ownerA, "", nil)
	expanded, _ := r.body["properties"].(map[string]any)["registrationDefinition"].(map[string]any)
	if r.status != 200 || expanded == nil || expanded["id"] != defID {
		t.Fatalf("get assignment expanded: %d %v", r.status, r.body)
	}
	if r := s.ctARM(t, "GET", "/subscriptions/"+a.Sub+"/providers/Microsoft.ManagedServices/registrationAssignments"+v, ownerA, "", nil); r.status != 200 || len(r.body["value"].([]any)) != 1 {
		t.Fatalf("list assignments: %d %v", r.status, r.body)
	}
	if r := s.ctARM(t, "DELETE", defID+v, ownerA, "", nil); r.status != 409 || r.code != "RegistrationDefinitionInUse" {
		t.Fatalf("delete a definition in use: %d %s", r.status, r.code)
	}

	// B lists A's subscription next to its own, marked as managed by B;
	// A sees B as a managing tenant.
	subs := s.ctSubscriptions(t, credB)
	if sub := subs[a.Sub]; sub == nil || *sub.TenantID != a.ID || strings.Join(ctManagedBy(sub), ",") != b.ID {
		t.Fatalf("B's subscriptions: %+v", subs)
	}
	if sub := subs[b.Sub]; sub == nil || len(sub.ManagedByTenants) != 0 {
		t.Fatalf("B's own subscription: %+v", subs)
	}
	if sub := s.ctSubscriptions(t, s.credential(t, a.ID, a.Owner.AppID, a.Owner.Secret))[a.Sub]; sub == nil || strings.Join(ctManagedBy(sub), ",") != b.ID {
		t.Fatalf("A's view of its subscription: %+v", sub)
	}

	// B's service principal reads A's images in the delegated group with
	// its own token, and nothing outside it.
	galleriesA, _ := armcompute.NewGalleriesClient(a.Sub, credB, s.armOptions(t))
	var names []string
	for p := galleriesA.NewListPager(nil); p.More(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("list A's galleries as B: %v", err)
		}
		for _, g := range page.Value {
			names = append(names, *g.Name)
		}
	}
	if strings.Join(names, ",") != "shared" {
		t.Fatalf("B sees galleries %v, want only the delegated one", names)
	}
	imagesA, _ := armcompute.NewGalleryImagesClient(a.Sub, credB, s.armOptions(t))
	var images []string
	for p := imagesA.NewListByGalleryPager("shared-rg", "shared", nil); p.More(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("list A's images as B: %v", err)
		}
		for _, img := range page.Value {
			images = append(images, *img.Name)
		}
	}
	if strings.Join(images, ",") != "centos" {
		t.Fatalf("B sees images %v", images)
	}
	versionsA, _ := armcompute.NewGalleryImageVersionsClient(a.Sub, credB, s.armOptions(t))
	if _, err := versionsA.Get(ctx, "shared-rg", "shared", "centos", "1.0.0", nil); err != nil {
		t.Fatalf("B reads A's version: %v", err)
	}
	if p := versionsA.NewListByGalleryImagePager("shared-rg", "shared", "centos", nil); !p.More() {
		t.Fatal("no version pages")
	} else if page, err := p.NextPage(ctx); err != nil || len(page.Value) != 1 {
		t.Fatalf("B lists A's versions: %v %d", err, len(page.Value))
	}
	if _, err := galleriesA.Get(ctx, "private-rg", "private", nil); armCode(err) != "AuthorizationFailed" {
		t.Fatalf("B reads outside the delegated group: %v", err)
	}
	if _, err := galleriesA.BeginCreateOrUpdate(ctx, "shared-rg", "mine", armcompute.Gallery{Location: to.Ptr("eastus")}, nil); armCode(err) != "AuthorizationFailed" {
		t.Fatalf("a delegated Reader writes: %v", err)
	}
	// B's user, signed in with a password, reads it too.
	userCred, err := azidentity.NewUsernamePasswordCredential(b.ID, azureCLIClientID, "operator@provider.example", password,
		&azidentity.UsernamePasswordCredentialOptions{ClientOptions: s.clientOptions(t), DisableInstanceDiscovery: true})
	if err != nil {
		t.Fatal(err)
	}
	userVersions, _ := armcompute.NewGalleryImageVersionsClient(a.Sub, userCred, s.armOptions(t))
	if _, err := userVersions.Get(ctx, "shared-rg", "shared", "centos", "1.0.0", nil); err != nil {
		t.Fatalf("B's user reads A's version: %v", err)
	}

	// B builds from A's version in its own gallery with only its own token:
	// the delegation authorizes the linked read.
	own := s.ctSeedImages(t, b, "own-rg", "own", "")
	defsB, _ := armcompute.NewGalleryImagesClient(b.Sub, credB, s.armOptions(t))
	if p, err := defsB.BeginCreateOrUpdate(ctx, own.RG, own.Gallery, "centos", linuxImage("eastus", "provider", "centos", "7"), nil); err != nil {
		t.Fatal(err)
	} else if _, err := p.PollUntilDone(ctx, pollFast()); err != nil {
		t.Fatal(err)
	}
	versionsB, _ := armcompute.NewGalleryImageVersionsClient(b.Sub, credB, s.armOptions(t))
	p, err := versionsB.BeginCreateOrUpdate(ctx, own.RG, own.Gallery, "centos", "1.0.0", armcompute.GalleryImageVersion{Location: to.Ptr("eastus"),
		Properties: &armcompute.GalleryImageVersionProperties{StorageProfile: &armcompute.GalleryImageVersionStorageProfile{
			Source: &armcompute.GalleryArtifactVersionFullSource{ID: to.Ptr(shared.Version.String())}}}}, nil)
	if err != nil {
		t.Fatalf("B copies A's version: %v", err)
	}
	if _, err := p.PollUntilDone(ctx, pollFast()); err != nil {
		t.Fatal(err)
	}

	// A removes the delegation: B's access ends at once.
	if r := s.ctARM(t, "DELETE", assignmentID+v, ownerA, "", nil); r.status != 200 {
		t.Fatalf("delete assignment: %d %s", r.status, r.message)
	}
	if _, err := versionsA.Get(ctx, "shared-rg", "shared", "centos", "1.0.0", nil); armCode(err) != "InvalidAuthenticationTokenTenant" {
		t.Fatalf("B reads after revocation: %v", err)
	}
	if _, ok := s.ctSubscriptions(t, credB)[a.Sub]; ok {
		t.Fatal("A's subscription is still listed for B")
	}
	if sub := s.ctSubscriptions(t, s.credential(t, a.ID, a.Owner.AppID, a.Owner.Secret))[a.Sub]; len(sub.ManagedByTenants) != 0 {
		t.Fatalf("A's subscription still managed by %v", ctManagedBy(sub))
	}
	if r := s.ctARM(t, "DELETE", defID+v, ownerA, "", nil); r.status != 200 {
		t.Fatalf("delete definition: %d %s", r.status, r.code)
	}
	if r := s.ctARM(t, "GET", defID+v, ownerA, "", nil); r.status != 404 || r.code != "RegistrationDefinitionNotFound" {
		t.Fatalf("get deleted definition: %d %s", r.status, r.code)
	}
}

// TestDelegationRequests checks the Microsoft.ManagedServices API's
// validation and edge cases.
func TestDelegationRequests(t *testing.T) {
	s := mustStart(t, "")
	a := s.ctNewTenant(t, "customer.example")
	b := s.ctNewTenant(t, "provider.example")
	s.ctSeedImages(t, a, "rg", "gal", "")
	ownerA := s.ctToken(t, s.credential(t, a.ID, a.Owner.AppID, a.Owner.Secret))
	const v = "?api-version=2022-10-01"
	sub := "/subscriptions/" + a.Sub
	ms := "/providers/Microsoft.ManagedServices/"
	def := func(mutate func(p map[string]any)) map[string]any {
		p := map[string]any{"managedByTenantId": b.ID, "authorizations": []any{
			map[string]any{"principalId": b.Owner.ObjectID, "roleDefinitionId": galleon.ReaderRoleID}}}
		if mutate != nil {
			mutate(p)
		}
		return map[string]any{"properties": p}
	}
	goodDef := sub + ms + "registrationDefinitions/" + uuid.NewString()
	if r := s.ctARM(t, "PUT", goodDef+v, ownerA, "", def(nil)); r.status != 201 {
		t.Fatalf("create definition: %d %s", r.status, r.message)
	}
	rgDef := sub + "/resourceGroups/rg" + ms + "registrationDefinitions/" + uuid.NewString()
	if r := s.ctARM(t, "PUT", rgDef+v, ownerA, "", def(nil)); r.status != 201 {
		t.Fatalf("create definition at a resource group: %d %s", r.status, r.message)
	}
	if r := s.ctARM(t, "PUT", goodDef+v, ownerA, "", def(func(p map[string]any) { p["description"] = "updated" })); r.status != 200 {
		t.Fatalf("update definition: %d %s", r.status, r.message)
	}
	for _, tc := range []struct {
		name, method, path string
		body               any
		status             int
		code               string
	}{
		{"ErrResourceScope", "PUT", sub + "/resourceGroups/rg/providers/Microsoft.Compute/galleries/gal" + ms + "registrationDefinitions/" + uuid.NewString(), def(nil), 400, "InvalidScope"},
		{"ErrNameNotGUID", "PUT", sub + ms + "registrationDefinitions/offer1", def(nil), 400, "InvalidResourceName"},
		{"ErrNoProperties", "PUT", sub + ms + "registrationDefinitions/" + uuid.NewString(), map[string]any{}, 400, "InvalidRegistrationDefinition"},
		{"ErrNoManagingTenant", "PUT", sub + ms + "registrationDefinitions/" + uuid.NewString(), def(func(p map[string]any) { delete(p, "managedByTenantId") }), 400, "InvalidRegistrationDefinition"},
		{"ErrUnknownManagingTenant", "PUT", sub + ms + "registrationDefinitions/" + uuid.NewString(), def(func(p map[string]any) { p["managedByTenantId"] = uuid.NewString() }), 400, "InvalidRegistrationDefinition"},
		{"ErrNoAuthorizations", "PUT", sub + ms + "registrationDefinitions/" + uuid.NewString(), def(func(p map[string]any) { p["authorizations"] = []any{} }), 400, "InvalidRegistrationDefinition"},
		{"ErrPrincipalOfOtherTenant", "PUT", sub + ms + "registrationDefinitions/" + uuid.NewString(), def(func(p map[string]any) {
			p["authorizations"] = []any{map[string]any{"principalId": a.Owner.ObjectID, "roleDefinitionId": galleon.ReaderRoleID}}
		}), 400, "PrincipalNotFound"},
		{"ErrCustomRole", "PUT", sub + ms + "registrationDefinitions/" + uuid.NewString(), def(func(p map[string]any) {
			p["authorizations"] = []any{map[string]any{"principalId": b.Owner.ObjectID, "roleDefinitionId": uuid.NewString()}}
		}), 400, "InvalidRoleDefinitionId"},
		{"ErrUserAccessAdministrator", "PUT", sub + ms + "registrationDefinitions/" + uuid.NewString(), def(func(p map[string]any) {
			p["authorizations"] = []any{map[string]any{"principalId": b.Owner.ObjectID, "roleDefinitionId": galleon.UserAccessAdministratorRoleID,
				"delegatedRoleDefinitionIds": []string{galleon.ReaderRoleID}}}
		}), 400, "RoleNotDelegable"},
		{"ErrEligible", "PUT", sub + ms + "registrationDefinitions/" + uuid.NewString(), def(func(p map[string]any) {
			p["eligibleAuthorizations"] = []any{map[string]any{"principalId": b.Owner.ObjectID, "roleDefinitionId": galleon.ReaderRoleID}}
		}), 501, "EligibleAuthorizationsNotSupported"},
		{"ErrAssignmentWithoutDefinition", "PUT", sub + ms + "registrationAssignments/" + uuid.NewString(), map[string]any{"properties": map[string]any{}}, 400, "InvalidRegistrationAssignment"},
		{"ErrAssignmentOfOtherSubscription", "PUT", sub + ms + "registrationAssignments/" + uuid.NewString(),
			map[string]any{"properties": map[string]any{"registrationDefinitionId": "/subscriptions/" + b.Sub + ms + "registrationDefinitions/" + uuid.NewString()}}, 400, "InvalidRegistrationAssignment"},
		{"ErrAssignmentOfMissingDefinition", "PUT", sub + ms + "registrationAssignments/" + uuid.NewString(),
			map[string]any{"properties": map[string]any{"registrationDefinitionId": sub + ms + "registrationDefinitions/" + uuid.NewString()}}, 400, "RegistrationDefinitionNotFound"},
		{"ErrMissingResourceGroup", "PUT", sub + "/resourceGroups/nope" + ms + "registrationAssignments/" + uuid.NewString(),
			map[string]any{"properties": map[string]any{"registrationDefinitionId": goodDef}}, 404, "ResourceGroupNotFound"},
		{"ErrGetMissing", "GET", sub + ms + "registrationAssignments/" + uuid.NewString(), nil, 404, "RegistrationAssignmentNotFound"},
		{"DeleteMissing", "DELETE", sub + ms + "registrationAssignments/" + uuid.NewString(), nil, 204, ""},
		{"ErrFilter", "GET", sub + ms + "registrationDefinitions" + v + "&$filter=" + url.QueryEscape("name eq 'x'"), nil, 400, "InvalidFilterParameter"},
		{"ErrAPIVersion", "GET", sub + ms + "registrationDefinitions?api-version=2000-01-01", nil, 400, "InvalidApiVersionParameter"},
		{"Operations", "GET", "/providers/Microsoft.ManagedServices/operations" + v, nil, 200, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := tc.path
			if !strings.Contains(path, "api-version") {
				path += v
			}
			r := s.ctARM(t, tc.method, path, ownerA, "", tc.body)
			if r.status != tc.status || r.code != tc.code {
				t.Fatalf("%s %s: %d %s %s; want %d %s", tc.method, tc.path, r.status, r.code, r.message, tc.status, tc.code)
			}
		})
	}
	// Listing at the subscription shows both definitions; at the resource
	// group, only its own; the filter selects by managing tenant.
	for path, want := range map[string]int{
		sub + ms + "registrationDefinitions" + v:                                                                                2,
		sub + "/resourceGroups/rg" + ms + "registrationDefinitions" + v:                                                         1,
		sub + ms + "registrationDefinitions" + v + "&$filter=" + url.QueryEscape("managedByTenantId eq '"+b.ID+"'"):             2,
		sub + ms + "registrationDefinitions" + v + "&$filter=" + url.QueryEscape("managedByTenantId eq '"+uuid.NewString()+"'"): 0,
	} {
		r := s.ctARM(t, "GET", path, ownerA, "", nil)
		if list, _ := r.body["value"].([]any); r.status != 200 || len(list) != want {
			t.Fatalf("GET %s: %d, %d items; want %d", path, r.status, len(list), want)
		}
	}
	// Another tenant's token reaches nothing of the customer's.
	tokB := s.ctToken(t, s.credential(t, b.ID, b.Owner.AppID, b.Owner.Secret))
	if r := s.ctARM(t, "GET", goodDef+v, tokB, "", nil); r.status != 401 || r.code != "InvalidAuthenticationTokenTenant" {
		t.Fatalf("other tenant reads a definition: %d %s", r.status, r.code)
	}
}
