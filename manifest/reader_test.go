package manifest_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"testing/iotest"

	"github.com/galleonhq/galleon"
	"github.com/galleonhq/galleon/manifest"
)

func TestReader(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	content := makeDisk(31, 11*bs+1536, bs, "rzzs1r")
	m := ingest(t, s, content, manifest.IngestOptions{BlockSize: bs})

	t.Run("IOTest", func(t *testing.T) {
		// Checks Read, ReadAt and Seek against each other and the content.
		if err := iotest.TestReader(manifest.NewReader(ctx, s, m), content); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("ReadFullSmallBuffers", func(t *testing.T) {
		got, err := io.ReadAll(iotest.OneByteReader(io.LimitReader(manifest.NewReader(ctx, s, m), 3*bs)))
		if err != nil || !bytes.Equal(got, content[:3*bs]) {
			t.Fatalf("ReadAll one byte at a time: %d bytes, %v; want the first 3 blocks", len(got), err)
		}
	})
	t.Run("SeekThenWriteTo", func(t *testing.T) {
		for _, off := range []int64{0, 1, bs - 512, bs, 5*bs + 777, int64(len(content)) - 1, int64(len(content)), int64(len(content)) + 10} {
			r := manifest.NewReader(ctx, s, m)
			if _, err := r.Seek(off, io.SeekStart); err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			n, err := r.WriteTo(&buf)
			want := content[min(off, int64(len(content))):]
			if err != nil || n != int64(len(want)) || !bytes.Equal(buf.Bytes(), want) {
				t.Fatalf("WriteTo from %d: %d, %v; want the %d bytes from there", off, n, err, len(want))
			}
			if pos, _ := r.Seek(0, io.SeekCurrent); pos != max(off, int64(len(content))) {
				t.Fatalf("position %d after WriteTo from %d; want the end", pos, off)
			}
		}
	})
	t.Run("SeekWhence", func(t *testing.T) {
		r := manifest.NewReader(ctx, s, m)
		if pos, err := r.Seek(-512, io.SeekEnd); err != nil || pos != int64(len(content))-512 {
			t.Fatalf("Seek(-512, End) = %d, %v", pos, err)
		}
		if pos, err := r.Seek(-100, io.SeekCurrent); err != nil || pos != int64(len(content))-612 {
			t.Fatalf("Seek(-100, Current) = %d, %v", pos, err)
		}
		if _, err := r.Seek(-1, io.SeekStart); err == nil {
			t.Fatal("Seek to -1 succeeded")
		}
		if _, err := r.Seek(0, 7); err == nil {
			t.Fatal("Seek with whence 7 succeeded")
		}
	})
	t.Run("EOF", func(t *testing.T) {
		r := manifest.NewReader(ctx, s, m)
		size := int64(len(content))
		p := make([]byte, 1024)
		if n, err := r.ReadAt(p, size); n != 0 || err != io.EOF {
			t.Fatalf("ReadAt(Size) = %d, %v; want 0, io.EOF", n, err)
		}
		if n, err := r.ReadAt(p, size+bs); n != 0 || err != io.EOF {
			t.Fatalf("ReadAt past Size = %d, %v; want 0, io.EOF", n, err)
		}
		if n, err := r.ReadAt(p, size-100); n != 100 || err != io.EOF || !bytes.Equal(p[:100], content[size-100:]) {
			t.Fatalf("ReadAt across Size = %d, %v; want 100, io.EOF", n, err)
		}
		if n, err := r.ReadAt(p, -1); n != 0 || err == nil || err == io.EOF {
			t.Fatalf("ReadAt(-1) = %d, %v; want an error", n, err)
		}
		if n, err := r.ReadAt(nil, size); n != 0 || err != nil {
			t.Fatalf("ReadAt(nil, Size) = %d, %v; want 0, nil", n, err)
		}
	})
	t.Run("EmptyDisk", func(t *testing.T) {
		e := ingest(t, s, nil, manifest.IngestOptions{BlockSize: bs})
		r := manifest.NewReader(ctx, s, e)
		if n, err := r.Read(make([]byte, 10)); n != 0 || err != io.EOF {
			t.Fatalf("Read = %d, %v; want 0, io.EOF", n, err)
		}
		if n, err := r.WriteTo(io.Discard); n != 0 || err != nil {
			t.Fatalf("WriteTo = %d, %v; want 0, nil", n, err)
		}
	})
	t.Run("CacheFetchesEachBlockOnce", func(t *testing.T) {
		h := &hookStore{BlockStore: s}
		r := manifest.NewReader(ctx, h, m)
		if _, err := io.Copy(io.Discard, io.NewSectionReader(r, 0, r.Size())); err != nil {
			t.Fatal(err)
		}
		if len(h.gets) != len(m.Blocks) {
			t.Fatalf("streaming with 32 KiB reads fetched %d blocks; want each of the %d once", len(h.gets), len(m.Blocks))
		}

		// Reads straddling blocks 3 and 4, and alternating between them,
		// keep both cached.
		h.gets = nil
		r = manifest.NewReader(ctx, h, m)
		p := make([]byte, 4*kib)
		for k := range 10 {
			off := int64(4*bs - 2*kib)
			if k%2 == 1 {
				off = 3*bs + int64(k)*kib
			}
			if _, err := r.ReadAt(p, off); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(p, content[off:off+int64(len(p))]) {
				t.Fatalf("ReadAt(%d) returned other bytes than the original", off)
			}
		}
		if len(h.gets) != 2 {
			t.Fatalf("10 reads over blocks 3 and 4 fetched %d blocks; want 2", len(h.gets))
		}
	})
	t.Run("Concurrent", func(t *testing.T) {
		r := manifest.NewReader(ctx, s, m)
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() { checkWindows(t, r, content, 50) })
		}
		wg.Wait()
	})
}

