package storetest

import (
	"bytes"
	"encoding/json"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/galleonhq/galleon"
)

// Opener returns a new, empty store for one test and arranges its cleanup
// (t.Cleanup).
type Opener = func(t *testing.T) galleon.Store

// Run runs the contract suite: every method of galleon.Store, as store.go
// documents it, against fresh stores made by open. A store implementation is
// done when it passes.
func Run(t *testing.T, open func(t *testing.T) galleon.Store) {
	t.Run("Tenants", func(t *testing.T) { testTenants(t, open) })
	t.Run("Subscriptions", func(t *testing.T) { testSubscriptions(t, open) })
	t.Run("Users", func(t *testing.T) { testUsers(t, open) })
	t.Run("Groups", func(t *testing.T) { testGroups(t, open) })
	t.Run("Applications", func(t *testing.T) { testApplications(t, open) })
	t.Run("ClientSecrets", func(t *testing.T) { testClientSecrets(t, open) })
	t.Run("ServicePrincipals", func(t *testing.T) { testServicePrincipals(t, open) })
	t.Run("DirectoryRoles", func(t *testing.T) { testDirectoryRoles(t, open) })
	t.Run("SigningKeys", func(t *testing.T) { testSigningKeys(t, open) })
	t.Run("Resources", func(t *testing.T) { testResources(t, open) })
	t.Run("ListResources", func(t *testing.T) { testListResources(t, open) })
	t.Run("RoleDefinitions", func(t *testing.T) { testRoleDefinitions(t, open) })
	t.Run("RoleAssignments", func(t *testing.T) { testRoleAssignments(t, open) })
	t.Run("ListRoleAssignments", func(t *testing.T) { testListRoleAssignments(t, open) })
	t.Run("Jobs", func(t *testing.T) { testJobs(t, open) })
	t.Run("Operations", func(t *testing.T) { testOperations(t, open) })
	t.Run("Audit", func(t *testing.T) { testAudit(t, open) })
	t.Run("Replicas", func(t *testing.T) { testReplicas(t, open) })
	t.Run("Blobs", func(t *testing.T) { testBlobs(t, open) })
	t.Run("StagedBlocks", func(t *testing.T) { testStagedBlocks(t, open) })
	t.Run("AllBlobBlocks", func(t *testing.T) { testAllBlobBlocks(t, open) })
	t.Run("ResourceInternal", func(t *testing.T) { testResourceInternal(t, open) })
	t.Run("Concurrency", func(t *testing.T) { testConcurrency(t, open) })
}

// t0 is the suite's fixed clock, with a fraction of a second to show that
// times round-trip to the nanosecond.
var t0 = time.Date(2030, time.March, 4, 5, 6, 7, 123456789, time.UTC)

// wantCode fails t unless err carries the galleon error code want.
func wantCode(t *testing.T, err error, want string) {
	t.Helper()
	if got := galleon.ErrorCode(err); got != want {
		t.Fatalf("error code = %q, want %q (error: %v)", got, want, err)
	}
}

// wantNotFound fails t unless err is ENotFound with an empty Reason (the
// transports choose the Reason) and a message.
func wantNotFound(t *testing.T, err error) {
	t.Helper()
	wantCode(t, err, galleon.ENotFound)
	if e := galleon.AsError(err); e.Reason != "" || e.Message == "" {
		t.Fatalf("not-found error has Reason %q and Message %q; want no Reason and a message", e.Reason, e.Message)
	}
}

// must fails t if err is not nil.
func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// wantTime fails t unless got equals want as an instant.
func wantTime(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if !got.Equal(want) {
		t.Fatalf("%s = %v, want %v", what, got, want)
	}
}

// wantStrings fails t unless got equals want element by element.
func wantStrings(t *testing.T, what string, got, want []string) {
	t.Helper()
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !slices.Equal(got, want) {
		t.Fatalf("%s = %q, want %q", what, got, want)
	}
}

// wantSet fails t unless got holds the same strings as want, in any order.
func wantSet(t *testing.T, what string, got, want []string) {
	t.Helper()
	g, w := slices.Clone(got), slices.Clone(want)
	sort.Strings(g)
	sort.Strings(w)
	wantStrings(t, what, g, w)
}

// wantJSON fails t unless got and want are equal JSON documents (a store
// may reformat JSON, as PostgreSQL's jsonb does).
func wantJSON(t *testing.T, what string, got, want []byte) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("%s = %q is not JSON: %v", what, got, err)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatalf("want %s %q is not JSON: %v", what, want, err)
	}
	gb, _ := json.Marshal(g)
	wb, _ := json.Marshal(w)
	if !bytes.Equal(gb, wb) {
		t.Fatalf("%s = %s, want %s", what, got, want)
	}
}

// seedTenant creates a tenant with the given ID and domain.
func seedTenant(t *testing.T, s galleon.Store, id, domain string) *galleon.Tenant {
	t.Helper()
	tn := &galleon.Tenant{ID: id, Domain: domain, DisplayName: "Tenant " + id}
	must(t, s.CreateTenant(t.Context(), tn))
	return tn
}
