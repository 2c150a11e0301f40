/* hf_repo: whoami, repo create, delete and settings, repo info and the repo listings. */
#include "hf_info_cache.h"
#include "hf_internal.h"

#include "../web/card.h" /* trainer/card.h shadows "card.h" on this include path */
#include "http_parse.h"
#include "hub_log.h"
#include "jobs_json.h"
#include "lfs_pointer.h"
#include "meta.h"
#include "meta_org.h"
#include "meta_token.h"
#include "repo_manage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* README.md bytes read to find the card front matter. */
#define HF_MAX_CARD_BYTES (1u << 20)

/* ---- whoami ------------------------------------------------------------------------------- */

static json_t *whoami_orgs(struct meta *db, int64_t user_id)
{
    struct hub_error err = HUB_ERROR_INIT;
    struct meta_member *members = NULL;
    size_t count = 0;
    json_t *orgs = json_array();

    if (meta_org_member_list(&members, &count, db, 0, user_id, &err) < 0)
        count = 0;
    for (size_t i = 0; i < count; i++) {
        char id[32];

        snprintf(id, sizeof(id), "org-%lld", (long long)members[i].org_id);
        json_array_append_new(orgs,
                              json_pack("{s:s,s:s,s:s,s:s,s:n,s:b,s:s,s:n,s:s}", "type", "org",
                                        "id", id, "name", members[i].org_name, "fullname",
                                        members[i].org_name, "email", "canPay", 0, "avatarUrl", "",
                                        "periodEnd", "roleInOrg", meta_role_name(members[i].role)));
    }
    free(members);
    return orgs;
}

int hf_whoami_handle(struct http_request *req, void *arg, struct hub_error *err)
{
    const struct http_user *user = http_request_user(req);
    struct meta *db = http_request_db(req);
    struct meta_token token;
    char id[32], created[32] = "";
    const char *label = "browser session";

    if (user->token_id > 0 && meta_token_get(&token, db, user->token_id, err) == 0) {
        label = token.label;
        hf_time_format(created, token.created_at);
    }
    snprintf(id, sizeof(id), "user-%lld", (long long)user->id);
    return http_reply_json(
        req, 200,
        json_pack("{s:s,s:s,s:s,s:s,s:n,s:b,s:b,s:b,s:s,s:n,s:b,s:o,s:{s:s,s:{s:s,s:s,s:s}}}",
                  "type", "user", "id", id, "name", user->name, "fullname", user->name, "email",
                  "emailVerified", 0, "isPro", 0, "canPay", 0, "avatarUrl", "", "periodEnd",
                  "isAdmin", user->is_admin, "orgs", whoami_orgs(db, user->id), "auth", "type",
                  "access_token", "accessToken", "displayName", label, "role",
                  user->scope == HTTP_SCOPE_WRITE ? "write" : "read", "createdAt", created));
}

/* ---- create, delete, settings -------------------------------------------------------------- */

static json_t *body_json(struct http_request *req)
{
    size_t len;
    const char *body = http_request_body(req, &len);
    json_error_t jerr;
    json_t *root;

    root = json_loadb(body, len, 0, &jerr);
    if (root == NULL) {
        http_reply_error(req, 400, "invalid JSON body: %s at line %d column %d", jerr.text,
                         jerr.line, jerr.column);
        return NULL;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        http_reply_error(req, 400, "invalid JSON body: expected an object");
        return NULL;
    }
    return root;
}

/* Reads name, organization and type from a create or delete body. Queues 400 on errors. */
static int body_repo_id(enum hub_repo_type *type, const char **ns, const char **name,
                        struct http_request *req, json_t *root)
{
    const char *type_text = json_string_value(json_object_get(root, "type"));
    struct hub_error err = HUB_ERROR_INIT;
    const char *slash;

    *name = json_string_value(json_object_get(root, "name"));
    *ns = json_string_value(json_object_get(root, "organization"));
    if (*name == NULL) {
        http_reply_error(req, 400, "missing \"name\" in the request body");
        return HUB_EINVAL;
    }
    /* Some clients send the whole id as the name. */
    slash = strchr(*name, '/');
    if (slash != NULL && *ns == NULL) {
        http_reply_error(req, 400,
                         "invalid repo name '%s': send the namespace in "
                         "\"organization\"",
                         *name);
        return HUB_EINVAL;
    }
    if (*ns == NULL)
        *ns = http_request_user(req)->name;
    *type = HUB_REPO_MODEL;
    if (type_text != NULL && strcmp(type_text, "space") == 0) {
        http_reply_error(req, 400,
                         "invalid repo type 'space': spaces are not supported by this hub, "
                         "which hosts models and datasets");
        return HUB_EINVAL;
    }
    if (type_text != NULL && hub_repo_type_parse(type, type_text, &err) < 0) {
        http_reply_error(req, 400, "invalid repo type '%s': expected model or dataset", type_text);
        return HUB_EINVAL;
    }
    if (hub_name_check(*ns, "namespace", &err) < 0 ||
        hub_name_check(*name, "repo name", &err) < 0) {
        http_reply_error(req, 400, "%s", err.msg);
        return HUB_EINVAL;
    }
    return 0;
}

