package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/galleonhq/galleon"
)

// Handler runs one job. Returning an error retries the job with backoff
// until its attempts run out; wrap a *galleon.Error with Code EInvalid,
// EForbidden, ENotFound or EConflict to fail it at once (retrying cannot help).
type Handler func(ctx context.Context, j *galleon.Job) error

// Worker claims and runs jobs until its context ends.
type Worker struct {
	Store    galleon.JobStore
	Handlers map[string]Handler
	// Owner identifies this worker in leases (host name + PID + random).
	Owner string
	// Lease is how long a claim lasts before another worker may take the job
	// over; a running job's lease is extended every Lease/3.
	Lease time.Duration
	// Interval is how often the worker looks for jobs when not notified.
	Interval time.Duration
	// Concurrency is the number of jobs run at once (default 2).
	Concurrency int
	Logger      *slog.Logger
	Now         func() time.Time

	wake chan struct{}
}

func (w *Worker) now() time.Time {
	if w.Now != nil {
		return w.Now().UTC()
	}
	return time.Now().UTC()
}

func (w *Worker) defaults() {
	if w.Lease <= 0 {
		w.Lease = 2 * time.Minute
	}
	if w.Interval <= 0 {
		w.Interval = 2 * time.Second
	}
	if w.Concurrency <= 0 {
		w.Concurrency = 2
	}
	if w.Logger == nil {
		w.Logger = slog.Default()
	}
	if w.wake == nil {
		w.wake = make(chan struct{}, 1)
	}
}

// Notify wakes the worker to look for jobs now; it never blocks.
func (w *Worker) Notify() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// New returns a worker with its wake channel ready, so Notify may be called
// before Run starts.
func New(st galleon.JobStore, handlers map[string]Handler, owner string, logger *slog.Logger) *Worker {
	w := &Worker{Store: st, Handlers: handlers, Owner: owner, Logger: logger}
	w.defaults()
	return w
}

// Run claims and runs jobs until ctx ends, then waits for running jobs to
// stop (their contexts are canceled) before returning nil.
func (w *Worker) Run(ctx context.Context) error {
	w.defaults()
	kinds := make([]string, 0, len(w.Handlers))
	for k := range w.Handlers {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	if len(kinds) == 0 {
		// ClaimJob with no kinds takes jobs of every kind, which this worker
		// could only fail; leave them to workers that can run them.
		w.Logger.Warn("job worker has no handlers; it will claim no jobs", "owner", w.Owner)
		<-ctx.Done()
		return nil
	}
	done := make(chan struct{}, w.Concurrency)
	t := time.NewTicker(w.Interval)
	defer t.Stop()
	running := 0
	defer func() {
		for ; running > 0; running-- {
			<-done
		}
	}()
	for {
		// Claim while there is room and work.
		for running < w.Concurrency {
			j, err := w.Store.ClaimJob(ctx, kinds, w.Owner, w.now(), w.Lease)
			if err != nil {
				if ctx.Err() == nil {
					w.Logger.Warn("claim job", "err", err)
				}
				break
			}
			if j == nil {
				break
			}
			running++
			go func() {
				defer func() { done <- struct{}{} }()
				w.run(ctx, j)
			}()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-done:
			running--
		case <-w.wake:
		case <-t.C:
		}
	}
}

// run executes one claimed job, keeping its lease alive, and records the outcome.
func (w *Worker) run(ctx context.Context, j *galleon.Job) {
	log := w.Logger.With("job", j.ID, "kind", j.Kind, "attempt", j.Attempts)
	jctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go w.keepLease(jctx, cancel, j, log)

	err := w.call(jctx, j)
	// Record the outcome even if shutdown began meanwhile.
	rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer rcancel()
	if err == nil {
		if err := w.Store.CompleteJob(rctx, j.ID, w.Owner); err != nil {
			log.Warn("complete job", "err", err)
			return
		}
		w.finishOperation(rctx, j, nil)
		log.Info("job succeeded")
		return
	}
	if ctx.Err() != nil {
		// Shutting down: leave the lease to expire so another run resumes it.
		log.Info("job interrupted by shutdown", "err", err)
		return
	}
	final := j.MaxAttempts > 0 && j.Attempts >= j.MaxAttempts || permanent(err)
	next := w.now().Add(Backoff(j.Attempts))
	if rerr := w.Store.RetryJob(rctx, j.ID, w.Owner, err.Error(), next, final); rerr != nil {
		log.Warn("record job failure", "err", rerr, "jobErr", err)
		return
	}
	if final {
		log.Error("job failed", "err", err)
		w.finishOperation(rctx, j, err)
		return
	}
	log.Warn("job failed; will retry", "err", err, "retryAt", next)
}

// call runs the handler, turning a panic into an error so one bad job
// cannot take the worker down.
func (w *Worker) call(ctx context.Context, j *galleon.Job) (err error) {
	h := w.Handlers[j.Kind]
	if h == nil {
		return galleon.Errorf(galleon.EInvalid, "no handler for job kind %q", j.Kind)
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("job handler panicked: %v", r)
		}
	}()
	return h(ctx, j)
}

func permanent(err error) bool {
	switch galleon.ErrorCode(err) {
	case galleon.EInvalid, galleon.EForbidden, galleon.ENotFound, galleon.EConflict, galleon.EPreconditionFailed:
		return true
	}
	return false
}

// keepLease extends the job's lease until ctx ends; if the lease is lost to
// another worker it cancels the job.
func (w *Worker) keepLease(ctx context.Context, cancel context.CancelFunc, j *galleon.Job, log *slog.Logger) {
	t := time.NewTicker(w.Lease / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := w.Store.ExtendJobLease(ctx, j.ID, w.Owner, w.now().Add(w.Lease)); err != nil {
				if galleon.ErrorCode(err) == galleon.EConflict {
					log.Warn("lost job lease; stopping", "err", err)
					cancel()
					return
				}
				log.Warn("extend job lease", "err", err)
			}
		}
	}
}

// finishOperation marks the job's operation Succeeded or Failed.
func (w *Worker) finishOperation(ctx context.Context, j *galleon.Job, jobErr error) {
	if j.OperationID == "" {
		return
	}
	op, err := w.Store.GetOperation(ctx, j.OperationID)
	if err != nil {
		w.Logger.Warn("load operation", "operation", j.OperationID, "err", err)
		return
	}
	end := w.now()
	op.EndTime = &end
	if jobErr == nil {
		op.Status, op.PercentComplete = galleon.OperationSucceeded, 100
	} else {
		op.Status = galleon.OperationFailed
		op.Error = galleon.AsError(jobErr)
		if op.Error == nil {
			op.Error = galleon.ReasonErrorf(galleon.EInternal, "InternalOperationError",
				"The operation failed after %d attempts. Retry it; if it fails again, give the operator operation ID %s.", j.Attempts, op.ID)
		}
	}
	if err := w.Store.UpdateOperation(ctx, op); err != nil {
		w.Logger.Warn("update operation", "operation", op.ID, "err", err)
	}
}

// Backoff returns the wait before retry number attempt: exponential from
// one second, capped at five minutes, with jitter so retries spread out.
func Backoff(attempt int) time.Duration {
	if attempt < 1 {
		attempt = 1
	}
	d := time.Second << min(attempt-1, 9)
	if d > 5*time.Minute {
		d = 5 * time.Minute
	}
	return d/2 + rand.N(d/2+1)
}
