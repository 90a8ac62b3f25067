/*
 * Memory nodes of CUDA graphs (src/sim/graph.c, pool.c): captured cuMemAllocAsync/cuMemFreeAsync,
 * explicit allocation and free nodes, capacity seen by cuMemGetInfo and NVML, and the documented
 * errors.
 */
#include <nvml.h>

#include "graph_test.h"

#define N 1000u
#define MIB (1024u * 1024u)

static unsigned long long nvml_used(void)
{
    nvmlDevice_t nd;
    nvmlMemory_t m;
    if (nvmlDeviceGetHandleByIndex_v2(0, &nd) != NVML_SUCCESS ||
        nvmlDeviceGetMemoryInfo(nd, &m) != NVML_SUCCESS)
        return 0;
    return m.used;
}

static size_t free_mem(void)
{
    size_t fr = 0, total = 0;
    CHECK_OK(cuMemGetInfo(&fr, &total));
    return fr;
}

/* alloc -> kernels, captured, the allocation left to stream work after the launch (copy out,
 * cuMemFreeAsync); the same work eagerly gives the same bytes; relaunches repeat it. */
static void test_capture(struct graph_test *t)
{
    CUstream s;
    REQUIRE_OK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
    uint32_t eager[N], got[N];
    CUdeviceptr d;
    REQUIRE_OK(cuMemAlloc(&d, N * 4));
    CHECK_OK(cuMemsetD32Async(d, 5, N, s));
    CHECK_OK(graph_test_launch(t->mul, s, d, N, 3));
    CHECK_OK(graph_test_launch(t->add, s, d, N, 1));
    CHECK_OK(cuMemcpyDtoHAsync(eager, d, N * 4, s));
    CHECK_OK(cuStreamSynchronize(s));
    CHECK_OK(cuMemFree(d));
    for (unsigned i = 0; i < N; i++)
        CHECK(eager[i] == 16, "eager[%u] = %u", i, eager[i]);

    size_t before = free_mem();
    CHECK_OK(cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_GLOBAL));
    CUdeviceptr g = 0;
    CHECK_OK(cuMemAllocAsync(&g, N * 4, s));
    CHECK(g != 0, "captured allocation has an address");
    CHECK_OK(graph_test_launch(t->mul, s, g, N, 0));
    CHECK_OK(graph_test_launch(t->add, s, g, N, 5));
    CHECK_OK(graph_test_launch(t->mul, s, g, N, 3));
    CHECK_OK(graph_test_launch(t->add, s, g, N, 1));
    CUgraph graph = NULL;
    CHECK_OK(cuStreamEndCapture(s, &graph));
    CHECK(free_mem() == before, "capture charges nothing");
    size_t nn = 0;
    CHECK_OK(cuGraphGetNodes(graph, NULL, &nn));
    CHECK(nn == 5, "five nodes, got %zu", nn);
    CUgraphNode nodes[5];
    CHECK_OK(cuGraphGetNodes(graph, nodes, &nn));
    CUgraphNodeType ty;
    CHECK_OK(cuGraphNodeGetType(nodes[0], &ty));
    CHECK(ty == CU_GRAPH_NODE_TYPE_MEM_ALLOC, "first node allocates");

    CUDA_MEM_ALLOC_NODE_PARAMS ap;
    CHECK_OK(cuGraphMemAllocNodeGetParams(nodes[0], &ap));
    CHECK(ap.dptr == g && ap.bytesize == N * 4, "alloc params");

    CUgraphExec x;
    CHECK_OK(cuGraphInstantiate(&x, graph, 0));
    CUgraphExec x2;
    CHECK_RC(cuGraphInstantiate(&x2, graph, 0), CUDA_ERROR_INVALID_VALUE); /* one at a time */
    CUgraph clone;
    CHECK_RC(cuGraphClone(&clone, graph), CUDA_ERROR_NOT_SUPPORTED);
    CHECK_RC(cuGraphDestroyNode(nodes[2]), CUDA_ERROR_INVALID_VALUE);
    for (int rep = 0; rep < 3; rep++) {
        memset(got, 0, sizeof(got));
        CHECK_OK(cuGraphLaunch(x, s));
        CHECK_OK(cuStreamSynchronize(s)); /* copies check their operands when called */
        CHECK_OK(cuMemcpyDtoHAsync(got, g, N * 4, s));
        CHECK_OK(cuMemFreeAsync(g, s));
        CHECK_OK(cuStreamSynchronize(s));
        CHECK(memcmp(got, eager, sizeof(got)) == 0, "launch %d equals eager", rep);
    }
    cuuint64_t v = 1;
    CHECK_OK(cuDeviceGetGraphMemAttribute(0, CU_GRAPH_MEM_ATTR_USED_MEM_CURRENT, &v));
    CHECK(v == 0, "nothing in use after the graph freed it");
    CHECK_OK(cuDeviceGetGraphMemAttribute(0, CU_GRAPH_MEM_ATTR_USED_MEM_HIGH, &v));
    CHECK(v == 4096, "used high %llu", (unsigned long long)v);
    CHECK_OK(cuDeviceGetGraphMemAttribute(0, CU_GRAPH_MEM_ATTR_RESERVED_MEM_CURRENT, &v));
    CHECK(v == 4096, "cached backing %llu", (unsigned long long)v);
    CHECK_OK(cuDeviceGraphMemTrim(0));
    CHECK_OK(cuDeviceGetGraphMemAttribute(0, CU_GRAPH_MEM_ATTR_RESERVED_MEM_CURRENT, &v));
    CHECK(v == 0, "trimmed");
    CHECK(free_mem() == before, "trim returns the memory exactly");
    CHECK_OK(cuGraphExecDestroy(x));
    CHECK_OK(cuGraphInstantiate(&x2, graph, 0)); /* allowed again */
    CHECK_OK(cuGraphLaunch(x2, s));
    CHECK_OK(cuStreamSynchronize(s));
    CHECK_OK(cuMemcpyDtoHAsync(got, g, N * 4, s));
    CHECK_OK(cuMemFreeAsync(g, s));
    CHECK_OK(cuStreamSynchronize(s));
    CHECK(memcmp(got, eager, sizeof(got)) == 0, "second executable");
    CHECK_OK(cuGraphExecDestroy(x2));
    CHECK_OK(cuGraphDestroy(graph));
    CHECK(free_mem() == before, "exec and graph destroy return the memory");
    CHECK_OK(cuStreamDestroy(s));
}

