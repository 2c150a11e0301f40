/* Tests for meta_*: migrations, users, tokens, sessions, organisations, the access rules
 * (table-driven), the repo listing, LFS rows, git-lfs locks and the audit log, on a real
 * SQLite file in a temp data directory. */
#include "fixture.h"
#include "harness.h"

#include "meta.h"
#include "meta_audit.h"
#include "meta_jobs.h"
#include "meta_lfs.h"
#include "meta_lfs_lock.h"
#include "meta_org.h"
#include "meta_pr.h"
#include "meta_repo.h"
#include "meta_session.h"
#include "meta_token.h"
#include "meta_user.h"
#include "storage.h"

#include <pthread.h>
#include <sqlite3.h>

static void test_migrations(const char *data)
{
    struct hub_error err = HUB_ERROR_INIT;
    struct meta_migration_status *rows = NULL;
    const struct meta_migration *builtin;
    struct meta *db = NULL;
    size_t n = 0, n_builtin = 0;
    int applied = -1;

    builtin = meta_migrations_builtin(&n_builtin);
    CHECK(n_builtin >= 2);
    CHECK_EQ_INT(builtin[0].version, 1);
    for (size_t i = 1; i < n_builtin; i++)
        CHECK(builtin[i].version > builtin[i - 1].version);

    /* Without META_OPEN_MIGRATE a fresh database is reported as needing migrations. */
    CHECK_EQ_INT(meta_open(&db, data, 0, &err), HUB_ECONFLICT);
    CHECK(strstr(err.msg, "atelier admin") != NULL);
    CHECK_EQ_INT(meta_open(&db, data, META_OPEN_MIGRATE, &err), 0);
    CHECK_EQ_INT(meta_migrate(&applied, db, &err), 0);
    CHECK_EQ_INT(applied, 0);
    CHECK_EQ_INT(meta_migration_status_list(&rows, &n, db, &err), 0);
    CHECK_EQ_INT(n, n_builtin);
    for (size_t i = 0; i < n; i++) {
        CHECK(rows[i].applied);
        CHECK(rows[i].known);
        CHECK(rows[i].applied_at > 0);
    }
    CHECK(n > 0 && strcmp(rows[0].name, "0001_core") == 0);
    free(rows);

    /* Versions this binary does not know mean the database is newer: rejected, naming the
     * newest applied version, which tells the binary that wrote it. */
    CHECK_EQ_INT(sqlite3_exec(meta_sqlite_get(db),
                              "INSERT INTO schema_version VALUES (9998, '9998_future', 1);"
                              "INSERT INTO schema_version VALUES (9999, '9999_future', 1)",
                              NULL, NULL, NULL),
                 SQLITE_OK);
    meta_close(db);
    db = NULL;
    CHECK_EQ_INT(meta_open(&db, data, META_OPEN_MIGRATE, &err), HUB_ECONFLICT);
    CHECK(strstr(err.msg, "database schema has migration 9999,") != NULL);
    CHECK(strstr(err.msg, "9998") == NULL);
    CHECK(strstr(err.msg, "`atelier --version` shows migration 9999 or later") != NULL);
    CHECK_EQ_INT(meta_open_unchecked(&db, data, &err), 0);
    CHECK_EQ_INT(meta_migration_status_list(&rows, &n, db, &err), 0);
    CHECK_EQ_INT(n, n_builtin + 2);
    CHECK(n > 0 && rows[n - 1].version == 9999 && !rows[n - 1].known);
    free(rows);
    CHECK_EQ_INT(sqlite3_exec(meta_sqlite_get(db),
                              "DELETE FROM schema_version WHERE version >= 9998", NULL, NULL, NULL),
                 SQLITE_OK);
    meta_close(db);
    CHECK_EQ_INT(meta_open(&db, data, 0, &err), 0);
    meta_close(db);
    CHECK_EQ_INT(meta_open(&db, "/nonexistent/atelier", META_OPEN_NO_CREATE, &err), HUB_ENOTFOUND);
}

static void test_users(struct meta *db)
{
    struct hub_error err = HUB_ERROR_INIT;
    struct meta_user user, *users = NULL;
    char long_name[HUB_MAX_REPO_NAME_BYTES + 2];
    char password[HUB_MAX_PASSWORD_BYTES + 2];
    int64_t id = 0, admins = -1;
    size_t n = 0;

    CHECK_EQ_INT(meta_user_add(&id, db, "alice", "correct horse", true, &err), 0);
    CHECK(id > 0);
    CHECK_EQ_INT(meta_user_add(NULL, db, "Alice", "another one", false, &err), HUB_ECONFLICT);
    CHECK_EQ_INT(meta_user_add(NULL, db, "bob", "short", false, &err), HUB_EINVAL);
    CHECK_EQ_INT(meta_user_add(NULL, db, "-bob", "long enough", false, &err), HUB_EINVAL);
    CHECK_EQ_INT(meta_user_add(NULL, db, "bob", "long enough", false, &err), 0);
    CHECK_EQ_INT(meta_user_add(NULL, db, "carol", NULL, false, &err), 0);

    memset(long_name, 'n', HUB_MAX_REPO_NAME_BYTES);
    long_name[HUB_MAX_REPO_NAME_BYTES] = '\0';
    CHECK_EQ_INT(meta_user_add(NULL, db, long_name, NULL, false, &err), 0);
    long_name[HUB_MAX_REPO_NAME_BYTES] = 'n';
    long_name[HUB_MAX_REPO_NAME_BYTES + 1] = '\0';
    CHECK_EQ_INT(meta_user_add(NULL, db, long_name, NULL, false, &err), HUB_ETOOBIG);

    memset(password, 'p', HUB_MAX_PASSWORD_BYTES);
    password[HUB_MAX_PASSWORD_BYTES] = '\0';
    CHECK_EQ_INT(meta_user_add(NULL, db, "maxpass", password, false, &err), 0);
    CHECK_EQ_INT(meta_user_check_password(NULL, db, "maxpass", password, &err), 0);
    password[HUB_MAX_PASSWORD_BYTES] = 'p';
    password[HUB_MAX_PASSWORD_BYTES + 1] = '\0';
    CHECK_EQ_INT(meta_user_add(NULL, db, "overpass", password, false, &err), HUB_ETOOBIG);
    memset(password, 'p', HUB_MIN_PASSWORD_BYTES);
    password[HUB_MIN_PASSWORD_BYTES] = '\0';
    CHECK_EQ_INT(meta_user_add(NULL, db, "minpass", password, false, &err), 0);
    password[HUB_MIN_PASSWORD_BYTES - 1] = '\0';
    CHECK_EQ_INT(meta_user_add(NULL, db, "underpass", password, false, &err), HUB_EINVAL);

    CHECK_EQ_INT(meta_user_check_password(&user, db, "alice", "correct horse", &err), 0);
    CHECK_EQ_STR(user.name, "alice");
    CHECK(user.is_admin);
    CHECK_EQ_INT(meta_user_check_password(NULL, db, "alice", "wrong horse", &err), HUB_EAUTH);
    CHECK_EQ_INT(meta_user_check_password(NULL, db, "nobody", "correct horse", &err), HUB_EAUTH);
    CHECK_EQ_INT(meta_user_check_password(NULL, db, "carol", "anything at all", &err), HUB_EAUTH);
    CHECK_EQ_INT(meta_user_get_by_name(&user, db, "bob", &err), 0);
    CHECK(!user.is_admin);
    CHECK_EQ_INT(meta_user_set_password(NULL, db, user.id, "new password", &err), 0);
    CHECK_EQ_INT(meta_user_check_password(NULL, db, "bob", "new password", &err), 0);
    CHECK_EQ_INT(meta_user_check_password(NULL, db, "bob", "long enough", &err), HUB_EAUTH);
    CHECK_EQ_INT(meta_user_get_by_name(&user, db, "nobody", &err), HUB_ENOTFOUND);
    CHECK_EQ_INT(meta_user_get_by_id(&user, db, id, &err), 0);
    CHECK_EQ_STR(user.name, "alice");
    CHECK_EQ_INT(meta_user_count_admins(&admins, db, &err), 0);
    CHECK_EQ_INT(admins, 1);
    CHECK_EQ_INT(meta_user_list(&users, &n, db, &err), 0);
    CHECK_EQ_INT(n, 6);
    CHECK(n > 0 && strcmp(users[0].name, "alice") == 0);
    free(users);
}

