package manifest_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/galleonhq/galleon"
	"github.com/galleonhq/galleon/manifest"
)

// synthetic returns a valid manifest of a disk of size bytes listing the
// given block indexes with made-up digests (content that need not exist).
func synthetic(size, blockSize int64, indexes ...int64) *galleon.DiskManifest {
	m := &galleon.DiskManifest{Size: size, BlockSize: blockSize, Blocks: []galleon.ManifestBlock{}}
	for _, i := range indexes {
		m.Blocks = append(m.Blocks, galleon.ManifestBlock{Index: i, Digest: sha([]byte(fmt.Sprint("block", i)))})
	}
	m.Digest = specDigest(size, blockSize, m.Blocks)
	return m
}

func TestMarshalRoundTrip(t *testing.T) {
	s := openStore(t)
	tests := []struct {
		name string
		m    *galleon.DiskManifest
	}{
		{"Empty", synthetic(0, bs)},
		{"Zeros", synthetic(100*bs, bs)},
		{"Ingested", ingest(t, s, makeDisk(1, 9*bs+512, bs, "rzs"), manifest.IngestOptions{BlockSize: bs})},
		{"LastBlockOnly", synthetic(5*bs+1024, bs, 5)},
		{"Synthetic", synthetic(1000*bs, bs, 0, 1, 2, 500, 999)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enc := manifest.Marshal(tt.m)
			if len(enc) != 64+40*len(tt.m.Blocks) || len(enc) != manifest.EncodedLen(len(tt.m.Blocks)) {
				t.Fatalf("encoding is %d bytes; want 64+40*%d", len(enc), len(tt.m.Blocks))
			}
			got, err := manifest.Unmarshal(enc)
			if err != nil {
				t.Fatalf("Unmarshal: %v", err)
			}
			if !reflect.DeepEqual(got, tt.m) {
				t.Fatalf("round trip gave %+v; want %+v", got, tt.m)
			}
		})
	}
}

func TestMarshalLayout(t *testing.T) {
	// Checks the documented byte layout against an independent encoder.
	m := synthetic(7*bs, bs, 2, 6)
	var want []byte
	want = append(want, "GLDM"...)
	want = binary.BigEndian.AppendUint32(want, 1)
	want = binary.BigEndian.AppendUint64(want, uint64(m.Size))
	want = binary.BigEndian.AppendUint64(want, uint64(m.BlockSize))
	want = binary.BigEndian.AppendUint64(want, 2)
	for _, b := range m.Blocks {
		want = binary.BigEndian.AppendUint64(want, uint64(b.Index))
		d, _ := hex.DecodeString(b.Digest)
		want = append(want, d...)
	}
	d, _ := hex.DecodeString(m.Digest)
	want = append(want, d...)
	if got := manifest.Marshal(m); !bytes.Equal(got, want) {
		t.Fatalf("Marshal = %x\nwant      %x", got, want)
	}
}

func TestMarshalLarge(t *testing.T) {
	// A 1 TiB disk of 4 MiB blocks, none zero: 262,144 entries, 10 MiB.
	const n = 1 << 18
	m := &galleon.DiskManifest{Size: 1 << 40, BlockSize: galleon.DefaultBlockSize, Blocks: make([]galleon.ManifestBlock, n)}
	var d [32]byte
	for i := range m.Blocks {
		binary.BigEndian.PutUint64(d[:], uint64(i)+1)
		m.Blocks[i] = galleon.ManifestBlock{Index: int64(i), Digest: hex.EncodeToString(d[:])}
	}
	digest, err := manifest.ComputeDigest(m)
	if err != nil {
		t.Fatal(err)
	}
	m.Digest = digest
	enc := manifest.Marshal(m)
	if want := 10<<20 + 64; len(enc) != want {
		t.Fatalf("1 TiB manifest encodes to %d bytes; want %d", len(enc), want)
	}
	got, err := manifest.Unmarshal(enc)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Blocks) != n || got.Digest != m.Digest {
		t.Fatalf("decoded %d blocks, digest %s; want %d, %s", len(got.Blocks), got.Digest, n, m.Digest)
	}
}

// encode builds an encoding by hand: a header, entries and a trailer
// digest computed the documented way over the entries as given (so that
// corrupt orderings carry a matching digest and fail for their own reason).
func encode(size, blockSize int64, count uint64, blocks []galleon.ManifestBlock) []byte {
	var b []byte
	b = append(b, "GLDM"...)
	b = binary.BigEndian.AppendUint32(b, 1)
	b = binary.BigEndian.AppendUint64(b, uint64(size))
	b = binary.BigEndian.AppendUint64(b, uint64(blockSize))
	b = binary.BigEndian.AppendUint64(b, count)
	for _, e := range blocks {
		b = binary.BigEndian.AppendUint64(b, uint64(e.Index))
		d, _ := hex.DecodeString(e.Digest)
		b = append(b, d...)
	}
	d, _ := hex.DecodeString(specDigest(size, blockSize, blocks))
	return append(b, d...)
}

