package blobapi_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	"github.com/galleonhq/galleon/manifest"
)

func blockID(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestBlockBlobWithSDK(t *testing.T) {
	e := MustOpenEnv(t)
	ctx := context.Background()

	t.Run("UploadBuffer", func(t *testing.T) {
		// One Put Blob (the SDK sends blobs up to 256 MiB in one call).
		data := randomBytes(20, 1000)
		c := e.blockClient(t, e.url("small.bin", "rcw"))
		if _, err := c.UploadBuffer(ctx, data, &blockblob.UploadBufferOptions{
			Metadata: map[string]*string{"k": ptr("v")}, HTTPHeaders: &blob.HTTPHeaders{BlobContentType: ptr("text/plain")},
		}); err != nil {
			t.Fatal(err)
		}
		wantBytes(t, "content", download(t, c.BlobClient()), data)
		p, err := c.GetProperties(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if *p.ContentLength != 1000 || *p.BlobType != blob.BlobTypeBlockBlob || *p.ContentType != "text/plain" || p.Metadata["K"] == nil {
			t.Fatalf("properties: length %d type %s content type %s metadata %v", *p.ContentLength, *p.BlobType, *p.ContentType, p.Metadata)
		}
		if p.BlobSequenceNumber != nil {
			t.Fatalf("a block blob has sequence number %d", *p.BlobSequenceNumber)
		}
	})

	t.Run("UploadFile", func(t *testing.T) {
		data := randomBytes(21, 5*MiB+7)
		clear(data[MiB : 2*MiB]) // a zero stretch inside a block
		path := filepath.Join(t.TempDir(), "f")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		c := e.blockClient(t, e.url("dir/sub/file.vhd", "rcw"))
		if _, err := c.UploadFile(ctx, f, &blockblob.UploadFileOptions{BlockSize: MiB}); err != nil {
			t.Fatal(err)
		}
		wantBytes(t, "content", download(t, c.BlobClient()), data)
	})

	t.Run("UploadStream", func(t *testing.T) {
		// Put Block of odd-sized chunks, then Put Block List; the server
		// re-cuts them into 4 MiB blocks.
		data := randomBytes(22, 9*MiB+333)
		clear(data[4*MiB : 8*MiB]) // one whole zero block
		c := e.blockClient(t, e.url("stream.raw", "rcw"))
		if _, err := c.UploadStream(ctx, bytes.NewReader(data), &blockblob.UploadStreamOptions{BlockSize: MiB + 100, Concurrency: 3}); err != nil {
			t.Fatal(err)
		}
		wantBytes(t, "content", download(t, c.BlobClient()), data)
		bl, err := c.GetBlockList(ctx, blockblob.BlockListTypeAll, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(bl.CommittedBlocks) != 9 || len(bl.UncommittedBlocks) != 0 || *bl.CommittedBlocks[0].Size != MiB+100 {
			t.Fatalf("block list: %d committed (first %d bytes), %d uncommitted; want 9 of %d bytes and none",
				len(bl.CommittedBlocks), *bl.CommittedBlocks[0].Size, len(bl.UncommittedBlocks), MiB+100)
		}
		b, err := e.store.GetBlob(ctx, account, cont, "stream.raw")
		if err != nil {
			t.Fatal(err)
		}
		mf, bs, err := e.srv.Manifest(ctx, b)
		if err != nil {
			t.Fatal(err)
		}
		if err := manifest.Validate(mf); err != nil {
			t.Fatal(err)
		}
		if mf.Size != 9*MiB+512 || len(mf.Blocks) != 2 {
			t.Fatalf("manifest: size %d with %d blocks, want %d (padded to 512) with 2 (the zero block left out)", mf.Size, len(mf.Blocks), 9*MiB+512)
		}
		got := make([]byte, mf.Size)
		if _, err := manifest.NewReader(ctx, bs, mf).ReadAt(got, 0); err != nil {
			t.Fatal(err)
		}
		wantBytes(t, "manifest content", got, append(bytes.Clone(data), make([]byte, 512-333)...))
	})

	t.Run("CommittedAndUncommitted", func(t *testing.T) {
		c := e.blockClient(t, e.url("lists", "rcw"))
		a, b, cc := randomBytes(23, 3000), randomBytes(24, 5*MiB), randomBytes(25, 700)
		stage := func(id string, data []byte) {
			t.Helper()
			if _, err := c.StageBlock(ctx, blockID(id), streaming.NopCloser(bytes.NewReader(data)), &blockblob.StageBlockOptions{
				TransactionalValidation: blob.TransferValidationTypeComputeCRC64(),
			}); err != nil {
				t.Fatal(err)
			}
		}
		stage("a", a)
		stage("b", b)
		if _, err := c.CommitBlockList(ctx, []string{blockID("a"), blockID("b")}, nil); err != nil {
			t.Fatal(err)
		}
		wantBytes(t, "first commit", download(t, c.BlobClient()), append(bytes.Clone(a), b...))
		stage("c", cc)
		stage("a", cc) // an uncommitted "a" beside the committed one
		// Raw Put Block List to choose Committed/Uncommitted/Latest.
		list := `<?xml version="1.0" encoding="utf-8"?><BlockList><Committed>` + blockID("b") + `</Committed><Uncommitted>` +
			blockID("c") + `</Uncommitted><Committed>` + blockID("a") + `</Committed><Latest>` + blockID("a") + `</Latest></BlockList>`
		resp, body := e.do(t, http.MethodPut, withQuery(e.url("lists", "rcw"), "comp", "blocklist"), nil, []byte(list))
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("Put Block List: %d %s", resp.StatusCode, body)
		}
		want := bytes.Join([][]byte{b, cc, a, cc}, nil)
		wantBytes(t, "second commit", download(t, c.BlobClient()), want)
		bl, err := c.GetBlockList(ctx, blockblob.BlockListTypeAll, nil)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, x := range bl.CommittedBlocks {
			names = append(names, *x.Name)
		}
		if len(names) != 4 || names[0] != blockID("b") || names[3] != blockID("a") || len(bl.UncommittedBlocks) != 0 {
			t.Fatalf("block list after commit: committed %v, %d uncommitted", names, len(bl.UncommittedBlocks))
		}
		_, err = c.CommitBlockList(ctx, []string{blockID("nope")}, nil)
		if !isCode(err, "InvalidBlockList") {
			t.Fatalf("committing an unknown block: %v, want InvalidBlockList", err)
		}
	})
}

// TestRestartKeepsData restarts the server on the same store and
// directories between staging and committing.
func TestRestartKeepsData(t *testing.T) {
	e := MustOpenEnv(t)
	ctx := context.Background()
	page := randomBytes(30, 4*MiB+512)
	pc := e.pageClient(t, e.url("disk", "rcw"))
	if _, err := pc.Create(ctx, int64(len(page)), nil); err != nil {
		t.Fatal(err)
	}
	for _, r := range []blob.HTTPRange{{Offset: 0, Count: 4 * MiB}, {Offset: 4 * MiB, Count: 512}} {
		body := streaming.NopCloser(bytes.NewReader(page[r.Offset : r.Offset+r.Count]))
		if _, err := pc.UploadPages(ctx, body, r, nil); err != nil {
			t.Fatal(err)
		}
	}
	one, two := randomBytes(31, 6*MiB), randomBytes(32, 1234)
	bc := e.blockClient(t, e.url("vhd", "rcw"))
	for id, data := range map[string][]byte{"one": one, "two": two} {
		if _, err := bc.StageBlock(ctx, blockID(id), streaming.NopCloser(bytes.NewReader(data)), nil); err != nil {
			t.Fatal(err)
		}
	}

	e.restart(t)
	pc = e.pageClient(t, e.url("disk", "r"))
	wantBytes(t, "page blob after restart", download(t, pc.BlobClient()), page)
	bc = e.blockClient(t, e.url("vhd", "rcw"))
	bl, err := bc.GetBlockList(ctx, blockblob.BlockListTypeUncommitted, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(bl.UncommittedBlocks) != 2 {
		t.Fatalf("%d uncommitted blocks after restart, want 2", len(bl.UncommittedBlocks))
	}
	if _, err := bc.CommitBlockList(ctx, []string{blockID("two"), blockID("one")}, nil); err != nil {
		t.Fatal(err)
	}
	e.restart(t)
	bc = e.blockClient(t, e.url("vhd", "r"))
	wantBytes(t, "block blob after restart", download(t, bc.BlobClient()), append(bytes.Clone(two), one...))
}
