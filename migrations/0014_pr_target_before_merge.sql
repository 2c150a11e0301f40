-- pull requests: the head of the target branch just before the merge, so a merged pull
-- request keeps listing the commits and changes that it brought, which are those not on the
-- branch at that time. '' for open and closed pull requests, for pull requests merged before
-- this column existed, and for merges that found the branch containing refs/pr/N already.
ALTER TABLE pull_requests ADD COLUMN target_before_merge TEXT NOT NULL DEFAULT '';
