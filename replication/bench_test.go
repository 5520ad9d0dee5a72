package replication_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/galleonhq/galleon"
	"github.com/galleonhq/galleon/gallery"
	"github.com/galleonhq/galleon/manifest"
	"github.com/galleonhq/galleon/replication"
	"github.com/galleonhq/galleon/storage"
	"github.com/galleonhq/galleon/store/sqlite"
)

// The benchmarks replicate a 2 GiB disk from a storage account in region A
// (eastus) to one in region B (westus2) by running the Replicator's
// version.replicate job handler, as the job worker does, next to cp of
// the same bytes as a raw file on the same file system, so that
// docs/benchmarks.md can quote ratios measured side by side in one run:
//
//	go test -run '^$' -bench 'Replicate' -benchtime 1x ./replication/
//
// Each iteration moves gigabytes with a durable write per block, so one
// iteration is enough (-benchtime 1x); every figure uses b.SetBytes of the
// disk's logical size, so MB/s compare directly.
const (
	benchDiskSize = 2 << 30
	benchBlock    = galleon.DefaultBlockSize
	benchBlocks   = benchDiskSize / benchBlock
	regionA       = "eastus"
	regionB       = "westus2"
)

// benchZero reports whether block i of the benchmark disk is all zeros:
// one in sixteen, the rest random.
func benchZero(i int) bool { return i%16 == 15 }

// benchChanged reports whether block i differs between v1 and v2 of the
// benchmark disk: ten blocks spread over the disk's 512, about 2%.
func benchChanged(i int) bool { return i%51 == 7 && i/51 < 10 }

// writeBenchDisks writes v1 of the benchmark disk to v1Path and, if v2Path
// is not "", v2 to v2Path: v1 with the benchChanged blocks filled with
// other random bytes (a changed zero block becomes random). It returns
// the bytes of v2 that differ from v1 (whole 4 MiB blocks).
func writeBenchDisks(b *testing.B, v1Path, v2Path string) (changed int64) {
	b.Helper()
	v1, err := os.Create(v1Path)
	if err != nil {
		b.Fatal(err)
	}
	defer v1.Close()
	var v2 *os.File
	if v2Path != "" {
		if v2, err = os.Create(v2Path); err != nil {
			b.Fatal(err)
		}
		defer v2.Close()
	}
	rng := rand.NewChaCha8([32]byte{'v', '1'})
	rng2 := rand.NewChaCha8([32]byte{'v', '2'})
	block := make([]byte, benchBlock)
	for i := range benchBlocks {
		if benchZero(i) {
			clear(block)
		} else {
			_, _ = rng.Read(block)
		}
		if _, err := v1.Write(block); err != nil {
			b.Fatal(err)
		}
		if v2 == nil {
			continue
		}
		if benchChanged(i) {
			_, _ = rng2.Read(block)
			changed += benchBlock
		}
		if _, err := v2.Write(block); err != nil {
			b.Fatal(err)
		}
	}
	for _, f := range []*os.File{v1, v2} {
		if f != nil {
			if err := f.Close(); err != nil {
				b.Fatal(err)
			}
		}
	}
	return changed
}

// benchEnv is a metadata store and the regions' storage accounts, with
// versions whose only completed replica is in region A.
type benchEnv struct {
	dir      string
	store    *sqlite.Store
	regions  []galleon.Region
	accounts *storage.Accounts
}

