/*
 * CUDA graph memory under the local vGPU's VRAM cap (src/hook/vram_graph.c), through the hook
 * over the simulated GPU, under a 64 MiB cap on an 80 GB device (GPOOL_VRAM_OVERHEAD=0). Run as
 * `test_hook_vram_graph <mode>`; GPOOL_VGPU, GPOOL_VRAM_LIMIT and GPOOL_VGPU_DIR come from the
 * environment. The simulator is also opened directly (GPOOL_REAL_DRIVER) to read what the device
 * really has free: after every step the vGPU's charge must equal what the device lost, and a
 * refused launch must not have reached the driver.
 *
 *   cached       alloc -> memset -> free: charged at launch, kept while the driver caches it,
 *                credited by cuDeviceGraphMemTrim; a relaunch charges nothing new; a second
 *                graph refused at the cap while the first's memory is cached, launched after a
 *                trim
 *   capture      a graph captured from cuMemAllocAsync / cuMemAllocFromPoolAsync /
 *                cuMemFreeAsync: nothing charged at capture, charged at launch
 *   outstanding  an allocation node without a free: live after the launch, freed outside the
 *                graph with cuMemFreeAsync (cached: still charged) then trimmed; freed after its
 *                graph and executable are gone (cuMemFreeAsync, cuMemFree): credited at once
 *   destroy      cached memory credited when its executable and graph are both destroyed, in
 *                either order
 *   upload       cuGraphUpload and cuGraphInstantiateWithParams(UPLOAD) charge what the upload
 *                backs, refused at the cap before the driver; the launch then charges nothing
 */
#include "hook_test.h"

#include <dlfcn.h>
#include <stdint.h>
#include <string.h>

#define MIB (1024ull * 1024ull)
#define CAP (64 * MIB)

static uint64_t dev0; /* the device's free memory before the test made anything */
static CUcontext ctx; /* device 0's primary context, current */

/* What the vGPU charges on device 0, under the test's 64 MiB cap. */
static uint64_t vgpu_used(struct ledger *l)
{
    return vgpu_used_on(l, 0, CAP);
}

/* The vGPU charges `want`, which is what the device lost, and the ledger is sound. */
#define CHECK_EXACT(l, want)                                                                       \
    do {                                                                                           \
        uint64_t used_ = vgpu_used(l), lost_ = dev0 - device_free();                               \
        CHECK(used_ == (want), "vGPU uses %llu, expected %llu", (unsigned long long)used_,         \
              (unsigned long long)(want));                                                         \
        CHECK(lost_ == used_, "the device lost %llu, the vGPU charges %llu",                       \
              (unsigned long long)lost_, (unsigned long long)used_);                               \
        char err_[256] = "";                                                                       \
        int rc_ = ledger_check(l, err_, sizeof(err_));                                             \
        CHECK(rc_ == 0, "ledger_check: %d %s", rc_, err_);                                         \
    } while (0)

/* The vGPU charges `want` (a charge the simulator has not backed yet) and the ledger is sound. */
#define CHECK_USED(l, want)                                                                        \
    do {                                                                                           \
        uint64_t used_ = vgpu_used(l);                                                             \
        CHECK(used_ == (want), "vGPU uses %llu, expected %llu", (unsigned long long)used_,         \
              (unsigned long long)(want));                                                         \
        char err_[256] = "";                                                                       \
        int rc_ = ledger_check(l, err_, sizeof(err_));                                             \
        CHECK(rc_ == 0, "ledger_check: %d %s", rc_, err_);                                         \
    } while (0)

static uint64_t graph_reserved(void)
{
    cuuint64_t v = 0;
    CHECK_OK(cuDeviceGetGraphMemAttribute(0, CU_GRAPH_MEM_ATTR_RESERVED_MEM_CURRENT, &v));
    return v;
}

/* A graph: allocation node of `bytes` on device 0 -> memset node over it -> free node (when
 * with_free). *va is the allocation's address. */
