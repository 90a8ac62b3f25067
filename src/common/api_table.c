/*
 * The API table as data, cuGetProcAddress resolution and error names, shared by every gpool
 * driver layer. See include/gpool/api_table.h and docs/internals/api-table.md.
 */
#define GPOOL_CUDA_INTERNAL 1
#include "gpool/api_table.h"

#include <string.h>

const struct gpool_api_entry gpool_api_table[GPOOL_API_COUNT] = {
#define CU_API(name, base, version, mode, class, params, args)                                     \
    {#name, #base, version, GPOOL_API_##mode, GPOOL_API_##class},
#include "gpool/cuda_api.def"
};

int gpool_api_find(const char *name)
{
    if (!name)
        return -1;
    for (int i = 0; i < GPOOL_API_COUNT; i++)
        if (strcmp(gpool_api_table[i].name, name) == 0)
            return i;
    return -1;
}

/* True when candidate i should replace the current best (index best, or -1) for a request of
 * cuda_version: a newer version wins, and at equal versions a per-thread variant does. */
static int better(int i, int best)
{
    const struct gpool_api_entry *e = &gpool_api_table[i];
    if (best < 0)
        return 1;
    const struct gpool_api_entry *b = &gpool_api_table[best];
    if (e->version != b->version)
        return e->version > b->version;
    return e->mode == GPOOL_API_PER_THREAD && b->mode != GPOOL_API_PER_THREAD;
}

CUresult gpool_api_get_proc_address(const char *symbol, void **pfn, int cuda_version,
                                    cuuint64_t flags, CUdriverProcAddressQueryResult *status,
                                    void *const *impl, int driver_version)
{
    if (pfn)
        *pfn = NULL;
    if (!symbol || !pfn || cuda_version > driver_version)
        return CUDA_ERROR_INVALID_VALUE;

    int per_thread = (flags & CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM) != 0;
    int known = 0, best = -1;
    for (int i = 0; i < GPOOL_API_COUNT; i++) {
        const struct gpool_api_entry *e = &gpool_api_table[i];
        if (strcmp(e->base, symbol) != 0 || !impl[i])
            continue;
        if (e->mode == GPOOL_API_PER_THREAD && !per_thread)
            continue;
        known = 1;
        if (e->version <= cuda_version && better(i, best))
            best = i;
    }

    CUdriverProcAddressQueryResult result;
    if (best >= 0) {
        *pfn = impl[best];
        result = CU_GET_PROC_ADDRESS_SUCCESS;
    } else {
        result = known ? CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT
                       : CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;
    }
    if (status)
        *status = result;
    return CUDA_SUCCESS;
}

const char *gpool_cuda_error_name(CUresult error)
{
    switch ((int)error) {
#define CU_RESULT(name, value, description)                                                        \
    case value:                                                                                    \
        return #name;
#include "gpool/cuda_result.def"
    }
    return NULL;
}

const char *gpool_cuda_error_string(CUresult error)
{
    switch ((int)error) {
#define CU_RESULT(name, value, description)                                                        \
    case value:                                                                                    \
        return description;
#include "gpool/cuda_result.def"
    }
    return NULL;
}
