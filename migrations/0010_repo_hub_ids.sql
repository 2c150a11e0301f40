-- storage: each repo gets a Hub-style _id (24 hex digits) that no later repo can share.
-- It was built from created_at and the row id, and SQLite gives a deleted repo's row id to
-- the next repo, so a delete and a create in the same second repeated it. New rows store
-- created_at followed by 64 random bits. Existing rows keep the value they were shown with.
ALTER TABLE repos ADD COLUMN hub_id TEXT;
UPDATE repos SET hub_id = printf('%08x%016x', created_at & 4294967295, id);
CREATE UNIQUE INDEX repos_hub_id ON repos (hub_id);
