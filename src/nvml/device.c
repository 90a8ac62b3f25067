/*
 * device.c: the simulated NVML's device queries that come straight from the shared instance:
 * count and handles, identity (name, UUID, PCI), memory, running processes and fixed modes.
 */
#include "nvml_sim.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PCI_VENDOR_NVIDIA 0x10de
#define MIG_ID_NONE       0xFFFFFFFFu /* gpuInstanceId/computeInstanceId when MIG is off */

/* Formats device dev's UUID as CUDA and NVML show it: "GPU-" and 8-4-4-4-12 lowercase hex. */
static void format_uuid(struct sim_instance *inst, int dev, char out[NVML_DEVICE_UUID_BUFFER_SIZE])
{
    unsigned char u[16];
    sim_instance_uuid(inst, dev, u);
    snprintf(out, NVML_DEVICE_UUID_BUFFER_SIZE,
             "GPU-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0], u[1],
             u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14],
             u[15]);
}

int sim_nvml_processes(struct sim_instance *inst, int dev, struct sim_proc_info **out)
{
    /* sim_instance_processes says only how many it wrote, so grow the buffer until a call
     * leaves room to spare: then the list is complete. */
    int cap = 32;
    *out = NULL;
    for (;;) {
        struct sim_proc_info *buf = calloc((size_t)cap, sizeof *buf);
        if (!buf)
            return -ENOMEM;
        int n = sim_instance_processes(inst, dev, buf, cap);
        if (n < 0)
            n = 0;
        if (n < cap) {
            if (n == 0)
                free(buf);
            else
                *out = buf;
            return n;
        }
        free(buf);
        if (cap >= 1 << 20)
            return -ENOMEM;
        cap *= 2;
    }
}

/* Legacy nvmlDeviceGetCount (v1): the same as _v2 here. */
SIM_NVML_EXPORT nvmlReturn_t nvmlDeviceGetCount(unsigned int *deviceCount)
{
    nvmlReturn_t rc = sim_nvml_enter();
    if (rc != NVML_SUCCESS)
        return rc;
    if (!deviceCount)
        return sim_nvml_leave(NVML_ERROR_INVALID_ARGUMENT);
    *deviceCount = (unsigned int)sim_instance_device_count(sim_nvml_instance());
    return sim_nvml_leave(NVML_SUCCESS);
}

/* The number of simulated devices of the instance. */
SIM_NVML_EXPORT nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *deviceCount)
{
    return nvmlDeviceGetCount(deviceCount);
}

/* Legacy nvmlDeviceGetHandleByIndex (v1): the same as _v2 here. */
SIM_NVML_EXPORT nvmlReturn_t nvmlDeviceGetHandleByIndex(unsigned int index, nvmlDevice_t *device)
{
    nvmlReturn_t rc = sim_nvml_enter();
    if (rc != NVML_SUCCESS)
        return rc;
    if (!device || index >= (unsigned int)sim_instance_device_count(sim_nvml_instance()))
        return sim_nvml_leave(NVML_ERROR_INVALID_ARGUMENT);
    *device = sim_nvml_device_handle((int)index);
    return sim_nvml_leave(NVML_SUCCESS);
}

/* The handle of the device at index (same order as CUDA's device ordinals). */
SIM_NVML_EXPORT nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *device)
{
    return nvmlDeviceGetHandleByIndex(index, device);
}

/* The handle of the device whose UUID is uuid ("GPU-..."; case-insensitive). */
SIM_NVML_EXPORT nvmlReturn_t nvmlDeviceGetHandleByUUID(const char *uuid, nvmlDevice_t *device)
{
    nvmlReturn_t rc = sim_nvml_enter();
    if (rc != NVML_SUCCESS)
        return rc;
    if (!uuid || !device)
        return sim_nvml_leave(NVML_ERROR_INVALID_ARGUMENT);
    struct sim_instance *inst = sim_nvml_instance();
    int count = sim_instance_device_count(inst);
    for (int dev = 0; dev < count; dev++) {
        char s[NVML_DEVICE_UUID_BUFFER_SIZE];
        format_uuid(inst, dev, s);
        if (strcasecmp(s, uuid) == 0) {
            *device = sim_nvml_device_handle(dev);
            return sim_nvml_leave(NVML_SUCCESS);
        }
    }
    return sim_nvml_leave(NVML_ERROR_NOT_FOUND);
}

