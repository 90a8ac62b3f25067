/*
 * compute.c: the local vGPU's compute share, a budget of GPU time. See the "Compute" section of
 * docs/internals/hook.md.
 *
 *   GPOOL_VGPU=<name>          the vGPU (unset: nothing here is installed, launches only forward)
 *   GPOOL_COMPUTE_LIMIT=<pct>  its share of the device, used when this process creates the ledger
 *                              (vram.c creates it, with GPOOL_TFLOPS_LIMIT converted; this file
 *                              uses vram.c's handle, so a process holds one slot)
 *
 * Every launch entry (LAUNCHES class) draws from the vGPU's token bucket in the ledger. before()
 * re-reads the ledger's limits (their generation: a share changed by `ledger_set_limits` applies
 * at the next launch) and, while ledger_compute_wait says so, sleeps in bounded slices. after()
 * charges the launch's GPU time. That time is measured with a pair of events recorded around the
 * launch on its own stream (through the real driver, never the hook's wrappers), sampled per
 * launch shape (function or graph executable, grid, block, shared memory): the first
 * HOOK_COMPUTE_WARMUP launches of a shape are timed one at a time, then each with probability
 * 1/HOOK_COMPUTE_SAMPLE_EVERY (random, so periodic launch patterns cannot alias); a timed launch
 * is charged what it measured, the others the running mean of their shape, which starts at the
 * shape's second sample (the first carries one-time costs). Samples are collected lazily,
 * without blocking, at the next launch (and while a launch waits); launches made before their
 * shape has a mean are charged once it does. Every launch is charged once.
 */
#include "hook.h"
#include "vram.h"

#include "gpool/ledger.h"
#include "gpool/log.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Once a shape has a mean, time each of its launches with probability 1 in this many (random,
 * so that a program's periodic launch pattern cannot alias with the sampling). */
#define HOOK_COMPUTE_SAMPLE_EVERY 8u
/* Time every launch of a shape (one at a time) until this many samples were collected. The
 * first sample is charged but never used for the mean: a first launch carries one-time costs
 * (lazy module loading, kernel preparation) that later launches do not. */
#define HOOK_COMPUTE_WARMUP 4u
/* Launch shapes (function + grid + block + shared memory, or a graph executable) with an
 * estimate of their own; a power of two. A shape that finds no room takes the place of the
 * least recently launched one of its probe window. */
#define HOOK_COMPUTE_SHAPES 512
/* How often the charges made for a device are reconciled with the device's own figure for this
 * process's GPU time (devtime.c), when it has one. */
#define HOOK_COMPUTE_CALIBRATE_NS 100000000ull
/* A window longer than this (no launch for a while), or one across a change of limits, starts
 * over instead: the device's figure for it would charge time used while unlimited (nothing is
 * reconciled at 100%) or under other limits. */
#define HOOK_COMPUTE_CALIBRATE_GAP_NS 1000000000ull
#define HOOK_COMPUTE_PROBE            8
/* Event pairs in flight at once; past that a launch is charged the mean instead of timed. */
#define HOOK_COMPUTE_SAMPLES 32
/* Longest single sleep while a launch waits for credit; the wait is re-checked after each. */
#define HOOK_COMPUTE_SLICE_NS 5000000ull

enum { KIND_KERNEL, KIND_GRAPH, KIND_COUNT };

enum { SAMPLE_FREE, SAMPLE_RECORDING, SAMPLE_PENDING };

struct sample {
    int state;
    int kind;
    int shape; /* index in comp.shapes */
    uint64_t shape_key;
    CUevent start, end;
};

/* The GPU-time estimate of one launch shape. */
struct shape {
    uint64_t key;      /* 0: free */
    uint64_t last_use; /* comp.clock at its last launch */
    uint64_t nsamples; /* samples collected */
    uint64_t mean_ns;  /* from the second sample on (have_mean) */
    uint64_t backlog;  /* launches waiting for the mean */
    int have_mean;
    int inflight; /* its samples being recorded or pending */
    int dev;      /* the device its launches run on */
};

