/* atelier admin: command-line management of a data directory (users, tokens, organisations,
 * migrations, repo import, fsck, gc). Parses the global options and dispatches to the
 * admin_*.c command groups. It opens the database directly, so it works while the daemon
 * runs: SQLite's WAL mode and the repo locks keep the two consistent. The exception is a
 * schema change: it applies no migration while a daemon has locked the data directory,
 * because an older daemon rejects a database with migrations it does not have. */
#include "commands.h"

#include "admin.h"
#include "hub_error.h"
#include "meta.h"
#include "serve_lock.h"
#include "storage.h"

#include <errno.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage_text[] =
    "usage: atelier admin --data DIR COMMAND [ARGS]\n"
    "\n"
    "commands:\n"
    "  user add NAME [--admin]         add a user; the password is read from stdin (one line)\n"
    "  user password NAME              set a user's password, read from stdin (one line)\n"
    "  user list                       list users with their admin rights and state\n"
    "  user admin NAME on|off          grant or remove admin rights\n"
    "  user disable NAME               lock a user out: logins, tokens and browser sessions\n"
    "                                  stop working at once; repos and tokens are kept\n"
    "  user enable NAME                let a disabled user log in again\n"
    "  token create USER [--write] [--label TEXT]\n"
    "                                  create an access token (read scope unless --write)\n"
    "                                  and print it; it cannot be shown again\n"
    "  token list USER                 list a user's tokens\n"
    "  token revoke ID                 revoke a token by its id from `token list`\n"
    "  org add NAME                    add an organisation\n"
    "  org list                        list organisations\n"
    "  org member add ORG USER [--role read|write|admin]\n"
    "                                  add a member (role write unless given)\n"
    "  org member remove ORG USER      remove a member\n"
    "  org member list ORG             list the members of an organisation\n"
    "  migrate [--status]              apply pending database migrations, or list them\n"
    "  repo import NS/NAME SRC_DIR [--type model|dataset] [--owner USER]\n"
    "              [--message TEXT] [--private]\n"
    "                                  create a repo holding every file of SRC_DIR as one\n"
    "                                  commit; large files become LFS blobs\n"
    "  repo list [--type model|dataset]\n"
    "                                  list models and datasets, private ones included, or\n"
    "                                  only the given type\n"
    "  repo delete NS/NAME [--type model|dataset]\n"
    "                                  delete a repo; its blobs stay until gc\n"
    "  repo prune NS/NAME [--type model|dataset]\n"
    "                                  delete the repo's git objects that no ref reaches\n"
    "                                  (git gc --prune=now), such as a malformed commit\n"
    "                                  that fsck reports as unreachable\n"
    "  fsck                            re-hash blobs and check that git and the database agree\n"
    "  gc [--grace-hours N] [--dry-run]\n"
    "                                  delete blobs no repo history references and that are\n"
    "                                  older than N hours (default 24)\n"
    "  backup DEST                     copy the database, repos and blobs into the new\n"
    "                                  folder DEST outside DIR, a data directory of its own\n"
    "\n"
    "The data directory can also be given in the ATELIER_DATA environment variable. Only\n"
    "`user add`, `migrate` and `repo import` create it when it does not exist.\n";

