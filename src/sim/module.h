/*
 * The module layer's private interface, shared by module.c (modules, libraries, functions and
 * their attributes) and launch.c (launches and occupancy) only.
 *
 * A module is PTX parsed by src/ptx (ptx_parse), prepared for the executor (ptx_program_new) and
 * bound to the context that loaded it: its .global/.const variables are device allocations of
 * that context. Its kernels are CUfunction handles. A library (cuLibrary*) keeps the image and
 * loads one module per context on first use; its CUkernel handles name kernels by index and
 * resolve to the CUfunction of the current context's module.
 *
 * Every handle is looked up in a registry before it is dereferenced, so a garbage or stale handle
 * is CUDA_ERROR_INVALID_HANDLE, never a crash.
 */
#ifndef GPOOL_SIM_MODULE_H
#define GPOOL_SIM_MODULE_H

#include "sim.h"

#include "exec.h"

#define SIM_FUNC_MAGIC 0x464e4331u /* "FNC1" */

/* Largest parameter block a launch may pass (CUDA 12.1+: 32764 bytes). */
#define SIM_MAX_PARAM_BYTES 32764u

struct CUfunc_st {
    uint32_t magic;
    struct CUmod_st *mod;
    const struct ptx_function *fn;
    struct ptx_kernel_info info;
    uint32_t max_threads;        /* CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK (info and registers) */
    /* Settable attributes (cuFuncSetAttribute), guarded by the module lock. */
    uint32_t max_dynamic_shared;
    int carveout;
    int cluster_dim[3];
    int non_portable_cluster;
    int cluster_policy;
    int cache_config;
    /* Legacy launch state (cuFuncSetBlockShape, cuFuncSetSharedSize, cuParamSet*). */
    uint32_t legacy_block[3];
    uint32_t legacy_shared;
    uint8_t *legacy_params;      /* SIM_MAX_PARAM_BYTES, allocated on first cuParamSet* */
    uint32_t legacy_param_size;
};

struct CUmod_st {
    uint32_t magic;
    _Atomic int refs;            /* the registry's reference plus one per queued launch */
    struct CUctx_st *ctx;        /* the context it was loaded in */
    int device;
    const struct sim_model *model;
    struct ptx_module *ptx;
    struct ptx_program *prog;
    struct CUfunc_st *funcs;     /* one per kernel (.entry with a body) */
    uint32_t nfuncs;
    uint64_t *var_addr;          /* per ptx variable: its global address, or 0 */
    uint64_t overhead_offset;    /* the module overhead charge */
    int overhead_charged;
    struct CUlib_st *lib;        /* the library that loaded it, or NULL */
};

/* Resolves a CUfunction or CUkernel handle (the latter to its function in the current context,
 * loading the library there first if needed) and takes a reference on its module, which the
 * caller drops with sim_module_put. CUDA_ERROR_INVALID_HANDLE for anything else. */
CUresult sim_module_func_get(CUfunction f, struct CUfunc_st **out);
/* Drops a reference taken by sim_module_func_get or sim_module_ref. */
void sim_module_put(struct CUmod_st *mod);
/* Drops every module of a context being destroyed (called by context.c). */
void sim_module_release_ctx(struct CUctx_st *ctx);
/* Takes one more reference on a module the caller already holds one on. */
void sim_module_ref(struct CUmod_st *mod);

/* Locks guarding the settable and legacy state of functions. */
void sim_module_lock(void);
void sim_module_unlock(void);

#endif
