/*
 * vram_pool.c: stream-ordered pools (cuMemAllocAsync, cuMemAllocFromPoolAsync, cuMemFreeAsync)
 * under the local vGPU's VRAM cap, charged by what each pool holds on the device. See
 * "Stream-ordered" and "Pools" in docs/internals/hook.md.
 *
 * Every block a pool hands out is charged (its size rounded to HOOK_VRAM_GRANULE, ledger key =
 * the pointer) before the driver is called, as vram.c charges cuMemAlloc. A free does not credit
 * the block: a pool keeps freed memory cached up to its release threshold, so the block stays
 * charged, marked freed in this process's table, until the pool is reconciled with the driver:
 * while the pool's charge passes its CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT, freed blocks that
 * fit in the difference are credited (never one that would take the charge below what the
 * driver holds). A later allocation the driver serves from a freed block (same address) takes
 * over its charge, so a caching pool is charged once for memory it reuses.
 *
 * Reconciled: after every allocation from the pool, cuMemFree of one of its blocks,
 * cuMemPoolTrimTo, cuMemPoolSetAttribute(RELEASE_THRESHOLD); every pool of the process after
 * cuStreamSynchronize, cuCtxSynchronize, cuEventSynchronize (the calls after which enqueued
 * frees have run), cuMemGetInfo (vram.c) and before an allocation is refused at the cap.
 * cuMemPoolDestroy credits the pool's freed blocks (the driver releases them); blocks still
 * handed out stay charged until freed, then are credited at once.
 *
 * Graph capture is vram_graph.c's: captured calls never reach this file.
 */
#include "hook.h"
#include "vram.h"

#include "gpool/ledger.h"
#include "gpool/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* One block a pool handed out to this process. */
struct vp_block {
    uint64_t ptr;   /* 0: an empty cell of the table */
    uint64_t key;   /* the ledger record that charges it (a pointer, maybe an earlier block's) */
    uint64_t bytes; /* what that record charges */
    uint32_t slot;  /* its pool's index in vp.pools */
    uint32_t freed; /* freed by the application; charged until the pool no longer holds it */
};

/* A pool this process allocated from. */
struct vp_pool {
    CUmemoryPool handle;
    int dev;       /* the device the pool's memory is on; -1: not device memory (not charged) */
    int used;      /* the slot is taken */
    int destroyed; /* cuMemPoolDestroy: kept while blocks handed out from it live */
    uint64_t charged;
    uint64_t slack; /* charged beyond the blocks: what the driver holds for the pool on top */
    uint32_t nblocks, nfreed;
};

static struct {
    pthread_mutex_t lock; /* everything below; taken before the ledger's lock, never after */
    struct vp_pool *pools;
    size_t npools;
    struct vp_block *tab; /* open addressing, linear probing; load kept at most 1/2 */
    size_t cap;
    atomic_size_t n; /* blocks in the table (changed under the lock): the free path's fast path */
    atomic_uint nfreed; /* freed blocks still charged, all pools: reconcile_all's fast path */
} vp = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* The reservation of the pool allocation this thread is making, from before() to after(). */
static _Thread_local struct {
    uint32_t slot;
    int have; /* ticket reserved (0: served from the pool's cache, nothing reserved yet) */
    uint64_t bytes;
    struct ledger_ticket t;
} vp_pending;

/* ---- The block table ------------------------------------------------------------------------- */

static size_t tab_home(uint64_t ptr, size_t cap)
{
    return (size_t)(((ptr >> 12) * 0x9e3779b97f4a7c15ull) >> 20) & (cap - 1);
}

static struct vp_block *tab_find(uint64_t ptr)
{
    if (!vp.cap || !ptr)
        return NULL;
    for (size_t i = tab_home(ptr, vp.cap);; i = (i + 1) & (vp.cap - 1)) {
        if (vp.tab[i].ptr == ptr)
            return &vp.tab[i];
        if (!vp.tab[i].ptr)
            return NULL;
    }
}

