/* jobs_http: the routes under /api/jobs and /api/evals, and the scheduler service.
 * A job is visible to its owner and to admins. To everyone else it does not exist (404),
 * because its spec names repos that may be private. */
#include "jobs_http.h"

#include "http.h"
#include "hub_config.h"
#include "hub_log.h"
#include "hub_name.h"
#include "jobs_clean.h"
#include "jobs_create.h"
#include "jobs_json.h"
#include "jobs_output.h"
#include "jobs_sched.h"
#include "meta.h"
#include "meta_jobs.h"
#include "meta_repo.h"
#include "web.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define JOBS_EVENTS_BATCH      100 /* events formatted per stream read */
#define JOBS_EVENTS_POLL_MS    200 /* pause between database polls while a job is quiet */
#define JOBS_EVENTS_IDLE_POLLS 5   /* polls without news before a keep-alive comment */

/* ---- Shared helpers --------------------------------------------------------------------- */

static int id_parse(int64_t *out, const char *text)
{
    unsigned long long value;
    char *end = NULL;

    if (text == NULL || text[0] < '0' || text[0] > '9')
        return -1;
    errno = 0;
    value = strtoull(text, &end, 10);
    if (errno != 0 || *end != '\0' || value == 0 || value > INT64_MAX)
        return -1;
    *out = (int64_t)value;
    return 0;
}

/* Loads the job named by the {id} parameter when the caller may see it. Replies itself and
 * returns 1 when the caller may not (401 or 404). */
static int job_load_visible(struct meta_job **out, struct http_request *req, struct hub_error *err)
{
    const struct http_user *user = http_request_user(req);
    const char *text = http_request_param(req, "id");
    int64_t id = 0;
    int rc;

    *out = NULL;
    if (user->id == 0) {
        http_reply_unauthorized(req);
        return 1;
    }
    if (id_parse(&id, text) < 0) {
        http_reply_error(req, 400, "invalid job id '%.40s': expected a positive number", text);
        return 1;
    }
    rc = meta_job_get(out, http_request_db(req), id, err);
    if (rc == HUB_ENOTFOUND || (rc == 0 && !user->is_admin && (*out)->owner_id != user->id)) {
        meta_job_free(*out);
        *out = NULL;
        http_reply_error(req, 404, "job %lld not found", (long long)id);
        return 1;
    }
    return rc;
}

static int job_reply(struct http_request *req, unsigned status, const struct meta_job *job,
                     struct hub_error *err)
{
    json_t *body = jobs_json_job(job);

    if (body == NULL)
        return hub_error_set(err, HUB_ENOMEM, "cannot format job %lld", (long long)job->id);
    return http_reply_json(req, status, body);
}

#define JOBS_LIST_DEFAULT_LIMIT 50 /* jobs per GET /api/jobs page without a limit */

/* Parses an optional query number into *out, which keeps its value when the parameter is
 * missing. Replies 400 and returns 1 when it is malformed or outside min to max. */
static int query_count(size_t *out, struct http_request *req, const char *name, size_t min,
                       size_t max)
{
    const char *text = http_request_query(req, name);
    unsigned long long value;
    char *end = NULL;

    if (text == NULL)
        return 0;
    errno = 0;
    value = strtoull(text, &end, 10);
    if (text[0] < '0' || text[0] > '9' || errno != 0 || *end != '\0' || value < min ||
        value > max) {
        http_reply_error(req, 400, "invalid query parameter '%s' '%.40s': expected %zu to %zu",
                         name, text, min, max);
        return 1;
    }
    *out = (size_t)value;
    return 0;
}

/* ---- GET /api/jobs ---------------------------------------------------------------------- */

/* Reads owner, state, repo, limit and offset. Replies and returns 1 on an invalid value. */
static int list_filter_parse(struct meta_job_filter *filter, struct http_request *req)
{
    const struct http_user *user = http_request_user(req);
    const char *state = http_request_query(req, "state");
    enum meta_job_state parsed;

    memset(filter, 0, sizeof(*filter));
    filter->state = -1;
    filter->owner = http_request_query(req, "owner");
    filter->repo = http_request_query(req, "repo");
    if (state != NULL) {
        if (!meta_job_state_parse(&parsed, state)) {
            http_reply_error(req, 400,
                             "invalid state '%.40s': expected queued, running, "
                             "succeeded, failed or canceled",
                             state);
            return 1;
        }
        filter->state = (int)parsed;
    }
    if (!user->is_admin) {
        if (filter->owner != NULL && strcmp(filter->owner, user->name) != 0) {
            http_reply_error(req, 403,
                             "only admins can list the jobs of other users; "
                             "leave out owner or pass owner=%s",
                             user->name);
            return 1;
        }
        filter->owner = user->name;
    }
    filter->limit = JOBS_LIST_DEFAULT_LIMIT;
    if (query_count(&filter->limit, req, "limit", 1, META_JOB_LIST_MAX) != 0 ||
        query_count(&filter->offset, req, "offset", 0, (size_t)INT64_MAX) != 0)
        return 1;
    return 0;
}

