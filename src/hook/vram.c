/*
 * vram.c: the local vGPU's VRAM cap for the plain allocation paths, and the virtualised memory
 * view. See the "VRAM" section of docs/internals/hook.md.
 *
 *   GPOOL_VGPU=<name>         the vGPU this process belongs to (unset: the hook only forwards)
 *   GPOOL_VRAM_LIMIT=<qty>    cap per device (Kubernetes quantity); used when creating the ledger
 *   GPOOL_COMPUTE_LIMIT=<pct> compute share, recorded at creation (enforcement comes later)
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
 * Charged: cuMemAlloc, AllocPitch (the returned pitch), AllocManaged, arrays and mipmapped arrays
 * (the driver's backing: rows padded to 512 bytes), cuMemAllocAsync / AllocFromPoolAsync (at
 * allocation; credited when cuMemFreeAsync is enqueued or cuMemFree frees the block), cuMemCreate
 * (device locations; credited at cuMemRelease, or at the last cuMemUnmap of a handle released
 * while still mapped), and a fixed overhead per context and per module
 * (cuCtxCreate*, first cuDevicePrimaryCtxRetain, cuModuleLoad*; GPOOL_VRAM_OVERHEAD=0 turns it
 * off). Not charged: IPC and shareable-handle imports (the
 * exporter pays), host memory. See docs/internals/hook.md for why and for what is left.
 */
#include "hook.h"

#include "gpool/cuda_format.h"
#include "gpool/ledger.h"
#include "gpool/limiter.h"
#include "gpool/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* Charges are rounded up to this: the simulator's allocation granule (4 KiB). A real driver
 * rounds small allocations to at least this much too. */
#define HOOK_VRAM_GRANULE 4096ull
/* cuMemAllocPitch's pitch is estimated as the width rounded to this before the driver answers;
 * the charge is then corrected to the pitch it returned. */
#define HOOK_VRAM_PITCH_ALIGN 512ull
/* Array rows are padded to this by the driver (the simulator's SIM_ARRAY_ROW_ALIGN). */
#define HOOK_VRAM_ARRAY_ROW_ALIGN 512ull

static struct {
    int enabled;          /* GPOOL_VGPU set */
    int bad;              /* configuration error: cuInit answers CUDA_ERROR_INVALID_VALUE */
    char name[LEDGER_NAME_MAX + 1];
    int have_vram;
    uint64_t vram_bytes;
    int have_pct;
    uint32_t compute_pct;
    int have_tflops; /* GPOOL_TFLOPS_LIMIT: converted to compute_pct when the ledger is made */
    double tflops;
    int no_overhead; /* GPOOL_VRAM_OVERHEAD=0: contexts and modules are not charged */
} cfg;

static pthread_mutex_t vram_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ledger *vram_ledger_handle;

/* The reservation of the allocation this thread is making, from before() to after(). */
static _Thread_local struct ledger_ticket vram_ticket;

static int hook_vram_config(void)
{
    const char *vgpu = getenv("GPOOL_VGPU");
    if (!vgpu || !*vgpu)
        return 0;
    cfg.enabled = 1;
    if (strlen(vgpu) > LEDGER_NAME_MAX) {
        LOG_ERROR("hook", "GPOOL_VGPU '%s': longer than %d characters", vgpu, LEDGER_NAME_MAX);
        cfg.bad = 1;
        return -1;
    }
    strcpy(cfg.name, vgpu);
    char err[256];
    const char *ovh = getenv("GPOOL_VRAM_OVERHEAD");
    if (ovh && *ovh) {
        if (strcmp(ovh, "0") == 0) {
            cfg.no_overhead = 1;
        } else if (strcmp(ovh, "1") != 0) {
            LOG_ERROR("hook", "GPOOL_VRAM_OVERHEAD '%s': expected 0 or 1", ovh);
            cfg.bad = 1;
        }
    }
    const char *vram = getenv("GPOOL_VRAM_LIMIT");
    if (vram && *vram) {
        if (limiter_parse_quantity(vram, &cfg.vram_bytes, err, sizeof(err)) < 0) {
            LOG_ERROR("hook", "GPOOL_VRAM_LIMIT '%s': %s", vram, err);
            cfg.bad = 1;
        } else {
            cfg.have_vram = 1;
        }
    }
    const char *pct = getenv("GPOOL_COMPUTE_LIMIT");
    const char *tflops = getenv("GPOOL_TFLOPS_LIMIT");
    if (pct && *pct && tflops && *tflops) {
        LOG_ERROR("hook", "GPOOL_COMPUTE_LIMIT '%s' and GPOOL_TFLOPS_LIMIT '%s' are both set; "
                          "set one of them",
                  pct, tflops);
        cfg.bad = 1;
    } else if (pct && *pct) {
        if (limiter_parse_percent(pct, &cfg.compute_pct, err, sizeof(err)) < 0) {
            LOG_ERROR("hook", "GPOOL_COMPUTE_LIMIT '%s': %s", pct, err);
            cfg.bad = 1;
        } else {
            cfg.have_pct = 1;
        }
    } else if (tflops && *tflops) {
        char *end = NULL;
        errno = 0;
        double v = strtod(tflops, &end);
        if (errno || end == tflops || *end || !(v > 0) || v > 1e9) {
            LOG_ERROR("hook", "GPOOL_TFLOPS_LIMIT '%s': expected a positive number of TFLOPs",
                      tflops);
            cfg.bad = 1;
        } else {
            cfg.have_tflops = 1;
            cfg.tflops = v;
        }
    }
    return cfg.bad ? -1 : 0;
}

