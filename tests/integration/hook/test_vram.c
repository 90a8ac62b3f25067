/*
 * The local vGPU's VRAM cap through the hook, over the simulated GPU (a device far larger than
 * the cap, so the hook and not the device refuses). Run as `test_hook_vram <mode>`; GPOOL_VGPU,
 * GPOOL_VRAM_LIMIT (64Mi) and GPOOL_VGPU_DIR come from the test's environment.
 *
 *   cap        allocations succeed up to the cap exactly, the next byte is OUT_OF_MEMORY, frees
 *              restore, cuMemGetInfo / cuDeviceTotalMem show the cap view
 *   race       4 forked processes allocating at once never exceed the cap together
 *   kill       a child SIGKILLed while holding memory is reclaimed by the next allocation
 *   failpoint  a child killed between ledger reserve and the driver leaves a sound ledger
 *   badlimit   GPOOL_VRAM_LIMIT is not a quantity: cuInit answers CUDA_ERROR_INVALID_VALUE
 */
#include "hook_test.h"

#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MIB (1024ull * 1024ull)
#define CAP (64 * MIB)

/* What the vGPU charges on device 0, under the test's 64 MiB cap. */
static uint64_t vgpu_used(struct ledger *l)
{
    return vgpu_used_on(l, 0, CAP);
}

static void test_cap(void)
{
    init_cuda();
    struct ledger *l = open_ledger();

    size_t total = 0, free_b = 0;
    CHECK_OK(cuDeviceTotalMem(&total, 0));
    CHECK(total == CAP, "cuDeviceTotalMem = %zu", total);
    CHECK_OK(cuMemGetInfo(&free_b, &total));
    CHECK(total == CAP && free_b == CAP, "cuMemGetInfo = %zu / %zu", free_b, total);

    CUdeviceptr a, p, m, rest, extra;
    size_t pitch = 0;
    CHECK_OK(cuMemAlloc(&a, 32 * MIB));
    /* 1000 bytes wide: the driver's pitch (1024) x 4096 rows = 4 MiB are charged. */
    CHECK_OK(cuMemAllocPitch(&p, &pitch, 1000, 4096, 4));
    CHECK(pitch == 1024, "pitch %zu", pitch);
    CHECK_OK(cuMemAllocManaged(&m, 4 * MIB, CU_MEM_ATTACH_GLOBAL));
    CHECK(vgpu_used(l) == 40 * MIB, "used %llu", (unsigned long long)vgpu_used(l));
    CHECK_OK(cuMemGetInfo(&free_b, &total));
    CHECK(free_b == 24 * MIB && total == CAP, "cuMemGetInfo = %zu / %zu", free_b, total);

    /* 24 MiB - 4095 bytes is charged as 24 MiB (the 4 KiB granule): the vGPU is exactly full. */
    CHECK_OK(cuMemAlloc(&rest, 24 * MIB - 4095));
    CHECK(vgpu_used(l) == CAP, "used %llu", (unsigned long long)vgpu_used(l));
    CHECK_OK(cuMemGetInfo(&free_b, &total));
    CHECK(free_b == 0 && total == CAP, "cuMemGetInfo = %zu / %zu", free_b, total);

    /* One byte more is refused by the hook, though the device has ~80 GB free. */
    CHECK_RC(cuMemAlloc(&extra, 1), CUDA_ERROR_OUT_OF_MEMORY);
    CHECK_RC(cuMemAllocManaged(&extra, 1, CU_MEM_ATTACH_GLOBAL), CUDA_ERROR_OUT_OF_MEMORY);
    CHECK_RC(cuMemAllocPitch(&extra, &pitch, 16, 1, 4), CUDA_ERROR_OUT_OF_MEMORY);
    CHECK(vgpu_used(l) == CAP, "used after refusals %llu", (unsigned long long)vgpu_used(l));

    /* Frees restore the room exactly. */
    CHECK_OK(cuMemFree(a));
    CHECK(vgpu_used(l) == 32 * MIB, "used %llu", (unsigned long long)vgpu_used(l));
    CHECK_OK(cuMemAlloc(&a, 32 * MIB));
    CHECK_RC(cuMemAlloc(&extra, 4096), CUDA_ERROR_OUT_OF_MEMORY);
    CHECK_OK(cuMemFree(a));
    CHECK_OK(cuMemFree(p));
    CHECK_OK(cuMemFree(m));
    CHECK_OK(cuMemFree(rest));
    CHECK(vgpu_used(l) == 0, "used %llu", (unsigned long long)vgpu_used(l));
    CHECK_OK(cuMemGetInfo(&free_b, &total));
    CHECK(free_b == CAP && total == CAP, "cuMemGetInfo = %zu / %zu", free_b, total);
    /* A pointer the vGPU never charged is still freed by the driver. */
    CHECK(cuMemFree(0x1234) != CUDA_SUCCESS, "unknown pointer refused by the driver");
    check_ledger(l);
    ledger_close(l);
}

/* A child of the race: allocates 1 MiB blocks until refused, reports its total, holds them
 * until the parent closes `go`, then frees them. */
static int race_child(int report, int go)
{
    init_cuda();
    CUdeviceptr blocks[128];
    int n = 0;
    CUresult rc;
    while (n < 128 && (rc = cuMemAlloc(&blocks[n], MIB)) == CUDA_SUCCESS)
        n++;
    if (n < 128 && rc != CUDA_ERROR_OUT_OF_MEMORY)
        return 2;
    uint64_t total = (uint64_t)n * MIB;
    if (write(report, &total, sizeof(total)) != sizeof(total))
        return 3;
    char c;
    while (read(go, &c, 1) > 0) {
    }
    for (int i = 0; i < n; i++)
        if (cuMemFree(blocks[i]) != CUDA_SUCCESS)
            return 4;
    return 0;
}

