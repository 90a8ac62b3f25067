/*
 * device.c: the cuDevice* family: enumeration, names, UUIDs, PCI ids, memory size, and every
 * CUdevice_attribute.
 *
 * Attributes answer what the real card of the device's model reports. Figures that differ per
 * card come from the model table (sim_model); figures that are fixed for an architecture (grid
 * and block limits, texture and surface limits) are those of every GPU of compute capability 7.0
 * and later, which is all gpool models. Capability flags say 1 where the simulator implements
 * (or will implement, on the roadmap of the sim) the feature they announce and a discrete,
 * data-centre GPU on x86 Linux has it, and 0 where the feature needs hardware the simulator has
 * no counterpart for (GPUDirect RDMA, NVLink multicast, Windows handles, CIG, decompression).
 */
#include "driver.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#define EXPORT __attribute__((visibility("default")))

/* Validates dev against the attached instance and returns its model. */
CUresult sim_device_check(CUdevice dev, const struct sim_model **model)
{
    CUresult res = sim_process_check();
    if (res != CUDA_SUCCESS)
        return res;
    struct sim_instance *inst = sim_process_instance();
    if (dev < 0 || dev >= sim_instance_device_count(inst))
        return CUDA_ERROR_INVALID_DEVICE;
    if (model)
        *model = sim_instance_model(inst, dev);
    return CUDA_SUCCESS;
}

/* Returns the handle of the ordinal-th device (handles are ordinals). */
EXPORT CUresult cuDeviceGet(CUdevice *device, int ordinal)
{
    CUresult res = sim_process_check();
    if (res != CUDA_SUCCESS)
        return res;
    if (!device)
        return CUDA_ERROR_INVALID_VALUE;
    if (ordinal < 0 || ordinal >= sim_instance_device_count(sim_process_instance()))
        return CUDA_ERROR_INVALID_DEVICE;
    *device = ordinal;
    return CUDA_SUCCESS;
}

/* Returns the number of simulated devices of the instance. */
EXPORT CUresult cuDeviceGetCount(int *count)
{
    CUresult res = sim_process_check();
    if (res != CUDA_SUCCESS)
        return res;
    if (!count)
        return CUDA_ERROR_INVALID_VALUE;
    *count = sim_instance_device_count(sim_process_instance());
    return CUDA_SUCCESS;
}

/* Copies the model's marketing name, truncated to len - 1 characters. */
EXPORT CUresult cuDeviceGetName(char *name, int len, CUdevice dev)
{
    const struct sim_model *m;
    CUresult res = sim_device_check(dev, &m);
    if (res != CUDA_SUCCESS)
        return res;
    if (!name || len <= 0)
        return CUDA_ERROR_INVALID_VALUE;
    snprintf(name, (size_t)len, "%s", m->name);
    return CUDA_SUCCESS;
}

/* Returns the device's UUID: stable for the life of the instance, distinct per device. */
EXPORT CUresult cuDeviceGetUuid_v2(CUuuid *uuid, CUdevice dev)
{
    CUresult res = sim_device_check(dev, NULL);
    if (res != CUDA_SUCCESS)
        return res;
    if (!uuid)
        return CUDA_ERROR_INVALID_VALUE;
    unsigned char bytes[16];
    sim_instance_uuid(sim_process_instance(), dev, bytes);
    memcpy(uuid->bytes, bytes, sizeof(bytes));
    return CUDA_SUCCESS;
}

/* The legacy export: the same UUID (a real driver's v1 differs only for MIG instances). */
EXPORT CUresult cuDeviceGetUuid(CUuuid *uuid, CUdevice dev)
{
    return cuDeviceGetUuid_v2(uuid, dev);
}

/* LUIDs identify adapters to Windows graphics APIs; Linux devices have none, so after the
 * arguments are validated this is CUDA_ERROR_NOT_SUPPORTED (NVIDIA's Linux driver does the
 * same; cudart then reports a zero LUID). */
EXPORT CUresult cuDeviceGetLuid(char *luid, unsigned int *deviceNodeMask, CUdevice dev)
{
    CUresult res = sim_device_check(dev, NULL);
    if (res != CUDA_SUCCESS)
        return res;
    if (!luid || !deviceNodeMask)
        return CUDA_ERROR_INVALID_VALUE;
    return CUDA_ERROR_NOT_SUPPORTED;
}