static CUgraph make_graph(uint64_t bytes, int with_free, CUdeviceptr *va)
{
    CUgraph g;
    REQUIRE_OK(cuGraphCreate(&g, 0));
    CUDA_MEM_ALLOC_NODE_PARAMS ap;
    memset(&ap, 0, sizeof(ap));
    ap.poolProps.allocType = CU_MEM_ALLOCATION_TYPE_PINNED;
    ap.poolProps.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
    ap.poolProps.location.id = 0;
    ap.bytesize = bytes;
    CUgraphNode an, mn, fn;
    REQUIRE_OK(cuGraphAddMemAllocNode(&an, g, NULL, 0, &ap));
    CUDA_MEMSET_NODE_PARAMS mp = {
        .dst = ap.dptr, .value = 0x5a5a5a5a, .elementSize = 4, .width = bytes / 4, .height = 1};
    REQUIRE_OK(cuGraphAddMemsetNode(&mn, g, &an, 1, &mp, ctx));
    if (with_free)
        REQUIRE_OK(cuGraphAddMemFreeNode(&fn, g, &mn, 1, ap.dptr));
    *va = ap.dptr;
    return g;
}

static void test_cached(struct ledger *l, CUstream s)
{
    CUdeviceptr va1, va2;
    CUgraph g1 = make_graph(48 * MIB, 1, &va1), g2 = make_graph(32 * MIB, 1, &va2);
    CUgraphExec x1, x2;
    CHECK_OK(cuGraphInstantiate(&x1, g1, 0));
    CHECK_OK(cuGraphInstantiate(&x2, g2, 0));
    CHECK_EXACT(l, 0); /* instantiation backs nothing */

    /* (a) Charged at launch; the driver keeps the memory cached after the free node ran. */
    CHECK_OK(cuGraphLaunch(x1, s));
    CHECK_USED(l, 48 * MIB);
    CHECK_OK(cuStreamSynchronize(s));
    CHECK_EXACT(l, 48 * MIB);
    CHECK(graph_reserved() == 48 * MIB, "the driver caches %llu",
          (unsigned long long)graph_reserved());

    /* (c) Relaunches run over the cached memory: nothing new. */
    CHECK_OK(cuGraphLaunch(x1, s));
    CHECK_OK(cuGraphLaunch(x1, s));
    CHECK_USED(l, 48 * MIB);
    CHECK_OK(cuStreamSynchronize(s));
    CHECK_EXACT(l, 48 * MIB);

    /* (b) 48 + 32 MiB passes the cap: refused before the driver, the device untouched. */
    uint64_t before = device_free();
    CHECK_RC(cuGraphLaunch(x2, s), CUDA_ERROR_OUT_OF_MEMORY);
    CHECK_OK(cuStreamSynchronize(s));
    CHECK(device_free() == before, "a refused launch reached the driver");
    CHECK_EXACT(l, 48 * MIB);

    /* (a) A trim gives the cached memory back: credited exactly what the device got back. */
    before = device_free();
    CHECK_OK(cuDeviceGraphMemTrim(0));
    CHECK(device_free() - before == 48 * MIB, "the trim gave back %llu",
          (unsigned long long)(device_free() - before));
    CHECK_EXACT(l, 0);

    /* (b) After the trim the second graph fits; then the first is refused in turn. */
    CHECK_OK(cuGraphLaunch(x2, s));
    CHECK_OK(cuStreamSynchronize(s));
    CHECK_EXACT(l, 32 * MIB);
    before = device_free();
    CHECK_RC(cuGraphLaunch(x1, s), CUDA_ERROR_OUT_OF_MEMORY);
    CHECK_OK(cuStreamSynchronize(s));
    CHECK(device_free() == before, "a refused launch reached the driver");
    CHECK_OK(cuDeviceGraphMemTrim(0));
    CHECK_EXACT(l, 0);
    CHECK_OK(cuGraphLaunch(x1, s));
    CHECK_OK(cuStreamSynchronize(s));
    CHECK_EXACT(l, 48 * MIB);

    /* (f) Executables and graphs destroyed: everything is given back and credited. */
    CHECK_OK(cuGraphExecDestroy(x2));
    CHECK_OK(cuGraphDestroy(g2));
    CHECK_EXACT(l, 48 * MIB);
    CHECK_OK(cuGraphExecDestroy(x1));
    CHECK_OK(cuGraphDestroy(g1));
    CHECK_EXACT(l, 0);
}

