/*
 * nvmlDeviceGetProcessUtilization against the simulator's own engine counters. This process and
 * a forked worker run memsets through the CUDA sim; the test reads the device's cumulative
 * engine busy time through its own attachment (the sim core, sim_instance_busy) while nothing
 * runs, so every window's busy time is known exactly. Each sample must then satisfy
 * smUtil = 100 * busy / window rounded to nearest, with the window taken from the samples'
 * timestamps (±2 µs): a caller multiplying smUtil by the window gets the engine time within half
 * a percent of the window. Also: lastSeenTimeStamp 0, a returned timestamp, one between two
 * readings and one in the future; the size query and NVML_ERROR_INSUFFICIENT_SIZE; two processes
 * get two samples with their own pids; an idle or dead process gets none.
 *
 * Run as `test_nvml_procutil [SHIM]`: with SHIM (gpool's NVML shim, preloaded with the hook's
 * libcuda by the test's environment) the entry point must be the shim's, forwarding to the sim.
 */
#include "nvml_test_util.h"

#include <dlfcn.h>
#include <sys/stat.h>
#include <time.h>

/* The sim core's reading of the device's engine counter (src/sim/sim.h, which cannot be included
 * beside the toolkit's cuda.h: it declares the CUDA ABI itself). */
struct sim_instance;
int sim_instance_attach(struct sim_instance **out, char *err, size_t errlen);
void sim_instance_detach(struct sim_instance *inst);
void sim_instance_busy(struct sim_instance *inst, int dev, uint64_t *busy_ns, uint64_t *now_ns);

#define BUF_BYTES   (64u << 20)
#define MAX_SAMPLES 8

static struct sim_instance *ref; /* the test's own attachment, to read the device's counter */

static uint64_t device_busy(void)
{
    uint64_t busy = 0, now = 0;
    sim_instance_busy(ref, 0, &busy, &now);
    return busy;
}

/* Keeps the engine busy for a while and waits for the work to finish. */
static void do_work(CUdeviceptr buf)
{
    for (int i = 0; i < 8; i++)
        CHECK_OK(cuMemsetD8(buf, (unsigned char)i, BUF_BYTES));
    CHECK_OK(cuCtxSynchronize());
}

/* ---- a worker process: runs the same work on command ---------------------------------------- */

struct worker {
    pid_t pid;
    int cmd_fd, reply_fd;
};

static struct worker worker_spawn(void)
{
    int cmd[2], reply[2];
    REQUIRE(pipe(cmd) == 0 && pipe(reply) == 0, "pipe failed");
    fflush(NULL);
    pid_t pid = fork();
    REQUIRE(pid >= 0, "fork failed");
    if (pid == 0) {
        close(cmd[1]);
        close(reply[0]);
        char c = 'x';
        CUdeviceptr buf = 0;
        if (cuInit(0) == CUDA_SUCCESS) {
            (void)util_primary_ctx(0);
            if (cuMemAlloc(&buf, BUF_BYTES) == CUDA_SUCCESS)
                c = 'r';
        }
        if (write(reply[1], &c, 1) != 1 || c != 'r')
            _exit(2);
        while (read(cmd[0], &c, 1) == 1 && c == 'w') {
            do_work(buf);
            c = check_failures ? 'f' : 'd';
            if (write(reply[1], &c, 1) != 1)
                _exit(2);
        }
        _exit(0);
    }
    close(cmd[0]);
    close(reply[1]);
    char c = 0;
    REQUIRE(read(reply[0], &c, 1) == 1 && c == 'r', "worker %d failed to start", (int)pid);
    return (struct worker){pid, cmd[1], reply[0]};
}

/* Has the worker run its work once, and waits until it has finished. */
static void worker_work(const struct worker *w)
{
    char c = 'w';
    REQUIRE(write(w->cmd_fd, &c, 1) == 1, "worker %d: write", (int)w->pid);
    REQUIRE(read(w->reply_fd, &c, 1) == 1 && c == 'd', "worker %d: its work failed", (int)w->pid);
}

static void worker_kill(struct worker *w)
{
    kill(w->pid, SIGKILL);
    int st;
    while (waitpid(w->pid, &st, 0) < 0)
        ;
    close(w->cmd_fd);
    close(w->reply_fd);
}

/* ---- checks -----------------------------------------------------------------------------------
 */

/* The sample of pid in s[0..n), or NULL. */
static const nvmlProcessUtilizationSample_t *find(const nvmlProcessUtilizationSample_t *s,
                                                  unsigned int n, pid_t pid)
{
    for (unsigned int i = 0; i < n; i++)
        if (s[i].pid == (unsigned int)pid)
            return &s[i];
    return NULL;
}

/* Checks sample s, read over the window since timestamp from, against busy_ns of engine time:
 * smUtil is 100 * busy / window rounded to nearest, the window being the timestamps' difference
 * within 2 µs (microsecond truncation of both ends). */