/* Reads "visibility" or "private" of a create or settings body into is_private, which stays
 * as it is when both are absent. Queues 400 for any other value. */
static int body_private(bool *is_private, struct http_request *req, json_t *root)
{
    json_t *visibility = json_object_get(root, "visibility");
    json_t *flag = json_object_get(root, "private");
    const char *text = json_string_value(visibility);

    if (visibility != NULL && !json_is_null(visibility)) {
        if (text == NULL) {
            http_reply_error(req, 400,
                             "invalid \"visibility\": expected \"public\" or \"private\"");
            return HUB_EINVAL;
        }
        if (strcmp(text, "public") != 0 && strcmp(text, "private") != 0) {
            http_reply_error(req, 400,
                             "invalid \"visibility\" '%.100s': expected \"public\" or \"private\"",
                             text);
            return HUB_EINVAL;
        }
        *is_private = strcmp(text, "private") == 0;
        return 0;
    }
    if (flag != NULL && !json_is_null(flag)) {
        if (!json_is_boolean(flag)) {
            http_reply_error(req, 400, "invalid \"private\": expected true or false");
            return HUB_EINVAL;
        }
        *is_private = json_is_true(flag);
    }
    return 0;
}

/* Replies with the url, id and _id of a new repo (or, with status 409, of the existing one).
 * "id" is the same value as "_id" in the info reply; hub_id is "" when it is unknown. */
static int reply_created(struct http_request *req, unsigned status, enum hub_repo_type type,
                         const char *ns, const char *name, const char *hub_id, const char *msg)
{
    char url[1024], full[HUB_MAX_REPO_ID_BYTES + 1];
    json_t *body;

    snprintf(url, sizeof(url), "%s/%s%s/%s", http_request_base_url(req), hf_web_prefix(type), ns,
             name);
    snprintf(full, sizeof(full), "%s/%s", ns, name);
    body = json_pack("{s:s,s:s}", "url", url, "name", full);
    if (hub_id[0] != '\0' && body != NULL)
        json_object_set_new(body, "id", json_string(hub_id));
    if (msg != NULL && body != NULL)
        json_object_set_new(body, "error", json_string(msg));
    return http_reply_json(req, status, body);
}

/* Decodes the "files" of a create request (base64 content, as @huggingface/hub sends them)
 * into ops, before the repo is created, so that bad input leaves no repo behind. files may be
 * NULL or JSON null for none. Queues 400 for a value that is not an array, a bad path or bad
 * content, and 422 for content that is an LFS pointer, because no object is linked to a new
 * repo yet. Returns the op count or a negative code. */
static long create_files_parse(struct repo_op **ops_out, struct http_request *req, json_t *files)
{
    struct hub_error err = HUB_ERROR_INIT;
    struct lfs_pointer pointer;
    struct repo_op *ops;
    size_t i, n = json_array_size(files);
    json_t *file;

    *ops_out = NULL;
    if (files != NULL && !json_is_null(files) && !json_is_array(files)) {
        http_reply_error(req, 400,
                         "invalid \"files\": expected an array of {\"path\", \"content\"} "
                         "objects with base64 content");
        return HUB_EINVAL;
    }
    if (n == 0)
        return 0;
    ops = calloc(n, sizeof(*ops));
    if (ops == NULL)
        return HUB_ENOMEM;
    *ops_out = ops;
    json_array_foreach(files, i, file)
    {
        const char *path = json_string_value(json_object_get(file, "path"));
        json_t *content = json_object_get(file, "content");
        const char *text = json_string_value(content);
        size_t len = json_string_length(content);
        unsigned char *data;
        long decoded;

        if (path == NULL || hf_path_check(path, &err) < 0 || text == NULL) {
            http_reply_error(req, 400, "invalid file in \"files\": %s",
                             path == NULL || text == NULL ? "needs \"path\" and \"content\""
                                                          : err.msg);
            return HUB_EINVAL;
        }
        data = malloc(len / 4 * 3 + 3);
        if (data == NULL)
            return HUB_ENOMEM;
        ops[i].kind = REPO_OP_ADD_FILE;
        ops[i].path = path;
        ops[i].data = data;
        decoded = http_base64_decode(data, text, len);
        if (decoded < 0) {
            http_reply_error(req, 400, "invalid base64 content for %s in \"files\"", path);
            return HUB_EINVAL;
        }
        ops[i].len = (size_t)decoded;
        if (lfs_pointer_parse(&pointer, (const char *)data, ops[i].len, NULL) == 0) {
            http_reply_error(req, 422,
                             "%s in \"files\" is an LFS pointer to object %s, which was not "
                             "uploaded to this repo; create the repo first, then upload the "
                             "object through the LFS batch API and commit it",
                             path, pointer.oid);
            return HUB_EINVAL;
        }
    }
    return (long)n;
}

