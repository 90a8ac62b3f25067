/*
 * Loading modules: PTX from a string and from a file, the JIT logs, functions and their
 * parameter layout and attributes, module variables (allocated, initialised, freed), the
 * per-module overhead, refused images and garbage handles. argv[1] is a committed PTX file.
 */
#include "module_test.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define MIB (1024ull * 1024ull)

static size_t free_bytes(void)
{
    size_t f = 0, t = 0;
    CHECK_OK(cuMemGetInfo(&f, &t));
    return f;
}

static void test_functions_and_params(CUmodule mod)
{
    CUfunction f, g, h;
    CHECK_OK(cuModuleGetFunction(&f, mod, "add_one"));
    CHECK_OK(cuModuleGetFunction(&g, mod, "mixed_params"));
    CHECK_OK(cuModuleGetFunction(&h, mod, "small_block"));
    CHECK_RC(cuModuleGetFunction(&f, mod, "no_such_kernel"), CUDA_ERROR_NOT_FOUND);
    CHECK_RC(cuModuleGetFunction(&f, mod, NULL), CUDA_ERROR_INVALID_VALUE);

    unsigned int count = 0;
    CHECK_OK(cuModuleGetFunctionCount(&count, mod));
    CHECK(count == 3, "%u kernels", count);
    CUfunction all[3] = {0};
    CHECK_OK(cuModuleEnumerateFunctions(all, 3, mod));
    int seen = 0;
    for (int i = 0; i < 3; i++)
        seen += all[i] == f || all[i] == g || all[i] == h;
    CHECK(seen == 3, "enumerated %d of the kernels", seen);

    const char *name = NULL;
    CHECK_OK(cuFuncGetName(&name, g));
    CHECK(name && strcmp(name, "mixed_params") == 0, "name %s", name ? name : "(null)");
    CUmodule back = NULL;
    CHECK_OK(cuFuncGetModule(&back, g));
    CHECK(back == mod, "cuFuncGetModule");

    /* .u8 at 0, .u64 at 8, a 16-aligned 24-byte array at 16, .f32 at 40. */
    size_t want_off[] = {0, 8, 16, 40}, want_size[] = {1, 8, 24, 4};
    for (size_t i = 0; i < 4; i++) {
        size_t off = 99, size = 99;
        CHECK_OK(cuFuncGetParamInfo(g, i, &off, &size));
        CHECK(off == want_off[i] && size == want_size[i], "param %zu at %zu size %zu", i, off,
              size);
    }
    size_t off;
    CHECK_RC(cuFuncGetParamInfo(g, 4, &off, NULL), CUDA_ERROR_INVALID_VALUE);
    CHECK_RC(cuFuncGetParamInfo(h, 0, &off, NULL), CUDA_ERROR_INVALID_VALUE);
}

