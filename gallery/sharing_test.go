package gallery_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/galleonhq/galleon"
	"github.com/galleonhq/galleon/gallery"
	"github.com/galleonhq/galleon/store/sqlite"
)

const (
	shareSub    = "11111111-1111-4111-8111-111111111111"
	otherSub    = "22222222-2222-4222-8222-222222222222"
	otherTenant = "33333333-3333-4333-8333-333333333333"
)

// sharingService is a gallery.Service on a fresh SQLite store with a
// resource group "rg" and deterministic GUIDs.
func sharingService(t *testing.T) (*gallery.Service, galleon.Store) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "galleon.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.CreateResource(ctx, &galleon.Resource{ID: "/subscriptions/" + shareSub + "/resourceGroups/rg", Type: "Microsoft.Resources/resourceGroups",
		Name: "rg", SubscriptionID: shareSub, ResourceGroup: "rg", Location: "eastus"}); err != nil {
		t.Fatal(err)
	}
	n := 0
	return &gallery.Service{Store: st, Regions: galleon.DefaultRegions(), Limits: gallery.DefaultLimits(),
		Now: func() time.Time { return time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC) },
		NewID: func() string {
			n++
			return fmt.Sprintf("00000000-0000-4000-8000-%012d", n)
		}}, st
}

func galleryRef(name string) galleon.ResourceID {
	return galleon.ResourceID{SubscriptionID: shareSub, ResourceGroup: "rg", Namespace: "Microsoft.Compute", Types: []string{"galleries"}, Names: []string{name}}
}

func validInfo() *galleon.CommunityGalleryInfo {
	return &galleon.CommunityGalleryInfo{PublisherURI: "https://contoso.example", PublisherContact: "images@contoso.example",
		Eula: "https://contoso.example/eula", PublicNamePrefix: "Contoso"}
}

func putGallery(t *testing.T, svc *gallery.Service, name string, sp *galleon.SharingProfile) (*galleon.Resource, error) {
	t.Helper()
	r, _, err := svc.PutGallery(context.Background(), galleryRef(name), &gallery.Request[galleon.GalleryProperties]{Location: "eastus",
		Properties: galleon.GalleryProperties{SharingProfile: sp}}, "tester")
	return r, err
}

func sharingOf(t *testing.T, r *galleon.Resource) *galleon.GalleryProperties {
	t.Helper()
	var p galleon.GalleryProperties
	if err := json.Unmarshal(r.Properties, &p); err != nil {
		t.Fatal(err)
	}
	return &p
}