static CUresult errno_result(int rc)
{
    return rc == -EDQUOT || rc == -ENOSPC ? CUDA_ERROR_OUT_OF_MEMORY : CUDA_ERROR_OPERATING_SYSTEM;
}

/* Warns when this process's environment asks for other limits than the ledger holds. */
static void warn_if_disagrees(struct ledger *l)
{
    struct ledger_limits lim;
    if (ledger_get_limits(l, &lim) < 0)
        return;
    if (cfg.have_vram && lim.vram_bytes != cfg.vram_bytes)
        LOG_WARN("hook", "vGPU '%s': GPOOL_VRAM_LIMIT is %llu bytes here but the ledger %s holds "
                         "%llu; following the ledger",
                 cfg.name, (unsigned long long)cfg.vram_bytes, ledger_path(l),
                 (unsigned long long)lim.vram_bytes);
    if (cfg.have_pct && lim.compute_pct != cfg.compute_pct)
        LOG_WARN("hook", "vGPU '%s': GPOOL_COMPUTE_LIMIT is %u%% here but the ledger %s holds "
                         "%u%%; following the ledger",
                 cfg.name, cfg.compute_pct, ledger_path(l), lim.compute_pct);
}

/*
 * Dense FP16 tensor TFLOPs of the models the hook knows, by the name the driver reports
 * (cuDeviceGetName): the figures of src/sim/model.c, which are NVIDIA's published dense FP16
 * numbers for those boards.
 */
static const struct {
    const char *name;
    double fp16_tflops;
} tflops_models[] = {
    {"NVIDIA H100 80GB HBM3", 989.4},   {"NVIDIA H100 PCIe", 756.0},
    {"NVIDIA H200", 989.4},             {"NVIDIA A100-SXM4-40GB", 312.0},
    {"NVIDIA A100-SXM4-80GB", 312.0},   {"NVIDIA A10", 125.0},
    {"NVIDIA L4", 121.0},               {"NVIDIA L40S", 362.0},
    {"NVIDIA GeForce RTX 4090", 165.2}, {"Tesla T4", 65.0},
    {"Tesla V100-SXM2-16GB", 125.0},
};

/*
 * GPOOL_TFLOPS_LIMIT as a compute share of device 0 (the ledger holds one share for all its
 * devices): limit / the model's FP16 TFLOPs, as a whole percent rounded to nearest, at least 1
 * and at most 100. CUDA_SUCCESS and *pct, or CUDA_ERROR_INVALID_VALUE for a model the table
 * does not know (logged, naming it).
 */
static CUresult tflops_to_pct(uint32_t *pct)
{
    hook_pfn_cuDeviceGetName fn = (hook_pfn_cuDeviceGetName)hook_real_fn(GPOOL_API_ID_cuDeviceGetName);
    if (!fn)
        return hook_real_missing(GPOOL_API_ID_cuDeviceGetName);
    char name[256] = "";
    CUresult res = fn(name, (int)sizeof(name), 0);
    if (res != CUDA_SUCCESS)
        return res;
    for (size_t i = 0; i < sizeof(tflops_models) / sizeof(tflops_models[0]); i++) {
        if (strcmp(tflops_models[i].name, name) != 0)
            continue;
        double share = cfg.tflops / tflops_models[i].fp16_tflops * 100.0;
        uint32_t p = share >= 100.0 ? 100 : (uint32_t)(share + 0.5);
        *pct = p < 1 ? 1 : p;
        LOG_INFO("hook", "vGPU '%s': GPOOL_TFLOPS_LIMIT %g of %s (%g FP16 TFLOPs) is %u%%",
                 cfg.name, cfg.tflops, name, tflops_models[i].fp16_tflops, *pct);
        return CUDA_SUCCESS;
    }
    LOG_ERROR("hook", "vGPU '%s': GPOOL_TFLOPS_LIMIT: the device model '%s' is not in the hook's "
                      "TFLOPs table; set GPOOL_COMPUTE_LIMIT instead",
              cfg.name, name);
    return CUDA_ERROR_INVALID_VALUE;
}

