/* admin_users: `atelier admin user|token|org ...`: accounts, access tokens and organisations.
 * Every change is also written to the audit log with the acting user "admin-cli". */
#include "admin.h"

#include "hub_error.h"
#include "hub_limits.h"
#include "hub_name.h"
#include "meta.h"
#include "meta_audit.h"
#include "meta_org.h"
#include "meta_token.h"
#include "meta_user.h"
#include "repo_manage.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define ADMIN_ACTOR "admin-cli"

static int fail(struct meta *db, const struct hub_error *err)
{
    fprintf(stderr, "atelier admin: %s\n", err->msg);
    meta_close(db);
    return 1;
}

/* The lookups below replace the storage layer's "not found" message with one that names the
 * listing command, so the admin can look up the right name or id. */
static int user_find(struct meta_user *out, struct meta *db, const char *name,
                     struct hub_error *err)
{
    int rc = meta_user_get_by_name(out, db, name, err);

    if (rc == HUB_ENOTFOUND)
        return hub_error_set(err, rc, "user '%.100s' not found; `user list` shows the users", name);
    return rc;
}

static int org_find(struct meta_org *out, struct meta *db, const char *name, struct hub_error *err)
{
    int rc = meta_org_get(out, db, name, err);

    if (rc == HUB_ENOTFOUND)
        return hub_error_set(
            err, rc, "organisation '%.100s' not found; `org list` shows the organisations", name);
    return rc;
}

static int token_find(struct meta_token *out, struct meta *db, int64_t id, struct hub_error *err)
{
    int rc = meta_token_get(out, db, id, err);

    if (rc == HUB_ENOTFOUND)
        return hub_error_set(err, rc,
                             "token id %" PRId64 " not found; `token list USER` shows the ids of "
                             "a user's tokens",
                             id);
    return rc;
}

static void audit(struct meta *db, const char *action, const char *detail)
{
    struct hub_error err = HUB_ERROR_INIT;

    if (meta_audit_add(db, ADMIN_ACTOR, action, NULL, detail, &err) < 0)
        fprintf(stderr, "atelier admin: warning: audit log entry not written: %s\n", err.msg);
}

