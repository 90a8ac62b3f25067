/*
 * stream.c: streams of the simulated GPU.
 *
 * Each stream is an in-order queue served by its own worker thread, started on the first
 * enqueue and joined when the stream (or its context) is destroyed. Ops carry dependencies on
 * ops of other streams as (stream, sequence number) pairs, which gives the legacy default
 * stream its barrier semantics, cuStreamWaitEvent its wait, and events their meaning. One
 * process-wide lock and condition variable guard every queue; ops run with the lock released.
 * See docs/internals/sim.md, "Stream engine".
 */
#include "graph.h"
#include "stream.h"

#include "gpool/log.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#define STREAM_MAGIC 0x5354524du /* "STRM" */
#define STREAM_DEAD  0x7374726du

enum stream_kind {
    STREAM_LEGACY = 1, /* the context's NULL stream */
    STREAM_PER_THREAD, /* a thread's per-thread default stream */
    STREAM_CREATED,    /* made by cuStreamCreate*: an application handle */
};

struct dep {
    struct sim_stream *s; /* referenced while the entry lives */
    uint64_t seq;
};

/* A queued op with what it waits for. */
struct entry {
    struct sim_op *op;
    uint64_t seq;
    struct entry *next;
    size_t ndeps;
    struct dep deps[];
};

struct sim_stream {
    uint32_t magic;         /* STREAM_MAGIC until destroyed */
    enum stream_kind kind;
    struct CUctx_st *ctx;
    struct sim_stream_set *set; /* NULL once the context is gone */
    unsigned int flags;
    int priority;
    uint64_t id;
    unsigned refs;          /* one for being alive (until joined), one per event/dep/thread */
    struct entry *head, *tail;
    uint64_t enqueued;      /* sequence number of the last op enqueued */
    uint64_t completed;     /* ... and of the last op that finished */
    pthread_t worker;
    int has_worker;
    int worker_exited;
    int destroyed;          /* no more work is accepted; the worker exits once drained */
    int capturing;          /* in a capture sequence (graph.c): work must not be queued */
    struct sim_stream *next; /* in set->live or set->zombies */
};

struct sim_stream_set {
    struct CUctx_st *ctx;
    struct sim_stream *legacy;
    struct sim_stream *live;    /* created and per-thread streams */
    struct sim_stream *zombies; /* destroyed streams whose worker is still to be joined */
};

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cond = PTHREAD_COND_INITIALIZER;
static struct sim_handle_set g_streams; /* live created streams */
static uint64_t g_next_id = 1;

/* ---- Handle registry ----------------------------------------------------------------------- */

#define HS_EMPTY 0
#define HS_TOMB  1

static size_t hs_hash(uintptr_t p, size_t cap)
{
    uint64_t h = (uint64_t)p * 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> 17) & (cap - 1);
}

static int hs_grow(struct sim_handle_set *hs)
{
    size_t ncap = hs->cap ? hs->cap * 2 : 64;
    if (hs->used * 4 < hs->cap) /* mostly tombstones: rehash in place size */
        ncap = hs->cap;
    uintptr_t *ns = calloc(ncap, sizeof(*ns));
    if (!ns)
        return -ENOMEM;
    for (size_t i = 0; i < hs->cap; i++) {
        uintptr_t v = hs->slots[i];
        if (v == HS_EMPTY || v == HS_TOMB)
            continue;
        size_t j = hs_hash(v, ncap);
        while (ns[j] != HS_EMPTY)
            j = (j + 1) & (ncap - 1);
        ns[j] = v;
    }
    free(hs->slots);
    hs->slots = ns;
    hs->cap = ncap;
    hs->tombs = 0;
    return 0;
}

/* Adds p to the set; 0 or -ENOMEM. The caller holds the engine lock. */
int sim_handle_set_add(struct sim_handle_set *hs, const void *p)
{
    uintptr_t v = (uintptr_t)p;
    if ((hs->used + hs->tombs + 1) * 2 > hs->cap) {
        int rc = hs_grow(hs);
        if (rc)
            return rc;
    }
    size_t j = hs_hash(v, hs->cap);
    while (hs->slots[j] != HS_EMPTY && hs->slots[j] != HS_TOMB)
        j = (j + 1) & (hs->cap - 1);
    if (hs->slots[j] == HS_TOMB)
        hs->tombs--;
    hs->slots[j] = v;
    hs->used++;
    return 0;
}

static size_t hs_find(const struct sim_handle_set *hs, uintptr_t v, int *found)
{
    *found = 0;
    if (!hs->cap || v == HS_EMPTY || v == HS_TOMB)
        return 0;
    size_t j = hs_hash(v, hs->cap);
    for (size_t n = 0; n < hs->cap; n++, j = (j + 1) & (hs->cap - 1)) {
        if (hs->slots[j] == v) {
            *found = 1;
            return j;
        }
        if (hs->slots[j] == HS_EMPTY)
            break;
    }
    return 0;
}

/* Whether p is in the set. The caller holds the engine lock. */
int sim_handle_set_has(const struct sim_handle_set *hs, const void *p)
{
    int found;
    hs_find(hs, (uintptr_t)p, &found);
    return found;
}

