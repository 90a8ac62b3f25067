/*
 * Graphs built node by node (src/sim/graph.c): a diamond of memset, kernels and a copy; the
 * graph queries; updating an executable's kernel argument without re-instantiation
 * (cuGraphExecKernelNodeSetParams, cuGraphExecUpdate); host node ordering proven with a host
 * function blocked on a pipe (no timing); event nodes; destroying a graph that is instantiated.
 */
#include "graph_test.h"

#include <unistd.h>

#define N 128u

static void read_back(CUdeviceptr d, unsigned *out, size_t n)
{
    CHECK_OK(cuMemcpyDtoH(out, d, n * 4));
}

static void test_diamond(struct graph_test *t)
{
    CUdeviceptr d, o;
    unsigned out[N];
    REQUIRE_OK(cuMemAlloc(&d, N * 4));
    REQUIRE_OK(cuMemAlloc(&o, N * 4));
    CHECK_OK(cuMemsetD32(o, 0, N));

    CUgraph g;
    REQUIRE_OK(cuGraphCreate(&g, 0));
    CHECK_RC(cuGraphCreate(&g, 1), CUDA_ERROR_INVALID_VALUE);
    CUgraphNode a, b, c, dn;
    CUDA_MEMSET_NODE_PARAMS ms = {.dst = d, .value = 10, .elementSize = 4, .width = N,
                                  .height = 1};
    CHECK_OK(cuGraphAddMemsetNode(&a, g, NULL, 0, &ms, t->ctx));
    CUdeviceptr lo = d, hi = d + N / 2 * 4;
    unsigned half = N / 2, one = 1, two = 2;
    void *args_b[] = {&lo, &half, &one};
    void *args_c[] = {&hi, &half, &two};
    CUDA_KERNEL_NODE_PARAMS kb = graph_test_kparams(t->add, args_b, half);
    CUDA_KERNEL_NODE_PARAMS kc = graph_test_kparams(t->mul, args_c, half);
    CHECK_OK(cuGraphAddKernelNode(&b, g, &a, 1, &kb));
    CHECK_OK(cuGraphAddKernelNode(&c, g, &a, 1, &kc));
    one = 99; /* arguments were copied when the node was added */
    CUDA_MEMCPY3D cp;
    memset(&cp, 0, sizeof(cp));
    cp.srcMemoryType = cp.dstMemoryType = CU_MEMORYTYPE_DEVICE;
    cp.srcDevice = d;
    cp.dstDevice = o;
    cp.WidthInBytes = N * 4;
    cp.Height = cp.Depth = 1;
    CUgraphNode bc[2] = {b, c};
    CHECK_OK(cuGraphAddMemcpyNode(&dn, g, bc, 2, &cp, t->ctx));
    CHECK_RC(cuGraphAddMemcpyNode(&dn, g, bc, 2, NULL, t->ctx), CUDA_ERROR_INVALID_VALUE);
    CHECK_RC(cuGraphAddEmptyNode(&dn, g, (CUgraphNode[]){b, b}, 2), CUDA_ERROR_INVALID_VALUE);

    size_t n = 0;
    CHECK_OK(cuGraphGetNodes(g, NULL, &n));
    CHECK(n == 4, "%zu nodes", n);
    CUgraphNode roots[4];
    n = 4;
    CHECK_OK(cuGraphGetRootNodes(g, roots, &n));
    CHECK(n == 1 && roots[0] == a, "%zu roots", n);
    CUgraphNode from[8], to[8];
    n = 8;
    CHECK_OK(cuGraphGetEdges(g, from, to, NULL, &n));
    CHECK(n == 4, "%zu edges", n);
    int seen = 0;
    for (size_t i = 0; i < n; i++)
        seen |= (from[i] == a && to[i] == b) << 0 | (from[i] == a && to[i] == c) << 1 |
                (from[i] == b && to[i] == dn) << 2 | (from[i] == c && to[i] == dn) << 3;
    CHECK(seen == 15, "the diamond's edges: %#x", seen);
    n = 0;
    CHECK_OK(cuGraphNodeGetDependentNodes(a, NULL, NULL, &n));
    CHECK(n == 2, "a has %zu dependents", n);
    CUgraphNodeType ty;
    CHECK_OK(cuGraphNodeGetType(dn, &ty));
    CHECK(ty == CU_GRAPH_NODE_TYPE_MEMCPY, "type %d", (int)ty);
    CUDA_KERNEL_NODE_PARAMS got;
    CHECK_OK(cuGraphKernelNodeGetParams(b, &got));
    CHECK(got.func == t->add && got.gridDimX == 1 && got.blockDimX == 64 &&
              *(unsigned *)got.kernelParams[2] == 1,
          "kernel node parameters");

    /* Removing and re-adding an edge; a duplicate edge is refused. */
    CHECK_OK(cuGraphRemoveDependencies(g, &b, &dn, NULL, 1));
    CHECK_RC(cuGraphRemoveDependencies(g, &b, &dn, NULL, 1), CUDA_ERROR_INVALID_VALUE);
    CHECK_OK(cuGraphAddDependencies(g, &b, &dn, NULL, 1));
    CHECK_RC(cuGraphAddDependencies(g, &b, &dn, NULL, 1), CUDA_ERROR_INVALID_VALUE);

    CUgraphExec x;
    REQUIRE_OK(cuGraphInstantiate(&x, g, 0));
    CHECK_OK(cuGraphLaunch(x, NULL));
    CHECK_OK(cuStreamSynchronize(NULL));
    read_back(o, out, N);
    CHECK(out[0] == 11 && out[N / 2 - 1] == 11 && out[N / 2] == 20 && out[N - 1] == 20,
          "diamond: %u %u %u %u", out[0], out[N / 2 - 1], out[N / 2], out[N - 1]);

    /* A clone runs the same work; its nodes are found from the originals. */
    CUgraph cl;
    CUgraphNode cb;
    CHECK_OK(cuGraphClone(&cl, g));
    CHECK_OK(cuGraphNodeFindInClone(&cb, b, cl));
    CHECK(cb != b, "the clone has its own nodes");
    CHECK_OK(cuGraphNodeGetType(cb, &ty));
    CHECK(ty == CU_GRAPH_NODE_TYPE_KERNEL, "clone node type %d", (int)ty);

    /* Destroying a graph that is instantiated: the executable stays valid. */
    CHECK_OK(cuGraphDestroy(g));
    CHECK_RC(cuGraphNodeGetType(b, &ty), CUDA_ERROR_INVALID_VALUE);
    CHECK_RC(cuGraphDestroy(g), CUDA_ERROR_INVALID_VALUE);
    CHECK_OK(cuMemsetD32(o, 0, N));
    CHECK_OK(cuGraphLaunch(x, NULL));
    CHECK_OK(cuCtxSynchronize());
    read_back(o, out, N);
    CHECK(out[0] == 11 && out[N - 1] == 20, "after cuGraphDestroy: %u %u", out[0], out[N - 1]);
    CHECK_OK(cuGraphExecDestroy(x));
    CHECK_RC(cuGraphLaunch(x, NULL), CUDA_ERROR_INVALID_VALUE);

    /* A cycle cannot be instantiated. */
    CHECK_OK(cuGraphNodeFindInClone(&cb, c, cl));
    CUgraphNode ca;
    CHECK_OK(cuGraphNodeFindInClone(&ca, a, cl));
    CHECK_OK(cuGraphAddDependencies(cl, &cb, &ca, NULL, 1));
    CHECK_RC(cuGraphInstantiate(&x, cl, 0), CUDA_ERROR_INVALID_VALUE);
    CHECK_OK(cuGraphDestroy(cl));
    CHECK_OK(cuMemFree(d));
    CHECK_OK(cuMemFree(o));
}