/* Adds Link rel="next" (as the Hugging Face Hub paginates) and X-Total-Count. */
static void list_headers(struct http_request *req, const struct meta_job_filter *filter,
                         const struct meta_job_list *list)
{
    char value[1024], total[32];

    snprintf(total, sizeof(total), "%lld", (long long)list->total);
    http_reply_header(req, "X-Total-Count", total);
    if ((int64_t)(filter->offset + list->count) >= list->total || list->count == 0)
        return;
    snprintf(value, sizeof(value), "<%s/api/jobs?limit=%zu&offset=%zu%s%s%s%s>; rel=\"next\"",
             http_request_base_url(req), filter->limit, filter->offset + list->count,
             filter->state >= 0 ? "&state=" : "",
             filter->state >= 0 ? meta_job_state_name((enum meta_job_state)filter->state) : "",
             filter->owner != NULL ? "&owner=" : "", filter->owner != NULL ? filter->owner : "");
    http_reply_header(req, "Link", value);
}

static int jobs_list_handle(struct http_request *req, void *arg, struct hub_error *err)
{
    struct meta_job_filter filter;
    struct meta_job_list list;
    json_t *items = NULL;
    int rc;

    (void)arg;
    if (http_request_user(req)->id == 0)
        return http_reply_unauthorized(req);
    if (list_filter_parse(&filter, req) != 0)
        return 0;
    if (filter.repo != NULL && strchr(filter.repo, '/') == NULL)
        return http_reply_error(req, 400, "invalid repo '%.200s': expected namespace/name",
                                filter.repo);
    rc = meta_job_list(&list, http_request_db(req), &filter, err);
    if (rc < 0)
        return rc;
    items = json_array();
    for (size_t i = 0; items != NULL && i < list.count; i++)
        json_array_append_new(items, jobs_json_job(&list.items[i]));
    list_headers(req, &filter, &list);
    meta_job_list_dispose(&list);
    if (items == NULL)
        return hub_error_set(err, HUB_ENOMEM, "cannot format the job list");
    return http_reply_json(req, 200, items);
}

/* ---- GET /api/jobs/{id}, POST /api/jobs/{id}/cancel ------------------------------------- */

static int job_show_handle(struct http_request *req, void *arg, struct hub_error *err)
{
    struct meta_job *job = NULL;
    int rc;

    (void)arg;
    rc = job_load_visible(&job, req, err);
    if (rc != 0)
        return rc < 0 ? rc : 0;
    rc = job_reply(req, 200, job, err);
    meta_job_free(job);
    return rc;
}

/* Removes what a queued job that was just canceled leaves: its work folder and the empty
 * output repo it created. The job pages call it too, through job_canceled_from_page. */
static void job_canceled_cleanup(struct meta *db, const char *data_dir, int64_t id)
{
    jobs_workdir_clean(data_dir, id);
    jobs_output_discard(db, data_dir, id);
}

/* Follows a cancel from a job page as the API route does: cleanup of a queued job, and a wake
 * so that the scheduler stops a running job's worker now, not at its next tick. */
static void job_canceled_from_page(struct meta *db, const char *data_dir, int64_t id,
                                   bool was_queued)
{
    if (was_queued)
        job_canceled_cleanup(db, data_dir, id);
    jobs_sched_wake();
}

