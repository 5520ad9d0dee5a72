package storage_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"github.com/galleonhq/galleon"
	"github.com/galleonhq/galleon/storage"
)

func TestAccounts(t *testing.T) {
	dir := t.TempDir()
	a := &storage.Accounts{Dir: dir, Regions: []galleon.Region{{Name: "eastus", DisplayName: "East US", Zones: 3}, {Name: "edge", Zones: 1}}}
	ctx := context.Background()
	data := []byte("block")
	sum := sha256.Sum256(data)
	d := hex.EncodeToString(sum[:])

	lrs0, err := a.Open("East US", "standard_lrs", 0)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := a.Open("eastus", "Standard_LRS", 0); again != lrs0 {
		t.Fatal("the same account opened twice is not the same store")
	}
	if err := lrs0.PutBlock(ctx, d, data); err != nil {
		t.Fatal(err)
	}
	lrs1, _ := a.Open("eastus", storage.StandardLRS, 1)
	if _, err := lrs1.StatBlock(ctx, d); galleon.ErrorCode(err) != galleon.ENotFound {
		t.Fatalf("replicas share an account: %v", err)
	}

	z, err := a.Open("eastus", storage.StandardZRS, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := z.PutBlock(ctx, d, data); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		p := filepath.Join(dir, "eastus", "eastus-standard-zrs-0", "zone"+string(rune('0'+i)), d[:2], d[2:4], d)
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("zone %d has no copy: %v", i, err)
		}
	}
	if _, err := a.Open("edge", storage.StandardZRS, 0); galleon.AsError(err) == nil || galleon.AsError(err).Reason != "ZoneRedundancyUnavailable" {
		t.Fatalf("ZRS without zones: %v", err)
	}
	if _, err := a.Open("mars", storage.StandardLRS, 0); galleon.ErrorCode(err) != galleon.EInvalid {
		t.Fatalf("unknown region: %v", err)
	}
	if _, err := storage.SKU("UltraSSD_LRS"); galleon.ErrorCode(err) != galleon.EInvalid {
		t.Fatalf("unknown sku: %v", err)
	}
}
