package jobs_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/galleonhq/galleon"
	"github.com/galleonhq/galleon/jobs"
	"github.com/galleonhq/galleon/store/sqlite"
)

// guard bounds every wait so a broken worker fails the test instead of
// hanging it. It is a deadlock guard, not a timing assertion.
const guard = 30 * time.Second

// clock is a settable clock shared by the store and the worker.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock {
	return &clock{t: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// event is one call the worker made on the store, seen after it returned.
type event struct {
	op    string // "claim", "complete", "retry", "updateOperation"
	id    string // job or operation ID
	job   *galleon.Job
	final bool
	err   error
}

// spyStore passes calls through to a real store and reports the ones that
// mark a worker's progress, so tests wait on events instead of sleeping.
type spyStore struct {
	galleon.JobStore
	events chan event
}

func (s *spyStore) emit(e event) {
	select {
	case s.events <- e:
	default:
		panic("spyStore: event buffer full; a test is not reading events")
	}
}

func (s *spyStore) ClaimJob(ctx context.Context, kinds []string, owner string, now time.Time, lease time.Duration) (*galleon.Job, error) {
	j, err := s.JobStore.ClaimJob(ctx, kinds, owner, now, lease)
	if ctx.Err() == nil {
		s.emit(event{op: "claim", job: j, err: err})
	}
	return j, err
}

func (s *spyStore) CompleteJob(ctx context.Context, id, owner string) error {
	err := s.JobStore.CompleteJob(ctx, id, owner)
	s.emit(event{op: "complete", id: id, err: err})
	return err
}

func (s *spyStore) RetryJob(ctx context.Context, id, owner, msg string, runAt time.Time, final bool) error {
	err := s.JobStore.RetryJob(ctx, id, owner, msg, runAt, final)
	s.emit(event{op: "retry", id: id, final: final, err: err})
	return err
}

func (s *spyStore) UpdateOperation(ctx context.Context, op *galleon.Operation) error {
	err := s.JobStore.UpdateOperation(ctx, op)
	s.emit(event{op: "updateOperation", id: op.ID, err: err})
	return err
}

// harness is a real SQLite store behind a spy, a shared clock, and a worker.
type harness struct {
	st     *sqlite.Store
	spy    *spyStore
	clock  *clock
	worker *jobs.Worker
}

func newHarness(tb testing.TB, handlers map[string]jobs.Handler) *harness {
	tb.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(tb.TempDir(), "db"))
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	tb.Cleanup(func() { st.Close() })
	clk := newClock()
	st.Now = clk.Now
	spy := &spyStore{JobStore: st, events: make(chan event, 1000)}
	w := jobs.New(spy, handlers, "worker-1", slog.New(slog.DiscardHandler))
	w.Now = clk.Now
	// Long enough that only Notify and finished jobs wake the worker.
	w.Interval = time.Hour
	return &harness{st: st, spy: spy, clock: clk, worker: w}
}

// start runs the worker until the returned stop is called (or the test
// ends); stop cancels it and waits for Run to return.
func (h *harness) start(tb testing.TB) (stop func()) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.worker.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					tb.Errorf("Run returned %v, want nil", err)
				}
			case <-time.After(guard):
				tb.Errorf("Run did not return within %s of cancel", guard)
			}
		})
	}
	tb.Cleanup(stop)
	return stop
}

// wait reads events until one satisfies match, failing on store errors.
func (h *harness) wait(tb testing.TB, what string, match func(event) bool) event {
	tb.Helper()
	timeout := time.After(guard)
	for {
		select {
		case e := <-h.spy.events:
			if e.err != nil && e.op != "claim" {
				tb.Fatalf("worker's %s of %s failed: %v", e.op, e.id, e.err)
			}
			if match(e) {
				return e
			}
		case <-timeout:
			tb.Fatalf("gave up waiting for %s after %s", what, guard)
		}
	}
}

func (h *harness) waitOperation(tb testing.TB, id string) *galleon.Operation {
	tb.Helper()
	h.wait(tb, "operation "+id+" to finish", func(e event) bool { return e.op == "updateOperation" && e.id == id })
	op, err := h.st.GetOperation(context.Background(), id)
	if err != nil {
		tb.Fatalf("get operation: %v", err)
	}
	return op
}

