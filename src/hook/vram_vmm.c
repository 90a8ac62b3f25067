/*
 * vram_vmm.c: VMM mappings for the VRAM limiter (see vram.h and docs/internals/hook.md).
 */
#include "vram.h"

#include "gpool/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

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
int hook_vram_vmm_release_deferred(CUmemGenericAllocationHandle h)
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
void hook_vram_vmm_credit(CUmemGenericAllocationHandle h)
{
    struct ledger *l;
    if (!hook_vram_cfg.enabled || hook_vram_ledger(&l) != CUDA_SUCCESS)
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
    if (rc != CUDA_SUCCESS || !hook_vram_cfg.enabled)
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
        LOG_WARN("hook",
                 "cuMemMap(0x%llx): out of memory recording the mapping; its handle will "
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
    if (rc != CUDA_SUCCESS || !hook_vram_cfg.enabled)
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
                hook_vram_vmm_credit(
                    e->handle); /* rare: more than 16 at once; ledger lock is separate */
            *e = vmm_handles[--vmm_nhandles];
        }
        vmm_maps[i] = vmm_maps[--vmm_nmaps];
    }
    pthread_mutex_unlock(&vmm_lock);
    for (size_t i = 0; i < ncredit; i++)
        hook_vram_vmm_credit(credit[i]);
    return rc;
}
