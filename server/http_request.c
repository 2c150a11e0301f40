/* http_request: the accessors of struct http_request declared in http.h. */
#include "http_internal.h"

#include "hub_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *http_request_method(const struct http_request *req)
{
    return req->method;
}

const char *http_request_path(const struct http_request *req)
{
    return req->target.path;
}

size_t http_request_segment_count(const struct http_request *req)
{
    return req->target.segment_count;
}

const char *http_request_segment(const struct http_request *req, size_t i)
{
    if (i >= req->target.segment_count)
        return NULL;
    return req->target.segments[i];
}

const char *http_request_param(const struct http_request *req, const char *name)
{
    for (size_t i = 0; i < req->param_count; i++) {
        if (strcmp(req->param_names[i], name) == 0)
            return req->param_values[i];
    }
    return NULL;
}

const char *http_request_query(const struct http_request *req, const char *name)
{
    for (size_t i = 0; i < req->target.param_count; i++) {
        if (strcmp(req->target.params[i].name, name) == 0)
            return req->target.params[i].value;
    }
    return NULL;
}

size_t http_request_query_all(const struct http_request *req, const char *name, const char **values,
                              size_t max)
{
    size_t n = 0;

    for (size_t i = 0; i < req->target.param_count; i++) {
        if (strcmp(req->target.params[i].name, name) != 0)
            continue;
        if (n < max)
            values[n] = req->target.params[i].value;
        n++;
    }
    return n;
}

size_t http_request_query_count(const struct http_request *req)
{
    return req->target.param_count;
}

const char *http_request_query_name(const struct http_request *req, size_t i)
{
    return i < req->target.param_count ? req->target.params[i].name : NULL;
}

const char *http_request_query_string(const struct http_request *req)
{
    return req->target.query != NULL ? req->target.query : "";
}

const char *http_request_header(const struct http_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *http_request_remote_addr(const struct http_request *req)
{
    return req->remote_addr;
}

const char *http_request_id(const struct http_request *req)
{
    return req->request_id;
}

const char *http_request_body(const struct http_request *req, size_t *len)
{
    *len = req->body_len;
    return req->body != NULL ? req->body : "";
}

int64_t http_request_content_length(const struct http_request *req)
{
    return req->content_length;
}

const struct http_user *http_request_user(const struct http_request *req)
{
    return &req->user;
}

struct meta *http_request_db(const struct http_request *req)
{
    return http_thread_db();
}

const struct hub_config *http_request_config(const struct http_request *req)
{
    return http_server_config(req->server);
}

void http_request_set_state(struct http_request *req, void *state, void (*free_fn)(void *))
{
    if (req->state_free != NULL && req->state != state)
        req->state_free(req->state);
    req->state = state;
    req->state_free = free_fn;
}

void *http_request_state(const struct http_request *req)
{
    return req->state;
}

const char *http_request_base_url(const struct http_request *req)
{
    struct http_request *mut = (struct http_request *)req;
    const struct hub_config *config = http_server_config(req->server);
    const char *host;
    size_t len;

    if (config->public_url != NULL)
        return config->public_url;
    if (req->base_url != NULL)
        return req->base_url;
    host = http_request_header(req, "Host");
    if (host == NULL || host[0] == '\0' || strpbrk(host, "/\\ \"<>") != NULL)
        host = "localhost";
    len = strlen(host) + sizeof("http://");
    mut->base_url = malloc(len);
    if (mut->base_url == NULL)
        return "http://localhost";
    snprintf(mut->base_url, len, "http://%s", host);
    return mut->base_url;
}
