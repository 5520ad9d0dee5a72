package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/galleonhq/galleon/diskimage"
)

const (
	// pageChunk is the most one Put Page writes (the Blob API's limit).
	pageChunk = 4 << 20
	// minUploadDisk is the smallest disk Azure accepts for upload.
	minUploadDisk = 20 << 20
	// blobAPIVersion is the x-ms-version of the page writes.
	blobAPIVersion = "2021-08-06"
	// uploadWorkers is how many Put Page requests are in flight.
	uploadWorkers = 2
)

// pushOptions are the inputs of pushImage.
type pushOptions struct {
	File     string
	Version  string
	Location string // default: the image definition's location
	Regions  string // name[=replicas][:storageAccountType],...
	OSType   string // default: the image definition's osType
	KeepDisk bool
	// PollEvery is how often the disk seal and the replication are polled
	// (default one second).
	PollEvery time.Duration
}

func pushCommand(cf *clientFlags) *cobra.Command {
	var ref imageRef
	var opt pushOptions
	cmd := &cobra.Command{
		Use:   "push FILE",
		Short: "Publish a disk image file (raw, VHD, qcow2) as a new image version",
		Long: `Publish a disk image file as a new version of an image definition, in one go:
the file (raw, fixed or dynamic VHD, or qcow2; detected) is uploaded to a
temporary managed disk through a SAS, as Azure disks are, skipping zero and
unallocated ranges; the version is created from the disk and replicated to
--regions; the temporary disk is deleted once the version has succeeded
(--keep-disk keeps it). The disk is the file's logical size rounded up to a
whole MiB (at least 20 MiB), as Azure requires.

--regions lists target regions as NAME[=REPLICAS][:STORAGE_TYPE], e.g.
eastus,westus2=2,japaneast=1:Standard_ZRS (default: the version's location).`,
		Example: `  galleon image push disk.qcow2 -g rg -r gallery -i ubuntu --version 1.0.0 --regions eastus,westus2=2`,
		Args:    cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			opt.File = args[0]
			cl, sub, err := cf.client()
			if err != nil {
				return err
			}
			ref.sub = sub
			return pushImage(c.Context(), cl, ref, opt, newProgressUI(c.ErrOrStderr(), cf.quiet), c.OutOrStdout())
		},
	}
	refFlags(cmd, &ref)
	f := cmd.Flags()
	f.StringVarP(&opt.Version, "version", "e", "", "new version name, MAJOR.MINOR.PATCH (required)")
	f.StringVarP(&opt.Location, "location", "l", "", "the version's location (default: the image definition's)")
	f.StringVar(&opt.Regions, "regions", "", "target regions NAME[=REPLICAS][:STORAGE_TYPE], comma-separated (default: the location)")
	f.StringVar(&opt.OSType, "os-type", "", "Linux or Windows (default: the image definition's)")
	f.BoolVar(&opt.KeepDisk, "keep-disk", false, "keep the temporary upload disk after the version succeeds")
	cmd.MarkFlagRequired("version")
	return cmd
}

// targetRegion is one entry of a version's publishingProfile.targetRegions.
type targetRegion struct {
	Name                 string `json:"name"`
	RegionalReplicaCount int    `json:"regionalReplicaCount,omitempty"`
	StorageAccountType   string `json:"storageAccountType,omitempty"`
}

