package authz_test

import (
	"context"
	"encoding/json"
	"errors"
	"sort"
	"strings"
	"testing"

	"github.com/galleonhq/galleon"
	"github.com/galleonhq/galleon/authz"
)

// fakeResources is an in-memory galleon.ResourceStore with the two reads
// ResourceDelegations makes.
type fakeResources struct {
	galleon.ResourceStore
	rows  map[string]*galleon.Resource // by normalized ID
	err   error
	lists int
}

func newFakeResources() *fakeResources { return &fakeResources{rows: map[string]*galleon.Resource{}} }

func (f *fakeResources) put(tb testing.TB, id, typ string, props any) {
	tb.Helper()
	rid, err := galleon.ParseResourceID(id)
	if err != nil {
		tb.Fatal(err)
	}
	b, err := json.Marshal(props)
	if err != nil {
		tb.Fatal(err)
	}
	f.rows[galleon.NormalizeScope(id)] = &galleon.Resource{ID: id, Type: typ, Name: rid.Name(),
		SubscriptionID: rid.SubscriptionID, ResourceGroup: rid.ResourceGroup, Properties: b}
}

func (f *fakeResources) GetResource(ctx context.Context, id string) (*galleon.Resource, error) {
	if f.err != nil {
		return nil, f.err
	}
	r, ok := f.rows[galleon.NormalizeScope(id)]
	if !ok {
		return nil, galleon.Errorf(galleon.ENotFound, "resource %s not found", id)
	}
	c := *r
	return &c, nil
}

func (f *fakeResources) ListResources(ctx context.Context, rf galleon.ResourceFilter) ([]*galleon.Resource, string, error) {
	f.lists++
	if f.err != nil {
		return nil, "", f.err
	}
	var out []*galleon.Resource
	for _, r := range f.rows {
		if (rf.Type == "" || strings.EqualFold(rf.Type, r.Type)) && (rf.SubscriptionID == "" || strings.EqualFold(rf.SubscriptionID, r.SubscriptionID)) {
			c := *r
			out = append(out, &c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return galleon.NormalizeScope(out[i].ID) < galleon.NormalizeScope(out[j].ID) })
	return out, "", nil
}

const (
	managingTenant = "bbbbbbbb-0000-4000-8000-00000000000b"
	otherTenant    = "cccccccc-0000-4000-8000-00000000000c"
	operatorID     = "0b0b0b0b-0000-4000-8000-000000000001" // a user of the managing tenant
	opsGroupID     = "0b0b0b0b-0000-4000-8000-000000000002" // a group of the managing tenant
	ownerWannabeID = "0b0b0b0b-0000-4000-8000-000000000003" // named with Owner: never granted
	defID          = scopeSub + "/providers/Microsoft.ManagedServices/registrationDefinitions/d0d0d0d0-0000-4000-8000-000000000001"
	assignmentID   = scopeRG + "/providers/Microsoft.ManagedServices/registrationAssignments/a0a0a0a0-0000-4000-8000-000000000001"
)

// delegationRows stores a definition naming the operator as Reader, the
// group as Contributor and someone as Owner, assigned to rg-images.
func delegationRows(tb testing.TB) *fakeResources {
	tb.Helper()
	f := newFakeResources()
	f.put(tb, defID, authz.RegistrationDefinitionType, authz.RegistrationDefinitionProperties{
		ManagedByTenantID: managingTenant, ProvisioningState: authz.DelegationSucceeded,
		Authorizations: []authz.DelegatedAuthorization{
			{PrincipalID: operatorID, RoleDefinitionID: authz.ReaderRoleID},
			{PrincipalID: opsGroupID, RoleDefinitionID: "/providers/Microsoft.Authorization/roleDefinitions/" + authz.ContributorRoleID},
			{PrincipalID: ownerWannabeID, RoleDefinitionID: authz.OwnerRoleID},
		},
	})
	f.put(tb, assignmentID, authz.RegistrationAssignmentType, authz.RegistrationAssignmentProperties{
		RegistrationDefinitionID: defID, ProvisioningState: authz.DelegationSucceeded,
	})
	return f
}

func TestValidateDelegatedRole(t *testing.T) {
	for _, tc := range []struct {
		name, role, reason string
	}{
		{"Reader", authz.ReaderRoleID, ""},
		{"Contributor", authz.ContributorRoleID, ""},
		{"ReaderByARMID", "/subscriptions/" + subID + "/providers/Microsoft.Authorization/roleDefinitions/" + strings.ToUpper(authz.ReaderRoleID), ""},
		{"ImageReader", authz.ComputeGalleryImageReaderRoleID, ""},
		{"ErrOwner", authz.OwnerRoleID, "RoleNotDelegable"},
		{"ErrUserAccessAdministrator", authz.UserAccessAdministratorRoleID, "RoleNotDelegable"},
		{"ErrCustomRole", customRoleID, "InvalidRoleDefinitionId"},
		{"ErrRoleName", "Reader", "InvalidRoleDefinitionId"},
		{"ErrEmpty", "", "InvalidRoleDefinitionId"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := authz.ValidateDelegatedRole(tc.role)
			if tc.reason == "" {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				return
			}
			if galleon.ErrorCode(err) != galleon.EInvalid || galleon.ErrorReason(err) != tc.reason {
				t.Fatalf("err = %v, want %s", err, tc.reason)
			}
		})
	}
	if err := authz.ValidateDelegatedRole(authz.OwnerRoleID); !strings.Contains(galleon.ErrorMessage(err), "Owner") {
		t.Fatalf("message does not name the role: %v", err)
	}
}

