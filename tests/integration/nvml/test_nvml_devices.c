/*
 * NVML's view of a two-device instance (GPOOL_SIM_GPUS=H100-80GB,T4) agrees with the CUDA sim's:
 * count, names, UUIDs, PCI locations, compute capability and whole-device memory. Also the
 * handle lookups, string-size errors and versioned structs.
 */
#include "nvml_test_util.h"

#include <dlfcn.h>

static void check_identity(int ordinal, nvmlDevice_t dev)
{
    CUdevice cu;
    REQUIRE_OK(cuDeviceGet(&cu, ordinal));

    unsigned int idx = 99;
    CHECK_OK(nvmlDeviceGetIndex(dev, &idx));
    CHECK(idx == (unsigned int)ordinal, "index %u of device %d", idx, ordinal);

    char name[NVML_DEVICE_NAME_V2_BUFFER_SIZE], cu_name[256];
    CHECK_OK(nvmlDeviceGetName(dev, name, sizeof name));
    CHECK_OK(cuDeviceGetName(cu_name, sizeof cu_name, cu));
    CHECK(strcmp(name, cu_name) == 0, "device %d: NVML name \"%s\", CUDA name \"%s\"", ordinal,
          name, cu_name);
    CHECK_RC(nvmlDeviceGetName(dev, name, (unsigned int)strlen(cu_name)),
             NVML_ERROR_INSUFFICIENT_SIZE);
    CHECK_RC(nvmlDeviceGetName(dev, NULL, 64), NVML_ERROR_INVALID_ARGUMENT);

    CUuuid cu_uuid;
    char want[NVML_DEVICE_UUID_BUFFER_SIZE], uuid[NVML_DEVICE_UUID_BUFFER_SIZE];
    REQUIRE_OK(cuDeviceGetUuid(&cu_uuid, cu));
    util_format_uuid(&cu_uuid, want, sizeof want);
    CHECK_OK(nvmlDeviceGetUUID(dev, uuid, sizeof uuid));
    CHECK(strcmp(uuid, want) == 0, "device %d: NVML UUID %s, CUDA UUID %s", ordinal, uuid, want);
    CHECK(strlen(uuid) == 40, "UUID length %zu", strlen(uuid));
    CHECK_RC(nvmlDeviceGetUUID(dev, uuid, 40), NVML_ERROR_INSUFFICIENT_SIZE);
    nvmlDevice_t by_uuid = NULL;
    CHECK_OK(nvmlDeviceGetHandleByUUID(want, &by_uuid));
    CHECK(by_uuid == dev, "lookup by UUID %s", want);

    /* PCI: the same location CUDA reports, in both NVML bus id forms. */
    char cu_bus[64];
    unsigned int dom, bus, devno;
    REQUIRE_OK(cuDeviceGetPCIBusId(cu_bus, sizeof cu_bus, cu));
    int fields = sscanf(cu_bus, "%x:%x:%x", &dom, &bus, &devno);
    REQUIRE(fields == 3, "CUDA bus id \"%s\"", cu_bus);
    nvmlPciInfo_t pci;
    memset(&pci, 0xa5, sizeof pci);
    CHECK_OK(nvmlDeviceGetPciInfo(dev, &pci));
    CHECK(pci.domain == dom && pci.bus == bus && pci.device == devno,
          "device %d: NVML %x:%x:%x, CUDA %s", ordinal, pci.domain, pci.bus, pci.device, cu_bus);
    char expect[64];
    snprintf(expect, sizeof expect, "%08X:%02X:%02X.0", dom, bus, devno);
    CHECK(strcmp(pci.busId, expect) == 0, "busId \"%s\", expected \"%s\"", pci.busId, expect);
    snprintf(expect, sizeof expect, "%04X:%02X:%02X.0", dom, bus, devno);
    CHECK(strcmp(pci.busIdLegacy, expect) == 0, "busIdLegacy \"%s\"", pci.busIdLegacy);
    CHECK((pci.pciDeviceId & 0xffffu) == 0x10de, "vendor of pciDeviceId 0x%08x", pci.pciDeviceId);
    int cu_pci_dev = -1;
    CHECK_OK(cuDeviceGetAttribute(&cu_pci_dev, CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID, cu));
    CHECK((int)(pci.pciDeviceId >> 16) != 0, "PCI device id 0 (CUDA slot %d)", cu_pci_dev);

    nvmlDevice_t by_bus = NULL;
    CHECK_OK(nvmlDeviceGetHandleByPciBusId(pci.busId, &by_bus));
    CHECK(by_bus == dev, "lookup by bus id %s", pci.busId);
    by_bus = NULL;
    CHECK_OK(nvmlDeviceGetHandleByPciBusId_v2(cu_bus, &by_bus)); /* CUDA's lowercase form */
    CHECK(by_bus == dev, "lookup by CUDA bus id %s", cu_bus);

    nvmlPciInfoExt_t ext;
    memset(&ext, 0, sizeof ext);
    ext.version = nvmlPciInfoExt_v1;
    CHECK_OK(nvmlDeviceGetPciInfoExt(dev, &ext));
    CHECK(ext.bus == bus && ext.baseClass == 0x03 && strcmp(ext.busId, pci.busId) == 0,
          "PciInfoExt bus %x class %x busId %s", ext.bus, ext.baseClass, ext.busId);
    ext.version = 1;
    CHECK_RC(nvmlDeviceGetPciInfoExt(dev, &ext), NVML_ERROR_ARGUMENT_VERSION_MISMATCH);

    int major = 0, minor = 0, cu_major = -1, cu_minor = -1;
    CHECK_OK(nvmlDeviceGetCudaComputeCapability(dev, &major, &minor));
    CHECK_OK(cuDeviceGetAttribute(&cu_major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, cu));
    CHECK_OK(cuDeviceGetAttribute(&cu_minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, cu));
    CHECK(major == cu_major && minor == cu_minor, "cc %d.%d vs CUDA %d.%d", major, minor, cu_major,
          cu_minor);

    nvmlComputeMode_t mode;
    nvmlEnableState_t persistence;
    CHECK_OK(nvmlDeviceGetComputeMode(dev, &mode));
    CHECK(mode == NVML_COMPUTEMODE_DEFAULT, "compute mode %d", (int)mode);
    CHECK_OK(nvmlDeviceGetPersistenceMode(dev, &persistence));
    CHECK(persistence == NVML_FEATURE_ENABLED, "persistence %d", (int)persistence);
}

