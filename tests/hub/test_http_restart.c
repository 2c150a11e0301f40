/* test_http_restart: starts the HTTP server on 127.0.0.1 and stops it at once, many times in
 * one process, as `atelier serve` does when a stop signal arrives right after it listens.
 * libmicrohttpd aborts the process when a stop disturbs its pool threads. No database, no
 * requests. */
#include "harness.h"
#include "http_server.h"
#include "hub_config.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

/* Start and stop rounds for each pool size. */
#define RESTART_ROUNDS 2000

/* Stores the next definition of name after this executable's in *function. ISO C has no cast
 * from the void pointer of dlsym() to a function pointer, so the bytes are copied. */
static void libc_function_find(void *function, size_t size, const char *name)
{
    void *symbol = dlsym(RTLD_NEXT, name);

    if (symbol == NULL)
        abort();
    memcpy(function, &symbol, size);
}

/* These two wrappers stand in for the libc functions inside libmicrohttpd, because the
 * dynamic linker looks a symbol up in the executable first. They widen the race window: a
 * pool thread that waits at most 1 ms runs its loop all the time, as it does right after
 * start, and each removal from an epoll set takes 0.3 ms longer. Without them the old stop
 * code aborted here only while other processes loaded the machine, with them in every run. */
int epoll_wait(int epfd, struct epoll_event *events, int max_events, int timeout_ms)
{
    static int (*libc_epoll_wait)(int, struct epoll_event *, int, int);

    if (libc_epoll_wait == NULL)
        libc_function_find(&libc_epoll_wait, sizeof(libc_epoll_wait), "epoll_wait");
    return libc_epoll_wait(epfd, events, max_events, timeout_ms != 0 ? 1 : 0);
}

/* Delays each removal from an epoll set by 0.3 ms. */
int epoll_ctl(int epfd, int op, int fd, struct epoll_event *event)
{
    static int (*libc_epoll_ctl)(int, int, int, struct epoll_event *);

    if (libc_epoll_ctl == NULL)
        libc_function_find(&libc_epoll_ctl, sizeof(libc_epoll_ctl), "epoll_ctl");
    if (op == EPOLL_CTL_DEL)
        usleep(300);
    return libc_epoll_ctl(epfd, op, fd, event);
}

/* Connects to 127.0.0.1:port and returns 0 or the errno of the failed connect(). */
static int connect_errno(unsigned port)
{
    struct sockaddr_in addr = {0};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int result = 0;

    if (fd < 0)
        return errno;
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0)
        result = errno;
    close(fd);
    return result;
}

static void test_stop_right_after_start(unsigned threads)
{
    struct hub_error err = HUB_ERROR_INIT;
    struct hub_config config;
    struct http_router *router;
    int failed_rounds = 0;
    unsigned last_port = 0;

    CHECK_EQ_INT(hub_config_init(&config, &err), 0);
    config.threads = threads;
    router = http_router_new();
    CHECK(router != NULL);
    for (int i = 0; i < RESTART_ROUNDS && router != NULL; i++) {
        struct http_server *server = NULL;
        unsigned port = 0;
        int listen_fd = -1;

        if (http_listen_open(&listen_fd, &port, &config, &err) < 0 ||
            http_server_start(&server, &config, router, listen_fd, port, &err) < 0) {
            printf("# round %d: %s\n", i, err.msg);
            failed_rounds++;
            if (listen_fd >= 0)
                close(listen_fd);
            continue;
        }
        close(listen_fd);
        /* Every other round gives the pool threads a moment to reach their event loop. */
        if (i % 2 == 1)
            sched_yield();
        http_server_stop(server, 0);
        last_port = port;
    }
    CHECK_EQ_INT(failed_rounds, 0);
    /* The stopped server closed its listening socket. */
    CHECK_EQ_INT(connect_errno(last_port), ECONNREFUSED);
    http_router_free(router);
    hub_config_dispose(&config);
}

int main(void)
{
    test_stop_right_after_start(2);
    test_stop_right_after_start(8);
    return test_finish();
}
