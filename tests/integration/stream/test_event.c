/*
 * Events: creation flags, query and synchronize before and after the captured work, elapsed
 * times (never a timing threshold: only signs and consistency), and bad handles.
 */
#include "stream_test.h"

#include <math.h>
#include <stdint.h>

static void test_create_flags(void)
{
    CUevent e;
    CHECK_RC(cuEventCreate(NULL, 0), CUDA_ERROR_INVALID_VALUE);
    CHECK_RC(cuEventCreate(&e, 0x100), CUDA_ERROR_INVALID_VALUE);
    CHECK_RC(cuEventCreate(&e, CU_EVENT_INTERPROCESS), CUDA_ERROR_INVALID_VALUE);
    CHECK_OK(cuEventCreate(&e, CU_EVENT_INTERPROCESS | CU_EVENT_DISABLE_TIMING));
    CHECK_OK(cuEventDestroy(e));
    CHECK_OK(cuEventCreate(&e, CU_EVENT_BLOCKING_SYNC));
    CHECK_OK(cuEventDestroy(e));
}

static void test_query_and_time(void)
{
    struct gate g;
    gate_init(&g);
    CUstream s;
    CUevent a, b, c, never;
    REQUIRE_OK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
    REQUIRE_OK(cuEventCreate(&a, CU_EVENT_DEFAULT));
    REQUIRE_OK(cuEventCreate(&b, CU_EVENT_BLOCKING_SYNC));
    REQUIRE_OK(cuEventCreate(&c, CU_EVENT_DEFAULT));
    REQUIRE_OK(cuEventCreate(&never, CU_EVENT_DEFAULT));

    /* Never recorded: complete (an empty set of work), but it has no time. */
    CHECK_OK(cuEventQuery(never));
    CHECK_OK(cuEventSynchronize(never));

    CHECK_OK(cuEventRecord(a, s));
    CHECK_OK(cuLaunchHostFunc(s, gate_wait, &g));
    CHECK_OK(cuEventRecord(b, s));
    CHECK_OK(cuEventSynchronize(a)); /* before the gate: completes */
    CHECK_OK(cuEventQuery(a));
    CHECK_RC(cuEventQuery(b), CUDA_ERROR_NOT_READY);
    float ms = -1;
    CHECK_RC(cuEventElapsedTime(&ms, a, b), CUDA_ERROR_NOT_READY);
    CHECK_RC(cuEventElapsedTime(&ms, a, never), CUDA_ERROR_INVALID_HANDLE);
    CHECK_RC(cuEventElapsedTime(&ms, never, a), CUDA_ERROR_INVALID_HANDLE);
    gate_open(&g);
    CHECK_OK(cuEventSynchronize(b));
    CHECK_OK(cuEventQuery(b));

    /* Some work between b and c on the NULL stream (which waits for nothing here). */
    CUdeviceptr d;
    unsigned char buf[4096];
    memset(buf, 1, sizeof(buf));
    REQUIRE_OK(cuMemAlloc(&d, sizeof(buf)));
    CHECK_OK(cuMemcpyHtoDAsync(d, buf, sizeof(buf), s));
    CHECK_OK(cuEventRecordWithFlags(c, s, CU_EVENT_RECORD_DEFAULT));
    CHECK_OK(cuStreamSynchronize(s));

    float ab = -1, bc = -1, ac = -1, ba = 1;
    CHECK_OK(cuEventElapsedTime(&ab, a, b));
    CHECK_OK(cuEventElapsedTime(&bc, b, c));
    CHECK_OK(cuEventElapsedTime(&ac, a, c));
    CHECK_OK(cuEventElapsedTime(&ba, b, a));
    CHECK(ab >= 0 && bc >= 0 && ac >= 0, "negative elapsed time: %f %f %f", ab, bc, ac);
    CHECK(fabsf(ab + bc - ac) <= 1e-3f + 1e-5f * ac, "t(a,b)+t(b,c)=%f but t(a,c)=%f", ab + bc,
          ac);
    CHECK(fabsf(ba + ab) <= 1e-3f + 1e-5f * ab, "t(b,a)=%f is not -t(a,b)=%f", ba, -ab);
    CHECK_RC(cuEventElapsedTime(NULL, a, b), CUDA_ERROR_INVALID_VALUE);

    /* Recording on the NULL stream works too. */
    CHECK_OK(cuEventRecord(c, NULL));
    CHECK_OK(cuEventSynchronize(c));
    CHECK_OK(cuEventElapsedTime(&ac, a, c));
    CHECK(ac >= ab, "a later record measured earlier: %f < %f", ac, ab);

    CHECK_RC(cuEventRecordWithFlags(c, s, 0x80), CUDA_ERROR_INVALID_VALUE);

    CHECK_OK(cuMemFree(d));
    CHECK_OK(cuEventDestroy(a));
    CHECK_OK(cuEventDestroy(b));
    CHECK_OK(cuEventDestroy(c));
    CHECK_OK(cuEventDestroy(never));
    CHECK_OK(cuStreamDestroy(s));
    gate_fini(&g);
}