static struct {
    pthread_mutex_t lock;      /* everything below; taken before the ledger's lock, never after */
    struct ledger *ledger;     /* borrowed from vram.c (hook_vram_ledger) */
    CUresult open_failed;      /* what hook_vram_ledger answered, when it failed */
    uint64_t generation;       /* of the limits last seen */
    uint32_t pct;              /* share of that generation */
    uint64_t clock;            /* launches seen, for last_use */
    uint64_t rng;              /* xorshift64 state for sampling */
    int have_mean[KIND_COUNT]; /* a kind's mean: what an evicted shape's backlog is charged */
    uint64_t mean_ns[KIND_COUNT];
    struct shape shapes[HOOK_COMPUTE_SHAPES];
    struct {
        int state;             /* 0 not tried, 1 reconciling, -1 no device figure */
        int rebase;            /* the limits changed: the next window starts over */
        uint64_t last_ns;      /* monotonic time of the last reconciliation */
        int64_t charged_since; /* charged to the device since then */
    } calib[LEDGER_MAX_DEVICES];
    int calib_off; /* GPOOL_COMPUTE_CALIBRATE=0 */
    struct sample samples[HOOK_COMPUTE_SAMPLES];
    int npending;
    /* The generation of the limits when the share was last seen at 100% with no sample
     * pending, 0 otherwise: while the ledger's generation is still that one, a launch has
     * nothing to wait for, measure or collect, and skips the lock (compute_before). Written
     * under the lock. */
    _Atomic uint64_t unlimited_gen;
} comp = {.lock = PTHREAD_MUTEX_INITIALIZER};

/*
 * The vGPU's ledger: the process's one handle, vram.c's (hook_vram_ledger opens it, or creates
 * it with the environment's limits, GPOOL_TFLOPS_LIMIT converted, normally already in cuInit),
 * so a process holds one slot of the ledger. Caller holds comp.lock. NULL when it cannot be
 * opened; then launches answer what hook_vram_ledger did (*res), and it is not asked again
 * (vram.c logged why).
 */
static struct ledger *compute_ledger(CUresult *res)
{
    if (!comp.ledger && !comp.open_failed) {
        CUresult r = hook_vram_ledger(&comp.ledger);
        if (r != CUDA_SUCCESS || !comp.ledger) {
            comp.ledger = NULL;
            comp.open_failed = r != CUDA_SUCCESS ? r : CUDA_ERROR_OPERATING_SYSTEM;
        }
    }
    *res = comp.open_failed;
    return comp.ledger;
}

/* Which kind a launch entry is, and the stream it runs on (*per_thread: a _ptsz entry, whose
 * stream 0 is the per-thread default stream). -1 for entries that are not timed (multi-device
 * cooperative launches). */
static int launch_stream(const struct hook_call *call, CUstream *stream, int *per_thread)
{
    *per_thread = 0;
    *stream = NULL;
    switch (call->id) {
    case GPOOL_API_ID_cuLaunchKernel_ptsz:
    case GPOOL_API_ID_cuLaunchCooperativeKernel_ptsz:
        *per_thread = 1;
        /* fall through */
    case GPOOL_API_ID_cuLaunchKernel:
    case GPOOL_API_ID_cuLaunchCooperativeKernel:
        *stream = *(CUstream *)call->argv[8];
        return KIND_KERNEL;
    case GPOOL_API_ID_cuLaunchKernelEx_ptsz:
        *per_thread = 1;
        /* fall through */
    case GPOOL_API_ID_cuLaunchKernelEx: {
        const CUlaunchConfig *cfg = *(const CUlaunchConfig *const *)call->argv[0];
        if (!cfg)
            return -1; /* the driver refuses it */
        *stream = cfg->hStream;
        return KIND_KERNEL;
    }
    case GPOOL_API_ID_cuGraphLaunch_ptsz:
        *per_thread = 1;
        /* fall through */
    case GPOOL_API_ID_cuGraphLaunch:
        *stream = *(CUstream *)call->argv[1];
        return KIND_GRAPH;
    case GPOOL_API_ID_cuLaunchGridAsync:
        *stream = *(CUstream *)call->argv[3];
        return KIND_KERNEL;
    case GPOOL_API_ID_cuLaunch:
    case GPOOL_API_ID_cuLaunchGrid:
        return KIND_KERNEL; /* the legacy default stream */
    default:
        return -1;
    }
}

/* Charges n launches of `ns` each to device dev. Caller holds comp.lock. */
static void charge(struct ledger *l, int dev, uint64_t ns, uint64_t n)
{
    if (dev >= 0 && dev < LEDGER_MAX_DEVICES)
        comp.calib[dev].charged_since += (int64_t)(ns * n);
    ledger_compute_charge(l, dev, ns, n);
}

