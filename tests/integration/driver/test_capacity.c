/*
 * Exact capacity on a T4 (15360 MiB, 256 MiB per context): contexts fill the device with their
 * overhead until the next one does not fit, then device memory fills the rest to the byte. One
 * byte more than the reported free memory is CUDA_ERROR_OUT_OF_MEMORY; exactly the free memory
 * succeeds; freeing restores it. (Contexts take most of the capacity so that the test does not
 * need gigabytes of backing on disk.)
 */
#include "driver_test.h"

#define T4_TOTAL        MIB(15360)
#define T4_CTX_OVERHEAD MIB(256)
#define MAX_CTX         100

int main(void)
{
    REQUIRE_OK(cuInit(0));
    CUcontext ctx[MAX_CTX];
    int n = 0;
    REQUIRE_OK(cuCtxCreate(&ctx[n++], NULL, 0, 0));
    size_t free0 = test_free_mem(), total = 0, f = 0;
    CHECK_OK(cuMemGetInfo(&f, &total));
    CHECK(total == T4_TOTAL, "total %zu", total);

    CUresult rc = CUDA_SUCCESS;
    while (n < MAX_CTX) {
        rc = cuCtxCreate(&ctx[n], NULL, 0, 0);
        if (rc != CUDA_SUCCESS)
            break;
        n++;
    }
    CHECK(rc == CUDA_ERROR_OUT_OF_MEMORY, "context creation stopped with %d", (int)rc);
    size_t left = test_free_mem();
    CHECK(left < T4_CTX_OVERHEAD, "a context did not fit although %zu bytes were free", left);
    CHECK(left == free0 - (size_t)(n - 1) * T4_CTX_OVERHEAD, "free %zu after %d contexts", left, n);
    /* Make room for one context's worth of device memory. */
    REQUIRE(n > 1, "no second context fitted");
    CHECK_OK(cuCtxDestroy(ctx[--n]));
    left = test_free_mem();
    CHECK(left >= T4_CTX_OVERHEAD && left < 2 * T4_CTX_OVERHEAD, "free %zu", left);
    REQUIRE_OK(cuCtxSetCurrent(ctx[0]));

    /* Fill to the byte. */
    CUdeviceptr a = 0, b = 0, c = 0;
    CHECK_RC(cuMemAlloc(&a, left + 1), CUDA_ERROR_OUT_OF_MEMORY);
    REQUIRE_OK(cuMemAlloc(&a, left - MIB(1)));
    size_t rest = test_free_mem();
    CHECK(rest == MIB(1), "free after filling %zu", rest);
    CHECK_RC(cuMemAlloc(&b, rest + 1), CUDA_ERROR_OUT_OF_MEMORY);
    CHECK_RC(cuMemAllocManaged(&b, rest + 1, CU_MEM_ATTACH_GLOBAL), CUDA_ERROR_OUT_OF_MEMORY);
    size_t pitch;
    CHECK_RC(cuMemAllocPitch(&b, &pitch, 512, rest / 512 + 1, 4), CUDA_ERROR_OUT_OF_MEMORY);
    REQUIRE_OK(cuMemAlloc(&b, rest)); /* exactly what is free */
    CHECK(test_free_mem() == 0, "free is %zu at the cap", test_free_mem());
    CHECK_RC(cuMemAlloc(&c, 1), CUDA_ERROR_OUT_OF_MEMORY);
    CUcontext extra;
    CHECK_RC(cuCtxCreate(&extra, NULL, 0, 0), CUDA_ERROR_OUT_OF_MEMORY);
    CHECK_OK(cuMemFree(b));
    CHECK(test_free_mem() == rest, "freeing did not restore %zu bytes", rest);
    CHECK_OK(cuMemFree(a));
    CHECK(test_free_mem() == left, "free %zu, expected %zu", test_free_mem(), left);

    for (int i = n - 1; i >= 0; i--)
        CHECK_OK(cuCtxDestroy(ctx[i]));
    REQUIRE_OK(cuCtxCreate(&ctx[0], NULL, 0, 0));
    CHECK(test_free_mem() == free0, "destroying the contexts did not restore memory");
    CHECK_OK(cuCtxDestroy(ctx[0]));
    return check_done("test_capacity");
}
