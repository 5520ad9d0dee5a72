package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/galleonhq/galleon"
	"github.com/galleonhq/galleon/diskimage"
	"github.com/galleonhq/galleon/manifest"
)

// pullOptions are the inputs of pullImage.
type pullOptions struct {
	Version string // a name or "latest"
	Region  string
	Format  string // raw, vhd or qcow2
	Output  string
}

func pullCommand(cf *clientFlags) *cobra.Command {
	var ref imageRef
	var opt pullOptions
	cmd := &cobra.Command{
		Use:   "pull",
		Short: "Download an image version's OS disk as raw, VHD or qcow2, verified",
		Long: `Download an image version's OS disk to -o FILE as raw (default), a fixed VHD
or qcow2. The download goes to FILE.part and becomes FILE once its content
matches the server's whole-disk digest; a file that does not match is deleted.
An interrupted raw or VHD download resumes from FILE.part when run again.`,
		Example: `  galleon image pull -g rg -r gallery -i ubuntu --version latest --region westus2 --format qcow2 -o ubuntu.qcow2`,
		Args:    cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			cl, sub, err := cf.client()
			if err != nil {
				return err
			}
			ref.sub = sub
			return pullImage(c.Context(), cl, ref, opt, newProgressUI(c.ErrOrStderr(), cf.quiet), c.OutOrStdout())
		},
	}
	refFlags(cmd, &ref)
	f := cmd.Flags()
	f.StringVarP(&opt.Version, "version", "e", "", "version name, or latest (required)")
	f.StringVar(&opt.Region, "region", "", "download from a replica in this region (and resolve latest there)")
	f.StringVar(&opt.Format, "format", "raw", "file format: raw, vhd (fixed) or qcow2")
	f.StringVarP(&opt.Output, "output", "o", "", "file to write (required)")
	cmd.MarkFlagRequired("version")
	cmd.MarkFlagRequired("output")
	return cmd
}

// errDigestMismatch marks a download whose content is not the disk the
// server described.
var errDigestMismatch = errors.New("the downloaded disk does not match the server's digest")

// pullImage downloads a version's OS disk (see pullCommand).
func pullImage(ctx context.Context, cl *apiClient, ref imageRef, opt pullOptions, ui *progressUI, out io.Writer) error {
	format := strings.ToLower(opt.Format)
	if format != "raw" && format != "vhd" && format != "qcow2" {
		return fmt.Errorf("--format %q: use raw, vhd or qcow2", opt.Format)
	}
	if opt.Output == "" {
		return errors.New("give the file to write with -o FILE")
	}
	version := opt.Version
	if strings.EqualFold(version, "latest") {
		// Resolve first, so a resumed download continues the same version.
		var v versionView
		if err := cl.do(ctx, "GET", latestPath(ref, opt.Region), nil, &v); err != nil {
			return fmt.Errorf("resolve the latest version of %s: %w", ref, err)
		}
		version = v.Name
		ui.Printf("latest is %s", version)
	}

	part := opt.Output + ".part"
	resumable := format != "qcow2"
	var offset int64
	if st, err := os.Stat(part); err == nil {
		if resumable && st.Size() > 0 {
			offset = st.Size()
			ui.Printf("Resuming %s at %s", part, humanBytes(offset))
		} else if err := os.Remove(part); err != nil {
			return fmt.Errorf("remove the old %s: %w", part, err)
		}
	}
	q := url.Values{"api-version": {galleryAPI}, "format": {format}}
	if opt.Region != "" {
		q.Set("region", opt.Region)
	}
	path := ref.versionPath(version) + "/disks/os/content?" + q.Encode()
	hdr := http.Header{}
	if offset > 0 {
		hdr.Set("Range", fmt.Sprintf("bytes=%d-", offset))
	}
	resp, err := cl.stream(ctx, "GET", path, hdr)
	if statusOf(err) == http.StatusRequestedRangeNotSatisfiable && offset > 0 {
		// FILE.part is not a prefix of this disk's file: start over.
		ui.Printf("%s does not fit this download; starting over", part)
		if err := os.Remove(part); err != nil {
			return err
		}
		offset = 0
		resp, err = cl.stream(ctx, "GET", path, nil)
	}
	if err != nil {
		return fmt.Errorf("download version %s of %s: %w", version, ref, err)
	}
	defer resp.Body.Close()
	digest := resp.Header.Get("x-galleon-disk-digest")
	if digest == "" {
		return fmt.Errorf("download version %s of %s: the reply has no x-galleon-disk-digest header to verify the content with; is %s a Galleon server?", version, ref, cl.creds.Endpoint)
	}
	diskSize, _ := strconv.ParseInt(resp.Header.Get("x-galleon-disk-size"), 10, 64)
	blockSize, _ := strconv.ParseInt(resp.Header.Get("x-galleon-disk-block-size"), 10, 64)
	flags := os.O_CREATE | os.O_WRONLY
	switch {
	case resp.StatusCode == http.StatusPartialContent && offset > 0:
		var start int64
		if _, err := fmt.Sscanf(resp.Header.Get("Content-Range"), "bytes %d-", &start); err != nil || start != offset {
			return fmt.Errorf("download version %s of %s: asked for bytes from %d, got %q", version, ref, offset, resp.Header.Get("Content-Range"))
		}
		flags |= os.O_APPEND
	default:
		offset = 0
		flags |= os.O_TRUNC
	}
	total := offset + max(resp.ContentLength, 0)
	f, err := os.OpenFile(part, flags, 0o644)
	if err != nil {
		return fmt.Errorf("write %s: %w", part, err)
	}
	ui.phase()
	m := ui.bytesMeter("download", total, offset)
	n, err := io.Copy(f, &meteredReader{r: resp.Body, m: m})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && resp.ContentLength >= 0 && n != resp.ContentLength {
		err = fmt.Errorf("the reply ended after %d of %d bytes", n, resp.ContentLength)
	}
	m.Done(err == nil)
	ui.wait()
	if err != nil {
		if resumable {
			return fmt.Errorf("download version %s of %s: %w; %s keeps what arrived: run the same command again to resume", version, ref, err, part)
		}
		os.Remove(part)
		return fmt.Errorf("download version %s of %s: %w", version, ref, err)
	}

	if err := verifyDisk(ctx, part, format, digest, diskSize, blockSize, ui); err != nil {
		os.Remove(part)
		if errors.Is(err, errDigestMismatch) {
			return fmt.Errorf("%w; the download was deleted: run the pull again", err)
		}
		return err
	}
	if err := os.Rename(part, opt.Output); err != nil {
		return fmt.Errorf("rename %s to %s: %w", part, opt.Output, err)
	}
	st, _ := os.Stat(opt.Output)
	size := int64(0)
	if st != nil {
		size = st.Size()
	}
	_, err = fmt.Fprintf(out, "Pulled %s version %s (%s disk) to %s: %s %s file, digest verified.\n",
		ref, version, humanBytes(diskSize), opt.Output, humanBytes(size), format)
	return err
}

