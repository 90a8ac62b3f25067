/*
 * launch.c: kernel launches (cuLaunchKernel, cuLaunchKernelEx, cooperative and legacy launches)
 * and the occupancy calculator of the simulated GPU.
 *
 * A launch is validated against the device model and the kernel (grid and block limits, threads
 * per block the kernel's registers allow, dynamic shared memory up to the kernel's
 * MAX_DYNAMIC_SHARED_SIZE_BYTES), its parameters are copied into a block laid out as the PTX
 * declares them, and one op is enqueued on the resolved stream. When the op runs it snapshots
 * the context's allocations into the executor's region list, holds the device's engine while
 * src/ptx runs the grid (so kernels time-slice with other contexts and processes) and counts the
 * time as busy. A fault becomes the context's sticky error, reported by the next
 * synchronisation and by every later call on the context, as on a real GPU.
 */
#include "graph.h"
#include "module.h"
#include "stream.h"

#include "gpool/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

#pragma GCC diagnostic ignored "-Wmissing-prototypes"

/* Block and grid limits every model reports (device.c). */
#define MAX_BLOCK_THREADS 1024u
#define MAX_BLOCK_X       1024u
#define MAX_BLOCK_Y       1024u
#define MAX_BLOCK_Z       64u
#define MAX_GRID_X        2147483647u
#define MAX_GRID_YZ       65535u

/* Shared memory is allocated per block in units of this many bytes, plus a reserved 1 KiB per
 * block on compute capability 8.0 and later (CU_DEVICE_ATTRIBUTE_RESERVED_SHARED_MEMORY_PER_BLOCK). */
#define SHARED_GRANULE 128u
/* Registers are allocated per warp in units of this many. */
#define REG_GRANULE 256u

static _Atomic uint32_t g_grid_id = 1;

struct launch_op {
    struct sim_op op;
    struct CUmod_st *mod; /* a reference held until the op is released */
    const struct CUfunc_st *f;
    struct CUctx_st *ctx;
    uint32_t grid[3], block[3];
    uint32_t shared;
    int cooperative;
    uint32_t grid_id;
    uint8_t params[];
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The CUresult a kernel fault becomes. */
static CUresult fault_result(enum ptx_fault fault)
{
    switch (fault) {
    case PTX_FAULT_NONE:
        return CUDA_SUCCESS;
    case PTX_FAULT_ADDRESS:
        return CUDA_ERROR_ILLEGAL_ADDRESS;
    case PTX_FAULT_MISALIGNED:
        return CUDA_ERROR_MISALIGNED_ADDRESS;
    case PTX_FAULT_ASSERT:
        return CUDA_ERROR_ASSERT;
    case PTX_FAULT_NOMEM:
        return CUDA_ERROR_OUT_OF_MEMORY;
    case PTX_FAULT_TRAP:
    case PTX_FAULT_STACK:
    case PTX_FAULT_BARRIER:
        return CUDA_ERROR_LAUNCH_FAILED;
    }
    return CUDA_ERROR_LAUNCH_FAILED;
}

static unsigned host_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned)n : 1u;
}

