package arm

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/galleonhq/galleon"
	"github.com/galleonhq/galleon/authz"
	"github.com/galleonhq/galleon/gallery"
	"github.com/galleonhq/galleon/policy"
)

const resourceGroupType = "Microsoft.Resources/resourceGroups"

// Provisioning states of resource groups.
const (
	stateSucceeded = "Succeeded"
	stateDeleting  = "Deleting"
)

type rgProperties struct {
	ProvisioningState string `json:"provisioningState"`
	// DeleteOperation is the operation deleting the group, while it runs.
	DeleteOperation string `json:"deleteOperation,omitempty"`
}

type rgBody struct {
	Location   *string           `json:"location"`
	Tags       map[string]string `json:"tags"`
	ManagedBy  *string           `json:"managedBy"`
	Properties *map[string]any   `json:"properties"`
	Name       *string           `json:"name"`
	ID         *string           `json:"id"`
	Type       *string           `json:"type"`
}

var rgNamePattern = regexp.MustCompile(`^[-\w._()]+$`)

func validateResourceGroupName(name string) error {
	if n := utf8.RuneCountInString(name); n < 1 || n > 90 || !rgNamePattern.MatchString(name) || strings.HasSuffix(name, ".") {
		return (&galleon.Error{Code: galleon.EInvalid, Reason: "InvalidResourceGroupName",
			Message: fmt.Sprintf("The resource group name '%s' is invalid. It must be 1 to 90 characters of letters, digits, underscores, hyphens, periods and parentheses, and must not end with a period.", name)}).WithTarget("resourceGroupName")
	}
	return nil
}

// validateTags applies ARM's tag limits.
func validateTags(tags map[string]string) error {
	if len(tags) > 50 {
		return (&galleon.Error{Code: galleon.EInvalid, Reason: "InvalidTag",
			Message: fmt.Sprintf("There are %d tags; a resource may have at most 50.", len(tags))}).WithTarget("tags")
	}
	for k, v := range tags {
		switch {
		case k == "" || utf8.RuneCountInString(k) > 512:
			return (&galleon.Error{Code: galleon.EInvalid, Reason: "InvalidTagNameLength",
				Message: fmt.Sprintf("The tag name '%s' must be 1 to 512 characters long.", k)}).WithTarget("tags")
		case strings.ContainsAny(k, "<>%&\\?/"):
			return (&galleon.Error{Code: galleon.EInvalid, Reason: "InvalidTagNameCharacters",
				Message: fmt.Sprintf("The tag name '%s' has a character from '<>%%&\\?/', which tag names may not contain.", k)}).WithTarget("tags")
		case utf8.RuneCountInString(v) > 256:
			return (&galleon.Error{Code: galleon.EInvalid, Reason: "InvalidTagValueLength",
				Message: fmt.Sprintf("The value of tag '%s' is longer than 256 characters.", k)}).WithTarget("tags")
		}
	}
	return nil
}

func rgID(sub, name string) string {
	return "/subscriptions/" + sub + "/resourceGroups/" + name
}

func rgProps(r *galleon.Resource) rgProperties {
	var p rgProperties
	_ = json.Unmarshal(r.Properties, &p)
	if p.ProvisioningState == "" {
		p.ProvisioningState = stateSucceeded
	}
	return p
}

func resourceGroupJSON(r *galleon.Resource) map[string]any {
	out := map[string]any{
		"id":         r.ID,
		"name":       r.Name,
		"type":       resourceGroupType,
		"location":   r.Location,
		"properties": map[string]string{"provisioningState": rgProps(r).ProvisioningState},
	}
	if r.Tags != nil {
		out["tags"] = r.Tags
	} else {
		out["tags"] = map[string]string{}
	}
	if r.ManagedBy != "" {
		out["managedBy"] = r.ManagedBy
	}
	return out
}

func notFoundRG(name string) error {
	return galleon.ReasonErrorf(galleon.ENotFound, "ResourceGroupNotFound", "Resource group '%s' could not be found.", name)
}

// loadResourceGroup returns the group; ResourceGroupNotFound if missing.
func (s *Server) loadResourceGroup(ctx context.Context, sub, name string) (*galleon.Resource, error) {
	r, err := s.Store.GetResource(ctx, rgID(sub, name))
	if galleon.ErrorCode(err) == galleon.ENotFound {
		return nil, notFoundRG(name)
	}
	return r, err
}

