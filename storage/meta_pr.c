/* meta_pr: queries on the pull_requests table. */
#include "meta_pr.h"

#include "meta_internal.h"

#include <string.h>

#define PR_COLUMNS                                                                                 \
    "repo_id, number, title, description, COALESCE(author_id, 0), author_name, status, "           \
    "target_branch, base_commit, merged_commit, created_at, updated_at, target_before_merge"

static const char *const status_names[] = {"open", "merged", "closed"};

const char *meta_pr_status_name(enum meta_pr_status status)
{
    if ((unsigned)status >= sizeof(status_names) / sizeof(status_names[0]))
        return "open";
    return status_names[status];
}

bool meta_pr_status_parse(enum meta_pr_status *out, const char *text)
{
    for (size_t i = 0; text != NULL && i < sizeof(status_names) / sizeof(status_names[0]); i++) {
        if (strcmp(text, status_names[i]) == 0) {
            *out = (enum meta_pr_status)i;
            return true;
        }
    }
    return false;
}

static void pr_from_row(void *item, sqlite3_stmt *stmt)
{
    struct meta_pr *pr = item;

    memset(pr, 0, sizeof(*pr));
    pr->repo_id = sqlite3_column_int64(stmt, 0);
    pr->number = sqlite3_column_int64(stmt, 1);
    meta_column_copy(pr->title, sizeof(pr->title), stmt, 2);
    meta_column_copy(pr->description, sizeof(pr->description), stmt, 3);
    pr->author_id = sqlite3_column_int64(stmt, 4);
    meta_column_copy(pr->author_name, sizeof(pr->author_name), stmt, 5);
    meta_pr_status_parse(&pr->status, (const char *)sqlite3_column_text(stmt, 6));
    meta_column_copy(pr->target_branch, sizeof(pr->target_branch), stmt, 7);
    meta_column_copy(pr->base_commit, sizeof(pr->base_commit), stmt, 8);
    meta_column_copy(pr->merged_commit, sizeof(pr->merged_commit), stmt, 9);
    pr->created_at = sqlite3_column_int64(stmt, 10);
    pr->updated_at = sqlite3_column_int64(stmt, 11);
    meta_column_copy(pr->target_before_merge, sizeof(pr->target_before_merge), stmt, 12);
}

int meta_pr_create(struct meta_pr *out, struct meta *db, int64_t repo_id, const char *title,
                   const char *description, int64_t author_id, const char *author_name,
                   const char *target_branch, const char *base_commit, struct hub_error *err)
{
    sqlite3_stmt *stmt = NULL;
    int64_t now = meta_now();
    int rc;

    if (title == NULL || title[0] == '\0')
        return hub_error_set(err, HUB_EINVAL, "missing pull request title");
    if (strlen(title) > META_PR_MAX_TITLE_BYTES)
        return hub_error_set(err, HUB_ETOOBIG, "pull request title is longer than %d bytes",
                             META_PR_MAX_TITLE_BYTES);
    if (description == NULL)
        description = "";
    if (strlen(description) > META_PR_MAX_DESCRIPTION_BYTES)
        return hub_error_set(err, HUB_ETOOBIG, "pull request description is longer than %d bytes",
                             META_PR_MAX_DESCRIPTION_BYTES);
    if (author_name == NULL || strlen(author_name) > HUB_MAX_AUTHOR_BYTES ||
        target_branch == NULL || strlen(target_branch) > HUB_MAX_REVISION_BYTES ||
        base_commit == NULL || strlen(base_commit) != 40)
        return hub_error_set(err, HUB_EINVAL, "invalid pull request author or target branch");
    /* One statement picks the number and inserts the row, and SQLite runs writes one at a
     * time, so two requests never get the same number. */
    rc = meta_stmt_prepare(&stmt, db,
                           "INSERT INTO pull_requests (repo_id, number, title, description, "
                           "author_id, author_name, status, target_branch, base_commit, "
                           "created_at, updated_at) SELECT r.id, COALESCE((SELECT MAX(number) "
                           "FROM pull_requests WHERE repo_id = r.id), 0) + 1, ?, ?, ?, ?, "
                           "'open', ?, ?, ?, ? FROM repos r WHERE r.id = ? RETURNING " PR_COLUMNS,
                           err);
    if (rc < 0)
        return rc;
    sqlite3_bind_text(stmt, 1, title, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, description, -1, SQLITE_STATIC);
    if (author_id > 0)
        sqlite3_bind_int64(stmt, 3, author_id);
    else
        sqlite3_bind_null(stmt, 3);
    sqlite3_bind_text(stmt, 4, author_name, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 5, target_branch, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 6, base_commit, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 7, now);
    sqlite3_bind_int64(stmt, 8, now);
    sqlite3_bind_int64(stmt, 9, repo_id);

    bool found = false;

    rc = meta_stmt_get_row(&found, out, stmt, pr_from_row, db, "create pull request", err);
    if (rc == 0 && !found)
        rc = hub_error_set(err, HUB_ENOTFOUND, "repo id %lld not found", (long long)repo_id);
    return rc;
}

