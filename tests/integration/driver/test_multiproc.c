/*
 * Several processes on one instance: each sees the others' usage in cuMemGetInfo, cannot use
 * their pointers, and gets back the memory of a process that is SIGKILLed while holding memory
 * (also one killed at a failpoint in the middle of cuMemAlloc).
 */
#include "driver_test.h"

#include <stdio.h>
#include <stdlib.h>

#define H100_CTX_OVERHEAD MIB(512)
#define CHILD_ALLOC       MIB(64)

struct report {
    CUdeviceptr ptr;
    size_t free_seen;
};

/* A child that holds a context and CHILD_ALLOC bytes, reports its pointer and the free memory
 * it sees, then waits for a byte on `go` (or to be killed). */
static pid_t spawn_holder(int *from_child, int *to_child)
{
    int up[2], down[2];
    REQUIRE(pipe(up) == 0 && pipe(down) == 0, "pipe");
    pid_t pid = fork();
    REQUIRE(pid >= 0, "fork");
    if (pid == 0) {
        close(up[0]);
        close(down[1]);
        CUcontext c;
        struct report r = {0, 0};
        if (cuInit(0) != CUDA_SUCCESS || cuCtxCreate(&c, NULL, 0, 0) != CUDA_SUCCESS ||
            cuMemAlloc(&r.ptr, CHILD_ALLOC) != CUDA_SUCCESS)
            _exit(2);
        size_t t;
        cuMemGetInfo(&r.free_seen, &t);
        test_write(up[1], &r, sizeof(r));
        char go;
        if (test_read(down[0], &go, 1) < 0)
            _exit(3);
        /* Report again: now the parent holds more. */
        cuMemGetInfo(&r.free_seen, &t);
        test_write(up[1], &r, sizeof(r));
        cuMemFree(r.ptr);
        cuCtxDestroy(c);
        _exit(0);
    }
    close(up[1]);
    close(down[0]);
    *from_child = up[0];
    *to_child = down[1];
    return pid;
}

#ifdef GPOOL_TEST_FAILPOINTS
/* Exec'd with GPOOL_FAILPOINTS set: dies inside cuMemAlloc. */
static int failpoint_child(void)
{
    CUcontext c;
    CUdeviceptr p;
    if (cuInit(0) != CUDA_SUCCESS || cuCtxCreate(&c, NULL, 0, 0) != CUDA_SUCCESS)
        return 2;
    cuMemAlloc(&p, CHILD_ALLOC); /* killed at sim.mem.alloc.charged */
    return 4;
}
#endif

int main(int argc, char **argv)
{
#ifdef GPOOL_TEST_FAILPOINTS
    if (argc > 1 && !strcmp(argv[1], "failpoint-child"))
        return failpoint_child();
#else
    (void)argc;
#endif
    /* The first child is forked before this process initialises CUDA. */
    int from, to;
    pid_t pid = spawn_holder(&from, &to);
    struct report r;
    REQUIRE(test_read(from, &r, sizeof(r)) == 0, "the first child did not report");

    REQUIRE_OK(cuInit(0));
    CUcontext ctx;
    REQUIRE_OK(cuCtxCreate(&ctx, NULL, 0, 0));
    size_t total = 0, f = 0;
    CHECK_OK(cuMemGetInfo(&f, &total));
    /* Both contexts and the child's allocation are charged. */
    CHECK(f == total - 2 * H100_CTX_OVERHEAD - CHILD_ALLOC, "parent sees %zu used", total - f);
    CHECK(r.free_seen == total - H100_CTX_OVERHEAD - CHILD_ALLOC, "child saw %zu used",
          total - r.free_seen);

    /* The child's pointer is foreign here. */
    unsigned int type;
    CHECK_RC(cuPointerGetAttribute(&type, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, r.ptr),
             CUDA_ERROR_INVALID_VALUE);
    CHECK_RC(cuMemFree(r.ptr), CUDA_ERROR_INVALID_VALUE);
    CUdeviceptr base;
    size_t size;
    CHECK_RC(cuMemGetAddressRange(&base, &size, r.ptr), CUDA_ERROR_NOT_FOUND);

    /* The child sees the parent's new allocation. */
    CUdeviceptr mine;
    REQUIRE_OK(cuMemAlloc(&mine, MIB(32)));
    test_write(to, "g", 1);
    CHECK(test_read(from, &r, sizeof(r)) == 0, "the first child did not report again");
    CHECK(r.free_seen == total - 2 * H100_CTX_OVERHEAD - CHILD_ALLOC - MIB(32),
          "child saw %zu used after the parent allocated", total - r.free_seen);
    CHECK(test_wait(pid) == 0, "the first child failed");
    close(from);
    close(to);
    size_t alone = test_free_mem();
    CHECK(alone == total - H100_CTX_OVERHEAD - MIB(32), "after the child exited: %zu used",
          total - alone);

    /* A child killed while holding memory gives it back. */
    pid = spawn_holder(&from, &to);
    REQUIRE(test_read(from, &r, sizeof(r)) == 0, "the second child did not report");
    CHECK(test_free_mem() == alone - H100_CTX_OVERHEAD - CHILD_ALLOC, "second child not charged");
    kill(pid, SIGKILL);
    CHECK(test_wait(pid) == 128 + SIGKILL, "the second child was not killed");
    close(from);
    close(to);
    CHECK(test_free_mem() == alone, "a killed process's memory was not reclaimed (%zu != %zu)",
          test_free_mem(), alone);

#ifdef GPOOL_TEST_FAILPOINTS
    /* A child killed by a failpoint in the middle of cuMemAlloc. */
    pid = fork();
    REQUIRE(pid >= 0, "fork");
    if (pid == 0) {
        setenv("GPOOL_FAILPOINTS", "sim.mem.alloc.charged=crash", 1);
        execl(argv[0], argv[0], "failpoint-child", (char *)NULL);
        _exit(127);
    }
    CHECK(test_wait(pid) == 128 + SIGKILL, "the failpoint did not kill the child");
    CHECK(test_free_mem() == alone,
          "memory of a process killed inside cuMemAlloc was not "
          "reclaimed (%zu != %zu)",
          test_free_mem(), alone);
#endif

    CHECK_OK(cuMemFree(mine));
    CHECK_OK(cuCtxDestroy(ctx));
    return check_done("test_multiproc");
}
