/*
 * The compute share and the VRAM cap of one process share one ledger handle: the hook holds one
 * slot of the vGPU's ledger per process, and both limits' charges land there. Run as
 * `test_hook_compute_accuracy <mode>`; GPOOL_VGPU, GPOOL_COMPUTE_LIMIT (50%), GPOOL_VRAM_LIMIT
 * (64Mi) and GPOOL_VGPU_DIR come from the test's environment. Counters only, never timings.
 *
 *   one-slot  after allocations (vram.c) and limited launches (compute.c), the ledger lists this
 *             process twice: the hook's one slot, holding the allocation, and this test's own
 *             handle; every launch is charged; ledger_check passes
 */
#include "hook_test.h"

#include <stdint.h>
#include <string.h>
#include <unistd.h>

#define MIB      (1024ull * 1024ull)
#define LAUNCHES 6

static void test_one_slot(void)
{
    CUdeviceptr out;
    unsigned int iters = 2000;
    void *args[] = {&out, &iters};
    init_cuda();
    CUfunction spin = load_spin();
    REQUIRE_OK(cuMemAlloc(&out, MIB));

    for (int i = 0; i < LAUNCHES; i++) {
        CHECK_OK(cuLaunchKernel(spin, 1, 1, 1, 1, 1, 1, 0, NULL, args, NULL));
        CHECK_OK(cuCtxSynchronize());
    }
    /* Samples are collected at a later launch: this one flushes those above. */
    CHECK_OK(cuLaunchKernel(spin, 1, 1, 1, 1, 1, 1, 0, NULL, args, NULL));
    CHECK_OK(cuCtxSynchronize());

    struct ledger *l = open_ledger();
    struct ledger_limits lim;
    REQUIRE_OK(ledger_get_limits(l, &lim));
    REQUIRE(lim.compute_pct == 50 && lim.vram_bytes == 64 * MIB, "limits %u%%, %llu bytes",
            lim.compute_pct, (unsigned long long)lim.vram_bytes);

    struct ledger_stats s = vgpu_stats(l);
    CHECK(s.launches_charged >= LAUNCHES && s.launches_charged <= LAUNCHES + 1,
          "%d launches, %llu charged", LAUNCHES + 1, (unsigned long long)s.launches_charged);
    CHECK(s.gpu_ns_charged > 0, "no GPU time charged");

    /* This process: the hook's slot (the allocation) and this test's own, nothing more. */
    struct ledger_proc procs[16];
    int n = ledger_processes(l, procs, 16);
    REQUIRE(n > 0 && n <= 16, "ledger_processes: %d", n);
    int mine = 0, holding = 0;
    for (int i = 0; i < n; i++) {
        if (procs[i].pid != (int32_t)getpid())
            continue;
        mine++;
        if (procs[i].used[0] == MIB)
            holding++;
        else
            CHECK(procs[i].used[0] == 0, "a slot of this process holds %llu bytes",
                  (unsigned long long)procs[i].used[0]);
    }
    CHECK(mine == 2, "this process holds %d slots (the hook's one and the test's expected)", mine);
    CHECK(holding == 1, "%d slots hold the 1 MiB allocation", holding);

    check_ledger(l);
    ledger_close(l);
    CHECK_OK(cuMemFree(out));
}

int main(int argc, char **argv)
{
    REQUIRE(argc == 2, "usage: test_hook_compute_accuracy one-slot");
    alarm(100); /* a hang guard only */
    /* Start from no ledger: the hook creates it in cuInit with the environment's limits. */
    remove_ledger();
    if (strcmp(argv[1], "one-slot") == 0)
        test_one_slot();
    else
        REQUIRE(0, "unknown mode '%s'", argv[1]);
    return check_done(argv[1]);
}
