package manifest_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/galleonhq/galleon"
	"github.com/galleonhq/galleon/blob/localfs"
	"github.com/galleonhq/galleon/manifest"
)

// copySetup ingests a disk into a fresh source store. Its 25 blocks (the
// last partial) hold 21 non-zero ones, 18 distinct: the pattern block 'p'
// appears 4 times.
func copySetup(t *testing.T) (src *localfs.Store, m *galleon.DiskManifest, content []byte) {
	t.Helper()
	src = openStore(t)
	content = makeDisk(21, 24*bs+1024, bs, "rzsrpr") // last block: partial
	m = ingest(t, src, content, manifest.IngestOptions{BlockSize: bs})
	return src, m, content
}

// distinctN is the number of distinct blocks of copySetup's disk.
const distinctN = 18

func distinctBlocks(m *galleon.DiskManifest) map[string]int64 {
	out := map[string]int64{}
	for _, b := range m.Blocks {
		out[b.Digest] = b.Index
	}
	return out
}

// wantComplete checks that dst holds every block of m and the manifest,
// and streams back the original content.
func wantComplete(t *testing.T, dst galleon.BlockStore, m *galleon.DiskManifest, stats manifest.CopyStats, content []byte) {
	t.Helper()
	got, err := manifest.Load(context.Background(), dst, stats.ManifestDigest)
	if err != nil {
		t.Fatalf("Load the copied manifest: %v", err)
	}
	if !reflect.DeepEqual(got, m) {
		t.Fatal("the copied manifest differs from the original")
	}
	if !bytes.Equal(readAll(t, dst, m), content) {
		t.Fatal("content read from the destination differs from the original")
	}
}