/*
 * The ledger of this process's vGPU, opened (or created with the environment's limits) on
 * first use; needs an initialised driver for the device count. CUDA_SUCCESS and *out, or the
 * error to return to the application.
 */
static CUresult hook_vram_ledger(struct ledger **out)
{
    pthread_mutex_lock(&vram_lock);
    CUresult res = CUDA_SUCCESS;
    if (vram_ledger_handle)
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
    if (cfg.have_tflops && !cfg.have_pct) {
        res = tflops_to_pct(&cfg.compute_pct);
        if (res != CUDA_SUCCESS)
            goto out;
        cfg.have_pct = 1;
    }
    struct ledger_limits create = {
        .vram_bytes = cfg.have_vram ? cfg.vram_bytes : 0,
        .compute_pct = cfg.have_pct ? cfg.compute_pct : 100,
        .ndev = (uint32_t)ndev,
    };
    char err[256] = "";
    int rc = ledger_open(NULL, cfg.name, &create, &vram_ledger_handle, err, sizeof(err));
    if (rc < 0) {
        LOG_ERROR("hook", "vGPU '%s': cannot open its ledger: %s (%s)", cfg.name, err,
                  strerror(-rc));
        vram_ledger_handle = NULL;
        res = CUDA_ERROR_OPERATING_SYSTEM;
        goto out;
    }
    warn_if_disagrees(vram_ledger_handle);
out:
    *out = vram_ledger_handle;
    pthread_mutex_unlock(&vram_lock);
    return res;
}

/* The current context's device. */
static CUresult current_device(int *dev)
{
    CUresult (*fn)(CUdevice *) = (CUresult(*)(CUdevice *))hook_real_fn(GPOOL_API_ID_cuCtxGetDevice);
    if (!fn)
        return hook_real_missing(GPOOL_API_ID_cuCtxGetDevice);
    CUdevice d = 0;
    CUresult res = fn(&d);
    *dev = (int)d;
    return res;
}

static int round_granule(uint64_t bytes, uint64_t *out)
{
    if (bytes > UINT64_MAX - (HOOK_VRAM_GRANULE - 1))
        return -1;
    *out = (bytes + HOOK_VRAM_GRANULE - 1) & ~(HOOK_VRAM_GRANULE - 1);
    return 0;
}

/* Bytes of pitch x height, rounded to the granule; -1 on overflow. */
static int pitch_charge(uint64_t pitch, uint64_t height, uint64_t *out)
{
    if (pitch && height > UINT64_MAX / pitch)
        return -1;
    return round_granule(pitch * height, out);
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
    uint64_t pitch = (row + HOOK_VRAM_ARRAY_ROW_ALIGN - 1) / HOOK_VRAM_ARRAY_ROW_ALIGN *
                     HOOK_VRAM_ARRAY_ROW_ALIGN;
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
    return round_granule(total, bytes);
}

/* Ledger keys of handles that are not device pointers carry a kind tag in the top bits, so a
 * handle can never be mistaken for a pointer (or another kind's handle) of the same value. */
#define HOOK_VRAM_KEY_ARRAY (1ull << 60)
#define HOOK_VRAM_KEY_MIPMAP (2ull << 60)
#define HOOK_VRAM_KEY_VMM (3ull << 60)

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
        uint64_t est = (w + HOOK_VRAM_PITCH_ALIGN - 1) / HOOK_VRAM_PITCH_ALIGN * HOOK_VRAM_PITCH_ALIGN;
        return pitch_charge(est, h, bytes);
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
    return round_granule(raw, bytes);
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
    uint64_t bytes;
    if (requested_charge(call, &bytes) < 0)
        return CUDA_ERROR_OUT_OF_MEMORY;
    if (bytes == 0)
        return CUDA_SUCCESS; /* not charged here, or refused by the driver itself */
    struct ledger *l;
    CUresult res = hook_vram_ledger(&l);
    if (res != CUDA_SUCCESS)
        return res;
    int dev = 0;
    if (call->id == GPOOL_API_ID_cuMemCreate) {
        /* Physical memory is charged to the device it is made on, not the current one. */
        dev = (*(const CUmemAllocationProp *const *)call->argv[2])->location.id;
    } else {
        res = current_device(&dev);
        if (res != CUDA_SUCCESS)
            return res;
    }
    if (dev < 0 || dev >= ledger_device_count(l))
        return CUDA_ERROR_INVALID_DEVICE;
    int rc = ledger_reserve(l, dev, bytes, &vram_ticket);
    if (rc < 0) {
        LOG_DEBUG("hook", "%s: %llu bytes on device %d refused by vGPU '%s': %s",
                  gpool_api_table[call->id].name, (unsigned long long)bytes, dev, cfg.name,
                  strerror(-rc));
        return errno_result(rc);
    }
    call->state = 1;
    return CUDA_SUCCESS;
}

