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

/** Binds config's listen address and starts the thread pool. config and router must outlive
 * the server. *out belongs to the caller (http_server_stop()). Returns 0, HUB_EINVAL (bad
 * address) or HUB_EIO (bind failed, with errno). Main thread. */
int http_server_start(struct http_server **out, const struct hub_config *config,
                      struct http_router *router, struct hub_error *err);

/** Returns the port the listener is bound to (the one picked when config asked for 0). */
unsigned http_server_port(const struct http_server *server);

/** Stops accepting connections, waits up to wait_s seconds for in-flight requests to
 * finish, then stops the threads and frees the server. Accepts NULL. Main thread. */
void http_server_stop(struct http_server *server, unsigned wait_s);

#endif
