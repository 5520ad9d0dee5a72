// Package authz is Galleon's Azure role-based access control engine: it
// decides who may do what, and where.
//
// It knows the built-in role definitions (Owner, Contributor, Reader, User
// Access Administrator, Compute Gallery Sharing Admin, Compute Gallery Image
// Reader) under Azure's own GUIDs, matches action patterns the way ARM does
// ("*" matches any run of characters, case-insensitively), and evaluates a
// principal's role assignments at a scope and every ancestor of it: an
// assignment at a subscription applies to its resource groups and resources.
// Azure deny assignments are not modelled, so any applicable assignment whose
// role allows an action grants it.
//
// Delegated management (Azure Lighthouse) is evaluated here too: with a
// DelegationStore set, the principals of a managing tenant named in an
// active registration definition and assignment hold the definition's
// built-in roles on the delegated subscription or resource group, as if
// role assignments had been made there. Roles that can grant access (Owner,
// User Access Administrator) are never delegated.
//
// Every surface (arm, web, the identity endpoints) calls the Authorizer
// instead of deciding access itself; listing endpoints use a Checker, which
// loads a principal's assignments around one scope once and then answers
// many questions without touching the store.
//
// Allowed imports: the standard library and the root package galleon.
package authz
