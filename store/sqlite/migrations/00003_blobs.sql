-- +goose Up
CREATE TABLE blobs (
    blob_key     TEXT PRIMARY KEY,            -- lower(account/container/name)
    account      TEXT NOT NULL,
    container    TEXT NOT NULL,
    name         TEXT NOT NULL,
    kind         TEXT NOT NULL,
    region       TEXT NOT NULL,
    size         INTEGER NOT NULL,
    block_size   INTEGER NOT NULL,
    sealed       INTEGER NOT NULL DEFAULT 0,
    content_type TEXT NOT NULL DEFAULT '',
    metadata     TEXT,
    etag         TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    changed_at   TEXT NOT NULL
);

CREATE TABLE blob_blocks (
    blob_key TEXT NOT NULL REFERENCES blobs (blob_key) ON DELETE CASCADE,
    idx      INTEGER NOT NULL,
    digest   TEXT NOT NULL,
    PRIMARY KEY (blob_key, idx)
);

-- +goose Down
DROP TABLE blob_blocks;
DROP TABLE blobs;
