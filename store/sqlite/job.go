package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/galleonhq/galleon"
	"github.com/google/uuid"
)

// EnqueueJob stores j as queued. It sets ID (if empty, to a time-ordered
// UUID), State, CreatedAt, UpdatedAt, and RunAt (if zero) to now.
// EConflict if a job with that ID exists.
func (s *Store) EnqueueJob(ctx context.Context, j *galleon.Job) error {
	if j.Kind == "" {
		return galleon.Errorf(galleon.EInvalid, "A job needs a kind.")
	}
	var payload any
	if len(j.Payload) > 0 {
		if !json.Valid(j.Payload) {
			return galleon.Errorf(galleon.EInvalid, "The payload of the %s job is not valid JSON.", j.Kind)
		}
		payload = string(j.Payload)
	}
	if j.ID == "" {
		id, err := uuid.NewV7()
		if err != nil {
			return fmt.Errorf("make job ID: %w", err)
		}
		j.ID = id.String()
	}
	now := s.now()
	if j.RunAt.IsZero() {
		j.RunAt = now
	}
	j.State, j.CreatedAt, j.UpdatedAt = galleon.JobQueued, now, now
	_, err := s.w.ExecContext(ctx, `INSERT INTO jobs (id_key, id, kind, payload, state, attempts, max_attempts, run_at,
		lease_owner, lease_until, last_error, operation_id, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		key(j.ID), j.ID, j.Kind, payload, j.State, j.Attempts, j.MaxAttempts, fmtTime(j.RunAt),
		j.LeaseOwner, nullTime(j.LeaseUntil), j.LastError, j.OperationID, fmtTime(now), fmtTime(now))
	switch {
	case isUnique(err):
		return galleon.Errorf(galleon.EConflict, "A job with ID '%s' already exists.", j.ID)
	case err != nil:
		return fmt.Errorf("enqueue %s job: %w", j.Kind, err)
	}
	return nil
}

const jobCols = `id, kind, payload, state, attempts, max_attempts, run_at, lease_owner, lease_until, last_error,
	operation_id, created_at, updated_at`

func scanJob(sc scanner) (*galleon.Job, error) {
	var j galleon.Job
	var payload, runAt, leaseUntil, created, updated sql.NullString
	if err := sc.Scan(&j.ID, &j.Kind, &payload, &j.State, &j.Attempts, &j.MaxAttempts, &runAt, &j.LeaseOwner,
		&leaseUntil, &j.LastError, &j.OperationID, &created, &updated); err != nil {
		return nil, err
	}
	if payload.Valid {
		j.Payload = json.RawMessage(payload.String)
	}
	var errs [4]error
	j.RunAt, errs[0] = parseTime(runAt)
	j.LeaseUntil, errs[1] = parseTime(leaseUntil)
	j.CreatedAt, errs[2] = parseTime(created)
	j.UpdatedAt, errs[3] = parseTime(updated)
	return &j, errors.Join(errs[:]...)
}

// ClaimJob leases the oldest runnable job (by RunAt, then creation) of one
// of kinds, or of any kind when kinds is empty, to owner until now+lease:
// a queued job whose RunAt is at or before now, or a running job whose lease
// ended at or before now. It increments Attempts and records now as
// UpdatedAt. It returns (nil, nil) when there is none. One UPDATE ...
// RETURNING picks and takes the job, so two claimers never get the same one.
// Attempts may exceed MaxAttempts when workers die; the caller decides then.
func (s *Store) ClaimJob(ctx context.Context, kinds []string, owner string, now time.Time, lease time.Duration) (*galleon.Job, error) {
	if owner == "" {
		return nil, galleon.Errorf(galleon.EInvalid, "A job claim needs an owner.")
	}
	if lease <= 0 {
		return nil, galleon.Errorf(galleon.EInvalid, "The job lease %s is not valid: it must be positive.", lease)
	}
	n := fmtTime(now)
	kindFilter := ""
	args := []any{galleon.JobRunning, owner, fmtTime(now.Add(lease)), n}
	if len(kinds) > 0 {
		kindFilter = "kind IN (" + placeholders(len(kinds)) + ") AND "
		for _, k := range kinds {
			args = append(args, k)
		}
	}
	args = append(args, galleon.JobQueued, n, galleon.JobRunning, n)
	j, err := scanJob(s.w.QueryRowContext(ctx, `UPDATE jobs SET state = ?, attempts = attempts + 1, lease_owner = ?,
		lease_until = ?, updated_at = ?
		WHERE id_key = (SELECT id_key FROM jobs WHERE `+kindFilter+`
			((state = ? AND run_at <= ?) OR (state = ? AND lease_until <= ?))
			ORDER BY run_at, created_at, id_key LIMIT 1)
		RETURNING `+jobCols, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("claim job for %s: %w", owner, err)
	}
	return j, nil
}

// leased runs an UPDATE of a job that owner must hold (running, leased to
// owner) and turns "no row changed" into ENotFound or EConflict.
func (s *Store) leased(ctx context.Context, id, owner, verb, set string, args ...any) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		args = append(args, key(id), galleon.JobRunning, owner)
		res, err := tx.ExecContext(ctx, `UPDATE jobs SET `+set+` WHERE id_key = ? AND state = ? AND lease_owner = ?`, args...)
		if err != nil {
			return fmt.Errorf("%s job %s: %w", verb, id, err)
		}
		if n, err := rowsAffected(res); err != nil {
			return err
		} else if n == 1 {
			return nil
		}
		var state, holder string
		err = tx.QueryRowContext(ctx, `SELECT state, lease_owner FROM jobs WHERE id_key = ?`, key(id)).Scan(&state, &holder)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("job", id)
		} else if err != nil {
			return fmt.Errorf("find job %s: %w", id, err)
		}
		if state != galleon.JobRunning {
			return galleon.Errorf(galleon.EConflict, "Job '%s' is %s, not running, so '%s' cannot %s it.", id, state, owner, verb)
		}
		return galleon.Errorf(galleon.EConflict, "Job '%s' is leased to '%s', not '%s', so it cannot %s it.", id, holder, owner, verb)
	})
}

// ExtendJobLease pushes the lease of a job owner holds to until. EConflict
// if owner no longer holds it; ENotFound if the job is missing.
func (s *Store) ExtendJobLease(ctx context.Context, id, owner string, until time.Time) error {
	return s.leased(ctx, id, owner, "extend", `lease_until = ?, updated_at = ?`, fmtTime(until), fmtTime(s.now()))
}

// CompleteJob marks a job owner holds as succeeded and clears its lease.
// EConflict if owner no longer holds it; ENotFound if the job is missing.
func (s *Store) CompleteJob(ctx context.Context, id, owner string) error {
	return s.leased(ctx, id, owner, "complete", `state = ?, lease_owner = '', lease_until = NULL, updated_at = ?`,
		galleon.JobSucceeded, fmtTime(s.now()))
}

// RetryJob releases a job owner holds back to queued with RunAt=runAt and
// LastError=msg, or marks it failed (keeping RunAt) when final is true; the
// lease is cleared either way. EConflict if owner no longer holds it;
// ENotFound if the job is missing.
func (s *Store) RetryJob(ctx context.Context, id, owner, msg string, runAt time.Time, final bool) error {
	now := fmtTime(s.now())
	if final {
		return s.leased(ctx, id, owner, "fail", `state = ?, last_error = ?, lease_owner = '', lease_until = NULL, updated_at = ?`,
			galleon.JobFailed, msg, now)
	}
	return s.leased(ctx, id, owner, "retry", `state = ?, last_error = ?, run_at = ?, lease_owner = '', lease_until = NULL, updated_at = ?`,
		galleon.JobQueued, msg, fmtTime(runAt), now)
}

// GetJob finds a job by ID. ENotFound if missing.
func (s *Store) GetJob(ctx context.Context, id string) (*galleon.Job, error) {
	j, err := scanJob(s.r.QueryRowContext(ctx, `SELECT `+jobCols+` FROM jobs WHERE id_key = ?`, key(id)))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("job", id)
	} else if err != nil {
		return nil, fmt.Errorf("get job %s: %w", id, err)
	}
	return j, nil
}

// CountJobs returns the number of jobs in each state, by kind:
// counts[kind][state]. States with no jobs are absent.
func (s *Store) CountJobs(ctx context.Context) (map[string]map[string]int, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT kind, state, COUNT(*) FROM jobs GROUP BY kind, state`)
	if err != nil {
		return nil, fmt.Errorf("count jobs: %w", err)
	}
	defer rows.Close()
	counts := map[string]map[string]int{}
	for rows.Next() {
		var kind, state string
		var n int
		if err := rows.Scan(&kind, &state, &n); err != nil {
			return nil, fmt.Errorf("count jobs: %w", err)
		}
		if counts[kind] == nil {
			counts[kind] = map[string]int{}
		}
		counts[kind][state] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count jobs: %w", err)
	}
	return counts, nil
}