/* Total device memory of the model, as cuDeviceTotalMem reports it on the real card. */
EXPORT CUresult cuDeviceTotalMem_v2(size_t *bytes, CUdevice dev)
{
    const struct sim_model *m;
    CUresult res = sim_device_check(dev, &m);
    if (res != CUDA_SUCCESS)
        return res;
    if (!bytes)
        return CUDA_ERROR_INVALID_VALUE;
    *bytes = (size_t)m->vram_bytes;
    return CUDA_SUCCESS;
}

/* The legacy 32-bit export: the size clamped to what fits. */
EXPORT CUresult cuDeviceTotalMem(unsigned int *bytes, CUdevice dev)
{
    size_t total;
    if (!bytes)
        return sim_process_check() != CUDA_SUCCESS ? sim_process_check() : CUDA_ERROR_INVALID_VALUE;
    CUresult res = cuDeviceTotalMem_v2(&total, dev);
    if (res == CUDA_SUCCESS)
        *bytes = total > UINT_MAX ? UINT_MAX : (unsigned int)total;
    return res;
}

static int model_is_geforce(const struct sim_model *m)
{
    return strstr(m->name, "GeForce") != NULL;
}

/* Data-centre parts with full-rate FP64: GP100, GV100, GA100, GH100 (x.0 architectures). */
static int model_full_fp64(const struct sim_model *m)
{
    return m->cc_minor == 0 && m->cc_major >= 6;
}

