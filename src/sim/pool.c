/*
 * pool.c: stream-ordered allocation (cuMemAllocAsync, cuMemFreeAsync, memory pools).
 *
 * A pool holds blocks. Each block is one charge of the shared state (sim_state_alloc, so
 * cuMemGetInfo and NVML see it), sized to the request rounded up to SIM_ALLOC_GRANULE, at the
 * device address sim_dev_base(dev) + offset. A block is USED (handed out), FREEING (freed with
 * cuMemFreeAsync, the free op not yet run on its stream) or FREE (the free op ran). Reserved
 * memory is the sum of all blocks; used memory the sum of USED blocks.
 *
 * cuMemAllocAsync takes a block of the exact rounded size when the documented reuse policy
 * allows it, else charges a new one:
 *   - a block freed on the same stream (stream order makes it safe);
 *   - a FREE block when CU_MEMPOOL_ATTR_REUSE_ALLOW_OPPORTUNISTIC is set;
 *   - a FREEING block of another stream when CU_MEMPOOL_ATTR_REUSE_ALLOW_INTERNAL_DEPENDENCIES
 *     is set: the allocating stream then waits for the free op (an inserted dependency).
 * When the free op runs, memory held beyond the release threshold goes back to the device; this
 * happens before any synchronisation that follows the free can return, which is where the
 * documentation releases it.
 * See docs/internals/sim.md, "Stream-ordered allocation".
 */
#include "driver.h"
#include "graph.h"
#include "stream.h"

#include "gpool/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define EXPORT __attribute__((visibility("default")))

#pragma GCC diagnostic ignored "-Wmissing-prototypes"

#define POOL_MAGIC 0x4c4f4f50u /* "POOL" */

enum block_state { BLOCK_USED, BLOCK_FREEING, BLOCK_FREE };

struct pool_block {
    struct CUmemPoolHandle_st *pool;
    uint64_t base, offset, size;
    uint64_t reserve;          /* device memory it holds: size rounded to the pool's chunk */
    enum block_state state;
    int registered;            /* in the allocation table */
    struct sim_stream *free_stream; /* referenced while FREEING/FREE */
    uint64_t free_seq;         /* the free op's number on free_stream; 0 until known */
    uint64_t gen;              /* bumped at every hand-out: stale free ops do nothing */
    int pinned;                /* cuMemFreeAsync is still using it: not released */
    struct pool_block *next;
};

struct CUmemPoolHandle_st {
    uint32_t magic;
    int device;
    int is_default;
    int destroyed;
    CUmemPoolProps props;
    uint64_t threshold;
    int follow_events, opportunistic, internal_deps;
    uint64_t reserved, reserved_high, used, used_high;
    struct pool_block *blocks;
    struct CUmemPoolHandle_st *next;
};

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static struct CUmemPoolHandle_st *g_pools;    /* live pools (registry) */
static struct CUmemPoolHandle_st *g_defaults[SIM_MAX_DEVICES];
static struct CUmemPoolHandle_st *g_current[SIM_MAX_DEVICES];
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
/* Graph memory (see "Graph memory" below). */
static struct sim_graph_mem *g_gmem;
static uint64_t g_gused[SIM_MAX_DEVICES], g_gused_high[SIM_MAX_DEVICES];
static uint64_t g_gres[SIM_MAX_DEVICES], g_gres_high[SIM_MAX_DEVICES];

/*
 * The granularity in which a pool takes device memory: each new block holds its size rounded up
 * to it (the rest is the pool's, counted in RESERVED_MEM_CURRENT but never handed out), as a
 * real driver backs a pool in physical pages of its own size. GPOOL_SIM_POOL_CHUNK (bytes, a
 * multiple of SIM_ALLOC_GRANULE; "2097152" for 2 MiB), default 0: a block holds just its size.
 */
static uint64_t pool_chunk(void)
{
    static uint64_t chunk = UINT64_MAX;
    uint64_t c = __atomic_load_n(&chunk, __ATOMIC_RELAXED);
    if (c != UINT64_MAX)
        return c;
    c = sim_env_u64("GPOOL_SIM_POOL_CHUNK", 1ull << 40, SIM_ALLOC_GRANULE, 0,
                    "a byte count that is a multiple of 4096, up to 1 TiB");
    __atomic_store_n(&chunk, c, __ATOMIC_RELAXED);
    return c;
}

static void fork_prepare(void) { pthread_mutex_lock(&g_lock); }
static void fork_parent(void) { pthread_mutex_unlock(&g_lock); }
static void fork_child(void)
{
    g_pools = NULL;
    g_gmem = NULL;
    memset(g_gused, 0, sizeof(g_gused));
    memset(g_gused_high, 0, sizeof(g_gused_high));
    memset(g_gres, 0, sizeof(g_gres));
    memset(g_gres_high, 0, sizeof(g_gres_high));
    memset(g_defaults, 0, sizeof(g_defaults));
    memset(g_current, 0, sizeof(g_current));
    pthread_mutex_init(&g_lock, NULL);
}
static void register_fork(void)
{
    pthread_atfork(fork_prepare, fork_parent, fork_child);
}

static CUresult pool_enter(void)
{
    CUresult res = sim_process_check();
    if (res == CUDA_SUCCESS)
        pthread_once(&g_once, register_fork);
    return res;
}

