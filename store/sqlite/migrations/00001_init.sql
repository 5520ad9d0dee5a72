-- Galleon's metadata schema.
--
-- Conventions (kept portable so store/postgres can follow the same shape):
--   * Every looked-up identifier is stored twice: as written (id, name, ...)
--     and lower-cased in a *_key column that carries the index. Keys are
--     computed by the application (galleon.NormalizeScope for IDs and
--     scopes, strings.ToLower otherwise), never by SQL lower(), which is
--     ASCII-only in SQLite.
--   * Scope and ID keys are compared with binary collation, so "strictly
--     under P" is the range key >= P || '/' AND key < P || '0' ('0' follows
--     '/' in ASCII). PostgreSQL needs COLLATE "C" on those columns.
--   * Times are UTC text in RFC 3339 with exactly nine fractional digits
--     ("2006-01-02T15:04:05.000000000Z"), so text order is time order.
--     Optional times are NULL when unset.
--   * JSON documents (tags, properties, permissions, payloads, errors) are
--     TEXT.

-- +goose Up
CREATE TABLE tenants (
    id_key       TEXT PRIMARY KEY,
    id           TEXT NOT NULL,
    domain       TEXT NOT NULL,
    domain_key   TEXT UNIQUE, -- NULL when the tenant has no domain
    display_name TEXT NOT NULL,
    created_at   TEXT NOT NULL
);

CREATE TABLE subscriptions (
    id_key       TEXT PRIMARY KEY,
    id           TEXT NOT NULL,
    tenant_key   TEXT NOT NULL REFERENCES tenants (id_key),
    tenant_id    TEXT NOT NULL,
    display_name TEXT NOT NULL,
    state        TEXT NOT NULL,
    created_at   TEXT NOT NULL
);
CREATE INDEX subscriptions_tenant ON subscriptions (tenant_key, id_key);

CREATE TABLE users (
    id_key        TEXT PRIMARY KEY,
    id            TEXT NOT NULL,
    tenant_key    TEXT NOT NULL REFERENCES tenants (id_key),
    tenant_id     TEXT NOT NULL,
    upn           TEXT NOT NULL,
    upn_key       TEXT NOT NULL,
    display_name  TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    UNIQUE (tenant_key, upn_key)
);

CREATE TABLE directory_groups (
    id_key       TEXT PRIMARY KEY,
    id           TEXT NOT NULL,
    tenant_key   TEXT NOT NULL REFERENCES tenants (id_key),
    tenant_id    TEXT NOT NULL,
    display_name TEXT NOT NULL,
    created_at   TEXT NOT NULL
);
CREATE INDEX directory_groups_tenant ON directory_groups (tenant_key, id_key);

CREATE TABLE group_members (
    group_key  TEXT NOT NULL REFERENCES directory_groups (id_key) ON DELETE CASCADE,
    tenant_key TEXT NOT NULL,
    member_key TEXT NOT NULL,
    member_id  TEXT NOT NULL,
    PRIMARY KEY (group_key, member_key)
);
CREATE INDEX group_members_member ON group_members (tenant_key, member_key);

CREATE TABLE applications (
    id_key       TEXT PRIMARY KEY,
    id           TEXT NOT NULL,
    app_id_key   TEXT NOT NULL UNIQUE,
    app_id       TEXT NOT NULL,
    tenant_key   TEXT NOT NULL REFERENCES tenants (id_key),
    tenant_id    TEXT NOT NULL,
    display_name TEXT NOT NULL,
    multi_tenant INTEGER NOT NULL,
    created_at   TEXT NOT NULL
);
CREATE INDEX applications_tenant ON applications (tenant_key, id_key);

CREATE TABLE client_secrets (
    application_key TEXT NOT NULL REFERENCES applications (id_key) ON DELETE CASCADE,
    key_id_key      TEXT NOT NULL,
    key_id          TEXT NOT NULL,
    application_id  TEXT NOT NULL,
    display_name    TEXT NOT NULL,
    hint            TEXT NOT NULL,
    hash            TEXT NOT NULL,
    expires_at      TEXT,
    created_at      TEXT NOT NULL,
    PRIMARY KEY (application_key, key_id_key)
);

CREATE TABLE service_principals (
    id_key       TEXT PRIMARY KEY,
    id           TEXT NOT NULL,
    tenant_key   TEXT NOT NULL REFERENCES tenants (id_key),
    tenant_id    TEXT NOT NULL,
    app_id_key   TEXT NOT NULL,
    app_id       TEXT NOT NULL,
    display_name TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    UNIQUE (tenant_key, app_id_key)
);

CREATE TABLE directory_roles (
    tenant_key    TEXT NOT NULL REFERENCES tenants (id_key),
    principal_key TEXT NOT NULL,
    principal_id  TEXT NOT NULL,
    role          TEXT NOT NULL,
    PRIMARY KEY (tenant_key, principal_key, role)
);

CREATE TABLE signing_keys (
    key_id      TEXT PRIMARY KEY,
    private_pem BLOB NOT NULL,
    created_at  TEXT NOT NULL,
    retired_at  TEXT
);

