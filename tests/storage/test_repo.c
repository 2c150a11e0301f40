/* Tests for repo_*: bare repos made with libgit2 in a temp data directory, commits of files
 * and LFS pointers, tree listings, reads, refs, the log, parent conflicts and deletion. */
#include "fixture.h"
#include "harness.h"

#include "lfs_attributes.h"
#include "lfs_pointer.h"
#include "repo.h"
#include "repo_internal.h"
#include "storage.h"
#include "store.h"

#include <errno.h>
#include <git2.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

static const char oid_a[] = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

static int commit_ops(char *out, struct repo *r, const char *branch, const char *parent,
                      const struct repo_op *ops, size_t n, struct hub_error *err)
{
    struct repo_commit_request req = {0};

    req.branch = branch;
    req.expected_parent = parent;
    req.author_name = "Alice";
    req.author_email = "alice@example.org";
    req.message = "Add files\n\nWith a description.";
    req.ops = ops;
    req.n_ops = n;
    return repo_commit(out, r, &req, err);
}

static const struct repo_entry *find_entry(const struct repo_entry *e, size_t n, const char *path)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(e[i].path, path) == 0)
            return &e[i];
    }
    return NULL;
}

static void test_create_and_initial_tree(const char *data)
{
    struct hub_error err = HUB_ERROR_INIT;
    struct repo_create_opts opts = {0};
    struct repo_entry *entries = NULL;
    struct repo *r = NULL;
    char first[41], resolved[41], path[4096];
    size_t n = 0;
    char *text = NULL;
    size_t len = 0;

    opts.readme = "# demo\n";
    CHECK_EQ_INT(repo_create(first, data, HUB_REPO_MODEL, "alice", "m1", &opts, &err), 0);
    CHECK_EQ_INT(repo_create(NULL, data, HUB_REPO_MODEL, "alice", "m1", &opts, &err),
                 HUB_ECONFLICT);
    snprintf(path, sizeof(path), "%s/repos/models/alice/m1.git/HEAD", data);
    CHECK(access(path, F_OK) == 0);
    CHECK_EQ_INT(repo_open(&r, data, HUB_REPO_MODEL, "alice", "m1", &err), 0);
    CHECK_EQ_INT(repo_revision_resolve(resolved, r, "main", &err), 0);
    CHECK_EQ_STR(resolved, first);
    CHECK_EQ_INT(repo_revision_resolve(resolved, r, "HEAD", &err), 0);
    CHECK_EQ_STR(resolved, first);
    CHECK_EQ_INT(repo_revision_resolve(resolved, r, "refs/heads/main", &err), 0);
    CHECK_EQ_STR(resolved, first);
    CHECK_EQ_INT(repo_revision_resolve(resolved, r, first, &err), 0);
    CHECK_EQ_STR(resolved, first);
    char short_id[8];
    memcpy(short_id, first, 7);
    short_id[7] = '\0';
    CHECK_EQ_INT(repo_revision_resolve(resolved, r, short_id, &err), 0);
    CHECK_EQ_STR(resolved, first);
    CHECK_EQ_INT(repo_revision_resolve(resolved, r, "nope", &err), HUB_ENOTFOUND);
    CHECK_EQ_INT(repo_revision_resolve(resolved, r, "main~1", &err), HUB_ENOTFOUND);
    CHECK_EQ_INT(repo_tree_list(&entries, &n, r, "main", "", false, &err), 0);
    CHECK_EQ_INT(n, 2);
    CHECK(find_entry(entries, n, ".gitattributes") != NULL);
    CHECK(find_entry(entries, n, "README.md") != NULL);
    repo_entries_free(entries, n);
    CHECK_EQ_INT(repo_file_read(&text, &len, r, "main", ".gitattributes", 0, &err), 0);
    CHECK(text != NULL &&
          strstr(text, "*.safetensors filter=lfs diff=lfs merge=lfs -text") != NULL);
    free(text);
    CHECK_EQ_INT(repo_file_read(&text, &len, r, "main", "missing.txt", 0, &err), HUB_ENOTFOUND);
    CHECK_EQ_INT(repo_file_read(&text, &len, r, "main", "../etc/passwd", 0, &err), HUB_EINVAL);
    repo_close(r);
    CHECK_EQ_INT(repo_open(&r, data, HUB_REPO_MODEL, "alice", "missing", &err), HUB_ENOTFOUND);
    CHECK_EQ_INT(repo_create(NULL, data, HUB_REPO_MODEL, "alice", "bad..name", NULL, &err),
                 HUB_EINVAL);
}

static void test_commit_files_and_lfs(const char *data)
{
    struct hub_error err = HUB_ERROR_INIT;
    struct repo_entry *entries = NULL;
    struct repo_entry stat_entry;
    struct repo *r = NULL;
    char head[41], c1[41], c2[41];
    const struct repo_entry *e;
    size_t n = 0, len = 0;
    char *text = NULL;
    struct repo_op ops[4] = {
        {REPO_OP_ADD_FILE, "config.json", "{\"a\":1}\n", 8, NULL, 0},
        {REPO_OP_ADD_FILE, "sub/dir/notes.txt", "hello", 5, NULL, 0},
        {REPO_OP_ADD_LFS, "weights/model.safetensors", NULL, 0, oid_a, 5000},
        {REPO_OP_ADD_LFS, "data/raw blob.dat", NULL, 0, oid_a, 5000},
    };

    CHECK_EQ_INT(repo_open(&r, data, HUB_REPO_MODEL, "alice", "m1", &err), 0);
    CHECK_EQ_INT(repo_revision_resolve(head, r, "main", &err), 0);
    CHECK_EQ_INT(commit_ops(c1, r, "main", head, ops, 4, &err), 0);
    CHECK(strcmp(c1, head) != 0);

    CHECK_EQ_INT(repo_tree_list(&entries, &n, r, "main", "", true, &err), 0);
    e = find_entry(entries, n, "weights/model.safetensors");
    CHECK(e != NULL && e->is_lfs);
    CHECK(e != NULL && e->size == 5000);
    CHECK(e != NULL && strcmp(e->lfs_oid, oid_a) == 0);
    CHECK(e != NULL && e->pointer_size > 100 && e->pointer_size < 200);
    e = find_entry(entries, n, "sub/dir");
    CHECK(e != NULL && e->type == REPO_ENTRY_DIRECTORY);
    e = find_entry(entries, n, "sub/dir/notes.txt");
    CHECK(e != NULL && e->type == REPO_ENTRY_FILE && e->size == 5 && !e->is_lfs);
    /* git blob id of "hello", as `git hash-object` prints it */
    CHECK(e != NULL && strcmp(e->oid, "b6fc4c620b67d95f953a5c1c1230aaab5db5a1b0") == 0);
    repo_entries_free(entries, n);

    CHECK_EQ_INT(repo_tree_list(&entries, &n, r, "main", "sub", false, &err), 0);
    CHECK_EQ_INT(n, 1);
    CHECK(n == 1 && strcmp(entries[0].path, "sub/dir") == 0);
    repo_entries_free(entries, n);
    CHECK_EQ_INT(repo_tree_list(&entries, &n, r, "main", "config.json", false, &err),
                 HUB_ENOTFOUND);
    CHECK_EQ_INT(repo_tree_list(&entries, &n, r, "main", "nope", false, &err), HUB_ENOTFOUND);

    /* The path no default rule matches got an exact rule with [[:space:]] for the space. */
    CHECK_EQ_INT(repo_file_read(&text, &len, r, "main", ".gitattributes", 0, &err), 0);
    CHECK(text != NULL && strstr(text, "data/raw[[:space:]]blob.dat filter=lfs") != NULL);
    CHECK(text != NULL && strstr(text, "weights/model.safetensors filter=lfs") == NULL);
    free(text);

    CHECK_EQ_INT(repo_file_read(&text, &len, r, "main", "weights/model.safetensors", 0, &err), 0);
    CHECK(text != NULL && lfs_pointer_is_pointer(text, len));
    free(text);

    CHECK_EQ_INT(repo_entry_stat(&stat_entry, r, "main", "sub", &err), 0);
    CHECK_EQ_INT(stat_entry.type, REPO_ENTRY_DIRECTORY);
    free(stat_entry.path);
    CHECK_EQ_INT(repo_entry_stat(&stat_entry, r, "main", "", &err), 0);
    CHECK_EQ_INT(stat_entry.type, REPO_ENTRY_DIRECTORY);
    free(stat_entry.path);
    CHECK_EQ_INT(repo_entry_stat(&stat_entry, r, "main", "nope.txt", &err), HUB_ENOTFOUND);

    /* A stale parent is a conflict and changes nothing. */
    struct repo_op replace = {REPO_OP_ADD_FILE, "config.json", "{}", 2, NULL, 0};
    CHECK_EQ_INT(commit_ops(c2, r, "main", head, &replace, 1, &err), HUB_ECONFLICT);
    CHECK(strstr(err.msg, head) != NULL);
    CHECK_EQ_INT(repo_revision_resolve(c2, r, "main", &err), 0);
    CHECK_EQ_STR(c2, c1);

    /* Deletes: a missing file is not found, with the text clients look for. */
    struct repo_op del_missing = {REPO_OP_DELETE_FILE, "nope.txt", NULL, 0, NULL, 0};
    CHECK_EQ_INT(commit_ops(c2, r, "main", NULL, &del_missing, 1, &err), HUB_ENOTFOUND);
    CHECK(strstr(err.msg, "A file with this name doesn't exist") != NULL);
    struct repo_op dels[2] = {
        {REPO_OP_DELETE_FILE, "config.json", NULL, 0, NULL, 0},
        {REPO_OP_DELETE_FOLDER, "sub/", NULL, 0, NULL, 0},
    };
    CHECK_EQ_INT(commit_ops(c2, r, "main", c1, dels, 2, &err), 0);
    CHECK_EQ_INT(repo_file_read(&text, &len, r, "main", "config.json", 0, &err), HUB_ENOTFOUND);
    CHECK_EQ_INT(repo_file_read(&text, &len, r, "main", "sub/dir/notes.txt", 0, &err),
                 HUB_ENOTFOUND);
    CHECK_EQ_INT(repo_file_read(&text, &len, r, c1, "config.json", 0, &err), 0);
    CHECK(text != NULL && len == 8 && memcmp(text, "{\"a\":1}\n", 8) == 0);
    free(text);

    /* Bad operations are rejected before anything is written. */
    struct repo_op bad_path = {REPO_OP_ADD_FILE, "a/../b", "x", 1, NULL, 0};
    CHECK_EQ_INT(commit_ops(c2, r, "main", NULL, &bad_path, 1, &err), HUB_EINVAL);
    struct repo_op git_path = {REPO_OP_ADD_FILE, ".git/config", "x", 1, NULL, 0};
    CHECK_EQ_INT(commit_ops(c2, r, "main", NULL, &git_path, 1, &err), HUB_EINVAL);
    struct repo_op bad_oid = {REPO_OP_ADD_LFS, "w.bin", NULL, 0, "ABC", 1};
    CHECK_EQ_INT(commit_ops(c2, r, "main", NULL, &bad_oid, 1, &err), HUB_EINVAL);
    CHECK_EQ_INT(commit_ops(c2, r, "nobranch", NULL, &replace, 1, &err), HUB_ENOTFOUND);
    repo_close(r);
}

