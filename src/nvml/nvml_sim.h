/*
 * The simulated NVML's internal interfaces, shared by the files of src/nvml. Private.
 *
 *   nvml.c         initialisation, reference count, errors, system queries     (sim_nvml_*)
 *   device.c       handles, identity, PCI, memory, processes
 *   telemetry.c    utilisation sampling, temperature, power, clocks, p-state    (sim_nvml_util)
 *   process_util.c per-process utilisation and its snapshot history (sim_nvml_procutil_*)
 *   unsupported.c  the entry points that answer NVML_ERROR_NOT_SUPPORTED
 *
 * Every exported function returns nvmlReturn_t and starts with sim_nvml_enter(), which takes the
 * library's read lock for the call's duration (nvmlShutdown cannot detach the instance under
 * it) and answers NVML_ERROR_UNINITIALIZED before nvmlInit.
 */
#ifndef GPOOL_NVML_SIM_H
#define GPOOL_NVML_SIM_H

#ifndef GPOOL_NVML_NO_PROTOTYPES
#define NVML_NO_UNVERSIONED_FUNC_DEFS 1 /* define the legacy exports by their own names */
#endif
#include "gpool/nvml_abi.h"

#include "sim.h"

#include <stdint.h>

#define SIM_NVML_EXPORT __attribute__((visibility("default")))

/* What the simulated driver reports: the CUDA version equals the CUDA sim's cuDriverGetVersion;
 * the driver is an R580 release (the branch that ships CUDA 13.0). */
#define SIM_NVML_CUDA_VERSION   13000
#define SIM_NVML_DRIVER_VERSION "580.82.07"
#define SIM_NVML_NVML_VERSION   "13.580.82.07"

/* A device handle: the address of one of these, owned by the library for its whole life. */
struct nvmlDevice_st {
    uint32_t magic; /* SIM_NVML_DEVICE_MAGIC once the device was found by nvmlInit */
    int index;
};
#define SIM_NVML_DEVICE_MAGIC 0x4e564d4cu

/* Enters an NVML call: NVML_SUCCESS with the read lock held (release it with sim_nvml_leave),
 * or NVML_ERROR_UNINITIALIZED with nothing held. */
nvmlReturn_t sim_nvml_enter(void);
/* Leaves an NVML call entered successfully; returns rc for tail calls. */
nvmlReturn_t sim_nvml_leave(nvmlReturn_t rc);

/* sim_nvml_enter, then resolves device to its index in *dev; on failure (NVML_ERROR_UNINITIALIZED,
 * or NVML_ERROR_INVALID_ARGUMENT for a handle that is not a device) nothing is held. */
nvmlReturn_t sim_nvml_enter_device(nvmlDevice_t device, int *dev);

/* The attached instance; valid between sim_nvml_enter and sim_nvml_leave. */
struct sim_instance *sim_nvml_instance(void);
/* Resolves a handle from the application to its device index (>= 0), or -1 when the handle
 * is not one of ours or names no device of this instance. Call between enter and leave. */
int sim_nvml_device_index(nvmlDevice_t device);
/* The handle of device index (no checks). */
nvmlDevice_t sim_nvml_device_handle(int index);

/* Copies s into buf of length bytes: NVML_SUCCESS, NVML_ERROR_INVALID_ARGUMENT for a NULL buf,
 * or NVML_ERROR_INSUFFICIENT_SIZE when s and its terminator do not fit. */
nvmlReturn_t sim_nvml_copy_string(char *buf, unsigned int length, const char *s);

/* Telemetry state (telemetry.c). */
/* Resets the utilisation samples of every device to "now"; called by the first nvmlInit. */
void sim_nvml_util_reset(struct sim_instance *inst, int count);
/* The device's utilisation in percent over the current sample window (see telemetry.c). */
unsigned int sim_nvml_util(struct sim_instance *inst, int dev);

/* Per-process utilisation state (process_util.c). */
/* Drops the snapshot history and takes the baseline of devices [0, count) "now"; called by the
 * first nvmlInit, with the library's write lock held. */
void sim_nvml_procutil_reset(struct sim_instance *inst, int count);
/* Frees the snapshot history; called by the last nvmlShutdown. */
void sim_nvml_procutil_free(void);

/* Lists every live process using device dev into a buffer the caller frees; returns the count
 * (>= 0) or -ENOMEM. *out is NULL when the count is 0. */
int sim_nvml_processes(struct sim_instance *inst, int dev, struct sim_proc_info **out);

#endif