static void test_capture(struct ledger *l, CUstream s)
{
    CUmemoryPool pool;
    CHECK_OK(cuDeviceGetDefaultMemPool(&pool, 0));
    /* Outside a capture the stream-ordered paths are charged as before. */
    CUdeviceptr eager;
    CHECK_OK(cuMemAllocAsync(&eager, 4 * MIB, s));
    CHECK_USED(l, 4 * MIB);
    CHECK_OK(cuMemFreeAsync(eager, s));
    CHECK_USED(l, 4 * MIB); /* charged until a synchronisation shows the pool gave it back */
    CHECK_OK(cuStreamSynchronize(s));
    CHECK_EXACT(l, 0);

    /* (d) Captured: allocation and free nodes, nothing charged or credited at capture. */
    CHECK_OK(cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_GLOBAL));
    CUdeviceptr a = 0, b = 0;
    CHECK_OK(cuMemAllocAsync(&a, 40 * MIB, s));
    CHECK_OK(cuMemAllocFromPoolAsync(&b, 8 * MIB - 100, pool, s));
    CHECK_USED(l, 0);
    CHECK_OK(cuMemsetD32Async(a, 7, 40 * MIB / 4, s));
    CHECK_OK(cuMemsetD8Async(b, 1, 8 * MIB - 100, s));
    CHECK_OK(cuMemFreeAsync(a, s));
    CHECK_OK(cuMemFreeAsync(b, s));
    CUgraph g = NULL;
    CHECK_OK(cuStreamEndCapture(s, &g));
    REQUIRE(g != NULL, "captured");
    CHECK_EXACT(l, 0);

    CUgraphExec x;
    CHECK_OK(cuGraphInstantiate(&x, g, 0));
    CHECK_OK(cuGraphLaunch(x, s));
    CHECK_USED(l, 48 * MIB);
    CHECK_OK(cuStreamSynchronize(s));
    CHECK_EXACT(l, 48 * MIB);
    /* Eager allocations now see the graph's charge: 48 + 17 MiB passes the cap. */
    CHECK_RC(cuMemAllocAsync(&eager, 17 * MIB, s), CUDA_ERROR_OUT_OF_MEMORY);
    CHECK_OK(cuStreamSynchronize(s));
    CHECK_EXACT(l, 48 * MIB);
    CHECK_OK(cuGraphLaunch(x, s));
    CHECK_OK(cuStreamSynchronize(s));
    CHECK_EXACT(l, 48 * MIB);
    CHECK_OK(cuDeviceGraphMemTrim(0));
    CHECK_EXACT(l, 0);
    CHECK_OK(cuGraphExecDestroy(x));
    CHECK_OK(cuGraphDestroy(g));
    CHECK_EXACT(l, 0);
}

