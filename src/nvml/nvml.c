/*
 * nvml.c: the simulated NVML's initialisation, reference count, error strings and system
 * queries. NVML attaches to the same shared instance as the CUDA sim (sim_instance_attach reads
 * GPOOL_SIM_DIR, GPOOL_SIM_INSTANCE and GPOOL_SIM_GPUS), creating it when no CUDA process has.
 * Nothing happens at load time: the first nvmlInit* attaches, the last nvmlShutdown detaches.
 */
#include "nvml_sim.h"

#include "gpool/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#define COMP "nvml"

/* The read lock covers every query; init and shutdown take it for writing. */
static pthread_rwlock_t nvml_lock = PTHREAD_RWLOCK_INITIALIZER;
static unsigned int nvml_refcount;
static struct sim_instance *nvml_inst;
static int nvml_device_count;
static struct nvmlDevice_st nvml_devices[SIM_MAX_DEVICES];

nvmlReturn_t sim_nvml_enter(void)
{
    pthread_rwlock_rdlock(&nvml_lock);
    if (nvml_refcount == 0) {
        pthread_rwlock_unlock(&nvml_lock);
        return NVML_ERROR_UNINITIALIZED;
    }
    return NVML_SUCCESS;
}

nvmlReturn_t sim_nvml_leave(nvmlReturn_t rc)
{
    pthread_rwlock_unlock(&nvml_lock);
    return rc;
}

nvmlReturn_t sim_nvml_enter_device(nvmlDevice_t device, int *dev)
{
    nvmlReturn_t rc = sim_nvml_enter();
    if (rc != NVML_SUCCESS)
        return rc;
    *dev = sim_nvml_device_index(device);
    if (*dev < 0)
        return sim_nvml_leave(NVML_ERROR_INVALID_ARGUMENT);
    return NVML_SUCCESS;
}

struct sim_instance *sim_nvml_instance(void)
{
    return nvml_inst;
}

int sim_nvml_device_index(nvmlDevice_t device)
{
    if (!device)
        return -1;
    /* Compare addresses as integers: an arbitrary pointer from the application may point
     * anywhere, and only our own array's elements are handles. */
    uintptr_t p = (uintptr_t)device, base = (uintptr_t)nvml_devices;
    if (p < base || p >= base + sizeof nvml_devices || (p - base) % sizeof nvml_devices[0] != 0)
        return -1;
    const struct nvmlDevice_st *d = device;
    if (d->magic != SIM_NVML_DEVICE_MAGIC || d->index >= nvml_device_count)
        return -1;
    return d->index;
}

nvmlDevice_t sim_nvml_device_handle(int index)
{
    return &nvml_devices[index];
}

static nvmlReturn_t errno_to_nvml(int err)
{
    switch (err) {
    case -ENOMEM:
    case -ENOSPC:
        return NVML_ERROR_MEMORY;
    case -EACCES:
    case -EPERM:
        return NVML_ERROR_NO_PERMISSION;
    default:
        /* A bad GPOOL_SIM_GPUS, a spec that differs from the instance's, a corrupt state
         * file: the (simulated) driver cannot be used. */
        return NVML_ERROR_DRIVER_NOT_LOADED;
    }
}

/* The body of every nvmlInit*: attaches on the first reference. Flags are accepted and
 * ignored (the sim always has its GPUs and attaching costs nothing). */
static nvmlReturn_t nvml_init(unsigned int flags)
{
    nvmlReturn_t rc = NVML_SUCCESS;

    if (flags & ~(unsigned int)(NVML_INIT_FLAG_NO_GPUS | NVML_INIT_FLAG_NO_ATTACH))
        LOG_DEBUG(COMP, "nvmlInitWithFlags: ignoring unknown flags 0x%x", flags);
    pthread_rwlock_wrlock(&nvml_lock);
    if (nvml_refcount > 0) {
        nvml_refcount++;
        goto out;
    }
    char err[256] = "";
    struct sim_instance *inst = NULL;
    int r = sim_instance_attach(&inst, err, sizeof err);
    if (r < 0 || !inst) {
        LOG_ERROR(COMP, "nvmlInit: cannot attach to the simulated GPUs: %s",
                  err[0] ? err : strerror(r < 0 ? -r : EINVAL));
        rc = r < 0 ? errno_to_nvml(r) : NVML_ERROR_UNKNOWN;
        goto out;
    }
    int count = sim_instance_device_count(inst);
    if (count < 0)
        count = 0;
    if (count > SIM_MAX_DEVICES)
        count = SIM_MAX_DEVICES;
    for (int i = 0; i < SIM_MAX_DEVICES; i++) {
        nvml_devices[i].index = i;
        nvml_devices[i].magic = i < count ? SIM_NVML_DEVICE_MAGIC : 0;
    }
    nvml_inst = inst;
    nvml_device_count = count;
    sim_nvml_util_reset(inst, count);
    sim_nvml_procutil_reset(inst, count);
    nvml_refcount = 1;
    LOG_DEBUG(COMP, "nvmlInit: attached, %d device(s)", count);
out:
    pthread_rwlock_unlock(&nvml_lock);
    return rc;
}

/* Legacy nvmlInit (v1): the same as nvmlInit_v2 here. */
SIM_NVML_EXPORT nvmlReturn_t nvmlInit(void)
{
    return nvml_init(0);
}

/* Initialises NVML (reference-counted). */
SIM_NVML_EXPORT nvmlReturn_t nvmlInit_v2(void)
{
    return nvml_init(0);
}

/* Initialises NVML with behaviour flags (reference-counted). */
SIM_NVML_EXPORT nvmlReturn_t nvmlInitWithFlags(unsigned int flags)
{
    return nvml_init(flags);
}