/* Parses "domain:bus:device.function", "domain:bus:device" or "bus:device.function" (hex).
 * Returns 0 or -1. */
static int parse_bus_id(const char *s, unsigned int *domain, unsigned int *bus, unsigned int *devno)
{
    unsigned int a, b, c, fn = 0;
    int end = 0;
    while (isspace((unsigned char)*s))
        s++;
    if (sscanf(s, "%x:%x:%x.%x%n", &a, &b, &c, &fn, &end) == 4 && s[end] == '\0') {
        *domain = a, *bus = b, *devno = c;
    } else if (end = 0, sscanf(s, "%x:%x:%x%n", &a, &b, &c, &end) == 3 && s[end] == '\0') {
        *domain = a, *bus = b, *devno = c;
    } else if (end = 0, sscanf(s, "%x:%x.%x%n", &b, &c, &fn, &end) == 3 && s[end] == '\0') {
        *domain = 0, *bus = b, *devno = c;
    } else {
        return -1;
    }
    return fn == 0 ? 0 : -1; /* GPUs are function 0 */
}

/* Legacy nvmlDeviceGetHandleByPciBusId (v1): the same as _v2 here. */
SIM_NVML_EXPORT nvmlReturn_t nvmlDeviceGetHandleByPciBusId(const char *pciBusId,
                                                           nvmlDevice_t *device)
{
    nvmlReturn_t rc = sim_nvml_enter();
    if (rc != NVML_SUCCESS)
        return rc;
    if (!pciBusId || !device)
        return sim_nvml_leave(NVML_ERROR_INVALID_ARGUMENT);
    unsigned int want_domain, want_bus, want_dev;
    if (parse_bus_id(pciBusId, &want_domain, &want_bus, &want_dev) < 0)
        return sim_nvml_leave(NVML_ERROR_NOT_FOUND);
    struct sim_instance *inst = sim_nvml_instance();
    int count = sim_instance_device_count(inst);
    for (int dev = 0; dev < count; dev++) {
        int domain, bus, devno;
        sim_instance_pci(inst, dev, &domain, &bus, &devno);
        if ((unsigned int)domain == want_domain && (unsigned int)bus == want_bus &&
            (unsigned int)devno == want_dev) {
            *device = sim_nvml_device_handle(dev);
            return sim_nvml_leave(NVML_SUCCESS);
        }
    }
    return sim_nvml_leave(NVML_ERROR_NOT_FOUND);
}

/* The handle of the device at a PCI bus id such as "00000000:3B:00.0". */
SIM_NVML_EXPORT nvmlReturn_t nvmlDeviceGetHandleByPciBusId_v2(const char *pciBusId,
                                                              nvmlDevice_t *device)
{
    return nvmlDeviceGetHandleByPciBusId(pciBusId, device);
}

/* The device's index (its CUDA ordinal). */
SIM_NVML_EXPORT nvmlReturn_t nvmlDeviceGetIndex(nvmlDevice_t device, unsigned int *index)
{
    int dev;
    nvmlReturn_t rc = sim_nvml_enter_device(device, &dev);
    if (rc != NVML_SUCCESS)
        return rc;
    if (!index)
        return sim_nvml_leave(NVML_ERROR_INVALID_ARGUMENT);
    *index = (unsigned int)dev;
    return sim_nvml_leave(NVML_SUCCESS);
}

/* The minor number of /dev/nvidiaN: the index for the simulated devices. */
SIM_NVML_EXPORT nvmlReturn_t nvmlDeviceGetMinorNumber(nvmlDevice_t device,
                                                      unsigned int *minorNumber)
{
    return nvmlDeviceGetIndex(device, minorNumber);
}