func TestCommunityGalleryInfo(t *testing.T) {
	svc, _ := sharingService(t)
	with := func(f func(ci *galleon.CommunityGalleryInfo)) *galleon.SharingProfile {
		ci := validInfo()
		f(ci)
		return &galleon.SharingProfile{Permissions: "community", CommunityGalleryInfo: ci}
	}
	for _, tc := range []struct {
		name   string
		sp     *galleon.SharingProfile
		target string // "" when valid
	}{
		{"OK", with(func(*galleon.CommunityGalleryInfo) {}), ""},
		{"OKQueryWithoutSecrets", with(func(ci *galleon.CommunityGalleryInfo) { ci.Eula = "https://contoso.example/legal?doc=eula&lang=en" }), ""},
		{"OKLongPrefix", with(func(ci *galleon.CommunityGalleryInfo) { ci.PublicNamePrefix = "Contoso123456789" }), ""},
		{"ErrNoInfo", &galleon.SharingProfile{Permissions: "Community"}, "properties.sharingProfile.communityGalleryInfo"},
		{"ErrNoPublisherURI", with(func(ci *galleon.CommunityGalleryInfo) { ci.PublisherURI = "" }), "properties.sharingProfile.communityGalleryInfo.publisherUri"},
		{"ErrHTTP", with(func(ci *galleon.CommunityGalleryInfo) { ci.PublisherURI = "http://contoso.example" }), "properties.sharingProfile.communityGalleryInfo.publisherUri"},
		{"ErrRelative", with(func(ci *galleon.CommunityGalleryInfo) { ci.Eula = "/eula" }), "properties.sharingProfile.communityGalleryInfo.eula"},
		{"ErrNotURL", with(func(ci *galleon.CommunityGalleryInfo) { ci.Eula = "eula" }), "properties.sharingProfile.communityGalleryInfo.eula"},
		{"ErrUserInfo", with(func(ci *galleon.CommunityGalleryInfo) { ci.Eula = "https://me@contoso.example/eula" }), "properties.sharingProfile.communityGalleryInfo.eula"},
		{"ErrSASSignature", with(func(ci *galleon.CommunityGalleryInfo) { ci.Eula = "https://a.example/c/eula.pdf?SIG=x" }), "properties.sharingProfile.communityGalleryInfo.eula"},
		{"ErrSASVersion", with(func(ci *galleon.CommunityGalleryInfo) {
			ci.Eula = "https://a.example/c/eula.pdf?sv=2022-11-02&se=2030-01-01"
		}), "properties.sharingProfile.communityGalleryInfo.eula"},
		{"ErrPassword", with(func(ci *galleon.CommunityGalleryInfo) { ci.Eula = "https://a.example/eula?Password=x" }), "properties.sharingProfile.communityGalleryInfo.eula"},
		{"ErrAPIKey", with(func(ci *galleon.CommunityGalleryInfo) { ci.Eula = "https://a.example/eula?api_key=x" }), "properties.sharingProfile.communityGalleryInfo.eula"},
		{"ErrClientSecret", with(func(ci *galleon.CommunityGalleryInfo) { ci.PublisherURI = "https://a.example/?client_secret=x" }), "properties.sharingProfile.communityGalleryInfo.publisherUri"},
		{"ErrTokenInFragment", with(func(ci *galleon.CommunityGalleryInfo) { ci.Eula = "https://a.example/eula#id_token=x" }), "properties.sharingProfile.communityGalleryInfo.eula"},
		{"ErrEmailName", with(func(ci *galleon.CommunityGalleryInfo) { ci.PublisherContact = "Images <images@contoso.example>" }), "properties.sharingProfile.communityGalleryInfo.publisherContact"},
		{"ErrEmailNoDomain", with(func(ci *galleon.CommunityGalleryInfo) { ci.PublisherContact = "images@localhost" }), "properties.sharingProfile.communityGalleryInfo.publisherContact"},
		{"ErrEmailNoAt", with(func(ci *galleon.CommunityGalleryInfo) { ci.PublisherContact = "contoso.example" }), "properties.sharingProfile.communityGalleryInfo.publisherContact"},
		{"ErrPrefixShort", with(func(ci *galleon.CommunityGalleryInfo) { ci.PublicNamePrefix = "Cont" }), "properties.sharingProfile.communityGalleryInfo.publicNamePrefix"},
		{"ErrPrefixLong", with(func(ci *galleon.CommunityGalleryInfo) { ci.PublicNamePrefix = "Contoso1234567890" }), "properties.sharingProfile.communityGalleryInfo.publicNamePrefix"},
		{"ErrPrefixDash", with(func(ci *galleon.CommunityGalleryInfo) { ci.PublicNamePrefix = "Con-toso" }), "properties.sharingProfile.communityGalleryInfo.publicNamePrefix"},
		{"ErrPrefixNonASCII", with(func(ci *galleon.CommunityGalleryInfo) { ci.PublicNamePrefix = "Contosö1" }), "properties.sharingProfile.communityGalleryInfo.publicNamePrefix"},
		{"ErrInfoOnGroups", &galleon.SharingProfile{Permissions: "Groups", CommunityGalleryInfo: validInfo()}, "properties.sharingProfile.communityGalleryInfo"},
		{"ErrBadPermission", &galleon.SharingProfile{Permissions: "Public"}, "properties.sharingProfile.permissions"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := putGallery(t, svc, strings.ToLower(tc.name), tc.sp)
			if tc.target == "" {
				if err != nil {
					t.Fatal(err)
				}
				p := sharingOf(t, r)
				if p.SharingProfile.Permissions != galleon.SharingCommunity || p.SharingProfile.CommunityGalleryInfo.CommunityGalleryEnabled {
					t.Fatalf("created = %+v", p.SharingProfile)
				}
				return
			}
			e := galleon.AsError(err)
			if e == nil || e.Code != galleon.EInvalid || e.Target != tc.target {
				t.Fatalf("got %v; want an invalid %s", err, tc.target)
			}
		})
	}
}

