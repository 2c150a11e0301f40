/* web_static: serves the embedded files. */
#include "web_static.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#ifndef ATELIER_VERSION
#define ATELIER_VERSION "dev"
#endif

/* Returns whether the query's v parameter is the running version, as the layout writes it. */
static bool web_static_versioned(const char *query)
{
    const char *p = query;
    size_t len = strlen(ATELIER_VERSION);

    while (p != NULL && *p != '\0') {
        if (strncmp(p, "v=", 2) == 0 && strncmp(p + 2, ATELIER_VERSION, len) == 0 &&
            (p[2 + len] == '\0' || p[2 + len] == '&'))
            return true;
        p = strchr(p, '&');
        if (p != NULL)
            p++;
    }
    return false;
}

int web_static_handle(const struct web_request *req, struct web_response *resp)
{
    if (strncmp(req->path, "/static/", 8) != 0)
        return 0;
    if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0)
        return 0;
    for (size_t i = 0; i < web_static_file_count; i++) {
        const struct web_static_file *file = &web_static_files[i];

        if (strcmp(req->path, file->path) != 0)
            continue;
        resp->body = malloc(file->len + 1);
        if (resp->body == NULL) {
            resp->status = 503;
            resp->content_type = "text/plain; charset=utf-8";
            return 1;
        }
        memcpy(resp->body, file->data, file->len);
        resp->body[file->len] = '\0';
        resp->body_len = file->len;
        resp->status = 200;
        resp->content_type = file->content_type;
        resp->cache_control =
            web_static_versioned(req->query) ? WEB_CACHE_IMMUTABLE : WEB_CACHE_REVALIDATE;
        return 1;
    }
    return 0;
}
