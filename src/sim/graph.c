/*
 * graph.c: CUDA graphs of the simulated GPU: graphs built node by node or by stream capture,
 * executable graphs, their launch and update.
 *
 * A graph is a list of nodes in creation order; each node holds its dependencies and its work as
 * API parameters (graph.h). Instantiation copies the nodes in a topological order into an
 * executable graph. A launch enqueues one op on the stream that owns a deep copy of the
 * executable's nodes and runs them on the stream's worker in that order, so it is ordered after
 * the stream's earlier work (and the executable's earlier launches), every node runs after its
 * dependencies, later parameter updates never touch a launch in flight, and the same executable
 * can be launched any number of times.
 *
 * Stream capture: the enqueue paths of stream.c, event.c, copy.c and launch.c ask
 * sim_capture_check whether their stream is capturing and, if so, hand their work to
 * sim_capture_* instead of enqueueing it. Each capturing stream has a set of "current
 * dependencies" (the nodes the next captured node depends on); events recorded in a capture
 * remember that set, and a stream waiting on such an event joins the capture.
 *
 * One mutex guards every graph, node, executable and capture. It is never held while the
 * engine lock is wanted by a caller up the stack (the hooks are called without it). See
 * docs/internals/sim.md, "Graphs".
 */
#include "driver.h"
#include "graph.h"
#include "module.h"
#include "stream.h"

#include "gpool/log.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GRAPH_MAGIC 0x47524148u /* "GRAH" */
#define NODE_MAGIC  0x474e4f44u /* "GNOD" */
#define EXEC_MAGIC  0x47455845u /* "GEXE" */
#define DEAD_MAGIC  0x64656164u

#define EXPORT __attribute__((visibility("default")))

/* Some exported names may have no prototype in the API header in use. */
#pragma GCC diagnostic ignored "-Wmissing-prototypes"

/* The work of one node, in API form. */
struct node_params {
    CUgraphNodeType type;
    int dev;                         /* the device memcpy/memset nodes run on */
    struct CUctx_st *ctx;            /* memcpy/memset: the context given */
    struct sim_kernel_node k;        /* KERNEL */
    CUDA_MEMCPY3D copy;              /* MEMCPY */
    CUDA_MEMSET_NODE_PARAMS set;     /* MEMSET */
    CUDA_HOST_NODE_PARAMS host;      /* HOST */
    CUevent ev;                      /* EVENT_RECORD, WAIT_EVENT */
    struct sim_graph_mem *mem;       /* MEM_ALLOC, MEM_FREE: referenced */
    CUmemPoolProps props;            /* MEM_ALLOC: as given (cuGraphMemAllocNodeGetParams) */
    CUmemAccessDesc acc[SIM_MAX_DEVICES];
    size_t nacc;
    size_t bytes;                    /* MEM_ALLOC: as requested */
    int escapes;                     /* MEM_ALLOC in an executable: not freed in its graph */
};

struct CUgraphNode_st {
    uint32_t magic;
    struct CUgraph_st *graph;
    struct node_params p;
    struct CUgraphNode_st **deps;
    size_t ndeps, capdeps;
    struct CUgraphNode_st *clone_of; /* the node it was cloned from (cuGraphNodeFindInClone) */
};

struct capture;

struct CUgraph_st {
    uint32_t magic;
    struct CUgraphNode_st **nodes;   /* in creation order */
    size_t n, cap;
    struct capture *capture;         /* the capture building it, if any */
    int has_mem;                     /* holds memory allocation or free nodes */
    struct CUgraphExec_st *mem_exec; /* has_mem: its one executable, if any */
};

struct exec_node {
    CUgraphNode orig;                /* compared, never dereferenced */
    size_t gidx;                     /* its index in the graph (pairs nodes for updates) */
    struct node_params p;
    size_t *deps;                    /* indices into the executable's nodes */
    size_t ndeps;
    int enabled;
};

struct CUgraphExec_st {
    uint32_t magic;
    struct exec_node *nodes;         /* in a topological order */
    size_t n;
    cuuint64_t flags;
    struct sim_stream *last;         /* the last launch (referenced) */
    struct CUgraph_st *src;          /* a graph with memory nodes it was made from, while alive */
    uint64_t last_seq;
};

/* One capture sequence and the streams that joined it. */
struct capture {
    uint64_t id;
    struct CUgraph_st *graph;
    CUstreamCaptureMode mode;
    int invalid;
    pthread_t thread;
    struct sim_stream *origin;
    struct capture *next;
};

struct cap_stream {
    struct sim_stream *s;            /* referenced */
    struct capture *cap;
    struct CUgraphNode_st **deps;
    size_t ndeps, capdeps;
    CUgraphEdgeData *edata;          /* zeros, ndeps of them (cuStreamGetCaptureInfo_v3) */
    struct cap_stream *next;
};

struct cap_event {
    CUevent ev;                      /* compared, never dereferenced */
    struct capture *cap;
    struct CUgraphNode_st **deps;
    size_t ndeps;
    struct cap_event *next;
};

static pthread_mutex_t g_glock = PTHREAD_MUTEX_INITIALIZER;
static struct sim_handle_set g_graphs, g_nodes, g_execs;
static struct capture *g_captures;
static struct cap_stream *g_cap_streams;
static struct cap_event *g_cap_events;
static uint64_t g_capture_id;
static _Thread_local CUstreamCaptureMode t_mode = CU_STREAM_CAPTURE_MODE_GLOBAL;

_Atomic int sim_capture_streams;

/* ---- Node parameters ------------------------------------------------------------------------ */

static void params_fini(struct node_params *p)
{
    if (p->type == CU_GRAPH_NODE_TYPE_KERNEL)
        sim_kernel_node_fini(&p->k);
    if (p->mem)
        sim_graph_mem_unref(p->mem);
    memset(p, 0, sizeof(*p));
}

static CUresult params_copy(struct node_params *dst, const struct node_params *src)
{
    *dst = *src;
    if (src->type == CU_GRAPH_NODE_TYPE_KERNEL) {
        CUresult rc = sim_kernel_node_copy(&dst->k, &src->k);
        if (rc != CUDA_SUCCESS) {
            memset(dst, 0, sizeof(*dst));
            return rc;
        }
    }
    if (src->mem)
        sim_graph_mem_ref(src->mem);
    return CUDA_SUCCESS;
}

/* The *_params_init functions below fill *p from API parameters. Each checks the process first
 * (sim_process_check, directly or through the context or event lookup), so that the entry points
 * built on them need no check of their own. */

static CUresult kernel_params_init(struct node_params *p, const CUDA_KERNEL_NODE_PARAMS *kp)
{
    CUresult rc = sim_process_check();
    if (rc != CUDA_SUCCESS)
        return rc;
    if (!kp)
        return CUDA_ERROR_INVALID_VALUE;
    CUfunction f = kp->func;
    struct CUctx_st *ctx = NULL;
    if (!f) { /* a CUkernel, in the given (or current) context */
        if (!kp->kern)
            return CUDA_ERROR_INVALID_VALUE;
        f = (CUfunction)kp->kern;
        if (kp->ctx) {
            rc = sim_ctx_check(kp->ctx);
            if (rc != CUDA_SUCCESS)
                return rc;
            ctx = (struct CUctx_st *)kp->ctx;
        } else {
            rc = sim_ctx_current(&ctx);
            if (rc != CUDA_SUCCESS)
                return rc;
        }
    }
    memset(p, 0, sizeof(*p));
    uint32_t grid[3] = {kp->gridDimX, kp->gridDimY, kp->gridDimZ};
    uint32_t block[3] = {kp->blockDimX, kp->blockDimY, kp->blockDimZ};
    rc = sim_kernel_node_init(&p->k, ctx, f, grid, block, kp->sharedMemBytes, kp->kernelParams,
                              kp->extra);
    if (rc != CUDA_SUCCESS)
        return rc;
    p->type = CU_GRAPH_NODE_TYPE_KERNEL;
    p->ctx = p->k.ctx;
    p->dev = p->k.ctx->device;
    return CUDA_SUCCESS;
}

/* The fields CUDA_KERNEL_NODE_PARAMS_v1 shares with CUDA_KERNEL_NODE_PARAMS (all of v1's). */
#define KERNEL_V1_FIELDS(X)                                                                        \
    X(func);                                                                                       \
    X(gridDimX);                                                                                   \
    X(gridDimY);                                                                                   \
    X(gridDimZ);                                                                                   \
    X(blockDimX);                                                                                  \
    X(blockDimY);                                                                                  \
    X(blockDimZ);                                                                                  \
    X(sharedMemBytes);                                                                             \
    X(kernelParams);                                                                               \
    X(extra)
#define KERNEL_FIELD_COPY(field) out->field = in->field

static void kernel_params_v1(CUDA_KERNEL_NODE_PARAMS *out, const CUDA_KERNEL_NODE_PARAMS_v1 *in)
{
    memset(out, 0, sizeof(*out));
    KERNEL_V1_FIELDS(KERNEL_FIELD_COPY);
}

static CUresult ctx_arg(CUcontext c, struct CUctx_st **out)
{
    if (!c)
        return sim_ctx_current(out);
    CUresult rc = sim_ctx_check(c);
    if (rc == CUDA_SUCCESS)
        *out = (struct CUctx_st *)c;
    return rc;
}

/* The parameters of a memcpy node of graph g (its operands may be graph memory of g). */
static CUresult memcpy_params_init(struct node_params *p, const CUDA_MEMCPY3D *c, CUcontext hctx,
                                   struct CUgraph_st *g)
{
    struct CUctx_st *ctx;
    CUresult rc = ctx_arg(hctx, &ctx);
    if (rc != CUDA_SUCCESS)
        return rc;
    if (!c)
        return CUDA_ERROR_INVALID_VALUE;
    if ((rc = sim_memcpy_node_check(c, g)) != CUDA_SUCCESS)
        return rc;
    memset(p, 0, sizeof(*p));
    p->type = CU_GRAPH_NODE_TYPE_MEMCPY;
    p->ctx = ctx;
    p->dev = ctx->device;
    p->copy = *c;
    return CUDA_SUCCESS;
}

/* The parameters of a memset node of graph g (its target may be graph memory of g). */
static CUresult memset_params_init(struct node_params *p, const CUDA_MEMSET_NODE_PARAMS *m,
                                   CUcontext hctx, struct CUgraph_st *g)
{
    struct CUctx_st *ctx;
    CUresult rc = ctx_arg(hctx, &ctx);
    if (rc != CUDA_SUCCESS)
        return rc;
    if (!m)
        return CUDA_ERROR_INVALID_VALUE;
    if ((rc = sim_memset_node_check(m, g)) != CUDA_SUCCESS)
        return rc;
    memset(p, 0, sizeof(*p));
    p->type = CU_GRAPH_NODE_TYPE_MEMSET;
    p->ctx = ctx;
    p->dev = ctx->device;
    p->set = *m;
    return CUDA_SUCCESS;
}

static CUresult event_params_init(struct node_params *p, CUgraphNodeType type, CUevent ev)
{
    struct sim_event *e;
    CUresult rc = sim_event_get(ev, &e, NULL);
    if (rc != CUDA_SUCCESS)
        return rc;
    sim_event_put(e);
    memset(p, 0, sizeof(*p));
    p->type = type;
    p->ev = ev;
    return CUDA_SUCCESS;
}

static CUresult host_params_init(struct node_params *p, const CUDA_HOST_NODE_PARAMS *hp)
{
    CUresult rc = sim_process_check();
    if (rc != CUDA_SUCCESS)
        return rc;
    if (!hp || !hp->fn)
        return CUDA_ERROR_INVALID_VALUE;
    *p = (struct node_params){.type = CU_GRAPH_NODE_TYPE_HOST, .host = *hp};
    return CUDA_SUCCESS;
}

/* ---- Graphs and nodes ----------------------------------------------------------------------- */

/* Validates a graph handle; the caller holds g_glock. */
static struct CUgraph_st *graph_get_locked(CUgraph h)
{
    if (!h || !sim_handle_set_has(&g_graphs, h) || h->magic != GRAPH_MAGIC)
        return NULL;
    return h;
}

static struct CUgraphNode_st *node_get_locked(CUgraphNode h)
{
    if (!h || !sim_handle_set_has(&g_nodes, h) || h->magic != NODE_MAGIC)
        return NULL;
    return h;
}

static struct CUgraphExec_st *exec_get_locked(CUgraphExec h)
{
    if (!h || !sim_handle_set_has(&g_execs, h) || h->magic != EXEC_MAGIC)
        return NULL;
    return h;
}

static int node_has_dep(const struct CUgraphNode_st *n, const struct CUgraphNode_st *d)
{
    for (size_t i = 0; i < n->ndeps; i++)
        if (n->deps[i] == d)
            return 1;
    return 0;
}

static int node_add_dep(struct CUgraphNode_st *n, struct CUgraphNode_st *d)
{
    if (n->ndeps == n->capdeps) {
        size_t nc = n->capdeps ? n->capdeps * 2 : 4;
        struct CUgraphNode_st **nd = realloc(n->deps, nc * sizeof(*nd));
        if (!nd)
            return -1;
        n->deps = nd;
        n->capdeps = nc;
    }
    n->deps[n->ndeps++] = d;
    return 0;
}

static void node_free(struct CUgraphNode_st *n)
{
    struct sim_graph_mem *m = n->p.mem;
    if (m && n->p.type == CU_GRAPH_NODE_TYPE_MEM_ALLOC && m->owner == n->graph)
        m->owner = NULL;
    else if (m && n->p.type == CU_GRAPH_NODE_TYPE_MEM_FREE && m->owner == n->graph)
        m->owner_frees = 0;
    else if (m && n->p.type == CU_GRAPH_NODE_TYPE_MEM_FREE)
        m->other_frees--;
    sim_handle_set_del(&g_nodes, n);
    n->magic = DEAD_MAGIC;
    params_fini(&n->p);
    free(n->deps);
    free(n);
}

/* Adds a node taking over *p (cleared on success) with the given dependencies. */
static CUresult graph_add_locked(struct CUgraph_st *g, struct CUgraphNode_st *const *deps,
                                 size_t ndeps, struct node_params *p, struct CUgraphNode_st **out)
{
    if (g->n == g->cap) {
        size_t nc = g->cap ? g->cap * 2 : 16;
        struct CUgraphNode_st **nn = realloc(g->nodes, nc * sizeof(*nn));
        if (!nn)
            return CUDA_ERROR_OUT_OF_MEMORY;
        g->nodes = nn;
        g->cap = nc;
    }
    struct CUgraphNode_st *n = calloc(1, sizeof(*n));
    if (!n)
        return CUDA_ERROR_OUT_OF_MEMORY;
    n->magic = NODE_MAGIC;
    n->graph = g;
    for (size_t i = 0; i < ndeps; i++) {
        if (!node_has_dep(n, deps[i]) && node_add_dep(n, deps[i]) < 0) {
            free(n->deps);
            free(n);
            return CUDA_ERROR_OUT_OF_MEMORY;
        }
    }
    if (sim_handle_set_add(&g_nodes, n) < 0) {
        free(n->deps);
        free(n);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    n->p = *p;
    memset(p, 0, sizeof(*p));
    g->nodes[g->n++] = n;
    *out = n;
    return CUDA_SUCCESS;
}

/* Validates the dependencies of a node about to be added to g (live nodes of g, no duplicates).
 * Lock held. */
static CUresult deps_check_locked(struct CUgraph_st *g, const CUgraphNode *deps, size_t ndeps)
{
    if (ndeps && !deps)
        return CUDA_ERROR_INVALID_VALUE;
    for (size_t i = 0; i < ndeps; i++) {
        struct CUgraphNode_st *d = node_get_locked(deps[i]);
        if (!d || d->graph != g)
            return CUDA_ERROR_INVALID_VALUE;
        for (size_t j = 0; j < i; j++)
            if (deps[j] == deps[i])
                return CUDA_ERROR_INVALID_VALUE;
    }
    return CUDA_SUCCESS;
}

/* The common part of every cuGraphAdd*Node: validates the graph and the dependencies and adds
 * the node. p is released on failure. */
static CUresult graph_add(CUgraphNode *ph, CUgraph hg, const CUgraphNode *deps, size_t ndeps,
                          struct node_params *p)
{
    CUresult rc = CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&g_glock);
    struct CUgraph_st *g = graph_get_locked(hg);
    struct CUgraphNode_st *n;
    if (ph && g && (rc = deps_check_locked(g, deps, ndeps)) == CUDA_SUCCESS &&
        (rc = graph_add_locked(g, deps, ndeps, p, &n)) == CUDA_SUCCESS)
        *ph = n;
    pthread_mutex_unlock(&g_glock);
    if (rc != CUDA_SUCCESS)
        params_fini(p);
    return rc;
}