func TestSharingPermissionChanges(t *testing.T) {
	ctx := context.Background()
	svc, _ := sharingService(t)
	if _, err := putGallery(t, svc, "g", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := putGallery(t, svc, "c", &galleon.SharingProfile{Permissions: "Community", CommunityGalleryInfo: validInfo()}); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name, gallery, to string
		share             string // a share operation to run first
		reason            string // "" when allowed
	}{
		{"PrivateToGroups", "g", "Groups", "", ""},
		{"GroupsToPrivate", "g", "Private", "", ""},
		{"ErrPrivateToCommunity", "g", "Community", "", "OperationNotAllowed"},
		{"PrivateToGroupsAgain", "g", "Groups", "", ""},
		{"ErrGroupsToPrivateWhileShared", "g", "Private", gallery.SharingAdd, "OperationNotAllowed"},
		{"GroupsToPrivateAfterReset", "g", "Private", gallery.SharingReset, ""},
		{"ErrCommunityToPrivate", "c", "Private", "", "OperationNotAllowed"},
		{"ErrCommunityToGroups", "c", "Groups", "", "OperationNotAllowed"},
		{"CommunityUnchanged", "c", "", "", ""},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if st.share != "" {
				u := &gallery.SharingUpdate{OperationType: st.share}
				if st.share == gallery.SharingAdd {
					u.Groups = []galleon.SharingProfileGroup{{Type: "Subscriptions", IDs: []string{otherSub}}}
				}
				if _, err := svc.Share(ctx, galleryRef(st.gallery), u); err != nil {
					t.Fatal(err)
				}
			}
			_, err := svc.PatchGallery(ctx, galleryRef(st.gallery), nil, &galleon.GalleryProperties{SharingProfile: &galleon.SharingProfile{Permissions: st.to}})
			if galleon.ErrorReason(err) != st.reason && !(st.reason == "" && err == nil) {
				t.Fatalf("got %v; want %q", err, st.reason)
			}
		})
	}
}

