/* tests/harness.h: TAP output for meson's protocol: 'tap'. Each check prints "ok N" or
 * "not ok N" with the actual and expected values; test_finish() prints the plan and the
 * closing "N passed, N failed" line and returns the exit status. */
#ifndef TESTS_HARNESS_H
#define TESTS_HARNESS_H

#include <math.h>
#include <stdio.h>
#include <string.h>

static int t_run, t_failed;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        t_run++;                                                                                   \
        if (cond) {                                                                                \
            printf("ok %d - %s\n", t_run, #cond);                                                  \
        } else {                                                                                   \
            t_failed++;                                                                            \
            printf("not ok %d - %s at %s:%d\n", t_run, #cond, __FILE__, __LINE__);                 \
        }                                                                                          \
    } while (0)

#define CHECK_EQ_INT(got, want)                                                                    \
    do {                                                                                           \
        long long got_ = (long long)(got), want_ = (long long)(want);                              \
        t_run++;                                                                                   \
        if (got_ == want_) {                                                                       \
            printf("ok %d - %s\n", t_run, #got);                                                   \
        } else {                                                                                   \
            t_failed++;                                                                            \
            printf("not ok %d - %s is %lld, expected %lld at %s:%d\n", t_run, #got, got_, want_,   \
                   __FILE__, __LINE__);                                                            \
        }                                                                                          \
    } while (0)

#define CHECK_EQ_STR(got, want)                                                                    \
    do {                                                                                           \
        const char *got_ = (got), *want_ = (want);                                                 \
        t_run++;                                                                                   \
        if (got_ != NULL && want_ != NULL && strcmp(got_, want_) == 0) {                           \
            printf("ok %d - %s\n", t_run, #got);                                                   \
        } else {                                                                                   \
            t_failed++;                                                                            \
            printf("not ok %d - %s is \"%s\", expected \"%s\" at %s:%d\n", t_run, #got,            \
                   got_ ? got_ : "(null)", want_ ? want_ : "(null)", __FILE__, __LINE__);          \
        }                                                                                          \
    } while (0)

/* Checks |got - want| <= tol, with tol an absolute bound. */
#define CHECK_NEAR(got, want, tol)                                                                 \
    do {                                                                                           \
        double got_ = (double)(got), want_ = (double)(want), tol_ = (double)(tol);                 \
        t_run++;                                                                                   \
        if (fabs(got_ - want_) <= tol_) {                                                          \
            printf("ok %d - %s\n", t_run, #got);                                                   \
        } else {                                                                                   \
            t_failed++;                                                                            \
            printf("not ok %d - %s is %.9g, expected %.9g within %.3g at %s:%d\n", t_run, #got,    \
                   got_, want_, tol_, __FILE__, __LINE__);                                         \
        }                                                                                          \
    } while (0)

static inline int test_finish(void)
{
    printf("1..%d\n", t_run);
    printf("# %d passed, %d failed\n", t_run - t_failed, t_failed);
    fflush(stdout);
    fprintf(stderr, "%d passed, %d failed\n", t_run - t_failed, t_failed);
    return t_failed != 0;
}

#endif