/* Runs the kernel on the stream's worker. */
static CUresult launch_run(struct sim_op *op)
{
    struct launch_op *l = (struct launch_op *)op;
    const struct CUfunc_st *f = l->f;
    struct sim_mem_span *spans = NULL;
    size_t n = 0;
    CUresult res = sim_mem_snapshot(l->ctx, &spans, &n);
    if (res != CUDA_SUCCESS)
        return res;
    struct ptx_region *regions = n ? calloc(n, sizeof(*regions)) : NULL;
    if (n && !regions) {
        free(spans);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    for (size_t i = 0; i < n; i++) {
        regions[i].base = spans[i].base;
        regions[i].size = spans[i].size;
        regions[i].host = spans[i].host;
    }
    free(spans);

    struct ptx_launch pl = {
        .prog = f->mod->prog,
        .fn = f->fn,
        .grid = {l->grid[0], l->grid[1], l->grid[2]},
        .block = {l->block[0], l->block[1], l->block[2]},
        .dynamic_shared_bytes = l->shared,
        .params = l->params,
        .regions = regions,
        .nregions = n,
        .var_addr = f->mod->var_addr,
        .cooperative = l->cooperative,
        .sm_count = (uint32_t)f->mod->model->sm_count,
        .grid_id = l->grid_id,
        .host_threads = host_threads(),
        .printf_fd = 1,
    };
    struct ptx_result r;
    memset(&r, 0, sizeof(r));
    struct sim_instance *inst = sim_process_instance();
    sim_engine_acquire(inst, l->ctx->device);
    uint64_t t0 = now_ns();
    int rc = ptx_exec_run(&pl, &r);
    uint64_t t1 = now_ns();
    sim_engine_release(inst, l->ctx->device);
    sim_instance_busy_add(inst, l->ctx->device, t1 - t0);
    free(regions);

    if (rc < 0) {
        LOG_ERROR("sim", "kernel %s: the executor could not run it (%s)", f->fn->name,
                  rc == -ENOMEM ? "out of host memory" : "not available in this driver");
        return rc == -ENOMEM ? CUDA_ERROR_OUT_OF_MEMORY : CUDA_ERROR_NOT_SUPPORTED;
    }
    res = fault_result(r.fault);
    if (res != CUDA_SUCCESS)
        LOG_ERROR("sim", "kernel %s on device %d: %s", f->fn->name, l->ctx->device,
                  r.msg[0] ? r.msg : "fault");
    return res;
}

static void launch_release(struct sim_op *op)
{
    struct launch_op *l = (struct launch_op *)op;
    sim_module_put(l->mod);
    free(l);
}

/* ---- Occupancy ------------------------------------------------------------------------------ */

static uint32_t reserved_shared(const struct sim_model *m)
{
    return m->cc_major >= 8 ? 1024u : 0u;
}

/* Blocks of the function that fit on one SM at once with block threads and dyn bytes of dynamic
 * shared memory: the least of the limits by warps, blocks, registers and shared memory
 * (docs/internals/sim.md, "Modules and launches"). 0 when a block cannot run at all. */
static int occupancy_blocks(const struct CUfunc_st *f, uint32_t block, size_t dyn)
{
    const struct sim_model *m = f->mod->model;
    if (block == 0 || block > f->max_threads || dyn > f->max_dynamic_shared)
        return 0;
    uint32_t warps = (block + 31) / 32;
    int best = (int)((uint32_t)m->max_threads_per_sm / 32 / warps);
    if (m->max_blocks_per_sm < best)
        best = m->max_blocks_per_sm;
    if (f->info.num_regs) {
        uint32_t per_warp = (f->info.num_regs * 32 + REG_GRANULE - 1) / REG_GRANULE * REG_GRANULE;
        int by_regs = (int)((uint32_t)m->regs_per_sm / per_warp / warps);
        if (by_regs < best)
            best = by_regs;
    }
    uint64_t smem = (uint64_t)f->info.static_shared_bytes + dyn + reserved_shared(m);
    smem = (smem + SHARED_GRANULE - 1) / SHARED_GRANULE * SHARED_GRANULE;
    if (smem) {
        uint64_t by_smem = (uint64_t)m->shared_per_sm_bytes / smem;
        if (by_smem < (uint64_t)best)
            best = (int)by_smem;
    }
    return best;
}

/* ---- Validation and parameters -------------------------------------------------------------- */

/* Checks grid, block and shared memory against the model and the function. */
static CUresult validate_dims(const struct CUfunc_st *f, const uint32_t grid[3],
                              const uint32_t block[3], uint32_t shared)
{
    if (!grid[0] || !grid[1] || !grid[2] || !block[0] || !block[1] || !block[2])
        return CUDA_ERROR_INVALID_VALUE;
    if (grid[0] > MAX_GRID_X || grid[1] > MAX_GRID_YZ || grid[2] > MAX_GRID_YZ)
        return CUDA_ERROR_INVALID_VALUE;
    if (block[0] > MAX_BLOCK_X || block[1] > MAX_BLOCK_Y || block[2] > MAX_BLOCK_Z)
        return CUDA_ERROR_INVALID_VALUE;
    uint64_t threads = (uint64_t)block[0] * block[1] * block[2];
    if (threads > MAX_BLOCK_THREADS)
        return CUDA_ERROR_INVALID_VALUE;
    const uint32_t *req = f->fn->reqntid;
    if (req[0] && (block[0] != req[0] || block[1] != (req[1] ? req[1] : 1) ||
                   block[2] != (req[2] ? req[2] : 1)))
        return CUDA_ERROR_INVALID_VALUE;
    if (threads > f->max_threads)
        return CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES;
    if (shared > f->max_dynamic_shared)
        return CUDA_ERROR_INVALID_VALUE;
    return CUDA_SUCCESS;
}

/* The bytes a packed parameter buffer must at least hold: the end of the last parameter. */
static uint32_t params_end(const struct ptx_function *fn)
{
    uint32_t end = 0;
    for (uint32_t i = 0; i < fn->nparams; i++) {
        uint32_t e = fn->params[i].offset + fn->params[i].size;
        if (e > end)
            end = e;
    }
    return end;
}

/* Copies the launch's arguments into out (fn->param_size bytes, zeroed): one pointer per
 * parameter in kernelParams, or one buffer given through extra, whose size must lie between the
 * end of the last parameter and the padded size of the parameter block. */
static CUresult copy_params(const struct ptx_function *fn, void **kernelParams, void **extra,
                            uint8_t *out)
{
    if (kernelParams && extra)
        return CUDA_ERROR_INVALID_VALUE;
    if (kernelParams) {
        for (uint32_t i = 0; i < fn->nparams; i++) {
            if (!kernelParams[i])
                return CUDA_ERROR_INVALID_VALUE;
            memcpy(out + fn->params[i].offset, kernelParams[i], fn->params[i].size);
        }
        return CUDA_SUCCESS;
    }
    if (!extra)
        return fn->nparams ? CUDA_ERROR_INVALID_VALUE : CUDA_SUCCESS;
    const void *buf = NULL;
    size_t size = 0;
    int have_size = 0;
    for (unsigned i = 0;; i += 2) {
        if (i >= 64) /* an unterminated list: refuse rather than read on */
            return CUDA_ERROR_INVALID_VALUE;
        void *key = extra[i];
        if (key == CU_LAUNCH_PARAM_END)
            break;
        if (key == CU_LAUNCH_PARAM_BUFFER_POINTER) {
            buf = extra[i + 1];
        } else if (key == CU_LAUNCH_PARAM_BUFFER_SIZE) {
            if (!extra[i + 1])
                return CUDA_ERROR_INVALID_VALUE;
            size = *(const size_t *)extra[i + 1];
            have_size = 1;
        } else {
            return CUDA_ERROR_INVALID_VALUE;
        }
    }
    if (!have_size || size == 0)
        return fn->nparams ? CUDA_ERROR_INVALID_VALUE : CUDA_SUCCESS;
    if (!buf || size < params_end(fn) || size > fn->param_size)
        return CUDA_ERROR_INVALID_VALUE;
    memcpy(out, buf, size);
    return CUDA_SUCCESS;
}

/* Everything a launch needs, whichever entry point it came through. */
struct launch_args {
    uint32_t grid[3], block[3];
    uint32_t shared;
    CUstream stream;
    int per_thread;
    int cooperative;
    void **params;
    void **extra;
    int legacy; /* parameters from cuParamSet* */
};

static CUresult launch(CUfunction hf, const struct launch_args *a)
{
    struct CUctx_st *ctx;
    struct sim_stream *s;
    CUresult res = sim_stream_resolve(a->stream, a->per_thread, &ctx, &s);
    if (res != CUDA_SUCCESS)
        return res;
    if ((res = sim_ctx_sticky(ctx)) != CUDA_SUCCESS)
        return res;
    int capturing = 0;
    if (atomic_load(&sim_capture_streams) &&
        (res = sim_capture_check(s, 0, &capturing)) != CUDA_SUCCESS)
        return res;
    struct CUfunc_st *f;
    if ((res = sim_module_func_get(hf, &f)) != CUDA_SUCCESS)
        return res;
    struct launch_op *l = NULL;
    if (f->mod->ctx != ctx) {
        res = CUDA_ERROR_INVALID_CONTEXT;
        goto fail;
    }
    sim_module_lock();
    res = validate_dims(f, a->grid, a->block, a->shared);
    if (res == CUDA_SUCCESS && a->cooperative) {
        uint32_t threads = a->block[0] * a->block[1] * a->block[2];
        uint64_t blocks = (uint64_t)a->grid[0] * a->grid[1] * a->grid[2];
        uint64_t fit = (uint64_t)occupancy_blocks(f, threads, a->shared) *
                       (uint64_t)f->mod->model->sm_count;
        if (blocks > fit)
            res = CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE;
    }
    sim_module_unlock();
    if (res != CUDA_SUCCESS)
        goto fail;
    l = calloc(1, sizeof(*l) + f->fn->param_size);
    if (!l) {
        res = CUDA_ERROR_OUT_OF_MEMORY;
        goto fail;
    }
    if (a->legacy) {
        sim_module_lock();
        uint32_t size = f->legacy_param_size;
        if (size && (size < params_end(f->fn) || size > f->fn->param_size))
            res = CUDA_ERROR_INVALID_VALUE;
        else if (!size && f->fn->nparams)
            res = CUDA_ERROR_INVALID_VALUE;
        else if (size)
            memcpy(l->params, f->legacy_params, size);
        sim_module_unlock();
    } else {
        res = copy_params(f->fn, a->params, a->extra, l->params);
    }
    if (res != CUDA_SUCCESS)
        goto fail;
    l->op.run = launch_run;
    l->op.engine = 1;
    l->op.release = launch_release;
    l->mod = f->mod;
    l->f = f;
    l->ctx = ctx;
    memcpy(l->grid, a->grid, sizeof(l->grid));
    memcpy(l->block, a->block, sizeof(l->block));
    l->shared = a->shared;
    l->cooperative = a->cooperative;
    l->grid_id = atomic_fetch_add(&g_grid_id, 1);
    if (capturing) {
        /* The work becomes a kernel node of the capture graph (which copies what it needs). */
        struct sim_kernel_node k = {
            .handle = hf, .f = f, .mod = f->mod, .ctx = ctx, .shared = a->shared,
            .cooperative = a->cooperative, .size = f->fn->param_size, .params = l->params,
        };
        memcpy(k.grid, a->grid, sizeof(k.grid));
        memcpy(k.block, a->block, sizeof(k.block));
        res = sim_capture_kernel(s, &k);
        goto fail;
    }
    /* The op owns the module reference from here. */
    res = sim_stream_enqueue(s, &l->op);
    if (res != CUDA_SUCCESS) {
        free(l);
        sim_module_put(f->mod);
    }
    return res;

fail:
    free(l);
    sim_module_put(f->mod);
    return res;
}

/* ---- Graph kernel nodes (graph.h) ---------------------------------------------------------- */

static CUresult kernel_node_argv(struct sim_kernel_node *k)
{
    const struct ptx_function *fn = k->f->fn;
    k->nargs = fn->nparams;
    k->argv = NULL;
    if (!fn->nparams)
        return CUDA_SUCCESS;
    k->argv = calloc(fn->nparams, sizeof(*k->argv));
    if (!k->argv)
        return CUDA_ERROR_OUT_OF_MEMORY;
    for (uint32_t i = 0; i < fn->nparams; i++)
        k->argv[i] = k->params + fn->params[i].offset;
    return CUDA_SUCCESS;
}

/* Validates a kernel node's launch in ctx and copies its arguments (see graph.h). */
CUresult sim_kernel_node_init(struct sim_kernel_node *k, struct CUctx_st *ctx, CUfunction hf,
                              const uint32_t grid[3], const uint32_t block[3], uint32_t shared,
                              void **params, void **extra)
{
    memset(k, 0, sizeof(*k));
    struct CUfunc_st *f;
    CUresult res = sim_module_func_get(hf, &f);
    if (res != CUDA_SUCCESS)
        return res;
    k->handle = hf;
    k->f = f;
    k->mod = f->mod;
    k->ctx = ctx;
    memcpy(k->grid, grid, sizeof(k->grid));
    memcpy(k->block, block, sizeof(k->block));
    k->shared = shared;
    if (!ctx) /* a CUfunction names its context */
        ctx = k->ctx = f->mod->ctx;
    if (f->mod->ctx != ctx) {
        res = CUDA_ERROR_INVALID_CONTEXT;
        goto fail;
    }
    sim_module_lock();
    res = validate_dims(f, grid, block, shared);
    sim_module_unlock();
    if (res != CUDA_SUCCESS)
        goto fail;
    k->size = f->fn->param_size;
    k->params = calloc(1, k->size ? k->size : 1);
    if (!k->params) {
        res = CUDA_ERROR_OUT_OF_MEMORY;
        goto fail;
    }
    if ((res = copy_params(f->fn, params, extra, k->params)) != CUDA_SUCCESS)
        goto fail;
    if ((res = kernel_node_argv(k)) != CUDA_SUCCESS)
        goto fail;
    return CUDA_SUCCESS;
fail:
    sim_kernel_node_fini(k);
    return res;
}

/* Deep-copies a kernel node's launch (see graph.h). */
CUresult sim_kernel_node_copy(struct sim_kernel_node *dst, const struct sim_kernel_node *src)
{
    *dst = *src;
    dst->argv = NULL;
    dst->params = malloc(src->size ? src->size : 1);
    if (!dst->params) {
        memset(dst, 0, sizeof(*dst));
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    memcpy(dst->params, src->params, src->size);
    sim_module_ref(dst->mod);
    if (kernel_node_argv(dst) != CUDA_SUCCESS) {
        sim_kernel_node_fini(dst);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    return CUDA_SUCCESS;
}

/* Releases a kernel node's launch (see graph.h). */
void sim_kernel_node_fini(struct sim_kernel_node *k)
{
    if (k->mod)
        sim_module_put(k->mod);
    free(k->params);
    free(k->argv);
    memset(k, 0, sizeof(*k));
}

/* Runs a kernel node on the calling thread (see graph.h). */
CUresult sim_kernel_node_run(const struct sim_kernel_node *k)
{
    struct launch_op *l = calloc(1, sizeof(*l) + k->size);
    if (!l)
        return CUDA_ERROR_OUT_OF_MEMORY;
    l->f = k->f;
    l->ctx = k->ctx;
    memcpy(l->grid, k->grid, sizeof(l->grid));
    memcpy(l->block, k->block, sizeof(l->block));
    l->shared = k->shared;
    l->cooperative = k->cooperative;
    l->grid_id = atomic_fetch_add(&g_grid_id, 1);
    memcpy(l->params, k->params, k->size);
    CUresult res = launch_run(&l->op);
    free(l);
    return res;
}

/* ---- Launch entry points -------------------------------------------------------------------- */

static CUresult launch_kernel(CUfunction f, unsigned int gx, unsigned int gy, unsigned int gz,
                              unsigned int bx, unsigned int by, unsigned int bz,
                              unsigned int shared, CUstream stream, void **params, void **extra,
                              int per_thread, int cooperative)
{
    struct launch_args a = {
        .grid = {gx, gy, gz},
        .block = {bx, by, bz},
        .shared = shared,
        .stream = stream,
        .per_thread = per_thread,
        .cooperative = cooperative,
        .params = params,
        .extra = extra,
    };
    return launch(f, &a);
}

EXPORT CUresult cuLaunchKernel(CUfunction f, unsigned int gridDimX, unsigned int gridDimY,
                               unsigned int gridDimZ, unsigned int blockDimX,
                               unsigned int blockDimY, unsigned int blockDimZ,
                               unsigned int sharedMemBytes, CUstream hStream, void **kernelParams,
                               void **extra)
{
    return launch_kernel(f, gridDimX, gridDimY, gridDimZ, blockDimX, blockDimY, blockDimZ,
                         sharedMemBytes, hStream, kernelParams, extra, 0, 0);
}

EXPORT CUresult cuLaunchKernel_ptsz(CUfunction f, unsigned int gridDimX, unsigned int gridDimY,
                                    unsigned int gridDimZ, unsigned int blockDimX,
                                    unsigned int blockDimY, unsigned int blockDimZ,
                                    unsigned int sharedMemBytes, CUstream hStream,
                                    void **kernelParams, void **extra)
{
    return launch_kernel(f, gridDimX, gridDimY, gridDimZ, blockDimX, blockDimY, blockDimZ,
                         sharedMemBytes, hStream, kernelParams, extra, 1, 0);
}

EXPORT CUresult cuLaunchCooperativeKernel(CUfunction f, unsigned int gridDimX,
                                          unsigned int gridDimY, unsigned int gridDimZ,
                                          unsigned int blockDimX, unsigned int blockDimY,
                                          unsigned int blockDimZ, unsigned int sharedMemBytes,
                                          CUstream hStream, void **kernelParams)
{
    return launch_kernel(f, gridDimX, gridDimY, gridDimZ, blockDimX, blockDimY, blockDimZ,
                         sharedMemBytes, hStream, kernelParams, NULL, 0, 1);
}

EXPORT CUresult cuLaunchCooperativeKernel_ptsz(CUfunction f, unsigned int gridDimX,
                                               unsigned int gridDimY, unsigned int gridDimZ,
                                               unsigned int blockDimX, unsigned int blockDimY,
                                               unsigned int blockDimZ,
                                               unsigned int sharedMemBytes, CUstream hStream,
                                               void **kernelParams)
{
    return launch_kernel(f, gridDimX, gridDimY, gridDimZ, blockDimX, blockDimY, blockDimZ,
                         sharedMemBytes, hStream, kernelParams, NULL, 1, 1);
}

/* Applies the attributes of a cuLaunchKernelEx configuration: cooperative launches run, cluster
 * dimensions above one block are not supported, hints are accepted, and attributes that are
 * only valid for streams or graphs are refused. */
static CUresult apply_launch_attrs(const CUlaunchConfig *config, struct launch_args *a)
{
    if (config->numAttrs && !config->attrs)
        return CUDA_ERROR_INVALID_VALUE;
    for (unsigned int i = 0; i < config->numAttrs; i++) {
        const CUlaunchAttribute *at = &config->attrs[i];
        switch (at->id) {
        case CU_LAUNCH_ATTRIBUTE_IGNORE:
            break;
        case CU_LAUNCH_ATTRIBUTE_COOPERATIVE:
            a->cooperative = at->value.cooperative != 0;
            break;
        case CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION: {
            uint64_t n = (uint64_t)at->value.clusterDim.x * at->value.clusterDim.y *
                         at->value.clusterDim.z;
            if (n == 0)
                return CUDA_ERROR_INVALID_VALUE;
            if (n > 1) {
                LOG_DEBUG("sim", "cuLaunchKernelEx: thread block clusters (%ux%ux%u) are not "
                                 "supported by the simulated GPU",
                          at->value.clusterDim.x, at->value.clusterDim.y, at->value.clusterDim.z);
                return CUDA_ERROR_NOT_SUPPORTED;
            }
            break;
        }
        case CU_LAUNCH_ATTRIBUTE_PRIORITY:
        case CU_LAUNCH_ATTRIBUTE_ACCESS_POLICY_WINDOW:
        case CU_LAUNCH_ATTRIBUTE_CLUSTER_SCHEDULING_POLICY_PREFERENCE:
        case CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION:
        case CU_LAUNCH_ATTRIBUTE_MEM_SYNC_DOMAIN_MAP:
        case CU_LAUNCH_ATTRIBUTE_MEM_SYNC_DOMAIN:
        case CU_LAUNCH_ATTRIBUTE_PREFERRED_CLUSTER_DIMENSION:
        case CU_LAUNCH_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT:
        case CU_LAUNCH_ATTRIBUTE_NVLINK_UTIL_CENTRIC_SCHEDULING:
            break; /* hints: a launch that runs in stream order honours them all */
        case CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_EVENT:
        case CU_LAUNCH_ATTRIBUTE_LAUNCH_COMPLETION_EVENT:
            return CUDA_ERROR_NOT_SUPPORTED;
        default: /* stream-only (SYNCHRONIZATION_POLICY), graph-only, or unknown */
            return CUDA_ERROR_INVALID_VALUE;
        }
    }
    return CUDA_SUCCESS;
}

static CUresult launch_ex(const CUlaunchConfig *config, CUfunction f, void **kernelParams,
                          void **extra, int per_thread)
{
    CUresult res = sim_process_check();
    if (res != CUDA_SUCCESS)
        return res;
    if (!config)
        return CUDA_ERROR_INVALID_VALUE;
    struct launch_args a = {
        .grid = {config->gridDimX, config->gridDimY, config->gridDimZ},
        .block = {config->blockDimX, config->blockDimY, config->blockDimZ},
        .shared = config->sharedMemBytes,
        .stream = config->hStream,
        .per_thread = per_thread,
        .params = kernelParams,
        .extra = extra,
    };
    if ((res = apply_launch_attrs(config, &a)) != CUDA_SUCCESS)
        return res;
    return launch(f, &a);
}

EXPORT CUresult cuLaunchKernelEx(const CUlaunchConfig *config, CUfunction f, void **kernelParams,
                                 void **extra)
{
    return launch_ex(config, f, kernelParams, extra, 0);
}

EXPORT CUresult cuLaunchKernelEx_ptsz(const CUlaunchConfig *config, CUfunction f,
                                      void **kernelParams, void **extra)
{
    return launch_ex(config, f, kernelParams, extra, 1);
}

/* ---- Legacy launch state -------------------------------------------------------------------- */

EXPORT CUresult cuFuncSetBlockShape(CUfunction hfunc, int x, int y, int z)
{
    struct CUfunc_st *f;
    CUresult res = sim_module_func_get(hfunc, &f);
    if (res != CUDA_SUCCESS)
        return res;
    if (x <= 0 || y <= 0 || z <= 0) {
        res = CUDA_ERROR_INVALID_VALUE;
    } else {
        sim_module_lock();
        f->legacy_block[0] = (uint32_t)x;
        f->legacy_block[1] = (uint32_t)y;
        f->legacy_block[2] = (uint32_t)z;
        sim_module_unlock();
    }
    sim_module_put(f->mod);
    return res;
}

EXPORT CUresult cuFuncSetSharedSize(CUfunction hfunc, unsigned int bytes)
{
    struct CUfunc_st *f;
    CUresult res = sim_module_func_get(hfunc, &f);
    if (res != CUDA_SUCCESS)
        return res;
    sim_module_lock();
    f->legacy_shared = bytes;
    sim_module_unlock();
    sim_module_put(f->mod);
    return CUDA_SUCCESS;
}

/* Writes bytes into the function's legacy parameter buffer (allocated on first use). */
static CUresult param_write(CUfunction hfunc, int offset, const void *p, size_t n, int set_size)
{
    struct CUfunc_st *f;
    CUresult res = sim_module_func_get(hfunc, &f);
    if (res != CUDA_SUCCESS)
        return res;
    if (offset < 0 || (size_t)offset + n > SIM_MAX_PARAM_BYTES || (n && !p)) {
        sim_module_put(f->mod);
        return CUDA_ERROR_INVALID_VALUE;
    }
    sim_module_lock();
    if (!f->legacy_params)
        f->legacy_params = calloc(1, SIM_MAX_PARAM_BYTES);
    if (!f->legacy_params) {
        res = CUDA_ERROR_OUT_OF_MEMORY;
    } else if (set_size) {
        f->legacy_param_size = (uint32_t)offset;
    } else if (n) {
        memcpy(f->legacy_params + offset, p, n);
    }
    sim_module_unlock();
    sim_module_put(f->mod);
    return res;
}

EXPORT CUresult cuParamSetSize(CUfunction hfunc, unsigned int numbytes)
{
    if (numbytes > SIM_MAX_PARAM_BYTES)
        return CUDA_ERROR_INVALID_VALUE;
    return param_write(hfunc, (int)numbytes, NULL, 0, 1);
}

EXPORT CUresult cuParamSeti(CUfunction hfunc, int offset, unsigned int value)
{
    return param_write(hfunc, offset, &value, sizeof(value), 0);
}

EXPORT CUresult cuParamSetf(CUfunction hfunc, int offset, float value)
{
    return param_write(hfunc, offset, &value, sizeof(value), 0);
}

EXPORT CUresult cuParamSetv(CUfunction hfunc, int offset, void *ptr, unsigned int numbytes)
{
    return param_write(hfunc, offset, ptr, numbytes, 0);
}

/* A legacy launch: the block shape, shared size and parameters set on the function. */
static CUresult launch_legacy(CUfunction hf, int gw, int gh, CUstream stream)
{
    CUresult res = sim_process_check();
    if (res != CUDA_SUCCESS)
        return res;
    if (gw <= 0 || gh <= 0)
        return CUDA_ERROR_INVALID_VALUE;
    struct CUfunc_st *f;
    if ((res = sim_module_func_get(hf, &f)) != CUDA_SUCCESS)
        return res;
    struct launch_args a = {.grid = {(uint32_t)gw, (uint32_t)gh, 1}, .stream = stream, .legacy = 1};
    sim_module_lock();
    memcpy(a.block, f->legacy_block, sizeof(a.block));
    a.shared = f->legacy_shared;
    sim_module_unlock();
    sim_module_put(f->mod);
    if (!a.block[0]) /* no cuFuncSetBlockShape yet */
        return CUDA_ERROR_INVALID_VALUE;
    return launch(hf, &a);
}

EXPORT CUresult cuLaunch(CUfunction f)
{
    return launch_legacy(f, 1, 1, NULL);
}

EXPORT CUresult cuLaunchGrid(CUfunction f, int grid_width, int grid_height)
{
    return launch_legacy(f, grid_width, grid_height, NULL);
}

EXPORT CUresult cuLaunchGridAsync(CUfunction f, int grid_width, int grid_height,
                                  CUstream hStream)
{
    return launch_legacy(f, grid_width, grid_height, hStream);
}

/* ---- Occupancy entry points ----------------------------------------------------------------- */

static CUresult check_flags(unsigned int flags)
{
    return flags == CU_OCCUPANCY_DEFAULT || flags == CU_OCCUPANCY_DISABLE_CACHING_OVERRIDE
               ? CUDA_SUCCESS
               : CUDA_ERROR_INVALID_VALUE;
}

EXPORT CUresult cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags(int *numBlocks,
                                                                     CUfunction func,
                                                                     int blockSize,
                                                                     size_t dynamicSMemSize,
                                                                     unsigned int flags)
{
    struct CUfunc_st *f;
    CUresult res = sim_module_func_get(func, &f);
    if (res != CUDA_SUCCESS)
        return res;
    if (!numBlocks || blockSize <= 0 || check_flags(flags) != CUDA_SUCCESS) {
        res = CUDA_ERROR_INVALID_VALUE;
    } else {
        sim_module_lock();
        *numBlocks = occupancy_blocks(f, (uint32_t)blockSize, dynamicSMemSize);
        sim_module_unlock();
    }
    sim_module_put(f->mod);
    return res;
}

EXPORT CUresult cuOccupancyMaxActiveBlocksPerMultiprocessor(int *numBlocks, CUfunction func,
                                                            int blockSize, size_t dynamicSMemSize)
{
    return cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags(numBlocks, func, blockSize,
                                                                dynamicSMemSize,
                                                                CU_OCCUPANCY_DEFAULT);
}

/* The block size with the most resident threads per SM (the largest such size on a tie), tried
 * from the largest allowed down in steps of a warp, as the CUDA occupancy calculator does. */
EXPORT CUresult cuOccupancyMaxPotentialBlockSizeWithFlags(
    int *minGridSize, int *blockSize, CUfunction func,
    CUoccupancyB2DSize blockSizeToDynamicSMemSize, size_t dynamicSMemSize, int blockSizeLimit,
    unsigned int flags)
{
    struct CUfunc_st *f;
    CUresult res = sim_module_func_get(func, &f);
    if (res != CUDA_SUCCESS)
        return res;
    if (!minGridSize || !blockSize || blockSizeLimit < 0 || check_flags(flags) != CUDA_SUCCESS) {
        sim_module_put(f->mod);
        return CUDA_ERROR_INVALID_VALUE;
    }
    const struct sim_model *m = f->mod->model;
    sim_module_lock();
    uint32_t limit = f->max_threads;
    sim_module_unlock();
    if (blockSizeLimit > 0 && (uint32_t)blockSizeLimit < limit)
        limit = (uint32_t)blockSizeLimit;
    int best_threads = 0, best_block = 0, best_blocks = 0;
    for (uint32_t aligned = (limit + 31) / 32 * 32; aligned > 0; aligned -= 32) {
        uint32_t b = aligned < limit ? aligned : limit;
        size_t dyn = blockSizeToDynamicSMemSize ? blockSizeToDynamicSMemSize((int)b)
                                                : dynamicSMemSize;
        sim_module_lock();
        int blocks = occupancy_blocks(f, b, dyn);
        sim_module_unlock();
        if (blocks * (int)b > best_threads) {
            best_threads = blocks * (int)b;
            best_block = (int)b;
            best_blocks = blocks;
        }
        if (best_threads >= m->max_threads_per_sm)
            break;
    }
    *minGridSize = best_blocks * m->sm_count;
    *blockSize = best_block;
    sim_module_put(f->mod);
    return CUDA_SUCCESS;
}

EXPORT CUresult cuOccupancyMaxPotentialBlockSize(int *minGridSize, int *blockSize,
                                                 CUfunction func,
                                                 CUoccupancyB2DSize blockSizeToDynamicSMemSize,
                                                 size_t dynamicSMemSize, int blockSizeLimit)
{
    return cuOccupancyMaxPotentialBlockSizeWithFlags(minGridSize, blockSize, func,
                                                     blockSizeToDynamicSMemSize, dynamicSMemSize,
                                                     blockSizeLimit, CU_OCCUPANCY_DEFAULT);
}

/* The most dynamic shared memory each block may use so that numBlocks blocks of blockSize
 * threads fit on one SM: 0 when they do not fit even without any. */
EXPORT CUresult cuOccupancyAvailableDynamicSMemPerBlock(size_t *dynamicSmemSize, CUfunction func,
                                                        int numBlocks, int blockSize)
{
    struct CUfunc_st *f;
    CUresult res = sim_module_func_get(func, &f);
    if (res != CUDA_SUCCESS)
        return res;
    if (!dynamicSmemSize || numBlocks <= 0 || blockSize <= 0) {
        sim_module_put(f->mod);
        return CUDA_ERROR_INVALID_VALUE;
    }
    const struct sim_model *m = f->mod->model;
    sim_module_lock();
    size_t avail = 0;
    if (occupancy_blocks(f, (uint32_t)blockSize, 0) >= numBlocks) {
        uint64_t per = (uint64_t)m->shared_per_sm_bytes / (uint64_t)numBlocks;
        per = per / SHARED_GRANULE * SHARED_GRANULE;
        uint64_t used = (uint64_t)f->info.static_shared_bytes + reserved_shared(m);
        avail = per > used ? (size_t)(per - used) : 0;
        if (avail > f->max_dynamic_shared)
            avail = f->max_dynamic_shared;
    }
    sim_module_unlock();
    *dynamicSmemSize = avail;
    sim_module_put(f->mod);
    return CUDA_SUCCESS;
}

/* The cluster size a configuration would need: clusters are not supported, so 1. */
static CUresult cluster_size(const CUlaunchConfig *config, uint64_t *size)
{
    *size = 1;
    if (config->numAttrs && !config->attrs)
        return CUDA_ERROR_INVALID_VALUE;
    for (unsigned int i = 0; i < config->numAttrs; i++) {
        if (config->attrs[i].id == CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION)
            *size = (uint64_t)config->attrs[i].value.clusterDim.x *
                    config->attrs[i].value.clusterDim.y * config->attrs[i].value.clusterDim.z;
    }
    return *size == 0 ? CUDA_ERROR_INVALID_VALUE : CUDA_SUCCESS;
}

EXPORT CUresult cuOccupancyMaxPotentialClusterSize(int *clusterSize, CUfunction func,
                                                   const CUlaunchConfig *config)
{
    struct CUfunc_st *f;
    CUresult res = sim_module_func_get(func, &f);
    if (res != CUDA_SUCCESS)
        return res;
    if (!clusterSize || !config) {
        res = CUDA_ERROR_INVALID_VALUE;
    } else {
        uint32_t block[3] = {config->blockDimX, config->blockDimY, config->blockDimZ};
        uint64_t threads = (uint64_t)block[0] * block[1] * block[2];
        sim_module_lock();
        int fits = threads && threads <= f->max_threads &&
                   occupancy_blocks(f, (uint32_t)threads, config->sharedMemBytes) > 0;
        sim_module_unlock();
        *clusterSize = fits ? 1 : 0;
    }
    sim_module_put(f->mod);
    return res;
}

/* Clusters that can be resident at once: with clusters of one block, the blocks that fit on
 * every SM; larger clusters are not supported. */
EXPORT CUresult cuOccupancyMaxActiveClusters(int *numClusters, CUfunction func,
                                             const CUlaunchConfig *config)
{
    struct CUfunc_st *f;
    CUresult res = sim_module_func_get(func, &f);
    if (res != CUDA_SUCCESS)
        return res;
    uint64_t cs = 1;
    if (!numClusters || !config) {
        res = CUDA_ERROR_INVALID_VALUE;
    } else if ((res = cluster_size(config, &cs)) == CUDA_SUCCESS && cs > 1) {
        res = CUDA_ERROR_NOT_SUPPORTED;
    } else if (res == CUDA_SUCCESS) {
        uint64_t threads =
            (uint64_t)config->blockDimX * config->blockDimY * config->blockDimZ;
        sim_module_lock();
        int blocks = threads > MAX_BLOCK_THREADS
                         ? 0
                         : occupancy_blocks(f, (uint32_t)threads, config->sharedMemBytes);
        sim_module_unlock();
        *numClusters = blocks * f->mod->model->sm_count;
    }
    sim_module_put(f->mod);
    return res;
}