func TestReaderErrors(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	content := makeDisk(41, 8*bs, bs, "r")
	m := ingest(t, s, content, manifest.IngestOptions{BlockSize: bs})
	bad := m.Blocks[5]
	corruptBlock(t, s, bad.Digest)

	t.Run("ErrCorruptReadAt", func(t *testing.T) {
		r := manifest.NewReader(ctx, s, m)
		p := make([]byte, 2*bs)
		n, err := r.ReadAt(p, 4*bs)
		if n != bs || galleon.ErrorCode(err) != galleon.EInternal || !strings.Contains(err.Error(), bad.Digest) {
			t.Fatalf("ReadAt over a corrupt block = %d, %v; want %d bytes and EInternal naming %s", n, err, bs, bad.Digest)
		}
	})
	t.Run("ErrCorruptWriteTo", func(t *testing.T) {
		var buf bytes.Buffer
		n, err := manifest.NewReader(ctx, s, m).WriteTo(&buf)
		if n != 5*bs || galleon.ErrorCode(err) != galleon.EInternal || !strings.Contains(err.Error(), "block 5 ") {
			t.Fatalf("WriteTo over a corrupt block = %d, %v; want %d bytes and EInternal naming block 5", n, err, 5*bs)
		}
		if !bytes.Equal(buf.Bytes(), content[:5*bs]) {
			t.Fatal("WriteTo wrote other bytes than the blocks before the corrupt one")
		}
	})
	t.Run("ErrWriter", func(t *testing.T) {
		w := &failAfter{n: bs + 10}
		n, err := manifest.NewReader(ctx, s, m).WriteTo(w)
		if !errors.Is(err, errInjected) || n != bs+10 {
			t.Fatalf("WriteTo to a failing writer = %d, %v; want %d, the writer's error", n, err, bs+10)
		}
	})
	t.Run("ErrCanceled", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		r := manifest.NewReader(cctx, s, m)
		if _, err := r.ReadAt(make([]byte, 10), 0); !errors.Is(err, context.Canceled) {
			t.Fatalf("ReadAt with a canceled context: %v", err)
		}
		if _, err := r.WriteTo(io.Discard); !errors.Is(err, context.Canceled) {
			t.Fatalf("WriteTo with a canceled context: %v", err)
		}
	})
	t.Run("ErrWrongLength", func(t *testing.T) {
		// A manifest claiming a short block's digest for a full block.
		short := bytes.Repeat([]byte{7}, 512)
		if err := s.PutBlock(ctx, sha(short), short); err != nil {
			t.Fatal(err)
		}
		wrong := synthetic(2*bs, bs)
		wrong.Blocks = append(wrong.Blocks, galleon.ManifestBlock{Index: 0, Digest: sha(short)})
		wrong.Digest = specDigest(wrong.Size, wrong.BlockSize, wrong.Blocks)
		_, err := manifest.NewReader(ctx, s, wrong).ReadAt(make([]byte, 10), 0)
		wantReason(t, err, galleon.EInternal, manifest.ReasonBlockSizeMismatch)
	})
}

