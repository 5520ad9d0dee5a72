package storetest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/galleonhq/galleon"
)

const (
	kindReplicate = "replicate"
	kindBuild     = "build"
	lease         = time.Minute
)

// enqueue stores a job of kind runnable at runAt.
func enqueue(t *testing.T, s galleon.Store, kind string, runAt time.Time) *galleon.Job {
	t.Helper()
	j := &galleon.Job{Kind: kind, Payload: json.RawMessage(`{"version":"1.0.0"}`), MaxAttempts: 5, RunAt: runAt}
	must(t, s.EnqueueJob(t.Context(), j))
	return j
}

// claim claims one job of kinds for owner at now, failing t on error.
func claim(t *testing.T, s galleon.Store, owner string, now time.Time, kinds ...string) *galleon.Job {
	t.Helper()
	j, err := s.ClaimJob(t.Context(), kinds, owner, now, lease)
	must(t, err)
	return j
}

// mustClaim claims one job of kinds for owner at now, failing t if there
// is none.
func mustClaim(t *testing.T, s galleon.Store, owner string, now time.Time, kinds ...string) *galleon.Job {
	t.Helper()
	j := claim(t, s, owner, now, kinds...)
	if j == nil {
		t.Fatalf("%s claimed nothing of %q at %v; want a job", owner, kinds, now)
	}
	return j
}

// wantClaim fails t unless claiming returns the job with ID want ("" for none).
func wantClaim(t *testing.T, s galleon.Store, owner string, now time.Time, want string, kinds ...string) *galleon.Job {
	t.Helper()
	j := claim(t, s, owner, now, kinds...)
	switch {
	case want == "" && j != nil:
		t.Fatalf("%s claimed job %s (RunAt %v) at %v; want none", owner, j.ID, j.RunAt, now)
	case want != "" && j == nil:
		t.Fatalf("%s claimed nothing at %v; want job %s", owner, now, want)
	case want != "" && j.ID != want:
		t.Fatalf("%s claimed job %s at %v; want %s", owner, j.ID, now, want)
	}
	return j
}

