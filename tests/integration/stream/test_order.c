/*
 * Stream ordering, proven without timing: a gate (a host function blocked on a pipe) stalls a
 * stream, the test checks that later work has not run (data still old, cuStreamQuery
 * CUDA_ERROR_NOT_READY), opens the gate and checks that the work then runs.
 */
#include "stream_test.h"

#include <stdint.h>

#define N 256

static unsigned char g_old[N], g_new[N];

/* Reads the device buffer and tells whether it holds want. */
static int device_holds(CUdeviceptr d, const unsigned char *want)
{
    unsigned char h[N];
    if (cuMemcpyDtoH(h, d, N) != CUDA_SUCCESS)
        return 0;
    return memcmp(h, want, N) == 0;
}

/* A host function stalls its stream; a later async copy waits behind it. */
static void test_in_order(CUdeviceptr d)
{
    struct gate g;
    gate_init(&g);
    CUstream s;
    REQUIRE_OK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
    CHECK_OK(cuMemcpyHtoD(d, g_old, N));
    CHECK_OK(cuLaunchHostFunc(s, gate_wait, &g));
    CHECK_OK(cuMemcpyHtoDAsync(d, g_new, N, s));
    CHECK_RC(cuStreamQuery(s), CUDA_ERROR_NOT_READY);
    CHECK(device_holds(d, g_old), "the copy ran before the host function returned");
    gate_open(&g);
    CHECK_OK(cuStreamSynchronize(s));
    CHECK_OK(cuStreamQuery(s));
    CHECK(atomic_load(&g.passed) == 1, "host function did not run");
    CHECK(device_holds(d, g_new), "the copy did not run after the host function");
    CHECK_OK(cuStreamDestroy(s));
    gate_fini(&g);
}

/* cuStreamWaitEvent makes one stream wait for work captured on another. */
static void test_wait_event(CUdeviceptr d)
{
    struct gate g;
    gate_init(&g);
    CUstream a, b;
    CUevent e;
    REQUIRE_OK(cuStreamCreate(&a, CU_STREAM_NON_BLOCKING));
    REQUIRE_OK(cuStreamCreate(&b, CU_STREAM_NON_BLOCKING));
    REQUIRE_OK(cuEventCreate(&e, CU_EVENT_DISABLE_TIMING));
    CHECK_OK(cuMemcpyHtoD(d, g_old, N));
    CHECK_OK(cuLaunchHostFunc(a, gate_wait, &g));
    CHECK_OK(cuEventRecord(e, a));
    CHECK_OK(cuStreamWaitEvent(b, e, 0));
    CHECK_OK(cuMemcpyHtoDAsync(d, g_new, N, b));
    CHECK_RC(cuEventQuery(e), CUDA_ERROR_NOT_READY);
    CHECK_RC(cuStreamQuery(b), CUDA_ERROR_NOT_READY);
    CHECK(device_holds(d, g_old), "stream b ran before the event it waits for");
    /* Re-recording the event later does not change what b waits for. */
    CHECK_OK(cuEventRecord(e, b));
    gate_open(&g);
    CHECK_OK(cuStreamSynchronize(b));
    CHECK(device_holds(d, g_new), "stream b did not run after the event");
    CHECK_OK(cuEventSynchronize(e));
    CHECK_RC(cuStreamWaitEvent(b, e, 0x10), CUDA_ERROR_INVALID_VALUE);
    CHECK_RC(cuStreamWaitEvent(b, (CUevent)(uintptr_t)0x4321, 0), CUDA_ERROR_INVALID_HANDLE);
    CHECK_OK(cuEventDestroy(e));
    CHECK_OK(cuStreamDestroy(a));
    CHECK_OK(cuStreamDestroy(b));
    gate_fini(&g);
}

