/* meta_org: organisations (a class, a lab) and their members. Users and organisations share
 * one namespace: a name belongs to at most one of them, and repos live under it. */
#ifndef META_ORG_H
#define META_ORG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hub_error.h"
#include "hub_limits.h"

struct meta;

enum meta_role {
    META_ROLE_READ = 0,  /* reads the organisation's private repos */
    META_ROLE_WRITE = 1, /* also writes to its repos */
    META_ROLE_ADMIN = 2, /* also manages members and deletes repos */
};

struct meta_org {
    int64_t id;
    char name[HUB_MAX_REPO_NAME_BYTES + 1];
    int64_t created_at; /* seconds since the epoch */
};

struct meta_member {
    int64_t org_id;
    int64_t user_id;
    char org_name[HUB_MAX_REPO_NAME_BYTES + 1];
    char user_name[HUB_MAX_REPO_NAME_BYTES + 1];
    enum meta_role role;
};

enum meta_namespace_kind {
    META_NAMESPACE_USER = 0,
    META_NAMESPACE_ORG = 1,
};

struct meta_namespace {
    enum meta_namespace_kind kind;
    int64_t id; /* users.id or orgs.id */
};

/** Returns "read", "write" or "admin". Any thread. */
const char *meta_role_name(enum meta_role role);

/** Parses "read", "write" or "admin". Returns 0 or HUB_EINVAL. Any thread. */
int meta_role_parse(enum meta_role *out, const char *text, struct hub_error *err);

/** Adds an organisation. Sets *out_id (NULL allowed). Returns 0, HUB_EINVAL, HUB_ETOOBIG,
 * HUB_ECONFLICT (a user or organisation has that name) or HUB_EIO. */
int meta_org_add(int64_t *out_id, struct meta *db, const char *name, struct hub_error *err);

/** Looks an organisation up by name. Returns 0, HUB_ENOTFOUND or HUB_EIO. */
int meta_org_get(struct meta_org *out, struct meta *db, const char *name, struct hub_error *err);

/** Lists every organisation ordered by name. *out is malloc'd (free()). Returns 0 or HUB_E*. */
int meta_org_list(struct meta_org **out, size_t *count, struct meta *db, struct hub_error *err);

/** Adds user_id to org_id with role, or changes the role of a member. Returns 0,
 * HUB_ENOTFOUND (org or user) or HUB_EIO. */
int meta_org_member_set(struct meta *db, int64_t org_id, int64_t user_id, enum meta_role role,
                        struct hub_error *err);

/** Removes a member; removing a non-member is a no-op. Returns 0 or HUB_EIO. */
int meta_org_member_remove(struct meta *db, int64_t org_id, int64_t user_id, struct hub_error *err);

/** Reads the role of user_id in org_id. Returns 0, HUB_ENOTFOUND (not a member) or HUB_EIO. */
int meta_org_member_role(enum meta_role *out, struct meta *db, int64_t org_id, int64_t user_id,
                         struct hub_error *err);

/** Lists the members of org_id (org_id > 0), or the organisations of user_id (org_id == 0),
 * ordered by name. *out is malloc'd (free()). Returns 0 or HUB_E*. */
int meta_org_member_list(struct meta_member **out, size_t *count, struct meta *db, int64_t org_id,
                         int64_t user_id, struct hub_error *err);

/** Resolves a namespace name to the user or organisation that owns it. Returns 0,
 * HUB_ENOTFOUND or HUB_EIO. */
int meta_namespace_resolve(struct meta_namespace *out, struct meta *db, const char *name,
                           struct hub_error *err);

#endif