/* A zeroed cell for ptr (absent from the table); NULL when out of memory. */
static struct vp_block *tab_insert(uint64_t ptr)
{
    if (2 * (vp.n + 1) > vp.cap) {
        size_t cap = vp.cap ? 2 * vp.cap : 256;
        struct vp_block *t = calloc(cap, sizeof(*t));
        if (!t)
            return NULL;
        for (size_t i = 0; i < vp.cap; i++) {
            if (!vp.tab[i].ptr)
                continue;
            size_t j = tab_home(vp.tab[i].ptr, cap);
            while (t[j].ptr)
                j = (j + 1) & (cap - 1);
            t[j] = vp.tab[i];
        }
        free(vp.tab);
        vp.tab = t;
        vp.cap = cap;
    }
    size_t i = tab_home(ptr, vp.cap);
    while (vp.tab[i].ptr)
        i = (i + 1) & (vp.cap - 1);
    memset(&vp.tab[i], 0, sizeof(vp.tab[i]));
    vp.tab[i].ptr = ptr;
    vp.n++;
    return &vp.tab[i];
}

/* Empties cell b, moving later cells of its probe run back (no tombstones). A cell behind b may
 * move into b: a caller walking the table looks at b again. */
static void tab_remove(struct vp_block *b)
{
    size_t i = (size_t)(b - vp.tab);
    for (size_t j = (i + 1) & (vp.cap - 1); vp.tab[j].ptr; j = (j + 1) & (vp.cap - 1)) {
        size_t h = tab_home(vp.tab[j].ptr, vp.cap);
        /* The cell at j may fill the hole at i when its home is not in (i, j] cyclically. */
        if (i <= j ? (h > i && h <= j) : (h > i || h <= j))
            continue;
        vp.tab[i] = vp.tab[j];
        i = j;
    }
    memset(&vp.tab[i], 0, sizeof(vp.tab[i]));
    vp.n--;
}

/* ---- Pools ----------------------------------------------------------------------------------- */

/* The slot of live (not destroyed) pool h, or -1. */
static int pool_find(CUmemoryPool h)
{
    for (size_t i = 0; i < vp.npools; i++)
        if (vp.pools[i].used && !vp.pools[i].destroyed && vp.pools[i].handle == h)
            return (int)i;
    return -1;
}

/* The slot of pool h on dev, made when absent; -1 when out of memory. */
static int pool_get(CUmemoryPool h, int dev)
{
    int i = pool_find(h);
    if (i >= 0)
        return i;
    size_t k = 0;
    while (k < vp.npools && vp.pools[k].used)
        k++;
    if (k == vp.npools) {
        struct vp_pool *p = realloc(vp.pools, (vp.npools + 1) * sizeof(*p));
        if (!p)
            return -1;
        vp.pools = p;
        vp.npools++;
    }
    memset(&vp.pools[k], 0, sizeof(vp.pools[k]));
    vp.pools[k].handle = h;
    vp.pools[k].dev = dev;
    vp.pools[k].used = 1;
    return (int)k;
}

/* The ledger key of pool h's slack: the handle made odd, so never a block's address. */
static uint64_t slack_key(CUmemoryPool h)
{
    return (uint64_t)(uintptr_t)h | 1;
}

/* Credits all of pool slot's slack. */
static void slack_drop(struct ledger *l, struct vp_pool *p)
{
    if (p->slack && ledger_release(l, p->dev, slack_key(p->handle), NULL) < 0)
        LOG_DEBUG("hook", "vGPU '%s': the slack of pool %p was not charged", hook_vram_cfg.name,
                  (void *)p->handle);
    p->slack = 0;
}

/* Frees the slot of a destroyed pool once nothing it handed out is left (its slack credited
 * then: the driver gives the pool's memory back with its last block). */
static void pool_tidy(struct ledger *l, uint32_t slot)
{
    struct vp_pool *p = &vp.pools[slot];
    if (p->destroyed && p->nblocks == 0) {
        slack_drop(l, p);
        p->used = 0;
    }
}