static void test_attributes(CUmodule mod)
{
    CUfunction f, h;
    REQUIRE_OK(cuModuleGetFunction(&f, mod, "add_one"));
    REQUIRE_OK(cuModuleGetFunction(&h, mod, "small_block"));
    int v = -1, optin = 0;
    CHECK_OK(cuDeviceGetAttribute(&optin, CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN, 0));

    CHECK_OK(cuFuncGetAttribute(&v, CU_FUNC_ATTRIBUTE_PTX_VERSION, f));
    CHECK(v == 80, "PTX_VERSION %d", v);
    CHECK_OK(cuFuncGetAttribute(&v, CU_FUNC_ATTRIBUTE_BINARY_VERSION, f));
    CHECK(v == 90, "BINARY_VERSION %d (the H100 is sm_90)", v);
    CHECK_OK(cuFuncGetAttribute(&v, CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK, f));
    CHECK(v > 0 && v <= 1024 && v % 32 == 0, "MAX_THREADS_PER_BLOCK %d", v);
    CHECK_OK(cuFuncGetAttribute(&v, CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK, h));
    CHECK(v == 64, "MAX_THREADS_PER_BLOCK of a .maxntid 64 kernel: %d", v);
    int shared = -1;
    CHECK_OK(cuFuncGetAttribute(&shared, CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES, f));
    CHECK(shared == 0, "SHARED_SIZE_BYTES %d", shared);
    CHECK_OK(cuFuncGetAttribute(&v, CU_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES, f));
    CHECK(v == 0, "LOCAL_SIZE_BYTES %d", v);
    CHECK_OK(cuFuncGetAttribute(&v, CU_FUNC_ATTRIBUTE_NUM_REGS, f));
    CHECK(v >= 0 && v <= 255, "NUM_REGS %d", v);
    CHECK_OK(cuFuncGetAttribute(&v, CU_FUNC_ATTRIBUTE_CONST_SIZE_BYTES, f));
    CHECK(v >= 0, "CONST_SIZE_BYTES %d", v);
    CHECK_OK(cuFuncGetAttribute(&v, CU_FUNC_ATTRIBUTE_CACHE_MODE_CA, f));
    CHECK(v == 0, "CACHE_MODE_CA %d", v);
    CHECK_OK(cuFuncGetAttribute(&v, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, f));
    CHECK(v == 48 * 1024, "default MAX_DYNAMIC_SHARED_SIZE_BYTES %d", v);
    CHECK_OK(cuFuncGetAttribute(&v, CU_FUNC_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT, f));
    CHECK(v == -1, "default carveout %d", v);
    CHECK_OK(cuFuncGetAttribute(&v, CU_FUNC_ATTRIBUTE_CLUSTER_SIZE_MUST_BE_SET, f));
    CHECK(v == 0, "CLUSTER_SIZE_MUST_BE_SET %d", v);
    CHECK_RC(cuFuncGetAttribute(&v, (CUfunction_attribute)999, f), CUDA_ERROR_INVALID_VALUE);
    CHECK_RC(cuFuncGetAttribute(NULL, CU_FUNC_ATTRIBUTE_NUM_REGS, f), CUDA_ERROR_INVALID_VALUE);

    /* Dynamic shared memory can be raised to the opt-in limit, not past it. */
    CHECK_OK(cuFuncSetAttribute(f, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                                optin - shared));
    CHECK_OK(cuFuncGetAttribute(&v, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, f));
    CHECK(v == optin - shared, "raised MAX_DYNAMIC_SHARED_SIZE_BYTES %d", v);
    CHECK_RC(cuFuncSetAttribute(f, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                                optin - shared + 1),
             CUDA_ERROR_INVALID_VALUE);
    CHECK_RC(cuFuncSetAttribute(f, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, -1),
             CUDA_ERROR_INVALID_VALUE);
    CHECK_OK(cuFuncSetAttribute(f, CU_FUNC_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT, 50));
    CHECK_OK(cuFuncGetAttribute(&v, CU_FUNC_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT, f));
    CHECK(v == 50, "carveout %d", v);
    CHECK_RC(cuFuncSetAttribute(f, CU_FUNC_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT, 101),
             CUDA_ERROR_INVALID_VALUE);
    CHECK_RC(cuFuncSetAttribute(f, CU_FUNC_ATTRIBUTE_NUM_REGS, 10), CUDA_ERROR_INVALID_VALUE);
    CHECK_RC(cuFuncSetAttribute(f, CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK, 10),
             CUDA_ERROR_INVALID_VALUE);

    CHECK_OK(cuFuncSetCacheConfig(f, CU_FUNC_CACHE_PREFER_SHARED));
    CHECK_RC(cuFuncSetCacheConfig(f, (CUfunc_cache)7), CUDA_ERROR_INVALID_VALUE);
}

