package authz_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/galleonhq/galleon"
	"github.com/galleonhq/galleon/authz"
)

// fakeStore is an in-memory galleon.RBACStore holding only what the
// Authorizer reads. The embedded nil interface makes any other method panic,
// so a test fails loudly if the Authorizer starts calling something new.
type fakeStore struct {
	galleon.RBACStore
	defs        map[string]*galleon.RoleDefinition // by lower-case GUID
	assignments []*galleon.RoleAssignment
	err         error // returned by every call when set
	listCalls   int
	filters     []galleon.RoleAssignmentFilter
}

func newFakeStore() *fakeStore {
	return &fakeStore{defs: map[string]*galleon.RoleDefinition{}}
}

func (s *fakeStore) putDefinition(d *galleon.RoleDefinition) {
	s.defs[strings.ToLower(d.Name)] = d
}

func (s *fakeStore) assign(principalID, roleID, scope string) {
	s.assignments = append(s.assignments, &galleon.RoleAssignment{
		Name:             fmt.Sprintf("00000000-0000-0000-0000-%012d", len(s.assignments)+1),
		Scope:            scope,
		RoleDefinitionID: roleID,
		PrincipalID:      principalID,
		PrincipalType:    galleon.PrincipalUser,
	})
}

func (s *fakeStore) GetRoleDefinition(ctx context.Context, name string) (*galleon.RoleDefinition, error) {
	if s.err != nil {
		return nil, s.err
	}
	d, ok := s.defs[strings.ToLower(name)]
	if !ok {
		return nil, galleon.Errorf(galleon.ENotFound, "role definition %s not found", name)
	}
	c := *d
	return &c, nil
}

func (s *fakeStore) ListRoleDefinitions(ctx context.Context) ([]*galleon.RoleDefinition, error) {
	if s.err != nil {
		return nil, s.err
	}
	var out []*galleon.RoleDefinition
	for _, d := range s.defs {
		c := *d
		out = append(out, &c)
	}
	return out, nil
}

