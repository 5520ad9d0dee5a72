package diskimage_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/galleonhq/galleon/diskimage"
)

// qemuImg returns the path of qemu-img or skips the test.
func qemuImg(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("qemu-img")
	if err != nil {
		t.Skip("qemu-img not found; install the Debian package qemu-utils to run the cross-checks")
	}
	return p
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %q: %v\n%s", filepath.Base(name), args, err, out)
	}
	return string(out)
}

func writeFile(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// openFile opens path with Open, reading through an *os.File.
func openFile(t *testing.T, path string) (*diskimage.Image, error) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	return diskimage.Open(f, st.Size())
}

func TestQemuImgAcceptsOutput(t *testing.T) {
	qi := qemuImg(t)
	dir := t.TempDir()
	raw := sparseDisk(t, 6*mib, 12)
	rawPath := writeFile(t, dir, "disk.raw", raw)
	vhd := writeFile(t, dir, "disk.vhd", fixedVHD(t, raw))
	q := writeFile(t, dir, "disk.qcow2", qcow2Of(t, raw))

	t.Run("QCOW2Check", func(t *testing.T) {
		run(t, qi, "check", "-f", "qcow2", q)
	})
	for _, tc := range []struct{ name, format, path string }{
		{"FixedVHD", "vpc", vhd},
		{"QCOW2", "qcow2", q},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var info struct {
				VirtualSize int64 `json:"virtual-size"`
			}
			if err := json.Unmarshal([]byte(run(t, qi, "info", "-f", tc.format, "--output=json", tc.path)), &info); err != nil {
				t.Fatal(err)
			}
			// A footer whose creator made qemu use CHS geometry would show
			// a rounded size here.
			if info.VirtualSize != int64(len(raw)) {
				t.Errorf("qemu-img sees %d bytes, want %d", info.VirtualSize, len(raw))
			}
			run(t, qi, "compare", "-f", "raw", "-F", tc.format, rawPath, tc.path)
		})
	}
	t.Run("DynamicVHDFixture", func(t *testing.T) {
		// The test fixture writer produces VHDs qemu reads the same way.
		p := writeFile(t, dir, "fixture.vhd", makeDynamicVHD(t, raw, 512*kib, nil).file)
		run(t, qi, "compare", "-f", "raw", "-F", "vpc", rawPath, p)
	})
	t.Run("CompareDetectsDifference", func(t *testing.T) {
		// The cross-check can fail: a changed byte makes compare exit 1.
		other := bytes.Clone(raw)
		other[3*mib+1]++
		p := writeFile(t, dir, "other.qcow2", qcow2Of(t, other))
		if err := exec.Command(qi, "compare", "-q", "-f", "raw", "-F", "qcow2", rawPath, p).Run(); err == nil {
			t.Fatal("qemu-img compare found no difference")
		}
	})
}

func TestReadQemuImgImages(t *testing.T) {
	qi := qemuImg(t)
	dir := t.TempDir()
	raw := sparseDisk(t, 6*mib, 13)
	rawPath := writeFile(t, dir, "disk.raw", raw)
	tests := []struct {
		name   string
		args   []string // qemu-img convert options after -O
		format diskimage.Format
		class  error // expected Open error class, nil for success
	}{
		{"VPCFixed", []string{"vpc", "-o", "subformat=fixed,force_size"}, diskimage.FormatVHDFixed, nil},
		{"VPCDynamic", []string{"vpc", "-o", "subformat=dynamic,force_size"}, diskimage.FormatVHDDynamic, nil},
		{"QCOW2", []string{"qcow2"}, diskimage.FormatQCOW2, nil},
		{"QCOW2v2", []string{"qcow2", "-o", "compat=0.10"}, diskimage.FormatQCOW2, nil},
		{"QCOW2Compressed", []string{"qcow2", "-c"}, diskimage.FormatQCOW2, nil},
		{"QCOW2SmallClusters", []string{"qcow2", "-o", "cluster_size=512"}, diskimage.FormatQCOW2, nil},
		{"QCOW2BigClusters", []string{"qcow2", "-o", "cluster_size=2M"}, diskimage.FormatQCOW2, nil},
		{"QCOW2PreallocMetadata", []string{"qcow2", "-o", "preallocation=metadata"}, diskimage.FormatQCOW2, nil},
		// Without force_size qemu rounds the size to CHS geometry, which is
		// not a whole number of MiB: Azure would refuse these.
		{"VPCFixedCHSSize", []string{"vpc", "-o", "subformat=fixed"}, diskimage.FormatVHDFixed, diskimage.ErrMisaligned},
		{"VPCDynamicCHSSize", []string{"vpc"}, diskimage.FormatVHDDynamic, diskimage.ErrMisaligned},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(dir, tc.name)
			run(t, qi, append(append([]string{"convert", "-f", "raw", "-O"}, tc.args...), rawPath, out)...)
			img, err := openFile(t, out)
			if tc.class != nil {
				if !errors.Is(err, tc.class) {
					t.Fatalf("Open err = %v, want %v", err, tc.class)
				}
				t.Log(err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if img.Format != tc.format || img.Size != int64(len(raw)) {
				t.Fatalf("Open = %s of %d bytes, want %s of %d", img.Format, img.Size, tc.format, len(raw))
			}
			equalDisk(t, readAll(t, img, img.Size), raw)
			// Extents never call data unallocated.
			err = img.Extents(0, img.Size, func(e diskimage.Extent) error {
				if !e.Allocated && !isZeros(raw[e.Offset:e.Offset+e.Length]) {
					t.Errorf("extent %+v is unallocated but holds data", e)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

func isZeros(b []byte) bool {
	return !bytes.ContainsFunc(b, func(r rune) bool { return r != 0 })
}
