/*
 * Sample: what an ordinary CUDA program sees inside a local vGPU. Nothing here knows about gpool:
 * run it on any driver, or through gpool's hook (build/lib/hook/libcuda.so.1) with GPOOL_VGPU,
 * GPOOL_VRAM_LIMIT and GPOOL_COMPUTE_LIMIT set, and compare.
 *
 *   sample_vgpu [launches]
 *
 * 1. the memory the device reports (cuDeviceTotalMem, cuMemGetInfo);
 * 2. 64 MiB allocations until the device refuses one (at most 16, so that a whole GPU is not
 *    filled) — the program checks that a refusal comes only when cuMemGetInfo said less than a
 *    block was free;
 * 3. a kernel launched and waited for `launches` times (default 40): the wall time shows the
 *    compute share.
 */
#include <cuda.h>

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define MIB        (1024ull * 1024ull)
#define BLOCK      (64 * MIB)
#define MAX_BLOCKS 16

#define CU(call)                                                                                   \
    do {                                                                                           \
        CUresult rc_ = (call);                                                                     \
        if (rc_ != CUDA_SUCCESS) {                                                                 \
            const char *name_ = "?";                                                               \
            cuGetErrorName(rc_, &name_);                                                           \
            fprintf(stderr, "vgpu: %s failed: %s\n", #call, name_);                                \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

/* A kernel that counts to n: about a millisecond of work for n = 20000 on the simulator. */
static const char spin_ptx[] = ".version 7.0\n"
                               ".target sm_80\n"
                               ".address_size 64\n"
                               ".visible .entry spin(.param .u64 out, .param .u32 n)\n"
                               "{\n"
                               "  .reg .u32 %r<4>;\n"
                               "  .reg .u64 %rd<3>;\n"
                               "  .reg .pred %p;\n"
                               "  ld.param.u64 %rd1, [out];\n"
                               "  ld.param.u32 %r1, [n];\n"
                               "  mov.u32 %r2, 0;\n"
                               "  mov.u32 %r3, 0;\n"
                               "LOOP:\n"
                               "  setp.ge.u32 %p, %r2, %r1;\n"
                               "  @%p bra DONE;\n"
                               "  add.u32 %r3, %r3, %r2;\n"
                               "  add.u32 %r2, %r2, 1;\n"
                               "  bra LOOP;\n"
                               "DONE:\n"
                               "  cvta.to.global.u64 %rd2, %rd1;\n"
                               "  st.global.u32 [%rd2], %r3;\n"
                               "  ret;\n"
                               "}\n";

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
    int launches = argc > 1 ? atoi(argv[1]) : 40;
    if (launches < 1 || launches > 100000) {
        fprintf(stderr, "usage: sample_vgpu [launches (1..100000)]\n");
        return 2;
    }
    CUdevice dev;
    CUcontext ctx;
    CU(cuInit(0));
    CU(cuDeviceGet(&dev, 0));
    CU(cuDevicePrimaryCtxRetain(&ctx, dev));
    CU(cuCtxSetCurrent(ctx));
    char name[128];
    size_t total = 0, free_b = 0;
    CU(cuDeviceGetName(name, sizeof(name), dev));
    CU(cuDeviceTotalMem(&total, dev));
    CU(cuMemGetInfo(&free_b, &total));
    printf("  device 0: %s, %.0f MiB total, %.0f MiB free\n", name, total / (double)MIB,
           free_b / (double)MIB);

    CUdeviceptr blocks[MAX_BLOCKS];
    int n = 0, failures = 0;
    CUresult rc = CUDA_SUCCESS;
    while (n < MAX_BLOCKS) {
        size_t before = 0;
        CU(cuMemGetInfo(&before, &total));
        rc = cuMemAlloc(&blocks[n], BLOCK);
        if (rc != CUDA_SUCCESS) {
            if (rc != CUDA_ERROR_OUT_OF_MEMORY) {
                fprintf(stderr, "vgpu: cuMemAlloc failed with %d\n", (int)rc);
                return 1;
            }
            if (before >= BLOCK) {
                printf("  MISMATCH: refused with %.0f MiB reported free\n", before / (double)MIB);
                failures++;
            }
            break;
        }
        n++;
    }
    CU(cuMemGetInfo(&free_b, &total));
    if (rc == CUDA_ERROR_OUT_OF_MEMORY)
        printf("  allocated %d x 64 MiB, then CUDA_ERROR_OUT_OF_MEMORY (%.0f MiB left free)\n", n,
               free_b / (double)MIB);
    else
        printf("  allocated %d x 64 MiB (stopped there; %.0f MiB still free)\n", n,
               free_b / (double)MIB);
    for (int i = 0; i < n; i++)
        CU(cuMemFree(blocks[i]));

    CUmodule mod;
    CUfunction spin;
    CUdeviceptr out;
    unsigned int iters = 20000;
    void *args[] = {&out, &iters};
    CU(cuModuleLoadData(&mod, spin_ptx));
    CU(cuModuleGetFunction(&spin, mod, "spin"));
    CU(cuMemAlloc(&out, 4));
    /* One launch first, so that module set-up is not in the timing. */
    CU(cuLaunchKernel(spin, 1, 1, 1, 1, 1, 1, 0, NULL, args, NULL));
    CU(cuCtxSynchronize());
    double t0 = now_ms();
    for (int i = 0; i < launches; i++) {
        CU(cuLaunchKernel(spin, 1, 1, 1, 1, 1, 1, 0, NULL, args, NULL));
        CU(cuCtxSynchronize());
    }
    double ms = now_ms() - t0;
    unsigned int sum = 0;
    CU(cuMemcpyDtoH(&sum, out, sizeof(sum)));
    unsigned int want = (unsigned int)((unsigned long long)iters * (iters - 1) / 2);
    printf("  %d kernel launches in %.0f ms (%.2f ms each), result %s\n", launches, ms,
           ms / launches, sum == want ? "correct" : "WRONG");
    failures += sum != want;
    CU(cuMemFree(out));
    CU(cuModuleUnload(mod));
    CU(cuDevicePrimaryCtxRelease(dev));
    return failures ? 1 : 0;
}
