package storetest

import (
	"context"
	"testing"

	"github.com/galleonhq/galleon"
)

func testBlobs(t *testing.T, open func(t *testing.T) galleon.Store) {
	s := open(t)
	ctx := context.Background()
	b := &galleon.Blob{Account: "md-abc", Container: "c1", Name: "Disk.vhd", Kind: galleon.PageBlob, Region: "eastus",
		Size: 12 << 20, BlockSize: 4 << 20, Metadata: map[string]string{"k": "v"}}
	if err := s.PutBlob(ctx, b); err != nil {
		t.Fatal(err)
	}
	if b.ETag == "" || b.CreatedAt.IsZero() {
		t.Fatalf("PutBlob did not set ETag/CreatedAt: %+v", b)
	}
	got, err := s.GetBlob(ctx, "MD-ABC", "C1", "Disk.vhd")
	if err != nil || got.Size != b.Size || got.Metadata["k"] != "v" || got.Kind != galleon.PageBlob || got.Region != "eastus" || got.ETag != b.ETag {
		t.Fatalf("get = %+v, %v", got, err)
	}
	if _, err := s.GetBlob(ctx, "md-abc", "c1", "disk.vhd"); galleon.ErrorCode(err) != galleon.ENotFound {
		t.Fatalf("blob names are case-sensitive: %v", err)
	}
	d := func(c byte) string {
		x := make([]byte, 64)
		for i := range x {
			x[i] = c
		}
		return string(x)
	}
	if err := s.SetBlobBlocks(ctx, "md-abc", "c1", "Disk.vhd", map[int64]string{0: d('a'), 2: d('c')}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetBlobBlocks(ctx, "md-abc", "c1", "Disk.vhd", map[int64]string{0: "", 1: d('b')}); err != nil {
		t.Fatal(err)
	}
	blocks, err := s.ListBlobBlocks(ctx, "md-abc", "c1", "Disk.vhd")
	if err != nil || len(blocks) != 2 || blocks[0].Index != 1 || blocks[0].Digest != d('b') || blocks[1].Index != 2 {
		t.Fatalf("blocks = %+v, %v", blocks, err)
	}
	if after, _ := s.GetBlob(ctx, "md-abc", "c1", "Disk.vhd"); after.ETag == b.ETag {
		t.Fatal("writing blocks did not change the ETag")
	}
	if err := s.SetBlobBlocks(ctx, "md-abc", "c1", "nope", map[int64]string{0: d('a')}); galleon.ErrorCode(err) != galleon.ENotFound {
		t.Fatalf("blocks of a missing blob: %v", err)
	}
	// Shrinking drops blocks past the end; sealing is kept.
	got.Size, got.Sealed = 8<<20, true
	if err := s.UpdateBlob(ctx, got); err != nil {
		t.Fatal(err)
	}
	blocks, _ = s.ListBlobBlocks(ctx, "md-abc", "c1", "Disk.vhd")
	if len(blocks) != 1 || blocks[0].Index != 1 {
		t.Fatalf("after shrink = %+v", blocks)
	}
	if g, _ := s.GetBlob(ctx, "md-abc", "c1", "Disk.vhd"); !g.Sealed || g.Size != 8<<20 {
		t.Fatalf("after update = %+v", g)
	}
	// Replacing the blob drops its content.
	if err := s.PutBlob(ctx, &galleon.Blob{Account: "md-abc", Container: "c1", Name: "Disk.vhd", Kind: galleon.PageBlob, Region: "eastus", Size: 4 << 20, BlockSize: 4 << 20}); err != nil {
		t.Fatal(err)
	}
	if blocks, _ := s.ListBlobBlocks(ctx, "md-abc", "c1", "Disk.vhd"); len(blocks) != 0 {
		t.Fatalf("after replace = %+v", blocks)
	}
	if err := s.DeleteBlob(ctx, "md-abc", "c1", "Disk.vhd"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteBlob(ctx, "md-abc", "c1", "Disk.vhd"); galleon.ErrorCode(err) != galleon.ENotFound {
		t.Fatalf("second delete: %v", err)
	}
	if err := s.UpdateBlob(ctx, got); galleon.ErrorCode(err) != galleon.ENotFound {
		t.Fatalf("update of a deleted blob: %v", err)
	}
}