static void test_tokens(struct meta *db)
{
    struct hub_error err = HUB_ERROR_INIT;
    char secret[META_TOKEN_SECRET_BYTES + 1], other[META_TOKEN_SECRET_BYTES + 1];
    char label[HUB_MAX_TOKEN_LABEL_BYTES + 2];
    struct meta_token tok, *list = NULL;
    struct meta_user bob;
    int64_t id = 0, id2 = 0;
    size_t n = 0;

    CHECK_EQ_INT(meta_user_get_by_name(&bob, db, "bob", &err), 0);
    CHECK_EQ_INT(meta_token_create(secret, &id, db, bob.id, "ci", META_SCOPE_READ, &err), 0);
    CHECK_EQ_INT(strlen(secret), META_TOKEN_SECRET_BYTES);
    CHECK(strncmp(secret, "hf_", 3) == 0);
    CHECK(strspn(secret + 3, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") ==
          34);
    CHECK_EQ_INT(meta_token_create(other, &id2, db, bob.id, NULL, META_SCOPE_WRITE, &err), 0);
    CHECK(strcmp(secret, other) != 0);

    CHECK_EQ_INT(meta_token_lookup(&tok, db, secret, &err), 0);
    CHECK_EQ_INT(tok.user_id, bob.id);
    CHECK_EQ_INT(tok.scope, META_SCOPE_READ);
    CHECK(tok.last_used_at > 0);
    CHECK_EQ_INT(meta_token_lookup(&tok, db, other, &err), 0);
    CHECK_EQ_INT(tok.scope, META_SCOPE_WRITE);

    /* One changed character, a wrong prefix or a wrong length: all HUB_EAUTH. */
    other[10] = other[10] == 'a' ? 'b' : 'a';
    CHECK_EQ_INT(meta_token_lookup(&tok, db, other, &err), HUB_EAUTH);
    CHECK_EQ_INT(meta_token_lookup(&tok, db, "hf_short", &err), HUB_EAUTH);
    CHECK_EQ_INT(meta_token_lookup(&tok, db, "", &err), HUB_EAUTH);
    CHECK_EQ_INT(meta_token_lookup(&tok, db, NULL, &err), HUB_EAUTH);

    memset(label, 'l', HUB_MAX_TOKEN_LABEL_BYTES);
    label[HUB_MAX_TOKEN_LABEL_BYTES] = '\0';
    CHECK_EQ_INT(meta_token_create(other, NULL, db, bob.id, label, META_SCOPE_READ, &err), 0);
    label[HUB_MAX_TOKEN_LABEL_BYTES] = 'l';
    label[HUB_MAX_TOKEN_LABEL_BYTES + 1] = '\0';
    CHECK_EQ_INT(meta_token_create(other, NULL, db, bob.id, label, META_SCOPE_READ, &err),
                 HUB_ETOOBIG);
    CHECK_EQ_INT(meta_token_create(other, NULL, db, 999999, "x", META_SCOPE_READ, &err),
                 HUB_ENOTFOUND);
    CHECK_EQ_INT(meta_token_create(other, NULL, db, bob.id, "two\nlines", META_SCOPE_READ, &err),
                 HUB_EINVAL);
    CHECK(strstr(err.msg, "0x0a") != NULL);
    CHECK_EQ_INT(meta_token_create(other, NULL, db, bob.id, "tab\there", META_SCOPE_READ, &err),
                 HUB_EINVAL);
    CHECK_EQ_INT(meta_token_create(other, NULL, db, bob.id, "del\x7f", META_SCOPE_READ, &err),
                 HUB_EINVAL);

    CHECK_EQ_INT(meta_token_list(&list, &n, db, bob.id, &err), 0);
    CHECK_EQ_INT(n, 3);
    CHECK(n == 3 && strlen(list[0].hint) == 4);
    free(list);

    CHECK_EQ_INT(meta_token_revoke(db, id, &err), 0);
    CHECK_EQ_INT(meta_token_revoke(db, id, &err), 0);
    CHECK_EQ_INT(meta_token_lookup(&tok, db, secret, &err), HUB_EAUTH);
    CHECK_EQ_INT(meta_token_get(&tok, db, id, &err), 0);
    CHECK(tok.revoked_at > 0);
    CHECK_EQ_INT(meta_token_revoke(db, 999999, &err), HUB_ENOTFOUND);
}

static void test_sessions(struct meta *db)
{
    struct hub_error err = HUB_ERROR_INIT;
    char id[META_SESSION_ID_BYTES + 1], csrf[META_SESSION_CSRF_BYTES + 1];
    struct meta_session s;
    struct meta_user alice;
    int64_t purged = -1;

    CHECK_EQ_INT(meta_user_get_by_name(&alice, db, "alice", &err), 0);
    CHECK_EQ_INT(meta_session_create(id, csrf, db, alice.id, 3600, &err), 0);
    CHECK_EQ_INT(strlen(id), META_SESSION_ID_BYTES);
    CHECK_EQ_INT(meta_session_lookup(&s, db, id, &err), 0);
    CHECK_EQ_INT(s.user_id, alice.id);
    CHECK_EQ_STR(s.csrf, csrf);
    CHECK(s.expires_at > s.created_at);
    CHECK_EQ_INT(meta_session_lookup(&s, db, "not-a-session", &err), HUB_EAUTH);
    CHECK_EQ_INT(meta_session_create(id, NULL, db, alice.id, 0, &err), HUB_EINVAL);
    CHECK_EQ_INT(meta_session_create(id, NULL, db, 999999, 60, &err), HUB_ENOTFOUND);

    /* An expired session is rejected and purged. */
    CHECK_EQ_INT(
        sqlite3_exec(meta_sqlite_get(db), "UPDATE sessions SET expires_at = 1", NULL, NULL, NULL),
        SQLITE_OK);
    CHECK_EQ_INT(meta_session_lookup(&s, db, id, &err), HUB_EAUTH);
    CHECK_EQ_INT(meta_session_purge_expired(&purged, db, &err), 0);
    CHECK_EQ_INT(purged, 1);
    CHECK_EQ_INT(meta_session_create(id, csrf, db, alice.id, 60, &err), 0);
    CHECK_EQ_INT(meta_session_delete(db, id, &err), 0);
    CHECK_EQ_INT(meta_session_lookup(&s, db, id, &err), HUB_EAUTH);
}

/* A disabled user can neither log in nor use a token or a session. Enabling the user brings
 * the tokens back but not the deleted sessions. A password change logs every browser out. */
static void test_disabled_users(struct meta *db)
{
    struct hub_error err = HUB_ERROR_INIT;
    char id[META_SESSION_ID_BYTES + 1], id2[META_SESSION_ID_BYTES + 1];
    char secret[META_TOKEN_SECRET_BYTES + 1];
    struct meta_session s;
    struct meta_token tok;
    struct meta_user dora;
    int64_t dora_id = 0, admins = 0, deleted = -1;

    CHECK_EQ_INT(meta_user_add(&dora_id, db, "dora", "dora password", true, &err), 0);
    CHECK_EQ_INT(meta_user_count_admins(&admins, db, &err), 0);
    CHECK_EQ_INT(admins, 2);
    CHECK_EQ_INT(meta_token_create(secret, NULL, db, dora_id, "laptop", META_SCOPE_WRITE, &err), 0);
    CHECK_EQ_INT(meta_session_create(id, NULL, db, dora_id, 3600, &err), 0);
    CHECK_EQ_INT(meta_session_create(id2, NULL, db, dora_id, 3600, &err), 0);

    CHECK_EQ_INT(meta_user_set_disabled(&deleted, NULL, db, dora_id, true, &err), 0);
    CHECK_EQ_INT(deleted, 2);
    CHECK_EQ_INT(meta_user_get_by_id(&dora, db, dora_id, &err), 0);
    CHECK(dora.disabled_at > 0);
    CHECK_EQ_INT(meta_user_check_password(NULL, db, "dora", "dora password", &err), HUB_EAUTH);
    CHECK_EQ_INT(meta_token_lookup(&tok, db, secret, &err), HUB_EAUTH);
    CHECK_EQ_INT(meta_session_lookup(&s, db, id, &err), HUB_EAUTH);
    CHECK_EQ_INT(meta_user_count_admins(&admins, db, &err), 0);
    CHECK_EQ_INT(admins, 1);
    CHECK_EQ_INT(meta_user_set_disabled(NULL, NULL, db, 999999, true, &err), HUB_ENOTFOUND);

    /* A session created while disabled (by a caller that skipped the checks) still fails. */
    CHECK_EQ_INT(meta_session_create(id, NULL, db, dora_id, 3600, &err), 0);
    CHECK_EQ_INT(meta_session_lookup(&s, db, id, &err), HUB_EAUTH);

    CHECK_EQ_INT(meta_user_set_disabled(&deleted, NULL, db, dora_id, false, &err), 0);
    CHECK_EQ_INT(meta_user_get_by_id(&dora, db, dora_id, &err), 0);
    CHECK_EQ_INT(dora.disabled_at, 0);
    CHECK_EQ_INT(meta_user_check_password(NULL, db, "dora", "dora password", &err), 0);
    CHECK_EQ_INT(meta_token_lookup(&tok, db, secret, &err), 0);
    CHECK_EQ_INT(meta_session_lookup(&s, db, id2, &err), HUB_EAUTH);

    CHECK_EQ_INT(meta_session_create(id2, NULL, db, dora_id, 3600, &err), 0);
    CHECK_EQ_INT(meta_user_set_password(&deleted, db, dora_id, "short", &err), HUB_EINVAL);
    CHECK_EQ_INT(meta_session_lookup(&s, db, id2, &err), 0);
    CHECK_EQ_INT(meta_user_set_password(&deleted, db, dora_id, "another password", &err), 0);
    CHECK_EQ_INT(deleted, 2);
    CHECK_EQ_INT(meta_session_lookup(&s, db, id2, &err), HUB_EAUTH);
    CHECK_EQ_INT(meta_user_set_admin(db, dora_id, false, &err), 0);
}

/* Inserts a training job of owner and returns its id, or 0 after a failed check. */
static int64_t job_insert(struct meta *db, int64_t owner_id, const char *owner)
{
    struct hub_error err = HUB_ERROR_INIT;
    int64_t id = 0;

    CHECK_EQ_INT(meta_job_insert(&id, db, META_JOB_TRAIN, owner_id, owner, "ed/out", "ed/base",
                                 "ed/data", NULL, "{\"type\":\"train\"}", 2, 0, &err),
                 0);
    return id;
}

/* Claims the next queued job and checks that its id is want. */
static void job_claim_check(struct meta *db, int64_t want)
{
    struct hub_error err = HUB_ERROR_INIT;
    int64_t got = 0;
    int attempt = 0;

    CHECK_EQ_INT(meta_job_claim_next(&got, &attempt, db, 0, &err), 0);
    CHECK_EQ_INT(got, want);
}

/* Disabling a user requests the cancel of their running jobs in the same transaction, and
 * leaves their queued jobs and the jobs of other users alone. */
static void test_disable_cancels_running_jobs(struct meta *db)
{
    struct hub_error err = HUB_ERROR_INIT;
    char reason[META_JOB_CANCELED_BY_BYTES];
    struct meta_job *job = NULL;
    int64_t ed_id = 0, running, other, queued, canceled = -1;

    CHECK_EQ_INT(meta_user_add(&ed_id, db, "ed", "ed password", false, &err), 0);
    running = job_insert(db, ed_id, "ed");
    job_claim_check(db, running);
    other = job_insert(db, ed_id + 1000, "fay");
    job_claim_check(db, other);
    queued = job_insert(db, ed_id, "ed");

    CHECK_EQ_INT(meta_user_set_disabled(NULL, &canceled, db, ed_id, true, &err), 0);
    CHECK_EQ_INT(canceled, 1);
    CHECK_EQ_INT(meta_job_get(&job, db, running, &err), 0);
    CHECK_EQ_INT(job->state, META_JOB_RUNNING);
    CHECK(job->cancel_requested);
    CHECK_EQ_STR(job->error, "canceled because an admin disabled owner ed");
    meta_job_free(job);
    /* The scheduler starts the final error of the canceled job with this reason. */
    meta_job_cancel_reason(reason, sizeof(reason), db, running);
    CHECK_EQ_STR(reason, "canceled because an admin disabled owner ed");

    CHECK_EQ_INT(meta_job_get(&job, db, other, &err), 0);
    CHECK(!job->cancel_requested);
    meta_job_free(job);
    CHECK_EQ_INT(meta_job_get(&job, db, queued, &err), 0);
    CHECK_EQ_INT(job->state, META_JOB_QUEUED);
    CHECK(!job->cancel_requested);
    meta_job_free(job);

    /* Enabling cancels nothing, and a job already marked is not counted again. */
    CHECK_EQ_INT(meta_user_set_disabled(NULL, &canceled, db, ed_id, false, &err), 0);
    CHECK_EQ_INT(canceled, 0);
    CHECK_EQ_INT(meta_user_set_disabled(NULL, &canceled, db, ed_id, true, &err), 0);
    CHECK_EQ_INT(canceled, 0);
}

struct access_case {
    const char *user; /* NULL for anonymous */
    const char *repo; /* "ns/name" */
    bool can_read;
    bool can_write;
};

static int64_t user_id_of(struct meta *db, const char *name)
{
    struct meta_user u;

    if (name == NULL || meta_user_get_by_name(&u, db, name, NULL) < 0)
        return 0;
    return u.id;
}

static void test_orgs_and_access(struct meta *db)
{
    struct hub_error err = HUB_ERROR_INIT;
    struct meta_repo repo;
    struct meta_member *members = NULL;
    struct meta_namespace nsp;
    struct meta_org org;
    enum meta_role role;
    int64_t org_id = 0;
    size_t n = 0;
    bool ok = false;
    static const struct access_case cases[] = {
        /* public repos: anyone reads, only owners, writers and admins write */
        {NULL, "bob/public", true, false},
        {"carol", "bob/public", true, false},
        {"bob", "bob/public", true, true},
        {"alice", "bob/public", true, true},
        /* private user repo: owner and admins */
        {NULL, "bob/secret", false, false},
        {"carol", "bob/secret", false, false},
        {"bob", "bob/secret", true, true},
        {"alice", "bob/secret", true, true},
        /* private org repo: readers read, writers write, outsiders see nothing */
        {NULL, "class/private", false, false},
        {"carol", "class/private", true, false},
        {"dave", "class/private", true, true},
        {"bob", "class/private", false, false},
        {"alice", "class/private", true, true},
    };

    CHECK_EQ_INT(meta_user_add(NULL, db, "dave", NULL, false, &err), 0);
    CHECK_EQ_INT(meta_org_add(&org_id, db, "class", &err), 0);
    CHECK_EQ_INT(meta_org_add(NULL, db, "class", &err), HUB_ECONFLICT);
    CHECK_EQ_INT(meta_org_add(NULL, db, "bob", &err), HUB_ECONFLICT);
    CHECK_EQ_INT(meta_user_add(NULL, db, "CLASS", NULL, false, &err), HUB_ECONFLICT);
    CHECK_EQ_INT(meta_org_get(&org, db, "class", &err), 0);
    CHECK_EQ_INT(meta_org_member_set(db, org.id, user_id_of(db, "carol"), META_ROLE_READ, &err), 0);
    CHECK_EQ_INT(meta_org_member_set(db, org.id, user_id_of(db, "dave"), META_ROLE_READ, &err), 0);
    CHECK_EQ_INT(meta_org_member_set(db, org.id, user_id_of(db, "dave"), META_ROLE_WRITE, &err), 0);
    CHECK_EQ_INT(meta_org_member_set(db, org.id, 999999, META_ROLE_READ, &err), HUB_ENOTFOUND);
    CHECK_EQ_INT(meta_org_member_role(&role, db, org.id, user_id_of(db, "dave"), &err), 0);
    CHECK_EQ_INT(role, META_ROLE_WRITE);
    CHECK_EQ_INT(meta_org_member_role(&role, db, org.id, user_id_of(db, "bob"), &err),
                 HUB_ENOTFOUND);
    CHECK_EQ_INT(meta_org_member_list(&members, &n, db, org.id, 0, &err), 0);
    CHECK_EQ_INT(n, 2);
    free(members);
    CHECK_EQ_INT(meta_namespace_resolve(&nsp, db, "class", &err), 0);
    CHECK_EQ_INT(nsp.kind, META_NAMESPACE_ORG);
    CHECK_EQ_INT(meta_namespace_resolve(&nsp, db, "bob", &err), 0);
    CHECK_EQ_INT(nsp.kind, META_NAMESPACE_USER);
    CHECK_EQ_INT(meta_namespace_resolve(&nsp, db, "ghost", &err), HUB_ENOTFOUND);

    CHECK_EQ_INT(meta_repo_insert(&repo, db, HUB_REPO_MODEL, "bob", "public", false, &err), 0);
    CHECK_EQ_INT(meta_repo_insert(&repo, db, HUB_REPO_MODEL, "bob", "secret", true, &err), 0);
    CHECK_EQ_INT(meta_repo_insert(&repo, db, HUB_REPO_MODEL, "class", "private", true, &err), 0);
    CHECK_EQ_INT(repo.owner_org_id, org.id);
    CHECK_EQ_INT(meta_repo_insert(&repo, db, HUB_REPO_MODEL, "bob", "public", false, &err),
                 HUB_ECONFLICT);
    CHECK_EQ_INT(meta_repo_insert(&repo, db, HUB_REPO_MODEL, "ghost", "x", false, &err),
                 HUB_ENOTFOUND);
    CHECK_EQ_INT(meta_repo_insert(&repo, db, HUB_REPO_DATASET, "bob", "public", false, &err), 0);

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct access_case *c = &cases[i];
        char ns[64], name[64];
        int64_t uid = user_id_of(db, c->user);
        bool can_read = !c->can_read, can_write = !c->can_write;

        sscanf(c->repo, "%63[^/]/%63s", ns, name);
        CHECK_EQ_INT(meta_repo_get(&repo, db, HUB_REPO_MODEL, ns, name, &err), 0);
        CHECK_EQ_INT(meta_repo_can_read(&can_read, db, &repo, uid, &err), 0);
        CHECK_EQ_INT(meta_repo_can_write(&can_write, db, &repo, uid, &err), 0);
        if (can_read != c->can_read || can_write != c->can_write)
            printf("# case %zu: user %s repo %s read %d write %d\n", i,
                   c->user ? c->user : "(anonymous)", c->repo, can_read, can_write);
        CHECK(can_read == c->can_read);
        CHECK(can_write == c->can_write);
    }

    CHECK_EQ_INT(meta_namespace_can_write(&ok, db, "class", user_id_of(db, "dave"), &err), 0);
    CHECK(ok);
    CHECK_EQ_INT(meta_namespace_can_write(&ok, db, "class", user_id_of(db, "carol"), &err), 0);
    CHECK(!ok);
    CHECK_EQ_INT(meta_namespace_can_write(&ok, db, "bob", user_id_of(db, "bob"), &err), 0);
    CHECK(ok);
    CHECK_EQ_INT(meta_namespace_can_write(&ok, db, "bob", user_id_of(db, "carol"), &err), 0);
    CHECK(!ok);
    CHECK_EQ_INT(meta_namespace_can_write(&ok, db, "bob", user_id_of(db, "alice"), &err), 0);
    CHECK(ok);
    CHECK_EQ_INT(meta_namespace_can_write(&ok, db, "bob", 0, &err), 0);
    CHECK(!ok);
}

