/*
 * CUDA graphs of the simulated GPU: the private interface between graph.c (graphs, stream
 * capture, executable graphs) and the stream engine files that build and run graph work
 * (stream.c, event.c, copy.c, launch.c). See docs/internals/sim.md, "Graphs".
 *
 * A graph node keeps its work as API parameters (a kernel's function, dimensions and a copy of
 * its argument block; a CUDA_MEMCPY3D; a CUDA_MEMSET_NODE_PARAMS; ...). A launch of an
 * executable graph enqueues one op that owns a deep copy of those parameters and runs the nodes
 * on the stream's worker through the synchronous helpers below, so a graph op never shares
 * state with the graph it came from and can be launched any number of times.
 */
#ifndef GPOOL_SIM_GRAPH_H
#define GPOOL_SIM_GRAPH_H

#include "sim.h"

struct CUfunc_st;
struct CUgraph_st;
struct CUmod_st;
struct sim_event;

/* A kernel node's launch: what cuLaunchKernel would have queued. */
struct sim_kernel_node {
    CUfunction handle;         /* as the application gave it (a CUfunction or CUkernel) */
    struct CUfunc_st *f;       /* resolved in ctx */
    struct CUmod_st *mod;      /* a reference held while this struct lives */
    struct CUctx_st *ctx;
    uint32_t grid[3], block[3];
    uint32_t shared;
    int cooperative;
    uint32_t size;             /* bytes of params (the function's parameter block) */
    uint8_t *params;
    uint32_t nargs;
    void **argv;               /* argv[i] points at argument i in params (GetParams) */
};

/* ---- launch.c ---- */

/* Validates a kernel launch in ctx (NULL: the function's own context) as cuLaunchKernel does
 * and fills k with a copy of its arguments and a module reference; the caller frees k with
 * sim_kernel_node_fini. */
CUresult sim_kernel_node_init(struct sim_kernel_node *k, struct CUctx_st *ctx, CUfunction f,
                              const uint32_t grid[3], const uint32_t block[3], uint32_t shared,
                              void **params, void **extra);
/* Deep-copies src into dst (own module reference and argument block). */
CUresult sim_kernel_node_copy(struct sim_kernel_node *dst, const struct sim_kernel_node *src);
/* Releases what k holds (accepts a zeroed k). */
void sim_kernel_node_fini(struct sim_kernel_node *k);
/* Runs the kernel on the calling thread (a stream worker); a fault is the result. */
CUresult sim_kernel_node_run(const struct sim_kernel_node *k);

/* ---- copy.c ---- */

/* Validates a memcpy node's parameters against the live allocations and, when g is not NULL,
 * the graph allocations of g (sim_graph_mem_covers), which need not be live yet. */
CUresult sim_memcpy_node_check(const CUDA_MEMCPY3D *p, struct CUgraph_st *g);
/* Runs the copy on the calling thread, on device dev's engine. Operands are looked up again: one
 * that is not live now (freed, or graph memory not allocated yet) is CUDA_ERROR_ILLEGAL_ADDRESS. */
CUresult sim_memcpy_node_run(const CUDA_MEMCPY3D *p, int dev);
/* The same for memset nodes. */
CUresult sim_memset_node_check(const CUDA_MEMSET_NODE_PARAMS *p, struct CUgraph_st *g);
CUresult sim_memset_node_run(const CUDA_MEMSET_NODE_PARAMS *p, int dev);

/* ---- event.c ---- */

/* Validates an event handle and takes a reference on the event; *ctx (may be NULL) gets its
 * context. */
CUresult sim_event_get(CUevent h, struct sim_event **ev, struct CUctx_st **ctx);
void sim_event_put(struct sim_event *ev);
/* A record made by a graph launch: begin before the launch op is enqueued (returns the record's
 * generation), commit with the op's (stream, seq) after, stamp the time when the node runs. */
uint64_t sim_event_record_begin(struct sim_event *ev);
void sim_event_record_commit(struct sim_event *ev, uint64_t gen, struct sim_stream *s,
                             uint64_t seq);
void sim_event_stamp(struct sim_event *ev, uint64_t gen);
/* What the event's last record captured, referenced (*s NULL when never recorded). */
void sim_event_last(struct sim_event *ev, struct sim_stream **s, uint64_t *seq);

/* ---- graph.c: stream capture hooks, called by the enqueue paths ---- */

/* Whether any stream of the process is capturing: a cheap test before the hooks below. */
extern _Atomic int sim_capture_streams;

/* Checks work about to be enqueued on s (sync: a synchronous call that waits on the host). An
 * error is returned to the application: a synchronous call on a capturing stream or one made
 * where the capture mode prohibits it (CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED, invalidating the
 * capture), the legacy stream while a blocking stream of its context is capturing
 * (CUDA_ERROR_STREAM_CAPTURE_IMPLICIT), an invalidated capture
 * (CUDA_ERROR_STREAM_CAPTURE_INVALIDATED). On success *capturing says the work must become a
 * graph node (sim_capture_*) instead of being enqueued. */
