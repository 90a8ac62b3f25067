/*
 * event.c: events of the simulated GPU.
 *
 * An event remembers what its last record captured: a stream and the sequence number of the
 * record op on it. It is complete when that op has run, and the op stamps the event with
 * CLOCK_MONOTONIC when the stream's worker reaches it. Each record bumps a generation so that
 * a stale record op (the event was recorded again meanwhile) never overwrites the newer time.
 * See docs/internals/sim.md, "Stream engine".
 */
#include "driver.h"
#include "graph.h"
#include "stream.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define EVENT_MAGIC 0x45564e54u /* "EVNT" */
#define EVENT_DEAD  0x65766e74u

struct sim_event {
    uint32_t magic;
    unsigned int flags;
    struct CUctx_st *ctx;    /* compared, never dereferenced: the context may be gone */
    int device;              /* the context's device: whose engine stamps the event */
    unsigned refs;           /* one while alive, one per pending record op */
    struct sim_stream *stream; /* what the last record captured (referenced); NULL if never */
    uint64_t seq;
    uint64_t gen;            /* number of records so far */
    int timed;               /* time_ns holds the time of record number gen */
    uint64_t time_ns;
    struct sim_ipc_event *ipc; /* CU_EVENT_INTERPROCESS: the shared state (ipc.c), else NULL */
};

/* Live events; guarded by the engine lock like every other stream-engine state. */
static struct sim_handle_set g_events;

/* Registries inherited across fork: kept reachable (never used) for leak checkers. */
static struct sim_handle_set g_events_stale[4];

/* Forgets the parent's events in a forked child (see stream.h). The engine lock has just been
 * re-initialised by the caller. */
void sim_event_fork_child(void)
{
    for (size_t i = 0; i < sizeof(g_events_stale) / sizeof(g_events_stale[0]); i++) {
        if (!g_events_stale[i].slots) {
            g_events_stale[i] = g_events;
            break;
        }
    }
    memset(&g_events, 0, sizeof(g_events));
}

#define EXPORT __attribute__((visibility("default")))

/* Some exported names may have no prototype in the API header in use. */
#pragma GCC diagnostic ignored "-Wmissing-prototypes"

static void event_unref_locked(struct sim_event *ev)
{
    if (--ev->refs)
        return;
    if (ev->stream)
        sim_stream_unref_locked(ev->stream);
    sim_ipc_event_free(ev->ipc);
    free(ev);
}

/* Validates an application event handle against the registry before touching it. */
static CUresult event_resolve(CUevent h, struct sim_event **out)
{
    CUresult rc = sim_process_check();
    if (rc != CUDA_SUCCESS)
        return rc;
    if (!h)
        return CUDA_ERROR_INVALID_HANDLE;
    sim_stream_lock();
    struct sim_event *ev = (struct sim_event *)h;
    int ok = sim_handle_set_has(&g_events, ev) && ev->magic == EVENT_MAGIC;
    sim_stream_unlock();
    if (!ok)
        return CUDA_ERROR_INVALID_HANDLE;
    *out = ev;
    return CUDA_SUCCESS;
}