static void test_update(struct graph_test *t)
{
    CUdeviceptr d;
    unsigned out[N];
    CUstream s;
    REQUIRE_OK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
    REQUIRE_OK(cuMemAlloc(&d, N * 4));
    CHECK_OK(cuMemsetD32(d, 0, N));
    CHECK_OK(cuCtxSynchronize()); /* device memsets do not wait; s does not sync with them */
    unsigned n = N, v = 1;
    void *args[] = {&d, &n, &v};
    CUDA_KERNEL_NODE_PARAMS kp = graph_test_kparams(t->add, args, N);
    CUgraph g;
    CUgraphNode k;
    REQUIRE_OK(cuGraphCreate(&g, 0));
    CHECK_OK(cuGraphAddKernelNode(&k, g, NULL, 0, &kp));
    CUgraphExec x;
    REQUIRE_OK(cuGraphInstantiate(&x, g, 0));
    CHECK_OK(cuGraphLaunch(x, s));
    CHECK_OK(cuStreamSynchronize(s));
    read_back(d, out, N);
    CHECK(out[0] == 1, "first launch: %u", out[0]);

    /* A new argument for the executable only. */
    v = 5;
    CHECK_OK(cuGraphExecKernelNodeSetParams(x, k, &kp));
    CHECK_OK(cuGraphLaunch(x, s));
    CHECK_OK(cuStreamSynchronize(s));
    read_back(d, out, N);
    CHECK(out[0] == 6 && out[N - 1] == 6, "after the exec update: %u", out[0]);
    CUDA_KERNEL_NODE_PARAMS got;
    CHECK_OK(cuGraphKernelNodeGetParams(k, &got));
    CHECK(*(unsigned *)got.kernelParams[2] == 1, "the graph's node keeps its argument");

    /* cuGraphExecUpdate from a graph of the same topology. */
    CUgraph g2;
    CUgraphNode k2, e2;
    REQUIRE_OK(cuGraphCreate(&g2, 0));
    v = 10;
    CHECK_OK(cuGraphAddKernelNode(&k2, g2, NULL, 0, &kp));
    CUgraphExecUpdateResultInfo info;
    CHECK_OK(cuGraphExecUpdate(x, g2, &info));
    CHECK(info.result == CU_GRAPH_EXEC_UPDATE_SUCCESS, "result %d", (int)info.result);
    CHECK_OK(cuGraphLaunch(x, s));
    CHECK_OK(cuStreamSynchronize(s));
    read_back(d, out, N);
    CHECK(out[0] == 16, "after cuGraphExecUpdate: %u", out[0]);
    /* Nodes of g2 now name the executable's nodes. */
    v = 100;
    CHECK_OK(cuGraphExecKernelNodeSetParams(x, k2, &kp));

    /* A different topology or node type is refused and changes nothing. */
    CHECK_OK(cuGraphAddEmptyNode(&e2, g2, &k2, 1));
    CHECK_RC(cuGraphExecUpdate(x, g2, &info), CUDA_ERROR_GRAPH_EXEC_UPDATE_FAILURE);
    CHECK(info.result == CU_GRAPH_EXEC_UPDATE_ERROR_TOPOLOGY_CHANGED && info.errorNode == NULL,
          "result %d", (int)info.result);
    CUgraph g3;
    CUgraphNode m3;
    REQUIRE_OK(cuGraphCreate(&g3, 0));
    CUDA_MEMSET_NODE_PARAMS ms = {.dst = d, .value = 0, .elementSize = 4, .width = N,
                                  .height = 1};
    CHECK_OK(cuGraphAddMemsetNode(&m3, g3, NULL, 0, &ms, t->ctx));
    CHECK_RC(cuGraphExecUpdate(x, g3, &info), CUDA_ERROR_GRAPH_EXEC_UPDATE_FAILURE);
    CHECK(info.result == CU_GRAPH_EXEC_UPDATE_ERROR_NODE_TYPE_CHANGED && info.errorNode == m3,
          "result %d", (int)info.result);
    CHECK_OK(cuGraphLaunch(x, s));
    CHECK_OK(cuStreamSynchronize(s));
    read_back(d, out, N);
    CHECK(out[0] == 116, "after refused updates: %u", out[0]);

    /* A disabled kernel node does nothing. */
    unsigned en = 1;
    CHECK_OK(cuGraphNodeSetEnabled(x, k2, 0));
    CHECK_OK(cuGraphNodeGetEnabled(x, k2, &en));
    CHECK(en == 0, "disabled");
    CHECK_OK(cuGraphLaunch(x, s));
    CHECK_OK(cuStreamSynchronize(s));
    read_back(d, out, N);
    CHECK(out[0] == 116, "disabled node ran: %u", out[0]);

    CHECK_OK(cuGraphExecDestroy(x));
    CHECK_OK(cuGraphDestroy(g));
    CHECK_OK(cuGraphDestroy(g2));
    CHECK_OK(cuGraphDestroy(g3));
    CHECK_OK(cuMemFree(d));
    CHECK_OK(cuStreamDestroy(s));
}

