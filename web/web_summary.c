/* web_summary: computes and caches the list facts of a repo. The cache is keyed by the head
 * commit of main, so a push or an API commit makes the next list view recompute that row. */
#include "web_summary.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "card.h"
#include "hub_log.h"
#include "meta.h"
#include "repo.h"

static void web_copy(char *out, size_t cap, const char *text)
{
    snprintf(out, cap, "%s", text != NULL ? text : "");
}

bool web_card_base_model(char *out, size_t cap, json_t *card_data)
{
    json_t *base = json_object_get(card_data, "base_model");

    if (json_is_array(base))
        base = json_array_get(base, 0);
    if (!json_is_string(base) || json_string_length(base) == 0)
        return false;
    web_copy(out, cap, json_string_value(base));
    return true;
}

/* Reads the cached row. Returns 1 when one exists for commit, 0 when not, or HUB_E*. */
static int web_summary_load(struct web_repo_summary *out, struct meta *db, int64_t repo_id,
                            const char *commit, struct hub_error *err)
{
    static const char sql[] =
        "SELECT commit_id, is_adapter, base_model, tags_json, pipeline_tag, license, "
        "size_bytes, file_count FROM web_repo_summary WHERE repo_id = ?1";
    sqlite3 *sq = meta_sqlite_get(db);
    sqlite3_stmt *stmt = NULL;
    int found = 0;
    int rc;

    rc = sqlite3_prepare_v2(sq, sql, -1, &stmt, NULL);
    if (rc != SQLITE_OK)
        return meta_error_from_sqlite(err, db, rc, "prepare web summary select");
    sqlite3_bind_int64(stmt, 1, repo_id);
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        const char *cached = (const char *)sqlite3_column_text(stmt, 0);

        if (cached != NULL && strcmp(cached, commit) == 0) {
            web_copy(out->commit, sizeof(out->commit), cached);
            out->is_adapter = sqlite3_column_int(stmt, 1) != 0;
            web_copy(out->base_model, sizeof(out->base_model),
                     (const char *)sqlite3_column_text(stmt, 2));
            json_decref(out->tags);
            out->tags = json_loads((const char *)sqlite3_column_text(stmt, 3), 0, NULL);
            if (!json_is_array(out->tags)) {
                json_decref(out->tags);
                out->tags = json_array();
            }
            web_copy(out->pipeline_tag, sizeof(out->pipeline_tag),
                     (const char *)sqlite3_column_text(stmt, 4));
            web_copy(out->license, sizeof(out->license),
                     (const char *)sqlite3_column_text(stmt, 5));
            out->size_bytes = (uint64_t)sqlite3_column_int64(stmt, 6);
            out->file_count = (uint64_t)sqlite3_column_int64(stmt, 7);
            found = 1;
        }
        rc = SQLITE_DONE;
    }
    if (rc != SQLITE_DONE)
        found = meta_error_from_sqlite(err, db, rc, "read web summary");
    sqlite3_finalize(stmt);
    return found;
}

static int web_summary_store(struct meta *db, int64_t repo_id, const struct web_repo_summary *s,
                             struct hub_error *err)
{
    static const char sql[] =
        "INSERT OR REPLACE INTO web_repo_summary (repo_id, commit_id, is_adapter, base_model, "
        "tags_json, pipeline_tag, license, size_bytes, file_count, computed_at) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";
    sqlite3 *sq = meta_sqlite_get(db);
    sqlite3_stmt *stmt = NULL;
    char *tags = json_dumps(s->tags, JSON_COMPACT);
    int rc;

    if (tags == NULL)
        return hub_error_set(err, HUB_ENOMEM, "cannot encode the tags of repo %lld",
                             (long long)repo_id);
    rc = sqlite3_prepare_v2(sq, sql, -1, &stmt, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(stmt, 1, repo_id);
        sqlite3_bind_text(stmt, 2, s->commit, -1, SQLITE_STATIC);
        sqlite3_bind_int(stmt, 3, s->is_adapter);
        sqlite3_bind_text(stmt, 4, s->base_model, -1, SQLITE_STATIC);
        sqlite3_bind_text(stmt, 5, tags, -1, SQLITE_STATIC);
        sqlite3_bind_text(stmt, 6, s->pipeline_tag, -1, SQLITE_STATIC);
        sqlite3_bind_text(stmt, 7, s->license, -1, SQLITE_STATIC);
        sqlite3_bind_int64(stmt, 8, (sqlite3_int64)s->size_bytes);
        sqlite3_bind_int64(stmt, 9, (sqlite3_int64)s->file_count);
        sqlite3_bind_int64(stmt, 10, meta_now());
        rc = sqlite3_step(stmt);
    }
    sqlite3_finalize(stmt);
    free(tags);
    if (rc != SQLITE_DONE)
        return meta_error_from_sqlite(err, db, rc, "store web summary");
    return 0;
}

