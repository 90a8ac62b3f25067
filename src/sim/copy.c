/*
 * copy.c: memcpy and memset of the simulated GPU, in every exported form.
 *
 * Every call validates its operands at once (a device operand must lie wholly inside one live
 * allocation, else CUDA_ERROR_INVALID_VALUE; the operand of a graph node, captured or not, may
 * instead lie in a graph allocation of the node's own graph that is not live yet), then enqueues one op on the stream it names; the
 * synchronous forms use the legacy default stream (the per-thread one for _ptds exports) and
 * wait as CUDA documents: copies return when done, except device-to-device ones, and memsets
 * return at once unless they target memory the host can read. When the op runs, device
 * addresses are looked up again (a block freed meanwhile is a sticky
 * CUDA_ERROR_ILLEGAL_ADDRESS) and the bytes move with memmove while the device's engine is
 * held, its duration counted as busy time. An array operand (array.h) names a byte offset in
 * the array's backing block, bounds-checked against the array's extent at call time; the op
 * holds a reference on the backing, so destroying the array meanwhile is harmless. Array copies
 * cannot be captured into graphs yet (CUDA_ERROR_NOT_SUPPORTED).
 */
#include "array.h"
#include "graph.h"
#include "stream.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define EXPORT __attribute__((visibility("default")))

/* Some exported names may have no prototype in the API header in use. */
#pragma GCC diagnostic ignored "-Wmissing-prototypes"

/* How an operand's address is to be read. */
enum operand {
    OPND_HOST = 1, /* a host pointer */
    OPND_DEVICE,   /* a device (or any UVA allocation) address: must be an allocation */
    OPND_UNIFIED,  /* any address: an allocation if it lies in one, else host memory */
    OPND_ARRAY,    /* a byte offset in a CUDA array's backing (array.h) */
};

/* One side of a copy: where its first byte is and how rows and slices step. */
struct side {
    int lookup;             /* resolved through sim_mem_lookup when the op runs */
    enum sim_mem_kind kind; /* the allocation's kind when lookup is set */
    uint64_t addr;
    size_t pitch, slice;
    size_t extent;          /* bytes from addr to one past the last byte touched */
    struct sim_array_mem *arr; /* an array operand: addr is an offset in it (a reference) */
};

struct copy_op {
    struct sim_op op;
    struct side src, dst;
    size_t width, height, depth;
    int device;
};

struct set_op {
    struct sim_op op;
    struct side dst;
    unsigned elem;          /* 1, 2 or 4 bytes */
    uint32_t value;
    size_t width, height;   /* elements per row, rows */
    int device;
};

/* Where a graph node is being made, if anywhere: a device operand may then also lie in a graph
 * allocation reserved by that graph (an allocation node of it), live or not. The range is checked
 * again when the node runs, like every device operand. */
struct node_scope {
    struct CUgraph_st *graph;   /* an explicit graph (a handle, validated by graph.c) */
    struct sim_stream *capture; /* or the stream whose capture graph it is */
};

static int in_device_range(uint64_t addr)
{
    return addr >= SIM_DEV_BASE && addr < SIM_DEV_BASE + (uint64_t)SIM_MAX_DEVICES * SIM_DEV_STRIDE;
}

/* Bytes spanned by depth slices of height rows of width bytes; 0 on overflow. */
static size_t span(size_t width, size_t height, size_t depth, size_t pitch, size_t slice)
{
    size_t a, b, r;
    if (__builtin_mul_overflow(depth - 1, slice, &a) ||
        __builtin_mul_overflow(height - 1, pitch, &b) || __builtin_add_overflow(a, b, &r) ||
        __builtin_add_overflow(r, width, &r))
        return 0;
    return r;
}

/* Whether a device operand missing from the allocation table is graph memory of the node's
 * graph (see struct node_scope). */
static int in_graph_mem(const struct node_scope *ns, uint64_t addr, size_t extent)
{
    return ns && sim_graph_mem_covers(ns->graph, ns->capture, addr, extent);
}

/* Classifies and bounds-checks one operand at call time (ns: the graph of a node being made). */
static CUresult side_init(struct side *sd, enum operand how, uint64_t addr, size_t extent,
                          const struct node_scope *ns)
{
    struct sim_mem_ref ref;
    memset(sd, 0, sizeof(*sd));
    sd->addr = addr;
    sd->extent = extent;
    if (how == OPND_HOST) {
        if (!addr || in_device_range(addr))
            return CUDA_ERROR_INVALID_VALUE;
        return CUDA_SUCCESS;
    }
    if (sim_mem_lookup(addr, extent, &ref) != CUDA_SUCCESS && in_graph_mem(ns, addr, extent)) {
        sd->lookup = 1;
        sd->kind = SIM_MEM_POOL; /* graph memory is entered as pool memory while live */
        return CUDA_SUCCESS;
    }
    if (how == OPND_UNIFIED && sim_mem_lookup(addr, 1, &ref) != CUDA_SUCCESS) {
        /* In no allocation: host memory, unless it is a (freed or foreign) device address. */
        if (!addr || in_device_range(addr))
            return CUDA_ERROR_INVALID_VALUE;
        return CUDA_SUCCESS;
    }
    if (sim_mem_lookup(addr, extent, &ref) != CUDA_SUCCESS)
        return CUDA_ERROR_INVALID_VALUE;
    sd->lookup = 1;
    sd->kind = ref.kind;
    return CUDA_SUCCESS;
}