func (h *harness) enqueue(tb testing.TB, j *galleon.Job, withOperation bool) *galleon.Job {
	tb.Helper()
	ctx := context.Background()
	if withOperation {
		op := &galleon.Operation{SubscriptionID: "s", ResourceID: "/subscriptions/s/resourceGroups/rg",
			Kind: "Microsoft.Resources/resourceGroups/delete", Status: galleon.OperationInProgress}
		if err := h.st.CreateOperation(ctx, op); err != nil {
			tb.Fatalf("create operation: %v", err)
		}
		j.OperationID = op.ID
	}
	if err := h.st.EnqueueJob(ctx, j); err != nil {
		tb.Fatalf("enqueue: %v", err)
	}
	return j
}

func (h *harness) job(tb testing.TB, id string) *galleon.Job {
	tb.Helper()
	j, err := h.st.GetJob(context.Background(), id)
	if err != nil {
		tb.Fatalf("get job: %v", err)
	}
	return j
}

func TestWorkerRunsJob(t *testing.T) {
	got := make(chan galleon.Job, 1)
	h := newHarness(t, map[string]jobs.Handler{
		"echo": func(ctx context.Context, j *galleon.Job) error {
			got <- *j
			return nil
		},
	})
	j := h.enqueue(t, &galleon.Job{Kind: "echo", Payload: json.RawMessage(`{"x":1}`), MaxAttempts: 3}, true)
	h.start(t)

	op := h.waitOperation(t, j.OperationID)
	if op.Status != galleon.OperationSucceeded || op.PercentComplete != 100 || op.Error != nil {
		t.Errorf("operation = %s %v%% error %v, want Succeeded 100%% no error", op.Status, op.PercentComplete, op.Error)
	}
	if op.EndTime == nil || !op.EndTime.Equal(h.clock.Now()) {
		t.Errorf("operation EndTime = %v, want %v", op.EndTime, h.clock.Now())
	}
	ran := <-got
	if string(ran.Payload) != `{"x":1}` || ran.Attempts != 1 || ran.LeaseOwner != "worker-1" {
		t.Errorf("handler got payload %s attempt %d owner %q, want {\"x\":1} 1 worker-1", ran.Payload, ran.Attempts, ran.LeaseOwner)
	}
	stored := h.job(t, j.ID)
	if stored.State != galleon.JobSucceeded || stored.Attempts != 1 || stored.LeaseOwner != "" {
		t.Errorf("job = %s attempts %d owner %q, want succeeded 1 \"\"", stored.State, stored.Attempts, stored.LeaseOwner)
	}
}

func TestWorkerRetriesThenFails(t *testing.T) {
	var mu sync.Mutex
	calls := 0
	h := newHarness(t, map[string]jobs.Handler{
		"flaky": func(ctx context.Context, j *galleon.Job) error {
			mu.Lock()
			calls++
			mu.Unlock()
			return errors.New("disk full")
		},
	})
	const maxAttempts = 3
	j := h.enqueue(t, &galleon.Job{Kind: "flaky", MaxAttempts: maxAttempts}, true)
	h.start(t)

	for attempt := 1; attempt < maxAttempts; attempt++ {
		e := h.wait(t, fmt.Sprintf("retry %d", attempt), func(e event) bool { return e.op == "retry" && e.id == j.ID })
		if e.final {
			t.Fatalf("attempt %d of %d was final", attempt, maxAttempts)
		}
		now := h.clock.Now()
		got := h.job(t, j.ID)
		if got.State != galleon.JobQueued || got.Attempts != attempt || got.LastError != "disk full" || got.LeaseOwner != "" {
			t.Errorf("after attempt %d: job = %s attempts %d error %q owner %q, want queued %d \"disk full\" \"\"",
				attempt, got.State, got.Attempts, got.LastError, got.LeaseOwner, attempt)
		}
		d := time.Second << (attempt - 1)
		if lo, hi := now.Add(d/2), now.Add(d); got.RunAt.Before(lo) || got.RunAt.After(hi) {
			t.Errorf("after attempt %d: RunAt = %v, want within [%v, %v]", attempt, got.RunAt, lo, hi)
		}
		op, err := h.st.GetOperation(context.Background(), j.OperationID)
		if err != nil {
			t.Fatal(err)
		}
		if op.Status != galleon.OperationInProgress {
			t.Errorf("after attempt %d: operation is %s, want InProgress while retries remain", attempt, op.Status)
		}
		h.clock.Advance(10 * time.Minute)
		h.worker.Notify()
	}

	e := h.wait(t, "final failure", func(e event) bool { return e.op == "retry" && e.id == j.ID })
	if !e.final {
		t.Fatalf("attempt %d of %d was not final", maxAttempts, maxAttempts)
	}
	op := h.waitOperation(t, j.OperationID)
	if op.Status != galleon.OperationFailed || op.EndTime == nil || op.Error == nil {
		t.Fatalf("operation = %+v, want Failed with EndTime and Error", op)
	}
	// A plain error's text may hold internals, so clients get a generic one.
	if op.Error.Code != galleon.EInternal || op.Error.Reason != "InternalOperationError" ||
		!strings.Contains(op.Error.Message, op.ID) || strings.Contains(op.Error.Message, "disk full") {
		t.Errorf("operation error = %+v, want EInternal InternalOperationError naming %s without internals", op.Error, op.ID)
	}
	got := h.job(t, j.ID)
	if got.State != galleon.JobFailed || got.Attempts != maxAttempts || got.LastError != "disk full" {
		t.Errorf("job = %s attempts %d error %q, want failed %d \"disk full\"", got.State, got.Attempts, got.LastError, maxAttempts)
	}
	mu.Lock()
	defer mu.Unlock()
	if calls != maxAttempts {
		t.Errorf("handler ran %d times, want %d", calls, maxAttempts)
	}
}

