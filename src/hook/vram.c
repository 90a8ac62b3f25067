/*
 * vram.c: the local vGPU's VRAM cap for the plain allocation paths, and the virtualised memory
 * view. See the "VRAM" section of docs/internals/hook.md.
 *
 *   GPOOL_VGPU=<name>         the vGPU this process belongs to (unset: the hook only forwards)
 *   GPOOL_VRAM_LIMIT=<qty>    cap per device (Kubernetes quantity); used when creating the ledger
 *   GPOOL_COMPUTE_LIMIT=<pct> compute share, recorded at creation (enforced by compute.c)
 *   GPOOL_TFLOPS_LIMIT=<n>    compute share as FP16 TFLOPs: n / the device model's TFLOPs (a
 *                             table of known models; unknown: cuInit answers INVALID_VALUE);
 *                             refused together with GPOOL_COMPUTE_LIMIT
 *   GPOOL_VGPU_DIR=<dir>      where the ledger lives (see gpool/ledger.h)
 *   GPOOL_VRAM_OVERHEAD=0|1   charge context and module overhead (default 1)
 *
 * The configuration is read on the first call through the hook (hook_intercept_init), never in
 * a constructor. A bad configuration makes cuInit answer CUDA_ERROR_INVALID_VALUE. The ledger is
 * opened (created by the first process) once the driver is initialised.
 *
 * Allocation is check-reserve in the ledger -> driver allocation -> commit (key: the returned
 * pointer, or the handle tagged with its kind) or roll back; past the cap the application gets
 * CUDA_ERROR_OUT_OF_MEMORY and the driver is not called. Every charge is rounded up to
 * HOOK_VRAM_GRANULE. Frees go to the driver first and are credited on success.
 *
 * Charged here: cuMemAlloc, AllocPitch (the returned pitch), AllocManaged, arrays and mipmapped
 * arrays (the driver's backing: rows padded to 512 bytes), cuMemAllocAsync / AllocFromPoolAsync
 * (outside stream capture: vram_pool.c, charged while the pool holds the block, cached freed
 * blocks included), cuMemCreate (device locations; credited at cuMemRelease unless vram_vmm.c
 * says mappings or references remain). Elsewhere: VMM mappings and references (vram_vmm.c),
 * context, module and library overhead (vram_overhead.c), graph memory (vram_graph.c). Not
 * charged: IPC and shareable-handle imports (the
 exporter pays), host memory. See docs/internals/hook.md for why and for what is left.
 */
#include "hook.h"
#include "vram.h"

#include "gpool/cuda_format.h"
#include "gpool/failpoint.h"
#include "gpool/ledger.h"
#include "gpool/limiter.h"
#include "gpool/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

/* cuMemAllocPitch's pitch is estimated as the width rounded to this before the driver answers;
 * the charge is then corrected to the pitch it returned. */
#define HOOK_VRAM_PITCH_ALIGN 512ull
/* Array rows are padded to this by the driver (the simulator's SIM_ARRAY_ROW_ALIGN). */
#define HOOK_VRAM_ARRAY_ROW_ALIGN 512ull

struct hook_vram_config hook_vram_cfg;

static pthread_mutex_t vram_lock = PTHREAD_MUTEX_INITIALIZER; /* opening the ledger */
/* Set once, under vram_lock, when the ledger is open; read without the lock. */
static _Atomic(struct ledger *) vram_ledger_handle;

/* The reservation of the allocation this thread is making, from before() to after(). */
static _Thread_local struct ledger_ticket vram_ticket;