static struct CUmemPoolHandle_st *pool_new_locked(int dev, const CUmemPoolProps *props)
{
    struct CUmemPoolHandle_st *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->magic = POOL_MAGIC;
    p->device = dev;
    if (props)
        p->props = *props;
    p->props.allocType = CU_MEM_ALLOCATION_TYPE_PINNED;
    p->props.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
    p->props.location.id = dev;
    p->follow_events = p->opportunistic = p->internal_deps = 1;
    p->next = g_pools;
    g_pools = p;
    return p;
}

/* The device's default pool, made on first use. Lock held. */
static struct CUmemPoolHandle_st *default_locked(int dev)
{
    if (!g_defaults[dev]) {
        g_defaults[dev] = pool_new_locked(dev, NULL);
        if (g_defaults[dev])
            g_defaults[dev]->is_default = 1;
    }
    return g_defaults[dev];
}

static struct CUmemPoolHandle_st *current_locked(int dev)
{
    return g_current[dev] ? g_current[dev] : default_locked(dev);
}

static int pool_valid_locked(const struct CUmemPoolHandle_st *p)
{
    for (struct CUmemPoolHandle_st *q = g_pools; q; q = q->next)
        if (q == p)
            return q->magic == POOL_MAGIC && !q->destroyed;
    return 0;
}

static void unlink_pool_locked(struct CUmemPoolHandle_st *p)
{
    for (struct CUmemPoolHandle_st **pp = &g_pools; *pp; pp = &(*pp)->next) {
        if (*pp == p) {
            *pp = p->next;
            return;
        }
    }
}

/* Releases a block's charge and forgets it. Lock held. */
static void block_release_locked(struct pool_block *b)
{
    struct CUmemPoolHandle_st *p = b->pool;
    for (struct pool_block **pp = &p->blocks; *pp; pp = &(*pp)->next) {
        if (*pp == b) {
            *pp = b->next;
            break;
        }
    }
    if (b->registered)
        sim_mem_unregister(SIM_MEM_POOL, b->base);
    if (b->free_stream)
        sim_stream_unref(b->free_stream);
    sim_state_free(sim_process_instance(), p->device, b->offset);
    p->reserved -= b->reserve;
    free(b);
    if (p->destroyed && !p->blocks) {
        unlink_pool_locked(p);
        free(p);
    }
}

/* Releases FREE blocks while the pool holds more than keep bytes. Lock held; frees p when it was
 * destroyed and nothing is left. */
static void trim_locked(struct CUmemPoolHandle_st *p, uint64_t keep)
{
    while (p->reserved > keep) {
        struct pool_block *b = p->blocks;
        while (b && (b->state != BLOCK_FREE || b->pinned))
            b = b->next;
        if (!b)
            break;
        int gone = p->destroyed && p->blocks == b && !b->next;
        block_release_locked(b);
        if (gone)
            return;
    }
}

/* ---- The free op --------------------------------------------------------------------------- */

struct free_op {
    struct sim_op op;
    struct pool_block *block;
    uint64_t gen;
};

static CUresult free_op_run(struct sim_op *op)
{
    struct free_op *f = (struct free_op *)op;
    pthread_mutex_lock(&g_lock);
    struct pool_block *b = f->block;
    if (b->gen == f->gen && b->state == BLOCK_FREEING) {
        b->state = BLOCK_FREE;
        if (b->registered) {
            sim_mem_unregister(SIM_MEM_POOL, b->base);
            b->registered = 0;
        }
        struct CUmemPoolHandle_st *p = b->pool;
        trim_locked(p, p->destroyed ? 0 : p->threshold);
    }
    pthread_mutex_unlock(&g_lock);
    return CUDA_SUCCESS;
}

static void free_op_release(struct sim_op *op)
{
    free(op);
}

/* The no-op an internal dependency enqueues on the allocating stream. */
static CUresult dep_op_run(struct sim_op *op)
{
    (void)op;
    return CUDA_SUCCESS;
}

/* ---- Allocation ---------------------------------------------------------------------------- */

