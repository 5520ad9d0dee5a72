package arm

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/galleonhq/galleon"
	"github.com/galleonhq/galleon/storage"
)

var storageVersions = []string{"2019-06-01", "2021-01-01", "2021-04-01", "2021-06-01", "2021-08-01", "2021-09-01",
	"2022-05-01", "2022-09-01", "2023-01-01", "2023-04-01", "2023-05-01", "2024-01-01", "2025-01-01", "2025-06-01"}

func storageAccountID(c *call) galleon.ResourceID {
	return galleon.ResourceID{SubscriptionID: c.sub.ID, ResourceGroup: c.v("rg"), Namespace: "Microsoft.Storage",
		Types: []string{"storageAccounts"}, Names: []string{c.v("name")}}
}

func (s *Server) storageAccountJSON(r *galleon.Resource) map[string]any {
	out := trackedJSON(r)
	var in struct {
		SKU  string `json:"sku"`
		Kind string `json:"kind"`
	}
	_ = json.Unmarshal(r.Internal, &in)
	out["sku"] = map[string]string{"name": in.SKU, "tier": strings.SplitN(in.SKU, "_", 2)[0]}
	out["kind"] = in.Kind
	return out
}

func (s *Server) storageAccountRoutes() []route {
	base := "subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Storage/storageAccounts"
	t := storage.UserAccountType
	return []route{
		{method: "GET", pattern: seg("subscriptions/{sub}/providers/Microsoft.Storage/storageAccounts"), typ: t, versions: storageVersions, handle: (*Server).listStorageAccounts},
		{method: "GET", pattern: seg(base), typ: t, versions: storageVersions, handle: (*Server).listStorageAccounts},
		{method: "PUT", pattern: seg(base + "/{name}"), typ: t, versions: storageVersions, handle: (*Server).putStorageAccount},
		{method: "GET", pattern: seg(base + "/{name}"), typ: t, versions: storageVersions, handle: (*Server).getStorageAccount},
		{method: "DELETE", pattern: seg(base + "/{name}"), typ: t, versions: storageVersions, handle: (*Server).deleteStorageAccount},
		{method: "POST", pattern: seg(base + "/{name}/listServiceSas"), typ: t, versions: storageVersions, handle: (*Server).listServiceSas},
	}
}

// putStorageAccount creates a storage account users upload VHD blobs to
// (path-style: https://host/{account}/{container}/{blob}).
func (s *Server) putStorageAccount(c *call) error {
	id := storageAccountID(c)
	if err := s.authorize(c, "Microsoft.Storage/storageAccounts/write", id.String()); err != nil {
		return err
	}
	if err := storage.ValidateAccountName(id.Name()); err != nil {
		return err
	}
	var body struct {
		Location *string           `json:"location"`
		Tags     map[string]string `json:"tags"`
		Kind     string            `json:"kind"`
		SKU      *struct {
			Name string `json:"name"`
		} `json:"sku"`
	}
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
	if existing, err := storage.FindUserAccount(c.ctx, s.Store, id.Name()); err == nil {
		if galleon.NormalizeScope(existing.ID) != galleon.NormalizeScope(id.String()) {
			return galleon.ReasonErrorf(galleon.EConflict, "StorageAccountAlreadyTaken", "The storage account name '%s' is already taken; account names are unique across the installation.", id.Name())
		}
		existing.Tags = body.Tags
		if err := s.Store.UpdateResource(c.ctx, existing, ""); err != nil {
			return err
		}
		writeJSON(c.w, http.StatusOK, s.storageAccountJSON(existing))
		return nil
	} else if galleon.ErrorCode(err) != galleon.ENotFound {
		return err
	}
	if _, err := s.loadResourceGroup(c.ctx, c.sub.ID, id.ResourceGroup); err != nil {
		return err
	}
	sku := "Standard_LRS"
	if body.SKU != nil && body.SKU.Name != "" {
		sku = body.SKU.Name
	}
	if body.Kind == "" {
		body.Kind = "StorageV2"
	}
	props, _ := json.Marshal(map[string]any{
		"provisioningState": "Succeeded", "primaryLocation": loc, "statusOfPrimary": "available",
		"creationTime":     s.now().Format(time.RFC3339Nano),
		"primaryEndpoints": map[string]string{"blob": s.BaseURL + "/" + id.Name() + "/"},
	})
	internal, _ := json.Marshal(map[string]string{"sku": sku, "kind": body.Kind})
	r := &galleon.Resource{ID: id.String(), Type: storage.UserAccountType, Name: id.Name(), SubscriptionID: id.SubscriptionID,
		ResourceGroup: id.ResourceGroup, Location: loc, Tags: body.Tags, Properties: props, Internal: internal, CreatedBy: c.p.ObjectID}
	if err := s.Store.CreateResource(c.ctx, r); err != nil {
		return err
	}
	writeJSON(c.w, http.StatusOK, s.storageAccountJSON(r))
	return nil
}

