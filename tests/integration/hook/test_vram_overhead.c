/*
 * Context and module overhead under the local vGPU's VRAM cap (src/hook/vram.c), through the
 * hook over the simulated H100 (512 MiB a context, 2 MiB a module), under a 1 GiB cap. Run as
 * `test_hook_vram_overhead`; GPOOL_VGPU, GPOOL_VRAM_LIMIT and GPOOL_VGPU_DIR come from the
 * environment. The simulator is also opened directly to read what the device really has free:
 * each charge must equal what the driver charged, and a refused creation must not reach it.
 */
#include <cuda.h>

#include "check.h"
#include "gpool/ledger.h"

#include <dlfcn.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#define MIB (1024ull * 1024ull)
#define CAP (1024 * MIB)
#define CTX_OVERHEAD (512 * MIB)
#define MODULE_OVERHEAD (2 * MIB)

/* A kernel without variables: loading it costs the module's overhead alone. */
static const char empty_ptx[] = ".version 7.0\n"
                                ".target sm_80\n"
                                ".address_size 64\n"
                                ".visible .entry nothing()\n"
                                "{\n"
                                "  ret;\n"
                                "}\n";

/* cuda.h maps cuCtxCreate to _v4 and declares the older export only for its own use. */
CUresult cuCtxCreate_v2(CUcontext *pctx, unsigned int flags, CUdevice dev);

static CUresult (*sim_mem_get_info)(size_t *, size_t *);

/* Bytes the device (not the vGPU) has free, as the simulator itself reports it. */
static uint64_t device_free(void)
{
    size_t f = 0, t = 0;
    CHECK_OK(sim_mem_get_info(&f, &t));
    return f;
}

static uint64_t vgpu_used(struct ledger *l)
{
    uint64_t used = 0, cap = 0;
    CHECK_OK(ledger_usage(l, 0, &used, &cap));
    CHECK(cap == CAP, "ledger cap %llu", (unsigned long long)cap);
    return used;
}

#define CHECK_USED(l, want)                                                                        \
    CHECK(vgpu_used(l) == (want), "vGPU uses %llu, expected %llu",                                 \
          (unsigned long long)vgpu_used(l), (unsigned long long)(want))

static void test_overhead(void)
{
    CUdevice dev;
    CUcontext primary;
    REQUIRE_OK(cuInit(0));
    REQUIRE_OK(cuDeviceGet(&dev, 0));
    struct ledger *l = NULL;
    char err[256] = "";
    int rc = ledger_open(NULL, getenv("GPOOL_VGPU"), NULL, &l, err, sizeof(err));
    REQUIRE(rc == 0, "ledger_open: %d %s", rc, err);
    CHECK_USED(l, 0);

    /* The first retain of the primary context is charged; a second one is not. */
    REQUIRE_OK(cuDevicePrimaryCtxRetain(&primary, dev));
    CHECK_USED(l, CTX_OVERHEAD);
    CUcontext again;
    CHECK_OK(cuDevicePrimaryCtxRetain(&again, dev));
    CHECK_USED(l, CTX_OVERHEAD);
    CHECK_OK(cuDevicePrimaryCtxRelease(dev));
    CHECK_USED(l, CTX_OVERHEAD);
    REQUIRE_OK(cuCtxSetCurrent(primary));
    void *sim = dlopen(getenv("GPOOL_REAL_DRIVER"), RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
    REQUIRE(sim, "the simulator is loaded: %s", dlerror());
    sim_mem_get_info = (CUresult(*)(size_t *, size_t *))dlsym(sim, "cuMemGetInfo_v2");
    REQUIRE(sim_mem_get_info, "simulator cuMemGetInfo_v2");
    uint64_t f0 = device_free();

    /* A module load is charged what the driver took, and its unload credits it. */
    CUmodule mod, mod2;
    CHECK_OK(cuModuleLoadData(&mod, empty_ptx));
    CHECK_USED(l, CTX_OVERHEAD + MODULE_OVERHEAD);
    CHECK(f0 - device_free() == MODULE_OVERHEAD, "the driver charged %llu for the module",
          (unsigned long long)(f0 - device_free()));
    CHECK_OK(cuModuleLoadDataEx(&mod2, empty_ptx, 0, NULL, NULL));
    CHECK_USED(l, CTX_OVERHEAD + 2 * MODULE_OVERHEAD);
    CHECK(f0 - device_free() == 2 * MODULE_OVERHEAD, "the driver charged %llu for two modules",
          (unsigned long long)(f0 - device_free()));
    CHECK_OK(cuModuleUnload(mod));
    CHECK_OK(cuModuleUnload(mod2));
    CHECK_USED(l, CTX_OVERHEAD);
    CHECK(device_free() == f0, "device free %llu after the unloads, was %llu",
          (unsigned long long)device_free(), (unsigned long long)f0);

    /* With less than a context's overhead left, a context creation is refused before the
     * driver, and so is a module load that would pass the cap. */
    CUdeviceptr fill;
    CHECK_OK(cuMemAlloc(&fill, CAP - CTX_OVERHEAD - 256 * MIB));
    CHECK_USED(l, CAP - 256 * MIB);
    uint64_t f1 = device_free();
    CUcontext ctx;
    CHECK_RC(cuCtxCreate(&ctx, NULL, 0, dev), CUDA_ERROR_OUT_OF_MEMORY);
    CHECK_RC(cuCtxCreate_v2(&ctx, 0, dev), CUDA_ERROR_OUT_OF_MEMORY);
    CHECK(device_free() == f1, "a refused cuCtxCreate reached the driver");
    CHECK_USED(l, CAP - 256 * MIB);
    CUdeviceptr rest;
    CHECK_OK(cuMemAlloc(&rest, 256 * MIB));
    CHECK_USED(l, CAP);
    CHECK_RC(cuModuleLoadData(&mod, empty_ptx), CUDA_ERROR_OUT_OF_MEMORY);
    CHECK_OK(cuMemFree(rest));
    CHECK_OK(cuMemFree(fill));
    CHECK_USED(l, CTX_OVERHEAD);

    /* Room again: the context is created, charged what the device lost, credited on destroy. */
    CHECK_OK(cuCtxCreate(&ctx, NULL, 0, dev));
    CHECK_USED(l, 2 * CTX_OVERHEAD);
    CHECK(f0 - device_free() == CTX_OVERHEAD, "the driver charged %llu for the context",
          (unsigned long long)(f0 - device_free()));
    CHECK_OK(cuCtxDestroy(ctx));
    CHECK_USED(l, CTX_OVERHEAD);
    CHECK_OK(cuCtxSetCurrent(primary));
    CHECK(device_free() == f0, "device free %llu after the destroy, was %llu",
          (unsigned long long)device_free(), (unsigned long long)f0);

    /* The last release of the primary context credits it. */
    CHECK_OK(cuCtxSetCurrent(NULL));
    CHECK_OK(cuDevicePrimaryCtxRelease(dev));
    CHECK_USED(l, 0);
    rc = ledger_check(l, err, sizeof(err));
    CHECK(rc == 0, "ledger_check: %d %s", rc, err);
    ledger_close(l);
}

int main(void)
{
    char path[4096];
    REQUIRE_OK(ledger_dir(path, sizeof(path)));
    size_t n = strlen(path);
    snprintf(path + n, sizeof(path) - n, "/gpool-vgpu-%s", getenv("GPOOL_VGPU"));
    unlink(path);
    test_overhead();
    return check_done("overhead");
}
