package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/galleonhq/galleon"
)

// PutReplica inserts or replaces a replica, setting UpdatedAt.
func (s *Store) PutReplica(ctx context.Context, r *galleon.Replica) error {
	now := s.now()
	_, err := s.w.ExecContext(ctx, `INSERT INTO replicas (version_key, version_id, region, idx, storage_account_type, account,
		state, progress, details, source_region, stored_bytes, copied_bytes, egress_bytes, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (version_key, region, idx) DO UPDATE SET version_id = excluded.version_id,
		storage_account_type = excluded.storage_account_type, account = excluded.account, state = excluded.state,
		progress = excluded.progress, details = excluded.details, source_region = excluded.source_region,
		stored_bytes = excluded.stored_bytes, copied_bytes = excluded.copied_bytes, egress_bytes = excluded.egress_bytes,
		updated_at = excluded.updated_at`,
		scopeKey(r.VersionID), r.VersionID, key(r.Region), r.Index, r.StorageAccountType, r.Account, r.State, r.Progress,
		r.Details, key(r.SourceRegion), r.StoredBytes, r.CopiedBytes, r.EgressBytes, fmtTime(now))
	if err != nil {
		return fmt.Errorf("put replica %s/%s/%d: %w", r.VersionID, r.Region, r.Index, err)
	}
	r.UpdatedAt = now
	return nil
}

func scanReplica(sc scanner) (*galleon.Replica, error) {
	var r galleon.Replica
	var updated sql.NullString
	if err := sc.Scan(&r.VersionID, &r.Region, &r.Index, &r.StorageAccountType, &r.Account, &r.State, &r.Progress,
		&r.Details, &r.SourceRegion, &r.StoredBytes, &r.CopiedBytes, &r.EgressBytes, &updated); err != nil {
		return nil, err
	}
	var err error
	r.UpdatedAt, err = parseTime(updated)
	return &r, err
}

// ListReplicas lists the replicas of the versions at or under scope.
func (s *Store) ListReplicas(ctx context.Context, scope string) ([]*galleon.Replica, error) {
	k := scopeKey(scope)
	lo, hi := underRange(k)
	out, err := queryList(ctx, s.r, scanReplica, `SELECT version_id, region, idx, storage_account_type, account, state,
		progress, details, source_region, stored_bytes, copied_bytes, egress_bytes, updated_at FROM replicas
		WHERE version_key = ? OR (version_key >= ? AND version_key < ?) ORDER BY version_key, region, idx`, k, lo, hi)
	if err != nil {
		return nil, fmt.Errorf("list replicas under %s: %w", scope, err)
	}
	return out, nil
}

// DeleteReplica removes one replica; ENotFound if absent.
func (s *Store) DeleteReplica(ctx context.Context, versionID, region string, index int) error {
	res, err := s.w.ExecContext(ctx, `DELETE FROM replicas WHERE version_key = ? AND region = ? AND idx = ?`,
		scopeKey(versionID), key(region), index)
	if err != nil {
		return fmt.Errorf("delete replica: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return galleon.Errorf(galleon.ENotFound, "Replica %d of '%s' in region '%s' was not found.", index, versionID, region)
	}
	return nil
}
