package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/authorization/armauthorization/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources/v4"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armsubscriptions"
	"github.com/google/uuid"

	"github.com/galleonhq/galleon"
)

// principal is a service principal made through the admin API for a test.
type principal struct {
	AppID, ObjectID, Secret string
}

func (s *testServer) newServicePrincipal(tb testing.TB, name string) principal {
	tb.Helper()
	cl, err := newAPIClient(s.AdminFile)
	if err != nil {
		tb.Fatal(err)
	}
	ctx := context.Background()
	prefix := "/admin/v1/tenants/" + s.Admin.TenantID
	var app struct{ ID, AppID string }
	if err := cl.do(ctx, "POST", prefix+"/applications", map[string]any{"displayName": name}, &app); err != nil {
		tb.Fatal(err)
	}
	var sp struct{ ID string }
	if err := cl.do(ctx, "POST", prefix+"/servicePrincipals", map[string]any{"appId": app.AppID}, &sp); err != nil {
		tb.Fatal(err)
	}
	var secret struct{ SecretText string }
	if err := cl.do(ctx, "POST", prefix+"/applications/"+app.ID+"/secrets", map[string]any{}, &secret); err != nil {
		tb.Fatal(err)
	}
	if app.AppID == "" || sp.ID == "" || secret.SecretText == "" {
		tb.Fatalf("admin API returned incomplete objects: app %+v sp %+v", app, sp)
	}
	return principal{AppID: app.AppID, ObjectID: sp.ID, Secret: secret.SecretText}
}

// armCode returns the ARM error code of an SDK error ("" if none).
func armCode(err error) string {
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		return re.ErrorCode
	}
	return ""
}

func pollFast() *runtime.PollUntilDoneOptions {
	return &runtime.PollUntilDoneOptions{Frequency: time.Second}
}