static struct CUgraph_st *graph_new_locked(void)
{
    struct CUgraph_st *g = calloc(1, sizeof(*g));
    if (!g)
        return NULL;
    g->magic = GRAPH_MAGIC;
    if (sim_handle_set_add(&g_graphs, g) < 0) {
        free(g);
        return NULL;
    }
    return g;
}

static void graph_free_locked(struct CUgraph_st *g)
{
    sim_handle_set_del(&g_graphs, g);
    g->magic = DEAD_MAGIC;
    if (g->mem_exec)
        g->mem_exec->src = NULL;
    for (size_t i = 0; i < g->n; i++)
        node_free(g->nodes[i]);
    free(g->nodes);
    free(g);
}

static size_t node_index(const struct CUgraph_st *g, const struct CUgraphNode_st *n)
{
    for (size_t i = 0; i < g->n; i++)
        if (g->nodes[i] == n)
            return i;
    return (size_t)-1;
}

/* cuGraphCreate: an empty graph; flags must be 0. */
EXPORT CUresult cuGraphCreate(CUgraph *phGraph, unsigned int flags)
{
    CUresult rc = sim_process_check();
    if (rc != CUDA_SUCCESS)
        return rc;
    if (!phGraph || flags)
        return CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&g_glock);
    struct CUgraph_st *g = graph_new_locked();
    pthread_mutex_unlock(&g_glock);
    if (!g)
        return CUDA_ERROR_OUT_OF_MEMORY;
    *phGraph = g;
    return CUDA_SUCCESS;
}

/* cuGraphDestroy: destroys the graph and its nodes. Executable graphs instantiated from it are
 * independent copies and stay valid. A graph still being captured cannot be destroyed. */
EXPORT CUresult cuGraphDestroy(CUgraph hGraph)
{
    CUresult rc = sim_process_check();
    if (rc != CUDA_SUCCESS)
        return rc;
    pthread_mutex_lock(&g_glock);
    struct CUgraph_st *g = graph_get_locked(hGraph);
    if (!g || g->capture)
        rc = CUDA_ERROR_INVALID_VALUE;
    else
        graph_free_locked(g);
    pthread_mutex_unlock(&g_glock);
    return rc;
}

/* cuGraphAddKernelNode_v2: a kernel launch; its arguments are copied now. */
EXPORT CUresult cuGraphAddKernelNode_v2(CUgraphNode *phGraphNode, CUgraph hGraph,
                                        const CUgraphNode *dependencies, size_t numDependencies,
                                        const CUDA_KERNEL_NODE_PARAMS *nodeParams)
{
    struct node_params p;
    CUresult rc = kernel_params_init(&p, nodeParams);
    if (rc != CUDA_SUCCESS)
        return rc;
    return graph_add(phGraphNode, hGraph, dependencies, numDependencies, &p);
}

/* cuGraphAddKernelNode: the CUDA 10 parameter struct. */
EXPORT CUresult cuGraphAddKernelNode(CUgraphNode *phGraphNode, CUgraph hGraph,
                                     const CUgraphNode *dependencies, size_t numDependencies,
                                     const CUDA_KERNEL_NODE_PARAMS_v1 *nodeParams)
{
    if (!nodeParams)
        return CUDA_ERROR_INVALID_VALUE;
    CUDA_KERNEL_NODE_PARAMS p;
    kernel_params_v1(&p, nodeParams);
    return cuGraphAddKernelNode_v2(phGraphNode, hGraph, dependencies, numDependencies, &p);
}

/* cuGraphAddMemcpyNode: a copy of linear memory run by ctx's device. */
EXPORT CUresult cuGraphAddMemcpyNode(CUgraphNode *phGraphNode, CUgraph hGraph,
                                     const CUgraphNode *dependencies, size_t numDependencies,
                                     const CUDA_MEMCPY3D *copyParams, CUcontext ctx)
{
    struct node_params p;
    CUresult rc = memcpy_params_init(&p, copyParams, ctx, hGraph);
    if (rc != CUDA_SUCCESS)
        return rc;
    return graph_add(phGraphNode, hGraph, dependencies, numDependencies, &p);
}

/* cuGraphAddMemsetNode: a 1D or 2D memset of 1-, 2- or 4-byte elements. */
EXPORT CUresult cuGraphAddMemsetNode(CUgraphNode *phGraphNode, CUgraph hGraph,
                                     const CUgraphNode *dependencies, size_t numDependencies,
                                     const CUDA_MEMSET_NODE_PARAMS *memsetParams, CUcontext ctx)
{
    struct node_params p;
    CUresult rc = memset_params_init(&p, memsetParams, ctx, hGraph);
    if (rc != CUDA_SUCCESS)
        return rc;
    return graph_add(phGraphNode, hGraph, dependencies, numDependencies, &p);
}

/* cuGraphAddHostNode: a host function run on the launching stream's worker. */
EXPORT CUresult cuGraphAddHostNode(CUgraphNode *phGraphNode, CUgraph hGraph,
                                   const CUgraphNode *dependencies, size_t numDependencies,
                                   const CUDA_HOST_NODE_PARAMS *nodeParams)
{
    struct node_params p;
    CUresult rc = host_params_init(&p, nodeParams);
    if (rc != CUDA_SUCCESS)
        return rc;
    return graph_add(phGraphNode, hGraph, dependencies, numDependencies, &p);
}

/* cuGraphAddEmptyNode: a node that does nothing (a join point). */
EXPORT CUresult cuGraphAddEmptyNode(CUgraphNode *phGraphNode, CUgraph hGraph,
                                    const CUgraphNode *dependencies, size_t numDependencies)
{
    CUresult rc = sim_process_check();
    if (rc != CUDA_SUCCESS)
        return rc;
    struct node_params p = { .type = CU_GRAPH_NODE_TYPE_EMPTY };
    return graph_add(phGraphNode, hGraph, dependencies, numDependencies, &p);
}

/* cuGraphAddEventRecordNode: records the event when the node runs. */
EXPORT CUresult cuGraphAddEventRecordNode(CUgraphNode *phGraphNode, CUgraph hGraph,
                                          const CUgraphNode *dependencies, size_t numDependencies,
                                          CUevent event)
{
    struct node_params p;
    CUresult rc = event_params_init(&p, CU_GRAPH_NODE_TYPE_EVENT_RECORD, event);
    if (rc != CUDA_SUCCESS)
        return rc;
    return graph_add(phGraphNode, hGraph, dependencies, numDependencies, &p);
}

/* cuGraphAddEventWaitNode: waits for the event's last record as of the graph's launch. */
EXPORT CUresult cuGraphAddEventWaitNode(CUgraphNode *phGraphNode, CUgraph hGraph,
                                        const CUgraphNode *dependencies, size_t numDependencies,
                                        CUevent event)
{
    struct node_params p;
    CUresult rc = event_params_init(&p, CU_GRAPH_NODE_TYPE_WAIT_EVENT, event);
    if (rc != CUDA_SUCCESS)
        return rc;
    return graph_add(phGraphNode, hGraph, dependencies, numDependencies, &p);
}

/* Looks up a node of the given type; the caller holds g_glock. */
static struct CUgraphNode_st *typed_node_locked(CUgraphNode h, CUgraphNodeType type)
{
    struct CUgraphNode_st *n = node_get_locked(h);
    return n && n->p.type == type ? n : NULL;
}

/* Copies one field of a node's parameters (at offset off, size bytes) to out; INVALID_VALUE when
 * the node is not of the given type or out is NULL. */
static CUresult node_field_get(CUgraphNode h, CUgraphNodeType type, size_t off, size_t size,
                               void *out)
{
    CUresult rc = sim_process_check();
    if (rc != CUDA_SUCCESS)
        return rc;
    pthread_mutex_lock(&g_glock);
    struct CUgraphNode_st *n = typed_node_locked(h, type);
    if (!n || !out)
        rc = CUDA_ERROR_INVALID_VALUE;
    else
        memcpy(out, (const char *)&n->p + off, size);
    pthread_mutex_unlock(&g_glock);
    return rc;
}

/* node_field_get for one field of struct node_params; out must point at an object of the
 * field's size (checked at compile time: a negative array size otherwise). */
#define NODE_FIELD_SIZE(field) sizeof(((struct node_params *)0)->field)
#define NODE_FIELD_GET(h, type, field, out)                                                       \
    node_field_get((h), (type), offsetof(struct node_params, field),                              \
                   NODE_FIELD_SIZE(field) +                                                       \
                       0 * sizeof(char[sizeof(*(out)) == NODE_FIELD_SIZE(field) ? 1 : -1]),       \
                   (out))

/* Replaces a node's parameters by *p (released when the node is not found). */
static CUresult node_set_params(CUgraphNode h, struct node_params *p)
{
    CUresult rc = CUDA_SUCCESS;
    pthread_mutex_lock(&g_glock);
    struct CUgraphNode_st *n = typed_node_locked(h, p->type);
    if (n) {
        params_fini(&n->p);
        n->p = *p;
    } else {
        params_fini(p);
        rc = CUDA_ERROR_INVALID_VALUE;
    }
    pthread_mutex_unlock(&g_glock);
    return rc;
}

/* cuGraphKernelNodeGetParams_v2: kernelParams points at the node's own copy of the arguments,
 * valid until the node's parameters change or it is destroyed. */
EXPORT CUresult cuGraphKernelNodeGetParams_v2(CUgraphNode hNode, CUDA_KERNEL_NODE_PARAMS *out)
{
    CUresult rc = sim_process_check();
    if (rc != CUDA_SUCCESS)
        return rc;
    pthread_mutex_lock(&g_glock);
    struct CUgraphNode_st *n = typed_node_locked(hNode, CU_GRAPH_NODE_TYPE_KERNEL);
    if (!n || !out) {
        rc = CUDA_ERROR_INVALID_VALUE;
    } else {
        const struct sim_kernel_node *k = &n->p.k;
        memset(out, 0, sizeof(*out));
        out->func = k->handle;
        out->gridDimX = k->grid[0];
        out->gridDimY = k->grid[1];
        out->gridDimZ = k->grid[2];
        out->blockDimX = k->block[0];
        out->blockDimY = k->block[1];
        out->blockDimZ = k->block[2];
        out->sharedMemBytes = k->shared;
        out->kernelParams = k->argv;
        out->ctx = (CUcontext)k->ctx;
    }
    pthread_mutex_unlock(&g_glock);
    return rc;
}

/* cuGraphKernelNodeGetParams: the CUDA 10 parameter struct. */
EXPORT CUresult cuGraphKernelNodeGetParams(CUgraphNode hNode, CUDA_KERNEL_NODE_PARAMS_v1 *out)
{
    CUDA_KERNEL_NODE_PARAMS v2;
    const CUDA_KERNEL_NODE_PARAMS *in = &v2;
    if (!out)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult rc = cuGraphKernelNodeGetParams_v2(hNode, &v2);
    if (rc != CUDA_SUCCESS)
        return rc;
    KERNEL_V1_FIELDS(KERNEL_FIELD_COPY); /* extra: NULL, as _v2 gives it */
    return CUDA_SUCCESS;
}

/* cuGraphKernelNodeSetParams_v2: new launch parameters (arguments copied now). */
EXPORT CUresult cuGraphKernelNodeSetParams_v2(CUgraphNode hNode,
                                              const CUDA_KERNEL_NODE_PARAMS *nodeParams)
{
    struct node_params p;
    CUresult rc = kernel_params_init(&p, nodeParams);
    if (rc != CUDA_SUCCESS)
        return rc;
    return node_set_params(hNode, &p);
}

/* cuGraphKernelNodeSetParams: the CUDA 10 parameter struct. */
EXPORT CUresult cuGraphKernelNodeSetParams(CUgraphNode hNode,
                                           const CUDA_KERNEL_NODE_PARAMS_v1 *nodeParams)
{
    if (!nodeParams)
        return CUDA_ERROR_INVALID_VALUE;
    CUDA_KERNEL_NODE_PARAMS p;
    kernel_params_v1(&p, nodeParams);
    return cuGraphKernelNodeSetParams_v2(hNode, &p);
}

/* cuGraphMemcpyNodeGetParams: the node's CUDA_MEMCPY3D. */
EXPORT CUresult cuGraphMemcpyNodeGetParams(CUgraphNode hNode, CUDA_MEMCPY3D *nodeParams)
{
    return NODE_FIELD_GET(hNode, CU_GRAPH_NODE_TYPE_MEMCPY, copy, nodeParams);
}

/* New parameters for a memcpy node (params: a CUDA_MEMCPY3D) or a memset node (a
 * CUDA_MEMSET_NODE_PARAMS), in the node's own context and graph. */
static CUresult ctx_node_set(CUgraphNode h, CUgraphNodeType type, const void *params)
{
    CUresult rc = sim_process_check();
    if (rc != CUDA_SUCCESS)
        return rc;
    pthread_mutex_lock(&g_glock);
    struct CUgraphNode_st *n = typed_node_locked(h, type);
    CUcontext ctx = n ? (CUcontext)n->p.ctx : NULL;
    struct CUgraph_st *g = n ? n->graph : NULL;
    pthread_mutex_unlock(&g_glock);
    if (!n)
        return CUDA_ERROR_INVALID_VALUE;
    struct node_params p;
    rc = type == CU_GRAPH_NODE_TYPE_MEMCPY ? memcpy_params_init(&p, params, ctx, g)
                                           : memset_params_init(&p, params, ctx, g);
    if (rc != CUDA_SUCCESS)
        return rc;
    return node_set_params(h, &p);
}

/* cuGraphMemcpyNodeSetParams: new copy parameters (same context). */
EXPORT CUresult cuGraphMemcpyNodeSetParams(CUgraphNode hNode, const CUDA_MEMCPY3D *nodeParams)
{
    return ctx_node_set(hNode, CU_GRAPH_NODE_TYPE_MEMCPY, nodeParams);
}

