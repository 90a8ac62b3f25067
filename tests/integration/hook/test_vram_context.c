/*
 * Memory freed implicitly with its context: cuCtxDestroy frees everything made in the context
 * (allocations, pitched and managed memory, arrays, modules), and a primary context deactivated
 * by cuDevicePrimaryCtxReset does the same. The vGPU must credit all of it at that moment, and
 * nothing of the other contexts. Over the simulated GPU with a 2 GiB cap and context/module
 * overhead charged (GPOOL_VRAM_OVERHEAD=1), so the ledger and the device move together; after
 * every step the vGPU's usage changed by exactly what the device's free memory changed.
 */
#include "hook_test.h"

#include <stdint.h>

#define MIB (1024ll * 1024ll)

static struct ledger *l;
static int64_t base_used, base_free; /* the ledger and the device at the start */

/* What the vGPU charges on device 0, signed: the steps below are measured from the start, and a
 * step may give back more than was charged since then. The cap is not this test's subject. */
static int64_t vgpu_used(void)
{
    uint64_t used = 0, cap = 0;
    CHECK_OK(ledger_usage(l, 0, &used, &cap));
    return (int64_t)used;
}

/* The vGPU's usage moved by what the device's free memory moved, and the ledger is sound. */
#define CHECK_AGREES(step)                                                                         \
    do {                                                                                           \
        int64_t charged_ = vgpu_used() - base_used;                                                \
        int64_t lost_ = base_free - (int64_t)device_free();                                        \
        CHECK(charged_ == lost_,                                                                   \
              "%s: the vGPU charged %lld bytes since the start, the device "                       \
              "lost %lld",                                                                         \
              step, (long long)charged_, (long long)lost_);                                        \
        char err_[256] = "";                                                                       \
        int rc_ = ledger_check(l, err_, sizeof(err_));                                             \
        CHECK(rc_ == 0, "%s: ledger_check: %d %s", step, rc_, err_);                               \
    } while (0)

/* Allocates through every context-owned path in the current context. */
static void allocate_all(CUdeviceptr *plain)
{
    CUdeviceptr pitched, managed;
    size_t pitch = 0;
    CHECK_OK(cuMemAlloc(plain, 8 * MIB));
    CHECK_OK(cuMemAllocPitch(&pitched, &pitch, 1000, 1000, 4));
    CHECK_OK(cuMemAllocManaged(&managed, 4 * MIB, CU_MEM_ATTACH_GLOBAL));
    CUDA_ARRAY_DESCRIPTOR ad = {
        .Width = 256, .Height = 256, .Format = CU_AD_FORMAT_FLOAT, .NumChannels = 4};
    CUarray arr;
    CHECK_OK(cuArrayCreate(&arr, &ad));
}

int main(int argc, char **argv)
{
    (void)argc;
    remove_ledger();

    const char *ptx = ".version 7.0\n.target sm_80\n.address_size 64\n"
                      ".visible .entry nop()\n{\n ret;\n}\n";
    CUdevice dev;
    CUcontext primary, a, b;
    REQUIRE_OK(cuInit(0));
    REQUIRE_OK(cuDeviceGet(&dev, 0));
    REQUIRE_OK(cuDevicePrimaryCtxRetain(&primary, dev));
    REQUIRE_OK(cuCtxSetCurrent(primary));
    l = open_ledger();
    base_used = vgpu_used();
    base_free = (int64_t)device_free();
    CHECK(base_used > 0, "the primary context's overhead is charged (%lld)", (long long)base_used);

    /* Context A: every path, plus a module. Context B: one allocation that must survive. */
    CUdeviceptr in_a, in_b, in_primary;
    CUmodule mod;
    REQUIRE_OK(cuCtxCreate(&a, NULL, 0, dev));
    allocate_all(&in_a);
    REQUIRE_OK(cuModuleLoadData(&mod, ptx));
    CHECK_AGREES("context A filled");
    REQUIRE_OK(cuCtxCreate(&b, NULL, 0, dev));
    CHECK_OK(cuMemAlloc(&in_b, 16 * MIB));
    CHECK_AGREES("context B filled");
    int64_t before = vgpu_used();

    CHECK_OK(cuCtxDestroy(a));
    CHECK_AGREES("context A destroyed");
    CHECK(before - vgpu_used() > 512 * MIB + 8 * MIB,
          "destroying A credited its overhead and its memory (%lld bytes)",
          (long long)(before - vgpu_used()));
    /* A's memory is gone: freeing it again is the driver's error and changes nothing. */
    CHECK(cuMemFree(in_a) != CUDA_SUCCESS, "cuMemFree of a pointer of a destroyed context fails");
    CHECK_AGREES("stale free");

    /* B's allocation is untouched and still freed (and credited) normally. */
    REQUIRE_OK(cuCtxSetCurrent(b));
    CHECK_OK(cuMemFree(in_b));
    CHECK_AGREES("B's allocation freed");

    /* The primary context: a reset frees everything made in it (and, as it is still retained,
     * re-creates it at once); the release that leaves it inactive destroys it. */
    REQUIRE_OK(cuCtxSetCurrent(primary));
    allocate_all(&in_primary);
    CHECK_AGREES("primary filled");
    REQUIRE_OK(cuCtxSetCurrent(b));
    CHECK_OK(cuDevicePrimaryCtxReset(dev));
    CHECK_AGREES("primary reset");
    REQUIRE_OK(cuCtxSetCurrent(primary));
    allocate_all(&in_primary);
    CHECK_AGREES("primary filled again");
    REQUIRE_OK(cuCtxSetCurrent(b));
    CHECK_OK(cuDevicePrimaryCtxRelease(dev));
    CHECK_AGREES("primary released");

    CHECK_OK(cuCtxDestroy(b));
    CHECK(vgpu_used() == 0, "nothing charged with no context left: %lld", (long long)vgpu_used());
    ledger_close(l);
    return check_done(argv[0]);
}
