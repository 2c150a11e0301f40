/* git_backend: runs `git http-backend` (the CGI program that ships with git) for one smart
 * HTTP request and hands back its status, headers and body. The HTTP layer authenticates and
 * authorises first, so git only gets requests it is allowed to serve. Request bodies are
 * spooled to an unlinked temporary file first, so the child never waits on the network and
 * a repo lock is never held while a slow client uploads. Responses are read from a pipe
 * (streamed, for fetches) or from a temporary file (for pushes, so the caller can release
 * the repo lock before it sends a byte). Not thread-bound: any HTTP thread, one request per
 * struct. No function here touches the repo lock or the database. */
#ifndef GIT_BACKEND_H
#define GIT_BACKEND_H

#include "hub_error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define GITHTTP_MAX_CGI_HEADER_BYTES 8192 /* the header block git http-backend writes */
#define GITHTTP_MAX_ENV_VARS         64   /* environment entries passed to the child */

/* A request body in an unlinked temporary file. */
struct githttp_spool {
    int fd;             /* -1 when closed */
    uint64_t bytes;     /* bytes written so far */
    uint64_t max_bytes; /* githttp_spool_write fails with HUB_ETOOBIG past this */
};

#define GITHTTP_SPOOL_INIT {-1, 0, 0}

/** Opens an empty spool file in tmp_dir (which must exist) that accepts at most max_bytes.
 * Returns 0 or HUB_EIO. */
int githttp_spool_open(struct githttp_spool *spool, const char *tmp_dir, uint64_t max_bytes,
                       struct hub_error *err);

/** Appends len bytes of data. Returns 0, HUB_ETOOBIG past max_bytes, or HUB_EIO. */
int githttp_spool_write(struct githttp_spool *spool, const void *data, size_t len,
                        struct hub_error *err);

/** Closes the spool file. Accepts a closed spool. */
void githttp_spool_close(struct githttp_spool *spool);

/* Request for one git http-backend run. Strings are borrowed for the duration of
 * githttp_backend_start. */
struct githttp_backend_request {
    const char *repo_dir;          /* the bare repository, absolute path */
    const char *rest;              /* after the repo: "info/refs", "git-upload-pack", ... */
    const char *method;            /* "GET" or "POST" */
    const char *query;             /* raw query string without '?', or "" */
    const char *content_type;      /* request Content-Type, or NULL */
    const char *content_encoding;  /* request Content-Encoding ("gzip"), or NULL */
    const char *git_protocol;      /* Git-Protocol request header ("version=2"), or NULL */
    const char *remote_user;       /* authenticated user name, or NULL when anonymous */
    const char *remote_addr;       /* client address, or NULL */
    int body_fd;                   /* spooled body, read from offset 0, or -1 for none */
    uint64_t body_bytes;           /* bytes in body_fd */
    const char *const *extra_env;  /* NULL-terminated "NAME=value" entries, or NULL */
    const char *tmp_dir;           /* where the child's stderr (and output) files go */
    bool wait_for_exit;            /* true: the child writes to a temporary file and
                                      githttp_backend_start returns after it exited */
    unsigned max_seconds;          /* with wait_for_exit: kill the child after this many
                                      seconds (HUB_EIO); 0 for no limit */
};

struct githttp_backend;

/** Starts `git http-backend` for req and reads its CGI header block. On success *out owns
 * the child; read the body with githttp_backend_read and free it with githttp_backend_free.
 * Returns 0, HUB_EIO when the child could not start or wrote no valid header block, or
 * HUB_ENOMEM. */
int githttp_backend_start(struct githttp_backend **out, const struct githttp_backend_request *req,
                          struct hub_error *err);

/** Returns the HTTP status from the child's "Status:" header, 200 when it sent none. */
unsigned githttp_backend_status(const struct githttp_backend *backend);

/** Returns the value of CGI response header name (case-insensitive), or NULL. The string is
 * borrowed from backend. */
const char *githttp_backend_header(const struct githttp_backend *backend, const char *name);

/** Returns the number of CGI response headers and stores header i's name and value. */
size_t githttp_backend_header_count(const struct githttp_backend *backend);
void githttp_backend_header_at(const struct githttp_backend *backend, size_t i,
                               const char **name, const char **value);

/** Reads up to max body bytes into buf. Returns the count (> 0), 0 at the end of the body,
 * or HUB_EIO. Blocks until the child writes or exits. */
ssize_t githttp_backend_read(struct githttp_backend *backend, char *buf, size_t max,
                             struct hub_error *err);

/** Waits for the child and returns its exit status (0 on success, -1 when it was killed by a
 * signal). Logs the child's stderr when it failed. Safe to call more than once. */
int githttp_backend_wait(struct githttp_backend *backend);

/** Kills the child's process group if it still runs, reaps it and frees backend. Accepts
 * NULL. */
void githttp_backend_free(struct githttp_backend *backend);

#endif
