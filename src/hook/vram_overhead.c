/*
 * vram_overhead.c: context, module and library overhead for the VRAM limiter (see vram.h and
 * docs/internals/hook.md).
 */
#include "vram.h"

#include "gpool/limiter.h"
#include "gpool/log.h"

#include <errno.h>
#include <stdatomic.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Context and module overhead. The driver takes device memory of its own for every context it
 * creates and every module (or library) it loads; the vGPU charges a fixed figure for each,
 * reserved before the driver is called (past the cap the call answers CUDA_ERROR_OUT_OF_MEMORY
 * and the driver never sees it) and committed under the handle's tagged key once the driver
 * succeeded. The figures depend on the device model: models.c holds them by the name
 * the driver reports (cuDeviceGetName of the device the context is made on, or of the current
 * context's device for a load), looked up once per device. They are the figures of
 * src/sim/model.c, which approximate what a real driver takes; they are not measured per call,
 * so other processes on the device cannot skew them. A model the table does not know is charged
 * the table's largest figures (conservative), logged once at LOG_INFO.
 *
 *   GPOOL_VRAM_OVERHEAD=0          turns all of this off (the plain allocation paths stay
 *                                  charged); read by vram.c
 *   GPOOL_VRAM_CTX_OVERHEAD=<qty>  the context figure for every device, whatever its model (a
 *                                  Kubernetes quantity; 0 charges contexts nothing). Read here
 *                                  at the first overhead-charging call, not at cuInit: a bad
 *                                  value makes every overhead-charging call answer
 *                                  CUDA_ERROR_INVALID_VALUE (LOG_ERROR naming the value) without
 *                                  reaching the driver. Not read when GPOOL_VRAM_OVERHEAD=0.
 */
enum overhead_kind { OVERHEAD_CTX, OVERHEAD_MODULE };

/* Each device's figures, looked up on its first charge (under overhead_lock). */
static struct overhead_device {
    int looked_up;
    int known; /* the model is in models.c's table */
    uint64_t ctx_bytes, module_bytes;
    char model[256];
} overhead_devices[LEDGER_MAX_DEVICES];
static pthread_mutex_t overhead_lock = PTHREAD_MUTEX_INITIALIZER;

/* GPOOL_VRAM_CTX_OVERHEAD, read once on the first overhead-charging call. */
static pthread_once_t ctx_override_once = PTHREAD_ONCE_INIT;
static int ctx_override; /* 0 unset, 1 set, -1 invalid */
static uint64_t ctx_override_bytes;
static char ctx_override_value[128]; /* the value as set (cut to fit), for error messages */
static char ctx_override_err[256];

static void ctx_override_read(void)
{
    const char *v = getenv("GPOOL_VRAM_CTX_OVERHEAD");
    if (!v || !*v)
        return;
    snprintf(ctx_override_value, sizeof(ctx_override_value), "%s", v);
    if (limiter_parse_quantity(v, &ctx_override_bytes, ctx_override_err, sizeof(ctx_override_err)) <
        0) {
        ctx_override = -1;
        return;
    }
    ctx_override = 1;
    LOG_INFO("hook", "vGPU '%s': GPOOL_VRAM_CTX_OVERHEAD: %llu bytes charged per context",
             hook_vram_cfg.name, (unsigned long long)ctx_override_bytes);
}

static int overhead_charged(void)
{
    return hook_vram_cfg.enabled && !hook_vram_cfg.no_overhead;
}

/* Fills d with the figures of device dev's model (the table's largest for a model it does not
 * know). CUDA_SUCCESS, or the driver's error for the name. Under overhead_lock. */
static CUresult overhead_lookup(int dev, struct overhead_device *d)
{
    HOOK_REAL_OR_MISSING(cuDeviceGetName);
    char name[sizeof(d->model)] = "";
    CUresult res = real(name, (int)sizeof(name), (CUdevice)dev);
    if (res != CUDA_SUCCESS)
        return res;
    name[sizeof(name) - 1] = 0;
    memcpy(d->model, name, sizeof(name));
    const struct hook_model *m = hook_model_find(name);
    d->known = m != NULL;
    if (m) {
        d->ctx_bytes = m->ctx_bytes;
        d->module_bytes = m->module_bytes;
    } else {
        hook_model_largest_overhead(&d->ctx_bytes, &d->module_bytes);
    }
    if (!d->known) {
        /* Charged the table's largest figures. Log each model once. */
        int logged = 0;
        for (int i = 0; i < LEDGER_MAX_DEVICES && !logged; i++)
            logged = i != dev && overhead_devices[i].looked_up && !overhead_devices[i].known &&
                     strcmp(overhead_devices[i].model, name) == 0;
        if (!logged)
            LOG_INFO("hook",
                     "vGPU '%s': device %d is a '%s', which the hook's overhead table does not "
                     "know; charging the table's largest figures: %llu bytes a context, %llu a "
                     "module",
                     hook_vram_cfg.name, dev, name, (unsigned long long)d->ctx_bytes,
                     (unsigned long long)d->module_bytes);
    }
    d->looked_up = 1;
    return CUDA_SUCCESS;
}

/* The overhead of a context or a module on dev (0 <= dev < LEDGER_MAX_DEVICES) into *bytes. */
static CUresult overhead_bytes(int dev, enum overhead_kind kind, uint64_t *bytes)
{
    if (kind == OVERHEAD_CTX && ctx_override == 1) {
        *bytes = ctx_override_bytes;
        return CUDA_SUCCESS;
    }
    pthread_mutex_lock(&overhead_lock);
    struct overhead_device *d = &overhead_devices[dev];
    CUresult res = d->looked_up ? CUDA_SUCCESS : overhead_lookup(dev, d);
    if (res == CUDA_SUCCESS)
        *bytes = kind == OVERHEAD_CTX ? d->ctx_bytes : d->module_bytes;
    pthread_mutex_unlock(&overhead_lock);
    return res;
}

/* A reservation of overhead, from before the driver's call to after it. */
struct overhead_charge {
    struct ledger_ticket t;
    int reserved; /* 0: nothing to settle (a figure of 0) */
};

/* Reserves the overhead of a context or a module on dev into *c. CUDA_SUCCESS, or what the
 * application gets (the driver is then not called). */
static CUresult overhead_reserve(int dev, enum overhead_kind kind, const char *what,
                                 struct overhead_charge *c)
{
    c->reserved = 0;
    pthread_once(&ctx_override_once, ctx_override_read);
    if (ctx_override < 0) {
        LOG_ERROR("hook", "%s: GPOOL_VRAM_CTX_OVERHEAD '%s': %s", what, ctx_override_value,
                  ctx_override_err);
        return CUDA_ERROR_INVALID_VALUE;
    }
    struct ledger *l;
    CUresult res = hook_vram_ledger(&l);
    if (res != CUDA_SUCCESS)
        return res;
    if (dev < 0 || dev >= ledger_device_count(l))
        return CUDA_ERROR_INVALID_DEVICE;
    uint64_t bytes = 0;
    if ((res = overhead_bytes(dev, kind, &bytes)) != CUDA_SUCCESS)
        return res;
    if (bytes == 0)
        return CUDA_SUCCESS;
    int rc = ledger_reserve(l, dev, bytes, &c->t);
    if (rc < 0) {
        LOG_DEBUG("hook", "%s: %llu bytes of overhead on device %d refused by vGPU '%s': %s", what,
                  (unsigned long long)bytes, dev, hook_vram_cfg.name, strerror(-rc));
        return hook_vram_errno_result(rc);
    }
    c->reserved = 1;
    return CUDA_SUCCESS;
}

/* Commits reservation c as `key` (owned by context `owner`, 0: none) when the driver answered
 * rc == CUDA_SUCCESS, else drops it. A key already recorded (a concurrent retain of the same
 * primary context) keeps one charge. */
static void overhead_settle(struct overhead_charge *c, CUresult rc, uint64_t key, uint64_t owner,
                            const char *what)
{
    if (!c->reserved)
        return;
    struct ledger *l = hook_vram_ledger_opened();
    if (rc != CUDA_SUCCESS) {
        ledger_rollback(l, &c->t);
        return;
    }
    int r = ledger_commit_owned(l, &c->t, key, owner);
    if (r < 0) {
        if (r != -EEXIST)
            LOG_ERROR("hook", "%s: cannot record overhead 0x%llx in vGPU '%s': %s", what,
                      (unsigned long long)key, hook_vram_cfg.name, strerror(-r));
        ledger_rollback(l, &c->t);
    }
}

/* Credits the overhead recorded as `key` on dev (any device when dev < 0). */
static void overhead_credit(int dev, uint64_t key)
{
    struct ledger *l;
    if (hook_vram_ledger(&l) != CUDA_SUCCESS)
        return;
    if (dev >= 0)
        ledger_release(l, dev, key, NULL);
    else
        hook_vram_release_any(l, -1, key);
}

/* cuCtxCreate (every version): a context's overhead on dev, key = the context. */
#define HOOK_VRAM_CTX_CREATE(name, call_args)                                                      \
    do {                                                                                           \
        if (!overhead_charged())                                                                   \
            return real call_args;                                                                 \
        struct overhead_charge c;                                                                  \
        CUresult rc = overhead_reserve((int)dev, OVERHEAD_CTX, #name, &c);                         \
        if (rc != CUDA_SUCCESS)                                                                    \
            return rc;                                                                             \
        rc = real call_args;                                                                       \
        overhead_settle(&c, rc,                                                                    \
                        rc == CUDA_SUCCESS ? (uint64_t)(uintptr_t)*pctx ^ HOOK_VRAM_KEY_CTX : 0,   \
                        0, #name);                                                                 \
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

/* After cuCtxDestroy: the context's overhead is credited, and so is everything the driver freed
 * with it (allocations, arrays, modules: the records it owns). */
static CUresult context_destroyed(CUcontext ctx, CUresult rc)
{
    if (rc != CUDA_SUCCESS || !hook_vram_cfg.enabled)
        return rc;
    if (overhead_charged())
        overhead_credit(-1, (uint64_t)(uintptr_t)ctx ^ HOOK_VRAM_KEY_CTX);
    hook_vram_context_gone((uint64_t)(uintptr_t)ctx);
    return rc;
}

CUresult cuCtxDestroy(CUcontext ctx)
{
    HOOK_REAL_OR_MISSING(cuCtxDestroy);
    return context_destroyed(ctx, real(ctx));
}

CUresult cuCtxDestroy_v2(CUcontext ctx)
{
    HOOK_REAL_OR_MISSING(cuCtxDestroy_v2);
    return context_destroyed(ctx, real(ctx));
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

/* Each device's primary context as its last retain returned it: the owner of what is made in
 * it, credited when a release or reset deactivates it. */
static _Atomic(uintptr_t) primary_ctx[LEDGER_MAX_DEVICES];

static void primary_remember(CUdevice dev, CUresult rc, const CUcontext *pctx)
{
    if (rc == CUDA_SUCCESS && hook_vram_cfg.enabled && dev >= 0 && dev < LEDGER_MAX_DEVICES)
        atomic_store(&primary_ctx[dev], (uintptr_t)*pctx);
}

/* The first retain of a device's primary context creates it: charged then, key = the device. */
CUresult cuDevicePrimaryCtxRetain(CUcontext *pctx, CUdevice dev)
{
    HOOK_REAL_OR_MISSING(cuDevicePrimaryCtxRetain);
    CUresult rc;
    if (!overhead_charged() || primary_active(dev) == 1) {
        rc = real(pctx, dev);
        primary_remember(dev, rc, pctx);
        return rc;
    }
    struct overhead_charge c;
    rc = overhead_reserve((int)dev, OVERHEAD_CTX, "cuDevicePrimaryCtxRetain", &c);
    if (rc != CUDA_SUCCESS)
        return rc;
    rc = real(pctx, dev);
    overhead_settle(&c, rc, (uint64_t)(unsigned)dev ^ HOOK_VRAM_KEY_PRIMARY, 0,
                    "cuDevicePrimaryCtxRetain");
    primary_remember(dev, rc, pctx);
    return rc;
}

/* After a release or reset of dev's primary context: a reset frees everything made in it (the
 * context itself is re-created at once while retained), and a release or reset that leaves it
 * inactive destroys it. What the driver freed is credited; the overhead when it is inactive. */
static CUresult primary_after(CUdevice dev, CUresult rc, int reset)
{
    if (rc != CUDA_SUCCESS || !hook_vram_cfg.enabled)
        return rc;
    int inactive = primary_active(dev) == 0;
    if (inactive && overhead_charged())
        overhead_credit((int)dev, (uint64_t)(unsigned)dev ^ HOOK_VRAM_KEY_PRIMARY);
    if ((inactive || reset) && dev >= 0 && dev < LEDGER_MAX_DEVICES)
        hook_vram_context_gone(atomic_load(&primary_ctx[dev]));
    return rc;
}

CUresult cuDevicePrimaryCtxRelease(CUdevice dev)
{
    HOOK_REAL_OR_MISSING(cuDevicePrimaryCtxRelease);
    return primary_after(dev, real(dev), 0);
}

CUresult cuDevicePrimaryCtxRelease_v2(CUdevice dev)
{
    HOOK_REAL_OR_MISSING(cuDevicePrimaryCtxRelease_v2);
    return primary_after(dev, real(dev), 0);
}

CUresult cuDevicePrimaryCtxReset(CUdevice dev)
{
    HOOK_REAL_OR_MISSING(cuDevicePrimaryCtxReset);
    return primary_after(dev, real(dev), 1);
}

CUresult cuDevicePrimaryCtxReset_v2(CUdevice dev)
{
    HOOK_REAL_OR_MISSING(cuDevicePrimaryCtxReset_v2);
    return primary_after(dev, real(dev), 1);
}

/*
 * cuModuleLoad* and cuLibraryLoad*: a module's overhead on the current context's device, key =
 * the handle *out tagged with `tag`. Without a current context nothing is charged: the driver
 * refuses a module load itself, and loads a library into no context until its first use.
 */
#define HOOK_VRAM_LOAD(name, call_args, out, tag)                                                  \
    do {                                                                                           \
        int dev = 0;                                                                               \
        if (!overhead_charged() || hook_vram_current_device(&dev) != CUDA_SUCCESS)                 \
            return real call_args;                                                                 \
        struct overhead_charge c;                                                                  \
        CUresult rc = overhead_reserve(dev, OVERHEAD_MODULE, #name, &c);                           \
        if (rc != CUDA_SUCCESS)                                                                    \
            return rc;                                                                             \
        rc = real call_args;                                                                       \
        overhead_settle(&c, rc, rc == CUDA_SUCCESS ? (uint64_t)(uintptr_t) * (out) ^ (tag) : 0,    \
                        (tag) == HOOK_VRAM_KEY_MODULE ? hook_vram_current_owner() : 0, #name);     \
        return rc;                                                                                 \
    } while (0)

CUresult cuModuleLoad(CUmodule *module, const char *fname)
{
    HOOK_REAL_OR_MISSING(cuModuleLoad);
    HOOK_VRAM_LOAD(cuModuleLoad, (module, fname), module, HOOK_VRAM_KEY_MODULE);
}

CUresult cuModuleLoadData(CUmodule *module, const void *image)
{
    HOOK_REAL_OR_MISSING(cuModuleLoadData);
    HOOK_VRAM_LOAD(cuModuleLoadData, (module, image), module, HOOK_VRAM_KEY_MODULE);
}

CUresult cuModuleLoadDataEx(CUmodule *module, const void *image, unsigned int numOptions,
                            CUjit_option *options, void **optionValues)
{
    HOOK_REAL_OR_MISSING(cuModuleLoadDataEx);
    HOOK_VRAM_LOAD(cuModuleLoadDataEx, (module, image, numOptions, options, optionValues), module,
                   HOOK_VRAM_KEY_MODULE);
}

CUresult cuModuleLoadFatBinary(CUmodule *module, const void *fatCubin)
{
    HOOK_REAL_OR_MISSING(cuModuleLoadFatBinary);
    HOOK_VRAM_LOAD(cuModuleLoadFatBinary, (module, fatCubin), module, HOOK_VRAM_KEY_MODULE);
}

CUresult cuModuleUnload(CUmodule hmod)
{
    HOOK_REAL_OR_MISSING(cuModuleUnload);
    CUresult rc = real(hmod);
    if (rc == CUDA_SUCCESS && overhead_charged())
        overhead_credit(-1, (uint64_t)(uintptr_t)hmod ^ HOOK_VRAM_KEY_MODULE);
    return rc;
}

/*
 * Libraries: the driver loads a library into the context current at cuLibraryLoad* (charged
 * here, as a module, until cuLibraryUnload) and lazily into any other context where one of its
 * kernels or globals is first used. Those lazy loads happen inside calls the hook does not
 * charge (cuLibraryGetModule, cuKernelGetFunction, a launch of a CUkernel...): their overhead is
 * not charged.
 */
CUresult cuLibraryLoadData(CUlibrary *library, const void *code, CUjit_option *jitOptions,
                           void **jitOptionsValues, unsigned int numJitOptions,
                           CUlibraryOption *libraryOptions, void **libraryOptionValues,
                           unsigned int numLibraryOptions)
{
    HOOK_REAL_OR_MISSING(cuLibraryLoadData);
    HOOK_VRAM_LOAD(cuLibraryLoadData,
                   (library, code, jitOptions, jitOptionsValues, numJitOptions, libraryOptions,
                    libraryOptionValues, numLibraryOptions),
                   library, HOOK_VRAM_KEY_LIBRARY);
}

CUresult cuLibraryLoadFromFile(CUlibrary *library, const char *fileName, CUjit_option *jitOptions,
                               void **jitOptionsValues, unsigned int numJitOptions,
                               CUlibraryOption *libraryOptions, void **libraryOptionValues,
                               unsigned int numLibraryOptions)
{
    HOOK_REAL_OR_MISSING(cuLibraryLoadFromFile);
    HOOK_VRAM_LOAD(cuLibraryLoadFromFile,
                   (library, fileName, jitOptions, jitOptionsValues, numJitOptions, libraryOptions,
                    libraryOptionValues, numLibraryOptions),
                   library, HOOK_VRAM_KEY_LIBRARY);
}

CUresult cuLibraryUnload(CUlibrary library)
{
    HOOK_REAL_OR_MISSING(cuLibraryUnload);
    CUresult rc = real(library);
    if (rc == CUDA_SUCCESS && overhead_charged())
        overhead_credit(-1, (uint64_t)(uintptr_t)library ^ HOOK_VRAM_KEY_LIBRARY);
    return rc;
}
