/*
 * vram_graph.c: CUDA graph memory (allocation and free nodes) under the local vGPU's VRAM cap.
 * See "Graph memory" in docs/internals/hook.md.
 *
 * An allocation node's address is fixed when the node is made, but the driver backs it with
 * device memory only when the node runs (a graph launch) or when the executable is uploaded
 * (cuGraphUpload, documented to back "the allocations owned by hGraphExec"), and keeps that
 * backing, cached, after the graph's free node ran, until cuDeviceGraphMemTrim or until nothing
 * names the allocation any more (its graph and executables destroyed). So:
 *
 *   instantiate  every cuGraphInstantiate* walks the source graph with the real driver and
 *                remembers, for the executable and for the graph, the allocations their nodes
 *                name (address, size rounded to HOOK_VRAM_GRANULE, device of the node's pool).
 *   launch       before the driver: every allocation of the executable this process has not
 *   / upload     charged is reserved in the ledger; past the cap the call answers
 *                CUDA_ERROR_OUT_OF_MEMORY without reaching the driver. After a successful call
 *                each is committed under its address ^ HOOK_VRAM_KEY_GRAPH; a failed one rolls
 *                them back. An executable relaunched over its cached memory charges nothing.
 *   credit       after the calls that can give backing back (cuDeviceGraphMemTrim,
 *                cuGraphExecDestroy, cuGraphDestroy, cuMemFree of a graph allocation) and
 *                before a launch is refused at the cap, the charges are reconciled with the
 *                driver (reconcile_locked): its CU_GRAPH_MEM_ATTR_RESERVED_MEM_CURRENT is what
 *                it backs for this process on the device, and charged allocations that are
 *                not live are credited until the charge is down to that figure, the ones no
 *                known graph or executable names first. cuMemFreeAsync of a graph allocation
 *                nothing names any more is credited when enqueued, as pool blocks are.
 *
 * The tables live in this process (the ledger reclaims a dead process's charges whole).
 */
#include "hook.h"
#include "vram.h"

#include "gpool/ledger.h"
#include "gpool/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* Child graphs nested deeper than this are not walked (their allocations are not charged). */
#define GRAPH_WALK_DEPTH 8

/* One allocation node's memory, as the ledger charges it. */
struct gm_alloc {
    uint64_t va;
    uint64_t bytes; /* the node's bytesize rounded to HOOK_VRAM_GRANULE */
    int dev;
};

/* What this process knows of one graph allocation address. */
struct gm_va {
    uint64_t va;
    uint64_t bytes; /* 0 until an allocation node naming it was seen */
    int dev;
    int charged; /* recorded in the ledger under va ^ HOOK_VRAM_KEY_GRAPH */
    int holders; /* known graphs and executables whose nodes name it */
};

/* A graph or executable whose memory nodes name graph allocations. */
struct gm_owner {
    uint64_t handle; /* CUgraph or CUgraphExec */
    struct gm_alloc *allocs;
    size_t nallocs;
    uint64_t *names; /* distinct addresses its allocation and free nodes name */
    size_t nnames;
};

/* A growable array; each table below is kept sorted by its elements' first member, a uint64_t
 * key. */
struct gm_table {
    void *v;
    size_t n, cap;
};

static struct {
    pthread_mutex_t lock; /* everything below; taken before the ledger's lock, never after */
    int enabled;
    struct gm_table vas;    /* struct gm_va, by va */
    struct gm_table execs;  /* struct gm_owner, by handle */
    struct gm_table graphs; /* struct gm_owner, by handle */
} gm = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* ---- Sorted tables --------------------------------------------------------------------------- */

