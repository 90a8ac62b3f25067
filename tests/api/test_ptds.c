/*
 * A program built with CUDA_API_PER_THREAD_DEFAULT_STREAM: its calls bind to the _ptds/_ptsz
 * exports and its cuGetProcAddress defaults to per-thread variants, with gpool's header as with
 * the toolkit's.
 */
#define CUDA_API_PER_THREAD_DEFAULT_STREAM 1
#include <cuda.h>

#include "check.h"

#include <dlfcn.h>

int main(void)
{
    void *lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_NOLOAD);
    REQUIRE(lib != NULL, "libcuda.so.1 is not loaded: %s", dlerror());

    CHECK((void *)&cuMemcpyHtoDAsync == dlsym(lib, "cuMemcpyHtoDAsync_v2_ptsz"),
          "cuMemcpyHtoDAsync does not map to _v2_ptsz");
    CHECK((void *)&cuMemcpyHtoD == dlsym(lib, "cuMemcpyHtoD_v2_ptds"),
          "cuMemcpyHtoD does not map to _v2_ptds");
    CHECK((void *)&cuLaunchKernel == dlsym(lib, "cuLaunchKernel_ptsz"), "cuLaunchKernel");
    CHECK((void *)&cuMemcpy == dlsym(lib, "cuMemcpy_ptds"), "cuMemcpy");
    CHECK((void *)&cuMemAlloc == dlsym(lib, "cuMemAlloc_v2"), "cuMemAlloc");

    /* DEFAULT means per-thread for this program; LEGACY_STREAM still asks for the plain one. */
    void *pfn = NULL;
    CUdriverProcAddressQueryResult status;
    CHECK_OK(cuGetProcAddress("cuMemcpyHtoDAsync", &pfn, 13000, CU_GET_PROC_ADDRESS_DEFAULT,
                              &status));
    CHECK(pfn == dlsym(lib, "cuMemcpyHtoDAsync_v2_ptsz"), "DEFAULT did not give _v2_ptsz");
    CHECK(status == CU_GET_PROC_ADDRESS_SUCCESS, "status %d", (int)status);
    CHECK_OK(cuGetProcAddress("cuMemcpyHtoDAsync", &pfn, 13000,
                              CU_GET_PROC_ADDRESS_LEGACY_STREAM, &status));
    CHECK(pfn == dlsym(lib, "cuMemcpyHtoDAsync_v2"), "LEGACY_STREAM did not give _v2");

    dlclose(lib);
    return check_done("api-ptds");
}