/* The lfs_store of the tests below: it puts the bytes into a real blob store and counts the
 * calls. With fail set it returns HUB_EIO instead. */
struct lfs_store_calls {
    struct store *store;
    size_t count;
    bool fail;
};

static int lfs_store_into(void *ctx, const char *path, const void *data, size_t len,
                          char oid_out[65], struct hub_error *err)
{
    struct lfs_store_calls *calls = ctx;

    (void)path;
    calls->count++;
    if (calls->fail)
        return hub_error_set(err, HUB_EIO, "disk full");
    return store_put_buf(oid_out, calls->store, data, len, err);
}

static int commit_ops_lfs(char *out, struct repo *r, struct lfs_store_calls *calls,
                          const struct repo_op *ops, size_t n, struct hub_error *err)
{
    struct repo_commit_request req = {0};

    req.branch = "main";
    req.author_name = "Alice";
    req.author_email = "alice@example.org";
    req.message = "Add files";
    req.ops = ops;
    req.n_ops = n;
    req.lfs_store = lfs_store_into;
    req.lfs_store_ctx = calls;
    return repo_commit(out, r, &req, err);
}

/* Reads the entry of the file at path on main into e, zeroed when that fails. */
static void stat_main_file(struct repo_entry *e, struct repo *r, const char *path)
{
    struct hub_error err = HUB_ERROR_INIT;

    memset(e, 0, sizeof(*e));
    CHECK_EQ_INT(repo_entry_stat(e, r, "main", path, &err), 0);
    CHECK_EQ_INT(e->type, REPO_ENTRY_FILE);
}

static void test_commit_stores_lfs_files(const char *data)
{
    struct hub_error err = HUB_ERROR_INIT;
    struct lfs_store_calls calls = {0};
    struct repo_entry e;
    struct repo *r = NULL;
    struct lfs_pointer given = {{0}, 5000};
    char weights[3000], pointer[LFS_POINTER_MAX_BYTES], attributes[4096];
    char head[41], c1[41], c2[41], weights_oid[65];
    size_t pointer_len;
    uint64_t stored_size = 0;
    bool exists = false;

    for (size_t i = 0; i < sizeof(weights); i++)
        weights[i] = (char)(i * 7);
    memcpy(given.oid, oid_a, 65);
    pointer_len = lfs_pointer_format(pointer, sizeof(pointer), &given);
    snprintf(attributes, sizeof(attributes), "%s*.csv filter=lfs diff=lfs merge=lfs -text\n",
             lfs_attributes_default_text());
    CHECK_EQ_INT(store_open(&calls.store, data, &err), 0);
    CHECK_EQ_INT(store_sha256_hex(weights_oid, weights, sizeof(weights), &err), 0);
    CHECK_EQ_INT(repo_create(head, data, HUB_REPO_MODEL, "alice", "stored", NULL, &err), 0);
    CHECK_EQ_INT(repo_open(&r, data, HUB_REPO_MODEL, "alice", "stored", &err), 0);

    /* The *.csv rule comes in the same commit, so it applies to table.csv. */
    struct repo_op ops[6] = {
        {REPO_OP_ADD_FILE, "model.safetensors", weights, sizeof(weights), NULL, 0},
        {REPO_OP_ADD_FILE, "notes.txt", "hello", 5, NULL, 0},
        {REPO_OP_ADD_FILE, "empty.bin", "", 0, NULL, 0},
        {REPO_OP_ADD_FILE, "given.bin", pointer, pointer_len, NULL, 0},
        {REPO_OP_ADD_FILE, "data/table.csv", "a,b\n", 4, NULL, 0},
        {REPO_OP_ADD_FILE, ".gitattributes", attributes, strlen(attributes), NULL, 0},
    };
    CHECK_EQ_INT(commit_ops_lfs(c1, r, &calls, ops, 6, &err), 0);
    CHECK_EQ_INT(calls.count, 2);
    CHECK_EQ_INT(store_blob_stat(&exists, &stored_size, calls.store, weights_oid, &err), 0);
    CHECK(exists);
    CHECK_EQ_INT(stored_size, sizeof(weights));

    stat_main_file(&e, r, "model.safetensors");
    CHECK(e.is_lfs);
    CHECK_EQ_INT(e.size, sizeof(weights));
    CHECK_EQ_STR(e.lfs_oid, weights_oid);
    free(e.path);
    stat_main_file(&e, r, "data/table.csv");
    CHECK(e.is_lfs);
    CHECK_EQ_INT(e.size, 4);
    free(e.path);
    stat_main_file(&e, r, "notes.txt");
    CHECK(!e.is_lfs);
    CHECK_EQ_INT(e.size, 5);
    free(e.path);
    stat_main_file(&e, r, "empty.bin");
    CHECK(!e.is_lfs);
    CHECK_EQ_INT(e.size, 0);
    free(e.path);
    /* Content that is a pointer already is committed as it came. */
    stat_main_file(&e, r, "given.bin");
    CHECK(e.is_lfs);
    CHECK_EQ_STR(e.lfs_oid, oid_a);
    CHECK_EQ_INT(e.size, 5000);
    free(e.path);
    stat_main_file(&e, r, ".gitattributes");
    CHECK(!e.is_lfs);
    CHECK_EQ_INT(e.size, strlen(attributes));
    free(e.path);

    /* A failed store fails the whole commit. */
    struct repo_op more = {REPO_OP_ADD_FILE, "more.safetensors", "xyz", 3, NULL, 0};
    calls.fail = true;
    CHECK_EQ_INT(commit_ops_lfs(c2, r, &calls, &more, 1, &err), HUB_EIO);
    CHECK(strstr(err.msg, "disk full") != NULL);
    CHECK_EQ_INT(repo_revision_resolve(c2, r, "main", &err), 0);
    CHECK_EQ_STR(c2, c1);

    /* Without .gitattributes no rule routes the file, so it stays a git blob. */
    struct repo_op unrouted[2] = {
        {REPO_OP_DELETE_FILE, ".gitattributes", NULL, 0, NULL, 0},
        {REPO_OP_ADD_FILE, "more.safetensors", "xyz", 3, NULL, 0},
    };
    calls.fail = false;
    calls.count = 0;
    CHECK_EQ_INT(commit_ops_lfs(c2, r, &calls, unrouted, 2, &err), 0);
    CHECK_EQ_INT(calls.count, 0);
    stat_main_file(&e, r, "more.safetensors");
    CHECK(!e.is_lfs);
    CHECK_EQ_INT(e.size, 3);
    free(e.path);

    /* Without lfs_store every file is a git blob, as before. */
    struct repo_op plain[2] = {
        {REPO_OP_ADD_FILE, ".gitattributes", attributes, strlen(attributes), NULL, 0},
        {REPO_OP_ADD_FILE, "plain.safetensors", "abc", 3, NULL, 0},
    };
    CHECK_EQ_INT(commit_ops(c2, r, "main", NULL, plain, 2, &err), 0);
    stat_main_file(&e, r, "plain.safetensors");
    CHECK(!e.is_lfs);
    CHECK_EQ_INT(e.size, 3);
    free(e.path);
    repo_close(r);
    store_close(calls.store);
}

