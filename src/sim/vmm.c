/*
 * vmm.c: the virtual memory management API of the simulated GPU (cuMemAddressReserve, cuMemCreate,
 * cuMemMap, cuMemSetAccess, shareable handles).
 *
 * Three kinds of object, all process-local and guarded by one mutex:
 *   reservation  a range of device addresses from sim_dev_base(d) + 4 TiB upward (ordinary
 *                allocations live below sim_dev_base(d) + VRAM, which is less than 4 TiB);
 *   allocation   physical memory: a block of the device file charged with sim_state_alloc at
 *                cuMemCreate (or one imported from another process, charged to its exporter);
 *   mapping      [va, va + size) of a reservation backed by an allocation from an offset.
 * A mapping is entered in the allocation table (sim_mem_register, kind SIM_MEM_VMM) only while
 * some device has access to it, so copies, memsets and kernels fail on it until cuMemSetAccess.
 * An allocation's charge is released when its handle references and its mappings are all gone.
 * See docs/internals/sim.md, "Virtual memory".
 */
#include "driver.h"
#include "state_layout.h"

#include "gpool/log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

#pragma GCC diagnostic ignored "-Wmissing-prototypes"

#define VMM_GRANULE   (2ull << 20)  /* minimum and recommended granularity: 2 MiB */
#define VMM_VA_START  (4ull << 40)  /* reservations start 4 TiB into a device's range */
#define VMM_HANDLE_HI 0x47564d0000000000ull /* "GVM" in the handle's top bytes */
#define VMM_FD_MAGIC  0x44464d4d56504f47ull /* "GOPVMMFD" */

struct vmm_alloc {
    uint64_t handle;
    int device;
    uint64_t offset;  /* in the device file */
    uint64_t size;
    int owned;        /* charged by this process (cuMemCreate) rather than imported */
    unsigned refs;    /* create/import + retains - releases */
    unsigned maps;    /* live mappings */
    uint32_t tag;     /* shared-state tag once exported (0: never) */
    CUmemAllocationProp prop;
    struct vmm_alloc *next;
};

struct vmm_resv {
    uint64_t base, size;
    struct vmm_resv *next;
};

struct vmm_map {
    uint64_t va, size;
    struct vmm_alloc *alloc;
    uint64_t alloc_off;
    CUmemAccess_flags access[SIM_MAX_DEVICES];
    int registered; /* entered in the allocation table */
    struct vmm_map *next;
};

/* What an exported file descriptor carries (a sealed memfd). */
struct vmm_fd_desc {
    uint64_t magic;
    char instance[64];
    int32_t device;
    uint32_t tag;
    uint64_t offset, size;
    CUmemAllocationProp prop;
};

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static struct vmm_alloc *g_allocs;
static struct vmm_resv *g_resvs;
static struct vmm_map *g_maps;
static uint64_t g_next_handle = 1;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void fork_prepare(void) { pthread_mutex_lock(&g_lock); }
static void fork_parent(void) { pthread_mutex_unlock(&g_lock); }

/* The child forgets everything (CUDA state does not cross fork); the parent owns the charges. */
static void fork_child(void)
{
    g_allocs = NULL;
    g_resvs = NULL;
    g_maps = NULL;
    pthread_mutex_init(&g_lock, NULL);
}

static void register_fork(void)
{
    pthread_atfork(fork_prepare, fork_parent, fork_child);
}

static CUresult vmm_enter(void)
{
    CUresult res = sim_process_check();
    if (res == CUDA_SUCCESS)
        pthread_once(&g_once, register_fork);
    return res;
}

static struct vmm_alloc *find_alloc_locked(uint64_t handle)
{
    for (struct vmm_alloc *a = g_allocs; a; a = a->next)
        if (a->handle == handle)
            return a;
    return NULL;
}

/* Frees an allocation with no references and no mappings. Lock held. */
static void maybe_free_alloc_locked(struct vmm_alloc *a)
{
    if (a->refs || a->maps)
        return;
    for (struct vmm_alloc **pp = &g_allocs; *pp; pp = &(*pp)->next) {
        if (*pp == a) {
            *pp = a->next;
            break;
        }
    }
    if (a->owned) {
        int rc = sim_state_free(sim_process_instance(), a->device, a->offset);
        if (rc < 0)
            LOG_WARN("sim", "cuMemRelease: device %d offset 0x%llx: no charge (%d)", a->device,
                     (unsigned long long)a->offset, rc);
    }
    free(a);
}