static void test_race(void)
{
    int report[2], go[2];
    REQUIRE(pipe(report) == 0 && pipe(go) == 0, "pipe");
    pid_t pids[4];
    for (int i = 0; i < 4; i++) {
        pids[i] = fork();
        REQUIRE(pids[i] >= 0, "fork");
        if (pids[i] == 0) {
            close(report[0]);
            close(go[1]);
            _exit(race_child(report[1], go[0]));
        }
    }
    close(report[1]);
    close(go[0]);
    uint64_t sum = 0;
    for (int i = 0; i < 4; i++) {
        uint64_t t = 0;
        CHECK(read(report[0], &t, sizeof(t)) == sizeof(t), "child report");
        sum += t;
    }
    /* Every child ran until refused: together they filled the cap, and not one byte past it. */
    CHECK(sum == CAP, "children hold %llu bytes together, cap %llu", (unsigned long long)sum,
          (unsigned long long)CAP);
    struct ledger *l = open_ledger();
    CHECK(vgpu_used(l) == sum, "ledger %llu, live %llu", (unsigned long long)vgpu_used(l),
          (unsigned long long)sum);
    close(go[1]);
    for (int i = 0; i < 4; i++) {
        int st = 0;
        CHECK(waitpid(pids[i], &st, 0) == pids[i] && WIFEXITED(st) && WEXITSTATUS(st) == 0,
              "child %d status %#x", i, st);
    }
    CHECK(vgpu_used(l) == 0, "ledger after frees %llu", (unsigned long long)vgpu_used(l));
    check_ledger(l);
    ledger_close(l);
}

static void test_kill(void)
{
    int ready[2];
    REQUIRE(pipe(ready) == 0, "pipe");
    pid_t pid = fork();
    REQUIRE(pid >= 0, "fork");
    if (pid == 0) {
        close(ready[0]);
        init_cuda();
        CUdeviceptr d;
        char ok = cuMemAlloc(&d, 40 * MIB) == CUDA_SUCCESS ? 'y' : 'n';
        if (write(ready[1], &ok, 1) != 1)
            _exit(2);
        for (;;)
            pause();
    }
    close(ready[1]);
    char ok = 0;
    CHECK(read(ready[0], &ok, 1) == 1 && ok == 'y', "child allocated 40 MiB");
    struct ledger *l = open_ledger();
    CHECK(vgpu_used(l) == 40 * MIB, "ledger with the child %llu", (unsigned long long)vgpu_used(l));
    kill(pid, SIGKILL);
    int st = 0;
    CHECK(waitpid(pid, &st, 0) == pid && WIFSIGNALED(st), "child killed");

    /* 40 + 40 MiB would pass the cap: the reservation reclaims the dead child's 40 MiB. */
    init_cuda();
    CUdeviceptr d;
    CHECK_OK(cuMemAlloc(&d, 40 * MIB));
    CHECK(vgpu_used(l) == 40 * MIB, "ledger after reclaim %llu", (unsigned long long)vgpu_used(l));
    check_ledger(l);
    CHECK_OK(cuMemFree(d));
    CHECK(vgpu_used(l) == 0, "ledger after free %llu", (unsigned long long)vgpu_used(l));
    ledger_close(l);
}

static void test_failpoint(void)
{
    pid_t pid = fork();
    REQUIRE(pid >= 0, "fork");
    if (pid == 0) {
        /* Killed between the ledger's reservation and the driver's allocation. */
        setenv("GPOOL_FAILPOINTS", "ledger.reserve.done=crash", 1);
        init_cuda();
        CUdeviceptr d;
        (void)cuMemAlloc(&d, 8 * MIB);
        _exit(3); /* not reached when the failpoint fired */
    }
    int st = 0;
    CHECK(waitpid(pid, &st, 0) == pid && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
          "child killed at the failpoint (status %#x)", st);
    struct ledger *l = open_ledger();
    struct ledger_stats stats;
    CHECK(ledger_reap(l) >= 0, "ledger_reap");
    CHECK(ledger_get_stats(l, &stats) == 0 && stats.reaped_processes >= 1,
          "the dead child was reaped (%llu)", (unsigned long long)stats.reaped_processes);
    check_ledger(l);
    CHECK(vgpu_used(l) == 0, "nothing leaked: %llu", (unsigned long long)vgpu_used(l));

    /* The whole cap is available again, and the device agrees nothing is held. */
    init_cuda();
    CUdeviceptr d;
    CHECK_OK(cuMemAlloc(&d, CAP));
    CHECK(vgpu_used(l) == CAP, "ledger %llu", (unsigned long long)vgpu_used(l));
    CHECK_OK(cuMemFree(d));
    check_ledger(l);
    ledger_close(l);
}

int main(int argc, char **argv)
{
    REQUIRE(argc == 2, "usage: test_hook_vram cap|race|kill|failpoint");
    /* Start from no ledger: the first process of the test creates it with GPOOL_VRAM_LIMIT. */
    remove_ledger();
    if (strcmp(argv[1], "cap") == 0)
        test_cap();
    else if (strcmp(argv[1], "race") == 0)
        test_race();
    else if (strcmp(argv[1], "kill") == 0)
        test_kill();
    else if (strcmp(argv[1], "failpoint") == 0)
        test_failpoint();
    else if (strcmp(argv[1], "badlimit") == 0)
        CHECK_RC(cuInit(0), CUDA_ERROR_INVALID_VALUE);
    else
        REQUIRE(0, "unknown mode '%s'", argv[1]);
    return check_done(argv[1]);
}
