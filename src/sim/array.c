/*
 * array.c: CUDA arrays and mipmapped arrays of the simulated GPU.
 *
 * An array is a descriptor (format, channels, extents, flags) and a backing block of device
 * memory charged to the device with sim_state_alloc (SIM_CHARGE_MEMORY), so cuMemGetInfo and
 * NVML see it. Rows are padded to SIM_ARRAY_ROW_ALIGN bytes; layers (or depth slices) follow
 * each other; the levels of a mipmapped array share one block, each level starting on a row
 * boundary. The layout is private: only copies (copy.c, through array.h) read it.
 *
 * Handles are validated in a process-wide list before they are dereferenced, so garbage or a
 * destroyed handle is CUDA_ERROR_INVALID_HANDLE, never a crash. The backing is reference
 * counted: a queued copy keeps it alive after cuArrayDestroy. Arrays are destroyed with the
 * context that created them. Texture and surface objects are not simulated.
 */
#include "array.h"
#include "driver.h"

#include "gpool/cuda_format.h"
#include "gpool/log.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define EXPORT __attribute__((visibility("default")))

/* Some exported names may have no prototype in the API header in use. */
#pragma GCC diagnostic ignored "-Wmissing-prototypes"

#define SIM_ARRAY_ROW_ALIGN 512u
#define ARRAY_MAGIC  0x41525259u
#define MIPMAP_MAGIC 0x4d495050u

/* Flags this simulator knows; of these, SPARSE and VIDEO_ENCODE_DECODE are not supported. */
#define KNOWN_FLAGS                                                                                \
    (CUDA_ARRAY3D_LAYERED | CUDA_ARRAY3D_SURFACE_LDST | CUDA_ARRAY3D_CUBEMAP |                     \
     CUDA_ARRAY3D_TEXTURE_GATHER | CUDA_ARRAY3D_DEPTH_TEXTURE | CUDA_ARRAY3D_COLOR_ATTACHMENT |   \
     CUDA_ARRAY3D_SPARSE | CUDA_ARRAY3D_DEFERRED_MAPPING | CUDA_ARRAY3D_VIDEO_ENCODE_DECODE)

struct sim_array_mem {
    int refs;         /* under g_lock */
    int device;
    int charged;      /* 0 for a deferred-mapping array: no backing */
    uint64_t offset;  /* of the block in device memory */
};

struct CUarray_st {
    uint32_t magic;
    struct CUarray_st *next;          /* g_arrays */
    struct CUctx_st *ctx;
    CUDA_ARRAY3D_DESCRIPTOR desc;
    size_t elem, pitch, rows, layers;
    uint64_t base;                    /* offset of the level in mem */
    struct sim_array_mem *mem;
    struct CUmipmappedArray_st *mip;  /* the mipmapped array of a level, else NULL */
};

struct CUmipmappedArray_st {
    uint32_t magic;
    struct CUmipmappedArray_st *next; /* g_mipmaps */
    struct CUctx_st *ctx;
    CUDA_ARRAY3D_DESCRIPTOR desc;
    struct sim_array_mem *mem;
    unsigned nlevels;
    struct CUarray_st **levels;
};

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static struct CUarray_st *g_arrays;
static struct CUmipmappedArray_st *g_mipmaps;

/* ---- Backing ------------------------------------------------------------------------------ */

void sim_array_hold(struct sim_array_mem *m)
{
    pthread_mutex_lock(&g_lock);
    m->refs++;
    pthread_mutex_unlock(&g_lock);
}

void sim_array_put(struct sim_array_mem *m)
{
    if (!m)
        return;
    pthread_mutex_lock(&g_lock);
    int last = --m->refs == 0;
    pthread_mutex_unlock(&g_lock);
    if (!last)
        return;
    if (m->charged) {
        int rc = sim_state_free(sim_process_instance(), m->device, m->offset);
        if (rc < 0)
            LOG_WARN("sim", "array backing at offset 0x%llx of device %d: releasing failed (%d)",
                     (unsigned long long)m->offset, m->device, rc);
    }
    free(m);
}

unsigned char *sim_array_host(const struct sim_array_mem *m)
{
    return (unsigned char *)sim_instance_dev_memory(sim_process_instance(), m->device) +
           m->offset;
}