func testJobs(t *testing.T, open Opener) {
	t.Run("Enqueue", func(t *testing.T) {
		s := open(t)
		j := &galleon.Job{Kind: kindReplicate, Payload: json.RawMessage(`{"version":"1.0.0","regions":["eastus"]}`),
			MaxAttempts: 3, OperationID: "OP-1"}
		must(t, s.EnqueueJob(t.Context(), j))
		if j.ID == "" || j.State != galleon.JobQueued || j.CreatedAt.IsZero() || j.UpdatedAt.IsZero() || j.RunAt.IsZero() {
			t.Fatalf("EnqueueJob did not set ID, State, CreatedAt, UpdatedAt, RunAt: %+v", j)
		}
		got, err := s.GetJob(t.Context(), j.ID)
		must(t, err)
		if got.ID != j.ID || got.Kind != kindReplicate || got.State != galleon.JobQueued || got.Attempts != 0 ||
			got.MaxAttempts != 3 || got.OperationID != "OP-1" || got.LeaseOwner != "" || !got.LeaseUntil.IsZero() || got.LastError != "" {
			t.Fatalf("GetJob = %+v", got)
		}
		wantJSON(t, "Payload", got.Payload, j.Payload)
		wantTime(t, "RunAt", got.RunAt, j.RunAt)
		wantTime(t, "CreatedAt", got.CreatedAt, j.CreatedAt)
	})
	t.Run("EnqueueKeepsIDAndRunAt", func(t *testing.T) {
		s := open(t)
		j := &galleon.Job{ID: "Job-1", Kind: kindBuild, RunAt: t0}
		must(t, s.EnqueueJob(t.Context(), j))
		got, err := s.GetJob(t.Context(), "job-1")
		must(t, err)
		if got.ID != "Job-1" {
			t.Fatalf("ID = %q, want Job-1", got.ID)
		}
		wantTime(t, "RunAt", got.RunAt, t0)
		wantCode(t, s.EnqueueJob(t.Context(), &galleon.Job{ID: "JOB-1", Kind: kindBuild}), galleon.EConflict)
	})
	t.Run("GetErrNotFound", func(t *testing.T) {
		s := open(t)
		_, err := s.GetJob(t.Context(), "no-such-job")
		wantNotFound(t, err)
	})
	t.Run("ClaimOrder", func(t *testing.T) {
		s := open(t)
		later := enqueue(t, s, kindReplicate, t0.Add(2*time.Minute))
		sooner := enqueue(t, s, kindReplicate, t0.Add(time.Minute))
		future := enqueue(t, s, kindReplicate, t0.Add(time.Hour))
		other := enqueue(t, s, kindBuild, t0)
		now := t0.Add(5 * time.Minute)

		j := wantClaim(t, s, "w1", now, sooner.ID, kindReplicate)
		if j.State != galleon.JobRunning || j.Attempts != 1 || j.LeaseOwner != "w1" || j.Kind != kindReplicate {
			t.Fatalf("claimed job = %+v", j)
		}
		wantTime(t, "LeaseUntil", j.LeaseUntil, now.Add(lease))
		wantJSON(t, "Payload", j.Payload, []byte(`{"version":"1.0.0"}`))
		got, err := s.GetJob(t.Context(), j.ID)
		must(t, err)
		if got.State != galleon.JobRunning || got.LeaseOwner != "w1" || got.Attempts != 1 {
			t.Fatalf("stored claimed job = %+v", got)
		}
		wantTime(t, "stored LeaseUntil", got.LeaseUntil, now.Add(lease))

		wantClaim(t, s, "w1", now, later.ID, kindReplicate)
		wantClaim(t, s, "w1", now, "", kindReplicate) // the future job is not due
		wantClaim(t, s, "w1", now, other.ID, kindBuild, kindReplicate)
		wantClaim(t, s, "w1", now.Add(time.Second), "", kindBuild, kindReplicate)
		for _, id := range []string{sooner.ID, later.ID, other.ID} {
			must(t, s.CompleteJob(t.Context(), id, "w1"))
		}
		wantClaim(t, s, "w1", future.RunAt.Add(-time.Nanosecond), "")
		wantClaim(t, s, "w1", future.RunAt, future.ID, kindReplicate, kindBuild)
	})
	t.Run("ClaimAnyKind", func(t *testing.T) {
		s := open(t)
		j := enqueue(t, s, kindBuild, t0)
		wantClaim(t, s, "w1", t0, "", kindReplicate)
		wantClaim(t, s, "w1", t0, j.ID) // no kinds: any kind
	})
	t.Run("ExpiredLeaseReclaimed", func(t *testing.T) {
		s := open(t)
		j := enqueue(t, s, kindReplicate, t0)
		wantClaim(t, s, "w1", t0, j.ID, kindReplicate)
		wantClaim(t, s, "w2", t0.Add(lease/2), "", kindReplicate) // w1's lease holds
		got := wantClaim(t, s, "w2", t0.Add(lease), j.ID, kindReplicate)
		if got.LeaseOwner != "w2" || got.Attempts != 2 {
			t.Fatalf("reclaimed job = %+v, want owner w2 and 2 attempts", got)
		}
		wantTime(t, "LeaseUntil", got.LeaseUntil, t0.Add(2*lease))

		// w1 lost the job: nothing it does to it counts.
		wantCode(t, s.ExtendJobLease(t.Context(), j.ID, "w1", t0.Add(time.Hour)), galleon.EConflict)
		wantCode(t, s.CompleteJob(t.Context(), j.ID, "w1"), galleon.EConflict)
		wantCode(t, s.RetryJob(t.Context(), j.ID, "w1", "boom", t0, false), galleon.EConflict)
		wantCode(t, s.RetryJob(t.Context(), j.ID, "w1", "boom", t0, true), galleon.EConflict)
		stored, err := s.GetJob(t.Context(), j.ID)
		must(t, err)
		if stored.State != galleon.JobRunning || stored.LeaseOwner != "w2" || stored.LastError != "" {
			t.Fatalf("a non-owner changed the job: %+v", stored)
		}

		must(t, s.CompleteJob(t.Context(), j.ID, "w2"))
		stored, err = s.GetJob(t.Context(), j.ID)
		must(t, err)
		if stored.State != galleon.JobSucceeded {
			t.Fatalf("State = %q after CompleteJob, want succeeded", stored.State)
		}
		if !stored.UpdatedAt.After(stored.CreatedAt) && !stored.UpdatedAt.Equal(stored.CreatedAt) {
			t.Fatalf("UpdatedAt %v is before CreatedAt %v", stored.UpdatedAt, stored.CreatedAt)
		}
		wantClaim(t, s, "w3", t0.Add(time.Hour), "", kindReplicate) // done jobs are never claimed
		wantCode(t, s.CompleteJob(t.Context(), j.ID, "w2"), galleon.EConflict)
	})
	t.Run("ExtendLease", func(t *testing.T) {
		s := open(t)
		j := enqueue(t, s, kindBuild, t0)
		wantClaim(t, s, "w1", t0, j.ID, kindBuild)
		must(t, s.ExtendJobLease(t.Context(), j.ID, "w1", t0.Add(10*time.Minute)))
		got, err := s.GetJob(t.Context(), j.ID)
		must(t, err)
		wantTime(t, "LeaseUntil", got.LeaseUntil, t0.Add(10*time.Minute))
		wantClaim(t, s, "w2", t0.Add(5*time.Minute), "", kindBuild)
		wantClaim(t, s, "w2", t0.Add(10*time.Minute), j.ID, kindBuild)
	})
	t.Run("Retry", func(t *testing.T) {
		s := open(t)
		j := enqueue(t, s, kindBuild, t0)
		wantClaim(t, s, "w1", t0, j.ID, kindBuild)
		must(t, s.RetryJob(t.Context(), j.ID, "w1", "qemu exited with status 1", t0.Add(10*time.Minute), false))
		got, err := s.GetJob(t.Context(), j.ID)
		must(t, err)
		if got.State != galleon.JobQueued || got.LastError != "qemu exited with status 1" || got.Attempts != 1 {
			t.Fatalf("after RetryJob: %+v", got)
		}
		wantTime(t, "RunAt", got.RunAt, t0.Add(10*time.Minute))
		wantCode(t, s.CompleteJob(t.Context(), j.ID, "w1"), galleon.EConflict) // released: no longer held

		wantClaim(t, s, "w2", t0.Add(5*time.Minute), "", kindBuild)
		again := wantClaim(t, s, "w2", t0.Add(10*time.Minute), j.ID, kindBuild)
		if again.Attempts != 2 {
			t.Fatalf("Attempts = %d on the second claim, want 2", again.Attempts)
		}
		must(t, s.RetryJob(t.Context(), j.ID, "w2", "out of attempts", time.Time{}, true))
		got, err = s.GetJob(t.Context(), j.ID)
		must(t, err)
		if got.State != galleon.JobFailed || got.LastError != "out of attempts" {
			t.Fatalf("after final RetryJob: %+v", got)
		}
		wantClaim(t, s, "w3", t0.Add(24*time.Hour), "", kindBuild) // failed jobs are never claimed
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		s := open(t)
		wantNotFound(t, s.CompleteJob(t.Context(), "no-such-job", "w1"))
		wantNotFound(t, s.ExtendJobLease(t.Context(), "no-such-job", "w1", t0))
		wantNotFound(t, s.RetryJob(t.Context(), "no-such-job", "w1", "x", t0, false))
	})
	t.Run("CountJobs", func(t *testing.T) {
		s := open(t)
		counts, err := s.CountJobs(t.Context())
		must(t, err)
		if len(counts) != 0 {
			t.Fatalf("empty store counts %v", counts)
		}
		for range 3 {
			enqueue(t, s, kindReplicate, t0)
		}
		enqueue(t, s, kindBuild, t0)
		enqueue(t, s, kindBuild, t0)
		done := mustClaim(t, s, "w1", t0, kindReplicate)
		must(t, s.CompleteJob(t.Context(), done.ID, "w1"))
		mustClaim(t, s, "w1", t0, kindReplicate) // left running
		b := mustClaim(t, s, "w1", t0, kindBuild)
		must(t, s.RetryJob(t.Context(), b.ID, "w1", "bad", t0, true))

		counts, err = s.CountJobs(t.Context())
		must(t, err)
		want := map[string]map[string]int{
			kindReplicate: {galleon.JobQueued: 1, galleon.JobRunning: 1, galleon.JobSucceeded: 1},
			kindBuild:     {galleon.JobQueued: 1, galleon.JobFailed: 1},
		}
		for kind, states := range want {
			for state, n := range states {
				if counts[kind][state] != n {
					t.Fatalf("counts[%s][%s] = %d, want %d (all: %v)", kind, state, counts[kind][state], n, counts)
				}
			}
		}
		for kind, states := range counts {
			for state, n := range states {
				if n != 0 && want[kind][state] != n {
					t.Fatalf("unexpected count counts[%s][%s] = %d", kind, state, n)
				}
			}
		}
	})
}

