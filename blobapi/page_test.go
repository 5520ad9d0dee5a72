package blobapi_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"
	"sync"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/pageblob"
	"github.com/galleonhq/galleon"
	"github.com/galleonhq/galleon/blobapi"
	"github.com/galleonhq/galleon/manifest"
)

// pageModel is what a page blob should hold.
type pageModel struct {
	data []byte
}

func (m *pageModel) write(off int64, p []byte) { copy(m.data[off:], p) }

// wantRanges is the page ranges the model has at 4 MiB block granularity.
func (m *pageModel) wantRanges() [][2]int64 {
	var out [][2]int64
	for lo := int64(0); lo < int64(len(m.data)); lo += galleon.DefaultBlockSize {
		hi := min(lo+galleon.DefaultBlockSize, int64(len(m.data)))
		if bytes.Count(m.data[lo:hi], []byte{0}) == int(hi-lo) {
			continue
		}
		if k := len(out) - 1; k >= 0 && out[k][1]+1 == lo {
			out[k][1] = hi - 1
			continue
		}
		out = append(out, [2]int64{lo, hi - 1})
	}
	return out
}

func pageRanges(t *testing.T, c *pageblob.Client) [][2]int64 {
	t.Helper()
	var out [][2]int64
	pager := c.NewGetPageRangesPager(nil)
	for pager.More() {
		page, err := pager.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range page.PageRange {
			out = append(out, [2]int64{*r.Start, *r.End})
		}
	}
	return out
}

