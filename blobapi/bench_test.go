package blobapi_test

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
)

// BenchmarkPutPage measures 4 MiB page uploads (whole blocks) through the
// SDK and TLS, the shape az and the SDK upload disks in.
func BenchmarkPutPage(b *testing.B) {
	e := MustOpenEnv(b)
	ctx := context.Background()
	const blocks = 16
	c := e.pageClient(b, e.url("bench", "rcw"))
	if _, err := c.Create(ctx, blocks*4*MiB, nil); err != nil {
		b.Fatal(err)
	}
	data := randomBytes(1, 4*MiB)
	b.SetBytes(4 * MiB)
	b.ResetTimer()
	for i := range b.N {
		data[0] = byte(i) // a new block each time
		data[1] = byte(i >> 8)
		off := int64(i%blocks) * 4 * MiB
		if _, err := c.UploadPages(ctx, streaming.NopCloser(bytes.NewReader(data)), blob.HTTPRange{Offset: off, Count: 4 * MiB}, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGetBlob measures streaming a 64 MiB blob out.
func BenchmarkGetBlob(b *testing.B) {
	e := MustOpenEnv(b)
	ctx := context.Background()
	const blocks = 16
	c := e.pageClient(b, e.url("bench", "rcw"))
	if _, err := c.Create(ctx, blocks*4*MiB, nil); err != nil {
		b.Fatal(err)
	}
	for i := range blocks {
		if _, err := c.UploadPages(ctx, streaming.NopCloser(bytes.NewReader(randomBytes(uint64(i), 4*MiB))), blob.HTTPRange{Offset: int64(i) * 4 * MiB, Count: 4 * MiB}, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(blocks * 4 * MiB)
	b.ResetTimer()
	for range b.N {
		resp, err := c.DownloadStream(ctx, nil)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
	}
}
