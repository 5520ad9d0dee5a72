package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources/v4"

	"github.com/galleonhq/galleon/diskimage"
	"github.com/galleonhq/galleon/manifest"
)

// sameDisk reports whether the disk image file at path (any format
// diskimage reads) has the logical content want.
func sameDisk(t *testing.T, path string, want []byte, format diskimage.Format) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	img, err := diskimage.Open(f, st.Size())
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if img.Format != format || img.Size != int64(len(want)) {
		t.Fatalf("%s is %s of %d bytes, want %s of %d", path, img.Format, img.Size, format, len(want))
	}
	got := make([]byte, img.Size)
	if _, err := img.ReadAt(got, 0); err != nil && err != io.EOF {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: content differs from the pushed disk", path)
	}
}

// TestImageCLI pushes a qcow2 and a raw file to two regions with `galleon
// image push`, lists them, resolves latest, pulls them back in every format
// (whole, resumed, and refused when the content is wrong) and reads usage.
func TestImageCLI(t *testing.T) {
	s := mustStart(t, "")
	ctx := context.Background()
	sub := s.Admin.SubscriptionID
	cred := s.adminCredential(t)
	opts := s.armOptions(t)
	useConfig(t)
	if out, err := galleonCLI(t, s.Admin.ClientSecret+"\n", "login", "--endpoint", s.BaseURL, "--tenant", s.Admin.TenantID,
		"--ca-file", s.Admin.CAFile, "--client-id", s.Admin.ClientID, "--client-secret-stdin"); err != nil {
		t.Fatalf("login: %v\n%s", err, out)
	}
	rgs, _ := armresources.NewResourceGroupsClient(sub, cred, opts)
	if _, err := rgs.CreateOrUpdate(ctx, "rg", armresources.ResourceGroup{Location: to.Ptr("eastus")}, nil); err != nil {
		t.Fatal(err)
	}
	galleries, _ := armcompute.NewGalleriesClient(sub, cred, opts)
	defs, _ := armcompute.NewGalleryImagesClient(sub, cred, opts)
	disks, _ := armcompute.NewDisksClient(sub, cred, opts)
	if p, err := galleries.BeginCreateOrUpdate(ctx, "rg", "gal", armcompute.Gallery{Location: to.Ptr("eastus")}, nil); err != nil {
		t.Fatal(err)
	} else if _, err := p.PollUntilDone(ctx, pollFast()); err != nil {
		t.Fatal(err)
	}
	if p, err := defs.BeginCreateOrUpdate(ctx, "rg", "gal", "img", linuxImage("eastus", "p", "o", "s"), nil); err != nil {
		t.Fatal(err)
	} else if _, err := p.PollUntilDone(ctx, pollFast()); err != nil {
		t.Fatal(err)
	}
	ref := []string{"-g", "rg", "-r", "gal", "-i", "img"}
	image := func(args ...string) (string, error) {
		t.Helper()
		return galleonCLI(t, "", append(append([]string{"image"}, args...), ref...)...)
	}
	dir := t.TempDir()

	// A qcow2 file of 24 MiB (every other 4 MiB block zero, so unallocated).
	disk1 := randomDisk(24 << 20)
	qcow := filepath.Join(dir, "disk1.qcow2")
	var qb bytes.Buffer
	if err := diskimage.WriteQCOW2(&qb, bytes.NewReader(disk1), int64(len(disk1))); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(qcow, qb.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := image("push", qcow, "--version", "1.0.0", "--regions", "eastus,westus2")
	if err != nil {
		t.Fatalf("push qcow2: %v\n%s", err, out)
	}
	for _, want := range []string{"Published rg/gal/img version 1.0.0", "qcow2", "upload: done", "westus2: Completed 100%"} {
		if !strings.Contains(out, want) {
			t.Errorf("push output lacks %q:\n%s", want, out)
		}
	}

	// A raw file of 20 MiB, other content; its upload disk is kept.
	disk2 := randomDisk(20 << 20)
	copy(disk2, "a different first sector")
	raw := filepath.Join(dir, "disk2.raw")
	if err := os.WriteFile(raw, disk2, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := image("push", raw, "--version", "1.0.1", "--regions", "westus2,eastus", "--keep-disk", "--quiet"); err != nil {
		t.Fatalf("push raw: %v\n%s", err, out)
	}
	var kept []string
	for pager := disks.NewListByResourceGroupPager("rg", nil); pager.More(); {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range page.Value {
			kept = append(kept, *d.Name+" "+*d.Tags["galleon-push"])
		}
	}
	if len(kept) != 1 || !strings.HasSuffix(kept[0], " rg/gal/img/1.0.1") {
		t.Errorf("disks left = %q, want only 1.0.1's (--keep-disk)", kept)
	}

	t.Run("PushErrors", func(t *testing.T) {
		odd := filepath.Join(dir, "odd.raw")
		if err := os.WriteFile(odd, make([]byte, 1000), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name string
			args []string
			want string
		}{
			{"ErrExists", []string{"push", raw, "--version", "1.0.0"}, "already exists"},
			{"ErrVersionName", []string{"push", raw, "--version", "1.0"}, "MAJOR.MINOR.PATCH"},
			{"ErrNotSectors", []string{"push", odd, "--version", "2.0.0"}, "512"},
			{"ErrLocationNotTarget", []string{"push", raw, "--version", "2.0.0", "--regions", "westus2"}, "must include the version's location eastus"},
			{"ErrUnknownRegion", []string{"push", raw, "--version", "2.0.0", "--regions", "eastus,atlantis"}, "step 5 of 5"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				out, err := image(tc.args...)
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("err = %v, want it to mention %q\n%s", err, tc.want, out)
				}
			})
		}
		// The failed push deleted its upload disk.
		n := 0
		for pager := disks.NewListByResourceGroupPager("rg", nil); pager.More(); {
			page, err := pager.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			n += len(page.Value)
		}
		if n != 1 {
			t.Errorf("%d disks after failed pushes, want 1", n)
		}
	})

	t.Run("Versions", func(t *testing.T) {
		out, err := image("versions", "-o", "json")
		if err != nil {
			t.Fatalf("versions: %v\n%s", err, out)
		}
		var vs []versionView
		if err := json.Unmarshal([]byte(out), &vs); err != nil {
			t.Fatalf("versions -o json: %v\n%s", err, out)
		}
		if len(vs) != 2 || vs[0].Name != "1.0.0" || vs[1].Name != "1.0.1" {
			t.Fatalf("versions = %s", out)
		}
		for _, v := range vs {
			st := v.Properties.ReplicationStatus
			if v.Properties.ProvisioningState != "Succeeded" || st == nil || len(st.Summary) != 2 {
				t.Fatalf("version %s = %+v", v.Name, v.Properties)
			}
			for _, r := range st.Summary {
				if r.State != "Completed" || r.Progress != 100 {
					t.Errorf("version %s in %s: %s %d%%", v.Name, r.Region, r.State, r.Progress)
				}
			}
		}
		out, err = image("versions")
		if err != nil || !strings.Contains(out, "EXCLUDE-FROM-LATEST") || !strings.Contains(out, "Succeeded  eastus Completed, westus2 Completed") {
			t.Errorf("versions table: %v\n%s", err, out)
		}
	})

	t.Run("Latest", func(t *testing.T) {
		out, err := image("latest", "--region", "westus2", "-o", "json")
		var v versionView
		if err != nil || json.Unmarshal([]byte(out), &v) != nil || v.Name != "1.0.1" {
			t.Fatalf("latest: %v\n%s", err, out)
		}
		if out, err := image("latest", "--region", "japaneast"); err == nil {
			t.Errorf("latest where nothing is replicated: %s", out)
		}
	})

	t.Run("Pull", func(t *testing.T) {
		for _, tc := range []struct {
			format string
			want   diskimage.Format
		}{{"raw", diskimage.FormatRaw}, {"vhd", diskimage.FormatVHDFixed}, {"qcow2", diskimage.FormatQCOW2}} {
			t.Run(tc.format, func(t *testing.T) {
				file := filepath.Join(dir, "pulled."+tc.format)
				out, err := image("pull", "--version", "1.0.0", "--region", "westus2", "--format", tc.format, "-o", file)
				if err != nil || !strings.Contains(out, "digest verified") {
					t.Fatalf("pull: %v\n%s", err, out)
				}
				sameDisk(t, file, disk1, tc.want)
				if _, err := os.Stat(file + ".part"); !os.IsNotExist(err) {
					t.Errorf("%s.part left behind", file)
				}
			})
		}
	})

	t.Run("PullResume", func(t *testing.T) {
		file := filepath.Join(dir, "resumed.vhd")
		if err := os.WriteFile(file+".part", disk2[:5<<20], 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := image("pull", "--version", "latest", "--format", "vhd", "-o", file)
		if err != nil || !strings.Contains(out, "Resuming") || !strings.Contains(out, "latest is 1.0.1") {
			t.Fatalf("resumed pull: %v\n%s", err, out)
		}
		sameDisk(t, file, disk2, diskimage.FormatVHDFixed)
	})

	t.Run("PullRefusesWrongContent", func(t *testing.T) {
		// A .part that is not a prefix of the disk is resumed, the result
		// fails the digest check, and nothing is left.
		file := filepath.Join(dir, "wrong.raw")
		if err := os.WriteFile(file+".part", disk1[:5<<20], 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := image("pull", "--version", "1.0.1", "-o", file)
		if !errors.Is(err, errDigestMismatch) || !strings.Contains(err.Error(), "deleted") {
			t.Fatalf("pull onto a wrong .part: %v\n%s", err, out)
		}
		for _, p := range []string{file, file + ".part"} {
			if _, err := os.Stat(p); !os.IsNotExist(err) {
				t.Errorf("%s exists after a refused pull", p)
			}
		}
	})

	t.Run("Verify", func(t *testing.T) {
		m, err := manifest.Ingest(ctx, discardBlocks{}, bytes.NewReader(disk1), int64(len(disk1)), manifest.IngestOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ui := newProgressUI(io.Discard, true)
		good := filepath.Join(dir, "pulled.raw")
		if err := verifyDisk(ctx, good, "raw", m.Digest, int64(len(disk1)), 0, ui); err != nil {
			t.Fatalf("verify the pulled file: %v", err)
		}
		if err := verifyDisk(ctx, filepath.Join(dir, "pulled.qcow2"), "qcow2", m.Digest, int64(len(disk1)), 0, ui); err != nil {
			t.Fatalf("verify the pulled qcow2: %v", err)
		}
		tampered := append([]byte(nil), disk1...)
		tampered[12345] ^= 1
		bad := filepath.Join(dir, "tampered.raw")
		if err := os.WriteFile(bad, tampered, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := verifyDisk(ctx, bad, "raw", m.Digest, int64(len(disk1)), 0, ui); !errors.Is(err, errDigestMismatch) {
			t.Errorf("tampered raw: %v", err)
		}
		if err := verifyDisk(ctx, bad, "raw", m.Digest, 0, 0, ui); !errors.Is(err, errDigestMismatch) {
			t.Errorf("tampered raw, size unknown: %v", err)
		}
		if err := verifyDisk(ctx, bad, "qcow2", m.Digest, 0, 0, ui); !errors.Is(err, errDigestMismatch) {
			t.Errorf("raw file taken for qcow2: %v", err)
		}
		if err := verifyDisk(ctx, good, "raw", m.Digest, int64(len(disk1))+512, 0, ui); !errors.Is(err, errDigestMismatch) {
			t.Errorf("wrong size: %v", err)
		}
	})

	t.Run("Usage", func(t *testing.T) {
		out, err := galleonCLI(t, "", "usage", "-g", "rg", "-r", "gal", "-i", "img", "-e", "1.0.0", "-o", "json")
		var u struct {
			Value  []usageRow
			Totals struct{ StoredBytes, EgressBytes, Replicas int64 }
		}
		if err != nil || json.Unmarshal([]byte(out), &u) != nil {
			t.Fatalf("usage: %v\n%s", err, out)
		}
		// Three 4 MiB blocks of data per replica; one copy crossed regions.
		if u.Totals.Replicas != 2 || u.Totals.StoredBytes != 2*12<<20 || u.Totals.EgressBytes != 12<<20 {
			t.Errorf("usage totals = %+v\n%s", u.Totals, out)
		}
		out, err = galleonCLI(t, "", "usage", "-g", "rg")
		if err != nil || !strings.Contains(out, "rg/gal/img/1.0.0") || !strings.Contains(out, "12.0 MiB") || !strings.Contains(out, "Total: 4 replicas") {
			t.Errorf("usage table: %v\n%s", err, out)
		}
		if _, err := galleonCLI(t, "", "usage", "-r", "gal"); err == nil || !strings.Contains(err.Error(), "--resource-group") {
			t.Errorf("usage -r without -g: %v", err)
		}
	})
}

func TestParseRegions(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []targetRegion
		err      string
	}{
		{"Default", "", []targetRegion{{Name: "eastus"}}, ""},
		{"Plain", "eastus, westus2", []targetRegion{{Name: "eastus"}, {Name: "westus2"}}, ""},
		{"Full", "eastus,westus2=2,japaneast=1:Standard_ZRS,EastUS2:Premium_LRS",
			[]targetRegion{{Name: "eastus"}, {Name: "westus2", RegionalReplicaCount: 2}, {Name: "japaneast", RegionalReplicaCount: 1, StorageAccountType: "Standard_ZRS"},
				{Name: "EastUS2", StorageAccountType: "Premium_LRS"}}, ""},
		{"LocationAnyCase", "EastUS", []targetRegion{{Name: "EastUS"}}, ""},
		{"ErrNoLocation", "westus2", nil, "must include the version's location eastus"},
		{"ErrCount", "eastus=0", nil, "at least 1"},
		{"ErrCountText", "eastus=two", nil, "at least 1"},
		{"ErrNoName", "=2", nil, "names no region"},
		{"ErrEmptySKU", "eastus:", nil, "empty storage type"},
		{"ErrTwice", "eastus,EASTUS=2", nil, "twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseRegions(tc.in, "eastus")
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || !slices.Equal(got, tc.want) {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func TestUploadSize(t *testing.T) {
	for _, tc := range []struct {
		name       string
		size, want int64
	}{
		{"Small", 512, 20 << 20},
		{"Minimum", 20 << 20, 20 << 20},
		{"WholeMiB", 24 << 20, 24 << 20},
		{"RoundedUp", 24<<20 + 512, 25 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := uploadSize(tc.size); got != tc.want {
				t.Errorf("uploadSize(%d) = %d, want %d", tc.size, got, tc.want)
			}
		})
	}
}

func TestCompareVersions(t *testing.T) {
	names := []string{"1.10.0", "latest", "1.9.2", "0.0.1", "1.9.10", "2.0.0"}
	slices.SortFunc(names, compareVersions)
	if want := []string{"0.0.1", "1.9.2", "1.9.10", "1.10.0", "2.0.0", "latest"}; !slices.Equal(names, want) {
		t.Errorf("sorted = %v, want %v", names, want)
	}
	for _, bad := range []string{"1.0", "1.0.0.0", "1.-1.0", "a.b.c", "1..0", "+1.0.0"} {
		if err := checkVersionName(bad); err == nil {
			t.Errorf("checkVersionName(%q) accepted it", bad)
		}
	}
}

func TestUsagePath(t *testing.T) {
	const q = "?api-version=" + galleryAPI
	for _, tc := range []struct {
		name              string
		rg, g, i, v, want string
	}{
		{"Subscription", "", "", "", "", "/subscriptions/s/providers/Microsoft.Compute/galleryUsage" + q},
		{"ResourceGroup", "rg", "", "", "", "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/galleryUsage" + q},
		{"Gallery", "rg", "g", "", "", "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/galleries/g/galleryUsage" + q},
		{"Image", "rg", "g", "i", "", "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/galleries/g/images/i/galleryUsage" + q},
		{"Version", "rg", "g", "i", "1.0.0", "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/galleries/g/images/i/versions/1.0.0/galleryUsage" + q},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := usagePath("s", tc.rg, tc.g, tc.i, tc.v); got != tc.want {
				t.Errorf("usagePath = %s\nwant %s", got, tc.want)
			}
		})
	}
	id := "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/galleries/g/images/i/versions/1.0.0"
	if got := shortVersionID(id); got != "rg/g/i/1.0.0" {
		t.Errorf("shortVersionID = %s", got)
	}
	if got := shortVersionID("/odd"); got != "/odd" {
		t.Errorf("shortVersionID of a non-version = %s", got)
	}
}