static int hook_vram_config(void)
{
    const char *vgpu = getenv("GPOOL_VGPU");
    if (!vgpu || !*vgpu)
        return 0;
    hook_vram_cfg.enabled = 1;
    if (strlen(vgpu) > LEDGER_NAME_MAX) {
        LOG_ERROR("hook", "GPOOL_VGPU '%s': longer than %d characters", vgpu, LEDGER_NAME_MAX);
        hook_vram_cfg.bad = 1;
        return -1;
    }
    strcpy(hook_vram_cfg.name, vgpu);
    char err[256];
    const char *ovh = getenv("GPOOL_VRAM_OVERHEAD");
    if (ovh && *ovh) {
        if (strcmp(ovh, "0") == 0) {
            hook_vram_cfg.no_overhead = 1;
        } else if (strcmp(ovh, "1") != 0) {
            LOG_ERROR("hook", "GPOOL_VRAM_OVERHEAD '%s': expected 0 or 1", ovh);
            hook_vram_cfg.bad = 1;
        }
    }
    const char *vram = getenv("GPOOL_VRAM_LIMIT");
    if (vram && *vram) {
        if (limiter_parse_quantity(vram, &hook_vram_cfg.vram_bytes, err, sizeof(err)) < 0) {
            LOG_ERROR("hook", "GPOOL_VRAM_LIMIT '%s': %s", vram, err);
            hook_vram_cfg.bad = 1;
        } else {
            hook_vram_cfg.have_vram = 1;
        }
    }
    const char *pct = getenv("GPOOL_COMPUTE_LIMIT");
    const char *tflops = getenv("GPOOL_TFLOPS_LIMIT");
    if (pct && *pct && tflops && *tflops) {
        LOG_ERROR("hook",
                  "GPOOL_COMPUTE_LIMIT '%s' and GPOOL_TFLOPS_LIMIT '%s' are both set; "
                  "set one of them",
                  pct, tflops);
        hook_vram_cfg.bad = 1;
    } else if (pct && *pct) {
        if (limiter_parse_percent(pct, &hook_vram_cfg.compute_pct, err, sizeof(err)) < 0) {
            LOG_ERROR("hook", "GPOOL_COMPUTE_LIMIT '%s': %s", pct, err);
            hook_vram_cfg.bad = 1;
        } else {
            hook_vram_cfg.have_pct = 1;
        }
    } else if (tflops && *tflops) {
        char *end = NULL;
        errno = 0;
        double v = strtod(tflops, &end);
        if (errno || end == tflops || *end || !(v > 0) || v > 1e9) {
            LOG_ERROR("hook", "GPOOL_TFLOPS_LIMIT '%s': expected a positive number of TFLOPs",
                      tflops);
            hook_vram_cfg.bad = 1;
        } else {
            hook_vram_cfg.have_tflops = 1;
            hook_vram_cfg.tflops = v;
        }
    }
    return hook_vram_cfg.bad ? -1 : 0;
}

CUresult hook_vram_errno_result(int rc)
{
    return rc == -EDQUOT || rc == -ENOSPC ? CUDA_ERROR_OUT_OF_MEMORY : CUDA_ERROR_OPERATING_SYSTEM;
}

/* Warns when this process's environment asks for other limits than the ledger holds. */
static void warn_if_disagrees(struct ledger *l)
{
    struct ledger_limits lim;
    if (ledger_get_limits(l, &lim) < 0)
        return;
    if (hook_vram_cfg.have_vram && lim.vram_bytes != hook_vram_cfg.vram_bytes)
        LOG_WARN("hook",
                 "vGPU '%s': GPOOL_VRAM_LIMIT is %llu bytes here but the ledger %s holds "
                 "%llu; following the ledger",
                 hook_vram_cfg.name, (unsigned long long)hook_vram_cfg.vram_bytes, ledger_path(l),
                 (unsigned long long)lim.vram_bytes);
    if (hook_vram_cfg.have_pct && lim.compute_pct != hook_vram_cfg.compute_pct)
        LOG_WARN("hook",
                 "vGPU '%s': GPOOL_COMPUTE_LIMIT is %u%% here but the ledger %s holds "
                 "%u%%; following the ledger",
                 hook_vram_cfg.name, hook_vram_cfg.compute_pct, ledger_path(l), lim.compute_pct);
}

/*
 * GPOOL_TFLOPS_LIMIT as a compute share: limit / the model's FP16 TFLOPs, as a whole percent
 * rounded to nearest, at least 1 and at most 100. The ledger holds one share for all its ndev
 * devices, so they must be equally fast: devices of models with different figures (an H100
 * beside an A100) are refused rather than given a share that is right on one of them only.
 * CUDA_SUCCESS and *pct, or CUDA_ERROR_INVALID_VALUE for a model the table does not know or
 * mixed models (logged, naming them).
 */
static CUresult tflops_to_pct(int ndev, uint32_t *pct)
{
    HOOK_REAL_OR_MISSING(cuDeviceGetName);
    const struct hook_model *m0 = NULL;
    for (int d = 0; d < ndev; d++) {
        char name[256] = "";
        CUresult res = real(name, (int)sizeof(name), d);
        if (res != CUDA_SUCCESS)
            return res;
        const struct hook_model *m = hook_model_find(name);
        if (!m) {
            LOG_ERROR("hook",
                      "vGPU '%s': GPOOL_TFLOPS_LIMIT: the model '%s' of device %d is not in "
                      "the hook's TFLOPs table; set GPOOL_COMPUTE_LIMIT instead",
                      hook_vram_cfg.name, name, d);
            return CUDA_ERROR_INVALID_VALUE;
        }
        if (!m0) {
            m0 = m;
        } else if (m->fp16_tflops != m0->fp16_tflops) {
            LOG_ERROR("hook",
                      "vGPU '%s': GPOOL_TFLOPS_LIMIT: device 0 is '%s' (%g FP16 TFLOPs) but "
                      "device %d is '%s' (%g): one limit cannot be the same share of both; "
                      "set GPOOL_COMPUTE_LIMIT, or CUDA_VISIBLE_DEVICES to one model",
                      hook_vram_cfg.name, m0->name, m0->fp16_tflops, d, name, m->fp16_tflops);
            return CUDA_ERROR_INVALID_VALUE;
        }
    }
    double share = hook_vram_cfg.tflops / m0->fp16_tflops * 100.0;
    uint32_t p = share >= 100.0 ? 100 : (uint32_t)(share + 0.5);
    *pct = p < 1 ? 1 : p;
    LOG_INFO("hook", "vGPU '%s': GPOOL_TFLOPS_LIMIT %g of %s (%g FP16 TFLOPs) is %u%%",
             hook_vram_cfg.name, hook_vram_cfg.tflops, m0->name, m0->fp16_tflops, *pct);
    return CUDA_SUCCESS;
}

