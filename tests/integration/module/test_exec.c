/*
 * Kernels that run: vector_add (argv[1]) through every launch form, a kernel reading a module
 * variable, an out-of-bounds store (CUDA_ERROR_ILLEGAL_ADDRESS at the next synchronisation and
 * sticky afterwards), __assertfail (CUDA_ERROR_ASSERT) and device printf captured from a child's
 * stdout. Each failing kernel runs in a child process so its sticky error stays there.
 */
#include "module_test.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

#define N 1000

static const char fault_ptx[] =
    ".version 8.0\n"
    ".target sm_80\n"
    ".address_size 64\n"
    ".extern .func __assertfail(.param .b64 a, .param .b64 b, .param .b32 c, .param .b64 d,\n"
    "    .param .b64 e);\n"
    ".global .align 1 .b8 msg[5] = {111, 111, 112, 115, 0};\n"
    ".global .align 1 .b8 hello[13] = {104, 101, 108, 108, 111, 32, 102, 114, 111, 109, 32, 37, 0};\n"
    ".global .align 1 .b8 fmt[10] = {107, 101, 114, 110, 101, 108, 32, 37, 100, 10};\n"
    ".extern .func (.param .b32 r) vprintf(.param .b64 f, .param .b64 a);\n"
    ".visible .entry store_at(.param .u64 p)\n"
    "{\n"
    "    .reg .b32 %r<2>;\n"
    "    .reg .b64 %rd<2>;\n"
    "    ld.param.u64 %rd1, [p];\n"
    "    mov.u32 %r1, 99;\n"
    "    st.global.u32 [%rd1], %r1;\n"
    "    ret;\n"
    "}\n"
    ".visible .entry fail_assert()\n"
    "{\n"
    "    .reg .b32 %r<2>;\n"
    "    .reg .b64 %rd<2>;\n"
    "    mov.u64 %rd1, msg;\n"
    "    cvta.global.u64 %rd1, %rd1;\n"
    "    mov.u32 %r1, 12;\n"
    "    {\n"
    "    .param .b64 a0;\n"
    "    st.param.b64 [a0], %rd1;\n"
    "    .param .b64 a1;\n"
    "    st.param.b64 [a1], %rd1;\n"
    "    .param .b32 a2;\n"
    "    st.param.b32 [a2], %r1;\n"
    "    .param .b64 a3;\n"
    "    st.param.b64 [a3], %rd1;\n"
    "    .param .b64 a4;\n"
    "    mov.u64 %rd1, 1;\n"
    "    st.param.b64 [a4], %rd1;\n"
    "    call.uni __assertfail, (a0, a1, a2, a3, a4);\n"
    "    }\n"
    "    ret;\n"
    "}\n"
    ".visible .entry say(.param .u32 v)\n"
    "{\n"
    "    .local .align 8 .b8 buf[8];\n"
    "    .reg .b32 %r<3>;\n"
    "    .reg .b64 %rd<5>;\n"
    "    ld.param.u32 %r1, [v];\n"
    "    mov.u64 %rd1, buf;\n"
    "    cvta.local.u64 %rd2, %rd1;\n"
    "    st.local.u32 [%rd1], %r1;\n"
    "    mov.u64 %rd3, fmt;\n"
    "    cvta.global.u64 %rd4, %rd3;\n"
    "    {\n"
    "    .param .b64 f;\n"
    "    st.param.b64 [f], %rd4;\n"
    "    .param .b64 a;\n"
    "    st.param.b64 [a], %rd2;\n"
    "    .param .b32 r;\n"
    "    call.uni (r), vprintf, (f, a);\n"
    "    ld.param.b32 %r2, [r];\n"
    "    }\n"
    "    ret;\n"
    "}\n";

static void fill(float *a, float *b)
{
    for (int i = 0; i < N; i++) {
        a[i] = (float)i * 0.5f;
        b[i] = (float)(N - i);
    }
}

static int check_sum(CUdeviceptr dc, const float *a, const float *b, const char *how)
{
    static float c[N];
    CHECK_OK(cuMemcpyDtoH(c, dc, sizeof(c)));
    int bad = 0;
    for (int i = 0; i < N; i++)
        bad += c[i] != a[i] + b[i];
    CHECK(bad == 0, "%s: %d wrong elements", how, bad);
    CHECK_OK(cuMemsetD8(dc, 0, sizeof(c)));
    CHECK_OK(cuCtxSynchronize()); /* the next launch may be on a non-blocking stream */
    return bad;
}