func TestShare(t *testing.T) {
	ctx := context.Background()
	svc, st := sharingService(t)
	svc.Limits.Sharing = gallery.SharingLimits{MaxSubscriptions: 2, MaxTenants: 1}
	if _, err := putGallery(t, svc, "g", &galleon.SharingProfile{Permissions: galleon.SharingGroups}); err != nil {
		t.Fatal(err)
	}
	vetoed := false
	svc.Check = func(_ context.Context, r *galleon.Resource) error {
		if vetoed {
			return galleon.ReasonErrorf(galleon.EForbidden, "RequestDisallowedByPolicy", "no sharing")
		}
		return nil
	}
	groups := func(t *testing.T) map[string][]string {
		t.Helper()
		r, err := svc.Get(ctx, galleryRef("g"))
		if err != nil {
			t.Fatal(err)
		}
		out := map[string][]string{}
		for _, g := range sharingOf(t, r).SharingProfile.Groups {
			out[g.Type] = g.IDs
		}
		return out
	}
	subs := func(ids ...string) []galleon.SharingProfileGroup {
		return []galleon.SharingProfileGroup{{Type: "subscriptions", IDs: ids}}
	}
	for _, tc := range []struct {
		name   string
		u      gallery.SharingUpdate
		veto   bool
		reason string
		want   string // the groups after, as "Subscriptions=a,b AADTenants=c"
	}{
		{"AddOneDedup", gallery.SharingUpdate{OperationType: "add", Groups: subs(strings.ToUpper(otherSub), otherSub)}, false, "", "Subscriptions=" + otherSub},
		{"ErrVetoed", gallery.SharingUpdate{OperationType: "Add", Groups: subs(shareSub)}, true, "RequestDisallowedByPolicy", "Subscriptions=" + otherSub},
		{"AddSecond", gallery.SharingUpdate{OperationType: "Add", Groups: subs(shareSub, otherSub)}, false, "", "Subscriptions=" + otherSub + "," + shareSub},
		{"ErrSubscriptionLimit", gallery.SharingUpdate{OperationType: "Add", Groups: subs("44444444-4444-4444-8444-444444444444")}, false, "SharingLimitExceeded", "Subscriptions=" + otherSub + "," + shareSub},
		{"AddTenant", gallery.SharingUpdate{OperationType: "Add", Groups: []galleon.SharingProfileGroup{{Type: "AADTenants", IDs: []string{otherTenant}}}}, false, "",
			"Subscriptions=" + otherSub + "," + shareSub + " AADTenants=" + otherTenant},
		{"ErrTenantLimit", gallery.SharingUpdate{OperationType: "Add", Groups: []galleon.SharingProfileGroup{{Type: "AADTenants", IDs: []string{shareSub}}}}, false, "SharingLimitExceeded",
			"Subscriptions=" + otherSub + "," + shareSub + " AADTenants=" + otherTenant},
		{"ErrBadType", gallery.SharingUpdate{OperationType: "Add", Groups: []galleon.SharingProfileGroup{{Type: "Users", IDs: []string{shareSub}}}}, false, "InvalidParameter",
			"Subscriptions=" + otherSub + "," + shareSub + " AADTenants=" + otherTenant},
		{"ErrBadID", gallery.SharingUpdate{OperationType: "Add", Groups: subs("contoso")}, false, "InvalidParameter", "Subscriptions=" + otherSub + "," + shareSub + " AADTenants=" + otherTenant},
		{"ErrNoIDs", gallery.SharingUpdate{OperationType: "Remove"}, false, "InvalidParameter", "Subscriptions=" + otherSub + "," + shareSub + " AADTenants=" + otherTenant},
		{"ErrBadOperation", gallery.SharingUpdate{OperationType: "Share"}, false, "InvalidParameter", "Subscriptions=" + otherSub + "," + shareSub + " AADTenants=" + otherTenant},
		{"ErrEnableCommunityOnGroups", gallery.SharingUpdate{OperationType: "EnableCommunity"}, false, "OperationNotAllowed", "Subscriptions=" + otherSub + "," + shareSub + " AADTenants=" + otherTenant},
		{"RemoveOneAndUnknown", gallery.SharingUpdate{OperationType: "Remove", Groups: subs(otherSub, "55555555-5555-4555-8555-555555555555")}, false, "", "Subscriptions=" + shareSub + " AADTenants=" + otherTenant},
		{"Reset", gallery.SharingUpdate{OperationType: "Reset"}, false, "", ""},
		{"ErrAddAfterReset", gallery.SharingUpdate{OperationType: "Add", Groups: subs(otherSub)}, false, "OperationNotAllowed", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vetoed = tc.veto
			_, err := svc.Share(ctx, galleryRef("g"), &tc.u)
			if galleon.ErrorReason(err) != tc.reason && !(tc.reason == "" && err == nil) {
				t.Fatalf("got %v; want %q", err, tc.reason)
			}
			var parts []string
			gs := groups(t)
			for _, typ := range []string{"Subscriptions", "AADTenants"} {
				if ids := gs[typ]; len(ids) > 0 {
					parts = append(parts, typ+"="+strings.Join(ids, ","))
				}
			}
			if got := strings.Join(parts, " "); got != tc.want {
				t.Fatalf("groups = %q; want %q", got, tc.want)
			}
		})
	}
	r, _ := svc.Get(ctx, galleryRef("g"))
	if p := sharingOf(t, r); p.SharingProfile.Permissions != galleon.SharingPrivate || p.SharingStatus != nil {
		t.Fatalf("after reset: %+v %+v", p.SharingProfile, p.SharingStatus)
	}
	_ = st
}

// seedVersion stores a version with a completed replica in each region.
func seedVersion(t *testing.T, st galleon.Store, imageID galleon.ResourceID, name string, regions ...string) {
	t.Helper()
	ctx := context.Background()
	id := imageID.String() + "/versions/" + name
	props, _ := json.Marshal(galleon.GalleryImageVersionProperties{ProvisioningState: galleon.ProvisioningSucceeded,
		PublishingProfile: &galleon.VersionPublishingProfile{PublishedDate: "2026-05-01T00:00:00Z"},
		StorageProfile:    &galleon.VersionStorageProfile{OSDiskImage: &galleon.DiskImage{HostCaching: "ReadWrite"}}})
	internal, _ := json.Marshal(galleon.VersionDisks{OSDisk: &galleon.StoredDisk{Manifest: "m", Size: 3 << 30}})
	if err := st.CreateResource(ctx, &galleon.Resource{ID: id, Type: galleon.GalleryImageVersionType, Name: name, SubscriptionID: shareSub,
		ResourceGroup: "rg", Location: regions[0], Properties: props, Internal: internal}); err != nil {
		t.Fatal(err)
	}
	for _, r := range regions {
		if err := st.PutReplica(ctx, &galleon.Replica{VersionID: id, Region: r, StorageAccountType: "Standard_LRS",
			Account: r + "-standard-lrs-0", State: galleon.ReplicaCompleted, Progress: 100}); err != nil {
			t.Fatal(err)
		}
	}
}