static void test_path_limits(const char *data)
{
    struct hub_error err = HUB_ERROR_INIT;
    struct repo *r = NULL;
    char path[HUB_MAX_PATH_BYTES + 2], out[41];
    struct repo_op op = {REPO_OP_ADD_FILE, path, "x", 1, NULL, 0};

    CHECK_EQ_INT(repo_open(&r, data, HUB_REPO_MODEL, "alice", "m1", &err), 0);
    /* segments of 200 bytes keep every file name under the 255-byte filesystem limit */
    memset(path, 'p', HUB_MAX_PATH_BYTES);
    for (size_t i = 200; i < HUB_MAX_PATH_BYTES; i += 201)
        path[i] = '/';
    path[HUB_MAX_PATH_BYTES] = '\0';
    CHECK_EQ_INT(commit_ops(out, r, "main", NULL, &op, 1, &err), 0);
    path[HUB_MAX_PATH_BYTES] = 'p';
    path[HUB_MAX_PATH_BYTES + 1] = '\0';
    CHECK_EQ_INT(commit_ops(out, r, "main", NULL, &op, 1, &err), HUB_ETOOBIG);
    repo_close(r);
}

static void test_commit_limits(const char *data)
{
    struct hub_error err = HUB_ERROR_INIT;
    struct repo_commit_request req = {0};
    struct repo_op *ops = NULL;
    struct repo *r = NULL;
    char text[HUB_MAX_COMMIT_MESSAGE_BYTES + 2], rev[HUB_MAX_REVISION_BYTES + 2], out[41];
    char *big = NULL;

    CHECK_EQ_INT(repo_open(&r, data, HUB_REPO_MODEL, "alice", "m1", &err), 0);
    ops = calloc(HUB_MAX_COMMIT_OPS + 1, sizeof(*ops));
    for (size_t i = 0; i <= HUB_MAX_COMMIT_OPS; i++)
        ops[i] = (struct repo_op){REPO_OP_ADD_FILE, "same.txt", "s", 1, NULL, 0};
    req.branch = "main";
    req.author_name = "Alice";
    req.author_email = "alice@example.org";
    req.message = "Limits";
    req.ops = ops;

    /* operations per commit */
    req.n_ops = HUB_MAX_COMMIT_OPS;
    CHECK_EQ_INT(repo_commit(out, r, &req, &err), 0);
    req.n_ops = HUB_MAX_COMMIT_OPS + 1;
    CHECK_EQ_INT(repo_commit(out, r, &req, &err), HUB_ETOOBIG);
    req.n_ops = 1;

    /* commit message */
    memset(text, 'm', HUB_MAX_COMMIT_MESSAGE_BYTES);
    text[HUB_MAX_COMMIT_MESSAGE_BYTES] = '\0';
    req.message = text;
    CHECK_EQ_INT(repo_commit(out, r, &req, &err), 0);
    text[HUB_MAX_COMMIT_MESSAGE_BYTES] = 'm';
    text[HUB_MAX_COMMIT_MESSAGE_BYTES + 1] = '\0';
    CHECK_EQ_INT(repo_commit(out, r, &req, &err), HUB_ETOOBIG);
    req.message = "";
    CHECK_EQ_INT(repo_commit(out, r, &req, &err), HUB_EINVAL);
    req.message = "Limits";

    /* author name */
    memset(text, 'a', HUB_MAX_AUTHOR_BYTES);
    text[HUB_MAX_AUTHOR_BYTES] = '\0';
    req.author_name = text;
    CHECK_EQ_INT(repo_commit(out, r, &req, &err), 0);
    text[HUB_MAX_AUTHOR_BYTES] = 'a';
    text[HUB_MAX_AUTHOR_BYTES + 1] = '\0';
    CHECK_EQ_INT(repo_commit(out, r, &req, &err), HUB_ETOOBIG);
    req.author_name = "Alice";

    /* file size in git */
    big = calloc(1, HUB_MAX_GIT_FILE_BYTES);
    ops[0] = (struct repo_op){REPO_OP_ADD_FILE, "zeros.bin", big, HUB_MAX_GIT_FILE_BYTES, NULL, 0};
    CHECK_EQ_INT(repo_commit(out, r, &req, &err), 0);
    ops[0].len = HUB_MAX_GIT_FILE_BYTES + 1;
    CHECK_EQ_INT(repo_commit(out, r, &req, &err), HUB_ETOOBIG);
    free(big);

    /* revision length: the max is a valid (missing) revision, one past is too long */
    memset(rev, 'r', HUB_MAX_REVISION_BYTES);
    rev[HUB_MAX_REVISION_BYTES] = '\0';
    CHECK_EQ_INT(repo_revision_resolve(out, r, rev, &err), HUB_ENOTFOUND);
    rev[HUB_MAX_REVISION_BYTES] = 'r';
    rev[HUB_MAX_REVISION_BYTES + 1] = '\0';
    CHECK_EQ_INT(repo_revision_resolve(out, r, rev, &err), HUB_ETOOBIG);
    free(ops);
    repo_close(r);
}

