/*
 * The stream API itself: creation flags and priorities, getters, bad handles and contexts.
 */
#include "stream_test.h"

#include <stdint.h>

static void test_create_and_getters(CUcontext ctx)
{
    CUstream s, nb, hi, lo;
    unsigned int flags = 99;
    int prio = 99, least = 0, greatest = 0;
    CHECK_RC(cuStreamCreate(NULL, 0), CUDA_ERROR_INVALID_VALUE);
    CHECK_RC(cuStreamCreate(&s, 0x40), CUDA_ERROR_INVALID_VALUE);
    REQUIRE_OK(cuStreamCreate(&s, CU_STREAM_DEFAULT));
    REQUIRE_OK(cuStreamCreate(&nb, CU_STREAM_NON_BLOCKING));
    CHECK_OK(cuStreamGetFlags(s, &flags));
    CHECK(flags == CU_STREAM_DEFAULT, "flags %u", flags);
    CHECK_OK(cuStreamGetFlags(nb, &flags));
    CHECK(flags == CU_STREAM_NON_BLOCKING, "flags %u", flags);
    CHECK_OK(cuStreamGetPriority(s, &prio));
    CHECK(prio == 0, "default priority %d", prio);

    /* Priorities outside the context's range are clamped to it. */
    CHECK_OK(cuCtxGetStreamPriorityRange(&least, &greatest));
    REQUIRE_OK(cuStreamCreateWithPriority(&hi, 0, greatest - 100));
    REQUIRE_OK(cuStreamCreateWithPriority(&lo, CU_STREAM_NON_BLOCKING, least + 100));
    CHECK_OK(cuStreamGetPriority(hi, &prio));
    CHECK(prio == greatest, "priority %d, expected clamp to %d", prio, greatest);
    CHECK_OK(cuStreamGetPriority(lo, &prio));
    CHECK(prio == least, "priority %d, expected clamp to %d", prio, least);

    CUcontext got = NULL;
    CHECK_OK(cuStreamGetCtx(s, &got));
    CHECK(got == ctx, "cuStreamGetCtx gave another context");
    got = NULL;
    CHECK_OK(cuStreamGetCtx(NULL, &got));
    CHECK(got == ctx, "cuStreamGetCtx(NULL) gave another context");
    CUdevice dev = -1;
    CHECK_OK(cuStreamGetDevice(s, &dev));
    CHECK(dev == 0, "device %d", dev);

    unsigned long long id1 = 0, id2 = 0, id0 = 0;
    CHECK_OK(cuStreamGetId(s, &id1));
    CHECK_OK(cuStreamGetId(nb, &id2));
    CHECK_OK(cuStreamGetId(NULL, &id0));
    CHECK(id1 != id2 && id1 != id0 && id2 != id0, "stream ids not distinct");
    CHECK_RC(cuStreamGetId(s, NULL), CUDA_ERROR_INVALID_VALUE);
    CHECK_RC(cuStreamGetFlags(s, NULL), CUDA_ERROR_INVALID_VALUE);
    CHECK_RC(cuStreamGetPriority(s, NULL), CUDA_ERROR_INVALID_VALUE);

    CHECK_OK(cuStreamQuery(s));
    CHECK_OK(cuStreamSynchronize(s));
    CHECK_OK(cuStreamSynchronize(NULL));
    CHECK_OK(cuStreamSynchronize(CU_STREAM_LEGACY));
    CHECK_OK(cuStreamDestroy(s));
    CHECK_OK(cuStreamDestroy(nb));
    CHECK_OK(cuStreamDestroy(hi));
    CHECK_OK(cuStreamDestroy(lo));
}

static void test_bad_handles(void)
{
    long on_stack[16] = { 0 };
    CUstream fake = (CUstream)(void *)on_stack, garbage = (CUstream)(uintptr_t)0xdeadbeef;
    unsigned int flags;
    CHECK_RC(cuStreamQuery(garbage), CUDA_ERROR_INVALID_HANDLE);
    CHECK_RC(cuStreamQuery(fake), CUDA_ERROR_INVALID_HANDLE);
    CHECK_RC(cuStreamSynchronize(fake), CUDA_ERROR_INVALID_HANDLE);
    CHECK_RC(cuStreamGetFlags(fake, &flags), CUDA_ERROR_INVALID_HANDLE);
    CHECK_RC(cuStreamDestroy(fake), CUDA_ERROR_INVALID_HANDLE);
    CHECK_RC(cuStreamDestroy(NULL), CUDA_ERROR_INVALID_HANDLE);

    CUstream s;
    REQUIRE_OK(cuStreamCreate(&s, 0));
    CHECK_OK(cuStreamDestroy(s));
    CHECK_RC(cuStreamDestroy(s), CUDA_ERROR_INVALID_HANDLE);
    CHECK_RC(cuStreamSynchronize(s), CUDA_ERROR_INVALID_HANDLE);
}

static void test_no_context(CUcontext ctx)
{
    CUstream s;
    CUevent e;
    unsigned char h[8];
    CHECK_OK(cuCtxSetCurrent(NULL));
    CHECK_RC(cuStreamCreate(&s, 0), CUDA_ERROR_INVALID_CONTEXT);
    CHECK_RC(cuEventCreate(&e, 0), CUDA_ERROR_INVALID_CONTEXT);
    CHECK_RC(cuStreamSynchronize(NULL), CUDA_ERROR_INVALID_CONTEXT);
    CHECK_RC(cuMemcpyHtoD((CUdeviceptr)0x1000, h, 8), CUDA_ERROR_INVALID_CONTEXT);
    CHECK_OK(cuCtxSetCurrent(ctx));
}

int main(void)
{
    CUcontext ctx = stream_test_setup();
    test_create_and_getters(ctx);
    test_bad_handles();
    test_no_context(ctx);
    stream_test_teardown();
    return check_done("stream-api");
}