/* Answers one attribute; CUDA_ERROR_INVALID_VALUE for an id this driver does not know. */
static CUresult device_attribute(int *pi, int attrib, int dev, const struct sim_model *m)
{
    struct sim_instance *inst = sim_process_instance();
    int pci_domain, pci_bus, pci_dev;
    int cc = m->cc_major * 10 + m->cc_minor;
    int v;

    sim_instance_pci(inst, dev, &pci_domain, &pci_bus, &pci_dev);
    switch ((CUdevice_attribute)attrib) {
    case CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK:
        v = 1024;
        break;
    case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X:
        v = 1024;
        break;
    case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Y:
        v = 1024;
        break;
    case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z:
        v = 64;
        break;
    case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X:
        v = INT_MAX;
        break;
    case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y:
        v = 65535;
        break;
    case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Z:
        v = 65535;
        break;
    case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK:
        v = 48 * 1024;
        break;
    case CU_DEVICE_ATTRIBUTE_TOTAL_CONSTANT_MEMORY:
        v = 64 * 1024;
        break;
    case CU_DEVICE_ATTRIBUTE_WARP_SIZE:
        v = 32;
        break;
    case CU_DEVICE_ATTRIBUTE_MAX_PITCH:
        v = INT_MAX;
        break;
    case CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_BLOCK:
        v = 65536;
        break;
    case CU_DEVICE_ATTRIBUTE_CLOCK_RATE:
        v = m->clock_khz;
        break;
    case CU_DEVICE_ATTRIBUTE_TEXTURE_ALIGNMENT:
        v = 512;
        break;
    case CU_DEVICE_ATTRIBUTE_GPU_OVERLAP:
        v = 1;
        break;
    case CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT:
        v = m->sm_count;
        break;
    case CU_DEVICE_ATTRIBUTE_KERNEL_EXEC_TIMEOUT:
        v = 0;
        break;
    case CU_DEVICE_ATTRIBUTE_INTEGRATED:
        v = 0;
        break;
    case CU_DEVICE_ATTRIBUTE_CAN_MAP_HOST_MEMORY:
        v = 1;
        break;
    case CU_DEVICE_ATTRIBUTE_COMPUTE_MODE:
        v = CU_COMPUTEMODE_DEFAULT;
        break;
    case CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE1D_WIDTH:
        v = 131072;
        break;
    case CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE2D_WIDTH:
        v = 131072;
        break;
    case CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE2D_HEIGHT:
        v = 65536;
        break;
    case CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE3D_WIDTH:
        v = 16384;
        break;
    case CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE3D_HEIGHT:
        v = 16384;
        break;
    case CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE3D_DEPTH:
        v = 16384;
        break;
    case CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE2D_LAYERED_WIDTH:
        v = 32768;
        break;
    case CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE2D_LAYERED_HEIGHT:
        v = 32768;
        break;
    case CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE2D_LAYERED_LAYERS:
        v = 2048;
        break;
    case CU_DEVICE_ATTRIBUTE_SURFACE_ALIGNMENT:
        v = 512;
        break;
    case CU_DEVICE_ATTRIBUTE_CONCURRENT_KERNELS:
        v = 1;
        break;
    case CU_DEVICE_ATTRIBUTE_ECC_ENABLED:
        v = model_is_geforce(m) ? 0 : 1;
        break;
    case CU_DEVICE_ATTRIBUTE_PCI_BUS_ID:
        v = pci_bus;
        break;
    case CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID:
        v = pci_dev;
        break;
    case CU_DEVICE_ATTRIBUTE_TCC_DRIVER:
        v = 0;
        break;
    case CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE:
        v = m->mem_clock_khz;
        break;
    case CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH:
        v = m->mem_bus_width_bits;
        break;
    case CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE:
        v = m->l2_bytes;
        break;
    case CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_MULTIPROCESSOR:
        v = m->max_threads_per_sm;
        break;
    case CU_DEVICE_ATTRIBUTE_ASYNC_ENGINE_COUNT:
        v = model_is_geforce(m) ? 2 : 3;
        break;
    case CU_DEVICE_ATTRIBUTE_UNIFIED_ADDRESSING:
        v = 1;
        break;
    case CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE1D_LAYERED_WIDTH:
        v = 32768;
        break;
    case CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE1D_LAYERED_LAYERS:
        v = 2048;
        break;
    case CU_DEVICE_ATTRIBUTE_CAN_TEX2D_GATHER:
        v = 1;
        break;
    case CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE2D_GATHER_WIDTH:
        v = 32768;
        break;
    case CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE2D_GATHER_HEIGHT:
        v = 32768;
        break;
    case CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE3D_WIDTH_ALTERNATE:
        v = 8192;
        break;
    case CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE3D_HEIGHT_ALTERNATE:
        v = 8192;
        break;
    case CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE3D_DEPTH_ALTERNATE:
        v = 32768;
        break;
    case CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID:
        v = pci_domain;
        break;
    case CU_DEVICE_ATTRIBUTE_TEXTURE_PITCH_ALIGNMENT:
        v = 32;
        break;
    case CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURECUBEMAP_WIDTH:
        v = 32768;
        break;
    case CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURECUBEMAP_LAYERED_WIDTH:
        v = 32768;
        break;
    case CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURECUBEMAP_LAYERED_LAYERS:
        v = 2046;
        break;
    case CU_DEVICE_ATTRIBUTE_MAXIMUM_SURFACE1D_WIDTH:
        v = 32768;
        break;
    case CU_DEVICE_ATTRIBUTE_MAXIMUM_SURFACE2D_WIDTH:
        v = 131072;
        break;
    case CU_DEVICE_ATTRIBUTE_MAXIMUM_SURFACE2D_HEIGHT:
        v = 65536;
        break;
    case CU_DEVICE_ATTRIBUTE_MAXIMUM_SURFACE3D_WIDTH:
        v = 16384;
        break;
    case CU_DEVICE_ATTRIBUTE_MAXIMUM_SURFACE3D_HEIGHT:
        v = 16384;
        break;
    case CU_DEVICE_ATTRIBUTE_MAXIMUM_SURFACE3D_DEPTH:
        v = 16384;
        break;
    case CU_DEVICE_ATTRIBUTE_MAXIMUM_SURFACE1D_LAYERED_WIDTH:
        v = 32768;
        break;
    case CU_DEVICE_ATTRIBUTE_MAXIMUM_SURFACE1D_LAYERED_LAYERS:
        v = 2048;
        break;
    case CU_DEVICE_ATTRIBUTE_MAXIMUM_SURFACE2D_LAYERED_WIDTH:
        v = 32768;
        break;
    case CU_DEVICE_ATTRIBUTE_MAXIMUM_SURFACE2D_LAYERED_HEIGHT:
        v = 32768;
        break;
    case CU_DEVICE_ATTRIBUTE_MAXIMUM_SURFACE2D_LAYERED_LAYERS:
        v = 2048;
        break;
    case CU_DEVICE_ATTRIBUTE_MAXIMUM_SURFACECUBEMAP_WIDTH:
        v = 32768;
        break;
    case CU_DEVICE_ATTRIBUTE_MAXIMUM_SURFACECUBEMAP_LAYERED_WIDTH:
        v = 32768;
        break;
    case CU_DEVICE_ATTRIBUTE_MAXIMUM_SURFACECUBEMAP_LAYERED_LAYERS:
        v = 2046;
        break;
    case CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE1D_LINEAR_WIDTH:
        v = 1 << 28;
        break;
    case CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE2D_LINEAR_WIDTH:
        v = 131072;
        break;
    case CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE2D_LINEAR_HEIGHT:
        v = 65000;
        break;
    case CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE2D_LINEAR_PITCH:
        v = 2097120;
        break;
    case CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE2D_MIPMAPPED_WIDTH:
        v = 32768;
        break;
    case CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE2D_MIPMAPPED_HEIGHT:
        v = 32768;
        break;
    case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR:
        v = m->cc_major;
        break;
    case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR:
        v = m->cc_minor;
        break;
    case CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE1D_MIPMAPPED_WIDTH:
        v = 32768;
        break;
    case CU_DEVICE_ATTRIBUTE_STREAM_PRIORITIES_SUPPORTED:
        v = 1;
        break;
    case CU_DEVICE_ATTRIBUTE_GLOBAL_L1_CACHE_SUPPORTED:
        v = 1;
        break;
    case CU_DEVICE_ATTRIBUTE_LOCAL_L1_CACHE_SUPPORTED:
        v = 1;
        break;
    case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_MULTIPROCESSOR:
        v = m->shared_per_sm_bytes;
        break;
    case CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_MULTIPROCESSOR:
        v = m->regs_per_sm;
        break;
    case CU_DEVICE_ATTRIBUTE_MANAGED_MEMORY:
        v = 1;
        break;
    case CU_DEVICE_ATTRIBUTE_MULTI_GPU_BOARD:
        v = 0;
        break;
    case CU_DEVICE_ATTRIBUTE_MULTI_GPU_BOARD_GROUP_ID:
        v = dev;
        break; /* one board per device */
    case CU_DEVICE_ATTRIBUTE_HOST_NATIVE_ATOMIC_SUPPORTED:
        v = 0;
        break; /* PCIe, not NVLink-C2C */
    case CU_DEVICE_ATTRIBUTE_SINGLE_TO_DOUBLE_PRECISION_PERF_RATIO:
        v = model_full_fp64(m) ? 2 : (cc >= 86 ? 64 : 32);
        break;
    case CU_DEVICE_ATTRIBUTE_PAGEABLE_MEMORY_ACCESS:
        v = 0;
        break;
    case CU_DEVICE_ATTRIBUTE_CONCURRENT_MANAGED_ACCESS:
        v = 1;
        break;
    case CU_DEVICE_ATTRIBUTE_COMPUTE_PREEMPTION_SUPPORTED:
        v = 1;
        break;
    case CU_DEVICE_ATTRIBUTE_CAN_USE_HOST_POINTER_FOR_REGISTERED_MEM:
        v = 1;
        break;
    case CU_DEVICE_ATTRIBUTE_CAN_USE_STREAM_MEM_OPS_V1:
        v = 0;
        break; /* v1 ops removed */
    case CU_DEVICE_ATTRIBUTE_CAN_USE_64_BIT_STREAM_MEM_OPS_V1:
        v = 0;
        break;
    case CU_DEVICE_ATTRIBUTE_CAN_USE_STREAM_WAIT_VALUE_NOR_V1:
        v = 0;
        break;
    case CU_DEVICE_ATTRIBUTE_COOPERATIVE_LAUNCH:
        v = 1;
        break;
    case CU_DEVICE_ATTRIBUTE_COOPERATIVE_MULTI_DEVICE_LAUNCH:
        v = 0;
        break; /* removed API */
    case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN:
        v = m->shared_per_block_optin_bytes;
        break;
    case CU_DEVICE_ATTRIBUTE_CAN_FLUSH_REMOTE_WRITES:
        v = 0;
        break;
    case CU_DEVICE_ATTRIBUTE_HOST_REGISTER_SUPPORTED:
        v = 1;
        break;
    case CU_DEVICE_ATTRIBUTE_PAGEABLE_MEMORY_ACCESS_USES_HOST_PAGE_TABLES:
        v = 0;
        break;
    case CU_DEVICE_ATTRIBUTE_DIRECT_MANAGED_MEM_ACCESS_FROM_HOST:
        v = 0;
        break;
    case CU_DEVICE_ATTRIBUTE_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED:
        v = 1;
        break;
    case CU_DEVICE_ATTRIBUTE_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR_SUPPORTED:
        v = 1;
        break;
    case CU_DEVICE_ATTRIBUTE_HANDLE_TYPE_WIN32_HANDLE_SUPPORTED:
        v = 0;
        break;
    case CU_DEVICE_ATTRIBUTE_HANDLE_TYPE_WIN32_KMT_HANDLE_SUPPORTED:
        v = 0;
        break;
    case CU_DEVICE_ATTRIBUTE_MAX_BLOCKS_PER_MULTIPROCESSOR:
        v = m->max_blocks_per_sm;
        break;
    case CU_DEVICE_ATTRIBUTE_GENERIC_COMPRESSION_SUPPORTED:
        v = cc >= 80 ? 1 : 0;
        break;
    case CU_DEVICE_ATTRIBUTE_MAX_PERSISTING_L2_CACHE_SIZE:
        v = cc >= 80 ? m->l2_bytes / 4 * 3 : 0;
        break;
    case CU_DEVICE_ATTRIBUTE_MAX_ACCESS_POLICY_WINDOW_SIZE:
        v = cc >= 80 ? 134213632 : 0;
        break;
    case CU_DEVICE_ATTRIBUTE_GPU_DIRECT_RDMA_WITH_CUDA_VMM_SUPPORTED:
        v = 0;
        break;
    case CU_DEVICE_ATTRIBUTE_RESERVED_SHARED_MEMORY_PER_BLOCK:
        v = cc >= 80 ? 1024 : 0;
        break;
    case CU_DEVICE_ATTRIBUTE_SPARSE_CUDA_ARRAY_SUPPORTED:
        v = 1;
        break;
    case CU_DEVICE_ATTRIBUTE_READ_ONLY_HOST_REGISTER_SUPPORTED:
        v = 1;
        break;
    case CU_DEVICE_ATTRIBUTE_TIMELINE_SEMAPHORE_INTEROP_SUPPORTED:
        v = 1;
        break;
    case CU_DEVICE_ATTRIBUTE_MEMORY_POOLS_SUPPORTED:
        v = 1;
        break;
    case CU_DEVICE_ATTRIBUTE_GPU_DIRECT_RDMA_SUPPORTED:
        v = 0;
        break;
    case CU_DEVICE_ATTRIBUTE_GPU_DIRECT_RDMA_FLUSH_WRITES_OPTIONS:
        v = 0;
        break;
    case CU_DEVICE_ATTRIBUTE_GPU_DIRECT_RDMA_WRITES_ORDERING:
        v = CU_GPU_DIRECT_RDMA_WRITES_ORDERING_NONE;
        break;
    case CU_DEVICE_ATTRIBUTE_MEMPOOL_SUPPORTED_HANDLE_TYPES:
        v = CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR;
        break;
    case CU_DEVICE_ATTRIBUTE_CLUSTER_LAUNCH:
        v = cc >= 90 ? 1 : 0;
        break;
    case CU_DEVICE_ATTRIBUTE_DEFERRED_MAPPING_CUDA_ARRAY_SUPPORTED:
        v = 1;
        break;
    case CU_DEVICE_ATTRIBUTE_CAN_USE_64_BIT_STREAM_MEM_OPS:
        v = 1;
        break;
    case CU_DEVICE_ATTRIBUTE_CAN_USE_STREAM_WAIT_VALUE_NOR:
        v = 1;
        break;
    case CU_DEVICE_ATTRIBUTE_DMA_BUF_SUPPORTED:
        v = 0;
        break;
    case CU_DEVICE_ATTRIBUTE_IPC_EVENT_SUPPORTED:
        v = 1;
        break;
    case CU_DEVICE_ATTRIBUTE_MEM_SYNC_DOMAIN_COUNT:
        v = cc >= 90 ? 4 : 1;
        break;
    case CU_DEVICE_ATTRIBUTE_TENSOR_MAP_ACCESS_SUPPORTED:
        v = cc >= 90 ? 1 : 0;
        break;
    case CU_DEVICE_ATTRIBUTE_HANDLE_TYPE_FABRIC_SUPPORTED:
        v = 0;
        break;
    case CU_DEVICE_ATTRIBUTE_UNIFIED_FUNCTION_POINTERS:
        v = 0;
        break;
    case CU_DEVICE_ATTRIBUTE_NUMA_CONFIG:
        v = CU_DEVICE_NUMA_CONFIG_NONE;
        break;
    case CU_DEVICE_ATTRIBUTE_NUMA_ID:
        v = -1;
        break; /* device memory is no NUMA node */
    case CU_DEVICE_ATTRIBUTE_MULTICAST_SUPPORTED:
        v = 0;
        break;
    case CU_DEVICE_ATTRIBUTE_MPS_ENABLED:
        v = 0;
        break;
    case CU_DEVICE_ATTRIBUTE_HOST_NUMA_ID:
        v = 0;
        break;
    case CU_DEVICE_ATTRIBUTE_D3D12_CIG_SUPPORTED:
        v = 0;
        break;
    case CU_DEVICE_ATTRIBUTE_MEM_DECOMPRESS_ALGORITHM_MASK:
        v = 0;
        break;
    case CU_DEVICE_ATTRIBUTE_MEM_DECOMPRESS_MAXIMUM_LENGTH:
        v = 0;
        break;
    case CU_DEVICE_ATTRIBUTE_VULKAN_CIG_SUPPORTED:
        v = 0;
        break;
    case CU_DEVICE_ATTRIBUTE_GPU_PCI_DEVICE_ID:
        v = (m->pci_device_id << 16) | 0x10de;
        break;
    case CU_DEVICE_ATTRIBUTE_GPU_PCI_SUBSYSTEM_ID:
        /* NVIDIA reference boards carry NVIDIA's subsystem vendor and a board id. */
        v = (int)(((unsigned)(0x1600 + (m->pci_device_id & 0xff)) << 16) | 0x10de);
        break;
    case CU_DEVICE_ATTRIBUTE_HOST_NUMA_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED:
        v = 0;
        break;
    case CU_DEVICE_ATTRIBUTE_HOST_NUMA_MEMORY_POOLS_SUPPORTED:
        v = 0;
        break;
    case CU_DEVICE_ATTRIBUTE_HOST_NUMA_MULTINODE_IPC_SUPPORTED:
        v = 0;
        break;
    case CU_DEVICE_ATTRIBUTE_HOST_MEMORY_POOLS_SUPPORTED:
        v = 0;
        break;
    case CU_DEVICE_ATTRIBUTE_HOST_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED:
        v = 0;
        break;
    case CU_DEVICE_ATTRIBUTE_HOST_ALLOC_DMA_BUF_SUPPORTED:
        v = 0;
        break;
    case CU_DEVICE_ATTRIBUTE_ONLY_PARTIAL_HOST_NATIVE_ATOMIC_SUPPORTED:
        v = 0;
        break;
    default:
        return CUDA_ERROR_INVALID_VALUE;
    }
    *pi = v;
    return CUDA_SUCCESS;
}

