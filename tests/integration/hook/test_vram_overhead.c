/*
 * Context, module and library overhead under the local vGPU's VRAM cap
 * (src/hook/vram_overhead.c), through the hook over the simulated GPU. GPOOL_VGPU,
 * GPOOL_VRAM_LIMIT, GPOOL_VGPU_DIR and GPOOL_SIM_GPUS come from the environment. The simulator
 * is also opened directly to read what the device really has free: each charge must equal what
 * the driver charged, and a refused creation must not reach it. Modes (argv[1]):
 *
 *   (none)       the simulated H100 (512 MiB a context, 2 MiB a module) under a 1 GiB cap
 *   models       an H100 and a T4 (256 MiB a context) under a 2 GiB cap: each device is charged
 *                its own model's figures, what it lost
 *   override     a T4 with GPOOL_VRAM_CTX_OVERHEAD=100Mi under a 1 GiB cap
 *   badoverride  GPOOL_VRAM_CTX_OVERHEAD=lots: cuInit succeeds, every context creation answers
 *                CUDA_ERROR_INVALID_VALUE without reaching the driver, the log names the value
 *   library      cuLibraryLoadData / FromFile / Unload on the H100 under a 1 GiB cap
 */
#include "hook_test.h"
#include "log_file.h"

#include <stdint.h>
#include <string.h>
#include <unistd.h>

#define MIB             (1024ull * 1024ull)
#define CAP             (1024 * MIB)
#define CTX_OVERHEAD    (512 * MIB)
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

static uint64_t g_cap = CAP; /* the cap each device of the mode's ledger has */

#define CHECK_USED_ON(l, dev, want)                                                                \
    CHECK(vgpu_used_on(l, dev, g_cap) == (want), "vGPU uses %llu on device %d, expected %llu",     \
          (unsigned long long)vgpu_used_on(l, dev, g_cap), dev, (unsigned long long)(want))
#define vgpu_used(l)        vgpu_used_on(l, 0, g_cap)
#define CHECK_USED(l, want) CHECK_USED_ON(l, 0, want)

static void test_overhead(void)
{
    CUdevice dev;
    CUcontext primary;
    REQUIRE_OK(cuInit(0));
    REQUIRE_OK(cuDeviceGet(&dev, 0));
    struct ledger *l = open_ledger();
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
    check_ledger(l);
    ledger_close(l);
}

/* Each device is charged its own model's figures, which are what it lost: device 0 an H100
 * (512 MiB a context), device 1 a T4 (256 MiB). Under a 2 GiB cap. */
static void test_models(void)
{
    static const struct {
        const char *model;
        uint64_t ctx;
    } want[] = {{"NVIDIA H100 80GB HBM3", 512 * MIB}, {"Tesla T4", 256 * MIB}};
    g_cap = 2048 * MIB;
    REQUIRE_OK(cuInit(0));
    /* The device's own size, past the hook (which would answer the cap). */
    CUresult (*sim_total_mem)(size_t *, CUdevice) =
        (CUresult(*)(size_t *, CUdevice))sim_entry("cuDeviceTotalMem_v2");
    struct ledger *l = open_ledger();
    REQUIRE(ledger_device_count(l) == 2, "the ledger covers %d devices", ledger_device_count(l));
    for (int d = 0; d < 2; d++) {
        CUdevice dev;
        char name[256] = "";
        REQUIRE_OK(cuDeviceGet(&dev, d));
        REQUIRE_OK(cuDeviceGetName(name, (int)sizeof(name), dev));
        REQUIRE(strcmp(name, want[d].model) == 0, "device %d is '%s'", d, name);
        size_t total = 0;
        REQUIRE_OK(sim_total_mem(&total, dev));
        uint64_t ctx_bytes = want[d].ctx;

        /* The primary context: charged the model's figure, all the device lost. */
        CUcontext primary, ctx;
        REQUIRE_OK(cuDevicePrimaryCtxRetain(&primary, dev));
        CHECK_USED_ON(l, d, ctx_bytes);
        REQUIRE_OK(cuCtxSetCurrent(primary));
        uint64_t f0 = device_free();
        CHECK(total - f0 == ctx_bytes, "device %d lost %llu for its primary context", d,
              (unsigned long long)(total - f0));

        /* A created context and a module in it. */
        CHECK_OK(cuCtxCreate_v2(&ctx, 0, dev));
        CHECK_USED_ON(l, d, 2 * ctx_bytes);
        CHECK(f0 - device_free() == ctx_bytes, "device %d lost %llu for a context", d,
              (unsigned long long)(f0 - device_free()));
        CUmodule mod;
        CHECK_OK(cuModuleLoadData(&mod, empty_ptx));
        CHECK_USED_ON(l, d, 2 * ctx_bytes + MODULE_OVERHEAD);
        CHECK(f0 - device_free() == ctx_bytes + MODULE_OVERHEAD,
              "device %d lost %llu for a context and a module", d,
              (unsigned long long)(f0 - device_free()));
        CHECK_USED_ON(l, 1 - d, 0); /* the other device is not charged */
        CHECK_OK(cuModuleUnload(mod));
        CHECK_OK(cuCtxDestroy(ctx));
        CHECK_USED_ON(l, d, ctx_bytes);
        CHECK_OK(cuCtxSetCurrent(primary));
        CHECK(device_free() == f0, "device %d free %llu after the destroy, was %llu", d,
              (unsigned long long)device_free(), (unsigned long long)f0);
        CHECK_OK(cuCtxSetCurrent(NULL));
        CHECK_OK(cuDevicePrimaryCtxRelease(dev));
        CHECK_USED_ON(l, d, 0);
    }
    check_ledger(l);
    ledger_close(l);
}

