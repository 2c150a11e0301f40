-- git: branches of a repo that refuse force pushes and deletion through git push.
CREATE TABLE git_protected_branches (
    repo_id    INTEGER NOT NULL REFERENCES repos (id) ON DELETE CASCADE,
    branch     TEXT NOT NULL CHECK (length(branch) BETWEEN 1 AND 255),
    created_at INTEGER NOT NULL,
    PRIMARY KEY (repo_id, branch)
);

-- git-lfs file locks (the git-lfs locking API): one lock per path of a repo.
CREATE TABLE git_lfs_locks (
    id        INTEGER PRIMARY KEY,
    repo_id   INTEGER NOT NULL REFERENCES repos (id) ON DELETE CASCADE,
    path      TEXT NOT NULL CHECK (length(path) BETWEEN 1 AND 1024),
    owner_id  INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    locked_at INTEGER NOT NULL,
    UNIQUE (repo_id, path)
);