// TestSDKEndToEnd drives a real server with the official Azure SDK for Go:
// sign-in, subscriptions, resource groups, role assignments, a principal
// denied until given a role, and a Reader that can read but not write.
func TestSDKEndToEnd(t *testing.T) {
	s := mustStart(t, "")
	ctx := context.Background()
	sub := s.Admin.SubscriptionID
	admin := s.adminCredential(t)

	// Subscriptions and locations.
	subs, err := armsubscriptions.NewClient(admin, s.armOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for p := subs.NewListPager(nil); p.More(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("list subscriptions: %v", err)
		}
		for _, x := range page.Value {
			found = found || *x.SubscriptionID == sub
		}
	}
	if !found {
		t.Fatalf("subscription %s not listed", sub)
	}
	var locs []string
	for p := subs.NewListLocationsPager(sub, nil); p.More(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("list locations: %v", err)
		}
		for _, l := range page.Value {
			locs = append(locs, *l.Name)
		}
	}
	if strings.Join(locs, ",") != "eastus,westus2,japaneast" {
		t.Fatalf("locations = %v", locs)
	}

	// Resource groups.
	rgs, err := armresources.NewResourceGroupsClient(sub, admin, s.armOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	created, err := rgs.CreateOrUpdate(ctx, "rg-one", armresources.ResourceGroup{Location: to.Ptr("East US"), Tags: map[string]*string{"env": to.Ptr("test")}}, nil)
	if err != nil {
		t.Fatalf("create rg: %v", err)
	}
	if *created.Location != "eastus" || *created.Properties.ProvisioningState != "Succeeded" {
		t.Fatalf("created rg = %+v", created.ResourceGroup)
	}
	if _, err := rgs.CreateOrUpdate(ctx, "rg-two", armresources.ResourceGroup{Location: to.Ptr("japaneast")}, nil); err != nil {
		t.Fatalf("create rg-two: %v", err)
	}
	if _, err := rgs.CreateOrUpdate(ctx, "rg-one", armresources.ResourceGroup{Location: to.Ptr("westus2")}, nil); armCode(err) != "InvalidResourceGroupLocation" {
		t.Fatalf("moving rg: err = %v", err)
	}
	if _, err := rgs.CreateOrUpdate(ctx, "bad/name.", armresources.ResourceGroup{Location: to.Ptr("eastus")}, nil); err == nil {
		t.Fatal("bad name accepted")
	}
	if _, err := rgs.CreateOrUpdate(ctx, "rg-x", armresources.ResourceGroup{Location: to.Ptr("mars")}, nil); armCode(err) != "LocationNotAvailableForResourceGroup" {
		t.Fatalf("unknown location: err = %v", err)
	}
	upd, err := rgs.Update(ctx, "rg-one", armresources.ResourceGroupPatchable{Tags: map[string]*string{"env": to.Ptr("prod")}}, nil)
	if err != nil || *upd.Tags["env"] != "prod" {
		t.Fatalf("patch rg: %v %+v", err, upd)
	}
	exists, err := rgs.CheckExistence(ctx, "RG-ONE", nil)
	if err != nil || !exists.Success {
		t.Fatalf("check existence: %v %v", err, exists.Success)
	}
	if ex, err := rgs.CheckExistence(ctx, "nope", nil); err != nil || ex.Success {
		t.Fatalf("check existence of missing rg: %v %v", err, ex.Success)
	}
	names := listRGs(t, rgs, nil)
	if strings.Join(names, ",") != "rg-one,rg-two" {
		t.Fatalf("rg list = %v", names)
	}
	if got := listRGs(t, rgs, &armresources.ResourceGroupsClientListOptions{Filter: to.Ptr("tagName eq 'env' and tagValue eq 'prod'")}); strings.Join(got, ",") != "rg-one" {
		t.Fatalf("filtered rg list = %v", got)
	}
	// Paging: one group per page, following nextLink (which must carry the api-version).
	if got := listRGs(t, rgs, &armresources.ResourceGroupsClientListOptions{Top: to.Ptr[int32](1)}); strings.Join(got, ",") != "rg-one,rg-two" {
		t.Fatalf("paged rg list = %v", got)
	}

	// A second principal: denied until given a role.
	bob := s.newServicePrincipal(t, "bob")
	bobCred := s.credential(t, s.Admin.TenantID, bob.AppID, bob.Secret)
	bobRGs, err := armresources.NewResourceGroupsClient(sub, bobCred, s.armOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	_, err = bobRGs.Get(ctx, "rg-one", nil)
	if armCode(err) != "AuthorizationFailed" || !strings.Contains(err.Error(), bob.ObjectID) ||
		!strings.Contains(err.Error(), "Microsoft.Resources/subscriptions/resourceGroups/read") {
		t.Fatalf("bob before grant: %v", err)
	}

	ras, err := armauthorization.NewRoleAssignmentsClient(sub, admin, s.armOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	rds, err := armauthorization.NewRoleDefinitionsClient(admin, s.armOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	rgScope := "/subscriptions/" + sub + "/resourceGroups/rg-one"
	var readerID string
	for p := rds.NewListPager(rgScope, &armauthorization.RoleDefinitionsClientListOptions{Filter: to.Ptr("roleName eq 'Reader'")}); p.More(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("list role definitions: %v", err)
		}
		for _, d := range page.Value {
			readerID = *d.ID
		}
	}
	if !strings.HasSuffix(readerID, "/"+galleon.ReaderRoleID) {
		t.Fatalf("reader role id = %q", readerID)
	}
	raName := uuid.NewString()
	ra, err := ras.Create(ctx, rgScope, raName, armauthorization.RoleAssignmentCreateParameters{Properties: &armauthorization.RoleAssignmentProperties{
		RoleDefinitionID: to.Ptr(readerID), PrincipalID: to.Ptr(bob.ObjectID),
	}}, nil)
	if err != nil {
		t.Fatalf("assign reader: %v", err)
	}
	if *ra.Properties.PrincipalType != armauthorization.PrincipalTypeServicePrincipal || !strings.EqualFold(*ra.Properties.Scope, rgScope) {
		t.Fatalf("assignment = %+v", ra.Properties)
	}
	// Same principal, role and scope under another name is refused.
	if _, err := ras.Create(ctx, rgScope, uuid.NewString(), armauthorization.RoleAssignmentCreateParameters{Properties: &armauthorization.RoleAssignmentProperties{
		RoleDefinitionID: to.Ptr(readerID), PrincipalID: to.Ptr(bob.ObjectID),
	}}, nil); armCode(err) != "RoleAssignmentExists" {
		t.Fatalf("duplicate assignment: %v", err)
	}
	// Unknown principals are refused.
	if _, err := ras.Create(ctx, rgScope, uuid.NewString(), armauthorization.RoleAssignmentCreateParameters{Properties: &armauthorization.RoleAssignmentProperties{
		RoleDefinitionID: to.Ptr(readerID), PrincipalID: to.Ptr(uuid.NewString()),
	}}, nil); armCode(err) != "PrincipalNotFound" {
		t.Fatalf("unknown principal: %v", err)
	}

	// The Reader reads but cannot write, and sees only its group.
	if got, err := bobRGs.Get(ctx, "rg-one", nil); err != nil || *got.Name != "rg-one" {
		t.Fatalf("bob read after grant: %v", err)
	}
	if _, err := bobRGs.Update(ctx, "rg-one", armresources.ResourceGroupPatchable{Tags: map[string]*string{}}, nil); armCode(err) != "AuthorizationFailed" {
		t.Fatalf("bob write: %v", err)
	}
	if _, err := bobRGs.Get(ctx, "rg-two", nil); armCode(err) != "AuthorizationFailed" {
		t.Fatalf("bob reads a group outside his scope: %v", err)
	}
	if got := listRGs(t, bobRGs, nil); strings.Join(got, ",") != "rg-one" {
		t.Fatalf("bob's rg list = %v", got)
	}
	// A Reader may not hand out roles.
	bobRAs, _ := armauthorization.NewRoleAssignmentsClient(sub, bobCred, s.armOptions(t))
	if _, err := bobRAs.Create(ctx, rgScope, uuid.NewString(), armauthorization.RoleAssignmentCreateParameters{Properties: &armauthorization.RoleAssignmentProperties{
		RoleDefinitionID: to.Ptr(readerID), PrincipalID: to.Ptr(bob.ObjectID),
	}}, nil); armCode(err) != "AuthorizationFailed" {
		t.Fatalf("reader assigning roles: %v", err)
	}

	// Listing assignments at the group, with atScope() and by principal.
	listRAs := func(filter string) []string {
		var out []string
		for p := ras.NewListForScopePager(rgScope, &armauthorization.RoleAssignmentsClientListForScopeOptions{Filter: to.Ptr(filter)}); p.More(); {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Fatalf("list assignments %q: %v", filter, err)
			}
			for _, a := range page.Value {
				out = append(out, *a.Properties.PrincipalID)
			}
		}
		return out
	}
	if got := listRAs("atScope()"); len(got) != 2 { // the admin's Owner at the subscription and bob's Reader
		t.Fatalf("atScope() assignments = %v", got)
	}
	if got := listRAs("principalId eq '" + bob.ObjectID + "'"); len(got) != 1 || got[0] != bob.ObjectID {
		t.Fatalf("bob's assignments = %v", got)
	}

	// Deleting a group is a long-running operation that removes what it holds.
	poller, err := rgs.BeginDelete(ctx, "rg-one", nil)
	if err != nil {
		t.Fatalf("begin delete: %v", err)
	}
	if _, err := poller.PollUntilDone(ctx, pollFast()); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if ex, err := rgs.CheckExistence(ctx, "rg-one", nil); err != nil || ex.Success {
		t.Fatalf("rg-one still exists: %v", err)
	}
	if _, err := ras.Get(ctx, rgScope, raName, nil); armCode(err) != "RoleAssignmentNotFound" {
		t.Fatalf("assignment survived its group: %v", err)
	}
	if _, err := rgs.Get(ctx, "rg-one", nil); armCode(err) != "ResourceGroupNotFound" {
		t.Fatalf("get deleted rg: %v", err)
	}
}

func listRGs(t *testing.T, c *armresources.ResourceGroupsClient, o *armresources.ResourceGroupsClientListOptions) []string {
	t.Helper()
	var out []string
	for p := c.NewListPager(o); p.More(); {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatalf("list rgs: %v", err)
		}
		for _, g := range page.Value {
			out = append(out, *g.Name)
		}
	}
	return out
}

