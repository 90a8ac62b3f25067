/*
 * memory.c: device, pitched, managed and page-locked host allocations, host registrations, the
 * pointer attributes, and the process's table of live allocations (sim_mem_lookup).
 *
 * Address space (unified addressing, as on every 64-bit CUDA platform):
 *   device memory   sim_dev_base(dev) + offset: not a host pointer; its bytes live in this
 *                   process's mapping of the device file at the same offset.
 *   managed memory  a host pointer into this process's mapping of the device file
 *                   (sim_instance_dev_memory + offset): host code and kernels use one address,
 *                   and the bytes are charged to the device like device memory.
 *   host memory     cuMemAllocHost/cuMemHostAlloc: anonymous mmap; device pointer == host.
 *   registered      the application's own memory; device pointer == host pointer.
 * These ranges never overlap, so one table sorted by start address holds them all and finds the
 * allocation of any address by binary search under a rwlock.
 *
 * Capacity is exact: device and managed allocations are charged to the shared device state,
 * which fails at the device's total across all processes (CUDA_ERROR_OUT_OF_MEMORY).
 */
#include "driver.h"

#include "gpool/failpoint.h"
#include "gpool/log.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

/* Pitch alignment of cuMemAllocPitch: what NVIDIA's driver returns on current GPUs. */
#define PITCH_ALIGN 512u

struct mem_rec {
    enum sim_mem_kind kind;
    uint64_t base; /* as the application sees it */
    size_t size;   /* bytes the application asked for (pitch * height for pitched) */
    int device;
    struct CUctx_st *ctx; /* the allocating context */
    uint64_t offset;      /* device memory offset (DEVICE, MANAGED) */
    size_t map_len;       /* length of the anonymous mapping (HOST) */
    unsigned int flags;   /* host alloc / register / managed attach flags */
    uint64_t buffer_id;   /* process-unique, never reused */
    int sync_memops;
};

static pthread_rwlock_t g_mem_lock = PTHREAD_RWLOCK_INITIALIZER;
static struct mem_rec **g_recs; /* sorted by base */
static size_t g_count, g_cap;
static _Atomic uint64_t g_next_buffer_id = 1;

/* ---- The table ---------------------------------------------------------------------------- */