static void check_share(const char *what, const nvmlProcessUtilizationSample_t *s,
                        unsigned long long from, uint64_t busy_ns)
{
    REQUIRE(s != NULL, "%s: no sample", what);
    CHECK(s->memUtil == s->smUtil && s->encUtil == 0 && s->decUtil == 0,
          "%s: memUtil %u, smUtil %u, encUtil %u, decUtil %u", what, s->memUtil, s->smUtil,
          s->encUtil, s->decUtil);
    REQUIRE(s->timeStamp > from + 2, "%s: timestamp %llu not after %llu", what, s->timeStamp, from);
    double w_us = (double)(s->timeStamp - from);
    double busy_us = (double)busy_ns / 1000.0;
    double lo = 100.0 * busy_us / (w_us + 2.0), hi = 100.0 * busy_us / (w_us - 2.0);
    if (lo > 100.0)
        lo = 100.0;
    if (hi > 100.0)
        hi = 100.0;
    printf("# %s: smUtil %u%% over %.0f us; engine counter %.0f us (%.3f%%)\n", what, s->smUtil,
           w_us, busy_us, 100.0 * busy_us / w_us);
    CHECK(busy_ns > 0 && s->smUtil > 0, "%s: smUtil %u for %llu ns of engine time", what, s->smUtil,
          (unsigned long long)busy_ns);
    CHECK((double)s->smUtil >= lo - 0.5 - 1e-9 && (double)s->smUtil <= hi + 0.5 + 1e-9,
          "%s: smUtil %u%% over %.0f us, the engine's counter says %.0f us (%.3f%%)", what,
          s->smUtil, w_us, busy_us, 100.0 * busy_us / w_us);
}

static unsigned long long realtime_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (unsigned long long)ts.tv_sec * 1000000ull + (unsigned long long)ts.tv_nsec / 1000u;
}