/* Where the side's first byte lives now, in this process. */
static CUresult side_ptr(const struct side *sd, unsigned char **p)
{
    if (sd->arr) {
        *p = sim_array_host(sd->arr) + sd->addr;
        return CUDA_SUCCESS;
    }
    if (!sd->lookup) {
        *p = (unsigned char *)(uintptr_t)sd->addr;
        return CUDA_SUCCESS;
    }
    struct sim_mem_ref ref;
    if (sim_mem_lookup(sd->addr, sd->extent, &ref) != CUDA_SUCCESS)
        return CUDA_ERROR_ILLEGAL_ADDRESS; /* freed while the op was queued */
    *p = ref.host;
    return CUDA_SUCCESS;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static CUresult copy_run(struct sim_op *op)
{
    struct copy_op *c = (struct copy_op *)op;
    unsigned char *s, *d;
    CUresult rc = side_ptr(&c->src, &s);
    if (rc == CUDA_SUCCESS)
        rc = side_ptr(&c->dst, &d);
    if (rc != CUDA_SUCCESS)
        return rc;

    struct sim_instance *inst = sim_process_instance();
    if (inst)
        sim_engine_acquire(inst, c->device);
    uint64_t t0 = now_ns();
    for (size_t z = 0; z < c->depth; z++)
        for (size_t y = 0; y < c->height; y++)
            memmove(d + z * c->dst.slice + y * c->dst.pitch,
                    s + z * c->src.slice + y * c->src.pitch, c->width);
    uint64_t t1 = now_ns();
    if (inst) {
        sim_engine_release(inst, c->device);
        sim_instance_busy_add(inst, c->device, t1 - t0);
    }
    return CUDA_SUCCESS;
}

static void op_free(struct sim_op *op)
{
    free(op);
}

/* Frees a copy op and drops its references on array backings. */
static void copy_release(struct sim_op *op)
{
    struct copy_op *c = (struct copy_op *)op;
    sim_array_put(c->src.arr);
    sim_array_put(c->dst.arr);
    free(c);
}

static CUresult set_run(struct sim_op *op)
{
    struct set_op *m = (struct set_op *)op;
    unsigned char *d;
    CUresult rc = side_ptr(&m->dst, &d);
    if (rc != CUDA_SUCCESS)
        return rc;

    struct sim_instance *inst = sim_process_instance();
    if (inst)
        sim_engine_acquire(inst, m->device);
    uint64_t t0 = now_ns();
    for (size_t y = 0; y < m->height; y++) {
        unsigned char *row = d + y * m->dst.pitch;
        if (m->elem == 1) {
            memset(row, (int)(m->value & 0xff), m->width);
        } else if (m->elem == 2) {
            uint16_t v = (uint16_t)m->value;
            for (size_t i = 0; i < m->width; i++)
                memcpy(row + 2 * i, &v, 2);
        } else {
            for (size_t i = 0; i < m->width; i++)
                memcpy(row + 4 * i, &m->value, 4);
        }
    }
    uint64_t t1 = now_ns();
    if (inst) {
        sim_engine_release(inst, m->device);
        sim_instance_busy_add(inst, m->device, t1 - t0);
    }
    return CUDA_SUCCESS;
}

/* Resolves the stream of a call and fails early on a sticky error. */
static CUresult stream_for(CUstream h, int ptds, struct CUctx_st **ctx, struct sim_stream **s)
{
    CUresult rc = sim_stream_resolve(h, ptds, ctx, s);
    if (rc != CUDA_SUCCESS)
        return rc;
    return sim_ctx_sticky(*ctx);
}

/* Enqueues op (freed here on failure) and, when wait is set, waits for it. */
static CUresult submit(struct sim_stream *s, struct sim_op *op, int wait)
{
    uint64_t seq;
    CUresult rc = sim_stream_enqueue_after(s, op, NULL, 0, &seq);
    if (rc != CUDA_SUCCESS) {
        op->release(op);
        return rc;
    }
    return wait ? sim_stream_wait_seq(s, seq) : CUDA_SUCCESS;
}

/* Synchronous calls: device-to-device copies and memsets of device memory do not wait for
 * completion; everything else that the host can observe does. */
enum mode { ASYNC, SYNC };

/* A 3D copy of linear memory in its general form; 1D and 2D copies are special cases. */
struct linear {
    enum operand src_how, dst_how;
    uint64_t src, dst;         /* addresses of the first byte copied */
    size_t src_pitch, dst_pitch, src_slice, dst_slice;
    size_t width, height, depth;
    struct sim_array_mem *src_mem, *dst_mem; /* OPND_ARRAY sides: borrowed references */
};

/* side_init, or for an array operand (already bounds-checked): a new reference on its backing. */
static CUresult side_init_any(struct side *sd, enum operand how, uint64_t addr, size_t extent,
                              struct sim_array_mem *mem, const struct node_scope *ns)
{
    if (how != OPND_ARRAY)
        return side_init(sd, how, addr, extent, ns);
    memset(sd, 0, sizeof(*sd));
    sd->addr = addr;
    sd->extent = extent;
    sim_array_hold(mem);
    sd->arr = mem;
    return CUDA_SUCCESS;
}

/* Validates a linear copy and builds its op (*out NULL for an empty copy); ns: see side_init. */
static CUresult copy_build(const struct linear *l, int device, const struct node_scope *ns,
                           struct copy_op **out)
{
    CUresult rc;
    *out = NULL;
    if (l->width == 0 || l->height == 0 || l->depth == 0)
        return CUDA_SUCCESS;
    size_t src_ext = span(l->width, l->height, l->depth, l->src_pitch, l->src_slice);
    size_t dst_ext = span(l->width, l->height, l->depth, l->dst_pitch, l->dst_slice);
    if (!src_ext || !dst_ext)
        return CUDA_ERROR_INVALID_VALUE;

    struct copy_op *c = calloc(1, sizeof(*c));
    if (!c)
        return CUDA_ERROR_OUT_OF_MEMORY;
    c->op.release = copy_release;
    if ((rc = side_init_any(&c->src, l->src_how, l->src, src_ext, l->src_mem, ns)) !=
            CUDA_SUCCESS ||
        (rc = side_init_any(&c->dst, l->dst_how, l->dst, dst_ext, l->dst_mem, ns)) !=
            CUDA_SUCCESS) {
        copy_release(&c->op);
        return rc;
    }
    c->src.pitch = l->src_pitch;
    c->src.slice = l->src_slice;
    c->dst.pitch = l->dst_pitch;
    c->dst.slice = l->dst_slice;
    c->width = l->width;
    c->height = l->height;
    c->depth = l->depth;
    c->device = device;
    c->op.run = copy_run;
    c->op.engine = 1;
    *out = c;
    return CUDA_SUCCESS;
}

static CUmemorytype operand_type(enum operand how)
{
    return how == OPND_HOST ? CU_MEMORYTYPE_HOST
                            : how == OPND_DEVICE ? CU_MEMORYTYPE_DEVICE : CU_MEMORYTYPE_UNIFIED;
}

/* A linear copy as the CUDA_MEMCPY3D of a captured memcpy node. */
static void linear_to_3d(const struct linear *l, CUDA_MEMCPY3D *p)
{
    memset(p, 0, sizeof(*p));
    p->srcMemoryType = operand_type(l->src_how);
    if (l->src_how == OPND_HOST)
        p->srcHost = (const void *)(uintptr_t)l->src;
    else
        p->srcDevice = l->src;
    p->srcPitch = l->src_pitch;
    p->srcHeight = l->src_pitch ? l->src_slice / l->src_pitch : 0;
    p->dstMemoryType = operand_type(l->dst_how);
    if (l->dst_how == OPND_HOST)
        p->dstHost = (void *)(uintptr_t)l->dst;
    else
        p->dstDevice = l->dst;
    p->dstPitch = l->dst_pitch;
    p->dstHeight = l->dst_pitch ? l->dst_slice / l->dst_pitch : 0;
    p->WidthInBytes = l->width;
    p->Height = l->height;
    p->Depth = l->depth;
}

static CUresult copy_linear(CUstream h, int ptds, enum mode mode, const struct linear *l)
{
    struct CUctx_st *ctx;
    struct sim_stream *s;
    CUresult rc = stream_for(h, ptds, &ctx, &s);
    if (rc != CUDA_SUCCESS)
        return rc;
    int capturing = 0;
    if (atomic_load(&sim_capture_streams) &&
        (rc = sim_capture_check(s, mode == SYNC, &capturing)) != CUDA_SUCCESS)
        return rc;
    /* A captured copy may name graph memory of the capture that is not live yet. */
    struct node_scope ns = { .capture = s };
    struct copy_op *c;
    if ((rc = copy_build(l, ctx->device, capturing ? &ns : NULL, &c)) != CUDA_SUCCESS || !c)
        return rc;
    if (capturing) {
        int arrays = c->src.arr || c->dst.arr;
        c->op.release(&c->op);
        if (arrays)
            return CUDA_ERROR_NOT_SUPPORTED; /* memcpy nodes of arrays are not simulated */
        CUDA_MEMCPY3D p;
        linear_to_3d(l, &p);
        return sim_capture_memcpy(s, ctx, &p);
    }
    /* Arrays are device memory: copies between them and device memory do not wait. */
    int d2d = (c->src.arr || (c->src.lookup && c->src.kind == SIM_MEM_DEVICE)) &&
              (c->dst.arr || (c->dst.lookup && c->dst.kind == SIM_MEM_DEVICE));
    return submit(s, &c->op, mode == SYNC && !d2d);
}

static CUresult copy_1d(CUstream h, int ptds, enum mode mode, enum operand dst_how, uint64_t dst,
                        enum operand src_how, uint64_t src, size_t n)
{
    struct linear l = {
        .src_how = src_how, .dst_how = dst_how, .src = src, .dst = dst,
        .src_pitch = n, .dst_pitch = n, .src_slice = n, .dst_slice = n,
        .width = n, .height = 1, .depth = 1,
    };
    return copy_linear(h, ptds, mode, &l);
}

static CUresult check_peer(CUcontext dst, CUcontext src)
{
    CUresult rc = sim_process_check();
    if (rc != CUDA_SUCCESS)
        return rc;
    if ((rc = sim_ctx_check(dst)) != CUDA_SUCCESS)
        return rc;
    return sim_ctx_check(src);
}

#define P(x) ((uint64_t)(uintptr_t)(x))

/* ---- 1D copies ----------------------------------------------------------------------------- */

/* cuMemcpy: unified addressing decides where each side lives. */
EXPORT CUresult cuMemcpy(CUdeviceptr dst, CUdeviceptr src, size_t ByteCount)
{
    return copy_1d(NULL, 0, SYNC, OPND_UNIFIED, dst, OPND_UNIFIED, src, ByteCount);
}

/* cuMemcpy_ptds: cuMemcpy ordered on the per-thread default stream. */
EXPORT CUresult cuMemcpy_ptds(CUdeviceptr dst, CUdeviceptr src, size_t ByteCount)
{
    return copy_1d(NULL, 1, SYNC, OPND_UNIFIED, dst, OPND_UNIFIED, src, ByteCount);
}

/* cuMemcpyAsync: unified addressing, on hStream. */
EXPORT CUresult cuMemcpyAsync(CUdeviceptr dst, CUdeviceptr src, size_t ByteCount, CUstream hStream)
{
    return copy_1d(hStream, 0, ASYNC, OPND_UNIFIED, dst, OPND_UNIFIED, src, ByteCount);
}

/* cuMemcpyAsync_ptsz: per-thread default stream variant. */
EXPORT CUresult cuMemcpyAsync_ptsz(CUdeviceptr dst, CUdeviceptr src, size_t ByteCount,
                                   CUstream hStream)
{
    return copy_1d(hStream, 1, ASYNC, OPND_UNIFIED, dst, OPND_UNIFIED, src, ByteCount);
}

/* Defines the sync (_v2, _v2_ptds, 32-bit legacy) and async (_v2, _v2_ptsz, legacy) exports of
 * one explicit direction. */
#define COPY_FAMILY(NAME, DT, DHOW, ST, SHOW)                                                      \
    /* cuMemcpy##NAME##_v2: synchronous copy. */                                               \
    EXPORT CUresult cuMemcpy##NAME##_v2(DT dst, ST src, size_t n)                              \
    {                                                                                          \
        return copy_1d(NULL, 0, SYNC, DHOW, P(dst), SHOW, P(src), n);                          \
    }                                                                                          \
    /* cuMemcpy##NAME##_v2_ptds: ordered on the per-thread default stream. */                  \
    EXPORT CUresult cuMemcpy##NAME##_v2_ptds(DT dst, ST src, size_t n)                         \
    {                                                                                          \
        return copy_1d(NULL, 1, SYNC, DHOW, P(dst), SHOW, P(src), n);                          \
    }                                                                                          \
    /* cuMemcpy##NAME##Async_v2: asynchronous copy on a stream. */                             \
    EXPORT CUresult cuMemcpy##NAME##Async_v2(DT dst, ST src, size_t n, CUstream hStream)       \
    {                                                                                          \
        return copy_1d(hStream, 0, ASYNC, DHOW, P(dst), SHOW, P(src), n);                      \
    }                                                                                          \
    /* cuMemcpy##NAME##Async_v2_ptsz: per-thread default stream variant. */                    \
    EXPORT CUresult cuMemcpy##NAME##Async_v2_ptsz(DT dst, ST src, size_t n, CUstream hStream)  \
    {                                                                                          \
        return copy_1d(hStream, 1, ASYNC, DHOW, P(dst), SHOW, P(src), n);                      \
    }

COPY_FAMILY(HtoD, CUdeviceptr, OPND_DEVICE, const void *, OPND_HOST)
COPY_FAMILY(DtoH, void *, OPND_HOST, CUdeviceptr, OPND_DEVICE)
COPY_FAMILY(DtoD, CUdeviceptr, OPND_DEVICE, CUdeviceptr, OPND_DEVICE)

/* The 32-bit ABI of CUDA 3.x: a 32-bit device pointer names no simulated allocation (they lie
 * above 2^57), so these can only report CUDA_ERROR_INVALID_VALUE for device operands. */
#define COPY_FAMILY_V1(NAME, DT, DHOW, ST, SHOW)                                                   \
    /* cuMemcpy##NAME: the 32-bit legacy ABI. */                                               \
    EXPORT CUresult cuMemcpy##NAME(DT dst, ST src, unsigned int n)                             \
    {                                                                                          \
        return copy_1d(NULL, 0, SYNC, DHOW, P(dst), SHOW, P(src), n);                          \
    }                                                                                          \
    /* cuMemcpy##NAME##Async: the 32-bit legacy ABI. */                                        \
    EXPORT CUresult cuMemcpy##NAME##Async(DT dst, ST src, unsigned int n, CUstream hStream)    \
    {                                                                                          \
        return copy_1d(hStream, 0, ASYNC, DHOW, P(dst), SHOW, P(src), n);                      \
    }

COPY_FAMILY_V1(HtoD, unsigned int, OPND_DEVICE, const void *, OPND_HOST)
COPY_FAMILY_V1(DtoH, void *, OPND_HOST, unsigned int, OPND_DEVICE)
COPY_FAMILY_V1(DtoD, unsigned int, OPND_DEVICE, unsigned int, OPND_DEVICE)

static CUresult copy_peer(CUdeviceptr dst, CUcontext dctx, CUdeviceptr src, CUcontext sctx,
                          size_t n, CUstream h, int ptds, enum mode mode)
{
    CUresult rc = check_peer(dctx, sctx);
    if (rc != CUDA_SUCCESS)
        return rc;
    return copy_1d(h, ptds, mode, OPND_DEVICE, dst, OPND_DEVICE, src, n);
}

/* cuMemcpyPeer: device memory of one context to another's. */
EXPORT CUresult cuMemcpyPeer(CUdeviceptr dstDevice, CUcontext dstContext, CUdeviceptr srcDevice,
                             CUcontext srcContext, size_t ByteCount)
{
    return copy_peer(dstDevice, dstContext, srcDevice, srcContext, ByteCount, NULL, 0, SYNC);
}

/* cuMemcpyPeer_ptds: ordered on the per-thread default stream. */
EXPORT CUresult cuMemcpyPeer_ptds(CUdeviceptr dstDevice, CUcontext dstContext,
                                  CUdeviceptr srcDevice, CUcontext srcContext, size_t ByteCount)
{
    return copy_peer(dstDevice, dstContext, srcDevice, srcContext, ByteCount, NULL, 1, SYNC);
}

/* cuMemcpyPeerAsync: on hStream. */
EXPORT CUresult cuMemcpyPeerAsync(CUdeviceptr dstDevice, CUcontext dstContext,
                                  CUdeviceptr srcDevice, CUcontext srcContext, size_t ByteCount,
                                  CUstream hStream)
{
    return copy_peer(dstDevice, dstContext, srcDevice, srcContext, ByteCount, hStream, 0, ASYNC);
}

/* cuMemcpyPeerAsync_ptsz: per-thread default stream variant. */
EXPORT CUresult cuMemcpyPeerAsync_ptsz(CUdeviceptr dstDevice, CUcontext dstContext,
                                       CUdeviceptr srcDevice, CUcontext srcContext,
                                       size_t ByteCount, CUstream hStream)
{
    return copy_peer(dstDevice, dstContext, srcDevice, srcContext, ByteCount, hStream, 1, ASYNC);
}

/* ---- 1D copies with arrays ----------------------------------------------------------------- */

/* An array operand of a 1D copy: offset counts bytes through the array's rows taken one after
 * another (row-major, then layer-major, without row padding); the n bytes must lie within one
 * row (for a 1D array: the whole array). Returns the byte offset in the backing and a reference
 * on it (*mem, which the caller drops). */
static CUresult array_1d(CUarray h, size_t offset, size_t n, uint64_t *addr,
                         struct sim_array_mem **mem)
{
    struct sim_array_view v;
    CUresult rc = sim_array_get(h, &v);
    if (rc != CUDA_SUCCESS)
        return rc;
    size_t row = offset / v.row_bytes, x = offset % v.row_bytes;
    if (row >= v.rows * v.layers || n > v.row_bytes - x) {
        sim_array_put(v.mem);
        return CUDA_ERROR_INVALID_VALUE;
    }
    *addr = v.base + row * v.pitch + x;
    *mem = v.mem;
    return CUDA_SUCCESS;
}

/* A 1D copy where either side may be an array (its handle and byte offset given). */
static CUresult copy_1d_array(CUstream h, int ptds, enum mode mode, enum operand dst_how,
                              uint64_t dst, CUarray dst_array, size_t dst_offset,
                              enum operand src_how, uint64_t src, CUarray src_array,
                              size_t src_offset, size_t n)
{
    CUresult rc = sim_process_check();
    if (rc != CUDA_SUCCESS)
        return rc;
    struct linear l = {
        .src_how = src_how, .dst_how = dst_how, .src = src, .dst = dst,
        .src_pitch = n, .dst_pitch = n, .src_slice = n, .dst_slice = n,
        .width = n, .height = 1, .depth = 1,
    };
    if (src_how == OPND_ARRAY)
        rc = array_1d(src_array, src_offset, n, &l.src, &l.src_mem);
    if (rc == CUDA_SUCCESS && dst_how == OPND_ARRAY)
        rc = array_1d(dst_array, dst_offset, n, &l.dst, &l.dst_mem);
    if (rc == CUDA_SUCCESS)
        rc = copy_linear(h, ptds, mode, &l);
    sim_array_put(l.src_mem);
    sim_array_put(l.dst_mem);
    return rc;
}

#define HTOA(ptds, mode, h) copy_1d_array(h, ptds, mode, OPND_ARRAY, 0, dstArray, dstOffset, \
                                          OPND_HOST, P(srcHost), NULL, 0, ByteCount)
