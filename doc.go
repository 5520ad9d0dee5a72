// Package galleon holds Galleon's domain: the types every layer shares (tenants,
// principals, subscriptions, resources, role assignments, jobs, audit records),
// the one error type, and the interfaces that adapters implement (Store).
//
// It imports only the standard library. Rules live in their own packages
// (authz decides who may, identity who you are); transports (arm, the identity
// HTTP endpoints) call them; storage adapters (store/sqlite) implement Store.
package galleon
