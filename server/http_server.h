/* http_server: the libmicrohttpd listener of `atelier serve`. It owns the daemon, the
 * per-thread metadata connections and the request life cycle; routes come from a router
 * filled before http_server_start(). */
#ifndef HTTP_SERVER_H
#define HTTP_SERVER_H

#include "http.h"
#include "hub_config.h"

struct http_server;

/** Allocates an empty router. Returns NULL when out of memory. */
struct http_router *http_router_new(void);

/** Frees a router. Accepts NULL. */
void http_router_free(struct http_router *router);

/** Adds the /metrics (Prometheus text) and /healthz routes. */
void http_metrics_register(struct http_router *router);

/** Moves the gauge of LFS uploads in progress by delta (+1 or -1). Any thread. */
void http_metrics_uploads_add(int delta);

/** Starts the services added to router, in registration order. On failure the services
 * already started are stopped again. Returns 0 or the failing service's code. Main thread. */
int http_router_services_start(struct http_router *router, const struct hub_config *config,
                               struct hub_error *err);

/** Stops the services in reverse order. Main thread. */
void http_router_services_stop(struct http_router *router);

/** Opens a socket bound to config's listen address and listening, before the daemon starts
 * anything else, so a port in use fails early. Sets *fd_out (close-on-exec, non-blocking)
 * and *port_out, the bound port, which the kernel picks when config has port 0.
 * Returns 0, HUB_EINVAL (bad address) or HUB_EIO (bind failed, with errno). Main thread. */
int http_listen_open(int *fd_out, unsigned *port_out, const struct hub_config *config,
                     struct hub_error *err);

/** Starts the thread pool on a socket from http_listen_open, which bound it to port. The
 * server uses a duplicate of listen_fd, so the caller closes its own. config and router must
 * outlive the server. *out belongs to the caller (http_server_stop()). Returns 0, HUB_ENOMEM
 * or HUB_EIO. Main thread. */
int http_server_start(struct http_server **out, const struct hub_config *config,
                      struct http_router *router, int listen_fd, unsigned port,
                      struct hub_error *err);

/** Returns the port the listener is bound to (the one picked when config asked for 0). */
unsigned http_server_port(const struct http_server *server);

/** Stops accepting connections, waits up to wait_s seconds for in-flight requests to
 * finish, then stops the threads and frees the server. Accepts NULL. Main thread. */
void http_server_stop(struct http_server *server, unsigned wait_s);

#endif
