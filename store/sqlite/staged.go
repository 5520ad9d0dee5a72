package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/galleonhq/galleon"
)

// StageBlobBlock records an uncommitted block, replacing an uncommitted
// block of the same ID, at the end of the staging order.
func (s *Store) StageBlobBlock(ctx context.Context, account, container, name string, b *galleon.StagedBlock) error {
	pieces, err := json.Marshal(nonNil(b.Pieces))
	if err != nil {
		return fmt.Errorf("encode staged block pieces: %w", err)
	}
	now := s.now()
	k := blobKey(account, container, name)
	err = s.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM blob_staged_blocks WHERE blob_key = ? AND committed = 0 AND block_id = ?`,
			k, b.ID); err != nil {
			return err
		}
		var seq int64
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) + 1 FROM blob_staged_blocks WHERE blob_key = ? AND committed = 0`,
			k).Scan(&seq); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO blob_staged_blocks (blob_key, committed, seq, block_id, size, byte_offset,
			region, piece_size, pieces, staged_at) VALUES (?, 0, ?, ?, ?, 0, ?, ?, ?, ?)`,
			k, seq, b.ID, b.Size, key(b.Region), b.PieceSize, string(pieces), fmtTime(now))
		return err
	})
	if err != nil {
		return fmt.Errorf("stage block %q of %s: %w", b.ID, k, err)
	}
	b.Committed, b.Offset, b.StagedAt = false, 0, now
	return nil
}

// ListStagedBlobBlocks lists committed blocks in list order, then
// uncommitted ones in staging order.
func (s *Store) ListStagedBlobBlocks(ctx context.Context, account, container, name string) ([]*galleon.StagedBlock, error) {
	out, err := queryList(ctx, s.r, func(sc scanner) (*galleon.StagedBlock, error) {
		var b galleon.StagedBlock
		var pieces string
		var staged sql.NullString
		if err := sc.Scan(&b.Committed, &b.ID, &b.Size, &b.Offset, &b.Region, &b.PieceSize, &pieces, &staged); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(pieces), &b.Pieces); err != nil {
			return nil, fmt.Errorf("decode pieces of staged block %q: %w", b.ID, err)
		}
		if len(b.Pieces) == 0 {
			b.Pieces = nil
		}
		var err error
		b.StagedAt, err = parseTime(staged)
		return &b, err
	}, `SELECT committed, block_id, size, byte_offset, region, piece_size, pieces, staged_at FROM blob_staged_blocks
		WHERE blob_key = ? ORDER BY committed DESC, seq`, blobKey(account, container, name))
	if err != nil {
		return nil, fmt.Errorf("list staged blocks of %s/%s/%s: %w", account, container, name, err)
	}
	return out, nil
}

// CommitBlockBlob creates or replaces b with the given block map and
// committed block list, and drops the blob's uncommitted blocks.
func (s *Store) CommitBlockBlob(ctx context.Context, b *galleon.Blob, blocks []galleon.ManifestBlock, committed []*galleon.StagedBlock) error {
	meta, err := json.Marshal(b.Metadata)
	if err != nil {
		return fmt.Errorf("encode blob metadata: %w", err)
	}
	now, etag := s.now(), newETag()
	k := blobKey(b.Account, b.Container, b.Name)
	err = s.write(ctx, func(tx *sql.Tx) error {
		for _, q := range []string{`DELETE FROM blob_blocks WHERE blob_key = ?`, `DELETE FROM blob_staged_blocks WHERE blob_key = ?`} {
			if _, err := tx.ExecContext(ctx, q, k); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO blobs (blob_key, account, container, name, kind, region, size, block_size,
			sealed, content_type, metadata, etag, created_at, changed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (blob_key) DO UPDATE SET kind = excluded.kind, region = excluded.region, size = excluded.size,
			block_size = excluded.block_size, sealed = excluded.sealed, content_type = excluded.content_type,
			metadata = excluded.metadata, etag = excluded.etag, created_at = excluded.created_at, changed_at = excluded.changed_at`,
			k, b.Account, b.Container, b.Name, b.Kind, key(b.Region), b.Size, b.BlockSize, b.Sealed, b.ContentType,
			string(meta), etag, fmtTime(now), fmtTime(now))
		if err != nil {
			return err
		}
		for _, bl := range blocks {
			if bl.Digest == "" {
				continue
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO blob_blocks (blob_key, idx, digest) VALUES (?, ?, ?)
				ON CONFLICT (blob_key, idx) DO UPDATE SET digest = excluded.digest`, k, bl.Index, bl.Digest); err != nil {
				return fmt.Errorf("set block %d of %s: %w", bl.Index, k, err)
			}
		}
		for i, c := range committed {
			if _, err := tx.ExecContext(ctx, `INSERT INTO blob_staged_blocks (blob_key, committed, seq, block_id, size,
				byte_offset, region, piece_size, pieces, staged_at) VALUES (?, 1, ?, ?, ?, ?, '', 0, '[]', ?)`,
				k, i+1, c.ID, c.Size, c.Offset, fmtTime(now)); err != nil {
				return fmt.Errorf("commit block %q of %s: %w", c.ID, k, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("commit block blob %s: %w", k, err)
	}
	b.ETag, b.CreatedAt, b.ChangedAt = etag, now, now
	for _, c := range committed {
		c.Committed, c.Region, c.PieceSize, c.Pieces, c.StagedAt = true, "", 0, nil, now
	}
	return nil
}

// ClearStagedBlobBlocks drops every staged block of a blob.
func (s *Store) ClearStagedBlobBlocks(ctx context.Context, account, container, name string) error {
	k := blobKey(account, container, name)
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM blob_staged_blocks WHERE blob_key = ?`, k)
		return err
	})
	if err != nil {
		return fmt.Errorf("clear staged blocks of %s: %w", k, err)
	}
	return nil
}
