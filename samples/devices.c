/*
 * Sample: what a CUDA program sees of the machine's GPUs through the driver API and NVML.
 * Runs unchanged on a real driver or on gpool's simulated GPUs.
 */
#include <cuda.h>
#include <nvml.h>

#include <stdio.h>
#include <stdlib.h>

#define CU(call)                                                                                   \
    do {                                                                                           \
        CUresult rc_ = (call);                                                                     \
        if (rc_ != CUDA_SUCCESS) {                                                                 \
            const char *name_ = "?";                                                               \
            cuGetErrorName(rc_, &name_);                                                           \
            fprintf(stderr, "devices: %s failed: %s\n", #call, name_);                             \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

static int attr(CUdevice dev, CUdevice_attribute a)
{
    int v = 0;
    CU(cuDeviceGetAttribute(&v, a, dev));
    return v;
}

int main(void)
{
    int version = 0, count = 0;

    CU(cuInit(0));
    CU(cuDriverGetVersion(&version));
    CU(cuDeviceGetCount(&count));
    printf("CUDA driver %d.%d, %d device(s)\n", version / 1000, (version % 1000) / 10, count);

    for (int i = 0; i < count; i++) {
        CUdevice dev;
        char name[128], bus[32];
        size_t total;
        CUuuid uuid;

        CU(cuDeviceGet(&dev, i));
        CU(cuDeviceGetName(name, sizeof(name), dev));
        CU(cuDeviceTotalMem(&total, dev));
        CU(cuDeviceGetPCIBusId(bus, sizeof(bus), dev));
        CU(cuDeviceGetUuid(&uuid, dev));
        printf("  [%d] %s  %.1f GiB  sm_%d%d  %d SMs  %d MHz  bus %s  uuid %02x%02x%02x%02x…\n", i,
               name, (double)total / (1 << 30),
               attr(dev, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR),
               attr(dev, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR),
               attr(dev, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT),
               attr(dev, CU_DEVICE_ATTRIBUTE_CLOCK_RATE) / 1000, bus, (unsigned char)uuid.bytes[0],
               (unsigned char)uuid.bytes[1], (unsigned char)uuid.bytes[2],
               (unsigned char)uuid.bytes[3]);
    }

    if (nvmlInit_v2() != NVML_SUCCESS) {
        fprintf(stderr, "devices: NVML unavailable\n");
        return 1;
    }
    unsigned int ncount = 0;
    nvmlDeviceGetCount_v2(&ncount);
    printf("NVML sees %u device(s)\n", ncount);
    for (unsigned int i = 0; i < ncount; i++) {
        nvmlDevice_t h;
        nvmlMemory_t mem;
        char name[96], uuid[96];
        unsigned int temp = 0, power = 0;
        if (nvmlDeviceGetHandleByIndex_v2(i, &h) != NVML_SUCCESS)
            continue;
        nvmlDeviceGetName(h, name, sizeof(name));
        nvmlDeviceGetUUID(h, uuid, sizeof(uuid));
        nvmlDeviceGetMemoryInfo(h, &mem);
        nvmlDeviceGetTemperature(h, NVML_TEMPERATURE_GPU, &temp);
        nvmlDeviceGetPowerUsage(h, &power);
        printf("  [%u] %s  %s  memory used %llu MiB of %llu MiB  %u C  %.1f W\n", i, name, uuid,
               (unsigned long long)(mem.used >> 20), (unsigned long long)(mem.total >> 20), temp,
               power / 1000.0);
    }
    nvmlShutdown();
    return 0;
}