func TestCopy(t *testing.T) {
	ctx := context.Background()
	src, m, content := copySetup(t)
	distinct := distinctBlocks(m)
	if len(distinct) != distinctN || len(m.Blocks) != 21 {
		t.Fatalf("setup: %d distinct of %d blocks; want %d of 21", len(distinct), len(m.Blocks), distinctN)
	}

	// Prefill dst with three of the blocks.
	dst := openStore(t)
	prefilled := map[string]bool{}
	var prefilledBytes int64
	for _, b := range m.Blocks[:3] {
		data, err := src.GetBlock(ctx, b.Digest)
		if err != nil {
			t.Fatal(err)
		}
		if err := dst.PutBlock(ctx, b.Digest, data); err != nil {
			t.Fatal(err)
		}
		prefilled[b.Digest] = true
		prefilledBytes += int64(len(data))
	}
	h := &hookStore{BlockStore: src}
	var lastDone, lastTotal int64
	stats, err := manifest.Copy(ctx, h, dst, m, manifest.CopyOptions{
		Progress: func(done, total int64) { lastDone, lastTotal = done, total },
	})
	if err != nil {
		t.Fatal(err)
	}
	want := manifest.CopyStats{
		BlocksCopied: distinctN - 3, BytesCopied: m.StoredBytes() - 3*bs - prefilledBytes, // the pattern block once
		BlocksPresent: 3, BytesPresent: prefilledBytes,
		ManifestDigest: sha(manifest.Marshal(m)),
	}
	if stats != want {
		t.Fatalf("stats %+v; want %+v", stats, want)
	}
	if lastDone != lastTotal || lastTotal != want.BytesCopied+want.BytesPresent {
		t.Fatalf("last progress %d/%d; want %d/%d", lastDone, lastTotal, want.BytesCopied+want.BytesPresent, want.BytesCopied+want.BytesPresent)
	}
	for _, d := range h.gets {
		if prefilled[d] {
			t.Errorf("block %s, present in the destination, was read from the source", d)
		}
	}
	if len(h.gets) != distinctN-3 {
		t.Errorf("read %d blocks from the source; want %d", len(h.gets), distinctN-3)
	}
	wantComplete(t, dst, m, stats, content)

	t.Run("AgainCopiesNothing", func(t *testing.T) {
		h := &hookStore{BlockStore: src}
		stats, err := manifest.Copy(ctx, h, dst, m, manifest.CopyOptions{Workers: 3})
		if err != nil {
			t.Fatal(err)
		}
		if stats.BlocksCopied != 0 || stats.BlocksPresent != distinctN || len(h.gets) != 0 {
			t.Fatalf("second copy: %+v, %d source reads; want nothing copied", stats, len(h.gets))
		}
	})
	t.Run("EmptyDisk", func(t *testing.T) {
		e := ingest(t, src, make([]byte, 4*bs), manifest.IngestOptions{BlockSize: bs})
		dst := openStore(t)
		stats, err := manifest.Copy(ctx, src, dst, e, manifest.CopyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if stats.BlocksCopied != 0 || stats.BlocksPresent != 0 {
			t.Fatalf("stats %+v; want no blocks", stats)
		}
		wantComplete(t, dst, e, stats, make([]byte, 4*bs))
	})
}

func TestCopyResumable(t *testing.T) {
	ctx := context.Background()
	t.Run("FailingDestination", func(t *testing.T) {
		src, m, content := copySetup(t)
		dst := openStore(t)
		var puts atomic.Int64
		failing := &hookStore{BlockStore: dst, beforePut: func(string) error {
			if puts.Add(1) > 5 {
				return errInjected
			}
			return nil
		}}
		_, err := manifest.Copy(ctx, src, failing, m, manifest.CopyOptions{})
		if !errors.Is(err, errInjected) {
			t.Fatalf("Copy: %v; want the destination's failure", err)
		}
		if !strings.Contains(err.Error(), "block ") {
			t.Errorf("error %q does not name the block", err)
		}
		have := len(storedBlocks(t, dst))
		if have != 5 {
			t.Fatalf("destination holds %d blocks after the failure; want 5", have)
		}
		if _, err := manifest.Load(ctx, dst, sha(manifest.Marshal(m))); galleon.ErrorCode(err) != galleon.ENotFound {
			t.Fatalf("the manifest reached the destination before its blocks: %v", err)
		}
		stats, err := manifest.Copy(ctx, src, dst, m, manifest.CopyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if stats.BlocksCopied != distinctN-5 || stats.BlocksPresent != 5 {
			t.Fatalf("resumed copy: %+v; want %d copied, 5 present", stats, distinctN-5)
		}
		wantComplete(t, dst, m, stats, content)
	})
	t.Run("Canceled", func(t *testing.T) {
		src, m, content := copySetup(t)
		dst := openStore(t)
		cctx, cancel := context.WithCancel(ctx)
		defer cancel()
		_, err := manifest.Copy(cctx, src, dst, m, manifest.CopyOptions{
			Progress: func(done, total int64) {
				if done > total/3 {
					cancel()
				}
			},
		})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Copy: %v; want context.Canceled", err)
		}
		have := len(storedBlocks(t, dst))
		if have == 0 || have >= distinctN {
			t.Fatalf("destination holds %d blocks after the cancel; want some, not all", have)
		}
		stats, err := manifest.Copy(ctx, src, dst, m, manifest.CopyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if stats.BlocksCopied != int64(distinctN-have) || stats.BlocksPresent != int64(have) {
			t.Fatalf("resumed copy: %+v; want %d copied, %d present", stats, distinctN-have, have)
		}
		wantComplete(t, dst, m, stats, content)
	})
}

func TestCopyBadSource(t *testing.T) {
	ctx := context.Background()
	t.Run("ErrCorrupt", func(t *testing.T) {
		src, m, _ := copySetup(t)
		bad := m.Blocks[4]
		corruptBlock(t, src, bad.Digest)
		_, err := manifest.Copy(ctx, src, openStore(t), m, manifest.CopyOptions{})
		if galleon.ErrorCode(err) != galleon.EInternal {
			t.Fatalf("Copy from a corrupt source: %v; want EInternal", err)
		}
		for _, want := range []string{bad.Digest, "block 5 "} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not name %q", err, want)
			}
		}
		if bad.Index != 5 {
			t.Fatalf("setup: the fifth block has index %d; want 5", bad.Index)
		}
	})
	t.Run("ErrMissing", func(t *testing.T) {
		src, m, _ := copySetup(t)
		bad := m.Blocks[len(m.Blocks)-1]
		if err := src.DeleteBlock(ctx, bad.Digest); err != nil {
			t.Fatal(err)
		}
		_, err := manifest.Copy(ctx, src, openStore(t), m, manifest.CopyOptions{})
		if galleon.ErrorCode(err) != galleon.ENotFound || !strings.Contains(err.Error(), bad.Digest) {
			t.Fatalf("Copy with a block missing from the source: %v; want ENotFound naming %s", err, bad.Digest)
		}
	})
	t.Run("ErrInvalidManifest", func(t *testing.T) {
		src, m, _ := copySetup(t)
		bad := *m
		bad.Digest = sha(nil)
		dst := openStore(t)
		_, err := manifest.Copy(ctx, src, dst, &bad, manifest.CopyOptions{})
		wantReason(t, err, galleon.EInvalid, manifest.ReasonInvalidManifest)
		if n := len(storedBlocks(t, dst)); n != 0 {
			t.Fatalf("a refused copy put %d blocks", n)
		}
	})
}

