/*
 * cuGetProcAddress, cuGetErrorName/String and the "not supported" answer of the simulated
 * libcuda.so.1, checked against the library's own exports (dlsym). Built twice: against the
 * <cuda.h> the build uses (the toolkit's when present) and against gpool's own header only.
 */
#include <cuda.h>

#include "check.h"

#include <dlfcn.h>
#include <string.h>

struct entry {
    const char *name, *base;
    int version, per_thread;
};

#define PLAIN 0
#define PER_THREAD 1
/* Both macros are defined: this file sees cuda.h's name mapping, which the forwarding default of
 * CU_API_INTEROP would apply to the names. */
static const struct entry table[] = {
#define CU_API(name, base, version, mode, class, params, args) {#name, #base, version, mode},
#define CU_API_INTEROP(name, base, version, mode, class, params, args) {#name, #base, version, mode},
#include "gpool/cuda_api.def"
};
#undef PLAIN
#undef PER_THREAD
#define NENTRIES ((int)(sizeof(table) / sizeof(table[0])))

typedef CUresult (*proc_v2_fn)(const char *, void **, int, cuuint64_t,
                               CUdriverProcAddressQueryResult *);
typedef CUresult (*proc_v1_fn)(const char *, void **, int, cuuint64_t);

static void *lib;
static proc_v2_fn proc_v2;

static void *sym(const char *name)
{
    void *p = dlsym(lib, name);
    CHECK(p != NULL, "dlsym(%s) failed", name);
    return p;
}

/* Resolves symbol and checks rc, the status and the returned pointer (want: an export's name,
 * or NULL for a NULL pointer). */
static void expect(const char *symbol, int version, cuuint64_t flags, CUresult want_rc,
                   CUdriverProcAddressQueryResult want_status, const char *want)
{
    void *pfn = (void *)1;
    CUdriverProcAddressQueryResult status = (CUdriverProcAddressQueryResult)-1;
    CUresult rc = proc_v2(symbol, &pfn, version, flags, &status);
    CHECK(rc == want_rc, "%s@%d flags %llu: rc %d, want %d", symbol, version,
          (unsigned long long)flags, (int)rc, (int)want_rc);
    if (want_rc != CUDA_SUCCESS)
        return;
    CHECK(status == want_status, "%s@%d flags %llu: status %d, want %d", symbol, version,
          (unsigned long long)flags, (int)status, (int)want_status);
    void *want_p = want ? sym(want) : NULL;
    CHECK(pfn == want_p, "%s@%d flags %llu: got %p, want %s (%p)", symbol, version,
          (unsigned long long)flags, pfn, want ? want : "NULL", want_p);
}

static void test_every_entry(void)
{
    for (int i = 0; i < NENTRIES; i++) {
        const struct entry *e = &table[i];
        cuuint64_t flags = e->per_thread ? CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM
                                         : CU_GET_PROC_ADDRESS_LEGACY_STREAM;
        /* At its own version, with its own stream mode, each entry resolves to itself. */
        expect(e->base, e->version, flags, CUDA_SUCCESS, CU_GET_PROC_ADDRESS_SUCCESS, e->name);
    }
}

