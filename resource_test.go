package galleon_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/galleonhq/galleon"
)

const (
	rgID      = "/subscriptions/s/resourceGroups/rg"
	galleryID = rgID + "/providers/Microsoft.Compute/galleries/g"
)

func TestParseResourceID(t *testing.T) {
	gallery := galleon.ResourceID{SubscriptionID: "s", ResourceGroup: "rg", Namespace: "Microsoft.Compute",
		Types: []string{"galleries"}, Names: []string{"g"}}
	for _, tc := range []struct {
		name   string
		in     string
		want   galleon.ResourceID
		str    string // canonical String()
		typ    string
		rname  string
		parent string // Parent().String()
	}{
		{name: "Root", in: "/", want: galleon.ResourceID{}, str: "/", typ: "", rname: "", parent: "/"},
		{name: "Subscription", in: "/subscriptions/s", want: galleon.ResourceID{SubscriptionID: "s"},
			str: "/subscriptions/s", typ: "Microsoft.Resources/subscriptions", rname: "s", parent: "/"},
		{name: "ResourceGroup", in: rgID, want: galleon.ResourceID{SubscriptionID: "s", ResourceGroup: "rg"},
			str: rgID, typ: "Microsoft.Resources/resourceGroups", rname: "rg", parent: "/subscriptions/s"},
		{name: "TopLevel", in: galleryID, want: gallery,
			str: galleryID, typ: "Microsoft.Compute/galleries", rname: "g", parent: rgID},
		{name: "TopLevelInSubscription", in: "/subscriptions/s/providers/Microsoft.Compute/galleries/g",
			want: galleon.ResourceID{SubscriptionID: "s", Namespace: "Microsoft.Compute", Types: []string{"galleries"}, Names: []string{"g"}},
			str:  "/subscriptions/s/providers/Microsoft.Compute/galleries/g", typ: "Microsoft.Compute/galleries", rname: "g",
			parent: "/subscriptions/s"},
		{name: "NestedChild", in: galleryID + "/images/i/versions/1.0.0",
			want: galleon.ResourceID{SubscriptionID: "s", ResourceGroup: "rg", Namespace: "Microsoft.Compute",
				Types: []string{"galleries", "images", "versions"}, Names: []string{"g", "i", "1.0.0"}},
			str: galleryID + "/images/i/versions/1.0.0", typ: "Microsoft.Compute/galleries/images/versions", rname: "1.0.0",
			parent: galleryID + "/images/i"},
		{name: "ExtensionOnResource", in: galleryID + "/providers/Microsoft.Authorization/roleAssignments/x",
			want: galleon.ResourceID{SubscriptionID: "s", ResourceGroup: "rg", Namespace: "Microsoft.Authorization",
				Types: []string{"roleAssignments"}, Names: []string{"x"}, Scope: &gallery},
			str: galleryID + "/providers/Microsoft.Authorization/roleAssignments/x", typ: "Microsoft.Authorization/roleAssignments",
			rname: "x", parent: galleryID},
		{name: "ExtensionOnChild", in: galleryID + "/images/i/providers/Microsoft.Authorization/roleAssignments/x",
			want: galleon.ResourceID{SubscriptionID: "s", ResourceGroup: "rg", Namespace: "Microsoft.Authorization",
				Types: []string{"roleAssignments"}, Names: []string{"x"},
				Scope: &galleon.ResourceID{SubscriptionID: "s", ResourceGroup: "rg", Namespace: "Microsoft.Compute",
					Types: []string{"galleries", "images"}, Names: []string{"g", "i"}}},
			str:   galleryID + "/images/i/providers/Microsoft.Authorization/roleAssignments/x",
			typ:   "Microsoft.Authorization/roleAssignments",
			rname: "x", parent: galleryID + "/images/i"},
		{name: "RoleAssignmentOnResourceGroup", in: rgID + "/providers/Microsoft.Authorization/roleAssignments/x",
			want: galleon.ResourceID{SubscriptionID: "s", ResourceGroup: "rg", Namespace: "Microsoft.Authorization",
				Types: []string{"roleAssignments"}, Names: []string{"x"}},
			str: rgID + "/providers/Microsoft.Authorization/roleAssignments/x", typ: "Microsoft.Authorization/roleAssignments",
			rname: "x", parent: rgID},
		{name: "TenantLevel", in: "/providers/Microsoft.Authorization/roleDefinitions/x",
			want: galleon.ResourceID{Namespace: "Microsoft.Authorization", Types: []string{"roleDefinitions"}, Names: []string{"x"}},
			str:  "/providers/Microsoft.Authorization/roleDefinitions/x", typ: "Microsoft.Authorization/roleDefinitions",
			rname: "x", parent: "/"},
		{name: "ExtensionOnTenantLevel",
			in: "/providers/Microsoft.Management/managementGroups/mg/providers/Microsoft.Authorization/roleAssignments/x",
			want: galleon.ResourceID{Namespace: "Microsoft.Authorization", Types: []string{"roleAssignments"}, Names: []string{"x"},
				Scope: &galleon.ResourceID{Namespace: "Microsoft.Management", Types: []string{"managementGroups"}, Names: []string{"mg"}}},
			str:   "/providers/Microsoft.Management/managementGroups/mg/providers/Microsoft.Authorization/roleAssignments/x",
			typ:   "Microsoft.Authorization/roleAssignments",
			rname: "x", parent: "/providers/Microsoft.Management/managementGroups/mg"},
		{name: "DoubledAndTrailingSlashes", in: "//subscriptions//s/resourceGroups/rg//providers/Microsoft.Compute/galleries/g/",
			want: gallery, str: galleryID, typ: "Microsoft.Compute/galleries", rname: "g", parent: rgID},
		{name: "NoLeadingSlash", in: "subscriptions/s/resourceGroups/rg", want: galleon.ResourceID{SubscriptionID: "s", ResourceGroup: "rg"},
			str: rgID, typ: "Microsoft.Resources/resourceGroups", rname: "rg", parent: "/subscriptions/s"},
		{name: "MixedCaseKeywords", in: "/SUBSCRIPTIONS/S/RESOURCEGROUPS/RG/PROVIDERS/Microsoft.Compute/Galleries/G",
			want: galleon.ResourceID{SubscriptionID: "S", ResourceGroup: "RG", Namespace: "Microsoft.Compute",
				Types: []string{"Galleries"}, Names: []string{"G"}},
			str: "/subscriptions/S/resourceGroups/RG/providers/Microsoft.Compute/Galleries/G", typ: "Microsoft.Compute/Galleries",
			rname: "G", parent: "/subscriptions/S/resourceGroups/RG"},
		{name: "KeywordsAsNames", in: "/subscriptions/resourceGroups/resourceGroups/providers/providers/providers/galleries/providers",
			want: galleon.ResourceID{SubscriptionID: "resourceGroups", ResourceGroup: "providers", Namespace: "providers",
				Types: []string{"galleries"}, Names: []string{"providers"}},
			str: "/subscriptions/resourceGroups/resourceGroups/providers/providers/providers/galleries/providers",
			typ: "providers/galleries", rname: "providers", parent: "/subscriptions/resourceGroups/resourceGroups/providers"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, err := galleon.ParseResourceID(tc.in)
			if err != nil {
				t.Fatalf("ParseResourceID(%q): %v", tc.in, err)
			}
			if !reflect.DeepEqual(id, tc.want) {
				t.Errorf("ParseResourceID(%q) = %#v, want %#v", tc.in, id, tc.want)
			}
			if got := id.String(); got != tc.str {
				t.Errorf("String() = %q, want %q", got, tc.str)
			}
			if got := id.Type(); got != tc.typ {
				t.Errorf("Type() = %q, want %q", got, tc.typ)
			}
			if got := id.Name(); got != tc.rname {
				t.Errorf("Name() = %q, want %q", got, tc.rname)
			}
			if got := id.Parent().String(); got != tc.parent {
				t.Errorf("Parent().String() = %q, want %q", got, tc.parent)
			}
		})
	}
}

func TestParseResourceIDErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		why  string // a fragment of the message that names the problem
	}{
		{"ErrMissingSubscriptionID", "/subscriptions", "subscription ID is missing"},
		{"ErrMissingSubscriptionIDTrailingSlash", "/subscriptions//", "subscription ID is missing"},
		{"ErrResourceGroupWithoutName", "/subscriptions/s/resourceGroups", "resource group name is missing"},
		{"ErrResourceGroupWithoutNameTrailingSlash", "/subscriptions/s/resourceGroups/", "resource group name is missing"},
		{"ErrTypeWithoutName", galleryID + "/images", "'images' has no name"},
		{"ErrTopLevelTypeWithoutName", rgID + "/providers/Microsoft.Compute/galleries", "'galleries' has no name"},
		{"ErrJunkAfterResourceGroup", rgID + "/junk/x", "expected 'providers' after the resource group, found 'junk'"},
		{"ErrJunkAfterSubscription", "/subscriptions/s/junk", "expected 'resourceGroups' or 'providers'"},
		{"ErrJunkAtStart", "/junk/x", "must start with"},
		{"ErrEmptyNamespace", rgID + "/providers", "provider namespace must follow"},
		{"ErrEmptyNamespaceTrailingSlash", rgID + "/providers/", "provider namespace must follow"},
		{"ErrEmptyTenantNamespace", "/providers", "provider namespace must follow"},
		{"ErrNoTypeAfterNamespace", rgID + "/providers/Microsoft.Compute", "no resource type follows"},
		{"ErrEmptyExtensionNamespace", galleryID + "/providers", "provider namespace must follow"},
		{"ErrNoTypeAfterExtensionNamespace", galleryID + "/providers/Microsoft.Authorization", "no resource type follows"},
		// Keywords match ASCII case-insensitively only: U+017F (long s)
		// folds to 's' under Unicode rules but NormalizeScope keeps it,
		// so accepting it would give one ID two store keys.
		{"ErrUnicodeFoldedKeyword", "/\u017Fubscriptions/s", "must start with"},
		{"ErrUnicodeFoldedResourceGroups", "/subscriptions/s/resourceGroup\u017F/rg", "expected 'resourceGroups' or 'providers'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, err := galleon.ParseResourceID(tc.in)
			if err == nil {
				t.Fatalf("ParseResourceID(%q) = %#v, want an error", tc.in, id)
			}
			var e *galleon.Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v is %T, want *galleon.Error", err, err)
			}
			if e.Code != galleon.EInvalid || e.Reason != "InvalidResourceId" {
				t.Errorf("error code/reason = %q/%q, want %q/%q", e.Code, e.Reason, galleon.EInvalid, "InvalidResourceId")
			}
			if !strings.Contains(e.Message, tc.why) {
				t.Errorf("message %q does not contain %q", e.Message, tc.why)
			}
			if !strings.Contains(e.Message, tc.in) {
				t.Errorf("message %q does not quote the input %q", e.Message, tc.in)
			}
			if !reflect.DeepEqual(id, galleon.ResourceID{}) {
				t.Errorf("ParseResourceID returned %#v with its error, want the zero ID", id)
			}
		})
	}
}

