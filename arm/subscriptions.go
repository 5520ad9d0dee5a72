package arm

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/galleonhq/galleon"
)

// getMetadataEndpoints serves the cloud metadata that `az cloud register`
// and SDKs read to find the login endpoint and audiences. api-version
// 2022-09-01 and later get the array form, older ones the object form.
func (s *Server) getMetadataEndpoints(c *call) error {
	base := s.BaseURL + "/"
	auth := map[string]any{
		"loginEndpoint":    base,
		"audiences":        []string{s.audience(), strings.TrimSuffix(s.audience(), "/")},
		"tenant":           "common",
		"identityProvider": "AAD",
	}
	if c.apiVersion >= "2022-09-01" {
		writeJSON(c.w, http.StatusOK, []map[string]any{{
			"portal":                   base + "portal/",
			"authentication":           auth,
			"media":                    base,
			"graphAudience":            base,
			"graph":                    base,
			"name":                     "Galleon",
			"suffixes":                 map[string]string{"storage": "core.windows.net", "keyVaultDns": "vault.azure.net"},
			"batch":                    base,
			"resourceManager":          base,
			"vmImageAliasDoc":          "",
			"activeDirectoryDataLake":  base,
			"sqlManagement":            base,
			"microsoftGraphResourceId": base,
			"appInsightsResourceId":    base,
			"gallery":                  base,
		}})
		return nil
	}
	writeJSON(c.w, http.StatusOK, map[string]any{
		"galleryEndpoint": base,
		"graphEndpoint":   base,
		"portalEndpoint":  base + "portal/",
		"authentication":  auth,
	})
	return nil
}

func (s *Server) audience() string {
	if s.Audience != "" {
		return s.Audience
	}
	return s.BaseURL + "/"
}

func (s *Server) listTenants(c *call) error {
	t, err := s.Store.GetTenant(c.ctx, c.p.TenantID)
	if err != nil {
		return err
	}
	writeJSON(c.w, http.StatusOK, page{Value: []any{tenantJSON(t)}})
	return nil
}

func tenantJSON(t *galleon.Tenant) map[string]any {
	return map[string]any{
		"id":             "/tenants/" + t.ID,
		"tenantId":       t.ID,
		"tenantCategory": "Home",
		"displayName":    t.DisplayName,
		"defaultDomain":  t.Domain,
		"domains":        []string{t.Domain},
		"tenantType":     "AAD",
	}
}

func subscriptionJSON(sub *galleon.Subscription) map[string]any {
	return map[string]any{
		"id":                  "/subscriptions/" + sub.ID,
		"subscriptionId":      sub.ID,
		"tenantId":            sub.TenantID,
		"displayName":         sub.DisplayName,
		"state":               sub.State,
		"authorizationSource": "RoleBased",
		"managedByTenants":    []any{},
		"subscriptionPolicies": map[string]string{
			"locationPlacementId": "Public_2014-09-01",
			"quotaId":             "PayAsYouGo_2014-09-01",
			"spendingLimit":       "Off",
		},
	}
}

// subscriptionVisible reports whether the caller holds any role assignment
// at, above or below the subscription, or a delegation in it: what makes
// Azure list it.
func (s *Server) subscriptionVisible(c *call, subID string) (bool, error) {
	scope := "/subscriptions/" + subID
	for _, f := range []galleon.RoleAssignmentFilter{
		{AtOrAbove: scope, PrincipalIDs: c.p.IDs()},
		{AtOrBelow: scope, PrincipalIDs: c.p.IDs()},
	} {
		as, err := s.Store.ListRoleAssignments(c.ctx, f)
		if err != nil {
			return false, err
		}
		if len(as) > 0 {
			return true, nil
		}
	}
	return s.delegatedSubscription(c, subID)
}

func (s *Server) listSubscriptions(c *call) error {
	subs, err := s.Store.ListSubscriptions(c.ctx, c.p.TenantID)
	if err != nil {
		return err
	}
	out := []any{}
	for _, sub := range subs {
		ok, err := s.subscriptionVisible(c, sub.ID)
		if err != nil {
			return err
		}
		if ok {
			v, err := s.subscriptionView(c, sub)
			if err != nil {
				return err
			}
			out = append(out, v)
		}
	}
	// Other tenants' subscriptions delegated to the caller, as Azure
	// Lighthouse lists them.
	delegated, err := s.delegatedSubscriptions(c)
	if err != nil {
		return err
	}
	for _, sub := range delegated {
		v, err := s.subscriptionView(c, sub)
		if err != nil {
			return err
		}
		out = append(out, v)
	}
	writeJSON(c.w, http.StatusOK, page{Value: out})
	return nil
}

// requireVisible fails with SubscriptionNotFound when the caller has no
// access anywhere in the subscription, so strangers learn nothing.
func (s *Server) requireVisible(c *call) error {
	ok, err := s.subscriptionVisible(c, c.sub.ID)
	if err != nil {
		return err
	}
	if !ok {
		return galleon.ReasonErrorf(galleon.ENotFound, "SubscriptionNotFound",
			"The subscription '%s' could not be found, or %s has no role in it. Ask an Owner of the subscription for a role assignment.", c.sub.ID, c.p)
	}
	return nil
}

