/*
 * Helpers shared by the driver tests: plain CUDA programs that include <cuda.h> and link the
 * simulated libcuda. Children report back through pipes; helpers exit the test on failures
 * after which nothing else can be checked.
 */
#ifndef GPOOL_DRIVER_TEST_H
#define GPOOL_DRIVER_TEST_H

#include "check.h"

#include <cuda.h>

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define MIB(x) ((size_t)(x)*1024 * 1024)

/* Free and total memory of the current context's device. */
static inline size_t test_free_mem(void)
{
    size_t free_b = 0, total_b = 0;
    REQUIRE_OK(cuMemGetInfo(&free_b, &total_b));
    return free_b;
}

/* Writes / reads exactly len bytes on a pipe end; exits the test on a short transfer. */
static inline void test_write(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        REQUIRE(n > 0, "pipe write failed: %s", strerror(errno));
        p += n;
        len -= (size_t)n;
    }
}

static inline int test_read(int fd, void *buf, size_t len)
{
    char *p = buf;
    while (len) {
        ssize_t n = read(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Waits for a child; returns its exit status, or 128 + signal when a signal killed it. */
static inline int test_wait(pid_t pid)
{
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR)
            return -1;
    }
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return WEXITSTATUS(status);
}

#endif
