-- Accounts, organisations, credentials and repos. Times are seconds since the Unix epoch.
-- Users and organisations share one namespace (case-insensitive), because repos live under
-- either; the triggers keep a name from being taken by both.

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE COLLATE NOCASE,
    password_hash TEXT,                      -- "scrypt$N$r$p$SALT_HEX$HASH_HEX", or NULL
    is_admin      INTEGER NOT NULL DEFAULT 0 CHECK (is_admin IN (0, 1)),
    created_at    INTEGER NOT NULL
);

CREATE TABLE orgs (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE COLLATE NOCASE,
    created_at INTEGER NOT NULL
);

CREATE TRIGGER users_name_not_org BEFORE INSERT ON users
WHEN EXISTS (SELECT 1 FROM orgs WHERE name = NEW.name)
BEGIN
    SELECT RAISE(ABORT, 'name already used by an organisation');
END;

CREATE TRIGGER orgs_name_not_user BEFORE INSERT ON orgs
WHEN EXISTS (SELECT 1 FROM users WHERE name = NEW.name)
BEGIN
    SELECT RAISE(ABORT, 'name already used by a user');
END;

CREATE TABLE memberships (
    org_id  INTEGER NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role    TEXT NOT NULL CHECK (role IN ('read', 'write', 'admin')),
    PRIMARY KEY (org_id, user_id)
) WITHOUT ROWID;

CREATE INDEX memberships_user ON memberships (user_id);

CREATE TABLE tokens (
    id           INTEGER PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    label        TEXT NOT NULL DEFAULT '',
    secret_hash  BLOB NOT NULL UNIQUE,       -- SHA-256 of the secret; the secret is not kept
    hint         TEXT NOT NULL,              -- last 4 characters of the secret
    scope        TEXT NOT NULL CHECK (scope IN ('read', 'write')),
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER NOT NULL DEFAULT 0,
    revoked_at   INTEGER NOT NULL DEFAULT 0
);

CREATE INDEX tokens_user ON tokens (user_id);

CREATE TABLE sessions (
    id_hash    BLOB PRIMARY KEY,             -- SHA-256 of the cookie value
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE INDEX sessions_expires ON sessions (expires_at);

CREATE TABLE repos (
    id            INTEGER PRIMARY KEY,
    type          TEXT NOT NULL CHECK (type IN ('model', 'dataset')),
    ns            TEXT NOT NULL COLLATE NOCASE,
    name          TEXT NOT NULL COLLATE NOCASE,
    owner_user_id INTEGER REFERENCES users (id) ON DELETE RESTRICT,
    owner_org_id  INTEGER REFERENCES orgs (id) ON DELETE RESTRICT,
    private       INTEGER NOT NULL DEFAULT 0 CHECK (private IN (0, 1)),
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    downloads     INTEGER NOT NULL DEFAULT 0,
    head_commit   TEXT NOT NULL DEFAULT '',
    base_model    TEXT NOT NULL DEFAULT '',
    UNIQUE (type, ns, name),
    CHECK ((owner_user_id IS NULL) <> (owner_org_id IS NULL))
);

CREATE INDEX repos_updated ON repos (type, updated_at);
CREATE INDEX repos_base_model ON repos (base_model) WHERE base_model <> '';