func (s *Server) getSubscription(c *call) error {
	if err := s.requireVisible(c); err != nil {
		return err
	}
	v, err := s.subscriptionView(c, c.sub)
	if err != nil {
		return err
	}
	writeJSON(c.w, http.StatusOK, v)
	return nil
}

func (s *Server) listLocations(c *call) error {
	if err := s.requireVisible(c); err != nil {
		return err
	}
	out := []any{}
	for _, rg := range s.Regions {
		out = append(out, map[string]any{
			"id":                  "/subscriptions/" + c.sub.ID + "/locations/" + rg.Name,
			"name":                rg.Name,
			"type":                "Region",
			"displayName":         rg.DisplayName,
			"regionalDisplayName": "(" + rg.Geography + ") " + rg.DisplayName,
			"metadata": map[string]any{
				"regionType":       "Physical",
				"regionCategory":   "Recommended",
				"geography":        rg.Geography,
				"geographyGroup":   rg.Geography,
				"latitude":         formatCoord(rg.Latitude),
				"longitude":        formatCoord(rg.Longitude),
				"physicalLocation": rg.DisplayName,
			},
			"availabilityZoneMappings": zoneMappings(rg, c.sub.ID),
		})
	}
	writeJSON(c.w, http.StatusOK, page{Value: out})
	return nil
}

func zoneMappings(rg galleon.Region, sub string) []map[string]string {
	out := []map[string]string{}
	for z := 1; z <= rg.Zones && rg.Zones > 1; z++ {
		n := string(rune('0' + z))
		out = append(out, map[string]string{"logicalZone": n, "physicalZone": rg.Name + "-az" + n})
	}
	return out
}

func formatCoord(f float64) string {
	return strings.TrimRight(strings.TrimRight(strconv.FormatFloat(f, 'f', 4, 64), "0"), ".")
}

// normalizeLocation maps a region name or display name ("East US",
// "eastus") to its configured name, or returns a LocationNotAvailable error
// listing the regions there are.
func (s *Server) normalizeLocation(loc, target string) (string, error) {
	if rg, ok := galleon.LookupRegion(s.Regions, loc); ok {
		return rg.Name, nil
	}
	if loc == "" {
		return "", (&galleon.Error{Code: galleon.EInvalid, Reason: "LocationRequired",
			Message: "The location property is required for this definition. Give one of: " + galleon.RegionNames(s.Regions) + "."}).WithTarget(target)
	}
	return "", (&galleon.Error{Code: galleon.EInvalid, Reason: "LocationNotAvailableForResourceGroup",
		Message: "The provided location '" + loc + "' is not available. Available locations: " + galleon.RegionNames(s.Regions) + "."}).WithTarget(target)
}

func (s *Server) providerJSON(subID, ns string) map[string]any {
	types := []any{}
	for _, t := range namespaces[ns] {
		locs := []string{}
		if !t.Global {
			for _, rg := range s.Regions {
				locs = append(locs, rg.DisplayName)
			}
		}
		types = append(types, map[string]any{
			"resourceType": t.Type,
			"locations":    locs,
			"apiVersions":  reversed(t.APIVersions),
		})
	}
	id := "/providers/" + ns
	if subID != "" {
		id = "/subscriptions/" + subID + id
	}
	return map[string]any{
		"id":                 id,
		"namespace":          ns,
		"registrationState":  "Registered",
		"registrationPolicy": "RegistrationRequired",
		"resourceTypes":      types,
	}
}

func reversed(v []string) []string {
	out := make([]string, len(v))
	for i := range v {
		out[len(v)-1-i] = v[i]
	}
	return out
}

func (s *Server) listProviders(c *call) error {
	subID := ""
	if c.sub != nil {
		if err := s.requireVisible(c); err != nil {
			return err
		}
		subID = c.sub.ID
	}
	out := []any{}
	for _, ns := range sortedNamespaces() {
		out = append(out, s.providerJSON(subID, ns))
	}
	writeJSON(c.w, http.StatusOK, page{Value: out})
	return nil
}

func (s *Server) getProvider(c *call) error {
	subID := ""
	if c.sub != nil {
		if err := s.requireVisible(c); err != nil {
			return err
		}
		subID = c.sub.ID
	}
	ns := canonicalNamespace(c.v("ns"))
	if ns == "" {
		return galleon.ReasonErrorf(galleon.ENotFound, "NoRegisteredProviderFound",
			"The resource provider '%s' is not known. Known providers: %s.", c.v("ns"), strings.Join(sortedNamespaces(), ", "))
	}
	writeJSON(c.w, http.StatusOK, s.providerJSON(subID, ns))
	return nil
}

// registerProvider answers provider registration: every namespace Galleon
// knows is always registered, so this only confirms it.
func (s *Server) registerProvider(c *call) error {
	if err := s.authorize(c, canonicalNamespace(c.v("ns"))+"/register/action", "/subscriptions/"+c.sub.ID); err != nil {
		// Azure lets Contributors register providers; */register/action covers it.
		return err
	}
	return s.getProvider(c)
}
