package storetest

import (
	"context"
	"strings"
	"testing"

	"github.com/galleonhq/galleon"
)

func testReplicas(t *testing.T, open func(t *testing.T) galleon.Store) {
	s := open(t)
	ctx := context.Background()
	img := "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Compute/galleries/g/images/i"
	v1, v10 := img+"/versions/1.0.0", img+"/versions/1.0.0x"
	put := func(r galleon.Replica) {
		t.Helper()
		if err := s.PutReplica(ctx, &r); err != nil {
			t.Fatal(err)
		}
		if r.UpdatedAt.IsZero() {
			t.Fatal("PutReplica did not set UpdatedAt")
		}
	}
	put(galleon.Replica{VersionID: v1, Region: "westus2", Index: 0, StorageAccountType: "Standard_LRS", Account: "westus2-standard-lrs-0", State: galleon.ReplicaReplicating})
	put(galleon.Replica{VersionID: v1, Region: "eastus", Index: 1, StorageAccountType: "Standard_ZRS", Account: "a1", State: galleon.ReplicaCompleted, Progress: 100, StoredBytes: 7, CopiedBytes: 5, EgressBytes: 3, SourceRegion: "westus2", Details: "done"})
	put(galleon.Replica{VersionID: v1, Region: "eastus", Index: 0, StorageAccountType: "Standard_LRS", Account: "a0", State: galleon.ReplicaCompleted, Progress: 100})
	put(galleon.Replica{VersionID: v10, Region: "eastus", Index: 0, StorageAccountType: "Standard_LRS", Account: "b0", State: galleon.ReplicaFailed})

	got, err := s.ListReplicas(ctx, strings.ToUpper(v1))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].Region != "eastus" || got[0].Index != 0 || got[1].Index != 1 || got[2].Region != "westus2" {
		t.Fatalf("replicas of v1 = %+v", got)
	}
	r := got[1]
	if r.StorageAccountType != "Standard_ZRS" || r.Account != "a1" || r.StoredBytes != 7 || r.CopiedBytes != 5 || r.EgressBytes != 3 ||
		r.SourceRegion != "westus2" || r.Details != "done" || r.Progress != 100 || r.VersionID != v1 {
		t.Fatalf("round trip = %+v", r)
	}
	// Replace in place.
	put(galleon.Replica{VersionID: v1, Region: "westus2", Index: 0, StorageAccountType: "Standard_LRS", Account: "westus2-standard-lrs-0", State: galleon.ReplicaCompleted, Progress: 100})
	got, _ = s.ListReplicas(ctx, v1)
	if len(got) != 3 || got[2].State != galleon.ReplicaCompleted {
		t.Fatalf("after replace = %+v", got)
	}
	// Scopes: an image lists both versions; a version does not list a
	// sibling whose name extends its own.
	if all, _ := s.ListReplicas(ctx, img); len(all) != 4 {
		t.Fatalf("replicas under the image = %d", len(all))
	}
	if all, _ := s.ListReplicas(ctx, "/subscriptions/s1"); len(all) != 4 {
		t.Fatalf("replicas under the subscription = %d", len(all))
	}
	if none, _ := s.ListReplicas(ctx, "/subscriptions/s2"); len(none) != 0 {
		t.Fatalf("replicas under another subscription = %d", len(none))
	}
	if err := s.DeleteReplica(ctx, v1, "EASTUS", 1); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteReplica(ctx, v1, "eastus", 1); galleon.ErrorCode(err) != galleon.ENotFound {
		t.Fatalf("second delete: %v", err)
	}
	if got, _ := s.ListReplicas(ctx, v1); len(got) != 2 {
		t.Fatalf("after delete = %+v", got)
	}
}

// testResourceInternal checks that a resource's hidden internal data
// round-trips through create, get, list and update.
func testResourceInternal(t *testing.T, open func(t *testing.T) galleon.Store) {
	s := open(t)
	ctx := context.Background()
	id := "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/galleries/g"
	r := &galleon.Resource{ID: id, Type: "Microsoft.Compute/galleries", Name: "g", SubscriptionID: "s", ResourceGroup: "rg",
		Properties: []byte(`{"a":1}`), Internal: []byte(`{"manifest":"x"}`)}
	if err := s.CreateResource(ctx, r); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetResource(ctx, id)
	if err != nil || string(got.Internal) != `{"manifest":"x"}` {
		t.Fatalf("get: %s %v", got.Internal, err)
	}
	got.Internal = []byte(`{"manifest":"y"}`)
	if err := s.UpdateResource(ctx, got, ""); err != nil {
		t.Fatal(err)
	}
	list, _, err := s.ListResources(ctx, galleon.ResourceFilter{SubscriptionID: "s"})
	if err != nil || len(list) != 1 || string(list[0].Internal) != `{"manifest":"y"}` {
		t.Fatalf("list: %+v %v", list, err)
	}
	bad := *got
	bad.Internal = []byte(`{`)
	if err := s.UpdateResource(ctx, &bad, ""); galleon.ErrorCode(err) != galleon.EInvalid {
		t.Fatalf("invalid internal JSON: %v", err)
	}
}