#define ATOH(ptds, mode, h) copy_1d_array(h, ptds, mode, OPND_HOST, P(dstHost), NULL, 0,      \
                                          OPND_ARRAY, 0, srcArray, srcOffset, ByteCount)
#define DTOA(ptds) copy_1d_array(NULL, ptds, SYNC, OPND_ARRAY, 0, dstArray, dstOffset,        \
                                 OPND_DEVICE, srcDevice, NULL, 0, ByteCount)
#define ATOD(ptds) copy_1d_array(NULL, ptds, SYNC, OPND_DEVICE, dstDevice, NULL, 0,           \
                                 OPND_ARRAY, 0, srcArray, srcOffset, ByteCount)
#define ATOA(ptds) copy_1d_array(NULL, ptds, SYNC, OPND_ARRAY, 0, dstArray, dstOffset,        \
                                 OPND_ARRAY, 0, srcArray, srcOffset, ByteCount)

/* cuMemcpyHtoA_v2: host memory to an array, ByteCount bytes at byte dstOffset. */
EXPORT CUresult cuMemcpyHtoA_v2(CUarray dstArray, size_t dstOffset, const void *srcHost,
                                size_t ByteCount)
{
    return HTOA(0, SYNC, NULL);
}

/* cuMemcpyHtoA_v2_ptds: ordered on the per-thread default stream. */
EXPORT CUresult cuMemcpyHtoA_v2_ptds(CUarray dstArray, size_t dstOffset, const void *srcHost,
                                     size_t ByteCount)
{
    return HTOA(1, SYNC, NULL);
}

