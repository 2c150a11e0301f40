/* jobs_publish: the commit of a training job's result. The commit message ends with an
 * "Atelier-Job: ID" trailer. When a retried job finds this trailer on main's head, an
 * earlier attempt already committed, so the result lands exactly once. */
#include "jobs_publish.h"

#include "hub_limits.h"
#include "hub_log.h"
#include "hub_name.h"
#include "meta_lfs.h"
#include "meta_repo.h"
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define JOBS_LOG_COMMIT_MAX_BYTES (4u << 20) /* the tail of a longer log is committed */
#define JOBS_COMMIT_TRIES         3

/* Reads at most max_bytes of path into a malloc'd buffer; with keep_tail a longer file gives
 * its last max_bytes, else it is an error. */
static int file_read(char **out, size_t *len_out, const char *path, size_t max_bytes,
                     bool keep_tail, struct hub_error *err)
{
    struct stat st;
    char *buf = NULL;
    size_t want, got = 0;
    off_t start = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    *out = NULL;
    *len_out = 0;
    if (fd < 0)
        return hub_error_set_errno(err, errno == ENOENT ? HUB_ENOTFOUND : HUB_EIO, errno,
                                   "cannot open %s", path);
    if (fstat(fd, &st) < 0) {
        close(fd);
        return hub_error_set_errno(err, HUB_EIO, errno, "cannot stat %s", path);
    }
    want = (size_t)st.st_size;
    if (want > max_bytes) {
        if (!keep_tail) {
            close(fd);
            return hub_error_set(err, HUB_ETOOBIG, "%s is over %zu bytes", path, max_bytes);
        }
        start = (off_t)(want - max_bytes);
        want = max_bytes;
    }
    buf = malloc(want + 1);
    if (buf == NULL) {
        close(fd);
        return hub_error_set(err, HUB_ENOMEM, "cannot allocate %zu bytes for %s", want, path);
    }
    while (got < want) {
        ssize_t n = pread(fd, buf + got, want - got, start + (off_t)got);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    buf[got] = '\0';
    *out = buf;
    *len_out = got;
    return 0;
}

/* Stores the adapter weights in the blob store and lets repo_id read them. */
static int weights_store(char oid_out[STORE_OID_HEX_BYTES + 1], uint64_t *size_out, struct meta *db,
                         const char *data_dir, int64_t repo_id, const char *path,
                         struct hub_error *err)
{
    struct store *st = NULL;
    int fd = -1;
    int rc;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return hub_error_set_errno(err, errno == ENOENT ? HUB_ENOTFOUND : HUB_EIO, errno,
                                   "cannot open %s", path);
    rc = store_open(&st, data_dir, err);
    if (rc == 0)
        rc = store_put_fd(oid_out, size_out, st, fd, HUB_MAX_LFS_OBJECT_BYTES, err);
    if (rc == 0)
        rc = meta_lfs_object_add(db, oid_out, *size_out, err);
    if (rc == 0)
        rc = meta_lfs_link(db, repo_id, oid_out, err);
    close(fd);
    store_close(st);
    return rc;
}

/* Returns whether main's head commit of r carries this job's trailer; sets commit_out. */
static bool already_committed(char commit_out[REPO_OID_HEX_BYTES + 1], struct repo *r,
                              int64_t job_id)
{
    struct repo_commit_info info;
    struct hub_error ignored = HUB_ERROR_INIT;
    char trailer[64];
    bool found;

    memset(&info, 0, sizeof(info));
    if (repo_commit_get(&info, r, REPO_DEFAULT_BRANCH, &ignored) < 0)
        return false;
    snprintf(trailer, sizeof(trailer), "\nAtelier-Job: %lld\n", (long long)job_id);
    found = info.message != NULL && strstr(info.message, trailer) != NULL;
    if (found)
        memcpy(commit_out, info.id, sizeof(info.id));
    repo_commit_info_dispose(&info);
    return found;
}

/* The small files of the commit, read from the adapter folder. */
struct publish_files {
    char *config, *card, *results, *log;
    size_t config_len, card_len, results_len, log_len;
};

static void publish_files_dispose(struct publish_files *f)
{
    free(f->config);
    free(f->card);
    free(f->results);
    free(f->log);
}

static int card_extend(struct publish_files *f, const char *extra, struct hub_error *err)
{
    size_t extra_len = extra != NULL ? strlen(extra) : 0;
    char *grown;

    if (extra_len == 0)
        return 0;
    grown = realloc(f->card, f->card_len + extra_len + 1);
    if (grown == NULL)
        return hub_error_set(err, HUB_ENOMEM, "cannot allocate the model card");
    memcpy(grown + f->card_len, extra, extra_len + 1);
    f->card = grown;
    f->card_len += extra_len;
    return 0;
}

static int publish_files_read(struct publish_files *f, const struct jobs_publish_request *request,
                              struct hub_error *err)
{
    char path[4096];
    int rc;

    snprintf(path, sizeof(path), "%s/adapter_config.json", request->out_dir);
    rc = file_read(&f->config, &f->config_len, path, HUB_MAX_GIT_FILE_BYTES, false, err);
    if (rc == 0) {
        snprintf(path, sizeof(path), "%s/README.md", request->out_dir);
        rc = file_read(&f->card, &f->card_len, path, HUB_MAX_GIT_FILE_BYTES, false, err);
    }
    if (rc == 0) {
        snprintf(path, sizeof(path), "%s/train_results.json", request->out_dir);
        rc = file_read(&f->results, &f->results_len, path, HUB_MAX_GIT_FILE_BYTES, false, err);
    }
    if (rc == 0)
        rc = file_read(&f->log, &f->log_len, request->log_path, JOBS_LOG_COMMIT_MAX_BYTES, true,
                       err);
    if (rc == 0)
        rc = card_extend(f, request->card_extra, err);
    return rc;
}

static int commit_files(char commit_out[REPO_OID_HEX_BYTES + 1], struct repo *r,
                        const struct jobs_publish_request *request, const struct publish_files *f,
                        const char *oid, uint64_t size, struct hub_error *err)
{
    struct repo_op ops[6];
    struct repo_commit_request commit;
    char message[2048];
    size_t n = 0;

    memset(ops, 0, sizeof(ops));
    ops[n++] = (struct repo_op){.kind = REPO_OP_ADD_FILE,
                                .path = "adapter_config.json",
                                .data = f->config,
                                .len = f->config_len};
    ops[n++] = (struct repo_op){.kind = REPO_OP_ADD_LFS,
                                .path = "adapter_model.safetensors",
                                .lfs_oid = oid,
                                .lfs_size = size};
    ops[n++] = (struct repo_op){
        .kind = REPO_OP_ADD_FILE, .path = "README.md", .data = f->card, .len = f->card_len};
    ops[n++] = (struct repo_op){.kind = REPO_OP_ADD_FILE,
                                .path = "train_results.json",
                                .data = f->results,
                                .len = f->results_len};
    ops[n++] = (struct repo_op){
        .kind = REPO_OP_ADD_FILE, .path = "training.log", .data = f->log, .len = f->log_len};
    if (request->eval_json != NULL)
        ops[n++] = (struct repo_op){.kind = REPO_OP_ADD_FILE,
                                    .path = "eval_results.json",
                                    .data = request->eval_json,
                                    .len = strlen(request->eval_json)};
    snprintf(message, sizeof(message), "%s\n\nAtelier-Job: %lld\n", request->message,
             (long long)request->job_id);
    memset(&commit, 0, sizeof(commit));
    commit.branch = REPO_DEFAULT_BRANCH;
    commit.author_name = request->owner;
    commit.author_email = "jobs@atelier.invalid";
    commit.message = message;
    commit.ops = ops;
    commit.n_ops = n;
    return repo_commit(commit_out, r, &commit, err);
}

int jobs_publish(char commit_out[REPO_OID_HEX_BYTES + 1], struct meta *db,
                 const struct jobs_publish_request *request, struct hub_error *err)
{
    char ns[HUB_MAX_REPO_NAME_BYTES + 1], name[HUB_MAX_REPO_NAME_BYTES + 1];
    char oid[STORE_OID_HEX_BYTES + 1], path[4096];
    struct publish_files files;
    struct meta_repo row;
    struct repo *r = NULL;
    uint64_t size = 0;
    int rc;

    memset(&files, 0, sizeof(files));
    rc = hub_repo_id_parse(ns, name, request->output_repo, err);
    if (rc == 0)
        rc = meta_repo_get(&row, db, HUB_REPO_MODEL, ns, name, err);
    if (rc == 0)
        rc = repo_open(&r, request->data_dir, HUB_REPO_MODEL, ns, name, err);
    if (rc < 0)
        goto out;
    if (already_committed(commit_out, r, request->job_id)) {
        hub_log(HUB_LOG_INFO, "jobs", "an earlier attempt already committed job=%lld commit=%s",
                (long long)request->job_id, commit_out);
        goto record;
    }
    rc = publish_files_read(&files, request, err);
    if (rc < 0)
        goto out;
    snprintf(path, sizeof(path), "%s/adapter_model.safetensors", request->out_dir);
    rc = weights_store(oid, &size, db, request->data_dir, row.id, path, err);
    if (rc < 0)
        goto out;
    /* A push that moves main between reading its head and updating it makes repo_commit
     * fail with HUB_ECONFLICT; the commit is rebuilt on the new head. */
    for (int tries = 0; tries < JOBS_COMMIT_TRIES; tries++) {
        rc = commit_files(commit_out, r, request, &files, oid, size, err);
        if (rc != HUB_ECONFLICT)
            break;
        hub_log(HUB_LOG_WARN, "jobs", "main moved while committing, trying again job=%lld",
                (long long)request->job_id);
    }
    if (rc < 0)
        goto out;
record:
    rc = meta_repo_touch(db, row.id, commit_out, err);
    if (rc == 0)
        rc = meta_repo_set_base_model(db, row.id, request->base_repo, err);
out:
    publish_files_dispose(&files);
    repo_close(r);
    return rc;
}
