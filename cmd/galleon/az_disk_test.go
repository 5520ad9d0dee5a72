package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestAzDiskUpload uploads a VHD the az way: disk create --upload-type
// Upload, grant-access, storage blob upload --type page to the SAS URL,
// revoke-access.
func TestAzDiskUpload(t *testing.T) {
	_, az := azAdmin(t)
	az.ok("group", "create", "-n", "rg", "-l", "eastus")
	vhd := filepath.Join(t.TempDir(), "disk.vhd")
	if err := os.WriteFile(vhd, fixedVHD(t, randomDisk(20<<20)), 0o600); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(vhd)
	var disk struct{ DiskState string }
	az.json(&disk, "disk", "create", "-g", "rg", "-n", "up", "--upload-type", "Upload", "--upload-size-bytes", itoa(fi.Size()), "--os-type", "Linux")
	if disk.DiskState != "ReadyToUpload" {
		t.Fatalf("disk create = %+v", disk)
	}
	var access struct{ AccessSas string }
	az.json(&access, "disk", "grant-access", "-g", "rg", "-n", "up", "--access-level", "Write", "--duration-in-seconds", "3600")
	if !strings.Contains(access.AccessSas, "sig=") {
		t.Fatalf("grant-access = %+v", access)
	}
	az.ok("storage", "blob", "upload", "--blob-url", access.AccessSas, "--file", vhd, "--type", "page", "--overwrite", "true")
	az.ok("disk", "revoke-access", "-g", "rg", "-n", "up")
	az.json(&disk, "disk", "show", "-g", "rg", "-n", "up")
	if disk.DiskState != "Unattached" {
		t.Fatalf("after revoke-access: %+v", disk)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
