/* hub_name: the repo types and the rules for user, organisation, repo, branch and tag names,
 * shared by the metadata, the git repos on disk and the HTTP layer so all three accept the
 * same names. */
#ifndef HUB_NAME_H
#define HUB_NAME_H

#include <stdbool.h>

#include "hub_error.h"
#include "hub_limits.h"

enum hub_repo_type {
    HUB_REPO_MODEL = 0,
    HUB_REPO_DATASET = 1,
};

/** Returns "model" or "dataset". Any thread. */
const char *hub_repo_type_name(enum hub_repo_type type);

/** Returns the plural used in URLs and on disk: "models" or "datasets". Any thread. */
const char *hub_repo_type_plural(enum hub_repo_type type);

/** Parses "model" or "dataset" (also the plurals "models" and "datasets") into *out.
 * Returns 0, or HUB_EINVAL naming the value. Any thread. */
int hub_repo_type_parse(enum hub_repo_type *out, const char *text, struct hub_error *err);

/** Checks a user, organisation or repo name: 1 to HUB_MAX_REPO_NAME_BYTES bytes from
 * [A-Za-z0-9._-], not starting or ending with '-' or '.', without "--" or "..", not ending in
 * ".git". what ("user name", "repo name") starts the error message. Returns 0, HUB_EINVAL or
 * HUB_ETOOBIG. Any thread. */
int hub_name_check(const char *name, const char *what, struct hub_error *err);

/** Returns whether hub_name_check would accept name. Any thread. */
bool hub_name_is_valid(const char *name);

/** Checks a new branch name against the rules of `git check-ref-format --branch` (compared
 * with git 2.39), and also rejects "@". A name has 1 to HUB_MAX_REVISION_BYTES bytes and is
 * not "HEAD". It does not start with '-', start or end with '/', end with '.', or contain
 * "..", "//" or "@{". No part between slashes starts with '.' or ends with ".lock". It has no
 * space, control character, backslash or any of ~ ^ : ? * [. Unlike git, it also rejects
 * ',', which separates the names in the list of protected branches, and bytes that are not
 * valid UTF-8, which the JSON of the refs listing cannot carry. Returns 0, or HUB_EINVAL
 * with a message that names the branch and the rule it breaks. Any thread. */
int hub_branch_name_check(const char *branch, struct hub_error *err);

/** Checks a new tag name with the rules of hub_branch_name_check except the one for ',',
 * with "tag" in place of "branch" in the message. Returns 0 or HUB_EINVAL. Any thread. */
int hub_tag_name_check(const char *tag, struct hub_error *err);

/** Splits "namespace/name" into the two buffers (each HUB_MAX_REPO_NAME_BYTES + 1 bytes) and
 * checks both names. Returns 0, HUB_EINVAL or HUB_ETOOBIG. Any thread. */
int hub_repo_id_parse(char ns_out[HUB_MAX_REPO_NAME_BYTES + 1],
                      char name_out[HUB_MAX_REPO_NAME_BYTES + 1], const char *id,
                      struct hub_error *err);

#endif