static uint64_t monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/*
 * Every HOOK_COMPUTE_CALIBRATE_NS, replaces what the events charged to device dev since the last
 * time with the device's own figure for this process's GPU time over the same window (devtime.c):
 * the difference is charged or refunded (ledger_compute_adjust). An event pair measures from its
 * start record to its end record, which on a time-shared device includes other contexts' time
 * slices that fell in between; the device's figure does not. Charges made late for work of an
 * earlier window (samples collected after it closed) are evened out by the next reconciliation.
 * Without a device figure the events' charges stand. Caller holds comp.lock.
 */
static void calibrate(struct ledger *l, int dev)
{
    if (comp.calib_off || dev < 0 || dev >= LEDGER_MAX_DEVICES || comp.calib[dev].state < 0)
        return;
    uint64_t now = monotonic_ns();
    if (!comp.calib[dev].state) {
        comp.calib[dev].state = hook_devtime_start(dev) == 0 ? 1 : -1;
        comp.calib[dev].last_ns = now;
        comp.calib[dev].charged_since = 0;
        return;
    }
    uint64_t since = now - comp.calib[dev].last_ns;
    if (since < HOOK_COMPUTE_CALIBRATE_NS && !comp.calib[dev].rebase)
        return;
    uint64_t used = 0;
    int r = hook_devtime_read(dev, &used);
    if (r < 0) {
        comp.calib[dev].state = -1;
        return;
    }
    if (r == 0 && !comp.calib[dev].rebase && since < HOOK_COMPUTE_CALIBRATE_GAP_NS)
        ledger_compute_adjust(l, dev, (int64_t)used - comp.calib[dev].charged_since);
    comp.calib[dev].rebase = 0;
    comp.calib[dev].charged_since = 0;
    comp.calib[dev].last_ns = now;
}

static uint64_t mix(uint64_t h, uint64_t v)
{
    h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    return h;
}

/* The launch's shape: what it runs (function or graph executable) and how wide (grid, block,
 * dynamic shared memory), hashed; never 0. Launches of one shape take about the same time. */
static uint64_t shape_key(const struct hook_call *call)
{
    uint64_t h = (uint64_t)call->id;
    switch (call->id) {
    case GPOOL_API_ID_cuLaunchKernel:
    case GPOOL_API_ID_cuLaunchKernel_ptsz:
    case GPOOL_API_ID_cuLaunchCooperativeKernel:
    case GPOOL_API_ID_cuLaunchCooperativeKernel_ptsz:
        h = mix(h, (uint64_t)(uintptr_t) * (CUfunction *)call->argv[0]);
        for (int k = 1; k <= 7; k++)
            h = mix(h, *(unsigned int *)call->argv[k]);
        break;
    case GPOOL_API_ID_cuLaunchKernelEx:
    case GPOOL_API_ID_cuLaunchKernelEx_ptsz: {
        const CUlaunchConfig *c = *(const CUlaunchConfig *const *)call->argv[0];
        h = mix(h, (uint64_t)(uintptr_t) * (CUfunction *)call->argv[1]);
        if (c) {
            const unsigned int d[] = {c->gridDimX,  c->gridDimY,  c->gridDimZ,      c->blockDimX,
                                      c->blockDimY, c->blockDimZ, c->sharedMemBytes};
            for (size_t k = 0; k < sizeof(d) / sizeof(d[0]); k++)
                h = mix(h, d[k]);
        }
        break;
    }
    case GPOOL_API_ID_cuGraphLaunch:
    case GPOOL_API_ID_cuGraphLaunch_ptsz:
        h = mix(h, (uint64_t)(uintptr_t) * (CUgraphExec *)call->argv[0]);
        break;
    case GPOOL_API_ID_cuLaunch:
        h = mix(h, (uint64_t)(uintptr_t) * (CUfunction *)call->argv[0]);
        break;
    case GPOOL_API_ID_cuLaunchGrid:
    case GPOOL_API_ID_cuLaunchGridAsync:
        h = mix(h, (uint64_t)(uintptr_t) * (CUfunction *)call->argv[0]);
        h = mix(h, (uint64_t)(unsigned)*(int *)call->argv[1]);
        h = mix(h, (uint64_t)(unsigned)*(int *)call->argv[2]);
        break;
    default:
        break;
    }
    return h ? h : 1;
}