/* cuGraphMemsetNodeGetParams: the node's CUDA_MEMSET_NODE_PARAMS. */
EXPORT CUresult cuGraphMemsetNodeGetParams(CUgraphNode hNode, CUDA_MEMSET_NODE_PARAMS *nodeParams)
{
    return NODE_FIELD_GET(hNode, CU_GRAPH_NODE_TYPE_MEMSET, set, nodeParams);
}

/* cuGraphMemsetNodeSetParams: new memset parameters (same context). */
EXPORT CUresult cuGraphMemsetNodeSetParams(CUgraphNode hNode,
                                           const CUDA_MEMSET_NODE_PARAMS *nodeParams)
{
    return ctx_node_set(hNode, CU_GRAPH_NODE_TYPE_MEMSET, nodeParams);
}

/* cuGraphHostNodeGetParams: the node's function and data. */
EXPORT CUresult cuGraphHostNodeGetParams(CUgraphNode hNode, CUDA_HOST_NODE_PARAMS *nodeParams)
{
    return NODE_FIELD_GET(hNode, CU_GRAPH_NODE_TYPE_HOST, host, nodeParams);
}

/* cuGraphHostNodeSetParams: a new function and data. */
EXPORT CUresult cuGraphHostNodeSetParams(CUgraphNode hNode,
                                         const CUDA_HOST_NODE_PARAMS *nodeParams)
{
    struct node_params p;
    CUresult rc = host_params_init(&p, nodeParams);
    if (rc != CUDA_SUCCESS)
        return rc;
    return node_set_params(hNode, &p);
}

static CUresult event_node_get(CUgraphNode hNode, CUgraphNodeType type, CUevent *out)
{
    return NODE_FIELD_GET(hNode, type, ev, out);
}

static CUresult event_node_set(CUgraphNode hNode, CUgraphNodeType type, CUevent ev)
{
    struct node_params p;
    CUresult rc = event_params_init(&p, type, ev);
    if (rc != CUDA_SUCCESS)
        return rc;
    return node_set_params(hNode, &p);
}

/* cuGraphEventRecordNodeGetEvent / SetEvent, cuGraphEventWaitNodeGetEvent / SetEvent. */
EXPORT CUresult cuGraphEventRecordNodeGetEvent(CUgraphNode hNode, CUevent *event_out)
{
    return event_node_get(hNode, CU_GRAPH_NODE_TYPE_EVENT_RECORD, event_out);
}

EXPORT CUresult cuGraphEventRecordNodeSetEvent(CUgraphNode hNode, CUevent event)
{
    return event_node_set(hNode, CU_GRAPH_NODE_TYPE_EVENT_RECORD, event);
}

EXPORT CUresult cuGraphEventWaitNodeGetEvent(CUgraphNode hNode, CUevent *event_out)
{
    return event_node_get(hNode, CU_GRAPH_NODE_TYPE_WAIT_EVENT, event_out);
}

EXPORT CUresult cuGraphEventWaitNodeSetEvent(CUgraphNode hNode, CUevent event)
{
    return event_node_set(hNode, CU_GRAPH_NODE_TYPE_WAIT_EVENT, event);
}

/* ---- Memory nodes --------------------------------------------------------------------------- */

/* Adds an allocation node for bytes on device dev: the address is reserved now and fixed for the
 * node's life (pool.c). Its parameters are stored for cuGraphMemAllocNodeGetParams. */
static CUresult mem_alloc_params_init(struct node_params *p, const CUmemPoolProps *props,
                                      const CUmemAccessDesc *acc, size_t nacc, int dev,
                                      size_t bytes)
{
    memset(p, 0, sizeof(*p));
    if (nacc > SIM_MAX_DEVICES || (nacc && !acc))
        return CUDA_ERROR_INVALID_VALUE;
    for (size_t i = 0; i < nacc; i++)
        if (acc[i].location.type != CU_MEM_LOCATION_TYPE_DEVICE ||
            sim_device_check(acc[i].location.id, NULL) != CUDA_SUCCESS)
            return CUDA_ERROR_INVALID_VALUE;
    CUresult rc = sim_graph_mem_new(dev, bytes, &p->mem);
    if (rc != CUDA_SUCCESS)
        return rc;
    p->type = CU_GRAPH_NODE_TYPE_MEM_ALLOC;
    p->dev = dev;
    p->bytes = bytes;
    if (props)
        p->props = *props;
    else {
        p->props.allocType = CU_MEM_ALLOCATION_TYPE_PINNED;
        p->props.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
        p->props.location.id = dev;
    }
    if (nacc)
        memcpy(p->acc, acc, nacc * sizeof(*acc));
    p->nacc = nacc;
    return CUDA_SUCCESS;
}

/* After an allocation node n was added to g: the graph owns the allocation. Lock held. */
static void mem_alloc_added_locked(struct CUgraph_st *g, struct CUgraphNode_st *n)
{
    g->has_mem = 1;
    n->p.mem->owner = g;
}

/* Checks a free of va in g (documented: an address of an allocation node, freed at most once, in
 * its own graph or in others but not both) and fills p (referencing the allocation). Lock held. */
static CUresult mem_free_params_locked(struct node_params *p, struct CUgraph_st *g, uint64_t va)
{
    memset(p, 0, sizeof(*p));
    struct sim_graph_mem *m = sim_graph_mem_find(va);
    if (!m)
        return CUDA_ERROR_INVALID_VALUE;
    int own = m->owner == g;
    if (m->owner_frees || (own && m->other_frees)) {
        sim_graph_mem_unref(m);
        return CUDA_ERROR_INVALID_VALUE;
    }
    p->type = CU_GRAPH_NODE_TYPE_MEM_FREE;
    p->dev = m->device;
    p->mem = m;
    return CUDA_SUCCESS;
}

/* After a free node n was added to g. Lock held. */
static void mem_free_added_locked(struct CUgraph_st *g, struct CUgraphNode_st *n)
{
    g->has_mem = 1;
    if (n->p.mem->owner == g)
        n->p.mem->owner_frees = 1;
    else
        n->p.mem->other_frees++;
}

/* cuGraphAddMemAllocNode: an allocation on a device location (pinned, no export handle types);
 * its fixed address is returned in nodeParams->dptr. */
EXPORT CUresult cuGraphAddMemAllocNode(CUgraphNode *phGraphNode, CUgraph hGraph,
                                       const CUgraphNode *dependencies, size_t numDependencies,
                                       CUDA_MEM_ALLOC_NODE_PARAMS *nodeParams)
{
    CUresult rc = sim_process_check();
    if (rc != CUDA_SUCCESS)
        return rc;
    if (!phGraphNode || !nodeParams || nodeParams->bytesize == 0)
        return CUDA_ERROR_INVALID_VALUE;
    const CUmemPoolProps *pp = &nodeParams->poolProps;
    if (pp->location.type == CU_MEM_LOCATION_TYPE_HOST ||
        pp->location.type == CU_MEM_LOCATION_TYPE_HOST_NUMA) {
        LOG_DEBUG("sim", "cuGraphAddMemAllocNode: host allocations are not supported");
        return CUDA_ERROR_NOT_SUPPORTED;
    }
    if (pp->allocType != CU_MEM_ALLOCATION_TYPE_PINNED ||
        pp->location.type != CU_MEM_LOCATION_TYPE_DEVICE ||
        pp->handleTypes != CU_MEM_HANDLE_TYPE_NONE ||
        sim_device_check(pp->location.id, NULL) != CUDA_SUCCESS)
        return CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&g_glock);
    struct CUgraph_st *g = graph_get_locked(hGraph);
    if (!g || g->capture)
        rc = CUDA_ERROR_INVALID_VALUE;
    else
        rc = deps_check_locked(g, dependencies, numDependencies);
    pthread_mutex_unlock(&g_glock);
    if (rc != CUDA_SUCCESS)
        return rc;
    /* The address is reserved without the graph lock (vmm.c and pool.c take their own). */
    struct node_params p;
    if ((rc = mem_alloc_params_init(&p, pp, nodeParams->accessDescs, nodeParams->accessDescCount,
                                    pp->location.id, nodeParams->bytesize)) != CUDA_SUCCESS)
        return rc;
    CUdeviceptr va = (CUdeviceptr)p.mem->va;
    pthread_mutex_lock(&g_glock);
    struct CUgraphNode_st *n = NULL;
    g = graph_get_locked(hGraph);
    if (!g || g->capture)
        rc = CUDA_ERROR_INVALID_VALUE; /* destroyed meanwhile */
    else if ((rc = deps_check_locked(g, dependencies, numDependencies)) == CUDA_SUCCESS &&
             (rc = graph_add_locked(g, (struct CUgraphNode_st *const *)dependencies,
                                    numDependencies, &p, &n)) == CUDA_SUCCESS)
        mem_alloc_added_locked(g, n);
    pthread_mutex_unlock(&g_glock);
    if (rc != CUDA_SUCCESS) {
        params_fini(&p);
        return rc;
    }
    nodeParams->dptr = va;
    *phGraphNode = n;
    return CUDA_SUCCESS;
}

/* cuGraphMemAllocNodeGetParams: poolProps and accessDescs point into the node. */
EXPORT CUresult cuGraphMemAllocNodeGetParams(CUgraphNode hNode,
                                             CUDA_MEM_ALLOC_NODE_PARAMS *params_out)
{
    CUresult rc = sim_process_check();
    if (rc != CUDA_SUCCESS)
        return rc;
    pthread_mutex_lock(&g_glock);
    struct CUgraphNode_st *n = typed_node_locked(hNode, CU_GRAPH_NODE_TYPE_MEM_ALLOC);
    if (!n || !params_out) {
        rc = CUDA_ERROR_INVALID_VALUE;
    } else {
        params_out->poolProps = n->p.props;
        params_out->accessDescs = n->p.nacc ? n->p.acc : NULL;
        params_out->accessDescCount = n->p.nacc;
        params_out->bytesize = n->p.bytes;
        params_out->dptr = (CUdeviceptr)n->p.mem->va;
    }
    pthread_mutex_unlock(&g_glock);
    return rc;
}

/* cuGraphAddMemFreeNode: frees an allocation made by an allocation node (see
 * mem_free_params_locked for the documented rules). */
EXPORT CUresult cuGraphAddMemFreeNode(CUgraphNode *phGraphNode, CUgraph hGraph,
                                      const CUgraphNode *dependencies, size_t numDependencies,
                                      CUdeviceptr dptr)
{
    CUresult rc = sim_process_check();
    if (rc != CUDA_SUCCESS)
        return rc;
    if (!phGraphNode)
        return CUDA_ERROR_INVALID_VALUE;
    struct node_params p;
    memset(&p, 0, sizeof(p));
    struct CUgraphNode_st *n = NULL;
    pthread_mutex_lock(&g_glock);
    struct CUgraph_st *g = graph_get_locked(hGraph);
    if (!g || g->capture)
        rc = CUDA_ERROR_INVALID_VALUE;
    else if ((rc = deps_check_locked(g, dependencies, numDependencies)) == CUDA_SUCCESS &&
             (rc = mem_free_params_locked(&p, g, (uint64_t)dptr)) == CUDA_SUCCESS &&
             (rc = graph_add_locked(g, (struct CUgraphNode_st *const *)dependencies,
                                    numDependencies, &p, &n)) == CUDA_SUCCESS)
        mem_free_added_locked(g, n);
    pthread_mutex_unlock(&g_glock);
    if (rc != CUDA_SUCCESS) {
        params_fini(&p);
        return rc;
    }
    *phGraphNode = n;
    return CUDA_SUCCESS;
}

/* cuGraphMemFreeNodeGetParams: the address the node frees. */
EXPORT CUresult cuGraphMemFreeNodeGetParams(CUgraphNode hNode, CUdeviceptr *dptr_out)
{
    CUresult rc = sim_process_check();
    if (rc != CUDA_SUCCESS)
        return rc;
    pthread_mutex_lock(&g_glock);
    struct CUgraphNode_st *n = typed_node_locked(hNode, CU_GRAPH_NODE_TYPE_MEM_FREE);
    if (!n || !dptr_out)
        rc = CUDA_ERROR_INVALID_VALUE;
    else
        *dptr_out = (CUdeviceptr)n->p.mem->va;
    pthread_mutex_unlock(&g_glock);
    return rc;
}

/* cuGraphNodeGetType: the node's CUgraphNodeType. */
EXPORT CUresult cuGraphNodeGetType(CUgraphNode hNode, CUgraphNodeType *type)
{
    CUresult rc = sim_process_check();
    if (rc != CUDA_SUCCESS)
        return rc;
    pthread_mutex_lock(&g_glock);
    struct CUgraphNode_st *n = node_get_locked(hNode);
    if (!n || !type)
        rc = CUDA_ERROR_INVALID_VALUE;
    else
        *type = n->p.type;
    pthread_mutex_unlock(&g_glock);
    return rc;
}

/* Writes up to *num handles of a list of count (all when out is NULL), as the graph queries
 * document: with out NULL *num gets the count; a larger *num is lowered to the count and the
 * slots past it are set to NULL. */
static void list_out(CUgraphNode *out, size_t *num, CUgraphNode const *items, size_t count)
{
    if (!out) {
        *num = count;
        return;
    }
    for (size_t i = 0; i < *num; i++)
        out[i] = i < count ? items[i] : NULL;
    if (*num > count)
        *num = count;
}

/* cuGraphGetNodes: the graph's nodes in creation order. */
EXPORT CUresult cuGraphGetNodes(CUgraph hGraph, CUgraphNode *nodes, size_t *numNodes)
{
    CUresult rc = sim_process_check();
    if (rc != CUDA_SUCCESS)
        return rc;
    pthread_mutex_lock(&g_glock);
    struct CUgraph_st *g = graph_get_locked(hGraph);
    if (!g || !numNodes)
        rc = CUDA_ERROR_INVALID_VALUE;
    else
        list_out(nodes, numNodes, (CUgraphNode const *)g->nodes, g->n);
    pthread_mutex_unlock(&g_glock);
    return rc;
}

/* cuGraphGetRootNodes: the nodes without dependencies. */
EXPORT CUresult cuGraphGetRootNodes(CUgraph hGraph, CUgraphNode *rootNodes, size_t *numRootNodes)
{
    CUresult rc = sim_process_check();
    if (rc != CUDA_SUCCESS)
        return rc;
    pthread_mutex_lock(&g_glock);
    struct CUgraph_st *g = graph_get_locked(hGraph);
    CUgraphNode *roots = g ? calloc(g->n + 1, sizeof(*roots)) : NULL;
    if (!g || !numRootNodes) {
        rc = CUDA_ERROR_INVALID_VALUE;
    } else if (!roots) {
        rc = CUDA_ERROR_OUT_OF_MEMORY;
    } else {
        size_t k = 0;
        for (size_t i = 0; i < g->n; i++)
            if (!g->nodes[i]->ndeps)
                roots[k++] = g->nodes[i];
        list_out(rootNodes, numRootNodes, roots, k);
    }
    pthread_mutex_unlock(&g_glock);
    free(roots);
    return rc;
}

static CUresult edge_data_check(const CUgraphEdgeData *e, size_t n)
{
    static const CUgraphEdgeData zero;
    for (size_t i = 0; e && i < n; i++)
        if (memcmp(&e[i], &zero, sizeof(zero)))
            return CUDA_ERROR_INVALID_VALUE; /* only default edges exist here */
    return CUDA_SUCCESS;
}

