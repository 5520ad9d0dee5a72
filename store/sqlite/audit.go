package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/galleonhq/galleon"
	"github.com/google/uuid"
)

// AppendAudit stores a record, setting ID (if empty, to a time-ordered
// UUID) and Time (if zero, to now). EConflict if the ID is taken.
func (s *Store) AppendAudit(ctx context.Context, r *galleon.AuditRecord) error {
	if r.ID == "" {
		id, err := uuid.NewV7()
		if err != nil {
			return fmt.Errorf("make audit record ID: %w", err)
		}
		r.ID = id.String()
	}
	if r.Time.IsZero() {
		r.Time = s.now()
	}
	_, err := s.w.ExecContext(ctx, `INSERT INTO audit_records (id, time, tenant_id, tenant_key, subscription_id,
		subscription_key, principal_id, principal_key, principal_type, app_id, method, path, resource_id, resource_key,
		action, status, result, request_id, correlation_id, client_ip)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.ID, fmtTime(r.Time), r.TenantID, key(r.TenantID), r.SubscriptionID, key(r.SubscriptionID),
		r.PrincipalID, key(r.PrincipalID), r.PrincipalType, r.AppID, r.Method, r.Path, r.ResourceID, scopeKey(r.ResourceID),
		r.Action, r.Status, r.Result, r.RequestID, r.CorrelationID, r.ClientIP)
	switch {
	case isUnique(err):
		return galleon.Errorf(galleon.EConflict, "An audit record with ID '%s' already exists.", r.ID)
	case err != nil:
		return fmt.Errorf("append audit record: %w", err)
	}
	return nil
}

// ListAudit returns records matching f, newest first (by Time, then by
// insertion order). Since is inclusive and Until exclusive. Before is the
// ID of the last record of the previous page; EInvalid if no record has it.
func (s *Store) ListAudit(ctx context.Context, f galleon.AuditFilter) ([]*galleon.AuditRecord, error) {
	if f.Limit < 0 {
		return nil, galleon.Errorf(galleon.EInvalid, "The page size %d is not valid: it must not be negative.", f.Limit)
	}
	var where []string
	var args []any
	if f.TenantID != "" {
		where = append(where, "tenant_key = ?")
		args = append(args, key(f.TenantID))
	}
	if f.SubscriptionID != "" {
		where = append(where, "subscription_key = ?")
		args = append(args, key(f.SubscriptionID))
	}
	if f.Under != "" {
		if k := scopeKey(f.Under); k != "/" {
			lo, hi := underRange(k)
			where = append(where, "(resource_key = ? OR (resource_key >= ? AND resource_key < ?))")
			args = append(args, k, lo, hi)
		}
	}
	if f.PrincipalID != "" {
		where = append(where, "principal_key = ?")
		args = append(args, key(f.PrincipalID))
	}
	if !f.Since.IsZero() {
		where = append(where, "time >= ?")
		args = append(args, fmtTime(f.Since))
	}
	if !f.Until.IsZero() {
		where = append(where, "time < ?")
		args = append(args, fmtTime(f.Until))
	}
	if f.Before != "" {
		var t string
		var seq int64
		err := s.r.QueryRowContext(ctx, `SELECT time, seq FROM audit_records WHERE id = ?`, f.Before).Scan(&t, &seq)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, galleon.Errorf(galleon.EInvalid, "The audit page token '%s' is not valid: no record has that ID. Start again without it.", f.Before)
		} else if err != nil {
			return nil, fmt.Errorf("find audit record %s: %w", f.Before, err)
		}
		where = append(where, "(time < ? OR (time = ? AND seq < ?))")
		args = append(args, t, t, seq)
	}
	q := `SELECT id, time, tenant_id, subscription_id, principal_id, principal_type, app_id, method, path, resource_id,
		action, status, result, request_id, correlation_id, client_ip FROM audit_records`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY time DESC, seq DESC"
	if f.Limit > 0 {
		q += " LIMIT ?"
		args = append(args, f.Limit)
	}
	rs, err := queryList(ctx, s.r, func(sc scanner) (*galleon.AuditRecord, error) {
		var r galleon.AuditRecord
		var t sql.NullString
		if err := sc.Scan(&r.ID, &t, &r.TenantID, &r.SubscriptionID, &r.PrincipalID, &r.PrincipalType, &r.AppID,
			&r.Method, &r.Path, &r.ResourceID, &r.Action, &r.Status, &r.Result, &r.RequestID, &r.CorrelationID,
			&r.ClientIP); err != nil {
			return nil, err
		}
		var err error
		r.Time, err = parseTime(t)
		return &r, err
	}, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list audit records: %w", err)
	}
	return rs, nil
}