func TestCopyTouchAndRepair(t *testing.T) {
	ctx := context.Background()
	src, m, content := copySetup(t)
	dst := openStore(t)
	if _, err := manifest.Copy(ctx, src, dst, m, manifest.CopyOptions{}); err != nil {
		t.Fatal(err)
	}
	dst.Now = func() time.Time { return t1 }

	t.Run("NoTouch", func(t *testing.T) {
		if _, err := manifest.Copy(ctx, src, dst, m, manifest.CopyOptions{}); err != nil {
			t.Fatal(err)
		}
		for d, mt := range storedBlocks(t, dst) {
			if _, ok := distinctBlocks(m)[d]; ok && !mt.Equal(t0) {
				t.Errorf("block %s ModTime %v; a copy without Touch must leave it at %v", d, mt, t0)
			}
		}
	})
	t.Run("Touch", func(t *testing.T) {
		h := &hookStore{BlockStore: src}
		stats, err := manifest.Copy(ctx, h, dst, m, manifest.CopyOptions{Touch: true})
		if err != nil {
			t.Fatal(err)
		}
		if stats.BlocksPresent != distinctN || stats.BlocksCopied != 0 || len(h.gets) != 0 {
			t.Fatalf("touch copy: %+v, %d source reads; want all present, nothing read from the source", stats, len(h.gets))
		}
		for d := range distinctBlocks(m) {
			info, err := dst.StatBlock(ctx, d)
			if err != nil || !info.ModTime.Equal(t1) {
				t.Errorf("block %s: %+v, %v; want ModTime refreshed to %v", d, info, err, t1)
			}
		}
	})
	t.Run("RepairCorrupt", func(t *testing.T) {
		bad := m.Blocks[0].Digest
		corruptBlock(t, dst, bad)
		stats, err := manifest.Copy(ctx, src, dst, m, manifest.CopyOptions{Touch: true})
		if err != nil {
			t.Fatal(err)
		}
		if stats.BlocksRepaired != 1 || stats.BlocksCopied != 1 || stats.BlocksPresent != distinctN-1 {
			t.Fatalf("stats %+v; want one block repaired", stats)
		}
		if _, err := dst.GetBlock(ctx, bad); err != nil {
			t.Fatalf("repaired block: %v", err)
		}
	})
	t.Run("RepairTruncated", func(t *testing.T) {
		bad := m.Blocks[1].Digest
		if err := os.Truncate(blockPath(dst, bad), 100); err != nil {
			t.Fatal(err)
		}
		stats, err := manifest.Copy(ctx, src, dst, m, manifest.CopyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if stats.BlocksRepaired != 1 || stats.BlocksCopied != 1 {
			t.Fatalf("stats %+v; want one block repaired", stats)
		}
		if !bytes.Equal(readAll(t, dst, m), content) {
			t.Fatal("content differs after the repair")
		}
	})
}
