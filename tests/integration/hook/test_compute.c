/*
 * The local vGPU's compute share through the hook, over the simulated GPU. Run as
 * `test_hook_compute <mode>`; GPOOL_VGPU, GPOOL_COMPUTE_LIMIT (1%, calibrate: 10%) and
 * GPOOL_VGPU_DIR come from the test's environment. Nothing here depends on timings: the test
 * asserts what the ledger counted (launches charged and throttled, the limits' generation); alarm()
 * only guards hangs.
 *
 *   throttle  N launches through every launch path are each charged once, and the tiny share
 *             throttles at least one of them
 *   raise     another process raises the share to 100% with ledger_set_limits: the running
 *             process follows the new generation and is throttled no more
 *   devices   the share holds per device (two devices)
 *   calibrate the charges are reconciled with the device's own figure (NVML per-process
 *             utilisation) while launches go on; with GPOOL_COMPUTE_CALIBRATE=0, or without a
 *             usable NVML (mode calibrate-off), they are not, and every launch is still charged
 */
#include "hook_test.h"

#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define SPIN_ITERS 2000u

static CUfunction spin;
static CUdeviceptr out;
static unsigned int iters = SPIN_ITERS;
static void *spin_args[] = {&out, &iters};

/* Device 0's primary context, current, with spin loaded and its output allocated. */
static void init_spin(void)
{
    init_cuda();
    spin = load_spin();
    REQUIRE_OK(cuMemAlloc(&out, 4));
}

static void launch_plain(void)
{
    CHECK_OK(cuLaunchKernel(spin, 1, 1, 1, 1, 1, 1, 0, NULL, spin_args, NULL));
}

/* One launch through each path the table tags LAUNCHES and this file can reach simply;
 * returns how many launches it made. */
static int launch_every_path(CUstream stream, CUgraphExec exec)
{
    int n = 0;
    launch_plain();
    n++;
    CHECK_OK(cuLaunchKernel(spin, 1, 1, 1, 1, 1, 1, 0, stream, spin_args, NULL));
    n++;
    CUlaunchConfig cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.gridDimX = cfg.gridDimY = cfg.gridDimZ = 1;
    cfg.blockDimX = cfg.blockDimY = cfg.blockDimZ = 1;
    cfg.hStream = stream;
    CHECK_OK(cuLaunchKernelEx(&cfg, spin, spin_args, NULL));
    n++;
    CHECK_OK(cuLaunchCooperativeKernel(spin, 1, 1, 1, 1, 1, 1, 0, stream, spin_args));
    n++;
    CHECK_OK(cuGraphLaunch(exec, stream));
    n++;
    /* The per-thread-default-stream variant, as a program built with --default-stream
     * per-thread reaches it. */
    void *fn = NULL;
    CUdriverProcAddressQueryResult q;
    CHECK_OK(cuGetProcAddress_v2("cuLaunchKernel", &fn, 12000,
                                 CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM, &q));
    if (fn) {
        CUresult (*ptsz)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned,
                         unsigned, CUstream, void **, void **) = fn;
        CHECK_OK(ptsz(spin, 1, 1, 1, 1, 1, 1, 0, NULL, spin_args, NULL));
        n++;
    }
    return n;
}

static CUgraphExec make_graph(void)
{
    CUgraph g;
    CUgraphNode node;
    CUgraphExec exec;
    CUDA_KERNEL_NODE_PARAMS p;
    memset(&p, 0, sizeof(p));
    p.func = spin;
    p.gridDimX = p.gridDimY = p.gridDimZ = 1;
    p.blockDimX = p.blockDimY = p.blockDimZ = 1;
    p.kernelParams = spin_args;
    REQUIRE_OK(cuGraphCreate(&g, 0));
    REQUIRE_OK(cuGraphAddKernelNode(&node, g, NULL, 0, &p));
    REQUIRE_OK(cuGraphInstantiate(&exec, g, 0));
    return exec;
}