func (s *Server) putResourceGroup(c *call) error {
	name := c.v("rg")
	if err := validateResourceGroupName(name); err != nil {
		return err
	}
	id := rgID(c.sub.ID, name)
	if err := s.authorize(c, "Microsoft.Resources/subscriptions/resourceGroups/write", id); err != nil {
		return err
	}
	var body rgBody
	if err := s.decodeBody(c, &body); err != nil {
		return err
	}
	loc := ""
	if body.Location != nil {
		loc = *body.Location
	}
	loc, err := s.normalizeLocation(loc, "location")
	if err != nil {
		return err
	}
	if err := validateTags(body.Tags); err != nil {
		return err
	}
	existing, err := s.Store.GetResource(c.ctx, id)
	switch {
	case galleon.ErrorCode(err) == galleon.ENotFound:
		r := &galleon.Resource{
			ID: id, Type: resourceGroupType, Name: name, SubscriptionID: c.sub.ID, ResourceGroup: name,
			Location: loc, Tags: body.Tags, CreatedBy: c.p.ObjectID,
		}
		if body.ManagedBy != nil {
			r.ManagedBy = *body.ManagedBy
		}
		r.Properties, _ = json.Marshal(rgProperties{ProvisioningState: stateSucceeded})
		if err := s.Store.CreateResource(c.ctx, r); galleon.ErrorCode(err) == galleon.EConflict {
			// Created concurrently: answer as an update would.
			return s.putResourceGroup(c)
		} else if err != nil {
			return err
		}
		writeJSON(c.w, http.StatusCreated, resourceGroupJSON(r))
		return nil
	case err != nil:
		return err
	}
	if rgProps(existing).ProvisioningState == stateDeleting {
		return galleon.ReasonErrorf(galleon.EConflict, "ResourceGroupBeingDeleted",
			"The resource group '%s' is being deleted. Wait for the deletion to finish, then create it again.", existing.Name)
	}
	if existing.Location != loc {
		return (&galleon.Error{Code: galleon.EConflict, Reason: "InvalidResourceGroupLocation",
			Message: fmt.Sprintf("Invalid resource group location '%s'. The resource group '%s' already exists in location '%s'; a resource group's location cannot change.", loc, existing.Name, existing.Location)}).WithTarget("location")
	}
	existing.Tags = body.Tags
	if body.ManagedBy != nil {
		existing.ManagedBy = *body.ManagedBy
	}
	if err := s.Store.UpdateResource(c.ctx, existing, ""); err != nil {
		return err
	}
	writeJSON(c.w, http.StatusOK, resourceGroupJSON(existing))
	return nil
}

func (s *Server) getResourceGroup(c *call) error {
	name := c.v("rg")
	if err := s.authorize(c, "Microsoft.Resources/subscriptions/resourceGroups/read", rgID(c.sub.ID, name)); err != nil {
		return err
	}
	r, err := s.loadResourceGroup(c.ctx, c.sub.ID, name)
	if err != nil {
		return err
	}
	writeJSON(c.w, http.StatusOK, resourceGroupJSON(r))
	return nil
}

func (s *Server) headResourceGroup(c *call) error {
	name := c.v("rg")
	if err := s.authorize(c, "Microsoft.Resources/subscriptions/resourceGroups/read", rgID(c.sub.ID, name)); err != nil {
		return err
	}
	if _, err := s.loadResourceGroup(c.ctx, c.sub.ID, name); err != nil {
		return err
	}
	c.w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) patchResourceGroup(c *call) error {
	name := c.v("rg")
	if err := s.authorize(c, "Microsoft.Resources/subscriptions/resourceGroups/write", rgID(c.sub.ID, name)); err != nil {
		return err
	}
	var body rgBody
	if err := s.decodeBody(c, &body); err != nil {
		return err
	}
	r, err := s.loadResourceGroup(c.ctx, c.sub.ID, name)
	if err != nil {
		return err
	}
	if body.Location != nil {
		if loc, err := s.normalizeLocation(*body.Location, "location"); err != nil || loc != r.Location {
			return (&galleon.Error{Code: galleon.EConflict, Reason: "InvalidResourceGroupLocation",
				Message: fmt.Sprintf("The resource group '%s' is in '%s'; its location cannot change. Leave location out of the PATCH body.", r.Name, r.Location)}).WithTarget("location")
		}
	}
	if rgProps(r).ProvisioningState == stateDeleting {
		return galleon.ReasonErrorf(galleon.EConflict, "ResourceGroupBeingDeleted", "The resource group '%s' is being deleted and cannot be updated.", r.Name)
	}
	if body.Tags != nil {
		if err := validateTags(body.Tags); err != nil {
			return err
		}
		r.Tags = body.Tags
	}
	if body.ManagedBy != nil {
		r.ManagedBy = *body.ManagedBy
	}
	if err := s.Store.UpdateResource(c.ctx, r, c.r.Header.Get("If-Match")); err != nil {
		return err
	}
	writeJSON(c.w, http.StatusOK, resourceGroupJSON(r))
	return nil
}

