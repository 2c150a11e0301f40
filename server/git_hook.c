/* git_hook: pre-receive and post-receive for hub repos. pre-receive rejects updates outside
 * refs/heads/, refs/tags/ and refs/pr/N, and updates whose old id no longer matches the ref,
 * because another push won. A pull request ref takes updates only while its pull request is
 * open, only from its author or a writer, never a deletion, and only to commits that contain
 * the pull request's base commit. A user without write access (ATELIER_HOOK_CAN_WRITE=0) may
 * update nothing else. The hook also rejects deleting the default branch, and new branches and
 * tags whose names the Hub API would reject. It rejects force pushes and deletions of protected
 * branches, and files whose paths the commit API would reject. It rejects commits that change
 * a file another user locked with git-lfs, and commits that point to LFS objects the store
 * does not have. It also
 * rejects pointers to objects that the pushing user (ATELIER_HOOK_USER_ID) may not read
 * through any repo. It lists objects with `git rev-list` and `git cat-file`, which see
 * the quarantined objects of the push through the environment that receive-pack sets. It
 * writes "lfs <oid> <size>" lines to the report file so the daemon can link the objects to
 * the repo, and "rejected <status>" when it rejects the push. post-receive appends
 * "update <old> <new> <ref>" lines. */
#include "git_hook.h"

#include "git_hook_objects.h"

#include "hf_commit_parse.h"
#include "hub_limits.h"
#include "hub_name.h"
#include "hub_utf8.h"
#include "lfs_pointer.h"
#include "meta.h"
#include "meta_lfs_access.h"
#include "meta_pr.h"
#include "repo.h"
#include "store.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- Parsers ---------------------------------------------------------------------------- */

static bool is_hex_oid(const char *text)
{
    for (size_t i = 0; i < GITHOOK_OID_HEX; i++) {
        char c = text[i];

        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
    }
    return true;
}

int githook_update_parse(struct githook_update *out, const char *line, size_t len,
                         struct hub_error *err)
{
    size_t ref_len;

    if (len < 2 * GITHOOK_OID_HEX + 3 || line[GITHOOK_OID_HEX] != ' ' ||
        line[2 * GITHOOK_OID_HEX + 1] != ' ')
        return hub_error_set(err, HUB_EINVAL,
                             "invalid ref update line: expected \"<old-id> <new-id> <ref>\"");
    if (!is_hex_oid(line) || !is_hex_oid(line + GITHOOK_OID_HEX + 1))
        return hub_error_set(err, HUB_EINVAL,
                             "invalid ref update line: object ids must be 40 lowercase hex digits");
    ref_len = len - (2 * GITHOOK_OID_HEX + 2);
    if (ref_len > GITHOOK_MAX_REF_BYTES)
        return hub_error_set(err, HUB_EINVAL, "ref name longer than %d bytes",
                             GITHOOK_MAX_REF_BYTES);
    if (memchr(line + 2 * GITHOOK_OID_HEX + 2, '\0', ref_len) != NULL ||
        memchr(line + 2 * GITHOOK_OID_HEX + 2, ' ', ref_len) != NULL)
        return hub_error_set(err, HUB_EINVAL, "ref name contains a space or NUL byte");
    memcpy(out->old_oid, line, GITHOOK_OID_HEX);
    out->old_oid[GITHOOK_OID_HEX] = '\0';
    memcpy(out->new_oid, line + GITHOOK_OID_HEX + 1, GITHOOK_OID_HEX);
    out->new_oid[GITHOOK_OID_HEX] = '\0';
    memcpy(out->ref, line + 2 * GITHOOK_OID_HEX + 2, ref_len);
    out->ref[ref_len] = '\0';
    return 0;
}

bool githook_oid_is_zero(const char *oid)
{
    return strspn(oid, "0") == GITHOOK_OID_HEX && oid[GITHOOK_OID_HEX] == '\0';
}

bool githook_branch_is_listed(const char *list, const char *branch)
{
    size_t len = strlen(branch);

    if (list == NULL || len == 0)
        return false;
    while (*list != '\0') {
        size_t word;

        list += strspn(list, " ,");
        word = strcspn(list, " ,");
        if (word == len && memcmp(list, branch, len) == 0)
            return true;
        list += word;
    }
    return false;
}

/* Reads the update lines of in into a malloc'd array. Returns the count, or -1 after writing
 * the reason to errors. */