static CUresult vram_alloc_after(struct hook_call *call, CUresult rc)
{
    if (!call->state)
        return rc;
    struct ledger *l = vram_ledger_handle; /* opened by before() */
    if (rc != CUDA_SUCCESS) {
        ledger_rollback(l, &vram_ticket);
        return rc;
    }
    uint64_t ptr = returned_pointer(call);
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
                return errno_result(r);
            }
        }
    }
    int r = ledger_commit(l, &vram_ticket, ptr);
    if (r == -EEXIST) {
        /* The driver reused an address the ledger still holds: that allocation is gone. */
        ledger_release(l, vram_ticket.dev, ptr, NULL);
        r = ledger_commit(l, &vram_ticket, ptr);
    }
    if (r < 0) {
        LOG_ERROR("hook", "%s: cannot record 0x%llx in vGPU '%s': %s",
                  gpool_api_table[call->id].name, (unsigned long long)ptr, cfg.name,
                  strerror(-r));
        ledger_rollback(l, &vram_ticket);
        undo_in_driver(call, ptr);
        return CUDA_ERROR_OPERATING_SYSTEM;
    }
    return CUDA_SUCCESS;
}

/*
 * VMM mappings. The driver keeps a cuMemCreate handle's physical memory until the last
 * cuMemUnmap of it, even after cuMemRelease; so cuMemMap and cuMemUnmap are wrapped by hand to
 * record each mapping (its VA start and size -> handle) and count mappings per handle, and
 * cuMemRelease of a still-mapped handle marks it released instead of crediting it: the credit
 * comes with the unmap that removes its last mapping. Kept in this process only: the process
 * that maps is the one that created or imported the handle, and a dead process's charges are
 * reclaimed whole by the ledger.
 */
struct vmm_map {
    uint64_t va, size;
    CUmemGenericAllocationHandle handle;
};
struct vmm_handle {
    CUmemGenericAllocationHandle handle;
    uint32_t nmaps;
    int released; /* cuMemRelease succeeded while mapped: credit at the last unmap */
};

static pthread_mutex_t vmm_lock = PTHREAD_MUTEX_INITIALIZER;
static struct vmm_map *vmm_maps;
static size_t vmm_nmaps, vmm_maps_cap;
static struct vmm_handle *vmm_handles;
static size_t vmm_nhandles, vmm_handles_cap;

/* The entry of h (created with nmaps 0 when create), or NULL. Under vmm_lock. */
static struct vmm_handle *vmm_handle_find(CUmemGenericAllocationHandle h, int create)
{
    for (size_t i = 0; i < vmm_nhandles; i++)
        if (vmm_handles[i].handle == h)
            return &vmm_handles[i];
    if (!create)
        return NULL;
    if (vmm_nhandles == vmm_handles_cap) {
        size_t n = vmm_handles_cap ? 2 * vmm_handles_cap : 16;
        struct vmm_handle *p = realloc(vmm_handles, n * sizeof(*p));
        if (!p)
            return NULL;
        vmm_handles = p, vmm_handles_cap = n;
    }
    vmm_handles[vmm_nhandles] = (struct vmm_handle){.handle = h};
    return &vmm_handles[vmm_nhandles++];
}

/* Whether cuMemRelease(h), which the driver accepted, must leave the credit to the last unmap. */
static int vmm_release_deferred(CUmemGenericAllocationHandle h)
{
    pthread_mutex_lock(&vmm_lock);
    struct vmm_handle *e = vmm_handle_find(h, 0);
    int deferred = e && e->nmaps > 0;
    if (deferred)
        e->released = 1;
    pthread_mutex_unlock(&vmm_lock);
    return deferred;
}

/* Credits the VMM handle h (its charge key) wherever it was charged. */
static void vmm_credit(CUmemGenericAllocationHandle h)
{
    struct ledger *l;
    if (!cfg.enabled || hook_vram_ledger(&l) != CUDA_SUCCESS)
        return;
    uint64_t key = (uint64_t)h ^ HOOK_VRAM_KEY_VMM;
    for (int d = 0; d < ledger_device_count(l); d++)
        if (ledger_release(l, d, key, NULL) == 0)
            return;
}

