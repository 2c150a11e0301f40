/* git_fixture: prepares a data directory for the git end-to-end test with the storage layer
 * itself (no daemon, no admin command): users alice (owner of every repo) and bob, tokens,
 * and the repos
 *   alice/stories   public, the files of a model folder (*.safetensors and *.bin as LFS)
 *   alice/secret    private, one README.md
 *   alice/adapters  public, only .gitattributes, for pushes
 *   alice/guarded   public, branch main protected against force pushes
 *   alice/corpus    a public dataset with one README.md
 *   class/shared    public, owned by organisation class where alice and bob may write
 * Usage: git_fixture DATA_DIR MODEL_DIR. Prints shell assignments (NAME=value) of the token
 * secrets on stdout; exits 1 with a message on stderr when a step fails. */
#include "git_settings.h"
#include "meta.h"
#include "meta_lfs.h"
#include "meta_org.h"
#include "meta_repo.h"
#include "meta_token.h"
#include "meta_user.h"
#include "repo.h"
#include "storage.h"
#include "store.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_FILES 64
#define MAX_NAME 600 /* a relative path of two directory entries */

static int fail(const char *step, const struct hub_error *err)
{
    fprintf(stderr, "git_fixture: %s failed: %s\n", step, err->msg);
    return 1;
}

static bool is_lfs_name(const char *name)
{
    size_t len = strlen(name);

    return (len > 12 && strcmp(name + len - 12, ".safetensors") == 0) ||
           (len > 4 && strcmp(name + len - 4, ".bin") == 0);
}

static int read_file(char **out, size_t *len, const char *path)
{
    FILE *f = fopen(path, "rb");
    long size;

    if (f == NULL)
        return -1;
    fseek(f, 0, SEEK_END);
    size = ftell(f);
    rewind(f);
    *out = malloc(size > 0 ? (size_t)size : 1);
    if (*out == NULL || fread(*out, 1, (size_t)size, f) != (size_t)size) {
        fclose(f);
        free(*out);
        return -1;
    }
    fclose(f);
    *len = (size_t)size;
    return 0;
}

/* Collects the regular files of dir and of its subfolders one level down. */
static size_t list_files(char paths[][MAX_NAME], const char *dir)
{
    size_t count = 0;
    DIR *top = opendir(dir);
    struct dirent *de;

    while (top != NULL && (de = readdir(top)) != NULL && count < MAX_FILES) {
        char full[4096];
        struct stat st;

        if (de->d_name[0] == '.')
            continue;
        if (snprintf(full, sizeof(full), "%s/%s", dir, de->d_name) >= (int)sizeof(full) ||
            stat(full, &st) != 0)
            continue;
        if (S_ISREG(st.st_mode)) {
            snprintf(paths[count++], MAX_NAME, "%s", de->d_name);
        } else if (S_ISDIR(st.st_mode)) {
            DIR *sub = opendir(full);
            struct dirent *se;

            while (sub != NULL && (se = readdir(sub)) != NULL && count < MAX_FILES) {
                if (se->d_name[0] != '.')
                    snprintf(paths[count++], MAX_NAME, "%s/%s", de->d_name, se->d_name);
            }
            if (sub != NULL)
                closedir(sub);
        }
    }
    if (top != NULL)
        closedir(top);
    return count;
}

/* Commits every file of model_dir to main of r in one commit. */
static int import_model(struct repo *r, struct store *st, struct meta *db, int64_t repo_id,
                        const char *model_dir, struct hub_error *err)
{
    static char paths[MAX_FILES][MAX_NAME];
    static char oids[MAX_FILES][STORE_OID_HEX_BYTES + 1];
    struct repo_op ops[MAX_FILES];
    char *data[MAX_FILES] = {NULL};
    char commit[REPO_OID_HEX_BYTES + 1];
    size_t count = list_files(paths, model_dir);
    int rc = 0;

    memset(ops, 0, sizeof(ops));
    for (size_t i = 0; rc == 0 && i < count; i++) {
        char full[4096];
        size_t len = 0;

        if (snprintf(full, sizeof(full), "%s/%s", model_dir, paths[i]) >= (int)sizeof(full) ||
            read_file(&data[i], &len, full) != 0) {
            rc = hub_error_set(err, HUB_EIO, "cannot read %s", full);
            break;
        }
        ops[i].path = paths[i];
        if (is_lfs_name(paths[i])) {
            rc = store_put_buf(oids[i], st, data[i], len, err);
            if (rc == 0)
                rc = meta_lfs_object_add(db, oids[i], len, err);
            if (rc == 0)
                rc = meta_lfs_link(db, repo_id, oids[i], err);
            ops[i].kind = REPO_OP_ADD_LFS;
            ops[i].lfs_oid = oids[i];
            ops[i].lfs_size = len;
        } else {
            ops[i].kind = REPO_OP_ADD_FILE;
            ops[i].data = data[i];
            ops[i].len = len;
        }
    }
    if (rc == 0) {
        struct repo_commit_request creq = {
            .branch = "main",
            .author_name = "Fixture",
            .author_email = "fixture@localhost",
            .message = "Import the model",
            .ops = ops,
            .n_ops = count,
        };

        rc = repo_commit(commit, r, &creq, err);
    }
    for (size_t i = 0; i < count; i++)
        free(data[i]);
    return rc;
}