static long updates_read(struct githook_update **out, FILE *in, FILE *errors)
{
    struct githook_update *updates = NULL;
    char *line = NULL;
    size_t cap = 0;
    long count = 0;
    ssize_t len;

    updates = calloc(GITHOOK_MAX_UPDATES, sizeof(*updates));
    if (updates == NULL) {
        fprintf(errors, "atelier hook: out of memory\n");
        return -1;
    }
    while ((len = getline(&line, &cap, in)) > 0) {
        struct hub_error err = HUB_ERROR_INIT;

        if (line[len - 1] == '\n')
            len--;
        if (count >= GITHOOK_MAX_UPDATES) {
            fprintf(errors, "atelier hook: more than %d ref updates in one push; push fewer "
                            "refs at a time\n", GITHOOK_MAX_UPDATES);
            count = -1;
            break;
        }
        if (githook_update_parse(&updates[count], line, (size_t)len, &err) < 0) {
            fprintf(errors, "atelier hook: %s\n", err.msg);
            count = -1;
            break;
        }
        count++;
    }
    free(line);
    if (count < 0) {
        free(updates);
        return -1;
    }
    *out = updates;
    return count;
}

/* ---- git child processes ---------------------------------------------------------------- */

/* Opens an unlinked temporary file for the output of a git command. */
static FILE *scratch_open(void)
{
    return tmpfile();
}

/* ---- Checks ----------------------------------------------------------------------------- */

/* Current value of every ref, as "<oid> <refname>" lines in a temporary file. */
static FILE *refs_snapshot(void)
{
    char *argv[] = {"git", "for-each-ref", "--format=%(objectname) %(refname)", NULL};
    FILE *out = scratch_open();

    if (out == NULL)
        return NULL;
    if (githook_git_run(argv, -1, fileno(out), -1) != 0) {
        fclose(out);
        return NULL;
    }
    rewind(out);
    return out;
}

/* Writes the current id of ref into oid, or the zero id when the ref does not exist. */
static void ref_current(char oid[GITHOOK_OID_HEX + 1], FILE *refs, const char *ref)
{
    char line[GITHOOK_OID_HEX + GITHOOK_MAX_REF_BYTES + 8];

    memset(oid, '0', GITHOOK_OID_HEX);
    oid[GITHOOK_OID_HEX] = '\0';
    rewind(refs);
    while (fgets(line, sizeof(line), refs) != NULL) {
        size_t len = strcspn(line, "\n");

        line[len] = '\0';
        if (len > GITHOOK_OID_HEX + 1 && strcmp(line + GITHOOK_OID_HEX + 1, ref) == 0) {
            memcpy(oid, line, GITHOOK_OID_HEX);
            return;
        }
    }
}

static bool is_ancestor(const char *old_oid, const char *new_oid)
{
    char *argv[] = {"git", "merge-base", "--is-ancestor", (char *)old_oid, (char *)new_oid, NULL};

    return githook_git_run(argv, -1, -1, -1) == 0;
}

/* Runs git with argv and writes the first line of its output, without the newline, to out
 * (cap bytes). Returns false when git fails or prints nothing. */
static bool git_output_line(char *const argv[], char *out, size_t cap)
{
    FILE *output = scratch_open();
    bool found = false;

    if (output == NULL)
        return false;
    if (githook_git_run(argv, -1, fileno(output), -1) == 0) {
        rewind(output);
        found = fgets(out, (int)cap, output) != NULL;
        if (found)
            out[strcspn(out, "\n")] = '\0';
        found = found && out[0] != '\0';
    }
    fclose(output);
    return found;
}

/* Writes the ref that HEAD names, the repo's default branch, to out (cap bytes). The hub
 * creates every repo with HEAD at refs/heads/main, which is also the fallback. */
static void default_branch_ref(char *out, size_t cap)
{
    char *argv[] = {"git", "symbolic-ref", "--quiet", "HEAD", NULL};

    if (!git_output_line(argv, out, cap) || strncmp(out, "refs/heads/", 11) != 0)
        snprintf(out, cap, "refs/heads/%s", REPO_DEFAULT_BRANCH);
}

/* Checks the name of a branch or tag that the update creates with the rules the Hub API
 * applies to new branches and tags. Existing refs may still be updated or deleted. */
