// Package arm serves the Azure Resource Manager REST API: routing on
// case-insensitive resource IDs, api-version checks, authentication of every
// request, authorization through authz, CloudError bodies, paging with
// nextLink, and long-running operations (Azure-AsyncOperation, Location,
// Retry-After, operation status resources).
//
// It imports the root package and the rule packages (authz); storage comes
// in through galleon.Store.
package arm