func TestResourceDelegations(t *testing.T) {
	ctx := context.Background()
	t.Run("OK", func(t *testing.T) {
		d := &authz.ResourceDelegations{Store: delegationRows(t)}
		got, err := d.ListDelegations(ctx, authz.DelegationFilter{ManagedByTenantID: managingTenant})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 {
			t.Fatalf("got %d delegations, want 2 (Owner skipped): %+v", len(got), got)
		}
		want := map[string]string{operatorID: authz.ReaderRoleID, opsGroupID: authz.ContributorRoleID}
		for _, x := range got {
			if want[x.PrincipalID] != x.RoleDefinitionID || x.Scope != galleon.NormalizeScope(scopeRG) ||
				x.SubscriptionID != subID || x.AssignmentID != assignmentID || x.DefinitionID != defID || x.ManagedByTenantID != managingTenant {
				t.Fatalf("delegation = %+v", x)
			}
		}
	})
	inactive := map[string]func(tb testing.TB, f *fakeResources){
		"OtherManagingTenant": func(tb testing.TB, f *fakeResources) {},
		"AssignmentNotSucceeded": func(tb testing.TB, f *fakeResources) {
			f.put(tb, assignmentID, authz.RegistrationAssignmentType, authz.RegistrationAssignmentProperties{RegistrationDefinitionID: defID, ProvisioningState: "Deleting"})
		},
		"DefinitionMissing": func(tb testing.TB, f *fakeResources) { delete(f.rows, galleon.NormalizeScope(defID)) },
		"DefinitionInOtherSubscription": func(tb testing.TB, f *fakeResources) {
			other := scopeOther + "/providers/Microsoft.ManagedServices/registrationDefinitions/d0d0d0d0-0000-4000-8000-000000000001"
			f.put(tb, other, authz.RegistrationDefinitionType, authz.RegistrationDefinitionProperties{
				ManagedByTenantID: managingTenant, ProvisioningState: authz.DelegationSucceeded,
				Authorizations: []authz.DelegatedAuthorization{{PrincipalID: operatorID, RoleDefinitionID: authz.ReaderRoleID}}})
			f.put(tb, assignmentID, authz.RegistrationAssignmentType, authz.RegistrationAssignmentProperties{RegistrationDefinitionID: other, ProvisioningState: authz.DelegationSucceeded})
			delete(f.rows, galleon.NormalizeScope(defID))
		},
		"AssignmentDeleted": func(tb testing.TB, f *fakeResources) { delete(f.rows, galleon.NormalizeScope(assignmentID)) },
	}
	for name, change := range inactive {
		t.Run(name, func(t *testing.T) {
			f := delegationRows(t)
			change(t, f)
			tenant := managingTenant
			if name == "OtherManagingTenant" {
				tenant = otherTenant
			}
			got, err := (&authz.ResourceDelegations{Store: f}).ListDelegations(ctx, authz.DelegationFilter{ManagedByTenantID: tenant})
			if err != nil || len(got) != 0 {
				t.Fatalf("got %+v, %v; want none", got, err)
			}
		})
	}
	t.Run("ErrStore", func(t *testing.T) {
		f := delegationRows(t)
		f.err = errors.New("disk on fire")
		if _, err := (&authz.ResourceDelegations{Store: f}).ListDelegations(ctx, authz.DelegationFilter{}); err == nil || !strings.Contains(err.Error(), "disk on fire") {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestAuthorizerDelegations(t *testing.T) {
	ctx := context.Background()
	rows := delegationRows(t)
	a := &authz.Authorizer{Store: newFakeStore(), Delegations: &authz.ResourceDelegations{Store: rows}}
	operator := &galleon.Principal{ObjectID: operatorID, TenantID: managingTenant, Type: galleon.PrincipalUser}
	groupMember := &galleon.Principal{ObjectID: "0b0b0b0b-0000-4000-8000-0000000000ff", TenantID: managingTenant, Type: galleon.PrincipalUser, GroupIDs: []string{opsGroupID}}
	sameIDOtherTenant := &galleon.Principal{ObjectID: operatorID, TenantID: otherTenant, Type: galleon.PrincipalUser}
	ownerWannabe := &galleon.Principal{ObjectID: ownerWannabeID, TenantID: managingTenant, Type: galleon.PrincipalUser}

	for _, tc := range []struct {
		name   string
		p      *galleon.Principal
		action string
		scope  string
		want   bool
	}{
		{"ReaderReadsRG", operator, actRGRead, scopeRG, true},
		{"ReaderReadsVersionInRG", operator, actVersionRead, scopeImage + "/versions/1.0.0", true},
		{"ReaderCannotWrite", operator, actGalWrite, scopeGal, false},
		{"ReaderNotInSiblingRG", operator, actRGRead, scopeSibRG, false},
		{"ReaderNotAtSubscription", operator, actRGRead, scopeSub, false},
		{"GroupContributorWrites", groupMember, actGalWrite, scopeGal, true},
		{"GroupContributorCannotAssignRoles", groupMember, actRAWrite, scopeRG, false},
		{"OtherTenantSameObjectID", sameIDOtherTenant, actRGRead, scopeRG, false},
		{"OwnerAuthorizationGrantsNothing", ownerWannabe, actRGRead, scopeRG, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := a.Allowed(ctx, tc.p, tc.action, tc.scope)
			if err != nil || got != tc.want {
				t.Fatalf("Allowed = %v, %v; want %v", got, err, tc.want)
			}
			err = a.Authorize(ctx, tc.p, tc.action, tc.scope)
			if tc.want != (err == nil) {
				t.Fatalf("Authorize = %v", err)
			}
		})
	}

	t.Run("Checker", func(t *testing.T) {
		chk, err := a.Checker(ctx, operator, scopeSub)
		if err != nil {
			t.Fatal(err)
		}
		if !chk.Allowed(actVersionRead, scopeImage+"/versions/1.0.0") || chk.Allowed(actRGRead, scopeSibRG) || chk.Allowed(actGalWrite, scopeGal) {
			t.Fatal("checker at the subscription answers wrong")
		}
		chk, err = a.Checker(ctx, operator, scopeGal)
		if err != nil {
			t.Fatal(err)
		}
		if !chk.Allowed(actVersionRead, scopeImage+"/versions/1.0.0") {
			t.Fatal("checker under the delegated scope denies a read")
		}
	})

	t.Run("DelegationsOfAndManagingTenants", func(t *testing.T) {
		ds, err := a.DelegationsOf(ctx, groupMember)
		if err != nil || len(ds) != 1 || ds[0].PrincipalID != opsGroupID {
			t.Fatalf("DelegationsOf = %+v, %v", ds, err)
		}
		if ds, err := a.DelegationsOf(ctx, sameIDOtherTenant); err != nil || len(ds) != 0 {
			t.Fatalf("DelegationsOf(other tenant) = %+v, %v", ds, err)
		}
		ts, err := a.ManagingTenants(ctx, subID)
		if err != nil || len(ts) != 1 || ts[0] != managingTenant {
			t.Fatalf("ManagingTenants = %v, %v", ts, err)
		}
		if ts, err := a.ManagingTenants(ctx, "22222222-2222-2222-2222-222222222222"); err != nil || len(ts) != 0 {
			t.Fatalf("ManagingTenants(other) = %v, %v", ts, err)
		}
	})

	t.Run("RevokedAtOnce", func(t *testing.T) {
		delete(rows.rows, galleon.NormalizeScope(assignmentID))
		defer func() {
			rows.put(t, assignmentID, authz.RegistrationAssignmentType, authz.RegistrationAssignmentProperties{RegistrationDefinitionID: defID, ProvisioningState: authz.DelegationSucceeded})
		}()
		if ok, err := a.Allowed(ctx, operator, actRGRead, scopeRG); err != nil || ok {
			t.Fatalf("Allowed after the assignment is gone = %v, %v", ok, err)
		}
	})

	t.Run("AssignmentsNeedNoDelegationLookup", func(t *testing.T) {
		st := newFakeStore()
		st.assign(operatorID, authz.ReaderRoleID, scopeSub)
		f := delegationRows(t)
		b := &authz.Authorizer{Store: st, Delegations: &authz.ResourceDelegations{Store: f}}
		if ok, err := b.Allowed(ctx, operator, actRGRead, scopeRG); err != nil || !ok {
			t.Fatalf("Allowed = %v, %v", ok, err)
		}
		if f.lists != 0 {
			t.Fatalf("a granted check listed delegations %d times", f.lists)
		}
	})

	t.Run("ErrStore", func(t *testing.T) {
		f := delegationRows(t)
		f.err = errors.New("disk on fire")
		b := &authz.Authorizer{Store: newFakeStore(), Delegations: &authz.ResourceDelegations{Store: f}}
		if _, err := b.Allowed(ctx, operator, actRGRead, scopeRG); err == nil || galleon.ErrorCode(err) != galleon.EInternal {
			t.Fatalf("err = %v", err)
		}
		if _, err := b.Checker(ctx, operator, scopeSub); err == nil {
			t.Fatal("Checker hid a store failure")
		}
	})

	t.Run("NoDelegationStore", func(t *testing.T) {
		b := &authz.Authorizer{Store: newFakeStore()}
		if ok, err := b.Allowed(ctx, operator, actRGRead, scopeRG); err != nil || ok {
			t.Fatalf("Allowed = %v, %v", ok, err)
		}
		if ds, err := b.DelegationsOf(ctx, operator); err != nil || ds != nil {
			t.Fatalf("DelegationsOf = %v, %v", ds, err)
		}
	})
}
