/*
 * The stream engine's private interface, shared by stream.c, event.c and copy.c only.
 *
 * Every stream is an in-order queue with a monotonic sequence number per enqueued op
 * (`enqueued`) and the number of the last op that finished (`completed`). An op may depend on
 * ops of other streams, named as (stream, seq) pairs: that is how the legacy default stream,
 * cuStreamWaitEvent and events are built. All queue state of every stream in the process is
 * guarded by one engine lock; workers run ops with it released.
 */
#ifndef GPOOL_SIM_STREAM_H
#define GPOOL_SIM_STREAM_H

#include "sim.h"

/* The priority range a context reports (cuCtxGetStreamPriorityRange): lower is higher. */
#define SIM_STREAM_PRIORITY_LEAST    0
#define SIM_STREAM_PRIORITY_GREATEST (-5)

/* The application-visible handle of a stream resolved from NULL/CU_STREAM_LEGACY/... is the
 * handle the application passed: kept so callbacks receive the very handle they were given. */

/* Takes / drops a reference on a stream (the stream stays allocated, though maybe destroyed,
 * while references exist). Both take the engine lock themselves. */
void sim_stream_ref(struct sim_stream *s);
void sim_stream_unref(struct sim_stream *s);

/* The same, for a caller that holds the engine lock. */
void sim_stream_ref_locked(struct sim_stream *s);
void sim_stream_unref_locked(struct sim_stream *s);

/* Enqueues op on s like sim_stream_enqueue, with one more dependency: op does not start before
 * op number dep_seq of dep has completed (dep may be NULL). The sequence number given to op is
 * stored in *seq (may be NULL). */
CUresult sim_stream_enqueue_after(struct sim_stream *s, struct sim_op *op, struct sim_stream *dep,
                                  uint64_t dep_seq, uint64_t *seq);

/* Waits until op number seq of s has completed; returns the context's sticky error if any. */
CUresult sim_stream_wait_seq(struct sim_stream *s, uint64_t seq);

/* Whether op number seq of s has completed. Takes the engine lock. */
int sim_stream_seq_done(struct sim_stream *s, uint64_t seq);
/* The same, for a caller that holds the engine lock. */
int sim_stream_seq_done_locked(const struct sim_stream *s, uint64_t seq);

/* The context a stream belongs to. */
struct CUctx_st *sim_stream_ctx(const struct sim_stream *s);

/* Locks / unlocks the engine lock, for event.c's state that workers update. */
void sim_stream_lock(void);
void sim_stream_unlock(void);

/* A registry of live handles (pointers), so that a garbage handle is rejected before it is
 * dereferenced. Callers hold the engine lock. */
struct sim_handle_set {
    uintptr_t *slots;
    size_t cap, used, tombs;
};
int sim_handle_set_add(struct sim_handle_set *hs, const void *p);
int sim_handle_set_has(const struct sim_handle_set *hs, const void *p);
void sim_handle_set_del(struct sim_handle_set *hs, const void *p);

/* Forgets every event in a child after fork (CUDA state never crosses fork); event.c. */
void sim_event_fork_child(void);

/* The context's sticky error, or CUDA_SUCCESS. */
static inline CUresult sim_ctx_sticky(struct CUctx_st *ctx)
{
    return (CUresult)atomic_load(&ctx->sticky_error);
}

#endif
