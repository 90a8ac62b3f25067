/*
 * Helpers shared by the graph suite (src/sim/graph.c): a context on device 0 and a hand-written
 * PTX module with two element-wise kernels.
 */
#ifndef GPOOL_TEST_GRAPH_H
#define GPOOL_TEST_GRAPH_H

#include <cuda.h>
#include <string.h>

#include "check.h"

/* add_u32(p, n, v): p[i] += v; mul_u32(p, n, v): p[i] *= v; for i < n. */
#define GRAPH_TEST_KERNEL(NAME, OP)                                                                \
    ".visible .entry " NAME "(\n"                                                                  \
    "    .param .u64 " NAME "_p,\n"                                                                \
    "    .param .u32 " NAME "_n,\n"                                                                \
    "    .param .u32 " NAME "_v\n"                                                                 \
    ")\n"                                                                                          \
    "{\n"                                                                                          \
    "    .reg .pred %p<2>;\n"                                                                      \
    "    .reg .b32 %r<8>;\n"                                                                       \
    "    .reg .b64 %rd<5>;\n"                                                                      \
    "    ld.param.u64 %rd1, [" NAME "_p];\n"                                                       \
    "    ld.param.u32 %r1, [" NAME "_n];\n"                                                        \
    "    ld.param.u32 %r7, [" NAME "_v];\n"                                                        \
    "    mov.u32 %r2, %tid.x;\n"                                                                   \
    "    mov.u32 %r3, %ctaid.x;\n"                                                                 \
    "    mov.u32 %r4, %ntid.x;\n"                                                                  \
    "    mad.lo.s32 %r5, %r3, %r4, %r2;\n"                                                         \
    "    setp.ge.u32 %p1, %r5, %r1;\n"                                                             \
    "    @%p1 bra $L_" NAME "_done;\n"                                                             \
    "    cvta.to.global.u64 %rd2, %rd1;\n"                                                         \
    "    mul.wide.u32 %rd3, %r5, 4;\n"                                                             \
    "    add.s64 %rd4, %rd2, %rd3;\n"                                                              \
    "    ld.global.u32 %r6, [%rd4];\n"                                                             \
    "    " OP ".u32 %r6, %r6, %r7;\n"                                                              \
    "    st.global.u32 [%rd4], %r6;\n"                                                             \
    "$L_" NAME "_done:\n"                                                                          \
    "    ret;\n"                                                                                   \
    "}\n"

static const char graph_test_ptx[] = ".version 8.0\n"
                                     ".target sm_80\n"
                                     ".address_size 64\n"
                                     "\n" GRAPH_TEST_KERNEL("add_u32", "add")
                                         GRAPH_TEST_KERNEL("mul_u32", "mul.lo");

struct graph_test {
    CUcontext ctx;
    CUmodule mod;
    CUfunction add, mul;
};

/* Creates a context on device 0, loads the module and finds its kernels. */
static inline void graph_test_setup(struct graph_test *t)
{
    CUdevice dev;
    REQUIRE_OK(cuInit(0));
    REQUIRE_OK(cuDeviceGet(&dev, 0));
    REQUIRE_OK(cuCtxCreate(&t->ctx, NULL, 0, dev));
    REQUIRE_OK(cuModuleLoadData(&t->mod, graph_test_ptx));
    REQUIRE_OK(cuModuleGetFunction(&t->add, t->mod, "add_u32"));
    REQUIRE_OK(cuModuleGetFunction(&t->mul, t->mod, "mul_u32"));
}

/* Launches f(p, n, v) on s with 64-thread blocks. */
static inline CUresult graph_test_launch(CUfunction f, CUstream s, CUdeviceptr p, unsigned n,
                                         unsigned v)
{
    void *args[] = {&p, &n, &v};
    return cuLaunchKernel(f, (n + 63) / 64, 1, 1, 64, 1, 1, 0, s, args, NULL);
}

/* Kernel node parameters for f(*p, *n, *v); the pointed-to values are copied when used. */
static inline CUDA_KERNEL_NODE_PARAMS graph_test_kparams(CUfunction f, void **args, unsigned n)
{
    CUDA_KERNEL_NODE_PARAMS kp;
    memset(&kp, 0, sizeof(kp));
    kp.func = f;
    kp.gridDimX = (n + 63) / 64;
    kp.gridDimY = kp.gridDimZ = 1;
    kp.blockDimX = 64;
    kp.blockDimY = kp.blockDimZ = 1;
    kp.kernelParams = args;
    return kp;
}

#endif
