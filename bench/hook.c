/*
 * bench/hook: what the hook (build/lib/hook/libcuda.so.1) costs and how well the local vGPU's
 * limits hold, against the bare simulated driver (build/lib/sim/libcuda.so.1) in the same run.
 *
 *   1. overhead: a non-allocating call (cuCtxGetDevice) N times through the sim and through the
 *      hook, both loaded in this process with dlopen (the hook's GPOOL_REAL_DRIVER names the same
 *      file, so both reach the one loaded sim), in ns per call; and a launch-bound loop (tiny
 *      kernel launches + one sync) through each, as a ratio;
 *   2. compute share: two vGPUs at 25/75 and at 25/unlimited, one child process each spinning
 *      kernels through the hook; each vGPU's share = GPU time charged in its ledger / wall time;
 *   3. limit change to effect: a child throttled at 1%; this process raises the share to 100%
 *      (ledger_set_limits) and times the next charged launch; lowers it back and times the next
 *      throttled launch (the ledger's counters);
 *   4. reclaim after SIGKILL: a child holds a 64 MiB vGPU's whole cap; it is killed and a second
 *      child's cuMemAlloc of the same size is timed from the kill to its success.
 *
 * Children are this program run again ("child ..." arguments) with the vGPU's environment; they
 * load only the hook. Prints figures; never fails on a timing. Never run by the tests; see
 * bench/README.md.
 *
 * Usage: hook [seconds [calls]]   (share window per split, default 4; calls for part 1,
 *                                  default 10000000)
 */
#include <cuda.h>

#include "gpool/ledger.h"

#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef HOOK_LIB
#error "HOOK_LIB must name build/lib/hook/libcuda.so.1"
#endif
#ifndef SIM_LIB
#error "SIM_LIB must name build/lib/sim/libcuda.so.1"
#endif

#define SPIN_ITERS 20000u
#define VRAM_CAP (64ull << 20)
#define READY_FD 3
#define GO_FD 4

/* A thread counting to n: a kernel that takes measurable time on the simulator. */
static const char spin_ptx[] =
    ".version 7.0\n.target sm_80\n.address_size 64\n"
    ".visible .entry spin(.param .u64 out, .param .u32 n)\n{\n"
    "  .reg .u32 %r<4>;\n  .reg .u64 %rd<3>;\n  .reg .pred %p;\n"
    "  ld.param.u64 %rd1, [out];\n  ld.param.u32 %r1, [n];\n"
    "  mov.u32 %r2, 0;\n  mov.u32 %r3, 0;\n"
    "LOOP:\n  setp.ge.u32 %p, %r2, %r1;\n  @%p bra DONE;\n"
    "  add.u32 %r3, %r3, %r2;\n  add.u32 %r2, %r2, 1;\n  bra LOOP;\n"
    "DONE:\n  cvta.to.global.u64 %rd2, %rd1;\n  st.global.u32 [%rd2], %r3;\n  ret;\n}\n"
    ".visible .entry empty()\n{\n  ret;\n}\n";

/* The entry points this program calls, from one library. */
struct drv {
    const char *what;
    void *handle;
    CUresult (*Init)(unsigned int);
    CUresult (*DeviceGet)(CUdevice *, int);
    CUresult (*PrimaryCtxRetain)(CUcontext *, CUdevice);
    CUresult (*CtxSetCurrent)(CUcontext);
    CUresult (*CtxGetDevice)(CUdevice *);
    CUresult (*CtxSynchronize)(void);
    CUresult (*ModuleLoadData)(CUmodule *, const void *);
    CUresult (*ModuleGetFunction)(CUfunction *, CUmodule, const char *);
    CUresult (*MemAlloc)(CUdeviceptr *, size_t);
    CUresult (*MemFree)(CUdeviceptr);
    CUresult (*LaunchKernel)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned,
                             unsigned, unsigned, CUstream, void **, void **);
};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void die(const char *what, long v)
{
    fprintf(stderr, "hook bench: %s: %ld\n", what, v);
    exit(1);
}

static void *sym(void *h, const char *name)
{
    void *p = dlsym(h, name);
    if (!p) {
        fprintf(stderr, "hook bench: dlsym %s: %s\n", name, dlerror());
        exit(1);
    }
    return p;
}