static void create_files_free(struct repo_op *ops, size_t n)
{
    for (size_t i = 0; ops != NULL && i < n; i++)
        free((void *)ops[i].data);
    free(ops);
}

/* Commits the n ops decoded by create_files_parse on main as the repo's second commit. */
static int create_files_commit(char commit[REPO_OID_HEX_BYTES + 1], struct http_request *req,
                               const struct meta_repo *row, const struct repo_op *ops, long n,
                               struct hub_error *err)
{
    struct repo_commit_request creq = {0};
    struct hf_lfs_target lfs_target = {req, row};
    struct repo *git = NULL;
    char name[128], email[160];
    int rc;

    rc = repo_open(&git, http_request_config(req)->data_dir, row->type, row->ns, row->name, err);
    if (rc == 0) {
        hf_author_format(name, sizeof(name), email, sizeof(email), http_request_user(req));
        creq.branch = REPO_DEFAULT_BRANCH;
        creq.author_name = name;
        creq.author_email = email;
        creq.message = "Add files";
        creq.ops = ops;
        creq.n_ops = (size_t)n;
        creq.lfs_store = hf_lfs_store_file;
        creq.lfs_store_ctx = &lfs_target;
        rc = repo_commit(commit, git, &creq, err);
    }
    repo_close(git);
    return rc;
}

int hf_repo_create_handle(struct http_request *req, void *arg, struct hub_error *err)
{
    struct meta *db = http_request_db(req);
    const struct http_user *user = http_request_user(req);
    struct repo_manage_create_request create = {0};
    struct meta_repo row;
    char commit[REPO_OID_HEX_BYTES + 1];
    struct repo_op *ops = NULL;
    json_t *root, *files;
    long n_ops = 0;
    int rc;

    root = body_json(req);
    if (root == NULL)
        return 0;
    files = json_object_get(root, "files");
    rc = body_repo_id(&create.type, &create.ns, &create.name, req, root);
    if (rc < 0)
        goto out;
    rc = body_private(&create.is_private, req, root);
    if (rc < 0)
        goto out;
    n_ops = create_files_parse(&ops, req, files);
    if (n_ops < 0) {
        rc = (int)n_ops;
        goto out;
    }
    create.user_id = user->id;
    create.user_name = user->name;
    create.read_only_token = user->scope != HTTP_SCOPE_WRITE;
    create.request_id = http_request_id(req);
    rc = repo_manage_create(&row, commit, db, http_request_config(req)->data_dir, &create, err);
    if (rc == HUB_ECONFLICT) {
        rc = reply_created(req, 409, create.type, create.ns, create.name, row.hub_id,
                           "You already created this repo");
        goto out;
    }
    if (rc == HUB_EINVAL || rc == HUB_ETOOBIG || rc == HUB_ENOTFOUND || rc == HUB_EFORBIDDEN) {
        rc = http_reply_error(req,
                              rc == HUB_ENOTFOUND    ? 404
                              : rc == HUB_EFORBIDDEN ? 403
                                                     : 400,
                              "%s", err->msg);
        goto out;
    }
    if (rc < 0)
        goto out;
    if (n_ops > 0) {
        rc = create_files_commit(commit, req, &row, ops, n_ops, err);
        if (rc < 0 && !http_reply_is_queued(req))
            hub_log(HUB_LOG_ERROR, "hf",
                    "cannot commit the files of new repo %s/%s error=%s "
                    "req=%s",
                    row.ns, row.name, err->msg, http_request_id(req));
        if (rc < 0) /* the repo stays, empty but usable, so a retry with exist_ok works */
            goto out;
        meta_repo_touch(db, row.id, commit, err);
    }
    rc = reply_created(req, 200, create.type, row.ns, row.name, row.hub_id, NULL);
out:
    create_files_free(ops, json_array_size(files));
    json_decref(root);
    return rc;
}

/* Deleting a repo of an organisation takes the organisation's admin role (or a site admin);
 * the write role only changes its content. */