/* Makes a backing of size bytes on dev (none when deferred). */
static CUresult mem_new(int dev, uint64_t size, int deferred, struct sim_array_mem **out)
{
    struct sim_array_mem *m = calloc(1, sizeof(*m));
    if (!m)
        return CUDA_ERROR_OUT_OF_MEMORY;
    m->refs = 1;
    m->device = dev;
    if (!deferred) {
        int rc = sim_state_alloc(sim_process_instance(), dev, size, SIM_CHARGE_MEMORY, &m->offset,
                                 NULL);
        if (rc < 0) {
            free(m);
            return CUDA_ERROR_OUT_OF_MEMORY;
        }
        m->charged = 1;
    }
    *out = m;
    return CUDA_SUCCESS;
}

/* ---- Descriptors -------------------------------------------------------------------------- */


static int attr(int dev, CUdevice_attribute a)
{
    int v = 0;
    if (cuDeviceGetAttribute(&v, a, dev) != CUDA_SUCCESS)
        return 0;
    return v;
}

static int in_range(unsigned v, int max)
{
    return v >= 1 && max > 0 && v <= (unsigned)max;
}

/* Checks a descriptor as cuArray3DCreate documents it and returns the element size.
 * CUDA_ERROR_INVALID_VALUE for an invalid one, CUDA_ERROR_NOT_SUPPORTED for a valid one the
 * simulator does not model (sparse, video, block-compressed and YUV formats). */
static CUresult desc_check(const CUDA_ARRAY3D_DESCRIPTOR *d, int dev, size_t *elem)
{
    unsigned fl = d->Flags;
    if (fl & ~(unsigned)KNOWN_FLAGS)
        return CUDA_ERROR_INVALID_VALUE;
    size_t es = gpool_cuda_array_element_size(d->Format, d->NumChannels);
    if (es == 0 || d->Width > UINT32_MAX || d->Height > UINT32_MAX || d->Depth > UINT32_MAX)
        return CUDA_ERROR_INVALID_VALUE;
    unsigned W = d->Width, H = d->Height, D = d->Depth;
    int layered = !!(fl & CUDA_ARRAY3D_LAYERED), cube = !!(fl & CUDA_ARRAY3D_CUBEMAP);
    int ok;
    if (cube) {
        ok = W == H && H && (layered ? D && D % 6 == 0 : D == 6) &&
             in_range(W, attr(dev, layered ? CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURECUBEMAP_LAYERED_WIDTH
                                           : CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURECUBEMAP_WIDTH)) &&
             (!layered ||
              in_range(D, attr(dev, CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURECUBEMAP_LAYERED_LAYERS)));
    } else if (layered && H == 0) { /* 1D layered */
        ok = in_range(W, attr(dev, CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE1D_LAYERED_WIDTH)) &&
             in_range(D, attr(dev, CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE1D_LAYERED_LAYERS));
    } else if (layered) { /* 2D layered */
        ok = in_range(W, attr(dev, CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE2D_LAYERED_WIDTH)) &&
             in_range(H, attr(dev, CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE2D_LAYERED_HEIGHT)) &&
             in_range(D, attr(dev, CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE2D_LAYERED_LAYERS));
    } else if (H == 0) { /* 1D */
        ok = D == 0 && in_range(W, attr(dev, CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE1D_WIDTH));
    } else if (D == 0) { /* 2D */
        ok = in_range(W, attr(dev, CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE2D_WIDTH)) &&
             in_range(H, attr(dev, CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE2D_HEIGHT));
    } else { /* 3D, in the normal or the alternate limits */
        ok = (in_range(W, attr(dev, CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE3D_WIDTH)) &&
              in_range(H, attr(dev, CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE3D_HEIGHT)) &&
              in_range(D, attr(dev, CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE3D_DEPTH))) ||
             (in_range(W, attr(dev, CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE3D_WIDTH_ALTERNATE)) &&
              in_range(H, attr(dev, CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE3D_HEIGHT_ALTERNATE)) &&
              in_range(D, attr(dev, CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE3D_DEPTH_ALTERNATE)));
    }
    /* Texture gather is for 2D arrays only. */
    if ((fl & CUDA_ARRAY3D_TEXTURE_GATHER) && (layered || cube || H == 0 || D != 0))
        ok = 0;
    if (!ok)
        return CUDA_ERROR_INVALID_VALUE;
    if (es == SIZE_MAX || (fl & (CUDA_ARRAY3D_SPARSE | CUDA_ARRAY3D_VIDEO_ENCODE_DECODE)))
        return CUDA_ERROR_NOT_SUPPORTED;
    *elem = es;
    return CUDA_SUCCESS;
}

