/*
 * An instance directory that outlives a machine restart (the /var/tmp default) keeps the futex
 * words of the robust mutexes that were held when the machine went down; no thread exit marks
 * them dead. The first process of a new boot must reset them and repair the state instead of
 * blocking forever. The test fakes an earlier boot: the state lock and the engine are left
 * "held" by a thread that does not exist, an allocation is left half made, and the instance's
 * boot file names another boot.
 */
#include "sim_test_util.h"

#include <fcntl.h>
#include <sys/mman.h>

/* A thread id no process can have (above the kernel's PID_MAX_LIMIT of 2^22). */
#define GONE_TID 0x3ffffff0

/* Attaches, charges 1 MiB of device memory and dies without detaching. */
static void leave_a_charge(void)
{
    pid_t pid = fork();
    REQUIRE(pid >= 0, "fork");
    if (pid == 0) {
        struct sim_instance *inst;
        char err[512];
        uint64_t off;
        if (sim_instance_attach(&inst, err, sizeof(err)) != 0)
            _exit(10);
        if (sim_state_alloc(inst, 0, 1 << 20, SIM_CHARGE_MEMORY, &off, NULL) != 0)
            _exit(11);
        _exit(0);
    }
    REQUIRE(util_wait(pid) == 0, "child could not charge memory");
}

/* Makes the state look as a machine crash would leave it. */
static void wreck_state(void)
{
    char path[PATH_MAX];
    util_path(path, sizeof(path), "state");
    int fd = open(path, O_RDWR);
    REQUIRE(fd >= 0, "open %s", path);
    struct stat st;
    REQUIRE(fstat(fd, &st) == 0, "stat %s", path);
    void *map = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    REQUIRE(map != MAP_FAILED, "map %s", path);
    struct sim_state_hdr *h = map;
    uint64_t dev_off, slot_off, rec_off;
    sim_state_layout(h->ndev, h->nslots, h->nrecs, &dev_off, &slot_off, &rec_off);
    struct sim_state_dev *dev = (struct sim_state_dev *)((char *)map + dev_off);
    struct sim_state_rec *recs = (struct sim_state_rec *)((char *)map + rec_off);

    int found = 0;
    for (uint32_t i = 0; i < dev->nrec_used; i++) {
        if (recs[i].state == SIM_REC_LIVE) {
            recs[i].state = SIM_REC_RESERVING; /* its owner died inside the lock */
            found = 1;
            break;
        }
    }
    REQUIRE(found, "no live record to wreck");
    /* glibc keeps the owner's thread id in the first word of a mutex. */
    int gone = GONE_TID;
    memcpy(&h->lock, &gone, sizeof(gone));
    memcpy(&dev->engine, &gone, sizeof(gone));
    munmap(map, (size_t)st.st_size);
    close(fd);

    util_path(path, sizeof(path), "boot");
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    REQUIRE(fd >= 0, "open %s", path);
    const char *old = "00000000-0000-0000-0000-000000000000";
    REQUIRE(write(fd, old, strlen(old)) == (ssize_t)strlen(old), "write %s", path);
    close(fd);
}

int main(void)
{
    if (access("/proc/sys/kernel/random/boot_id", R_OK) != 0) {
        printf("no boot id on this system: skipped\n");
        return 77;
    }
    /* Create the instance (stamping this boot), then leave a charge behind. */
    struct sim_instance *inst = util_attach();
    sim_instance_detach(inst);
    leave_a_charge();
    wreck_state();

    /* A process of the "new boot" attaches: without the reset it would block forever, so it
     * runs in a child that an alarm ends. */
    pid_t pid = fork();
    REQUIRE(pid >= 0, "fork");
    if (pid == 0) {
        alarm(30);
        struct sim_instance *fresh = util_attach();
        util_check_state(fresh, "after the first attach of a new boot");
        uint64_t total, used;
        sim_instance_mem_info(fresh, 0, &total, &used);
        CHECK(used == 0, "the half-made allocation is still charged: %llu bytes",
              (unsigned long long)used);
        sim_engine_acquire(fresh, 0);
        sim_engine_release(fresh, 0);
        uint64_t off;
        CHECK_OK(sim_state_alloc(fresh, 0, 4096, SIM_CHARGE_MEMORY, &off, NULL));
        CHECK_OK(sim_state_free(fresh, 0, off));
        sim_instance_detach(fresh);
        _exit(check_failures ? 1 : 0);
    }
    int status = util_wait(pid);
    CHECK(status == 0, "attach after a restart failed or blocked (status %d)", status);

    /* Later processes of the same boot leave the (now healthy) locks alone. */
    inst = util_attach();
    util_check_state(inst, "after a second attach");
    sim_instance_detach(inst);
    return check_done("test_state_reboot");
}
