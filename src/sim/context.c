/*
 * context.c: contexts, primary contexts and the per-thread context stack.
 *
 * Every live context is in one registry (a list under a rwlock): a handle from the application is
 * looked up there before it is dereferenced, so a destroyed or garbage handle is
 * CUDA_ERROR_INVALID_CONTEXT, never a crash. Each thread's stack of current contexts is
 * thread-local and records (handle, id) pairs, so a context destroyed while current to another
 * thread is recognised there (CUDA_ERROR_CONTEXT_IS_DESTROYED) even if its memory is reused.
 *
 * A device's primary context is one object for the life of the process: retained, it is active
 * (in the registry, with streams and its device-memory overhead); released to zero, it is
 * inactive and its handle is invalid until the next retain, which makes the same handle valid
 * again, as NVIDIA's driver does.
 *
 * While a context exists it charges its model's per-context overhead to the device
 * (SIM_CHARGE_OVERHEAD), so cuMemGetInfo and NVML show what a real driver's context costs.
 */
#include "array.h"
#include "driver.h"
#include "module.h"

#include "gpool/log.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>

#define EXPORT __attribute__((visibility("default")))

/* The stream priority range reported by cuCtxGetStreamPriorityRange; the same as stream.c's
 * SIM_STREAM_PRIORITY_LEAST / _GREATEST (as on recent NVIDIA GPUs). */
#define CTX_PRIORITY_LEAST    0
#define CTX_PRIORITY_GREATEST (-5)

/* The API version contexts report: every context since CUDA 3.2 reports 3020. */
#define CTX_API_VERSION 3020

/* Depth of a thread's context stack. */
#define CTX_STACK_MAX 128

struct ctx_impl {
    struct CUctx_st pub;      /* first: a CUcontext points here */
    struct ctx_impl *next;    /* registry link */
    int registered;           /* in the registry (alive) */
    int dying;                /* a destroy has claimed it */
    uint64_t overhead_offset; /* handle of the overhead charge */
    int overhead_charged;
    int retain_count; /* primary contexts only */
    CUfunc_cache cache_config;
};

static pthread_rwlock_t g_reg_lock = PTHREAD_RWLOCK_INITIALIZER;
static struct ctx_impl *g_live;

/* Serialises primary-context retain/release/reset/flags and context destruction. */
static pthread_mutex_t g_primary_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ctx_impl *g_primary[SIM_MAX_DEVICES];
static unsigned int g_primary_flags[SIM_MAX_DEVICES];

static _Atomic uint64_t g_next_id = 1;

/* Contexts inherited across fork: kept reachable, never used (see sim_ctx_fork_child). */
static struct ctx_impl *g_stale;

struct stack_entry {
    struct ctx_impl *ctx;
    uint64_t id;
};
static __thread struct stack_entry t_stack[CTX_STACK_MAX];
static __thread int t_depth;

static struct ctx_impl *impl_of(CUcontext ctx)
{
    return (struct ctx_impl *)ctx;
}

/* Whether p is a registered context; the caller holds g_reg_lock. Compares addresses only. */
static int registry_has_locked(const struct ctx_impl *p)
{
    for (const struct ctx_impl *c = g_live; c; c = c->next) {
        if (c == p)
            return c->pub.magic == SIM_CTX_MAGIC;
    }
    return 0;
}

static void registry_add(struct ctx_impl *c)
{
    pthread_rwlock_wrlock(&g_reg_lock);
    c->pub.magic = SIM_CTX_MAGIC;
    c->registered = 1;
    c->dying = 0;
    c->next = g_live;
    g_live = c;
    pthread_rwlock_unlock(&g_reg_lock);
}

static void registry_remove(struct ctx_impl *c)
{
    pthread_rwlock_wrlock(&g_reg_lock);
    for (struct ctx_impl **pp = &g_live; *pp; pp = &(*pp)->next) {
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    }
    c->next = NULL;
    c->registered = 0;
    c->pub.magic = 0;
    pthread_rwlock_unlock(&g_reg_lock);
}

/* Validates a context handle given by the application: CUDA_SUCCESS when it names a live
 * context of this process, else CUDA_ERROR_INVALID_CONTEXT (or the cuInit error). The handle
 * is never dereferenced before it is found in the registry. Sticky errors are not reported
 * here: see sim_ctx_current. */
CUresult sim_ctx_check(CUcontext ctx)
{
    CUresult res = sim_process_check();
    if (res != CUDA_SUCCESS)
        return res;
    if (!ctx)
        return CUDA_ERROR_INVALID_CONTEXT;
    pthread_rwlock_rdlock(&g_reg_lock);
    int ok = registry_has_locked(impl_of(ctx));
    pthread_rwlock_unlock(&g_reg_lock);
    return ok ? CUDA_SUCCESS : CUDA_ERROR_INVALID_CONTEXT;
}

