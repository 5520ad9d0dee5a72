package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/authorization/armauthorization/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources/v4"
	"github.com/google/uuid"

	azpolicy "github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// documentsCommunityRule is the policy rule of the documents (the
// community gallery best practices), copied verbatim: it must work as
// written.
const documentsCommunityRule = `{
      "if": {
        "allOf": [
          {
            "field": "type",
            "equals": "Microsoft.Compute/galleries"
          },
          {
            "field": "Microsoft.Compute/galleries/sharingProfile.permissions",
            "equals": "Community"
          }
        ]
      },
      "then": {
        "effect": "[parameters('effect')]"
      }
    }`

const effectParameter = `{"effect": {"type": "String", "allowedValues": ["Audit", "Deny", "Disabled"], "defaultValue": "Deny",
	"metadata": {"displayName": "Effect"}}}`

// polResp is an ARM answer: status, CloudError code and message, and body.
type polResp struct {
	status        int
	code, message string
	target        string
	body          map[string]any
}

// polCall sends a raw ARM request with a JSON body.
func (s *testServer) polCall(t *testing.T, method, path, token, body string) polResp {
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
	out := polResp{status: resp.StatusCode}
	if len(bytes.TrimSpace(data)) > 0 {
		if err := json.Unmarshal(data, &out.body); err != nil {
			t.Fatalf("%s %s: body is not JSON: %s", method, path, data)
		}
	}
	if e, ok := out.body["error"].(map[string]any); ok {
		out.code, _ = e["code"].(string)
		out.message, _ = e["message"].(string)
		out.target, _ = e["target"].(string)
	}
	return out
}

func (r polResp) want(t *testing.T, what string, status int, code string) polResp {
	t.Helper()
	if r.status != status || r.code != code {
		t.Fatalf("%s: got %d %q (%s), want %d %q", what, r.status, r.code, r.message, status, code)
	}
	return r
}