/* Whether the code at fn lies in the file at path. */
static int defined_in(void *fn, const char *path)
{
    Dl_info info;
    struct stat a, b;
    return fn && dladdr(fn, &info) && info.dli_fname && stat(info.dli_fname, &a) == 0 &&
           stat(path, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

int main(int argc, char **argv)
{
    const char *shim = argc > 1 ? argv[1] : NULL;
    nvmlProcessUtilizationSample_t s[MAX_SAMPLES];
    unsigned int n = MAX_SAMPLES;

    /* The worker starts first: this process has no CUDA state to hand down. */
    struct worker child = worker_spawn();
    char err[256] = "";
    REQUIRE(sim_instance_attach(&ref, err, sizeof err) == 0, "attach: %s", err);

    CHECK_RC(nvmlDeviceGetProcessUtilization(NULL, s, &n, 0), NVML_ERROR_UNINITIALIZED);
    REQUIRE_OK(nvmlInit_v2());
    nvmlDevice_t dev;
    REQUIRE_OK(nvmlDeviceGetHandleByIndex_v2(0, &dev));
    if (shim)
        CHECK(defined_in((void *)nvmlDeviceGetProcessUtilization, shim),
              "nvmlDeviceGetProcessUtilization is not the shim's (%s)", shim);
    CHECK_RC(nvmlDeviceGetProcessUtilization(dev, s, NULL, 0), NVML_ERROR_INVALID_ARGUMENT);
    n = MAX_SAMPLES;
    CHECK_RC(nvmlDeviceGetProcessUtilization((nvmlDevice_t)&n, s, &n, 0),
             NVML_ERROR_INVALID_ARGUMENT);

    /* Nothing ran since nvmlInit: no sample, with or without a buffer. */
    n = MAX_SAMPLES;
    CHECK_RC(nvmlDeviceGetProcessUtilization(dev, s, &n, 0), NVML_ERROR_NOT_FOUND);
    CHECK(n == 0, "%u samples on an idle device", n);
    n = 3;
    CHECK_RC(nvmlDeviceGetProcessUtilization(dev, NULL, &n, 0), NVML_ERROR_NOT_FOUND);
    CHECK(n == 0, "size query on an idle device: %u", n);

    REQUIRE_OK(cuInit(0));
    (void)util_primary_ctx(0);
    CUdeviceptr buf;
    REQUIRE_OK(cuMemAlloc(&buf, BUF_BYTES));

    /* lastSeenTimeStamp 0: everything since nvmlInit, one sample, this process's. */
    do_work(buf);
    n = MAX_SAMPLES;
    unsigned long long before = realtime_us();
    REQUIRE_OK(nvmlDeviceGetProcessUtilization(dev, s, &n, 0));
    unsigned long long after = realtime_us();
    REQUIRE(n == 1 && s[0].pid == (unsigned int)getpid(), "%u samples, first pid %u (mine %d)", n,
            s[0].pid, (int)getpid());
    CHECK(s[0].smUtil > 0 && s[0].smUtil <= 100, "smUtil %u since init", s[0].smUtil);
    /* CPU time in µs: the wall clock (loosely: the sim's timestamps follow CLOCK_MONOTONIC from
     * the wall clock as read at nvmlInit). */
    CHECK(s[0].timeStamp + 60000000ull > before && s[0].timeStamp < after + 60000000ull,
          "timestamp %llu, wall clock %llu", s[0].timeStamp, before);
    unsigned long long t1 = s[0].timeStamp;
    uint64_t d1 = device_busy();

    /* A returned timestamp: exactly the engine time since that reading. */
    do_work(buf);
    uint64_t d2 = device_busy();
    n = MAX_SAMPLES;
    REQUIRE_OK(nvmlDeviceGetProcessUtilization(dev, s, &n, t1));
    CHECK(n == 1, "%u samples for one busy process", n);
    check_share("since a returned timestamp", find(s, n, getpid()), t1, d2 - d1);
    unsigned long long t2 = s[0].timeStamp;

    /* Idle since: no sample. A future timestamp: none either, even after work. */
    n = MAX_SAMPLES;
    CHECK_RC(nvmlDeviceGetProcessUtilization(dev, s, &n, t2), NVML_ERROR_NOT_FOUND);
    CHECK(n == 0, "%u samples for an idle window", n);
    do_work(buf);
    uint64_t d3 = device_busy();
    n = MAX_SAMPLES;
    CHECK_RC(nvmlDeviceGetProcessUtilization(dev, s, &n, t2 + 3600ull * 1000000ull),
             NVML_ERROR_NOT_FOUND);
    CHECK(n == 0, "%u samples after a future timestamp", n);

    /* The size query and a short buffer answer the count and record nothing: the full read
     * from the same timestamp still covers the whole window. */
    n = 0;
    CHECK_RC(nvmlDeviceGetProcessUtilization(dev, NULL, &n, t2), NVML_ERROR_INSUFFICIENT_SIZE);
    CHECK(n == 1, "size query: %u", n);
    n = 0;
    CHECK_RC(nvmlDeviceGetProcessUtilization(dev, s, &n, t2), NVML_ERROR_INSUFFICIENT_SIZE);
    CHECK(n == 1, "short buffer: %u", n);
    n = 1;
    REQUIRE_OK(nvmlDeviceGetProcessUtilization(dev, s, &n, t2));
    check_share("after the size query", find(s, n, getpid()), t2, d3 - d2);
    unsigned long long t3 = s[0].timeStamp;

    /* A timestamp between two readings: from the newest reading at or before it. */
    n = MAX_SAMPLES;
    REQUIRE_OK(nvmlDeviceGetProcessUtilization(dev, s, &n, t2 + 1));
    check_share("from between two readings", find(s, n, getpid()), t2, d3 - d2);

    /* Two processes, one after the other: two samples, each with its own engine time. */
    uint64_t d4 = device_busy();
    worker_work(&child);
    uint64_t d5 = device_busy();
    do_work(buf);
    uint64_t d6 = device_busy();
    n = MAX_SAMPLES;
    REQUIRE_OK(nvmlDeviceGetProcessUtilization(dev, s, &n, t3));
    CHECK(n == 2, "%u samples for two busy processes", n);
    CHECK(d4 == d3, "engine time %llu ns between readings with nothing running",
          (unsigned long long)(d4 - d3));
    check_share("this process beside the worker", find(s, n, getpid()), t3, d6 - d5);
    check_share("the worker", find(s, n, child.pid), t3, d5 - d4);
    unsigned long long t4 = s[0].timeStamp;

    /* The worker is alive but idle: no sample for it. */
    do_work(buf);
    n = MAX_SAMPLES;
    REQUIRE_OK(nvmlDeviceGetProcessUtilization(dev, s, &n, t4));
    CHECK(n == 1 && find(s, n, getpid()), "%u samples with the worker idle", n);
    unsigned long long t5 = s[0].timeStamp;

    /* A dead process has no sample, whatever it ran in the window (as it is no longer listed
     * as a running process). */
    worker_work(&child);
    worker_kill(&child);
    n = MAX_SAMPLES;
    CHECK_RC(nvmlDeviceGetProcessUtilization(dev, s, &n, t5), NVML_ERROR_NOT_FOUND);
    CHECK(n == 0, "%u samples after the worker died", n);

    /* 0 again: still since nvmlInit, however many readings were made since. */
    n = MAX_SAMPLES;
    REQUIRE_OK(nvmlDeviceGetProcessUtilization(dev, s, &n, 0));
    CHECK(n == 1 && find(s, n, getpid()) && s[0].smUtil > 0, "%u samples since init", n);

    CHECK_OK(cuMemFree(buf));
    CHECK_OK(nvmlShutdown());
    n = MAX_SAMPLES;
    CHECK_RC(nvmlDeviceGetProcessUtilization(dev, s, &n, 0), NVML_ERROR_UNINITIALIZED);
    sim_instance_detach(ref);
    return check_done(shim ? "nvml-procutil-shim" : "nvml-procutil");
}