static void test_vector_add(const char *path)
{
    static float a[N], b[N];
    fill(a, b);
    CUmodule mod;
    REQUIRE_OK(cuModuleLoad(&mod, path));
    CUfunction f;
    REQUIRE_OK(cuModuleGetFunction(&f, mod, "vector_add"));
    CUdeviceptr da, db, dc;
    REQUIRE_OK(cuMemAlloc(&da, sizeof(a)));
    REQUIRE_OK(cuMemAlloc(&db, sizeof(b)));
    REQUIRE_OK(cuMemAlloc(&dc, sizeof(a)));
    CHECK_OK(cuMemcpyHtoD(da, a, sizeof(a)));
    CHECK_OK(cuMemcpyHtoD(db, b, sizeof(b)));
    CHECK_OK(cuMemsetD8(dc, 0, sizeof(a)));
    int n = N;
    unsigned int grid = (N + 127) / 128;

    void *params[] = {&da, &db, &dc, &n};
    CHECK_OK(cuLaunchKernel(f, grid, 1, 1, 128, 1, 1, 0, NULL, params, NULL));
    CHECK_OK(cuCtxSynchronize());
    check_sum(dc, a, b, "kernelParams");

    struct {
        CUdeviceptr a, b, c;
        int n;
        int pad;
    } buf = {da, db, dc, N, 0};
    size_t size = sizeof(buf);
    void *extra[] = {CU_LAUNCH_PARAM_BUFFER_POINTER, &buf, CU_LAUNCH_PARAM_BUFFER_SIZE, &size,
                     CU_LAUNCH_PARAM_END};
    CHECK_OK(cuLaunchKernel(f, grid, 1, 1, 128, 1, 1, 0, NULL, NULL, extra));
    CHECK_OK(cuCtxSynchronize());
    check_sum(dc, a, b, "extra buffer");

    CUstream s;
    REQUIRE_OK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
    CUlaunchAttribute at[2];
    memset(at, 0, sizeof(at));
    at[0].id = CU_LAUNCH_ATTRIBUTE_PRIORITY;
    at[0].value.priority = -1;
    at[1].id = CU_LAUNCH_ATTRIBUTE_COOPERATIVE;
    at[1].value.cooperative = 1;
    CUlaunchConfig cfg = {.gridDimX = grid, .gridDimY = 1, .gridDimZ = 1, .blockDimX = 128,
                          .blockDimY = 1, .blockDimZ = 1, .hStream = s, .attrs = at,
                          .numAttrs = 2};
    CHECK_OK(cuLaunchKernelEx(&cfg, f, params, NULL));
    CHECK_OK(cuStreamSynchronize(s));
    check_sum(dc, a, b, "cuLaunchKernelEx");
    CHECK_OK(cuLaunchCooperativeKernel(f, grid, 1, 1, 128, 1, 1, 0, s, params));
    CHECK_OK(cuStreamSynchronize(s));
    check_sum(dc, a, b, "cooperative");
    CHECK_OK(cuStreamDestroy(s));

    CHECK_OK(cuFuncSetBlockShape(f, 128, 1, 1));
    CHECK_OK(cuParamSetv(f, 0, &da, 8));
    CHECK_OK(cuParamSetv(f, 8, &db, 8));
    CHECK_OK(cuParamSetv(f, 16, &dc, 8));
    CHECK_OK(cuParamSeti(f, 24, N));
    CHECK_OK(cuParamSetSize(f, 28));
    CHECK_OK(cuLaunchGrid(f, (int)grid, 1));
    CHECK_OK(cuCtxSynchronize());
    check_sum(dc, a, b, "cuLaunchGrid");

    /* The same kernel through the library API, as a CUkernel handle. */
    CUlibrary lib;
    REQUIRE_OK(cuLibraryLoadFromFile(&lib, path, NULL, NULL, 0, NULL, NULL, 0));
    CUkernel k;
    REQUIRE_OK(cuLibraryGetKernel(&k, lib, "vector_add"));
    CHECK_OK(cuLaunchKernel((CUfunction)k, grid, 1, 1, 128, 1, 1, 0, NULL, params, NULL));
    CHECK_OK(cuCtxSynchronize());
    check_sum(dc, a, b, "CUkernel");
    CHECK_OK(cuLibraryUnload(lib));

    /* Managed and page-locked memory are the kernel's too. */
    float *ha, *hb;
    REQUIRE_OK(cuMemAllocHost((void **)&ha, sizeof(a)));
    REQUIRE_OK(cuMemAllocHost((void **)&hb, sizeof(b)));
    CUdeviceptr mc;
    REQUIRE_OK(cuMemAllocManaged(&mc, sizeof(a), CU_MEM_ATTACH_GLOBAL));
    memcpy(ha, a, sizeof(a));
    memcpy(hb, b, sizeof(b));
    CUdeviceptr pa = (CUdeviceptr)(uintptr_t)ha, pb = (CUdeviceptr)(uintptr_t)hb;
    void *hparams[] = {&pa, &pb, &mc, &n};
    CHECK_OK(cuLaunchKernel(f, grid, 1, 1, 128, 1, 1, 0, NULL, hparams, NULL));
    CHECK_OK(cuCtxSynchronize());
    int bad = 0;
    for (int i = 0; i < N; i++)
        bad += ((float *)(uintptr_t)mc)[i] != a[i] + b[i];
    CHECK(bad == 0, "host and managed memory: %d wrong", bad);
    CHECK_OK(cuMemFreeHost(ha));
    CHECK_OK(cuMemFreeHost(hb));
    CHECK_OK(cuMemFree(mc));

    CHECK_OK(cuMemFree(da));
    CHECK_OK(cuMemFree(db));
    CHECK_OK(cuMemFree(dc));
    CHECK_OK(cuModuleUnload(mod));
}

