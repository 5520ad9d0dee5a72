package storetest

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"testing"

	"github.com/galleonhq/galleon"
)

// newResource returns a resource for id with its envelope fields derived
// from the ID.
func newResource(t *testing.T, id string) *galleon.Resource {
	t.Helper()
	rid, err := galleon.ParseResourceID(id)
	must(t, err)
	return &galleon.Resource{
		ID:             id,
		Type:           rid.Type(),
		Name:           rid.Name(),
		SubscriptionID: rid.SubscriptionID,
		ResourceGroup:  rid.ResourceGroup,
		Location:       "eastus",
		Properties:     json.RawMessage(`{"provisioningState":"Succeeded"}`),
	}
}

func seedResources(t *testing.T, s galleon.Store, ids ...string) {
	t.Helper()
	for _, id := range ids {
		must(t, s.CreateResource(t.Context(), newResource(t, id)))
	}
}

const (
	rg1     = "/subscriptions/S1/resourceGroups/RG1"
	gallery = rg1 + "/providers/Microsoft.Compute/galleries/G1"
)

func testResources(t *testing.T, open Opener) {
	t.Run("CreateGet", func(t *testing.T) {
		s := open(t)
		r := newResource(t, gallery)
		r.Tags = map[string]string{"env": "Dev", "Owner": "ops"}
		r.ManagedBy = "/subscriptions/S1/resourceGroups/other"
		r.CreatedBy = "U-1"
		r.Properties = json.RawMessage(`{"description":"golden images","identifier":{"uniqueName":"x"}}`)
		must(t, s.CreateResource(t.Context(), r))
		if r.ETag == "" || r.CreatedAt.IsZero() || r.ChangedAt.IsZero() {
			t.Fatalf("CreateResource did not set ETag, CreatedAt, ChangedAt: %+v", r)
		}
		if r.ChangedAt.Before(r.CreatedAt) {
			t.Fatalf("ChangedAt %v is before CreatedAt %v", r.ChangedAt, r.CreatedAt)
		}
		got, err := s.GetResource(t.Context(), "/SUBSCRIPTIONS/s1/resourcegroups/rg1/providers/microsoft.compute/GALLERIES/g1")
		must(t, err)
		if got.ID != gallery || got.Type != "Microsoft.Compute/galleries" || got.Name != "G1" || got.SubscriptionID != "S1" ||
			got.ResourceGroup != "RG1" || got.Location != "eastus" || got.ManagedBy != r.ManagedBy || got.CreatedBy != "U-1" ||
			got.ETag != r.ETag {
			t.Fatalf("GetResource = %+v, want %+v", got, r)
		}
		if len(got.Tags) != 2 || got.Tags["env"] != "Dev" || got.Tags["Owner"] != "ops" {
			t.Fatalf("Tags = %v, want %v", got.Tags, r.Tags)
		}
		wantJSON(t, "Properties", got.Properties, r.Properties)
		wantTime(t, "CreatedAt", got.CreatedAt, r.CreatedAt)
		wantTime(t, "ChangedAt", got.ChangedAt, r.ChangedAt)
	})
	t.Run("NoTagsNoProperties", func(t *testing.T) {
		s := open(t)
		r := newResource(t, rg1)
		r.Properties = nil
		must(t, s.CreateResource(t.Context(), r))
		got, err := s.GetResource(t.Context(), rg1)
		must(t, err)
		if len(got.Tags) != 0 || len(got.Properties) != 0 {
			t.Fatalf("GetResource = tags %v, properties %s; want none", got.Tags, got.Properties)
		}
	})
	t.Run("ErrDuplicate", func(t *testing.T) {
		s := open(t)
		seedResources(t, s, gallery)
		err := s.CreateResource(t.Context(), newResource(t, "/subscriptions/s1/resourcegroups/rg1/providers/Microsoft.Compute/galleries/g1"))
		wantCode(t, err, galleon.EConflict)
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		s := open(t)
		seedResources(t, s, gallery)
		_, err := s.GetResource(t.Context(), gallery+"2")
		wantNotFound(t, err)
		wantNotFound(t, s.DeleteResource(t.Context(), gallery+"2"))
		wantNotFound(t, s.UpdateResource(t.Context(), newResource(t, gallery+"2"), ""))
	})
	t.Run("Update", func(t *testing.T) {
		s := open(t)
		r := newResource(t, gallery)
		r.CreatedBy = "U-1"
		must(t, s.CreateResource(t.Context(), r))
		created, firstETag := r.CreatedAt, r.ETag

		u := newResource(t, gallery)
		u.Tags = map[string]string{"env": "prod"}
		u.Properties = json.RawMessage(`{"description":"updated"}`)
		must(t, s.UpdateResource(t.Context(), u, firstETag))
		if u.ETag == "" || u.ETag == firstETag {
			t.Fatalf("UpdateResource set ETag %q; want a new one (was %q)", u.ETag, firstETag)
		}
		if u.ChangedAt.Before(created) {
			t.Fatalf("ChangedAt %v is before CreatedAt %v", u.ChangedAt, created)
		}
		got, err := s.GetResource(t.Context(), gallery)
		must(t, err)
		if got.ETag != u.ETag || got.Tags["env"] != "prod" || got.CreatedBy != "U-1" {
			t.Fatalf("after update: %+v", got)
		}
		wantJSON(t, "Properties", got.Properties, u.Properties)
		wantTime(t, "CreatedAt (kept)", got.CreatedAt, created)
		wantTime(t, "ChangedAt", got.ChangedAt, u.ChangedAt)
	})
	t.Run("UpdateWithoutIfMatch", func(t *testing.T) {
		s := open(t)
		seedResources(t, s, gallery)
		u := newResource(t, gallery)
		u.Location = "westus2"
		must(t, s.UpdateResource(t.Context(), u, ""))
		got, err := s.GetResource(t.Context(), gallery)
		must(t, err)
		if got.Location != "westus2" {
			t.Fatalf("Location = %q, want westus2", got.Location)
		}
	})
	t.Run("UpdateErrStaleETag", func(t *testing.T) {
		s := open(t)
		r := newResource(t, gallery)
		must(t, s.CreateResource(t.Context(), r))
		stale := r.ETag
		must(t, s.UpdateResource(t.Context(), newResource(t, gallery), stale))

		u := newResource(t, gallery)
		u.Location = "japaneast"
		wantCode(t, s.UpdateResource(t.Context(), u, stale), galleon.EPreconditionFailed)
		wantCode(t, s.UpdateResource(t.Context(), u, `"no-such-etag"`), galleon.EPreconditionFailed)
		got, err := s.GetResource(t.Context(), gallery)
		must(t, err)
		if got.Location != "eastus" {
			t.Fatalf("a refused update changed Location to %q", got.Location)
		}
	})
	t.Run("Delete", func(t *testing.T) {
		s := open(t)
		seedResources(t, s, rg1, gallery)
		must(t, s.DeleteResource(t.Context(), "/subscriptions/s1/resourceGroups/rg1/providers/Microsoft.Compute/galleries/g1"))
		_, err := s.GetResource(t.Context(), gallery)
		wantNotFound(t, err)
		if _, err := s.GetResource(t.Context(), rg1); err != nil {
			t.Fatalf("deleting the gallery removed its resource group: %v", err)
		}
	})
	t.Run("DeleteResourcesUnder", func(t *testing.T) {
		s := open(t)
		seedResources(t, s,
			rg1,
			gallery,
			gallery+"/images/I1",
			gallery+"/images/I1/versions/1.0.0",
			"/subscriptions/S1/resourceGroups/RG10",
			"/subscriptions/S1/resourceGroups/RG10/providers/Microsoft.Compute/galleries/G1",
			"/subscriptions/S1/resourceGroups/RG1-old/providers/Microsoft.Compute/galleries/G1",
			"/subscriptions/S2/resourceGroups/RG1/providers/Microsoft.Compute/galleries/G1",
		)
		n, err := s.DeleteResourcesUnder(t.Context(), "/subscriptions/s1/resourcegroups/rg1")
		must(t, err)
		if n != 3 {
			t.Fatalf("DeleteResourcesUnder removed %d resources, want 3", n)
		}
		left, _, err := s.ListResources(t.Context(), galleon.ResourceFilter{})
		must(t, err)
		wantStrings(t, "resources left", ids(left), []string{
			rg1,
			"/subscriptions/S1/resourceGroups/RG1-old/providers/Microsoft.Compute/galleries/G1",
			"/subscriptions/S1/resourceGroups/RG10",
			"/subscriptions/S1/resourceGroups/RG10/providers/Microsoft.Compute/galleries/G1",
			"/subscriptions/S2/resourceGroups/RG1/providers/Microsoft.Compute/galleries/G1",
		})
		n, err = s.DeleteResourcesUnder(t.Context(), rg1)
		must(t, err)
		if n != 0 {
			t.Fatalf("second DeleteResourcesUnder removed %d, want 0", n)
		}
	})
}

