package gc_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/galleonhq/galleon"
	"github.com/galleonhq/galleon/blob/localfs"
	"github.com/galleonhq/galleon/compute"
	"github.com/galleonhq/galleon/gc"
	"github.com/galleonhq/galleon/storage"
)

// TestSweepKeepsReferencedBlocks replicates a version to three accounts
// (one zone-redundant), records a disk, a snapshot and a managed image,
// and checks that a pass past the grace period removes exactly the blocks
// nothing references, from every account and every zone.
func TestSweepKeepsReferencedBlocks(t *testing.T) {
	e := newEnv(t)
	east := e.open("eastus", storage.StandardLRS, 0)
	west := e.open("westus2", storage.StandardLRS, 0)
	eastZRS := e.open("eastus", storage.StandardZRS, 0)

	osDisk, osBlocks := e.disk(east, "os")
	dataDisk, dataBlocks := e.disk(east, "data")
	for _, dst := range []galleon.BlockStore{west, eastZRS} {
		e.copyDisk(east, dst, osDisk)
		e.copyDisk(east, dst, dataDisk)
	}
	e.version(version, galleon.ProvisioningSucceeded, []string{osDisk, dataDisk},
		"eastus-standard-lrs-0", "westus2-standard-lrs-0", "eastus-standard-zrs-0")
	diskManifest, diskBlocks := e.disk(west, "managed disk")
	e.compute(compute.DiskType, "d1", "westus2", diskManifest)
	e.compute(compute.SnapshotType, "s1", "westus2", diskManifest)
	imageManifest, imageBlocks := e.disk(east, "managed image")
	e.compute(compute.ImageType, "i1", "eastus", imageManifest)

	junk := map[string]galleon.BlockStore{
		e.garbage(east, "east"):          east,
		e.garbage(west, "west"):          west,
		e.garbage(eastZRS, "every zone"): eastZRS,
	}
	// A block left in one zone only (a write that failed halfway).
	zone2 := e.zone("eastus", 0, 2)
	oneZone := e.garbage(zone2, "zone 2 only")

	e.clock.Advance(2 * time.Hour)
	st := e.run()
	wantStats(t, st, gc.Stats{BlocksMarked: 20, BlocksSwept: 4, BytesSwept: 4 * blockSize, Accounts: 3})

	for name, bs := range map[string]galleon.BlockStore{"eastus LRS": east, "westus2 LRS": west, "eastus ZRS": eastZRS} {
		e.want(name+" version disks", bs, true, append(osBlocks, dataBlocks...)...)
	}
	for z := 1; z <= 3; z++ {
		e.want("eastus ZRS zone", e.zone("eastus", 0, z), true, append(osBlocks, dataBlocks...)...)
		e.want("eastus ZRS zone", e.zone("eastus", 0, z), false, oneZone)
	}
	e.want("managed disk and snapshot", west, true, diskBlocks...)
	e.want("managed image", east, true, imageBlocks...)
	for d, bs := range junk {
		e.want("garbage", bs, false, d)
	}
	for z := 1; z <= 3; z++ {
		for d := range junk {
			e.want("garbage in a zone", e.zone("eastus", 0, z), false, d)
		}
	}

	// Nothing is left to sweep.
	wantStats(t, e.run(), gc.Stats{BlocksMarked: 20, Accounts: 3})
}

// TestYoungBlocksSurvive is the race a collector must not lose: a write
// puts its blocks, a pass runs before the write commits its reference, and
// the write then commits. The blocks must still be there, and stay once
// referenced.
func TestYoungBlocksSurvive(t *testing.T) {
	e := newEnv(t)
	east := e.open("eastus", storage.StandardLRS, 0)

	manifestDigest, blocks := e.disk(east, "in flight") // written, not yet referenced
	junk := e.garbage(east, "junk")

	e.clock.Advance(30 * time.Minute)
	wantStats(t, e.run(), gc.Stats{BlocksKept: 6, Accounts: 1})
	e.want("uncommitted write", east, true, blocks...)

	// The write commits its reference after the pass.
	e.version(version, galleon.ProvisioningSucceeded, []string{manifestDigest}, "eastus-standard-lrs-0")
	e.want("committed write", east, true, blocks...)

	e.clock.Advance(2 * time.Hour)
	wantStats(t, e.run(), gc.Stats{BlocksMarked: 5, BlocksSwept: 1, BytesSwept: blockSize, Accounts: 1})
	e.want("referenced", east, true, blocks...)
	e.want("unreferenced", east, false, junk)
}