/*
 * The ledger of this process's vGPU, opened (or created with the environment's limits) on
 * first use; needs an initialised driver for the device count. CUDA_SUCCESS and *out, or the
 * error to return to the application.
 */
CUresult hook_vram_ledger(struct ledger **out)
{
    /* Once open, the handle never changes: no lock on the per-call path. */
    *out = atomic_load_explicit(&vram_ledger_handle, memory_order_acquire);
    if (*out)
        return CUDA_SUCCESS;
    pthread_mutex_lock(&vram_lock);
    CUresult res = CUDA_SUCCESS;
    struct ledger *l = atomic_load_explicit(&vram_ledger_handle, memory_order_relaxed);
    if (l)
        goto out;
    CUresult (*count_fn)(int *) = (CUresult(*)(int *))hook_real_fn(GPOOL_API_ID_cuDeviceGetCount);
    int ndev = 0;
    if (!count_fn) {
        res = hook_real_missing(GPOOL_API_ID_cuDeviceGetCount);
        goto out;
    }
    res = count_fn(&ndev);
    if (res != CUDA_SUCCESS)
        goto out;
    if (ndev < 1)
        ndev = 1;
    if (ndev > LEDGER_MAX_DEVICES)
        ndev = LEDGER_MAX_DEVICES;
    if (hook_vram_cfg.have_tflops && !hook_vram_cfg.have_pct) {
        res = tflops_to_pct(ndev, &hook_vram_cfg.compute_pct);
        if (res != CUDA_SUCCESS)
            goto out;
        hook_vram_cfg.have_pct = 1;
    }
    struct ledger_limits create = {
        .vram_bytes = hook_vram_cfg.have_vram ? hook_vram_cfg.vram_bytes : 0,
        .compute_pct = hook_vram_cfg.have_pct ? hook_vram_cfg.compute_pct : 100,
        .ndev = (uint32_t)ndev,
    };
    char err[256] = "";
    int rc = ledger_open(NULL, hook_vram_cfg.name, &create, &l, err, sizeof(err));
    if (rc < 0) {
        /* Every allocation tries again (a fixed directory lets the program go on); the same
         * reason is logged once, not once per call. */
        static char last_err[sizeof(err)];
        if (strcmp(last_err, err) != 0) {
            LOG_ERROR("hook",
                      "vGPU '%s': cannot open its ledger: %s (%s); its allocations are "
                      "refused until it can be opened",
                      hook_vram_cfg.name, err, strerror(-rc));
            snprintf(last_err, sizeof(last_err), "%s", err);
        }
        l = NULL;
        res = CUDA_ERROR_OPERATING_SYSTEM;
        goto out;
    }
    warn_if_disagrees(l);
    atomic_store_explicit(&vram_ledger_handle, l, memory_order_release);
out:
    *out = l;
    pthread_mutex_unlock(&vram_lock);
    return res;
}

struct ledger *hook_vram_ledger_opened(void)
{
    return atomic_load_explicit(&vram_ledger_handle, memory_order_acquire);
}

/* The current context's device. */
CUresult hook_vram_current_device(int *dev)
{
    HOOK_REAL_OR_MISSING(cuCtxGetDevice);
    CUdevice d = 0;
    CUresult res = real(&d);
    *dev = (int)d;
    return res;
}

int hook_vram_release_any(struct ledger *l, int first, uint64_t key)
{
    if (first >= 0 && ledger_release(l, first, key, NULL) == 0)
        return 0;
    for (int d = 0; d < ledger_device_count(l); d++)
        if (d != first && ledger_release(l, d, key, NULL) == 0)
            return 0;
    return -1;
}

uint64_t hook_vram_current_owner(void)
{
    hook_pfn_cuCtxGetCurrent fn =
        (hook_pfn_cuCtxGetCurrent)hook_real_fn(GPOOL_API_ID_cuCtxGetCurrent);
    CUcontext ctx = NULL;
    if (!fn || fn(&ctx) != CUDA_SUCCESS)
        return 0;
    return (uint64_t)(uintptr_t)ctx;
}

