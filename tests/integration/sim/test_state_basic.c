/*
 * One process on its instance: devices and models, stable UUIDs and PCI ids, exact capacity,
 * device memory that reads back, backing reserved on allocation and released on free.
 */
#include "sim_test_util.h"

#define MIB (1024ull * 1024ull)

int main(void)
{
    setenv("GPOOL_SIM_GPUS", "2xT4,A100-40GB", 1);
    struct sim_instance *inst = util_attach();

    REQUIRE(sim_instance_device_count(inst) == 3, "device count %d",
            sim_instance_device_count(inst));
    CHECK(!strcmp(sim_instance_model(inst, 0)->name, "Tesla T4"), "model 0 %s",
          sim_instance_model(inst, 0)->name);
    CHECK(!strcmp(sim_instance_model(inst, 2)->alias, "A100-40GB"), "model 2 %s",
          sim_instance_model(inst, 2)->alias);
    CHECK(sim_instance_model(inst, 3) == NULL, "model past the end");

    unsigned char u0[16], u1[16], again[16];
    sim_instance_uuid(inst, 0, u0);
    sim_instance_uuid(inst, 1, u1);
    CHECK(memcmp(u0, u1, 16) != 0, "two devices share a UUID");
    int dom0, bus0, dv0, dom1, bus1, dv1;
    sim_instance_pci(inst, 0, &dom0, &bus0, &dv0);
    sim_instance_pci(inst, 1, &dom1, &bus1, &dv1);
    CHECK(bus0 != bus1 && bus0 > 0 && bus1 < 256, "PCI buses %d %d", bus0, bus1);

    uint64_t total, used;
    sim_instance_mem_info(inst, 0, &total, &used);
    CHECK(total == 15360 * MIB, "T4 total %llu", (unsigned long long)total);
    CHECK(used == 0, "fresh device used %llu", (unsigned long long)used);

    /* A block: aligned, charged rounded, backed, readable through the mapping. */
    uint64_t off = 1, charged = 0;
    CHECK_OK(sim_state_alloc(inst, 0, 5000, SIM_CHARGE_MEMORY, &off, &charged));
    CHECK(charged == 8192, "charged %llu for 5000 bytes", (unsigned long long)charged);
    CHECK(off % SIM_ALLOC_GRANULE == 0, "offset %llu not aligned", (unsigned long long)off);
    CHECK(util_backed(0) >= 8192, "backing not reserved: %lld", util_backed(0));
    unsigned char *mem = sim_instance_dev_memory(inst, 0);
    REQUIRE(mem != NULL, "no device mapping");
    CHECK(mem[off] == 0 && mem[off + 4999] == 0, "new block not zero");
    memset(mem + off, 0xab, 5000);
    CHECK(mem[off + 4999] == 0xab, "memory does not read back");
    sim_instance_mem_info(inst, 0, &total, &used);
    CHECK(used == 8192, "used %llu", (unsigned long long)used);
    util_check_state(inst, "after an allocation");

    struct sim_proc_info procs[4];
    int n = sim_instance_processes(inst, 0, procs, 4);
    CHECK(n == 1 && procs[0].pid == getpid() && procs[0].used_bytes == 8192,
          "process list n=%d", n);
    CHECK(sim_instance_processes(inst, 1, procs, 4) == 0, "unused device lists a process");

    /* Free: hole punched, second free refused. */
    CHECK_OK(sim_state_free(inst, 0, off));
    CHECK(sim_state_free(inst, 0, off) == -ENOENT, "double free accepted");
    CHECK(util_backed(0) == 0, "hole not punched: %lld bytes backed", util_backed(0));
    sim_instance_mem_info(inst, 0, &total, &used);
    CHECK(used == 0, "used %llu after free", (unsigned long long)used);

    /* Exact capacity: overhead fills all but 1 MiB, memory takes exactly that, then nothing. */
    uint64_t h1, h2, b1, b2;
    CHECK_OK(sim_state_alloc(inst, 1, total - MIB, SIM_CHARGE_OVERHEAD, &h1, NULL));
    CHECK_OK(sim_state_alloc(inst, 1, MIB, SIM_CHARGE_MEMORY, &b1, NULL));
    CHECK(sim_state_alloc(inst, 1, 1, SIM_CHARGE_MEMORY, &b2, NULL) == -ENOMEM,
          "allocation past capacity succeeded");
    CHECK(sim_state_alloc(inst, 1, 1, SIM_CHARGE_OVERHEAD, &h2, NULL) == -ENOMEM,
          "overhead past capacity succeeded");
    sim_instance_mem_info(inst, 1, &total, &used);
    CHECK(used == total, "full device used %llu of %llu", (unsigned long long)used,
          (unsigned long long)total);
    CHECK(sim_state_alloc(inst, 0, total + 1, SIM_CHARGE_MEMORY, &b2, NULL) == -ENOMEM,
          "allocation larger than the device succeeded");
    CHECK_OK(sim_state_free(inst, 1, b1));
    CHECK_OK(sim_state_alloc(inst, 1, MIB, SIM_CHARGE_MEMORY, &b1, NULL));
    CHECK_OK(sim_state_free(inst, 1, h1));
    CHECK(sim_state_free(inst, 2, b1) == -ENOENT, "free on the wrong device accepted");
    util_check_state(inst, "after filling a device");

    /* Many blocks, freed out of order, never overlap. */
    uint64_t offs[64];
    for (int i = 0; i < 64; i++)
        CHECK_OK(sim_state_alloc(inst, 2, (uint64_t)(i + 1) * 4096, SIM_CHARGE_MEMORY, &offs[i],
                                 NULL));
    for (int i = 0; i < 64; i += 2)
        CHECK_OK(sim_state_free(inst, 2, offs[i]));
    for (int i = 0; i < 16; i++)
        CHECK_OK(sim_state_alloc(inst, 2, 3 * 4096, SIM_CHARGE_MEMORY, &offs[i * 2], NULL));
    util_check_state(inst, "after fragmenting");

    /* Engine and busy time. */
    uint64_t busy0, busy1, t0, t1;
    sim_instance_busy(inst, 0, &busy0, &t0);
    sim_engine_acquire(inst, 0);
    sim_instance_busy_add(inst, 0, 1234);
    sim_engine_release(inst, 0);
    sim_instance_busy(inst, 0, &busy1, &t1);
    CHECK(busy1 - busy0 == 1234 && t1 >= t0, "busy %llu -> %llu", (unsigned long long)busy0,
          (unsigned long long)busy1);

    /* Detach releases everything; UUIDs are the same on the next attach. */
    sim_instance_detach(inst);
    inst = util_attach();
    sim_instance_uuid(inst, 0, again);
    CHECK(!memcmp(u0, again, 16), "UUID changed across attaches");
    sim_instance_mem_info(inst, 2, &total, &used);
    CHECK(used == 0, "detach left %llu bytes charged", (unsigned long long)used);
    util_check_state(inst, "after re-attaching");
    sim_instance_detach(inst);
    return check_done("sim-state-basic");
}
