/*
 * vram_overhead.c: context and module overhead for the VRAM limiter (see vram.h and
 * docs/internals/hook.md).
 */
#include "vram.h"

#include "gpool/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/*
 * Context and module overhead. The driver takes device memory of its own for every context it
 * creates and every module it loads; the vGPU charges a fixed figure for each, reserved before
 * the driver is called (past the cap the call answers CUDA_ERROR_OUT_OF_MEMORY and the driver
 * never sees it) and committed under the handle's tagged key once the driver succeeded. The
 * figures are those of the simulated H100 (src/sim/model.c), which a real H100 driver is close
 * to; they are not measured per call, so other processes on the device cannot skew them.
 * GPOOL_VRAM_OVERHEAD=0 turns this off (the plain allocation paths stay charged).
 */
#define HOOK_VRAM_CTX_OVERHEAD    (512ull << 20)
#define HOOK_VRAM_MODULE_OVERHEAD (2ull << 20)

static int overhead_charged(void)
{
    return hook_vram_cfg.enabled && !hook_vram_cfg.no_overhead;
}

/* Reserves `bytes` of overhead on dev into *t. CUDA_SUCCESS, or what the application gets. */
static CUresult overhead_reserve(int dev, uint64_t bytes, const char *what, struct ledger_ticket *t)
{
    struct ledger *l;
    CUresult res = hook_vram_ledger(&l);
    if (res != CUDA_SUCCESS)
        return res;
    if (dev < 0 || dev >= ledger_device_count(l))
        return CUDA_ERROR_INVALID_DEVICE;
    int rc = ledger_reserve(l, dev, bytes, t);
    if (rc < 0) {
        LOG_DEBUG("hook", "%s: %llu bytes of overhead on device %d refused by vGPU '%s': %s", what,
                  (unsigned long long)bytes, dev, hook_vram_cfg.name, strerror(-rc));
        return hook_vram_errno_result(rc);
    }
    return CUDA_SUCCESS;
}

/* Commits reservation t as `key` when the driver answered rc == CUDA_SUCCESS, else drops it.
 * A key already recorded (a concurrent retain of the same primary context) keeps one charge. */
static void overhead_settle(struct ledger_ticket *t, CUresult rc, uint64_t key, const char *what)
{
    struct ledger *l = hook_vram_ledger_opened();
    if (rc != CUDA_SUCCESS) {
        ledger_rollback(l, t);
        return;
    }
    int r = ledger_commit(l, t, key);
    if (r < 0) {
        if (r != -EEXIST)
            LOG_ERROR("hook", "%s: cannot record overhead 0x%llx in vGPU '%s': %s", what,
                      (unsigned long long)key, hook_vram_cfg.name, strerror(-r));
        ledger_rollback(l, t);
    }
}

/* Credits the overhead recorded as `key` on dev (any device when dev < 0). */
static void overhead_credit(int dev, uint64_t key)
{
    struct ledger *l;
    if (hook_vram_ledger(&l) != CUDA_SUCCESS)
        return;
    if (dev >= 0) {
        ledger_release(l, dev, key, NULL);
        return;
    }
    for (int d = 0; d < ledger_device_count(l); d++)
        if (ledger_release(l, d, key, NULL) == 0)
            return;
}

