/*
 * Helpers shared by the stream suite: a context on device 0, and gates — host functions that
 * block a stream until the test opens them — so that ordering is proven without any timing.
 */
#ifndef GPOOL_TEST_STREAM_H
#define GPOOL_TEST_STREAM_H

#include <cuda.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "check.h"

/* Makes device 0's primary context current; returns it. */
static inline CUcontext stream_test_setup(void)
{
    CUdevice dev;
    CUcontext ctx;
    REQUIRE_OK(cuInit(0));
    REQUIRE_OK(cuDeviceGet(&dev, 0));
    REQUIRE_OK(cuDevicePrimaryCtxRetain(&ctx, dev));
    REQUIRE_OK(cuCtxSetCurrent(ctx));
    return ctx;
}

/* Releases the primary context: its streams are drained and their workers joined. */
static inline void stream_test_teardown(void)
{
    CHECK_OK(cuCtxSynchronize());
    CHECK_OK(cuCtxSetCurrent(NULL));
    CHECK_OK(cuDevicePrimaryCtxRelease(0));
}

/* A gate: gate_wait (a CUhostFn) blocks its stream's worker until gate_open is called. */
struct gate {
    int fds[2];
    _Atomic int passed; /* how many waits have returned */
};

static inline void gate_init(struct gate *g)
{
    int rc = pipe(g->fds); /* REQUIRE evaluates its condition twice */
    REQUIRE(rc == 0, "pipe");
    atomic_store(&g->passed, 0);
}

static inline void CUDA_CB gate_wait(void *arg)
{
    struct gate *g = arg;
    char c;
    while (read(g->fds[0], &c, 1) != 1) {
    }
    atomic_fetch_add(&g->passed, 1);
}

static inline void gate_open(struct gate *g)
{
    ssize_t n = write(g->fds[1], "x", 1);
    REQUIRE(n == 1, "write");
}

static inline void gate_fini(struct gate *g)
{
    close(g->fds[0]);
    close(g->fds[1]);
}

/* A log of host functions in the order the streams ran them. */
struct order_log {
    _Atomic int n;
    char buf[64];
};

struct order_mark {
    struct order_log *log;
    char c;
};

static inline void CUDA_CB order_append(void *arg)
{
    struct order_mark *m = arg;
    int i = atomic_fetch_add(&m->log->n, 1);
    if (i < (int)sizeof(m->log->buf) - 1)
        m->log->buf[i] = m->c;
}

#endif
