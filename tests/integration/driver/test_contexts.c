/*
 * Contexts: primary context retain/release/reset/flags, cuCtxCreate in every signature, the
 * per-thread stack (two threads), destroyed and garbage handles, per-context overhead in
 * cuMemGetInfo, limits and the other per-context settings.
 */
#include "driver_test.h"

#include <pthread.h>

#define H100_CTX_OVERHEAD MIB(512)

/* Older exports that cuda.h no longer declares for applications (the driver still has them). */
CUresult cuCtxCreate_v2(CUcontext *pctx, unsigned int flags, CUdevice dev);
CUresult cuCtxCreate_v3(CUcontext *pctx, CUexecAffinityParam *paramsArray, int numParams,
                        unsigned int flags, CUdevice dev);

static CUcontext g_a, g_b;

/* The free memory of device 0 seen through a temporary context, minus that context's own
 * overhead: what the device has free for everyone else. */
static size_t free_outside(void)
{
    CUcontext probe;
    REQUIRE_OK(cuCtxCreate(&probe, NULL, 0, 0));
    size_t f = test_free_mem() + H100_CTX_OVERHEAD;
    REQUIRE_OK(cuCtxDestroy(probe));
    return f;
}

static void *second_thread(void *arg)
{
    (void)arg;
    CUcontext cur = (CUcontext)1;
    /* A new thread has no current context, whatever the main thread has. */
    CHECK_OK(cuCtxGetCurrent(&cur));
    CHECK(cur == NULL, "a new thread starts with context %p", (void *)cur);
    CHECK_RC(cuCtxSynchronize(), CUDA_ERROR_INVALID_CONTEXT);
    CHECK_OK(cuCtxPushCurrent(g_b));
    CHECK_OK(cuCtxPushCurrent(g_a));
    CHECK_OK(cuCtxGetCurrent(&cur));
    CHECK(cur == g_a, "thread 2: current is not A");
    CUcontext popped = NULL;
    CHECK_OK(cuCtxPopCurrent(&popped));
    CHECK(popped == g_a, "thread 2 popped %p", (void *)popped);
    CHECK_OK(cuCtxGetCurrent(&cur));
    CHECK(cur == g_b, "thread 2: current is not B after the pop");
    CHECK_OK(cuCtxPopCurrent(&popped));
    CHECK_RC(cuCtxPopCurrent(&popped), CUDA_ERROR_INVALID_CONTEXT);
    /* Leave A current here and let the main thread destroy it. */
    CHECK_OK(cuCtxSetCurrent(g_a));
    return NULL;
}

static CUcontext g_doomed;
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cv = PTHREAD_COND_INITIALIZER;
static int g_phase;

static void *holder_thread(void *arg)
{
    (void)arg;
    CHECK_OK(cuCtxSetCurrent(g_doomed));
    pthread_mutex_lock(&g_mu);
    g_phase = 1;
    pthread_cond_broadcast(&g_cv);
    while (g_phase != 2)
        pthread_cond_wait(&g_cv, &g_mu);
    pthread_mutex_unlock(&g_mu);
    /* Destroyed by the main thread while current here. */
    CUdevice d;
    CHECK_RC(cuCtxGetDevice(&d), CUDA_ERROR_CONTEXT_IS_DESTROYED);
    CUdeviceptr p;
    CHECK_RC(cuMemAlloc(&p, 64), CUDA_ERROR_CONTEXT_IS_DESTROYED);
    CHECK_OK(cuCtxSetCurrent(NULL));
    return NULL;
}

