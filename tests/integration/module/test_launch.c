/*
 * Launch validation and occupancy, none of which runs a kernel: grid, block and shared-memory
 * limits, both parameter forms' checks, cuLaunchKernelEx attributes, cooperative grids that do not
 * fit, legacy launch state, and the occupancy calculator against a hand computation from the H100
 * model (2048 threads, 32 blocks, 64K registers and 228 KiB shared memory per SM, 132 SMs, 1 KiB
 * reserved shared memory per block).
 */
#include "module_test.h"

#include <stdint.h>

/* The legacy launch calls are deprecated in cuda.h; they are tested all the same. */
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

#define SMS          132
#define THREADS_SM   2048
#define BLOCKS_SM    32
#define REGS_SM      65536
#define SHARED_SM    (228 * 1024)
#define RESERVED     1024
#define SHARED_UNIT  128

static int g_regs, g_static_shared;

/* The occupancy calculator by hand (docs/internals/sim.md). */
static int expected_blocks(int block, size_t dyn)
{
    int warps = (block + 31) / 32;
    int best = THREADS_SM / 32 / warps;
    if (best > BLOCKS_SM)
        best = BLOCKS_SM;
    if (g_regs) {
        int per_warp = (g_regs * 32 + 255) / 256 * 256;
        int by_regs = REGS_SM / per_warp / warps;
        if (by_regs < best)
            best = by_regs;
    }
    size_t smem = (g_static_shared + dyn + RESERVED + SHARED_UNIT - 1) / SHARED_UNIT * SHARED_UNIT;
    if ((int)(SHARED_SM / smem) < best)
        best = (int)(SHARED_SM / smem);
    return best;
}

static size_t dyn_per_block(int block)
{
    return (size_t)block * 16;
}