func putImage(t *testing.T, svc *gallery.Service, galleryName, name, location string, plan *galleon.ImagePurchasePlan) error {
	t.Helper()
	id := galleryRef(galleryName)
	id.Types, id.Names = append(id.Types, "images"), append(id.Names, name)
	_, _, err := svc.PutImage(context.Background(), id, &gallery.Request[galleon.GalleryImageProperties]{Location: location,
		Properties: galleon.GalleryImageProperties{OSType: "Linux", OSState: "Generalized", PurchasePlan: plan,
			Identifier: &galleon.GalleryImageIdentifier{Publisher: "Contoso", Offer: name, SKU: "1"}}}, "tester")
	return err
}

func TestCommunityLifecycle(t *testing.T) {
	ctx := context.Background()
	svc, st := sharingService(t)
	if _, err := putGallery(t, svc, "pub", &galleon.SharingProfile{Permissions: "Community", CommunityGalleryInfo: validInfo()}); err != nil {
		t.Fatal(err)
	}
	// C7 rules apply from creation, before the gallery is public.
	if err := putImage(t, svc, "pub", "planned", "eastus", &galleon.ImagePurchasePlan{Name: "n", Publisher: "p", Product: "x"}); galleon.ErrorReason(err) != "CommunityGalleryThirdPartyImage" {
		t.Fatalf("purchase plan: %v", err)
	}
	if err := putImage(t, svc, "pub", "west", "westus2", nil); galleon.ErrorReason(err) != "CommunityGalleryRegionMismatch" {
		t.Fatalf("other region: %v", err)
	}
	if err := putImage(t, svc, "pub", "ubuntu", "eastus", nil); err != nil {
		t.Fatal(err)
	}
	img := galleryRef("pub")
	img.Types, img.Names = append(img.Types, "images"), append(img.Names, "ubuntu")
	seedVersion(t, st, img, "1.0.0", "eastus")
	seedVersion(t, st, img, "1.1.0", "eastus", "westus2")
	seedVersion(t, st, img, "2.0.0", "westus2") // stored out of the rules, to test the view
	ref := gallery.PublicRef{Community: true, Gallery: "Contoso-00000000-0000-4000-8000-000000000001", Image: "ubuntu", Region: "eastus"}
	if _, err := svc.PublicGalleryOf(ctx, ref); galleon.ErrorReason(err) != "CommunityGalleryNotFound" {
		t.Fatalf("before enabling: %v", err)
	}
	// Enabling re-checks the content (C7).
	if _, err := svc.Share(ctx, galleryRef("pub"), &gallery.SharingUpdate{OperationType: "EnableCommunity"}); galleon.ErrorReason(err) != "CommunityGalleryRegionMismatch" {
		t.Fatalf("enable with a version elsewhere: %v", err)
	}
	if err := st.DeleteResource(ctx, img.String()+"/versions/2.0.0"); err != nil {
		t.Fatal(err)
	}
	r, err := svc.Share(ctx, galleryRef("pub"), &gallery.SharingUpdate{OperationType: "enablecommunity"})
	if err != nil {
		t.Fatal(err)
	}
	// A name is made only once the content passes, so the refused attempt
	// used no GUID.
	ci := sharingOf(t, r).SharingProfile.CommunityGalleryInfo
	if !ci.CommunityGalleryEnabled || strings.Join(ci.PublicNames, ",") != ref.Gallery {
		t.Fatalf("enabled = %+v", ci)
	}
	if _, err := svc.Share(ctx, galleryRef("pub"), &gallery.SharingUpdate{OperationType: "EnableCommunity"}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		region string
		want   string // versions listed
	}{{"eastus", "1.1.0"}, {"westus2", "1.1.0"}} {
		ref := ref
		ref.Region = tc.region
		vs, err := svc.PublicVersions(ctx, ref)
		var names []string
		for _, v := range vs {
			names = append(names, v.Name)
			if *v.Properties.StorageProfile.OSDiskImage.DiskSizeGB != 3 || v.Type != "Microsoft.Compute/locations/communityGalleryImageVersion" {
				t.Fatalf("version view = %+v", v)
			}
		}
		if err != nil || strings.Join(names, ",") != tc.want {
			t.Fatalf("versions in %s = %v %v", tc.region, names, err)
		}
	}
	ref.Version = "1.0.0"
	if v, err := svc.PublicVersionOf(ctx, ref); err != nil || v.Identifier.UniqueID != "/CommunityGalleries/"+ref.Gallery+"/Images/ubuntu/Versions/1.0.0" {
		t.Fatalf("1.0.0 by name = %+v %v", v, err)
	}
	cat, err := svc.CommunityCatalog(ctx, "")
	if err != nil || len(cat) != 2 || cat[0].Gallery.Location != "eastus" || cat[1].Images[0].Latest.Name != "1.1.0" {
		t.Fatalf("catalog = %+v %v", cat, err)
	}
	// C4: deleting waits for Reset.
	if _, err := svc.BeginDelete(ctx, galleryRef("pub"), galleon.GalleryImageType); galleon.ErrorReason(err) != "CommunityGallerySharingEnabled" {
		t.Fatalf("delete while public: %v", err)
	}
	// Resolve a community ID for a new version, then reset and try again.
	if v, err := svc.ResolvePublicVersion(ctx, "/communitygalleries/"+ref.Gallery+"/images/ubuntu", "westus2", gallery.SharedCaller{}); err != nil || v.Name != "1.1.0" {
		t.Fatalf("resolve latest = %v %v", v, err)
	}
	if _, err := svc.Share(ctx, galleryRef("pub"), &gallery.SharingUpdate{OperationType: "Reset"}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.ResolvePublicVersion(ctx, "/CommunityGalleries/"+ref.Gallery+"/Images/ubuntu/Versions/1.1.0", "eastus", gallery.SharedCaller{}); galleon.ErrorReason(err) != "CommunityGalleryNotFound" {
		t.Fatalf("resolve after reset: %v", err)
	}
	if cat, err := svc.CommunityCatalog(ctx, ""); err != nil || len(cat) != 0 {
		t.Fatalf("catalog after reset = %+v %v", cat, err)
	}
	if _, err := svc.BeginDelete(ctx, galleryRef("pub"), galleon.GalleryImageType); galleon.ErrorReason(err) != "NestedResourcesExist" {
		t.Fatalf("delete after reset: %v", err)
	}
}

func TestSharedViews(t *testing.T) {
	ctx := context.Background()
	svc, st := sharingService(t)
	if _, err := putGallery(t, svc, "g", &galleon.SharingProfile{Permissions: "Groups"}); err != nil {
		t.Fatal(err)
	}
	if err := putImage(t, svc, "g", "ubuntu", "eastus", nil); err != nil {
		t.Fatal(err)
	}
	img := galleryRef("g")
	img.Types, img.Names = append(img.Types, "images"), append(img.Names, "ubuntu")
	seedVersion(t, st, img, "1.0.0", "eastus")
	seedVersion(t, st, img, "2.0.0", "eastus", "japaneast")
	if _, err := svc.Share(ctx, galleryRef("g"), &gallery.SharingUpdate{OperationType: "Add", Groups: []galleon.SharingProfileGroup{
		{Type: "Subscriptions", IDs: []string{otherSub}}, {Type: "AADTenants", IDs: []string{otherTenant}}}}); err != nil {
		t.Fatal(err)
	}
	unique := shareSub + "-G"
	for _, tc := range []struct {
		name     string
		caller   gallery.SharedCaller
		region   string
		byTenant bool
		want     string
	}{
		{"BySubscription", gallery.SharedCaller{SubscriptionID: otherSub}, "eastus", false, unique},
		{"ReplicatedRegion", gallery.SharedCaller{SubscriptionID: otherSub}, "japaneast", false, unique},
		{"OtherRegion", gallery.SharedCaller{SubscriptionID: otherSub}, "westus2", false, ""},
		{"TenantNotAskedFor", gallery.SharedCaller{SubscriptionID: "66666666-6666-4666-8666-666666666666", TenantID: otherTenant}, "eastus", false, ""},
		{"ByTenant", gallery.SharedCaller{SubscriptionID: "66666666-6666-4666-8666-666666666666", TenantID: otherTenant}, "eastus", true, unique},
		{"NotShared", gallery.SharedCaller{SubscriptionID: shareSub, TenantID: "77777777-7777-4777-8777-777777777777"}, "eastus", true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gs, err := svc.ListSharedGalleries(ctx, tc.caller, tc.region, tc.byTenant)
			var names []string
			for _, g := range gs {
				names = append(names, g.Name)
			}
			if err != nil || strings.Join(names, ",") != tc.want {
				t.Fatalf("shared = %v %v; want %q", names, err, tc.want)
			}
		})
	}
	ref := gallery.PublicRef{Gallery: unique, Image: "ubuntu", Region: "eastus", Caller: gallery.SharedCaller{SubscriptionID: otherSub}}
	vs, err := svc.PublicVersions(ctx, ref)
	if err != nil || len(vs) != 2 || vs[1].Identifier.UniqueID != "/SharedGalleries/"+unique+"/Images/ubuntu/Versions/2.0.0" || vs[0].Type != "" {
		t.Fatalf("shared versions (all, not only latest) = %+v %v", vs, err)
	}
	ref.Caller = gallery.SharedCaller{SubscriptionID: shareSub}
	if _, err := svc.PublicImageOf(ctx, ref); galleon.ErrorCode(err) != galleon.ENotFound {
		t.Fatalf("not shared with the caller: %v", err)
	}
	if _, err := svc.ResolvePublicVersion(ctx, "/SharedGalleries/"+unique+"/Images/ubuntu/Versions/latest", "japaneast", gallery.SharedCaller{TenantID: otherTenant}); err != nil {
		t.Fatalf("resolve a shared ID: %v", err)
	}
}