/* Returns one device attribute (see device_attribute for the values). */
EXPORT CUresult cuDeviceGetAttribute(int *pi, CUdevice_attribute attrib, CUdevice dev)
{
    const struct sim_model *m;
    CUresult res = sim_device_check(dev, &m);
    if (res != CUDA_SUCCESS)
        return res;
    if (!pi)
        return CUDA_ERROR_INVALID_VALUE;
    return device_attribute(pi, (int)attrib, dev, m);
}

/* Writes the bus id as NVIDIA's driver does, "DDDD:BB:DD.F" in upper-case hex (13 bytes with
 * the terminator), truncated to len - 1 characters. */
EXPORT CUresult cuDeviceGetPCIBusId(char *pciBusId, int len, CUdevice dev)
{
    CUresult res = sim_device_check(dev, NULL);
    if (res != CUDA_SUCCESS)
        return res;
    if (!pciBusId || len <= 0)
        return CUDA_ERROR_INVALID_VALUE;
    int domain, bus, device;
    sim_instance_pci(sim_process_instance(), dev, &domain, &bus, &device);
    snprintf(pciBusId, (size_t)len, "%04X:%02X:%02X.0", (unsigned)domain & 0xffff,
             (unsigned)bus & 0xff, (unsigned)device & 0x1f);
    return CUDA_SUCCESS;
}