// ListRoleAssignments applies f as store.go documents it: every non-empty
// field must match, and empty fields match all.
func (s *fakeStore) ListRoleAssignments(ctx context.Context, f galleon.RoleAssignmentFilter) ([]*galleon.RoleAssignment, error) {
	s.listCalls++
	s.filters = append(s.filters, f)
	if s.err != nil {
		return nil, s.err
	}
	var out []*galleon.RoleAssignment
	for _, a := range s.assignments {
		switch {
		case f.AtOrAbove != "" && !galleon.ScopeContains(a.Scope, f.AtOrAbove):
		case f.AtOrBelow != "" && !galleon.ScopeContains(f.AtOrBelow, a.Scope):
		case f.Scope != "" && galleon.NormalizeScope(f.Scope) != galleon.NormalizeScope(a.Scope):
		case len(f.PrincipalIDs) > 0 && !containsFold(f.PrincipalIDs, a.PrincipalID):
		case f.RoleDefinitionID != "" && !strings.EqualFold(f.RoleDefinitionID, a.RoleDefinitionID):
		default:
			c := *a
			out = append(out, &c)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		si, sj := galleon.NormalizeScope(out[i].Scope), galleon.NormalizeScope(out[j].Scope)
		if si != sj {
			return si < sj
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// The scopes of the matrix, spelled as clients send them.
const (
	subID      = "11111111-1111-1111-1111-111111111111"
	scopeSub   = "/subscriptions/" + subID
	scopeRG    = scopeSub + "/resourceGroups/rg-images"
	scopeSibRG = scopeSub + "/resourceGroups/rg-other"
	scopeGal   = scopeRG + "/providers/Microsoft.Compute/galleries/gal1"
	scopeImage = scopeGal + "/images/ubuntu"
	scopeOther = "/subscriptions/22222222-2222-2222-2222-222222222222"
)

const (
	actRGRead      = "Microsoft.Resources/subscriptions/resourceGroups/read"
	actRGWrite     = "Microsoft.Resources/subscriptions/resourceGroups/write"
	actGalWrite    = "Microsoft.Compute/galleries/write"
	actVersionRead = "Microsoft.Compute/galleries/images/versions/read"
	actRAWrite     = "Microsoft.Authorization/roleAssignments/write"
	actRARead      = "Microsoft.Authorization/roleAssignments/read"
	actShare       = "Microsoft.Compute/galleries/share/action"
)

const customRoleID = "c0ffee00-0000-4000-8000-000000000001"

// customRole grants everything on galleries except sharing, plus reading
// role assignments from a second permission block.
func customRole() *galleon.RoleDefinition {
	return &galleon.RoleDefinition{
		Name:     customRoleID,
		Scope:    scopeSub,
		RoleName: "Gallery Operator",
		Type:     galleon.CustomRole,
		Permissions: []galleon.Permission{
			{Actions: []string{"Microsoft.Compute/galleries/*"}, NotActions: []string{"Microsoft.Compute/galleries/share/action"}},
			{Actions: []string{"Microsoft.Authorization/roleAssignments/read"}},
		},
		AssignableScopes: []string{scopeSub},
	}
}

const (
	userID  = "aaaaaaaa-0000-0000-0000-000000000001"
	groupID = "99999999-0000-0000-0000-000000000001"
	otherID = "bbbbbbbb-0000-0000-0000-000000000002"
)

func user() *galleon.Principal {
	return &galleon.Principal{ObjectID: userID, TenantID: "t1", Type: galleon.PrincipalUser}
}

var (
	matrixRoles = []struct{ name, id string }{
		{"Owner", authz.OwnerRoleID},
		{"Contributor", authz.ContributorRoleID},
		{"Reader", authz.ReaderRoleID},
		{"UserAccessAdministrator", authz.UserAccessAdministratorRoleID},
		{"ComputeGallerySharingAdmin", authz.ComputeGallerySharingAdminRoleID},
		{"ComputeGalleryImageReader", authz.ComputeGalleryImageReaderRoleID},
		{"Custom", customRoleID},
	}
	matrixAssignScopes = []struct{ name, scope string }{
		{"AtSubscription", scopeSub},
		{"AtResourceGroup", scopeRG},
		{"AtGallery", scopeGal},
	}
	matrixRequestScopes = []struct{ name, scope string }{
		{"subscription", scopeSub},
		{"rg", scopeRG},
		{"siblingRG", scopeSibRG},
		{"gallery", scopeGal},
		{"image", scopeImage},
		{"otherSubscription", scopeOther},
	}
	matrixActions = []string{actRGRead, actRGWrite, actGalWrite, actVersionRead, actRAWrite, actRARead, actShare}

	// reaches lists, by hand, the request scopes an assignment at each
	// assignment scope applies to: itself and everything below it.
	reaches = map[string][]string{
		"AtSubscription":  {"subscription", "rg", "siblingRG", "gallery", "image"},
		"AtResourceGroup": {"rg", "gallery", "image"},
		"AtGallery":       {"gallery", "image"},
	}

	// grants lists, by hand from Azure's role documentation, which of the
	// matrix actions each role allows.
	grants = map[string][]string{
		"Owner":                      {actRGRead, actRGWrite, actGalWrite, actVersionRead, actRAWrite, actRARead, actShare},
		"Contributor":                {actRGRead, actRGWrite, actGalWrite, actVersionRead, actRARead},
		"Reader":                     {actRGRead, actVersionRead, actRARead},
		"UserAccessAdministrator":    {actRGRead, actVersionRead, actRARead, actRAWrite},
		"ComputeGallerySharingAdmin": {actRGRead, actVersionRead, actShare},
		"ComputeGalleryImageReader":  {actVersionRead},
		"Custom":                     {actGalWrite, actVersionRead, actRARead},
	}

	// checkerRoots lists, by hand, the request scopes under each root.
	checkerRoots = []struct {
		name, scope string
		covers      []string
	}{
		{"Root", "/", []string{"subscription", "rg", "siblingRG", "gallery", "image", "otherSubscription"}},
		{"Subscription", scopeSub, []string{"subscription", "rg", "siblingRG", "gallery", "image"}},
		{"ResourceGroup", scopeRG, []string{"rg", "gallery", "image"}},
	}
)

func has(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// matrixStore holds one assignment of roleID at scope to the test user, an
// Owner assignment for someone else (which must never leak), and the custom
// role definition.
func matrixStore(roleID, scope string) *fakeStore {
	s := newFakeStore()
	s.putDefinition(customRole())
	s.assign(otherID, authz.OwnerRoleID, scopeSub)
	s.assign(otherID, authz.OwnerRoleID, scopeOther)
	s.assign(userID, roleID, scope)
	return s
}

// TestAuthorizeMatrix checks every role x assignment scope x request scope x
// action against the hand-written tables above, through Authorize, Allowed
// and Checkers rooted at several scopes.
func TestAuthorizeMatrix(t *testing.T) {
	ctx := context.Background()
	for _, role := range matrixRoles {
		for _, as := range matrixAssignScopes {
			t.Run(role.name+"/"+as.name, func(t *testing.T) {
				a := &authz.Authorizer{Store: matrixStore(role.id, as.scope)}
				p := user()
				checkers := make([]*authz.Checker, len(checkerRoots))
				for i, r := range checkerRoots {
					c, err := a.Checker(ctx, p, r.scope)
					if err != nil {
						t.Fatalf("Checker(%s): %v", r.scope, err)
					}
					checkers[i] = c
				}
				for _, rs := range matrixRequestScopes {
					for _, action := range matrixActions {
						want := has(reaches[as.name], rs.name) && has(grants[role.name], action)
						err := a.Authorize(ctx, p, action, rs.scope)
						if want && err != nil {
							t.Errorf("Authorize(%s at %s) = %v, want allowed", action, rs.name, err)
						} else if !want && galleon.ErrorCode(err) != galleon.EForbidden {
							t.Errorf("Authorize(%s at %s) = %v, want Forbidden", action, rs.name, err)
						}
						got, err := a.Allowed(ctx, p, action, rs.scope)
						if err != nil || got != want {
							t.Errorf("Allowed(%s at %s) = %v, %v; want %v", action, rs.name, got, err, want)
						}
						for i, r := range checkerRoots {
							cwant := want && has(r.covers, rs.name)
							if got := checkers[i].Allowed(action, rs.scope); got != cwant {
								t.Errorf("Checker(root %s).Allowed(%s at %s) = %v, want %v", r.name, action, rs.name, got, cwant)
							}
						}
					}
				}
			})
		}
	}
}

func TestAuthorizeInheritance(t *testing.T) {
	ctx := context.Background()
	s := newFakeStore()
	s.assign(userID, authz.ReaderRoleID, scopeSub)
	a := &authz.Authorizer{Store: s}
	tests := []struct {
		name  string
		scope string
		want  bool
	}{
		{"Subscription", scopeSub, true},
		{"ResourceGroup", scopeRG, true},
		{"Resource", scopeGal, true},
		{"ChildResource", scopeImage + "/versions/1.0.0", true},
		{"OtherSubscription", scopeOther, false},
		{"OtherSubscriptionResourceGroup", scopeOther + "/resourceGroups/rg-images", false},
		{"SubscriptionIDPrefix", scopeSub + "1", false},
		{"Root", "/", false},
		{"EmptyScope", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := a.Allowed(ctx, user(), actVersionRead, tt.scope)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("Allowed at %q = %v, want %v", tt.scope, got, tt.want)
			}
		})
	}
}

func TestAuthorizeGroupMembership(t *testing.T) {
	ctx := context.Background()
	const nestedGroup = "99999999-0000-0000-0000-000000000002"
	s := newFakeStore()
	s.assign(groupID, authz.ComputeGalleryImageReaderRoleID, scopeGal)
	s.assign(nestedGroup, authz.ContributorRoleID, scopeSibRG)
	a := &authz.Authorizer{Store: s}
	tests := []struct {
		name   string
		groups []string
		scope  string
		action string
		want   bool
	}{
		{"DirectGroup", []string{groupID}, scopeImage, actVersionRead, true},
		{"TransitiveGroup", []string{groupID, nestedGroup}, scopeSibRG, actRGWrite, true},
		{"GroupRoleLimits", []string{groupID}, scopeImage, actGalWrite, false},
		{"NoGroups", nil, scopeImage, actVersionRead, false},
		{"OtherGroup", []string{"99999999-0000-0000-0000-000000000003"}, scopeImage, actVersionRead, false},
		{"GroupIDCase", []string{strings.ToUpper(groupID)}, scopeImage, actVersionRead, true},
		{"EmptyGroupIgnored", []string{""}, scopeImage, actVersionRead, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := user()
			p.GroupIDs = tt.groups
			got, err := a.Allowed(ctx, p, tt.action, tt.scope)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("Allowed = %v, want %v", got, tt.want)
			}
			c, err := a.Checker(ctx, p, scopeSub)
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Allowed(tt.action, tt.scope); got != tt.want {
				t.Fatalf("Checker.Allowed = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestAuthorizeCaseInsensitive(t *testing.T) {
	ctx := context.Background()
	s := newFakeStore()
	// Stored in lower case, with an upper-case principal ID and role GUID.
	s.assign(strings.ToUpper(userID), strings.ToUpper(authz.ComputeGalleryImageReaderRoleID), strings.ToLower(scopeRG))
	a := &authz.Authorizer{Store: s}
	tests := []struct {
		name, action, scope string
	}{
		{"UpperScope", actVersionRead, strings.ToUpper(scopeImage)},
		{"UpperAction", strings.ToUpper(actVersionRead), scopeImage},
		{"LowerAll", strings.ToLower(actVersionRead), strings.ToLower(scopeImage)},
		{"MixedSlashes", actVersionRead, "//SUBSCRIPTIONS/" + subID + "//resourcegroups/RG-IMAGES/providers/microsoft.compute/GALLERIES/gal1/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := a.Authorize(ctx, user(), tt.action, tt.scope); err != nil {
				t.Fatalf("Authorize: %v", err)
			}
			c, err := a.Checker(ctx, user(), strings.ToUpper(scopeSub))
			if err != nil {
				t.Fatal(err)
			}
			if !c.Allowed(tt.action, tt.scope) {
				t.Fatal("Checker.Allowed = false, want true")
			}
		})
	}
	t.Run("StillDeniesOtherActions", func(t *testing.T) {
		if err := a.Authorize(ctx, user(), strings.ToUpper(actGalWrite), strings.ToUpper(scopeGal)); galleon.ErrorCode(err) != galleon.EForbidden {
			t.Fatalf("Authorize = %v, want Forbidden", err)
		}
	})
}

func TestAuthorizeError(t *testing.T) {
	ctx := context.Background()
	a := &authz.Authorizer{Store: newFakeStore()}
	t.Run("User", func(t *testing.T) {
		err := a.Authorize(ctx, user(), actGalWrite, scopeGal)
		e := galleon.AsError(err)
		if e == nil {
			t.Fatalf("Authorize = %v, want *galleon.Error", err)
		}
		want := "The client '" + userID + "' with object id '" + userID + "' does not have authorization to perform action '" +
			actGalWrite + "' over scope '" + scopeGal + "' or the scope is invalid. If access was recently granted, please refresh your credentials."
		if e.Code != galleon.EForbidden || e.Reason != "AuthorizationFailed" || e.Target != "" || e.Message != want {
			t.Fatalf("error = %+v\nwant message %q", e, want)
		}
	})
	t.Run("ServicePrincipal", func(t *testing.T) {
		p := &galleon.Principal{ObjectID: "5p5p5p5p-0000-0000-0000-000000000001", AppID: "a99a99a9-0000-0000-0000-000000000001", Type: galleon.PrincipalServicePrincipal}
		e := galleon.AsError(a.Authorize(ctx, p, actShare, scopeGal))
		if e == nil || e.Code != galleon.EForbidden || e.Reason != "AuthorizationFailed" {
			t.Fatalf("error = %+v, want AuthorizationFailed", e)
		}
		for _, s := range []string{"'" + p.AppID + "'", "object id '" + p.ObjectID + "'", "'" + actShare + "'", "'" + scopeGal + "'"} {
			if !strings.Contains(e.Message, s) {
				t.Errorf("message %q does not contain %s", e.Message, s)
			}
		}
	})
	t.Run("CheckerSameError", func(t *testing.T) {
		c, err := a.Checker(ctx, user(), scopeSub)
		if err != nil {
			t.Fatal(err)
		}
		got, want := galleon.AsError(c.Authorize(actGalWrite, scopeGal)), galleon.AsError(a.Authorize(ctx, user(), actGalWrite, scopeGal))
		if got == nil || want == nil || *got != *want {
			t.Fatalf("Checker.Authorize = %+v, want %+v", got, want)
		}
	})
	t.Run("NilPrincipal", func(t *testing.T) {
		if err := a.Authorize(ctx, nil, actRGRead, scopeRG); galleon.ErrorCode(err) != galleon.EUnauthenticated {
			t.Fatalf("Authorize = %v, want Unauthenticated", err)
		}
		if _, err := a.Allowed(ctx, nil, actRGRead, scopeRG); galleon.ErrorCode(err) != galleon.EUnauthenticated {
			t.Fatalf("Allowed = %v, want Unauthenticated", err)
		}
		if _, err := a.Checker(ctx, nil, scopeRG); galleon.ErrorCode(err) != galleon.EUnauthenticated {
			t.Fatalf("Checker = %v, want Unauthenticated", err)
		}
	})
	t.Run("EmptyObjectID", func(t *testing.T) {
		s := newFakeStore()
		s.assign("", authz.OwnerRoleID, scopeSub) // a corrupt row must not grant anonymous callers
		a := &authz.Authorizer{Store: s}
		if err := a.Authorize(ctx, &galleon.Principal{}, actRGRead, scopeRG); galleon.ErrorCode(err) != galleon.EUnauthenticated {
			t.Fatalf("Authorize = %v, want Unauthenticated", err)
		}
	})
	t.Run("StoreFailure", func(t *testing.T) {
		boom := errors.New("disk on fire")
		s := newFakeStore()
		s.err = boom
		a := &authz.Authorizer{Store: s}
		err := a.Authorize(ctx, user(), actRGRead, scopeRG)
		if !errors.Is(err, boom) || galleon.ErrorCode(err) != galleon.EInternal {
			t.Fatalf("Authorize = %v, want wrapped store error", err)
		}
		if _, err := a.Checker(ctx, user(), scopeRG); !errors.Is(err, boom) {
			t.Fatalf("Checker = %v, want wrapped store error", err)
		}
	})
}

func TestAuthorizeRoleDefinitions(t *testing.T) {
	ctx := context.Background()
	const (
		missingRoleID = "deadbeef-0000-4000-8000-000000000000"
		splitRoleID   = "5b1e0000-0000-4000-8000-000000000000"
	)
	s := newFakeStore()
	s.putDefinition(customRole())
	s.putDefinition(&galleon.RoleDefinition{
		Name: splitRoleID, RoleName: "Split", Type: galleon.CustomRole, AssignableScopes: []string{scopeSub},
		Permissions: []galleon.Permission{
			// A notAction subtracts only from its own block.
			{Actions: []string{"Microsoft.Compute/*"}, NotActions: []string{"Microsoft.Compute/galleries/write"}},
			{Actions: []string{"Microsoft.Compute/galleries/write"}},
			// This block excludes everything it grants.
			{Actions: []string{"Microsoft.Network/*"}, NotActions: []string{"*"}},
		},
	})
	s.assign(userID, missingRoleID, scopeSub)
	s.assign(userID, splitRoleID, scopeRG)
	s.assign(userID, "/subscriptions/"+subID+"/providers/Microsoft.Authorization/roleDefinitions/"+authz.ReaderRoleID, scopeOther)
	a := &authz.Authorizer{Store: s}
	tests := []struct {
		name, action, scope string
		want                bool
	}{
		{"MissingDefinitionGrantsNothing", actRGRead, scopeSub, false},
		{"BlockAllows", "Microsoft.Compute/disks/write", scopeRG, true},
		{"OtherBlockRestoresNotAction", actGalWrite, scopeGal, true},
		{"BlockExcludingAll", "Microsoft.Network/virtualNetworks/read", scopeRG, false},
		{"DefinitionByARMID", actRGRead, scopeOther + "/resourceGroups/x", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := a.Allowed(ctx, user(), tt.action, tt.scope)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("Allowed(%s at %s) = %v, want %v", tt.action, tt.scope, got, tt.want)
			}
			c, err := a.Checker(ctx, user(), "/")
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Allowed(tt.action, tt.scope); got != tt.want {
				t.Fatalf("Checker.Allowed = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestChecker(t *testing.T) {
	ctx := context.Background()
	s := newFakeStore()
	s.assign(userID, authz.ReaderRoleID, scopeSub)                    // above the root
	s.assign(userID, authz.ContributorRoleID, scopeGal)               // below it
	s.assign(userID, authz.OwnerRoleID, scopeSibRG)                   // beside it: never loaded
	s.assign(otherID, authz.OwnerRoleID, scopeRG)                     // someone else's
	s.assign(userID, authz.ComputeGallerySharingAdminRoleID, scopeRG) // at the root
	a := &authz.Authorizer{Store: s}
	c, err := a.Checker(ctx, user(), scopeRG)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("LoadsOnce", func(t *testing.T) {
		if s.listCalls != 2 {
			t.Fatalf("Checker made %d list calls, want 2", s.listCalls)
		}
		for i := 0; i < 100; i++ {
			c.Allowed(actVersionRead, fmt.Sprintf("%s/versions/1.0.%d", scopeImage, i))
		}
		if s.listCalls != 2 {
			t.Fatalf("Allowed queried the store: %d list calls", s.listCalls)
		}
		for _, f := range s.filters {
			if len(f.PrincipalIDs) == 0 || (f.AtOrAbove == "") == (f.AtOrBelow == "") {
				t.Errorf("filter %+v: want principal IDs and exactly one of AtOrAbove, AtOrBelow", f)
			}
		}
	})
	tests := []struct {
		name, action, scope string
		want                bool
	}{
		{"InheritedFromAbove", actRGRead, scopeRG, true},
		{"AssignedBelow", actGalWrite, scopeGal, true},
		{"AssignedBelowNotAtRoot", actRGWrite, scopeRG, false},
		{"AtRoot", actShare, scopeImage, true},
		{"OutsideRootSibling", actRGRead, scopeSibRG, false},
		{"OutsideRootAbove", actRGRead, scopeSub, false},
		{"OtherPrincipalIgnored", actRAWrite, scopeRG, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := c.Allowed(tt.action, tt.scope); got != tt.want {
				t.Fatalf("Allowed(%s at %s) = %v, want %v", tt.action, tt.scope, got, tt.want)
			}
		})
	}
	t.Run("NilChecker", func(t *testing.T) {
		var nc *authz.Checker
		if nc.Allowed(actRGRead, scopeRG) {
			t.Fatal("nil Checker allowed an action")
		}
	})
}
