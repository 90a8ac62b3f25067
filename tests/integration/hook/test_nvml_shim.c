/*
 * gpool's NVML shim (build/lib/hook/libnvidia-ml.so.1) over the simulated NVML, next to the
 * hook's libcuda.so.1 (preloaded). Run as `test_nvml_shim MODE SHIM SIM`, both libraries loaded
 * by absolute path:
 *
 *   plain  without GPOOL_VGPU, every answer compared equals the sim NVML's own
 *   cap    with a 64 MiB cap (GPOOL_VGPU, GPOOL_VRAM_LIMIT), after allocations through the hook
 *          NVML memory info (v1 and v2) agrees with cuMemGetInfo, and per-process figures stay
 *          the real ones; a cap lowered below the usage shows a full vGPU in both views (used
 *          clamped to the cap, free 0), never an underflow
 */
#include "hook_test.h"

#include "gpool/nvml_abi.h"

#include <dlfcn.h>
#include <string.h>
#include <unistd.h>

#define MIB (1024ull * 1024ull)

struct nvml {
    nvmlReturn_t (*init)(void);
    nvmlReturn_t (*count)(unsigned int *);
    nvmlReturn_t (*handle)(unsigned int, nvmlDevice_t *);
    nvmlReturn_t (*name)(nvmlDevice_t, char *, unsigned int);
    nvmlReturn_t (*uuid)(nvmlDevice_t, char *, unsigned int);
    nvmlReturn_t (*mem)(nvmlDevice_t, nvmlMemory_t *);
    nvmlReturn_t (*mem2)(nvmlDevice_t, nvmlMemory_v2_t *);
    nvmlReturn_t (*procs)(nvmlDevice_t, unsigned int *, nvmlProcessInfo_t *);
};

static void load(const char *path, struct nvml *n)
{
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    REQUIRE(h, "dlopen %s: %s", path, dlerror());
    *(void **)&n->init = dlsym(h, "nvmlInit_v2");
    *(void **)&n->count = dlsym(h, "nvmlDeviceGetCount_v2");
    *(void **)&n->handle = dlsym(h, "nvmlDeviceGetHandleByIndex_v2");
    *(void **)&n->name = dlsym(h, "nvmlDeviceGetName");
    *(void **)&n->uuid = dlsym(h, "nvmlDeviceGetUUID");
    *(void **)&n->mem = dlsym(h, "nvmlDeviceGetMemoryInfo");
    *(void **)&n->mem2 = dlsym(h, "nvmlDeviceGetMemoryInfo_v2");
    *(void **)&n->procs = dlsym(h, "nvmlDeviceGetComputeRunningProcesses_v3");
    REQUIRE(n->init && n->count && n->handle && n->name && n->uuid && n->mem && n->mem2 && n->procs,
            "%s lacks an entry point", path);
    REQUIRE_OK(n->init());
}

static void test_plain(struct nvml *shim, struct nvml *sim)
{
    unsigned int a = 0, b = 0;
    CHECK_OK(shim->count(&a));
    CHECK_OK(sim->count(&b));
    CHECK(a == b && a > 0, "count %u vs %u", a, b);
    for (unsigned int i = 0; i < a && i < b; i++) {
        nvmlDevice_t da, db;
        CHECK_OK(shim->handle(i, &da));
        CHECK_OK(sim->handle(i, &db));
        char sa[96], sb[96];
        CHECK_OK(shim->name(da, sa, sizeof(sa)));
        CHECK_OK(sim->name(db, sb, sizeof(sb)));
        CHECK(!strcmp(sa, sb), "name %s vs %s", sa, sb);
        CHECK_OK(shim->uuid(da, sa, sizeof(sa)));
        CHECK_OK(sim->uuid(db, sb, sizeof(sb)));
        CHECK(!strcmp(sa, sb), "uuid %s vs %s", sa, sb);
        nvmlMemory_t ma, mb;
        CHECK_OK(shim->mem(da, &ma));
        CHECK_OK(sim->mem(db, &mb));
        CHECK(ma.total == mb.total && ma.free == mb.free && ma.used == mb.used, "memory differs");
        nvmlMemory_v2_t va = {.version = nvmlMemory_v2}, vb = {.version = nvmlMemory_v2};
        CHECK_OK(shim->mem2(da, &va));
        CHECK_OK(sim->mem2(db, &vb));
        CHECK(va.total == vb.total && va.free == vb.free && va.used == vb.used &&
                  va.reserved == vb.reserved,
              "memory v2 differs");
    }
    nvmlDevice_t d;
    CHECK_RC(shim->handle(99, &d), NVML_ERROR_INVALID_ARGUMENT);
}