/* The driver's figure attr of pool h: 0 and *v, or -1. */
static int pool_attr(CUmemoryPool h, CUmemPool_attribute attr, uint64_t *v)
{
    hook_pfn_cuMemPoolGetAttribute fn =
        (hook_pfn_cuMemPoolGetAttribute)hook_real_fn(GPOOL_API_ID_cuMemPoolGetAttribute);
    cuuint64_t x = 0;
    if (!fn || fn(h, attr, &x) != CUDA_SUCCESS)
        return -1;
    *v = x;
    return 0;
}

/* The device of pool h that the hook has not seen made: a device's default or current pool,
 * else the current device. */
static int pool_device(CUmemoryPool h)
{
    hook_pfn_cuDeviceGetCount count =
        (hook_pfn_cuDeviceGetCount)hook_real_fn(GPOOL_API_ID_cuDeviceGetCount);
    hook_pfn_cuDeviceGetDefaultMemPool dflt =
        (hook_pfn_cuDeviceGetDefaultMemPool)hook_real_fn(GPOOL_API_ID_cuDeviceGetDefaultMemPool);
    hook_pfn_cuDeviceGetMemPool cur =
        (hook_pfn_cuDeviceGetMemPool)hook_real_fn(GPOOL_API_ID_cuDeviceGetMemPool);
    int n = 0;
    if (count && dflt && cur && count(&n) == CUDA_SUCCESS) {
        for (int d = 0; d < n; d++) {
            CUmemoryPool a = NULL, b = NULL;
            if ((dflt(&a, d) == CUDA_SUCCESS && a == h) || (cur(&b, d) == CUDA_SUCCESS && b == h))
                return d;
        }
    }
    int dev = 0;
    return hook_vram_current_device(&dev) == CUDA_SUCCESS ? dev : -1;
}

/* Credits block b (its pool p) and forgets it. */
static void block_credit(struct ledger *l, struct vp_block *b)
{
    struct vp_pool *p = &vp.pools[b->slot];
    if (ledger_release(l, p->dev, b->key, NULL) < 0)
        LOG_DEBUG("hook", "vGPU '%s': pool block 0x%llx was not charged", hook_vram_cfg.name,
                  (unsigned long long)b->ptr);
    p->charged -= b->bytes;
    p->nblocks--;
    if (b->freed) {
        p->nfreed--;
        atomic_fetch_sub(&vp.nfreed, 1);
    }
    uint32_t slot = b->slot;
    tab_remove(b);
    pool_tidy(l, slot);
}

/*
 * Sets pool p's slack, what the driver holds for it beyond its blocks' charges, to `want`
 * bytes. A driver backs a pool in physical chunks of its own size, so a 64 KiB block can cost the
 * device 2 MiB; charging only the blocks would let the vGPU pass its cap by the difference. 0, or
 * -EDQUOT when the slack cannot grow within the cap (it keeps its size: the caller gives back
 * what made the pool grow). Under vp.lock.
 */
static int slack_set_locked(struct ledger *l, struct vp_pool *p, uint64_t want)
{
    if (want == p->slack)
        return 0;
    if (want == 0) {
        slack_drop(l, p);
        return 0;
    }
    int rc;
    if (p->slack) {
        rc = ledger_resize(l, p->dev, slack_key(p->handle), want);
    } else {
        struct ledger_ticket t;
        rc = ledger_reserve(l, p->dev, want, &t);
        if (rc == 0 && (rc = ledger_commit(l, &t, slack_key(p->handle))) < 0)
            ledger_rollback(l, &t);
    }
    if (rc == 0)
        p->slack = want;
    else if (rc != -EDQUOT)
        LOG_WARN("hook",
                 "vGPU '%s': cannot charge the %llu bytes pool %p holds beyond its "
                 "blocks: %s",
                 hook_vram_cfg.name, (unsigned long long)want, (void *)p->handle, strerror(-rc));
    return rc == -EDQUOT ? rc : 0;
}

