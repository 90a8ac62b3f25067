/*
 * The per-thread default stream, through _ptsz/_ptds exports (this file is compiled as a
 * program built with per-thread default streams) and through CU_STREAM_PER_THREAD: one per
 * thread, blocking with respect to the legacy stream, independent of other threads.
 */
#define CUDA_API_PER_THREAD_DEFAULT_STREAM 1
#include "stream_test.h"

#include <pthread.h>
#include <stdint.h>

#define N 128

static CUcontext g_ctx;
static CUdeviceptr g_d2;

struct other {
    unsigned long long id;
    int copied;
};

/* Another thread: its per-thread stream runs while the main thread's is stalled. */
static void *other_thread(void *arg)
{
    struct other *o = arg;
    unsigned char src[N], back[N];
    memset(src, 0x42, N);
    memset(back, 0, N);
    if (cuCtxSetCurrent(g_ctx) != CUDA_SUCCESS)
        return NULL;
    cuStreamGetId(NULL, &o->id);
    if (cuMemcpyHtoDAsync(g_d2, src, N, NULL) == CUDA_SUCCESS &&
        cuMemcpyDtoHAsync(back, g_d2, N, CU_STREAM_PER_THREAD) == CUDA_SUCCESS &&
        cuStreamSynchronize(NULL) == CUDA_SUCCESS)
        o->copied = memcmp(src, back, N) == 0;
    return NULL;
}

int main(void)
{
    g_ctx = stream_test_setup();
    struct gate g;
    gate_init(&g);
    unsigned char oldv[N], newv[N], h[N];
    memset(oldv, 1, N);
    memset(newv, 2, N);
    CUdeviceptr d;
    REQUIRE_OK(cuMemAlloc(&d, N));
    REQUIRE_OK(cuMemAlloc(&g_d2, N));
    CHECK_OK(cuMemcpyHtoD(d, oldv, N)); /* cuMemcpyHtoD_v2_ptds */

    /* NULL here is the per-thread stream: the same one as CU_STREAM_PER_THREAD. */
    unsigned long long id_null = 0, id_pt = 0, id_legacy = 0;
    CHECK_OK(cuStreamGetId(NULL, &id_null));
    CHECK_OK(cuStreamGetId(CU_STREAM_PER_THREAD, &id_pt));
    CHECK_OK(cuStreamGetId(CU_STREAM_LEGACY, &id_legacy));
    CHECK(id_null == id_pt, "NULL through _ptsz is not the per-thread stream");
    CHECK(id_null != id_legacy, "the per-thread stream is the legacy stream");

    /* Stall the per-thread stream; a later copy on it waits. */
    CHECK_OK(cuLaunchHostFunc(NULL, gate_wait, &g));
    CHECK_OK(cuMemcpyHtoDAsync(d, newv, N, CU_STREAM_PER_THREAD));
    CHECK_RC(cuStreamQuery(NULL), CUDA_ERROR_NOT_READY);

    /* Another thread's per-thread stream is independent: it completes meanwhile. */
    pthread_t t;
    struct other o = { 0 };
    int err = pthread_create(&t, NULL, other_thread, &o);
    REQUIRE(err == 0, "pthread_create");
    pthread_join(t, NULL);
    CHECK(o.copied, "the other thread's per-thread stream did not complete");
    CHECK(o.id != 0 && o.id != id_null, "threads share a per-thread stream");

    /* The legacy stream waits for the (blocking) per-thread stream. */
    CHECK_RC(cuStreamQuery(CU_STREAM_LEGACY), CUDA_ERROR_NOT_READY);
    /* A non-blocking stream does not: read the old contents through it. */
    CUstream nb;
    REQUIRE_OK(cuStreamCreate(&nb, CU_STREAM_NON_BLOCKING));
    memset(h, 0, N);
    CHECK_OK(cuMemcpyDtoHAsync(h, d, N, nb));
    CHECK_OK(cuStreamSynchronize(nb));
    CHECK(memcmp(h, oldv, N) == 0, "the stalled per-thread stream's copy ran early");

    gate_open(&g);
    CHECK_OK(cuStreamSynchronize(CU_STREAM_PER_THREAD));
    CHECK_OK(cuStreamQuery(NULL));
    memset(h, 0, N);
    CHECK_OK(cuMemcpyDtoH(h, d, N));
    CHECK(memcmp(h, newv, N) == 0, "the per-thread stream's copy did not run");

    /* Events and waits through the _ptsz exports. */
    CUevent e;
    REQUIRE_OK(cuEventCreate(&e, 0));
    CHECK_OK(cuLaunchHostFunc(NULL, gate_wait, &g));
    CHECK_OK(cuEventRecord(e, NULL));
    CHECK_OK(cuStreamWaitEvent(nb, e, 0));
    CHECK_OK(cuMemcpyHtoDAsync(d, oldv, N, nb));
    CHECK_RC(cuStreamQuery(nb), CUDA_ERROR_NOT_READY);
    gate_open(&g);
    CHECK_OK(cuStreamSynchronize(nb));
    CHECK_OK(cuEventQuery(e));
    CHECK_OK(cuMemsetD8(d, 7, N)); /* cuMemsetD8_v2_ptds */
    CHECK_OK(cuMemcpyDtoH(h, d, N));
    CHECK(h[0] == 7 && h[N - 1] == 7, "memset through _ptds wrong");

    CHECK_OK(cuEventDestroy(e));
    CHECK_OK(cuStreamDestroy(nb));
    CHECK_OK(cuMemFree(d));
    CHECK_OK(cuMemFree(g_d2));
    gate_fini(&g);
    stream_test_teardown();
    return check_done("stream-ptds");
}