// TestPolicy drives Azure Policy end to end: the documents' rule as a
// definition, assignments at subscription and resource-group scope with
// parameters, enforcement modes and exclusions, denies and audits on real
// gallery writes, the activity log, and who may assign.
func TestPolicy(t *testing.T) {
	s := mustStart(t, "")
	ctx := context.Background()
	sub := s.Admin.SubscriptionID
	tok := s.adminToken(t)
	cred := s.adminCredential(t)
	const v = "?api-version=2023-04-01"
	subScope := "/subscriptions/" + sub
	defs := subScope + "/providers/Microsoft.Authorization/policyDefinitions/"
	asgPath := func(scope, name string) string {
		return scope + "/providers/Microsoft.Authorization/policyAssignments/" + name
	}

	rgs, _ := armresources.NewResourceGroupsClient(sub, cred, s.armOptions(t))
	for _, n := range []string{"team-a", "team-b"} {
		if _, err := rgs.CreateOrUpdate(ctx, n, armresources.ResourceGroup{Location: to.Ptr("eastus")}, nil); err != nil {
			t.Fatal(err)
		}
	}
	rgA, rgB := subScope+"/resourceGroups/team-a", subScope+"/resourceGroups/team-b"
	galleries, _ := armcompute.NewGalleriesClient(sub, cred, s.armOptions(t))
	images, _ := armcompute.NewGalleryImagesClient(sub, cred, s.armOptions(t))
	createGallery := func(rg, name string, g armcompute.Gallery) error {
		p, err := galleries.BeginCreateOrUpdate(ctx, rg, name, g, nil)
		if err == nil {
			_, err = p.PollUntilDone(ctx, pollFast())
		}
		return err
	}
	tagged := func(env string) armcompute.Gallery {
		return armcompute.Gallery{Location: to.Ptr("eastus"), Tags: map[string]*string{"env": to.Ptr(env)}}
	}

	// The documents' rule, verbatim, with the effect parameter it names.
	communityDef := `{"properties": {"displayName": "Deny community galleries", "policyType": "Custom", "mode": "All",
		"description": "Blocks sharing images to the community.", "metadata": {"category": "Compute"},
		"parameters": ` + effectParameter + `, "policyRule": ` + documentsCommunityRule + `}}`
	r := s.polCall(t, "PUT", defs+"deny-community"+v, tok, communityDef).want(t, "create definition", 201, "")
	props := r.body["properties"].(map[string]any)
	if r.body["id"] != defs+"deny-community" || r.body["type"] != "Microsoft.Authorization/policyDefinitions" ||
		props["policyType"] != "Custom" || props["mode"] != "All" || props["displayName"] != "Deny community galleries" {
		t.Fatalf("definition = %v", r.body)
	}
	if _, ok := props["policyRule"].(map[string]any)["if"]; !ok {
		t.Fatalf("policyRule not returned: %v", props["policyRule"])
	}
	s.polCall(t, "PUT", defs+"deny-community?api-version=2021-06-01", tok, communityDef).want(t, "update definition (az 2.45 api-version)", 201, "")
	s.polCall(t, "GET", defs+"deny-community?api-version=2025-01-01", tok, "").want(t, "get definition", 200, "")
	list := s.polCall(t, "GET", strings.TrimSuffix(defs, "/")+v+"&$filter=policyType%20eq%20'Custom'", tok, "").want(t, "list definitions", 200, "")
	if vals := list.body["value"].([]any); len(vals) != 1 || vals[0].(map[string]any)["name"] != "deny-community" {
		t.Fatalf("custom definitions = %v", vals)
	}
	builtIns := s.polCall(t, "GET", "/providers/Microsoft.Authorization/policyDefinitions"+v, tok, "").want(t, "built-in definitions", 200, "")
	if len(builtIns.body["value"].([]any)) == 0 {
		t.Fatal("no built-in definitions")
	}

	// A rule on a property galleries have today: their env tag.
	tagDef := `{"properties": {"displayName": "No galleries tagged with an environment", "parameters": {"env": {"type": "String"}, "effect": {"type": "String", "defaultValue": "Deny"}},
		"policyRule": {"if": {"allOf": [{"field": "type", "equals": "Microsoft.Compute/galleries"}, {"field": "tags['env']", "equals": "[parameters('env')]"}]},
		"then": {"effect": "[parameters('effect')]"}}}}`
	s.polCall(t, "PUT", defs+"deny-env"+v, tok, tagDef).want(t, "create tag definition", 201, "")
	// And one on image definitions, through an alias.
	s.polCall(t, "PUT", defs+"linux-only"+v, tok, `{"properties": {"displayName": "Linux images only", "policyRule": {"if": {"allOf": [
		{"field": "type", "equals": "Microsoft.Compute/galleries/images"}, {"field": "Microsoft.Compute/galleries/images/osType", "notEquals": "Linux"}]},
		"then": {"effect": "deny"}}}}`).want(t, "create image definition rule", 201, "")

	t.Run("BadDefinitions", func(t *testing.T) {
		for _, tc := range []struct {
			name, body, code, target string
		}{
			{"UnknownOperator", strings.Replace(communityDef, `"equals": "Community"`, `"equal": "Community"`, 1), "InvalidPolicyRule", "properties.policyRule.if.allOf[1].equal"},
			{"BadEffect", strings.Replace(communityDef, `"[parameters('effect')]"`, `"block"`, 1), "InvalidPolicyRule", "properties.policyRule.then.effect"},
			{"UnknownParameter", strings.Replace(communityDef, `"[parameters('effect')]"`, `"[parameters('effekt')]"`, 1), "InvalidPolicyRule", "properties.policyRule.then.effect"},
			{"ParameterWrongType", `{"properties": {"parameters": {"where": {"type": "String"}}, "policyRule": {"if": {"field": "location", "in": "[parameters('where')]"}, "then": {"effect": "deny"}}}}`, "InvalidPolicyRule", "properties.policyRule.if.in"},
			{"UnknownAlias", strings.Replace(communityDef, "sharingProfile.permissions", "sharingProfile.permission", 1), "InvalidPolicyRule", "properties.policyRule.if.allOf[1].field"},
			{"BadParameterType", `{"properties": {"parameters": {"x": {"type": "Text"}}, "policyRule": {"if": {"field": "type", "equals": "x"}, "then": {"effect": "deny"}}}}`, "InvalidPolicyParameters", "properties.parameters.x.type"},
			{"NoRule", `{"properties": {"displayName": "x"}}`, "InvalidPolicyRule", "properties.policyRule"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := s.polCall(t, "PUT", defs+"bad"+v, tok, tc.body).want(t, tc.name, 400, tc.code)
				if r.target != tc.target || (tc.code == "InvalidPolicyRule" && !strings.Contains(r.message, tc.target)) {
					t.Fatalf("target %q, message %q; want %q", r.target, r.message, tc.target)
				}
			})
		}
	})

	t.Run("BadAssignments", func(t *testing.T) {
		for _, tc := range []struct {
			name, body string
			status     int
			code       string
		}{
			{"MissingDefinition", `{"properties": {"policyDefinitionId": "` + defs + `nope"}}`, 404, "PolicyDefinitionNotFound"},
			{"MissingRequiredParameter", `{"properties": {"policyDefinitionId": "` + defs + `deny-env"}}`, 400, "MissingPolicyParameter"},
			{"UndeclaredParameter", `{"properties": {"policyDefinitionId": "` + defs + `deny-env", "parameters": {"env": {"value": "prod"}, "colour": {"value": "red"}}}}`, 400, "UndefinedPolicyParameter"},
			{"NotAllowedValue", `{"properties": {"policyDefinitionId": "` + defs + `deny-community", "parameters": {"effect": {"value": "Modify"}}}}`, 400, "InvalidPolicyParameterValue"},
			{"WrongValueType", `{"properties": {"policyDefinitionId": "` + defs + `deny-env", "parameters": {"env": {"value": ["prod"]}}}}`, 400, "InvalidPolicyParameterValue"},
			{"BadEnforcementMode", `{"properties": {"policyDefinitionId": "` + defs + `deny-community", "enforcementMode": "Sometimes"}}`, 400, "InvalidPolicyAssignment"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				s.polCall(t, "PUT", asgPath(subScope, "bad")+v, tok, tc.body).want(t, tc.name, tc.status, tc.code)
			})
		}
		s.polCall(t, "PUT", asgPath(subScope+"/resourceGroups/nope", "x")+v, tok, `{"properties": {"policyDefinitionId": "`+defs+`deny-community"}}`).
			want(t, "missing resource group", 404, "ResourceGroupNotFound")
	})

	t.Run("DocumentsRuleDeniesCommunity", func(t *testing.T) {
		a := s.polCall(t, "PUT", asgPath(subScope, "no-community")+v, tok, `{"properties": {"displayName": "No community sharing",
			"policyDefinitionId": "`+defs+`deny-community", "parameters": {"effect": {"value": "Deny"}},
			"nonComplianceMessages": [{"message": "Ask the platform team before publishing images to everyone."}]}}`).want(t, "assign", 201, "")
		aID := a.body["id"].(string)
		if aID != asgPath(subScope, "no-community") || a.body["properties"].(map[string]any)["scope"] != subScope {
			t.Fatalf("assignment = %v", a.body)
		}
		// Assignments are not resources of the subscription's /resources list.
		if r := s.polCall(t, "GET", subScope+"/resources?api-version=2021-04-01", tok, ""); strings.Contains(fmt.Sprint(r.body), "policyAssignments") {
			t.Fatalf("/resources lists policy records: %v", r.body)
		}
		if err := createGallery("team-a", "private", armcompute.Gallery{Location: to.Ptr("eastus"),
			Properties: &armcompute.GalleryProperties{SharingProfile: &armcompute.SharingProfile{Permissions: to.Ptr(armcompute.GallerySharingPermissionTypesPrivate)}}}); err != nil {
			t.Fatalf("a private gallery is refused: %v", err)
		}
		community := armcompute.Gallery{Location: to.Ptr("eastus"), Properties: &armcompute.GalleryProperties{
			Description: to.Ptr("public images"),
			SharingProfile: &armcompute.SharingProfile{Permissions: to.Ptr(armcompute.GallerySharingPermissionTypesCommunity),
				CommunityGalleryInfo: &armcompute.CommunityGalleryInfo{
					PublisherURI: to.Ptr("https://contoso.example"), PublisherContact: to.Ptr("images@contoso.example"),
					Eula: to.Ptr("https://contoso.example/eula"), PublicNamePrefix: to.Ptr("contoso"),
				}}}}
		// Community galleries live in team-b, which this test keeps.
		err := createGallery("team-b", "public", community)
		switch armCode(err) {
		case "RequestDisallowedByPolicy":
			for _, want := range []string{"Resource 'public' was disallowed by policy.", aID, "No community sharing", defs + "deny-community", "Deny community galleries", "platform team"} {
				if !strings.Contains(err.Error(), want) {
					t.Fatalf("the refusal does not say %q: %v", want, err)
				}
			}
		case "CommunityGalleryNotAvailable":
			t.Log("community galleries are not available yet; the community refusal is checked once they are")
		default:
			t.Fatalf("community gallery under a deny assignment: %v", err)
		}
		// Raw: 403 with the policy identifiers.
		body, _ := json.Marshal(community)
		if r := s.polCall(t, "PUT", rgB+"/providers/Microsoft.Compute/galleries/public2?api-version=2022-03-03", tok, string(body)); r.code != "CommunityGalleryNotAvailable" {
			r.want(t, "raw community gallery", 403, "RequestDisallowedByPolicy")
			if !strings.Contains(r.message, `"policyAssignment":{"name":"No community sharing","id":"`+aID+`"}`) {
				t.Fatalf("message = %s", r.message)
			}
		}
		// Deleting the assignment lifts the deny.
		s.polCall(t, "DELETE", asgPath(subScope, "no-community")+v, tok, "").want(t, "delete assignment", 200, "")
		s.polCall(t, "DELETE", asgPath(subScope, "no-community")+v, tok, "").want(t, "delete assignment again", 204, "")
		err = createGallery("team-b", "public", community)
		if armCode(err) == "CommunityGalleryNotAvailable" {
			return
		} else if err != nil {
			t.Fatalf("community gallery after the assignment is gone: %v", err)
		}
		// Sharing is evaluated too: enabling the community gallery is
		// refused under the deny, while resetting it to private is not.
		s.polCall(t, "PUT", asgPath(rgB, "no-community")+v, tok, `{"properties": {"policyDefinitionId": "`+defs+`deny-community"}}`).want(t, "assign at team-b", 201, "")
		share := rgB + "/providers/Microsoft.Compute/galleries/public/share?api-version=2023-07-03"
		s.polCall(t, "POST", share, tok, `{"operationType": "EnableCommunity"}`).want(t, "enable community under a deny", 403, "RequestDisallowedByPolicy")
		if r := s.polCall(t, "POST", share, tok, `{"operationType": "Reset"}`); r.status != 200 && r.status != 202 {
			t.Fatalf("reset under a deny: %d %s %s", r.status, r.code, r.message)
		}
		s.polCall(t, "DELETE", asgPath(rgB, "no-community")+v, tok, "").want(t, "delete assignment", 200, "")
	})

	t.Run("DenyByTag", func(t *testing.T) {
		a := s.polCall(t, "PUT", asgPath(subScope, "no-prod")+v, tok, `{"properties": {"displayName": "No prod galleries",
			"policyDefinitionId": "`+defs+`deny-env", "parameters": {"env": {"value": "prod"}}}}`).want(t, "assign", 201, "")
		err := createGallery("team-a", "prodGallery", tagged("prod"))
		if armCode(err) != "RequestDisallowedByPolicy" || !strings.Contains(err.Error(), a.body["id"].(string)) || !strings.Contains(err.Error(), "No prod galleries") {
			t.Fatalf("prod gallery: %v", err)
		}
		if err := createGallery("team-a", "devGallery", tagged("dev")); err != nil {
			t.Fatalf("dev gallery: %v", err)
		}
		// Evaluated on PATCH too.
		p, err := galleries.BeginUpdate(ctx, "team-a", "devGallery", armcompute.GalleryUpdate{Tags: map[string]*string{"env": to.Ptr("PROD")}}, nil)
		if err == nil {
			_, err = p.PollUntilDone(ctx, pollFast())
		}
		if armCode(err) != "RequestDisallowedByPolicy" {
			t.Fatalf("patching the tag to prod: %v", err)
		}
		s.polCall(t, "DELETE", asgPath(subScope, "no-prod")+v, tok, "").want(t, "delete assignment", 200, "")
	})

	t.Run("ImageAlias", func(t *testing.T) {
		s.polCall(t, "PUT", asgPath(subScope, "linux-only")+v, tok, `{"properties": {"policyDefinitionId": "`+defs+`linux-only"}}`).want(t, "assign", 201, "")
		create := func(name string, img armcompute.GalleryImage) error {
			p, err := images.BeginCreateOrUpdate(ctx, "team-a", "devGallery", name, img, nil)
			if err == nil {
				_, err = p.PollUntilDone(ctx, pollFast())
			}
			return err
		}
		if err := create("ubuntu", linuxImage("eastus", "contoso", "ubuntu", "24_04")); err != nil {
			t.Fatalf("linux image: %v", err)
		}
		win := linuxImage("eastus", "contoso", "windows", "2025")
		win.Properties.OSType = to.Ptr(armcompute.OperatingSystemTypesWindows)
		if err := create("windows", win); armCode(err) != "RequestDisallowedByPolicy" {
			t.Fatalf("windows image: %v", err)
		}
		s.polCall(t, "DELETE", asgPath(subScope, "linux-only")+v, tok, "").want(t, "delete assignment", 200, "")
	})

	t.Run("AuditAndDoNotEnforce", func(t *testing.T) {
		audit := s.polCall(t, "PUT", asgPath(subScope, "audit-prod")+v, tok, `{"properties": {"policyDefinitionId": "`+defs+`deny-env",
			"parameters": {"env": {"value": "prod"}, "effect": {"value": "Audit"}}}}`).want(t, "assign audit", 201, "")
		if err := createGallery("team-a", "audited", tagged("prod")); err != nil {
			t.Fatalf("audit refused the write: %v", err)
		}
		dne := s.polCall(t, "PUT", asgPath(subScope, "dne-prod")+v, tok, `{"properties": {"policyDefinitionId": "`+defs+`deny-env",
			"enforcementMode": "DoNotEnforce", "parameters": {"env": {"value": "staging"}}}}`).want(t, "assign DoNotEnforce", 201, "")
		if err := createGallery("team-a", "staged", tagged("staging")); err != nil {
			t.Fatalf("DoNotEnforce refused the write: %v", err)
		}
		log := s.polCall(t, "GET", subScope+"/providers/Microsoft.Insights/eventtypes/management/values?api-version=2015-04-01", tok, "").want(t, "activity log", 200, "")
		found := map[string]bool{}
		for _, ev := range log.body["value"].([]any) {
			e := ev.(map[string]any)
			if e["operationName"].(map[string]any)["value"] != "Microsoft.Authorization/policies/audit/action" {
				continue
			}
			if e["category"].(map[string]any)["value"] != "Policy" {
				t.Fatalf("policy event category = %v", e["category"])
			}
			policies := e["properties"].(map[string]any)["policies"].(string)
			found[e["resourceId"].(string)+" "+policies] = true
		}
		for _, want := range []struct{ gallery, assignment string }{{"audited", audit.body["id"].(string)}, {"staged", dne.body["id"].(string)}} {
			ok := false
			for k := range found {
				if strings.HasPrefix(k, rgA+"/providers/Microsoft.Compute/galleries/"+want.gallery+" ") && strings.Contains(k, want.assignment) {
					ok = true
				}
			}
			if !ok {
				t.Fatalf("no audit event for %s by %s in %v", want.gallery, want.assignment, found)
			}
		}
		s.polCall(t, "DELETE", asgPath(subScope, "audit-prod")+v, tok, "").want(t, "delete", 200, "")
		s.polCall(t, "DELETE", asgPath(subScope, "dne-prod")+v, tok, "").want(t, "delete", 200, "")
	})

	t.Run("ResourceGroupScopeAndNotScopes", func(t *testing.T) {
		s.polCall(t, "PUT", asgPath(rgA, "rg-prod")+v, tok, `{"properties": {"policyDefinitionId": "`+defs+`deny-env", "parameters": {"env": {"value": "prod"}}}}`).want(t, "assign at team-a", 201, "")
		if err := createGallery("team-a", "p1", tagged("prod")); armCode(err) != "RequestDisallowedByPolicy" {
			t.Fatalf("team-a: %v", err)
		}
		if err := createGallery("team-b", "p1", tagged("prod")); err != nil {
			t.Fatalf("team-b is outside the assignment: %v", err)
		}
		// Listing: at the resource group the subscription's are inherited.
		s.polCall(t, "PUT", asgPath(subScope, "most")+v, tok, `{"properties": {"policyDefinitionId": "`+defs+`deny-env",
			"parameters": {"env": {"value": "test"}}, "notScopes": ["`+rgB+`"]}}`).want(t, "assign with notScopes", 201, "")
		names := func(r polResp) string {
			var out []string
			for _, x := range r.body["value"].([]any) {
				out = append(out, x.(map[string]any)["name"].(string))
			}
			return strings.Join(out, ",")
		}
		if got := names(s.polCall(t, "GET", rgA+"/providers/Microsoft.Authorization/policyAssignments"+v, tok, "").want(t, "list at team-a", 200, "")); got != "most,rg-prod" {
			t.Fatalf("at team-a: %s", got)
		}
		if got := names(s.polCall(t, "GET", subScope+"/providers/Microsoft.Authorization/policyAssignments"+v+"&$filter=atScope()", tok, "").want(t, "list atScope", 200, "")); got != "most" {
			t.Fatalf("atScope at the subscription: %s", got)
		}
		if got := names(s.polCall(t, "GET", subScope+"/providers/Microsoft.Authorization/policyAssignments"+v, tok, "").want(t, "list all", 200, "")); got != "most,rg-prod" {
			t.Fatalf("at the subscription: %s", got)
		}
		if err := createGallery("team-a", "t1", tagged("test")); armCode(err) != "RequestDisallowedByPolicy" {
			t.Fatalf("team-a under 'most': %v", err)
		}
		if err := createGallery("team-b", "t1", tagged("test")); err != nil {
			t.Fatalf("team-b is excluded: %v", err)
		}
		s.polCall(t, "DELETE", asgPath(subScope, "most")+v, tok, "").want(t, "delete", 200, "")
	})

	t.Run("DefinitionInUse", func(t *testing.T) {
		r := s.polCall(t, "DELETE", defs+"deny-env"+v, tok, "").want(t, "delete assigned definition", 409, "PolicyDefinitionInUse")
		if !strings.Contains(r.message, asgPath(rgA, "rg-prod")) {
			t.Fatalf("message does not name the assignment: %s", r.message)
		}
	})

	t.Run("ReaderCannotAssign", func(t *testing.T) {
		cl, err := newAPIClient(s.AdminFile)
		if err != nil {
			t.Fatal(err)
		}
		var reader struct{ ID string }
		const password = "policy reader password 1"
		if err := cl.do(ctx, "POST", "/admin/v1/tenants/"+s.Admin.TenantID+"/users",
			map[string]any{"userPrincipalName": "reader@galleon.local", "displayName": "Reader", "password": password}, &reader); err != nil {
			t.Fatal(err)
		}
		ras, _ := armauthorization.NewRoleAssignmentsClient(sub, cred, s.armOptions(t))
		if _, err := ras.Create(ctx, subScope, uuid.NewString(), armauthorization.RoleAssignmentCreateParameters{Properties: &armauthorization.RoleAssignmentProperties{
			RoleDefinitionID: to.Ptr(subScope + "/providers/Microsoft.Authorization/roleDefinitions/acdd72a7-3385-48ef-bd42-f606fba81ae7"),
			PrincipalID:      to.Ptr(reader.ID),
		}}, nil); err != nil {
			t.Fatal(err)
		}
		rc, err := azidentity.NewUsernamePasswordCredential(s.Admin.TenantID, azureCLIClientID, "reader@galleon.local", password,
			&azidentity.UsernamePasswordCredentialOptions{ClientOptions: s.clientOptions(t), DisableInstanceDiscovery: true})
		if err != nil {
			t.Fatal(err)
		}
		at, err := rc.GetToken(ctx, azpolicy.TokenRequestOptions{Scopes: []string{s.BaseURL + "/.default"}})
		if err != nil {
			t.Fatal(err)
		}
		body := `{"properties": {"policyDefinitionId": "` + defs + `deny-community"}}`
		r := s.polCall(t, "PUT", asgPath(subScope, "by-reader")+v, at.Token, body).want(t, "reader assigns", 403, "AuthorizationFailed")
		if !strings.Contains(r.message, "Microsoft.Authorization/policyAssignments/write") {
			t.Fatalf("message = %s", r.message)
		}
		s.polCall(t, "PUT", defs+"by-reader"+v, at.Token, communityDef).want(t, "reader defines", 403, "AuthorizationFailed")
		s.polCall(t, "DELETE", asgPath(rgA, "rg-prod")+v, at.Token, "").want(t, "reader deletes", 403, "AuthorizationFailed")
		s.polCall(t, "GET", asgPath(rgA, "rg-prod")+v, at.Token, "").want(t, "reader reads", 200, "")
		s.polCall(t, "GET", defs+"deny-env"+v, at.Token, "").want(t, "reader reads definition", 200, "")
	})

	t.Run("DeletingResourceGroupRemovesAssignments", func(t *testing.T) {
		p, err := rgs.BeginDelete(ctx, "team-a", nil)
		if err == nil {
			_, err = p.PollUntilDone(ctx, pollFast())
		}
		if err != nil {
			t.Fatalf("delete team-a: %v", err)
		}
		if r := s.polCall(t, "GET", subScope+"/providers/Microsoft.Authorization/policyAssignments"+v, tok, "").want(t, "list", 200, ""); len(r.body["value"].([]any)) != 0 {
			t.Fatalf("assignments left: %v", r.body["value"])
		}
		s.polCall(t, "DELETE", defs+"deny-env"+v, tok, "").want(t, "delete definition", 200, "")
		s.polCall(t, "DELETE", defs+"deny-env"+v, tok, "").want(t, "delete definition again", 204, "")
	})
}