static void test_outstanding(struct ledger *l, CUstream s)
{
    /* (e) No free node: the allocation stays live after the launch. */
    CUdeviceptr va;
    CUgraph g = make_graph(48 * MIB, 0, &va);
    CUgraphExec x;
    CHECK_OK(cuGraphInstantiate(&x, g, 0));
    CHECK_OK(cuGraphLaunch(x, s));
    CHECK_OK(cuStreamSynchronize(s));
    CHECK_EXACT(l, 48 * MIB);
    uint32_t w = 0;
    CHECK_OK(cuMemcpyDtoH(&w, va + 40 * MIB, sizeof(w)));
    CHECK(w == 0x5a5a5a5a, "stream work after the graph reads it: %#x", w);
    /* Freed outside the graph: the driver keeps it cached for the graph, still charged. */
    CHECK_OK(cuMemFreeAsync(va, s));
    CHECK_USED(l, 48 * MIB);
    CHECK_OK(cuStreamSynchronize(s));
    CHECK_EXACT(l, 48 * MIB);
    CHECK_OK(cuDeviceGraphMemTrim(0));
    CHECK_EXACT(l, 0);

    /* Launched again, then its executable and graph destroyed while it is live: still held. */
    CHECK_OK(cuGraphLaunch(x, s));
    CHECK_OK(cuStreamSynchronize(s));
    CHECK_EXACT(l, 48 * MIB);
    CHECK_OK(cuGraphExecDestroy(x));
    CHECK_OK(cuGraphDestroy(g));
    CHECK_EXACT(l, 48 * MIB);
    /* Nothing names it any more: the free releases it, credited when enqueued. */
    CHECK_OK(cuMemFreeAsync(va, s));
    CHECK_USED(l, 0);
    CHECK_OK(cuStreamSynchronize(s));
    CHECK_EXACT(l, 0);

    /* The same with cuMemFree. */
    g = make_graph(40 * MIB, 0, &va);
    CHECK_OK(cuGraphInstantiate(&x, g, 0));
    CHECK_OK(cuGraphLaunch(x, s));
    CHECK_OK(cuStreamSynchronize(s));
    CHECK_EXACT(l, 40 * MIB);
    CHECK_OK(cuGraphDestroy(g));
    CHECK_OK(cuGraphExecDestroy(x));
    CHECK_EXACT(l, 40 * MIB);
    CHECK_OK(cuMemFree(va));
    CHECK_EXACT(l, 0);
}

static void test_destroy(struct ledger *l, CUstream s)
{
    CUdeviceptr va;
    CUgraph g = make_graph(48 * MIB, 1, &va);
    CUgraphExec x;
    CHECK_OK(cuGraphInstantiate(&x, g, 0));
    CHECK_OK(cuGraphLaunch(x, s));
    CHECK_OK(cuStreamSynchronize(s));
    CHECK_EXACT(l, 48 * MIB);
    /* (f) The graph still names it after its executable goes, and the other way round. */
    CHECK_OK(cuGraphExecDestroy(x));
    CHECK_EXACT(l, 48 * MIB);
    CHECK_OK(cuGraphDestroy(g));
    CHECK_EXACT(l, 0);

    /* The older instantiation export and the per-thread launch export are wrapped the same. */
    CUresult (*instantiate_v2)(CUgraphExec *, CUgraph, CUgraphNode *, char *, size_t) =
        (CUresult(*)(CUgraphExec *, CUgraph, CUgraphNode *, char *, size_t))dlsym(
            RTLD_DEFAULT, "cuGraphInstantiate_v2");
    CUresult (*launch_ptsz)(CUgraphExec, CUstream) =
        (CUresult(*)(CUgraphExec, CUstream))dlsym(RTLD_DEFAULT, "cuGraphLaunch_ptsz");
    REQUIRE(instantiate_v2 && launch_ptsz, "the hook exports cuGraphInstantiate_v2 and "
                                           "cuGraphLaunch_ptsz");
    g = make_graph(60 * MIB, 1, &va);
    char log[64];
    CHECK_OK(instantiate_v2(&x, g, NULL, log, sizeof(log)));
    CHECK_OK(launch_ptsz(x, s));
    CHECK_USED(l, 60 * MIB);
    CHECK_OK(cuStreamSynchronize(s));
    CHECK_EXACT(l, 60 * MIB);
    CHECK_OK(cuGraphDestroy(g));
    CHECK_EXACT(l, 60 * MIB);
    CHECK_OK(cuGraphLaunch(x, s)); /* the executable stands alone */
    CHECK_OK(cuStreamSynchronize(s));
    CHECK_EXACT(l, 60 * MIB);
    CHECK_OK(cuGraphExecDestroy(x));
    CHECK_EXACT(l, 0);
}

