/*
 * Several processes on one instance: each sees the others' charges, capacity is exact across
 * them, a dead process's charges are reclaimed, and a forked child neither keeps its parent's
 * slot alive nor touches its charges.
 */
#include "sim_test_util.h"

#define MIB (1024ull * 1024ull)

/* Child that attaches after the fork, charges `bytes`, reports, then waits for a byte. */
static pid_t spawn_charger(uint64_t bytes, int *report_fd, int *go_fd)
{
    int rep[2], go[2];
    int prc = pipe(rep) | pipe(go);
    REQUIRE(prc == 0, "pipe");
    pid_t pid = fork();
    REQUIRE(pid >= 0, "fork");
    if (pid == 0) {
        close(rep[0]);
        close(go[1]);
        struct sim_instance *inst;
        char err[512];
        if (sim_instance_attach(&inst, err, sizeof(err)) != 0)
            _exit(10);
        uint64_t off;
        if (sim_state_alloc(inst, 0, bytes, SIM_CHARGE_MEMORY, &off, NULL) != 0)
            _exit(11);
        util_write_u64(rep[1], off);
        /* Wait for the parent, then try one more granule: must fail while the device is full. */
        uint64_t cmd;
        if (util_read_u64(go[0], &cmd) == 0 && cmd == 1) {
            uint64_t extra;
            int rc = sim_state_alloc(inst, 0, 4096, SIM_CHARGE_MEMORY, &extra, NULL);
            util_write_u64(rep[1], (uint64_t)(int64_t)rc);
            util_read_u64(go[0], &cmd);
        }
        _exit(0); /* no detach: the slot dies with the process */
    }
    close(rep[1]);
    close(go[0]);
    *report_fd = rep[0];
    *go_fd = go[1];
    return pid;
}

static void test_shared_charges(void)
{
    int rep, go;
    pid_t child = spawn_charger(64 * MIB, &rep, &go);
    uint64_t child_off;
    int got = util_read_u64(rep, &child_off);
    REQUIRE(got == 0, "child did not report");

    struct sim_instance *inst = util_attach();
    uint64_t total, used;
    sim_instance_mem_info(inst, 0, &total, &used);
    CHECK(used == 64 * MIB, "parent sees %llu bytes used, child charged 64 MiB",
          (unsigned long long)used);
    struct sim_proc_info procs[8];
    int n = sim_instance_processes(inst, 0, procs, 8);
    CHECK(n == 1 && procs[0].pid == child && procs[0].used_bytes == 64 * MIB,
          "process list: n=%d", n);

    /* Fill the rest exactly: overhead for most, memory for the last MiB. */
    uint64_t h, b;
    CHECK_OK(sim_state_alloc(inst, 0, total - used - MIB, SIM_CHARGE_OVERHEAD, &h, NULL));
    CHECK_OK(sim_state_alloc(inst, 0, MIB, SIM_CHARGE_MEMORY, &b, NULL));
    CHECK(b + MIB <= child_off || child_off + 64 * MIB <= b, "blocks of two processes overlap");
    sim_instance_mem_info(inst, 0, &total, &used);
    CHECK(used == total, "device not exactly full: %llu of %llu", (unsigned long long)used,
          (unsigned long long)total);

    util_write_u64(go, 1);
    uint64_t child_rc;
    got = util_read_u64(rep, &child_rc);
    REQUIRE(got == 0, "child did not report its second allocation");
    CHECK((int64_t)child_rc == -ENOMEM, "child allocated past capacity: %lld",
          (long long)(int64_t)child_rc);

    /* Shared memory contents: the child's block is visible to the parent. */
    unsigned char *mem = sim_instance_dev_memory(inst, 0);
    REQUIRE(mem, "no mapping");
    mem[child_off] = 0x5a;

    util_write_u64(go, 2);
    CHECK(util_wait(child) == 0, "child failed");
    close(rep);
    close(go);

    /* The dead child's 64 MiB is reclaimed at the next listing, its hole punched. */
    sim_instance_mem_info(inst, 0, &total, &used);
    CHECK(used == total - 64 * MIB, "dead child's charge not reclaimed: used %llu",
          (unsigned long long)used);
    CHECK(sim_instance_processes(inst, 0, procs, 8) == 1 && procs[0].pid == getpid(),
          "dead child still listed");
    CHECK(util_backed(0) <= (long long)MIB, "dead child's memory still backed: %lld",
          util_backed(0));
    util_check_state(inst, "after a child exited without detaching");
    CHECK_OK(sim_state_free(inst, 0, h));
    CHECK_OK(sim_state_free(inst, 0, b));
    sim_instance_detach(inst);
}

