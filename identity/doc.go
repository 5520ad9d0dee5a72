// Package identity is Galleon's Entra-like identity provider: it keeps the
// token-signing keys, issues RS256 access tokens on the OAuth2 token endpoint
// (client credentials for service principals, resource-owner password for
// users), publishes the OpenID discovery document and JWKS that MSAL, the
// Azure SDKs and az expect, and turns a bearer token back into a
// *galleon.Principal (Authenticate) for every other surface.
//
// The browser endpoints /{tenant}/oauth2/v2.0/authorize (and v1) and
// /{tenant}/adminconsent serve a sign-in page and a consent page (HTML,
// embedded templates); a Global Administrator's consent creates a
// multi-tenant application's service principal in the tenant, and the
// authorization code they return is redeemed at the token endpoint.
//
// It also serves the native directory admin API (/admin/v1/...), a minimal
// Microsoft Graph (/v1.0/...) for the lookups az makes, and Bootstrap, the
// idempotent first-start setup of a tenant, subscription and administrator
// service principal.
//
// Passwords are hashed with argon2id (PHC string format); client secrets are
// high-entropy random strings, so a SHA-256 hash of each is stored.
//
// Allowed imports: the standard library, the root package galleon,
// github.com/go-jose/go-jose/v4, github.com/google/uuid and
// golang.org/x/crypto/argon2.
package identity
