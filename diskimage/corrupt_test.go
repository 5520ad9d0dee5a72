package diskimage_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/galleonhq/galleon/diskimage"
)

// edit returns a copy of b changed by fn.
func edit(b []byte, fn func(b []byte)) []byte {
	c := bytes.Clone(b)
	fn(c)
	return c
}

// resum recomputes the checksum of the VHD footer at off.
func resum(b []byte, off int) {
	binary.BigEndian.PutUint32(b[off+64:], vhdSum(b[off:off+512], 64))
}

// resumDyn recomputes the checksum of the dynamic header at 512.
func resumDyn(b []byte) {
	binary.BigEndian.PutUint32(b[512+36:], vhdSum(b[512:512+1024], 36))
}

func TestOpenRejects(t *testing.T) {
	be := binary.BigEndian
	raw := sparseDisk(t, 4*mib, 9)
	fixed := fixedVHD(t, raw)
	fixedFoot := len(fixed) - 512
	dyn := makeDynamicVHD(t, raw, 512*kib, nil)
	d := dyn.file
	dynFoot := len(d) - 512
	q := qcow2Of(t, raw)
	l1Off := int(be.Uint64(q[40:]))
	l2Off := int(be.Uint64(q[l1Off:]) & 0x00fffffffffffe00)
	garbage := make([]byte, 64*kib)
	_, _ = rand.NewChaCha8([32]byte{1}).Read(garbage)

	tests := []struct {
		name   string
		file   []byte
		class  error
		offset int64  // -1: don't check
		want   string // part of the message
	}{
		{"EmptyFile", nil, diskimage.ErrCorrupt, 0, "empty"},
		{"RawOddSize", raw[:4*mib-100], diskimage.ErrMisaligned, 4*mib - 100, "not a multiple of the 512-byte sector size"},
		{"RawTiny", []byte("hello"), diskimage.ErrMisaligned, 5, "512"},

		{"FixedVHDBadChecksum", edit(fixed, func(b []byte) { b[fixedFoot+200]++ }),
			diskimage.ErrCorrupt, int64(fixedFoot), "VHD footer checksum mismatch"},
		{"FixedVHDPadded", append(append(bytes.Clone(fixed[:fixedFoot]), make([]byte, 512)...), fixed[fixedFoot:]...),
			diskimage.ErrCorrupt, int64(fixedFoot + 512 + 48), "truncated or padded"},
		{"FixedVHDTruncated", append(bytes.Clone(fixed[:mib]), fixed[fixedFoot:]...),
			diskimage.ErrCorrupt, mib + 48, "truncated or padded"},
		{"FixedVHDNotWholeMiB", edit(append(bytes.Clone(fixed[:mib+512]), fixed[fixedFoot:]...), func(b []byte) {
			be.PutUint64(b[mib+512+48:], mib+512)
			resum(b, mib+512)
		}), diskimage.ErrMisaligned, mib + 512 + 48, "whole number of MiB"},
		{"FixedVHDUnknownType", edit(fixed, func(b []byte) { be.PutUint32(b[fixedFoot+60:], 9); resum(b, fixedFoot) }),
			diskimage.ErrCorrupt, int64(fixedFoot + 60), "unknown VHD disk type 9"},
		{"DynamicFooterOnlyAtEnd", edit(fixed, func(b []byte) { be.PutUint32(b[fixedFoot+60:], 3); resum(b, fixedFoot) }),
			diskimage.ErrCorrupt, 0, "copy of the footer at offset 0 is missing"},

		{"DynamicVHDTruncated", d[:len(d)-700], diskimage.ErrCorrupt, int64(len(d) - 700 - 512), "truncated"},
		{"DynamicVHDTruncatedTiny", d[:600], diskimage.ErrCorrupt, 0, "too short"},
		{"DynamicVHDBadCopyChecksum", edit(d, func(b []byte) { b[300]++ }),
			diskimage.ErrCorrupt, 0, "VHD footer checksum mismatch"},
		{"DynamicVHDBadFooterChecksum", edit(d, func(b []byte) { b[dynFoot+300]++ }),
			diskimage.ErrCorrupt, int64(dynFoot), "VHD footer checksum mismatch"},
		{"DynamicVHDFootersDisagree", edit(d, func(b []byte) { be.PutUint64(b[dynFoot+48:], 8*mib); resum(b, dynFoot) }),
			diskimage.ErrCorrupt, int64(dynFoot), "disagrees"},
		{"DynamicVHDHeaderPastEOF", edit(d, func(b []byte) { be.PutUint64(b[16:], 1<<40); resum(b, 0) }),
			diskimage.ErrCorrupt, 16, "outside the file"},
		{"DynamicVHDBadHeaderCookie", edit(d, func(b []byte) { copy(b[512:], "cxsparsX"); resumDyn(b) }),
			diskimage.ErrCorrupt, 512, "lacks the cookie"},
		{"DynamicVHDBadHeaderChecksum", edit(d, func(b []byte) { b[512+700]++ }),
			diskimage.ErrCorrupt, 512, "dynamic header checksum mismatch"},
		{"DynamicVHDBadBlockSize", edit(d, func(b []byte) { be.PutUint32(b[512+32:], 3000); resumDyn(b) }),
			diskimage.ErrCorrupt, 512 + 32, "not a power of two"},
		{"DynamicVHDBATTooSmall", edit(d, func(b []byte) { be.PutUint32(b[512+28:], 2); resumDyn(b) }),
			diskimage.ErrCorrupt, 512 + 28, "needs 8"},
		{"DynamicVHDBATPastEOF", edit(d, func(b []byte) { be.PutUint64(b[512+16:], uint64(len(d))); resumDyn(b) }),
			diskimage.ErrCorrupt, 512 + 16, "does not fit"},
		{"DynamicVHDBATEntryPastEOF", edit(d, func(b []byte) { be.PutUint32(b[dyn.batOffset:], 1<<24) }),
			diskimage.ErrCorrupt, int64(dyn.batOffset), "block table entry 0"},
		{"DynamicVHDBATEntryIntoFooter", edit(d, func(b []byte) { be.PutUint32(b[dyn.batOffset+4:], uint32(dynFoot/512-1)) }),
			diskimage.ErrCorrupt, int64(dyn.batOffset + 4), "block table entry 1"},
		{"DynamicVHDBATEntryZero", edit(d, func(b []byte) { be.PutUint32(b[dyn.batOffset:], 0) }),
			diskimage.ErrCorrupt, int64(dyn.batOffset), "block table entry 0"},
		{"DynamicVHDNotWholeMiB", edit(d, func(b []byte) {
			be.PutUint64(b[48:], 4*mib-512)
			be.PutUint64(b[dynFoot+48:], 4*mib-512)
			resum(b, 0)
			resum(b, dynFoot)
		}), diskimage.ErrMisaligned, 48, "whole number of MiB"},
		{"DifferencingVHD", edit(d, func(b []byte) {
			be.PutUint32(b[60:], 4)
			be.PutUint32(b[dynFoot+60:], 4)
			resum(b, 0)
			resum(b, dynFoot)
		}), diskimage.ErrUnsupported, 60, "differencing VHD"},

		{"QCOW2MagicOnly", []byte("QFI\xfb"), diskimage.ErrCorrupt, 0, "truncated"},
		{"QCOW2Garbage", append([]byte("QFI\xfb"), garbage...), diskimage.ErrUnsupported, 4, "version"},
		{"QCOW2GarbageV3", append([]byte("QFI\xfb\x00\x00\x00\x03"), garbage...), diskimage.ErrCorrupt, 20, "cluster_bits"},
		{"QCOW2TruncatedV3Header", q[:90], diskimage.ErrCorrupt, 0, "104 bytes"},
		{"QCOW2HugeClusters", edit(q, func(b []byte) { be.PutUint32(b[20:], 40) }), diskimage.ErrCorrupt, 20, "cluster_bits 40"},
		{"QCOW2BadHeaderLength", edit(q, func(b []byte) { be.PutUint32(b[100:], 1<<20) }), diskimage.ErrCorrupt, 100, "header_length"},
		{"QCOW2Encrypted", edit(q, func(b []byte) { be.PutUint32(b[32:], 2) }), diskimage.ErrUnsupported, 32, "encrypted"},
		{"QCOW2BackingFile", edit(q, func(b []byte) {
			be.PutUint64(b[8:], 512)
			be.PutUint32(b[16:], 11)
			copy(b[512:], "/etc/passwd")
		}), diskimage.ErrUnsupported, 8, "backing file"},
		{"QCOW2ExternalData", edit(q, func(b []byte) { b[79] |= 4 }), diskimage.ErrUnsupported, 72, "external file"},
		{"QCOW2ExtendedL2", edit(q, func(b []byte) { b[79] |= 16 }), diskimage.ErrUnsupported, 72, "extended L2"},
		{"QCOW2Zstd", edit(q, func(b []byte) {
			b[79] |= 8
			be.PutUint32(b[100:], 112)
			b[104] = 1
		}), diskimage.ErrUnsupported, 104, "zstd"},
		{"QCOW2ZeroSize", edit(q, func(b []byte) { be.PutUint64(b[24:], 0) }), diskimage.ErrCorrupt, 24, "virtual size is 0"},
		{"QCOW2OddSize", edit(q, func(b []byte) { be.PutUint64(b[24:], 4*mib-1) }), diskimage.ErrMisaligned, 24, "512-byte"},
		{"QCOW2HugeL1", edit(q, func(b []byte) { be.PutUint32(b[36:], 0xFFFFFFFF) }), diskimage.ErrCorrupt, 36, "L1 table has 4294967295 entries"},
		{"QCOW2SizeNeedsBiggerL1", edit(q, func(b []byte) { be.PutUint64(b[24:], 1<<40) }), diskimage.ErrCorrupt, 36, "needs 2048"},
		{"QCOW2L1PastEOF", q[:l1Off+4], diskimage.ErrCorrupt, 40, "past the end"},
		{"QCOW2L1Misaligned", edit(q, func(b []byte) { be.PutUint64(b[40:], uint64(l1Off+8)) }), diskimage.ErrCorrupt, 40, "misaligned"},
		{"QCOW2L2PastEOF", edit(q, func(b []byte) { be.PutUint64(b[l1Off:], 1<<40|1<<63) }), diskimage.ErrCorrupt, int64(l1Off), "L1 entry 0"},
		{"QCOW2L2Truncated", q[:l2Off+100], diskimage.ErrCorrupt, int64(l1Off), "L1 entry 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			img, err := diskimage.Open(bytes.NewReader(tc.file), int64(len(tc.file)))
			if err == nil {
				t.Fatalf("Open succeeded (%s, %d bytes), want an error", img.Format, img.Size)
			}
			t.Log(err)
			var fe *diskimage.FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("err = %v (%T), want a *FormatError", err, err)
			}
			if !errors.Is(err, tc.class) {
				t.Errorf("err = %v, want class %v", err, tc.class)
			}
			if tc.offset >= 0 && fe.Offset != tc.offset {
				t.Errorf("Offset = %d, want %d (%v)", fe.Offset, tc.offset, err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %q, want it to mention %q", err, tc.want)
			}
		})
	}
}

