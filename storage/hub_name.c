/* hub_name: repo type names and the allow-list check for user, organisation and repo names.
 * The rules match what the Hugging Face Hub clients check locally before they send a request,
 * so every name the hub accepts is one those clients can use. */
#include "hub_name.h"
#include "hub_utf8.h"

#include <stdio.h>
#include <string.h>

const char *hub_repo_type_name(enum hub_repo_type type)
{
    return type == HUB_REPO_DATASET ? "dataset" : "model";
}

const char *hub_repo_type_plural(enum hub_repo_type type)
{
    return type == HUB_REPO_DATASET ? "datasets" : "models";
}

int hub_repo_type_parse(enum hub_repo_type *out, const char *text, struct hub_error *err)
{
    if (text != NULL && (strcmp(text, "model") == 0 || strcmp(text, "models") == 0)) {
        *out = HUB_REPO_MODEL;
        return 0;
    }
    if (text != NULL && (strcmp(text, "dataset") == 0 || strcmp(text, "datasets") == 0)) {
        *out = HUB_REPO_DATASET;
        return 0;
    }
    return hub_error_set(err, HUB_EINVAL, "invalid repo type '%.40s': use model or dataset",
                         text != NULL ? text : "");
}

static bool name_char_is_allowed(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
}

int hub_name_check(const char *name, const char *what, struct hub_error *err)
{
    size_t len;

    if (name == NULL || name[0] == '\0')
        return hub_error_set(err, HUB_EINVAL, "missing %s", what);
    len = strnlen(name, HUB_MAX_REPO_NAME_BYTES + 1);
    if (len > HUB_MAX_REPO_NAME_BYTES)
        return hub_error_set(err, HUB_ETOOBIG, "%s '%.40s...' is longer than %d bytes", what, name,
                             HUB_MAX_REPO_NAME_BYTES);
    for (size_t i = 0; i < len; i++) {
        if (!name_char_is_allowed(name[i]))
            return hub_error_set(err, HUB_EINVAL,
                                 "invalid %s '%s': use only letters, digits, '.', '_' and '-'",
                                 what, name);
    }
    if (name[0] == '-' || name[0] == '.' || name[len - 1] == '-' || name[len - 1] == '.')
        return hub_error_set(err, HUB_EINVAL,
                             "invalid %s '%s': it may not start or end with '-' or '.'", what,
                             name);
    if (strstr(name, "--") != NULL || strstr(name, "..") != NULL)
        return hub_error_set(err, HUB_EINVAL, "invalid %s '%s': it may not contain '--' or '..'",
                             what, name);
    if (len >= 4 && strcmp(name + len - 4, ".git") == 0)
        return hub_error_set(err, HUB_EINVAL, "invalid %s '%s': it may not end in '.git'", what,
                             name);
    return 0;
}

bool hub_name_is_valid(const char *name)
{
    return hub_name_check(name, "name", NULL) == 0;
}

int hub_repo_id_parse(char ns_out[HUB_MAX_REPO_NAME_BYTES + 1],
                      char name_out[HUB_MAX_REPO_NAME_BYTES + 1], const char *id,
                      struct hub_error *err)
{
    const char *slash;
    size_t ns_len;
    int rc;

    if (id == NULL)
        return hub_error_set(err, HUB_EINVAL, "missing repo id: use namespace/name");
    slash = strchr(id, '/');
    if (slash == NULL)
        return hub_error_set(err, HUB_EINVAL, "invalid repo id '%.200s': use namespace/name", id);
    ns_len = (size_t)(slash - id);
    if (ns_len > HUB_MAX_REPO_NAME_BYTES)
        return hub_error_set(err, HUB_ETOOBIG,
                             "namespace of repo id '%.60s...' is longer than %d bytes", id,
                             HUB_MAX_REPO_NAME_BYTES);
    memcpy(ns_out, id, ns_len);
    ns_out[ns_len] = '\0';
    rc = hub_name_check(ns_out, "namespace", err);
    if (rc < 0)
        return rc;
    if (strnlen(slash + 1, HUB_MAX_REPO_NAME_BYTES + 1) > HUB_MAX_REPO_NAME_BYTES)
        return hub_error_set(err, HUB_ETOOBIG, "repo name in '%.60s...' is longer than %d bytes",
                             id, HUB_MAX_REPO_NAME_BYTES);
    strcpy(name_out, slash + 1);
    return hub_name_check(name_out, "repo name", err);
}