/* Parses "domain:bus:device.function", "domain:bus:device" or "bus:device.function" (hex). */
static int parse_bus_id(const char *s, unsigned *domain, unsigned *bus, unsigned *device,
                        unsigned *function)
{
    unsigned a, b, c, d;
    char tail;
    if (sscanf(s, "%x:%x:%x.%x%c", &a, &b, &c, &d, &tail) == 4) {
        *domain = a, *bus = b, *device = c, *function = d;
        return 0;
    }
    if (sscanf(s, "%x:%x:%x%c", &a, &b, &c, &tail) == 3) {
        *domain = a, *bus = b, *device = c, *function = 0;
        return 0;
    }
    if (sscanf(s, "%x:%x.%x%c", &a, &b, &c, &tail) == 3) {
        *domain = 0, *bus = a, *device = b, *function = c;
        return 0;
    }
    return -1;
}

/* Finds the device at a PCI bus id; CUDA_ERROR_INVALID_VALUE for a malformed id,
 * CUDA_ERROR_INVALID_DEVICE for one that names no device of the instance. */
EXPORT CUresult cuDeviceGetByPCIBusId(CUdevice *dev, const char *pciBusId)
{
    CUresult res = sim_process_check();
    if (res != CUDA_SUCCESS)
        return res;
    if (!dev || !pciBusId)
        return CUDA_ERROR_INVALID_VALUE;
    unsigned domain, bus, device, function;
    if (parse_bus_id(pciBusId, &domain, &bus, &device, &function) < 0)
        return CUDA_ERROR_INVALID_VALUE;
    struct sim_instance *inst = sim_process_instance();
    int n = sim_instance_device_count(inst);
    for (int i = 0; i < n; i++) {
        int d, b, v;
        sim_instance_pci(inst, i, &d, &b, &v);
        if ((unsigned)d == domain && (unsigned)b == bus && (unsigned)v == device && function == 0) {
            *dev = i;
            return CUDA_SUCCESS;
        }
    }
    return CUDA_ERROR_INVALID_DEVICE;
}

