/*
 * Helpers shared by the NVML integration tests: UUID formatting as NVML prints it, and child
 * processes that hold simulated device memory until they are killed.
 */
#ifndef GPOOL_NVML_TEST_UTIL_H
#define GPOOL_NVML_TEST_UTIL_H

#include "check.h"

#include <cuda.h>
#include <nvml.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* Formats a CUDA UUID as NVML does: "GPU-" and 8-4-4-4-12 lowercase hex digits. */
static inline void util_format_uuid(const CUuuid *u, char *buf, size_t len)
{
    const unsigned char *b = (const unsigned char *)u->bytes;
    snprintf(buf, len, "GPU-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
}

/* Makes the primary context of device ordinal current in this thread, or exits the test. */
static inline CUcontext util_primary_ctx(int ordinal)
{
    CUdevice dev;
    CUcontext ctx;
    REQUIRE_OK(cuDeviceGet(&dev, ordinal));
    REQUIRE_OK(cuDevicePrimaryCtxRetain(&ctx, dev));
    REQUIRE_OK(cuCtxSetCurrent(ctx));
    return ctx;
}

struct util_child {
    pid_t pid;
    int go_fd; /* the parent's end of the pipe the child waits on */
};

/* Forks a child that initialises the CUDA sim, allocates bytes on device ordinal and reports
 * back; it then waits until the parent writes to (or closes) its pipe, or kills it. Returns
 * once the allocation is made; exits the test when the child failed. */
static inline struct util_child util_spawn_holder(int ordinal, size_t bytes)
{
    int ready[2], go[2];
    int rc = pipe(ready);
    if (rc == 0)
        rc = pipe(go);
    REQUIRE(rc == 0, "pipe failed");
    fflush(NULL);
    pid_t pid = fork();
    REQUIRE(pid >= 0, "fork failed");
    if (pid == 0) {
        close(ready[0]);
        close(go[1]);
        char status = 'x';
        CUdeviceptr p = 0;
        if (cuInit(0) == CUDA_SUCCESS) {
            (void)util_primary_ctx(ordinal);
            if (cuMemAlloc(&p, bytes) == CUDA_SUCCESS)
                status = 'r';
        }
        if (write(ready[1], &status, 1) != 1)
            _exit(2);
        char c;
        while (read(go[0], &c, 1) < 0)
            ;
        _exit(0);
    }
    close(ready[1]);
    close(go[0]);
    char status = 0;
    ssize_t n = read(ready[0], &status, 1);
    close(ready[0]);
    REQUIRE(n == 1 && status == 'r', "holder child %d failed to allocate %zu bytes", (int)pid,
            bytes);
    return (struct util_child){pid, go[1]};
}

/* Kills a holder child with SIGKILL (no cleanup of its own) and reaps it. */
static inline void util_kill_holder(struct util_child *c)
{
    kill(c->pid, SIGKILL);
    int st;
    while (waitpid(c->pid, &st, 0) < 0)
        ;
    close(c->go_fd);
}

#endif