CUresult cuMemMap(CUdeviceptr ptr, size_t size, size_t offset, CUmemGenericAllocationHandle handle,
                  unsigned long long flags)
{
    hook_pfn_cuMemMap real = (hook_pfn_cuMemMap)hook_real_fn(GPOOL_API_ID_cuMemMap);
    if (!real)
        return hook_real_missing(GPOOL_API_ID_cuMemMap);
    CUresult rc = real(ptr, size, offset, handle, flags);
    if (rc != CUDA_SUCCESS || !cfg.enabled)
        return rc;
    pthread_mutex_lock(&vmm_lock);
    struct vmm_handle *e = vmm_handle_find(handle, 1);
    if (e && vmm_nmaps == vmm_maps_cap) {
        size_t n = vmm_maps_cap ? 2 * vmm_maps_cap : 16;
        struct vmm_map *p = realloc(vmm_maps, n * sizeof(*p));
        if (p)
            vmm_maps = p, vmm_maps_cap = n;
    }
    if (e && vmm_nmaps < vmm_maps_cap) {
        vmm_maps[vmm_nmaps++] = (struct vmm_map){(uint64_t)ptr, (uint64_t)size, handle};
        e->nmaps++;
    } else {
        /* Untracked: a later cuMemRelease credits at once, as before mappings were tracked. */
        LOG_WARN("hook", "cuMemMap(0x%llx): out of memory recording the mapping; its handle will "
                         "be credited at cuMemRelease",
                 (unsigned long long)ptr);
    }
    pthread_mutex_unlock(&vmm_lock);
    return rc;
}

CUresult cuMemUnmap(CUdeviceptr ptr, size_t size)
{
    hook_pfn_cuMemUnmap real = (hook_pfn_cuMemUnmap)hook_real_fn(GPOOL_API_ID_cuMemUnmap);
    if (!real)
        return hook_real_missing(GPOOL_API_ID_cuMemUnmap);
    CUresult rc = real(ptr, size);
    if (rc != CUDA_SUCCESS || !cfg.enabled)
        return rc;
    /* The driver unmapped every mapping inside [ptr, ptr + size): drop them; a released handle
     * whose last mapping goes is credited (after the lock, as the ledger takes its own). */
    CUmemGenericAllocationHandle credit[16];
    size_t ncredit = 0;
    uint64_t lo = (uint64_t)ptr, hi = lo + (uint64_t)size;
    pthread_mutex_lock(&vmm_lock);
    for (size_t i = 0; i < vmm_nmaps;) {
        struct vmm_map *m = &vmm_maps[i];
        if (m->va < lo || m->va >= hi) {
            i++;
            continue;
        }
        struct vmm_handle *e = vmm_handle_find(m->handle, 0);
        if (e && e->nmaps > 0 && --e->nmaps == 0) {
            if (e->released && ncredit < sizeof(credit) / sizeof(credit[0]))
                credit[ncredit++] = e->handle;
            else if (e->released)
                vmm_credit(e->handle); /* rare: more than 16 at once; ledger lock is separate */
            *e = vmm_handles[--vmm_nhandles];
        }
        vmm_maps[i] = vmm_maps[--vmm_nmaps];
    }
    pthread_mutex_unlock(&vmm_lock);
    for (size_t i = 0; i < ncredit; i++)
        vmm_credit(credit[i]);
    return rc;
}

static CUresult vram_free_after(struct hook_call *call, CUresult rc)
{
    if (rc != CUDA_SUCCESS)
        return rc;
    uint64_t ptr;
    if (call->id == GPOOL_API_ID_cuMemFree_v2)
        ptr = *(const CUdeviceptr *)call->argv[0];
    else if (call->id == GPOOL_API_ID_cuMemFree)
        ptr = *(const CUdeviceptr_v1 *)call->argv[0];
    else if (call->id == GPOOL_API_ID_cuMemFreeAsync || call->id == GPOOL_API_ID_cuMemFreeAsync_ptsz)
        ptr = *(const CUdeviceptr *)call->argv[0]; /* credited when the free is enqueued */
    else if (call->id == GPOOL_API_ID_cuArrayDestroy)
        ptr = (uint64_t)(uintptr_t) * (const CUarray *)call->argv[0] ^ HOOK_VRAM_KEY_ARRAY;
    else if (call->id == GPOOL_API_ID_cuMipmappedArrayDestroy)
        ptr = (uint64_t)(uintptr_t) * (const CUmipmappedArray *)call->argv[0] ^ HOOK_VRAM_KEY_MIPMAP;
    else if (call->id == GPOOL_API_ID_cuMemRelease) {
        CUmemGenericAllocationHandle h = *(const CUmemGenericAllocationHandle *)call->argv[0];
        if (vmm_release_deferred(h))
            return rc; /* still mapped: credited at its last cuMemUnmap */
        ptr = (uint64_t)h ^ HOOK_VRAM_KEY_VMM;
    } else
        return rc; /* IPC close, host memory, pool trim: nothing the vGPU charged */
    struct ledger *l;
    if (ptr == 0 || hook_vram_ledger(&l) != CUDA_SUCCESS)
        return rc;
    /* The allocation was charged to the device current when it was made: try that first. */
    int cur = -1;
    if (current_device(&cur) == CUDA_SUCCESS && ledger_release(l, cur, ptr, NULL) == 0)
        return rc;
    for (int d = 0; d < ledger_device_count(l); d++)
        if (d != cur && ledger_release(l, d, ptr, NULL) == 0)
            return rc;
    LOG_DEBUG("hook", "%s(0x%llx): not an allocation the vGPU charged",
              gpool_api_table[call->id].name, (unsigned long long)ptr);
    return rc;
}