/* cuCtxCreate (every version): a context's overhead on dev, key = the context. */
#define HOOK_VRAM_CTX_CREATE(name, call_args)                                                      \
    do {                                                                                           \
        if (!overhead_charged())                                                                   \
            return real call_args;                                                                 \
        struct ledger_ticket t;                                                                    \
        CUresult rc = overhead_reserve((int)dev, HOOK_VRAM_CTX_OVERHEAD, #name, &t);               \
        if (rc != CUDA_SUCCESS)                                                                    \
            return rc;                                                                             \
        rc = real call_args;                                                                       \
        overhead_settle(&t, rc,                                                                    \
                        rc == CUDA_SUCCESS ? (uint64_t)(uintptr_t)*pctx ^ HOOK_VRAM_KEY_CTX : 0,   \
                        #name);                                                                    \
        return rc;                                                                                 \
    } while (0)

CUresult cuCtxCreate(CUcontext *pctx, unsigned int flags, CUdevice dev)
{
    HOOK_REAL_OR_MISSING(cuCtxCreate);
    HOOK_VRAM_CTX_CREATE(cuCtxCreate, (pctx, flags, dev));
}

CUresult cuCtxCreate_v2(CUcontext *pctx, unsigned int flags, CUdevice dev)
{
    HOOK_REAL_OR_MISSING(cuCtxCreate_v2);
    HOOK_VRAM_CTX_CREATE(cuCtxCreate_v2, (pctx, flags, dev));
}

CUresult cuCtxCreate_v3(CUcontext *pctx, CUexecAffinityParam *paramsArray, int numParams,
                        unsigned int flags, CUdevice dev)
{
    HOOK_REAL_OR_MISSING(cuCtxCreate_v3);
    HOOK_VRAM_CTX_CREATE(cuCtxCreate_v3, (pctx, paramsArray, numParams, flags, dev));
}

CUresult cuCtxCreate_v4(CUcontext *pctx, CUctxCreateParams *ctxCreateParams, unsigned int flags,
                        CUdevice dev)
{
    HOOK_REAL_OR_MISSING(cuCtxCreate_v4);
    HOOK_VRAM_CTX_CREATE(cuCtxCreate_v4, (pctx, ctxCreateParams, flags, dev));
}

CUresult cuCtxDestroy(CUcontext ctx)
{
    HOOK_REAL_OR_MISSING(cuCtxDestroy);
    CUresult rc = real(ctx);
    if (rc == CUDA_SUCCESS && overhead_charged())
        overhead_credit(-1, (uint64_t)(uintptr_t)ctx ^ HOOK_VRAM_KEY_CTX);
    return rc;
}

CUresult cuCtxDestroy_v2(CUcontext ctx)
{
    HOOK_REAL_OR_MISSING(cuCtxDestroy_v2);
    CUresult rc = real(ctx);
    if (rc == CUDA_SUCCESS && overhead_charged())
        overhead_credit(-1, (uint64_t)(uintptr_t)ctx ^ HOOK_VRAM_KEY_CTX);
    return rc;
}

/* Whether dev's primary context is active now (1), not (0), or unknown (-1). */
static int primary_active(CUdevice dev)
{
    hook_pfn_cuDevicePrimaryCtxGetState fn =
        (hook_pfn_cuDevicePrimaryCtxGetState)hook_real_fn(GPOOL_API_ID_cuDevicePrimaryCtxGetState);
    unsigned int flags = 0;
    int active = 0;
    if (!fn || fn(dev, &flags, &active) != CUDA_SUCCESS)
        return -1;
    return active != 0;
}

/* The first retain of a device's primary context creates it: charged then, key = the device. */
CUresult cuDevicePrimaryCtxRetain(CUcontext *pctx, CUdevice dev)
{
    HOOK_REAL_OR_MISSING(cuDevicePrimaryCtxRetain);
    if (!overhead_charged() || primary_active(dev) == 1)
        return real(pctx, dev);
    struct ledger_ticket t;
    CUresult rc =
        overhead_reserve((int)dev, HOOK_VRAM_CTX_OVERHEAD, "cuDevicePrimaryCtxRetain", &t);
    if (rc != CUDA_SUCCESS)
        return rc;
    rc = real(pctx, dev);
    overhead_settle(&t, rc, (uint64_t)(unsigned)dev ^ HOOK_VRAM_KEY_PRIMARY,
                    "cuDevicePrimaryCtxRetain");
    return rc;
}

/* After a release or reset that left dev's primary context inactive, its overhead is credited. */
static CUresult primary_after(CUdevice dev, CUresult rc)
{
    if (rc == CUDA_SUCCESS && overhead_charged() && primary_active(dev) == 0)
        overhead_credit((int)dev, (uint64_t)(unsigned)dev ^ HOOK_VRAM_KEY_PRIMARY);
    return rc;
}

CUresult cuDevicePrimaryCtxRelease(CUdevice dev)
{
    HOOK_REAL_OR_MISSING(cuDevicePrimaryCtxRelease);
    return primary_after(dev, real(dev));
}

CUresult cuDevicePrimaryCtxRelease_v2(CUdevice dev)
{
    HOOK_REAL_OR_MISSING(cuDevicePrimaryCtxRelease_v2);
    return primary_after(dev, real(dev));
}

CUresult cuDevicePrimaryCtxReset(CUdevice dev)
{
    HOOK_REAL_OR_MISSING(cuDevicePrimaryCtxReset);
    return primary_after(dev, real(dev));
}

CUresult cuDevicePrimaryCtxReset_v2(CUdevice dev)
{
    HOOK_REAL_OR_MISSING(cuDevicePrimaryCtxReset_v2);
    return primary_after(dev, real(dev));
}

/* cuModuleLoad*: a module's overhead on the current context's device, key = the module. Without
 * a current context the driver refuses the load itself. */
#define HOOK_VRAM_MODULE_LOAD(name, call_args)                                                     \
    do {                                                                                           \
        int dev = 0;                                                                               \
        if (!overhead_charged() || hook_vram_current_device(&dev) != CUDA_SUCCESS)                 \
            return real call_args;                                                                 \
        struct ledger_ticket t;                                                                    \
        CUresult rc = overhead_reserve(dev, HOOK_VRAM_MODULE_OVERHEAD, #name, &t);                 \
        if (rc != CUDA_SUCCESS)                                                                    \
            return rc;                                                                             \
        rc = real call_args;                                                                       \
        overhead_settle(                                                                           \
            &t, rc, rc == CUDA_SUCCESS ? (uint64_t)(uintptr_t)*module ^ HOOK_VRAM_KEY_MODULE : 0,  \
            #name);                                                                                \
        return rc;                                                                                 \
    } while (0)

CUresult cuModuleLoad(CUmodule *module, const char *fname)
{
    HOOK_REAL_OR_MISSING(cuModuleLoad);
    HOOK_VRAM_MODULE_LOAD(cuModuleLoad, (module, fname));
}

CUresult cuModuleLoadData(CUmodule *module, const void *image)
{
    HOOK_REAL_OR_MISSING(cuModuleLoadData);
    HOOK_VRAM_MODULE_LOAD(cuModuleLoadData, (module, image));
}

CUresult cuModuleLoadDataEx(CUmodule *module, const void *image, unsigned int numOptions,
                            CUjit_option *options, void **optionValues)
{
    HOOK_REAL_OR_MISSING(cuModuleLoadDataEx);
    HOOK_VRAM_MODULE_LOAD(cuModuleLoadDataEx, (module, image, numOptions, options, optionValues));
}

CUresult cuModuleLoadFatBinary(CUmodule *module, const void *fatCubin)
{
    HOOK_REAL_OR_MISSING(cuModuleLoadFatBinary);
    HOOK_VRAM_MODULE_LOAD(cuModuleLoadFatBinary, (module, fatCubin));
}

CUresult cuModuleUnload(CUmodule hmod)
{
    HOOK_REAL_OR_MISSING(cuModuleUnload);
    CUresult rc = real(hmod);
    if (rc == CUDA_SUCCESS && overhead_charged())
        overhead_credit(-1, (uint64_t)(uintptr_t)hmod ^ HOOK_VRAM_KEY_MODULE);
    return rc;
}