static void test_globals(CUmodule mod)
{
    CUdeviceptr d = 0;
    size_t bytes = 0;
    CHECK_OK(cuModuleGetGlobal(&d, &bytes, mod, "counter"));
    CHECK(d != 0 && bytes == 4, "counter at 0x%llx, %zu bytes", (unsigned long long)d, bytes);
    uint32_t c = 0;
    CHECK_OK(cuMemcpyDtoH(&c, d, 4));
    CHECK(c == 7, "counter initialised to %u", c);
    c = 42;
    CHECK_OK(cuMemcpyHtoD(d, &c, 4));
    c = 0;
    CHECK_OK(cuMemcpyDtoH(&c, d, 4));
    CHECK(c == 42, "counter written back %u", c);

    uint8_t table[16];
    CHECK_OK(cuModuleGetGlobal(&d, &bytes, mod, "table"));
    CHECK(bytes == 16, "table is %zu bytes", bytes);
    CHECK_OK(cuMemcpyDtoH(table, d, 16));
    int ok = 1;
    for (int i = 0; i < 16; i++)
        ok &= table[i] == i + 1;
    CHECK(ok, "table initialised");

    uint32_t coeff[2] = {0};
    CHECK_OK(cuModuleGetGlobal(&d, NULL, mod, "coeff"));
    CHECK_OK(cuMemcpyDtoH(coeff, d, 8));
    CHECK(coeff[0] == 11 && coeff[1] == 22, ".const coeff = {%u, %u}", coeff[0], coeff[1]);

    uint64_t z[4] = {1, 1, 1, 1};
    CHECK_OK(cuModuleGetGlobal(NULL, &bytes, mod, "zeroed"));
    CHECK(bytes == 32, "zeroed is %zu bytes", bytes);
    CHECK_OK(cuModuleGetGlobal(&d, NULL, mod, "zeroed"));
    CHECK_OK(cuMemcpyDtoH(z, d, 32));
    CHECK(!z[0] && !z[1] && !z[2] && !z[3], "an uninitialised variable reads zero");

    CUdeviceptr base = 0;
    size_t size = 0;
    CHECK_OK(cuMemGetAddressRange(&base, &size, d));
    CHECK(base == d && size == 32, "the variable is a device allocation");

    CHECK_RC(cuModuleGetGlobal(&d, &bytes, mod, "nothing"), CUDA_ERROR_NOT_FOUND);
    CHECK_RC(cuModuleGetGlobal(&d, &bytes, mod, "add_one"), CUDA_ERROR_NOT_FOUND);
    CHECK_RC(cuModuleGetGlobal(&d, &bytes, mod, NULL), CUDA_ERROR_INVALID_VALUE);
}

static void test_jit_logs(void)
{
    char info[256], err[256];
    memset(info, 'x', sizeof(info));
    memset(err, 'x', sizeof(err));
    CUjit_option opts[] = {CU_JIT_INFO_LOG_BUFFER, CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES,
                           CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES,
                           CU_JIT_OPTIMIZATION_LEVEL, CU_JIT_TARGET_FROM_CUCONTEXT};
    void *vals[] = {info, (void *)(uintptr_t)sizeof(info), err, (void *)(uintptr_t)sizeof(err),
                    (void *)(uintptr_t)4, NULL};
    CUmodule mod = NULL;
    CHECK_RC(cuModuleLoadDataEx(&mod, module_test_bad_ptx, 6, opts, vals), CUDA_ERROR_INVALID_PTX);
    CHECK(strstr(err, "line 7") != NULL, "error log names the line: \"%s\"", err);
    CHECK(strstr(err, "frobnicate") != NULL, "error log names the instruction: \"%s\"", err);
    CHECK((size_t)(uintptr_t)vals[3] == strlen(err), "error log size written back: %zu",
          (size_t)(uintptr_t)vals[3]);
    CHECK(memchr(info, '\0', sizeof(info)) != NULL, "info log terminated");
    CHECK_RC(cuModuleLoadData(&mod, module_test_bad_ptx), CUDA_ERROR_INVALID_PTX);

    /* A log smaller than the message is truncated and terminated. */
    char small[8];
    memset(small, 'x', sizeof(small));
    CUjit_option o2[] = {CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES};
    void *v2[] = {small, (void *)(uintptr_t)sizeof(small)};
    CHECK_RC(cuModuleLoadDataEx(&mod, module_test_bad_ptx, 2, o2, v2), CUDA_ERROR_INVALID_PTX);
    CHECK(small[7] == '\0' && strncmp(small, "line 7", 6) == 0, "truncated log \"%.8s\"", small);

    /* A good module leaves an empty error log; the wall time comes back as a float. */
    memset(err, 'x', sizeof(err));
    CUjit_option o3[] = {CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES,
                         CU_JIT_WALL_TIME};
    void *v3[] = {err, (void *)(uintptr_t)sizeof(err), NULL};
    CHECK_OK(cuModuleLoadDataEx(&mod, module_test_ptx, 3, o3, v3));
    float ms = -1;
    memcpy(&ms, &v3[2], sizeof(ms));
    CHECK(err[0] == '\0', "error log of a good module: \"%s\"", err);
    CHECK(ms >= 0, "wall time %f ms", (double)ms);
    CHECK_OK(cuModuleUnload(mod));

    CUjit_option bad_opt[] = {(CUjit_option)1000};
    void *bad_val[] = {NULL};
    CHECK_RC(cuModuleLoadDataEx(&mod, module_test_ptx, 1, bad_opt, bad_val),
             CUDA_ERROR_INVALID_VALUE);
    CHECK_RC(cuModuleLoadDataEx(&mod, module_test_ptx, 1, NULL, NULL), CUDA_ERROR_INVALID_VALUE);
}