/* Bytes of one level of extents W x H x D (H, D may be 0) with elem-byte elements. */
static uint64_t level_bytes(size_t elem, unsigned W, unsigned H, unsigned D, size_t *pitch)
{
    uint64_t row = (uint64_t)W * elem;
    uint64_t p = (row + SIM_ARRAY_ROW_ALIGN - 1) / SIM_ARRAY_ROW_ALIGN * SIM_ARRAY_ROW_ALIGN;
    if (pitch)
        *pitch = p;
    return p * (H ? H : 1) * (D ? D : 1); /* extents are at most 2^17: no overflow */
}

/* The device-memory size charged for an array, as cuArrayGetMemoryRequirements reports it. */
static uint64_t charged_size(uint64_t bytes)
{
    return (bytes + SIM_ALLOC_GRANULE - 1) / SIM_ALLOC_GRANULE * SIM_ALLOC_GRANULE;
}

/* Extents of mipmap level i: each non-zero extent halves (not the layer count), down to 1. */
static void level_desc(const CUDA_ARRAY3D_DESCRIPTOR *d, unsigned i, CUDA_ARRAY3D_DESCRIPTOR *o)
{
    int layered = !!(d->Flags & (CUDA_ARRAY3D_LAYERED | CUDA_ARRAY3D_CUBEMAP));
    *o = *d;
    o->Width = d->Width >> i ? d->Width >> i : 1;
    if (d->Height)
        o->Height = d->Height >> i ? d->Height >> i : 1;
    if (d->Depth && !layered)
        o->Depth = d->Depth >> i ? d->Depth >> i : 1;
}

static struct CUarray_st *array_new(struct CUctx_st *ctx, const CUDA_ARRAY3D_DESCRIPTOR *d,
                                    size_t elem, uint64_t base, struct sim_array_mem *mem)
{
    struct CUarray_st *a = calloc(1, sizeof(*a));
    if (!a)
        return NULL;
    a->magic = ARRAY_MAGIC;
    a->ctx = ctx;
    a->desc = *d;
    a->elem = elem;
    level_bytes(elem, d->Width, d->Height, d->Depth, &a->pitch);
    a->rows = d->Height ? d->Height : 1;
    a->layers = d->Depth ? d->Depth : 1;
    a->base = base;
    a->mem = mem;
    return a;
}

/* Finds a live array handle; call with g_lock held. */
static struct CUarray_st *array_find_locked(CUarray h)
{
    for (struct CUarray_st *a = g_arrays; a; a = a->next)
        if (a == h)
            return a->magic == ARRAY_MAGIC ? a : NULL;
    return NULL;
}

static struct CUmipmappedArray_st *mipmap_find_locked(CUmipmappedArray h)
{
    for (struct CUmipmappedArray_st *m = g_mipmaps; m; m = m->next)
        if (m == h)
            return m->magic == MIPMAP_MAGIC ? m : NULL;
    return NULL;
}

static void array_unlink_locked(struct CUarray_st *a)
{
    for (struct CUarray_st **p = &g_arrays; *p; p = &(*p)->next)
        if (*p == a) {
            *p = a->next;
            break;
        }
    a->magic = 0;
}

static void mipmap_unlink_locked(struct CUmipmappedArray_st *m)
{
    for (struct CUmipmappedArray_st **p = &g_mipmaps; *p; p = &(*p)->next)
        if (*p == m) {
            *p = m->next;
            break;
        }
    m->magic = 0;
    for (unsigned i = 0; i < m->nlevels; i++)
        array_unlink_locked(m->levels[i]);
}