// parseRegions reads --regions: NAME[=REPLICAS][:STORAGE_TYPE],... The
// version's location must be one of them (Azure's rule, checked here too so
// a mistake costs no upload); empty means just the location.
func parseRegions(s, location string) ([]targetRegion, error) {
	if strings.TrimSpace(s) == "" {
		return []targetRegion{{Name: location}}, nil
	}
	var out []targetRegion
	seen := map[string]bool{}
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		var t targetRegion
		rest, sku, hasSKU := strings.Cut(item, ":")
		name, count, hasCount := strings.Cut(rest, "=")
		t.Name = strings.TrimSpace(name)
		if t.Name == "" {
			return nil, fmt.Errorf("--regions %q: %q names no region; write NAME[=REPLICAS][:STORAGE_TYPE], e.g. westus2=2:Standard_ZRS", s, item)
		}
		if hasCount {
			n, err := strconv.Atoi(strings.TrimSpace(count))
			if err != nil || n < 1 {
				return nil, fmt.Errorf("--regions %q: the replica count of %s must be a whole number of at least 1, not %q", s, t.Name, count)
			}
			t.RegionalReplicaCount = n
		}
		if hasSKU {
			if t.StorageAccountType = strings.TrimSpace(sku); t.StorageAccountType == "" {
				return nil, fmt.Errorf("--regions %q: %s has an empty storage type; use Standard_LRS, Standard_ZRS or Premium_LRS", s, t.Name)
			}
		}
		if seen[strings.ToLower(t.Name)] {
			return nil, fmt.Errorf("--regions %q lists %s twice; give its replicas once, as %s=N", s, t.Name, t.Name)
		}
		seen[strings.ToLower(t.Name)] = true
		out = append(out, t)
	}
	if len(out) == 0 {
		return []targetRegion{{Name: location}}, nil
	}
	if !seen[strings.ToLower(location)] {
		return nil, fmt.Errorf("--regions %q must include the version's location %s (Azure's rule): add it, or pick another --location", s, location)
	}
	return out, nil
}

// checkVersionName accepts MAJOR.MINOR.PATCH, so a typo costs no upload.
func checkVersionName(v string) error {
	if _, ok := parseVersion(v); !ok {
		return fmt.Errorf("--version %q is not a version name: use three whole numbers, MAJOR.MINOR.PATCH, e.g. 1.0.0", v)
	}
	return nil
}

// uploadSize is the disk size a file of logical size bytes is uploaded as:
// rounded up to a whole MiB, at least 20 MiB.
func uploadSize(size int64) int64 {
	return max((size+diskimage.VHDAlignment-1)/diskimage.VHDAlignment*diskimage.VHDAlignment, minUploadDisk)
}

