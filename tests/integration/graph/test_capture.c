/*
 * Stream capture (src/sim/graph.c): a captured graph of copies and kernels computes exactly what
 * the same work launched eagerly computes (both checked against the host), repeated launches
 * repeat it, streams forked and joined by events are captured with their dependencies, and the
 * capture rules give their documented errors.
 */
#include "graph_test.h"

#define N 300u

/* The per-thread exports, which cuda.h declares only for per-thread-default-stream builds. */
CUresult cuStreamBeginCapture_v2_ptsz(CUstream hStream, CUstreamCaptureMode mode);
CUresult cuStreamIsCapturing_ptsz(CUstream hStream, CUstreamCaptureStatus *captureStatus);
CUresult cuStreamEndCapture_ptsz(CUstream hStream, CUgraph *phGraph);

static unsigned expect(unsigned x)
{
    return (x + 5u) * 3u + 1u;
}

/* HtoD, add 5, multiply by 3, add 1, DtoH on s. */
static void pipeline(struct graph_test *t, CUstream s, CUdeviceptr d, const unsigned *in,
                     unsigned *out)
{
    CHECK_OK(cuMemcpyHtoDAsync(d, in, N * 4, s));
    CHECK_OK(graph_test_launch(t->add, s, d, N, 5));
    CHECK_OK(graph_test_launch(t->mul, s, d, N, 3));
    CHECK_OK(graph_test_launch(t->add, s, d, N, 1));
    CHECK_OK(cuMemcpyDtoHAsync(out, d, N * 4, s));
}

static void test_equals_eager(struct graph_test *t)
{
    static unsigned in[N], eager[N], captured[N];
    for (unsigned i = 0; i < N; i++)
        in[i] = i * 7u + 1u;
    CUstream s;
    CUdeviceptr d1, d2;
    REQUIRE_OK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
    REQUIRE_OK(cuMemAlloc(&d1, N * 4));
    REQUIRE_OK(cuMemAlloc(&d2, N * 4));

    pipeline(t, s, d1, in, eager);
    CHECK_OK(cuStreamSynchronize(s));

    memset(captured, 0xab, sizeof(captured));
    CUgraph g = NULL;
    CHECK_OK(cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_GLOBAL));
    CUstreamCaptureStatus st = CU_STREAM_CAPTURE_STATUS_NONE;
    CHECK_OK(cuStreamIsCapturing(s, &st));
    CHECK(st == CU_STREAM_CAPTURE_STATUS_ACTIVE, "status %d", (int)st);
    pipeline(t, s, d2, in, captured);
    cuuint64_t id = 0;
    CUgraph cg = NULL;
    const CUgraphNode *deps = NULL;
    size_t ndeps = 0;
    CHECK_OK(cuStreamGetCaptureInfo(s, &st, &id, &cg, &deps, NULL, &ndeps));
    CHECK(st == CU_STREAM_CAPTURE_STATUS_ACTIVE && id != 0 && cg && ndeps == 1,
          "info: %d %llu %p %zu", (int)st, (unsigned long long)id, (void *)cg, ndeps);
    CHECK_OK(cuStreamEndCapture(s, &g));
    REQUIRE(g != NULL, "no graph");
    CHECK(g == cg, "the graph is the one being captured");
    CHECK_OK(cuStreamIsCapturing(s, &st));
    CHECK(st == CU_STREAM_CAPTURE_STATUS_NONE, "status after end %d", (int)st);
    CHECK_OK(cuStreamSynchronize(s));
    CHECK(captured[0] == 0xabababab, "captured work must not run during capture");

    size_t n = 0;
    CHECK_OK(cuGraphGetNodes(g, NULL, &n));
    CHECK(n == 5, "%zu nodes", n);
    CUgraphNode nodes[5];
    n = 5;
    CHECK_OK(cuGraphGetNodes(g, nodes, &n));
    CUgraphNodeType want[5] = {CU_GRAPH_NODE_TYPE_MEMCPY, CU_GRAPH_NODE_TYPE_KERNEL,
                               CU_GRAPH_NODE_TYPE_KERNEL, CU_GRAPH_NODE_TYPE_KERNEL,
                               CU_GRAPH_NODE_TYPE_MEMCPY};
    for (int i = 0; i < 5; i++) {
        CUgraphNodeType ty;
        CHECK_OK(cuGraphNodeGetType(nodes[i], &ty));
        CHECK(ty == want[i], "node %d type %d", i, (int)ty);
    }
    size_t nedges = 0;
    CHECK_OK(cuGraphGetEdges(g, NULL, NULL, NULL, &nedges));
    CHECK(nedges == 4, "a chain of 5 has 4 edges, got %zu", nedges);

    CUgraphExec x;
    REQUIRE_OK(cuGraphInstantiate(&x, g, 0));
    CHECK_OK(cuGraphLaunch(x, s));
    CHECK_OK(cuStreamSynchronize(s));
    CHECK(memcmp(eager, captured, sizeof(eager)) == 0, "captured graph differs from eager work");
    for (unsigned i = 0; i < N; i++)
        if (captured[i] != expect(in[i])) {
            CHECK(0, "element %u: %u, expected %u", i, captured[i], expect(in[i]));
            break;
        }

    /* Launched again on another stream, after new input: it runs again. */
    for (unsigned i = 0; i < N; i++)
        in[i] = 1000u + i;
    CHECK_OK(cuGraphLaunch(x, NULL));
    CHECK_OK(cuCtxSynchronize());
    CHECK(captured[N - 1] == expect(1000u + N - 1), "relaunch: %u", captured[N - 1]);

    CHECK_OK(cuGraphExecDestroy(x));
    CHECK_OK(cuGraphDestroy(g));
    CHECK_OK(cuMemFree(d1));
    CHECK_OK(cuMemFree(d2));
    CHECK_OK(cuStreamDestroy(s));
}