int meta_pr_delete(struct meta *db, int64_t repo_id, int64_t number, struct hub_error *err)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    rc = meta_stmt_prepare(&stmt, db, "DELETE FROM pull_requests WHERE repo_id = ? AND number = ?",
                           err);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(stmt, 1, repo_id);
    sqlite3_bind_int64(stmt, 2, number);
    return meta_stmt_run(stmt, db, "delete pull request", err);
}

int meta_pr_get(struct meta_pr *out, struct meta *db, int64_t repo_id, int64_t number,
                struct hub_error *err)
{
    sqlite3_stmt *stmt = NULL;
    bool found = false;
    int rc;

    rc = meta_stmt_prepare(
        &stmt, db, "SELECT " PR_COLUMNS " FROM pull_requests WHERE repo_id = ? AND number = ?",
        err);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(stmt, 1, repo_id);
    sqlite3_bind_int64(stmt, 2, number);
    rc = meta_stmt_get_row(&found, out, stmt, pr_from_row, db, "read pull request", err);
    if (rc == 0 && !found)
        rc = hub_error_set(err, HUB_ENOTFOUND, "pull request #%lld not found", (long long)number);
    return rc;
}

int meta_pr_find_recent(struct meta_pr *out, bool *found, struct meta *db, int64_t repo_id,
                        int64_t author_id, const char *title, const char *description,
                        const char *target_branch, int64_t since, struct hub_error *err)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    *found = false;
    rc = meta_stmt_prepare(&stmt, db,
                           "SELECT " PR_COLUMNS " FROM pull_requests WHERE repo_id = ? AND "
                           "author_id = ? AND status = 'open' AND title = ? AND description = ? "
                           "AND target_branch = ? AND created_at >= ? ORDER BY number DESC "
                           "LIMIT 1",
                           err);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(stmt, 1, repo_id);
    sqlite3_bind_int64(stmt, 2, author_id);
    sqlite3_bind_text(stmt, 3, title, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 4, description != NULL ? description : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 5, target_branch, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 6, since);
    return meta_stmt_get_row(found, out, stmt, pr_from_row, db, "find pull request", err);
}

int meta_pr_list(struct meta_pr **out, size_t *count, struct meta *db, int64_t repo_id,
                 const enum meta_pr_status *status_filter, struct hub_error *err)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    *out = NULL;
    *count = 0;
    rc = meta_stmt_prepare(&stmt, db,
                           "SELECT " PR_COLUMNS " FROM pull_requests WHERE repo_id = ?1 AND "
                           "(?2 IS NULL OR status = ?2) ORDER BY number DESC",
                           err);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(stmt, 1, repo_id);
    if (status_filter != NULL)
        sqlite3_bind_text(stmt, 2, meta_pr_status_name(*status_filter), -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(stmt, 2);
    return meta_stmt_collect((void **)out, count, stmt, sizeof(**out), pr_from_row, db,
                             "list pull requests", err);
}

#define EVENT_COLUMNS                                                                              \
    "e.id, e.repo_id, e.number, e.status, COALESCE(e.actor_id, 0), e.actor_known, "                \
    "COALESCE(u.name, ''), e.created_at FROM pull_request_events e LEFT JOIN users u ON u.id = "   \
    "e.actor_id"

static void event_from_row(void *item, sqlite3_stmt *stmt)
{
    struct meta_pr_event *event = item;

    memset(event, 0, sizeof(*event));
    event->id = sqlite3_column_int64(stmt, 0);
    event->repo_id = sqlite3_column_int64(stmt, 1);
    event->number = sqlite3_column_int64(stmt, 2);
    meta_pr_status_parse(&event->status, (const char *)sqlite3_column_text(stmt, 3));
    event->actor_id = sqlite3_column_int64(stmt, 4);
    event->actor_known = sqlite3_column_int(stmt, 5) != 0;
    meta_column_copy(event->actor_name, sizeof(event->actor_name), stmt, 6);
    event->created_at = sqlite3_column_int64(stmt, 7);
}

/* Updates the row of a pull request whose status differs from status. Sets *changed to
 * whether it did. */