/* cuMemcpyHtoA: the 32-bit legacy ABI. */
EXPORT CUresult cuMemcpyHtoA(CUarray dstArray, unsigned int dstOffset, const void *srcHost,
                             unsigned int ByteCount)
{
    return HTOA(0, SYNC, NULL);
}

/* cuMemcpyHtoAAsync_v2: host to array on hStream. */
EXPORT CUresult cuMemcpyHtoAAsync_v2(CUarray dstArray, size_t dstOffset, const void *srcHost,
                                     size_t ByteCount, CUstream hStream)
{
    return HTOA(0, ASYNC, hStream);
}

/* cuMemcpyHtoAAsync_v2_ptsz: per-thread default stream variant. */
EXPORT CUresult cuMemcpyHtoAAsync_v2_ptsz(CUarray dstArray, size_t dstOffset, const void *srcHost,
                                          size_t ByteCount, CUstream hStream)
{
    return HTOA(1, ASYNC, hStream);
}

/* cuMemcpyHtoAAsync: the 32-bit legacy ABI. */
EXPORT CUresult cuMemcpyHtoAAsync(CUarray dstArray, unsigned int dstOffset, const void *srcHost,
                                  unsigned int ByteCount, CUstream hStream)
{
    return HTOA(0, ASYNC, hStream);
}

/* cuMemcpyAtoH_v2: ByteCount bytes of an array from byte srcOffset to host memory. */
EXPORT CUresult cuMemcpyAtoH_v2(void *dstHost, CUarray srcArray, size_t srcOffset,
                                size_t ByteCount)
{
    return ATOH(0, SYNC, NULL);
}

/* cuMemcpyAtoH_v2_ptds: ordered on the per-thread default stream. */
EXPORT CUresult cuMemcpyAtoH_v2_ptds(void *dstHost, CUarray srcArray, size_t srcOffset,
                                     size_t ByteCount)
{
    return ATOH(1, SYNC, NULL);
}

/* cuMemcpyAtoH: the 32-bit legacy ABI. */
EXPORT CUresult cuMemcpyAtoH(void *dstHost, CUarray srcArray, unsigned int srcOffset,
                             unsigned int ByteCount)
{
    return ATOH(0, SYNC, NULL);
}

/* cuMemcpyAtoHAsync_v2: array to host on hStream. */
EXPORT CUresult cuMemcpyAtoHAsync_v2(void *dstHost, CUarray srcArray, size_t srcOffset,
                                     size_t ByteCount, CUstream hStream)
{
    return ATOH(0, ASYNC, hStream);
}