CUresult sim_capture_check(struct sim_stream *s, int sync, int *capturing);
/* Adds captured work to s's capture; parameters are copied. */
CUresult sim_capture_kernel(struct sim_stream *s, const struct sim_kernel_node *k);
CUresult sim_capture_memcpy(struct sim_stream *s, struct CUctx_st *ctx, const CUDA_MEMCPY3D *p);
CUresult sim_capture_memset(struct sim_stream *s, struct CUctx_st *ctx,
                            const CUDA_MEMSET_NODE_PARAMS *p);
CUresult sim_capture_host(struct sim_stream *s, CUhostFn fn, void *user);
/* cuEventRecord on a capturing stream: the event remembers the stream's capture dependencies. */
CUresult sim_capture_event_record(struct sim_stream *s, CUevent ev);
/* cuStreamWaitEvent: *handled is set when the wait was absorbed by a capture (s joined it or
 * merged the event's dependencies); otherwise the caller enqueues the wait as usual. */
CUresult sim_capture_event_wait(struct sim_stream *s, CUevent ev, int *handled);
/* The event was recorded outside capture or destroyed: forget its capture record. */
void sim_capture_event_forget(CUevent ev);
/* cuStreamSynchronize / cuStreamQuery on s: CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED (and the
 * capture invalidated) when s is capturing. */
CUresult sim_capture_sync(struct sim_stream *s);

/* ---- pool.c: graph memory (allocation and free nodes) ---- */

/* One allocation made by a graph's allocation node. Its device address (va) is a virtual range
 * reserved when the node is made and fixed for the node's life; device memory backs it (a charge
 * of the shared state, entered in the allocation table as SIM_MEM_POOL) while the allocation is
 * live, and the backing stays cached after a free until cuDeviceGraphMemTrim or until nothing
 * names the allocation any more. References: the allocation node, every copy of it (executable
 * nodes, launches in flight), free nodes naming it, and free ops queued by cuMemFreeAsync. */
struct sim_graph_mem {
    int device;
    uint64_t va, va_size, size;     /* size: the charge, rounded to SIM_ALLOC_GRANULE */
    /* Guarded by pool.c's lock. */
    uint64_t offset;
    int backed, live, registered, refs;
    int outstanding;                 /* launched, not freed in its graph, no free issued yet */
    /* Guarded by graph.c's lock. */
    struct CUgraph_st *owner;        /* the graph holding the allocation node, NULL once gone */
    int owner_frees;                 /* a free node of the owning graph names it */
    int other_frees;                 /* free nodes of other graphs name it */
    struct sim_graph_mem *next;
};

/* Reserves the address of a new allocation of bytes on device dev (one reference, nothing
 * charged yet). */
CUresult sim_graph_mem_new(int dev, size_t bytes, struct sim_graph_mem **out);
void sim_graph_mem_ref(struct sim_graph_mem *m);
/* Drops a reference; the last one releases the address and the backing unless the allocation
 * is live (then the free that ends it releases them). */
void sim_graph_mem_unref(struct sim_graph_mem *m);
/* The allocation whose address is va, referenced; NULL when there is none. */
struct sim_graph_mem *sim_graph_mem_find(uint64_t va);
/* Run by a launch on the stream's worker: the allocation node makes the memory usable (charging
 * it unless still backed; CUDA_ERROR_OUT_OF_MEMORY when the device is full), the free node ends
 * it. */
CUresult sim_graph_mem_alloc_run(struct sim_graph_mem *m);
void sim_graph_mem_free_run(struct sim_graph_mem *m);
/* At launch: whether an escaping allocation is still unfreed from an earlier launch; mark it so
 * (on = 1) or freed by a launched free node (on = 0). */
int sim_graph_mem_outstanding(struct sim_graph_mem *m);
void sim_graph_mem_set_outstanding(struct sim_graph_mem *m, int on);

/* ---- graph.c: capture of stream-ordered allocation (called by pool.c) ---- */

/* cuMemAllocAsync on a capturing stream: an allocation node on device dev; *dptr its address. */
CUresult sim_capture_mem_alloc(struct sim_stream *s, int dev, size_t bytes, CUdeviceptr *dptr);
/* cuMemFreeAsync on a capturing stream: a free node for a graph allocation. */
CUresult sim_capture_mem_free(struct sim_stream *s, CUdeviceptr dptr);
/* Whether [addr, addr + len) lies inside one graph allocation whose allocation node belongs to
 * graph g or, when g is NULL, to the graph that stream s is capturing into (live or not). An
 * invalid g or a stream not capturing: 0. */
int sim_graph_mem_covers(struct CUgraph_st *g, struct sim_stream *s, uint64_t addr, size_t len);

/* ---- stream.c ---- */

/* Marks s as in a capture: sim_stream_enqueue refuses work for it meanwhile
 * (CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED), so a path without a capture hook can never run work
 * that should have been captured. */
void sim_stream_set_capturing(struct sim_stream *s, int on);
/* Whether s is the legacy stream / a blocking stream of ctx. */
int sim_stream_is_legacy(const struct sim_stream *s);
int sim_stream_is_blocking(const struct sim_stream *s);

#endif
