/*
 * module.c: modules (cuModule*), libraries and kernels (cuLibrary*, cuKernel*) and function
 * attributes (cuFunc*) of the simulated GPU.
 *
 * Loading takes PTX text, or a fatbin holding PTX (src/fatbin picks the entry for the device's
 * compute capability), parses it with src/ptx, prepares it for the executor, charges the model's
 * per-module overhead and allocates every .global/.const variable as a device allocation of the
 * loading context (initialised from the PTX, freed at unload). A PTX the front end rejects is
 * CUDA_ERROR_INVALID_PTX with "line N: message" in the JIT error log.
 *
 * Modules whose context was destroyed are not unloaded by the context layer; their handles fail
 * with CUDA_ERROR_CONTEXT_IS_DESTROYED, and the next load in this process reaps them (releasing
 * the overhead charge; their variables went with the context's allocations).
 */
#include "module.h"
#include "driver.h"

#include "fatbin.h"
#include "gpool/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "stream.h"

#define EXPORT __attribute__((visibility("default")))

#pragma GCC diagnostic ignored "-Wmissing-prototypes"

#define MOD_MAGIC  0x4d4f4431u /* "MOD1" */
#define LIB_MAGIC  0x4c494231u /* "LIB1" */
#define KERN_MAGIC 0x4b524e31u /* "KRN1" */

/* Largest file cuModuleLoad / cuLibraryLoadFromFile reads. */
#define MAX_IMAGE_FILE ((size_t)1 << 30)

struct lib_module {
    struct CUctx_st *ctx;
    struct CUmod_st *mod;
    struct lib_module *next;
};

struct CUkern_st {
    uint32_t magic;
    struct CUlib_st *lib;
    const char *name; /* borrowed from the library's parsed module */
    /* Attributes set with cuKernelSetAttribute, applied to each context's function. */
    int has_max_dynamic_shared;
    uint32_t max_dynamic_shared;
    int carveout;
};

struct CUlib_st {
    uint32_t magic;
    uint8_t *image;          /* a private copy: PTX text (NUL-terminated) or a fatbin */
    size_t len;
    struct ptx_module *names; /* parsed once for the kernel and variable names */
    struct CUkern_st *kernels;
    uint32_t nkernels;
    struct lib_module *mods; /* one module per context it was used in */
};

/* The registries of live handles, and the lock that guards them and functions' settable state. */
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sim_handle_set g_modules, g_funcs, g_libs, g_kernels;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

void sim_module_lock(void)
{
    pthread_mutex_lock(&g_lock);
}

void sim_module_unlock(void)
{
    pthread_mutex_unlock(&g_lock);
}

static void fork_prepare(void)
{
    pthread_mutex_lock(&g_lock);
}

static void fork_parent(void)
{
    pthread_mutex_unlock(&g_lock);
}

/* In the child: CUDA state does not cross fork, so every handle is forgotten (the memory stays
 * reachable from nowhere; the child must load its modules again). */
static void fork_child(void)
{
    memset(&g_modules, 0, sizeof(g_modules));
    memset(&g_funcs, 0, sizeof(g_funcs));
    memset(&g_libs, 0, sizeof(g_libs));
    memset(&g_kernels, 0, sizeof(g_kernels));
    pthread_mutex_init(&g_lock, NULL);
}

static void module_init_once(void)
{
    pthread_atfork(fork_prepare, fork_parent, fork_child);
}

/* ---- JIT options ------------------------------------------------------------------------- */

struct jit_opts {
    char *info_log, *error_log;
    size_t info_size, error_size;
    int info_size_at, error_size_at, wall_time_at; /* option index to write back, or -1 */
    int verbose;
    unsigned int options;
    CUjit_option *keys;
    void **values;
};

/* Reads the JIT options of cuModuleLoadDataEx / cuLibraryLoad*: the log buffers are used, the
 * code-generation options have nothing to act on in an interpreter and are accepted. */
static CUresult jit_opts_parse(struct jit_opts *o, unsigned int n, CUjit_option *keys,
                               void **values)
{
    memset(o, 0, sizeof(*o));
    o->info_size_at = o->error_size_at = o->wall_time_at = -1;
    if (n == 0)
        return CUDA_SUCCESS;
    if (!keys || !values)
        return CUDA_ERROR_INVALID_VALUE;
    o->options = n;
    o->keys = keys;
    o->values = values;
    for (unsigned int i = 0; i < n; i++) {
        switch (keys[i]) {
        case CU_JIT_INFO_LOG_BUFFER:
            o->info_log = values[i];
            break;
        case CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES:
            o->info_size = (size_t)(uintptr_t)values[i] & 0xffffffffu;
            o->info_size_at = (int)i;
            break;
        case CU_JIT_ERROR_LOG_BUFFER:
            o->error_log = values[i];
            break;
        case CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES:
            o->error_size = (size_t)(uintptr_t)values[i] & 0xffffffffu;
            o->error_size_at = (int)i;
            break;
        case CU_JIT_WALL_TIME:
            o->wall_time_at = (int)i;
            break;
        case CU_JIT_LOG_VERBOSE:
            o->verbose = (int)(intptr_t)values[i] != 0;
            break;
        default:
            if ((unsigned)keys[i] >= (unsigned)CU_JIT_NUM_OPTIONS)
                return CUDA_ERROR_INVALID_VALUE;
            break; /* accepted: no code generation to tune */
        }
    }
    if (!o->info_log)
        o->info_size = 0;
    if (!o->error_log)
        o->error_size = 0;
    if (o->info_size)
        o->info_log[0] = '\0';
    if (o->error_size)
        o->error_log[0] = '\0';
    return CUDA_SUCCESS;
}

/* Writes text to a log buffer, capped at its size including the terminator, and the amount
 * written back into the size option (its OUT value). */
static void jit_log(char *buf, size_t size, int size_at, const struct jit_opts *o,
                    const char *text)
{
    size_t n = 0;
    if (buf && size) {
        n = strlen(text);
        if (n > size - 1)
            n = size - 1;
        memcpy(buf, text, n);
        buf[n] = '\0';
    }
    if (size_at >= 0)
        o->values[size_at] = (void *)(uintptr_t)n;
}

static void jit_error(const struct jit_opts *o, const char *text)
{
    jit_log(o->error_log, o->error_size, o->error_size_at, o, text);
}

static void jit_info(const struct jit_opts *o, const char *text)
{
    jit_log(o->info_log, o->info_size, o->info_size_at, o, text);
}

static void jit_wall_time(const struct jit_opts *o, float ms)
{
    if (o->wall_time_at >= 0)
        memcpy(&o->values[o->wall_time_at], &ms, sizeof(ms));
}

/* ---- Images ------------------------------------------------------------------------------ */

enum image_kind { IMAGE_PTX, IMAGE_FATBIN, IMAGE_ELF };