void hook_vram_context_gone(uint64_t ctx)
{
    struct ledger *l;
    if (!ctx || !hook_vram_cfg.enabled || hook_vram_ledger(&l) != CUDA_SUCCESS)
        return;
    uint64_t bytes = 0;
    uint32_t n = 0;
    int rc = ledger_release_owned(l, ctx, &bytes, &n);
    if (rc < 0)
        LOG_WARN("hook", "vGPU '%s': cannot credit the allocations of context 0x%llx: %s",
                 hook_vram_cfg.name, (unsigned long long)ctx, strerror(-rc));
    else if (n)
        LOG_DEBUG("hook", "vGPU '%s': context 0x%llx gone: %u allocations (%llu bytes) credited",
                  hook_vram_cfg.name, (unsigned long long)ctx, n, (unsigned long long)bytes);
}

/* Whether what call allocates belongs to the current context (the driver frees it when the
 * context goes): device memory and arrays do; pool blocks and VMM handles belong to the device. */
static int context_owned(int id)
{
    switch (id) {
    case GPOOL_API_ID_cuMemAlloc:
    case GPOOL_API_ID_cuMemAlloc_v2:
    case GPOOL_API_ID_cuMemAllocPitch:
    case GPOOL_API_ID_cuMemAllocPitch_v2:
    case GPOOL_API_ID_cuMemAllocManaged:
    case GPOOL_API_ID_cuArrayCreate:
    case GPOOL_API_ID_cuArrayCreate_v2:
    case GPOOL_API_ID_cuArray3DCreate:
    case GPOOL_API_ID_cuArray3DCreate_v2:
    case GPOOL_API_ID_cuMipmappedArrayCreate:
        return 1;
    default:
        return 0;
    }
}

int hook_vram_round_granule(uint64_t bytes, uint64_t *out)
{
    if (bytes > UINT64_MAX - (HOOK_VRAM_GRANULE - 1))
        return -1;
    *out = (bytes + HOOK_VRAM_GRANULE - 1) & ~(HOOK_VRAM_GRANULE - 1);
    return 0;
}

/* x rounded up to a multiple of align (> 0); the caller keeps x + align from overflowing. */
static uint64_t round_up(uint64_t x, uint64_t align)
{
    return (x + align - 1) / align * align;
}

/* Bytes of pitch x height, rounded to the granule; -1 on overflow. */
static int pitch_charge(uint64_t pitch, uint64_t height, uint64_t *out)
{
    if (pitch && height > UINT64_MAX / pitch)
        return -1;
    return hook_vram_round_granule(pitch * height, out);
}

/* Bytes per element of an array format with nch channels, as the driver lays it out; 0 for a
 * pair the driver refuses or a format without a per-element size (block-compressed, planar YUV):
 * such arrays are left to the driver uncharged. */
static uint64_t array_element_size(CUarray_format f, unsigned nch)
{
    size_t es = gpool_cuda_array_element_size(f, nch);
    return es == SIZE_MAX ? 0 : (uint64_t)es;
}

/* Bytes of one array level W x H x D (H, D may be 0): rows padded to HOOK_VRAM_ARRAY_ROW_ALIGN,
 * one after another for every row, layer and depth slice. -1 on overflow. */
static int array_level_bytes(uint64_t elem, uint64_t w, uint64_t h, uint64_t d, uint64_t *out)
{
    if (w > UINT32_MAX || h > UINT32_MAX || d > UINT32_MAX)
        return -1;
    uint64_t row = w * elem; /* elem <= 16 */
    uint64_t pitch = round_up(row, HOOK_VRAM_ARRAY_ROW_ALIGN);
    uint64_t rows = (h ? h : 1) * (d ? d : 1); /* < 2^64 */
    if (pitch && rows > UINT64_MAX / pitch)
        return -1;
    *out = pitch * rows;
    return 0;
}

/* The charge of an array or mipmapped array creation: the backing block the driver makes (all
 * levels of a mipmapped array in one block), rounded to the granule. 0 for a deferred-mapping
 * array (the driver backs nothing), a format this file does not size, or a missing descriptor. */