/* Writes to rule (cap bytes) the rule of ref_name_check that a non-empty name of at most
 * HUB_MAX_REVISION_BYTES bytes breaks, with kind ("branch" or "tag") in the text. Returns
 * whether the name breaks one. */
static bool ref_name_rule(char *rule, size_t cap, const char *name, const char *kind)
{
    size_t len = strlen(name);

    if (strcmp(name, "@") == 0 || strcmp(name, "HEAD") == 0)
        return snprintf(rule, cap, "a %s may not be named '@' or 'HEAD'", kind) > 0;
    if (name[0] == '-')
        return snprintf(rule, cap, "a %s name may not start with '-'", kind) > 0;
    if (name[0] == '/' || name[len - 1] == '/')
        return snprintf(rule, cap, "a %s name may not start or end with '/'", kind) > 0;
    if (name[len - 1] == '.')
        return snprintf(rule, cap, "a %s name may not end with '.'", kind) > 0;
    if (strstr(name, "..") != NULL)
        return snprintf(rule, cap, "a %s name may not contain '..'", kind) > 0;
    if (strstr(name, "//") != NULL)
        return snprintf(rule, cap, "a %s name may not contain '//'", kind) > 0;
    if (strstr(name, "@{") != NULL)
        return snprintf(rule, cap, "a %s name may not contain '@{'", kind) > 0;
    /* Leading, trailing and doubled slashes are ruled out above, so every part is non-empty. */
    for (const char *part = name; part[0] != '\0';) {
        size_t part_len = strcspn(part, "/");

        if (part[0] == '.')
            return snprintf(rule, cap, "no part of a %s name between slashes may start with '.'",
                            kind) > 0;
        if (part_len >= 5 && memcmp(part + part_len - 5, ".lock", 5) == 0)
            return snprintf(rule, cap, "no part of a %s name between slashes may end with '.lock'",
                            kind) > 0;
        part += part_len;
        if (part[0] == '/')
            part++;
    }
    return false;
}

/* Checks name as a branch or tag name, kind being "branch" or "tag", with the rules of
 * hub_branch_name_check. */
static int ref_name_check(const char *name, const char *kind, struct hub_error *err)
{
    size_t len = strlen(name);
    char rule[96];

    if (len == 0)
        return hub_error_set(err, HUB_EINVAL, "invalid %s name: a %s name may not be empty", kind,
                             kind);
    if (len > HUB_MAX_REVISION_BYTES)
        return hub_error_set(err, HUB_EINVAL,
                             "invalid %s name '%.64s...': a %s name may be at most %d bytes long",
                             kind, name, kind, HUB_MAX_REVISION_BYTES);
    if (ref_name_rule(rule, sizeof(rule), name, kind))
        return hub_error_set(err, HUB_EINVAL, "invalid %s name '%.64s': %s", kind, name, rule);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];

        if (c <= ' ' || c == 0x7f)
            return hub_error_set(err, HUB_EINVAL,
                                 "invalid %s name '%.64s': a %s name may not contain spaces or "
                                 "control characters",
                                 kind, name, kind);
        if (strchr("~^:?*[\\", c) != NULL)
            return hub_error_set(err, HUB_EINVAL,
                                 "invalid %s name '%.64s': a %s name may not contain '%c'", kind,
                                 name, kind, c);
    }
    /* git allows any bytes above 0x7f, but the refs listing is JSON, which needs UTF-8. */
    if (!hub_utf8_is_valid(name, len))
        return hub_error_set(err, HUB_EINVAL, "invalid %s name '%.64s': a %s name must be UTF-8",
                             kind, name, kind);
    return 0;
}

int hub_branch_name_check(const char *branch, struct hub_error *err)
{
    int rc = ref_name_check(branch, "branch", err);

    if (rc < 0)
        return rc;
    /* githook_branch_is_listed splits the list of protected branches at spaces and commas, so
     * a branch with a comma could never be protected. */
    if (strchr(branch, ',') != NULL)
        return hub_error_set(err, HUB_EINVAL,
                             "invalid branch name '%.64s': a branch name may not contain ','",
                             branch);
    return 0;
}

int hub_tag_name_check(const char *tag, struct hub_error *err)
{
    return ref_name_check(tag, "tag", err);
}
