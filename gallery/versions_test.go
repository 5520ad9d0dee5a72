package gallery_test

import (
	"testing"

	"github.com/galleonhq/galleon"
	"github.com/galleonhq/galleon/gallery"
)

func TestParseVersion(t *testing.T) {
	for name, ok := range map[string]bool{
		"1.0.0": true, "0.0.1": true, "2147483647.0.0": true, "01.2.3": true,
		"1.0": false, "1.0.0.0": false, "a.b.c": false, "1.-1.0": false, "2147483648.0.0": false, "1..0": false, " 1.0.0": false, "1.0.0-beta": false,
	} {
		if _, err := gallery.ParseVersion(name); (err == nil) != ok {
			t.Errorf("%q: err = %v, want ok=%v", name, err, ok)
		}
	}
	a, _ := gallery.ParseVersion("1.10.0")
	b, _ := gallery.ParseVersion("1.9.99")
	if !b.Less(a) || a.Less(b) {
		t.Error("1.9.99 should sort before 1.10.0")
	}
}

func TestReplicas(t *testing.T) {
	two, three, one := 2, 3, 1
	p := &galleon.VersionPublishingProfile{TargetRegions: []galleon.TargetRegion{
		{Name: "westus2", RegionalReplicaCount: &two, StorageAccountType: "Standard_LRS",
			AdditionalReplicaSets: []galleon.AdditionalReplicaSet{{StorageAccountType: "Premium_LRS", RegionalReplicaCount: &one}}},
		{Name: "eastus", RegionalReplicaCount: &three, StorageAccountType: "Standard_ZRS"},
	}}
	got := gallery.Replicas(p)
	want := []gallery.ReplicaSpec{
		{"eastus", 0, "Standard_ZRS", 0}, {"eastus", 1, "Standard_ZRS", 1}, {"eastus", 2, "Standard_ZRS", 2},
		{"westus2", 0, "Standard_LRS", 0}, {"westus2", 1, "Standard_LRS", 1}, {"westus2", 2, "Premium_LRS", 0},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("replica %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}
