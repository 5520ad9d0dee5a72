package sqlite

// This test is white-box on purpose: query plans are an implementation
// detail no black-box test can see, and the hot queries must stay
// index-backed as the schema evolves.

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/galleonhq/galleon"
)

// plan returns the EXPLAIN QUERY PLAN details of q.
func plan(t *testing.T, s *Store, q string, args ...any) []string {
	t.Helper()
	rows, err := s.r.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+q, args...)
	if err != nil {
		t.Fatalf("explain %s: %v", q, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		out = append(out, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestQueryPlans(t *testing.T) {
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "galleon.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const rg = "/subscriptions/S1/resourceGroups/RG1"

	type query struct {
		q    string
		args []any
	}
	res := func(f galleon.ResourceFilter) query { q, a := resourceQuery(f); return query{q, a} }
	ra := func(f galleon.RoleAssignmentFilter) query { q, a := roleAssignmentQuery(f); return query{q, a} }
	for _, tc := range []struct {
		name string
		q    query
	}{
		{"ResourcesUnder", res(galleon.ResourceFilter{Under: rg, Limit: 100, After: rg + "/providers/a/b/c"})},
		{"ResourcesUnderOfType", res(galleon.ResourceFilter{Under: rg, Type: "Microsoft.Compute/galleries", Limit: 100})},
		{"ResourcesOfSubscription", res(galleon.ResourceFilter{SubscriptionID: "S1", Limit: 100})},
		{"ResourcesOfSubscriptionAndType", res(galleon.ResourceFilter{SubscriptionID: "S1", Type: "Microsoft.Compute/galleries"})},
		{"ResourcesOfGroup", res(galleon.ResourceFilter{SubscriptionID: "S1", ResourceGroup: "RG1"})},
		{"ResourcesOfType", res(galleon.ResourceFilter{Type: "Microsoft.Compute/galleries"})},
		{"AssignmentsAtOrAbove", ra(galleon.RoleAssignmentFilter{AtOrAbove: rg + "/providers/Microsoft.Compute/galleries/g", PrincipalIDs: []string{"a", "b"}})},
		{"AssignmentsAtOrBelow", ra(galleon.RoleAssignmentFilter{AtOrBelow: rg})},
		{"AssignmentsOfPrincipal", ra(galleon.RoleAssignmentFilter{PrincipalIDs: []string{"a"}})},
		{"DeleteResourcesUnder", query{`SELECT 1 FROM resources WHERE id_key >= ? AND id_key < ?`, []any{"/a/", "/a0"}}},
		{"ClaimJob", query{`SELECT id_key FROM jobs WHERE kind IN (?) AND ((state = ? AND run_at <= ?) OR (state = ? AND lease_until <= ?))
			ORDER BY run_at, created_at, id_key LIMIT 1`, []any{"k", galleon.JobQueued, "x", galleon.JobRunning, "x"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := plan(t, s, tc.q.q, tc.q.args...)
			for _, step := range p {
				if strings.HasPrefix(step, "SCAN ") {
					t.Fatalf("plan scans a whole table or index: %q", p)
				}
			}
			if testing.Verbose() {
				t.Logf("plan: %q", p)
			}
		})
	}
}

// BenchmarkListResourcesUnder lists a page of 100 of 10,000 resources
// under one parent, among 10,000 elsewhere.
func BenchmarkListResourcesUnder(b *testing.B) {
	s, err := Open(b.Context(), filepath.Join(b.TempDir(), "galleon.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	now := fmtTime(time.Now())
	tx, err := s.w.BeginTx(b.Context(), nil)
	if err != nil {
		b.Fatal(err)
	}
	for i := range 20000 {
		rg := "rg1"
		if i%2 == 1 {
			rg = "rg2"
		}
		id := fmt.Sprintf("/subscriptions/s1/resourceGroups/%s/providers/Microsoft.Compute/galleries/g%05d", rg, i)
		if _, err := tx.ExecContext(b.Context(), `INSERT INTO resources (id_key, id, type, type_key, name, subscription_id,
			subscription_key, resource_group, resource_group_key, location, managed_by, etag, created_at, created_by, changed_at)
			VALUES (?, ?, 'Microsoft.Compute/galleries', 'microsoft.compute/galleries', ?, 's1', 's1', ?, ?, 'eastus', '', '"x"', ?, '', ?)`,
			galleon.NormalizeScope(id), id, fmt.Sprintf("g%05d", i), rg, rg, now, now); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	f := galleon.ResourceFilter{Under: "/subscriptions/s1/resourceGroups/rg1", Limit: 100, After: "/subscriptions/s1/resourcegroups/rg1/providers/microsoft.compute/galleries/g05000"}
	b.ResetTimer()
	for b.Loop() {
		rs, next, err := s.ListResources(b.Context(), f)
		if err != nil || len(rs) != 100 || next == "" {
			b.Fatalf("ListResources: %d resources, next %q, err %v", len(rs), next, err)
		}
	}
}