/* The legacy property block, filled from the same attributes. */
EXPORT CUresult cuDeviceGetProperties(CUdevprop *prop, CUdevice dev)
{
    const struct sim_model *m;
    CUresult res = sim_device_check(dev, &m);
    if (res != CUDA_SUCCESS)
        return res;
    if (!prop)
        return CUDA_ERROR_INVALID_VALUE;
    static const int attrs[] = {
        CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK,
        CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X,
        CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Y,
        CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z,
        CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X,
        CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y,
        CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Z,
        CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK,
        CU_DEVICE_ATTRIBUTE_TOTAL_CONSTANT_MEMORY,
        CU_DEVICE_ATTRIBUTE_WARP_SIZE,
        CU_DEVICE_ATTRIBUTE_MAX_PITCH,
        CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_BLOCK,
        CU_DEVICE_ATTRIBUTE_CLOCK_RATE,
        CU_DEVICE_ATTRIBUTE_TEXTURE_ALIGNMENT,
    };
    int v[sizeof(attrs) / sizeof(attrs[0])];
    for (size_t i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++)
        device_attribute(&v[i], attrs[i], dev, m);
    prop->maxThreadsPerBlock = v[0];
    prop->maxThreadsDim[0] = v[1];
    prop->maxThreadsDim[1] = v[2];
    prop->maxThreadsDim[2] = v[3];
    prop->maxGridSize[0] = v[4];
    prop->maxGridSize[1] = v[5];
    prop->maxGridSize[2] = v[6];
    prop->sharedMemPerBlock = v[7];
    prop->totalConstantMemory = v[8];
    prop->SIMDWidth = v[9];
    prop->memPitch = v[10];
    prop->regsPerBlock = v[11];
    prop->clockRate = v[12];
    prop->textureAlign = v[13];
    return CUDA_SUCCESS;
}

