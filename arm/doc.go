// Package arm serves the Azure Resource Manager REST API: routing on
// case-insensitive resource IDs, api-version checks, authentication of every
// request, authorization through authz, CloudError bodies, paging with
// nextLink, and long-running operations (Azure-AsyncOperation, Location,
// Retry-After, operation status resources).
//
// Requests are served in the tenant of their primary token; resources they
// link to in other tenants are authorized with the auxiliary tokens of
// x-ms-authorization-auxiliary (crosstenant.go), and delegated management
// (Microsoft.ManagedServices, delegation.go) lets a managing tenant's
// principals address a customer's subscription.
//
// It imports the root package and the rule packages (authz); storage comes
// in through galleon.Store.
package arm
