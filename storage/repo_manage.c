/* repo_manage: the create, delete and settings operations behind the API and the pages. */
#include "repo_manage.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "git_settings.h"
#include "hub_log.h"
#include "meta.h"
#include "meta_audit.h"
#include "meta_jobs.h"
#include "meta_org.h"

/* First path segments that the URL layout uses: a namespace with one of these names would
 * make its repos unreachable or shadow API routes and pages. They are compared ignoring
 * ASCII case, like user and organisation names, which are unique regardless of case. */
static const char *const reserved_namespaces[] = {
    "api",      "datasets", "spaces", "models",  "buckets", "kernels", "login",       "logout",
    "settings", "jobs",     "static", "healthz", "metrics", "new",     "new-dataset",
};

int repo_manage_namespace_check(const char *ns, struct hub_error *err)
{
    for (size_t i = 0; i < sizeof(reserved_namespaces) / sizeof(reserved_namespaces[0]); i++) {
        if (strcasecmp(ns, reserved_namespaces[i]) == 0)
            return hub_error_set(err, HUB_EINVAL,
                                 "namespace '%s' is reserved for the hub's URLs; choose another "
                                 "user or organisation name",
                                 ns);
    }
    return 0;
}

/* Writes "model:ns/name", the repo field of audit entries and log lines. */
static void audit_repo_format(char *out, size_t cap, enum hub_repo_type type, const char *ns,
                              const char *name)
{
    snprintf(out, cap, "%s:%s/%s", hub_repo_type_name(type), ns, name);
}

static int create_check_namespace(struct meta *db, const struct repo_manage_create_request *r,
                                  struct hub_error *err)
{
    bool can_write = false;
    int rc;

    rc = repo_manage_namespace_check(r->ns, err);
    if (rc < 0)
        return rc;
    rc = meta_namespace_can_write(&can_write, db, r->ns, r->user_id, err);
    if (rc == HUB_ENOTFOUND)
        return hub_error_set(err, HUB_ENOTFOUND,
                             "namespace '%s' does not exist: no user or organisation has that "
                             "name",
                             r->ns);
    if (rc < 0)
        return rc;
    if (!can_write)
        return hub_error_set(err, HUB_EFORBIDDEN,
                             "user %s may not create repos under '%s': use your own name or an "
                             "organisation where you have the write or admin role",
                             r->user_name != NULL ? r->user_name : "?", r->ns);
    if (r->read_only_token)
        return hub_error_set(err, HUB_EFORBIDDEN,
                             "a read-only token may not create repos under '%s': use a token "
                             "created with write access",
                             r->ns);
    return 0;
}

int repo_manage_create(struct meta_repo *out, char commit_out[REPO_OID_HEX_BYTES + 1],
                       struct meta *db, const char *data_dir,
                       const struct repo_manage_create_request *request, struct hub_error *err)
{
    struct repo_create_opts opts = {0};
    struct hub_error lookup = HUB_ERROR_INIT;
    char audit_repo[HUB_MAX_REPO_ID_BYTES + 16];
    int rc;

    memset(out, 0, sizeof(*out));
    rc = hub_name_check(request->ns, "namespace", err);
    if (rc == 0)
        rc = hub_name_check(request->name, "repo name", err);
    if (rc == 0)
        rc = create_check_namespace(db, request, err);
    if (rc < 0)
        return rc;
    if (meta_repo_get(out, db, request->type, request->ns, request->name, &lookup) == 0)
        return hub_error_set(err, HUB_ECONFLICT, "repo %s/%s exists already; pick another name",
                             out->ns, out->name);
    rc = meta_repo_insert(out, db, request->type, request->ns, request->name, request->is_private,
                          err);
    if (rc == HUB_ECONFLICT) {
        memset(out, 0, sizeof(*out));
        return hub_error_set(err, HUB_ECONFLICT, "repo %s/%s exists already; pick another name",
                             request->ns, request->name);
    }
    if (rc < 0)
        return rc;

    opts.author_name = request->user_name;
    opts.message = "initial commit";
    opts.readme = request->readme;
    rc = repo_create(commit_out, data_dir, request->type, out->ns, out->name, &opts, err);
    if (rc < 0) {
        struct hub_error undo = HUB_ERROR_INIT;

        hub_log(HUB_LOG_ERROR, "repo", "cannot create the git repo of %s/%s error=%s req=%s",
                out->ns, out->name, err->msg, request->request_id ? request->request_id : "-");
        if (meta_repo_delete(db, out->id, &undo) < 0)
            hub_log(HUB_LOG_ERROR, "repo", "cannot remove the repo row of %s/%s error=%s", out->ns,
                    out->name, undo.msg);
        return rc;
    }
    if (meta_repo_touch(db, out->id, commit_out, &lookup) < 0)
        hub_log(HUB_LOG_WARN, "repo", "cannot record the first commit of %s/%s error=%s", out->ns,
                out->name, lookup.msg);
    audit_repo_format(audit_repo, sizeof(audit_repo), request->type, out->ns, out->name);
    if (meta_audit_add(db, request->user_name, "repo.create", audit_repo,
                       out->is_private ? "private" : "public", &lookup) < 0)
        hub_log(HUB_LOG_ERROR, "repo", "audit entry for repo.create failed: repo=%s error=%s",
                audit_repo, lookup.msg);
    hub_log(HUB_LOG_INFO, "repo", "repo created repo=%s user=%s private=%d req=%s", audit_repo,
            request->user_name, out->is_private, request->request_id ? request->request_id : "-");
    return 0;
}

