/*
 * Devices of a multi-device instance ("2xH100-80GB,A100-40GB,T4"): count, names, memory, every
 * CUdevice_attribute checked against the real cards' figures, UUIDs and PCI ids distinct per
 * device and stable across processes, bus-id lookups in every documented form, peers.
 */
#include "driver_test.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

/* What the real cards report (NVIDIA's specifications and driver). */
struct card {
    const char *name;
    size_t vram;
    int sm, ccmaj, ccmin, clock, memclock, bus, l2, shm_sm, shm_optin, regs_sm, thr_sm, blk_sm,
        pci_id;
};
static const struct card h100 = {"NVIDIA H100 80GB HBM3",
                                 MIB(81559),
                                 132,
                                 9,
                                 0,
                                 1980000,
                                 2619000,
                                 5120,
                                 51200 * 1024,
                                 228 * 1024,
                                 227 * 1024,
                                 65536,
                                 2048,
                                 32,
                                 0x2330};
static const struct card a100 = {"NVIDIA A100-SXM4-40GB",
                                 MIB(40536),
                                 108,
                                 8,
                                 0,
                                 1410000,
                                 1215000,
                                 5120,
                                 40960 * 1024,
                                 164 * 1024,
                                 163 * 1024,
                                 65536,
                                 2048,
                                 32,
                                 0x20b0};
static const struct card t4 = {"Tesla T4", MIB(15360), 40,   7,           5,
                               1590000,    5001000,    256,  4096 * 1024, 64 * 1024,
                               64 * 1024,  65536,      1024, 16,          0x1eb8};

/* Attribute ids cuda.h marks deprecated or "do not use": their answers are not checked. */
static int deprecated_attr(int a)
{
    switch (a) {
    case CU_DEVICE_ATTRIBUTE_GPU_OVERLAP:
    case CU_DEVICE_ATTRIBUTE_CAN_TEX2D_GATHER:
    case CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE1D_LINEAR_WIDTH:
    case CU_DEVICE_ATTRIBUTE_CAN_USE_STREAM_MEM_OPS_V1:
    case CU_DEVICE_ATTRIBUTE_CAN_USE_64_BIT_STREAM_MEM_OPS_V1:
    case CU_DEVICE_ATTRIBUTE_CAN_USE_STREAM_WAIT_VALUE_NOR_V1:
    case CU_DEVICE_ATTRIBUTE_COOPERATIVE_MULTI_DEVICE_LAUNCH:
        return 1;
    default:
        return 0;
    }
}