/* cuGraphGetEdges_v2: every (from, to) dependency; edge data, when asked for, is all default. */
EXPORT CUresult cuGraphGetEdges_v2(CUgraph hGraph, CUgraphNode *from, CUgraphNode *to,
                                   CUgraphEdgeData *edgeData, size_t *numEdges)
{
    CUresult rc = sim_process_check();
    if (rc != CUDA_SUCCESS)
        return rc;
    if (!numEdges || (!from != !to) || (edgeData && !from))
        return CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&g_glock);
    struct CUgraph_st *g = graph_get_locked(hGraph);
    if (!g) {
        rc = CUDA_ERROR_INVALID_VALUE;
        goto out;
    }
    size_t count = 0;
    for (size_t i = 0; i < g->n; i++)
        count += g->nodes[i]->ndeps;
    if (!from) {
        *numEdges = count;
        goto out;
    }
    size_t k = 0;
    for (size_t i = 0; i < g->n; i++) {
        for (size_t j = 0; j < g->nodes[i]->ndeps; j++, k++) {
            if (k >= *numEdges)
                continue;
            from[k] = g->nodes[i]->deps[j];
            to[k] = g->nodes[i];
            if (edgeData)
                memset(&edgeData[k], 0, sizeof(edgeData[k]));
        }
    }
    for (; k < *numEdges; k++) {
        from[k] = to[k] = NULL;
        if (edgeData)
            memset(&edgeData[k], 0, sizeof(edgeData[k]));
    }
    if (*numEdges > count)
        *numEdges = count;
out:
    pthread_mutex_unlock(&g_glock);
    return rc;
}

/* cuGraphGetEdges: without edge data. */
EXPORT CUresult cuGraphGetEdges(CUgraph hGraph, CUgraphNode *from, CUgraphNode *to,
                                size_t *numEdges)
{
    return cuGraphGetEdges_v2(hGraph, from, to, NULL, numEdges);
}

static CUresult node_relatives(CUgraphNode hNode, CUgraphNode *out, CUgraphEdgeData *edata,
                               size_t *num, int dependents)
{
    CUresult rc = sim_process_check();
    if (rc != CUDA_SUCCESS)
        return rc;
    if (!num || (edata && !out))
        return CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&g_glock);
    struct CUgraphNode_st *n = node_get_locked(hNode);
    CUgraphNode *list = n ? calloc(n->graph->n + 1, sizeof(*list)) : NULL;
    if (!n) {
        rc = CUDA_ERROR_INVALID_VALUE;
    } else if (!list) {
        rc = CUDA_ERROR_OUT_OF_MEMORY;
    } else {
        size_t k = 0;
        if (dependents) {
            for (size_t i = 0; i < n->graph->n; i++)
                if (node_has_dep(n->graph->nodes[i], n))
                    list[k++] = n->graph->nodes[i];
        } else {
            for (size_t i = 0; i < n->ndeps; i++)
                list[k++] = n->deps[i];
        }
        size_t want = *num;
        list_out(out, num, list, k);
        for (size_t i = 0; edata && i < want; i++)
            memset(&edata[i], 0, sizeof(edata[i]));
    }
    pthread_mutex_unlock(&g_glock);
    free(list);
    return rc;
}

/* cuGraphNodeGetDependencies(_v2) / cuGraphNodeGetDependentNodes(_v2). */
EXPORT CUresult cuGraphNodeGetDependencies_v2(CUgraphNode hNode, CUgraphNode *dependencies,
                                              CUgraphEdgeData *edgeData, size_t *numDependencies)
{
    return node_relatives(hNode, dependencies, edgeData, numDependencies, 0);
}

EXPORT CUresult cuGraphNodeGetDependencies(CUgraphNode hNode, CUgraphNode *dependencies,
                                           size_t *numDependencies)
{
    return node_relatives(hNode, dependencies, NULL, numDependencies, 0);
}

EXPORT CUresult cuGraphNodeGetDependentNodes_v2(CUgraphNode hNode, CUgraphNode *dependentNodes,
                                                CUgraphEdgeData *edgeData,
                                                size_t *numDependentNodes)
{
    return node_relatives(hNode, dependentNodes, edgeData, numDependentNodes, 1);
}

EXPORT CUresult cuGraphNodeGetDependentNodes(CUgraphNode hNode, CUgraphNode *dependentNodes,
                                             size_t *numDependentNodes)
{
    return node_relatives(hNode, dependentNodes, NULL, numDependentNodes, 1);
}

/* Adds (add) or removes edges; all are checked before any is changed. */
static CUresult edges_change(CUgraph hGraph, const CUgraphNode *from, const CUgraphNode *to,
                             const CUgraphEdgeData *edata, size_t n, int add)
{
    CUresult rc = sim_process_check();
    if (rc != CUDA_SUCCESS)
        return rc;
    if (n && (!from || !to))
        return CUDA_ERROR_INVALID_VALUE;
    if ((rc = edge_data_check(edata, n)) != CUDA_SUCCESS)
        return rc;
    pthread_mutex_lock(&g_glock);
    struct CUgraph_st *g = graph_get_locked(hGraph);
    if (!g || (!add && g->has_mem)) { /* documented: no edge removal with memory nodes */
        rc = CUDA_ERROR_INVALID_VALUE;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        struct CUgraphNode_st *f = node_get_locked(from[i]), *t = node_get_locked(to[i]);
        if (!f || !t || f->graph != g || t->graph != g || f == t ||
            node_has_dep(t, f) == add) {
            rc = CUDA_ERROR_INVALID_VALUE;
            goto out;
        }
        for (size_t j = 0; j < i; j++)
            if (from[j] == from[i] && to[j] == to[i]) {
                rc = CUDA_ERROR_INVALID_VALUE;
                goto out;
            }
    }
    for (size_t i = 0; i < n; i++) {
        struct CUgraphNode_st *t = to[i];
        if (add) {
            if (node_add_dep(t, from[i]) < 0) {
                rc = CUDA_ERROR_OUT_OF_MEMORY;
                goto out;
            }
        } else {
            for (size_t j = 0; j < t->ndeps; j++)
                if (t->deps[j] == from[i]) {
                    memmove(&t->deps[j], &t->deps[j + 1], (t->ndeps - j - 1) * sizeof(*t->deps));
                    t->ndeps--;
                    break;
                }
        }
    }
out:
    pthread_mutex_unlock(&g_glock);
    return rc;
}

/* cuGraphAddDependencies(_v2) / cuGraphRemoveDependencies(_v2): to[i] depends on from[i]. */
EXPORT CUresult cuGraphAddDependencies_v2(CUgraph hGraph, const CUgraphNode *from,
                                          const CUgraphNode *to, const CUgraphEdgeData *edgeData,
                                          size_t numDependencies)
{
    return edges_change(hGraph, from, to, edgeData, numDependencies, 1);
}

EXPORT CUresult cuGraphAddDependencies(CUgraph hGraph, const CUgraphNode *from,
                                       const CUgraphNode *to, size_t numDependencies)
{
    return edges_change(hGraph, from, to, NULL, numDependencies, 1);
}

EXPORT CUresult cuGraphRemoveDependencies_v2(CUgraph hGraph, const CUgraphNode *from,
                                             const CUgraphNode *to,
                                             const CUgraphEdgeData *edgeData,
                                             size_t numDependencies)
{
    return edges_change(hGraph, from, to, edgeData, numDependencies, 0);
}

EXPORT CUresult cuGraphRemoveDependencies(CUgraph hGraph, const CUgraphNode *from,
                                          const CUgraphNode *to, size_t numDependencies)
{
    return edges_change(hGraph, from, to, NULL, numDependencies, 0);
}

/* cuGraphDestroyNode: removes the node and every edge to or from it. */
EXPORT CUresult cuGraphDestroyNode(CUgraphNode hNode)
{
    CUresult rc = sim_process_check();
    if (rc != CUDA_SUCCESS)
        return rc;
    pthread_mutex_lock(&g_glock);
    struct CUgraphNode_st *n = node_get_locked(hNode);
    /* Node removal is not permitted during capture nor in graphs with memory nodes. */
    if (!n || n->graph->capture || n->graph->has_mem) {
        rc = CUDA_ERROR_INVALID_VALUE;
        goto out;
    }
    struct CUgraph_st *g = n->graph;
    size_t at = node_index(g, n);
    memmove(&g->nodes[at], &g->nodes[at + 1], (g->n - at - 1) * sizeof(*g->nodes));
    g->n--;
    for (size_t i = 0; i < g->n; i++) {
        struct CUgraphNode_st *m = g->nodes[i];
        for (size_t j = 0; j < m->ndeps; j++)
            if (m->deps[j] == n) {
                memmove(&m->deps[j], &m->deps[j + 1], (m->ndeps - j - 1) * sizeof(*m->deps));
                m->ndeps--;
                break;
            }
    }
    node_free(n);
out:
    pthread_mutex_unlock(&g_glock);
    return rc;
}

/* cuGraphClone: a deep copy; nodes of the copy remember their originals. */
EXPORT CUresult cuGraphClone(CUgraph *phGraphClone, CUgraph originalGraph)
{
    CUresult rc = sim_process_check();
    if (rc != CUDA_SUCCESS)
        return rc;
    pthread_mutex_lock(&g_glock);
    struct CUgraph_st *g = graph_get_locked(originalGraph), *c = NULL;
    if (!g || !phGraphClone) {
        rc = CUDA_ERROR_INVALID_VALUE;
        goto out;
    }
    if (g->has_mem) { /* documented: graphs with memory nodes cannot be cloned */
        rc = CUDA_ERROR_NOT_SUPPORTED;
        goto out;
    }
    if (!(c = graph_new_locked())) {
        rc = CUDA_ERROR_OUT_OF_MEMORY;
        goto out;
    }
    for (size_t i = 0; i < g->n && rc == CUDA_SUCCESS; i++) {
        struct node_params p;
        struct CUgraphNode_st *n;
        if ((rc = params_copy(&p, &g->nodes[i]->p)) != CUDA_SUCCESS)
            break;
        if ((rc = graph_add_locked(c, NULL, 0, &p, &n)) != CUDA_SUCCESS) {
            params_fini(&p);
            break;
        }
        n->clone_of = g->nodes[i];
    }
    for (size_t i = 0; i < g->n && rc == CUDA_SUCCESS; i++)
        for (size_t j = 0; j < g->nodes[i]->ndeps && rc == CUDA_SUCCESS; j++)
            if (node_add_dep(c->nodes[i], c->nodes[node_index(g, g->nodes[i]->deps[j])]) < 0)
                rc = CUDA_ERROR_OUT_OF_MEMORY;
    if (rc != CUDA_SUCCESS)
        graph_free_locked(c);
    else
        *phGraphClone = c;
out:
    pthread_mutex_unlock(&g_glock);
    return rc;
}

/* cuGraphNodeFindInClone: the node of a clone made from hOriginalNode. */
EXPORT CUresult cuGraphNodeFindInClone(CUgraphNode *phNode, CUgraphNode hOriginalNode,
                                       CUgraph hClonedGraph)
{
    CUresult rc = sim_process_check();
    if (rc != CUDA_SUCCESS)
        return rc;
    pthread_mutex_lock(&g_glock);
    struct CUgraph_st *c = graph_get_locked(hClonedGraph);
    rc = CUDA_ERROR_INVALID_VALUE;
    for (size_t i = 0; c && phNode && i < c->n; i++)
        if (c->nodes[i]->clone_of == hOriginalNode) {
            *phNode = c->nodes[i];
            rc = CUDA_SUCCESS;
            break;
        }
    pthread_mutex_unlock(&g_glock);
    return rc;
}

/* ---- Executable graphs ---------------------------------------------------------------------- */

static void exec_nodes_free(struct exec_node *nodes, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        params_fini(&nodes[i].p);
        free(nodes[i].deps);
    }
    free(nodes);
}

/* Orders the graph's nodes topologically (Kahn; ties in creation order) into order[]; -1 when
 * the dependencies form a cycle. */
static int topo_order(const struct CUgraph_st *g, size_t *order)
{
    size_t n = g->n, k = 0;
    unsigned char *done = calloc(n + 1, 1);
    if (!done)
        return -2;
    while (k < n) {
        size_t before = k;
        for (size_t i = 0; i < n; i++) {
            if (done[i])
                continue;
            int ready = 1;
            for (size_t j = 0; j < g->nodes[i]->ndeps && ready; j++)
                ready = done[node_index(g, g->nodes[i]->deps[j])] == 1;
            if (ready) {
                done[i] = 2; /* placed in this round: not a dependency of this round's nodes */
                order[k++] = i;
            }
        }
        for (size_t i = 0; i < n; i++)
            if (done[i] == 2)
                done[i] = 1;
        if (k == before) {
            free(done);
            return -1;
        }
    }
    free(done);
    return 0;
}

