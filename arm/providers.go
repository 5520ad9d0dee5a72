package arm

import (
	"sort"
	"strings"

	"github.com/galleonhq/galleon"
)

// Api-version sets. Real clients send versions far older and newer than the
// specs Galleon follows; each is accepted with the same behaviour and the
// newest response shape.
var (
	resourcesVersions = []string{
		"2014-04-01", "2015-01-01", "2015-11-01", "2016-02-01", "2016-06-01", "2016-07-01", "2016-09-01",
		"2017-05-10", "2017-08-01", "2018-02-01", "2018-05-01", "2019-03-01", "2019-05-01", "2019-05-10",
		"2019-06-01", "2019-07-01", "2019-08-01", "2019-10-01", "2019-11-01", "2020-01-01", "2020-06-01",
		"2020-08-01", "2020-10-01", "2021-01-01", "2021-04-01", "2022-01-01", "2022-09-01", "2022-12-01",
		"2023-07-01", "2024-03-01", "2024-07-01", "2024-11-01", "2025-01-01", "2025-03-01", "2025-04-01",
	}
	roleAssignmentVersions = []string{
		"2015-07-01", "2017-10-01-preview", "2018-01-01-preview", "2018-09-01-preview", "2020-03-01-preview",
		"2020-04-01-preview", "2020-08-01-preview", "2020-10-01-preview", "2021-04-01-preview",
		"2022-01-01-preview", "2022-04-01",
	}
	roleDefinitionVersions = []string{
		"2015-07-01", "2018-01-01-preview", "2022-04-01", "2022-05-01-preview",
	}
	activityLogVersions = []string{"2015-04-01", "2017-03-01-preview"}
	// computeGalleryVersions are the Compute gallery api-versions clients send
	// (az 2.45: 2021-10-01, 2022-01-03, 2022-03-03; SDK majors up to 2026-03-03).
	computeGalleryVersions = []string{
		"2019-03-01", "2019-07-01", "2019-12-01", "2020-09-30", "2021-07-01", "2021-10-01", "2022-01-03",
		"2022-03-03", "2022-08-03", "2023-07-03", "2024-03-03", "2025-03-03", "2025-12-03", "2026-03-03",
	}
	imageBuilderVersions    = []string{"2020-02-14", "2021-10-01", "2022-02-14", "2022-07-01", "2023-07-01", "2024-02-01", "2025-10-01"}
	managedServicesVersions = []string{"2019-06-01", "2019-09-01", "2020-02-01-preview", "2022-01-01-preview", "2022-10-01"}
	policyVersions          = []string{"2019-09-01", "2020-09-01", "2021-06-01", "2022-06-01", "2023-04-01", "2025-01-01"}
	resourceGraphVersions   = []string{"2019-04-01", "2020-04-01-preview", "2021-03-01", "2022-10-01", "2024-04-01"}
)

// providerType is one resource type a namespace registers.
type providerType struct {
	Type        string // "resourceGroups", "galleries/images"
	APIVersions []string
	// Global types have no location.
	Global bool
}

// namespaces lists the providers Galleon registers in every subscription
// and the api-versions of their types. It drives both the providers
// endpoints and api-version checks.
var namespaces = map[string][]providerType{
	"Microsoft.Resources": {
		{Type: "resourceGroups", APIVersions: resourcesVersions, Global: true},
		{Type: "subscriptions", APIVersions: resourcesVersions, Global: true},
		{Type: "tenants", APIVersions: resourcesVersions, Global: true},
		{Type: "locations", APIVersions: resourcesVersions, Global: true},
		{Type: "providers", APIVersions: resourcesVersions, Global: true},
		{Type: "resources", APIVersions: resourcesVersions, Global: true},
		{Type: "operations", APIVersions: resourcesVersions, Global: true},
		{Type: "operationresults", APIVersions: resourcesVersions, Global: true},
	},
	"Microsoft.Authorization": {
		{Type: "roleAssignments", APIVersions: roleAssignmentVersions, Global: true},
		{Type: "roleDefinitions", APIVersions: roleDefinitionVersions, Global: true},
		{Type: "policyDefinitions", APIVersions: policyVersions, Global: true},
		{Type: "policyAssignments", APIVersions: policyVersions, Global: true},
	},
	"Microsoft.Compute": {
		{Type: "galleries", APIVersions: computeGalleryVersions},
		{Type: "galleries/images", APIVersions: computeGalleryVersions},
		{Type: "galleries/images/versions", APIVersions: computeGalleryVersions},
		{Type: "locations/sharedGalleries", APIVersions: computeGalleryVersions},
		{Type: "locations/communityGalleries", APIVersions: computeGalleryVersions},
	},
	"Microsoft.VirtualMachineImages": {
		{Type: "imageTemplates", APIVersions: imageBuilderVersions},
	},
	"Microsoft.Storage": {
		{Type: "storageAccounts", APIVersions: storageVersions},
	},
	"Microsoft.ManagedServices": {
		{Type: "registrationDefinitions", APIVersions: managedServicesVersions, Global: true},
		{Type: "registrationAssignments", APIVersions: managedServicesVersions, Global: true},
	},
	"Microsoft.ResourceGraph": {
		{Type: "resources", APIVersions: resourceGraphVersions, Global: true},
	},
	"Microsoft.Insights": {
		{Type: "eventtypes", APIVersions: activityLogVersions, Global: true},
	},
}

// canonicalNamespace returns the registered spelling of ns, or "".
func canonicalNamespace(ns string) string {
	for k := range namespaces {
		if strings.EqualFold(k, ns) {
			return k
		}
	}
	return ""
}

func sortedNamespaces() []string {
	out := make([]string, 0, len(namespaces))
	for k := range namespaces {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// checkAPIVersion returns nil if v is one of allowed, else the ARM error
// for a missing or unsupported api-version.
func checkAPIVersion(v, typ string, allowed []string) error {
	if v == "" {
		return galleon.ReasonErrorf(galleon.EInvalid, "MissingApiVersionParameter",
			"The api-version query parameter (?api-version=) is required for all requests. Add ?api-version=%s to the URL.", allowed[len(allowed)-1])
	}
	for _, a := range allowed {
		if strings.EqualFold(a, v) {
			return nil
		}
	}
	return galleon.ReasonErrorf(galleon.EInvalid, "InvalidApiVersionParameter",
		"The api-version '%s' is invalid for resource type '%s'. The supported versions are '%s'.", v, typ, strings.Join(allowed, ","))
}