/* Index of the first record whose base is > addr. The caller holds g_mem_lock. */
static size_t upper_bound_locked(uint64_t addr)
{
    size_t lo = 0, hi = g_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (g_recs[mid]->base <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The record containing addr, or NULL. The caller holds g_mem_lock. */
static struct mem_rec *find_locked(uint64_t addr, size_t *index)
{
    size_t i = upper_bound_locked(addr);
    if (i == 0)
        return NULL;
    struct mem_rec *r = g_recs[i - 1];
    if (addr - r->base >= r->size)
        return NULL;
    if (index)
        *index = i - 1;
    return r;
}

/* Whether [base, base+size) overlaps any record. The caller holds g_mem_lock. */
static int overlaps_locked(uint64_t base, size_t size)
{
    size_t i = upper_bound_locked(base);
    if (i > 0 && base - g_recs[i - 1]->base < g_recs[i - 1]->size)
        return 1;
    return i < g_count && g_recs[i]->base < base + size;
}

/* Inserts r; -ENOMEM when the table cannot grow. */
static int insert(struct mem_rec *r)
{
    pthread_rwlock_wrlock(&g_mem_lock);
    if (g_count == g_cap) {
        size_t cap = g_cap ? g_cap * 2 : 64;
        struct mem_rec **n = realloc(g_recs, cap * sizeof(*n));
        if (!n) {
            pthread_rwlock_unlock(&g_mem_lock);
            return -ENOMEM;
        }
        g_recs = n;
        g_cap = cap;
    }
    size_t i = upper_bound_locked(r->base);
    memmove(&g_recs[i + 1], &g_recs[i], (g_count - i) * sizeof(*g_recs));
    g_recs[i] = r;
    g_count++;
    pthread_rwlock_unlock(&g_mem_lock);
    return 0;
}

static void remove_at_locked(size_t i)
{
    memmove(&g_recs[i], &g_recs[i + 1], (g_count - i - 1) * sizeof(*g_recs));
    g_count--;
}

/* Returns r's backing: the device charge, or the host mapping. */
static void release_backing(const struct mem_rec *r)
{
    struct sim_instance *inst = sim_process_instance();
    switch (r->kind) {
    case SIM_MEM_DEVICE:
    case SIM_MEM_MANAGED: {
        int rc = sim_state_free(inst, r->device, r->offset);
        if (rc < 0)
            LOG_WARN("sim",
                     "freeing 0x%llx on device %d: the device state has no charge at "
                     "offset 0x%llx (%d)",
                     (unsigned long long)r->base, r->device, (unsigned long long)r->offset, rc);
        break;
    }
    case SIM_MEM_HOST:
        munmap((void *)(uintptr_t)r->base, r->map_len);
        break;
    case SIM_MEM_REGISTERED:
        break;
    case SIM_MEM_VMM:
    case SIM_MEM_POOL:
    case SIM_MEM_IPC:
        break; /* owned by vmm.c, pool.c, ipc.c: the table only names the range */
    }
}

/* Looks [addr, addr+len) up among this process's live allocations (see sim.h). A len of 0 is
 * treated as 1: the address itself must lie in an allocation. */
CUresult sim_mem_lookup(uint64_t addr, size_t len, struct sim_mem_ref *ref)
{
    if (!len)
        len = 1;
    pthread_rwlock_rdlock(&g_mem_lock);
    struct mem_rec *r = find_locked(addr, NULL);
    CUresult res = CUDA_ERROR_INVALID_VALUE;
    if (r && len <= r->size - (addr - r->base)) {
        if (ref) {
            ref->kind = r->kind;
            ref->base = r->base;
            ref->size = r->size;
            ref->device = r->device;
            ref->ctx = r->ctx;
            if (sim_mem_kind_is_device(r->kind)) {
                char *mem = sim_instance_dev_memory(sim_process_instance(), r->device);
                ref->host = mem + r->offset + (addr - r->base);
            } else {
                ref->host = (void *)(uintptr_t)addr;
            }
        }
        res = CUDA_SUCCESS;
    }
    pthread_rwlock_unlock(&g_mem_lock);
    return res;
}

/* Snapshots what a kernel of ctx may touch (see sim.h). Device allocations are seen at their
 * device addresses with their bytes in this process's mapping of the device file; the others at
 * their host addresses. The table is sorted and its ranges never overlap, so the result is too. */
CUresult sim_mem_snapshot(struct CUctx_st *ctx, struct sim_mem_span **out, size_t *count)
{
    *out = NULL;
    *count = 0;
    pthread_rwlock_rdlock(&g_mem_lock);
    struct sim_mem_span *spans = g_count ? malloc(g_count * sizeof(*spans)) : NULL;
    if (g_count && !spans) {
        pthread_rwlock_unlock(&g_mem_lock);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    size_t n = 0;
    for (size_t i = 0; i < g_count; i++) {
        const struct mem_rec *r = g_recs[i];
        int portable = (r->kind == SIM_MEM_HOST || r->kind == SIM_MEM_REGISTERED) &&
                       (r->flags & CU_MEMHOSTALLOC_PORTABLE);
        /* Ranges of no context (VMM mappings, pool blocks, IPC imports) belong to the device. */
        int device_wide = !r->ctx && r->device == ctx->device;
        if (r->ctx != ctx && !portable && !device_wide)
            continue;
        spans[n].base = r->base;
        spans[n].size = r->size;
        if (sim_mem_kind_is_device(r->kind)) {
            char *mem = sim_instance_dev_memory(sim_process_instance(), r->device);
            spans[n].host = mem + r->offset;
        } else {
            spans[n].host = (void *)(uintptr_t)r->base;
        }
        n++;
    }
    pthread_rwlock_unlock(&g_mem_lock);
    *out = spans;
    *count = n;
    return CUDA_SUCCESS;
}

/* Enters a range owned by another module into the table (see driver.h). */
CUresult sim_mem_register(enum sim_mem_kind kind, int dev, struct CUctx_st *ctx, uint64_t base,
                          uint64_t size, uint64_t offset)
{
    if (!sim_mem_kind_is_device(kind) || kind == SIM_MEM_DEVICE || size == 0)
        return CUDA_ERROR_INVALID_VALUE;
    struct mem_rec *r = calloc(1, sizeof(*r));
    if (!r)
        return CUDA_ERROR_OUT_OF_MEMORY;
    r->kind = kind;
    r->base = base;
    r->size = (size_t)size;
    r->device = dev;
    r->ctx = ctx;
    r->offset = offset;
    r->buffer_id = atomic_fetch_add(&g_next_buffer_id, 1);
    pthread_rwlock_wrlock(&g_mem_lock);
    int overlap = overlaps_locked(base, (size_t)size);
    pthread_rwlock_unlock(&g_mem_lock);
    if (overlap) {
        free(r);
        return CUDA_ERROR_INVALID_VALUE;
    }
    if (insert(r) < 0) {
        free(r);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    return CUDA_SUCCESS;
}

/* Removes a range entered by sim_mem_register (see driver.h). */
int sim_mem_unregister(enum sim_mem_kind kind, uint64_t base)
{
    pthread_rwlock_wrlock(&g_mem_lock);
    size_t i;
    struct mem_rec *r = find_locked(base, &i);
    int ok = r && r->base == base && r->kind == kind;
    if (ok)
        remove_at_locked(i);
    pthread_rwlock_unlock(&g_mem_lock);
    if (!ok)
        return -ENOENT;
    free(r);
    return 0;
}

/* Frees every allocation of ctx (see driver.h). */
void sim_mem_release_ctx(struct CUctx_st *ctx)
{
    pthread_rwlock_wrlock(&g_mem_lock);
    size_t kept = 0;
    for (size_t i = 0; i < g_count; i++) {
        struct mem_rec *r = g_recs[i];
        if (r->ctx == ctx) {
            release_backing(r);
            free(r);
        } else {
            g_recs[kept++] = r;
        }
    }
    g_count = kept;
    pthread_rwlock_unlock(&g_mem_lock);
}

/* Takes the table lock across fork. */
void sim_mem_fork_prepare(void)
{
    pthread_rwlock_wrlock(&g_mem_lock);
}

/* Releases the lock taken by sim_mem_fork_prepare. */
void sim_mem_fork_parent(void)
{
    pthread_rwlock_unlock(&g_mem_lock);
}

/* In the child: forgets every allocation. Device charges belong to the parent, which still
 * holds them; the child's copies of host mappings stay mapped (plain memory to it now). */
void sim_mem_fork_child(void)
{
    for (size_t i = 0; i < g_count; i++)
        free(g_recs[i]);
    free(g_recs);
    g_recs = NULL;
    g_count = g_cap = 0;
    /* The lock's writer id is the parent thread's: start with a fresh lock (see context.c). */
    pthread_rwlock_init(&g_mem_lock, NULL);
}

/* ---- Device and managed memory ------------------------------------------------------------ */

static CUresult charge_error(int rc)
{
    return rc == -ENOMEM || rc == -ENOSPC ? CUDA_ERROR_OUT_OF_MEMORY : CUDA_ERROR_UNKNOWN;
}

/* Charges size bytes of ctx's device and records the allocation. Failpoints:
 * sim.mem.alloc.before_charge, sim.mem.alloc.charged (charged, not yet recorded),
 * sim.mem.alloc.recorded (recorded, not yet returned). */
static CUresult alloc_device(struct CUctx_st *ctx, size_t size, enum sim_mem_kind kind,
                             unsigned int flags, uint64_t *out)
{
    struct sim_instance *inst = sim_process_instance();
    uint64_t offset = 0;
    if (GPOOL_FAILPOINT("sim.mem.alloc.before_charge"))
        return CUDA_ERROR_OUT_OF_MEMORY;
    int rc = sim_state_alloc(inst, ctx->device, size, SIM_CHARGE_MEMORY, &offset, NULL);
    if (rc < 0) {
        LOG_DEBUG("sim", "cuMemAlloc: %zu bytes on device %d: %s", size, ctx->device,
                  rc == -ENOMEM ? "out of device memory" : "allocation table full");
        return charge_error(rc);
    }
    struct mem_rec *r = NULL;
    char *mem = sim_instance_dev_memory(inst, ctx->device);
    if (GPOOL_FAILPOINT("sim.mem.alloc.charged") || !mem)
        goto undo;
    r = calloc(1, sizeof(*r));
    if (!r)
        goto undo;
    r->kind = kind;
    r->base = kind == SIM_MEM_MANAGED ? (uint64_t)(uintptr_t)(mem + offset)
                                      : sim_dev_base(ctx->device) + offset;
    r->size = size;
    r->device = ctx->device;
    r->ctx = ctx;
    r->offset = offset;
    r->flags = flags;
    r->buffer_id = atomic_fetch_add(&g_next_buffer_id, 1);
    if (insert(r) < 0)
        goto undo;
    if (GPOOL_FAILPOINT("sim.mem.alloc.recorded")) {
        pthread_rwlock_wrlock(&g_mem_lock);
        size_t i;
        if (find_locked(r->base, &i) == r)
            remove_at_locked(i);
        pthread_rwlock_unlock(&g_mem_lock);
        goto undo;
    }
    *out = r->base;
    return CUDA_SUCCESS;

undo:
    free(r);
    sim_state_free(inst, ctx->device, offset);
    return CUDA_ERROR_OUT_OF_MEMORY;
}

/* Allocates bytesize bytes of device memory on the current context's device. */
EXPORT CUresult cuMemAlloc_v2(CUdeviceptr *dptr, size_t bytesize)
{
    struct CUctx_st *ctx;
    CUresult res = sim_ctx_current(&ctx);
    if (res != CUDA_SUCCESS)
        return res;
    if (!dptr || bytesize == 0)
        return CUDA_ERROR_INVALID_VALUE;
    uint64_t addr;
    res = alloc_device(ctx, bytesize, SIM_MEM_DEVICE, 0, &addr);
    if (res == CUDA_SUCCESS)
        *dptr = (CUdeviceptr)addr;
    return res;
}

/* Allocates a pitched 2D region: the pitch is the width rounded up to 512 bytes, and
 * pitch * Height bytes are charged. ElementSizeBytes must be 4, 8 or 16. */
EXPORT CUresult cuMemAllocPitch_v2(CUdeviceptr *dptr, size_t *pPitch, size_t WidthInBytes,
                                   size_t Height, unsigned int ElementSizeBytes)
{
    struct CUctx_st *ctx;
    CUresult res = sim_ctx_current(&ctx);
    if (res != CUDA_SUCCESS)
        return res;
    if (!dptr || !pPitch || WidthInBytes == 0 || Height == 0)
        return CUDA_ERROR_INVALID_VALUE;
    if (ElementSizeBytes != 4 && ElementSizeBytes != 8 && ElementSizeBytes != 16)
        return CUDA_ERROR_INVALID_VALUE;
    if (WidthInBytes > (size_t)INT32_MAX) /* CU_DEVICE_ATTRIBUTE_MAX_PITCH */
        return CUDA_ERROR_INVALID_VALUE;
    size_t pitch = (WidthInBytes + PITCH_ALIGN - 1) / PITCH_ALIGN * PITCH_ALIGN;
    if (Height > SIZE_MAX / pitch)
        return CUDA_ERROR_OUT_OF_MEMORY;
    uint64_t addr;
    res = alloc_device(ctx, pitch * Height, SIM_MEM_DEVICE, 0, &addr);
    if (res == CUDA_SUCCESS) {
        *dptr = (CUdeviceptr)addr;
        *pPitch = pitch;
    }
    return res;
}

/* Allocates managed memory: charged to the current device, returned as a host pointer that is
 * valid in this process (the same address works in kernels). Flags: CU_MEM_ATTACH_GLOBAL or
 * CU_MEM_ATTACH_HOST. */
EXPORT CUresult cuMemAllocManaged(CUdeviceptr *dptr, size_t bytesize, unsigned int flags)
{
    struct CUctx_st *ctx;
    CUresult res = sim_ctx_current(&ctx);
    if (res != CUDA_SUCCESS)
        return res;
    if (!dptr || bytesize == 0)
        return CUDA_ERROR_INVALID_VALUE;
    if (flags != CU_MEM_ATTACH_GLOBAL && flags != CU_MEM_ATTACH_HOST)
        return CUDA_ERROR_INVALID_VALUE;
    uint64_t addr;
    res = alloc_device(ctx, bytesize, SIM_MEM_MANAGED, flags, &addr);
    if (res == CUDA_SUCCESS)
        *dptr = (CUdeviceptr)addr;
    return res;
}

/* Waits for the work of the context that made an allocation before its memory goes, so no
 * queued copy or kernel touches freed memory. Errors of that work stay with that context. */
static void wait_for_users(struct CUctx_st *ctx)
{
    if (ctx && sim_ctx_check(ctx) == CUDA_SUCCESS)
        (void)sim_stream_ctx_synchronize(ctx);
}

/* Removes the record based at addr if it is of one of the kinds in mask (bit per kind) and
 * releases its backing. Waits for its context's work first. CUDA_ERROR_INVALID_VALUE when addr
 * is not the start of such an allocation. */
static CUresult free_at(uint64_t addr, unsigned int kinds, CUresult not_found)
{
    pthread_rwlock_rdlock(&g_mem_lock);
    struct mem_rec *r = find_locked(addr, NULL);
    int ok = r && r->base == addr && (kinds & (1u << r->kind));
    struct CUctx_st *ctx = ok ? r->ctx : NULL;
    uint64_t id = ok ? r->buffer_id : 0;
    pthread_rwlock_unlock(&g_mem_lock);
    if (!ok)
        return not_found;

    /* Never wait with the table locked: the work being waited for looks addresses up. */
    wait_for_users(ctx);

    pthread_rwlock_wrlock(&g_mem_lock);
    size_t i;
    r = find_locked(addr, &i);
    if (!r || r->buffer_id != id) { /* another thread freed it meanwhile */
        pthread_rwlock_unlock(&g_mem_lock);
        return not_found;
    }
    remove_at_locked(i);
    pthread_rwlock_unlock(&g_mem_lock);
    release_backing(r);
    free(r);
    return CUDA_SUCCESS;
}

#define KIND_BIT(k) (1u << (k))

/* Frees device, pitched or managed memory; dptr must be the start of the allocation. Freeing 0
 * does nothing. */
EXPORT CUresult cuMemFree_v2(CUdeviceptr dptr)
{
    struct CUctx_st *ctx;
    CUresult res = sim_ctx_current(&ctx);
    if (res != CUDA_SUCCESS)
        return res;
    if (dptr == 0)
        return CUDA_SUCCESS;
    res = free_at((uint64_t)dptr, KIND_BIT(SIM_MEM_DEVICE) | KIND_BIT(SIM_MEM_MANAGED),
                  CUDA_ERROR_INVALID_VALUE);
    if (res == CUDA_ERROR_INVALID_VALUE) /* memory from cuMemAllocAsync or a graph */
        res = sim_pool_free_now((uint64_t)dptr);
    return res;
}

/* Base and size of the allocation containing dptr (either output may be NULL).
 * CUDA_ERROR_NOT_FOUND when dptr lies in no allocation of this process. */
EXPORT CUresult cuMemGetAddressRange_v2(CUdeviceptr *pbase, size_t *psize, CUdeviceptr dptr)
{
    struct CUctx_st *ctx;
    CUresult res = sim_ctx_current(&ctx);
    if (res != CUDA_SUCCESS)
        return res;
    struct sim_mem_ref ref;
    if (sim_mem_lookup((uint64_t)dptr, 1, &ref) != CUDA_SUCCESS)
        return CUDA_ERROR_NOT_FOUND;
    if (pbase)
        *pbase = (CUdeviceptr)ref.base;
    if (psize)
        *psize = ref.size;
    return CUDA_SUCCESS;
}

/* Free and total memory of the current context's device, as every process sees it. */
EXPORT CUresult cuMemGetInfo_v2(size_t *free_bytes, size_t *total_bytes)
{
    struct CUctx_st *ctx;
    CUresult res = sim_ctx_current(&ctx);
    if (res != CUDA_SUCCESS)
        return res;
    if (!free_bytes || !total_bytes)
        return CUDA_ERROR_INVALID_VALUE;
    uint64_t t = 0, used = 0;
    sim_instance_mem_info(sim_process_instance(), ctx->device, &t, &used);
    *total_bytes = (size_t)t;
    *free_bytes = used >= t ? 0 : (size_t)(t - used); /* clamped, never underflows */
    return CUDA_SUCCESS;
}

/* The legacy 32-bit export: sizes clamped to what fits. */
EXPORT CUresult cuMemGetInfo(unsigned int *free_bytes, unsigned int *total_bytes)
{
    size_t f, t;
    CUresult res = cuMemGetInfo_v2(free_bytes ? &f : NULL, total_bytes ? &t : NULL);
    if (res == CUDA_SUCCESS) {
        *free_bytes = f > UINT32_MAX ? UINT32_MAX : (unsigned int)f;
        *total_bytes = t > UINT32_MAX ? UINT32_MAX : (unsigned int)t;
    }
    return res;
}

/* ---- Page-locked host memory and registrations ----------------------------------------- */

/* Allocates page-locked host memory (an anonymous mapping). Flags: PORTABLE, DEVICEMAP,
 * WRITECOMBINED; with unified addressing the device pointer equals the host pointer. */
EXPORT CUresult cuMemHostAlloc(void **pp, size_t bytesize, unsigned int Flags)
{
    struct CUctx_st *ctx;
    CUresult res = sim_ctx_current(&ctx);
    if (res != CUDA_SUCCESS)
        return res;
    if (!pp || bytesize == 0)
        return CUDA_ERROR_INVALID_VALUE;
    if (Flags & ~(unsigned int)(CU_MEMHOSTALLOC_PORTABLE | CU_MEMHOSTALLOC_DEVICEMAP |
                                CU_MEMHOSTALLOC_WRITECOMBINED))
        return CUDA_ERROR_INVALID_VALUE;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    if (bytesize > SIZE_MAX - page)
        return CUDA_ERROR_OUT_OF_MEMORY;
    size_t len = (bytesize + page - 1) / page * page;
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        LOG_DEBUG("sim", "cuMemHostAlloc: %zu bytes: mmap failed (%d)", bytesize, errno);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    struct mem_rec *r = calloc(1, sizeof(*r));
    if (!r) {
        munmap(p, len);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    r->kind = SIM_MEM_HOST;
    r->base = (uint64_t)(uintptr_t)p;
    r->size = bytesize;
    r->device = ctx->device;
    r->ctx = ctx;
    r->map_len = len;
    r->flags = Flags;
    r->buffer_id = atomic_fetch_add(&g_next_buffer_id, 1);
    if (insert(r) < 0) {
        munmap(p, len);
        free(r);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    *pp = p;
    return CUDA_SUCCESS;
}

/* Allocates page-locked host memory with default flags. */
EXPORT CUresult cuMemAllocHost_v2(void **pp, size_t bytesize)
{
    return cuMemHostAlloc(pp, bytesize, 0);
}

/* The legacy 32-bit-size export. */
EXPORT CUresult cuMemAllocHost(void **pp, unsigned int bytesize)
{
    return cuMemHostAlloc(pp, bytesize, 0);
}

/* Frees memory from cuMemAllocHost/cuMemHostAlloc after the allocating context's work is done;
 * p must be the pointer they returned. */
EXPORT CUresult cuMemFreeHost(void *p)
{
    CUresult res = sim_process_check();
    if (res != CUDA_SUCCESS)
        return res;
    if (!p)
        return CUDA_ERROR_INVALID_VALUE;
    return free_at((uint64_t)(uintptr_t)p, KIND_BIT(SIM_MEM_HOST), CUDA_ERROR_INVALID_VALUE);
}

/* Whether every page of [p, p+len) is mapped in this process. */
static int range_is_mapped(const void *p, size_t len)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    uintptr_t start = (uintptr_t)p & ~(uintptr_t)(page - 1);
    uintptr_t end = (uintptr_t)p + len;
    unsigned char vec[1024];
    while (start < end) {
        size_t chunk = (size_t)(end - start);
        if (chunk > sizeof(vec) * page)
            chunk = sizeof(vec) * page;
        if (mincore((void *)start, chunk, vec) < 0)
            return 0; /* ENOMEM: part of the range is not mapped */
        start += (chunk + page - 1) / page * page;
    }
    return 1;
}

/* Registers the application's memory [p, p+bytesize) for use by the device (the device pointer
 * is p). CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED when it overlaps a registered or
 * page-locked range; CUDA_ERROR_INVALID_VALUE when the range is not mapped memory. */
EXPORT CUresult cuMemHostRegister_v2(void *p, size_t bytesize, unsigned int Flags)
{
    struct CUctx_st *ctx;
    CUresult res = sim_ctx_current(&ctx);
    if (res != CUDA_SUCCESS)
        return res;
    if (!p || bytesize == 0)
        return CUDA_ERROR_INVALID_VALUE;
    if (Flags & ~(unsigned int)(CU_MEMHOSTREGISTER_PORTABLE | CU_MEMHOSTREGISTER_DEVICEMAP |
                                CU_MEMHOSTREGISTER_IOMEMORY | CU_MEMHOSTREGISTER_READ_ONLY))
        return CUDA_ERROR_INVALID_VALUE;
    uint64_t base = (uint64_t)(uintptr_t)p;
    if (bytesize > UINT64_MAX - base)
        return CUDA_ERROR_INVALID_VALUE;
    if (!(Flags & CU_MEMHOSTREGISTER_IOMEMORY) && !range_is_mapped(p, bytesize))
        return CUDA_ERROR_INVALID_VALUE;

    struct mem_rec *r = calloc(1, sizeof(*r));
    if (!r)
        return CUDA_ERROR_OUT_OF_MEMORY;
    r->kind = SIM_MEM_REGISTERED;
    r->base = base;
    r->size = bytesize;
    r->device = ctx->device;
    r->ctx = ctx;
    r->flags = Flags;
    r->buffer_id = atomic_fetch_add(&g_next_buffer_id, 1);

    pthread_rwlock_wrlock(&g_mem_lock);
    int overlap = overlaps_locked(base, bytesize);
    pthread_rwlock_unlock(&g_mem_lock);
    /* A concurrent registration of an overlapping range can slip in between: insert() itself
     * keeps the table sorted, and the application registering one range twice at once is
     * already undefined for CUDA. */
    if (overlap) {
        free(r);
        return CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED;
    }
    if (insert(r) < 0) {
        free(r);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    return CUDA_SUCCESS;
}

/* The original export (same arguments). */
EXPORT CUresult cuMemHostRegister(void *p, size_t bytesize, unsigned int Flags)
{
    return cuMemHostRegister_v2(p, bytesize, Flags);
}

/* Unregisters a range; p must be the address given to cuMemHostRegister. */
EXPORT CUresult cuMemHostUnregister(void *p)
{
    struct CUctx_st *ctx;
    CUresult res = sim_ctx_current(&ctx);
    if (res != CUDA_SUCCESS)
        return res;
    if (!p)
        return CUDA_ERROR_INVALID_VALUE;
    return free_at((uint64_t)(uintptr_t)p, KIND_BIT(SIM_MEM_REGISTERED),
                   CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED);
}

/* The device pointer of page-locked or registered host memory: p itself (unified addressing,
 * CAN_USE_HOST_POINTER_FOR_REGISTERED_MEM). Flags must be 0. */
EXPORT CUresult cuMemHostGetDevicePointer_v2(CUdeviceptr *pdptr, void *p, unsigned int Flags)
{
    struct CUctx_st *ctx;
    CUresult res = sim_ctx_current(&ctx);
    if (res != CUDA_SUCCESS)
        return res;
    if (!pdptr || !p || Flags != 0)
        return CUDA_ERROR_INVALID_VALUE;
    struct sim_mem_ref ref;
    if (sim_mem_lookup((uint64_t)(uintptr_t)p, 1, &ref) != CUDA_SUCCESS ||
        (ref.kind != SIM_MEM_HOST && ref.kind != SIM_MEM_REGISTERED))
        return CUDA_ERROR_INVALID_VALUE;
    *pdptr = (CUdeviceptr)(uintptr_t)p;
    return CUDA_SUCCESS;
}

/* The flags given to cuMemHostAlloc for the allocation containing p (0 for cuMemAllocHost). */
EXPORT CUresult cuMemHostGetFlags(unsigned int *pFlags, void *p)
{
    struct CUctx_st *ctx;
    CUresult res = sim_ctx_current(&ctx);
    if (res != CUDA_SUCCESS)
        return res;
    if (!pFlags || !p)
        return CUDA_ERROR_INVALID_VALUE;
    pthread_rwlock_rdlock(&g_mem_lock);
    struct mem_rec *r = find_locked((uint64_t)(uintptr_t)p, NULL);
    int ok = r && r->kind == SIM_MEM_HOST;
    unsigned int flags = ok ? r->flags : 0;
    pthread_rwlock_unlock(&g_mem_lock);
    if (!ok)
        return CUDA_ERROR_INVALID_VALUE;
    *pFlags = flags;
    return CUDA_SUCCESS;
}

/* ---- Pointer attributes ----------------------------------------------------------------- */

/* The value size of each known pointer attribute, indexed by attribute. */
static const size_t attr_sizes[] = {
    [CU_POINTER_ATTRIBUTE_CONTEXT] = sizeof(CUcontext),
    [CU_POINTER_ATTRIBUTE_MEMORY_TYPE] = sizeof(unsigned int),
    [CU_POINTER_ATTRIBUTE_DEVICE_POINTER] = sizeof(CUdeviceptr),
    [CU_POINTER_ATTRIBUTE_HOST_POINTER] = sizeof(void *),
    [CU_POINTER_ATTRIBUTE_P2P_TOKENS] = sizeof(CUDA_POINTER_ATTRIBUTE_P2P_TOKENS),
    [CU_POINTER_ATTRIBUTE_SYNC_MEMOPS] = sizeof(int),
    [CU_POINTER_ATTRIBUTE_BUFFER_ID] = sizeof(unsigned long long),
    [CU_POINTER_ATTRIBUTE_IS_MANAGED] = sizeof(int),
    [CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL] = sizeof(int),
    [CU_POINTER_ATTRIBUTE_IS_LEGACY_CUDA_IPC_CAPABLE] = sizeof(int),
    [CU_POINTER_ATTRIBUTE_RANGE_START_ADDR] = sizeof(CUdeviceptr),
    [CU_POINTER_ATTRIBUTE_RANGE_SIZE] = sizeof(size_t),
    [CU_POINTER_ATTRIBUTE_MAPPED] = sizeof(int),
    [CU_POINTER_ATTRIBUTE_ALLOWED_HANDLE_TYPES] = sizeof(unsigned long long),
    [CU_POINTER_ATTRIBUTE_IS_GPU_DIRECT_RDMA_CAPABLE] = sizeof(int),
    [CU_POINTER_ATTRIBUTE_ACCESS_FLAGS] = sizeof(int),
    [CU_POINTER_ATTRIBUTE_MEMPOOL_HANDLE] = sizeof(CUmemoryPool),
    [CU_POINTER_ATTRIBUTE_MAPPING_SIZE] = sizeof(size_t),
    [CU_POINTER_ATTRIBUTE_MAPPING_BASE_ADDR] = sizeof(void *),
    [CU_POINTER_ATTRIBUTE_MEMORY_BLOCK_ID] = sizeof(unsigned long long),
    [CU_POINTER_ATTRIBUTE_IS_HW_DECOMPRESS_CAPABLE] = sizeof(int),
};

/* Size in bytes of the value an attribute writes; 0 for an unknown attribute. */
static size_t attr_size(int attr)
{
    if (attr < 0 || (size_t)attr >= sizeof(attr_sizes) / sizeof(attr_sizes[0]))
        return 0;
    return attr_sizes[attr];
}

/* A snapshot of the record containing an address (copied under the lock). */
static int snapshot(uint64_t addr, struct mem_rec *out)
{
    pthread_rwlock_rdlock(&g_mem_lock);
    struct mem_rec *r = find_locked(addr, NULL);
    if (r)
        *out = *r;
    pthread_rwlock_unlock(&g_mem_lock);
    return r != NULL;
}

/* Writes one attribute of the allocation r for address ptr. lenient (cuPointerGetAttributes)
 * writes NULL where cuPointerGetAttribute fails because a value does not exist. */
static CUresult pointer_attribute(void *data, int attr, uint64_t ptr, const struct mem_rec *r,
                                  int lenient)
{
    switch (attr) {
    case CU_POINTER_ATTRIBUTE_CONTEXT:
        *(CUcontext *)data = r->ctx;
        return CUDA_SUCCESS;
    case CU_POINTER_ATTRIBUTE_MEMORY_TYPE:
        *(unsigned int *)data = sim_mem_kind_is_device(r->kind) || r->kind == SIM_MEM_MANAGED
                                    ? CU_MEMORYTYPE_DEVICE
                                    : CU_MEMORYTYPE_HOST;
        return CUDA_SUCCESS;
    case CU_POINTER_ATTRIBUTE_DEVICE_POINTER: {
        struct CUctx_st *cur;
        CUresult res = sim_ctx_current(&cur);
        if (res != CUDA_SUCCESS && !lenient)
            return res == CUDA_ERROR_CONTEXT_IS_DESTROYED ? CUDA_ERROR_INVALID_CONTEXT : res;
        *(CUdeviceptr *)data = (CUdeviceptr)ptr;
        return CUDA_SUCCESS;
    }
    case CU_POINTER_ATTRIBUTE_HOST_POINTER:
        if (sim_mem_kind_is_device(r->kind)) { /* device memory has no host address */
            if (!lenient)
                return CUDA_ERROR_INVALID_VALUE;
            *(void **)data = NULL;
            return CUDA_SUCCESS;
        }
        *(void **)data = (void *)(uintptr_t)ptr;
        return CUDA_SUCCESS;
    case CU_POINTER_ATTRIBUTE_P2P_TOKENS:
        /* Tokens for the nv-p2p kernel interface (GPUDirect RDMA): no such thing here. */
        if (!lenient)
            return CUDA_ERROR_NOT_SUPPORTED;
        memset(data, 0, sizeof(CUDA_POINTER_ATTRIBUTE_P2P_TOKENS));
        return CUDA_SUCCESS;
    case CU_POINTER_ATTRIBUTE_SYNC_MEMOPS:
        *(int *)data = r->sync_memops;
        return CUDA_SUCCESS;
    case CU_POINTER_ATTRIBUTE_BUFFER_ID:
    case CU_POINTER_ATTRIBUTE_MEMORY_BLOCK_ID:
        *(unsigned long long *)data = r->buffer_id;
        return CUDA_SUCCESS;
    case CU_POINTER_ATTRIBUTE_IS_MANAGED:
        *(int *)data = r->kind == SIM_MEM_MANAGED;
        return CUDA_SUCCESS;
    case CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL:
        *(int *)data = r->device;
        return CUDA_SUCCESS;
    case CU_POINTER_ATTRIBUTE_IS_LEGACY_CUDA_IPC_CAPABLE:
        *(int *)data = r->kind == SIM_MEM_DEVICE;
        return CUDA_SUCCESS;
    case CU_POINTER_ATTRIBUTE_RANGE_START_ADDR:
        *(CUdeviceptr *)data = (CUdeviceptr)r->base;
        return CUDA_SUCCESS;
    case CU_POINTER_ATTRIBUTE_RANGE_SIZE:
    case CU_POINTER_ATTRIBUTE_MAPPING_SIZE:
        *(size_t *)data = r->size;
        return CUDA_SUCCESS;
    case CU_POINTER_ATTRIBUTE_MAPPING_BASE_ADDR:
        *(void **)data = (void *)(uintptr_t)r->base;
        return CUDA_SUCCESS;
    case CU_POINTER_ATTRIBUTE_MAPPED:
        *(int *)data = 1;
        return CUDA_SUCCESS;
    case CU_POINTER_ATTRIBUTE_ALLOWED_HANDLE_TYPES:
        /* Only cuMemCreate allocations can be exported. */
        *(unsigned long long *)data = CU_MEM_HANDLE_TYPE_NONE;
        return CUDA_SUCCESS;
    case CU_POINTER_ATTRIBUTE_IS_GPU_DIRECT_RDMA_CAPABLE:
        *(int *)data = 0;
        return CUDA_SUCCESS;
    case CU_POINTER_ATTRIBUTE_ACCESS_FLAGS:
        *(int *)data = r->kind == SIM_MEM_REGISTERED && (r->flags & CU_MEMHOSTREGISTER_READ_ONLY)
                           ? CU_MEM_ACCESS_FLAGS_PROT_READ
                           : CU_MEM_ACCESS_FLAGS_PROT_READWRITE;
        return CUDA_SUCCESS;
    case CU_POINTER_ATTRIBUTE_MEMPOOL_HANDLE:
        *(CUmemoryPool *)data = NULL; /* not from a memory pool */
        return CUDA_SUCCESS;
    case CU_POINTER_ATTRIBUTE_IS_HW_DECOMPRESS_CAPABLE:
        *(int *)data = 0;
        return CUDA_SUCCESS;
    default:
        return CUDA_ERROR_INVALID_VALUE;
    }
}

/* One attribute of the allocation containing ptr; CUDA_ERROR_INVALID_VALUE when ptr lies in no
 * allocation, mapping or registration of this process. */
EXPORT CUresult cuPointerGetAttribute(void *data, CUpointer_attribute attribute, CUdeviceptr ptr)
{
    CUresult res = sim_process_check();
    if (res != CUDA_SUCCESS)
        return res;
    if (!data || !attr_size((int)attribute))
        return CUDA_ERROR_INVALID_VALUE;
    struct mem_rec r;
    if (!snapshot((uint64_t)ptr, &r))
        return CUDA_ERROR_INVALID_VALUE;
    return pointer_attribute(data, (int)attribute, (uint64_t)ptr, &r, 0);
}

/* Several attributes at once. An address that is no allocation is not an error here: every
 * attribute gets its NULL/zero value, as documented. */
EXPORT CUresult cuPointerGetAttributes(unsigned int numAttributes, CUpointer_attribute *attributes,
                                       void **data, CUdeviceptr ptr)
{
    CUresult res = sim_process_check();
    if (res != CUDA_SUCCESS)
        return res;
    if (numAttributes == 0 || !attributes || !data)
        return CUDA_ERROR_INVALID_VALUE;
    for (unsigned int i = 0; i < numAttributes; i++) {
        if (!attr_size((int)attributes[i]) || !data[i])
            return CUDA_ERROR_INVALID_VALUE;
    }
    struct mem_rec r;
    int known = snapshot((uint64_t)ptr, &r);
    for (unsigned int i = 0; i < numAttributes; i++) {
        if (!known) {
            memset(data[i], 0, attr_size((int)attributes[i]));
            continue;
        }
        res = pointer_attribute(data[i], (int)attributes[i], (uint64_t)ptr, &r, 1);
        if (res != CUDA_SUCCESS)
            return res;
    }
    return CUDA_SUCCESS;
}

/* Sets SYNC_MEMOPS on the allocation containing ptr (the only settable attribute). */
EXPORT CUresult cuPointerSetAttribute(const void *value, CUpointer_attribute attribute,
                                      CUdeviceptr ptr)
{
    CUresult res = sim_process_check();
    if (res != CUDA_SUCCESS)
        return res;
    if (!value || attribute != CU_POINTER_ATTRIBUTE_SYNC_MEMOPS)
        return CUDA_ERROR_INVALID_VALUE;
    pthread_rwlock_wrlock(&g_mem_lock);
    struct mem_rec *r = find_locked((uint64_t)ptr, NULL);
    if (r)
        r->sync_memops = *(const int *)value != 0;
    pthread_rwlock_unlock(&g_mem_lock);
    return r ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}
