-- jobs: when the running attempt of a job started, so that --max-job-seconds measures the
-- time the attempt has run, not time the job spent back in the queue or the daemon was down.
-- started_at keeps the first attempt's start, as before. NULL while a job has not run.
ALTER TABLE jobs ADD COLUMN attempt_started_at INTEGER;

-- A job running during the upgrade counts from its latest heartbeat, a lower bound of its
-- attempt's start that the next heartbeat does not move.
UPDATE jobs SET attempt_started_at = coalesce(heartbeat_at, started_at) WHERE state = 'running';