static CUresult alloc_async(CUdeviceptr *dptr, size_t bytesize, CUmemoryPool hPool,
                            CUstream hStream, int ptds, int from_pool)
{
    CUresult res = pool_enter();
    if (res != CUDA_SUCCESS)
        return res;
    struct CUctx_st *ctx;
    struct sim_stream *s;
    if ((res = sim_stream_resolve(hStream, ptds, &ctx, &s)) != CUDA_SUCCESS)
        return res;
    if (!dptr || bytesize == 0 || (from_pool && !hPool))
        return CUDA_ERROR_INVALID_VALUE;
    if (atomic_load(&sim_capture_streams)) {
        int capturing = 0;
        if ((res = sim_capture_check(s, 0, &capturing)) != CUDA_SUCCESS)
            return res;
        if (capturing) {
            /* The allocation becomes a node of the capture graph, owned by the graph: nothing is
             * taken from a pool, so a failed capture cannot leak a block. */
            int dev = ctx->device;
            if (from_pool) {
                pthread_mutex_lock(&g_lock);
                int ok = pool_valid_locked(hPool);
                if (ok)
                    dev = hPool->device;
                pthread_mutex_unlock(&g_lock);
                if (!ok)
                    return CUDA_ERROR_INVALID_VALUE;
            }
            return sim_capture_mem_alloc(s, dev, bytesize, dptr);
        }
    }
    uint64_t need = (bytesize + SIM_ALLOC_GRANULE - 1) & ~(SIM_ALLOC_GRANULE - 1);
    if (need < bytesize)
        return CUDA_ERROR_OUT_OF_MEMORY;

    pthread_mutex_lock(&g_lock);
    struct CUmemPoolHandle_st *p = from_pool ? hPool : current_locked(ctx->device);
    if (!p || (from_pool && !pool_valid_locked(p))) {
        pthread_mutex_unlock(&g_lock);
        return p ? CUDA_ERROR_INVALID_VALUE : CUDA_ERROR_OUT_OF_MEMORY;
    }
    /* The documented reuse policy, safest choice first. */
    struct pool_block *pick = NULL, *dep = NULL;
    for (struct pool_block *b = p->blocks; b && !pick; b = b->next)
        if (b->size == need && b->state != BLOCK_USED && b->free_stream == s)
            pick = b;
    for (struct pool_block *b = p->blocks; b && !pick && p->opportunistic; b = b->next)
        if (b->size == need && b->state == BLOCK_FREE)
            pick = b;
    for (struct pool_block *b = p->blocks; b && !pick && p->internal_deps; b = b->next)
        if (b->size == need && b->state == BLOCK_FREEING && b->free_seq)
            pick = dep = b;
    struct sim_stream *dep_stream = NULL;
    uint64_t dep_seq = 0;
    if (pick) {
        if (dep) {
            dep_stream = pick->free_stream;
            dep_seq = pick->free_seq;
            sim_stream_ref(dep_stream);
        }
        if (pick->free_stream)
            sim_stream_unref(pick->free_stream);
        pick->free_stream = NULL;
        pick->free_seq = 0;
        pick->state = BLOCK_USED;
        pick->gen++;
        if (!pick->registered) {
            res = sim_mem_register(SIM_MEM_POOL, p->device, NULL, pick->base, pick->size,
                                   pick->offset);
            pick->registered = res == CUDA_SUCCESS;
        }
    } else {
        struct sim_instance *inst = sim_process_instance();
        uint64_t chunk = pool_chunk();
        uint64_t reserve = chunk ? (need + chunk - 1) / chunk * chunk : need;
        if (reserve < need) {
            pthread_mutex_unlock(&g_lock);
            return CUDA_ERROR_OUT_OF_MEMORY;
        }
        pick = calloc(1, sizeof(*pick));
        int rc =
            pick ? sim_state_alloc(inst, p->device, reserve, SIM_CHARGE_MEMORY, &pick->offset, NULL)
                 : -ENOMEM;
        if (rc == -ENOMEM && pick) {
            /* Out of memory: give back what every pool of the device holds idle, then retry. */
            for (struct CUmemPoolHandle_st *q = g_pools; q; q = q->next)
                if (q->device == p->device && q != p)
                    trim_locked(q, 0);
            trim_locked(p, 0);
            rc = sim_state_alloc(inst, p->device, reserve, SIM_CHARGE_MEMORY, &pick->offset, NULL);
        }
        if (rc < 0) {
            free(pick);
            pthread_mutex_unlock(&g_lock);
            return CUDA_ERROR_OUT_OF_MEMORY;
        }
        pick->pool = p;
        pick->size = need;
        pick->reserve = reserve;
        pick->base = sim_dev_base(p->device) + pick->offset;
        pick->state = BLOCK_USED;
        res = sim_mem_register(SIM_MEM_POOL, p->device, NULL, pick->base, pick->size,
                               pick->offset);
        if (res != CUDA_SUCCESS) {
            sim_state_free(inst, p->device, pick->offset);
            free(pick);
            pthread_mutex_unlock(&g_lock);
            return res;
        }
        pick->registered = 1;
        pick->next = p->blocks;
        p->blocks = pick;
        p->reserved += reserve;
        if (p->reserved > p->reserved_high)
            p->reserved_high = p->reserved;
    }
    p->used += need;
    if (p->used > p->used_high)
        p->used_high = p->used;
    uint64_t base = pick->base;
    pthread_mutex_unlock(&g_lock);

    if (dep_stream) {
        struct sim_op *op = calloc(1, sizeof(*op));
        if (op) {
            op->run = dep_op_run;
            op->release = free_op_release;
            if (sim_stream_enqueue_after(s, op, dep_stream, dep_seq, NULL) != CUDA_SUCCESS) {
                free(op);
                sim_stream_wait_seq(dep_stream, dep_seq); /* never hand out memory in use */
            }
        } else {
            sim_stream_wait_seq(dep_stream, dep_seq);
        }
        sim_stream_unref(dep_stream);
    }
    *dptr = (CUdeviceptr)base;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuMemAllocAsync(CUdeviceptr *dptr, size_t bytesize, CUstream hStream)
{
    return alloc_async(dptr, bytesize, NULL, hStream, 0, 0);
}

EXPORT CUresult cuMemAllocAsync_ptsz(CUdeviceptr *dptr, size_t bytesize, CUstream hStream)
{
    return alloc_async(dptr, bytesize, NULL, hStream, 1, 0);
}

EXPORT CUresult cuMemAllocFromPoolAsync(CUdeviceptr *dptr, size_t bytesize, CUmemoryPool pool,
                                        CUstream hStream)
{
    return alloc_async(dptr, bytesize, pool, hStream, 0, 1);
}

EXPORT CUresult cuMemAllocFromPoolAsync_ptsz(CUdeviceptr *dptr, size_t bytesize,
                                             CUmemoryPool pool, CUstream hStream)
{
    return alloc_async(dptr, bytesize, pool, hStream, 1, 1);
}

/* Finds the USED block at base in any pool. Lock held. */
static struct pool_block *find_used_locked(uint64_t base)
{
    for (struct CUmemPoolHandle_st *p = g_pools; p; p = p->next)
        for (struct pool_block *b = p->blocks; b; b = b->next)
            if (b->base == base && b->state == BLOCK_USED)
                return b;
    /* Blocks of destroyed pools are no longer in the registry. */
    return NULL;
}

/* ---- Graph memory ----------------------------------------------------------------------------
 * Allocations of graph allocation nodes (graph.h, struct sim_graph_mem). The address is a range
 * reserved with cuMemAddressReserve when the node is made; the backing is a charge of its own,
 * taken when the allocation node runs and kept (cached, "reserved") after the free until
 * cuDeviceGraphMemTrim or until the last reference goes. Lock: g_lock. */

#define GRAPH_VA_ALIGN (2u << 20) /* the VMM granularity */


CUresult sim_graph_mem_new(int dev, size_t bytes, struct sim_graph_mem **out)
{
    CUresult res = pool_enter();
    if (res != CUDA_SUCCESS)
        return res;
    if ((res = sim_device_check(dev, NULL)) != CUDA_SUCCESS)
        return CUDA_ERROR_INVALID_VALUE;
    uint64_t need = (bytes + SIM_ALLOC_GRANULE - 1) & ~(uint64_t)(SIM_ALLOC_GRANULE - 1);
    uint64_t va_size = (bytes + GRAPH_VA_ALIGN - 1) & ~(uint64_t)(GRAPH_VA_ALIGN - 1);
    if (bytes == 0 || need < bytes || va_size < bytes)
        return CUDA_ERROR_INVALID_VALUE;
    struct sim_graph_mem *m = calloc(1, sizeof(*m));
    if (!m)
        return CUDA_ERROR_OUT_OF_MEMORY;
    CUdeviceptr va = 0;
    /* A hint in the device's own window; vmm.c falls back to its own choice when taken. */
    res = cuMemAddressReserve(&va, va_size, 0, sim_dev_base(dev) + ((uint64_t)8 << 40), 0);
    if (res != CUDA_SUCCESS) {
        free(m);
        return res == CUDA_ERROR_INVALID_VALUE ? CUDA_ERROR_OUT_OF_MEMORY : res;
    }
    m->device = dev;
    m->va = va;
    m->va_size = va_size;
    m->size = need;
    m->refs = 1;
    pthread_mutex_lock(&g_lock);
    m->next = g_gmem;
    g_gmem = m;
    pthread_mutex_unlock(&g_lock);
    *out = m;
    return CUDA_SUCCESS;
}

void sim_graph_mem_ref(struct sim_graph_mem *m)
{
    pthread_mutex_lock(&g_lock);
    m->refs++;
    pthread_mutex_unlock(&g_lock);
}

/* Gives the backing back to the device. Lock held. */
static void gmem_unback_locked(struct sim_graph_mem *m)
{
    if (m->registered) {
        sim_mem_unregister(SIM_MEM_POOL, m->va);
        m->registered = 0;
    }
    if (m->backed) {
        sim_state_free(sim_process_instance(), m->device, m->offset);
        m->backed = 0;
        g_gres[m->device] -= m->size;
    }
}

/* Unlinks m when nothing names it and it is not live; returns whether the caller must free it
 * (after dropping the lock: the address is released through vmm.c). Lock held. */
static int gmem_maybe_unlink_locked(struct sim_graph_mem *m)
{
    if (m->refs > 0 || m->live)
        return 0;
    gmem_unback_locked(m);
    for (struct sim_graph_mem **pp = &g_gmem; *pp; pp = &(*pp)->next)
        if (*pp == m) {
            *pp = m->next;
            break;
        }
    return 1;
}

static void gmem_destroy(struct sim_graph_mem *m)
{
    (void)cuMemAddressFree(m->va, m->va_size);
    free(m);
}

void sim_graph_mem_unref(struct sim_graph_mem *m)
{
    pthread_mutex_lock(&g_lock);
    m->refs--;
    int gone = gmem_maybe_unlink_locked(m);
    pthread_mutex_unlock(&g_lock);
    if (gone)
        gmem_destroy(m);
}

struct sim_graph_mem *sim_graph_mem_find(uint64_t va)
{
    struct sim_graph_mem *m;
    pthread_mutex_lock(&g_lock);
    for (m = g_gmem; m; m = m->next)
        if (m->va == va && (m->refs > 0 || m->live))
            break;
    if (m)
        m->refs++;
    pthread_mutex_unlock(&g_lock);
    return m;
}

CUresult sim_graph_mem_alloc_run(struct sim_graph_mem *m)
{
    CUresult res = CUDA_SUCCESS;
    pthread_mutex_lock(&g_lock);
    if (m->live) /* AUTO_FREE_ON_LAUNCH: freed and allocated again at the same place */
        goto out;
    if (!m->backed) {
        struct sim_instance *inst = sim_process_instance();
        int rc = sim_state_alloc(inst, m->device, m->size, SIM_CHARGE_MEMORY, &m->offset, NULL);
        if (rc == -ENOMEM) {
            for (struct CUmemPoolHandle_st *q = g_pools; q; q = q->next)
                if (q->device == m->device)
                    trim_locked(q, 0);
            for (struct sim_graph_mem *o = g_gmem; o; o = o->next)
                if (o->device == m->device && !o->live && o != m)
                    gmem_unback_locked(o);
            rc = sim_state_alloc(inst, m->device, m->size, SIM_CHARGE_MEMORY, &m->offset, NULL);
        }
        if (rc < 0) {
            res = CUDA_ERROR_OUT_OF_MEMORY;
            goto out;
        }
        m->backed = 1;
        g_gres[m->device] += m->size;
        if (g_gres[m->device] > g_gres_high[m->device])
            g_gres_high[m->device] = g_gres[m->device];
    }
    if ((res = sim_mem_register(SIM_MEM_POOL, m->device, NULL, m->va, m->size, m->offset)) !=
        CUDA_SUCCESS)
        goto out;
    m->registered = 1;
    m->live = 1;
    g_gused[m->device] += m->size;
    if (g_gused[m->device] > g_gused_high[m->device])
        g_gused_high[m->device] = g_gused[m->device];
out:
    pthread_mutex_unlock(&g_lock);
    return res;
}

void sim_graph_mem_free_run(struct sim_graph_mem *m)
{
    pthread_mutex_lock(&g_lock);
    if (m->live) {
        m->live = 0;
        g_gused[m->device] -= m->size;
        if (m->registered) {
            sim_mem_unregister(SIM_MEM_POOL, m->va);
            m->registered = 0;
        }
    }
    /* The caller holds a reference, so m is never unlinked here. */
    pthread_mutex_unlock(&g_lock);
}

int sim_graph_mem_outstanding(struct sim_graph_mem *m)
{
    pthread_mutex_lock(&g_lock);
    int on = m->outstanding;
    pthread_mutex_unlock(&g_lock);
    return on;
}

void sim_graph_mem_set_outstanding(struct sim_graph_mem *m, int on)
{
    pthread_mutex_lock(&g_lock);
    m->outstanding = on;
    pthread_mutex_unlock(&g_lock);
}

/* The op cuMemFreeAsync queues for a graph allocation: it ends the allocation when it runs. */
struct gfree_op {
    struct sim_op op;
    struct sim_graph_mem *m; /* referenced */
};

static CUresult gfree_op_run(struct sim_op *op)
{
    sim_graph_mem_free_run(((struct gfree_op *)op)->m);
    return CUDA_SUCCESS;
}

static void gfree_op_release(struct sim_op *op)
{
    sim_graph_mem_unref(((struct gfree_op *)op)->m);
    free(op);
}

/* cuMemFreeAsync of an address that is no pool block: a graph allocation that a launch left
 * unfreed (documented as freeable this way), else CUDA_ERROR_INVALID_VALUE. */
static CUresult graph_mem_free_async(uint64_t va, struct sim_stream *s)
{
    struct sim_graph_mem *m = sim_graph_mem_find(va);
    if (!m)
        return CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&g_lock);
    int ok = m->outstanding;
    m->outstanding = 0;
    pthread_mutex_unlock(&g_lock);
    struct gfree_op *f = ok ? calloc(1, sizeof(*f)) : NULL;
    CUresult res = ok ? CUDA_ERROR_OUT_OF_MEMORY : CUDA_ERROR_INVALID_VALUE;
    if (f) {
        f->op.run = gfree_op_run;
        f->op.release = gfree_op_release;
        f->m = m;
        res = sim_stream_enqueue_after(s, &f->op, NULL, 0, NULL);
        if (res == CUDA_SUCCESS)
            return res; /* the op owns the reference */
        free(f);
    }
    if (ok)
        sim_graph_mem_set_outstanding(m, 1);
    sim_graph_mem_unref(m);
    return res;
}