static void test_repo_list(struct meta *db)
{
    struct hub_error err = HUB_ERROR_INIT;
    struct meta_repo_query q = {0};
    struct meta_repo *list = NULL, repo;
    size_t n = 0, total = 0;
    char search[HUB_MAX_SEARCH_BYTES + 2];

    q.type = HUB_REPO_MODEL;
    CHECK_EQ_INT(meta_repo_list(&list, &n, &total, db, &q, &err), 0);
    CHECK_EQ_INT(n, 1); /* anonymous: only bob/public */
    CHECK_EQ_INT(total, 1);
    free(list);
    q.viewer_user_id = user_id_of(db, "carol");
    CHECK_EQ_INT(meta_repo_list(&list, &n, &total, db, &q, &err), 0);
    CHECK_EQ_INT(n, 2); /* plus class/private */
    free(list);
    q.viewer_user_id = user_id_of(db, "alice");
    CHECK_EQ_INT(meta_repo_list(&list, &n, &total, db, &q, &err), 0);
    CHECK_EQ_INT(n, 3);
    free(list);

    q.sort = META_REPO_SORT_NAME;
    q.limit = 1;
    q.offset = 1;
    CHECK_EQ_INT(meta_repo_list(&list, &n, &total, db, &q, &err), 0);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_INT(total, 3);
    CHECK(n == 1 && strcmp(list[0].name, "secret") == 0);
    free(list);
    q.limit = 0;
    q.offset = 0;

    q.search = "SECR";
    CHECK_EQ_INT(meta_repo_list(&list, &n, &total, db, &q, &err), 0);
    CHECK_EQ_INT(n, 1);
    free(list);
    q.search = "%";
    CHECK_EQ_INT(meta_repo_list(&list, &n, &total, db, &q, &err), 0);
    CHECK_EQ_INT(n, 0); /* no LIKE wildcard */
    free(list);
    q.search = NULL;
    q.author = "class";
    CHECK_EQ_INT(meta_repo_list(&list, &n, &total, db, &q, &err), 0);
    CHECK_EQ_INT(n, 1);
    free(list);
    q.author = NULL;

    /* limits: the max is accepted, one past is rejected */
    q.limit = HUB_MAX_LIST_LIMIT;
    CHECK_EQ_INT(meta_repo_list(&list, &n, &total, db, &q, &err), 0);
    free(list);
    q.limit = HUB_MAX_LIST_LIMIT + 1;
    CHECK_EQ_INT(meta_repo_list(&list, &n, &total, db, &q, &err), HUB_ETOOBIG);
    q.limit = 0;
    memset(search, 's', HUB_MAX_SEARCH_BYTES);
    search[HUB_MAX_SEARCH_BYTES] = '\0';
    q.search = search;
    CHECK_EQ_INT(meta_repo_list(&list, &n, &total, db, &q, &err), 0);
    free(list);
    search[HUB_MAX_SEARCH_BYTES] = 's';
    search[HUB_MAX_SEARCH_BYTES + 1] = '\0';
    CHECK_EQ_INT(meta_repo_list(&list, &n, &total, db, &q, &err), HUB_ETOOBIG);
    q.search = NULL;

    /* downloads, touch, base model, visibility */
    CHECK_EQ_INT(meta_repo_get(&repo, db, HUB_REPO_MODEL, "bob", "public", &err), 0);
    CHECK_EQ_INT(meta_repo_downloads_bump(db, repo.id, &err), 0);
    CHECK_EQ_INT(meta_repo_downloads_bump(db, repo.id, &err), 0);
    CHECK_EQ_INT(meta_repo_touch(db, repo.id, "0123456789abcdef0123456789abcdef01234567", &err), 0);
    CHECK_EQ_INT(meta_repo_touch(db, repo.id, "not-a-commit", &err), HUB_EINVAL);
    CHECK_EQ_INT(meta_repo_set_base_model(db, repo.id, "class/private", &err), 0);
    CHECK_EQ_INT(meta_repo_set_base_model(db, repo.id, "no-slash", &err), HUB_EINVAL);
    CHECK_EQ_INT(meta_repo_get_by_id(&repo, db, repo.id, &err), 0);
    CHECK_EQ_INT(repo.downloads, 2);
    CHECK_EQ_STR(repo.head_commit, "0123456789abcdef0123456789abcdef01234567");
    CHECK_EQ_STR(repo.base_model, "class/private");
    q.base_model = "class/private";
    q.viewer_user_id = 0;
    CHECK_EQ_INT(meta_repo_list(&list, &n, &total, db, &q, &err), 0);
    CHECK_EQ_INT(n, 1);
    free(list);
    q.base_model = NULL;
    CHECK_EQ_INT(meta_repo_set_private(db, repo.id, true, &err), 0);
    CHECK_EQ_INT(meta_repo_list(&list, &n, &total, db, &q, &err), 0);
    CHECK_EQ_INT(n, 0);
    free(list);
    CHECK_EQ_INT(meta_repo_set_private(db, 999999, true, &err), HUB_ENOTFOUND);
}