/*
 * Brings the pool in slot to what the driver says it holds (RESERVED_MEM_CURRENT, read once):
 * while its charge passes that figure, credits freed blocks, each only when it fits in the
 * difference (the charge never drops below the driver's figure); then sets the slack to the
 * rest (shrinking it, or growing it when the cap allows). Under vp.lock; returns what
 * slack_set_locked does.
 */
static int reconcile_locked(struct ledger *l, uint32_t slot)
{
    struct vp_pool *p = &vp.pools[slot];
    uint64_t reserved = 0;
    if (!p->used || p->destroyed || p->dev < 0 ||
        pool_attr(p->handle, CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT, &reserved) < 0)
        return 0;
    uint64_t excess = p->charged > reserved ? p->charged - reserved : 0;
    for (size_t i = 0; i < vp.cap && excess && p->nfreed;) {
        struct vp_block *b = &vp.tab[i];
        if (!b->ptr || b->slot != slot || !b->freed || b->bytes > excess) {
            i++;
            continue;
        }
        excess -= b->bytes;
        block_credit(l, b); /* cell i may now hold another block: look again */
    }
    return slack_set_locked(l, p, reserved > p->charged ? reserved - p->charged : 0);
}

static void reconcile_all_locked(struct ledger *l)
{
    for (size_t i = 0; i < vp.npools; i++)
        reconcile_locked(l, (uint32_t)i);
}

void hook_vram_pool_reconcile_all(void)
{
    /* Called on every synchronisation: with no freed block (always without a vGPU) this one
     * load is all it costs. A freed block implies an open ledger. */
    if (atomic_load_explicit(&vp.nfreed, memory_order_relaxed) == 0)
        return;
    struct ledger *l = hook_vram_ledger_opened();
    if (!l)
        return;
    pthread_mutex_lock(&vp.lock);
    reconcile_all_locked(l);
    pthread_mutex_unlock(&vp.lock);
}

/* ---- Allocation and free --------------------------------------------------------------------- */