/* Releases the cached backing of every graph allocation of device that is not live. */
EXPORT CUresult cuDeviceGraphMemTrim(CUdevice device)
{
    CUresult res = pool_enter();
    if (res != CUDA_SUCCESS)
        return res;
    if (sim_device_check(device, NULL) != CUDA_SUCCESS)
        return CUDA_ERROR_INVALID_DEVICE;
    pthread_mutex_lock(&g_lock);
    for (struct sim_graph_mem *m = g_gmem; m; m = m->next)
        if (m->device == device && !m->live)
            gmem_unback_locked(m);
    pthread_mutex_unlock(&g_lock);
    return CUDA_SUCCESS;
}

EXPORT CUresult cuDeviceGetGraphMemAttribute(CUdevice device, CUgraphMem_attribute attr,
                                             void *value)
{
    CUresult res = pool_enter();
    if (res != CUDA_SUCCESS)
        return res;
    if (sim_device_check(device, NULL) != CUDA_SUCCESS)
        return CUDA_ERROR_INVALID_DEVICE;
    if (!value)
        return CUDA_ERROR_INVALID_VALUE;
    res = CUDA_SUCCESS;
    pthread_mutex_lock(&g_lock);
    switch (attr) {
    case CU_GRAPH_MEM_ATTR_USED_MEM_CURRENT:
        *(cuuint64_t *)value = g_gused[device];
        break;
    case CU_GRAPH_MEM_ATTR_USED_MEM_HIGH:
        *(cuuint64_t *)value = g_gused_high[device];
        break;
    case CU_GRAPH_MEM_ATTR_RESERVED_MEM_CURRENT:
        *(cuuint64_t *)value = g_gres[device];
        break;
    case CU_GRAPH_MEM_ATTR_RESERVED_MEM_HIGH:
        *(cuuint64_t *)value = g_gres_high[device];
        break;
    default:
        res = CUDA_ERROR_INVALID_VALUE;
    }
    pthread_mutex_unlock(&g_lock);
    return res;
}

