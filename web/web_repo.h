/* web_repo: what the pages of one repository share: the repo being shown (its row, its open
 * git repo) and the header with the tabs and the branch and tag switcher. page_repo.c routes
 * /{ns}/{name}/... and /datasets/{ns}/{name}/... to the card, files and history pages. */
#ifndef WEB_REPO_H
#define WEB_REPO_H

#include <stdbool.h>

#include "meta_repo.h"
#include "repo.h"
#include "web_page.h"
#include "web_tensors.h"

#define WEB_MAX_SHOWN_FILE_BYTES (1u << 20) /* text shown in place; larger files only link */
_Static_assert(WEB_MAX_SHOWN_FILE_BYTES % (1u << 20) == 0, "the file page names the limit in MiB");

struct web_repo_view {
    struct web_ctx *ctx;
    struct meta_repo meta;
    struct repo *git;                   /* open for the request; owned */
    char id[HUB_MAX_REPO_ID_BYTES + 1]; /* "ns/name" */
    const char *prefix;                 /* "" for models, "/datasets" for datasets */
    bool can_write;                     /* whether the viewer may write: shows Settings */
};

enum web_repo_tab {
    WEB_TAB_CARD = 0,
    WEB_TAB_FILES = 1,
    WEB_TAB_HISTORY = 2,
    WEB_TAB_SETTINGS = 3, /* has no branch switcher */
    WEB_TAB_PULLS = 4,    /* has no branch switcher */
};

/** Returns whether id ("ns/name") names a hosted repo of type that the viewer may read, so a
 * page may link it. */
bool web_repo_id_readable(const struct web_ctx *ctx, const char *id, enum hub_repo_type type);

/** Starts a repo page titled "page_name · ns/name", or "ns/name" when page_name is NULL, so
 * each tab and file has a title of its own. */
void web_repo_page_begin(struct web_repo_view *v, const char *page_name);

/** Writes the page header: kind, id, badges, the tabs with tab marked current, and the branch
 * and tag switcher for rev, whose links keep the tab and path. */
void web_repo_header(struct web_repo_view *v, enum web_repo_tab tab, const char *rev,
                     const char *path);

/** Appends the URL of a repo page: prefix/ns/name, then "/" kind "/" rev "/" path for each
 * part that is not NULL. rev is encoded as one segment, path keeps its slashes. */
void web_repo_href(struct web_buf *b, const struct web_repo_view *v, const char *kind,
                   const char *rev, const char *path);

/** Renders Markdown of a file in folder dir ("" for the root) at rev, with relative links
 * pointing at the repo's blob pages and relative images at its resolve URLs. *out is malloc'd
 * (free()). Returns 0 or HUB_ENOMEM. */
int web_repo_markdown(char **out, struct web_repo_view *v, const char *rev, const char *dir,
                      const char *text, size_t len, struct hub_error *err);

/** Returns whether the repo is an adapter: a model with adapter_config.json at rev's root. */
bool web_repo_is_adapter(struct web_repo_view *v, const char *rev);

/* The bytes of one file at a revision: an open LFS object or the git blob in memory. */
struct web_file_source {
    int fd;        /* the LFS object, or -1 */
    char *data;    /* the git blob, or NULL; owned */
    uint64_t size; /* bytes */
};

/** Opens the content of entry at rev: from the LFS store when it is a pointer that the repo
 * may read, else from git (at most HUB_MAX_GIT_FILE_BYTES). Close src with
 * web_file_source_close() on every path. Returns 0 or HUB_E*. */
int web_file_source_open(struct web_file_source *src, struct web_repo_view *v, const char *rev,
                         const struct repo_entry *entry, struct hub_error *err);

/** Reads len bytes at offset into buf. Returns 0, HUB_EINVAL (past the end) or HUB_EIO. */
int web_file_source_read(struct web_file_source *src, void *buf, size_t len, uint64_t offset,
                         struct hub_error *err);

/** Closes what web_file_source_open opened. Accepts a zeroed source with fd -1. */
void web_file_source_close(struct web_file_source *src);

/** Parses the safetensors header of an open source. */
int web_tensors_load(struct web_tensors *out, struct web_file_source *src, struct hub_error *err);

/** Appends a tensor shape as "[2, 3]". */
void web_tensor_shape(struct web_buf *b, const struct web_tensor *t);

/* Files and history pages (page_files.c, page_history.c). Each returns 1. */
int web_files_tree(struct web_repo_view *v, const char *rev, const char *path);
int web_files_blob(struct web_repo_view *v, const char *rev, const char *path);
int web_history_list(struct web_repo_view *v, const char *rev);
int web_history_commit(struct web_repo_view *v, const char *sha);

/** Routes /{repo}/settings[/...] (page_repo_settings.c): the settings page and its forms, for
 * viewers with write access. rest starts after "settings". Returns 1. */
int web_repo_settings(struct web_repo_view *v, const char *const *rest, size_t nrest);

/** Writes the list of files that differ between the recursive listings old_e (at old_rev) and
 * new_e (at new_rev), then a diff section for each. Returns the number of changed files. */
size_t web_diff_trees(struct web_repo_view *v, const char *old_rev, struct repo_entry *old_e,
                      size_t n_old, const char *new_rev, struct repo_entry *new_e, size_t n_new);

/* Pull request pages (page_pr.c): rest starts with "discussions". Returns 1. */
int web_pr_route(struct web_repo_view *v, const char *const *rest, size_t nrest);

/** Renders the New pull request form of /{id}/discussions/new on GET and opens the pull
 * request on POST (page_pr_new.c). Returns 1. */
int web_pr_new(struct web_repo_view *v);

/** Writes the link to the New pull request form, or for a visitor without a browser session
 * a link to log in first. */
void web_pr_new_link(struct web_repo_view *v);

#endif