/* Returns the calling thread's current context in *out. Errors: the cuInit error,
 * CUDA_ERROR_INVALID_CONTEXT when no context is current (*out = NULL),
 * CUDA_ERROR_CONTEXT_IS_DESTROYED when the current context was destroyed by another thread
 * (*out = NULL). When the context has a sticky error, *out is the context and the sticky error
 * is returned: every call on a context that took a sticky fault fails with it. */
CUresult sim_ctx_current(struct CUctx_st **out)
{
    *out = NULL;
    CUresult res = sim_process_check();
    if (res != CUDA_SUCCESS)
        return res;
    if (t_depth == 0)
        return CUDA_ERROR_INVALID_CONTEXT;
    struct stack_entry *top = &t_stack[t_depth - 1];
    pthread_rwlock_rdlock(&g_reg_lock);
    int ok = registry_has_locked(top->ctx) && top->ctx->pub.id == top->id;
    pthread_rwlock_unlock(&g_reg_lock);
    if (!ok)
        return CUDA_ERROR_CONTEXT_IS_DESTROYED;
    *out = &top->ctx->pub;
    int sticky = atomic_load(&top->ctx->pub.sticky_error);
    return sticky ? (CUresult)sticky : CUDA_SUCCESS;
}

/* Resolves an optional handle: NULL means the current context. */
static CUresult ctx_or_current(CUcontext ctx, struct CUctx_st **out)
{
    if (!ctx)
        return sim_ctx_current(out);
    CUresult res = sim_ctx_check(ctx);
    *out = res == CUDA_SUCCESS ? ctx : NULL;
    return res;
}

/* The context a query names (NULL: the current one) in *out, and CUDA_ERROR_INVALID_VALUE when
 * answer, where the query's answer goes, is NULL; a context error comes first. */
static CUresult ctx_query(CUcontext ctx, const void *answer, struct CUctx_st **out)
{
    CUresult res = ctx_or_current(ctx, out);
    if (res == CUDA_SUCCESS && !answer)
        res = CUDA_ERROR_INVALID_VALUE;
    return res;
}

static CUresult check_ctx_flags(unsigned int flags)
{
    if (flags & ~(unsigned int)CU_CTX_FLAGS_MASK)
        return CUDA_ERROR_INVALID_VALUE;
    switch (flags & CU_CTX_SCHED_MASK) {
    case CU_CTX_SCHED_AUTO:
    case CU_CTX_SCHED_SPIN:
    case CU_CTX_SCHED_YIELD:
    case CU_CTX_SCHED_BLOCKING_SYNC:
        return CUDA_SUCCESS;
    default:
        return CUDA_ERROR_INVALID_VALUE; /* only one scheduling flag may be set */
    }
}

static void set_default_limits(struct CUctx_st *ctx)
{
    for (size_t i = 0; i < sizeof(ctx->limits) / sizeof(ctx->limits[0]); i++)
        ctx->limits[i] = 0;
    ctx->limits[CU_LIMIT_STACK_SIZE] = 1024;
    ctx->limits[CU_LIMIT_PRINTF_FIFO_SIZE] = 1024 * 1024;
    ctx->limits[CU_LIMIT_MALLOC_HEAP_SIZE] = 8 * 1024 * 1024;
    ctx->limits[CU_LIMIT_DEV_RUNTIME_SYNC_DEPTH] = 2;
    ctx->limits[CU_LIMIT_DEV_RUNTIME_PENDING_LAUNCH_COUNT] = 2048;
    ctx->limits[CU_LIMIT_MAX_L2_FETCH_GRANULARITY] = 64;
    ctx->limits[CU_LIMIT_PERSISTING_L2_CACHE_SIZE] = 0;
    ctx->limits[CU_LIMIT_CIG_SHMEM_FALLBACK_ENABLED] = 1;
}

/* Brings c to life on dev: charges the context overhead, creates its streams, registers it.
 * On failure nothing is left charged or registered. */