static int job_cancel_handle(struct http_request *req, void *arg, struct hub_error *err)
{
    const struct http_user *user = http_request_user(req);
    struct meta *db = http_request_db(req);
    struct meta_job *job = NULL;
    enum meta_job_state state;
    int64_t id;
    int rc;

    (void)arg;
    rc = job_load_visible(&job, req, err);
    if (rc != 0)
        return rc < 0 ? rc : 0;
    id = job->id;
    meta_job_free(job);
    job = NULL;
    if (user->scope < HTTP_SCOPE_WRITE)
        return http_reply_error(req, 403, "canceling a job needs a write token");
    rc = meta_job_cancel(&state, db, id, user->name, err);
    if (rc == HUB_ECONFLICT)
        return http_reply_error(req, 409, "%s", err->msg);
    if (rc < 0)
        return rc;
    hub_log(HUB_LOG_INFO, "jobs", "cancel requested job=%lld by=%s state=%s req=%s", (long long)id,
            user->name, meta_job_state_name(state), http_request_id(req));
    /* A queued job is canceled now, and one that was retried has a checkpoint on disk. A
     * running job's folder is cleaned once its worker has stopped. */
    if (state == META_JOB_CANCELED)
        job_canceled_cleanup(db, http_request_config(req)->data_dir, id);
    jobs_sched_wake();
    rc = meta_job_get(&job, db, id, err);
    if (rc < 0)
        return rc;
    rc = job_reply(req, 202, job, err);
    meta_job_free(job);
    return rc;
}

/* ---- GET /api/jobs/{id}/log ------------------------------------------------------------- */

static int job_log_handle(struct http_request *req, void *arg, struct hub_error *err)
{
    const char *data_dir = http_request_config(req)->data_dir;
    struct meta_job *job = NULL;
    char path[4096];
    struct stat st;
    int fd, rc;

    (void)arg;
    rc = job_load_visible(&job, req, err);
    if (rc != 0)
        return rc < 0 ? rc : 0;
    snprintf(path, sizeof(path), "%s/jobs/%lld/%s", data_dir, (long long)job->id,
             JOBS_LOG_FILE_NAME);
    meta_job_free(job);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT)
        return http_reply_bytes(req, 200, "text/plain; charset=utf-8", "", 0);
    if (fd < 0)
        return hub_error_set_errno(err, HUB_EIO, errno, "cannot open the job log %s: %s", path,
                                   strerror(errno));
    if (fstat(fd, &st) < 0) {
        rc = hub_error_set_errno(err, HUB_EIO, errno, "cannot stat the job log %s: %s", path,
                                 strerror(errno));
        close(fd);
        return rc;
    }
    return http_reply_fd(req, 200, "text/plain; charset=utf-8", fd, 0, (uint64_t)st.st_size);
}

/* ---- GET /api/jobs/{id}/events ---------------------------------------------------------- */

/* State of one event stream; lives until the client goes away or the job ends. */
struct events_stream {
    int64_t job_id;
    int64_t last_seq; /* the last event id sent */
    char *data_dir;
    struct meta *db; /* own connection, opened on the first read by the HTTP thread */
    char *buf;       /* formatted bytes not yet handed out */
    size_t len, off, cap;
    bool ended; /* the job is terminal and every event was formatted */
};

static void events_stream_free(void *ctx)
{
    struct events_stream *s = ctx;

    if (s == NULL)
        return;
    meta_close(s->db);
    free(s->data_dir);
    free(s->buf);
    free(s);
}

static int events_append(struct events_stream *s, const char *text, size_t len)
{
    size_t need;

    if (!hub_size_add(&need, s->len, len))
        return -1;
    if (need > s->cap) {
        size_t cap = s->cap == 0 ? 4096 : s->cap;
        char *grown;

        while (cap < need)
            cap *= 2;
        grown = realloc(s->buf, cap);
        if (grown == NULL)
            return -1;
        s->buf = grown;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, text, len);
    s->len = need;
    return 0;
}

/* Formats the events after last_seq; returns how many, or -1 on an error. */
static int events_fetch(struct events_stream *s)
{
    struct meta_job_event_list list;
    struct hub_error err = HUB_ERROR_INIT;
    char head[96];
    int count = 0;

    if (meta_job_events_since(&list, s->db, s->job_id, s->last_seq, JOBS_EVENTS_BATCH, &err) < 0) {
        hub_log(HUB_LOG_ERROR, "jobs", "cannot load job events: %s job=%lld", err.msg,
                (long long)s->job_id);
        return -1;
    }
    for (size_t i = 0; i < list.count; i++) {
        const struct meta_job_event *ev = &list.items[i];
        int n = snprintf(head, sizeof(head), "id: %lld\nevent: %s\ndata: ", (long long)ev->seq,
                         ev->kind);

        /* data_json is one line: the worker and meta_jobs store compact JSON. */
        if (events_append(s, head, (size_t)n) < 0 ||
            events_append(s, ev->data_json, strlen(ev->data_json)) < 0 ||
            events_append(s, "\n\n", 2) < 0) {
            meta_job_event_list_dispose(&list);
            return -1;
        }
        s->last_seq = ev->seq;
        count++;
    }
    meta_job_event_list_dispose(&list);
    return count;
}