static void test_refs_and_log(const char *data)
{
    struct hub_error err = HUB_ERROR_INIT;
    struct repo_commit_info *log = NULL, info;
    struct repo_ref *refs = NULL;
    struct repo *r = NULL;
    char main_head[41], out[41], branch[HUB_MAX_REVISION_BYTES + 1];
    size_t n = 0, total = 0;
    bool saw_tag = false, saw_branch = false;

    CHECK_EQ_INT(repo_open(&r, data, HUB_REPO_MODEL, "alice", "m1", &err), 0);
    CHECK_EQ_INT(repo_revision_resolve(main_head, r, "main", &err), 0);
    CHECK_EQ_INT(repo_branch_create(r, "dev", NULL, &err), 0);
    CHECK_EQ_INT(repo_branch_create(r, "dev", NULL, &err), HUB_ECONFLICT);
    CHECK_EQ_INT(repo_branch_create(r, "bad..name", NULL, &err), HUB_EINVAL);
    /* A valid ref name that `git check-ref-format --branch` rejects. */
    CHECK_EQ_INT(repo_branch_create(r, "-x", NULL, &err), HUB_EINVAL);
    CHECK(strstr(err.msg, "'-x': a branch name may not start with '-'") != NULL);
    CHECK_EQ_INT(repo_branch_create(r, "refs/heads/-y", NULL, &err), HUB_EINVAL);
    CHECK_EQ_INT(repo_branch_create(r, "x", "nope", &err), HUB_ENOTFOUND);
    CHECK(repo_revision_is_branch(branch, r, "refs/heads/dev"));
    CHECK_EQ_STR(branch, "dev");
    CHECK_EQ_INT(repo_tag_create(r, "v1.0", "main", "Release 1.0", "Alice", "a@x.org", &err), 0);
    CHECK_EQ_INT(repo_tag_create(r, "light", "dev", NULL, NULL, NULL, &err), 0);
    CHECK_EQ_INT(repo_tag_create(r, "v1.0", "main", NULL, NULL, NULL, &err), HUB_ECONFLICT);
    CHECK(!repo_revision_is_branch(NULL, r, "v1.0"));
    CHECK_EQ_INT(repo_revision_resolve(out, r, "v1.0", &err), 0);
    CHECK_EQ_STR(out, main_head);

    /* Committing to a tag is invalid; a new branch can be created from a revision. */
    struct repo_op op = {REPO_OP_ADD_FILE, "feature.txt", "f", 1, NULL, 0};
    CHECK_EQ_INT(commit_ops(out, r, "v1.0", NULL, &op, 1, &err), HUB_EINVAL);
    struct repo_commit_request req = {0};
    req.branch = "feature/x";
    req.create_from = "v1.0";
    req.author_name = "Bob";
    req.author_email = "bob@example.org";
    req.message = "Start feature";
    req.ops = &op;
    req.n_ops = 1;
    CHECK_EQ_INT(repo_commit(out, r, &req, &err), 0);
    CHECK(repo_revision_is_branch(NULL, r, "feature/x"));

    CHECK_EQ_INT(repo_refs_list(&refs, &n, r, &err), 0);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(refs[i].ref, "refs/tags/v1.0") == 0) {
            saw_tag = refs[i].kind == REPO_REF_TAG && strcmp(refs[i].target, main_head) == 0;
        }
        if (strcmp(refs[i].ref, "refs/heads/feature/x") == 0)
            saw_branch = refs[i].kind == REPO_REF_BRANCH && strcmp(refs[i].name, "feature/x") == 0;
    }
    CHECK(saw_tag);
    CHECK(saw_branch);
    CHECK_EQ_INT(n, 5);
    free(refs);

    CHECK_EQ_INT(repo_log(&log, &n, &total, r, "main", 0, 2, &err), 0);
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_INT(total, 4);
    CHECK(n > 0 && strcmp(log[0].id, main_head) == 0);
    CHECK(n > 1 && strcmp(log[0].parent, log[1].id) == 0);
    repo_commits_free(log, n);
    CHECK_EQ_INT(repo_log(&log, &n, &total, r, "main", 3, 10, &err), 0);
    CHECK_EQ_INT(n, 1);
    CHECK(n == 1 && strcmp(log[0].title, "Initial commit") == 0);
    CHECK(n == 1 && log[0].parent[0] == '\0');
    repo_commits_free(log, n);
    CHECK_EQ_INT(repo_log(&log, &n, &total, r, "main", 0, HUB_MAX_LIST_LIMIT + 1, &err),
                 HUB_EINVAL);

    CHECK_EQ_INT(repo_commit_get(&info, r, "main~0", &err), HUB_ENOTFOUND);
    CHECK_EQ_INT(repo_last_commit(&info, r, "main", "weights/model.safetensors", &err), 0);
    CHECK_EQ_STR(info.title, "Add files");
    CHECK_EQ_STR(info.author_name, "Alice");
    repo_commit_info_dispose(&info);
    CHECK_EQ_INT(repo_last_commit(&info, r, "main", "README.md", &err), 0);
    CHECK_EQ_STR(info.title, "Initial commit");
    repo_commit_info_dispose(&info);
    CHECK_EQ_INT(repo_last_commit(&info, r, "main", "nope", &err), HUB_ENOTFOUND);

    /* The batch form agrees with one call per path. */
    const char *const paths[] = {"weights/model.safetensors", "README.md", "nope", "",
                                 "feature.txt"};
    struct repo_commit_info many[5];
    CHECK_EQ_INT(repo_last_commits(many, r, "main", paths, 5, &err), 0);
    for (size_t i = 0; i < 5; i++) {
        struct repo_commit_info one;
        int rc_one = repo_last_commit(&one, r, "main", paths[i], &err);

        if (rc_one == 0)
            CHECK_EQ_STR(many[i].id, one.id);
        else
            CHECK_EQ_STR(many[i].id, "");
        repo_commit_info_dispose(&one);
        repo_commit_info_dispose(&many[i]);
    }

    CHECK_EQ_INT(repo_tag_delete(r, "light", &err), 0);
    CHECK_EQ_INT(repo_tag_delete(r, "light", &err), HUB_ENOTFOUND);
    CHECK_EQ_INT(repo_branch_delete(r, "dev", &err), 0);
    CHECK_EQ_INT(repo_branch_delete(r, "main", &err), HUB_EINVAL);
    CHECK_EQ_INT(repo_branch_delete(r, "dev", &err), HUB_ENOTFOUND);
    repo_close(r);
}

static int count_lfs(void *ctx, const char *oid, uint64_t size, const char *path)
{
    (void)path;
    if (strcmp(oid, oid_a) == 0 && size == 5000)
        (*(int *)ctx)++;
    return 0;
}

static void test_lfs_walk_and_attributes(const char *data)
{
    struct hub_error err = HUB_ERROR_INIT;
    struct lfs_attributes *attrs = NULL;
    struct repo *r = NULL;
    int seen = 0;

    CHECK_EQ_INT(repo_open(&r, data, HUB_REPO_MODEL, "alice", "m1", &err), 0);
    CHECK_EQ_INT(repo_lfs_foreach(r, count_lfs, &seen, &err), 0);
    CHECK(seen >= 1);
    CHECK_EQ_INT(repo_lfs_attributes_load(&attrs, r, "main", &err), 0);
    CHECK(lfs_attributes_match(attrs, "x/y.bin"));
    CHECK(lfs_attributes_match(attrs, "data/raw blob.dat"));
    CHECK(!lfs_attributes_match(attrs, "config.json"));
    lfs_attributes_free(attrs);
    repo_close(r);
}

#define WRITER_COMMITS 10

struct writer {
    const char *data;
    int index;
    int failures;
};

/* Commits WRITER_COMMITS files to main from its own repo handle, as an HTTP thread would. */
static void *writer_run(void *arg)
{
    struct writer *w = arg;
    struct hub_error err = HUB_ERROR_INIT;
    struct repo *r = NULL;
    char path[64], out[41];

    if (repo_open(&r, w->data, HUB_REPO_MODEL, "alice", "m1", &err) < 0) {
        w->failures = WRITER_COMMITS;
        return NULL;
    }
    for (int i = 0; i < WRITER_COMMITS; i++) {
        struct repo_op op = {REPO_OP_ADD_FILE, path, "x", 1, NULL, 0};

        snprintf(path, sizeof(path), "writer%d/file%d.txt", w->index, i);
        if (commit_ops(out, r, "main", NULL, &op, 1, &err) < 0)
            w->failures++;
    }
    repo_close(r);
    return NULL;
}

static void test_concurrent_commits(const char *data)
{
    struct hub_error err = HUB_ERROR_INIT;
    struct writer writers[2] = {{data, 0, 0}, {data, 1, 0}};
    struct repo_commit_info *log = NULL;
    struct repo_entry *entries = NULL;
    pthread_t threads[2];
    struct repo *r = NULL;
    size_t n = 0, before = 0, after = 0;

    CHECK_EQ_INT(repo_open(&r, data, HUB_REPO_MODEL, "alice", "m1", &err), 0);
    CHECK_EQ_INT(repo_log(&log, &n, &before, r, "main", 0, 1, &err), 0);
    repo_commits_free(log, n);
    for (int i = 0; i < 2; i++)
        pthread_create(&threads[i], NULL, writer_run, &writers[i]);
    for (int i = 0; i < 2; i++)
        pthread_join(threads[i], NULL);
    CHECK_EQ_INT(writers[0].failures, 0);
    CHECK_EQ_INT(writers[1].failures, 0);
    /* The lock serialises the writers, so no commit is lost. */
    CHECK_EQ_INT(repo_log(&log, &n, &after, r, "main", 0, 1, &err), 0);
    repo_commits_free(log, n);
    CHECK_EQ_INT(after, before + 2 * WRITER_COMMITS);
    CHECK_EQ_INT(repo_tree_list(&entries, &n, r, "main", "writer1", false, &err), 0);
    CHECK_EQ_INT(n, WRITER_COMMITS);
    repo_entries_free(entries, n);
    repo_close(r);
}

