/*
 * process_util.c: nvmlDeviceGetProcessUtilization, each process's share of the engine measured
 * from the simulator's own per-process counter.
 *
 * The shared state keeps, per process attachment (slot) and device, the cumulative time that
 * attachment's work held the engine (sim_instance_engine_busy). A reading at time now returns,
 * for every live process whose counter grew since lastSeenTimeStamp, one sample: its growth over
 * the window's length as a percent. To know each counter's value at lastSeenTimeStamp, this
 * process keeps per device a small history of snapshots (timestamp, then every live slot's
 * counter): one taken at nvmlInit (the baseline, kept until the next nvmlInit) and one at each
 * reading that returned samples (the newest HISTORY_LEN). The timestamp handed out with the
 * samples is the one recorded with the snapshot of that reading, so a caller that passes it back
 * gets exactly the engine time since that reading. Timestamps are microseconds on CLOCK_REALTIME
 * as read at the first nvmlInit, advanced by CLOCK_MONOTONIC from then on: they read as the wall
 * clock, and their differences are true elapsed time whatever the wall clock does. They grow
 * strictly from one reading of a device to the next, so each names one snapshot.
 */
#include "nvml_sim.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define HISTORY_LEN 64 /* snapshots kept per device besides the baseline */

/* A moment's engine counters of every live slot with engine time on one device. */
struct snapshot {
    uint64_t ts_us;   /* the timestamp handed out for it (0: the snapshot is empty) */
    uint64_t mono_ns; /* when it was taken, CLOCK_MONOTONIC */
    int n, cap;
    struct sim_proc_busy *procs;
};

struct history {
    struct snapshot base;              /* taken at nvmlInit */
    struct snapshot ring[HISTORY_LEN]; /* the newest readings; next is the slot to overwrite */
    unsigned int next;
    uint64_t last_ts_us; /* the newest timestamp handed out (or the baseline's) */
    struct snapshot now; /* scratch: the reading in progress */
};

static pthread_mutex_t history_lock = PTHREAD_MUTEX_INITIALIZER;
static struct history histories[SIM_MAX_DEVICES];
static pthread_once_t clock_once = PTHREAD_ONCE_INIT;
static uint64_t anchor_realtime_us, anchor_mono_ns;

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void clock_anchor(void)
{
    struct timespec rt;
    clock_gettime(CLOCK_REALTIME, &rt);
    anchor_mono_ns = mono_ns();
    anchor_realtime_us = (uint64_t)rt.tv_sec * 1000000ull + (uint64_t)rt.tv_nsec / 1000u;
}

/* The NVML timestamp (µs) of monotonic time t. */
static uint64_t timestamp_us(uint64_t t)
{
    return anchor_realtime_us + (t > anchor_mono_ns ? (t - anchor_mono_ns) / 1000u : 0);
}

/* Fills s with device dev's counters now. 0, or -1 when memory ran out (s is then empty). */
static int snapshot_take(struct sim_instance *inst, int dev, struct snapshot *s)
{
    for (;;) {
        int n = sim_instance_engine_busy(inst, dev, s->procs, s->cap);
        s->mono_ns = mono_ns();
        if (n <= s->cap) {
            s->n = n;
            return 0;
        }
        /* More slots than room: grow with some slack, as processes may keep arriving. */
        int cap = n + n / 2 + 8;
        struct sim_proc_busy *p = realloc(s->procs, (size_t)cap * sizeof(*p));
        if (!p) {
            s->n = 0;
            return -1;
        }
        s->procs = p;
        s->cap = cap;
    }
}

static void snapshot_free(struct snapshot *s)
{
    free(s->procs);
    memset(s, 0, sizeof(*s));
}

/* How much attachment p's engine time grew since snapshot s. The attachment (slot, generation)
 * counts from 0 when it is absent from s: a slot is left out only while its counter is 0, or
 * before it is claimed (its counter starts at 0). */
static uint64_t slot_growth(const struct snapshot *s, const struct sim_proc_busy *p)
{
    uint64_t before = 0;
    for (int i = 0; i < s->n; i++) {
        if (s->procs[i].slot == p->slot && s->procs[i].generation == p->generation) {
            before = s->procs[i].busy_ns;
            break;
        }
    }
    return p->busy_ns > before ? p->busy_ns - before : 0;
}

/* The snapshot a reading since last_seen starts from: the newest whose timestamp is at or
 * before last_seen (the one that timestamp was handed out with, in the normal case), else the
 * baseline (last_seen 0, or older than every snapshot kept). */
static const struct snapshot *history_find(const struct history *h, uint64_t last_seen)
{
    const struct snapshot *best = &h->base;
    for (int i = 0; i < HISTORY_LEN; i++) {
        const struct snapshot *s = &h->ring[i];
        if (s->ts_us != 0 && s->ts_us <= last_seen && s->ts_us > best->ts_us)
            best = s;
    }
    return best;
}

void sim_nvml_procutil_reset(struct sim_instance *inst, int count)
{
    pthread_once(&clock_once, clock_anchor);
    pthread_mutex_lock(&history_lock);
    for (int dev = 0; dev < SIM_MAX_DEVICES; dev++) {
        struct history *h = &histories[dev];
        for (int i = 0; i < HISTORY_LEN; i++)
            h->ring[i].ts_us = 0;
        h->next = 0;
        h->base.ts_us = 0;
        if (dev >= count)
            continue;
        if (snapshot_take(inst, dev, &h->base) != 0)
            h->base.n = 0; /* then readings since init count every attachment's whole time */
        /* Strictly after every timestamp handed out before (an earlier init's included). */
        uint64_t ts = timestamp_us(h->base.mono_ns);
        h->base.ts_us = ts > h->last_ts_us ? ts : h->last_ts_us + 1;
        h->last_ts_us = h->base.ts_us;
    }
    pthread_mutex_unlock(&history_lock);
}