/* The model's compute capability. */
EXPORT CUresult cuDeviceComputeCapability(int *major, int *minor, CUdevice dev)
{
    const struct sim_model *m;
    CUresult res = sim_device_check(dev, &m);
    if (res != CUDA_SUCCESS)
        return res;
    if (!major || !minor)
        return CUDA_ERROR_INVALID_VALUE;
    *major = m->cc_major;
    *minor = m->cc_minor;
    return CUDA_SUCCESS;
}

/* Simulated devices of one instance all live in this host's memory, so each can access every
 * other one (as GPUs on one NVLink/PCIe switch can). A device is not its own peer (0), as on
 * real GPUs. */
EXPORT CUresult cuDeviceCanAccessPeer(int *canAccessPeer, CUdevice dev, CUdevice peerDev)
{
    CUresult res = sim_device_check(dev, NULL);
    if (res == CUDA_SUCCESS)
        res = sim_device_check(peerDev, NULL);
    if (res != CUDA_SUCCESS)
        return res;
    if (!canAccessPeer)
        return CUDA_ERROR_INVALID_VALUE;
    *canAccessPeer = dev != peerDev;
    return CUDA_SUCCESS;
}

/* Link attributes between two distinct devices: access, native atomics and array access are
 * supported; the performance rank is 0 (every pair is equally fast). */