static uint32_t read_u32(const void *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

static enum image_kind image_kind(const void *image, size_t len)
{
    if (len >= 4) {
        uint32_t m = read_u32(image);
        if (m == FATBIN_WRAPPER_MAGIC || m == FATBIN_CONTAINER_MAGIC)
            return IMAGE_FATBIN;
        if (memcmp(image, "\177ELF", 4) == 0)
            return IMAGE_ELF;
    }
    return IMAGE_PTX;
}

/* The length of a non-fatbin image reached through a bare pointer: PTX up to its NUL
 * terminator; a cubin only needs its magic to be recognised and refused. */
static CUresult image_measure(const void *image, size_t *len, char *msg, size_t msgsz)
{
    if (memcmp(image, "\177ELF", 4) == 0) {
        *len = 4;
        return CUDA_SUCCESS;
    }
    *len = strnlen(image, (size_t)PTX_MAX_SOURCE + 1);
    if (*len > PTX_MAX_SOURCE) {
        snprintf(msg, msgsz, "PTX image is larger than %u bytes", PTX_MAX_SOURCE);
        return CUDA_ERROR_INVALID_VALUE;
    }
    *len += 1;
    return CUDA_SUCCESS;
}

/* Resolves a bare image pointer to the bytes to load: a wrapper is followed to its container. */
static CUresult image_resolve(const void *image, const void **data, size_t *len, char *msg,
                              size_t msgsz)
{
    /* No magic has a zero byte: a NUL among the first four bytes means short PTX text, and
     * otherwise the four bytes are readable. */
    if (strnlen(image, 4) < 4) {
        *data = image;
        *len = strnlen(image, 4) + 1;
        return CUDA_SUCCESS;
    }
    uint32_t m = read_u32(image);
    if (m == FATBIN_WRAPPER_MAGIC || m == FATBIN_CONTAINER_MAGIC) {
        int rc = fatbin_locate(image, data, len, msg, msgsz);
        if (rc < 0)
            return rc == -ENOMEM ? CUDA_ERROR_OUT_OF_MEMORY : CUDA_ERROR_INVALID_IMAGE;
        return CUDA_SUCCESS;
    }
    *data = image;
    return image_measure(image, len, msg, msgsz);
}

/* Turns an image of len bytes into PTX text for a device of compute capability cc: *ptx is
 * borrowed from image (PTX) or a new buffer the caller frees (*owned set). */
static CUresult image_ptx(const void *image, size_t len, unsigned cc, const char **ptx,
                          size_t *ptx_len, char **owned, char *msg, size_t msgsz)
{
    *owned = NULL;
    switch (image_kind(image, len)) {
    case IMAGE_ELF:
        snprintf(msg, msgsz,
                 "the image is a cubin (ELF): the simulated GPU runs PTX only; load PTX or a "
                 "fatbin that holds PTX for sm_%u or lower",
                 cc);
        return CUDA_ERROR_NO_BINARY_FOR_GPU;
    case IMAGE_FATBIN: {
        char *text = NULL;
        size_t n = 0;
        int rc = fatbin_ptx_for_device(image, len, cc, &text, &n, NULL, msg, msgsz);
        if (rc < 0) {
            if (rc == -ENOENT)
                return CUDA_ERROR_NO_BINARY_FOR_GPU;
            return rc == -ENOMEM ? CUDA_ERROR_OUT_OF_MEMORY : CUDA_ERROR_INVALID_IMAGE;
        }
        *owned = text;
        *ptx = text;
        *ptx_len = n;
        return CUDA_SUCCESS;
    }
    case IMAGE_PTX:
        *ptx = image;
        *ptx_len = strnlen(image, len);
        return CUDA_SUCCESS;
    }
    return CUDA_ERROR_INVALID_IMAGE;
}

/* ---- Registry and lifetime --------------------------------------------------------------- */

/* Frees a module's variables, with its context current (cuMemFree needs one). Runs on an
 * application thread, never on a stream worker: freeing waits for the context's work. A context
 * that has failed keeps them until it is destroyed, as it keeps every allocation. */
static void free_variables(struct CUmod_st *mod)
{
    if (!mod->var_addr || !mod->ptx)
        return;
    if (sim_ctx_check(mod->ctx) == CUDA_SUCCESS &&
        cuCtxPushCurrent_v2(mod->ctx) == CUDA_SUCCESS) {
        for (uint32_t i = 0; i < mod->ptx->nvars; i++) {
            if (mod->var_addr[i] && cuMemFree_v2((CUdeviceptr)mod->var_addr[i]) != CUDA_SUCCESS)
                LOG_DEBUG("sim", "unloading a module: variable %s at 0x%llx stays until its "
                                 "context is destroyed (the context has failed)",
                          mod->ptx->vars[i].name, (unsigned long long)mod->var_addr[i]);
        }
        CUcontext popped;
        cuCtxPopCurrent_v2(&popped);
    }
    memset(mod->var_addr, 0, mod->ptx->nvars * sizeof(*mod->var_addr));
}

/* Frees what a module holds on the host and its overhead charge (its variables were freed by
 * free_variables or went with its context). May run on a stream worker (last reference). */
static void module_free(struct CUmod_st *mod)
{
    if (!mod)
        return;
    if (mod->overhead_charged)
        sim_state_free(sim_process_instance(), mod->device, mod->overhead_offset);
    for (uint32_t i = 0; i < mod->nfuncs; i++) {
        free(mod->funcs[i].legacy_params);
        mod->funcs[i].magic = 0;
    }
    free(mod->funcs);
    free(mod->var_addr);
    ptx_program_free(mod->prog);
    ptx_module_free(mod->ptx);
    mod->magic = 0;
    free(mod);
}

void sim_module_ref(struct CUmod_st *mod)
{
    atomic_fetch_add(&mod->refs, 1);
}

void sim_module_put(struct CUmod_st *mod)
{
    if (mod && atomic_fetch_sub(&mod->refs, 1) == 1)
        module_free(mod);
}

/* Removes a module and its functions from the registries (the caller holds g_lock). */
static void unregister_locked(struct CUmod_st *mod)
{
    sim_handle_set_del(&g_modules, mod);
    for (uint32_t i = 0; i < mod->nfuncs; i++)
        sim_handle_set_del(&g_funcs, &mod->funcs[i]);
}

/* Finds modules whose context was destroyed and drops them (their overhead charge returns). */
static void reap_orphans(void)
{
    struct CUmod_st *dead[64];
    size_t n = 0;
    pthread_mutex_lock(&g_lock);
    for (size_t i = 0; i < g_modules.cap && n < 64; i++) {
        uintptr_t p = g_modules.slots ? g_modules.slots[i] : 0;
        if (p <= 1)
            continue;
        struct CUmod_st *mod = (struct CUmod_st *)p;
        if (sim_ctx_check(mod->ctx) != CUDA_SUCCESS && !mod->lib)
            dead[n++] = mod;
    }
    for (size_t i = 0; i < n; i++)
        unregister_locked(dead[i]);
    pthread_mutex_unlock(&g_lock);
    for (size_t i = 0; i < n; i++) {
        if (dead[i]->var_addr) /* they went with the context's allocations */
            memset(dead[i]->var_addr, 0, dead[i]->ptx->nvars * sizeof(uint64_t));
        sim_module_put(dead[i]);
    }
}

/* Drops every module loaded in ctx, standalone or by a library, as the context is torn down
 * (context.c, after its streams are gone): their handles become invalid at once, a library
 * loads afresh in a later context that happens to reuse ctx's address, and the overhead charges
 * return. Their variables go with the context's allocations. */
void sim_module_release_ctx(struct CUctx_st *ctx)
{
    struct CUmod_st **dead = NULL;
    size_t n = 0, cap = 0;

    pthread_mutex_lock(&g_lock);
    for (size_t i = 0; g_libs.slots && i < g_libs.cap; i++) {
        uintptr_t p = g_libs.slots[i];
        if (p <= 1)
            continue;
        struct CUlib_st *lib = (struct CUlib_st *)p;
        for (struct lib_module **pp = &lib->mods; *pp;) {
            struct lib_module *lm = *pp;
            if (lm->ctx == ctx) {
                *pp = lm->next;
                free(lm);
            } else {
                pp = &lm->next;
            }
        }
    }
    for (size_t i = 0; g_modules.slots && i < g_modules.cap; i++) {
        uintptr_t p = g_modules.slots[i];
        if (p <= 1 || ((struct CUmod_st *)p)->ctx != ctx)
            continue;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            struct CUmod_st **nd = realloc(dead, ncap * sizeof(*nd));
            if (!nd)
                break; /* the rest are reaped lazily by reap_orphans */
            dead = nd;
            cap = ncap;
        }
        dead[n++] = (struct CUmod_st *)p;
    }
    for (size_t i = 0; i < n; i++)
        unregister_locked(dead[i]);
    pthread_mutex_unlock(&g_lock);
    for (size_t i = 0; i < n; i++) {
        if (dead[i]->var_addr)
            memset(dead[i]->var_addr, 0, dead[i]->ptx->nvars * sizeof(uint64_t));
        sim_module_put(dead[i]);
    }
    free(dead);
}

/* Looks a module handle up and takes a reference. */
static CUresult module_get(CUmodule h, struct CUmod_st **out)
{
    CUresult res = sim_process_check();
    if (res != CUDA_SUCCESS)
        return res;
    if (!h)
        return CUDA_ERROR_INVALID_HANDLE;
    pthread_mutex_lock(&g_lock);
    int ok = sim_handle_set_has(&g_modules, h);
    if (ok)
        sim_module_ref(h);
    pthread_mutex_unlock(&g_lock);
    if (!ok)
        return CUDA_ERROR_INVALID_HANDLE;
    if (sim_ctx_check(h->ctx) != CUDA_SUCCESS) {
        sim_module_put(h);
        return CUDA_ERROR_CONTEXT_IS_DESTROYED;
    }
    *out = h;
    return CUDA_SUCCESS;
}