// CreateOperation stores a new operation, setting ID (if empty) and
// StartTime (if zero). EConflict if the ID is taken.
func (s *Store) CreateOperation(ctx context.Context, op *galleon.Operation) error {
	if op.ID == "" {
		op.ID = uuid.NewString()
	}
	if op.StartTime.IsZero() {
		op.StartTime = s.now()
	}
	opErr, err := operationError(op)
	if err != nil {
		return err
	}
	var end any
	if op.EndTime != nil {
		end = nullTime(*op.EndTime)
	}
	_, err = s.w.ExecContext(ctx, `INSERT INTO operations (id_key, id, subscription_id, resource_id, kind, status,
		percent_complete, error, principal_id, start_time, end_time) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		key(op.ID), op.ID, op.SubscriptionID, op.ResourceID, op.Kind, op.Status, op.PercentComplete, opErr,
		op.PrincipalID, fmtTime(op.StartTime), end)
	switch {
	case isUnique(err):
		return galleon.Errorf(galleon.EConflict, "An operation with ID '%s' already exists.", op.ID)
	case err != nil:
		return fmt.Errorf("create operation %s: %w", op.ID, err)
	}
	return nil
}

// operationError encodes op.Error for its JSON column (NULL when nil).
func operationError(op *galleon.Operation) (any, error) {
	if op.Error == nil {
		return nil, nil
	}
	b, err := json.Marshal(op.Error)
	if err != nil {
		return nil, fmt.Errorf("encode error of operation %s: %w", op.ID, err)
	}
	return string(b), nil
}

// GetOperation finds an operation by ID. ENotFound if missing.
func (s *Store) GetOperation(ctx context.Context, id string) (*galleon.Operation, error) {
	var op galleon.Operation
	var opErr, start, end sql.NullString
	err := s.r.QueryRowContext(ctx, `SELECT id, subscription_id, resource_id, kind, status, percent_complete, error,
		principal_id, start_time, end_time FROM operations WHERE id_key = ?`, key(id)).
		Scan(&op.ID, &op.SubscriptionID, &op.ResourceID, &op.Kind, &op.Status, &op.PercentComplete, &opErr,
			&op.PrincipalID, &start, &end)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("operation", id)
	} else if err != nil {
		return nil, fmt.Errorf("get operation %s: %w", id, err)
	}
	if opErr.Valid {
		op.Error = &galleon.Error{}
		if err := json.Unmarshal([]byte(opErr.String), op.Error); err != nil {
			return nil, fmt.Errorf("decode error of operation %s: %w", id, err)
		}
	}
	if op.StartTime, err = parseTime(start); err != nil {
		return nil, err
	}
	if end.Valid {
		t, err := parseTime(end)
		if err != nil {
			return nil, err
		}
		op.EndTime = &t
	}
	return &op, nil
}

// UpdateOperation replaces an operation's status fields: Status,
// PercentComplete, Error and EndTime. ENotFound if missing.
func (s *Store) UpdateOperation(ctx context.Context, op *galleon.Operation) error {
	opErr, err := operationError(op)
	if err != nil {
		return err
	}
	var end any
	if op.EndTime != nil {
		end = nullTime(*op.EndTime)
	}
	res, err := s.w.ExecContext(ctx, `UPDATE operations SET status = ?, percent_complete = ?, error = ?, end_time = ?
		WHERE id_key = ?`, op.Status, op.PercentComplete, opErr, end, key(op.ID))
	if err != nil {
		return fmt.Errorf("update operation %s: %w", op.ID, err)
	}
	if n, err := rowsAffected(res); err != nil {
		return err
	} else if n == 0 {
		return notFound("operation", op.ID)
	}
	return nil
}
