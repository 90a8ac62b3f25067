/*
 * The built-in GPU model table: what each simulated device reports. Figures are the public
 * specifications of the real cards and what their drivers report (total memory as
 * cuDeviceTotalMem/nvidia-smi show it, SM counts, boost clocks, ...). The per-context and
 * per-module overheads approximate the device memory a real driver takes for a context (its
 * local memory, printf and heap buffers, code and constant banks) and for a loaded module.
 */
#include "sim.h"

#include <stddef.h>
#include <strings.h>

#define MIB(x) ((uint64_t)(x) * 1024ull * 1024ull)
#define KIB(x) ((x) * 1024)

static const struct sim_model models[] = {
    {
        .name = "NVIDIA H100 80GB HBM3", .alias = "H100-80GB",
        .vram_bytes = MIB(81559), .sm_count = 132, .cc_major = 9, .cc_minor = 0,
        .clock_khz = 1980000, .mem_clock_khz = 2619000, .mem_bus_width_bits = 5120,
        .l2_bytes = KIB(51200), .shared_per_sm_bytes = KIB(228),
        .shared_per_block_optin_bytes = KIB(227), .regs_per_sm = 65536,
        .max_threads_per_sm = 2048, .max_blocks_per_sm = 32, .fp16_tflops = 989.4,
        .tdp_watts = 700, .ctx_overhead_bytes = MIB(512), .module_overhead_bytes = MIB(2),
        .pci_device_id = 0x2330,
    },
    {
        .name = "NVIDIA H100 PCIe", .alias = "H100-PCIE",
        .vram_bytes = MIB(81559), .sm_count = 114, .cc_major = 9, .cc_minor = 0,
        .clock_khz = 1755000, .mem_clock_khz = 1593000, .mem_bus_width_bits = 5120,
        .l2_bytes = KIB(51200), .shared_per_sm_bytes = KIB(228),
        .shared_per_block_optin_bytes = KIB(227), .regs_per_sm = 65536,
        .max_threads_per_sm = 2048, .max_blocks_per_sm = 32, .fp16_tflops = 756.0,
        .tdp_watts = 350, .ctx_overhead_bytes = MIB(512), .module_overhead_bytes = MIB(2),
        .pci_device_id = 0x2331,
    },
    {
        .name = "NVIDIA H200", .alias = "H200",
        .vram_bytes = MIB(143771), .sm_count = 132, .cc_major = 9, .cc_minor = 0,
        .clock_khz = 1980000, .mem_clock_khz = 3201000, .mem_bus_width_bits = 6144,
        .l2_bytes = KIB(51200), .shared_per_sm_bytes = KIB(228),
        .shared_per_block_optin_bytes = KIB(227), .regs_per_sm = 65536,
        .max_threads_per_sm = 2048, .max_blocks_per_sm = 32, .fp16_tflops = 989.4,
        .tdp_watts = 700, .ctx_overhead_bytes = MIB(512), .module_overhead_bytes = MIB(2),
        .pci_device_id = 0x2335,
    },
    {
        .name = "NVIDIA A100-SXM4-40GB", .alias = "A100-40GB",
        .vram_bytes = MIB(40536), .sm_count = 108, .cc_major = 8, .cc_minor = 0,
        .clock_khz = 1410000, .mem_clock_khz = 1215000, .mem_bus_width_bits = 5120,
        .l2_bytes = KIB(40960), .shared_per_sm_bytes = KIB(164),
        .shared_per_block_optin_bytes = KIB(163), .regs_per_sm = 65536,
        .max_threads_per_sm = 2048, .max_blocks_per_sm = 32, .fp16_tflops = 312.0,
        .tdp_watts = 400, .ctx_overhead_bytes = MIB(416), .module_overhead_bytes = MIB(2),
        .pci_device_id = 0x20b0,
    },
    {
        .name = "NVIDIA A100-SXM4-80GB", .alias = "A100-80GB",
        .vram_bytes = MIB(81920), .sm_count = 108, .cc_major = 8, .cc_minor = 0,
        .clock_khz = 1410000, .mem_clock_khz = 1593000, .mem_bus_width_bits = 5120,
        .l2_bytes = KIB(40960), .shared_per_sm_bytes = KIB(164),
        .shared_per_block_optin_bytes = KIB(163), .regs_per_sm = 65536,
        .max_threads_per_sm = 2048, .max_blocks_per_sm = 32, .fp16_tflops = 312.0,
        .tdp_watts = 400, .ctx_overhead_bytes = MIB(416), .module_overhead_bytes = MIB(2),
        .pci_device_id = 0x20b2,
    },
    {
        .name = "NVIDIA A10", .alias = "A10",
        .vram_bytes = MIB(23028), .sm_count = 72, .cc_major = 8, .cc_minor = 6,
        .clock_khz = 1695000, .mem_clock_khz = 6251000, .mem_bus_width_bits = 384,
        .l2_bytes = KIB(6144), .shared_per_sm_bytes = KIB(100),
        .shared_per_block_optin_bytes = KIB(99), .regs_per_sm = 65536,
        .max_threads_per_sm = 1536, .max_blocks_per_sm = 16, .fp16_tflops = 125.0,
        .tdp_watts = 150, .ctx_overhead_bytes = MIB(304), .module_overhead_bytes = MIB(2),
        .pci_device_id = 0x2236,
    },
    {
        .name = "NVIDIA L4", .alias = "L4",
        .vram_bytes = MIB(23034), .sm_count = 58, .cc_major = 8, .cc_minor = 9,
        .clock_khz = 2040000, .mem_clock_khz = 6251000, .mem_bus_width_bits = 192,
        .l2_bytes = KIB(49152), .shared_per_sm_bytes = KIB(100),
        .shared_per_block_optin_bytes = KIB(99), .regs_per_sm = 65536,
        .max_threads_per_sm = 1536, .max_blocks_per_sm = 24, .fp16_tflops = 121.0,
        .tdp_watts = 72, .ctx_overhead_bytes = MIB(304), .module_overhead_bytes = MIB(2),
        .pci_device_id = 0x27b8,
    },
    {
        .name = "NVIDIA L40S", .alias = "L40S",
        .vram_bytes = MIB(46068), .sm_count = 142, .cc_major = 8, .cc_minor = 9,
        .clock_khz = 2520000, .mem_clock_khz = 9001000, .mem_bus_width_bits = 384,
        .l2_bytes = KIB(98304), .shared_per_sm_bytes = KIB(100),
        .shared_per_block_optin_bytes = KIB(99), .regs_per_sm = 65536,
        .max_threads_per_sm = 1536, .max_blocks_per_sm = 24, .fp16_tflops = 362.0,
        .tdp_watts = 350, .ctx_overhead_bytes = MIB(304), .module_overhead_bytes = MIB(2),
        .pci_device_id = 0x26b9,
    },
    {
        .name = "NVIDIA GeForce RTX 4090", .alias = "RTX4090",
        .vram_bytes = MIB(24564), .sm_count = 128, .cc_major = 8, .cc_minor = 9,
        .clock_khz = 2520000, .mem_clock_khz = 10501000, .mem_bus_width_bits = 384,
        .l2_bytes = KIB(73728), .shared_per_sm_bytes = KIB(100),
        .shared_per_block_optin_bytes = KIB(99), .regs_per_sm = 65536,
        .max_threads_per_sm = 1536, .max_blocks_per_sm = 24, .fp16_tflops = 165.2,
        .tdp_watts = 450, .ctx_overhead_bytes = MIB(304), .module_overhead_bytes = MIB(2),
        .pci_device_id = 0x2684,
    },
    {
        .name = "Tesla T4", .alias = "T4",
        .vram_bytes = MIB(15360), .sm_count = 40, .cc_major = 7, .cc_minor = 5,
        .clock_khz = 1590000, .mem_clock_khz = 5001000, .mem_bus_width_bits = 256,
        .l2_bytes = KIB(4096), .shared_per_sm_bytes = KIB(64),
        .shared_per_block_optin_bytes = KIB(64), .regs_per_sm = 65536,
        .max_threads_per_sm = 1024, .max_blocks_per_sm = 16, .fp16_tflops = 65.0,
        .tdp_watts = 70, .ctx_overhead_bytes = MIB(256), .module_overhead_bytes = MIB(2),
        .pci_device_id = 0x1eb8,
    },
    {
        .name = "Tesla V100-SXM2-16GB", .alias = "V100-16GB",
        .vram_bytes = MIB(16160), .sm_count = 80, .cc_major = 7, .cc_minor = 0,
        .clock_khz = 1530000, .mem_clock_khz = 877000, .mem_bus_width_bits = 4096,
        .l2_bytes = KIB(6144), .shared_per_sm_bytes = KIB(96),
        .shared_per_block_optin_bytes = KIB(96), .regs_per_sm = 65536,
        .max_threads_per_sm = 2048, .max_blocks_per_sm = 32, .fp16_tflops = 125.0,
        .tdp_watts = 300, .ctx_overhead_bytes = MIB(304), .module_overhead_bytes = MIB(2),
        .pci_device_id = 0x1db1,
    },
};

#define MODEL_COUNT ((int)(sizeof(models) / sizeof(models[0])))

/* Looks a model up by alias or full name, ignoring case. The result points into the static
 * table (never freed). NULL for NULL or an unknown name. */
const struct sim_model *sim_model_find(const char *name)
{
    if (!name)
        return NULL;
    for (int i = 0; i < MODEL_COUNT; i++) {
        if (!strcasecmp(name, models[i].alias) || !strcasecmp(name, models[i].name))
            return &models[i];
    }
    return NULL;
}

/* Returns the i-th model of the static table, or NULL when i is out of range. */
const struct sim_model *sim_model_at(int i)
{
    if (i < 0 || i >= MODEL_COUNT)
        return NULL;
    return &models[i];
}