/* Frees an unlinked mipmapped array and its levels, dropping the backing reference. */
static void mipmap_free(struct CUmipmappedArray_st *m)
{
    for (unsigned i = 0; i < m->nlevels; i++)
        free(m->levels[i]);
    free(m->levels);
    sim_array_put(m->mem);
    free(m);
}

/* ---- Copies' view (array.h) --------------------------------------------------------------- */

CUresult sim_array_get(CUarray h, struct sim_array_view *v)
{
    pthread_mutex_lock(&g_lock);
    struct CUarray_st *a = array_find_locked(h);
    if (!a) {
        pthread_mutex_unlock(&g_lock);
        return CUDA_ERROR_INVALID_HANDLE;
    }
    if (!a->mem->charged) {
        pthread_mutex_unlock(&g_lock);
        return CUDA_ERROR_INVALID_VALUE; /* deferred mapping: nothing is mapped */
    }
    a->mem->refs++;
    *v = (struct sim_array_view){
        .mem = a->mem, .device = a->mem->device, .elem = a->elem,
        .row_bytes = (size_t)a->desc.Width * a->elem, .rows = a->rows, .layers = a->layers,
        .pitch = a->pitch, .slice = a->pitch * a->rows, .base = a->base,
    };
    pthread_mutex_unlock(&g_lock);
    return CUDA_SUCCESS;
}

void sim_array_release_ctx(struct CUctx_st *ctx)
{
    struct CUarray_st *dead_arrays = NULL;
    struct CUmipmappedArray_st *dead_mips = NULL;
    pthread_mutex_lock(&g_lock);
    for (struct CUmipmappedArray_st **p = &g_mipmaps; *p;) {
        struct CUmipmappedArray_st *m = *p;
        if (m->ctx == ctx) {
            *p = m->next;
            m->next = NULL;
            mipmap_unlink_locked(m);
            m->next = dead_mips;
            dead_mips = m;
        } else {
            p = &m->next;
        }
    }
    for (struct CUarray_st **p = &g_arrays; *p;) {
        struct CUarray_st *a = *p;
        if (a->ctx == ctx) {
            *p = a->next;
            a->magic = 0;
            a->next = dead_arrays;
            dead_arrays = a;
        } else {
            p = &a->next;
        }
    }
    pthread_mutex_unlock(&g_lock);
    while (dead_mips) {
        struct CUmipmappedArray_st *m = dead_mips;
        dead_mips = m->next;
        mipmap_free(m);
    }
    while (dead_arrays) {
        struct CUarray_st *a = dead_arrays;
        dead_arrays = a->next;
        sim_array_put(a->mem);
        free(a);
    }
}

/* ---- Arrays ------------------------------------------------------------------------------- */

