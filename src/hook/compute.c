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
 * launch on its own stream (through the real driver, never the hook's wrappers), sampled: the
 * first HOOK_COMPUTE_WARMUP launches of a kind (kernel or graph) are timed one at a time, then every
 * HOOK_COMPUTE_SAMPLE_EVERY-th; a timed launch is charged what it measured, the others the running
 * mean of their kind, which starts at the second sample (the first carries one-time costs).
 * Samples are collected lazily, without blocking, at the next launch (and while a launch waits);
 * launches made before their kind has a mean are charged once it does. Every launch is charged
 * once.
 */
#include "hook.h"
#include "vram.h"

#include "gpool/ledger.h"
#include "gpool/log.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Time one launch in this many (per kind) once a mean exists. */
#define HOOK_COMPUTE_SAMPLE_EVERY 8u
/* Time every launch (one at a time) until this many samples of the kind were collected. The
 * first sample is charged but never used for the mean: a first launch carries one-time costs
 * (lazy module loading, kernel preparation) that later launches do not. */
#define HOOK_COMPUTE_WARMUP 4u
/* Event pairs in flight at once; past that a launch is charged the mean instead of timed. */
#define HOOK_COMPUTE_SAMPLES 32
/* Longest single sleep while a launch waits for credit; the wait is re-checked after each. */
#define HOOK_COMPUTE_SLICE_NS 5000000ull

enum { KIND_KERNEL, KIND_GRAPH, KIND_COUNT };

enum { SAMPLE_FREE, SAMPLE_RECORDING, SAMPLE_PENDING };

struct sample {
    int state;
    int kind;
    CUevent start, end;
};

static struct {
    pthread_mutex_t lock;  /* everything below; taken before the ledger's lock, never after */
    struct ledger *ledger; /* borrowed from vram.c (hook_vram_ledger) */
    CUresult open_failed;  /* what hook_vram_ledger answered, when it failed */
    uint64_t generation;   /* of the limits last seen */
    uint32_t pct;          /* share of that generation */
    uint64_t launches[KIND_COUNT]; /* launches seen per kind, for sampling */
    int have_mean[KIND_COUNT];        /* from the second sample on */
    uint64_t nsamples[KIND_COUNT];    /* samples collected */
    uint64_t mean_ns[KIND_COUNT]; /* running mean of the samples */
    uint64_t backlog[KIND_COUNT]; /* launches waiting for the first mean */
    int inflight[KIND_COUNT];     /* samples of the kind being recorded or pending */
    struct sample samples[HOOK_COMPUTE_SAMPLES];
    int npending;
} comp = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* The vGPU named by the environment, or NULL. */
static const char *vgpu_name(void)
{
    const char *v = getenv("GPOOL_VGPU");
    return v && *v && strlen(v) <= LEDGER_NAME_MAX ? v : NULL;
}

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

/* Charges n launches of `ns` each. Caller holds comp.lock. */
static void charge(struct ledger *l, uint64_t ns, uint64_t n)
{
    while (n--)
        ledger_compute_charge(l, ns);
}

static void sample_release(struct sample *s)
{
    CUresult (*destroy)(CUevent) =
        (CUresult(*)(CUevent))hook_real_fn(GPOOL_API_ID_cuEventDestroy_v2);
    if (s->state != SAMPLE_FREE)
        comp.inflight[s->kind]--;
    if (destroy) {
        if (s->start)
            destroy(s->start);
        if (s->end)
            destroy(s->end);
    }
    memset(s, 0, sizeof(*s));
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
        CUresult e = q == CUDA_SUCCESS ? elapsed(&ms, s->start, s->end) : q;
        if (e != CUDA_SUCCESS || ms < 0) {
            /* The measurement is lost (the stream failed): charge the mean, or wait for one. */
            if (comp.have_mean[k])
                charge(l, comp.mean_ns[k], 1);
            else
                comp.backlog[k]++;
        } else {
            uint64_t d = (uint64_t)((double)ms * 1e6);
            charge(l, d, 1);
            if (comp.nsamples[k]++ >= 1) {
                /* The second sample replaces the first (warm-up) one; later ones are averaged. */
                comp.mean_ns[k] = comp.have_mean[k] ? (3 * comp.mean_ns[k] + d) / 4 : d;
                comp.have_mean[k] = 1;
                charge(l, comp.mean_ns[k], comp.backlog[k]);
                comp.backlog[k] = 0;
            }
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
        LOG_INFO("hook", "vGPU '%s': compute share now %u%% (generation %llu)", vgpu_name(),
                 lim.compute_pct, (unsigned long long)lim.generation);
    comp.generation = lim.generation;
    comp.pct = lim.compute_pct;
}

/* Starts timing this launch when it is its kind's turn: returns the sample's index + 1, or 0. */
static unsigned long long sample_start(int kind, CUstream stream, int per_thread)
{
    uint64_t n = comp.launches[kind]++;
    int turn = comp.nsamples[kind] >= HOOK_COMPUTE_WARMUP ? n % HOOK_COMPUTE_SAMPLE_EVERY == 0
                                                          : comp.inflight[kind] == 0;
    if (!turn || comp.npending >= HOOK_COMPUTE_SAMPLES)
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
    s->state = SAMPLE_RECORDING;
    comp.inflight[kind]++;
    return (unsigned long long)idx + 1;
}

/* Whether the launch's stream is being captured into a graph (nothing runs now). */
static int capturing(CUstream stream, int per_thread)
{
    CUresult (*fn)(CUstream, CUstreamCaptureStatus *) = (CUresult(*)(
        CUstream, CUstreamCaptureStatus *))hook_real_fn(GPOOL_API_ID_cuStreamIsCapturing);
    CUstreamCaptureStatus st = CU_STREAM_CAPTURE_STATUS_NONE;
    if (!stream && per_thread)
        stream = CU_STREAM_PER_THREAD;
    return fn && fn(stream, &st) == CUDA_SUCCESS && st != CU_STREAM_CAPTURE_STATUS_NONE;
}

/* call->state: bit 0 = this launch is accounted; bits 8.. = its sample's index + 1. */
static CUresult compute_before(struct hook_call *call)
{
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
    pthread_mutex_unlock(&comp.lock);
    if (!limited)
        return CUDA_SUCCESS; /* unlimited: nothing measured or charged */

    CUstream stream;
    int per_thread;
    int kind = launch_stream(call, &stream, &per_thread);
    if (kind >= 0 && capturing(stream, per_thread))
        return CUDA_SUCCESS; /* recorded into a graph, not run: its launch is what counts */

    uint64_t w = ledger_compute_wait(l, 1);
    while (w) {
        struct timespec ts = {0, (long)(w < HOOK_COMPUTE_SLICE_NS ? w : HOOK_COMPUTE_SLICE_NS)};
        nanosleep(&ts, NULL);
        pthread_mutex_lock(&comp.lock);
        collect(l);
        pthread_mutex_unlock(&comp.lock);
        w = ledger_compute_wait(l, 0);
    }

    if (kind < 0)
        return CUDA_SUCCESS;
    pthread_mutex_lock(&comp.lock);
    call->state = 1 | sample_start(kind, stream, per_thread) << 8 | (unsigned long long)kind << 4;
    pthread_mutex_unlock(&comp.lock);
    return CUDA_SUCCESS;
}

static CUresult compute_after(struct hook_call *call, CUresult rc)
{
    if (!(call->state & 1))
        return rc;
    int kind = (int)(call->state >> 4 & 0xf);
    unsigned long long idx = call->state >> 8;
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
            goto out;
        }
        sample_release(s);
    }
    if (rc != CUDA_SUCCESS)
        goto out; /* nothing ran */
    if (comp.have_mean[kind])
        charge(l, comp.mean_ns[kind], 1);
    else
        comp.backlog[kind]++;
out:
    pthread_mutex_unlock(&comp.lock);
    return rc;
}

static const struct hook_interceptor compute_interceptor = {compute_before, compute_after};

void hook_compute_init(void)
{
    if (!vgpu_name())
        return;
    hook_intercept_set(GPOOL_API_LAUNCHES, &compute_interceptor);
}
