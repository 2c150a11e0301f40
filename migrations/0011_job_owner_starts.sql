-- jobs: the order in which owners last had a job started, so that the scheduler takes turns
-- between owners instead of running one owner's burst of jobs first.

-- One row per owner who has had an attempt of a job started. start_seq is a counter over all
-- owners: each claim of a queued job gives its owner the highest value so far plus one, so the
-- owner with the lowest start_seq has waited longest since their last start. An owner without
-- a row has never had a job started.
CREATE TABLE job_owner_starts (
    owner_id  INTEGER PRIMARY KEY,
    start_seq INTEGER NOT NULL
);

-- Jobs that started before this migration give their owners an order by the time their
-- latest job first started. started_at keeps the first attempt's start, so this is an
-- approximation, which only matters for the turns right after the upgrade.
INSERT INTO job_owner_starts (owner_id, start_seq)
SELECT owner_id, row_number() OVER (ORDER BY max(started_at), max(id))
FROM jobs WHERE started_at IS NOT NULL GROUP BY owner_id;
