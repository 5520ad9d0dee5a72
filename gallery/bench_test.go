package gallery_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	_ "modernc.org/sqlite" // the driver store/sqlite uses, for the SQL baselines

	"github.com/galleonhq/galleon"
	"github.com/galleonhq/galleon/gallery"
	"github.com/galleonhq/galleon/store/sqlite"
)

// The benchmarks time "latest" and one page of a version list on an image
// with 10,000 versions, each with a completed replica, in a SQLite store
// on disk. Two baselines are measured in the same run: the same call on an
// image with 10 (Latest) or 1,000 (List) versions in the same store, to
// show how the cost grows with the image's version count; and plain SQL
// reading the same rows from the same database file without decoding them
// into resources or JSON properties, the floor the store and the service
// work on top of.
//
//	go test -run '^$' -bench 'Latest10k|ListVersions10k' ./gallery/
const benchSub = "00000000-0000-0000-0000-0000000000b1"

// benchStore is a store holding three images with 10,000, 1,000 and 10
// versions.
type benchStore struct {
	path  string
	store *sqlite.Store
	svc   *gallery.Service
	image map[int]galleon.ResourceID // by version count
}

func newBenchStore(b *testing.B) *benchStore {
	b.Helper()
	ctx := context.Background()
	path := filepath.Join(b.TempDir(), "galleon.db")
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	bs := &benchStore{path: path, store: st, image: map[int]galleon.ResourceID{},
		svc: &gallery.Service{Store: st, Regions: galleon.DefaultRegions(), Limits: gallery.DefaultLimits()}}
	for _, n := range []int{10_000, 1_000, 10} {
		bs.image[n] = bs.addImage(b, fmt.Sprintf("img%d", n), n)
	}
	return bs
}

// addImage stores an image definition with n versions, named 1.X.Y in
// order, each Succeeded with the properties PutVersion would store and a
// completed replica in eastus.
func (bs *benchStore) addImage(b *testing.B, name string, n int) galleon.ResourceID {
	b.Helper()
	ctx := context.Background()
	img := galleon.ResourceID{SubscriptionID: benchSub, ResourceGroup: "rg", Namespace: "Microsoft.Compute",
		Types: []string{"galleries", "images"}, Names: []string{"gal", name}}
	if err := bs.store.CreateResource(ctx, &galleon.Resource{ID: img.String(), Type: galleon.GalleryImageType, Name: name,
		SubscriptionID: benchSub, ResourceGroup: "rg", Location: "eastus", Properties: json.RawMessage(`{"osType":"Linux","osState":"Generalized"}`)}); err != nil {
		b.Fatal(err)
	}
	gb, one := 30, 1
	for i := range n {
		v := fmt.Sprintf("1.%d.%d", i/100, i%100)
		id := img.String() + "/versions/" + v
		props, _ := json.Marshal(galleon.GalleryImageVersionProperties{
			ProvisioningState: galleon.ProvisioningSucceeded,
			PublishingProfile: &galleon.VersionPublishingProfile{
				TargetRegions: []galleon.TargetRegion{{Name: "eastus", RegionalReplicaCount: &one, StorageAccountType: "Standard_LRS"}},
				ReplicaCount:  &one, StorageAccountType: "Standard_LRS",
				PublishedDate: "2026-01-02T03:04:05.1234567+00:00", EndOfLifeDate: "2030-01-01T00:00:00+00:00",
			},
			StorageProfile: &galleon.VersionStorageProfile{OSDiskImage: &galleon.DiskImage{SizeInGB: &gb, HostCaching: "ReadWrite"}},
		})
		if err := bs.store.CreateResource(ctx, &galleon.Resource{ID: id, Type: galleon.GalleryImageVersionType, Name: v,
			SubscriptionID: benchSub, ResourceGroup: "rg", Location: "eastus", Properties: props}); err != nil {
			b.Fatal(err)
		}
		if err := bs.store.PutReplica(ctx, &galleon.Replica{VersionID: id, Region: "eastus", StorageAccountType: "Standard_LRS",
			Account: "eastus-standard-lrs-0", State: galleon.ReplicaCompleted, Progress: 100, StoredBytes: 1 << 30}); err != nil {
			b.Fatal(err)
		}
	}
	return img
}