func TestParsePublicID(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     gallery.PublicRef
		bad      bool
	}{
		{"CommunityVersion", "/CommunityGalleries/Contoso-x/Images/ubuntu/Versions/1.0.0", gallery.PublicRef{Community: true, Gallery: "Contoso-x", Image: "ubuntu", Version: "1.0.0"}, false},
		{"CommunityImageMeansLatest", "/communityGalleries/Contoso-x/images/ubuntu", gallery.PublicRef{Community: true, Gallery: "Contoso-x", Image: "ubuntu", Version: "latest"}, false},
		{"Shared", "/SharedGalleries/s-G/Images/i/Versions/latest", gallery.PublicRef{Gallery: "s-G", Image: "i", Version: "latest"}, false},
		{"ErrGalleryOnly", "/CommunityGalleries/Contoso-x", gallery.PublicRef{}, true},
		{"ErrPrivateID", "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/galleries/g", gallery.PublicRef{}, true},
		{"ErrBadKeyword", "/CommunityGalleries/x/Pictures/i/Versions/1.0.0", gallery.PublicRef{}, true},
		{"ErrEmpty", "", gallery.PublicRef{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := gallery.ParsePublicID(tc.in)
			if (err != nil) != tc.bad || got != tc.want {
				t.Fatalf("got %+v %v", got, err)
			}
		})
	}
}