// rawARM sends a request with an optional bearer token and returns the
// status, the CloudError code and the headers.
func (s *testServer) rawARM(t *testing.T, method, path, token string, body string) (int, string, http.Header) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, s.BaseURL+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.httpClient(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e struct {
		Error struct{ Code, Message string }
	}
	data, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(data, &e)
	return resp.StatusCode, e.Error.Code, resp.Header
}

func (s *testServer) adminToken(t *testing.T) string {
	t.Helper()
	cl, err := newAPIClient(s.AdminFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.signIn(context.Background()); err != nil {
		t.Fatal(err)
	}
	return cl.token
}

// TestARMBadInput checks that bad requests get specific CloudErrors.
func TestARMBadInput(t *testing.T) {
	s := mustStart(t, "")
	tok := s.adminToken(t)
	sub := s.Admin.SubscriptionID
	rg := "/subscriptions/" + sub + "/resourcegroups/rg1"
	v := "?api-version=2021-04-01"
	forged := tok[:strings.LastIndex(tok, ".")+1] + "AAAA"
	parts := strings.Split(tok, ".")
	algNone := "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0." + parts[1] + "."
	cases := []struct {
		name, method, path, token, body string
		status                          int
		code                            string
	}{
		{"NoToken", "GET", "/subscriptions" + v, "", "", 401, "AuthenticationFailed"},
		{"ForgedSignature", "GET", "/subscriptions" + v, forged, "", 401, "InvalidAuthenticationToken"},
		{"AlgNone", "GET", "/subscriptions" + v, algNone, "", 401, "InvalidAuthenticationToken"},
		{"Garbage", "GET", "/subscriptions" + v, "not-a-jwt", "", 401, "InvalidAuthenticationToken"},
		{"MissingAPIVersion", "GET", "/subscriptions/" + sub + "/resourcegroups", tok, "", 400, "MissingApiVersionParameter"},
		{"BadAPIVersion", "GET", "/subscriptions/" + sub + "/resourcegroups?api-version=1999-01-01", tok, "", 400, "InvalidApiVersionParameter"},
		{"UnknownSubscription", "GET", "/subscriptions/" + uuid.NewString() + "/resourcegroups" + v, tok, "", 404, "SubscriptionNotFound"},
		{"MalformedJSON", "PUT", rg + v, tok, `{"location":`, 400, "InvalidRequestContent"},
		{"WrongType", "PUT", rg + v, tok, `{"location":5}`, 400, "InvalidRequestContent"},
		{"MissingLocation", "PUT", rg + v, tok, `{}`, 400, "LocationRequired"},
		{"EmptyBody", "PUT", rg + v, tok, ``, 400, "InvalidRequestContent"},
		{"Oversized", "PUT", rg + v, tok, `{"location":"eastus","tags":{"a":"` + strings.Repeat("x", 5<<20) + `"}}`, 413, "RequestEntityTooLarge"},
		{"BadName", "PUT", "/subscriptions/" + sub + "/resourcegroups/a%3Cb" + v, tok, `{"location":"eastus"}`, 400, "InvalidResourceGroupName"},
		{"BadTag", "PUT", rg + v, tok, `{"location":"eastus","tags":{"a/b":"c"}}`, 400, "InvalidTagNameCharacters"},
		{"UnknownProvider", "GET", "/subscriptions/" + sub + "/providers/Contoso.Widgets/widgets" + v, tok, "", 400, "NoRegisteredProviderFound"},
		{"BadRoleAssignmentName", "PUT", "/subscriptions/" + sub + "/providers/Microsoft.Authorization/roleAssignments/not-a-guid?api-version=2022-04-01", tok, `{}`, 400, "InvalidRoleAssignmentId"},
		{"BadFilter", "GET", "/subscriptions/" + sub + "/resourcegroups" + v + "&$filter=name%20gt%201", tok, "", 400, "InvalidFilterParameter"},
		{"BadTop", "GET", "/subscriptions/" + sub + "/resourcegroups" + v + "&$top=0", tok, "", 400, "InvalidTopParameter"},
		{"BadSkipToken", "GET", "/subscriptions/" + sub + "/resourcegroups" + v + "&$skiptoken=%25%25", tok, "", 400, "InvalidSkipToken"},
		{"MethodNotAllowed", "POST", rg + v, tok, "{}", 400, "UnsupportedHttpMethod"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, code, h := s.rawARM(t, tc.method, tc.path, tc.token, tc.body)
			if status != tc.status || code != tc.code {
				t.Fatalf("got %d %q, want %d %q", status, code, tc.status, tc.code)
			}
			if h.Get("x-ms-request-id") == "" || h.Get("x-ms-correlation-request-id") == "" {
				t.Fatal("request ID headers missing")
			}
			if status == 401 && !strings.HasPrefix(h.Get("WWW-Authenticate"), "Bearer authorization_uri=") {
				t.Fatalf("WWW-Authenticate = %q", h.Get("WWW-Authenticate"))
			}
		})
	}

	// Paths are case-insensitive and tolerate doubled slashes, without redirects.
	if status, _, _ := s.rawARM(t, "PUT", "//SUBSCRIPTIONS/"+sub+"//resourceGroups/rg1"+v, tok, `{"location":"eastus"}`); status != 201 {
		t.Fatalf("odd-cased PUT: %d", status)
	}
	if status, _, _ := s.rawARM(t, "GET", "/subscriptions/"+sub+"/RESOURCEGROUPS/RG1/"+v, tok, ""); status != 200 {
		t.Fatalf("odd-cased GET: %d", status)
	}
}

