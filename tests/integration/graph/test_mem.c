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
 * cuMemFreeAsync); the same work eagerly gives the same bytes; relaunches repeat it. Memset and
 * memcpy nodes cannot name graph memory yet (copy.c checks operands at capture time). */
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

    /* A failed capture leaks nothing: freeing a pool block inside a capture is unsupported. */
    size_t before = free_mem();
    CUdeviceptr pb;
    CHECK_OK(cuMemAllocAsync(&pb, 4096, s));
    CHECK_OK(cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_GLOBAL));
    CUdeviceptr cg;
    CHECK_OK(cuMemAllocAsync(&cg, 8192, s));
    CHECK_RC(cuMemFreeAsync(pb, s), CUDA_ERROR_NOT_SUPPORTED);
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
    CHECK_OK(cuDeviceGraphMemTrim(0));
    nvmlShutdown();
    CHECK_OK(cuModuleUnload(t.mod));
    CHECK_OK(cuCtxDestroy(t.ctx));
    return check_done("graph-mem");
}