func TestMarkUnsafe(t *testing.T) {
	ctx := context.Background()
	svc, st := sharingService(t)
	if _, err := putGallery(t, svc, "g", nil); err != nil {
		t.Fatal(err)
	}
	if err := putImage(t, svc, "g", "ubuntu", "eastus", nil); err != nil {
		t.Fatal(err)
	}
	img := galleryRef("g")
	img.Types, img.Names = append(img.Types, "images"), append(img.Names, "ubuntu")
	seedVersion(t, st, img, "1.0.0", "eastus")
	vid := img
	vid.Types, vid.Names = append(vid.Types, "versions"), append(vid.Names, "1.0.0")
	if _, err := svc.MarkUnsafe(ctx, vid, &galleon.PolicyViolation{Category: "Malware", Details: "x"}); galleon.ErrorReason(err) != "InvalidParameter" {
		t.Fatalf("bad category: %v", err)
	}
	r, err := svc.MarkUnsafe(ctx, vid, &galleon.PolicyViolation{Category: "imageflaggedunsafe", Details: " miner "})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.CheckUsable(r); galleon.ErrorReason(err) != "ImageVersionReportedForPolicyViolation" || !strings.Contains(err.Error(), "ImageFlaggedUnsafe") {
		t.Fatalf("flagged version usable: %v", err)
	}
	if r, err = svc.MarkUnsafe(ctx, vid, nil); err != nil {
		t.Fatal(err)
	}
	var p galleon.GalleryImageVersionProperties
	_ = json.Unmarshal(r.Properties, &p)
	if p.SafetyProfile.ReportedForPolicyViolation || len(p.SafetyProfile.PolicyViolations) != 0 || svc.CheckUsable(r) != nil {
		t.Fatalf("after lifting: %+v", p.SafetyProfile)
	}
}