static void check_primary(void)
{
    unsigned int flags = 99;
    int active = -1;
    CHECK_OK(cuDevicePrimaryCtxGetState(0, &flags, &active));
    CHECK(flags == 0 && active == 0, "initial primary state flags %u active %d", flags, active);
    CHECK_RC(cuDevicePrimaryCtxRelease(0), CUDA_ERROR_INVALID_CONTEXT);
    CHECK_RC(cuDevicePrimaryCtxGetState(1, &flags, &active), CUDA_ERROR_INVALID_DEVICE);
    CHECK_RC(cuDevicePrimaryCtxSetFlags(0, CU_CTX_SCHED_SPIN | CU_CTX_SCHED_YIELD),
             CUDA_ERROR_INVALID_VALUE);
    CHECK_OK(cuDevicePrimaryCtxSetFlags(0, CU_CTX_SCHED_BLOCKING_SYNC));

    size_t before = free_outside();
    CUcontext p1 = NULL, p2 = NULL, cur = NULL;
    REQUIRE_OK(cuDevicePrimaryCtxRetain(&p1, 0));
    CHECK_OK(cuDevicePrimaryCtxRetain(&p2, 0));
    CHECK(p1 && p1 == p2, "two retains gave %p and %p", (void *)p1, (void *)p2);
    CHECK_OK(cuCtxGetCurrent(&cur));
    CHECK(cur == NULL, "retaining made the primary context current");
    CHECK_OK(cuDevicePrimaryCtxGetState(0, &flags, &active));
    CHECK(flags == CU_CTX_SCHED_BLOCKING_SYNC && active == 1, "state %u/%d", flags, active);
    CHECK(free_outside() == before - H100_CTX_OVERHEAD,
          "an active primary context does not charge its overhead once");

    /* Reset frees its allocations but keeps it retained, same handle. */
    CHECK_OK(cuCtxPushCurrent(p1));
    unsigned int cflags = 0;
    CHECK_OK(cuCtxGetFlags(&cflags));
    CHECK(cflags == CU_CTX_SCHED_BLOCKING_SYNC, "primary context flags %u", cflags);
    CUdeviceptr mem;
    REQUIRE_OK(cuMemAlloc(&mem, MIB(4)));
    CHECK_OK(cuDevicePrimaryCtxReset(0));
    CHECK_OK(cuDevicePrimaryCtxGetState(0, &flags, &active));
    CHECK(active == 1, "reset deactivated a retained primary context");
    unsigned int type;
    CHECK_RC(cuPointerGetAttribute(&type, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, mem),
             CUDA_ERROR_INVALID_VALUE);
    CHECK_OK(cuCtxSynchronize()); /* still usable through the same handle */
    CUcontext popped;
    CHECK_OK(cuCtxPopCurrent(&popped));
    CHECK(popped == p1, "popped %p", (void *)popped);

    CHECK_OK(cuDevicePrimaryCtxRelease(0));
    CHECK_OK(cuDevicePrimaryCtxGetState(0, &flags, &active));
    CHECK(active == 1, "one release of two deactivated it");
    CHECK_OK(cuDevicePrimaryCtxRelease(0));
    CHECK_OK(cuDevicePrimaryCtxGetState(0, &flags, &active));
    CHECK(active == 0, "the last release left it active");
    CHECK_RC(cuDevicePrimaryCtxRelease(0), CUDA_ERROR_INVALID_CONTEXT);
    CHECK(free_outside() == before, "the released primary context still charges memory");
    /* Released, its handle is no longer a usable context... */
    CHECK_RC(cuCtxPushCurrent(p1), CUDA_ERROR_INVALID_CONTEXT);
    /* ...until the next retain, which brings back the same handle. */
    REQUIRE_OK(cuDevicePrimaryCtxRetain(&p2, 0));
    CHECK(p2 == p1, "the primary context handle changed across release/retain");
    CHECK_OK(cuDevicePrimaryCtxRelease(0));
    CHECK_OK(cuDevicePrimaryCtxSetFlags(0, 0));
}