func (s *Server) deleteResourceGroup(c *call) error {
	name := c.v("rg")
	id := rgID(c.sub.ID, name)
	if err := s.authorize(c, "Microsoft.Resources/subscriptions/resourceGroups/delete", id); err != nil {
		return err
	}
	r, err := s.loadResourceGroup(c.ctx, c.sub.ID, name)
	if err != nil {
		return err
	}
	if s.Gallery != nil {
		if err := s.Gallery.CheckGroupDeletable(c.ctx, r.ID); err != nil {
			return err
		}
	}
	props := rgProps(r)
	if props.ProvisioningState == stateDeleting && props.DeleteOperation != "" {
		if op, err := s.Store.GetOperation(c.ctx, props.DeleteOperation); err == nil && !op.Done() {
			s.acceptOperation(c, op)
			return nil
		}
	}
	op, err := s.startOperation(c, "Microsoft.Resources/resourceGroups/delete", r.ID, jobDeleteResourceGroup, deleteRGPayload{ID: r.ID})
	if err != nil {
		return err
	}
	props.ProvisioningState, props.DeleteOperation = stateDeleting, op.ID
	r.Properties, _ = json.Marshal(props)
	if err := s.Store.UpdateResource(c.ctx, r, ""); err != nil {
		return err
	}
	s.notify()
	s.acceptOperation(c, op)
	return nil
}

const jobDeleteResourceGroup = "resourcegroup.delete"

type deleteRGPayload struct {
	ID string `json:"id"`
}

// runDeleteResourceGroup deletes everything a resource group holds, the role
// assignments on it and below it, and the group itself. Each step is
// idempotent, so a job interrupted anywhere simply runs again.
func (s *Server) runDeleteResourceGroup(ctx context.Context, j *galleon.Job) error {
	var p deleteRGPayload
	if err := json.Unmarshal(j.Payload, &p); err != nil {
		return fmt.Errorf("decode payload: %w", err)
	}
	if _, err := s.Store.DeleteResourcesUnder(ctx, p.ID); err != nil {
		return fmt.Errorf("delete resources under %s: %w", p.ID, err)
	}
	if _, err := s.Store.DeleteRoleAssignmentsUnder(ctx, p.ID); err != nil {
		return fmt.Errorf("delete role assignments under %s: %w", p.ID, err)
	}
	if err := s.Store.DeleteResource(ctx, p.ID); err != nil && galleon.ErrorCode(err) != galleon.ENotFound {
		return fmt.Errorf("delete %s: %w", p.ID, err)
	}
	return nil
}

// parseFilter splits an ARM $filter of "a eq 'x' and b eq 'y'" clauses into
// a map, refusing anything else with a message naming what is supported.
func parseFilter(filter string, allowed ...string) (map[string]string, error) {
	out := map[string]string{}
	if strings.TrimSpace(filter) == "" {
		return out, nil
	}
	bad := func() error {
		return (&galleon.Error{Code: galleon.EInvalid, Reason: "InvalidFilterParameter",
			Message: fmt.Sprintf("The $filter '%s' is not supported. Use clauses of the form \"<field> eq '<value>'\" joined by 'and', with fields %s.", filter, strings.Join(allowed, ", "))}).WithTarget("$filter")
	}
	for _, clause := range splitAnd(filter) {
		parts := strings.SplitN(strings.TrimSpace(clause), " ", 3)
		if len(parts) != 3 || !strings.EqualFold(parts[1], "eq") {
			return nil, bad()
		}
		v := strings.TrimSpace(parts[2])
		if len(v) < 2 || v[0] != '\'' || v[len(v)-1] != '\'' {
			return nil, bad()
		}
		key := ""
		for _, a := range allowed {
			if strings.EqualFold(a, parts[0]) {
				key = a
			}
		}
		if key == "" {
			return nil, bad()
		}
		out[key] = strings.ReplaceAll(v[1:len(v)-1], "''", "'")
	}
	return out, nil
}

// splitAnd splits on " and " outside quoted strings.
func splitAnd(s string) []string {
	var out []string
	inQuote := false
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '\'' {
			inQuote = !inQuote
			continue
		}
		if !inQuote && i+5 <= len(s) && strings.EqualFold(s[i:i+5], " and ") {
			out = append(out, s[start:i])
			start = i + 5
			i += 4
		}
	}
	return append(out, s[start:])
}

