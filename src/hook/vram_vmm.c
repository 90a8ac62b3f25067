/*
 * vram_vmm.c: VMM mappings and handle references for the VRAM limiter (see vram.h and
 * docs/internals/hook.md).
 */
#include "vram.h"

#include "gpool/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/*
 * VMM mappings and references. The driver keeps a cuMemCreate handle's physical memory until
 * every reference to it is released (cuMemRelease, once for the create or import and once per
 * cuMemRetainAllocationHandle) and every mapping of it unmapped (cuMemUnmap). So cuMemMap,
 * cuMemUnmap and cuMemRetainAllocationHandle are wrapped by hand to record each mapping (its VA
 * start and size -> handle), count mappings per handle and count the references the hook has
 * seen; a cuMemRelease that leaves references or mappings credits nothing, and the credit comes
 * with the call (release or unmap) after which the handle has neither. A handle never mapped
 * nor retained has no entry: it holds its one reference, and cuMemRelease credits it at once.
 * Kept in this process only: the process that maps is the one that created or imported the
 * handle, and a dead process's charges are reclaimed whole by the ledger.
 */
struct vmm_map {
    uint64_t va, size;
    CUmemGenericAllocationHandle handle;
};
struct vmm_handle {
    CUmemGenericAllocationHandle handle;
    uint32_t nmaps;
    uint32_t refs; /* references not yet released: 1 (create/import) + retains - releases */
};

static pthread_mutex_t vmm_lock = PTHREAD_MUTEX_INITIALIZER;
static struct vmm_map *vmm_maps;
static size_t vmm_nmaps, vmm_maps_cap;
static struct vmm_handle *vmm_handles;
static size_t vmm_nhandles, vmm_handles_cap;

/* The entry of h (created with its one reference and no mappings when create), or NULL. Under
 * vmm_lock. */
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
    vmm_handles[vmm_nhandles] = (struct vmm_handle){.handle = h, .refs = 1};
    return &vmm_handles[vmm_nhandles++];
}

/* Drops entry e once it says no more than a missing entry would (one reference, no mapping).
 * Under vmm_lock; e is invalid afterwards. */
static void vmm_handle_tidy(struct vmm_handle *e)
{
    if (e->nmaps == 0 && e->refs == 1)
        *e = vmm_handles[--vmm_nhandles];
}

/*
 * Whether cuMemRelease(h), which the driver accepted, leaves the driver holding h's memory (h
 * still has a mapping or another reference), so that the credit must wait for the last unmap or
 * release; the released reference is counted. 0: this release freed the memory, credit now.
 */
int hook_vram_vmm_release_deferred(CUmemGenericAllocationHandle h)
{
    pthread_mutex_lock(&vmm_lock);
    struct vmm_handle *e = vmm_handle_find(h, 0);
    int deferred = 0;
    if (e) {
        /* More releases than references (which the driver should refuse) count as none. */
        if (e->refs > 0)
            e->refs--;
        deferred = e->refs > 0 || e->nmaps > 0;
        if (deferred)
            vmm_handle_tidy(e);
        else
            *e = vmm_handles[--vmm_nhandles];
    }
    pthread_mutex_unlock(&vmm_lock);
    return deferred;
}

/* Credits the VMM handle h (its charge key) wherever it was charged. */
void hook_vram_vmm_credit(CUmemGenericAllocationHandle h)
{
    struct ledger *l;
    if (!hook_vram_cfg.enabled || hook_vram_ledger(&l) != CUDA_SUCCESS)
        return;
    hook_vram_release_any(l, -1, (uint64_t)h ^ HOOK_VRAM_KEY_VMM);
}

CUresult cuMemMap(CUdeviceptr ptr, size_t size, size_t offset, CUmemGenericAllocationHandle handle,
                  unsigned long long flags)
{
    HOOK_REAL_OR_MISSING(cuMemMap);
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
        if (e)
            vmm_handle_tidy(e);
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
    HOOK_REAL_OR_MISSING(cuMemUnmap);
    CUresult rc = real(ptr, size);
    if (rc != CUDA_SUCCESS || !hook_vram_cfg.enabled)
        return rc;
    /* The driver unmapped every mapping inside [ptr, ptr + size): drop them; a handle whose
     * last mapping goes with no reference left is credited (after the lock, as the ledger takes
     * its own). */
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
            if (e->refs > 0) {
                vmm_handle_tidy(e);
            } else {
                if (ncredit < sizeof(credit) / sizeof(credit[0]))
                    credit[ncredit++] = e->handle;
                else
                    hook_vram_vmm_credit(e->handle); /* rare; the ledger's lock is its own */
                *e = vmm_handles[--vmm_nhandles];
            }
        }
        vmm_maps[i] = vmm_maps[--vmm_nmaps];
    }
    pthread_mutex_unlock(&vmm_lock);
    for (size_t i = 0; i < ncredit; i++)
        hook_vram_vmm_credit(credit[i]);
    return rc;
}

/* The handle mapped at addr, with one more reference: counted, so that the memory stays charged
 * until that reference is released too. */
CUresult cuMemRetainAllocationHandle(CUmemGenericAllocationHandle *handle, void *addr)
{
    HOOK_REAL_OR_MISSING(cuMemRetainAllocationHandle);
    CUresult rc = real(handle, addr);
    if (rc != CUDA_SUCCESS || !hook_vram_cfg.enabled)
        return rc;
    pthread_mutex_lock(&vmm_lock);
    struct vmm_handle *e = vmm_handle_find(*handle, 1);
    if (e)
        e->refs++;
    pthread_mutex_unlock(&vmm_lock);
    if (!e)
        LOG_WARN("hook",
                 "cuMemRetainAllocationHandle(%p): out of memory recording the reference; handle "
                 "0x%llx will be credited at its first cuMemRelease with no mapping left",
                 addr, (unsigned long long)*handle);
    return rc;
}