/* NVML's whole-device memory equals cuMemGetInfo's view with device ordinal's context current. */
static void check_memory(int ordinal, nvmlDevice_t dev)
{
    CUdevice cu;
    size_t cu_total = 0, cu_free = 0, cu_dev_total = 0;
    REQUIRE_OK(cuDeviceGet(&cu, ordinal));
    (void)util_primary_ctx(ordinal);
    CHECK_OK(cuMemGetInfo(&cu_free, &cu_total));
    CHECK_OK(cuDeviceTotalMem(&cu_dev_total, cu));

    nvmlMemory_t m;
    CHECK_OK(nvmlDeviceGetMemoryInfo(dev, &m));
    CHECK(m.total == cu_total && m.total == cu_dev_total, "device %d: total %llu, CUDA %zu/%zu",
          ordinal, m.total, cu_total, cu_dev_total);
    CHECK(m.free == cu_free, "device %d: free %llu, cuMemGetInfo free %zu", ordinal, m.free,
          cu_free);
    CHECK(m.used + m.free == m.total, "used %llu + free %llu != total %llu", m.used, m.free,
          m.total);
    CHECK(m.used > 0, "a context is open on device %d but used is 0", ordinal);

    nvmlMemory_v2_t m2;
    memset(&m2, 0, sizeof m2);
    m2.version = nvmlMemory_v2;
    CHECK_OK(nvmlDeviceGetMemoryInfo_v2(dev, &m2));
    CHECK(m2.total == m.total && m2.used == m.used && m2.free == m.free && m2.reserved <= m2.used,
          "v2 %llu/%llu/%llu/%llu vs v1 %llu/%llu/%llu", m2.total, m2.reserved, m2.used, m2.free,
          m.total, m.used, m.free);
    m2.version = 2; /* a bare number is not the version word */
    CHECK_RC(nvmlDeviceGetMemoryInfo_v2(dev, &m2), NVML_ERROR_ARGUMENT_VERSION_MISMATCH);
    CHECK(nvmlMemory_v2 == (unsigned int)(sizeof(nvmlMemory_v2_t) | 2u << 24), "nvmlMemory_v2");

    /* An allocation shows up in NVML's used at once, on this device only. */
    const size_t bytes = 48u << 20;
    CUdeviceptr p;
    REQUIRE_OK(cuMemAlloc(&p, bytes));
    nvmlMemory_t after;
    CHECK_OK(nvmlDeviceGetMemoryInfo(dev, &after));
    CHECK(after.used >= m.used + bytes, "used %llu after allocating %zu (was %llu)", after.used,
          bytes, m.used);
    CHECK_OK(cuMemGetInfo(&cu_free, &cu_total));
    CHECK(after.free == cu_free, "free %llu vs CUDA %zu after cuMemAlloc", after.free, cu_free);
    CHECK_OK(cuMemFree(p));
    CHECK_OK(nvmlDeviceGetMemoryInfo(dev, &after));
    CHECK(after.used == m.used, "used %llu after free, was %llu", after.used, m.used);
}