func testOperations(t *testing.T, open Opener) {
	t.Run("CreateGetUpdate", func(t *testing.T) {
		s := open(t)
		op := &galleon.Operation{ID: "OP-1", SubscriptionID: "S1", ResourceID: gallery, Kind: "Microsoft.Compute/galleries/delete",
			Status: galleon.OperationInProgress, PercentComplete: 12.5, PrincipalID: "U-1", StartTime: t0}
		must(t, s.CreateOperation(t.Context(), op))
		got, err := s.GetOperation(t.Context(), "op-1")
		must(t, err)
		if got.ID != "OP-1" || got.SubscriptionID != "S1" || got.ResourceID != gallery || got.Kind != op.Kind ||
			got.Status != galleon.OperationInProgress || got.PercentComplete != 12.5 || got.PrincipalID != "U-1" ||
			got.Error != nil || got.EndTime != nil {
			t.Fatalf("GetOperation = %+v, want %+v", got, op)
		}
		wantTime(t, "StartTime", got.StartTime, t0)

		end := t0.Add(90 * time.Second)
		op.Status = galleon.OperationFailed
		op.PercentComplete = 100
		op.Error = &galleon.Error{Code: galleon.EConflict, Reason: "ResourceGroupBeingDeleted", Message: "The group is being deleted.", Target: "resourceGroup"}
		op.EndTime = &end
		must(t, s.UpdateOperation(t.Context(), op))
		got, err = s.GetOperation(t.Context(), "OP-1")
		must(t, err)
		if got.Status != galleon.OperationFailed || got.PercentComplete != 100 || got.Error == nil || *got.Error != *op.Error {
			t.Fatalf("after update: %+v (error %+v), want error %+v", got, got.Error, op.Error)
		}
		if got.EndTime == nil {
			t.Fatal("EndTime is nil after update")
		}
		wantTime(t, "EndTime", *got.EndTime, end)
		wantTime(t, "StartTime (kept)", got.StartTime, t0)
		if got.ResourceID != gallery || got.Kind != op.Kind {
			t.Fatalf("update changed non-status fields: %+v", got)
		}
	})
	t.Run("ErrDuplicate", func(t *testing.T) {
		s := open(t)
		must(t, s.CreateOperation(t.Context(), &galleon.Operation{ID: "OP-1", Status: galleon.OperationInProgress, StartTime: t0}))
		wantCode(t, s.CreateOperation(t.Context(), &galleon.Operation{ID: "op-1", Status: galleon.OperationInProgress, StartTime: t0}), galleon.EConflict)
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		s := open(t)
		_, err := s.GetOperation(t.Context(), "OP-9")
		wantNotFound(t, err)
		wantNotFound(t, s.UpdateOperation(t.Context(), &galleon.Operation{ID: "OP-9", Status: galleon.OperationSucceeded}))
	})
}