int admin_usage_error(const char *fmt, ...)
{
    va_list ap;

    fputs("atelier admin: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 2;
}

const char *admin_option_value(const struct admin_ctx *ctx, int *i)
{
    if (*i + 1 >= ctx->argc) {
        admin_usage_error("option %s needs a value", ctx->argv[*i]);
        return NULL;
    }
    (*i)++;
    return ctx->argv[*i];
}

int admin_layout_create(const struct admin_ctx *ctx, struct hub_error *err)
{
    int rc = storage_layout_create(ctx->data_dir, err);

    if (rc == 0 && ctx->data_dir_missing)
        fprintf(stderr, "atelier admin: created the data directory %s\n", ctx->data_dir);
    return rc;
}

/* Counts the built-in migrations that db lacks, and copies the name of the first one. */
static int pending_migrations_count(unsigned *count, char *first, size_t first_size,
                                    struct meta *db, struct hub_error *err)
{
    struct meta_migration_status *rows = NULL;
    size_t n = 0;

    *count = 0;
    first[0] = '\0';
    if (meta_migration_status_list(&rows, &n, db, err) < 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (!rows[i].known || rows[i].applied)
            continue;
        if (*count == 0)
            snprintf(first, first_size, "%s", rows[i].name);
        (*count)++;
    }
    free(rows);
    return 0;
}

int admin_migrations_allowed(const struct admin_ctx *ctx, struct meta *db)
{
    struct hub_error err = HUB_ERROR_INIT;
    char first[128], daemon[64];
    unsigned pending = 0;
    long holder;

    if (pending_migrations_count(&pending, first, sizeof(first), db, &err) < 0) {
        fprintf(stderr, "atelier admin: %s\n", err.msg);
        return 1;
    }
    if (pending == 0)
        return 0;
    holder = serve_lock_holder(ctx->data_dir);
    if (holder == 0)
        return 0;
    if (holder > 0)
        snprintf(daemon, sizeof(daemon), "atelier serve (pid %ld)", holder);
    else
        snprintf(daemon, sizeof(daemon), "an atelier serve that is starting");
    fprintf(stderr,
            "atelier admin: the database in %s lacks %u migration(s) of this atelier binary "
            "(%s first), and %s is running on it. Nothing was changed, because an older daemon "
            "answers every request with 503 once they are applied. Stop the hub, then run "
            "`atelier admin --data %s migrate`, or start the new atelier serve, which "
            "migrates at start.\n",
            ctx->data_dir, pending, first, daemon, ctx->data_dir);
    return 1;
}

int admin_db_open(struct meta **out, const struct admin_ctx *ctx)
{
    struct hub_error err = HUB_ERROR_INIT;
    char db_path[4096];

    *out = NULL;
    /* SQLite's own message, "attempt to write a readonly database", names no file. */
    if (snprintf(db_path, sizeof(db_path), "%s/atelier.sqlite3", ctx->data_dir) <
            (int)sizeof(db_path) &&
        access(db_path, F_OK) == 0 && access(db_path, W_OK) != 0) {
        fprintf(stderr,
                "atelier admin: cannot write %s: %s; run atelier admin as the user who owns "
                "the data directory\n",
                db_path, strerror(errno));
        return 1;
    }
    if (admin_layout_create(ctx, &err) < 0 || meta_open_unchecked(out, ctx->data_dir, &err) < 0) {
        fprintf(stderr, "atelier admin: %s\n", err.msg);
        return 1;
    }
    if (admin_migrations_allowed(ctx, *out) != 0) {
        meta_close(*out);
        *out = NULL;
        return 1;
    }
    if (meta_migrate(NULL, *out, &err) < 0) {
        fprintf(stderr, "atelier admin: %s\n", err.msg);
        meta_close(*out);
        *out = NULL;
        return 1;
    }
    return 0;
}

struct admin_command {
    const char *name;
    int (*run)(const struct admin_ctx *ctx);
};

static const struct admin_command admin_commands[] = {
    {"user", admin_cmd_user},       {"token", admin_cmd_token},   {"org", admin_cmd_org},
    {"migrate", admin_cmd_migrate}, {"repo", admin_cmd_repo},     {"fsck", admin_cmd_fsck},
    {"gc", admin_cmd_gc},           {"backup", admin_cmd_backup},
};

/* Returns whether the command in argv (group word first) sets a hub up, and so may create a
 * data directory that does not exist yet. */
static bool command_creates_data_dir(int argc, char **argv)
{
    const char *sub = argc >= 2 ? argv[1] : "";

    return strcmp(argv[0], "migrate") == 0 ||
           (strcmp(argv[0], "user") == 0 && strcmp(sub, "add") == 0) ||
           (strcmp(argv[0], "repo") == 0 && strcmp(sub, "import") == 0);
}

/* Warns when the data directory belongs to another user than the one running the command,
 * such as root beside a daemon that runs as a service user. The daemon could then not read
 * the repos and blobs that the command creates. */
static void owner_warn(const char *data_dir, const struct stat *sb)
{
    struct passwd *owner;
    char owner_name[64];

    if (sb->st_uid == geteuid())
        return;
    owner = getpwuid(sb->st_uid);
    if (owner != NULL)
        snprintf(owner_name, sizeof(owner_name), "%s", owner->pw_name);
    else
        snprintf(owner_name, sizeof(owner_name), "%u", (unsigned)sb->st_uid);
    fprintf(stderr,
            "atelier admin: warning: %s belongs to user %s, not to the user running this "
            "command, so files it creates may be unreadable for the daemon; run it as %s "
            "(sudo -u %s atelier admin ...)\n",
            data_dir, owner_name, owner_name, owner_name);
}

/* Checks that the data directory exists, unless the command may create it, because a mistyped
 * --data must not turn into a new empty hub. Prints the error and returns 2 on failure. */
static int data_dir_check(struct admin_ctx *ctx, int argc, char **argv)
{
    struct stat sb;

    if (stat(ctx->data_dir, &sb) == 0) {
        owner_warn(ctx->data_dir, &sb);
        return 0;
    }
    if (errno != ENOENT)
        return 0;
    if (command_creates_data_dir(argc, argv)) {
        ctx->data_dir_missing = true;
        return 0;
    }
    return admin_usage_error("data directory '%s' does not exist: check --data, or create it "
                             "with `atelier admin --data %s migrate`",
                             ctx->data_dir, ctx->data_dir);
}

int cmd_admin(int argc, char **argv)
{
    struct hub_error err = HUB_ERROR_INIT;
    struct admin_ctx ctx = {0};
    const char *data_dir = getenv("ATELIER_DATA");
    int i = 1, rc;

    while (i < argc && argv[i][0] == '-') {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage_text, stdout);
            return 0;
        }
        if (strcmp(argv[i], "--data") != 0)
            return admin_usage_error("unknown option '%s'; run `atelier admin --help`", argv[i]);
        if (i + 1 >= argc)
            return admin_usage_error("option --data needs a directory");
        data_dir = argv[i + 1];
        i += 2;
    }
    if (data_dir == NULL || data_dir[0] == '\0')
        return admin_usage_error("missing data directory: pass --data DIR or set ATELIER_DATA");
    if (i >= argc)
        return admin_usage_error("missing command; run `atelier admin --help` for the list");
    ctx.data_dir = data_dir;
    ctx.argc = argc - i - 1;
    ctx.argv = argv + i + 1;
    for (size_t c = 0; c < sizeof(admin_commands) / sizeof(admin_commands[0]); c++) {
        if (strcmp(argv[i], admin_commands[c].name) != 0)
            continue;
        rc = data_dir_check(&ctx, argc - i, argv + i);
        if (rc != 0)
            return rc;
        if (storage_init(&err) < 0) {
            fprintf(stderr, "atelier admin: %s\n", err.msg);
            return 1;
        }
        rc = admin_commands[c].run(&ctx);
        storage_shutdown();
        return rc;
    }
    return admin_usage_error("unknown command '%s'; run `atelier admin --help` for the list",
                             argv[i]);
}