static void test_throttle(void)
{
    init_spin();
    struct ledger *l = open_ledger();
    CUstream stream;
    REQUIRE_OK(cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING));
    CUgraphExec exec = make_graph();
    struct ledger_stats s0 = vgpu_stats(l);

    int n = 0;
    for (int round = 0; round < 3; round++) {
        n += launch_every_path(stream, exec);
        CHECK_OK(cuCtxSynchronize());
    }
    /* Samples are collected at the next launch: this one flushes the rounds above (itself may
     * stay uncollected). */
    launch_plain();
    CHECK_OK(cuCtxSynchronize());
    struct ledger_stats s1 = vgpu_stats(l);
    uint64_t charged = s1.launches_charged - s0.launches_charged;
    CHECK(charged >= (uint64_t)n && charged <= (uint64_t)n + 1, "%d launches, %llu charged", n,
          (unsigned long long)charged);
    CHECK(s1.launches_throttled - s0.launches_throttled >= 1, "throttled %llu",
          (unsigned long long)(s1.launches_throttled - s0.launches_throttled));
    CHECK(s1.gpu_ns_charged > s0.gpu_ns_charged, "no GPU time charged");
    ledger_close(l);
}

static void test_raise(void)
{
    init_spin();
    struct ledger *l = open_ledger();
    struct ledger_limits lim;
    REQUIRE_OK(ledger_get_limits(l, &lim));
    REQUIRE(lim.compute_pct == 1, "share %u%%", lim.compute_pct);

    /* Throttled at 1%: launch (synchronising, so each charge lands) until the ledger says so. */
    while (vgpu_stats(l).launches_throttled == 0) {
        launch_plain();
        CHECK_OK(cuCtxSynchronize());
    }

    pid_t pid = fork();
    REQUIRE(pid >= 0, "fork");
    if (pid == 0) {
        struct ledger *cl = NULL;
        char err[256] = "";
        if (ledger_open(NULL, getenv("GPOOL_VGPU"), NULL, &cl, err, sizeof(err)) < 0)
            _exit(2);
        struct ledger_limits up = lim;
        up.compute_pct = 100;
        uint64_t gen = 0;
        int rc = ledger_set_limits(cl, &up, &gen);
        ledger_close(cl);
        _exit(rc == 0 && gen == lim.generation + 1 ? 0 : 3);
    }
    int st = 0;
    REQUIRE(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0,
            "the other process could not raise the share (status %d)", st);

    struct ledger_limits now;
    CHECK_OK(ledger_get_limits(l, &now));
    CHECK(now.generation == lim.generation + 1 && now.compute_pct == 100, "generation %llu, %u%%",
          (unsigned long long)now.generation, now.compute_pct);
    struct ledger_stats s0 = vgpu_stats(l);
    for (int i = 0; i < 20; i++)
        launch_plain();
    CHECK_OK(cuCtxSynchronize());
    struct ledger_stats s1 = vgpu_stats(l);
    CHECK(s1.launches_throttled == s0.launches_throttled, "throttled %llu more at 100%%",
          (unsigned long long)(s1.launches_throttled - s0.launches_throttled));
    /* At most the launches still being measured when the share changed are charged after it. */
    CHECK(s1.launches_charged - s0.launches_charged <= 2, "charged %llu at 100%%",
          (unsigned long long)(s1.launches_charged - s0.launches_charged));
    ledger_close(l);
}

/* The share holds per device: device 0 deep in debt does not hold back device 1's launches,
 * whose own bucket then throttles them (GPOOL_SIM_GPUS has two devices). */