static CUresult activate(struct ctx_impl *c, int dev, unsigned int flags, int primary)
{
    const struct sim_model *m;
    CUresult res = sim_device_check(dev, &m);
    if (res != CUDA_SUCCESS)
        return res;
    struct sim_instance *inst = sim_process_instance();

    c->pub.device = dev;
    c->pub.flags = flags;
    c->pub.is_primary = primary;
    if (!c->pub.id) /* a primary context keeps its id across activations */
        c->pub.id = atomic_fetch_add(&g_next_id, 1);
    atomic_store(&c->pub.sticky_error, 0);
    c->pub.streams = NULL;
    c->cache_config = CU_FUNC_CACHE_PREFER_NONE;
    set_default_limits(&c->pub);

    c->overhead_charged = 0;
    if (m->ctx_overhead_bytes) {
        int rc = sim_state_alloc(inst, dev, m->ctx_overhead_bytes, SIM_CHARGE_OVERHEAD,
                                 &c->overhead_offset, NULL);
        if (rc < 0) {
            LOG_WARN("sim", "context on device %d: cannot charge its %llu bytes of overhead: %s",
                     dev, (unsigned long long)m->ctx_overhead_bytes,
                     rc == -ENOMEM ? "device memory is full" : "allocation table is full");
            return CUDA_ERROR_OUT_OF_MEMORY;
        }
        c->overhead_charged = 1;
    }
    /* The streams may look at the context: make it valid before they start. */
    c->pub.magic = SIM_CTX_MAGIC;
    res = sim_stream_ctx_init(&c->pub);
    if (res != CUDA_SUCCESS) {
        c->pub.magic = 0;
        if (c->overhead_charged)
            sim_state_free(inst, dev, c->overhead_offset);
        c->overhead_charged = 0;
        return res;
    }
    registry_add(c);
    return CUDA_SUCCESS;
}

/* Tears c down: waits for and destroys its streams, frees its allocations and its overhead, and
 * removes it from the registry. The caller owns c exclusively (g_primary_lock for a primary
 * context, the dying claim for another). */
static void deactivate(struct ctx_impl *c)
{
    sim_stream_ctx_fini(&c->pub);
    c->pub.streams = NULL;
    sim_module_release_ctx(&c->pub);
    sim_array_release_ctx(&c->pub);
    sim_mem_release_ctx(&c->pub);
    if (c->overhead_charged) {
        int rc = sim_state_free(sim_process_instance(), c->pub.device, c->overhead_offset);
        if (rc < 0)
            LOG_WARN("sim", "context %llu: releasing its overhead charge failed (%d)",
                     (unsigned long long)c->pub.id, rc);
        c->overhead_charged = 0;
    }
    registry_remove(c);
}