/* Memset and memcpy nodes naming graph memory that is not live yet (an allocation node earlier
 * in the same graph): captured alloc -> memset -> copy to pinned host memory -> free, launched
 * three times; the same as explicit nodes; another graph cannot name that memory; a node that
 * runs while its allocation is not live fails the launch with a sticky error. */
static void test_copy_nodes(void)
{
    CUstream s;
    REQUIRE_OK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
    uint32_t *host;
    REQUIRE_OK(cuMemAllocHost((void **)&host, N * 4));
    size_t before = free_mem();

    CHECK_OK(cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_GLOBAL));
    CUdeviceptr g = 0;
    CHECK_OK(cuMemAllocAsync(&g, N * 4, s));
    CHECK_OK(cuMemsetD32Async(g, 0xA5A5A5A5u, N, s));
    CHECK_OK(cuMemsetD8Async(g + 8, 0x11, 4, s));
    CHECK_OK(cuMemcpyDtoHAsync(host, g, N * 4, s));
    CHECK_RC(cuMemcpyDtoHAsync(host, g, 8u * MIB, s), CUDA_ERROR_INVALID_VALUE); /* too long */
    CHECK_OK(cuMemFreeAsync(g, s));
    CUgraph graph = NULL;
    CHECK_OK(cuStreamEndCapture(s, &graph));
    REQUIRE(graph != NULL, "captured");
    CHECK(free_mem() == before, "capture charges nothing");
    CUgraphExec x;
    CHECK_OK(cuGraphInstantiate(&x, graph, 0));
    for (int rep = 0; rep < 3; rep++) {
        memset(host, 0, N * 4);
        CHECK_OK(cuGraphLaunch(x, s));
        CHECK_OK(cuStreamSynchronize(s));
        for (unsigned i = 0; i < N; i++) {
            uint32_t want = i == 2 ? 0x11111111u : 0xA5A5A5A5u;
            if (host[i] != want) {
                CHECK(0, "launch %d: host[%u] = %#x, want %#x", rep, i, host[i], want);
                break;
            }
        }
    }
    CHECK_OK(cuGraphExecDestroy(x));

    /* The same graph built explicitly, and a second graph that does not own the memory. */
    CUgraph eg, other;
    CHECK_OK(cuGraphCreate(&eg, 0));
    CHECK_OK(cuGraphCreate(&other, 0));
    CUDA_MEM_ALLOC_NODE_PARAMS ap;
    memset(&ap, 0, sizeof(ap));
    ap.poolProps.allocType = CU_MEM_ALLOCATION_TYPE_PINNED;
    ap.poolProps.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
    ap.poolProps.location.id = 0;
    ap.bytesize = N * 4;
    CUgraphNode na, nset, ncpy, nfree, nlate;
    CHECK_OK(cuGraphAddMemAllocNode(&na, eg, NULL, 0, &ap));
    CUcontext ctx;
    CHECK_OK(cuCtxGetCurrent(&ctx));
    CUDA_MEMSET_NODE_PARAMS mp = { .dst = ap.dptr, .value = 7, .elementSize = 4, .width = N,
                                   .height = 1 };
    CHECK_RC(cuGraphAddMemsetNode(&nset, other, NULL, 0, &mp, ctx), CUDA_ERROR_INVALID_VALUE);
    CHECK_OK(cuGraphAddMemsetNode(&nset, eg, &na, 1, &mp, ctx));
    CUDA_MEMCPY3D cp;
    memset(&cp, 0, sizeof(cp));
    cp.srcMemoryType = CU_MEMORYTYPE_DEVICE;
    cp.srcDevice = ap.dptr;
    cp.dstMemoryType = CU_MEMORYTYPE_HOST;
    cp.dstHost = host;
    cp.WidthInBytes = N * 4;
    cp.Height = 1;
    cp.Depth = 1;
    CHECK_RC(cuGraphAddMemcpyNode(&ncpy, other, NULL, 0, &cp, ctx), CUDA_ERROR_INVALID_VALUE);
    CHECK_OK(cuGraphAddMemcpyNode(&ncpy, eg, &nset, 1, &cp, ctx));
    CHECK_OK(cuGraphAddMemFreeNode(&nfree, eg, &ncpy, 1, ap.dptr));
    CHECK_OK(cuGraphInstantiate(&x, eg, 0));
    for (int rep = 0; rep < 3; rep++) {
        memset(host, 0, N * 4);
        CHECK_OK(cuGraphLaunch(x, s));
        CHECK_OK(cuStreamSynchronize(s));
        CHECK(host[0] == 7 && host[N - 1] == 7, "explicit launch %d: %u %u", rep, host[0],
              host[N - 1]);
    }
    CHECK_OK(cuGraphExecDestroy(x));
    CHECK_OK(cuGraphDestroy(other));

    /* A memset ordered after the free runs while the memory is not live: the launch fails with
     * CUDA_ERROR_ILLEGAL_ADDRESS, sticky in the launching context (a context of its own). */
    CUcontext bad;
    CUdevice dev;
    CHECK_OK(cuDeviceGet(&dev, 0));
    CHECK_OK(cuCtxCreate(&bad, NULL, 0, dev));
    CUstream bs;
    REQUIRE_OK(cuStreamCreate(&bs, CU_STREAM_NON_BLOCKING));
    CHECK_OK(cuGraphAddMemsetNode(&nlate, eg, &nfree, 1, &mp, bad));
    CHECK_OK(cuGraphInstantiate(&x, eg, 0));
    CHECK_OK(cuGraphLaunch(x, bs));
    CHECK_RC(cuStreamSynchronize(bs), CUDA_ERROR_ILLEGAL_ADDRESS);
    CHECK_RC(cuCtxSynchronize(), CUDA_ERROR_ILLEGAL_ADDRESS);
    CHECK_OK(cuGraphExecDestroy(x));
    CHECK_OK(cuGraphDestroy(eg));
    CHECK_OK(cuCtxDestroy(bad));
    CHECK_OK(cuCtxSetCurrent(ctx));

    CHECK_OK(cuGraphDestroy(graph));
    CHECK_OK(cuDeviceGraphMemTrim(0));
    CHECK(free_mem() == before, "copy-node graphs leave nothing behind");
    CHECK_OK(cuMemFreeHost(host));
    CHECK_OK(cuStreamDestroy(s));
}