/* The legacy default stream waits for a blocking stream; a NON_BLOCKING one it does not. */
static void test_legacy(CUdeviceptr d)
{
    struct gate g;
    gate_init(&g);
    CUstream blocking, nonblocking;
    REQUIRE_OK(cuStreamCreate(&blocking, CU_STREAM_DEFAULT));
    REQUIRE_OK(cuStreamCreate(&nonblocking, CU_STREAM_NON_BLOCKING));
    CHECK_OK(cuMemcpyHtoD(d, g_old, N));

    /* Blocking stream stalled: work on the NULL stream waits for it. */
    CHECK_OK(cuLaunchHostFunc(blocking, gate_wait, &g));
    CHECK_OK(cuMemcpyHtoDAsync(d, g_new, N, NULL));
    CHECK_RC(cuStreamQuery(NULL), CUDA_ERROR_NOT_READY);
    CHECK_RC(cuStreamQuery(CU_STREAM_LEGACY), CUDA_ERROR_NOT_READY);
    /* ... but a non-blocking stream does not wait for the NULL stream: this returns. */
    unsigned char h[N];
    memset(h, 0, N);
    CHECK_OK(cuMemcpyDtoHAsync(h, d, N, nonblocking));
    CHECK_OK(cuStreamSynchronize(nonblocking));
    CHECK(memcmp(h, g_old, N) == 0, "the NULL stream copy ran before the blocking stream's work");
    gate_open(&g);
    CHECK_OK(cuStreamSynchronize(NULL));
    CHECK(device_holds(d, g_new), "the NULL stream copy did not run");

    /* NULL stream stalled: a blocking stream's later work waits, a non-blocking one does not. */
    CHECK_OK(cuMemcpyHtoD(d, g_old, N));
    CHECK_OK(cuLaunchHostFunc(NULL, gate_wait, &g));
    CHECK_OK(cuMemcpyHtoDAsync(d, g_new, N, blocking));
    CHECK_RC(cuStreamQuery(blocking), CUDA_ERROR_NOT_READY);
    memset(h, 0, N);
    CHECK_OK(cuMemcpyDtoHAsync(h, d, N, nonblocking));
    CHECK_OK(cuStreamSynchronize(nonblocking));
    CHECK(memcmp(h, g_old, N) == 0, "the blocking stream ran before the NULL stream's work");
    CHECK_RC(cuStreamQuery(blocking), CUDA_ERROR_NOT_READY);
    gate_open(&g);
    CHECK_OK(cuStreamSynchronize(blocking));
    CHECK(device_holds(d, g_new), "the blocking stream's copy did not run");

    /* Synchronous copies are ordered on the NULL stream too. */
    CHECK_OK(cuLaunchHostFunc(blocking, gate_wait, &g));
    CHECK_OK(cuMemcpyHtoDAsync(d, g_old, N, blocking));
    gate_open(&g);
    CHECK(device_holds(d, g_old), "a synchronous copy overtook a blocking stream's work");

    CHECK_OK(cuStreamDestroy(blocking));
    CHECK_OK(cuStreamDestroy(nonblocking));
    gate_fini(&g);
}

/* Destroying a stream with queued work returns at once and the work still completes. */
static void test_destroy_pending(CUdeviceptr d)
{
    struct gate g;
    gate_init(&g);
    CUstream s;
    REQUIRE_OK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
    CHECK_OK(cuMemcpyHtoD(d, g_old, N));
    CHECK_OK(cuLaunchHostFunc(s, gate_wait, &g));
    CHECK_OK(cuMemcpyHtoDAsync(d, g_new, N, s));
    CHECK_OK(cuStreamDestroy(s)); /* returns although the stream is stalled */
    CHECK_RC(cuStreamQuery(s), CUDA_ERROR_INVALID_HANDLE);
    CHECK(device_holds(d, g_old), "queued work ran early");
    gate_open(&g);
    CHECK_OK(cuCtxSynchronize());
    CHECK(device_holds(d, g_new), "work queued before cuStreamDestroy did not complete");
    gate_fini(&g);
}

struct cb_state {
    CUstream expect;
    _Atomic int calls;
    _Atomic int bad;
};

static void CUDA_CB callback(CUstream h, CUresult status, void *user)
{
    struct cb_state *st = user;
    if (h != st->expect || status != CUDA_SUCCESS)
        atomic_fetch_add(&st->bad, 1);
    atomic_fetch_add(&st->calls, 1);
}

/* Host functions and callbacks run in order on the stream's worker. */
static void test_host_funcs(void)
{
    CUstream s;
    REQUIRE_OK(cuStreamCreate(&s, 0));
    struct order_log log = { 0 };
    struct order_mark m[4] = { { &log, 'a' }, { &log, 'b' }, { &log, 'c' }, { &log, 'd' } };
    struct cb_state st = { .expect = s };
    for (int i = 0; i < 4; i++)
        CHECK_OK(cuLaunchHostFunc(s, order_append, &m[i]));
    CHECK_OK(cuStreamAddCallback(s, callback, &st, 0));
    CHECK_OK(cuStreamSynchronize(s));
    CHECK(strcmp(log.buf, "abcd") == 0, "host functions ran as \"%s\"", log.buf);
    CHECK(atomic_load(&st.calls) == 1 && atomic_load(&st.bad) == 0, "callback wrong");
    CHECK_RC(cuStreamAddCallback(s, callback, &st, 1), CUDA_ERROR_INVALID_VALUE);
    CHECK_RC(cuStreamAddCallback(s, NULL, &st, 0), CUDA_ERROR_INVALID_VALUE);
    CHECK_RC(cuLaunchHostFunc(s, NULL, NULL), CUDA_ERROR_INVALID_VALUE);
    CHECK_OK(cuStreamDestroy(s));
}

int main(void)
{
    stream_test_setup();
    for (int i = 0; i < N; i++) {
        g_old[i] = (unsigned char)i;
        g_new[i] = (unsigned char)(255 - i);
    }
    CUdeviceptr d;
    REQUIRE_OK(cuMemAlloc(&d, N));
    test_in_order(d);
    test_wait_event(d);
    test_legacy(d);
    test_destroy_pending(d);
    test_host_funcs();
    CHECK_OK(cuMemFree(d));
    stream_test_teardown();
    return check_done("stream-order");
}
