/*
 * Helpers shared by the hook's integration tests (tests/integration/hook/test_*.c): programs
 * that run through the hook (build/lib/hook/libcuda.so.1, preloaded) over the simulated GPU,
 * inside the local vGPU that GPOOL_VGPU names. Each helper exits the test (REQUIRE) when what it
 * sets up fails, since nothing after it could be checked; the ledger readers count a CHECK.
 *
 * The environment is the test's (meson.build): GPOOL_REAL_DRIVER is the simulator the hook
 * forwards to, GPOOL_VGPU and GPOOL_VGPU_DIR name the vGPU's ledger.
 */
#ifndef GPOOL_TEST_HOOK_H
#define GPOOL_TEST_HOOK_H

#include <cuda.h>

#include "check.h"
#include "gpool/ledger.h"

#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Initialises the driver through the hook (which attaches to the vGPU in cuInit) and makes
 * device 0's primary context current; returns that context, retained once by this call. A test
 * that needs the device handle, another device, or checks between these steps does them itself. */
static inline CUcontext init_cuda(void)
{
    CUdevice dev;
    CUcontext ctx;
    REQUIRE_OK(cuInit(0));
    REQUIRE_OK(cuDeviceGet(&dev, 0));
    REQUIRE_OK(cuDevicePrimaryCtxRetain(&ctx, dev));
    REQUIRE_OK(cuCtxSetCurrent(ctx));
    return ctx;
}

/* The simulator's own entry point `name`, past the hook: the object the hook already loaded
 * (RTLD_NOLOAD, so never a second copy with its own state). Call it after cuInit. */
static inline void *sim_entry(const char *name)
{
    static void *sim;
    if (!sim) {
        sim = dlopen(getenv("GPOOL_REAL_DRIVER"), RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
        REQUIRE(sim, "the simulator is loaded: %s", dlerror());
    }
    void *fn = dlsym(sim, name);
    REQUIRE(fn, "simulator %s", name);
    return fn;
}

/* Bytes the current context's device (not the vGPU) has free, as the simulator itself reports
 * it; the simulator reaps dead processes' memory before it answers. A charge of the vGPU is
 * right when it equals what this figure lost. */
static inline uint64_t device_free(void)
{
    static CUresult (*sim_mem_get_info)(size_t *, size_t *);
    if (!sim_mem_get_info)
        sim_mem_get_info = (CUresult(*)(size_t *, size_t *))sim_entry("cuMemGetInfo_v2");
    size_t f = 0, t = 0;
    CHECK_OK(sim_mem_get_info(&f, &t));
    return f;
}

/* Writes the path of GPOOL_VGPU's ledger file (<ledger_dir()>/gpool-vgpu-<name>) into path. */
static inline void vgpu_ledger_path(char *path, size_t len)
{
    REQUIRE_OK(ledger_dir(path, len));
    size_t n = strlen(path);
    snprintf(path + n, len - n, "/gpool-vgpu-%s", getenv("GPOOL_VGPU"));
}

/* Removes GPOOL_VGPU's ledger, so that the test starts from none: the first process that
 * attaches (the hook in cuInit) creates it with the environment's limits. */
static inline void remove_ledger(void)
{
    char path[4096];
    vgpu_ledger_path(path, sizeof(path));
    unlink(path);
}

/* Opens this test's own handle on GPOOL_VGPU's ledger: a slot of its own, next to the hook's.
 * The caller closes it with ledger_close. */
static inline struct ledger *open_ledger(void)
{
    struct ledger *l = NULL;
    char err[256] = "";
    int rc = ledger_open(NULL, getenv("GPOOL_VGPU"), NULL, &l, err, sizeof(err));
    REQUIRE(rc == 0, "ledger_open: %d %s", rc, err);
    return l;
}

/* Bytes the vGPU charges on device `dev` (all processes, reservations included); checks that the
 * ledger's cap there is `cap`, the test's GPOOL_VRAM_LIMIT. Each test wraps it with its own cap
 * as vgpu_used(l). */
static inline uint64_t vgpu_used_on(struct ledger *l, int dev, uint64_t cap)
{
    uint64_t used = 0, got_cap = 0;
    CHECK_OK(ledger_usage(l, dev, &used, &got_cap));
    CHECK(got_cap == cap, "ledger cap %llu", (unsigned long long)got_cap);
    return used;
}

/* Checks that the ledger is sound: ledger_check's invariants (usage equals the sum of its
 * records, per device and per process; records belong to attached slots) hold. */
static inline void check_ledger(struct ledger *l)
{
    char err[256] = "";
    int rc = ledger_check(l, err, sizeof(err));
    CHECK(rc == 0, "ledger_check: %d %s", rc, err);
}

/* The vGPU's counters: launches charged and throttled, GPU time charged, processes reaped, lock
 * repairs. */
static inline struct ledger_stats vgpu_stats(struct ledger *l)
{
    struct ledger_stats s;
    memset(&s, 0, sizeof(s));
    CHECK_OK(ledger_get_stats(l, &s));
    return s;
}

/* spin(u32 *out, u32 n): one thread sums 0 .. n-1 into *out, a kernel that takes measurable
 * time on the simulator (what the compute share charges). Launch it 1x1x1. */
static const char spin_ptx[] = ".version 7.0\n"
                               ".target sm_80\n"
                               ".address_size 64\n"
                               ".visible .entry spin(.param .u64 out, .param .u32 n)\n"
                               "{\n"
                               "  .reg .u32 %r<4>;\n"
                               "  .reg .u64 %rd<3>;\n"
                               "  .reg .pred %p;\n"
                               "  ld.param.u64 %rd1, [out];\n"
                               "  ld.param.u32 %r1, [n];\n"
                               "  mov.u32 %r2, 0;\n"
                               "  mov.u32 %r3, 0;\n"
                               "LOOP:\n"
                               "  setp.ge.u32 %p, %r2, %r1;\n"
                               "  @%p bra DONE;\n"
                               "  add.u32 %r3, %r3, %r2;\n"
                               "  add.u32 %r2, %r2, 1;\n"
                               "  bra LOOP;\n"
                               "DONE:\n"
                               "  cvta.to.global.u64 %rd2, %rd1;\n"
                               "  st.global.u32 [%rd2], %r3;\n"
                               "  ret;\n"
                               "}\n";

/* Loads spin_ptx into the current context and returns its kernel (the module stays loaded). */
static inline CUfunction load_spin(void)
{
    CUmodule mod;
    CUfunction fn;
    REQUIRE_OK(cuModuleLoadData(&mod, spin_ptx));
    REQUIRE_OK(cuModuleGetFunction(&fn, mod, "spin"));
    return fn;
}

#endif
