-- Keyshift key store schema on PostgreSQL, version 1 (the `schema_version`
-- row of store_meta). The same tables and meaning as the embedded store's
-- schema (schema.sql and its migrations): key material only as sealed
-- blobs, root keys only wrapped. `ord` columns keep insertion order, the
-- tie-break SQLite gets from its rowid.

CREATE TABLE store_meta (name TEXT PRIMARY KEY, value BYTEA NOT NULL);

-- Every write transaction locks this (empty) table first: writers from any
-- number of processes serialize; plain reads are never blocked.
CREATE TABLE ks_write_lock (id INTEGER PRIMARY KEY);

CREATE TABLE containers (
    id               TEXT PRIMARY KEY,
    wrapping         TEXT NOT NULL CHECK (wrapping IN ('internal', 'external')),
    wrapped_root_key BYTEA NOT NULL,
    external_key_arn TEXT,
    migrating        BOOLEAN NOT NULL DEFAULT FALSE,
    created_at       TEXT NOT NULL
);

CREATE TABLE instances (
    ord           BIGINT GENERATED ALWAYS AS IDENTITY,
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    instance_type TEXT NOT NULL,
    region        TEXT NOT NULL,
    key_quota     BIGINT NOT NULL,
    secret_quota  BIGINT NOT NULL,
    status        TEXT NOT NULL,
    created_at    TEXT NOT NULL
);

CREATE TABLE keys (
    ord                     BIGINT GENERATED ALWAYS AS IDENTITY,
    id                      TEXT PRIMARY KEY,
    container_id            TEXT NOT NULL REFERENCES containers (id),
    spec                    TEXT NOT NULL,
    usage                   TEXT NOT NULL,
    protection_level        TEXT NOT NULL,
    origin                  TEXT NOT NULL,
    multi_version           BOOLEAN NOT NULL,
    description             TEXT NOT NULL,
    tags                    TEXT NOT NULL,
    state                   TEXT NOT NULL,
    deletion_protection     BOOLEAN NOT NULL,
    deletion_window_in_days BIGINT NOT NULL,
    rotation_interval       TEXT,
    current_version         TEXT NOT NULL,
    creation_date           TEXT NOT NULL,
    deletion_date           TEXT
);
CREATE INDEX keys_by_container ON keys (container_id);

CREATE TABLE key_versions (
    key_id     TEXT NOT NULL REFERENCES keys (id) ON DELETE CASCADE,
    version_id TEXT NOT NULL,
    seq        BIGINT NOT NULL,
    created_at TEXT NOT NULL,
    sealed     BYTEA NOT NULL,
    PRIMARY KEY (key_id, version_id)
);

CREATE TABLE aliases (
    name       TEXT PRIMARY KEY,
    key_id     TEXT NOT NULL REFERENCES keys (id) ON DELETE CASCADE,
    created_at TEXT NOT NULL
);
CREATE INDEX aliases_by_key ON aliases (key_id);

CREATE TABLE audit (
    seq     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at      TEXT NOT NULL,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    object  TEXT NOT NULL,
    outcome TEXT NOT NULL,
    detail  TEXT NOT NULL
);

CREATE TABLE ekms_configs (
    container_id             TEXT PRIMARY KEY REFERENCES containers (id) ON DELETE CASCADE,
    key_arn                  TEXT NOT NULL,
    architecture             TEXT NOT NULL CHECK (architecture IN ('current', 'legacy')),
    allow_revert_to_internal BOOLEAN NOT NULL DEFAULT FALSE,
    last_status              TEXT,
    last_aws_state           TEXT,
    last_checked_at          TEXT,
    created_at               TEXT NOT NULL
);

CREATE TABLE secrets (
    ord                BIGINT GENERATED ALWAYS AS IDENTITY,
    id                 TEXT PRIMARY KEY,
    container_id       TEXT NOT NULL REFERENCES containers (id),
    name               TEXT NOT NULL,
    secret_type        TEXT NOT NULL,
    encryption_key_id  TEXT NOT NULL,
    description        TEXT NOT NULL,
    tags               TEXT NOT NULL,
    current_version_id TEXT NOT NULL,
    created_at         TEXT NOT NULL,
    UNIQUE (container_id, name)
);

CREATE TABLE secret_versions (
    secret_id      TEXT NOT NULL REFERENCES secrets (id) ON DELETE CASCADE,
    version_id     TEXT NOT NULL,
    seq            BIGINT NOT NULL,
    stages         TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    key_id         TEXT NOT NULL,
    key_version_id TEXT NOT NULL,
    sealed         BYTEA NOT NULL,
    PRIMARY KEY (secret_id, version_id)
);

CREATE TABLE break_glass_grants (
    id                   TEXT PRIMARY KEY,
    change_request       TEXT NOT NULL,
    principal            TEXT NOT NULL,
    key_ids              TEXT NOT NULL,
    instance_id          TEXT,
    permissions          TEXT NOT NULL,
    reason               TEXT NOT NULL,
    created_at           TEXT NOT NULL,
    expires_at           TEXT NOT NULL,
    credential_hash      BYTEA NOT NULL,
    credential_secret_id TEXT,
    revoked_at           TEXT,
    pending_repair       TEXT
);
CREATE INDEX break_glass_by_change ON break_glass_grants (change_request);

CREATE TABLE migration_runs (
    ord         BIGINT GENERATED ALWAYS AS IDENTITY,
    run_id      TEXT PRIMARY KEY,
    pid         BIGINT NOT NULL,
    host        TEXT NOT NULL,
    started_at  TEXT NOT NULL,
    source      TEXT NOT NULL,
    target      TEXT NOT NULL,
    finished_at TEXT,
    outcome     TEXT
);