/* GPOOL_VRAM_CTX_OVERHEAD=100Mi on a T4 (whose own figure is 256 MiB): every context is
 * charged 100 MiB, modules keep their figure, and the cap counts the override. */
static void test_override(void)
{
    const uint64_t ctx_bytes = 100 * MIB;
    CUdevice dev;
    CUcontext primary, ctx;
    REQUIRE_OK(cuInit(0));
    REQUIRE_OK(cuDeviceGet(&dev, 0));
    struct ledger *l = open_ledger();
    REQUIRE_OK(cuDevicePrimaryCtxRetain(&primary, dev));
    CHECK_USED(l, ctx_bytes);
    REQUIRE_OK(cuCtxSetCurrent(primary));
    CHECK_OK(cuCtxCreate_v2(&ctx, 0, dev));
    CHECK_USED(l, 2 * ctx_bytes);
    CUmodule mod;
    CHECK_OK(cuModuleLoadData(&mod, empty_ptx));
    CHECK_USED(l, 2 * ctx_bytes + MODULE_OVERHEAD);
    CHECK_OK(cuModuleUnload(mod));
    CHECK_OK(cuCtxDestroy(ctx));
    CHECK_USED(l, ctx_bytes);

    /* 50 MiB left: a context (100 MiB) is refused before the driver. */
    CHECK_OK(cuCtxSetCurrent(primary));
    CUdeviceptr fill;
    CHECK_OK(cuMemAlloc(&fill, CAP - ctx_bytes - 50 * MIB));
    uint64_t f1 = device_free();
    CHECK_RC(cuCtxCreate_v2(&ctx, 0, dev), CUDA_ERROR_OUT_OF_MEMORY);
    CHECK(device_free() == f1, "a refused cuCtxCreate reached the driver");
    CHECK_USED(l, CAP - 50 * MIB);
    CHECK_OK(cuMemFree(fill));
    CHECK_OK(cuCtxSetCurrent(NULL));
    CHECK_OK(cuDevicePrimaryCtxRelease(dev));
    CHECK_USED(l, 0);
    check_ledger(l);
    ledger_close(l);
}

/* GPOOL_VRAM_CTX_OVERHEAD=lots: cuInit succeeds (the value is read at the first context), then
 * every context creation answers CUDA_ERROR_INVALID_VALUE without reaching the driver, and the
 * log (GPOOL_LOG=error:<file>) names the variable and its value. */
static void test_badoverride(void)
{
    const char *log_path = log_file_reset();

    CUdevice dev;
    CUcontext ctx = NULL;
    REQUIRE_OK(cuInit(0));
    REQUIRE_OK(cuDeviceGet(&dev, 0));
    struct ledger *l = open_ledger();
    CHECK_RC(cuDevicePrimaryCtxRetain(&ctx, dev), CUDA_ERROR_INVALID_VALUE);
    unsigned int flags = 0;
    int active = -1;
    CHECK_OK(cuDevicePrimaryCtxGetState(dev, &flags, &active));
    CHECK(active == 0, "the refused retain made the primary context");
    CHECK_RC(cuCtxCreate_v2(&ctx, 0, dev), CUDA_ERROR_INVALID_VALUE);
    CUcontext cur = NULL;
    CHECK_OK(cuCtxGetCurrent(&cur));
    CHECK(cur == NULL, "the refused cuCtxCreate made a context");
    CHECK_USED(l, 0);
    check_ledger(l);
    ledger_close(l);

    char buf[4096];
    log_file_read(log_path, buf, sizeof(buf));
    CHECK(strstr(buf, "GPOOL_VRAM_CTX_OVERHEAD") && strstr(buf, "'lots'"),
          "the log does not name the variable and its value: %s", buf);
}

/* Writes the PTX to a file for cuLibraryLoadFromFile; path receives its name. */
static void write_ptx_file(char *path, size_t len)
{
    REQUIRE_OK(ledger_dir(path, len));
    size_t n = strlen(path);
    snprintf(path + n, len - n, "/%s.ptx", getenv("GPOOL_VGPU"));
    FILE *f = fopen(path, "w");
    REQUIRE(f != NULL, "cannot write %s", path);
    fputs(empty_ptx, f);
    REQUIRE(fclose(f) == 0, "cannot write %s", path);
}

/* Libraries: charged a module's overhead at load in the current context (what the device lost),
 * credited at unload, refused at a full vGPU without reaching the driver; loaded with no
 * current context, nothing is charged. Under a 1 GiB cap on the H100. */