static bool new_ref_name_is_allowed(const struct githook_update *u, FILE *errors)
{
    struct hub_error err = HUB_ERROR_INIT;
    int rc;

    if (!githook_oid_is_zero(u->old_oid) || githook_oid_is_zero(u->new_oid))
        return true;
    if (strncmp(u->ref, "refs/heads/", 11) == 0)
        rc = hub_branch_name_check(u->ref + 11, &err);
    else
        rc = hub_tag_name_check(u->ref + 10, &err);
    if (rc == 0)
        return true;
    fprintf(errors, "rejected %s: %s\n", u->ref, err.msg);
    return false;
}

/* Checks that the update's old id is still the ref's value. Otherwise another push or an API
 * commit won the race, and the reason goes to errors. */
static bool old_oid_is_current(const struct githook_update *u, FILE *refs, FILE *errors)
{
    char current[GITHOOK_OID_HEX + 1];

    ref_current(current, refs, u->ref);
    if (strcmp(current, u->old_oid) == 0)
        return true;
    fprintf(errors,
            "rejected %s: it changed since you fetched (now %.12s, your push "
            "expected %.12s) because another push or commit won; run `git pull` "
            "and push again\n",
            u->ref, current, u->old_oid);
    return false;
}

bool githook_pr_update_is_allowed(const struct githook_update *u, const struct meta_pr *pr,
                                  const struct githook_push *push, FILE *errors)
{
    const char *api_url =
        push->api_url != NULL && push->api_url[0] != '\0' ? push->api_url : "/api/models/NS/NAME";

    if (pr == NULL) {
        fprintf(errors,
                "rejected %s: no pull request has this ref; open a pull request through the "
                "Hub API (POST %s/discussions with {\"title\": ..., \"pullRequest\": true}, or "
                "a commit with create_pr=1) and push to the refs/pr/N it returns\n",
                u->ref, api_url);
        return false;
    }
    if (githook_oid_is_zero(u->new_oid)) {
        fprintf(errors,
                "rejected %s: pull request refs cannot be deleted; close pull request #%lld "
                "through the Hub API (POST %s/discussions/%lld/status with {\"status\": "
                "\"closed\"}) instead\n",
                u->ref, (long long)pr->number, api_url, (long long)pr->number);
        return false;
    }
    if (pr->status != META_PR_OPEN) {
        fprintf(errors,
                "rejected %s: pull request #%lld is %s; pushes go only to open pull requests, "
                "so %s\n",
                u->ref, (long long)pr->number, meta_pr_status_name(pr->status),
                pr->status == META_PR_MERGED ? "open a new one" : "reopen it or open a new one");
        return false;
    }
    if (!push->can_write && pr->author_id != push->user_id) {
        fprintf(errors,
                "rejected %s: user %s may not push to pull request #%lld: only its author (%s) "
                "and the repo's writers may; open a pull request of your own\n",
                u->ref, push->user_name != NULL ? push->user_name : "?", (long long)pr->number,
                pr->author_name[0] != '\0' ? pr->author_name : "a deleted user");
        return false;
    }
    return true;
}

/* Checks an update of refs/pr/N: the rules of githook_pr_update_is_allowed, the old id, and
 * that the new head contains the pull request's base commit. Forced updates that keep the
 * base commit are allowed, so an author can amend or rebase their commits. The commit list
 * and the diff of a pull request start at its base commit, so a head without it is rejected.
 * The daemon holds the repo lock while receive-pack and this hook run, and merges, status
 * changes and API commits read the status under the same lock, so the status read here still
 * holds when the ref moves. */
static bool pr_update_is_allowed(const struct githook_update *u, FILE *refs, struct meta *db,
                                 const struct githook_push *push, FILE *errors)
{
    struct hub_error err = HUB_ERROR_INIT;
    struct meta_pr pr;
    int rc = HUB_ENOTFOUND;

    if (repo_pr_ref_is_valid(u->ref))
        rc = meta_pr_get(&pr, db, push->repo_id, strtoll(u->ref + 8, NULL, 10), &err);
    if (rc < 0 && rc != HUB_ENOTFOUND) {
        fprintf(errors, "rejected %s: cannot read its pull request: %s\n", u->ref, err.msg);
        return false;
    }
    if (!githook_pr_update_is_allowed(u, rc == 0 ? &pr : NULL, push, errors))
        return false;
    if (!old_oid_is_current(u, refs, errors))
        return false;
    if (!is_ancestor(pr.base_commit, u->new_oid)) {
        fprintf(errors,
                "rejected %s: the new head %.12s does not contain %.12s, the commit pull "
                "request #%lld starts from, and its commits must come after it; rebase them "
                "onto branch %s and push again, or open a new pull request\n",
                u->ref, u->new_oid, pr.base_commit, (long long)pr.number, pr.target_branch);
        return false;
    }
    return true;
}