static void test_lfs_and_audit(struct meta *db)
{
    struct hub_error err = HUB_ERROR_INIT;
    static const char oid[] = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03";
    struct meta_lfs_oid *oids = NULL;
    struct meta_audit_entry *entries = NULL;
    struct meta_audit_query aq = {0};
    char detail[HUB_MAX_AUDIT_DETAIL_BYTES + 100];
    struct meta_repo repo;
    uint64_t size = 0, total = 0;
    bool linked = true;
    size_t n = 0;

    CHECK_EQ_INT(meta_repo_get(&repo, db, HUB_REPO_MODEL, "class", "private", &err), 0);
    CHECK_EQ_INT(meta_lfs_link(db, repo.id, oid, &err), HUB_ENOTFOUND);
    CHECK_EQ_INT(meta_lfs_object_add(db, oid, 6, &err), 0);
    CHECK_EQ_INT(meta_lfs_object_add(db, oid, 6, &err), 0);
    CHECK_EQ_INT(meta_lfs_object_add(db, oid, 7, &err), HUB_ECONFLICT);
    CHECK_EQ_INT(meta_lfs_object_add(db, "ABC", 7, &err), HUB_EINVAL);
    CHECK_EQ_INT(meta_lfs_object_get(&size, db, oid, &err), 0);
    CHECK_EQ_INT(size, 6);
    CHECK_EQ_INT(meta_lfs_is_linked(&linked, db, repo.id, oid, &err), 0);
    CHECK(!linked);
    CHECK_EQ_INT(meta_lfs_unlinked_list(&oids, &n, db, meta_now() + 10, &err), 0);
    CHECK_EQ_INT(n, 1);
    free(oids);
    CHECK_EQ_INT(meta_lfs_link(db, repo.id, oid, &err), 0);
    CHECK_EQ_INT(meta_lfs_link(db, repo.id, oid, &err), 0);
    CHECK_EQ_INT(meta_lfs_is_linked(&linked, db, repo.id, oid, &err), 0);
    CHECK(linked);
    CHECK_EQ_INT(meta_lfs_unlinked_list(&oids, &n, db, meta_now() + 10, &err), 0);
    CHECK_EQ_INT(n, 0);
    free(oids);
    CHECK_EQ_INT(meta_lfs_total_bytes(&total, db, &err), 0);
    CHECK_EQ_INT(total, 6);

    /* Deleting the repo drops its links but keeps the blob row for gc. */
    CHECK_EQ_INT(meta_repo_delete(db, repo.id, &err), 0);
    CHECK_EQ_INT(meta_repo_delete(db, repo.id, &err), HUB_ENOTFOUND);
    CHECK_EQ_INT(meta_lfs_object_list(&oids, &n, db, &err), 0);
    CHECK_EQ_INT(n, 1);
    free(oids);
    CHECK_EQ_INT(meta_lfs_unlinked_list(&oids, &n, db, meta_now() + 10, &err), 0);
    CHECK_EQ_INT(n, 1);
    free(oids);
    CHECK_EQ_INT(meta_lfs_object_delete(db, oid, &err), 0);
    CHECK_EQ_INT(meta_lfs_object_get(&size, db, oid, &err), HUB_ENOTFOUND);

    memset(detail, 'd', sizeof(detail) - 1);
    detail[sizeof(detail) - 1] = '\0';
    CHECK_EQ_INT(meta_audit_add(db, "alice", "repo.create", "model:bob/public", "private=0", &err),
                 0);
    CHECK_EQ_INT(meta_audit_add(db, NULL, "gc", NULL, detail, &err), 0);
    CHECK_EQ_INT(meta_audit_add(db, "alice", "", NULL, NULL, &err), HUB_EINVAL);
    CHECK_EQ_INT(meta_audit_list(&entries, &n, db, &aq, &err), 0);
    CHECK_EQ_INT(n, 2);
    CHECK(n == 2 && strcmp(entries[0].action, "gc") == 0);
    CHECK(n == 2 && strlen(entries[0].detail) == HUB_MAX_AUDIT_DETAIL_BYTES);
    free(entries);
    aq.user = "alice";
    CHECK_EQ_INT(meta_audit_list(&entries, &n, db, &aq, &err), 0);
    CHECK_EQ_INT(n, 1);
    CHECK(n == 1 && strcmp(entries[0].repo, "model:bob/public") == 0);
    free(entries);
}