func (s *Server) loadStorageAccount(c *call) (*galleon.Resource, error) {
	id := storageAccountID(c)
	r, err := s.Store.GetResource(c.ctx, id.String())
	if galleon.ErrorCode(err) == galleon.ENotFound || (err == nil && !strings.EqualFold(r.Type, storage.UserAccountType)) {
		return nil, galleon.ReasonErrorf(galleon.ENotFound, "ResourceNotFound", "The storage account '%s' was not found in resource group '%s'.", id.Name(), id.ResourceGroup)
	}
	return r, err
}

func (s *Server) getStorageAccount(c *call) error {
	if err := s.authorize(c, "Microsoft.Storage/storageAccounts/read", storageAccountID(c).String()); err != nil {
		return err
	}
	r, err := s.loadStorageAccount(c)
	if err != nil {
		return err
	}
	writeJSON(c.w, http.StatusOK, s.storageAccountJSON(r))
	return nil
}

func (s *Server) listStorageAccounts(c *call) error {
	return s.listPage(c, galleon.ResourceFilter{SubscriptionID: c.sub.ID, ResourceGroup: c.v("rg"), Type: storage.UserAccountType}, "",
		func(r *galleon.Resource) (any, bool) { return s.storageAccountJSON(r), true })
}

func (s *Server) deleteStorageAccount(c *call) error {
	if err := s.authorize(c, "Microsoft.Storage/storageAccounts/delete", storageAccountID(c).String()); err != nil {
		return err
	}
	r, err := s.loadStorageAccount(c)
	if galleon.ErrorCode(err) == galleon.ENotFound {
		c.w.WriteHeader(http.StatusNoContent)
		return nil
	} else if err != nil {
		return err
	}
	if err := s.Store.DeleteResource(c.ctx, r.ID); err != nil {
		return err
	}
	c.w.WriteHeader(http.StatusOK)
	return nil
}

// listServiceSas signs a container-scoped SAS for the account's blobs.
func (s *Server) listServiceSas(c *call) error {
	if err := s.authorize(c, "Microsoft.Storage/storageAccounts/listServiceSas/action", storageAccountID(c).String()); err != nil {
		return err
	}
	r, err := s.loadStorageAccount(c)
	if err != nil {
		return err
	}
	var body struct {
		CanonicalizedResource string `json:"canonicalizedResource"`
		SignedResource        string `json:"signedResource"`
		SignedPermission      string `json:"signedPermission"`
		SignedExpiry          string `json:"signedExpiry"`
	}
	if err := s.decodeBody(c, &body); err != nil {
		return err
	}
	// canonicalizedResource is /blob/{account}/{container}.
	parts := strings.Split(strings.Trim(body.CanonicalizedResource, "/"), "/")
	if len(parts) != 3 || parts[0] != "blob" || !strings.EqualFold(parts[1], r.Name) || !strings.EqualFold(body.SignedResource, "c") {
		return (&galleon.Error{Code: galleon.EInvalid, Reason: "InvalidValuesForRequestParameters",
			Message: "Give canonicalizedResource '/blob/" + r.Name + "/{container}' with signedResource 'c'."}).WithTarget("canonicalizedResource")
	}
	expiry, err := time.Parse(time.RFC3339, body.SignedExpiry)
	if err != nil || expiry.Before(s.now()) {
		return (&galleon.Error{Code: galleon.EInvalid, Reason: "InvalidValuesForRequestParameters",
			Message: "signedExpiry must be a future RFC 3339 time like 2030-01-01T00:00:00Z."}).WithTarget("signedExpiry")
	}
	if s.SignContainerSAS == nil {
		return galleon.ReasonErrorf(galleon.ENotImplemented, "UploadNotAvailable", "Blob uploads are not available on this server.")
	}
	writeJSON(c.w, http.StatusOK, map[string]string{"serviceSasToken": s.SignContainerSAS(r.Name, parts[2], body.SignedPermission, expiry)})
	return nil
}