/* Attributes that are yes/no answers. */
static int boolean_attr(int a)
{
    switch (a) {
    case CU_DEVICE_ATTRIBUTE_KERNEL_EXEC_TIMEOUT:
    case CU_DEVICE_ATTRIBUTE_INTEGRATED:
    case CU_DEVICE_ATTRIBUTE_CAN_MAP_HOST_MEMORY:
    case CU_DEVICE_ATTRIBUTE_CONCURRENT_KERNELS:
    case CU_DEVICE_ATTRIBUTE_ECC_ENABLED:
    case CU_DEVICE_ATTRIBUTE_TCC_DRIVER:
    case CU_DEVICE_ATTRIBUTE_UNIFIED_ADDRESSING:
    case CU_DEVICE_ATTRIBUTE_STREAM_PRIORITIES_SUPPORTED:
    case CU_DEVICE_ATTRIBUTE_GLOBAL_L1_CACHE_SUPPORTED:
    case CU_DEVICE_ATTRIBUTE_LOCAL_L1_CACHE_SUPPORTED:
    case CU_DEVICE_ATTRIBUTE_MANAGED_MEMORY:
    case CU_DEVICE_ATTRIBUTE_MULTI_GPU_BOARD:
    case CU_DEVICE_ATTRIBUTE_HOST_NATIVE_ATOMIC_SUPPORTED:
    case CU_DEVICE_ATTRIBUTE_PAGEABLE_MEMORY_ACCESS:
    case CU_DEVICE_ATTRIBUTE_CONCURRENT_MANAGED_ACCESS:
    case CU_DEVICE_ATTRIBUTE_COMPUTE_PREEMPTION_SUPPORTED:
    case CU_DEVICE_ATTRIBUTE_CAN_USE_HOST_POINTER_FOR_REGISTERED_MEM:
    case CU_DEVICE_ATTRIBUTE_COOPERATIVE_LAUNCH:
    case CU_DEVICE_ATTRIBUTE_CAN_FLUSH_REMOTE_WRITES:
    case CU_DEVICE_ATTRIBUTE_HOST_REGISTER_SUPPORTED:
    case CU_DEVICE_ATTRIBUTE_PAGEABLE_MEMORY_ACCESS_USES_HOST_PAGE_TABLES:
    case CU_DEVICE_ATTRIBUTE_DIRECT_MANAGED_MEM_ACCESS_FROM_HOST:
    case CU_DEVICE_ATTRIBUTE_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED:
    case CU_DEVICE_ATTRIBUTE_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR_SUPPORTED:
    case CU_DEVICE_ATTRIBUTE_HANDLE_TYPE_WIN32_HANDLE_SUPPORTED:
    case CU_DEVICE_ATTRIBUTE_HANDLE_TYPE_WIN32_KMT_HANDLE_SUPPORTED:
    case CU_DEVICE_ATTRIBUTE_GENERIC_COMPRESSION_SUPPORTED:
    case CU_DEVICE_ATTRIBUTE_GPU_DIRECT_RDMA_WITH_CUDA_VMM_SUPPORTED:
    case CU_DEVICE_ATTRIBUTE_SPARSE_CUDA_ARRAY_SUPPORTED:
    case CU_DEVICE_ATTRIBUTE_READ_ONLY_HOST_REGISTER_SUPPORTED:
    case CU_DEVICE_ATTRIBUTE_TIMELINE_SEMAPHORE_INTEROP_SUPPORTED:
    case CU_DEVICE_ATTRIBUTE_MEMORY_POOLS_SUPPORTED:
    case CU_DEVICE_ATTRIBUTE_GPU_DIRECT_RDMA_SUPPORTED:
    case CU_DEVICE_ATTRIBUTE_CLUSTER_LAUNCH:
    case CU_DEVICE_ATTRIBUTE_DEFERRED_MAPPING_CUDA_ARRAY_SUPPORTED:
    case CU_DEVICE_ATTRIBUTE_CAN_USE_64_BIT_STREAM_MEM_OPS:
    case CU_DEVICE_ATTRIBUTE_CAN_USE_STREAM_WAIT_VALUE_NOR:
    case CU_DEVICE_ATTRIBUTE_DMA_BUF_SUPPORTED:
    case CU_DEVICE_ATTRIBUTE_IPC_EVENT_SUPPORTED:
    case CU_DEVICE_ATTRIBUTE_TENSOR_MAP_ACCESS_SUPPORTED:
    case CU_DEVICE_ATTRIBUTE_HANDLE_TYPE_FABRIC_SUPPORTED:
    case CU_DEVICE_ATTRIBUTE_UNIFIED_FUNCTION_POINTERS:
    case CU_DEVICE_ATTRIBUTE_MULTICAST_SUPPORTED:
    case CU_DEVICE_ATTRIBUTE_MPS_ENABLED:
    case CU_DEVICE_ATTRIBUTE_D3D12_CIG_SUPPORTED:
    case CU_DEVICE_ATTRIBUTE_VULKAN_CIG_SUPPORTED:
    case CU_DEVICE_ATTRIBUTE_HOST_NUMA_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED:
    case CU_DEVICE_ATTRIBUTE_HOST_NUMA_MEMORY_POOLS_SUPPORTED:
    case CU_DEVICE_ATTRIBUTE_HOST_NUMA_MULTINODE_IPC_SUPPORTED:
    case CU_DEVICE_ATTRIBUTE_HOST_MEMORY_POOLS_SUPPORTED:
    case CU_DEVICE_ATTRIBUTE_HOST_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED:
    case CU_DEVICE_ATTRIBUTE_HOST_ALLOC_DMA_BUF_SUPPORTED:
    case CU_DEVICE_ATTRIBUTE_ONLY_PARTIAL_HOST_NATIVE_ATOMIC_SUPPORTED:
        return 1;
    default:
        return 0;
    }
}

