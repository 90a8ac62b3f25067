/*
 * The CUDA driver API table (gpool/cuda_api.def) as data, and the parts of a driver that every
 * gpool layer shares: cuGetProcAddress resolution and error names and strings.
 *
 * Entry i of gpool_api_table is the i-th CU_API line of cuda_api.def; enum gpool_api_id names
 * the indices (GPOOL_API_ID_cuMemAlloc_v2). A layer that serves cuGetProcAddress keeps an array
 * of its own functions indexed the same way and lets gpool_api_get_proc_address pick from it.
 */
#ifndef GPOOL_API_TABLE_H
#define GPOOL_API_TABLE_H

#include "gpool/cuda_api.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Whether an export is the plain entry point or a per-thread default-stream variant. */
enum gpool_api_mode {
    GPOOL_API_PLAIN = 0,
    GPOOL_API_PER_THREAD, /* _ptds / _ptsz */
};

/* What an entry point does, as far as accounting, limiting and pipelining care. */
enum gpool_api_class {
    GPOOL_API_NEUTRAL = 0,
    GPOOL_API_ALLOCATES,
    GPOOL_API_FREES,
    GPOOL_API_LAUNCHES,
    GPOOL_API_SYNCHRONIZES,
    GPOOL_API_ASYNC,
};

enum gpool_api_id {
#define CU_API(name, base, version, mode, class, params, args) GPOOL_API_ID_##name,
#include "gpool/cuda_api.def"
    GPOOL_API_COUNT
};

struct gpool_api_entry {
    const char *name;          /* exported symbol: "cuMemAlloc_v2" */
    const char *base;          /* name given to cuGetProcAddress: "cuMemAlloc" */
    int version;               /* CUDA version of the PFN typedef it implements: 3020 */
    enum gpool_api_mode mode;
    enum gpool_api_class cls;
};

/* The table, GPOOL_API_COUNT entries in cuda_api.def's order. */
extern const struct gpool_api_entry gpool_api_table[GPOOL_API_COUNT];

/* Index of the entry exported as name, or -1 when no entry is. */
int gpool_api_find(const char *name);

/* Resolves cuGetProcAddress_v2(symbol, pfn, cuda_version, flags, status) for a layer whose
 * function for table entry i is impl[i] (NULL where the layer has none: treated as an unknown
 * symbol) and whose driver version is driver_version. Implements cuda.h's rules:
 *   - symbol or pfn NULL, or cuda_version above driver_version: CUDA_ERROR_INVALID_VALUE;
 *   - otherwise CUDA_SUCCESS, with *pfn the entry of that base name with the highest version
 *     not above cuda_version; CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM in flags also
 *     considers the _ptds/_ptsz variants and prefers one of them at equal version; DEFAULT and
 *     LEGACY_STREAM consider only plain entries;
 *   - an unknown symbol gives *pfn = NULL and CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND, a known one
 *     whose oldest entry is newer than cuda_version gives *pfn = NULL and
 *     CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT.
 * status may be NULL. Other flag bits are ignored. */
CUresult gpool_api_get_proc_address(const char *symbol, void **pfn, int cuda_version,
                                    cuuint64_t flags, CUdriverProcAddressQueryResult *status,
                                    void *const *impl, int driver_version);

/* The enum name of a CUresult ("CUDA_ERROR_INVALID_VALUE"), or NULL when it is not one. */
const char *gpool_cuda_error_name(CUresult error);
/* gpool's one-line description of a CUresult, or NULL when it is not one. */
const char *gpool_cuda_error_string(CUresult error);

#ifdef __cplusplus
}
#endif

#endif /* GPOOL_API_TABLE_H */