static void test_library(void)
{
    CUdevice dev;
    CUcontext primary;
    REQUIRE_OK(cuInit(0));
    REQUIRE_OK(cuDeviceGet(&dev, 0));
    struct ledger *l = open_ledger();
    char path[4096];
    write_ptx_file(path, sizeof(path));
    REQUIRE_OK(cuDevicePrimaryCtxRetain(&primary, dev));
    REQUIRE_OK(cuCtxSetCurrent(primary));
    CHECK_USED(l, CTX_OVERHEAD);
    uint64_t f0 = device_free();

    CUlibrary lib, lib2;
    CHECK_OK(cuLibraryLoadData(&lib, empty_ptx, NULL, NULL, 0, NULL, NULL, 0));
    CHECK_USED(l, CTX_OVERHEAD + MODULE_OVERHEAD);
    CHECK(f0 - device_free() == MODULE_OVERHEAD, "the driver charged %llu for the library",
          (unsigned long long)(f0 - device_free()));
    CHECK_OK(cuLibraryLoadFromFile(&lib2, path, NULL, NULL, 0, NULL, NULL, 0));
    CHECK_USED(l, CTX_OVERHEAD + 2 * MODULE_OVERHEAD);
    CHECK(f0 - device_free() == 2 * MODULE_OVERHEAD, "the driver charged %llu for two libraries",
          (unsigned long long)(f0 - device_free()));

    /* Using a kernel in the context it was loaded in costs nothing more. */
    CUkernel k;
    CUfunction fn;
    CHECK_OK(cuLibraryGetKernel(&k, lib, "nothing"));
    CHECK_OK(cuKernelGetFunction(&fn, k));
    CHECK_USED(l, CTX_OVERHEAD + 2 * MODULE_OVERHEAD);
    CHECK(f0 - device_free() == 2 * MODULE_OVERHEAD, "the driver charged %llu after a use",
          (unsigned long long)(f0 - device_free()));

    CHECK_OK(cuLibraryUnload(lib));
    CHECK_USED(l, CTX_OVERHEAD + MODULE_OVERHEAD);
    CHECK_OK(cuLibraryUnload(lib2));
    CHECK_USED(l, CTX_OVERHEAD);
    CHECK(device_free() == f0, "device free %llu after the unloads, was %llu",
          (unsigned long long)device_free(), (unsigned long long)f0);

    /* At a full vGPU both loads are refused before the driver. */
    CUdeviceptr fill;
    CHECK_OK(cuMemAlloc(&fill, CAP - CTX_OVERHEAD));
    CHECK_USED(l, CAP);
    uint64_t f1 = device_free();
    CHECK_RC(cuLibraryLoadData(&lib, empty_ptx, NULL, NULL, 0, NULL, NULL, 0),
             CUDA_ERROR_OUT_OF_MEMORY);
    CHECK_RC(cuLibraryLoadFromFile(&lib2, path, NULL, NULL, 0, NULL, NULL, 0),
             CUDA_ERROR_OUT_OF_MEMORY);
    CHECK(device_free() == f1, "a refused library load reached the driver");
    CHECK_USED(l, CAP);
    CHECK_OK(cuMemFree(fill));
    CHECK_USED(l, CTX_OVERHEAD);

    /* With no current context the driver loads nothing at cuLibraryLoadData, and nothing is
     * charged; the lazy load at the first use in a context is not charged either (documented),
     * and the unload leaves the ledger and the device as they were. */
    CHECK_OK(cuCtxSetCurrent(NULL));
    CHECK_OK(cuLibraryLoadData(&lib, empty_ptx, NULL, NULL, 0, NULL, NULL, 0));
    CHECK_USED(l, CTX_OVERHEAD);
    CHECK_OK(cuCtxSetCurrent(primary));
    CHECK(device_free() == f0, "a library loaded in no context took %llu",
          (unsigned long long)(f0 - device_free()));
    CHECK_OK(cuLibraryGetKernel(&k, lib, "nothing"));
    CHECK_OK(cuKernelGetFunction(&fn, k));
    CHECK_USED(l, CTX_OVERHEAD);
    CHECK_OK(cuLibraryUnload(lib));
    CHECK_USED(l, CTX_OVERHEAD);
    CHECK(device_free() == f0, "device free %llu after the unload, was %llu",
          (unsigned long long)device_free(), (unsigned long long)f0);

    CHECK_OK(cuCtxSetCurrent(NULL));
    CHECK_OK(cuDevicePrimaryCtxRelease(dev));
    CHECK_USED(l, 0);
    unlink(path);
    check_ledger(l);
    ledger_close(l);
}

int main(int argc, char **argv)
{
    remove_ledger();
    const char *mode = argc > 1 ? argv[1] : "h100";
    if (strcmp(mode, "h100") == 0)
        test_overhead();
    else if (strcmp(mode, "models") == 0)
        test_models();
    else if (strcmp(mode, "override") == 0)
        test_override();
    else if (strcmp(mode, "badoverride") == 0)
        test_badoverride();
    else if (strcmp(mode, "library") == 0)
        test_library();
    else
        REQUIRE(0, "unknown mode '%s'", mode);
    return check_done(argc > 1 ? mode : "overhead");
}
