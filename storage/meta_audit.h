/* meta_audit: the audit log, one row per security-relevant action (user, token, org and repo
 * changes, pushes, deletions). Rows are only ever added; no function edits or deletes one. */
#ifndef META_AUDIT_H
#define META_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "hub_error.h"
#include "hub_limits.h"

struct meta;

struct meta_audit_entry {
    int64_t id;
    int64_t time;                                /* seconds since the epoch */
    char user[HUB_MAX_REPO_NAME_BYTES + 1];      /* acting user's name, "" for the system */
    char action[64];                             /* "repo.create", "token.revoke", ... */
    char repo[HUB_MAX_REPO_ID_BYTES + 16];       /* "model:ns/name", or "" */
    char detail[HUB_MAX_AUDIT_DETAIL_BYTES + 1]; /* free text, never a secret */
};

/* Filters for meta_audit_list; zero-initialise, then set what you need. */
struct meta_audit_query {
    const char *user;   /* exact user name, or NULL */
    const char *repo;   /* exact repo string as stored, or NULL */
    const char *action; /* exact action, or NULL */
    size_t limit;       /* 1 to HUB_MAX_LIST_LIMIT; 0 means 100 */
    size_t offset;
};

/** Appends an entry. user and repo may be NULL; action is a short dotted word of at most 63
 * bytes; detail may be NULL and is cut to HUB_MAX_AUDIT_DETAIL_BYTES. Returns 0, HUB_EINVAL
 * or HUB_EIO. */
int meta_audit_add(struct meta *db, const char *user, const char *action, const char *repo,
                   const char *detail, struct hub_error *err);

/** Lists entries matching q, newest first. *out is malloc'd (free()). Returns 0 or HUB_E*. */
int meta_audit_list(struct meta_audit_entry **out, size_t *count, struct meta *db,
                    const struct meta_audit_query *q, struct hub_error *err);

#endif
