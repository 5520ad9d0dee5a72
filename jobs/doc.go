// Package jobs runs background work stored as galleon.Job rows: a Worker
// claims runnable jobs under a lease, runs the handler for their kind, and
// records the outcome on the job and on the long-running operation clients
// poll. Because leases expire, work a crashed node held is picked up again;
// handlers are therefore idempotent.
//
// It imports only the root package.
package jobs