static int array_charge(const struct hook_call *call, uint64_t *bytes)
{
    uint64_t w, h, d = 0, elem;
    unsigned flags = 0, levels = 1;
    *bytes = 0;
    switch (call->id) {
    case GPOOL_API_ID_cuArrayCreate: {
        const CUDA_ARRAY_DESCRIPTOR_v1 *a = *(const CUDA_ARRAY_DESCRIPTOR_v1 *const *)call->argv[1];
        if (!a)
            return 0;
        w = a->Width, h = a->Height, elem = array_element_size(a->Format, a->NumChannels);
        break;
    }
    case GPOOL_API_ID_cuArrayCreate_v2: {
        const CUDA_ARRAY_DESCRIPTOR *a = *(const CUDA_ARRAY_DESCRIPTOR *const *)call->argv[1];
        if (!a)
            return 0;
        w = a->Width, h = a->Height, elem = array_element_size(a->Format, a->NumChannels);
        break;
    }
    case GPOOL_API_ID_cuArray3DCreate: {
        const CUDA_ARRAY3D_DESCRIPTOR_v1 *a =
            *(const CUDA_ARRAY3D_DESCRIPTOR_v1 *const *)call->argv[1];
        if (!a)
            return 0;
        w = a->Width, h = a->Height, d = a->Depth, flags = a->Flags;
        elem = array_element_size(a->Format, a->NumChannels);
        break;
    }
    default: { /* cuArray3DCreate_v2, cuMipmappedArrayCreate */
        const CUDA_ARRAY3D_DESCRIPTOR *a = *(const CUDA_ARRAY3D_DESCRIPTOR *const *)call->argv[1];
        if (!a)
            return 0;
        w = a->Width, h = a->Height, d = a->Depth, flags = a->Flags;
        elem = array_element_size(a->Format, a->NumChannels);
        if (call->id == GPOOL_API_ID_cuMipmappedArrayCreate)
            levels = *(const unsigned int *)call->argv[2];
        break;
    }
    }
    if (!elem || (flags & CUDA_ARRAY3D_DEFERRED_MAPPING) || levels == 0 || levels > 64)
        return 0;
    /* Level i halves every extent but the layer count (layered and cubemap arrays keep Depth). */
    int layered = !!(flags & (CUDA_ARRAY3D_LAYERED | CUDA_ARRAY3D_CUBEMAP));
    uint64_t total = 0;
    for (unsigned i = 0; i < levels; i++) {
        uint64_t lw = w >> i ? w >> i : 1, lh = h, ld = d, lb;
        if (h)
            lh = h >> i ? h >> i : 1;
        if (d && !layered)
            ld = d >> i ? d >> i : 1;
        if (array_level_bytes(elem, lw, lh, ld, &lb) < 0 || lb > UINT64_MAX - total)
            return -1;
        total += lb;
    }
    return hook_vram_round_granule(total, bytes);
}

/* The bytes an allocation call asks for, before the driver answers: 0 when the call is not one
 * this file charges (or asks for nothing, which the driver refuses itself); -1 on overflow. */
static int requested_charge(const struct hook_call *call, uint64_t *bytes)
{
    uint64_t raw;
    switch (call->id) {
    case GPOOL_API_ID_cuMemAlloc_v2:
    case GPOOL_API_ID_cuMemAllocManaged:
        raw = *(const size_t *)call->argv[1];
        break;
    case GPOOL_API_ID_cuMemAlloc:
        raw = *(const unsigned int *)call->argv[1];
        break;
    case GPOOL_API_ID_cuMemAllocPitch_v2:
    case GPOOL_API_ID_cuMemAllocPitch: {
        uint64_t w, h;
        if (call->id == GPOOL_API_ID_cuMemAllocPitch_v2) {
            w = *(const size_t *)call->argv[2];
            h = *(const size_t *)call->argv[3];
        } else {
            w = *(const unsigned int *)call->argv[2];
            h = *(const unsigned int *)call->argv[3];
        }
        if (w == 0 || h == 0 || w > UINT64_MAX - HOOK_VRAM_PITCH_ALIGN) {
            *bytes = 0;
            return 0;
        }
        return pitch_charge(round_up(w, HOOK_VRAM_PITCH_ALIGN), h, bytes);
    }
    case GPOOL_API_ID_cuMemAllocAsync:
    case GPOOL_API_ID_cuMemAllocAsync_ptsz:
    case GPOOL_API_ID_cuMemAllocFromPoolAsync:
    case GPOOL_API_ID_cuMemAllocFromPoolAsync_ptsz:
        raw = *(const size_t *)call->argv[1];
        break;
    case GPOOL_API_ID_cuMemCreate: {
        const CUmemAllocationProp *prop = *(const CUmemAllocationProp *const *)call->argv[2];
        /* Only device memory is VRAM; the driver refuses a missing prop itself. */
        if (!prop || prop->location.type != CU_MEM_LOCATION_TYPE_DEVICE) {
            *bytes = 0;
            return 0;
        }
        raw = *(const size_t *)call->argv[1];
        break;
    }
    case GPOOL_API_ID_cuArrayCreate:
    case GPOOL_API_ID_cuArrayCreate_v2:
    case GPOOL_API_ID_cuArray3DCreate:
    case GPOOL_API_ID_cuArray3DCreate_v2:
    case GPOOL_API_ID_cuMipmappedArrayCreate:
        return array_charge(call, bytes);
    default:
        *bytes = 0;
        return 0;
    }
    if (raw == 0) {
        *bytes = 0;
        return 0;
    }
    return hook_vram_round_granule(raw, bytes);
}

static void free_in_driver(uint64_t ptr);

