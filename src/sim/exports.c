/*
 * exports.c: every entry point of the API table exists in the simulator's libcuda.so.1.
 *
 * Each entry of gpool/cuda_api.def gets a weak definition here that returns
 * CUDA_ERROR_NOT_SUPPORTED. The modules that implement an entry define it normally (strongly) in
 * the same library, and the linker keeps the strong definition, so an entry is either the
 * simulator's implementation or an honest "not supported", never missing.
 *
 * Also here: cuGetProcAddress (both exports), which hands out the library's own functions through
 * the table's shared resolution rules, and cuGetErrorName / cuGetErrorString.
 */
#include "sim.h"

#include "gpool/api_table.h"
#include "gpool/log.h"

/* The "not supported" answer of every entry no module implements. */
static CUresult not_supported(const char *name)
{
    LOG_DEBUG("sim", "%s: not supported by the simulated driver", name);
    return CUDA_ERROR_NOT_SUPPORTED;
}

/* Entries that this file defines for real get no weak stub: SIM_DEFINED_HERE(name) expands to 1
 * for the names listed as SIM_HERE_<name> and to 0 for every other name. */
#define SIM_HERE_cuGetProcAddress    ~, 1
#define SIM_HERE_cuGetProcAddress_v2 ~, 1
#define SIM_HERE_cuGetErrorName      ~, 1
#define SIM_HERE_cuGetErrorString    ~, 1
#define SIM_SECOND(...) SIM_SECOND_(__VA_ARGS__)
#define SIM_SECOND_(a, b, ...) b
#define SIM_PROBE(x) SIM_SECOND(x, 0, ~)
#define SIM_DEFINED_HERE(name) SIM_PROBE(SIM_HERE_##name)
#define SIM_CAT(a, b) SIM_CAT_(a, b)
#define SIM_CAT_(a, b) a##b
#define SIM_STUB_1(name, params)
#define SIM_STUB_0(name, params)                                                                   \
    __attribute__((weak)) CUresult name params { return not_supported(#name); }

#define CU_API(name, base, version, mode, class, params, args)                                     \
    SIM_CAT(SIM_STUB_, SIM_DEFINED_HERE(name))(name, params)
#include "gpool/cuda_api.def"

/* The function exported for each table entry. &name of a weak definition is resolved by the
 * static linker, so it is the implementing module's function whenever one exists. */
static void *const sim_exports[GPOOL_API_COUNT] = {
#define CU_API(name, base, version, mode, class, params, args) [GPOOL_API_ID_##name] = (void *)&name,
#include "gpool/cuda_api.def"
};

/* The version cuGetProcAddress compares requests with: the one cuDriverGetVersion reports. */
static int driver_version(void)
{
    int version = 0;
    if (cuDriverGetVersion(&version) != CUDA_SUCCESS || version <= 0)
        version = CUDA_VERSION;
    return version;
}

CUresult cuGetProcAddress_v2(const char *symbol, void **pfn, int cudaVersion, cuuint64_t flags,
                             CUdriverProcAddressQueryResult *symbolStatus)
{
    CUresult rc = gpool_api_get_proc_address(symbol, pfn, cudaVersion, flags, symbolStatus,
                                             sim_exports, driver_version());
    LOG_TRACE("sim", "cuGetProcAddress(%s, %d, %#llx) -> %d %p", symbol ? symbol : "(null)",
              cudaVersion, (unsigned long long)flags, (int)rc, pfn ? *pfn : NULL);
    return rc;
}

CUresult cuGetProcAddress(const char *symbol, void **pfn, int cudaVersion, cuuint64_t flags)
{
    return cuGetProcAddress_v2(symbol, pfn, cudaVersion, flags, NULL);
}

CUresult cuGetErrorName(CUresult error, const char **pStr)
{
    if (!pStr)
        return CUDA_ERROR_INVALID_VALUE;
    *pStr = gpool_cuda_error_name(error);
    return *pStr ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

CUresult cuGetErrorString(CUresult error, const char **pStr)
{
    if (!pStr)
        return CUDA_ERROR_INVALID_VALUE;
    *pStr = gpool_cuda_error_string(error);
    return *pStr ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}