static CUresult array_create(CUarray *out, const CUDA_ARRAY3D_DESCRIPTOR *d)
{
    struct CUctx_st *ctx;
    CUresult rc = sim_ctx_current(&ctx);
    if (rc != CUDA_SUCCESS)
        return rc;
    if (!out || !d)
        return CUDA_ERROR_INVALID_VALUE;
    size_t elem;
    if ((rc = desc_check(d, ctx->device, &elem)) != CUDA_SUCCESS)
        return rc;
    uint64_t bytes = level_bytes(elem, d->Width, d->Height, d->Depth, NULL);
    struct sim_array_mem *mem;
    if ((rc = mem_new(ctx->device, bytes, !!(d->Flags & CUDA_ARRAY3D_DEFERRED_MAPPING), &mem)) !=
        CUDA_SUCCESS)
        return rc;
    struct CUarray_st *a = array_new(ctx, d, elem, 0, mem);
    if (!a) {
        sim_array_put(mem);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    pthread_mutex_lock(&g_lock);
    a->next = g_arrays;
    g_arrays = a;
    pthread_mutex_unlock(&g_lock);
    *out = a;
    return CUDA_SUCCESS;
}

/* cuArray3DCreate_v2: a 1D, 2D, 3D, layered or cubemap array as the descriptor says. */
EXPORT CUresult cuArray3DCreate_v2(CUarray *pHandle, const CUDA_ARRAY3D_DESCRIPTOR *pAllocateArray)
{
    return array_create(pHandle, pAllocateArray);
}

/* cuArrayCreate_v2: a 1D (Height 0) or 2D array. */
EXPORT CUresult cuArrayCreate_v2(CUarray *pHandle, const CUDA_ARRAY_DESCRIPTOR *pAllocateArray)
{
    if (!pAllocateArray) {
        CUresult rc = sim_process_check();
        return rc != CUDA_SUCCESS ? rc : CUDA_ERROR_INVALID_VALUE;
    }
    if (pAllocateArray->Width > UINT32_MAX || pAllocateArray->Height > UINT32_MAX)
        return CUDA_ERROR_INVALID_VALUE;
    CUDA_ARRAY3D_DESCRIPTOR d = {
        .Width = pAllocateArray->Width, .Height = pAllocateArray->Height, .Depth = 0,
        .Format = pAllocateArray->Format, .NumChannels = pAllocateArray->NumChannels,
    };
    return array_create(pHandle, &d);
}

/* cuArrayCreate: the 32-bit legacy descriptor. */
EXPORT CUresult cuArrayCreate(CUarray *pHandle, const CUDA_ARRAY_DESCRIPTOR_v1 *pAllocateArray)
{
    if (!pAllocateArray)
        return cuArrayCreate_v2(pHandle, NULL);
    CUDA_ARRAY_DESCRIPTOR d = {
        .Width = pAllocateArray->Width, .Height = pAllocateArray->Height,
        .Format = pAllocateArray->Format, .NumChannels = pAllocateArray->NumChannels,
    };
    return cuArrayCreate_v2(pHandle, &d);
}

/* cuArray3DCreate: the 32-bit legacy descriptor. */
EXPORT CUresult cuArray3DCreate(CUarray *pHandle, const CUDA_ARRAY3D_DESCRIPTOR_v1 *pAllocateArray)
{
    if (!pAllocateArray)
        return cuArray3DCreate_v2(pHandle, NULL);
    CUDA_ARRAY3D_DESCRIPTOR d = {
        .Width = pAllocateArray->Width, .Height = pAllocateArray->Height,
        .Depth = pAllocateArray->Depth, .Format = pAllocateArray->Format,
        .NumChannels = pAllocateArray->NumChannels, .Flags = pAllocateArray->Flags,
    };
    return cuArray3DCreate_v2(pHandle, &d);
}

/* Copies a live array's descriptor. */
static CUresult array_desc(CUarray h, CUDA_ARRAY3D_DESCRIPTOR *out)
{
    CUresult rc = sim_process_check();
    if (rc != CUDA_SUCCESS)
        return rc;
    pthread_mutex_lock(&g_lock);
    struct CUarray_st *a = array_find_locked(h);
    if (a)
        *out = a->desc;
    pthread_mutex_unlock(&g_lock);
    return a ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

/* cuArray3DGetDescriptor_v2: the descriptor the array was created with (a level's extents for
 * a mipmap level). */
EXPORT CUresult cuArray3DGetDescriptor_v2(CUDA_ARRAY3D_DESCRIPTOR *pArrayDescriptor, CUarray hArray)
{
    CUDA_ARRAY3D_DESCRIPTOR d;
    CUresult rc = array_desc(hArray, &d);
    if (rc != CUDA_SUCCESS)
        return rc;
    if (!pArrayDescriptor)
        return CUDA_ERROR_INVALID_VALUE;
    *pArrayDescriptor = d;
    return CUDA_SUCCESS;
}

/* cuArray3DGetDescriptor: the 32-bit legacy descriptor. */
EXPORT CUresult cuArray3DGetDescriptor(CUDA_ARRAY3D_DESCRIPTOR_v1 *pArrayDescriptor, CUarray hArray)
{
    CUDA_ARRAY3D_DESCRIPTOR d;
    CUresult rc = array_desc(hArray, &d);
    if (rc != CUDA_SUCCESS)
        return rc;
    if (!pArrayDescriptor)
        return CUDA_ERROR_INVALID_VALUE;
    *pArrayDescriptor = (CUDA_ARRAY3D_DESCRIPTOR_v1){
        .Width = (unsigned)d.Width, .Height = (unsigned)d.Height, .Depth = (unsigned)d.Depth,
        .Format = d.Format, .NumChannels = d.NumChannels, .Flags = d.Flags,
    };
    return CUDA_SUCCESS;
}

/* cuArrayGetDescriptor_v2: the format and 1D/2D extents of an array. A 3D or layered array has
 * no such descriptor: CUDA_ERROR_INVALID_VALUE (use cuArray3DGetDescriptor). */
EXPORT CUresult cuArrayGetDescriptor_v2(CUDA_ARRAY_DESCRIPTOR *pArrayDescriptor, CUarray hArray)
{
    CUDA_ARRAY3D_DESCRIPTOR d;
    CUresult rc = array_desc(hArray, &d);
    if (rc != CUDA_SUCCESS)
        return rc;
    if (!pArrayDescriptor || d.Depth != 0)
        return CUDA_ERROR_INVALID_VALUE;
    *pArrayDescriptor = (CUDA_ARRAY_DESCRIPTOR){
        .Width = d.Width, .Height = d.Height, .Format = d.Format, .NumChannels = d.NumChannels,
    };
    return CUDA_SUCCESS;
}

/* cuArrayGetDescriptor: the 32-bit legacy descriptor. */
EXPORT CUresult cuArrayGetDescriptor(CUDA_ARRAY_DESCRIPTOR_v1 *pArrayDescriptor, CUarray hArray)
{
    CUDA_ARRAY_DESCRIPTOR d;
    CUresult rc = cuArrayGetDescriptor_v2(pArrayDescriptor ? &d : NULL, hArray);
    if (rc != CUDA_SUCCESS)
        return rc;
    *pArrayDescriptor = (CUDA_ARRAY_DESCRIPTOR_v1){
        .Width = (unsigned)d.Width, .Height = (unsigned)d.Height, .Format = d.Format,
        .NumChannels = d.NumChannels,
    };
    return CUDA_SUCCESS;
}

/* cuArrayDestroy: destroys an array made by cuArrayCreate/cuArray3DCreate. Its backing goes
 * back to the device once no queued copy uses it. A mipmap level is destroyed only with its
 * mipmapped array (CUDA_ERROR_INVALID_HANDLE here). */
EXPORT CUresult cuArrayDestroy(CUarray hArray)
{
    CUresult rc = sim_process_check();
    if (rc != CUDA_SUCCESS)
        return rc;
    pthread_mutex_lock(&g_lock);
    struct CUarray_st *a = array_find_locked(hArray);
    if (!a || a->mip) {
        pthread_mutex_unlock(&g_lock);
        return CUDA_ERROR_INVALID_HANDLE;
    }
    array_unlink_locked(a);
    pthread_mutex_unlock(&g_lock);
    sim_array_put(a->mem);
    free(a);
    return CUDA_SUCCESS;
}

/* The requirements of size bytes: the charge a non-deferred array of that shape makes, placed
 * at the shared state's granule. */
static CUresult requirements(CUDA_ARRAY_MEMORY_REQUIREMENTS *r, int array_dev, CUdevice device,
                             uint64_t bytes)
{
    if (!r || device != array_dev)
        return CUDA_ERROR_INVALID_VALUE;
    memset(r, 0, sizeof(*r));
    r->size = charged_size(bytes);
    r->alignment = SIM_ALLOC_GRANULE;
    return CUDA_SUCCESS;
}

/* cuArrayGetMemoryRequirements: for an array created with CUDA_ARRAY3D_DEFERRED_MAPPING only
 * (CUDA_ERROR_INVALID_VALUE otherwise, as documented); the size is what the same array without
 * that flag is charged. */
EXPORT CUresult cuArrayGetMemoryRequirements(CUDA_ARRAY_MEMORY_REQUIREMENTS *memoryRequirements,
                                             CUarray array, CUdevice device)
{
    CUresult rc = sim_process_check();
    if (rc != CUDA_SUCCESS)
        return rc;
    pthread_mutex_lock(&g_lock);
    struct CUarray_st *a = array_find_locked(array);
    CUDA_ARRAY3D_DESCRIPTOR d = { 0 };
    size_t elem = 0;
    int dev = -1;
    if (a && !a->mip && (a->desc.Flags & CUDA_ARRAY3D_DEFERRED_MAPPING)) {
        d = a->desc;
        elem = a->elem;
        dev = a->mem->device;
    }
    pthread_mutex_unlock(&g_lock);
    if (dev < 0)
        return CUDA_ERROR_INVALID_VALUE;
    return requirements(memoryRequirements, dev, device,
                        level_bytes(elem, d.Width, d.Height, d.Depth, NULL));
}

/* cuArrayGetSparseProperties: no simulated array is sparse, so every array is
 * CUDA_ERROR_INVALID_VALUE, as documented for a non-sparse array. */
EXPORT CUresult cuArrayGetSparseProperties(CUDA_ARRAY_SPARSE_PROPERTIES *sparseProperties,
                                           CUarray array)
{
    (void)sparseProperties;
    (void)array;
    CUresult rc = sim_process_check();
    return rc != CUDA_SUCCESS ? rc : CUDA_ERROR_INVALID_VALUE;
}

/* cuArrayGetPlane: no simulated array has a multi-planar format (NV12 and the YUV formats are
 * not supported), so a valid array is CUDA_ERROR_INVALID_VALUE, as documented. */
EXPORT CUresult cuArrayGetPlane(CUarray *pPlaneArray, CUarray hArray, unsigned int planeIdx)
{
    (void)planeIdx;
    CUresult rc = sim_process_check();
    if (rc != CUDA_SUCCESS)
        return rc;
    pthread_mutex_lock(&g_lock);
    int known = array_find_locked(hArray) != NULL;
    pthread_mutex_unlock(&g_lock);
    if (!known)
        return CUDA_ERROR_INVALID_HANDLE;
    (void)pPlaneArray;
    return CUDA_ERROR_INVALID_VALUE;
}

/* ---- Mipmapped arrays --------------------------------------------------------------------- */

/* cuMipmappedArrayCreate: numMipmapLevels levels (at least 1, at most floor(log2(largest
 * extent)) + 1) in one backing block; level i halves every extent but the layer count. */
EXPORT CUresult cuMipmappedArrayCreate(CUmipmappedArray *pHandle,
                                       const CUDA_ARRAY3D_DESCRIPTOR *pMipmappedArrayDesc,
                                       unsigned int numMipmapLevels)
{
    struct CUctx_st *ctx;
    CUresult rc = sim_ctx_current(&ctx);
    if (rc != CUDA_SUCCESS)
        return rc;
    const CUDA_ARRAY3D_DESCRIPTOR *d = pMipmappedArrayDesc;
    if (!pHandle || !d)
        return CUDA_ERROR_INVALID_VALUE;
    size_t elem;
    if ((rc = desc_check(d, ctx->device, &elem)) != CUDA_SUCCESS)
        return rc;
    int layered = !!(d->Flags & (CUDA_ARRAY3D_LAYERED | CUDA_ARRAY3D_CUBEMAP));
    unsigned largest = d->Width;
    if (d->Height > largest)
        largest = d->Height;
    if (!layered && d->Depth > largest)
        largest = d->Depth;
    unsigned max_levels = 1;
    while (largest >> max_levels)
        max_levels++;
    if (numMipmapLevels == 0 || numMipmapLevels > max_levels)
        return CUDA_ERROR_INVALID_VALUE;

    struct CUmipmappedArray_st *m = calloc(1, sizeof(*m));
    uint64_t *base = calloc(numMipmapLevels, sizeof(*base));
    if (m)
        m->levels = calloc(numMipmapLevels, sizeof(*m->levels));
    if (!m || !base || !m->levels) {
        if (m)
            free(m->levels);
        free(m);
        free(base);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    uint64_t total = 0;
    for (unsigned i = 0; i < numMipmapLevels; i++) {
        CUDA_ARRAY3D_DESCRIPTOR ld;
        level_desc(d, i, &ld);
        base[i] = total;
        total += level_bytes(elem, ld.Width, ld.Height, ld.Depth, NULL);
    }
    if ((rc = mem_new(ctx->device, total, !!(d->Flags & CUDA_ARRAY3D_DEFERRED_MAPPING),
                      &m->mem)) != CUDA_SUCCESS) {
        free(m->levels);
        free(m);
        free(base);
        return rc;
    }
    m->magic = MIPMAP_MAGIC;
    m->ctx = ctx;
    m->desc = *d;
    for (unsigned i = 0; i < numMipmapLevels; i++) {
        CUDA_ARRAY3D_DESCRIPTOR ld;
        level_desc(d, i, &ld);
        if (!(m->levels[i] = array_new(ctx, &ld, elem, base[i], m->mem))) {
            mipmap_free(m); /* frees the levels made so far (the others are NULL) */
            free(base);
            return CUDA_ERROR_OUT_OF_MEMORY;
        }
        m->levels[i]->mip = m;
        m->nlevels = i + 1;
    }
    free(base);
    pthread_mutex_lock(&g_lock);
    for (unsigned i = 0; i < m->nlevels; i++) {
        m->levels[i]->next = g_arrays;
        g_arrays = m->levels[i];
    }
    m->next = g_mipmaps;
    g_mipmaps = m;
    pthread_mutex_unlock(&g_lock);
    *pHandle = m;
    return CUDA_SUCCESS;
}

/* cuMipmappedArrayGetLevel: level `level` as a CUDA array, valid until the mipmapped array is
 * destroyed. */
EXPORT CUresult cuMipmappedArrayGetLevel(CUarray *pLevelArray, CUmipmappedArray hMipmappedArray,
                                         unsigned int level)
{
    CUresult rc = sim_process_check();
    if (rc != CUDA_SUCCESS)
        return rc;
    pthread_mutex_lock(&g_lock);
    struct CUmipmappedArray_st *m = mipmap_find_locked(hMipmappedArray);
    if (!m)
        rc = CUDA_ERROR_INVALID_HANDLE;
    else if (!pLevelArray || level >= m->nlevels)
        rc = CUDA_ERROR_INVALID_VALUE;
    else
        *pLevelArray = m->levels[level];
    pthread_mutex_unlock(&g_lock);
    return rc;
}

/* cuMipmappedArrayDestroy: destroys the mipmapped array and every level handle. */
EXPORT CUresult cuMipmappedArrayDestroy(CUmipmappedArray hMipmappedArray)
{
    CUresult rc = sim_process_check();
    if (rc != CUDA_SUCCESS)
        return rc;
    pthread_mutex_lock(&g_lock);
    struct CUmipmappedArray_st *m = mipmap_find_locked(hMipmappedArray);
    if (m)
        mipmap_unlink_locked(m);
    pthread_mutex_unlock(&g_lock);
    if (!m)
        return CUDA_ERROR_INVALID_HANDLE;
    mipmap_free(m);
    return CUDA_SUCCESS;
}

/* cuMipmappedArrayGetMemoryRequirements: as cuArrayGetMemoryRequirements, for the whole
 * mipmapped array. */
EXPORT CUresult cuMipmappedArrayGetMemoryRequirements(
    CUDA_ARRAY_MEMORY_REQUIREMENTS *memoryRequirements, CUmipmappedArray mipmap, CUdevice device)
{
    CUresult rc = sim_process_check();
    if (rc != CUDA_SUCCESS)
        return rc;
    uint64_t bytes = 0;
    int dev = -1;
    pthread_mutex_lock(&g_lock);
    struct CUmipmappedArray_st *m = mipmap_find_locked(mipmap);
    if (m && (m->desc.Flags & CUDA_ARRAY3D_DEFERRED_MAPPING)) {
        dev = m->mem->device;
        for (unsigned i = 0; i < m->nlevels; i++) {
            const struct CUarray_st *a = m->levels[i];
            bytes += level_bytes(a->elem, a->desc.Width, a->desc.Height, a->desc.Depth, NULL);
        }
    }
    pthread_mutex_unlock(&g_lock);
    if (dev < 0)
        return CUDA_ERROR_INVALID_VALUE;
    return requirements(memoryRequirements, dev, device, bytes);
}

/* cuMipmappedArrayGetSparseProperties: no simulated mipmapped array is sparse. */
EXPORT CUresult cuMipmappedArrayGetSparseProperties(CUDA_ARRAY_SPARSE_PROPERTIES *sparseProperties,
                                                    CUmipmappedArray mipmap)
{
    (void)sparseProperties;
    (void)mipmap;
    CUresult rc = sim_process_check();
    return rc != CUDA_SUCCESS ? rc : CUDA_ERROR_INVALID_VALUE;
}