/* A child forked after attach: owns none of the parent's charges, gets its own slot, and does
 * not keep the parent's slot alive once the parent is gone. */
static void test_fork_after_attach(void)
{
    int rep[2], hold[2];
    int prc = pipe(rep) | pipe(hold);
    REQUIRE(prc == 0, "pipe");
    pid_t parent = fork();
    REQUIRE(parent >= 0, "fork");
    if (parent == 0) {
        /* The "parent" under test. */
        struct sim_instance *inst;
        char err[512];
        uint64_t off, coff;
        if (sim_instance_attach(&inst, err, sizeof(err)) ||
            sim_state_alloc(inst, 0, 8 * MIB, SIM_CHARGE_MEMORY, &off, NULL))
            _exit(10);
        pid_t kid = fork();
        if (kid < 0)
            _exit(11);
        if (kid == 0) {
            close(rep[0]);
            close(hold[1]);
            /* The inherited attachment owns nothing of the parent's. */
            uint64_t r1 = (uint64_t)(int64_t)sim_state_free(inst, 0, off);
            uint64_t r2 = (uint64_t)(int64_t)sim_state_alloc(inst, 0, MIB, SIM_CHARGE_MEMORY,
                                                             &coff, NULL);
            util_write_u64(rep[1], r1);
            util_write_u64(rep[1], r2);
            uint64_t dummy;
            util_read_u64(hold[0], &dummy); /* lives on until the test lets go */
            _exit(0);
        }
        _exit(0); /* dies with its charge and its slot, while the child lives on */
    }
    close(rep[1]);
    close(hold[0]);
    uint64_t r1 = 1, r2 = 1;
    int got = util_read_u64(rep[0], &r1) | util_read_u64(rep[0], &r2);
    REQUIRE(got == 0,
            "forked child did not report");
    CHECK((int64_t)r1 == -ENOENT, "child freed its parent's block: %lld", (long long)(int64_t)r1);
    CHECK(r2 == 0, "child could not allocate: %lld", (long long)(int64_t)r2);
    CHECK(util_wait(parent) == 0, "forking process failed");

    struct sim_instance *inst = util_attach();
    uint64_t total, used;
    sim_instance_mem_info(inst, 0, &total, &used);
    CHECK(used == MIB, "dead parent's 8 MiB kept alive by its child: used %llu",
          (unsigned long long)used);
    util_check_state(inst, "after the forking parent died");
    close(hold[1]); /* the child exits */
    close(rep[0]);
    /* The child is not our child: wait until its slot is reaped. */
    for (int i = 0; i < 500; i++) {
        sim_instance_mem_info(inst, 0, &total, &used);
        if (used == 0)
            break;
        usleep(10000);
    }
    CHECK(used == 0, "forked child's charge not reclaimed: %llu", (unsigned long long)used);
    sim_instance_detach(inst);
}

/* Many processes attaching at once to an instance that does not exist yet. */
static void test_concurrent_create(void)
{
    char name[80];
    snprintf(name, sizeof(name), "%s-race", util_instance());
    pid_t kids[8];
    for (int i = 0; i < 8; i++) {
        kids[i] = fork();
        REQUIRE(kids[i] >= 0, "fork");
        if (kids[i] == 0) {
            setenv("GPOOL_SIM_INSTANCE", name, 1);
            struct sim_instance *inst;
            char err[512];
            uint64_t off;
            if (sim_instance_attach(&inst, err, sizeof(err)) != 0) {
                fprintf(stderr, "racer: %s\n", err);
                _exit(10);
            }
            if (sim_state_alloc(inst, 0, MIB, SIM_CHARGE_MEMORY, &off, NULL) != 0)
                _exit(11);
            sim_instance_detach(inst);
            _exit(0);
        }
    }
    for (int i = 0; i < 8; i++)
        CHECK(util_wait(kids[i]) == 0, "racer %d failed", i);
    char err[512];
    CHECK_OK(sim_instance_remove(util_simdir(), name, 0, err, sizeof(err)));
}