int main(void)
{
    REQUIRE_OK(cuInit(0));
    REQUIRE_OK(nvmlInit_v2());

    unsigned int count = 0;
    int cu_count = 0;
    CHECK_OK(nvmlDeviceGetCount_v2(&count));
    CHECK_OK(cuDeviceGetCount(&cu_count));
    REQUIRE(count == 2 && cu_count == 2, "device counts: NVML %u, CUDA %d", count, cu_count);

    nvmlDevice_t devs[2];
    for (unsigned int i = 0; i < count; i++)
        REQUIRE_OK(nvmlDeviceGetHandleByIndex_v2(i, &devs[i]));
    CHECK(devs[0] != devs[1], "distinct handles");
    nvmlDevice_t bad = NULL;
    CHECK_RC(nvmlDeviceGetHandleByIndex_v2(2, &bad), NVML_ERROR_INVALID_ARGUMENT);
    CHECK_RC(nvmlDeviceGetHandleByUUID("GPU-00000000-0000-0000-0000-000000000000", &bad),
             NVML_ERROR_NOT_FOUND);
    CHECK_RC(nvmlDeviceGetHandleByPciBusId_v2("00000000:FF:1F.0", &bad), NVML_ERROR_NOT_FOUND);
    CHECK_RC(nvmlDeviceGetHandleByPciBusId_v2("not a bus id", &bad), NVML_ERROR_NOT_FOUND);
    unsigned int idx;
    int junk[8] = {0};
    CHECK_RC(nvmlDeviceGetIndex((nvmlDevice_t)junk, &idx), NVML_ERROR_INVALID_ARGUMENT);
    CHECK_RC(nvmlDeviceGetIndex(NULL, &idx), NVML_ERROR_INVALID_ARGUMENT);

    char ver[NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE];
    CHECK_OK(nvmlSystemGetDriverVersion(ver, sizeof ver));
    CHECK(strchr(ver, '.') != NULL, "driver version \"%s\"", ver);
    CHECK_RC(nvmlSystemGetDriverVersion(ver, 3), NVML_ERROR_INSUFFICIENT_SIZE);

    for (int i = 0; i < 2; i++) {
        check_identity(i, devs[i]);
        check_memory(i, devs[i]);
    }
    char n0[96], n1[96];
    CHECK_OK(nvmlDeviceGetName(devs[0], n0, sizeof n0));
    CHECK_OK(nvmlDeviceGetName(devs[1], n1, sizeof n1));
    CHECK(strcmp(n0, "NVIDIA H100 80GB HBM3") == 0 && strcmp(n1, "Tesla T4") == 0,
          "names \"%s\", \"%s\"", n0, n1);

    nvmlBrandType_t b0, b1;
    CHECK_OK(nvmlDeviceGetBrand(devs[0], &b0));
    CHECK_OK(nvmlDeviceGetBrand(devs[1], &b1));
    CHECK(b0 == NVML_BRAND_NVIDIA && b1 == NVML_BRAND_TESLA, "brands %d, %d", (int)b0, (int)b1);

    /* The legacy (unversioned) exports, as a program built against an old nvml.h binds them. */
    typedef nvmlReturn_t (*legacy_count_fn)(unsigned int *);
    legacy_count_fn legacy_count = (legacy_count_fn)dlsym(RTLD_DEFAULT, "nvmlDeviceGetCount");
    CHECK(legacy_count != NULL, "nvmlDeviceGetCount is exported");
    if (legacy_count) {
        count = 0;
        CHECK_OK(legacy_count(&count));
        CHECK(count == 2, "legacy count %u", count);
    }

    CHECK_OK(nvmlShutdown());
    return check_done("nvml-devices");
}