static const struct hook_interceptor vram_alloc_interceptor = {vram_alloc_before, vram_alloc_after};
static const struct hook_interceptor vram_free_interceptor = {NULL, vram_free_after};

void hook_vram_init(void)
{
    if (hook_vram_config() < 0 || !cfg.enabled)
        return;
    hook_intercept_set(GPOOL_API_ALLOCATES, &vram_alloc_interceptor);
    hook_intercept_set(GPOOL_API_FREES, &vram_free_interceptor);
}

CUresult hook_vram_on_init(int driver_ready)
{
    if (cfg.bad)
        return CUDA_ERROR_INVALID_VALUE;
    if (!cfg.enabled || !driver_ready)
        return CUDA_SUCCESS;
    struct ledger *l;
    return hook_vram_ledger(&l);
}

/*
 * The vGPU's view of device dev: *total becomes min(cap, device total) and *free the part of it
 * the vGPU has not used, never more than the device has free. Unchanged without a cap.
 */
static CUresult vram_view(int dev, uint64_t *free_bytes, uint64_t *total)
{
    if (!cfg.enabled)
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

CUresult cuMemGetInfo_v2(size_t *free_bytes, size_t *total)
{
    hook_pfn_cuMemGetInfo_v2 real = (hook_pfn_cuMemGetInfo_v2)hook_real_fn(GPOOL_API_ID_cuMemGetInfo_v2);
    if (!real)
        return hook_real_missing(GPOOL_API_ID_cuMemGetInfo_v2);
    CUresult rc = real(free_bytes, total);
    int dev = 0;
    if (rc != CUDA_SUCCESS || !cfg.enabled || current_device(&dev) != CUDA_SUCCESS)
        return rc;
    uint64_t f = *free_bytes, t = *total;
    rc = vram_view(dev, &f, &t);
    *free_bytes = (size_t)f;
    *total = (size_t)t;
    return rc;
}

CUresult cuMemGetInfo(unsigned int *free_bytes, unsigned int *total)
{
    hook_pfn_cuMemGetInfo real = (hook_pfn_cuMemGetInfo)hook_real_fn(GPOOL_API_ID_cuMemGetInfo);
    if (!real)
        return hook_real_missing(GPOOL_API_ID_cuMemGetInfo);
    CUresult rc = real(free_bytes, total);
    int dev = 0;
    if (rc != CUDA_SUCCESS || !cfg.enabled || current_device(&dev) != CUDA_SUCCESS)
        return rc;
    uint64_t f = *free_bytes, t = *total;
    rc = vram_view(dev, &f, &t);
    *free_bytes = (unsigned int)f;
    *total = (unsigned int)t;
    return rc;
}

CUresult cuDeviceTotalMem_v2(size_t *bytes, CUdevice dev)
{
    hook_pfn_cuDeviceTotalMem_v2 real =
        (hook_pfn_cuDeviceTotalMem_v2)hook_real_fn(GPOOL_API_ID_cuDeviceTotalMem_v2);
    if (!real)
        return hook_real_missing(GPOOL_API_ID_cuDeviceTotalMem_v2);
    CUresult rc = real(bytes, dev);
    if (rc != CUDA_SUCCESS || !cfg.enabled)
        return rc;
    uint64_t t = *bytes;
    rc = vram_view((int)dev, NULL, &t);
    *bytes = (size_t)t;
    return rc;
}

CUresult cuDeviceTotalMem(unsigned int *bytes, CUdevice dev)
{
    hook_pfn_cuDeviceTotalMem real = (hook_pfn_cuDeviceTotalMem)hook_real_fn(GPOOL_API_ID_cuDeviceTotalMem);
    if (!real)
        return hook_real_missing(GPOOL_API_ID_cuDeviceTotalMem);
    CUresult rc = real(bytes, dev);
    if (rc != CUDA_SUCCESS || !cfg.enabled)
        return rc;
    uint64_t t = *bytes;
    rc = vram_view((int)dev, NULL, &t);
    *bytes = (unsigned int)t;
    return rc;
}

/*
 * Context and module overhead. The driver takes device memory of its own for every context it
 * creates and every module it loads; the vGPU charges a fixed figure for each, reserved before
 * the driver is called (past the cap the call answers CUDA_ERROR_OUT_OF_MEMORY and the driver
 * never sees it) and committed under the handle's tagged key once the driver succeeded. The
 * figures are those of the simulated H100 (src/sim/model.c), which a real H100 driver is close
 * to; they are not measured per call, so other processes on the device cannot skew them.
 * GPOOL_VRAM_OVERHEAD=0 turns this off (the plain allocation paths stay charged).
 */
#define HOOK_VRAM_CTX_OVERHEAD (512ull << 20)
#define HOOK_VRAM_MODULE_OVERHEAD (2ull << 20)
#define HOOK_VRAM_KEY_CTX (4ull << 60)
#define HOOK_VRAM_KEY_PRIMARY (5ull << 60)
#define HOOK_VRAM_KEY_MODULE (6ull << 60)

static int overhead_charged(void)
{
    return cfg.enabled && !cfg.no_overhead;
}

/* Reserves `bytes` of overhead on dev into *t. CUDA_SUCCESS, or what the application gets. */
static CUresult overhead_reserve(int dev, uint64_t bytes, const char *what,
                                 struct ledger_ticket *t)
{
    struct ledger *l;
    CUresult res = hook_vram_ledger(&l);
    if (res != CUDA_SUCCESS)
        return res;
    if (dev < 0 || dev >= ledger_device_count(l))
        return CUDA_ERROR_INVALID_DEVICE;
    int rc = ledger_reserve(l, dev, bytes, t);
    if (rc < 0) {
        LOG_DEBUG("hook", "%s: %llu bytes of overhead on device %d refused by vGPU '%s': %s",
                  what, (unsigned long long)bytes, dev, cfg.name, strerror(-rc));
        return errno_result(rc);
    }
    return CUDA_SUCCESS;
}

/* Commits reservation t as `key` when the driver answered rc == CUDA_SUCCESS, else drops it.
 * A key already recorded (a concurrent retain of the same primary context) keeps one charge. */
static void overhead_settle(struct ledger_ticket *t, CUresult rc, uint64_t key, const char *what)
{
    struct ledger *l = vram_ledger_handle; /* opened by overhead_reserve() */
    if (rc != CUDA_SUCCESS) {
        ledger_rollback(l, t);
        return;
    }
    int r = ledger_commit(l, t, key);
    if (r < 0) {
        if (r != -EEXIST)
            LOG_ERROR("hook", "%s: cannot record overhead 0x%llx in vGPU '%s': %s", what,
                      (unsigned long long)key, cfg.name, strerror(-r));
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

#define HOOK_VRAM_REAL(name)                                                                       \
    hook_pfn_##name real = (hook_pfn_##name)hook_real_fn(GPOOL_API_ID_##name);                     \
    if (!real)                                                                                     \
        return hook_real_missing(GPOOL_API_ID_##name)

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
        overhead_settle(&t, rc, rc == CUDA_SUCCESS ? (uint64_t)(uintptr_t)*pctx ^ HOOK_VRAM_KEY_CTX \
                                                   : 0, #name);                                    \
        return rc;                                                                                 \
    } while (0)

CUresult cuCtxCreate(CUcontext *pctx, unsigned int flags, CUdevice dev)
{
    HOOK_VRAM_REAL(cuCtxCreate);
    HOOK_VRAM_CTX_CREATE(cuCtxCreate, (pctx, flags, dev));
}

CUresult cuCtxCreate_v2(CUcontext *pctx, unsigned int flags, CUdevice dev)
{
    HOOK_VRAM_REAL(cuCtxCreate_v2);
    HOOK_VRAM_CTX_CREATE(cuCtxCreate_v2, (pctx, flags, dev));
}

CUresult cuCtxCreate_v3(CUcontext *pctx, CUexecAffinityParam *paramsArray, int numParams,
                        unsigned int flags, CUdevice dev)
{
    HOOK_VRAM_REAL(cuCtxCreate_v3);
    HOOK_VRAM_CTX_CREATE(cuCtxCreate_v3, (pctx, paramsArray, numParams, flags, dev));
}

CUresult cuCtxCreate_v4(CUcontext *pctx, CUctxCreateParams *ctxCreateParams, unsigned int flags,
                        CUdevice dev)
{
    HOOK_VRAM_REAL(cuCtxCreate_v4);
    HOOK_VRAM_CTX_CREATE(cuCtxCreate_v4, (pctx, ctxCreateParams, flags, dev));
}

CUresult cuCtxDestroy(CUcontext ctx)
{
    HOOK_VRAM_REAL(cuCtxDestroy);
    CUresult rc = real(ctx);
    if (rc == CUDA_SUCCESS && overhead_charged())
        overhead_credit(-1, (uint64_t)(uintptr_t)ctx ^ HOOK_VRAM_KEY_CTX);
    return rc;
}

CUresult cuCtxDestroy_v2(CUcontext ctx)
{
    HOOK_VRAM_REAL(cuCtxDestroy_v2);
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
    HOOK_VRAM_REAL(cuDevicePrimaryCtxRetain);
    if (!overhead_charged() || primary_active(dev) == 1)
        return real(pctx, dev);
    struct ledger_ticket t;
    CUresult rc = overhead_reserve((int)dev, HOOK_VRAM_CTX_OVERHEAD, "cuDevicePrimaryCtxRetain", &t);
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
    HOOK_VRAM_REAL(cuDevicePrimaryCtxRelease);
    return primary_after(dev, real(dev));
}

CUresult cuDevicePrimaryCtxRelease_v2(CUdevice dev)
{
    HOOK_VRAM_REAL(cuDevicePrimaryCtxRelease_v2);
    return primary_after(dev, real(dev));
}

CUresult cuDevicePrimaryCtxReset(CUdevice dev)
{
    HOOK_VRAM_REAL(cuDevicePrimaryCtxReset);
    return primary_after(dev, real(dev));
}

CUresult cuDevicePrimaryCtxReset_v2(CUdevice dev)
{
    HOOK_VRAM_REAL(cuDevicePrimaryCtxReset_v2);
    return primary_after(dev, real(dev));
}

/* cuModuleLoad*: a module's overhead on the current context's device, key = the module. Without
 * a current context the driver refuses the load itself. */
#define HOOK_VRAM_MODULE_LOAD(name, call_args)                                                     \
    do {                                                                                           \
        int dev = 0;                                                                               \
        if (!overhead_charged() || current_device(&dev) != CUDA_SUCCESS)                           \
            return real call_args;                                                                 \
        struct ledger_ticket t;                                                                    \
        CUresult rc = overhead_reserve(dev, HOOK_VRAM_MODULE_OVERHEAD, #name, &t);                 \
        if (rc != CUDA_SUCCESS)                                                                    \
            return rc;                                                                             \
        rc = real call_args;                                                                       \
        overhead_settle(&t, rc,                                                                    \
                        rc == CUDA_SUCCESS ? (uint64_t)(uintptr_t)*module ^ HOOK_VRAM_KEY_MODULE   \
                                           : 0,                                                    \
                        #name);                                                                    \
        return rc;                                                                                 \
    } while (0)

CUresult cuModuleLoad(CUmodule *module, const char *fname)
{
    HOOK_VRAM_REAL(cuModuleLoad);
    HOOK_VRAM_MODULE_LOAD(cuModuleLoad, (module, fname));
}

CUresult cuModuleLoadData(CUmodule *module, const void *image)
{
    HOOK_VRAM_REAL(cuModuleLoadData);
    HOOK_VRAM_MODULE_LOAD(cuModuleLoadData, (module, image));
}

CUresult cuModuleLoadDataEx(CUmodule *module, const void *image, unsigned int numOptions,
                            CUjit_option *options, void **optionValues)
{
    HOOK_VRAM_REAL(cuModuleLoadDataEx);
    HOOK_VRAM_MODULE_LOAD(cuModuleLoadDataEx, (module, image, numOptions, options, optionValues));
}

CUresult cuModuleLoadFatBinary(CUmodule *module, const void *fatCubin)
{
    HOOK_VRAM_REAL(cuModuleLoadFatBinary);
    HOOK_VRAM_MODULE_LOAD(cuModuleLoadFatBinary, (module, fatCubin));
}

CUresult cuModuleUnload(CUmodule hmod)
{
    HOOK_VRAM_REAL(cuModuleUnload);
    CUresult rc = real(hmod);
    if (rc == CUDA_SUCCESS && overhead_charged())
        overhead_credit(-1, (uint64_t)(uintptr_t)hmod ^ HOOK_VRAM_KEY_MODULE);
    return rc;
}