/* cuEventCreate: flags as documented; CU_EVENT_INTERPROCESS needs CU_EVENT_DISABLE_TIMING. */
EXPORT CUresult cuEventCreate(CUevent *phEvent, unsigned int Flags)
{
    CUresult rc = sim_process_check();
    if (rc != CUDA_SUCCESS)
        return rc;
    struct CUctx_st *ctx;
    rc = sim_ctx_current(&ctx);
    if (rc != CUDA_SUCCESS)
        return rc;
    const unsigned int known =
        CU_EVENT_BLOCKING_SYNC | CU_EVENT_DISABLE_TIMING | CU_EVENT_INTERPROCESS;
    if (!phEvent || (Flags & ~known))
        return CUDA_ERROR_INVALID_VALUE;
    if ((Flags & CU_EVENT_INTERPROCESS) && !(Flags & CU_EVENT_DISABLE_TIMING))
        return CUDA_ERROR_INVALID_VALUE;
    if ((rc = sim_ctx_sticky(ctx)) != CUDA_SUCCESS)
        return rc;

    struct sim_event *ev = calloc(1, sizeof(*ev));
    if (!ev)
        return CUDA_ERROR_OUT_OF_MEMORY;
    ev->magic = EVENT_MAGIC;
    ev->flags = Flags;
    ev->ctx = ctx;
    ev->device = ctx->device;
    ev->refs = 1;
    if ((Flags & CU_EVENT_INTERPROCESS) && !(ev->ipc = sim_ipc_event_new())) {
        free(ev);
        return CUDA_ERROR_OPERATING_SYSTEM;
    }
    sim_stream_lock();
    int err = sim_handle_set_add(&g_events, ev);
    sim_stream_unlock();
    if (err) {
        sim_ipc_event_free(ev->ipc);
        free(ev);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    *phEvent = (CUevent)ev;
    return CUDA_SUCCESS;
}

/* The interprocess state of an event (NULL when it has none), for ipc.c. */
CUresult sim_event_ipc(CUevent h, struct sim_ipc_event **out)
{
    struct sim_event *ev;
    CUresult rc = event_resolve(h, &ev);
    if (rc == CUDA_SUCCESS)
        *out = ev->ipc;
    return rc;
}

/* An event of the current context around an opened interprocess state (ipc.c). */
CUresult sim_event_create_ipc(struct sim_ipc_event *ie, CUevent *out)
{
    struct CUctx_st *ctx;
    CUresult rc = sim_ctx_current(&ctx);
    if (rc != CUDA_SUCCESS)
        return rc;
    struct sim_event *ev = calloc(1, sizeof(*ev));
    if (!ev)
        return CUDA_ERROR_OUT_OF_MEMORY;
    ev->magic = EVENT_MAGIC;
    ev->flags = CU_EVENT_INTERPROCESS | CU_EVENT_DISABLE_TIMING;
    ev->ctx = ctx;
    ev->device = ctx->device;
    ev->refs = 1;
    sim_stream_lock();
    int err = sim_handle_set_add(&g_events, ev);
    sim_stream_unlock();
    if (err) {
        free(ev);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    ev->ipc = ie;
    *out = (CUevent)ev;
    return CUDA_SUCCESS;
}

static CUresult event_destroy(CUevent h)
{
    struct sim_event *ev;
    CUresult rc = event_resolve(h, &ev);
    if (rc != CUDA_SUCCESS)
        return rc;
    if (atomic_load(&sim_capture_streams))
        sim_capture_event_forget(h);
    sim_stream_lock();
    if (ev->magic == EVENT_MAGIC && sim_handle_set_has(&g_events, ev)) {
        sim_handle_set_del(&g_events, ev);
        ev->magic = EVENT_DEAD;
        event_unref_locked(ev); /* pending record ops keep it until they have run */
    } else {
        rc = CUDA_ERROR_INVALID_HANDLE;
    }
    sim_stream_unlock();
    return rc;
}

/* cuEventDestroy_v2: does not wait for a pending record; it is released when that completes. */
EXPORT CUresult cuEventDestroy_v2(CUevent hEvent)
{
    return event_destroy(hEvent);
}

/* cuEventDestroy: the original ABI name of cuEventDestroy_v2. */
EXPORT CUresult cuEventDestroy(CUevent hEvent)
{
    return event_destroy(hEvent);
}

/* The op a record enqueues: stamps the event when the stream reaches it. */
struct record_op {
    struct sim_op op;
    struct sim_event *ev; /* referenced until the op is released */
    uint64_t gen;
    uint32_t ipc_gen;     /* the record's number in the interprocess state */
};

/* Stamps ev (if gen is still its last record) with the time now, holding the device's engine:
 * a GPU stamps an event in its context's time slice, so a pair of events measures the
 * context's own time on the device. */
static void event_stamp_engine(struct sim_event *ev, uint64_t gen)
{
    struct sim_instance *inst = sim_process_instance();
    int dev = ev->device;
    struct timespec ts;
    sim_engine_acquire(inst, dev);
    clock_gettime(CLOCK_MONOTONIC, &ts);
    sim_engine_release(inst, dev);
    sim_stream_lock();
    if (ev->gen == gen) {
        ev->time_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
        ev->timed = 1;
    }
    sim_stream_unlock();
}

static CUresult record_op_run(struct sim_op *op)
{
    struct record_op *r = (struct record_op *)op;
    event_stamp_engine(r->ev, r->gen);
    if (r->ev->ipc)
        sim_ipc_event_complete(r->ev->ipc, r->ipc_gen);
    return CUDA_SUCCESS;
}

static void record_op_release(struct sim_op *op)
{
    struct record_op *r = (struct record_op *)op;
    sim_event_put(r->ev);
    free(r);
}

static CUresult event_record(CUevent hEvent, CUstream hStream, unsigned int flags, int ptds)
{
    struct sim_event *ev;
    CUresult rc = event_resolve(hEvent, &ev);
    if (rc != CUDA_SUCCESS)
        return rc;
    struct CUctx_st *ctx;
    struct sim_stream *s;
    rc = sim_stream_resolve(hStream, ptds, &ctx, &s);
    if (rc != CUDA_SUCCESS)
        return rc;
    if (flags != CU_EVENT_RECORD_DEFAULT) /* CU_EVENT_RECORD_EXTERNAL: stream capture only */
        return CUDA_ERROR_INVALID_VALUE;
    if (ctx != ev->ctx)
        return CUDA_ERROR_INVALID_HANDLE;
    if ((rc = sim_ctx_sticky(ctx)) != CUDA_SUCCESS)
        return rc;
    if (atomic_load(&sim_capture_streams)) {
        int capturing = 0;
        if ((rc = sim_capture_check(s, 0, &capturing)) != CUDA_SUCCESS)
            return rc;
        if (capturing)
            return sim_capture_event_record(s, hEvent);
        sim_capture_event_forget(hEvent);
    }

    struct record_op *r = calloc(1, sizeof(*r));
    if (!r)
        return CUDA_ERROR_OUT_OF_MEMORY;
    r->op.run = record_op_run;
    r->op.release = record_op_release;
    r->op.engine = 1;
    r->ev = ev;

    sim_stream_lock();
    uint64_t gen = r->gen = ++ev->gen;
    ev->timed = 0;
    ev->refs++;
    sim_stream_unlock();
    uint32_t ipc_gen = ev->ipc ? sim_ipc_event_record(ev->ipc) : 0;
    r->ipc_gen = ipc_gen;

    uint64_t seq = 0;
    rc = sim_stream_enqueue_after(s, &r->op, NULL, 0, &seq);
    if (rc != CUDA_SUCCESS && ev->ipc)
        sim_ipc_event_complete(ev->ipc, ipc_gen); /* never leave waiters of other processes */

    struct sim_stream *old = NULL;
    sim_stream_lock();
    if (rc != CUDA_SUCCESS) {
        event_unref_locked(ev);
        free(r);
    } else if (ev->gen == gen) {
        /* r may already have run and been freed: only the local copy of its generation is
         * used here. A newer record by another thread wins. */
        old = ev->stream;
        sim_stream_ref_locked(s);
        ev->stream = s;
        ev->seq = seq;
    }
    if (old)
        sim_stream_unref_locked(old);
    sim_stream_unlock();
    return rc;
}

/* cuEventRecord: captures the work queued on hStream so far. */
EXPORT CUresult cuEventRecord(CUevent hEvent, CUstream hStream)
{
    return event_record(hEvent, hStream, 0, 0);
}

/* cuEventRecord_ptsz: per-thread default stream variant. */
EXPORT CUresult cuEventRecord_ptsz(CUevent hEvent, CUstream hStream)
{
    return event_record(hEvent, hStream, 0, 1);
}

/* cuEventRecordWithFlags: as cuEventRecord; CU_EVENT_RECORD_EXTERNAL only under capture. */
EXPORT CUresult cuEventRecordWithFlags(CUevent hEvent, CUstream hStream, unsigned int flags)
{
    return event_record(hEvent, hStream, flags, 0);
}

/* cuEventRecordWithFlags_ptsz: per-thread default stream variant. */
EXPORT CUresult cuEventRecordWithFlags_ptsz(CUevent hEvent, CUstream hStream, unsigned int flags)
{
    return event_record(hEvent, hStream, flags, 1);
}

/* Takes a referenced snapshot of what ev last captured; *s is NULL when never recorded. */
static void event_capture(struct sim_event *ev, struct sim_stream **s, uint64_t *seq)
{
    sim_stream_lock();
    *s = ev->stream;
    *seq = ev->seq;
    if (*s)
        sim_stream_ref_locked(*s);
    sim_stream_unlock();
}

/* cuEventQuery: CUDA_SUCCESS when the captured work is done (or nothing was captured). */
EXPORT CUresult cuEventQuery(CUevent hEvent)
{
    struct sim_event *ev;
    CUresult rc = event_resolve(hEvent, &ev);
    if (rc != CUDA_SUCCESS)
        return rc;
    if (ev->ipc) /* another process may have recorded it */
        return sim_ipc_event_reached(ev->ipc, sim_ipc_event_target(ev->ipc))
                   ? CUDA_SUCCESS : CUDA_ERROR_NOT_READY;
    struct sim_stream *s;
    uint64_t seq;
    event_capture(ev, &s, &seq);
    if (!s)
        return CUDA_SUCCESS;
    int done = sim_stream_seq_done(s, seq);
    sim_stream_unref(s);
    return done ? CUDA_SUCCESS : CUDA_ERROR_NOT_READY;
}

/* cuEventSynchronize: waits until the captured work is done. */
EXPORT CUresult cuEventSynchronize(CUevent hEvent)
{
    struct sim_event *ev;
    CUresult rc = event_resolve(hEvent, &ev);
    if (rc != CUDA_SUCCESS)
        return rc;
    if (ev->ipc) {
        sim_ipc_event_wait(ev->ipc, sim_ipc_event_target(ev->ipc));
        return CUDA_SUCCESS;
    }
    struct sim_stream *s;
    uint64_t seq;
    event_capture(ev, &s, &seq);
    if (!s)
        return CUDA_SUCCESS;
    rc = sim_stream_wait_seq(s, seq);
    sim_stream_unref(s);
    return rc;
}

static CUresult event_elapsed(float *ms, CUevent hStart, CUevent hEnd)
{
    struct sim_event *a, *b;
    CUresult rc = event_resolve(hStart, &a);
    if (rc != CUDA_SUCCESS)
        return rc;
    if ((rc = event_resolve(hEnd, &b)) != CUDA_SUCCESS)
        return rc;
    if (!ms)
        return CUDA_ERROR_INVALID_VALUE;
    if ((a->flags | b->flags) & CU_EVENT_DISABLE_TIMING)
        return CUDA_ERROR_INVALID_HANDLE;

    sim_stream_lock();
    if (!a->stream || !b->stream) {
        rc = CUDA_ERROR_INVALID_HANDLE;
    } else if (!sim_stream_seq_done_locked(a->stream, a->seq) ||
               !sim_stream_seq_done_locked(b->stream, b->seq) || !a->timed || !b->timed) {
        rc = CUDA_ERROR_NOT_READY;
    } else {
        int64_t d = (int64_t)(b->time_ns - a->time_ns);
        *ms = (float)((double)d / 1e6);
    }
    sim_stream_unlock();
    return rc;
}

/* cuEventElapsedTime: milliseconds between two completed, timed records. */
EXPORT CUresult cuEventElapsedTime(float *pMilliseconds, CUevent hStart, CUevent hEnd)
{
    return event_elapsed(pMilliseconds, hStart, hEnd);
}

/* cuEventElapsedTime_v2: the same measurement. */
EXPORT CUresult cuEventElapsedTime_v2(float *pMilliseconds, CUevent hStart, CUevent hEnd)
{
    return event_elapsed(pMilliseconds, hStart, hEnd);
}

/* The no-op a stream wait enqueues: it carries the dependency and does nothing itself. */
static CUresult wait_op_run(struct sim_op *op)
{
    (void)op;
    return CUDA_SUCCESS;
}

static void wait_op_release(struct sim_op *op)
{
    free(op);
}

/* The op a wait on an interprocess event enqueues: blocks its stream until the record it names
 * has completed, in whatever process recorded it. */
struct ipc_wait_op {
    struct sim_op op;
    struct sim_event *ev; /* referenced until the op is released */
    uint32_t target;
};

static CUresult ipc_wait_op_run(struct sim_op *op)
{
    struct ipc_wait_op *w = (struct ipc_wait_op *)op;
    sim_ipc_event_wait(w->ev->ipc, w->target);
    return CUDA_SUCCESS;
}

static void ipc_wait_op_release(struct sim_op *op)
{
    struct ipc_wait_op *w = (struct ipc_wait_op *)op;
    sim_event_put(w->ev);
    free(w);
}

static CUresult stream_wait_event(CUstream hStream, CUevent hEvent, unsigned int flags, int ptds)
{
    struct CUctx_st *ctx;
    struct sim_stream *s;
    CUresult rc = sim_stream_resolve(hStream, ptds, &ctx, &s);
    if (rc != CUDA_SUCCESS)
        return rc;
    struct sim_event *ev;
    if ((rc = event_resolve(hEvent, &ev)) != CUDA_SUCCESS)
        return rc;
    if (flags & ~(unsigned int)CU_EVENT_WAIT_EXTERNAL)
        return CUDA_ERROR_INVALID_VALUE;
    if ((rc = sim_ctx_sticky(ctx)) != CUDA_SUCCESS)
        return rc;
    if (atomic_load(&sim_capture_streams)) {
        int handled = 0;
        if ((rc = sim_capture_event_wait(s, hEvent, &handled)) != CUDA_SUCCESS || handled)
            return rc;
    }

    if (ev->ipc) {
        struct ipc_wait_op *w = calloc(1, sizeof(*w));
        if (!w)
            return CUDA_ERROR_OUT_OF_MEMORY;
        w->op.run = ipc_wait_op_run;
        w->op.release = ipc_wait_op_release;
        w->ev = ev;
        w->target = sim_ipc_event_target(ev->ipc);
        sim_stream_lock();
        ev->refs++;
        sim_stream_unlock();
        rc = sim_stream_enqueue_after(s, &w->op, NULL, 0, NULL);
        if (rc != CUDA_SUCCESS)
            ipc_wait_op_release(&w->op);
        return rc;
    }

    struct sim_stream *dep;
    uint64_t seq;
    event_capture(ev, &dep, &seq);
    struct sim_op *op = calloc(1, sizeof(*op));
    if (!op) {
        rc = CUDA_ERROR_OUT_OF_MEMORY;
        goto out;
    }
    op->run = wait_op_run;
    op->release = wait_op_release;
    rc = sim_stream_enqueue_after(s, op, dep, seq, NULL);
    if (rc != CUDA_SUCCESS)
        free(op);
out:
    if (dep)
        sim_stream_unref(dep);
    return rc;
}

/* cuStreamWaitEvent: later work on hStream waits for the work hEvent captured (the event may
 * belong to another stream or context). */
EXPORT CUresult cuStreamWaitEvent(CUstream hStream, CUevent hEvent, unsigned int Flags)
{
    return stream_wait_event(hStream, hEvent, Flags, 0);
}

/* cuStreamWaitEvent_ptsz: per-thread default stream variant. */
EXPORT CUresult cuStreamWaitEvent_ptsz(CUstream hStream, CUevent hEvent, unsigned int Flags)
{
    return stream_wait_event(hStream, hEvent, Flags, 1);
}

/* ---- Graph support (graph.h) ---------------------------------------------------------------- */

/* Validates an event handle and references the event (see graph.h). */
CUresult sim_event_get(CUevent h, struct sim_event **out, struct CUctx_st **ctx)
{
    CUresult rc = sim_process_check();
    if (rc != CUDA_SUCCESS)
        return rc;
    if (!h)
        return CUDA_ERROR_INVALID_HANDLE;
    struct sim_event *ev = (struct sim_event *)h;
    sim_stream_lock();
    int ok = sim_handle_set_has(&g_events, ev) && ev->magic == EVENT_MAGIC;
    if (ok)
        ev->refs++;
    sim_stream_unlock();
    if (!ok)
        return CUDA_ERROR_INVALID_HANDLE;
    *out = ev;
    if (ctx)
        *ctx = ev->ctx;
    return CUDA_SUCCESS;
}

/* Drops a reference taken by sim_event_get (see graph.h). */
void sim_event_put(struct sim_event *ev)
{
    sim_stream_lock();
    event_unref_locked(ev);
    sim_stream_unlock();
}

/* Starts a record made by a graph launch (see graph.h). */
uint64_t sim_event_record_begin(struct sim_event *ev)
{
    sim_stream_lock();
    uint64_t gen = ++ev->gen;
    ev->timed = 0;
    sim_stream_unlock();
    return gen;
}

/* Points the event at the graph launch's op, unless recorded again meanwhile (see graph.h). */
void sim_event_record_commit(struct sim_event *ev, uint64_t gen, struct sim_stream *s,
                             uint64_t seq)
{
    struct sim_stream *old = NULL;
    sim_stream_lock();
    if (ev->gen == gen) {
        old = ev->stream;
        sim_stream_ref_locked(s);
        ev->stream = s;
        ev->seq = seq;
    }
    if (old)
        sim_stream_unref_locked(old);
    sim_stream_unlock();
}

/* Stamps the event's time when its record node runs (see graph.h). */
void sim_event_stamp(struct sim_event *ev, uint64_t gen)
{
    event_stamp_engine(ev, gen);
}

/* What the event's last record captured (see graph.h). */
void sim_event_last(struct sim_event *ev, struct sim_stream **s, uint64_t *seq)
{
    event_capture(ev, s, seq);
}