func TestPageBlobWithSDK(t *testing.T) {
	e := MustOpenEnv(t)
	ctx := context.Background()
	const size = 12*MiB + 1536 // three whole blocks and a partial one
	c := e.pageClient(t, e.url("upload/disk.vhd", "rw"))
	if _, err := c.Create(ctx, size, &pageblob.CreateOptions{
		Metadata:    map[string]*string{"purpose": ptr("test")},
		HTTPHeaders: &blob.HTTPHeaders{BlobContentType: ptr("application/x-vhd")},
	}); err != nil {
		t.Fatal(err)
	}
	m := &pageModel{data: make([]byte, size)}

	steps := []struct {
		name  string
		off   int64
		data  []byte
		clear int64
		crc   bool
	}{
		{name: "WholeBlock", off: 4 * MiB, data: randomBytes(1, 4*MiB)},
		{name: "PartialBlock", off: 1536, data: randomBytes(2, 1024)},
		{name: "AcrossTwoBlocks", off: 4*MiB - 1024, data: randomBytes(3, 2048), crc: true},
		{name: "OverwriteInside", off: 4*MiB + 512, data: randomBytes(4, 512)},
		{name: "LastPartialBlock", off: 12 * MiB, data: randomBytes(5, 1536)},
		{name: "ZerosRemoveBlock", off: 8 * MiB, data: make([]byte, 4*MiB)},
		{name: "ThirdBlock", off: 8*MiB + 4096, data: randomBytes(6, 8192)},
		{name: "ClearPart", off: 4*MiB + 1024, clear: 2048},
		{name: "ClearWholeBlock", off: 8 * MiB, clear: 4 * MiB},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if st.clear > 0 {
				if _, err := c.ClearPages(ctx, blob.HTTPRange{Offset: st.off, Count: st.clear}, nil); err != nil {
					t.Fatal(err)
				}
				m.write(st.off, make([]byte, st.clear))
			} else {
				opts := &pageblob.UploadPagesOptions{}
				if st.crc {
					opts.TransactionalValidation = blob.TransferValidationTypeComputeCRC64()
				}
				resp, err := c.UploadPages(ctx, streaming.NopCloser(bytes.NewReader(st.data)), blob.HTTPRange{Offset: st.off, Count: int64(len(st.data))}, opts)
				if err != nil {
					t.Fatal(err)
				}
				if resp.ETag == nil || resp.ContentMD5 == nil {
					t.Fatalf("Put Page answered without ETag or Content-MD5: %+v", resp)
				}
				m.write(st.off, st.data)
			}
			wantBytes(t, "blob content", download(t, c.BlobClient()), m.data)
		})
	}

	t.Run("Ranges", func(t *testing.T) {
		for _, r := range []blob.HTTPRange{
			{Offset: 0, Count: 512},
			{Offset: 4*MiB - 100, Count: 300},
			{Offset: 12*MiB + 1000, Count: 0},  // to the end
			{Offset: 5 * MiB, Count: 20 * MiB}, // clipped at the end
		} {
			resp, err := c.DownloadStream(ctx, &blob.DownloadStreamOptions{Range: r})
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			end := int64(size)
			if r.Count > 0 {
				end = min(end, r.Offset+r.Count)
			}
			wantBytes(t, "range "+strconv.FormatInt(r.Offset, 10), got, m.data[r.Offset:end])
			if want := "bytes " + strconv.FormatInt(r.Offset, 10) + "-" + strconv.FormatInt(end-1, 10) + "/" + strconv.Itoa(size); resp.ContentRange == nil || *resp.ContentRange != want {
				t.Fatalf("Content-Range = %v, want %s", resp.ContentRange, want)
			}
		}
		buf := make([]byte, size)
		if _, err := c.BlobClient().DownloadBuffer(ctx, buf, &blob.DownloadBufferOptions{BlockSize: 3 * MiB, Concurrency: 2}); err != nil {
			t.Fatal(err)
		}
		wantBytes(t, "DownloadBuffer", buf, m.data)
	})

	t.Run("Properties", func(t *testing.T) {
		p, err := c.GetProperties(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if *p.ContentLength != size || *p.BlobType != blob.BlobTypePageBlob || *p.ContentType != "application/x-vhd" ||
			p.BlobSequenceNumber == nil || *p.BlobSequenceNumber != 0 || p.ETag == nil || p.LastModified == nil || *p.AcceptRanges != "bytes" {
			t.Fatalf("properties = length %v type %v content type %v seq %v etag %v", *p.ContentLength, *p.BlobType, *p.ContentType, p.BlobSequenceNumber, p.ETag)
		}
		if v := p.Metadata["Purpose"]; v == nil || *v != "test" {
			t.Fatalf("metadata = %v, want purpose=test", p.Metadata)
		}
	})

	t.Run("PageRanges", func(t *testing.T) {
		got, want := pageRanges(t, c), m.wantRanges()
		if len(want) == 0 || len(got) != len(want) {
			t.Fatalf("page ranges = %v, want %v", got, want)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("page ranges = %v, want %v", got, want)
			}
		}
	})

	t.Run("Resize", func(t *testing.T) {
		resize := func(n int64) {
			t.Helper()
			if _, err := c.Resize(ctx, n, nil); err != nil {
				t.Fatal(err)
			}
			grown := make([]byte, n)
			copy(grown, m.data)
			m.data = grown
			wantBytes(t, "after resize to "+strconv.FormatInt(n, 10), download(t, c.BlobClient()), m.data)
		}
		resize(20 * MiB)
		resize(4*MiB + 1024) // the kept part of block 1 must read back, the rest is gone
		resize(9 * MiB)      // and regrowing shows zeros, not the old bytes
		// The last block is writable at its new length.
		data := randomBytes(7, 4*MiB)
		if _, err := c.UploadPages(ctx, streaming.NopCloser(bytes.NewReader(data)), blob.HTTPRange{Offset: 5 * MiB, Count: 4 * MiB}, nil); err != nil {
			t.Fatal(err)
		}
		m.write(5*MiB, data)
		wantBytes(t, "after write past old end", download(t, c.BlobClient()), m.data)
	})

	t.Run("Manifest", func(t *testing.T) {
		b, err := e.store.GetBlob(ctx, account, cont, "upload/disk.vhd")
		if err != nil {
			t.Fatal(err)
		}
		mf, bs, err := e.srv.Manifest(ctx, b)
		if err != nil {
			t.Fatal(err)
		}
		if err := manifest.Validate(mf); err != nil {
			t.Fatalf("manifest is not valid: %v", err)
		}
		got := make([]byte, mf.Size)
		if _, err := manifest.NewReader(ctx, bs, mf).ReadAt(got, 0); err != nil {
			t.Fatal(err)
		}
		wantBytes(t, "manifest content", got, m.data)
	})

	t.Run("Delete", func(t *testing.T) {
		if _, err := c.Delete(ctx, nil); !isCode(err, "AuthorizationPermissionMismatch") {
			t.Fatalf("delete with an rw SAS: %v, want AuthorizationPermissionMismatch", err)
		}
		d := e.pageClient(t, e.url("upload/disk.vhd", "d"))
		if _, err := d.Delete(ctx, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := c.GetProperties(ctx, nil); !isCode(err, "BlobNotFound") {
			t.Fatalf("properties after delete: %v, want BlobNotFound", err)
		}
	})
}