/* ---- Loading ----------------------------------------------------------------------------- */

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* The most threads per block the function's registers allow (register file of 64K per block,
 * allocated per warp in units of 256). */
static uint32_t threads_by_registers(uint32_t regs)
{
    if (regs == 0)
        return 1024;
    uint32_t per_warp = (regs * 32 + 255) / 256 * 256;
    uint32_t warps = 65536 / per_warp;
    uint32_t t = warps * 32;
    return t > 1024 ? 1024 : t;
}

/* How many kernels (defined .entry functions) a parsed module has. */
static uint32_t defined_entries(const struct ptx_module *p)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < p->nfuncs; i++)
        n += p->funcs[i].is_entry && p->funcs[i].defined;
    return n;
}

/* Fills a function's record for entry fn of mod. */
static void func_init(struct CUfunc_st *f, struct CUmod_st *mod, const struct ptx_function *fn)
{
    memset(f, 0, sizeof(*f));
    f->magic = SIM_FUNC_MAGIC;
    f->mod = mod;
    f->fn = fn;
    if (ptx_program_kernel_info(mod->prog, fn, &f->info) < 0) {
        memset(&f->info, 0, sizeof(f->info));
        f->info.max_threads_per_block = 1024;
    }
    if (f->info.max_threads_per_block == 0 || f->info.max_threads_per_block > 1024)
        f->info.max_threads_per_block = 1024;
    /* .maxntid / .reqntid bound the block whatever the executor reports. */
    const uint32_t *nt = fn->reqntid[0] ? fn->reqntid : fn->maxntid;
    if (nt[0]) {
        uint64_t n = (uint64_t)nt[0] * (nt[1] ? nt[1] : 1) * (nt[2] ? nt[2] : 1);
        if (n < f->info.max_threads_per_block)
            f->info.max_threads_per_block = (uint32_t)n;
    }
    uint32_t by_regs = threads_by_registers(f->info.num_regs);
    f->max_threads = f->info.max_threads_per_block < by_regs ? f->info.max_threads_per_block
                                                              : by_regs;
    uint32_t dflt = 48 * 1024;
    f->max_dynamic_shared =
        f->info.static_shared_bytes > dflt ? 0 : dflt - f->info.static_shared_bytes;
    f->carveout = -1;
    f->cache_config = CU_FUNC_CACHE_PREFER_NONE;
}

/* Allocates and initialises the module's .global/.const variables in ctx (which is current). */
static CUresult alloc_variables(struct CUmod_st *mod, char *msg, size_t msgsz)
{
    const struct ptx_module *pm = mod->ptx;
    mod->var_addr = calloc(pm->nvars ? pm->nvars : 1, sizeof(*mod->var_addr));
    if (!mod->var_addr)
        return CUDA_ERROR_OUT_OF_MEMORY;
    for (uint32_t i = 0; i < pm->nvars; i++) {
        const struct ptx_var *v = &pm->vars[i];
        if (v->space != PTX_SPACE_GLOBAL && v->space != PTX_SPACE_CONST)
            continue;
        size_t size = v->size ? (size_t)v->size : 1;
        CUdeviceptr d = 0;
        CUresult res = v->is_managed ? cuMemAllocManaged(&d, size, CU_MEM_ATTACH_GLOBAL)
                                     : cuMemAlloc_v2(&d, size);
        if (res != CUDA_SUCCESS) {
            snprintf(msg, msgsz, "cannot allocate %zu bytes for variable %s", size, v->name);
            return res;
        }
        mod->var_addr[i] = (uint64_t)d;
        struct sim_mem_ref ref;
        if (sim_mem_lookup((uint64_t)d, size, &ref) != CUDA_SUCCESS)
            return CUDA_ERROR_UNKNOWN;
        if (v->init && v->size)
            memcpy(ref.host, v->init, (size_t)v->size);
        else
            memset(ref.host, 0, size);
    }
    /* Initialisers that name other variables (x, x+8, generic(x)) get their addresses now that
     * every variable has one. */
    for (uint32_t i = 0; i < pm->nvars; i++) {
        const struct ptx_var *v = &pm->vars[i];
        struct sim_mem_ref ref;
        if (!mod->var_addr[i] || !v->nrelocs || !v->init)
            continue;
        if (sim_mem_lookup(mod->var_addr[i], (size_t)v->size, &ref) != CUDA_SUCCESS)
            return CUDA_ERROR_UNKNOWN;
        ptx_var_relocate(v, mod->var_addr, ref.host);
    }
    return CUDA_SUCCESS;
}

/* Loads PTX text into ctx (current, no sticky error). Fills msg on error. */
static CUresult module_create(struct CUctx_st *ctx, const char *ptx, size_t len,
                              struct CUlib_st *lib, struct CUmod_st **out, char *msg,
                              size_t msgsz)
{
    pthread_once(&g_once, module_init_once);
    reap_orphans();
    const struct sim_model *model;
    CUresult res = sim_device_check(ctx->device, &model);
    if (res != CUDA_SUCCESS)
        return res;

    struct CUmod_st *mod = calloc(1, sizeof(*mod));
    if (!mod)
        return CUDA_ERROR_OUT_OF_MEMORY;
    mod->magic = MOD_MAGIC;
    atomic_init(&mod->refs, 1);
    mod->ctx = ctx;
    mod->device = ctx->device;
    mod->model = model;
    mod->lib = lib;

    struct ptx_error perr = {0};
    int rc = ptx_parse(ptx, len, &mod->ptx, &perr);
    if (rc < 0) {
        if (rc == -EINVAL) {
            snprintf(msg, msgsz, "line %u: %s", perr.line, perr.msg);
            res = CUDA_ERROR_INVALID_PTX;
        } else if (rc == -E2BIG) {
            snprintf(msg, msgsz, "PTX image is larger than %u bytes", PTX_MAX_SOURCE);
            res = CUDA_ERROR_INVALID_VALUE;
        } else {
            snprintf(msg, msgsz, "out of host memory parsing the PTX");
            res = CUDA_ERROR_OUT_OF_MEMORY;
        }
        goto fail;
    }
    memset(&perr, 0, sizeof(perr));
    rc = ptx_program_new(mod->ptx, &mod->prog, &perr);
    if (rc < 0) {
        if (rc == -ENOMEM) {
            snprintf(msg, msgsz, "out of host memory preparing the PTX");
            res = CUDA_ERROR_OUT_OF_MEMORY;
        } else {
            snprintf(msg, msgsz, "line %u: %s", perr.line, perr.msg);
            res = CUDA_ERROR_INVALID_PTX;
        }
        goto fail;
    }

    if (model->module_overhead_bytes) {
        rc = sim_state_alloc(sim_process_instance(), ctx->device, model->module_overhead_bytes,
                             SIM_CHARGE_OVERHEAD, &mod->overhead_offset, NULL);
        if (rc < 0) {
            snprintf(msg, msgsz, "no device memory left for the module's %llu bytes of overhead",
                     (unsigned long long)model->module_overhead_bytes);
            res = CUDA_ERROR_OUT_OF_MEMORY;
            goto fail;
        }
        mod->overhead_charged = 1;
    }
    if ((res = alloc_variables(mod, msg, msgsz)) != CUDA_SUCCESS)
        goto fail;

    uint32_t nentries = defined_entries(mod->ptx);
    mod->funcs = calloc(nentries ? nentries : 1, sizeof(*mod->funcs));
    if (!mod->funcs) {
        res = CUDA_ERROR_OUT_OF_MEMORY;
        goto fail;
    }
    for (uint32_t i = 0; i < mod->ptx->nfuncs; i++) {
        const struct ptx_function *fn = &mod->ptx->funcs[i];
        if (fn->is_entry && fn->defined)
            func_init(&mod->funcs[mod->nfuncs++], mod, fn);
    }

    pthread_mutex_lock(&g_lock);
    rc = sim_handle_set_add(&g_modules, mod);
    for (uint32_t i = 0; rc >= 0 && i < mod->nfuncs; i++)
        rc = sim_handle_set_add(&g_funcs, &mod->funcs[i]);
    if (rc < 0)
        unregister_locked(mod);
    pthread_mutex_unlock(&g_lock);
    if (rc < 0) {
        res = CUDA_ERROR_OUT_OF_MEMORY;
        goto fail;
    }
    *out = mod;
    return CUDA_SUCCESS;

fail:
    free_variables(mod);
    module_free(mod);
    return res;
}