func TestWorkerErrorKinds(t *testing.T) {
	invalid := galleon.ReasonErrorf(galleon.EInvalid, "InvalidImageVersion", "The version '1.x' is not valid.")
	for _, tc := range []struct {
		name  string
		err   error
		final bool
		want  *galleon.Error // the operation's error when final
	}{
		{"Invalid", invalid, true, invalid},
		{"WrappedInvalid", fmt.Errorf("publish: %w", invalid), true, invalid},
		{"NotFound", galleon.Errorf(galleon.ENotFound, "Gallery 'g' was not found."), true,
			galleon.Errorf(galleon.ENotFound, "Gallery 'g' was not found.")},
		{"Conflict", galleon.Errorf(galleon.EConflict, "Version is being deleted."), true,
			galleon.Errorf(galleon.EConflict, "Version is being deleted.")},
		{"InternalRetries", galleon.Errorf(galleon.EInternal, "blob store down"), false, nil},
		{"PlainRetries", errors.New("connection reset"), false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, map[string]jobs.Handler{
				"k": func(ctx context.Context, j *galleon.Job) error { return tc.err },
			})
			j := h.enqueue(t, &galleon.Job{Kind: "k", MaxAttempts: 5}, true)
			h.start(t)
			e := h.wait(t, "first outcome", func(e event) bool { return e.op == "retry" && e.id == j.ID })
			if e.final != tc.final {
				t.Fatalf("first failure final = %v, want %v", e.final, tc.final)
			}
			got := h.job(t, j.ID)
			if got.Attempts != 1 || got.LastError != tc.err.Error() {
				t.Errorf("job attempts %d error %q, want 1 %q", got.Attempts, got.LastError, tc.err.Error())
			}
			if !tc.final {
				if got.State != galleon.JobQueued {
					t.Errorf("job state %s, want queued", got.State)
				}
				return
			}
			if got.State != galleon.JobFailed {
				t.Errorf("job state %s, want failed", got.State)
			}
			op := h.waitOperation(t, j.OperationID)
			if op.Status != galleon.OperationFailed || op.Error == nil || *op.Error != *tc.want {
				t.Errorf("operation %s error %+v, want Failed %+v", op.Status, op.Error, tc.want)
			}
		})
	}
}

func TestWorkerSurvivesPanic(t *testing.T) {
	h := newHarness(t, map[string]jobs.Handler{
		"boom": func(ctx context.Context, j *galleon.Job) error { panic("kaboom") },
		"ok":   func(ctx context.Context, j *galleon.Job) error { return nil },
	})
	// One at a time, the panicking job first: the second job can only
	// complete if the worker lived through the panic.
	h.worker.Concurrency = 1
	boom := h.enqueue(t, &galleon.Job{Kind: "boom", MaxAttempts: 1, RunAt: h.clock.Now().Add(-time.Second)}, true)
	ok := h.enqueue(t, &galleon.Job{Kind: "ok", MaxAttempts: 1}, true)
	h.start(t)

	op := h.waitOperation(t, boom.OperationID)
	if op.Status != galleon.OperationFailed || op.Error == nil || op.Error.Code != galleon.EInternal {
		t.Errorf("panicked job's operation = %s %+v, want Failed with an internal error", op.Status, op.Error)
	}
	if got := h.job(t, boom.ID); got.State != galleon.JobFailed || !strings.Contains(got.LastError, "panicked: kaboom") {
		t.Errorf("panicked job = %s %q, want failed with the panic recorded", got.State, got.LastError)
	}
	if op := h.waitOperation(t, ok.OperationID); op.Status != galleon.OperationSucceeded {
		t.Errorf("job after the panic: operation %s, want Succeeded", op.Status)
	}
}