static void test_delete(const char *data)
{
    struct hub_error err = HUB_ERROR_INIT;
    struct repo *r = NULL;

    CHECK_EQ_INT(repo_delete(data, HUB_REPO_MODEL, "alice", "m1", &err), 0);
    CHECK_EQ_INT(repo_open(&r, data, HUB_REPO_MODEL, "alice", "m1", &err), HUB_ENOTFOUND);
    CHECK_EQ_INT(repo_delete(data, HUB_REPO_MODEL, "alice", "m1", &err), HUB_ENOTFOUND);
    CHECK_EQ_INT(repo_create(NULL, data, HUB_REPO_DATASET, "alice", "m1", NULL, &err), 0);
    CHECK_EQ_INT(repo_open(&r, data, HUB_REPO_DATASET, "alice", "m1", &err), 0);
    repo_close(r);
}

static struct repo_op add_text(const char *path, const char *text)
{
    struct repo_op op = {.kind = REPO_OP_ADD_FILE, .path = path, .data = text, .len = strlen(text)};

    return op;
}

/* Pull request refs: validity, commits onto refs/pr/N, fast-forward and two-parent merges,
 * conflicts, dry runs and a source with nothing to merge. */
static void test_pull_requests(const char *data)
{
    struct hub_error err = HUB_ERROR_INIT;
    struct repo_merge_request mreq = {0};
    struct repo_merge_result res = {0};
    struct repo_commit_request creq = {0};
    struct repo_commit_info info = {0};
    struct repo_entry entry = {0};
    struct repo *r = NULL;
    char base[41], pr_head[41], main_head[41], resolved[41];
    struct repo_op op;

    CHECK(repo_pr_ref_is_valid("refs/pr/1"));
    CHECK(repo_pr_ref_is_valid("refs/pr/123456789"));
    CHECK(!repo_pr_ref_is_valid("refs/pr/0"));
    CHECK(!repo_pr_ref_is_valid("refs/pr/01"));
    CHECK(!repo_pr_ref_is_valid("refs/pr/1x"));
    CHECK(!repo_pr_ref_is_valid("refs/pr/"));
    CHECK(!repo_pr_ref_is_valid("refs/pr/1234567890"));
    CHECK(!repo_pr_ref_is_valid("refs/heads/pr/1"));

    CHECK_EQ_INT(repo_create(base, data, HUB_REPO_MODEL, "alice", "prs", NULL, &err), 0);
    CHECK_EQ_INT(repo_open(&r, data, HUB_REPO_MODEL, "alice", "prs", &err), 0);

    /* A commit with create_from makes refs/pr/1; main stays where it was. */
    op = add_text("a.txt", "pr\n");
    creq.branch = "refs/pr/1";
    creq.create_from = base;
    creq.author_name = "Bob";
    creq.author_email = "bob@example.org";
    creq.message = "Propose a.txt";
    creq.ops = &op;
    creq.n_ops = 1;
    CHECK_EQ_INT(repo_commit(pr_head, r, &creq, &err), 0);
    CHECK_EQ_INT(repo_revision_resolve(resolved, r, "refs/pr/1", &err), 0);
    CHECK_EQ_STR(resolved, pr_head);
    CHECK_EQ_INT(repo_revision_resolve(resolved, r, "main", &err), 0);
    CHECK_EQ_STR(resolved, base);
    CHECK_EQ_INT(repo_pr_ref_create(r, "refs/pr/1", "main", &err), HUB_ECONFLICT);
    CHECK_EQ_INT(repo_pr_ref_create(r, "refs/heads/x", "main", &err), HUB_EINVAL);
    CHECK_EQ_INT(repo_merge_base(resolved, r, "main", "refs/pr/1", &err), 0);
    CHECK_EQ_STR(resolved, base);

    /* main has not moved: the merge fast-forwards. */
    mreq.branch = "main";
    mreq.source = "refs/pr/1";
    mreq.author_name = "Alice";
    mreq.author_email = "alice@example.org";
    mreq.message = "Merge pull request #1";
    CHECK_EQ_INT(repo_merge(&res, r, &mreq, &err), 0);
    CHECK(res.fast_forward);
    CHECK_EQ_STR(res.commit, pr_head);
    repo_merge_result_dispose(&res);
    CHECK_EQ_INT(repo_merge(&res, r, &mreq, &err), HUB_EINVAL);
    CHECK(strstr(err.msg, "no commits") != NULL);
    repo_merge_result_dispose(&res);

    /* Both sides changed other files: a merge commit with two parents. */
    CHECK_EQ_INT(repo_pr_ref_create(r, "refs/pr/2", "main", &err), 0);
    op = add_text("b.txt", "pr\n");
    creq.branch = "refs/pr/2";
    creq.create_from = NULL;
    CHECK_EQ_INT(repo_commit(pr_head, r, &creq, &err), 0);
    op = add_text("c.txt", "main\n");
    CHECK_EQ_INT(commit_ops(main_head, r, "main", NULL, &op, 1, &err), 0);
    mreq.source = "refs/pr/2";
    mreq.dry_run = true;
    CHECK_EQ_INT(repo_merge(&res, r, &mreq, &err), 0);
    CHECK_EQ_STR(res.commit, "");
    repo_merge_result_dispose(&res);
    mreq.dry_run = false;
    CHECK_EQ_INT(repo_merge(&res, r, &mreq, &err), 0);
    CHECK(!res.fast_forward);
    CHECK_EQ_INT(repo_commit_get(&info, r, "main", &err), 0);
    CHECK_EQ_STR(info.id, res.commit);
    CHECK_EQ_STR(info.parent, main_head);
    CHECK_EQ_STR(info.title, "Merge pull request #1");
    CHECK_EQ_INT(info.n_parents, 2);
    if (info.n_parents == 2) {
        CHECK_EQ_STR(info.parents[0], main_head);
        CHECK_EQ_STR(info.parents[1], pr_head);
    }
    repo_commit_info_dispose(&info);
    CHECK_EQ_INT(repo_entry_stat(&entry, r, "main", "b.txt", &err), 0);
    free(entry.path);
    CHECK_EQ_STR(res.branch_commit, main_head);

    /* The range main_head..main contains the merge commit and the commit that it brought in from
     * refs/pr/2, which a first-parent log would skip. */
    {
        struct repo_commit_info *range = NULL;
        size_t n = 0;

        CHECK_EQ_INT(repo_log_range(&range, &n, r, "main", main_head, 10, &err), 0);
        CHECK_EQ_INT(n, 2);
        if (n == 2) {
            CHECK_EQ_STR(range[0].id, res.commit);
            CHECK_EQ_STR(range[1].id, pr_head);
        }
        repo_commits_free(range, n);
        CHECK_EQ_INT(repo_log_range(&range, &n, r, "refs/pr/2", "main", 10, &err), 0);
        CHECK_EQ_INT(n, 0);
        CHECK(range == NULL);
        CHECK_EQ_INT(repo_log_range(&range, &n, r, "main", NULL, 1, &err), 0);
        CHECK_EQ_INT(n, 1);
        repo_commits_free(range, n);
        CHECK_EQ_INT(repo_log_range(&range, &n, r, "main", "nothing", 10, &err), HUB_ENOTFOUND);
        CHECK_EQ_INT(repo_log_range(&range, &n, r, "main", NULL, 0, &err), HUB_EINVAL);
    }
    repo_merge_result_dispose(&res);

    /* The same file changed on both sides: a conflict that names it and moves nothing. */
    CHECK_EQ_INT(repo_pr_ref_create(r, "refs/pr/3", "main", &err), 0);
    op = add_text("a.txt", "pr again\n");
    creq.branch = "refs/pr/3";
    CHECK_EQ_INT(repo_commit(pr_head, r, &creq, &err), 0);
    op = add_text("a.txt", "main again\n");
    CHECK_EQ_INT(commit_ops(main_head, r, "main", NULL, &op, 1, &err), 0);
    mreq.source = "refs/pr/3";
    mreq.dry_run = true;
    CHECK_EQ_INT(repo_merge(&res, r, &mreq, &err), HUB_ECONFLICT);
    CHECK_EQ_INT(res.n_conflicts, 1);
    repo_merge_result_dispose(&res);
    mreq.dry_run = false;
    CHECK_EQ_INT(repo_merge(&res, r, &mreq, &err), HUB_ECONFLICT);
    CHECK_EQ_INT(res.total_conflicts, 1);
    CHECK_EQ_INT(res.n_conflicts, 1);
    if (res.n_conflicts == 1)
        CHECK_EQ_STR(res.conflicts[0], "a.txt");
    CHECK_EQ_STR(err.msg, "refs/pr/3 conflicts with branch 'main' in file a.txt");
    repo_merge_result_dispose(&res);
    CHECK_EQ_INT(repo_revision_resolve(resolved, r, "main", &err), 0);
    CHECK_EQ_STR(resolved, main_head);

    /* Once main contains the pull request, accept_contained merges it without a commit. */
    mreq.source = "refs/pr/2";
    mreq.accept_contained = true;
    mreq.dry_run = true;
    CHECK_EQ_INT(repo_merge(&res, r, &mreq, &err), 0);
    CHECK(res.contained);
    CHECK_EQ_STR(res.commit, "");
    repo_merge_result_dispose(&res);
    mreq.dry_run = false;
    CHECK_EQ_INT(repo_merge(&res, r, &mreq, &err), 0);
    CHECK(res.contained);
    CHECK(!res.fast_forward);
    CHECK_EQ_STR(res.commit, main_head);
    repo_merge_result_dispose(&res);
    CHECK_EQ_INT(repo_revision_resolve(resolved, r, "main", &err), 0);
    CHECK_EQ_STR(resolved, main_head);
    mreq.accept_contained = false;

    /* A conflict in several files names the first three and counts the rest. */
    CHECK_EQ_INT(repo_pr_ref_create(r, "refs/pr/4", "main", &err), 0);
    {
        static const char *const names[] = {"f1.txt", "f2.txt", "f3.txt", "f4.txt", "f5.txt"};
        struct repo_op ops[5];

        for (size_t i = 0; i < 5; i++)
            ops[i] = add_text(names[i], "pr side\n");
        CHECK_EQ_INT(commit_ops(pr_head, r, "refs/pr/4", NULL, ops, 5, &err), 0);
        for (size_t i = 0; i < 5; i++)
            ops[i] = add_text(names[i], "main side\n");
        CHECK_EQ_INT(commit_ops(main_head, r, "main", NULL, ops, 5, &err), 0);
    }
    mreq.source = "refs/pr/4";
    CHECK_EQ_INT(repo_merge(&res, r, &mreq, &err), HUB_ECONFLICT);
    CHECK_EQ_INT(res.total_conflicts, 5);
    CHECK_EQ_STR(err.msg,
                 "refs/pr/4 conflicts with branch 'main' in files f1.txt, f2.txt, f3.txt and 2 "
                 "more");
    repo_merge_result_dispose(&res);

    mreq.branch = "nope";
    CHECK_EQ_INT(repo_merge(&res, r, &mreq, &err), HUB_ENOTFOUND);
    repo_merge_result_dispose(&res);
    repo_close(r);
}