static void test_repeat(struct graph_test *t)
{
    CUstream s;
    CUdeviceptr d;
    unsigned out[64];
    REQUIRE_OK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
    REQUIRE_OK(cuMemAlloc(&d, 64 * 4));
    CHECK_OK(cuMemsetD32(d, 10, 64));
    CHECK_OK(cuCtxSynchronize()); /* device memsets do not wait; s does not sync with them */
    CUgraph g;
    CHECK_OK(cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_THREAD_LOCAL));
    CHECK_OK(graph_test_launch(t->add, s, d, 64, 1));
    REQUIRE_OK(cuStreamEndCapture(s, &g));
    CUgraphExec x;
    REQUIRE_OK(cuGraphInstantiate(&x, g, 0));
    for (int i = 0; i < 3; i++)
        CHECK_OK(cuGraphLaunch(x, s));
    CHECK_OK(cuStreamSynchronize(s));
    CHECK_OK(cuMemcpyDtoH(out, d, sizeof(out)));
    CHECK(out[0] == 13 && out[63] == 13, "three launches: %u %u", out[0], out[63]);
    CHECK_OK(cuGraphExecDestroy(x));
    CHECK_OK(cuGraphDestroy(g));
    CHECK_OK(cuMemFree(d));
    CHECK_OK(cuStreamDestroy(s));
}