static struct vmm_resv *find_resv_locked(uint64_t va, uint64_t size)
{
    for (struct vmm_resv *r = g_resvs; r; r = r->next)
        if (va >= r->base && va - r->base < r->size && size <= r->size - (va - r->base))
            return r;
    return NULL;
}

static int resv_overlaps_locked(uint64_t base, uint64_t size)
{
    for (struct vmm_resv *r = g_resvs; r; r = r->next)
        if (base < r->base + r->size && r->base < base + size)
            return 1;
    return 0;
}

/* The device address range reservations of device d may use. */
static void va_window(int d, uint64_t *lo, uint64_t *hi)
{
    *lo = sim_dev_base(d) + VMM_VA_START;
    *hi = sim_dev_base(d) + SIM_DEV_STRIDE;
}

static int is_valid_device(int d)
{
    return d >= 0 && d < sim_instance_device_count(sim_process_instance());
}

/* Checks the parts of an allocation property the simulator supports. */
static CUresult check_prop(const CUmemAllocationProp *prop)
{
    if (!prop || prop->type != CU_MEM_ALLOCATION_TYPE_PINNED)
        return CUDA_ERROR_INVALID_VALUE;
    if (prop->location.type == CU_MEM_LOCATION_TYPE_HOST ||
        prop->location.type == CU_MEM_LOCATION_TYPE_HOST_NUMA)
        return CUDA_ERROR_NOT_SUPPORTED;
    if (prop->location.type != CU_MEM_LOCATION_TYPE_DEVICE)
        return CUDA_ERROR_INVALID_VALUE;
    if (!is_valid_device(prop->location.id))
        return CUDA_ERROR_INVALID_DEVICE;
    if (prop->requestedHandleTypes & ~(unsigned)CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR)
        return CUDA_ERROR_NOT_SUPPORTED;
    return CUDA_SUCCESS;
}

/* Both granularities are 2 MiB, as on current NVIDIA GPUs. */
EXPORT CUresult cuMemGetAllocationGranularity(size_t *granularity, const CUmemAllocationProp *prop,
                                              CUmemAllocationGranularity_flags option)
{
    CUresult res = vmm_enter();
    if (res != CUDA_SUCCESS)
        return res;
    if (!granularity || !prop || (option != CU_MEM_ALLOC_GRANULARITY_MINIMUM &&
                                  option != CU_MEM_ALLOC_GRANULARITY_RECOMMENDED))
        return CUDA_ERROR_INVALID_VALUE;
    if ((res = check_prop(prop)) != CUDA_SUCCESS)
        return res == CUDA_ERROR_INVALID_DEVICE ? CUDA_ERROR_INVALID_VALUE : res;
    *granularity = VMM_GRANULE;
    return CUDA_SUCCESS;
}

/* Reserves size bytes of device address space (multiples of the granularity), at addr when that
 * range is free and lies in the reservation window, else wherever it fits. */
