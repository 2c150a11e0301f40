-- Training and evaluation jobs: the queue, each job's progress events, and the evaluation
-- results stored against the exact commit they measured. Times are whole seconds since the
-- Unix epoch, as in every *_at column. Owners are stored by id and by name, so listing jobs
-- needs no join.

CREATE TABLE jobs (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    type             TEXT    NOT NULL CHECK (type IN ('train', 'eval')),
    owner_id         INTEGER NOT NULL,
    owner            TEXT    NOT NULL,
    state            TEXT    NOT NULL DEFAULT 'queued'
                     CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'canceled')),
    -- The validated request body, as JSON.
    spec             TEXT    NOT NULL,
    -- Output repo of a training job, or the evaluated model of an evaluation job.
    repo             TEXT    NOT NULL,
    base_repo        TEXT,
    dataset_repo     TEXT,
    created_at       INTEGER NOT NULL,
    started_at       INTEGER,
    finished_at      INTEGER,
    -- Attempts started so far; a worker holds the job only while attempts matches the
    -- attempt number it was started with (its lease).
    attempts         INTEGER NOT NULL DEFAULT 0,
    max_attempts     INTEGER NOT NULL DEFAULT 3,
    worker_pid       INTEGER,
    heartbeat_at     INTEGER,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    step             INTEGER,
    total_steps      INTEGER,
    loss             REAL,
    lr               REAL,
    tokens_per_s     REAL,
    eta_s            REAL,
    result_commit    TEXT,
    -- Final metrics as a JSON object.
    result_metrics   TEXT,
    error            TEXT
);

CREATE INDEX jobs_by_state ON jobs (state, created_at, id);
CREATE INDEX jobs_by_owner ON jobs (owner_id, state);
CREATE INDEX jobs_by_repo ON jobs (repo);

-- Everything a job's event stream replays: state changes, training steps, evaluations.
CREATE TABLE job_events (
    job_id INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    seq    INTEGER NOT NULL,
    at     INTEGER NOT NULL,
    kind   TEXT    NOT NULL CHECK (kind IN ('state', 'progress', 'eval', 'log')),
    -- A JSON object.
    data   TEXT    NOT NULL,
    PRIMARY KEY (job_id, seq)
);

-- Evaluation metrics of one model (or adapter) at one commit on one dataset file.
CREATE TABLE evals (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id           INTEGER REFERENCES jobs (id) ON DELETE SET NULL,
    repo             TEXT    NOT NULL,
    revision         TEXT    NOT NULL,
    dataset          TEXT    NOT NULL,
    dataset_revision TEXT    NOT NULL,
    eval_file        TEXT    NOT NULL,
    -- A JSON object such as {"mean_nll": 2.1, "perplexity": 8.2, "token_accuracy": 0.4}.
    metrics          TEXT    NOT NULL,
    created_at       INTEGER NOT NULL
);

CREATE INDEX evals_by_repo ON evals (repo, created_at);
