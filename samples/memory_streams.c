/*
 * Sample: allocations, copies, memsets, streams and events on a device, with the results
 * checked on the host. Runs unchanged on a real driver or on gpool's simulated GPUs.
 */
#include <cuda.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CU(call)                                                                                   \
    do {                                                                                           \
        CUresult rc_ = (call);                                                                     \
        if (rc_ != CUDA_SUCCESS) {                                                                 \
            const char *name_ = "?";                                                               \
            cuGetErrorName(rc_, &name_);                                                           \
            fprintf(stderr, "memory_streams: %s failed: %s\n", #call, name_);                      \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

#define N (16u << 20) /* 16 MiB per buffer */

static void host_note(void *arg)
{
    printf("  host function ran on stream %s, in order after the copies\n", (const char *)arg);
}

int main(void)
{
    CUdevice dev;
    CUcontext ctx;
    CUdeviceptr a, b;
    CUstream s1, s2;
    CUevent start, mid, stop;
    size_t free0, free1, total;
    unsigned char *host, *back;
    float ms1 = 0, ms2 = 0;

    CU(cuInit(0));
    CU(cuDeviceGet(&dev, 0));
    CU(cuDevicePrimaryCtxRetain(&ctx, dev));
    CU(cuCtxSetCurrent(ctx));

    CU(cuMemGetInfo(&free0, &total));
    CU(cuMemAlloc(&a, N));
    CU(cuMemAlloc(&b, N));
    CU(cuMemGetInfo(&free1, &total));
    printf("allocated 2 x %u MiB: device free %zu -> %zu MiB of %zu MiB\n", N >> 20, free0 >> 20,
           free1 >> 20, total >> 20);

    CU(cuMemAllocHost((void **)&host, N));
    back = malloc(N);
    for (size_t i = 0; i < N; i++)
        host[i] = (unsigned char)(i * 7);

    CU(cuStreamCreate(&s1, CU_STREAM_NON_BLOCKING));
    CU(cuStreamCreate(&s2, CU_STREAM_NON_BLOCKING));
    CU(cuEventCreate(&start, CU_EVENT_DEFAULT));
    CU(cuEventCreate(&mid, CU_EVENT_DEFAULT));
    CU(cuEventCreate(&stop, CU_EVENT_DEFAULT));

    /* s1: upload, then copy device-to-device; s2 waits for s1's event and memsets b's tail. */
    CU(cuEventRecord(start, s1));
    CU(cuMemcpyHtoDAsync(a, host, N, s1));
    CU(cuMemcpyDtoDAsync(b, a, N, s1));
    CU(cuEventRecord(mid, s1));
    CU(cuLaunchHostFunc(s1, host_note, "s1"));
    CU(cuStreamWaitEvent(s2, mid, 0));
    CU(cuMemsetD8Async(b + N / 2, 0xAB, N / 2, s2));
    CU(cuEventRecord(stop, s2));
    CU(cuStreamSynchronize(s2));
    CU(cuEventElapsedTime(&ms1, start, mid));
    CU(cuEventElapsedTime(&ms2, mid, stop));

    CU(cuMemcpyDtoH(back, b, N));
    size_t bad = 0;
    for (size_t i = 0; i < N; i++) {
        unsigned char want = i < N / 2 ? (unsigned char)(i * 7) : 0xAB;
        bad += back[i] != want;
    }
    printf("streams: upload+copy %.3f ms, memset after cross-stream wait %.3f ms\n", ms1, ms2);
    printf("result: %s (%zu of %u bytes differ from the host's expectation)\n",
           bad ? "MISMATCH" : "matches the host", bad, N);

    /* A copy that runs past the end of its allocation is refused, as on a real GPU, even when
     * the next allocation happens to start right there. */
    CUresult rc = cuMemcpyHtoD(a + N - 8, host, 16);
    const char *rcname = "?";
    cuGetErrorName(rc, &rcname);
    printf("copy running 8 bytes past the end of an allocation: %s\n", rcname);

    CU(cuEventDestroy(start));
    CU(cuEventDestroy(mid));
    CU(cuEventDestroy(stop));
    CU(cuStreamDestroy(s1));
    CU(cuStreamDestroy(s2));
    CU(cuMemFree(a));
    CU(cuMemFree(b));
    CU(cuMemFreeHost(host));
    free(back);
    CU(cuDevicePrimaryCtxRelease(dev));
    return bad || rc != CUDA_ERROR_INVALID_VALUE ? 1 : 0;
}