/* Drops one reference; the last one detaches from the instance. Handles stay valid memory
 * but answer NVML_ERROR_UNINITIALIZED until the next nvmlInit. */
SIM_NVML_EXPORT nvmlReturn_t nvmlShutdown(void)
{
    nvmlReturn_t rc = NVML_SUCCESS;

    pthread_rwlock_wrlock(&nvml_lock);
    if (nvml_refcount == 0) {
        rc = NVML_ERROR_UNINITIALIZED;
    } else if (--nvml_refcount == 0) {
        sim_nvml_procutil_free();
        sim_instance_detach(nvml_inst);
        nvml_inst = NULL;
        nvml_device_count = 0;
        for (int i = 0; i < SIM_MAX_DEVICES; i++)
            nvml_devices[i].magic = 0;
        LOG_DEBUG(COMP, "nvmlShutdown: detached");
    }
    pthread_rwlock_unlock(&nvml_lock);
    return rc;
}

/* A static description of any return code; works without nvmlInit. */
SIM_NVML_EXPORT const char *nvmlErrorString(nvmlReturn_t result)
{
    switch ((int)result) {
#define NVML_ERROR_STRING_CASE_(name, value, message)                                              \
    case value:                                                                                    \
        return message;
        GPOOL_NVML_RETURN_CODES(NVML_ERROR_STRING_CASE_)
#undef NVML_ERROR_STRING_CASE_
    }
    return "Unknown Error (unrecognised NVML return code)";
}

nvmlReturn_t sim_nvml_copy_string(char *buf, unsigned int length, const char *s)
{
    if (!buf)
        return NVML_ERROR_INVALID_ARGUMENT;
    size_t n = strlen(s);
    if (n + 1 > length)
        return NVML_ERROR_INSUFFICIENT_SIZE;
    memcpy(buf, s, n + 1);
    return NVML_SUCCESS;
}

/* The simulated kernel driver's version string. */
SIM_NVML_EXPORT nvmlReturn_t nvmlSystemGetDriverVersion(char *version, unsigned int length)
{
    nvmlReturn_t rc = sim_nvml_enter();
    if (rc != NVML_SUCCESS)
        return rc;
    return sim_nvml_leave(sim_nvml_copy_string(version, length, SIM_NVML_DRIVER_VERSION));
}

/* NVML's own version: the CUDA major version and the driver version. */
SIM_NVML_EXPORT nvmlReturn_t nvmlSystemGetNVMLVersion(char *version, unsigned int length)
{
    /* Documented to work before nvmlInit. */
    return sim_nvml_copy_string(version, length, SIM_NVML_NVML_VERSION);
}

/* The CUDA driver version (13000 = 13.0), as cuDriverGetVersion reports it. */
SIM_NVML_EXPORT nvmlReturn_t nvmlSystemGetCudaDriverVersion(int *cudaDriverVersion)
{
    if (!cudaDriverVersion)
        return NVML_ERROR_INVALID_ARGUMENT;
    *cudaDriverVersion = SIM_NVML_CUDA_VERSION;
    return NVML_SUCCESS;
}

/* The same, as the kernel driver (rather than libcuda) reports it. */
SIM_NVML_EXPORT nvmlReturn_t nvmlSystemGetCudaDriverVersion_v2(int *cudaDriverVersion)
{
    return nvmlSystemGetCudaDriverVersion(cudaDriverVersion);
}

/* Reads /proc/<pid>/<what> into buf (NUL-terminated); returns the byte count or -1. */
static ssize_t read_proc(unsigned int pid, const char *what, char *buf, size_t size)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%u/%s", pid, what);
    FILE *f = fopen(path, "re");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, size - 1, f);
    fclose(f);
    buf[n] = '\0';
    return (ssize_t)n;
}

/* The name of a process: its argv[0] (as nvidia-smi shows it), else its command name, else the
 * name the sim recorded when the process attached (for a pid not visible in /proc here). The
 * name is truncated to fit length. */
SIM_NVML_EXPORT nvmlReturn_t nvmlSystemGetProcessName(unsigned int pid, char *name,
                                                      unsigned int length)
{
    nvmlReturn_t rc = sim_nvml_enter();
    if (rc != NVML_SUCCESS)
        return rc;
    if (!name || length == 0) {
        rc = NVML_ERROR_INVALID_ARGUMENT;
        goto out;
    }
    char buf[4096];
    ssize_t n = read_proc(pid, "cmdline", buf, sizeof buf);
    if (n <= 0 || buf[0] == '\0') {
        n = read_proc(pid, "comm", buf, sizeof buf);
        if (n > 0 && buf[n - 1] == '\n')
            buf[n - 1] = '\0';
    }
    if (n <= 0 || buf[0] == '\0') {
        buf[0] = '\0';
        struct sim_instance *inst = sim_nvml_instance();
        int count = sim_instance_device_count(inst);
        for (int dev = 0; dev < count && !buf[0]; dev++) {
            struct sim_proc_info *procs = NULL;
            int np = sim_nvml_processes(inst, dev, &procs);
            for (int i = 0; i < np; i++) {
                if ((unsigned int)procs[i].pid == pid) {
                    snprintf(buf, sizeof buf, "%.*s", (int)sizeof procs[i].name, procs[i].name);
                    break;
                }
            }
            free(procs);
        }
    }
    if (!buf[0]) {
        rc = NVML_ERROR_NOT_FOUND;
        goto out;
    }
    snprintf(name, length, "%s", buf);
out:
    return sim_nvml_leave(rc);
}