// TestTokenForOtherTenant checks that a token from one tenant cannot be used
// on another tenant's subscription.
func TestTokenForOtherTenant(t *testing.T) {
	s := mustStart(t, "")
	cl, err := newAPIClient(s.AdminFile)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var ten struct{ ID string }
	if err := cl.do(ctx, "POST", "/admin/v1/tenants", map[string]any{"domain": "fabrikam.example", "displayName": "Fabrikam"}, &ten); err != nil {
		t.Fatal(err)
	}
	var otherSub struct{ SubscriptionID string }
	if err := cl.do(ctx, "POST", "/admin/v1/tenants/"+ten.ID+"/subscriptions", map[string]any{"displayName": "Fabrikam prod"}, &otherSub); err != nil {
		t.Fatal(err)
	}
	status, code, _ := s.rawARM(t, "GET", "/subscriptions/"+otherSub.SubscriptionID+"/resourcegroups?api-version=2021-04-01", s.adminToken(t), "")
	if status != 401 || code != "InvalidAuthenticationTokenTenant" {
		t.Fatalf("got %d %s", status, code)
	}
}

// TestRestartKeepsEverything restarts on the same data directory: same
// tenant, subscription and credentials; data survives.
func TestRestartKeepsEverything(t *testing.T) {
	dir := t.TempDir()
	s := mustStart(t, dir)
	first := *s.Admin
	tok := s.adminToken(t)
	if status, _, _ := s.rawARM(t, "PUT", "/subscriptions/"+first.SubscriptionID+"/resourcegroups/keep?api-version=2021-04-01", tok, `{"location":"eastus"}`); status != 201 {
		t.Fatalf("create: %d", status)
	}
	s.stop()

	s2 := mustStart(t, dir)
	second := *s2.Admin
	second.Endpoint, first.Endpoint = "", "" // the port changes
	if first != second {
		t.Fatalf("credentials changed across restart:\n%+v\n%+v", first, second)
	}
	if status, _, _ := s2.rawARM(t, "GET", "/subscriptions/"+first.SubscriptionID+"/resourcegroups/keep?api-version=2021-04-01", s2.adminToken(t), ""); status != 200 {
		t.Fatalf("after restart: %d", status)
	}
}

