/* admin: the subcommands of `atelier admin`, one function per command group. Each returns the
 * process exit status: 0 on success, 1 when the work failed, 2 for a usage error. They run in
 * the admin process only, single-threaded. */
#ifndef ADMIN_H
#define ADMIN_H

#include <stdbool.h>
#include <stddef.h>

#include "hub_name.h"

struct hub_error;
struct meta;

/* Arguments of one command: the data directory and the words after the command group. */
struct admin_ctx {
    const char *data_dir;  /* from --data or ATELIER_DATA */
    bool data_dir_missing; /* it did not exist, and the command may create it */
    int argc;              /* arguments after the command group word */
    char **argv;
};

/** Prints one usage error line naming value and the fix, and returns 2. */
int admin_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/** Prepares the data directory and opens its database with pending migrations applied. On
 * failure prints the error and returns 1; *out belongs to the caller (meta_close()). It
 * applies no migration while a daemon runs on the data directory (admin_migrations_allowed). */
int admin_db_open(struct meta **out, const struct admin_ctx *ctx);

/** Checks that db has no pending migrations, or that no `atelier serve` holds the data
 * directory's lock. Otherwise prints one line naming the daemon's pid and the fix, and
 * returns 1, because a daemon older than the migrations rejects the database once they are
 * applied. Returns 0 when migrating is safe. */
int admin_migrations_allowed(const struct admin_ctx *ctx, struct meta *db);

/** Creates the data directory's folders where missing, and prints one stderr line when the
 * data directory itself was created. Returns 0 or a negative HUB_E* code with err filled. */
int admin_layout_create(const struct admin_ctx *ctx, struct hub_error *err);

/** Returns the value after option name at argv[*i] and advances *i, or NULL when it is
 * missing (after printing a usage error). */
const char *admin_option_value(const struct admin_ctx *ctx, int *i);

struct meta_repo;

/** Lists every repo row, both types and private ones included, into a malloc'd array owned
 * by the caller (free()). Returns 0 or a negative HUB_E* code with err filled. */
int admin_repos_all(struct meta_repo **out, size_t *count, struct meta *db, struct hub_error *err);

/** Runs `git --git-dir GIT_DIR ARGS...` with LC_ALL=C and stdin from /dev/null, and collects
 * its stdout and stderr together into *output (NUL-terminated, malloc'd, the caller frees
 * it). args ends with NULL. Sets *status to git's exit status: 127 when git is not on PATH,
 * -1 when it was killed by a signal. Returns 0, or -1 with errno when git could not be run. */
int admin_git_capture(char **output, int *status, const char *git_dir, const char *const *args);

/** Lists the refs of the bare repo git_dir whose history contains the object oid of the given
 * git type ("commit", "tree", "blob" or "tag") into *refs, one full ref name per line ("" when
 * none). Returns 0, or -1 with *refs set to git's output (or NULL) when git failed. The
 * caller frees *refs. */
int admin_git_refs_reaching(char **refs, const char *git_dir, const char *type, const char *oid);

/* One "error in commit OID: missingEmail: text" or "warning in ..." line of `git fsck`: an
 * object that exists and parses, but breaks git's rules for its format. */
struct admin_git_fsck_message {
    bool is_error;       /* "error in", not "warning in" */
    char type[8];        /* commit, tree, blob or tag */
    char oid[41];        /* hex object id */
    const char *message; /* "missingEmail: text", borrowed from the parsed line */
};

/** Parses line as such a git fsck message (the format of git 2.39's fsck). Returns false for
 * every other line, such as missing or corrupt objects. */
bool admin_git_fsck_message_parse(struct admin_git_fsck_message *m, const char *line);

/** Reads the row of the repo type ns/name for an admin command that does action ("delete",
 * "prune"). Returns 0, or 1 after printing the error. When no model has the id, --type was
 * not given and a dataset has it, the line says to add --type dataset. */
int admin_repo_row_get(struct meta_repo *row, struct meta *db, enum hub_repo_type type,
                       bool type_given, const char *ns, const char *name, const char *action);

/** Runs `git gc --prune=now` on the repo type ns/name under its repo lock, which deletes the
 * git objects that no ref reaches, and prints the object counts before and after. Returns
 * the exit status (0, or 1 after printing the error). */
int admin_repo_prune(const struct admin_ctx *ctx, enum hub_repo_type type, bool type_given,
                     const char *ns, const char *name);

int admin_cmd_user(const struct admin_ctx *ctx);
int admin_cmd_token(const struct admin_ctx *ctx);
int admin_cmd_org(const struct admin_ctx *ctx);
int admin_cmd_migrate(const struct admin_ctx *ctx);
int admin_cmd_repo(const struct admin_ctx *ctx);
int admin_cmd_fsck(const struct admin_ctx *ctx);
int admin_cmd_gc(const struct admin_ctx *ctx);
int admin_cmd_backup(const struct admin_ctx *ctx);

#endif
