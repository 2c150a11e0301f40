/* hub_limits: every input size limit of the hub, with its unit. The storage layer enforces
 * these values as fixed upper bounds. Some are also the defaults of daemon flags in struct
 * hub_config (see docs/limits.md), which can lower them for one daemon but not raise them past
 * what storage accepts. */
#ifndef HUB_LIMITS_H
#define HUB_LIMITS_H

#define HUB_MAX_REPO_NAME_BYTES 96         /* one of namespace or name in "namespace/name" */
#define HUB_MAX_PATH_BYTES      1024       /* a file path inside a repo */

/* Segments (parts between slashes) of a file path inside a repo. A resolve or tree URL puts
 * the path after the repo id, the route and a revision that may contain slashes. The HTTP
 * parser accepts at most 256 segments in all (HTTP_MAX_SEGMENTS), so 200 leaves room for the
 * others and keeps every committed file reachable by URL. */
#define HUB_MAX_PATH_SEGMENTS   200
#define HUB_MAX_REVISION_BYTES  255        /* a branch, tag or commit id */
#define HUB_MAX_JSON_BODY_BYTES (1u << 20) /* a JSON request body */

/* "namespace/name": two names and the slash. */
#define HUB_MAX_REPO_ID_BYTES (2 * HUB_MAX_REPO_NAME_BYTES + 1)

/* Files above this size are stored as LFS blobs even when no .gitattributes rule matches
 * (the Hugging Face Hub clients use the same 10 MiB cut). */
#define HUB_LFS_THRESHOLD_BYTES (10ull * 1024 * 1024)

/* One LFS object. The largest single safetensors files published on the Hugging Face Hub are
 * a few tens of GiB; 256 GiB leaves headroom and still stops a runaway upload. */
#define HUB_MAX_LFS_OBJECT_BYTES (256ull << 30)

/* A regular (non-LFS) file committed into git through the API, and a file read back into
 * memory by repo_file_read callers that do not pass their own cap. */
#define HUB_MAX_GIT_FILE_BYTES (64ull << 20)

/* Entries returned by one tree listing (recursive listings of huge datasets stop here). */
#define HUB_MAX_TREE_ENTRIES 200000

/* Operations (added, replaced or deleted files) in one commit. */
#define HUB_MAX_COMMIT_OPS 25000

/* A commit message (summary, blank line, description). */
#define HUB_MAX_COMMIT_MESSAGE_BYTES (64u * 1024)

/* An author or committer name or e-mail address. */
#define HUB_MAX_AUTHOR_BYTES 256

/* A .gitattributes file that is parsed for filter=lfs rules. */
#define HUB_MAX_GITATTRIBUTES_BYTES (256u * 1024)

/* Passwords: at least this many bytes, and at most this many (scrypt hashes any length, the
 * cap only bounds the work done for one login). */
#define HUB_MIN_PASSWORD_BYTES 8
#define HUB_MAX_PASSWORD_BYTES 1024

/* The label a user gives an access token. */
#define HUB_MAX_TOKEN_LABEL_BYTES 100

/* A search string in a repo listing. */
#define HUB_MAX_SEARCH_BYTES 256

/* Rows returned by one list call (repos, commits, audit entries). */
#define HUB_MAX_LIST_LIMIT 1000

/* The free-text detail of one audit log entry; longer details are cut, not rejected. */
#define HUB_MAX_AUDIT_DETAIL_BYTES 1024

/* Commits walked to find the last commit that touched a path, before giving up. */
#define HUB_MAX_LAST_COMMIT_WALK 2000

#endif
