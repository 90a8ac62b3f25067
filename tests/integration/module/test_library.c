/*
 * The library API: loading PTX as a library (from memory and a file), kernels, their parameter
 * info and attributes, the per-context module and variables, unloading, garbage handles.
 */
#include "module_test.h"

#include <stdint.h>

int main(int argc, char **argv)
{
    REQUIRE(argc == 2, "usage: %s KERNEL.ptx", argv[0]);
    REQUIRE_OK(cuInit(0));

    /* A library loads without a current context. */
    CUlibrary lib;
    REQUIRE_OK(cuLibraryLoadData(&lib, module_test_ptx, NULL, NULL, 0, NULL, NULL, 0));
    unsigned int count = 0;
    CHECK_OK(cuLibraryGetKernelCount(&count, lib));
    CHECK(count == 3, "%u kernels", count);
    CUkernel k, k2;
    CHECK_OK(cuLibraryGetKernel(&k, lib, "mixed_params"));
    CHECK_RC(cuLibraryGetKernel(&k2, lib, "nope"), CUDA_ERROR_NOT_FOUND);
    const char *name = NULL;
    CHECK_OK(cuKernelGetName(&name, k));
    CHECK(name && strcmp(name, "mixed_params") == 0, "kernel name %s", name ? name : "(null)");
    size_t off = 0, size = 0;
    CHECK_OK(cuKernelGetParamInfo(k, 2, &off, &size));
    CHECK(off == 16 && size == 24, "param 2 at %zu size %zu", off, size);
    CHECK_RC(cuKernelGetParamInfo(k, 4, &off, &size), CUDA_ERROR_INVALID_VALUE);
    CUlibrary back;
    CHECK_OK(cuKernelGetLibrary(&back, k));
    CHECK(back == lib, "cuKernelGetLibrary");
    CUkernel all[3];
    CHECK_OK(cuLibraryEnumerateKernels(all, 3, lib));

    CUcontext ctx = module_test_setup();
    CUfunction f;
    CHECK_OK(cuKernelGetFunction(&f, k));
    CHECK_OK(cuFuncGetName(&name, f));
    CHECK(strcmp(name, "mixed_params") == 0, "function of the kernel: %s", name);
    CUmodule mod, mod2;
    CHECK_OK(cuLibraryGetModule(&mod, lib));
    CHECK_OK(cuLibraryGetModule(&mod2, lib));
    CHECK(mod == mod2, "one module per context");
    CUmodule fmod;
    CHECK_OK(cuFuncGetModule(&fmod, f));
    CHECK(fmod == mod, "the function belongs to the library's module");
    CHECK_RC(cuModuleUnload(mod), CUDA_ERROR_NOT_PERMITTED);

    CUdeviceptr d = 0;
    size_t bytes = 0;
    uint32_t c = 0;
    CHECK_OK(cuLibraryGetGlobal(&d, &bytes, lib, "counter"));
    CHECK(bytes == 4, "counter %zu bytes", bytes);
    CHECK_OK(cuMemcpyDtoH(&c, d, 4));
    CHECK(c == 7, "counter %u", c);
    CHECK_RC(cuLibraryGetGlobal(&d, &bytes, lib, "nothing"), CUDA_ERROR_NOT_FOUND);
    CHECK_RC(cuLibraryGetManaged(&d, &bytes, lib, "counter"), CUDA_ERROR_NOT_FOUND);

    /* A kernel handle is accepted where a function is. */
    int v = 0;
    CHECK_OK(cuFuncGetAttribute(&v, CU_FUNC_ATTRIBUTE_PTX_VERSION, (CUfunction)k));
    CHECK(v == 80, "PTX_VERSION through a CUkernel %d", v);
    CHECK_OK(cuKernelGetAttribute(&v, CU_FUNC_ATTRIBUTE_BINARY_VERSION, k, 0));
    CHECK(v == 90, "BINARY_VERSION %d", v);
    CHECK_OK(cuKernelSetAttribute(CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, 64 * 1024, k, 0));
    CHECK_OK(cuFuncGetAttribute(&v, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, f));
    CHECK(v == 64 * 1024, "set through the kernel: %d", v);
    CHECK_RC(cuKernelGetAttribute(&v, CU_FUNC_ATTRIBUTE_NUM_REGS, k, 7), CUDA_ERROR_INVALID_DEVICE);
    CHECK_OK(cuKernelSetCacheConfig(k, CU_FUNC_CACHE_PREFER_L1, 0));

    /* A bad library: the JIT error comes back from the load. */
    char err[256] = "";
    CUjit_option o[] = {CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES};
    void *ov[] = {err, (void *)(uintptr_t)sizeof(err)};
    CUlibrary bad;
    CHECK_RC(cuLibraryLoadData(&bad, module_test_bad_ptx, o, ov, 2, NULL, NULL, 0),
             CUDA_ERROR_INVALID_PTX);
    CHECK(strstr(err, "line 7") && strstr(err, "frobnicate"), "library error log \"%s\"", err);

    CUlibrary from_file;
    CHECK_OK(cuLibraryLoadFromFile(&from_file, argv[1], NULL, NULL, 0, NULL, NULL, 0));
    CUkernel vk;
    CHECK_OK(cuLibraryGetKernel(&vk, from_file, "vector_add"));
    CHECK_OK(cuLibraryUnload(from_file));
    CHECK_RC(cuLibraryLoadFromFile(&from_file, "/nonexistent.ptx", NULL, NULL, 0, NULL, NULL, 0),
             CUDA_ERROR_FILE_NOT_FOUND);

    CHECK_OK(cuLibraryUnload(lib));
    CHECK_RC(cuLibraryUnload(lib), CUDA_ERROR_INVALID_HANDLE);
    CHECK_RC(cuKernelGetFunction(&f, k), CUDA_ERROR_INVALID_HANDLE);
    CHECK_RC(cuFuncGetAttribute(&v, CU_FUNC_ATTRIBUTE_NUM_REGS, f), CUDA_ERROR_INVALID_HANDLE);
    CHECK_RC(cuLibraryGetKernel(&k, (CUlibrary)(uintptr_t)0x999, "x"), CUDA_ERROR_INVALID_HANDLE);
    CHECK_RC(cuKernelGetName(&name, (CUkernel)(uintptr_t)0x999), CUDA_ERROR_INVALID_HANDLE);
    CHECK_OK(cuCtxDestroy(ctx));
    return check_done("module-library");
}