static void test_occupancy(CUfunction f)
{
    CHECK_OK(cuFuncGetAttribute(&g_regs, CU_FUNC_ATTRIBUTE_NUM_REGS, f));
    CHECK_OK(cuFuncGetAttribute(&g_static_shared, CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES, f));
    int max_threads = 0;
    CHECK_OK(cuFuncGetAttribute(&max_threads, CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK, f));
    int n = -1;
    int blocks[] = {32, 64, 96, 128, 256, 512, 1024};
    size_t dyns[] = {0, 4096, 48 * 1024};
    for (size_t i = 0; i < sizeof(blocks) / sizeof(blocks[0]); i++) {
        for (size_t j = 0; j < 3; j++) {
            if (blocks[i] > max_threads)
                continue;
            CHECK_OK(cuOccupancyMaxActiveBlocksPerMultiprocessor(&n, f, blocks[i], dyns[j]));
            CHECK(n == expected_blocks(blocks[i], dyns[j]), "block %d dyn %zu: %d blocks, want %d",
                  blocks[i], dyns[j], n, expected_blocks(blocks[i], dyns[j]));
        }
    }
    if (g_regs <= 32 && g_static_shared == 0) {
        /* Concrete values for a light kernel. */
        CHECK_OK(cuOccupancyMaxActiveBlocksPerMultiprocessor(&n, f, 1024, 0));
        CHECK(n == 2, "1024 threads: %d blocks", n);
        CHECK_OK(cuOccupancyMaxActiveBlocksPerMultiprocessor(&n, f, 32, 0));
        CHECK(n == 32, "32 threads: %d blocks (block limit)", n);
        CHECK_OK(cuOccupancyMaxActiveBlocksPerMultiprocessor(&n, f, 128, 48 * 1024));
        CHECK(n == 4, "48 KiB each: %d blocks (228 KiB / 49 KiB)", n);
    }
    CHECK_OK(cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags(
        &n, f, 128, 0, CU_OCCUPANCY_DISABLE_CACHING_OVERRIDE));
    CHECK_RC(cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags(&n, f, 128, 0, 8),
             CUDA_ERROR_INVALID_VALUE);
    CHECK_RC(cuOccupancyMaxActiveBlocksPerMultiprocessor(&n, f, 0, 0), CUDA_ERROR_INVALID_VALUE);
    CHECK_OK(cuOccupancyMaxActiveBlocksPerMultiprocessor(&n, f, 128, 48 * 1024 + 1));
    CHECK(n == 0, "more dynamic shared memory than the kernel allows: %d", n);

    /* Potential block size: the largest block with the most resident threads. */
    int grid = 0, block = 0;
    CHECK_OK(cuOccupancyMaxPotentialBlockSize(&grid, &block, f, NULL, 0, 0));
    int want_block = 0, want_threads = 0;
    for (int b = (max_threads + 31) / 32 * 32; b > 0; b -= 32) {
        int t = expected_blocks(b, 0) * b;
        if (t > want_threads) {
            want_threads = t;
            want_block = b;
        }
        if (want_threads >= THREADS_SM)
            break;
    }
    CHECK(block == want_block && grid == expected_blocks(want_block, 0) * SMS,
          "potential block %d grid %d, want %d and %d", block, grid, want_block,
          expected_blocks(want_block, 0) * SMS);
    if (g_regs <= 32 && g_static_shared == 0)
        CHECK(block == 1024 && grid == 264, "light kernel: block %d grid %d", block, grid);

    /* With a block-size to dynamic-shared-memory callback. */
    CHECK_OK(cuOccupancyMaxPotentialBlockSize(&grid, &block, f, dyn_per_block, 0, 256));
    want_block = want_threads = 0;
    for (int b = 256; b > 0; b -= 32) {
        int t = expected_blocks(b, dyn_per_block(b)) * b;
        if (t > want_threads) {
            want_threads = t;
            want_block = b;
        }
        if (want_threads >= THREADS_SM)
            break;
    }
    CHECK(block == want_block, "callback: block %d, want %d", block, want_block);
    CHECK(grid == expected_blocks(want_block, dyn_per_block(want_block)) * SMS, "callback grid %d",
          grid);
    CHECK_RC(cuOccupancyMaxPotentialBlockSize(NULL, &block, f, NULL, 0, 0),
             CUDA_ERROR_INVALID_VALUE);

    size_t avail = 0;
    CHECK_OK(cuOccupancyAvailableDynamicSMemPerBlock(&avail, f, 8, 128));
    size_t per = (size_t)SHARED_SM / 8 / SHARED_UNIT * SHARED_UNIT - RESERVED - g_static_shared;
    CHECK(avail == per, "8 blocks of 128: %zu bytes each, want %zu", avail, per);
    CHECK_OK(cuOccupancyAvailableDynamicSMemPerBlock(&avail, f, 2, 128));
    CHECK(avail == (size_t)48 * 1024, "capped at the kernel's limit: %zu", avail);
    CHECK_OK(cuOccupancyAvailableDynamicSMemPerBlock(&avail, f, 33, 32));
    CHECK(avail == 0, "33 blocks never fit: %zu", avail);

    CUlaunchConfig cfg = {.gridDimX = 1, .gridDimY = 1, .gridDimZ = 1, .blockDimX = 128,
                          .blockDimY = 1, .blockDimZ = 1};
    int clusters = -1;
    CHECK_OK(cuOccupancyMaxPotentialClusterSize(&clusters, f, &cfg));
    CHECK(clusters == 1, "cluster size %d", clusters);
    CHECK_OK(cuOccupancyMaxActiveClusters(&clusters, f, &cfg));
    CHECK(clusters == expected_blocks(128, 0) * SMS, "active clusters %d", clusters);
    CUlaunchAttribute at = {.id = CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION};
    at.value.clusterDim.x = 2;
    at.value.clusterDim.y = at.value.clusterDim.z = 1;
    cfg.attrs = &at;
    cfg.numAttrs = 1;
    CHECK_RC(cuOccupancyMaxActiveClusters(&clusters, f, &cfg), CUDA_ERROR_NOT_SUPPORTED);
}