// TestGraceBoundary pins the cutoff: a block exactly Grace old stays, one
// a nanosecond older goes.
func TestGraceBoundary(t *testing.T) {
	e := newEnv(t)
	east := e.open("eastus", storage.StandardLRS, 0)
	junk := e.garbage(east, "junk")

	e.clock.Advance(time.Hour)
	wantStats(t, e.run(), gc.Stats{BlocksKept: 1, Accounts: 1})
	e.want("exactly grace old", east, true, junk)

	e.clock.Advance(time.Nanosecond)
	wantStats(t, e.run(), gc.Stats{BlocksSwept: 1, BytesSwept: blockSize, Accounts: 1})
	e.want("older than grace", east, false, junk)
}

// TestReputRefreshes checks that re-putting a present block (what writers
// do before referencing it) restarts its grace period.
func TestReputRefreshes(t *testing.T) {
	e := newEnv(t)
	east := e.open("eastus", storage.StandardLRS, 0)
	junk := e.garbage(east, "junk")
	e.clock.Advance(50 * time.Minute)
	e.garbage(east, "junk") // re-put: a new write is about to use it
	e.clock.Advance(50 * time.Minute)
	wantStats(t, e.run(), gc.Stats{BlocksKept: 1, Accounts: 1})
	e.want("re-put", east, true, junk)
}

// TestBlobBlocksSurvive checks that blocks named only by a blob's block
// map or by an uncommitted staged block are kept, and collected once the
// blob or the staged block is gone.
func TestBlobBlocksSurvive(t *testing.T) {
	e := newEnv(t)
	ctx := e.ctx
	east := e.open("eastus", storage.StandardLRS, 0)
	west := e.open("westus2", storage.StandardLRS, 0)

	page := e.garbage(east, "page blob block")
	b := &galleon.Blob{Account: "md-123", Container: "upload", Name: "abcd", Kind: galleon.PageBlob, Region: "eastus",
		Size: 2 * blockSize, BlockSize: blockSize}
	must(t, e.store.PutBlob(ctx, b))
	must(t, e.store.SetBlobBlocks(ctx, "md-123", "upload", "abcd", map[int64]string{1: page}))

	committed := e.garbage(west, "block blob block")
	must(t, e.store.CommitBlockBlob(ctx, &galleon.Blob{Account: "st", Container: "vhds", Name: "os.vhd", Kind: galleon.BlockBlob,
		Region: "westus2", Size: blockSize, BlockSize: blockSize}, []galleon.ManifestBlock{{Index: 0, Digest: committed}},
		[]*galleon.StagedBlock{{ID: "QUFB", Size: blockSize}}))

	piece := e.garbage(west, "staged piece")
	must(t, e.store.StageBlobBlock(ctx, "st", "vhds", "data.vhd", &galleon.StagedBlock{ID: "QkJC", Size: 2 * blockSize,
		Region: "westus2", PieceSize: blockSize, Pieces: []string{piece, ""}}))

	junk := e.garbage(east, "junk")
	e.clock.Advance(2 * time.Hour)
	wantStats(t, e.run(), gc.Stats{BlocksMarked: 3, BlocksSwept: 1, BytesSwept: blockSize, Accounts: 2})
	e.want("page blob", east, true, page)
	e.want("block blob", west, true, committed)
	e.want("staged block", west, true, piece)
	e.want("junk", east, false, junk)

	must(t, e.store.DeleteBlob(ctx, "md-123", "upload", "abcd"))
	must(t, e.store.DeleteBlob(ctx, "st", "vhds", "os.vhd"))
	must(t, e.store.ClearStagedBlobBlocks(ctx, "st", "vhds", "data.vhd"))
	wantStats(t, e.run(), gc.Stats{BlocksSwept: 3, BytesSwept: 3 * blockSize, Accounts: 2})
	e.want("deleted page blob", east, false, page)
	e.want("deleted block blob and staged block", west, false, committed, piece)
}

// TestMissingManifestAborts checks that a pass that cannot load a
// referenced manifest from any account deletes nothing and says which
// resource names it.
func TestMissingManifestAborts(t *testing.T) {
	e := newEnv(t)
	east := e.open("eastus", storage.StandardLRS, 0)
	west := e.open("westus2", storage.StandardLRS, 0)
	good, goodBlocks := e.disk(east, "good")
	e.version(version, galleon.ProvisioningSucceeded, []string{good}, "eastus-standard-lrs-0")
	lost := digestOf([]byte("a manifest that was never stored"))
	diskID := e.compute(compute.DiskType, "lost", "westus2", lost)
	junkEast, junkWest := e.garbage(east, "junk"), e.garbage(west, "junk")

	e.clock.Advance(2 * time.Hour)
	st, err := e.gc.RunOnce(e.ctx)
	if err == nil {
		t.Fatal("RunOnce succeeded with a referenced manifest missing everywhere")
	}
	ge := galleon.AsError(err)
	if ge == nil || ge.Reason != gc.ReasonManifestMissing || !strings.Contains(ge.Message, diskID) || !strings.Contains(ge.Message, lost) {
		t.Fatalf("error = %v, want reason %s naming %s and %s", err, gc.ReasonManifestMissing, diskID, lost)
	}
	if st.BlocksSwept != 0 || st.Accounts != 0 {
		t.Fatalf("stats = %+v, want nothing swept", st)
	}
	e.want("junk after an aborted pass", east, true, junkEast)
	e.want("junk after an aborted pass", west, true, junkWest)
	e.want("referenced", east, true, goodBlocks...)
}