/* Removes p from the set (no-op when absent). The caller holds the engine lock. */
void sim_handle_set_del(struct sim_handle_set *hs, const void *p)
{
    int found;
    size_t j = hs_find(hs, (uintptr_t)p, &found);
    if (!found)
        return;
    hs->slots[j] = HS_TOMB;
    hs->used--;
    hs->tombs++;
    if (!hs->used) {
        free(hs->slots);
        memset(hs, 0, sizeof(*hs));
    }
}

/* ---- Locking and references ---------------------------------------------------------------- */

/* Takes the engine lock (see stream.h). */
void sim_stream_lock(void)
{
    pthread_mutex_lock(&g_lock);
}

/* Releases the engine lock and wakes every waiter: state may have changed. */
void sim_stream_unlock(void)
{
    pthread_cond_broadcast(&g_cond);
    pthread_mutex_unlock(&g_lock);
}

static void stream_unref_locked(struct sim_stream *s)
{
    if (--s->refs == 0)
        free(s);
}

/* Takes a reference on s; the caller holds the engine lock (see stream.h). */
void sim_stream_ref_locked(struct sim_stream *s)
{
    s->refs++;
}

/* Drops a reference on s; the caller holds the engine lock (see stream.h). */
void sim_stream_unref_locked(struct sim_stream *s)
{
    stream_unref_locked(s);
}

/* Takes a reference on s (see stream.h). */
void sim_stream_ref(struct sim_stream *s)
{
    pthread_mutex_lock(&g_lock);
    s->refs++;
    pthread_mutex_unlock(&g_lock);
}

/* Drops a reference on s, freeing it with the last one (see stream.h). */
void sim_stream_unref(struct sim_stream *s)
{
    pthread_mutex_lock(&g_lock);
    stream_unref_locked(s);
    pthread_mutex_unlock(&g_lock);
}

/* The context of s (see stream.h). */
struct CUctx_st *sim_stream_ctx(const struct sim_stream *s)
{
    return s->ctx;
}

static int stream_is_blocking(const struct sim_stream *s)
{
    return s->kind != STREAM_LEGACY && !(s->flags & CU_STREAM_NON_BLOCKING);
}

/* Marks s as capturing or not (see graph.h). */
void sim_stream_set_capturing(struct sim_stream *s, int on)
{
    pthread_mutex_lock(&g_lock);
    s->capturing = on;
    pthread_mutex_unlock(&g_lock);
}

/* Whether s is its context's legacy stream (see graph.h). */
int sim_stream_is_legacy(const struct sim_stream *s)
{
    return s->kind == STREAM_LEGACY;
}

/* Whether s is a blocking stream, i.e. synchronises with the legacy stream (see graph.h). */
int sim_stream_is_blocking(const struct sim_stream *s)
{
    return stream_is_blocking(s);
}

static int stream_busy(const struct sim_stream *s)
{
    return s->completed < s->enqueued;
}

static void entry_free_locked(struct entry *e)
{
    for (size_t i = 0; i < e->ndeps; i++)
        stream_unref_locked(e->deps[i].s);
    free(e);
}

static int entry_ready(const struct entry *e)
{
    for (size_t i = 0; i < e->ndeps; i++)
        if (e->deps[i].s->completed < e->deps[i].seq)
            return 0;
    return 1;
}

/* ---- Workers ------------------------------------------------------------------------------- */

/*
 * A stream's worker runs its ops in order. Ops that run on the device (op->engine) are run
 * holding the device's engine, and the worker keeps it from one such op to the next (a time
 * slice, sim_engine_hold) so that an event recorded between two kernels is stamped in the
 * stream's own engine time, as a GPU's front end stamps it in its context's time slice. It gives
 * the engine up before it waits for work or dependencies and before any other op (host
 * functions, graph launches, waits), which may block on work that needs the engine. The engine
 * is taken with the queue lock released: its holder may need the lock to finish.
 */
static void *stream_worker(void *arg)
{
    struct sim_stream *s = arg;
    int held = 0; /* this worker holds its device's engine between ops */

    pthread_mutex_lock(&g_lock);
    for (;;) {
        struct entry *e = s->head;
        int engine_next = e && e->op->engine && entry_ready(e);
        if (held && !engine_next) {
            pthread_mutex_unlock(&g_lock);
            sim_engine_unhold();
            held = 0;
            pthread_mutex_lock(&g_lock);
            continue; /* look again: the queue may have changed meanwhile */
        }
        if (!e) {
            if (s->destroyed)
                break;
            pthread_cond_wait(&g_cond, &g_lock);
            continue;
        }
        if (!entry_ready(e)) {
            pthread_cond_wait(&g_cond, &g_lock);
            continue;
        }
        pthread_mutex_unlock(&g_lock);

        if (engine_next) {
            sim_engine_hold(sim_process_instance(), s->ctx->device);
            held = 1;
        }
        CUresult rc = e->op->run(e->op);
        if (rc != CUDA_SUCCESS) {
            int none = CUDA_SUCCESS;
            if (atomic_compare_exchange_strong(&s->ctx->sticky_error, &none, (int)rc))
                LOG_ERROR("sim", "stream %llu: an operation failed with error %d; the context "
                          "is unusable from now on", (unsigned long long)s->id, (int)rc);
        }
        if (e->op->release)
            e->op->release(e->op);

        pthread_mutex_lock(&g_lock);
        s->head = e->next;
        if (!s->head)
            s->tail = NULL;
        s->completed = e->seq;
        entry_free_locked(e);
        pthread_cond_broadcast(&g_cond);
    }
    s->worker_exited = 1;
    pthread_cond_broadcast(&g_cond);
    pthread_mutex_unlock(&g_lock);
    if (held)
        sim_engine_unhold();
    return NULL;
}