static int repo_make_typed(struct meta_repo *out, struct meta *db, const char *data_dir,
                           enum hub_repo_type type, const char *name, bool is_private,
                           const char *readme, struct hub_error *err)
{
    struct repo_create_opts opts = {.readme = readme};
    int rc = meta_repo_insert(out, db, type, "alice", name, is_private, err);

    if (rc == 0)
        rc = repo_create(NULL, data_dir, type, "alice", name, &opts, err);
    return rc;
}

static int repo_make(struct meta_repo *out, struct meta *db, const char *data_dir,
                     const char *name, bool is_private, const char *readme,
                     struct hub_error *err)
{
    return repo_make_typed(out, db, data_dir, HUB_REPO_MODEL, name, is_private, readme, err);
}

/* Creates organisation class with alice and bob as writers, and its repo class/shared. */
static int class_repo_make(struct meta *db, const char *data_dir, int64_t alice, int64_t bob,
                           struct hub_error *err)
{
    struct repo_create_opts opts = {.readme = "# Shared\n"};
    struct meta_repo repo;
    int64_t org = 0;
    int rc;

    rc = meta_org_add(&org, db, "class", err);
    if (rc == 0)
        rc = meta_org_member_set(db, org, alice, META_ROLE_WRITE, err);
    if (rc == 0)
        rc = meta_org_member_set(db, org, bob, META_ROLE_WRITE, err);
    if (rc == 0)
        rc = meta_repo_insert(&repo, db, HUB_REPO_MODEL, "class", "shared", false, err);
    if (rc == 0)
        rc = repo_create(NULL, data_dir, HUB_REPO_MODEL, "class", "shared", &opts, err);
    return rc;
}

int main(int argc, char **argv)
{
    struct hub_error err = HUB_ERROR_INIT;
    struct meta *db = NULL;
    struct store *st = NULL;
    struct repo *r = NULL;
    struct meta_repo repo;
    char write_token[META_TOKEN_SECRET_BYTES + 1];
    char read_token[META_TOKEN_SECRET_BYTES + 1];
    char bob_token[META_TOKEN_SECRET_BYTES + 1];
    int64_t alice = 0;
    int64_t bob = 0;

    if (argc != 3) {
        fprintf(stderr, "usage: git_fixture DATA_DIR MODEL_DIR\n");
        return 2;
    }
    if (storage_init(&err) < 0 || storage_layout_create(argv[1], &err) < 0)
        return fail("storage setup", &err);
    if (meta_open(&db, argv[1], META_OPEN_MIGRATE, &err) < 0)
        return fail("meta_open", &err);
    if (store_open(&st, argv[1], &err) < 0)
        return fail("store_open", &err);
    if (meta_user_add(&alice, db, "alice", NULL, false, &err) < 0 ||
        meta_user_add(&bob, db, "bob", NULL, false, &err) < 0)
        return fail("user add", &err);
    if (meta_token_create(write_token, NULL, db, alice, "write", META_SCOPE_WRITE, &err) < 0 ||
        meta_token_create(read_token, NULL, db, alice, "read", META_SCOPE_READ, &err) < 0 ||
        meta_token_create(bob_token, NULL, db, bob, "bob", META_SCOPE_WRITE, &err) < 0)
        return fail("token create", &err);
    if (repo_make(&repo, db, argv[1], "stories", false, NULL, &err) < 0)
        return fail("create alice/stories", &err);
    if (repo_open(&r, argv[1], HUB_REPO_MODEL, "alice", "stories", &err) < 0 ||
        import_model(r, st, db, repo.id, argv[2], &err) < 0)
        return fail("import into alice/stories", &err);
    repo_close(r);
    if (repo_make(&repo, db, argv[1], "secret", true, "# Secret\n", &err) < 0)
        return fail("create alice/secret", &err);
    if (repo_make(&repo, db, argv[1], "adapters", false, NULL, &err) < 0)
        return fail("create alice/adapters", &err);
    if (repo_make(&repo, db, argv[1], "guarded", false, "# Guarded\n", &err) < 0 ||
        gitsettings_branch_protect(db, repo.id, "main", true, NULL, &err) < 0)
        return fail("create alice/guarded", &err);
    if (repo_make_typed(&repo, db, argv[1], HUB_REPO_DATASET, "corpus", false, "# Corpus\n",
                        &err) < 0)
        return fail("create dataset alice/corpus", &err);
    if (class_repo_make(db, argv[1], alice, bob, &err) < 0)
        return fail("create class/shared", &err);
    printf("WRITE_TOKEN=%s\nREAD_TOKEN=%s\nBOB_TOKEN=%s\n", write_token, read_token, bob_token);
    store_close(st);
    meta_close(db);
    storage_shutdown();
    return 0;
}
