-- +goose Up
ALTER TABLE resources ADD COLUMN internal TEXT;

-- +goose Down
ALTER TABLE resources DROP COLUMN internal;