/* Launches of shape sh waiting for a mean are charged the kind's, when it has one (the shape is
 * being evicted). Caller holds comp.lock. */
static void shape_flush(struct ledger *l, struct shape *sh, int kind)
{
    if (sh->backlog && comp.have_mean[kind])
        charge(l, sh->dev, comp.mean_ns[kind], sh->backlog);
    sh->backlog = 0;
}

/* The shape entry of key, made (evicting the least recently launched of its probe window, never
 * one with samples in flight) when missing; -1 when every candidate has samples in flight.
 * Caller holds comp.lock. */
static int shape_get(struct ledger *l, uint64_t key, int kind, int dev)
{
    unsigned base = (unsigned)(key ^ key >> 32) & (HOOK_COMPUTE_SHAPES - 1);
    int victim = -1;
    for (unsigned p = 0; p < HOOK_COMPUTE_PROBE; p++) {
        int i = (int)((base + p) & (HOOK_COMPUTE_SHAPES - 1));
        struct shape *sh = &comp.shapes[i];
        if (sh->key == key)
            return i;
        if (sh->inflight)
            continue;
        if (victim < 0 || !sh->key ||
            (comp.shapes[victim].key && sh->last_use < comp.shapes[victim].last_use))
            victim = i;
    }
    if (victim >= 0) {
        shape_flush(l, &comp.shapes[victim], kind);
        comp.shapes[victim] = (struct shape){.key = key, .dev = dev};
    }
    return victim;
}

/* Whether to time this launch of sh. */
static int sample_turn(const struct shape *sh)
{
    if (sh->nsamples < HOOK_COMPUTE_WARMUP)
        return sh->inflight == 0;
    uint64_t x = comp.rng ? comp.rng : 0x2545f4914f6cdd1dull;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    comp.rng = x;
    return x % HOOK_COMPUTE_SAMPLE_EVERY == 0;
}

static void sample_release(struct sample *s)
{
    CUresult (*destroy)(CUevent) =
        (CUresult(*)(CUevent))hook_real_fn(GPOOL_API_ID_cuEventDestroy_v2);
    if (s->state != SAMPLE_FREE && comp.shapes[s->shape].key == s->shape_key)
        comp.shapes[s->shape].inflight--;
    if (destroy) {
        if (s->start)
            destroy(s->start);
        if (s->end)
            destroy(s->end);
    }
    memset(s, 0, sizeof(*s));
}

/* A sample of shape sh measured d ns (its own charge is done by the caller): the second sample
 * replaces the first (warm-up) one as the mean, later ones move it by a quarter; the kind's mean
 * follows too. Launches waiting for the mean are charged it. Caller holds comp.lock. */
static void shape_learn(struct ledger *l, struct shape *sh, int kind, uint64_t d)
{
    if (sh->nsamples++ >= 1) {
        sh->mean_ns = sh->have_mean ? (3 * sh->mean_ns + d) / 4 : d;
        sh->have_mean = 1;
        charge(l, sh->dev, sh->mean_ns, sh->backlog);
        sh->backlog = 0;
        comp.mean_ns[kind] = comp.have_mean[kind] ? (3 * comp.mean_ns[kind] + d) / 4 : d;
        comp.have_mean[kind] = 1;
    }
}

/* Charges the samples whose end event completed, without blocking. Caller holds comp.lock. */
static void collect(struct ledger *l)
{
    if (!comp.npending)
        return;
    CUresult (*query)(CUevent) = (CUresult(*)(CUevent))hook_real_fn(GPOOL_API_ID_cuEventQuery);
    CUresult (*elapsed)(float *, CUevent, CUevent) =
        (CUresult(*)(float *, CUevent, CUevent))hook_real_fn(GPOOL_API_ID_cuEventElapsedTime);
    if (!query || !elapsed)
        return;
    for (int i = 0; i < HOOK_COMPUTE_SAMPLES; i++) {
        struct sample *s = &comp.samples[i];
        if (s->state != SAMPLE_PENDING)
            continue;
        CUresult q = query(s->end);
        if (q == CUDA_ERROR_NOT_READY)
            continue;
        float ms = 0;
        int k = s->kind;
        /* The shape is still the sample's: a shape with samples in flight is never evicted. */
        struct shape *sh = &comp.shapes[s->shape];
        CUresult e = q == CUDA_SUCCESS ? elapsed(&ms, s->start, s->end) : q;
        if (e != CUDA_SUCCESS || ms < 0) {
            /* The measurement is lost (the stream failed): charge the mean, or wait for one. */
            if (sh->have_mean)
                charge(l, sh->dev, sh->mean_ns, 1);
            else
                sh->backlog++;
        } else {
            uint64_t d = (uint64_t)((double)ms * 1e6);
            charge(l, sh->dev, d, 1);
            shape_learn(l, sh, k, d);
        }
        sample_release(s);
        comp.npending--;
    }
}