// meteredReader counts what passes through it on a meter.
type meteredReader struct {
	r io.Reader
	m meter
}

func (r *meteredReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.m.Add(int64(n))
	return n, err
}

// verifyDisk checks that the file at path, in format, holds a disk of
// wantSize bytes (if > 0) whose whole-disk digest (package manifest) is
// want. A file that is not one returns an error wrapping errDigestMismatch.
func verifyDisk(ctx context.Context, path, format, want string, wantSize, blockSize int64, ui *progressUI) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("verify %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("verify %s: %w", path, err)
	}
	var r io.ReaderAt = f
	size := st.Size()
	var skip func(off, n int64) bool
	if format != "raw" {
		want := map[string]diskimage.Format{"vhd": diskimage.FormatVHDFixed, "qcow2": diskimage.FormatQCOW2}[format]
		img, err := diskimage.Open(f, st.Size())
		if err != nil || img.Format != want {
			if err == nil {
				err = fmt.Errorf("it is %s", img.Format)
			}
			return fmt.Errorf("%s: %w: it is not a readable %s file: %v", path, errDigestMismatch, format, err)
		}
		r, size = img, img.Size
		skip = func(off, n int64) bool {
			ok, err := img.Allocated(off, n)
			return err == nil && !ok
		}
	}
	if wantSize > 0 && size != wantSize {
		return fmt.Errorf("%s: %w: it holds a %d-byte disk, the server's is %d bytes", path, errDigestMismatch, size, wantSize)
	}
	if size%diskimage.SectorSize != 0 {
		return fmt.Errorf("%s: %w: %d bytes is not a whole number of 512-byte sectors", path, errDigestMismatch, size)
	}
	ui.phase()
	m := ui.bytesMeter("verify", size, 0)
	got, err := manifest.Ingest(ctx, discardBlocks{}, r, size, manifest.IngestOptions{
		BlockSize: blockSize, // the digest depends on it; 0 means galleon.DefaultBlockSize
		Progress:  func(done, _ int64) { m.Set(done) },
		Skip:      skip,
	})
	m.Done(err == nil)
	ui.wait()
	if err != nil {
		return fmt.Errorf("verify %s: %w", path, err)
	}
	if got.Digest != want {
		return fmt.Errorf("%s: %w: its digest is %s, the server's %s (corrupted in transit or on disk, or a resumed .part held other content)",
			path, errDigestMismatch, got.Digest, want)
	}
	return nil
}

// discardBlocks is a galleon.BlockStore that keeps nothing: manifest.Ingest
// over it computes a disk's digest without storing the disk.
type discardBlocks struct{}

func (discardBlocks) PutBlock(context.Context, string, []byte) error { return nil }

func (discardBlocks) GetBlock(_ context.Context, digest string) ([]byte, error) {
	return nil, galleon.Errorf(galleon.ENotFound, "block %s is not kept: this store discards every block", digest)
}

func (discardBlocks) StatBlock(_ context.Context, digest string) (galleon.BlockInfo, error) {
	return galleon.BlockInfo{}, galleon.Errorf(galleon.ENotFound, "block %s is not kept: this store discards every block", digest)
}

func (discardBlocks) DeleteBlock(context.Context, string) error { return nil }

func (discardBlocks) DeleteBlockIfOlder(context.Context, string, time.Time) (bool, error) {
	return false, nil
}

func (discardBlocks) ListBlocks(context.Context, func(galleon.BlockInfo) error) error { return nil }

var _ galleon.BlockStore = discardBlocks{}
