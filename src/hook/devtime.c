/*
 * devtime.c: the device's own figure for the GPU time this process used, for the compute limiter
 * (compute.c) to correct its event-based charges with. See "Compute" in docs/internals/hook.md.
 *
 * The figure is NVML's per-process utilisation, `nvmlDeviceGetProcessUtilization`: for each
 * process that used the device since a timestamp the caller passes back (CPU time in µs), the
 * percentage of that window its work occupied the device's SMs. This process's GPU time over the
 * window is then smUtil / 100 x the window. The real NVML is loaded by absolute path
 * (GPOOL_REAL_NVML, else libnvidia-ml.so.1 in the system directories), with RTLD_LOCAL; a CUDA
 * device is matched to its NVML device by UUID.
 *
 * Not available (every call answers -1, logged once): no NVML, a device NVML does not know, a
 * driver that does not support per-process utilisation, or a process NVML never lists under this
 * process's pid (in a PID namespace NVML reports the host's pids).
 */
#include "hook.h"
#include "locate.h"

#include "gpool/log.h"
#include "gpool/nvml_abi.h"

#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEVTIME_MAX_DEVICES 16
/* Reads that found no sample of this process while it ran kernels, before the figure is given up
 * as unavailable (a PID namespace). */
#define DEVTIME_MISSES 20

static struct {
    pthread_once_t once;
    int ok;
    nvmlReturn_t (*init)(void);
    nvmlReturn_t (*by_uuid)(const char *, nvmlDevice_t *);
    nvmlReturn_t (*by_index)(unsigned int, nvmlDevice_t *);
    nvmlReturn_t (*util)(nvmlDevice_t, nvmlProcessUtilizationSample_t *, unsigned int *,
                         unsigned long long);
    struct {
        int state; /* 0 not started, 1 measuring, -1 unavailable */
        nvmlDevice_t handle;
        unsigned long long last_ts; /* µs: the end of the previous window */
        int misses;
    } dev[DEVTIME_MAX_DEVICES];
} dt = {.once = PTHREAD_ONCE_INIT};

/* The real NVML (locate.c; the NVML shim, when the system's libnvidia-ml.so.1 is the shim, is
 * accepted: it forwards these calls unchanged). */
static void *nvml_open(void)
{
    char why[PATH_MAX + 128] = "";
    int from_env = 0;
    void *h = hook_nvml_open("gpool's hook", (const void *)&hook_devtime_start, &from_env, why,
                             sizeof(why));
    if (!h)
        LOG_INFO("hook", "compute share: %s%s; charging by event timing only",
                 from_env ? "GPOOL_REAL_NVML: " : "", why);
    return h;
}

static void load_once(void)
{
    void *h = nvml_open();
    if (!h)
        return;
    dt.init = (nvmlReturn_t(*)(void))dlsym(h, "nvmlInit_v2");
    dt.by_uuid =
        (nvmlReturn_t(*)(const char *, nvmlDevice_t *))dlsym(h, "nvmlDeviceGetHandleByUUID");
    dt.by_index =
        (nvmlReturn_t(*)(unsigned int, nvmlDevice_t *))dlsym(h, "nvmlDeviceGetHandleByIndex_v2");
    dt.util = (nvmlReturn_t(*)(nvmlDevice_t, nvmlProcessUtilizationSample_t *, unsigned int *,
                               unsigned long long))dlsym(h, "nvmlDeviceGetProcessUtilization");
    if (!dt.init || !dt.util || (!dt.by_uuid && !dt.by_index) || dt.init() != NVML_SUCCESS) {
        LOG_INFO("hook", "compute share: NVML has no per-process utilisation; charging by event "
                         "timing only");
        return;
    }
    dt.ok = 1;
}

/* The NVML device of CUDA device dev: by UUID (what CUDA_VISIBLE_DEVICES cannot reorder), else
 * by index. */