// ids returns the IDs of rs in order.
func ids(rs []*galleon.Resource) []string {
	out := make([]string, 0, len(rs))
	for _, r := range rs {
		out = append(out, r.ID)
	}
	return out
}

// byKey sorts IDs as ListResources orders them: by normalized ID.
func byKey(ids ...string) []string {
	out := slices.Clone(ids)
	sort.Slice(out, func(i, j int) bool { return galleon.NormalizeScope(out[i]) < galleon.NormalizeScope(out[j]) })
	return out
}

func testListResources(t *testing.T, open Opener) {
	const (
		rgA    = "/subscriptions/S1/resourceGroups/rg1"
		galA   = rgA + "/providers/Microsoft.Compute/galleries/g1"
		imgA   = galA + "/images/img1"
		rgB    = "/subscriptions/S1/resourceGroups/rg10"
		galB   = rgB + "/providers/Microsoft.Compute/galleries/g2"
		rgU    = "/subscriptions/S1/resourceGroups/rg_1"
		galU   = rgU + "/providers/Microsoft.Compute/galleries/g_%"
		diskS2 = "/subscriptions/S2/resourceGroups/RG1/providers/Microsoft.Compute/disks/d1"
	)
	all := []string{rgA, galA, imgA, rgB, galB, rgU, galU, diskS2}
	s := open(t)
	seedResources(t, s, all...)

	for _, tc := range []struct {
		name string
		f    galleon.ResourceFilter
		want []string
	}{
		{"All", galleon.ResourceFilter{}, all},
		{"Subscription", galleon.ResourceFilter{SubscriptionID: "s1"}, []string{rgA, galA, imgA, rgB, galB, rgU, galU}},
		{"ResourceGroup", galleon.ResourceFilter{SubscriptionID: "S1", ResourceGroup: "RG1"}, []string{rgA, galA, imgA}},
		{"TypeCaseInsensitive", galleon.ResourceFilter{Type: "microsoft.compute/GALLERIES"}, []string{galA, galB, galU}},
		{"SubscriptionAndType", galleon.ResourceFilter{SubscriptionID: "S2", Type: "Microsoft.Compute/disks"}, []string{diskS2}},
		{"UnderResourceGroupStrictly", galleon.ResourceFilter{Under: "/subscriptions/s1/resourcegroups/RG1"}, []string{galA, imgA}},
		{"UnderGallery", galleon.ResourceFilter{Under: galA}, []string{imgA}},
		{"UnderTrailingSlash", galleon.ResourceFilter{Under: rgA + "/"}, []string{galA, imgA}},
		{"UnderUnderscoreName", galleon.ResourceFilter{Under: rgU}, []string{galU}},
		{"UnderUnderscoreIsNotWildcard", galleon.ResourceFilter{Under: "/subscriptions/S1/resourceGroups/rg_"}, nil},
		{"UnderPercentIsNotWildcard", galleon.ResourceFilter{Under: "/subscriptions/S1/resourceGroups/rg%"}, nil},
		{"UnderSubscription", galleon.ResourceFilter{Under: "/subscriptions/S2"}, []string{diskS2}},
		{"UnderRoot", galleon.ResourceFilter{Under: "/"}, all},
		{"UnderLeaf", galleon.ResourceFilter{Under: imgA}, nil},
		{"UnderAndType", galleon.ResourceFilter{Under: "/subscriptions/S1", Type: "Microsoft.Resources/resourceGroups"}, []string{rgA, rgB, rgU}},
		{"ExcludeTypes", galleon.ResourceFilter{SubscriptionID: "S1", ExcludeTypes: []string{"microsoft.resources/resourcegroups", "Microsoft.Compute/galleries/images"}}, []string{galA, galB, galU}},
		{"After", galleon.ResourceFilter{SubscriptionID: "S1", After: galleon.NormalizeScope(rgB)}, []string{galB, rgU, galU}},
		{"NoMatch", galleon.ResourceFilter{Type: "Microsoft.Compute/virtualMachines"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, next, err := s.ListResources(t.Context(), tc.f)
			must(t, err)
			wantStrings(t, "IDs", ids(got), byKey(tc.want...))
			if next != "" {
				t.Fatalf("next token = %q without a Limit, want \"\"", next)
			}
		})
	}

	t.Run("Paging", func(t *testing.T) {
		s := open(t)
		var want []string
		for i := range 25 {
			want = append(want, fmt.Sprintf("%s/providers/Microsoft.Compute/galleries/g%02d", rgA, i))
		}
		seedResources(t, s, want...)
		seedResources(t, s, rgA, rgB+"/providers/Microsoft.Compute/galleries/other")
		for _, limit := range []int{1, 5, 10, 24, 25, 26} {
			t.Run(fmt.Sprintf("Limit%d", limit), func(t *testing.T) {
				var got []string
				f := galleon.ResourceFilter{Under: rgA, Limit: limit}
				for pages := 0; ; pages++ {
					if pages > 30 {
						t.Fatal("paging does not end")
					}
					page, next, err := s.ListResources(t.Context(), f)
					must(t, err)
					if len(page) > limit {
						t.Fatalf("page has %d resources, over the limit %d", len(page), limit)
					}
					got = append(got, ids(page)...)
					if next == "" {
						break
					}
					if len(page) != limit {
						t.Fatalf("a page with a next token has %d resources, want %d", len(page), limit)
					}
					if last := galleon.NormalizeScope(page[len(page)-1].ID); next != last {
						t.Fatalf("next token = %q, want the normalized ID of the page's last resource %q", next, last)
					}
					f.After = next
				}
				wantStrings(t, "IDs over all pages", got, byKey(want...))
			})
		}
		t.Run("FinalPageHasNoToken", func(t *testing.T) {
			page, next, err := s.ListResources(t.Context(), galleon.ResourceFilter{Under: rgA, Limit: 5, After: galleon.NormalizeScope(want[19])})
			must(t, err)
			if len(page) != 5 || next != "" {
				t.Fatalf("last page: %d resources, token %q; want 5 and \"\"", len(page), next)
			}
		})
	})
}