#define BUMP_THREADS     4
#define BUMPS_PER_THREAD 50

struct bumper {
    const char *data;
    int64_t repo_id;
    int failures;
};

/* Opens its own connection, as every HTTP thread does, and counts downloads. */
static void *bumper_run(void *arg)
{
    struct bumper *b = arg;
    struct hub_error err = HUB_ERROR_INIT;
    struct meta *db = NULL;

    if (meta_open(&db, b->data, META_OPEN_MIGRATE, &err) < 0) {
        b->failures = BUMPS_PER_THREAD;
        return NULL;
    }
    for (int i = 0; i < BUMPS_PER_THREAD; i++) {
        if (meta_repo_downloads_bump(db, b->repo_id, &err) < 0)
            b->failures++;
    }
    meta_close(db);
    return NULL;
}

/* Pull request rows: numbers per repo, the list filter, status changes and input checks. */
static void test_pull_requests(struct meta *db)
{
    static const char base[] = "0123456789012345678901234567890123456789";
    static const char before[] = "abcdefabcdefabcdefabcdefabcdefabcdefabcd";
    struct hub_error err = HUB_ERROR_INIT;
    struct meta_repo pub, secret;
    struct meta_user bob;
    struct meta_pr pr, *prs = NULL;
    enum meta_pr_status filter = META_PR_MERGED, parsed;
    char long_title[META_PR_MAX_TITLE_BYTES + 2];
    size_t n = 0;

    CHECK_EQ_INT(meta_repo_get(&pub, db, HUB_REPO_MODEL, "bob", "public", &err), 0);
    CHECK_EQ_INT(meta_repo_get(&secret, db, HUB_REPO_MODEL, "bob", "secret", &err), 0);
    CHECK_EQ_INT(meta_user_get_by_name(&bob, db, "bob", &err), 0);

    CHECK_EQ_INT(meta_pr_create(&pr, db, pub.id, "First", "", bob.id, "bob", "main", base, &err),
                 0);
    CHECK_EQ_INT(pr.number, 1);
    CHECK_EQ_INT(pr.status, META_PR_OPEN);
    CHECK_EQ_STR(pr.base_commit, base);
    CHECK_EQ_INT(pr.author_id, bob.id);
    CHECK_EQ_INT(meta_pr_create(&pr, db, pub.id, "Second", "Why", bob.id, "bob", "dev", base, &err),
                 0);
    CHECK_EQ_INT(pr.number, 2);
    /* Each repo counts from 1. */
    CHECK_EQ_INT(meta_pr_create(&pr, db, secret.id, "Other", "", bob.id, "bob", "main", base, &err),
                 0);
    CHECK_EQ_INT(pr.number, 1);

    CHECK_EQ_INT(meta_pr_get(&pr, db, pub.id, 2, &err), 0);
    CHECK_EQ_STR(pr.title, "Second");
    CHECK_EQ_STR(pr.description, "Why");
    CHECK_EQ_STR(pr.target_branch, "dev");
    CHECK_EQ_INT(meta_pr_get(&pr, db, pub.id, 3, &err), HUB_ENOTFOUND);

    /* Only a merge stores the head of the target branch before it. */
    CHECK_EQ_STR(pr.target_before_merge, "");
    CHECK_EQ_INT(
        meta_pr_set_status(NULL, db, pub.id, 2, META_PR_CLOSED, bob.id, base, before, &err), 0);
    CHECK_EQ_INT(meta_pr_get(&pr, db, pub.id, 2, &err), 0);
    CHECK_EQ_STR(pr.target_before_merge, "");
    CHECK_EQ_INT(
        meta_pr_set_status(NULL, db, pub.id, 1, META_PR_MERGED, bob.id, base, before, &err), 0);
    CHECK_EQ_INT(meta_pr_get(&pr, db, pub.id, 1, &err), 0);
    CHECK_EQ_INT(pr.status, META_PR_MERGED);
    CHECK_EQ_STR(pr.merged_commit, base);
    CHECK_EQ_STR(pr.target_before_merge, before);
    CHECK_EQ_INT(meta_pr_set_status(NULL, db, pub.id, 9, META_PR_CLOSED, bob.id, NULL, NULL, &err),
                 HUB_ENOTFOUND);

    CHECK_EQ_INT(meta_pr_list(&prs, &n, db, pub.id, NULL, &err), 0);
    CHECK_EQ_INT(n, 2);
    if (n == 2) {
        CHECK_EQ_INT(prs[0].number, 2);
        CHECK_EQ_INT(prs[1].number, 1);
    }
    free(prs);
    CHECK_EQ_INT(meta_pr_list(&prs, &n, db, pub.id, &filter, &err), 0);
    CHECK_EQ_INT(n, 1);
    if (n == 1)
        CHECK_EQ_INT(prs[0].number, 1);
    free(prs);

    CHECK_EQ_INT(meta_pr_delete(db, pub.id, 2, &err), 0);
    CHECK_EQ_INT(meta_pr_get(&pr, db, pub.id, 2, &err), HUB_ENOTFOUND);

    CHECK_EQ_INT(meta_pr_create(&pr, db, pub.id, "", "", bob.id, "bob", "main", base, &err),
                 HUB_EINVAL);
    memset(long_title, 'x', sizeof(long_title) - 1);
    long_title[sizeof(long_title) - 1] = '\0';
    CHECK_EQ_INT(meta_pr_create(&pr, db, pub.id, long_title, "", bob.id, "bob", "main", base, &err),
                 HUB_ETOOBIG);
    CHECK_EQ_INT(meta_pr_create(&pr, db, pub.id, "t", "", bob.id, "bob", "main", "short", &err),
                 HUB_EINVAL);
    CHECK_EQ_INT(meta_pr_create(&pr, db, 999999, "t", "", bob.id, "bob", "main", base, &err),
                 HUB_ENOTFOUND);

    CHECK(meta_pr_status_parse(&parsed, "closed"));
    CHECK_EQ_INT(parsed, META_PR_CLOSED);
    CHECK(!meta_pr_status_parse(&parsed, "draft"));
    CHECK_EQ_STR(meta_pr_status_name(META_PR_MERGED), "merged");
}