/* cuMemcpyAtoHAsync_v2_ptsz: per-thread default stream variant. */
EXPORT CUresult cuMemcpyAtoHAsync_v2_ptsz(void *dstHost, CUarray srcArray, size_t srcOffset,
                                          size_t ByteCount, CUstream hStream)
{
    return ATOH(1, ASYNC, hStream);
}

/* cuMemcpyAtoHAsync: the 32-bit legacy ABI. */
EXPORT CUresult cuMemcpyAtoHAsync(void *dstHost, CUarray srcArray, unsigned int srcOffset,
                                  unsigned int ByteCount, CUstream hStream)
{
    return ATOH(0, ASYNC, hStream);
}

/* cuMemcpyDtoA_v2: device memory to an array (does not wait, as device-to-device copies). */
EXPORT CUresult cuMemcpyDtoA_v2(CUarray dstArray, size_t dstOffset, CUdeviceptr srcDevice,
                                size_t ByteCount)
{
    return DTOA(0);
}

/* cuMemcpyDtoA_v2_ptds: ordered on the per-thread default stream. */
EXPORT CUresult cuMemcpyDtoA_v2_ptds(CUarray dstArray, size_t dstOffset, CUdeviceptr srcDevice,
                                     size_t ByteCount)
{
    return DTOA(1);
}

/* cuMemcpyDtoA: the 32-bit legacy ABI (a 32-bit device pointer names no allocation). */
EXPORT CUresult cuMemcpyDtoA(CUarray dstArray, unsigned int dstOffset, CUdeviceptr_v1 srcDevice,
                             unsigned int ByteCount)
{
    return DTOA(0);
}

/* cuMemcpyAtoD_v2: an array to device memory. */
EXPORT CUresult cuMemcpyAtoD_v2(CUdeviceptr dstDevice, CUarray srcArray, size_t srcOffset,
                                size_t ByteCount)
{
    return ATOD(0);
}

/* cuMemcpyAtoD_v2_ptds: ordered on the per-thread default stream. */
EXPORT CUresult cuMemcpyAtoD_v2_ptds(CUdeviceptr dstDevice, CUarray srcArray, size_t srcOffset,
                                     size_t ByteCount)
{
    return ATOD(1);
}

/* cuMemcpyAtoD: the 32-bit legacy ABI. */
EXPORT CUresult cuMemcpyAtoD(CUdeviceptr_v1 dstDevice, CUarray srcArray, unsigned int srcOffset,
                             unsigned int ByteCount)
{
    return ATOD(0);
}

/* cuMemcpyAtoA_v2: between arrays. */
EXPORT CUresult cuMemcpyAtoA_v2(CUarray dstArray, size_t dstOffset, CUarray srcArray,
                                size_t srcOffset, size_t ByteCount)
{
    return ATOA(0);
}

/* cuMemcpyAtoA_v2_ptds: ordered on the per-thread default stream. */
EXPORT CUresult cuMemcpyAtoA_v2_ptds(CUarray dstArray, size_t dstOffset, CUarray srcArray,
                                     size_t srcOffset, size_t ByteCount)
{
    return ATOA(1);
}

/* cuMemcpyAtoA: the 32-bit legacy ABI. */
EXPORT CUresult cuMemcpyAtoA(CUarray dstArray, unsigned int dstOffset, CUarray srcArray,
                             unsigned int srcOffset, unsigned int ByteCount)
{
    return ATOA(0);
}

/* ---- 2D and 3D copies ---------------------------------------------------------------------- */

/* One side of a 2D/3D descriptor, whatever the struct version it came from. */
struct desc_side {
    size_t x, y, z, lod;
    CUmemorytype type;
    const void *host;
    CUdeviceptr device;
    CUarray array;
    const void *reserved;
    size_t pitch, height;
};

/* Checks an array operand of a copy of depth slices of height rows of width bytes starting at
 * byte x of row y of layer z (x and width multiples of the element size when aligned is set),
 * and returns the byte offset of its first byte in the backing, the array's pitch and slice and
 * a reference on the backing (*mem, which the caller drops). */
static CUresult array_operand(CUarray h, size_t x, size_t y, size_t z, size_t width, size_t height,
                              size_t depth, int aligned, uint64_t *addr, size_t *pitch,
                              size_t *slice, struct sim_array_mem **mem)
{
    struct sim_array_view v;
    CUresult rc = sim_array_get(h, &v);
    if (rc != CUDA_SUCCESS)
        return rc;
    size_t xe, ye, ze;
    if ((aligned && (x % v.elem || width % v.elem)) || __builtin_add_overflow(x, width, &xe) ||
        __builtin_add_overflow(y, height, &ye) || __builtin_add_overflow(z, depth, &ze) ||
        xe > v.row_bytes || ye > v.rows || ze > v.layers) {
        sim_array_put(v.mem);
        return CUDA_ERROR_INVALID_VALUE;
    }
    *addr = v.base + z * v.slice + y * v.pitch + x;
    *pitch = v.pitch;
    *slice = v.slice;
    *mem = v.mem;
    return CUDA_SUCCESS;
}

/* Resolves one side of a descriptor; an array side (allowed when mem is not NULL) leaves a
 * reference on its backing in *mem. */
static CUresult desc_side_resolve(const struct desc_side *d, size_t width, size_t height,
                                  size_t depth, enum operand *how, uint64_t *addr, size_t *pitch,
                                  size_t *slice, struct sim_array_mem **mem)
{
    uint64_t base;
    switch (d->type) {
    case CU_MEMORYTYPE_HOST:
        *how = OPND_HOST;
        base = P(d->host);
        break;
    case CU_MEMORYTYPE_DEVICE:
        *how = OPND_DEVICE;
        base = d->device;
        break;
    case CU_MEMORYTYPE_UNIFIED:
        *how = OPND_UNIFIED;
        base = d->device;
        break;
    case CU_MEMORYTYPE_ARRAY:
        if (!mem)
            return CUDA_ERROR_NOT_SUPPORTED; /* graph memcpy nodes of arrays */
        if (d->reserved || d->lod)
            return CUDA_ERROR_INVALID_VALUE;
        *how = OPND_ARRAY;
        return array_operand(d->array, d->x, d->y, d->z, width, height, depth, 1, addr, pitch,
                             slice, mem);
    default:
        return CUDA_ERROR_INVALID_VALUE;
    }
    if (d->reserved || d->lod)
        return CUDA_ERROR_INVALID_VALUE;
    size_t p = d->pitch ? d->pitch : width;
    if ((height > 1 || depth > 1) && p < width)
        return CUDA_ERROR_INVALID_VALUE;
    size_t rows = d->height ? d->height : height;
    if (depth > 1 && rows < height)
        return CUDA_ERROR_INVALID_VALUE;
    size_t s, off, t;
    if (__builtin_mul_overflow(p, rows, &s) || __builtin_mul_overflow(d->z, s, &off) ||
        __builtin_mul_overflow(d->y, p, &t) || __builtin_add_overflow(off, t, &off) ||
        __builtin_add_overflow(off, d->x, &off) || __builtin_add_overflow(base, off, addr))
        return CUDA_ERROR_INVALID_VALUE;
    *pitch = p;
    *slice = s;
    return CUDA_SUCCESS;
}

