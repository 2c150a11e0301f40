-- pull requests: each change of status (closed, reopened, merged through the API, the web page
-- or a git push) with the user who made it and when. The API derives each event's id from id,
-- so ids stay the same on every read and never repeat, and id orders the changes of a pull
-- request as they happened, even when the clock went back between them.
CREATE TABLE pull_request_events (
    id          INTEGER PRIMARY KEY,
    repo_id     INTEGER NOT NULL,
    number      INTEGER NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('open', 'merged', 'closed')), -- the new status
    actor_id    INTEGER REFERENCES users (id) ON DELETE SET NULL, -- NULL once deleted, or unknown
    actor_known INTEGER NOT NULL DEFAULT 1 CHECK (actor_known IN (0, 1)), -- 0: nobody recorded
    created_at  INTEGER NOT NULL, -- seconds since the epoch
    FOREIGN KEY (repo_id, number) REFERENCES pull_requests (repo_id, number) ON DELETE CASCADE
);

CREATE INDEX pull_request_events_pr ON pull_request_events (repo_id, number);
CREATE INDEX pull_request_events_actor ON pull_request_events (actor_id);

-- Pull requests merged or closed before this table existed get one event for their current
-- status at their last update, with no known author.
INSERT INTO pull_request_events (repo_id, number, status, actor_id, actor_known, created_at)
SELECT repo_id, number, status, NULL, 0, updated_at FROM pull_requests
WHERE status <> 'open' ORDER BY repo_id, number;
