package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources/v4"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/pageblob"

	"github.com/galleonhq/galleon"
	"github.com/galleonhq/galleon/diskimage"
	"github.com/galleonhq/galleon/gallery"
	"github.com/galleonhq/galleon/manifest"
	"github.com/galleonhq/galleon/storage"
	"github.com/galleonhq/galleon/store/sqlite"
)

// The crash test runs the server as a child process it can SIGKILL: the
// test binary itself, re-executed to run only TestCrashChild, which the
// environment variables below tell where its data lives.
const (
	crashEnv            = "GALLEON_TEST_CRASH"
	crashChildDataEnv   = "GALLEON_CRASH_CHILD_DATA"
	crashChildListenEnv = "GALLEON_CRASH_CHILD_LISTEN"
	// crashReadyPrefix starts the line the child prints on stdout once it
	// listens, followed by its base URL.
	crashReadyPrefix = "GALLEON_CRASH_CHILD_READY "
	// crashJobLease is the child's job lease: short, so that the jobs a
	// killed child held are taken over within seconds of a restart.
	crashJobLease = 3 * time.Second
	// crashDiskSize is the uploaded disk's logical size: big enough that
	// copying it to three regions takes a while on two cores, so that the
	// test can kill the server in the middle of it.
	crashDiskSize = 200 << 20
)

// TestCrashChild is not a test of its own: TestCrashRecovery runs it in a
// child process, where it serves Galleon on the data directory and address
// given by the environment until it is killed (SIGKILL) or told to stop
// (SIGTERM, a graceful shutdown).
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashChildDataEnv)
	if dir == "" {
		t.Skip(crashChildDataEnv + " is unset: this is the server process TestCrashRecovery starts, not a test of its own")
	}
	cfg := DefaultConfig()
	cfg.Data, cfg.Listen, cfg.JobLease = dir, os.Getenv(crashChildListenEnv), crashJobLease
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	m := &Main{Config: cfg, Logger: slog.New(slog.NewTextHandler(os.Stderr, nil)), Out: io.Discard}
	if err := m.Open(ctx); err != nil {
		m.Close()
		t.Fatalf("open: %v", err)
	}
	fmt.Println(crashReadyPrefix + m.BaseURL)
	err := m.Run(ctx)
	if cerr := m.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatalf("run: %v", err)
	}
}

// crashChild is one server process started by TestCrashRecovery. Its
// testServer carries the base URL and admin credentials, so that the
// client helpers of main_test.go work against it; its Main runs in the
// child, not here.
type crashChild struct {
	*testServer
	cmd     *exec.Cmd
	exited  chan struct{} // closed when the process has been waited for
	waitErr error
	logPath string
}

// startCrashChild starts a server process on dir, listening on a free port,
// and waits until it accepts connections.
func startCrashChild(t *testing.T, dir string, n int) *crashChild {
	t.Helper()
	logPath := filepath.Join(filepath.Dir(dir), fmt.Sprintf("child-%d.log", n))
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close() // the child has its own descriptor
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashChildDataEnv+"="+dir, crashChildListenEnv+"=127.0.0.1:0")
	cmd.Stderr = logFile
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start server process: %v", err)
	}
	c := &crashChild{cmd: cmd, exited: make(chan struct{}), logPath: logPath}
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if url, ok := strings.CutPrefix(sc.Text(), crashReadyPrefix); ok {
				ready <- url
			}
		}
		// Stdout is at EOF: the process has exited (or is exiting).
		c.waitErr = cmd.Wait()
		close(c.exited)
	}()
	t.Cleanup(func() {
		c.kill(t)
		if t.Failed() {
			c.dumpLog(t)
		}
	})
	select {
	case url := <-ready:
		creds, err := readCredentials(filepath.Join(dir, "admin.json"))
		if err != nil {
			t.Fatal(err)
		}
		if creds.Endpoint != url {
			t.Fatalf("admin.json names endpoint %s, but the server listens at %s", creds.Endpoint, url)
		}
		c.testServer = &testServer{Main: &Main{BaseURL: url, Admin: creds, AdminFile: filepath.Join(dir, "admin.json")}}
		return c
	case <-c.exited:
		c.dumpLog(t)
		t.Fatalf("server process %d exited before serving: %v", cmd.Process.Pid, c.waitErr)
	case <-time.After(time.Minute):
		t.Fatalf("server process %d did not start serving within a minute", cmd.Process.Pid)
	}
	return nil
}