/* Index of the first element of t (elements of `size` bytes) whose key is >= key. */
static size_t table_lower(const struct gm_table *t, size_t size, uint64_t key)
{
    size_t lo = 0, hi = t->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        uint64_t k;
        memcpy(&k, (const char *)t->v + mid * size, sizeof(k));
        if (k < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The element of t with key, or NULL. */
static void *table_find(const struct gm_table *t, size_t size, uint64_t key)
{
    size_t i = table_lower(t, size, key);
    if (i == t->n)
        return NULL;
    uint64_t k;
    memcpy(&k, (const char *)t->v + i * size, sizeof(k));
    return k == key ? (char *)t->v + i * size : NULL;
}

/* Inserts a zeroed element with key (which t must not hold); NULL when out of memory. */
static void *table_insert(struct gm_table *t, size_t size, uint64_t key)
{
    if (t->n == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 16;
        void *v = realloc(t->v, cap * size);
        if (!v)
            return NULL;
        t->v = v;
        t->cap = cap;
    }
    size_t i = table_lower(t, size, key);
    char *at = (char *)t->v + i * size;
    memmove(at + size, at, (t->n - i) * size);
    memset(at, 0, size);
    memcpy(at, &key, sizeof(key));
    t->n++;
    return at;
}

/* Removes the element e of t. */
static void table_remove(struct gm_table *t, size_t size, void *e)
{
    size_t i = (size_t)((char *)e - (char *)t->v) / size;
    memmove(e, (char *)e + size, (t->n - i - 1) * size);
    t->n--;
}

/* ---- The driver ------------------------------------------------------------------------------ */

/* Whether graph allocation va is live now (its allocation node ran and no free has ended it):
 * a live allocation is an ordinary device pointer to the driver, one that is not answers no
 * pointer attribute. */
static int va_live(uint64_t va)
{
    hook_pfn_cuPointerGetAttribute fn =
        (hook_pfn_cuPointerGetAttribute)hook_real_fn(GPOOL_API_ID_cuPointerGetAttribute);
    int ordinal = -1;
    return fn && fn(&ordinal, CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL, (CUdeviceptr)va) == CUDA_SUCCESS;
}

/* What the driver's graph allocator holds on dev for this process: 0 and *bytes, or -1. */
static int driver_reserved(int dev, uint64_t *bytes)
{
    hook_pfn_cuDeviceGetGraphMemAttribute fn = (hook_pfn_cuDeviceGetGraphMemAttribute)hook_real_fn(
        GPOOL_API_ID_cuDeviceGetGraphMemAttribute);
    cuuint64_t v = 0;
    if (!fn || fn((CUdevice)dev, CU_GRAPH_MEM_ATTR_RESERVED_MEM_CURRENT, &v) != CUDA_SUCCESS)
        return -1;
    *bytes = v;
    return 0;
}

int hook_vram_stream_captured(CUstream s, int per_thread)
{
    /* The _ptsz query for a _ptsz call: stream 0 is then the per-thread default stream. */
    int id = per_thread ? GPOOL_API_ID_cuStreamIsCapturing_ptsz : GPOOL_API_ID_cuStreamIsCapturing;
    hook_pfn_cuStreamIsCapturing fn = (hook_pfn_cuStreamIsCapturing)hook_real_fn(id);
    CUstreamCaptureStatus st = CU_STREAM_CAPTURE_STATUS_NONE;
    /* An invalidated capture still makes the driver treat the stream as capturing. */
    return fn && fn(s, &st) == CUDA_SUCCESS && st != CU_STREAM_CAPTURE_STATUS_NONE;
}

int hook_vram_call_captured(const struct hook_call *call)
{
    CUstream s;
    int per_thread = 0;
    switch (call->id) {
    case GPOOL_API_ID_cuMemAllocAsync_ptsz:
        per_thread = 1;
        /* fall through */
    case GPOOL_API_ID_cuMemAllocAsync:
        s = *(const CUstream *)call->argv[2];
        break;
    case GPOOL_API_ID_cuMemAllocFromPoolAsync_ptsz:
        per_thread = 1;
        /* fall through */
    case GPOOL_API_ID_cuMemAllocFromPoolAsync:
        s = *(const CUstream *)call->argv[3];
        break;
    case GPOOL_API_ID_cuMemFreeAsync_ptsz:
        per_thread = 1;
        /* fall through */
    case GPOOL_API_ID_cuMemFreeAsync:
        s = *(const CUstream *)call->argv[1];
        break;
    default:
        return 0;
    }
    return hook_vram_stream_captured(s, per_thread);
}

/* ---- Walking a graph ------------------------------------------------------------------------- */

struct gm_walk {
    struct gm_alloc *allocs;
    size_t nallocs, capallocs;
    uint64_t *names;
    size_t nnames, capnames;
};

static void walk_free(struct gm_walk *w)
{
    free(w->allocs);
    free(w->names);
    memset(w, 0, sizeof(*w));
}

static int walk_name(struct gm_walk *w, uint64_t va)
{
    for (size_t i = 0; i < w->nnames; i++)
        if (w->names[i] == va)
            return 0;
    if (w->nnames == w->capnames) {
        size_t cap = w->capnames ? 2 * w->capnames : 8;
        uint64_t *p = realloc(w->names, cap * sizeof(*p));
        if (!p)
            return -1;
        w->names = p;
        w->capnames = cap;
    }
    w->names[w->nnames++] = va;
    return 0;
}

static int walk_alloc(struct gm_walk *w, const struct gm_alloc *a)
{
    if (w->nallocs == w->capallocs) {
        size_t cap = w->capallocs ? 2 * w->capallocs : 8;
        struct gm_alloc *p = realloc(w->allocs, cap * sizeof(*p));
        if (!p)
            return -1;
        w->allocs = p;
        w->capallocs = cap;
    }
    w->allocs[w->nallocs++] = *a;
    return walk_name(w, a->va);
}

/*
 * Adds the memory nodes of g (and of its child graphs) to w, asking the real driver. -1 when
 * the graph cannot be read or memory runs out: the caller forwards the call unrecorded (the
 * driver refuses a bad graph itself), logged.
 */
static int walk_graph(CUgraph g, struct gm_walk *w, int depth)
{
    hook_pfn_cuGraphGetNodes get_nodes =
        (hook_pfn_cuGraphGetNodes)hook_real_fn(GPOOL_API_ID_cuGraphGetNodes);
    hook_pfn_cuGraphNodeGetType get_type =
        (hook_pfn_cuGraphNodeGetType)hook_real_fn(GPOOL_API_ID_cuGraphNodeGetType);
    hook_pfn_cuGraphMemAllocNodeGetParams alloc_params =
        (hook_pfn_cuGraphMemAllocNodeGetParams)hook_real_fn(
            GPOOL_API_ID_cuGraphMemAllocNodeGetParams);
    hook_pfn_cuGraphMemFreeNodeGetParams free_params =
        (hook_pfn_cuGraphMemFreeNodeGetParams)hook_real_fn(
            GPOOL_API_ID_cuGraphMemFreeNodeGetParams);
    hook_pfn_cuGraphChildGraphNodeGetGraph child_graph =
        (hook_pfn_cuGraphChildGraphNodeGetGraph)hook_real_fn(
            GPOOL_API_ID_cuGraphChildGraphNodeGetGraph);
    if (!get_nodes || !get_type || !alloc_params || !free_params)
        return -1;
    size_t n = 0;
    if (get_nodes(g, NULL, &n) != CUDA_SUCCESS)
        return -1;
    if (n == 0)
        return 0;
    CUgraphNode *nodes = calloc(n, sizeof(*nodes));
    int rc = -1;
    if (!nodes || get_nodes(g, nodes, &n) != CUDA_SUCCESS)
        goto out;
    for (size_t i = 0; i < n; i++) {
        CUgraphNodeType type;
        if (get_type(nodes[i], &type) != CUDA_SUCCESS)
            goto out;
        if (type == CU_GRAPH_NODE_TYPE_MEM_ALLOC) {
            CUDA_MEM_ALLOC_NODE_PARAMS p;
            memset(&p, 0, sizeof(p));
            struct gm_alloc a = {0};
            if (alloc_params(nodes[i], &p) != CUDA_SUCCESS)
                goto out;
            a.va = (uint64_t)p.dptr;
            a.dev = p.poolProps.location.id;
            /* Only device memory is VRAM; a size that overflows is left to the driver. */
            if (p.poolProps.location.type != CU_MEM_LOCATION_TYPE_DEVICE ||
                hook_vram_round_granule(p.bytesize, &a.bytes) < 0 || a.bytes == 0) {
                if (walk_name(w, a.va) < 0)
                    goto out;
                continue;
            }
            if (walk_alloc(w, &a) < 0)
                goto out;
        } else if (type == CU_GRAPH_NODE_TYPE_MEM_FREE) {
            CUdeviceptr va = 0;
            if (free_params(nodes[i], &va) != CUDA_SUCCESS || walk_name(w, (uint64_t)va) < 0)
                goto out;
        } else if (type == CU_GRAPH_NODE_TYPE_GRAPH && child_graph) {
            CUgraph child = NULL;
            if (depth >= GRAPH_WALK_DEPTH) {
                LOG_WARN("hook",
                         "vGPU '%s': graph %p: child graphs nested deeper than %d are not "
                         "charged",
                         hook_vram_cfg.name, (void *)g, GRAPH_WALK_DEPTH);
                continue;
            }
            if (child_graph(nodes[i], &child) != CUDA_SUCCESS ||
                walk_graph(child, w, depth + 1) < 0)
                goto out;
        }
    }
    rc = 0;
out:
    free(nodes);
    return rc;
}

/* ---- The tables ------------------------------------------------------------------------------ */

/* The record of va, made when create (NULL when out of memory or absent). Under gm.lock. */
static struct gm_va *va_get(uint64_t va, int create)
{
    struct gm_va *v = table_find(&gm.vas, sizeof(struct gm_va), va);
    if (!v && create)
        v = table_insert(&gm.vas, sizeof(struct gm_va), va);
    return v;
}

/* Forgets v once it tells nothing (not charged, named by nothing known). Under gm.lock. */
static void va_tidy(struct gm_va *v)
{
    if (!v->charged && v->holders <= 0)
        table_remove(&gm.vas, sizeof(struct gm_va), v);
}

/*
 * Records what the walk w found for the graph or executable h in t (merged with what an earlier
 * walk of the same graph found: a graph may gain nodes between instantiations). Each newly named
 * address counts h as one more holder. -1 when out of memory (what was recorded stays
 * consistent). Under gm.lock.
 */
static int owner_put(struct gm_table *t, uint64_t h, const struct gm_walk *w)
{
    if (w->nnames == 0)
        return 0;
    struct gm_owner *o = table_find(t, sizeof(*o), h);
    if (!o && !(o = table_insert(t, sizeof(*o), h)))
        return -1;
    for (size_t i = 0; i < w->nallocs; i++) {
        const struct gm_alloc *a = &w->allocs[i];
        struct gm_va *v = va_get(a->va, 1);
        if (!v)
            return -1;
        if (v->charged && v->holders <= 0) {
            /* A charge nothing known names, at the address of a new allocation node: the old
             * allocation is gone (an allocation keeps its address reserved while it is live or
             * named), released where no reconcile could see it (a launch still running when its
             * last holder was destroyed). */
            struct ledger *l = hook_vram_ledger_opened();
            if (l)
                ledger_release(l, v->dev, v->va ^ HOOK_VRAM_KEY_GRAPH, NULL);
            v->charged = 0;
        }
        v->bytes = a->bytes;
        v->dev = a->dev;
        size_t j = 0;
        while (j < o->nallocs && o->allocs[j].va != a->va)
            j++;
        if (j < o->nallocs)
            continue;
        struct gm_alloc *p = realloc(o->allocs, (o->nallocs + 1) * sizeof(*p));
        if (!p)
            return -1;
        o->allocs = p;
        o->allocs[o->nallocs++] = *a;
    }
    for (size_t i = 0; i < w->nnames; i++) {
        size_t j = 0;
        while (j < o->nnames && o->names[j] != w->names[i])
            j++;
        if (j < o->nnames)
            continue;
        struct gm_va *v = va_get(w->names[i], 1);
        uint64_t *p = v ? realloc(o->names, (o->nnames + 1) * sizeof(*p)) : NULL;
        if (!p) {
            if (v)
                va_tidy(v);
            return -1;
        }
        o->names = p;
        o->names[o->nnames++] = w->names[i];
        v->holders++;
    }
    return 0;
}

/* Forgets the graph or executable h of t: the addresses it named lose a holder. Under gm.lock. */
static void owner_drop(struct gm_table *t, uint64_t h)
{
    struct gm_owner *o = table_find(t, sizeof(*o), h);
    if (!o)
        return;
    for (size_t i = 0; i < o->nnames; i++) {
        struct gm_va *v = va_get(o->names[i], 0);
        if (v) {
            v->holders--;
            va_tidy(v);
        }
    }
    free(o->allocs);
    free(o->names);
    table_remove(t, sizeof(*o), o);
}

/* Credits v (charged) to the ledger and marks it uncharged; v may be forgotten. Under gm.lock. */
static void va_credit(struct ledger *l, struct gm_va *v)
{
    if (ledger_release(l, v->dev, v->va ^ HOOK_VRAM_KEY_GRAPH, NULL) < 0)
        LOG_DEBUG("hook", "vGPU '%s': graph allocation 0x%llx was not charged", hook_vram_cfg.name,
                  (unsigned long long)v->va);
    v->charged = 0;
    va_tidy(v);
}

/*
 * Credits the graph allocations on dev (every device when dev < 0) that the driver no longer
 * backs. The driver tells only the total it backs for this process on a device
 * (RESERVED_MEM_CURRENT), not which allocations: while the charged total C passes that figure
 * R, charged allocations that are not live are credited, each only when it fits in C - R, those
 * no known graph or executable names first (their backing went with their last holder), then
 * the others (cached memory a trim gave back). So the charge never drops below what the driver
 * holds, and equals it whenever the allocations credited are the ones that lost their backing.
 * Under gm.lock.
 */
static void reconcile_locked(struct ledger *l, int dev)
{
    int ndev = ledger_device_count(l);
    for (int d = dev < 0 ? 0 : dev; d < (dev < 0 ? ndev : dev + 1) && d < ndev; d++) {
        uint64_t charged = 0, reserved = 0;
        const struct gm_va *vas = gm.vas.v;
        for (size_t i = 0; i < gm.vas.n; i++)
            if (vas[i].charged && vas[i].dev == d)
                charged += vas[i].bytes;
        if (charged == 0 || driver_reserved(d, &reserved) < 0 || charged <= reserved)
            continue;
        uint64_t excess = charged - reserved;
        for (int pass = 0; pass < 2 && excess; pass++) {
            for (size_t i = 0; i < gm.vas.n && excess;) {
                struct gm_va *v = (struct gm_va *)gm.vas.v + i;
                if (!v->charged || v->dev != d || (pass == 0) != (v->holders <= 0) ||
                    v->bytes > excess || va_live(v->va)) {
                    i++;
                    continue;
                }
                excess -= v->bytes;
                size_t before = gm.vas.n;
                va_credit(l, v);
                if (gm.vas.n == before)
                    i++; /* still recorded (named by a graph): move on */
            }
        }
    }
}

/* ---- Charging -------------------------------------------------------------------------------- */

/* One reservation of a launch, upload or uploading instantiation. */
struct gm_charge {
    uint64_t va;
    struct ledger_ticket t;
};

/* Rolls back the n reservations of c and frees c. */
static void charges_rollback(struct ledger *l, struct gm_charge *c, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ledger_rollback(l, &c[i].t);
    free(c);
}

/*
 * Reserves, for each of the n allocations of allocs that this process has not charged yet, its
 * bytes on its device. When one does not fit, what was reserved is rolled back, the charges are
 * reconciled with the driver (cached memory it gave back meanwhile is credited) and the whole is
 * tried once more. CUDA_SUCCESS with *out (caller commits or rolls back; NULL when nothing needed
 * charging), or OUT_OF_MEMORY (past the cap or the record table full) or OPERATING_SYSTEM.
 */
static CUresult charges_reserve(struct ledger *l, const struct gm_alloc *allocs, size_t n,
                                struct gm_charge **out, size_t *nout, const char *what)
{
    *out = NULL;
    *nout = 0;
    if (n == 0)
        return CUDA_SUCCESS;
    struct gm_charge *c = calloc(n, sizeof(*c));
    if (!c)
        return CUDA_ERROR_OUT_OF_MEMORY;
    int rc = 0;
    pthread_mutex_lock(&gm.lock);
    for (int attempt = 0; attempt < 2; attempt++) {
        size_t k = 0;
        rc = 0;
        for (size_t i = 0; i < n && rc == 0; i++) {
            const struct gm_alloc *a = &allocs[i];
            const struct gm_va *v = va_get(a->va, 0);
            if ((v && v->charged) || a->dev < 0 || a->dev >= ledger_device_count(l))
                continue; /* backed already (charged), or a device the driver refuses */
            rc = ledger_reserve(l, a->dev, a->bytes, &c[k].t);
            if (rc == 0)
                c[k++].va = a->va;
        }
        if (rc == 0) {
            pthread_mutex_unlock(&gm.lock);
            if (k == 0) {
                free(c);
                c = NULL;
            }
            *out = c;
            *nout = k;
            return CUDA_SUCCESS;
        }
        for (size_t i = 0; i < k; i++)
            ledger_rollback(l, &c[i].t);
        if (rc != -EDQUOT || attempt == 1)
            break;
        reconcile_locked(l, -1);
    }
    pthread_mutex_unlock(&gm.lock);
    free(c);
    LOG_DEBUG("hook", "%s: graph memory refused by vGPU '%s': %s", what, hook_vram_cfg.name,
              strerror(-rc));
    return hook_vram_errno_result(rc);
}

/* Commits the n reservations of c (a successful launch or upload) under their addresses' keys
 * and frees c. An allocation a concurrent launch charged first stays charged once. */
static void charges_commit(struct ledger *l, struct gm_charge *c, size_t n, const char *what)
{
    pthread_mutex_lock(&gm.lock);
    for (size_t i = 0; i < n; i++) {
        int r = ledger_commit(l, &c[i].t, c[i].va ^ HOOK_VRAM_KEY_GRAPH);
        if (r < 0) {
            if (r != -EEXIST)
                LOG_ERROR("hook", "%s: cannot record graph allocation 0x%llx in vGPU '%s': %s",
                          what, (unsigned long long)c[i].va, hook_vram_cfg.name, strerror(-r));
            ledger_rollback(l, &c[i].t);
            continue;
        }
        /* Recorded even if its executable was destroyed meanwhile: a reconcile credits it. */
        struct gm_va *v = va_get(c[i].va, 1);
        if (!v) {
            ledger_release(l, c[i].t.dev, c[i].va ^ HOOK_VRAM_KEY_GRAPH, NULL);
            continue;
        }
        if (!v->bytes) {
            v->bytes = c[i].t.bytes;
            v->dev = c[i].t.dev;
        }
        v->charged = 1;
    }
    pthread_mutex_unlock(&gm.lock);
    free(c);
}

/* A copy of the allocations of executable x (caller frees); CUDA_SUCCESS with n = 0 when it has
 * none. */
static CUresult exec_allocs(CUgraphExec x, struct gm_alloc **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    pthread_mutex_lock(&gm.lock);
    const struct gm_owner *o = table_find(&gm.execs, sizeof(*o), (uint64_t)(uintptr_t)x);
    CUresult res = CUDA_SUCCESS;
    if (o && o->nallocs) {
        *out = malloc(o->nallocs * sizeof(**out));
        if (*out) {
            memcpy(*out, o->allocs, o->nallocs * sizeof(**out));
            *n = o->nallocs;
        } else {
            res = CUDA_ERROR_OUT_OF_MEMORY;
        }
    }
    pthread_mutex_unlock(&gm.lock);
    return res;
}

/* Reserves what launching or uploading x on s (a _ptsz call when per_thread) may back. Into a
 * stream being captured nothing runs now: nothing is charged. */
static CUresult exec_reserve(CUgraphExec x, CUstream s, int per_thread, struct ledger **l,
                             struct gm_charge **c, size_t *nc, const char *what)
{
    *c = NULL;
    *nc = 0;
    struct gm_alloc *allocs;
    size_t n;
    CUresult res = exec_allocs(x, &allocs, &n);
    if (res != CUDA_SUCCESS || n == 0)
        return res;
    if (!hook_vram_stream_captured(s, per_thread)) {
        res = hook_vram_ledger(l);
        if (res == CUDA_SUCCESS)
            res = charges_reserve(*l, allocs, n, c, nc, what);
    }
    free(allocs);
    return res;
}

/* ---- Launch and free interceptors ------------------------------------------------------------ */

/* The reservations of the graph launch this thread is making, from before() to after(). */
static _Thread_local struct {
    struct gm_charge *c;
    size_t n;
} launch_pending;

static CUresult graph_launch_before(struct hook_call *call)
{
    if (call->id != GPOOL_API_ID_cuGraphLaunch && call->id != GPOOL_API_ID_cuGraphLaunch_ptsz)
        return CUDA_SUCCESS;
    struct ledger *l;
    CUresult res = exec_reserve(*(CUgraphExec *)call->argv[0], *(CUstream *)call->argv[1],
                                call->id == GPOOL_API_ID_cuGraphLaunch_ptsz, &l, &launch_pending.c,
                                &launch_pending.n, gpool_api_table[call->id].name);
    if (res == CUDA_SUCCESS && launch_pending.n)
        call->state = 1;
    return res;
}

static CUresult graph_launch_after(struct hook_call *call, CUresult rc)
{
    if (!call->state)
        return rc;
    struct ledger *l = hook_vram_ledger_opened();
    if (rc == CUDA_SUCCESS)
        charges_commit(l, launch_pending.c, launch_pending.n, gpool_api_table[call->id].name);
    else
        charges_rollback(l, launch_pending.c, launch_pending.n);
    launch_pending.c = NULL;
    launch_pending.n = 0;
    return rc;
}

/*
 * A graph allocation that a launch left live (no free node in its graph) may be freed with
 * cuMemFree or cuMemFreeAsync. While a known graph or executable still names it, the driver
 * keeps its backing cached: nothing to credit. Otherwise the free releases it: cuMemFreeAsync is
 * credited when enqueued (as pool blocks are), cuMemFree once the driver confirms.
 */
static CUresult graph_free_after(struct hook_call *call, CUresult rc)
{
    uint64_t ptr;
    switch (call->id) {
    case GPOOL_API_ID_cuMemFree_v2:
    case GPOOL_API_ID_cuMemFreeAsync:
    case GPOOL_API_ID_cuMemFreeAsync_ptsz:
        ptr = *(const CUdeviceptr *)call->argv[0];
        break;
    case GPOOL_API_ID_cuMemFree:
        ptr = *(const CUdeviceptr_v1 *)call->argv[0];
        break;
    default:
        return rc;
    }
    struct ledger *l = hook_vram_ledger_opened();
    if (rc != CUDA_SUCCESS || !l)
        return rc;
    pthread_mutex_lock(&gm.lock);
    struct gm_va *v = va_get(ptr, 0);
    if (v && v->charged) {
        if (call->id == GPOOL_API_ID_cuMemFree_v2 || call->id == GPOOL_API_ID_cuMemFree)
            reconcile_locked(l, v->dev); /* done: the driver tells what it still backs */
        else if (v->holders <= 0 && !hook_vram_call_captured(call))
            va_credit(l, v);
    }
    pthread_mutex_unlock(&gm.lock);
    return rc;
}

static const struct hook_interceptor graph_launch_interceptor = {graph_launch_before,
                                                                 graph_launch_after};
static const struct hook_interceptor graph_free_interceptor = {NULL, graph_free_after};

void hook_vram_graph_init(void)
{
    if (!hook_vram_cfg.enabled || hook_vram_cfg.bad)
        return;
    gm.enabled = 1;
    if (hook_intercept_add(GPOOL_API_LAUNCHES, &graph_launch_interceptor) < 0 ||
        hook_intercept_add(GPOOL_API_FREES, &graph_free_interceptor) < 0)
        LOG_ERROR("hook",
                  "vGPU '%s': no room for the graph-memory interceptors; graph memory "
                  "is not charged",
                  hook_vram_cfg.name);
}

/* ---- Hand-written entries -------------------------------------------------------------------- */

/* After hGraph was instantiated into x: both remember what the walk found. Out of memory here
 * leaves x's allocations partly unknown (uncharged), logged. */
static void instantiate_record(CUgraphExec x, CUgraph hGraph, const struct gm_walk *w,
                               const char *what)
{
    pthread_mutex_lock(&gm.lock);
    if (owner_put(&gm.execs, (uint64_t)(uintptr_t)x, w) < 0 ||
        owner_put(&gm.graphs, (uint64_t)(uintptr_t)hGraph, w) < 0)
        LOG_ERROR("hook",
                  "%s: out of memory recording graph %p: some of its memory nodes are not "
                  "charged by vGPU '%s'",
                  what, (void *)hGraph, hook_vram_cfg.name);
    pthread_mutex_unlock(&gm.lock);
}

/* Walks hGraph for an instantiation; 0 with w filled (maybe empty), or -1 when it cannot be read
 * (the instantiation is forwarded unrecorded: the driver refuses a bad graph itself). */
static int instantiate_walk(CUgraph hGraph, struct gm_walk *w, const char *what)
{
    memset(w, 0, sizeof(*w));
    if (walk_graph(hGraph, w, 0) == 0)
        return 0;
    LOG_DEBUG("hook", "%s: graph %p cannot be walked; its memory nodes are not recorded", what,
              (void *)hGraph);
    walk_free(w);
    return -1;
}

/* cuGraphInstantiate, _v2 and WithFlags: the driver first, then the walk of the graph it
 * accepted. */
#define HOOK_GRAPH_INSTANTIATE(name, phExec, hGraph, call_args)                                    \
    do {                                                                                           \
        HOOK_REAL_OR_MISSING(name);                                                                \
        CUresult rc = real call_args;                                                              \
        struct gm_walk w;                                                                          \
        if (rc == CUDA_SUCCESS && gm.enabled && phExec &&                                          \
            instantiate_walk(hGraph, &w, #name) == 0) {                                            \
            instantiate_record(*phExec, hGraph, &w, #name);                                        \
            walk_free(&w);                                                                         \
        }                                                                                          \
        return rc;                                                                                 \
    } while (0)

CUresult cuGraphInstantiate(CUgraphExec *phGraphExec, CUgraph hGraph, CUgraphNode *phErrorNode,
                            char *logBuffer, size_t bufferSize)
{
    HOOK_GRAPH_INSTANTIATE(cuGraphInstantiate, phGraphExec, hGraph,
                           (phGraphExec, hGraph, phErrorNode, logBuffer, bufferSize));
}

CUresult cuGraphInstantiate_v2(CUgraphExec *phGraphExec, CUgraph hGraph, CUgraphNode *phErrorNode,
                               char *logBuffer, size_t bufferSize)
{
    HOOK_GRAPH_INSTANTIATE(cuGraphInstantiate_v2, phGraphExec, hGraph,
                           (phGraphExec, hGraph, phErrorNode, logBuffer, bufferSize));
}

CUresult cuGraphInstantiateWithFlags(CUgraphExec *phGraphExec, CUgraph hGraph,
                                     unsigned long long flags)
{
    HOOK_GRAPH_INSTANTIATE(cuGraphInstantiateWithFlags, phGraphExec, hGraph,
                           (phGraphExec, hGraph, flags));
}

/*
 * cuGraphInstantiateWithParams (+ _ptsz). With CUDA_GRAPH_INSTANTIATE_FLAG_UPLOAD the driver
 * uploads the new executable, which backs its allocations: the graph is walked first and those
 * allocations are reserved before the driver is called, as for cuGraphUpload. Past the cap the
 * call answers CUDA_ERROR_OUT_OF_MEMORY (result_out CUDA_GRAPH_INSTANTIATE_ERROR) and the
 * driver is not called.
 */
static CUresult instantiate_params(hook_pfn_cuGraphInstantiateWithParams real, CUgraphExec *ph,
                                   CUgraph hGraph, CUDA_GRAPH_INSTANTIATE_PARAMS *p,
                                   const char *what)
{
    if (!gm.enabled)
        return real(ph, hGraph, p);
    struct gm_walk w;
    int walked = instantiate_walk(hGraph, &w, what) == 0;
    struct ledger *l = NULL;
    struct gm_charge *c = NULL;
    size_t nc = 0;
    if (walked && w.nallocs && p && (p->flags & CUDA_GRAPH_INSTANTIATE_FLAG_UPLOAD)) {
        CUresult res = hook_vram_ledger(&l);
        if (res == CUDA_SUCCESS)
            res = charges_reserve(l, w.allocs, w.nallocs, &c, &nc, what);
        if (res != CUDA_SUCCESS) {
            p->hErrNode_out = NULL;
            p->result_out = CUDA_GRAPH_INSTANTIATE_ERROR;
            walk_free(&w);
            return res;
        }
    }
    CUresult rc = real(ph, hGraph, p);
    if (rc == CUDA_SUCCESS && walked && ph)
        instantiate_record(*ph, hGraph, &w, what);
    if (nc && rc == CUDA_SUCCESS)
        charges_commit(l, c, nc, what);
    else if (nc)
        charges_rollback(l, c, nc);
    if (walked)
        walk_free(&w);
    return rc;
}

CUresult cuGraphInstantiateWithParams(CUgraphExec *phGraphExec, CUgraph hGraph,
                                      CUDA_GRAPH_INSTANTIATE_PARAMS *instantiateParams)
{
    HOOK_REAL_OR_MISSING(cuGraphInstantiateWithParams);
    return instantiate_params(real, phGraphExec, hGraph, instantiateParams,
                              "cuGraphInstantiateWithParams");
}

CUresult cuGraphInstantiateWithParams_ptsz(CUgraphExec *phGraphExec, CUgraph hGraph,
                                           CUDA_GRAPH_INSTANTIATE_PARAMS *instantiateParams)
{
    HOOK_REAL_OR_MISSING(cuGraphInstantiateWithParams_ptsz);
    return instantiate_params(real, phGraphExec, hGraph, instantiateParams,
                              "cuGraphInstantiateWithParams_ptsz");
}

/* cuGraphUpload (+ _ptsz): charged as a launch is, since the driver backs the executable's
 * allocations when it uploads it. */
static CUresult graph_upload(hook_pfn_cuGraphUpload real, CUgraphExec x, CUstream s, int per_thread,
                             const char *what)
{
    if (!gm.enabled)
        return real(x, s);
    struct ledger *l = NULL;
    struct gm_charge *c;
    size_t nc;
    CUresult rc = exec_reserve(x, s, per_thread, &l, &c, &nc, what);
    if (rc != CUDA_SUCCESS)
        return rc;
    rc = real(x, s);
    if (nc && rc == CUDA_SUCCESS)
        charges_commit(l, c, nc, what);
    else if (nc)
        charges_rollback(l, c, nc);
    return rc;
}

CUresult cuGraphUpload(CUgraphExec hGraphExec, CUstream hStream)
{
    HOOK_REAL_OR_MISSING(cuGraphUpload);
    return graph_upload(real, hGraphExec, hStream, 0, "cuGraphUpload");
}

CUresult cuGraphUpload_ptsz(CUgraphExec hGraphExec, CUstream hStream)
{
    HOOK_REAL_OR_MISSING(cuGraphUpload_ptsz);
    return graph_upload(real, hGraphExec, hStream, 1, "cuGraphUpload_ptsz");
}

/* After the driver destroyed the graph or executable h of t: forgets it and credits what lost
 * its backing with it. */
static void forget_and_reconcile(struct gm_table *t, uint64_t h)
{
    struct ledger *l = hook_vram_ledger_opened();
    pthread_mutex_lock(&gm.lock);
    owner_drop(t, h);
    if (l)
        reconcile_locked(l, -1);
    pthread_mutex_unlock(&gm.lock);
}

CUresult cuGraphExecDestroy(CUgraphExec hGraphExec)
{
    HOOK_REAL_OR_MISSING(cuGraphExecDestroy);
    CUresult rc = real(hGraphExec);
    if (rc == CUDA_SUCCESS && gm.enabled)
        forget_and_reconcile(&gm.execs, (uint64_t)(uintptr_t)hGraphExec);
    return rc;
}

CUresult cuGraphDestroy(CUgraph hGraph)
{
    HOOK_REAL_OR_MISSING(cuGraphDestroy);
    CUresult rc = real(hGraph);
    if (rc == CUDA_SUCCESS && gm.enabled)
        forget_and_reconcile(&gm.graphs, (uint64_t)(uintptr_t)hGraph);
    return rc;
}

/* cuDeviceGraphMemTrim: the driver gives the device's cached graph memory back; the charges of
 * what it no longer backs are credited. */
CUresult cuDeviceGraphMemTrim(CUdevice device)
{
    HOOK_REAL_OR_MISSING(cuDeviceGraphMemTrim);
    CUresult rc = real(device);
    struct ledger *l = gm.enabled ? hook_vram_ledger_opened() : NULL;
    if (rc == CUDA_SUCCESS && l) {
        pthread_mutex_lock(&gm.lock);
        reconcile_locked(l, (int)device);
        pthread_mutex_unlock(&gm.lock);
    }
    return rc;
}
