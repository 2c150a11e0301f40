/* web: the HTML pages. The HTTP layer hands every request that no API, git or file route
 * took to web_handle(), which renders a page or returns 0 when it has none. This header
 * does not use libmicrohttpd, so the pages can be rendered and tested without a socket. */
#ifndef WEB_H
#define WEB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct meta; /* storage/: one SQLite connection, owned by the calling HTTP thread */
struct meta_repo;
struct repo;

struct web_request {
    const char *method;       /* "GET", "HEAD" or "POST" */
    const char *path;         /* URL path as sent, percent-encoded, starts with '/' */
    const char *query;        /* raw query string without '?', "" when none */
    const char *content_type; /* request Content-Type, or NULL */
    const char *body;         /* POST body (form data), not NUL-terminated; NULL when none */
    size_t body_len;          /* bytes in body */
    const char *cookie;       /* raw Cookie header, or NULL */
    const char *host;         /* Host header, used to print clone URLs; may be NULL */
    const char *request_id;   /* for log lines */
    bool tls;                 /* the connection is HTTPS: cookies get Secure */
    int64_t user_id;          /* authenticated user, or 0 for anonymous */
    const char *user_name;    /* NULL for anonymous */
    bool user_is_admin;
    const char *data_dir; /* the daemon's --data directory */
    struct meta *db;      /* this thread's metadata connection */
    /* Function that records the base model the files of commit on main name, after a page moved
     * main (the pull request merge). The server passes hf_base_model_refresh; NULL skips it. */
    void (*base_model_refresh)(struct meta *db, struct repo *git, const struct meta_repo *row,
                               const char *commit, const char *module, const char *request_id);
};

struct web_response {
    int status;               /* HTTP status */
    const char *content_type; /* static string, such as "text/html; charset=utf-8" */
    char *body;               /* malloc'd, freed by web_response_dispose */
    size_t body_len;
    char *set_cookie; /* malloc'd Set-Cookie value, or NULL */
    char *location;   /* malloc'd Location for redirects, or NULL */
    /* Cache-Control value, a static string that web_handle sets on every response it renders */
    const char *cache_control;
};

/* Cache-Control of static assets whose URL carries the running version (?v=VERSION), so a new
 * release changes the URL. */
#define WEB_CACHE_IMMUTABLE "public, max-age=31536000, immutable"
/* Cache-Control of pages seen by a logged-in user. They may show a new token or a private
 * repo, so neither the browser's disk cache nor a proxy may keep them. */
#define WEB_CACHE_PRIVATE "no-store"
/* Cache-Control of anonymous pages and unversioned assets: stored, but checked on each use. */
#define WEB_CACHE_REVALIDATE "no-cache"

/** Renders the page for req into resp. Returns 1 when it rendered a response (any status,
 * 404 pages included), 0 when req is not a page route and the caller should reply
 * itself. Runs on HTTP threads; uses only req->db for the database. */
int web_handle(const struct web_request *req, struct web_response *resp);

/** Frees what web_handle put in resp. Accepts a zeroed resp. */
void web_response_dispose(struct web_response *resp);

/* Runs after a page canceled a job. The daemon wakes the scheduler, which stops a running job's
 * worker. For a job canceled while queued (`was_queued`) it also removes the job's work folder
 * and the empty output repo. The job module sets it, because web/ cannot call it. */
typedef void (*web_job_canceled_fn)(struct meta *db, const char *data_dir, int64_t job_id,
                                    bool was_queued);

/** Sets the function a page calls after it canceled a job; NULL calls none. Call it before the
 * HTTP threads start. */
void web_job_canceled_hook_set(web_job_canceled_fn fn);

#endif
