// Package policy implements Azure Policy for Galleon: policy definitions
// (custom ones of a subscription, and a few built-in ones) and policy
// assignments at subscription, resource-group and resource scope, stored as
// galleon.Resource rows; the rule language (allOf, anyOf, not; field tests
// on type, name, location, tags and property aliases; equals, like, in,
// contains, exists, greater and the rest; "[parameters('x')]" values); and
// the Engine whose Check vets each gallery, image definition and version
// before it is stored: deny refuses the write with RequestDisallowedByPolicy,
// audit (and deny under DoNotEnforce) lets it through and appends an audit
// record to the activity log.
//
// It imports only the root package (and github.com/google/uuid).
package policy