// TestResourceIDParentDoesNotAlias checks that growing a parent's Types or
// Names never writes into the child they came from.
func TestResourceIDParentDoesNotAlias(t *testing.T) {
	id, err := galleon.ParseResourceID(galleryID + "/images/i/versions/1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	p := id.Parent()
	p.Types = append(p.Types, "otherTypes")
	p.Names = append(p.Names, "other")
	if got, want := id.String(), galleryID+"/images/i/versions/1.0.0"; got != want {
		t.Errorf("after appending to the parent, child = %q, want %q", got, want)
	}
}

func TestScopeContains(t *testing.T) {
	for _, tc := range []struct {
		name         string
		scope, child string
		want         bool
	}{
		{"Same", rgID, rgID, true},
		{"SameDifferentCase", rgID, "/SUBSCRIPTIONS/S/RESOURCEGROUPS/RG", true},
		{"SameTrailingSlash", rgID + "/", "//subscriptions/s//resourceGroups/rg", true},
		{"RootContainsAll", "/", galleryID, true},
		{"EmptyIsRoot", "", galleryID, true},
		{"RootContainsRoot", "/", "/", true},
		{"SubscriptionContainsGroup", "/subscriptions/s", rgID, true},
		{"GroupContainsGallery", rgID, galleryID, true},
		{"GroupContainsNested", rgID, galleryID + "/images/i/versions/1.0.0", true},
		{"GalleryContainsExtension", galleryID, galleryID + "/providers/Microsoft.Authorization/roleAssignments/x", true},
		{"CaseInsensitive", "/Subscriptions/S/ResourceGroups/RG", galleryID, true},
		{"ChildDoesNotContainParent", galleryID, rgID, false},
		{"NotRootContainedByChild", rgID, "/", false},
		{"SiblingPrefixRG", "/subscriptions/s/resourceGroups/rg1", "/subscriptions/s/resourceGroups/rg10", false},
		{"SiblingPrefixRGChild", "/subscriptions/s/resourceGroups/rg1", "/subscriptions/s/resourceGroups/rg10/providers/Microsoft.Compute/galleries/g", false},
		{"SiblingPrefixSubscription", "/subscriptions/s", "/subscriptions/s2/resourceGroups/rg", false},
		{"OtherSubscription", "/subscriptions/a", "/subscriptions/b", false},
		{"TenantLevelNotUnderSubscription", "/subscriptions/s", "/providers/Microsoft.Authorization/roleDefinitions/x", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := galleon.ScopeContains(tc.scope, tc.child); got != tc.want {
				t.Errorf("ScopeContains(%q, %q) = %v, want %v", tc.scope, tc.child, got, tc.want)
			}
		})
	}
}