// sqlDB opens the benchmark's database file read-only with database/sql.
func (bs *benchStore) sqlDB(b *testing.B) *sql.DB {
	b.Helper()
	db, err := sql.Open("sqlite", "file:"+bs.path+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return db
}

// keyRange is the id_key range of the resources strictly under id, as
// store/sqlite keys them (normalized scope, then "/"; "0" is the byte
// after "/").
func keyRange(id galleon.ResourceID) (lo, hi string) {
	k := galleon.NormalizeScope(id.String())
	return k + "/", k + "0"
}

func BenchmarkLatest10k(b *testing.B) {
	bs := newBenchStore(b)
	ctx := context.Background()
	for _, bc := range []struct {
		name string
		n    int
		want string
	}{
		{"Versions10k", 10_000, "1.99.99"},
		{"Versions10", 10, "1.0.9"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for range b.N {
				r, err := bs.svc.Latest(ctx, bs.image[bc.n], "eastus")
				if err != nil || r.Name != bc.want {
					b.Fatalf("latest = %v, %v; want %s", r, err, bc.want)
				}
			}
		})
	}
	// SQLScan10k reads what Latest must at least look at, with plain SQL:
	// the image's completed replicas in the region and the ID and raw
	// properties of its 10,000 versions, without decoding them.
	b.Run("SQLScan10k", func(b *testing.B) {
		db := bs.sqlDB(b)
		lo, hi := keyRange(bs.image[10_000])
		for range b.N {
			var reps, versions int
			rows, err := db.QueryContext(ctx, `SELECT version_key FROM replicas WHERE version_key >= ? AND version_key < ? AND region = 'eastus' AND state = 'Completed'`, lo, hi)
			if err != nil {
				b.Fatal(err)
			}
			for rows.Next() {
				var k string
				if err := rows.Scan(&k); err != nil {
					b.Fatal(err)
				}
				reps++
			}
			rows.Close()
			rows, err = db.QueryContext(ctx, `SELECT id, name, properties FROM resources WHERE id_key >= ? AND id_key < ? AND type_key = ? ORDER BY id_key`,
				lo, hi, strings.ToLower(galleon.GalleryImageVersionType))
			if err != nil {
				b.Fatal(err)
			}
			for rows.Next() {
				var id, name string
				var props []byte
				if err := rows.Scan(&id, &name, &props); err != nil {
					b.Fatal(err)
				}
				versions++
			}
			rows.Close()
			if reps != 10_000 || versions != 10_000 {
				b.Fatalf("read %d replicas and %d versions", reps, versions)
			}
		}
	})
}

func BenchmarkListVersions10k(b *testing.B) {
	bs := newBenchStore(b)
	ctx := context.Background()
	list := func(b *testing.B, n int, after string) {
		f := galleon.ResourceFilter{Under: bs.image[n].String(), Type: galleon.GalleryImageVersionType, Limit: 1000, After: after}
		for range b.N {
			rs, _, err := bs.store.ListResources(ctx, f)
			if err != nil || len(rs) != 1000 {
				b.Fatalf("listed %d versions: %v", len(rs), err)
			}
		}
	}
	b.Run("FirstPageOf10k", func(b *testing.B) { list(b, 10_000, "") })
	// The last page starts after the 9,000th version: paging uses the ID
	// index, so a deep page costs what the first does.
	b.Run("LastPageOf10k", func(b *testing.B) {
		_, next, err := bs.store.ListResources(ctx, galleon.ResourceFilter{Under: bs.image[10_000].String(),
			Type: galleon.GalleryImageVersionType, Limit: 9000})
		if err != nil || next == "" {
			b.Fatalf("page token: %q, %v", next, err)
		}
		b.ResetTimer()
		list(b, 10_000, next)
	})
	b.Run("AllOf1k", func(b *testing.B) { list(b, 1_000, "") })
	// SQLPageOf10k reads the same 1,000 rows, every column the store
	// reads, with plain SQL and no decoding.
	b.Run("SQLPageOf10k", func(b *testing.B) {
		db := bs.sqlDB(b)
		lo, hi := keyRange(bs.image[10_000])
		for range b.N {
			rows, err := db.QueryContext(ctx, `SELECT * FROM resources WHERE id_key >= ? AND id_key < ? AND type_key = ? ORDER BY id_key LIMIT 1001`,
				lo, hi, strings.ToLower(galleon.GalleryImageVersionType))
			if err != nil {
				b.Fatal(err)
			}
			cols, _ := rows.Columns()
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			n := 0
			for rows.Next() {
				if err := rows.Scan(ptrs...); err != nil {
					b.Fatal(err)
				}
				n++
			}
			rows.Close()
			if n != 1001 {
				b.Fatalf("read %d rows", n)
			}
		}
	})
}
