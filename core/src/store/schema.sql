-- Keyshift key store schema, version 1 (PRAGMA user_version = 1).
-- Key material is stored only as sealed blobs (AES-256-GCM under the
-- container root key); root keys only wrapped.

CREATE TABLE containers (
    id               TEXT PRIMARY KEY,          -- 'shared' or an instance id
    wrapping         TEXT NOT NULL CHECK (wrapping IN ('internal', 'external')),
    wrapped_root_key BLOB NOT NULL,
    external_key_arn TEXT,
    migrating        INTEGER NOT NULL DEFAULT 0 CHECK (migrating IN (0, 1)),
    created_at       TEXT NOT NULL
);

CREATE TABLE instances (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    instance_type TEXT NOT NULL,
    region        TEXT NOT NULL,
    key_quota     INTEGER NOT NULL,
    secret_quota  INTEGER NOT NULL,
    status        TEXT NOT NULL,
    created_at    TEXT NOT NULL
);

CREATE TABLE keys (
    id                      TEXT PRIMARY KEY,
    container_id            TEXT NOT NULL REFERENCES containers (id),
    spec                    TEXT NOT NULL,
    usage                   TEXT NOT NULL,
    protection_level        TEXT NOT NULL,
    origin                  TEXT NOT NULL,
    multi_version           INTEGER NOT NULL,
    description             TEXT NOT NULL,
    tags                    TEXT NOT NULL,     -- JSON object
    state                   TEXT NOT NULL,
    deletion_protection     INTEGER NOT NULL,
    deletion_window_in_days INTEGER NOT NULL,
    rotation_interval       TEXT,
    current_version         TEXT NOT NULL,
    creation_date           TEXT NOT NULL,
    deletion_date           TEXT
);
CREATE INDEX keys_by_container ON keys (container_id);

CREATE TABLE key_versions (
    key_id     TEXT NOT NULL REFERENCES keys (id) ON DELETE CASCADE,
    version_id TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    sealed     BLOB NOT NULL,
    PRIMARY KEY (key_id, version_id)
);

CREATE TABLE aliases (
    name       TEXT PRIMARY KEY,
    key_id     TEXT NOT NULL REFERENCES keys (id) ON DELETE CASCADE,
    created_at TEXT NOT NULL
);
CREATE INDEX aliases_by_key ON aliases (key_id);

CREATE TABLE audit (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,
    at      TEXT NOT NULL,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    object  TEXT NOT NULL,
    outcome TEXT NOT NULL,
    detail  TEXT NOT NULL
);

-- ekms: one EKMS / BYOK configuration per container. Whether the
-- root key is actually wrapped by the AWS key is containers.wrapping; this
-- row holds the configuration and the last health check.
CREATE TABLE ekms_configs (
    container_id             TEXT PRIMARY KEY REFERENCES containers (id) ON DELETE CASCADE,
    key_arn                  TEXT NOT NULL,
    architecture             TEXT NOT NULL CHECK (architecture IN ('current', 'legacy')),
    allow_revert_to_internal INTEGER NOT NULL DEFAULT 0 CHECK (allow_revert_to_internal IN (0, 1)),
    last_status              TEXT,
    last_aws_state           TEXT,
    last_checked_at          TEXT,
    created_at               TEXT NOT NULL
);

-- secrets: values are sealed (AES-256-GCM, AAD '<secret id>/<version id>')
-- under the material of one version of the secret's encryption key, which
-- each version records, so rotating that key never breaks older versions.
CREATE TABLE secrets (
    id                 TEXT PRIMARY KEY,
    container_id       TEXT NOT NULL REFERENCES containers (id),
    name               TEXT NOT NULL,
    secret_type        TEXT NOT NULL,
    encryption_key_id  TEXT NOT NULL,
    description        TEXT NOT NULL,
    tags               TEXT NOT NULL,     -- JSON object
    current_version_id TEXT NOT NULL,
    rotation_interval  TEXT,
    created_at         TEXT NOT NULL,
    UNIQUE (container_id, name)
);

CREATE TABLE secret_versions (
    secret_id      TEXT NOT NULL REFERENCES secrets (id) ON DELETE CASCADE,
    version_id     TEXT NOT NULL,
    seq            INTEGER NOT NULL,
    stages         TEXT NOT NULL,         -- JSON array
    created_at     TEXT NOT NULL,
    key_id         TEXT NOT NULL,
    key_version_id TEXT NOT NULL,
    sealed         BLOB NOT NULL,
    PRIMARY KEY (secret_id, version_id)
);