void githook_ref_kind_reject(const char *ref, FILE *errors)
{
    fprintf(errors,
            "rejected %s: only branches (refs/heads/), tags (refs/tags/) and pull "
            "request refs (refs/pr/N) can be pushed\n",
            ref);
}

void githook_write_access_reject(const char *ref, const char *user_name, const char *api_url,
                                 FILE *errors)
{
    fprintf(errors,
            "rejected %s: pushing to branches and tags needs write access, which user "
            "%s does not have; ask the owner for it, or open a pull request (POST "
            "%s/discussions with {\"title\": ..., \"pullRequest\": true}) and push to "
            "its ref refs/pr/N\n",
            ref, user_name != NULL ? user_name : "?",
            api_url != NULL && api_url[0] != '\0' ? api_url : "/api/models/NS/NAME");
}

/* Checks the ref name, the old id, deletion of the default branch (default_ref) and branch
 * protection of one update, and the pull request rules for refs/pr/N. Returns true when it
 * may go on. Otherwise it writes the reason to errors. */
static bool update_is_allowed(const struct githook_update *u, FILE *refs, const char *protected,
                              const char *default_ref, struct meta *db,
                              const struct githook_push *push, FILE *errors)
{
    bool is_branch = strncmp(u->ref, "refs/heads/", 11) == 0;
    bool is_tag = strncmp(u->ref, "refs/tags/", 10) == 0;

    if (strncmp(u->ref, "refs/pr/", 8) == 0)
        return pr_update_is_allowed(u, refs, db, push, errors);
    if (!is_branch && !is_tag) {
        githook_ref_kind_reject(u->ref, errors);
        return false;
    }
    if (!push->can_write) {
        githook_write_access_reject(u->ref, push->user_name, push->api_url, errors);
        return false;
    }
    if (!old_oid_is_current(u, refs, errors))
        return false;
    /* receive-pack would reject this too, but with advice about receive.denyDeleteCurrent,
     * a setting hub users cannot change. */
    if (githook_oid_is_zero(u->new_oid) && strcmp(u->ref, default_ref) == 0) {
        fprintf(errors,
                "rejected %s: the default branch '%s' cannot be deleted; push new "
                "commits to it instead\n",
                u->ref, u->ref + 11);
        return false;
    }
    if (!new_ref_name_is_allowed(u, errors))
        return false;
    if (!is_branch || !githook_branch_is_listed(protected, u->ref + 11))
        return true;
    if (githook_oid_is_zero(u->new_oid)) {
        fprintf(errors, "rejected %s: branch %s is protected and cannot be deleted\n", u->ref,
                u->ref + 11);
        return false;
    }
    if (!githook_oid_is_zero(u->old_oid) && !is_ancestor(u->old_oid, u->new_oid)) {
        fprintf(errors, "rejected %s: branch %s is protected and refuses force pushes; merge or "
                        "rebase onto %.12s and push again\n", u->ref, u->ref + 11, u->old_oid);
        return false;
    }
    return true;
}

void githook_path_print_quoted(FILE *out, const char *path)
{
    /* A path that is valid UTF-8 keeps its characters readable. Otherwise every byte above
     * 0x7f is escaped too, because a terminal cannot show the bytes that break UTF-8. */
    bool escape_high = !hub_utf8_is_valid(path, strlen(path));

    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)path; *p != '\0'; p++) {
        if (*p == '\\' || *p == '"')
            fprintf(out, "\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", out);
        else if (*p == '\t')
            fputs("\\t", out);
        else if (*p < 0x20 || *p == 0x7f || (escape_high && *p > 0x7f))
            fprintf(out, "\\x%02x", *p);
        else
            fputc(*p, out);
    }
    fputc('"', out);
}

/* Tree ids of an update's new value and of the commit it is compared with: the old value,
 * or the default branch for a new ref. An id is "" when there is no such tree (a deletion, a
 * tag of a blob, or an empty repo). */
struct update_trees {
    char new_tree[GITHOOK_OID_HEX + 1];
    char base_tree[GITHOOK_OID_HEX + 1];
};