/* Starts s's worker with every signal blocked, so the application's signals are never
 * delivered to a gpool thread. */
static int stream_start_worker_locked(struct sim_stream *s)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&s->worker, NULL, stream_worker, s);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc) {
        LOG_ERROR("sim", "stream %llu: cannot start its worker thread: %s",
                  (unsigned long long)s->id, strerror(rc));
        return -rc;
    }
    s->has_worker = 1;
    return 0;
}

/* ---- Streams ------------------------------------------------------------------------------- */

static struct sim_stream *stream_new_locked(struct sim_stream_set *set, enum stream_kind kind,
                                            unsigned int flags, int priority)
{
    struct sim_stream *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->magic = STREAM_MAGIC;
    s->kind = kind;
    s->ctx = set->ctx;
    s->set = set;
    s->flags = flags;
    s->priority = priority;
    s->id = g_next_id++;
    s->refs = 1;
    if (kind != STREAM_LEGACY) {
        s->next = set->live;
        set->live = s;
    }
    return s;
}

static void list_remove(struct sim_stream **list, struct sim_stream *s)
{
    for (struct sim_stream **pp = list; *pp; pp = &(*pp)->next) {
        if (*pp == s) {
            *pp = s->next;
            s->next = NULL;
            return;
        }
    }
}

/* Marks s destroyed: it accepts no more work, its worker exits once its queue is drained and it
 * is joined (and its alive reference dropped) by reap_zombies. */
static void stream_destroy_locked(struct sim_stream *s)
{
    if (s->destroyed)
        return;
    s->destroyed = 1;
    s->magic = STREAM_DEAD;
    if (s->kind == STREAM_CREATED)
        sim_handle_set_del(&g_streams, s);
    if (s->set) {
        if (s->kind != STREAM_LEGACY)
            list_remove(&s->set->live, s);
        s->next = s->set->zombies;
        s->set->zombies = s;
    }
    pthread_cond_broadcast(&g_cond);
}

/* Joins the workers of destroyed streams: those already finished, or all of them (waiting for
 * their work) when wait_all is set. */
static void reap_zombies(struct sim_stream_set *set, int wait_all)
{
    struct sim_stream *done = NULL;

    pthread_mutex_lock(&g_lock);
    for (struct sim_stream **pp = &set->zombies; *pp;) {
        struct sim_stream *s = *pp;
        if (wait_all || !s->has_worker || s->worker_exited) {
            *pp = s->next;
            s->next = done;
            done = s;
        } else {
            pp = &s->next;
        }
    }
    pthread_mutex_unlock(&g_lock);

    while (done) {
        struct sim_stream *s = done;
        done = s->next;
        if (s->has_worker)
            pthread_join(s->worker, NULL);
        pthread_mutex_lock(&g_lock);
        s->set = NULL;
        s->next = NULL;
        stream_unref_locked(s);
        pthread_mutex_unlock(&g_lock);
    }
}

/* CUDA state never crosses fork: a child starts with no contexts, so its stream engine starts
 * empty. The lock may have been held by a thread that does not exist in the child, so it is
 * re-initialised; the parent's registries stay reachable for leak checkers, never used. */
static struct sim_handle_set g_streams_stale[4];
static pthread_once_t g_atfork_once = PTHREAD_ONCE_INIT;

static void stream_fork_child(void)
{
    pthread_mutex_init(&g_lock, NULL);
    pthread_cond_init(&g_cond, NULL);
    for (size_t i = 0; i < sizeof(g_streams_stale) / sizeof(g_streams_stale[0]); i++) {
        if (!g_streams_stale[i].slots) {
            g_streams_stale[i] = g_streams;
            break;
        }
    }
    memset(&g_streams, 0, sizeof(g_streams));
    sim_event_fork_child();
}

static void stream_atfork_init(void)
{
    pthread_atfork(NULL, NULL, stream_fork_child);
}