static void test_refused_images(const char *ptx_path)
{
    CUmodule mod = NULL;
    CHECK_RC(cuModuleLoadData(NULL, module_test_ptx), CUDA_ERROR_INVALID_VALUE);
    CHECK_RC(cuModuleLoadData(&mod, NULL), CUDA_ERROR_INVALID_VALUE);
    static const unsigned char elf[64] = {0x7f, 'E', 'L', 'F', 2, 1, 1};
    CHECK_RC(cuModuleLoadData(&mod, elf), CUDA_ERROR_NO_BINARY_FOR_GPU);
    CHECK_RC(cuModuleLoadData(&mod, ""), CUDA_ERROR_INVALID_PTX);
    CHECK_RC(cuModuleLoad(&mod, "/nonexistent/kernels.ptx"), CUDA_ERROR_FILE_NOT_FOUND);
    CHECK_RC(cuModuleLoad(&mod, NULL), CUDA_ERROR_INVALID_VALUE);

    /* A truncated fatbin container header. */
    static const unsigned char fatbin[16] = {0x50, 0xed, 0x55, 0xba, 1, 0, 16, 0, 0xff, 0xff,
                                             0xff, 0xff, 0, 0, 0, 0};
    CHECK_RC(cuModuleLoadData(&mod, fatbin), CUDA_ERROR_INVALID_IMAGE);

    CHECK_OK(cuModuleLoad(&mod, ptx_path));
    CUfunction f;
    CHECK_OK(cuModuleGetFunction(&f, mod, "vector_add"));
    CHECK_OK(cuModuleUnload(mod));
}

static void test_handles(void)
{
    CUmodule bogus = (CUmodule)(uintptr_t)0x1234;
    CUfunction fbogus = (CUfunction)(uintptr_t)0x5678;
    CUfunction f;
    int v;
    CHECK_RC(cuModuleGetFunction(&f, bogus, "x"), CUDA_ERROR_INVALID_HANDLE);
    CHECK_RC(cuModuleGetFunction(&f, NULL, "x"), CUDA_ERROR_INVALID_HANDLE);
    CHECK_RC(cuModuleUnload(bogus), CUDA_ERROR_INVALID_HANDLE);
    CHECK_RC(cuModuleUnload(NULL), CUDA_ERROR_INVALID_HANDLE);
    CHECK_RC(cuFuncGetAttribute(&v, CU_FUNC_ATTRIBUTE_NUM_REGS, fbogus), CUDA_ERROR_INVALID_HANDLE);
    CHECK_RC(cuFuncGetAttribute(&v, CU_FUNC_ATTRIBUTE_NUM_REGS, NULL), CUDA_ERROR_INVALID_HANDLE);
    CHECK_RC(cuLaunchKernel(fbogus, 1, 1, 1, 1, 1, 1, 0, NULL, NULL, NULL),
             CUDA_ERROR_INVALID_HANDLE);
    size_t off;
    CHECK_RC(cuFuncGetParamInfo(fbogus, 0, &off, NULL), CUDA_ERROR_INVALID_HANDLE);

    /* A function and a module are invalid once their module is unloaded. */
    CUmodule mod;
    REQUIRE_OK(cuModuleLoadData(&mod, module_test_ptx));
    REQUIRE_OK(cuModuleGetFunction(&f, mod, "add_one"));
    CHECK_OK(cuModuleUnload(mod));
    CHECK_RC(cuModuleUnload(mod), CUDA_ERROR_INVALID_HANDLE);
    CHECK_RC(cuFuncGetAttribute(&v, CU_FUNC_ATTRIBUTE_NUM_REGS, f), CUDA_ERROR_INVALID_HANDLE);
    CHECK_RC(cuModuleGetFunction(&f, mod, "add_one"), CUDA_ERROR_INVALID_HANDLE);
}