/* The product name of the device's model ("NVIDIA H100 80GB HBM3"). */
SIM_NVML_EXPORT nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t device, char *name, unsigned int length)
{
    int dev;
    nvmlReturn_t rc = sim_nvml_enter_device(device, &dev);
    if (rc != NVML_SUCCESS)
        return rc;
    const struct sim_model *m = sim_instance_model(sim_nvml_instance(), dev);
    return sim_nvml_leave(sim_nvml_copy_string(name, length, m ? m->name : "NVIDIA Simulated GPU"));
}

/* The brand, from the model's product name: "Tesla ..." parts are TESLA, "NVIDIA GeForce RTX"
 * parts GEFORCE_RTX, every other (data-centre) model NVIDIA. */
SIM_NVML_EXPORT nvmlReturn_t nvmlDeviceGetBrand(nvmlDevice_t device, nvmlBrandType_t *type)
{
    int dev;
    nvmlReturn_t rc = sim_nvml_enter_device(device, &dev);
    if (rc != NVML_SUCCESS)
        return rc;
    if (!type)
        return sim_nvml_leave(NVML_ERROR_INVALID_ARGUMENT);
    const struct sim_model *m = sim_instance_model(sim_nvml_instance(), dev);
    const char *name = m ? m->name : "";
    if (strncmp(name, "Tesla ", 6) == 0)
        *type = NVML_BRAND_TESLA;
    else if (strstr(name, "GeForce RTX"))
        *type = NVML_BRAND_GEFORCE_RTX;
    else if (strstr(name, "GeForce"))
        *type = NVML_BRAND_GEFORCE;
    else
        *type = NVML_BRAND_NVIDIA;
    return sim_nvml_leave(NVML_SUCCESS);
}

/* The device's UUID, the same that cuDeviceGetUuid reports, as "GPU-xxxxxxxx-...". */
SIM_NVML_EXPORT nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t device, char *uuid, unsigned int length)
{
    int dev;
    nvmlReturn_t rc = sim_nvml_enter_device(device, &dev);
    if (rc != NVML_SUCCESS)
        return rc;
    char s[NVML_DEVICE_UUID_BUFFER_SIZE];
    format_uuid(sim_nvml_instance(), dev, s);
    return sim_nvml_leave(sim_nvml_copy_string(uuid, length, s));
}

struct pci_ids {
    unsigned int domain, bus, device, device_id, subsystem_id;
};

static void get_pci(int dev, struct pci_ids *p)
{
    struct sim_instance *inst = sim_nvml_instance();
    int domain, bus, devno;
    sim_instance_pci(inst, dev, &domain, &bus, &devno);
    const struct sim_model *m = sim_instance_model(inst, dev);
    unsigned int pci_dev = m ? (unsigned int)m->pci_device_id & 0xffffu : 0;
    p->domain = (unsigned int)domain;
    p->bus = (unsigned int)bus;
    p->device = (unsigned int)devno;
    p->device_id = pci_dev << 16 | PCI_VENDOR_NVIDIA;
    /* The board's subsystem: NVIDIA-made, subsystem device = the chip's device id. */
    p->subsystem_id = pci_dev << 16 | PCI_VENDOR_NVIDIA;
}

/* Fills the part of nvmlPciInfo_t that the legacy v1/v2 struct shares with v3. */
static nvmlReturn_t pci_info_legacy(nvmlDevice_t device, nvmlPciInfo_t *pci)
{
    int dev;
    nvmlReturn_t rc = sim_nvml_enter_device(device, &dev);
    if (rc != NVML_SUCCESS)
        return rc;
    if (!pci)
        return sim_nvml_leave(NVML_ERROR_INVALID_ARGUMENT);
    struct pci_ids p;
    get_pci(dev, &p);
    snprintf(pci->busIdLegacy, sizeof pci->busIdLegacy, NVML_DEVICE_PCI_BUS_ID_LEGACY_FMT,
             p.domain & 0xffffu, p.bus & 0xffu, p.device & 0x1fu);
    pci->domain = p.domain;
    pci->bus = p.bus;
    pci->device = p.device;
    pci->pciDeviceId = p.device_id;
    pci->pciSubSystemId = p.subsystem_id;
    return sim_nvml_leave(NVML_SUCCESS);
}

