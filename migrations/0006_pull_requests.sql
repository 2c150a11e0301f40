-- pull requests: proposed changes to a repo. The commits live on the git ref refs/pr/NUMBER
-- of the repo; this table keeps what git does not: title, author, status and the merge.
CREATE TABLE pull_requests (
    repo_id       INTEGER NOT NULL REFERENCES repos (id) ON DELETE CASCADE,
    number        INTEGER NOT NULL CHECK (number > 0), -- counts from 1 in each repo
    title         TEXT NOT NULL,
    description   TEXT NOT NULL DEFAULT '',
    author_id     INTEGER REFERENCES users (id) ON DELETE SET NULL, -- NULL once deleted
    author_name   TEXT NOT NULL,           -- kept for display after the user is deleted
    status        TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'merged', 'closed')),
    target_branch TEXT NOT NULL,           -- short branch name the PR merges into
    base_commit   TEXT NOT NULL,           -- commit refs/pr/NUMBER started from
    merged_commit TEXT NOT NULL DEFAULT '', -- commit that landed on the target branch, or ''
    created_at    INTEGER NOT NULL,        -- seconds since the epoch
    updated_at    INTEGER NOT NULL,
    PRIMARY KEY (repo_id, number)
) WITHOUT ROWID;

CREATE INDEX pull_requests_author ON pull_requests (author_id);
