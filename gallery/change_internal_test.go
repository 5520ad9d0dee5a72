package gallery

import (
	"testing"

	"github.com/galleonhq/galleon"
)

func TestChangedProperty(t *testing.T) {
	id := func(p, o, s string) *galleon.GalleryImageIdentifier {
		return &galleon.GalleryImageIdentifier{Publisher: p, Offer: o, SKU: s}
	}
	old := &galleon.GalleryImageProperties{OSType: "Linux", OSState: "Generalized", Identifier: id("p", "o", "s"),
		Description: "a", ProvisioningState: "Succeeded", HyperVGeneration: "V1"}
	cases := []struct {
		name string
		new  *galleon.GalleryImageProperties
		want string
	}{
		{"Same", &galleon.GalleryImageProperties{OSType: "Linux", OSState: "Generalized", Identifier: id("p", "o", "s")}, ""},
		{"MutableDescription", &galleon.GalleryImageProperties{Description: "b"}, ""},
		{"OmittedKeepsValue", &galleon.GalleryImageProperties{}, ""},
		{"CaseOnly", &galleon.GalleryImageProperties{OSType: "linux"}, ""},
		{"ReadOnlyIgnored", &galleon.GalleryImageProperties{ProvisioningState: "Failed"}, ""},
		{"OSState", &galleon.GalleryImageProperties{OSState: "Specialized"}, "properties.osState"},
		{"NestedIdentifier", &galleon.GalleryImageProperties{Identifier: id("p", "o", "t")}, "properties.identifier.sku"},
		{"Generation", &galleon.GalleryImageProperties{HyperVGeneration: "V2"}, "properties.hyperVGeneration"},
		{"NewField", &galleon.GalleryImageProperties{Eula: "x"}, "properties.eula"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := changedProperty(old, tc.new, imageMutable, imageReadOnly); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}