/* Re-reads the ledger's limits when their generation changed (checked without the ledger lock,
 * so an unchanged share costs no lock per launch); logs a new generation. Caller holds
 * comp.lock. */
static void follow_limits(struct ledger *l)
{
    struct ledger_limits lim;
    if (comp.generation && ledger_generation(l) == comp.generation)
        return;
    if (ledger_get_limits(l, &lim) < 0 || lim.generation == comp.generation)
        return;
    if (comp.generation)
        LOG_INFO("hook", "vGPU '%s': compute share now %u%% (generation %llu)", hook_vram_cfg.name,
                 lim.compute_pct, (unsigned long long)lim.generation);
    comp.generation = lim.generation;
    comp.pct = lim.compute_pct;
    for (int d = 0; d < LEDGER_MAX_DEVICES; d++)
        comp.calib[d].rebase = 1;
}

/* Starts timing this launch of shape `shape` when it is its turn: returns the sample's index + 1,
 * or 0. Caller holds comp.lock. */
static unsigned long long sample_start(int kind, int shape, CUstream stream, int per_thread)
{
    struct shape *sh = &comp.shapes[shape];
    if (!sample_turn(sh) || comp.npending >= HOOK_COMPUTE_SAMPLES)
        return 0;
    struct sample *s = NULL;
    int idx = 0;
    for (; idx < HOOK_COMPUTE_SAMPLES; idx++)
        if (comp.samples[idx].state == SAMPLE_FREE) {
            s = &comp.samples[idx];
            break;
        }
    CUresult (*create)(CUevent *, unsigned int) =
        (CUresult(*)(CUevent *, unsigned int))hook_real_fn(GPOOL_API_ID_cuEventCreate);
    CUresult (*record)(CUevent, CUstream) = (CUresult(*)(CUevent, CUstream))hook_real_fn(
        per_thread ? GPOOL_API_ID_cuEventRecord_ptsz : GPOOL_API_ID_cuEventRecord);
    if (!s || !create || !record)
        return 0;
    if (create(&s->start, CU_EVENT_DEFAULT) != CUDA_SUCCESS ||
        create(&s->end, CU_EVENT_DEFAULT) != CUDA_SUCCESS ||
        record(s->start, stream) != CUDA_SUCCESS) {
        sample_release(s);
        return 0;
    }
    s->kind = kind;
    s->shape = shape;
    s->shape_key = sh->key;
    s->state = SAMPLE_RECORDING;
    sh->inflight++;
    return (unsigned long long)idx + 1;
}

/* call->state: bit 0 = this launch is accounted; bits 4..7 = its kind; bits 8..15 = its sample's
 * index + 1 (0: not timed); bits 16..31 = its shape's index + 1 (0: none found); bits 32..39 =
 * its device. The share holds per device: a launch waits for, and is charged to, the bucket of
 * the current context's device. */
