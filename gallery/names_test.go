package gallery_test

import (
	"strings"
	"testing"

	"github.com/galleonhq/galleon"
	"github.com/galleonhq/galleon/gallery"
)

func TestValidateGalleryName(t *testing.T) {
	for name, ok := range map[string]bool{
		"myGallery": true, "g1": true, "a.b_c-d": true, "G": true, strings.Repeat("a", 80): true,
		"": false, "_g": false, "-g": false, "g-": false, "g.": false, "g h": false, "g/h": false, strings.Repeat("a", 81): false, "gäl": false,
	} {
		err := gallery.ValidateGalleryName(name)
		if (err == nil) != ok {
			t.Errorf("%q: err = %v, want ok=%v", name, err, ok)
		}
		if err != nil && galleon.AsError(err).Reason != "InvalidGalleryName" {
			t.Errorf("%q: reason = %q", name, galleon.AsError(err).Reason)
		}
	}
}

func TestValidateImageName(t *testing.T) {
	for name, ok := range map[string]bool{
		"ubuntu": true, "ubuntu-22.04": true, "a_b": true, "A1": true,
		"": false, "-a": false, "a-": false, "a--b": false, "a b": false, strings.Repeat("a", 81): false,
	} {
		if err := gallery.ValidateImageName(name); (err == nil) != ok {
			t.Errorf("%q: err = %v, want ok=%v", name, err, ok)
		}
	}
}

func TestParseDate(t *testing.T) {
	for in, want := range map[string]string{
		"2030-01-02T03:04:05Z":      "2030-01-02T03:04:05Z",
		"2030-01-02T03:04:05+02:00": "2030-01-02T01:04:05Z",
		"2030-01-02":                "2030-01-02T00:00:00Z",
	} {
		got, err := gallery.ParseDate(in)
		if err != nil || got.UTC().Format("2006-01-02T15:04:05Z07:00") != want {
			t.Errorf("%q: %v %v", in, got, err)
		}
	}
	if _, err := gallery.ParseDate("next tuesday"); err == nil {
		t.Error("nonsense parsed")
	}
}
