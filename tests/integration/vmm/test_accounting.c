/*
 * Capacity accounting across every kind of allocation of the simulated GPU at once: plain,
 * pitched, managed, VMM (cuMemCreate + map), a stream-ordered pool block, a live graph
 * allocation, a CUDA array and a loaded module with a .global variable. After each step
 * cuMemGetInfo's free memory must drop by exactly what the kind is documented to charge
 * (docs/internals/sim.md), computed here from the requested sizes, and NVML's used memory, for
 * the device and for this process, must agree with cuMemGetInfo. Freeing each in turn returns
 * everything to the starting value exactly.
 */
#include <cuda.h>
#include <nvml.h>
#include <string.h>
#include <unistd.h>

#include "check.h"

#define KIB ((size_t)1024)
#define MIB ((size_t)1024 * 1024)

/* The model's module_overhead_bytes for the H100-80GB the test environment simulates. */
#define MODULE_OVERHEAD (2 * MIB)

/* A module with one kernel and a .global variable of 10000 bytes (one 4 KiB-rounded block). */
static const char ptx[] = ".version 8.0\n"
                          ".target sm_80\n"
                          ".address_size 64\n"
                          ".global .align 4 .b8 acct_buf[10000];\n"
                          ".visible .entry acct_nop()\n"
                          "{\n"
                          "    ret;\n"
                          "}\n";

static nvmlDevice_t g_nd;

static size_t round_up(size_t v, size_t g)
{
    return (v + g - 1) / g * g;
}

static size_t used_now(void)
{
    size_t f = 0, t = 0;
    CHECK_OK(cuMemGetInfo(&f, &t));
    return t - f;
}

/* Checks that the device's used memory is base + want, as CUDA and NVML (device and this
 * process) see it. */
static void expect_used(const char *step, size_t base, size_t want)
{
    size_t f = 0, t = 0;
    CHECK_OK(cuMemGetInfo(&f, &t));
    CHECK(t - f == base + want, "%s: cuMemGetInfo charges %zu, want %zu", step, t - f - base,
          want);
    nvmlMemory_t m;
    CHECK(nvmlDeviceGetMemoryInfo(g_nd, &m) == NVML_SUCCESS, "%s: nvml memory", step);
    CHECK(m.used == t - f && m.free == f, "%s: NVML used %llu free %llu, CUDA used %zu free %zu",
          step, (unsigned long long)m.used, (unsigned long long)m.free, t - f, f);
    nvmlProcessInfo_t procs[8];
    unsigned int n = 8;
    CHECK(nvmlDeviceGetComputeRunningProcesses_v3(g_nd, &n, procs) == NVML_SUCCESS,
          "%s: nvml processes", step);
    unsigned long long mine = 0;
    int found = 0;
    for (unsigned int i = 0; i < n; i++)
        if (procs[i].pid == (unsigned int)getpid()) {
            mine = procs[i].usedGpuMemory;
            found = 1;
        }
    CHECK(found, "%s: this process is listed by NVML", step);
    /* The instance is this test's own: every byte used is this process's. */
    CHECK(mine == t - f, "%s: NVML process used %llu, CUDA used %zu", step, mine, t - f);
}

