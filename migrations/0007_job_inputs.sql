-- jobs: the commits a job's first attempt resolved, so every later attempt (a retry or a
-- resume after a daemon stop) trains or evaluates on the same inputs, and what became of an
-- output repo that the job created itself.

-- The commits of the model (the base model of a training job, the evaluated model of an
-- evaluation job), of the dataset and, when the evaluated model is an adapter, of that
-- adapter's base. NULL until the first attempt has resolved them.
ALTER TABLE jobs ADD COLUMN model_commit TEXT;
ALTER TABLE jobs ADD COLUMN dataset_commit TEXT;
ALTER TABLE jobs ADD COLUMN adapter_base_commit TEXT;

-- The first commit of the output repo when the job created that repo, NULL when the repo
-- existed before. A training job that fails or is canceled deletes the repo it created while
-- main is still at this commit and the repo has no other ref.
ALTER TABLE jobs ADD COLUMN output_created_commit TEXT;
-- When the job deleted the output repo it had created; NULL while it has not.
ALTER TABLE jobs ADD COLUMN output_deleted_at INTEGER;