/* Counts the rows of pull_request_events, whatever pull request they belong to. */
static int64_t pr_event_rows(struct meta *db)
{
    sqlite3_stmt *stmt = NULL;
    int64_t rows = -1;

    if (sqlite3_prepare_v2(meta_sqlite_get(db), "SELECT count(*) FROM pull_request_events", -1,
                           &stmt, NULL) == SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW)
        rows = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    return rows;
}

/* Each status change is stored with its author, in order, and a change to the current status
 * stores nothing. The author's name comes from the users table, so a deleted account shows
 * as "" while the event stays known. Deleting a pull request deletes its events. Runs after
 * test_pull_requests, which leaves bob/public #1 merged. */
static void test_pr_events(struct meta *db)
{
    static const char base[] = "0123456789012345678901234567890123456789";
    static const char head[] = "fedcbafedcbafedcbafedcbafedcbafedcbafedc";
    struct hub_error err = HUB_ERROR_INIT;
    struct meta_pr_event event, *events = NULL;
    struct meta_repo pub;
    struct meta_user bob;
    struct meta_pr pr;
    int64_t erin_id = 0, rows_before;
    size_t n = 0;

    CHECK_EQ_INT(meta_repo_get(&pub, db, HUB_REPO_MODEL, "bob", "public", &err), 0);
    CHECK_EQ_INT(meta_user_get_by_name(&bob, db, "bob", &err), 0);
    CHECK_EQ_INT(meta_user_add(&erin_id, db, "erin", "erin's password", false, &err), 0);
    CHECK_EQ_INT(meta_pr_create(&pr, db, pub.id, "Events", "", bob.id, "bob", "main", base, &err),
                 0);
    CHECK_EQ_INT(meta_pr_events_list(&events, &n, db, pub.id, pr.number, &err), 0);
    CHECK_EQ_INT(n, 0);
    CHECK(events == NULL);

    CHECK_EQ_INT(
        meta_pr_set_status(&event, db, pub.id, pr.number, META_PR_CLOSED, bob.id, NULL, NULL, &err),
        0);
    CHECK(event.id > 0);
    CHECK_EQ_INT(event.number, pr.number);
    CHECK_EQ_INT(event.status, META_PR_CLOSED);
    CHECK_EQ_INT(event.actor_id, bob.id);
    CHECK(event.actor_known);
    CHECK_EQ_STR(event.actor_name, "bob");
    CHECK(event.created_at > 0);

    /* Closing a closed pull request changes nothing. */
    rows_before = pr_event_rows(db);
    CHECK_EQ_INT(meta_pr_set_status(&event, db, pub.id, pr.number, META_PR_CLOSED, erin_id, NULL,
                                    NULL, &err),
                 0);
    CHECK_EQ_INT(event.id, 0);
    CHECK_EQ_INT(pr_event_rows(db), rows_before);

    CHECK_EQ_INT(
        meta_pr_set_status(&event, db, pub.id, pr.number, META_PR_OPEN, erin_id, NULL, NULL, &err),
        0);
    CHECK_EQ_STR(event.actor_name, "erin");
    CHECK_EQ_INT(
        meta_pr_set_status(&event, db, pub.id, pr.number, META_PR_MERGED, erin_id, head, "", &err),
        0);
    CHECK_EQ_INT(event.status, META_PR_MERGED);
    CHECK_EQ_INT(meta_pr_get(&pr, db, pub.id, pr.number, &err), 0);
    CHECK_EQ_INT(pr.status, META_PR_MERGED);
    CHECK_EQ_STR(pr.merged_commit, head);

    CHECK_EQ_INT(meta_pr_events_list(&events, &n, db, pub.id, pr.number, &err), 0);
    CHECK_EQ_INT(n, 3);
    if (n == 3) {
        CHECK_EQ_INT(events[0].status, META_PR_CLOSED);
        CHECK_EQ_STR(events[0].actor_name, "bob");
        CHECK_EQ_INT(events[1].status, META_PR_OPEN);
        CHECK_EQ_STR(events[1].actor_name, "erin");
        CHECK_EQ_INT(events[2].status, META_PR_MERGED);
        CHECK_EQ_INT(events[2].actor_id, erin_id);
        CHECK(events[0].id < events[1].id);
        CHECK(events[1].id < events[2].id);
    }
    free(events);

    /* A deleted account keeps its events, without a name. */
    CHECK_EQ_INT(sqlite3_exec(meta_sqlite_get(db), "DELETE FROM users WHERE name = 'erin'", NULL,
                              NULL, NULL),
                 SQLITE_OK);
    CHECK_EQ_INT(meta_pr_events_list(&events, &n, db, pub.id, pr.number, &err), 0);
    CHECK_EQ_INT(n, 3);
    if (n == 3) {
        CHECK_EQ_STR(events[0].actor_name, "bob");
        CHECK_EQ_INT(events[2].actor_id, 0);
        CHECK_EQ_STR(events[2].actor_name, "");
        CHECK(events[2].actor_known);
    }
    free(events);

    /* A missing pull request gets no event. */
    rows_before = pr_event_rows(db);
    CHECK_EQ_INT(
        meta_pr_set_status(&event, db, pub.id, 99, META_PR_CLOSED, bob.id, NULL, NULL, &err),
        HUB_ENOTFOUND);
    CHECK_EQ_INT(pr_event_rows(db), rows_before);

    /* A deleted pull request takes its events with it, so a later one with its number starts
     * with none. */
    CHECK_EQ_INT(meta_pr_create(&pr, db, pub.id, "Gone", "", bob.id, "bob", "main", base, &err), 0);
    CHECK_EQ_INT(
        meta_pr_set_status(NULL, db, pub.id, pr.number, META_PR_CLOSED, bob.id, NULL, NULL, &err),
        0);
    CHECK_EQ_INT(meta_pr_delete(db, pub.id, pr.number, &err), 0);
    CHECK_EQ_INT(pr_event_rows(db), rows_before);
    CHECK_EQ_INT(meta_pr_create(&pr, db, pub.id, "Again", "", bob.id, "bob", "main", base, &err),
                 0);
    CHECK_EQ_INT(meta_pr_events_list(&events, &n, db, pub.id, pr.number, &err), 0);
    CHECK_EQ_INT(n, 0);
    free(events);
}