/* Copies the first line of batch, when it is an object id, to oid, else sets oid to "". */
static void tree_line_read(char oid[GITHOOK_OID_HEX + 1], FILE *batch, char *line, size_t cap)
{
    oid[0] = '\0';
    if (fgets(line, (int)cap, batch) == NULL)
        return;
    if (strlen(line) == GITHOOK_OID_HEX + 1 && line[GITHOOK_OID_HEX] == '\n' && is_hex_oid(line)) {
        memcpy(oid, line, GITHOOK_OID_HEX);
        oid[GITHOOK_OID_HEX] = '\0';
    }
}

/* Resolves the trees of all updates with one `git cat-file --batch-check`, which prints the
 * id of each "<rev>^{tree}" line or "<rev>^{tree} missing". Returns a malloc'd array, or NULL
 * when git failed. */
static struct update_trees *trees_resolve(const struct githook_update *updates, long count,
                                          const char *default_ref)
{
    char *argv[] = {"git", "cat-file", "--batch-check=%(objectname)", NULL};
    struct update_trees *trees = calloc((size_t)count + 1, sizeof(*trees));
    FILE *names = scratch_open();
    FILE *batch = scratch_open();
    char line[GITHOOK_MAX_REF_BYTES + 64];
    bool ok = trees != NULL && names != NULL && batch != NULL;

    for (long i = 0; ok && i < count; i++) {
        const struct githook_update *u = &updates[i];

        fprintf(names, "%s^{tree}\n%s^{tree}\n", u->new_oid,
                githook_oid_is_zero(u->old_oid) ? default_ref : u->old_oid);
    }
    if (ok) {
        rewind(names);
        ok = githook_git_run(argv, fileno(names), fileno(batch), -1) == 0;
    }
    if (ok) {
        rewind(batch);
        for (long i = 0; i < count; i++) {
            tree_line_read(trees[i].new_tree, batch, line, sizeof(line));
            tree_line_read(trees[i].base_tree, batch, line, sizeof(line));
        }
    }
    if (names != NULL)
        fclose(names);
    if (batch != NULL)
        fclose(batch);
    if (!ok) {
        free(trees);
        return NULL;
    }
    return trees;
}

/* Returns whether the path check of update i can be skipped: its new tree equals the tree it
 * is compared with, or an earlier update has the same pair of trees. Pushes of many tags of
 * a few commits so run one diff per commit. */
static bool trees_checked_before(const struct update_trees *trees, long i)
{
    if (strcmp(trees[i].new_tree, trees[i].base_tree) == 0)
        return true;
    for (long j = 0; j < i; j++) {
        if (strcmp(trees[j].new_tree, trees[i].new_tree) == 0 &&
            strcmp(trees[j].base_tree, trees[i].base_tree) == 0)
            return true;
    }
    return false;
}

/* Lists, NUL-separated, the paths of the new tree of trees that are added or changed against
 * its base tree, or every path when there is no base tree. Returns NULL when the new object
 * has no tree (a tag of a blob) or git failed, with *failed telling the two apart. */
static FILE *changed_paths_list(const struct update_trees *trees, bool *failed)
{
    char new_tree[GITHOOK_OID_HEX + 1];
    char base_tree[GITHOOK_OID_HEX + 1];
    char *diff_argv[] = {"git",         "diff-tree",       "-r",      "-z",     "--no-renames",
                         "--name-only", "--diff-filter=d", base_tree, new_tree, NULL};
    char *list_argv[] = {"git", "ls-tree", "-r", "-z", "--name-only", new_tree, NULL};
    bool has_base = trees->base_tree[0] != '\0';
    FILE *out;

    *failed = false;
    if (trees->new_tree[0] == '\0')
        return NULL;
    memcpy(new_tree, trees->new_tree, sizeof(new_tree));
    memcpy(base_tree, trees->base_tree, sizeof(base_tree));
    out = scratch_open();
    if (out == NULL ||
        githook_git_run(has_base ? diff_argv : list_argv, -1, fileno(out), -1) != 0) {
        if (out != NULL)
            fclose(out);
        *failed = true;
        return NULL;
    }
    rewind(out);
    return out;
}

/* Checks the paths that u adds or changes in its new tree with the file path rules of the
 * commit API (hf_path_check), so every pushed file can be resolved. Files of intermediate
 * commits that the new tree no longer has are not checked, so a mirror with such files in
 * its history can still be pushed. Returns 0, 1 when a path breaks a rule, or 2 when git
 * failed. */