static void test_rules(int driver)
{
    const cuuint64_t LEGACY = CU_GET_PROC_ADDRESS_LEGACY_STREAM;
    const cuuint64_t PTDS = CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM;
    const CUdriverProcAddressQueryResult OK = CU_GET_PROC_ADDRESS_SUCCESS;

    /* Version selection: the highest entry not above the requested version. */
    expect("cuMemAlloc", 2000, 0, CUDA_SUCCESS, OK, "cuMemAlloc");
    expect("cuMemAlloc", 3010, 0, CUDA_SUCCESS, OK, "cuMemAlloc");
    expect("cuMemAlloc", 3020, 0, CUDA_SUCCESS, OK, "cuMemAlloc_v2");
    expect("cuMemAlloc", driver, 0, CUDA_SUCCESS, OK, "cuMemAlloc_v2");
    expect("cuCtxCreate", driver, 0, CUDA_SUCCESS, OK, "cuCtxCreate_v4");
    expect("cuCtxCreate", 11040, 0, CUDA_SUCCESS, OK, "cuCtxCreate_v3");
    expect("cuGetProcAddress", 11030, 0, CUDA_SUCCESS, OK, "cuGetProcAddress");
    expect("cuGetProcAddress", 12000, 0, CUDA_SUCCESS, OK, "cuGetProcAddress_v2");
    expect("cuInit", driver, 0, CUDA_SUCCESS, OK, "cuInit");

    /* Stream modes: DEFAULT and LEGACY_STREAM never give a per-thread variant; PER_THREAD does
     * where one exists at the chosen version, and falls back to the plain entry otherwise. */
    expect("cuMemcpyHtoDAsync", driver, 0, CUDA_SUCCESS, OK, "cuMemcpyHtoDAsync_v2");
    expect("cuMemcpyHtoDAsync", driver, LEGACY, CUDA_SUCCESS, OK, "cuMemcpyHtoDAsync_v2");
    expect("cuMemcpyHtoDAsync", driver, PTDS, CUDA_SUCCESS, OK, "cuMemcpyHtoDAsync_v2_ptsz");
    expect("cuMemcpyHtoDAsync", 3020, PTDS, CUDA_SUCCESS, OK, "cuMemcpyHtoDAsync_v2");
    expect("cuMemcpyHtoDAsync", 2000, PTDS, CUDA_SUCCESS, OK, "cuMemcpyHtoDAsync");
    expect("cuMemcpyHtoD", driver, PTDS, CUDA_SUCCESS, OK, "cuMemcpyHtoD_v2_ptds");
    expect("cuLaunchKernel", driver, PTDS, CUDA_SUCCESS, OK, "cuLaunchKernel_ptsz");
    expect("cuLaunchKernel", driver, LEGACY, CUDA_SUCCESS, OK, "cuLaunchKernel");
    expect("cuStreamSynchronize", driver, PTDS | LEGACY, CUDA_SUCCESS, OK,
           "cuStreamSynchronize_ptsz");
    /* No per-thread variant at all: PER_THREAD gives the plain entry. */
    expect("cuMemAlloc", driver, PTDS, CUDA_SUCCESS, OK, "cuMemAlloc_v2");

    /* Unknown symbols and versions too low: success, NULL, and the reason in the status. */
    expect("cuNoSuchFunction", driver, 0, CUDA_SUCCESS, CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND, NULL);
    expect("", driver, 0, CUDA_SUCCESS, CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND, NULL);
    expect("cuMemAlloc_v2", driver, 0, CUDA_SUCCESS, CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND, NULL);
    expect("cuMemAlloc", 1000, 0, CUDA_SUCCESS, CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT, NULL);
    expect("cuLaunchKernelEx", 11050, 0, CUDA_SUCCESS, CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT,
           NULL);
    expect("cuLaunchKernelEx", 11050, PTDS, CUDA_SUCCESS,
           CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT, NULL);
    expect("cuLaunchKernelEx", 11060, PTDS, CUDA_SUCCESS, OK, "cuLaunchKernelEx_ptsz");

    /* A version above the driver's, and NULL arguments: CUDA_ERROR_INVALID_VALUE. */
    expect("cuMemAlloc", driver + 10, 0, CUDA_ERROR_INVALID_VALUE, OK, NULL);
    void *pfn = (void *)1;
    CHECK_RC(proc_v2(NULL, &pfn, driver, 0, NULL), CUDA_ERROR_INVALID_VALUE);
    CHECK_RC(proc_v2("cuMemAlloc", NULL, driver, 0, NULL), CUDA_ERROR_INVALID_VALUE);
    /* The status is optional. */
    CHECK_OK(proc_v2("cuMemAlloc", &pfn, driver, 0, NULL));
    CHECK(pfn == sym("cuMemAlloc_v2"), "status NULL: wrong pointer");

    /* A function a module implements comes back as that implementation, not the weak stub. */
    CUresult (*get_version)(int *) = NULL;
    CHECK_OK(proc_v2("cuDriverGetVersion", (void **)&get_version, driver, 0, NULL));
    int version = 0;
    if (get_version)
        CHECK_OK(get_version(&version));
    CHECK(version == driver, "cuDriverGetVersion through cuGetProcAddress gave %d", version);

    /* The legacy export (CUDA 11.3's, no status) follows the same rules. */
    proc_v1_fn proc_v1 = (proc_v1_fn)sym("cuGetProcAddress");
    if (proc_v1) {
        CHECK_OK(proc_v1("cuMemcpyHtoDAsync", &pfn, driver, PTDS));
        CHECK(pfn == sym("cuMemcpyHtoDAsync_v2_ptsz"), "legacy cuGetProcAddress: wrong pointer");
        pfn = (void *)1;
        CHECK_OK(proc_v1("cuNoSuchFunction", &pfn, driver, 0));
        CHECK(pfn == NULL, "legacy cuGetProcAddress: unknown symbol gave %p", pfn);
        CHECK_RC(proc_v1("cuMemAlloc", &pfn, driver + 10, 0), CUDA_ERROR_INVALID_VALUE);
    }
}

