package gallery_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/galleonhq/galleon"
	"github.com/galleonhq/galleon/gallery"
	"github.com/galleonhq/galleon/store/sqlite"
)

// latestVersion is a version TestLatest stores: its name, its state, the
// region of its completed replica, and what keeps it from latest.
type latestVersion struct {
	name, state, region string
	exclude             bool   // excludeFromLatest in the publishing profile
	endOfLife           string // endOfLifeDate
}

func TestLatest(t *testing.T) {
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	ok := func(name string) latestVersion {
		return latestVersion{name: name, state: galleon.ProvisioningSucceeded, region: "eastus"}
	}
	for _, tc := range []struct {
		name     string
		versions []latestVersion
		want     string // "" for LatestVersionNotFound
	}{
		{"HighestByNumberNotText", []latestVersion{ok("1.9.0"), ok("1.10.0"), ok("1.2.0")}, "1.10.0"},
		{"SkipsExcluded", []latestVersion{ok("1.0.0"), {name: "2.0.0", state: galleon.ProvisioningSucceeded, region: "eastus", exclude: true}}, "1.0.0"},
		{"SkipsNotReplicatedHere", []latestVersion{ok("1.0.0"), {name: "2.0.0", state: galleon.ProvisioningSucceeded, region: "westus2"}}, "1.0.0"},
		{"SkipsFailed", []latestVersion{ok("1.0.0"), {name: "2.0.0", state: galleon.ProvisioningFailed, region: "eastus"}}, "1.0.0"},
		{"SkipsPastEndOfLife", []latestVersion{ok("1.0.0"), {name: "2.0.0", state: galleon.ProvisioningSucceeded, region: "eastus", endOfLife: "2026-05-01T00:00:00Z"}}, "1.0.0"},
		{"FirstInIDOrderAmongEqual", []latestVersion{ok("1.2.3"), ok("01.2.3")}, "01.2.3"},
		{"ErrNoneEligible", []latestVersion{{name: "1.0.0", state: galleon.ProvisioningFailed, region: "eastus"}, {name: "2.0.0", state: galleon.ProvisioningSucceeded, region: "westus2"}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "galleon.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			svc := &gallery.Service{Store: st, Regions: galleon.DefaultRegions(), Now: func() time.Time { return now }}
			img := galleon.ResourceID{SubscriptionID: benchSub, ResourceGroup: "rg", Namespace: "Microsoft.Compute",
				Types: []string{"galleries", "images"}, Names: []string{"gal", "img"}}
			if err := st.CreateResource(ctx, &galleon.Resource{ID: img.String(), Type: galleon.GalleryImageType, Name: "img",
				SubscriptionID: benchSub, ResourceGroup: "rg", Location: "eastus", Properties: json.RawMessage(`{}`)}); err != nil {
				t.Fatal(err)
			}
			for _, v := range tc.versions {
				id := img.String() + "/versions/" + v.name
				props, _ := json.Marshal(galleon.GalleryImageVersionProperties{ProvisioningState: v.state,
					PublishingProfile: &galleon.VersionPublishingProfile{ExcludeFromLatest: &v.exclude, EndOfLifeDate: v.endOfLife}})
				if err := st.CreateResource(ctx, &galleon.Resource{ID: id, Type: galleon.GalleryImageVersionType, Name: v.name,
					SubscriptionID: benchSub, ResourceGroup: "rg", Location: "eastus", Properties: props}); err != nil {
					t.Fatal(err)
				}
				if err := st.PutReplica(ctx, &galleon.Replica{VersionID: id, Region: v.region, StorageAccountType: "Standard_LRS",
					Account: v.region + "-standard-lrs-0", State: galleon.ReplicaCompleted, Progress: 100}); err != nil {
					t.Fatal(err)
				}
			}
			got, err := svc.Latest(ctx, img, "eastus")
			if tc.want == "" {
				if galleon.ErrorReason(err) != "LatestVersionNotFound" {
					t.Fatalf("latest = %v, %v; want LatestVersionNotFound", got, err)
				}
				return
			}
			if err != nil || got.Name != tc.want {
				t.Fatalf("latest = %v, %v; want %s", got, err, tc.want)
			}
		})
	}
}