/* s1 forks s2 with an event, each works on its half, s1 joins s2 back. */
static void test_fork_join(struct graph_test *t)
{
    CUstream s1, s2;
    CUevent fork, join;
    CUdeviceptr d;
    unsigned out[128];
    REQUIRE_OK(cuStreamCreate(&s1, CU_STREAM_NON_BLOCKING));
    REQUIRE_OK(cuStreamCreate(&s2, CU_STREAM_NON_BLOCKING));
    REQUIRE_OK(cuEventCreate(&fork, CU_EVENT_DISABLE_TIMING));
    REQUIRE_OK(cuEventCreate(&join, CU_EVENT_DISABLE_TIMING));
    REQUIRE_OK(cuMemAlloc(&d, 128 * 4));

    CUgraph g;
    CHECK_OK(cuStreamBeginCapture(s1, CU_STREAM_CAPTURE_MODE_GLOBAL));
    CHECK_OK(cuMemsetD32Async(d, 4, 128, s1));
    CHECK_OK(cuEventRecord(fork, s1));
    CHECK_OK(cuStreamWaitEvent(s2, fork, 0));
    CUstreamCaptureStatus st;
    CHECK_OK(cuStreamIsCapturing(s2, &st));
    CHECK(st == CU_STREAM_CAPTURE_STATUS_ACTIVE, "s2 joined the capture: %d", (int)st);
    CHECK_OK(graph_test_launch(t->add, s1, d, 64, 1));           /* first half: 5 */
    CHECK_OK(graph_test_launch(t->mul, s2, d + 64 * 4, 64, 3));  /* second half: 12 */
    CHECK_OK(cuEventRecord(join, s2));
    CHECK_OK(cuStreamWaitEvent(s1, join, 0));
    CHECK_OK(graph_test_launch(t->add, s1, d, 128, 100));        /* all: after both */
    REQUIRE_OK(cuStreamEndCapture(s1, &g));
    CHECK_OK(cuStreamIsCapturing(s2, &st));
    CHECK(st == CU_STREAM_CAPTURE_STATUS_NONE, "s2 left the capture: %d", (int)st);

    size_t nroots = 0, nedges = 0;
    CHECK_OK(cuGraphGetRootNodes(g, NULL, &nroots));
    CHECK_OK(cuGraphGetEdges(g, NULL, NULL, NULL, &nedges));
    CHECK(nroots == 1 && nedges == 4, "diamond: %zu roots, %zu edges", nroots, nedges);

    CUgraphExec x;
    REQUIRE_OK(cuGraphInstantiate(&x, g, 0));
    CHECK_OK(cuGraphLaunch(x, s2));
    CHECK_OK(cuStreamSynchronize(s2));
    CHECK_OK(cuMemcpyDtoH(out, d, sizeof(out)));
    CHECK(out[0] == 105 && out[63] == 105 && out[64] == 112 && out[127] == 112,
          "fork/join: %u %u %u %u", out[0], out[63], out[64], out[127]);
    CHECK_OK(cuGraphExecDestroy(x));
    CHECK_OK(cuGraphDestroy(g));

    /* A fork that is not joined back. */
    g = (CUgraph)1;
    CHECK_OK(cuStreamBeginCapture(s1, CU_STREAM_CAPTURE_MODE_GLOBAL));
    CHECK_OK(cuEventRecord(fork, s1));
    CHECK_OK(cuStreamWaitEvent(s2, fork, 0));
    CHECK_OK(graph_test_launch(t->add, s2, d, 128, 1));
    CHECK_RC(cuStreamEndCapture(s1, &g), CUDA_ERROR_STREAM_CAPTURE_UNJOINED);
    CHECK(g == NULL, "no graph from an unjoined capture");
    CHECK_OK(cuStreamIsCapturing(s2, &st));
    CHECK(st == CU_STREAM_CAPTURE_STATUS_NONE, "s2 after the failed capture: %d", (int)st);

    /* Ending the capture on a joined stream rather than its origin. */
    CHECK_OK(cuStreamBeginCapture(s1, CU_STREAM_CAPTURE_MODE_GLOBAL));
    CHECK_OK(cuEventRecord(fork, s1));
    CHECK_OK(cuStreamWaitEvent(s2, fork, 0));
    CHECK_RC(cuStreamEndCapture(s2, &g), CUDA_ERROR_STREAM_CAPTURE_UNMATCHED);
    CHECK_OK(cuStreamEndCapture(s1, &g));
    CHECK_OK(cuGraphDestroy(g));

    CHECK_OK(cuStreamSynchronize(s2));
    CHECK_OK(cuMemcpyDtoH(out, d, sizeof(out)));
    CHECK(out[0] == 105, "captured work never ran eagerly: %u", out[0]);
    CHECK_OK(cuEventDestroy(fork));
    CHECK_OK(cuEventDestroy(join));
    CHECK_OK(cuMemFree(d));
    CHECK_OK(cuStreamDestroy(s1));
    CHECK_OK(cuStreamDestroy(s2));
}