/* A kernel updates a module variable in place. */
static void test_module_variable(void)
{
    CUmodule mod;
    REQUIRE_OK(cuModuleLoadData(&mod, module_test_ptx));
    CUfunction f;
    REQUIRE_OK(cuModuleGetFunction(&f, mod, "add_one"));
    CUdeviceptr table;
    size_t bytes;
    REQUIRE_OK(cuModuleGetGlobal(&table, &bytes, mod, "table"));
    unsigned int words = 4;
    void *params[] = {&table, &words};
    CHECK_OK(cuLaunchKernel(f, 1, 1, 1, 32, 1, 1, 0, NULL, params, NULL));
    CHECK_OK(cuCtxSynchronize());
    uint32_t w[4];
    CHECK_OK(cuMemcpyDtoH(w, table, sizeof(w)));
    CHECK(w[0] == 0x04030202u && w[3] == 0x100f0e0eu, "table words %08x %08x", w[0], w[3]);
    CHECK_OK(cuModuleUnload(mod));
}

/* A module variable whose initialiser names another variable holds that variable's device
 * address once loaded (the loader relocates it), so a kernel can load through it. */
static const char reloc_ptx[] =
    ".version 8.0\n.target sm_80\n.address_size 64\n"
    ".global .align 4 .u32 data[2] = {7, 9};\n"
    ".global .align 8 .u64 ptr[2] = {data, generic(data)};\n"
    ".visible .entry through_ptr(.param .u64 out)\n{\n"
    ".reg .b64 %rd<6>;\n.reg .b32 %r<3>;\n"
    "ld.param.u64 %rd1, [out];\ncvta.to.global.u64 %rd2, %rd1;\n"
    "ld.global.u64 %rd3, [ptr];\nld.global.u32 %r1, [%rd3+4];\n"
    "ld.global.u64 %rd4, [ptr+8];\nld.u32 %r2, [%rd4];\n"
    "st.global.u32 [%rd2], %r1;\nst.global.u32 [%rd2+4], %r2;\nret;\n}\n";

static void test_variable_relocation(void)
{
    CUmodule mod;
    char log[512] = "";
    CUjit_option keys[] = {CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES};
    void *vals[] = {log, (void *)(uintptr_t)sizeof(log)};
    CUresult rc = cuModuleLoadDataEx(&mod, reloc_ptx, 2, keys, vals);
    REQUIRE(rc == CUDA_SUCCESS, "loading the relocation module: %d (%s)", (int)rc, log);
    CUdeviceptr data, ptr;
    REQUIRE_OK(cuModuleGetGlobal(&data, NULL, mod, "data"));
    REQUIRE_OK(cuModuleGetGlobal(&ptr, NULL, mod, "ptr"));
    uint64_t p[2];
    CHECK_OK(cuMemcpyDtoH(p, ptr, sizeof(p)));
    CHECK(p[0] == (uint64_t)data && p[1] == (uint64_t)data,
          "ptr holds 0x%llx/0x%llx, data is at 0x%llx", (unsigned long long)p[0],
          (unsigned long long)p[1], (unsigned long long)data);
    CUfunction f;
    REQUIRE_OK(cuModuleGetFunction(&f, mod, "through_ptr"));
    CUdeviceptr out;
    REQUIRE_OK(cuMemAlloc(&out, 8));
    void *params[] = {&out};
    CHECK_OK(cuLaunchKernel(f, 1, 1, 1, 1, 1, 1, 0, NULL, params, NULL));
    CHECK_OK(cuCtxSynchronize());
    uint32_t w[2] = {0, 0};
    CHECK_OK(cuMemcpyDtoH(w, out, sizeof(w)));
    CHECK(w[0] == 9 && w[1] == 7, "loads through the relocated pointers gave %u %u", w[0], w[1]);
    CHECK_OK(cuMemFree(out));
    CHECK_OK(cuModuleUnload(mod));
}

