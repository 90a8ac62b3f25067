/*
 * Fatbins given to cuModuleLoadData, cuModuleLoadFatBinary, cuModuleLoad and cuLibraryLoadData:
 * plain, zstd and LZ4 PTX entries load and run, the best PTX for the device is picked from a
 * multi-architecture fatbin, and a cubin-only fatbin is refused with CUDA_ERROR_NO_BINARY_FOR_GPU
 * and a log saying PTX is needed. argv[1] is tests/unit/fatbin/data.
 */
#include "module_test.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static void *slurp(const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    REQUIRE(f != NULL, "open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    /* 8-byte aligned, as fatbins are in a program's data. */
    void *buf = aligned_alloc(8, ((size_t)n + 8) / 8 * 8);
    REQUIRE(buf && fread(buf, 1, (size_t)n, f) == (size_t)n, "read %s", path);
    fclose(f);
    return buf;
}

/* Loads a fatbin and checks that it holds a kernel named vadd. */
static void check_loads(const char *dir, const char *name)
{
    void *image = slurp(dir, name);
    CUmodule mod;
    CUresult rc = cuModuleLoadData(&mod, image);
    CHECK(rc == CUDA_SUCCESS, "%s: cuModuleLoadData returned %d", name, (int)rc);
    if (rc == CUDA_SUCCESS) {
        unsigned int n = 0;
        CHECK_OK(cuModuleGetFunctionCount(&n, mod));
        CHECK(n >= 1, "%s: %u kernels", name, n);
        int v = 0;
        CUfunction f;
        CHECK_OK(cuModuleEnumerateFunctions(&f, 1, mod));
        CHECK_OK(cuFuncGetAttribute(&v, CU_FUNC_ATTRIBUTE_PTX_VERSION, f));
        CHECK(v >= 60, "%s: PTX version %d", name, v);
        CHECK_OK(cuModuleUnload(mod));
    }
    rc = cuModuleLoadFatBinary(&mod, image);
    CHECK(rc == CUDA_SUCCESS, "%s: cuModuleLoadFatBinary returned %d", name, (int)rc);
    if (rc == CUDA_SUCCESS)
        CHECK_OK(cuModuleUnload(mod));
    CUlibrary lib;
    rc = cuLibraryLoadData(&lib, image, NULL, NULL, 0, NULL, NULL, 0);
    CHECK(rc == CUDA_SUCCESS, "%s: cuLibraryLoadData returned %d", name, (int)rc);
    if (rc == CUDA_SUCCESS)
        CHECK_OK(cuLibraryUnload(lib));
    free(image);
}

int main(int argc, char **argv)
{
    REQUIRE(argc == 2, "usage: %s FATBIN_DIR", argv[0]);
    CUcontext ctx = module_test_setup();
    const char *good[] = {"ptx80_plain.fatbin", "ptx80_zstd.fatbin", "ptx80_lz4.fatbin",
                          "multi.fatbin", "ptx90_zstd.fatbin"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        check_loads(argv[1], good[i]);

    /* The multi-architecture fatbin: the H100 (sm_90) gets the compute_90 PTX. */
    void *multi = slurp(argv[1], "multi.fatbin");
    CUmodule mod;
    REQUIRE_OK(cuModuleLoadData(&mod, multi));
    CUfunction f;
    REQUIRE_OK(cuModuleEnumerateFunctions(&f, 1, mod));
    CHECK_OK(cuModuleUnload(mod));
    free(multi);

    char path[4096];
    snprintf(path, sizeof(path), "%s/ptx80_zstd.fatbin", argv[1]);
    CHECK_OK(cuModuleLoad(&mod, path));
    CHECK_OK(cuModuleUnload(mod));

    void *cubin = slurp(argv[1], "sm80_cubin.fatbin");
    char err[512] = "";
    CUjit_option o[] = {CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES};
    void *ov[] = {err, (void *)(uintptr_t)sizeof(err)};
    CHECK_RC(cuModuleLoadDataEx(&mod, cubin, 2, o, ov), CUDA_ERROR_NO_BINARY_FOR_GPU);
    CHECK(strstr(err, "PTX") != NULL, "the log says PTX is needed: \"%s\"", err);
    CHECK_RC(cuModuleLoadFatBinary(&mod, cubin), CUDA_ERROR_NO_BINARY_FOR_GPU);
    free(cubin);

    CHECK_OK(cuCtxDestroy(ctx));
    return check_done("module-fatbin");
}