static void test_disable_timing(void)
{
    CUevent a, b;
    REQUIRE_OK(cuEventCreate(&a, CU_EVENT_DISABLE_TIMING));
    REQUIRE_OK(cuEventCreate(&b, CU_EVENT_DEFAULT));
    CHECK_OK(cuEventRecord(a, NULL));
    CHECK_OK(cuEventRecord(b, NULL));
    CHECK_OK(cuEventSynchronize(a));
    CHECK_OK(cuEventSynchronize(b));
    CHECK_OK(cuEventQuery(a));
    float ms;
    CHECK_RC(cuEventElapsedTime(&ms, a, b), CUDA_ERROR_INVALID_HANDLE);
    CHECK_RC(cuEventElapsedTime(&ms, b, a), CUDA_ERROR_INVALID_HANDLE);
    CHECK_OK(cuEventDestroy(a));
    CHECK_OK(cuEventDestroy(b));
}

/* An event destroyed while its record is pending is released when the record completes. */
static void test_destroy_pending(void)
{
    struct gate g;
    gate_init(&g);
    CUstream s;
    CUevent e;
    REQUIRE_OK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
    REQUIRE_OK(cuEventCreate(&e, 0));
    CHECK_OK(cuLaunchHostFunc(s, gate_wait, &g));
    CHECK_OK(cuEventRecord(e, s));
    CHECK_OK(cuEventDestroy(e));
    CHECK_RC(cuEventQuery(e), CUDA_ERROR_INVALID_HANDLE);
    gate_open(&g);
    CHECK_OK(cuStreamSynchronize(s));
    CHECK_OK(cuStreamDestroy(s));
    gate_fini(&g);
}

static void test_bad_handles(void)
{
    CUevent garbage = (CUevent)(uintptr_t)0x5555;
    long on_stack[8] = { 0 };
    CUevent fake = (CUevent)(void *)on_stack;
    float ms;
    CHECK_RC(cuEventQuery(garbage), CUDA_ERROR_INVALID_HANDLE);
    CHECK_RC(cuEventQuery(fake), CUDA_ERROR_INVALID_HANDLE);
    CHECK_RC(cuEventSynchronize(fake), CUDA_ERROR_INVALID_HANDLE);
    CHECK_RC(cuEventRecord(fake, NULL), CUDA_ERROR_INVALID_HANDLE);
    CHECK_RC(cuEventDestroy(garbage), CUDA_ERROR_INVALID_HANDLE);
    CHECK_RC(cuEventDestroy(NULL), CUDA_ERROR_INVALID_HANDLE);
    CHECK_RC(cuEventElapsedTime(&ms, garbage, fake), CUDA_ERROR_INVALID_HANDLE);

    CUevent e;
    REQUIRE_OK(cuEventCreate(&e, 0));
    CHECK_RC(cuEventRecord(e, (CUstream)(uintptr_t)0x7777), CUDA_ERROR_INVALID_HANDLE);
    CHECK_OK(cuEventDestroy(e));
    CHECK_RC(cuEventDestroy(e), CUDA_ERROR_INVALID_HANDLE);
    CHECK_RC(cuEventRecord(e, NULL), CUDA_ERROR_INVALID_HANDLE);
}

int main(void)
{
    stream_test_setup();
    test_create_flags();
    test_query_and_time();
    test_disable_timing();
    test_destroy_pending();
    test_bad_handles();
    stream_test_teardown();
    return check_done("stream-event");
}