// kill ends the process with SIGKILL, as a crash would, and waits for it.
// Killing a process that has exited is a no-op.
func (c *crashChild) kill(t *testing.T) {
	t.Helper()
	select {
	case <-c.exited:
		return
	default:
	}
	if err := c.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Errorf("kill server process %d: %v", c.cmd.Process.Pid, err)
	}
	<-c.exited
}

// stop asks the process to shut down gracefully and checks that it did:
// a clean exit means Run and Close succeeded (and, under -race, that the
// race detector found nothing).
func (c *crashChild) stop(t *testing.T) {
	t.Helper()
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("signal server process: %v", err)
	}
	select {
	case <-c.exited:
		if c.waitErr != nil {
			t.Fatalf("server process %d did not shut down cleanly: %v", c.cmd.Process.Pid, c.waitErr)
		}
	case <-time.After(time.Minute):
		t.Fatalf("server process %d did not stop within a minute of SIGTERM", c.cmd.Process.Pid)
	}
}

func (c *crashChild) dumpLog(t *testing.T) {
	b, err := os.ReadFile(c.logPath)
	if err != nil {
		return
	}
	if len(b) > 16<<10 {
		b = b[len(b)-16<<10:]
	}
	t.Logf("last log lines of %s:\n%s", c.logPath, b)
}

// crashClients are the SDK clients of one server process.
type crashClients struct {
	groups    *armresources.ResourceGroupsClient
	galleries *armcompute.GalleriesClient
	images    *armcompute.GalleryImagesClient
	versions  *armcompute.GalleryImageVersionsClient
	disks     *armcompute.DisksClient
	cred      azcore.TokenCredential
}

func (c *crashChild) clients(t *testing.T) *crashClients {
	t.Helper()
	sub, cred, opts := c.Admin.SubscriptionID, c.adminCredential(t), c.armOptions(t)
	cc := &crashClients{cred: cred}
	var err error
	if cc.groups, err = armresources.NewResourceGroupsClient(sub, cred, opts); err != nil {
		t.Fatal(err)
	}
	if cc.galleries, err = armcompute.NewGalleriesClient(sub, cred, opts); err != nil {
		t.Fatal(err)
	}
	if cc.images, err = armcompute.NewGalleryImagesClient(sub, cred, opts); err != nil {
		t.Fatal(err)
	}
	if cc.versions, err = armcompute.NewGalleryImageVersionsClient(sub, cred, opts); err != nil {
		t.Fatal(err)
	}
	if cc.disks, err = armcompute.NewDisksClient(sub, cred, opts); err != nil {
		t.Fatal(err)
	}
	return cc
}

// crashDisk returns the disk's logical content: random 4 MiB blocks, but
// every eighth all zeros, so that zero blocks are skipped on upload and
// absent from the stored disk.
func crashDisk() []byte {
	raw := make([]byte, crashDiskSize)
	rng := rand.NewChaCha8([32]byte{'c', 'r', 'a', 's', 'h'})
	const block = galleon.DefaultBlockSize
	for off := 0; off < len(raw); off += block {
		if (off/block)%8 != 7 {
			_, _ = rng.Read(raw[off : off+block])
		}
	}
	return raw
}

// uploadPage is one Put Page request of the upload: a range of the fixed
// VHD (logical content, then the 512-byte footer).
type uploadPage struct {
	off  int64
	data []byte
}

// vhdPages cuts the fixed VHD of raw into 4 MiB pages, leaving out the
// all-zero ones as az does, then the footer.
func vhdPages(t *testing.T, raw []byte) []uploadPage {
	t.Helper()
	footer, err := diskimage.FixedVHDFooter(int64(len(raw)), diskimage.VHDOptions{})
	if err != nil {
		t.Fatal(err)
	}
	const chunk = 4 << 20
	var pages []uploadPage
	for off := 0; off < len(raw); off += chunk {
		p := raw[off:min(off+chunk, len(raw))]
		if !bytes.Equal(p, make([]byte, len(p))) {
			pages = append(pages, uploadPage{int64(off), p})
		}
	}
	return append(pages, uploadPage{int64(len(raw)), footer})
}