// TestAzPolicy drives `az policy` (Debian's az 2.45) against a real
// server: the documents' rule as a definition from a file, an assignment
// with parameters, a gallery refused by it, and clean-up.
func TestAzPolicy(t *testing.T) {
	m, az := azAdmin(t)
	subScope := "/subscriptions/" + m.Admin.SubscriptionID
	az.ok("group", "create", "-n", "pol", "-l", "eastus")

	files := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(files, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	rules, params := write("rules.json", documentsCommunityRule), write("params.json", effectParameter)
	type definition struct {
		ID, Name, DisplayName, Mode, PolicyType string
		Parameters                              map[string]any
	}
	var d definition
	az.json(&d, "policy", "definition", "create", "-n", "deny-community", "--display-name", "Deny community galleries",
		"--rules", rules, "--params", params, "--mode", "All")
	if d.Name != "deny-community" || d.PolicyType != "Custom" || d.Mode != "All" || d.Parameters["effect"] == nil {
		t.Fatalf("definition create = %+v", d)
	}
	az.json(&d, "policy", "definition", "show", "-n", "deny-community")
	if d.DisplayName != "Deny community galleries" {
		t.Fatalf("definition show = %+v", d)
	}
	tagRule := write("tag-rule.json", `{"if": {"allOf": [{"field": "type", "equals": "Microsoft.Compute/galleries"}, {"field": "tags['env']", "in": "[parameters('envs')]"}]}, "then": {"effect": "deny"}}`)
	az.ok("policy", "definition", "create", "-n", "deny-env", "--rules", tagRule, "--params", `{"envs": {"type": "Array"}}`)
	stderr := az.fails("policy", "definition", "create", "-n", "broken", "--rules", `{"if": {"field": "type", "equal": "x"}, "then": {"effect": "deny"}}`)
	if !strings.Contains(stderr, "InvalidPolicyRule") || !strings.Contains(stderr, "properties.policyRule.if.equal") {
		t.Fatalf("broken rule: %s", stderr)
	}

	type assignment struct {
		ID, Name, Scope, EnforcementMode string
	}
	var a assignment
	az.json(&a, "policy", "assignment", "create", "-n", "no-community", "--policy", "deny-community", "--scope", subScope,
		"--params", `{"effect": {"value": "Deny"}}`)
	if a.Name != "no-community" || a.Scope != subScope || a.EnforcementMode != "Default" {
		t.Fatalf("assignment create = %+v", a)
	}
	az.json(&a, "policy", "assignment", "create", "-n", "no-prod", "--policy", "deny-env", "-g", "pol",
		"--params", `{"envs": {"value": ["prod", "production"]}}`)
	var list []assignment
	// az keeps only the group's own assignments unless told otherwise.
	az.json(&list, "policy", "assignment", "list", "-g", "pol")
	if len(list) != 1 || list[0].Name != "no-prod" {
		t.Fatalf("assignment list -g = %+v", list)
	}
	az.json(&list, "policy", "assignment", "list", "-g", "pol", "--disable-scope-strict-match")
	if len(list) != 2 {
		t.Fatalf("assignment list -g --disable-scope-strict-match = %+v", list)
	}
	stderr = az.fails("sig", "create", "-g", "pol", "-r", "prodGallery", "--tags", "env=Production")
	if !strings.Contains(stderr, "RequestDisallowedByPolicy") || !strings.Contains(stderr, a.ID) {
		t.Fatalf("prod gallery: %s", stderr)
	}
	az.ok("sig", "create", "-g", "pol", "-r", "devGallery", "--tags", "env=dev")
	stderr = az.fails("policy", "definition", "delete", "-n", "deny-env")
	if !strings.Contains(stderr, "PolicyDefinitionInUse") {
		t.Fatalf("delete definition in use: %s", stderr)
	}
	az.ok("policy", "assignment", "delete", "-n", "no-prod", "-g", "pol")
	az.ok("sig", "create", "-g", "pol", "-r", "prodGallery", "--tags", "env=Production")
	az.ok("policy", "assignment", "delete", "-n", "no-community")
	az.ok("policy", "definition", "delete", "-n", "deny-env")
	az.ok("policy", "definition", "delete", "-n", "deny-community")
}