static CUresult stack_push(struct ctx_impl *c)
{
    if (t_depth >= CTX_STACK_MAX) {
        LOG_ERROR("sim", "cuCtxPushCurrent: the thread's context stack is full (%d contexts)",
                  CTX_STACK_MAX);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    t_stack[t_depth].ctx = c;
    t_stack[t_depth].id = c->pub.id;
    t_depth++;
    return CUDA_SUCCESS;
}

/* ---- Context creation and destruction --------------------------------------------------- */

static CUresult ctx_create(CUcontext *pctx, unsigned int flags, CUdevice dev)
{
    CUresult res = sim_process_check();
    if (res != CUDA_SUCCESS)
        return res;
    if (!pctx)
        return CUDA_ERROR_INVALID_VALUE;
    res = sim_device_check(dev, NULL);
    if (res != CUDA_SUCCESS)
        return res;
    res = check_ctx_flags(flags);
    if (res != CUDA_SUCCESS)
        return res;
    if (t_depth >= CTX_STACK_MAX)
        return CUDA_ERROR_OUT_OF_MEMORY;
    struct ctx_impl *c = calloc(1, sizeof(*c));
    if (!c)
        return CUDA_ERROR_OUT_OF_MEMORY;
    res = activate(c, dev, flags, 0);
    if (res != CUDA_SUCCESS) {
        free(c);
        return res;
    }
    stack_push(c);
    *pctx = &c->pub;
    LOG_DEBUG("sim", "context %llu created on device %d", (unsigned long long)c->pub.id, dev);
    return CUDA_SUCCESS;
}

/* Creates a context on dev and makes it current (CUDA 12.5+ signature). Parameters with
 * execution affinity need MPS and parameters with CIG need a graphics client: both are
 * CUDA_ERROR_NOT_SUPPORTED; setting both is CUDA_ERROR_INVALID_VALUE. */
EXPORT CUresult cuCtxCreate_v4(CUcontext *pctx, CUctxCreateParams *ctxCreateParams,
                               unsigned int flags, CUdevice dev)
{
    CUresult res = sim_process_check();
    if (res != CUDA_SUCCESS)
        return res;
    if (ctxCreateParams) {
        int affinity = ctxCreateParams->execAffinityParams != NULL ||
                       ctxCreateParams->numExecAffinityParams != 0;
        int cig = ctxCreateParams->cigParams != NULL;
        if (affinity && cig)
            return CUDA_ERROR_INVALID_VALUE;
        if (affinity) {
            if (!ctxCreateParams->execAffinityParams || ctxCreateParams->numExecAffinityParams <= 0)
                return CUDA_ERROR_INVALID_VALUE;
            return CUDA_ERROR_NOT_SUPPORTED;
        }
        if (cig)
            return CUDA_ERROR_NOT_SUPPORTED;
    }
    return ctx_create(pctx, flags, dev);
}

/* CUDA 11.4 signature: execution affinity parameters (unsupported without MPS). */
EXPORT CUresult cuCtxCreate_v3(CUcontext *pctx, CUexecAffinityParam *paramsArray, int numParams,
                               unsigned int flags, CUdevice dev)
{
    CUresult res = sim_process_check();
    if (res != CUDA_SUCCESS)
        return res;
    if (numParams < 0 || (numParams > 0 && !paramsArray))
        return CUDA_ERROR_INVALID_VALUE;
    if (numParams > 0)
        return CUDA_ERROR_NOT_SUPPORTED;
    return ctx_create(pctx, flags, dev);
}

/* CUDA 3.2 signature. */
EXPORT CUresult cuCtxCreate_v2(CUcontext *pctx, unsigned int flags, CUdevice dev)
{
    return ctx_create(pctx, flags, dev);
}

/* The original export (same arguments as _v2). */
EXPORT CUresult cuCtxCreate(CUcontext *pctx, unsigned int flags, CUdevice dev)
{
    return ctx_create(pctx, flags, dev);
}

/* Destroys a context made by cuCtxCreate: waits for its work, frees its streams and memory, and
 * pops it if it is current to the calling thread. A primary context cannot be destroyed
 * (CUDA_ERROR_INVALID_CONTEXT): it is released instead. */
EXPORT CUresult cuCtxDestroy_v2(CUcontext ctx)
{
    CUresult res = sim_ctx_check(ctx);
    if (res != CUDA_SUCCESS)
        return res;
    struct ctx_impl *c = impl_of(ctx);

    /* Claim it under the registry lock, so that a concurrent destroy of the same handle fails
     * instead of freeing it twice. */
    pthread_rwlock_wrlock(&g_reg_lock);
    int ok = registry_has_locked(c) && !c->dying && !c->pub.is_primary;
    if (ok)
        c->dying = 1;
    pthread_rwlock_unlock(&g_reg_lock);
    if (!ok)
        return CUDA_ERROR_INVALID_CONTEXT;
    uint64_t id = c->pub.id;
    deactivate(c);

    if (t_depth > 0 && t_stack[t_depth - 1].ctx == c && t_stack[t_depth - 1].id == id)
        t_depth--;
    LOG_DEBUG("sim", "context %llu destroyed", (unsigned long long)id);
    free(c);
    return CUDA_SUCCESS;
}

/* The original export. */
EXPORT CUresult cuCtxDestroy(CUcontext ctx)
{
    return cuCtxDestroy_v2(ctx);
}

/* ---- The per-thread stack --------------------------------------------------------------- */

/* Pushes ctx onto the calling thread's stack: it becomes current. */
EXPORT CUresult cuCtxPushCurrent_v2(CUcontext ctx)
{
    CUresult res = sim_ctx_check(ctx);
    if (res != CUDA_SUCCESS)
        return res;
    return stack_push(impl_of(ctx));
}

/* The original export. */
EXPORT CUresult cuCtxPushCurrent(CUcontext ctx)
{
    return cuCtxPushCurrent_v2(ctx);
}

/* Pops the current context and returns it in *pctx (may be NULL). */
EXPORT CUresult cuCtxPopCurrent_v2(CUcontext *pctx)
{
    CUresult res = sim_process_check();
    if (res != CUDA_SUCCESS)
        return res;
    if (t_depth == 0)
        return CUDA_ERROR_INVALID_CONTEXT;
    t_depth--;
    if (pctx)
        *pctx = &t_stack[t_depth].ctx->pub;
    return CUDA_SUCCESS;
}

/* The original export. */
EXPORT CUresult cuCtxPopCurrent(CUcontext *pctx)
{
    return cuCtxPopCurrent_v2(pctx);
}

/* Replaces the top of the calling thread's stack with ctx (pushes when the stack is empty); NULL
 * pops the top (nothing when the stack is empty). */
EXPORT CUresult cuCtxSetCurrent(CUcontext ctx)
{
    CUresult res = sim_process_check();
    if (res != CUDA_SUCCESS)
        return res;
    if (!ctx) {
        if (t_depth > 0)
            t_depth--;
        return CUDA_SUCCESS;
    }
    res = sim_ctx_check(ctx);
    if (res != CUDA_SUCCESS)
        return res;
    if (t_depth == 0)
        return stack_push(impl_of(ctx));
    t_stack[t_depth - 1].ctx = impl_of(ctx);
    t_stack[t_depth - 1].id = ctx->id;
    return CUDA_SUCCESS;
}

/* Returns the calling thread's current context, NULL when none (not an error). */
EXPORT CUresult cuCtxGetCurrent(CUcontext *pctx)
{
    CUresult res = sim_process_check();
    if (res != CUDA_SUCCESS)
        return res;
    if (!pctx)
        return CUDA_ERROR_INVALID_VALUE;
    *pctx = t_depth > 0 ? &t_stack[t_depth - 1].ctx->pub : NULL;
    return CUDA_SUCCESS;
}

/* ---- Queries and settings of the current context ---------------------------------------- */

/* The device of the current context. */
EXPORT CUresult cuCtxGetDevice(CUdevice *device)
{
    return cuCtxGetDevice_v2(device, NULL);
}

/* The device of ctx (NULL: the current context). */
EXPORT CUresult cuCtxGetDevice_v2(CUdevice *device, CUcontext ctx)
{
    struct CUctx_st *c;
    CUresult res = ctx_query(ctx, device, &c);
    if (res == CUDA_SUCCESS)
        *device = c->device;
    return res;
}

/* The flags of the current context. */
EXPORT CUresult cuCtxGetFlags(unsigned int *flags)
{
    struct CUctx_st *ctx;
    CUresult res = ctx_query(NULL, flags, &ctx);
    if (res == CUDA_SUCCESS)
        *flags = ctx->flags;
    return res;
}

/* Replaces the flags of the current context (and of its device's primary context settings
 * when it is the primary context). */
EXPORT CUresult cuCtxSetFlags(unsigned int flags)
{
    struct CUctx_st *ctx;
    CUresult res = sim_ctx_current(&ctx);
    if (res != CUDA_SUCCESS)
        return res;
    res = check_ctx_flags(flags);
    if (res != CUDA_SUCCESS)
        return res;
    pthread_mutex_lock(&g_primary_lock);
    ctx->flags = flags;
    if (ctx->is_primary)
        g_primary_flags[ctx->device] = flags;
    pthread_mutex_unlock(&g_primary_lock);
    return CUDA_SUCCESS;
}

/* The process-unique id of ctx (NULL: the current context). */
EXPORT CUresult cuCtxGetId(CUcontext ctx, unsigned long long *ctxId)
{
    struct CUctx_st *c;
    CUresult res = ctx_query(ctx, ctxId, &c);
    if (res == CUDA_SUCCESS)
        *ctxId = c->id;
    return res;
}

/* The API version of ctx (NULL: the current context): 3020, as every modern context reports. */
EXPORT CUresult cuCtxGetApiVersion(CUcontext ctx, unsigned int *version)
{
    struct CUctx_st *c;
    CUresult res = ctx_query(ctx, version, &c);
    if (res == CUDA_SUCCESS)
        *version = CTX_API_VERSION;
    return res;
}

/* Waits for all work of the current context. */
EXPORT CUresult cuCtxSynchronize(void)
{
    struct CUctx_st *ctx;
    CUresult res = sim_ctx_current(&ctx);
    if (res != CUDA_SUCCESS)
        return res;
    return sim_stream_ctx_synchronize(ctx);
}

/* Waits for all work of ctx (NULL: the current context). */
EXPORT CUresult cuCtxSynchronize_v2(CUcontext ctx)
{
    struct CUctx_st *c;
    CUresult res = ctx_or_current(ctx, &c);
    if (res != CUDA_SUCCESS)
        return res;
    int sticky = atomic_load(&c->sticky_error);
    if (sticky)
        return (CUresult)sticky;
    return sim_stream_ctx_synchronize(c);
}

/* Sets a limit of the current context, adjusted as a real driver does (stack size rounded up to
 * 16 bytes, fetch granularity clamped to 128, persisting L2 to the device's maximum). */
EXPORT CUresult cuCtxSetLimit(CUlimit limit, size_t value)
{
    struct CUctx_st *ctx;
    CUresult res = sim_ctx_current(&ctx);
    if (res != CUDA_SUCCESS)
        return res;
    const struct sim_model *m;
    res = sim_device_check(ctx->device, &m);
    if (res != CUDA_SUCCESS)
        return res;
    switch (limit) {
    case CU_LIMIT_STACK_SIZE:
        /* Takes effect at once: wait for kernels that run with the old size. */
        res = sim_stream_ctx_synchronize(ctx);
        if (res != CUDA_SUCCESS)
            return res;
        value = (value + 15) & ~(size_t)15;
        break;
    case CU_LIMIT_PRINTF_FIFO_SIZE:
    case CU_LIMIT_MALLOC_HEAP_SIZE:
    case CU_LIMIT_DEV_RUNTIME_PENDING_LAUNCH_COUNT:
        if (value == 0)
            return CUDA_ERROR_INVALID_VALUE;
        break;
    case CU_LIMIT_DEV_RUNTIME_SYNC_DEPTH:
        if (m->cc_major >= 9)
            return CUDA_ERROR_UNSUPPORTED_LIMIT; /* only below compute capability 9.0 */
        if (value > 24)
            return CUDA_ERROR_INVALID_VALUE;
        break;
    case CU_LIMIT_MAX_L2_FETCH_GRANULARITY:
        if (value > 128)
            value = 128;
        break;
    case CU_LIMIT_PERSISTING_L2_CACHE_SIZE: {
        int max = 0;
        cuDeviceGetAttribute(&max, CU_DEVICE_ATTRIBUTE_MAX_PERSISTING_L2_CACHE_SIZE, ctx->device);
        if (value > (size_t)max)
            value = (size_t)max;
        break;
    }
    case CU_LIMIT_CIG_SHMEM_FALLBACK_ENABLED:
        value = value != 0;
        break;
    case CU_LIMIT_SHMEM_SIZE:
    case CU_LIMIT_CIG_ENABLED:
        return CUDA_ERROR_INVALID_VALUE; /* query-only */
    default:
        return CUDA_ERROR_INVALID_VALUE;
    }
    ctx->limits[limit] = value;
    return CUDA_SUCCESS;
}

/* Returns a limit of the current context. */
EXPORT CUresult cuCtxGetLimit(size_t *pvalue, CUlimit limit)
{
    struct CUctx_st *ctx;
    CUresult res = ctx_query(NULL, pvalue, &ctx);
    if (res != CUDA_SUCCESS)
        return res;
    const struct sim_model *m;
    res = sim_device_check(ctx->device, &m);
    if (res != CUDA_SUCCESS)
        return res;
    switch (limit) {
    case CU_LIMIT_DEV_RUNTIME_SYNC_DEPTH:
        if (m->cc_major >= 9)
            return CUDA_ERROR_UNSUPPORTED_LIMIT;
        *pvalue = ctx->limits[limit];
        return CUDA_SUCCESS;
    case CU_LIMIT_SHMEM_SIZE:
        /* Not a CIG context: kernels may use the device's whole opt-in shared memory. */
        *pvalue = (size_t)m->shared_per_block_optin_bytes;
        return CUDA_SUCCESS;
    case CU_LIMIT_CIG_ENABLED:
        *pvalue = 0;
        return CUDA_SUCCESS;
    case CU_LIMIT_STACK_SIZE:
    case CU_LIMIT_PRINTF_FIFO_SIZE:
    case CU_LIMIT_MALLOC_HEAP_SIZE:
    case CU_LIMIT_DEV_RUNTIME_PENDING_LAUNCH_COUNT:
    case CU_LIMIT_MAX_L2_FETCH_GRANULARITY:
    case CU_LIMIT_PERSISTING_L2_CACHE_SIZE:
    case CU_LIMIT_CIG_SHMEM_FALLBACK_ENABLED:
        *pvalue = ctx->limits[limit];
        return CUDA_SUCCESS;
    default:
        return CUDA_ERROR_INVALID_VALUE;
    }
}

/* Stream priorities of the current context: least 0, greatest -5. Either pointer may be NULL. */
EXPORT CUresult cuCtxGetStreamPriorityRange(int *leastPriority, int *greatestPriority)
{
    struct CUctx_st *ctx;
    CUresult res = sim_ctx_current(&ctx);
    if (res != CUDA_SUCCESS)
        return res;
    if (leastPriority)
        *leastPriority = CTX_PRIORITY_LEAST;
    if (greatestPriority)
        *greatestPriority = CTX_PRIORITY_GREATEST;
    return CUDA_SUCCESS;
}

/* The current context's cache preference (a hint; PREFER_NONE by default). */
EXPORT CUresult cuCtxGetCacheConfig(CUfunc_cache *pconfig)
{
    struct CUctx_st *ctx;
    CUresult res = ctx_query(NULL, pconfig, &ctx);
    if (res == CUDA_SUCCESS)
        *pconfig = impl_of(ctx)->cache_config;
    return res;
}

/* Records the current context's cache preference. */
EXPORT CUresult cuCtxSetCacheConfig(CUfunc_cache config)
{
    struct CUctx_st *ctx;
    CUresult res = sim_ctx_current(&ctx);
    if (res != CUDA_SUCCESS)
        return res;
    switch (config) {
    case CU_FUNC_CACHE_PREFER_NONE:
    case CU_FUNC_CACHE_PREFER_SHARED:
    case CU_FUNC_CACHE_PREFER_L1:
    case CU_FUNC_CACHE_PREFER_EQUAL:
        impl_of(ctx)->cache_config = config;
        return CUDA_SUCCESS;
    default:
        return CUDA_ERROR_INVALID_VALUE;
    }
}

/* Shared memory banks are four bytes wide on every architecture since Maxwell. */
EXPORT CUresult cuCtxGetSharedMemConfig(CUsharedconfig *pConfig)
{
    struct CUctx_st *ctx;
    CUresult res = ctx_query(NULL, pConfig, &ctx);
    if (res == CUDA_SUCCESS)
        *pConfig = CU_SHARED_MEM_CONFIG_FOUR_BYTE_BANK_SIZE;
    return res;
}

/* Accepted and ignored, as on every GPU with fixed bank size. */
EXPORT CUresult cuCtxSetSharedMemConfig(CUsharedconfig config)
{
    struct CUctx_st *ctx;
    CUresult res = sim_ctx_current(&ctx);
    if (res != CUDA_SUCCESS)
        return res;
    switch (config) {
    case CU_SHARED_MEM_CONFIG_DEFAULT_BANK_SIZE:
    case CU_SHARED_MEM_CONFIG_FOUR_BYTE_BANK_SIZE:
    case CU_SHARED_MEM_CONFIG_EIGHT_BYTE_BANK_SIZE:
        return CUDA_SUCCESS;
    default:
        return CUDA_ERROR_INVALID_VALUE;
    }
}

/* Persisting L2 lines are only a performance hint in the simulator: nothing to reset. */
EXPORT CUresult cuCtxResetPersistingL2Cache(void)
{
    struct CUctx_st *ctx;
    return sim_ctx_current(&ctx);
}

/* Contexts always own the whole device: the SM-count affinity is the device's SM count. */
EXPORT CUresult cuCtxGetExecAffinity(CUexecAffinityParam *pExecAffinity, CUexecAffinityType type)
{
    struct CUctx_st *ctx;
    CUresult res = sim_ctx_current(&ctx);
    if (res != CUDA_SUCCESS)
        return res;
    if (!pExecAffinity || type != CU_EXEC_AFFINITY_TYPE_SM_COUNT)
        return CUDA_ERROR_INVALID_VALUE;
    const struct sim_model *m;
    res = sim_device_check(ctx->device, &m);
    if (res != CUDA_SUCCESS)
        return res;
    pExecAffinity->type = type;
    pExecAffinity->param.smCount.val = (unsigned int)m->sm_count;
    return CUDA_SUCCESS;
}

/* ---- Primary contexts ------------------------------------------------------------------- */

/* Retains dev's primary context, activating it on the first retain (not made current). */
EXPORT CUresult cuDevicePrimaryCtxRetain(CUcontext *pctx, CUdevice dev)
{
    CUresult res = sim_device_check(dev, NULL);
    if (res != CUDA_SUCCESS)
        return res;
    if (!pctx)
        return CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&g_primary_lock);
    struct ctx_impl *c = g_primary[dev];
    if (!c) {
        c = calloc(1, sizeof(*c));
        if (!c) {
            pthread_mutex_unlock(&g_primary_lock);
            return CUDA_ERROR_OUT_OF_MEMORY;
        }
        g_primary[dev] = c;
    }
    if (c->retain_count == 0) {
        res = activate(c, dev, g_primary_flags[dev], 1);
        if (res != CUDA_SUCCESS) {
            pthread_mutex_unlock(&g_primary_lock);
            return res;
        }
    }
    c->retain_count++;
    *pctx = &c->pub;
    pthread_mutex_unlock(&g_primary_lock);
    return CUDA_SUCCESS;
}