/* Only the high watermarks can be set, and only to zero (which resets them to the current
 * value, as for pools). */
EXPORT CUresult cuDeviceSetGraphMemAttribute(CUdevice device, CUgraphMem_attribute attr,
                                             void *value)
{
    CUresult res = pool_enter();
    if (res != CUDA_SUCCESS)
        return res;
    if (sim_device_check(device, NULL) != CUDA_SUCCESS)
        return CUDA_ERROR_INVALID_DEVICE;
    if (!value || *(cuuint64_t *)value != 0)
        return CUDA_ERROR_INVALID_VALUE;
    res = CUDA_SUCCESS;
    pthread_mutex_lock(&g_lock);
    if (attr == CU_GRAPH_MEM_ATTR_USED_MEM_HIGH)
        g_gused_high[device] = g_gused[device];
    else if (attr == CU_GRAPH_MEM_ATTR_RESERVED_MEM_HIGH)
        g_gres_high[device] = g_gres[device];
    else
        res = CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_unlock(&g_lock);
    return res;
}

static CUresult free_async(CUdeviceptr dptr, CUstream hStream, int ptds)
{
    CUresult res = pool_enter();
    if (res != CUDA_SUCCESS)
        return res;
    struct CUctx_st *ctx;
    struct sim_stream *s;
    if ((res = sim_stream_resolve(hStream, ptds, &ctx, &s)) != CUDA_SUCCESS)
        return res;
    if (atomic_load(&sim_capture_streams)) {
        int capturing = 0;
        if ((res = sim_capture_check(s, 0, &capturing)) != CUDA_SUCCESS)
            return res;
        if (capturing)
            return sim_capture_mem_free(s, dptr);
    }
    struct free_op *f = calloc(1, sizeof(*f));
    if (!f)
        return CUDA_ERROR_OUT_OF_MEMORY;
    pthread_mutex_lock(&g_lock);
    struct pool_block *b = find_used_locked((uint64_t)dptr);
    if (!b) {
        pthread_mutex_unlock(&g_lock);
        free(f);
        return graph_mem_free_async((uint64_t)dptr, s);
    }
    b->state = BLOCK_FREEING;
    b->free_stream = s;
    sim_stream_ref(s);
    b->free_seq = 0;
    b->pool->used -= b->size;
    f->op.run = free_op_run;
    f->op.release = free_op_release;
    f->block = b;
    f->gen = b->gen;
    uint64_t gen = b->gen;
    b->pinned = 1; /* the free op may run (and trim) before the sequence number is stored */
    pthread_mutex_unlock(&g_lock);

    uint64_t seq = 0;
    res = sim_stream_enqueue_after(s, &f->op, NULL, 0, &seq);
    pthread_mutex_lock(&g_lock);
    if (res != CUDA_SUCCESS) {
        free(f);
        if (b->gen == gen && b->state == BLOCK_FREEING) { /* undo: still in use */
            b->state = BLOCK_USED;
            sim_stream_unref(b->free_stream);
            b->free_stream = NULL;
            b->pool->used += b->size;
        }
    } else if (b->gen == gen && b->state == BLOCK_FREEING) {
        b->free_seq = seq;
    }
    b->pinned = 0;
    if (b->state == BLOCK_FREE) /* the op already ran: release what it could not */
        trim_locked(b->pool, b->pool->destroyed ? 0 : b->pool->threshold);
    pthread_mutex_unlock(&g_lock);
    return res;
}