/* Creates the context's stream set and its legacy default stream. */
CUresult sim_stream_ctx_init(struct CUctx_st *ctx)
{
    pthread_once(&g_atfork_once, stream_atfork_init);
    struct sim_stream_set *set = calloc(1, sizeof(*set));
    if (!set)
        return CUDA_ERROR_OUT_OF_MEMORY;
    set->ctx = ctx;
    pthread_mutex_lock(&g_lock);
    set->legacy = stream_new_locked(set, STREAM_LEGACY, 0, 0);
    pthread_mutex_unlock(&g_lock);
    if (!set->legacy) {
        free(set);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    ctx->streams = set;
    return CUDA_SUCCESS;
}

/* Destroys every stream of the context, letting their queued work finish, and joins their
 * workers. Streams still referenced by events stay allocated (dead) until those go. */
void sim_stream_ctx_fini(struct CUctx_st *ctx)
{
    struct sim_stream_set *set = ctx->streams;
    if (!set)
        return;
    pthread_mutex_lock(&g_lock);
    while (set->live)
        stream_destroy_locked(set->live);
    stream_destroy_locked(set->legacy);
    pthread_mutex_unlock(&g_lock);
    reap_zombies(set, 1);
    ctx->streams = NULL;
    free(set);
}

/* ---- Per-thread default streams ------------------------------------------------------------ */

/* A thread's per-thread streams (one per context it used), the value of g_ptds_key, so that
 * the thread's exit destroys them. Each node holds a reference on its stream. */
struct ptds_node {
    struct sim_stream *s;
    struct ptds_node *next;
};

static pthread_key_t g_ptds_key;
static pthread_once_t g_ptds_once = PTHREAD_ONCE_INIT;
static int g_ptds_key_ok;

static void ptds_thread_exit(void *p)
{
    struct ptds_node *n = p;
    pthread_mutex_lock(&g_lock);
    while (n) {
        struct ptds_node *next = n->next;
        stream_destroy_locked(n->s);
        stream_unref_locked(n->s);
        free(n);
        n = next;
    }
    pthread_mutex_unlock(&g_lock);
}

static void ptds_key_init(void)
{
    g_ptds_key_ok = pthread_key_create(&g_ptds_key, ptds_thread_exit) == 0;
}

/* The calling thread's per-thread stream of set's context, created on first use. */
static struct sim_stream *ptds_get_locked(struct sim_stream_set *set)
{
    if (!g_ptds_key_ok)
        return NULL;
    struct ptds_node *head = pthread_getspecific(g_ptds_key);
    struct ptds_node **pp = &head;
    struct sim_stream *found = NULL;
    while (*pp) {
        struct ptds_node *n = *pp;
        if (n->s->destroyed) { /* its context went away */
            *pp = n->next;
            stream_unref_locked(n->s);
            free(n);
            continue;
        }
        if (n->s->set == set)
            found = n->s;
        pp = &n->next;
    }
    if (!found) {
        struct ptds_node *n = malloc(sizeof(*n));
        if (n) {
            found = stream_new_locked(set, STREAM_PER_THREAD, 0, 0);
            if (found) {
                found->refs++;
                n->s = found;
                n->next = head;
                head = n;
            } else {
                free(n);
            }
        }
    }
    pthread_setspecific(g_ptds_key, head);
    return found;
}

/* ---- Resolution, enqueue, waits ------------------------------------------------------------ */

/* Resolves an application stream handle (see sim.h). Created streams are looked up in the
 * registry before they are dereferenced, so a garbage handle is CUDA_ERROR_INVALID_HANDLE. */
CUresult sim_stream_resolve(CUstream handle, int per_thread, struct CUctx_st **ctxp,
                            struct sim_stream **out)
{
    CUresult rc = sim_process_check();
    if (rc != CUDA_SUCCESS)
        return rc;

    struct CUctx_st *ctx = NULL;
    struct sim_stream *s = NULL;
    if (handle == NULL || handle == CU_STREAM_LEGACY || handle == CU_STREAM_PER_THREAD) {
        rc = sim_ctx_current(&ctx);
        if (rc != CUDA_SUCCESS)
            return rc;
        if (!ctx->streams)
            return CUDA_ERROR_INVALID_CONTEXT;
        int ptds = handle == CU_STREAM_PER_THREAD || (handle == NULL && per_thread);
        if (ptds)
            pthread_once(&g_ptds_once, ptds_key_init);
        pthread_mutex_lock(&g_lock);
        s = ptds ? ptds_get_locked(ctx->streams) : ctx->streams->legacy;
        pthread_mutex_unlock(&g_lock);
        if (!s)
            return CUDA_ERROR_OUT_OF_MEMORY;
    } else {
        pthread_mutex_lock(&g_lock);
        if (sim_handle_set_has(&g_streams, handle)) {
            s = (struct sim_stream *)handle;
            if (s->magic != STREAM_MAGIC || s->destroyed)
                s = NULL;
            else
                ctx = s->ctx;
        }
        pthread_mutex_unlock(&g_lock);
        if (!s)
            return CUDA_ERROR_INVALID_HANDLE;
        if (ctx->magic != SIM_CTX_MAGIC)
            return CUDA_ERROR_INVALID_CONTEXT;
    }
    if (ctxp)
        *ctxp = ctx;
    if (out)
        *out = s;
    return CUDA_SUCCESS;
}

/* Enqueues op with its ordering dependencies (see stream.h). */
CUresult sim_stream_enqueue_after(struct sim_stream *s, struct sim_op *op, struct sim_stream *dep,
                                  uint64_t dep_seq, uint64_t *seq)
{
    CUresult rc = CUDA_SUCCESS;

    pthread_mutex_lock(&g_lock);
    struct sim_stream_set *set = s->set;
    if (s->destroyed || !set) {
        rc = CUDA_ERROR_INVALID_HANDLE;
        goto out;
    }
    if (s->capturing) {
        /* Work from a path that has no capture hook: refuse it rather than run it now. */
        rc = CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
        goto out;
    }

    /* The legacy stream waits for all prior work of the context's blocking streams (destroyed
     * ones still draining included); a blocking stream waits for prior legacy work. */
    size_t n = 0;
    if (s->kind == STREAM_LEGACY) {
        for (struct sim_stream *b = set->live; b; b = b->next)
            n += stream_is_blocking(b) && stream_busy(b);
        for (struct sim_stream *b = set->zombies; b; b = b->next)
            n += stream_is_blocking(b) && stream_busy(b);
    } else if (stream_is_blocking(s)) {
        n += stream_busy(set->legacy);
    }
    int want_dep = dep && dep != s && dep->completed < dep_seq;
    n += want_dep;

    struct entry *e = malloc(sizeof(*e) + n * sizeof(struct dep));
    if (!e) {
        rc = CUDA_ERROR_OUT_OF_MEMORY;
        goto out;
    }
    e->op = op;
    e->next = NULL;
    e->ndeps = 0;
#define ADD_DEP(st, sq)                                                                            \
    do {                                                                                           \
        e->deps[e->ndeps].s = (st);                                                                \
        e->deps[e->ndeps].seq = (sq);                                                              \
        (st)->refs++;                                                                              \
        e->ndeps++;                                                                                \
    } while (0)
    if (s->kind == STREAM_LEGACY) {
        for (struct sim_stream *b = set->live; b; b = b->next)
            if (stream_is_blocking(b) && stream_busy(b))
                ADD_DEP(b, b->enqueued);
        for (struct sim_stream *b = set->zombies; b; b = b->next)
            if (stream_is_blocking(b) && stream_busy(b))
                ADD_DEP(b, b->enqueued);
    } else if (stream_is_blocking(s) && stream_busy(set->legacy)) {
        ADD_DEP(set->legacy, set->legacy->enqueued);
    }
    if (want_dep)
        ADD_DEP(dep, dep_seq);
#undef ADD_DEP

    if (!s->has_worker && stream_start_worker_locked(s) < 0) {
        entry_free_locked(e);
        rc = CUDA_ERROR_OUT_OF_MEMORY;
        goto out;
    }
    e->seq = ++s->enqueued;
    if (s->tail)
        s->tail->next = e;
    else
        s->head = e;
    s->tail = e;
    if (seq)
        *seq = e->seq;
    pthread_cond_broadcast(&g_cond);
out:
    pthread_mutex_unlock(&g_lock);
    return rc;
}

/* Enqueues op on s honouring legacy default stream ordering (see sim.h). On error the op is
 * not taken: the caller still owns it. */
CUresult sim_stream_enqueue(struct sim_stream *s, struct sim_op *op)
{
    return sim_stream_enqueue_after(s, op, NULL, 0, NULL);
}

/* Whether op seq of s has completed (see stream.h). */
int sim_stream_seq_done(struct sim_stream *s, uint64_t seq)
{
    pthread_mutex_lock(&g_lock);
    int done = s->completed >= seq;
    pthread_mutex_unlock(&g_lock);
    return done;
}

/* Whether op seq of s has completed; the caller holds the engine lock (see stream.h). */
int sim_stream_seq_done_locked(const struct sim_stream *s, uint64_t seq)
{
    return s->completed >= seq;
}

/* Waits for op seq of s (see stream.h). */
CUresult sim_stream_wait_seq(struct sim_stream *s, uint64_t seq)
{
    pthread_mutex_lock(&g_lock);
    while (s->completed < seq)
        pthread_cond_wait(&g_cond, &g_lock);
    /* A stream outliving its context (held by an event) has no context to report on. */
    CUresult rc = s->set ? sim_ctx_sticky(s->ctx) : CUDA_SUCCESS;
    pthread_mutex_unlock(&g_lock);
    return rc;
}

/* A snapshot of the work a wait must see finish: (stream, seq) pairs, each referenced. */
struct snapshot {
    size_t n;
    struct dep *deps;
};

static int snapshot_add_locked(struct snapshot *snap, size_t cap, struct sim_stream *s)
{
    if (!stream_busy(s) || snap->n >= cap)
        return 0;
    s->refs++;
    snap->deps[snap->n].s = s;
    snap->deps[snap->n].seq = s->enqueued;
    snap->n++;
    return 1;
}

static size_t set_count_locked(const struct sim_stream_set *set)
{
    size_t n = 1;
    for (const struct sim_stream *b = set->live; b; b = b->next)
        n++;
    for (const struct sim_stream *b = set->zombies; b; b = b->next)
        n++;
    return n;
}

/* Waits for the work of s as it is now; for the legacy stream, also for the work of every
 * blocking stream of its context (an operation on the legacy stream is a barrier for them). */
static void stream_wait_now(struct sim_stream *s, int all_streams)
{
    struct snapshot snap = { 0, NULL };

    pthread_mutex_lock(&g_lock);
    struct sim_stream_set *set = s->set;
    size_t cap = set ? set_count_locked(set) : 1;
    snap.deps = malloc(cap * sizeof(*snap.deps));
    if (!snap.deps) {
        /* Out of memory: wait until everything is idle instead. */
        while (stream_busy(s))
            pthread_cond_wait(&g_cond, &g_lock);
        pthread_mutex_unlock(&g_lock);
        return;
    }
    snapshot_add_locked(&snap, cap, s);
    if (set && (all_streams || s->kind == STREAM_LEGACY)) {
        for (struct sim_stream *b = set->live; b; b = b->next)
            if (all_streams || stream_is_blocking(b))
                snapshot_add_locked(&snap, cap, b);
        for (struct sim_stream *b = set->zombies; b; b = b->next)
            if (all_streams || stream_is_blocking(b))
                snapshot_add_locked(&snap, cap, b);
        if (all_streams && s != set->legacy)
            snapshot_add_locked(&snap, cap, set->legacy);
    }
    for (size_t i = 0; i < snap.n; i++) {
        while (snap.deps[i].s->completed < snap.deps[i].seq)
            pthread_cond_wait(&g_cond, &g_lock);
        stream_unref_locked(snap.deps[i].s);
    }
    pthread_mutex_unlock(&g_lock);
    free(snap.deps);
}

/* Whether the work of s (and for the legacy stream, of the blocking streams) is done. */
static int stream_idle(struct sim_stream *s)
{
    pthread_mutex_lock(&g_lock);
    int idle = !stream_busy(s);
    if (idle && s->kind == STREAM_LEGACY && s->set) {
        for (struct sim_stream *b = s->set->live; b && idle; b = b->next)
            idle = !(stream_is_blocking(b) && stream_busy(b));
        for (struct sim_stream *b = s->set->zombies; b && idle; b = b->next)
            idle = !(stream_is_blocking(b) && stream_busy(b));
    }
    pthread_mutex_unlock(&g_lock);
    return idle;
}

/* Waits for everything enqueued on s so far (see sim.h). */
CUresult sim_stream_wait_idle(struct sim_stream *s)
{
    stream_wait_now(s, 0);
    return sim_ctx_sticky(s->ctx);
}

/* Waits for every stream of the context (see sim.h). */
CUresult sim_stream_ctx_synchronize(struct CUctx_st *ctx)
{
    if (ctx->streams) {
        stream_wait_now(ctx->streams->legacy, 1);
        reap_zombies(ctx->streams, 0);
    }
    return sim_ctx_sticky(ctx);
}

/* ---- The CUDA stream API ------------------------------------------------------------------- */

#define EXPORT __attribute__((visibility("default")))

/* Some exported names may have no prototype in the API header in use. */
#pragma GCC diagnostic ignored "-Wmissing-prototypes"

static CUresult stream_create(CUstream *ph, unsigned int flags, int priority)
{
    CUresult rc = sim_process_check();
    if (rc != CUDA_SUCCESS)
        return rc;
    struct CUctx_st *ctx;
    rc = sim_ctx_current(&ctx);
    if (rc != CUDA_SUCCESS)
        return rc;
    if (!ph || (flags & ~(unsigned int)CU_STREAM_NON_BLOCKING))
        return CUDA_ERROR_INVALID_VALUE;
    if ((rc = sim_ctx_sticky(ctx)) != CUDA_SUCCESS)
        return rc;
    if (!ctx->streams)
        return CUDA_ERROR_INVALID_CONTEXT;
    reap_zombies(ctx->streams, 0);

    if (priority > SIM_STREAM_PRIORITY_LEAST)
        priority = SIM_STREAM_PRIORITY_LEAST;
    if (priority < SIM_STREAM_PRIORITY_GREATEST)
        priority = SIM_STREAM_PRIORITY_GREATEST;

    pthread_mutex_lock(&g_lock);
    struct sim_stream *s = stream_new_locked(ctx->streams, STREAM_CREATED, flags, priority);
    if (s && sim_handle_set_add(&g_streams, s) < 0) {
        list_remove(&ctx->streams->live, s);
        free(s);
        s = NULL;
    }
    pthread_mutex_unlock(&g_lock);
    if (!s)
        return CUDA_ERROR_OUT_OF_MEMORY;
    *ph = (CUstream)s;
    return CUDA_SUCCESS;
}

/* cuStreamCreate: a stream with default priority. */
EXPORT CUresult cuStreamCreate(CUstream *phStream, unsigned int Flags)
{
    return stream_create(phStream, Flags, 0);
}

/* cuStreamCreateWithPriority: the priority is clamped to the context's range. */
EXPORT CUresult cuStreamCreateWithPriority(CUstream *phStream, unsigned int flags, int priority)
{
    return stream_create(phStream, flags, priority);
}

static CUresult stream_destroy(CUstream h)
{
    struct CUctx_st *ctx;
    struct sim_stream *s;
    if (h == NULL || h == CU_STREAM_LEGACY || h == CU_STREAM_PER_THREAD) {
        CUresult rc = sim_process_check();
        return rc != CUDA_SUCCESS ? rc : CUDA_ERROR_INVALID_HANDLE;
    }
    CUresult rc = sim_stream_resolve(h, 0, &ctx, &s);
    if (rc != CUDA_SUCCESS)
        return rc;
    struct sim_stream_set *set = NULL;
    pthread_mutex_lock(&g_lock);
    if (!s->destroyed) {
        set = s->set;
        stream_destroy_locked(s);
    } else {
        rc = CUDA_ERROR_INVALID_HANDLE; /* destroyed by another thread meanwhile */
    }
    pthread_mutex_unlock(&g_lock);
    if (set)
        reap_zombies(set, 0);
    return rc;
}

/* cuStreamDestroy_v2: returns at once; work already queued still completes. */
EXPORT CUresult cuStreamDestroy_v2(CUstream hStream)
{
    return stream_destroy(hStream);
}

/* cuStreamDestroy: the original ABI name of cuStreamDestroy_v2. */
EXPORT CUresult cuStreamDestroy(CUstream hStream)
{
    return stream_destroy(hStream);
}

static CUresult stream_query(CUstream h, int ptds)
{
    struct CUctx_st *ctx;
    struct sim_stream *s;
    CUresult rc = sim_stream_resolve(h, ptds, &ctx, &s);
    if (rc != CUDA_SUCCESS)
        return rc;
    if ((rc = sim_ctx_sticky(ctx)) != CUDA_SUCCESS)
        return rc;
    if (atomic_load(&sim_capture_streams) && (rc = sim_capture_sync(s)) != CUDA_SUCCESS)
        return rc;
    return stream_idle(s) ? CUDA_SUCCESS : CUDA_ERROR_NOT_READY;
}

/* cuStreamQuery: CUDA_SUCCESS when all work of the stream is done, else CUDA_ERROR_NOT_READY. */
EXPORT CUresult cuStreamQuery(CUstream hStream)
{
    return stream_query(hStream, 0);
}

/* cuStreamQuery_ptsz: cuStreamQuery with NULL meaning the per-thread default stream. */
EXPORT CUresult cuStreamQuery_ptsz(CUstream hStream)
{
    return stream_query(hStream, 1);
}

static CUresult stream_synchronize(CUstream h, int ptds)
{
    struct CUctx_st *ctx;
    struct sim_stream *s;
    CUresult rc = sim_stream_resolve(h, ptds, &ctx, &s);
    if (rc != CUDA_SUCCESS)
        return rc;
    if ((rc = sim_ctx_sticky(ctx)) != CUDA_SUCCESS)
        return rc;
    if (atomic_load(&sim_capture_streams) && (rc = sim_capture_sync(s)) != CUDA_SUCCESS)
        return rc;
    return sim_stream_wait_idle(s);
}

/* cuStreamSynchronize: waits until the stream's work is done. */
EXPORT CUresult cuStreamSynchronize(CUstream hStream)
{
    return stream_synchronize(hStream, 0);
}

/* cuStreamSynchronize_ptsz: per-thread default stream variant. */
EXPORT CUresult cuStreamSynchronize_ptsz(CUstream hStream)
{
    return stream_synchronize(hStream, 1);
}

static CUresult stream_get_priority(CUstream h, int *priority, int ptds)
{
    struct sim_stream *s;
    CUresult rc = sim_stream_resolve(h, ptds, NULL, &s);
    if (rc != CUDA_SUCCESS)
        return rc;
    if (!priority)
        return CUDA_ERROR_INVALID_VALUE;
    *priority = s->priority;
    return CUDA_SUCCESS;
}

/* cuStreamGetPriority: the stream's (clamped) priority. */
EXPORT CUresult cuStreamGetPriority(CUstream hStream, int *priority)
{
    return stream_get_priority(hStream, priority, 0);
}

/* cuStreamGetPriority_ptsz: per-thread default stream variant. */
EXPORT CUresult cuStreamGetPriority_ptsz(CUstream hStream, int *priority)
{
    return stream_get_priority(hStream, priority, 1);
}

static CUresult stream_get_flags(CUstream h, unsigned int *flags, int ptds)
{
    struct sim_stream *s;
    CUresult rc = sim_stream_resolve(h, ptds, NULL, &s);
    if (rc != CUDA_SUCCESS)
        return rc;
    if (!flags)
        return CUDA_ERROR_INVALID_VALUE;
    *flags = s->flags;
    return CUDA_SUCCESS;
}

/* cuStreamGetFlags: the flags the stream was created with. */
EXPORT CUresult cuStreamGetFlags(CUstream hStream, unsigned int *flags)
{
    return stream_get_flags(hStream, flags, 0);
}

/* cuStreamGetFlags_ptsz: per-thread default stream variant. */
EXPORT CUresult cuStreamGetFlags_ptsz(CUstream hStream, unsigned int *flags)
{
    return stream_get_flags(hStream, flags, 1);
}

static CUresult stream_get_ctx(CUstream h, CUcontext *pctx, CUgreenCtx *pgreen, int ptds)
{
    struct CUctx_st *ctx;
    CUresult rc = sim_stream_resolve(h, ptds, &ctx, NULL);
    if (rc != CUDA_SUCCESS)
        return rc;
    if (!pctx)
        return CUDA_ERROR_INVALID_VALUE;
    *pctx = (CUcontext)ctx;
    if (pgreen)
        *pgreen = NULL;
    return CUDA_SUCCESS;
}

/* cuStreamGetCtx: the context the stream belongs to. */
EXPORT CUresult cuStreamGetCtx(CUstream hStream, CUcontext *pctx)
{
    return stream_get_ctx(hStream, pctx, NULL, 0);
}

/* cuStreamGetCtx_ptsz: per-thread default stream variant. */
EXPORT CUresult cuStreamGetCtx_ptsz(CUstream hStream, CUcontext *pctx)
{
    return stream_get_ctx(hStream, pctx, NULL, 1);
}

/* cuStreamGetCtx_v2: the context, and no green context (the sim has none). */
EXPORT CUresult cuStreamGetCtx_v2(CUstream hStream, CUcontext *pCtx, CUgreenCtx *pGreenCtx)
{
    return stream_get_ctx(hStream, pCtx, pGreenCtx, 0);
}

/* cuStreamGetCtx_v2_ptsz: per-thread default stream variant. */
EXPORT CUresult cuStreamGetCtx_v2_ptsz(CUstream hStream, CUcontext *pCtx, CUgreenCtx *pGreenCtx)
{
    return stream_get_ctx(hStream, pCtx, pGreenCtx, 1);
}

static CUresult stream_get_id(CUstream h, unsigned long long *id, int ptds)
{
    struct sim_stream *s;
    CUresult rc = sim_stream_resolve(h, ptds, NULL, &s);
    if (rc != CUDA_SUCCESS)
        return rc;
    if (!id)
        return CUDA_ERROR_INVALID_VALUE;
    *id = s->id;
    return CUDA_SUCCESS;
}

/* cuStreamGetId: a process-unique id of the stream. */
EXPORT CUresult cuStreamGetId(CUstream hStream, unsigned long long *streamId)
{
    return stream_get_id(hStream, streamId, 0);
}

/* cuStreamGetId_ptsz: per-thread default stream variant. */
EXPORT CUresult cuStreamGetId_ptsz(CUstream hStream, unsigned long long *streamId)
{
    return stream_get_id(hStream, streamId, 1);
}

static CUresult stream_get_device(CUstream h, CUdevice *dev, int ptds)
{
    struct CUctx_st *ctx;
    CUresult rc = sim_stream_resolve(h, ptds, &ctx, NULL);
    if (rc != CUDA_SUCCESS)
        return rc;
    if (!dev)
        return CUDA_ERROR_INVALID_VALUE;
    *dev = ctx->device;
    return CUDA_SUCCESS;
}

/* cuStreamGetDevice: the device of the stream's context. */
EXPORT CUresult cuStreamGetDevice(CUstream hStream, CUdevice *device)
{
    return stream_get_device(hStream, device, 0);
}

/* cuStreamGetDevice_ptsz: per-thread default stream variant. */
EXPORT CUresult cuStreamGetDevice_ptsz(CUstream hStream, CUdevice *device)
{
    return stream_get_device(hStream, device, 1);
}

/* A host function or stream callback queued on a stream. */
struct host_op {
    struct sim_op op;
    CUhostFn fn;              /* cuLaunchHostFunc */
    CUstreamCallback cb;      /* cuStreamAddCallback */
    CUstream handle;          /* the handle the application gave, passed to cb */
    struct CUctx_st *ctx;
    void *user;
};

static CUresult host_op_run(struct sim_op *op)
{
    struct host_op *h = (struct host_op *)op;
    if (h->fn)
        h->fn(h->user);
    else
        h->cb(h->handle, sim_ctx_sticky(h->ctx), h->user);
    return CUDA_SUCCESS;
}

static void host_op_release(struct sim_op *op)
{
    free(op);
}

static CUresult host_op_submit(CUstream h, int ptds, CUhostFn fn, CUstreamCallback cb,
                               void *user)
{
    struct CUctx_st *ctx;
    struct sim_stream *s;
    CUresult rc = sim_stream_resolve(h, ptds, &ctx, &s);
    if (rc != CUDA_SUCCESS)
        return rc;
    if (!fn && !cb)
        return CUDA_ERROR_INVALID_VALUE;
    if ((rc = sim_ctx_sticky(ctx)) != CUDA_SUCCESS)
        return rc;
    if (atomic_load(&sim_capture_streams)) {
        int capturing = 0;
        if ((rc = sim_capture_check(s, 0, &capturing)) != CUDA_SUCCESS)
            return rc;
        if (capturing) /* a stream callback cannot be captured: it receives a status */
            return fn ? sim_capture_host(s, fn, user) : CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
    }
    struct host_op *op = calloc(1, sizeof(*op));
    if (!op)
        return CUDA_ERROR_OUT_OF_MEMORY;
    op->op.run = host_op_run;
    op->op.release = host_op_release;
    op->fn = fn;
    op->cb = cb;
    op->handle = h;
    op->ctx = ctx;
    op->user = user;
    rc = sim_stream_enqueue(s, &op->op);
    if (rc != CUDA_SUCCESS)
        free(op);
    return rc;
}

/* cuLaunchHostFunc: runs fn(userData) on the stream's worker, in stream order. */
EXPORT CUresult cuLaunchHostFunc(CUstream hStream, CUhostFn fn, void *userData)
{
    return host_op_submit(hStream, 0, fn, NULL, userData);
}

/* cuLaunchHostFunc_ptsz: per-thread default stream variant. */
EXPORT CUresult cuLaunchHostFunc_ptsz(CUstream hStream, CUhostFn fn, void *userData)
{
    return host_op_submit(hStream, 1, fn, NULL, userData);
}

/* cuStreamAddCallback: runs callback(hStream, status, userData) in stream order; flags must be
 * 0. */
EXPORT CUresult cuStreamAddCallback(CUstream hStream, CUstreamCallback callback, void *userData,
                                    unsigned int flags)
{
    if (flags != 0)
        return CUDA_ERROR_INVALID_VALUE;
    return host_op_submit(hStream, 0, NULL, callback, userData);
}

/* cuStreamAddCallback_ptsz: per-thread default stream variant. */
EXPORT CUresult cuStreamAddCallback_ptsz(CUstream hStream, CUstreamCallback callback,
                                         void *userData, unsigned int flags)
{
    if (flags != 0)
        return CUDA_ERROR_INVALID_VALUE;
    return host_op_submit(hStream, 1, NULL, callback, userData);
}