EXPORT CUresult cuDeviceGetP2PAttribute(int *value, CUdevice_P2PAttribute attrib,
                                        CUdevice srcDevice, CUdevice dstDevice)
{
    CUresult res = sim_device_check(srcDevice, NULL);
    if (res == CUDA_SUCCESS)
        res = sim_device_check(dstDevice, NULL);
    if (res != CUDA_SUCCESS)
        return res;
    if (srcDevice == dstDevice)
        return CUDA_ERROR_INVALID_DEVICE;
    if (!value)
        return CUDA_ERROR_INVALID_VALUE;
    switch ((int)attrib) {
    case CU_DEVICE_P2P_ATTRIBUTE_PERFORMANCE_RANK:
        *value = 0;
        break;
    case CU_DEVICE_P2P_ATTRIBUTE_ACCESS_SUPPORTED:
        *value = 1;
        break;
    case CU_DEVICE_P2P_ATTRIBUTE_NATIVE_ATOMIC_SUPPORTED:
        *value = 1;
        break;
    case CU_DEVICE_P2P_ATTRIBUTE_CUDA_ARRAY_ACCESS_SUPPORTED:
        *value = 1;
        break;
    case CU_DEVICE_P2P_ATTRIBUTE_ONLY_PARTIAL_NATIVE_ATOMIC_SUPPORTED:
        *value = 0;
        break;
    default:
        return CUDA_ERROR_INVALID_VALUE;
    }
    return CUDA_SUCCESS;
}

/* Execution affinity (SM partitioning) needs MPS, which the simulator does not model: every
 * type is reported unsupported (0). */
EXPORT CUresult cuDeviceGetExecAffinitySupport(int *pi, CUexecAffinityType type, CUdevice dev)
{
    CUresult res = sim_device_check(dev, NULL);
    if (res != CUDA_SUCCESS)
        return res;
    if (!pi || (int)type < 0 || (int)type >= CU_EXEC_AFFINITY_TYPE_MAX)
        return CUDA_ERROR_INVALID_VALUE;
    *pi = 0;
    return CUDA_SUCCESS;
}