int main(void)
{
    CUdevice dev;
    CUcontext ctx;
    REQUIRE_OK(cuInit(0));
    REQUIRE_OK(cuDeviceGet(&dev, 0));
    REQUIRE_OK(cuDevicePrimaryCtxRetain(&ctx, dev));
    REQUIRE_OK(cuCtxSetCurrent(ctx));
    REQUIRE(nvmlInit_v2() == NVML_SUCCESS, "nvmlInit");
    REQUIRE(nvmlDeviceGetHandleByIndex_v2(0, &g_nd) == NVML_SUCCESS, "nvml handle");
    CUstream s;
    REQUIRE_OK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));

    const size_t base = used_now(); /* the context's overhead */
    size_t want = 0;
    expect_used("start", base, want);

    /* Plain: 4 KiB granules. */
    CUdeviceptr plain;
    REQUIRE_OK(cuMemAlloc(&plain, 1000 * KIB + 1));
    want += round_up(1000 * KIB + 1, 4 * KIB);
    expect_used("cuMemAlloc", base, want);

    /* Pitched: pitch = width rounded to 512 bytes, pitch x height charged in 4 KiB granules. */
    CUdeviceptr pitched;
    size_t pitch = 0;
    REQUIRE_OK(cuMemAllocPitch(&pitched, &pitch, 1000, 37, 4));
    CHECK(pitch == 1024, "pitch %zu", pitch);
    want += round_up(1024 * 37, 4 * KIB);
    expect_used("cuMemAllocPitch", base, want);

    /* Managed: charged like device memory. */
    CUdeviceptr managed;
    REQUIRE_OK(cuMemAllocManaged(&managed, 5000, CU_MEM_ATTACH_GLOBAL));
    want += round_up(5000, 4 * KIB);
    expect_used("cuMemAllocManaged", base, want);

    /* VMM: sizes are multiples of the 2 MiB granularity, charged at cuMemCreate; reserving and
     * mapping charge nothing. */
    CUmemAllocationProp prop;
    memset(&prop, 0, sizeof(prop));
    prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
    prop.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
    prop.location.id = 0;
    size_t gran = 0;
    CHECK_OK(cuMemGetAllocationGranularity(&gran, &prop, CU_MEM_ALLOC_GRANULARITY_MINIMUM));
    CHECK(gran == 2 * MIB, "granularity %zu", gran);
    CUmemGenericAllocationHandle h;
    REQUIRE_OK(cuMemCreate(&h, 3 * 2 * MIB, &prop, 0));
    want += 6 * MIB;
    expect_used("cuMemCreate", base, want);
    CUdeviceptr va;
    REQUIRE_OK(cuMemAddressReserve(&va, 6 * MIB, 0, 0, 0));
    REQUIRE_OK(cuMemMap(va, 6 * MIB, 0, h, 0));
    CUmemAccessDesc acc = { .location = prop.location, .flags = CU_MEM_ACCESS_FLAGS_PROT_READWRITE };
    REQUIRE_OK(cuMemSetAccess(va, 6 * MIB, &acc, 1));
    CHECK_OK(cuMemsetD8(va, 1, 6 * MIB));
    expect_used("cuMemMap", base, want);

    /* Pool: each block is its own charge in 4 KiB granules. */
    CUdeviceptr pooled;
    REQUIRE_OK(cuMemAllocAsync(&pooled, 3 * MIB + 100, s));
    CHECK_OK(cuStreamSynchronize(s));
    want += round_up(3 * MIB + 100, 4 * KIB);
    expect_used("cuMemAllocAsync", base, want);

    /* Graph allocation: nothing while the graph is built (the 2 MiB-granular address range is
     * only reserved), the 4 KiB-rounded size once the launched allocation node made it live. */
    CUgraph g;
    REQUIRE_OK(cuGraphCreate(&g, 0));
    CUDA_MEM_ALLOC_NODE_PARAMS ap;
    memset(&ap, 0, sizeof(ap));
    ap.poolProps.allocType = CU_MEM_ALLOCATION_TYPE_PINNED;
    ap.poolProps.location = prop.location;
    ap.bytesize = 700 * KIB + 3;
    CUgraphNode an;
    REQUIRE_OK(cuGraphAddMemAllocNode(&an, g, NULL, 0, &ap));
    CUgraphExec x;
    REQUIRE_OK(cuGraphInstantiate(&x, g, 0));
    expect_used("cuGraphAddMemAllocNode", base, want);
    REQUIRE_OK(cuGraphLaunch(x, s));
    CHECK_OK(cuStreamSynchronize(s));
    want += round_up(700 * KIB + 3, 4 * KIB);
    expect_used("cuGraphLaunch", base, want);

    /* Array: rows padded to 512 bytes, layers one after another, total in 4 KiB granules. */
    CUDA_ARRAY3D_DESCRIPTOR ad;
    memset(&ad, 0, sizeof(ad));
    ad.Width = 100; /* 400 bytes a row: 512 */
    ad.Height = 37;
    ad.Depth = 3;
    ad.Format = CU_AD_FORMAT_FLOAT;
    ad.NumChannels = 1;
    ad.Flags = CUDA_ARRAY3D_LAYERED;
    CUarray arr;
    REQUIRE_OK(cuArray3DCreate(&arr, &ad));
    want += round_up(512 * 37 * 3, 4 * KIB);
    expect_used("cuArray3DCreate", base, want);

    /* Module: the model's overhead plus its .global variable, a 4 KiB-rounded device block. */
    CUmodule mod;
    REQUIRE_OK(cuModuleLoadData(&mod, ptx));
    CUdeviceptr gv;
    size_t gsz = 0;
    CHECK_OK(cuModuleGetGlobal(&gv, &gsz, mod, "acct_buf"));
    CHECK(gsz == 10000, "global size %zu", gsz);
    want += MODULE_OVERHEAD + round_up(10000, 4 * KIB);
    expect_used("cuModuleLoadData", base, want);

    /* Everything goes back, one kind at a time. */
    CHECK_OK(cuModuleUnload(mod));
    want -= MODULE_OVERHEAD + round_up(10000, 4 * KIB);
    expect_used("cuModuleUnload", base, want);
    CHECK_OK(cuArrayDestroy(arr));
    want -= round_up(512 * 37 * 3, 4 * KIB);
    expect_used("cuArrayDestroy", base, want);
    CHECK_OK(cuMemFreeAsync(ap.dptr, s));
    CHECK_OK(cuStreamSynchronize(s));
    CHECK_OK(cuGraphExecDestroy(x));
    CHECK_OK(cuGraphDestroy(g));
    CHECK_OK(cuDeviceGraphMemTrim(0)); /* the backing may stay cached until trimmed */
    want -= round_up(700 * KIB + 3, 4 * KIB);
    expect_used("graph free", base, want);
    CHECK_OK(cuMemFreeAsync(pooled, s));
    CHECK_OK(cuStreamSynchronize(s)); /* release threshold 0: the block goes back */
    want -= round_up(3 * MIB + 100, 4 * KIB);
    expect_used("cuMemFreeAsync", base, want);
    CHECK_OK(cuMemUnmap(va, 6 * MIB));
    CHECK_OK(cuMemAddressFree(va, 6 * MIB));
    expect_used("cuMemUnmap", base, want); /* the handle still holds the memory */
    CHECK_OK(cuMemRelease(h));
    want -= 6 * MIB;
    expect_used("cuMemRelease", base, want);
    CHECK_OK(cuMemFree(managed));
    want -= round_up(5000, 4 * KIB);
    expect_used("managed free", base, want);
    CHECK_OK(cuMemFree(pitched));
    want -= round_up(1024 * 37, 4 * KIB);
    expect_used("pitched free", base, want);
    CHECK_OK(cuMemFree(plain));
    want -= round_up(1000 * KIB + 1, 4 * KIB);
    CHECK(want == 0, "every charge undone");
    expect_used("end", base, 0);

    CHECK_OK(cuStreamDestroy(s));
    nvmlShutdown();
    CHECK_OK(cuDevicePrimaryCtxRelease(dev));
    return check_done("vmm-accounting");
}