/* Legacy PCI query (v1 struct): fills only the fields the old layout had in common. */
SIM_NVML_EXPORT nvmlReturn_t nvmlDeviceGetPciInfo(nvmlDevice_t device, nvmlPciInfo_t *pci)
{
    return pci_info_legacy(device, pci);
}

/* Legacy PCI query (v2 struct): as v1. */
SIM_NVML_EXPORT nvmlReturn_t nvmlDeviceGetPciInfo_v2(nvmlDevice_t device, nvmlPciInfo_t *pci)
{
    return pci_info_legacy(device, pci);
}

/* PCI location and ids of the device, both bus id forms. */
SIM_NVML_EXPORT nvmlReturn_t nvmlDeviceGetPciInfo_v3(nvmlDevice_t device, nvmlPciInfo_t *pci)
{
    nvmlReturn_t rc = pci_info_legacy(device, pci);
    if (rc != NVML_SUCCESS)
        return rc;
    snprintf(pci->busId, sizeof pci->busId, NVML_DEVICE_PCI_BUS_ID_FMT, pci->domain, pci->bus,
             pci->device);
    return NVML_SUCCESS;
}

/* PCI information with class codes; pci->version must be nvmlPciInfoExt_v1. */
SIM_NVML_EXPORT nvmlReturn_t nvmlDeviceGetPciInfoExt(nvmlDevice_t device, nvmlPciInfoExt_t *pci)
{
    int dev;
    nvmlReturn_t rc = sim_nvml_enter_device(device, &dev);
    if (rc != NVML_SUCCESS)
        return rc;
    if (!pci)
        return sim_nvml_leave(NVML_ERROR_INVALID_ARGUMENT);
    if (pci->version != nvmlPciInfoExt_v1)
        return sim_nvml_leave(NVML_ERROR_ARGUMENT_VERSION_MISMATCH);
    struct pci_ids p;
    get_pci(dev, &p);
    pci->domain = p.domain;
    pci->bus = p.bus;
    pci->device = p.device;
    pci->pciDeviceId = p.device_id;
    pci->pciSubSystemId = p.subsystem_id;
    pci->baseClass = 0x03; /* display controller */
    pci->subClass = 0x02;  /* 3D controller: a GPU without display outputs */
    snprintf(pci->busId, sizeof pci->busId, NVML_DEVICE_PCI_BUS_ID_FMT, p.domain, p.bus, p.device);
    return sim_nvml_leave(NVML_SUCCESS);
}

/* Whole-device memory: total from the model, used as every process sees it (contexts,
 * modules and allocations of all live processes; sim_instance_mem_info reaps the dead). */
static void device_memory(int dev, uint64_t *total, uint64_t *used)
{
    struct sim_instance *inst = sim_nvml_instance();
    uint64_t t = 0, u = 0;
    sim_instance_mem_info(inst, dev, &t, &u);
    const struct sim_model *m = sim_instance_model(inst, dev);
    if (m && m->vram_bytes)
        t = m->vram_bytes;
    *total = t;
    *used = u > t ? t : u; /* clamp: reported numbers never underflow free */
}

/* Device memory (v1): total = free + used. */
SIM_NVML_EXPORT nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t device, nvmlMemory_t *memory)
{
    int dev;
    nvmlReturn_t rc = sim_nvml_enter_device(device, &dev);
    if (rc != NVML_SUCCESS)
        return rc;
    if (!memory)
        return sim_nvml_leave(NVML_ERROR_INVALID_ARGUMENT);
    uint64_t total, used;
    device_memory(dev, &total, &used);
    memory->total = total;
    memory->used = used;
    memory->free = total - used;
    return sim_nvml_leave(NVML_SUCCESS);
}

/* Device memory (v2); memory->version must be nvmlMemory_v2. The sim reserves nothing for
 * firmware, so reserved is 0 (context overheads are part of used, as on a real driver). */