// TestWorkerResumesExpiredLease plays a crash: another node claims a job and
// dies; once its lease runs out a new worker takes the job and finishes it.
func TestWorkerResumesExpiredLease(t *testing.T) {
	attempts := make(chan int, 1)
	h := newHarness(t, map[string]jobs.Handler{
		"k": func(ctx context.Context, j *galleon.Job) error {
			attempts <- j.Attempts
			return nil
		},
	})
	ctx := context.Background()
	j := h.enqueue(t, &galleon.Job{Kind: "k", MaxAttempts: 3}, true)
	dead, err := h.st.ClaimJob(ctx, []string{"k"}, "dead-node", h.clock.Now(), 30*time.Second)
	if err != nil || dead == nil || dead.ID != j.ID {
		t.Fatalf("dead node's claim = %v, %v; want job %s", dead, err, j.ID)
	}
	h.start(t)

	// While the dead node's lease lasts, the worker finds nothing to do.
	if e := h.wait(t, "first claim", func(e event) bool { return e.op == "claim" }); e.job != nil || e.err != nil {
		t.Fatalf("worker claimed %+v (err %v) under a live lease", e.job, e.err)
	}
	h.clock.Advance(31 * time.Second)
	h.worker.Notify()

	op := h.waitOperation(t, j.OperationID)
	if op.Status != galleon.OperationSucceeded {
		t.Errorf("operation %s, want Succeeded", op.Status)
	}
	if n := <-attempts; n != 2 {
		t.Errorf("handler saw attempt %d, want 2 (the dead node's claim counted)", n)
	}
	if got := h.job(t, j.ID); got.State != galleon.JobSucceeded || got.Attempts != 2 {
		t.Errorf("job = %s attempts %d, want succeeded 2", got.State, got.Attempts)
	}
	// The dead node, were it to come back, no longer holds the job.
	if err := h.st.CompleteJob(ctx, j.ID, "dead-node"); galleon.ErrorCode(err) != galleon.EConflict {
		t.Errorf("dead node's CompleteJob = %v, want EConflict", err)
	}
}

func TestWorkerNotify(t *testing.T) {
	h := newHarness(t, map[string]jobs.Handler{
		"k": func(ctx context.Context, j *galleon.Job) error { return nil },
	})
	h.start(t)
	// The worker has looked, found nothing, and now waits an hour.
	if e := h.wait(t, "first claim", func(e event) bool { return e.op == "claim" }); e.job != nil {
		t.Fatalf("claimed %+v from an empty store", e.job)
	}
	j := h.enqueue(t, &galleon.Job{Kind: "k"}, false)
	h.worker.Notify()
	h.wait(t, "job to complete after Notify", func(e event) bool { return e.op == "complete" && e.id == j.ID })
	if got := h.job(t, j.ID); got.State != galleon.JobSucceeded {
		t.Errorf("job state %s, want succeeded", got.State)
	}
}

func TestWorkerIgnoresOtherKinds(t *testing.T) {
	h := newHarness(t, map[string]jobs.Handler{
		"mine": func(ctx context.Context, j *galleon.Job) error { return nil },
	})
	other := h.enqueue(t, &galleon.Job{Kind: "theirs"}, false)
	h.start(t)
	if e := h.wait(t, "first claim", func(e event) bool { return e.op == "claim" }); e.job != nil {
		t.Fatalf("claimed %s job %s with no handler for it", e.job.Kind, e.job.ID)
	}
	if got := h.job(t, other.ID); got.State != galleon.JobQueued || got.Attempts != 0 {
		t.Errorf("other kind's job = %s attempts %d, want untouched", got.State, got.Attempts)
	}
}