// TestOperationsSurface checks health, metrics and that writes land in the
// audit trail, readable through the activity-log API.
func TestOperationsSurface(t *testing.T) {
	s := mustStart(t, "")
	tok := s.adminToken(t)
	sub := s.Admin.SubscriptionID
	if status, _, _ := s.rawARM(t, "PUT", "/subscriptions/"+sub+"/resourcegroups/audited?api-version=2021-04-01", tok, `{"location":"eastus"}`); status != 201 {
		t.Fatalf("create: %d", status)
	}
	if status, code, _ := s.rawARM(t, "PUT", "/subscriptions/"+sub+"/resourcegroups/audited?api-version=2021-04-01", tok, `{"location":"japaneast"}`); status != 409 {
		t.Fatalf("move: %d %s", status, code)
	}

	get := func(path string) (int, string) {
		req, _ := http.NewRequest("GET", s.BaseURL+path, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := s.httpClient(t).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	var log struct {
		Value []struct {
			Caller        string
			ResourceID    string
			OperationName struct{ Value string }
			Status        struct{ Value string }
		}
	}
	status, body := get("/subscriptions/" + sub + "/providers/Microsoft.Insights/eventtypes/management/values?api-version=2015-04-01&$filter=" +
		"eventTimestamp%20ge%20'2020-01-01T00:00:00Z'%20and%20resourceGroupName%20eq%20'audited'")
	if status != 200 {
		t.Fatalf("activity log: %d %s", status, body)
	}
	if err := json.Unmarshal([]byte(body), &log); err != nil {
		t.Fatal(err)
	}
	if len(log.Value) != 2 {
		t.Fatalf("want 2 audit records, got %s", body)
	}
	// Newest first: the refused move, then the create.
	if log.Value[0].Status.Value != "Failed" || log.Value[1].Status.Value != "Succeeded" ||
		log.Value[1].OperationName.Value != "Microsoft.Resources/subscriptions/resourceGroups/write" ||
		log.Value[1].Caller == "" || !strings.HasSuffix(log.Value[1].ResourceID, "/resourceGroups/audited") {
		t.Fatalf("audit records = %+v", log.Value)
	}

	if status, _, h := s.rawARM(t, "DELETE", "/subscriptions/"+sub+"/resourcegroups/audited?api-version=2021-04-01", tok, ""); status != 202 || h.Get("Azure-AsyncOperation") == "" || h.Get("Location") == "" {
		t.Fatalf("delete: %d %v", status, h)
	}
	for path, want := range map[string]string{"/healthz": "ok", "/readyz": "ok", "/metrics": "galleon_http_requests_total"} {
		if status, body := get(path); status != 200 || !strings.Contains(body, want) {
			t.Fatalf("%s: %d %.200s", path, status, body)
		}
	}
	if _, body := get("/metrics"); !strings.Contains(body, `route="PUT /subscriptions/{sub}/resourceGroups/{rg}"`) || !strings.Contains(body, "galleon_jobs") {
		t.Fatalf("metrics lack the route or job series:\n%.3000s", body)
	}
}
