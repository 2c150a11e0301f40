/* web_static: serves the embedded files. */
#include "web_static.h"

#include <stdlib.h>
#include <string.h>

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
        return 1;
    }
    return 0;
}
