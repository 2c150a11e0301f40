/* hf_commit_parse: the NDJSON body of the Hub commit API, parsed as it streams in. Each line
 * is one JSON object: a "header" line first, then "file" (base64 or UTF-8 content),
 * "lfsFile" (a pointer to an uploaded object), "deletedFile" and "deletedFolder" lines. Pure
 * code on bytes (jansson for each line), so the fuzz target runs it without a daemon. */
#ifndef HF_COMMIT_PARSE_H
#define HF_COMMIT_PARSE_H

#include "hub_error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum hf_op_kind {
    HF_OP_FILE = 0, /* add or replace a regular file with data */
    HF_OP_LFS = 1,  /* add or replace a file with a pointer to lfs_oid */
    HF_OP_DELETE_FILE = 2,
    HF_OP_DELETE_FOLDER = 3, /* path has no trailing '/' */
};

struct hf_commit_op {
    enum hf_op_kind kind;
    char *path;          /* checked with hf_path_check; owned */
    unsigned char *data; /* HF_OP_FILE: decoded content; owned */
    size_t len;
    char lfs_oid[65];  /* HF_OP_LFS: 64 lowercase hex */
    uint64_t lfs_size; /* HF_OP_LFS, when has_size */
    bool has_size;     /* the client sent "size" (copy operations omit it) */
};

struct hf_commit_limits {
    uint64_t max_file_bytes; /* decoded content of one "file" line */
    uint64_t max_operations; /* file lines in one body */
};

/* Parser state. Fields after the header are filled as lines arrive. */
struct hf_commit_parser {
    struct hf_commit_limits limits;
    char *line; /* the incomplete line so far */
    size_t line_len;
    size_t line_cap;
    size_t line_no; /* 1-based number of the line being read */
    bool have_header;
    char *summary;     /* owned; "" when the header had none */
    char *description; /* owned; "" when none */
    char parent[41];   /* parentCommit, or "" */
    struct hf_commit_op *ops;
    size_t op_count;
    size_t op_cap;
};

/** Prepares p. Never fails; dispose with hf_commit_parser_dispose(). */
void hf_commit_parser_init(struct hf_commit_parser *p, const struct hf_commit_limits *limits);

/** Feeds len more bytes of the body. Complete lines are parsed at once. Returns 0,
 * HUB_EINVAL (malformed line, naming the line number and the problem), HUB_ETOOBIG (a line
 * or the operation count over the limits) or HUB_ENOMEM. After an error p only needs
 * disposing. */
int hf_commit_parser_feed(struct hf_commit_parser *p, const char *data, size_t len,
                          struct hub_error *err);

/** Parses the last line (which may lack '\n') and checks that a header came. Returns 0 or
 * the codes of hf_commit_parser_feed. */
int hf_commit_parser_finish(struct hf_commit_parser *p, struct hub_error *err);

/** Frees everything p owns. Accepts a zeroed parser. */
void hf_commit_parser_dispose(struct hf_commit_parser *p);

/** Checks a repo-relative file path from a request: not empty, at most HUB_MAX_PATH_BYTES,
 * at most HUB_MAX_PATH_SEGMENTS segments, no leading or trailing '/', no empty, "." or ".."
 * segment, no backslash, no NUL or other control character, valid UTF-8 (JSON carries only
 * UTF-8, so a file with another path could not be listed). Returns 0 or
 * HUB_EINVAL/HUB_ETOOBIG with err naming the path. */
int hf_path_check(const char *path, struct hub_error *err);

/** Writes to rule (cap bytes) the rule of hf_path_check that path breaks, without the path
 * itself (such as "contains a backslash"), for callers that show the path in their own
 * form. Returns 0 when path breaks none, else the code hf_path_check returns. */
int hf_path_rule(const char *path, char *rule, size_t cap);

#endif
