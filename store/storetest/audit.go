package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/galleonhq/galleon"
)

func testAudit(t *testing.T, open Opener) {
	rec := func(id string, at time.Duration, tenant, sub, principal, resource string) *galleon.AuditRecord {
		return &galleon.AuditRecord{ID: id, Time: t0.Add(at), TenantID: tenant, SubscriptionID: sub, PrincipalID: principal,
			PrincipalType: galleon.PrincipalUser, Method: "PUT", Path: resource, ResourceID: resource,
			Action: "Microsoft.Compute/galleries/write", Status: 200, Result: "Succeeded"}
	}
	const rg10 = "/subscriptions/S1/resourceGroups/RG10"
	records := []*galleon.AuditRecord{
		rec("r1", 0, tenantA, "S1", "P-1", rg1),
		rec("r2", time.Minute, tenantA, "S1", "P-2", gallery),
		rec("r3", 2*time.Minute, tenantA, "S1", "P-1", rg10),
		rec("r4", 3*time.Minute, tenantB, "S2", "P-3", "/subscriptions/S2/resourceGroups/RG1"),
		rec("r5", 3*time.Minute+30*time.Second, tenantA, "S1", "P-1", gallery+"/images/I1"),
		rec("r6", 4*time.Minute, tenantA, "S1", "P-2", gallery),
	}
	s := open(t)
	for _, r := range []int{0, 2, 1, 3, 5, 4} { // not in time order
		must(t, s.AppendAudit(t.Context(), records[r]))
	}

	for _, tc := range []struct {
		name string
		f    galleon.AuditFilter
		want []string
	}{
		{"All", galleon.AuditFilter{}, []string{"r6", "r5", "r4", "r3", "r2", "r1"}},
		{"Tenant", galleon.AuditFilter{TenantID: "7c1d4e2a-0000-4000-8000-00000000000a"}, []string{"r6", "r5", "r3", "r2", "r1"}},
		{"Subscription", galleon.AuditFilter{SubscriptionID: "s2"}, []string{"r4"}},
		{"UnderIncludesScope", galleon.AuditFilter{Under: "/subscriptions/s1/resourcegroups/rg1"}, []string{"r6", "r5", "r2", "r1"}},
		{"UnderGallery", galleon.AuditFilter{Under: gallery}, []string{"r6", "r5", "r2"}},
		{"Principal", galleon.AuditFilter{PrincipalID: "p-1"}, []string{"r5", "r3", "r1"}},
		{"SinceInclusive", galleon.AuditFilter{Since: t0.Add(2 * time.Minute)}, []string{"r6", "r5", "r4", "r3"}},
		{"UntilExclusive", galleon.AuditFilter{Until: t0.Add(2 * time.Minute)}, []string{"r2", "r1"}},
		{"SinceUntil", galleon.AuditFilter{Since: t0.Add(time.Minute), Until: t0.Add(3 * time.Minute)}, []string{"r3", "r2"}},
		{"Limit", galleon.AuditFilter{Limit: 2}, []string{"r6", "r5"}},
		{"Before", galleon.AuditFilter{Before: "r4"}, []string{"r3", "r2", "r1"}},
		{"BeforeWithFilterAndLimit", galleon.AuditFilter{Before: "r6", PrincipalID: "P-1", Limit: 2}, []string{"r5", "r3"}},
		{"Combined", galleon.AuditFilter{Under: rg1, PrincipalID: "P-2", Since: t0.Add(2 * time.Minute)}, []string{"r6"}},
		{"NoMatch", galleon.AuditFilter{PrincipalID: "P-9"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.ListAudit(t.Context(), tc.f)
			must(t, err)
			var ids []string
			for _, r := range got {
				ids = append(ids, r.ID)
			}
			wantStrings(t, "records", ids, tc.want)
		})
	}

	t.Run("RoundTrip", func(t *testing.T) {
		s := open(t)
		r := &galleon.AuditRecord{Time: t0, TenantID: tenantA, SubscriptionID: "S1", PrincipalID: "SP-1",
			PrincipalType: galleon.PrincipalServicePrincipal, AppID: "APP-1", Method: "DELETE", Path: "/subscriptions/S1/resourceGroups/RG1?api-version=2024-03-03",
			ResourceID: rg1, Action: "Microsoft.Resources/resourceGroups/delete", Status: 202, Result: "Succeeded",
			RequestID: "req-1", CorrelationID: "corr-1", ClientIP: "127.0.0.1"}
		must(t, s.AppendAudit(t.Context(), r))
		if r.ID == "" {
			t.Fatal("AppendAudit did not set ID")
		}
		got, err := s.ListAudit(t.Context(), galleon.AuditFilter{})
		must(t, err)
		if len(got) != 1 {
			t.Fatalf("ListAudit returned %d records, want 1", len(got))
		}
		g := *got[0]
		if !g.Time.Equal(r.Time) {
			t.Fatalf("Time = %v, want %v", g.Time, r.Time)
		}
		g.Time = r.Time
		if g != *r {
			t.Fatalf("record = %+v, want %+v", g, *r)
		}
	})

	t.Run("PagingWithEqualTimes", func(t *testing.T) {
		s := open(t)
		want := map[string]bool{}
		for i := range 9 {
			r := rec("", time.Duration(i/3)*time.Minute, tenantA, "S1", "P-1", rg1) // three records per instant
			must(t, s.AppendAudit(t.Context(), r))
			want[r.ID] = true
		}
		seen := map[string]bool{}
		f := galleon.AuditFilter{Limit: 2}
		var last time.Time
		for pages := 0; ; pages++ {
			if pages > 10 {
				t.Fatal("paging does not end")
			}
			page, err := s.ListAudit(t.Context(), f)
			must(t, err)
			if len(page) == 0 {
				break
			}
			for _, r := range page {
				if seen[r.ID] {
					t.Fatalf("record %s appears on two pages", r.ID)
				}
				if !last.IsZero() && r.Time.After(last) {
					t.Fatalf("record %s at %v comes after one at %v: not newest first", r.ID, r.Time, last)
				}
				seen[r.ID], last = true, r.Time
			}
			f.Before = page[len(page)-1].ID
		}
		if len(seen) != len(want) {
			t.Fatalf("pages held %d records, want %d", len(seen), len(want))
		}
	})
}