/* Describes each kernel of a module for the verbose info log, as ptxas -v does. */
static void info_text(const struct CUmod_st *mod, char *buf, size_t size)
{
    size_t n = 0;
    buf[0] = '\0';
    for (uint32_t i = 0; i < mod->nfuncs && n < size; i++) {
        const struct CUfunc_st *f = &mod->funcs[i];
        int w = snprintf(buf + n, size - n,
                         "info    : Function properties for %s: %u registers, %u bytes smem, "
                         "%u bytes lmem\n",
                         f->fn->name, f->info.num_regs, f->info.static_shared_bytes,
                         f->info.local_bytes);
        if (w < 0)
            break;
        n += (size_t)w;
    }
}

/* Loads an image of len bytes (0: measure it) in the current context with JIT options. */
static CUresult load_image(CUmodule *module, const void *image, size_t len,
                           const struct jit_opts *o)
{
    struct CUctx_st *ctx;
    CUresult res = sim_ctx_current(&ctx);
    if (res != CUDA_SUCCESS)
        return res;
    if (!module || !image)
        return CUDA_ERROR_INVALID_VALUE;
    double t0 = now_ms();
    char msg[512] = "";
    const struct sim_model *model;
    if ((res = sim_device_check(ctx->device, &model)) != CUDA_SUCCESS)
        return res;
    unsigned cc = (unsigned)(model->cc_major * 10 + model->cc_minor);

    const void *data = image;
    if (len == 0)
        res = image_resolve(image, &data, &len, msg, sizeof(msg));
    const char *ptx = NULL;
    size_t ptx_len = 0;
    char *owned = NULL;
    if (res == CUDA_SUCCESS)
        res = image_ptx(data, len, cc, &ptx, &ptx_len, &owned, msg, sizeof(msg));
    struct CUmod_st *mod = NULL;
    if (res == CUDA_SUCCESS)
        res = module_create(ctx, ptx, ptx_len, NULL, &mod, msg, sizeof(msg));
    free(owned);
    jit_wall_time(o, (float)(now_ms() - t0));
    if (res != CUDA_SUCCESS) {
        LOG_ERROR("sim", "loading a module on device %d: %s", ctx->device, msg);
        jit_error(o, msg);
        jit_info(o, "");
        return res;
    }
    char info[2048] = "";
    if (o->verbose)
        info_text(mod, info, sizeof(info));
    jit_info(o, info);
    jit_error(o, "");
    *module = mod;
    return CUDA_SUCCESS;
}

/* Loads PTX text or a fatbin (see load_image). */
EXPORT CUresult cuModuleLoadData(CUmodule *module, const void *image)
{
    struct jit_opts o;
    jit_opts_parse(&o, 0, NULL, NULL);
    return load_image(module, image, 0, &o);
}

/* cuModuleLoadData with JIT options: the info and error log buffers and the wall time are
 * filled; the other options are accepted. */
EXPORT CUresult cuModuleLoadDataEx(CUmodule *module, const void *image, unsigned int numOptions,
                                   CUjit_option *options, void **optionValues)
{
    struct jit_opts o;
    CUresult res = jit_opts_parse(&o, numOptions, options, optionValues);
    if (res != CUDA_SUCCESS)
        return res;
    return load_image(module, image, 0, &o);
}

/* Loads a fatbin (wrapper or container); PTX text is taken too. */
EXPORT CUresult cuModuleLoadFatBinary(CUmodule *module, const void *fatCubin)
{
    struct jit_opts o;
    jit_opts_parse(&o, 0, NULL, NULL);
    return load_image(module, fatCubin, 0, &o);
}

/* Reads a whole file into a new NUL-terminated buffer. */
static CUresult read_file(const char *path, uint8_t **out, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return CUDA_ERROR_FILE_NOT_FOUND;
    struct stat st;
    CUresult res = CUDA_ERROR_FILE_NOT_FOUND;
    uint8_t *buf = NULL;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
        goto out;
    if ((uint64_t)st.st_size > MAX_IMAGE_FILE) {
        res = CUDA_ERROR_INVALID_IMAGE;
        goto out;
    }
    size_t n = (size_t)st.st_size;
    buf = malloc(n + 1);
    if (!buf) {
        res = CUDA_ERROR_OUT_OF_MEMORY;
        goto out;
    }
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r <= 0) {
            if (r < 0 && errno == EINTR)
                continue;
            break;
        }
        got += (size_t)r;
    }
    if (got != n)
        goto out;
    buf[n] = 0;
    *out = buf;
    *len = n + 1;
    buf = NULL;
    res = CUDA_SUCCESS;
out:
    free(buf);
    close(fd);
    return res;
}

/* Loads a module from a file holding PTX, a fatbin or a cubin (refused: PTX is needed). */
EXPORT CUresult cuModuleLoad(CUmodule *module, const char *fname)
{
    struct CUctx_st *ctx;
    CUresult res = sim_ctx_current(&ctx);
    if (res != CUDA_SUCCESS)
        return res;
    if (!module || !fname)
        return CUDA_ERROR_INVALID_VALUE;
    uint8_t *buf;
    size_t len;
    if ((res = read_file(fname, &buf, &len)) != CUDA_SUCCESS) {
        LOG_ERROR("sim", "cuModuleLoad: \"%s\": %s", fname,
                  res == CUDA_ERROR_FILE_NOT_FOUND ? "cannot read the file" : "file too large");
        return res;
    }
    struct jit_opts o;
    jit_opts_parse(&o, 0, NULL, NULL);
    res = load_image(module, buf, len, &o);
    free(buf);
    return res;
}

/* Unloads a module: waits for its context's work, frees its variables and overhead. A module
 * that belongs to a library is unloaded with the library. */
EXPORT CUresult cuModuleUnload(CUmodule hmod)
{
    CUresult res = sim_process_check();
    if (res != CUDA_SUCCESS)
        return res;
    if (!hmod)
        return CUDA_ERROR_INVALID_HANDLE;
    pthread_mutex_lock(&g_lock);
    int ok = sim_handle_set_has(&g_modules, hmod) && !hmod->lib;
    int lib_owned = ok ? 0 : sim_handle_set_has(&g_modules, hmod);
    if (ok)
        unregister_locked(hmod);
    pthread_mutex_unlock(&g_lock);
    if (lib_owned)
        return CUDA_ERROR_NOT_PERMITTED;
    if (!ok)
        return CUDA_ERROR_INVALID_HANDLE;
    if (sim_ctx_check(hmod->ctx) == CUDA_SUCCESS)
        (void)sim_stream_ctx_synchronize(hmod->ctx);
    free_variables(hmod);
    sim_module_put(hmod);
    return CUDA_SUCCESS;
}

/* Modules are loaded whole at once; the mode reported follows CUDA_MODULE_LOADING as the real
 * driver's does (lazy unless EAGER is asked for). */
EXPORT CUresult cuModuleGetLoadingMode(CUmoduleLoadingMode *mode)
{
    CUresult res = sim_process_check();
    if (res != CUDA_SUCCESS)
        return res;
    if (!mode)
        return CUDA_ERROR_INVALID_VALUE;
    const char *env = getenv("CUDA_MODULE_LOADING");
    *mode = env && strcmp(env, "EAGER") == 0 ? CU_MODULE_EAGER_LOADING : CU_MODULE_LAZY_LOADING;
    return CUDA_SUCCESS;
}

static struct CUfunc_st *module_find_func(struct CUmod_st *mod, const char *name)
{
    for (uint32_t i = 0; i < mod->nfuncs; i++) {
        if (strcmp(mod->funcs[i].fn->name, name) == 0)
            return &mod->funcs[i];
    }
    return NULL;
}

/* The kernel called name; CUDA_ERROR_NOT_FOUND when the module has none (device functions are
 * not kernels). */
EXPORT CUresult cuModuleGetFunction(CUfunction *hfunc, CUmodule hmod, const char *name)
{
    struct CUmod_st *mod;
    CUresult res = module_get(hmod, &mod);
    if (res != CUDA_SUCCESS)
        return res;
    if (!hfunc || !name) {
        res = CUDA_ERROR_INVALID_VALUE;
    } else {
        struct CUfunc_st *f = module_find_func(mod, name);
        if (f)
            *hfunc = f;
        res = f ? CUDA_SUCCESS : CUDA_ERROR_NOT_FOUND;
    }
    sim_module_put(mod);
    return res;
}

