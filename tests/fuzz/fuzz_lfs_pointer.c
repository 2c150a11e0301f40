/* fuzz_lfs_pointer: the git-lfs pointer parser (storage/lfs_pointer.c) and the .gitattributes
 * rules (storage/lfs_attributes.c) on arbitrary bytes. The input is copied into a buffer of
 * exactly its size, so ASan reports any read past len. */
#include "lfs_attributes.h"
#include "lfs_pointer.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct lfs_attributes *attrs = NULL;
    struct lfs_pointer p;
    char *copy = malloc(size > 0 ? size : 1);
    char again[LFS_POINTER_MAX_BYTES];

    if (copy == NULL)
        return 0;
    if (size > 0)
        memcpy(copy, data, size);
    if (lfs_pointer_parse(&p, copy, size, NULL) == 0) {
        /* What parses must format, and the canonical form must parse to the same values. */
        struct lfs_pointer back;
        size_t len = lfs_pointer_format(again, sizeof(again), &p);

        if (len == 0 || lfs_pointer_parse(&back, again, len, NULL) != 0 ||
            strcmp(back.oid, p.oid) != 0 || back.size != p.size)
            __builtin_trap();
    }
    if (lfs_attributes_parse(&attrs, copy, size, NULL) == 0) {
        lfs_attributes_match(attrs, "a/b/model.safetensors");
        lfs_attributes_match(attrs, "data/raw blob.dat");
        lfs_attributes_free(attrs);
    }
    free(copy);
    return 0;
}