static void test_devices(void)
{
    init_spin(); /* device 0, current */
    struct ledger *l = open_ledger();
    for (int i = 0; i < 6; i++) {
        launch_plain();
        CHECK_OK(cuCtxSynchronize());
    }
    struct ledger_stats s0 = vgpu_stats(l);
    CHECK(s0.launches_throttled >= 1, "device 0 throttled (%llu)",
          (unsigned long long)s0.launches_throttled);

    CUdevice dev1;
    CUcontext ctx1;
    CUdeviceptr out1;
    REQUIRE_OK(cuDeviceGet(&dev1, 1));
    REQUIRE_OK(cuDevicePrimaryCtxRetain(&ctx1, dev1));
    REQUIRE_OK(cuCtxSetCurrent(ctx1));
    CUfunction spin1 = load_spin();
    REQUIRE_OK(cuMemAlloc(&out1, 4));
    void *args1[] = {&out1, &iters};
    /* Device 1's first launch finds its bucket in credit, whatever device 0 owes. */
    CHECK_OK(cuLaunchKernel(spin1, 1, 1, 1, 1, 1, 1, 0, NULL, args1, NULL));
    CHECK_OK(cuCtxSynchronize());
    struct ledger_stats s1 = vgpu_stats(l);
    CHECK(s1.launches_throttled == s0.launches_throttled,
          "device 1's first launch was held back by device 0's debt (%llu more throttled)",
          (unsigned long long)(s1.launches_throttled - s0.launches_throttled));
    /* Its own charges then put device 1 in debt: its launches are throttled in turn (the
     * bucket's credit is at most its burst, so this ends). */
    int n = 0;
    struct ledger_stats s2 = s1;
    while (s2.launches_throttled == s1.launches_throttled && n++ < 5000) {
        CHECK_OK(cuLaunchKernel(spin1, 1, 1, 1, 1, 1, 1, 0, NULL, args1, NULL));
        CHECK_OK(cuCtxSynchronize());
        s2 = vgpu_stats(l);
    }
    CHECK(s2.launches_throttled > s1.launches_throttled, "device 1 never throttled in %d launches",
          n);
    CHECK(s2.launches_charged > s1.launches_charged, "device 1's launches charged");
    ledger_close(l);
}

/* Launches (each waited for) until the ledger counts `want` reconciliations or `max` launches
 * were made; returns the ledger's figures then. */
static struct ledger_stats launch_until_adjusted(struct ledger *l, uint64_t want, int max)
{
    struct ledger_stats s = vgpu_stats(l);
    for (int i = 0; i < max && s.adjustments < want; i++) {
        launch_plain();
        CHECK_OK(cuCtxSynchronize());
        s = vgpu_stats(l);
    }
    return s;
}

static void test_calibrate(int expect_on)
{
    init_spin();
    struct ledger *l = open_ledger();
    /* Reconciliations come every 100 ms of launching; 3 need >= 200 ms. A 10% share makes each
     * launch wait about 10 times its kernel, so a few hundred launches are plenty. */
    struct ledger_stats s = launch_until_adjusted(l, expect_on ? 3 : 1, expect_on ? 2000 : 100);
    if (expect_on)
        CHECK(s.adjustments >= 3, "only %llu reconciliations with the device's figure",
              (unsigned long long)s.adjustments);
    else
        CHECK(s.adjustments == 0 && s.gpu_ns_adjusted == 0,
              "%llu reconciliations (%lld ns) though the device figure is off",
              (unsigned long long)s.adjustments, (long long)s.gpu_ns_adjusted);
    CHECK(s.launches_charged >= 1 && s.launches_throttled >= 1,
          "launches charged %llu, throttled %llu", (unsigned long long)s.launches_charged,
          (unsigned long long)s.launches_throttled);
    ledger_close(l);
}

int main(int argc, char **argv)
{
    REQUIRE(argc == 2, "usage: test_hook_compute throttle|raise|devices|calibrate|calibrate-off");
    alarm(100); /* a hang guard only */
    /* Start from no ledger: this process creates it with GPOOL_COMPUTE_LIMIT. */
    remove_ledger();
    if (strcmp(argv[1], "throttle") == 0)
        test_throttle();
    else if (strcmp(argv[1], "raise") == 0)
        test_raise();
    else if (strcmp(argv[1], "devices") == 0)
        test_devices();
    else if (strcmp(argv[1], "calibrate") == 0)
        test_calibrate(1);
    else if (strcmp(argv[1], "calibrate-off") == 0)
        test_calibrate(0);
    else
        REQUIRE(0, "unknown mode '%s'", argv[1]);
    return check_done(argv[1]);
}
