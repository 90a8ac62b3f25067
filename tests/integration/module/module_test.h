/*
 * Helpers shared by the module suite (src/sim/module.c, src/sim/launch.c): a context on device 0
 * and small hand-written PTX modules.
 */
#ifndef GPOOL_TEST_MODULE_H
#define GPOOL_TEST_MODULE_H

#include <cuda.h>
#include <string.h>

#include "check.h"

/* Creates a context on device 0 and makes it current. */
static inline CUcontext module_test_setup(void)
{
    CUdevice dev;
    CUcontext ctx;
    REQUIRE_OK(cuInit(0));
    REQUIRE_OK(cuDeviceGet(&dev, 0));
    REQUIRE_OK(cuCtxCreate(&ctx, NULL, 0, dev));
    return ctx;
}

/* add_one(p, n): p[i] += 1 for i < n; also module variables with initialisers, a kernel with
 * mixed parameters and one with a bounded block. */
static const char module_test_ptx[] =
    ".version 8.0\n"
    ".target sm_80\n"
    ".address_size 64\n"
    "\n"
    ".global .align 4 .u32 counter = 7;\n"
    ".global .align 4 .b8 table[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};\n"
    ".const .align 4 .u32 coeff[2] = {11, 22};\n"
    ".global .align 8 .u64 zeroed[4];\n"
    "\n"
    ".visible .entry add_one(\n"
    "    .param .u64 add_one_param_0,\n"
    "    .param .u32 add_one_param_1\n"
    ")\n"
    "{\n"
    "    .reg .pred %p<2>;\n"
    "    .reg .b32 %r<7>;\n"
    "    .reg .b64 %rd<5>;\n"
    "    ld.param.u64 %rd1, [add_one_param_0];\n"
    "    ld.param.u32 %r1, [add_one_param_1];\n"
    "    mov.u32 %r2, %tid.x;\n"
    "    mov.u32 %r3, %ctaid.x;\n"
    "    mov.u32 %r4, %ntid.x;\n"
    "    mad.lo.s32 %r5, %r3, %r4, %r2;\n"
    "    setp.ge.u32 %p1, %r5, %r1;\n"
    "    @%p1 bra $L_done;\n"
    "    cvta.to.global.u64 %rd2, %rd1;\n"
    "    mul.wide.u32 %rd3, %r5, 4;\n"
    "    add.s64 %rd4, %rd2, %rd3;\n"
    "    ld.global.u32 %r6, [%rd4];\n"
    "    add.s32 %r6, %r6, 1;\n"
    "    st.global.u32 [%rd4], %r6;\n"
    "$L_done:\n"
    "    ret;\n"
    "}\n"
    "\n"
    ".visible .entry mixed_params(\n"
    "    .param .u8 mixed_params_param_0,\n"
    "    .param .u64 mixed_params_param_1,\n"
    "    .param .align 16 .b8 mixed_params_param_2[24],\n"
    "    .param .f32 mixed_params_param_3\n"
    ")\n"
    "{\n"
    "    ret;\n"
    "}\n"
    "\n"
    ".visible .entry small_block()\n"
    ".maxntid 64, 1, 1\n"
    "{\n"
    "    ret;\n"
    "}\n";

/* A module the front end rejects: an instruction that does not exist, on line 7. */
static const char module_test_bad_ptx[] =
    ".version 8.0\n"
    ".target sm_80\n"
    ".address_size 64\n"
    ".visible .entry bad()\n"
    "{\n"
    "    .reg .b32 %r<3>;\n"
    "    frobnicate.b32 %r1, %r2;\n"
    "    ret;\n"
    "}\n";

#endif
