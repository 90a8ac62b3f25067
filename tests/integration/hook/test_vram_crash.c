/*
 * A process of a vGPU SIGKILLed at each failpoint of the allocate, free and attach paths —
 * inside the ledger's lock and between the ledger and the driver — over the simulated GPU.
 * After every kill the dead process's usage is reclaimed (by the next allocator that needs it,
 * or by ledger_reap as `gpool vgpu reap` does), the lock is recovered and the ledger repaired,
 * ledger_check passes, and the ledger equals what the device itself reports.
 *
 * Run as `test_hook_vram_crash` (the parent) with GPOOL_VGPU, GPOOL_VRAM_LIMIT (64Mi),
 * GPOOL_VGPU_DIR and GPOOL_VRAM_OVERHEAD=0 from the test's environment; the parent runs itself
 * again as `test_hook_vram_crash child` with GPOOL_FAILPOINTS set for each kill.
 */
#include "hook_test.h"

#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MIB      (1024ull * 1024ull)
#define CAP      (64 * MIB)
#define RESIDENT (16 * MIB) /* the parent's allocation, held across every kill */

/* What the vGPU charges on device 0, under the test's 64 MiB cap. */
static uint64_t vgpu_used(struct ledger *l)
{
    return vgpu_used_on(l, 0, CAP);
}

/* The invariant after every kill: the ledger is sound and charges what the device lost. */
static void check_agrees(struct ledger *l, uint64_t dev_base, const char *fp, const char *when)
{
    char err[256] = "";
    int rc = ledger_check(l, err, sizeof(err));
    CHECK(rc == 0, "%s, %s: ledger_check: %d %s", fp, when, rc, err);
    uint64_t used = vgpu_used(l), lost = dev_base - device_free();
    CHECK(used == lost, "%s, %s: the vGPU charges %llu bytes, the device lost %llu", fp, when,
          (unsigned long long)used, (unsigned long long)lost);
}

/* The child: attach, allocate twice, free once. The failpoint named by GPOOL_FAILPOINTS kills
 * it on the first path that reaches it; exit status 7 means none did. */
static int child(void)
{
    init_cuda();
    CUdeviceptr a, b;
    if (cuMemAlloc(&a, 8 * MIB) != CUDA_SUCCESS || cuMemAlloc(&b, 8 * MIB) != CUDA_SUCCESS)
        return 2;
    (void)cuMemFree(a);
    return 7;
}

/* Runs this program again as the child, killed at failpoint fp. */
static void kill_child_at(const char *fp)
{
    pid_t pid = fork();
    REQUIRE(pid >= 0, "fork");
    if (pid == 0) {
        char spec[128];
        snprintf(spec, sizeof(spec), "%s=crash", fp);
        setenv("GPOOL_FAILPOINTS", spec, 1);
        execl("/proc/self/exe", "test_hook_vram_crash", "child", (char *)NULL);
        _exit(126);
    }
    int st = 0;
    CHECK(waitpid(pid, &st, 0) == pid && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
          "child killed at %s (status %#x)", fp, st);
}

static void test_crashes(void)
{
    /* Failpoints on the child's way: attach (cuInit), allocate (reserve, commit, between the
     * driver and the commit), free (between the driver and the credit, inside the credit). */
    static const struct {
        const char *name;
        int in_lock; /* the child dies holding the ledger's lock: the next locker repairs */
    } fps[] = {
        {"ledger.attach.claimed", 1}, {"ledger.reserve.locked", 1}, {"ledger.reserve.counted", 1},
        {"ledger.reserve.done", 0},   {"ledger.commit.locked", 1},  {"hook.vram.allocated", 0},
        {"hook.vram.freed", 0},       {"ledger.release.locked", 1}, {"ledger.release.done", 0},
    };
    const size_t n = sizeof(fps) / sizeof(fps[0]);

    init_cuda();
    struct ledger *l = open_ledger();
    uint64_t dev_base = device_free();
    CUdeviceptr resident;
    REQUIRE_OK(cuMemAlloc(&resident, RESIDENT));
    check_agrees(l, dev_base, "start", "resident");

    int expected_repairs = 0;
    for (size_t i = 0; i < n; i++) {
        kill_child_at(fps[i].name);
        expected_repairs += fps[i].in_lock;
        /* Half the kills are reclaimed by the next allocation that needs the dead process's
         * share (the rest of the cap does not fit otherwise), half by an explicit reap first. */
        struct ledger_stats before, after;
        CHECK_OK(ledger_get_stats(l, &before));
        if (i % 2) {
            /* 1, or 0 when the lock's repair (which reaps the dead) came first. */
            int reaped = ledger_reap(l);
            CHECK(reaped == !fps[i].in_lock, "%s: ledger_reap reaped %d processes", fps[i].name,
                  reaped);
        }
        CUdeviceptr rest;
        CHECK_OK(cuMemAlloc(&rest, CAP - RESIDENT));
        CHECK(vgpu_used(l) == CAP, "%s: the vGPU charges %llu with the cap full", fps[i].name,
              (unsigned long long)vgpu_used(l));
        check_agrees(l, dev_base, fps[i].name, "cap full");
        CHECK_OK(ledger_get_stats(l, &after));
        CHECK(after.reaped_processes == before.reaped_processes + !fps[i].in_lock,
              "%s: %llu processes reaped after the kill", fps[i].name,
              (unsigned long long)(after.reaped_processes - before.reaped_processes));
        CHECK_OK(cuMemFree(rest));
        check_agrees(l, dev_base, fps[i].name, "after the free");
    }

    struct ledger_stats s;
    CHECK_OK(ledger_get_stats(l, &s));
    CHECK(s.reaped_processes == n, "%llu processes reaped, expected %zu",
          (unsigned long long)s.reaped_processes, n);
    CHECK(s.repairs == (uint64_t)expected_repairs, "%llu lock repairs, expected %d",
          (unsigned long long)s.repairs, expected_repairs);
    CHECK_OK(cuMemFree(resident));
    check_agrees(l, dev_base, "end", "all freed");
    CHECK(vgpu_used(l) == 0, "the vGPU charges %llu at the end", (unsigned long long)vgpu_used(l));
    ledger_close(l);
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "child") == 0)
        return child();
    REQUIRE(argc == 1, "usage: test_hook_vram_crash");
    remove_ledger();
    test_crashes();
    return check_done("hook-vram-crash");
}