int hf_repo_delete_handle(struct http_request *req, void *arg, struct hub_error *err)
{
    struct meta *db = http_request_db(req);
    struct hf_repo_ctx ctx = {0};
    enum hub_repo_type type;
    const char *ns, *name;
    json_t *root;
    int rc;

    root = body_json(req);
    if (root == NULL)
        return 0;
    rc = body_repo_id(&type, &ns, &name, req, root);
    if (rc < 0)
        goto out;
    rc = hf_repo_load(&ctx, req, type, ns, name, true);
    if (rc < 0)
        goto out;
    hf_repo_ctx_dispose(&ctx);
    rc = repo_manage_delete_check(db, &ctx.row, http_request_user(req)->id,
                                  http_request_user(req)->is_admin, err);
    if (rc == HUB_EFORBIDDEN) {
        rc = http_reply_error(req, 403, "%s", err->msg);
        goto out;
    }
    if (rc < 0)
        goto out;
    rc = repo_manage_delete(db, http_request_config(req)->data_dir, &ctx.row,
                            http_request_user(req)->name, http_request_id(req), err);
    if (rc < 0)
        goto out;
    rc = http_reply_json(req, 200, json_object());
out:
    hf_repo_ctx_dispose(&ctx);
    json_decref(root);
    return rc;
}

int hf_repo_settings_handle(struct http_request *req, void *arg, struct hub_error *err)
{
    struct hf_repo_ctx ctx = {0};
    json_t *root;
    bool is_private;
    int rc;

    root = body_json(req);
    if (root == NULL)
        return 0;
    rc = hf_repo_load_params(&ctx, req, true);
    if (rc < 0)
        goto out;
    is_private = ctx.row.is_private;
    rc = body_private(&is_private, req, root);
    if (rc < 0)
        goto out;
    rc = repo_manage_set_private(http_request_db(req), &ctx.row, is_private,
                                 http_request_user(req)->name, http_request_id(req), err);
    if (rc < 0)
        goto out;
    rc = http_reply_json(req, 200, json_pack("{s:b}", "private", is_private));
out:
    hf_repo_ctx_dispose(&ctx);
    json_decref(root);
    return rc;
}

/* ---- info --------------------------------------------------------------------------------- */

/* Parses README.md at commit into the card's JSON object, or NULL when there is none. */
static json_t *card_data_load(struct repo *git, const char *commit)
{
    struct hub_error err = HUB_ERROR_INIT;
    struct card card = CARD_INIT;
    json_t *data = NULL;
    char *text = NULL;
    size_t len = 0;

    if (repo_file_read(&text, &len, git, commit, "README.md", HF_MAX_CARD_BYTES, &err) < 0)
        return NULL;
    if (card_parse(&card, text, len, &err) == 0 && card.data != NULL)
        data = json_incref(card.data);
    card_dispose(&card);
    free(text);
    return data;
}

static void tags_add_unique(json_t *tags, const char *tag)
{
    size_t i;
    json_t *v;

    json_array_foreach(tags, i, v)
    {
        if (strcmp(json_string_value(v), tag) == 0)
            return;
    }
    json_array_append_new(tags, json_string(tag));
}

/* Builds the tags a listing filter matches: the card's tags, license, library and base. */
static json_t *tags_build(json_t *card, const struct meta_repo *row, bool is_adapter)
{
    json_t *tags = json_array();
    json_t *card_tags = card != NULL ? json_object_get(card, "tags") : NULL;
    const char *license = card != NULL ? json_string_value(json_object_get(card, "license")) : NULL;
    const char *library =
        card != NULL ? json_string_value(json_object_get(card, "library_name")) : NULL;
    char buf[HUB_MAX_REPO_ID_BYTES + 64];
    size_t i;
    json_t *v;

    if (json_is_string(card_tags))
        tags_add_unique(tags, json_string_value(card_tags));
    json_array_foreach(card_tags, i, v)
    {
        if (json_is_string(v))
            tags_add_unique(tags, json_string_value(v));
    }
    if (library != NULL)
        tags_add_unique(tags, library);
    if (is_adapter) {
        tags_add_unique(tags, "peft");
        tags_add_unique(tags, "lora");
    }
    if (license != NULL) {
        snprintf(buf, sizeof(buf), "license:%s", license);
        tags_add_unique(tags, buf);
    }
    if (row->base_model[0] != '\0') {
        snprintf(buf, sizeof(buf), "base_model:%s%s", is_adapter ? "adapter:" : "",
                 row->base_model);
        tags_add_unique(tags, buf);
    }
    return tags;
}

/* Builds the siblings of a recursive listing. With blobs it adds sizes, blob ids and LFS data. */
static json_t *siblings_build(bool *is_adapter, const struct repo_entry *entries, size_t count,
                              bool blobs)
{
    json_t *siblings = json_array();

    *is_adapter = false;
    for (size_t i = 0; i < count; i++) {
        const struct repo_entry *e = &entries[i];
        json_t *item;

        if (e->type != REPO_ENTRY_FILE)
            continue;
        if (strcmp(e->path, "adapter_config.json") == 0)
            *is_adapter = true;
        item = json_pack("{s:o}", "rfilename", hf_json_git_text(e->path));
        if (blobs) {
            json_object_set_new(item, "size", json_integer((json_int_t)e->size));
            json_object_set_new(item, "blobId", json_string(e->oid));
            if (e->is_lfs)
                json_object_set_new(item, "lfs",
                                    json_pack("{s:s,s:I,s:I}", "sha256", e->lfs_oid, "size",
                                              (json_int_t)e->size, "pointerSize",
                                              (json_int_t)e->pointer_size));
        }
        json_array_append_new(siblings, item);
    }
    return siblings;
}