static void check_settings(void)
{
    size_t v = 0;
    CHECK_OK(cuCtxGetLimit(&v, CU_LIMIT_STACK_SIZE));
    CHECK(v == 1024, "default stack size %zu", v);
    CHECK_OK(cuCtxSetLimit(CU_LIMIT_STACK_SIZE, 1000));
    CHECK_OK(cuCtxGetLimit(&v, CU_LIMIT_STACK_SIZE));
    CHECK(v == 1008, "stack size not rounded up to 16: %zu", v);
    CHECK_OK(cuCtxGetLimit(&v, CU_LIMIT_PRINTF_FIFO_SIZE));
    CHECK(v == MIB(1), "printf FIFO %zu", v);
    CHECK_OK(cuCtxGetLimit(&v, CU_LIMIT_MALLOC_HEAP_SIZE));
    CHECK(v == MIB(8), "malloc heap %zu", v);
    CHECK_OK(cuCtxSetLimit(CU_LIMIT_MALLOC_HEAP_SIZE, MIB(64)));
    CHECK_OK(cuCtxGetLimit(&v, CU_LIMIT_MALLOC_HEAP_SIZE));
    CHECK(v == MIB(64), "malloc heap after set %zu", v);
    CHECK_OK(cuCtxGetLimit(&v, CU_LIMIT_DEV_RUNTIME_PENDING_LAUNCH_COUNT));
    CHECK(v == 2048, "pending launches %zu", v);
    /* Device-runtime sync depth exists only below compute capability 9.0. */
    CHECK_RC(cuCtxGetLimit(&v, CU_LIMIT_DEV_RUNTIME_SYNC_DEPTH), CUDA_ERROR_UNSUPPORTED_LIMIT);
    CHECK_RC(cuCtxSetLimit(CU_LIMIT_DEV_RUNTIME_SYNC_DEPTH, 4), CUDA_ERROR_UNSUPPORTED_LIMIT);
    CHECK_OK(cuCtxSetLimit(CU_LIMIT_MAX_L2_FETCH_GRANULARITY, 1000));
    CHECK_OK(cuCtxGetLimit(&v, CU_LIMIT_MAX_L2_FETCH_GRANULARITY));
    CHECK(v == 128, "L2 fetch granularity not clamped: %zu", v);
    CHECK_RC(cuCtxSetLimit(CU_LIMIT_CIG_ENABLED, 1), CUDA_ERROR_INVALID_VALUE);
    CHECK_RC(cuCtxGetLimit(&v, (CUlimit)77), CUDA_ERROR_INVALID_VALUE);
    CHECK_RC(cuCtxGetLimit(NULL, CU_LIMIT_STACK_SIZE), CUDA_ERROR_INVALID_VALUE);

    int least = 99, greatest = 99;
    CHECK_OK(cuCtxGetStreamPriorityRange(&least, &greatest));
    CHECK(least == 0 && greatest == -5, "priority range [%d, %d]", greatest, least);
    CHECK_OK(cuCtxGetStreamPriorityRange(NULL, &greatest));

    CUfunc_cache cc = CU_FUNC_CACHE_PREFER_L1;
    CHECK_OK(cuCtxGetCacheConfig(&cc));
    CHECK(cc == CU_FUNC_CACHE_PREFER_NONE, "default cache config %d", (int)cc);
    CHECK_OK(cuCtxSetCacheConfig(CU_FUNC_CACHE_PREFER_SHARED));
    CHECK_OK(cuCtxGetCacheConfig(&cc));
    CHECK(cc == CU_FUNC_CACHE_PREFER_SHARED, "cache config %d", (int)cc);
    CHECK_RC(cuCtxSetCacheConfig((CUfunc_cache)9), CUDA_ERROR_INVALID_VALUE);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    CUsharedconfig sc;
    CHECK_OK(cuCtxGetSharedMemConfig(&sc));
    CHECK(sc == CU_SHARED_MEM_CONFIG_FOUR_BYTE_BANK_SIZE, "bank size %d", (int)sc);
#pragma GCC diagnostic pop

    unsigned int api = 0;
    CHECK_OK(cuCtxGetApiVersion(NULL, &api));
    CHECK(api == 3020, "API version %u", api);
    CHECK_OK(cuCtxSetFlags(CU_CTX_SCHED_YIELD));
    unsigned int flags = 0;
    CHECK_OK(cuCtxGetFlags(&flags));
    CHECK(flags == CU_CTX_SCHED_YIELD, "flags %u", flags);
    CHECK_RC(cuCtxSetFlags(0x1000), CUDA_ERROR_INVALID_VALUE);
    CHECK_OK(cuCtxSynchronize());
}