static void test_upload(struct ledger *l, CUstream s)
{
    CUdeviceptr va1, va2;
    CUgraph g1 = make_graph(48 * MIB, 1, &va1), g2 = make_graph(32 * MIB, 1, &va2);
    CUgraphExec x1, x2;
    CHECK_OK(cuGraphInstantiate(&x1, g1, 0));
    /* The driver may back the allocations when it uploads: charged then. */
    CHECK_OK(cuGraphUpload(x1, s));
    CHECK_USED(l, 48 * MIB);
    CHECK_OK(cuGraphLaunch(x1, s));
    CHECK_OK(cuStreamSynchronize(s));
    CHECK_EXACT(l, 48 * MIB);

    /* Instantiation with an upload is refused at the cap before the driver sees it. */
    CUDA_GRAPH_INSTANTIATE_PARAMS ip;
    memset(&ip, 0, sizeof(ip));
    ip.flags = CUDA_GRAPH_INSTANTIATE_FLAG_UPLOAD;
    ip.hUploadStream = s;
    uint64_t before = device_free();
    CHECK_RC(cuGraphInstantiateWithParams(&x2, g2, &ip), CUDA_ERROR_OUT_OF_MEMORY);
    CHECK(ip.result_out == CUDA_GRAPH_INSTANTIATE_ERROR, "result %d", (int)ip.result_out);
    CHECK(device_free() == before, "a refused instantiation reached the driver");
    CHECK_EXACT(l, 48 * MIB);
    CHECK_OK(cuDeviceGraphMemTrim(0));
    CHECK_EXACT(l, 0);
    CHECK_OK(cuGraphInstantiateWithParams(&x2, g2, &ip));
    CHECK(ip.result_out == CUDA_GRAPH_INSTANTIATE_SUCCESS, "result %d", (int)ip.result_out);
    CHECK_USED(l, 32 * MIB);
    CHECK_OK(cuGraphLaunch(x2, s));
    CHECK_OK(cuStreamSynchronize(s));
    CHECK_EXACT(l, 32 * MIB);
    /* An upload past the cap is refused too. */
    before = device_free();
    CHECK_RC(cuGraphUpload(x1, s), CUDA_ERROR_OUT_OF_MEMORY);
    CHECK_OK(cuStreamSynchronize(s));
    CHECK(device_free() == before, "a refused upload reached the driver");
    CHECK_EXACT(l, 32 * MIB);

    CHECK_OK(cuGraphExecDestroy(x1));
    CHECK_OK(cuGraphExecDestroy(x2));
    CHECK_OK(cuGraphDestroy(g1));
    CHECK_OK(cuGraphDestroy(g2));
    CHECK_EXACT(l, 0);
}

int main(int argc, char **argv)
{
    REQUIRE(argc == 2, "usage: test_hook_vram_graph cached|capture|outstanding|destroy|upload");
    remove_ledger();
    ctx = init_cuda();
    struct ledger *l = open_ledger();
    CUstream s;
    REQUIRE_OK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
    dev0 = device_free();
    CHECK_EXACT(l, 0);
    if (strcmp(argv[1], "cached") == 0)
        test_cached(l, s);
    else if (strcmp(argv[1], "capture") == 0)
        test_capture(l, s);
    else if (strcmp(argv[1], "outstanding") == 0)
        test_outstanding(l, s);
    else if (strcmp(argv[1], "destroy") == 0)
        test_destroy(l, s);
    else if (strcmp(argv[1], "upload") == 0)
        test_upload(l, s);
    else
        REQUIRE(0, "unknown mode '%s'", argv[1]);
    CHECK_OK(cuStreamDestroy(s));
    CHECK(graph_reserved() == 0, "the driver still caches %llu",
          (unsigned long long)graph_reserved());
    ledger_close(l);
    return check_done(argv[1]);
}
