-- web: what the repository list shows about each repo that git alone knows (kind, base
-- model, tags, total size), computed from the head of main and kept until the head moves.
CREATE TABLE web_repo_summary (
    repo_id      INTEGER PRIMARY KEY REFERENCES repos (id) ON DELETE CASCADE,
    commit_id    TEXT NOT NULL,            -- head of main the row was computed from, or ''
    is_adapter   INTEGER NOT NULL CHECK (is_adapter IN (0, 1)),
    base_model   TEXT NOT NULL DEFAULT '', -- "ns/name" from the card or adapter_config.json
    tags_json    TEXT NOT NULL DEFAULT '[]', -- JSON array of the card's tags
    pipeline_tag TEXT NOT NULL DEFAULT '',
    license      TEXT NOT NULL DEFAULT '',
    size_bytes   INTEGER NOT NULL DEFAULT 0, -- sum of file sizes, LFS objects at full size
    file_count   INTEGER NOT NULL DEFAULT 0,
    computed_at  INTEGER NOT NULL          -- seconds since the epoch
);
