-- git: branches of a repo that refuse force pushes and deletion through git push.
CREATE TABLE git_protected_branches (
    repo_id    INTEGER NOT NULL REFERENCES repos (id) ON DELETE CASCADE,
    branch     TEXT NOT NULL CHECK (length(branch) BETWEEN 1 AND 255),
    created_at INTEGER NOT NULL,
    PRIMARY KEY (repo_id, branch)
);