/* Lists the adapters whose base model is row (both types share the namespace of ids). */
static json_t *adapters_build(struct meta *db, const struct meta_repo *row, int64_t viewer)
{
    struct hub_error err = HUB_ERROR_INIT;
    struct meta_repo_query q = {0};
    struct meta_repo *rows = NULL;
    char id[HUB_MAX_REPO_ID_BYTES + 1];
    size_t count = 0;
    json_t *list = json_array();

    snprintf(id, sizeof(id), "%s/%s", row->ns, row->name);
    q.type = HUB_REPO_MODEL;
    q.base_model = id;
    q.viewer_user_id = viewer;
    q.limit = 100;
    if (meta_repo_list(&rows, &count, NULL, db, &q, &err) < 0)
        count = 0;
    for (size_t i = 0; i < count; i++) {
        snprintf(id, sizeof(id), "%s/%s", rows[i].ns, rows[i].name);
        json_array_append_new(list, json_string(id));
    }
    free(rows);
    return list;
}

/* Fills the fields shared by info and listings. */
static json_t *repo_summary(const struct meta_repo *row)
{
    char id[HUB_MAX_REPO_ID_BYTES + 1], updated[32], created[32];

    snprintf(id, sizeof(id), "%s/%s", row->ns, row->name);
    hf_time_format(updated, row->updated_at);
    hf_time_format(created, row->created_at);
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:b,s:b,s:b,s:I,s:I}", "_id", row->hub_id, "id", id,
                     "modelId", id, "author", row->ns, "lastModified", updated, "createdAt",
                     created, "private", row->is_private, "gated", 0, "disabled", 0, "downloads",
                     (json_int_t)row->downloads, "likes", (json_int_t)0);
}

static void card_fields_add(json_t *obj, json_t *card)
{
    const char *pipeline =
        card != NULL ? json_string_value(json_object_get(card, "pipeline_tag")) : NULL;
    const char *library =
        card != NULL ? json_string_value(json_object_get(card, "library_name")) : NULL;

    /* Left out when the card has none, as @huggingface/hub types them (optional strings). */
    if (pipeline != NULL)
        json_object_set_new(obj, "pipeline_tag", json_string(pipeline));
    if (library != NULL)
        json_object_set_new(obj, "library_name", json_string(library));
}

/* Adds config (from config.json) with with_config and the parameter counts of the
 * safetensors files among entries with with_safetensors. Each is left out when there is
 * nothing to show. */
static void model_fields_add(json_t *obj, struct http_request *req, const struct meta_repo *row,
                             struct repo *git, const char *commit, const struct repo_entry *entries,
                             size_t count, bool with_safetensors, bool with_config)
{
    json_t *config = with_config ? hf_config_build(git, commit) : NULL;

    if (config != NULL)
        json_object_set_new(obj, "config", config);
    if (with_safetensors) {
        json_t *tensors = hf_safetensors_build(http_request_db(req), row, git, commit, entries,
                                               count, http_request_id(req));

        if (tensors != NULL)
            json_object_set_new(obj, "safetensors", tensors);
    }
}