/* The ledger key of what an allocation call returned: the pointer, or the tagged handle. */
static uint64_t returned_pointer(const struct hook_call *call)
{
    switch (call->id) {
    case GPOOL_API_ID_cuMemAlloc:
    case GPOOL_API_ID_cuMemAllocPitch:
        return **(CUdeviceptr_v1 *const *)call->argv[0];
    case GPOOL_API_ID_cuArrayCreate:
    case GPOOL_API_ID_cuArrayCreate_v2:
    case GPOOL_API_ID_cuArray3DCreate:
    case GPOOL_API_ID_cuArray3DCreate_v2:
        return (uint64_t)(uintptr_t) * *(CUarray *const *)call->argv[0] ^ HOOK_VRAM_KEY_ARRAY;
    case GPOOL_API_ID_cuMipmappedArrayCreate:
        return (uint64_t)(uintptr_t) * *(CUmipmappedArray *const *)call->argv[0] ^
               HOOK_VRAM_KEY_MIPMAP;
    case GPOOL_API_ID_cuMemCreate:
        return (uint64_t) * *(CUmemGenericAllocationHandle *const *)call->argv[0] ^
               HOOK_VRAM_KEY_VMM;
    default:
        return **(CUdeviceptr *const *)call->argv[0];
    }
}

/* Undoes an allocation the driver made but the ledger could not take. */
static void undo_in_driver(const struct hook_call *call, uint64_t key)
{
    CUresult r = CUDA_SUCCESS;
    switch (call->id) {
    case GPOOL_API_ID_cuArrayCreate:
    case GPOOL_API_ID_cuArrayCreate_v2:
    case GPOOL_API_ID_cuArray3DCreate:
    case GPOOL_API_ID_cuArray3DCreate_v2: {
        CUresult (*fn)(CUarray) = (CUresult(*)(CUarray))hook_real_fn(GPOOL_API_ID_cuArrayDestroy);
        if (fn)
            r = fn(**(CUarray *const *)call->argv[0]);
        break;
    }
    case GPOOL_API_ID_cuMipmappedArrayCreate: {
        CUresult (*fn)(CUmipmappedArray) =
            (CUresult(*)(CUmipmappedArray))hook_real_fn(GPOOL_API_ID_cuMipmappedArrayDestroy);
        if (fn)
            r = fn(**(CUmipmappedArray *const *)call->argv[0]);
        break;
    }
    case GPOOL_API_ID_cuMemCreate: {
        CUresult (*fn)(CUmemGenericAllocationHandle) =
            (CUresult(*)(CUmemGenericAllocationHandle))hook_real_fn(GPOOL_API_ID_cuMemRelease);
        if (fn)
            r = fn(**(CUmemGenericAllocationHandle *const *)call->argv[0]);
        break;
    }
    default:
        free_in_driver(key);
        return;
    }
    if (r != CUDA_SUCCESS)
        LOG_WARN("hook", "%s: cannot undo 0x%llx after the ledger refused it",
                 gpool_api_table[call->id].name, (unsigned long long)key);
}

/* Frees an allocation the driver made but the ledger could not take. */
static void free_in_driver(uint64_t ptr)
{
    CUresult (*fn)(CUdeviceptr) = (CUresult(*)(CUdeviceptr))hook_real_fn(GPOOL_API_ID_cuMemFree_v2);
    if (fn && fn((CUdeviceptr)ptr) != CUDA_SUCCESS)
        LOG_WARN("hook", "cannot free 0x%llx after the ledger refused it", (unsigned long long)ptr);
}

static CUresult vram_alloc_before(struct hook_call *call)
{
    if (hook_vram_call_captured(call))
        return CUDA_SUCCESS; /* a graph allocation node: charged when the graph is launched */
    uint64_t bytes;
    if (requested_charge(call, &bytes) < 0)
        return CUDA_ERROR_OUT_OF_MEMORY;
    if (bytes == 0)
        return CUDA_SUCCESS; /* not charged here, or refused by the driver itself */
    switch (call->id) {
    case GPOOL_API_ID_cuMemAllocAsync:
    case GPOOL_API_ID_cuMemAllocAsync_ptsz:
    case GPOOL_API_ID_cuMemAllocFromPoolAsync:
    case GPOOL_API_ID_cuMemAllocFromPoolAsync_ptsz:
        return hook_vram_pool_alloc_before(call, bytes); /* charged by what the pool holds */
    default:
        break;
    }
    struct ledger *l;
    CUresult res = hook_vram_ledger(&l);
    if (res != CUDA_SUCCESS)
        return res;
    int dev = 0;
    if (call->id == GPOOL_API_ID_cuMemCreate) {
        /* Physical memory is charged to the device it is made on, not the current one. */
        dev = (*(const CUmemAllocationProp *const *)call->argv[2])->location.id;
    } else {
        res = hook_vram_current_device(&dev);
        if (res != CUDA_SUCCESS)
            return res;
    }
    if (dev < 0 || dev >= ledger_device_count(l))
        return CUDA_ERROR_INVALID_DEVICE;
    int rc = ledger_reserve(l, dev, bytes, &vram_ticket);
    if (rc < 0) {
        LOG_DEBUG("hook", "%s: %llu bytes on device %d refused by vGPU '%s': %s",
                  gpool_api_table[call->id].name, (unsigned long long)bytes, dev,
                  hook_vram_cfg.name, strerror(-rc));
        return hook_vram_errno_result(rc);
    }
    call->state = 1;
    return CUDA_SUCCESS;
}

