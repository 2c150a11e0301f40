/* web: page dispatch (placeholder until the pages land: no route is a page yet). */
#include "web.h"

#include <stdlib.h>

int web_handle(const struct web_request *req, struct web_response *resp)
{
    (void)req;
    (void)resp;
    return 0;
}

void web_response_dispose(struct web_response *resp)
{
    free(resp->body);
    free(resp->set_cookie);
    free(resp->location);
    resp->body = NULL;
    resp->set_cookie = NULL;
    resp->location = NULL;
}