// TestPutPageRawLikeAz sends what `az storage blob upload --type page`
// sends: Put Blob, then Put Page with x-ms-range.
func TestPutPageRawLikeAz(t *testing.T) {
	e := MustOpenEnv(t)
	u := e.url("abcd", "rw")
	const size = 8*MiB + 512
	resp, body := e.do(t, http.MethodPut, u, map[string]string{
		"x-ms-blob-type": "PageBlob", "x-ms-blob-content-length": strconv.Itoa(size), "x-ms-version": "2019-02-02",
		"x-ms-client-request-id": "az-123",
	}, nil)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("Put Blob: %d %s", resp.StatusCode, body)
	}
	for _, h := range []string{"x-ms-request-id", "ETag", "Last-Modified", "Date"} {
		if resp.Header.Get(h) == "" {
			t.Fatalf("Put Blob answer lacks %s: %v", h, resp.Header)
		}
	}
	if resp.Header.Get("x-ms-version") != blobapi.APIVersion || resp.Header.Get("x-ms-client-request-id") != "az-123" {
		t.Fatalf("x-ms-version %q, x-ms-client-request-id %q", resp.Header.Get("x-ms-version"), resp.Header.Get("x-ms-client-request-id"))
	}

	want := make([]byte, size)
	chunk := randomBytes(9, 4*MiB)
	copy(want[4*MiB:], chunk)
	footer := randomBytes(10, 512)
	copy(want[8*MiB:], footer)
	for _, w := range []struct {
		off  int
		data []byte
	}{{4 * MiB, chunk}, {8 * MiB, footer}} {
		resp, body := e.do(t, http.MethodPut, withQuery(u, "comp", "page"), map[string]string{
			"x-ms-page-write": "update",
			"x-ms-range":      "bytes=" + strconv.Itoa(w.off) + "-" + strconv.Itoa(w.off+len(w.data)-1),
		}, w.data)
		if resp.StatusCode != http.StatusCreated || resp.Header.Get("Content-MD5") == "" {
			t.Fatalf("Put Page at %d: %d %s (Content-MD5 %q)", w.off, resp.StatusCode, body, resp.Header.Get("Content-MD5"))
		}
	}
	resp, body = e.do(t, http.MethodGet, u, map[string]string{"x-ms-range": "bytes=4194000-4194999"}, nil)
	if resp.StatusCode != http.StatusPartialContent || resp.Header.Get("Content-Range") != "bytes 4194000-4194999/"+strconv.Itoa(size) {
		t.Fatalf("ranged GET: %d, Content-Range %q", resp.StatusCode, resp.Header.Get("Content-Range"))
	}
	wantBytes(t, "x-ms-range GET", body, want[4194000:4195000])
	resp, body = e.do(t, http.MethodGet, u, map[string]string{"Range": "bytes=8388608-"}, nil)
	if resp.StatusCode != http.StatusPartialContent {
		t.Fatalf("Range GET: %d", resp.StatusCode)
	}
	wantBytes(t, "Range GET", body, footer)
	resp, body = e.do(t, http.MethodGet, u, nil, nil)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Length") != strconv.Itoa(size) {
		t.Fatalf("GET: %d, Content-Length %q", resp.StatusCode, resp.Header.Get("Content-Length"))
	}
	wantBytes(t, "GET", body, want)

	// az without --overwrite sends If-None-Match: *, which an existing disk refuses.
	resp, body = e.do(t, http.MethodPut, u, map[string]string{
		"x-ms-blob-type": "PageBlob", "x-ms-blob-content-length": strconv.Itoa(size), "If-None-Match": "*",
	}, nil)
	wantError(t, resp, body, http.StatusConflict, "BlobAlreadyExists")
}