func TestNormalizeScope(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"Empty", "", "/"},
		{"Root", "/", "/"},
		{"OnlySlashes", "///", "/"},
		{"LowerCases", "/Subscriptions/S/ResourceGroups/RG", "/subscriptions/s/resourcegroups/rg"},
		{"TrailingSlash", rgID + "/", "/subscriptions/s/resourcegroups/rg"},
		{"DoubledSlashes", "//subscriptions//s///resourceGroups/rg", "/subscriptions/s/resourcegroups/rg"},
		{"NoLeadingSlash", "subscriptions/s", "/subscriptions/s"},
		{"Gallery", galleryID, "/subscriptions/s/resourcegroups/rg/providers/microsoft.compute/galleries/g"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := galleon.NormalizeScope(tc.in); got != tc.want {
				t.Errorf("NormalizeScope(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// FuzzParseResourceID checks, for any input, that parsing never panics and
// fails only with EInvalid/InvalidResourceId, and that an ID that parses
//   - formats to a canonical string that parses back to an equal ID,
//   - normalizes to the same store key as the input (String only changes
//     keyword case and slashes, which NormalizeScope ignores), and
//   - reaches the root through Parent in at most one step per segment, each
//     parent parsing and strictly containing its child.
func FuzzParseResourceID(f *testing.F) {
	for _, s := range []string{
		"", "/", "//", rgID, galleryID, galleryID + "/images/i/versions/1.0.0",
		galleryID + "/providers/Microsoft.Authorization/roleAssignments/x",
		"/providers/Microsoft.Authorization/roleDefinitions/x",
		"/providers/Microsoft.Management/managementGroups/mg/providers/Microsoft.Authorization/roleAssignments/x",
		"/SUBSCRIPTIONS/s/RESOURCEGROUPS/rg/", "/subscriptions", "/subscriptions/s/resourceGroups",
		rgID + "/junk", rgID + "/providers//galleries/g", "/subscriptions/providers/providers/p/t/n/providers/q/u/v",
		// Unicode case folding: U+017F folds to 's', U+212A (Kelvin) to 'k'.
		"/\u017Fubscriptions/s", "/subscriptions/s/resourceGroup\u017F/rg", rgID + "/\u017Froviders/N/t/n",
		"/providers/Microsoft.\u212Aey/t/n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		id, err := galleon.ParseResourceID(in)
		if err != nil {
			e := galleon.AsError(err)
			if e == nil || e.Code != galleon.EInvalid || e.Reason != "InvalidResourceId" {
				t.Fatalf("ParseResourceID(%q) error = %#v, want EInvalid/InvalidResourceId", in, err)
			}
			return
		}
		s := id.String()
		again, err := galleon.ParseResourceID(s)
		if err != nil {
			t.Fatalf("ParseResourceID(%q) ok, but its String %q does not parse: %v", in, s, err)
		}
		if !reflect.DeepEqual(again, id) {
			t.Fatalf("round trip of %q through %q: got %#v, want %#v", in, s, again, id)
		}
		if s2 := again.String(); s2 != s {
			t.Fatalf("String is not stable: %q then %q", s, s2)
		}
		if a, b := galleon.NormalizeScope(s), galleon.NormalizeScope(in); a != b {
			t.Fatalf("NormalizeScope(String()) = %q, NormalizeScope(input) = %q, input %q", a, b, in)
		}
		if s != "/" && !strings.HasPrefix(s, "/") {
			t.Fatalf("String() = %q does not start with '/'", s)
		}

		child := id
		for steps := 0; child.String() != "/"; steps++ {
			if steps > strings.Count(s, "/") {
				t.Fatalf("Parent chain of %q does not reach the root", s)
			}
			p := child.Parent()
			ps, cs := p.String(), child.String()
			if _, err := galleon.ParseResourceID(ps); err != nil {
				t.Fatalf("parent %q of %q does not parse: %v", ps, cs, err)
			}
			if !galleon.ScopeContains(ps, cs) || galleon.ScopeContains(cs, ps) {
				t.Fatalf("parent %q does not strictly contain %q", ps, cs)
			}
			child = p
		}
	})
}
