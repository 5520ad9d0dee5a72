package storetest

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/galleonhq/galleon"
)

// stagedIDs describes a staged list as "c:ID" (committed) and "u:ID" entries.
func stagedIDs(list []*galleon.StagedBlock) []string {
	out := make([]string, len(list))
	for i, b := range list {
		kind := "u:"
		if b.Committed {
			kind = "c:"
		}
		out[i] = kind + b.ID
	}
	return out
}

func testStagedBlocks(t *testing.T, open func(t *testing.T) galleon.Store) {
	s := open(t)
	ctx := context.Background()
	digest := func(c byte) string { return strings.Repeat(string(c), 64) }
	list := func(account, container, name string) []*galleon.StagedBlock {
		t.Helper()
		l, err := s.ListStagedBlobBlocks(ctx, account, container, name)
		must(t, err)
		return l
	}

	t.Run("NoneIsEmpty", func(t *testing.T) {
		if l := list("acct", "c1", "nothing"); len(l) != 0 {
			t.Fatalf("staged blocks of an unknown blob = %v, want none", stagedIDs(l))
		}
		must(t, s.ClearStagedBlobBlocks(ctx, "acct", "c1", "nothing"))
	})

	t.Run("StageBeforeBlobExists", func(t *testing.T) {
		a := &galleon.StagedBlock{ID: "QUFB", Size: 5 << 20, Region: "eastus", PieceSize: 4 << 20, Pieces: []string{digest('a'), ""}}
		must(t, s.StageBlobBlock(ctx, "acct", "c1", "Up.vhd", a))
		if a.StagedAt.IsZero() || a.Committed {
			t.Fatalf("StageBlobBlock left StagedAt %v, Committed %v", a.StagedAt, a.Committed)
		}
		must(t, s.StageBlobBlock(ctx, "acct", "c1", "Up.vhd", &galleon.StagedBlock{ID: "QkJC", Size: 10, Region: "eastus", PieceSize: 4 << 20, Pieces: []string{digest('b')}}))
		// Account and container are case-insensitive, the blob name is not.
		l := list("ACCT", "C1", "Up.vhd")
		wantStrings(t, "staged", stagedIDs(l), []string{"u:QUFB", "u:QkJC"})
		got := l[0]
		if got.Size != 5<<20 || got.Region != "eastus" || got.PieceSize != 4<<20 || !slices.Equal(got.Pieces, []string{digest('a'), ""}) {
			t.Fatalf("staged block = %+v, want the fields as staged", got)
		}
		wantTime(t, "StagedAt", got.StagedAt, a.StagedAt)
		if l := list("acct", "c1", "up.vhd"); len(l) != 0 {
			t.Fatalf("blob names are case-sensitive, but up.vhd has %v", stagedIDs(l))
		}
		if _, err := s.GetBlob(ctx, "acct", "c1", "Up.vhd"); galleon.ErrorCode(err) != galleon.ENotFound {
			t.Fatalf("staging created the blob: %v", err)
		}
	})

	t.Run("RestageReplaces", func(t *testing.T) {
		must(t, s.StageBlobBlock(ctx, "acct", "c1", "Up.vhd", &galleon.StagedBlock{ID: "QUFB", Size: 7, Region: "eastus", PieceSize: 4 << 20, Pieces: []string{digest('c')}}))
		l := list("acct", "c1", "Up.vhd")
		wantStrings(t, "staged", stagedIDs(l), []string{"u:QkJC", "u:QUFB"})
		if l[1].Size != 7 || !slices.Equal(l[1].Pieces, []string{digest('c')}) {
			t.Fatalf("restaged block = %+v, want the new content", l[1])
		}
	})

	t.Run("Commit", func(t *testing.T) {
		b := &galleon.Blob{Account: "acct", Container: "c1", Name: "Up.vhd", Kind: galleon.BlockBlob, Region: "eastus",
			Size: 17, BlockSize: 4 << 20, ContentType: "application/x-vhd", Metadata: map[string]string{"k": "v"}}
		committed := []*galleon.StagedBlock{{ID: "QUFB", Size: 7}, {ID: "QkJC", Size: 10, Offset: 7}}
		must(t, s.CommitBlockBlob(ctx, b, []galleon.ManifestBlock{{Index: 0, Digest: digest('d')}}, committed))
		if b.ETag == "" || b.CreatedAt.IsZero() || b.ChangedAt.IsZero() {
			t.Fatalf("CommitBlockBlob did not set ETag/CreatedAt/ChangedAt: %+v", b)
		}
		if !committed[0].Committed || committed[0].StagedAt.IsZero() {
			t.Fatalf("CommitBlockBlob did not mark the committed blocks: %+v", committed[0])
		}
		got, err := s.GetBlob(ctx, "acct", "c1", "Up.vhd")
		must(t, err)
		if got.Kind != galleon.BlockBlob || got.Size != 17 || got.ETag != b.ETag || got.Metadata["k"] != "v" || got.ContentType != "application/x-vhd" {
			t.Fatalf("committed blob = %+v", got)
		}
		blocks, err := s.ListBlobBlocks(ctx, "acct", "c1", "Up.vhd")
		must(t, err)
		if len(blocks) != 1 || blocks[0] != (galleon.ManifestBlock{Index: 0, Digest: digest('d')}) {
			t.Fatalf("block map = %+v", blocks)
		}
		l := list("acct", "c1", "Up.vhd")
		wantStrings(t, "staged after commit", stagedIDs(l), []string{"c:QUFB", "c:QkJC"})
		if l[1].Offset != 7 || l[1].Size != 10 || len(l[1].Pieces) != 0 {
			t.Fatalf("committed block = %+v, want offset 7, size 10, no pieces", l[1])
		}
	})

	t.Run("StageAfterCommit", func(t *testing.T) {
		// An uncommitted block may share its ID with a committed one.
		must(t, s.StageBlobBlock(ctx, "acct", "c1", "Up.vhd", &galleon.StagedBlock{ID: "QUFB", Size: 3, Region: "eastus", PieceSize: 4 << 20, Pieces: []string{""}}))
		wantStrings(t, "staged", stagedIDs(list("acct", "c1", "Up.vhd")), []string{"c:QUFB", "c:QkJC", "u:QUFB"})
	})

	t.Run("CommitReplacesContent", func(t *testing.T) {
		must(t, s.SetBlobBlocks(ctx, "acct", "c1", "Up.vhd", map[int64]string{3: digest('e')}))
		b := &galleon.Blob{Account: "acct", Container: "c1", Name: "Up.vhd", Kind: galleon.BlockBlob, Region: "eastus", Size: 3, BlockSize: 4 << 20}
		// The same block may appear twice in a list.
		must(t, s.CommitBlockBlob(ctx, b, nil, []*galleon.StagedBlock{{ID: "QUFB", Size: 3}, {ID: "QUFB", Size: 3, Offset: 3}}))
		if blocks, _ := s.ListBlobBlocks(ctx, "acct", "c1", "Up.vhd"); len(blocks) != 0 {
			t.Fatalf("commit kept old blocks: %+v", blocks)
		}
		wantStrings(t, "staged", stagedIDs(list("acct", "c1", "Up.vhd")), []string{"c:QUFB", "c:QUFB"})
		if got, _ := s.GetBlob(ctx, "acct", "c1", "Up.vhd"); got == nil || len(got.Metadata) != 0 {
			t.Fatalf("commit kept old metadata: %+v", got)
		}
	})

	t.Run("Clear", func(t *testing.T) {
		must(t, s.StageBlobBlock(ctx, "acct", "c1", "Other", &galleon.StagedBlock{ID: "QUFB", Size: 1, Region: "eastus", PieceSize: 4 << 20, Pieces: []string{digest('f')}}))
		must(t, s.ClearStagedBlobBlocks(ctx, "acct", "c1", "Up.vhd"))
		if l := list("acct", "c1", "Up.vhd"); len(l) != 0 {
			t.Fatalf("after clear = %v", stagedIDs(l))
		}
		wantStrings(t, "other blob's blocks", stagedIDs(list("acct", "c1", "Other")), []string{"u:QUFB"})
		if _, err := s.GetBlob(ctx, "acct", "c1", "Up.vhd"); err != nil {
			t.Fatalf("clearing staged blocks touched the blob: %v", err)
		}
	})
}