/* Builds an executable's nodes from a graph; the caller holds g_glock. */
static CUresult exec_build_locked(const struct CUgraph_st *g, struct exec_node **out,
                                  CUgraphNode *err_node)
{
    size_t n = g->n;
    size_t *order = calloc(n + 1, sizeof(*order)), *pos = calloc(n + 1, sizeof(*pos));
    struct exec_node *nodes = calloc(n + 1, sizeof(*nodes));
    CUresult rc = CUDA_SUCCESS;
    if (!order || !pos || !nodes) {
        rc = CUDA_ERROR_OUT_OF_MEMORY;
        goto out;
    }
    int t = topo_order(g, order);
    if (t < 0) {
        rc = t == -1 ? CUDA_ERROR_INVALID_VALUE : CUDA_ERROR_OUT_OF_MEMORY;
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        pos[order[i]] = i;
    for (size_t i = 0; i < n; i++) {
        const struct CUgraphNode_st *gn = g->nodes[order[i]];
        struct exec_node *e = &nodes[i];
        e->orig = (CUgraphNode)gn;
        e->gidx = order[i];
        e->enabled = 1;
        if ((rc = params_copy(&e->p, &gn->p)) != CUDA_SUCCESS) {
            if (err_node)
                *err_node = (CUgraphNode)gn;
            goto out;
        }
        if (e->p.type == CU_GRAPH_NODE_TYPE_MEM_ALLOC) /* not freed in its own graph */
            e->p.escapes = !(e->p.mem->owner == g && e->p.mem->owner_frees);
        else if (e->p.type == CU_GRAPH_NODE_TYPE_MEM_FREE) /* frees another graph's memory */
            e->p.escapes = e->p.mem->owner != g;
        e->ndeps = gn->ndeps;
        e->deps = calloc(gn->ndeps + 1, sizeof(*e->deps));
        if (!e->deps) {
            rc = CUDA_ERROR_OUT_OF_MEMORY;
            goto out;
        }
        for (size_t j = 0; j < gn->ndeps; j++)
            e->deps[j] = pos[node_index(g, gn->deps[j])];
    }
    *out = nodes;
    nodes = NULL;
out:
    if (nodes)
        exec_nodes_free(nodes, n);
    free(order);
    free(pos);
    return rc;
}

#define KNOWN_INSTANTIATE_FLAGS                                                                    \
    (CUDA_GRAPH_INSTANTIATE_FLAG_AUTO_FREE_ON_LAUNCH | CUDA_GRAPH_INSTANTIATE_FLAG_UPLOAD |        \
     CUDA_GRAPH_INSTANTIATE_FLAG_DEVICE_LAUNCH | CUDA_GRAPH_INSTANTIATE_FLAG_USE_NODE_PRIORITY)

static CUresult instantiate(CUgraphExec *ph, CUgraph hg, cuuint64_t flags, CUgraphNode *err_node,
                            CUgraphInstantiateResult *result)
{
    CUresult rc = sim_process_check();
    if (rc != CUDA_SUCCESS)
        return rc;
    if (result)
        *result = CUDA_GRAPH_INSTANTIATE_ERROR;
    if (!ph || (flags & ~(cuuint64_t)KNOWN_INSTANTIATE_FLAGS))
        return CUDA_ERROR_INVALID_VALUE;
    if (flags & CUDA_GRAPH_INSTANTIATE_FLAG_DEVICE_LAUNCH) {
        LOG_DEBUG("sim", "cuGraphInstantiate: device-launchable graphs are not supported");
        if (result)
            *result = CUDA_GRAPH_INSTANTIATE_NODE_OPERATION_NOT_SUPPORTED;
        return CUDA_ERROR_NOT_SUPPORTED;
    }
    struct CUgraphExec_st *x = calloc(1, sizeof(*x));
    if (!x)
        return CUDA_ERROR_OUT_OF_MEMORY;
    x->magic = EXEC_MAGIC;
    x->flags = flags;
    pthread_mutex_lock(&g_glock);
    struct CUgraph_st *g = graph_get_locked(hg);
    if (!g) {
        rc = CUDA_ERROR_INVALID_VALUE;
        goto out;
    }
    if (g->has_mem && g->mem_exec) {
        /* Documented: a graph with memory nodes has at most one executable at a time. */
        LOG_DEBUG("sim", "cuGraphInstantiate: graph with memory nodes is already instantiated");
        goto out_inval;
    }
    if ((rc = exec_build_locked(g, &x->nodes, err_node)) != CUDA_SUCCESS) {
        if (result && rc == CUDA_ERROR_INVALID_VALUE)
            *result = CUDA_GRAPH_INSTANTIATE_INVALID_STRUCTURE;
        goto out;
    }
    x->n = g->n;
    if (sim_handle_set_add(&g_execs, x) < 0) {
        exec_nodes_free(x->nodes, x->n);
        rc = CUDA_ERROR_OUT_OF_MEMORY;
        goto out;
    }
    if (g->has_mem) {
        g->mem_exec = x;
        x->src = g;
    }
    *ph = x;
    if (result)
        *result = CUDA_GRAPH_INSTANTIATE_SUCCESS;
    goto out;
out_inval:
    rc = CUDA_ERROR_INVALID_VALUE;
out:
    pthread_mutex_unlock(&g_glock);
    if (rc != CUDA_SUCCESS)
        free(x);
    return rc;
}

/* cuGraphInstantiateWithFlags (what cuda.h's cuGraphInstantiate maps to). */
EXPORT CUresult cuGraphInstantiateWithFlags(CUgraphExec *phGraphExec, CUgraph hGraph,
                                            unsigned long long flags)
{
    return instantiate(phGraphExec, hGraph, flags, NULL, NULL);
}

/* cuGraphInstantiate / _v2: the CUDA 10/11 exports, with an error node and a log buffer. */
static CUresult instantiate_log(CUgraphExec *ph, CUgraph hg, CUgraphNode *err_node, char *log,
                                size_t len)
{
    if (err_node)
        *err_node = NULL;
    CUresult rc = instantiate(ph, hg, 0, err_node, NULL);
    if (log && len)
        snprintf(log, len, "%s", rc == CUDA_SUCCESS ? "" : "graph could not be instantiated");
    return rc;
}

EXPORT CUresult cuGraphInstantiate(CUgraphExec *phGraphExec, CUgraph hGraph,
                                   CUgraphNode *phErrorNode, char *logBuffer, size_t bufferSize)
{
    return instantiate_log(phGraphExec, hGraph, phErrorNode, logBuffer, bufferSize);
}

EXPORT CUresult cuGraphInstantiate_v2(CUgraphExec *phGraphExec, CUgraph hGraph,
                                      CUgraphNode *phErrorNode, char *logBuffer, size_t bufferSize)
{
    return instantiate_log(phGraphExec, hGraph, phErrorNode, logBuffer, bufferSize);
}

static CUresult instantiate_params(CUgraphExec *ph, CUgraph hg, CUDA_GRAPH_INSTANTIATE_PARAMS *p,
                                   int ptds)
{
    CUresult rc = sim_process_check();
    if (rc != CUDA_SUCCESS)
        return rc;
    if (!p)
        return CUDA_ERROR_INVALID_VALUE;
    p->hErrNode_out = NULL;
    if (p->flags & CUDA_GRAPH_INSTANTIATE_FLAG_UPLOAD) {
        /* Uploading does nothing here, but the stream must be valid. */
        if ((rc = sim_stream_resolve(p->hUploadStream, ptds, NULL, NULL)) != CUDA_SUCCESS) {
            p->result_out = CUDA_GRAPH_INSTANTIATE_ERROR;
            return rc;
        }
    }
    return instantiate(ph, hg, p->flags, &p->hErrNode_out, &p->result_out);
}

/* cuGraphInstantiateWithParams (+ _ptsz): flags, upload stream and a result code. */
EXPORT CUresult cuGraphInstantiateWithParams(CUgraphExec *phGraphExec, CUgraph hGraph,
                                             CUDA_GRAPH_INSTANTIATE_PARAMS *instantiateParams)
{
    return instantiate_params(phGraphExec, hGraph, instantiateParams, 0);
}

EXPORT CUresult cuGraphInstantiateWithParams_ptsz(CUgraphExec *phGraphExec, CUgraph hGraph,
                                                  CUDA_GRAPH_INSTANTIATE_PARAMS *instantiateParams)
{
    return instantiate_params(phGraphExec, hGraph, instantiateParams, 1);
}

/* cuGraphExecGetFlags: the flags it was instantiated with. */
EXPORT CUresult cuGraphExecGetFlags(CUgraphExec hGraphExec, cuuint64_t *flags)
{
    CUresult rc = sim_process_check();
    if (rc != CUDA_SUCCESS)
        return rc;
    pthread_mutex_lock(&g_glock);
    struct CUgraphExec_st *x = exec_get_locked(hGraphExec);
    if (!x || !flags)
        rc = CUDA_ERROR_INVALID_VALUE;
    else
        *flags = x->flags;
    pthread_mutex_unlock(&g_glock);
    return rc;
}

/* cuGraphExecDestroy: launches already queued still run (they own their copies). */
EXPORT CUresult cuGraphExecDestroy(CUgraphExec hGraphExec)
{
    CUresult rc = sim_process_check();
    if (rc != CUDA_SUCCESS)
        return rc;
    struct sim_stream *last = NULL;
    pthread_mutex_lock(&g_glock);
    struct CUgraphExec_st *x = exec_get_locked(hGraphExec);
    if (!x) {
        rc = CUDA_ERROR_INVALID_VALUE;
    } else {
        sim_handle_set_del(&g_execs, x);
        x->magic = DEAD_MAGIC;
        if (x->src)
            x->src->mem_exec = NULL;
        exec_nodes_free(x->nodes, x->n);
        last = x->last;
        free(x);
    }
    pthread_mutex_unlock(&g_glock);
    if (last)
        sim_stream_unref(last);
    return rc;
}

/* ---- Launch --------------------------------------------------------------------------------- */

struct run_node {
    struct node_params p;
    int enabled;
    struct sim_event *ev;      /* record / wait nodes: referenced */
    uint64_t gen;              /* record: the record's generation */
    struct sim_stream *ws;     /* wait: what the event captured at launch (referenced) */
    uint64_t wseq;
};

/* One launch of an executable graph: a stream op owning a copy of the nodes. */
struct graph_run {
    struct sim_op op;
    size_t n;
    struct run_node nodes[];
};

static CUresult graph_run_run(struct sim_op *op)
{
    struct graph_run *r = (struct graph_run *)op;
    for (size_t i = 0; i < r->n; i++) {
        struct run_node *rn = &r->nodes[i];
        CUresult rc = CUDA_SUCCESS;
        if (!rn->enabled)
            continue;
        switch (rn->p.type) {
        case CU_GRAPH_NODE_TYPE_KERNEL:
            rc = sim_kernel_node_run(&rn->p.k);
            break;
        case CU_GRAPH_NODE_TYPE_MEMCPY:
            rc = sim_memcpy_node_run(&rn->p.copy, rn->p.dev);
            break;
        case CU_GRAPH_NODE_TYPE_MEMSET:
            rc = sim_memset_node_run(&rn->p.set, rn->p.dev);
            break;
        case CU_GRAPH_NODE_TYPE_HOST:
            rn->p.host.fn(rn->p.host.userData);
            break;
        case CU_GRAPH_NODE_TYPE_EVENT_RECORD:
            sim_event_stamp(rn->ev, rn->gen);
            break;
        case CU_GRAPH_NODE_TYPE_WAIT_EVENT:
            if (rn->ws)
                (void)sim_stream_wait_seq(rn->ws, rn->wseq);
            break;
        case CU_GRAPH_NODE_TYPE_MEM_ALLOC:
            rc = sim_graph_mem_alloc_run(rn->p.mem);
            break;
        case CU_GRAPH_NODE_TYPE_MEM_FREE:
            sim_graph_mem_free_run(rn->p.mem);
            break;
        default:
            break;
        }
        if (rc != CUDA_SUCCESS)
            return rc; /* later nodes do not run; the error becomes sticky */
    }
    return CUDA_SUCCESS;
}

static void graph_run_free(struct graph_run *r)
{
    for (size_t i = 0; i < r->n; i++) {
        struct run_node *rn = &r->nodes[i];
        if (rn->ev)
            sim_event_put(rn->ev);
        if (rn->ws)
            sim_stream_unref(rn->ws);
        params_fini(&rn->p);
    }
    free(r);
}

static void graph_run_release(struct sim_op *op)
{
    graph_run_free((struct graph_run *)op);
}

static CUresult graph_launch(CUgraphExec hExec, CUstream hStream, int ptds)
{
    struct CUctx_st *ctx;
    struct sim_stream *s;
    CUresult rc = sim_stream_resolve(hStream, ptds, &ctx, &s);
    if (rc != CUDA_SUCCESS)
        return rc;
    if ((rc = sim_ctx_sticky(ctx)) != CUDA_SUCCESS)
        return rc;
    if (atomic_load(&sim_capture_streams)) {
        int capturing = 0;
        if ((rc = sim_capture_check(s, 0, &capturing)) != CUDA_SUCCESS)
            return rc;
        if (capturing) {
            LOG_DEBUG("sim", "cuGraphLaunch: launching a graph into a capture is not supported");
            return CUDA_ERROR_NOT_SUPPORTED;
        }
    }

    pthread_mutex_lock(&g_glock);
    struct CUgraphExec_st *x = exec_get_locked(hExec);
    struct graph_run *r = NULL;
    if (!x) {
        rc = CUDA_ERROR_INVALID_VALUE;
        goto out;
    }
    r = calloc(1, sizeof(*r) + x->n * sizeof(r->nodes[0]));
    if (!r) {
        rc = CUDA_ERROR_OUT_OF_MEMORY;
        goto out;
    }
    r->op.run = graph_run_run;
    r->op.release = graph_run_release;
    /* Documented: an allocation of this executable left unfreed by an earlier launch makes the
     * launch fail, unless instantiated with AUTO_FREE_ON_LAUNCH. */
    for (size_t i = 0; i < x->n; i++)
        if (x->nodes[i].p.type == CU_GRAPH_NODE_TYPE_MEM_ALLOC && x->nodes[i].p.escapes &&
            !(x->flags & CUDA_GRAPH_INSTANTIATE_FLAG_AUTO_FREE_ON_LAUNCH) &&
            sim_graph_mem_outstanding(x->nodes[i].p.mem)) {
            rc = CUDA_ERROR_INVALID_VALUE;
            goto out;
        }
    for (size_t i = 0; i < x->n; i++) {
        struct run_node *rn = &r->nodes[i];
        if ((rc = params_copy(&rn->p, &x->nodes[i].p)) != CUDA_SUCCESS)
            goto out;
        r->n = i + 1;
        rn->enabled = x->nodes[i].enabled;
        if (rn->p.type == CU_GRAPH_NODE_TYPE_KERNEL &&
            sim_ctx_check((CUcontext)rn->p.k.ctx) != CUDA_SUCCESS) {
            rc = CUDA_ERROR_CONTEXT_IS_DESTROYED;
            goto out;
        }
        if (rn->enabled && (rn->p.type == CU_GRAPH_NODE_TYPE_EVENT_RECORD ||
                            rn->p.type == CU_GRAPH_NODE_TYPE_WAIT_EVENT)) {
            if ((rc = sim_event_get(rn->p.ev, &rn->ev, NULL)) != CUDA_SUCCESS)
                goto out;
            if (rn->p.type == CU_GRAPH_NODE_TYPE_WAIT_EVENT)
                sim_event_last(rn->ev, &rn->ws, &rn->wseq);
        }
    }
    for (size_t i = 0; i < r->n; i++)
        if (r->nodes[i].ev && r->nodes[i].p.type == CU_GRAPH_NODE_TYPE_EVENT_RECORD)
            r->nodes[i].gen = sim_event_record_begin(r->nodes[i].ev);
    /* The records point at this op once it is queued, and the op may have run and freed its
     * copy by then: keep the recorded events referenced until they are committed. */
    size_t nrec = 0;
    for (size_t i = 0; i < r->n; i++)
        nrec += r->nodes[i].ev && r->nodes[i].p.type == CU_GRAPH_NODE_TYPE_EVENT_RECORD;
    struct sim_event **rec = nrec ? calloc(nrec, sizeof(*rec)) : NULL;
    uint64_t *gens = nrec ? calloc(nrec, sizeof(*gens)) : NULL;
    if (nrec && (!rec || !gens)) {
        free(rec);
        free(gens);
        rc = CUDA_ERROR_OUT_OF_MEMORY;
        goto out;
    }
    nrec = 0;
    for (size_t i = 0; i < r->n; i++)
        if (r->nodes[i].ev && r->nodes[i].p.type == CU_GRAPH_NODE_TYPE_EVENT_RECORD) {
            if (sim_event_get((CUevent)r->nodes[i].ev, &rec[nrec], NULL) != CUDA_SUCCESS)
                continue; /* cannot happen: r holds a reference and the handle is live */
            gens[nrec++] = r->nodes[i].gen;
        }
    uint64_t seq = 0;
    rc = sim_stream_enqueue_after(s, &r->op, x->last, x->last_seq, &seq);
    if (rc == CUDA_SUCCESS) {
        for (size_t i = 0; i < x->n; i++) {
            const struct node_params *np = &x->nodes[i].p;
            if (np->type == CU_GRAPH_NODE_TYPE_MEM_ALLOC && np->escapes)
                sim_graph_mem_set_outstanding(np->mem, 1);
            else if (np->type == CU_GRAPH_NODE_TYPE_MEM_FREE && np->escapes)
                sim_graph_mem_set_outstanding(np->mem, 0);
        }
        r = NULL; /* owned by the stream now */
        sim_stream_ref(s);
        if (x->last)
            sim_stream_unref(x->last);
        x->last = s;
        x->last_seq = seq;
    }
    for (size_t i = 0; i < nrec; i++) {
        if (rc == CUDA_SUCCESS)
            sim_event_record_commit(rec[i], gens[i], s, seq);
        sim_event_put(rec[i]);
    }
    free(rec);
    free(gens);
out:
    pthread_mutex_unlock(&g_glock);
    if (r)
        graph_run_free(r);
    return rc;
}

/* cuGraphLaunch (+ _ptsz): runs the graph in stream order after the stream's earlier work and
 * the executable's earlier launches. */
EXPORT CUresult cuGraphLaunch(CUgraphExec hGraphExec, CUstream hStream)
{
    return graph_launch(hGraphExec, hStream, 0);
}

EXPORT CUresult cuGraphLaunch_ptsz(CUgraphExec hGraphExec, CUstream hStream)
{
    return graph_launch(hGraphExec, hStream, 1);
}

static CUresult graph_upload(CUgraphExec hExec, CUstream hStream, int ptds)
{
    CUresult rc = sim_stream_resolve(hStream, ptds, NULL, NULL);
    if (rc != CUDA_SUCCESS)
        return rc;
    pthread_mutex_lock(&g_glock);
    if (!exec_get_locked(hExec))
        rc = CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_unlock(&g_glock);
    return rc;
}

/* cuGraphUpload (+ _ptsz): nothing to upload to a simulated device; validates the handles. */
EXPORT CUresult cuGraphUpload(CUgraphExec hGraphExec, CUstream hStream)
{
    return graph_upload(hGraphExec, hStream, 0);
}

EXPORT CUresult cuGraphUpload_ptsz(CUgraphExec hGraphExec, CUstream hStream)
{
    return graph_upload(hGraphExec, hStream, 1);
}

/* ---- Executable updates --------------------------------------------------------------------- */

static struct exec_node *exec_find(struct CUgraphExec_st *x, CUgraphNode orig)
{
    for (size_t i = 0; i < x->n; i++)
        if (x->nodes[i].orig == orig)
            return &x->nodes[i];
    return NULL;
}

/* Replaces the parameters of hNode's copy in the executable by *p, which must be of the same
 * type (and context, for kernels); *p is consumed. */
static CUresult exec_set(CUgraphExec hExec, CUgraphNode hNode, struct node_params *p)
{
    CUresult rc = CUDA_SUCCESS;
    pthread_mutex_lock(&g_glock);
    struct CUgraphExec_st *x = exec_get_locked(hExec);
    struct exec_node *e = x ? exec_find(x, hNode) : NULL;
    if (!e || e->p.type != p->type || e->p.ctx != p->ctx) {
        rc = CUDA_ERROR_INVALID_VALUE;
        params_fini(p);
    } else {
        params_fini(&e->p);
        e->p = *p;
    }
    pthread_mutex_unlock(&g_glock);
    return rc;
}

/* cuGraphExecKernelNodeSetParams_v2: new arguments (or dimensions, or a function of the same
 * context) for the next launches, without re-instantiation. */
EXPORT CUresult cuGraphExecKernelNodeSetParams_v2(CUgraphExec hGraphExec, CUgraphNode hNode,
                                                  const CUDA_KERNEL_NODE_PARAMS *nodeParams)
{
    struct node_params p;
    CUresult rc = kernel_params_init(&p, nodeParams);
    if (rc != CUDA_SUCCESS)
        return rc;
    return exec_set(hGraphExec, hNode, &p);
}

EXPORT CUresult cuGraphExecKernelNodeSetParams(CUgraphExec hGraphExec, CUgraphNode hNode,
                                               const CUDA_KERNEL_NODE_PARAMS_v1 *nodeParams)
{
    if (!nodeParams)
        return CUDA_ERROR_INVALID_VALUE;
    CUDA_KERNEL_NODE_PARAMS p;
    kernel_params_v1(&p, nodeParams);
    return cuGraphExecKernelNodeSetParams_v2(hGraphExec, hNode, &p);
}

/* The graph with memory nodes that hExec was made from, while it lives (else NULL): new operands
 * of the executable's copies may name its graph memory. Validated again by its users. */
static struct CUgraph_st *exec_graph(CUgraphExec hExec)
{
    pthread_mutex_lock(&g_glock);
    struct CUgraphExec_st *x = exec_get_locked(hExec);
    struct CUgraph_st *g = x ? x->src : NULL;
    pthread_mutex_unlock(&g_glock);
    return g;
}

/* cuGraphExecMemcpyNodeSetParams / MemsetNodeSetParams: same context, new operands. */
EXPORT CUresult cuGraphExecMemcpyNodeSetParams(CUgraphExec hGraphExec, CUgraphNode hNode,
                                               const CUDA_MEMCPY3D *copyParams, CUcontext ctx)
{
    struct node_params p;
    CUresult rc = memcpy_params_init(&p, copyParams, ctx, exec_graph(hGraphExec));
    if (rc != CUDA_SUCCESS)
        return rc;
    return exec_set(hGraphExec, hNode, &p);
}

EXPORT CUresult cuGraphExecMemsetNodeSetParams(CUgraphExec hGraphExec, CUgraphNode hNode,
                                               const CUDA_MEMSET_NODE_PARAMS *memsetParams,
                                               CUcontext ctx)
{
    struct node_params p;
    CUresult rc = memset_params_init(&p, memsetParams, ctx, exec_graph(hGraphExec));
    if (rc != CUDA_SUCCESS)
        return rc;
    return exec_set(hGraphExec, hNode, &p);
}

/* cuGraphExecHostNodeSetParams: a new function and data. */
EXPORT CUresult cuGraphExecHostNodeSetParams(CUgraphExec hGraphExec, CUgraphNode hNode,
                                             const CUDA_HOST_NODE_PARAMS *nodeParams)
{
    struct node_params p;
    CUresult rc = host_params_init(&p, nodeParams);
    if (rc != CUDA_SUCCESS)
        return rc;
    return exec_set(hGraphExec, hNode, &p);
}

static CUresult exec_set_event(CUgraphExec hExec, CUgraphNode hNode, CUgraphNodeType type,
                               CUevent ev)
{
    struct node_params p;
    CUresult rc = event_params_init(&p, type, ev);
    if (rc != CUDA_SUCCESS)
        return rc;
    return exec_set(hExec, hNode, &p);
}

/* cuGraphExecEventRecordNodeSetEvent / cuGraphExecEventWaitNodeSetEvent. */
EXPORT CUresult cuGraphExecEventRecordNodeSetEvent(CUgraphExec hGraphExec, CUgraphNode hNode,
                                                   CUevent event)
{
    return exec_set_event(hGraphExec, hNode, CU_GRAPH_NODE_TYPE_EVENT_RECORD, event);
}

EXPORT CUresult cuGraphExecEventWaitNodeSetEvent(CUgraphExec hGraphExec, CUgraphNode hNode,
                                                 CUevent event)
{
    return exec_set_event(hGraphExec, hNode, CU_GRAPH_NODE_TYPE_WAIT_EVENT, event);
}

/* cuGraphNodeSetEnabled / GetEnabled: a disabled node runs as an empty node. Only kernel,
 * memcpy and memset nodes can be disabled, as documented. */
EXPORT CUresult cuGraphNodeSetEnabled(CUgraphExec hGraphExec, CUgraphNode hNode,
                                      unsigned int isEnabled)
{
    CUresult rc = sim_process_check();
    if (rc != CUDA_SUCCESS)
        return rc;
    pthread_mutex_lock(&g_glock);
    struct CUgraphExec_st *x = exec_get_locked(hGraphExec);
    struct exec_node *e = x ? exec_find(x, hNode) : NULL;
    if (!e || (e->p.type != CU_GRAPH_NODE_TYPE_KERNEL && e->p.type != CU_GRAPH_NODE_TYPE_MEMCPY &&
               e->p.type != CU_GRAPH_NODE_TYPE_MEMSET))
        rc = CUDA_ERROR_INVALID_VALUE;
    else
        e->enabled = isEnabled != 0;
    pthread_mutex_unlock(&g_glock);
    return rc;
}

EXPORT CUresult cuGraphNodeGetEnabled(CUgraphExec hGraphExec, CUgraphNode hNode,
                                      unsigned int *isEnabled)
{
    CUresult rc = sim_process_check();
    if (rc != CUDA_SUCCESS)
        return rc;
    pthread_mutex_lock(&g_glock);
    struct CUgraphExec_st *x = exec_get_locked(hGraphExec);
    struct exec_node *e = x ? exec_find(x, hNode) : NULL;
    if (!e || !isEnabled)
        rc = CUDA_ERROR_INVALID_VALUE;
    else
        *isEnabled = (unsigned int)e->enabled;
    pthread_mutex_unlock(&g_glock);
    return rc;
}

/* Whether a graph node's parameters may replace an executable node's (the documented limits). */
static CUgraphExecUpdateResult update_check(const struct node_params *old,
                                            const struct node_params *nw)
{
    if (old->type != nw->type)
        return CU_GRAPH_EXEC_UPDATE_ERROR_NODE_TYPE_CHANGED;
    switch (nw->type) {
    case CU_GRAPH_NODE_TYPE_KERNEL:
        if (old->k.ctx != nw->k.ctx)
            return CU_GRAPH_EXEC_UPDATE_ERROR_UNSUPPORTED_FUNCTION_CHANGE;
        if (old->k.cooperative != nw->k.cooperative)
            return CU_GRAPH_EXEC_UPDATE_ERROR_PARAMETERS_CHANGED;
        break;
    case CU_GRAPH_NODE_TYPE_MEMCPY:
        if (old->dev != nw->dev ||
            old->copy.srcMemoryType != nw->copy.srcMemoryType ||
            old->copy.dstMemoryType != nw->copy.dstMemoryType)
            return CU_GRAPH_EXEC_UPDATE_ERROR_PARAMETERS_CHANGED;
        break;
    case CU_GRAPH_NODE_TYPE_MEMSET:
        if (old->dev != nw->dev)
            return CU_GRAPH_EXEC_UPDATE_ERROR_PARAMETERS_CHANGED;
        if (old->set.height > 1 &&
            (old->set.width != nw->set.width || old->set.height != nw->set.height ||
             old->set.pitch != nw->set.pitch || old->set.elementSize != nw->set.elementSize))
            return CU_GRAPH_EXEC_UPDATE_ERROR_PARAMETERS_CHANGED; /* 2D: address and value only */
        break;
    case CU_GRAPH_NODE_TYPE_MEM_ALLOC:
    case CU_GRAPH_NODE_TYPE_MEM_FREE:
        if (old->mem != nw->mem) /* memory nodes cannot change their allocation */
            return CU_GRAPH_EXEC_UPDATE_ERROR_NOT_SUPPORTED;
        break;
    default:
        break;
    }
    return CU_GRAPH_EXEC_UPDATE_SUCCESS;
}

static CUresult exec_update(CUgraphExec hExec, CUgraph hGraph, CUgraphExecUpdateResultInfo *info)
{
    CUresult rc = sim_process_check();
    if (rc != CUDA_SUCCESS)
        return rc;
    if (!info)
        return CUDA_ERROR_INVALID_VALUE;
    memset(info, 0, sizeof(*info));
    info->result = CU_GRAPH_EXEC_UPDATE_ERROR;
    pthread_mutex_lock(&g_glock);
    struct CUgraphExec_st *x = exec_get_locked(hExec);
    struct CUgraph_st *g = graph_get_locked(hGraph);
    struct node_params *fresh = NULL;
    size_t *by_gidx = NULL;
    if (!x || !g) {
        rc = CUDA_ERROR_INVALID_VALUE;
        goto out;
    }
    rc = CUDA_ERROR_GRAPH_EXEC_UPDATE_FAILURE;
    if (g->n != x->n) {
        info->result = CU_GRAPH_EXEC_UPDATE_ERROR_TOPOLOGY_CHANGED;
        goto out;
    }
    /* Nodes pair up by creation order: graph node i with the executable node made from the
     * instantiated graph's node i. */
    by_gidx = calloc(x->n + 1, sizeof(*by_gidx));
    fresh = calloc(x->n + 1, sizeof(*fresh));
    if (!by_gidx || !fresh) {
        rc = CUDA_ERROR_OUT_OF_MEMORY;
        goto out;
    }
    for (size_t i = 0; i < x->n; i++)
        by_gidx[x->nodes[i].gidx] = i;
    for (size_t gi = 0; gi < g->n; gi++) {
        const struct CUgraphNode_st *gn = g->nodes[gi];
        const struct exec_node *e = &x->nodes[by_gidx[gi]];
        if (gn->ndeps != e->ndeps) {
            info->result = CU_GRAPH_EXEC_UPDATE_ERROR_TOPOLOGY_CHANGED;
            info->errorNode = (CUgraphNode)gn;
            goto out;
        }
        for (size_t j = 0; j < gn->ndeps; j++) {
            size_t want = x->nodes[e->deps[j]].gidx;
            if (node_index(g, gn->deps[j]) != want) {
                info->result = CU_GRAPH_EXEC_UPDATE_ERROR_TOPOLOGY_CHANGED;
                info->errorNode = (CUgraphNode)gn;
                info->errorFromNode = (CUgraphNode)gn->deps[j];
                goto out;
            }
        }
        CUgraphExecUpdateResult r = update_check(&e->p, &gn->p);
        if (r != CU_GRAPH_EXEC_UPDATE_SUCCESS) {
            info->result = r;
            info->errorNode = (CUgraphNode)gn;
            goto out;
        }
    }
    for (size_t gi = 0; gi < g->n; gi++) {
        if (params_copy(&fresh[gi], &g->nodes[gi]->p) != CUDA_SUCCESS) {
            rc = CUDA_ERROR_OUT_OF_MEMORY;
            for (size_t j = 0; j < gi; j++)
                params_fini(&fresh[j]);
            goto out;
        }
    }
    for (size_t gi = 0; gi < g->n; gi++) {
        struct exec_node *e = &x->nodes[by_gidx[gi]];
        int escapes = e->p.escapes; /* memory nodes only update to the same allocation */
        params_fini(&e->p);
        e->p = fresh[gi];
        e->p.escapes = escapes;
        e->orig = (CUgraphNode)g->nodes[gi];
    }
    info->result = CU_GRAPH_EXEC_UPDATE_SUCCESS;
    rc = CUDA_SUCCESS;
out:
    pthread_mutex_unlock(&g_glock);
    free(by_gidx);
    free(fresh);
    return rc;
}

/* cuGraphExecUpdate_v2: updates the executable in place from a graph of the same topology. */
EXPORT CUresult cuGraphExecUpdate_v2(CUgraphExec hGraphExec, CUgraph hGraph,
                                     CUgraphExecUpdateResultInfo *resultInfo)
{
    return exec_update(hGraphExec, hGraph, resultInfo);
}

/* cuGraphExecUpdate: the CUDA 10.2 export (error node and result as separate outputs). */
EXPORT CUresult cuGraphExecUpdate(CUgraphExec hGraphExec, CUgraph hGraph,
                                  CUgraphNode *hErrorNode_out,
                                  CUgraphExecUpdateResult *updateResult_out)
{
    if (!hErrorNode_out || !updateResult_out)
        return CUDA_ERROR_INVALID_VALUE;
    CUgraphExecUpdateResultInfo info;
    CUresult rc = exec_update(hGraphExec, hGraph, &info);
    *hErrorNode_out = info.errorNode;
    *updateResult_out = info.result;
    return rc;
}

/* ---- Stream capture ------------------------------------------------------------------------- */

static struct cap_stream *cap_find_locked(const struct sim_stream *s)
{
    for (struct cap_stream *c = g_cap_streams; c; c = c->next)
        if (c->s == s)
            return c;
    return NULL;
}

static struct cap_event *cap_event_find_locked(CUevent ev)
{
    for (struct cap_event *c = g_cap_events; c; c = c->next)
        if (c->ev == ev)
            return c;
    return NULL;
}

static int deps_set(struct CUgraphNode_st ***deps, size_t *n, size_t *cap,
                    struct CUgraphNode_st *const *src, size_t count)
{
    if (count > *cap) {
        struct CUgraphNode_st **nd = realloc(*deps, count * sizeof(*nd));
        if (!nd)
            return -1;
        *deps = nd;
        *cap = count;
    }
    if (count)
        memcpy(*deps, src, count * sizeof(*src));
    *n = count;
    return 0;
}

static int deps_add(struct cap_stream *cs, struct CUgraphNode_st *node)
{
    for (size_t i = 0; i < cs->ndeps; i++)
        if (cs->deps[i] == node)
            return 0;
    if (cs->ndeps == cs->capdeps) {
        size_t nc = cs->capdeps ? cs->capdeps * 2 : 4;
        struct CUgraphNode_st **nd = realloc(cs->deps, nc * sizeof(*nd));
        if (!nd)
            return -1;
        cs->deps = nd;
        cs->capdeps = nc;
    }
    cs->deps[cs->ndeps++] = node;
    return 0;
}

/* Adds a stream to a capture with the given dependencies. */
static struct cap_stream *cap_join_locked(struct capture *cap, struct sim_stream *s,
                                          struct CUgraphNode_st *const *deps, size_t ndeps)
{
    struct cap_stream *cs = calloc(1, sizeof(*cs));
    if (!cs)
        return NULL;
    if (deps_set(&cs->deps, &cs->ndeps, &cs->capdeps, deps, ndeps) < 0) {
        free(cs);
        return NULL;
    }
    cs->s = s;
    cs->cap = cap;
    sim_stream_ref(s);
    sim_stream_set_capturing(s, 1);
    cs->next = g_cap_streams;
    g_cap_streams = cs;
    atomic_fetch_add(&sim_capture_streams, 1);
    return cs;
}

static void cap_invalidate_locked(struct capture *cap)
{
    if (!cap->invalid)
        LOG_DEBUG("sim", "stream capture %llu invalidated", (unsigned long long)cap->id);
    cap->invalid = 1;
}

/* Ends a capture: every stream leaves it and events forget it. Returns its graph. */
static struct CUgraph_st *cap_end_locked(struct capture *cap)
{
    for (struct cap_stream **pp = &g_cap_streams; *pp;) {
        struct cap_stream *cs = *pp;
        if (cs->cap == cap) {
            *pp = cs->next;
            sim_stream_set_capturing(cs->s, 0);
            sim_stream_unref(cs->s);
            free(cs->deps);
            free(cs->edata);
            free(cs);
            atomic_fetch_sub(&sim_capture_streams, 1);
        } else {
            pp = &cs->next;
        }
    }
    for (struct cap_event **pp = &g_cap_events; *pp;) {
        struct cap_event *ce = *pp;
        if (ce->cap == cap) {
            *pp = ce->next;
            free(ce->deps);
            free(ce);
        } else {
            pp = &ce->next;
        }
    }
    for (struct capture **pp = &g_captures; *pp; pp = &(*pp)->next)
        if (*pp == cap) {
            *pp = cap->next;
            break;
        }
    struct CUgraph_st *g = cap->graph;
    g->capture = NULL;
    free(cap);
    return g;
}

/* Whether the calling thread may make a potentially unsafe call now, by the capture modes
 * (cuThreadExchangeStreamCaptureMode); the captures that forbid it are invalidated. */
static int unsafe_call_prohibited_locked(void)
{
    int prohibited = 0;
    if (t_mode == CU_STREAM_CAPTURE_MODE_RELAXED)
        return 0;
    for (struct capture *c = g_captures; c; c = c->next) {
        int mine = pthread_equal(c->thread, pthread_self());
        if ((mine && c->mode != CU_STREAM_CAPTURE_MODE_RELAXED) ||
            (!mine && t_mode == CU_STREAM_CAPTURE_MODE_GLOBAL &&
             c->mode == CU_STREAM_CAPTURE_MODE_GLOBAL)) {
            cap_invalidate_locked(c);
            prohibited = 1;
        }
    }
    return prohibited;
}

/* Whether a blocking stream of s's context is capturing (s being the legacy stream). */
static int legacy_implicit_locked(const struct sim_stream *s, int invalidate)
{
    int hit = 0;
    if (!sim_stream_is_legacy(s))
        return 0;
    for (struct cap_stream *cs = g_cap_streams; cs; cs = cs->next)
        if (sim_stream_ctx(cs->s) == sim_stream_ctx(s) && sim_stream_is_blocking(cs->s)) {
            hit = 1;
            if (invalidate)
                cap_invalidate_locked(cs->cap);
        }
    return hit;
}

/* Checks work about to be enqueued on s (see graph.h). */
CUresult sim_capture_check(struct sim_stream *s, int sync, int *capturing)
{
    CUresult rc = CUDA_SUCCESS;
    *capturing = 0;
    pthread_mutex_lock(&g_glock);
    struct cap_stream *cs = cap_find_locked(s);
    if (cs) {
        if (sync) {
            cap_invalidate_locked(cs->cap);
            rc = CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
        } else if (cs->cap->invalid) {
            rc = CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
        } else {
            *capturing = 1;
        }
    } else if (legacy_implicit_locked(s, 1)) {
        rc = CUDA_ERROR_STREAM_CAPTURE_IMPLICIT;
    } else if (sync && unsafe_call_prohibited_locked()) {
        rc = CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
    }
    pthread_mutex_unlock(&g_glock);
    return rc;
}

/* cuStreamSynchronize / cuStreamQuery on s (see graph.h). */
CUresult sim_capture_sync(struct sim_stream *s)
{
    CUresult rc = CUDA_SUCCESS;
    pthread_mutex_lock(&g_glock);
    struct cap_stream *cs = cap_find_locked(s);
    if (cs) {
        cap_invalidate_locked(cs->cap);
        rc = CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
    } else if (legacy_implicit_locked(s, 1)) {
        rc = CUDA_ERROR_STREAM_CAPTURE_IMPLICIT;
    }
    pthread_mutex_unlock(&g_glock);
    return rc;
}

/* Adds a captured node (taking *p) after s's current dependencies; s then depends on it. */
static CUresult capture_add(struct sim_stream *s, struct node_params *p)
{
    CUresult rc;
    pthread_mutex_lock(&g_glock);
    struct cap_stream *cs = cap_find_locked(s);
    struct CUgraphNode_st *n;
    if (!cs) {
        rc = CUDA_ERROR_STREAM_CAPTURE_INVALIDATED; /* the capture ended meanwhile */
    } else if (cs->cap->invalid) {
        rc = CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
    } else if ((rc = graph_add_locked(cs->cap->graph, cs->deps, cs->ndeps, p, &n)) ==
               CUDA_SUCCESS) {
        cs->ndeps = 0;
        if (deps_add(cs, n) < 0) {
            rc = CUDA_ERROR_OUT_OF_MEMORY;
            cap_invalidate_locked(cs->cap);
        }
    }
    pthread_mutex_unlock(&g_glock);
    if (rc != CUDA_SUCCESS)
        params_fini(p);
    return rc;
}

/* Captured kernel launch (see graph.h). */
CUresult sim_capture_kernel(struct sim_stream *s, const struct sim_kernel_node *k)
{
    struct node_params p = { .type = CU_GRAPH_NODE_TYPE_KERNEL, .ctx = k->ctx,
                             .dev = k->ctx->device };
    CUresult rc = sim_kernel_node_copy(&p.k, k);
    if (rc != CUDA_SUCCESS)
        return rc;
    return capture_add(s, &p);
}

/* Captured copy (see graph.h). */
CUresult sim_capture_memcpy(struct sim_stream *s, struct CUctx_st *ctx, const CUDA_MEMCPY3D *c)
{
    struct node_params p = { .type = CU_GRAPH_NODE_TYPE_MEMCPY, .ctx = ctx, .dev = ctx->device,
                             .copy = *c };
    return capture_add(s, &p);
}

/* Captured memset (see graph.h). */
CUresult sim_capture_memset(struct sim_stream *s, struct CUctx_st *ctx,
                            const CUDA_MEMSET_NODE_PARAMS *m)
{
    struct node_params p = { .type = CU_GRAPH_NODE_TYPE_MEMSET, .ctx = ctx, .dev = ctx->device,
                             .set = *m };
    return capture_add(s, &p);
}

/* Captured host function (see graph.h). */
CUresult sim_capture_host(struct sim_stream *s, CUhostFn fn, void *user)
{
    struct node_params p = { .type = CU_GRAPH_NODE_TYPE_HOST, .host = { fn, user } };
    return capture_add(s, &p);
}

/* Captured cuMemAllocAsync: an allocation node owned by the capture graph. */
CUresult sim_capture_mem_alloc(struct sim_stream *s, int dev, size_t bytes, CUdeviceptr *dptr)
{
    struct node_params p;
    CUresult rc = mem_alloc_params_init(&p, NULL, NULL, 0, dev, bytes);
    if (rc != CUDA_SUCCESS)
        return rc;
    CUdeviceptr va = (CUdeviceptr)p.mem->va;
    pthread_mutex_lock(&g_glock);
    struct cap_stream *cs = cap_find_locked(s);
    struct CUgraphNode_st *n;
    if (!cs || cs->cap->invalid) {
        rc = CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
    } else if ((rc = graph_add_locked(cs->cap->graph, cs->deps, cs->ndeps, &p, &n)) ==
               CUDA_SUCCESS) {
        mem_alloc_added_locked(cs->cap->graph, n);
        cs->ndeps = 0;
        if (deps_add(cs, n) < 0) {
            rc = CUDA_ERROR_OUT_OF_MEMORY;
            cap_invalidate_locked(cs->cap);
        }
    }
    pthread_mutex_unlock(&g_glock);
    if (rc != CUDA_SUCCESS) {
        params_fini(&p); /* releases the reserved address: nothing leaks */
        return rc;
    }
    *dptr = va;
    return CUDA_SUCCESS;
}

/* Whether a range lies in a graph allocation of g or of s's capture graph (see graph.h). */
int sim_graph_mem_covers(struct CUgraph_st *g, struct sim_stream *s, uint64_t addr, size_t len)
{
    int hit = 0;
    pthread_mutex_lock(&g_glock);
    if (!g) {
        struct cap_stream *cs = s ? cap_find_locked(s) : NULL;
        g = cs ? cs->cap->graph : NULL;
    } else {
        g = graph_get_locked(g);
    }
    for (size_t i = 0; g && g->has_mem && i < g->n && !hit; i++) {
        const struct node_params *p = &g->nodes[i]->p;
        /* The backing of a live allocation is m->size bytes at va: the same bounds apply. */
        hit = p->type == CU_GRAPH_NODE_TYPE_MEM_ALLOC && addr >= p->mem->va &&
              len <= p->mem->size && addr - p->mem->va <= p->mem->size - len;
    }
    pthread_mutex_unlock(&g_glock);
    return hit;
}

/* Captured cuMemFreeAsync: a free node. As cuda.h documents, a free captured this way must name
 * a graph allocation: any other address (a pool block, ordinary memory) or one already freed in
 * a graph is CUDA_ERROR_INVALID_VALUE; the capture stays valid. */
CUresult sim_capture_mem_free(struct sim_stream *s, CUdeviceptr dptr)
{
    struct node_params p;
    memset(&p, 0, sizeof(p));
    CUresult rc;
    pthread_mutex_lock(&g_glock);
    struct cap_stream *cs = cap_find_locked(s);
    struct CUgraphNode_st *n;
    if (!cs || cs->cap->invalid) {
        rc = CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
    } else if ((rc = mem_free_params_locked(&p, cs->cap->graph, (uint64_t)dptr)) !=
               CUDA_SUCCESS) {
        LOG_DEBUG("sim", "cuMemFreeAsync: captured free of 0x%llx: not a graph allocation, or "
                  "already freed in a graph", (unsigned long long)dptr);
        rc = CUDA_ERROR_INVALID_VALUE;
    } else if ((rc = graph_add_locked(cs->cap->graph, cs->deps, cs->ndeps, &p, &n)) ==
               CUDA_SUCCESS) {
        mem_free_added_locked(cs->cap->graph, n);
        cs->ndeps = 0;
        if (deps_add(cs, n) < 0) {
            rc = CUDA_ERROR_OUT_OF_MEMORY;
            cap_invalidate_locked(cs->cap);
        }
    }
    pthread_mutex_unlock(&g_glock);
    if (rc != CUDA_SUCCESS)
        params_fini(&p);
    return rc;
}

/* Captured event record: the event remembers the stream's current dependencies. */
CUresult sim_capture_event_record(struct sim_stream *s, CUevent ev)
{
    CUresult rc = CUDA_SUCCESS;
    pthread_mutex_lock(&g_glock);
    struct cap_stream *cs = cap_find_locked(s);
    if (!cs || cs->cap->invalid) {
        rc = CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
        goto out;
    }
    struct cap_event *ce = cap_event_find_locked(ev);
    if (!ce) {
        if (!(ce = calloc(1, sizeof(*ce)))) {
            rc = CUDA_ERROR_OUT_OF_MEMORY;
            goto out;
        }
        ce->ev = ev;
        ce->next = g_cap_events;
        g_cap_events = ce;
    }
    size_t cap = ce->ndeps;
    if (deps_set(&ce->deps, &ce->ndeps, &cap, cs->deps, cs->ndeps) < 0) {
        rc = CUDA_ERROR_OUT_OF_MEMORY;
        goto out;
    }
    ce->cap = cs->cap;
out:
    pthread_mutex_unlock(&g_glock);
    return rc;
}

/* Captured event wait (see graph.h): s joins the event's capture or merges its dependencies. */
CUresult sim_capture_event_wait(struct sim_stream *s, CUevent ev, int *handled)
{
    CUresult rc = CUDA_SUCCESS;
    *handled = 0;
    pthread_mutex_lock(&g_glock);
    struct cap_stream *cs = cap_find_locked(s);
    struct cap_event *ce = cap_event_find_locked(ev);
    if (!ce) {
        if (cs) {
            /* An event recorded outside the capture: a dependency across its boundary. */
            *handled = 1;
            cap_invalidate_locked(cs->cap);
            rc = CUDA_ERROR_STREAM_CAPTURE_ISOLATION;
        } else if (legacy_implicit_locked(s, 1)) {
            *handled = 1;
            rc = CUDA_ERROR_STREAM_CAPTURE_IMPLICIT;
        }
        goto out;
    }
    *handled = 1;
    if (!cs) {
        if (!cap_join_locked(ce->cap, s, ce->deps, ce->ndeps))
            rc = CUDA_ERROR_OUT_OF_MEMORY;
    } else if (cs->cap != ce->cap) {
        cap_invalidate_locked(cs->cap);
        cap_invalidate_locked(ce->cap);
        rc = CUDA_ERROR_STREAM_CAPTURE_MERGE;
    } else if (cs->cap->invalid) {
        rc = CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
    } else {
        for (size_t i = 0; i < ce->ndeps && rc == CUDA_SUCCESS; i++)
            if (deps_add(cs, ce->deps[i]) < 0)
                rc = CUDA_ERROR_OUT_OF_MEMORY;
    }
out:
    pthread_mutex_unlock(&g_glock);
    return rc;
}

/* Forgets an event's capture record (see graph.h). */
void sim_capture_event_forget(CUevent ev)
{
    pthread_mutex_lock(&g_glock);
    for (struct cap_event **pp = &g_cap_events; *pp; pp = &(*pp)->next) {
        struct cap_event *ce = *pp;
        if (ce->ev == ev) {
            *pp = ce->next;
            free(ce->deps);
            free(ce);
            break;
        }
    }
    pthread_mutex_unlock(&g_glock);
}

static CUresult begin_capture(CUstream h, CUstreamCaptureMode mode, int ptds)
{
    struct CUctx_st *ctx;
    struct sim_stream *s;
    CUresult rc = sim_stream_resolve(h, ptds, &ctx, &s);
    if (rc != CUDA_SUCCESS)
        return rc;
    if ((unsigned)mode > CU_STREAM_CAPTURE_MODE_RELAXED)
        return CUDA_ERROR_INVALID_VALUE;
    if (sim_stream_is_legacy(s))
        return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
    if ((rc = sim_ctx_sticky(ctx)) != CUDA_SUCCESS)
        return rc;
    pthread_mutex_lock(&g_glock);
    struct capture *cap = NULL;
    if (cap_find_locked(s)) {
        rc = CUDA_ERROR_ILLEGAL_STATE;
        goto out;
    }
    cap = calloc(1, sizeof(*cap));
    if (!cap || !(cap->graph = graph_new_locked())) {
        rc = CUDA_ERROR_OUT_OF_MEMORY;
        goto out;
    }
    cap->id = ++g_capture_id;
    cap->mode = mode;
    cap->thread = pthread_self();
    cap->origin = s;
    cap->graph->capture = cap;
    if (!cap_join_locked(cap, s, NULL, 0)) {
        graph_free_locked(cap->graph);
        rc = CUDA_ERROR_OUT_OF_MEMORY;
        goto out;
    }
    cap->next = g_captures;
    g_captures = cap;
    cap = NULL;
out:
    pthread_mutex_unlock(&g_glock);
    free(cap);
    return rc;
}

/* cuStreamBeginCapture_v2 (+ _ptsz; the original exports capture in global mode). */
EXPORT CUresult cuStreamBeginCapture_v2(CUstream hStream, CUstreamCaptureMode mode)
{
    return begin_capture(hStream, mode, 0);
}

EXPORT CUresult cuStreamBeginCapture_v2_ptsz(CUstream hStream, CUstreamCaptureMode mode)
{
    return begin_capture(hStream, mode, 1);
}

EXPORT CUresult cuStreamBeginCapture(CUstream hStream)
{
    return begin_capture(hStream, CU_STREAM_CAPTURE_MODE_GLOBAL, 0);
}

EXPORT CUresult cuStreamBeginCapture_ptsz(CUstream hStream)
{
    return begin_capture(hStream, CU_STREAM_CAPTURE_MODE_GLOBAL, 1);
}

/* Whether every stream that joined the capture has rejoined its origin: each one's current
 * dependencies must be ancestors of (or among) the origin's. */
static int capture_joined_locked(struct capture *cap)
{
    struct cap_stream *origin = cap_find_locked(cap->origin);
    struct CUgraph_st *g = cap->graph;
    unsigned char *reach = calloc(g->n + 1, 1);
    size_t *stack = calloc(g->n + 1, sizeof(*stack));
    int joined = 1;
    if (!reach || !stack || !origin) {
        joined = !origin ? 0 : 1; /* out of memory: do not fail a good capture */
        goto out;
    }
    size_t sp = 0;
    for (size_t i = 0; i < origin->ndeps; i++) {
        size_t at = node_index(g, origin->deps[i]);
        if (at != (size_t)-1 && !reach[at]) {
            reach[at] = 1;
            stack[sp++] = at;
        }
    }
    while (sp) {
        struct CUgraphNode_st *n = g->nodes[stack[--sp]];
        for (size_t j = 0; j < n->ndeps; j++) {
            size_t at = node_index(g, n->deps[j]);
            if (at != (size_t)-1 && !reach[at]) {
                reach[at] = 1;
                stack[sp++] = at;
            }
        }
    }
    for (struct cap_stream *cs = g_cap_streams; cs && joined; cs = cs->next) {
        if (cs->cap != cap || cs == origin)
            continue;
        for (size_t i = 0; i < cs->ndeps && joined; i++) {
            size_t at = node_index(g, cs->deps[i]);
            if (at != (size_t)-1 && !reach[at])
                joined = 0;
        }
    }
out:
    free(reach);
    free(stack);
    return joined;
}

static CUresult end_capture(CUstream h, CUgraph *phGraph, int ptds)
{
    struct sim_stream *s;
    CUresult rc = sim_stream_resolve(h, ptds, NULL, &s);
    if (rc != CUDA_SUCCESS)
        return rc;
    if (!phGraph)
        return CUDA_ERROR_INVALID_VALUE;
    struct CUgraph_st *g = NULL;
    pthread_mutex_lock(&g_glock);
    struct cap_stream *cs = cap_find_locked(s);
    if (!cs) {
        rc = legacy_implicit_locked(s, 0) ? CUDA_ERROR_STREAM_CAPTURE_IMPLICIT
                                          : CUDA_ERROR_ILLEGAL_STATE;
        goto out;
    }
    struct capture *cap = cs->cap;
    if (cap->origin != s) {
        rc = CUDA_ERROR_STREAM_CAPTURE_UNMATCHED;
        goto out;
    }
    if (cap->mode != CU_STREAM_CAPTURE_MODE_RELAXED && !pthread_equal(cap->thread, pthread_self())) {
        rc = CUDA_ERROR_STREAM_CAPTURE_WRONG_THREAD;
        goto out;
    }
    int invalid = cap->invalid, joined = invalid ? 1 : capture_joined_locked(cap);
    g = cap_end_locked(cap);
    if (invalid || !joined) {
        graph_free_locked(g);
        g = NULL;
        rc = invalid ? CUDA_ERROR_STREAM_CAPTURE_INVALIDATED : CUDA_ERROR_STREAM_CAPTURE_UNJOINED;
    }
    *phGraph = g;
out:
    pthread_mutex_unlock(&g_glock);
    return rc;
}

/* cuStreamEndCapture (+ _ptsz): the captured graph, or NULL and the reason it is invalid. */
EXPORT CUresult cuStreamEndCapture(CUstream hStream, CUgraph *phGraph)
{
    return end_capture(hStream, phGraph, 0);
}

EXPORT CUresult cuStreamEndCapture_ptsz(CUstream hStream, CUgraph *phGraph)
{
    return end_capture(hStream, phGraph, 1);
}

/* The capture state of a stream, and with it (when active) the capture's id, graph and the
 * stream's current dependencies. */
static CUresult capture_info(CUstream h, int ptds, CUstreamCaptureStatus *status, cuuint64_t *id,
                             CUgraph *graph, const CUgraphNode **deps,
                             const CUgraphEdgeData **edata, size_t *ndeps)
{
    struct sim_stream *s;
    CUresult rc = sim_stream_resolve(h, ptds, NULL, &s);
    if (rc != CUDA_SUCCESS)
        return rc;
    if (!status || (edata && !deps))
        return CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&g_glock);
    struct cap_stream *cs = cap_find_locked(s);
    if (!cs) {
        if (legacy_implicit_locked(s, 0))
            rc = CUDA_ERROR_STREAM_CAPTURE_IMPLICIT;
        else
            *status = CU_STREAM_CAPTURE_STATUS_NONE;
        goto out;
    }
    *status = cs->cap->invalid ? CU_STREAM_CAPTURE_STATUS_INVALIDATED
                               : CU_STREAM_CAPTURE_STATUS_ACTIVE;
    if (cs->cap->invalid)
        goto out;
    if (id)
        *id = cs->cap->id;
    if (graph)
        *graph = cs->cap->graph;
    if (deps)
        *deps = (const CUgraphNode *)cs->deps;
    if (ndeps)
        *ndeps = cs->ndeps;
    if (edata) {
        free(cs->edata);
        cs->edata = calloc(cs->ndeps + 1, sizeof(*cs->edata));
        if (!cs->edata)
            rc = CUDA_ERROR_OUT_OF_MEMORY;
        *edata = cs->edata;
    }
out:
    pthread_mutex_unlock(&g_glock);
    return rc;
}