static CUresult copy_desc(CUstream h, int ptds, enum mode mode, const struct desc_side *src,
                          const struct desc_side *dst, size_t width, size_t height, size_t depth)
{
    struct linear l = { .width = width, .height = height, .depth = depth };
    CUresult rc = sim_process_check();
    if (rc != CUDA_SUCCESS)
        return rc;
    /* An empty copy names no element: its array operands are only validated as handles. */
    size_t h1 = height ? height : 1, d1 = depth ? depth : 1;
    if ((rc = desc_side_resolve(src, width, h1, d1, &l.src_how, &l.src, &l.src_pitch,
                                &l.src_slice, &l.src_mem)) == CUDA_SUCCESS &&
        (rc = desc_side_resolve(dst, width, h1, d1, &l.dst_how, &l.dst, &l.dst_pitch,
                                &l.dst_slice, &l.dst_mem)) == CUDA_SUCCESS)
        rc = copy_linear(h, ptds, mode, &l);
    sim_array_put(l.src_mem);
    sim_array_put(l.dst_mem);
    return rc;
}

/* Fills the two sides of a CUDA_MEMCPY2D-shaped struct (any version). */
#define SIDES_2D(c, s, d)                                                                          \
    do {                                                                                           \
        s = (struct desc_side){ .x = (c)->srcXInBytes, .y = (c)->srcY,                             \
                                .type = (c)->srcMemoryType, .host = (c)->srcHost,                  \
                                .device = (c)->srcDevice, .array = (c)->srcArray,                  \
                                .pitch = (c)->srcPitch };                                          \
        d = (struct desc_side){ .x = (c)->dstXInBytes, .y = (c)->dstY,                             \
                                .type = (c)->dstMemoryType, .host = (c)->dstHost,                  \
                                .device = (c)->dstDevice, .array = (c)->dstArray,                  \
                                .pitch = (c)->dstPitch };                                          \
    } while (0)

static CUresult copy_2d(const CUDA_MEMCPY2D *c, CUstream h, int ptds, enum mode mode)
{
    struct desc_side s, d;
    if (!c) {
        CUresult rc = sim_process_check();
        return rc != CUDA_SUCCESS ? rc : CUDA_ERROR_INVALID_VALUE;
    }
    SIDES_2D(c, s, d);
    return copy_desc(h, ptds, mode, &s, &d, c->WidthInBytes, c->Height, 1);
}

static CUresult copy_2d_v1(const CUDA_MEMCPY2D_v1 *c, CUstream h, enum mode mode)
{
    struct desc_side s, d;
    if (!c) {
        CUresult rc = sim_process_check();
        return rc != CUDA_SUCCESS ? rc : CUDA_ERROR_INVALID_VALUE;
    }
    SIDES_2D(c, s, d);
    return copy_desc(h, 0, mode, &s, &d, c->WidthInBytes, c->Height, 1);
}

/* Fills the two sides of a CUDA_MEMCPY3D-shaped struct; r0/r1 name its reserved fields. */
#define SIDES_3D(c, s, d, r0, r1)                                                                  \
    do {                                                                                           \
        s = (struct desc_side){ .x = (c)->srcXInBytes, .y = (c)->srcY, .z = (c)->srcZ,             \
                                .lod = (c)->srcLOD, .type = (c)->srcMemoryType,                    \
                                .host = (c)->srcHost, .device = (c)->srcDevice,                    \
                                .array = (c)->srcArray, .reserved = (r0),                          \
                                .pitch = (c)->srcPitch, .height = (c)->srcHeight };                \
        d = (struct desc_side){ .x = (c)->dstXInBytes, .y = (c)->dstY, .z = (c)->dstZ,             \
                                .lod = (c)->dstLOD, .type = (c)->dstMemoryType,                    \
                                .host = (c)->dstHost, .device = (c)->dstDevice,                    \
                                .array = (c)->dstArray, .reserved = (r1),                          \
                                .pitch = (c)->dstPitch, .height = (c)->dstHeight };                \
    } while (0)

static CUresult copy_3d(const CUDA_MEMCPY3D *c, CUstream h, int ptds, enum mode mode)
{
    struct desc_side s, d;
    if (!c) {
        CUresult rc = sim_process_check();
        return rc != CUDA_SUCCESS ? rc : CUDA_ERROR_INVALID_VALUE;
    }
    SIDES_3D(c, s, d, c->reserved0, c->reserved1);
    return copy_desc(h, ptds, mode, &s, &d, c->WidthInBytes, c->Height, c->Depth);
}

static CUresult copy_3d_v1(const CUDA_MEMCPY3D_v1 *c, CUstream h, enum mode mode)
{
    struct desc_side s, d;
    if (!c) {
        CUresult rc = sim_process_check();
        return rc != CUDA_SUCCESS ? rc : CUDA_ERROR_INVALID_VALUE;
    }
    SIDES_3D(c, s, d, c->reserved0, c->reserved1);
    return copy_desc(h, 0, mode, &s, &d, c->WidthInBytes, c->Height, c->Depth);
}

static CUresult copy_3d_peer(const CUDA_MEMCPY3D_PEER *c, CUstream h, int ptds, enum mode mode)
{
    struct desc_side s, d;
    if (!c) {
        CUresult rc = sim_process_check();
        return rc != CUDA_SUCCESS ? rc : CUDA_ERROR_INVALID_VALUE;
    }
    CUresult rc = check_peer(c->dstContext, c->srcContext);
    if (rc != CUDA_SUCCESS)
        return rc;
    SIDES_3D(c, s, d, NULL, NULL);
    return copy_desc(h, ptds, mode, &s, &d, c->WidthInBytes, c->Height, c->Depth);
}

/* cuMemcpy2D_v2: a 2D copy of linear memory (pitches as given). */
EXPORT CUresult cuMemcpy2D_v2(const CUDA_MEMCPY2D *pCopy)
{
    return copy_2d(pCopy, NULL, 0, SYNC);
}

/* cuMemcpy2D_v2_ptds: ordered on the per-thread default stream. */
EXPORT CUresult cuMemcpy2D_v2_ptds(const CUDA_MEMCPY2D *pCopy)
{
    return copy_2d(pCopy, NULL, 1, SYNC);
}

/* cuMemcpy2DUnaligned_v2: as cuMemcpy2D_v2 (the sim has no alignment restrictions). */
EXPORT CUresult cuMemcpy2DUnaligned_v2(const CUDA_MEMCPY2D *pCopy)
{
    return copy_2d(pCopy, NULL, 0, SYNC);
}

/* cuMemcpy2DUnaligned_v2_ptds: ordered on the per-thread default stream. */
EXPORT CUresult cuMemcpy2DUnaligned_v2_ptds(const CUDA_MEMCPY2D *pCopy)
{
    return copy_2d(pCopy, NULL, 1, SYNC);
}

/* cuMemcpy2DAsync_v2: a 2D copy on hStream. */
EXPORT CUresult cuMemcpy2DAsync_v2(const CUDA_MEMCPY2D *pCopy, CUstream hStream)
{
    return copy_2d(pCopy, hStream, 0, ASYNC);
}

/* cuMemcpy2DAsync_v2_ptsz: per-thread default stream variant. */
EXPORT CUresult cuMemcpy2DAsync_v2_ptsz(const CUDA_MEMCPY2D *pCopy, CUstream hStream)
{
    return copy_2d(pCopy, hStream, 1, ASYNC);
}

/* cuMemcpy2D: the 32-bit legacy ABI. */
EXPORT CUresult cuMemcpy2D(const CUDA_MEMCPY2D_v1 *pCopy)
{
    return copy_2d_v1(pCopy, NULL, SYNC);
}