/* Attributes whose value can legitimately be 0 or -1 on these cards (flags above aside). */
static int may_be_zero(int a)
{
    switch (a) {
    case CU_DEVICE_ATTRIBUTE_COMPUTE_MODE:             /* CU_COMPUTEMODE_DEFAULT */
    case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR: /* x.0 architectures */
    case CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID:
    case CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID:
    case CU_DEVICE_ATTRIBUTE_MULTI_GPU_BOARD_GROUP_ID:     /* device 0's board */
    case CU_DEVICE_ATTRIBUTE_MAX_PERSISTING_L2_CACHE_SIZE: /* none before Ampere */
    case CU_DEVICE_ATTRIBUTE_MAX_ACCESS_POLICY_WINDOW_SIZE:
    case CU_DEVICE_ATTRIBUTE_RESERVED_SHARED_MEMORY_PER_BLOCK:
    case CU_DEVICE_ATTRIBUTE_GPU_DIRECT_RDMA_FLUSH_WRITES_OPTIONS:
    case CU_DEVICE_ATTRIBUTE_GPU_DIRECT_RDMA_WRITES_ORDERING:
    case CU_DEVICE_ATTRIBUTE_NUMA_CONFIG:
    case CU_DEVICE_ATTRIBUTE_NUMA_ID: /* -1: device memory is no NUMA node */
    case CU_DEVICE_ATTRIBUTE_HOST_NUMA_ID:
    case CU_DEVICE_ATTRIBUTE_MEM_DECOMPRESS_ALGORITHM_MASK: /* Blackwell only */
    case CU_DEVICE_ATTRIBUTE_MEM_DECOMPRESS_MAXIMUM_LENGTH:
        return 1;
    default:
        return 0;
    }
}

static int attr(int a, CUdevice d)
{
    int v = INT_MIN;
    CUresult rc = cuDeviceGetAttribute(&v, (CUdevice_attribute)a, d);
    CHECK(rc == CUDA_SUCCESS, "device %d: attribute %d: error %d", d, a, (int)rc);
    return v;
}