// grantWrite opens the disk for upload and returns a Put Page client on
// the SAS URL, which names this server process's host and port.
func (c *crashChild) grantWrite(t *testing.T, cc *crashClients, rg, disk string) *pageblob.Client {
	t.Helper()
	ctx := context.Background()
	gp, err := cc.disks.BeginGrantAccess(ctx, rg, disk, armcompute.GrantAccessData{Access: to.Ptr(armcompute.AccessLevelWrite), DurationInSeconds: to.Ptr[int32](3600)}, nil)
	if err != nil {
		t.Fatalf("grant access: %v", err)
	}
	access, err := gp.PollUntilDone(ctx, pollFast())
	if err != nil {
		t.Fatalf("grant access: %v", err)
	}
	if !strings.HasPrefix(*access.AccessSAS, c.BaseURL+"/") {
		t.Fatalf("SAS URL %s is not on the server at %s", *access.AccessSAS, c.BaseURL)
	}
	// No retries: a request cut by the kill must fail, not wait for a
	// server that is gone.
	pb, err := pageblob.NewClientWithNoCredential(*access.AccessSAS, &pageblob.ClientOptions{ClientOptions: policy.ClientOptions{
		Transport: c.httpClient(t), Retry: policy.RetryOptions{MaxRetries: -1}}})
	if err != nil {
		t.Fatal(err)
	}
	return pb
}

// uploadPages puts pages with four requests in flight. When killAfter > 0,
// the goroutine whose request is the killAfter-th to succeed calls kill at
// once, while the others' requests are still in flight, and no further
// requests start. It returns which pages the server acknowledged and how
// many requests failed.
func uploadPages(t *testing.T, pb *pageblob.Client, pages []uploadPage, killAfter int, kill func()) (acked []bool, failed int) {
	t.Helper()
	acked = make([]bool, len(pages))
	var next, ok, bad atomic.Int64
	var stopped atomic.Bool
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for !stopped.Load() {
				i := int(next.Add(1) - 1)
				if i >= len(pages) {
					return
				}
				p := pages[i]
				_, err := pb.UploadPages(context.Background(), nopCloser{bytes.NewReader(p.data)},
					blob.HTTPRange{Offset: p.off, Count: int64(len(p.data))}, nil)
				if err != nil {
					bad.Add(1)
					once.Do(func() { firstErr = err })
					continue
				}
				acked[i] = true
				if n := ok.Add(1); killAfter > 0 && n == int64(killAfter) {
					stopped.Store(true)
					kill()
				}
			}
		})
	}
	wg.Wait()
	if killAfter == 0 && bad.Load() > 0 {
		t.Fatalf("%d page uploads failed; first: %v", bad.Load(), firstErr)
	}
	return acked, int(bad.Load())
}

// regionStates is a version's replication status by region.
type regionStates map[string]armcompute.RegionalReplicationStatus

func (s regionStates) String() string {
	var b strings.Builder
	for _, r := range slices.Sorted(maps.Keys(s)) {
		fmt.Fprintf(&b, " %s=%s/%d%%", r, *s[r].State, *s[r].Progress)
	}
	return strings.TrimSpace(b.String())
}

func versionStatus(t *testing.T, cc *crashClients, rg, gal, img, v string) (string, regionStates) {
	t.Helper()
	got, err := cc.versions.Get(context.Background(), rg, gal, img, v,
		&armcompute.GalleryImageVersionsClientGetOptions{Expand: to.Ptr(armcompute.ReplicationStatusTypesReplicationStatus)})
	if err != nil {
		t.Fatalf("get version %s: %v", v, err)
	}
	states := regionStates{}
	if rs := got.Properties.ReplicationStatus; rs != nil {
		for _, r := range rs.Summary {
			states[*r.Region] = *r
		}
	}
	return string(*got.Properties.ProvisioningState), states
}