int hf_repo_info_handle(struct http_request *req, void *arg, struct hub_error *err)
{
    struct hf_repo_ctx ctx = {0};
    const char *rev = http_request_param(req, "rev");
    const char *blobs_text = http_request_query(req, "blobs");
    char commit[REPO_OID_HEX_BYTES + 1];
    bool blobs = false, is_adapter = false;
    json_t *obj = NULL, *card = NULL;
    struct repo_entry *entries = NULL;
    size_t count = 0;
    struct hf_info_key key = {0};
    bool cacheable;
    char *text = NULL;
    size_t text_len = 0;
    int rc;

    if (blobs_text != NULL && !http_parse_bool(&blobs, blobs_text))
        return http_reply_error(req, 400, "invalid blobs value '%s': expected true, false, 1 or 0",
                                blobs_text);
    rc = hf_repo_load_shared(&ctx, req);
    if (rc < 0)
        goto out;
    rc = hf_revision_resolve(commit, req, &ctx, rev != NULL ? rev : "HEAD");
    if (rc < 0)
        goto out;

    /* The access check above ran first, so a cached body only saves the rendering. */
    key.repo_id = ctx.row.id;
    key.viewer_user_id = http_request_user(req)->id;
    key.blobs = blobs;
    key.safetensors = ctx.row.type == HUB_REPO_MODEL && hf_expand_has(req, "safetensors");
    memcpy(key.commit, commit, sizeof(key.commit));
    cacheable = hf_info_data_version(&key.data_version, http_request_db(req));
    if (cacheable && hf_info_cache_get(&text, &text_len, &key)) {
        rc = http_reply_buffer(req, 200, "application/json", text, text_len);
        goto out;
    }

    rc = repo_tree_list(&entries, &count, ctx.git, commit, "", true, err);
    if (rc < 0)
        goto out;
    card = card_data_load(ctx.git, commit);
    obj = repo_summary(&ctx.row);
    json_object_set_new(obj, "sha", json_string(commit));
    json_object_set_new(obj, "siblings", siblings_build(&is_adapter, entries, count, blobs));
    json_object_set_new(obj, "tags", tags_build(card, &ctx.row, is_adapter));
    card_fields_add(obj, card);
    if (card != NULL)
        json_object_set(obj, "cardData", card);
    if (ctx.row.base_model[0] != '\0')
        json_object_set_new(obj, "baseModel", json_string(ctx.row.base_model));
    if (ctx.row.type == HUB_REPO_MODEL && !is_adapter)
        json_object_set_new(
            obj, "adapters",
            adapters_build(http_request_db(req), &ctx.row, http_request_user(req)->id));
    if (ctx.row.type == HUB_REPO_MODEL) {
        char repo_id[HUB_MAX_REPO_ID_BYTES + 1];

        /* The 20 newest evaluations; GET /api/evals lists all of them. A new evaluation, and
         * a change of who may read its dataset or base, is a database write, which changes the
         * data version in the cache key. The rows hide the repos that the viewer cannot read,
         * and the key has the viewer too. */
        snprintf(repo_id, sizeof(repo_id), "%s/%s", ctx.row.ns, ctx.row.name);
        json_object_set_new(obj, "evaluations",
                            jobs_json_evals_for_repo(http_request_db(req), repo_id, 20,
                                                     http_request_user(req)->id));
        model_fields_add(obj, req, &ctx.row, ctx.git, commit, entries, count, key.safetensors,
                         true);
    }
    text = json_dumps(obj, JSON_COMPACT | JSON_REAL_PRECISION(10));
    if (text == NULL) {
        rc = HUB_ENOMEM;
        goto out;
    }
    text_len = strlen(text);
    if (cacheable)
        hf_info_cache_put(&key, text, text_len);
    rc = http_reply_buffer(req, 200, "application/json", text, text_len);
out:
    repo_entries_free(entries, count);
    json_decref(card);
    json_decref(obj);
    hf_repo_ctx_dispose(&ctx);
    return rc;
}

/* ---- listing ------------------------------------------------------------------------------ */

static int list_sort_parse(struct meta_repo_query *q, struct http_request *req)
{
    const char *sort = http_request_query(req, "sort");
    const char *direction = http_request_query(req, "direction");

    q->sort = META_REPO_SORT_UPDATED;
    if (sort != NULL) {
        if (strcmp(sort, "lastModified") == 0 || strcmp(sort, "trendingScore") == 0 ||
            strcmp(sort, "likes") == 0)
            q->sort = META_REPO_SORT_UPDATED;
        else if (strcmp(sort, "createdAt") == 0)
            q->sort = META_REPO_SORT_CREATED;
        else if (strcmp(sort, "downloads") == 0)
            q->sort = META_REPO_SORT_DOWNLOADS;
        else if (strcmp(sort, "id") == 0 || strcmp(sort, "modelId") == 0)
            q->sort = META_REPO_SORT_NAME;
        else
            return http_reply_error(req, 400,
                                    "invalid sort '%s': expected lastModified, createdAt, "
                                    "downloads, likes, trendingScore or id",
                                    sort);
    }
    /* The default direction of each sort is its natural one (newest, most, A to Z);
     * direction=1 requests ascending order, -1 for descending. */
    if (direction != NULL) {
        bool descending_default = q->sort != META_REPO_SORT_NAME;

        if (strcmp(direction, "1") == 0)
            q->ascending = descending_default;
        else if (strcmp(direction, "-1") == 0)
            q->ascending = !descending_default;
        else
            return http_reply_error(req, 400, "invalid direction '%s': expected 1 or -1",
                                    direction);
    }
    return 0;
}

static int parse_count(uint64_t *out, const char *text)
{
    char *end = NULL;
    unsigned long long n;

    if (text == NULL || text[0] < '0' || text[0] > '9')
        return -1;
    n = strtoull(text, &end, 10);
    if (*end != '\0' || n > 100000000ull)
        return -1;
    *out = n;
    return 0;
}