/* Explicit alloc + memset + free nodes; an allocation left unfreed is visible to cuMemGetInfo and
 * NVML, blocks a relaunch, and is freed with cuMemFreeAsync or AUTO_FREE_ON_LAUNCH. */
static void test_explicit(struct graph_test *t)
{
    CUstream s;
    REQUIRE_OK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
    size_t before = free_mem();
    unsigned long long nv_before = nvml_used();
    CUgraph g;
    CHECK_OK(cuGraphCreate(&g, 0));
    CUDA_MEM_ALLOC_NODE_PARAMS ap;
    memset(&ap, 0, sizeof(ap));
    ap.poolProps.allocType = CU_MEM_ALLOCATION_TYPE_PINNED;
    ap.poolProps.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
    ap.poolProps.location.id = 0;
    ap.bytesize = 64 * MIB;
    CUgraphNode an, sn;
    CHECK_OK(cuGraphAddMemAllocNode(&an, g, NULL, 0, &ap));
    CHECK(ap.dptr != 0, "address fixed at node creation");
    /* A kernel node writes it: p[i] = p[i] * 0 + 0xabababab. */
    CUdeviceptr p = ap.dptr;
    unsigned n = 64 * MIB / 4, zero = 0, val = 0xabababab;
    void *margs[] = {&p, &n, &zero}, *aargs[] = {&p, &n, &val};
    CUDA_KERNEL_NODE_PARAMS kp = graph_test_kparams(t->mul, margs, n);
    CUgraphNode mn;
    CHECK_OK(cuGraphAddKernelNode(&mn, g, &an, 1, &kp));
    kp = graph_test_kparams(t->add, aargs, n);
    CHECK_OK(cuGraphAddKernelNode(&sn, g, &mn, 1, &kp));
    CUgraphExec x;
    CHECK_OK(cuGraphInstantiate(&x, g, 0));
    CHECK(free_mem() == before, "nothing charged before launch");
    CHECK_OK(cuGraphLaunch(x, s));
    CHECK_OK(cuStreamSynchronize(s));
    CHECK(free_mem() == before - 64 * MIB, "live allocation charged: %zu vs %zu", free_mem(),
          before);
    CHECK(nvml_used() == nv_before + 64 * MIB, "NVML sees it");
    uint32_t w[4];
    CHECK_OK(cuMemcpyDtoH(w, ap.dptr + 32 * MIB, sizeof(w)));
    CHECK(w[0] == 0xabababab && w[3] == 0xabababab, "stream work after the graph uses it");
    CHECK_RC(cuGraphLaunch(x, s), CUDA_ERROR_INVALID_VALUE); /* unfreed from the last launch */
    CHECK_OK(cuMemFreeAsync(ap.dptr, s));
    CHECK_RC(cuMemFreeAsync(ap.dptr, s), CUDA_ERROR_INVALID_VALUE); /* twice */
    CHECK_OK(cuStreamSynchronize(s));
    CHECK_RC(cuMemcpyDtoH(w, ap.dptr, sizeof(w)), CUDA_ERROR_INVALID_VALUE);
    CHECK_OK(cuDeviceGraphMemTrim(0));
    CHECK(free_mem() == before, "free + trim returns it exactly");
    CHECK(nvml_used() == nv_before, "NVML too");
    CHECK_OK(cuGraphLaunch(x, s)); /* freed: may launch again */
    CHECK_OK(cuStreamSynchronize(s));
    CHECK(free_mem() == before - 64 * MIB, "charged again");

    /* A free node in another graph frees it. */
    CUgraph g2;
    CHECK_OK(cuGraphCreate(&g2, 0));
    CUgraphNode fn;
    CHECK_OK(cuGraphAddMemFreeNode(&fn, g2, NULL, 0, ap.dptr));
    CHECK_RC(cuGraphAddMemFreeNode(&fn, g, &sn, 1, ap.dptr), CUDA_ERROR_INVALID_VALUE);
    CHECK_RC(cuGraphAddMemFreeNode(&fn, g2, NULL, 0, ap.dptr + 4096), CUDA_ERROR_INVALID_VALUE);
    CUgraphExec x2;
    CHECK_OK(cuGraphInstantiate(&x2, g2, 0));
    CHECK_OK(cuGraphLaunch(x2, s));
    CHECK_OK(cuGraphLaunch(x, s)); /* freed by that launch */
    CHECK_OK(cuGraphLaunch(x2, s));
    CHECK_OK(cuStreamSynchronize(s));
    CHECK_OK(cuDeviceGraphMemTrim(0));
    CHECK(free_mem() == before, "freed by the other graph");
    CHECK_OK(cuGraphExecDestroy(x2));
    CHECK_OK(cuGraphDestroy(g2));
    CHECK_OK(cuGraphExecDestroy(x));

    /* AUTO_FREE_ON_LAUNCH relaunches over the unfreed allocation. */
    CHECK_OK(cuGraphInstantiate(&x, g, CUDA_GRAPH_INSTANTIATE_FLAG_AUTO_FREE_ON_LAUNCH));
    CHECK_OK(cuGraphLaunch(x, s));
    CHECK_OK(cuGraphLaunch(x, s));
    CHECK_OK(cuStreamSynchronize(s));
    CHECK(free_mem() == before - 64 * MIB, "one allocation, not two");
    CHECK_OK(cuMemFreeAsync(ap.dptr, s));
    CHECK_OK(cuStreamSynchronize(s));
    CHECK_OK(cuGraphExecDestroy(x));
    CHECK_OK(cuGraphDestroy(g));
    CHECK(free_mem() == before, "all returned");
    CHECK(nvml_used() == nv_before, "NVML all returned");
    CHECK_OK(cuStreamDestroy(s));
}