/* cuMemFree of stream-ordered memory: cuda.h allows it for cuMemAllocAsync/FromPoolAsync blocks
 * (and so for graph allocations a launch left live) and says it does no implicit
 * synchronisation, so the block is returned to its pool at once. */
CUresult sim_pool_free_now(uint64_t addr)
{
    pthread_mutex_lock(&g_lock);
    struct pool_block *b = find_used_locked(addr);
    if (b) {
        b->state = BLOCK_FREE;
        b->pool->used -= b->size;
        if (b->registered) {
            sim_mem_unregister(SIM_MEM_POOL, b->base);
            b->registered = 0;
        }
        trim_locked(b->pool, b->pool->destroyed ? 0 : b->pool->threshold);
        pthread_mutex_unlock(&g_lock);
        return CUDA_SUCCESS;
    }
    pthread_mutex_unlock(&g_lock);
    struct sim_graph_mem *m = sim_graph_mem_find(addr);
    if (!m)
        return CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&g_lock);
    int ok = m->outstanding && m->va == addr;
    if (ok)
        m->outstanding = 0;
    pthread_mutex_unlock(&g_lock);
    if (ok)
        sim_graph_mem_free_run(m);
    sim_graph_mem_unref(m);
    return ok ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

EXPORT CUresult cuMemFreeAsync(CUdeviceptr dptr, CUstream hStream)
{
    return free_async(dptr, hStream, 0);
}

