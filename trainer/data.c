/* data: dataset loading (being written; every call fails). */
#include "data.h"

#include <stdlib.h>

int data_load(struct data_set **out, const char *path, const struct tok *tok,
              size_t max_tokens, struct tr_error *err)
{
    *out = NULL;
    return tr_error_set(err, "%s: dataset loading is not built yet", path);
}

void data_set_free(struct data_set *ds)
{
    free(ds);
}