/* repo_changed_paths lists added, changed and deleted files between two commits, in folders
 * too, and nothing for a commit compared with itself. */
static void test_changed_paths(const char *data)
{
    struct hub_error err = HUB_ERROR_INIT;
    struct repo_path_list list = {0};
    struct repo *r = NULL;
    char base[41], first[41], second[41];
    struct repo_op ops[3];

    CHECK_EQ_INT(repo_create(base, data, HUB_REPO_MODEL, "alice", "diffs", NULL, &err), 0);
    CHECK_EQ_INT(repo_open(&r, data, HUB_REPO_MODEL, "alice", "diffs", &err), 0);
    ops[0] = add_text("a.txt", "a\n");
    ops[1] = add_text("b.txt", "b\n");
    ops[2] = add_text("dir/c.txt", "c\n");
    CHECK_EQ_INT(commit_ops(first, r, "main", NULL, ops, 3, &err), 0);
    memset(ops, 0, sizeof(ops));
    ops[0].kind = REPO_OP_DELETE_FILE;
    ops[0].path = "a.txt";
    ops[1] = add_text("b.txt", "b changed\n");
    ops[2] = add_text("dir/d.txt", "d\n");
    CHECK_EQ_INT(commit_ops(second, r, "main", NULL, ops, 3, &err), 0);

    CHECK_EQ_INT(repo_changed_paths(&list, r, first, second, &err), 0);
    CHECK_EQ_INT(list.count, 3);
    if (list.count == 3) {
        CHECK_EQ_STR(list.paths[0], "a.txt");
        CHECK_EQ_STR(list.paths[1], "b.txt");
        CHECK_EQ_STR(list.paths[2], "dir/d.txt");
    }
    repo_path_list_dispose(&list);
    CHECK_EQ_INT(list.count, 0);

    CHECK_EQ_INT(repo_changed_paths(&list, r, "main", second, &err), 0);
    CHECK_EQ_INT(list.count, 0);
    repo_path_list_dispose(&list);
    CHECK_EQ_INT(repo_changed_paths(&list, r, "nope", second, &err), HUB_ENOTFOUND);
    repo_path_list_dispose(&list);
    repo_close(r);
}

/* repo_delete_if_untouched deletes a repo only while main is its one ref and still at the
 * first commit. */
static void test_delete_if_untouched(const char *data)
{
    struct hub_error err = HUB_ERROR_INIT;
    struct repo_op op = {REPO_OP_ADD_FILE, "notes.txt", "hello", 5, NULL, 0};
    struct repo *r = NULL;
    char first[41], second[41];

    /* Another commit on main keeps the repo. */
    CHECK_EQ_INT(repo_create(first, data, HUB_REPO_MODEL, "alice", "committed", NULL, &err), 0);
    CHECK_EQ_INT(repo_open(&r, data, HUB_REPO_MODEL, "alice", "committed", &err), 0);
    CHECK_EQ_INT(commit_ops(second, r, "main", first, &op, 1, &err), 0);
    repo_close(r);
    CHECK_EQ_INT(repo_delete_if_untouched(data, HUB_REPO_MODEL, "alice", "committed", first, &err),
                 HUB_ECONFLICT);
    CHECK(strstr(err.msg, "main is at commit") != NULL);

    /* A branch or a tag at the first commit keeps it too. */
    CHECK_EQ_INT(repo_create(first, data, HUB_REPO_MODEL, "alice", "tagged", NULL, &err), 0);
    CHECK_EQ_INT(repo_open(&r, data, HUB_REPO_MODEL, "alice", "tagged", &err), 0);
    CHECK_EQ_INT(repo_tag_create(r, "v1", "main", NULL, NULL, NULL, &err), 0);
    repo_close(r);
    CHECK_EQ_INT(repo_delete_if_untouched(data, HUB_REPO_MODEL, "alice", "tagged", first, &err),
                 HUB_ECONFLICT);
    CHECK(strstr(err.msg, "refs/tags/v1") != NULL);
    CHECK_EQ_INT(repo_open(&r, data, HUB_REPO_MODEL, "alice", "tagged", &err), 0);
    repo_close(r);

    /* Untouched: deleted. */
    CHECK_EQ_INT(repo_create(first, data, HUB_REPO_MODEL, "alice", "empty", NULL, &err), 0);
    CHECK_EQ_INT(repo_delete_if_untouched(data, HUB_REPO_MODEL, "alice", "empty", first, &err), 0);
    CHECK_EQ_INT(repo_open(&r, data, HUB_REPO_MODEL, "alice", "empty", &err), HUB_ENOTFOUND);
    CHECK_EQ_INT(repo_delete_if_untouched(data, HUB_REPO_MODEL, "alice", "empty", first, &err),
                 HUB_ENOTFOUND);
}