static int pr_status_update(bool *changed, struct meta *db, int64_t repo_id, int64_t number,
                            enum meta_pr_status status, const char *merged_commit,
                            const char *target_before_merge, int64_t now, struct hub_error *err)
{
    bool merged = status == META_PR_MERGED;
    sqlite3_stmt *stmt = NULL;
    int rc;

    rc = meta_stmt_prepare(&stmt, db,
                           "UPDATE pull_requests SET status = ?1, merged_commit = ?2, "
                           "updated_at = ?3, target_before_merge = ?4 WHERE repo_id = ?5 AND "
                           "number = ?6 AND status <> ?1",
                           err);
    if (rc < 0)
        return rc;
    sqlite3_bind_text(stmt, 1, meta_pr_status_name(status), -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, merged && merged_commit != NULL ? merged_commit : "", -1,
                      SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 3, now);
    sqlite3_bind_text(stmt, 4, merged && target_before_merge != NULL ? target_before_merge : "", -1,
                      SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 5, repo_id);
    sqlite3_bind_int64(stmt, 6, number);
    rc = meta_stmt_run(stmt, db, "update pull request", err);
    if (rc < 0)
        return rc;
    *changed = sqlite3_changes(meta_sqlite_get(db)) > 0;
    return 0;
}

/* Inserts the event of a status change and reads it back with the actor's name into event. */
static int pr_event_insert(struct meta_pr_event *event, struct meta *db, int64_t repo_id,
                           int64_t number, enum meta_pr_status status, int64_t actor_id,
                           int64_t now, struct hub_error *err)
{
    sqlite3_stmt *stmt = NULL;
    bool found = false;
    int64_t id;
    int rc;

    rc = meta_stmt_prepare(&stmt, db,
                           "INSERT INTO pull_request_events (repo_id, number, status, actor_id, "
                           "created_at) VALUES (?, ?, ?, ?, ?)",
                           err);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(stmt, 1, repo_id);
    sqlite3_bind_int64(stmt, 2, number);
    sqlite3_bind_text(stmt, 3, meta_pr_status_name(status), -1, SQLITE_STATIC);
    if (actor_id > 0)
        sqlite3_bind_int64(stmt, 4, actor_id);
    else
        sqlite3_bind_null(stmt, 4);
    sqlite3_bind_int64(stmt, 5, now);
    rc = meta_stmt_run(stmt, db, "record pull request status change", err);
    if (rc < 0)
        return rc;
    id = sqlite3_last_insert_rowid(meta_sqlite_get(db));
    rc = meta_stmt_prepare(&stmt, db, "SELECT " EVENT_COLUMNS " WHERE e.id = ?", err);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(stmt, 1, id);
    rc = meta_stmt_get_row(&found, event, stmt, event_from_row, db,
                           "read pull request status change", err);
    if (rc == 0 && !found)
        rc = hub_error_set(err, HUB_EIO, "status change %lld of pull request #%lld vanished",
                           (long long)id, (long long)number);
    return rc;
}

int meta_pr_set_status(struct meta_pr_event *event, struct meta *db, int64_t repo_id,
                       int64_t number, enum meta_pr_status status, int64_t actor_id,
                       const char *merged_commit, const char *target_before_merge,
                       struct hub_error *err)
{
    struct meta_pr_event recorded = {0};
    struct meta_pr current;
    int64_t now = meta_now();
    bool changed = false;
    int rc;

    /* The row and its event are written together, so no status change goes unrecorded. */
    rc = meta_tx_begin(db, err);
    if (rc < 0)
        return rc;
    rc = pr_status_update(&changed, db, repo_id, number, status, merged_commit, target_before_merge,
                          now, err);
    if (rc == 0 && !changed)
        rc = meta_pr_get(&current, db, repo_id, number, err);
    if (rc == 0 && changed)
        rc = pr_event_insert(&recorded, db, repo_id, number, status, actor_id, now, err);
    if (rc == 0)
        rc = meta_tx_commit(db, err);
    if (rc < 0) {
        meta_tx_rollback(db);
        return rc;
    }
    if (event != NULL)
        *event = recorded;
    return 0;
}

int meta_pr_events_list(struct meta_pr_event **out, size_t *count, struct meta *db, int64_t repo_id,
                        int64_t number, struct hub_error *err)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    *out = NULL;
    *count = 0;
    rc = meta_stmt_prepare(&stmt, db,
                           "SELECT " EVENT_COLUMNS " WHERE e.repo_id = ? AND e.number = ? "
                           "ORDER BY e.id",
                           err);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(stmt, 1, repo_id);
    sqlite3_bind_int64(stmt, 2, number);
    return meta_stmt_collect((void **)out, count, stmt, sizeof(**out), event_from_row, db,
                             "list pull request status changes", err);
}