/* Drops one reference; the last one tears the context down (its memory and streams go). */
EXPORT CUresult cuDevicePrimaryCtxRelease_v2(CUdevice dev)
{
    CUresult res = sim_device_check(dev, NULL);
    if (res != CUDA_SUCCESS)
        return res;
    pthread_mutex_lock(&g_primary_lock);
    struct ctx_impl *c = g_primary[dev];
    if (!c || c->retain_count == 0) {
        pthread_mutex_unlock(&g_primary_lock);
        return CUDA_ERROR_INVALID_CONTEXT;
    }
    if (--c->retain_count == 0)
        deactivate(c);
    pthread_mutex_unlock(&g_primary_lock);
    return CUDA_SUCCESS;
}

/* The original export. */
EXPORT CUresult cuDevicePrimaryCtxRelease(CUdevice dev)
{
    return cuDevicePrimaryCtxRelease_v2(dev);
}

/* Destroys every resource of dev's primary context. Retains are kept: a retained context comes
 * back at once, fresh (no allocations, no streams, no sticky error), with the same handle. */
EXPORT CUresult cuDevicePrimaryCtxReset_v2(CUdevice dev)
{
    CUresult res = sim_device_check(dev, NULL);
    if (res != CUDA_SUCCESS)
        return res;
    pthread_mutex_lock(&g_primary_lock);
    struct ctx_impl *c = g_primary[dev];
    if (c && c->retain_count > 0) {
        deactivate(c);
        res = activate(c, dev, g_primary_flags[dev], 1);
        if (res != CUDA_SUCCESS) {
            LOG_ERROR("sim",
                      "cuDevicePrimaryCtxReset: device %d: the primary context could not "
                      "be re-created (%d); it stays inactive",
                      dev, (int)res);
            c->retain_count = 0;
        }
    }
    pthread_mutex_unlock(&g_primary_lock);
    return res;
}