EXPORT CUresult cuMemAddressReserve(CUdeviceptr *ptr, size_t size, size_t alignment,
                                    CUdeviceptr addr, unsigned long long flags)
{
    CUresult res = vmm_enter();
    if (res != CUDA_SUCCESS)
        return res;
    if (!ptr || size == 0 || flags || size % VMM_GRANULE || addr % VMM_GRANULE ||
        (alignment & (alignment - 1)))
        return CUDA_ERROR_INVALID_VALUE;
    uint64_t align = alignment > VMM_GRANULE ? alignment : VMM_GRANULE;
    int dev = 0;
    struct CUctx_st *ctx;
    if (sim_ctx_current(&ctx) == CUDA_SUCCESS && ctx)
        dev = ctx->device;
    struct vmm_resv *r = calloc(1, sizeof(*r));
    if (!r)
        return CUDA_ERROR_OUT_OF_MEMORY;
    pthread_mutex_lock(&g_lock);
    uint64_t found = 0;
    /* The hint first: any device's window. */
    int ndev = sim_instance_device_count(sim_process_instance());
    for (int d = 0; addr && d < ndev && !found; d++) {
        uint64_t lo, hi;
        va_window(d, &lo, &hi);
        if (addr >= lo && addr < hi && size <= hi - addr && addr % align == 0 &&
            !resv_overlaps_locked(addr, size))
            found = addr;
    }
    if (!found) {
        uint64_t lo, hi;
        va_window(dev, &lo, &hi);
        uint64_t cand = lo;
        for (;;) {
            cand = (cand + align - 1) / align * align;
            if (cand >= hi || size > hi - cand)
                break;
            struct vmm_resv *hit = NULL;
            for (struct vmm_resv *q = g_resvs; q; q = q->next)
                if (cand < q->base + q->size && q->base < cand + size &&
                    (!hit || q->base + q->size > hit->base + hit->size))
                    hit = q;
            if (!hit) {
                found = cand;
                break;
            }
            cand = hit->base + hit->size;
        }
    }
    if (!found) {
        pthread_mutex_unlock(&g_lock);
        free(r);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    r->base = found;
    r->size = size;
    r->next = g_resvs;
    g_resvs = r;
    pthread_mutex_unlock(&g_lock);
    *ptr = (CUdeviceptr)found;
    return CUDA_SUCCESS;
}

/* Frees a whole reservation (ptr and size as reserved). A reservation with live mappings is
 * CUDA_ERROR_INVALID_VALUE: unmap first. */
EXPORT CUresult cuMemAddressFree(CUdeviceptr ptr, size_t size)
{
    CUresult res = vmm_enter();
    if (res != CUDA_SUCCESS)
        return res;
    pthread_mutex_lock(&g_lock);
    struct vmm_resv **pp = &g_resvs;
    while (*pp && !((*pp)->base == ptr && (*pp)->size == size))
        pp = &(*pp)->next;
    res = CUDA_ERROR_INVALID_VALUE;
    if (*pp) {
        int mapped = 0;
        for (struct vmm_map *m = g_maps; m; m = m->next)
            if (m->va >= ptr && m->va < ptr + size)
                mapped = 1;
        if (!mapped) {
            struct vmm_resv *r = *pp;
            *pp = r->next;
            free(r);
            res = CUDA_SUCCESS;
        }
    }
    pthread_mutex_unlock(&g_lock);
    return res;
}

/* Gives a new allocation its handle and links it into the list; the list owns a from here. */
static void register_alloc(struct vmm_alloc *a, CUmemGenericAllocationHandle *handle)
{
    pthread_mutex_lock(&g_lock);
    a->handle = VMM_HANDLE_HI | g_next_handle++;
    a->next = g_allocs;
    g_allocs = a;
    *handle = a->handle;
    pthread_mutex_unlock(&g_lock);
}

/* Creates physical memory: charged to the device now (CUDA_ERROR_OUT_OF_MEMORY when it does not
 * fit), mapped nowhere. */
EXPORT CUresult cuMemCreate(CUmemGenericAllocationHandle *handle, size_t size,
                            const CUmemAllocationProp *prop, unsigned long long flags)
{
    CUresult res = vmm_enter();
    if (res != CUDA_SUCCESS)
        return res;
    if (!handle || !prop || flags || size == 0 || size % VMM_GRANULE)
        return CUDA_ERROR_INVALID_VALUE;
    if ((res = check_prop(prop)) != CUDA_SUCCESS)
        return res;
    struct vmm_alloc *a = calloc(1, sizeof(*a));
    if (!a)
        return CUDA_ERROR_OUT_OF_MEMORY;
    int dev = prop->location.id;
    int rc = sim_state_alloc(sim_process_instance(), dev, size, SIM_CHARGE_MEMORY, &a->offset,
                             NULL);
    if (rc < 0) {
        free(a);
        LOG_DEBUG("sim", "cuMemCreate: %zu bytes on device %d: %d", size, dev, rc);
        return rc == -ENOMEM || rc == -ENOSPC ? CUDA_ERROR_OUT_OF_MEMORY : CUDA_ERROR_UNKNOWN;
    }
    a->device = dev;
    a->size = size;
    a->owned = 1;
    a->refs = 1;
    a->prop = *prop;
    register_alloc(a, handle);
    return CUDA_SUCCESS;
}

/* Drops one reference to a handle; the memory goes once it is also unmapped everywhere. */
EXPORT CUresult cuMemRelease(CUmemGenericAllocationHandle handle)
{
    CUresult res = vmm_enter();
    if (res != CUDA_SUCCESS)
        return res;
    pthread_mutex_lock(&g_lock);
    struct vmm_alloc *a = find_alloc_locked(handle);
    if (a && a->refs) {
        a->refs--;
        maybe_free_alloc_locked(a);
    }
    pthread_mutex_unlock(&g_lock);
    return a ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

/* Maps [offset, offset + size) of handle's memory at ptr, inside a reservation and over no
 * other mapping. The mapping starts with no access. */
EXPORT CUresult cuMemMap(CUdeviceptr ptr, size_t size, size_t offset,
                         CUmemGenericAllocationHandle handle, unsigned long long flags)
{
    CUresult res = vmm_enter();
    if (res != CUDA_SUCCESS)
        return res;
    if (flags || size == 0 || ptr % VMM_GRANULE || size % VMM_GRANULE || offset % VMM_GRANULE)
        return CUDA_ERROR_INVALID_VALUE;
    struct vmm_map *m = calloc(1, sizeof(*m));
    if (!m)
        return CUDA_ERROR_OUT_OF_MEMORY;
    pthread_mutex_lock(&g_lock);
    struct vmm_alloc *a = find_alloc_locked(handle);
    res = CUDA_ERROR_INVALID_VALUE;
    if (!a || offset > a->size || size > a->size - offset || !find_resv_locked(ptr, size))
        goto out;
    for (struct vmm_map *q = g_maps; q; q = q->next)
        if (ptr < q->va + q->size && q->va < ptr + size)
            goto out; /* already mapped */
    m->va = ptr;
    m->size = size;
    m->alloc = a;
    m->alloc_off = offset;
    m->next = g_maps;
    g_maps = m;
    a->maps++;
    m = NULL;
    res = CUDA_SUCCESS;
out:
    pthread_mutex_unlock(&g_lock);
    free(m);
    return res;
}

/* The mappings that exactly tile [ptr, ptr + size), in address order, or 0 when the range is not
 * made of whole mappings without holes. out has room for max entries. Lock held. */
static size_t tile_locked(uint64_t ptr, uint64_t size, struct vmm_map **out, size_t max)
{
    size_t n = 0;
    uint64_t at = ptr, end = ptr + size;
    if (size == 0 || end < ptr)
        return 0;
    while (at < end) {
        struct vmm_map *m = g_maps;
        while (m && m->va != at)
            m = m->next;
        if (!m || m->size > end - at || n == max)
            return 0;
        out[n++] = m;
        at += m->size;
    }
    return n;
}

#define TILE_MAX 4096

/* Unmaps whole mappings covering exactly [ptr, ptr + size). Waits for the current context's
 * work first, so no queued copy finds the range gone. */
EXPORT CUresult cuMemUnmap(CUdeviceptr ptr, size_t size)
{
    CUresult res = vmm_enter();
    if (res != CUDA_SUCCESS)
        return res;
    struct CUctx_st *ctx;
    if (sim_ctx_current(&ctx) == CUDA_SUCCESS && ctx)
        (void)sim_stream_ctx_synchronize(ctx);
    struct vmm_map **tiles = malloc(TILE_MAX * sizeof(*tiles));
    if (!tiles)
        return CUDA_ERROR_OUT_OF_MEMORY;
    pthread_mutex_lock(&g_lock);
    size_t n = tile_locked(ptr, size, tiles, TILE_MAX);
    for (size_t i = 0; i < n; i++) {
        struct vmm_map *m = tiles[i];
        if (m->registered)
            sim_mem_unregister(SIM_MEM_VMM, m->va);
        for (struct vmm_map **pp = &g_maps; *pp; pp = &(*pp)->next) {
            if (*pp == m) {
                *pp = m->next;
                break;
            }
        }
        m->alloc->maps--;
        maybe_free_alloc_locked(m->alloc);
        free(m);
    }
    pthread_mutex_unlock(&g_lock);
    free(tiles);
    return n ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

/* Sets access for each device in desc on the mappings that exactly tile [ptr, ptr + size). A
 * mapping some device may read or write is visible to copies, memsets and kernels. */
EXPORT CUresult cuMemSetAccess(CUdeviceptr ptr, size_t size, const CUmemAccessDesc *desc,
                               size_t count)
{
    CUresult res = vmm_enter();
    if (res != CUDA_SUCCESS)
        return res;
    if (!desc || count == 0)
        return CUDA_ERROR_INVALID_VALUE;
    for (size_t i = 0; i < count; i++) {
        if (desc[i].location.type != CU_MEM_LOCATION_TYPE_DEVICE)
            return CUDA_ERROR_INVALID_VALUE;
        if (!is_valid_device(desc[i].location.id))
            return CUDA_ERROR_INVALID_DEVICE;
        if (desc[i].flags != CU_MEM_ACCESS_FLAGS_PROT_NONE &&
            desc[i].flags != CU_MEM_ACCESS_FLAGS_PROT_READ &&
            desc[i].flags != CU_MEM_ACCESS_FLAGS_PROT_READWRITE)
            return CUDA_ERROR_INVALID_VALUE;
    }
    struct vmm_map **tiles = malloc(TILE_MAX * sizeof(*tiles));
    if (!tiles)
        return CUDA_ERROR_OUT_OF_MEMORY;
    pthread_mutex_lock(&g_lock);
    size_t n = tile_locked(ptr, size, tiles, TILE_MAX);
    res = n ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
    for (size_t i = 0; i < n && res == CUDA_SUCCESS; i++) {
        struct vmm_map *m = tiles[i];
        for (size_t j = 0; j < count; j++)
            m->access[desc[j].location.id] = desc[j].flags;
        int any = 0;
        for (int d = 0; d < SIM_MAX_DEVICES; d++)
            any |= m->access[d] != CU_MEM_ACCESS_FLAGS_PROT_NONE;
        if (any && !m->registered) {
            res = sim_mem_register(SIM_MEM_VMM, m->alloc->device, NULL, m->va, m->size,
                                   m->alloc->offset + m->alloc_off);
            m->registered = res == CUDA_SUCCESS;
        } else if (!any && m->registered) {
            sim_mem_unregister(SIM_MEM_VMM, m->va);
            m->registered = 0;
        }
    }
    pthread_mutex_unlock(&g_lock);
    free(tiles);
    return res;
}

/* The access a device has to the mapping containing ptr. */
EXPORT CUresult cuMemGetAccess(unsigned long long *flags, const CUmemLocation *location,
                               CUdeviceptr ptr)
{
    CUresult res = vmm_enter();
    if (res != CUDA_SUCCESS)
        return res;
    if (!flags || !location || location->type != CU_MEM_LOCATION_TYPE_DEVICE)
        return CUDA_ERROR_INVALID_VALUE;
    if (!is_valid_device(location->id))
        return CUDA_ERROR_INVALID_DEVICE;
    pthread_mutex_lock(&g_lock);
    res = CUDA_ERROR_INVALID_VALUE;
    for (struct vmm_map *m = g_maps; m; m = m->next) {
        if (ptr >= m->va && ptr - m->va < m->size) {
            *flags = m->access[location->id];
            res = CUDA_SUCCESS;
            break;
        }
    }
    pthread_mutex_unlock(&g_lock);
    return res;
}

/* The properties given to cuMemCreate (or carried by an imported handle). */
EXPORT CUresult cuMemGetAllocationPropertiesFromHandle(CUmemAllocationProp *prop,
                                                       CUmemGenericAllocationHandle handle)
{
    CUresult res = vmm_enter();
    if (res != CUDA_SUCCESS)
        return res;
    if (!prop)
        return CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&g_lock);
    struct vmm_alloc *a = find_alloc_locked(handle);
    if (a)
        *prop = a->prop;
    pthread_mutex_unlock(&g_lock);
    return a ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

/* The handle mapped at addr, with one more reference (paired with cuMemRelease). */
EXPORT CUresult cuMemRetainAllocationHandle(CUmemGenericAllocationHandle *handle, void *addr)
{
    CUresult res = vmm_enter();
    if (res != CUDA_SUCCESS)
        return res;
    if (!handle)
        return CUDA_ERROR_INVALID_VALUE;
    uint64_t p = (uint64_t)(uintptr_t)addr;
    pthread_mutex_lock(&g_lock);
    res = CUDA_ERROR_INVALID_VALUE;
    for (struct vmm_map *m = g_maps; m; m = m->next) {
        if (p >= m->va && p - m->va < m->size) {
            m->alloc->refs++;
            *handle = m->alloc->handle;
            res = CUDA_SUCCESS;
            break;
        }
    }
    pthread_mutex_unlock(&g_lock);
    return res;
}

/* A random, non-zero tag. */
static uint32_t random_tag(void)
{
    uint32_t t = 0;
    while (t == 0)
        if (getrandom(&t, sizeof(t), 0) != (ssize_t)sizeof(t))
            t = (uint32_t)(uintptr_t)&t ^ (uint32_t)getpid(); /* never taken in practice */
    return t;
}

/* Exports a handle as a POSIX file descriptor (written to *(int *)shareableHandle): a sealed
 * memfd naming the instance, device, offset, size and the tag stored with the charge in the
 * shared state. The allocation must have been created with that handle type requested. */
EXPORT CUresult cuMemExportToShareableHandle(void *shareableHandle,
                                             CUmemGenericAllocationHandle handle,
                                             CUmemAllocationHandleType handleType,
                                             unsigned long long flags)
{
    CUresult res = vmm_enter();
    if (res != CUDA_SUCCESS)
        return res;
    if (!shareableHandle || flags)
        return CUDA_ERROR_INVALID_VALUE;
    if (handleType != CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR)
        return CUDA_ERROR_NOT_SUPPORTED;
    struct vmm_fd_desc d;
    memset(&d, 0, sizeof(d));
    pthread_mutex_lock(&g_lock);
    struct vmm_alloc *a = find_alloc_locked(handle);
    res = CUDA_ERROR_INVALID_VALUE;
    if (a && (a->prop.requestedHandleTypes & CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR)) {
        res = CUDA_SUCCESS;
        if (!a->tag) {
            uint32_t tag = random_tag();
            if (sim_state_tag(sim_process_instance(), a->device, a->offset, tag) == 0)
                a->tag = tag;
            else
                res = CUDA_ERROR_INVALID_VALUE; /* not charged by this process */
        }
        d.magic = VMM_FD_MAGIC;
        snprintf(d.instance, sizeof(d.instance), "%s", sim_instance_name(sim_process_instance()));
        d.device = a->device;
        d.tag = a->tag;
        d.offset = a->offset;
        d.size = a->size;
        d.prop = a->prop;
    }
    pthread_mutex_unlock(&g_lock);
    if (res != CUDA_SUCCESS)
        return res;
    int fd = memfd_create("gpool-vmm", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0)
        return CUDA_ERROR_OPERATING_SYSTEM;
    if (pwrite(fd, &d, sizeof(d), 0) != (ssize_t)sizeof(d) ||
        fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
        close(fd);
        return CUDA_ERROR_OPERATING_SYSTEM;
    }
    *(int *)shareableHandle = fd;
    return CUDA_SUCCESS;
}

/* Imports a file descriptor from cuMemExportToShareableHandle (osHandle is the descriptor cast
 * to a pointer). The descriptor must be sealed and name a live charge of this instance whose
 * size and tag match: a forged descriptor cannot name memory that was not exported. */
EXPORT CUresult cuMemImportFromShareableHandle(CUmemGenericAllocationHandle *handle,
                                               void *osHandle,
                                               CUmemAllocationHandleType shHandleType)
{
    CUresult res = vmm_enter();
    if (res != CUDA_SUCCESS)
        return res;
    if (!handle)
        return CUDA_ERROR_INVALID_VALUE;
    if (shHandleType != CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR)
        return CUDA_ERROR_NOT_SUPPORTED;
    int fd = (int)(intptr_t)osHandle;
    struct vmm_fd_desc d;
    int seals = fcntl(fd, F_GET_SEALS);
    if (seals < 0 || !(seals & F_SEAL_WRITE) || pread(fd, &d, sizeof(d), 0) != (ssize_t)sizeof(d))
        return CUDA_ERROR_INVALID_VALUE;
    struct sim_instance *inst = sim_process_instance();
    d.instance[sizeof(d.instance) - 1] = '\0';
    if (d.magic != VMM_FD_MAGIC || strcmp(d.instance, sim_instance_name(inst)) != 0 ||
        !is_valid_device(d.device) || d.tag == 0 || d.size == 0 || d.size % VMM_GRANULE)
        return CUDA_ERROR_INVALID_VALUE;
    uint64_t size = 0;
    uint32_t tag = 0;
    if (sim_state_find(inst, d.device, d.offset, &size, &tag) != 0 || size != d.size ||
        tag != d.tag)
        return CUDA_ERROR_INVALID_VALUE;
    struct vmm_alloc *a = calloc(1, sizeof(*a));
    if (!a)
        return CUDA_ERROR_OUT_OF_MEMORY;
    a->device = d.device;
    a->offset = d.offset;
    a->size = d.size;
    a->owned = 0;
    a->refs = 1;
    a->tag = d.tag;
    a->prop = d.prop;
    register_alloc(a, handle);
    return CUDA_SUCCESS;
}