EXPORT CUresult cuMemFreeAsync_ptsz(CUdeviceptr dptr, CUstream hStream)
{
    return free_async(dptr, hStream, 1);
}

/* ---- Pools --------------------------------------------------------------------------------- */

EXPORT CUresult cuMemPoolCreate(CUmemoryPool *pool, const CUmemPoolProps *poolProps)
{
    CUresult res = pool_enter();
    if (res != CUDA_SUCCESS)
        return res;
    if (!pool || !poolProps || poolProps->allocType != CU_MEM_ALLOCATION_TYPE_PINNED)
        return CUDA_ERROR_INVALID_VALUE;
    if (poolProps->location.type == CU_MEM_LOCATION_TYPE_HOST ||
        poolProps->location.type == CU_MEM_LOCATION_TYPE_HOST_NUMA)
        return CUDA_ERROR_NOT_SUPPORTED;
    if (poolProps->location.type != CU_MEM_LOCATION_TYPE_DEVICE ||
        sim_device_check(poolProps->location.id, NULL) != CUDA_SUCCESS)
        return CUDA_ERROR_INVALID_VALUE;
    if (poolProps->handleTypes != CU_MEM_HANDLE_TYPE_NONE)
        return CUDA_ERROR_NOT_SUPPORTED; /* pool export is not simulated */
    pthread_mutex_lock(&g_lock);
    struct CUmemPoolHandle_st *p = pool_new_locked(poolProps->location.id, poolProps);
    pthread_mutex_unlock(&g_lock);
    if (!p)
        return CUDA_ERROR_OUT_OF_MEMORY;
    *pool = p;
    return CUDA_SUCCESS;
}

/* Destroys a pool; memory still allocated from it stays valid and its blocks go when freed. A
 * device's current pool reverts to the default; a default pool cannot be destroyed. */
EXPORT CUresult cuMemPoolDestroy(CUmemoryPool pool)
{
    CUresult res = pool_enter();
    if (res != CUDA_SUCCESS)
        return res;
    pthread_mutex_lock(&g_lock);
    if (!pool_valid_locked(pool) || pool->is_default) {
        pthread_mutex_unlock(&g_lock);
        return CUDA_ERROR_INVALID_VALUE;
    }
    if (g_current[pool->device] == pool)
        g_current[pool->device] = NULL;
    pool->destroyed = 1; /* stays listed until its last block goes */
    if (!pool->blocks) {
        unlink_pool_locked(pool);
        free(pool);
    } else {
        trim_locked(pool, 0);
    }
    pthread_mutex_unlock(&g_lock);
    return CUDA_SUCCESS;
}

/* Stores in *out the pool of dev that pick_locked chooses (called with g_lock held). */
static CUresult device_pool_get(CUmemoryPool *out, CUdevice dev,
                                struct CUmemPoolHandle_st *(*pick_locked)(int dev))
{
    CUresult res = pool_enter();
    if (res != CUDA_SUCCESS)
        return res;
    if (!out)
        return CUDA_ERROR_INVALID_VALUE;
    if ((res = sim_device_check(dev, NULL)) != CUDA_SUCCESS)
        return res;
    pthread_mutex_lock(&g_lock);
    struct CUmemPoolHandle_st *p = pick_locked(dev);
    pthread_mutex_unlock(&g_lock);
    if (!p)
        return CUDA_ERROR_OUT_OF_MEMORY;
    *out = p;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuDeviceGetDefaultMemPool(CUmemoryPool *pool_out, CUdevice dev)
{
    return device_pool_get(pool_out, dev, default_locked);
}

EXPORT CUresult cuDeviceGetMemPool(CUmemoryPool *pool, CUdevice dev)
{
    return device_pool_get(pool, dev, current_locked);
}

/* Makes pool (which must belong to dev) the pool cuMemAllocAsync uses on dev. */
EXPORT CUresult cuDeviceSetMemPool(CUdevice dev, CUmemoryPool pool)
{
    CUresult res = pool_enter();
    if (res != CUDA_SUCCESS)
        return res;
    if ((res = sim_device_check(dev, NULL)) != CUDA_SUCCESS)
        return res;
    pthread_mutex_lock(&g_lock);
    res = pool_valid_locked(pool) && pool->device == dev ? CUDA_SUCCESS
                                                          : CUDA_ERROR_INVALID_VALUE;
    if (res == CUDA_SUCCESS)
        g_current[dev] = pool;
    pthread_mutex_unlock(&g_lock);
    return res;
}

EXPORT CUresult cuMemPoolSetAttribute(CUmemoryPool pool, CUmemPool_attribute attr, void *value)
{
    CUresult res = pool_enter();
    if (res != CUDA_SUCCESS)
        return res;
    if (!value)
        return CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&g_lock);
    res = CUDA_ERROR_INVALID_VALUE;
    if (!pool_valid_locked(pool))
        goto out;
    switch (attr) {
    case CU_MEMPOOL_ATTR_REUSE_FOLLOW_EVENT_DEPENDENCIES:
        pool->follow_events = *(int *)value != 0;
        break;
    case CU_MEMPOOL_ATTR_REUSE_ALLOW_OPPORTUNISTIC:
        pool->opportunistic = *(int *)value != 0;
        break;
    case CU_MEMPOOL_ATTR_REUSE_ALLOW_INTERNAL_DEPENDENCIES:
        pool->internal_deps = *(int *)value != 0;
        break;
    case CU_MEMPOOL_ATTR_RELEASE_THRESHOLD:
        pool->threshold = *(cuuint64_t *)value;
        break;
    case CU_MEMPOOL_ATTR_RESERVED_MEM_HIGH:
        if (*(cuuint64_t *)value != 0)
            goto out; /* a high watermark can only be reset to zero */
        pool->reserved_high = pool->reserved;
        break;
    case CU_MEMPOOL_ATTR_USED_MEM_HIGH:
        if (*(cuuint64_t *)value != 0)
            goto out;
        pool->used_high = pool->used;
        break;
    default:
        goto out;
    }
    res = CUDA_SUCCESS;
out:
    pthread_mutex_unlock(&g_lock);
    return res;
}