/* Runs fn in a child with a fresh context; returns its exit status (stdout to out_fd if >= 0). */
static int in_child(int (*fn)(void), int out_fd)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        if (out_fd >= 0)
            dup2(out_fd, 1);
        CUcontext ctx;
        CUdevice dev;
        if (cuInit(0) || cuDeviceGet(&dev, 0) || cuCtxCreate(&ctx, NULL, 0, dev))
            _exit(90);
        int rc = fn();
        fflush(stdout);
        _exit(rc);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 100 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

static int child_out_of_bounds(void)
{
    CUmodule mod;
    CUfunction f;
    if (cuModuleLoadData(&mod, fault_ptx) || cuModuleGetFunction(&f, mod, "store_at"))
        return 91;
    CUdeviceptr d;
    if (cuMemAlloc(&d, 256))
        return 92;
    CUdeviceptr past = d + (1u << 20); /* far past the allocation */
    void *params[] = {&past};
    if (cuLaunchKernel(f, 1, 1, 1, 1, 1, 1, 0, NULL, params, NULL))
        return 93;
    if (cuCtxSynchronize() != CUDA_ERROR_ILLEGAL_ADDRESS)
        return 94;
    /* Sticky: every later call on the context fails the same way. */
    CUdeviceptr e;
    if (cuMemAlloc(&e, 16) != CUDA_ERROR_ILLEGAL_ADDRESS)
        return 95;
    if (cuCtxSynchronize() != CUDA_ERROR_ILLEGAL_ADDRESS)
        return 96;
    void *ok_params[] = {&d};
    if (cuLaunchKernel(f, 1, 1, 1, 1, 1, 1, 0, NULL, ok_params, NULL) != CUDA_ERROR_ILLEGAL_ADDRESS)
        return 97;
    return 0;
}

static int child_assert(void)
{
    CUmodule mod;
    CUfunction f;
    if (cuModuleLoadData(&mod, fault_ptx) || cuModuleGetFunction(&f, mod, "fail_assert"))
        return 91;
    if (cuLaunchKernel(f, 1, 1, 1, 1, 1, 1, 0, NULL, NULL, NULL))
        return 93;
    if (cuCtxSynchronize() != CUDA_ERROR_ASSERT)
        return 94;
    CUdeviceptr e;
    return cuMemAlloc(&e, 16) == CUDA_ERROR_ASSERT ? 0 : 95;
}

static int child_printf(void)
{
    CUmodule mod;
    CUfunction f;
    if (cuModuleLoadData(&mod, fault_ptx) || cuModuleGetFunction(&f, mod, "say"))
        return 91;
    unsigned int v = 42;
    void *params[] = {&v};
    if (cuLaunchKernel(f, 1, 1, 1, 3, 1, 1, 0, NULL, params, NULL))
        return 93;
    return cuCtxSynchronize() == CUDA_SUCCESS ? 0 : 94;
}

static void test_faults(void)
{
    int rc = in_child(child_out_of_bounds, -1);
    CHECK(rc == 0, "out-of-bounds store: child step %d failed", rc);
    rc = in_child(child_assert, -1);
    CHECK(rc == 0, "assert: child step %d failed", rc);

    int fds[2];
    REQUIRE(pipe(fds) == 0, "pipe");
    rc = in_child(child_printf, fds[1]);
    close(fds[1]);
    char out[512] = "";
    size_t got = 0;
    ssize_t r;
    while (got < sizeof(out) - 1 && (r = read(fds[0], out + got, sizeof(out) - 1 - got)) > 0)
        got += (size_t)r;
    close(fds[0]);
    CHECK(rc == 0, "printf: child step %d failed", rc);
    CHECK(strcmp(out, "kernel 42\nkernel 42\nkernel 42\n") == 0, "printf output \"%s\"", out);
}

int main(int argc, char **argv)
{
    REQUIRE(argc == 2, "usage: %s vector_add.ptx", argv[0]);
    test_faults();
    CUcontext ctx = module_test_setup();
    test_vector_add(argv[1]);
    test_module_variable();
    test_variable_relocation();
    CHECK_OK(cuCtxSynchronize());
    CHECK_OK(cuCtxDestroy(ctx));
    return check_done("module-exec");
}
