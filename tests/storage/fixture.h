/* fixture: a temporary data directory for the storage tests, removed at the end. */
#ifndef TESTS_STORAGE_FIXTURE_H
#define TESTS_STORAGE_FIXTURE_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int fixture_remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    chmod(path, 0700);
    return remove(path);
}

/* Creates a fresh folder under $TMPDIR (or /tmp) and writes its path into buf. */
static inline void fixture_dir_make(char *buf, size_t cap)
{
    const char *base = getenv("TMPDIR");

    snprintf(buf, cap, "%s/atelier-storage-XXXXXX", base != NULL && base[0] ? base : "/tmp");
    if (mkdtemp(buf) == NULL) {
        perror("mkdtemp");
        exit(2);
    }
}

/* Removes the folder and everything under it. */
static inline void fixture_dir_remove(const char *path)
{
    nftw(path, fixture_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
