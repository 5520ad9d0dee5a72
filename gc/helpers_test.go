package gc_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/galleonhq/galleon"
	"github.com/galleonhq/galleon/blob/localfs"
	"github.com/galleonhq/galleon/compute"
	"github.com/galleonhq/galleon/gc"
	"github.com/galleonhq/galleon/manifest"
	"github.com/galleonhq/galleon/storage"
	"github.com/galleonhq/galleon/store/sqlite"
)

// blockSize is the block size of the test disks: small, so tests are fast.
const blockSize = 4096

// t0 is when every test starts.
var t0 = time.Date(2030, time.May, 6, 7, 8, 9, 0, time.UTC)

// clock is the injected clock of blocks and collector.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// env is a store, storage accounts of two regions (eastus with three
// zones, westus2 with none) and a collector over them.
type env struct {
	t        *testing.T
	ctx      context.Context
	store    *sqlite.Store
	accounts *storage.Accounts
	clock    *clock
	gc       *gc.Collector
}

func newEnv(t *testing.T) *env {
	t.Helper()
	dir := t.TempDir()
	st, err := sqlite.Open(t.Context(), filepath.Join(dir, "galleon.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	c := &clock{now: t0}
	accounts := &storage.Accounts{
		Dir: filepath.Join(dir, "storage"),
		Regions: []galleon.Region{
			{Name: "eastus", DisplayName: "East US", Zones: 3},
			{Name: "westus2", DisplayName: "West US 2"},
		},
		Now: c.Now,
	}
	return &env{
		t: t, ctx: t.Context(), store: st, accounts: accounts, clock: c,
		gc: &gc.Collector{Store: st, Accounts: accounts, Grace: time.Hour, Now: c.Now,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))},
	}
}

// open returns a storage account's block store.
func (e *env) open(region, sku string, n int) galleon.BlockStore {
	e.t.Helper()
	bs, err := e.accounts.Open(region, sku, n)
	if err != nil {
		e.t.Fatal(err)
	}
	return bs
}

// zone returns one zone's directory store of a Standard_ZRS account.
func (e *env) zone(region string, n, zone int) *localfs.Store {
	e.t.Helper()
	z, err := localfs.Open(filepath.Join(e.accounts.Dir, region, storage.Name(region, storage.StandardZRS, n), fmt.Sprintf("zone%d", zone)))
	if err != nil {
		e.t.Fatal(err)
	}
	z.Now = e.clock.Now
	return z
}

// content returns n bytes determined by seed.
func content(seed string, n int) []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < n; i++ {
		s := sha256.Sum256(fmt.Appendf(nil, "%s/%d", seed, i))
		b.Write(s[:])
	}
	return b.Bytes()[:n]
}

func digestOf(data []byte) string {
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}

// disk ingests a disk of four distinct blocks and one zero block, made
// from seed, into bs and stores its manifest there. It returns the
// manifest's digest and every block the disk stored (manifest included).
func (e *env) disk(bs galleon.BlockStore, seed string) (string, []string) {
	e.t.Helper()
	raw := make([]byte, 5*blockSize)
	for i, off := range []int{0, 1, 3, 4} {
		copy(raw[off*blockSize:], content(fmt.Sprintf("%s/%d", seed, i), blockSize))
	}
	m, err := manifest.Ingest(e.ctx, bs, bytes.NewReader(raw), int64(len(raw)), manifest.IngestOptions{BlockSize: blockSize})
	if err != nil {
		e.t.Fatal(err)
	}
	if len(m.Blocks) != 4 {
		e.t.Fatalf("disk %s has %d blocks, want 4", seed, len(m.Blocks))
	}
	d, err := manifest.Store(e.ctx, bs, m)
	if err != nil {
		e.t.Fatal(err)
	}
	all := []string{d}
	for _, b := range m.Blocks {
		all = append(all, b.Digest)
	}
	return d, all
}

// copyDisk copies a stored disk, manifest included, between accounts.
func (e *env) copyDisk(src, dst galleon.BlockStore, digest string) {
	e.t.Helper()
	m, err := manifest.Load(e.ctx, src, digest)
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := manifest.Copy(e.ctx, src, dst, m, manifest.CopyOptions{}); err != nil {
		e.t.Fatal(err)
	}
}