CUresult hook_vram_pool_alloc_before(struct hook_call *call, uint64_t bytes)
{
    struct ledger *l;
    CUresult res = hook_vram_ledger(&l);
    if (res != CUDA_SUCCESS)
        return res;
    CUmemoryPool h = NULL;
    int dev = -1;
    if (call->id == GPOOL_API_ID_cuMemAllocFromPoolAsync ||
        call->id == GPOOL_API_ID_cuMemAllocFromPoolAsync_ptsz) {
        h = *(const CUmemoryPool *)call->argv[2];
        if (!h)
            return CUDA_SUCCESS; /* the driver refuses it */
    } else {
        HOOK_REAL_OR_MISSING(cuDeviceGetMemPool);
        if ((res = hook_vram_current_device(&dev)) != CUDA_SUCCESS ||
            (res = real(&h, (CUdevice)dev)) != CUDA_SUCCESS)
            return res;
    }
    pthread_mutex_lock(&vp.lock);
    int slot = pool_find(h);
    if (slot < 0) {
        if (dev < 0)
            dev = pool_device(h);
        slot = pool_get(h, dev);
    }
    if (slot < 0) {
        pthread_mutex_unlock(&vp.lock);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    dev = vp.pools[slot].dev;
    if (dev < 0 || dev >= ledger_device_count(l)) {
        pthread_mutex_unlock(&vp.lock);
        return CUDA_SUCCESS; /* not device memory, or a device the driver refuses */
    }
    vp_pending.slot = (uint32_t)slot;
    vp_pending.bytes = bytes;
    vp_pending.have = 0;
    int rc = ledger_reserve(l, dev, bytes, &vp_pending.t);
    if (rc == -EDQUOT) {
        /* Memory the pools gave back is credited before refusing. */
        reconcile_all_locked(l);
        rc = ledger_reserve(l, dev, bytes, &vp_pending.t);
    }
    if (rc == -EDQUOT) {
        /* The pool may serve it from memory it holds freed (charged already): then nothing new
         * is needed; after() checks what the driver did. */
        uint64_t reserved = 0, used = 0;
        if (pool_attr(h, CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT, &reserved) == 0 &&
            pool_attr(h, CU_MEMPOOL_ATTR_USED_MEM_CURRENT, &used) == 0 && reserved >= used &&
            reserved - used >= bytes && vp.pools[slot].nfreed)
            rc = 1;
    }
    pthread_mutex_unlock(&vp.lock);
    if (rc < 0) {
        LOG_DEBUG("hook", "%s: %llu bytes on device %d refused by vGPU '%s': %s",
                  gpool_api_table[call->id].name, (unsigned long long)bytes, dev,
                  hook_vram_cfg.name, strerror(-rc));
        return hook_vram_errno_result(rc);
    }
    vp_pending.have = rc == 0;
    call->state = 2;
    return CUDA_SUCCESS;
}

/* Gives back the block the driver made at ptr from pool h when the ledger cannot take it: freed
 * now (cuMemFree returns a pool block to its pool) and the pool trimmed to what it is charged. */
static void undo_alloc(CUmemoryPool h, uint64_t ptr, uint64_t keep)
{
    hook_pfn_cuMemFree_v2 fr = (hook_pfn_cuMemFree_v2)hook_real_fn(GPOOL_API_ID_cuMemFree_v2);
    hook_pfn_cuMemPoolTrimTo trim =
        (hook_pfn_cuMemPoolTrimTo)hook_real_fn(GPOOL_API_ID_cuMemPoolTrimTo);
    if (!fr || fr((CUdeviceptr)ptr) != CUDA_SUCCESS || !trim ||
        trim(h, (size_t)keep) != CUDA_SUCCESS)
        LOG_WARN("hook", "cannot give back pool block 0x%llx after the vGPU refused it",
                 (unsigned long long)ptr);
}

CUresult hook_vram_pool_alloc_after(struct hook_call *call, CUresult rc)
{
    struct ledger *l = hook_vram_ledger_opened();
    if (rc != CUDA_SUCCESS) {
        if (vp_pending.have)
            ledger_rollback(l, &vp_pending.t);
        return rc;
    }
    uint64_t ptr = **(CUdeviceptr *const *)call->argv[0];
    uint64_t bytes = vp_pending.bytes;
    uint32_t slot = vp_pending.slot;
    pthread_mutex_lock(&vp.lock);
    struct vp_pool *p = &vp.pools[slot];
    CUmemoryPool h = p->handle;
    int dev = p->dev;
    struct vp_block *b = tab_find(ptr);
    if (b && b->freed && b->slot == slot && b->bytes >= bytes) {
        /* The pool handed a freed block out again: it is charged already. */
        if (vp_pending.have)
            ledger_rollback(l, &vp_pending.t);
        b->freed = 0;
        p->nfreed--;
        atomic_fetch_sub(&vp.nfreed, 1);
        goto done;
    }
    if (b)
        block_credit(l, b); /* a block the driver no longer has at that address */
    if (!vp_pending.have) {
        /* Served from the pool's cache at another address: take over the charge of the
         * smallest freed block of the pool that covers it. */
        struct vp_block *best = NULL;
        for (size_t i = 0; i < vp.cap; i++) {
            struct vp_block *c = &vp.tab[i];
            if (c->ptr && c->slot == slot && c->freed && c->bytes >= bytes &&
                (!best || c->bytes < best->bytes))
                best = c;
        }
        if (best) {
            struct vp_block keep = *best;
            tab_remove(best);
            struct vp_block *nb = tab_insert(ptr);
            if (nb) {
                *nb = keep;
                nb->ptr = ptr;
                nb->freed = 0;
                p->nfreed--;
                atomic_fetch_sub(&vp.nfreed, 1);
                goto done;
            }
            ledger_release(l, dev, keep.key, NULL); /* out of memory: forgotten, credited */
            p->charged -= keep.bytes;
            p->nblocks--;
            p->nfreed--;
            atomic_fetch_sub(&vp.nfreed, 1);
        }
        int r = ledger_reserve(l, dev, bytes, &vp_pending.t);
        if (r == -EDQUOT) {
            reconcile_all_locked(l);
            r = ledger_reserve(l, dev, bytes, &vp_pending.t);
        }
        if (r < 0) {
            uint64_t keep = p->charged;
            pthread_mutex_unlock(&vp.lock);
            undo_alloc(h, ptr, keep);
            pthread_mutex_lock(&vp.lock);
            reconcile_locked(l, slot);
            pthread_mutex_unlock(&vp.lock);
            return hook_vram_errno_result(r);
        }
        vp_pending.have = 1;
    }
    int r = ledger_commit(l, &vp_pending.t, ptr);
    if (r == -EEXIST) {
        /* A record of this address the table does not know: that allocation is gone. */
        ledger_release(l, dev, ptr, NULL);
        r = ledger_commit(l, &vp_pending.t, ptr);
    }
    struct vp_block *nb = r == 0 ? tab_insert(ptr) : NULL;
    if (!nb) {
        LOG_ERROR("hook", "%s: cannot record pool block 0x%llx in vGPU '%s': %s",
                  gpool_api_table[call->id].name, (unsigned long long)ptr, hook_vram_cfg.name,
                  r < 0 ? strerror(-r) : "out of memory");
        if (r < 0)
            ledger_rollback(l, &vp_pending.t);
        else
            ledger_release(l, dev, ptr, NULL);
        uint64_t keep = p->charged;
        pthread_mutex_unlock(&vp.lock);
        undo_alloc(h, ptr, keep);
        return r < 0 ? CUDA_ERROR_OPERATING_SYSTEM : CUDA_ERROR_OUT_OF_MEMORY;
    }
    nb->key = ptr;
    nb->bytes = bytes;
    nb->slot = slot;
    p->charged += bytes;
    p->nblocks++;
done:
    if (reconcile_locked(l, slot) == -EDQUOT) {
        /* The pool grew by more than the block (the driver's chunk), past the cap: the block is
         * given back and the pool trimmed to what stays charged. */
        struct vp_block *gone = tab_find(ptr);
        if (gone)
            block_credit(l, gone);
        uint64_t keep = p->charged + p->slack;
        pthread_mutex_unlock(&vp.lock);
        undo_alloc(h, ptr, keep);
        pthread_mutex_lock(&vp.lock);
        reconcile_locked(l, slot);
        pthread_mutex_unlock(&vp.lock);
        LOG_DEBUG("hook", "%s: pool %p grew past the cap of vGPU '%s'",
                  gpool_api_table[call->id].name, (void *)h, hook_vram_cfg.name);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    pthread_mutex_unlock(&vp.lock);
    return CUDA_SUCCESS;
}

int hook_vram_pool_freed(uint64_t ptr, int now)
{
    struct ledger *l = hook_vram_ledger_opened();
    /* Every cuMemFree comes here: a process with no pool block outstanding (always one that
     * does not use pools) pays one load, not the lock. A block is in the table before the
     * allocation that made it returns, so a free of it sees it counted. */
    if (!l || !ptr || atomic_load_explicit(&vp.n, memory_order_acquire) == 0)
        return 0;
    pthread_mutex_lock(&vp.lock);
    struct vp_block *b = tab_find(ptr);
    if (!b) {
        pthread_mutex_unlock(&vp.lock);
        return 0;
    }
    uint32_t slot = b->slot;
    struct vp_pool *p = &vp.pools[slot];
    if (p->destroyed) {
        /* Its pool is gone: the driver releases the block once the free runs. */
        block_credit(l, b);
    } else if (!b->freed) {
        b->freed = 1;
        p->nfreed++;
        atomic_fetch_add(&vp.nfreed, 1);
        if (now)
            reconcile_locked(l, slot); /* cuMemFree returned it to the pool already */
    }
    pthread_mutex_unlock(&vp.lock);
    return 1;
}

void hook_vram_pool_trimmed(CUmemoryPool h)
{
    struct ledger *l = hook_vram_ledger_opened();
    if (!l)
        return;
    pthread_mutex_lock(&vp.lock);
    int slot = pool_find(h);
    if (slot >= 0)
        reconcile_locked(l, (uint32_t)slot);
    pthread_mutex_unlock(&vp.lock);
}

/* ---- Hand-written entries -------------------------------------------------------------------- */

/* cuMemPoolCreate: the pool's device is remembered (-1 for memory that is not the device's). */
CUresult cuMemPoolCreate(CUmemoryPool *pool, const CUmemPoolProps *poolProps)
{
    HOOK_REAL_OR_MISSING(cuMemPoolCreate);
    CUresult rc = real(pool, poolProps);
    if (rc != CUDA_SUCCESS || !hook_vram_cfg.enabled || !pool || !poolProps)
        return rc;
    pthread_mutex_lock(&vp.lock);
    if (pool_get(*pool, poolProps->location.type == CU_MEM_LOCATION_TYPE_DEVICE
                            ? poolProps->location.id
                            : -1) < 0)
        LOG_WARN("hook", "vGPU '%s': out of memory recording pool %p", hook_vram_cfg.name,
                 (void *)*pool);
    pthread_mutex_unlock(&vp.lock);
    return rc;
}

/* cuMemPoolDestroy: the driver releases what the pool holds freed (credited now); blocks still
 * handed out stay valid, and charged, until freed. */
CUresult cuMemPoolDestroy(CUmemoryPool pool)
{
    HOOK_REAL_OR_MISSING(cuMemPoolDestroy);
    CUresult rc = real(pool);
    struct ledger *l = hook_vram_cfg.enabled ? hook_vram_ledger_opened() : NULL;
    if (rc != CUDA_SUCCESS || !l)
        return rc;
    pthread_mutex_lock(&vp.lock);
    int slot = pool_find(pool);
    if (slot >= 0) {
        struct vp_pool *p = &vp.pools[slot];
        for (size_t i = 0; i < vp.cap && p->nfreed;) {
            struct vp_block *b = &vp.tab[i];
            if (b->ptr && b->slot == (uint32_t)slot && b->freed)
                block_credit(l, b);
            else
                i++;
        }
        p->destroyed = 1;
        pool_tidy(l, (uint32_t)slot);
    }
    pthread_mutex_unlock(&vp.lock);
    return rc;
}

/* cuMemPoolSetAttribute: a new release threshold may make the pool give memory back. */
CUresult cuMemPoolSetAttribute(CUmemoryPool pool, CUmemPool_attribute attr, void *value)
{
    HOOK_REAL_OR_MISSING(cuMemPoolSetAttribute);
    CUresult rc = real(pool, attr, value);
    if (rc == CUDA_SUCCESS && hook_vram_cfg.enabled && attr == CU_MEMPOOL_ATTR_RELEASE_THRESHOLD)
        hook_vram_pool_trimmed(pool);
    return rc;
}

/* The synchronisations after which enqueued frees have run: the pools are reconciled. */
#define HOOK_POOL_SYNC(name, call_args)                                                            \
    do {                                                                                           \
        HOOK_REAL_OR_MISSING(name);                                                                \
        CUresult rc = real call_args;                                                              \
        if (rc == CUDA_SUCCESS)                                                                    \
            hook_vram_pool_reconcile_all();                                                        \
        return rc;                                                                                 \
    } while (0)

CUresult cuStreamSynchronize(CUstream hStream)
{
    HOOK_POOL_SYNC(cuStreamSynchronize, (hStream));
}

CUresult cuStreamSynchronize_ptsz(CUstream hStream)
{
    HOOK_POOL_SYNC(cuStreamSynchronize_ptsz, (hStream));
}

CUresult cuCtxSynchronize(void)
{
    HOOK_POOL_SYNC(cuCtxSynchronize, ());
}

CUresult cuCtxSynchronize_v2(CUcontext ctx)
{
    HOOK_POOL_SYNC(cuCtxSynchronize_v2, (ctx));
}

CUresult cuEventSynchronize(CUevent hEvent)
{
    HOOK_POOL_SYNC(cuEventSynchronize, (hEvent));
}