func TestQCOW2CorruptBitMessage(t *testing.T) {
	// The corrupt bit is ErrCorrupt, not unsupported; checked apart from the
	// table because the bit is only looked at after the version check.
	q := edit(qcow2Of(t, make([]byte, mib)), func(b []byte) { b[79] |= 2 })
	_, err := diskimage.Open(bytes.NewReader(q), int64(len(q)))
	if !errors.Is(err, diskimage.ErrCorrupt) || !strings.Contains(err.Error(), "qemu-img check -r all") {
		t.Fatalf("err = %v, want ErrCorrupt suggesting qemu-img check -r all", err)
	}
}

func TestQCOW2DataPastEOF(t *testing.T) {
	// An L2 entry pointing past the end of the file opens (L2 tables are
	// read lazily) but fails to read with a *FormatError, not a panic.
	raw := sparseDisk(t, mib, 10)
	q := qcow2Of(t, raw)
	be := binary.BigEndian
	l1Off := be.Uint64(q[40:])
	l2Off := be.Uint64(q[l1Off:]) & 0x00fffffffffffe00
	be.PutUint64(q[l2Off:], 1<<40|1<<63)
	img := mustOpen(t, q)
	_, err := img.ReadAt(make([]byte, 4096), 0)
	var fe *diskimage.FormatError
	if !errors.As(err, &fe) || !errors.Is(err, diskimage.ErrCorrupt) {
		t.Fatalf("ReadAt err = %v, want a *FormatError wrapping ErrCorrupt", err)
	}
	// Other clusters still read.
	if _, err := img.ReadAt(make([]byte, 512), img.Size-512); err != nil {
		t.Fatalf("ReadAt of the last sector: %v", err)
	}
}