/* Explicit free node in the owning graph; documented errors. */
static void test_errors(void)
{
    CUgraph g;
    CHECK_OK(cuGraphCreate(&g, 0));
    CUDA_MEM_ALLOC_NODE_PARAMS ap;
    memset(&ap, 0, sizeof(ap));
    ap.poolProps.allocType = CU_MEM_ALLOCATION_TYPE_PINNED;
    ap.poolProps.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
    CUgraphNode an, fn, fn2;
    CHECK_RC(cuGraphAddMemAllocNode(&an, g, NULL, 0, &ap), CUDA_ERROR_INVALID_VALUE); /* 0 B */
    ap.bytesize = 4096;
    ap.poolProps.location.id = 99;
    CHECK_RC(cuGraphAddMemAllocNode(&an, g, NULL, 0, &ap), CUDA_ERROR_INVALID_VALUE);
    ap.poolProps.location.id = 0;
    CHECK_OK(cuGraphAddMemAllocNode(&an, g, NULL, 0, &ap));
    CHECK_OK(cuGraphAddMemFreeNode(&fn, g, &an, 1, ap.dptr));
    CHECK_RC(cuGraphAddMemFreeNode(&fn2, g, &fn, 1, ap.dptr), CUDA_ERROR_INVALID_VALUE);
    CHECK_RC(cuGraphAddMemFreeNode(&fn2, g, NULL, 0, 0x1234), CUDA_ERROR_INVALID_VALUE);
    CUgraph g2;
    CHECK_OK(cuGraphCreate(&g2, 0));
    CHECK_RC(cuGraphAddMemFreeNode(&fn2, g2, NULL, 0, ap.dptr), CUDA_ERROR_INVALID_VALUE);
    CHECK_RC(cuGraphRemoveDependencies(g, &an, &fn, NULL, 1), CUDA_ERROR_INVALID_VALUE);
    cuuint64_t v = 5;
    CHECK_RC(cuDeviceSetGraphMemAttribute(0, CU_GRAPH_MEM_ATTR_USED_MEM_HIGH, &v),
             CUDA_ERROR_INVALID_VALUE);
    v = 0;
    CHECK_OK(cuDeviceSetGraphMemAttribute(0, CU_GRAPH_MEM_ATTR_USED_MEM_HIGH, &v));
    CHECK_RC(cuDeviceSetGraphMemAttribute(0, CU_GRAPH_MEM_ATTR_USED_MEM_CURRENT, &v),
             CUDA_ERROR_INVALID_VALUE);
    CHECK_RC(cuDeviceGetGraphMemAttribute(42, CU_GRAPH_MEM_ATTR_USED_MEM_CURRENT, &v),
             CUDA_ERROR_INVALID_DEVICE);
    CHECK_RC(cuDeviceGraphMemTrim(42), CUDA_ERROR_INVALID_DEVICE);
    CUstream s;
    REQUIRE_OK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
    CUgraphExec x;
    CHECK_OK(cuGraphInstantiate(&x, g, 0));
    CHECK_OK(cuGraphLaunch(x, s));
    CHECK_OK(cuGraphLaunch(x, s)); /* freed in the graph: relaunch is fine */
    CHECK_OK(cuStreamSynchronize(s));
    CHECK_RC(cuMemFreeAsync(ap.dptr, s), CUDA_ERROR_INVALID_VALUE); /* owned by the graph */

    /* A failed capture leaks nothing. A captured free must name a graph allocation (cuda.h):
     * freeing a pool block inside a capture is refused and the capture stays valid. */
    size_t before = free_mem();
    CUdeviceptr pb;
    CHECK_OK(cuMemAllocAsync(&pb, 4096, s));
    CHECK_OK(cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_GLOBAL));
    CUdeviceptr cg;
    CHECK_OK(cuMemAllocAsync(&cg, 8192, s));
    CHECK_RC(cuMemFreeAsync(pb, s), CUDA_ERROR_INVALID_VALUE);
    CUstreamCaptureStatus cst;
    CHECK_OK(cuStreamIsCapturing(s, &cst));
    CHECK(cst == CU_STREAM_CAPTURE_STATUS_ACTIVE, "the capture is still valid");
    CUgraph cgraph;
    CHECK_OK(cuStreamEndCapture(s, &cgraph));
    CHECK_OK(cuGraphDestroy(cgraph));
    CHECK_OK(cuMemFreeAsync(pb, s));
    CHECK_OK(cuStreamSynchronize(s));
    CHECK(free_mem() == before, "no leak from the capture");
    CHECK_OK(cuGraphExecDestroy(x));
    CHECK_OK(cuGraphDestroy(g));
    CHECK_OK(cuGraphDestroy(g2));
    CHECK_OK(cuStreamDestroy(s));
}

int main(void)
{
    struct graph_test t;
    graph_test_setup(&t);
    REQUIRE(nvmlInit_v2() == NVML_SUCCESS, "nvmlInit");
    test_capture(&t);
    test_explicit(&t);
    test_errors();
    test_copy_nodes();
    CHECK_OK(cuDeviceGraphMemTrim(0));
    nvmlShutdown();
    CHECK_OK(cuModuleUnload(t.mod));
    CHECK_OK(cuCtxDestroy(t.ctx));
    return check_done("graph-mem");
}
