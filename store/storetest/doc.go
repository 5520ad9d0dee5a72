// Package storetest is the contract suite that every galleon.Store
// implementation must pass: a store is done when its tests call Run and it
// passes.
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) galleon.Store {
//			s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "galleon.db"))
//			if err != nil {
//				t.Fatal(err)
//			}
//			t.Cleanup(func() { s.Close() })
//			return s
//		})
//	}
//
// Run exercises every method of galleon.Store as store.go documents it:
// creates, gets, lists, conflicts and not-found errors (checked with
// galleon.ErrorCode; not-found errors must leave Reason empty),
// case-insensitive lookups of IDs, UPNs, domains, resource IDs and scopes,
// ETag preconditions, resource filters and paging, scope inheritance of role
// assignments, the job lease protocol, operations and the audit trail, and
// concurrent claims and writes (run it under -race).
//
// Where the interface passes times in (ClaimJob's now, RunAt, audit Time,
// caller-set CreatedAt), the suite uses a fixed clock and expects them back
// to the nanosecond; where the store stamps times itself it checks only that
// they are set and ordered, so stores need not expose a clock. The suite
// also pins down choices store.go leaves open, so all stores behave alike:
// audit Since is inclusive and Until exclusive; ClaimJob with no kinds
// claims any kind; a lease ending at now has expired; Complete, Extend and
// Retry of a missing job are NotFound; object IDs of users, groups,
// applications and service principals are unique across tenants; creating
// directory objects in a missing tenant is NotFound.
//
// Allowed imports: the standard library (including testing) and the root
// package galleon.
package storetest
