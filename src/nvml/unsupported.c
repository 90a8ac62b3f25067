/*
 * unsupported.c: the NVML entry points the sim exports only to refuse them (entries.h lists
 * them). Each answers NVML_ERROR_UNINITIALIZED before nvmlInit and NVML_ERROR_NOT_SUPPORTED
 * after, as NVIDIA's library does for a query the device cannot answer. The stubs take no
 * arguments: on every ABI gpool targets a callee that reads none of its arguments may be called
 * with any, and none of these writes through a pointer it was given.
 */
#define GPOOL_NVML_NO_PROTOTYPES 1 /* the real prototypes differ from the stubs' (void) */
#include "nvml_sim.h"

#include "entries.h"
#include "gpool/log.h"

static nvmlReturn_t unsupported(const char *name)
{
    nvmlReturn_t rc = sim_nvml_enter();
    if (rc != NVML_SUCCESS)
        return rc;
    LOG_DEBUG("nvml", "%s: not supported by the simulated GPU", name);
    return sim_nvml_leave(NVML_ERROR_NOT_SUPPORTED);
}

#define SIM_NVML_STUB_(name)                                                                       \
    SIM_NVML_EXPORT nvmlReturn_t name(void);                                                       \
    SIM_NVML_EXPORT nvmlReturn_t name(void)                                                        \
    {                                                                                              \
        return unsupported(#name);                                                                 \
    }
SIM_NVML_UNSUPPORTED(SIM_NVML_STUB_)
#undef SIM_NVML_STUB_