static void test_errors(struct graph_test *t)
{
    CUstream s, blocking;
    CUdeviceptr d;
    unsigned h[16] = {0};
    CUgraph g = (CUgraph)1;
    CUstreamCaptureStatus st;
    REQUIRE_OK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
    REQUIRE_OK(cuStreamCreate(&blocking, 0));
    REQUIRE_OK(cuMemAlloc(&d, 64));

    CHECK_RC(cuStreamBeginCapture(NULL, CU_STREAM_CAPTURE_MODE_GLOBAL),
             CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED);
    CHECK_RC(cuStreamBeginCapture(s, (CUstreamCaptureMode)7), CUDA_ERROR_INVALID_VALUE);
    CHECK_RC(cuStreamEndCapture(s, &g), CUDA_ERROR_ILLEGAL_STATE);

    /* Synchronising a capturing stream invalidates the capture. */
    CHECK_OK(cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_GLOBAL));
    CHECK_RC(cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_GLOBAL), CUDA_ERROR_ILLEGAL_STATE);
    CHECK_OK(graph_test_launch(t->add, s, d, 16, 1));
    CHECK_RC(cuStreamSynchronize(s), CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED);
    CHECK_OK(cuStreamIsCapturing(s, &st));
    CHECK(st == CU_STREAM_CAPTURE_STATUS_INVALIDATED, "status %d", (int)st);
    CHECK_RC(graph_test_launch(t->add, s, d, 16, 1), CUDA_ERROR_STREAM_CAPTURE_INVALIDATED);
    CHECK_RC(cuStreamEndCapture(s, &g), CUDA_ERROR_STREAM_CAPTURE_INVALIDATED);
    CHECK(g == NULL, "no graph from an invalidated capture");
    CHECK_OK(cuStreamSynchronize(s)); /* usable again */

    /* A synchronous copy while this thread captures (global mode) is prohibited. */
    CHECK_OK(cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_GLOBAL));
    CHECK_RC(cuMemcpyHtoD(d, h, sizeof(h)), CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED);
    CHECK_RC(cuStreamEndCapture(s, &g), CUDA_ERROR_STREAM_CAPTURE_INVALIDATED);

    /* ... but allowed in a relaxed capture, from a thread in relaxed mode. */
    CUstreamCaptureMode mode = CU_STREAM_CAPTURE_MODE_RELAXED;
    CHECK_OK(cuThreadExchangeStreamCaptureMode(&mode));
    CHECK(mode == CU_STREAM_CAPTURE_MODE_GLOBAL, "the default mode is global: %d", (int)mode);
    CHECK_OK(cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_RELAXED));
    CHECK_OK(cuMemcpyHtoD(d, h, sizeof(h)));
    CHECK_OK(cuStreamEndCapture(s, &g));
    CHECK_OK(cuGraphDestroy(g));
    CHECK_OK(cuThreadExchangeStreamCaptureMode(&mode));
    CHECK(mode == CU_STREAM_CAPTURE_MODE_RELAXED, "exchanged back: %d", (int)mode);

    /* The legacy stream while a blocking stream captures: an implicit dependency. */
    CHECK_OK(cuStreamBeginCapture(blocking, CU_STREAM_CAPTURE_MODE_RELAXED));
    CHECK_RC(cuStreamIsCapturing(NULL, &st), CUDA_ERROR_STREAM_CAPTURE_IMPLICIT);
    CHECK_RC(cuMemsetD32Async(d, 1, 16, NULL), CUDA_ERROR_STREAM_CAPTURE_IMPLICIT);
    CHECK_RC(cuStreamEndCapture(blocking, &g), CUDA_ERROR_STREAM_CAPTURE_INVALIDATED);

    /* Waiting in a capture on an event recorded outside it crosses the capture boundary. */
    CUevent ev;
    REQUIRE_OK(cuEventCreate(&ev, 0));
    CHECK_OK(cuEventRecord(ev, blocking));
    CHECK_OK(cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_GLOBAL));
    CHECK_RC(cuStreamWaitEvent(s, ev, 0), CUDA_ERROR_STREAM_CAPTURE_ISOLATION);
    CHECK_RC(cuStreamEndCapture(s, &g), CUDA_ERROR_STREAM_CAPTURE_INVALIDATED);

    /* Capture on a thread's per-thread stream; a host function is captured too. */
    CHECK_OK(cuStreamBeginCapture_v2_ptsz(NULL, CU_STREAM_CAPTURE_MODE_GLOBAL));
    CHECK_OK(cuStreamIsCapturing_ptsz(NULL, &st));
    CHECK(st == CU_STREAM_CAPTURE_STATUS_ACTIVE, "per-thread stream captures: %d", (int)st);
    CHECK_OK(cuStreamEndCapture_ptsz(NULL, &g));
    size_t n = 1;
    CHECK_OK(cuGraphGetNodes(g, NULL, &n));
    CHECK(n == 0, "an empty capture: %zu nodes", n);
    CHECK_OK(cuGraphDestroy(g));

    CHECK_OK(cuEventDestroy(ev));
    CHECK_OK(cuMemFree(d));
    CHECK_OK(cuStreamDestroy(s));
    CHECK_OK(cuStreamDestroy(blocking));
}

int main(void)
{
    struct graph_test t;
    graph_test_setup(&t);
    test_equals_eager(&t);
    test_repeat(&t);
    test_fork_join(&t);
    test_errors(&t);
    CHECK_OK(cuModuleUnload(t.mod));
    CHECK_OK(cuCtxDestroy(t.ctx));
    return check_done("graph-capture");
}