func newBenchEnv(b *testing.B) *benchEnv {
	b.Helper()
	dir := b.TempDir()
	st, err := sqlite.Open(context.Background(), filepath.Join(dir, "galleon.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	e := &benchEnv{dir: dir, store: st, regions: galleon.DefaultRegions()}
	e.accounts = &storage.Accounts{Dir: filepath.Join(dir, "storage"), Regions: e.regions}
	return e
}

func (e *benchEnv) account(b *testing.B, region string) galleon.BlockStore {
	b.Helper()
	bs, err := e.accounts.Open(region, storage.StandardLRS, 0)
	if err != nil {
		b.Fatal(err)
	}
	return bs
}

// addVersion ingests the disk at path into region A's account and records
// a version of it: Creating, its replica in A completed, one in B queued.
func (e *benchEnv) addVersion(b *testing.B, name, path string) string {
	b.Helper()
	ctx := context.Background()
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	a := e.account(b, regionA)
	m, err := manifest.Ingest(ctx, a, f, benchDiskSize, manifest.IngestOptions{})
	if err != nil {
		b.Fatal(err)
	}
	digest, err := manifest.Store(ctx, a, m)
	if err != nil {
		b.Fatal(err)
	}
	id := "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.Compute/galleries/gal/images/img/versions/" + name
	internal, _ := json.Marshal(galleon.VersionDisks{OSDisk: &galleon.StoredDisk{Manifest: digest, Size: m.Size, StoredBytes: m.StoredBytes()}})
	if err := e.store.CreateResource(ctx, &galleon.Resource{ID: id, Type: galleon.GalleryImageVersionType, Name: name,
		SubscriptionID: "00000000-0000-0000-0000-000000000001", ResourceGroup: "rg", Location: regionA,
		Properties: json.RawMessage(`{"provisioningState":"Creating"}`), Internal: internal}); err != nil {
		b.Fatal(err)
	}
	if err := e.store.PutReplica(ctx, &galleon.Replica{VersionID: id, Region: regionA, StorageAccountType: storage.StandardLRS,
		Account: storage.Name(regionA, storage.StandardLRS, 0), State: galleon.ReplicaCompleted, Progress: 100,
		StoredBytes: m.StoredBytes()}); err != nil {
		b.Fatal(err)
	}
	return id
}

// emptyB removes region B's storage: the next replication to it starts
// from nothing. The accounts are reopened, as a restarted server would.
func (e *benchEnv) emptyB(b *testing.B) {
	b.Helper()
	if err := os.RemoveAll(filepath.Join(e.accounts.Dir, regionB)); err != nil {
		b.Fatal(err)
	}
	e.accounts = &storage.Accounts{Dir: e.accounts.Dir, Regions: e.regions}
}

// replicateToB queues the version's replication to region B and runs the
// job with the Replicator's handler, as a job worker would, returning B's
// replica afterwards.
func (e *benchEnv) replicateToB(b *testing.B, versionID string) *galleon.Replica {
	b.Helper()
	ctx := context.Background()
	if err := e.store.PutReplica(ctx, &galleon.Replica{VersionID: versionID, Region: regionB, StorageAccountType: storage.StandardLRS,
		Account: storage.Name(regionB, storage.StandardLRS, 0), State: galleon.ReplicaReplicating, Details: "Queued"}); err != nil {
		b.Fatal(err)
	}
	r := &replication.Replicator{Store: e.store, Gallery: &gallery.Service{Store: e.store, Regions: e.regions},
		Accounts: e.accounts, Regions: e.regions, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if err := r.QueueReplication(ctx, versionID, []string{regionB}); err != nil {
		b.Fatal(err)
	}
	j, err := e.store.ClaimJob(ctx, []string{replication.JobReplicate}, "bench", time.Now(), time.Hour)
	if err != nil || j == nil {
		b.Fatalf("claim the replication job: %v, %v", j, err)
	}
	if err := r.Handlers()[replication.JobReplicate](ctx, j); err != nil {
		b.Fatalf("replicate: %v", err)
	}
	if err := e.store.CompleteJob(ctx, j.ID, "bench"); err != nil {
		b.Fatal(err)
	}
	reps, err := e.store.ListReplicas(ctx, versionID)
	if err != nil {
		b.Fatal(err)
	}
	for _, rep := range reps {
		if rep.Region == regionB {
			if rep.State != galleon.ReplicaCompleted {
				b.Fatalf("replica in %s is %s: %s", regionB, rep.State, rep.Details)
			}
			return rep
		}
	}
	b.Fatalf("no replica in %s", regionB)
	return nil
}

// storedBytes sums the sizes of the blocks bs holds (manifests included).
func storedBytes(b *testing.B, bs galleon.BlockStore) int64 {
	b.Helper()
	var n int64
	if err := bs.ListBlocks(context.Background(), func(i galleon.BlockInfo) error {
		n += i.Size
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	return n
}

// BenchmarkReplicate2GiB replicates a 2 GiB disk (15 of every 16 blocks
// random, the rest zeros) from region A to region B.
//
// Full starts with B empty: every stored block is read, verified, written
// and synced. CopyOnly does the same copy with manifest.Copy alone, to
// show what the job around it costs. Delta2pct replicates v2, which differs from v1 in 10 of its
// 512 blocks, to a B that already holds v1 (put there, untimed, by the
// same job): it reports bytes-moved/bytes-changed, where bytes moved is
// what B's storage grew by (blocks and the manifest) and bytes changed the
// changed blocks' size, and delta/full, the time of the v2 job over that
// of v1's full copy to B measured in the same iteration.
func BenchmarkReplicate2GiB(b *testing.B) {
	e := newBenchEnv(b)
	v1Path, v2Path := filepath.Join(e.dir, "v1.raw"), filepath.Join(e.dir, "v2.raw")
	changed := writeBenchDisks(b, v1Path, v2Path)
	v1 := e.addVersion(b, "1.0.0", v1Path)
	v2 := e.addVersion(b, "2.0.0", v2Path)
	os.Remove(v1Path)
	os.Remove(v2Path)

	b.Run("Full", func(b *testing.B) {
		b.SetBytes(benchDiskSize)
		var moved int64
		b.ResetTimer()
		for range b.N {
			b.StopTimer()
			e.emptyB(b)
			b.StartTimer()
			rep := e.replicateToB(b, v1)
			moved = rep.CopiedBytes
		}
		b.ReportMetric(float64(moved)/(1<<20), "MiB-moved")
	})
	// CopyOnly is Full without the job: manifest.Copy from A's account to
	// B's, what the handler spends most of its time in.
	b.Run("CopyOnly", func(b *testing.B) {
		ctx := context.Background()
		a := e.account(b, regionA)
		v, err := e.store.GetResource(ctx, v1)
		if err != nil {
			b.Fatal(err)
		}
		disks, err := gallery.VersionDisksOf(v)
		if err != nil {
			b.Fatal(err)
		}
		m, err := manifest.Load(ctx, a, disks.OSDisk.Manifest)
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(benchDiskSize)
		b.ResetTimer()
		for range b.N {
			b.StopTimer()
			e.emptyB(b)
			dst := e.account(b, regionB)
			b.StartTimer()
			if _, err := manifest.Copy(ctx, a, dst, m, manifest.CopyOptions{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Delta2pct", func(b *testing.B) {
		b.SetBytes(benchDiskSize)
		var full, delta time.Duration
		var movedBytes int64
		b.ResetTimer()
		for range b.N {
			b.StopTimer()
			e.emptyB(b)
			start := time.Now()
			e.replicateToB(b, v1)
			full += time.Since(start)
			before := storedBytes(b, e.account(b, regionB))
			start = time.Now()
			b.StartTimer()
			e.replicateToB(b, v2)
			b.StopTimer()
			delta += time.Since(start)
			movedBytes = storedBytes(b, e.account(b, regionB)) - before
			b.StartTimer()
		}
		b.ReportMetric(float64(movedBytes)/float64(changed), "moved/changed")
		b.ReportMetric(float64(movedBytes)/(1<<20), "MiB-moved")
		b.ReportMetric(float64(delta)/float64(full), "delta/full")
		b.ReportMetric(float64(full.Milliseconds())/float64(b.N), "full-ms/op")
	})
}

// BenchmarkReplicateCpBaseline copies the same 2 GiB disk as a raw file on
// the same file system with cp, and with cp followed by sync of the copy
// (a durable copy, as the block store's writes are). cp moves the zero
// blocks too and verifies nothing.
func BenchmarkReplicateCpBaseline(b *testing.B) {
	for _, tool := range []string{"cp", "sync"} {
		if _, err := exec.LookPath(tool); err != nil {
			b.Skipf("%s is not installed: %v", tool, err)
		}
	}
	dir := b.TempDir()
	src, dst := filepath.Join(dir, "v1.raw"), filepath.Join(dir, "copy.raw")
	writeBenchDisks(b, src, "")
	run := func(b *testing.B, name string, args ...string) {
		if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
			b.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
	}
	for _, sync := range []bool{false, true} {
		name := "cp"
		if sync {
			name = "cp+sync"
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(benchDiskSize)
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				os.Remove(dst)
				b.StartTimer()
				run(b, "cp", src, dst)
				if sync {
					run(b, "sync", dst)
				}
			}
		})
	}
}