EXPORT CUresult cuMemPoolGetAttribute(CUmemoryPool pool, CUmemPool_attribute attr, void *value)
{
    CUresult res = pool_enter();
    if (res != CUDA_SUCCESS)
        return res;
    if (!value)
        return CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&g_lock);
    res = pool_valid_locked(pool) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
    if (res == CUDA_SUCCESS) {
        switch (attr) {
        case CU_MEMPOOL_ATTR_REUSE_FOLLOW_EVENT_DEPENDENCIES:
            *(int *)value = pool->follow_events;
            break;
        case CU_MEMPOOL_ATTR_REUSE_ALLOW_OPPORTUNISTIC:
            *(int *)value = pool->opportunistic;
            break;
        case CU_MEMPOOL_ATTR_REUSE_ALLOW_INTERNAL_DEPENDENCIES:
            *(int *)value = pool->internal_deps;
            break;
        case CU_MEMPOOL_ATTR_RELEASE_THRESHOLD:
            *(cuuint64_t *)value = pool->threshold;
            break;
        case CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT:
            *(cuuint64_t *)value = pool->reserved;
            break;
        case CU_MEMPOOL_ATTR_RESERVED_MEM_HIGH:
            *(cuuint64_t *)value = pool->reserved_high;
            break;
        case CU_MEMPOOL_ATTR_USED_MEM_CURRENT:
            *(cuuint64_t *)value = pool->used;
            break;
        case CU_MEMPOOL_ATTR_USED_MEM_HIGH:
            *(cuuint64_t *)value = pool->used_high;
            break;
        default:
            res = CUDA_ERROR_INVALID_VALUE;
        }
    }
    pthread_mutex_unlock(&g_lock);
    return res;
}

/* Releases idle memory (blocks whose free op has run) until at most minBytesToKeep remain. */
EXPORT CUresult cuMemPoolTrimTo(CUmemoryPool pool, size_t minBytesToKeep)
{
    CUresult res = pool_enter();
    if (res != CUDA_SUCCESS)
        return res;
    pthread_mutex_lock(&g_lock);
    res = pool_valid_locked(pool) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
    if (res == CUDA_SUCCESS)
        trim_locked(pool, minBytesToKeep);
    pthread_mutex_unlock(&g_lock);
    return res;
}

/* Every device of an instance can access every other one: access is always read-write. */
EXPORT CUresult cuMemPoolSetAccess(CUmemoryPool pool, const CUmemAccessDesc *map, size_t count)
{
    CUresult res = pool_enter();
    if (res != CUDA_SUCCESS)
        return res;
    if (!map && count)
        return CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&g_lock);
    res = pool_valid_locked(pool) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_unlock(&g_lock);
    for (size_t i = 0; i < count && res == CUDA_SUCCESS; i++)
        if (map[i].location.type != CU_MEM_LOCATION_TYPE_DEVICE ||
            sim_device_check(map[i].location.id, NULL) != CUDA_SUCCESS)
            res = CUDA_ERROR_INVALID_VALUE;
    return res;
}

EXPORT CUresult cuMemPoolGetAccess(CUmemAccess_flags *flags, CUmemoryPool memPool,
                                   CUmemLocation *location)
{
    CUresult res = pool_enter();
    if (res != CUDA_SUCCESS)
        return res;
    if (!flags || !location || location->type != CU_MEM_LOCATION_TYPE_DEVICE ||
        sim_device_check(location->id, NULL) != CUDA_SUCCESS)
        return CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&g_lock);
    res = pool_valid_locked(memPool) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_unlock(&g_lock);
    if (res == CUDA_SUCCESS)
        *flags = CU_MEM_ACCESS_FLAGS_PROT_READWRITE;
    return res;
}