static CUresult compute_before(struct hook_call *call)
{
    /* Unlimited, with unchanged limits and nothing pending: one load and a compare. */
    uint64_t unlimited = atomic_load_explicit(&comp.unlimited_gen, memory_order_acquire);
    if (unlimited && ledger_generation(hook_vram_ledger_opened()) == unlimited)
        return CUDA_SUCCESS;

    pthread_mutex_lock(&comp.lock);
    CUresult res;
    struct ledger *l = compute_ledger(&res);
    if (!l) {
        pthread_mutex_unlock(&comp.lock);
        return res;
    }
    follow_limits(l);
    collect(l);
    int limited = comp.pct < 100;
    atomic_store_explicit(&comp.unlimited_gen, !limited && !comp.npending ? comp.generation : 0,
                          memory_order_release);
    pthread_mutex_unlock(&comp.lock);
    if (!limited)
        return CUDA_SUCCESS; /* unlimited: nothing measured or charged */

    CUstream stream;
    int per_thread;
    int kind = launch_stream(call, &stream, &per_thread);
    if (kind >= 0 && hook_vram_stream_captured(stream, per_thread))
        return CUDA_SUCCESS; /* recorded into a graph, not run: its launch is what counts */

    int dev = 0;
    if (hook_vram_current_device(&dev) != CUDA_SUCCESS || dev < 0 || dev >= LEDGER_MAX_DEVICES)
        dev = 0; /* no current context: the driver refuses the launch itself */
    pthread_mutex_lock(&comp.lock);
    calibrate(l, dev);
    pthread_mutex_unlock(&comp.lock);
    uint64_t w = ledger_compute_wait(l, dev, 1);
    while (w) {
        struct timespec ts = {0, (long)(w < HOOK_COMPUTE_SLICE_NS ? w : HOOK_COMPUTE_SLICE_NS)};
        nanosleep(&ts, NULL);
        pthread_mutex_lock(&comp.lock);
        collect(l);
        pthread_mutex_unlock(&comp.lock);
        w = ledger_compute_wait(l, dev, 0);
    }

    if (kind < 0)
        return CUDA_SUCCESS;
    uint64_t key = mix(shape_key(call), (uint64_t)dev);
    pthread_mutex_lock(&comp.lock);
    int shape = shape_get(l, key, kind, dev);
    unsigned long long idx = 0;
    if (shape >= 0) {
        comp.shapes[shape].last_use = ++comp.clock;
        idx = sample_start(kind, shape, stream, per_thread);
    }
    call->state = 1 | (unsigned long long)kind << 4 | idx << 8 |
                  (unsigned long long)(shape + 1) << 16 | (unsigned long long)dev << 32;
    pthread_mutex_unlock(&comp.lock);
    return CUDA_SUCCESS;
}

static CUresult compute_after(struct hook_call *call, CUresult rc)
{
    if (!(call->state & 1))
        return rc;
    int kind = (int)(call->state >> 4 & 0xf);
    unsigned long long idx = call->state >> 8 & 0xff;
    int shape = (int)(call->state >> 16 & 0xffff) - 1;
    int dev = (int)(call->state >> 32 & 0xff);
    pthread_mutex_lock(&comp.lock);
    struct ledger *l = comp.ledger;
    if (idx) {
        struct sample *s = &comp.samples[idx - 1];
        CUstream stream;
        int per_thread;
        launch_stream(call, &stream, &per_thread);
        CUresult (*record)(CUevent, CUstream) = (CUresult(*)(CUevent, CUstream))hook_real_fn(
            per_thread ? GPOOL_API_ID_cuEventRecord_ptsz : GPOOL_API_ID_cuEventRecord);
        if (rc == CUDA_SUCCESS && record && record(s->end, stream) == CUDA_SUCCESS) {
            s->state = SAMPLE_PENDING;
            comp.npending++;
            /* Started before the share went up to 100%: the next launch collects it. */
            atomic_store_explicit(&comp.unlimited_gen, 0, memory_order_relaxed);
            goto out;
        }
        sample_release(s);
    }
    if (rc != CUDA_SUCCESS)
        goto out; /* nothing ran */
    /* The shape's estimate, if the entry is still this launch's (another thread may have
     * reused it meanwhile), else the kind's. */
    struct shape *sh = shape >= 0 && comp.shapes[shape].key == mix(shape_key(call), (uint64_t)dev)
                           ? &comp.shapes[shape]
                           : NULL;
    if (sh && sh->have_mean)
        charge(l, sh->dev, sh->mean_ns, 1);
    else if (sh)
        sh->backlog++;
    else if (comp.have_mean[kind])
        charge(l, dev, comp.mean_ns[kind], 1);
out:
    pthread_mutex_unlock(&comp.lock);
    return rc;
}

static const struct hook_interceptor compute_interceptor = {compute_before, compute_after};

void hook_compute_init(void)
{
    if (!hook_vram_cfg.name[0])
        return; /* no vGPU, or a name too long (cuInit refuses it) */
    const char *cal = getenv("GPOOL_COMPUTE_CALIBRATE");
    comp.calib_off = cal && strcmp(cal, "0") == 0;
    hook_intercept_set(GPOOL_API_LAUNCHES, &compute_interceptor);
}