// TestManifestFoundInAnyAccount checks that a manifest absent from (or
// damaged in) the accounts the resource points at is looked for in the
// others before the pass gives up.
func TestManifestFoundInAnyAccount(t *testing.T) {
	e := newEnv(t)
	east := e.open("eastus", storage.StandardLRS, 0)
	west := e.open("westus2", storage.StandardLRS, 0)
	// The disk says it is in westus2, but its data is in eastus only.
	m, blocks := e.disk(east, "moved")
	e.compute(compute.DiskType, "d1", "westus2", m)
	// The version's replica account holds a damaged copy of its manifest;
	// westus2 holds a good one.
	vm, vblocks := e.disk(west, "version")
	e.copyDisk(west, east, vm)
	enc, err := west.GetBlock(e.ctx, vm)
	must(t, err)
	path := filepath.Join(e.accounts.Dir, "eastus", "eastus-standard-lrs-0", vm[:2], vm[2:4], vm)
	must(t, os.WriteFile(path, enc[:len(enc)-1], 0o600))
	e.version(version, galleon.ProvisioningSucceeded, []string{vm}, "eastus-standard-lrs-0")

	e.clock.Advance(2 * time.Hour)
	e.run()
	e.want("disk", east, true, blocks...)
	e.want("version", west, true, vblocks...)
}

// TestIngestPendingAborts checks that a version still waiting for its
// disks (whose source only the ingest job knows) stops the sweep, and that
// a version that failed before getting disks does not.
func TestIngestPendingAborts(t *testing.T) {
	e := newEnv(t)
	east := e.open("eastus", storage.StandardLRS, 0)
	junk := e.garbage(east, "junk")
	e.version(version, galleon.ProvisioningCreating, nil)
	e.clock.Advance(2 * time.Hour)

	_, err := e.gc.RunOnce(e.ctx)
	if ge := galleon.AsError(err); ge == nil || ge.Reason != gc.ReasonIngestPending || !strings.Contains(ge.Message, version) {
		t.Fatalf("error = %v, want reason %s naming the version", err, gc.ReasonIngestPending)
	}
	e.want("junk while a version ingests", east, true, junk)

	failed := image + "/versions/1.0.1"
	must(t, e.store.DeleteResource(e.ctx, version))
	e.version(failed, galleon.ProvisioningFailed, nil)
	wantStats(t, e.run(), gc.Stats{BlocksSwept: 1, BytesSwept: blockSize, Accounts: 1})
}

// TestUnreadableRecordAborts checks that a resource whose stored disks
// cannot be decoded stops the sweep.
func TestUnreadableRecordAborts(t *testing.T) {
	e := newEnv(t)
	east := e.open("eastus", storage.StandardLRS, 0)
	junk := e.garbage(east, "junk")
	id := e.compute(compute.SnapshotType, "s1", "eastus")
	r, err := e.store.GetResource(e.ctx, id)
	must(t, err)
	r.Internal = []byte(`{"disks":[{"manifest":"not a digest"}]}`)
	must(t, e.store.UpdateResource(e.ctx, r, ""))
	e.clock.Advance(2 * time.Hour)

	_, err = e.gc.RunOnce(e.ctx)
	if ge := galleon.AsError(err); ge == nil || ge.Reason != gc.ReasonUnreadableReference || !strings.Contains(ge.Message, id) {
		t.Fatalf("error = %v, want reason %s naming %s", err, gc.ReasonUnreadableReference, id)
	}
	e.want("junk", east, true, junk)
}

// TestDeletedVersionIsCollected checks that a version's blocks go once the
// last version referencing them is deleted (and they are past the grace).
func TestDeletedVersionIsCollected(t *testing.T) {
	e := newEnv(t)
	east := e.open("eastus", storage.StandardLRS, 0)
	west := e.open("westus2", storage.StandardLRS, 0)
	m, blocks := e.disk(east, "shared")
	e.copyDisk(east, west, m)
	second := image + "/versions/1.0.1"
	e.version(version, galleon.ProvisioningSucceeded, []string{m}, "eastus-standard-lrs-0", "westus2-standard-lrs-0")
	e.version(second, galleon.ProvisioningSucceeded, []string{m}, "eastus-standard-lrs-0")

	e.clock.Advance(2 * time.Hour)
	wantStats(t, e.run(), gc.Stats{BlocksMarked: 5, Accounts: 2})

	must(t, e.store.DeleteResource(e.ctx, version))
	wantStats(t, e.run(), gc.Stats{BlocksMarked: 5, Accounts: 2})
	e.want("still used by 1.0.1", east, true, blocks...)
	e.want("still used by 1.0.1", west, true, blocks...)

	must(t, e.store.DeleteResource(e.ctx, second))
	bytes := 2 * (4*blockSize + manifestLen(t, east, m))
	wantStats(t, e.run(), gc.Stats{BlocksSwept: 10, BytesSwept: bytes, Accounts: 2})
	e.want("deleted", east, false, blocks...)
	e.want("deleted", west, false, blocks...)
}