SIM_NVML_EXPORT nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t device,
                                                        nvmlMemory_v2_t *memory)
{
    int dev;
    nvmlReturn_t rc = sim_nvml_enter_device(device, &dev);
    if (rc != NVML_SUCCESS)
        return rc;
    if (!memory)
        return sim_nvml_leave(NVML_ERROR_INVALID_ARGUMENT);
    if (memory->version != nvmlMemory_v2)
        return sim_nvml_leave(NVML_ERROR_ARGUMENT_VERSION_MISMATCH);
    uint64_t total, used;
    device_memory(dev, &total, &used);
    memory->total = total;
    memory->reserved = 0;
    memory->used = used;
    memory->free = total - used;
    return sim_nvml_leave(NVML_SUCCESS);
}

/* The memory bus width of the model, in bits. */
SIM_NVML_EXPORT nvmlReturn_t nvmlDeviceGetMemoryBusWidth(nvmlDevice_t device,
                                                         unsigned int *busWidth)
{
    int dev;
    nvmlReturn_t rc = sim_nvml_enter_device(device, &dev);
    if (rc != NVML_SUCCESS)
        return rc;
    const struct sim_model *m = sim_instance_model(sim_nvml_instance(), dev);
    if (!busWidth)
        return sim_nvml_leave(NVML_ERROR_INVALID_ARGUMENT);
    if (!m || m->mem_bus_width_bits <= 0)
        return sim_nvml_leave(NVML_ERROR_NOT_SUPPORTED);
    *busWidth = (unsigned int)m->mem_bus_width_bits;
    return sim_nvml_leave(NVML_SUCCESS);
}

enum proc_layout { PROC_V1, PROC_V2, PROC_V3 };

/* The documented protocol of the *RunningProcesses queries: with *infoCount smaller than the
 * number of processes, *infoCount receives that number and the answer is
 * NVML_ERROR_INSUFFICIENT_SIZE (infos may then be NULL); otherwise the entries are written and
 * *infoCount is their count. compute = 0 lists no process (the sim runs no graphics or MPS
 * work). */
static nvmlReturn_t running_processes(nvmlDevice_t device, unsigned int *infoCount, void *infos,
                                      enum proc_layout layout, int compute)
{
    int dev;
    nvmlReturn_t rc = sim_nvml_enter_device(device, &dev);
    if (rc != NVML_SUCCESS)
        return rc;
    if (!infoCount)
        return sim_nvml_leave(NVML_ERROR_INVALID_ARGUMENT);
    struct sim_proc_info *procs = NULL;
    int n = compute ? sim_nvml_processes(sim_nvml_instance(), dev, &procs) : 0;
    if (n < 0) {
        rc = NVML_ERROR_MEMORY;
        goto out;
    }
    if (*infoCount < (unsigned int)n) {
        *infoCount = (unsigned int)n;
        rc = NVML_ERROR_INSUFFICIENT_SIZE;
        goto out;
    }
    if (n > 0 && !infos) {
        rc = NVML_ERROR_INVALID_ARGUMENT;
        goto out;
    }
    for (int i = 0; i < n; i++) {
        switch (layout) {
        case PROC_V1: {
            nvmlProcessInfo_v1_t *p = (nvmlProcessInfo_v1_t *)infos + i;
            p->pid = (unsigned int)procs[i].pid;
            p->usedGpuMemory = procs[i].used_bytes;
            break;
        }
        case PROC_V2: {
            nvmlProcessInfo_v2_t *p = (nvmlProcessInfo_v2_t *)infos + i;
            p->pid = (unsigned int)procs[i].pid;
            p->usedGpuMemory = procs[i].used_bytes;
            p->gpuInstanceId = MIG_ID_NONE;
            p->computeInstanceId = MIG_ID_NONE;
            break;
        }
        case PROC_V3: {
            nvmlProcessInfo_t *p = (nvmlProcessInfo_t *)infos + i;
            p->pid = (unsigned int)procs[i].pid;
            p->usedGpuMemory = procs[i].used_bytes;
            p->gpuInstanceId = MIG_ID_NONE;
            p->computeInstanceId = MIG_ID_NONE;
            break;
        }
        }
    }
    *infoCount = (unsigned int)n;
out:
    free(procs);
    return sim_nvml_leave(rc);
}