/* The original export. */
EXPORT CUresult cuDevicePrimaryCtxReset(CUdevice dev)
{
    return cuDevicePrimaryCtxReset_v2(dev);
}

/* Sets the flags of dev's primary context, active or not. */
EXPORT CUresult cuDevicePrimaryCtxSetFlags_v2(CUdevice dev, unsigned int flags)
{
    CUresult res = sim_device_check(dev, NULL);
    if (res != CUDA_SUCCESS)
        return res;
    res = check_ctx_flags(flags);
    if (res != CUDA_SUCCESS)
        return res;
    pthread_mutex_lock(&g_primary_lock);
    g_primary_flags[dev] = flags;
    if (g_primary[dev] && g_primary[dev]->retain_count > 0)
        g_primary[dev]->pub.flags = flags;
    pthread_mutex_unlock(&g_primary_lock);
    return CUDA_SUCCESS;
}

/* The original export. */
EXPORT CUresult cuDevicePrimaryCtxSetFlags(CUdevice dev, unsigned int flags)
{
    return cuDevicePrimaryCtxSetFlags_v2(dev, flags);
}

/* Flags of dev's primary context and whether it is active (retained). */
EXPORT CUresult cuDevicePrimaryCtxGetState(CUdevice dev, unsigned int *flags, int *active)
{
    CUresult res = sim_device_check(dev, NULL);
    if (res != CUDA_SUCCESS)
        return res;
    if (!flags || !active)
        return CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&g_primary_lock);
    *flags = g_primary_flags[dev];
    *active = g_primary[dev] && g_primary[dev]->retain_count > 0;
    pthread_mutex_unlock(&g_primary_lock);
    return CUDA_SUCCESS;
}

