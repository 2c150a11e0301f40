/* atelier serve: the hub daemon. Parses the flags into struct hub_config, prepares the data
 * directory and the database (migrations run here), registers every module's routes and
 * services, listens, and on SIGTERM, SIGINT or SIGHUP stops accepting, lets in-flight
 * requests finish and exits 0. */
#include "commands.h"

#include "build_info.h"
#include "hf_http.h"
#include "http_server.h"
#include "hub_config.h"
#include "hub_log.h"
#include "meta.h"
#include "meta_user.h"
#include "serve_lock.h"
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

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

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

/* Blocks until SIGTERM, SIGINT or SIGHUP arrives. SIGHUP stops the daemon like SIGTERM,
 * because the daemon has no configuration to reload, and a closed terminal should not kill
 * it without putting its jobs back in the queue. The signals are blocked in every thread
 * started by the daemon, so only this sigwait receives them. */
static int wait_for_stop_signal(const sigset_t *stop)
{
    int sig = 0;

    if (sigwait(stop, &sig) != 0)
        return 0;
    return sig;
}

static pthread_t main_thread;

/* Passes a stop signal on to the main thread. It runs only in threads that started before
 * serve_run blocked the stop signals: OpenBLAS starts its thread pool when the library
 * loads. In such a thread the default action would end the process without the stop steps.
 * The main thread blocks the signal, so it stays pending there until sigwait takes it.
 * pthread_kill is async-signal-safe (signal-safety(7), since POSIX.1-2008 TC1). */
static void stop_signal_forward(int sig)
{
    int saved = errno;

    pthread_kill(main_thread, sig);
    errno = saved;
}

/* Blocks the stop signals in the main thread, and so in every thread it starts from now on,
 * and forwards them from the threads that already run. Call before anything else. */
static void stop_signals_setup(sigset_t *stop)
{
    struct sigaction action;

    main_thread = pthread_self();
    sigemptyset(stop);
    sigaddset(stop, SIGTERM);
    sigaddset(stop, SIGINT);
    sigaddset(stop, SIGHUP);
    pthread_sigmask(SIG_BLOCK, stop, NULL);
    memset(&action, 0, sizeof(action));
    action.sa_handler = stop_signal_forward;
    action.sa_flags = SA_RESTART;
    sigemptyset(&action.sa_mask);
    sigaction(SIGTERM, &action, NULL);
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGHUP, &action, NULL);
    signal(SIGPIPE, SIG_IGN);
}

static const char *stop_signal_name(int sig)
{
    switch (sig) {
    case SIGINT:
        return "SIGINT";
    case SIGHUP:
        return "SIGHUP";
    default:
        return "SIGTERM";
    }
}

/* Removes uploads left in DATA/tmp by a killed daemon or worker. A surviving worker or an admin
 * import may still be writing, so only files idle for 10 minutes are removed. */
static void tmp_sweep(const char *data_dir)
{
    struct hub_error err = HUB_ERROR_INIT;
    uint64_t files = 0, bytes = 0;
    struct store *st = NULL;

    if (store_open(&st, data_dir, &err) < 0) {
        hub_log(HUB_LOG_WARN, "serve", "cannot check %s/tmp for stale uploads error=%s", data_dir,
                err.msg);
        return;
    }
    store_tmp_sweep(st, 600, &files, &bytes);
    store_close(st);
    if (files > 0)
        hub_log(HUB_LOG_INFO, "serve",
                "removed stale uploads of an earlier run files=%llu bytes=%llu dir=%s/tmp",
                (unsigned long long)files, (unsigned long long)bytes, data_dir);
}

/* Runs the daemon until a stop signal. The data directory lock comes first, so a second
 * daemon changes nothing. The listening socket is bound before the job scheduler starts,
 * because the scheduler's first step recovers the jobs of an earlier daemon. */
static int serve_run(struct hub_config *config, struct hub_error *err)
{
    struct http_router *router = NULL;
    struct http_server *server = NULL;
    bool services_started = false;
    unsigned port = 0;
    int lock_fd = -1, listen_fd = -1;
    sigset_t stop;
    int rc, sig;

    /* A stop signal during start-up stays pending and stops the daemon once it listens. */
    stop_signals_setup(&stop);
    rc = serve_lock_acquire(config->data_dir, err);
    if (rc < 0)
        goto out;
    lock_fd = rc;
    rc = http_listen_open(&listen_fd, &port, config, err);
    if (rc < 0)
        goto out;
    rc = storage_layout_create(config->data_dir, err);
    if (rc < 0)
        goto out;
    tmp_sweep(config->data_dir);
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

    rc = http_router_services_start(router, config, err);
    if (rc < 0)
        goto out;
    services_started = true;
    rc = http_server_start(&server, config, router, listen_fd, port, err);
    if (rc < 0)
        goto out;
    close(listen_fd);
    listen_fd = -1;
    /* Written at every log level: with --listen HOST:0 this line is the only place the
     * chosen port appears. */
    hub_log_always(HUB_LOG_INFO, "serve",
                   "listening host=%s port=%u data=%s threads=%u workers=%u version=%s "
                   "commit=%s migration=%s",
                   config->listen_host, port, config->data_dir, config->threads, config->workers,
                   ATELIER_VERSION,
                   build_info_commit()[0] != '\0' ? build_info_commit() : "unknown",
                   build_info_newest_migration());

    sig = wait_for_stop_signal(&stop);
    /* The stop lines are written at every log level too, so a service log shows each stop. */
    hub_log_always(HUB_LOG_INFO, "serve", "stopping signal=%s", stop_signal_name(sig));
out:
    http_server_stop(server, SERVE_SHUTDOWN_WAIT_S);
    if (listen_fd >= 0)
        close(listen_fd);
    if (services_started)
        http_router_services_stop(router);
    hf_http_close();
    http_router_free(router);
    hub_log_flush_suppressed(); /* report dropped warnings before the last line */
    if (rc == 0)
        hub_log_always(HUB_LOG_INFO, "serve", "stopped");
    /* Released last: the scheduler has put its jobs back in the queue by now. */
    if (lock_fd >= 0)
        close(lock_fd);
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
    /* Only here: a start-up failure is one line, not a log line and this one. */
    if (rc < 0)
        fprintf(stderr, "atelier serve: %s\n", err.msg);
    storage_shutdown();
    hub_config_dispose(&config);
    return rc < 0 ? 1 : 0;
}
