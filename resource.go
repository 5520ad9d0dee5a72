package galleon

import (
	"encoding/json"
	"strings"
	"time"
)

// ResourceID is a parsed ARM resource ID or scope:
//
//	/                                                      (tenant root)
//	/subscriptions/{sub}
//	/subscriptions/{sub}/resourceGroups/{rg}
//	[scope]/providers/{Namespace}/{type}/{name}[/{type}/{name}...]
//
// Extension resources (role assignments on a gallery, for example) nest a
// provider segment inside another resource's ID; Parent gives the scope they
// extend. Names keep the case they were given; comparisons are
// case-insensitive.
type ResourceID struct {
	SubscriptionID string
	ResourceGroup  string
	// Namespace is the resource provider, e.g. "Microsoft.Compute"; empty for
	// subscriptions, resource groups and the root.
	Namespace string
	// Types and Names are the type/name pairs under the provider, e.g.
	// ["galleries","images"] and ["g1","img"].
	Types []string
	Names []string
	// Scope is the ID this resource extends when it is an extension resource
	// (the part before the last "/providers/"), else nil.
	Scope *ResourceID
}

// ParseResourceID parses an ARM resource ID. Leading, trailing and doubled
// slashes are tolerated. It returns an EInvalid error, naming the problem,
// for anything that is not a well-formed ID.
func ParseResourceID(s string) (ResourceID, error) {
	id, why := parseSegments(splitPath(s))
	if why != "" {
		return ResourceID{}, ReasonErrorf(EInvalid, "InvalidResourceId", "The resource ID '%s' is not valid: %s.", s, why)
	}
	return id, nil
}

func splitPath(s string) []string {
	parts := strings.Split(s, "/")
	out := parts[:0]
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}

// parseSegments reads left to right: an optional subscription and resource
// group, then provider parts. A "providers" segment where a type is expected
// starts an extension resource whose scope is everything before it.
func parseSegments(segs []string) (ResourceID, string) {
	var id ResourceID
	i := 0
	if i < len(segs) && isKeyword(segs[i], "subscriptions") {
		if i+1 >= len(segs) {
			return id, "the subscription ID is missing"
		}
		id.SubscriptionID = segs[i+1]
		i += 2
		if i < len(segs) && isKeyword(segs[i], "resourceGroups") {
			if i+1 >= len(segs) {
				return id, "the resource group name is missing"
			}
			id.ResourceGroup = segs[i+1]
			i += 2
		}
	}
	for i < len(segs) {
		if !isKeyword(segs[i], "providers") {
			switch {
			case id.ResourceGroup != "":
				return id, "expected 'providers' after the resource group, found '" + segs[i] + "'"
			case id.SubscriptionID != "":
				return id, "expected 'resourceGroups' or 'providers' after the subscription, found '" + segs[i] + "'"
			}
			return id, "it must start with '/subscriptions/{subscriptionId}' or '/providers/'"
		}
		if i+1 >= len(segs) {
			return id, "a provider namespace must follow 'providers'"
		}
		if id.Namespace != "" {
			scope := id
			id = ResourceID{SubscriptionID: scope.SubscriptionID, ResourceGroup: scope.ResourceGroup, Scope: &scope}
		}
		id.Namespace = segs[i+1]
		i += 2
		for i < len(segs) && !isKeyword(segs[i], "providers") {
			if i+1 >= len(segs) {
				return id, "resource type '" + segs[i] + "' has no name"
			}
			id.Types = append(id.Types, segs[i])
			id.Names = append(id.Names, segs[i+1])
			i += 2
		}
		if len(id.Types) == 0 {
			return id, "no resource type follows provider namespace '" + id.Namespace + "'"
		}
	}
	return id, ""
}

// isKeyword reports whether seg is the ASCII keyword kw in any ASCII case.
// Unicode folding would accept "ſubscriptions" (U+017F folds to 's'), which
// NormalizeScope keeps distinct, giving one parsed ID two store keys.
func isKeyword(seg, kw string) bool {
	return len(seg) == len(kw) && strings.EqualFold(seg, kw)
}