/* cuStreamIsCapturing (+ _ptsz). */
EXPORT CUresult cuStreamIsCapturing(CUstream hStream, CUstreamCaptureStatus *captureStatus)
{
    return capture_info(hStream, 0, captureStatus, NULL, NULL, NULL, NULL, NULL);
}

EXPORT CUresult cuStreamIsCapturing_ptsz(CUstream hStream, CUstreamCaptureStatus *captureStatus)
{
    return capture_info(hStream, 1, captureStatus, NULL, NULL, NULL, NULL, NULL);
}

/* cuStreamGetCaptureInfo, _v2 and _v3 (+ _ptsz): the exported versions. */
EXPORT CUresult cuStreamGetCaptureInfo(CUstream hStream, CUstreamCaptureStatus *captureStatus_out,
                                       cuuint64_t *id_out)
{
    return capture_info(hStream, 0, captureStatus_out, id_out, NULL, NULL, NULL, NULL);
}

EXPORT CUresult cuStreamGetCaptureInfo_ptsz(CUstream hStream,
                                            CUstreamCaptureStatus *captureStatus_out,
                                            cuuint64_t *id_out)
{
    return capture_info(hStream, 1, captureStatus_out, id_out, NULL, NULL, NULL, NULL);
}

EXPORT CUresult cuStreamGetCaptureInfo_v2(CUstream hStream,
                                          CUstreamCaptureStatus *captureStatus_out,
                                          cuuint64_t *id_out, CUgraph *graph_out,
                                          const CUgraphNode **dependencies_out,
                                          size_t *numDependencies_out)
{
    return capture_info(hStream, 0, captureStatus_out, id_out, graph_out, dependencies_out, NULL,
                        numDependencies_out);
}