/* A host function that blocks until a byte arrives on a pipe. */
static int gate[2];
static volatile int after_ran;

static void wait_gate(void *arg)
{
    (void)arg;
    char c;
    while (read(gate[0], &c, 1) < 0)
        ;
}

static void mark(void *arg)
{
    after_ran = *(int *)arg;
}

static void test_host_order(struct graph_test *t)
{
    CUstream s, probe;
    CUdeviceptr d;
    unsigned out[N];
    REQUIRE(pipe(gate) == 0, "pipe");
    REQUIRE_OK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
    REQUIRE_OK(cuStreamCreate(&probe, CU_STREAM_NON_BLOCKING));
    REQUIRE_OK(cuMemAlloc(&d, N * 4));
    CHECK_OK(cuMemsetD32(d, 7, N));
    CHECK_OK(cuCtxSynchronize()); /* device memsets do not wait; s does not sync with them */

    CUgraph g;
    CUgraphNode h1, k, h2;
    REQUIRE_OK(cuGraphCreate(&g, 0));
    CUDA_HOST_NODE_PARAMS hp = {.fn = wait_gate, .userData = NULL};
    CHECK_OK(cuGraphAddHostNode(&h1, g, NULL, 0, &hp));
    unsigned n = N, v = 1;
    void *args[] = {&d, &n, &v};
    CUDA_KERNEL_NODE_PARAMS kp = graph_test_kparams(t->add, args, N);
    CHECK_OK(cuGraphAddKernelNode(&k, g, &h1, 1, &kp));
    static int token = 42;
    CUDA_HOST_NODE_PARAMS mp = {.fn = mark, .userData = &token};
    CHECK_OK(cuGraphAddHostNode(&h2, g, &k, 1, &mp));
    CUDA_HOST_NODE_PARAMS bad = {.fn = NULL};
    CHECK_RC(cuGraphAddHostNode(&h2, g, &k, 1, &bad), CUDA_ERROR_INVALID_VALUE);

    CUgraphExec x;
    REQUIRE_OK(cuGraphInstantiate(&x, g, 0));
    CHECK_OK(cuGraphLaunch(x, s));
    /* The gate is closed: nothing behind it has run. */
    CHECK_RC(cuStreamQuery(s), CUDA_ERROR_NOT_READY);
    CHECK_OK(cuMemcpyDtoHAsync(out, d, N * 4, probe));
    CHECK_OK(cuStreamSynchronize(probe));
    CHECK(out[0] == 7, "the kernel ran before the host node finished: %u", out[0]);
    CHECK(after_ran == 0, "the last host node ran early");
    /* Open it. */
    REQUIRE(write(gate[1], "x", 1) == 1, "write");
    CHECK_OK(cuStreamSynchronize(s));
    read_back(d, out, N);
    CHECK(out[0] == 8 && after_ran == 42, "after the gate: %u %d", out[0], after_ran);

    CHECK_OK(cuGraphExecDestroy(x));
    CHECK_OK(cuGraphDestroy(g));
    CHECK_OK(cuMemFree(d));
    CHECK_OK(cuStreamDestroy(s));
    CHECK_OK(cuStreamDestroy(probe));
    close(gate[0]);
    close(gate[1]);
}

