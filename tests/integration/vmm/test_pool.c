/*
 * Stream-ordered allocation: the documented reuse rules, proven with a gate (a host function
 * blocked on a pipe) rather than timing; release threshold and trim; and capacity accounting of
 * plain, VMM and pool memory against cuMemGetInfo and NVML.
 */
#include "check.h"

#include <cuda.h>
#include <nvml.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define MiB (1024ull * 1024ull)

struct gate {
    int fd[2];
};

static void gate_wait(void *arg)
{
    struct gate *g = arg;
    char c;
    while (read(g->fd[0], &c, 1) < 0)
        ;
}

static void gate_open(struct gate *g)
{
    char c = 1;
    (void)!write(g->fd[1], &c, 1);
}

static cuuint64_t attr(CUmemoryPool p, CUmemPool_attribute a)
{
    cuuint64_t v = 0;
    CHECK_OK(cuMemPoolGetAttribute(p, a, &v));
    return v;
}

static size_t used_bytes(void)
{
    size_t f, t;
    CHECK_OK(cuMemGetInfo(&f, &t));
    return t - f;
}

int main(void)
{
    REQUIRE_OK(cuInit(0));
    CUcontext ctx;
    REQUIRE_OK(cuDevicePrimaryCtxRetain(&ctx, 0));
    REQUIRE_OK(cuCtxSetCurrent(ctx));
    CUstream a, b;
    REQUIRE_OK(cuStreamCreate(&a, CU_STREAM_NON_BLOCKING));
    REQUIRE_OK(cuStreamCreate(&b, CU_STREAM_NON_BLOCKING));

    CUmemoryPool def, cur;
    REQUIRE_OK(cuDeviceGetDefaultMemPool(&def, 0));
    CHECK_OK(cuDeviceGetMemPool(&cur, 0));
    CHECK(def == cur, "current pool is not the default");
    int v = -1;
    CHECK_OK(cuMemPoolGetAttribute(def, CU_MEMPOOL_ATTR_REUSE_ALLOW_OPPORTUNISTIC, &v));
    CHECK(v == 1, "opportunistic default %d", v);
    CHECK(attr(def, CU_MEMPOOL_ATTR_RELEASE_THRESHOLD) == 0, "threshold default");

    /* Same-stream reuse, and release at the next synchronisation (threshold 0). */
    size_t base_used = used_bytes();
    CUdeviceptr p1, p2;
    REQUIRE_OK(cuMemAllocAsync(&p1, 1 * MiB, a));
    CHECK(used_bytes() - base_used == 1 * MiB, "pool memory not in cuMemGetInfo");
    CHECK(attr(def, CU_MEMPOOL_ATTR_USED_MEM_CURRENT) == 1 * MiB, "used");
    CHECK_OK(cuMemsetD8Async(p1, 0x11, 1 * MiB, a));
    CHECK_OK(cuMemFreeAsync(p1, a));
    REQUIRE_OK(cuMemAllocAsync(&p2, 1 * MiB, a));
    CHECK(p2 == p1, "same-stream free not reused");
    CHECK_OK(cuMemFreeAsync(p2, a));
    CHECK_RC(cuMemFreeAsync(p2, a), CUDA_ERROR_INVALID_VALUE); /* double free */
    CHECK_OK(cuStreamSynchronize(a));
    CHECK(attr(def, CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT) == 0, "not released at sync");
    CHECK(used_bytes() == base_used, "charge left after release");
    CHECK(attr(def, CU_MEMPOOL_ATTR_RESERVED_MEM_HIGH) == 1 * MiB, "reserved high");

    /* cuMemFree of stream-ordered memory is allowed (cuda.h) and frees it at once. */
    CUdeviceptr p3;
    REQUIRE_OK(cuMemAllocAsync(&p3, 1 * MiB, a));
    CHECK_OK(cuStreamSynchronize(a));
    CHECK(attr(def, CU_MEMPOOL_ATTR_USED_MEM_CURRENT) == 1 * MiB, "used before cuMemFree");
    CHECK_OK(cuMemFree(p3));
    CHECK(attr(def, CU_MEMPOOL_ATTR_USED_MEM_CURRENT) == 0, "cuMemFree left the block used");
    CHECK(used_bytes() == base_used, "cuMemFree left a charge");
    CHECK_RC(cuMemFree(p3), CUDA_ERROR_INVALID_VALUE); /* double free */
    CHECK_RC(cuMemFreeAsync(p3, a), CUDA_ERROR_INVALID_VALUE);

    /* Cross-stream: a free still pending behind a gate is not reused by another stream when
     * internal dependencies are off; it is once stream order (the gate) lets the free run. */
    CUmemPoolProps props;
    memset(&props, 0, sizeof(props));
    props.allocType = CU_MEM_ALLOCATION_TYPE_PINNED;
    props.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
    props.location.id = 0;
    CUmemoryPool pool;
    REQUIRE_OK(cuMemPoolCreate(&pool, &props));
    int off = 0;
    CHECK_OK(cuMemPoolSetAttribute(pool, CU_MEMPOOL_ATTR_REUSE_ALLOW_INTERNAL_DEPENDENCIES, &off));
    cuuint64_t keep = 64 * MiB;
    CHECK_OK(cuMemPoolSetAttribute(pool, CU_MEMPOOL_ATTR_RELEASE_THRESHOLD, &keep));
    struct gate g;
    REQUIRE(pipe(g.fd) == 0, "pipe");
    CUdeviceptr q1, q2, q3;
    REQUIRE_OK(cuMemAllocFromPoolAsync(&q1, 2 * MiB, pool, a));
    CHECK_OK(cuLaunchHostFunc(a, gate_wait, &g));
    CHECK_OK(cuMemFreeAsync(q1, a));
    REQUIRE_OK(cuMemAllocFromPoolAsync(&q2, 2 * MiB, pool, b));
    CHECK(q2 != q1, "block reused by another stream while its free is pending");
    gate_open(&g);
    CHECK_OK(cuStreamSynchronize(a));
    REQUIRE_OK(cuMemAllocFromPoolAsync(&q3, 2 * MiB, pool, b));
    CHECK(q3 == q1, "completed free not reused opportunistically");
    CHECK(attr(pool, CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT) == 4 * MiB, "reserved");
    CHECK_OK(cuMemFreeAsync(q2, b));
    CHECK_OK(cuMemFreeAsync(q3, b));
    CHECK_OK(cuStreamSynchronize(b));
    CHECK(attr(pool, CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT) == 4 * MiB, "kept under threshold");
    CHECK(attr(pool, CU_MEMPOOL_ATTR_USED_MEM_CURRENT) == 0, "used after frees");
    CHECK_OK(cuMemPoolTrimTo(pool, 2 * MiB));
    CHECK(attr(pool, CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT) == 2 * MiB, "trim to 2 MiB");
    CHECK_OK(cuMemPoolTrimTo(pool, 0));
    CHECK(attr(pool, CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT) == 0, "trim to 0");
    cuuint64_t zero = 0, one = 1;
    CHECK_RC(cuMemPoolSetAttribute(pool, CU_MEMPOOL_ATTR_USED_MEM_HIGH, &one),
             CUDA_ERROR_INVALID_VALUE);
    CHECK_OK(cuMemPoolSetAttribute(pool, CU_MEMPOOL_ATTR_USED_MEM_HIGH, &zero));
    CHECK(attr(pool, CU_MEMPOOL_ATTR_USED_MEM_HIGH) == 0, "high reset");

    /* Internal dependencies (default on): reuse, and the allocating stream waits for the free. */
    int on = 1;
    CHECK_OK(cuMemPoolSetAttribute(pool, CU_MEMPOOL_ATTR_REUSE_ALLOW_INTERNAL_DEPENDENCIES, &on));
    CUdeviceptr r1, r2;
    REQUIRE_OK(cuMemAllocFromPoolAsync(&r1, 2 * MiB, pool, a));
    CHECK_OK(cuLaunchHostFunc(a, gate_wait, &g));
    CHECK_OK(cuMemFreeAsync(r1, a));
    REQUIRE_OK(cuMemAllocFromPoolAsync(&r2, 2 * MiB, pool, b));
    CHECK(r2 == r1, "internal dependency reuse not taken");
    CHECK_RC(cuStreamQuery(b), CUDA_ERROR_NOT_READY); /* b waits for a's free */
    gate_open(&g);
    CHECK_OK(cuStreamSynchronize(b));
    CHECK_OK(cuMemFreeAsync(r2, b));
    CHECK_OK(cuStreamSynchronize(b));

    CHECK_OK(cuDeviceSetMemPool(0, pool));
    CHECK_OK(cuDeviceGetMemPool(&cur, 0));
    CHECK(cur == pool, "SetMemPool");
    CHECK_OK(cuMemPoolDestroy(pool));
    CHECK_OK(cuDeviceGetMemPool(&cur, 0));
    CHECK(cur == def, "current pool after destroy");
    CHECK_RC(cuMemPoolDestroy(def), CUDA_ERROR_INVALID_VALUE);

    /* Accounting: plain + VMM + pool, against cuMemGetInfo and NVML. */
    size_t before = used_bytes();
    CUdeviceptr plain, pooled;
    REQUIRE_OK(cuMemAlloc(&plain, 8 * MiB));
    CUmemAllocationProp prop;
    memset(&prop, 0, sizeof(prop));
    prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
    prop.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
    CUmemGenericAllocationHandle h;
    REQUIRE_OK(cuMemCreate(&h, 6 * MiB, &prop, 0));
    REQUIRE_OK(cuMemAllocAsync(&pooled, 4 * MiB, a));
    CHECK(used_bytes() - before == 18 * MiB, "cuMemGetInfo: %zu", used_bytes() - before);
    REQUIRE(nvmlInit_v2() == NVML_SUCCESS, "nvmlInit");
    nvmlDevice_t nd;
    REQUIRE(nvmlDeviceGetHandleByIndex_v2(0, &nd) == NVML_SUCCESS, "nvml handle");
    nvmlMemory_t m;
    CHECK(nvmlDeviceGetMemoryInfo(nd, &m) == NVML_SUCCESS, "nvml memory");
    size_t f, t;
    CHECK_OK(cuMemGetInfo(&f, &t));
    CHECK(m.used == t - f && m.free == f, "NVML used %llu, CUDA used %zu",
          (unsigned long long)m.used, t - f);
    CHECK_OK(cuMemFreeAsync(pooled, a));
    CHECK_OK(cuStreamSynchronize(a));
    CHECK_OK(cuMemRelease(h));
    CHECK_OK(cuMemFree(plain));
    CHECK(used_bytes() == before, "leaked %zu", used_bytes() - before);
    nvmlShutdown();

    CHECK_OK(cuStreamDestroy(a));
    CHECK_OK(cuStreamDestroy(b));
    CHECK_OK(cuDevicePrimaryCtxRelease(0));
    return check_done("vmm-pool");
}