static void test_validation(CUmodule mod)
{
    CUfunction f, small;
    REQUIRE_OK(cuModuleGetFunction(&f, mod, "add_one"));
    REQUIRE_OK(cuModuleGetFunction(&small, mod, "small_block"));
    CUdeviceptr d;
    REQUIRE_OK(cuMemAlloc(&d, 4096));
    unsigned int n = 16;
    void *params[] = {&d, &n};
    CHECK_RC(cuLaunchKernel(f, 1, 1, 1, 1025, 1, 1, 0, NULL, params, NULL), CUDA_ERROR_INVALID_VALUE);
    CHECK_RC(cuLaunchKernel(f, 1, 1, 1, 32, 32, 2, 0, NULL, params, NULL), CUDA_ERROR_INVALID_VALUE);
    CHECK_RC(cuLaunchKernel(f, 1, 1, 1, 1, 1, 65, 0, NULL, params, NULL), CUDA_ERROR_INVALID_VALUE);
    CHECK_RC(cuLaunchKernel(f, 0, 1, 1, 32, 1, 1, 0, NULL, params, NULL), CUDA_ERROR_INVALID_VALUE);
    CHECK_RC(cuLaunchKernel(f, 1, 1, 1, 0, 1, 1, 0, NULL, params, NULL), CUDA_ERROR_INVALID_VALUE);
    CHECK_RC(cuLaunchKernel(f, 1, 65536, 1, 32, 1, 1, 0, NULL, params, NULL),
             CUDA_ERROR_INVALID_VALUE);
    CHECK_RC(cuLaunchKernel(f, 1, 1, 65536, 32, 1, 1, 0, NULL, params, NULL),
             CUDA_ERROR_INVALID_VALUE);
    CHECK_RC(cuLaunchKernel(f, 1, 1, 1, 32, 1, 1, 48 * 1024 + 1, NULL, params, NULL),
             CUDA_ERROR_INVALID_VALUE);
    CHECK_RC(cuLaunchKernel(small, 1, 1, 1, 128, 1, 1, 0, NULL, NULL, NULL),
             CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES);

    /* Parameters: exactly one form; the extra buffer's size must fit the layout. */
    size_t size = 16;
    struct {
        CUdeviceptr p;
        unsigned int n;
        unsigned int pad;
    } buf = {d, 16, 0};
    void *extra[] = {CU_LAUNCH_PARAM_BUFFER_POINTER, &buf, CU_LAUNCH_PARAM_BUFFER_SIZE, &size,
                     CU_LAUNCH_PARAM_END};
    CHECK_RC(cuLaunchKernel(f, 1, 1, 1, 32, 1, 1, 0, NULL, params, extra), CUDA_ERROR_INVALID_VALUE);
    CHECK_RC(cuLaunchKernel(f, 1, 1, 1, 32, 1, 1, 0, NULL, NULL, NULL), CUDA_ERROR_INVALID_VALUE);
    size = 4;
    CHECK_RC(cuLaunchKernel(f, 1, 1, 1, 32, 1, 1, 0, NULL, NULL, extra), CUDA_ERROR_INVALID_VALUE);
    size = 32;
    CHECK_RC(cuLaunchKernel(f, 1, 1, 1, 32, 1, 1, 0, NULL, NULL, extra), CUDA_ERROR_INVALID_VALUE);
    void *bad_extra[] = {(void *)(uintptr_t)7, NULL, CU_LAUNCH_PARAM_END};
    CHECK_RC(cuLaunchKernel(f, 1, 1, 1, 32, 1, 1, 0, NULL, NULL, bad_extra),
             CUDA_ERROR_INVALID_VALUE);
    void *null_params[] = {&d, NULL};
    CHECK_RC(cuLaunchKernel(f, 1, 1, 1, 32, 1, 1, 0, NULL, null_params, NULL),
             CUDA_ERROR_INVALID_VALUE);

    /* cuLaunchKernelEx. */
    CUlaunchAttribute at[2];
    memset(at, 0, sizeof(at));
    CUlaunchConfig cfg = {.gridDimX = 1, .gridDimY = 1, .gridDimZ = 1, .blockDimX = 32,
                          .blockDimY = 1, .blockDimZ = 1, .attrs = at, .numAttrs = 1};
    at[0].id = CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION;
    at[0].value.clusterDim.x = 2;
    at[0].value.clusterDim.y = at[0].value.clusterDim.z = 1;
    CHECK_RC(cuLaunchKernelEx(&cfg, f, params, NULL), CUDA_ERROR_NOT_SUPPORTED);
    at[0].id = CU_LAUNCH_ATTRIBUTE_SYNCHRONIZATION_POLICY;
    CHECK_RC(cuLaunchKernelEx(&cfg, f, params, NULL), CUDA_ERROR_INVALID_VALUE);
    CHECK_RC(cuLaunchKernelEx(NULL, f, params, NULL), CUDA_ERROR_INVALID_VALUE);
    cfg.blockDimX = 2048;
    at[0].id = CU_LAUNCH_ATTRIBUTE_PRIORITY;
    at[0].value.priority = -1;
    CHECK_RC(cuLaunchKernelEx(&cfg, f, params, NULL), CUDA_ERROR_INVALID_VALUE);

    /* Cooperative grids must be co-resident: 32 blocks of 64 threads per SM on 132 SMs. */
    int per_sm = 0;
    CHECK_OK(cuOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, f, 64, 0));
    unsigned int too_many = (unsigned int)per_sm * SMS + 1;
    CHECK_RC(cuLaunchCooperativeKernel(f, too_many, 1, 1, 64, 1, 1, 0, NULL, params),
             CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE);
    cfg.gridDimX = too_many;
    cfg.blockDimX = 64;
    at[0].id = CU_LAUNCH_ATTRIBUTE_COOPERATIVE;
    at[0].value.cooperative = 1;
    CHECK_RC(cuLaunchKernelEx(&cfg, f, params, NULL), CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE);

    /* Legacy launch state. */
    CHECK_RC(cuLaunch(f), CUDA_ERROR_INVALID_VALUE); /* no block shape yet */
    CHECK_RC(cuFuncSetBlockShape(f, 0, 1, 1), CUDA_ERROR_INVALID_VALUE);
    CHECK_RC(cuParamSetSize(f, 40000), CUDA_ERROR_INVALID_VALUE);
    CHECK_RC(cuParamSetv(f, 32760, &d, 8), CUDA_ERROR_INVALID_VALUE);
    CHECK_OK(cuFuncSetBlockShape(f, 2048, 1, 1));
    CHECK_OK(cuParamSetv(f, 0, &d, 8));
    CHECK_OK(cuParamSeti(f, 8, 16));
    CHECK_OK(cuParamSetSize(f, 12));
    CHECK_RC(cuLaunchGrid(f, 1, 1), CUDA_ERROR_INVALID_VALUE);
    CHECK_RC(cuLaunchGrid(f, 0, 1), CUDA_ERROR_INVALID_VALUE);

    /* Nothing was launched: the context is healthy. */
    CHECK_OK(cuCtxSynchronize());
    CHECK_OK(cuMemFree(d));
}

int main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    CUcontext ctx = module_test_setup();
    CUmodule mod;
    REQUIRE_OK(cuModuleLoadData(&mod, module_test_ptx));
    CUfunction f;
    REQUIRE_OK(cuModuleGetFunction(&f, mod, "add_one"));
    test_occupancy(f);
    test_validation(mod);
    CHECK_OK(cuModuleUnload(mod));
    CHECK_OK(cuCtxDestroy(ctx));
    return check_done("module-launch");
}