// TestPlatformBlob writes to a blob the platform created (a disk opened
// for upload), with no DefaultRegion, and seals it.
func TestPlatformBlob(t *testing.T) {
	e := MustOpenEnv(t)
	e.srv.DefaultRegion = ""
	ctx := context.Background()
	b := &galleon.Blob{Account: account, Container: cont, Name: "disk1", Kind: galleon.PageBlob, Region: "westus2", Size: 4*MiB + 512, BlockSize: galleon.DefaultBlockSize}
	if err := e.store.PutBlob(ctx, b); err != nil {
		t.Fatal(err)
	}
	c := e.pageClient(t, e.url("disk1", "rcw"))
	data := randomBytes(11, 512)
	if _, err := c.UploadPages(ctx, streaming.NopCloser(bytes.NewReader(data)), blob.HTTPRange{Offset: 4 * MiB, Count: 512}, nil); err != nil {
		t.Fatal(err)
	}
	got := download(t, c.BlobClient())
	wantBytes(t, "tail", got[4*MiB:], data)
	west, err := e.blockStore("westus2")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := west.StatBlock(ctx, digest(data)); err != nil {
		t.Fatalf("the block is not in the block store of the blob's region: %v", err)
	}

	t.Run("NoNewBlobs", func(t *testing.T) {
		other := e.pageClient(t, e.url("not-a-disk", "rcw"))
		if _, err := other.Create(ctx, 512, nil); !isCode(err, "BlobNotFound") {
			t.Fatalf("creating a blob without DefaultRegion: %v, want BlobNotFound", err)
		}
	})

	t.Run("Sealed", func(t *testing.T) {
		b, err := e.store.GetBlob(ctx, account, cont, "disk1")
		if err != nil {
			t.Fatal(err)
		}
		b.Sealed = true
		if err := e.store.UpdateBlob(ctx, b); err != nil {
			t.Fatal(err)
		}
		_, err = c.UploadPages(ctx, streaming.NopCloser(bytes.NewReader(data)), blob.HTTPRange{Offset: 0, Count: 512}, nil)
		if !isCode(err, "BlobIsSealed") || !bytes.Contains([]byte(err.Error()), []byte("write access has ended")) {
			t.Fatalf("Put Page on a sealed blob: %v, want BlobIsSealed saying write access has ended", err)
		}
		for name, op := range map[string]func() error{
			"PutBlob": func() error { _, err := c.Create(ctx, 512, nil); return err },
			"Resize":  func() error { _, err := c.Resize(ctx, 8*MiB, nil); return err },
			"Clear":   func() error { _, err := c.ClearPages(ctx, blob.HTTPRange{Offset: 0, Count: 512}, nil); return err },
			"Delete": func() error {
				_, err := e.pageClient(t, e.url("disk1", "d")).Delete(ctx, nil)
				return err
			},
		} {
			if err := op(); !isCode(err, "BlobIsSealed") {
				t.Fatalf("%s on a sealed blob: %v, want BlobIsSealed", name, err)
			}
		}
		wantBytes(t, "sealed blob still reads", download(t, c.BlobClient())[4*MiB:], data)
	})
}