static int job_is_terminal(bool *out, struct events_stream *s)
{
    struct meta_job *job = NULL;
    struct hub_error err = HUB_ERROR_INIT;

    if (meta_job_get(&job, s->db, s->job_id, &err) < 0)
        return -1;
    *out = meta_job_state_is_terminal(job->state);
    meta_job_free(job);
    return 0;
}

/* Fills s->buf with new events, waiting up to about a second; a keep-alive comment when the
 * job stayed quiet. Marks the stream ended once the job is terminal and fully sent. */
static int events_refill(struct events_stream *s)
{
    struct timespec pause = {0, JOBS_EVENTS_POLL_MS * 1000000L};
    struct hub_error err = HUB_ERROR_INIT;
    bool terminal = false;
    int count;

    s->len = 0;
    s->off = 0;
    if (s->db == NULL && meta_open(&s->db, s->data_dir, 0, &err) < 0) {
        hub_log(HUB_LOG_ERROR, "jobs", "cannot open the database for an event stream: %s", err.msg);
        return -1;
    }
    for (int poll = 0; poll < JOBS_EVENTS_IDLE_POLLS; poll++) {
        count = events_fetch(s);
        if (count != 0)
            return count < 0 ? -1 : 0;
        if (job_is_terminal(&terminal, s) < 0)
            return -1;
        if (terminal) {
            /* The final state event may have landed between the two reads. */
            count = events_fetch(s);
            if (count < 0)
                return -1;
            s->ended = true;
            return 0;
        }
        nanosleep(&pause, NULL);
    }
    return events_append(s, ": keep-alive\n\n", 14);
}

static ssize_t events_read(void *ctx, uint64_t pos, char *buf, size_t max)
{
    struct events_stream *s = ctx;
    size_t n;

    (void)pos;
    if (s->off >= s->len) {
        if (s->ended)
            return HTTP_STREAM_END;
        if (events_refill(s) < 0)
            return HTTP_STREAM_ERROR;
        if (s->len == 0)
            return HTTP_STREAM_END;
    }
    n = s->len - s->off;
    if (n > max)
        n = max;
    memcpy(buf, s->buf + s->off, n);
    s->off += n;
    return (ssize_t)n;
}

static int job_events_handle(struct http_request *req, void *arg, struct hub_error *err)
{
    const char *last_id = http_request_header(req, "Last-Event-ID");
    struct meta_job *job = NULL;
    struct events_stream *s = NULL;
    int64_t after = 0;
    int rc;

    (void)arg;
    rc = job_load_visible(&job, req, err);
    if (rc != 0)
        return rc < 0 ? rc : 0;
    if (last_id == NULL)
        last_id = http_request_query(req, "after");
    if (last_id != NULL && strcmp(last_id, "0") != 0 && id_parse(&after, last_id) < 0) {
        meta_job_free(job);
        return http_reply_error(req, 400, "invalid Last-Event-ID '%.40s': expected an event id",
                                last_id);
    }
    s = calloc(1, sizeof(*s));
    if (s != NULL)
        s->data_dir = strdup(http_request_config(req)->data_dir);
    if (s == NULL || s->data_dir == NULL) {
        events_stream_free(s);
        meta_job_free(job);
        return hub_error_set(err, HUB_ENOMEM, "cannot allocate an event stream");
    }
    s->job_id = job->id;
    s->last_seq = after;
    meta_job_free(job);
    /* Tells EventSource to reconnect after two seconds, resuming from the last event id. */
    if (events_append(s, "retry: 2000\n\n", 13) < 0) {
        events_stream_free(s);
        return hub_error_set(err, HUB_ENOMEM, "cannot allocate an event stream");
    }
    http_reply_header(req, "Cache-Control", "no-cache");
    http_reply_header(req, "X-Accel-Buffering", "no");
    return http_reply_stream(req, 200, "text/event-stream", HTTP_LENGTH_UNKNOWN, events_read, s,
                             events_stream_free);
}

/* ---- GET /api/evals?repo=NS/NAME -------------------------------------------------------- */