CREATE TABLE resources (
    id_key             TEXT PRIMARY KEY, -- galleon.NormalizeScope(id)
    id                 TEXT NOT NULL,
    type               TEXT NOT NULL,
    type_key           TEXT NOT NULL,
    name               TEXT NOT NULL,
    subscription_id    TEXT NOT NULL,
    subscription_key   TEXT NOT NULL,
    resource_group     TEXT NOT NULL,
    resource_group_key TEXT NOT NULL,
    location           TEXT NOT NULL,
    tags               TEXT,
    managed_by         TEXT NOT NULL,
    properties         TEXT,
    etag               TEXT NOT NULL,
    created_at         TEXT NOT NULL,
    created_by         TEXT NOT NULL,
    changed_at         TEXT NOT NULL
);
CREATE INDEX resources_type ON resources (type_key, id_key);
CREATE INDEX resources_subscription ON resources (subscription_key, id_key);
CREATE INDEX resources_subscription_type ON resources (subscription_key, type_key, id_key);
CREATE INDEX resources_group ON resources (subscription_key, resource_group_key, id_key);

CREATE TABLE role_definitions (
    name_key          TEXT PRIMARY KEY,
    name              TEXT NOT NULL,
    scope             TEXT NOT NULL,
    scope_key         TEXT NOT NULL,
    role_name         TEXT NOT NULL,
    description       TEXT NOT NULL,
    type              TEXT NOT NULL,
    permissions       TEXT NOT NULL,
    assignable_scopes TEXT NOT NULL,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    created_by        TEXT NOT NULL,
    updated_by        TEXT NOT NULL
);

CREATE TABLE role_assignments (
    name_key               TEXT PRIMARY KEY,
    name                   TEXT NOT NULL,
    scope                  TEXT NOT NULL,
    scope_key              TEXT NOT NULL,
    role_definition_id     TEXT NOT NULL,
    role_definition_key    TEXT NOT NULL,
    principal_id           TEXT NOT NULL,
    principal_key          TEXT NOT NULL,
    principal_type         TEXT NOT NULL,
    description            TEXT NOT NULL,
    condition              TEXT NOT NULL,
    condition_version      TEXT NOT NULL,
    created_at             TEXT NOT NULL,
    updated_at             TEXT NOT NULL,
    created_by             TEXT NOT NULL,
    updated_by             TEXT NOT NULL,
    UNIQUE (scope_key, role_definition_key, principal_key)
);
CREATE INDEX role_assignments_principal ON role_assignments (principal_key, scope_key);

CREATE TABLE jobs (
    id_key       TEXT PRIMARY KEY,
    id           TEXT NOT NULL,
    kind         TEXT NOT NULL,
    payload      TEXT,
    state        TEXT NOT NULL,
    attempts     INTEGER NOT NULL,
    max_attempts INTEGER NOT NULL,
    run_at       TEXT NOT NULL,
    lease_owner  TEXT NOT NULL,
    lease_until  TEXT,
    last_error   TEXT NOT NULL,
    operation_id TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);
CREATE INDEX jobs_queued ON jobs (state, kind, run_at);
CREATE INDEX jobs_leased ON jobs (state, kind, lease_until);

CREATE TABLE operations (
    id_key           TEXT PRIMARY KEY,
    id               TEXT NOT NULL,
    subscription_id  TEXT NOT NULL,
    resource_id      TEXT NOT NULL,
    kind             TEXT NOT NULL,
    status           TEXT NOT NULL,
    percent_complete REAL NOT NULL,
    error            TEXT,
    principal_id     TEXT NOT NULL,
    start_time       TEXT NOT NULL,
    end_time         TEXT
);

CREATE TABLE audit_records (
    seq              INTEGER PRIMARY KEY, -- insertion order, breaks ties in time
    id               TEXT NOT NULL UNIQUE,
    time             TEXT NOT NULL,
    tenant_id        TEXT NOT NULL,
    tenant_key       TEXT NOT NULL,
    subscription_id  TEXT NOT NULL,
    subscription_key TEXT NOT NULL,
    principal_id     TEXT NOT NULL,
    principal_key    TEXT NOT NULL,
    principal_type   TEXT NOT NULL,
    app_id           TEXT NOT NULL,
    method           TEXT NOT NULL,
    path             TEXT NOT NULL,
    resource_id      TEXT NOT NULL,
    resource_key     TEXT NOT NULL,
    action           TEXT NOT NULL,
    status           INTEGER NOT NULL,
    result           TEXT NOT NULL,
    request_id       TEXT NOT NULL,
    correlation_id   TEXT NOT NULL,
    client_ip        TEXT NOT NULL
);
CREATE INDEX audit_records_time ON audit_records (time, seq);
CREATE INDEX audit_records_tenant ON audit_records (tenant_key, time, seq);
CREATE INDEX audit_records_resource ON audit_records (resource_key);
CREATE INDEX audit_records_principal ON audit_records (principal_key, time, seq);

-- +goose Down
DROP TABLE audit_records;
DROP TABLE operations;
DROP TABLE jobs;
DROP TABLE role_assignments;
DROP TABLE role_definitions;
DROP TABLE resources;
DROP TABLE signing_keys;
DROP TABLE directory_roles;
DROP TABLE service_principals;
DROP TABLE client_secrets;
DROP TABLE applications;
DROP TABLE group_members;
DROP TABLE directory_groups;
DROP TABLE users;
DROP TABLE subscriptions;
DROP TABLE tenants;
