-- +goose Up
-- Staged blocks of block blobs (Put Block) and their committed block lists
-- (Put Block List). No foreign key to blobs: a block is staged before its
-- blob exists.
CREATE TABLE blob_staged_blocks (
    blob_key    TEXT NOT NULL,               -- as blobs.blob_key
    committed   INTEGER NOT NULL,            -- 1: in the committed block list
    seq         INTEGER NOT NULL,            -- committed: list position; else staging order
    block_id    TEXT NOT NULL,
    size        INTEGER NOT NULL,
    byte_offset INTEGER NOT NULL DEFAULT 0,  -- committed: where the block starts in the blob
    region      TEXT NOT NULL DEFAULT '',    -- uncommitted: where its pieces are stored
    piece_size  INTEGER NOT NULL DEFAULT 0,
    pieces      TEXT NOT NULL DEFAULT '[]',  -- JSON array of piece digests, "" for zero pieces
    staged_at   TEXT NOT NULL,
    PRIMARY KEY (blob_key, committed, seq)
);

CREATE UNIQUE INDEX blob_staged_blocks_uncommitted ON blob_staged_blocks (blob_key, block_id) WHERE committed = 0;

-- +goose Down
DROP TABLE blob_staged_blocks;