func matchTags(r *galleon.Resource, f map[string]string) bool {
	name, ok := f["tagName"]
	if !ok {
		return true
	}
	for k, v := range r.Tags {
		if strings.EqualFold(k, name) {
			want, hasValue := f["tagValue"]
			return !hasValue || v == want
		}
	}
	return false
}

func encodeToken(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func decodeToken(t string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(t)
	if err != nil {
		return "", (&galleon.Error{Code: galleon.EInvalid, Reason: "InvalidSkipToken",
			Message: "The $skiptoken is not one this server issued. Start the listing again without it."}).WithTarget("$skiptoken")
	}
	return string(b), nil
}

func (s *Server) listResourceGroups(c *call) error {
	f, err := parseFilter(c.r.URL.Query().Get("$filter"), "tagName", "tagValue")
	if err != nil {
		return err
	}
	return s.listPage(c, galleon.ResourceFilter{SubscriptionID: c.sub.ID, Type: resourceGroupType},
		"Microsoft.Resources/subscriptions/resourceGroups/read",
		func(r *galleon.Resource) (any, bool) { return resourceGroupJSON(r), matchTags(r, f) })
}

func (s *Server) listResources(c *call) error {
	f, err := parseFilter(c.r.URL.Query().Get("$filter"), "resourceType", "resourceGroup", "name", "location", "tagName", "tagValue")
	if err != nil {
		return err
	}
	rf := galleon.ResourceFilter{SubscriptionID: c.sub.ID, ExcludeTypes: notListedResources, Type: f["resourceType"]}
	rg := c.v("rg")
	if rg == "" {
		rg = f["resourceGroup"] // az resource list -g sends it as a filter
	}
	if rg != "" {
		if err := s.authorize(c, "Microsoft.Resources/subscriptions/resourceGroups/read", rgID(c.sub.ID, rg)); err != nil {
			return err
		}
		if _, err := s.loadResourceGroup(c.ctx, c.sub.ID, rg); err != nil {
			return err
		}
		rf.ResourceGroup = rg
	}
	return s.listPage(c, rf, "", func(r *galleon.Resource) (any, bool) {
		keep := matchTags(r, f) &&
			(f["name"] == "" || strings.EqualFold(f["name"], r.Name)) &&
			(f["location"] == "" || strings.EqualFold(f["location"], r.Location))
		return genericResourceJSON(r), keep
	})
}

// notListedResources are the stored types /resources leaves out, as Azure
// does: resource groups, and extension or internal records (policy,
// delegations, abuse reports).
var notListedResources = []string{resourceGroupType, policy.DefinitionType, policy.AssignmentType,
	authz.RegistrationDefinitionType, authz.RegistrationAssignmentType, gallery.AbuseReportType}

func genericResourceJSON(r *galleon.Resource) map[string]any {
	out := map[string]any{"id": r.ID, "name": r.Name, "type": r.Type}
	if r.Location != "" {
		out["location"] = r.Location
	}
	if r.Tags != nil {
		out["tags"] = r.Tags
	}
	if r.ManagedBy != "" {
		out["managedBy"] = r.ManagedBy
	}
	return out
}

// listPage serves one page of a resource listing, keeping the resources the
// caller may read (readAction, or "{type}/read" when empty) and that keep
// accepts; the page token continues after the last stored row examined.
func (s *Server) listPage(c *call, rf galleon.ResourceFilter, readAction string, view func(*galleon.Resource) (any, bool)) error {
	top, err := pageSize(c, 1000)
	if err != nil {
		return err
	}
	if t := skipToken(c); t != "" {
		if rf.After, err = decodeToken(t); err != nil {
			return err
		}
	}
	rf.Limit = top
	rs, next, err := s.Store.ListResources(c.ctx, rf)
	if err != nil {
		return err
	}
	chk, err := s.Authz.Checker(c.ctx, c.p, "/subscriptions/"+c.sub.ID)
	if err != nil {
		return err
	}
	out := []any{}
	for _, r := range rs {
		action := readAction
		if action == "" {
			action = r.Type + "/read"
		}
		if !chk.Allowed(action, r.ID) {
			continue
		}
		if v, keep := view(r); keep {
			out = append(out, v)
		}
	}
	link := ""
	if next != "" {
		link = s.nextLink(c, encodeToken(next))
	}
	writeJSON(c.w, http.StatusOK, page{Value: out, NextLink: link})
	return nil
}
