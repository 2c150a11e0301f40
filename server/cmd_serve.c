/* atelier serve: the hub daemon. Parses the flags into struct hub_config, prepares the data
 * directory and the database (migrations run here), registers every module's routes and
 * services, listens, and on SIGTERM or SIGINT stops accepting, lets in-flight requests
 * finish and exits 0. */
#include "commands.h"

#include "hf_http.h"
#include "http_server.h"
#include "hub_config.h"
#include "hub_log.h"
#include "meta.h"
#include "meta_user.h"
#include "storage.h"
#include "store.h"

#if __has_include("git_http.h")
#include "git_http.h"
#define HAVE_GIT_HTTP 1
#endif
#if __has_include("jobs_http.h")
#include "jobs_http.h"
#define HAVE_JOBS_HTTP 1
#endif

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Seconds that shutdown waits for in-flight requests before it closes their connections. */
#define SERVE_SHUTDOWN_WAIT_S 30

static bool host_is_loopback(const char *host)
{
    return strncmp(host, "127.", 4) == 0 || strcmp(host, "::1") == 0 ||
           strcasecmp(host, "localhost") == 0;
}

/* Applies the migrations and checks that an exposed daemon has an admin account. */
static int database_prepare(const struct hub_config *config, struct hub_error *err)
{
    struct meta *db = NULL;
    int64_t admins = 0;
    int rc;

    rc = meta_open(&db, config->data_dir, META_OPEN_MIGRATE, err);
    if (rc < 0)
        goto out;
    if (host_is_loopback(config->listen_host))
        goto out;
    rc = meta_user_count_admins(&admins, db, err);
    if (rc < 0)
        goto out;
    if (admins == 0)
        rc = hub_error_set(err, HUB_EINVAL,
                           "refusing to listen on %s: the database has no admin account, so "
                           "anyone could claim the hub. Create one with `atelier admin --data "
                           "%s user add NAME --admin`, or listen on 127.0.0.1",
                           config->listen_host, config->data_dir);
out:
    meta_close(db);
    return rc;
}

static void routes_register(struct http_router *router)
{
    http_metrics_register(router);
    hf_http_register(router);
#ifdef HAVE_GIT_HTTP
    git_http_register(router);
#endif
#ifdef HAVE_JOBS_HTTP
    jobs_http_register(router);
#endif
}

/* Blocks until SIGTERM or SIGINT arrives. The signals were blocked in every thread before
 * the HTTP threads started, so only this sigwait receives them. */
static int wait_for_stop_signal(const sigset_t *stop)
{
    int sig = 0;

    if (sigwait(stop, &sig) != 0)
        return 0;
    return sig;
}

static int serve_run(struct hub_config *config, struct hub_error *err)
{
    struct http_router *router = NULL;
    struct http_server *server = NULL;
    bool services_started = false;
    sigset_t stop;
    int rc, sig;

    rc = storage_layout_create(config->data_dir, err);
    if (rc < 0)
        goto out;
    rc = database_prepare(config, err);
    if (rc < 0)
        goto out;
    router = http_router_new();
    if (router == NULL) {
        rc = hub_error_set(err, HUB_ENOMEM, "cannot allocate the router");
        goto out;
    }
    routes_register(router);
    rc = hf_http_open(config, err);
    if (rc < 0)
        goto out;

    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    rc = http_router_services_start(router, config, err);
    if (rc < 0)
        goto out;
    services_started = true;
    rc = http_server_start(&server, config, router, err);
    if (rc < 0)
        goto out;
    hub_log(HUB_LOG_INFO, "serve",
            "listening host=%s port=%u data=%s threads=%u workers=%u version=%s",
            config->listen_host, http_server_port(server), config->data_dir, config->threads,
            config->workers, ATELIER_VERSION);

    sig = wait_for_stop_signal(&stop);
    hub_log(HUB_LOG_INFO, "serve", "stopping signal=%s", sig == SIGINT ? "SIGINT" : "SIGTERM");
out:
    http_server_stop(server, SERVE_SHUTDOWN_WAIT_S);
    if (services_started)
        http_router_services_stop(router);
    hf_http_close();
    http_router_free(router);
    hub_log_flush_suppressed(); /* report dropped warnings before the last line */
    if (rc == 0)
        hub_log(HUB_LOG_INFO, "serve", "stopped");
    return rc;
}

int cmd_serve(int argc, char **argv)
{
    struct hub_config config;
    struct hub_error err = HUB_ERROR_INIT;
    int rc;

    rc = hub_config_init(&config, &err);
    if (rc == 0)
        rc = hub_config_parse_args(&config, argc, argv, &err);
    if (rc == 1) {
        hub_config_dispose(&config);
        return 0;
    }
    if (rc < 0) {
        fprintf(stderr, "atelier serve: %s\n", err.msg);
        hub_config_dispose(&config);
        return 2;
    }
    hub_log_set_level(config.log_level);
    hub_log_set_rate_limit((unsigned)config.log_repeat_lines,
                           (unsigned)config.log_repeat_window_s * 1000u);
    store_set_max_rings((unsigned)config.max_upload_rings);
    rc = storage_init(&err);
    if (rc == 0)
        rc = serve_run(&config, &err);
    if (rc < 0) {
        hub_log(HUB_LOG_ERROR, "serve", "cannot serve: %s", err.msg);
        fprintf(stderr, "atelier serve: %s\n", err.msg);
    }
    storage_shutdown();
    hub_config_dispose(&config);
    return rc < 0 ? 1 : 0;
}
