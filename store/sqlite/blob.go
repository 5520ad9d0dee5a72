package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/galleonhq/galleon"
)

// blobKey indexes a blob: account and container names are case-insensitive
// in Azure, blob names are not.
func blobKey(account, container, name string) string {
	return strings.ToLower(account) + "/" + strings.ToLower(container) + "/" + name
}

func blobNotFound(account, container, name string) error {
	return galleon.ReasonErrorf(galleon.ENotFound, "BlobNotFound", "The blob '%s/%s/%s' does not exist.", account, container, name)
}

// PutBlob creates or replaces a blob, dropping the block map of one it replaces.
func (s *Store) PutBlob(ctx context.Context, b *galleon.Blob) error {
	meta, err := json.Marshal(b.Metadata)
	if err != nil {
		return fmt.Errorf("encode blob metadata: %w", err)
	}
	now, etag := s.now(), newETag()
	k := blobKey(b.Account, b.Container, b.Name)
	err = s.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM blob_blocks WHERE blob_key = ?`, k); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO blobs (blob_key, account, container, name, kind, region, size, block_size,
			sealed, content_type, metadata, etag, created_at, changed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (blob_key) DO UPDATE SET kind = excluded.kind, region = excluded.region, size = excluded.size,
			block_size = excluded.block_size, sealed = excluded.sealed, content_type = excluded.content_type,
			metadata = excluded.metadata, etag = excluded.etag, created_at = excluded.created_at, changed_at = excluded.changed_at`,
			k, b.Account, b.Container, b.Name, b.Kind, key(b.Region), b.Size, b.BlockSize, b.Sealed, b.ContentType,
			string(meta), etag, fmtTime(now), fmtTime(now))
		return err
	})
	if err != nil {
		return fmt.Errorf("put blob %s: %w", k, err)
	}
	b.ETag, b.CreatedAt, b.ChangedAt = etag, now, now
	return nil
}

// GetBlob finds a blob.
func (s *Store) GetBlob(ctx context.Context, account, container, name string) (*galleon.Blob, error) {
	var b galleon.Blob
	var meta, created, changed sql.NullString
	err := s.r.QueryRowContext(ctx, `SELECT account, container, name, kind, region, size, block_size, sealed, content_type,
		metadata, etag, created_at, changed_at FROM blobs WHERE blob_key = ?`, blobKey(account, container, name)).Scan(
		&b.Account, &b.Container, &b.Name, &b.Kind, &b.Region, &b.Size, &b.BlockSize, &b.Sealed, &b.ContentType,
		&meta, &b.ETag, &created, &changed)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, blobNotFound(account, container, name)
	} else if err != nil {
		return nil, fmt.Errorf("get blob: %w", err)
	}
	if meta.Valid && meta.String != "" && meta.String != "null" {
		if err := json.Unmarshal([]byte(meta.String), &b.Metadata); err != nil {
			return nil, fmt.Errorf("decode blob metadata: %w", err)
		}
	}
	if b.CreatedAt, err = parseTime(created); err != nil {
		return nil, err
	}
	if b.ChangedAt, err = parseTime(changed); err != nil {
		return nil, err
	}
	return &b, nil
}

// UpdateBlob saves a blob's size, sealed flag, content type and metadata.
// Blocks past a smaller size are dropped.
func (s *Store) UpdateBlob(ctx context.Context, b *galleon.Blob) error {
	meta, err := json.Marshal(b.Metadata)
	if err != nil {
		return fmt.Errorf("encode blob metadata: %w", err)
	}
	now, etag := s.now(), newETag()
	k := blobKey(b.Account, b.Container, b.Name)
	err = s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE blobs SET size = ?, sealed = ?, content_type = ?, metadata = ?, etag = ?,
			changed_at = ? WHERE blob_key = ?`, b.Size, b.Sealed, b.ContentType, string(meta), etag, fmtTime(now), k)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return blobNotFound(b.Account, b.Container, b.Name)
		}
		if b.BlockSize > 0 {
			last := (b.Size + b.BlockSize - 1) / b.BlockSize
			_, err = tx.ExecContext(ctx, `DELETE FROM blob_blocks WHERE blob_key = ? AND idx >= ?`, k, last)
		}
		return err
	})
	if err != nil {
		return err
	}
	b.ETag, b.ChangedAt = etag, now
	return nil
}

// DeleteBlob removes a blob and its block map.
func (s *Store) DeleteBlob(ctx context.Context, account, container, name string) error {
	k := blobKey(account, container, name)
	return s.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM blob_blocks WHERE blob_key = ?`, k); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM blobs WHERE blob_key = ?`, k)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return blobNotFound(account, container, name)
		}
		return nil
	})
}

// SetBlobBlocks records block digests ("" = zero block) in one transaction.
func (s *Store) SetBlobBlocks(ctx context.Context, account, container, name string, blocks map[int64]string) error {
	k := blobKey(account, container, name)
	return s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE blobs SET etag = ?, changed_at = ? WHERE blob_key = ?`, newETag(), fmtTime(s.now()), k)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return blobNotFound(account, container, name)
		}
		for idx, d := range blocks {
			if d == "" {
				_, err = tx.ExecContext(ctx, `DELETE FROM blob_blocks WHERE blob_key = ? AND idx = ?`, k, idx)
			} else {
				_, err = tx.ExecContext(ctx, `INSERT INTO blob_blocks (blob_key, idx, digest) VALUES (?, ?, ?)
					ON CONFLICT (blob_key, idx) DO UPDATE SET digest = excluded.digest`, k, idx, d)
			}
			if err != nil {
				return fmt.Errorf("set block %d of %s: %w", idx, k, err)
			}
		}
		return nil
	})
}

// ListBlobBlocks returns the non-zero blocks of a blob in index order.
func (s *Store) ListBlobBlocks(ctx context.Context, account, container, name string) ([]galleon.ManifestBlock, error) {
	out, err := queryList(ctx, s.r, func(sc scanner) (galleon.ManifestBlock, error) {
		var b galleon.ManifestBlock
		err := sc.Scan(&b.Index, &b.Digest)
		return b, err
	}, `SELECT idx, digest FROM blob_blocks WHERE blob_key = ? ORDER BY idx`, blobKey(account, container, name))
	if err != nil {
		return nil, fmt.Errorf("list blocks of %s/%s/%s: %w", account, container, name, err)
	}
	return out, nil
}
