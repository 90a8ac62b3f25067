/*
 * Processes killed at every instant of a state mutation (failpoints set to crash, and a plain
 * SIGKILL while holding the state lock) leave the shared state consistent: the next process
 * repairs it, the dead process's memory is reclaimed and its holes punched, the lock works.
 */
#include "sim_test_util.h"

#include "gpool/failpoint.h"

#define MIB (1024ull * 1024ull)

static uint64_t base_used;
static long long base_backed;

/* Child: attaches with failpoints fp, charges, optionally frees, then exits normally. */
static pid_t spawn(const char *fp, int nallocs, int do_free, int exit_without_detach, int ready_fd)
{
    pid_t pid = fork();
    REQUIRE(pid >= 0, "fork");
    if (pid)
        return pid;
    if (ready_fd >= 0)
        util_write_u64(ready_fd, 1);
    if (gpool_failpoint_configure(fp) != 0)
        _exit(20);
    struct sim_instance *inst;
    char err[512];
    if (sim_instance_attach(&inst, err, sizeof(err)) != 0)
        _exit(21);
    for (int i = 0; i < nallocs; i++) {
        uint64_t off;
        if (sim_state_alloc(inst, 0, 2 * MIB, i % 2 ? SIM_CHARGE_OVERHEAD : SIM_CHARGE_MEMORY,
                            &off, NULL) != 0)
            _exit(22);
        if (do_free && sim_state_free(inst, 0, off) != 0)
            _exit(23);
    }
    if (!exit_without_detach)
        sim_instance_detach(inst);
    _exit(0);
}

/* After a death: state consistent, dead charges reclaimed, lock usable. */
static void verify(struct sim_instance *inst, const char *what)
{
    char when[128];
    snprintf(when, sizeof(when), "after a crash at %s", what);
    util_check_state(inst, when);
    uint64_t total, used;
    sim_instance_mem_info(inst, 0, &total, &used);
    CHECK(used == base_used, "%s: %llu bytes used, expected %llu", when, (unsigned long long)used,
          (unsigned long long)base_used);
    CHECK(util_backed(0) == base_backed, "%s: %lld bytes backed, expected %lld", when,
          util_backed(0), base_backed);
    uint64_t off;
    CHECK_OK(sim_state_alloc(inst, 0, MIB, SIM_CHARGE_MEMORY, &off, NULL));
    CHECK_OK(sim_state_free(inst, 0, off));
    util_check_state(inst, when);
    CHECK(sim_instance_live_count(inst, NULL, 0) == 1, "%s: dead processes still attached", when);
}

static void crash_at(struct sim_instance *inst, const char *fp, int do_free)
{
    pid_t pid = spawn(fp, 3, do_free, 1, -1);
    int st = util_wait(pid);
    CHECK(st == 128 + SIGKILL, "%s: child did not crash (status %d)", fp, st);
    verify(inst, fp);
}

int main(void)
{
#ifndef GPOOL_FAILPOINTS_ENABLED
    printf("sim-state-crash: skipped (built without failpoints)\n");
    return 77;
#endif
    struct sim_instance *inst = util_attach();
    uint64_t off, total;
    CHECK_OK(sim_state_alloc(inst, 0, 64 * 1024, SIM_CHARGE_MEMORY, &off, NULL));
    sim_instance_mem_info(inst, 0, &total, &base_used);
    base_backed = util_backed(0);

    static const char *const alloc_points[] = {
        "sim.state.alloc.locked", "sim.state.alloc.recorded", "sim.state.alloc.reserved",
        "sim.state.alloc.committed", "sim.state.alloc.done",
    };
    for (size_t i = 0; i < sizeof(alloc_points) / sizeof(alloc_points[0]); i++) {
        char fp[96];
        snprintf(fp, sizeof(fp), "%s=crash", alloc_points[i]);
        crash_at(inst, fp, 0);
    }
    crash_at(inst, "sim.state.free.marked=crash", 1);
    crash_at(inst, "sim.state.free.punched=crash", 1);
    crash_at(inst, "sim.state.attach.claimed=crash", 0);

    /* A process dies with charges (no detach); the one reaping it dies midway. */
    CHECK(util_wait(spawn("", 4, 0, 1, -1)) == 0, "charging child failed");
    pid_t reaper = spawn("sim.state.reap.record=crash", 0, 0, 1, -1);
    CHECK(util_wait(reaper) == 128 + SIGKILL, "reaper did not crash");
    verify(inst, "sim.state.reap.record");

    /* Plain SIGKILL while the state lock is held (the child sleeps inside the lock). */
    int ready[2];
    int prc = pipe(ready);
    REQUIRE(prc == 0, "pipe");
    pid_t sleeper = spawn("sim.state.alloc.locked=sleep:20000", 1, 0, 1, ready[1]);
    uint64_t one;
    CHECK(util_read_u64(ready[0], &one) == 0, "sleeper did not start");
    usleep(500 * 1000); /* it attaches and takes the lock well within this */
    kill(sleeper, SIGKILL);
    CHECK(util_wait(sleeper) == 128 + SIGKILL, "sleeper was not killed");
    close(ready[0]);
    close(ready[1]);
    verify(inst, "SIGKILL holding the lock");

    /* A crash while creating an instance leaves no half-made instance behind. */
    char name[80];
    snprintf(name, sizeof(name), "%s-create", util_instance());
    pid_t creator = fork();
    REQUIRE(creator >= 0, "fork");
    if (creator == 0) {
        setenv("GPOOL_SIM_INSTANCE", name, 1);
        /* Wait for the crashing creator here: the test's wait() below does not see a
         * grandchild, and one still alive later would keep the instance busy. */
        pid_t crasher = spawn("sim.state.create.rename=crash", 1, 0, 1, -1);
        _exit(util_wait(crasher) == 128 + SIGKILL ? 0 : 1);
    }
    CHECK(util_wait(creator) == 0, "the creator was not killed at sim.state.create.rename");
    pid_t after = fork();
    REQUIRE(after >= 0, "fork");
    if (after == 0) {
        setenv("GPOOL_SIM_INSTANCE", name, 1);
        struct sim_instance *i2;
        char err[512];
        uint64_t o;
        if (sim_instance_attach(&i2, err, sizeof(err)) != 0 ||
            sim_state_alloc(i2, 0, MIB, SIM_CHARGE_MEMORY, &o, NULL) != 0 ||
            sim_state_check(i2, err, sizeof(err)) != 0)
            _exit(1);
        sim_instance_detach(i2);
        _exit(0);
    }
    CHECK(util_wait(after) == 0, "instance unusable after a crash during its creation");
    char err[512];
    CHECK_OK(sim_instance_remove(util_simdir(), name, 0, err, sizeof(err)));

    CHECK_OK(sim_state_free(inst, 0, off));
    sim_instance_detach(inst);
    return check_done("sim-state-crash");
}