func testConcurrency(t *testing.T, open Opener) {
	const workers = 4
	t.Run("ClaimJobs", func(t *testing.T) {
		s := open(t)
		const n = 40
		for range n {
			enqueue(t, s, kindReplicate, t0)
		}
		var mu sync.Mutex
		claimed := map[string]string{}
		var wg sync.WaitGroup
		for w := range workers {
			owner := fmt.Sprintf("w%d", w)
			wg.Go(func() {
				for {
					j, err := s.ClaimJob(t.Context(), []string{kindReplicate}, owner, t0.Add(time.Minute), time.Hour)
					if err != nil {
						t.Errorf("%s: ClaimJob: %v", owner, err)
						return
					}
					if j == nil {
						return
					}
					mu.Lock()
					prev, dup := claimed[j.ID]
					claimed[j.ID] = owner
					mu.Unlock()
					if dup {
						t.Errorf("job %s claimed by both %s and %s", j.ID, prev, owner)
					}
					if err := s.CompleteJob(t.Context(), j.ID, owner); err != nil {
						t.Errorf("%s: CompleteJob: %v", owner, err)
					}
				}
			})
		}
		wg.Wait()
		if len(claimed) != n {
			t.Fatalf("%d jobs claimed, want %d", len(claimed), n)
		}
		counts, err := s.CountJobs(t.Context())
		must(t, err)
		if counts[kindReplicate][galleon.JobSucceeded] != n {
			t.Fatalf("counts = %v, want %d succeeded", counts, n)
		}
	})
	t.Run("Writes", func(t *testing.T) {
		s := open(t)
		const each = 10
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for i := range each {
					r := &galleon.Resource{ID: fmt.Sprintf("%s/providers/Microsoft.Compute/galleries/g%d-%d", rg1, w, i),
						Type: "Microsoft.Compute/galleries", Name: fmt.Sprintf("g%d-%d", w, i), SubscriptionID: "S1", ResourceGroup: "RG1"}
					if err := s.CreateResource(t.Context(), r); err != nil {
						t.Errorf("CreateResource: %v", err)
						return
					}
					r.Location = "westus2"
					if err := s.UpdateResource(t.Context(), r, r.ETag); err != nil {
						t.Errorf("UpdateResource: %v", err)
						return
					}
					if _, err := s.GetResource(t.Context(), r.ID); err != nil {
						t.Errorf("GetResource after write: %v", err)
						return
					}
					if err := s.AppendAudit(t.Context(), &galleon.AuditRecord{Time: t0, ResourceID: r.ID}); err != nil {
						t.Errorf("AppendAudit: %v", err)
						return
					}
				}
			})
		}
		wg.Wait()
		rs, _, err := s.ListResources(t.Context(), galleon.ResourceFilter{Under: rg1, Type: "Microsoft.Compute/galleries"})
		must(t, err)
		if len(rs) != workers*each {
			t.Fatalf("%d resources after concurrent writes, want %d", len(rs), workers*each)
		}
		for _, r := range rs {
			if r.Location != "westus2" {
				t.Fatalf("resource %s lost its update: location %q", r.ID, r.Location)
			}
		}
		recs, err := s.ListAudit(t.Context(), galleon.AuditFilter{Under: rg1})
		must(t, err)
		if len(recs) != workers*each {
			t.Fatalf("%d audit records after concurrent appends, want %d", len(recs), workers*each)
		}
	})
}
