-- +goose Up
CREATE TABLE replicas (
    version_key          TEXT NOT NULL,
    version_id           TEXT NOT NULL,
    region               TEXT NOT NULL,
    idx                  INTEGER NOT NULL,
    storage_account_type TEXT NOT NULL,
    account              TEXT NOT NULL,
    state                TEXT NOT NULL,
    progress             INTEGER NOT NULL DEFAULT 0,
    details              TEXT NOT NULL DEFAULT '',
    source_region        TEXT NOT NULL DEFAULT '',
    stored_bytes         INTEGER NOT NULL DEFAULT 0,
    copied_bytes         INTEGER NOT NULL DEFAULT 0,
    egress_bytes         INTEGER NOT NULL DEFAULT 0,
    updated_at           TEXT NOT NULL,
    PRIMARY KEY (version_key, region, idx)
);

-- +goose Down
DROP TABLE replicas;