static int evals_list_handle(struct http_request *req, void *arg, struct hub_error *err)
{
    const char *id = http_request_query(req, "repo");
    const char *type_text = http_request_query(req, "type");
    const struct http_user *user = http_request_user(req);
    struct meta *db = http_request_db(req);
    char ns[HUB_MAX_REPO_NAME_BYTES + 1], name[HUB_MAX_REPO_NAME_BYTES + 1];
    enum hub_repo_type type = HUB_REPO_MODEL;
    struct meta_eval_list list;
    struct meta_repo repo;
    bool readable = false;
    json_t *items;
    int rc;

    (void)arg;
    if (id == NULL)
        return http_reply_error(req, 400,
                                "missing query parameter 'repo': expected "
                                "repo=namespace/name");
    /* Only models are evaluated, and a readable dataset must not expose the evaluations of a
     * private model with the same id. */
    if (type_text != NULL &&
        (hub_repo_type_parse(&type, type_text, err) < 0 || type != HUB_REPO_MODEL))
        return http_reply_error(req, 400,
                                "invalid query parameter 'type' '%.40s': evaluations are of "
                                "models; leave 'type' out or use type=model",
                                type_text);
    if (strncmp(id, "datasets/", 9) == 0 || strncmp(id, "models/", 7) == 0)
        return http_reply_error(req, 400,
                                "invalid query parameter 'repo' '%.200s': expected "
                                "namespace/name of the evaluated model without a type prefix; "
                                "each evaluation names its dataset",
                                id);
    if (hub_repo_id_parse(ns, name, id, err) < 0)
        return http_reply_error(req, 400,
                                "invalid query parameter 'repo' '%.200s': expected "
                                "namespace/name of the evaluated model",
                                id);
    rc = meta_repo_get(&repo, db, type, ns, name, err);
    if (rc == 0)
        rc = meta_repo_can_read(&readable, db, &repo, user->id, err);
    if (rc == HUB_ENOTFOUND || (rc == 0 && !readable))
        return http_reply_error(req, 404, "%s repo '%s' not found", hub_repo_type_name(type), id);
    if (rc < 0)
        return rc;
    rc = meta_evals_for_repo(&list, db, id, err);
    if (rc < 0)
        return rc;
    items = json_array();
    for (size_t i = 0; items != NULL && i < list.count; i++)
        json_array_append_new(items, jobs_json_eval(&list.items[i], db, user->id));
    meta_eval_list_dispose(&list);
    if (items == NULL)
        return hub_error_set(err, HUB_ENOMEM, "cannot format the evaluation list");
    return http_reply_json(req, 200, items);
}

/* ---- Registration ----------------------------------------------------------------------- */

static int sched_service_start(void *arg, const struct hub_config *config, struct hub_error *err)
{
    (void)arg;
    return jobs_sched_start(config, err);
}

static void sched_service_stop(void *arg)
{
    (void)arg;
    jobs_sched_stop();
}

static const struct http_route routes[] = {
    {.name = "jobs.create",
     .methods = "POST",
     .pattern = "/api/jobs",
     .body = HTTP_BODY_BUFFER,
     .auth_required = true,
     .handle = jobs_create_handle},
    {.name = "jobs.list",
     .methods = "GET",
     .pattern = "/api/jobs",
     .auth_required = true,
     .handle = jobs_list_handle},
    {.name = "jobs.show",
     .methods = "GET",
     .pattern = "/api/jobs/{id}",
     .auth_required = true,
     .handle = job_show_handle},
    {.name = "jobs.cancel",
     .methods = "POST",
     .pattern = "/api/jobs/{id}/cancel",
     .auth_required = true,
     .handle = job_cancel_handle},
    {.name = "jobs.log",
     .methods = "GET HEAD",
     .pattern = "/api/jobs/{id}/log",
     .auth_required = true,
     .handle = job_log_handle},
    {.name = "jobs.events",
     .methods = "GET",
     .pattern = "/api/jobs/{id}/events",
     .auth_required = true,
     .handle = job_events_handle},
    {.name = "jobs.evals", .methods = "GET", .pattern = "/api/evals", .handle = evals_list_handle},
};

static const struct http_service sched_service = {
    .name = "jobs.scheduler",
    .start = sched_service_start,
    .stop = sched_service_stop,
};

void jobs_http_register(struct http_router *router)
{
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        http_router_add(router, &routes[i]);
    http_router_add_service(router, &sched_service);
    web_job_canceled_hook_set(job_canceled_from_page);
}
