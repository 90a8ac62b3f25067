/*
 * The hook's private interface: the real driver it forwards to, and the per-class interceptors
 * that limits plug into. See docs/internals/hook.md.
 */
#ifndef GPOOL_HOOK_H
#define GPOOL_HOOK_H

#define GPOOL_CUDA_INTERNAL 1
#include "gpool/api_table.h"

#include <stdatomic.h>

/* The function type of each entry: hook_pfn_cuMemAlloc_v2. */
#define CU_API(name, base, version, mode, class, params, args)                                     \
    typedef CUresult(*hook_pfn_##name) params;
#include "gpool/cuda_api.def"

/* The real driver, loaded once (pthread_once) on the first call through any wrapper. */
struct hook_real {
    void *handle;              /* dlopen handle, NULL when no driver could be loaded */
    void *fn[GPOOL_API_COUNT]; /* dlsym of each table entry; NULL where the driver lacks it */
    char path[4096];           /* absolute path of the loaded driver, "" when none */
};

extern struct hook_real hook_real;
extern atomic_int hook_real_ready;

/* Loads the real driver unless that was already tried. Thread-safe; does its work once. */
void hook_real_load(void);

/* The real driver's function for table entry id, or NULL when it has none (or none was loaded). */
static inline void *hook_real_fn(int id)
{
    if (__builtin_expect(!atomic_load_explicit(&hook_real_ready, memory_order_acquire), 0))
        hook_real_load();
    return hook_real.fn[id];
}

/* What a wrapper returns when hook_real_fn(id) is NULL: CUDA_ERROR_NO_DEVICE (cuInit) or
 * CUDA_ERROR_NOT_INITIALIZED when no driver is loaded, CUDA_ERROR_NOT_FOUND when the loaded
 * driver does not export the entry. */
CUresult hook_real_missing(int id);

/* The real driver's function of entry `name` into `real`, or return what a missing entry
 * answers. */
#define HOOK_REAL_OR_MISSING(name)                                                                 \
    hook_pfn_##name real = (hook_pfn_##name)hook_real_fn(GPOOL_API_ID_##name);                     \
    if (__builtin_expect(!real, 0))                                                                \
    return hook_real_missing(GPOOL_API_ID_##name)

/*
 * One call through an intercepted wrapper. argv[k] is the address of the wrapper's k-th
 * parameter (its type is the one cuda_api.def gives entry id), so an interceptor may read or
 * rewrite arguments before the driver sees them and read outputs after. state is the
 * interceptor's own, zero at the start of the call and carried from before() to after() (a
 * reservation, an event).
 */
struct hook_call {
    int id; /* enum gpool_api_id */
    int argc;
    void *const *argv;
    unsigned long long state;
};

/*
 * What limits plug in: before() runs ahead of the driver and may refuse the call (anything but
 * CUDA_SUCCESS is returned to the application and the driver is not called); after() runs once
 * the driver returned rc and returns what the application sees. Either may be NULL.
 */
struct hook_interceptor {
    CUresult (*before)(struct hook_call *call);
    CUresult (*after)(struct hook_call *call, CUresult rc);
};

#define HOOK_CLASS_COUNT (GPOOL_API_ASYNC + 1)

extern _Atomic(const struct hook_interceptor *) hook_interceptors[HOOK_CLASS_COUNT];

/* Installs ic (NULL removes) as the only interceptor of every wrapper of class cls, replacing
 * what the class carried (GPOOL_HOOK_TRACE relies on this). Wrappers consult it on every call;
 * ic must stay valid for the life of the process. Only ALLOCATES, FREES and LAUNCHES wrappers
 * have a hook point; installing for another class has no effect. */
void hook_intercept_set(enum gpool_api_class cls, const struct hook_interceptor *ic);

/*
 * Installs ic in front of the interceptor class cls already carries, so that one call runs
 * ic->before, the other's before, the driver, the other's after, then ic->after (which sees the
 * final result). Each of the two sees its own call->state, zero at the start of the call. When
 * the other's before() refuses the call, ic->after runs with that error (so ic can roll back)
 * and its answer is returned. A class carries at most two interceptors: 0, or -1 when it already
 * carries two (nothing changes). Called once at initialisation, before any wrapper runs with it.
 */
int hook_intercept_add(enum gpool_api_class cls, const struct hook_interceptor *ic);

/* The interceptor of class cls, or NULL (the usual case today). */
static inline const struct hook_interceptor *hook_intercept_get(enum gpool_api_class cls)
{
    return atomic_load_explicit(&hook_interceptors[cls], memory_order_acquire);
}

/* Installs the interceptors the environment asks for (GPOOL_HOOK_TRACE); called once, by
 * hook_real_load, after the real driver is loaded. */
void hook_intercept_init(void);

/* vram.c: reads the vGPU configuration (GPOOL_VGPU, GPOOL_VRAM_LIMIT, ...) and, when a vGPU
 * is named, installs the VRAM interceptors on ALLOCATES and FREES. Called by
 * hook_intercept_init. */
void hook_vram_init(void);

/* vram.c: what cuInit adds. Before the driver is initialised (driver_ready 0) it answers
 * CUDA_ERROR_INVALID_VALUE for a bad configuration; after (1), it opens (or creates) the vGPU's
 * ledger. CUDA_SUCCESS without a vGPU. */
CUresult hook_vram_on_init(int driver_ready);

/* vram_graph.c: when a vGPU is named, puts the graph-memory interceptors in front of those
 * already on LAUNCHES (compute.c's) and FREES (vram.c's): graph launches charge the memory their
 * allocation nodes back. Called by hook_intercept_init after hook_compute_init. */
void hook_vram_graph_init(void);

/* compute.c: when a vGPU is named (GPOOL_VGPU), installs the compute-share interceptor on
 * LAUNCHES: every launch waits for the vGPU's GPU-time credit and is charged its measured time.
 * Called by hook_intercept_init. */
void hook_compute_init(void);

/* devtime.c: the device's own figure for this process's GPU time (NVML's per-process
 * utilisation). hook_devtime_start begins measuring on CUDA device dev: 0, or -1 when the figure
 * is not available there (logged once). hook_devtime_read puts the GPU time this process used on
 * dev since the previous read (or the start) in *ns: 0; 1 when the device listed no work of this
 * process in that window (*ns is 0 but not a measurement); -1 when the figure has become
 * unavailable. Callers serialise (compute.c holds its lock). */
int hook_devtime_start(int dev);
int hook_devtime_read(int dev, uint64_t *ns);

#endif /* GPOOL_HOOK_H */