/* One entry of a tree that build_tree writes: a file with text, or a gitlink to commit_hex. */
struct tree_file {
    const char *name;
    const char *text;
    const char *commit_hex;
};

/* Writes a tree of the top-level files, and of one folder when folder is not NULL. */
static void build_tree(git_oid *out, git_repository *git, const struct tree_file *files, size_t n,
                       const char *folder, const struct tree_file *inner, size_t n_inner)
{
    git_treebuilder *tb = NULL, *sub = NULL;
    git_oid id;

    CHECK_EQ_INT(git_treebuilder_new(&tb, git, NULL), 0);
    for (size_t i = 0; i < n; i++) {
        CHECK_EQ_INT(git_blob_create_from_buffer(&id, git, files[i].text, strlen(files[i].text)),
                     0);
        CHECK_EQ_INT(git_treebuilder_insert(NULL, tb, files[i].name, &id, GIT_FILEMODE_BLOB), 0);
    }
    if (folder != NULL) {
        CHECK_EQ_INT(git_treebuilder_new(&sub, git, NULL), 0);
        for (size_t i = 0; i < n_inner; i++) {
            if (inner[i].commit_hex != NULL) {
                CHECK_EQ_INT(git_oid_fromstr(&id, inner[i].commit_hex), 0);
                CHECK_EQ_INT(
                    git_treebuilder_insert(NULL, sub, inner[i].name, &id, GIT_FILEMODE_COMMIT), 0);
            } else {
                CHECK_EQ_INT(
                    git_blob_create_from_buffer(&id, git, inner[i].text, strlen(inner[i].text)), 0);
                CHECK_EQ_INT(
                    git_treebuilder_insert(NULL, sub, inner[i].name, &id, GIT_FILEMODE_BLOB), 0);
            }
        }
        CHECK_EQ_INT(git_treebuilder_write(&id, sub), 0);
        CHECK_EQ_INT(git_treebuilder_insert(NULL, tb, folder, &id, GIT_FILEMODE_TREE), 0);
        git_treebuilder_free(sub);
    }
    CHECK_EQ_INT(git_treebuilder_write(out, tb), 0);
    git_treebuilder_free(tb);
}

/* Writes a commit of tree_id with the given parents, as git commit or git merge would. */
static void write_commit(git_oid *out, git_repository *git, const git_oid *tree_id,
                         const char *message, const git_oid *parent_ids, size_t n_parents)
{
    const git_commit *parents[2] = {NULL, NULL};
    git_signature *sig = NULL;
    git_tree *tree = NULL;

    CHECK(n_parents <= 2);
    for (size_t i = 0; i < n_parents && i < 2; i++)
        CHECK_EQ_INT(git_commit_lookup((git_commit **)&parents[i], git, &parent_ids[i]), 0);
    CHECK_EQ_INT(git_tree_lookup(&tree, git, tree_id), 0);
    CHECK_EQ_INT(git_signature_now(&sig, "Alice", "alice@example.org"), 0);
    CHECK_EQ_INT(
        git_commit_create(out, git, NULL, sig, sig, NULL, message, tree, n_parents, parents), 0);
    git_signature_free(sig);
    git_tree_free(tree);
    for (size_t i = 0; i < 2; i++)
        git_commit_free((git_commit *)parents[i]);
}

static void commit_files(git_oid *out, git_repository *git, const char *message,
                         const struct tree_file *files, size_t n, const git_oid *parent_ids,
                         size_t n_parents)
{
    git_oid tree_id;

    build_tree(&tree_id, git, files, n, NULL, NULL, 0);
    write_commit(out, git, &tree_id, message, parent_ids, n_parents);
}

static void set_ref(git_repository *git, const char *refname, const git_oid *id)
{
    git_reference *ref = NULL;

    CHECK_EQ_INT(git_reference_create(&ref, git, refname, id, 1, "test"), 0);
    git_reference_free(ref);
}

/* Checks that repo_last_commit and repo_last_commits give want_title for each path. */
static void check_last_titles(struct repo *r, const char *rev, const char *const *paths,
                              const char *const *want_titles, size_t n)
{
    struct hub_error err = HUB_ERROR_INIT;
    struct repo_commit_info many[8];

    CHECK(n <= 8);
    for (size_t i = 0; i < n; i++) {
        struct repo_commit_info one;

        CHECK_EQ_INT(repo_last_commit(&one, r, rev, paths[i], &err), 0);
        CHECK_EQ_STR(one.title != NULL ? one.title : "(none)", want_titles[i]);
        repo_commit_info_dispose(&one);
    }
    CHECK_EQ_INT(repo_last_commits(many, r, rev, paths, n, &err), 0);
    for (size_t i = 0; i < n; i++) {
        CHECK_EQ_STR(many[i].title != NULL ? many[i].title : "(none)", want_titles[i]);
        repo_commit_info_dispose(&many[i]);
    }
}

/* Last commits across merges follow git log PATH: a merge that took a file unchanged from one
 * parent is not its last commit, but a merge that resolved a conflict is. */
static void test_last_commit_merges(const char *data)
{
    struct hub_error err = HUB_ERROR_INIT;
    struct repo *r = NULL;
    git_repository *git = NULL;
    git_oid base, side, mainline, merge, fast_forward, clean_merge, theirs;

    CHECK_EQ_INT(repo_create(NULL, data, HUB_REPO_MODEL, "alice", "merges", NULL, &err), 0);
    CHECK_EQ_INT(repo_open(&r, data, HUB_REPO_MODEL, "alice", "merges", &err), 0);
    CHECK_EQ_INT(git_repository_open_bare(&git, repo_path_get(r)), 0);

    /* base -> side (side.txt, both.txt, new.txt), base -> mainline (both.txt, main.txt), and
     * merge of the two with both.txt resolved by hand. */
    const struct tree_file base_files[] = {
        {"both.txt", "b\n", NULL}, {"main.txt", "m0\n", NULL}, {"side.txt", "a\n", NULL}};
    commit_files(&base, git, "base", base_files, 3, NULL, 0);
    const struct tree_file side_files[] = {{"both.txt", "side\n", NULL},
                                           {"main.txt", "m0\n", NULL},
                                           {"new.txt", "new\n", NULL},
                                           {"side.txt", "s2\n", NULL}};
    commit_files(&side, git, "side2", side_files, 4, &base, 1);
    const struct tree_file main_files[] = {
        {"both.txt", "main\n", NULL}, {"main.txt", "m1\n", NULL}, {"side.txt", "a\n", NULL}};
    commit_files(&mainline, git, "mainchange", main_files, 3, &base, 1);
    const struct tree_file merge_files[] = {{"both.txt", "resolved\n", NULL},
                                            {"main.txt", "m1\n", NULL},
                                            {"new.txt", "new\n", NULL},
                                            {"side.txt", "s2\n", NULL}};
    const git_oid merge_parents[] = {mainline, side};
    commit_files(&merge, git, "Merge branch 'side'", merge_files, 4, merge_parents, 2);
    set_ref(git, "refs/heads/main", &merge);

    const char *const paths[] = {"side.txt", "new.txt", "both.txt", "main.txt", ""};
    const char *const at_merge[] = {"side2", "side2", "Merge branch 'side'", "mainchange",
                                    "Merge branch 'side'"};
    check_last_titles(r, "main", paths, at_merge, 5);

    /* A fast-forward adds no merge commit: the walk from its head passes the merge above. */
    const struct tree_file ff_files[] = {{"both.txt", "resolved\n", NULL},
                                         {"main.txt", "m2\n", NULL},
                                         {"new.txt", "new\n", NULL},
                                         {"side.txt", "s2\n", NULL}};
    commit_files(&fast_forward, git, "fast-forward", ff_files, 4, &merge, 1);
    set_ref(git, "refs/heads/ff", &fast_forward);
    const char *const at_ff[] = {"side2", "side2", "Merge branch 'side'", "fast-forward",
                                 "fast-forward"};
    check_last_titles(r, "ff", paths, at_ff, 5);

    /* A merge whose tree equals its first parent's claims nothing; one whose tree equals the
     * second parent's passes each path to that side. */
    const git_oid same_as_first[] = {merge, side};
    commit_files(&clean_merge, git, "Merge again", merge_files, 4, same_as_first, 2);
    set_ref(git, "refs/heads/again", &clean_merge);
    check_last_titles(r, "again", paths, at_merge, 5);
    const git_oid theirs_parents[] = {mainline, side};
    commit_files(&theirs, git, "Merge, taking side", side_files, 4, theirs_parents, 2);
    set_ref(git, "refs/heads/theirs", &theirs);
    const char *const at_theirs[] = {"side2", "side2", "side2", "base", "side2"};
    check_last_titles(r, "theirs", paths, at_theirs, 5);

    git_repository_free(git);
    repo_close(r);
}