func TestReaderInvalidSizes(t *testing.T) {
	ctx := context.Background()
	for _, m := range []*galleon.DiskManifest{
		{Size: 4 * bs, BlockSize: 0},
		{Size: 4 * bs, BlockSize: -bs},
		{Size: 1000, BlockSize: bs},
	} {
		r := manifest.NewReader(ctx, openStore(t), m)
		if _, err := r.ReadAt(make([]byte, 10), 0); galleon.ErrorCode(err) != galleon.EInvalid {
			t.Errorf("ReadAt on sizes %d/%d: %v; want EInvalid", m.Size, m.BlockSize, err)
		}
		if _, err := r.WriteTo(io.Discard); galleon.ErrorCode(err) != galleon.EInvalid {
			t.Errorf("WriteTo on sizes %d/%d: %v; want EInvalid", m.Size, m.BlockSize, err)
		}
	}
}

// failAfter accepts n bytes, then fails.
type failAfter struct{ n int }

func (w *failAfter) Write(p []byte) (int, error) {
	if len(p) <= w.n {
		w.n -= len(p)
		return len(p), nil
	}
	k := w.n
	w.n = 0
	return k, errInjected
}

func TestDiff(t *testing.T) {
	m := func(size, blockSize int64, blocks ...galleon.ManifestBlock) *galleon.DiskManifest {
		return &galleon.DiskManifest{Size: size, BlockSize: blockSize, Blocks: blocks}
	}
	b := func(i int64, d string) galleon.ManifestBlock {
		return galleon.ManifestBlock{Index: i, Digest: sha([]byte(d))}
	}
	tests := []struct {
		name string
		a, b *galleon.DiskManifest
		want []int64
	}{
		{"Same", m(4*bs, bs, b(0, "x"), b(2, "y")), m(4*bs, bs, b(0, "x"), b(2, "y")), nil},
		{"Empty", m(4*bs, bs), m(4*bs, bs), nil},
		{"Changed", m(4*bs, bs, b(0, "x"), b(2, "y")), m(4*bs, bs, b(0, "x"), b(2, "z")), []int64{2}},
		{"Added", m(4*bs, bs, b(1, "x")), m(4*bs, bs, b(0, "w"), b(1, "x"), b(3, "v")), []int64{0, 3}},
		{"Removed", m(4*bs, bs, b(0, "w"), b(1, "x"), b(3, "v")), m(4*bs, bs, b(1, "x")), []int64{0, 3}},
		{"Mixed", m(8*bs, bs, b(0, "a"), b(2, "b"), b(5, "c")), m(8*bs, bs, b(1, "a"), b(2, "b"), b(5, "d"), b(7, "e")), []int64{0, 1, 5, 7}},
		{"GrownWithZeros", m(4*bs, bs, b(0, "x")), m(8*bs, bs, b(0, "x")), nil},
		{"GrownWithData", m(4*bs, bs, b(0, "x")), m(8*bs, bs, b(0, "x"), b(6, "y")), []int64{6}},
		{"OtherBlockSize", m(4*bs, bs, b(0, "x")), m(4*bs, 2*bs, b(0, "x")), []int64{0, 1}},
		{"InvalidBlockSize", m(4*bs, 0), m(4*bs, bs), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := manifest.Diff(tt.a, tt.b)
			if len(got) != len(tt.want) {
				t.Fatalf("Diff = %v; want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("Diff = %v; want %v", got, tt.want)
				}
			}
		})
	}
}
