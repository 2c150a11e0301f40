-- LFS blobs known to the store, which repo may read which blob, and the audit log.

CREATE TABLE lfs_objects (
    oid        TEXT PRIMARY KEY CHECK (length(oid) = 64),  -- SHA-256, lowercase hex
    size       INTEGER NOT NULL CHECK (size >= 0),
    created_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE repo_objects (
    repo_id    INTEGER NOT NULL REFERENCES repos (id) ON DELETE CASCADE,
    oid        TEXT NOT NULL REFERENCES lfs_objects (oid) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (repo_id, oid)
) WITHOUT ROWID;

CREATE INDEX repo_objects_oid ON repo_objects (oid);

CREATE TABLE audit_log (
    id     INTEGER PRIMARY KEY,
    time   INTEGER NOT NULL,
    user   TEXT NOT NULL DEFAULT '',   -- acting user's name, '' for the system
    action TEXT NOT NULL,
    repo   TEXT NOT NULL DEFAULT '',   -- "model:ns/name" or ''
    detail TEXT NOT NULL DEFAULT ''
);

CREATE INDEX audit_log_time ON audit_log (time);
CREATE INDEX audit_log_user ON audit_log (user, time);
CREATE INDEX audit_log_repo ON audit_log (repo, time);