/* Each module charges the model's overhead and its variables while loaded. */
static void test_accounting(void)
{
    size_t before = free_bytes();
    CUmodule a, b;
    REQUIRE_OK(cuModuleLoadData(&a, module_test_ptx));
    size_t one = free_bytes();
    CHECK(before - one >= 2 * MIB, "a module takes %zu bytes", before - one);
    REQUIRE_OK(cuModuleLoadData(&b, module_test_ptx));
    size_t two = free_bytes();
    CHECK(one - two == before - one, "the second module takes as much: %zu", one - two);
    CUdeviceptr da, db;
    CHECK_OK(cuModuleGetGlobal(&da, NULL, a, "counter"));
    CHECK_OK(cuModuleGetGlobal(&db, NULL, b, "counter"));
    CHECK(da != db, "each module has its own variables");
    CHECK_OK(cuModuleUnload(a));
    CHECK_OK(cuModuleUnload(b));
    CHECK(free_bytes() == before, "unloading returns everything (%zu vs %zu)", free_bytes(),
          before);
}

/* Destroying a context unloads the modules loaded in it: their handles become invalid and the
 * device gets their overhead back, without any cuModuleUnload. */
static void test_context_destroy_unloads(void)
{
    CUcontext cur, ctx;
    CUdevice dev;
    REQUIRE_OK(cuCtxGetCurrent(&cur));
    REQUIRE_OK(cuCtxGetDevice(&dev));
    size_t before = free_bytes();
    REQUIRE_OK(cuCtxCreate(&ctx, NULL, 0, dev));
    CUmodule mod;
    CUfunction f;
    REQUIRE_OK(cuModuleLoadData(&mod, module_test_ptx));
    REQUIRE_OK(cuModuleGetFunction(&f, mod, "add_one"));
    CHECK(free_bytes() < before, "the context and module take memory");
    CHECK_OK(cuCtxDestroy(ctx));
    CHECK_OK(cuCtxSetCurrent(cur));
    CHECK(free_bytes() == before, "destroying the context returns everything (%zu vs %zu)",
          free_bytes(), before);
    CHECK_RC(cuModuleGetFunction(&f, mod, "add_one"), CUDA_ERROR_INVALID_HANDLE);
    CHECK_RC(cuModuleUnload(mod), CUDA_ERROR_INVALID_HANDLE);
}

int main(int argc, char **argv)
{
    REQUIRE(argc == 2, "usage: %s KERNEL.ptx", argv[0]);
    CUcontext ctx = module_test_setup();
    CUmodule mod;
    REQUIRE_OK(cuModuleLoadData(&mod, module_test_ptx));
    test_functions_and_params(mod);
    test_attributes(mod);
    test_globals(mod);
    CHECK_OK(cuModuleUnload(mod));
    test_jit_logs();
    test_refused_images(argv[1]);
    test_handles();
    test_accounting();
    test_context_destroy_unloads();

    CUmoduleLoadingMode mode;
    CHECK_OK(cuModuleGetLoadingMode(&mode));
    CHECK(mode == CU_MODULE_LAZY_LOADING || mode == CU_MODULE_EAGER_LOADING, "mode %d", mode);
    CHECK_OK(cuCtxDestroy(ctx));
    return check_done("module-load");
}