static CUresult vram_alloc_after(struct hook_call *call, CUresult rc)
{
    if (!call->state)
        return rc;
    if (call->state == 2)
        return hook_vram_pool_alloc_after(call, rc);
    struct ledger *l = hook_vram_ledger_opened();
    if (rc != CUDA_SUCCESS) {
        ledger_rollback(l, &vram_ticket);
        return rc;
    }
    uint64_t ptr = returned_pointer(call);
    GPOOL_FAILPOINT("hook.vram.allocated"); /* the driver allocated, the ledger has a reservation */
    if (call->id == GPOOL_API_ID_cuMemAllocPitch_v2 || call->id == GPOOL_API_ID_cuMemAllocPitch) {
        uint64_t pitch, h, actual;
        if (call->id == GPOOL_API_ID_cuMemAllocPitch_v2) {
            pitch = **(size_t *const *)call->argv[1];
            h = *(const size_t *)call->argv[3];
        } else {
            pitch = **(unsigned int *const *)call->argv[1];
            h = *(const unsigned int *)call->argv[3];
        }
        if (pitch_charge(pitch, h, &actual) < 0 || actual == 0)
            actual = vram_ticket.bytes;
        if (actual != vram_ticket.bytes) {
            /* The driver's pitch differs from the estimate: charge what it returned. */
            int dev = vram_ticket.dev;
            ledger_rollback(l, &vram_ticket);
            int r = ledger_reserve(l, dev, actual, &vram_ticket);
            if (r < 0) {
                free_in_driver(ptr);
                return hook_vram_errno_result(r);
            }
        }
    }
    uint64_t owner = context_owned(call->id) ? hook_vram_current_owner() : 0;
    int r = ledger_commit_owned(l, &vram_ticket, ptr, owner);
    if (r == -EEXIST) {
        /* The driver reused an address the ledger still holds: that allocation is gone. */
        ledger_release(l, vram_ticket.dev, ptr, NULL);
        r = ledger_commit_owned(l, &vram_ticket, ptr, owner);
    }
    if (r < 0) {
        LOG_ERROR("hook", "%s: cannot record 0x%llx in vGPU '%s': %s",
                  gpool_api_table[call->id].name, (unsigned long long)ptr, hook_vram_cfg.name,
                  strerror(-r));
        ledger_rollback(l, &vram_ticket);
        undo_in_driver(call, ptr);
        return CUDA_ERROR_OPERATING_SYSTEM;
    }
    return CUDA_SUCCESS;
}

static CUresult vram_free_after(struct hook_call *call, CUresult rc)
{
    if (rc != CUDA_SUCCESS || hook_vram_call_captured(call))
        return rc; /* a captured free is a graph free node: nothing is freed now */
    GPOOL_FAILPOINT("hook.vram.freed"); /* the driver freed, the ledger still charges it */
    uint64_t ptr;
    if (call->id == GPOOL_API_ID_cuMemFree_v2)
        ptr = *(const CUdeviceptr *)call->argv[0];
    else if (call->id == GPOOL_API_ID_cuMemFree)
        ptr = *(const CUdeviceptr_v1 *)call->argv[0];
    else if (call->id == GPOOL_API_ID_cuMemFreeAsync ||
             call->id == GPOOL_API_ID_cuMemFreeAsync_ptsz)
        ptr = *(const CUdeviceptr *)call->argv[0];
    else if (call->id == GPOOL_API_ID_cuMemPoolTrimTo) {
        hook_vram_pool_trimmed(*(const CUmemoryPool *)call->argv[0]);
        return rc;
    } else if (call->id == GPOOL_API_ID_cuArrayDestroy)
        ptr = (uint64_t)(uintptr_t) * (const CUarray *)call->argv[0] ^ HOOK_VRAM_KEY_ARRAY;
    else if (call->id == GPOOL_API_ID_cuMipmappedArrayDestroy)
        ptr =
            (uint64_t)(uintptr_t) * (const CUmipmappedArray *)call->argv[0] ^ HOOK_VRAM_KEY_MIPMAP;
    else if (call->id == GPOOL_API_ID_cuMemRelease) {
        CUmemGenericAllocationHandle h = *(const CUmemGenericAllocationHandle *)call->argv[0];
        if (hook_vram_vmm_release_deferred(h))
            return rc; /* still mapped: credited at its last cuMemUnmap */
        ptr = (uint64_t)h ^ HOOK_VRAM_KEY_VMM;
    } else
        return rc; /* IPC close, host memory: nothing the vGPU charged */
    /* A pool block stays charged while its pool holds it (vram_pool.c). */
    if (hook_vram_pool_freed(ptr, call->id != GPOOL_API_ID_cuMemFreeAsync &&
                                      call->id != GPOOL_API_ID_cuMemFreeAsync_ptsz))
        return rc;
    struct ledger *l;
    if (ptr == 0 || hook_vram_ledger(&l) != CUDA_SUCCESS)
        return rc;
    /* The allocation was charged to the device current when it was made: try that first. */
    int cur = -1;
    if (hook_vram_current_device(&cur) != CUDA_SUCCESS)
        cur = -1;
    if (hook_vram_release_any(l, cur, ptr) == 0)
        return rc;
    LOG_DEBUG("hook", "%s(0x%llx): not an allocation the vGPU charged",
              gpool_api_table[call->id].name, (unsigned long long)ptr);
    return rc;
}