/* Loads `path` with RTLD_LOCAL and resolves the entries; exits on failure. */
static void drv_load(struct drv *d, const char *what, const char *path)
{
    memset(d, 0, sizeof(*d));
    d->what = what;
    d->handle = dlopen(path, RTLD_LOCAL | RTLD_NOW);
    if (!d->handle) {
        fprintf(stderr, "hook bench: dlopen %s: %s\n", path, dlerror());
        exit(1);
    }
    *(void **)&d->Init = sym(d->handle, "cuInit");
    *(void **)&d->DeviceGet = sym(d->handle, "cuDeviceGet");
    *(void **)&d->PrimaryCtxRetain = sym(d->handle, "cuDevicePrimaryCtxRetain");
    *(void **)&d->CtxSetCurrent = sym(d->handle, "cuCtxSetCurrent");
    *(void **)&d->CtxGetDevice = sym(d->handle, "cuCtxGetDevice");
    *(void **)&d->CtxSynchronize = sym(d->handle, "cuCtxSynchronize");
    *(void **)&d->ModuleLoadData = sym(d->handle, "cuModuleLoadData");
    *(void **)&d->ModuleGetFunction = sym(d->handle, "cuModuleGetFunction");
    *(void **)&d->MemAlloc = sym(d->handle, "cuMemAlloc_v2");
    *(void **)&d->MemFree = sym(d->handle, "cuMemFree_v2");
    *(void **)&d->LaunchKernel = sym(d->handle, "cuLaunchKernel");
}