// TestConcurrentPageWrites writes many pages of the same blocks at once;
// none may be lost.
func TestConcurrentPageWrites(t *testing.T) {
	e := MustOpenEnv(t)
	ctx := context.Background()
	const size = 8 * MiB
	c := e.pageClient(t, e.url("concurrent", "rw"))
	if _, err := c.Create(ctx, size, nil); err != nil {
		t.Fatal(err)
	}
	want := make([]byte, size)
	type write struct {
		off  int64
		data []byte
	}
	var writes []write
	for i := range 24 {
		off := int64(i) * 64 * 1024 // partial writes into block 0
		if i%4 == 3 {
			off = 4*MiB + int64(i)*4096 // and into block 1
		}
		w := write{off: off, data: randomBytes(uint64(100+i), 2048)}
		copy(want[w.off:], w.data)
		writes = append(writes, w)
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(writes))
	for _, w := range writes {
		wg.Go(func() {
			_, err := c.UploadPages(ctx, streaming.NopCloser(bytes.NewReader(w.data)), blob.HTTPRange{Offset: w.off, Count: int64(len(w.data))}, nil)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	wantBytes(t, "after concurrent writes", download(t, c.BlobClient()), want)
}

// TestInterruptedResize reads a blob whose last block is stored at full
// length, as a resize leaves it between its steps.
func TestInterruptedResize(t *testing.T) {
	e := MustOpenEnv(t)
	ctx := context.Background()
	b := &galleon.Blob{Account: account, Container: cont, Name: "half", Kind: galleon.PageBlob, Region: region, Size: 4*MiB + 1024, BlockSize: galleon.DefaultBlockSize}
	if err := e.store.PutBlob(ctx, b); err != nil {
		t.Fatal(err)
	}
	full := randomBytes(12, 4*MiB) // block 1 at full length: only its first 1024 bytes are the blob's
	bs, _ := e.blockStore(region)
	if err := bs.PutBlock(ctx, digest(full), full); err != nil {
		t.Fatal(err)
	}
	if err := e.store.SetBlobBlocks(ctx, account, cont, "half", map[int64]string{1: digest(full)}); err != nil {
		t.Fatal(err)
	}
	want := make([]byte, 4*MiB+1024)
	copy(want[4*MiB:], full[:1024])
	c := e.pageClient(t, e.url("half", "rw"))
	wantBytes(t, "content", download(t, c.BlobClient()), want)

	b, _ = e.store.GetBlob(ctx, account, cont, "half")
	mf, mbs, err := e.srv.Manifest(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	if err := manifest.Validate(mf); err != nil {
		t.Fatalf("manifest of a full-length last block is not valid: %v", err)
	}
	got := make([]byte, mf.Size)
	if _, err := manifest.NewReader(ctx, mbs, mf).ReadAt(got, 0); err != nil {
		t.Fatal(err)
	}
	wantBytes(t, "manifest content", got, want)

	// Growing zeroes what lay past the old end.
	if _, err := c.Resize(ctx, 8*MiB, nil); err != nil {
		t.Fatal(err)
	}
	grown := make([]byte, 8*MiB)
	copy(grown, want)
	wantBytes(t, "after growing", download(t, c.BlobClient()), grown)
}

// TestShrinkForgetsBlocks shrinks and regrows a blob whose BlockSize the
// platform left at 0 (the default): the old blocks must not come back.
func TestShrinkForgetsBlocks(t *testing.T) {
	e := MustOpenEnv(t)
	ctx := context.Background()
	if err := e.store.PutBlob(ctx, &galleon.Blob{Account: account, Container: cont, Name: "d", Kind: galleon.PageBlob, Region: region, Size: 8 * MiB}); err != nil {
		t.Fatal(err)
	}
	c := e.pageClient(t, e.url("d", "rw"))
	for off := int64(0); off < 8*MiB; off += 4 * MiB {
		if _, err := c.UploadPages(ctx, streaming.NopCloser(bytes.NewReader(randomBytes(uint64(off), 4*MiB))), blob.HTTPRange{Offset: off, Count: 4 * MiB}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Resize(ctx, 512, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Resize(ctx, 8*MiB, nil); err != nil {
		t.Fatal(err)
	}
	want := make([]byte, 8*MiB)
	copy(want, randomBytes(0, 512))
	wantBytes(t, "after shrinking and growing", download(t, c.BlobClient()), want)
	if got := pageRanges(t, c); len(got) != 1 || got[0] != [2]int64{0, 4*MiB - 1} {
		t.Fatalf("page ranges = %v, want only the first block", got)
	}
}