func TestUnmarshalCorrupt(t *testing.T) {
	good := synthetic(10*bs+512, bs, 1, 3, 10)
	enc := manifest.Marshal(good)
	blk := func(i int64) galleon.ManifestBlock {
		return galleon.ManifestBlock{Index: i, Digest: sha([]byte(fmt.Sprint("block", i)))}
	}
	with := func(f func(b []byte)) []byte {
		b := bytes.Clone(enc)
		f(b)
		return b
	}
	tests := []struct {
		name   string
		data   []byte
		reason string
		msg    string // a word the message must contain
	}{
		{"ErrEmpty", nil, manifest.ReasonInvalidManifest, "shorter"},
		{"ErrTruncatedHeader", enc[:20], manifest.ReasonInvalidManifest, "shorter"},
		{"ErrTruncated", enc[:len(enc)-1], manifest.ReasonInvalidManifest, "cut short"},
		{"ErrTruncatedEntry", enc[:len(enc)-40], manifest.ReasonInvalidManifest, "cut short"},
		{"ErrTrailingByte", append(bytes.Clone(enc), 0), manifest.ReasonInvalidManifest, "trailing"},
		{"ErrBadMagic", with(func(b []byte) { b[0] = 'X' }), manifest.ReasonInvalidManifest, "magic"},
		{"ErrNotManifest", []byte(strings.Repeat("just some text ", 10)), manifest.ReasonInvalidManifest, "magic"},
		{"ErrVersion", with(func(b []byte) { b[7] = 2 }), manifest.ReasonInvalidManifest, "version"},
		{"ErrCountTooLarge", with(func(b []byte) { binary.BigEndian.PutUint64(b[24:], 1<<60) }), manifest.ReasonInvalidManifest, "promises"},
		{"ErrCountOverflow", with(func(b []byte) { binary.BigEndian.PutUint64(b[24:], 1<<63+3) }), manifest.ReasonInvalidManifest, "promises"},
		{"ErrDigestMismatch", with(func(b []byte) { b[32+8] ^= 1 }), manifest.ReasonInvalidManifest, "does not match"},
		{"ErrTrailerMismatch", with(func(b []byte) { b[len(b)-1] ^= 1 }), manifest.ReasonInvalidManifest, "does not match"},
		{"ErrSizeChanged", with(func(b []byte) { binary.BigEndian.PutUint64(b[8:], uint64(11*bs)) }), manifest.ReasonInvalidManifest, "does not match"},
		{"ErrUnsorted", encode(10*bs, bs, 2, []galleon.ManifestBlock{blk(3), blk(1)}), manifest.ReasonInvalidManifest, "increasing"},
		{"ErrDuplicateIndex", encode(10*bs, bs, 2, []galleon.ManifestBlock{blk(3), blk(3)}), manifest.ReasonInvalidManifest, "increasing"},
		{"ErrNegativeIndex", encode(10*bs, bs, 1, []galleon.ManifestBlock{blk(-1)}), manifest.ReasonInvalidManifest, "past the end"},
		{"ErrIndexPastEnd", encode(10*bs, bs, 1, []galleon.ManifestBlock{blk(10)}), manifest.ReasonInvalidManifest, "past the end"},
		{"ErrTooManyBlocks", encode(bs, bs, 2, []galleon.ManifestBlock{blk(0), blk(1)}), manifest.ReasonInvalidManifest, "only 1"},
		{"ErrZeroBlockListed", encode(10*bs, bs, 1, []galleon.ManifestBlock{{Index: 4, Digest: sha(make([]byte, bs))}}), manifest.ReasonInvalidManifest, "zeros"},
		{"ErrZeroLastBlockListed", encode(10*bs+512, bs, 1, []galleon.ManifestBlock{{Index: 10, Digest: sha(make([]byte, 512))}}), manifest.ReasonInvalidManifest, "zeros"},
		{"ErrSizeNotSectors", encode(1000, bs, 0, nil), manifest.ReasonInvalidDiskSize, "512"},
		{"ErrSizeHuge", encode(-512, bs, 0, nil), manifest.ReasonInvalidManifest, "out of range"},
		{"ErrBlockSizeZero", encode(10*bs, 0, 0, nil), manifest.ReasonInvalidBlockSize, "block size"},
		{"ErrBlockSizeHuge", encode(10*bs, manifest.MaxBlockSize*2, 0, nil), manifest.ReasonInvalidBlockSize, "block size"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := manifest.Unmarshal(tt.data)
			if err == nil {
				t.Fatalf("Unmarshal accepted %+v", m)
			}
			wantReason(t, err, galleon.EInvalid, tt.reason)
			if !strings.Contains(galleon.ErrorMessage(err), tt.msg) {
				t.Fatalf("message %q does not mention %q", galleon.ErrorMessage(err), tt.msg)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	good := synthetic(10*bs, bs, 1, 3)
	mod := func(f func(m *galleon.DiskManifest)) *galleon.DiskManifest {
		m := *good
		m.Blocks = append([]galleon.ManifestBlock(nil), good.Blocks...)
		f(&m)
		return &m
	}
	tests := []struct {
		name   string
		m      *galleon.DiskManifest
		reason string // "" for valid
	}{
		{"OK", good, ""},
		{"OKNilBlocks", synthetic(0, bs), ""},
		{"ErrNil", nil, manifest.ReasonInvalidManifest},
		{"ErrUpperCaseDigest", mod(func(m *galleon.DiskManifest) { m.Blocks[0].Digest = strings.ToUpper(m.Blocks[0].Digest) }), manifest.ReasonInvalidManifest},
		{"ErrShortDigest", mod(func(m *galleon.DiskManifest) { m.Blocks[1].Digest = "abc" }), manifest.ReasonInvalidManifest},
		{"ErrWrongDigest", mod(func(m *galleon.DiskManifest) { m.Digest = sha(nil) }), manifest.ReasonInvalidManifest},
		{"ErrEmptyDigest", mod(func(m *galleon.DiskManifest) { m.Digest = "" }), manifest.ReasonInvalidManifest},
		{"ErrUnsorted", mod(func(m *galleon.DiskManifest) {
			m.Blocks[0], m.Blocks[1] = m.Blocks[1], m.Blocks[0]
			m.Digest = specDigest(m.Size, m.BlockSize, m.Blocks)
		}), manifest.ReasonInvalidManifest},
		{"ErrBadSize", mod(func(m *galleon.DiskManifest) { m.Size = 100 }), manifest.ReasonInvalidDiskSize},
		{"ErrBadBlockSize", mod(func(m *galleon.DiskManifest) { m.BlockSize = 0 }), manifest.ReasonInvalidBlockSize},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := manifest.Validate(tt.m)
			if tt.reason == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			wantReason(t, err, galleon.EInvalid, tt.reason)
		})
	}
}

func TestComputeDigest(t *testing.T) {
	m := synthetic(10*bs, bs, 0, 9)
	got, err := manifest.ComputeDigest(m)
	if err != nil || got != m.Digest {
		t.Fatalf("ComputeDigest = %s, %v; want %s", got, err, m.Digest)
	}
	m.Blocks[1].Digest = "not hex"
	if _, err := manifest.ComputeDigest(m); galleon.ErrorCode(err) != galleon.EInvalid {
		t.Fatalf("ComputeDigest of a malformed block digest: %v; want EInvalid", err)
	}
}

func TestStoreLoad(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	m := ingest(t, s, makeDisk(2, 6*bs, bs, "rz"), manifest.IngestOptions{BlockSize: bs})
	d, err := manifest.Store(ctx, s, m)
	if err != nil {
		t.Fatal(err)
	}
	if d != sha(manifest.Marshal(m)) {
		t.Fatalf("Store returned %s; want the SHA-256 of the encoding", d)
	}
	got, err := manifest.Load(ctx, s, d)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, m) {
		t.Fatalf("Load = %+v; want %+v", got, m)
	}

	t.Run("ErrNotFound", func(t *testing.T) {
		_, err := manifest.Load(ctx, s, sha([]byte("nothing")))
		if galleon.ErrorCode(err) != galleon.ENotFound {
			t.Fatalf("Load of an absent block: %v; want ENotFound", err)
		}
	})
	t.Run("ErrNotAManifest", func(t *testing.T) {
		_, err := manifest.Load(ctx, s, m.Blocks[0].Digest)
		wantReason(t, err, galleon.EInvalid, manifest.ReasonInvalidManifest)
	})
	t.Run("ErrInvalidManifest", func(t *testing.T) {
		bad := *m
		bad.Digest = sha(nil)
		before := len(storedBlocks(t, s))
		if _, err := manifest.Store(ctx, s, &bad); galleon.ErrorCode(err) != galleon.EInvalid {
			t.Fatalf("Store of a manifest with a wrong digest: %v; want EInvalid", err)
		}
		if after := len(storedBlocks(t, s)); after != before {
			t.Fatalf("a refused Store changed the block count from %d to %d", before, after)
		}
	})
	t.Run("ErrPut", func(t *testing.T) {
		h := &hookStore{BlockStore: s, beforePut: func(string) error { return errInjected }}
		if _, err := manifest.Store(ctx, h, m); !errors.Is(err, errInjected) {
			t.Fatalf("Store: %v; want the store's error", err)
		}
	})
}

func FuzzUnmarshal(f *testing.F) {
	f.Add(manifest.Marshal(synthetic(0, bs)))
	f.Add(manifest.Marshal(synthetic(10*bs+512, 512, 1, 3, 10)))
	f.Add(manifest.Marshal(synthetic(4*kib, 512, 0, 1, 2, 3, 4, 5, 6, 7)))
	f.Add(manifest.Marshal(synthetic(3*mib, mib, 2)))
	f.Add([]byte("GLDM"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := manifest.Unmarshal(data)
		if err != nil {
			if galleon.ErrorCode(err) != galleon.EInvalid {
				t.Fatalf("Unmarshal error %v is not EInvalid", err)
			}
			return
		}
		if err := manifest.Validate(m); err != nil {
			t.Fatalf("Unmarshal accepted a manifest Validate refuses: %v", err)
		}
		if enc := manifest.Marshal(m); !bytes.Equal(enc, data) {
			t.Fatal("Marshal of an accepted input differs from it: the encoding is not canonical")
		}
	})
}