static void test_errors(void)
{
    CUresult (*get_name)(CUresult, const char **) =
        (CUresult(*)(CUresult, const char **))sym("cuGetErrorName");
    CUresult (*get_string)(CUresult, const char **) =
        (CUresult(*)(CUresult, const char **))sym("cuGetErrorString");
    if (!get_name || !get_string)
        return;
    static const struct {
        int value;
        const char *name;
    } results[] = {
#define CU_RESULT(name, value, description) {value, #name},
#include "gpool/cuda_result.def"
    };
    for (size_t i = 0; i < sizeof(results) / sizeof(results[0]); i++) {
        const char *s = NULL;
        CHECK_OK(get_name((CUresult)results[i].value, &s));
        CHECK(s && strcmp(s, results[i].name) == 0, "cuGetErrorName(%d) = %s, want %s",
              results[i].value, s ? s : "NULL", results[i].name);
        s = NULL;
        CHECK_OK(get_string((CUresult)results[i].value, &s));
        CHECK(s && s[0], "cuGetErrorString(%d) is empty", results[i].value);
    }
    const char *s = "x";
    CHECK_RC(get_name((CUresult)12345, &s), CUDA_ERROR_INVALID_VALUE);
    CHECK(s == NULL, "cuGetErrorName(12345) left %p", (const void *)s);
    s = "x";
    CHECK_RC(get_string((CUresult)-1, &s), CUDA_ERROR_INVALID_VALUE);
    CHECK(s == NULL, "cuGetErrorString(-1) left %p", (const void *)s);
    CHECK_RC(get_name(CUDA_SUCCESS, NULL), CUDA_ERROR_INVALID_VALUE);
    CHECK_RC(get_string(CUDA_SUCCESS, NULL), CUDA_ERROR_INVALID_VALUE);
}

static void test_not_supported(void)
{
    /* Interop entry points the simulator will never implement: present, and honest. */
    CUresult (*gl_init)(void) = (CUresult(*)(void))sym("cuGLInit");
    if (gl_init)
        CHECK_RC(gl_init(), CUDA_ERROR_NOT_SUPPORTED);
    CUresult (*vdpau_get_device)(CUdevice *, unsigned int, void *) =
        (CUresult(*)(CUdevice *, unsigned int, void *))sym("cuVDPAUGetDevice");
    CUdevice dev = 0;
    if (vdpau_get_device)
        CHECK_RC(vdpau_get_device(&dev, 0, NULL), CUDA_ERROR_NOT_SUPPORTED);
}

int main(void)
{
    lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_NOLOAD);
    REQUIRE(lib != NULL, "libcuda.so.1 is not loaded: %s", dlerror());
    proc_v2 = (proc_v2_fn)sym("cuGetProcAddress_v2");
    REQUIRE(proc_v2 != NULL, "no cuGetProcAddress_v2");

    int driver = 0;
    CHECK_OK(cuDriverGetVersion(&driver));
    CHECK(driver == 13000, "driver version %d", driver);
    if (driver <= 0)
        driver = 13000;

    /* The program's own view: the names cuda.h maps are the library's newest exports. */
    CHECK((void *)&cuMemAlloc == sym("cuMemAlloc_v2"), "cuMemAlloc does not map to cuMemAlloc_v2");
    CHECK((void *)&cuCtxCreate == sym("cuCtxCreate_v4"), "cuCtxCreate does not map to _v4");
    CHECK((void *)&cuMemcpyHtoDAsync == sym("cuMemcpyHtoDAsync_v2"), "cuMemcpyHtoDAsync");
    CHECK((void *)&cuGetProcAddress == (void *)proc_v2, "cuGetProcAddress is not _v2");

    test_every_entry();
    test_rules(driver);
    test_errors();
    test_not_supported();
    dlclose(lib);
    return check_done("api-proc-address");
}