static const struct hook_interceptor vram_alloc_interceptor = {vram_alloc_before, vram_alloc_after};
static const struct hook_interceptor vram_free_interceptor = {NULL, vram_free_after};

void hook_vram_init(void)
{
    if (hook_vram_config() < 0 || !hook_vram_cfg.enabled)
        return;
    hook_intercept_set(GPOOL_API_ALLOCATES, &vram_alloc_interceptor);
    hook_intercept_set(GPOOL_API_FREES, &vram_free_interceptor);
}

CUresult hook_vram_on_init(int driver_ready)
{
    if (hook_vram_cfg.bad)
        return CUDA_ERROR_INVALID_VALUE;
    if (!hook_vram_cfg.enabled || !driver_ready)
        return CUDA_SUCCESS;
    struct ledger *l;
    return hook_vram_ledger(&l);
}

/*
 * The vGPU's view of device dev (the current context's when dev < 0): *total becomes min(cap,
 * device total) and *free the part of it the vGPU has not used, never more than the device has
 * free. Unchanged without a vGPU, a cap or (dev < 0) a current context.
 */
static CUresult vram_view(int dev, uint64_t *free_bytes, uint64_t *total)
{
    if (!hook_vram_cfg.enabled || (dev < 0 && hook_vram_current_device(&dev) != CUDA_SUCCESS))
        return CUDA_SUCCESS;
    struct ledger *l;
    CUresult res = hook_vram_ledger(&l);
    if (res != CUDA_SUCCESS)
        return res;
    uint64_t used = 0, cap = 0;
    if (dev < 0 || dev >= ledger_device_count(l) || ledger_usage(l, dev, &used, &cap) < 0 || !cap)
        return CUDA_SUCCESS;
    if (cap < *total)
        *total = cap;
    if (free_bytes) {
        uint64_t left = used >= *total ? 0 : *total - used;
        if (left < *free_bytes)
            *free_bytes = left;
    }
    return CUDA_SUCCESS;
}

/* cuMemGetInfo (both widths) and cuDeviceTotalMem (both widths): the driver's answer, then the
 * vGPU's view of it. Memory the pools gave back is credited before the usage is read. */
#define HOOK_VRAM_MEM_INFO(name, type, free_bytes, total)                                          \
    do {                                                                                           \
        HOOK_REAL_OR_MISSING(name);                                                                \
        hook_vram_pool_reconcile_all();                                                            \
        CUresult rc = real(free_bytes, total);                                                     \
        if (rc != CUDA_SUCCESS || !hook_vram_cfg.enabled)                                          \
            return rc;                                                                             \
        uint64_t f = *free_bytes, t = *total;                                                      \
        rc = vram_view(-1, &f, &t);                                                                \
        *free_bytes = (type)f;                                                                     \
        *total = (type)t;                                                                          \
        return rc;                                                                                 \
    } while (0)

#define HOOK_VRAM_TOTAL_MEM(name, type, bytes, dev)                                                \
    do {                                                                                           \
        HOOK_REAL_OR_MISSING(name);                                                                \
        CUresult rc = real(bytes, dev);                                                            \
        if (rc != CUDA_SUCCESS || !hook_vram_cfg.enabled)                                          \
            return rc;                                                                             \
        uint64_t t = *bytes;                                                                       \
        rc = vram_view((int)dev, NULL, &t);                                                        \
        *bytes = (type)t;                                                                          \
        return rc;                                                                                 \
    } while (0)

CUresult cuMemGetInfo_v2(size_t *free_bytes, size_t *total)
{
    HOOK_VRAM_MEM_INFO(cuMemGetInfo_v2, size_t, free_bytes, total);
}

CUresult cuMemGetInfo(unsigned int *free_bytes, unsigned int *total)
{
    HOOK_VRAM_MEM_INFO(cuMemGetInfo, unsigned int, free_bytes, total);
}

CUresult cuDeviceTotalMem_v2(size_t *bytes, CUdevice dev)
{
    HOOK_VRAM_TOTAL_MEM(cuDeviceTotalMem_v2, size_t, bytes, dev);
}

CUresult cuDeviceTotalMem(unsigned int *bytes, CUdevice dev)
{
    HOOK_VRAM_TOTAL_MEM(cuDeviceTotalMem, unsigned int, bytes, dev);
}