/* The *RunningProcesses entry points, one row each: name, entry type (the prototype is
 * (nvmlDevice_t, unsigned int *infoCount, entry *infos)), entry layout, and whether the query lists
 * every live process using the device with the device memory charged to it (compute) or none
 * (graphics and MPS clients: the sim runs no such work). v1 entries are the legacy form, v2 add
 * the MIG ids, v3 are the current form (laid out as v2). */
#define RUNNING_PROCESS_QUERIES(XX)                                                                \
    XX(nvmlDeviceGetComputeRunningProcesses, nvmlProcessInfo_v1_t, PROC_V1, 1)                     \
    XX(nvmlDeviceGetComputeRunningProcesses_v2, nvmlProcessInfo_v2_t, PROC_V2, 1)                  \
    XX(nvmlDeviceGetComputeRunningProcesses_v3, nvmlProcessInfo_t, PROC_V3, 1)                     \
    XX(nvmlDeviceGetGraphicsRunningProcesses, nvmlProcessInfo_v1_t, PROC_V1, 0)                    \
    XX(nvmlDeviceGetGraphicsRunningProcesses_v2, nvmlProcessInfo_v2_t, PROC_V2, 0)                 \
    XX(nvmlDeviceGetGraphicsRunningProcesses_v3, nvmlProcessInfo_t, PROC_V3, 0)                    \
    XX(nvmlDeviceGetMPSComputeRunningProcesses, nvmlProcessInfo_v1_t, PROC_V1, 0)                  \
    XX(nvmlDeviceGetMPSComputeRunningProcesses_v2, nvmlProcessInfo_v2_t, PROC_V2, 0)               \
    XX(nvmlDeviceGetMPSComputeRunningProcesses_v3, nvmlProcessInfo_t, PROC_V3, 0)

#define RUNNING_PROCESS_QUERY_(name, entry, layout, compute)                                       \
    SIM_NVML_EXPORT nvmlReturn_t name(nvmlDevice_t device, unsigned int *infoCount, entry *infos)  \
    {                                                                                              \
        return running_processes(device, infoCount, infos, layout, compute);                       \
    }
RUNNING_PROCESS_QUERIES(RUNNING_PROCESS_QUERY_)
#undef RUNNING_PROCESS_QUERY_

/* The compute capability of the model. */
SIM_NVML_EXPORT nvmlReturn_t nvmlDeviceGetCudaComputeCapability(nvmlDevice_t device, int *major,
                                                                int *minor)
{
    int dev;
    nvmlReturn_t rc = sim_nvml_enter_device(device, &dev);
    if (rc != NVML_SUCCESS)
        return rc;
    const struct sim_model *m = sim_instance_model(sim_nvml_instance(), dev);
    if (!major || !minor)
        return sim_nvml_leave(NVML_ERROR_INVALID_ARGUMENT);
    *major = m ? m->cc_major : 0;
    *minor = m ? m->cc_minor : 0;
    return sim_nvml_leave(NVML_SUCCESS);
}

/* The compute mode: always DEFAULT (any number of contexts from any process). */
SIM_NVML_EXPORT nvmlReturn_t nvmlDeviceGetComputeMode(nvmlDevice_t device, nvmlComputeMode_t *mode)
{
    int dev;
    nvmlReturn_t rc = sim_nvml_enter_device(device, &dev);
    if (rc != NVML_SUCCESS)
        return rc;
    if (!mode)
        return sim_nvml_leave(NVML_ERROR_INVALID_ARGUMENT);
    *mode = NVML_COMPUTEMODE_DEFAULT;
    return sim_nvml_leave(NVML_SUCCESS);
}

/* Persistence mode: always ENABLED (the simulated devices' state outlives every process). */
SIM_NVML_EXPORT nvmlReturn_t nvmlDeviceGetPersistenceMode(nvmlDevice_t device,
                                                          nvmlEnableState_t *mode)
{
    int dev;
    nvmlReturn_t rc = sim_nvml_enter_device(device, &dev);
    if (rc != NVML_SUCCESS)
        return rc;
    if (!mode)
        return sim_nvml_leave(NVML_ERROR_INVALID_ARGUMENT);
    *mode = NVML_FEATURE_ENABLED;
    return sim_nvml_leave(NVML_SUCCESS);
}