// String formats the ID in ARM's canonical spelling.
func (id ResourceID) String() string {
	var b strings.Builder
	if id.Scope != nil {
		if s := id.Scope.String(); s != "/" {
			b.WriteString(s)
		}
	} else {
		if id.SubscriptionID != "" {
			b.WriteString("/subscriptions/" + id.SubscriptionID)
		}
		if id.ResourceGroup != "" {
			b.WriteString("/resourceGroups/" + id.ResourceGroup)
		}
	}
	if id.Namespace != "" {
		b.WriteString("/providers/" + id.Namespace)
		for i := range id.Types {
			b.WriteString("/" + id.Types[i] + "/" + id.Names[i])
		}
	}
	if b.Len() == 0 {
		return "/"
	}
	return b.String()
}

// Type returns the resource type ("Microsoft.Compute/galleries/images",
// "Microsoft.Resources/resourceGroups", "Microsoft.Resources/subscriptions"),
// or "" for the root.
func (id ResourceID) Type() string {
	switch {
	case id.Namespace != "":
		return id.Namespace + "/" + strings.Join(id.Types, "/")
	case id.ResourceGroup != "":
		return "Microsoft.Resources/resourceGroups"
	case id.SubscriptionID != "":
		return "Microsoft.Resources/subscriptions"
	}
	return ""
}

// Name returns the last name in the ID.
func (id ResourceID) Name() string {
	switch {
	case len(id.Names) > 0:
		return id.Names[len(id.Names)-1]
	case id.ResourceGroup != "":
		return id.ResourceGroup
	}
	return id.SubscriptionID
}

// Parent returns the ID one level up: a child resource's parent, an
// extension resource's scope, a top-level resource's resource group (or
// subscription), a resource group's subscription, and the root for a
// subscription.
func (id ResourceID) Parent() ResourceID {
	switch {
	case len(id.Types) > 1:
		p := id
		// Cap the slices so appending to the parent cannot overwrite the child.
		n := len(id.Types) - 1
		p.Types, p.Names = id.Types[:n:n], id.Names[:n:n]
		return p
	case len(id.Types) == 1 && id.Scope != nil:
		return *id.Scope
	case len(id.Types) == 1:
		return ResourceID{SubscriptionID: id.SubscriptionID, ResourceGroup: id.ResourceGroup}
	case id.ResourceGroup != "":
		return ResourceID{SubscriptionID: id.SubscriptionID}
	}
	return ResourceID{}
}

// ScopeContains reports whether scope is child itself or one of its
// ancestors, comparing case-insensitively. "/" contains every scope.
func ScopeContains(scope, child string) bool {
	s := NormalizeScope(scope)
	c := NormalizeScope(child)
	if s == "/" || s == c {
		return true
	}
	return strings.HasPrefix(c, s+"/")
}

// NormalizeScope returns the lower-case, single-slashed form of an ID or
// scope, without a trailing slash: the key under which stores index IDs.
func NormalizeScope(s string) string {
	segs := splitPath(s)
	if len(segs) == 0 {
		return "/"
	}
	return "/" + strings.ToLower(strings.Join(segs, "/"))
}

// Resource is the stored form of an ARM resource. Rules that know a type
// decode Properties; the store keeps it opaque.
type Resource struct {
	ID             string            `json:"id"`
	Type           string            `json:"type"`
	Name           string            `json:"name"`
	SubscriptionID string            `json:"subscriptionId"`
	ResourceGroup  string            `json:"resourceGroup"`
	Location       string            `json:"location,omitempty"`
	Tags           map[string]string `json:"tags,omitempty"`
	ManagedBy      string            `json:"managedBy,omitempty"`
	Properties     json.RawMessage   `json:"properties,omitempty"`
	// Internal is what Galleon keeps about a resource and never shows
	// (which stored disk manifests make up an image version, say).
	Internal  json.RawMessage `json:"-"`
	ETag      string          `json:"etag,omitempty"`
	CreatedAt time.Time       `json:"createdAt"`
	CreatedBy string          `json:"createdBy,omitempty"`
	ChangedAt time.Time       `json:"changedAt"`
}

// ResourceFilter selects resources in ListResources. Empty fields match all.
type ResourceFilter struct {
	SubscriptionID string
	ResourceGroup  string
	// Type matches case-insensitively, e.g. "Microsoft.Compute/galleries".
	Type string
	// Under keeps resources whose ID lies strictly under this ID.
	Under string
	// ExcludeTypes leaves out these types.
	ExcludeTypes []string
	// After is a page token: the normalized ID to continue after.
	After string
	// Limit caps the page size; 0 means no cap.
	Limit int
}
