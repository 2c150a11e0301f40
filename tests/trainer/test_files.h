/* tests/trainer/test_files.h: file helpers shared by the trainer command tests. */
#ifndef TESTS_TRAINER_TEST_FILES_H
#define TESTS_TRAINER_TEST_FILES_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

/* Returns dir/name in one of many static buffers, so a test can build argument lists from
 * several paths at once without freeing them. */
static inline char *path_in(const char *dir, const char *name)
{
    static char buf[512][2200];
    static int next;
    char *p = buf[next++ % 512];

    snprintf(p, 2200, "%s/%s", dir, name);
    return p;
}

/* Returns the whole file as a malloc'd string, or NULL when it cannot be read. */
static inline char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long len;

    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    len = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = calloc((size_t)len + 1, 1);
    if (buf != NULL && fread(buf, 1, (size_t)len, f) != (size_t)len) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    return buf;
}

static inline bool write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");

    if (f == NULL)
        return false;
    fputs(text, f);
    return fclose(f) == 0;
}

#endif