int repo_manage_delete_check(struct meta *db, const struct meta_repo *row, int64_t user_id,
                             bool user_is_admin, struct hub_error *err)
{
    enum meta_role role = META_ROLE_READ;
    int rc;

    if (row->owner_org_id == 0 || user_is_admin)
        return 0;
    rc = meta_org_member_role(&role, db, row->owner_org_id, user_id, err);
    if (rc < 0 && rc != HUB_ENOTFOUND)
        return rc;
    if (rc == 0 && role == META_ROLE_ADMIN)
        return 0;
    return hub_error_set(err, HUB_EFORBIDDEN,
                         "deleting %s/%s needs the admin role in organisation %s", row->ns,
                         row->name, row->ns);
}

int repo_manage_delete_jobs_check(struct meta *db, const struct meta_repo *row,
                                  struct hub_error *err)
{
    char id[HUB_MAX_REPO_ID_BYTES + 1];
    enum meta_job_state state;
    int64_t job_id = 0;
    int rc;

    snprintf(id, sizeof(id), "%s/%s", row->ns, row->name);
    rc = meta_job_find_using_repo(&job_id, &state, db, row->type, id, err);
    if (rc < 0)
        return rc;
    if (job_id == 0)
        return 0;
    return hub_error_set(err, HUB_ECONFLICT,
                         "cannot delete %s %s while %s job %lld uses it: cancel job %lld first "
                         "(on its job page or with POST /api/jobs/%lld/cancel), then delete "
                         "the repo",
                         hub_repo_type_name(row->type), id, meta_job_state_name(state),
                         (long long)job_id, (long long)job_id, (long long)job_id);
}

int repo_manage_delete(struct meta *db, const char *data_dir, const struct meta_repo *row,
                       const char *user_name, const char *request_id, struct hub_error *err)
{
    struct hub_error audit_err = HUB_ERROR_INIT;
    char audit_repo[HUB_MAX_REPO_ID_BYTES + 16];
    int rc;

    /* NOTE: a job queued between this check and the deletion below still fails when it
     * stages the missing repo, because job requests do not take the repo lock. */
    rc = repo_manage_delete_jobs_check(db, row, err);
    if (rc < 0)
        return rc;
    /* The row's names, not a request's: lookups ignore case but folders on disk do not. */
    rc = repo_delete(data_dir, row->type, row->ns, row->name, err);
    if (rc < 0 && rc != HUB_ENOTFOUND)
        return rc;
    rc = meta_repo_delete(db, row->id, err);
    if (rc < 0)
        return rc;
    audit_repo_format(audit_repo, sizeof(audit_repo), row->type, row->ns, row->name);
    if (meta_audit_add(db, user_name, "repo.delete", audit_repo, NULL, &audit_err) < 0)
        hub_log(HUB_LOG_ERROR, "repo", "audit entry for repo.delete failed: repo=%s error=%s",
                audit_repo, audit_err.msg);
    hub_log(HUB_LOG_INFO, "repo", "repo deleted repo=%s user=%s req=%s", audit_repo, user_name,
            request_id ? request_id : "-");
    return 0;
}

int repo_manage_set_private(struct meta *db, const struct meta_repo *row, bool is_private,
                            const char *user_name, const char *request_id, struct hub_error *err)
{
    struct hub_error audit_err = HUB_ERROR_INIT;
    char audit_repo[HUB_MAX_REPO_ID_BYTES + 16];
    const char *visibility = is_private ? "private" : "public";
    int rc;

    rc = meta_repo_set_private(db, row->id, is_private, err);
    if (rc < 0)
        return rc;
    audit_repo_format(audit_repo, sizeof(audit_repo), row->type, row->ns, row->name);
    if (meta_audit_add(db, user_name, "repo.visibility", audit_repo, visibility, &audit_err) < 0)
        hub_log(HUB_LOG_ERROR, "repo", "audit entry for repo.visibility failed: repo=%s error=%s",
                audit_repo, audit_err.msg);
    hub_log(HUB_LOG_INFO, "repo", "repo visibility set repo=%s user=%s visibility=%s req=%s",
            audit_repo, user_name, visibility, request_id ? request_id : "-");
    return 0;
}

int repo_manage_branch_protect(struct meta *db, const struct meta_repo *row, const char *branch,
                               bool protect, const char *user_name, const char *request_id,
                               bool *changed, struct hub_error *err)
{
    struct hub_error audit_err = HUB_ERROR_INIT;
    char audit_repo[HUB_MAX_REPO_ID_BYTES + 16];
    const char *action = protect ? "repo.branch_protect" : "repo.branch_unprotect";
    bool row_changed = false;
    int rc;

    if (changed != NULL)
        *changed = false;
    rc = gitsettings_branch_protect(db, row->id, branch, protect, &row_changed, err);
    if (rc < 0)
        return rc;
    if (changed != NULL)
        *changed = row_changed;
    if (!row_changed)
        return 0;
    audit_repo_format(audit_repo, sizeof(audit_repo), row->type, row->ns, row->name);
    if (meta_audit_add(db, user_name, action, audit_repo, branch, &audit_err) < 0)
        hub_log(HUB_LOG_ERROR, "repo",
                "audit entry for branch protection failed: repo=%s branch=%s error=%s", audit_repo,
                branch, audit_err.msg);
    hub_log(HUB_LOG_INFO, "repo", "branch %s repo=%s branch=%s user=%s req=%s",
            protect ? "protected" : "unprotected", audit_repo, branch, user_name,
            request_id ? request_id : "-");
    return 0;
}