/* Records each lock that meta_lfs_lock_scan_others() reports and stops after stop_after. */
struct lock_seen {
    char paths[4][HUB_MAX_PATH_BYTES + 1];
    char owners[4][HUB_MAX_REPO_NAME_BYTES + 1];
    size_t count;
    size_t stop_after;
};

static int lock_record(const struct meta_lfs_lock *lock, void *arg)
{
    struct lock_seen *seen = arg;

    if (seen->count < 4) {
        snprintf(seen->paths[seen->count], sizeof(seen->paths[0]), "%s", lock->path);
        snprintf(seen->owners[seen->count], sizeof(seen->owners[0]), "%s", lock->owner_name);
    }
    seen->count++;
    return seen->count == seen->stop_after ? 7 : 0;
}

static void test_lfs_locks(struct meta *db)
{
    struct hub_error err = HUB_ERROR_INIT;
    const char *const changed[] = {"a.bin", "c.bin", "d.bin"}; /* sorted by strcmp */
    struct meta_user alice, bob, carol;
    struct meta_repo pub, secret;
    struct lock_seen seen;
    int64_t excluded[2];
    char sql[512];

    CHECK_EQ_INT(meta_repo_get(&pub, db, HUB_REPO_MODEL, "bob", "public", &err), 0);
    CHECK_EQ_INT(meta_repo_get(&secret, db, HUB_REPO_MODEL, "bob", "secret", &err), 0);
    CHECK_EQ_INT(meta_user_get_by_name(&alice, db, "alice", &err), 0);
    CHECK_EQ_INT(meta_user_get_by_name(&bob, db, "bob", &err), 0);
    CHECK_EQ_INT(meta_user_get_by_name(&carol, db, "carol", &err), 0);
    /* Lock ids grow with the insert order, and the scan reports locks in id order. */
    snprintf(sql, sizeof(sql),
             "INSERT INTO git_lfs_locks (repo_id, path, owner_id, locked_at) VALUES "
             "(%lld, 'c.bin', %lld, 1), (%lld, 'a.bin', %lld, 1), (%lld, 'b.bin', %lld, 1), "
             "(%lld, 'd.bin', %lld, 1), (%lld, 'a.bin', %lld, 1)",
             (long long)pub.id, (long long)carol.id, (long long)pub.id, (long long)bob.id,
             (long long)pub.id, (long long)carol.id, (long long)pub.id, (long long)alice.id,
             (long long)secret.id, (long long)carol.id);
    CHECK_EQ_INT(sqlite3_exec(meta_sqlite_get(db), sql, NULL, NULL, NULL), SQLITE_OK);

    /* Without paths, every lock of the repo that alice does not hold counts. */
    memset(&seen, 0, sizeof(seen));
    CHECK_EQ_INT(
        meta_lfs_lock_scan_others(db, pub.id, &alice.id, 1, NULL, 0, lock_record, &seen, &err), 0);
    CHECK_EQ_INT(seen.count, 3);
    CHECK_EQ_STR(seen.paths[0], "c.bin");
    CHECK_EQ_STR(seen.owners[0], "carol");
    CHECK_EQ_STR(seen.paths[1], "a.bin");
    CHECK_EQ_STR(seen.owners[1], "bob");
    CHECK_EQ_STR(seen.paths[2], "b.bin");

    /* With paths, a lock on a path outside them does not count (b.bin), nor does a lock of
     * an excluded owner (carol's c.bin) or of another repo. */
    excluded[0] = alice.id;
    excluded[1] = carol.id;
    memset(&seen, 0, sizeof(seen));
    CHECK_EQ_INT(
        meta_lfs_lock_scan_others(db, pub.id, excluded, 2, changed, 3, lock_record, &seen, &err),
        0);
    CHECK_EQ_INT(seen.count, 1);
    CHECK_EQ_STR(seen.paths[0], "a.bin");
    CHECK_EQ_STR(seen.owners[0], "bob");

    /* A nonzero return of the callback stops the scan and is returned. */
    memset(&seen, 0, sizeof(seen));
    seen.stop_after = 1;
    CHECK_EQ_INT(
        meta_lfs_lock_scan_others(db, pub.id, NULL, 0, changed, 3, lock_record, &seen, &err), 7);
    CHECK_EQ_INT(seen.count, 1);
    CHECK_EQ_STR(seen.paths[0], "c.bin");
}

/* A read transaction keeps the snapshot of its first read while another connection commits,
 * and no second transaction opens inside it. */
static void test_read_transaction(struct meta *db, const char *data)
{
    struct hub_error err = HUB_ERROR_INIT;
    struct meta *writer = NULL;
    struct meta_user user;

    CHECK_EQ_INT(meta_open(&writer, data, 0, &err), 0);
    if (writer == NULL)
        return;

    CHECK_EQ_INT(meta_tx_begin_read(db, &err), 0);
    CHECK_EQ_INT(meta_user_get_by_name(&user, db, "snapshot-user", &err), HUB_ENOTFOUND);
    CHECK_EQ_INT(meta_user_add(NULL, writer, "snapshot-user", NULL, false, &err), 0);
    CHECK_EQ_INT(meta_user_get_by_name(&user, db, "snapshot-user", &err), HUB_ENOTFOUND);
    CHECK_EQ_INT(meta_tx_begin_read(db, &err), HUB_EINTERNAL);
    CHECK_EQ_INT(meta_tx_begin(db, &err), HUB_EINTERNAL);
    meta_tx_rollback(db);

    CHECK_EQ_INT(meta_user_get_by_name(&user, db, "snapshot-user", &err), 0);
    meta_close(writer);
}

