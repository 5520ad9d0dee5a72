package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/galleonhq/galleon"
)

// testAllBlobBlocks checks ListAllBlobBlocks and ListAllStagedBlobBlocks,
// which garbage collection walks to find the blocks blobs still need.
func testAllBlobBlocks(t *testing.T, open func(t *testing.T) galleon.Store) {
	ctx := context.Background()
	digest := func(c byte) string { return strings.Repeat(string(c), 64) }
	allBlocks := func(t *testing.T, s galleon.Store) []string {
		t.Helper()
		var out []string
		must(t, s.ListAllBlobBlocks(ctx, func(account, container, name string, b galleon.ManifestBlock) error {
			out = append(out, fmt.Sprintf("%s/%s/%s:%d:%c", account, container, name, b.Index, b.Digest[0]))
			return nil
		}))
		return out
	}
	allStaged := func(t *testing.T, s galleon.Store) []string {
		t.Helper()
		var out []string
		must(t, s.ListAllStagedBlobBlocks(ctx, func(account, container, name string, b *galleon.StagedBlock) error {
			e := fmt.Sprintf("%s/%s/%s:", account, container, name)
			if b.Committed {
				e += fmt.Sprintf("c:%s@%d", b.ID, b.Offset)
			} else {
				var ps []string
				for _, p := range b.Pieces {
					if p == "" {
						ps = append(ps, "0")
					} else {
						ps = append(ps, p[:1])
					}
				}
				e += fmt.Sprintf("u:%s@%s[%s]", b.ID, b.Region, strings.Join(ps, ","))
			}
			if b.StagedAt.IsZero() {
				t.Fatalf("staged block %s has no StagedAt", e)
			}
			out = append(out, e)
			return nil
		}))
		return out
	}

	t.Run("Empty", func(t *testing.T) {
		s := open(t)
		if got := allBlocks(t, s); len(got) != 0 {
			t.Fatalf("blocks of an empty store = %q, want none", got)
		}
		if got := allStaged(t, s); len(got) != 0 {
			t.Fatalf("staged blocks of an empty store = %q, want none", got)
		}
	})

	t.Run("BlockMaps", func(t *testing.T) {
		s := open(t)
		for _, n := range []string{"One.vhd", "dir/Two.vhd", "Gone.vhd"} {
			must(t, s.PutBlob(ctx, &galleon.Blob{Account: "MD-Abc", Container: "Up", Name: n, Kind: galleon.PageBlob,
				Region: "eastus", Size: 16 << 20, BlockSize: 4 << 20}))
		}
		must(t, s.SetBlobBlocks(ctx, "md-abc", "up", "One.vhd", map[int64]string{0: digest('a'), 3: digest('b')}))
		must(t, s.SetBlobBlocks(ctx, "md-abc", "up", "One.vhd", map[int64]string{0: ""})) // now zero
		must(t, s.SetBlobBlocks(ctx, "md-abc", "up", "dir/Two.vhd", map[int64]string{1: digest('b'), 2: digest('c')}))
		must(t, s.SetBlobBlocks(ctx, "md-abc", "up", "Gone.vhd", map[int64]string{0: digest('d')}))
		must(t, s.DeleteBlob(ctx, "md-abc", "up", "Gone.vhd"))
		must(t, s.CommitBlockBlob(ctx, &galleon.Blob{Account: "st1", Container: "c", Name: "img.vhd", Kind: galleon.BlockBlob,
			Region: "westus2", Size: 8 << 20, BlockSize: 4 << 20}, []galleon.ManifestBlock{{Index: 1, Digest: digest('e')}}, nil))
		wantSet(t, "blocks", allBlocks(t, s), []string{
			"MD-Abc/Up/One.vhd:3:b", "MD-Abc/Up/dir/Two.vhd:1:b", "MD-Abc/Up/dir/Two.vhd:2:c", "st1/c/img.vhd:1:e",
		})
	})

	t.Run("Staged", func(t *testing.T) {
		s := open(t)
		// Staged before the blob exists: named by the blob's key.
		must(t, s.StageBlobBlock(ctx, "Acct", "C1", "New.vhd", &galleon.StagedBlock{ID: "QUFB", Size: 5 << 20, Region: "eastus",
			PieceSize: 4 << 20, Pieces: []string{digest('a'), ""}}))
		must(t, s.StageBlobBlock(ctx, "Acct", "C1", "New.vhd", &galleon.StagedBlock{ID: "QkJC", Size: 10, Region: "eastus",
			PieceSize: 4 << 20, Pieces: []string{digest('b')}}))
		// A blob with a committed list and one uncommitted block.
		must(t, s.CommitBlockBlob(ctx, &galleon.Blob{Account: "Acct", Container: "C1", Name: "Old.vhd", Kind: galleon.BlockBlob,
			Region: "eastus", Size: 7, BlockSize: 4 << 20}, []galleon.ManifestBlock{{Index: 0, Digest: digest('c')}},
			[]*galleon.StagedBlock{{ID: "Q0ND", Size: 7}}))
		must(t, s.StageBlobBlock(ctx, "acct", "c1", "Old.vhd", &galleon.StagedBlock{ID: "RERE", Size: 3, Region: "westus2",
			PieceSize: 4 << 20, Pieces: []string{digest('d')}}))
		// Cleared blocks are gone.
		must(t, s.StageBlobBlock(ctx, "acct", "c1", "Dropped.vhd", &galleon.StagedBlock{ID: "RUVF", Size: 3, Region: "eastus",
			PieceSize: 4 << 20, Pieces: []string{digest('e')}}))
		must(t, s.ClearStagedBlobBlocks(ctx, "acct", "c1", "Dropped.vhd"))

		got := allStaged(t, s)
		wantSet(t, "staged", got, []string{
			"acct/c1/New.vhd:u:QUFB@eastus[a,0]", "acct/c1/New.vhd:u:QkJC@eastus[b]",
			"Acct/C1/Old.vhd:c:Q0ND@0", "Acct/C1/Old.vhd:u:RERE@westus2[d]",
		})
		// Blob by blob, each in ListStagedBlobBlocks order.
		var old []string
		for _, e := range got {
			if strings.HasPrefix(e, "Acct/C1/Old.vhd:") {
				old = append(old, e)
			}
		}
		wantStrings(t, "staged blocks of Old.vhd", old, []string{"Acct/C1/Old.vhd:c:Q0ND@0", "Acct/C1/Old.vhd:u:RERE@westus2[d]"})
		var news []string
		for _, e := range got {
			if strings.HasPrefix(e, "acct/c1/New.vhd:") {
				news = append(news, e)
			}
		}
		wantStrings(t, "staged blocks of New.vhd", news, []string{"acct/c1/New.vhd:u:QUFB@eastus[a,0]", "acct/c1/New.vhd:u:QkJC@eastus[b]"})
	})

	t.Run("StopsAtError", func(t *testing.T) {
		s := open(t)
		must(t, s.PutBlob(ctx, &galleon.Blob{Account: "a", Container: "c", Name: "b", Kind: galleon.PageBlob, Region: "eastus",
			Size: 8 << 20, BlockSize: 4 << 20}))
		must(t, s.SetBlobBlocks(ctx, "a", "c", "b", map[int64]string{0: digest('a'), 1: digest('b')}))
		for _, id := range []string{"QUFB", "QkJC"} {
			must(t, s.StageBlobBlock(ctx, "a", "c", "s", &galleon.StagedBlock{ID: id, Size: 1, Region: "eastus",
				PieceSize: 4 << 20, Pieces: []string{digest('c')}}))
		}
		stop := errors.New("stop here")
		calls := 0
		err := s.ListAllBlobBlocks(ctx, func(string, string, string, galleon.ManifestBlock) error { calls++; return stop })
		if !errors.Is(err, stop) || calls != 1 {
			t.Fatalf("ListAllBlobBlocks with a failing fn = %v after %d calls, want fn's error after 1", err, calls)
		}
		calls = 0
		err = s.ListAllStagedBlobBlocks(ctx, func(string, string, string, *galleon.StagedBlock) error { calls++; return stop })
		if !errors.Is(err, stop) || calls != 1 {
			t.Fatalf("ListAllStagedBlobBlocks with a failing fn = %v after %d calls, want fn's error after 1", err, calls)
		}
		// A stopped listing leaves nothing behind: the next one sees all.
		wantStrings(t, "blocks after a stopped listing", allBlocks(t, s), []string{"a/c/b:0:a", "a/c/b:1:b"})
	})
}