// midReplication reports whether the version is part-way through
// replicating, past its first replica: some region's copy has completed
// while another's has not, or a copy has reported progress and not
// finished. own is the version's region, whose first replica (made by
// ingest) counts for half of its progress: it is past 50% only once its
// second replica's copy is under way.
func midReplication(states regionStates, own string) bool {
	completed, pending := false, false
	for region, st := range states {
		p := *st.Progress
		switch *st.State {
		case armcompute.ReplicationStateCompleted:
			completed = true
		case armcompute.ReplicationStateReplicating:
			pending = true
			if (region != own && p > 0 && p < 100) || (region == own && p > 50 && p < 100) {
				return true
			}
		}
	}
	return completed && pending
}

// downloadSHA256 streams a region's copy of the version's OS disk as raw
// bytes and returns their SHA-256 and length.
func (c *crashChild) downloadSHA256(t *testing.T, cc *crashClients, versionPath, region string) ([32]byte, int64) {
	t.Helper()
	tok, err := cc.cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{c.BaseURL + "/.default"}})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", c.BaseURL+versionPath+"/disks/os/content?api-version=2024-03-03&format=raw&region="+region, nil)
	req.Header.Set("Authorization", "Bearer "+tok.Token)
	resp, err := c.httpClient(t).Do(req)
	if err != nil {
		t.Fatalf("download from %s: %v", region, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		t.Fatalf("download from %s: %s %s", region, resp.Status, b)
	}
	h := sha256.New()
	n, err := io.Copy(h, resp.Body)
	if err != nil {
		t.Fatalf("download from %s: %v", region, err)
	}
	return [32]byte(h.Sum(nil)), n
}

// checkSurvivors checks that what the first server process created is
// still there.
func checkSurvivors(t *testing.T, cc *crashClients) {
	t.Helper()
	ctx := context.Background()
	if _, err := cc.groups.Get(ctx, "rg", nil); err != nil {
		t.Fatalf("resource group lost: %v", err)
	}
	if _, err := cc.galleries.Get(ctx, "rg", "gal", nil); err != nil {
		t.Fatalf("gallery lost: %v", err)
	}
	if _, err := cc.images.Get(ctx, "rg", "gal", "img", nil); err != nil {
		t.Fatalf("image definition lost: %v", err)
	}
}

