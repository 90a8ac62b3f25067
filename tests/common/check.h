/*
 * Minimal assertions for gpool's integration test programs (plain C programs run by meson).
 * Each CHECK prints a TAP-like line on failure and counts it; the program's exit status is the
 * verdict (0 = all checks held). Unit tests use cmocka instead.
 */
#ifndef GPOOL_TEST_CHECK_H
#define GPOOL_TEST_CHECK_H

#include <stdio.h>
#include <stdlib.h>

static int check_failures;
static int check_count;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        check_count++;                                                                             \
        if (!(cond)) {                                                                             \
            check_failures++;                                                                      \
            fprintf(stderr, "not ok %d - %s:%d: %s: ", check_count, __FILE__, __LINE__, #cond);    \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
        }                                                                                          \
    } while (0)

/* Checks that a driver call returns the expected CUresult (works with CUresult and nvmlReturn_t). */
#define CHECK_RC(call, want)                                                                       \
    do {                                                                                           \
        long check_rc_ = (long)(call);                                                             \
        CHECK(check_rc_ == (long)(want), "%s returned %ld, expected %ld", #call, check_rc_,        \
              (long)(want));                                                                       \
    } while (0)

#define CHECK_OK(call) CHECK_RC(call, 0)

/* Stops the test at once: for failures after which nothing else can be checked. The condition
 * is evaluated exactly once. */
#define REQUIRE(cond, ...)                                                                         \
    do {                                                                                           \
        int require_ok_ = !!(cond);                                                                \
        check_count++;                                                                             \
        if (!require_ok_) {                                                                        \
            check_failures++;                                                                      \
            fprintf(stderr, "not ok %d - %s:%d: %s: ", check_count, __FILE__, __LINE__, #cond);    \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

#define REQUIRE_OK(call)                                                                           \
    do {                                                                                           \
        long check_rc_ = (long)(call);                                                             \
        REQUIRE(check_rc_ == 0, "%s returned %ld", #call, check_rc_);                              \
    } while (0)

/* Prints the summary line and returns the exit status for main(). */
static inline int check_done(const char *name)
{
    if (check_failures)
        fprintf(stderr, "%s: %d of %d checks failed\n", name, check_failures, check_count);
    else
        printf("%s: all %d checks passed\n", name, check_count);
    return check_failures ? 1 : 0;
}

#endif
