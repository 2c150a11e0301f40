-- evals: the base model and base commit that an adapter's evaluation was scored against,
-- because an adapter's scores depend on the base weights. NULL for a full model.
ALTER TABLE evals ADD COLUMN base_model TEXT;
ALTER TABLE evals ADD COLUMN base_revision TEXT;

-- Rows stored before this migration take the base from their job: the base model and the
-- commit it trained on for a training job's adapter, the adapter's base and the commit it was
-- evaluated against for an evaluation job. The row of the evaluated repo itself is the
-- adapter's row; the job's other row is the base model's own evaluation.
UPDATE evals SET
    base_model = (SELECT base_repo FROM jobs WHERE jobs.id = evals.job_id),
    base_revision = (SELECT CASE type WHEN 'train' THEN model_commit ELSE adapter_base_commit END
                     FROM jobs WHERE jobs.id = evals.job_id)
WHERE EXISTS (SELECT 1 FROM jobs WHERE jobs.id = evals.job_id AND jobs.repo = evals.repo
              AND jobs.base_repo IS NOT NULL
              AND (CASE type WHEN 'train' THEN model_commit ELSE adapter_base_commit END)
                  IS NOT NULL);