// TestCrashRecovery kills the server with SIGKILL twice, on the same data
// directory: in the middle of a disk upload, and in the middle of an image
// version's replication to three regions. After each restart the work
// goes on from where it stopped: the pages acknowledged before the first
// kill are kept (only the others are uploaded again), and the jobs the
// killed server held are taken over once their lease runs out. At the end
// every replica is complete and holds exactly the uploaded disk, and no
// replica or job has failed.
func TestCrashRecovery(t *testing.T) {
	if os.Getenv(crashEnv) != "1" {
		t.Skip("set " + crashEnv + "=1 to run the crash-recovery test (it SIGKILLs server processes and moves about 1 GiB through them)")
	}
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	raw := crashDisk()
	want := sha256.Sum256(raw)
	pages := vhdPages(t, raw)

	// First process: resource group, gallery, image definition, and an
	// upload disk, about half of which is uploaded when the server dies.
	first := startCrashChild(t, dir, 1)
	cc := first.clients(t)
	if _, err := cc.groups.CreateOrUpdate(ctx, "rg", armresources.ResourceGroup{Location: to.Ptr("eastus")}, nil); err != nil {
		t.Fatal(err)
	}
	if p, err := cc.galleries.BeginCreateOrUpdate(ctx, "rg", "gal", armcompute.Gallery{Location: to.Ptr("eastus")}, nil); err != nil {
		t.Fatal(err)
	} else if _, err := p.PollUntilDone(ctx, pollFast()); err != nil {
		t.Fatal(err)
	}
	if p, err := cc.images.BeginCreateOrUpdate(ctx, "rg", "gal", "img", linuxImage("eastus", "p", "o", "s"), nil); err != nil {
		t.Fatal(err)
	} else if _, err := p.PollUntilDone(ctx, pollFast()); err != nil {
		t.Fatal(err)
	}
	vhdSize := int64(len(raw)) + 512
	dp, err := cc.disks.BeginCreateOrUpdate(ctx, "rg", "os-disk", armcompute.Disk{Location: to.Ptr("eastus"), Properties: &armcompute.DiskProperties{
		OSType:       to.Ptr(armcompute.OperatingSystemTypesLinux),
		CreationData: &armcompute.CreationData{CreateOption: to.Ptr(armcompute.DiskCreateOptionUpload), UploadSizeBytes: to.Ptr(vhdSize)},
	}}, nil)
	if err != nil {
		t.Fatalf("create disk: %v", err)
	}
	if _, err := dp.PollUntilDone(ctx, pollFast()); err != nil {
		t.Fatalf("create disk: %v", err)
	}
	pb := first.grantWrite(t, cc, "rg", "os-disk")
	acked, failed := uploadPages(t, pb, pages, len(pages)/2, func() { first.kill(t) })
	var rest []uploadPage
	for i, ok := range acked {
		if !ok {
			rest = append(rest, pages[i])
		}
	}
	t.Logf("first process killed after %d of %d pages were acknowledged; %d requests were cut off", len(pages)-len(rest), len(pages), failed)
	if len(rest) == 0 || len(rest) == len(pages) {
		t.Fatalf("%d of %d pages left to upload after the kill; want a part", len(rest), len(pages))
	}

	// Second process: the acknowledged pages are kept; the rest goes up
	// through a new SAS URL (the old one names the dead process's port).
	second := startCrashChild(t, dir, 2)
	if second.BaseURL == first.BaseURL {
		t.Fatalf("the restarted server reuses %s; the test expects a new port", first.BaseURL)
	}
	cc = second.clients(t)
	checkSurvivors(t, cc)
	d, err := cc.disks.Get(ctx, "rg", "os-disk", nil)
	if err != nil || *d.Properties.DiskState != armcompute.DiskStateActiveUpload {
		t.Fatalf("disk after the crash = %+v, %v; want it still ActiveUpload", d.Properties, err)
	}
	pb = second.grantWrite(t, cc, "rg", "os-disk")
	uploadPages(t, pb, rest, 0, nil)
	rp, err := cc.disks.BeginRevokeAccess(ctx, "rg", "os-disk", nil)
	if err != nil {
		t.Fatalf("end access: %v", err)
	}
	if _, err := rp.PollUntilDone(ctx, pollFast()); err != nil {
		t.Fatalf("end access (a page lost to the crash makes the VHD invalid): %v", err)
	}
	if d, err = cc.disks.Get(ctx, "rg", "os-disk", nil); err != nil || *d.Properties.DiskState != armcompute.DiskStateUnattached {
		t.Fatalf("sealed disk = %+v, %v", d.Properties, err)
	}

	// A version in three regions, two replicas in eastus; the server dies
	// while the replicas are being copied.
	_, err = cc.versions.BeginCreateOrUpdate(ctx, "rg", "gal", "img", "1.0.0", armcompute.GalleryImageVersion{Location: to.Ptr("eastus"),
		Properties: &armcompute.GalleryImageVersionProperties{
			StorageProfile: &armcompute.GalleryImageVersionStorageProfile{OSDiskImage: &armcompute.GalleryOSDiskImage{
				Source: &armcompute.GalleryDiskImageSource{ID: d.ID}}},
			PublishingProfile: &armcompute.GalleryImageVersionPublishingProfile{TargetRegions: []*armcompute.TargetRegion{
				{Name: to.Ptr("eastus"), RegionalReplicaCount: to.Ptr[int32](2)},
				{Name: to.Ptr("westus2")},
				{Name: to.Ptr("japaneast")},
			}},
		}}, nil)
	if err != nil {
		t.Fatalf("create version: %v", err)
	}
	for {
		state, regions := versionStatus(t, cc, "rg", "gal", "img", "1.0.0")
		if midReplication(regions, "eastus") {
			second.kill(t)
			t.Logf("second process killed with the version %s: %s", state, regions)
			break
		}
		if state != string(armcompute.GalleryProvisioningStateCreating) {
			t.Fatalf("the version became %s (%s) before the test could kill the server mid-replication; make crashDiskSize bigger", state, regions)
		}
		time.Sleep(20 * time.Millisecond)
	}

	// Third process: the interrupted jobs resume once their lease runs out.
	third := startCrashChild(t, dir, 3)
	cc = third.clients(t)
	checkSurvivors(t, cc)
	deadline := time.Now().Add(3 * time.Minute)
	for {
		state, regions := versionStatus(t, cc, "rg", "gal", "img", "1.0.0")
		for r, st := range regions {
			if *st.State == armcompute.ReplicationStateFailed {
				t.Fatalf("replica in %s failed after the restart: %s", r, regions)
			}
		}
		if state == string(armcompute.GalleryProvisioningStateFailed) {
			t.Fatalf("version failed after the restart: %s", regions)
		}
		allDone := len(regions) == 3
		for _, st := range regions {
			allDone = allDone && *st.State == armcompute.ReplicationStateCompleted && *st.Progress == 100
		}
		if state == string(armcompute.GalleryProvisioningStateSucceeded) && allDone {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("version still %s (%s) three minutes after the restart", state, regions)
		}
		time.Sleep(200 * time.Millisecond)
	}
	versionPath := "/subscriptions/" + third.Admin.SubscriptionID + "/resourceGroups/rg/providers/Microsoft.Compute/galleries/gal/images/img/versions/1.0.0"
	for _, region := range []string{"eastus", "westus2", "japaneast"} {
		if got, n := third.downloadSHA256(t, cc, versionPath, region); got != want || n != int64(len(raw)) {
			t.Errorf("%s serves %d bytes with SHA-256 %x; the upload was %d bytes with %x", region, n, got, len(raw), want)
		}
	}
	third.stop(t)

	// With the server stopped, look at the store and the storage accounts
	// directly: every replica complete and holding the disk (the second
	// eastus replica too, which downloads do not read), no job failed.
	st, err := sqlite.Open(ctx, filepath.Join(dir, "galleon.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	v, err := st.GetResource(ctx, versionPath)
	if err != nil {
		t.Fatal(err)
	}
	disks, err := gallery.VersionDisksOf(v)
	if err != nil || disks.OSDisk == nil {
		t.Fatalf("version disks = %+v, %v", disks, err)
	}
	reps, err := st.ListReplicas(ctx, versionPath)
	if err != nil {
		t.Fatal(err)
	}
	if len(reps) != 4 {
		t.Fatalf("%d replicas, want 4: %+v", len(reps), reps)
	}
	accounts := &storage.Accounts{Dir: filepath.Join(dir, "storage"), Regions: galleon.DefaultRegions()}
	for _, rep := range reps {
		if rep.State != galleon.ReplicaCompleted || rep.Progress != 100 {
			t.Errorf("replica %s/%d is %s at %d%%: %s", rep.Region, rep.Index, rep.State, rep.Progress, rep.Details)
			continue
		}
		n := slices.IndexFunc([]int{0, 1, 2, 3}, func(n int) bool { return storage.Name(rep.Region, rep.StorageAccountType, n) == rep.Account })
		if n < 0 {
			t.Fatalf("replica %s/%d lives on account %s, which is not one of the region's first four", rep.Region, rep.Index, rep.Account)
		}
		bs, err := accounts.Open(rep.Region, rep.StorageAccountType, n)
		if err != nil {
			t.Fatal(err)
		}
		m, err := manifest.Load(ctx, bs, disks.OSDisk.Manifest)
		if err != nil {
			t.Errorf("replica %s/%d: %v", rep.Region, rep.Index, err)
			continue
		}
		h := sha256.New()
		if _, err := manifest.NewReader(ctx, bs, m).WriteTo(h); err != nil || [32]byte(h.Sum(nil)) != want {
			t.Errorf("replica %s/%d does not read back as the upload: %v", rep.Region, rep.Index, err)
		}
	}
	counts, err := st.CountJobs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for kind, by := range counts {
		if by[galleon.JobFailed] > 0 || by[galleon.JobQueued] > 0 || by[galleon.JobRunning] > 0 {
			t.Errorf("jobs of kind %s left unfinished or failed: %v", kind, by)
		}
	}
}