static void test_cap(struct nvml *shim)
{
    init_cuda();
    CUdeviceptr p[3];
    CHECK_OK(cuMemAlloc(&p[0], 16 * MIB));
    CHECK_OK(cuMemAlloc(&p[1], 8 * MIB));
    CHECK_OK(cuMemAlloc(&p[2], 1000)); /* charged 4 KiB */

    size_t cfree = 0, ctotal = 0;
    CHECK_OK(cuMemGetInfo(&cfree, &ctotal));
    nvmlDevice_t d;
    CHECK_OK(shim->handle(0, &d));
    nvmlMemory_t m;
    CHECK_OK(shim->mem(d, &m));
    CHECK(m.total == 64 * MIB && m.total == ctotal, "total %llu vs %zu", m.total, ctotal);
    CHECK(m.free == cfree, "free %llu vs %zu", m.free, cfree);
    CHECK(m.used == 24 * MIB + 4096, "used %llu", m.used);
    nvmlMemory_v2_t v = {.version = nvmlMemory_v2};
    CHECK_OK(shim->mem2(d, &v));
    CHECK(v.total == m.total && v.free == m.free && v.used == m.used && v.reserved == 0,
          "v2 %llu %llu %llu", v.total, v.free, v.used);

    /* Per-process figures stay the device's own. */
    nvmlProcessInfo_t procs[16];
    unsigned int n = 16;
    CHECK_OK(shim->procs(d, &n, procs));
    int found = 0;
    for (unsigned int i = 0; i < n; i++)
        found |= procs[i].pid == (unsigned int)getpid() && procs[i].usedGpuMemory >= 24 * MIB;
    CHECK(found, "this process not listed with its usage (%u processes)", n);

    /* The cap lowered below the usage (gpool vgpu set): both views show a full vGPU of the new
     * size; nothing underflows. */
    struct ledger *l = open_ledger();
    struct ledger_limits lim;
    CHECK_OK(ledger_get_limits(l, &lim));
    lim.vram_bytes = 16 * MIB;
    CHECK_OK(ledger_set_limits(l, &lim, NULL));
    CHECK_OK(cuMemGetInfo(&cfree, &ctotal));
    CHECK(ctotal == 16 * MIB && cfree == 0, "cuMemGetInfo over a lowered cap: %zu / %zu", cfree,
          ctotal);
    CHECK_OK(shim->mem(d, &m));
    CHECK(m.total == 16 * MIB && m.free == 0 && m.used == 16 * MIB,
          "NVML over a lowered cap: total %llu free %llu used %llu", m.total, m.free, m.used);
    CHECK_OK(shim->mem2(d, &v));
    CHECK(v.total == m.total && v.free == 0 && v.used == m.used, "v2 over a lowered cap");
    lim.vram_bytes = 64 * MIB;
    CHECK_OK(ledger_set_limits(l, &lim, NULL));
    ledger_close(l);

    for (int i = 0; i < 3; i++)
        CHECK_OK(cuMemFree(p[i]));
    CHECK_OK(shim->mem(d, &m));
    CHECK_OK(cuMemGetInfo(&cfree, &ctotal));
    CHECK(m.used == 0 && m.free == 64 * MIB && m.free == cfree, "after free %llu %llu", m.used,
          m.free);
}

int main(int argc, char **argv)
{
    REQUIRE(argc == 4, "usage: test_nvml_shim plain|cap SHIM SIM");
    struct nvml shim, sim;
    load(argv[2], &shim);
    if (!strcmp(argv[1], "plain")) {
        load(argv[3], &sim);
        test_plain(&shim, &sim);
    } else {
        test_cap(&shim);
    }
    return check_done("test_nvml_shim");
}
