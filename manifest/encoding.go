package manifest

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"

	"github.com/galleonhq/galleon"
)

// Encoding layout, version 1 (see the package comment).
const (
	encMagic   = "GLDM"
	encVersion = 1
	headerLen  = 32              // magic, version, size, block size, count
	entryLen   = 8 + sha256.Size // index, digest
	trailerLen = sha256.Size     // whole-disk digest
	minEncLen  = headerLen + trailerLen
)

// EncodedLen returns the length of Marshal's output for a manifest of n
// blocks: 64 + 40n bytes.
func EncodedLen(n int) int { return minEncLen + entryLen*n }

// Marshal encodes m in the version 1 binary form the package comment
// describes. It writes m as it is: a block digest or Digest that is not
// 64 lower-case hex digits is written as zeros, so Unmarshal refuses the
// result. Check m with Validate first (Store does).
func Marshal(m *galleon.DiskManifest) []byte {
	out := make([]byte, EncodedLen(len(m.Blocks)))
	copy(out, encMagic)
	binary.BigEndian.PutUint32(out[4:], encVersion)
	binary.BigEndian.PutUint64(out[8:], uint64(m.Size))
	binary.BigEndian.PutUint64(out[16:], uint64(m.BlockSize))
	binary.BigEndian.PutUint64(out[24:], uint64(len(m.Blocks)))
	p := out[headerLen:]
	for _, b := range m.Blocks {
		binary.BigEndian.PutUint64(p, uint64(b.Index))
		d, _ := parseDigest(b.Digest)
		copy(p[8:], d[:])
		p = p[entryLen:]
	}
	d, _ := parseDigest(m.Digest)
	copy(p, d[:])
	return out
}

// Unmarshal decodes Marshal's output. It accepts only well-formed,
// canonical manifests (see Validate) whose stored Digest matches the one
// recomputed from the entries, with no trailing bytes; anything else is
// EInvalid with reason InvalidManifest (or InvalidDiskSize,
// InvalidBlockSize) naming the problem. It never panics and allocates no
// more than the input's length justifies.
func Unmarshal(data []byte) (*galleon.DiskManifest, error) {
	if len(data) < minEncLen {
		return nil, invalidManifest("manifest encoding is %d bytes, shorter than the %d-byte minimum; it was cut short, so store the manifest again", len(data), minEncLen)
	}
	if string(data[:4]) != encMagic {
		return nil, invalidManifest("data does not start with the manifest magic %q; it is not an encoded disk manifest", encMagic)
	}
	if v := binary.BigEndian.Uint32(data[4:]); v != encVersion {
		return nil, invalidManifest("manifest encoding version %d is not one this server reads (it reads %d); upgrade Galleon or re-encode the manifest", v, encVersion)
	}
	size := binary.BigEndian.Uint64(data[8:])
	blockSize := binary.BigEndian.Uint64(data[16:])
	count := binary.BigEndian.Uint64(data[24:])
	if size > 1<<62 || blockSize > 1<<62 {
		return nil, invalidManifest("manifest sizes (disk %d, block %d bytes) are out of range", size, blockSize)
	}
	m := &galleon.DiskManifest{Size: int64(size), BlockSize: int64(blockSize)}
	if err := checkSizes("manifest", m.Size, m.BlockSize); err != nil {
		return nil, err
	}
	if room := uint64(len(data)-minEncLen) / entryLen; count != room || uint64(len(data)-minEncLen)%entryLen != 0 {
		return nil, invalidManifest("manifest encoding is %d bytes, but its header promises %d blocks (%d bytes); it was cut short or has trailing data, so store the manifest again", len(data), count, uint64(minEncLen)+count*entryLen)
	}
	n := blockCount(m.Size, m.BlockSize)
	if count > uint64(n) {
		return nil, invalidManifest("manifest lists %d blocks, but its disk has only %d", count, n)
	}
	m.Blocks = make([]galleon.ManifestBlock, 0, count)
	w := newDigestWriter(m.Size, m.BlockSize)
	var zeros zeroDigests
	prev := int64(-1)
	p := data[headerLen:]
	for range count {
		idx := binary.BigEndian.Uint64(p)
		if idx > 1<<62 {
			return nil, invalidManifest("block index %d is past the end of the disk, which has %d blocks", idx, n)
		}
		i := int64(idx)
		if err := checkEntry(i, prev, n); err != nil {
			return nil, err
		}
		var d [sha256.Size]byte
		copy(d[:], p[8:entryLen])
		if d == zeros.of(blockLen(m.Size, m.BlockSize, i)) {
			return nil, invalidManifest("block %d is all zeros, and a manifest leaves zero blocks out; re-create the manifest with Ingest", i)
		}
		w.block(i, d)
		m.Blocks = append(m.Blocks, galleon.ManifestBlock{Index: i, Digest: hex.EncodeToString(d[:])})
		prev = i
		p = p[entryLen:]
	}
	want := w.sum()
	if [sha256.Size]byte(p) != want {
		return nil, invalidManifest("manifest digest %x does not match its blocks, whose digest is %x; the manifest is corrupt, so store it again from a good copy", p, want)
	}
	m.Digest = hex.EncodeToString(want[:])
	return m, nil
}

// Store validates m, encodes it with Marshal and puts the encoding into bs
// as a block, returning the block's digest (the SHA-256 of the encoding,
// not m.Digest). Put the blocks m references first: a manifest in a store
// promises its blocks are there. Returns Validate's errors and bs's.
func Store(ctx context.Context, bs galleon.BlockStore, m *galleon.DiskManifest) (string, error) {
	if err := Validate(m); err != nil {
		return "", err
	}
	enc := Marshal(m)
	digest := hexDigest(enc)
	if err := bs.PutBlock(ctx, digest, enc); err != nil {
		return "", fmt.Errorf("store manifest of disk %s: %w", m.Digest, err)
	}
	return digest, nil
}

// Load reads the manifest Store put into bs under digest. Returns
// ENotFound if the block is absent, EInternal if it is corrupt, and
// EInvalid (reason InvalidManifest) if it is not an encoded manifest.
func Load(ctx context.Context, bs galleon.BlockStore, digest string) (*galleon.DiskManifest, error) {
	data, err := bs.GetBlock(ctx, digest)
	if err != nil {
		return nil, fmt.Errorf("load manifest %s: %w", digest, err)
	}
	m, err := Unmarshal(data)
	if err != nil {
		return nil, fmt.Errorf("load manifest %s: %w", digest, err)
	}
	return m, nil
}