static void check_card(CUdevice d, const struct card *c)
{
    char name[256];
    CHECK_OK(cuDeviceGetName(name, sizeof(name), d));
    CHECK(!strcmp(name, c->name), "device %d is named '%s', expected '%s'", d, name, c->name);
    size_t total = 0;
    CHECK_OK(cuDeviceTotalMem(&total, d));
    CHECK(total == c->vram, "device %d: total memory %zu, expected %zu", d, total, c->vram);

    /* Every attribute id answers. */
    for (int a = 1; a < CU_DEVICE_ATTRIBUTE_MAX; a++) {
        int v = INT_MIN;
        CUresult rc = cuDeviceGetAttribute(&v, (CUdevice_attribute)a, d);
        if (deprecated_attr(a))
            continue;
        CHECK(rc == CUDA_SUCCESS, "device %d: attribute %d: error %d", d, a, (int)rc);
        if (rc != CUDA_SUCCESS)
            continue;
        if (boolean_attr(a))
            CHECK(v == 0 || v == 1, "device %d: boolean attribute %d is %d", d, a, v);
        else if (!may_be_zero(a))
            CHECK(v > 0, "device %d: attribute %d is %d, a placeholder", d, a, v);
    }
    int v;
    CHECK_RC(cuDeviceGetAttribute(&v, CU_DEVICE_ATTRIBUTE_MAX, d), CUDA_ERROR_INVALID_VALUE);
    CHECK_RC(cuDeviceGetAttribute(&v, (CUdevice_attribute)0, d), CUDA_ERROR_INVALID_VALUE);
    CHECK_RC(cuDeviceGetAttribute(&v, (CUdevice_attribute)100000, d), CUDA_ERROR_INVALID_VALUE);
    CHECK_RC(cuDeviceGetAttribute(NULL, CU_DEVICE_ATTRIBUTE_WARP_SIZE, d),
             CUDA_ERROR_INVALID_VALUE);

    /* Against the card. */
    CHECK(attr(CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, d) == c->sm, "SM count");
    CHECK(attr(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, d) == c->ccmaj, "CC major");
    CHECK(attr(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, d) == c->ccmin, "CC minor");
    CHECK(attr(CU_DEVICE_ATTRIBUTE_CLOCK_RATE, d) == c->clock, "clock");
    CHECK(attr(CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE, d) == c->memclock, "memory clock");
    CHECK(attr(CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH, d) == c->bus, "bus width");
    CHECK(attr(CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE, d) == c->l2, "L2");
    CHECK(attr(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_MULTIPROCESSOR, d) == c->shm_sm,
          "shared per SM");
    CHECK(attr(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN, d) == c->shm_optin,
          "opt-in shared per block");
    CHECK(attr(CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_MULTIPROCESSOR, d) == c->regs_sm, "regs/SM");
    CHECK(attr(CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_MULTIPROCESSOR, d) == c->thr_sm, "threads/SM");
    CHECK(attr(CU_DEVICE_ATTRIBUTE_MAX_BLOCKS_PER_MULTIPROCESSOR, d) == c->blk_sm, "blocks/SM");
    CHECK(attr(CU_DEVICE_ATTRIBUTE_GPU_PCI_DEVICE_ID, d) == ((c->pci_id << 16) | 0x10de),
          "PCI device/vendor id");
    /* Fixed on every GPU of compute capability 7.0 and later. */
    CHECK(attr(CU_DEVICE_ATTRIBUTE_WARP_SIZE, d) == 32, "warp size");
    CHECK(attr(CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK, d) == 1024, "threads per block");
    CHECK(attr(CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X, d) == 1024, "block x");
    CHECK(attr(CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z, d) == 64, "block z");
    CHECK(attr(CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X, d) == INT_MAX, "grid x");
    CHECK(attr(CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y, d) == 65535, "grid y");
    CHECK(attr(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK, d) == 49152, "shared/block");
    CHECK(attr(CU_DEVICE_ATTRIBUTE_TOTAL_CONSTANT_MEMORY, d) == 65536, "constant memory");
    CHECK(attr(CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_BLOCK, d) == 65536, "regs/block");
    CHECK(attr(CU_DEVICE_ATTRIBUTE_UNIFIED_ADDRESSING, d) == 1, "UVA");
    CHECK(attr(CU_DEVICE_ATTRIBUTE_MANAGED_MEMORY, d) == 1, "managed memory");
    CHECK(attr(CU_DEVICE_ATTRIBUTE_CONCURRENT_MANAGED_ACCESS, d) == 1, "concurrent managed");
    CHECK(attr(CU_DEVICE_ATTRIBUTE_COMPUTE_MODE, d) == CU_COMPUTEMODE_DEFAULT, "compute mode");
    CHECK(attr(CU_DEVICE_ATTRIBUTE_INTEGRATED, d) == 0, "discrete");
    CHECK(attr(CU_DEVICE_ATTRIBUTE_ASYNC_ENGINE_COUNT, d) >= 2, "copy engines");
    CHECK(attr(CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE1D_WIDTH, d) == 131072, "tex1D");
    CHECK(attr(CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE3D_DEPTH, d) == 16384, "tex3D");
    CHECK(attr(CU_DEVICE_ATTRIBUTE_CLUSTER_LAUNCH, d) == (c->ccmaj >= 9), "clusters");

    /* The legacy (deprecated) views agree. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    int maj = 0, min = 0;
    CHECK_OK(cuDeviceComputeCapability(&maj, &min, d));
    CHECK(maj == c->ccmaj && min == c->ccmin, "cuDeviceComputeCapability %d.%d", maj, min);
    CUdevprop prop;
    CHECK_OK(cuDeviceGetProperties(&prop, d));
    CHECK(prop.maxThreadsPerBlock == 1024 && prop.SIMDWidth == 32 && prop.clockRate == c->clock &&
              prop.maxGridSize[0] == INT_MAX && prop.sharedMemPerBlock == 49152,
          "cuDeviceGetProperties disagrees with the attributes");
#pragma GCC diagnostic pop
}

/* One line per device: uuid hex and bus id. */
static void describe(char *out, size_t len)
{
    int n = 0;
    size_t used = 0;
    REQUIRE_OK(cuDeviceGetCount(&n));
    for (int d = 0; d < n; d++) {
        CUuuid u;
        char bus[32];
        REQUIRE_OK(cuDeviceGetUuid(&u, d));
        REQUIRE_OK(cuDeviceGetPCIBusId(bus, sizeof(bus), d));
        for (int i = 0; i < 16; i++)
            used += (size_t)snprintf(out + used, len - used, "%02x", (unsigned char)u.bytes[i]);
        used += (size_t)snprintf(out + used, len - used, " %s\n", bus);
    }
}

int main(void)
{
    REQUIRE_OK(cuInit(0));
    int n = 0;
    CHECK_OK(cuDeviceGetCount(&n));
    REQUIRE(n == 4, "device count %d, expected 4", n);
    CUdevice dev;
    CHECK_OK(cuDeviceGet(&dev, 3));
    CHECK(dev == 3, "cuDeviceGet(3) gave %d", dev);
    CHECK_RC(cuDeviceGet(&dev, 4), CUDA_ERROR_INVALID_DEVICE);
    CHECK_RC(cuDeviceGet(&dev, -1), CUDA_ERROR_INVALID_DEVICE);
    CHECK_RC(cuDeviceGetCount(NULL), CUDA_ERROR_INVALID_VALUE);
    char name[8];
    CHECK_RC(cuDeviceGetName(name, sizeof(name), 4), CUDA_ERROR_INVALID_DEVICE);
    CHECK_OK(cuDeviceGetName(name, sizeof(name), 0)); /* truncated, terminated */
    CHECK(!strcmp(name, "NVIDIA "), "truncated name '%s'", name);
    int v;
    CHECK_RC(cuDeviceGetAttribute(&v, CU_DEVICE_ATTRIBUTE_WARP_SIZE, 4), CUDA_ERROR_INVALID_DEVICE);

    check_card(0, &h100);
    check_card(1, &h100);
    check_card(2, &a100);
    check_card(3, &t4);

    /* UUIDs and PCI ids: distinct per device, well-formed, and round-trip. */
    CUuuid u[4];
    int dom[4], bus[4], pdev[4];
    for (int d = 0; d < 4; d++) {
        CHECK_OK(cuDeviceGetUuid(&u[d], d));
        CUuuid u2;
        CHECK_OK(cuDeviceGetUuid_v2(&u2, d));
        CHECK(!memcmp(&u[d], &u2, sizeof(u2)), "v1 and v2 UUIDs differ");
        dom[d] = attr(CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID, d);
        bus[d] = attr(CU_DEVICE_ATTRIBUTE_PCI_BUS_ID, d);
        pdev[d] = attr(CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID, d);
        char id[32], want[32];
        CHECK_OK(cuDeviceGetPCIBusId(id, sizeof(id), d));
        snprintf(want, sizeof(want), "%04X:%02X:%02X.0", dom[d], bus[d], pdev[d]);
        CHECK(!strcmp(id, want) && strlen(id) == 12, "bus id '%s', attributes say '%s'", id, want);
        CUdevice back = -1;
        CHECK_OK(cuDeviceGetByPCIBusId(&back, id));
        CHECK(back == d, "bus id '%s' -> device %d, expected %d", id, back, d);
        char shortform[32], noformat[32], lower[32];
        snprintf(shortform, sizeof(shortform), "%02x:%02x.0", bus[d], pdev[d]);
        snprintf(noformat, sizeof(noformat), "%04x:%02x:%02x", dom[d], bus[d], pdev[d]);
        snprintf(lower, sizeof(lower), "%04x:%02x:%02x.0", dom[d], bus[d], pdev[d]);
        back = -1;
        CHECK(cuDeviceGetByPCIBusId(&back, shortform) == CUDA_SUCCESS && back == d,
              "bus:device.function form '%s'", shortform);
        back = -1;
        CHECK(cuDeviceGetByPCIBusId(&back, noformat) == CUDA_SUCCESS && back == d,
              "domain:bus:device form '%s'", noformat);
        back = -1;
        CHECK(cuDeviceGetByPCIBusId(&back, lower) == CUDA_SUCCESS && back == d,
              "lower-case form '%s'", lower);
        for (int e = 0; e < d; e++) {
            CHECK(memcmp(&u[d], &u[e], sizeof(CUuuid)) != 0, "devices %d and %d share a UUID", d,
                  e);
            CHECK(dom[d] != dom[e] || bus[d] != bus[e] || pdev[d] != pdev[e],
                  "devices %d and %d share a PCI location", d, e);
        }
    }
    CUdevice back;
    CHECK_RC(cuDeviceGetByPCIBusId(&back, "not a bus id"), CUDA_ERROR_INVALID_VALUE);
    CHECK_RC(cuDeviceGetByPCIBusId(&back, "0000:FE:1F.0"), CUDA_ERROR_INVALID_DEVICE);
    char tiny[5];
    CHECK_OK(cuDeviceGetPCIBusId(tiny, sizeof(tiny), 0));
    CHECK(strlen(tiny) == 4, "bus id not truncated to the buffer");

    /* Stable across processes: a fresh process on the same instance sees the same ids. */
    char mine[1024], theirs[1024] = "";
    describe(mine, sizeof(mine));
    int fds[2];
    REQUIRE(pipe(fds) == 0, "pipe");
    pid_t pid = fork();
    REQUIRE(pid >= 0, "fork");
    if (pid == 0) {
        close(fds[0]);
        char buf[1024] = "";
        if (cuInit(0) != CUDA_SUCCESS)
            _exit(1);
        describe(buf, sizeof(buf));
        test_write(fds[1], buf, sizeof(buf));
        _exit(0);
    }
    close(fds[1]);
    CHECK(test_read(fds[0], theirs, sizeof(theirs)) == 0, "child sent nothing");
    close(fds[0]);
    CHECK(test_wait(pid) == 0, "child failed");
    CHECK(!strcmp(mine, theirs), "ids differ between processes:\n%s---\n%s", mine, theirs);

    /* LUIDs are a Windows notion. */
    char luid[8];
    unsigned int mask;
    CHECK_RC(cuDeviceGetLuid(luid, &mask, 0), CUDA_ERROR_NOT_SUPPORTED);
    CHECK_RC(cuDeviceGetLuid(luid, &mask, 9), CUDA_ERROR_INVALID_DEVICE);

    /* Peers: every simulated device reaches every other one, not itself. */
    int can = -1;
    CHECK_OK(cuDeviceCanAccessPeer(&can, 0, 3));
    CHECK(can == 1, "device 0 cannot access device 3");
    CHECK_OK(cuDeviceCanAccessPeer(&can, 1, 1));
    CHECK(can == 0, "a device is its own peer");
    CHECK_RC(cuDeviceCanAccessPeer(&can, 0, 7), CUDA_ERROR_INVALID_DEVICE);
    CHECK_OK(cuDeviceGetP2PAttribute(&v, CU_DEVICE_P2P_ATTRIBUTE_ACCESS_SUPPORTED, 0, 2));
    CHECK(v == 1, "P2P access attribute %d", v);
    CHECK_RC(cuDeviceGetP2PAttribute(&v, CU_DEVICE_P2P_ATTRIBUTE_ACCESS_SUPPORTED, 2, 2),
             CUDA_ERROR_INVALID_DEVICE);
    CHECK_RC(cuDeviceGetP2PAttribute(&v, (CUdevice_P2PAttribute)99, 0, 2),
             CUDA_ERROR_INVALID_VALUE);
    return check_done("test_devices");
}