EXPORT CUresult cuStreamGetCaptureInfo_v2_ptsz(CUstream hStream,
                                               CUstreamCaptureStatus *captureStatus_out,
                                               cuuint64_t *id_out, CUgraph *graph_out,
                                               const CUgraphNode **dependencies_out,
                                               size_t *numDependencies_out)
{
    return capture_info(hStream, 1, captureStatus_out, id_out, graph_out, dependencies_out, NULL,
                        numDependencies_out);
}

EXPORT CUresult cuStreamGetCaptureInfo_v3(CUstream hStream,
                                          CUstreamCaptureStatus *captureStatus_out,
                                          cuuint64_t *id_out, CUgraph *graph_out,
                                          const CUgraphNode **dependencies_out,
                                          const CUgraphEdgeData **edgeData_out,
                                          size_t *numDependencies_out)
{
    return capture_info(hStream, 0, captureStatus_out, id_out, graph_out, dependencies_out,
                        edgeData_out, numDependencies_out);
}

EXPORT CUresult cuStreamGetCaptureInfo_v3_ptsz(CUstream hStream,
                                               CUstreamCaptureStatus *captureStatus_out,
                                               cuuint64_t *id_out, CUgraph *graph_out,
                                               const CUgraphNode **dependencies_out,
                                               const CUgraphEdgeData **edgeData_out,
                                               size_t *numDependencies_out)
{
    return capture_info(hStream, 1, captureStatus_out, id_out, graph_out, dependencies_out,
                        edgeData_out, numDependencies_out);
}