static int update_check_paths(const struct githook_update *u, const struct update_trees *trees,
                              FILE *errors)
{
    enum { MAX_REPORTED = 20 }; /* paths named in the message before the rest are counted */
    bool failed = false;
    FILE *paths = changed_paths_list(trees, &failed);
    char *path = NULL;
    size_t path_cap = 0;
    size_t rejected = 0;

    if (paths == NULL) {
        if (failed)
            fprintf(errors, "atelier hook: cannot list the files of %s\n", u->ref);
        return failed ? 2 : 0;
    }
    while (getdelim(&path, &path_cap, '\0', paths) > 0) {
        char rule[96];

        if (hf_path_rule(path, rule, sizeof(rule)) == 0)
            continue;
        if (++rejected > MAX_REPORTED)
            continue;
        fprintf(errors, "rejected %s: file ", u->ref);
        githook_path_print_quoted(errors, path);
        fprintf(errors,
                " has a path the hub cannot serve: %s; rename or move it and push "
                "again\n",
                rule);
    }
    if (rejected > MAX_REPORTED)
        fprintf(errors, "rejected %s: %zu more files have paths the hub cannot serve\n", u->ref,
                rejected - MAX_REPORTED);
    free(path);
    fclose(paths);
    return rejected > 0 ? 1 : 0;
}

/* Checks that the commits of u change no path that another user locked. locks holds
 * "<owner>\t<path>" lines. Returns 0, 1 when a locked path changed, or 2 when git failed.
 * Only a writer may break another user's lock, so only a writer's message offers
 * `git lfs unlock --force`. A reader reaches this check through a pull request ref. */
static int update_check_locks(const struct githook_update *u, FILE *locks, bool can_write,
                              FILE *errors)
{
    /* --cc lists the paths that a merge commit changes against every parent, so an edit
     * made while resolving a merge is checked too. Without it git log lists no files for a
     * merge. */
    char *argv[] = {"git",         "log",  "--no-renames",     "--format=",
                    "--name-only", "--cc", (char *)u->new_oid, "--not",
                    "--all",       NULL};
    FILE *changed = scratch_open();
    char *path = NULL;
    char *lock = NULL;
    size_t path_cap = 0;
    size_t lock_cap = 0;
    ssize_t path_len;
    int result = 0;

    if (changed == NULL || githook_git_run(argv, -1, fileno(changed), -1) != 0) {
        fprintf(errors, "atelier hook: cannot list the files changed by %s\n", u->ref);
        if (changed != NULL)
            fclose(changed);
        return 2;
    }
    rewind(changed);
    while ((path_len = getline(&path, &path_cap, changed)) > 0) {
        if (path[path_len - 1] == '\n')
            path[--path_len] = '\0';
        if (path_len == 0)
            continue;
        rewind(locks);
        while (getline(&lock, &lock_cap, locks) > 0) {
            char *tab = strchr(lock, '\t');

            lock[strcspn(lock, "\n")] = '\0';
            if (tab == NULL || strcmp(tab + 1, path) != 0)
                continue;
            *tab = '\0';
            if (can_write)
                fprintf(errors,
                        "rejected %s: %s is locked by %s; ask them to run `git lfs "
                        "unlock %s`, or break the lock with `git lfs unlock --force "
                        "%s`\n",
                        u->ref, path, lock, path, path);
            else
                fprintf(errors,
                        "rejected %s: %s is locked by %s; ask them to run `git lfs "
                        "unlock %s`, or ask a user with write access to this repo to "
                        "break the lock\n",
                        u->ref, path, lock, path);
            result = 1;
        }
    }
    free(path);
    free(lock);
    fclose(changed);
    return result;
}

/* Writes hints for a rejected push that updates several refs, as `git push --mirror` does.
 * When it deletes the default branch (default_ref), the pusher's repo most likely lacks that
 * branch. When it updates refs outside refs/heads/ and refs/tags/ together with branches or
 * tags, the hint shows how to push only the branches and tags. For a mirror of another hub
 * repo those refs are its pull request refs (refs/pr/N), which have no pull request here. */