/* Takes tags, pipeline, license and base model from the README's front matter. */
static void web_summary_from_card(struct web_repo_summary *s, struct repo *r)
{
    struct hub_error err = HUB_ERROR_INIT;
    struct card card = CARD_INIT;
    json_t *tags;
    char *text = NULL;
    size_t len = 0;

    if (repo_file_read(&text, &len, r, s->commit, "README.md", WEB_SUMMARY_MAX_README_BYTES, &err) <
        0)
        return;
    if (card_parse(&card, text, len, &err) < 0 || card.data == NULL)
        goto out;
    tags = json_object_get(card.data, "tags");
    if (json_is_string(tags)) {
        json_array_append(s->tags, tags);
    } else if (json_is_array(tags)) {
        size_t i;
        json_t *tag;

        json_array_foreach(tags, i, tag)
        {
            if (json_is_string(tag))
                json_array_append(s->tags, tag);
        }
    }
    web_copy(s->pipeline_tag, sizeof(s->pipeline_tag), card_get_string(&card, "pipeline_tag"));
    web_copy(s->license, sizeof(s->license), card_get_string(&card, "license"));
    web_card_base_model(s->base_model, sizeof(s->base_model), card.data);
out:
    card_dispose(&card);
    free(text);
}

/* Reads base_model_name_or_path from adapter_config.json when the card named no base. */
static void web_summary_from_adapter_config(struct web_repo_summary *s, struct repo *r)
{
    struct hub_error err = HUB_ERROR_INIT;
    json_t *config = NULL;
    char *text = NULL;
    size_t len = 0;

    if (repo_file_read(&text, &len, r, s->commit, "adapter_config.json", 1u << 20, &err) < 0)
        return;
    config = json_loadb(text, len, 0, NULL);
    if (json_is_string(json_object_get(config, "base_model_name_or_path")))
        web_copy(s->base_model, sizeof(s->base_model),
                 json_string_value(json_object_get(config, "base_model_name_or_path")));
    json_decref(config);
    free(text);
}

static int web_summary_compute(struct web_repo_summary *s, struct repo *r, struct hub_error *err)
{
    struct repo_entry *entries = NULL;
    size_t count = 0;
    int rc;

    rc = repo_tree_list(&entries, &count, r, s->commit, "", true, err);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < count; i++) {
        if (entries[i].type != REPO_ENTRY_FILE)
            continue;
        s->size_bytes += entries[i].size;
        s->file_count++;
        if (strcmp(entries[i].path, "adapter_config.json") == 0)
            s->is_adapter = true;
    }
    repo_entries_free(entries, count);
    web_summary_from_card(s, r);
    if (s->is_adapter && s->base_model[0] == '\0')
        web_summary_from_adapter_config(s, r);
    return 0;
}

int web_summary_get(struct web_repo_summary *out, struct meta *db, const char *data_dir,
                    const struct meta_repo *repo, struct hub_error *err)
{
    struct hub_error git_err = HUB_ERROR_INIT;
    struct repo *r = NULL;
    char head[REPO_OID_HEX_BYTES + 1] = "";
    int rc;

    memset(out, 0, sizeof(*out));
    out->tags = json_array();
    if (out->tags == NULL)
        return hub_error_set(err, HUB_ENOMEM, "cannot allocate a tag list");
    web_copy(head, sizeof(head), repo->head_commit);
    if (head[0] != '\0') {
        rc = web_summary_load(out, db, repo->id, head, err);
        if (rc != 0)
            return rc < 0 ? rc : 0;
    }

    /* The head is unknown or moved: read git. */
    rc = repo_open(&r, data_dir, repo->type, repo->ns, repo->name, &git_err);
    if (rc == 0 && repo_revision_resolve(head, r, REPO_DEFAULT_BRANCH, &git_err) < 0)
        head[0] = '\0';
    if (rc < 0) {
        hub_log(HUB_LOG_WARN, "web", "cannot open repo %s/%s for its summary: %s", repo->ns,
                repo->name, git_err.msg);
        return 0;
    }
    if (head[0] != '\0') {
        rc = web_summary_load(out, db, repo->id, head, err);
        if (rc != 0) {
            repo_close(r);
            return rc < 0 ? rc : 0;
        }
        web_copy(out->commit, sizeof(out->commit), head);
        rc = web_summary_compute(out, r, &git_err);
        if (rc == HUB_ENOMEM) {
            repo_close(r);
            return hub_error_set(err, rc, "%s", git_err.msg);
        }
        if (rc < 0)
            hub_log(HUB_LOG_WARN, "web", "cannot list repo %s/%s for its summary: %s", repo->ns,
                    repo->name, git_err.msg);
    }
    repo_close(r);
    rc = web_summary_store(db, repo->id, out, &git_err);
    if (rc < 0)
        hub_log(HUB_LOG_WARN, "web", "cannot store the summary of repo %s/%s: %s", repo->ns,
                repo->name, git_err.msg);
    return 0;
}

bool web_summary_has_tag(const struct web_repo_summary *summary, const char *tag)
{
    size_t i;
    json_t *value;

    json_array_foreach(summary->tags, i, value)
    {
        if (strcmp(json_string_value(value), tag) == 0)
            return true;
    }
    return false;
}

void web_summary_dispose(struct web_repo_summary *summary)
{
    json_decref(summary->tags);
    memset(summary, 0, sizeof(*summary));
}