static CUresult update_capture_deps(CUstream h, int ptds, CUgraphNode *deps,
                                    const CUgraphEdgeData *edata, size_t n, unsigned int flags)
{
    struct sim_stream *s;
    CUresult rc = sim_stream_resolve(h, ptds, NULL, &s);
    if (rc != CUDA_SUCCESS)
        return rc;
    if ((n && !deps) || flags > CU_STREAM_SET_CAPTURE_DEPENDENCIES)
        return CUDA_ERROR_INVALID_VALUE;
    if ((rc = edge_data_check(edata, n)) != CUDA_SUCCESS)
        return rc;
    pthread_mutex_lock(&g_glock);
    struct cap_stream *cs = cap_find_locked(s);
    if (!cs) {
        rc = CUDA_ERROR_ILLEGAL_STATE;
        goto out;
    }
    if (cs->cap->invalid) {
        rc = CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        struct CUgraphNode_st *d = node_get_locked(deps[i]);
        if (!d || d->graph != cs->cap->graph) {
            rc = CUDA_ERROR_INVALID_VALUE;
            goto out;
        }
    }
    if (flags == CU_STREAM_SET_CAPTURE_DEPENDENCIES)
        cs->ndeps = 0;
    for (size_t i = 0; i < n && rc == CUDA_SUCCESS; i++)
        if (deps_add(cs, deps[i]) < 0)
            rc = CUDA_ERROR_OUT_OF_MEMORY;
out:
    pthread_mutex_unlock(&g_glock);
    return rc;
}

/* cuStreamUpdateCaptureDependencies (_v2, + _ptsz): add to or replace the stream's current
 * capture dependencies. */
EXPORT CUresult cuStreamUpdateCaptureDependencies(CUstream hStream, CUgraphNode *dependencies,
                                                  size_t numDependencies, unsigned int flags)
{
    return update_capture_deps(hStream, 0, dependencies, NULL, numDependencies, flags);
}

EXPORT CUresult cuStreamUpdateCaptureDependencies_ptsz(CUstream hStream,
                                                       CUgraphNode *dependencies,
                                                       size_t numDependencies, unsigned int flags)
{
    return update_capture_deps(hStream, 1, dependencies, NULL, numDependencies, flags);
}

EXPORT CUresult cuStreamUpdateCaptureDependencies_v2(CUstream hStream, CUgraphNode *dependencies,
                                                     const CUgraphEdgeData *dependencyData,
                                                     size_t numDependencies, unsigned int flags)
{
    return update_capture_deps(hStream, 0, dependencies, dependencyData, numDependencies, flags);
}

EXPORT CUresult cuStreamUpdateCaptureDependencies_v2_ptsz(CUstream hStream,
                                                          CUgraphNode *dependencies,
                                                          const CUgraphEdgeData *dependencyData,
                                                          size_t numDependencies,
                                                          unsigned int flags)
{
    return update_capture_deps(hStream, 1, dependencies, dependencyData, numDependencies, flags);
}

/* cuThreadExchangeStreamCaptureMode: swaps the calling thread's capture interaction mode. */
EXPORT CUresult cuThreadExchangeStreamCaptureMode(CUstreamCaptureMode *mode)
{
    CUresult rc = sim_process_check();
    if (rc != CUDA_SUCCESS)
        return rc;
    if (!mode || (unsigned)*mode > CU_STREAM_CAPTURE_MODE_RELAXED)
        return CUDA_ERROR_INVALID_VALUE;
    CUstreamCaptureMode old = t_mode;
    t_mode = *mode;
    *mode = old;
    return CUDA_SUCCESS;
}