// garbage puts a block of blockSize bytes nothing references.
func (e *env) garbage(bs galleon.BlockStore, seed string) string {
	e.t.Helper()
	data := content("garbage/"+seed, blockSize)
	d := digestOf(data)
	if err := bs.PutBlock(e.ctx, d, data); err != nil {
		e.t.Fatal(err)
	}
	return d
}

const (
	rg      = "/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg"
	image   = rg + "/providers/Microsoft.Compute/galleries/g/images/img"
	version = image + "/versions/1.0.0"
)

// version records an image version whose disks are the given manifests
// (the first the OS disk) and, for each account given, a replica on it.
func (e *env) version(id, state string, manifests []string, replicaAccounts ...string) {
	e.t.Helper()
	vd := galleon.VersionDisks{Operation: "op"}
	for i, m := range manifests {
		sd := galleon.StoredDisk{Manifest: m, Size: 5 * blockSize, StoredBytes: 4 * blockSize}
		if i == 0 {
			vd.OSDisk = &sd
			continue
		}
		lun := i - 1
		sd.Lun = &lun
		vd.DataDisks = append(vd.DataDisks, sd)
	}
	internal, _ := json.Marshal(vd)
	props, _ := json.Marshal(map[string]any{"provisioningState": state})
	rid, err := galleon.ParseResourceID(id)
	if err != nil {
		e.t.Fatal(err)
	}
	r := &galleon.Resource{ID: id, Type: galleon.GalleryImageVersionType, Name: rid.Name(), SubscriptionID: rid.SubscriptionID,
		ResourceGroup: rid.ResourceGroup, Location: "eastus", Properties: props, Internal: internal}
	if err := e.store.CreateResource(e.ctx, r); err != nil {
		e.t.Fatal(err)
	}
	for i, a := range replicaAccounts {
		rep := &galleon.Replica{VersionID: id, Region: strings.SplitN(a, "-", 2)[0], Index: i, StorageAccountType: storage.StandardLRS, Account: a,
			State: galleon.ReplicaCompleted, Progress: 100}
		if err := e.store.PutReplica(e.ctx, rep); err != nil {
			e.t.Fatal(err)
		}
	}
}

// compute records a managed disk, snapshot or image in location whose
// stored disks are the given manifests.
func (e *env) compute(typ, name, location string, manifests ...string) string {
	e.t.Helper()
	in := compute.Internal{SKU: storage.StandardLRS}
	for _, m := range manifests {
		in.Disks = append(in.Disks, galleon.StoredDisk{Manifest: m, Size: 5 * blockSize, StoredBytes: 4 * blockSize})
	}
	internal, _ := json.Marshal(in)
	id := rg + "/providers/" + typ + "/" + name
	r := &galleon.Resource{ID: id, Type: typ, Name: name, SubscriptionID: "11111111-2222-3333-4444-555555555555",
		ResourceGroup: "rg", Location: location, Properties: json.RawMessage(`{}`), Internal: internal}
	if err := e.store.CreateResource(e.ctx, r); err != nil {
		e.t.Fatal(err)
	}
	return id
}

// want fails the test unless bs holds (present) or lacks every digest.
func (e *env) want(what string, bs galleon.BlockStore, present bool, digests ...string) {
	e.t.Helper()
	for _, d := range digests {
		_, err := bs.StatBlock(e.ctx, d)
		switch {
		case present && err != nil:
			e.t.Fatalf("%s: block %s is gone (%v), want it kept", what, d, err)
		case !present && err == nil:
			e.t.Fatalf("%s: block %s is still there, want it swept", what, d)
		case !present && galleon.ErrorCode(err) != galleon.ENotFound:
			e.t.Fatalf("%s: stat block %s: %v", what, d, err)
		}
	}
}

// run runs one pass and fails the test if it reports an error.
func (e *env) run() gc.Stats {
	e.t.Helper()
	st, err := e.gc.RunOnce(e.ctx)
	if err != nil {
		e.t.Fatalf("RunOnce: %v", err)
	}
	return st
}

// wantStats fails the test unless got matches want.
func wantStats(t *testing.T, got, want gc.Stats) {
	t.Helper()
	if got != want {
		t.Fatalf("stats = %+v, want %+v", got, want)
	}
}