static void time_format(char *buf, size_t cap, int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;

    if (t == 0 || gmtime_r(&tt, &tm) == NULL) {
        snprintf(buf, cap, "-");
        return;
    }
    strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Reads one line from stdin into a malloc'd string without the line end; NULL when stdin is
 * empty. On a terminal it first prints a prompt for user_name on stderr and turns echo off,
 * so the password does not show on a shared screen. */
static char *password_read(const char *user_name)
{
    struct termios saved, quiet;
    bool tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;

    /* Echo goes off before the prompt, and without flushing the input, so a password typed
     * (or sent by a script) right after the prompt is neither shown nor lost. */
    if (tty) {
        quiet = saved;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        quiet.c_lflag |= ECHONL;
        tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
        fprintf(stderr, "password for %s: ", user_name);
        fflush(stderr);
    }
    len = getline(&line, &cap, stdin);
    if (tty)
        tcsetattr(STDIN_FILENO, TCSANOW, &saved);
    if (len <= 0) {
        free(line);
        return NULL;
    }
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        line[--len] = '\0';
    return line;
}

/* Checks password against the length rules. Returns 1 after printing one error line that
 * names the user and the limit, or 0 when the password is fine. */
static int password_rules_report(const char *password, const char *user_name)
{
    struct hub_error err = HUB_ERROR_INIT;
    int rc = meta_user_password_check(password, &err);

    if (rc == HUB_EINVAL)
        fprintf(stderr,
                "atelier admin: password for user '%s' is too short: use at least %d bytes\n",
                user_name, HUB_MIN_PASSWORD_BYTES);
    else if (rc < 0)
        fprintf(stderr, "atelier admin: password for user '%s' is too long: use at most %d bytes\n",
                user_name, HUB_MAX_PASSWORD_BYTES);
    return rc < 0 ? 1 : 0;
}

/* Checks that no user or organisation has the name yet. Prints the error and returns 1 when
 * one has, or when the lookup failed. */
static int user_name_free(struct meta *db, const char *name)
{
    struct hub_error err = HUB_ERROR_INIT;
    struct meta_user user;
    struct meta_org org;
    int rc;

    rc = meta_user_get_by_name(&user, db, name, &err);
    if (rc == 0) {
        fprintf(stderr,
                "atelier admin: user '%s' already exists: choose another name, or change the "
                "password with `user password %s`\n",
                user.name, user.name);
        return 1;
    }
    if (rc == HUB_ENOTFOUND)
        rc = meta_org_get(&org, db, name, &err);
    if (rc == 0) {
        fprintf(stderr,
                "atelier admin: '%s' is already the name of an organisation: choose another "
                "user name\n",
                org.name);
        return 1;
    }
    if (rc != HUB_ENOTFOUND) {
        fprintf(stderr, "atelier admin: %s\n", err.msg);
        return 1;
    }
    return 0;
}

static int user_add(const struct admin_ctx *ctx)
{
    struct hub_error err = HUB_ERROR_INIT;
    struct meta *db = NULL;
    const char *name = NULL;
    char *password = NULL;
    char detail[160];
    bool is_admin = false;
    int64_t id = 0;
    int rc;

    for (int i = 1; i < ctx->argc; i++) {
        if (strcmp(ctx->argv[i], "--admin") == 0)
            is_admin = true;
        else if (ctx->argv[i][0] == '-')
            return admin_usage_error("unknown option '%s' for user add; use --admin", ctx->argv[i]);
        else if (name == NULL)
            name = ctx->argv[i];
        else
            return admin_usage_error("unexpected argument '%s'; usage: user add NAME [--admin]",
                                     ctx->argv[i]);
    }
    if (name == NULL)
        return admin_usage_error("missing user name; usage: user add NAME [--admin]");
    /* The name is checked before the password, so a bad name is reported first. */
    if (hub_name_check(name, "user name", &err) < 0 ||
        repo_manage_namespace_check(name, &err) < 0) {
        fprintf(stderr, "atelier admin: %s\n", err.msg);
        return 1;
    }
    rc = admin_db_open(&db, ctx);
    if (rc != 0)
        return rc;
    rc = user_name_free(db, name);
    if (rc == 0) {
        password = password_read(name);
        if (password == NULL)
            rc =
                admin_usage_error("missing password for '%s': write it as one line on stdin", name);
    }
    if (rc == 0)
        rc = password_rules_report(password, name);
    if (rc != 0) {
        free(password);
        meta_close(db);
        return rc;
    }
    rc = meta_user_add(&id, db, name, password, is_admin, &err);
    free(password);
    if (rc < 0)
        return fail(db, &err);
    snprintf(detail, sizeof(detail), "name=%s admin=%d", name, is_admin ? 1 : 0);
    audit(db, "user.add", detail);
    printf("added user %s (id %" PRId64 "%s)\n", name, id, is_admin ? ", admin" : "");
    meta_close(db);
    return 0;
}

static int user_password(const struct admin_ctx *ctx)
{
    struct hub_error err = HUB_ERROR_INIT;
    struct meta_user user;
    struct meta *db = NULL;
    char *password = NULL;
    int64_t sessions = 0;
    int rc;

    if (ctx->argc != 2)
        return admin_usage_error("usage: user password NAME (the password is read from stdin)");
    password = password_read(ctx->argv[1]);
    if (password == NULL)
        return admin_usage_error("missing password for '%s': write it as one line on stdin",
                                 ctx->argv[1]);
    rc = admin_db_open(&db, ctx);
    if (rc == 0 && user_find(&user, db, ctx->argv[1], &err) < 0)
        rc = -1;
    if (rc == 0 && password_rules_report(password, user.name) != 0) {
        meta_close(db);
        rc = 1;
    }
    if (rc == 0 && meta_user_set_password(&sessions, db, user.id, password, &err) < 0)
        rc = -1;
    free(password);
    if (rc > 0)
        return rc;
    if (rc < 0)
        return fail(db, &err);
    audit(db, "user.password", user.name);
    printf("password of %s changed; %" PRId64 " browser session(s) logged out\n", user.name,
           sessions);
    meta_close(db);
    return 0;
}

static int user_list(const struct admin_ctx *ctx)
{
    struct hub_error err = HUB_ERROR_INIT;
    struct meta_user *users = NULL;
    struct meta *db = NULL;
    size_t n = 0;
    char when[32];
    int rc;

    if (ctx->argc != 1)
        return admin_usage_error("unexpected argument '%s'; usage: user list", ctx->argv[1]);
    rc = admin_db_open(&db, ctx);
    if (rc != 0)
        return rc;
    if (meta_user_list(&users, &n, db, &err) < 0)
        return fail(db, &err);
    printf("%-6s %-24s %-6s %-9s %s\n", "ID", "NAME", "ADMIN", "STATE", "CREATED");
    for (size_t i = 0; i < n; i++) {
        time_format(when, sizeof(when), users[i].created_at);
        printf("%-6" PRId64 " %-24s %-6s %-9s %s\n", users[i].id, users[i].name,
               users[i].is_admin ? "yes" : "no", users[i].disabled_at != 0 ? "disabled" : "enabled",
               when);
    }
    free(users);
    meta_close(db);
    return 0;
}

/* Prints why the last enabled admin keeps the role, and the two ways to add another. */
static void last_admin_report(const char *name)
{
    fprintf(stderr,
            "atelier admin: %s is the last enabled admin; first grant another user admin rights "
            "(`user admin NAME on`) or enable a disabled admin (`user enable NAME`)\n",
            name);
}

/* Sets *out when user is the last enabled admin. Disabling that user or removing their
 * admin rights would leave the hub without an admin. Returns 0 or a HUB_E* code. */
static int user_is_last_admin(bool *out, struct meta *db, const struct meta_user *user,
                              struct hub_error *err)
{
    int64_t admins = 0;
    int rc;

    *out = false;
    if (!user->is_admin || user->disabled_at != 0)
        return 0;
    rc = meta_user_count_admins(&admins, db, err);
    if (rc == 0)
        *out = admins <= 1;
    return rc;
}

static int user_set_admin(const struct admin_ctx *ctx)
{
    struct hub_error err = HUB_ERROR_INIT;
    struct meta_user user;
    struct meta *db = NULL;
    bool grant, last;
    int rc;

    if (ctx->argc != 3)
        return admin_usage_error("usage: user admin NAME on|off");
    if (strcmp(ctx->argv[2], "on") != 0 && strcmp(ctx->argv[2], "off") != 0)
        return admin_usage_error("invalid value '%s' for user admin: use on or off", ctx->argv[2]);
    grant = strcmp(ctx->argv[2], "on") == 0;
    rc = admin_db_open(&db, ctx);
    if (rc != 0)
        return rc;
    if (user_find(&user, db, ctx->argv[1], &err) < 0 ||
        user_is_last_admin(&last, db, &user, &err) < 0)
        return fail(db, &err);
    if (grant == user.is_admin) {
        printf("%s %s an admin; nothing changed\n", user.name, grant ? "is already" : "is not");
        meta_close(db);
        return 0;
    }
    if (!grant && last) {
        last_admin_report(user.name);
        meta_close(db);
        return 1;
    }
    if (meta_user_set_admin(db, user.id, grant, &err) < 0)
        return fail(db, &err);
    audit(db, grant ? "user.admin.grant" : "user.admin.revoke", user.name);
    printf("%s is %s an admin\n", user.name, grant ? "now" : "no longer");
    meta_close(db);
    return 0;
}

static int user_set_disabled(const struct admin_ctx *ctx, bool disable)
{
    struct hub_error err = HUB_ERROR_INIT;
    struct meta_user user;
    struct meta *db = NULL;
    int64_t sessions = 0, jobs = 0;
    bool last;
    int rc;

    if (ctx->argc != 2)
        return admin_usage_error("usage: user %s NAME", disable ? "disable" : "enable");
    rc = admin_db_open(&db, ctx);
    if (rc != 0)
        return rc;
    if (user_find(&user, db, ctx->argv[1], &err) < 0 ||
        user_is_last_admin(&last, db, &user, &err) < 0)
        return fail(db, &err);
    if (disable == (user.disabled_at != 0)) {
        printf("%s is already %s; nothing changed\n", user.name, disable ? "disabled" : "enabled");
        meta_close(db);
        return 0;
    }
    if (disable && last) {
        last_admin_report(user.name);
        meta_close(db);
        return 1;
    }
    if (meta_user_set_disabled(&sessions, &jobs, db, user.id, disable, &err) < 0)
        return fail(db, &err);
    audit(db, disable ? "user.disable" : "user.enable", user.name);
    /* The scheduler of `atelier serve` stops the workers of those jobs at its next tick. */
    if (disable)
        printf("disabled %s: %" PRId64 " browser session(s) logged out, %" PRId64
               " running job(s) canceled, and logins and tokens are rejected until `user enable "
               "%s`\n",
               user.name, sessions, jobs, user.name);
    else
        printf("enabled %s: logins and the tokens that are not revoked work again\n", user.name);
    meta_close(db);
    return 0;
}

int admin_cmd_user(const struct admin_ctx *ctx)
{
    if (ctx->argc < 1)
        return admin_usage_error("missing user command: use add, password, list, admin, disable "
                                 "or enable");
    if (strcmp(ctx->argv[0], "add") == 0)
        return user_add(ctx);
    if (strcmp(ctx->argv[0], "password") == 0)
        return user_password(ctx);
    if (strcmp(ctx->argv[0], "list") == 0)
        return user_list(ctx);
    if (strcmp(ctx->argv[0], "admin") == 0)
        return user_set_admin(ctx);
    if (strcmp(ctx->argv[0], "disable") == 0)
        return user_set_disabled(ctx, true);
    if (strcmp(ctx->argv[0], "enable") == 0)
        return user_set_disabled(ctx, false);
    /* Users are not deleted, because their repos, commits and audit entries refer to them. */
    if (strcmp(ctx->argv[0], "remove") == 0 || strcmp(ctx->argv[0], "delete") == 0)
        return admin_usage_error("unknown user command '%s': to lock a user out, use `user "
                                 "disable NAME`, which keeps their repos",
                                 ctx->argv[0]);
    return admin_usage_error("unknown user command '%s': use add, password, list, admin, "
                             "disable or enable",
                             ctx->argv[0]);
}

static int token_create(const struct admin_ctx *ctx)
{
    struct hub_error err = HUB_ERROR_INIT;
    char secret[META_TOKEN_SECRET_BYTES + 1];
    enum meta_scope scope = META_SCOPE_READ;
    const char *name = NULL, *label = "";
    struct meta_user user;
    struct meta *db = NULL;
    char detail[200];
    int64_t id = 0;
    int rc;

    for (int i = 1; i < ctx->argc; i++) {
        if (strcmp(ctx->argv[i], "--write") == 0) {
            scope = META_SCOPE_WRITE;
        } else if (strcmp(ctx->argv[i], "--label") == 0) {
            label = admin_option_value(ctx, &i);
            if (label == NULL)
                return 2;
        } else if (ctx->argv[i][0] == '-') {
            return admin_usage_error("unknown option '%s' for token create; use --write or "
                                     "--label TEXT",
                                     ctx->argv[i]);
        } else if (name == NULL) {
            name = ctx->argv[i];
        } else {
            return admin_usage_error("unexpected argument '%s'; usage: token create USER "
                                     "[--write] [--label TEXT]",
                                     ctx->argv[i]);
        }
    }
    if (name == NULL)
        return admin_usage_error("missing user name; usage: token create USER [--write] "
                                 "[--label TEXT]");
    rc = admin_db_open(&db, ctx);
    if (rc != 0)
        return rc;
    if (user_find(&user, db, name, &err) < 0 ||
        meta_token_create(secret, &id, db, user.id, label, scope, &err) < 0)
        return fail(db, &err);
    snprintf(detail, sizeof(detail), "user=%s id=%" PRId64 " scope=%s", user.name, id,
             meta_scope_name(scope));
    audit(db, "token.create", detail);
    /* Only the token goes to stdout, so scripts can capture it. It is flushed before the
     * stderr line, which may end the process with SIGPIPE. A token that was not shown is
     * revoked. */
    printf("%s\n", secret);
    if (fflush(stdout) != 0) {
        int saved = errno;

        meta_token_revoke(db, id, &err);
        fprintf(stderr,
                "atelier admin: cannot write the new token to standard output: %s; token %" PRId64
                " was revoked, run the command again with stdout going to a file or terminal\n",
                strerror(saved), id);
        meta_close(db);
        return 1;
    }
    fprintf(stderr, "created %s token %" PRId64 " for %s; it is shown only once\n",
            meta_scope_name(scope), id, user.name);
    if (user.disabled_at != 0)
        fprintf(stderr,
                "atelier admin: warning: user %s is disabled, so the token works only after "
                "`user enable %s`\n",
                user.name, user.name);
    meta_close(db);
    return 0;
}

static int token_list(const struct admin_ctx *ctx)
{
    struct hub_error err = HUB_ERROR_INIT;
    struct meta_token *tokens = NULL;
    struct meta_user user;
    struct meta *db = NULL;
    char created[32], used[32], revoked[32];
    size_t n = 0;
    int rc;

    if (ctx->argc != 2)
        return admin_usage_error("usage: token list USER");
    rc = admin_db_open(&db, ctx);
    if (rc != 0)
        return rc;
    if (user_find(&user, db, ctx->argv[1], &err) < 0 ||
        meta_token_list(&tokens, &n, db, user.id, &err) < 0)
        return fail(db, &err);
    printf("%-6s %-6s %-8s %-20s %-20s %-20s %s\n", "ID", "SCOPE", "ENDS", "CREATED", "LAST USED",
           "REVOKED", "LABEL");
    for (size_t i = 0; i < n; i++) {
        time_format(created, sizeof(created), tokens[i].created_at);
        time_format(used, sizeof(used), tokens[i].last_used_at);
        time_format(revoked, sizeof(revoked), tokens[i].revoked_at);
        printf("%-6" PRId64 " %-6s ...%-5s %-20s %-20s %-20s %s\n", tokens[i].id,
               meta_scope_name(tokens[i].scope), tokens[i].hint, created, used, revoked,
               tokens[i].label);
    }
    free(tokens);
    meta_close(db);
    return 0;
}

static int token_revoke(const struct admin_ctx *ctx)
{
    struct hub_error err = HUB_ERROR_INIT;
    struct meta_token token;
    struct meta *db = NULL;
    unsigned long long id;
    char when[32];
    char *end = NULL;
    char detail[64];
    int rc;

    if (ctx->argc != 2)
        return admin_usage_error("usage: token revoke ID (the ID column of `token list`)");
    errno = 0;
    id = strtoull(ctx->argv[1], &end, 10);
    if (ctx->argv[1][0] < '0' || ctx->argv[1][0] > '9' || *end != '\0' || errno != 0 || id == 0 ||
        id > INT64_MAX)
        return admin_usage_error("invalid token id '%s': use the ID column of `token list`",
                                 ctx->argv[1]);
    rc = admin_db_open(&db, ctx);
    if (rc != 0)
        return rc;
    if (token_find(&token, db, (int64_t)id, &err) < 0)
        return fail(db, &err);
    if (token.revoked_at != 0) {
        time_format(when, sizeof(when), token.revoked_at);
        printf("token %llu was already revoked at %s; nothing changed\n", id, when);
        meta_close(db);
        return 0;
    }
    if (meta_token_revoke(db, (int64_t)id, &err) < 0)
        return fail(db, &err);
    snprintf(detail, sizeof(detail), "id=%llu", id);
    audit(db, "token.revoke", detail);
    printf("revoked token %llu\n", id);
    meta_close(db);
    return 0;
}

int admin_cmd_token(const struct admin_ctx *ctx)
{
    if (ctx->argc < 1)
        return admin_usage_error("missing token command: use create, list or revoke");
    if (strcmp(ctx->argv[0], "create") == 0)
        return token_create(ctx);
    if (strcmp(ctx->argv[0], "list") == 0)
        return token_list(ctx);
    if (strcmp(ctx->argv[0], "revoke") == 0)
        return token_revoke(ctx);
    return admin_usage_error("unknown token command '%s': use create, list or revoke",
                             ctx->argv[0]);
}

static int org_add(const struct admin_ctx *ctx)
{
    struct hub_error err = HUB_ERROR_INIT;
    struct meta *db = NULL;
    int64_t id = 0;
    int rc;

    if (ctx->argc != 2)
        return admin_usage_error("usage: org add NAME");
    if (repo_manage_namespace_check(ctx->argv[1], &err) < 0) {
        fprintf(stderr, "atelier admin: %s\n", err.msg);
        return 1;
    }
    rc = admin_db_open(&db, ctx);
    if (rc != 0)
        return rc;
    if (meta_org_add(&id, db, ctx->argv[1], &err) < 0)
        return fail(db, &err);
    audit(db, "org.add", ctx->argv[1]);
    printf("added organisation %s (id %" PRId64 ")\n", ctx->argv[1], id);
    meta_close(db);
    return 0;
}

static int org_list(const struct admin_ctx *ctx)
{
    struct hub_error err = HUB_ERROR_INIT;
    struct meta_org *orgs = NULL;
    struct meta *db = NULL;
    size_t n = 0;
    int rc;

    rc = admin_db_open(&db, ctx);
    if (rc != 0)
        return rc;
    if (meta_org_list(&orgs, &n, db, &err) < 0)
        return fail(db, &err);
    printf("%-6s %s\n", "ID", "NAME");
    for (size_t i = 0; i < n; i++)
        printf("%-6" PRId64 " %s\n", orgs[i].id, orgs[i].name);
    free(orgs);
    meta_close(db);
    return 0;
}

static int org_member_add(const struct admin_ctx *ctx)
{
    struct hub_error err = HUB_ERROR_INIT;
    enum meta_role role = META_ROLE_WRITE, old_role = META_ROLE_READ;
    const char *org_name = NULL, *user_name = NULL;
    bool was_member;
    struct meta_user user;
    struct meta_org org;
    struct meta *db = NULL;
    char detail[256];
    int rc;

    for (int i = 2; i < ctx->argc; i++) {
        if (strcmp(ctx->argv[i], "--role") == 0) {
            const char *value = admin_option_value(ctx, &i);

            if (value == NULL)
                return 2;
            if (meta_role_parse(&role, value, &err) < 0)
                return admin_usage_error("%s", err.msg);
        } else if (ctx->argv[i][0] == '-') {
            return admin_usage_error("unknown option '%s'; use --role read|write|admin",
                                     ctx->argv[i]);
        } else if (org_name == NULL) {
            org_name = ctx->argv[i];
        } else if (user_name == NULL) {
            user_name = ctx->argv[i];
        } else {
            return admin_usage_error("unexpected argument '%s'; usage: org member add ORG USER "
                                     "[--role read|write|admin]",
                                     ctx->argv[i]);
        }
    }
    if (org_name == NULL || user_name == NULL)
        return admin_usage_error("usage: org member add ORG USER [--role read|write|admin]");
    rc = admin_db_open(&db, ctx);
    if (rc != 0)
        return rc;
    if (org_find(&org, db, org_name, &err) < 0 || user_find(&user, db, user_name, &err) < 0)
        return fail(db, &err);
    rc = meta_org_member_role(&old_role, db, org.id, user.id, &err);
    if (rc < 0 && rc != HUB_ENOTFOUND)
        return fail(db, &err);
    was_member = rc == 0;
    if (was_member && old_role == role) {
        printf("%s is already a member of %s with role %s; nothing changed\n", user.name, org.name,
               meta_role_name(role));
        meta_close(db);
        return 0;
    }
    if (meta_org_member_set(db, org.id, user.id, role, &err) < 0)
        return fail(db, &err);
    snprintf(detail, sizeof(detail), "org=%s user=%s role=%s", org.name, user.name,
             meta_role_name(role));
    audit(db, "org.member", detail);
    if (was_member)
        printf("changed the role of %s in %s from %s to %s\n", user.name, org.name,
               meta_role_name(old_role), meta_role_name(role));
    else
        printf("%s is now a member of %s with role %s\n", user.name, org.name,
               meta_role_name(role));
    meta_close(db);
    return 0;
}

static int org_member_remove(const struct admin_ctx *ctx)
{
    struct hub_error err = HUB_ERROR_INIT;
    enum meta_role role;
    struct meta_user user;
    struct meta_org org;
    struct meta *db = NULL;
    char detail[256];
    int rc;

    if (ctx->argc != 4)
        return admin_usage_error("usage: org member remove ORG USER");
    rc = admin_db_open(&db, ctx);
    if (rc != 0)
        return rc;
    if (org_find(&org, db, ctx->argv[2], &err) < 0 || user_find(&user, db, ctx->argv[3], &err) < 0)
        return fail(db, &err);
    rc = meta_org_member_role(&role, db, org.id, user.id, &err);
    if (rc == HUB_ENOTFOUND) {
        fprintf(stderr,
                "atelier admin: %s is not a member of %s; `org member list %s` shows the "
                "members\n",
                user.name, org.name, org.name);
        meta_close(db);
        return 1;
    }
    if (rc < 0 || meta_org_member_remove(db, org.id, user.id, &err) < 0)
        return fail(db, &err);
    snprintf(detail, sizeof(detail), "org=%s user=%s", org.name, user.name);
    audit(db, "org.member.remove", detail);
    printf("%s is no longer a member of %s\n", user.name, org.name);
    meta_close(db);
    return 0;
}

static int org_member_list(const struct admin_ctx *ctx)
{
    struct hub_error err = HUB_ERROR_INIT;
    struct meta_member *members = NULL;
    struct meta_org org;
    struct meta *db = NULL;
    size_t n = 0;
    int rc;

    if (ctx->argc != 3)
        return admin_usage_error("usage: org member list ORG");
    rc = admin_db_open(&db, ctx);
    if (rc != 0)
        return rc;
    if (org_find(&org, db, ctx->argv[2], &err) < 0 ||
        meta_org_member_list(&members, &n, db, org.id, 0, &err) < 0)
        return fail(db, &err);
    printf("%-24s %s\n", "USER", "ROLE");
    for (size_t i = 0; i < n; i++)
        printf("%-24s %s\n", members[i].user_name, meta_role_name(members[i].role));
    free(members);
    meta_close(db);
    return 0;
}

int admin_cmd_org(const struct admin_ctx *ctx)
{
    if (ctx->argc >= 1 && strcmp(ctx->argv[0], "add") == 0)
        return org_add(ctx);
    if (ctx->argc >= 1 && strcmp(ctx->argv[0], "list") == 0)
        return org_list(ctx);
    if (ctx->argc >= 2 && strcmp(ctx->argv[0], "member") == 0 && strcmp(ctx->argv[1], "add") == 0)
        return org_member_add(ctx);
    if (ctx->argc >= 2 && strcmp(ctx->argv[0], "member") == 0 && strcmp(ctx->argv[1], "list") == 0)
        return org_member_list(ctx);
    if (ctx->argc >= 2 && strcmp(ctx->argv[0], "member") == 0 &&
        strcmp(ctx->argv[1], "remove") == 0)
        return org_member_remove(ctx);
    if (ctx->argc < 1)
        return admin_usage_error("missing org command: use add, list, member add, member remove "
                                 "or member list");
    if (strcmp(ctx->argv[0], "member") == 0)
        return admin_usage_error("unknown org command 'member%s%s': use member add, member remove "
                                 "or member list",
                                 ctx->argc >= 2 ? " " : "", ctx->argc >= 2 ? ctx->argv[1] : "");
    return admin_usage_error("unknown org command '%s': use add, list, member add, member remove "
                             "or member list",
                             ctx->argv[0]);
}