static void mirror_hint(const struct githook_update *updates, long count, const char *default_ref,
                        FILE *errors)
{
    const char *url = getenv("ATELIER_HOOK_REPO_URL");
    bool has_other_refs = false;
    bool has_pr_refs = false;
    bool has_branches_or_tags = false;
    bool deletes_default = false;

    if (url == NULL || url[0] == '\0')
        url = "URL";
    for (long i = 0; i < count; i++) {
        if (strncmp(updates[i].ref, "refs/heads/", 11) == 0 ||
            strncmp(updates[i].ref, "refs/tags/", 10) == 0)
            has_branches_or_tags = true;
        else if (strncmp(updates[i].ref, "refs/pr/", 8) == 0)
            has_pr_refs = true;
        else
            has_other_refs = true;
        if (githook_oid_is_zero(updates[i].new_oid) && strcmp(updates[i].ref, default_ref) == 0)
            deletes_default = true;
    }
    if (deletes_default && count > 1)
        fprintf(errors,
                "hint: git push --mirror deletes the default branch '%s' when your repo has no "
                "branch of that name; create it (git branch %s) or push without --mirror\n",
                default_ref + 11, default_ref + 11);
    if (!has_branches_or_tags)
        return;
    if (has_pr_refs)
        fprintf(errors,
                "hint: to push a mirror without its pull request refs, push only its "
                "branches and tags: git push %s 'refs/heads/*:refs/heads/*' "
                "'refs/tags/*:refs/tags/*' (add --force to replace branches that differ, "
                "as --mirror does)\n",
                url);
    else if (has_other_refs)
        fprintf(errors,
                "hint: the hub stores only branches (refs/heads/), tags (refs/tags/) and pull "
                "request refs (refs/pr/N); to push only the branches and tags, run: git push "
                "%s 'refs/heads/*:refs/heads/*' 'refs/tags/*:refs/tags/*'\n",
                url);
}

static FILE *report_open(FILE *errors)
{
    const char *path = getenv("ATELIER_HOOK_REPORT");
    FILE *report;

    if (path == NULL || path[0] == '\0')
        return NULL;
    report = fopen(path, "a");
    if (report == NULL)
        fprintf(errors, "atelier hook: cannot open the report file %s: %s\n", path,
                strerror(errno));
    return report;
}

/* Reads the id of the pushing user from ATELIER_HOOK_USER_ID. Returns 0, or -1 after it
 * wrote the reason to errors. */
static int user_id_read(int64_t *out, FILE *errors)
{
    const char *text = getenv("ATELIER_HOOK_USER_ID");
    char *end = NULL;
    long long id;

    errno = 0;
    id = text != NULL ? strtoll(text, &end, 10) : 0;
    if (text == NULL || end == text || *end != '\0' || errno != 0 || id <= 0) {
        fprintf(errors, "atelier hook: invalid ATELIER_HOOK_USER_ID '%.40s': expected the "
                        "positive id of the pushing user\n", text != NULL ? text : "unset");
        return -1;
    }
    *out = (int64_t)id;
    return 0;
}

/* Reads the pushing user and the repo from the environment into push (see git_hook.h).
 * Returns 0, or -1 after it wrote the reason to errors. */
static int push_read(struct githook_push *push, FILE *errors)
{
    const char *can_write = getenv("ATELIER_HOOK_CAN_WRITE");
    const char *repo_id = getenv("ATELIER_HOOK_REPO_ID");
    const char *api_url = getenv("ATELIER_HOOK_API_URL");
    char *end = NULL;
    long long id;

    if (user_id_read(&push->user_id, errors) < 0)
        return -1;
    push->user_name = getenv("ATELIER_HOOK_USER_NAME");
    push->api_url = api_url != NULL ? api_url : "";
    if (can_write == NULL || (strcmp(can_write, "0") != 0 && strcmp(can_write, "1") != 0)) {
        fprintf(errors,
                "atelier hook: invalid ATELIER_HOOK_CAN_WRITE '%.40s': expected 1 or "
                "0\n",
                can_write != NULL ? can_write : "unset");
        return -1;
    }
    push->can_write = strcmp(can_write, "1") == 0;
    errno = 0;
    id = repo_id != NULL ? strtoll(repo_id, &end, 10) : 0;
    if (repo_id == NULL || end == repo_id || *end != '\0' || errno != 0 || id <= 0) {
        fprintf(errors,
                "atelier hook: invalid ATELIER_HOOK_REPO_ID '%.40s': expected the "
                "positive id of the repo\n",
                repo_id != NULL ? repo_id : "unset");
        return -1;
    }
    push->repo_id = (int64_t)id;
    return 0;
}