/* Builds the Link header for the next page: every original parameter, cursor replaced. */
static void link_next_add(struct http_request *req, uint64_t next_offset)
{
    const char *query = http_request_query_string(req);
    size_t cap =
        strlen(http_request_base_url(req)) + strlen(http_request_path(req)) + strlen(query) + 64;
    char *link = malloc(cap);
    size_t used;
    const char *p = query;

    if (link == NULL)
        return;
    used =
        (size_t)snprintf(link, cap, "<%s%s?", http_request_base_url(req), http_request_path(req));
    while (*p != '\0') {
        size_t n = strcspn(p, "&");

        if (n > 0 && strncmp(p, "cursor=", 7) != 0 && used + n + 1 < cap) {
            memcpy(link + used, p, n);
            used += n;
            link[used++] = '&';
        }
        p += n;
        if (*p == '&')
            p++;
    }
    snprintf(link + used, cap - used, "cursor=%llu>; rel=\"next\"",
             (unsigned long long)next_offset);
    http_reply_header(req, "Link", link);
    free(link);
}

/* The filters and extra fields of a listing request, beyond search, author and sort. */
struct list_options {
    const char *filters[16]; /* every one must be a tag of the repo */
    size_t filter_count;
    const char *pipeline_tag; /* the card's pipeline_tag must equal it; NULL for any */
    bool full;                /* adds siblings and cardData */
    bool card_data;
    bool config;
    bool safetensors;
};

/* Query parameters of the listings. Any other one gets a 400 that names it, because it is a
 * filter this hub cannot apply. @huggingface/hub 2.17.5 sends such parameters
 * (inference_provider, apps) only when its caller requests that filter. */
static const char *const list_params[] = {
    "search", "author", "filter",   "pipeline_tag", "sort",   "direction", "limit",
    "cursor", "full",   "cardData", "config",       "expand", "expand[]",
};

static int list_params_check(struct http_request *req)
{
    size_t count = http_request_query_count(req);

    for (size_t i = 0; i < count; i++) {
        const char *name = http_request_query_name(req, i);
        bool known = false;

        for (size_t k = 0; k < sizeof(list_params) / sizeof(list_params[0]); k++) {
            if (strcmp(name, list_params[k]) == 0)
                known = true;
        }
        if (!known)
            return http_reply_error(req, 400,
                                    "unsupported query parameter '%.100s': this hub cannot filter "
                                    "or sort by it, so leave it out; supported: search, author, "
                                    "filter, pipeline_tag, sort, direction, limit, cursor, full, "
                                    "cardData, config, expand",
                                    name);
    }
    return 0;
}

/* Reads the boolean query parameter name into *out (unchanged when absent). Queues 400 for
 * a value other than true, false, 1 or 0. */
static int list_bool_param(bool *out, struct http_request *req, const char *name)
{
    const char *text = http_request_query(req, name);

    if (text != NULL && !http_parse_bool(out, text))
        return http_reply_error(req, 400, "invalid %s value '%.100s': expected true, false, 1 or 0",
                                name, text);
    return 0;
}

static int list_options_parse(struct list_options *o, struct http_request *req,
                              enum hub_repo_type type)
{
    memset(o, 0, sizeof(*o));
    o->filter_count = http_request_query_all(req, "filter", o->filters, 16);
    if (o->filter_count > 16)
        return http_reply_error(req, 400, "too many filter values: at most 16");
    o->pipeline_tag = http_request_query(req, "pipeline_tag");
    if (list_bool_param(&o->full, req, "full") != 0 ||
        list_bool_param(&o->card_data, req, "cardData") != 0 ||
        list_bool_param(&o->config, req, "config") != 0)
        return 0;
    if (o->full)
        o->card_data = true;
    o->full = o->full || hf_expand_has(req, "siblings");
    o->card_data = o->card_data || hf_expand_has(req, "cardData");
    o->config = type == HUB_REPO_MODEL && (o->config || hf_expand_has(req, "config"));
    o->safetensors = type == HUB_REPO_MODEL && hf_expand_has(req, "safetensors");
    return 0;
}

/* Returns whether every filter value is one of the repo's tags (or its id, or its type). */
static bool filter_matches(json_t *tags, const char *const *filters, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        bool found = false;
        size_t j;
        json_t *v;

        json_array_foreach(tags, j, v)
        {
            if (strcmp(json_string_value(v), filters[i]) == 0)
                found = true;
        }
        if (!found)
            return false;
    }
    return true;
}

/* Returns whether the repo passes the filters of o, given its card and tags. */
static bool list_entry_matches(const struct list_options *o, json_t *card, json_t *tags)
{
    const char *pipeline =
        card != NULL ? json_string_value(json_object_get(card, "pipeline_tag")) : NULL;

    if (o->pipeline_tag != NULL && (pipeline == NULL || strcmp(pipeline, o->pipeline_tag) != 0))
        return false;
    return filter_matches(tags, o->filters, o->filter_count);
}