/* cuMemcpy2DUnaligned: the 32-bit legacy ABI. */
EXPORT CUresult cuMemcpy2DUnaligned(const CUDA_MEMCPY2D_v1 *pCopy)
{
    return copy_2d_v1(pCopy, NULL, SYNC);
}

/* cuMemcpy2DAsync: the 32-bit legacy ABI. */
EXPORT CUresult cuMemcpy2DAsync(const CUDA_MEMCPY2D_v1 *pCopy, CUstream hStream)
{
    return copy_2d_v1(pCopy, hStream, ASYNC);
}

/* cuMemcpy3D_v2: a 3D copy of linear memory. */
EXPORT CUresult cuMemcpy3D_v2(const CUDA_MEMCPY3D *pCopy)
{
    return copy_3d(pCopy, NULL, 0, SYNC);
}

/* cuMemcpy3D_v2_ptds: ordered on the per-thread default stream. */
EXPORT CUresult cuMemcpy3D_v2_ptds(const CUDA_MEMCPY3D *pCopy)
{
    return copy_3d(pCopy, NULL, 1, SYNC);
}

/* cuMemcpy3DAsync_v2: a 3D copy on hStream. */
EXPORT CUresult cuMemcpy3DAsync_v2(const CUDA_MEMCPY3D *pCopy, CUstream hStream)
{
    return copy_3d(pCopy, hStream, 0, ASYNC);
}

/* cuMemcpy3DAsync_v2_ptsz: per-thread default stream variant. */
EXPORT CUresult cuMemcpy3DAsync_v2_ptsz(const CUDA_MEMCPY3D *pCopy, CUstream hStream)
{
    return copy_3d(pCopy, hStream, 1, ASYNC);
}

/* cuMemcpy3D: the 32-bit legacy ABI. */
EXPORT CUresult cuMemcpy3D(const CUDA_MEMCPY3D_v1 *pCopy)
{
    return copy_3d_v1(pCopy, NULL, SYNC);
}

/* cuMemcpy3DAsync: the 32-bit legacy ABI. */
EXPORT CUresult cuMemcpy3DAsync(const CUDA_MEMCPY3D_v1 *pCopy, CUstream hStream)
{
    return copy_3d_v1(pCopy, hStream, ASYNC);
}

/* cuMemcpy3DPeer: a 3D copy between contexts. */
EXPORT CUresult cuMemcpy3DPeer(const CUDA_MEMCPY3D_PEER *pCopy)
{
    return copy_3d_peer(pCopy, NULL, 0, SYNC);
}

/* cuMemcpy3DPeer_ptds: ordered on the per-thread default stream. */
EXPORT CUresult cuMemcpy3DPeer_ptds(const CUDA_MEMCPY3D_PEER *pCopy)
{
    return copy_3d_peer(pCopy, NULL, 1, SYNC);
}

/* cuMemcpy3DPeerAsync: a 3D copy between contexts on hStream. */
EXPORT CUresult cuMemcpy3DPeerAsync(const CUDA_MEMCPY3D_PEER *pCopy, CUstream hStream)
{
    return copy_3d_peer(pCopy, hStream, 0, ASYNC);
}

/* cuMemcpy3DPeerAsync_ptsz: per-thread default stream variant. */
EXPORT CUresult cuMemcpy3DPeerAsync_ptsz(const CUDA_MEMCPY3D_PEER *pCopy, CUstream hStream)
{
    return copy_3d_peer(pCopy, hStream, 1, ASYNC);
}

/* ---- Memsets ------------------------------------------------------------------------------- */

/* Validates a memset and builds its op (*out NULL for an empty memset). */
static CUresult memset_build(CUdeviceptr dst, size_t pitch, unsigned elem, uint32_t value,
                             size_t width, size_t height, int device,
                             const struct node_scope *ns, struct set_op **out)
{
    CUresult rc;
    *out = NULL;
    /* The pointer and the pitch must be aligned to the element size. */
    if ((dst % elem) || (height > 1 && (pitch % elem)))
        return CUDA_ERROR_INVALID_VALUE;
    if (width == 0 || height == 0)
        return CUDA_SUCCESS;
    size_t row;
    if (__builtin_mul_overflow(width, (size_t)elem, &row))
        return CUDA_ERROR_INVALID_VALUE;
    if (height == 1)
        pitch = row;
    if (pitch < row)
        return CUDA_ERROR_INVALID_VALUE;
    size_t ext = span(row, height, 1, pitch, 0);
    if (!ext)
        return CUDA_ERROR_INVALID_VALUE;

    struct set_op *m = calloc(1, sizeof(*m));
    if (!m)
        return CUDA_ERROR_OUT_OF_MEMORY;
    if ((rc = side_init(&m->dst, OPND_DEVICE, dst, ext, ns)) != CUDA_SUCCESS) {
        free(m);
        return rc;
    }
    m->dst.pitch = pitch;
    m->elem = elem;
    m->value = value;
    m->width = width;
    m->height = height;
    m->device = device;
    m->op.run = set_run;
    m->op.engine = 1;
    m->op.release = op_free;
    *out = m;
    return CUDA_SUCCESS;
}

static CUresult memset_2d(CUstream h, int ptds, enum mode mode, CUdeviceptr dst, size_t pitch,
                          unsigned elem, uint32_t value, size_t width, size_t height)
{
    struct CUctx_st *ctx;
    struct sim_stream *s;
    CUresult rc = stream_for(h, ptds, &ctx, &s);
    if (rc != CUDA_SUCCESS)
        return rc;
    int capturing = 0;
    if (atomic_load(&sim_capture_streams) &&
        (rc = sim_capture_check(s, mode == SYNC, &capturing)) != CUDA_SUCCESS)
        return rc;
    struct node_scope ns = { .capture = s };
    struct set_op *m;
    if ((rc = memset_build(dst, pitch, elem, value, width, height, ctx->device,
                           capturing ? &ns : NULL, &m)) != CUDA_SUCCESS || !m)
        return rc;
    if (capturing) {
        CUDA_MEMSET_NODE_PARAMS p = {
            .dst = dst, .pitch = m->dst.pitch, .value = value, .elementSize = elem,
            .width = width, .height = height,
        };
        free(m);
        return sim_capture_memset(s, ctx, &p);
    }
    return submit(s, &m->op, mode == SYNC && m->dst.kind != SIM_MEM_DEVICE);
}

/* Defines the exports of one memset width: 1D and 2D, sync (_v2, _v2_ptds, 32-bit legacy) and
 * async (plain, _ptsz). */