#define OK(call)                                                                                  \
    do {                                                                                          \
        CUresult r_ = (call);                                                                     \
        if (r_ != CUDA_SUCCESS)                                                                   \
            die(#call, (long)r_);                                                                 \
    } while (0)

static CUfunction spin_fn, empty_fn;
static CUdeviceptr spin_out;
static unsigned int spin_iters = SPIN_ITERS;
static void *spin_args[] = {&spin_out, &spin_iters};

/* cuInit, primary context current, the module loaded, 4 bytes for the spin kernel. */
static void cuda_setup(const struct drv *d)
{
    CUdevice dev;
    CUcontext ctx;
    CUmodule mod;
    OK(d->Init(0));
    OK(d->DeviceGet(&dev, 0));
    OK(d->PrimaryCtxRetain(&ctx, dev));
    OK(d->CtxSetCurrent(ctx));
    OK(d->ModuleLoadData(&mod, spin_ptx));
    OK(d->ModuleGetFunction(&spin_fn, mod, "spin"));
    OK(d->ModuleGetFunction(&empty_fn, mod, "empty"));
}

static void say(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(int fd, const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (write(fd, buf, (size_t)n) != n)
        exit(1);
}

/* ---- children ---- */

/* child spin SECONDS: launch the spin kernel and synchronize until the time is up. */
static int child_spin(double seconds)
{
    struct drv d;
    drv_load(&d, "hook", HOOK_LIB);
    cuda_setup(&d);
    OK(d.MemAlloc(&spin_out, 4));
    OK(d.LaunchKernel(spin_fn, 1, 1, 1, 1, 1, 1, 0, NULL, spin_args, NULL));
    OK(d.CtxSynchronize());
    say(READY_FD, "ready\n");
    double start = now(), end = start + seconds, busy = 0;
    long n = 0;
    while (now() < end) {
        OK(d.LaunchKernel(spin_fn, 1, 1, 1, 1, 1, 1, 0, NULL, spin_args, NULL));
        double t0 = now(); /* the throttle waits in the launch; the kernel runs in the sync */
        OK(d.CtxSynchronize());
        busy += now() - t0;
        n++;
    }
    say(READY_FD, "done %ld %.6f %.6f\n", n, busy, now() - start);
    return 0;
}

/* child hold: take the vGPU's whole cap and wait to be killed. */
static _Noreturn void child_hold(void)
{
    struct drv d;
    CUdeviceptr p;
    drv_load(&d, "hook", HOOK_LIB);
    cuda_setup(&d);
    double t0 = now();
    OK(d.MemAlloc(&p, VRAM_CAP));
    say(READY_FD, "ready %.0f\n", (now() - t0) * 1e9);
    for (;;)
        pause();
}

/* child alloc: on the go byte, allocate the whole cap until it succeeds; reports the monotonic
 * time of success, the refusals before it and the duration of the successful call. */
static int child_alloc(void)
{
    struct drv d;
    CUdeviceptr p;
    char go;
    drv_load(&d, "hook", HOOK_LIB);
    cuda_setup(&d);
    say(READY_FD, "ready\n");
    if (read(GO_FD, &go, 1) != 1)
        return 1;
    long refused = 0;
    double t0, t1;
    for (;;) {
        t0 = now();
        CUresult r = d.MemAlloc(&p, VRAM_CAP);
        t1 = now();
        if (r == CUDA_SUCCESS)
            break;
        if (r != CUDA_ERROR_OUT_OF_MEMORY || ++refused > 10000000)
            die("alloc after kill", (long)r);
    }
    say(READY_FD, "ok %.9f %ld %.0f\n", t1, refused, (t1 - t0) * 1e9);
    OK(d.MemFree(p));
    return 0;
}

/* ---- the parent's helpers ---- */

struct child {
    pid_t pid;
    int rd; /* its READY_FD */
    int go; /* its GO_FD, or -1 */
};

static const char *vgpu_dir;
static char self_exe[4096];

/* Runs this program as `child <mode> [arg]` in vGPU `vgpu` (NULL: none). */
static struct child spawn(const char *vgpu, const char *mode, const char *arg, int with_go)
{
    int rp[2], gp[2] = {-1, -1};
    if (pipe(rp) < 0 || (with_go && pipe(gp) < 0))
        die("pipe", errno);
    struct child c = {fork(), rp[0], gp[1]};
    if (c.pid < 0)
        die("fork", errno);
    if (c.pid == 0) {
        dup2(rp[1], READY_FD);
        if (with_go)
            dup2(gp[0], GO_FD);
        if (vgpu) {
            setenv("GPOOL_VGPU", vgpu, 1);
            setenv("GPOOL_VGPU_DIR", vgpu_dir, 1);
        }
        execl(self_exe, self_exe, "child", mode, arg, (char *)NULL);
        _exit(127);
    }
    close(rp[1]);
    if (with_go)
        close(gp[0]);
    return c;
}

/* Reads one line from the child (10 s at most); exits when none comes. */
static void child_line(struct child *c, char *buf, size_t len)
{
    size_t n = 0;
    while (n + 1 < len) {
        struct pollfd pfd = {c->rd, POLLIN, 0};
        if (poll(&pfd, 1, 30000) <= 0 || read(c->rd, buf + n, 1) != 1)
            die("child did not answer", c->pid);
        if (buf[n++] == '\n')
            break;
    }
    buf[n] = '\0';
}

static void child_end(struct child *c, int sig)
{
    if (sig)
        kill(c->pid, sig);
    waitpid(c->pid, NULL, 0);
    close(c->rd);
    if (c->go >= 0)
        close(c->go);
}

/* Creates (or replaces) the ledger of vGPU `name` with these limits; caller closes it. */
static struct ledger *vgpu_create(const char *name, uint64_t vram, uint32_t pct)
{
    char path[4096], err[256] = "";
    struct ledger *l = NULL;
    struct ledger_limits lim = {.vram_bytes = vram, .compute_pct = pct, .ndev = 1};
    snprintf(path, sizeof(path), "%s/gpool-vgpu-%s", vgpu_dir, name);
    unlink(path);
    int rc = ledger_open(vgpu_dir, name, &lim, &l, err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, "hook bench: ledger_open %s: %d %s\n", name, rc, err);
        exit(1);
    }
    return l;
}

static struct ledger_stats stats(struct ledger *l)
{
    struct ledger_stats s;
    memset(&s, 0, sizeof(s));
    ledger_get_stats(l, &s);
    return s;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* ---- 1. overhead ---- */

static double ns_per_get(const struct drv *d, long n)
{
    CUdevice dev;
    double t0 = now();
    for (long i = 0; i < n; i++)
        d->CtxGetDevice(&dev);
    return (now() - t0) * 1e9 / (double)n;
}

static double launch_loop(const struct drv *d, int n)
{
    double t0 = now();
    for (int i = 0; i < n; i++)
        OK(d->LaunchKernel(empty_fn, 1, 1, 1, 1, 1, 1, 0, NULL, NULL, NULL));
    OK(d->CtxSynchronize());
    return now() - t0;
}

static void bench_overhead(long calls)
{
    struct drv sim, hook;
    enum { ROUNDS = 5 };
    double s[ROUNDS], h[ROUNDS];
    drv_load(&sim, "sim", SIM_LIB);
    drv_load(&hook, "hook", HOOK_LIB);
    cuda_setup(&sim);
    CUdevice dev;
    OK(hook.CtxGetDevice(&dev)); /* loads the real driver into the hook */

    printf("1. overhead (%d alternating rounds each, median)\n", ROUNDS);
    ns_per_get(&sim, calls / 10);
    ns_per_get(&hook, calls / 10);
    for (int r = 0; r < ROUNDS; r++) {
        s[r] = ns_per_get(&sim, calls);
        h[r] = ns_per_get(&hook, calls);
    }
    double ms = median(s, ROUNDS), mh = median(h, ROUNDS);
    printf("   cuCtxGetDevice x %ld: sim %.1f ns/call, hook %.1f ns/call, overhead %.1f ns "
           "(goal <= 30)\n",
           calls, ms, mh, mh - ms);

    /* As many launches as the sim runs in about 0.5 s. */
    double t = launch_loop(&sim, 200);
    int n = (int)(0.5 / (t / 200));
    if (n < 1000)
        n = 1000;
    launch_loop(&hook, n / 10);
    for (int r = 0; r < ROUNDS; r++) {
        s[r] = launch_loop(&sim, n);
        h[r] = launch_loop(&hook, n);
    }
    ms = median(s, ROUNDS);
    mh = median(h, ROUNDS);
    printf("   launch loop (%d empty-kernel launches + sync): sim %.3f s (%.2f us/launch), "
           "hook %.3f s (%.2f us/launch), hook/sim %.3f = %+.2f%% (goal <= 2%%)\n",
           n, ms, ms * 1e6 / n, mh, mh * 1e6 / n, mh / ms, (mh / ms - 1) * 100);
}

/* ---- 2. compute share ---- */

static void bench_share(const char *tag, uint32_t pa, uint32_t pb, double seconds)
{
    char na[64], nb[64], secs[32], line[128];
    snprintf(na, sizeof(na), "bench-hook-%d-%s-a", (int)getpid(), tag);
    snprintf(nb, sizeof(nb), "bench-hook-%d-%s-b", (int)getpid(), tag);
    snprintf(secs, sizeof(secs), "%.3f", seconds + 2);
    struct ledger *la = vgpu_create(na, 0, pa), *lb = vgpu_create(nb, 0, pb);
    struct child ca = spawn(na, "spin", secs, 0), cb = spawn(nb, "spin", secs, 0);
    child_line(&ca, line, sizeof(line));
    child_line(&cb, line, sizeof(line));
    usleep(200000); /* past the first launches' burst */
    struct ledger_stats a0 = stats(la), b0 = stats(lb);
    double t0 = now();
    usleep((useconds_t)(seconds * 1e6));
    struct ledger_stats a1 = stats(la), b1 = stats(lb);
    double wall = now() - t0;
    /* The child's own view: time spent in the sync (the kernel) over its whole run (a vGPU at 100%
     * is not charged in its ledger, so this is the only figure for "unlimited"). */
    long na_ = 0, nb_ = 0;
    double busy_a = 0, busy_b = 0, run_a = 1, run_b = 1;
    child_line(&ca, line, sizeof(line));
    sscanf(line, "done %ld %lf %lf", &na_, &busy_a, &run_a);
    child_line(&cb, line, sizeof(line));
    sscanf(line, "done %ld %lf %lf", &nb_, &busy_b, &run_b);
    child_end(&ca, 0);
    child_end(&cb, 0);
    double sa = (double)(a1.gpu_ns_charged - a0.gpu_ns_charged) / (wall * 1e9) * 100;
    double sb = (double)(b1.gpu_ns_charged - b0.gpu_ns_charged) / (wall * 1e9) * 100;
    uint64_t ka = a1.launches_charged - a0.launches_charged;
    uint64_t kb = b1.launches_charged - b0.launches_charged;
    char tb[48] = "none";
    if (pb < 100)
        snprintf(tb, sizeof(tb), "%u, %+.1f pts", pb, sb - pb);
    printf("   %u/%s over %.2f s: A %.1f%% (target %u, %+.1f pts; %" PRIu64 " launches, %.2f ms "
           "each, %" PRIu64 " throttled), B %.1f%% (target %s; %" PRIu64 " launches, %.2f ms "
           "each, %" PRIu64 " throttled)\n",
           pa, pb < 100 ? "75" : "unlimited", wall, sa, pa, sa - pa, ka,
           ka ? (double)(a1.gpu_ns_charged - a0.gpu_ns_charged) / (double)ka / 1e6 : 0.0,
           a1.launches_throttled - a0.launches_throttled, sb, tb, kb,
           kb ? (double)(b1.gpu_ns_charged - b0.gpu_ns_charged) / (double)kb / 1e6 : 0.0,
           b1.launches_throttled - b0.launches_throttled);
    printf("       child-measured busy share (sync time / run, %.1f s): A %.1f%% (%ld "
           "kernels), B %.1f%% (%ld kernels)\n",
           run_a, busy_a / run_a * 100, na_, busy_b / run_b * 100, nb_);
    ledger_close(la);
    ledger_close(lb);
}

/* ---- 3. limit change to effect ---- */

/* Polls until `field` of the stats passes `from`; seconds since t0, or -1 after 5 s. */
static double until_counter(struct ledger *l, int throttled, uint64_t from, double t0)
{
    while (now() - t0 < 5) {
        struct ledger_stats s = stats(l);
        if ((throttled ? s.launches_throttled : s.launches_charged) > from)
            return now() - t0;
        usleep(20);
    }
    return -1;
}

static void bench_change(void)
{
    char name[64], line[128];
    enum { REPS = 5 };
    double up[REPS], down[REPS];
    snprintf(name, sizeof(name), "bench-hook-%d-change", (int)getpid());
    struct ledger *l = vgpu_create(name, 0, 1);
    struct child c = spawn(name, "spin", "60", 0);
    child_line(&c, line, sizeof(line));
    struct ledger_limits lim = {.vram_bytes = 0, .compute_pct = 1};
    for (int r = 0; r < REPS; r++) {
        usleep(300000); /* throttled at 1% by now */
        uint64_t charged = stats(l).launches_charged;
        double t0 = now();
        lim.compute_pct = 100;
        ledger_set_limits(l, &lim, NULL);
        up[r] = until_counter(l, 0, charged, t0);
        usleep(100000);
        uint64_t throttled = stats(l).launches_throttled;
        t0 = now();
        lim.compute_pct = 1;
        ledger_set_limits(l, &lim, NULL);
        down[r] = until_counter(l, 1, throttled, t0);
    }
    child_end(&c, SIGKILL);
    ledger_close(l);
    printf("3. limit change -> effect (%d changes each way, median; a spin launch is the unit)\n",
           REPS);
    /* median() sorts, so it runs before the extremes are read. */
    double up_med = median(up, REPS), down_med = median(down, REPS);
    printf("   1%% -> 100%%: next charged launch after %.2f ms (min %.2f, max %.2f)\n",
           up_med * 1e3, up[0] * 1e3, up[REPS - 1] * 1e3);
    printf("   100%% -> 1%%: next throttled launch after %.2f ms (min %.2f, max %.2f)\n",
           down_med * 1e3, down[0] * 1e3, down[REPS - 1] * 1e3);
}

/* ---- 4. reclaim after SIGKILL ---- */

static void bench_reclaim(void)
{
    char name[64], line[128];
    enum { REPS = 5 };
    double total[REPS], call[REPS], plain[REPS];
    long refused_sum = 0;
    snprintf(name, sizeof(name), "bench-hook-%d-reclaim", (int)getpid());
    struct ledger *l = vgpu_create(name, VRAM_CAP, 100);
    for (int r = 0; r < REPS; r++) {
        /* A fresh simulator instance per run: the killed holder's context is the sim's
         * business, not the ledger's. */
        char inst[96];
        snprintf(inst, sizeof(inst), "bench-hook-%d-reclaim-%d", (int)getpid(), r);
        setenv("GPOOL_SIM_INSTANCE", inst, 1);
        struct child h = spawn(name, "hold", NULL, 0);
        child_line(&h, line, sizeof(line));
        plain[r] = strtod(line + 6, NULL);
        struct child a = spawn(name, "alloc", NULL, 1);
        child_line(&a, line, sizeof(line));
        double tk = now();
        kill(h.pid, SIGKILL);
        if (write(a.go, "g", 1) != 1)
            die("go", errno);
        child_line(&a, line, sizeof(line));
        double t_ok = 0, ns = 0;
        long refused = 0;
        sscanf(line, "ok %lf %ld %lf", &t_ok, &refused, &ns);
        total[r] = t_ok - tk;
        call[r] = ns;
        refused_sum += refused;
        child_end(&a, 0);
        child_end(&h, 0);
    }
    ledger_close(l);
    printf("4. reclaim after SIGKILL (64 MiB cap held by a killed process; %d runs, median)\n",
           REPS);
    double total_med = median(total, REPS); /* sorts total[] before its extremes are read */
    printf("   kill -> next 64 MiB cuMemAlloc succeeds: %.3f ms (min %.3f, max %.3f; %ld "
           "refusals in all before success)\n",
           total_med * 1e3, total[0] * 1e3, total[REPS - 1] * 1e3, refused_sum);
    printf("   the successful call (reaps the dead slot): %.1f us; the same alloc with nothing "
           "to reap: %.1f us\n",
           median(call, REPS) / 1e3, median(plain, REPS) / 1e3);
}

int main(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[1], "child") == 0) {
        if (strcmp(argv[2], "spin") == 0 && argc == 4)
            return child_spin(strtod(argv[3], NULL));
        if (strcmp(argv[2], "hold") == 0)
            child_hold();
        if (strcmp(argv[2], "alloc") == 0)
            return child_alloc();
        return 2;
    }
    double seconds = argc > 1 ? strtod(argv[1], NULL) : 4;
    long calls = argc > 2 ? strtol(argv[2], NULL, 10) : 10000000;
    if (seconds <= 0 || calls <= 0) {
        fprintf(stderr, "usage: hook [seconds [calls]]\n");
        return 2;
    }
    ssize_t n = readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1);
    if (n <= 0)
        die("readlink /proc/self/exe", errno);
    self_exe[n] = '\0';

    /* A private simulator instance and ledger directory; no vGPU for this process's hook. */
    static char dir[] = "/tmp/gpool-bench-hook-XXXXXX";
    if (!mkdtemp(dir))
        die("mkdtemp", errno);
    vgpu_dir = dir;
    char inst[64];
    snprintf(inst, sizeof(inst), "bench-hook-%d", (int)getpid());
    setenv("GPOOL_SIM_DIR", dir, 1);
    setenv("GPOOL_SIM_INSTANCE", inst, 1);
    setenv("GPOOL_SIM_GPUS", "H100-80GB", 1);
    setenv("GPOOL_REAL_DRIVER", SIM_LIB, 1);
    unsetenv("GPOOL_VGPU");
    unsetenv("GPOOL_VRAM_LIMIT");
    unsetenv("GPOOL_COMPUTE_LIMIT");
    unsetenv("GPOOL_TFLOPS_LIMIT");
    unsetenv("GPOOL_HOOK_TRACE");
    /* The bench caps VRAM for its own allocations only, not the context overhead. */
    setenv("GPOOL_VRAM_OVERHEAD", "0", 1);
    setvbuf(stdout, NULL, _IOLBF, 0);

    bench_overhead(calls);
    printf("2. compute share (GPU time charged in each vGPU's ledger / wall time; one spinning "
           "process per vGPU)\n");
    bench_share("2575", 25, 75, seconds);
    bench_share("25u", 25, 100, seconds);
    bench_change();
    bench_reclaim();
    printf("(simulator instance and ledgers in %s)\n", dir);
    return 0;
}