/* Builds one listing entry, or returns NULL when the options rule it out. */
static json_t *list_entry(struct http_request *req, const struct meta_repo *row,
                          const struct list_options *o)
{
    struct hub_error err = HUB_ERROR_INIT;
    struct repo *git = NULL;
    char commit[REPO_OID_HEX_BYTES + 1] = "";
    struct repo_entry *entries = NULL;
    size_t count = 0;
    json_t *card = NULL, *tags, *obj = NULL;
    bool is_adapter = false, has_commit = false;
    bool need_tree = o->full || o->safetensors;

    if (repo_open(&git, http_request_config(req)->data_dir, row->type, row->ns, row->name, &err) ==
            0 &&
        repo_revision_resolve(commit, git, "HEAD", &err) == 0) {
        struct repo_entry entry = {0};

        has_commit = true;
        card = card_data_load(git, commit);
        if (need_tree) {
            if (repo_tree_list(&entries, &count, git, commit, "", true, &err) < 0)
                count = 0;
            for (size_t i = 0; i < count; i++) {
                if (entries[i].type == REPO_ENTRY_FILE &&
                    strcmp(entries[i].path, "adapter_config.json") == 0)
                    is_adapter = true;
            }
        } else if (repo_entry_stat(&entry, git, commit, "adapter_config.json", &err) == 0) {
            is_adapter = entry.type == REPO_ENTRY_FILE;
            free(entry.path);
        }
    }
    tags = tags_build(card, row, is_adapter);
    if (list_entry_matches(o, card, tags)) {
        obj = repo_summary(row);
        json_object_set_new(obj, "sha", json_string(commit));
        card_fields_add(obj, card);
        json_object_set(obj, "tags", tags);
        if (o->full && has_commit)
            json_object_set_new(obj, "siblings",
                                siblings_build(&is_adapter, entries, count, false));
        if (card != NULL && o->card_data)
            json_object_set(obj, "cardData", card);
        if (has_commit && (o->config || o->safetensors))
            model_fields_add(obj, req, row, git, commit, entries, count, o->safetensors, o->config);
    }
    repo_entries_free(entries, count);
    json_decref(tags);
    json_decref(card);
    repo_close(git);
    return obj;
}

int hf_repo_list_handle(struct http_request *req, void *arg, struct hub_error *err)
{
    struct meta_repo_query q = {0};
    struct meta_repo *rows = NULL;
    struct list_options options;
    size_t count = 0, total = 0, matched = 0;
    uint64_t limit = http_request_config(req)->max_page_items, offset = 0;
    bool filtered;
    json_t *list = NULL;
    int rc;

    if (!hf_type_from_segment(&q.type, http_request_segment(req, 1)))
        return http_reply_error(req, 404, "unknown repo type");
    rc = list_params_check(req);
    if (rc != 0 || http_reply_is_queued(req))
        return rc;
    if (http_request_query(req, "limit") != NULL &&
        (parse_count(&limit, http_request_query(req, "limit")) < 0 || limit == 0))
        return http_reply_error(req, 400, "invalid limit '%s': expected a positive number",
                                http_request_query(req, "limit"));
    if (limit > http_request_config(req)->max_page_items)
        limit = http_request_config(req)->max_page_items;
    if (limit >= HUB_MAX_LIST_LIMIT)
        limit = HUB_MAX_LIST_LIMIT - 1; /* one more row is read to see whether a page follows */
    if (http_request_query(req, "cursor") != NULL &&
        parse_count(&offset, http_request_query(req, "cursor")) < 0)
        return hf_reply_bad_cursor(req);
    rc = list_options_parse(&options, req, q.type);
    if (rc != 0 || http_reply_is_queued(req))
        return rc;
    rc = list_sort_parse(&q, req);
    if (rc != 0 || http_reply_is_queued(req))
        return rc;
    q.search = http_request_query(req, "search");
    q.author = http_request_query(req, "author");
    q.viewer_user_id = http_request_user(req)->id;
    q.offset = (size_t)offset;
    /* With filters the page is filled from as many rows as it takes. */
    filtered = options.filter_count > 0 || options.pipeline_tag != NULL;
    q.limit = filtered ? HUB_MAX_LIST_LIMIT : (size_t)limit + 1;
    rc = meta_repo_list(&rows, &count, &total, http_request_db(req), &q, err);
    if (rc < 0)
        return rc;
    list = json_array();
    for (size_t i = 0; i < count && matched < limit; i++) {
        json_t *entry = list_entry(req, &rows[i], &options);

        q.offset++;
        if (entry == NULL)
            continue;
        json_array_append_new(list, entry);
        matched++;
    }
    if (q.offset < offset + count || (!filtered && count > limit) ||
        (filtered && count == HUB_MAX_LIST_LIMIT))
        link_next_add(req, q.offset);
    free(rows);
    return http_reply_json(req, 200, list);
}
