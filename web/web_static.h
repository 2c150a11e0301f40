/* web_static: the stylesheet and script of the pages, from web/static/, embedded into the
 * binary at build time so it runs from a clean clone or the build dir alike. */
#ifndef WEB_STATIC_H
#define WEB_STATIC_H

#include <stddef.h>

#include "web.h"

/* One embedded file; the generated web_static_files.c defines the table. */
struct web_static_file {
    const char *path;         /* URL path, such as "/static/atelier.css" */
    const char *content_type; /* static string */
    const char *data;
    size_t len;
};

extern const struct web_static_file web_static_files[];
extern const size_t web_static_file_count;

/** Serves GET or HEAD for an embedded file (the query string, used to bust caches, is
 * ignored). Returns 1 when it did, 0 for any other path. */
int web_static_handle(const struct web_request *req, struct web_response *resp);

#endif