/* A folder that holds only a gitlink is listed and listable, and the gitlink is left out. */
static void test_gitlink_folder(const char *data)
{
    static const char sub_commit[] = "1234567890123456789012345678901234567890";
    struct hub_error err = HUB_ERROR_INIT;
    struct repo_entry *entries = NULL, entry = {0};
    struct repo *r = NULL;
    git_repository *git = NULL;
    git_oid tree_id, head;
    size_t n = 0;
    char *text = NULL;
    size_t len = 0;

    CHECK_EQ_INT(repo_create(NULL, data, HUB_REPO_MODEL, "alice", "gitlink", NULL, &err), 0);
    CHECK_EQ_INT(repo_open(&r, data, HUB_REPO_MODEL, "alice", "gitlink", &err), 0);
    CHECK_EQ_INT(git_repository_open_bare(&git, repo_path_get(r)), 0);
    const struct tree_file top[] = {{"README.md", "# sub\n", NULL}};
    const struct tree_file vendor[] = {{"sub", NULL, sub_commit}};
    build_tree(&tree_id, git, top, 1, "vendor", vendor, 1);
    write_commit(&head, git, &tree_id, "Add a submodule", NULL, 0);
    set_ref(git, "refs/heads/main", &head);

    CHECK_EQ_INT(repo_tree_list(&entries, &n, r, "main", "", false, &err), 0);
    CHECK_EQ_INT(n, 2);
    CHECK(find_entry(entries, n, "vendor") != NULL &&
          find_entry(entries, n, "vendor")->type == REPO_ENTRY_DIRECTORY);
    repo_entries_free(entries, n);
    CHECK_EQ_INT(repo_tree_list(&entries, &n, r, "main", "", true, &err), 0);
    CHECK_EQ_INT(n, 2);
    CHECK(find_entry(entries, n, "vendor/sub") == NULL);
    repo_entries_free(entries, n);
    CHECK_EQ_INT(repo_tree_list(&entries, &n, r, "main", "vendor", false, &err), 0);
    CHECK_EQ_INT(n, 0);
    repo_entries_free(entries, n);

    CHECK_EQ_INT(repo_entry_stat(&entry, r, "main", "vendor", &err), 0);
    CHECK_EQ_INT(entry.type, REPO_ENTRY_DIRECTORY);
    free(entry.path);
    CHECK_EQ_INT(repo_entry_stat(&entry, r, "main", "vendor/sub", &err), HUB_ENOTFOUND);
    CHECK(strstr(err.msg, "vendor/sub is a git submodule") != NULL);
    CHECK_EQ_INT(repo_file_read(&text, &len, r, "main", "vendor/sub", 0, &err), HUB_ENOTFOUND);
    CHECK_EQ_INT(repo_tree_list(&entries, &n, r, "main", "vendor/sub", false, &err), HUB_ENOTFOUND);

    git_repository_free(git);
    repo_close(r);
}

/* Tags of a tree or a blob exist but lead to no commit, and the error names the object type. */
static void test_tag_of_tree(const char *data)
{
    struct hub_error err = HUB_ERROR_INIT;
    struct repo_ref *refs = NULL;
    struct repo *r = NULL;
    git_repository *git = NULL;
    git_object *tree = NULL, *blob = NULL;
    git_signature *sig = NULL;
    char out[41];
    git_oid id;
    size_t n = 0;

    CHECK_EQ_INT(repo_create(NULL, data, HUB_REPO_MODEL, "alice", "treetag", NULL, &err), 0);
    CHECK_EQ_INT(repo_open(&r, data, HUB_REPO_MODEL, "alice", "treetag", &err), 0);
    CHECK_EQ_INT(git_repository_open_bare(&git, repo_path_get(r)), 0);
    CHECK_EQ_INT(git_revparse_single(&tree, git, "main^{tree}"), 0);
    CHECK_EQ_INT(git_revparse_single(&blob, git, "main:.gitattributes"), 0);
    CHECK_EQ_INT(git_tag_create_lightweight(&id, git, "treetag", tree, 0), 0);
    CHECK_EQ_INT(git_signature_now(&sig, "Alice", "alice@example.org"), 0);
    CHECK_EQ_INT(git_tag_create(&id, git, "blobtag", blob, sig, "A blob", 0), 0);

    CHECK_EQ_INT(repo_revision_resolve(out, r, "treetag", &err), HUB_EINVAL);
    CHECK_EQ_STR(err.msg, "refs/tags/treetag points to a tree, not a commit. The hub reads only "
                          "branches and tags that point to commits, so tag a commit instead");
    CHECK_EQ_INT(repo_revision_resolve(out, r, "refs/tags/treetag", &err), HUB_EINVAL);
    CHECK(strstr(err.msg, "refs/tags/treetag points to a tree") != NULL);
    CHECK_EQ_INT(repo_revision_resolve(out, r, "blobtag", &err), HUB_EINVAL);
    CHECK(strstr(err.msg, "refs/tags/blobtag points to a blob, not a commit") != NULL);
    CHECK_EQ_INT(repo_revision_resolve(out, r, "nosuchtag", &err), HUB_ENOTFOUND);

    /* refs lists only refs of commits. */
    CHECK_EQ_INT(repo_refs_list(&refs, &n, r, &err), 0);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_STR(n > 0 ? refs[0].ref : "(none)", "refs/heads/main");
    free(refs);

    git_signature_free(sig);
    git_object_free(tree);
    git_object_free(blob);
    git_repository_free(git);
    repo_close(r);
}

/* A libgit2 failure without a message of its own is reported with errno's text, and an OS
 * error keeps errno so the HTTP layer can return 507 for a full disk. */
static void test_git_error_without_message(void)
{
    struct hub_error err = HUB_ERROR_INIT;

    git_error_clear();
    errno = ENOSPC;
    CHECK_EQ_INT(repo_error_from_git(&err, GIT_ERROR, "write object"), HUB_EIO);
    CHECK(strstr(err.msg, "write object failed") != NULL);
    CHECK(strstr(err.msg, "No space left on device") != NULL);
    CHECK(strstr(err.msg, "unknown error") == NULL);
    CHECK_EQ_INT(err.sys_errno, ENOSPC);

    git_error_clear();
    errno = 0;
    CHECK_EQ_INT(repo_error_from_git(&err, GIT_ERROR, "write object"), HUB_EIO);
    CHECK(strstr(err.msg, "unknown error") != NULL);

    git_error_set_str(GIT_ERROR_OS, "failed to write loose object");
    errno = ENOSPC;
    CHECK_EQ_INT(repo_error_from_git(&err, GIT_ERROR, "write object"), HUB_EIO);
    CHECK(strstr(err.msg, "failed to write loose object") != NULL);
    CHECK_EQ_INT(err.sys_errno, ENOSPC);
    git_error_clear();
}

int main(void)
{
    struct hub_error err = HUB_ERROR_INIT;
    char data[512];

    fixture_dir_make(data, sizeof(data));
    CHECK_EQ_INT(storage_init(&err), 0);
    CHECK_EQ_INT(storage_layout_create(data, &err), 0);
    test_create_and_initial_tree(data);
    test_commit_files_and_lfs(data);
    test_commit_stores_lfs_files(data);
    test_path_limits(data);
    test_refs_and_log(data);
    test_commit_limits(data);
    test_lfs_walk_and_attributes(data);
    test_concurrent_commits(data);
    test_delete(data);
    test_pull_requests(data);
    test_changed_paths(data);
    test_delete_if_untouched(data);
    test_last_commit_merges(data);
    test_gitlink_folder(data);
    test_tag_of_tree(data);
    test_git_error_without_message();
    storage_shutdown();
    fixture_dir_remove(data);
    return test_finish();
}