int githook_pre_receive(FILE *in, FILE *errors)
{
    struct githook_update *updates = NULL;
    struct store *st = NULL;
    struct meta *db = NULL;
    struct hub_error err = HUB_ERROR_INIT;
    struct githook_push push = {0};
    const char *data_dir = getenv("ATELIER_DATA_DIR");
    const char *protected = getenv("ATELIER_PROTECTED_BRANCHES");
    const char *locks_path = getenv("ATELIER_HOOK_LOCKS");
    char default_ref[GITHOOK_MAX_REF_BYTES + 1];
    FILE *locks = NULL;
    FILE *refs = NULL;
    FILE *report = NULL;
    struct update_trees *trees = NULL;
    long count;
    int result = 0;

    count = updates_read(&updates, in, errors);
    if (count < 0)
        return 1;
    report = report_open(errors);
    if (locks_path != NULL && locks_path[0] != '\0') {
        locks = fopen(locks_path, "r");
        if (locks == NULL) {
            fprintf(errors, "atelier hook: cannot open the lock list %s\n", locks_path);
            result = 2;
            goto out;
        }
        /* Without locks of other users, the lock check needs no `git log` per ref. */
        if (fgetc(locks) == EOF) {
            fclose(locks);
            locks = NULL;
        }
    }
    if (data_dir == NULL || store_open(&st, data_dir, &err) < 0) {
        fprintf(errors, "atelier hook: cannot open the LFS store (ATELIER_DATA_DIR=%s): %s\n",
                data_dir != NULL ? data_dir : "unset", err.msg);
        result = 2;
        goto out;
    }
    if (push_read(&push, errors) < 0) {
        result = 2;
        goto out;
    }
    if (meta_open(&db, data_dir, META_OPEN_NO_CREATE, &err) < 0) {
        fprintf(errors, "atelier hook: cannot open the database in %s: %s\n", data_dir, err.msg);
        result = 2;
        goto out;
    }
    refs = refs_snapshot();
    if (refs == NULL) {
        fprintf(errors, "atelier hook: cannot read the refs of the repo\n");
        result = 2;
        goto out;
    }
    default_branch_ref(default_ref, sizeof(default_ref));
    for (long i = 0; i < count; i++) {
        if (!update_is_allowed(&updates[i], refs, protected, default_ref, db, &push, errors))
            result = result == 0 ? 1 : result;
    }
    /* A user without write access cannot push a mirror's branches either. */
    if (result != 0 && push.can_write)
        mirror_hint(updates, count, default_ref, errors);
    if (result == 0) {
        trees = trees_resolve(updates, count, default_ref);
        if (trees == NULL) {
            fprintf(errors, "atelier hook: cannot read the trees of the pushed refs\n");
            result = 2;
        }
    }
    for (long i = 0; result == 0 && i < count; i++) {
        if (!githook_oid_is_zero(updates[i].new_oid) && !trees_checked_before(trees, i))
            result = update_check_paths(&updates[i], &trees[i], errors);
    }
    /* Before the lock check, so a push from a shallow clone gets a message about its
     * missing history instead of a failing `git log`. */
    if (result == 0)
        result = githook_objects_check(updates, count, githook_max_file_bytes(), st, db,
                                       push.user_id, report, errors);
    for (long i = 0; result == 0 && locks != NULL && i < count; i++) {
        if (!githook_oid_is_zero(updates[i].new_oid))
            result = update_check_locks(&updates[i], locks, push.can_write, errors);
    }
out:
    if (locks != NULL)
        fclose(locks);
    if (report != NULL && result != 0)
        fprintf(report, "rejected %d\n", result);
    if (report != NULL)
        fclose(report);
    if (refs != NULL)
        fclose(refs);
    meta_close(db);
    store_close(st);
    free(trees);
    free(updates);
    return result;
}

int githook_post_receive(FILE *in, FILE *errors)
{
    struct githook_update *updates = NULL;
    FILE *report = NULL;
    long count;

    count = updates_read(&updates, in, errors);
    if (count < 0)
        return 2;
    report = report_open(errors);
    for (long i = 0; report != NULL && i < count; i++)
        fprintf(report, "update %s %s %s\n", updates[i].old_oid, updates[i].new_oid,
                updates[i].ref);
    free(updates);
    if (report != NULL && fclose(report) != 0)
        return 2;
    return 0;
}