func TestWorkerRunReturnsOnCancel(t *testing.T) {
	t.Run("Idle", func(t *testing.T) {
		h := newHarness(t, map[string]jobs.Handler{"k": func(ctx context.Context, j *galleon.Job) error { return nil }})
		stop := h.start(t)
		h.wait(t, "first claim", func(e event) bool { return e.op == "claim" })
		stop() // fails the test if Run does not return nil
	})
	t.Run("WithRunningJob", func(t *testing.T) {
		started, returned := make(chan struct{}), make(chan struct{})
		h := newHarness(t, map[string]jobs.Handler{
			"slow": func(ctx context.Context, j *galleon.Job) error {
				defer close(returned)
				close(started)
				<-ctx.Done()
				return ctx.Err()
			},
		})
		j := h.enqueue(t, &galleon.Job{Kind: "slow", MaxAttempts: 3}, true)
		stop := h.start(t)
		select {
		case <-started:
		case <-time.After(guard):
			t.Fatal("job did not start")
		}
		stop()
		select {
		case <-returned:
		default:
			t.Fatal("Run returned before the running handler did")
		}
		// Shutdown is not a failure: the job keeps its lease, to be
		// resumed when it expires, and its operation stays in progress.
		got := h.job(t, j.ID)
		if got.State != galleon.JobRunning || got.Attempts != 1 || got.LastError != "" || got.LeaseOwner != "worker-1" {
			t.Errorf("job = %s attempts %d error %q owner %q, want running 1 \"\" worker-1",
				got.State, got.Attempts, got.LastError, got.LeaseOwner)
		}
		op, err := h.st.GetOperation(context.Background(), j.OperationID)
		if err != nil {
			t.Fatal(err)
		}
		if op.Status != galleon.OperationInProgress {
			t.Errorf("operation %s, want InProgress", op.Status)
		}
	})
}

func TestBackoff(t *testing.T) {
	for _, tc := range []struct {
		attempt int
		d       time.Duration // upper bound; the wait lies in [d/2, d]
	}{
		{-1, time.Second},
		{0, time.Second},
		{1, time.Second},
		{2, 2 * time.Second},
		{3, 4 * time.Second},
		{8, 128 * time.Second},
		{9, 256 * time.Second},
		{10, 5 * time.Minute},
		{11, 5 * time.Minute},
		{64, 5 * time.Minute},
		{1 << 30, 5 * time.Minute},
	} {
		t.Run(fmt.Sprintf("Attempt%d", tc.attempt), func(t *testing.T) {
			seen := map[time.Duration]bool{}
			for range 200 {
				b := jobs.Backoff(tc.attempt)
				if b < tc.d/2 || b > tc.d {
					t.Fatalf("Backoff(%d) = %s, want within [%s, %s]", tc.attempt, b, tc.d/2, tc.d)
				}
				seen[b] = true
			}
			// Jitter: 200 draws from over 250 million values never all agree.
			if len(seen) < 2 {
				t.Errorf("Backoff(%d) returned only %v: no jitter", tc.attempt, seen)
			}
		})
	}
}

// logSink is a slog.Handler that forwards each record's message.
type logSink chan string

func (s logSink) Enabled(context.Context, slog.Level) bool      { return true }
func (s logSink) Handle(_ context.Context, r slog.Record) error { s <- r.Message; return nil }
func (s logSink) WithAttrs([]slog.Attr) slog.Handler            { return s }
func (s logSink) WithGroup(string) slog.Handler                 { return s }

// TestWorkerWithoutHandlers checks that a worker with no handlers leaves
// jobs alone: the store reads "no kinds" as "any kind", and a worker that
// claimed them could only fail them.
func TestWorkerWithoutHandlers(t *testing.T) {
	h := newHarness(t, nil)
	logs := make(logSink, 100)
	h.worker.Logger = slog.New(logs)
	j := h.enqueue(t, &galleon.Job{Kind: "k", MaxAttempts: 3}, false)
	stop := h.start(t)
	select {
	case e := <-h.spy.events:
		t.Fatalf("worker without handlers called %s (job %+v)", e.op, e.job)
	case msg := <-logs:
		if !strings.Contains(msg, "no handlers") {
			t.Fatalf("first log = %q, want a warning that the worker has no handlers", msg)
		}
	case <-time.After(guard):
		t.Fatal("worker neither claimed nor warned")
	}
	stop()
	if got := h.job(t, j.ID); got.State != galleon.JobQueued || got.Attempts != 0 {
		t.Errorf("job = %s attempts %d, want queued and untouched", got.State, got.Attempts)
	}
}
