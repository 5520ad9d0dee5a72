package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/galleonhq/galleon"
)

// eachRow runs a read query and calls fn for each row as it is read, so a
// table of any size is walked in constant memory. The rows come from one
// statement, which SQLite answers from one snapshot of the database.
func eachRow(ctx context.Context, db *sql.DB, fn func(scanner) error, query string, args ...any) error {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// ListAllBlobBlocks calls fn for every entry of every blob's block map, in
// blob key and index order.
func (s *Store) ListAllBlobBlocks(ctx context.Context, fn func(account, container, name string, b galleon.ManifestBlock) error) error {
	var fnErr error
	err := eachRow(ctx, s.r, func(sc scanner) error {
		var account, container, name string
		var b galleon.ManifestBlock
		if err := sc.Scan(&account, &container, &name, &b.Index, &b.Digest); err != nil {
			return err
		}
		if err := fn(account, container, name, b); err != nil {
			fnErr = err
			return err
		}
		return nil
	}, `SELECT b.account, b.container, b.name, bb.idx, bb.digest FROM blob_blocks bb
		JOIN blobs b ON b.blob_key = bb.blob_key ORDER BY bb.blob_key, bb.idx`)
	if fnErr != nil {
		return fnErr
	}
	if err != nil {
		return fmt.Errorf("list the blocks of all blobs: %w", err)
	}
	return nil
}

// ListAllStagedBlobBlocks calls fn for every staged block of every blob,
// blob by blob, each blob's as ListStagedBlobBlocks orders them. Blocks
// staged for a blob that does not exist yet have only the blob's key to
// name it, whose account and container are in lower case.
func (s *Store) ListAllStagedBlobBlocks(ctx context.Context, fn func(account, container, name string, b *galleon.StagedBlock) error) error {
	var fnErr error
	err := eachRow(ctx, s.r, func(sc scanner) error {
		var k, pieces string
		var account, container, name, staged sql.NullString
		var b galleon.StagedBlock
		if err := sc.Scan(&k, &account, &container, &name, &b.Committed, &b.ID, &b.Size, &b.Offset, &b.Region,
			&b.PieceSize, &pieces, &staged); err != nil {
			return err
		}
		if err := json.Unmarshal([]byte(pieces), &b.Pieces); err != nil {
			return fmt.Errorf("decode pieces of staged block %q of %s: %w", b.ID, k, err)
		}
		if len(b.Pieces) == 0 {
			b.Pieces = nil
		}
		var err error
		if b.StagedAt, err = parseTime(staged); err != nil {
			return err
		}
		if !account.Valid {
			// No blob yet: split the key. Account and container names
			// hold no '/', blob names may.
			parts := strings.SplitN(k, "/", 3)
			if len(parts) != 3 {
				return fmt.Errorf("staged block %q has the malformed blob key %q", b.ID, k)
			}
			account.String, container.String, name.String = parts[0], parts[1], parts[2]
		}
		if err := fn(account.String, container.String, name.String, &b); err != nil {
			fnErr = err
			return err
		}
		return nil
	}, `SELECT sb.blob_key, b.account, b.container, b.name, sb.committed, sb.block_id, sb.size, sb.byte_offset,
		sb.region, sb.piece_size, sb.pieces, sb.staged_at FROM blob_staged_blocks sb
		LEFT JOIN blobs b ON b.blob_key = sb.blob_key ORDER BY sb.blob_key, sb.committed DESC, sb.seq`)
	if fnErr != nil {
		return fnErr
	}
	if err != nil {
		return fmt.Errorf("list the staged blocks of all blobs: %w", err)
	}
	return nil
}