void sim_nvml_procutil_free(void)
{
    pthread_mutex_lock(&history_lock);
    for (int dev = 0; dev < SIM_MAX_DEVICES; dev++) {
        struct history *h = &histories[dev];
        snapshot_free(&h->base);
        snapshot_free(&h->now);
        for (int i = 0; i < HISTORY_LEN; i++)
            snapshot_free(&h->ring[i]);
        h->next = 0;
    }
    pthread_mutex_unlock(&history_lock);
}

/* Whether entry i of now is the first of its pid with engine time since from; if so, the pid's
 * growth over every slot it holds goes to *grew (when not NULL). */
static int pid_growth(const struct snapshot *now, const struct snapshot *from, int i,
                      uint64_t *grew)
{
    const struct sim_proc_busy *p = &now->procs[i];
    uint64_t g = slot_growth(from, p);
    if (g == 0)
        return 0;
    for (int j = 0; j < i; j++)
        if (now->procs[j].pid == p->pid && slot_growth(from, &now->procs[j]) > 0)
            return 0;
    for (int j = i + 1; j < now->n; j++)
        if (now->procs[j].pid == p->pid)
            g += slot_growth(from, &now->procs[j]);
    if (grew)
        *grew = g;
    return 1;
}

/* busy / window as a percent, rounded to nearest (halves up), at most 100. */
static unsigned int percent(uint64_t busy, uint64_t window)
{
    if (busy >= window)
        return 100;
    /* busy < window, so 200 * busy fits unless the window is years long. */
    uint64_t pct = window < (UINT64_MAX / 200u) ? (busy * 200u + window) / (2u * window)
                                                : busy / (window / 100u);
    return pct > 100 ? 100u : (unsigned int)pct;
}

/* Per-process utilisation since lastSeenTimeStamp (see the file comment and
 * docs/internals/nvml.md). *processSamplesCount: in, the entries utilization has room for; out,
 * the samples written or needed. NVML_ERROR_NOT_FOUND (count 0) when no process used the engine
 * in the window or lastSeenTimeStamp is not in the past; NVML_ERROR_INSUFFICIENT_SIZE (count set)
 * for a NULL or too small buffer. Only a reading that returns samples records a snapshot. */
SIM_NVML_EXPORT nvmlReturn_t nvmlDeviceGetProcessUtilization(
    nvmlDevice_t device, nvmlProcessUtilizationSample_t *utilization,
    unsigned int *processSamplesCount, unsigned long long lastSeenTimeStamp)
{
    int dev;
    nvmlReturn_t rc = sim_nvml_enter_device(device, &dev);
    if (rc != NVML_SUCCESS)
        return rc;
    if (!processSamplesCount)
        return sim_nvml_leave(NVML_ERROR_INVALID_ARGUMENT);

    pthread_mutex_lock(&history_lock);
    struct history *h = &histories[dev];
    struct snapshot *now = &h->now;
    if (snapshot_take(sim_nvml_instance(), dev, now) != 0) {
        rc = NVML_ERROR_MEMORY;
        goto out;
    }
    uint64_t ts = timestamp_us(now->mono_ns);
    if (ts <= h->last_ts_us)
        ts = h->last_ts_us + 1;
    const struct snapshot *from = history_find(h, lastSeenTimeStamp);
    uint64_t window = now->mono_ns > from->mono_ns ? now->mono_ns - from->mono_ns : 0;

    /* One sample per pid that grew. A process holds two slots when it uses both the CUDA sim
     * and this library (each attaches); the NVML one never has engine time. */
    int n = 0;
    if (ts > lastSeenTimeStamp)
        for (int i = 0; i < now->n; i++)
            n += pid_growth(now, from, i, NULL);
    if (n == 0) {
        *processSamplesCount = 0;
        rc = NVML_ERROR_NOT_FOUND;
        goto out;
    }
    if (!utilization || *processSamplesCount < (unsigned int)n) {
        *processSamplesCount = (unsigned int)n;
        rc = NVML_ERROR_INSUFFICIENT_SIZE;
        goto out;
    }
    int k = 0;
    for (int i = 0; i < now->n && k < n; i++) {
        uint64_t grew;
        if (!pid_growth(now, from, i, &grew))
            continue;
        unsigned int pct = percent(grew, window);
        utilization[k++] = (nvmlProcessUtilizationSample_t){
            .pid = (unsigned int)now->procs[i].pid,
            .timeStamp = ts,
            .smUtil = pct,
            .memUtil = pct, /* as for the device: every engine operation works on device memory */
            .encUtil = 0,
            .decUtil = 0,
        };
    }
    *processSamplesCount = (unsigned int)k;

    /* This reading becomes the snapshot its timestamp names: swap the scratch into the ring
     * (the overwritten snapshot's buffer becomes the next scratch). */
    struct snapshot old = h->ring[h->next];
    h->ring[h->next] = *now;
    h->ring[h->next].ts_us = ts;
    *now = old;
    now->ts_us = 0;
    h->last_ts_us = ts;
    h->next = (h->next + 1) % HISTORY_LEN;
    rc = NVML_SUCCESS;
out:
    pthread_mutex_unlock(&history_lock);
    return sim_nvml_leave(rc);
}