int main(void)
{
    REQUIRE_OK(cuInit(0));
    CUcontext cur = (CUcontext)1;
    CHECK_OK(cuCtxGetCurrent(&cur));
    CHECK(cur == NULL, "a context is current before any was made");
    CHECK_RC(cuCtxGetCurrent(NULL), CUDA_ERROR_INVALID_VALUE);
    CUdeviceptr p;
    CHECK_RC(cuMemAlloc(&p, 16), CUDA_ERROR_INVALID_CONTEXT);
    CHECK_RC(cuCtxSynchronize(), CUDA_ERROR_INVALID_CONTEXT);
    size_t f, t;
    CHECK_RC(cuMemGetInfo(&f, &t), CUDA_ERROR_INVALID_CONTEXT);

    check_primary();

    /* Creation in every signature; each created context becomes current. */
    CHECK_RC(cuCtxCreate(&g_a, NULL, 0, 5), CUDA_ERROR_INVALID_DEVICE);
    CHECK_RC(cuCtxCreate(NULL, NULL, 0, 0), CUDA_ERROR_INVALID_VALUE);
    CHECK_RC(cuCtxCreate(&g_a, NULL, 0x100, 0), CUDA_ERROR_INVALID_VALUE);
    CUexecAffinityParam aff = {.type = CU_EXEC_AFFINITY_TYPE_SM_COUNT};
    aff.param.smCount.val = 8;
    CUctxCreateParams with_affinity = {.execAffinityParams = &aff, .numExecAffinityParams = 1};
    CHECK_RC(cuCtxCreate(&g_a, &with_affinity, 0, 0), CUDA_ERROR_NOT_SUPPORTED);
    CUctxCreateParams empty = {0};
    size_t base = free_outside();
    REQUIRE_OK(cuCtxCreate(&g_a, &empty, CU_CTX_SCHED_SPIN, 0));
    CHECK_OK(cuCtxGetCurrent(&cur));
    CHECK(cur == g_a, "the new context is not current");
    CHECK(free_outside() == base - H100_CTX_OVERHEAD, "a context does not charge %zu bytes",
          H100_CTX_OVERHEAD);
    CHECK(test_free_mem() == base - H100_CTX_OVERHEAD, "cuMemGetInfo does not show the overhead");
    REQUIRE_OK(cuCtxCreate_v2(&g_b, 0, 0));
    CHECK(free_outside() == base - 2 * H100_CTX_OVERHEAD, "two contexts, two overheads");
    CUcontext c3;
    REQUIRE_OK(cuCtxCreate_v3(&c3, NULL, 0, 0, 0));
    CHECK_RC(cuCtxCreate_v3(&c3, &aff, 1, 0, 0), CUDA_ERROR_NOT_SUPPORTED);

    unsigned long long ida = 0, idb = 0, id3 = 0;
    CHECK_OK(cuCtxGetId(g_a, &ida));
    CHECK_OK(cuCtxGetId(g_b, &idb));
    CHECK_OK(cuCtxGetId(NULL, &id3)); /* current: c3 */
    CHECK(ida && idb && id3 && ida != idb && idb != id3 && ida != id3, "ids %llu %llu %llu", ida,
          idb, id3);
    CUdevice d = -1;
    CHECK_OK(cuCtxGetDevice(&d));
    CHECK(d == 0, "device %d", d);
    CHECK_OK(cuCtxGetDevice_v2(&d, g_a));
    CHECK(d == 0, "device %d", d);
    unsigned int fl = 0;
    CHECK_OK(cuCtxPushCurrent(g_a));
    CHECK_OK(cuCtxGetFlags(&fl));
    CHECK(fl == CU_CTX_SCHED_SPIN, "flags of A %u", fl);
    CUcontext popped = NULL;
    CHECK_OK(cuCtxPopCurrent(&popped));
    CHECK(popped == g_a, "popped %p", (void *)popped);
    CHECK_OK(cuCtxGetCurrent(&cur));
    CHECK(cur == c3, "stack order broken");

    /* Destroying c3 pops it: B (created before it) is current again. */
    CHECK_OK(cuCtxDestroy(c3));
    CHECK_OK(cuCtxGetCurrent(&cur));
    CHECK(cur == g_b, "destroying the current context did not pop it");
    check_settings();

    /* The second thread's stack is its own. */
    pthread_t th;
    REQUIRE(pthread_create(&th, NULL, second_thread, NULL) == 0, "pthread_create");
    pthread_join(th, NULL);
    CHECK_OK(cuCtxGetCurrent(&cur));
    CHECK(cur == g_b, "another thread's pushes changed this thread's context");

    /* A context destroyed while current to another thread. */
    REQUIRE_OK(cuCtxCreate(&g_doomed, NULL, 0, 0));
    CHECK_OK(cuCtxPopCurrent(&popped));
    REQUIRE(pthread_create(&th, NULL, holder_thread, NULL) == 0, "pthread_create");
    pthread_mutex_lock(&g_mu);
    while (g_phase != 1)
        pthread_cond_wait(&g_cv, &g_mu);
    pthread_mutex_unlock(&g_mu);
    CHECK_OK(cuCtxDestroy(g_doomed));
    pthread_mutex_lock(&g_mu);
    g_phase = 2;
    pthread_cond_broadcast(&g_cv);
    pthread_mutex_unlock(&g_mu);
    pthread_join(th, NULL);

    /* Destroyed and garbage handles: errors, never crashes. */
    CHECK_RC(cuCtxDestroy(g_doomed), CUDA_ERROR_INVALID_CONTEXT);
    CHECK_RC(cuCtxPushCurrent(g_doomed), CUDA_ERROR_INVALID_CONTEXT);
    CHECK_RC(cuCtxSetCurrent(g_doomed), CUDA_ERROR_INVALID_CONTEXT);
    unsigned long long id;
    CHECK_RC(cuCtxGetId(g_doomed, &id), CUDA_ERROR_INVALID_CONTEXT);
    CHECK_RC(cuCtxSynchronize_v2(g_doomed), CUDA_ERROR_INVALID_CONTEXT);
    long junk[16] = {0};
    CHECK_RC(cuCtxPushCurrent((CUcontext)junk), CUDA_ERROR_INVALID_CONTEXT);
    CHECK_RC(cuCtxDestroy((CUcontext)(uintptr_t)0xdeadbeef0ull), CUDA_ERROR_INVALID_CONTEXT);
    CHECK_RC(cuCtxGetApiVersion((CUcontext)junk, &fl), CUDA_ERROR_INVALID_CONTEXT);
    CHECK_RC(cuCtxDestroy(NULL), CUDA_ERROR_INVALID_CONTEXT);

    /* The stack is [A, B]: destroying B (current) pops it, then A is current and goes too. */
    CHECK_OK(cuCtxDestroy(g_b));
    CHECK_OK(cuCtxGetCurrent(&cur));
    CHECK(cur == g_a, "destroying B did not make A current");
    CHECK_OK(cuCtxDestroy(g_a));
    CHECK_OK(cuCtxGetCurrent(&cur));
    CHECK(cur == NULL, "stack not empty at the end: %p", (void *)cur);
    CHECK(free_outside() == base, "destroyed contexts still charge memory");
    return check_done("test_contexts");
}