// opStatus is an Azure-AsyncOperation status resource.
type opStatus struct {
	Status string `json:"status"`
	Error  *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func (o *opStatus) err() error {
	if o.Error != nil && o.Error.Message != "" {
		return fmt.Errorf("%s (%s)", o.Error.Message, o.Error.Code)
	}
	return fmt.Errorf("the operation ended %s", o.Status)
}

// pushImage publishes opt.File as version opt.Version of ref (see
// pushCommand). On failure it names the step; the temporary disk is
// deleted unless the version may already be using it.
func pushImage(ctx context.Context, cl *apiClient, ref imageRef, opt pushOptions, ui *progressUI, out io.Writer) (err error) {
	start := time.Now()
	if opt.PollEvery <= 0 {
		opt.PollEvery = time.Second
	}
	if err := checkVersionName(opt.Version); err != nil {
		return err
	}
	f, err := os.Open(opt.File)
	if err != nil {
		return fmt.Errorf("open the disk image: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("open the disk image: %w", err)
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file: give a raw, VHD or qcow2 disk image file", opt.File)
	}
	img, err := diskimage.Open(f, st.Size())
	if err != nil {
		return fmt.Errorf("read %s: %w", opt.File, err)
	}

	// Step 1: the definition gives the defaults; the version must be new.
	var def struct {
		Location   string `json:"location"`
		Properties struct {
			OSType string `json:"osType"`
		} `json:"properties"`
	}
	if err := cl.do(ctx, "GET", ref.path()+"?api-version="+galleryAPI, nil, &def); err != nil {
		return fmt.Errorf("step 1 of 5, find image definition %s: %w", ref, err)
	}
	loc := cmpOr(opt.Location, def.Location)
	osType := cmpOr(opt.OSType, def.Properties.OSType, "Linux")
	targets, err := parseRegions(opt.Regions, loc)
	if err != nil {
		return err
	}
	vpath := ref.versionPath(opt.Version)
	if err := cl.do(ctx, "GET", vpath+"?api-version="+galleryAPI, nil, nil); err == nil {
		return fmt.Errorf("version %s of %s already exists: pick a new version number, or delete it first (az sig image-version delete -g %s -r %s -i %s -e %s)",
			opt.Version, ref, ref.rg, ref.gallery, ref.image, opt.Version)
	} else if statusOf(err) != http.StatusNotFound {
		return fmt.Errorf("step 1 of 5, check version %s of %s: %w", opt.Version, ref, err)
	}

	padded := uploadSize(img.Size)
	ui.Printf("Pushing %s (%s, %s) to %s version %s", filepath.Base(opt.File), img.Format, humanBytes(img.Size), ref, opt.Version)
	if padded != img.Size {
		ui.Printf("note: the disk is padded with zeros from %s to %s (Azure disks are whole MiB, at least 20 MiB)", humanBytes(img.Size), humanBytes(padded))
	}

	// Step 2: a temporary disk to upload into.
	var suffix [4]byte
	_, _ = rand.Read(suffix[:])
	diskName := "galleon-push-" + opt.Version + "-" + hex.EncodeToString(suffix[:])
	diskPath := "/subscriptions/" + url.PathEscape(ref.sub) + "/resourceGroups/" + url.PathEscape(ref.rg) + "/providers/Microsoft.Compute/disks/" + diskName
	var disk struct {
		ID string `json:"id"`
	}
	if err := cl.do(ctx, "PUT", diskPath+"?api-version="+diskAPI, map[string]any{
		"location": loc,
		"tags":     map[string]string{"galleon-push": ref.String() + "/" + opt.Version},
		"properties": map[string]any{
			"osType":       osType,
			"creationData": map[string]any{"createOption": "Upload", "uploadSizeBytes": padded + diskimage.SectorSize},
		},
	}, &disk); err != nil {
		return fmt.Errorf("step 2 of 5, create the upload disk %s in %s: %w", diskName, loc, err)
	}
	if disk.ID == "" {
		disk.ID = diskPath
	}
	versionStarted := false
	defer func() {
		if err != nil && ctx.Err() != nil {
			err = fmt.Errorf("canceled: %w", err)
		}
		switch {
		case err == nil:
		case opt.KeepDisk:
			ui.Printf("The upload disk %s is kept (--keep-disk).", disk.ID)
		case versionStarted:
			ui.Printf("The upload disk %s is kept: the version may still be reading it. Delete it once the version is done: az disk delete -g %s -n %s", disk.ID, ref.rg, diskName)
		default:
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			if derr := cl.do(dctx, "DELETE", diskPath+"?api-version="+diskAPI, nil, nil); derr != nil {
				ui.Printf("Could not delete the upload disk %s: %v; delete it with: az disk delete -g %s -n %s", disk.ID, derr, ref.rg, diskName)
			} else {
				ui.Printf("Deleted the upload disk %s.", diskName)
			}
		}
	}()

	// Step 3: upload the content and the VHD footer through a SAS.
	var access struct {
		AccessSAS string `json:"accessSAS"`
	}
	if err := cl.do(ctx, "POST", diskPath+"/beginGetAccess?api-version="+diskAPI, map[string]any{"access": "Write", "durationInSeconds": 86400}, &access); err != nil {
		return fmt.Errorf("step 3 of 5, get write access to disk %s: %w", diskName, err)
	}
	if access.AccessSAS == "" {
		return fmt.Errorf("step 3 of 5, get write access to disk %s: the server sent no accessSAS", diskName)
	}
	ui.phase()
	m := ui.bytesMeter("upload", padded+diskimage.SectorSize, 0)
	err = uploadDisk(ctx, cl.transfer, access.AccessSAS, img, padded, m)
	m.Done(err == nil)
	ui.wait()
	if err != nil {
		return fmt.Errorf("step 3 of 5, upload %s to disk %s: %w", opt.File, diskName, err)
	}

	// Step 4: seal the disk.
	ui.Printf("Sealing disk %s (endGetAccess)", diskName)
	hdr, err := cl.call(ctx, "POST", diskPath+"/endGetAccess?api-version="+diskAPI, nil, nil)
	if err == nil {
		err = waitOperation(ctx, cl, hdr.Get("Azure-AsyncOperation"), opt.PollEvery)
	}
	if err != nil {
		return fmt.Errorf("step 4 of 5, seal disk %s (endGetAccess): %w", diskName, err)
	}

	// Step 5: the version, replicated to every target region.
	hdr, err = cl.call(ctx, "PUT", vpath+"?api-version="+galleryAPI, map[string]any{
		"location": loc,
		"properties": map[string]any{
			"storageProfile":    map[string]any{"osDiskImage": map[string]any{"source": map[string]any{"id": disk.ID}}},
			"publishingProfile": map[string]any{"targetRegions": targets},
		},
	}, nil)
	if err != nil {
		return fmt.Errorf("step 5 of 5, create version %s of %s: %w", opt.Version, ref, err)
	}
	versionStarted = true
	if err := watchReplication(ctx, cl, vpath, hdr.Get("Azure-AsyncOperation"), targets, ui, opt.PollEvery); err != nil {
		return fmt.Errorf("step 5 of 5, replicate version %s of %s: %w", opt.Version, ref, err)
	}

	kept := ""
	if opt.KeepDisk {
		kept = "\nKept the upload disk " + disk.ID + " (--keep-disk)."
	} else if derr := cl.do(ctx, "DELETE", diskPath+"?api-version="+diskAPI, nil, nil); derr != nil {
		kept = fmt.Sprintf("\nCould not delete the upload disk %s: %v; delete it with: az disk delete -g %s -n %s", disk.ID, derr, ref.rg, diskName)
	}
	var names []string
	for _, t := range targets {
		names = append(names, t.Name)
	}
	_, err = fmt.Fprintf(out, "Published %s version %s from %s (%s, %s) to %s in %s.\nID: %s%s\n",
		ref, opt.Version, filepath.Base(opt.File), img.Format, humanBytes(img.Size), strings.Join(names, ", "),
		time.Since(start).Round(time.Second), vpath, kept)
	return err
}

// cmpOr returns the first non-empty string.
func cmpOr(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// uploadDisk writes the logical content of img, zero-padded to padded
// bytes, to the page blob at sas in chunks of up to 4 MiB, two at a time,
// skipping chunks that are unallocated or all zeros; then the fixed-VHD
// footer as the last 512 bytes. m counts the bytes covered.
func uploadDisk(ctx context.Context, hc *http.Client, sas string, img *diskimage.Image, padded int64, m meter) error {
	g, gctx := errgroup.WithContext(ctx)
	offsets := make(chan int64)
	g.Go(func() error {
		defer close(offsets)
		for off := int64(0); off < padded; off += pageChunk {
			select {
			case offsets <- off:
			case <-gctx.Done():
				return gctx.Err()
			}
		}
		return nil
	})
	for range uploadWorkers {
		g.Go(func() error {
			buf := make([]byte, pageChunk)
			for off := range offsets {
				n := min(pageChunk, padded-off)
				data, err := readChunk(img, buf[:n], off)
				if err != nil {
					return err
				}
				if data != nil {
					if err := putPage(gctx, hc, sas, off, data); err != nil {
						return err
					}
				}
				m.Add(n)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	// The footer goes last, alone: it shares a block with the last chunk.
	footer, err := diskimage.FixedVHDFooter(padded, diskimage.VHDOptions{})
	if err != nil {
		return err
	}
	if err := putPage(ctx, hc, sas, padded, footer); err != nil {
		return err
	}
	m.Add(int64(len(footer)))
	return nil
}

// readChunk fills p with the content at off (zeros past the image's end)
// and returns it, or nil if it is unallocated or all zeros.
func readChunk(img *diskimage.Image, p []byte, off int64) ([]byte, error) {
	ln := max(min(int64(len(p)), img.Size-off), 0)
	if ln == 0 {
		return nil, nil
	}
	alloc, err := img.Allocated(off, ln)
	if err != nil || !alloc {
		return nil, err
	}
	if n, err := img.ReadAt(p[:ln], off); int64(n) < ln {
		return nil, fmt.Errorf("read the disk image at offset %d: %w", off, err)
	}
	clear(p[ln:])
	for _, b := range p {
		if b != 0 {
			return p, nil
		}
	}
	return nil, nil
}

// putPage writes data at off with Put Page, trying three times when the
// connection fails or the server is busy.
func putPage(ctx context.Context, hc *http.Client, sas string, off int64, data []byte) error {
	u := sas + "&comp=page"
	if !strings.Contains(sas, "?") {
		u = sas + "?comp=page"
	}
	var last error
	for attempt := 1; attempt <= 3; attempt++ {
		req, err := http.NewRequestWithContext(ctx, "PUT", u, bytes.NewReader(data))
		if err != nil {
			return err
		}
		req.ContentLength = int64(len(data))
		req.Header.Set("x-ms-page-write", "update")
		req.Header.Set("x-ms-range", fmt.Sprintf("bytes=%d-%d", off, off+int64(len(data))-1))
		req.Header.Set("x-ms-version", blobAPIVersion)
		resp, err := hc.Do(req)
		retry := true
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
			if resp.StatusCode < 300 {
				return nil
			}
			err = blobError(resp, body)
			retry = resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests
		}
		last = fmt.Errorf("write bytes %d-%d: %w", off, off+int64(len(data))-1, err)
		if !retry || ctx.Err() != nil {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Duration(attempt) * time.Second):
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return last
}

// blobError reads the Blob API's XML error.
func blobError(resp *http.Response, body []byte) error {
	var e struct {
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	}
	if xml.Unmarshal(body, &e) == nil && e.Code != "" {
		return fmt.Errorf("%s (%s, HTTP %d)", strings.TrimSpace(e.Message), e.Code, resp.StatusCode)
	}
	return fmt.Errorf("HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(body)))
}

// waitOperation polls an Azure-AsyncOperation URL until it ends.
func waitOperation(ctx context.Context, cl *apiClient, statusURL string, every time.Duration) error {
	if statusURL == "" {
		return errors.New("the server sent no Azure-AsyncOperation header to follow")
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		var op opStatus
		if err := cl.do(ctx, "GET", statusURL, nil, &op); err != nil {
			return err
		}
		switch op.Status {
		case "Succeeded":
			return nil
		case "Failed", "Canceled":
			return op.err()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// watchReplication shows one meter per target region while the version's
// creation runs, and returns once it has ended.
func watchReplication(ctx context.Context, cl *apiClient, vpath, statusURL string, targets []targetRegion, ui *progressUI, every time.Duration) error {
	ui.phase()
	meters := map[string]meter{}
	for _, t := range targets {
		m := ui.percentMeter(t.Name)
		m.Status("Queued")
		meters[strings.ToLower(t.Name)] = m
	}
	finish := func(ok bool) {
		for _, m := range meters {
			m.Done(ok)
		}
		ui.wait()
	}
	var v versionView
	update := func() error {
		v = versionView{}
		if err := cl.do(ctx, "GET", vpath+"?$expand=ReplicationStatus&api-version="+galleryAPI, nil, &v); err != nil {
			return err
		}
		if st := v.Properties.ReplicationStatus; st != nil {
			for _, s := range st.Summary {
				if m := meters[strings.ToLower(s.Region)]; m != nil {
					m.Status(s.State)
					m.Set(int64(s.Progress))
				}
			}
		}
		return nil
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := update(); err != nil {
			finish(false)
			return err
		}
		var op opStatus
		if statusURL != "" {
			if err := cl.do(ctx, "GET", statusURL, nil, &op); err != nil {
				finish(false)
				return err
			}
		} else {
			op.Status = v.Properties.ProvisioningState
		}
		switch op.Status {
		case "Succeeded":
			_ = update()
			finish(true)
			return nil
		case "Failed", "Canceled":
			finish(false)
			err := op.err()
			if st := v.Properties.ReplicationStatus; st != nil {
				for _, s := range st.Summary {
					if s.Details != "" {
						err = fmt.Errorf("%w; %s: %s", err, s.Region, s.Details)
					}
				}
			}
			return err
		}
		select {
		case <-ctx.Done():
			finish(false)
			return ctx.Err()
		case <-t.C:
		}
	}
}
