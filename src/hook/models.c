/*
 * models.c: what the hook knows of each GPU model, by the name the driver reports
 * (cuDeviceGetName) — the figures of src/sim/model.c: NVIDIA's published dense FP16 tensor
 * TFLOPs (GPOOL_TFLOPS_LIMIT, vram.c) and the device memory a driver takes per context and per
 * loaded module (vram_overhead.c).
 */
#include "vram.h"

#include <string.h>

#define MIB(x) ((uint64_t)(x) << 20)

static const struct hook_model models[] = {
    {"NVIDIA H100 80GB HBM3", 989.4, MIB(512), MIB(2)},
    {"NVIDIA H100 PCIe", 756.0, MIB(512), MIB(2)},
    {"NVIDIA H200", 989.4, MIB(512), MIB(2)},
    {"NVIDIA A100-SXM4-40GB", 312.0, MIB(416), MIB(2)},
    {"NVIDIA A100-SXM4-80GB", 312.0, MIB(416), MIB(2)},
    {"NVIDIA A10", 125.0, MIB(304), MIB(2)},
    {"NVIDIA L4", 121.0, MIB(304), MIB(2)},
    {"NVIDIA L40S", 362.0, MIB(304), MIB(2)},
    {"NVIDIA GeForce RTX 4090", 165.2, MIB(304), MIB(2)},
    {"Tesla T4", 65.0, MIB(256), MIB(2)},
    {"Tesla V100-SXM2-16GB", 125.0, MIB(304), MIB(2)},
};

const struct hook_model *hook_model_find(const char *name)
{
    for (size_t i = 0; i < sizeof(models) / sizeof(models[0]); i++)
        if (strcmp(models[i].name, name) == 0)
            return &models[i];
    return NULL;
}

void hook_model_largest_overhead(uint64_t *ctx_bytes, uint64_t *module_bytes)
{
    *ctx_bytes = *module_bytes = 0;
    for (size_t i = 0; i < sizeof(models) / sizeof(models[0]); i++) {
        if (models[i].ctx_bytes > *ctx_bytes)
            *ctx_bytes = models[i].ctx_bytes;
        if (models[i].module_bytes > *module_bytes)
            *module_bytes = models[i].module_bytes;
    }
}