func TestOpenAs(t *testing.T) {
	raw := sparseDisk(t, 2*mib, 11)
	fixed := fixedVHD(t, raw)
	dyn := makeDynamicVHD(t, raw, 512*kib, nil).file
	tests := []struct {
		name  string
		file  []byte
		want  diskimage.Format
		class error // nil: success
		text  string
	}{
		{"FixedOK", fixed, diskimage.FormatVHDFixed, nil, ""},
		{"DynamicOK", dyn, diskimage.FormatVHDDynamic, nil, ""},
		{"RawOK", raw, diskimage.FormatRaw, nil, ""},
		{"FooterCutOff", fixed[:len(fixed)-512], diskimage.FormatVHDFixed, diskimage.ErrCorrupt, "upload is incomplete"},
		{"DynamicWhereFixedRequired", dyn, diskimage.FormatVHDFixed, diskimage.ErrUnsupported, "subformat=fixed"},
		{"QCOW2WhereRawExpected", qcow2Of(t, raw), diskimage.FormatRaw, diskimage.ErrUnsupported, "qcow2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			img, err := diskimage.OpenAs(bytes.NewReader(tc.file), int64(len(tc.file)), tc.want)
			if tc.class == nil {
				if err != nil {
					t.Fatal(err)
				}
				if img.Format != tc.want {
					t.Fatalf("Format = %s, want %s", img.Format, tc.want)
				}
				return
			}
			if !errors.Is(err, tc.class) || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("err = %v, want %v mentioning %q", err, tc.class, tc.text)
			}
		})
	}
}