/* Several processes allocating at once until the device is full: together they fill it to
 * the granule and never past it, and the blocks they get do not overlap. */
#define FILLERS 4
#define FILL_ROOM (32 * MIB)
#define FILL_STEP (64 * 1024ull)

static void test_concurrent_fill(void)
{
    struct sim_instance *inst = util_attach();
    uint64_t total, used, pad;
    sim_instance_mem_info(inst, 0, &total, &used);
    REQUIRE(total - used > FILL_ROOM, "device already full");
    REQUIRE_OK(sim_state_alloc(inst, 0, total - used - FILL_ROOM, SIM_CHARGE_OVERHEAD, &pad, NULL));

    int go[2], rep[2], done[2];
    int prc = pipe(go) | pipe(rep) | pipe(done);
    REQUIRE(prc == 0, "pipe");
    pid_t kids[FILLERS];
    for (int i = 0; i < FILLERS; i++) {
        kids[i] = fork();
        REQUIRE(kids[i] >= 0, "fork");
        if (kids[i] == 0) {
            close(go[1]);
            close(rep[0]);
            close(done[1]);
            struct sim_instance *mine;
            char err[512];
            if (sim_instance_attach(&mine, err, sizeof(err)) != 0)
                _exit(10);
            char c;
            if (read(go[0], &c, 1) != 0) /* EOF: everyone starts together */
                _exit(11);
            /* Memory and overhead charges of different sizes, until the device refuses. */
            uint64_t got = 0, step = FILL_STEP * (uint64_t)(i + 1), off;
            enum sim_charge_kind kind = i % 2 ? SIM_CHARGE_OVERHEAD : SIM_CHARGE_MEMORY;
            int rc;
            while ((rc = sim_state_alloc(mine, 0, step, kind, &off, NULL)) == 0)
                got += step;
            if (rc != -ENOMEM)
                _exit(12);
            /* Once the big steps fail, granules fill what is left. */
            while (sim_state_alloc(mine, 0, SIM_ALLOC_GRANULE, kind, &off, NULL) == 0)
                got += SIM_ALLOC_GRANULE;
            util_write_u64(rep[1], got);
            if (read(done[0], &c, 1) != 0) /* hold the charges until the parent has looked */
                _exit(13);
            _exit(0);
        }
    }
    close(go[0]);
    close(rep[1]);
    close(done[0]);
    close(go[1]);

    uint64_t sum = 0;
    for (int i = 0; i < FILLERS; i++) {
        uint64_t got = 0;
        REQUIRE(util_read_u64(rep[0], &got) == 0, "a filler did not report");
        sum += got;
    }
    CHECK(sum == FILL_ROOM, "the fillers charged %llu bytes of %llu free",
          (unsigned long long)sum, (unsigned long long)FILL_ROOM);
    sim_instance_mem_info(inst, 0, &total, &used);
    CHECK(used == total, "device holds %llu of %llu bytes after filling",
          (unsigned long long)used, (unsigned long long)total);
    util_check_state(inst, "after concurrent filling");

    close(done[1]);
    for (int i = 0; i < FILLERS; i++)
        CHECK(util_wait(kids[i]) == 0, "filler %d failed", i);
    close(rep[0]);
    sim_instance_mem_info(inst, 0, &total, &used); /* reaps the fillers */
    CHECK(used == total - FILL_ROOM, "fillers' charges not reclaimed: %llu used",
          (unsigned long long)used);
    CHECK_OK(sim_state_free(inst, 0, pad));
    util_check_state(inst, "after the fillers exited");
    sim_instance_detach(inst);
}

int main(void)
{
    test_shared_charges();
    test_fork_after_attach();
    test_concurrent_fill();
    test_concurrent_create();
    return check_done("sim-state-multiproc");
}