static void test_threads(void)
{
    struct hub_error err = HUB_ERROR_INIT;
    struct bumper bumpers[BUMP_THREADS];
    pthread_t threads[BUMP_THREADS];
    struct meta_repo repo;
    struct meta *db = NULL;
    sqlite3_stmt *stmt = NULL;
    char data[512];
    int failures = 0;

    /* Threads that open a fresh database at once apply each migration exactly once. */
    fixture_dir_make(data, sizeof(data));
    for (int i = 0; i < BUMP_THREADS; i++) {
        bumpers[i] = (struct bumper){data, 0, 0};
        pthread_create(&threads[i], NULL, bumper_run, &bumpers[i]);
    }
    for (int i = 0; i < BUMP_THREADS; i++)
        pthread_join(threads[i], NULL);
    CHECK_EQ_INT(meta_open(&db, data, 0, &err), 0);
    if (db == NULL) {
        fixture_dir_remove(data);
        return;
    }
    CHECK_EQ_INT(sqlite3_prepare_v2(meta_sqlite_get(db),
                                    "SELECT count(*), count(DISTINCT version) FROM schema_version",
                                    -1, &stmt, NULL),
                 SQLITE_OK);
    CHECK_EQ_INT(sqlite3_step(stmt), SQLITE_ROW);
    CHECK_EQ_INT(sqlite3_column_int(stmt, 0), sqlite3_column_int(stmt, 1));
    sqlite3_finalize(stmt);

    /* Concurrent writers on their own connections wait for each other; none fails. */
    CHECK_EQ_INT(meta_user_add(NULL, db, "erin", NULL, false, &err), 0);
    CHECK_EQ_INT(meta_repo_insert(&repo, db, HUB_REPO_MODEL, "erin", "popular", false, &err), 0);
    for (int i = 0; i < BUMP_THREADS; i++) {
        bumpers[i] = (struct bumper){data, repo.id, 0};
        pthread_create(&threads[i], NULL, bumper_run, &bumpers[i]);
    }
    for (int i = 0; i < BUMP_THREADS; i++) {
        pthread_join(threads[i], NULL);
        failures += bumpers[i].failures;
    }
    CHECK_EQ_INT(failures, 0);
    CHECK_EQ_INT(meta_repo_get_by_id(&repo, db, repo.id, &err), 0);
    CHECK_EQ_INT(repo.downloads, BUMP_THREADS * BUMPS_PER_THREAD);
    meta_close(db);
    fixture_dir_remove(data);
}

/* Merged pull requests stored before the target_before_merge column existed read it as ""
 * once the migration that adds it runs, so they keep their commit list from base_commit. The
 * test removes the column and the migration's record from the database that
 * test_pull_requests filled, and opens it again. */
static void test_pr_target_migration(const char *data)
{
    static const char *const undo_sql =
        "ALTER TABLE pull_requests DROP COLUMN target_before_merge; "
        "DELETE FROM schema_version WHERE version = 14;";
    struct hub_error err = HUB_ERROR_INIT;
    struct meta *db = NULL;
    struct meta_repo pub;
    struct meta_pr pr;

    CHECK_EQ_INT(meta_open(&db, data, META_OPEN_MIGRATE, &err), 0);
    if (db == NULL)
        return;
    CHECK_EQ_INT(sqlite3_exec(meta_sqlite_get(db), undo_sql, NULL, NULL, NULL), SQLITE_OK);
    meta_close(db);
    db = NULL;
    CHECK_EQ_INT(meta_open(&db, data, META_OPEN_MIGRATE, &err), 0);
    if (db == NULL)
        return;
    CHECK_EQ_INT(meta_repo_get(&pub, db, HUB_REPO_MODEL, "bob", "public", &err), 0);
    CHECK_EQ_INT(meta_pr_get(&pr, db, pub.id, 1, &err), 0);
    CHECK_EQ_INT(pr.status, META_PR_MERGED);
    CHECK_EQ_STR(pr.merged_commit, "0123456789012345678901234567890123456789");
    CHECK_EQ_STR(pr.target_before_merge, "");
    meta_close(db);
}

/* Pull requests merged or closed before pull_request_events existed get one event for their
 * status, at their last update, with no known author. The test drops the table and the
 * migration's record from the database that test_pull_requests and test_pr_events filled,
 * and opens it again. */
static void test_pr_events_migration(const char *data)
{
    static const char *const undo_sql =
        "DROP TABLE pull_request_events; DELETE FROM schema_version WHERE version = 15;";
    struct hub_error err = HUB_ERROR_INIT;
    struct meta_pr_event *merged = NULL, *events = NULL;
    struct meta *db = NULL;
    struct meta_repo pub, secret;
    struct meta_pr pr;
    size_t n_merged = 0, n = 0;

    CHECK_EQ_INT(meta_open(&db, data, META_OPEN_MIGRATE, &err), 0);
    if (db == NULL)
        return;
    CHECK_EQ_INT(sqlite3_exec(meta_sqlite_get(db), undo_sql, NULL, NULL, NULL), SQLITE_OK);
    meta_close(db);
    db = NULL;
    CHECK_EQ_INT(meta_open(&db, data, META_OPEN_MIGRATE, &err), 0);
    if (db == NULL)
        return;
    CHECK_EQ_INT(meta_repo_get(&pub, db, HUB_REPO_MODEL, "bob", "public", &err), 0);
    CHECK_EQ_INT(meta_repo_get(&secret, db, HUB_REPO_MODEL, "bob", "secret", &err), 0);

    CHECK_EQ_INT(meta_pr_get(&pr, db, pub.id, 1, &err), 0);
    CHECK_EQ_INT(meta_pr_events_list(&merged, &n_merged, db, pub.id, 1, &err), 0);
    CHECK_EQ_INT(n_merged, 1);
    if (n_merged == 1) {
        CHECK(merged[0].id > 0);
        CHECK_EQ_INT(merged[0].status, META_PR_MERGED);
        CHECK(!merged[0].actor_known);
        CHECK_EQ_INT(merged[0].actor_id, 0);
        CHECK_EQ_STR(merged[0].actor_name, "");
        CHECK_EQ_INT(merged[0].created_at, pr.updated_at);
    }

    /* test_pr_events closed, reopened and merged #2: only the merge is left, once. */
    CHECK_EQ_INT(meta_pr_events_list(&events, &n, db, pub.id, 2, &err), 0);
    CHECK_EQ_INT(n, 1);
    if (n == 1 && n_merged == 1) {
        CHECK_EQ_INT(events[0].status, META_PR_MERGED);
        CHECK(!events[0].actor_known);
        CHECK(events[0].id != merged[0].id);
    }
    free(events);
    free(merged);

    /* Open pull requests get none. */
    CHECK_EQ_INT(meta_pr_events_list(&events, &n, db, secret.id, 1, &err), 0);
    CHECK_EQ_INT(n, 0);
    free(events);
    meta_close(db);
}

int main(void)
{
    struct hub_error err = HUB_ERROR_INIT;
    struct meta *db = NULL;
    char data[512];

    fixture_dir_make(data, sizeof(data));
    CHECK_EQ_INT(storage_init(&err), 0);
    test_migrations(data);
    CHECK_EQ_INT(meta_open(&db, data, META_OPEN_MIGRATE, &err), 0);
    if (db != NULL) {
        test_users(db);
        test_tokens(db);
        test_sessions(db);
        test_disabled_users(db);
        test_disable_cancels_running_jobs(db);
        test_orgs_and_access(db);
        test_repo_list(db);
        test_lfs_and_audit(db);
        test_pull_requests(db);
        test_pr_events(db);
        test_lfs_locks(db);
        test_read_transaction(db, data);
        meta_close(db);
        test_pr_target_migration(data);
        test_pr_events_migration(data);
    }
    test_threads();
    storage_shutdown();
    fixture_dir_remove(data);
    return test_finish();
}