static int find_device(int dev, nvmlDevice_t *out)
{
    hook_pfn_cuDeviceGetUuid_v2 uuid_fn =
        (hook_pfn_cuDeviceGetUuid_v2)hook_real_fn(GPOOL_API_ID_cuDeviceGetUuid_v2);
    CUuuid u;
    if (dt.by_uuid && uuid_fn && uuid_fn(&u, (CUdevice)dev) == CUDA_SUCCESS) {
        const unsigned char *b = (const unsigned char *)u.bytes;
        char s[64];
        snprintf(s, sizeof(s),
                 "GPU-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
                 b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
                 b[14], b[15]);
        if (dt.by_uuid(s, out) == NVML_SUCCESS)
            return 0;
    }
    return dt.by_index && dt.by_index((unsigned)dev, out) == NVML_SUCCESS ? 0 : -1;
}

int hook_devtime_start(int dev)
{
    pthread_once(&dt.once, load_once);
    if (!dt.ok || dev < 0 || dev >= DEVTIME_MAX_DEVICES)
        return -1;
    if (dt.dev[dev].state)
        return dt.dev[dev].state > 0 ? 0 : -1;
    if (find_device(dev, &dt.dev[dev].handle) < 0) {
        LOG_INFO("hook",
                 "compute share: device %d not found in NVML; charging by event timing "
                 "only",
                 dev);
        dt.dev[dev].state = -1;
        return -1;
    }
    /* 0: the first window runs from nvmlInit (just now, in load_once), in NVML's own clock. */
    dt.dev[dev].last_ts = 0;
    dt.dev[dev].state = 1;
    return 0;
}

int hook_devtime_read(int dev, uint64_t *ns)
{
    *ns = 0;
    if (dev < 0 || dev >= DEVTIME_MAX_DEVICES || dt.dev[dev].state <= 0)
        return -1;
    nvmlProcessUtilizationSample_t buf[64];
    unsigned int n = sizeof(buf) / sizeof(buf[0]);
    unsigned long long from = dt.dev[dev].last_ts;
    nvmlReturn_t r = dt.util(dt.dev[dev].handle, buf, &n, from);
    if (r == NVML_ERROR_NOT_FOUND)
        n = 0; /* nothing ran since `from` */
    else if (r != NVML_SUCCESS) {
        LOG_INFO("hook",
                 "compute share: nvmlDeviceGetProcessUtilization answered %d on device "
                 "%d; charging by event timing only",
                 (int)r, dev);
        dt.dev[dev].state = -1;
        return -1;
    }
    /* Each sample covers the time since the one before it (or since `from`): this process's
     * samples, oldest first, each smUtil % of its stretch. */
    unsigned long long to = from, prev = from;
    int found = 0;
    pid_t me = getpid();
    if (n > sizeof(buf) / sizeof(buf[0]))
        n = sizeof(buf) / sizeof(buf[0]);
    for (;;) {
        int next = -1;
        for (unsigned int i = 0; i < n; i++)
            if (buf[i].pid == (unsigned int)me && buf[i].timeStamp > prev &&
                (next < 0 || buf[i].timeStamp < buf[next].timeStamp))
                next = (int)i;
        if (next < 0)
            break;
        unsigned int pct = buf[next].smUtil > 100 ? 100 : buf[next].smUtil;
        *ns += (uint64_t)((buf[next].timeStamp - prev) * 1000ull * pct / 100);
        prev = buf[next].timeStamp;
        found = 1;
    }
    for (unsigned int i = 0; i < n; i++)
        if (buf[i].timeStamp > to)
            to = buf[i].timeStamp;
    dt.dev[dev].last_ts = to;
    if (!from) {
        /* The first read only fixes the start of the windows in NVML's clock. */
        *ns = 0;
        return 1;
    }
    if (found) {
        dt.dev[dev].misses = 0;
        return 0;
    }
    if (++dt.dev[dev].misses >= DEVTIME_MISSES) {
        LOG_INFO("hook",
                 "compute share: NVML never lists pid %d on device %d (a PID namespace?); "
                 "charging by event timing only",
                 (int)me, dev);
        dt.dev[dev].state = -1;
        return -1;
    }
    return 1;
}
