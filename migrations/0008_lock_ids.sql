-- git: lock ids are never handed out again. With a plain INTEGER PRIMARY KEY, SQLite gives the
-- id of the newest lock to the next one once it is unlocked, so `git lfs unlock --force --id N`
-- with an id read earlier could break another user's newer lock. AUTOINCREMENT needs the table
-- to be made again; the rows keep their ids.
CREATE TABLE git_lfs_locks_new (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    repo_id   INTEGER NOT NULL REFERENCES repos (id) ON DELETE CASCADE,
    path      TEXT NOT NULL CHECK (length(path) BETWEEN 1 AND 1024),
    owner_id  INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    locked_at INTEGER NOT NULL,
    UNIQUE (repo_id, path)
);
INSERT INTO git_lfs_locks_new (id, repo_id, path, owner_id, locked_at)
    SELECT id, repo_id, path, owner_id, locked_at FROM git_lfs_locks;
DROP TABLE git_lfs_locks;
ALTER TABLE git_lfs_locks_new RENAME TO git_lfs_locks;