EXPORT CUresult cuModuleGetFunctionCount(unsigned int *count, CUmodule mod)
{
    struct CUmod_st *m;
    CUresult res = module_get(mod, &m);
    if (res != CUDA_SUCCESS)
        return res;
    if (count)
        *count = m->nfuncs;
    sim_module_put(m);
    return count ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

/* Writes up to numFunctions kernel handles of the module. */
EXPORT CUresult cuModuleEnumerateFunctions(CUfunction *functions, unsigned int numFunctions,
                                           CUmodule mod)
{
    struct CUmod_st *m;
    CUresult res = module_get(mod, &m);
    if (res != CUDA_SUCCESS)
        return res;
    if (!functions) {
        sim_module_put(m);
        return CUDA_ERROR_INVALID_VALUE;
    }
    for (unsigned int i = 0; i < numFunctions && i < m->nfuncs; i++)
        functions[i] = &m->funcs[i];
    sim_module_put(m);
    return CUDA_SUCCESS;
}

/* The device address and size of a module-scope .global/.const variable (either output may be
 * NULL); CUDA_ERROR_NOT_FOUND when there is none of that name. */
static CUresult module_global(struct CUmod_st *m, const char *name, CUdeviceptr *dptr,
                              size_t *bytes, int managed_only)
{
    if (!name)
        return CUDA_ERROR_INVALID_VALUE;
    for (uint32_t i = 0; i < m->ptx->nvars; i++) {
        const struct ptx_var *v = &m->ptx->vars[i];
        if (!m->var_addr[i] || strcmp(v->name, name) != 0)
            continue;
        if (managed_only && !v->is_managed)
            continue;
        if (dptr)
            *dptr = (CUdeviceptr)m->var_addr[i];
        if (bytes)
            *bytes = (size_t)v->size;
        return CUDA_SUCCESS;
    }
    return CUDA_ERROR_NOT_FOUND;
}

EXPORT CUresult cuModuleGetGlobal_v2(CUdeviceptr *dptr, size_t *bytes, CUmodule hmod,
                                     const char *name)
{
    struct CUmod_st *m;
    CUresult res = module_get(hmod, &m);
    if (res != CUDA_SUCCESS)
        return res;
    res = module_global(m, name, dptr, bytes, 0);
    sim_module_put(m);
    return res;
}

/* ---- Functions --------------------------------------------------------------------------- */

/* Resolves a kernel to its function in the current context (see below). */
static CUresult kernel_function(struct CUkern_st *k, struct CUfunc_st **out);

CUresult sim_module_func_get(CUfunction f, struct CUfunc_st **out)
{
    CUresult res = sim_process_check();
    if (res != CUDA_SUCCESS)
        return res;
    if (!f)
        return CUDA_ERROR_INVALID_HANDLE;
    pthread_mutex_lock(&g_lock);
    int is_func = sim_handle_set_has(&g_funcs, f);
    int is_kernel = !is_func && sim_handle_set_has(&g_kernels, f);
    if (is_func)
        sim_module_ref(f->mod);
    pthread_mutex_unlock(&g_lock);
    if (is_kernel)
        return kernel_function((struct CUkern_st *)(void *)f, out);
    if (!is_func)
        return CUDA_ERROR_INVALID_HANDLE;
    if (sim_ctx_check(f->mod->ctx) != CUDA_SUCCESS) {
        sim_module_put(f->mod);
        return CUDA_ERROR_CONTEXT_IS_DESTROYED;
    }
    *out = f;
    return CUDA_SUCCESS;
}

/* One attribute of a function (see CUfunction_attribute in cuda.h). */
static CUresult func_attribute(int *pi, int attrib, const struct CUfunc_st *f)
{
    const struct sim_model *m = f->mod->model;
    switch ((CUfunction_attribute)attrib) {
    case CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK:
        *pi = (int)f->max_threads;
        break;
    case CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES:
        *pi = (int)f->info.static_shared_bytes;
        break;
    case CU_FUNC_ATTRIBUTE_CONST_SIZE_BYTES:
        *pi = (int)f->info.const_bytes;
        break;
    case CU_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES:
        *pi = (int)f->info.local_bytes;
        break;
    case CU_FUNC_ATTRIBUTE_NUM_REGS:
        *pi = (int)f->info.num_regs;
        break;
    case CU_FUNC_ATTRIBUTE_PTX_VERSION:
        *pi = (int)(f->mod->ptx->version_major * 10 + f->mod->ptx->version_minor);
        break;
    case CU_FUNC_ATTRIBUTE_BINARY_VERSION: /* JIT-compiled for the device it runs on */
        *pi = m->cc_major * 10 + m->cc_minor;
        break;
    case CU_FUNC_ATTRIBUTE_CACHE_MODE_CA:
        *pi = 0;
        break;
    case CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES:
        *pi = (int)f->max_dynamic_shared;
        break;
    case CU_FUNC_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT:
        *pi = f->carveout;
        break;
    case CU_FUNC_ATTRIBUTE_CLUSTER_SIZE_MUST_BE_SET:
        *pi = 0;
        break;
    case CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_WIDTH:
    case CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_HEIGHT:
    case CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_DEPTH:
        *pi = f->cluster_dim[attrib - CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_WIDTH];
        break;
    case CU_FUNC_ATTRIBUTE_NON_PORTABLE_CLUSTER_SIZE_ALLOWED:
        *pi = f->non_portable_cluster;
        break;
    case CU_FUNC_ATTRIBUTE_CLUSTER_SCHEDULING_POLICY_PREFERENCE:
        *pi = f->cluster_policy;
        break;
    default:
        return CUDA_ERROR_INVALID_VALUE;
    }
    return CUDA_SUCCESS;
}

/* Sets a settable attribute; the others are CUDA_ERROR_INVALID_VALUE. */
static CUresult func_set_attribute(struct CUfunc_st *f, int attrib, int value)
{
    const struct sim_model *m = f->mod->model;
    CUresult res = CUDA_SUCCESS;
    pthread_mutex_lock(&g_lock);
    switch ((CUfunction_attribute)attrib) {
    case CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES: {
        int64_t limit = (int64_t)m->shared_per_block_optin_bytes - f->info.static_shared_bytes;
        if (value < 0 || value > limit)
            res = CUDA_ERROR_INVALID_VALUE;
        else
            f->max_dynamic_shared = (uint32_t)value;
        break;
    }
    case CU_FUNC_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT:
        if (value < -1 || value > 100)
            res = CUDA_ERROR_INVALID_VALUE;
        else
            f->carveout = value;
        break;
    case CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_WIDTH:
    case CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_HEIGHT:
    case CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_DEPTH:
        if (value < 0)
            res = CUDA_ERROR_INVALID_VALUE;
        else
            f->cluster_dim[attrib - CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_WIDTH] = value;
        break;
    case CU_FUNC_ATTRIBUTE_NON_PORTABLE_CLUSTER_SIZE_ALLOWED:
        if (value != 0 && value != 1)
            res = CUDA_ERROR_INVALID_VALUE;
        else
            f->non_portable_cluster = value;
        break;
    case CU_FUNC_ATTRIBUTE_CLUSTER_SCHEDULING_POLICY_PREFERENCE:
        if (value < CU_CLUSTER_SCHEDULING_POLICY_DEFAULT ||
            value > CU_CLUSTER_SCHEDULING_POLICY_LOAD_BALANCING)
            res = CUDA_ERROR_INVALID_VALUE;
        else
            f->cluster_policy = value;
        break;
    default:
        res = CUDA_ERROR_INVALID_VALUE;
        break;
    }
    pthread_mutex_unlock(&g_lock);
    return res;
}

EXPORT CUresult cuFuncGetAttribute(int *pi, CUfunction_attribute attrib, CUfunction hfunc)
{
    struct CUfunc_st *f;
    CUresult res = sim_module_func_get(hfunc, &f);
    if (res != CUDA_SUCCESS)
        return res;
    if (!pi) {
        res = CUDA_ERROR_INVALID_VALUE;
    } else {
        pthread_mutex_lock(&g_lock);
        res = func_attribute(pi, (int)attrib, f);
        pthread_mutex_unlock(&g_lock);
    }
    sim_module_put(f->mod);
    return res;
}

EXPORT CUresult cuFuncSetAttribute(CUfunction hfunc, CUfunction_attribute attrib, int value)
{
    struct CUfunc_st *f;
    CUresult res = sim_module_func_get(hfunc, &f);
    if (res != CUDA_SUCCESS)
        return res;
    res = func_set_attribute(f, (int)attrib, value);
    sim_module_put(f->mod);
    return res;
}

/* Cache preference: a hint with no effect on the simulated device, validated and kept. */
EXPORT CUresult cuFuncSetCacheConfig(CUfunction hfunc, CUfunc_cache config)
{
    struct CUfunc_st *f;
    CUresult res = sim_module_func_get(hfunc, &f);
    if (res != CUDA_SUCCESS)
        return res;
    if ((unsigned)config > CU_FUNC_CACHE_PREFER_EQUAL) {
        res = CUDA_ERROR_INVALID_VALUE;
    } else {
        pthread_mutex_lock(&g_lock);
        f->cache_config = (int)config;
        pthread_mutex_unlock(&g_lock);
    }
    sim_module_put(f->mod);
    return res;
}

/* Deprecated bank-size hint: validated, no effect. */
EXPORT CUresult cuFuncSetSharedMemConfig(CUfunction hfunc, CUsharedconfig config)
{
    struct CUfunc_st *f;
    CUresult res = sim_module_func_get(hfunc, &f);
    if (res != CUDA_SUCCESS)
        return res;
    if ((unsigned)config > CU_SHARED_MEM_CONFIG_EIGHT_BYTE_BANK_SIZE)
        res = CUDA_ERROR_INVALID_VALUE;
    sim_module_put(f->mod);
    return res;
}

EXPORT CUresult cuFuncGetModule(CUmodule *hmod, CUfunction hfunc)
{
    struct CUfunc_st *f;
    CUresult res = sim_module_func_get(hfunc, &f);
    if (res != CUDA_SUCCESS)
        return res;
    if (hmod)
        *hmod = f->mod;
    sim_module_put(f->mod);
    return hmod ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

/* The function's name, valid while its module is loaded. */
EXPORT CUresult cuFuncGetName(const char **name, CUfunction hfunc)
{
    struct CUfunc_st *f;
    CUresult res = sim_module_func_get(hfunc, &f);
    if (res != CUDA_SUCCESS)
        return res;
    if (name)
        *name = f->fn->name;
    sim_module_put(f->mod);
    return name ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

/* Offset and size of parameter index of fn in the parameter block (either output may be NULL);
 * CUDA_ERROR_INVALID_VALUE past the last parameter or without a function. */
static CUresult param_info(const struct ptx_function *fn, size_t index, size_t *offset,
                           size_t *size)
{
    if (!fn || index >= fn->nparams)
        return CUDA_ERROR_INVALID_VALUE;
    if (offset)
        *offset = fn->params[index].offset;
    if (size)
        *size = fn->params[index].size;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuFuncGetParamInfo(CUfunction func, size_t paramIndex, size_t *paramOffset,
                                   size_t *paramSize)
{
    struct CUfunc_st *f;
    CUresult res = sim_module_func_get(func, &f);
    if (res != CUDA_SUCCESS)
        return res;
    res = param_info(f->fn, paramIndex, paramOffset, paramSize);
    sim_module_put(f->mod);
    return res;
}

/* Every function is loaded when its module is. */
EXPORT CUresult cuFuncIsLoaded(CUfunctionLoadingState *state, CUfunction function)
{
    struct CUfunc_st *f;
    CUresult res = sim_module_func_get(function, &f);
    if (res != CUDA_SUCCESS)
        return res;
    if (state)
        *state = CU_FUNCTION_LOADING_STATE_LOADED;
    sim_module_put(f->mod);
    return state ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

EXPORT CUresult cuFuncLoad(CUfunction function)
{
    struct CUfunc_st *f;
    CUresult res = sim_module_func_get(function, &f);
    if (res != CUDA_SUCCESS)
        return res;
    sim_module_put(f->mod);
    return CUDA_SUCCESS;
}

/* ---- Libraries and kernels --------------------------------------------------------------- */

/* Checks that h is a live handle registered in set; no reference is taken. */
static CUresult registered_handle(const struct sim_handle_set *set, const void *h)
{
    CUresult res = sim_process_check();
    if (res != CUDA_SUCCESS)
        return res;
    if (!h)
        return CUDA_ERROR_INVALID_HANDLE;
    pthread_mutex_lock(&g_lock);
    int ok = sim_handle_set_has(set, h);
    pthread_mutex_unlock(&g_lock);
    return ok ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

static CUresult library_get(CUlibrary h, struct CUlib_st **out)
{
    CUresult res = registered_handle(&g_libs, h);
    if (res == CUDA_SUCCESS)
        *out = h;
    return res;
}

static CUresult kernel_get(CUkernel h, struct CUkern_st **out)
{
    CUresult res = registered_handle(&g_kernels, h);
    if (res == CUDA_SUCCESS)
        *out = h;
    return res;
}

/* The library's module in ctx, loading it there on first use; a reference is taken. */
static CUresult library_module(struct CUlib_st *lib, struct CUctx_st *ctx, struct CUmod_st **out,
                               const struct jit_opts *o)
{
    pthread_mutex_lock(&g_lock);
    for (struct lib_module *lm = lib->mods; lm; lm = lm->next) {
        if (lm->ctx == ctx && sim_ctx_check(ctx) == CUDA_SUCCESS) {
            sim_module_ref(lm->mod);
            *out = lm->mod;
            pthread_mutex_unlock(&g_lock);
            return CUDA_SUCCESS;
        }
    }
    pthread_mutex_unlock(&g_lock);

    const struct sim_model *model;
    CUresult res = sim_device_check(ctx->device, &model);
    if (res != CUDA_SUCCESS)
        return res;
    char msg[512] = "";
    const char *ptx;
    size_t ptx_len;
    char *owned;
    struct CUmod_st *mod = NULL;
    res = image_ptx(lib->image, lib->len, (unsigned)(model->cc_major * 10 + model->cc_minor),
                    &ptx, &ptx_len, &owned, msg, sizeof(msg));
    if (res == CUDA_SUCCESS)
        res = module_create(ctx, ptx, ptx_len, lib, &mod, msg, sizeof(msg));
    free(owned);
    if (res != CUDA_SUCCESS) {
        LOG_ERROR("sim", "loading a library on device %d: %s", ctx->device, msg);
        if (o)
            jit_error(o, msg);
        return res;
    }
    struct lib_module *lm = calloc(1, sizeof(*lm));
    if (!lm) {
        pthread_mutex_lock(&g_lock);
        unregister_locked(mod);
        pthread_mutex_unlock(&g_lock);
        sim_module_put(mod);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    lm->ctx = ctx;
    lm->mod = mod;
    /* Apply what was set on the library's kernels before this context used them. */
    pthread_mutex_lock(&g_lock);
    for (uint32_t i = 0; i < lib->nkernels; i++) {
        struct CUfunc_st *f = module_find_func(mod, lib->kernels[i].name);
        if (f && lib->kernels[i].has_max_dynamic_shared)
            f->max_dynamic_shared = lib->kernels[i].max_dynamic_shared;
        if (f && lib->kernels[i].carveout != -1)
            f->carveout = lib->kernels[i].carveout;
    }
    lm->next = lib->mods;
    lib->mods = lm;
    sim_module_ref(mod);
    pthread_mutex_unlock(&g_lock);
    *out = mod;
    return CUDA_SUCCESS;
}

/* The library's module in the current context (library_module there); a reference is taken. */
static CUresult library_current_module(struct CUlib_st *lib, struct CUmod_st **out)
{
    struct CUctx_st *ctx;
    CUresult res = sim_ctx_current(&ctx);
    if (res != CUDA_SUCCESS)
        return res;
    return library_module(lib, ctx, out, NULL);
}

static CUresult kernel_function(struct CUkern_st *k, struct CUfunc_st **out)
{
    struct CUmod_st *mod;
    CUresult res = library_current_module(k->lib, &mod);
    if (res != CUDA_SUCCESS)
        return res;
    struct CUfunc_st *f = module_find_func(mod, k->name);
    if (!f) {
        sim_module_put(mod);
        return CUDA_ERROR_NOT_FOUND;
    }
    *out = f;
    return CUDA_SUCCESS;
}

static void library_free(struct CUlib_st *lib)
{
    if (!lib)
        return;
    for (struct lib_module *lm = lib->mods, *next; lm; lm = next) {
        next = lm->next;
        if (sim_ctx_check(lm->mod->ctx) == CUDA_SUCCESS)
            (void)sim_stream_ctx_synchronize(lm->mod->ctx);
        free_variables(lm->mod);
        sim_module_put(lm->mod);
        free(lm);
    }
    free(lib->kernels);
    ptx_module_free(lib->names);
    free(lib->image);
    lib->magic = 0;
    free(lib);
}

/* Loads a library from an image of len bytes (0: measure it): the image is copied and parsed
 * for its names; with a current context the library is loaded there at once, so that JIT errors
 * come back from this call. */
static CUresult library_load(CUlibrary *library, const void *code, size_t len,
                             CUjit_option *jitOptions, void **jitOptionsValues,
                             unsigned int numJitOptions, CUlibraryOption *libraryOptions,
                             void **libraryOptionValues, unsigned int numLibraryOptions)
{
    CUresult res = sim_process_check();
    if (res != CUDA_SUCCESS)
        return res;
    if (!library || !code)
        return CUDA_ERROR_INVALID_VALUE;
    if (numLibraryOptions && (!libraryOptions || !libraryOptionValues))
        return CUDA_ERROR_INVALID_VALUE;
    for (unsigned int i = 0; i < numLibraryOptions; i++) {
        if ((unsigned)libraryOptions[i] >= (unsigned)CU_LIBRARY_NUM_OPTIONS)
            return CUDA_ERROR_INVALID_VALUE;
    }
    struct jit_opts o;
    if ((res = jit_opts_parse(&o, numJitOptions, jitOptions, jitOptionsValues)) != CUDA_SUCCESS)
        return res;
    pthread_once(&g_once, module_init_once);

    char msg[512] = "";
    const void *data = code;
    if (len == 0 && (res = image_resolve(code, &data, &len, msg, sizeof(msg))) != CUDA_SUCCESS)
        goto fail_msg;

    struct CUlib_st *lib = calloc(1, sizeof(*lib));
    if (!lib)
        return CUDA_ERROR_OUT_OF_MEMORY;
    lib->magic = LIB_MAGIC;
    lib->image = malloc(len + 1);
    if (!lib->image) {
        res = CUDA_ERROR_OUT_OF_MEMORY;
        goto fail;
    }
    memcpy(lib->image, data, len);
    lib->image[len] = 0;
    lib->len = len;

    /* The names come from the PTX for the current context's device, else device 0's. */
    struct CUctx_st *ctx = NULL;
    int have_ctx = sim_ctx_current(&ctx) == CUDA_SUCCESS;
    const struct sim_model *model;
    if ((res = sim_device_check(have_ctx ? ctx->device : 0, &model)) != CUDA_SUCCESS)
        goto fail;
    const char *ptx;
    size_t ptx_len;
    char *owned;
    res = image_ptx(lib->image, lib->len, (unsigned)(model->cc_major * 10 + model->cc_minor),
                    &ptx, &ptx_len, &owned, msg, sizeof(msg));
    if (res != CUDA_SUCCESS)
        goto fail_log;
    struct ptx_error perr = {0};
    int rc = ptx_parse(ptx, ptx_len, &lib->names, &perr);
    free(owned);
    if (rc < 0) {
        snprintf(msg, sizeof(msg), "line %u: %s", perr.line, perr.msg);
        res = rc == -ENOMEM ? CUDA_ERROR_OUT_OF_MEMORY : CUDA_ERROR_INVALID_PTX;
        goto fail_log;
    }
    uint32_t n = defined_entries(lib->names);
    lib->kernels = calloc(n ? n : 1, sizeof(*lib->kernels));
    if (!lib->kernels) {
        res = CUDA_ERROR_OUT_OF_MEMORY;
        goto fail;
    }
    for (uint32_t i = 0; i < lib->names->nfuncs; i++) {
        const struct ptx_function *fn = &lib->names->funcs[i];
        if (!fn->is_entry || !fn->defined)
            continue;
        struct CUkern_st *k = &lib->kernels[lib->nkernels++];
        k->magic = KERN_MAGIC;
        k->lib = lib;
        k->name = fn->name;
        k->carveout = -1;
    }
    if (have_ctx) {
        struct CUmod_st *mod;
        if ((res = library_module(lib, ctx, &mod, &o)) != CUDA_SUCCESS)
            goto fail;
        sim_module_put(mod);
    }

    pthread_mutex_lock(&g_lock);
    rc = sim_handle_set_add(&g_libs, lib);
    for (uint32_t i = 0; rc >= 0 && i < lib->nkernels; i++)
        rc = sim_handle_set_add(&g_kernels, &lib->kernels[i]);
    if (rc < 0) {
        sim_handle_set_del(&g_libs, lib);
        for (uint32_t i = 0; i < lib->nkernels; i++)
            sim_handle_set_del(&g_kernels, &lib->kernels[i]);
    }
    pthread_mutex_unlock(&g_lock);
    if (rc < 0) {
        res = CUDA_ERROR_OUT_OF_MEMORY;
        goto fail;
    }
    jit_info(&o, "");
    jit_error(&o, "");
    *library = lib;
    return CUDA_SUCCESS;

fail_log:
    LOG_ERROR("sim", "loading a library: %s", msg);
    jit_error(&o, msg);
fail:
    if (lib) {
        for (struct lib_module *lm = lib->mods; lm; lm = lm->next) {
            pthread_mutex_lock(&g_lock);
            unregister_locked(lm->mod);
            pthread_mutex_unlock(&g_lock);
        }
    }
    library_free(lib);
    return res;
fail_msg:
    LOG_ERROR("sim", "loading a library: %s", msg);
    jit_error(&o, msg);
    return res;
}

EXPORT CUresult cuLibraryLoadData(CUlibrary *library, const void *code, CUjit_option *jitOptions,
                                  void **jitOptionsValues, unsigned int numJitOptions,
                                  CUlibraryOption *libraryOptions, void **libraryOptionValues,
                                  unsigned int numLibraryOptions)
{
    return library_load(library, code, 0, jitOptions, jitOptionsValues, numJitOptions,
                        libraryOptions, libraryOptionValues, numLibraryOptions);
}

EXPORT CUresult cuLibraryLoadFromFile(CUlibrary *library, const char *fileName,
                                      CUjit_option *jitOptions, void **jitOptionsValues,
                                      unsigned int numJitOptions, CUlibraryOption *libraryOptions,
                                      void **libraryOptionValues, unsigned int numLibraryOptions)
{
    CUresult res = sim_process_check();
    if (res != CUDA_SUCCESS)
        return res;
    if (!library || !fileName)
        return CUDA_ERROR_INVALID_VALUE;
    uint8_t *buf;
    size_t len;
    if ((res = read_file(fileName, &buf, &len)) != CUDA_SUCCESS) {
        LOG_ERROR("sim", "cuLibraryLoadFromFile: \"%s\": cannot read the file", fileName);
        return res;
    }
    res = library_load(library, buf, len, jitOptions, jitOptionsValues, numJitOptions,
                       libraryOptions, libraryOptionValues, numLibraryOptions);
    free(buf);
    return res;
}

/* Unloads the library and every module it loaded in any context. */
EXPORT CUresult cuLibraryUnload(CUlibrary library)
{
    struct CUlib_st *lib;
    CUresult res = library_get(library, &lib);
    if (res != CUDA_SUCCESS)
        return res;
    pthread_mutex_lock(&g_lock);
    int ok = sim_handle_set_has(&g_libs, lib);
    if (ok) {
        sim_handle_set_del(&g_libs, lib);
        for (uint32_t i = 0; i < lib->nkernels; i++)
            sim_handle_set_del(&g_kernels, &lib->kernels[i]);
        for (struct lib_module *lm = lib->mods; lm; lm = lm->next)
            unregister_locked(lm->mod);
    }
    pthread_mutex_unlock(&g_lock);
    if (!ok)
        return CUDA_ERROR_INVALID_HANDLE;
    library_free(lib);
    return CUDA_SUCCESS;
}

EXPORT CUresult cuLibraryGetKernel(CUkernel *pKernel, CUlibrary library, const char *name)
{
    struct CUlib_st *lib;
    CUresult res = library_get(library, &lib);
    if (res != CUDA_SUCCESS)
        return res;
    if (!pKernel || !name)
        return CUDA_ERROR_INVALID_VALUE;
    for (uint32_t i = 0; i < lib->nkernels; i++) {
        if (strcmp(lib->kernels[i].name, name) == 0) {
            *pKernel = &lib->kernels[i];
            return CUDA_SUCCESS;
        }
    }
    return CUDA_ERROR_NOT_FOUND;
}

EXPORT CUresult cuLibraryGetKernelCount(unsigned int *count, CUlibrary lib)
{
    struct CUlib_st *l;
    CUresult res = library_get(lib, &l);
    if (res != CUDA_SUCCESS)
        return res;
    if (!count)
        return CUDA_ERROR_INVALID_VALUE;
    *count = l->nkernels;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuLibraryEnumerateKernels(CUkernel *kernels, unsigned int numKernels,
                                          CUlibrary lib)
{
    struct CUlib_st *l;
    CUresult res = library_get(lib, &l);
    if (res != CUDA_SUCCESS)
        return res;
    if (!kernels)
        return CUDA_ERROR_INVALID_VALUE;
    for (unsigned int i = 0; i < numKernels && i < l->nkernels; i++)
        kernels[i] = &l->kernels[i];
    return CUDA_SUCCESS;
}

/* The library's module in the current context (loaded there on first use). */
EXPORT CUresult cuLibraryGetModule(CUmodule *pMod, CUlibrary library)
{
    struct CUlib_st *lib;
    CUresult res = library_get(library, &lib);
    if (res != CUDA_SUCCESS)
        return res;
    if (!pMod)
        return CUDA_ERROR_INVALID_VALUE;
    struct CUmod_st *mod;
    if ((res = library_current_module(lib, &mod)) != CUDA_SUCCESS)
        return res;
    *pMod = mod;
    sim_module_put(mod);
    return CUDA_SUCCESS;
}

static CUresult library_global(CUdeviceptr *dptr, size_t *bytes, CUlibrary library,
                               const char *name, int managed)
{
    struct CUlib_st *lib;
    CUresult res = library_get(library, &lib);
    if (res != CUDA_SUCCESS)
        return res;
    if (!name)
        return CUDA_ERROR_INVALID_VALUE;
    struct CUmod_st *mod;
    if ((res = library_current_module(lib, &mod)) != CUDA_SUCCESS)
        return res;
    res = module_global(mod, name, dptr, bytes, managed);
    sim_module_put(mod);
    return res;
}

/* A variable of the library in the current context. */
EXPORT CUresult cuLibraryGetGlobal(CUdeviceptr *dptr, size_t *bytes, CUlibrary library,
                                   const char *name)
{
    return library_global(dptr, bytes, library, name, 0);
}

/* A .managed variable of the library (its address works on the host and in kernels). */
EXPORT CUresult cuLibraryGetManaged(CUdeviceptr *dptr, size_t *bytes, CUlibrary library,
                                    const char *name)
{
    return library_global(dptr, bytes, library, name, 1);
}

/* The function of a kernel in the current context. */
EXPORT CUresult cuKernelGetFunction(CUfunction *pFunc, CUkernel kernel)
{
    struct CUkern_st *k;
    CUresult res = kernel_get(kernel, &k);
    if (res != CUDA_SUCCESS)
        return res;
    if (!pFunc)
        return CUDA_ERROR_INVALID_VALUE;
    struct CUfunc_st *f;
    if ((res = kernel_function(k, &f)) != CUDA_SUCCESS)
        return res;
    *pFunc = f;
    sim_module_put(f->mod);
    return CUDA_SUCCESS;
}

EXPORT CUresult cuKernelGetLibrary(CUlibrary *pLib, CUkernel kernel)
{
    struct CUkern_st *k;
    CUresult res = kernel_get(kernel, &k);
    if (res != CUDA_SUCCESS)
        return res;
    if (!pLib)
        return CUDA_ERROR_INVALID_VALUE;
    *pLib = k->lib;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuKernelGetName(const char **name, CUkernel hfunc)
{
    struct CUkern_st *k;
    CUresult res = kernel_get(hfunc, &k);
    if (res != CUDA_SUCCESS)
        return res;
    if (!name)
        return CUDA_ERROR_INVALID_VALUE;
    *name = k->name;
    return CUDA_SUCCESS;
}

/* Parameter layout of a kernel: from the library's parse, no context needed. */
EXPORT CUresult cuKernelGetParamInfo(CUkernel kernel, size_t paramIndex, size_t *paramOffset,
                                     size_t *paramSize)
{
    struct CUkern_st *k;
    CUresult res = kernel_get(kernel, &k);
    if (res != CUDA_SUCCESS)
        return res;
    return param_info(ptx_module_function(k->lib->names, k->name), paramIndex, paramOffset,
                      paramSize);
}

/* The kernel's function for device dev: the one in the current context when that context is on
 * dev, else one already loaded in a context on dev. */
static CUresult kernel_function_on(struct CUkern_st *k, CUdevice dev, struct CUfunc_st **out)
{
    CUresult res = sim_device_check(dev, NULL);
    if (res != CUDA_SUCCESS)
        return res;
    struct CUctx_st *ctx;
    if (sim_ctx_current(&ctx) == CUDA_SUCCESS && ctx->device == dev)
        return kernel_function(k, out);
    struct CUfunc_st *f = NULL;
    pthread_mutex_lock(&g_lock);
    for (struct lib_module *lm = k->lib->mods; lm && !f; lm = lm->next) {
        if (lm->mod->device == dev && sim_ctx_check(lm->ctx) == CUDA_SUCCESS)
            f = module_find_func(lm->mod, k->name);
    }
    if (f)
        sim_module_ref(f->mod);
    pthread_mutex_unlock(&g_lock);
    if (!f)
        return CUDA_ERROR_INVALID_DEVICE;
    *out = f;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuKernelGetAttribute(int *pi, CUfunction_attribute attrib, CUkernel kernel,
                                     CUdevice dev)
{
    struct CUkern_st *k;
    CUresult res = kernel_get(kernel, &k);
    if (res != CUDA_SUCCESS)
        return res;
    if (!pi)
        return CUDA_ERROR_INVALID_VALUE;
    struct CUfunc_st *f;
    if ((res = kernel_function_on(k, dev, &f)) != CUDA_SUCCESS)
        return res;
    pthread_mutex_lock(&g_lock);
    res = func_attribute(pi, (int)attrib, f);
    pthread_mutex_unlock(&g_lock);
    sim_module_put(f->mod);
    return res;
}

/* Sets an attribute of the kernel in every context it is loaded in, and for contexts that
 * load it later. */
EXPORT CUresult cuKernelSetAttribute(CUfunction_attribute attrib, int val, CUkernel kernel,
                                     CUdevice dev)
{
    struct CUkern_st *k;
    CUresult res = kernel_get(kernel, &k);
    if (res != CUDA_SUCCESS)
        return res;
    struct CUfunc_st *f;
    if ((res = kernel_function_on(k, dev, &f)) != CUDA_SUCCESS)
        return res;
    res = func_set_attribute(f, (int)attrib, val);
    sim_module_put(f->mod);
    if (res != CUDA_SUCCESS)
        return res;
    pthread_mutex_lock(&g_lock);
    if (attrib == CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES) {
        k->has_max_dynamic_shared = 1;
        k->max_dynamic_shared = (uint32_t)val;
    } else if (attrib == CU_FUNC_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT) {
        k->carveout = val;
    }
    pthread_mutex_unlock(&g_lock);
    return CUDA_SUCCESS;
}

EXPORT CUresult cuKernelSetCacheConfig(CUkernel kernel, CUfunc_cache config, CUdevice dev)
{
    struct CUkern_st *k;
    CUresult res = kernel_get(kernel, &k);
    if (res != CUDA_SUCCESS)
        return res;
    if ((res = sim_device_check(dev, NULL)) != CUDA_SUCCESS)
        return res;
    return (unsigned)config > CU_FUNC_CACHE_PREFER_EQUAL ? CUDA_ERROR_INVALID_VALUE
                                                         : CUDA_SUCCESS;
}