/* ---- fork ------------------------------------------------------------------------------- */

/* Takes the context locks so that the child does not inherit them held by another thread. */
void sim_ctx_fork_prepare(void)
{
    pthread_mutex_lock(&g_primary_lock);
    pthread_rwlock_wrlock(&g_reg_lock);
}

/* Releases the locks taken by sim_ctx_fork_prepare. */
void sim_ctx_fork_parent(void)
{
    pthread_rwlock_unlock(&g_reg_lock);
    pthread_mutex_unlock(&g_primary_lock);
}

/* In the child: forgets every context (their streams' threads do not exist here and their
 * charges belong to the parent) and empties the forking thread's stack. The objects are kept
 * reachable on a stale list so that leak checkers stay quiet; they are never used again. */
void sim_ctx_fork_child(void)
{
    struct ctx_impl *stale = g_live;
    g_live = NULL;
    for (int d = 0; d < SIM_MAX_DEVICES; d++) {
        struct ctx_impl *p = g_primary[d];
        if (p && !p->registered) { /* an inactive primary: not on the live list */
            p->next = stale;
            stale = p;
        }
        g_primary[d] = NULL;
        g_primary_flags[d] = 0;
    }
    for (struct ctx_impl *c = stale; c; c = c->next) {
        c->pub.magic = 0;
        c->registered = 0;
    }
    /* Append to what earlier forks left. */
    if (stale) {
        struct ctx_impl *tail = stale;
        while (tail->next)
            tail = tail->next;
        tail->next = g_stale;
        g_stale = stale;
    }
    t_depth = 0;
    /* glibc's rwlock remembers its writer's thread id, which differs in the child: unlocking
     * would fail, so the child starts with fresh locks instead. */
    pthread_rwlock_init(&g_reg_lock, NULL);
    pthread_mutex_unlock(&g_primary_lock);
}