static void test_event_nodes(struct graph_test *t)
{
    CUstream s, other;
    CUevent done, ready;
    CUdeviceptr d;
    unsigned out[N];
    REQUIRE_OK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
    REQUIRE_OK(cuStreamCreate(&other, CU_STREAM_NON_BLOCKING));
    REQUIRE_OK(cuEventCreate(&done, 0));
    REQUIRE_OK(cuEventCreate(&ready, 0));
    REQUIRE_OK(cuMemAlloc(&d, N * 4));
    CHECK_OK(cuMemsetD32(d, 1, N));
    CHECK_OK(cuCtxSynchronize()); /* device memsets do not wait; s does not sync with them */

    CUgraph g;
    CUgraphNode w, k, r;
    REQUIRE_OK(cuGraphCreate(&g, 0));
    CHECK_OK(cuGraphAddEventWaitNode(&w, g, NULL, 0, ready));
    unsigned n = N, v = 2;
    void *args[] = {&d, &n, &v};
    CUDA_KERNEL_NODE_PARAMS kp = graph_test_kparams(t->mul, args, N);
    CHECK_OK(cuGraphAddKernelNode(&k, g, &w, 1, &kp));
    CHECK_OK(cuGraphAddEventRecordNode(&r, g, &k, 1, done));
    CUevent got;
    CHECK_OK(cuGraphEventRecordNodeGetEvent(r, &got));
    CHECK(got == done, "record node event");
    CHECK_RC(cuGraphAddEventRecordNode(&r, g, &k, 1, NULL), CUDA_ERROR_INVALID_HANDLE);

    /* The wait node waits for work on another stream: a host function gate. */
    REQUIRE(pipe(gate) == 0, "pipe");
    CHECK_OK(cuLaunchHostFunc(other, wait_gate, NULL));
    CHECK_OK(cuEventRecord(ready, other));
    CUgraphExec x;
    REQUIRE_OK(cuGraphInstantiate(&x, g, 0));
    CHECK_OK(cuGraphLaunch(x, s));
    CHECK_RC(cuEventQuery(done), CUDA_ERROR_NOT_READY);
    REQUIRE(write(gate[1], "x", 1) == 1, "write");
    CHECK_OK(cuEventSynchronize(done));
    read_back(d, out, N);
    CHECK(out[0] == 2, "after the event wait: %u", out[0]);
    float ms = -1;
    CHECK_OK(cuEventElapsedTime(&ms, ready, done));
    CHECK(ms >= 0, "elapsed %f", (double)ms);
    CHECK_OK(cuStreamSynchronize(s));
    close(gate[0]);
    close(gate[1]);

    CHECK_OK(cuGraphExecDestroy(x));
    CHECK_OK(cuGraphDestroy(g));
    CHECK_OK(cuEventDestroy(done));
    CHECK_OK(cuEventDestroy(ready));
    CHECK_OK(cuMemFree(d));
    CHECK_OK(cuStreamDestroy(s));
    CHECK_OK(cuStreamDestroy(other));
}

int main(void)
{
    struct graph_test t;
    graph_test_setup(&t);
    test_diamond(&t);
    test_update(&t);
    test_host_order(&t);
    test_event_nodes(&t);
    CUgraphNode nd;
    CHECK_RC(cuGraphAddMemFreeNode(&nd, NULL, NULL, 0, 0), CUDA_ERROR_INVALID_VALUE);
    CHECK_OK(cuModuleUnload(t.mod));
    CHECK_OK(cuCtxDestroy(t.ctx));
    return check_done("graph-build");
}
