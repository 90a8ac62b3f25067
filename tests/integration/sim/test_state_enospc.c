/*
 * A full backing file system turns into -ENOMEM at allocation time, never a SIGBUS later:
 * through the reservation failpoint, and (as root, where unshare is permitted) on a real 16 MiB
 * tmpfs.
 */
#include "sim_test_util.h"

#include "gpool/failpoint.h"

#include <sched.h>
#include <sys/mount.h>

#define MIB (1024ull * 1024ull)

static void test_failpoint(void)
{
#ifdef GPOOL_FAILPOINTS_ENABLED
    struct sim_instance *inst = util_attach();
    uint64_t off, total, used, h;
    REQUIRE(gpool_failpoint_configure("sim.state.alloc.reserve=error") == 0, "failpoints");
    CHECK(sim_state_alloc(inst, 0, MIB, SIM_CHARGE_MEMORY, &off, NULL) == -ENOMEM,
          "allocation succeeded without backing");
    CHECK_OK(sim_state_alloc(inst, 0, MIB, SIM_CHARGE_OVERHEAD, &h, NULL));
    sim_instance_mem_info(inst, 0, &total, &used);
    CHECK(used == MIB, "failed allocation left a charge: used %llu", (unsigned long long)used);
    CHECK(util_backed(0) == 0, "failed allocation left backing");
    util_check_state(inst, "after a failed reservation");
    REQUIRE(gpool_failpoint_configure("") == 0, "failpoints");
    CHECK_OK(sim_state_alloc(inst, 0, MIB, SIM_CHARGE_MEMORY, &off, NULL));
    CHECK_OK(sim_state_free(inst, 0, off));
    CHECK_OK(sim_state_free(inst, 0, h));
    sim_instance_detach(inst);
#endif
}

/* Runs in a child with its own mount namespace. Exit 0 = pass, 77 = not permitted. */
static int tiny_tmpfs_child(void)
{
    if (unshare(CLONE_NEWNS) < 0)
        return 77;
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        return 77;
    char dir[] = "/tmp/gpool-tiny-XXXXXX";
    if (!mkdtemp(dir))
        return 77;
    if (mount("tmpfs", dir, "tmpfs", 0, "size=16m") < 0) {
        rmdir(dir);
        return 77;
    }
    setenv("GPOOL_SIM_DIR", dir, 1);
    setenv("GPOOL_SIM_GPUS", "T4", 1);
    struct sim_instance *inst = util_attach();
    uint64_t a, b;
    CHECK_OK(sim_state_alloc(inst, 0, 8 * MIB, SIM_CHARGE_MEMORY, &a, NULL));
    unsigned char *mem = sim_instance_dev_memory(inst, 0);
    REQUIRE(mem, "no mapping");
    memset(mem + a, 0x11, 8 * MIB); /* reserved: touching it cannot SIGBUS */
    CHECK(sim_state_alloc(inst, 0, 8 * MIB, SIM_CHARGE_MEMORY, &b, NULL) == -ENOMEM,
          "allocation beyond the file system's space succeeded");
    util_check_state(inst, "after the file system filled");
    CHECK_OK(sim_state_free(inst, 0, a));
    CHECK_OK(sim_state_alloc(inst, 0, 8 * MIB, SIM_CHARGE_MEMORY, &b, NULL));
    memset(mem + b, 0x22, 8 * MIB);
    sim_instance_detach(inst);
    char err[512];
    CHECK_OK(sim_instance_remove(dir, util_instance(), 0, err, sizeof(err)));
    umount(dir);
    rmdir(dir);
    return check_failures ? 1 : 0;
}

static void test_tiny_tmpfs(void)
{
    pid_t pid = fork();
    REQUIRE(pid >= 0, "fork");
    if (pid == 0)
        _exit(tiny_tmpfs_child());
    int st = util_wait(pid);
    if (st == 77)
        printf("sim-state-enospc: tiny tmpfs case skipped (no permission to mount)\n");
    else
        CHECK(st == 0, "tiny tmpfs case failed (status %d)", st);
}

int main(void)
{
    test_failpoint();
    test_tiny_tmpfs();
    return check_done("sim-state-enospc");
}