// TestSkipsForeignDirectories checks that directories under the storage
// directory that are not accounts of a configured region are left alone.
func TestSkipsForeignDirectories(t *testing.T) {
	e := newEnv(t)
	east := e.open("eastus", storage.StandardLRS, 0)
	junk := e.garbage(east, "junk")
	var foreign []*localfs.Store
	for _, dir := range []string{
		filepath.Join("mars", "mars-standard-lrs-0"),         // region not configured
		filepath.Join("eastus", "eastus-standard-lrs-007"),   // not storage.Name's spelling
		filepath.Join("eastus", "eastus-standard-grs-0"),     // no such SKU
		filepath.Join("eastus", "westus2-standard-lrs-0"),    // another region's name
		filepath.Join("eastus", "eastus-standard-lrs--1"),    // negative
		filepath.Join("eastus", "eastus-standard-lrs-0-old"), // suffix
	} {
		s, err := localfs.Open(filepath.Join(e.accounts.Dir, dir))
		must(t, err)
		s.Now = e.clock.Now
		foreign = append(foreign, s)
	}
	var foreignJunk []string
	for i, s := range foreign {
		foreignJunk = append(foreignJunk, e.garbage(s, "foreign"+string(rune('a'+i))))
	}
	must(t, os.WriteFile(filepath.Join(e.accounts.Dir, "eastus", "notes.txt"), []byte("hello"), 0o600))

	e.clock.Advance(2 * time.Hour)
	wantStats(t, e.run(), gc.Stats{BlocksSwept: 1, BytesSwept: blockSize, Accounts: 1})
	e.want("account", east, false, junk)
	for i, s := range foreign {
		e.want("foreign directory", s, true, foreignJunk[i])
	}
}

// TestNoStorageYet checks a pass on an installation with no account
// directories at all.
func TestNoStorageYet(t *testing.T) {
	e := newEnv(t)
	wantStats(t, e.run(), gc.Stats{})
}

// TestInvalid checks the collector's own settings.
func TestInvalid(t *testing.T) {
	tests := []struct {
		name string
		edit func(c *gc.Collector)
	}{
		{"ErrNegativeGrace", func(c *gc.Collector) { c.Grace = -time.Minute }},
		{"ErrNoStore", func(c *gc.Collector) { c.Store = nil }},
		{"ErrNoAccounts", func(c *gc.Collector) { c.Accounts = nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			tt.edit(e.gc)
			if _, err := e.gc.RunOnce(e.ctx); galleon.ErrorCode(err) != galleon.EInvalid {
				t.Fatalf("RunOnce = %v, want EInvalid", err)
			}
		})
	}
}

// TestRun checks that Run collects at once, logs the pass and returns nil
// when its context ends.
func TestRun(t *testing.T) {
	e := newEnv(t)
	east := e.open("eastus", storage.StandardLRS, 0)
	junk := e.garbage(east, "junk")
	e.clock.Advance(2 * time.Hour)
	passes := make(chan slog.Record, 1)
	e.gc.Logger = slog.New(recordHandler(passes))
	e.gc.Interval = time.Hour

	ctx, cancel := context.WithCancel(e.ctx)
	done := make(chan error, 1)
	go func() { done <- e.gc.Run(ctx) }()
	rec := <-passes
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v, want nil on shutdown", err)
	}
	if rec.Level != slog.LevelInfo {
		t.Fatalf("pass logged at %v: %s", rec.Level, rec.Message)
	}
	e.want("junk after Run's first pass", east, false, junk)
}

// recordHandler sends the records of garbage collection passes to ch,
// dropping the rest.
type recordHandler chan slog.Record

func (h recordHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h recordHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Message == "garbage collection pass" {
		select {
		case h <- r:
		default:
		}
	}
	return nil
}
func (h recordHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h recordHandler) WithGroup(string) slog.Handler      { return h }

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// manifestLen is the size of a stored manifest block.
func manifestLen(t *testing.T, bs galleon.BlockStore, digest string) int64 {
	t.Helper()
	bi, err := bs.StatBlock(t.Context(), digest)
	must(t, err)
	return bi.Size
}
