// Package gallery holds the rules of Azure Compute Gallery resources:
// galleries, image definitions and (later) image versions. It decides what a
// valid name, body and change is, enforces the per-subscription, per-region
// limits, keeps publisher/offer/sku unique in a gallery, refuses to delete
// parents that still have children, and stores the result through
// galleon.Store. It also decides who a gallery is shared with and what
// they see (direct shares and community galleries, sharing.go and
// community.go) and keeps abuse reports (abuse.go). Every surface (ARM,
// CLI, portal) calls it.
//
// It imports only the root package.
package gallery