#define MEMSET_FAMILY(BITS, VT)                                                                    \
    /* cuMemsetD##BITS##_v2: sets N elements. */                                               \
    EXPORT CUresult cuMemsetD##BITS##_v2(CUdeviceptr dstDevice, VT v, size_t N)                \
    {                                                                                          \
        return memset_2d(NULL, 0, SYNC, dstDevice, 0, BITS / 8, v, N, 1);                      \
    }                                                                                          \
    /* cuMemsetD##BITS##_v2_ptds: ordered on the per-thread default stream. */                 \
    EXPORT CUresult cuMemsetD##BITS##_v2_ptds(CUdeviceptr dstDevice, VT v, size_t N)           \
    {                                                                                          \
        return memset_2d(NULL, 1, SYNC, dstDevice, 0, BITS / 8, v, N, 1);                      \
    }                                                                                          \
    /* cuMemsetD##BITS: the 32-bit legacy ABI. */                                              \
    EXPORT CUresult cuMemsetD##BITS(unsigned int dstDevice, VT v, unsigned int N)              \
    {                                                                                          \
        return memset_2d(NULL, 0, SYNC, dstDevice, 0, BITS / 8, v, N, 1);                      \
    }                                                                                          \
    /* cuMemsetD##BITS##Async: sets N elements on hStream. */                                  \
    EXPORT CUresult cuMemsetD##BITS##Async(CUdeviceptr dstDevice, VT v, size_t N,              \
                                           CUstream hStream)                                   \
    {                                                                                          \
        return memset_2d(hStream, 0, ASYNC, dstDevice, 0, BITS / 8, v, N, 1);                  \
    }                                                                                          \
    /* cuMemsetD##BITS##Async_ptsz: per-thread default stream variant. */                      \
    EXPORT CUresult cuMemsetD##BITS##Async_ptsz(CUdeviceptr dstDevice, VT v, size_t N,         \
                                                CUstream hStream)                              \
    {                                                                                          \
        return memset_2d(hStream, 1, ASYNC, dstDevice, 0, BITS / 8, v, N, 1);                  \
    }                                                                                          \
    /* cuMemsetD2D##BITS##_v2: sets Height rows of Width elements, dstPitch bytes apart. */    \
    EXPORT CUresult cuMemsetD2D##BITS##_v2(CUdeviceptr dstDevice, size_t dstPitch, VT v,       \
                                           size_t Width, size_t Height)                        \
    {                                                                                          \
        return memset_2d(NULL, 0, SYNC, dstDevice, dstPitch, BITS / 8, v, Width, Height);      \
    }                                                                                          \
    /* cuMemsetD2D##BITS##_v2_ptds: ordered on the per-thread default stream. */               \
    EXPORT CUresult cuMemsetD2D##BITS##_v2_ptds(CUdeviceptr dstDevice, size_t dstPitch, VT v,  \
                                                size_t Width, size_t Height)                   \
    {                                                                                          \
        return memset_2d(NULL, 1, SYNC, dstDevice, dstPitch, BITS / 8, v, Width, Height);      \
    }                                                                                          \
    /* cuMemsetD2D##BITS: the 32-bit legacy ABI. */                                            \
    EXPORT CUresult cuMemsetD2D##BITS(unsigned int dstDevice, unsigned int dstPitch, VT v,     \
                                      unsigned int Width, unsigned int Height)                 \
    {                                                                                          \
        return memset_2d(NULL, 0, SYNC, dstDevice, dstPitch, BITS / 8, v, Width, Height);      \
    }                                                                                          \
    /* cuMemsetD2D##BITS##Async: a 2D memset on hStream. */                                    \
    EXPORT CUresult cuMemsetD2D##BITS##Async(CUdeviceptr dstDevice, size_t dstPitch, VT v,     \
                                             size_t Width, size_t Height, CUstream hStream)    \
    {                                                                                          \
        return memset_2d(hStream, 0, ASYNC, dstDevice, dstPitch, BITS / 8, v, Width, Height);  \
    }                                                                                          \
    /* cuMemsetD2D##BITS##Async_ptsz: per-thread default stream variant. */                    \
    EXPORT CUresult cuMemsetD2D##BITS##Async_ptsz(CUdeviceptr dstDevice, size_t dstPitch,      \
                                                  VT v, size_t Width, size_t Height,           \
                                                  CUstream hStream)                            \
    {                                                                                          \
        return memset_2d(hStream, 1, ASYNC, dstDevice, dstPitch, BITS / 8, v, Width, Height);  \
    }

MEMSET_FAMILY(8, unsigned char)
MEMSET_FAMILY(16, unsigned short)
MEMSET_FAMILY(32, unsigned int)

/* ---- Graph memcpy and memset nodes (graph.h) ------------------------------------------------ */

/* A CUDA_MEMCPY3D as the linear copy it describes. */
static CUresult memcpy3d_linear(const CUDA_MEMCPY3D *p, struct linear *l)
{
    struct desc_side s, d;
    if (!p)
        return CUDA_ERROR_INVALID_VALUE;
    SIDES_3D(p, s, d, p->reserved0, p->reserved1);
    memset(l, 0, sizeof(*l));
    l->width = p->WidthInBytes;
    l->height = p->Height ? p->Height : 1;
    l->depth = p->Depth ? p->Depth : 1;
    CUresult rc;
    if ((rc = desc_side_resolve(&s, l->width, l->height, l->depth, &l->src_how, &l->src,
                                &l->src_pitch, &l->src_slice, NULL)) != CUDA_SUCCESS ||
        (rc = desc_side_resolve(&d, l->width, l->height, l->depth, &l->dst_how, &l->dst,
                                &l->dst_pitch, &l->dst_slice, NULL)) != CUDA_SUCCESS)
        return rc;
    return CUDA_SUCCESS;
}

/* Validates a memcpy node's parameters (see graph.h). */
CUresult sim_memcpy_node_check(const CUDA_MEMCPY3D *p, struct CUgraph_st *g)
{
    struct linear l;
    struct copy_op *c;
    struct node_scope ns = { .graph = g };
    CUresult rc = memcpy3d_linear(p, &l);
    if (rc == CUDA_SUCCESS && (rc = copy_build(&l, 0, g ? &ns : NULL, &c)) == CUDA_SUCCESS && c)
        copy_release(&c->op);
    return rc;
}

/* Runs a memcpy node on the calling thread (see graph.h). */
CUresult sim_memcpy_node_run(const CUDA_MEMCPY3D *p, int dev)
{
    struct linear l;
    struct copy_op *c;
    CUresult rc = memcpy3d_linear(p, &l);
    if (rc == CUDA_SUCCESS)
        rc = copy_build(&l, dev, NULL, &c);
    if (rc != CUDA_SUCCESS)
        return rc == CUDA_ERROR_INVALID_VALUE ? CUDA_ERROR_ILLEGAL_ADDRESS : rc;
    if (c) {
        rc = copy_run(&c->op);
        copy_release(&c->op);
    }
    return rc;
}

static CUresult memset_params_build(const CUDA_MEMSET_NODE_PARAMS *p, int dev,
                                    const struct node_scope *ns, struct set_op **out)
{
    if (!p || (p->elementSize != 1 && p->elementSize != 2 && p->elementSize != 4))
        return CUDA_ERROR_INVALID_VALUE;
    return memset_build(p->dst, p->pitch, p->elementSize, p->value, p->width,
                        p->height ? p->height : 1, dev, ns, out);
}

/* Validates a memset node's parameters (see graph.h). */
CUresult sim_memset_node_check(const CUDA_MEMSET_NODE_PARAMS *p, struct CUgraph_st *g)
{
    struct set_op *m;
    struct node_scope ns = { .graph = g };
    CUresult rc = memset_params_build(p, 0, g ? &ns : NULL, &m);
    if (rc == CUDA_SUCCESS)
        free(m);
    return rc;
}

/* Runs a memset node on the calling thread (see graph.h). */
CUresult sim_memset_node_run(const CUDA_MEMSET_NODE_PARAMS *p, int dev)
{
    struct set_op *m;
    CUresult rc = memset_params_build(p, dev, NULL, &m);
    if (rc != CUDA_SUCCESS)
        return rc == CUDA_ERROR_INVALID_VALUE ? CUDA_ERROR_ILLEGAL_ADDRESS : rc;
    if (m) {
        rc = set_run(&m->op);
        free(m);
    }
    return rc;
}
